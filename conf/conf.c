/*
 * conf - the configuration object: load, check, typed access.
 *
 * conf_load() reads master.cf (service names decide which per-transport
 * parameters exist) and main.cf into a table with one definition per name
 * (the last one wins), classifies every name (registry parameter, transport
 * parameter, user macro referenced as $name elsewhere, or unsupported: one
 * warning), expands every value once and checks it against the registry.
 * Each service's -o overrides are applied to a copy and checked the same
 * way. conf_load_main() is the daemons' loader: master.cf is read only for
 * what it names (services whose lines parse: transport prefixes, $names
 * used by -o values, conf_service_find), its problems are not reported, and
 * conf_with_overrides() applies the -o list a daemon got from ternd on its
 * command line, checked as master.cf -o are (so a child started after an
 * edit runs with what ternd runs, and a broken master.cf does not stop it).
 * Every problem becomes a diagnostic "FILE, line N: ..." (capped at
 * CONF_DIAG_MAX); nothing here exits except conf_open() and the accessors'
 * panics on a name outside the registry (a programming error).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "conf/conf_private.h"

#ifndef TERN_CONFIG_DIRECTORY
#define TERN_CONFIG_DIRECTORY "/etc/tern"
#endif

#define CONF_DIAG_MAX 1000

/* ---- diagnostics ---- */

/* conf_diag_at - record one problem "FILE, line N: text" (root conf only). */
void conf_diag_at(struct conf *c, enum conf_diag_level level, const char *file,
                  int line, const char *fmt, ...)
{
    va_list ap;
    strbuf sb;
    struct conf_diag *d;

    if (level == CONF_ERROR)
        c->nerrors++;
    if (c->ndiag > CONF_DIAG_MAX)
        return;
    sb_init(&sb, 4096);
    if (c->ndiag == CONF_DIAG_MAX) {
        (void)sb_puts(&sb, "too many problems; the rest are not listed");
        file = NULL;
        line = INT_MAX;
    } else {
        if (file && line > 0)
            (void)sb_printf(&sb, "%s, line %d: ", file, line);
        else if (file)
            (void)sb_printf(&sb, "%s: ", file);
        va_start(ap, fmt);
        (void)sb_vprintf(&sb, fmt, ap);
        va_end(ap);
    }
    if (c->ndiag == c->diag_cap) {
        c->diag_cap = c->diag_cap ? c->diag_cap * 2 : 16;
        c->diag = xreallocarray(c->diag, c->diag_cap, sizeof(*c->diag));
    }
    d = &c->diag[c->ndiag];
    d->level = level;
    d->rank = file == NULL ? (line == INT_MAX ? 3 : 0)
        : file == c->main_path ? 1 : 2;
    d->line = line;
    d->seq = c->ndiag++;
    d->text = sb_detach(&sb);
    sb_release(&sb);
}

/* conf_diag_cmp - order: no file, main.cf, master.cf, then line. */
static int conf_diag_cmp(const void *a, const void *b)
{
    const struct conf_diag *x = a, *y = b;

    if (x->rank != y->rank)
        return x->rank - y->rank;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

size_t conf_diag_count(const conf *c)
{
    return c->ndiag;
}

const char *conf_diag_text(const conf *c, size_t i, enum conf_diag_level *level)
{
    if (i >= c->ndiag)
        return NULL;
    if (level)
        *level = c->diag[i].level;
    return c->diag[i].text;
}

size_t conf_error_count(const conf *c)
{
    return c->nerrors;
}

void conf_log_diags(const conf *c)
{
    for (size_t i = 0; i < c->ndiag; i++) {
        if (c->diag[i].level == CONF_WARNING)
            msg_warn("%s", c->diag[i].text);
        else
            msg_info("error: %s", c->diag[i].text);
    }
}

/* ---- the entry table ---- */

void conf_table_add(struct conf_table *t, const char *name, const char *value,
                    const char *file, int line)
{
    struct conf_entry *e;

    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 32;
        t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
    }
    e = &t->v[t->n];
    e->name = xstrdup(name);
    e->value = xstrdup(value);
    e->file = file;
    e->line = line;
    e->seq = t->n++;
    e->ignored = false;
}

