/*
 * Unit tests for common/dns: everything that needs no DNS server -
 * resolver_servers / inet_protocols / smtp_address_preference parsing,
 * address literals, name syntax, MX ordering with an injected random
 * source, and lookups that must be answered (or refused) without a query
 * - which make no c-ares channel - and a channel that cannot be made.
 * Lookups against a real server are in tests/integration/test_dns.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <ares.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/dns.h"
#include "common/msg.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

/* ---- resolver_servers ---- */

static const struct {
    const char *text;
    size_t n;
    const char *first;          /* first address, as text */
    unsigned port;              /* first port */
} good_servers[] = {
    {"", 0, NULL, 0},
    {" \t, ", 0, NULL, 0},
    {"127.0.0.1", 1, "127.0.0.1", 53},
    {"127.0.0.1:5353", 1, "127.0.0.1", 5353},
    {"[127.0.0.1]:5300", 1, "127.0.0.1", 5300},
    {"[::1]:5353", 1, "::1", 5353},
    {"[::1]", 1, "::1", 53},
    {"::1", 1, "::1", 53},
    {"2001:db8::53", 1, "2001:db8::53", 53},
    {"127.0.0.1:5353, [::1]:5353", 2, "127.0.0.1", 5353},
    {"  127.0.0.2\t[::1]:1,127.0.0.3:65535 ", 3, "127.0.0.2", 53},
};

static const char *const bad_servers[] = {
    "localhost", "dns.example:53", "127.0.0.1:", "127.0.0.1:0",
    "127.0.0.1:65536", "127.0.0.1:53x", "127.0.0.1:-1", "127.0.0.1:000053",
    "[::1", "[::1]x", "[::1]:", "[::1]:99999", "1.2.3.4.5", "1.2.3",
    "1.2.3.4:53:53", "[]:53", "[localhost]:53", "127.0.0.1\xff",
    "127.0.0.1;53", "0x7f.0.0.1",
};

static void test_servers_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(good_servers) / sizeof(*good_servers); i++) {
        dns_server sv[DNS_SERVERS_MAX];
        char text[DNS_TEXT_ADDR];
        strbuf err;
        size_t n = 99;

        sb_init(&err, 256);
        assert_int_equal(dns_servers_parse(good_servers[i].text, sv,
                                           DNS_SERVERS_MAX, &n, &err), 0);
        assert_int_equal(n, good_servers[i].n);
        if (n > 0) {
            assert_non_null(inet_ntop(sv[0].family, sv[0].bytes, text,
                                      sizeof(text)));
            assert_string_equal(text, good_servers[i].first);
            assert_int_equal(sv[0].port, good_servers[i].port);
        }
        sb_release(&err);
    }
}

static void test_servers_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_servers) / sizeof(*bad_servers); i++) {
        dns_server sv[DNS_SERVERS_MAX];
        strbuf err;
        size_t n;

        sb_init(&err, 256);
        if (dns_servers_parse(bad_servers[i], sv, DNS_SERVERS_MAX, &n, &err) == 0)
            fail_msg("accepted bad server list \"%s\"", bad_servers[i]);
        assert_non_null(strstr(sb_str(&err), "resolver_servers: bad server"));
        sb_release(&err);
    }
}

static void test_servers_limits(void **state)
{
    dns_server sv[DNS_SERVERS_MAX];
    strbuf err, list;
    size_t n;
    char *longent;

    (void)state;
    sb_init(&err, 256);
    sb_init(&list, 1024);
    for (int i = 0; i <= DNS_SERVERS_MAX; i++)
        assert_int_equal(sb_printf(&list, "127.0.0.%d ", i + 1), 0);
    assert_int_equal(dns_servers_parse(sb_str(&list), sv, DNS_SERVERS_MAX,
                                       &n, &err), -1);
    assert_non_null(strstr(sb_str(&err), "more than 8 servers"));

    /* An overlong entry is refused and quoted only in part. */
    longent = xmalloc(5001);
    memset(longent, '1', 5000);
    longent[5000] = 0;
    sb_reset(&err);
    assert_int_equal(dns_servers_parse(longent, sv, DNS_SERVERS_MAX, &n, &err), -1);
    assert_true(sb_len(&err) < 200);
    free(longent);
    sb_release(&err);
    sb_release(&list);
}

