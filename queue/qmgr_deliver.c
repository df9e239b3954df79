/*
 * qmgr_deliver - deliveries: turn scheduler jobs into dlv requests on
 * non-blocking connections to private/<transport>, read the replies as
 * they come, and apply them (docs/qmgr.md, docs/delivery-protocol.md).
 *
 * Each connection owns its job, request, and in/out buffers; the event
 * loop (qmgr_loop.c) polls them. Nothing here blocks: the request is
 * written as the socket takes it and replies are collected until all
 * rcpt_count have arrived or the agent closes. A missing or refusing
 * agent socket, a lost connection, a malformed reply or the guard timeout
 * defers the unanswered recipients (logged by qmgr) and counts as a
 * failure of the destination; a full agent backlog puts the job back.
 *
 * Connections are reused: after a complete answer whose replies say
 * reuse=1 the connection joins its transport's idle pool (at most the
 * transport's process and destination concurrency limits), and the next
 * job of that transport takes it before connecting anew. Idle pooled
 * connections are polled: any event (the agent went away) or
 * QMGR_POOL_IDLE seconds close them, well before the agent's own
 * DLV_IDLE_MS, so the agent never closes first; all are closed when
 * qmgr stops (also on reload: ternd restarts qmgr). No more connections
 * to a transport than its process limit are open, so a new connection
 * never waits in the backlog behind agents kept busy by reuse. A request
 * on a reused connection that finds it closed is deferred like any lost
 * connection and never re-sent elsewhere in the same pass.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/unixconn.h"
#include "common/xalloc.h"
#include "queue/qmgr_private.h"

#define QD_READ_CHUNK 8192
#define QD_FULL_MAX 64                  /* jobs put back per dispatch pass */

/* qd_site_failure - no recipient reached a verdict through a working peer. */
static bool qd_site_failure(const dlv_reply *rep, size_t ngood, size_t n)
{
    if (ngood < n)
        return true;                    /* the agent failed us */
    for (size_t i = 0; i < n; i++)
        if (rep[i].action != DLV_DEFERRED || strncmp(rep[i].dsn, "4.4.", 4) != 0)
            return false;               /* the destination answered */
    return true;                        /* all 4.4.x: network/routing */
}

/*
 * qd_finish_job - apply the decoded replies rep[0..ngood) and defer the
 * rest with dsn/why; feed the scheduler; free the job.
 */
static void qd_finish_job(qmgr *q, qmgr_job *job, const dlv_reply *rep,
                          size_t ngood, const char *dsn, const char *why,
                          time_t now)
{
    qm_outcome *out = xcalloc(job->nrcpt, sizeof(*out));
    bool site = qd_site_failure(rep, ngood, job->nrcpt);
    const char *fdsn = ngood < job->nrcpt ? dsn : ngood ? rep[0].dsn : "4.4.1";
    const char *fwhy = ngood < job->nrcpt ? why : ngood ? rep[0].reason : "";

    for (size_t i = 0; i < job->nrcpt; i++) {
        if (i < ngood)
            out[i] = (qm_outcome){rep[i].action, rep[i].dsn, rep[i].reason,
                                  job->transport, true};
        else
            out[i] = (qm_outcome){DLV_DEFERRED, dsn, why, job->transport, false};
    }
    qmgr_sched_done(q->sched, job->dest, site, fdsn, fwhy, now);
    qm_apply(q, job->msg, job->rcpt, out, job->nrcpt);
    free(out);
    qmgr_job_free(job);
}

/* qd_build - the request for a job (strings point into the message). */
static void qd_build(const qmgr_job *job, dlv_request *req)
{
    const qm_msg *m = job->msg;
    const qfile_env *env = &m->qf->env;

    dlv_request_init(req);
    req->queue_id = m->qid;
    req->queue_name = spool_name(SPOOL_ACTIVE);
    req->transport = job->transport;
    req->nexthop = job->nexthop;
    req->sender = env->sender;
    req->arrival_time = env->arrival.tv_sec;
    req->active_time = m->active_time;
    req->size = m->qf->content_size;
    req->body_type = env->body_type;
    req->smtputf8 = env->smtputf8;
    req->envid = env->envid ? env->envid : "";
    req->ret = env->ret;
    for (size_t i = 0; i < job->nrcpt; i++) {
        const qfile_rcpt *r = &m->qf->rcpt[job->rcpt[i]];
        dlv_rcpt dr = {r->address, r->orig, r->orcpt, r->notify,
                       r->status_offset};

        dlv_request_add_rcpt(req, &dr);
    }
}

