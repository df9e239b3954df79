/*
 * route_hop - parse a nexthop in Postfix's syntax: "host", "host:port"
 * (MX lookup), "[host]", "[host]:port" (no MX lookup), "[192.0.2.1]",
 * "[IPv6:2001:db8::1]", and for LMTP "unix:/path" and "inet:host:port".
 *
 * Owns nothing but the strbuf inside a route_nexthop. Every malformed form
 * (unterminated bracket, bad port, bad address literal, white space, a list
 * of several nexthops) is -1 with a one-line reason; the hop is then reset.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "queue/route.h"

#define HOST_MAX 255            /* longest host name (RFC 1035) */
#define LABEL_MAX 63

/* Named ports accepted after ':' (numbers are always accepted). */
static const struct {
    const char *name;
    unsigned port;
} port_names[] = {
    {"smtp", 25}, {"lmtp", 24}, {"submission", 587}, {"submissions", 465},
    {"smtps", 465},
};

/* route_nexthop_init - an empty TEXT nexthop. */
void route_nexthop_init(struct route_nexthop *hop)
{
    sb_init(&hop->host, 4096);
    hop->kind = ROUTE_HOP_TEXT;
    hop->port = 0;
    hop->port_given = false;
    hop->mx_lookup = false;
    hop->literal = false;
    hop->family = 0;
}

/* route_nexthop_release - free the hop's buffer. */
void route_nexthop_release(struct route_nexthop *hop)
{
    sb_release(&hop->host);
}

/* hop_reset - back to the empty state, keeping the buffer. */
static void hop_reset(struct route_nexthop *hop)
{
    sb_reset(&hop->host);
    hop->kind = ROUTE_HOP_TEXT;
    hop->port = 0;
    hop->port_given = false;
    hop->mx_lookup = false;
    hop->literal = false;
    hop->family = 0;
}

/* parse_port - a decimal port 1..65535 or a known name; -1 when neither. */
static long parse_port(const char *s)
{
    long v = 0;

    if (*s == '\0')
        return -1;
    if (strspn(s, "0123456789") == strlen(s)) {
        for (; *s; s++) {
            v = v * 10 + (*s - '0');
            if (v > 65535)
                return -1;
        }
        return v >= 1 ? v : -1;
    }
    for (size_t i = 0; i < sizeof(port_names) / sizeof(port_names[0]); i++)
        if (strcasecmp(s, port_names[i].name) == 0)
            return (long)port_names[i].port;
    return -1;
}

/* valid_hostname - letters, digits, '-', '_' and UTF-8 in dot-separated labels. */
static bool valid_hostname(const char *s, size_t len)
{
    size_t label = 0;

    if (len == 0 || len > HOST_MAX || s[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '.') {
            if (label == 0)
                return false;           /* empty label */
            label = 0;
            continue;
        }
        if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
        if (++label > LABEL_MAX)
            return false;
    }
    return true;
}

/* literal_family - AF_INET/AF_INET6 when s[0..len) is an IP address, else 0. */
static int literal_family(const char *s, size_t len, bool v6)
{
    unsigned char bin[sizeof(struct in6_addr)];
    char buf[INET6_ADDRSTRLEN + 1];

    if (len == 0 || len >= sizeof(buf))
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (!v6 && inet_pton(AF_INET, buf, bin) == 1)
        return AF_INET;
    if (strchr(buf, ':') != NULL && inet_pton(AF_INET6, buf, bin) == 1)
        return AF_INET6;
    return 0;
}

/* set_port - the ":port" suffix p (or "" for none). */
static int set_port(struct route_nexthop *hop, const char *p,
                    unsigned default_port, const char *text, strbuf *err)
{
    long port;

    if (*p == '\0') {
        hop->port = default_port;
        return 0;
    }
    if (*p != ':' || (port = parse_port(p + 1)) < 0) {
        sb_printf(err, "nexthop \"%s\": bad port \"%s\" (1-65535 or a"
                  " service name)", text, *p == ':' ? p + 1 : p);
        return -1;
    }
    hop->port = (unsigned)port;
    hop->port_given = true;
    return 0;
}

