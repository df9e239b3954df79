/*
 * route - resolve a recipient to class, transport and nexthop, the way
 * Postfix's trivial-rewrite does (resolve.c semantics, transport(5)).
 *
 * Owns the route_ctx: the parsed domain lists (patterns and opened tables
 * of mydestination, virtual_alias_domains, virtual_mailbox_domains,
 * relay_domains), this host's interface addresses (for [address] literals),
 * and the opened transport_maps and sender-dependent maps. Nothing is
 * reopened per message; tables re-read themselves when their file changes
 * (maps.h). A lookup error anywhere is ROUTE_TEMPFAIL, never a fallback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "maps/maps.h"
#include "queue/route.h"

#define ROUTE_TEXT_MAX 4096     /* addresses, transports, nexthops */

/* One domain-list element: a name pattern or a table, maybe negated. */
struct dom_item {
    bool neg;
    char *pattern;              /* lower case; NULL for a table */
    map *table;
};

/* A domain-list parameter, parsed once. */
struct domlist {
    const char *param;
    bool exact;                 /* string list: whole names only */
    bool parent;                /* listed in parent_domain_matches_subdomains */
    size_t n;
    struct dom_item *v;
};

/* One of this host's addresses, for [address] literals. */
struct host_ip {
    int family;
    unsigned char a[16];
    const char *param;          /* inet_interfaces or proxy_interfaces */
};

/* The address classes with a domain list, in the order they are tried. */
static const struct class_def {
    const char *list;
    bool exact;
    enum route_class rclass;
    const char *xport;          /* transport parameter; NULL = built in */
} class_defs[] = {
    {"mydestination", false, ROUTE_CLASS_LOCAL, "local_transport"},
    {"virtual_alias_domains", true, ROUTE_CLASS_ALIAS, NULL},
    {"virtual_mailbox_domains", true, ROUTE_CLASS_VIRTUAL, "virtual_transport"},
    {"relay_domains", false, ROUTE_CLASS_RELAY, "relay_transport"},
};
#define NCLASS (sizeof(class_defs) / sizeof(class_defs[0]))

struct route_ctx {
    const conf *conf;
    struct domlist lists[NCLASS];
    struct host_ip *ips;
    size_t nips;
    char *delims;               /* recipient_delimiter */
    char *myhostname;
    bool transport_parent;      /* transport_maps in parent_domain_matches... */
    maplist *transport_maps;    /* NULL when the parameter is empty */
    maplist *snd_relay;         /* sender_dependent_relayhost_maps */
    maplist *snd_xport;         /* sender_dependent_default_transport_maps */
};

/* Programs whose nexthop is not a host to connect to. */
static const char *const text_programs[] = {
    "local", "virtual", "error", "discard", "pipe", "bounce",
};

/* route_class_name - the class in words. */
const char *route_class_name(enum route_class rclass)
{
    static const char *const names[] = {
        [ROUTE_CLASS_LOCAL] = "local", [ROUTE_CLASS_ALIAS] = "virtual alias",
        [ROUTE_CLASS_VIRTUAL] = "virtual", [ROUTE_CLASS_RELAY] = "relay",
        [ROUTE_CLASS_DEFAULT] = "default",
    };

    return (unsigned)rclass < sizeof(names) / sizeof(names[0])
        ? names[rclass] : "unknown";
}

/* ---- Domain lists ---- */

/* in_list - whether name is an item of a LIST parameter. */
static bool in_list(const conf *c, const char *param, const char *name)
{
    for (const char *const *p = conf_get_list(c, param); p && *p; p++)
        if (strcasecmp(*p, name) == 0)
            return true;
    return false;
}

/* dl_add_pattern - append a name pattern (lower case, no trailing dot). */
static void dl_add_pattern(struct domlist *dl, bool neg, const char *s,
                           size_t len)
{
    char *p = xstrndup(s, len);

    for (char *q = p; *q; q++)
        if (*q >= 'A' && *q <= 'Z')
            *q = (char)(*q - 'A' + 'a');
    if (len > 1 && p[len - 1] == '.')
        p[len - 1] = '\0';
    dl->v = xreallocarray(dl->v, dl->n + 1, sizeof(*dl->v));
    dl->v[dl->n].neg = neg;
    dl->v[dl->n].pattern = p;
    dl->v[dl->n].table = NULL;
    dl->n++;
}

