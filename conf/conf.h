/*
 * conf - main.cf / master.cf, the parameter registry, `tern conf`.
 *
 * A loaded configuration is an immutable `conf` object: conf_load() reads
 * DIR/master.cf and DIR/main.cf, expands every `$name` once (with loop
 * detection), checks every value against the registry (conf_params.def) and
 * records every problem as a diagnostic naming file and line. It never fails
 * on bad input: callers decide (daemons refuse to start on any error, `tern
 * check` lists them all). Typed accessors return expanded values owned by the
 * conf; asking for a name that is not in the registry is a bug (msg_panic).
 * conf_for_service() gives the effective parameters of one master.cf service
 * (main.cf plus its -o overrides), owned by the conf it came from. Daemons
 * use conf_load_main() + conf_with_overrides() instead: main.cf plus the
 * -o list ternd gave them, never master.cf's current -o (see below).
 */
#ifndef TERN_CONF_H
#define TERN_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "common/strbuf.h"

/* Parameter value types of the registry. */
enum conf_type {
    CONF_STR,                   /* any text */
    CONF_LIST,                  /* comma/white-space list, { } groups kept */
    CONF_INT,                   /* decimal integer in [min, max] */
    CONF_BOOL,                  /* yes | no */
    CONF_TIME,                  /* N[s|m|h|d|w]; bare N = the default's unit */
    CONF_SIZE,                  /* bytes */
    CONF_TABLES,                /* list of type:name lookup tables */
};

/* One registry entry (conf_params.def). */
struct conf_param {
    const char *name;
    enum conf_type type;
    const char *def;            /* default as written; NULL = computed */
    long long min, max;         /* numeric types: allowed range */
    const char *doc;
};

typedef struct conf conf;

enum conf_diag_level { CONF_WARNING, CONF_ERROR };

/* master.cf service types; the last three are accepted but not run. */
enum conf_svc_type {
    CONF_SVC_INET, CONF_SVC_UNIX, CONF_SVC_UNIX_DGRAM, CONF_SVC_FIFO,
    CONF_SVC_PASS,
};

/* One -o override of a master.cf entry. */
struct conf_override {
    char *name;
    char *value;                /* as written (unexpanded) */
    int line;                   /* master.cf line of the entry */
};

/* One master.cf entry, as parsed. Fields hold the text as written. */
struct conf_service {
    char *name;                 /* service field ("smtp", "127.0.0.1:2525") */
    enum conf_svc_type type;
    const char *type_name;      /* "inet", "unix", ... */
    char *field[5];             /* private unpriv chroot wakeup maxproc */
    bool private_;              /* resolved ('-' = default) */
    bool unpriv;
    bool chroot;                /* accepted; tern never chroots */
    int wakeup;                 /* seconds, 0 = none */
    bool wakeup_if_used;        /* "N?" form */
    int maxproc;                /* '-' = default_process_limit; 0 = no limit */
    char **argv;                /* command and arguments without -o, NULL-ended */
    struct conf_override *over;
    size_t nover;
    char *host;                 /* inet: host part or NULL (inet_interfaces) */
    int port;                   /* inet: TCP port */
    int line;                   /* master.cf line */
};

/* ---- Loading ---- */

/* conf_dir - the config directory: opt (-c), else $MAIL_CONFIG, else default. */
const char *conf_dir(const char *opt);

/* conf_load - read DIR/master.cf and DIR/main.cf; never NULL, see diagnostics. */
conf *conf_load(const char *dir);

/*
 * conf_load_main - conf_load for a daemon: main.cf is checked as usual, but
 * master.cf is read leniently, only for what it names: the services on its
 * lines that parse (transport-prefixed parameter names such as
 * relaylim_destination_concurrency_limit, $names used in -o values,
 * conf_service_find), with no diagnostic for its problems and no
 * conf_for_service (NULL). A master.cf edited or broken after ternd read
 * it therefore neither stops nor changes a daemon started later.
 */
conf *conf_load_main(const char *dir);

/*
 * conf_with_overrides - main.cf of c (a conf_load_main or conf_load result)
 * plus n "name=value" (or "{ name = value }") overrides, as a daemon gets
 * them on its command line (-o). They are checked exactly as master.cf -o
 * are (value type and range, $name expansion, an unknown name is a warning
 * and ignored); problems become c's diagnostics named "-o of service
 * SERVICE: ..." (conf_error_count). service, the daemon's master.cf name,
 * is also accepted as a transport prefix. Never NULL; owned by c; call it
 * once per c (a bug otherwise: msg_panic).
 */
const conf *conf_with_overrides(conf *c, const char *service,
                                char *const *assign, size_t n);

