/*
 * map - the "type:name" front of the table layer, and maplists.
 *
 * Owns the type table (name -> vtable), the map handle and the list of
 * handles a parameter names. A malformed spec or an unknown type is an
 * error at open time with a clear text; everything that touches files
 * happens lazily inside the types' lookup functions, whose failures are
 * MAP_ERROR with the reason kept in the handle (map_error) and logged once
 * per distinct reason.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "maps/map_int.h"

#define MAP_SPEC_MAX 4096

/* Every type name tern accepts; several names share the indexed type. */
static const struct map_type {
    const char *name;
    const struct map_ops *ops;
} map_types[] = {
    {"cdb", &map_cdb_ops},
    {"hash", &map_cdb_ops},
    {"btree", &map_cdb_ops},
    {"lmdb", &map_cdb_ops},
    {"texthash", &map_texthash_ops},
    {"regexp", &map_regexp_ops},
    {"pcre", &map_pcre_ops},
    {"static", &map_static_ops},
    {"inline", &map_inline_ops},
    {"fail", &map_fail_ops},
};

/* find_type - the vtable for a type name of len bytes, or NULL. */
static const struct map_ops *find_type(const char *type, size_t len)
{
    for (size_t i = 0; i < sizeof(map_types) / sizeof(map_types[0]); i++)
        if (strlen(map_types[i].name) == len
            && strncmp(map_types[i].name, type, len) == 0)
            return map_types[i].ops;
    return NULL;
}

/* map_type_known - true when tern implements the type. */
bool map_type_known(const char *type)
{
    return type != NULL && find_type(type, strlen(type)) != NULL;
}

/* split_spec - type length of "type:name" and where the name starts. */
static int split_spec(const char *spec, size_t *tlen, const char **name,
                      strbuf *err)
{
    const char *colon = strchr(spec, ':');

    sb_reset(err);
    if (colon == NULL || colon == spec || colon[1] == '\0') {
        sb_printf(err, "table \"%s\": expected type:name", spec);
        return -1;
    }
    for (const char *p = spec; p < colon; p++) {
        if (!isalnum((unsigned char)*p) && *p != '_') {
            sb_printf(err, "table \"%s\": bad type name", spec);
            return -1;
        }
    }
    *tlen = (size_t)(colon - spec);
    *name = colon + 1;
    return 0;
}

/* map_open - make a handle; the table itself is read at first lookup. */
map *map_open(const char *spec, int flags, strbuf *err)
{
    const char *orig = spec, *name;
    const struct map_ops *ops;
    size_t tlen;
    map *m;

    if (strlen(spec) > MAP_SPEC_MAX) {
        sb_reset(err);
        sb_printf(err, "table specification too long");
        return NULL;
    }
    /* proxy:type:name reads the table directly (no proxymap in tern). */
    while (strncmp(spec, "proxy:", 6) == 0)
        spec += 6;
    if (split_spec(spec, &tlen, &name, err) < 0)
        return NULL;
    if ((ops = find_type(spec, tlen)) == NULL) {
        sb_printf(err, "table \"%s\": unsupported table type \"%.*s\"",
                  orig, (int)tlen, spec);
        return NULL;
    }
    m = xcalloc(1, sizeof(*m));
    m->ops = ops;
    m->spec = xstrdup(orig);
    m->name = xstrdup(name);
    m->flags = flags;
    sb_init(&m->error, 1024);
    if (ops->open != NULL && ops->open(m, err) < 0) {
        map_close(m);
        return NULL;
    }
    return m;
}

/* map_set_error - remember why lookups fail; log when the reason changes. */
void map_set_error(map *m, const strbuf *why)
{
    if (strcmp(m->error.data, why->data) == 0)
        return;
    sb_reset(&m->error);
    if (sb_append(&m->error, why->data,
                  why->len < m->error.max ? why->len : m->error.max) < 0)
        sb_reset(&m->error);
    msg_warn("table %s: %s", m->spec, m->error.data);
}

