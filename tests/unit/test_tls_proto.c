/*
 * Unit tests for tls/tls_proto: security level names, Postfix protocol
 * lists (">=TLSv1.2", "!SSLv3", inclusions, bad names) and cipher grades.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "tls/tls.h"
#include "conf/conf.h"

#define P_MODERN (TLS_PROTO_TLSv1_2 | TLS_PROTO_TLSv1_3)
#define P_NOSSL (TLS_PROTO_TLSv1 | TLS_PROTO_TLSv1_1 | P_MODERN)

/* One protocol list and what it must give (mask 0 = an error). */
static const struct proto_case {
    const char *spec;
    unsigned mask;
    const char *err;            /* substring of the error */
} proto_cases[] = {
    { ">=TLSv1.2", P_MODERN, NULL },
    { "!SSLv2, !SSLv3", P_NOSSL, NULL },
    { "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", P_MODERN, NULL },
    { "!SSLv2:!SSLv3:!TLSv1:!TLSv1.1", P_MODERN, NULL },
    { "TLSv1.2 TLSv1.3", P_MODERN, NULL },
    { "TLSv1.3", TLS_PROTO_TLSv1_3, NULL },
    { "tlsv1.3", TLS_PROTO_TLSv1_3, NULL },
    { "  >=TLSv1.1 ,<=TLSv1.2  ", TLS_PROTO_TLSv1_1 | TLS_PROTO_TLSv1_2, NULL },
    { ">=TLSv1.2 !TLSv1.3", TLS_PROTO_TLSv1_2, NULL },
    { "", TLS_PROTO_ALL, NULL },
    { ",, ,", TLS_PROTO_ALL, NULL },
    { "TLSv1.4", 0, "unknown TLS protocol \"TLSv1.4\"" },
    { ">=TLSv9", 0, "unknown TLS protocol \">=TLSv9\"" },
    { "!TLSv1.2x", 0, "unknown TLS protocol" },
    { "!", 0, "unknown TLS protocol \"!\"" },
    { ">=", 0, "unknown TLS protocol \">=\"" },
    { "=>TLSv1.2", 0, "unknown TLS protocol" },
    { "TLS\x80v1.2", 0, "unknown TLS protocol" },
    { "<=SSLv3 >=TLSv1.2", 0, "enables no protocol" },
    { "!SSLv2 !SSLv3 !TLSv1 !TLSv1.1 !TLSv1.2 !TLSv1.3", 0,
      "enables no protocol" },
};

static void test_protocols(void **state)
{
    strbuf err;
    unsigned mask;

    (void)state;
    sb_init(&err, 1024);
    for (size_t i = 0; i < sizeof(proto_cases) / sizeof(*proto_cases); i++) {
        const struct proto_case *pc = &proto_cases[i];
        int ret;

        mask = 0xdead;
        sb_reset(&err);
        ret = tls_protocols_parse(pc->spec, &mask, &err);
        if (pc->mask != 0) {
            if (ret != 0)
                fail_msg("\"%s\": %s", pc->spec, sb_str(&err));
            assert_int_equal(mask, pc->mask);
        } else {
            if (ret != -1 || strstr(sb_str(&err), pc->err) == NULL)
                fail_msg("\"%s\": ret %d err \"%s\"", pc->spec, ret,
                         sb_str(&err));
            assert_int_equal(mask, 0xdead);   /* unchanged on error */
        }
    }
    sb_release(&err);
}

/* An overlong bad name is reported, truncated, never overflowing err. */
static void test_protocols_overlong(void **state)
{
    strbuf spec, err;
    unsigned mask = 0;

    (void)state;
    sb_init(&spec, 100000);
    sb_init(&err, 1024);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(sb_puts(&spec, "TLSv"), 0);
    assert_int_equal(tls_protocols_parse(sb_str(&spec), &mask, &err), -1);
    assert_non_null(strstr(sb_str(&err), "unknown TLS protocol"));
    assert_true(sb_len(&err) < 200);
    sb_release(&spec);
    sb_release(&err);
}

