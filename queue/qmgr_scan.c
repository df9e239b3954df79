/*
 * qmgr_scan - the queue scans: crash recovery (active/ back to incoming/),
 * incoming/ on wake-up, and deferred/ every queue_run_delay for messages
 * whose retry time (the file's modification time) has come, or all of
 * them on a flush. Messages move to active/ (a rename, synced lazily by
 * qm_sync_dirs: see qs_take) only while the active-queue limits leave
 * room; what does not fit waits for the next scan. Owns nothing; a
 * directory that cannot be read is logged and scanned again later.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/msg.h"
#include "queue/qmgr_private.h"

/* qm_room - the active-queue limits leave room for one more message. */
bool qm_room(const qmgr *q)
{
    if (q->nmsgs == 0)
        return true;                    /* always make progress */
    return q->nmsgs < (size_t)q->active_limit
        && q->nrcpts < (size_t)q->rcpt_limit;
}

/*
 * qs_take - move the listed messages to active/ and load them; true if all.
 * The renames are not synced before dispatch: the file's content is
 * already durable and a rename leaves it under one of its two names, so a
 * rename lost in a crash only leaves the file where it was, from where it
 * is taken (and its unmarked recipients delivered) again. qm_sync_dirs
 * syncs both directories lazily. At most QMGR_SCAN_BATCH per call, so
 * deliveries are dispatched while a backlog is still being taken in; the
 * rest is taken by the next pass of the loop, which then does not wait.
 */
static bool qs_take(qmgr *q, enum spool_dir from, const spool_ids *names)
{
    size_t moved = 0;

    for (size_t i = 0; i < names->n; i++) {
        if (!qm_room(q) || moved == QMGR_SCAN_BATCH)
            return false;
        if (spool_move_nosync(&q->sp, names->v[i], from, SPOOL_ACTIVE) < 0) {
            if (errno != ENOENT)        /* gone: deleted meanwhile */
                msg_warn("%s: move to active: %m", names->v[i]);
            continue;
        }
        q->unsynced |= 1u << SPOOL_ACTIVE | 1u << from;
        moved++;
        qm_load(q, names->v[i], from);
    }
    return true;
}

/* qs_queued - qid is in some queue directory (or cannot be told). */
static bool qs_queued(qmgr *q, const char *qid)
{
    static const enum spool_dir queues[] = {
        SPOOL_MAILDROP, SPOOL_INCOMING, SPOOL_ACTIVE, SPOOL_DEFERRED,
        SPOOL_HOLD, SPOOL_CORRUPT,
    };
    struct stat st;

    for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
        int fd = spool_dirfd(&q->sp, queues[i]);

        if (fd < 0 || fstatat(fd, qid, &st, AT_SYMLINK_NOFOLLOW) == 0
            || errno != ENOENT)
            return true;
    }
    return false;
}

/*
 * qs_sweep_reasons - remove defer/ reason files of messages in no queue.
 * A message taken from incoming/ is removed without looking for its
 * reason file (qm_finish), so one left by an earlier deferral (a message
 * requeued, or recovered from active/) is removed here, at start.
 */
static void qs_sweep_reasons(qmgr *q)
{
    int dfd = spool_dirfd(&q->sp, SPOOL_DEFER);
    spool_ids names;

    if (dfd < 0 || spool_list(&q->sp, SPOOL_DEFER, 0, &names) < 0) {
        msg_warn("cannot read %s/defer: %m", q->sp.top);
        return;
    }
    for (size_t i = 0; i < names.n; i++)
        if (!qs_queued(q, names.v[i]) && unlinkat(dfd, names.v[i], 0) < 0
            && errno != ENOENT)
            msg_warn("remove %s/defer/%s: %m", q->sp.top, names.v[i]);
    spool_ids_free(&names);
}

/*
 * qmgr_recover - active/ back to incoming/ after a stop or crash, then
 * drop reason files left without a message.
 */
int qmgr_recover(qmgr *q)
{
    spool_ids names;
    int moved = 0;

    if (spool_list(&q->sp, SPOOL_ACTIVE, 0, &names) < 0) {
        msg_warn("cannot read %s/active: %m", q->sp.top);
        return -1;
    }
    for (size_t i = 0; i < names.n; i++) {
        if (spool_move(&q->sp, names.v[i], SPOOL_ACTIVE, SPOOL_INCOMING) == 0)
            moved++;
        else
            msg_warn("%s: move back to incoming: %m", names.v[i]);
    }
    spool_ids_free(&names);
    qs_sweep_reasons(q);
    return moved;
}

/* qm_scan_incoming - take what incoming/ holds (as room allows). */
void qm_scan_incoming(qmgr *q)
{
    spool_ids names;

    q->scan_incoming = false;
    if (spool_list(&q->sp, SPOOL_INCOMING, 0, &names) < 0) {
        msg_warn("cannot read %s/incoming: %m", q->sp.top);
        return;
    }
    if (!qs_take(q, SPOOL_INCOMING, &names))
        q->scan_incoming = true;        /* full: again when room is made */
    spool_ids_free(&names);
}

/* qm_scan_deferred - take deferred messages due now (all on a flush). */
void qm_scan_deferred(qmgr *q, time_t now)
{
    spool_ids names;

    if (spool_list(&q->sp, SPOOL_DEFERRED, q->flush ? 0 : now, &names) < 0) {
        msg_warn("cannot read %s/deferred: %m", q->sp.top);
        q->scan_deferred = false;
        return;
    }
    if (qs_take(q, SPOOL_DEFERRED, &names)) {
        q->scan_deferred = false;
        q->flush = false;
    }
    spool_ids_free(&names);
}
