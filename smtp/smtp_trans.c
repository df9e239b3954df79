/*
 * smtp_trans - one mail transaction on an open session (the
 * smtp_session_deliver half of the smtp_session module; see
 * smtp_session.h): checks against the server's features, MAIL and RCPT
 * (pipelined when offered), DATA, the content through the smtp_body
 * encoder, and the final reply (one, or one per recipient for LMTP).
 *
 * Owns only per-transaction scratch memory. Every recipient's outcome is
 * decided before it returns; the session's in_sync says whether it may be
 * reused.
 */
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/attr.h"
#include "common/xalloc.h"
#include "smtp/smtp_body.h"
#include "smtp/smtp_hdrchk.h"
#include "smtp/smtp_sess_int.h"

#define TRANS_CMD_MAX   4096            /* a MAIL or RCPT command */
#define TRANS_CHUNK     16384           /* content read per step */

typedef struct trans {
    smtp_session *s;
    const smtp_params *p;
    const dlv_request *req;
    smtp_outcome *out;
    bool *acc;                          /* RCPT accepted */
    size_t nacc;
    strbuf cmd;
} trans;

/* trans_fail_open - every undecided recipient gets o's verdict. */
static void trans_fail_open(trans *t, const smtp_outcome *o)
{
    for (size_t i = 0; i < t->req->nrcpt; i++)
        if (!t->out[i].done)
            smtp_outcome_set(&t->out[i], o->action, o->dsn, sb_str(&o->reason));
}

/* trans_io_fail - a timeout or lost connection at stage st. */
static void trans_io_fail(trans *t, int rc, enum smtp_stage st)
{
    smtp_outcome o;

    smtp_outcome_init(&o);
    sess_io_outcome(t->s, t->p, rc, st, &o);
    trans_fail_open(t, &o);
    smtp_outcome_release(&o);
}

/* trans_precheck - SMTPUTF8 and SIZE against what the server offers. */
static int trans_precheck(trans *t)
{
    const smtp_features *f = &t->s->feat;
    smtp_outcome o;
    int rc = 0;

    smtp_outcome_init(&o);
    if (t->req->smtputf8 && !(f->flags & SMTP_FEAT_SMTPUTF8)) {
        sess_outcome_fmt(&o, DLV_FAILED, "5.6.7", "SMTPUTF8 is required,"
                         " but was not offered by host %s", sb_str(&t->s->name));
        rc = -1;
    } else if (f->size_limit > 0 && t->req->size > f->size_limit) {
        sess_outcome_fmt(&o, DLV_FAILED, "5.3.4", "message size %llu exceeds"
                         " size limit %llu of server %s",
                         (unsigned long long)t->req->size,
                         (unsigned long long)f->size_limit, sb_str(&t->s->name));
        rc = -1;
    }
    if (rc < 0)
        trans_fail_open(t, &o);
    smtp_outcome_release(&o);
    return rc;
}

/* trans_path - append "<address>" in external (quoted) form. */
static void trans_path(strbuf *cmd, const char *address)
{
    (void)sb_putc(cmd, '<');
    (void)addr_quote(cmd, address, strlen(address));
    (void)sb_putc(cmd, '>');
}

/* trans_mail - write MAIL FROM with the parameters the server offers. */
static void trans_mail(trans *t)
{
    const dlv_request *req = t->req;
    unsigned f = t->s->esmtp ? t->s->feat.flags : 0;
    strbuf *cmd = &t->cmd;

    sb_reset(cmd);
    (void)sb_puts(cmd, "MAIL FROM:");
    trans_path(cmd, req->sender);
    if (f & SMTP_FEAT_SIZE)
        (void)sb_printf(cmd, " SIZE=%llu", (unsigned long long)req->size);
    if ((f & SMTP_FEAT_8BITMIME) && req->body_type == QFILE_BODY_8BITMIME)
        (void)sb_puts(cmd, " BODY=8BITMIME");
    if ((f & SMTP_FEAT_SMTPUTF8) && req->smtputf8)
        (void)sb_puts(cmd, " SMTPUTF8");
    if ((f & SMTP_FEAT_DSN) && req->ret != QFILE_RET_NONE)
        (void)sb_puts(cmd, req->ret == QFILE_RET_FULL ? " RET=FULL" : " RET=HDRS");
    if ((f & SMTP_FEAT_DSN) && *req->envid) {
        (void)sb_puts(cmd, " ENVID=");
        (void)attr_xtext_encode(cmd, req->envid, strlen(req->envid));
    }
    (void)sb_puts(cmd, "\r\n");
    (void)tio_write(t->s->t, sb_str(cmd), sb_len(cmd));
}

