/*
 * smtpd_restrict - the restriction engine (smtpd_check.h, restrict_*) in
 * the SMTP session: the one place smtpd asks whether a command may go on.
 *
 * The restriction set is compiled once per process from the service's
 * configuration (a compile error is a configuration error: the process
 * refuses to start). Each session has one restrict_session, reset with the
 * transaction. Every stage (CONNECT, HELO/EHLO, MAIL, RCPT, VRFY, DATA and
 * the first BDAT, END-OF-MESSAGE) fills a restrict_state from the session
 * and runs restrict_check; a refusal is returned as the reply text (the
 * engine has already logged it). What a verdict asks of the message is
 * kept for the transaction: HOLD (committed into hold/), DISCARD (250,
 * nothing queued), PREPEND (headers written above our Received:, as
 * Postfix does). FILTER, REDIRECT and BCC cannot be expressed in the
 * queue file yet: they are logged by the engine, warned about once per
 * process and otherwise ignored.
 *
 * Owns the per-session struct smtpd_rx (created by smtpd_restrict_start,
 * freed by smtpd_restrict_end). Nothing here exits; hostile input only
 * gets the engine's replies.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "smtpd/smtpd_sess.h"

/* The session's restriction state. */
struct smtpd_rx {
    restrict_session *ss;
    struct restrict_verdict v;
    strbuf reply;               /* the last refusal, as sent */
    strbuf prepend;             /* PREPEND headers of the message, CRLF */
    bool hold, discard;         /* HOLD / DISCARD for the message */
    bool denied;                /* CONNECT refused (smtpd_delay_reject=no) */
    int port;                   /* the client's TCP port, 0 = unknown */
};

/* smtpd_restrict_ctx_open - compile every restriction list of the service. */
int smtpd_restrict_ctx_open(smtpd_ctx *ctx, strbuf *why)
{
    ctx->restrictions = restrict_compile(ctx->cf, why);
    if (ctx->restrictions == NULL)
        return -1;
    if (restrict_relay_guard(ctx->restrictions, why) < 0) {
        restrict_free(ctx->restrictions);
        ctx->restrictions = NULL;
        return -1;
    }
    return 0;
}

/* smtpd_restrict_ctx_free - release the compiled set. */
void smtpd_restrict_ctx_free(smtpd_ctx *ctx)
{
    restrict_free(ctx->restrictions);
    ctx->restrictions = NULL;
}

/* rx_port - the peer's TCP port, 0 when it is not a TCP socket. */
static int rx_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

/* smtpd_restrict_start - the session's restriction state. */
void smtpd_restrict_start(smtpd_sess *s)
{
    struct smtpd_rx *rx = xcalloc(1, sizeof(*rx));

    rx->ss = restrict_session_new(s->ctx->restrictions);
    restrict_verdict_init(&rx->v);
    sb_init(&rx->reply, 4096);
    sb_init(&rx->prepend, 64 * 1024);
    rx->port = rx_port(s->fd);
    s->rx = rx;
}

/* smtpd_restrict_end - free the session's restriction state. */
void smtpd_restrict_end(smtpd_sess *s)
{
    struct smtpd_rx *rx = s->rx;

    if (rx == NULL)
        return;
    restrict_session_free(rx->ss);
    restrict_verdict_release(&rx->v);
    sb_release(&rx->reply);
    sb_release(&rx->prepend);
    free(rx);
    s->rx = NULL;
}

/* smtpd_restrict_reset - RSET / end of transaction: forget the message. */
void smtpd_restrict_reset(smtpd_sess *s)
{
    struct smtpd_rx *rx = s->rx;

    if (rx == NULL)
        return;
    restrict_session_reset(rx->ss);
    sb_reset(&rx->prepend);
    rx->hold = rx->discard = false;
}

/* rx_state - what the engine needs to know, from the session. */
static void rx_state(const smtpd_sess *s, enum restrict_stage stage,
                     const char *address, struct restrict_state *st)
{
    const struct smtpd_txn *x = &s->txn;
    bool authed = sb_len(&s->sasl_user) > 0;

    memset(st, 0, sizeof(*st));
    st->client_name = sb_str(&s->name);
    st->reverse_client_name = sb_str(&s->name);
    st->client_addr = s->addr;
    st->client_port = s->rx->port;
    st->helo = sb_len(&s->helo) ? sb_str(&s->helo) : NULL;
    st->esmtp = s->esmtp;
    st->sender = stage == RS_MAIL ? address
        : x->active ? sb_str(&x->sender) : NULL;
    if (stage == RS_RCPT || stage == RS_VRFY)
        st->recipient = address;
    else if (x->nrcpt == 1)
        st->recipient = sb_str(&x->first_rcpt);
    st->sasl_method = authed ? sb_str(&s->sasl_method) : NULL;
    st->sasl_username = authed ? sb_str(&s->sasl_user) : NULL;
    st->tls = s->tls;
    st->queue_id = x->qid[0] ? x->qid : NULL;
    st->rcpt_count = (unsigned)x->nrcpt;
    st->size = (long)(stage == RS_EOD ? x->size : x->mail.size);
    st->protocol_name = s->esmtp ? "ESMTP" : "SMTP";
    st->pipelining_violation = s->ill_pipelining;
}

/* rx_unsupported - FILTER/REDIRECT/BCC: warned about once per process. */
static void rx_unsupported(smtpd_sess *s, const struct restrict_verdict *v)
{
    static const char *const what[] = {"FILTER", "REDIRECT", "BCC"};
    const strbuf *val[] = {&v->filter, &v->redirect, &v->bcc};

    for (size_t i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
        if (sb_len(val[i]) == 0 || s->ctx->restrict_warned)
            continue;
        msg_warn("access table action %s is not supported yet; ignored "
                 "(logged once per process)", what[i]);
        s->ctx->restrict_warned = true;
    }
}

