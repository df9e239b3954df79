/*
 * smtpd_queue - the one path from an SMTP transaction to its queue file:
 * open (at the first accepted recipient: queue ID reserved, envelope
 * written, "QUEUEID: client=" logged), recipients, content (our Received:
 * header first, then the client's bytes through the header_size_limit
 * filter), commit (durable, then qmgr is woken) or abort.
 *
 * Everything goes through the cleanup library (queue/cleanup.h), as
 * pickup's mail does: it writes the envelope, rewrites and expands the
 * recipients, handles the header (header_size_limit, header_checks,
 * missing headers, hop count) and gives the verdict at the end of the
 * content. Owns the session's qfile_writer and cleanup run; every failure
 * leaves no file behind (qfile_abort / qfile_commit's own clean-up).
 */
#include <string.h>
#include <sys/time.h>

#include "common/msg.h"
#include "queue/cleanup.h"
#include "queue/trigger.h"
#include "smtpd/smtpd_sess.h"

/* queue_protocol - SMTP/ESMTP/ESMTPSA/UTF8SMTP... of this transaction. */
static const char *queue_protocol(const smtpd_sess *s)
{
    return smtpd_fmt_protocol(s->esmtp, s->tls, sb_len(&s->sasl_user) > 0,
                              s->txn.mail.smtputf8);
}

/* queue_env - the envelope of the open transaction. */
static void queue_env(const smtpd_sess *s, qfile_env *env)
{
    const struct smtpd_mail_args *m = &s->txn.mail;

    memset(env, 0, sizeof(*env));
    env->sender = sb_str(&s->txn.sender);
    if (gettimeofday(&env->arrival, NULL) < 0)
        env->arrival.tv_sec = time(NULL);
    env->client_name = sb_str(&s->name);
    env->client_addr = s->addr;
    env->helo = sb_str(&s->helo);
    env->protocol = queue_protocol(s);
    env->sasl_method = sb_str(&s->sasl_method);
    env->sasl_username = sb_str(&s->sasl_user);
    env->body_type = (enum qfile_body)m->body;
    env->smtputf8 = m->smtputf8;
    env->envid = sb_str(&m->envid);
    env->ret = (enum qfile_ret)m->ret;
}

/* smtpd_queue_open - create the queue file and write the envelope. */
int smtpd_queue_open(smtpd_sess *s)
{
    struct smtpd_txn *x = &s->txn;
    qfile_env env;
    strbuf why;

    sb_init(&why, 512);
    x->w = qfile_create(&s->ctx->sp, SPOOL_INCOMING, 0600, &why);
    if (x->w == NULL) {
        msg_warn("%s", sb_str(&why));
        sb_release(&why);
        return -1;
    }
    sb_release(&why);
    queue_env(s, &env);
    if (qfile_reserve_id(x->w, &s->ctx->gen, x->qid, sizeof(x->qid)) < 0) {
        msg_warn("queue file: reserve a queue ID: %m");
        smtpd_queue_abort(s);
        return -1;
    } else {
        cleanup_info info = {x->qid, false, s->trusted};

        x->cl = cleanup_open(s->ctx->cleanup, x->w, &env, &info);
    }
    if (sb_len(&s->sasl_user) > 0)
        msg_info("%s: client=%s, sasl_method=%s, sasl_username=%s", x->qid,
                 sb_str(&s->namaddr), sb_str(&s->sasl_method),
                 sb_str(&s->sasl_user));
    else
        msg_info("%s: client=%s", x->qid, sb_str(&s->namaddr));
    return 0;
}

/* smtpd_queue_rcpt - one accepted recipient with its DSN fields. */
int smtpd_queue_rcpt(smtpd_sess *s, const struct smtpd_rcpt_args *r,
                     const char *address)
{
    qfile_rcpt q;

    memset(&q, 0, sizeof(q));
    q.address = address;
    q.orig = "";
    q.orcpt = sb_str(&r->orcpt);
    q.notify = r->notify;
    q.status = QFILE_RCPT_PENDING;
    (void)cleanup_add_rcpt(s->txn.cl, &q);     /* verdict at end of data */
    return 0;
}

