/*
 * conf_master - master.cf: one service per logical line.
 *
 * Fields: service type private unpriv chroot wakeup maxproc command [args],
 * '-' meaning the default, "{ ... }" quoting a field with white space, and
 * "-o name=value" / "-o { name = value }" overrides among the arguments.
 * Every bad line is an error naming master.cf and the line, and is skipped;
 * a duplicate service/type is an error. unix-dgram, fifo and pass entries
 * are kept with a warning (tern does not run them); chroot is accepted and
 * ignored (tern never chroots). The -o values are checked later, like
 * main.cf values, by conf_load().
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "conf/conf_private.h"

#define MASTER_FIELDS 8         /* up to and including the command */

static const struct master_type {
    const char *name;
    enum conf_svc_type type;
    bool supported;
} master_types[] = {
    {"inet", CONF_SVC_INET, true},
    {"unix", CONF_SVC_UNIX, true},
    {"unix-dgram", CONF_SVC_UNIX_DGRAM, false},
    {"fifo", CONF_SVC_FIFO, false},
    {"pass", CONF_SVC_PASS, false},
};

static const char *const master_field_names[] = {
    "private", "unpriv", "chroot", "wakeup", "maxproc",
};

/* Tokens of one line. */
struct master_toks {
    char **v;
    size_t n, cap;
};

/* master_tokens - split a logical line; -1 + err on unbalanced braces. */
static int master_tokens(const char *text, struct master_toks *t, strbuf *err)
{
    const char *cursor = text, *tok;
    strbuf sb;
    int status = 0;

    sb_init(&sb, CONF_LINE_MAX);
    while ((tok = conf_next_token(&cursor, &sb, err, &status)) != NULL) {
        if (t->n == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 16;
            t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
        }
        t->v[t->n++] = xstrdup(tok);
    }
    sb_release(&sb);
    return status;
}

/* master_yn - a y/n/- field; -1 if it is something else. */
static int master_yn(const char *field, bool dflt, bool *out)
{
    if (strcmp(field, "-") == 0)
        *out = dflt;
    else if (strcmp(field, "y") == 0 || strcmp(field, "n") == 0)
        *out = field[0] == 'y';
    else
        return -1;
    return 0;
}

/* master_number - '-' (-1), or digits with an optional '?' when allowed. */
static int master_number(const char *field, bool question, int *out,
                         bool *qmark)
{
    long n = 0;
    const char *p = field;

    if (strcmp(field, "-") == 0) {
        *out = -1;
        return 0;
    }
    if (!isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++)
        if ((n = n * 10 + (*p - '0')) > 1000000)
            return -1;
    if (question && *p == '?') {
        *qmark = true;
        p++;
    }
    if (*p != '\0')
        return -1;
    *out = (int)n;
    return 0;
}

/* master_port - decimal port or a TCP service name from /etc/services. */
static int master_port(const char *port, strbuf *err)
{
    const struct servent *se;
    long n = 0;

    if (*port == '\0') {
        (void)sb_puts(err, "missing port");
        return -1;
    }
    if (isdigit((unsigned char)*port)) {
        for (const char *p = port; *p; p++) {
            if (!isdigit((unsigned char)*p) || (n = n * 10 + (*p - '0')) > 65535) {
                (void)sb_printf(err, "bad port '%.50s'", port);
                return -1;
            }
        }
        if (n == 0) {
            (void)sb_printf(err, "bad port '%.50s'", port);
            return -1;
        }
        return (int)n;
    }
    if ((se = getservbyname(port, "tcp")) == NULL) {
        (void)sb_printf(err, "unknown service name '%.50s'", port);
        return -1;
    }
    return ntohs((unsigned short)se->s_port);
}

/* master_inet_addr - host:port, port, [addr]:port or a service name. */
static int master_inet_addr(struct conf_service *s, strbuf *err)
{
    const char *name = s->name, *port = name, *colon;

    if (name[0] == '[') {
        const char *close = strchr(name, ']');

        if (close == NULL || close[1] != ':') {
            (void)sb_printf(err, "bad address '%.100s' (use [address]:port)",
                            name);
            return -1;
        }
        s->host = xstrndup(name + 1, (size_t)(close - name - 1));
        port = close + 2;
    } else if ((colon = strrchr(name, ':')) != NULL) {
        if (memchr(name, ':', (size_t)(colon - name)) != NULL) {
            (void)sb_printf(err, "bad address '%.100s' (an IPv6 address needs [brackets])",
                            name);
            return -1;
        }
        s->host = xstrndup(name, (size_t)(colon - name));
        port = colon + 1;
    }
    if ((s->port = master_port(port, err)) < 0)
        return -1;
    return 0;
}

