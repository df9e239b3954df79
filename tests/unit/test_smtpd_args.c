/*
 * Unit tests for smtpd/smtpd_args: MAIL FROM / RCPT TO arguments, their
 * ESMTP parameters and the exact replies for every kind of bad input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "smtpd/smtpd_args.h"

#define ALL (SMTPD_EXT_SIZE | SMTPD_EXT_8BITMIME | SMTPD_EXT_SMTPUTF8 \
             | SMTPD_EXT_DSN | SMTPD_EXT_AUTH | SMTPD_EXT_PIPELINING)

struct mail_case {
    const char *text;
    unsigned ext;
    uint64_t limit;
    enum smtpd_args_err err;
    const char *reply;          /* for errors */
    const char *sender;         /* internal form on success */
    uint64_t size;
    enum smtpd_body body;
    enum smtpd_ret ret;
    const char *envid;
    bool utf8;
};

static const struct mail_case mail_cases[] = {
    {" FROM:<a@example.org>", ALL, 0, SMTPD_ARGS_OK, NULL, "a@example.org", 0,
     SMTPD_BODY_NONE, SMTPD_RET_NONE, "", false},
    {" from: <a@example.org>", ALL, 0, SMTPD_ARGS_OK, NULL, "a@example.org", 0,
     SMTPD_BODY_NONE, SMTPD_RET_NONE, "", false},
    {" FROM:<>", ALL, 0, SMTPD_ARGS_OK, NULL, "", 0, SMTPD_BODY_NONE,
     SMTPD_RET_NONE, "", false},
    {" FROM:a@example.org", ALL, 0, SMTPD_ARGS_OK, NULL, "a@example.org", 0,
     SMTPD_BODY_NONE, SMTPD_RET_NONE, "", false},
    {" FROM:<\"a b\"@example.org> SIZE=100 BODY=8bitmime RET=HDRS "
     "ENVID=x+2By AUTH=<>", ALL, 1000, SMTPD_ARGS_OK, NULL,
     "a b@example.org", 100, SMTPD_BODY_8BITMIME, SMTPD_RET_HDRS, "x+y", false},
    {" FROM:<\xc3\xa9@example.org> SMTPUTF8", ALL, 0, SMTPD_ARGS_OK, NULL,
     "\xc3\xa9@example.org", 0, SMTPD_BODY_NONE, SMTPD_RET_NONE, "", true},
    {" FROM:<\xc3\xa9@example.org>", ALL, 0, SMTPD_ARGS_UTF8_UNDECLARED,
     "553 5.6.7 Must declare SMTPUTF8 to send unicode address", NULL, 0, 0, 0,
     NULL, false},
    {" TO:<a@example.org>", ALL, 0, SMTPD_ARGS_SYNTAX,
     "501 5.5.4 Syntax: MAIL FROM:<address>", NULL, 0, 0, 0, NULL, false},
    {"", ALL, 0, SMTPD_ARGS_SYNTAX, "501 5.5.4 Syntax: MAIL FROM:<address>",
     NULL, 0, 0, 0, NULL, false},
    {" FROM:", ALL, 0, SMTPD_ARGS_SYNTAX, "501 5.5.4 Syntax: MAIL FROM:<address>",
     NULL, 0, 0, 0, NULL, false},
    {" FROM:<a@example.org", ALL, 0, SMTPD_ARGS_BAD_ADDR,
     "501 5.1.7 Bad sender address syntax", NULL, 0, 0, 0, NULL, false},
    {" FROM:<a@@example.org>", ALL, 0, SMTPD_ARGS_BAD_ADDR,
     "501 5.1.7 Bad sender address syntax", NULL, 0, 0, 0, NULL, false},
    {" FROM:<a\x01@example.org>", ALL, 0, SMTPD_ARGS_BAD_ADDR,
     "501 5.1.7 Bad sender address syntax", NULL, 0, 0, 0, NULL, false},
    {" FROM:<a@example.org> SIZE=1001", ALL, 1000, SMTPD_ARGS_SIZE_LIMIT,
     "552 5.3.4 Message size exceeds fixed limit", NULL, 0, 0, 0, NULL, false},
    {" FROM:<a@example.org> SIZE=1001", ALL, 0, SMTPD_ARGS_OK, NULL,
     "a@example.org", 1001, SMTPD_BODY_NONE, SMTPD_RET_NONE, "", false},
    {" FROM:<a@example.org> SIZE=12x", ALL, 0, SMTPD_ARGS_BAD_SIZE,
     "501 5.5.4 Bad message size syntax", NULL, 0, 0, 0, NULL, false},
    {" FROM:<a@example.org> SIZE=99999999999999999999999", ALL, 0,
     SMTPD_ARGS_BAD_SIZE, "501 5.5.4 Bad message size syntax", NULL, 0, 0, 0,
     NULL, false},
    {" FROM:<a@example.org> SIZE", ALL, 0, SMTPD_ARGS_BAD_SIZE,
     "501 5.5.4 Bad message size syntax", NULL, 0, 0, 0, NULL, false},
    {" FROM:<a@example.org> SIZE=1 SIZE=2", ALL, 0, SMTPD_ARGS_DUPLICATE,
     "501 5.5.4 Error: duplicate parameter: SIZE=2", NULL, 0, 0, 0, NULL, false},
    {" FROM:<a@example.org> BODY=BINARYMIME", ALL, 0, SMTPD_ARGS_BAD_BODY,
     "501 5.5.4 Bad BODY keyword: BODY=BINARYMIME", NULL, 0, 0, 0, NULL, false},
    {" FROM:<a@example.org> BODY=8BITMIME", SMTPD_EXT_SIZE, 0,
     SMTPD_ARGS_UNSUPPORTED, "555 5.5.4 Unsupported option: BODY=8BITMIME",
     NULL, 0, 0, 0, NULL, false},
    {" FROM:<a@example.org> SIZE=1", 0, 0, SMTPD_ARGS_UNSUPPORTED,
     "555 5.5.4 Unsupported option: SIZE=1", NULL, 0, 0, 0, NULL, false},
    {" FROM:<a@example.org> XFOO=1", ALL, 0, SMTPD_ARGS_UNSUPPORTED,
     "555 5.5.4 Unsupported option: XFOO=1", NULL, 0, 0, 0, NULL, false},
    {" FROM:<a@example.org> NOTIFY=NEVER", ALL, 0, SMTPD_ARGS_UNSUPPORTED,
     "555 5.5.4 Unsupported option: NOTIFY=NEVER", NULL, 0, 0, 0, NULL, false},
    {" FROM:<a@example.org> RET=ALL", ALL, 0, SMTPD_ARGS_BAD_RET,
     "501 5.5.4 Bad RET parameter syntax", NULL, 0, 0, 0, NULL, false},
    {" FROM:<a@example.org> ENVID=a+0Ab", ALL, 0, SMTPD_ARGS_BAD_ENVID,
     "501 5.5.4 Bad ENVID parameter syntax", NULL, 0, 0, 0, NULL, false},
    {" FROM:<a@example.org> ENVID=a+zz", ALL, 0, SMTPD_ARGS_BAD_ENVID,
     "501 5.5.4 Bad ENVID parameter syntax", NULL, 0, 0, 0, NULL, false},
    {" FROM:<a@example.org> SMTPUTF8=yes", ALL, 0, SMTPD_ARGS_BAD_SMTPUTF8,
     "501 5.5.4 Bad SMTPUTF8 parameter syntax", NULL, 0, 0, 0, NULL, false},
};

