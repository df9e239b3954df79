/*
 * tls_server - the SMTP server's TLS as smtpd sees it (tls.h), without
 * OpenSSL: the level, wrapper mode, auth_only and the Received: clause
 * from the smtpd_tls_* parameters, the STARTTLS offer and the level-encrypt
 * command gate. The OpenSSL engine (context, certificates, handshake) is
 * the module's (tls_ssl_server.c), loaded by tls_server_open only when the
 * level is not none, so an smtpd without TLS never maps OpenSSL.
 *
 * Owns the module's server engine. A bad level, or a module that cannot be
 * loaded (like an engine that cannot start), is an error returned to the
 * caller (the service must not start); an engine that is not ready (bad
 * certificate) is the module's business and fails closed.
 */
#include <stdlib.h>
#include <strings.h>

#include "tls/tls_module.h"
#include "common/msg.h"
#include "common/xalloc.h"

/* Commands a client may give before STARTTLS at level encrypt. */
static const char *const tls_plain_verbs[] = {
    "EHLO", "HELO", "STARTTLS", "NOOP", "RSET", "QUIT",
};

struct tls_server {
    enum tls_level level;
    bool wrapper;
    bool auth_only;
    bool received_header;
    const struct tls_module *mod;   /* NULL: level none, nothing loaded */
    tls_ssl_server *impl;           /* the module's engine, or NULL */
};

/* tls_server_settings - the plain parameters; -1 + err on a bad level. */
static int tls_server_settings(tls_server *ts, const conf *c, strbuf *err)
{
    const char *level = conf_get_str(c, "smtpd_tls_security_level");

    if (tls_level_parse(level, &ts->level) < 0)
        return tls_fail(err, "smtpd_tls_security_level: unknown level \"%.64s\""
                        " (use none, may or encrypt)", level);
    ts->wrapper = conf_get_bool(c, "smtpd_tls_wrappermode");
    ts->auth_only = conf_get_bool(c, "smtpd_tls_auth_only");
    ts->received_header = conf_get_bool(c, "smtpd_tls_received_header");
    if (ts->wrapper && ts->level == TLS_LEV_NONE) {
        msg_warn("smtpd_tls_wrappermode = yes needs TLS: using "
                 "smtpd_tls_security_level = may");
        ts->level = TLS_LEV_MAY;
    }
    return 0;
}

/* tls_server_open - the settings; the module's engine unless level none. */
tls_server *tls_server_open(const conf *c, strbuf *err)
{
    tls_server *ts = xcalloc(1, sizeof(*ts));

    if (tls_server_settings(ts, c, err) < 0) {
        tls_server_free(ts);
        return NULL;
    }
    if (ts->level == TLS_LEV_NONE)
        return ts;
    if ((ts->mod = tls_module_load(c, err)) == NULL
        || (ts->impl = ts->mod->server_open(c, ts->level, err)) == NULL) {
        tls_server_free(ts);
        return NULL;
    }
    return ts;
}

/* tls_server_free - release the engine (NULL is fine). */
void tls_server_free(tls_server *ts)
{
    if (ts == NULL)
        return;
    if (ts->impl != NULL)
        ts->mod->server_free(ts->impl);
    free(ts);
}

/* Accessors. */
enum tls_level tls_server_level(const tls_server *ts) { return ts->level; }
bool tls_server_wrapper(const tls_server *ts) { return ts->wrapper; }
bool tls_server_received_header(const tls_server *ts)
{
    return ts->received_header;
}

/* tls_server_ready - the engine has a usable context. */
bool tls_server_ready(const tls_server *ts)
{
    return ts->impl != NULL && ts->mod->server_ready(ts->impl);
}

/* tls_server_error - why the server is not ready ("" when it is). */
const char *tls_server_error(const tls_server *ts)
{
    return ts->impl != NULL ? ts->mod->server_error(ts->impl)
        : "smtpd_tls_security_level = none";
}

/* tls_server_offer - STARTTLS in the EHLO reply? */
bool tls_server_offer(const tls_server *ts, bool tls_active)
{
    return ts->level != TLS_LEV_NONE && !tls_active && !ts->wrapper;
}

/* tls_server_auth_ok - AUTH allowed now? */
bool tls_server_auth_ok(const tls_server *ts, bool tls_active)
{
    return tls_active || !ts->auth_only;
}

/* tls_server_needs_starttls - refuse verb with 530 until TLS is up? */
bool tls_server_needs_starttls(const tls_server *ts, bool tls_active,
                               const char *verb)
{
    if (tls_active || ts->level != TLS_LEV_ENCRYPT)
        return false;
    for (size_t i = 0; i < sizeof(tls_plain_verbs) / sizeof(*tls_plain_verbs);
         i++) {
        if (strcasecmp(verb, tls_plain_verbs[i]) == 0)
            return false;
    }
    return true;
}

/* tls_server_start - the module's handshake; "TLS not available" without. */
tls_conn *tls_server_start(tls_server *ts, tio *t, const char *client,
                           strbuf *err)
{
    if (ts->impl == NULL) {
        (void)tls_fail(err, "TLS not available: %s", tls_server_error(ts));
        return NULL;
    }
    return tls_conn_wrap(ts->mod, ts->mod->server_start(ts->impl, t, client,
                                                        err));
}