/* conf_entry_cmp - order by name, then definition order. */
static int conf_entry_cmp(const void *a, const void *b)
{
    const struct conf_entry *x = a, *y = b;
    int r = strcmp(x->name, y->name);

    return r ? r : (x->seq > y->seq) - (x->seq < y->seq);
}

/* conf_table_finish - sort and keep only the last definition of each name. */
void conf_table_finish(struct conf_table *t)
{
    size_t out = 0;

    if (t->n > 1)
        qsort(t->v, t->n, sizeof(*t->v), conf_entry_cmp);
    for (size_t i = 0; i < t->n; i++) {
        if (i + 1 < t->n && strcmp(t->v[i].name, t->v[i + 1].name) == 0) {
            free(t->v[i].name);
            free(t->v[i].value);
            continue;
        }
        t->v[out++] = t->v[i];
    }
    t->n = out;
}

/* conf_entry_key - bsearch comparator: name against an entry. */
static int conf_entry_key(const void *key, const void *elem)
{
    return strcmp(key, ((const struct conf_entry *)elem)->name);
}

struct conf_entry *conf_table_find(const struct conf_table *t, const char *name)
{
    if (t->n == 0)
        return NULL;
    return bsearch(name, t->v, t->n, sizeof(*t->v), conf_entry_key);
}

void conf_table_free(struct conf_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].name);
        free(t->v[i].value);
    }
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}

/* ---- user macros: names referenced as $name ---- */

struct ref_ctx {
    char **v;
    size_t n, cap;
};

/* conf_ref_add - remember one referenced name. */
static void conf_ref_add(const char *name, size_t len, void *ctx)
{
    struct ref_ctx *r = ctx;

    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 32;
        r->v = xreallocarray(r->v, r->cap, sizeof(*r->v));
    }
    r->v[r->n++] = xstrndup(name, len);
}

/* conf_str_cmp - qsort comparator for an array of strings. */
static int conf_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* conf_collect_refs - every $name in main.cf values and -o values. */
static void conf_collect_refs(struct conf *c)
{
    struct ref_ctx r = {0};
    size_t out = 0;

    for (size_t i = 0; i < c->tab.n; i++)
        conf_scan_refs(c->tab.v[i].value, conf_ref_add, &r);
    for (size_t s = 0; s < c->nsvc; s++)
        for (size_t o = 0; o < c->svc[s].nover; o++)
            conf_scan_refs(c->svc[s].over[o].value, conf_ref_add, &r);
    for (size_t o = 0; o < c->cmd.nover; o++)
        conf_scan_refs(c->cmd.over[o].value, conf_ref_add, &r);
    for (size_t i = 0; i < c->nrefs; i++)
        free(c->refs[i]);
    free(c->refs);
    if (r.n > 1)
        qsort(r.v, r.n, sizeof(*r.v), conf_str_cmp);
    for (size_t i = 0; i < r.n; i++) {
        if (out > 0 && strcmp(r.v[out - 1], r.v[i]) == 0)
            free(r.v[i]);
        else
            r.v[out++] = r.v[i];
    }
    c->refs = r.v;
    c->nrefs = out;
}

bool conf_name_is_ref(const struct conf *c, const char *name)
{
    return c->nrefs > 0 && bsearch(&name, c->refs, c->nrefs, sizeof(char *),
                                   conf_str_cmp) != NULL;
}

/* conf_classify - mark unknown names ignored; warn for those in file. */
static void conf_classify(struct conf *c, struct conf *root, const char *file)
{
    for (size_t i = 0; i < c->tab.n; i++) {
        struct conf_entry *e = &c->tab.v[i];

        if (conf_param_index(e->name) >= 0
            || conf_param_transport(root, e->name) >= 0
            || conf_name_is_ref(root, e->name))
            continue;
        e->ignored = true;
        if (e->file == file)
            conf_diag_at(root, CONF_WARNING, e->file, e->line,
                         "ignoring unsupported parameter '%s'", e->name);
    }
}

/* ---- defaults that are computed ---- */

