/*
 * smtp_agent - request handling, session cache and delivery logging of
 * the smtp/lmtp client (see smtp_agent.h).
 *
 * Owns the process's resolver, its parameters and at most one cached
 * session. A request whose queue file cannot be read, whose nexthop is
 * unusable or whose destination cannot be reached is answered per
 * recipient like any other failure (deferred or bounced), never dropped.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "queue/dlv.h"
#include "queue/route.h"
#include "smtp/smtp_agent.h"
#include "smtp/smtp_log.h"
#include "smtp/smtp_resolve.h"
#include "smtp/smtp_sasl.h"
#include "smtp/smtp_session.h"
#include "smtp/smtp_hdrchk.h"
#include "smtp/smtp_starttls.h"

#define AGENT_DNS_TIMEOUT_MS 5000
#define AGENT_DNS_TRIES      2

struct smtp_agent {
    const conf *cf;             /* the service's configuration */
    smtp_params p;
    dns_ctx *dns;
    smtp_sasl *sasl;            /* SMTP AUTH (disabled unless enabled) */
    smtp_tls *tls;              /* STARTTLS policy and engine */
    smtp_session *cached;       /* kept open after a delivery */
    strbuf cached_key;          /* its nexthop */
};

/* One request in progress. */
typedef struct job {
    smtp_agent *a;
    dlv_request req;            /* shallow copy of dlv_serve's request */
    qfile_msg *msg;
    smtp_outcome *out;
    smtp_session *s;            /* the session used, if any */
    struct timeval got, conn_done, end;
    bool connected;
    const smtp_dest *dest;      /* routing facts and TLS policy */
} job;

/* smtp_agent_new - parameters and resolver. */
smtp_agent *smtp_agent_new(const conf *c, bool lmtp, strbuf *why)
{
    smtp_agent *a = xcalloc(1, sizeof(*a));

    if (smtp_params_load(c, lmtp, &a->p, why) < 0
        || (a->sasl = smtp_sasl_open(c, lmtp, why)) == NULL
        || (a->tls = smtp_tls_open(c, why)) == NULL
        || smtp_hdrchk_open(c, &a->p.header_checks, why) < 0
        || (a->dns = dns_open(a->p.resolver, AGENT_DNS_TIMEOUT_MS,
                              AGENT_DNS_TRIES, why)) == NULL) {
        smtp_sasl_free(a->sasl);
        smtp_tls_free(a->tls);
        free(a);
        return NULL;
    }
    a->cf = c;
    sb_init(&a->cached_key, 2 * DLV_VALUE_MAX + 2);
    return a;
}

/* smtp_agent_free - say goodbye to the cached server. */
void smtp_agent_free(smtp_agent *a)
{
    if (a == NULL)
        return;
    smtp_session_close(a->cached, &a->p);
    dns_close(a->dns);
    smtp_sasl_free(a->sasl);
    smtp_tls_free(a->tls);
    smtp_hdrchk_close(a->p.header_checks);
    sb_release(&a->cached_key);
    free(a);
}

/* tv_secs - b - a in seconds. */
static double tv_secs(const struct timeval *a, const struct timeval *b)
{
    return (double)(b->tv_sec - a->tv_sec)
        + (double)(b->tv_usec - a->tv_usec) / 1e6;
}

/* job_fail_all - every recipient gets the same verdict. */
static void job_fail_all(job *j, enum dlv_action action, const char *dsn,
                         const char *reason)
{
    for (size_t i = 0; i < j->req.nrcpt; i++)
        if (!j->out[i].done)
            smtp_outcome_set(&j->out[i], action, dsn, reason);
}