/* conf_defaults - the registry defaults alone (no files read). */
conf *conf_defaults(void);

/* conf_open - conf_load, log every diagnostic, msg_fatal on any error. */
conf *conf_open(const char *dir);

void conf_free(conf *c);

/* ---- Diagnostics ("FILE, line N: text") ---- */
size_t conf_diag_count(const conf *c);
const char *conf_diag_text(const conf *c, size_t i, enum conf_diag_level *level);
size_t conf_error_count(const conf *c);
/* conf_log_diags - warnings via msg_warn, errors via msg_info("error: ..."). */
void conf_log_diags(const conf *c);

/* ---- Typed accessors: expanded values; unknown name = msg_panic ---- */
const char *conf_get_str(const conf *c, const char *name);
long conf_get_int(const conf *c, const char *name);
bool conf_get_bool(const conf *c, const char *name);
long conf_get_time(const conf *c, const char *name);        /* seconds */
long long conf_get_size(const conf *c, const char *name);   /* bytes */
/* conf_get_list - NULL-terminated items (LIST or TABLES), owned by c. */
const char *const *conf_get_list(const conf *c, const char *name);

/*
 * Per-transport parameters: conf_get_transport_int(c, "relaylim",
 * "destination_concurrency_limit") reads relaylim_destination_concurrency_limit
 * and falls back to default_destination_concurrency_limit, as Postfix does.
 * An unknown suffix is a bug (msg_panic).
 */
long conf_get_transport_int(const conf *c, const char *transport,
                            const char *suffix);
long conf_get_transport_time(const conf *c, const char *transport,
                             const char *suffix);

/* conf_raw - the value as written (file, -o, or default); NULL if unknown. */
const char *conf_raw(const conf *c, const char *name);
/* conf_is_set - whether main.cf (or a -o override) defines name. */
bool conf_is_set(const conf *c, const char *name);
/* conf_source - file and line defining name (main.cf or -o); false if none. */
bool conf_source(const conf *c, const char *name, const char **file,
                 int *line);
/* conf_set_count/conf_set_name - the names defined and used, sorted. */
size_t conf_set_count(const conf *c);
const char *conf_set_name(const conf *c, size_t i);
/* conf_expand - expand $name in text with c's values; -1 + err on bad syntax. */
int conf_expand(const conf *c, const char *text, strbuf *out, strbuf *err);
/*
 * conf_param_value - load the configuration of dir (NULL: conf_dir(NULL))
 * and return the expanded value of one registry parameter as a new string;
 * NULL after logging the configuration's errors.
 */
char *conf_param_value(const char *dir, const char *name);
/* conf_directory - the directory c was loaded from. */
const char *conf_directory(const conf *c);

/* ---- The registry ---- */
size_t conf_param_count(void);
const struct conf_param *conf_param_at(size_t i);          /* sorted by name */
const struct conf_param *conf_param_find(const char *name);
/* conf_transport_fallback - "default_..." parameter for a transport suffix. */
const char *conf_transport_fallback(const char *suffix);

/* ---- master.cf ---- */
size_t conf_service_count(const conf *c);
const struct conf_service *conf_service_at(const conf *c, size_t i);
/* conf_service_find - by name and type ("unix", "inet"...; NULL = any). */
const struct conf_service *conf_service_find(const conf *c, const char *name,
                                             const char *type);
/* conf_for_service - main.cf + the service's -o overrides; NULL if no such. */
const conf *conf_for_service(const conf *c, const char *name, const char *type);

/* ---- Lists ---- */
/* conf_split_list - split on commas/white space keeping { } groups; NULL + err. */
char **conf_split_list(const char *value, strbuf *err);
void conf_list_free(char **list);
/* conf_unbrace - "{ text }" to "text" (trimmed); other text copied as is. */
int conf_unbrace(const char *token, strbuf *out);

/* ---- Editing (atomic: temp file, fsync, rename, fsync dir) ---- */
/* conf_edit_main - set NAME=VALUE (or "NAME = VALUE") definitions in main.cf. */
int conf_edit_main(const char *dir, char *const *assign, size_t n, strbuf *err);
/* conf_remove_main - delete the definitions of names from main.cf. */
int conf_remove_main(const char *dir, char *const *names, size_t n, strbuf *err);
/* conf_edit_master - set "-o NAME=VALUE" of service/type in master.cf. */
int conf_edit_master(const char *dir, const char *service, const char *type,
                     const char *name, const char *value, strbuf *err);
/* conf_format_service - the one-line postconf -M form of an entry. */
void conf_format_service(const struct conf_service *s, strbuf *out);

/* ---- Commands ---- */
int conf_cmd_main(int argc, char **argv);       /* tern conf */

#endif
