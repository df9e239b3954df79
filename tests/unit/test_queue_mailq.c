/* Unit tests for queue/mailq: postqueue -p and -j output, byte for byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/strbuf.h"
#include "queue/mailq.h"

static const mailq_rcpt rc_bob[] = {{"bob@example.net", NULL, NULL, false}};
static const mailq_rcpt rc_deferred[] = {
    {"carol@example.com", NULL,
     "connect to mx.example.com[192.0.2.25]:25: Connection timed out", false},
    {"dave@example.com", NULL,
     "connect to mx.example.com[192.0.2.25]:25: Connection timed out", false},
};
static const mailq_rcpt rc_eve[] = {{"eve@example.com", NULL, NULL, false}};

/* test_detach - the buffer's string, the buffer released. */
static char *test_detach(strbuf *sb)
{
    char *s = sb_detach(sb);

    sb_release(sb);
    return s;
}

/* The three messages of COMPAT.md 4b's example. */
static const mailq_entry compat_example[] = {
    {"active", "3B5C44E4B25", 1720527644, 1340, false, false,
     "alice@example.org", rc_bob, 1},
    {"deferred", "8045F2AB23", 1720480000, 31669, false, false,
     "", rc_deferred, 2},
    {"hold", "A1B2C3D4E5", 1720480000, 2048, false, false,
     "bounce@example.org", rc_eve, 1},
};

static const char compat_expected[] =
    "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
    "3B5C44E4B25*    1340 Tue Jul  9 12:20:44  alice@example.org\n"
    "                                         bob@example.net\n"
    "\n"
    "8045F2AB23    31669 Mon Jul  8 23:06:40  MAILER-DAEMON\n"
    "              (connect to mx.example.com[192.0.2.25]:25: Connection timed out)\n"
    "                                         carol@example.com\n"
    "                                         dave@example.com\n"
    "\n"
    "A1B2C3D4E5!    2048 Mon Jul  8 23:06:40  bounce@example.org\n"
    "                                         eve@example.com\n"
    "\n"
    "-- 34 Kbytes in 3 Requests.\n";

static int utc(void **state)
{
    (void)state;
    setenv("TZ", "UTC", 1);
    tzset();
    return 0;
}

/* listing - format entries and the trailer into a string. */
static char *listing(const mailq_entry *e, size_t n, bool long_ids)
{
    mailq_fmt fmt;
    strbuf out;

    sb_init(&out, SB_NOLIMIT);
    mailq_fmt_init(&fmt, long_ids);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(mailq_format(&fmt, &e[i], &out), 0);
    assert_int_equal(mailq_trailer(&fmt, &out), 0);
    return test_detach(&out);
}

static void test_compat_example(void **state)
{
    char *text = listing(compat_example, 3, false);

    (void)state;
    assert_string_equal(text, compat_expected);
    free(text);
}

static void test_empty_and_single(void **state)
{
    char *text = listing(NULL, 0, false);

    (void)state;
    assert_string_equal(text, "Mail queue is empty\n");
    free(text);
    text = listing(&compat_example[2], 1, false);
    assert_non_null(strstr(text, "\n-- 2 Kbytes in 1 Request.\n"));
    free(text);
}

static void test_long_ids(void **state)
{
    static const mailq_rcpt r[] = {{"x y@example.com", NULL, NULL, false}};
    mailq_entry e[] = {
        {"deferred", "4XkLq43Nz9z1mBn5", 1720480000, 500, false, false,
         "a@example.org", r, 1},
        {"active", "4XkLq43Nz9z1mBn6", 1720480000, 1023, false, false,
         "a@example.org", r, 1},
    };
    char *text = listing(e, 2, true);

    (void)state;
    assert_string_equal(text,
        "----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------\n"
        "4XkLq43Nz9z1mBn5       500 Mon Jul  8 23:06:40 a@example.org\n"
        "                                               \"x y\"@example.com\n"
        "\n"
        "4XkLq43Nz9z1mBn6*     1023 Mon Jul  8 23:06:40 a@example.org\n"
        "                                               \"x y\"@example.com\n"
        "\n"
        "-- 1 Kbytes in 2 Requests.\n");
    free(text);
}

static void test_reason_runs(void **state)
{
    static const mailq_rcpt r[] = {
        {"a@x.example", NULL, "r1", false},
        {"b@x.example", NULL, "r1", false},
        {"c@x.example", NULL, NULL, false},
        {"d@x.example", NULL, "r2\twith\001ctl", false},
    };
    mailq_entry e = {"deferred", "ABCDEF12345", 1720480000, 10, false, false,
                     "s\x01@x.example", r, 4};
    char *text = listing(&e, 1, false);

    (void)state;
    assert_string_equal(text,
        "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
        "ABCDEF12345       10 Mon Jul  8 23:06:40  \"s?\"@x.example\n"
        "                                                                          (r1)\n"
        "                                         a@x.example\n"
        "                                         b@x.example\n"
        "                                                          (reason unavailable)\n"
        "                                         c@x.example\n"
        "                                                                 (r2?with?ctl)\n"
        "                                         d@x.example\n"
        "\n"
        "-- 0 Kbytes in 1 Request.\n");
    free(text);
}

