/*
 * qmgr_loop - the queue manager's context and its single poll() event
 * loop: wake-up connections on the qmgr socket, the incoming/ and
 * deferred/ scans, dispatching deliveries and the agent connections'
 * events (docs/qmgr.md).
 *
 * The loop wakes at least once a second, so a stop request, a due
 * deferred scan, a dead destination's revival and guard timeouts are
 * noticed without timers of their own; the lazy directory sync
 * (qm_sync_dirs) runs at the end of a pass. Owns the context; the
 * configuration is the caller's. Nothing here exits.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "queue/qmgr_private.h"

#define QL_TICK_MS 1000
#define QL_WAKE_READ 64

/* ql_limits - per-transport scheduler limits from main.cf. */
static void ql_limits(void *ctx, const char *transport, qmgr_limits *out)
{
    const qmgr *q = ctx;
    long rl = conf_get_transport_int(q->cf, transport,
                                     "destination_recipient_limit");

    out->initial = (int)conf_get_transport_int(q->cf, transport,
                                               "initial_destination_concurrency");
    out->max = (int)conf_get_transport_int(q->cf, transport,
                                           "destination_concurrency_limit");
    out->rcpt_limit = rl <= 0 || rl > DLV_RCPT_MAX ? DLV_RCPT_MAX : (int)rl;
    out->cohort_limit = (int)conf_get_transport_int(
        q->cf, transport, "destination_concurrency_failed_cohort_limit");
    out->dead_secs = (int)q->min_backoff;
}

/* qmgr_new - a queue manager over cf's queue_directory. */
qmgr *qmgr_new(const conf *cf, qmgr_resolve_fn resolve, void *resolve_ctx)
{
    qmgr *q = xcalloc(1, sizeof(*q));

    q->cf = cf;
    spool_init(&q->sp, conf_get_str(cf, "queue_directory"));
    q->sched = qmgr_sched_new(ql_limits, q);
    q->resolve = resolve;
    q->resolve_ctx = resolve_ctx;
    q->min_backoff = conf_get_time(cf, "minimal_backoff_time");
    q->max_backoff = conf_get_time(cf, "maximal_backoff_time");
    if (q->max_backoff < q->min_backoff)
        q->max_backoff = q->min_backoff;
    q->run_delay = conf_get_time(cf, "queue_run_delay");
    q->active_limit = conf_get_int(cf, "qmgr_message_active_limit");
    q->rcpt_limit = conf_get_int(cf, "qmgr_message_recipient_limit");
    q->bounce_lifetime = conf_get_time(cf, "bounce_queue_lifetime");
    q->scan_incoming = q->scan_deferred = true;
    sb_init(&q->path, 4096);
    return q;
}

/* qmgr_free - drop connections, messages (left in active/) and state. */
void qmgr_free(qmgr *q)
{
    if (q == NULL)
        return;
    qm_conn_close_all(q);
    qmgr_sched_free(q->sched);
    while (q->msgs != NULL) {
        qm_msg *m = q->msgs;

        q->msgs = m->next;
        for (size_t i = 0; i < m->qf->nrcpt; i++)
            free(m->reason[i]);
        free(m->reason);
        free(m->st);
        qfile_close(m->qf);
        free(m);
    }
    spool_close(&q->sp);
    sb_release(&q->path);
    free(q);
}

/* qmgr_wake - a wake-up byte: scan incoming/, or flush everything. */
void qmgr_wake(qmgr *q, int byte)
{
    q->scan_incoming = true;
    if (byte == QMGR_WAKE_FLUSH) {
        q->scan_deferred = true;
        q->flush = true;
        qmgr_sched_revive(q->sched);
    }
}

/* ql_accept - take one wake-up connection and read its request bytes. */
static void ql_accept(qmgr *q, int listen_fd)
{
    char buf[QL_WAKE_READ];
    struct pollfd p;
    ssize_t n;
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
            && errno != ECONNABORTED)
            msg_warn("accept wake-up: %m");
        return;
    }
    /* the byte is usually there already: poll only when it is not */
    n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        p = (struct pollfd){.fd = fd, .events = POLLIN};
        n = poll(&p, 1, 100) > 0 ? recv(fd, buf, sizeof(buf), MSG_DONTWAIT) : 0;
    }
    if (n <= 0)
        qmgr_wake(q, QMGR_WAKE_INCOMING);
    for (ssize_t i = 0; i < n; i++)
        qmgr_wake(q, (unsigned char)buf[i]);
    if (close(fd) < 0)
        msg_warn("close wake-up: %m");
}

/* ql_work - scans, dispatch and the lazy sync before the loop waits. */
static void ql_work(qmgr *q, time_t now)
{
    if (now >= q->next_deferred_scan) {
        q->scan_deferred = true;
        q->next_deferred_scan = now + q->run_delay;
    }
    if (q->scan_incoming && qm_room(q))
        qm_scan_incoming(q);
    if (q->scan_deferred && qm_room(q))
        qm_scan_deferred(q, now);
    qm_dispatch(q, now);
    qm_sync_dirs(q, false);
}

/* ql_poll - wait for events and handle them; false when the listener died. */
static bool ql_poll(qmgr *q, int listen_fd)
{
    size_t n = 0, cap = q->nconns + 1;
    struct pollfd *p = xcalloc(cap, sizeof(*p));
    qm_conn **who = xcalloc(cap, sizeof(*who));
    bool alive = true;
    time_t now;

    if (listen_fd >= 0)
        p[n++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
    for (qm_conn *c = q->conns; c != NULL && n < cap; c = c->next) {
        who[n] = c;
        p[n++] = (struct pollfd){.fd = c->fd, .events = (short)(POLLIN
                   | (c->sent < sb_len(&c->out) ? POLLOUT : 0))};
    }
    /* a scan left work behind (batch limit): come straight back to it */
    if (poll(p, (nfds_t)n, ((q->scan_incoming || q->scan_deferred)
                            && qm_room(q)) ? 0 : QL_TICK_MS) < 0
        && errno != EINTR)
        msg_fatal("poll: %m");
    now = time(NULL);
    for (size_t i = 0; i < n; i++) {
        if (p[i].revents == 0)
            continue;
        if (who[i] != NULL)
            qm_conn_events(q, who[i], p[i].revents, now);
        else if (p[i].revents & (POLLHUP | POLLERR | POLLNVAL))
            alive = false;              /* ternd shut the listener */
        else
            ql_accept(q, listen_fd);
    }
    qm_conn_timeouts(q, now);
    free(p);
    free(who);
    return alive;
}

/* qmgr_run - the event loop, until stop() says so. */
void qmgr_run(qmgr *q, int listen_fd, bool (*stop)(void *), void *stop_ctx)
{
    while (!stop(stop_ctx)) {
        ql_work(q, time(NULL));
        if (!ql_poll(q, listen_fd))
            break;
    }
    qm_conn_close_all(q);
    qm_sync_dirs(q, true);
}
