/*
 * map_keys - the lookup keys Postfix derives from an address, a domain or
 * a client IP address, in Postfix's order (virtual(5), access(5),
 * transport(5)), each marked "partial" unless it is the unmodified input:
 * partial keys are never given to regexp/pcre tables.
 *
 * Owns only the key arrays it returns (map_keys_free). Empty input is
 * refused (-1); any other input yields at least the input itself, so
 * nothing here can fail on hostile text.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"
#include "maps/map_int.h"

/* add_key - append s[0..n) unless the same key is already listed. */
static void add_key(map_keys *k, const char *s, size_t n, bool partial)
{
    for (size_t i = 0; i < k->n; i++)
        if (strlen(k->v[i].key) == n && memcmp(k->v[i].key, s, n) == 0)
            return;
    k->v = xreallocarray(k->v, k->n + 1, sizeof(*k->v));
    k->v[k->n].key = xstrndup(s, n);
    k->v[k->n].partial = partial;
    k->n++;
}

/* add_joined - append a + b as one key. */
static void add_joined(map_keys *k, const char *a, size_t an, const char *b,
                       bool partial)
{
    size_t bn = strlen(b);
    char *s = xmalloc(an + bn + 1);

    memcpy(s, a, an);
    memcpy(s + an, b, bn + 1);
    add_key(k, s, an + bn, partial);
    free(s);
}

/* map_split_extension - where the address extension starts, or -1. */
long map_split_extension(const char *lp, size_t len, const char *delims)
{
    static const char *const keep[] = {"postmaster", "mailer-daemon"};

    if (delims == NULL || *delims == '\0' || len < 2)
        return -1;
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        if (strlen(keep[i]) == len && strncasecmp(lp, keep[i], len) == 0)
            return -1;
    if (strchr(delims, '-') != NULL
        && ((len > 6 && strncasecmp(lp, "owner-", 6) == 0)
            || (len > 8 && strncasecmp(lp + len - 8, "-request", 8) == 0)))
        return -1;
    for (size_t i = 1; i < len; i++)            /* a leading one is kept */
        if (strchr(delims, lp[i]) != NULL && lp[i] != '\0')
            return (long)i;
    return -1;
}

/* Parts of an address: localpart [0, at), extension cut, domain. */
struct addr_parts {
    const char *in;
    size_t lplen;               /* localpart length */
    size_t baselen;             /* localpart without extension */
    const char *domain;         /* after '@', or NULL */
};

/* split_addr - find the parts of input. */
static void split_addr(const char *in, const struct map_keyopts *o,
                       struct addr_parts *a)
{
    const char *at = strrchr(in, '@');
    long ext;

    a->in = in;
    a->lplen = at ? (size_t)(at - in) : strlen(in);
    a->domain = at ? at + 1 : NULL;
    ext = map_split_extension(in, a->lplen, o->delimiters);
    a->baselen = ext < 0 ? a->lplen : (size_t)ext;
}

/* add_stripped - "user@domain" (extension removed), when there is one. */
static void add_stripped(map_keys *k, const struct addr_parts *a)
{
    if (a->baselen == a->lplen)
        return;
    if (a->domain != NULL)
        add_joined(k, a->in, a->baselen, a->domain - 1, true);
    else
        add_key(k, a->in, a->baselen, true);
}

/* add_domain - domain, then its parents ("example.com" or ".example.com");
 * the domain itself is partial unless full says otherwise. */
static void add_domain(map_keys *k, const char *d, bool full, bool parents)
{
    if (*d == '\0')
        return;
    add_key(k, d, strlen(d), !full);
    if (*d == '[')
        return;                         /* a literal has no parents */
    for (const char *p = strchr(d + 1, '.'); p != NULL && p[1] != '\0';
         p = strchr(p + 1, '.')) {
        const char *key = parents ? p + 1 : p;

        add_key(k, key, strlen(key), true);
    }
}

/* keys_virtual - user+ext@d, user@d, [user+ext, user when local], @d. */
static void keys_virtual(const char *in, const struct map_keyopts *o,
                         map_keys *k)
{
    struct addr_parts a;

    split_addr(in, o, &a);
    add_key(k, in, strlen(in), false);
    add_stripped(k, &a);
    if (a.domain == NULL || o->local_domain) {
        add_key(k, in, a.lplen, true);
        add_key(k, in, a.baselen, true);
    }
    if (a.domain != NULL && *a.domain != '\0')
        add_joined(k, "@", 1, a.domain, true);
}