/* queue_received - our Received: header, before the client's content. */
static int queue_received(smtpd_sess *s)
{
    const struct smtpd_params *p = &s->ctx->p;
    struct smtpd_received r = {
        .helo = sb_str(&s->helo), .client_name = sb_str(&s->name),
        .client_addr = s->addr, .tls_info = sb_str(&s->tls_info),
        .auth_user = p->sasl_auth_header ? sb_str(&s->sasl_user) : NULL,
        .myhostname = p->myhostname, .mail_name = p->mail_name,
        .protocol = queue_protocol(s), .queue_id = s->txn.qid,
        .rcpt = s->txn.nrcpt == 1 ? sb_str(&s->txn.first_rcpt) : NULL,
        .when = time(NULL),
    };
    strbuf hdr;
    int rc;

    sb_init(&hdr, 4 * QFILE_FIELD_MAX + 4096);
    rc = smtpd_restrict_prepend(s);     /* PREPEND: above ours, as Postfix */
    if (rc == 0)
        rc = smtpd_fmt_received(&r, &hdr);
    if (rc == 0)
        rc = cleanup_write(s->txn.cl, sb_str(&hdr), sb_len(&hdr));
    sb_release(&hdr);
    s->txn.received_done = true;
    return rc;
}

/*
 * smtpd_queue_content - client content (CRLF lines) to cleanup, which
 * applies header_size_limit and the header rules; once cleanup has
 * decided against the message the rest is dropped.
 */
int smtpd_queue_content(smtpd_sess *s, const char *buf, size_t len)
{
    struct smtpd_txn *x = &s->txn;

    if (x->w == NULL || x->write_failed)
        return -1;
    if ((!x->received_done && queue_received(s) < 0)
        || cleanup_write(x->cl, buf, len) < 0)
        return (x->write_failed = true), -1;
    return 0;
}

/*
 * smtpd_queue_commit - cleanup's verdict, then (OK, HOLD) durable and
 * named by the reserved ID, qmgr woken; 0. HOLD from cleanup or from an
 * access table (smtpd_restrict_hold) lands in hold/. DISCARD from either:
 * nothing kept, 0 (the client is told it was queued, as Postfix does).
 * REJECT / TEMPFAIL: -1 with cleanup's SMTP reply in reply ("" for a
 * write error).
 */
int smtpd_queue_commit(smtpd_sess *s, strbuf *reply)
{
    struct smtpd_txn *x = &s->txn;
    enum cleanup_verdict v;
    char qid[QID_SIZE];
    bool hold;
    int rc;

    sb_reset(reply);
    if (x->w == NULL)
        return -1;
    if (!x->received_done)
        (void)queue_received(s);
    if (smtpd_restrict_discard(s)) {    /* access DISCARD: 250, not kept */
        smtpd_queue_abort(s);
        return 0;
    }
    v = cleanup_close(x->cl, reply);
    x->cl = NULL;
    if (v != CLEANUP_OK && v != CLEANUP_HOLD) {
        smtpd_queue_abort(s);
        return v == CLEANUP_DISCARD ? 0 : -1;
    }
    hold = v == CLEANUP_HOLD || smtpd_restrict_hold(s);
    /* a held file is named in hold/ only: qmgr never sees it */
    rc = qfile_commit_into(x->w, hold ? SPOOL_HOLD : SPOOL_INCOMING,
                           &s->ctx->gen, qid, sizeof(qid));
    x->w = NULL;
    if (rc < 0)
        return -1;
    if (strcmp(qid, x->qid) != 0)
        msg_panic("%s: committed as %s", x->qid, qid);
    if (!hold)
        (void)trigger_service(s->ctx->cf, s->ctx->p.queue_directory, "qmgr");
    return 0;
}

/* smtpd_queue_abort - remove an uncommitted queue file. */
void smtpd_queue_abort(smtpd_sess *s)
{
    cleanup_abort(s->txn.cl);
    s->txn.cl = NULL;
    qfile_abort(s->txn.w);
    s->txn.w = NULL;
}
