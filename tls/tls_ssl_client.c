/*
 * tls_ssl_client - the SMTP client's OpenSSL engine (module only): one
 * OpenSSL context per smtp process
 * (CA file/path, client certificates, session cache), the STARTTLS
 * handshake with a destination's protocols, ciphers and SNI, and the
 * evaluation of the server certificate for its security level.
 *
 * As in Postfix, the handshake never aborts on the certificate: OpenSSL
 * verifies the chain (SSL_VERIFY_NONE keeps the result), then this file
 * decides "trusted" (the chain verified) and "matched" (a fingerprint of
 * the certificate or its public key, or a name from the level's match
 * list: hostname, nexthop, dot-nexthop or literal names, ".domain" for
 * its subdomains), logs Postfix's "Untrusted|Trusted|Verified|Anonymous
 * TLS connection established to ..." line, and tls_client_enforce() turns
 * the facts into a verdict for the caller (the front's tls_client.c). Owns the SSL_CTX and each
 * connection it returns; a certificate or CA problem makes it "not
 * ready" (logged once), never a silent plaintext delivery.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls/tls_ssl.h"
#include "common/msg.h"
#include "common/xalloc.h"

#define TLS_ERR_MAX 1024
#define TLS_NAME_MAX 1024

/* Client certificate/key parameter pairs, one per key type. */
static const struct {
    const char *cert;
    const char *key;
} tls_client_certs[] = {
    { "smtp_tls_cert_file", "smtp_tls_key_file" },
    { "smtp_tls_eccert_file", "smtp_tls_eckey_file" },
};

/* tls_client_new_session - OpenSSL hands us a session: cache it. */
static int tls_client_new_session(SSL *ssl, SSL_SESSION *sess)
{
    tls_ssl_conn *conn = SSL_get_app_data(ssl);

    if (conn != NULL && conn->client != NULL && conn->cache_key != NULL)
        tls_scache_save(&conn->client->cache, conn->cache_key, sess);
    return 0;                   /* we keep no reference */
}

/* tls_client_trust - CA file/path and client certificates; -1 + err. */
static int tls_client_trust(tls_ssl_client *tc, const conf *c, strbuf *err)
{
    const char *cafile = conf_get_str(c, "smtp_tls_CAfile");
    const char *capath = conf_get_str(c, "smtp_tls_CApath");
    strbuf why;

    if ((cafile[0] != '\0' || capath[0] != '\0')
        && SSL_CTX_load_verify_locations(tc->ctx, cafile[0] ? cafile : NULL,
                                         capath[0] ? capath : NULL) != 1) {
        sb_init(&why, TLS_ERR_MAX);
        tls_openssl_error(&why);
        (void)tls_fail(err, "cannot load CA certificates from "
                       "smtp_tls_CAfile \"%s\" / smtp_tls_CApath \"%s\": %s",
                       cafile, capath, sb_str(&why));
        sb_release(&why);
        return -1;
    }
    for (size_t i = 0; i < sizeof(tls_client_certs) / sizeof(*tls_client_certs);
         i++) {
        const char *cert = conf_get_str(c, tls_client_certs[i].cert);
        const char *key = conf_get_str(c, tls_client_certs[i].key);

        if (cert[0] != '\0'
            && tls_load_pair(tc->ctx, tls_client_certs[i].cert, cert,
                             tls_client_certs[i].key,
                             key[0] != '\0' ? key : cert, err) < 0)
            return -1;
    }
    return 0;
}

/* tls_client_ctx - the SSL_CTX every destination starts from. */
static SSL_CTX *tls_client_ctx(const tls_ssl_client *tc)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL)
        return NULL;
    (void)SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION
                              | SSL_OP_NO_RENEGOTIATION
                              | SSL_OP_IGNORE_UNEXPECTED_EOF);
    (void)SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    if (tc->cache.dir != NULL) {
        (void)SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT
                                             | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, tls_client_new_session);
    } else {
        (void)SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        (void)SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    }
    return ctx;
}

