/*
 * Unit tests for smtp_sasl: the AUTH mechanisms of EHLO replies and the
 * mechanism filter, the password table's key order (sender, host name,
 * nexthop as written), configuration errors, and whole AUTH exchanges
 * against a scripted server: its replies are written into one end of a
 * socketpair before the client runs, and what the client sent is read
 * back from it afterwards, so each exchange is exact and deterministic.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sasl/sasl.h>

#include "common/b64.h"
#include "common/msg.h"
#include "common/xalloc.h"
#include "smtp/smtp_sasl.h"
#include "testutil.h"

struct fixture {
    char dir[64];
    strbuf log;
};

/* load - a conf whose main.cf is text; the caller frees it. */
static conf *load(struct fixture *f, const char *text)
{
    return tu_conf_text(f->dir, text, "");
}

/* open_sasl - smtp_sasl_open on main.cf text; must succeed. */
static smtp_sasl *open_sasl(struct fixture *f, const char *text, conf **c)
{
    strbuf err;
    smtp_sasl *sa;

    sb_init(&err, 1024);
    *c = load(f, text);
    sa = smtp_sasl_open(*c, false, &err);
    if (sa == NULL)
        fprintf(stderr, "smtp_sasl_open: %s\n", sb_str(&err));
    assert_non_null(sa);
    sb_release(&err);
    return sa;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof(f->dir), "/tmp/test_smtp_sasl.XXXXXX");
    sb_init(&f->log, 65536);
    msg_set_capture(tu_capture_warned, &f->log);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    msg_set_capture(NULL, NULL);
    tu_rm_rf(f->dir);
    sb_release(&f->log);
    free(f);
    return 0;
}

/* ehlo - an EHLO reply from '\n'-separated lines. */
static void ehlo(smtp_reply *r, const char *lines)
{
    const char *p = lines;
    int rc = SMTP_REPLY_MORE;

    smtp_reply_reset(r);
    while (*p && rc == SMTP_REPLY_MORE) {
        size_t n = strcspn(p, "\n");

        rc = smtp_reply_add_line(r, p, n);
        p += n + (p[n] == '\n');
    }
    assert_int_equal(rc, SMTP_REPLY_OK);
}

/* ---- mechanisms and the filter ---- */

static void test_offered(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *filter;
        const char *reply;
        bool offered;
        const char *mechs;
    } cases[] = {
        {"", "250-mx\n250-AUTH PLAIN LOGIN\n250 8BITMIME", true, "PLAIN LOGIN"},
        {"", "250-mx\n250-AUTH=LOGIN\n250 AUTH PLAIN login", true,
         "LOGIN PLAIN"},                        /* AUTH= and AUTH, no twins */
        {"", "250-mx\n250 auth cram-md5  plain", true, "cram-md5 plain"},
        {"", "250-mx\n250 AUTH", true, ""},     /* an empty list */
        {"", "250 mx", false, ""},
        {"", "250 AUTH PLAIN", false, ""},      /* the first line is the name */
        {"", "250-mx\n250 AUTHX PLAIN", false, ""},
        {"", "250-mx\n250 AUTH PL\x01IN X*Y CRAM-MD5 "
         "ABCDEFGHIJKLMNOPQRSTUVWXYZ", true, "PL IN CRAM-MD5"},
                        /* a control byte is a space; bad and long words go */
        {"", "250-mx\n250 AUTH PL\xc3\xa9IN LOGIN", true, "LOGIN"},
        {"login", "250-mx\n250 AUTH PLAIN LOGIN", true, "LOGIN"},
        {"!plain, login, cram-md5", "250-mx\n250 AUTH PLAIN CRAM-MD5 LOGIN",
         true, "CRAM-MD5 LOGIN"},
        {"!login, login", "250-mx\n250 AUTH PLAIN LOGIN", true, ""},
        {"cram-md5", "250-mx\n250 AUTH PLAIN LOGIN", true, ""},
        {"inline:{ LOGIN=yes, digest-md5=yes }",
         "250-mx\n250 AUTH PLAIN DIGEST-MD5 LOGIN", true, "DIGEST-MD5 LOGIN"},
    };
    strbuf out, text;
    smtp_reply r;

    sb_init(&out, 4096);
    sb_init(&text, 4096);
    smtp_reply_init(&r);
    tu_write_file(f->dir, "passwd", "");
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        conf *c;
        smtp_sasl *sa;

        sb_reset(&text);
        (void)sb_printf(&text, "smtp_sasl_auth_enable = yes\n"
                        "smtp_sasl_password_maps = texthash:%s/passwd\n"
                        "smtp_sasl_mechanism_filter = %s\n", f->dir,
                        cases[i].filter);
        sa = open_sasl(f, sb_str(&text), &c);
        ehlo(&r, cases[i].reply);
        assert_int_equal(smtp_sasl_offered(sa, &r, &out), cases[i].offered);
        assert_string_equal(sb_str(&out), cases[i].mechs);
        smtp_sasl_free(sa);
        conf_free(c);
    }
    smtp_reply_release(&r);
    sb_release(&out);
    sb_release(&text);
}

