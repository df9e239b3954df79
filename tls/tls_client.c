/*
 * tls_client - the SMTP client's TLS as smtp sees it (tls.h), without
 * OpenSSL: the engine is the module's (tls_ssl_client.c), loaded by
 * tls_client_open, which smtp calls only when a destination's level needs
 * TLS; the verdict on a connection's certificate facts is made here.
 *
 * Owns the module's client engine. A module that cannot be loaded is
 * returned as an error (the caller logs it and has no engine: levels that
 * require TLS defer, may goes on in plaintext), as an engine that cannot
 * start.
 */
#include <stdlib.h>

#include "tls/tls_module.h"
#include "common/xalloc.h"

struct tls_client {
    const struct tls_module *mod;
    tls_ssl_client *impl;
};

/* tls_client_open - load the module and make its engine; NULL + err. */
tls_client *tls_client_open(const conf *c, strbuf *err)
{
    const struct tls_module *mod;
    tls_ssl_client *impl;
    tls_client *tc;

    if ((mod = tls_module_load(c, err)) == NULL
        || (impl = mod->client_open(c, err)) == NULL)
        return NULL;
    tc = xmalloc(sizeof(*tc));
    tc->mod = mod;
    tc->impl = impl;
    return tc;
}

/* tls_client_free - release the engine (NULL is fine). */
void tls_client_free(tls_client *tc)
{
    if (tc == NULL)
        return;
    tc->mod->client_free(tc->impl);
    free(tc);
}

/* tls_client_ready - the engine can start TLS. */
bool tls_client_ready(const tls_client *tc)
{
    return tc != NULL && tc->mod->client_ready(tc->impl);
}

/* tls_client_start - the module's handshake and certificate evaluation. */
tls_conn *tls_client_start(tls_client *tc, tio *t,
                           const struct tls_policy *pol,
                           const struct tls_peer *peer, strbuf *err)
{
    if (tc == NULL) {
        (void)tls_fail(err, "TLS not available: no TLS engine");
        return NULL;
    }
    return tls_conn_wrap(tc->mod, tc->mod->client_start(tc->impl, t, pol,
                                                        peer, err));
}

/* tls_client_enforce - Postfix's verdict on the certificate. */
int tls_client_enforce(const tls_conn *conn, enum tls_level lev,
                       strbuf *reason)
{
    const struct tls_info *in = tls_conn_info(conn);

    if ((lev == TLS_LEV_VERIFY || lev == TLS_LEV_SECURE) && !in->peer_trusted)
        return tls_fail(reason, "Server certificate not trusted");
    if ((lev == TLS_LEV_FINGERPRINT || lev == TLS_LEV_VERIFY
         || lev == TLS_LEV_SECURE) && !in->peer_matched)
        return tls_fail(reason, "Server certificate not verified");
    return 0;
}