/* dl_read_file - the patterns of a "/file/name" item (white space, commas,
 * '#' comments); -1 with err when it cannot be read. */
static int dl_read_file(struct domlist *dl, bool neg, const char *path,
                        strbuf *err)
{
    FILE *fp = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    if (fp == NULL) {
        sb_printf(err, "%s: open %s: %s", dl->param, path, strerror(errno));
        return -1;
    }
    while ((n = getline(&line, &cap, fp)) >= 0) {
        char *hash = memchr(line, '#', (size_t)n);
        size_t end = hash ? (size_t)(hash - line) : (size_t)n;

        for (size_t i = 0; i < end;) {
            size_t w = strcspn(line + i, " \t\r\n,#");

            if (i + w > end)
                w = end - i;
            if (w > 0)
                dl_add_pattern(dl, neg, line + i, w);
            i += w + 1;
        }
    }
    free(line);
    if (ferror(fp) || fclose(fp) != 0) {
        sb_printf(err, "%s: read %s: %s", dl->param, path, strerror(errno));
        return -1;
    }
    return 0;
}

/* is_table_spec - "type:name" with a type tern knows. */
static bool is_table_spec(const char *s)
{
    const char *colon = strchr(s, ':');
    char type[32];

    if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof(type))
        return false;
    memcpy(type, s, (size_t)(colon - s));
    type[colon - s] = '\0';
    return map_type_known(type);
}

/* prefix_err - "param: " before the text in err; returns -1. */
static int prefix_err(strbuf *err, const char *param)
{
    strbuf tmp;

    sb_init(&tmp, ROUTE_TEXT_MAX);
    if (sb_printf(&tmp, "%s: %s", param, sb_str(err)) == 0)
        (void)sb_set(err, sb_str(&tmp));
    sb_release(&tmp);
    return -1;
}

/* dl_open - parse one domain-list parameter; -1 with err. */
static int dl_open(route_ctx *rc, const struct class_def *cd,
                   struct domlist *dl, strbuf *err)
{
    dl->param = cd->list;
    dl->exact = cd->exact;
    dl->parent = in_list(rc->conf, "parent_domain_matches_subdomains",
                         cd->list);
    for (const char *const *p = conf_get_list(rc->conf, cd->list); p && *p;
         p++) {
        const char *item = *p;
        bool neg = false;
        map *m;

        while (*item == '!') {
            neg = !neg;
            item++;
        }
        if (*item == '/') {
            if (dl_read_file(dl, neg, item, err) < 0)
                return -1;
        } else if (is_table_spec(item)) {
            if ((m = map_open(item, MAP_F_FOLD, err)) == NULL)
                return prefix_err(err, cd->list);
            dl->v = xreallocarray(dl->v, dl->n + 1, sizeof(*dl->v));
            dl->v[dl->n++] = (struct dom_item){neg, NULL, m};
        } else if (*item != '\0') {
            dl_add_pattern(dl, neg, item, strlen(item));
        }
    }
    return 0;
}

/* dl_free - release a list. */
static void dl_free(struct domlist *dl)
{
    for (size_t i = 0; i < dl->n; i++) {
        free(dl->v[i].pattern);
        map_close(dl->v[i].table);
    }
    free(dl->v);
}

/* pattern_match - name against one pattern, per the list's matching style. */
static bool pattern_match(const struct domlist *dl, const char *pat,
                          const char *name)
{
    size_t pl = strlen(pat), nl = strlen(name);

    if (strcasecmp(pat, name) == 0)
        return true;
    if (dl->exact || *name == '[' || pl >= nl)
        return false;
    if (pat[0] == '.')
        return strcasecmp(name + nl - pl, pat) == 0;
    return dl->parent && name[nl - pl - 1] == '.'
        && strcasecmp(name + nl - pl, pat) == 0;
}