/* ---- the password table ---- */

static void test_lookup_order(void **state)
{
    struct fixture *f = *state;
    static const struct {
        bool per_sender;
        const char *sender, *host, *nexthop;
        int found;
        const char *user, *pass;
    } cases[] = {
        {true, "alice@example.org", "mail.relay.com", "[mail.relay.com]:587",
         SMTP_SASL_FOUND, "alice", "a:pw"},     /* the first ':' splits */
        {true, "alice+list@example.org", "x.test", "[x.test]", SMTP_SASL_FOUND,
         "alice", "a:pw"},                      /* extension dropped */
        {true, "Bob@Example.ORG", "x.test", "[x.test]", SMTP_SASL_FOUND,
         "dom", "dpw"},                         /* @domain, folded */
        {true, "", "mail.relay.com", "[mail.relay.com]:587", SMTP_SASL_FOUND,
         "host", "hpw"},                        /* null sender: no sender key */
        {false, "alice@example.org", "MAIL.relay.com", "[mail.relay.com]:587",
         SMTP_SASL_FOUND, "host", "hpw"},       /* host before nexthop */
        {true, "carol@other.test", "mx.relay.com", "[mx.relay.com]:587",
         SMTP_SASL_FOUND, "hop", "opw"},        /* the nexthop as written */
        {true, "carol@other.test", "mx.relay.com", "[mx.relay.com]",
         SMTP_SASL_NONE, "", ""},               /* [host] is another key */
        {true, "carol@other.test", "mx.relay.com", "mx.relay.com:587",
         SMTP_SASL_NONE, "", ""},               /* so is host:port */
        {true, "carol@other.test", "nouser.test", "nouser.test",
         SMTP_SASL_FOUND, "justuser", ""},      /* no ':': empty password */
        {true, "carol@other.test", "unknown.test", "[unknown.test]",
         SMTP_SASL_NONE, "", ""},
    };
    strbuf text, user, pass, why;

    sb_init(&text, 4096);
    sb_init(&user, 4096);
    sb_init(&pass, 4096);
    sb_init(&why, 4096);
    tu_write_file(f->dir, "passwd",
               "alice@example.org      alice:a:pw\n"
               "@example.org           dom:dpw\n"
               "mail.relay.com         host:hpw\n"
               "[mail.relay.com]:587   nexthop:npw\n"
               "[mx.relay.com]:587     hop:opw\n"
               "nouser.test            justuser\n");
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct smtp_sasl_dest d = {cases[i].sender, cases[i].host,
                                   cases[i].nexthop};
        conf *c;
        smtp_sasl *sa;

        sb_reset(&text);
        (void)sb_printf(&text, "smtp_sasl_auth_enable = yes\n"
                        "recipient_delimiter = +\n"
                        "smtp_sender_dependent_authentication = %s\n"
                        "smtp_sasl_password_maps = texthash:%s/passwd\n",
                        cases[i].per_sender ? "yes" : "no", f->dir);
        sa = open_sasl(f, sb_str(&text), &c);
        assert_int_equal(smtp_sasl_per_sender(sa), cases[i].per_sender);
        assert_int_equal(smtp_sasl_lookup(sa, &d, &user, &pass, &why),
                         cases[i].found);
        assert_string_equal(sb_str(&user), cases[i].user);
        assert_string_equal(sb_str(&pass), cases[i].pass);
        smtp_sasl_free(sa);
        conf_free(c);
    }
    sb_release(&text);
    sb_release(&user);
    sb_release(&pass);
    sb_release(&why);
}

