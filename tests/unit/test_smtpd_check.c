/*
 * Golden tests for the restriction engine (smtpd/smtpd_check.h). Each
 * data/restrict/NAME.in is a script of sections:
 *
 *   [conf]            main.cf text up to the next section; "@DIR@" is the
 *                     test's temp directory. Loads it and compiles the
 *                     restriction lists ("compile: ok" or the error).
 *   [table FILE]      a file written to @DIR@/FILE (texthash tables,
 *                     mynetworks pattern files).
 *   [session]         a new restrict_session and an empty client state;
 *                     then "key = value" lines set state fields (an empty
 *                     value is NULL, "<>" the null sender) and
 *                     "check STAGE" lines run restrict_check().
 *
 * Lines starting with '#' outside [conf]/[table] are echoed. The output
 * (every check's action, reply, flags, PREPENDs and log lines, and the
 * warnings logged meanwhile, with the temp directory shown as @DIR@) must
 * equal NAME.ref; TERN_GOLDEN_UPDATE=1 rewrites the .ref files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/strbuf.h"
#include "conf/conf.h"
#include "smtpd/smtpd_check.h"

#define DATA TERN_TEST_DATA "/restrict/"
#define FIELD_MAX 256

static const char master_cf[] =
    "smtp      inet  n       -       n       -       -       smtpd\n"
    "smtp      unix  -       -       n       -       -       smtp\n"
    "relay     unix  -       -       n       -       -       smtp\n"
    "local     unix  -       n       n       -       -       local\n"
    "virtual   unix  -       n       n       -       -       virtual\n";

/* The state of one golden run. */
struct run {
    char dir[64];
    strbuf out;
    conf *conf;
    restrict_set *rs;
    restrict_session *ss;
    struct restrict_state st;
    char *fields[FIELD_MAX];    /* strings the state points at */
    size_t nfields;
    char *client_name, *client_addr;
};

/* detach - the contents as a string the caller frees; sb is released. */
static char *detach(strbuf *sb)
{
    char *s = sb_detach(sb);

    sb_release(sb);
    return s;
}