/* parse_bracketed - "[host]" or "[address]", then an optional ":port". */
static int parse_bracketed(const char *text, const char *s,
                           unsigned default_port, struct route_nexthop *hop,
                           strbuf *err)
{
    const char *close = strchr(s, ']');
    const char *in = s + 1;
    size_t len;
    bool v6 = false;

    if (close == NULL) {
        sb_printf(err, "nexthop \"%s\": unterminated '['", text);
        return -1;
    }
    len = (size_t)(close - in);
    if (len >= 5 && strncasecmp(in, "IPv6:", 5) == 0) {
        in += 5;
        len -= 5;
        v6 = true;
    }
    hop->family = literal_family(in, len, v6);
    if (v6 && hop->family != AF_INET6) {
        sb_printf(err, "nexthop \"%s\": bad IPv6 address literal", text);
        return -1;
    }
    if (hop->family == 0 && !valid_hostname(in, len)) {
        sb_printf(err, "nexthop \"%s\": bad host name or address in []", text);
        return -1;
    }
    hop->literal = hop->family != 0;
    hop->mx_lookup = false;
    if (sb_append(&hop->host, in, len) < 0) {
        sb_printf(err, "nexthop \"%s\": too long", text);
        return -1;
    }
    return set_port(hop, close + 1, default_port, text, err);
}

/* parse_bare - "host" or "host:port"; a bare IPv4 address gets no MX lookup. */
static int parse_bare(const char *text, const char *s, unsigned default_port,
                      bool lmtp, struct route_nexthop *hop, strbuf *err)
{
    const char *colon = strchr(s, ':');
    size_t len = colon ? (size_t)(colon - s) : strlen(s);

    if (colon != NULL && strchr(colon + 1, ':') != NULL) {
        sb_printf(err, "nexthop \"%s\": too many ':' (write an IPv6 address"
                  " as [IPv6:address])", text);
        return -1;
    }
    hop->family = literal_family(s, len, false);
    if (hop->family == 0 && !valid_hostname(s, len)) {
        sb_printf(err, "nexthop \"%s\": bad host name", text);
        return -1;
    }
    hop->literal = hop->family != 0;
    hop->mx_lookup = !hop->literal && !lmtp;
    if (sb_append(&hop->host, s, len) < 0) {
        sb_printf(err, "nexthop \"%s\": too long", text);
        return -1;
    }
    return set_port(hop, colon ? colon : "", default_port, text, err);
}

/* has_bad_char - white space, ',' (a list) or a control byte in s. */
static bool has_bad_char(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c <= ' ' || c == 0x7f || c == ',')
            return true;
    }
    return false;
}

/* route_parse_nexthop - see route.h. */
int route_parse_nexthop(const char *text, unsigned default_port, bool lmtp,
                        struct route_nexthop *hop, strbuf *err)
{
    const char *s = text;
    int r;

    hop_reset(hop);
    sb_reset(err);
    if (*s == '\0') {
        sb_puts(err, "empty nexthop");
        return -1;
    }
    if (has_bad_char(s)) {
        sb_printf(err, "nexthop \"%s\": white space, ',' or control"
                  " character (one nexthop only)", text);
        return -1;
    }
    if (lmtp && strncmp(s, "unix:", 5) == 0) {
        if (s[5] != '/' || sb_puts(&hop->host, s + 5) < 0) {
            sb_printf(err, "nexthop \"%s\": unix: needs an absolute path",
                      text);
            hop_reset(hop);
            return -1;
        }
        hop->kind = ROUTE_HOP_UNIX;
        return 0;
    }
    if (lmtp && strncmp(s, "inet:", 5) == 0)
        s += 5;
    hop->kind = ROUTE_HOP_HOST;
    r = *s == '[' ? parse_bracketed(text, s, default_port, hop, err)
        : parse_bare(text, s, default_port, lmtp, hop, err);
    if (r < 0)
        hop_reset(hop);
    return r;
}