static void test_lookup_error(void **state)
{
    struct fixture *f = *state;
    struct smtp_sasl_dest d = {"a@example.org", "mx.test", "[mx.test]"};
    strbuf text, user, pass, why;
    conf *c;
    smtp_sasl *sa;

    sb_init(&text, 4096);
    sb_init(&user, 4096);
    sb_init(&pass, 4096);
    sb_init(&why, 4096);
    (void)sb_printf(&text, "smtp_sasl_auth_enable = yes\n"
                    "smtp_sasl_password_maps = texthash:%s/missing\n", f->dir);
    sa = open_sasl(f, sb_str(&text), &c);
    assert_int_equal(smtp_sasl_lookup(sa, &d, &user, &pass, &why),
                     SMTP_SASL_ERROR);
    assert_non_null(strstr(sb_str(&why), "smtp_sasl_password_maps lookup of "
                           "mx.test in texthash:"));
    assert_int_equal(sb_len(&user), 0);
    smtp_sasl_free(sa);
    conf_free(c);
    sb_release(&text);
    sb_release(&user);
    sb_release(&pass);
    sb_release(&why);
}

/* ---- configuration ---- */

static void test_config(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *main_cf;
        const char *err;            /* NULL: opens */
    } cases[] = {
        {"", NULL},                                 /* disabled: no table */
        {"smtp_sasl_auth_enable = yes\n", "specify a password table via the "
         "`smtp_sasl_password_maps' configuration parameter"},
        {"smtp_sasl_auth_enable = yes\n"
         "smtp_sasl_password_maps = nosuchtype:/x\n",
         "smtp_sasl_password_maps"},
        {"smtp_sasl_auth_enable = yes\n"
         "smtp_sasl_password_maps = inline:{ a=b }\n"
         "smtp_sasl_security_options = noanonymous, bogus\n",
         "smtp_sasl_security_options: unknown SASL security option \"bogus\""},
        {"smtp_sasl_auth_enable = yes\n"
         "smtp_sasl_password_maps = inline:{ a=b }\n"
         "smtp_sasl_tls_security_options = plaintext\n",
         "smtp_sasl_tls_security_options: unknown SASL security option"},
        {"smtp_sasl_auth_enable = yes\n"
         "smtp_sasl_password_maps = inline:{ a=b }\n"
         "smtp_sasl_mechanism_filter = /etc/mechs\n",
         "smtp_sasl_mechanism_filter"},
        {"smtp_sasl_auth_enable = yes\n"
         "smtp_sasl_password_maps = inline:{ a=b }\n"
         "smtp_sasl_mechanism_filter = plain, !\n",
         "smtp_sasl_mechanism_filter"},
    };
    strbuf err;

    sb_init(&err, 1024);
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        conf *c = load(f, cases[i].main_cf);
        smtp_sasl *sa;

        sb_reset(&err);
        sa = smtp_sasl_open(c, false, &err);
        if (cases[i].err == NULL) {
            assert_non_null(sa);
            assert_false(smtp_sasl_enabled(sa));
        } else {
            assert_null(sa);
            if (strstr(sb_str(&err), cases[i].err) == NULL)
                fail_msg("case %zu: \"%s\" lacks \"%s\"", i, sb_str(&err),
                         cases[i].err);
        }
        smtp_sasl_free(sa);
        conf_free(c);
    }
    sb_release(&err);
}

