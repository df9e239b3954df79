/* Unit tests for sendmail's header scanning (-t) and command line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "queue/qfile.h"
#include "queue/sm_args.h"
#include "queue/sm_hdr.h"

/* test_detach - the buffer's string, the buffer released. */
static char *test_detach(strbuf *sb)
{
    char *s = sb_detach(sb);

    sb_release(sb);
    return s;
}

/* join - the addresses of a list as "a|b|c". */
static char *join(const sm_addrs *a)
{
    strbuf out;

    sb_init(&out, SB_NOLIMIT);
    for (size_t i = 0; i < a->count; i++) {
        if (i > 0)
            sb_putc(&out, '|');
        sb_puts(&out, a->items[i]);
    }
    return test_detach(&out);
}

static void test_address_lists(void **state)
{
    static const struct {
        const char *in;
        const char *out;        /* NULL: an error is expected */
    } cases[] = {
        {"a@x.example", "a@x.example"},
        {" a@x.example , b@y.example ", "a@x.example|b@y.example"},
        {"Joe Q. Public <john.q@x.example>", "john.q@x.example"},
        {"\"Last, First\" <lf@x.example>, c@x.example",
         "lf@x.example|c@x.example"},
        {"a@x.example (comment, with comma)", "a@x.example"},
        {"(nested (comment)) <n@x.example>", "n@x.example"},
        {"team: m1@x.example, Two <m2@x.example>;, after@x.example",
         "m1@x.example|m2@x.example|after@x.example"},
        {"undisclosed-recipients:;", ""},
        {"\"quoted local\"@x.example", "\"quoted local\"@x.example"},
        {"john . doe @ x.example", "john.doe@x.example"},
        {"<@relay.example:route@x.example>", "@relay.example:route@x.example"},
        {"root", "root"},
        {"a@x.example,\n\tb@x.example", "a@x.example|b@x.example"},
        {",,,", ""},
        {"Joe john@x.example", NULL},
        {"<a@x.example", NULL},
        {"\"unterminated@x.example", NULL},
        {"(open comment a@x.example", NULL},
        {"<a<b>@x.example>", NULL},
        {"A <a@x.example> <b@x.example>", NULL},
    };
    strbuf why;

    (void)state;
    sb_init(&why, 256);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sm_addrs a;
        int rc;

        sm_addrs_init(&a, 100);
        sb_reset(&why);
        rc = sm_addr_list(cases[i].in, strlen(cases[i].in), &a, &why);
        if (cases[i].out == NULL) {
            assert_int_equal(rc, -1);
            assert_true(sb_len(&why) > 0);
        } else {
            char *got = join(&a);

            assert_int_equal(rc, 0);
            assert_string_equal(got, cases[i].out);
            free(got);
        }
        sm_addrs_free(&a);
    }
    sb_release(&why);
}

static void test_address_limits(void **state)
{
    char big[SM_ADDR_TEXT_MAX + 50];
    sm_addrs a;
    strbuf why;

    (void)state;
    sb_init(&why, 256);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    sm_addrs_init(&a, 2);
    assert_int_equal(sm_addr_list(big, strlen(big), &a, &why), -1);
    assert_int_equal(a.count, 0);
    sb_reset(&why);
    assert_int_equal(sm_addr_list("a@x, b@x, c@x", 13, &a, &why), -1);
    assert_non_null(strstr(sb_str(&why), "too many"));
    sm_addrs_free(&a);
    sb_release(&why);
}

