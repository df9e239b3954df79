/*
 * Unit tests for tls/tls_server: building the server from configurations
 * (good and bad certificates, bad levels and protocol lists), the
 * level-encrypt command gate, and real handshakes over a socketpair with
 * a forked OpenSSL client: plaintext pipelined after STARTTLS is discarded,
 * plaintext sent after the 220 breaks the handshake, timeouts, old
 * protocols refused, ECDSA chosen for an ECDSA-only client, and session
 * resumption across two server instances sharing the ticket key file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tls/tls.h"
#include "common/msg.h"
#include "common/tio.h"
#include "testutil.h"

#define DATA TERN_TEST_DATA "/tls/"

struct fixture {
    char dir[64];
    char sess[128];             /* the client's saved session */
    strbuf log;                 /* captured log lines */
};

/* load - a conf whose main.cf is BASE + text. */
static conf *load(struct fixture *f, const char *text)
{
    char main_cf[4096];

    assert_int_equal(fmt_fixed(main_cf, sizeof(main_cf),
                               "queue_directory = %s/spool\n"
                               "daemon_directory = %s\n%s", f->dir,
                               TERN_TEST_LIBEXEC, text),
                     0);
    return tu_conf_clean(f->dir, main_cf, "");
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[128];

    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof(f->dir), "/tmp/tls-test.XXXXXX");
    assert_int_equal(fmt_fixed(path, sizeof(path), "%s/spool", f->dir), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(fmt_fixed(path, sizeof(path), "%s/spool/private", f->dir),
                     0);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(fmt_fixed(f->sess, sizeof(f->sess), "%s/session.der",
                               f->dir), 0);
    sb_init(&f->log, 1 << 20);
    msg_set_capture(tu_capture_lines, &f->log);
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

/* Configurations and what tls_server_open must make of them. */
static const struct open_case {
    const char *main_cf;
    int outcome;                /* 0 ready, 1 not ready, -1 config error */
    const char *text;           /* substring of the error / reason */
} open_cases[] = {
    { "smtpd_tls_security_level = none\n", 1, "= none" },
    { "smtpd_tls_security_level = may\n"
      "smtpd_tls_cert_file = " DATA "rsa.crt\n"
      "smtpd_tls_key_file = " DATA "rsa.key\n", 0, NULL },
    { "smtpd_tls_security_level = encrypt\n"
      "smtpd_tls_eccert_file = " DATA "ec.crt\n"
      "smtpd_tls_eckey_file = " DATA "ec.key\n", 0, NULL },
    { "smtpd_tls_security_level = may\n"
      "smtpd_tls_chain_files = " DATA "ec-chain.pem\n", 0, NULL },
    { "smtpd_tls_security_level = may\n"
      "smtpd_tls_cert_file = " DATA "missing.crt\n",
      1, "smtpd_tls_cert_file: cannot open \"" DATA "missing.crt\"" },
    { "smtpd_tls_security_level = may\n"
      "smtpd_tls_cert_file = " DATA "rsa.crt\n"
      "smtpd_tls_key_file = " DATA "missing.key\n",
      1, "smtpd_tls_key_file: cannot open \"" DATA "missing.key\"" },
    { "smtpd_tls_security_level = may\n"
      "smtpd_tls_cert_file = " DATA "garbage.pem\n"
      "smtpd_tls_key_file = " DATA "rsa.key\n",
      1, "smtpd_tls_cert_file: cannot load a certificate from \"" DATA
      "garbage.pem\"" },
    { "smtpd_tls_security_level = may\n"
      "smtpd_tls_cert_file = " DATA "rsa.crt\n"
      "smtpd_tls_key_file = " DATA "garbage.pem\n",
      1, "smtpd_tls_key_file: cannot load a private key" },
    { "smtpd_tls_security_level = may\n"
      "smtpd_tls_cert_file = " DATA "rsa.crt\n"
      "smtpd_tls_key_file = " DATA "ec.key\n", 1, "smtpd_tls_key_file" },
    { "smtpd_tls_security_level = encrypt\n", 1, "no server certificate" },
    { "smtpd_tls_security_level = may\n"
      "smtpd_tls_chain_files = " DATA "rsa.crt\n", 1,
      "smtpd_tls_chain_files: cannot load a private key" },
    { "smtpd_tls_security_level = maybe\n", -1,
      "smtpd_tls_security_level: unknown level \"maybe\"" },
    { "smtpd_tls_security_level = may\n"
      "smtpd_tls_protocols = >=TLSv1.4\n", -1,
      "smtpd_tls_protocols: unknown TLS protocol \">=TLSv1.4\"" },
    { "smtpd_tls_security_level = encrypt\n"
      "smtpd_tls_protocols = bogus\n"
      "smtpd_tls_mandatory_protocols = SSLv2\n", -1,
      "smtpd_tls_mandatory_protocols: no protocol OpenSSL supports" },
    { "smtpd_tls_security_level = may\n"
      "smtpd_tls_ciphers = strong\n", -1,
      "smtpd_tls_ciphers: unknown TLS cipher grade" },
    { "smtpd_tls_security_level = may\n"
      "tls_medium_cipherlist = NOSUCHCIPHER\n", -1,
      "OpenSSL refuses cipher list \"NOSUCHCIPHER\"" },
};

static void test_open(void **state)
{
    struct fixture *f = *state;
    strbuf err;

    sb_init(&err, 4096);
    for (size_t i = 0; i < sizeof(open_cases) / sizeof(*open_cases); i++) {
        const struct open_case *oc = &open_cases[i];
        conf *c = load(f, oc->main_cf);
        tls_server *ts;

        sb_reset(&err);
        sb_reset(&f->log);
        ts = tls_server_open(c, &err);
        if (oc->outcome < 0) {
            assert_null(ts);
            if (strstr(sb_str(&err), oc->text) == NULL)
                fail_msg("case %zu: error \"%s\"", i, sb_str(&err));
        } else {
            assert_non_null(ts);
            assert_int_equal(tls_server_ready(ts), oc->outcome == 0);
            if (oc->outcome == 1
                && strstr(tls_server_error(ts), oc->text) == NULL)
                fail_msg("case %zu: reason \"%s\"", i, tls_server_error(ts));
            if (oc->outcome == 1 && tls_server_level(ts) != TLS_LEV_NONE)
                assert_non_null(strstr(sb_str(&f->log),
                                       "disabling TLS support"));
        }
        tls_server_free(ts);
        conf_free(c);
    }
    sb_release(&err);
}

/* Which verbs level encrypt refuses before TLS, and what is offered. */
static void test_gate(void **state)
{
    static const struct {
        const char *verb;
        bool refused;
    } verbs[] = {
        { "EHLO", false }, { "helo", false }, { "STARTTLS", false },
        { "NOOP", false }, { "RSET", false }, { "Quit", false },
        { "MAIL", true }, { "RCPT", true }, { "DATA", true }, { "BDAT", true },
        { "AUTH", true }, { "VRFY", true }, { "ETRN", true }, { "", true },
        { "STARTTLSX", true },
    };
    struct fixture *f = *state;
    conf *c = load(f, "smtpd_tls_security_level = encrypt\n"
                   "smtpd_tls_auth_only = yes\n");
    conf *m = load(f, "smtpd_tls_security_level = may\n");
    strbuf err;
    tls_server *enc, *may;

    sb_init(&err, 1024);
    assert_non_null(enc = tls_server_open(c, &err));
    assert_non_null(may = tls_server_open(m, &err));
    assert_false(tls_server_ready(enc));    /* no certificate: still gated */
    for (size_t i = 0; i < sizeof(verbs) / sizeof(*verbs); i++) {
        assert_int_equal(tls_server_needs_starttls(enc, false, verbs[i].verb),
                         verbs[i].refused);
        assert_false(tls_server_needs_starttls(enc, true, verbs[i].verb));
        assert_false(tls_server_needs_starttls(may, false, verbs[i].verb));
    }
    assert_true(tls_server_offer(enc, false));
    assert_false(tls_server_offer(enc, true));
    assert_false(tls_server_auth_ok(enc, false));
    assert_true(tls_server_auth_ok(enc, true));
    assert_true(tls_server_auth_ok(may, false));
    tls_server_free(enc);
    tls_server_free(may);
    conf_free(c);
    conf_free(m);
    sb_release(&err);
}

/* ---- Handshakes against a forked OpenSSL client ---- */

/* What the client does. */
struct client_plan {
    const char *plain;          /* written before waiting for the 220 */
    const char *after_220;      /* plaintext written after the 220 */
    bool tls;                   /* handshake at all */
    int max_version;            /* 0 = default */
    const char *sigalgs;        /* NULL = default */
    bool save_session, use_session;
    const char *sess_path;
};

/* client_line - read one plaintext line byte by byte (so nothing more). */
static int client_line(int fd, char *buf, size_t size)
{
    size_t n = 0;

    while (n + 1 < size) {
        if (read(fd, buf + n, 1) != 1)
            return -1;
        if (buf[n++] == '\n')
            break;
    }
    buf[n] = '\0';
    return 0;
}

/* client_session_io - load or save the session; 0 or -1. */
static int client_session_io(SSL *ssl, const struct client_plan *p, bool save)
{
    unsigned char buf[8192];
    const unsigned char *q = buf;
    unsigned char *w = buf;
    SSL_SESSION *s;
    FILE *fp;
    size_t n;
    int len;

    if (save) {
        if ((s = SSL_get1_session(ssl)) == NULL
            || (len = i2d_SSL_SESSION(s, NULL)) <= 0
            || len > (int)sizeof(buf) || i2d_SSL_SESSION(s, &w) != len
            || (fp = fopen(p->sess_path, "w")) == NULL)
            return -1;
        SSL_SESSION_free(s);
        n = fwrite(buf, 1, (size_t)len, fp);
        return fclose(fp) == 0 && n == (size_t)len ? 0 : -1;
    }
    if ((fp = fopen(p->sess_path, "r")) == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf), fp);
    (void)fclose(fp);
    if ((s = d2i_SSL_SESSION(NULL, &q, (long)n)) == NULL
        || SSL_set_session(ssl, s) != 1)
        return -1;
    SSL_SESSION_free(s);
    return 0;
}

