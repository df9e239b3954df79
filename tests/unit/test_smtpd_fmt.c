/*
 * Unit tests for smtpd/smtpd_fmt: the Received: header in Postfix's shape,
 * RFC 5322 dates in the local zone, protocol names, the disconnect line's
 * counters and escaped client input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtpd/smtpd_fmt.h"

/* 2024-07-09 12:20:44 UTC, a Tuesday; 2024-07-03 09:46:40 UTC, Wednesday. */
#define T_TUE 1720527644
#define T_WED 1720000000

static void set_tz(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

static void test_date(void **state)
{
    static const struct { const char *tz; time_t t; const char *want; } c[] = {
        {"UTC", T_TUE, "Tue,  9 Jul 2024 12:20:44 +0000 (UTC)"},
        {"UTC", T_WED, "Wed,  3 Jul 2024 09:46:40 +0000 (UTC)"},
        {"CET-1CEST,M3.5.0,M10.5.0/3", T_TUE,
         "Tue,  9 Jul 2024 14:20:44 +0200 (CEST)"},
        {"EST5EDT,M3.2.0,M11.1.0", 1704067200,
         "Sun, 31 Dec 2023 19:00:00 -0500 (EST)"},
        {"IST-5:30", T_TUE, "Tue,  9 Jul 2024 17:50:44 +0530 (IST)"},
    };
    strbuf sb;

    (void)state;
    sb_init(&sb, 256);
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        set_tz(c[i].tz);
        sb_reset(&sb);
        assert_int_equal(smtpd_fmt_date(c[i].t, &sb), 0);
        assert_string_equal(sb_str(&sb), c[i].want);
    }
    sb_release(&sb);
    set_tz("UTC");
}

static void test_received(void **state)
{
    struct smtpd_received r = {
        .helo = "client.example", .client_name = "mail.example.org",
        .client_addr = "192.0.2.10", .myhostname = "mx.example.com",
        .mail_name = "tern", .protocol = "ESMTP", .queue_id = "3B5C44E4B25",
        .rcpt = "bob@example.com", .when = T_TUE,
    };
    strbuf sb;

    (void)state;
    set_tz("UTC");
    sb_init(&sb, 8192);
    assert_int_equal(smtpd_fmt_received(&r, &sb), 0);
    assert_string_equal(sb_str(&sb),
        "Received: from client.example (mail.example.org [192.0.2.10])\r\n"
        "\tby mx.example.com (tern) with ESMTP id 3B5C44E4B25\r\n"
        "\tfor <bob@example.com>; Tue,  9 Jul 2024 12:20:44 +0000 (UTC)\r\n");
    /* several recipients: no "for"; IPv6; no HELO; TLS and AUTH clauses */
    r.rcpt = NULL;
    r.helo = NULL;
    r.client_name = "unknown";
    r.client_addr = "2001:db8::1";
    r.protocol = "ESMTPSA";
    r.tls_info = "(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
        "(256/256 bits))";
    r.auth_user = "alice";
    assert_int_equal(smtpd_fmt_received(&r, &sb), 0);
    assert_string_equal(sb_str(&sb),
        "Received: from unknown (unknown [IPv6:2001:db8::1])\r\n"
        "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
        "\t(Authenticated sender: alice)\r\n"
        "\tby mx.example.com (tern) with ESMTPSA id 3B5C44E4B25;\r\n"
        "\tTue,  9 Jul 2024 12:20:44 +0000 (UTC)\r\n");
    /* control bytes from the client never reach the header raw */
    r.helo = "evil\r\nX-Injected: 1";
    r.tls_info = NULL;
    r.auth_user = NULL;
    assert_int_equal(smtpd_fmt_received(&r, &sb), 0);
    assert_non_null(strstr(sb_str(&sb), "from evil??X-Injected: 1 ("));
    /* a bound that is too small fails instead of cutting */
    sb_release(&sb);
    sb_init(&sb, 40);
    assert_int_equal(smtpd_fmt_received(&r, &sb), -1);
    sb_release(&sb);
}

static void test_protocol(void **state)
{
    static const struct { bool esmtp, tls, auth, utf8; const char *want; } c[] = {
        {false, false, false, false, "SMTP"},
        {true, false, false, false, "ESMTP"},
        {true, true, false, false, "ESMTPS"},
        {true, false, true, false, "ESMTPA"},
        {true, true, true, false, "ESMTPSA"},
        {true, false, false, true, "UTF8SMTP"},
        {true, true, true, true, "UTF8SMTPSA"},
        {true, true, false, true, "UTF8SMTPS"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        assert_string_equal(smtpd_fmt_protocol(c[i].esmtp, c[i].tls, c[i].auth,
                                               c[i].utf8), c[i].want);
}

static void test_counts(void **state)
{
    struct smtpd_count all_ok[] = {
        {"helo", 0, 0}, {"ehlo", 1, 1}, {"auth", 1, 1}, {"mail", 1, 1},
        {"rcpt", 1, 1}, {"data", 1, 1}, {"quit", 1, 1}, {"unknown", 0, 0},
    };
    struct smtpd_count some_failed[] = {
        {"ehlo", 1, 1}, {"mail", 1, 1}, {"rcpt", 0, 1}, {"data", 1, 1},
        {"quit", 1, 1}, {"unknown", 0, 2},
    };
    struct smtpd_count none[] = {{"ehlo", 0, 0}};
    strbuf sb;

    (void)state;
    sb_init(&sb, 1024);
    assert_int_equal(smtpd_fmt_counts(all_ok, 8, &sb), 0);
    assert_string_equal(sb_str(&sb),
                        " ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6");
    sb_reset(&sb);
    assert_int_equal(smtpd_fmt_counts(some_failed, 6, &sb), 0);
    assert_string_equal(sb_str(&sb), " ehlo=1 mail=1 rcpt=0/1 data=1 quit=1 "
                        "unknown=0/2 commands=4/7");
    sb_reset(&sb);
    assert_int_equal(smtpd_fmt_counts(none, 1, &sb), 0);
    assert_string_equal(sb_str(&sb), " commands=0/0");
    sb_release(&sb);
}

static void test_escape(void **state)
{
    static const struct { const char *in; size_t len, max; const char *want; }
    c[] = {
        {"MAIL FROM:<a@b>\r\n", 17, 100, "MAIL FROM:<a@b>\\r\\n"},
        {"a\tb\\c", 5, 100, "a\\tb\\\\c"},
        {"x\0\x01\x7f", 4, 100, "x\\000\\001\\177"},
        {"\xc3\xa9", 2, 100, "\xc3\xa9"},
        {"abcdef", 6, 3, "abc..."},
    };
    strbuf sb;

    (void)state;
    sb_init(&sb, 1024);
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        sb_reset(&sb);
        assert_int_equal(smtpd_fmt_escape(c[i].in, c[i].len, c[i].max, &sb), 0);
        assert_string_equal(sb_str(&sb), c[i].want);
    }
    sb_release(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_date),
        cmocka_unit_test(test_received),
        cmocka_unit_test(test_protocol),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_escape),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