/* map_lookup - one key, one table. */
int map_lookup(map *m, const char *key, strbuf *result)
{
    int r;

    sb_reset(result);
    if (key == NULL || *key == '\0')
        return MAP_NOTFOUND;
    r = m->ops->lookup(m, key, result);
    if (r == MAP_ERROR && m->error.len == 0 && sb_puts(&m->error,
                                                      "lookup error") < 0)
        sb_reset(&m->error);
    if (r != MAP_FOUND)
        sb_reset(result);
    if (r != MAP_ERROR)
        sb_reset(&m->error);            /* recovered: log the next failure */
    return r;
}

/* map_spec - the spec as given. */
const char *map_spec(const map *m)
{
    return m->spec;
}

/* map_error - the last error text. */
const char *map_error(const map *m)
{
    return m->error.data;
}

/* map_is_pattern - regexp and pcre tables see full keys only. */
bool map_is_pattern(const map *m)
{
    return m->ops->pattern;
}

/* map_close - release a handle. */
void map_close(map *m)
{
    if (m == NULL)
        return;
    if (m->ops->close != NULL)
        m->ops->close(m);
    sb_release(&m->error);
    free(m->spec);
    free(m->name);
    free(m);
}

/* map_fold_key - copy key, lower-cased for folding tables. */
int map_fold_key(const map *m, const char *key, strbuf *buf)
{
    sb_reset(buf);
    if (sb_puts(buf, key) < 0)
        return -1;
    if (m->flags & MAP_F_FOLD)
        sb_lower(buf);
    return 0;
}

/* map_brace_value - the text inside "{ ... }", trimmed. */
int map_brace_value(const char *s, strbuf *out)
{
    const char *end;

    sb_reset(out);
    while (isspace((unsigned char)*s))
        s++;
    if (*s != '{')
        return -1;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    if (end - s < 2 || end[-1] != '}')
        return -1;
    if (sb_append(out, s + 1, (size_t)(end - s - 2)) < 0)
        return -1;
    sb_trim(out);
    return 0;
}

/* map_check - open a table and run its type's checks. */
int map_check(const char *spec, strbuf *err)
{
    map *m = map_open(spec, MAP_F_FOLD, err);
    int r;

    if (m == NULL)
        return -1;
    sb_reset(err);
    r = m->ops->check != NULL ? m->ops->check(m, err) : 0;
    map_close(m);
    return r;
}

/* map_build - build an indexed table, or check any other type. */
int map_build(const char *spec, const struct map_build_opts *o, strbuf *err)
{
    const char *name;
    size_t tlen;
    int r;

    if (strchr(spec, ':') == NULL || spec[0] == '/')
        return map_cdb_build(spec, o, err);     /* default_database_type */
    if (split_spec(spec, &tlen, &name, err) < 0)
        return -1;
    if (find_type(spec, tlen) == &map_cdb_ops)
        return map_cdb_build(name, o, err);
    if (o->aliases || o->incremental) {
        sb_printf(err, "table \"%s\": only indexed tables (cdb, hash, btree)"
                  " can be built", spec);
        return -1;
    }
    r = map_check(spec, err);
    if (r > 0) {
        msg_warn("%s", err->data);
        sb_reset(err);
    }
    return r < 0 ? -1 : 0;
}

/* A maplist: tables in the order the parameter names them. */
struct maplist {
    size_t n;
    map **v;
};

/* next_token - one list element (commas/space outside braces); -1 bad. */
static int next_token(const char **pp, strbuf *tok)
{
    const char *p = *pp;
    int depth = 0;

    sb_reset(tok);
    while (*p == ',' || isspace((unsigned char)*p))
        p++;
    for (; *p; p++) {
        if (depth == 0 && (*p == ',' || isspace((unsigned char)*p)))
            break;
        if (*p == '{')
            depth++;
        else if (*p == '}' && --depth < 0)
            return -1;
        if (sb_putc(tok, *p) < 0)
            return -1;
    }
    *pp = p;
    return depth == 0 ? 0 : -1;
}