static void test_overlong_reason_no_padding(void **state)
{
    char reason[200];
    mailq_rcpt r[1] = {{"a@x.example", NULL, reason, false}};
    mailq_entry e = {"deferred", "ABCDE1", 0, 1, false, false, "", r, 1};
    char *text;

    (void)state;
    memset(reason, 'r', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = 0;
    text = listing(&e, 1, false);
    assert_non_null(strstr(text, "\n(rrrr"));
    free(text);
}

static void test_json_line(void **state)
{
    strbuf out;

    (void)state;
    sb_init(&out, SB_NOLIMIT);
    assert_int_equal(mailq_json(&compat_example[1], &out), 0);
    assert_string_equal(sb_str(&out),
        "{\"queue_name\": \"deferred\", \"queue_id\": \"8045F2AB23\", "
        "\"arrival_time\": 1720480000, \"message_size\": 31669, "
        "\"forced_expire\": false, \"sender\": \"MAILER-DAEMON\", "
        "\"recipients\": [{\"orig_address\": \"carol@example.com\", "
        "\"address\": \"carol@example.com\", \"delay_reason\": "
        "\"connect to mx.example.com[192.0.2.25]:25: Connection timed out\"}, "
        "{\"orig_address\": \"dave@example.com\", \"address\": "
        "\"dave@example.com\", \"delay_reason\": \"connect to "
        "mx.example.com[192.0.2.25]:25: Connection timed out\"}]}\n");
    sb_reset(&out);
    assert_int_equal(mailq_json(&compat_example[0], &out), 0);
    assert_string_equal(sb_str(&out),
        "{\"queue_name\": \"active\", \"queue_id\": \"3B5C44E4B25\", "
        "\"arrival_time\": 1720527644, \"message_size\": 1340, "
        "\"forced_expire\": false, \"sender\": \"alice@example.org\", "
        "\"recipients\": [{\"orig_address\": \"bob@example.net\", "
        "\"address\": \"bob@example.net\"}]}\n");
    sb_release(&out);
}

static void test_json_orig_and_bounce(void **state)
{
    static const mailq_rcpt r[] = {
        {"new@x.example", "old\"q@x.example", "550 no", true}};
    mailq_entry e = {"deferred", "ABC", 5, 7, true, false, "s@x.example", r, 1};
    strbuf out;

    (void)state;
    sb_init(&out, SB_NOLIMIT);
    assert_int_equal(mailq_json(&e, &out), 0);
    assert_string_equal(sb_str(&out),
        "{\"queue_name\": \"deferred\", \"queue_id\": \"ABC\", "
        "\"arrival_time\": 5, \"message_size\": 7, \"forced_expire\": true, "
        "\"sender\": \"s@x.example\", \"recipients\": [{\"orig_address\": "
        "\"\\\"old\\\\\\\"q\\\"@x.example\", \"address\": \"new@x.example\", "
        "\"bounce_reason\": \"550 no\"}]}\n");
    sb_release(&out);
}

static void test_json_quote_table(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        bool utf8;
        const char *out;
    } cases[] = {
        {"plain / text", 12, false, "plain / text"},
        {"q\"b\\", 4, false, "q\\\"b\\\\"},
        {"\b\f\n\r\t", 5, false, "\\b\\f\\n\\r\\t"},
        {"\x01\x1f\x7f", 3, false, "\\u0001\\u001F\\u007F"},
        {"a\0b", 3, false, "a\\u0000b"},
        {"caf\xc3\xa9", 5, false, "caf??"},
        {"caf\xc3\xa9", 5, true, "caf\xc3\xa9"},
        {"bad\xc3(", 5, true, "bad?("},
        {"\xed\xa0\x80", 3, true, "???"},           /* surrogate */
        {"\xf4\x90\x80\x80", 4, true, "????"},      /* > U+10FFFF */
        {"\xe2\x82", 2, true, "??"},                /* cut short */
    };
    strbuf out;

    (void)state;
    sb_init(&out, SB_NOLIMIT);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sb_reset(&out);
        assert_int_equal(mailq_json_quote(&out, cases[i].in, cases[i].len,
                                          cases[i].utf8), 0);
        assert_string_equal(sb_str(&out), cases[i].out);
    }
    sb_release(&out);
}

static void test_output_bound(void **state)
{
    mailq_fmt fmt;
    strbuf out;

    (void)state;
    sb_init(&out, 20);
    mailq_fmt_init(&fmt, false);
    assert_int_equal(mailq_format(&fmt, &compat_example[0], &out), -1);
    assert_int_equal(mailq_json(&compat_example[0], &out), -1);
    sb_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compat_example),
        cmocka_unit_test(test_empty_and_single),
        cmocka_unit_test(test_long_ids),
        cmocka_unit_test(test_reason_runs),
        cmocka_unit_test(test_overlong_reason_no_padding),
        cmocka_unit_test(test_json_line),
        cmocka_unit_test(test_json_orig_and_bounce),
        cmocka_unit_test(test_json_quote_table),
        cmocka_unit_test(test_output_bound),
    };

    return cmocka_run_group_tests(tests, utc, NULL);
}
