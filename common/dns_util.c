/*
 * dns_util - the network-free half of the dns module (see dns.h): parsing
 * of resolver_servers, inet_protocols and smtp_address_preference, address
 * literals, host name syntax, MX ordering and the dns_result life cycle.
 *
 * Everything here is a pure function of its arguments (the random source is
 * passed in), so the unit tests cover it without a resolver. Bad input is a
 * -1 return (with a reason where the caller shows one), never an exit.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/dns.h"
#include "common/xalloc.h"

#define DNS_REASON_MAX 1024

/* dns_result_init - an empty result; reason buffer ready. */
void dns_result_init(dns_result *res)
{
    memset(res, 0, sizeof(*res));
    sb_init(&res->reason, DNS_REASON_MAX);
    res->status = DNS_OK;
}

/* dns_result_free - release everything a lookup put in res. */
void dns_result_free(dns_result *res)
{
    for (size_t i = 0; i < res->nmx; i++)
        free(res->mx[i].host);
    free(res->mx);
    free(res->addr);
    for (size_t i = 0; i < res->nnames; i++)
        free(res->names[i]);
    free(res->names);
    for (size_t i = 0; i < res->ntlsa; i++)
        free(res->tlsa[i].data);
    free(res->tlsa);
    sb_release(&res->reason);
    memset(res, 0, sizeof(*res));
}

static const char *const dns_status_names[] = {
    [DNS_OK] = "ok",
    [DNS_NOTFOUND] = "notfound",
    [DNS_NULLMX] = "nullmx",
    [DNS_TEMPFAIL] = "tempfail",
    [DNS_PERMFAIL] = "permfail",
};

/* dns_status_name - a short lower-case name for logs and tools. */
const char *dns_status_name(dns_status status)
{
    if ((size_t)status >= sizeof(dns_status_names) / sizeof(*dns_status_names))
        return "unknown";
    return dns_status_names[status];
}

/* dns_addr_literal - fill out when text is exactly an IPv4/IPv6 address. */
int dns_addr_literal(const char *text, dns_addr *out)
{
    dns_addr a;

    memset(&a, 0, sizeof(a));
    if (inet_pton(AF_INET, text, a.bytes) == 1)
        a.family = AF_INET;
    else if (inet_pton(AF_INET6, text, a.bytes) == 1)
        a.family = AF_INET6;
    else
        return -1;
    if (inet_ntop(a.family, a.bytes, a.text, sizeof(a.text)) == NULL)
        return -1;
    *out = a;
    return 0;
}

/* dns_label_char - a byte allowed in a label (LDH plus '_' for SRV/TLSA). */
static bool dns_label_char(unsigned char c)
{
    return isascii(c) && (isalnum(c) || c == '-' || c == '_');
}

/* dns_name_valid - 1..253 bytes of 1..63-byte labels; one final dot ok. */
bool dns_name_valid(const char *name)
{
    size_t len = strlen(name), label = 0;

    if (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0 || len > DNS_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];

        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (!dns_label_char(c) || ++label > 63) {
            return false;
        }
    }
    return label > 0;
}

/* dns_parse_port - a decimal port 1..65535 of exactly len bytes. */
static int dns_parse_port(const char *s, size_t len, unsigned *port)
{
    unsigned long v = 0;

    if (len == 0 || len > 5)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *port = (unsigned)v;
    return 0;
}

/* dns_parse_ip - an address of exactly len bytes of family fam (0: any). */
static int dns_parse_ip(const char *s, size_t len, int fam, dns_server *out)
{
    char buf[DNS_TEXT_ADDR];
    dns_addr a;

    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    if (dns_addr_literal(buf, &a) < 0 || (fam && a.family != fam))
        return -1;
    out->family = a.family;
    memcpy(out->bytes, a.bytes, sizeof(out->bytes));
    return 0;
}

/* dns_server_parse1 - one entry: ADDR, V4:PORT, [ADDR], [ADDR]:PORT. */
static int dns_server_parse1(const char *s, size_t len, dns_server *out)
{
    const char *colon;

    memset(out, 0, sizeof(*out));
    out->port = 53;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        size_t rest;

        if (close == NULL || dns_parse_ip(s + 1, (size_t)(close - s - 1),
                                          0, out) < 0)
            return -1;
        rest = len - (size_t)(close - s) - 1;
        if (rest == 0)
            return 0;
        if (close[1] != ':')
            return -1;
        return dns_parse_port(close + 2, rest - 1, &out->port);
    }
    colon = memchr(s, ':', len);
    if (colon && memchr(colon + 1, ':', len - (size_t)(colon - s) - 1))
        return dns_parse_ip(s, len, AF_INET6, out);  /* bare IPv6 */
    if (colon == NULL)
        return dns_parse_ip(s, len, AF_INET, out);
    if (dns_parse_ip(s, (size_t)(colon - s), AF_INET, out) < 0)
        return -1;
    return dns_parse_port(colon + 1, len - (size_t)(colon - s) - 1,
                          &out->port);
}

