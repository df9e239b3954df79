/*
 * smtpd_mail - MAIL FROM and RCPT TO: argument checks (smtpd_args), the
 * recipient limit, the restriction lists (smtpd_restrict: sender, relay,
 * recipient, with smtpd_delay_reject) and the queue file opened at the
 * first accepted recipient (Postfix's smtpd_delay_open: "QUEUEID: client="
 * is logged then). A client that pipelined improperly is refused and
 * disconnected, as Postfix's smtpd_forbid_unauth_pipelining (default yes
 * since 3.9) does. Owns nothing beyond the session's transaction.
 */
#include <string.h>
#include <strings.h>

#include "common/msg.h"
#include "smtpd/smtpd_sess.h"

#define SMTPD_PIPE_REPLY "554 5.5.0 Error: improper use of SMTP command pipelining"

/* smtpd_addr_internal - an address in internal form, qualified. */
int smtpd_addr_internal(smtpd_sess *s, const addr *a, strbuf *out)
{
    sb_reset(out);
    if (addr_internal(a, out) < 0)
        return -1;
    if ((a->flags & (ADDR_F_NODOMAIN | ADDR_F_NULL)) == ADDR_F_NODOMAIN)
        return sb_printf(out, "@%s", s->ctx->p.myorigin);
    return 0;
}

/* mail_opts - what the parsers may accept from this client now. */
static struct smtpd_args_opts mail_opts(const smtpd_sess *s)
{
    struct smtpd_args_opts o = {
        .ext = s->ext, .size_limit = s->ctx->p.size_limit,
        .smtputf8 = s->txn.mail.smtputf8,
    };

    return o;
}

/* smtpd_verb_mail - MAIL FROM:<sender> [parameters]. */
enum smtpd_result smtpd_verb_mail(smtpd_sess *s, const char *arg, size_t len)
{
    struct smtpd_args_opts o = mail_opts(s);
    enum smtpd_args_err err;

    const char *why;

    if (s->ill_pipelining) {
        smtpd_reply(s, SMTPD_PIPE_REPLY);
        smtpd_log_reject(s, "MAIL", SMTPD_PIPE_REPLY, NULL);
        s->quit = true;
        return SMTPD_FAIL;
    }
    sb_reset(&s->tmp);
    err = smtpd_args_mail(arg, len, &o, &s->txn.mail, &s->tmp);
    if (err == SMTPD_ARGS_OK && smtpd_addr_internal(s, &s->txn.mail.sender,
                                                    &s->txn.sender) < 0)
        err = SMTPD_ARGS_BAD_ADDR;
    if (err != SMTPD_ARGS_OK) {
        (void)smtpd_args_reply(err, true, sb_str(&s->tmp), &s->reply);
        smtpd_reply(s, sb_str(&s->reply));
        smtpd_txn_reset(s);
        return SMTPD_FAIL;
    }
    if ((why = smtpd_restrict(s, RS_MAIL, sb_str(&s->txn.sender))) != NULL) {
        smtpd_reply(s, why);
        smtpd_txn_reset(s);
        return SMTPD_FAIL;
    }
    s->txn.active = true;
    smtpd_reply(s, "250 2.1.0 Ok");
    return SMTPD_OK;
}

/* rcpt_refuse - reply and log a refused recipient. */
static enum smtpd_result rcpt_refuse(smtpd_sess *s, const char *reply,
                                     const char *rcpt)
{
    smtpd_reply(s, reply);
    smtpd_log_reject(s, "RCPT", reply, rcpt);
    return SMTPD_FAIL;
}

/* rcpt_accept - add an allowed recipient to the queue file. */
static enum smtpd_result rcpt_accept(smtpd_sess *s,
                                     const struct smtpd_rcpt_args *r,
                                     const char *rcpt)
{
    if ((s->txn.w == NULL && smtpd_queue_open(s) < 0)
        || smtpd_queue_rcpt(s, r, rcpt) < 0) {
        smtpd_reply(s, "451 4.3.0 Error: queue file write error");
        return SMTPD_FAIL_QUIET;
    }
    if (s->txn.nrcpt++ == 0)
        (void)sb_set(&s->txn.first_rcpt, rcpt);
    smtpd_reply(s, "250 2.1.5 Ok");
    return SMTPD_OK;
}

/*
 * rcpt_checked - the recipient the lists judge: a bare "postmaster" stays
 * bare (always accepted, RFC 5321 section 4.5.1), others are qualified.
 */
static const char *rcpt_checked(const struct smtpd_rcpt_args *r,
                                 const strbuf *qualified)
{
    if ((r->rcpt.flags & ADDR_F_NODOMAIN)
        && strcasecmp(sb_str(&r->rcpt.local), "postmaster") == 0)
        return "postmaster";
    return sb_str(qualified);
}

/* smtpd_verb_rcpt - RCPT TO:<recipient> [NOTIFY=] [ORCPT=]. */
enum smtpd_result smtpd_verb_rcpt(smtpd_sess *s, const char *arg, size_t len)
{
    struct smtpd_args_opts o = mail_opts(s);
    struct smtpd_rcpt_args r;
    enum smtpd_args_err err;
    enum smtpd_result res;
    const char *why;
    strbuf rcpt;

    if (s->ill_pipelining) {
        s->quit = true;
        return rcpt_refuse(s, SMTPD_PIPE_REPLY, NULL);
    }
    smtpd_rcpt_args_init(&r);
    sb_init(&rcpt, 2 * ADDR_PATH_MAX);
    sb_reset(&s->tmp);
    err = smtpd_args_rcpt(arg, len, &o, &r, &s->tmp);
    if (err == SMTPD_ARGS_OK && smtpd_addr_internal(s, &r.rcpt, &rcpt) < 0)
        err = SMTPD_ARGS_BAD_ADDR;
    if (err != SMTPD_ARGS_OK) {
        (void)smtpd_args_reply(err, false, sb_str(&s->tmp), &s->reply);
        smtpd_reply(s, sb_str(&s->reply));
        res = SMTPD_FAIL;
    } else if (s->txn.nrcpt >= s->ctx->p.rcpt_limit) {
        smtpd_reply(s, "452 4.5.3 Error: too many recipients");
        res = SMTPD_FAIL_QUIET;
    } else if ((why = smtpd_restrict(s, RS_RCPT, rcpt_checked(&r, &rcpt)))
               != NULL) {
        smtpd_reply(s, why);    /* the engine logged the reject */
        res = SMTPD_FAIL;
    } else {
        res = rcpt_accept(s, &r, sb_str(&rcpt));
    }
    sb_release(&rcpt);
    smtpd_rcpt_args_release(&r);
    return res;
}
