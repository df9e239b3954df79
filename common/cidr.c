/*
 * cidr - network patterns and address matching (see cidr.h).
 *
 * Parsing copies at most a fixed, small number of bytes into stack arrays
 * through fmt_fixed(); anything longer than an address can be is refused.
 * Errors name the pattern and say what is wrong with it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cidr.h"

#define CIDR_TEXT_MAX 64        /* longer than any address form */

/* unmap_v4 - turn an IPv4-mapped IPv6 address into IPv4 in place. */
static void unmap_v4(struct cidr_addr *a)
{
    static const unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                             0xff, 0xff};

    if (a->family == AF_INET6 && memcmp(a->addr, prefix, 12) == 0) {
        memmove(a->addr, a->addr + 12, 4);
        memset(a->addr + 4, 0, 12);
        a->family = AF_INET;
    }
}

/* parse_host - an address of len bytes, brackets and "IPv6:" allowed. */
static int parse_host(const char *s, size_t len, struct cidr_addr *out,
                      bool unmap)
{
    char buf[CIDR_TEXT_MAX];

    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        s++;
        len -= 2;
        if (len > 5 && strncasecmp(s, "IPv6:", 5) == 0) {
            s += 5;
            len -= 5;
        }
    }
    if (len == 0 || len >= sizeof(buf)
        || fmt_fixed(buf, sizeof(buf), "%.*s", (int)len, s) < 0)
        return -1;
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, buf, out->addr) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, buf, out->addr) == 1)
        out->family = AF_INET6;
    else
        return -1;
    if (unmap)
        unmap_v4(out);
    return 0;
}

/* cidr_addr_parse - see cidr.h. */
int cidr_addr_parse(const char *text, struct cidr_addr *out)
{
    return parse_host(text, strlen(text), out, true);
}

/* parse_prefix - decimal prefix length; -1 when not 0..max digits. */
static long parse_prefix(const char *s, unsigned max)
{
    long n = 0;

    if (*s == '\0' || strlen(s) > 3)
        return -1;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s))
            return -1;
        n = n * 10 + (*s - '0');
    }
    return n > (long)max ? -1 : n;
}

/* host_bits_set - true when any bit after prefix is 1. */
static bool host_bits_set(const unsigned char *a, unsigned size,
                          unsigned prefix)
{
    for (unsigned bit = prefix; bit < size * 8; bit++)
        if (a[bit / 8] & (0x80 >> (bit % 8)))
            return true;
    return false;
}

/* cidr_parse - see cidr.h. */
int cidr_parse(const char *text, struct cidr *out, strbuf *err)
{
    const char *slash = strrchr(text, '/');
    size_t hlen = slash ? (size_t)(slash - text) : strlen(text);
    struct cidr_addr a;
    unsigned size;
    long prefix;

    sb_reset(err);
    if (parse_host(text, hlen, &a, false) < 0) {
        (void)sb_printf(err, "bad network address in \"%.100s\"", text);
        return -1;
    }
    size = a.family == AF_INET ? 4 : 16;
    prefix = slash ? parse_prefix(slash + 1, size * 8) : (long)size * 8;
    if (prefix < 0) {
        (void)sb_printf(err, "bad prefix length in \"%.100s\" (0..%u)", text,
                        size * 8);
        return -1;
    }
    if (host_bits_set(a.addr, size, (unsigned)prefix)) {
        (void)sb_printf(err, "non-null host address bits in \"%.100s\": the"
                        " network of a /%ld prefix ends in zero bits", text,
                        prefix);
        return -1;
    }
    out->family = a.family;
    memcpy(out->addr, a.addr, sizeof(out->addr));
    out->prefix = (unsigned)prefix;
    return 0;
}

/* cidr_match - see cidr.h. */
bool cidr_match(const struct cidr *net, const struct cidr_addr *addr)
{
    unsigned full = net->prefix / 8, rest = net->prefix % 8;

    if (net->family != addr->family)
        return false;
    if (memcmp(net->addr, addr->addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    return ((net->addr[full] ^ addr->addr[full]) & (0xff00 >> rest) & 0xff)
        == 0;
}

/* cidr_looks_like - see cidr.h. */
bool cidr_looks_like(const char *text)
{
    const char *slash = strrchr(text, '/');
    size_t hlen = slash ? (size_t)(slash - text) : strlen(text);
    bool digits_dots = hlen > 0;

    if (text[0] == '[')
        return true;
    for (size_t i = 0; i < hlen; i++)
        if (!isdigit((unsigned char)text[i]) && text[i] != '.')
            digits_dots = false;
    if (digits_dots)
        return true;
    /* IPv6 without brackets: whatever inet_pton takes as IPv6. */
    {
        struct cidr_addr a;

        return parse_host(text, hlen, &a, false) == 0;
    }
}