/* slurp - a whole file, or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    strbuf sb;
    char buf[4096];
    size_t n;

    if (f == NULL)
        return NULL;
    sb_init(&sb, SB_NOLIMIT);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        assert_int_equal(sb_append(&sb, buf, n), 0);
    assert_int_equal(fclose(f), 0);
    return detach(&sb);
}

/* put - append a line, showing the temp directory as @DIR@. */
static void put(struct run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void put(struct run *r, const char *fmt, ...)
{
    size_t dl = strlen(r->dir);
    strbuf line;
    va_list ap;

    sb_init(&line, SB_NOLIMIT);
    va_start(ap, fmt);
    assert_int_equal(sb_vprintf(&line, fmt, ap), 0);
    va_end(ap);
    for (const char *p = sb_str(&line); *p;) {
        if (strncmp(p, r->dir, dl) == 0) {
            assert_int_equal(sb_puts(&r->out, "@DIR@"), 0);
            p += dl;
        } else {
            assert_int_equal(sb_putc(&r->out, *p++), 0);
        }
    }
    assert_int_equal(sb_putc(&r->out, '\n'), 0);
    sb_release(&line);
}

/* capture - keep warnings (table problems) in the output. */
static void capture(enum msg_level level, const char *text, void *ctx)
{
    if (level == MSG_WARN)
        put(ctx, "  %s", text);
}

/* subst_dir - text with "@DIR@" replaced by the temp directory. */
static char *subst_dir(const struct run *r, const char *text, size_t len)
{
    strbuf sb;

    sb_init(&sb, SB_NOLIMIT);
    for (size_t i = 0; i < len;) {
        if (len - i >= 5 && memcmp(text + i, "@DIR@", 5) == 0) {
            assert_int_equal(sb_puts(&sb, r->dir), 0);
            i += 5;
        } else {
            assert_int_equal(sb_putc(&sb, text[i++]), 0);
        }
    }
    return detach(&sb);
}

/* write_file - dir/name = text[0..len) after @DIR@ substitution. */
static void write_file(const struct run *r, const char *name,
                       const char *text, size_t len)
{
    char path[256];
    char *data = subst_dir(r, text, len);
    FILE *f;

    assert_int_equal(fmt_fixed(path, sizeof(path), "%s/%s", r->dir, name), 0);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fputs(data, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    free(data);
}

/* end_session - free the session and the state's strings. */
static void end_session(struct run *r)
{
    restrict_session_free(r->ss);
    r->ss = NULL;
    for (size_t i = 0; i < r->nfields; i++)
        free(r->fields[i]);
    r->nfields = 0;
    memset(&r->st, 0, sizeof(r->st));
}

/* load_conf - a [conf] section: load main.cf and compile. */
static void load_conf(struct run *r, const char *text, size_t len)
{
    strbuf err;

    end_session(r);
    restrict_free(r->rs);
    r->rs = NULL;
    conf_free(r->conf);
    write_file(r, "main.cf", text, len);
    write_file(r, "master.cf", master_cf, strlen(master_cf));
    r->conf = conf_load(r->dir);
    for (size_t i = 0; i < conf_diag_count(r->conf); i++)
        put(r, "conf: %s", conf_diag_text(r->conf, i, NULL));
    sb_init(&err, 4096);
    r->rs = restrict_compile(r->conf, &err);
    if (r->rs)
        put(r, "compile: ok");
    else
        put(r, "compile: error: %s", sb_str(&err));
    sb_release(&err);
}

/* keep - a copy of value the state may point at ("" value = NULL). */
static const char *keep(struct run *r, const char *value)
{
    if (*value == '\0')
        return NULL;
    assert_true(r->nfields < FIELD_MAX);
    r->fields[r->nfields] = strdup(strcmp(value, "<>") == 0 ? "" : value);
    assert_non_null(r->fields[r->nfields]);
    return r->fields[r->nfields++];
}

/* set_client - "name[addr]". */
static void set_client(struct run *r, const char *value)
{
    const char *lb = strchr(value, '['), *rb = strrchr(value, ']');
    char name[256], addr[256];

    assert_non_null(lb);
    assert_non_null(rb);
    assert_int_equal(fmt_fixed(name, sizeof(name), "%.*s",
                               (int)(lb - value), value), 0);
    assert_int_equal(fmt_fixed(addr, sizeof(addr), "%.*s",
                               (int)(rb - lb - 1), lb + 1), 0);
    r->st.client_name = keep(r, name);
    r->st.client_addr = keep(r, addr);
    r->st.reverse_client_name = r->st.client_name;
}

/* set_field - one "key = value" line of a session. */
static void set_field(struct run *r, const char *key, const char *value)
{
    struct restrict_state *st = &r->st;

    if (strcmp(key, "client") == 0)
        set_client(r, value);
    else if (strcmp(key, "helo") == 0)
        st->helo = keep(r, value);
    else if (strcmp(key, "esmtp") == 0)
        st->esmtp = strcmp(value, "yes") == 0;
    else if (strcmp(key, "sender") == 0)
        st->sender = keep(r, value);
    else if (strcmp(key, "recipient") == 0)
        st->recipient = keep(r, value);
    else if (strcmp(key, "etrn") == 0)
        st->etrn_domain = keep(r, value);
    else if (strcmp(key, "sasl_username") == 0) {
        st->sasl_username = keep(r, value);
        st->sasl_method = st->sasl_username ? "PLAIN" : NULL;
    } else if (strcmp(key, "queue_id") == 0)
        st->queue_id = keep(r, value);
    else if (strcmp(key, "rcpt_count") == 0)
        st->rcpt_count = (unsigned)atoi(value);
    else if (strcmp(key, "proto") == 0)
        st->protocol_name = keep(r, value);
    else if (strcmp(key, "pipelining_violation") == 0)
        st->pipelining_violation = strcmp(value, "yes") == 0;
    else if (strcmp(key, "tls") == 0)
        st->tls = strcmp(value, "yes") == 0;
    else
        fail_msg("unknown session key '%s'", key);
}

static const char *const action_names[] = {
    [RESTRICT_DUNNO] = "DUNNO", [RESTRICT_OK] = "OK",
    [RESTRICT_REJECT] = "REJECT", [RESTRICT_DEFER] = "DEFER",
};

static const struct {
    const char *name;
    enum restrict_stage stage;
} stages[] = {
    {"CONNECT", RS_CONNECT}, {"HELO", RS_HELO}, {"MAIL", RS_MAIL},
    {"RCPT", RS_RCPT}, {"DATA", RS_DATA}, {"EOD", RS_EOD},
    {"ETRN", RS_ETRN}, {"VRFY", RS_VRFY},
};

/* put_lines - each line of text, indented under a label. */
static void put_lines(struct run *r, const char *label, const strbuf *text)
{
    const char *p = sb_str(text);

    while (*p) {
        size_t n = strcspn(p, "\n");

        put(r, "  %s: %.*s", label, (int)n, p);
        p += n + (p[n] == '\n');
    }
}

/* do_check - "check STAGE": run it and print the verdict. */
static void do_check(struct run *r, const char *name)
{
    struct restrict_verdict v;
    size_t i;

    for (i = 0; i < sizeof(stages) / sizeof(stages[0]); i++)
        if (strcmp(stages[i].name, name) == 0)
            break;
    assert_true(i < sizeof(stages) / sizeof(stages[0]));
    assert_non_null(r->rs);
    if (r->ss == NULL)
        r->ss = restrict_session_new(r->rs);
    restrict_verdict_init(&v);
    put(r, "check %s", name);
    msg_set_capture(capture, r);
    (void)restrict_check(r->ss, stages[i].stage, &r->st, &v);
    msg_set_capture(NULL, NULL);
    put(r, "  => %s%s%s%s%s", action_names[v.action], sb_len(&v.reply) ? " "
        : "", sb_str(&v.reply), v.hold ? " [hold]" : "",
        v.discard ? " [discard]" : "");
    if (v.disconnect)
        put(r, "  disconnect");
    put_lines(r, "prepend", &v.prepend);
    if (sb_len(&v.filter))
        put(r, "  filter: %s", sb_str(&v.filter));
    if (sb_len(&v.redirect))
        put(r, "  redirect: %s", sb_str(&v.redirect));
    put_lines(r, "bcc", &v.bcc);
    put_lines(r, "log", &v.log);
    restrict_verdict_release(&v);
}

/* session_line - one line inside [session]. */
static void session_line(struct run *r, char *line)
{
    char *eq = strchr(line, '=');

    if (*line == '#') {
        put(r, "%s", line);
    } else if (strncmp(line, "check ", 6) == 0) {
        do_check(r, line + 6);
    } else if (*line == '\0') {
        return;
    } else if (strcmp(line, "reset") == 0) {
        restrict_session_reset(r->ss);
        put(r, "reset");
    } else {
        char *key = line, *value, *end;

        assert_non_null(eq);
        *eq = '\0';
        value = eq + 1;
        for (end = eq; end > key && end[-1] == ' '; end--)
            end[-1] = '\0';
        while (*value == ' ')
            value++;
        set_field(r, key, value);
    }
}

/* section_end - where the section that starts at p ends. */
static const char *section_end(const char *p)
{
    const char *q = p;

    while ((q = strstr(q, "\n[")) != NULL) {
        if (strncmp(q + 1, "[conf]", 6) == 0 || strncmp(q + 1, "[table ", 7) == 0
            || strncmp(q + 1, "[session]", 9) == 0)
            return q + 1;
        q++;
    }
    return p + strlen(p);
}

/* run_script - interpret a whole .in file. */
static void run_script(struct run *r, const char *in)
{
    const char *p = in;

    while (*p) {
        const char *body = strchr(p, '\n'), *end;

        assert_non_null(body);
        body++;
        end = section_end(body);
        if (strncmp(p, "[conf]", 6) == 0) {
            put(r, "[conf]");
            load_conf(r, body, (size_t)(end - body));
        } else if (strncmp(p, "[table ", 7) == 0) {
            char name[128];

            assert_int_equal(fmt_fixed(name, sizeof(name), "%.*s",
                                       (int)strcspn(p + 7, "]"), p + 7), 0);
            write_file(r, name, body, (size_t)(end - body));
        } else if (strncmp(p, "[session]", 9) == 0) {
            char *text = strndup(body, (size_t)(end - body)), *save = NULL;

            assert_non_null(text);
            put(r, "[session]");
            end_session(r);
            for (char *l = strtok_r(text, "\n", &save); l;
                 l = strtok_r(NULL, "\n", &save))
                session_line(r, l);
            free(text);
        } else if (*p == '#' || *p == '\n') {
            end = body;
        } else {
            fail_msg("bad line in script: %.40s", p);
        }
        p = end;
    }
}

/* cleanup - free the engine objects of a run. */
static void cleanup(struct run *r)
{
    end_session(r);
    restrict_free(r->rs);
    conf_free(r->conf);
}

/* remove_dir - delete every file of dir (it has no subdirectories). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    strbuf path;

    assert_non_null(d);
    sb_init(&path, 4096);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        sb_reset(&path);
        assert_int_equal(sb_printf(&path, "%s/%s", dir, e->d_name), 0);
        assert_int_equal(unlink(sb_str(&path)), 0);
    }
    assert_int_equal(closedir(d), 0);
    assert_int_equal(rmdir(dir), 0);
    sb_release(&path);
}

/* run_golden - one NAME.in against NAME.ref. */
static void run_golden(const char *name)
{
    struct run r;
    char path[256];
    char *in, *ref;

    memset(&r, 0, sizeof(r));
    sb_init(&r.out, SB_NOLIMIT);
    assert_int_equal(fmt_fixed(r.dir, sizeof(r.dir),
                               "/tmp/tern-restrict-XXXXXX"), 0);
    assert_non_null(mkdtemp(r.dir));
    assert_int_equal(fmt_fixed(path, sizeof(path), DATA "%s.in", name), 0);
    in = slurp(path);
    assert_non_null(in);
    run_script(&r, in);
    cleanup(&r);
    remove_dir(r.dir);
    assert_int_equal(fmt_fixed(path, sizeof(path), DATA "%s.ref", name), 0);
    if (getenv("TERN_GOLDEN_UPDATE")) {
        FILE *f = fopen(path, "wb");

        assert_non_null(f);
        assert_int_equal(fputs(sb_str(&r.out), f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
    }
    ref = slurp(path);
    assert_non_null(ref);
    assert_string_equal(sb_str(&r.out), ref);
    free(ref);
    free(in);
    sb_release(&r.out);
}

#define GOLDEN(name) \
    static void test_##name(void **state) { (void)state; run_golden(#name); }
GOLDEN(basic)
GOLDEN(delay)
GOLDEN(access)
GOLDEN(defer)
GOLDEN(unlisted)
GOLDEN(syntax)
GOLDEN(compile)
GOLDEN(login)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_delay),
        cmocka_unit_test(test_access),
        cmocka_unit_test(test_defer),
        cmocka_unit_test(test_unlisted),
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_compile),
        cmocka_unit_test(test_login),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