static void test_security_defaults(void **state)
{
    struct fixture *f = *state;
    conf *c;
    smtp_sasl *sa = open_sasl(f, "smtp_sasl_auth_enable = yes\n"
                              "smtp_sasl_password_maps = inline:{ a=b }\n", &c);

    /* tern: no plaintext mechanism without TLS; with TLS they are fine */
    assert_int_equal(smtp_sasl_security(sa, false),
                     SASL_SEC_NOPLAINTEXT | SASL_SEC_NOANONYMOUS);
    assert_int_equal(smtp_sasl_security(sa, true), SASL_SEC_NOANONYMOUS);
    /* LMTP never looks up the sender */
    smtp_sasl_free(sa);
    conf_free(c);
    c = load(f, "smtp_sasl_auth_enable = yes\n"
             "smtp_sender_dependent_authentication = yes\n"
             "smtp_sasl_password_maps = inline:{ a=b }\n");
    {
        strbuf err;

        sb_init(&err, 512);
        sa = smtp_sasl_open(c, true, &err);
        assert_non_null(sa);
        assert_false(smtp_sasl_per_sender(sa));
        smtp_sasl_free(sa);
        sb_release(&err);
    }
    conf_free(c);
}

/* ---- exchanges against a scripted server ---- */

/* One scripted exchange. */
struct exchange {
    const char *name;
    const char *table;          /* the password table */
    const char *options;        /* extra main.cf */
    const char *ehlo;           /* the server's EHLO reply */
    bool tls;
    const char *script;         /* the server's replies, CRLF each */
    bool close_early;           /* the server hangs up after the script */
    int rc;
    const char *sent;           /* what the client sent ("" = nothing) */
    const char *dsn, *reason;   /* on failure */
    bool in_sync;
};

#define PLAIN_TABLE "mx.test  user:s3cr3t\n"
#define PLAIN_EHLO "250-mx.test\n250-PIPELINING\n250 AUTH PLAIN LOGIN"
#define ALLOW_PLAIN "smtp_sasl_security_options = noanonymous\n"

static const struct exchange exchanges[] = {
    {"plain ok", PLAIN_TABLE, ALLOW_PLAIN, PLAIN_EHLO, false,
     "235 2.7.0 Authentication successful\r\n", false, 0,
     "AUTH PLAIN dXNlcgB1c2VyAHMzY3IzdA==\r\n", NULL, NULL, true},
    {"plain over TLS by default", PLAIN_TABLE, "", PLAIN_EHLO, true,
     "235 2.7.0 ok\r\n", false, 0,
     "AUTH PLAIN dXNlcgB1c2VyAHMzY3IzdA==\r\n", NULL, NULL, true},
    {"login ok", PLAIN_TABLE,
     ALLOW_PLAIN "smtp_sasl_mechanism_filter = login\n",
     PLAIN_EHLO, false,
     "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 2.7.0 ok\r\n", false, 0,
     "AUTH LOGIN\r\ndXNlcg==\r\nczNjcjN0\r\n", NULL, NULL, true},
    {"535", PLAIN_TABLE, ALLOW_PLAIN, PLAIN_EHLO, false,
     "535 5.7.8 Error: authentication failed: bad\r\n", false, -1,
     "AUTH PLAIN dXNlcgB1c2VyAHMzY3IzdA==\r\n", "4.7.8",
     "SASL authentication failed; server mx.test[192.0.2.1] said: "
     "535 5.7.8 Error: authentication failed: bad", true},
    {"454", PLAIN_TABLE, ALLOW_PLAIN, PLAIN_EHLO, false,
     "454 4.7.0 Temporary authentication failure\r\n", false, -1,
     "AUTH PLAIN dXNlcgB1c2VyAHMzY3IzdA==\r\n", "4.7.0",
     "SASL authentication failed; server mx.test[192.0.2.1] said: "
     "454 4.7.0 Temporary authentication failure", true},
    {"535 without a code", PLAIN_TABLE, ALLOW_PLAIN, PLAIN_EHLO, false,
     "535 no\r\n", false, -1, "AUTH PLAIN dXNlcgB1c2VyAHMzY3IzdA==\r\n",
     "4.0.0",
     "SASL authentication failed; server mx.test[192.0.2.1] said: 535 no",
     true},
    {"no plaintext mechanism without TLS", PLAIN_TABLE, "", PLAIN_EHLO, false,
     "", false, -1, "", "4.7.0",
     "SASL authentication failed; cannot authenticate to server "
     "mx.test[192.0.2.1]: no mechanism available", true},
    {"not in the table", "other.test  user:s3cr3t\n", ALLOW_PLAIN, PLAIN_EHLO,
     false, "", false, 0, "", NULL, NULL, true},
    {"no AUTH offered", PLAIN_TABLE, ALLOW_PLAIN, "250-mx.test\n250 8BITMIME",
     false, "", false, 0, "", NULL, NULL, true},
    {"malformed challenge", PLAIN_TABLE,
     ALLOW_PLAIN "smtp_sasl_mechanism_filter = login\n", PLAIN_EHLO, false,
     "334 not*base64\r\n501 5.7.0 Authentication aborted\r\n", false, -1,
     "AUTH LOGIN\r\n*\r\n", "4.7.0",
     "SASL authentication failed; cannot authenticate to server "
     "mx.test[192.0.2.1]: malformed SASL challenge from server", true},
    {"8-bit challenge", PLAIN_TABLE,
     ALLOW_PLAIN "smtp_sasl_mechanism_filter = login\n", PLAIN_EHLO, false,
     "334 VXNl\xc3\xa9\r\n", true, -1, "AUTH LOGIN\r\n*\r\n", "4.7.0",
     "SASL authentication failed; cannot authenticate to server "
     "mx.test[192.0.2.1]: malformed SASL challenge from server", false},
    {"lost connection", PLAIN_TABLE, ALLOW_PLAIN, PLAIN_EHLO, false,
     "", true, -1, "AUTH PLAIN dXNlcgB1c2VyAHMzY3IzdA==\r\n", "4.4.2",
     "lost connection with mx.test[192.0.2.1] while performing the EHLO "
     "handshake", false},
    {"garbage reply", PLAIN_TABLE, ALLOW_PLAIN, PLAIN_EHLO, false,
     "hello there\r\n", false, -1, "AUTH PLAIN dXNlcgB1c2VyAHMzY3IzdA==\r\n",
     "4.5.0", "malformed reply from mx.test[192.0.2.1] while performing the "
     "EHLO handshake", false},
};

