/*
 * Unit tests for smtp/smtp_reply (reply parsing: multiline, enhanced
 * status codes, garbage, overlong lines, timeouts, lost connections) and
 * smtp/smtp_ehlo (EHLO keyword parsing). Replies are written into a
 * socketpair before they are read, so no test waits on a peer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/tio.h"
#include "smtp/smtp_ehlo.h"
#include "smtp/smtp_reply.h"

/* read_reply - feed text to a tio over a socketpair and read one reply. */
static int read_reply(const char *text, size_t len, bool close_peer,
                      smtp_reply *r, int timeout_ms)
{
    int sv[2], rc;
    tio *t;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(write(sv[0], text, len), (ssize_t)len);
    if (close_peer)
        assert_int_equal(close(sv[0]), 0);
    t = tio_open(sv[1], timeout_ms);
    rc = smtp_reply_read(t, r);
    tio_free(t);
    if (!close_peer)
        assert_int_equal(close(sv[0]), 0);
    assert_int_equal(close(sv[1]), 0);
    return rc;
}

static const struct reply_case {
    const char *in;
    int status;
    int code;
    const char *dsn;
    bool enhanced;
    const char *oneline;
} reply_cases[] = {
    {"250 2.1.5 Ok\r\n", SMTP_REPLY_OK, 250, "2.1.5", true, "250 2.1.5 Ok"},
    {"250 Ok\r\n", SMTP_REPLY_OK, 250, "2.0.0", false, "250 Ok"},
    {"451 try later\r\n", SMTP_REPLY_OK, 451, "4.0.0", false, "451 try later"},
    {"550 5.1.1 <a@b>: unknown\n", SMTP_REPLY_OK, 550, "5.1.1", true,
     "550 5.1.1 <a@b>: unknown"},
    {"550-5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 third\r\n",
     SMTP_REPLY_OK, 550, "5.7.1", true,
     "550-5.7.1 first 550-5.7.1 second 550 5.7.1 third"},
    {"250\r\n", SMTP_REPLY_OK, 250, "2.0.0", false, "250"},
    /* a dsn whose class does not match the code is not taken */
    {"550 2.0.0 odd\r\n", SMTP_REPLY_OK, 550, "5.0.0", false, "550 2.0.0 odd"},
    /* a dsn with too many digits is text */
    {"451 4.1234.1 x\r\n", SMTP_REPLY_OK, 451, "4.0.0", false, "451 4.1234.1 x"},
    {"250 2.0.0\r\n", SMTP_REPLY_OK, 250, "2.0.0", true, "250 2.0.0"},
    /* control and 8-bit bytes: controls become spaces, 8-bit kept */
    {"250 a\tb\x01" "c \xc3\xa9\r\n", SMTP_REPLY_OK, 250, "2.0.0", false,
     "250 a b c \xc3\xa9"},
    /* garbage */
    {"hello\r\n", SMTP_REPLY_BAD, 0, "", false, NULL},
    {"25\r\n", SMTP_REPLY_BAD, 0, "", false, NULL},
    {"250x\r\n", SMTP_REPLY_BAD, 0, "", false, NULL},
    {"150 too low\r\n", SMTP_REPLY_BAD, 0, "", false, NULL},
    {"650 too high\r\n", SMTP_REPLY_BAD, 0, "", false, NULL},
    {"250-a\r\n251 b\r\n", SMTP_REPLY_BAD, 0, "", false, NULL},
    {"", SMTP_REPLY_LOST, 0, "", false, NULL},
    {"250-a\r\n", SMTP_REPLY_LOST, 0, "", false, NULL},
};

/* test_reply_table - every case above, with the peer closed after it. */
static void test_reply_table(void **state)
{
    smtp_reply r;
    strbuf one;

    (void)state;
    smtp_reply_init(&r);
    sb_init(&one, 100000);
    for (size_t i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
        const struct reply_case *c = &reply_cases[i];
        int rc = read_reply(c->in, strlen(c->in), true, &r, 1000);

        assert_int_equal(rc, c->status);
        if (c->status != SMTP_REPLY_OK)
            continue;
        assert_int_equal(r.code, c->code);
        assert_string_equal(r.dsn, c->dsn);
        assert_int_equal(r.enhanced, c->enhanced);
        smtp_reply_oneline(&r, &one);
        assert_string_equal(sb_str(&one), c->oneline);
    }
    sb_release(&one);
    smtp_reply_release(&r);
}

/* test_reply_nul - a NUL byte inside a line is kept harmless. */
static void test_reply_nul(void **state)
{
    smtp_reply r;

    (void)state;
    smtp_reply_init(&r);
    assert_int_equal(read_reply("250 a\0b\r\n", 9, true, &r, 1000),
                     SMTP_REPLY_OK);
    assert_int_equal(sb_len(&r.text), 7);
    assert_memory_equal(sb_str(&r.text), "250 a b", 7);
    smtp_reply_release(&r);
}