/* master_override - one -o argument, "name=value" or "{ name = value }". */
static int master_override(struct conf_service *s, const char *arg, int line,
                           strbuf *err)
{
    strbuf text, name;
    const char *eq;
    int ret = -1;

    sb_init(&text, CONF_LINE_MAX);
    sb_init(&name, CONF_LINE_MAX);
    if (conf_unbrace(arg, &text) == 0
        && (eq = strchr(sb_str(&text), '=')) != NULL) {
        (void)sb_append(&name, sb_str(&text), (size_t)(eq - sb_str(&text)));
        sb_trim(&name);
        if (sb_len(&name) > 0 && strpbrk(sb_str(&name), " \t") == NULL) {
            struct conf_override *o;

            s->over = xreallocarray(s->over, s->nover + 1, sizeof(*s->over));
            o = &s->over[s->nover++];
            o->name = xstrdup(sb_str(&name));
            (void)sb_set(&name, eq + 1);
            sb_trim(&name);
            o->value = xstrdup(sb_str(&name));
            o->line = line;
            ret = 0;
        }
    }
    if (ret < 0)
        (void)sb_printf(err, "bad -o argument '%.100s' (use -o name=value or -o { name = value })",
                        arg);
    sb_release(&text);
    sb_release(&name);
    return ret;
}

int conf_override_add(struct conf_service *s, const char *arg, int line,
                      strbuf *err)
{
    return master_override(s, arg, line, err);
}

/* master_args - command, its arguments, and the -o overrides. */
static int master_args(struct conf_service *s, char **tok, size_t n, int line,
                       strbuf *err)
{
    size_t argc = 0;
    strbuf arg;

    sb_init(&arg, CONF_LINE_MAX);
    s->argv = xcalloc(n + 1, sizeof(*s->argv));
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(tok[i], "-o") == 0) {
            if (i + 1 == n) {
                (void)sb_puts(err, "-o without name=value");
                sb_release(&arg);
                return -1;
            }
            if (master_override(s, tok[++i], line, err) < 0) {
                sb_release(&arg);
                return -1;
            }
        } else if (i > 0 && strncmp(tok[i], "-o", 2) == 0) {
            if (master_override(s, tok[i] + 2, line, err) < 0) {
                sb_release(&arg);
                return -1;
            }
        } else {
            (void)conf_unbrace(tok[i], &arg);
            s->argv[argc++] = xstrdup(sb_str(&arg));
        }
    }
    sb_release(&arg);
    return 0;
}

/* master_fields - type and the five '-'-defaulted fields. */
static int master_fields(struct conf_service *s, char **tok, strbuf *err,
                         bool *supported)
{
    size_t t;
    bool priv_default;

    for (t = 0; t < sizeof(master_types) / sizeof(master_types[0]); t++)
        if (strcmp(tok[1], master_types[t].name) == 0)
            break;
    if (t == sizeof(master_types) / sizeof(master_types[0])) {
        (void)sb_printf(err, "unknown service type '%.50s' (use inet or unix)",
                        tok[1]);
        return -1;
    }
    s->type = master_types[t].type;
    s->type_name = master_types[t].name;
    *supported = master_types[t].supported;
    for (int f = 0; f < 5; f++)
        s->field[f] = xstrdup(tok[2 + f]);
    priv_default = s->type != CONF_SVC_INET;
    for (int f = 0; f < 3; f++) {
        bool *out[] = {&s->private_, &s->unpriv, &s->chroot};
        bool dflt[] = {priv_default, true, false};

        if (master_yn(tok[2 + f], dflt[f], out[f]) < 0) {
            (void)sb_printf(err, "bad %s field '%.50s' (use y, n or -)",
                            master_field_names[f], tok[2 + f]);
            return -1;
        }
    }
    if (master_number(tok[5], true, &s->wakeup, &s->wakeup_if_used) < 0
        || master_number(tok[6], false, &s->maxproc, NULL) < 0) {
        bool wake = master_number(tok[5], true, &s->wakeup,
                                  &s->wakeup_if_used) < 0;

        (void)sb_printf(err, "bad %s field '%.50s' (use a number or -)",
                        wake ? "wakeup" : "maxproc", wake ? tok[5] : tok[6]);
        return -1;
    }
    if (s->wakeup < 0)
        s->wakeup = 0;
    return 0;
}

/* master_name_check - inet address, or a unix name safe under private/. */
static int master_name_check(struct conf_service *s, strbuf *err)
{
    if (s->type == CONF_SVC_INET) {
        if (s->private_) {
            (void)sb_puts(err, "an inet service cannot be private (use n or -)");
            return -1;
        }
        return master_inet_addr(s, err);
    }
    if (strchr(s->name, '/') != NULL || strcmp(s->name, ".") == 0
        || strcmp(s->name, "..") == 0) {
        (void)sb_printf(err, "bad service name '%.100s'", s->name);
        return -1;
    }
    return 0;
}

/* master_entry - parse one entry's tokens into s; -1 + err. */
static int master_entry(struct conf *c, struct conf_service *s,
                        struct master_toks *t, int line, strbuf *err)
{
    bool supported = true;