/* tls_client_settings - plain parameters and the cache; -1 + err. */
static int tls_client_settings(tls_ssl_client *tc, const conf *c, strbuf *err)
{
    const char *digest = conf_get_str(c, "smtp_tls_fingerprint_digest");
    strbuf dir;

    tc->c = c;
    tc->loglevel = (int)conf_get_int(c, "smtp_tls_loglevel");
    tc->timeout = conf_get_time(c, "smtp_starttls_timeout");
    if ((tc->fpt_md = EVP_get_digestbyname(digest)) == NULL)
        return tls_fail(err, "smtp_tls_fingerprint_digest: unknown digest "
                        "\"%.64s\"", digest);
    sb_init(&dir, 4096);
    if (sb_printf(&dir, "%s/private/smtp_scache",
                  conf_get_str(c, "queue_directory")) < 0)
        sb_reset(&dir);
    tls_scache_init(&tc->cache, sb_len(&dir) > 0 ? sb_str(&dir) : NULL,
                    conf_get_time(c, "smtp_tls_session_cache_timeout"));
    sb_release(&dir);
    return 0;
}

/* tls_ssl_client_open - the engine; not ready when certificates fail. */
tls_ssl_client *tls_ssl_client_open(const conf *c, strbuf *err)
{
    tls_ssl_client *tc = xcalloc(1, sizeof(*tc));

    sb_init(&tc->error, TLS_ERR_MAX);
    if (tls_client_settings(tc, c, err) < 0) {
        tls_ssl_client_free(tc);
        return NULL;
    }
    if ((tc->ctx = tls_client_ctx(tc)) == NULL) {
        tls_openssl_error(&tc->error);
        (void)tls_fail(&tc->error, "cannot create a TLS context: %s",
                       sb_str(&tc->error));
    } else if (tls_client_trust(tc, c, &tc->error) < 0) {
        SSL_CTX_free(tc->ctx);
        tc->ctx = NULL;
    }
    if (tc->ctx == NULL)
        msg_warn("%s: disabling TLS support", sb_str(&tc->error));
    ERR_clear_error();
    return tc;
}

/* tls_ssl_client_free - release everything. */
void tls_ssl_client_free(tls_ssl_client *tc)
{
    if (tc == NULL)
        return;
    SSL_CTX_free(tc->ctx);
    tls_scache_release(&tc->cache);
    sb_release(&tc->error);
    free(tc);
}

/* tls_ssl_client_ready - a usable context exists. */
bool tls_ssl_client_ready(const tls_ssl_client *tc)
{
    return tc != NULL && tc->ctx != NULL;
}

/* tls_client_policy - protocols, ciphers and SNI of one connection. */
static int tls_client_policy(const tls_ssl_client *tc, SSL *ssl,
                             const struct tls_policy *pol,
                             const struct tls_peer *peer, strbuf *err)
{
    strbuf list;
    unsigned mask;
    uint64_t holes;
    int lo, hi, rc = -1;

    sb_init(&list, 8192);
    if (tls_protocols_parse(sb_str(&pol->protocols), &mask, err) < 0
        || tls_proto_bounds(mask, &lo, &hi, &holes, err) < 0
        || tls_cipher_list(tc->c, sb_str(&pol->ciphers), sb_str(&pol->exclude),
                           &list, err) < 0)
        goto out;
    (void)SSL_set_options(ssl, holes);
    if (SSL_set_min_proto_version(ssl, lo) != 1
        || SSL_set_max_proto_version(ssl, hi) != 1
        || SSL_set_cipher_list(ssl, sb_str(&list)) != 1
        || (peer->sni != NULL && peer->sni[0] != '\0'
            && SSL_set_tlsext_host_name(ssl, peer->sni) != 1)) {
        tls_openssl_error(err);
        goto out;
    }
    rc = 0;
out:
    sb_release(&list);
    return rc;
}

/* tls_hex_equal - do two hex digests match, ignoring ':' and case? */
static bool tls_hex_equal(const char *want, const char *have)
{
    for (;;) {
        while (*want == ':')
            want++;
        while (*have == ':')
            have++;
        if (*want == '\0' || *have == '\0')
            return *want == *have;
        if ((*want | 0x20) != (*have | 0x20))
            return false;
        want++;
        have++;
    }
}