/* conf_default_hostname - gethostname(), made fully qualified as Postfix. */
static char *conf_default_hostname(const struct conf *c)
{
    struct conf_entry *dom = conf_table_find(&c->tab, "mydomain");
    const char *domain = "localdomain";
    strbuf sb;

    if (dom && !dom->ignored && dom->value[0] && !strchr(dom->value, '$'))
        domain = dom->value;
    sb_init(&sb, 1024);
    (void)sb_puts(&sb, c->hostname);
    if (strchr(c->hostname, '.') == NULL)
        (void)sb_printf(&sb, ".%s", domain);
    {
        char *s = sb_detach(&sb);

        sb_release(&sb);
        return s;
    }
}

/* conf_reset_slots - forget every expansion (defaults changed). */
static void conf_reset_slots(struct conf *c)
{
    for (size_t i = 0; i < conf_param_count(); i++) {
        free(c->pslot[i].text);
        c->pslot[i].text = NULL;
        c->pslot[i].state = SLOT_NEW;
    }
    for (size_t i = 0; i < c->tab.n; i++) {
        free(c->eslot[i].text);
        c->eslot[i].text = NULL;
        c->eslot[i].state = SLOT_NEW;
    }
}

/* conf_set_pdef - replace the default of one parameter. */
static void conf_set_pdef(struct conf *c, const char *name, const char *value)
{
    ptrdiff_t i = conf_param_index(name);

    if (i < 0)
        msg_panic("conf_set_pdef: %s is not in conf_params.def", name);
    free(c->pdef[i]);
    c->pdef[i] = xstrdup(value);
}

/* conf_init_defaults - static defaults, then the computed ones. */
static void conf_init_defaults(struct conf *c)
{
    size_t n = conf_param_count();
    const char *host, *dot;
    char *name;
    strbuf err;

    c->pdef = xcalloc(n, sizeof(*c->pdef));
    c->pslot = xcalloc(n, sizeof(*c->pslot));
    c->pnum = xcalloc(n, sizeof(*c->pnum));
    c->plist = xcalloc(n, sizeof(*c->plist));
    c->eslot = xcalloc(c->tab.n + 1, sizeof(*c->eslot));
    for (size_t i = 0; i < n; i++)
        c->pdef[i] = conf_param_at(i)->def ? xstrdup(conf_param_at(i)->def)
            : xstrdup("");
    conf_set_pdef(c, "config_directory", c->dir);
    name = conf_default_hostname(c);
    conf_set_pdef(c, "myhostname", name);
    free(name);
    conf_set_pdef(c, "mydomain", "localdomain");
    sb_init(&err, 1024);
    if (conf_slot_get(c, "myhostname", &host, &err) == 0
        && (dot = strchr(host, '.')) != NULL && dot[1] != '\0')
        conf_set_pdef(c, "mydomain", dot + 1);
    sb_release(&err);
    conf_reset_slots(c);
}

/* ---- checking and typing values ---- */

/* conf_entry_param - the registry entry that types name (NULL: macro). */
static const struct conf_param *conf_entry_param(const struct conf *c,
                                                 const char *name)
{
    ptrdiff_t i = conf_param_index(name);

    if (i < 0)
        i = conf_param_transport(c->root, name);
    return i < 0 ? NULL : conf_param_at((size_t)i);
}

/* conf_check_entry - expand and type-check one definition from file. */
static void conf_check_entry(struct conf *c, struct conf *root,
                             const struct conf_entry *e)
{
    const struct conf_param *p = conf_entry_param(c, e->name);
    const char *value;
    long long num;
    strbuf err;

    sb_init(&err, 2048);
    if (conf_slot_get(c, e->name, &value, &err) < 0) {
        conf_diag_at(root, CONF_ERROR, e->file, e->line, "parameter '%s': %s",
                     e->name, sb_str(&err));
    } else if (p && conf_value_parse(p, value, &num, &err) < 0) {
        bool expanded = strcmp(value, e->value) != 0;

        conf_diag_at(root, CONF_ERROR, e->file, e->line,
                     "parameter '%s': invalid value '%.200s'%s%.200s%s: %s",
                     e->name, e->value, expanded ? " (expands to '" : "",
                     expanded ? value : "", expanded ? "')" : "",
                     sb_str(&err));
    }
    sb_release(&err);
}

