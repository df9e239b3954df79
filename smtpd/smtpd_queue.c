/*
 * smtpd_queue - the one path from an SMTP transaction to its queue file:
 * open (at the first accepted recipient: queue ID reserved, envelope
 * written, "QUEUEID: client=" logged), recipients, content (our Received:
 * header first, then the client's bytes through the header_size_limit
 * filter), commit (durable, then qmgr is woken) or abort.
 *
 * This is where the cleanup library (queue/cleanup.[ch]) slots in: it
 * will take the envelope, recipients and header/body stream here instead
 * of the writer. Owns the session's qfile_writer; every failure leaves no
 * file behind (qfile_abort / qfile_commit's own clean-up).
 */
#include <string.h>
#include <sys/time.h>

#include "common/msg.h"
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
    if (qfile_reserve_id(x->w, &s->ctx->gen, x->qid, sizeof(x->qid)) < 0
        || qfile_put_env(x->w, &env) < 0) {
        msg_warn("queue file: %s", qfile_writer_error(x->w));
        smtpd_queue_abort(s);
        return -1;
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
    return qfile_add_rcpt(s->txn.w, &q);
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
    rc = smtpd_fmt_received(&r, &hdr);
    if (rc == 0)
        rc = qfile_write_content(s->txn.w, sb_str(&hdr), sb_len(&hdr));
    sb_release(&hdr);
    s->txn.received_done = true;
    return rc;
}

/* queue_write - append a run of content; remembers a failure. */
static int queue_write(smtpd_sess *s, const char *buf, size_t len)
{
    if (len > 0 && qfile_write_content(s->txn.w, buf, len) < 0) {
        s->txn.write_failed = true;
        return -1;
    }
    return 0;
}

/* queue_header_byte - header_size_limit: true when c starts a new run. */
static bool queue_header_bol(struct smtpd_txn *x, char c)
{
    bool resume = false;

    x->hdr_bol = false;
    if (c == '\r') {                    /* the empty line: body follows */
        x->in_header = false;
        resume = x->hdr_drop;
        x->hdr_drop = false;
    } else if (c != ' ' && c != '\t') { /* a new header */
        resume = x->hdr_drop;
        x->hdr_drop = false;
        x->hdr_len = 0;
    }
    return resume;
}

/*
 * smtpd_queue_content - client content (CRLF lines). In the header, the
 * part of one header (with its continuation lines) past header_size_limit
 * is discarded, as Postfix's cleanup does; the line is ended there.
 */
int smtpd_queue_content(smtpd_sess *s, const char *buf, size_t len)
{
    struct smtpd_txn *x = &s->txn;
    size_t start = 0, i;

    if (x->w == NULL || x->write_failed)
        return -1;
    if (!x->received_done && queue_received(s) < 0)
        return (x->write_failed = true), -1;
    for (i = 0; i < len && x->in_header; i++) {
        if (x->hdr_bol && queue_header_bol(x, buf[i]))
            start = i;
        if (buf[i] == '\n')
            x->hdr_bol = true;
        if (x->hdr_drop || buf[i] == '\r' || buf[i] == '\n'
            || ++x->hdr_len <= s->ctx->p.header_limit)
            continue;
        if (queue_write(s, buf + start, i - start) < 0
            || queue_write(s, "\r\n", 2) < 0)
            return -1;
        x->hdr_drop = true;
    }
    if (x->hdr_drop)
        return 0;
    return queue_write(s, buf + start, len - start);
}

/* smtpd_queue_commit - durable, named by the reserved ID; wake qmgr. */
int smtpd_queue_commit(smtpd_sess *s)
{
    struct smtpd_txn *x = &s->txn;
    char qid[QID_SIZE];
    int rc;

    if (x->w == NULL)
        return -1;
    if (x->write_failed) {
        msg_warn("%s: queue file write error: %s", x->qid,
                 qfile_writer_error(x->w));
        smtpd_queue_abort(s);
        return -1;
    }
    if (!x->received_done && queue_received(s) < 0) {
        smtpd_queue_abort(s);
        return -1;
    }
    rc = qfile_commit(x->w, &s->ctx->gen, qid, sizeof(qid));
    x->w = NULL;
    if (rc < 0)
        return -1;
    if (strcmp(qid, x->qid) != 0)
        msg_panic("%s: committed as %s", x->qid, qid);
    (void)trigger_service(s->ctx->cf, s->ctx->p.queue_directory, "qmgr");
    return 0;
}

/* smtpd_queue_abort - remove an uncommitted queue file. */
void smtpd_queue_abort(smtpd_sess *s)
{
    qfile_abort(s->txn.w);
    s->txn.w = NULL;
}
