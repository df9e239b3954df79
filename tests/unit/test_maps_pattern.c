/* Unit tests for maps/ regexp: and pcre: tables: syntax, flags, negation,
 * if/endif, $N substitution, errors naming file:line, reload on change. */
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

#define DATA TERN_TEST_DATA "/maps"

/* capture - collect log lines into the strbuf given as ctx. */
static void capture(enum msg_level level, const char *text, void *ctx)
{
    (void)level;
    assert_int_equal(sb_printf(ctx, "%s\n", text), 0);
}

/* lookup - open "type:DATA/file", look key up, return rc and value. */
static int lookup(const char *type, const char *file, const char *key, strbuf *value)
{
    char spec[512];
    strbuf err;
    map *m;
    int rc;

    assert_int_equal(fmt_fixed(spec, sizeof(spec), "%s:%s/%s", type, DATA, file), 0);
    sb_init(&err, 1024);
    m = map_open(spec, MAP_F_FOLD, &err);
    assert_non_null(m);
    assert_true(map_is_pattern(m));
    rc = map_lookup(m, key, value);
    map_close(m);
    sb_release(&err);
    return rc;
}

static void test_matches(void **state)
{
    static const struct {
        const char *type, *file, *key;
        int rc;
        const char *value;
    } cases[] = {
        {"regexp", "header_checks.regexp", "Subject: buy VIAGRA now", MAP_FOUND, "REJECT spam subject"},
        {"regexp", "header_checks.regexp", "X-Case: yes", MAP_FOUND, "FOUND case-sensitive"},
        {"regexp", "header_checks.regexp", "x-case: yes", MAP_FOUND, "NOT received"},
        {"regexp", "header_checks.regexp", "Received: from x", MAP_NOTFOUND, ""},
        {"regexp", "nested.regexp", "bob+lists@example.com", MAP_FOUND, "ext lists of bob at example.com costs $5"},
        {"regexp", "nested.regexp", "bob@example.com", MAP_FOUND, "user bob"},
        {"regexp", "nested.regexp", "admin@example.com", MAP_FOUND, "admin of example"},
        {"regexp", "nested.regexp", "bob@other.org", MAP_FOUND, "org other"},
        {"regexp", "nested.regexp", "bob@example.net", MAP_NOTFOUND, ""},
        {"regexp", "nested.regexp", "caf\xc3\xa9@example.com", MAP_FOUND, "user caf\xc3\xa9"},
        {"pcre", "canonical.pcre", "root@box.localnet", MAP_FOUND, "root.box@example.com"},
        {"pcre", "canonical.pcre", "Alice@BOX.localnet", MAP_FOUND, "Alice@example.com"},
        {"pcre", "canonical.pcre", "x", MAP_FOUND, "[|x]"},
        {"pcre", "canonical.pcre", "ab-x", MAP_FOUND, "[ab|x]"},
        {"pcre", "canonical.pcre", "CaSe", MAP_FOUND, "exact-case"},
        {"pcre", "canonical.pcre", "case", MAP_NOTFOUND, ""},
        {"pcre", "canonical.pcre", "123", MAP_FOUND, "three digits"},
        {"pcre", "canonical.pcre", "1234", MAP_NOTFOUND, ""},
        {"regexp", "if_no_endif.regexp", "first", MAP_FOUND, "one"},
        {"regexp", "if_no_endif.regexp", "xy", MAP_FOUND, "inner"},
        {"regexp", "stray_endif.regexp", "second", MAP_FOUND, "two"},
    };
    strbuf v, log;

    (void)state;
    sb_init(&v, 4096);
    sb_init(&log, SB_NOLIMIT);
    msg_set_capture(capture, &log);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = lookup(cases[i].type, cases[i].file, cases[i].key, &v);

        if (rc != cases[i].rc || strcmp(sb_str(&v), cases[i].value) != 0)
            fail_msg("%s %s: got %d \"%s\"", cases[i].file, cases[i].key, rc, sb_str(&v));
    }
    assert_non_null(strstr(sb_str(&log), "if_no_endif.regexp:2: if without endif"));
    assert_non_null(strstr(sb_str(&log), "stray_endif.regexp:2: ignoring endif"));
    msg_set_capture(NULL, NULL);
    sb_release(&log);
    sb_release(&v);
}

