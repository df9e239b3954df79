/*
 * map_src - reading table source files, as postmap(1) and postalias(1) do.
 *
 * Owns the logical-line reader (lines starting with white space continue
 * the previous line; blank lines and lines whose first non-blank byte is
 * '#' are skipped), the parsers for "key value" and aliases(5) entries, the
 * file change stamp and an in-memory dictionary. Hard errors (NUL byte,
 * overlong line, continuation with nothing to continue, unreadable file)
 * return -1 with "file:line: reason" in err; soft problems (missing value,
 * duplicate key) are msg_warn lines naming file:line and the entry is
 * skipped, as Postfix does.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "maps/map_int.h"

/* map_stamp_get - identify the current version of a file. */
int map_stamp_get(const char *path, map_stamp *st, strbuf *err)
{
    struct stat sb;

    if (stat(path, &sb) < 0) {
        sb_reset(err);
        sb_printf(err, "%s: %s", path, strerror(errno));
        st->valid = false;
        return -1;
    }
    st->valid = true;
    st->dev = sb.st_dev;
    st->ino = sb.st_ino;
    st->size = sb.st_size;
    st->mtime = sb.st_mtim;
    return 0;
}

/* map_stamp_same - true when both stamps name the same file version. */
bool map_stamp_same(const map_stamp *a, const map_stamp *b)
{
    return a->valid && b->valid && a->dev == b->dev && a->ino == b->ino
        && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec
        && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* map_src_init - common part of open and attach. */
static void map_src_init(map_src *s, FILE *fp, const char *path, bool own)
{
    s->fp = fp;
    s->own = own;
    s->path = path;
    s->lineno = 0;
    s->start = 0;
    s->pend_line = 0;
    s->pending = false;
    sb_init(&s->phys, MAP_LINE_MAX);
    sb_init(&s->line, MAP_LINE_MAX);
}

/* map_src_open - open a source file for reading. */
int map_src_open(map_src *s, const char *path, strbuf *err)
{
    FILE *fp = fopen(path, "r");

    if (fp == NULL) {
        sb_reset(err);
        sb_printf(err, "open %s: %s", path, strerror(errno));
        return -1;
    }
    map_src_init(s, fp, path, true);
    return 0;
}

/* map_src_attach - read an already open stream (stdin). */
void map_src_attach(map_src *s, FILE *fp, const char *name)
{
    map_src_init(s, fp, name, false);
}

/* map_src_close - release the reader. */
void map_src_close(map_src *s)
{
    if (s->own && s->fp != NULL && fclose(s->fp) != 0)
        msg_warn("close %s: %m", s->path);
    s->fp = NULL;
    sb_release(&s->phys);
    sb_release(&s->line);
}

/* src_error - format "file:line: text" into err; returns -1. */
static int src_error(const map_src *s, int line, strbuf *err, const char *text)
{
    sb_reset(err);
    sb_printf(err, "%s:%d: %s", s->path, line, text);
    return -1;
}

/* read_phys - one physical line into s->phys; 1 line, 0 EOF, -1 error. */
static int read_phys(map_src *s, strbuf *err)
{
    int c;
    bool any = false;

    sb_reset(&s->phys);
    while ((c = getc(s->fp)) != EOF) {
        any = true;
        if (c == '\n')
            break;
        if (c == '\0')
            return src_error(s, s->lineno + 1, err, "NUL byte in line");
        if (sb_putc(&s->phys, c) < 0)
            return src_error(s, s->lineno + 1, err, "line too long");
    }
    if (ferror(s->fp)) {
        sb_reset(err);
        sb_printf(err, "read %s: %s", s->path, strerror(errno));
        return -1;
    }
    if (!any)
        return 0;
    s->lineno++;
    if (s->phys.len > 0 && s->phys.data[s->phys.len - 1] == '\r')
        sb_truncate(&s->phys, s->phys.len - 1);
    return 1;
}

/* skip_line - true for blank and comment lines. */
static bool skip_line(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return *p == '\0' || *p == '#';
}

/* map_src_next - assemble the next logical line. */
int map_src_next(map_src *s, strbuf *err)
{
    sb_reset(&s->line);
    for (;;) {
        if (!s->pending) {
            int r = read_phys(s, err);

            if (r < 0)
                return -1;
            if (r == 0)
                break;
            s->pending = true;
            s->pend_line = s->lineno;
        }
        if (skip_line(s->phys.data)) {
            s->pending = false;
            continue;
        }
        if (s->phys.data[0] == ' ' || s->phys.data[0] == '\t') {
            if (s->line.len == 0)
                return src_error(s, s->pend_line, err,
                                 "continuation line (starts with white space)"
                                 " without a preceding line");
            if (sb_append(&s->line, s->phys.data, s->phys.len) < 0)
                return src_error(s, s->start, err, "logical line too long");
            s->pending = false;
            continue;
        }
        if (s->line.len > 0)
            break;                      /* keep it for the next call */
        s->start = s->pend_line;
        if (sb_append(&s->line, s->phys.data, s->phys.len) < 0)
            return src_error(s, s->start, err, "line too long");
        s->pending = false;
    }
    return s->line.len > 0;
}

/* split_kv - postmap syntax: key, white space, value; false if no value. */
static bool split_kv(char *line, char **key, char **value)
{
    char *p = line;

    while (*p && !isspace((unsigned char)*p))
        p++;
    *key = line;
    if (*p == '\0')
        return false;
    *p++ = '\0';
    while (isspace((unsigned char)*p))
        p++;
    *value = p;
    for (char *e = p + strlen(p); e > p && isspace((unsigned char)e[-1]); e--)
        e[-1] = '\0';
    return **value != '\0';
}

/* split_alias - aliases(5): name ':' value, name optionally "quoted". */
static const char *split_alias(char *line, strbuf *name, char **value)
{
    char *p = line;

    sb_reset(name);
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && p[1])
                p++;
            if (sb_putc(name, *p) < 0)
                return "name too long";
        }
        if (*p != '"')
            return "unterminated quoted name";
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != ':')
            return "need name:value pair";
    } else {
        char *colon = strchr(p, ':');

        if (colon == NULL)
            return "need name:value pair";
        if (sb_append(name, p, (size_t)(colon - p)) < 0)
            return "name too long";
        sb_trim(name);
        p = colon;
    }
    if (name->len == 0)
        return "empty name";
    p++;
    while (isspace((unsigned char)*p))
        p++;
    for (char *e = p + strlen(p); e > p && isspace((unsigned char)e[-1]); e--)
        e[-1] = '\0';
    if (*p == '\0')
        return "no value after ':'";
    *value = p;
    return NULL;
}