/* cache_take - the cached session for key, after RSET; else close it. */
static smtp_session *cache_take(smtp_agent *a, const char *key)
{
    smtp_session *s = a->cached;
    struct timespec now;

    if (s == NULL)
        return NULL;
    a->cached = NULL;
    if (clock_gettime(CLOCK_MONOTONIC, &now) < 0)
        now = s->idle_since;
    if (strcmp(sb_str(&a->cached_key), key) == 0
        && now.tv_sec - s->idle_since.tv_sec <= a->p.cache_time
        && smtp_session_rset(s, &a->p) == 0)
        return s;
    smtp_session_close(s, &a->p);
    return NULL;
}

/*
 * cache_put - keep s for the next request to key, or close it. A transport
 * limited to one delivery at a time per destination (relaylim) never keeps
 * a session: the cache is per process, so the next request, taken by
 * another process, would open a second connection while this one idles.
 * Closing here, before the replies to qmgr, keeps it to one connection.
 */
static void cache_put(smtp_agent *a, smtp_session *s, const char *key,
                      const char *transport)
{
    if (!s->in_sync || a->p.cache_time <= 0
        || conf_get_transport_int(a->cf, transport,
                                  "destination_concurrency_limit") == 1
        || clock_gettime(CLOCK_MONOTONIC, &s->idle_since) < 0
        || sb_set(&a->cached_key, key) < 0) {
        smtp_session_close(s, &a->p);
        return;
    }
    a->cached = s;
}

/* job_unix_path - a relative socket path is relative to queue_directory. */
static void job_unix_path(const job *j, const char *path, strbuf *out)
{
    if (path[0] != '/')
        (void)sb_printf(out, "%s/", j->a->p.queue_directory);
    (void)sb_puts(out, path);
}

/*
 * job_auth - SMTP AUTH on a fresh session (smtp_sasl.h); on failure the
 * session is closed and relay names it for the log, as Postfix does.
 */
static int job_auth(job *j, smtp_session *s, const smtp_target *tg,
                    smtp_outcome *why, strbuf *relay)
{
    struct smtp_sasl_dest d = {.sender = j->req.sender, .host = tg->host,
                               .nexthop = j->req.nexthop};

    if (smtp_sasl_login(j->a->sasl, s, &j->a->p, &d, s->tls != NULL,
                        why) == 0)
        return 0;
    (void)sb_set(relay, sb_str(&s->relay));
    smtp_session_close(s, &j->a->p);
    return -1;
}

/* job_try_targets - resolve, then the addresses in order; NULL if none. */
static smtp_session *job_try_targets(job *j, const struct route_nexthop *hop,
                                     smtp_outcome *why, strbuf *relay)
{
    const smtp_params *p = &j->a->p;
    smtp_targets tg = {0};
    smtp_session *s = NULL;
    char dsn[SMTP_DSN_SIZE];
    strbuf err;
    int rc;

    sb_init(&err, SMTP_REASON_MAX);
    rc = smtp_resolve(j->a->dns, p, hop, &tg, dsn, &err);
    if (rc != SMTP_RESOLVE_OK)
        smtp_outcome_set(why, rc == SMTP_RESOLVE_DEFER ? DLV_DEFERRED
                         : DLV_FAILED, dsn, sb_str(&err));
    for (size_t i = 0; i < tg.n && s == NULL; i++) {
        s = smtp_session_open(p, &tg.v[i], NULL, j->dest, why);
        if (s != NULL && job_auth(j, s, &tg.v[i], why, relay) < 0)
            s = NULL;
        if (s == NULL)
            msg_info("%s", sb_str(&why->reason));
    }
    smtp_targets_free(&tg);
    sb_release(&err);
    return s;
}

