/*
 * Unit tests of the daemons' loader: conf_load_main (main.cf checked,
 * master.cf read only for its names, its problems ignored) and
 * conf_with_overrides (a command line's -o list checked like master.cf's
 * -o: the same verdicts and texts, named "-o of service NAME"). Each case
 * writes its own configuration directory.
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

#include "common/msg.h"
#include "common/strbuf.h"
#include "conf/conf.h"

struct lab {
    char dir[64];
};

/* lab_write - NAME in the lab with text (NULL: remove it). */
static void lab_write(struct lab *l, const char *name, const char *text)
{
    strbuf path;
    FILE *f;

    sb_init(&path, 4096);
    assert_int_equal(sb_printf(&path, "%s/%s", l->dir, name), 0);
    if (text == NULL) {
        (void)unlink(sb_str(&path));
    } else {
        f = fopen(sb_str(&path), "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
        assert_int_equal(fclose(f), 0);
    }
    sb_release(&path);
}

static int setup(void **state)
{
    struct lab *l = calloc(1, sizeof(*l));

    assert_non_null(l);
    assert_int_equal(fmt_fixed(l->dir, sizeof(l->dir), "%s",
                               "/tmp/tern-conf-over-XXXXXX"), 0);
    assert_non_null(mkdtemp(l->dir));
    *state = l;
    return 0;
}

static int teardown(void **state)
{
    struct lab *l = *state;

    lab_write(l, "main.cf", NULL);
    lab_write(l, "master.cf", NULL);
    assert_int_equal(rmdir(l->dir), 0);
    free(l);
    return 0;
}

/* diag_has - some diagnostic of c contains text at that level. */
static bool diag_has(const conf *c, enum conf_diag_level want, const char *text)
{
    enum conf_diag_level level;

    for (size_t i = 0; i < conf_diag_count(c); i++)
        if (strstr(conf_diag_text(c, i, &level), text) && level == want)
            return true;
    return false;
}

static const char MAIN_CF[] =
    "smtpd_banner = main banner\n"
    "mua_restrictions = permit_sasl_authenticated, reject\n"
    "relaylim_destination_concurrency_limit = 2\n";

static void test_broken_master_cf_is_not_an_error(void **state)
{
    static const char *const masters[] = {
        NULL,                                           /* missing */
        "bogus line without enough fields\n",
        "smtp inet n - n - - smtpd\nsmtp inet n - n - - smtpd\n",
        "relaylim unix - - n - 1 smtp\ncaf\xc3\xa9 bogus\n",
        "relaylim unix - - n - 1 smtp\n  -o max_use=lots\nbad bad\n",
    };
    struct lab *l = *state;

    lab_write(l, "main.cf", MAIN_CF);
    for (size_t i = 0; i < sizeof(masters) / sizeof(masters[0]); i++) {
        conf *strict, *c;
        const conf *eff;

        lab_write(l, "master.cf", masters[i]);
        strict = conf_load(l->dir);
        assert_true(conf_error_count(strict) > 0);      /* tern check's view */
        conf_free(strict);
        c = conf_load_main(l->dir);
        assert_int_equal(conf_error_count(c), 0);
        assert_null(conf_for_service(c, "relaylim", "unix"));
        eff = conf_with_overrides(c, "relaylim", NULL, 0);
        assert_int_equal(conf_error_count(c), 0);
        assert_string_equal(conf_get_str(eff, "smtpd_banner"), "main banner");
        /* the service's own name is a transport prefix, master.cf or not */
        assert_int_equal(conf_get_transport_int(eff, "relaylim",
                                      "destination_concurrency_limit"), 2);
        conf_free(c);
    }
}

static void test_master_cf_names_still_count(void **state)
{
    struct lab *l = *state;
    conf *c;
    const conf *eff;

    lab_write(l, "main.cf", MAIN_CF);
    lab_write(l, "master.cf",
              "relaylim unix - n n - 1 smtp\n"
              "broken line\n"
              "submission inet n - n - - smtpd\n"
              "  -o smtpd_client_restrictions=$mua_restrictions\n");
    c = conf_load_main(l->dir);
    assert_int_equal(conf_error_count(c), 0);
    /* qmgr's case: another service's prefixed name from main.cf */
    eff = conf_with_overrides(c, "qmgr", NULL, 0);
    assert_int_equal(conf_get_transport_int(eff, "relaylim",
                                  "destination_concurrency_limit"), 2);
    /* a macro used only by master.cf's -o is not "unsupported" */
    assert_false(diag_has(c, CONF_WARNING, "mua_restrictions"));
    /* the entries that parse are there for conf_service_find */
    assert_non_null(conf_service_find(eff, "relaylim", "unix"));
    assert_false(conf_service_find(eff, "relaylim", "unix")->unpriv);
    assert_non_null(conf_service_find(eff, "submission", "inet"));
    assert_int_equal(conf_service_count(eff), 2);
    conf_free(c);
}

static void test_overrides_checked_like_master_cf(void **state)
{
    static const struct {
        const char *assign;
        enum conf_diag_level level;     /* CONF_WARNING with NULL: none */
        const char *text;
    } cases[] = {
        {"max_use=lots", CONF_ERROR,
         "parameter 'max_use': invalid value 'lots': not a number"},
        {"smtpd_timeout=10x", CONF_ERROR,
         "parameter 'smtpd_timeout': invalid value '10x': bad time unit 'x'"},
        {"max_use=0", CONF_ERROR, "parameter 'max_use': invalid value '0'"},
        {"no_such_parameter=1", CONF_WARNING,
         "ignoring unsupported parameter 'no_such_parameter'"},
        {"max_use=$no_such_macro", CONF_ERROR, "parameter 'max_use'"},
        {"smtpd_recipient_limit=-5", CONF_ERROR,
         "parameter 'smtpd_recipient_limit': invalid value '-5'"},
        {"max_use=1", CONF_WARNING, NULL},
    };
    struct lab *l = *state;

    lab_write(l, "main.cf", "smtpd_banner = main banner\n");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *assign[] = {(char *)(uintptr_t)cases[i].assign};
        strbuf master;
        conf *strict, *c;

        /* the same -o in master.cf, loaded as ternd and tern check do */
        sb_init(&master, 4096);
        assert_int_equal(sb_printf(&master, "svc unix - - n - - smtp -o %s\n",
                                   cases[i].assign), 0);
        lab_write(l, "master.cf", sb_str(&master));
        sb_release(&master);
        strict = conf_load(l->dir);
        lab_write(l, "master.cf", "");
        c = conf_load_main(l->dir);
        (void)conf_with_overrides(c, "svc", assign, 1);
        if (cases[i].text == NULL) {
            assert_int_equal(conf_diag_count(strict), 0);
            assert_int_equal(conf_diag_count(c), 0);
        } else {
            assert_true(diag_has(strict, cases[i].level, "master.cf, line 1: "));
            assert_true(diag_has(strict, cases[i].level, cases[i].text));
            assert_true(diag_has(c, cases[i].level, "-o of service svc: "));
            assert_true(diag_has(c, cases[i].level, cases[i].text));
        }
        assert_int_equal(conf_error_count(c), conf_error_count(strict));
        conf_free(strict);
        conf_free(c);
    }
}

