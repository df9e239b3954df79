/*
 * map_int - internals shared by the files of maps/ only (not an API).
 *
 * The vtable every table type implements, the table source reader (logical
 * lines with continuation, bounded, rejecting NUL), a file change stamp,
 * and a small string dictionary for tables held in memory.
 */
#ifndef TERN_MAP_INT_H
#define TERN_MAP_INT_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "maps/maps.h"

struct map_ops {
    const char *type;
    bool pattern;                               /* regexp/pcre */
    int (*open)(map *m, strbuf *err);           /* parse name; no file I/O */
    int (*lookup)(map *m, const char *key, strbuf *result);
    int (*check)(map *m, strbuf *err);          /* 0, 1 warning, -1 error */
    void (*close)(map *m);
};

struct map {
    const struct map_ops *ops;
    char *spec;                 /* as given */
    char *name;                 /* after "type:" */
    int flags;
    void *impl;                 /* the type's state */
    strbuf error;               /* last error text */
};

/* map_set_error - record (and log once per change) why a lookup failed. */
void map_set_error(map *m, const strbuf *why);

/* File change stamp. */
typedef struct map_stamp {
    bool valid;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} map_stamp;

/* map_stamp_get - stat path; -1 with err text ("path: reason"). */
int map_stamp_get(const char *path, map_stamp *st, strbuf *err);
bool map_stamp_same(const map_stamp *a, const map_stamp *b);

/* Source reader: logical lines of a table file. */
typedef struct map_src {
    FILE *fp;
    bool own;                   /* close fp at the end */
    const char *path;           /* for messages */
    int lineno;                 /* physical lines read */
    int start;                  /* first line of the current logical line */
    int pend_line;
    bool pending;               /* phys holds an unconsumed line */
    strbuf phys;
    strbuf line;                /* current logical line */
} map_src;

int map_src_open(map_src *s, const char *path, strbuf *err);
void map_src_attach(map_src *s, FILE *fp, const char *name);
/* map_src_next - 1 line in s->line, 0 end, -1 error in err (file:line). */
int map_src_next(map_src *s, strbuf *err);
void map_src_close(map_src *s);

/* Entries of a postmap or aliases(5) source: sink returns 0 added,
 * 1 duplicate (a warning names file:line), -1 error (err set). */
typedef int (*map_sink_fn)(void *ctx, const char *key, const char *value,
                           strbuf *err);
int map_src_entries(map_src *s, bool aliases, bool fold, map_sink_fn sink,
                    void *ctx, strbuf *err);

/* In-memory dictionary (texthash, inline). */
typedef struct map_dict map_dict;
map_dict *map_dict_new(void);
/* map_dict_add - 0 added, 1 key present (kept unless replace). */
int map_dict_add(map_dict *d, const char *key, const char *value, bool replace);
const char *map_dict_get(const map_dict *d, const char *key);
void map_dict_free(map_dict *d);

/* map_fold_key - key into buf, lower-cased when flags say so; -1 if long. */
int map_fold_key(const map *m, const char *key, strbuf *buf);

/* Type vtables. */
extern const struct map_ops map_cdb_ops;
extern const struct map_ops map_texthash_ops;
extern const struct map_ops map_static_ops;
extern const struct map_ops map_inline_ops;
extern const struct map_ops map_fail_ops;
extern const struct map_ops map_regexp_ops;
extern const struct map_ops map_pcre_ops;

/* map_cdb_build - the indexed-table half of map_build. */
int map_cdb_build(const char *path, const struct map_build_opts *o, strbuf *err);

/* map_cdb_dump - print every "key value" of path.cdb to out; -1 + err. */
int map_cdb_dump(const char *path, FILE *out, strbuf *err);

/* map_brace_value - "{ text }" -> text (trimmed); -1 when unbalanced. */
int map_brace_value(const char *s, strbuf *out);

#endif