/* job_connect - a new session for hop; NULL with every recipient decided. */
static smtp_session *job_connect(job *j, const struct route_nexthop *hop,
                                 strbuf *relay)
{
    smtp_outcome why;
    smtp_session *s;

    smtp_outcome_init(&why);
    if (hop->kind == ROUTE_HOP_UNIX) {
        strbuf path;

        sb_init(&path, 4096);
        job_unix_path(j, sb_str(&hop->host), &path);
        s = smtp_session_open(&j->a->p, NULL, sb_str(&path), j->dest, &why);
        if (s == NULL)
            msg_info("%s", sb_str(&why.reason));
        sb_release(&path);
    } else {
        s = job_try_targets(j, hop, &why, relay);
    }
    if (s == NULL)
        job_fail_all(j, why.action, why.dsn, sb_str(&why.reason));
    smtp_outcome_release(&why);
    return s;
}

/*
 * job_cache_key - the session cache key: the nexthop, and the sender too
 * when credentials depend on it (Postfix turns caching off instead).
 */
static const char *job_cache_key(const job *j, strbuf *key)
{
    (void)sb_set(key, j->req.nexthop);
    if (smtp_sasl_per_sender(j->a->sasl))
        (void)sb_printf(key, "\n%s", j->req.sender);
    return sb_str(key);
}

/*
 * job_tls_policy - the request's routing facts and TLS policy into d;
 * -1 when the policy defers every recipient (nothing is sent).
 */
static int job_tls_policy(job *j, const struct route_nexthop *hop,
                          struct tls_policy *pol, smtp_dest *d)
{
    char dsn[SMTP_DSN_SIZE];
    strbuf why;
    int rc = 0;

    *d = (smtp_dest){.nexthop = j->req.nexthop, .domain = sb_str(&hop->host),
                     .sender = j->req.sender, .tls = j->a->tls,
                     .tls_policy = pol};
    j->dest = d;
    if (j->a->p.lmtp)
        return 0;                       /* LMTP: no TLS (level none) */
    sb_init(&why, SMTP_REASON_MAX);
    if ((rc = smtp_tls_policy(j->a->tls, j->req.nexthop, d->domain, pol, dsn,
                              &why)) < 0)
        job_fail_all(j, DLV_DEFERRED, dsn, sb_str(&why));
    sb_release(&why);
    return rc;
}

/* job_deliver - nexthop, session (cached or new), one transaction. */
static void job_deliver(job *j, strbuf *relay, unsigned *conn_use)
{
    smtp_agent *a = j->a;
    struct route_nexthop hop;
    struct tls_policy pol;
    smtp_dest dest;
    strbuf err, key;
    smtp_session *s = NULL;

    tls_policy_init(&pol);
    route_nexthop_init(&hop);
    sb_init(&err, SMTP_REASON_MAX);
    sb_init(&key, 2 * DLV_VALUE_MAX + 2);
    if (route_parse_nexthop(j->req.nexthop, a->p.lmtp ? 24 : 25, a->p.lmtp,
                            &hop, &err) < 0 || hop.kind == ROUTE_HOP_TEXT) {
        if (sb_len(&err) == 0)
            (void)sb_printf(&err, "bad nexthop \"%s\"", j->req.nexthop);
        msg_warn("%s: %s", j->req.queue_id, sb_str(&err));
        job_fail_all(j, DLV_DEFERRED, "4.3.5", sb_str(&err));
    } else if (job_tls_policy(j, &hop, &pol, &dest) < 0) {
        /* deferred by the TLS policy: no connection at all */
    } else if ((s = cache_take(a, job_cache_key(j, &key))) != NULL
               || (s = job_connect(j, &hop, relay)) != NULL) {
        j->connected = true;
        if (gettimeofday(&j->conn_done, NULL) < 0)
            j->conn_done = j->got;
        smtp_session_deliver(s, &a->p, &j->req, j->msg, j->out);
        (void)sb_set(relay, sb_str(&s->relay));
        *conn_use = s->uses;
        cache_put(a, s, sb_str(&key), j->req.transport);
    }
    sb_release(&key);
    sb_release(&err);
    route_nexthop_release(&hop);
    tls_policy_release(&pol);
    j->dest = NULL;
}

