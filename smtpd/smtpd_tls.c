/*
 * smtpd_tls - where the SMTP server meets tls/: the STARTTLS verb, wrapper
 * mode (port 465), the level-encrypt command gate, the EHLO keywords that
 * depend on TLS, and the session reset after the handshake.
 *
 * After STARTTLS nothing the client sent in plaintext survives: the line
 * the pipelining check read ahead is dropped here, tls_server_start()
 * drops what tio buffered, and the session forgets HELO/EHLO, the
 * transaction and any SASL login (the CVE-2011-0411 class). A failed
 * handshake ends the session. Owns the session's tls_conn.
 */
#include <string.h>

#include "common/msg.h"
#include "smtpd/smtpd_sess.h"

/* smtpd_ctx_adopt_tls - the TLS side opened before the privilege drop. */
void smtpd_ctx_adopt_tls(smtpd_ctx *ctx, tls_server *ts)
{
    tls_server_free(ctx->tls);
    ctx->tls = ts;
}

/* smtpd_tls_ctx_free - release it. */
void smtpd_tls_ctx_free(smtpd_ctx *ctx)
{
    tls_server_free(ctx->tls);
    ctx->tls = NULL;
}

/* smtpd_tls_ext - EHLO keywords: STARTTLS when offered, AUTH when allowed. */
unsigned smtpd_tls_ext(const smtpd_sess *s, unsigned ext)
{
    const tls_server *ts = s->ctx->tls;

    if (ts != NULL && tls_server_offer(ts, s->tls))
        ext |= SMTPD_EXT_STARTTLS;
    else
        ext &= ~SMTPD_EXT_STARTTLS;
    if (ts != NULL && !tls_server_auth_ok(ts, s->tls))
        ext &= ~SMTPD_EXT_AUTH;
    return ext;
}

/* smtpd_tls_gate - the 530 reply for verb before TLS at level encrypt. */
const char *smtpd_tls_gate(const smtpd_sess *s, const char *verb)
{
    const tls_server *ts = s->ctx->tls;

    if (ts != NULL && tls_server_needs_starttls(ts, s->tls, verb))
        return TLS_REPLY_NEED_STARTTLS;
    return NULL;
}

/* smtpd_tls_forget - the session as if the client had just connected. */
static void smtpd_tls_forget(smtpd_sess *s)
{
    smtpd_txn_reset(s);
    sb_reset(&s->helo);
    s->esmtp = false;
    s->ext = 0;
    sb_reset(&s->sasl_method);
    sb_reset(&s->sasl_user);
    smtpd_auth_start(s);        /* new SASL state: TLS security options */
}

/* smtpd_tls_begin - handshake on the session's stream; false = hang up. */
static bool smtpd_tls_begin(smtpd_sess *s)
{
    strbuf err;

    if (s->have_stash) {        /* a line read ahead in plaintext */
        msg_warn("%s: discarding a command pipelined before the TLS "
                 "handshake", sb_str(&s->namaddr));
        s->have_stash = false;
        sb_reset(&s->stash);
    }
    sb_init(&err, 1024);
    s->tls_conn = tls_server_start(s->ctx->tls, s->t, sb_str(&s->namaddr),
                                   &err);
    sb_release(&err);
    if (s->tls_conn == NULL)
        return false;
    s->tls = true;
    sb_reset(&s->tls_info);
    if (tls_server_received_header(s->ctx->tls)
        && tls_info_received(tls_conn_info(s->tls_conn), &s->tls_info) < 0)
        sb_reset(&s->tls_info);
    smtpd_tls_forget(s);
    return true;
}

/* smtpd_tls_starttls - the STARTTLS verb (RFC 3207, Postfix's replies). */
enum smtpd_result smtpd_tls_starttls(smtpd_sess *s, const char *arg,
                                     size_t len)
{
    const tls_server *ts = s->ctx->tls;

    while (len > 0 && (arg[0] == ' ' || arg[0] == '\t'))
        arg++, len--;
    if (len > 0) {
        smtpd_reply(s, TLS_REPLY_SYNTAX);
        return SMTPD_FAIL;
    }
    if (s->tls) {
        smtpd_reply(s, TLS_REPLY_ALREADY);
        return SMTPD_FAIL;
    }
    if (ts == NULL || !tls_server_offer(ts, false)) {
        smtpd_reply(s, "502 5.5.1 Error: command not implemented");
        return SMTPD_FAIL;
    }
    if (s->txn.active) {
        smtpd_reply(s, "503 5.5.1 Error: MAIL transaction in progress");
        return SMTPD_FAIL;
    }
    if (!tls_server_ready(ts)) {
        smtpd_reply(s, TLS_REPLY_UNAVAILABLE);
        return SMTPD_FAIL;
    }
    smtpd_reply(s, TLS_REPLY_READY);
    if (!smtpd_tls_begin(s)) {
        msg_info("lost connection after STARTTLS from %s",
                 sb_str(&s->namaddr));
        s->quit = true;
        return SMTPD_FAIL;
    }
    return SMTPD_OK;
}

/*
 * smtpd_tls_wrapper - smtpd_tls_wrappermode: TLS before the greeting.
 * True when the session may go on (TLS up, or no wrapper mode).
 */
bool smtpd_tls_wrapper(smtpd_sess *s)
{
    const tls_server *ts = s->ctx->tls;

    if (ts == NULL || !tls_server_wrapper(ts))
        return true;
    if (!tls_server_ready(ts)) {
        msg_warn("Wrapper-mode request dropped from %s for service %s. TLS "
                 "context initialization failed. For details see earlier "
                 "warnings in your logs.", sb_str(&s->namaddr),
                 s->ctx->service);
        return false;
    }
    return smtpd_tls_begin(s);
}

/* smtpd_tls_end - release the session's TLS after its stream is gone. */
void smtpd_tls_end(smtpd_sess *s)
{
    tls_conn_free(s->tls_conn);
    s->tls_conn = NULL;
    s->tls = false;
}
