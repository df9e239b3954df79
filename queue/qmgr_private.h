/*
 * qmgr_private - the queue manager's internal types and the calls between
 * its files (qmgr_loop.c, qmgr_msg.c, qmgr_scan.c, qmgr_deliver.c). Only
 * qmgr_*.c include it; everyone else uses qmgr.h.
 */
#ifndef TERN_QMGR_PRIVATE_H
#define TERN_QMGR_PRIVATE_H

#include <stdbool.h>
#include <sys/time.h>

#include "common/strbuf.h"
#include "queue/dlv.h"
#include "queue/qfile.h"
#include "queue/qid.h"
#include "queue/qmgr.h"
#include "queue/qmgr_sched.h"
#include "queue/spool.h"

/* Per-recipient state while a message is active. */
enum qm_state {
    QM_SKIP = 0,                /* already done in the file: not ours */
    QM_QUEUED,                  /* queued or in flight */
    QM_DONE,                    /* delivered or failed this time */
    QM_DEFER,                   /* deferred this time */
};

/* One active message. */
typedef struct qm_msg {
    char qid[QID_SIZE];
    qfile_msg *qf;              /* validated contents (no open descriptor) */
    struct timeval active_time;
    unsigned char *st;          /* enum qm_state per recipient */
    char **reason;              /* deferral reason per recipient */
    size_t outstanding;         /* QM_QUEUED recipients */
    size_t ndefer;
    bool reasons;               /* may have defer/<qid>: came from deferred/ */
    struct qm_msg *prev, *next;
} qm_msg;

/* One connection to a delivery agent. */
typedef struct qm_conn {
    int fd;
    qmgr_job job;
    dlv_request req;
    strbuf out;                 /* encoded request */
    size_t sent;
    strbuf in;                  /* replies read so far */
    time_t deadline;            /* in use: guard; pooled: idle until */
    char *transport;            /* the agent's service, for the pool */
    char *nexthop;              /* of its last request (agent's cache) */
    bool pooled;                /* idle, waiting for a next job */
    struct qm_conn *next;
} qm_conn;

/* The outcome of one recipient, as applied by qm_result. */
typedef struct qm_outcome {
    enum dlv_action action;
    const char *dsn;
    const char *reason;
    const char *transport;      /* for its lifetime */
    bool logged;                /* the agent logged it already */
} qm_outcome;

struct qmgr {
    const conf *cf;
    spool sp;
    qmgr_sched *sched;
    qmgr_resolve_fn resolve;
    void *resolve_ctx;
    qm_msg *msgs;
    size_t nmsgs, nrcpts;
    qm_conn *conns;
    size_t nconns;              /* in use and pooled */
    size_t npooled;             /* idle agent connections kept for reuse */
    long min_backoff, max_backoff, run_delay;
    long active_limit, rcpt_limit, bounce_lifetime;
    bool scan_incoming, scan_deferred, flush;
    unsigned unsynced;          /* bit per spool_dir: entries not synced */
    long long synced_ms;        /* monotonic time of the last lazy sync */
    time_t next_deferred_scan;
    time_t pause_until;         /* an agent's backlog was full */
    strbuf path;                /* scratch */
};

/* Delivery timeout guard: agents enforce their own, shorter timeouts. */
#define QMGR_DELIVERY_TIMEOUT 3600

/* Idle agent connections are closed after this (agents wait DLV_IDLE_MS). */
#define QMGR_POOL_IDLE 5

/* Messages one scan pass moves to active/ before dispatching. */
#define QMGR_SCAN_BATCH 64

/* Lazy directory sync: at most once per this many milliseconds. */
#define QMGR_SYNC_MS 1000

/* qmgr_msg.c */
void qm_sync_dirs(qmgr *q, bool force);
void qm_load(qmgr *q, const char *qid, enum spool_dir from);
void qm_apply(qmgr *q, qm_msg *m, const size_t *idx, const qm_outcome *out,
              size_t n);
void qm_log(const qm_msg *m, size_t i, const char *dsn, const char *status,
            const char *reason);

/* qmgr_scan.c */
void qm_scan_incoming(qmgr *q);
void qm_scan_deferred(qmgr *q, time_t now);
bool qm_room(const qmgr *q);

/* qmgr_deliver.c */
void qm_dispatch(qmgr *q, time_t now);
void qm_conn_events(qmgr *q, qm_conn *c, short revents, time_t now);
void qm_conn_timeouts(qmgr *q, time_t now);
void qm_conn_close_all(qmgr *q);

#endif