/* keys_access - user+ext@d, user@d, d and parents, user+ext@, user@. */
static void keys_access(const char *in, const struct map_keyopts *o,
                        map_keys *k)
{
    struct addr_parts a;

    split_addr(in, o, &a);
    add_key(k, in, strlen(in), false);
    add_stripped(k, &a);
    if (a.domain != NULL)
        add_domain(k, a.domain, false, o->parent_matches);
    add_joined(k, in, a.lplen, "@", true);
    add_joined(k, in, a.baselen, "@", true);
}

/* keys_transport - user+ext@d, user@d, d (full), parents, "*". */
static void keys_transport(const char *in, const struct map_keyopts *o,
                           map_keys *k)
{
    struct addr_parts a;

    split_addr(in, o, &a);
    if (a.domain == NULL) {             /* a bare domain */
        add_domain(k, in, true, o->parent_matches);
    } else {
        add_key(k, in, strlen(in), false);
        add_stripped(k, &a);
        add_domain(k, a.domain, true, o->parent_matches);
    }
    add_key(k, "*", 1, true);
}

/* keys_domain - domain, then parents. */
static void keys_domain(const char *in, const struct map_keyopts *o,
                        map_keys *k)
{
    add_domain(k, in, true, o->parent_matches);
}

/* canonical_ip - inet_ntop form of an IP address (IPv4-mapped IPv6 as
 * IPv4); the input itself when it is not an address. */
static void canonical_ip(const char *in, char *buf, size_t size)
{
    unsigned char bin[16];
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                             0xff, 0xff};

    if (strchr(in, ':') != NULL && inet_pton(AF_INET6, in, bin) == 1) {
        if (memcmp(bin, mapped, sizeof(mapped)) == 0) {
            if (inet_ntop(AF_INET, bin + 12, buf, (socklen_t)size) != NULL)
                return;
        } else if (inet_ntop(AF_INET6, bin, buf, (socklen_t)size) != NULL) {
            return;
        }
    }
    if (fmt_fixed(buf, size, "%s", in) < 0)
        buf[0] = '\0';
}

/* keys_client - the address, then shorter prefixes cut at '.' or ':'. */
static void keys_client(const char *in, const struct map_keyopts *o,
                        map_keys *k)
{
    char ip[INET6_ADDRSTRLEN + 1];
    bool v6;

    (void)o;
    canonical_ip(in, ip, sizeof(ip));
    if (ip[0] == '\0') {                /* too long to be an address */
        add_key(k, in, strlen(in), false);
        return;
    }
    v6 = strchr(ip, ':') != NULL;
    add_key(k, ip, strlen(ip), false);
    if (!v6 && strspn(ip, "0123456789.") != strlen(ip))
        return;                         /* not an address: no prefixes */
    for (size_t n = strlen(ip); n > 0; n--)
        if (ip[n - 1] == (v6 ? ':' : '.') && n > 1)
            add_key(k, ip, n - 1, true);
}

/* keys_full - the input only. */
static void keys_full(const char *in, const struct map_keyopts *o,
                      map_keys *k)
{
    (void)o;
    add_key(k, in, strlen(in), false);
}

static const struct {
    enum map_keyorder order;
    void (*make)(const char *in, const struct map_keyopts *o, map_keys *k);
} key_orders[] = {
    {MAP_KEYS_VIRTUAL, keys_virtual},
    {MAP_KEYS_ACCESS, keys_access},
    {MAP_KEYS_TRANSPORT, keys_transport},
    {MAP_KEYS_DOMAIN, keys_domain},
    {MAP_KEYS_CLIENT, keys_client},
    {MAP_KEYS_FULL, keys_full},
};

/* map_keys_make - the keys of input in the order o asks for. */
int map_keys_make(const char *input, const struct map_keyopts *o,
                  map_keys *out)
{
    out->n = 0;
    out->v = NULL;
    if (input == NULL || *input == '\0')
        return -1;
    for (size_t i = 0; i < sizeof(key_orders) / sizeof(key_orders[0]); i++) {
        if (key_orders[i].order == o->order) {
            key_orders[i].make(input, o, out);
            return 0;
        }
    }
    keys_full(input, o, out);
    return 0;
}

/* map_keys_free - release the keys. */
void map_keys_free(map_keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i].key);
    free(k->v);
    k->v = NULL;
    k->n = 0;
}
