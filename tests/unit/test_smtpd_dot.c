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

/*
 * Split invariance against a reference: smtpd_dot_feed copies runs of
 * plain text in bulk, so random messages (normal lines, long lines past
 * 2048 bytes, stuffed dots, every smuggling ending, NUL and 8-bit bytes)
 * are fed whole, one byte at a time, in random chunks, in 2048-byte pieces
 * and in smtpd's line pieces, and each outcome must equal what a plain
 * per-byte model of the rules in smtpd_dot.h gives.
 */
struct ref_result {
    enum smtpd_dot_state state;
    size_t consumed;
    bool nul, eight_bit;
};

/* ref_text - the per-byte rule inside a line. */
static enum smtpd_dot_state ref_text(unsigned char c, strbuf *out)
{
    if (c == '\r')
        return SMTPD_DOT_CR;
    if (c == '\n')
        return SMTPD_DOT_BARE_LF;
    if (c != '\0')
        assert_int_equal(sb_putc(out, c), 0);
    return SMTPD_DOT_TEXT;
}

/* ref_next - the reference machine: one byte, one state. */
static enum smtpd_dot_state ref_next(enum smtpd_dot_state st, unsigned char c,
                                     strbuf *out)
{
    switch (st) {
    case SMTPD_DOT_BOL:
        return c == '.' ? SMTPD_DOT_DOT : ref_text(c, out);
    case SMTPD_DOT_DOT:
        return c == '\r' ? SMTPD_DOT_DOT_CR : ref_text(c, out);
    case SMTPD_DOT_DOT_CR:
        return c == '\n' ? SMTPD_DOT_DONE : SMTPD_DOT_BARE_CR;
    case SMTPD_DOT_CR:
        if (c != '\n')
            return SMTPD_DOT_BARE_CR;
        assert_int_equal(sb_append(out, "\r\n", 2), 0);
        return SMTPD_DOT_BOL;
    default:
        return ref_text(c, out);
    }
}

/* ref_feed - the whole input through the reference, byte by byte. */
static void ref_feed(const unsigned char *in, size_t len, strbuf *out,
                     struct ref_result *r)
{
    enum smtpd_dot_state st = SMTPD_DOT_BOL;
    size_t i;

    r->nul = r->eight_bit = false;
    for (i = 0; i < len && st != SMTPD_DOT_DONE && st != SMTPD_DOT_BARE_LF
         && st != SMTPD_DOT_BARE_CR; i++) {
        r->nul |= in[i] == '\0';
        r->eight_bit |= in[i] >= 0x80;
        st = ref_next(st, in[i], out);
    }
    r->state = st;
    r->consumed = i;
}

/* Pieces of a random message; plain text is the most common. */
static const char *const gen_tokens[] = {
    "Subject: hello", "some ordinary body text", "x", "\r\n", "\r\n", "\r\n",
    "\r\n..stuffed", "\r\n.", ".", "\r", "\n", "\r\n.\n", "\r.\r", "\n.\r\n",
    "\r\n.\r", "\xc3\xa9t\xc3\xa9", "\x80", "\xff",
};

/* gen_message - a random message of plain lines and hostile bytes. */
static void gen_message(unsigned *seed, strbuf *m)
{
    size_t ntok = 1 + (size_t)rand_r(seed) % 60;
    size_t ngen = sizeof(gen_tokens) / sizeof(gen_tokens[0]);

    sb_reset(m);
    for (size_t k = 0; k < ntok; k++) {
        int r = rand_r(seed) % 100;

        if (r < 40)
            assert_int_equal(sb_puts(m, "a plain line of text\r\n"), 0);
        else if (r < 44) {
            size_t n = (size_t)rand_r(seed) % 5000;     /* past 2048 */

            for (size_t j = 0; j < n; j++)
                assert_int_equal(sb_putc(m, 'a' + (int)(j % 26)), 0);
        } else if (r < 46)
            assert_int_equal(sb_putc(m, '\0'), 0);
        else if (r < 48 && rand_r(seed) % 8 == 0)
            assert_int_equal(sb_puts(m, "\r\n.\r\n"), 0);
        else
            assert_int_equal(sb_puts(m, gen_tokens[(size_t)rand_r(seed)
                                                   % ngen]), 0);
    }
    if (rand_r(seed) % 2)
        assert_int_equal(sb_puts(m, "\r\n.\r\nQUIT\r\n"), 0);
}