/*
 * conf_expand_quietly - expand the definitions not from file (a service's
 * main.cf part, already reported for the root) without new diagnostics,
 * so per-transport values such as relaylim_destination_concurrency_limit
 * read through a service's conf see main.cf.
 */
static void conf_expand_quietly(struct conf *c, const char *file)
{
    const char *value;
    strbuf err;

    sb_init(&err, 2048);
    for (size_t i = 0; i < c->tab.n; i++) {
        if (c->tab.v[i].ignored || c->tab.v[i].file == file)
            continue;
        sb_reset(&err);
        if (conf_slot_get(c, c->tab.v[i].name, &value, &err) < 0)
            continue;                   /* the root reported it */
    }
    sb_release(&err);
}

/* conf_type_params - expand every parameter and keep its typed form. */
static void conf_type_params(struct conf *c)
{
    strbuf err;

    sb_init(&err, 2048);
    for (size_t i = 0; i < conf_param_count(); i++) {
        const struct conf_param *p = conf_param_at(i);
        const char *value = "";

        sb_reset(&err);
        if (conf_slot_get(c, p->name, &value, &err) < 0)
            value = "";
        sb_reset(&err);
        if (conf_value_parse(p, value, &c->pnum[i], &err) < 0) {
            value = p->def ? p->def : "";
            if (conf_value_parse(p, value, &c->pnum[i], &err) < 0)
                c->pnum[i] = p->min;
        }
        if (p->type == CONF_LIST || p->type == CONF_TABLES) {
            c->plist[i] = conf_split_list(value, &err);
            if (c->plist[i] == NULL)
                c->plist[i] = xcalloc(1, sizeof(char *));
        }
    }
    sb_release(&err);
}

/* conf_build - defaults, expansion, checks of the definitions in file. */
static void conf_build(struct conf *c, struct conf *root, const char *file)
{
    conf_classify(c, root, file);
    c->setidx = xcalloc(c->tab.n + 1, sizeof(*c->setidx));
    for (size_t i = 0; i < c->tab.n; i++)
        if (!c->tab.v[i].ignored)
            c->setidx[c->nset++] = i;
    conf_init_defaults(c);
    for (size_t i = 0; i < c->tab.n; i++)
        if (!c->tab.v[i].ignored && c->tab.v[i].file == file)
            conf_check_entry(c, root, &c->tab.v[i]);
    conf_expand_quietly(c, file);
    conf_type_params(c);
}

/* ---- loading ---- */

/* conf_new - an empty conf for dir. */
static struct conf *conf_new(const char *dir)
{
    struct conf *c = xcalloc(1, sizeof(*c));
    strbuf sb;
    char *host = xcalloc(1, 256);

    c->dir = xstrdup(dir);
    sb_init(&sb, 8192);
    (void)sb_printf(&sb, "%s/main.cf", dir);
    c->main_path = xstrdup(sb_str(&sb));
    sb_reset(&sb);
    (void)sb_printf(&sb, "%s/master.cf", dir);
    c->master_path = xstrdup(sb_str(&sb));
    sb_release(&sb);
    if (gethostname(host, 255) < 0 || host[0] == '\0')
        (void)fmt_fixed(host, 256, "%s", "localhost");
    host[255] = '\0';
    c->hostname = host;
    c->root = c;
    return c;
}

/* conf_report_nuls - one error per physical line holding a NUL byte. */
static void conf_report_nuls(struct conf *c, const char *path, const char *buf,
                             size_t len)
{
    int line = 1;

    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\0') {
            conf_diag_at(c, CONF_ERROR, path, line, "NUL byte in file");
            while (i < len && buf[i] != '\n')
                i++;
        }
        if (i < len && buf[i] == '\n')
            line++;
    }
}