/* table_match - name (then parents, unless exact) in one table: 1, 0, -1. */
static int table_match(const struct domlist *dl, map *m, const char *name,
                       strbuf *key, strbuf *err)
{
    struct map_keyopts o = {.order = dl->exact ? MAP_KEYS_FULL : MAP_KEYS_DOMAIN,
                            .parent_matches = dl->parent};
    map_keys keys;
    strbuf val;
    int r = MAP_NOTFOUND;

    if (map_keys_make(name, &o, &keys) < 0)
        return 0;
    sb_init(&val, MAP_LINE_MAX);
    for (size_t k = 0; k < keys.n && r == MAP_NOTFOUND; k++) {
        if (keys.v[k].partial && map_is_pattern(m))
            continue;
        r = map_lookup(m, keys.v[k].key, &val);
        if (r == MAP_FOUND && sb_set(key, keys.v[k].key) < 0)
            sb_reset(key);
        if (r == MAP_ERROR)
            sb_printf(err, "%s lookup of %s in %s: %s", dl->param,
                      keys.v[k].key, map_spec(m), map_error(m));
    }
    map_keys_free(&keys);
    sb_release(&val);
    return r == MAP_FOUND ? 1 : r == MAP_ERROR ? -1 : 0;
}

/* dl_match - whether domain is in the list: 1 (why filled), 0, -1 (err). */
static int dl_match(const struct domlist *dl, const char *domain,
                    struct route_why *why, strbuf *err)
{
    for (size_t i = 0; i < dl->n; i++) {
        const struct dom_item *it = &dl->v[i];
        int r;

        if (it->table != NULL) {
            r = table_match(dl, it->table, domain, &why->key, err);
            if (r < 0)
                return -1;
        } else {
            r = pattern_match(dl, it->pattern, domain);
        }
        if (r == 0)
            continue;
        if (it->neg)
            return 0;                   /* "!pattern": not in the list */
        why->param = dl->param;
        sb_reset(&why->table);
        if (it->table != NULL)
            (void)sb_set(&why->table, map_spec(it->table));
        else if (sb_set(&why->key, it->pattern) < 0)
            sb_reset(&why->key);
        return 1;
    }
    return 0;
}

/* ---- This host's addresses ---- */

/* ips_add - remember one address. */
static void ips_add(route_ctx *rc, int family, const void *a, const char *param)
{
    struct host_ip *ip;

    rc->ips = xreallocarray(rc->ips, rc->nips + 1, sizeof(*rc->ips));
    ip = &rc->ips[rc->nips++];
    memset(ip, 0, sizeof(*ip));
    ip->family = family;
    memcpy(ip->a, a, family == AF_INET ? 4 : 16);
    ip->param = param;
}

/* ips_all - every interface address (inet_interfaces = all). */
static void ips_all(route_ctx *rc, const char *param)
{
    struct ifaddrs *ifa, *p;

    if (getifaddrs(&ifa) < 0) {
        msg_warn("getifaddrs: %m; [address] literals of this host are not"
                 " recognised as local");
        return;
    }
    for (p = ifa; p != NULL; p = p->ifa_next) {
        if (p->ifa_addr == NULL)
            continue;
        if (p->ifa_addr->sa_family == AF_INET)
            ips_add(rc, AF_INET,
                    &((struct sockaddr_in *)(void *)p->ifa_addr)->sin_addr,
                    param);
        else if (p->ifa_addr->sa_family == AF_INET6)
            ips_add(rc, AF_INET6,
                    &((struct sockaddr_in6 *)(void *)p->ifa_addr)->sin6_addr,
                    param);
    }
    freeifaddrs(ifa);
}

/* ips_open - the addresses of inet_interfaces and proxy_interfaces; host
 * names are not resolved here (no DNS while routing). */
static void ips_open(route_ctx *rc, const char *param)
{
    unsigned char bin[16];
    char buf[INET6_ADDRSTRLEN + 8];

    for (const char *const *p = conf_get_list(rc->conf, param); p && *p; p++) {
        const char *s = *p;
        size_t len = strlen(s);

        if (strcasecmp(s, "all") == 0) {
            ips_all(rc, param);
            continue;
        }
        if (strcasecmp(s, "loopback-only") == 0) {
            (void)inet_pton(AF_INET, "127.0.0.1", bin);
            ips_add(rc, AF_INET, bin, param);
            ips_add(rc, AF_INET6, &in6addr_loopback, param);
            continue;
        }
        if (len > 2 && s[0] == '[' && s[len - 1] == ']') {
            s++;
            len -= 2;
        }
        if (len >= sizeof(buf))
            continue;
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (inet_pton(AF_INET, buf, bin) == 1)
            ips_add(rc, AF_INET, bin, param);
        else if (inet_pton(AF_INET6, buf, bin) == 1)
            ips_add(rc, AF_INET6, bin, param);
    }
}

