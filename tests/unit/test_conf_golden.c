/*
 * Golden tests for the main.cf / master.cf parser: each data/conf/NAME.in
 * holds a main.cf and optionally a master.cf ("==> main.cf <==" and
 * "==> master.cf <==" sections); loading them must print exactly
 * data/conf/NAME.ref: every diagnostic, every defined name with its
 * expanded value, every service in -M form and each service's overrides as
 * the service sees them. TERN_GOLDEN_UPDATE=1 rewrites the .ref files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/strbuf.h"
#include "conf/conf.h"

#define DATA TERN_TEST_DATA "/conf/"

static const char default_master[] =
    "smtp      inet  n       -       n       -       -       smtpd\n"
    "relaylim  unix  -       -       n       -       1       smtp\n";

/* slurp - a whole file, or NULL. */
static char *slurp(const char *path, size_t *len)
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
    fclose(f);
    *len = sb_len(&sb);
    {
        char *s = sb_detach(&sb);

        sb_release(&sb);
        return s;
    }
}

static void write_file(const char *dir, const char *name, const char *data,
                       size_t len)
{
    strbuf path;
    FILE *f;

    sb_init(&path, 4096);
    assert_int_equal(sb_printf(&path, "%s/%s", dir, name), 0);
    f = fopen(sb_str(&path), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    sb_release(&path);
}

/* split_sections - write the .in sections as main.cf and master.cf. */
static void split_sections(const char *dir, const char *in, size_t len)
{
    static const char main_mark[] = "==> main.cf <==\n";
    static const char master_mark[] = "==> master.cf <==\n";
    const char *m = memmem(in, len, main_mark, strlen(main_mark));
    const char *s = memmem(in, len, master_mark, strlen(master_mark));
    const char *end = in + len;

    assert_non_null(m);
    m += strlen(main_mark);
    write_file(dir, "main.cf", m, (size_t)((s ? s : end) - m));
    if (s) {
        s += strlen(master_mark);
        write_file(dir, "master.cf", s, (size_t)(end - s));
    } else {
        write_file(dir, "master.cf", default_master, strlen(default_master));
    }
}

/* put_line - append text with the temp directory prefix removed. */
static void put_line(strbuf *out, const char *dir, const char *fmt, ...)
{
    strbuf line;
    va_list ap;
    const char *p;
    size_t dl = strlen(dir);

    sb_init(&line, SB_NOLIMIT);
    va_start(ap, fmt);
    assert_int_equal(sb_vprintf(&line, fmt, ap), 0);
    va_end(ap);
    for (p = sb_str(&line); *p;) {
        if (strncmp(p, dir, dl) == 0 && p[dl] == '/') {
            p += dl + 1;
            continue;
        }
        assert_int_equal(sb_putc(out, *p++), 0);
    }
    assert_int_equal(sb_putc(out, '\n'), 0);
    sb_release(&line);
}

/* put_value - "name = expanded" or "name: error text". */
static void put_value(strbuf *out, const char *dir, const conf *c,
                      const char *prefix, const char *name)
{
    strbuf ref, val, err;

    sb_init(&ref, 4096);
    sb_init(&val, SB_NOLIMIT);
    sb_init(&err, SB_NOLIMIT);
    assert_int_equal(sb_printf(&ref, "${%s}", name), 0);
    if (conf_expand(c, sb_str(&ref), &val, &err) == 0)
        put_line(out, dir, "%s%s = %s", prefix, name, sb_str(&val));
    else
        put_line(out, dir, "%s%s: %s", prefix, name, sb_str(&err));
    sb_release(&ref);
    sb_release(&val);
    sb_release(&err);
}

/* put_services - -M form, resolved numbers, and overrides as applied. */
static void put_services(strbuf *out, const char *dir, const conf *c)
{
    strbuf line;

    sb_init(&line, SB_NOLIMIT);
    for (size_t i = 0; i < conf_service_count(c); i++) {
        const struct conf_service *s = conf_service_at(c, i);
        const conf *sc = conf_for_service(c, s->name, s->type_name);

        sb_reset(&line);
        conf_format_service(s, &line);
        put_line(out, dir, "%s", sb_str(&line));
        put_line(out, dir, "  line=%d host=%s port=%d private=%d unpriv=%d maxproc=%d wakeup=%d%s",
                 s->line, s->host ? s->host : "-", s->port, s->private_,
                 s->unpriv, s->maxproc, s->wakeup, s->wakeup_if_used ? "?" : "");
        assert_non_null(sc);
        for (size_t o = 0; o < s->nover; o++)
            put_value(out, dir, sc, "  ", s->over[o].name);
    }
    sb_release(&line);
}

static void run_golden(const char *name)
{
    char dir[] = "/tmp/tern-conf-golden-XXXXXX";
    strbuf path, out;
    char *in, *ref;
    size_t len, rlen;
    conf *c;
    enum conf_diag_level level;

    sb_init(&path, 4096);
    sb_init(&out, SB_NOLIMIT);
    assert_non_null(mkdtemp(dir));
    assert_int_equal(sb_printf(&path, DATA "%s.in", name), 0);
    in = slurp(sb_str(&path), &len);
    assert_non_null(in);
    split_sections(dir, in, len);
    c = conf_load(dir);
    for (size_t i = 0; i < conf_diag_count(c); i++) {
        const char *text = conf_diag_text(c, i, &level);

        put_line(&out, dir, "%s: %s", level == CONF_ERROR ? "error"
                 : "warning", text);
    }
    put_line(&out, dir, "-- values");
    for (size_t i = 0; i < conf_set_count(c); i++)
        put_value(&out, dir, c, "", conf_set_name(c, i));
    put_line(&out, dir, "-- services");
    put_services(&out, dir, c);
    conf_free(c);

    sb_reset(&path);
    assert_int_equal(sb_printf(&path, DATA "%s.ref", name), 0);
    if (getenv("TERN_GOLDEN_UPDATE")) {
        FILE *f = fopen(sb_str(&path), "wb");

        assert_non_null(f);
        assert_int_equal(fwrite(sb_str(&out), 1, sb_len(&out), f), sb_len(&out));
        assert_int_equal(fclose(f), 0);
    }
    ref = slurp(sb_str(&path), &rlen);
    assert_non_null(ref);
    assert_string_equal(sb_str(&out), ref);
    free(ref);
    free(in);
    for (int i = 0; i < 2; i++) {
        sb_reset(&path);
        (void)sb_printf(&path, "%s/%s", dir, i ? "master.cf" : "main.cf");
        assert_int_equal(unlink(sb_str(&path)), 0);
    }
    (void)rmdir(dir);
    sb_release(&path);
    sb_release(&out);
}

#define GOLDEN(name) \
    static void test_golden_##name(void **state) { (void)state; run_golden(#name); }
GOLDEN(basic)
GOLDEN(expand)
GOLDEN(loops)
GOLDEN(syntax)
GOLDEN(values)
GOLDEN(macros)
GOLDEN(master)
GOLDEN(master_bad)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_basic),
        cmocka_unit_test(test_golden_expand),
        cmocka_unit_test(test_golden_loops),
        cmocka_unit_test(test_golden_syntax),
        cmocka_unit_test(test_golden_values),
        cmocka_unit_test(test_golden_macros),
        cmocka_unit_test(test_golden_master),
        cmocka_unit_test(test_golden_master_bad),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
