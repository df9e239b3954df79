/*
 * cleanup_addr - address rewriting at receipt: canonical(5) one-to-one
 * mapping (envelope and header addresses) and virtual(5) alias expansion
 * (one to many, recursive), both with Postfix's key order (virtual(5):
 * user+ext@domain, user@domain, user+ext and user for local domains,
 * @domain) and unmatched-extension propagation.
 *
 * Owns nothing between calls but the duplicate set it is given. A table
 * lookup error is never "not found": it logs a warning and sets the
 * message's verdict to TEMPFAIL. A table result that is not an address is
 * logged and ignored (the address stays as it was), so a bad table entry
 * cannot put junk into a queue file. Expansion is bounded by
 * virtual_alias_recursion_limit (depth) and virtual_alias_expansion_limit
 * (addresses per recipient); past either, the message is deferred, as
 * Postfix does.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/addr.h"
#include "common/msg.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "maps/maps.h"
#include "queue/cleanup_private.h"
#include "queue/qfile.h"

#define CLEANUP_LOOKUP_FAIL "451 4.3.0 Error: temporary lookup failure"
#define CLEANUP_EXPAND_FAIL "451 4.3.0 Error: virtual alias expansion limit exceeded"

/* cleanup_set_hash - FNV-1a over the ASCII-lower-cased key. */
static size_t cleanup_set_hash(const char *key)
{
    uint64_t h = 14695981039346656037ULL;

    for (; *key; key++) {
        h ^= (unsigned char)tolower((unsigned char)*key);
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

/* cleanup_set_grow - double the table (load stays under one half). */
static void cleanup_set_grow(struct cleanup_set *s)
{
    size_t cap = s->cap ? 2 * s->cap : 64;
    char **slot = xcalloc(cap, sizeof(*slot));

    for (size_t i = 0; i < s->cap; i++) {
        size_t j;

        if (s->slot[i] == NULL)
            continue;
        for (j = cleanup_set_hash(s->slot[i]) & (cap - 1); slot[j];
             j = (j + 1) & (cap - 1))
            ;
        slot[j] = s->slot[i];
    }
    free(s->slot);
    s->slot = slot;
    s->cap = cap;
}

/* cleanup_set_add - add key; true when it was not there yet. */
bool cleanup_set_add(struct cleanup_set *s, const char *key)
{
    size_t j;

    if (2 * (s->n + 1) > s->cap)
        cleanup_set_grow(s);
    for (j = cleanup_set_hash(key) & (s->cap - 1); s->slot[j];
         j = (j + 1) & (s->cap - 1))
        if (strcasecmp(s->slot[j], key) == 0)
            return false;
    s->slot[j] = xstrdup(key);
    s->n++;
    return true;
}

/* cleanup_set_free - empty the set. */
void cleanup_set_free(struct cleanup_set *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->slot[i]);
    free(s->slot);
    memset(s, 0, sizeof(*s));
}

/* cleanup_strv_free - free a vector of strings. */
void cleanup_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* cleanup_strv_add - append a copy of s[0..len). */
static void cleanup_strv_add(char ***v, size_t *n, const char *s, size_t len)
{
    *v = xreallocarray(*v, *n + 1, sizeof(**v));
    (*v)[(*n)++] = xstrndup(s, len);
}

/*
 * cleanup_qualify - an external address (bare or "<...>") to internal
 * form; "@$myorigin" is appended to a bare user name. 0, or -1.
 */
int cleanup_qualify(const cleanup_cfg *cc, const char *ext, size_t len,
                    strbuf *internal)
{
    addr a;
    int rc = -1;

    addr_init(&a);
    sb_reset(internal);
    if (addr_parse(&a, ext, len, ADDR_P_PATH_OPTIONAL | ADDR_P_ALLOW_LOCAL)
        == ADDR_OK
        && addr_internal(&a, internal) == 0
        && (!(a.flags & ADDR_F_NODOMAIN)
            || sb_printf(internal, "@%s", cc->myorigin) == 0))
        rc = 0;
    addr_release(&a);
    return rc;
}

/* cleanup_local_domain - true for $myorigin and mydestination's domains. */
static bool cleanup_local_domain(const cleanup_cfg *cc, const char *address)
{
    const char *at = strrchr(address, '@');

    if (at == NULL)
        return true;
    if (strcasecmp(at + 1, cc->myorigin) == 0)
        return true;
    for (size_t i = 0; i < cc->nmydest; i++)
        if (strcasecmp(at + 1, cc->mydest[i]) == 0)
            return true;
    return false;
}

/* cleanup_extension - where the input's extension is: [*off, *off+*len). */
static bool cleanup_extension(const cleanup_cfg *cc, const char *in,
                              size_t *off, size_t *len)
{
    size_t lp, dl;
    const char *dom;
    long x;

    (void)addr_split(in, strlen(in), &lp, &dom, &dl);
    x = map_split_extension(in, lp, cc->delims);
    if (x < 0)
        return false;
    *off = (size_t)x;
    *len = lp - (size_t)x;
    return true;
}

/*
 * cleanup_result - one table result item as the new internal address:
 * "@domain" keeps the input's local part; an extension the matched key
 * did not have is carried over when propagate is set. 0, or -1 when the
 * item is not an address.
 */
static int cleanup_result(const cleanup_cfg *cc, const char *in,
                          const char *key, const char *item, size_t len,
                          bool propagate, strbuf *out)
{
    strbuf ext;
    size_t xoff, xlen, lp, dl;
    const char *dom;
    int rc;

    sb_init(&ext, QFILE_FIELD_MAX);
    if (len > 0 && item[0] == '@') {
        size_t inlp;

        (void)addr_split(in, strlen(in), &inlp, &dom, &dl);
        rc = addr_quote(&ext, in, inlp) == 0 && sb_append(&ext, item, len) == 0
            ? cleanup_qualify(cc, sb_str(&ext), sb_len(&ext), out) : -1;
        propagate = false;              /* the whole local part is kept */
    } else {
        rc = cleanup_qualify(cc, item, len, out);
    }
    if (rc == 0 && propagate && key[0] != '@' && strcasecmp(key, in) != 0
        && cleanup_extension(cc, in, &xoff, &xlen)
        && memmem(key, strlen(key), in + xoff, xlen) == NULL) {
        (void)addr_split(sb_str(out), sb_len(out), &lp, &dom, &dl);
        sb_reset(&ext);
        rc = sb_append(&ext, sb_str(out), lp) == 0
            && sb_append(&ext, in + xoff, xlen) == 0
            && sb_puts(&ext, sb_str(out) + lp) == 0
            && sb_set(out, sb_str(&ext)) == 0 ? 0 : -1;
    }
    sb_release(&ext);
    return rc;
}

/* cleanup_next_item - the next item of a table result list, or false. */
static bool cleanup_next_item(const char **p, const char **item, size_t *len)
{
    const char *s = *p;
    bool quoted = false;

    while (*s == ',' || isspace((unsigned char)*s))
        s++;
    if (*s == '\0')
        return false;
    *item = s;
    for (; *s && (quoted || (*s != ',' && !isspace((unsigned char)*s))); s++) {
        if (*s == '\\' && s[1] != '\0')
            s++;
        else if (*s == '"')
            quoted = !quoted;
    }
    *len = (size_t)(s - *item);
    *p = s;
    return true;
}

/* cleanup_lookup - one address in one table list; enum map_result. */
static int cleanup_lookup(cleanup *c, maplist *ml, const char *param,
                          const char *in, strbuf *result, strbuf *key)
{
    struct map_keyopts o = {MAP_KEYS_VIRTUAL, c->cfg->delims,
                            cleanup_local_domain(c->cfg, in), false};
    struct map_match m = {key, NULL};
    int rc = maplist_lookup_order(ml, in, &o, result, &m);

    if (rc == MAP_ERROR) {
        cleanup_log(MSG_WARN, "%s: %s lookup of %s: %s", c->queue_id, param,
                    in, m.table ? map_error(m.table) : "table error");
        cleanup_set_verdict(c, CLEANUP_TEMPFAIL, CLEANUP_LOOKUP_FAIL);
    }
    return rc;
}

/* cleanup_map11 - one canonical table list on one address. */
static int cleanup_map11(cleanup *c, maplist *ml, const char *param,
                         strbuf *addr_io)
{
    strbuf result, key, out;
    const char *p, *item;
    size_t len;
    int rc;

    sb_init(&result, MAP_LINE_MAX);
    sb_init(&key, MAP_LINE_MAX);
    sb_init(&out, QFILE_FIELD_MAX);
    rc = cleanup_lookup(c, ml, param, sb_str(addr_io), &result, &key);
    if (rc == MAP_FOUND) {
        p = sb_str(&result);
        rc = CLEANUP_MAP_SAME;
        if (!cleanup_next_item(&p, &item, &len)
            || cleanup_result(c->cfg, sb_str(addr_io), sb_str(&key), item, len,
                              c->cfg->prop_canonical, &out) < 0)
            cleanup_log(MSG_WARN, "%s: %s: result for %s is not an address:"
                        " %.100s", c->queue_id, param, sb_str(addr_io),
                        sb_str(&result));
        else if (strcmp(sb_str(&out), sb_str(addr_io)) != 0
                 && sb_set(addr_io, sb_str(&out)) == 0)
            rc = CLEANUP_MAP_CHANGED;
    } else {
        rc = rc == MAP_ERROR ? CLEANUP_MAP_ERROR : CLEANUP_MAP_SAME;
    }
    sb_release(&result);
    sb_release(&key);
    sb_release(&out);
    return rc;
}

/*
 * cleanup_canon - canonical rewriting of one internal address of a class:
 * sender_canonical_maps (or recipient_canonical_maps), then canonical_maps,
 * each when its *_classes names the class. enum cleanup_map_rc.
 */
int cleanup_canon(cleanup *c, bool sender_side, bool header, const char *in,
                  strbuf *out)
{
    const cleanup_cfg *cc = c->cfg;
    unsigned cls = sender_side ? (header ? CLEANUP_HDR_SENDER
                                  : CLEANUP_ENV_SENDER)
        : (header ? CLEANUP_HDR_RCPT : CLEANUP_ENV_RCPT);
    const struct {
        maplist *ml;
        unsigned classes;
        const char *param;
    } steps[2] = {
        {sender_side ? cc->sender_canon : cc->rcpt_canon,
         sender_side ? cc->sender_classes : cc->rcpt_classes,
         sender_side ? "sender_canonical_maps" : "recipient_canonical_maps"},
        {cc->canon, cc->canon_classes, "canonical_maps"},
    };
    int rc = CLEANUP_MAP_SAME;

    if (sb_set(out, in) < 0)
        return CLEANUP_MAP_SAME;
    for (size_t i = 0; i < 2; i++) {
        int r;

        if (steps[i].ml == NULL || !(steps[i].classes & cls) || *in == '\0')
            continue;
        if ((r = cleanup_map11(c, steps[i].ml, steps[i].param, out))
            == CLEANUP_MAP_ERROR)
            return CLEANUP_MAP_ERROR;
        if (r == CLEANUP_MAP_CHANGED)
            rc = CLEANUP_MAP_CHANGED;
    }
    return rc;
}

/* cleanup_expand_one - the addresses one alias maps to (or itself). */
static int cleanup_expand_one(cleanup *c, const char *in, char ***next,
                              size_t *nnext, bool *expanded)
{
    strbuf result, key, out;
    const char *p, *item;
    size_t len;
    int rc;

    sb_init(&result, MAP_LINE_MAX);
    sb_init(&key, MAP_LINE_MAX);
    sb_init(&out, QFILE_FIELD_MAX);
    rc = cleanup_lookup(c, c->cfg->virtual, "virtual_alias_maps", in, &result,
                        &key);
    if (rc == MAP_FOUND) {
        size_t before = *nnext;

        for (p = sb_str(&result); cleanup_next_item(&p, &item, &len);) {
            if (cleanup_result(c->cfg, in, sb_str(&key), item, len,
                               c->cfg->prop_virtual, &out) < 0)
                cleanup_log(MSG_WARN, "%s: virtual_alias_maps: bad address"
                            " %.*s for %s", c->queue_id,
                            (int)(len > 100 ? 100 : len), item, in);
            else
                cleanup_strv_add(next, nnext, sb_str(&out), sb_len(&out));
        }
        *expanded = *nnext > before;
        if (!*expanded)                 /* nothing usable: keep the alias */
            cleanup_strv_add(next, nnext, in, strlen(in));
    } else if (rc == MAP_NOTFOUND) {
        cleanup_strv_add(next, nnext, in, strlen(in));
    }
    sb_release(&result);
    sb_release(&key);
    sb_release(&out);
    return rc == MAP_ERROR ? -1 : 0;
}

/* cleanup_dedup - keep the first of each address (case-insensitive). */
static void cleanup_dedup(char **v, size_t *n)
{
    struct cleanup_set seen = {NULL, 0, 0};
    size_t k = 0;

    for (size_t i = 0; i < *n; i++) {
        if (cleanup_set_add(&seen, v[i]))
            v[k++] = v[i];
        else
            free(v[i]);
    }
    *n = k;
    cleanup_set_free(&seen);
}

/* cleanup_expand_round - expand every address not expanded before. */
static int cleanup_expand_round(cleanup *c, struct cleanup_set *been,
                                char ***cur, size_t *ncur, bool *changed)
{
    char **next = NULL;
    size_t nnext = 0;

    *changed = false;
    for (size_t i = 0; i < *ncur; i++) {
        bool expanded = false;

        if (!cleanup_set_add(been, (*cur)[i]))
            cleanup_strv_add(&next, &nnext, (*cur)[i], strlen((*cur)[i]));
        else if (cleanup_expand_one(c, (*cur)[i], &next, &nnext,
                                    &expanded) < 0) {
            cleanup_strv_free(next, nnext);
            return -1;
        }
        *changed |= expanded;
    }
    cleanup_dedup(next, &nnext);
    cleanup_strv_free(*cur, *ncur);
    *cur = next;
    *ncur = nnext;
    return 0;
}

/*
 * cleanup_virtual - virtual alias expansion of one recipient into a new
 * vector (duplicates removed; an address that maps to itself, or is met
 * again through a loop, is kept and not expanded again). 0, or -1 with
 * the verdict set to TEMPFAIL.
 */
int cleanup_virtual(cleanup *c, const char *in, char ***out, size_t *nout)
{
    struct cleanup_set been = {NULL, 0, 0};
    bool changed = true;
    long depth;
    int rc = 0;

    *out = NULL;
    *nout = 0;
    cleanup_strv_add(out, nout, in, strlen(in));
    if (c->cfg->virtual == NULL)
        return 0;
    for (depth = 0; changed && rc == 0; depth++) {
        if (depth > c->cfg->recursion_limit) {     /* a chain of N: N+1 */
            cleanup_log(MSG_WARN, "%s: unreasonable virtual_alias_maps map"
                        " nesting for %s -- message not accepted, try again"
                        " later", c->queue_id, in);
            rc = -1;
        } else if (cleanup_expand_round(c, &been, out, nout, &changed) < 0) {
            rc = -1;
        } else if ((long)*nout > c->cfg->expansion_limit) {
            cleanup_log(MSG_WARN, "%s: unreasonable virtual_alias_maps map"
                        " expansion size for %s -- message not accepted, try"
                        " again later", c->queue_id, in);
            rc = -1;
        }
    }
    cleanup_set_free(&been);
    if (rc < 0) {
        cleanup_set_verdict(c, CLEANUP_TEMPFAIL, CLEANUP_EXPAND_FAIL);
        cleanup_strv_free(*out, *nout);
        *out = NULL;
        *nout = 0;
    }
    return rc;
}
