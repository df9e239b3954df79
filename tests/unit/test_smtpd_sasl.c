/*
 * Unit tests for smtpd/smtpd_sasl: base64 tables (good and hostile input),
 * security option words, configuration errors, and real libsasl2
 * exchanges against a sasldb made with saslpasswd2 (sasl2-bin) in a temp
 * directory: PLAIN and LOGIN with and without initial responses, wrong
 * passwords and their fail2ban-shaped warning, cancel, bad base64,
 * unknown mechanisms, the AUTH command over a socketpair (pipelined
 * responses, overlong lines, lost connections, state checks), exceptions
 * networks and TLS-only security options. Tests that need saslpasswd2 are
 * skipped when it is not installed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/b64.h"
#include "common/msg.h"
#include "common/saslopt.h"
#include "common/tio.h"
#include "smtpd/smtpd_sasl.h"
#include "testutil.h"

#define SASLPASSWD2 "/usr/sbin/saslpasswd2"
#define REALM "EXAMPLE"
#define WAIT_MS 5000

struct fixture {
    char dir[64];
    strbuf log;                 /* captured log lines, one per line */
    smtpd_sasl *s;
    conf *c;
};

/* load - a conf whose main.cf is the SASL base plus text. */
static conf *load(struct fixture *f, const char *text)
{
    char main_cf[4096];

    assert_int_equal(fmt_fixed(main_cf, sizeof(main_cf),
                               "myhostname = mx.example.org\n"
                               "smtpd_sasl_auth_enable = yes\n"
                               "cyrus_sasl_config_path = %s\n"
                               "smtpd_sasl_local_domain = " REALM "\n%s",
                               f->dir, text), 0);
    return tu_conf_clean(f->dir, main_cf, "");
}

/* make_user - saslpasswd2 -p -c -f DIR/sasldb2 -u REALM user (no shell). */
static void make_user(const char *dir, const char *user, const char *pass)
{
    char db[128], name[64];
    int pfd[2], status = 0;
    pid_t pid;

    assert_int_equal(fmt_fixed(db, sizeof(db), "%s/sasldb2", dir), 0);
    assert_int_equal(fmt_fixed(name, sizeof(name), "%s", user), 0);
    assert_int_equal(pipe(pfd), 0);
    assert_true((pid = fork()) >= 0);
    if (pid == 0) {
        char *argv[] = {
            (char *)"saslpasswd2", (char *)"-p", (char *)"-c", (char *)"-f",
            db, (char *)"-u", (char *)REALM, name, NULL,
        };

        if (dup2(pfd[0], 0) < 0)
            _exit(126);
        close(pfd[0]);
        close(pfd[1]);
        execv(SASLPASSWD2, argv);
        _exit(127);
    }
    close(pfd[0]);
    assert_int_equal(write(pfd[1], pass, strlen(pass)), (ssize_t)strlen(pass));
    close(pfd[1]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* setup - a temp dir with smtpd.conf and, when possible, a sasldb. */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char conf_text[512];

    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof(f->dir), "/tmp/sasl-test.XXXXXX");
    assert_int_equal(fmt_fixed(conf_text, sizeof(conf_text),
                               "pwcheck_method: auxprop\n"
                               "auxprop_plugin: sasldb\n"
                               "sasldb_path: %s/sasldb2\n"
                               "mech_list: PLAIN LOGIN\n", f->dir), 0);
    tu_write_file(f->dir, "smtpd.conf", conf_text);
    if (access(SASLPASSWD2, X_OK) == 0)
        make_user(f->dir, "alice", "secret");
    sb_init(&f->log, 1 << 20);
    msg_set_capture(tu_capture_warned, &f->log);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    msg_set_capture(NULL, NULL);
    smtpd_sasl_free(f->s);
    conf_free(f->c);
    tu_rm_rf(f->dir);
    sb_release(&f->log);
    free(f);
    return 0;
}