/* literal_is_local - "[address]" names one of this host's addresses. */
static const struct host_ip *literal_is_local(const route_ctx *rc,
                                              const char *domain)
{
    unsigned char bin[16];
    char buf[INET6_ADDRSTRLEN + 8];
    size_t len = strlen(domain);
    int family = AF_INET;
    const char *s = domain + 1;

    if (len < 3 || domain[0] != '[' || domain[len - 1] != ']')
        return NULL;
    len -= 2;
    if (len > 5 && strncasecmp(s, "ipv6:", 5) == 0) {
        s += 5;
        len -= 5;
        family = AF_INET6;
    }
    if (len >= sizeof(buf))
        return NULL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(family, buf, bin) != 1)
        return NULL;
    for (size_t i = 0; i < rc->nips; i++)
        if (rc->ips[i].family == family
            && memcmp(rc->ips[i].a, bin, family == AF_INET ? 4 : 16) == 0)
            return &rc->ips[i];
    return NULL;
}

/* ---- Context ---- */

/* open_maps - a TABLES parameter as a maplist (NULL when empty); -1 + err. */
static int open_maps(const conf *c, const char *param, maplist **out,
                     strbuf *err)
{
    const char *value = conf_get_str(c, param);

    *out = NULL;
    if (value == NULL || value[strspn(value, " \t,")] == '\0')
        return 0;
    if ((*out = maplist_open(value, MAP_F_FOLD, err)) == NULL)
        return prefix_err(err, param);
    return 0;
}

/* route_open - see route.h. */
route_ctx *route_open(const conf *c, strbuf *err)
{
    route_ctx *rc = xcalloc(1, sizeof(*rc));

    sb_reset(err);
    rc->conf = c;
    rc->delims = xstrdup(conf_get_str(c, "recipient_delimiter"));
    rc->myhostname = xstrdup(conf_get_str(c, "myhostname"));
    rc->transport_parent = in_list(c, "parent_domain_matches_subdomains",
                                   "transport_maps");
    for (size_t i = 0; i < NCLASS; i++)
        if (dl_open(rc, &class_defs[i], &rc->lists[i], err) < 0)
            goto bad;
    if (open_maps(c, "transport_maps", &rc->transport_maps, err) < 0
        || open_maps(c, "sender_dependent_relayhost_maps", &rc->snd_relay,
                     err) < 0
        || open_maps(c, "sender_dependent_default_transport_maps",
                     &rc->snd_xport, err) < 0)
        goto bad;
    ips_open(rc, "inet_interfaces");
    ips_open(rc, "proxy_interfaces");
    return rc;
bad:
    route_close(rc);
    return NULL;
}

/* route_close - release everything the ctx opened. */
void route_close(route_ctx *rc)
{
    if (rc == NULL)
        return;
    for (size_t i = 0; i < NCLASS; i++)
        dl_free(&rc->lists[i]);
    maplist_close(rc->transport_maps);
    maplist_close(rc->snd_relay);
    maplist_close(rc->snd_xport);
    free(rc->ips);
    free(rc->delims);
    free(rc->myhostname);
    free(rc);
}

/* ---- Results ---- */

/* why_init - an empty explanation. */
static void why_init(struct route_why *w)
{
    w->param = NULL;
    w->dflt = NULL;
    sb_init(&w->table, ROUTE_TEXT_MAX);
    sb_init(&w->key, ROUTE_TEXT_MAX);
}

/* why_release - free an explanation's buffers. */
static void why_release(struct route_why *w)
{
    sb_release(&w->table);
    sb_release(&w->key);
}

/* why_set - param (+ table and key); or param NULL and a default text. */
static void why_set(struct route_why *w, const char *param, const char *table,
                    const char *key, const char *dflt)
{
    w->param = param;
    w->dflt = dflt;
    if (sb_set(&w->table, table ? table : "") < 0)
        sb_reset(&w->table);
    if (sb_set(&w->key, key ? key : "") < 0)
        sb_reset(&w->key);
}

/* route_result_init - see route.h. */
void route_result_init(struct route_result *r)
{
    r->status = ROUTE_OK;
    r->rclass = ROUTE_CLASS_DEFAULT;
    r->service_known = false;
    sb_init(&r->address, ROUTE_TEXT_MAX);
    sb_init(&r->domain, ROUTE_TEXT_MAX);
    sb_init(&r->transport, ROUTE_TEXT_MAX);
    sb_init(&r->nexthop, ROUTE_TEXT_MAX);
    sb_init(&r->program, ROUTE_TEXT_MAX);
    sb_init(&r->error, ROUTE_TEXT_MAX);
    route_nexthop_init(&r->hop);
    why_init(&r->why_class);
    why_init(&r->why_transport);
    why_init(&r->why_nexthop);
}