/* client_tls - handshake, "NOOP", expect "250 ok"; exit code 0 = as planned. */
static int client_tls(int fd, const struct client_plan *p)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    char reply[64] = "";
    SSL *ssl;
    int n;

    if (ctx == NULL || (ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1)
        return 10;
    if (p->max_version != 0)
        (void)SSL_set_max_proto_version(ssl, p->max_version);
    if (p->max_version != 0 && p->max_version < TLS1_2_VERSION)
        (void)SSL_set_security_level(ssl, 0);
    if (p->sigalgs != NULL && SSL_set1_sigalgs_list(ssl, p->sigalgs) != 1)
        return 11;
    if (p->use_session && client_session_io(ssl, p, false) < 0)
        return 12;
    if (SSL_connect(ssl) != 1)
        return 20;              /* handshake refused */
    if (SSL_write(ssl, "NOOP\r\n", 6) != 6)
        return 21;
    if ((n = SSL_read(ssl, reply, sizeof(reply) - 1)) <= 0)
        return 22;
    if (strncmp(reply, "250 ok", 6) != 0)
        return 23;
    if (p->save_session && client_session_io(ssl, p, true) < 0)
        return 24;
    if (p->use_session && !SSL_session_reused(ssl))
        return 25;
    if (p->sigalgs != NULL && (SSL_get0_peer_certificate(ssl) == NULL
        || EVP_PKEY_get_base_id(X509_get0_pubkey(
               SSL_get0_peer_certificate(ssl))) != EVP_PKEY_EC))
        return 26;
    (void)SSL_shutdown(ssl);
    return 0;
}

