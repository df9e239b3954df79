/*
 * qmgr_msg - one active message: load and route it, apply the outcome of
 * each recipient (mark done in place, or remember the deferral reason),
 * and when no recipient is outstanding, remove the file or write
 * defer/<qid> and move it to deferred/ with its retry time as the file's
 * modification time (docs/qmgr.md).
 *
 * Owns the qm_msg structs of qmgr's active list. Durability: while a
 * message stays queued (a recipient deferred or still outstanding), the
 * recipients that got a verdict are marked with qfile_mark_rcpts (pwrite +
 * fdatasync) at once, so a later attempt never delivers them again; when
 * marking fails they are treated as deferred, so the file is kept and
 * nothing is lost. The last batch of a message that leaves nothing
 * deferred is not marked: the unlink that follows records it, and a crash
 * that loses the unlink only brings back recipients to deliver twice
 * (DESIGN.md allows a duplicate, never a loss). Removals and moves to
 * deferred/ are not synced before qmgr goes on (a removed file is emptied
 * and moved to spare/ for reuse, or unlinked: the same for a crash, a
 * lost move brings back a finished file); qm_sync_dirs syncs the
 * directories lazily, at most once a second, which bounds how much mail
 * a power loss can bring back to be delivered again. A malformed file is
 * quarantined; an unreadable one is moved to deferred/ to be retried.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "queue/qmgr_private.h"

/* qmgr_backoff - next retry: now + age, bounded to [min, max]. */
time_t qmgr_backoff(time_t now, time_t arrival, long min, long max)
{
    long age = now > arrival ? (long)(now - arrival) : 0;

    if (age > max)
        age = max;
    if (age < min)
        age = min;
    return now + age;
}

/* qmgr_expired - too old for one more retry, or forced to expire. */
bool qmgr_expired(time_t now, time_t arrival, long lifetime, bool forced)
{
    return forced || now - arrival >= lifetime;
}

/* qm_log - qmgr's own delivery line for recipient i (relay=none). */
void qm_log(const qm_msg *m, size_t i, const char *dsn, const char *status,
            const char *reason)
{
    const qfile_rcpt *r = &m->qf->rcpt[i];
    dlv_request req;
    dlv_rcpt dr = {r->address, r->orig, "", 0, r->status_offset};
    dlv_log lg = {"none", {0, 0}, 0, dsn, status, reason};

    dlv_request_init(&req);
    req.queue_id = m->qid;
    req.arrival_time = m->qf->env.arrival.tv_sec;
    req.active_time = m->active_time;
    dlv_log_delivery(&req, &dr, &lg);
}

/* qm_lifetime - how long recipients on this transport are retried. */
static long qm_lifetime(const qmgr *q, const qm_msg *m, const char *transport)
{
    long life = conf_get_transport_time(q->cf, transport,
                                        "maximal_queue_lifetime");

    if (*m->qf->env.sender == '\0' && q->bounce_lifetime < life)
        life = q->bounce_lifetime;
    return life;
}

/* qm_open - open active/qid (relative to the cached directory: no path walk). */
static int qm_open(qmgr *q, const char *qid, int flags)
{
    int afd = spool_dirfd(&q->sp, SPOOL_ACTIVE);

    if (afd < 0)
        return -1;
    return openat(afd, qid, flags | O_NOFOLLOW | O_CLOEXEC);
}

/* qm_mark - mark recipients done durably; false if the file refused. */
static bool qm_mark(qmgr *q, const qm_msg *m, const off_t *off, size_t n,
                    int status)
{
    int fd, rc;

    if (n == 0)
        return true;
    fd = qm_open(q, m->qid, O_RDWR);
    if (fd < 0) {
        msg_warn("%s: open %s/active/%s: %m", m->qid, q->sp.top, m->qid);
        return false;
    }
    rc = qfile_mark_rcpts(fd, off, n, status);
    if (rc < 0)
        msg_warn("%s: update queue file: %m", m->qid);
    if (close(fd) < 0 && rc == 0) {
        msg_warn("%s: close queue file: %m", m->qid);
        rc = -1;
    }
    return rc == 0;
}

/* qm_defer_rcpt - remember recipient i as deferred with reason. */
static void qm_defer_rcpt(qm_msg *m, size_t i, const char *reason)
{
    free(m->reason[i]);
    m->reason[i] = xstrdup(reason);
    m->st[i] = QM_DEFER;
    m->ndefer++;
}

