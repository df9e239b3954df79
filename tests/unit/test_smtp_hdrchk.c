/*
 * Unit tests for smtp/smtp_hdrchk: smtp_header_checks on output. A regexp
 * table in a temporary file; messages fed whole and byte by byte (the
 * result must not depend on how the content is split): IGNORE of a field
 * with continuation lines, REPLACE, PREPEND, WARN and an unsupported
 * action, the header's end at the empty line or at a non-header line,
 * body lines that look like headers untouched, bare LF line ends, a last
 * field without a line end, NUL and 8-bit bytes, an over-long field, and
 * the log lines.
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

#include "common/msg.h"
#include "smtp/smtp_hdrchk.h"
#include "testutil.h"

static char table_path[64];

static int setup(void **state)
{
    int fd;
    static const char table[] =
        "/^Received:/ IGNORE\n"
        "/^User-Agent:/ IGNORE\n"
        "/^X-Secret:/ REPLACE X-Secret: hidden\n"
        "/^X-Empty:/ REPLACE\n"
        "/^X-Pre:/ PREPEND X-Added: yes\n"
        "/^Subject:.*warn/ WARN odd subject\n"
        "/^To:/ REJECT no\n";

    (void)state;
    assert_int_equal(fmt_fixed(table_path, sizeof(table_path),
                               "/tmp/tern-hc-XXXXXX"), 0);
    assert_true((fd = mkstemp(table_path)) >= 0);
    assert_int_equal(write(fd, table, sizeof(table) - 1),
                     (ssize_t)sizeof(table) - 1);
    assert_int_equal(close(fd), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    (void)unlink(table_path);
    return 0;
}

/* run - filter in (chunks of step bytes; 0 = whole) into out. */
static void run(maplist *ml, const char *in, size_t len, size_t step,
                strbuf *out)
{
    smtp_hdrchk h;

    smtp_hdrchk_init(&h, ml, "QID1");
    sb_reset(out);
    for (size_t i = 0; i < len;) {
        size_t n = step == 0 || len - i < step ? len - i : step;

        assert_int_equal(smtp_hdrchk_feed(&h, in + i, n, out), 0);
        i += n;
    }
    assert_int_equal(smtp_hdrchk_finish(&h, out), 0);
    smtp_hdrchk_release(&h);
}

#define S(x) x, sizeof(x) - 1

static const struct hc_case {
    const char *in;
    size_t len;
    const char *out;
    size_t outlen;
    const char *log;            /* a substring of the log, or NULL */
} hc_cases[] = {
    { S("Received: from a\r\n\tby b\r\n (c)\r\nFrom: x\r\n\r\nbody\r\n"),
      S("From: x\r\n\r\nbody\r\n"), NULL },
    { S("From: x\r\nUser-Agent: T\r\nX-Secret: 42\r\n\r\nReceived: b\r\n"),
      S("From: x\r\nX-Secret: hidden\r\n\r\nReceived: b\r\n"),
      "QID1: replace: header X-Secret: 42: X-Secret: hidden" },
    { S("X-Empty: a\r\nX-Pre: b\r\nSubject: warn me\r\n\r\n"),
      S("X-Added: yes\r\nX-Pre: b\r\nSubject: warn me\r\n\r\n"),
      "QID1: warning: header Subject: warn me: odd subject" },
    { S("To: a\r\n\r\n"), S("To: a\r\n\r\n"),
      "unsupported action in smtp_header_checks map: REJECT no" },
    /* the header ends at a line that is not a field */
    { S("From: x\r\nnot a header\r\nReceived: y\r\n"),
      S("From: x\r\nnot a header\r\nReceived: y\r\n"), NULL },
    /* bare LF, and a last field without a line end */
    { S("Received: a\n\tb\nFrom: x\nUser-Agent: q"), S("From: x\n"), NULL },
    { S("From: x\r\nReceived: y"), S("From: x\r\n"), NULL },
    /* NUL and 8-bit bytes pass as they are */
    { S("From: \xc3\xa9\0x\r\nReceived: \x80\r\n\r\n\0body"),
      S("From: \xc3\xa9\0x\r\n\r\n\0body"), NULL },
    { S(""), S(""), NULL },
    { S("\r\nReceived: body\r\n"), S("\r\nReceived: body\r\n"), NULL },
};

/* test_cases - every case, whole and in 1- and 2-byte pieces. */
static void test_cases(void **state)
{
    maplist *ml;
    strbuf err, out, log;
    char spec[96];

    (void)state;
    sb_init(&err, 1024);
    sb_init(&out, SB_NOLIMIT);
    sb_init(&log, SB_NOLIMIT);
    assert_int_equal(fmt_fixed(spec, sizeof(spec), "regexp:%s", table_path),
                     0);
    assert_non_null(ml = maplist_open(spec, 0, &err));
    msg_set_capture(tu_capture_lines, &log);
    for (size_t i = 0; i < sizeof(hc_cases) / sizeof(*hc_cases); i++) {
        const struct hc_case *hc = &hc_cases[i];

        for (size_t step = 0; step < 3; step++) {
            sb_reset(&log);
            run(ml, hc->in, hc->len, step, &out);
            if (hc->outlen != sb_len(&out)
                || memcmp(hc->out, sb_str(&out), hc->outlen) != 0)
                fail_msg("case %zu step %zu: got \"%s\"", i, step,
                         sb_str(&out));
            if (hc->log != NULL && strstr(sb_str(&log), hc->log) == NULL)
                fail_msg("case %zu: log \"%s\"", i, sb_str(&log));
        }
    }
    msg_set_capture(NULL, NULL);
    maplist_close(ml);
    sb_release(&err);
    sb_release(&out);
    sb_release(&log);
}

/* test_overlong_field - past the bound, the rest passes unchecked. */
static void test_overlong_field(void **state)
{
    maplist *ml;
    strbuf err, in, out;
    char spec[96];

    (void)state;
    sb_init(&err, 1024);
    sb_init(&in, SB_NOLIMIT);
    sb_init(&out, SB_NOLIMIT);
    assert_int_equal(fmt_fixed(spec, sizeof(spec), "regexp:%s", table_path),
                     0);
    assert_non_null(ml = maplist_open(spec, 0, &err));
    assert_int_equal(sb_puts(&in, "X-Long: "), 0);
    for (size_t i = 0; i < SMTP_HDRCHK_FIELD_MAX; i++)
        assert_int_equal(sb_putc(&in, 'a'), 0);
    assert_int_equal(sb_puts(&in, "\r\nReceived: kept\r\n\r\n"), 0);
    run(ml, sb_str(&in), sb_len(&in), 0, &out);
    assert_int_equal(sb_len(&out), sb_len(&in));
    assert_memory_equal(sb_str(&out), sb_str(&in), sb_len(&in));
    run(ml, sb_str(&in), sb_len(&in), 4096, &out);
    assert_int_equal(sb_len(&out), sb_len(&in));
    maplist_close(ml);
    sb_release(&err);
    sb_release(&in);
    sb_release(&out);
}

/* test_no_tables - without smtp_header_checks everything passes. */
static void test_no_tables(void **state)
{
    static const char in[] = "Received: x\r\n\r\nbody";
    strbuf out;

    (void)state;
    sb_init(&out, SB_NOLIMIT);
    run(NULL, in, sizeof(in) - 1, 0, &out);
    assert_string_equal(sb_str(&out), in);
    sb_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_overlong_field),
        cmocka_unit_test(test_no_tables),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
