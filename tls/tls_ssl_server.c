/*
 * tls_ssl_server - the SMTP server's OpenSSL engine (module only): one
 * OpenSSL context per smtpd process built from the smtpd_tls_* parameters,
 * and the STARTTLS / wrapper-mode handshake on a session's tio stream. The
 * front (tls_server.c) has parsed the level and calls in only when it is
 * not none.
 *
 * Owns the SSL_CTX, the ticket key state and each tls_ssl_conn it returns.
 * Configuration nonsense is an error returned to the caller (the service
 * must not start); an unusable certificate or key only makes the server
 * "not ready", logged once here, so STARTTLS gets a 454 and a level that
 * requires TLS accepts no mail (fail closed, as Postfix). A failed
 * handshake is logged and returned; the caller hangs up.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "tls/tls_ssl.h"
#include "common/msg.h"
#include "common/xalloc.h"

#define TLS_ERR_MAX 1024
#define TLS_PATH_MAX 4096

/* Certificate/key parameter pairs, one per key type. */
static const struct tls_cert_param {
    const char *cert;
    const char *key;
} tls_cert_params[] = {
    { "smtpd_tls_cert_file", "smtpd_tls_key_file" },
    { "smtpd_tls_eccert_file", "smtpd_tls_eckey_file" },
};

/* tls_proto_range - set ctx's protocol range from a TLS_PROTO_* mask. */
static int tls_proto_range(SSL_CTX *ctx, unsigned mask, strbuf *err)
{
    int lo, hi;
    uint64_t holes;

    if (tls_proto_bounds(mask, &lo, &hi, &holes, err) < 0)
        return -1;
    if (holes != 0)
        (void)SSL_CTX_set_options(ctx, holes);
    if (SSL_CTX_set_min_proto_version(ctx, lo) != 1
        || SSL_CTX_set_max_proto_version(ctx, hi) != 1)
        return tls_fail(err, "cannot set the TLS protocol range");
    return 0;
}

/*
 * tls_server_policy - protocols and ciphers of the level (mandatory ones
 * for encrypt, as Postfix). Errors here are configuration errors.
 */
static int tls_server_policy(enum tls_level level, const conf *c, SSL_CTX *ctx,
                             strbuf *err)
{
    bool mand = level == TLS_LEV_ENCRYPT;
    const char *pname = mand ? "smtpd_tls_mandatory_protocols"
        : "smtpd_tls_protocols";
    const char *cname = mand ? "smtpd_tls_mandatory_ciphers"
        : "smtpd_tls_ciphers";
    strbuf list, why, excl;
    unsigned mask;
    int ret = -1;

    sb_init(&list, 8192);
    sb_init(&why, TLS_ERR_MAX);
    sb_init(&excl, 8192);
    if (sb_puts(&excl, conf_get_str(c, "smtpd_tls_exclude_ciphers")) < 0
        || (mand && (sb_putc(&excl, ',') < 0 || sb_puts(&excl,
            conf_get_str(c, "smtpd_tls_mandatory_exclude_ciphers")) < 0)))
        (void)tls_fail(err, "smtpd_tls_exclude_ciphers: list too long");
    else if (tls_protocols_parse(conf_get_str(c, pname), &mask, &why) < 0
             || tls_proto_range(ctx, mask, &why) < 0)
        (void)tls_fail(err, "%s: %s", pname, sb_str(&why));
    else if (tls_cipher_list(c, conf_get_str(c, cname), sb_str(&excl), &list,
                             &why) < 0)
        (void)tls_fail(err, "%s: %s", cname, sb_str(&why));
    else if (SSL_CTX_set_cipher_list(ctx, sb_str(&list)) != 1) {
        tls_openssl_error(&why);
        (void)tls_fail(err, "%s: OpenSSL refuses cipher list \"%s\": %s",
                       cname, sb_str(&list), sb_str(&why));
    } else
        ret = 0;
    sb_release(&list);
    sb_release(&why);
    sb_release(&excl);
    return ret;
}

