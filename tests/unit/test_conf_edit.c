/*
 * Tests of conf_edit_main / conf_remove_main / conf_edit_master: the file
 * after the edit, byte for byte (comments, order and untouched lines kept),
 * refused edits leaving the file unchanged, and the mode kept.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/strbuf.h"
#include "conf/conf.h"

struct lab {
    char dir[64];
};

static void path_of(const struct lab *l, const char *name, strbuf *out)
{
    sb_reset(out);
    assert_int_equal(sb_printf(out, "%s/%s", l->dir, name), 0);
}

static void put(const struct lab *l, const char *name, const char *text)
{
    strbuf p;
    FILE *f;

    sb_init(&p, 4096);
    path_of(l, name, &p);
    f = fopen(sb_str(&p), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    sb_release(&p);
}

static void get(const struct lab *l, const char *name, strbuf *out)
{
    strbuf p;
    FILE *f;
    char buf[4096];
    size_t n;

    sb_init(&p, 4096);
    path_of(l, name, &p);
    f = fopen(sb_str(&p), "rb");
    assert_non_null(f);
    sb_reset(out);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        assert_int_equal(sb_append(out, buf, n), 0);
    fclose(f);
    sb_release(&p);
}

static void lab_open(struct lab *l)
{
    assert_int_equal(fmt_fixed(l->dir, sizeof(l->dir), "%s",
                               "/tmp/tern-conf-edit-XXXXXX"), 0);
    assert_non_null(mkdtemp(l->dir));
}

static void lab_close(struct lab *l)
{
    strbuf p;

    sb_init(&p, 4096);
    path_of(l, "main.cf", &p);
    (void)unlink(sb_str(&p));
    path_of(l, "master.cf", &p);
    (void)unlink(sb_str(&p));
    assert_int_equal(rmdir(l->dir), 0);     /* no temp file left behind */
    sb_release(&p);
}

static void test_edit_main(void **state)
{
    static const struct {
        const char *before;
        bool remove;
        char *args[3];
        int ret;
        const char *after;              /* NULL: unchanged */
    } cases[] = {
        /* replace a definition with continuation lines; comments stay */
        {"# top\nmyhostname = a\nmydestination = x,\n  y,\n# inner\n  z\n\nmax_use = 5\n",
         false, {"mydestination=q, r"}, 0,
         "# top\nmyhostname = a\nmydestination = q, r\n# inner\n\nmax_use = 5\n"},
        /* append, also to a file without a final newline */
        {"a = 1", false, {"max_use = 9"}, 0, "a = 1\nmax_use = 9\n"},
        /* the first definition is replaced, later ones removed */
        {"max_use = 1\nx = 2\nmax_use = 3\n  cont\n", false, {"max_use=4"}, 0,
         "max_use = 4\nx = 2\n"},
        /* several at once, one replaced and one new; empty value */
        {"max_idle = 1s\n", false, {"max_idle=2s", "relayhost="}, 0,
         "max_idle = 2s\nrelayhost = \n"},
        /* a name that only shares a prefix is left alone */
        {"max_use_x = 1\nmax_use=2\n", false, {"max_use=3"}, 0,
         "max_use_x = 1\nmax_use = 3\n"},
        /* remove */
        {"a = 1\n  cont\n# keep\nb = 2\n", true, {"a"}, 0, "# keep\nb = 2\n"},
        {"a = 1\n", true, {"nothere"}, 0, "a = 1\n"},
        /* refused: nothing changes */
        {"a = 1\n", false, {"bad-name=1"}, -1, NULL},
        {"a = 1\n", false, {"noequals"}, -1, NULL},
        {"a = 1\n", false, {"x=line\nbreak"}, -1, NULL},
        {"a = 1\n", false, {"x={ unbalanced"}, -1, NULL},
        {"a = 1\n", true, {"bad name"}, -1, NULL},
    };
    struct lab l;
    strbuf got, err;

    (void)state;
    lab_open(&l);
    sb_init(&got, SB_NOLIMIT);
    sb_init(&err, 4096);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = 0;
        int ret;

        while (n < 3 && cases[i].args[n])
            n++;
        put(&l, "main.cf", cases[i].before);
        sb_reset(&err);
        ret = cases[i].remove
            ? conf_remove_main(l.dir, cases[i].args, n, &err)
            : conf_edit_main(l.dir, cases[i].args, n, &err);
        if (ret != cases[i].ret)
            fail_msg("case %zu: ret %d (%s)", i, ret, sb_str(&err));
        if (ret < 0)
            assert_true(sb_len(&err) > 0);
        get(&l, "main.cf", &got);
        assert_string_equal(sb_str(&got), cases[i].after ? cases[i].after
                            : cases[i].before);
    }
    sb_release(&got);
    sb_release(&err);
    lab_close(&l);
}

