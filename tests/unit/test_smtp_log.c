/*
 * Unit tests for smtp/smtp_log: Postfix's delay number format and the
 * whole delivery line (orig_to only when different, conn_use only when
 * a connection was reused, relay=none).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/strbuf.h"
#include "smtp/smtp_log.h"

/* test_delay_format - two significant digits, rounding, no trailing 0. */
static void test_delay_format(void **state)
{
    static const struct {
        double secs;
        const char *text;
    } cases[] = {
        {0, "0"}, {-3.5, "0"}, {0.004, "0"}, {0.005, "0.01"}, {0.01, "0.01"},
        {0.05, "0.05"}, {0.1, "0.1"}, {0.123, "0.12"}, {0.126, "0.13"},
        {0.5, "0.5"}, {0.999, "1"}, {0.9949, "0.99"}, {1, "1"},
        {1.04, "1"}, {1.05, "1.1"}, {1.23, "1.2"}, {9.94, "9.9"},
        {9.96, "10"}, {10.4, "10"}, {10.5, "11"}, {99.9, "100"},
        {123.4, "123"}, {3600.2, "3600"}, {86400 * 5.0, "432000"},
    };
    strbuf out;

    (void)state;
    sb_init(&out, 100);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sb_reset(&out);
        smtp_delay_format(cases[i].secs, &out);
        assert_string_equal(sb_str(&out), cases[i].text);
    }
    sb_release(&out);
}

/* test_log_line - the whole line in its variants. */
static void test_log_line(void **state)
{
    static const struct {
        smtp_log_info li;
        const char *text;
    } cases[] = {
        {{.to = "bob@example.net", .orig_to = "", .relay =
          "mx.example.net[198.51.100.7]:25", .conn_use = 1, .delay = 0.9,
          .delays = {0.1, 0.01, 0.3, 0.5}, .dsn = "2.0.0", .status = "sent",
          .reason = "250 2.0.0 Ok: queued as 4F00A12B"},
         "to=<bob@example.net>, relay=mx.example.net[198.51.100.7]:25, "
         "delay=0.9, delays=0.1/0.01/0.3/0.5, dsn=2.0.0, status=sent "
         "(250 2.0.0 Ok: queued as 4F00A12B)"},
        {{.to = "a@x", .orig_to = "alias@x", .relay = "none", .conn_use = 1,
          .delay = 12.3, .delays = {12, 0.2, 0.05, 0}, .dsn = "4.4.1",
          .status = "deferred",
          .reason = "connect to x[127.0.0.1]:25: Connection refused"},
         "to=<a@x>, orig_to=<alias@x>, relay=none, delay=12, "
         "delays=12/0.2/0.05/0, dsn=4.4.1, status=deferred "
         "(connect to x[127.0.0.1]:25: Connection refused)"},
        {{.to = "a@x", .orig_to = "a@x", .relay = "h[1.2.3.4]:25",
          .conn_use = 2, .delay = 0, .delays = {0, 0, 0, 0}, .dsn = "5.1.1",
          .status = "bounced", .reason = "host h[1.2.3.4] said: 550 no"},
         "to=<a@x>, relay=h[1.2.3.4]:25, conn_use=2, delay=0, "
         "delays=0/0/0/0, dsn=5.1.1, status=bounced (host h[1.2.3.4] said:"
         " 550 no)"},
    };
    strbuf out;

    (void)state;
    sb_init(&out, 4096);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sb_reset(&out);
        smtp_log_format(&cases[i].li, &out);
        assert_string_equal(sb_str(&out), cases[i].text);
    }
    sb_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delay_format),
        cmocka_unit_test(test_log_line),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