/* tls_file_check - can path be opened? Reason names param and file. */
static int tls_file_check(const char *param, const char *path, strbuf *err)
{
    int fd;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return tls_fail(err, "%s: cannot open \"%s\": %m", param, path);
    (void)close(fd);
    return 0;
}

/*
 * tls_load_pair - a certificate chain file and its key into ctx.
 * cert_param/key_param name the parameters in error messages.
 */
int tls_load_pair(SSL_CTX *ctx, const char *cert_param,
                  const char *cert, const char *key_param,
                  const char *key, strbuf *err)
{
    strbuf why;
    int ret = -1;

    if (tls_file_check(cert_param, cert, err) < 0
        || tls_file_check(key_param, key, err) < 0)
        return -1;
    sb_init(&why, TLS_ERR_MAX);
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        tls_openssl_error(&why);
        (void)tls_fail(err, "%s: cannot load a certificate from \"%s\": %s",
                       cert_param, cert, sb_str(&why));
    } else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        tls_openssl_error(&why);
        (void)tls_fail(err, "%s: cannot load a private key from \"%s\": %s",
                       key_param, key, sb_str(&why));
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        tls_openssl_error(&why);
        (void)tls_fail(err, "%s: the key in \"%s\" does not match the "
                       "certificate in \"%s\" (%s): %s", key_param, key, cert,
                       cert_param, sb_str(&why));
    } else
        ret = 0;
    sb_release(&why);
    return ret;
}

/*
 * tls_load_certs - smtpd_tls_chain_files (each file: key and chain), else
 * the RSA and ECDSA cert/key pairs. 0 when at least one key is usable.
 */
static int tls_load_certs(SSL_CTX *ctx, const conf *c, strbuf *err)
{
    const char *const *chain = conf_get_list(c, "smtpd_tls_chain_files");
    int loaded = 0;

    if (chain[0] != NULL) {
        for (size_t i = 0; chain[i] != NULL; i++) {
            if (tls_load_pair(ctx, "smtpd_tls_chain_files", chain[i],
                              "smtpd_tls_chain_files", chain[i], err) < 0)
                return -1;
        }
        return 0;
    }
    for (size_t i = 0; i < sizeof(tls_cert_params) / sizeof(*tls_cert_params);
         i++) {
        const char *cert = conf_get_str(c, tls_cert_params[i].cert);
        const char *key = conf_get_str(c, tls_cert_params[i].key);

        if (cert[0] == '\0')
            continue;
        if (tls_load_pair(ctx, tls_cert_params[i].cert, cert,
                          tls_cert_params[i].key,
                          key[0] != '\0' ? key : cert, err) < 0)
            return -1;
        loaded++;
    }
    if (loaded == 0)
        return tls_fail(err, "no server certificate: set smtpd_tls_cert_file "
                        "(RSA), smtpd_tls_eccert_file (ECDSA) or "
                        "smtpd_tls_chain_files");
    return 0;
}

/* tls_ctx_new - an SSL_CTX with the options every tern server uses. */
static SSL_CTX *tls_ctx_new(const tls_ssl_server *ts)
{
    static const unsigned char sid_ctx[] = "tern-smtpd";
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    long timeout = ts->tickets.lifetime;

    if (ctx == NULL)
        return NULL;
    (void)SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION
                              | SSL_OP_NO_RENEGOTIATION
                              | SSL_OP_CIPHER_SERVER_PREFERENCE
                              | SSL_OP_IGNORE_UNEXPECTED_EOF);
    (void)SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
    if (SSL_CTX_set_dh_auto(ctx, 1) != 1
        || SSL_CTX_set_session_id_context(ctx, sid_ctx,
                                          sizeof(sid_ctx) - 1) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (timeout <= 0) {
        (void)SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        (void)SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        (void)SSL_CTX_set_num_tickets(ctx, 0);
    } else
        (void)SSL_CTX_set_timeout(ctx, timeout);
    return ctx;
}