/* Ways to cut an input into feeds. */
enum split_kind { SPLIT_WHOLE, SPLIT_BYTE, SPLIT_RANDOM, SPLIT_2048,
                  SPLIT_LINES, SPLIT_KINDS };

/* split_next - the end of the next feed starting at pos. */
static size_t split_next(enum split_kind k, const unsigned char *in,
                         size_t len, size_t pos, unsigned *seed)
{
    const unsigned char *nl;

    switch (k) {
    case SPLIT_BYTE:
        return pos + 1;
    case SPLIT_RANDOM:
        return pos + 1 + (size_t)rand_r(seed) % 700;
    case SPLIT_2048:
        return pos + 2048;
    case SPLIT_LINES:       /* smtpd's pieces: to each LF, at most 2048 */
        nl = memchr(in + pos, '\n', len - pos);
        if (nl != NULL && (size_t)(nl - in) + 1 - pos <= 2048)
            return (size_t)(nl - in) + 1;
        return pos + 2048;
    default:
        return len;
    }
}

/* split_run - feed in by kind; compare with the reference outcome. */
static void split_run(const strbuf *m, enum split_kind k, unsigned *seed,
                      const strbuf *want, const struct ref_result *r)
{
    const unsigned char *in = (const unsigned char *)sb_str(m);
    size_t len = sb_len(m), pos = 0, consumed = 0;
    smtpd_dot d;
    strbuf out;

    smtpd_dot_init(&d);
    sb_init(&out, SB_NOLIMIT);
    for (int guard = 0; pos < len && guard < 1000000; guard++) {
        size_t end = split_next(k, in, len, pos, seed);
        ssize_t n;

        if (end > len)
            end = len;
        n = smtpd_dot_feed(&d, in + pos, end - pos, &out);
        assert_true(n >= 0);
        consumed += (size_t)n;
        if ((size_t)n < end - pos || smtpd_dot_stopped(&d))
            break;
        pos = end;
    }
    if (d.state != r->state || consumed != r->consumed)
        print_error("split %d: state %d/%d consumed %zu/%zu\n", (int)k,
                    (int)d.state, (int)r->state, consumed, r->consumed);
    assert_int_equal(d.state, r->state);
    assert_int_equal(consumed, r->consumed);
    assert_int_equal(d.nul, r->nul);
    assert_int_equal(d.eight_bit, r->eight_bit);
    assert_int_equal(sb_len(&out), sb_len(want));
    assert_memory_equal(sb_str(&out), sb_str(want), sb_len(want));
    sb_release(&out);
}

static void test_splits_match_reference(void **state)
{
    unsigned seed = 4242;
    strbuf m, want;
    struct ref_result r;
    size_t ends[SMTPD_DOT_BARE_CR + 1] = {0};

    (void)state;
    sb_init(&m, SB_NOLIMIT);
    sb_init(&want, SB_NOLIMIT);
    for (int round = 0; round < 400; round++) {
        gen_message(&seed, &m);
        sb_reset(&want);
        ref_feed((const unsigned char *)sb_str(&m), sb_len(&m), &want, &r);
        ends[r.state]++;
        for (int k = 0; k < SPLIT_KINDS; k++)
            split_run(&m, (enum split_kind)k, &seed, &want, &r);
    }
    /* the generator reached the end and every error */
    assert_true(ends[SMTPD_DOT_DONE] > 0);
    assert_true(ends[SMTPD_DOT_BARE_LF] > 0);
    assert_true(ends[SMTPD_DOT_BARE_CR] > 0);
    sb_release(&m);
    sb_release(&want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_random_splits),
        cmocka_unit_test(test_long_line_and_stop),
        cmocka_unit_test(test_splits_match_reference),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