/* session_new - a session on fd after the given EHLO reply. */
static smtp_session *session_new(int fd, const char *reply)
{
    smtp_session *s = xcalloc(1, sizeof(*s));

    s->fd = fd;
    s->t = tio_open(fd, 2000);
    sb_init(&s->name, 1024);
    sb_init(&s->relay, 1024);
    (void)sb_set(&s->name, "mx.test[192.0.2.1]");
    (void)sb_set(&s->relay, "mx.test[192.0.2.1]:25");
    smtp_reply_init(&s->reply);
    ehlo(&s->reply, reply);
    smtp_ehlo_parse(&s->reply, &s->feat);
    s->esmtp = true;
    s->in_sync = true;
    return s;
}

/* read_all - everything the client wrote, after it closed its end. */
static void read_all(int fd, strbuf *out)
{
    char buf[4096];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0)
        assert_int_equal(sb_append(out, buf, (size_t)n), 0);
}

/* run_exchange - one scripted AUTH; checks the outcome and the bytes. */
static void run_exchange(struct fixture *f, const struct exchange *x)
{
    struct smtp_sasl_dest d = {"a@example.org", "mx.test", "mx.test"};
    smtp_params p;
    smtp_outcome why;
    strbuf text, sent;
    smtp_session *s;
    smtp_sasl *sa;
    conf *c;
    int sv[2], rc;

    memset(&p, 0, sizeof(p));
    p.name = "smtp";
    for (int i = 0; i < SMTP_ST_COUNT; i++)
        p.timeout[i] = 2;
    sb_init(&text, 4096);
    sb_init(&sent, 65536);
    tu_write_file(f->dir, "passwd", x->table);
    (void)sb_printf(&text, "smtp_sasl_auth_enable = yes\n"
                    "smtp_sasl_password_maps = texthash:%s/passwd\n%s",
                    f->dir, x->options);
    sa = open_sasl(f, sb_str(&text), &c);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(write(sv[1], x->script, strlen(x->script)),
                     (ssize_t)strlen(x->script));
    if (x->close_early)
        assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
    s = session_new(sv[0], x->ehlo);
    smtp_outcome_init(&why);
    rc = smtp_sasl_login(sa, s, &p, &d, x->tls, &why);
    if (rc != x->rc)
        fail_msg("%s: rc %d (%s)", x->name, rc, sb_str(&why.reason));
    assert_int_equal(s->in_sync, x->in_sync);
    if (x->rc != 0) {
        assert_true(why.done);
        assert_int_equal(why.action, DLV_DEFERRED);
        assert_string_equal(why.dsn, x->dsn);
        assert_string_equal(sb_str(&why.reason), x->reason);
    } else {
        assert_false(why.done);
    }
    (void)tio_flush(s->t);              /* a read that waited would have */
    s->in_sync = false;                 /* no QUIT: just close */
    smtp_session_close(s, &p);          /* closes sv[0] */
    read_all(sv[1], &sent);
    if (strcmp(sb_str(&sent), x->sent) != 0)
        fail_msg("%s: sent \"%s\"", x->name, sb_str(&sent));
    assert_null(strstr(sb_str(&f->log), "s3cr3t"));    /* never logged */
    assert_null(strstr(sb_str(&f->log), "czNjcjN0"));
    (void)close(sv[1]);
    smtp_outcome_release(&why);
    smtp_sasl_free(sa);
    conf_free(c);
    sb_release(&text);
    sb_release(&sent);
}