/* tls_ticket_path - $queue_directory/private/tls_ticket_key, or NULL. */
static char *tls_ticket_path(const conf *c)
{
    strbuf sb;
    char *s;

    sb_init(&sb, TLS_PATH_MAX);
    if (sb_printf(&sb, "%s/private/tls_ticket_key",
                  conf_get_str(c, "queue_directory")) < 0) {
        sb_release(&sb);
        return NULL;
    }
    s = sb_detach(&sb);
    sb_release(&sb);          /* detach leaves a fresh empty buffer */
    return s;
}

/* tls_server_settings - log level, timeout and the ticket key state. */
static void tls_server_settings(tls_ssl_server *ts, const conf *c)
{
    char *path;

    ts->loglevel = (int)conf_get_int(c, "smtpd_tls_loglevel");
    ts->timeout = conf_get_time(c, "smtpd_starttls_timeout");
    path = tls_ticket_path(c);
    tls_tickets_init(&ts->tickets, path,
                     conf_get_time(c, "smtpd_tls_session_cache_timeout"));
    free(path);
}

/* tls_ssl_server_open - the engine of one smtpd service at level. */
tls_ssl_server *tls_ssl_server_open(const conf *c, enum tls_level level,
                                    strbuf *err)
{
    tls_ssl_server *ts = xcalloc(1, sizeof(*ts));

    sb_init(&ts->error, TLS_ERR_MAX);
    tls_server_settings(ts, c);
    if ((ts->ctx = tls_ctx_new(ts)) == NULL) {
        tls_openssl_error(err);
        (void)tls_fail(err, "cannot create a TLS context: %s", sb_str(err));
        tls_ssl_server_free(ts);
        return NULL;
    }
    if (tls_server_policy(level, c, ts->ctx, err) < 0) {
        tls_ssl_server_free(ts);
        return NULL;
    }
    if (tls_load_certs(ts->ctx, c, &ts->error) < 0
        || (ts->tickets.lifetime > 0
            && tls_tickets_install(ts->ctx, &ts->tickets) < 0
            && tls_fail(&ts->error, "cannot install session ticket keys"))) {
        msg_warn("%s: disabling TLS support", sb_str(&ts->error));
        SSL_CTX_free(ts->ctx);
        ts->ctx = NULL;
    }
    ERR_clear_error();
    return ts;
}

/* tls_ssl_server_free - release everything. */
void tls_ssl_server_free(tls_ssl_server *ts)
{
    if (ts == NULL)
        return;
    SSL_CTX_free(ts->ctx);
    tls_tickets_release(&ts->tickets);
    sb_release(&ts->error);
    free(ts);
}

/* tls_ssl_server_ready - a usable context exists. */
bool tls_ssl_server_ready(const tls_ssl_server *ts) { return ts->ctx != NULL; }

/* tls_ssl_server_error - why the server is not ready. */
const char *tls_ssl_server_error(const tls_ssl_server *ts)
{
    return ts->ctx != NULL ? "" : sb_str(&ts->error);
}

/* tls_now_ms - monotonic milliseconds. */
static long long tls_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        msg_panic("tls: clock_gettime(CLOCK_MONOTONIC): %m");
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* tls_wait - poll fd for the event SSL wants until deadline; 1, 0, -1. */
static int tls_wait(int fd, int ssl_error, long long deadline)
{
    struct pollfd pfd = { .fd = fd };
    long long left;
    int n;

    pfd.events = ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
    for (;;) {
        left = deadline - tls_now_ms();
        if (left <= 0)
            return 0;
        n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n > 0)
            return 1;
        if (n == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/*
 * tls_handshake - the handshake (SSL_accept or SSL_connect, as the SSL's
 * state says) until done or the deadline; 0, or -1 with a
 * reason ("timeout", "lost connection", OpenSSL's text) in err.
 */
int tls_handshake(SSL *ssl, int fd, long timeout, strbuf *err)
{
    long long deadline = tls_now_ms() + (long long)timeout * 1000;
    int ret, e, w;

    for (;;) {
        ERR_clear_error();
        errno = 0;
        if ((ret = SSL_do_handshake(ssl)) == 1)
            return 0;
        e = SSL_get_error(ssl, ret);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if ((w = tls_wait(fd, e, deadline)) > 0)
                continue;
            return tls_fail(err, w == 0 ? "timeout" : "poll: %m");
        }
        if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) {
            if (ERR_peek_error() == 0)
                return tls_fail(err, errno != 0 ? "%m" : "lost connection");
        }
        tls_openssl_error(err);
        return -1;
    }
}