    if (t->n < MASTER_FIELDS) {
        (void)sb_printf(err, "too few fields (%zu; need service type private unpriv chroot wakeup maxproc command)",
                        t->n);
        return -1;
    }
    s->name = xstrdup(t->v[0]);
    s->line = line;
    if (master_fields(s, t->v, err, &supported) < 0
        || master_name_check(s, err) < 0
        || master_args(s, t->v + 7, t->n - 7, line, err) < 0)
        return -1;
    for (size_t i = 0; i < c->nsvc; i++) {
        if (strcmp(c->svc[i].name, s->name) == 0
            && c->svc[i].type == s->type) {
            (void)sb_printf(err, "duplicate service '%.100s/%s' (first defined at line %d)",
                            s->name, s->type_name, c->svc[i].line);
            return -1;
        }
    }
    if (!supported)
        conf_diag_at(c, CONF_WARNING, c->master_path, line,
                     "service type '%s' is not supported by tern; '%s' will not run",
                     s->type_name, s->name);
    return 0;
}

/* master_line - one logical line: an entry or an error. */
static void master_line(struct conf *c, const struct conf_line *l)
{
    struct master_toks t = {0};
    struct conf_service s = {0};
    strbuf err;

    sb_init(&err, 1024);
    if (master_tokens(sb_str(&l->text), &t, &err) == 0
        && master_entry(c, &s, &t, l->line, &err) == 0) {
        c->svc = xreallocarray(c->svc, c->nsvc + 1, sizeof(*c->svc));
        c->svc[c->nsvc++] = s;
    } else {
        conf_diag_at(c, CONF_ERROR, c->master_path, l->line, "%s",
                     sb_str(&err));
        conf_service_free(&s);
    }
    for (size_t i = 0; i < t.n; i++)
        free(t.v[i]);
    free(t.v);
    sb_release(&err);
}

void conf_master_load(struct conf *c, const char *buf, size_t len)
{
    struct conf_reader r;
    struct conf_line l;
    int line = 1;

    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\0') {
            conf_diag_at(c, CONF_ERROR, c->master_path, line, "NUL byte in file");
            while (i < len && buf[i] != '\n')
                i++;
        }
        line += i < len && buf[i] == '\n';
    }
    conf_reader_init(&r, c->master_path, buf, len);
    sb_init(&l.text, CONF_LINE_MAX);
    while (conf_reader_next(&r, &l)) {
        if (l.flags & CONF_LINE_NUL)
            continue;
        if (l.flags & CONF_LINE_LONG)
            conf_diag_at(c, CONF_ERROR, c->master_path, l.line,
                         "line too long (more than %d bytes)", CONF_LINE_MAX);
        else if (l.flags & CONF_LINE_ORPHAN)
            conf_diag_at(c, CONF_WARNING, c->master_path, l.line, "%s",
                         CONF_ORPHAN_TEXT);
        else
            master_line(c, &l);
    }
    sb_release(&l.text);
}

/* conf_master_resolve - maxproc '-' becomes default_process_limit. */
void conf_master_resolve(struct conf *c)
{
    for (size_t i = 0; i < c->nsvc; i++)
        if (c->svc[i].maxproc < 0)
            c->svc[i].maxproc = (int)conf_get_int(c, "default_process_limit");
}

void conf_service_free(struct conf_service *s)
{
    free(s->name);
    for (int f = 0; f < 5; f++)
        free(s->field[f]);
    for (char **a = s->argv; a && *a; a++)
        free(*a);
    free(s->argv);
    for (size_t o = 0; o < s->nover; o++) {
        free(s->over[o].name);
        free(s->over[o].value);
    }
    free(s->over);
    free(s->host);
}

/* conf_format_arg - one argument, braced when it holds white space. */
static void conf_format_arg(strbuf *out, const char *arg)
{
    if (arg[0] == '\0' || strpbrk(arg, " \t") != NULL)
        (void)sb_printf(out, " { %s }", arg);
    else
        (void)sb_printf(out, " %s", arg);
}

void conf_format_service(const struct conf_service *s, strbuf *out)
{
    (void)sb_printf(out, "%-10s %-5s %-7s %-7s %-7s %-7s %-7s %s", s->name,
                    s->type_name, s->field[0], s->field[1], s->field[2],
                    s->field[3], s->field[4], s->argv[0]);
    for (size_t o = 0; o < s->nover; o++) {
        if (strpbrk(s->over[o].value, " \t") != NULL)
            (void)sb_printf(out, " -o { %s = %s }", s->over[o].name,
                            s->over[o].value);
        else
            (void)sb_printf(out, " -o %s=%s", s->over[o].name,
                            s->over[o].value);
    }
    for (size_t i = 1; s->argv[i]; i++)
        conf_format_arg(out, s->argv[i]);
}
