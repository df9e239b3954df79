/*
 * tls_ssl_info - fills a connection's struct tls_info from OpenSSL (module
 * only): protocol, cipher, its bits, whether the session was resumed, and
 * the peer certificate's subject and issuer common names and SHA-256
 * fingerprint when there is one.
 *
 * Protocol and cipher names are OpenSSL's static strings; the certificate
 * strings are copies owned by the connection. Names taken from a peer
 * certificate are hostile input: only printable ASCII is kept.
 */
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "tls/tls_ssl.h"
#include "common/xalloc.h"

#define TLS_CN_MAX 256

/* tls_info_cn - printable copy of a name's commonName, or NULL. */
static char *tls_info_cn(const X509_NAME *name)
{
    const X509_NAME_ENTRY *e;
    const ASN1_STRING *data;
    const unsigned char *p;
    strbuf sb;
    char *s;
    int idx, len;

    if (name == NULL
        || (idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) < 0
        || (e = X509_NAME_get_entry(name, idx)) == NULL
        || (data = X509_NAME_ENTRY_get_data(e)) == NULL)
        return NULL;
    p = ASN1_STRING_get0_data(data);
    len = ASN1_STRING_length(data);
    sb_init(&sb, TLS_CN_MAX);
    for (int i = 0; i < len && sb_len(&sb) < TLS_CN_MAX; i++) {
        if (sb_putc(&sb, p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?') < 0)
            break;
    }
    s = sb_detach(&sb);
    sb_release(&sb);          /* detach leaves a fresh empty buffer */
    return s;
}

/* tls_info_fingerprint - "AB:CD:..." SHA-256 of the DER certificate. */
static char *tls_info_fingerprint(const X509 *cert)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    strbuf sb;
    char *s;

    if (X509_digest(cert, EVP_sha256(), md, &n) != 1)
        return NULL;
    sb_init(&sb, 3 * EVP_MAX_MD_SIZE);
    for (unsigned int i = 0; i < n; i++) {
        if (sb_printf(&sb, i == 0 ? "%02X" : ":%02X", md[i]) < 0)
            break;
    }
    s = sb_detach(&sb);
    sb_release(&sb);          /* detach leaves a fresh empty buffer */
    return s;
}

/* tls_info_fill - read the negotiated parameters into tc->info. */
void tls_info_fill(tls_ssl_conn *tc)
{
    const SSL_CIPHER *cipher = SSL_get_current_cipher(tc->ssl);
    X509 *peer;
    int alg_bits = 0;

    tc->info.protocol = SSL_get_version(tc->ssl);
    tc->info.cipher = cipher != NULL ? SSL_CIPHER_get_name(cipher) : "NONE";
    tc->info.cipher_bits = cipher != NULL
        ? SSL_CIPHER_get_bits(cipher, &alg_bits) : 0;
    tc->info.alg_bits = alg_bits;
    tc->info.reused = SSL_session_reused(tc->ssl) == 1;
    if ((peer = SSL_get1_peer_certificate(tc->ssl)) != NULL) {
        tc->subject = tls_info_cn(X509_get_subject_name(peer));
        tc->issuer = tls_info_cn(X509_get_issuer_name(peer));
        tc->fingerprint = tls_info_fingerprint(peer);
        X509_free(peer);
    }
    tc->info.peer_subject = tc->subject;
    tc->info.peer_issuer = tc->issuer;
    tc->info.peer_fingerprint = tc->fingerprint;
}

/* tls_info_release - free the certificate strings. */
void tls_info_release(tls_ssl_conn *tc)
{
    free(tc->subject);
    free(tc->issuer);
    free(tc->fingerprint);
    tc->subject = tc->issuer = tc->fingerprint = NULL;
}

/* tls_ssl_conn_info - the negotiated parameters. */
const struct tls_info *tls_ssl_conn_info(const tls_ssl_conn *tc)
{
    return &tc->info;
}