/* need_sasldb - skip the test without saslpasswd2. */
static bool need_sasldb(void)
{
    if (access(SASLPASSWD2, X_OK) == 0)
        return true;
    fprintf(stderr, "skipped: %s not installed (sasl2-bin)\n", SASLPASSWD2);
    return false;
}

/* open_with - a handle for main.cf text; must succeed. */
static smtpd_sasl *open_with(struct fixture *f, const char *text)
{
    strbuf err;

    sb_init(&err, 1024);
    smtpd_sasl_free(f->s);
    conf_free(f->c);
    f->c = load(f, text);
    f->s = smtpd_sasl_open(f->c, &err);
    if (f->s == NULL)
        fprintf(stderr, "open: %s\n", sb_str(&err));
    assert_non_null(f->s);
    sb_release(&err);
    return f->s;
}

/* session - a session from a client address. */
static smtpd_sasl_conn *session(smtpd_sasl *s, const char *addr, bool tls)
{
    struct smtpd_sasl_peer peer = {
        .namaddr = "client.example.net[192.0.2.7]",
        .client_addr = addr, .client_port = 40000,
        .server_addr = "127.0.0.1", .server_port = 25, .tls = tls,
    };

    return smtpd_sasl_conn_new(s, &peer);
}

/* ---- base64 ---- */

static void test_b64_table(void **state)
{
    static const struct {
        const char *text;
        int ok;
        const char *plain;
        size_t plain_len;
    } cases[] = {
        {"", 0, "", 0},
        {"Zg==", 0, "f", 1},
        {"Zm8=", 0, "fo", 2},
        {"Zm9v", 0, "foo", 3},
        {"Zm9vYmFy", 0, "foobar", 6},
        {"AGFsaWNlAHNlY3JldA==", 0, "\0alice\0secret", 13},
        {"+/+/", 0, "\xfb\xff\xbf", 3},
        {"Zg=", -1, NULL, 0},           /* length not a multiple of 4 */
        {"Zg", -1, NULL, 0},
        {"Z===", -1, NULL, 0},          /* three pad bytes */
        {"====", -1, NULL, 0},
        {"Zg==Zm9v", -1, NULL, 0},      /* padding before the end */
        {"Z=g=", -1, NULL, 0},          /* data after padding */
        {"Zm9v Zm9v", -1, NULL, 0},     /* white space */
        {"Zm9v\r\n", -1, NULL, 0},
        {"Zm-v", -1, NULL, 0},          /* URL alphabet */
        {"Zm\xc3\xa9", -1, NULL, 0},    /* 8-bit */
        {"*", -1, NULL, 0},
        {"=", -1, NULL, 0},
    };
    strbuf out, enc;

    (void)state;
    sb_init(&out, 1024);
    sb_init(&enc, 1024);
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        int r = b64_decode(cases[i].text, strlen(cases[i].text), &out);

        assert_int_equal(r, cases[i].ok);
        if (r != 0) {
            assert_int_equal(sb_len(&out), 0);
            continue;
        }
        assert_int_equal(sb_len(&out), cases[i].plain_len);
        assert_memory_equal(sb_str(&out), cases[i].plain, cases[i].plain_len);
        sb_reset(&enc);
        assert_int_equal(b64_encode(cases[i].plain, cases[i].plain_len,
                                    &enc), 0);
        assert_string_equal(sb_str(&enc), cases[i].text);
    }
    /* a NUL inside the text is a bad byte, not the end of it */
    assert_int_equal(b64_decode("Zm9v\0Zm9", 8, &out), -1);
    /* the output bound is honoured */
    sb_release(&out);
    sb_init(&out, 2);
    assert_int_equal(b64_decode("Zm9v", 4, &out), -1);
    assert_int_equal(sb_len(&out), 0);
    sb_release(&enc);
    sb_init(&enc, 3);
    assert_int_equal(b64_encode("foo", 3, &enc), -1);
    assert_int_equal(sb_len(&enc), 0);
    sb_release(&out);
    sb_release(&enc);
}

/* ---- configuration ---- */