/* qm_classify - decide one outcome: its mark status, or 0 for deferred. */
static int qm_classify(qmgr *q, qm_msg *m, size_t i, const qm_outcome *o,
                       time_t now)
{
    if (o->action == DLV_DELIVERED)
        return QFILE_RCPT_DELIVERED;
    if (o->action == DLV_FAILED) {
        if (!o->logged)
            qm_log(m, i, o->dsn, "bounced", o->reason);
        return QFILE_RCPT_BOUNCED;
    }
    if (!o->logged)
        qm_log(m, i, o->dsn, "deferred", o->reason);
    if (qmgr_expired(now, m->qf->env.arrival.tv_sec,
                     qm_lifetime(q, m, o->transport), m->qf->env.forced_expire)) {
        qm_log(m, i, o->dsn, "expired", o->reason);
        return QFILE_RCPT_BOUNCED;
    }
    return 0;
}

static void qm_finish(qmgr *q, qm_msg *m);

/*
 * qm_apply - apply n outcomes for recipients idx[] of m. The done marks
 * are written (durably) only when the message stays queued: when this
 * batch finishes it with nothing deferred, qm_finish unlinks it and the
 * unlink is the record; a crash before the unlink is durable brings the
 * file back unmarked and these recipients are delivered again (a
 * duplicate, never a loss).
 */
void qm_apply(qmgr *q, qm_msg *m, const size_t *idx, const qm_outcome *out,
              size_t n)
{
    off_t *off[2] = {xcalloc(n + 1, sizeof(off_t)), xcalloc(n + 1, sizeof(off_t))};
    size_t *who[2] = {xcalloc(n + 1, sizeof(size_t)), xcalloc(n + 1, sizeof(size_t))};
    static const int status[2] = {QFILE_RCPT_DELIVERED, QFILE_RCPT_BOUNCED};
    size_t cnt[2] = {0, 0};
    time_t now = time(NULL);

    for (size_t k = 0; k < n; k++) {
        size_t i = idx[k];
        int st;

        if (m->st[i] != QM_QUEUED)
            msg_panic("%s: recipient %zu answered twice", m->qid, i);
        m->outstanding--;
        st = qm_classify(q, m, i, &out[k], now);
        if (st == 0) {
            qm_defer_rcpt(m, i, out[k].reason);
            continue;
        }
        int b = st == QFILE_RCPT_BOUNCED;

        off[b][cnt[b]] = m->qf->rcpt[i].status_offset;
        who[b][cnt[b]++] = i;
        m->st[i] = QM_DONE;
    }
    /* about to be removed: the unlink records the outcome (docs/qmgr.md) */
    bool removing = m->outstanding == 0 && m->ndefer == 0;

    for (int b = 0; b < 2 && !removing; b++)
        if (!qm_mark(q, m, off[b], cnt[b], status[b]))
            for (size_t k = 0; k < cnt[b]; k++)
                qm_defer_rcpt(m, who[b][k], "cannot update queue file");
    for (int b = 0; b < 2; b++) {
        free(off[b]);
        free(who[b]);
    }
    if (m->outstanding == 0)
        qm_finish(q, m);
}

/* qm_write_reasons - write defer/<qid> ("address TAB reason" lines). */
static int qm_write_reasons(qmgr *q, const qm_msg *m)
{
    int dfd = spool_dirfd(&q->sp, SPOOL_DEFER), fd, rc = 0;
    char tmp[QID_SIZE + 8];
    strbuf text;

    if (dfd < 0 || fmt_fixed(tmp, sizeof(tmp), "%s%s", SPOOL_TEMP_PREFIX,
                             m->qid) < 0)
        return -1;
    sb_init(&text, SB_NOLIMIT);
    for (size_t i = 0; i < m->qf->nrcpt; i++)
        if (m->st[i] == QM_DEFER)
            (void)sb_printf(&text, "%s\t%s\n", m->qf->rcpt[i].address,
                            m->reason[i]);
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                0600);
    if (fd < 0) {
        sb_release(&text);
        return -1;
    }
    for (size_t done = 0; done < sb_len(&text) && rc == 0;) {
        ssize_t w = write(fd, sb_str(&text) + done, sb_len(&text) - done);

        if (w < 0 && errno != EINTR)
            rc = -1;
        else if (w > 0)
            done += (size_t)w;
    }
    if (close(fd) < 0)
        rc = -1;
    if (rc == 0 && renameat(dfd, tmp, dfd, m->qid) < 0)
        rc = -1;
    if (rc < 0)
        (void)unlinkat(dfd, tmp, 0);
    sb_release(&text);
    return rc;
}