/* conf_main_parse - main.cf text into the entry table. */
static void conf_main_parse(struct conf *c, const char *buf, size_t len)
{
    struct conf_reader r;
    struct conf_line l;
    strbuf name, value, err;

    conf_report_nuls(c, c->main_path, buf, len);
    conf_reader_init(&r, c->main_path, buf, len);
    sb_init(&l.text, CONF_LINE_MAX);
    sb_init(&name, CONF_LINE_MAX);
    sb_init(&value, CONF_LINE_MAX);
    sb_init(&err, 1024);
    while (conf_reader_next(&r, &l)) {
        sb_reset(&err);
        if (l.flags & CONF_LINE_NUL)
            continue;                   /* reported above */
        if (l.flags & CONF_LINE_LONG)
            conf_diag_at(c, CONF_ERROR, c->main_path, l.line,
                         "line too long (more than %d bytes)", CONF_LINE_MAX);
        else if (l.flags & CONF_LINE_ORPHAN)
            conf_diag_at(c, CONF_WARNING, c->main_path, l.line, "%s",
                         CONF_ORPHAN_TEXT);
        else if (conf_split_nameval(sb_str(&l.text), &name, &value, &err) < 0)
            conf_diag_at(c, CONF_ERROR, c->main_path, l.line, "%s",
                         sb_str(&err));
        else
            conf_table_add(&c->tab, sb_str(&name), sb_str(&value),
                           c->main_path, l.line);
    }
    sb_release(&l.text);
    sb_release(&name);
    sb_release(&value);
    sb_release(&err);
    conf_table_finish(&c->tab);
}

/* conf_load_file - read one file; a missing file is an error. */
static bool conf_load_file(struct conf *c, const char *path, strbuf *buf)
{
    strbuf err;
    bool ok;

    sb_init(&err, 1024);
    ok = conf_read_file(path, buf, &err) == 0;
    if (!ok)
        conf_diag_at(c, CONF_ERROR, NULL, 0, "%s", sb_str(&err));
    sb_release(&err);
    return ok;
}

/*
 * conf_service_build - main.cf plus the -o overrides of s, which come from
 * file (master.cf, or the label of a command line's -o list).
 */
static struct conf *conf_service_build(struct conf *root,
                                       const struct conf_service *s,
                                       const char *file)
{
    struct conf *c = conf_new(root->dir);

    c->root = root;
    for (size_t i = 0; i < root->tab.n; i++)
        conf_table_add(&c->tab, root->tab.v[i].name, root->tab.v[i].value,
                       root->main_path, root->tab.v[i].line);
    for (size_t o = 0; o < s->nover; o++)
        conf_table_add(&c->tab, s->over[o].name, s->over[o].value,
                       file, s->over[o].line);
    conf_table_finish(&c->tab);
    conf_build(c, root, file);
    return c;
}

/* conf_diag_drop - forget every diagnostic so far (master.cf's, lenient). */
static void conf_diag_drop(struct conf *c)
{
    for (size_t i = 0; i < c->ndiag; i++)
        free(c->diag[i].text);
    c->ndiag = 0;
    c->nerrors = 0;
}

/* conf_load_as - read both files; lenient: master.cf only for its names. */
static conf *conf_load_as(const char *dir, bool lenient)
{
    struct conf *c = conf_new(dir);
    strbuf buf;

    sb_init(&buf, CONF_FILE_MAX);
    if (conf_load_file(c, c->master_path, &buf))
        conf_master_load(c, sb_str(&buf), sb_len(&buf));
    if (lenient)
        conf_diag_drop(c);
    if (conf_load_file(c, c->main_path, &buf))
        conf_main_parse(c, sb_str(&buf), sb_len(&buf));
    sb_release(&buf);
    conf_collect_refs(c);
    conf_build(c, c, c->main_path);
    conf_master_resolve(c);
    c->svc_conf = xcalloc(c->nsvc + 1, sizeof(*c->svc_conf));
    for (size_t i = 0; i < c->nsvc && !lenient; i++)
        c->svc_conf[i] = conf_service_build(c, &c->svc[i], c->master_path);
    if (c->ndiag > 1)
        qsort(c->diag, c->ndiag, sizeof(*c->diag), conf_diag_cmp);
    return c;
}

