/*
 * Unit tests for tls/tls_policy: the smtp client's per-destination TLS
 * policy from main.cf parameters and smtp_tls_policy_maps values - the
 * level's defaults (mandatory protocols and ciphers, match lists), the
 * attributes replacing them, Postfix's separators (':' for names, '|'
 * for fingerprints), and every bad value (unknown level, attribute,
 * protocol, grade, an empty match list, hostile bytes) as an error.
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

#include "tls/tls.h"
#include "testutil.h"

struct fixture {
    char dir[64];
    conf *c;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof(f->dir), "/tmp/tern-tlspol-XXXXXX");
    f->c = tu_conf_clean(f->dir,
                         "smtp_tls_security_level = may\n"
                         "smtp_tls_protocols = >=TLSv1\n"
                         "smtp_tls_mandatory_protocols = >=TLSv1.2\n"
                         "smtp_tls_ciphers = medium\n"
                         "smtp_tls_mandatory_ciphers = high\n"
                         "smtp_tls_exclude_ciphers = RC4, aNULL\n"
                         "smtp_tls_mandatory_exclude_ciphers = 3DES\n"
                         "smtp_tls_fingerprint_cert_match = AB:CD:EF, 01:02:03\n",
                         "");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    conf_free(f->c);
    tu_rm_rf(f->dir);
    free(f);
    return 0;
}

/* One policy value and what it must give (NULL error = success). */
static const struct pol_case {
    const char *value;          /* table value; NULL = main.cf only */
    const char *level, *match, *protocols, *ciphers, *exclude;
    const char *error;          /* substring of the error text */
} pol_cases[] = {
    { NULL, "may", "", ">=TLSv1", "medium", "RC4 aNULL", NULL },
    { "encrypt", "encrypt", "", ">=TLSv1.2", "high", "RC4 aNULL 3DES", NULL },
    { "none", "none", "", ">=TLSv1", "medium", "RC4 aNULL", NULL },
    { "verify", "verify", "hostname", ">=TLSv1.2", "high", "RC4 aNULL 3DES",
      NULL },
    { "SECURE", "secure", "nexthop dot-nexthop", ">=TLSv1.2", "high",
      "RC4 aNULL 3DES", NULL },
    { "secure match=mx.example.com:.example.com", "secure",
      "mx.example.com .example.com", ">=TLSv1.2", "high", "RC4 aNULL 3DES",
      NULL },
    { "fingerprint", "fingerprint", "AB:CD:EF 01:02:03", ">=TLSv1.2", "high",
      "RC4 aNULL 3DES", NULL },
    { "fingerprint match=AA:BB|CC:DD", "fingerprint", "AA:BB CC:DD",
      ">=TLSv1.2", "high", "RC4 aNULL 3DES", NULL },
    { "encrypt protocols=!SSLv2:!SSLv3 ciphers=medium exclude=MD5:SHA1",
      "encrypt", "", "!SSLv2 !SSLv3", "medium", "MD5 SHA1", NULL },
    { "\tmay   \t protocols=TLSv1.3  ", "may", "", "TLSv1.3", "medium",
      "RC4 aNULL", NULL },
    { "dane", "dane", "", "", "", "", NULL },
    { "dane-only", "dane-only", "", "", "", "", NULL },
    { "", NULL, NULL, NULL, NULL, NULL, "invalid TLS security level" },
    { "maybe", NULL, NULL, NULL, NULL, NULL,
      "invalid TLS security level \"maybe\"" },
    { "verify frob=1", NULL, NULL, NULL, NULL, NULL,
      "invalid attribute \"frob=1\"" },
    { "verify match", NULL, NULL, NULL, NULL, NULL,
      "invalid attribute \"match\"" },
    { "encrypt protocols=TLSv9", NULL, NULL, NULL, NULL, NULL,
      "unknown TLS protocol \"TLSv9\"" },
    { "encrypt protocols=!TLSv1.2:!TLSv1.3:<=TLSv1.1:>=TLSv1.2", NULL, NULL,
      NULL, NULL, NULL, "enables no protocol" },
    { "encrypt ciphers=superb", NULL, NULL, NULL, NULL, NULL,
      "unknown TLS cipher grade" },
    { "encrypt exclude=!RC4", NULL, NULL, NULL, NULL, NULL,
      "bad cipher exclusion" },
    { "verify match=", NULL, NULL, NULL, NULL, NULL,
      "verify needs a match list" },
    { "fingerprint match=||", NULL, NULL, NULL, NULL, NULL,
      "fingerprint needs a match list" },
    { "may\x80\x01", NULL, NULL, NULL, NULL, NULL,
      "invalid TLS security level" },
};

/* test_policy_table - every case: the policy or the error. */
static void test_policy_table(void **state)
{
    struct fixture *f = *state;
    strbuf err;

    sb_init(&err, 1024);
    for (size_t i = 0; i < sizeof(pol_cases) / sizeof(*pol_cases); i++) {
        const struct pol_case *pc = &pol_cases[i];
        struct tls_policy pol;
        int rc;

        tls_policy_init(&pol);
        sb_reset(&err);
        rc = tls_policy_make(f->c, pc->value, &pol, &err);
        if (pc->error != NULL) {
            if (rc != -1 || strstr(sb_str(&err), pc->error) == NULL)
                fail_msg("case %zu \"%s\": rc %d, error \"%s\"", i,
                         pc->value, rc, sb_str(&err));
        } else {
            if (rc != 0)
                fail_msg("case %zu \"%s\": %s", i, pc->value ? pc->value
                         : "(main.cf)", sb_str(&err));
            assert_string_equal(tls_level_name(pol.level), pc->level);
            if (pol.level < TLS_LEV_DANE) {
                assert_string_equal(sb_str(&pol.match), pc->match);
                assert_string_equal(sb_str(&pol.protocols), pc->protocols);
                assert_string_equal(sb_str(&pol.ciphers), pc->ciphers);
                assert_string_equal(sb_str(&pol.exclude), pc->exclude);
            }
        }
        tls_policy_release(&pol);
    }
    sb_release(&err);
}

/* test_levels - client and server level names, and which are required. */
static void test_levels(void **state)
{
    static const struct {
        const char *name;
        int client, server;     /* parse results */
        bool required;
    } cases[] = {
        { "none", 0, 0, false }, { "", 0, 0, false }, { "may", 0, 0, false },
        { "Encrypt", 0, 0, true }, { "fingerprint", 0, -1, true },
        { "verify", 0, -1, true }, { "secure", 0, -1, true },
        { "dane", 0, -1, true }, { "dane-only", 0, -1, true },
        { "must", -1, -1, false }, { "none ", -1, -1, false },
    };
    enum tls_level lev;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        assert_int_equal(tls_client_level_parse(cases[i].name, &lev),
                         cases[i].client);
        if (cases[i].client == 0)
            assert_int_equal(tls_level_required(lev), cases[i].required);
        assert_int_equal(tls_level_parse(cases[i].name, &lev),
                         cases[i].server);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_policy_table, setup, teardown),
        cmocka_unit_test(test_levels),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