static void test_mail(void **state)
{
    struct smtpd_mail_args m;
    struct smtpd_args_opts o;
    strbuf detail, reply, internal;

    (void)state;
    smtpd_mail_args_init(&m);
    sb_init(&detail, 4096);
    sb_init(&reply, 4096);
    sb_init(&internal, 1024);
    for (size_t i = 0; i < sizeof(mail_cases) / sizeof(mail_cases[0]); i++) {
        const struct mail_case *c = &mail_cases[i];
        enum smtpd_args_err err;

        memset(&o, 0, sizeof(o));
        o.ext = c->ext;
        o.size_limit = c->limit;
        sb_reset(&detail);
        err = smtpd_args_mail(c->text, strlen(c->text), &o, &m, &detail);
        if (err != c->err)
            print_error("case %zu \"%s\": %d\n", i, c->text, (int)err);
        assert_int_equal(err, c->err);
        if (err != SMTPD_ARGS_OK) {
            assert_int_equal(smtpd_args_reply(err, true, sb_str(&detail),
                                              &reply), 0);
            assert_string_equal(sb_str(&reply), c->reply);
            assert_int_equal(sb_len(&m.sender.local), 0);   /* nothing kept */
            continue;
        }
        sb_reset(&internal);
        assert_int_equal(addr_internal(&m.sender, &internal), 0);
        assert_string_equal(sb_str(&internal), c->sender);
        assert_int_equal(m.size, c->size);
        assert_int_equal(m.body, c->body);
        assert_int_equal(m.ret, c->ret);
        assert_string_equal(sb_str(&m.envid), c->envid);
        assert_int_equal(m.smtputf8, c->utf8);
    }
    smtpd_mail_args_release(&m);
    sb_release(&detail);
    sb_release(&reply);
    sb_release(&internal);
}

