/*
 * qmgr_sched - per-destination queues, concurrency windows, round-robin
 * and dead destinations (qmgr_sched.h, docs/qmgr.md).
 *
 * Destinations live in a hash (by transport and nexthop) and in a ring
 * that qmgr_sched_next walks from a cursor, so each destination with work
 * gets one job in turn however many recipients another one has queued.
 * Feedback follows Postfix's defaults: +1 window per delivery without a
 * site failure (up to the limit), -1 per failure (down to 1) while the
 * failure adds 1/window to the failed-cohort count; at the cohort limit the
 * destination is dead for dead_secs. A destination with nothing queued,
 * nothing in flight and not dead is forgotten. Owns everything it holds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "queue/qmgr_sched.h"

#define QS_BUCKETS 1024

/* A queued recipient. */
struct qs_entry {
    void *msg;
    size_t rcpt;
};

struct qmgr_dest {
    char *transport;
    char *nexthop;
    qmgr_limits lim;
    struct qs_entry *q;         /* queued recipients: q[head..n) */
    size_t head, n, cap;
    int window;
    int active;                 /* jobs in flight */
    double fail_cohorts;
    time_t dead_until;          /* 0 = alive */
    char *dead_reason, *dead_dsn;
    struct qmgr_dest *hnext;    /* hash chain */
};

struct qmgr_sched {
    qmgr_limits_fn limits;
    void *ctx;
    qmgr_dest *bucket[QS_BUCKETS];
    qmgr_dest **ring;
    size_t nring, capring, cursor;
    size_t queued, in_flight;
};

/* qs_hash - FNV-1a of transport NUL nexthop. */
static size_t qs_hash(const char *transport, const char *nexthop)
{
    uint64_t h = 1469598103934665603ULL;

    for (const char *p = transport; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0) * 1099511628211ULL;
    for (const char *p = nexthop; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return (size_t)(h % QS_BUCKETS);
}

/* qmgr_sched_new - an empty scheduler. */
qmgr_sched *qmgr_sched_new(qmgr_limits_fn limits, void *ctx)
{
    qmgr_sched *s = xcalloc(1, sizeof(*s));

    s->limits = limits;
    s->ctx = ctx;
    return s;
}

/* qs_dest_free - release one destination. */
static void qs_dest_free(qmgr_dest *d)
{
    free(d->transport);
    free(d->nexthop);
    free(d->q);
    free(d->dead_reason);
    free(d->dead_dsn);
    free(d);
}

/* qmgr_sched_free - release everything. */
void qmgr_sched_free(qmgr_sched *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nring; i++)
        qs_dest_free(s->ring[i]);
    free(s->ring);
    free(s);
}

/* qmgr_sched_find - the destination for transport+nexthop, or NULL. */
qmgr_dest *qmgr_sched_find(qmgr_sched *s, const char *transport,
                           const char *nexthop)
{
    for (qmgr_dest *d = s->bucket[qs_hash(transport, nexthop)]; d; d = d->hnext)
        if (strcmp(d->transport, transport) == 0
            && strcmp(d->nexthop, nexthop) == 0)
            return d;
    return NULL;
}

/* qs_limits_fix - make limits usable: windows at least 1. */
static void qs_limits_fix(qmgr_limits *l)
{
    if (l->max <= 0)
        l->max = INT32_MAX;
    if (l->initial < 1)
        l->initial = 1;
    if (l->initial > l->max)
        l->initial = l->max;
    if (l->rcpt_limit <= 0)
        l->rcpt_limit = INT32_MAX;
    if (l->dead_secs < 1)
        l->dead_secs = 1;
}

/* qs_dest_new - create and link a destination. */
static qmgr_dest *qs_dest_new(qmgr_sched *s, const char *transport,
                              const char *nexthop)
{
    qmgr_dest *d = xcalloc(1, sizeof(*d));
    size_t h = qs_hash(transport, nexthop);

    d->transport = xstrdup(transport);
    d->nexthop = xstrdup(nexthop);
    s->limits(s->ctx, transport, &d->lim);
    qs_limits_fix(&d->lim);
    d->window = d->lim.initial;
    d->hnext = s->bucket[h];
    s->bucket[h] = d;
    if (s->nring == s->capring) {
        s->capring = s->capring ? 2 * s->capring : 16;
        s->ring = xreallocarray(s->ring, s->capring, sizeof(*s->ring));
    }
    s->ring[s->nring++] = d;
    return d;
}