/* tls_ssl_conn_new - an SSL for fd in non-blocking mode; NULL + err. */
tls_ssl_conn *tls_ssl_conn_new(SSL_CTX *ctx, int fd, strbuf *err)
{
    tls_ssl_conn *tc;
    int flags;

    if ((flags = fcntl(fd, F_GETFL)) < 0
        || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        (void)tls_fail(err, "fcntl O_NONBLOCK: %m");
        return NULL;
    }
    tc = xcalloc(1, sizeof(*tc));
    if ((tc->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(tc->ssl, fd) != 1) {
        tls_openssl_error(err);
        tls_ssl_conn_free(tc);
        return NULL;
    }
    return tc;
}

/* tls_log_established - Postfix's "TLS connection established" line. */
static void tls_log_established(const tls_ssl_server *ts, const tls_ssl_conn *tc,
                                const char *client)
{
    strbuf line;

    if (ts->loglevel < 1)
        return;
    sb_init(&line, TLS_ERR_MAX);
    if (tls_info_summary(&tc->info, &line) == 0)
        msg_info("%s TLS connection established from %s: %s",
                 tc->info.peer_subject != NULL ? "Untrusted" : "Anonymous",
                 client, sb_str(&line));
    if (ts->loglevel >= 2 && tc->info.reused)
        msg_info("%s: reusing a TLS session", client);
    sb_release(&line);
}

/* tls_ssl_server_start - discard plaintext input, handshake, switch t to TLS. */
tls_ssl_conn *tls_ssl_server_start(tls_ssl_server *ts, tio *t, const char *client,
                           strbuf *err)
{
    tls_ssl_conn *tc;
    size_t dropped;
    int st;

    if (ts->ctx == NULL) {
        (void)tls_fail(err, "TLS not available: %s", sb_str(&ts->error));
        return NULL;
    }
    if ((st = tio_flush(t)) != TIO_OK) {
        (void)tls_fail(err, "%s", tio_strstatus(st));
        return NULL;
    }
    if ((dropped = tio_discard_input(t)) > 0)
        msg_warn("%s: discarding %zu bytes of plaintext sent before the TLS "
                 "handshake", client, dropped);
    if (ts->tickets.lifetime > 0)
        tls_tickets_refresh(&ts->tickets);
    if ((tc = tls_ssl_conn_new(ts->ctx, tio_fd(t), err)) == NULL)
        return NULL;
    SSL_set_accept_state(tc->ssl);
    if (tls_handshake(tc->ssl, tio_fd(t), ts->timeout, err) < 0) {
        msg_info("SSL_accept error from %s: %s", client, sb_str(err));
        tls_ssl_conn_free(tc);
        return NULL;
    }
    tls_info_fill(tc);
    tls_io_init(tc);
    tio_set_ops(t, &tc->ops);
    tls_log_established(ts, tc, client);
    return tc;
}

/* tls_ssl_conn_free - close_notify if it goes at once; release. */
void tls_ssl_conn_free(tls_ssl_conn *tc)
{
    if (tc == NULL)
        return;
    if (tc->ssl != NULL) {
        if (SSL_is_init_finished(tc->ssl))
            (void)SSL_shutdown(tc->ssl);       /* best effort, never waits */
        ERR_clear_error();
        SSL_free(tc->ssl);
    }
    tls_info_release(tc);
    free(tc->cache_key);
    free(tc);
}