static void test_security_options(void **state)
{
    static const struct {
        const char *words[4];
        int ok;
        unsigned flags_nonzero;
    } cases[] = {
        {{NULL}, 0, 0},
        {{"noanonymous", NULL}, 0, 1},
        {{"NoPlainText", "noanonymous", NULL}, 0, 1},
        {{"noactive", "nodictionary", "mutual_auth", NULL}, 0, 1},
        {{"forward_secrecy", NULL}, 0, 1},
        {{"noanonymous", "nonsense", NULL}, -1, 0},
        {{"", NULL}, -1, 0},
    };
    strbuf err;

    (void)state;
    sb_init(&err, 256);
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        unsigned flags = 99;

        sb_reset(&err);
        assert_int_equal(saslopt_parse("smtpd_sasl_security_options",
                                       cases[i].words, &flags, &err),
                         cases[i].ok);
        if (cases[i].ok == 0)
            assert_int_equal(flags != 0, cases[i].flags_nonzero);
        else
            assert_non_null(strstr(sb_str(&err), "smtpd_sasl_security_options"));
    }
    sb_release(&err);
}

static void test_config_errors(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *main_cf;
        const char *err;
    } cases[] = {
        {"smtpd_sasl_type = dovecot\n", "smtpd_sasl_type = dovecot"},
        {"smtpd_sasl_security_options = noanonymous, bogus\n", "bogus"},
        {"smtpd_sasl_tls_security_options = bogus\n",
         "smtpd_sasl_tls_security_options"},
        {"smtpd_sasl_exceptions_networks = 10.1.0.0/8\n",
         "smtpd_sasl_exceptions_networks"},
        {"smtpd_sasl_exceptions_networks = example.com\n",
         "smtpd_sasl_exceptions_networks"},
        {"smtpd_sasl_path =\n", "smtpd_sasl_path"},
        {"smtpd_sasl_path = private/auth\n", "smtpd_sasl_path"},
    };
    strbuf err;

    sb_init(&err, 1024);
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        conf *c = load(f, cases[i].main_cf);

        sb_reset(&err);
        assert_null(smtpd_sasl_open(c, &err));
        if (strstr(sb_str(&err), cases[i].err) == NULL)
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, sb_str(&err),
                     cases[i].err);
        conf_free(c);
    }
    sb_release(&err);
}

static void test_disabled(void **state)
{
    struct fixture *f = *state;
    smtpd_sasl_conn *sc;
    strbuf reply, ehlo;
    struct smtpd_sasl_cmd cmd = { .args = " PLAIN AGFsaWNlAHNlY3JldA==" };
    int io = 99;

    sb_init(&reply, 1024);
    sb_init(&ehlo, 1024);
    /* a bad type does not matter while AUTH is off */
    open_with(f, "smtpd_sasl_auth_enable = no\nsmtpd_sasl_type = dovecot\n");
    assert_false(smtpd_sasl_enabled(f->s));
    sc = session(f->s, "192.0.2.7", false);
    assert_false(smtpd_sasl_offered(sc));
    assert_string_equal(smtpd_sasl_mechanisms(sc), "");
    assert_int_equal(smtpd_sasl_ehlo(sc, &ehlo), 0);
    assert_string_equal(sb_str(&ehlo), "");
    assert_int_equal(smtpd_sasl_auth_cmd(sc, NULL, &cmd, &reply, &io),
                     SMTPD_SASL_REFUSED);
    assert_string_equal(sb_str(&reply), SMTPD_SASL_REPLY_DISABLED);
    assert_int_equal(io, TIO_OK);
    assert_null(smtpd_sasl_username(sc));
    smtpd_sasl_conn_free(sc);
    sb_release(&reply);
    sb_release(&ehlo);
}

/* ---- exchanges without I/O ---- */

/* One step of a scripted exchange: NULL mech = a response line. */
struct step {
    const char *mech;
    const char *line;           /* initial response or response line */
    enum smtpd_sasl_step want;
    const char *reply;
};