/* qs_dest_unlink - forget an idle destination at ring index i. */
static void qs_dest_unlink(qmgr_sched *s, size_t i)
{
    qmgr_dest *d = s->ring[i];
    qmgr_dest **pp = &s->bucket[qs_hash(d->transport, d->nexthop)];

    while (*pp != d)
        pp = &(*pp)->hnext;
    *pp = d->hnext;
    memmove(&s->ring[i], &s->ring[i + 1], (s->nring - i - 1) * sizeof(*s->ring));
    s->nring--;
    if (s->cursor > i)
        s->cursor--;
    if (s->cursor >= s->nring)
        s->cursor = 0;
    qs_dest_free(d);
}

/* qs_push - append an entry to a destination's queue. */
static void qs_push(qmgr_dest *d, void *msg, size_t rcpt)
{
    if (d->head > 0 && d->head >= d->n / 2) {   /* compact the consumed part */
        memmove(d->q, d->q + d->head, (d->n - d->head) * sizeof(*d->q));
        d->n -= d->head;
        d->head = 0;
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 16;
        d->q = xreallocarray(d->q, d->cap, sizeof(*d->q));
    }
    d->q[d->n++] = (struct qs_entry){msg, rcpt};
}

/* qmgr_sched_add - queue one recipient. */
void qmgr_sched_add(qmgr_sched *s, const char *transport, const char *nexthop,
                    void *msg, size_t rcpt)
{
    qmgr_dest *d = qmgr_sched_find(s, transport, nexthop);

    if (d == NULL)
        d = qs_dest_new(s, transport, nexthop);
    qs_push(d, msg, rcpt);
    s->queued++;
}

/* qs_alive - revive a destination whose dead time is over; true if alive. */
static bool qs_alive(qmgr_dest *d, time_t now)
{
    if (d->dead_until == 0)
        return true;
    if (now < d->dead_until)
        return false;
    d->dead_until = 0;
    d->fail_cohorts = 0;
    d->window = d->lim.initial;
    return true;
}

/* qs_take - build a job from the head of d: one message, up to limit. */
static void qs_take(qmgr_sched *s, qmgr_dest *d, size_t limit, qmgr_job *job)
{
    void *msg = d->q[d->head].msg;
    size_t n = 0;

    job->rcpt = xreallocarray(NULL, limit < d->n - d->head ? limit
                              : d->n - d->head, sizeof(*job->rcpt));
    while (d->head < d->n && n < limit && d->q[d->head].msg == msg)
        job->rcpt[n++] = d->q[d->head++].rcpt;
    job->dest = d;
    job->transport = d->transport;
    job->nexthop = d->nexthop;
    job->msg = msg;
    job->nrcpt = n;
    s->queued -= n;
    if (d->head == d->n)
        d->head = d->n = 0;
}

/* qs_sweep - forget the idle destination at ring index i; true if it did. */
static bool qs_sweep(qmgr_sched *s, size_t i, time_t now)
{
    qmgr_dest *d = s->ring[i];

    if (d->head < d->n || d->active > 0 || !qs_alive(d, now))
        return false;
    qs_dest_unlink(s, i);
    return true;
}

/* qmgr_sched_next - the next job, round-robin. */
bool qmgr_sched_next(qmgr_sched *s, time_t now, qmgr_job *job)
{
    for (size_t tried = 0; tried < s->nring && s->nring > 0;) {
        size_t i = s->cursor % s->nring;
        qmgr_dest *d = s->ring[i];

        if (qs_sweep(s, i, now))
            continue;                   /* the ring shrank under the cursor */
        tried++;
        s->cursor = (i + 1) % s->nring;
        if (d->head == d->n || !qs_alive(d, now) || d->active >= d->window)
            continue;
        qs_take(s, d, (size_t)d->lim.rcpt_limit, job);
        d->active++;
        s->in_flight++;
        return true;
    }
    return false;
}