struct rcpt_case {
    const char *text;
    unsigned ext;
    bool utf8;                  /* MAIL declared SMTPUTF8 */
    enum smtpd_args_err err;
    const char *reply;
    const char *rcpt;
    unsigned notify;
    const char *orcpt;
};

static const struct rcpt_case rcpt_cases[] = {
    {" TO:<b@example.com>", ALL, false, SMTPD_ARGS_OK, NULL, "b@example.com", 0,
     ""},
    {" TO:<postmaster>", ALL, false, SMTPD_ARGS_OK, NULL, "postmaster", 0, ""},
    {" TO:<@relay.example:b@example.com>", ALL, false, SMTPD_ARGS_OK, NULL,
     "b@example.com", 0, ""},
    {" TO:<\"user@other\"@example.com>", ALL, false, SMTPD_ARGS_OK, NULL,
     "user@other@example.com", 0, ""},
    {" TO:<b@example.com> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;b+2Bx@example.com",
     ALL, false, SMTPD_ARGS_OK, NULL, "b@example.com",
     SMTPD_NOTIFY_SUCCESS | SMTPD_NOTIFY_DELAY, "rfc822;b+x@example.com"},
    {" TO:<b@example.com> NOTIFY=never", ALL, false, SMTPD_ARGS_OK, NULL,
     "b@example.com", SMTPD_NOTIFY_NEVER, ""},
    {" TO:<user@other@example.com>", ALL, false, SMTPD_ARGS_BAD_ADDR,
     "501 5.1.3 Bad recipient address syntax", NULL, 0, NULL},
    {" TO:<>", ALL, false, SMTPD_ARGS_BAD_ADDR,
     "501 5.1.3 Bad recipient address syntax", NULL, 0, NULL},
    {" FROM:<b@example.com>", ALL, false, SMTPD_ARGS_SYNTAX,
     "501 5.5.4 Syntax: RCPT TO:<address>", NULL, 0, NULL},
    {" TO:<b@example.com> NOTIFY=NEVER,SUCCESS", ALL, false,
     SMTPD_ARGS_BAD_NOTIFY, "501 5.5.4 Error: Bad NOTIFY parameter syntax",
     NULL, 0, NULL},
    {" TO:<b@example.com> NOTIFY=SUCCESS,SUCCESS", ALL, false,
     SMTPD_ARGS_BAD_NOTIFY, "501 5.5.4 Error: Bad NOTIFY parameter syntax",
     NULL, 0, NULL},
    {" TO:<b@example.com> NOTIFY=", ALL, false, SMTPD_ARGS_BAD_NOTIFY,
     "501 5.5.4 Error: Bad NOTIFY parameter syntax", NULL, 0, NULL},
    {" TO:<b@example.com> ORCPT=b@example.com", ALL, false, SMTPD_ARGS_BAD_ORCPT,
     "501 5.5.4 Error: Bad ORCPT parameter syntax", NULL, 0, NULL},
    {" TO:<b@example.com> ORCPT=rfc822;a+0Db", ALL, false, SMTPD_ARGS_BAD_ORCPT,
     "501 5.5.4 Error: Bad ORCPT parameter syntax", NULL, 0, NULL},
    {" TO:<b@example.com> ORCPT=rfc822;", ALL, false, SMTPD_ARGS_BAD_ORCPT,
     "501 5.5.4 Error: Bad ORCPT parameter syntax", NULL, 0, NULL},
    {" TO:<b@example.com> NOTIFY=SUCCESS", SMTPD_EXT_SIZE, false,
     SMTPD_ARGS_UNSUPPORTED, "555 5.5.4 Unsupported option: NOTIFY=SUCCESS",
     NULL, 0, NULL},
    {" TO:<b@example.com> SIZE=10", ALL, false, SMTPD_ARGS_UNSUPPORTED,
     "555 5.5.4 Unsupported option: SIZE=10", NULL, 0, NULL},
    {" TO:<\xc3\xa9@example.com>", ALL, false, SMTPD_ARGS_UTF8_UNDECLARED,
     "553 5.6.7 Must declare SMTPUTF8 to send unicode address", NULL, 0, NULL},
    {" TO:<\xc3\xa9@example.com>", ALL, true, SMTPD_ARGS_OK, NULL,
     "\xc3\xa9@example.com", 0, ""},
    {" TO:<\xff@example.com>", ALL, true, SMTPD_ARGS_BAD_ADDR,
     "501 5.1.3 Bad recipient address syntax", NULL, 0, NULL},
};