/* dns_servers_parse - split on commas/blanks and parse each entry. */
int dns_servers_parse(const char *text, dns_server *out, size_t max,
                      size_t *n, strbuf *err)
{
    static const char sep[] = ", \t\r\n";
    const char *p = text;

    *n = 0;
    for (;;) {
        size_t len;

        p += strspn(p, sep);
        if (*p == 0)
            return 0;
        len = strcspn(p, sep);
        if (*n >= max) {
            (void)sb_printf(err, "resolver_servers: more than %zu servers", max);
            return -1;
        }
        if (dns_server_parse1(p, len, &out[*n]) < 0) {
            (void)sb_printf(err, "resolver_servers: bad server \"%.*s\" "
                            "(expected ADDR, ADDR:PORT or [ADDR]:PORT)",
                            len > 64 ? 64 : (int)len, p);
            return -1;
        }
        (*n)++;
        p += len;
    }
}

static const struct {
    const char *name;
    unsigned families;
} dns_family_names[] = {
    {"all", DNS_INET_ALL},
    {"ipv4", DNS_INET4},
    {"ipv6", DNS_INET6},
};

/* dns_families_parse - union of the listed protocols; -1 on unknown/none. */
int dns_families_parse(const char *text, unsigned *families)
{
    static const char sep[] = ", \t\r\n";
    const char *p = text;
    unsigned set = 0;

    for (;;) {
        size_t len, i, count = sizeof(dns_family_names) /
                                 sizeof(*dns_family_names);

        p += strspn(p, sep);
        if (*p == 0)
            break;
        len = strcspn(p, sep);
        for (i = 0; i < count; i++)
            if (strlen(dns_family_names[i].name) == len
                && strncasecmp(p, dns_family_names[i].name, len) == 0)
                break;
        if (i == count)
            return -1;
        set |= dns_family_names[i].families;
        p += len;
    }
    if (set == 0)
        return -1;
    *families = set;
    return 0;
}

static const struct {
    const char *name;
    dns_prefer prefer;
} dns_prefer_names[] = {
    {"any", DNS_PREFER_ANY},
    {"ipv4", DNS_PREFER_IPV4},
    {"ipv6", DNS_PREFER_IPV6},
};

/* dns_prefer_parse - one of any, ipv4, ipv6 (surrounding blanks ok). */
int dns_prefer_parse(const char *text, dns_prefer *prefer)
{
    size_t start = strspn(text, " \t"), len = strcspn(text + start, " \t");

    if (text[start + len + strspn(text + start + len, " \t")] != 0)
        return -1;
    for (size_t i = 0; i < sizeof(dns_prefer_names) / sizeof(*dns_prefer_names);
         i++)
        if (strlen(dns_prefer_names[i].name) == len
            && strncasecmp(text + start, dns_prefer_names[i].name, len) == 0) {
            *prefer = dns_prefer_names[i].prefer;
            return 0;
        }
    return -1;
}

/* dns_mx_sort - sort by preference, then shuffle each equal run. */
void dns_mx_sort(dns_mx_rr *v, size_t n, dns_random_fn fn, void *arg)
{
    size_t start = 0;

    /* Insertion sort: stable, and n is at most DNS_RR_MAX. */
    for (size_t i = 1; i < n; i++) {
        dns_mx_rr key = v[i];
        size_t j = i;

        while (j > 0 && v[j - 1].pref > key.pref) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = key;
    }
    while (start < n) {
        size_t end = start + 1;

        while (end < n && v[end].pref == v[start].pref)
            end++;
        for (size_t i = end - start; i > 1; i--) {   /* Fisher-Yates */
            size_t j = fn(arg, (unsigned)i) % i;
            dns_mx_rr tmp = v[start + i - 1];

            v[start + i - 1] = v[start + j];
            v[start + j] = tmp;
        }
        start = end;
    }
}