/*
 * qm_to_deferred - reasons, retry time as mtime, move to deferred/. The
 * move is synced lazily: the marks of the recipients done so far are
 * durable already, so a move (or mtime) lost in a crash only makes the
 * next attempt come sooner (from incoming/, after the restart's recovery).
 */
static void qm_to_deferred(qmgr *q, const qm_msg *m)
{
    time_t now = time(NULL);
    time_t when = qmgr_backoff(now, m->qf->env.arrival.tv_sec, q->min_backoff,
                               q->max_backoff);
    struct timespec ts[2] = {{when, 0}, {when, 0}};
    int afd = spool_dirfd(&q->sp, SPOOL_ACTIVE);

    if (qm_write_reasons(q, m) < 0)
        msg_warn("%s: cannot write defer reasons: %m", m->qid);
    if (afd < 0 || utimensat(afd, m->qid, ts, AT_SYMLINK_NOFOLLOW) < 0)
        msg_warn("%s: cannot set retry time: %m", m->qid);
    if (spool_move_nosync(&q->sp, m->qid, SPOOL_ACTIVE, SPOOL_DEFERRED) < 0)
        msg_warn("%s: move to deferred: %m", m->qid);
    else
        q->unsynced |= 1u << SPOOL_ACTIVE | 1u << SPOOL_DEFERRED;
}

/* qm_free - unlink m from the active list and free it. */
static void qm_free(qmgr *q, qm_msg *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else
        q->msgs = m->next;
    if (m->next)
        m->next->prev = m->prev;
    q->nmsgs--;
    q->nrcpts -= m->qf->nrcpt;
    for (size_t i = 0; i < m->qf->nrcpt; i++)
        free(m->reason[i]);
    free(m->reason);
    free(m->st);
    qfile_close(m->qf);
    free(m);
}

/* qm_now_ms - monotonic milliseconds. */
static long long qm_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        msg_fatal("clock_gettime: %m");
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * qm_sync_dirs - the lazy sync: fsync the directories whose entries
 * changed (moves and removals) at most once per QMGR_SYNC_MS, or now when
 * forced (qmgr stops). Nothing waits for it: it only bounds how much
 * could be delivered twice after a power loss (docs/qmgr.md).
 */
void qm_sync_dirs(qmgr *q, bool force)
{
    long long now;

    if (q->unsynced == 0)
        return;
    now = qm_now_ms();
    if (!force && now - q->synced_ms < QMGR_SYNC_MS)
        return;
    for (int d = 0; d < SPOOL_NDIRS; d++)
        if ((q->unsynced & (1u << d))
            && spool_fsync_dir(&q->sp, (enum spool_dir)d) < 0)
            msg_warn("fsync %s/%s: %m", q->sp.top, spool_name(d));
    q->unsynced = 0;
    q->synced_ms = now;
}

/*
 * qm_remove - empty active/qid and give it to spare/ for a writer to reuse
 * (unlink it when spare/ is full or missing), and remove defer/qid only
 * when the message came from deferred/ (a fresh one has none: no failed
 * unlink per message; a stale one is swept at start, qmgr_recover).
 */
static int qm_remove(qmgr *q, const qm_msg *m)
{
    return qfile_recycle_nosync(&q->sp, SPOOL_ACTIVE, m->qid, m->reasons);
}

/*
 * qm_finish - every recipient answered: remove or defer the message. The
 * recipients of the last batch are not marked (qm_apply), so a removal
 * lost in a crash means they are delivered again: a duplicate, never a
 * loss; the unlink needs no fsync of its own.
 */
static void qm_finish(qmgr *q, qm_msg *m)
{
    if (m->ndefer > 0) {
        qm_to_deferred(q, m);
    } else if (qm_remove(q, m) < 0) {
        msg_warn("%s: remove queue file: %m", m->qid);
    } else {
        q->unsynced |= 1u << SPOOL_ACTIVE;
        msg_info("%s: removed", m->qid);
    }
    qm_free(q, m);
}

