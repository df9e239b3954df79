/*
 * smtpd_auth - where the SMTP server meets smtpd_sasl (SMTP AUTH): the
 * per-process SASL handle, the session's SASL state (made at connect and
 * again after STARTTLS, when smtpd_sasl_tls_security_options apply), the
 * EHLO AUTH lines and the AUTH verb.
 *
 * The verb sends its final reply through smtpd_reply(), so a failed AUTH
 * counts as an error like any other (smtpd_error_sleep_time after the soft
 * limit, "421 4.7.0 too many errors" at the hard limit: a password guesser
 * is slowed and then cut off). Success copies the method and user into
 * sess->sasl_method / sasl_user, which the queue file, the client= log
 * line, the Received: header and the restrictions read. Owns ctx->sasl and
 * sess->sasl.
 */
#include <string.h>

#include "common/msg.h"
#include "smtpd/smtpd_sess.h"

/* smtpd_auth_ctx_open - the service's SASL side; -1 + why on config error. */
int smtpd_auth_ctx_open(smtpd_ctx *ctx, strbuf *why)
{
    ctx->sasl = smtpd_sasl_open(ctx->cf, why);
    return ctx->sasl != NULL ? 0 : -1;
}

/* smtpd_auth_ctx_free - release it. */
void smtpd_auth_ctx_free(smtpd_ctx *ctx)
{
    smtpd_sasl_free(ctx->sasl);
    ctx->sasl = NULL;
}

/* smtpd_auth_start - (re)make the session's SASL state; forgets any login. */
void smtpd_auth_start(smtpd_sess *s)
{
    struct smtpd_sasl_peer peer = {
        .namaddr = sb_str(&s->namaddr), .client_addr = s->addr,
        .tls = s->tls,
    };

    smtpd_sasl_conn_free(s->sasl);
    s->sasl = NULL;
    sb_reset(&s->sasl_method);
    sb_reset(&s->sasl_user);
    if (smtpd_sasl_enabled(s->ctx->sasl))
        s->sasl = smtpd_sasl_conn_new(s->ctx->sasl, &peer);
}

/* smtpd_auth_end - release the session's SASL state. */
void smtpd_auth_end(smtpd_sess *s)
{
    smtpd_sasl_conn_free(s->sasl);
    s->sasl = NULL;
}

/* smtpd_auth_ext - keep the AUTH keyword only when this client gets it. */
unsigned smtpd_auth_ext(const smtpd_sess *s, unsigned ext)
{
    return smtpd_sasl_offered(s->sasl) ? ext : ext & ~SMTPD_EXT_AUTH;
}

/* smtpd_auth_ehlo - "250-AUTH PLAIN LOGIN" (and "AUTH=..." for old clients). */
void smtpd_auth_ehlo(smtpd_sess *s, bool last)
{
    const char *mechs = smtpd_sasl_mechanisms(s->sasl);
    bool broken = smtpd_sasl_broken_clients(s->ctx->sasl);

    (void)tio_printf(s->t, "250%cAUTH %s\r\n", last && !broken ? ' ' : '-',
                     mechs);
    if (broken)
        (void)tio_printf(s->t, "250%cAUTH=%s\r\n", last ? ' ' : '-', mechs);
}

/* auth_enabled - AUTH may be used in this session at all. */
static bool auth_enabled(const smtpd_sess *s)
{
    return (s->ctx->p.ext & SMTPD_EXT_AUTH) != 0
        && smtpd_sasl_offered(s->sasl);
}

/* smtpd_auth_verb - AUTH mechanism [initial-response] (RFC 4954). */
enum smtpd_result smtpd_auth_verb(smtpd_sess *s, const char *arg, size_t len)
{
    const tls_server *ts = s->ctx->tls;
    struct smtpd_sasl_cmd cmd = {
        .in_mail = s->txn.active,
        .need_tls = ts != NULL && !tls_server_auth_ok(ts, s->tls),
    };
    enum smtpd_sasl_result r;
    int io = TIO_OK;

    if (conf_get_bool(s->ctx->cf, "smtpd_helo_required")
        && sb_len(&s->helo) == 0) {
        smtpd_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
        return SMTPD_FAIL;
    }
    if (!auth_enabled(s)) {
        smtpd_reply(s, SMTPD_SASL_REPLY_DISABLED);
        return SMTPD_FAIL;
    }
    sb_reset(&s->tmp);
    if (sb_append(&s->tmp, arg, len) < 0 || strlen(sb_str(&s->tmp)) != len) {
        smtpd_reply(s, SMTPD_SASL_REPLY_SYNTAX);
        return SMTPD_FAIL;
    }
    cmd.args = sb_str(&s->tmp);
    r = smtpd_sasl_auth_cmd(s->sasl, s->t, &cmd, &s->reply, &io);
    if (r == SMTPD_SASL_LOST) {
        (void)smtpd_io_status(s, (enum tio_status)io);
        return SMTPD_FAIL;
    }
    if (r == SMTPD_SASL_DONE
        && (sb_set(&s->sasl_method, smtpd_sasl_method(s->sasl)) < 0
            || sb_set(&s->sasl_user, smtpd_sasl_username(s->sasl)) < 0)) {
        sb_reset(&s->sasl_method);
        sb_reset(&s->sasl_user);
        smtpd_auth_start(s);        /* a name we cannot keep: no login */
        smtpd_reply(s, "535 5.7.8 Error: authentication failed: "
                    "user name too long");
        return SMTPD_FAIL;
    }
    smtpd_reply(s, sb_str(&s->reply));
    return r == SMTPD_SASL_DONE ? SMTPD_OK : SMTPD_FAIL;
}