static void test_rcpt(void **state)
{
    struct smtpd_rcpt_args r;
    struct smtpd_args_opts o;
    strbuf detail, reply, internal;

    (void)state;
    smtpd_rcpt_args_init(&r);
    sb_init(&detail, 4096);
    sb_init(&reply, 4096);
    sb_init(&internal, 1024);
    for (size_t i = 0; i < sizeof(rcpt_cases) / sizeof(rcpt_cases[0]); i++) {
        const struct rcpt_case *c = &rcpt_cases[i];
        enum smtpd_args_err err;

        memset(&o, 0, sizeof(o));
        o.ext = c->ext;
        o.smtputf8 = c->utf8;
        sb_reset(&detail);
        err = smtpd_args_rcpt(c->text, strlen(c->text), &o, &r, &detail);
        if (err != c->err)
            print_error("case %zu \"%s\": %d\n", i, c->text, (int)err);
        assert_int_equal(err, c->err);
        if (err != SMTPD_ARGS_OK) {
            assert_int_equal(smtpd_args_reply(err, false, sb_str(&detail),
                                              &reply), 0);
            assert_string_equal(sb_str(&reply), c->reply);
            continue;
        }
        sb_reset(&internal);
        assert_int_equal(addr_internal(&r.rcpt, &internal), 0);
        assert_string_equal(sb_str(&internal), c->rcpt);
        assert_int_equal(r.notify, c->notify);
        assert_string_equal(sb_str(&r.orcpt), c->orcpt);
    }
    smtpd_rcpt_args_release(&r);
    sb_release(&detail);
    sb_release(&reply);
    sb_release(&internal);
}

/* Hostile lengths: over-long paths and parameters are refused, not cut. */
static void test_overlong(void **state)
{
    struct smtpd_mail_args m;
    struct smtpd_rcpt_args r;
    struct smtpd_args_opts o = { .ext = ALL };
    strbuf text, detail;

    (void)state;
    smtpd_mail_args_init(&m);
    smtpd_rcpt_args_init(&r);
    sb_init(&text, 8192);
    sb_init(&detail, 8192);
    sb_puts(&text, " FROM:<");
    for (int i = 0; i < 300; i++)
        sb_putc(&text, 'a');
    sb_puts(&text, "@example.org>");
    assert_int_equal(smtpd_args_mail(sb_str(&text), sb_len(&text), &o, &m,
                                     &detail), SMTPD_ARGS_BAD_ADDR);
    sb_set(&text, " FROM:<a@example.org> ENVID=");
    for (int i = 0; i < 101; i++)
        sb_putc(&text, 'e');
    assert_int_equal(smtpd_args_mail(sb_str(&text), sb_len(&text), &o, &m,
                                     &detail), SMTPD_ARGS_BAD_ENVID);
    sb_set(&text, " TO:<b@example.com> ORCPT=rfc822;");
    for (int i = 0; i < 600; i++)
        sb_putc(&text, 'o');
    assert_int_equal(smtpd_args_rcpt(sb_str(&text), sb_len(&text), &o, &r,
                                     &detail), SMTPD_ARGS_BAD_ORCPT);
    /* a NUL inside the text is never read as its end */
    assert_int_equal(smtpd_args_mail(" FROM:<a@x\0y>", 13, &o, &m, &detail),
                     SMTPD_ARGS_BAD_ADDR);
    smtpd_mail_args_release(&m);
    smtpd_rcpt_args_release(&r);
    sb_release(&text);
    sb_release(&detail);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mail),
        cmocka_unit_test(test_rcpt),
        cmocka_unit_test(test_overlong),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