conf *conf_load(const char *dir)
{
    return conf_load_as(dir, false);
}

conf *conf_load_main(const char *dir)
{
    return conf_load_as(dir, true);
}

/*
 * conf_unwarn_refs - main.cf names that only the -o list uses as $name were
 * warned about as unsupported at load time: take those warnings back.
 */
static void conf_unwarn_refs(struct conf *c)
{
    size_t out = 0;

    for (size_t i = 0; i < c->ndiag; i++) {
        const struct conf_diag *d = &c->diag[i];
        bool drop = false;

        for (size_t k = 0; k < c->tab.n && !drop && d->rank == 1
             && d->level == CONF_WARNING; k++)
            drop = c->tab.v[k].ignored && c->tab.v[k].line == d->line
                && conf_name_is_ref(c, c->tab.v[k].name);
        if (drop)
            free(d->text);
        else
            c->diag[out++] = *d;
    }
    c->ndiag = out;
}

const conf *conf_with_overrides(conf *c, const char *service,
                                char *const *assign, size_t n)
{
    strbuf label, err;

    if (c->root != c || c->cmd_conf != NULL)
        msg_panic("conf_with_overrides: not a loaded conf, or called twice");
    sb_init(&label, 4096);
    if (sb_printf(&label, "-o of service %s", service) < 0)
        (void)sb_set(&label, "-o of this service");
    c->cmd_label = sb_detach(&label);
    sb_release(&label);
    c->self_name = xstrdup(service);
    sb_init(&err, 1024);
    for (size_t i = 0; i < n; i++) {
        sb_reset(&err);
        if (conf_override_add(&c->cmd, assign[i], 0, &err) < 0)
            conf_diag_at(c, CONF_ERROR, c->cmd_label, 0, "%s", sb_str(&err));
    }
    sb_release(&err);
    conf_collect_refs(c);               /* $names the -o values use */
    conf_unwarn_refs(c);
    c->cmd_conf = conf_service_build(c, &c->cmd, c->cmd_label);
    if (c->ndiag > 1)
        qsort(c->diag, c->ndiag, sizeof(*c->diag), conf_diag_cmp);
    return c->cmd_conf;
}

conf *conf_defaults(void)
{
    struct conf *c = conf_new(TERN_CONFIG_DIRECTORY);

    conf_build(c, c, c->main_path);
    return c;
}

conf *conf_open(const char *dir)
{
    conf *c = conf_load(dir);

    size_t n = c->nerrors;

    conf_log_diags(c);
    if (n > 0) {
        conf_free(c);
        msg_fatal("%s: %zu configuration error%s; run 'tern check'", dir, n,
                  n == 1 ? "" : "s");
    }
    return c;
}

const char *conf_dir(const char *opt)
{
    const char *env = getenv("MAIL_CONFIG");

    if (opt && *opt)
        return opt;
    if (env && *env)
        return env;
    return TERN_CONFIG_DIRECTORY;
}

void conf_free(conf *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < conf_param_count() && c->pdef; i++) {
        free(c->pdef[i]);
        free(c->pslot[i].text);
        conf_list_free(c->plist[i]);
    }
    for (size_t i = 0; c->eslot && i < c->tab.n; i++)
        free(c->eslot[i].text);
    for (size_t i = 0; i < c->nsvc; i++) {
        if (c->svc_conf)
            conf_free(c->svc_conf[i]);
        conf_service_free(&c->svc[i]);
    }
    conf_free(c->cmd_conf);
    conf_service_free(&c->cmd);
    free(c->self_name);
    free(c->cmd_label);
    for (size_t i = 0; i < c->nrefs; i++)
        free(c->refs[i]);
    for (size_t i = 0; i < c->ndiag; i++)
        free(c->diag[i].text);
    conf_table_free(&c->tab);
    free(c->pdef);
    free(c->pslot);
    free(c->pnum);
    free(c->plist);
    free(c->eslot);
    free(c->svc);
    free(c->svc_conf);
    free(c->refs);
    free(c->setidx);
    free(c->diag);
    free(c->dir);
    free(c->main_path);
    free(c->master_path);
    free(c->hostname);
    free(c);
}
