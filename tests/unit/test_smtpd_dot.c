/*
 * Unit tests for smtpd/smtpd_dot: where DATA content ends. Every case is
 * fed whole, one byte at a time, and in many random splits; all three must
 * agree on the outcome, the unstuffed content and how much was consumed,
 * so no split of the input can turn one message into two.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd_dot.h"

#define S(x) x, sizeof(x) - 1

struct dot_case {
    const char *name;
    const char *in;
    size_t len;
    enum smtpd_dot_state end;   /* state after feeding everything */
    const char *out;            /* content before the end (or the error) */
    size_t outlen;
    size_t consumed;            /* bytes taken; the rest is the next command */
    bool nul;
};

static const struct dot_case cases[] = {
    {"end", S("a\r\n.\r\n"), SMTPD_DOT_DONE, S("a\r\n"), 6, false},
    {"empty message", S(".\r\n"), SMTPD_DOT_DONE, S(""), 3, false},
    {"blank line then end", S("\r\n.\r\n"), SMTPD_DOT_DONE, S("\r\n"), 5, false},
    {"dot-stuffing removed", S("a\r\n..b\r\n.\r\n"), SMTPD_DOT_DONE,
     S("a\r\n.b\r\n"), 11, false},
    {"stuffed lone dot", S("..\r\n.\r\n"), SMTPD_DOT_DONE, S(".\r\n"), 7, false},
    {"leading dot then text", S(".a\r\n. \r\n.\r\n"), SMTPD_DOT_DONE,
     S("a\r\n \r\n"), 11, false},
    {"dot inside a line", S("a.b\r\n.\r\n"), SMTPD_DOT_DONE, S("a.b\r\n"), 8, false},
    {"pipelined command after end", S("a\r\n.\r\nMAIL FROM:<x@y>\r\n"),
     SMTPD_DOT_DONE, S("a\r\n"), 6, false},
    {"second message after end", S("a\r\n.\r\nb\r\n.\r\n"), SMTPD_DOT_DONE,
     S("a\r\n"), 6, false},
    {"8-bit kept", S("\x80\xff\r\n.\r\n"), SMTPD_DOT_DONE, S("\x80\xff\r\n"), 7,
     false},
    {"NUL dropped and noted", S("a\0b\r\n.\r\n"), SMTPD_DOT_DONE, S("ab\r\n"), 8,
     true},
    /* smuggling variants: never an end */
    {"LF.LF", S("a\n.\nMAIL FROM:<x@y>\r\n"), SMTPD_DOT_BARE_LF, S("a"), 2, false},
    {"CR.CR", S("a\r.\rMAIL FROM:<x@y>\r\n"), SMTPD_DOT_BARE_CR, S("a"), 3, false},
    {"LF.CRLF", S("a\n.\r\n"), SMTPD_DOT_BARE_LF, S("a"), 2, false},
    {"CRLF.LF", S("a\r\n.\nb\r\n.\r\n"), SMTPD_DOT_BARE_LF, S("a\r\n"), 5, false},
    {"CRLF.CR", S("a\r\n.\rb\r\n.\r\n"), SMTPD_DOT_BARE_CR, S("a\r\n"), 6, false},
    {"CRLF.CR at end", S("a\r\n.\r"), SMTPD_DOT_DOT_CR, S("a\r\n"), 5, false},
    {"CR.CRLF", S("a\r.\r\n"), SMTPD_DOT_BARE_CR, S("a"), 3, false},
    {"bare LF in the middle", S("a\nb\r\n.\r\n"), SMTPD_DOT_BARE_LF, S("a"), 2,
     false},
    {"bare CR in the middle", S("a\rb\r\n.\r\n"), SMTPD_DOT_BARE_CR, S("a"), 3,
     false},
    {"CR CR LF", S("a\r\r\n.\r\n"), SMTPD_DOT_BARE_CR, S("a"), 3, false},
    {"LF at start", S("\n.\r\n"), SMTPD_DOT_BARE_LF, S(""), 1, false},
    {"dot LF at start", S(".\n"), SMTPD_DOT_BARE_LF, S(""), 2, false},
    {"unfinished", S("a\r\n."), SMTPD_DOT_DOT, S("a\r\n"), 4, false},
    {"unfinished CR", S("abc\r"), SMTPD_DOT_CR, S("abc"), 4, false},
};

/* run - feed c->in in pieces given by cuts (sorted offsets), check all. */
static void run(const struct dot_case *c, const size_t *cuts, size_t ncuts)
{
    smtpd_dot d;
    strbuf out;
    size_t pos = 0, consumed = 0;

    smtpd_dot_init(&d);
    sb_init(&out, 4096);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : c->len;
        ssize_t n;

        if (end < pos)
            continue;
        n = smtpd_dot_feed(&d, c->in + pos, end - pos, &out);
        assert_true(n >= 0);
        consumed += (size_t)n;
        if ((size_t)n < end - pos) {
            assert_true(smtpd_dot_stopped(&d));
            break;
        }
        pos = end;
    }
    if (d.state != c->end || consumed != c->consumed
        || sb_len(&out) != c->outlen)
        print_error("case \"%s\": state %d consumed %zu out %zu\n", c->name,
                    (int)d.state, consumed, sb_len(&out));
    assert_int_equal(d.state, c->end);
    assert_int_equal(consumed, c->consumed);
    assert_int_equal(sb_len(&out), c->outlen);
    assert_memory_equal(sb_str(&out), c->out, c->outlen);
    assert_int_equal(d.nul, c->nul);
    sb_release(&out);
}

static void test_whole(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run(&cases[i], NULL, 0);
}

static void test_byte_by_byte(void **state)
{
    size_t cuts[64];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_true(cases[i].len < 64);
        for (size_t k = 0; k < cases[i].len; k++)
            cuts[k] = k + 1;
        run(&cases[i], cuts, cases[i].len);
    }
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;

    return x < y ? -1 : x > y;
}

static void test_random_splits(void **state)
{
    unsigned seed = 12345;
    size_t cuts[8];

    (void)state;
    for (int round = 0; round < 500; round++) {
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            size_t n = (size_t)(rand_r(&seed) % 8);

            for (size_t k = 0; k < n; k++)
                cuts[k] = (size_t)rand_r(&seed) % (cases[i].len + 1);
            qsort(cuts, n, sizeof(cuts[0]), cmp_size);
            run(&cases[i], cuts, n);
        }
    }
}

static void test_long_line_and_stop(void **state)
{
    smtpd_dot d;
    strbuf out;
    char big[5000];

    (void)state;
    memset(big, 'x', sizeof(big));
    smtpd_dot_init(&d);
    sb_init(&out, 20000);
    /* a line longer than any line limit is kept whole */
    assert_int_equal(smtpd_dot_feed(&d, big, sizeof(big), &out), 5000);
    assert_int_equal(smtpd_dot_feed(&d, "\r\n.\r\n", 5, &out), 5);
    assert_int_equal(d.state, SMTPD_DOT_DONE);
    assert_int_equal(sb_len(&out), 5002);
    /* once stopped, nothing more is taken */
    assert_int_equal(smtpd_dot_feed(&d, "more", 4, &out), 0);
    sb_release(&out);
    /* an output bound passed is reported, not overrun */
    smtpd_dot_init(&d);
    sb_init(&out, 10);
    assert_int_equal(smtpd_dot_feed(&d, big, 100, &out), -1);
    sb_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_random_splits),
        cmocka_unit_test(test_long_line_and_stop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
