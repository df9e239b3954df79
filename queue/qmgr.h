/*
 * qmgr - the queue manager: takes messages from incoming/ (on wake-up and
 * on a timer) and from deferred/ (when their retry time has come), routes
 * every pending recipient, schedules deliveries through qmgr_sched, talks
 * to the delivery agents over the dlv protocol from one poll() loop, marks
 * done recipients in place, and removes or defers each message once all
 * its recipients have answered (docs/qmgr.md).
 *
 * A qmgr context owns the active messages, the scheduler, the agent
 * connections and a spool handle; nothing is global. Routing is a
 * callback so tests and the route library plug in alike. Errors in the
 * environment (an unreadable spool) are logged and retried on the next
 * scan; a malformed queue file is quarantined; hostile agent replies
 * defer the recipients they concern. Nothing here exits.
 */
#ifndef TERN_QMGR_H
#define TERN_QMGR_H

#include <stdbool.h>
#include <time.h>

#include "common/strbuf.h"
#include "conf/conf.h"

/* Routing results. */
enum qmgr_route_status {
    QMGR_ROUTE_OK = 0,          /* transport and nexthop set */
    QMGR_ROUTE_DEFER,           /* temporary: dsn and why set */
    QMGR_ROUTE_BOUNCE,          /* permanent: dsn and why set */
};

/* qmgr_resolve_fn - route rcpt for sender ("" = <>). */
typedef enum qmgr_route_status (*qmgr_resolve_fn)(
    void *ctx, const char *rcpt, const char *sender, strbuf *transport,
    strbuf *nexthop, strbuf *dsn, strbuf *why);

/* qmgr_route - the qmgr_resolve_fn over queue/route.h (ctx: a route_ctx). */
enum qmgr_route_status qmgr_route(void *ctx, const char *rcpt,
                                  const char *sender, strbuf *transport,
                                  strbuf *nexthop, strbuf *dsn, strbuf *why);

/* Wake-up request bytes (anything else counts as QMGR_WAKE_INCOMING). */
#define QMGR_WAKE_INCOMING 'W'  /* new mail in incoming/ (pickup, smtpd) */
#define QMGR_WAKE_FLUSH    'F'  /* retry all deferred mail now, revive dead */

/* Most agent connections in flight at once (descriptor budget). */
#define QMGR_CONN_MAX 512

typedef struct qmgr qmgr;

/* qmgr_new - a queue manager for configuration cf (which must outlive it). */
qmgr *qmgr_new(const conf *cf, qmgr_resolve_fn resolve, void *resolve_ctx);
void qmgr_free(qmgr *q);

/*
 * qmgr_recover - move everything in active/ back to incoming/ (a previous
 * qmgr stopped or crashed with it there). Returns how many moved, or -1.
 */
int qmgr_recover(qmgr *q);

/* qmgr_wake - a wake-up request byte arrived. */
void qmgr_wake(qmgr *q, int byte);

/*
 * qmgr_run - the event loop: wake-ups accepted on listen_fd (-1: none),
 * scans, deliveries; returns when stop(stop_ctx) is true (checked at least
 * once a second). Deliveries in flight are abandoned: their recipients
 * stay pending in active/ and qmgr_recover requeues them.
 */
void qmgr_run(qmgr *q, int listen_fd, bool (*stop)(void *), void *stop_ctx);

/*
 * qmgr_backoff - when to retry a message that arrived at `arrival` and
 * was deferred at `now`: now + its age, bounded to [min, max] seconds.
 */
time_t qmgr_backoff(time_t now, time_t arrival, long min, long max);

/*
 * qmgr_expired - a deferred recipient of a message of this age is given up
 * (lifetime <transport>_maximal_queue_lifetime, for the null sender at
 * most bounce_queue_lifetime; 0 = one attempt only) or forced to expire.
 */
bool qmgr_expired(time_t now, time_t arrival, long lifetime, bool forced);

#endif