/* map_src_entries - feed every entry of a source to sink. */
int map_src_entries(map_src *s, bool aliases, bool fold, map_sink_fn sink,
                    void *ctx, strbuf *err)
{
    strbuf key;
    int r;

    sb_init(&key, MAP_LINE_MAX);
    while ((r = map_src_next(s, err)) > 0) {
        char *k = NULL, *v = NULL;
        const char *why = NULL;

        if (aliases) {
            why = split_alias(s->line.data, &key, &v);
        } else if (!split_kv(s->line.data, &k, &v)) {
            why = "expected format: key whitespace value";
        } else if (sb_set(&key, k) < 0) {
            why = "key too long";
        }
        if (why != NULL) {
            msg_warn("%s:%d: %s; line ignored", s->path, s->start, why);
            continue;
        }
        if (fold)
            sb_lower(&key);
        r = sink(ctx, key.data, v, err);
        if (r < 0) {
            if (err->len == 0)
                src_error(s, s->start, err, "cannot store entry");
            break;
        }
        if (r == 1)
            msg_warn("%s:%d: duplicate entry: \"%s\"", s->path, s->start,
                     key.data);
    }
    sb_release(&key);
    return r < 0 ? -1 : 0;
}

/* In-memory dictionary: chained hash table of key/value strings. */
struct dict_ent {
    char *key;
    char *value;
    struct dict_ent *next;
};

struct map_dict {
    struct dict_ent **bucket;
    size_t nbucket;
    size_t count;
};

/* dict_hash - FNV-1a. */
static size_t dict_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

/* map_dict_new - an empty dictionary. */
map_dict *map_dict_new(void)
{
    map_dict *d = xmalloc(sizeof(*d));

    d->nbucket = 64;
    d->count = 0;
    d->bucket = xcalloc(d->nbucket, sizeof(*d->bucket));
    return d;
}

/* dict_grow - double the bucket array when the load passes 1. */
static void dict_grow(map_dict *d)
{
    size_t n = d->nbucket * 2;
    struct dict_ent **nb = xcalloc(n, sizeof(*nb));

    for (size_t i = 0; i < d->nbucket; i++) {
        struct dict_ent *e = d->bucket[i], *next;

        for (; e != NULL; e = next) {
            size_t h = dict_hash(e->key) % n;

            next = e->next;
            e->next = nb[h];
            nb[h] = e;
        }
    }
    free(d->bucket);
    d->bucket = nb;
    d->nbucket = n;
}

/* map_dict_add - insert, or report the key as present. */
int map_dict_add(map_dict *d, const char *key, const char *value, bool replace)
{
    size_t h = dict_hash(key) % d->nbucket;

    for (struct dict_ent *e = d->bucket[h]; e != NULL; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            if (replace) {
                free(e->value);
                e->value = xstrdup(value);
            }
            return 1;
        }
    }
    struct dict_ent *e = xmalloc(sizeof(*e));

    e->key = xstrdup(key);
    e->value = xstrdup(value);
    e->next = d->bucket[h];
    d->bucket[h] = e;
    if (++d->count > d->nbucket)
        dict_grow(d);
    return 0;
}

/* map_dict_get - the value of key, or NULL. */
const char *map_dict_get(const map_dict *d, const char *key)
{
    size_t h = dict_hash(key) % d->nbucket;

    for (const struct dict_ent *e = d->bucket[h]; e != NULL; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e->value;
    return NULL;
}

/* map_dict_free - release everything. */
void map_dict_free(map_dict *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->nbucket; i++) {
        struct dict_ent *e = d->bucket[i], *next;

        for (; e != NULL; e = next) {
            next = e->next;
            free(e->key);
            free(e->value);
            free(e);
        }
    }
    free(d->bucket);
    free(d);
}