/* trans_notify - append " NOTIFY=..." for a QFILE_NOTIFY_* set. */
static void trans_notify(strbuf *cmd, unsigned notify)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {QFILE_NOTIFY_SUCCESS, "SUCCESS"}, {QFILE_NOTIFY_FAILURE, "FAILURE"},
        {QFILE_NOTIFY_DELAY, "DELAY"},
    };
    const char *sep = " NOTIFY=";

    if (notify & QFILE_NOTIFY_NEVER) {
        (void)sb_puts(cmd, " NOTIFY=NEVER");
        return;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (notify & names[i].bit) {
            (void)sb_printf(cmd, "%s%s", sep, names[i].name);
            sep = ",";
        }
    }
}

/* trans_rcpt - write RCPT TO for recipient i. */
static void trans_rcpt(trans *t, size_t i)
{
    const dlv_rcpt *r = &t->req->rcpt[i];
    const char *semi = strchr(r->orcpt, ';');
    strbuf *cmd = &t->cmd;

    sb_reset(cmd);
    (void)sb_puts(cmd, "RCPT TO:");
    trans_path(cmd, r->address);
    if (t->s->esmtp && (t->s->feat.flags & SMTP_FEAT_DSN)) {
        trans_notify(cmd, r->notify);
        if (semi != NULL && semi > r->orcpt) {
            (void)sb_printf(cmd, " ORCPT=%.*s;", (int)(semi - r->orcpt),
                            r->orcpt);
            (void)attr_xtext_encode(cmd, semi + 1, strlen(semi + 1));
        }
    }
    (void)sb_puts(cmd, "\r\n");
    (void)tio_write(t->s->t, sb_str(cmd), sb_len(cmd));
}

/* trans_rcpt_reply - read the reply to RCPT i; -1 on I/O trouble. */
static int trans_rcpt_reply(trans *t, size_t i, bool mail_ok)
{
    int rc = sess_read(t->s, t->p, SMTP_ST_RCPT);

    if (rc != SMTP_REPLY_OK) {
        trans_io_fail(t, rc, SMTP_ST_RCPT);
        return -1;
    }
    if (!mail_ok)
        return 0;                       /* verdict already from MAIL */
    if (t->s->reply.code / 100 == 2) {
        t->acc[i] = true;
        t->nacc++;
    } else {
        sess_reply_outcome(t->s, "RCPT TO", false, &t->out[i]);
    }
    return 0;
}

/* trans_mail_reply - read the MAIL reply; its refusal decides everyone. */
static int trans_mail_reply(trans *t, bool *mail_ok)
{
    smtp_outcome o;
    int rc = sess_read(t->s, t->p, SMTP_ST_MAIL);

    if (rc != SMTP_REPLY_OK) {
        trans_io_fail(t, rc, SMTP_ST_MAIL);
        return -1;
    }
    *mail_ok = t->s->reply.code / 100 == 2;
    if (!*mail_ok) {
        smtp_outcome_init(&o);
        sess_reply_outcome(t->s, "MAIL FROM", false, &o);
        trans_fail_open(t, &o);
        smtp_outcome_release(&o);
    }
    return 0;
}

/* trans_envelope - MAIL and RCPTs, pipelined when offered; -1 on I/O. */
static int trans_envelope(trans *t)
{
    bool pipe = t->s->esmtp && (t->s->feat.flags & SMTP_FEAT_PIPELINING);
    bool mail_ok = true;

    trans_mail(t);
    if (!pipe && (trans_mail_reply(t, &mail_ok) < 0 || !mail_ok))
        return mail_ok ? -1 : 0;
    for (size_t i = 0; i < t->req->nrcpt; i++) {
        trans_rcpt(t, i);
        if (!pipe && trans_rcpt_reply(t, i, true) < 0)
            return -1;
    }
    if (!pipe)
        return 0;
    if (trans_mail_reply(t, &mail_ok) < 0)
        return -1;
    for (size_t i = 0; i < t->req->nrcpt; i++)
        if (trans_rcpt_reply(t, i, mail_ok) < 0)
            return -1;
    return 0;
}

/* trans_local_fail - the queue file could not be read mid-DATA. */
static void trans_local_fail(trans *t, const char *why)
{
    smtp_outcome o;

    t->s->in_sync = false;              /* DATA cannot be taken back */
    smtp_outcome_init(&o);
    sess_outcome_fmt(&o, DLV_DEFERRED, "4.3.0", "%s", why);
    trans_fail_open(t, &o);
    smtp_outcome_release(&o);
}