static void test_extract_bcc_removed(void **state)
{
    static const char msg[] =
        "From: me@x.example\n"
        "To: Alice <alice@x.example>,\n"
        "  bob@x.example\n"
        "Subject: hi\n"
        "bcc: hidden@x.example,\n"
        "\tsecret@x.example\n"
        "CC: carol@x.example\n"
        "\n"
        "To: not-a-header@x.example\n"
        "body\n";
    sm_addrs a;
    strbuf out, why;
    char *got;

    (void)state;
    sm_addrs_init(&a, 100);
    sb_init(&out, SB_NOLIMIT);
    sb_init(&why, 256);
    assert_int_equal(sm_hdr_extract(msg, strlen(msg), &a, &out, &why), 0);
    got = join(&a);
    assert_string_equal(got, "alice@x.example|bob@x.example|hidden@x.example"
                        "|secret@x.example|carol@x.example");
    free(got);
    assert_string_equal(sb_str(&out),
        "From: me@x.example\n"
        "To: Alice <alice@x.example>,\n"
        "  bob@x.example\n"
        "Subject: hi\n"
        "CC: carol@x.example\n"
        "\n"
        "To: not-a-header@x.example\n"
        "body\n");
    sm_addrs_free(&a);
    sb_release(&out);
    sb_release(&why);
}

static void test_extract_resent(void **state)
{
    static const char msg[] =
        "To: original@x.example\n"
        "Resent-To: again@x.example\n"
        "Resent-Bcc: quiet@x.example\n"
        "Bcc: old-bcc@x.example\n"
        "\n"
        "body\n";
    sm_addrs a;
    strbuf out, why;
    char *got;

    (void)state;
    sm_addrs_init(&a, 100);
    sb_init(&out, SB_NOLIMIT);
    sb_init(&why, 256);
    assert_int_equal(sm_hdr_extract(msg, strlen(msg), &a, &out, &why), 0);
    got = join(&a);
    assert_string_equal(got, "again@x.example|quiet@x.example");
    free(got);
    assert_string_equal(sb_str(&out),
        "To: original@x.example\nResent-To: again@x.example\n\nbody\n");
    sm_addrs_free(&a);
    sb_release(&out);
    sb_release(&why);
}

