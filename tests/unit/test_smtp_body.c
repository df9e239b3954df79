/*
 * Unit tests for smtp/smtp_body (DATA encoding): golden inputs under
 * data/smtp/NAME.in with the exact wire bytes in NAME.ref (dot-stuffing,
 * CRLF for every kind of line end, Postfix's folding of lines over 998
 * bytes, NUL and 8-bit bytes passed through), fed whole and in chunks of
 * several sizes; plus folding at other limits and the buffer bound.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "smtp/smtp_body.h"

/* slurp - a data file's bytes. */
static void slurp(const char *name, strbuf *out)
{
    char path[512], buf[4096];
    FILE *fp;
    size_t n;

    assert_int_equal(fmt_fixed(path, sizeof(path), "%s/smtp/%s",
                               TERN_TEST_DATA, name), 0);
    fp = fopen(path, "rb");
    assert_non_null(fp);
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
        assert_int_equal(sb_append(out, buf, n), 0);
    assert_int_equal(fclose(fp), 0);
}

/* encode - in through an encoder in chunks of `chunk` bytes. */
static void encode(const strbuf *in, size_t limit, size_t chunk, strbuf *out)
{
    smtp_body b;

    smtp_body_init(&b, limit);
    for (size_t pos = 0; pos < sb_len(in); pos += chunk) {
        size_t n = sb_len(in) - pos < chunk ? sb_len(in) - pos : chunk;

        assert_int_equal(smtp_body_feed(&b, sb_str(in) + pos, n, out), 0);
    }
    assert_int_equal(smtp_body_finish(&b, out), 0);
}

/* test_golden - every golden case, in every chunk size. */
static void test_golden(void **state)
{
    static const char *const names[] = {
        "basic", "lineends", "long", "edges", "empty", "eightbit",
    };
    static const size_t chunks[] = {1, 2, 3, 7, 998, 999, 65536};

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        strbuf in, ref, out;
        char name[64];

        sb_init(&in, SB_NOLIMIT);
        sb_init(&ref, SB_NOLIMIT);
        assert_int_equal(fmt_fixed(name, sizeof(name), "%s.in", names[i]), 0);
        slurp(name, &in);
        assert_int_equal(fmt_fixed(name, sizeof(name), "%s.ref", names[i]), 0);
        slurp(name, &ref);
        for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
            sb_init(&out, SB_NOLIMIT);
            encode(&in, 998, chunks[c], &out);
            assert_int_equal(sb_len(&out), sb_len(&ref));
            assert_memory_equal(sb_str(&out), sb_str(&ref), sb_len(&ref));
            sb_release(&out);
        }
        sb_release(&in);
        sb_release(&ref);
    }
}

/* test_limits - small limits, and 0 = never fold. */
static void test_limits(void **state)
{
    static const struct {
        const char *in;
        size_t limit;
        const char *out;
    } cases[] = {
        {"abcdefghij\r\n", 4, "abcd\r\n efg\r\n hij\r\n.\r\n"},
        {"abcd\r\n", 4, "abcd\r\n.\r\n"},
        {"abcde", 4, "abcd\r\n e\r\n.\r\n"},
        {".abcde\r\n", 3, "..ab\r\n cd\r\n e\r\n.\r\n"},
        {"abcdefghij\r\n", 0, "abcdefghij\r\n.\r\n"},
        {"\r\n\r\n", 2, "\r\n\r\n.\r\n"},
        {"\r", 2, "\r\n.\r\n"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf in, out;

        sb_init(&in, SB_NOLIMIT);
        sb_init(&out, SB_NOLIMIT);
        sb_puts(&in, cases[i].in);
        encode(&in, cases[i].limit, 1, &out);
        assert_string_equal(sb_str(&out), cases[i].out);
        sb_release(&in);
        sb_release(&out);
    }
}

/* test_no_bare_cr_lf - random bytes never give a bare CR or LF. */
static void test_no_bare_cr_lf(void **state)
{
    static const char alphabet[] = "\r\n.a \x00\xff";
    unsigned seed = 12345;
    strbuf in, out;

    (void)state;
    sb_init(&in, SB_NOLIMIT);
    sb_init(&out, SB_NOLIMIT);
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        sb_putc(&in, alphabet[(seed >> 16) % (sizeof(alphabet) - 1)]);
    }
    encode(&in, 5, 13, &out);
    for (size_t i = 0; i < sb_len(&out); i++) {
        if (sb_str(&out)[i] == '\r')
            assert_true(i + 1 < sb_len(&out) && sb_str(&out)[i + 1] == '\n');
        if (sb_str(&out)[i] == '\n')
            assert_true(i > 0 && sb_str(&out)[i - 1] == '\r');
    }
    assert_memory_equal(sb_str(&out) + sb_len(&out) - 5, "\r\n.\r\n", 5);
    sb_release(&in);
    sb_release(&out);
}

/* test_bound - a full output buffer is -1, not an overflow. */
static void test_bound(void **state)
{
    smtp_body b;
    strbuf out;

    (void)state;
    sb_init(&out, 4);
    smtp_body_init(&b, 998);
    assert_int_equal(smtp_body_feed(&b, "abcdef", 6, &out), -1);
    assert_true(sb_len(&out) <= 4);
    sb_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_no_bare_cr_lf),
        cmocka_unit_test(test_bound),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
