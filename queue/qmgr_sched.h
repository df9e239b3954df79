/*
 * qmgr_sched - qmgr's scheduler as pure logic: one queue per transport and
 * destination (nexthop), a concurrency window per destination, batching
 * of at most <transport>_destination_recipient_limit recipients of one
 * message per delivery, round-robin across destinations, and dead
 * destinations (docs/qmgr.md).
 *
 * The scheduler knows recipients only as (message pointer, index) pairs
 * and time only as the `now` its callers pass, so tests drive it without
 * files, sockets or clocks. Per-transport limits come from a callback.
 * It owns its destinations and jobs' index arrays; memory grows with the
 * recipients queued (bounded by qmgr_message_recipient_limit upstream).
 * Misuse (done on a destination with nothing in flight) is a panic.
 */
#ifndef TERN_QMGR_SCHED_H
#define TERN_QMGR_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Per-transport limits (qmgr reads them from main.cf). */
typedef struct qmgr_limits {
    int initial;                /* initial_destination_concurrency */
    int max;                    /* destination_concurrency_limit (0 = none) */
    int rcpt_limit;             /* destination_recipient_limit (0 = none) */
    int cohort_limit;           /* failed cohorts until dead (0 = never) */
    int dead_secs;              /* how long dead: minimal_backoff_time */
} qmgr_limits;

typedef void (*qmgr_limits_fn)(void *ctx, const char *transport,
                               qmgr_limits *out);

typedef struct qmgr_sched qmgr_sched;
typedef struct qmgr_dest qmgr_dest;

/* One delivery: recipients of one message for one destination. */
typedef struct qmgr_job {
    qmgr_dest *dest;
    const char *transport;      /* owned by the destination */
    const char *nexthop;
    void *msg;
    size_t *rcpt;               /* indices into the message; owned */
    size_t nrcpt;
} qmgr_job;

/* qmgr_sched_new / qmgr_sched_free - life cycle. */
qmgr_sched *qmgr_sched_new(qmgr_limits_fn limits, void *ctx);
void qmgr_sched_free(qmgr_sched *s);

/* qmgr_sched_add - queue recipient `rcpt` of msg for transport+nexthop. */
void qmgr_sched_add(qmgr_sched *s, const char *transport, const char *nexthop,
                    void *msg, size_t rcpt);

/*
 * qmgr_sched_next - the next delivery to start, round-robin over the
 * destinations that have work, are not dead and are below their window:
 * true with *job filled (the destination counts it in flight). Each job
 * holds recipients of one message only.
 */
bool qmgr_sched_next(qmgr_sched *s, time_t now, qmgr_job *job);

/*
 * qmgr_sched_next_dead - queued work of a dead destination, to be
 * deferred without a delivery attempt: true with *job and the reason and
 * DSN of the failure that killed it (nothing is counted in flight).
 */
bool qmgr_sched_next_dead(qmgr_sched *s, time_t now, qmgr_job *job,
                          const char **reason, const char **dsn);

/*
 * qmgr_sched_done - a delivery of d finished. site_failure: the
 * connection or handshake failed (negative feedback; enough failed
 * cohorts make d dead for dead_secs, remembering reason/dsn); otherwise
 * positive feedback (the window grows by one up to its limit).
 */
void qmgr_sched_done(qmgr_sched *s, qmgr_dest *d, bool site_failure,
                     const char *dsn, const char *reason, time_t now);

/*
 * qmgr_sched_requeue - put a job that could not start back at the head of
 * its destination, with no feedback (e.g. the agent's backlog was full).
 */
void qmgr_sched_requeue(qmgr_sched *s, qmgr_job *job);

/* qmgr_job_free - release a job's index array. */
void qmgr_job_free(qmgr_job *job);

/* qmgr_sched_revive - make every dead destination alive now (flush). */
void qmgr_sched_revive(qmgr_sched *s);

/* qmgr_sched_queued / qmgr_sched_in_flight - recipients and jobs. */
size_t qmgr_sched_queued(const qmgr_sched *s);
size_t qmgr_sched_in_flight(const qmgr_sched *s);

/* Inspection (tests, logging). NULL when there is no such destination. */
qmgr_dest *qmgr_sched_find(qmgr_sched *s, const char *transport,
                           const char *nexthop);
int qmgr_dest_window(const qmgr_dest *d);
int qmgr_dest_active(const qmgr_dest *d);
bool qmgr_dest_dead(const qmgr_dest *d, time_t now);

#endif