static void test_edit_keeps_mode_and_needs_file(void **state)
{
    struct lab l;
    strbuf p, err;
    struct stat st;
    char *args[] = {"max_use=2"};

    (void)state;
    lab_open(&l);
    sb_init(&p, 4096);
    sb_init(&err, 4096);
    assert_int_equal(conf_edit_main(l.dir, args, 1, &err), -1);
    assert_non_null(strstr(sb_str(&err), "main.cf: No such file or directory"));
    put(&l, "main.cf", "max_use = 1\n");
    path_of(&l, "main.cf", &p);
    assert_int_equal(chmod(sb_str(&p), 0640), 0);
    sb_reset(&err);
    assert_int_equal(conf_edit_main(l.dir, args, 1, &err), 0);
    assert_int_equal(stat(sb_str(&p), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    sb_release(&p);
    sb_release(&err);
    lab_close(&l);
}

static void test_edit_master(void **state)
{
    static const char before[] =
        "# services\n"
        "smtp      inet  n       -       y       -       -       smtpd\n"
        "submission inet n       -       y       -       -       smtpd\n"
        "  -o smtpd_tls_security_level=encrypt\n"
        "# a comment inside the entry\n"
        "  -o max_use=5\n"
        "relaylim  unix  -       -       n       -       1       smtp\n";
    static const char after[] =
        "# services\n"
        "smtp      inet  n       -       y       -       -       smtpd\n"
        "submission inet  n       -       y       -       -       smtpd\n"
        "  -o smtpd_tls_security_level=encrypt\n"
        "  -o max_use=7\n"
        "  -o { smtpd_banner = $myhostname ESMTP submission }\n"
        "# a comment inside the entry\n"
        "relaylim  unix  -       -       n       -       1       smtp\n";
    struct lab l;
    strbuf got, err;
    conf *c;
    const conf *sc;

    (void)state;
    lab_open(&l);
    sb_init(&got, SB_NOLIMIT);
    sb_init(&err, 4096);
    put(&l, "main.cf", "myhostname = mx.example.org\n");
    put(&l, "master.cf", before);
    assert_int_equal(conf_edit_master(l.dir, "submission", "inet", "max_use", "7", &err), 0);
    assert_int_equal(conf_edit_master(l.dir, "submission", "inet", "smtpd_banner",
                                      "$myhostname ESMTP submission", &err), 0);
    get(&l, "master.cf", &got);
    assert_string_equal(sb_str(&got), after);
    c = conf_load(l.dir);
    sc = conf_for_service(c, "submission", "inet");
    assert_non_null(sc);
    assert_int_equal(conf_get_int(sc, "max_use"), 7);
    assert_string_equal(conf_get_str(sc, "smtpd_banner"), "mx.example.org ESMTP submission");
    assert_int_equal(conf_get_int(c, "max_use"), 100);
    conf_free(c);

    /* refused edits change nothing */
    assert_int_equal(conf_edit_master(l.dir, "nosuch", "unix", "max_use", "1", &err), -1);
    assert_non_null(strstr(sb_str(&err), "no service nosuch/unix"));
    assert_int_equal(conf_edit_master(l.dir, "smtp", "unix", "max_use", "1", &err), -1);
    assert_int_equal(conf_edit_master(l.dir, "smtp", "inet", "bad name", "1", &err), -1);
    assert_int_equal(conf_edit_master(l.dir, "smtp", "inet", "max_use", "a\nb", &err), -1);
    get(&l, "master.cf", &got);
    assert_string_equal(sb_str(&got), after);
    sb_release(&got);
    sb_release(&err);
    lab_close(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edit_main),
        cmocka_unit_test(test_edit_keeps_mode_and_needs_file),
        cmocka_unit_test(test_edit_master),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
