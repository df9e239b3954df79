/*
 * map_text - tables held in memory: texthash:, static:, inline:, fail:.
 *
 * texthash:/path reads a postmap(1)-syntax source directly, at the first
 * lookup and again whenever the file changes; a file that cannot be read,
 * or has a hard syntax error, makes every lookup MAP_ERROR. static:value
 * (or static:{ text }) answers value for every key. inline:{ k=v, k2 = v2,
 * { k3 = text, with comma } } is parsed at open: a malformed one is an
 * open error. fail:name fails every lookup (for testing a deferral path).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "maps/map_int.h"

struct text_state {
    map_dict *dict;             /* NULL until loaded */
    map_stamp stamp;
    strbuf key;
};

/* text_open - state only; the file is read at first lookup. */
static int text_open(map *m, strbuf *err)
{
    struct text_state *st = xcalloc(1, sizeof(*st));

    m->impl = st;
    sb_init(&st->key, MAP_LINE_MAX);
    if (*m->name == '\0') {
        sb_reset(err);
        sb_printf(err, "table %s: missing file name", m->spec);
        return -1;
    }
    return 0;
}

/* dict_sink - add an entry; first one wins. */
static int dict_sink(void *ctx, const char *key, const char *value,
                     strbuf *err)
{
    (void)err;
    return map_dict_add(ctx, key, value, false);
}

/* text_load - read the whole source into a new dictionary. */
static map_dict *text_load(const map *m, strbuf *err)
{
    map_dict *d;
    map_src src;

    if (map_src_open(&src, m->name, err) < 0)
        return NULL;
    d = map_dict_new();
    if (map_src_entries(&src, false, (m->flags & MAP_F_FOLD) != 0, dict_sink,
                        d, err) < 0) {
        map_dict_free(d);
        d = NULL;
    }
    map_src_close(&src);
    return d;
}

/* text_lookup - (re)load when the file changed, then look the key up. */
static int text_lookup(map *m, const char *key, strbuf *result)
{
    struct text_state *st = m->impl;
    map_stamp now;
    strbuf why;
    const char *v;

    sb_init(&why, 1024);
    if (map_stamp_get(m->name, &now, &why) < 0)
        goto error;
    if (st->dict == NULL || !map_stamp_same(&st->stamp, &now)) {
        map_dict_free(st->dict);
        st->stamp.valid = false;
        if ((st->dict = text_load(m, &why)) == NULL)
            goto error;
        st->stamp = now;
    }
    sb_release(&why);
    if (map_fold_key(m, key, &st->key) < 0
        || (v = map_dict_get(st->dict, st->key.data)) == NULL)
        return MAP_NOTFOUND;
    return sb_puts(result, v) < 0 ? MAP_ERROR : MAP_FOUND;
error:
    map_set_error(m, &why);
    sb_release(&why);
    return MAP_ERROR;
}

/* text_check - the file must load without a hard error. */
static int text_check(map *m, strbuf *err)
{
    map_dict *d = text_load(m, err);

    if (d == NULL)
        return -1;
    map_dict_free(d);
    return 0;
}

/* text_close - release state. */
static void text_close(map *m)
{
    struct text_state *st = m->impl;

    if (st == NULL)
        return;
    map_dict_free(st->dict);
    sb_release(&st->key);
    free(st);
}

const struct map_ops map_texthash_ops = {
    "texthash", false, text_open, text_lookup, text_check, text_close,
};

/* static_open - the value is the name, or the text inside braces. */
static int static_open(map *m, strbuf *err)
{
    strbuf *v = sb_new(MAP_LINE_MAX);

    m->impl = v;
    if (m->name[0] == '{' ? map_brace_value(m->name, v) < 0
        : sb_set(v, m->name) < 0) {
        sb_reset(err);
        sb_printf(err, "table %s: expected static:value or static:{ text }",
                  m->spec);
        return -1;
    }
    return 0;
}

/* static_lookup - every key has the value. */
static int static_lookup(map *m, const char *key, strbuf *result)
{
    const strbuf *v = m->impl;

    (void)key;
    return sb_append(result, v->data, v->len) < 0 ? MAP_ERROR : MAP_FOUND;
}

/* static_close - release the value. */
static void static_close(map *m)
{
    sb_free(m->impl);
}

const struct map_ops map_static_ops = {
    "static", false, static_open, static_lookup, NULL, static_close,
};

/* needs_more - true when prev is "key" or "key=" waiting for the rest. */
static bool needs_more(const char *prev, const char *tok)
{
    const char *eq = strchr(prev, '=');

    if (prev[0] == '{')
        return false;
    if (eq == NULL)
        return tok[0] == '=';
    return eq[1] == '\0' && tok[0] != '{';
}