/* route_result_release - see route.h. */
void route_result_release(struct route_result *r)
{
    strbuf *bufs[] = {&r->address, &r->domain, &r->transport, &r->nexthop,
                      &r->program, &r->error};

    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
        sb_release(bufs[i]);
    why_release(&r->why_class);
    why_release(&r->why_transport);
    why_release(&r->why_nexthop);
    route_nexthop_release(&r->hop);
}

/* result_reset - empty a result for reuse. */
static void result_reset(struct route_result *r)
{
    r->status = ROUTE_OK;
    r->rclass = ROUTE_CLASS_DEFAULT;
    r->service_known = false;
    sb_reset(&r->address);
    sb_reset(&r->domain);
    sb_reset(&r->transport);
    sb_reset(&r->nexthop);
    sb_reset(&r->program);
    sb_reset(&r->error);
    why_set(&r->why_class, NULL, NULL, NULL, NULL);
    why_set(&r->why_transport, NULL, NULL, NULL, NULL);
    why_set(&r->why_nexthop, NULL, NULL, NULL, NULL);
}

/* fail - set status and the error text; returns -1. */
static int fail(struct route_result *r, enum route_status st, const char *fmt,
                ...) __attribute__((format(printf, 3, 4)));
static int fail(struct route_result *r, enum route_status st, const char *fmt,
                ...)
{
    va_list ap;

    r->status = st;
    sb_reset(&r->error);
    va_start(ap, fmt);
    if (sb_vprintf(&r->error, fmt, ap) < 0)
        (void)sb_set(&r->error, "routing failed (reason too long to show)");
    va_end(ap);
    return -1;
}

/* set_text - copy into a result buffer; CONFIG failure when too long. */
static int set_text(struct route_result *r, strbuf *sb, const char *s,
                    size_t len, const char *what)
{
    sb_reset(sb);
    if (sb_append(sb, s, len) < 0)
        return fail(r, ROUTE_CONFIG, "%s is too long", what);
    return 0;
}

/* ---- Resolving ---- */

/* valid_domain - a host name or an address literal; no port, no bare IP. */
static bool valid_domain(const char *d)
{
    struct route_nexthop hop;
    strbuf err;
    size_t len = strlen(d);
    bool ok;

    route_nexthop_init(&hop);
    sb_init(&err, ROUTE_TEXT_MAX);
    if (d[0] == '[')
        ok = len > 2 && d[len - 1] == ']'
            && route_parse_nexthop(d, 25, false, &hop, &err) == 0
            && hop.literal && (hop.family == AF_INET
                               || strncasecmp(d + 1, "ipv6:", 5) == 0);
    else
        ok = strchr(d, ':') == NULL
            && route_parse_nexthop(d, 25, false, &hop, &err) == 0
            && !hop.literal;
    route_nexthop_release(&hop);
    sb_release(&err);
    return ok;
}

/* set_address - check rcpt and fill address and domain. */
static int set_address(const route_ctx *rc, const char *rcpt,
                       struct route_result *r)
{
    const char *at;

    if (rcpt == NULL || *rcpt == '\0')
        return fail(r, ROUTE_BADADDR, "empty recipient address");
    for (const unsigned char *p = (const unsigned char *)rcpt; *p; p++)
        if (*p < ' ' || *p == 0x7f)
            return fail(r, ROUTE_BADADDR, "control character in recipient"
                        " address");
    if (sb_set(&r->address, rcpt) < 0)
        return fail(r, ROUTE_BADADDR, "recipient address too long");
    if ((at = strrchr(rcpt, '@')) == NULL) {
        if (sb_printf(&r->address, "@%s", rc->myhostname) < 0)
            return fail(r, ROUTE_BADADDR, "recipient address too long");
        at = strrchr(sb_str(&r->address), '@');
    } else {
        at = sb_str(&r->address) + (at - rcpt);
    }
    (void)sb_set(&r->domain, at + 1);
    sb_lower(&r->domain);
    if (!valid_domain(sb_str(&r->domain)))
        return fail(r, ROUTE_BADADDR, "bad domain in recipient address"
                    " \"%s\"", sb_str(&r->address));
    return 0;
}