/* job_status - the log word for an action. */
static const char *job_status(enum dlv_action action)
{
    static const char *const words[] = {
        [DLV_DELIVERED] = "sent", [DLV_FAILED] = "bounced",
        [DLV_DEFERRED] = "deferred",
    };

    return words[action];
}

/* job_log - one delivery line per recipient. */
static void job_log(const job *j, const char *relay, unsigned conn_use)
{
    struct timeval arrival = {.tv_sec = j->req.arrival_time};
    const struct timeval *setup_end = j->connected ? &j->conn_done : &j->end;
    strbuf line;

    sb_init(&line, 4096);
    for (size_t i = 0; i < j->req.nrcpt; i++) {
        smtp_log_info li = {
            .queue_id = j->req.queue_id, .to = j->req.rcpt[i].address,
            .orig_to = j->req.rcpt[i].orig_address, .relay = relay,
            .conn_use = conn_use, .delay = tv_secs(&arrival, &j->end),
            .delays = {tv_secs(&arrival, &j->req.active_time),
                       tv_secs(&j->req.active_time, &j->got),
                       tv_secs(&j->got, setup_end),
                       j->connected ? tv_secs(&j->conn_done, &j->end) : 0},
            .dsn = j->out[i].dsn, .status = job_status(j->out[i].action),
            .reason = sb_str(&j->out[i].reason),
        };

        sb_reset(&line);
        smtp_log_format(&li, &line);
        msg_info("%s: %s", j->req.queue_id, sb_str(&line));
    }
    sb_release(&line);
}

/* job_reply - one reply per recipient, in request order. */
static void job_reply(const job *j, dlv_conn *c)
{
    strbuf why;

    sb_init(&why, 1024);
    for (size_t i = 0; i < j->req.nrcpt; i++) {
        if (dlv_conn_reply(c, j->req.rcpt[i].offset, j->out[i].dsn,
                           j->out[i].action, sb_str(&j->out[i].reason),
                           &why) != DLV_OK) {
            msg_warn("%s: reply to the queue manager: %s", j->req.queue_id,
                     sb_str(&why));
            break;
        }
    }
    sb_release(&why);
}

/* job_run - queue file, delivery, log, replies. */
static void job_run(job *j, dlv_conn *c)
{
    strbuf why, relay;
    unsigned conn_use = 1;

    sb_init(&why, 1024);
    sb_init(&relay, 1024);
    (void)sb_set(&relay, "none");
    j->out = xcalloc(j->req.nrcpt, sizeof(*j->out));
    for (size_t i = 0; i < j->req.nrcpt; i++)
        smtp_outcome_init(&j->out[i]);
    if (dlv_request_open(j->a->p.queue_directory, &j->req, &j->msg, &why)
        != QFILE_OK) {
        msg_warn("%s: %s", j->req.queue_id, sb_str(&why));
        job_fail_all(j, DLV_DEFERRED, "4.3.0", sb_str(&why));
    } else {
        job_deliver(j, &relay, &conn_use);
    }
    if (gettimeofday(&j->end, NULL) < 0)
        j->end = j->got;
    job_log(j, sb_str(&relay), conn_use);
    job_reply(j, c);
    for (size_t i = 0; i < j->req.nrcpt; i++)
        smtp_outcome_release(&j->out[i]);
    free(j->out);
    if (j->msg)
        qfile_close(j->msg);
    sb_release(&relay);
    sb_release(&why);
}

/* smtp_agent_request - one request (dlv_serve's handler). */
static void smtp_agent_request(void *ctx, dlv_conn *c, const dlv_request *req,
                               const struct timeval *got)
{
    job j = {.a = ctx, .req = *req, .got = *got};   /* dlv_serve frees req */

    job_run(&j, c);
}

/* smtp_agent_serve - the requests of one connection from qmgr. */
bool smtp_agent_serve(smtp_agent *a, dlv_agent *budget, int fd)
{
    return dlv_serve(budget, fd, smtp_agent_request, a);
}
