/*
 * conf_private.h - what the files of conf/ share; not part of the API.
 *
 * The conf object, its entry table (one definition per name, sorted for
 * bsearch), the expansion slots (one per registry parameter and one per
 * table entry: each expanded exactly once, which bounds the work and makes
 * loop detection a state check), the logical-line reader shared by main.cf
 * and master.cf, and the value checker. Only the .c files of conf/ include this.
 */
#ifndef TERN_CONF_PRIVATE_H
#define TERN_CONF_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/strbuf.h"
#include "conf/conf.h"

#define CONF_LINE_MAX   (64 * 1024)         /* one logical line */
#define CONF_FILE_MAX   (4 * 1024 * 1024)   /* one configuration file */
#define CONF_VALUE_MAX  (64 * 1024)         /* one expanded value */
#define CONF_DEPTH_MAX  100                 /* nested expansions */
#define CONF_ORPHAN_TEXT \
    "ignoring text that starts with white space (a continuation of nothing)"

#define CONF_INT_MAX    2147483647LL
#define CONF_TIME_MAX   2147483647LL
#define CONF_SIZE_MAX   9223372036854775807LL

/* One name = value definition (main.cf or a -o override). */
struct conf_entry {
    char *name;
    char *value;
    const char *file;           /* the conf's path string; not owned */
    int line;
    size_t seq;                 /* definition order, for "last wins" */
    bool ignored;               /* unknown name: warned and not used */
};

struct conf_table {
    struct conf_entry *v;
    size_t n, cap;
};

enum conf_slot_state { SLOT_NEW, SLOT_BUSY, SLOT_DONE, SLOT_ERROR };

/* One expansion result: the expanded value, or the error text. */
struct conf_slot {
    enum conf_slot_state state;
    char *text;
};

struct conf_diag {
    enum conf_diag_level level;
    int rank;                   /* 0 no file, 1 main.cf, 2 master.cf, 3 last */
    int line;
    size_t seq;
    char *text;
};

struct conf {
    char *dir;
    char *main_path;
    char *master_path;
    char *hostname;                 /* gethostname(), for myhostname */
    const struct conf *root;        /* self, or the conf a service came from */
    struct conf_table tab;          /* sorted by name, unique */
    char **pdef;                    /* per param: default as written */
    struct conf_slot *pslot;        /* per param */
    struct conf_slot *eslot;        /* per tab entry */
    long long *pnum;                /* per param: parsed number/bool */
    char ***plist;                  /* per param: LIST/TABLES items */
    size_t *setidx;                 /* tab indexes of entries not ignored */
    size_t nset;
    char **refs;                    /* names used as $name anywhere, sorted */
    size_t nrefs;
    struct conf_service *svc;       /* root only */
    size_t nsvc;
    struct conf **svc_conf;         /* root only: per service, lazily NULL */
    char *self_name;                /* root only: conf_with_overrides' service */
    struct conf_service cmd;        /* root only: its -o list (name, over) */
    char *cmd_label;                /* "-o of service NAME", the -o "file" */
    struct conf *cmd_conf;          /* root only: main.cf + those -o */
    struct conf_diag *diag;         /* root only */
    size_t ndiag, diag_cap, nerrors;
};

/* ---- conf.c ---- */
void conf_diag_at(struct conf *c, enum conf_diag_level level, const char *file,
                  int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void conf_table_add(struct conf_table *t, const char *name, const char *value,
                    const char *file, int line);
void conf_table_finish(struct conf_table *t);
struct conf_entry *conf_table_find(const struct conf_table *t, const char *name);
void conf_table_free(struct conf_table *t);
bool conf_name_is_ref(const struct conf *c, const char *name);

/* ---- conf_param.c ---- */
ptrdiff_t conf_param_index(const char *name);
/* conf_param_transport - registry index of the fallback of "<svc>_<suffix>". */
ptrdiff_t conf_param_transport(const struct conf *root, const char *name);
/* conf_value_parse - check value against p; *num gets the number/bool. */
int conf_value_parse(const struct conf_param *p, const char *value,
                     long long *num, strbuf *err);

/* ---- conf_expand.c ---- */
/* conf_slot_get - expand name once (memoized); -1 + err on error. */
int conf_slot_get(struct conf *c, const char *name, const char **value,
                  strbuf *err);
/* conf_scan_refs - call fn for every $name in text (also inside ${a?...}). */
void conf_scan_refs(const char *text,
                    void (*fn)(const char *name, size_t len, void *ctx),
                    void *ctx);
/* conf_raw_default - the raw text behind a slot lookup of name (or NULL). */
const char *conf_lookup_raw(const struct conf *c, const char *name);

/* ---- conf_text.c ---- */
struct conf_reader {
    const char *path;
    const char *buf;
    size_t len, pos;
    int lineno;                 /* physical lines consumed */
};

#define CONF_LINE_NUL     (1 << 0)  /* a NUL byte (at nul_line) */
#define CONF_LINE_LONG    (1 << 1)  /* longer than CONF_LINE_MAX */
#define CONF_LINE_ORPHAN  (1 << 2)  /* starts with white space */

struct conf_line {
    strbuf text;
    int line;                   /* first physical line */
    int nul_line;
    int flags;
};

/* conf_read_file - whole file into out (bounded); -1 + err. */
int conf_read_file(const char *path, strbuf *out, strbuf *err);
void conf_reader_init(struct conf_reader *r, const char *path,
                      const char *buf, size_t len);
/* conf_reader_next - next logical line; false at end of input. */
bool conf_reader_next(struct conf_reader *r, struct conf_line *l);
/* conf_split_nameval - "name = value" into trimmed parts; -1 + err. */
int conf_split_nameval(const char *text, strbuf *name, strbuf *value,
                       strbuf *err);
/* conf_next_token - master.cf token (white space, { } quoting); NULL at end. */
const char *conf_next_token(const char **cursor, strbuf *tok, strbuf *err,
                            int *status);

/* ---- conf_master.c ---- */
void conf_master_load(struct conf *c, const char *buf, size_t len);
void conf_master_resolve(struct conf *c);
void conf_service_free(struct conf_service *s);
/* conf_override_add - one -o argument "name=value" or "{ name = value }". */
int conf_override_add(struct conf_service *s, const char *arg, int line,
                      strbuf *err);

#endif