/* tls_digest_hex - "AB:CD:.." of len bytes at data with md. */
static void tls_digest_hex(const EVP_MD *md, const unsigned char *data,
                           size_t len, strbuf *out)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    sb_reset(out);
    if (EVP_Digest(data, len, d, &n, md, NULL) != 1)
        return;
    for (unsigned int i = 0; i < n; i++)
        (void)sb_printf(out, i == 0 ? "%02X" : ":%02X", d[i]);
}

/* tls_fpt_match - a listed fingerprint of the certificate or its key? */
static bool tls_fpt_match(const tls_ssl_client *tc, X509 *cert, const char *list)
{
    unsigned char *der[2] = { NULL, NULL };
    int len[2];
    strbuf hex[2], item;
    bool ok = false;
    size_t n;

    len[0] = i2d_X509(cert, &der[0]);
    len[1] = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der[1]);
    sb_init(&item, TLS_NAME_MAX);
    for (int i = 0; i < 2; i++) {
        sb_init(&hex[i], 3 * EVP_MAX_MD_SIZE);
        if (len[i] > 0)
            tls_digest_hex(tc->fpt_md, der[i], (size_t)len[i], &hex[i]);
    }
    for (const char *p = list; *p != '\0' && !ok; p += n) {
        p += strspn(p, " ");
        n = strcspn(p, " ");
        sb_reset(&item);
        if (n == 0 || sb_append(&item, p, n) < 0)
            continue;
        for (int i = 0; i < 2; i++)
            ok = ok || (sb_len(&hex[i]) > 0
                        && tls_hex_equal(sb_str(&item), sb_str(&hex[i])));
    }
    for (int i = 0; i < 2; i++) {
        OPENSSL_free(der[i]);
        sb_release(&hex[i]);
    }
    sb_release(&item);
    return ok;
}

/* tls_name_check - does the certificate match one name (or address)? */
static bool tls_name_check(X509 *cert, const char *name)
{
    unsigned char a[16];

    if (inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1)
        return X509_check_ip_asc(cert, name, 0) == 1;
    return X509_check_host(cert, name, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
                           NULL) == 1;
}

/*
 * tls_name_match - a name of the match list: hostname (never taken from
 * an MX record at level secure), nexthop, dot-nexthop, or a literal.
 */
static bool tls_name_match(X509 *cert, enum tls_level lev, const char *list,
                           const struct tls_peer *peer)
{
    strbuf name;
    bool ok = false;
    size_t n;

    sb_init(&name, TLS_NAME_MAX);
    for (const char *p = list; *p != '\0' && !ok; p += n) {
        p += strspn(p, " ");
        n = strcspn(p, " ");
        sb_reset(&name);
        if (n == 8 && strncasecmp(p, "hostname", 8) == 0) {
            if (lev == TLS_LEV_SECURE && peer->host_from_mx)
                continue;
            (void)sb_puts(&name, peer->host);
        } else if (n == 7 && strncasecmp(p, "nexthop", 7) == 0) {
            (void)sb_puts(&name, peer->nexthop);
        } else if (n == 11 && strncasecmp(p, "dot-nexthop", 11) == 0) {
            (void)sb_printf(&name, ".%s", peer->nexthop);
        } else {
            (void)sb_append(&name, p, n);
        }
        ok = sb_len(&name) > 0 && tls_name_check(cert, sb_str(&name));
    }
    sb_release(&name);
    return ok;
}

/* tls_client_evaluate - trusted and matched, logged when they fail. */
static void tls_client_evaluate(const tls_ssl_client *tc, tls_ssl_conn *conn,
                                const struct tls_policy *pol,
                                const struct tls_peer *peer)
{
    X509 *cert = SSL_get1_peer_certificate(conn->ssl);
    long vr = SSL_get_verify_result(conn->ssl);
    bool must_trust = pol->level == TLS_LEV_VERIFY
        || pol->level == TLS_LEV_SECURE;

    if (cert == NULL)
        return;
    conn->info.peer_trusted = vr == X509_V_OK;
    if (pol->level == TLS_LEV_FINGERPRINT)
        conn->info.peer_matched = tls_fpt_match(tc, cert, sb_str(&pol->match));
    else if (must_trust)
        conn->info.peer_matched = conn->info.peer_trusted
            && tls_name_match(cert, pol->level, sb_str(&pol->match), peer);
    if ((must_trust || tc->loglevel >= 2) && !conn->info.peer_trusted)
        msg_info("certificate verification failed for %s: %s",
                 peer->namaddrport, X509_verify_cert_error_string(vr));
    else if (must_trust && !conn->info.peer_matched)
        msg_info("certificate verification failed for %s: none of the names "
                 "\"%s\" matches the certificate", peer->namaddrport,
                 sb_str(&pol->match));
    if (pol->level == TLS_LEV_FINGERPRINT && !conn->info.peer_matched)
        msg_info("certificate verification failed for %s: fingerprint "
                 "mismatch (%s)", peer->namaddrport,
                 conn->info.peer_fingerprint ? conn->info.peer_fingerprint
                 : "no fingerprint");
    X509_free(cert);
}

