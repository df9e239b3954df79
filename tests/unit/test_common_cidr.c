/*
 * Unit tests for common/cidr: pattern parsing (good forms, and each kind
 * of bad one with the text a user sees), address parsing, and matching
 * for IPv4, IPv6 and IPv4-mapped IPv6 clients.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <string.h>

#include "common/cidr.h"

/* A pattern, whether it parses, and a substring of its error text. */
static const struct pcase {
    const char *text;
    bool ok;
    const char *err;
} pcases[] = {
    {"192.0.2.0/24", true, NULL},
    {"192.0.2.7", true, NULL},
    {"0.0.0.0/0", true, NULL},
    {"[::1]/128", true, NULL},
    {"[::1]", true, NULL},
    {"[2001:db8::]/32", true, NULL},
    {"2001:db8::/32", true, NULL},
    {"[IPv6:2001:db8::]/32", true, NULL},
    {"10.1.0.0/8", false, "non-null host address bits"},
    {"[2001:db8::1]/32", false, "non-null host address bits"},
    {"192.0.2.0/33", false, "bad prefix length"},
    {"192.0.2.0/", false, "bad prefix length"},
    {"192.0.2.0/-1", false, "bad prefix length"},
    {"192.0.2.0/1x", false, "bad prefix length"},
    {"[::]/129", false, "bad prefix length"},
    {"1.2.3.4.5", false, "bad network address"},
    {"256.0.0.0/8", false, "bad network address"},
    {"", false, "bad network address"},
    {"[]", false, "bad network address"},
    {"example.com", false, "bad network address"},
    {"192.0.2.\xff/24", false, "bad network address"},
    {"[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000]/1", false,
     "bad network address"},
};

static void test_parse(void **state)
{
    strbuf err;

    (void)state;
    sb_init(&err, 1024);
    for (size_t i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
        struct cidr c;
        int rv = cidr_parse(pcases[i].text, &c, &err);

        if (pcases[i].ok != (rv == 0))
            fail_msg("%s: %s", pcases[i].text, sb_str(&err));
        if (!pcases[i].ok && strstr(sb_str(&err), pcases[i].err) == NULL)
            fail_msg("%s: got '%s'", pcases[i].text, sb_str(&err));
    }
    sb_release(&err);
}

/* A network, a client address and whether it matches. */
static const struct mcase {
    const char *net, *addr;
    bool match;
} mcases[] = {
    {"192.0.2.0/24", "192.0.2.1", true},
    {"192.0.2.0/24", "192.0.3.1", false},
    {"192.0.2.128/25", "192.0.2.200", true},
    {"192.0.2.128/25", "192.0.2.127", false},
    {"192.0.2.7", "192.0.2.7", true},
    {"192.0.2.7", "192.0.2.8", false},
    {"0.0.0.0/0", "203.0.113.9", true},
    {"0.0.0.0/0", "2001:db8::1", false},
    {"192.0.2.0/24", "::ffff:192.0.2.9", true},
    {"[2001:db8::]/32", "2001:db8:ffff::1", true},
    {"[2001:db8::]/32", "2001:db9::1", false},
    {"[2001:db8::]/33", "2001:db8:8000::1", false},
    {"[::1]/128", "::1", true},
    {"[::1]/128", "127.0.0.1", false},
    {"127.0.0.0/8", "[127.9.9.9]", true},
    {"[2001:db8::]/32", "[IPv6:2001:db8::5]", true},
};

static void test_match(void **state)
{
    strbuf err;

    (void)state;
    sb_init(&err, 1024);
    for (size_t i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++) {
        struct cidr c;
        struct cidr_addr a;

        assert_int_equal(cidr_parse(mcases[i].net, &c, &err), 0);
        assert_int_equal(cidr_addr_parse(mcases[i].addr, &a), 0);
        if (cidr_match(&c, &a) != mcases[i].match)
            fail_msg("%s vs %s", mcases[i].net, mcases[i].addr);
    }
    sb_release(&err);
}

static void test_bad_addresses(void **state)
{
    static const char *const bad[] = {
        "", "unknown", "1.2.3", "1.2.3.4 ", "[1.2.3.4", "::g", "1.2.3.4/8",
        "[IPv6:]", "\xc3\xa9",
    };
    struct cidr_addr a;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (cidr_addr_parse(bad[i], &a) == 0)
            fail_msg("accepted '%s'", bad[i]);
}

static void test_looks_like(void **state)
{
    (void)state;
    assert_true(cidr_looks_like("10.0.0.0/8"));
    assert_true(cidr_looks_like("1.2.3.4.5"));
    assert_true(cidr_looks_like("[::1]/128"));
    assert_true(cidr_looks_like("2001:db8::/32"));
    assert_false(cidr_looks_like("texthash:/etc/x"));
    assert_false(cidr_looks_like("example.com"));
    assert_false(cidr_looks_like(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_looks_like),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