/* local_domain - mydestination or one of this host's [address]: 1, 0, -1. */
static int local_domain(const route_ctx *rc, const char *domain,
                        struct route_why *why, strbuf *err)
{
    const struct host_ip *ip;
    int rv = dl_match(&rc->lists[0], domain, why, err);

    if (rv != 0)
        return rv;
    if ((ip = literal_is_local(rc, domain)) != NULL) {
        why_set(why, ip->param, NULL, domain, NULL);
        return 1;
    }
    return 0;
}

/* classify - the address class of the recipient domain. */
static int classify(const route_ctx *rc, struct route_result *r)
{
    const char *domain = sb_str(&r->domain);
    strbuf err;

    sb_init(&err, ROUTE_TEXT_MAX);
    for (size_t i = 0; i < NCLASS; i++) {
        int rv = i == 0 ? local_domain(rc, domain, &r->why_class, &err)
                        : dl_match(&rc->lists[i], domain, &r->why_class, &err);

        if (rv < 0)
            fail(r, ROUTE_TEMPFAIL, "%s", sb_str(&err));
        if (rv != 0) {
            r->rclass = class_defs[i].rclass;
            sb_release(&err);
            return rv < 0 ? -1 : 0;
        }
    }
    sb_release(&err);
    r->rclass = ROUTE_CLASS_DEFAULT;
    why_set(&r->why_class, NULL, NULL, NULL,
            "no local, virtual alias, virtual mailbox or relay domain matches");
    return 0;
}

/* sender_lookup - a sender-dependent table by sender, then @domain (the
 * null sender by null_key): 1 found, 0 none or DUNNO, -1 (r failed). */
static int sender_lookup(const route_ctx *rc, maplist *ml, const char *param,
                         const char *null_key, const char *sender,
                         strbuf *val, struct route_why *why,
                         struct route_result *r)
{
    struct map_keyopts o = {.order = MAP_KEYS_VIRTUAL,
                            .delimiters = rc->delims};
    strbuf key;
    struct map_match m = {.key = &key, .table = NULL};
    const char *at = strrchr(sender, '@');
    int rv;

    if (ml == NULL)
        return 0;
    if (*sender == '\0') {
        o.order = MAP_KEYS_FULL;
        sender = null_key;
    } else if (at != NULL) {
        struct route_why tmp;
        strbuf err;

        why_init(&tmp);
        sb_init(&err, ROUTE_TEXT_MAX);
        rv = local_domain(rc, at + 1, &tmp, &err);
        if (rv < 0)
            fail(r, ROUTE_TEMPFAIL, "%s", sb_str(&err));
        why_release(&tmp);
        sb_release(&err);
        if (rv < 0)
            return -1;
        o.local_domain = rv > 0;
    }
    sb_init(&key, ROUTE_TEXT_MAX);
    rv = maplist_lookup_order(ml, sender, &o, val, &m);
    if (rv == MAP_ERROR) {
        fail(r, ROUTE_TEMPFAIL, "%s lookup of %s in %s: %s", param,
             sb_str(&key), m.table ? map_spec(m.table) : "?",
             m.table ? map_error(m.table) : "error");
    } else if (rv == MAP_FOUND) {
        sb_trim(val);
        if (sb_len(val) == 0) {
            msg_warn("%s: ignoring empty lookup result for %s", param,
                     sb_str(&key));
        } else if (strcasecmp(sb_str(val), "DUNNO") != 0) {
            why_set(why, param, map_spec(m.table), sb_str(&key), NULL);
            sb_release(&key);
            return 1;
        }
    }
    sb_release(&key);
    return rv == MAP_ERROR ? -1 : 0;
}

/* offhost_nexthop - relay and default class: sender_dependent_relayhost_maps,
 * relayhost, or the recipient domain. */
static int offhost_nexthop(const route_ctx *rc, const char *sender,
                           struct route_result *r)
{
    const char *relayhost = conf_get_str(rc->conf, "relayhost");
    int rv = sender_lookup(rc, rc->snd_relay, "sender_dependent_relayhost_maps",
                           conf_get_str(rc->conf,
                               "empty_address_relayhost_maps_lookup_key"),
                           sender, &r->nexthop, &r->why_nexthop, r);