static void test_protocol_names(void **state)
{
    strbuf out;

    (void)state;
    sb_init(&out, 100);
    tls_protocol_names(P_MODERN, &out);
    assert_string_equal(sb_str(&out), "TLSv1.2 TLSv1.3");
    tls_protocol_names(TLS_PROTO_SSLv3 | TLS_PROTO_TLSv1_1, &out);
    assert_string_equal(sb_str(&out), "SSLv3 TLSv1.1");
    tls_protocol_names(0, &out);
    assert_string_equal(sb_str(&out), "");
    sb_release(&out);
}

static void test_levels(void **state)
{
    static const struct {
        const char *name;
        int lev;                /* -1 = error */
    } cases[] = {
        { "none", TLS_LEV_NONE }, { "may", TLS_LEV_MAY },
        { "encrypt", TLS_LEV_ENCRYPT }, { "ENCRYPT", TLS_LEV_ENCRYPT },
        { "", TLS_LEV_NONE }, { "maybe", -1 }, { "verify", -1 },
        { "encrypt ", -1 }, { "\xff", -1 },
    };
    enum tls_level lev;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        int ret = tls_level_parse(cases[i].name, &lev);

        if (cases[i].lev < 0) {
            assert_int_equal(ret, -1);
        } else {
            assert_int_equal(ret, 0);
            assert_int_equal(lev, cases[i].lev);
        }
    }
    assert_string_equal(tls_level_name(TLS_LEV_MAY), "may");
    assert_string_equal(tls_level_name((enum tls_level)99), "unknown");
}

/* One cipher grade case against the registry defaults. */
static const struct cipher_case {
    const char *grade, *exclude, *want, *err;
} cipher_cases[] = {
    { "high", "", "aNULL:-aNULL:HIGH:@STRENGTH", NULL },
    { "HIGH", "", "aNULL:-aNULL:HIGH:@STRENGTH", NULL },
    { "medium", "aNULL, RC4", "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH:!aNULL:!RC4",
      NULL },
    { "low", "", "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH", NULL },
    { "export", "MD5", "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH:!MD5", NULL },
    { "null", "", "eNULL:!aNULL", NULL },
    { "strong", "", NULL, "unknown TLS cipher grade \"strong\"" },
    { "", "", NULL, "unknown TLS cipher grade" },
    { "high", "!RC4", NULL, "bad cipher exclusion \"!RC4\"" },
    { "high", "RC4 @STRENGTH", NULL, "bad cipher exclusion" },
};

static void test_cipher_lists(void **state)
{
    conf *c = conf_defaults();
    strbuf out, err;

    (void)state;
    sb_init(&out, 4096);
    sb_init(&err, 1024);
    for (size_t i = 0; i < sizeof(cipher_cases) / sizeof(*cipher_cases); i++) {
        const struct cipher_case *cc = &cipher_cases[i];
        int ret = tls_cipher_list(c, cc->grade, cc->exclude, &out, &err);

        if (cc->want != NULL) {
            if (ret != 0)
                fail_msg("%s: %s", cc->grade, sb_str(&err));
            assert_string_equal(sb_str(&out), cc->want);
        } else if (ret != -1 || strstr(sb_str(&err), cc->err) == NULL) {
            fail_msg("%s/%s: ret %d err \"%s\"", cc->grade, cc->exclude, ret,
                     sb_str(&err));
        }
    }
    sb_release(&out);
    sb_release(&err);
    conf_free(c);
}

/* The defaults are modern: TLS 1.2 and newer at every level. */
static void test_defaults_are_modern(void **state)
{
    conf *c = conf_defaults();
    strbuf err;
    unsigned mask;

    (void)state;
    sb_init(&err, 1024);
    assert_int_equal(tls_protocols_parse(conf_get_str(c, "smtpd_tls_protocols"),
                                         &mask, &err), 0);
    assert_int_equal(mask, P_MODERN);
    assert_int_equal(tls_protocols_parse(
        conf_get_str(c, "smtpd_tls_mandatory_protocols"), &mask, &err), 0);
    assert_int_equal(mask, P_MODERN);
    assert_string_equal(conf_get_str(c, "smtpd_tls_security_level"), "none");
    sb_release(&err);
    conf_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protocols),
        cmocka_unit_test(test_protocols_overlong),
        cmocka_unit_test(test_protocol_names),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_cipher_lists),
        cmocka_unit_test(test_defaults_are_modern),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