static void test_exchanges(void **state)
{
    struct fixture *f = *state;

    for (size_t i = 0; i < sizeof(exchanges) / sizeof(*exchanges); i++)
        run_exchange(f, &exchanges[i]);
}

static void test_filter_leaves_nothing_warns(void **state)
{
    struct fixture *f = *state;
    static const struct exchange x = {
        "filtered out", PLAIN_TABLE,
        ALLOW_PLAIN "smtp_sasl_mechanism_filter = cram-md5\n", PLAIN_EHLO,
        false, "", false, -1, "", "4.7.0",
        "SASL authentication failed: server mx.test[192.0.2.1] offered no "
        "compatible authentication mechanisms for this type of connection "
        "security", true,
    };

    sb_reset(&f->log);
    run_exchange(f, &x);
    assert_non_null(strstr(sb_str(&f->log), "warning: mx.test[192.0.2.1]:25 "
                           "offered no supported AUTH mechanisms: "
                           "'PLAIN LOGIN'"));
}

static void test_filter_warning_real_ehlo(void **state)
{
    struct fixture *f = *state;
    static const struct exchange x = {
        "filtered out", PLAIN_TABLE,
        ALLOW_PLAIN "smtp_sasl_mechanism_filter = !plain, login\n",
        "250-peer.test\n250-SIZE 33554432\n250-8BITMIME\n250-AUTH PLAIN\n"
        "250 HELP", false, "", false, -1, "", "4.7.0",
        "SASL authentication failed: server mx.test[192.0.2.1] offered no "
        "compatible authentication mechanisms for this type of connection "
        "security", true,
    };

    sb_reset(&f->log);
    run_exchange(f, &x);
    assert_non_null(strstr(sb_str(&f->log), "warning: mx.test[192.0.2.1]:25 "
                           "offered no supported AUTH mechanisms: 'PLAIN'\n"));
}

static void test_overlong_credentials(void **state)
{
    struct fixture *f = *state;
    strbuf table;
    struct exchange x = {
        "overlong", NULL, ALLOW_PLAIN, PLAIN_EHLO, false, "", false, -1, "",
        "4.3.0", "SASL authentication failed; cannot authenticate to server "
        "mx.test[192.0.2.1]: password table lookup error", true,
    };

    sb_init(&table, 65536);
    (void)sb_puts(&table, "mx.test  user:");
    for (int i = 0; i < 5000; i++)
        (void)sb_putc(&table, 'p');
    (void)sb_putc(&table, '\n');
    x.table = sb_str(&table);
    run_exchange(f, &x);
    sb_release(&table);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_offered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_security_defaults, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_exchanges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filter_leaves_nothing_warns,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_filter_warning_real_ehlo, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_overlong_credentials, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