static void test_header_end_and_has(void **state)
{
    static const struct {
        const char *msg;
        size_t end;
    } cases[] = {
        {"A: b\n\nbody\n", 5},
        {"A: b\n c\nB : d\nbody line\n", 14},
        {"no header here\n", 0},
        {" leading continuation\n", 0},
        {"A: b", 4},
        {"", 0},
        {"A\x01: b\n", 0},
        {"Subject: x\x80\xff\nX:\n\n", 16},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(sm_hdr_end(cases[i].msg, strlen(cases[i].msg)),
                         cases[i].end);
    assert_true(sm_hdr_has("a: 1\nmessage-id: <x>\n\nFrom: y\n", 26,
                           "Message-ID"));
    assert_false(sm_hdr_has("a: 1\n\nFrom: y\n", 14, "From"));
}

static void test_header_with_nul_bytes(void **state)
{
    static const char msg[] = "To: a@x.example\0evil\nSubject: s\n\nb\n";
    sm_addrs a;
    strbuf out, why;

    (void)state;
    sm_addrs_init(&a, 100);
    sb_init(&out, SB_NOLIMIT);
    sb_init(&why, 256);
    /* The NUL is kept in the text; the caller's addr_parse refuses it. */
    assert_int_equal(sm_hdr_extract(msg, sizeof(msg) - 1, &a, &out, &why), 0);
    assert_int_equal(a.count, 1);
    assert_int_equal(sb_len(&out), sizeof(msg) - 1);
    sm_addrs_free(&a);
    sb_release(&out);
    sb_release(&why);
}

/* parse - run sm_args_parse over a NULL-terminated list. */
static int parse(sm_opts *o, strbuf *why, const char **args)
{
    char *argv[32];
    int argc = 0;

    while (args[argc]) {
        argv[argc] = (char *)(uintptr_t)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    sb_reset(why);
    return sm_args_parse(argc, argv, o, why);
}

static void test_args_common_callers(void **state)
{
    sm_opts o;
    strbuf why;

    (void)state;
    sb_init(&why, 256);
    /* cron */
    assert_int_equal(parse(&o, &why, (const char *[]){"/usr/sbin/sendmail",
        "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root", NULL}), 0);
    assert_int_equal(o.mode, SM_MODE_DELIVER);
    assert_true(o.dot_ok);
    assert_string_equal(o.fullname, "CronDaemon");
    assert_int_equal(o.body, QFILE_BODY_8BITMIME);
    assert_int_equal(o.nrcpt, 1);
    assert_string_equal(o.rcpts[0], "root");
    /* PHP mail() */
    assert_int_equal(parse(&o, &why, (const char *[]){"sendmail", "-t", "-i",
        "-f", "www@x.example", NULL}), 0);
    assert_true(o.extract);
    assert_string_equal(o.sender, "www@x.example");
    assert_int_equal(o.nrcpt, 0);
    /* git send-email, mutt */
    assert_int_equal(parse(&o, &why, (const char *[]){"sendmail", "-oi",
        "-oem", "-odi", "-N", "success,delay", "-R", "hdrs", "-V", "env-1",
        "-r", "a@x.example", "--", "-dash@x.example", NULL}), 0);
    assert_true(o.dot_ok);
    assert_int_equal(o.notify, QFILE_NOTIFY_SUCCESS | QFILE_NOTIFY_DELAY);
    assert_int_equal(o.ret, QFILE_RET_HDRS);
    assert_string_equal(o.envid, "env-1");
    assert_string_equal(o.rcpts[0], "-dash@x.example");
    /* options stop at the first recipient */
    assert_int_equal(parse(&o, &why, (const char *[]){"sendmail", "x@y",
        "-t", NULL}), 0);
    assert_false(o.extract);
    assert_int_equal(o.nrcpt, 2);
    sb_release(&why);
}

static void test_args_modes(void **state)
{
    static const struct {
        const char *argv0, *opt;
        int mode;
    } cases[] = {
        {"mailq", NULL, SM_MODE_MAILQ},
        {"/usr/bin/newaliases", NULL, SM_MODE_NEWALIASES},
        {"sendmail", "-bp", SM_MODE_MAILQ},
        {"sendmail", "-bs", SM_MODE_SMTP},
        {"sendmail", "-bi", SM_MODE_NEWALIASES},
        {"sendmail", "-I", SM_MODE_NEWALIASES},
        {"sendmail", "-q", SM_MODE_FLUSH},
        {"sendmail", "-q30m", SM_MODE_FLUSH},
        {"sendmail", "-bm", SM_MODE_DELIVER},
        {"mailq", "-bm", SM_MODE_DELIVER},
        {"sendmail", "-v", SM_MODE_DELIVER},
    };
    sm_opts o;
    strbuf why;

    (void)state;
    sb_init(&why, 256);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse(&o, &why, (const char *[]){cases[i].argv0,
            cases[i].opt, NULL}), 0);
        assert_int_equal(o.mode, cases[i].mode);
    }
    sb_release(&why);
}

static void test_args_bad(void **state)
{
    static const char *const bad[][3] = {
        {"-N", "sometimes", NULL},
        {"-N", "never,success", NULL},
        {"-N", "", NULL},
        {"-R", "body", NULL},
        {"-B", "BINARYMIME", NULL},
        {"-V", "has space", NULL},
        {"-bd", NULL, NULL},
        {"-bz", NULL, NULL},
        {"-Z", NULL, NULL},
        {"-f", NULL, NULL},
    };
    sm_opts o;
    strbuf why;

    (void)state;
    sb_init(&why, 256);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(&o, &why, (const char *[]){"sendmail",
            bad[i][0], bad[i][1], NULL}), -1);
        assert_true(sb_len(&why) > 0);
    }
    sb_release(&why);
}

static void test_envid(void **state)
{
    char big[120];

    (void)state;
    memset(big, 'e', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    assert_true(sm_envid_ok("abc+2B"));
    assert_false(sm_envid_ok(""));
    assert_false(sm_envid_ok(big));
    assert_false(sm_envid_ok("caf\xc3\xa9"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_lists),
        cmocka_unit_test(test_address_limits),
        cmocka_unit_test(test_extract_bcc_removed),
        cmocka_unit_test(test_extract_resent),
        cmocka_unit_test(test_header_end_and_has),
        cmocka_unit_test(test_header_with_nul_bytes),
        cmocka_unit_test(test_args_common_callers),
        cmocka_unit_test(test_args_modes),
        cmocka_unit_test(test_args_bad),
        cmocka_unit_test(test_envid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