/* One scripted exchange and what it leaves behind. */
struct script {
    const char *name;
    struct step steps[4];
    const char *user;           /* NULL: not authenticated afterwards */
    const char *log;            /* a line the log must contain, or NULL */
};

static const struct script scripts[] = {
    {"plain initial", {
        {"PLAIN", "AGFsaWNlAHNlY3JldA==", SMTPD_SASL_STEP_DONE,
         SMTPD_SASL_REPLY_OK}}, "alice@" REALM, NULL},
    {"plain lower case, continuation", {
        {"plain", NULL, SMTPD_SASL_STEP_MORE, "334 "},
        {NULL, "AGFsaWNlAHNlY3JldA==", SMTPD_SASL_STEP_DONE,
         SMTPD_SASL_REPLY_OK}}, "alice@" REALM, NULL},
    {"plain empty initial", {
        {"PLAIN", "=", SMTPD_SASL_STEP_FAIL,
         "535 5.7.8 Error: authentication failed: "}}, NULL,
     "warning: client.example.net[192.0.2.7]: SASL PLAIN authentication "
     "failed: "},
    {"plain wrong password", {
        {"PLAIN", "AGFsaWNlAHdyb25n", SMTPD_SASL_STEP_FAIL,
         "535 5.7.8 Error: authentication failed: authentication failure"}},
     NULL, "warning: client.example.net[192.0.2.7]: SASL PLAIN authentication "
     "failed: authentication failure, sasl_username=alice@" REALM "\n"},
    {"plain unknown user", {
        {"PLAIN", "AG1hbGxvcnkAc2VjcmV0", SMTPD_SASL_STEP_FAIL,
         "535 5.7.8 Error: authentication failed: authentication failure"}},
     NULL, "SASL PLAIN authentication failed: authentication failure"},
    {"login", {
        {"LOGIN", NULL, SMTPD_SASL_STEP_MORE, "334 VXNlcm5hbWU6"},
        {NULL, "YWxpY2U=", SMTPD_SASL_STEP_MORE, "334 UGFzc3dvcmQ6"},
        {NULL, "c2VjcmV0", SMTPD_SASL_STEP_DONE, SMTPD_SASL_REPLY_OK}},
     "alice@" REALM, NULL},
    {"login initial user", {
        {"LOGIN", "YWxpY2U=", SMTPD_SASL_STEP_MORE, "334 UGFzc3dvcmQ6"},
        {NULL, "c2VjcmV0", SMTPD_SASL_STEP_DONE, SMTPD_SASL_REPLY_OK}},
     "alice@" REALM, NULL},
    {"login wrong password", {
        {"LOGIN", "YWxpY2U=", SMTPD_SASL_STEP_MORE, "334 UGFzc3dvcmQ6"},
        {NULL, "d3Jvbmc=", SMTPD_SASL_STEP_FAIL,
         "535 5.7.8 Error: authentication failed: authentication failure"}},
     NULL, "warning: client.example.net[192.0.2.7]: SASL LOGIN authentication "
     "failed: authentication failure"},
    {"login cancel", {
        {"LOGIN", NULL, SMTPD_SASL_STEP_MORE, "334 VXNlcm5hbWU6"},
        {NULL, "*", SMTPD_SASL_STEP_FAIL, SMTPD_SASL_REPLY_ABORTED}},
     NULL, "warning: client.example.net[192.0.2.7]: SASL LOGIN authentication "
     "aborted\n"},
    {"bad base64 initial", {
        {"PLAIN", "AGFsaWNl!", SMTPD_SASL_STEP_FAIL, SMTPD_SASL_REPLY_DECODE}},
     NULL, "SASL PLAIN authentication failed: Invalid base64 data in initial "
     "response"},
    {"bad base64 continued", {
        {"LOGIN", NULL, SMTPD_SASL_STEP_MORE, "334 VXNlcm5hbWU6"},
        {NULL, "YWxpY2U", SMTPD_SASL_STEP_FAIL, SMTPD_SASL_REPLY_DECODE}},
     NULL, "SASL LOGIN authentication failed: Invalid base64 data in "
     "continued response"},
    {"mechanism not offered", {
        {"CRAM-MD5", NULL, SMTPD_SASL_STEP_FAIL,
         "535 5.7.8 Error: authentication failed: "}},
     NULL, "SASL CRAM-MD5 authentication failed: "},
    {"mechanism syntax", {
        {"PL@IN", NULL, SMTPD_SASL_STEP_FAIL, SMTPD_SASL_REPLY_SYNTAX}},
     NULL, NULL},
    {"mechanism too long", {
        {"ABCDEFGHIJKLMNOPQRSTU", NULL, SMTPD_SASL_STEP_FAIL,
         SMTPD_SASL_REPLY_SYNTAX}}, NULL, NULL},
};