/* test_reply_overlong - a huge line is cut, the next reply stays in step. */
static void test_reply_overlong(void **state)
{
    size_t n = 3 * SMTP_REPLY_LINE_MAX;
    char *text = malloc(n + 32);
    smtp_reply r;
    int sv[2];
    tio *t;

    (void)state;
    memcpy(text, "250 ", 4);
    memset(text + 4, 'x', n - 4);
    memcpy(text + n, "\r\n221 bye\r\n", 11);
    smtp_reply_init(&r);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(write(sv[0], text, n + 11), (ssize_t)(n + 11));
    t = tio_open(sv[1], 1000);
    assert_int_equal(smtp_reply_read(t, &r), SMTP_REPLY_OK);
    assert_int_equal(r.code, 250);
    assert_int_equal(sb_len(&r.text), SMTP_REPLY_LINE_MAX);
    assert_int_equal(smtp_reply_read(t, &r), SMTP_REPLY_OK);
    assert_int_equal(r.code, 221);
    tio_free(t);
    close(sv[0]);
    close(sv[1]);
    smtp_reply_release(&r);
    free(text);
}

/* test_reply_too_many_lines - an endless multiline reply is refused. */
static void test_reply_too_many_lines(void **state)
{
    strbuf in;
    smtp_reply r;

    (void)state;
    sb_init(&in, SB_NOLIMIT);
    for (int i = 0; i < SMTP_REPLY_LINES_MAX + 5; i++)
        sb_puts(&in, "250-more\r\n");
    sb_puts(&in, "250 end\r\n");
    smtp_reply_init(&r);
    assert_int_equal(read_reply(sb_str(&in), sb_len(&in), true, &r, 1000),
                     SMTP_REPLY_BAD);
    smtp_reply_release(&r);
    sb_release(&in);
}

/* test_reply_timeout - a silent server is a timeout, not a hang. */
static void test_reply_timeout(void **state)
{
    smtp_reply r;

    (void)state;
    smtp_reply_init(&r);
    assert_int_equal(read_reply("250-partial\r\n", 13, false, &r, 100),
                     SMTP_REPLY_TIMEOUT);
    smtp_reply_release(&r);
}

/* test_dsn_parse - the x.y.z syntax. */
static void test_dsn_parse(void **state)
{
    static const struct {
        const char *s;
        size_t len;
    } cases[] = {
        {"2.0.0", 5}, {"5.1.10 x", 6}, {"4.999.999", 9}, {"3.0.0", 0},
        {"2.0", 0}, {"2..0", 0}, {"2.0.0x", 0}, {"2.0.1000", 0}, {"", 0},
        {"x.0.0", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(smtp_dsn_parse(cases[i].s, strlen(cases[i].s)),
                         cases[i].len);
}

static const struct ehlo_case {
    const char *in;
    unsigned flags;
    uint64_t size;
} ehlo_cases[] = {
    {"250-mx.example Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
     "250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n250-STARTTLS\r\n"
     "250-ENHANCEDSTATUSCODES\r\n250 AUTH PLAIN LOGIN\r\n",
     SMTP_FEAT_PIPELINING | SMTP_FEAT_SIZE | SMTP_FEAT_8BITMIME
     | SMTP_FEAT_SMTPUTF8 | SMTP_FEAT_DSN | SMTP_FEAT_STARTTLS
     | SMTP_FEAT_ENHANCED | SMTP_FEAT_AUTH, 10240000},
    {"250 mx.example\r\n", 0, 0},
    {"250-mx\r\n250-pipelining\r\n250 size\r\n",
     SMTP_FEAT_PIPELINING | SMTP_FEAT_SIZE, 0},
    {"250-mx\r\n250-SIZE 0\r\n250 X-UNKNOWN foo\r\n", SMTP_FEAT_SIZE, 0},
    {"250-mx\r\n250-SIZE 12abc\r\n250 AUTH=LOGIN\r\n",
     SMTP_FEAT_SIZE | SMTP_FEAT_AUTH, 0},
    {"250-mx\r\n250-SIZE 99999999999999999999999\r\n250 PIPELININGX\r\n",
     SMTP_FEAT_SIZE, 0},
    /* the greeting line itself is never a keyword */
    {"250 PIPELINING\r\n", 0, 0},
};

/* test_ehlo_table - keywords, case, SIZE values, unknown keywords. */
static void test_ehlo_table(void **state)
{
    smtp_reply r;
    smtp_features f;

    (void)state;
    smtp_reply_init(&r);
    for (size_t i = 0; i < sizeof(ehlo_cases) / sizeof(ehlo_cases[0]); i++) {
        const struct ehlo_case *c = &ehlo_cases[i];

        assert_int_equal(read_reply(c->in, strlen(c->in), true, &r, 1000),
                         SMTP_REPLY_OK);
        smtp_ehlo_parse(&r, &f);
        assert_int_equal(f.flags, c->flags);
        assert_int_equal(f.size_limit, c->size);
    }
    smtp_reply_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_table),
        cmocka_unit_test(test_reply_nul),
        cmocka_unit_test(test_reply_overlong),
        cmocka_unit_test(test_reply_too_many_lines),
        cmocka_unit_test(test_reply_timeout),
        cmocka_unit_test(test_dsn_parse),
        cmocka_unit_test(test_ehlo_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