    if (rv != 0)
        return rv < 0 ? -1 : 0;
    if (*relayhost != '\0') {
        why_set(&r->why_nexthop, "relayhost", NULL, NULL, NULL);
        return set_text(r, &r->nexthop, relayhost, strlen(relayhost),
                        "relayhost");
    }
    why_set(&r->why_nexthop, NULL, NULL, NULL, "recipient domain");
    return set_text(r, &r->nexthop, sb_str(&r->domain), sb_len(&r->domain),
                    "domain");
}

/* class_xport - the transport parameter of a class. */
static const char *class_xport(enum route_class rclass)
{
    for (size_t i = 0; i < NCLASS; i++)
        if (class_defs[i].rclass == rclass && class_defs[i].xport != NULL)
            return class_defs[i].xport;
    return "default_transport";
}

/* class_transport - the class's transport and nexthop, before
 * transport_maps; value is "transport[:nexthop]" from a parameter or the
 * sender-dependent default transport. */
static int class_transport(const route_ctx *rc, const char *sender,
                           struct route_result *r)
{
    strbuf value;
    const char *colon;
    int rv = 0;

    if (r->rclass == ROUTE_CLASS_ALIAS) {
        const char *why = "virtual alias domain (the address was not"
                          " rewritten by virtual_alias_maps)";

        why_set(&r->why_transport, NULL, NULL, NULL, why);
        why_set(&r->why_nexthop, NULL, NULL, NULL, why);
        (void)sb_set(&r->transport, "error");
        (void)sb_set(&r->nexthop, "5.1.1 User unknown in virtual alias table");
        return 0;
    }
    sb_init(&value, MAP_LINE_MAX);
    if (r->rclass == ROUTE_CLASS_DEFAULT)
        rv = sender_lookup(rc, rc->snd_xport,
                           "sender_dependent_default_transport_maps",
                           conf_get_str(rc->conf,
                               "empty_address_default_transport_maps_lookup_key"),
                           sender, &value, &r->why_transport, r);
    if (rv == 0) {
        const char *param = class_xport(r->rclass);

        why_set(&r->why_transport, param, NULL, NULL, NULL);
        (void)sb_set(&value, conf_get_str(rc->conf, param));
    }
    if (rv >= 0 && r->rclass >= ROUTE_CLASS_RELAY)
        rv = offhost_nexthop(rc, sender, r);
    else if (rv >= 0) {
        why_set(&r->why_nexthop, NULL, NULL, NULL, "recipient domain");
        (void)sb_set(&r->nexthop, sb_str(&r->domain));
    }
    if (rv < 0) {
        sb_release(&value);
        return -1;
    }
    colon = strchr(sb_str(&value), ':');
    rv = set_text(r, &r->transport, sb_str(&value),
                  colon ? (size_t)(colon - sb_str(&value)) : sb_len(&value),
                  "transport");
    if (rv == 0 && sb_len(&r->transport) == 0)
        rv = fail(r, ROUTE_CONFIG, "%s%s%s: null transport is not allowed",
                  r->why_transport.param, sb_len(&r->why_transport.table)
                  ? " " : "", sb_str(&r->why_transport.table));
    if (rv == 0 && colon != NULL && colon[1] != '\0') {
        why_set(&r->why_nexthop, r->why_transport.param,
                sb_str(&r->why_transport.table), sb_str(&r->why_transport.key),
                NULL);
        rv = set_text(r, &r->nexthop, colon + 1, strlen(colon + 1), "nexthop");
    }
    sb_release(&value);
    return rv;
}

/* apply_transport_maps - transport(5): "transport:nexthop" replaces both,
 * "transport:" resets the nexthop to the recipient domain (error and retry:
 * a fixed text), ":nexthop" keeps the transport, ":" changes nothing. */