/* run_script - play one script on a fresh session. */
static void run_script(struct fixture *f, const struct script *sc_)
{
    smtpd_sasl_conn *sc = session(f->s, "192.0.2.7", false);
    strbuf reply;

    sb_init(&reply, 4096);
    sb_reset(&f->log);
    for (size_t i = 0; i < 4 && sc_->steps[i].reply != NULL; i++) {
        const struct step *st = &sc_->steps[i];
        enum smtpd_sasl_step got = st->mech
            ? smtpd_sasl_start(sc, st->mech, st->line, &reply)
            : smtpd_sasl_next(sc, st->line, strlen(st->line), &reply);

        if (got != st->want || strncmp(sb_str(&reply), st->reply,
                                       strlen(st->reply)) != 0)
            fail_msg("%s, step %zu: got %d \"%s\"", sc_->name, i, (int)got,
                     sb_str(&reply));
    }
    if (sc_->user != NULL) {
        assert_non_null(smtpd_sasl_username(sc));
        assert_string_equal(smtpd_sasl_username(sc), sc_->user);
    } else {
        assert_null(smtpd_sasl_username(sc));
        assert_null(smtpd_sasl_method(sc));
    }
    if (sc_->log != NULL && strstr(sb_str(&f->log), sc_->log) == NULL)
        fail_msg("%s: log lacks \"%s\":\n%s", sc_->name, sc_->log,
                 sb_str(&f->log));
    smtpd_sasl_conn_free(sc);
    sb_release(&reply);
}

static void test_exchanges(void **state)
{
    struct fixture *f = *state;

    if (!need_sasldb())
        return;
    open_with(f, "");
    for (size_t i = 0; i < sizeof(scripts) / sizeof(*scripts); i++)
        run_script(f, &scripts[i]);
}