/* trans_body - the content, encoded, then the final dot; -1 on failure. */
static int trans_body(trans *t, const qfile_msg *msg)
{
    smtp_body enc;
    smtp_hdrchk hc;                     /* smtp_header_checks */
    strbuf out;
    char *buf = xmalloc(TRANS_CHUNK);
    int rc = TIO_OK;

    smtp_body_init(&enc, t->p->line_limit);
    smtp_hdrchk_init(&hc, t->p->header_checks, t->req->queue_id);
    sb_init(&out, SB_NOLIMIT);
    tio_set_timeout(t->s->t, t->p->timeout[SMTP_ST_BODY]);
    for (uint64_t pos = 0; pos < msg->content_size && rc == TIO_OK;) {
        uint64_t left = msg->content_size - pos;
        ssize_t n = qfile_read_content(msg, pos, buf,
                                       left < TRANS_CHUNK ? (size_t)left
                                       : TRANS_CHUNK);

        if (n <= 0) {
            trans_local_fail(t, "error reading the queue file content");
            rc = TIO_ERROR;
            break;
        }
        pos += (uint64_t)n;
        sb_reset(&out);
        if (smtp_hdrchk_pass(&hc, &enc, buf, (size_t)n, &out) < 0) {
            trans_local_fail(t, "smtp_header_checks map lookup problem");
            rc = TIO_ERROR;
            break;
        }
        if ((rc = tio_write(t->s->t, sb_str(&out), sb_len(&out))) != TIO_OK)
            trans_io_fail(t, rc, SMTP_ST_BODY);
    }
    if (rc == TIO_OK) {
        sb_reset(&out);
        if (smtp_hdrchk_pass_end(&hc, &enc, &out) < 0) {
            trans_local_fail(t, "smtp_header_checks map lookup problem");
            rc = TIO_ERROR;
        } else {
            (void)smtp_body_finish(&enc, &out);
            if ((rc = tio_write(t->s->t, sb_str(&out), sb_len(&out))) != TIO_OK
                || (rc = tio_flush(t->s->t)) != TIO_OK)
                trans_io_fail(t, rc, SMTP_ST_BODY);
        }
    }
    smtp_hdrchk_release(&hc);
    sb_release(&out);
    free(buf);
    return rc == TIO_OK ? 0 : -1;
}

/* trans_final - the reply to the dot: one (SMTP) or one per recipient. */
static void trans_final(trans *t)
{
    smtp_outcome o;

    smtp_outcome_init(&o);
    for (size_t i = 0; i < t->req->nrcpt; i++) {
        int rc;

        if (!t->acc[i] || t->out[i].done)
            continue;
        if (t->p->lmtp || !o.done) {
            if ((rc = sess_read(t->s, t->p, SMTP_ST_DOT)) != SMTP_REPLY_OK) {
                trans_io_fail(t, rc, SMTP_ST_DOT);
                break;
            }
            sess_reply_outcome(t->s, "end of DATA", true, &o);
        }
        smtp_outcome_set(&t->out[i], o.action, o.dsn, sb_str(&o.reason));
    }
    smtp_outcome_release(&o);
}

/* trans_data - DATA, content, final reply(s). */
static void trans_data(trans *t, const qfile_msg *msg)
{
    smtp_outcome o;
    int rc;

    (void)tio_puts(t->s->t, "DATA\r\n");
    if ((rc = sess_read(t->s, t->p, SMTP_ST_DATA)) != SMTP_REPLY_OK) {
        trans_io_fail(t, rc, SMTP_ST_DATA);
        return;
    }
    if (t->s->reply.code != 354) {
        smtp_outcome_init(&o);
        sess_reply_outcome(t->s, "DATA", false, &o);
        trans_fail_open(t, &o);
        smtp_outcome_release(&o);
        return;
    }
    if (trans_body(t, msg) == 0)
        trans_final(t);
}

/* smtp_session_deliver - one transaction; every outcome decided. */
void smtp_session_deliver(smtp_session *s, const smtp_params *p,
                          const dlv_request *req, const qfile_msg *msg,
                          smtp_outcome *out)
{
    trans t = {.s = s, .p = p, .req = req, .out = out};

    s->uses++;
    t.acc = xcalloc(req->nrcpt ? req->nrcpt : 1, sizeof(bool));
    sb_init(&t.cmd, TRANS_CMD_MAX);
    if (trans_precheck(&t) == 0 && trans_envelope(&t) == 0 && t.nacc > 0)
        trans_data(&t, msg);
    sb_release(&t.cmd);
    free(t.acc);
}