static void test_open_arguments(void **state)
{
    static const struct {
        const char *servers;
        int timeout_ms, tries;
        bool ok;
    } cases[] = {
        {"127.0.0.1:5353, [::1]:5353", 1000, 2, true},
        {"", 500, 1, true},
        {"127.0.0.1", 0, 2, false},
        {"127.0.0.1", 60001, 2, false},
        {"127.0.0.1", 1000, 0, false},
        {"127.0.0.1", 1000, 11, false},
        {"not-an-address", 1000, 2, false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        strbuf err;
        dns_ctx *ctx;

        sb_init(&err, 256);
        ctx = dns_open(cases[i].servers, cases[i].timeout_ms, cases[i].tries, &err);
        if (cases[i].ok) {
            assert_non_null(ctx);
            assert_false(dns_has_channel(ctx));     /* made by a lookup */
        } else {
            assert_null(ctx);
            assert_true(sb_len(&err) > 0);
        }
        dns_close(ctx);
        sb_release(&err);
    }
}

/* ---- inet_protocols, smtp_address_preference ---- */

static void test_families_and_prefer(void **state)
{
    static const struct {
        const char *text;
        int rc;
        unsigned families;
    } fam[] = {
        {"all", 0, DNS_INET_ALL}, {"ipv4", 0, DNS_INET4}, {"ipv6", 0, DNS_INET6},
        {"ipv4, ipv6", 0, DNS_INET_ALL}, {" IPv4 ", 0, DNS_INET4},
        {"", -1, 0}, {" , ", -1, 0}, {"ipv5", -1, 0}, {"ipv4 ipx", -1, 0},
        {"ipv4\xff", -1, 0},
    };
    static const struct {
        const char *text;
        int rc;
        dns_prefer prefer;
    } pref[] = {
        {"any", 0, DNS_PREFER_ANY}, {"ipv4", 0, DNS_PREFER_IPV4},
        {" ipv6 ", 0, DNS_PREFER_IPV6}, {"IPV6", 0, DNS_PREFER_IPV6},
        {"", -1, 0}, {"all", -1, 0}, {"ipv4 ipv6", -1, 0}, {"ipv", -1, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(fam) / sizeof(*fam); i++) {
        unsigned f = 12345;

        assert_int_equal(dns_families_parse(fam[i].text, &f), fam[i].rc);
        if (fam[i].rc == 0)
            assert_int_equal(f, fam[i].families);
    }
    for (size_t i = 0; i < sizeof(pref) / sizeof(*pref); i++) {
        dns_prefer p = DNS_PREFER_ANY;

        assert_int_equal(dns_prefer_parse(pref[i].text, &p), pref[i].rc);
        if (pref[i].rc == 0)
            assert_int_equal(p, pref[i].prefer);
    }
}

/* ---- literals and names ---- */

static void test_literals(void **state)
{
    static const struct {
        const char *text;
        int family;                 /* 0: not a literal */
        const char *norm;
    } cases[] = {
        {"192.0.2.1", AF_INET, "192.0.2.1"},
        {"2001:DB8:0::1", AF_INET6, "2001:db8::1"},
        {"::ffff:192.0.2.1", AF_INET6, "::ffff:192.0.2.1"},
        {"192.0.2", 0, NULL}, {"[192.0.2.1]", 0, NULL},
        {"IPv6:2001:db8::1", 0, NULL}, {"host.example", 0, NULL},
        {"192.0.2.1 ", 0, NULL}, {"", 0, NULL}, {"192.0.2.256", 0, NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        dns_addr a;

        if (cases[i].family == 0) {
            assert_int_equal(dns_addr_literal(cases[i].text, &a), -1);
            continue;
        }
        assert_int_equal(dns_addr_literal(cases[i].text, &a), 0);
        assert_int_equal(a.family, cases[i].family);
        assert_string_equal(a.text, cases[i].norm);
    }
}

static void test_name_valid(void **state)
{
    static const struct {
        const char *name;
        bool ok;
    } cases[] = {
        {"example.com", true}, {"example.com.", true}, {"a", true},
        {"_25._tcp.mx.example.com", true}, {"xn--bcher-kva.example", true},
        {"1.0.0.127.in-addr.arpa", true},
        {"", false}, {".", false}, {"a..b", false}, {".a", false},
        {"a.b..", false}, {"ex ample.com", false}, {"exa\xc3\xa9mple.com", false},
        {"a/b", false}, {"a\tb", false}, {"*.example", false}, {"a\\.b", false},
    };
    char label[70], name[300];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
        if (dns_name_valid(cases[i].name) != cases[i].ok)
            fail_msg("dns_name_valid(\"%s\") != %d", cases[i].name, cases[i].ok);
    memset(label, 'a', 63);
    label[63] = 0;
    assert_true(dns_name_valid(label));
    label[63] = 'a';
    label[64] = 0;
    assert_false(dns_name_valid(label));        /* 64-byte label */
    memset(name, 'a', sizeof(name));
    for (size_t i = 50; i < sizeof(name); i += 50)
        name[i] = '.';
    name[253] = 0;
    assert_true(dns_name_valid(name));
    name[253] = 'a';
    name[254] = 0;
    assert_false(dns_name_valid(name));         /* 254 bytes */
}

/* ---- MX ordering ---- */

/* A random source replaying a fixed sequence (modulo bound). */
struct seq_rng {
    const unsigned *v;
    size_t n, i;
    unsigned calls;
};

static unsigned seq_random(void *arg, unsigned bound)
{
    struct seq_rng *r = arg;
    unsigned x = r->n ? r->v[r->i++ % r->n] : 0;

    r->calls++;
    return x % bound;
}

/* The hosts of v as one space-separated string (for comparisons). */
static void mx_join(const dns_mx_rr *v, size_t n, strbuf *out)
{
    sb_reset(out);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(sb_printf(out, "%s%s", i ? " " : "", v[i].host), 0);
}

static void test_mx_sort_order(void **state)
{
    /* in: a/20 b/10 c/10 d/5 e/10 -> by preference d | b c e | a; the run
     * of three is shuffled with j = rng(3) then j = rng(2). */
    static const unsigned s00[] = {0, 0}, s21[] = {2, 1}, s10[] = {1, 0};
    static const struct {
        const unsigned *seq;
        const char *want;
    } cases[] = {
        {s00, "d c e b a"},
        {s21, "d b c e a"},         /* j == i-1 each time: no swap */
        {s10, "d e b c a"},
    };
    strbuf out;

    (void)state;
    sb_init(&out, 256);
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        dns_mx_rr v[] = {{20, "a"}, {10, "b"}, {10, "c"}, {5, "d"}, {10, "e"}};
        struct seq_rng rng = {cases[i].seq, 2, 0, 0};

        dns_mx_sort(v, 5, seq_random, &rng);
        mx_join(v, 5, &out);
        assert_string_equal(sb_str(&out), cases[i].want);
        assert_int_equal(rng.calls, 2);     /* singletons draw nothing */
    }
    sb_release(&out);
}

/* A random source that always picks the last slot: order is unchanged. */
static unsigned last_random(void *arg, unsigned bound)
{
    (void)arg;
    return bound - 1;
}

static void test_mx_sort_stable_and_all_orders(void **state)
{
    strbuf out;
    char seen[6][16];
    size_t nseen = 0;

    (void)state;
    sb_init(&out, 256);
    {
        dns_mx_rr v[] = {{10, "x"}, {10, "y"}, {0, "z"}, {10, "w"}};

        dns_mx_sort(v, 4, last_random, NULL);
        mx_join(v, 4, &out);
        assert_string_equal(sb_str(&out), "z x y w");
    }
    /* Every permutation of three equal MX hosts is reachable. */
    for (unsigned a = 0; a < 3; a++)
        for (unsigned b = 0; b < 2; b++) {
            unsigned seq[2] = {a, b};
            struct seq_rng rng = {seq, 2, 0, 0};
            dns_mx_rr v[] = {{7, "p"}, {7, "q"}, {7, "r"}};
            size_t k;

            dns_mx_sort(v, 3, seq_random, &rng);
            mx_join(v, 3, &out);
            for (k = 0; k < nseen; k++)
                if (strcmp(seen[k], sb_str(&out)) == 0)
                    break;
            assert_int_equal(k, nseen);             /* each one is new */
            assert_int_equal(fmt_fixed(seen[nseen++], sizeof(seen[0]), "%s",
                                       sb_str(&out)), 0);
        }
    assert_int_equal(nseen, 6);
    {
        dns_mx_rr one[] = {{1, "only"}};

        dns_mx_sort(one, 1, last_random, NULL);     /* n = 1 and n = 0 */
        dns_mx_sort(one, 0, last_random, NULL);
        assert_string_equal(one[0].host, "only");
    }
    sb_release(&out);
}

/* ---- lookups answered without a query ---- */

/* A resolver pointed at a port where nothing answers. */
static dns_ctx *quiet_ctx(void)
{
    strbuf err;
    dns_ctx *ctx;

    sb_init(&err, 256);
    ctx = dns_open("127.0.0.1:9", 200, 1, &err);
    assert_non_null(ctx);
    sb_release(&err);
    return ctx;
}

static void test_literal_lookups(void **state)
{
    static const struct {
        const char *host;
        unsigned families;
        dns_status st;
        const char *addr;
    } cases[] = {
        {"192.0.2.7", DNS_INET_ALL, DNS_OK, "192.0.2.7"},
        {"192.0.2.7", DNS_INET4, DNS_OK, "192.0.2.7"},
        {"192.0.2.7", DNS_INET6, DNS_NOTFOUND, NULL},
        {"2001:db8::7", DNS_INET6, DNS_OK, "2001:db8::7"},
        {"2001:db8::7", DNS_INET4, DNS_NOTFOUND, NULL},
        {"bad name.example", DNS_INET_ALL, DNS_PERMFAIL, NULL},
        {"", DNS_INET_ALL, DNS_PERMFAIL, NULL},
        {"host.example", 0, DNS_PERMFAIL, NULL},
    };
    dns_ctx *ctx = quiet_ctx();
    dns_result res;

    (void)state;
    dns_result_init(&res);
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        assert_int_equal(dns_addrs(ctx, cases[i].host, cases[i].families,
                                   DNS_PREFER_IPV6, &res), cases[i].st);
        assert_int_equal(res.status, cases[i].st);
        if (cases[i].addr) {
            assert_int_equal(res.naddr, 1);
            assert_string_equal(res.addr[0].text, cases[i].addr);
        } else {
            assert_int_equal(res.naddr, 0);
            assert_true(sb_len(&res.reason) > 0);
        }
    }
    assert_false(dns_has_channel(ctx));
    dns_result_free(&res);
    dns_close(ctx);
}

static void test_bad_names_never_queried(void **state)
{
    dns_ctx *ctx = quiet_ctx();
    dns_result res;
    strbuf name;
    char big[400];

    (void)state;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    dns_result_init(&res);
    sb_init(&name, 256);
    assert_int_equal(dns_mx(ctx, "exa mple.com", &res), DNS_PERMFAIL);
    assert_non_null(strstr(sb_str(&res.reason), "malformed domain name"));
    assert_int_equal(dns_mx(ctx, big, &res), DNS_PERMFAIL);
    assert_true(sb_len(&res.reason) < 512);             /* name is cut */
    assert_int_equal(dns_mx(ctx, "\xff\xfe.example", &res), DNS_PERMFAIL);
    assert_int_equal(dns_tlsa(ctx, "_25._tcp..example", &res), DNS_PERMFAIL);
    assert_int_equal(dns_ptr(ctx, "not-an-address", &res), DNS_PERMFAIL);
    assert_int_equal(dns_fcrdns(ctx, "300.1.1.1", &name, &res), DNS_PERMFAIL);
    assert_int_equal(sb_len(&name), 0);
    assert_false(dns_has_channel(ctx));
    sb_release(&name);
    dns_result_free(&res);
    dns_close(ctx);
}

static void test_unreachable_server_is_tempfail(void **state)
{
    dns_ctx *ctx = quiet_ctx();
    dns_result res;

    (void)state;
    dns_result_init(&res);
    /* Port 9 (discard) on loopback: refused or silent, never an answer. */
    assert_false(dns_has_channel(ctx));
    assert_int_equal(dns_mx(ctx, "example.com", &res), DNS_TEMPFAIL);
    assert_true(dns_has_channel(ctx));
    assert_non_null(strstr(sb_str(&res.reason), "name=example.com type=MX"));
    assert_int_equal(res.nmx, 0);
    assert_int_equal(dns_addrs(ctx, "example.com", DNS_INET_ALL,
                               DNS_PREFER_ANY, &res), DNS_TEMPFAIL);
    dns_result_free(&res);
    dns_close(ctx);
}

/* count_warn - count warnings into *(int *)ctx. */
static void count_warn(enum msg_level level, const char *text, void *ctx)
{
    (void)text;
    if (level == MSG_WARN)
        ++*(int *)ctx;
}

/* fail_malloc, fail_realloc - a c-ares allocator that is always out of memory. */
static void *fail_malloc(size_t size)
{
    (void)size;
    return NULL;
}

static void *fail_realloc(void *p, size_t size)
{
    (void)p;
    (void)size;
    return NULL;
}

/* The channel cannot be made (c-ares out of memory): a logged TEMPFAIL,
 * not a crash; the next lookup makes it once it can. */
static void test_channel_failure_is_tempfail_and_retried(void **state)
{
    dns_ctx *ctx = quiet_ctx();
    dns_result res;
    int warnings = 0;

    (void)state;
    dns_result_init(&res);
    msg_set_capture(count_warn, &warnings);
    /* c-ares' allocator stays ours until its library count drops to 0 */
    assert_int_equal(ares_library_init_mem(ARES_LIB_INIT_ALL, fail_malloc,
                                           free, fail_realloc), ARES_SUCCESS);
    assert_int_equal(dns_mx(ctx, "example.com", &res), DNS_TEMPFAIL);
    assert_false(dns_has_channel(ctx));
    assert_int_equal(dns_tlsa(ctx, "_25._tcp.example.com", &res), DNS_TEMPFAIL);
    ares_library_cleanup();
    msg_set_capture(NULL, NULL);
    assert_int_equal(warnings, 2);              /* each failure logged */
    assert_string_equal(sb_str(&res.reason), "Name service error for "
                        "name=_25._tcp.example.com type=TLSA: Host not found, "
                        "try again (resolver not available)");
    assert_int_equal(dns_addrs(ctx, "example.com", DNS_INET_ALL,
                               DNS_PREFER_ANY, &res), DNS_TEMPFAIL);
    assert_true(dns_has_channel(ctx));
    assert_null(strstr(sb_str(&res.reason), "resolver not available"));
    dns_result_free(&res);
    dns_close(ctx);
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(dns_status_name(DNS_OK), "ok");
    assert_string_equal(dns_status_name(DNS_NOTFOUND), "notfound");
    assert_string_equal(dns_status_name(DNS_NULLMX), "nullmx");
    assert_string_equal(dns_status_name(DNS_TEMPFAIL), "tempfail");
    assert_string_equal(dns_status_name(DNS_PERMFAIL), "permfail");
    assert_string_equal(dns_status_name((dns_status)42), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_servers_good),
        cmocka_unit_test(test_servers_bad),
        cmocka_unit_test(test_servers_limits),
        cmocka_unit_test(test_open_arguments),
        cmocka_unit_test(test_families_and_prefer),
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_name_valid),
        cmocka_unit_test(test_mx_sort_order),
        cmocka_unit_test(test_mx_sort_stable_and_all_orders),
        cmocka_unit_test(test_literal_lookups),
        cmocka_unit_test(test_bad_names_never_queried),
        cmocka_unit_test(test_unreachable_server_is_tempfail),
        cmocka_unit_test(test_channel_failure_is_tempfail_and_retried),
        cmocka_unit_test(test_status_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