static void test_after_success(void **state)
{
    struct fixture *f = *state;
    smtpd_sasl_conn *sc;
    strbuf reply, out;

    if (!need_sasldb())
        return;
    sb_init(&reply, 1024);
    sb_init(&out, 1024);
    open_with(f, "broken_sasl_auth_clients = yes\n"
              "smtpd_sasl_authenticated_header = yes\n");
    sc = session(f->s, "192.0.2.7", false);
    assert_true(smtpd_sasl_offered(sc));
    assert_string_equal(smtpd_sasl_mechanisms(sc), "PLAIN LOGIN");
    assert_int_equal(smtpd_sasl_ehlo(sc, &out), 0);
    assert_string_equal(sb_str(&out), "AUTH PLAIN LOGIN\nAUTH=PLAIN LOGIN\n");
    sb_reset(&out);
    assert_int_equal(smtpd_sasl_log_clause(sc, &out), 0);
    assert_int_equal(smtpd_sasl_received_clause(f->s, sc, &out), 0);
    assert_string_equal(sb_str(&out), "");
    /* a failure first: the session can still authenticate afterwards */
    assert_int_equal(smtpd_sasl_start(sc, "PLAIN", "AGFsaWNlAHdyb25n", &reply),
                     SMTPD_SASL_STEP_FAIL);
    assert_int_equal(smtpd_sasl_start(sc, "plain", "AGFsaWNlAHNlY3JldA==",
                                      &reply), SMTPD_SASL_STEP_DONE);
    assert_string_equal(smtpd_sasl_method(sc), "PLAIN");
    assert_int_equal(smtpd_sasl_log_clause(sc, &out), 0);
    assert_string_equal(sb_str(&out),
                        ", sasl_method=PLAIN, sasl_username=alice@" REALM);
    sb_reset(&out);
    assert_int_equal(smtpd_sasl_received_clause(f->s, sc, &out), 0);
    assert_string_equal(sb_str(&out), "(Authenticated sender: alice@" REALM ")");
    /* a second AUTH is refused and changes nothing */
    assert_int_equal(smtpd_sasl_start(sc, "LOGIN", NULL, &reply),
                     SMTPD_SASL_STEP_FAIL);
    assert_string_equal(sb_str(&reply), SMTPD_SASL_REPLY_AGAIN);
    assert_string_equal(smtpd_sasl_username(sc), "alice@" REALM);
    smtpd_sasl_conn_free(sc);
    /* the header clause is off by default */
    open_with(f, "");
    sc = session(f->s, "192.0.2.7", false);
    sb_reset(&out);
    assert_int_equal(smtpd_sasl_ehlo(sc, &out), 0);
    assert_string_equal(sb_str(&out), "AUTH PLAIN LOGIN\n");
    assert_int_equal(smtpd_sasl_start(sc, "PLAIN", "AGFsaWNlAHNlY3JldA==",
                                      &reply), SMTPD_SASL_STEP_DONE);
    sb_reset(&out);
    assert_int_equal(smtpd_sasl_received_clause(f->s, sc, &out), 0);
    assert_string_equal(sb_str(&out), "");
    smtpd_sasl_conn_free(sc);
    sb_release(&reply);
    sb_release(&out);
}

static void test_offer_rules(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *main_cf;
        const char *addr;
        bool tls;
        bool offered;
    } cases[] = {
        {"", "192.0.2.7", false, true},
        {"smtpd_sasl_exceptions_networks = 192.0.2.0/24\n", "192.0.2.7", false,
         false},
        {"smtpd_sasl_exceptions_networks = 192.0.2.0/24\n", "198.51.100.1",
         false, true},
        {"smtpd_sasl_exceptions_networks = !192.0.2.7, 192.0.2.0/24\n",
         "192.0.2.7", false, true},
        {"smtpd_sasl_exceptions_networks = [2001:db8::]/32\n", "2001:db8::5",
         false, false},
        {"smtpd_sasl_exceptions_networks = 192.0.2.0/24\n", "not-an-address",
         false, true},
        /* PLAIN and LOGIN are plaintext mechanisms: TLS only */
        {"smtpd_sasl_security_options = noanonymous, noplaintext\n"
         "smtpd_sasl_tls_security_options = noanonymous\n", "192.0.2.7", false,
         false},
        {"smtpd_sasl_security_options = noanonymous, noplaintext\n"
         "smtpd_sasl_tls_security_options = noanonymous\n", "192.0.2.7", true,
         true},
        /* the TLS options default to the plaintext ones */
        {"smtpd_sasl_security_options = noplaintext\n", "192.0.2.7", true,
         false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        smtpd_sasl_conn *sc;

        open_with(f, cases[i].main_cf);
        sb_reset(&f->log);
        sc = session(f->s, cases[i].addr, cases[i].tls);
        if (smtpd_sasl_offered(sc) != cases[i].offered)
            fail_msg("case %zu: offered %d", i, (int)smtpd_sasl_offered(sc));
        if (!cases[i].offered)
            assert_string_equal(smtpd_sasl_mechanisms(sc), "");
        if (!cases[i].offered && strstr(cases[i].main_cf, "noplaintext"))
            assert_non_null(strstr(sb_str(&f->log),
                                   "no SASL authentication mechanisms"));
        smtpd_sasl_conn_free(sc);
    }
}

/* ---- the AUTH command over a socketpair ---- */