static void test_errors(void **state)
{
    static const struct {
        const char *type, *file;
        int check;
        const char *error;
    } cases[] = {
        {"regexp", "bad_regex.regexp", -1, "bad_regex.regexp:3: bad regular expression"},
        {"regexp", "bad_flag.regexp", -1, "bad_flag.regexp:1: unknown regexp flag 'q'"},
        {"regexp", "unterminated.regexp", -1, "unterminated.regexp:2: unterminated pattern"},
        {"regexp", "bad_ref.regexp", -1, "bad_ref.regexp:1: replacement index"},
        {"regexp", "negated_ref.regexp", -1, "negated_ref.regexp:1: $N substitution is not possible"},
        {"pcre", "bad.pcre", -1, "bad.pcre:2: bad regular expression"},
        {"pcre", "bad_flag.regexp", -1, "unknown pcre flag 'q'"},
        {"regexp", "if_no_endif.regexp", 1, "if_no_endif.regexp:2: if without endif"},
        {"regexp", "no_such_file", -1, "no_such_file: No such file"},
        {"pcre", "canonical.pcre", 0, ""},
    };
    char spec[512];
    strbuf err, v, log;

    (void)state;
    sb_init(&err, 1024);
    sb_init(&v, 1024);
    sb_init(&log, SB_NOLIMIT);
    msg_set_capture(capture, &log);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc;

        assert_int_equal(fmt_fixed(spec, sizeof(spec), "%s:%s/%s", cases[i].type, DATA,
                                   cases[i].file), 0);
        rc = map_check(spec, &err);
        if (rc != cases[i].check || strstr(sb_str(&err), cases[i].error) == NULL)
            fail_msg("%s: got %d \"%s\"", cases[i].file, rc, sb_str(&err));
        if (cases[i].check < 0)     /* a broken table fails every lookup */
            assert_int_equal(lookup(cases[i].type, cases[i].file, "ok", &v), MAP_ERROR);
    }
    msg_set_capture(NULL, NULL);
    sb_release(&log);
    sb_release(&err);
    sb_release(&v);
}

static void test_hostile_files_and_reload(void **state)
{
    char dir[64], path[128], spec[160];
    static const char good[] = "/^a/ first\n", changed[] = "/^a/ second-version\n";
    FILE *fp;
    strbuf err, v, log;
    map *m;

    (void)state;
    sb_init(&err, 1024);
    sb_init(&v, 1024);
    sb_init(&log, SB_NOLIMIT);
    msg_set_capture(capture, &log);
    assert_int_equal(fmt_fixed(dir, sizeof(dir), "/tmp/tern-pat-XXXXXX"), 0);
    assert_non_null(mkdtemp(dir));
    assert_int_equal(fmt_fixed(path, sizeof(path), "%s/t", dir), 0);
    assert_int_equal(fmt_fixed(spec, sizeof(spec), "regexp:%s", path), 0);
    m = map_open(spec, MAP_F_FOLD, &err);
    assert_non_null(m);

    fp = fopen(path, "w");
    assert_int_equal(fwrite(good, 1, strlen(good), fp), strlen(good));
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(map_lookup(m, "abc", &v), MAP_FOUND);
    assert_string_equal(sb_str(&v), "first");

    fp = fopen(path, "w");                      /* NUL byte on line 2 */
    assert_int_equal(fwrite("/^a/ x\n/b\0/ y\n", 1, 14, fp), 14);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(map_lookup(m, "abc", &v), MAP_ERROR);
    assert_non_null(strstr(map_error(m), "/t:2: NUL byte"));

    fp = fopen(path, "w");                      /* overlong line */
    for (int i = 0; i < MAP_LINE_MAX + 5; i++)
        assert_int_not_equal(fputc('a', fp), EOF);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(map_lookup(m, "abc", &v), MAP_ERROR);
    assert_non_null(strstr(map_error(m), "/t:1: line too long"));

    fp = fopen(path, "w");
    assert_int_equal(fwrite(changed, 1, strlen(changed), fp), strlen(changed));
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(map_lookup(m, "abc", &v), MAP_FOUND);
    assert_string_equal(sb_str(&v), "second-version");
    map_close(m);

    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
    msg_set_capture(NULL, NULL);
    sb_release(&log);
    sb_release(&err);
    sb_release(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_hostile_files_and_reload),
    };

    msg_open("test", 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