/* inline_tokens - split on commas/space outside braces, then glue the
 * pieces of "key = value" back together. -1 when braces do not balance. */
static int inline_tokens(const char *s, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    while (*s) {
        const char *start;
        int depth = 0;

        while (*s == ',' || isspace((unsigned char)*s))
            s++;
        if (*s == '\0')
            break;
        for (start = s; *s; s++) {
            if (depth == 0 && (*s == ',' || isspace((unsigned char)*s)))
                break;
            if (*s == '{')
                depth++;
            else if (*s == '}' && --depth < 0)
                return -1;
        }
        if (depth != 0)
            return -1;
        char *tok = xstrndup(start, (size_t)(s - start));

        if (*n > 0 && needs_more((*out)[*n - 1], tok)) {
            char *prev = (*out)[*n - 1];
            size_t plen = strlen(prev), tlen = strlen(tok);
            char *joined = xmalloc(plen + tlen + 1);

            memcpy(joined, prev, plen);
            memcpy(joined + plen, tok, tlen + 1);
            free(prev);
            free(tok);
            (*out)[*n - 1] = joined;
            continue;
        }
        *out = xreallocarray(*out, *n + 1, sizeof(**out));
        (*out)[(*n)++] = tok;
    }
    return 0;
}

/* inline_element - add one "key=value" or "{ key = value }". */
static int inline_element(map *m, map_dict *d, const char *tok, strbuf *kv)
{
    char *eq;
    strbuf key;
    int r = -1;

    if (tok[0] == '{' ? map_brace_value(tok, kv) < 0 : sb_set(kv, tok) < 0)
        return -1;
    if ((eq = strchr(kv->data, '=')) == NULL)
        return -1;
    sb_init(&key, MAP_LINE_MAX);
    if (sb_append(&key, kv->data, (size_t)(eq - kv->data)) == 0) {
        sb_trim(&key);
        if (m->flags & MAP_F_FOLD)
            sb_lower(&key);
        eq++;
        while (isspace((unsigned char)*eq))
            eq++;
        if (key.len > 0) {
            if (map_dict_add(d, key.data, eq, false) == 1)
                msg_warn("table %s: duplicate key \"%s\"", m->spec, key.data);
            r = 0;
        }
    }
    sb_release(&key);
    return r;
}

/* inline_open - parse every element now. */
static int inline_open(map *m, strbuf *err)
{
    map_dict *d = map_dict_new();
    strbuf body, kv;
    char **tok = NULL;
    size_t n = 0;
    int r = -1;

    m->impl = d;
    sb_init(&body, MAP_LINE_MAX);
    sb_init(&kv, MAP_LINE_MAX);
    sb_reset(err);
    if (map_brace_value(m->name, &body) < 0
        || inline_tokens(body.data, &tok, &n) < 0) {
        sb_printf(err, "table %s: expected inline:{ key=value, ... } with"
                  " balanced braces", m->spec);
    } else {
        r = 0;
        for (size_t i = 0; i < n && r == 0; i++) {
            if (inline_element(m, d, tok[i], &kv) < 0) {
                sb_printf(err, "table %s: element \"%s\": expected key=value",
                          m->spec, tok[i]);
                r = -1;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        free(tok[i]);
    free(tok);
    sb_release(&body);
    sb_release(&kv);
    return r;
}

/* inline_lookup - one key. */
static int inline_lookup(map *m, const char *key, strbuf *result)
{
    strbuf k;
    const char *v = NULL;

    sb_init(&k, MAP_LINE_MAX);
    if (map_fold_key(m, key, &k) == 0)
        v = map_dict_get(m->impl, k.data);
    sb_release(&k);
    if (v == NULL)
        return MAP_NOTFOUND;
    return sb_puts(result, v) < 0 ? MAP_ERROR : MAP_FOUND;
}

/* inline_close - release the dictionary. */
static void inline_close(map *m)
{
    map_dict_free(m->impl);
}

const struct map_ops map_inline_ops = {
    "inline", false, inline_open, inline_lookup, NULL, inline_close,
};

/* fail_lookup - always a table error. */
static int fail_lookup(map *m, const char *key, strbuf *result)
{
    strbuf why;

    (void)key;
    (void)result;
    sb_init(&why, 1024);
    sb_printf(&why, "table is configured to fail (%s)", m->name);
    map_set_error(m, &why);
    sb_release(&why);
    return MAP_ERROR;
}

const struct map_ops map_fail_ops = {
    "fail", false, NULL, fail_lookup, NULL, NULL,
};
