/* Unit tests for maps/ key orders (virtual(5), access(5), transport(5),
 * domains with parent matching, client addresses) and which key matched. */
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
#include "maps/maps.h"

/* joined - the keys as "k1 ~k2 ..." ('~' marks partial keys). */
static void joined(const map_keys *k, strbuf *out)
{
    sb_reset(out);
    for (size_t i = 0; i < k->n; i++)
        assert_int_equal(sb_printf(out, "%s%s%s", i ? " " : "",
                                   k->v[i].partial ? "~" : "", k->v[i].key), 0);
}

static void test_key_orders(void **state)
{
    static const struct {
        enum map_keyorder order;
        const char *delims;
        bool local, parent;
        const char *input;
        const char *keys;
    } cases[] = {
        {MAP_KEYS_VIRTUAL, "+", false, false, "user+ext@example.com",
         "user+ext@example.com ~user@example.com ~@example.com"},
        {MAP_KEYS_VIRTUAL, "+", true, false, "user+ext@example.com",
         "user+ext@example.com ~user@example.com ~user+ext ~user ~@example.com"},
        {MAP_KEYS_VIRTUAL, "", true, false, "user+ext@example.com",
         "user+ext@example.com ~user+ext ~@example.com"},
        {MAP_KEYS_VIRTUAL, "+-", false, false, "a-b+c@x.org",
         "a-b+c@x.org ~a@x.org ~@x.org"},
        {MAP_KEYS_VIRTUAL, "-", false, false, "owner-list@x.org",
         "owner-list@x.org ~@x.org"},
        {MAP_KEYS_VIRTUAL, "-", false, false, "list-request@x.org",
         "list-request@x.org ~@x.org"},
        {MAP_KEYS_VIRTUAL, "+", false, false, "+lead@x.org",
         "+lead@x.org ~@x.org"},
        {MAP_KEYS_VIRTUAL, "+", false, false, "user+@x.org",
         "user+@x.org ~user@x.org ~@x.org"},
        {MAP_KEYS_VIRTUAL, "+", false, false, "bare+ext",
         "bare+ext ~bare"},
        {MAP_KEYS_ACCESS, "+", false, false, "user+ext@mail.example.com",
         "user+ext@mail.example.com ~user@mail.example.com ~mail.example.com"
         " ~.example.com ~.com ~user+ext@ ~user@"},
        {MAP_KEYS_ACCESS, "+", false, true, "user@mail.example.com",
         "user@mail.example.com ~mail.example.com ~example.com ~com ~user@"},
        {MAP_KEYS_ACCESS, "+", false, false, "user@[192.0.2.1]",
         "user@[192.0.2.1] ~[192.0.2.1] ~user@"},
        {MAP_KEYS_TRANSPORT, "+", false, false, "user+ext@sub.example.com",
         "user+ext@sub.example.com ~user@sub.example.com sub.example.com"
         " ~.example.com ~.com ~*"},
        {MAP_KEYS_TRANSPORT, NULL, false, true, "sub.example.com",
         "sub.example.com ~example.com ~com ~*"},
        {MAP_KEYS_DOMAIN, NULL, false, false, "a.b.example.com",
         "a.b.example.com ~.b.example.com ~.example.com ~.com"},
        {MAP_KEYS_DOMAIN, NULL, false, true, "a.b.example.com",
         "a.b.example.com ~b.example.com ~example.com ~com"},
        {MAP_KEYS_CLIENT, NULL, false, false, "192.0.2.10",
         "192.0.2.10 ~192.0.2 ~192.0 ~192"},
        {MAP_KEYS_CLIENT, NULL, false, false, "2001:DB8:0:0:1::5",
         "2001:db8::1:0:0:5 ~2001:db8::1:0:0 ~2001:db8::1:0 ~2001:db8::1"
         " ~2001:db8: ~2001:db8 ~2001"},
        {MAP_KEYS_CLIENT, NULL, false, false, "::ffff:192.0.2.1",
         "192.0.2.1 ~192.0.2 ~192.0 ~192"},
        {MAP_KEYS_CLIENT, NULL, false, false, "not-an-address",
         "not-an-address"},
        {MAP_KEYS_FULL, "+", true, true, "User+X@Example.com",
         "User+X@Example.com"},
    };
    strbuf out;

    (void)state;
    sb_init(&out, 4096);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct map_keyopts o = {cases[i].order, cases[i].delims, cases[i].local,
                                cases[i].parent};
        map_keys k;

        assert_int_equal(map_keys_make(cases[i].input, &o, &k), 0);
        joined(&k, &out);
        if (strcmp(sb_str(&out), cases[i].keys) != 0)
            fail_msg("case %zu %s:\n got  %s\n want %s", i, cases[i].input,
                     sb_str(&out), cases[i].keys);
        map_keys_free(&k);
    }
    {
        struct map_keyopts o = {MAP_KEYS_ACCESS, "+", false, false};
        map_keys k;

        assert_int_equal(map_keys_make("", &o, &k), -1);
        assert_int_equal(k.n, 0);
    }
    sb_release(&out);
}