/* rx_prepend - keep PREPEND lines ("...\n" each) as CRLF header lines. */
static void rx_prepend(struct smtpd_rx *rx, const strbuf *lines)
{
    const char *p = sb_str(lines), *nl;

    while (*p && (nl = strchr(p, '\n')) != NULL) {
        size_t n = (size_t)(nl - p);

        if (n + 2 > rx->prepend.max - sb_len(&rx->prepend)) {
            msg_warn("PREPEND headers of one message past %zu bytes; "
                     "the rest is dropped", rx->prepend.max);
            return;
        }
        (void)sb_append(&rx->prepend, p, n);
        (void)sb_puts(&rx->prepend, "\r\n");
        p = nl + 1;
    }
}

/*
 * smtpd_restrict - run stage for the session (address: the sender at MAIL,
 * the recipient at RCPT/VRFY, in internal form, source route stripped).
 * NULL: the command may go on. Else the reply to give (already logged by
 * the engine); a 421/521 verdict also ends the session.
 */
const char *smtpd_restrict(smtpd_sess *s, enum restrict_stage stage,
                           const char *address)
{
    struct smtpd_rx *rx = s->rx;
    struct restrict_state st;
    enum restrict_action a;

    rx_state(s, stage, address, &st);
    a = restrict_check(rx->ss, stage, &st, &rx->v);
    rx->hold |= rx->v.hold;
    rx->discard |= rx->v.discard;
    rx_prepend(rx, &rx->v.prepend);
    rx_unsupported(s, &rx->v);
    if (a != RESTRICT_REJECT && a != RESTRICT_DEFER)
        return NULL;
    if (rx->v.disconnect)
        s->quit = true;
    if (sb_set(&rx->reply, sb_str(&rx->v.reply)) < 0)
        (void)sb_set(&rx->reply, "451 4.3.0 Error: reply too long");
    return sb_str(&rx->reply);
}

/*
 * smtpd_restrict_connect - CONNECT: false when the client was refused
 * (smtpd_delay_reject = no); the refusal replaces the greeting, and later
 * commands but QUIT get 503 (RFC 5321 section 3.1), as Postfix does.
 */
bool smtpd_restrict_connect(smtpd_sess *s)
{
    const char *why = smtpd_restrict(s, RS_CONNECT, NULL);

    if (why == NULL)
        return true;
    smtpd_reply(s, why);
    s->errors++;
    s->rx->denied = true;
    return false;
}

/* smtpd_restrict_gate - the 503 for a command after a CONNECT refusal. */
const char *smtpd_restrict_gate(smtpd_sess *s, const char *verb)
{
    struct smtpd_rx *rx = s->rx;

    if (rx == NULL || !rx->denied || strcasecmp(verb, "QUIT") == 0)
        return NULL;
    sb_reset(&rx->reply);
    (void)sb_printf(&rx->reply, "503 5.7.0 Error: access denied for %s",
                    sb_str(&s->namaddr));
    return sb_str(&rx->reply);
}

/* smtpd_restrict_helo - HELO/EHLO: NULL, or the refusal (name forgotten). */
const char *smtpd_restrict_helo(smtpd_sess *s)
{
    const char *why = smtpd_restrict(s, RS_HELO, NULL);

    if (why != NULL) {
        sb_reset(&s->helo);
        s->esmtp = false;
        s->ext = 0;
    }
    return why;
}

/* vrfy_address - the VRFY argument in internal form, qualified. */
static int vrfy_address(smtpd_sess *s, const char *arg, size_t len,
                        strbuf *out)
{
    addr a;
    int rc = -1;

    addr_init(&a);
    if (addr_parse(&a, arg, len, ADDR_P_PATH_OPTIONAL | ADDR_P_ALLOW_LOCAL)
        == ADDR_OK)
        rc = smtpd_addr_internal(s, &a, out);
    addr_release(&a);
    return rc;
}

/* smtpd_restrict_vrfy - VRFY address: the RCPT lists, then 252. */
enum smtpd_result smtpd_restrict_vrfy(smtpd_sess *s, const char *arg,
                                      size_t len)
{
    strbuf rcpt;
    const char *why;
    enum smtpd_result r = SMTPD_OK;

    sb_init(&rcpt, 2 * ADDR_PATH_MAX);
    if (vrfy_address(s, arg, len, &rcpt) < 0) {
        smtpd_reply(s, "501 5.1.3 Bad recipient address syntax");
        r = SMTPD_FAIL;
    } else if ((why = smtpd_restrict(s, RS_VRFY, sb_str(&rcpt))) != NULL) {
        smtpd_reply(s, why);
        r = SMTPD_FAIL;
    } else {
        smtpd_replyf(s, "252 2.0.0 %.*s", (int)len, arg);
    }
    sb_release(&rcpt);
    return r;
}

/* smtpd_restrict_prepend - PREPEND headers into the content; 0 or -1. */
int smtpd_restrict_prepend(smtpd_sess *s)
{
    const strbuf *p = &s->rx->prepend;

    if (sb_len(p) == 0)
        return 0;
    return cleanup_write(s->txn.cl, sb_str(p), sb_len(p));
}

/* smtpd_restrict_hold - HOLD was asked for this message. */
bool smtpd_restrict_hold(const smtpd_sess *s)
{
    return s->rx != NULL && s->rx->hold;
}

/* smtpd_restrict_discard - DISCARD was asked for this message. */
bool smtpd_restrict_discard(const smtpd_sess *s)
{
    return s->rx != NULL && s->rx->discard;
}