/* qm_read - open and validate active/qid; NULL when it is not usable. */
static qfile_msg *qm_read(qmgr *q, const char *qid)
{
    qfile_msg *qf = NULL;
    strbuf why;
    int fd, rc;

    fd = qm_open(q, qid, O_RDONLY);
    if (fd < 0) {
        if (errno != ENOENT)
            msg_warn("%s: open %s/active/%s: %m", qid, q->sp.top, qid);
        return NULL;
    }
    sb_init(&why, 1024);
    rc = qfile_read_fd(fd, &qf, &why);
    if (rc == QFILE_ECORRUPT) {
        (void)qfile_quarantine(&q->sp, SPOOL_ACTIVE, qid, sb_str(&why));
    } else if (rc != QFILE_OK) {
        msg_warn("%s: %s: retried later", qid, sb_str(&why));
        if (spool_move(&q->sp, qid, SPOOL_ACTIVE, SPOOL_DEFERRED) < 0)
            msg_warn("%s: move to deferred: %m", qid);
    }
    if (close(fd) < 0)
        msg_warn("%s: close: %m", qid);
    sb_release(&why);
    return rc == QFILE_OK ? qf : NULL;
}

/* qm_route - route recipient i: queue it, or decide it now. */
static void qm_route(qmgr *q, qm_msg *m, size_t i, strbuf *tr, strbuf *hop,
                     strbuf *dsn, strbuf *why)
{
    enum qmgr_route_status rs;
    qm_outcome o;

    sb_reset(tr);
    sb_reset(hop);
    (void)sb_set(dsn, "4.3.0");
    (void)sb_set(why, "routing failed");
    rs = q->resolve(q->resolve_ctx, m->qf->rcpt[i].address,
                    m->qf->env.sender, tr, hop, dsn, why);
    m->st[i] = QM_QUEUED;
    m->outstanding++;
    if (rs == QMGR_ROUTE_OK && sb_len(tr) > 0) {
        qmgr_sched_add(q->sched, sb_str(tr), sb_str(hop), m, i);
        return;
    }
    o = (qm_outcome){rs == QMGR_ROUTE_BOUNCE ? DLV_FAILED : DLV_DEFERRED,
                     sb_str(dsn), sb_str(why), "", false};
    if (sb_len(tr) == 0)
        o.transport = conf_get_str(q->cf, "default_transport");
    qm_apply(q, m, &i, &o, 1);
}

/* qm_load - take active/qid (moved from `from`): log, route, queue. */
void qm_load(qmgr *q, const char *qid, enum spool_dir from)
{
    qfile_msg *qf = qm_read(q, qid);
    qm_msg *m;
    strbuf tr, hop, dsn, why;

    if (qf == NULL)
        return;
    m = xcalloc(1, sizeof(*m));
    if (fmt_fixed(m->qid, sizeof(m->qid), "%s", qid) < 0)
        msg_panic("qm_load: queue ID %s too long", qid);
    m->qf = qf;
    m->reasons = from != SPOOL_INCOMING;
    if (gettimeofday(&m->active_time, NULL) < 0)
        msg_fatal("gettimeofday: %m");
    m->st = xcalloc(qf->nrcpt, 1);
    m->reason = xcalloc(qf->nrcpt, sizeof(*m->reason));
    m->next = q->msgs;
    if (q->msgs)
        q->msgs->prev = m;
    q->msgs = m;
    q->nmsgs++;
    q->nrcpts += qf->nrcpt;
    msg_info("%s: from=<%s>, size=%llu, nrcpt=%zu (queue active)", qid,
             qf->env.sender, (unsigned long long)qf->content_size, qf->nrcpt);
    sb_init(&tr, 1024);
    sb_init(&hop, 4096);
    sb_init(&dsn, 16);
    sb_init(&why, 4096);
    m->outstanding = 1;                 /* hold it while routing */
    for (size_t i = 0; i < qf->nrcpt; i++)
        if (qf->rcpt[i].status == QFILE_RCPT_PENDING)
            qm_route(q, m, i, &tr, &hop, &dsn, &why);
    sb_release(&tr);
    sb_release(&hop);
    sb_release(&dsn);
    sb_release(&why);
    if (--m->outstanding == 0)
        qm_finish(q, m);
}
