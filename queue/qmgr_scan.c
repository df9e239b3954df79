/*
 * qmgr_scan - the queue scans: crash recovery (active/ back to incoming/),
 * incoming/ on wake-up, and deferred/ every queue_run_delay for messages
 * whose retry time (the file's modification time) has come, or all of
 * them on a flush. Messages move to active/ with spool_move only while the
 * active-queue limits leave room; what does not fit waits for the next
 * scan. Owns nothing; a directory that cannot be read is logged and
 * scanned again later.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "queue/qmgr_private.h"

/* Queue IDs found in a directory. */
typedef struct qs_names {
    char **v;
    size_t n, cap;
} qs_names;

/* qs_cmp - sort IDs (long IDs then come in arrival order). */
static int qs_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * qs_list - IDs in dir whose mtime is at most `due` (0: any), sorted;
 * -1 when the directory cannot be read.
 */
static int qs_list(qmgr *q, enum spool_dir dir, time_t due, qs_names *out)
{
    int dfd = spool_dirfd(&q->sp, dir), fd;
    struct dirent *de;
    struct stat st;
    DIR *d;

    memset(out, 0, sizeof(*out));
    if (dfd < 0 || (fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return -1;
    if ((d = fdopendir(fd)) == NULL) {
        (void)close(fd);
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        if (!qid_valid(de->d_name))
            continue;                   /* ".", "..", tmp.*, strangers */
        if (due != 0 && (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0
                         || st.st_mtime > due))
            continue;
        if (out->n == out->cap) {
            out->cap = out->cap ? 2 * out->cap : 64;
            out->v = xreallocarray(out->v, out->cap, sizeof(*out->v));
        }
        out->v[out->n++] = xstrdup(de->d_name);
    }
    (void)closedir(d);
    if (out->n > 1)
        qsort(out->v, out->n, sizeof(*out->v), qs_cmp);
    return 0;
}

/* qs_free - release a listing. */
static void qs_free(qs_names *n)
{
    for (size_t i = 0; i < n->n; i++)
        free(n->v[i]);
    free(n->v);
}

/* qm_room - the active-queue limits leave room for one more message. */
bool qm_room(const qmgr *q)
{
    if (q->nmsgs == 0)
        return true;                    /* always make progress */
    return q->nmsgs < (size_t)q->active_limit
        && q->nrcpts < (size_t)q->rcpt_limit;
}

/* qs_take - move the listed messages to active/ and load them; true if all. */
static bool qs_take(qmgr *q, enum spool_dir from, const qs_names *names)
{
    for (size_t i = 0; i < names->n; i++) {
        if (!qm_room(q))
            return false;
        if (spool_move(&q->sp, names->v[i], from, SPOOL_ACTIVE) < 0) {
            if (errno != ENOENT)        /* gone: deleted meanwhile */
                msg_warn("%s: move to active: %m", names->v[i]);
            continue;
        }
        qm_load(q, names->v[i]);
    }
    return true;
}

/* qmgr_recover - active/ back to incoming/ after a stop or crash. */
int qmgr_recover(qmgr *q)
{
    qs_names names;
    int moved = 0;

    if (qs_list(q, SPOOL_ACTIVE, 0, &names) < 0) {
        msg_warn("cannot read %s/active: %m", q->sp.top);
        return -1;
    }
    for (size_t i = 0; i < names.n; i++) {
        if (spool_move(&q->sp, names.v[i], SPOOL_ACTIVE, SPOOL_INCOMING) == 0)
            moved++;
        else
            msg_warn("%s: move back to incoming: %m", names.v[i]);
    }
    qs_free(&names);
    return moved;
}

/* qm_scan_incoming - take what incoming/ holds (as room allows). */
void qm_scan_incoming(qmgr *q)
{
    qs_names names;

    q->scan_incoming = false;
    if (qs_list(q, SPOOL_INCOMING, 0, &names) < 0) {
        msg_warn("cannot read %s/incoming: %m", q->sp.top);
        return;
    }
    if (!qs_take(q, SPOOL_INCOMING, &names))
        q->scan_incoming = true;        /* full: again when room is made */
    qs_free(&names);
}

/* qm_scan_deferred - take deferred messages due now (all on a flush). */
void qm_scan_deferred(qmgr *q, time_t now)
{
    qs_names names;

    if (qs_list(q, SPOOL_DEFERRED, q->flush ? 0 : now, &names) < 0) {
        msg_warn("cannot read %s/deferred: %m", q->sp.top);
        q->scan_deferred = false;
        return;
    }
    if (qs_take(q, SPOOL_DEFERRED, &names)) {
        q->scan_deferred = false;
        q->flush = false;
    }
    qs_free(&names);
}