static int apply_transport_maps(const route_ctx *rc, struct route_result *r)
{
    struct map_keyopts o = {.order = MAP_KEYS_TRANSPORT,
                            .delimiters = rc->delims,
                            .parent_matches = rc->transport_parent};
    strbuf val, key;
    struct map_match m = {.key = &key, .table = NULL};
    const char *v, *colon;
    int rv;

    if (rc->transport_maps == NULL)
        return 0;
    sb_init(&val, MAP_LINE_MAX);
    sb_init(&key, ROUTE_TEXT_MAX);
    rv = maplist_lookup_order(rc->transport_maps, sb_str(&r->address), &o,
                              &val, &m);
    if (rv == MAP_ERROR) {
        rv = fail(r, ROUTE_TEMPFAIL, "transport_maps lookup of %s in %s: %s",
                  sb_str(&key), m.table ? map_spec(m.table) : "?",
                  m.table ? map_error(m.table) : "error");
        goto out;
    }
    if (rv == MAP_NOTFOUND) {
        rv = 0;
        goto out;
    }
    sb_trim(&val);
    v = sb_str(&val);
    colon = strchr(v, ':');
    if (colon != v) {                   /* a transport is named */
        rv = set_text(r, &r->transport, v, colon ? (size_t)(colon - v)
                      : strlen(v), "transport");
        why_set(&r->why_transport, "transport_maps", map_spec(m.table),
                sb_str(&key), NULL);
        if (rv == 0 && (colon == NULL || colon[1] == '\0')) {
            bool err = strcmp(sb_str(&r->transport), "error") == 0
                || strcmp(sb_str(&r->transport), "retry") == 0;

            (void)sb_set(&r->nexthop, err ? "Address is undeliverable"
                         : sb_str(&r->domain));
            why_set(&r->why_nexthop, NULL, NULL, NULL, err
                    ? "error text when transport_maps gives none"
                    : "recipient domain, transport_maps gave no nexthop");
        }
    }
    if (rv == 0 && colon != NULL && colon[1] != '\0') {
        rv = set_text(r, &r->nexthop, colon + 1, strlen(colon + 1), "nexthop");
        why_set(&r->why_nexthop, "transport_maps", map_spec(m.table),
                sb_str(&key), NULL);
    }
out:
    sb_release(&val);
    sb_release(&key);
    return rv;
}

/* is_text_program - a program whose nexthop is not a host. */
static bool is_text_program(const char *prog)
{
    for (size_t i = 0; i < sizeof(text_programs) / sizeof(text_programs[0]);
         i++)
        if (strcmp(prog, text_programs[i]) == 0)
            return true;
    return false;
}

/* finish - find the transport's master.cf program and parse the nexthop. */
static int finish(const route_ctx *rc, struct route_result *r)
{
    const struct conf_service *svc = conf_service_find(rc->conf,
                                         sb_str(&r->transport), "unix");
    const char *prog = sb_str(&r->transport);
    bool lmtp;
    strbuf err;
    int rv = 0;

    if (svc != NULL && svc->argv != NULL && svc->argv[0] != NULL) {
        const char *slash = strrchr(svc->argv[0], '/');

        prog = slash ? slash + 1 : svc->argv[0];
    }
    for (const unsigned char *p = (const unsigned char *)prog; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '/')
            return fail(r, ROUTE_CONFIG, "bad transport name \"%s\" (from"
                        " %s%s%s)", prog, r->why_transport.param,
                        sb_len(&r->why_transport.table) ? " " : "",
                        sb_str(&r->why_transport.table));
    r->service_known = svc != NULL;
    (void)sb_set(&r->program, svc != NULL ? prog : "");
    if (is_text_program(prog)) {
        r->hop.kind = ROUTE_HOP_TEXT;
        (void)sb_set(&r->hop.host, sb_str(&r->nexthop));
        return 0;
    }
    lmtp = strcmp(prog, "lmtp") == 0;
    sb_init(&err, ROUTE_TEXT_MAX);
    if (route_parse_nexthop(sb_str(&r->nexthop), lmtp ? 24 : 25, lmtp,
                            &r->hop, &err) < 0)
        rv = fail(r, ROUTE_CONFIG, "transport %s: %s (from %s%s%s)",
                  sb_str(&r->transport), sb_str(&err),
                  r->why_nexthop.param ? r->why_nexthop.param
                  : r->why_nexthop.dflt, sb_len(&r->why_nexthop.table)
                  ? " " : "", sb_str(&r->why_nexthop.table));
    sb_release(&err);
    return rv;
}

/* route_resolve - see route.h. */
enum route_status route_resolve(route_ctx *rc, const char *rcpt,
                                const char *sender, struct route_result *r)
{
    result_reset(r);
    if (sender == NULL)
        sender = "";
    if (set_address(rc, rcpt, r) < 0 || classify(rc, r) < 0
        || class_transport(rc, sender, r) < 0)
        return r->status;
    if (r->rclass != ROUTE_CLASS_ALIAS && apply_transport_maps(rc, r) < 0)
        return r->status;
    (void)finish(rc, r);
    return r->status;
}