static void test_overrides_apply(void **state)
{
    char *assign[] = {
        "smtpd_banner=$myhostname says hi",
        "{ smtpd_client_restrictions = $mua_restrictions }",
        "relaylim_destination_concurrency_limit = 5",
        "max_use=7",
        "max_use=9",                    /* the last one wins, as in master.cf */
    };
    struct lab *l = *state;
    const char *const *list;
    conf *c;
    const conf *eff;

    lab_write(l, "main.cf", "myhostname = mx.example\n"
              "mua_restrictions = permit_sasl_authenticated, reject\n");
    lab_write(l, "master.cf", "");
    c = conf_load_main(l->dir);
    eff = conf_with_overrides(c, "relaylim", assign, 5);
    assert_int_equal(conf_error_count(c), 0);
    assert_false(diag_has(c, CONF_WARNING, "mua_restrictions"));
    assert_string_equal(conf_get_str(eff, "smtpd_banner"), "mx.example says hi");
    list = conf_get_list(eff, "smtpd_client_restrictions");
    assert_string_equal(list[0], "permit_sasl_authenticated");
    assert_string_equal(list[1], "reject");
    assert_null(list[2]);
    assert_int_equal(conf_get_int(eff, "max_use"), 9);
    assert_int_equal(conf_get_transport_int(eff, "relaylim",
                                  "destination_concurrency_limit"), 5);
    /* main.cf alone is unchanged */
    assert_int_equal(conf_get_int(c, "max_use"), 100);
    conf_free(c);
}

static void test_bad_override_syntax(void **state)
{
    static const char *const bad[] = {
        "no-equals-sign", "=value", "two words=x", "{ unclosed = x",
        "", "caf\xc3\xa9", "x\ty=1",
    };
    struct lab *l = *state;

    lab_write(l, "main.cf", MAIN_CF);
    lab_write(l, "master.cf", "");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *assign[] = {(char *)(uintptr_t)bad[i], "smtpd_banner=still"};
        conf *c = conf_load_main(l->dir);
        const conf *eff = conf_with_overrides(c, "smtp", assign, 2);

        assert_int_equal(conf_error_count(c), 1);
        assert_true(diag_has(c, CONF_ERROR, "-o of service smtp: bad -o argument"));
        assert_string_equal(conf_get_str(eff, "smtpd_banner"), "still");
        conf_free(c);
    }
}

static void test_main_cf_errors_still_count(void **state)
{
    struct lab *l = *state;
    conf *c;

    lab_write(l, "main.cf", "max_use = lots\n");
    lab_write(l, "master.cf", "bogus\n");
    c = conf_load_main(l->dir);
    assert_int_equal(conf_error_count(c), 1);
    assert_true(diag_has(c, CONF_ERROR, "main.cf, line 1: parameter 'max_use'"));
    conf_free(c);
    lab_write(l, "main.cf", NULL);
    c = conf_load_main(l->dir);
    assert_int_equal(conf_error_count(c), 1);           /* missing main.cf */
    conf_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_broken_master_cf_is_not_an_error,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_master_cf_names_still_count,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_overrides_checked_like_master_cf,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_overrides_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_override_syntax, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_main_cf_errors_still_count, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
