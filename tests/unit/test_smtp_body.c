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
#include <stdbool.h>
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

/*
 * Split invariance against a reference: smtp_body_feed copies runs between
 * line ends in bulk up to each fold point, so random content (CRLF, bare
 * CR and LF, leading dots, NUL and 8-bit bytes, lines far past the limit)
 * is encoded at several limits, fed one byte at a time, in random chunks,
 * in 2048-byte and in whole pieces, and must equal what a plain per-byte
 * model of the rules in smtp_body.h gives.
 */
struct ref_enc {
    size_t limit, col;
    bool bol, cr;
};

/* ref_eol - the reference's line end. */
static void ref_eol(struct ref_enc *r, strbuf *out)
{
    r->col = 0;
    r->bol = true;
    assert_int_equal(sb_append(out, "\r\n", 2), 0);
}

/* ref_encode - whole input, one byte at a time, then the final dot. */
static void ref_encode(const strbuf *in, size_t limit, strbuf *out)
{
    struct ref_enc r = { limit, 0, true, false };

    for (size_t i = 0; i < sb_len(in); i++) {
        char c = sb_str(in)[i];

        if (r.cr) {
            r.cr = false;
            ref_eol(&r, out);
            if (c == '\n')
                continue;
        }
        if (c == '\r') {
            r.cr = true;
            continue;
        }
        if (c == '\n') {
            ref_eol(&r, out);
            continue;
        }
        if (r.limit > 0 && r.col >= r.limit) {
            assert_int_equal(sb_append(out, "\r\n ", 3), 0);
            r.col = 1;
        }
        if (r.bol && c == '.')
            assert_int_equal(sb_putc(out, '.'), 0);
        r.bol = false;
        r.col++;
        assert_int_equal(sb_putc(out, c), 0);
    }
    if (r.cr)
        ref_eol(&r, out);
    if (!r.bol)
        ref_eol(&r, out);
    assert_int_equal(sb_append(out, ".\r\n", 3), 0);
}

/* gen_content - random stored content with every kind of line end. */
static void gen_content(unsigned *seed, strbuf *m)
{
    static const char *const tokens[] = {
        "\r\n", "\r\n", "\r\n", "\n", "\r", ".", "..", "\r\n.", "\r\n.\r\n",
        "text", "Subject: x", "\xc3\xa9", "\xff", " ",
    };
    size_t ntok = 1 + (size_t)rand_r(seed) % 80;

    sb_reset(m);
    for (size_t k = 0; k < ntok; k++) {
        int r = rand_r(seed) % 100;

        if (r < 40)
            assert_int_equal(sb_puts(m, "a plain line of text\r\n"), 0);
        else if (r < 45) {
            size_t n = (size_t)rand_r(seed) % 3000;     /* past 998, 2048 */

            for (size_t j = 0; j < n; j++)
                assert_int_equal(sb_putc(m, 'a' + (int)(j % 26)), 0);
        } else if (r < 47)
            assert_int_equal(sb_putc(m, '\0'), 0);
        else
            assert_int_equal(sb_puts(m, tokens[(size_t)rand_r(seed)
                                               % (sizeof(tokens)
                                                  / sizeof(tokens[0]))]), 0);
    }
}

/* encode_split - in through an encoder in random (0) or fixed chunks. */
static void encode_split(const strbuf *in, size_t limit, size_t chunk,
                         unsigned *seed, strbuf *out)
{
    smtp_body b;
    size_t pos = 0;

    smtp_body_init(&b, limit);
    while (pos < sb_len(in)) {
        size_t n = chunk ? chunk : 1 + (size_t)rand_r(seed) % 1500;

        if (n > sb_len(in) - pos)
            n = sb_len(in) - pos;
        assert_int_equal(smtp_body_feed(&b, sb_str(in) + pos, n, out), 0);
        pos += n;
    }
    assert_int_equal(smtp_body_finish(&b, out), 0);
}

static void test_splits_match_reference(void **state)
{
    static const size_t limits[] = {0, 1, 2, 5, 78, 998};
    static const size_t chunks[] = {1, 0, 2048, 65536};
    unsigned seed = 777;
    strbuf in, want, out;

    (void)state;
    sb_init(&in, SB_NOLIMIT);
    sb_init(&want, SB_NOLIMIT);
    sb_init(&out, SB_NOLIMIT);
    for (int round = 0; round < 200; round++) {
        gen_content(&seed, &in);
        for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
            sb_reset(&want);
            ref_encode(&in, limits[l], &want);
            for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
                sb_reset(&out);
                encode_split(&in, limits[l], chunks[c], &seed, &out);
                if (sb_len(&out) != sb_len(&want))
                    print_error("round %d limit %zu chunk %zu: %zu != %zu\n",
                                round, limits[l], chunks[c], sb_len(&out),
                                sb_len(&want));
                assert_int_equal(sb_len(&out), sb_len(&want));
                assert_memory_equal(sb_str(&out), sb_str(&want),
                                    sb_len(&want));
            }
        }
    }
    sb_release(&in);
    sb_release(&want);
    sb_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_no_bare_cr_lf),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_splits_match_reference),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