/* put - write all of text to fd. */
static void put(int fd, const char *text)
{
    size_t len = strlen(text);

    assert_int_equal(write(fd, text, len), (ssize_t)len);
}

/* take - what the server wrote to fd so far (waits for the first bytes). */
static void take(int fd, strbuf *out)
{
    char buf[4096];

    sb_reset(out);
    for (int i = 0; i < 100; i++) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        ssize_t n;

        if (poll(&pfd, 1, i == 0 ? 200 : 0) <= 0)
            break;
        if ((n = read(fd, buf, sizeof(buf))) <= 0)
            break;
        assert_int_equal(sb_append(out, buf, (size_t)n), 0);
    }
}

/* One AUTH command: client bytes sent up front, what the server says. */
struct cmd_case {
    const char *name;
    const char *args;
    bool in_mail, need_tls, close_after;
    const char *client;         /* pipelined response lines */
    enum smtpd_sasl_result want;
    const char *reply;          /* prefix of the final reply */
    const char *wire;           /* what the client read (334 lines) */
    bool authed;
};

static const struct cmd_case cmd_cases[] = {
    {"plain", " PLAIN AGFsaWNlAHNlY3JldA==", false, false, false, "",
     SMTPD_SASL_DONE, SMTPD_SASL_REPLY_OK, "", true},
    {"login pipelined", " LOGIN", false, false, false,
     "YWxpY2U=\r\nc2VjcmV0\r\n", SMTPD_SASL_DONE, SMTPD_SASL_REPLY_OK,
     "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n", true},
    {"login bare LF responses", "\tLOGIN  ", false, false, false,
     "YWxpY2U=\nc2VjcmV0\n", SMTPD_SASL_DONE, SMTPD_SASL_REPLY_OK,
     "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n", true},
    {"plain continuation", " PLAIN", false, false, false,
     "AGFsaWNlAHNlY3JldA==\r\n", SMTPD_SASL_DONE, SMTPD_SASL_REPLY_OK,
     "334 \r\n", true},
    {"cancel", " LOGIN", false, false, false, "*\r\n", SMTPD_SASL_REFUSED,
     SMTPD_SASL_REPLY_ABORTED, "334 VXNlcm5hbWU6\r\n", false},
    {"NUL in response", " LOGIN", false, false, false, "YWxp\0Y2U=\r\n",
     SMTPD_SASL_REFUSED, SMTPD_SASL_REPLY_DECODE, "334 VXNlcm5hbWU6\r\n",
     false},
    {"8-bit response", " LOGIN", false, false, false, "YWxp\xc3\xa9Y2U=\r\n",
     SMTPD_SASL_REFUSED, SMTPD_SASL_REPLY_DECODE, "334 VXNlcm5hbWU6\r\n",
     false},
    {"wrong password", " LOGIN YWxpY2U=", false, false, false,
     "d3Jvbmc=\r\n", SMTPD_SASL_REFUSED,
     "535 5.7.8 Error: authentication failed: authentication failure",
     "334 UGFzc3dvcmQ6\r\n", false},
    {"lost connection", " LOGIN", false, false, true, "YWxpY2U=\r\n",
     SMTPD_SASL_LOST, "", "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n", false},
    {"no mechanism", "", false, false, false, "", SMTPD_SASL_REFUSED,
     SMTPD_SASL_REPLY_SYNTAX, "", false},
    {"three words", " PLAIN AGFs x", false, false, false, "",
     SMTPD_SASL_REFUSED, SMTPD_SASL_REPLY_SYNTAX, "", false},
    {"in a transaction", " PLAIN AGFsaWNlAHNlY3JldA==", true, false, false, "",
     SMTPD_SASL_REFUSED, SMTPD_SASL_REPLY_IN_MAIL, "", false},
    {"TLS required", " PLAIN AGFsaWNlAHNlY3JldA==", false, true, false, "",
     SMTPD_SASL_REFUSED, SMTPD_SASL_REPLY_NEED_TLS, "", false},
};