/* maplist_add - append one opened table. */
static void maplist_add(maplist *ml, map *m)
{
    ml->v = xreallocarray(ml->v, ml->n + 1, sizeof(*ml->v));
    ml->v[ml->n++] = m;
}

/* maplist_open - open every table named in a parameter value. */
maplist *maplist_open(const char *value, int flags, strbuf *err)
{
    maplist *ml = xcalloc(1, sizeof(*ml));
    strbuf tok, next;
    const char *p = value;

    sb_init(&tok, MAP_SPEC_MAX);
    sb_init(&next, MAP_SPEC_MAX);
    for (;;) {
        map *m;

        if (next_token(&p, &tok) < 0) {
            sb_reset(err);
            sb_printf(err, "table list \"%s\": unbalanced '{' '}' or element"
                      " too long", value);
            goto bad;
        }
        if (tok.len == 0)
            break;
        /* "regexp: /path" (a space after the colon) means "regexp:/path". */
        if (tok.data[tok.len - 1] == ':' && strchr(tok.data, ':')
            == tok.data + tok.len - 1) {
            const char *save = p;

            if (next_token(&p, &next) == 0 && next.len > 0
                && strchr(next.data, ':') == NULL && sb_puts(&tok, next.data) == 0)
                save = p;
            p = save;
        }
        if ((m = map_open(tok.data, flags, err)) == NULL)
            goto bad;
        maplist_add(ml, m);
    }
    sb_release(&tok);
    sb_release(&next);
    return ml;
bad:
    sb_release(&tok);
    sb_release(&next);
    maplist_close(ml);
    return NULL;
}

/* maplist_lookup - the first table that has key answers; errors stop. */
int maplist_lookup(maplist *ml, const char *key, strbuf *result)
{
    for (size_t i = 0; i < ml->n; i++) {
        int r = map_lookup(ml->v[i], key, result);

        if (r != MAP_NOTFOUND)
            return r;
    }
    sb_reset(result);
    return MAP_NOTFOUND;
}

/* maplist_count - number of tables. */
size_t maplist_count(const maplist *ml)
{
    return ml->n;
}

/* maplist_get - table i (0-based). */
map *maplist_get(const maplist *ml, size_t i)
{
    return i < ml->n ? ml->v[i] : NULL;
}

/* maplist_close - close every table. */
void maplist_close(maplist *ml)
{
    if (ml == NULL)
        return;
    for (size_t i = 0; i < ml->n; i++)
        map_close(ml->v[i]);
    free(ml->v);
    free(ml);
}

/* maplist_lookup_keys - Postfix's order: each key against every table. */
int maplist_lookup_keys(maplist *ml, const map_keys *keys, strbuf *result,
                        struct map_match *match)
{
    for (size_t k = 0; k < keys->n; k++) {
        for (size_t i = 0; i < ml->n; i++) {
            int r;

            if (keys->v[k].partial && map_is_pattern(ml->v[i]))
                continue;
            r = map_lookup(ml->v[i], keys->v[k].key, result);
            if (r == MAP_NOTFOUND)
                continue;
            if (match != NULL) {
                match->table = ml->v[i];
                if (match->key != NULL && sb_set(match->key, keys->v[k].key) < 0)
                    sb_reset(match->key);
            }
            return r;
        }
    }
    sb_reset(result);
    return MAP_NOTFOUND;
}

/* maplist_lookup_order - make the keys of an order and search them. */
int maplist_lookup_order(maplist *ml, const char *input,
                         const struct map_keyopts *o, strbuf *result,
                         struct map_match *match)
{
    map_keys keys;
    int r;

    if (map_keys_make(input, o, &keys) < 0) {
        sb_reset(result);
        return MAP_NOTFOUND;
    }
    r = maplist_lookup_keys(ml, &keys, result, match);
    map_keys_free(&keys);
    return r;
}