/* tls_client_log - Postfix's "... TLS connection established to" line. */
static void tls_client_log(const tls_ssl_client *tc, const tls_ssl_conn *conn,
                           const char *namaddrport)
{
    const struct tls_info *in = &conn->info;
    strbuf line;

    if (tc->loglevel < 1)
        return;
    sb_init(&line, TLS_ERR_MAX);
    if (tls_info_summary(in, &line) == 0)
        msg_info("%s TLS connection established to %s: %s",
                 in->peer_fingerprint == NULL ? "Anonymous"
                 : in->peer_matched ? "Verified"
                 : in->peer_trusted ? "Trusted" : "Untrusted",
                 namaddrport, sb_str(&line));
    if (tc->loglevel >= 2 && in->reused)
        msg_info("%s: Reusing old session", namaddrport);
    sb_release(&line);
}

/* tls_client_conn - a connection with policy, SNI and cached session. */
static tls_ssl_conn *tls_client_conn(tls_ssl_client *tc, int fd,
                                 const struct tls_policy *pol,
                                 const struct tls_peer *peer, strbuf *err)
{
    tls_ssl_conn *conn = tls_ssl_conn_new(tc->ctx, fd, err);
    SSL_SESSION *sess;

    if (conn == NULL)
        return NULL;
    SSL_set_connect_state(conn->ssl);
    conn->client = tc;
    if (SSL_set_app_data(conn->ssl, conn) != 1
        || tls_client_policy(tc, conn->ssl, pol, peer, err) < 0) {
        tls_ssl_conn_free(conn);
        return NULL;
    }
    if (peer->cache_key != NULL && tc->cache.dir != NULL) {
        conn->cache_key = xstrdup(peer->cache_key);
        if ((sess = tls_scache_load(&tc->cache, peer->cache_key)) != NULL) {
            (void)SSL_set_session(conn->ssl, sess);
            SSL_SESSION_free(sess);
        }
    }
    return conn;
}

/* tls_ssl_client_start - handshake, evaluate, log, switch t to TLS. */
tls_ssl_conn *tls_ssl_client_start(tls_ssl_client *tc, tio *t,
                           const struct tls_policy *pol,
                           const struct tls_peer *peer, strbuf *err)
{
    tls_ssl_conn *conn;
    int st;

    if (!tls_ssl_client_ready(tc)) {
        (void)tls_fail(err, "TLS not available: %s",
                       tc ? sb_str(&tc->error) : "no TLS engine");
        return NULL;
    }
    if ((st = tio_flush(t)) != TIO_OK) {
        (void)tls_fail(err, "%s", tio_strstatus(st));
        return NULL;
    }
    (void)tio_discard_input(t);         /* nothing read before TLS counts */
    if ((conn = tls_client_conn(tc, tio_fd(t), pol, peer, err)) == NULL)
        return NULL;
    if (tls_handshake(conn->ssl, tio_fd(t), tc->timeout, err) < 0) {
        msg_info("SSL_connect error to %s: %s", peer->namaddrport,
                 sb_str(err));
        tls_ssl_conn_free(conn);
        return NULL;
    }
    tls_info_fill(conn);
    tls_client_evaluate(tc, conn, pol, peer);
    tls_io_init(conn);
    tio_set_ops(t, &conn->ops);
    tls_client_log(tc, conn, peer->namaddrport);
    return conn;
}