/* run_cmd - one AUTH command case on a fresh session. */
static void run_cmd(struct fixture *f, const struct cmd_case *k)
{
    smtpd_sasl_conn *sc = session(f->s, "192.0.2.7", false);
    struct smtpd_sasl_cmd cmd = {
        .args = k->args, .in_mail = k->in_mail, .need_tls = k->need_tls,
    };
    strbuf reply, wire;
    int sv[2], io = 99;
    tio *t;

    sb_init(&reply, 4096);
    sb_init(&wire, 65536);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    t = tio_open(sv[1], WAIT_MS);
    /* the NUL case needs the bytes as written, strlen would stop early */
    if (strcmp(k->name, "NUL in response") == 0)
        assert_int_equal(write(sv[0], k->client, 11), 11);
    else
        put(sv[0], k->client);
    if (k->close_after)
        assert_int_equal(shutdown(sv[0], SHUT_WR), 0);
    if (smtpd_sasl_auth_cmd(sc, t, &cmd, &reply, &io) != k->want
        || strncmp(sb_str(&reply), k->reply, strlen(k->reply)) != 0)
        fail_msg("%s: reply \"%s\" io %d", k->name, sb_str(&reply), io);
    assert_int_equal(io, k->want == SMTPD_SASL_LOST ? TIO_EOF : TIO_OK);
    take(sv[0], &wire);
    if (strcmp(sb_str(&wire), k->wire) != 0)
        fail_msg("%s: wire \"%s\"", k->name, sb_str(&wire));
    assert_int_equal(smtpd_sasl_username(sc) != NULL, k->authed);
    tio_free(t);
    close(sv[0]);
    close(sv[1]);
    smtpd_sasl_conn_free(sc);
    sb_release(&reply);
    sb_release(&wire);
}

static void test_auth_command(void **state)
{
    struct fixture *f = *state;

    if (!need_sasldb())
        return;
    open_with(f, "");
    for (size_t i = 0; i < sizeof(cmd_cases) / sizeof(*cmd_cases); i++)
        run_cmd(f, &cmd_cases[i]);
}

static void test_overlong_response(void **state)
{
    struct fixture *f = *state;
    smtpd_sasl_conn *sc;
    struct smtpd_sasl_cmd cmd = { .args = " LOGIN" };
    strbuf reply, wire;
    char big[200];
    int sv[2], io = 99;
    tio *t;

    if (!need_sasldb())
        return;
    open_with(f, "smtpd_sasl_response_limit = 64\n");
    sc = session(f->s, "192.0.2.7", false);
    sb_init(&reply, 4096);
    sb_init(&wire, 4096);
    memset(big, 'A', sizeof(big) - 3);
    memcpy(big + sizeof(big) - 3, "\r\n", 3);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    t = tio_open(sv[1], WAIT_MS);
    put(sv[0], big);
    put(sv[0], "NOOP\r\n");
    sb_reset(&f->log);
    assert_int_equal(smtpd_sasl_auth_cmd(sc, t, &cmd, &reply, &io),
                     SMTPD_SASL_REFUSED);
    assert_string_equal(sb_str(&reply), SMTPD_SASL_REPLY_TOOLONG);
    assert_non_null(strstr(sb_str(&f->log), "SASL LOGIN authentication "
                           "aborted: response too long"));
    /* the rest of the long line is gone; the next command is intact */
    {
        unsigned flags = 0;

        assert_int_equal(tio_getline(t, &wire, 1000, &flags), TIO_OK);
        assert_string_equal(sb_str(&wire), "NOOP");
    }
    /* and the session may try again */
    cmd.args = " PLAIN AGFsaWNlAHNlY3JldA==";
    assert_int_equal(smtpd_sasl_auth_cmd(sc, t, &cmd, &reply, &io),
                     SMTPD_SASL_DONE);
    tio_free(t);
    close(sv[0]);
    close(sv[1]);
    smtpd_sasl_conn_free(sc);
    sb_release(&reply);
    sb_release(&wire);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64_table),
        cmocka_unit_test(test_security_options),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exchanges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_after_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offer_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlong_response, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
