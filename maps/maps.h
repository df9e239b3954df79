/*
 * maps - Postfix-style "type:name" lookup tables (STYLE.md rule 13).
 *
 * A map is one open table behind a small vtable chosen by its type: cdb
 * (also spelled hash, btree, lmdb), texthash, regexp, pcre, static, inline,
 * fail. A maplist is a parameter's list of tables, searched in order. File
 * tables are opened lazily and re-read when the file changes (inode, size,
 * mtime), so a rebuilt table is seen without a restart. A table that cannot
 * be opened or read, or whose file has a syntax error, answers MAP_ERROR
 * (the caller defers: 451 4.3.0), never MAP_NOTFOUND.
 *
 * The key-order helpers produce the lookup keys of access(5), virtual(5),
 * transport(5) and client address lookups, and tell which key matched.
 * See docs/maps.md.
 */
#ifndef TERN_MAPS_H
#define TERN_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/strbuf.h"

typedef struct map map;                 /* one open table */
typedef struct maplist maplist;         /* a parameter's tables, searched in order */

enum map_result { MAP_FOUND = 0, MAP_NOTFOUND = 1, MAP_ERROR = -1 };

#define MAP_F_FOLD  (1 << 0)   /* fold keys to lower case (default for most parameters) */

/* Largest logical line of a table source file and largest key or value. */
#define MAP_LINE_MAX 65536

/* map_type_known - true when tern implements table type (no colon). */
bool map_type_known(const char *type);

/* map_open - "type:name"; NULL and text in err when malformed or unknown. */
map *map_open(const char *spec, int flags, strbuf *err);

/* map_lookup - enum map_result; the value replaces result's contents. */
int map_lookup(map *m, const char *key, strbuf *result);

/* map_spec - the spec the table was opened with. */
const char *map_spec(const map *m);

/* map_error - text of the last MAP_ERROR ("" when none). */
const char *map_error(const map *m);

/* map_is_pattern - true for regexp/pcre: queried with full keys only. */
bool map_is_pattern(const map *m);

/* map_close - release a table (NULL is fine). */
void map_close(map *m);

/*
 * map_check - for `tern check`: 0 ok; -1 error (file missing or unreadable,
 * syntax error, .cdb missing); 1 warning (.cdb older than its source,
 * regexp "if" without "endif"). err names file:line where it can.
 */
int map_check(const char *spec, strbuf *err);

/* maplist_open - a parameter value "cdb:/a, regexp:/b" (commas/space). */
maplist *maplist_open(const char *value, int flags, strbuf *err);
int maplist_lookup(maplist *ml, const char *key, strbuf *result);
size_t maplist_count(const maplist *ml);
map *maplist_get(const maplist *ml, size_t i);
void maplist_close(maplist *ml);

/*
 * Key orders. Partial keys (everything but the full input) are never given
 * to regexp/pcre tables, as in Postfix.
 */
enum map_keyorder {
    MAP_KEYS_VIRTUAL,    /* user+ext@dom, user@dom, [user+ext, user], @dom */
    MAP_KEYS_ACCESS,     /* user+ext@dom, user@dom, dom, parents, user+ext@, user@ */
    MAP_KEYS_TRANSPORT,  /* user+ext@dom, user@dom, dom, parents, "*" */
    MAP_KEYS_DOMAIN,     /* dom, parents */
    MAP_KEYS_CLIENT,     /* 1.2.3.4, 1.2.3, 1.2, 1; IPv6 cut at ':' */
    MAP_KEYS_FULL,       /* the input only */
};

struct map_keyopts {
    enum map_keyorder order;
    const char *delimiters;   /* recipient_delimiter characters; NULL/"" none */
    bool local_domain;        /* VIRTUAL: the domain is local, try user forms */
    bool parent_matches;      /* parent_domain_matches_subdomains names this
                               * parameter: "example.com" matches subdomains;
                               * otherwise only ".example.com" does */
};

struct map_key {
    char *key;
    bool partial;             /* fixed-string tables only */
};

typedef struct map_keys {
    size_t n;
    struct map_key *v;
} map_keys;

/* map_keys_make - the keys for input in order o; 0, or -1 (empty input). */
int map_keys_make(const char *input, const struct map_keyopts *o, map_keys *out);
void map_keys_free(map_keys *k);

/* What answered a lookup (for `tern explain`); fields may be NULL. */
struct map_match {
    strbuf *key;              /* receives the key that matched */
    const map *table;         /* set to the table that answered or failed */
};

/* maplist_lookup_keys - search keys in order; each key over every table. */
int maplist_lookup_keys(maplist *ml, const map_keys *keys, strbuf *result,
                        struct map_match *match);

/* maplist_lookup_order - map_keys_make + maplist_lookup_keys. */
int maplist_lookup_order(maplist *ml, const char *input,
                         const struct map_keyopts *o, strbuf *result,
                         struct map_match *match);

/* map_split_extension - index of the extension delimiter in localpart, or
 * -1 (none, or postmaster/mailer-daemon/owner-x/x-request are kept whole). */
long map_split_extension(const char *localpart, size_t len, const char *delims);

/* Building indexed tables (postmap / postalias). */
struct map_build_opts {
    bool aliases;             /* source has aliases(5) syntax */
    bool incremental;         /* -i: keep existing entries, read 'input' */
    bool replace;             /* -r: a duplicate replaces the earlier entry */
    bool nofold;              /* -f: keep key case */
    FILE *input;              /* entries for incremental mode */
    const char *input_name;   /* its name in messages */
};

/* map_build - write name.cdb atomically; 0, or -1 with err. Warnings are
 * logged with msg_warn naming file:line. Non-indexed types are checked. */
int map_build(const char *spec, const struct map_build_opts *o, strbuf *err);

/*
 * Commands. The configuration layer sits above maps/, so the commands get
 * the one setting they read (alias_database, for -a and newaliases) through
 * a callback: the expanded value of a main.cf parameter in a configuration
 * directory (NULL: the default one) as a new string, or NULL after logging
 * why the configuration could not be read.
 */
typedef char *(*map_param_fn)(const char *config_dir, const char *name);
int map_cmd_main(int argc, char **argv, map_param_fn param);       /* `tern map` */
int map_cmd_newaliases(int argc, char **argv, map_param_fn param); /* newaliases */

#endif