/* qmgr_sched_next_dead - queued work of a dead destination. */
bool qmgr_sched_next_dead(qmgr_sched *s, time_t now, qmgr_job *job,
                          const char **reason, const char **dsn)
{
    for (size_t i = 0; i < s->nring; i++) {
        qmgr_dest *d = s->ring[i];

        if (d->head == d->n || qs_alive(d, now))
            continue;
        qs_take(s, d, SIZE_MAX, job);
        *reason = d->dead_reason ? d->dead_reason : "destination is dead";
        *dsn = d->dead_dsn ? d->dead_dsn : "4.4.1";
        return true;
    }
    return false;
}

/* qmgr_sched_done - feedback for a finished delivery. */
void qmgr_sched_done(qmgr_sched *s, qmgr_dest *d, bool site_failure,
                     const char *dsn, const char *reason, time_t now)
{
    if (d->active <= 0 || s->in_flight == 0)
        msg_panic("qmgr_sched_done: %s:%s has nothing in flight",
                  d->transport, d->nexthop);
    d->active--;
    s->in_flight--;
    if (!site_failure) {
        d->fail_cohorts = 0;
        if (d->window < d->lim.max)
            d->window++;
        return;
    }
    d->fail_cohorts += 1.0 / d->window;
    if (d->window > 1)
        d->window--;
    if (d->lim.cohort_limit > 0 && d->fail_cohorts >= d->lim.cohort_limit
        && d->dead_until == 0) {
        d->dead_until = now + d->lim.dead_secs;
        free(d->dead_reason);
        free(d->dead_dsn);
        d->dead_reason = xstrdup(reason ? reason : "delivery failed");
        d->dead_dsn = xstrdup(dsn ? dsn : "4.4.1");
    }
}

/* qmgr_sched_requeue - undo qmgr_sched_next for a job that did not start. */
void qmgr_sched_requeue(qmgr_sched *s, qmgr_job *job)
{
    qmgr_dest *d = job->dest;
    size_t keep = d->n - d->head;

    if (d->active <= 0 || s->in_flight == 0)
        msg_panic("qmgr_sched_requeue: %s:%s has nothing in flight",
                  d->transport, d->nexthop);
    if (d->head < job->nrcpt) {                 /* make room at the head */
        if (d->n + job->nrcpt > d->cap) {
            d->cap = d->n + job->nrcpt;
            d->q = xreallocarray(d->q, d->cap, sizeof(*d->q));
        }
        memmove(d->q + job->nrcpt, d->q + d->head, keep * sizeof(*d->q));
        d->head = job->nrcpt;
        d->n = d->head + keep;
    }
    for (size_t i = job->nrcpt; i-- > 0;)
        d->q[--d->head] = (struct qs_entry){job->msg, job->rcpt[i]};
    s->queued += job->nrcpt;
    d->active--;
    s->in_flight--;
    qmgr_job_free(job);
}

/* qmgr_job_free - release a job's recipients. */
void qmgr_job_free(qmgr_job *job)
{
    free(job->rcpt);
    job->rcpt = NULL;
    job->nrcpt = 0;
}

/* qmgr_sched_revive - flush: every destination alive again. */
void qmgr_sched_revive(qmgr_sched *s)
{
    for (size_t i = 0; i < s->nring; i++)
        if (s->ring[i]->dead_until != 0)
            s->ring[i]->dead_until = 1;     /* in the past: revived on use */
}

/* qmgr_sched_queued - recipients waiting. */
size_t qmgr_sched_queued(const qmgr_sched *s)
{
    return s->queued;
}

/* qmgr_sched_in_flight - jobs started and not done. */
size_t qmgr_sched_in_flight(const qmgr_sched *s)
{
    return s->in_flight;
}

/* qmgr_dest_window - the current concurrency window. */
int qmgr_dest_window(const qmgr_dest *d)
{
    return d->window;
}

/* qmgr_dest_active - deliveries in flight. */
int qmgr_dest_active(const qmgr_dest *d)
{
    return d->active;
}

/* qmgr_dest_dead - true while the destination is dead. */
bool qmgr_dest_dead(const qmgr_dest *d, time_t now)
{
    return d->dead_until != 0 && now < d->dead_until;
}