/* qd_connect - a non-blocking connection to private/<transport>; -1 errno. */
static int qd_connect(qmgr *q, const char *transport)
{
    if (spool_path(&q->sp, SPOOL_PRIVATE, transport, &q->path) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return unix_connect(sb_str(&q->path), SOCK_NONBLOCK);
}

/*
 * qd_limit - connections of a transport qmgr may hold: its master.cf
 * process limit (ternd never runs more agents: a connection beyond it
 * would wait in the backlog behind reused ones), and for the idle pool
 * (pool) also its destination concurrency limit.
 */
static size_t qd_limit(const qmgr *q, const char *transport, bool pool)
{
    const struct conf_service *svc = conf_service_find(q->cf, transport,
                                                       "unix");
    size_t lim = QMGR_CONN_MAX;
    long conc;

    if (svc != NULL && svc->maxproc > 0 && (size_t)svc->maxproc < lim)
        lim = (size_t)svc->maxproc;
    if (pool && (conc = conf_get_transport_int(q->cf, transport,
                                               "destination_concurrency_limit"))
        > 0 && (size_t)conc < lim)
        lim = (size_t)conc;
    return lim;
}

/* qd_count - connections to transport (pooled: only the idle ones). */
static size_t qd_count(const qmgr *q, const char *transport, bool pooled)
{
    size_t n = 0;

    for (const qm_conn *c = q->conns; c != NULL; c = c->next)
        if ((!pooled || c->pooled) && strcmp(c->transport, transport) == 0)
            n++;
    return n;
}

/*
 * qd_pool_take - an idle connection to the job's transport, preferably
 * one whose agent last went to the same nexthop (its SMTP session may
 * still be open); NULL when there is none.
 */
static qm_conn *qd_pool_take(qmgr *q, const qmgr_job *job)
{
    qm_conn *any = NULL;

    if (q->npooled == 0)
        return NULL;
    for (qm_conn *c = q->conns; c != NULL; c = c->next) {
        if (!c->pooled || strcmp(c->transport, job->transport) != 0)
            continue;
        if (strcmp(c->nexthop, job->nexthop) == 0) {
            any = c;
            break;
        }
        if (any == NULL)
            any = c;
    }
    if (any != NULL) {
        any->pooled = false;
        q->npooled--;
    }
    return any;
}

/* qd_conn_new - a fresh connection on the list (fd connected). */
static qm_conn *qd_conn_new(qmgr *q, int fd, const char *transport)
{
    qm_conn *c = xcalloc(1, sizeof(*c));

    c->fd = fd;
    c->transport = xstrdup(transport);
    c->nexthop = xstrdup("");
    dlv_request_init(&c->req);
    sb_init(&c->out, SB_NOLIMIT);
    sb_init(&c->in, 0);
    c->next = q->conns;
    q->conns = c;
    q->nconns++;
    return c;
}

/*
 * qd_open - a pooled or new connection for job; NULL with *full (put the
 * job back) or with why (defer it).
 */
static qm_conn *qd_open(qmgr *q, qmgr_job *job, time_t now, bool *full,
                        strbuf *why)
{
    qm_conn *c = qd_pool_take(q, job);
    int fd;

    if (c != NULL)
        return c;
    if (qd_count(q, job->transport, false) >= qd_limit(q, job->transport,
                                                       false)) {
        *full = true;                   /* every agent ternd may run is ours */
        return NULL;
    }
    if ((fd = qd_connect(q, job->transport)) >= 0)
        return qd_conn_new(q, fd, job->transport);
    if (errno == EAGAIN) {              /* the agents are all busy */
        q->pause_until = now + 1;
        *full = true;
    } else {
        (void)sb_printf(why, "mail transport unavailable: connect to "
                        "private/%s: %m", job->transport);
    }
    return NULL;
}

/*
 * qd_start - start one job: a request on a pooled or new connection, or
 * an immediate outcome. false when the job went back to the scheduler
 * (the transport has no agent to spare): stop dispatching for this pass.
 */
static bool qd_start(qmgr *q, qmgr_job *job, time_t now)
{
    dlv_request req;
    bool full = false;
    qm_conn *c;
    strbuf why, out;

    sb_init(&why, 1024);
    sb_init(&out, SB_NOLIMIT);
    qd_build(job, &req);
    if (dlv_request_encode(&req, &out, &why) != DLV_OK) {
        msg_warn("%s: cannot build delivery request: %s", req.queue_id,
                 sb_str(&why));
        qd_finish_job(q, job, NULL, 0, "4.3.5", "bad delivery request", now);
    } else if ((c = qd_open(q, job, now, &full, &why)) != NULL) {
        c->job = *job;
        dlv_request_free(&c->req);
        c->req = req;
        sb_release(&c->out);
        c->out = out;
        c->sent = 0;
        sb_release(&c->in);
        sb_init(&c->in, (size_t)job->nrcpt * (DLV_VALUE_MAX + 256) + 4096);
        c->deadline = now + QMGR_DELIVERY_TIMEOUT;
        free(c->nexthop);
        c->nexthop = xstrdup(job->nexthop);
        sb_release(&why);
        return true;
    } else if (full) {
        qmgr_sched_requeue(q->sched, job);
    } else {
        msg_warn("%s", sb_str(&why));
        qd_finish_job(q, job, NULL, 0, "4.3.0", sb_str(&why), now);
    }
    dlv_request_free(&req);
    sb_release(&out);
    sb_release(&why);
    return !full;
}

/* qm_dispatch - defer dead destinations' mail, start what windows allow. */
void qm_dispatch(qmgr *q, time_t now)
{
    qmgr_job job;
    const char *reason, *dsn;
    strbuf why;

    sb_init(&why, 4096);
    while (qmgr_sched_next_dead(q->sched, now, &job, &reason, &dsn)) {
        qm_outcome *out = xcalloc(job.nrcpt, sizeof(*out));

        sb_reset(&why);
        (void)sb_printf(&why, "delivery temporarily suspended: %s", reason);
        for (size_t i = 0; i < job.nrcpt; i++)
            out[i] = (qm_outcome){DLV_DEFERRED, dsn, sb_str(&why),
                                  job.transport, false};
        qm_apply(q, job.msg, job.rcpt, out, job.nrcpt);
        free(out);
        qmgr_job_free(&job);
    }
    sb_release(&why);
    /* a full transport's job goes back; the round robin moves on */
    for (int full = 0; full < QD_FULL_MAX && now >= q->pause_until
         && q->nconns - q->npooled < QMGR_CONN_MAX
         && qmgr_sched_next(q->sched, now, &job);)
        if (!qd_start(q, &job, now))
            full++;
}

/* qd_unlink - take c off the connection list and free it. */
static void qd_unlink(qmgr *q, qm_conn *c)
{
    qm_conn **pp = &q->conns;

    while (*pp != c)
        pp = &(*pp)->next;
    *pp = c->next;
    q->nconns--;
    if (c->pooled)
        q->npooled--;
    if (c->fd >= 0 && close(c->fd) < 0)
        msg_warn("close agent connection: %m");
    dlv_request_free(&c->req);
    sb_release(&c->out);
    sb_release(&c->in);
    free(c->transport);
    free(c->nexthop);
    free(c);
}

/*
 * qd_pool_put - keep c for the next job of its transport when the agent
 * said it reads another request and the pool has room; else close it.
 */
static void qd_pool_put(qmgr *q, qm_conn *c, bool reuse, time_t now)
{
    if (!reuse || qd_count(q, c->transport, true)
        >= qd_limit(q, c->transport, true)) {
        qd_unlink(q, c);
        return;
    }
    dlv_request_free(&c->req);
    sb_reset(&c->out);
    sb_reset(&c->in);
    c->sent = 0;
    c->pooled = true;
    c->deadline = now + QMGR_POOL_IDLE;
    q->npooled++;
}

/* qd_complete - the replies are in (or the agent went): apply; pool or close. */
static void qd_complete(qmgr *q, qm_conn *c, time_t now)
{
    dlv_reply *rep = xcalloc(c->job.nrcpt, sizeof(*rep));
    size_t ngood = 0;
    bool reuse;
    strbuf why;
    int rc;

    sb_init(&why, 1024);
    rc = dlv_replies_parse(&c->req, sb_str(&c->in), sb_len(&c->in), rep,
                           &ngood, &why);
    if (rc == DLV_PROTO)
        msg_warn("%s: delivery agent %s: %s", c->req.queue_id,
                 c->job.transport, sb_str(&why));
    reuse = rc == DLV_OK && rep[c->job.nrcpt - 1].reuse;
    qd_finish_job(q, &c->job, rep, ngood, "4.3.0",
                  rc == DLV_PROTO ? "delivery agent protocol error"
                  : "lost connection with delivery agent", now);
    for (size_t i = 0; i < ngood; i++)
        dlv_reply_free(&rep[i]);
    free(rep);
    sb_release(&why);
    qd_pool_put(q, c, reuse, now);
}

/* qd_fail - the connection broke before any reply could be read. */
static void qd_fail(qmgr *q, qm_conn *c, const char *why, time_t now)
{
    msg_warn("%s: delivery agent %s: %s", c->req.queue_id, c->job.transport,
             why);
    qd_finish_job(q, &c->job, NULL, 0, "4.3.0", why, now);
    qd_unlink(q, c);
}

/* qd_write - send more of the request. */
static void qd_write(qmgr *q, qm_conn *c, time_t now)
{
    ssize_t n = send(c->fd, sb_str(&c->out) + c->sent,
                     sb_len(&c->out) - c->sent, MSG_DONTWAIT | MSG_NOSIGNAL);

    if (n > 0)
        c->sent += (size_t)n;
    else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        qd_fail(q, c, "lost connection with delivery agent", now);
}

/*
 * qd_read - take what the agent sent; complete when all replies are in or
 * the agent closed (on a reused connection too: its recipients are
 * deferred, never sent again elsewhere in this pass).
 */
static void qd_read(qmgr *q, qm_conn *c, time_t now)
{
    char buf[QD_READ_CHUNK];
    ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n > 0 && sb_append(&c->in, buf, (size_t)n) < 0) {
        qd_fail(q, c, "delivery agent protocol error", now);
        return;
    }
    if (n <= 0 || dlv_replies_complete(sb_str(&c->in), sb_len(&c->in))
        >= c->job.nrcpt)
        qd_complete(q, c, now);
}

/* qm_conn_events - handle poll events on one connection. */
void qm_conn_events(qmgr *q, qm_conn *c, short revents, time_t now)
{
    if (c->pooled) {                    /* the agent went away (or babbles) */
        qd_unlink(q, c);
        return;
    }
    if ((revents & POLLOUT) && c->sent < sb_len(&c->out)) {
        qd_write(q, c, now);
        return;                         /* c may be gone */
    }
    if (revents & (POLLIN | POLLHUP | POLLERR))
        qd_read(q, c, now);
}

/* qm_conn_timeouts - fail deliveries past their guard, close idle ones. */
void qm_conn_timeouts(qmgr *q, time_t now)
{
    qm_conn *c = q->conns, *next;

    for (; c != NULL; c = next) {
        next = c->next;
        if (now < c->deadline)
            continue;
        if (c->pooled)
            qd_unlink(q, c);
        else
            qd_fail(q, c, "timeout waiting for delivery agent", now);
    }
}

/* qm_conn_close_all - abandon every connection (qmgr stops or reloads). */
void qm_conn_close_all(qmgr *q)
{
    while (q->conns != NULL) {
        if (!q->conns->pooled)
            qmgr_job_free(&q->conns->job);
        qd_unlink(q, q->conns);
    }
}