static void test_split_extension(void **state)
{
    static const struct {
        const char *lp, *delims;
        long at;
    } cases[] = {
        {"user+ext", "+", 4}, {"user", "+", -1}, {"user+ext", "", -1},
        {"user+ext", NULL, -1}, {"a-b+c", "+-", 1}, {"Postmaster", "+", -1},
        {"MAILER-DAEMON", "-", -1}, {"owner-x", "-", -1}, {"owner-x", "+", -1},
        {"x-request", "-", -1}, {"+x", "+", -1}, {"u", "+", -1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(map_split_extension(cases[i].lp, strlen(cases[i].lp),
                                             cases[i].delims), cases[i].at);
}

static void test_lookup_order_and_match(void **state)
{
    char dir[64], path[128], value[512];
    static const char re[] = "/^user\\+ext@/ regexp-full\n/^user@/ regexp-stripped\n";
    struct map_keyopts virt = {MAP_KEYS_VIRTUAL, "+", false, false};
    struct map_keyopts client = {MAP_KEYS_CLIENT, NULL, false, false};
    struct map_match match;
    strbuf r, key, err;
    maplist *ml;
    FILE *fp;

    (void)state;
    sb_init(&r, 1024);
    sb_init(&key, 1024);
    sb_init(&err, 1024);
    assert_int_equal(fmt_fixed(dir, sizeof(dir), "/tmp/tern-keys-XXXXXX"), 0);
    assert_non_null(mkdtemp(dir));
    assert_int_equal(fmt_fixed(path, sizeof(path), "%s/re", dir), 0);
    fp = fopen(path, "w");
    assert_int_equal(fwrite(re, 1, strlen(re), fp), strlen(re));
    assert_int_equal(fclose(fp), 0);

    /* Each key is tried against every table before the next key. */
    assert_int_equal(fmt_fixed(value, sizeof(value),
                               "inline:{ @example.com = catchall, user@example.com = exact },"
                               " regexp:%s", path), 0);
    ml = maplist_open(value, MAP_F_FOLD, &err);
    assert_non_null(ml);
    match.key = &key;
    match.table = NULL;
    assert_int_equal(maplist_lookup_order(ml, "User+Ext@Example.com", &virt, &r, &match),
                     MAP_FOUND);
    assert_string_equal(sb_str(&r), "regexp-full");        /* full key first */
    assert_string_equal(sb_str(&key), "User+Ext@Example.com");
    assert_true(map_is_pattern(match.table));
    assert_int_equal(maplist_lookup_order(ml, "user+other@example.com", &virt, &r, &match),
                     MAP_FOUND);
    assert_string_equal(sb_str(&r), "exact");  /* stripped key: fixed tables only */
    assert_string_equal(sb_str(&key), "user@example.com");
    assert_string_equal(map_spec(match.table),
                        "inline:{ @example.com = catchall, user@example.com = exact }");
    assert_int_equal(maplist_lookup_order(ml, "nobody@example.com", &virt, &r, &match),
                     MAP_FOUND);
    assert_string_equal(sb_str(&r), "catchall");
    assert_string_equal(sb_str(&key), "@example.com");
    assert_int_equal(maplist_lookup_order(ml, "nobody@example.net", &virt, &r, NULL),
                     MAP_NOTFOUND);
    assert_int_equal(maplist_lookup_order(ml, "", &virt, &r, NULL), MAP_NOTFOUND);
    maplist_close(ml);

    ml = maplist_open("inline:{ 192.0.2 = OK, 2001:db8 = REJECT }", MAP_F_FOLD, &err);
    assert_int_equal(maplist_lookup_order(ml, "192.0.2.77", &client, &r, &match), MAP_FOUND);
    assert_string_equal(sb_str(&key), "192.0.2");
    assert_int_equal(maplist_lookup_order(ml, "2001:db8::1", &client, &r, &match), MAP_FOUND);
    assert_string_equal(sb_str(&r), "REJECT");
    assert_int_equal(maplist_lookup_order(ml, "192.0.3.1", &client, &r, &match), MAP_NOTFOUND);
    maplist_close(ml);

    /* A table error stops the search: the caller defers. */
    ml = maplist_open("inline:{ x = y }, fail:down", MAP_F_FOLD, &err);
    match.table = NULL;
    assert_int_equal(maplist_lookup_order(ml, "a@b.c", &virt, &r, &match), MAP_ERROR);
    assert_string_equal(map_spec(match.table), "fail:down");
    maplist_close(ml);

    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
    sb_release(&r);
    sb_release(&key);
    sb_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_orders),
        cmocka_unit_test(test_split_extension),
        cmocka_unit_test(test_lookup_order_and_match),
    };

    msg_open("test", 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