/* client_main - the forked client's whole life. */
static int client_main(int fd, const struct client_plan *p)
{
    char line[256];

    if (p->plain != NULL) {
        if (write(fd, p->plain, strlen(p->plain)) != (ssize_t)strlen(p->plain)
            || client_line(fd, line, sizeof(line)) < 0
            || strncmp(line, "220 ", 4) != 0)
            return 30;
    }
    if (p->after_220 != NULL
        && write(fd, p->after_220, strlen(p->after_220))
        != (ssize_t)strlen(p->after_220))
        return 31;
    if (!p->tls) {
        (void)read(fd, line, 1);        /* wait for the server to give up */
        return 0;
    }
    return client_tls(fd, p);
}

/* Result of one server-side run. */
struct run_result {
    bool started;
    int client_status;
    char line[64];              /* first command read over TLS */
    char protocol[32];
    bool reused;
    strbuf received;
};

/* run - fork the client, serve STARTTLS once; fills r. */
static void run(tls_server *ts, const struct client_plan *p,
                struct run_result *r)
{
    int sv[2], status;
    strbuf line, err;
    unsigned flags;
    tls_conn *tc;
    char eof;
    tio *t;
    pid_t pid;

    memset(r, 0, sizeof(*r));
    sb_init(&r->received, 256);
    sb_init(&line, 512);
    sb_init(&err, 1024);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_true((pid = fork()) >= 0);
    if (pid == 0) {
        (void)close(sv[0]);
        _exit(client_main(sv[1], p));
    }
    (void)close(sv[1]);
    t = tio_open(sv[0], 5000);
    if (p->plain != NULL) {
        assert_int_equal(tio_getline(t, &line, 512, &flags), TIO_OK);
        assert_string_equal(sb_str(&line), "STARTTLS");
        assert_int_equal(tio_puts(t, TLS_REPLY_READY "\r\n"), TIO_OK);
    }
    if ((tc = tls_server_start(ts, t, "client[127.0.0.1]", &err)) != NULL) {
        r->started = true;
        if (tio_getline(t, &line, 512, &flags) == TIO_OK)
            (void)fmt_fixed(r->line, sizeof(r->line), "%s", sb_str(&line));
        assert_int_equal(tio_puts(t, "250 ok\r\n"), TIO_OK);
        assert_int_equal(tio_flush(t), TIO_OK);
        (void)fmt_fixed(r->protocol, sizeof(r->protocol), "%s",
                        tls_conn_info(tc)->protocol);
        r->reused = tls_conn_info(tc)->reused;
        assert_int_equal(tls_info_received(tls_conn_info(tc), &r->received),
                         0);
        (void)tio_read(t, &eof, 1);             /* the client's close */
    }
    tio_free(t);
    tls_conn_free(tc);
    (void)close(sv[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    r->client_status = WIFEXITED(status) ? WEXITSTATUS(status) : 99;
    sb_release(&line);
    sb_release(&err);
}

/* server - a ready server from main.cf text. */
static tls_server *server(struct fixture *f, const char *text, conf **cp)
{
    strbuf err;
    tls_server *ts;

    sb_init(&err, 1024);
    *cp = load(f, text);
    ts = tls_server_open(*cp, &err);
    if (ts == NULL)
        fail_msg("%s", sb_str(&err));
    sb_release(&err);
    if (!tls_server_ready(ts))
        fail_msg("not ready: %s", tls_server_error(ts));
    return ts;
}

#define BOTH_CERTS \
    "smtpd_tls_security_level = may\n" \
    "smtpd_tls_cert_file = " DATA "rsa.crt\n" \
    "smtpd_tls_key_file = " DATA "rsa.key\n" \
    "smtpd_tls_eccert_file = " DATA "ec.crt\n" \
    "smtpd_tls_eckey_file = " DATA "ec.key\n" \
    "smtpd_tls_loglevel = 1\n"

/* The CVE-2011-0411 class: RSET pipelined after STARTTLS never runs. */
static void test_pipelined_plaintext_discarded(void **state)
{
    struct fixture *f = *state;
    struct client_plan p = { .plain = "STARTTLS\r\nRSET\r\n", .tls = true };
    struct run_result r;
    conf *c;
    tls_server *ts = server(f, BOTH_CERTS, &c);

    sb_reset(&f->log);
    run(ts, &p, &r);
    assert_true(r.started);
    assert_int_equal(r.client_status, 0);
    assert_string_equal(r.line, "NOOP");        /* not "RSET" */
    assert_non_null(strstr(sb_str(&f->log), "client[127.0.0.1]: discarding 6 "
                           "bytes of plaintext sent before the TLS handshake"));
    assert_non_null(strstr(sb_str(&f->log), "Anonymous TLS connection "
                           "established from client[127.0.0.1]: TLSv1.3 with "
                           "cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"));
    assert_string_equal(sb_str(&r.received), "(using TLSv1.3 with cipher "
                        "TLS_AES_256_GCM_SHA384 (256/256 bits))");
    sb_release(&r.received);
    tls_server_free(ts);
    conf_free(c);
}

/* Plaintext sent after the 220 is read as TLS: the handshake fails. */
static void test_plaintext_after_220_fails(void **state)
{
    struct fixture *f = *state;
    struct client_plan p = { .plain = "STARTTLS\r\n",
                             .after_220 = "MAIL FROM:<evil@x>\r\n",
                             .tls = true };
    struct run_result r;
    conf *c;
    tls_server *ts = server(f, BOTH_CERTS, &c);

    sb_reset(&f->log);
    run(ts, &p, &r);
    assert_false(r.started);
    assert_int_not_equal(r.client_status, 0);
    assert_non_null(strstr(sb_str(&f->log),
                           "SSL_accept error from client[127.0.0.1]: "));
    sb_release(&r.received);
    tls_server_free(ts);
    conf_free(c);
}

/* A client that never starts the handshake is dropped at the timeout. */
static void test_handshake_timeout(void **state)
{
    struct fixture *f = *state;
    struct client_plan p = { .plain = "STARTTLS\r\n", .tls = false };
    struct run_result r;
    time_t t0 = time(NULL);
    conf *c;
    tls_server *ts = server(f, BOTH_CERTS "smtpd_starttls_timeout = 1s\n", &c);

    sb_reset(&f->log);
    run(ts, &p, &r);
    assert_false(r.started);
    assert_true(time(NULL) - t0 <= 3);
    assert_non_null(strstr(sb_str(&f->log),
                           "SSL_accept error from client[127.0.0.1]: timeout"));
    sb_release(&r.received);
    tls_server_free(ts);
    conf_free(c);
}

/* TLS 1.1 is refused by the default protocols; TLS 1.2 works. */
static void test_protocol_floor(void **state)
{
    struct fixture *f = *state;
    struct client_plan old = { .tls = true, .max_version = TLS1_1_VERSION };
    struct client_plan v12 = { .tls = true, .max_version = TLS1_2_VERSION };
    struct run_result r;
    conf *c;
    tls_server *ts = server(f, BOTH_CERTS, &c);

    run(ts, &old, &r);                          /* wrapper-mode style */
    assert_false(r.started);
    assert_int_equal(r.client_status, 20);
    sb_release(&r.received);
    run(ts, &v12, &r);
    assert_true(r.started);
    assert_int_equal(r.client_status, 0);
    assert_string_equal(r.protocol, "TLSv1.2");
    assert_non_null(strstr(sb_str(&r.received), "(using TLSv1.2 with cipher "
                           "ECDHE-"));
    sb_release(&r.received);
    tls_server_free(ts);
    conf_free(c);
}

/* An ECDSA-only client gets the ECDSA certificate. */
static void test_ecdsa_choice(void **state)
{
    struct fixture *f = *state;
    struct client_plan p = { .tls = true, .sigalgs = "ECDSA+SHA256" };
    struct run_result r;
    conf *c;
    tls_server *ts = server(f, BOTH_CERTS, &c);

    run(ts, &p, &r);
    assert_true(r.started);
    assert_int_equal(r.client_status, 0);       /* 26 = not an EC key */
    sb_release(&r.received);
    tls_server_free(ts);
    conf_free(c);
}

/* A ticket from one server instance resumes on another (shared key file). */
static void test_resumption_across_processes(void **state)
{
    struct fixture *f = *state;
    struct client_plan first = { .tls = true, .save_session = true,
                                 .sess_path = f->sess };
    struct client_plan again = { .tls = true, .use_session = true,
                                 .sess_path = f->sess };
    struct run_result r;
    struct stat st;
    char key[256];
    conf *c1, *c2;
    tls_server *a = server(f, BOTH_CERTS, &c1);
    tls_server *b = server(f, BOTH_CERTS, &c2);

    run(a, &first, &r);
    assert_int_equal(r.client_status, 0);
    assert_false(r.reused);
    sb_release(&r.received);
    assert_int_equal(fmt_fixed(key, sizeof(key),
                               "%s/spool/private/tls_ticket_key", f->dir), 0);
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 80);
    run(b, &again, &r);
    assert_int_equal(r.client_status, 0);       /* 25 = not resumed */
    assert_true(r.reused);
    sb_release(&r.received);
    tls_server_free(a);
    tls_server_free(b);
    conf_free(c1);
    conf_free(c2);
}

/* A server that is not ready refuses to start TLS, and says why. */
static void test_not_ready_start(void **state)
{
    struct fixture *f = *state;
    conf *c = load(f, "smtpd_tls_security_level = encrypt\n"
                   "smtpd_tls_cert_file = /nonexistent/cert.pem\n");
    strbuf err;
    tls_server *ts;
    tio *t;
    int sv[2];

    sb_init(&err, 1024);
    assert_non_null(ts = tls_server_open(c, &err));
    assert_false(tls_server_ready(ts));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    t = tio_open(sv[0], 1000);
    assert_null(tls_server_start(ts, t, "x[1.2.3.4]", &err));
    assert_non_null(strstr(sb_str(&err), "smtpd_tls_cert_file: cannot open "
                           "\"/nonexistent/cert.pem\""));
    tio_free(t);
    (void)close(sv[0]);
    (void)close(sv[1]);
    tls_server_free(ts);
    conf_free(c);
    sb_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_plaintext_discarded,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_plaintext_after_220_fails,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_timeout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_protocol_floor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ecdsa_choice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resumption_across_processes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_ready_start, setup, teardown),
    };

    /* As the server skeleton does: a peer's close must not kill us. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
