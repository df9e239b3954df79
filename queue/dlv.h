/*
 * dlv - the delivery-agent protocol between qmgr and every delivery agent
 * (smtp, lmtp, virtual, error, discard); specified in
 * docs/delivery-protocol.md.
 *
 * qmgr connects to private/<transport>, sends a request (a header
 * message and rcpt_count recipient messages, common/attr.h framing) and
 * reads exactly rcpt_count replies, in request order. Each reply says
 * whether the agent takes another request on the same connection
 * (reuse=1) or closes it after this answer (reuse=0); qmgr sends a next
 * request only after a reuse=1 answer (dlv_serve). Decoding is strict
 * (STYLE.md rule 12): an unknown, duplicate, missing or malformed attribute, a value out
 * of range, or a reply that does not match the request is an error with a
 * one-line reason, and nothing half-decoded is returned.
 *
 * A decoded request owns its strings (dlv_request_free); a request the
 * client builds points at the caller's strings and owns only its
 * recipient array. Text travels raw except envid and orcpt, which are
 * xtext on the wire and decoded here. Nothing here exits or logs, except
 * dlv_log_delivery, which writes the Postfix delivery line.
 */
#ifndef TERN_DLV_H
#define TERN_DLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>

#include "common/strbuf.h"
#include "common/tio.h"
#include "queue/qfile.h"

#define DLV_RCPT_MAX    1000            /* recipients of one request */
#define DLV_REASON_MAX  1000            /* bytes of one reply reason */
#define DLV_DSN_SIZE    12              /* "5.999.999" and the NUL */
#define DLV_VALUE_MAX   4096            /* bytes of any attribute value */
#define DLV_TIMEOUT_MS  (60 * 1000)     /* default per-read timeout */
#define DLV_IDLE_MS     (60 * 1000)     /* agent: wait for a next request */

/* Results. DLV_OK is 0; failures negative. */
enum dlv_status {
    DLV_OK = 0,
    DLV_EOF = -1,                       /* peer closed before a message */
    DLV_PROTO = -2,                     /* malformed or unexpected message */
    DLV_IO = -3,                        /* timeout or I/O error */
};

/* What happened to one recipient (the reply's action attribute). */
enum dlv_action {
    DLV_DELIVERED,                      /* dsn 2.x.x: mark done */
    DLV_FAILED,                         /* dsn 5.x.x (or 4.x.x): mark done */
    DLV_DEFERRED,                       /* dsn 4.x.x: try again later */
};

/* One recipient of a request. */
typedef struct dlv_rcpt {
    const char *address;
    const char *orig_address;           /* "" = same as address */
    const char *orcpt;                  /* decoded "rfc822;user@x", or "" */
    unsigned notify;                    /* QFILE_NOTIFY_* (0 = not given) */
    off_t offset;                       /* status byte in the queue file */
} dlv_rcpt;

/* A delivery request. */
typedef struct dlv_request {
    const char *queue_id;
    const char *queue_name;             /* spool directory, normally "active" */
    const char *transport;              /* master.cf service name */
    const char *nexthop;                /* as routed, or the error text */
    const char *sender;                 /* "" = <> */
    time_t arrival_time;                /* seconds */
    struct timeval active_time;         /* when qmgr moved it to active/ */
    uint64_t size;                      /* content bytes */
    enum qfile_body body_type;
    bool smtputf8;
    const char *envid;                  /* decoded; "" = none */
    enum qfile_ret ret;
    dlv_rcpt *rcpt;                     /* rcpt_count entries */
    size_t nrcpt;
    size_t cap;                         /* allocated entries */
    char **owned;                       /* decoded strings to free */
    size_t nowned;
} dlv_request;

/* One reply. */
typedef struct dlv_reply {
    off_t offset;                       /* the recipient it answers */
    char dsn[DLV_DSN_SIZE];             /* "x.y.z" */
    enum dlv_action action;
    char *reason;                       /* owned; single line */
    bool reuse;                         /* the agent takes another request */
} dlv_reply;

/* --- requests --- */

/* dlv_request_init - an empty request (all text "", no recipients). */
void dlv_request_init(dlv_request *req);

/* dlv_request_add_rcpt - append a copy of r (its strings are not copied). */
void dlv_request_add_rcpt(dlv_request *req, const dlv_rcpt *r);

/* dlv_request_free - free the recipient array and any decoded strings. */
void dlv_request_free(dlv_request *req);

/* dlv_request_check - 0 when req may be sent; else -1 and why. */
int dlv_request_check(const dlv_request *req, strbuf *why);

/*
 * dlv_request_write - send req on t and flush (client side). DLV_OK,
 * DLV_PROTO (req not sendable: a bug in the caller) or DLV_IO.
 */
int dlv_request_write(tio *t, const dlv_request *req, strbuf *why);

/* dlv_request_encode - the bytes of req, appended to out (non-blocking IO). */
int dlv_request_encode(const dlv_request *req, strbuf *out, strbuf *why);

/*
 * dlv_request_read - receive and validate one request (agent side) into
 * req (dlv_request_init first; free it after, whatever the result).
 */
int dlv_request_read(tio *t, dlv_request *req, strbuf *why);

/*
 * dlv_request_match - check a request against the queue file the agent
 * opened: same sender, and every offset a PENDING recipient with the same
 * address. 0, or -1 and why.
 */
int dlv_request_match(const dlv_request *req, const qfile_msg *msg,
                      strbuf *why);

/*
 * dlv_request_open - open <queue_directory>/<queue_name>/<queue_id>
 * read-only with the validating reader and match it (agent side).
 * QFILE_OK, or QFILE_ESYS / QFILE_ECORRUPT with why.
 */
int dlv_request_open(const char *queue_directory, const dlv_request *req,
                     qfile_msg **out, strbuf *why);

/* --- replies --- */

/* dlv_reply_free - free a reply's reason (the struct may be reused). */
void dlv_reply_free(dlv_reply *r);

/* dlv_action_name / dlv_action_lookup - "delivered" ... and back (-1). */
const char *dlv_action_name(enum dlv_action a);
int dlv_action_lookup(const char *name);

/* dlv_dsn_valid - "x.y.z" with x in 2/4/5, y and z 0..999 without sign. */
bool dlv_dsn_valid(const char *dsn);

/*
 * dlv_reply_write - send one reply and flush (agent side). The reason is
 * made a single bounded line (control bytes become spaces, cut at
 * DLV_REASON_MAX). A dsn that does not fit the action is DLV_PROTO.
 * reuse: the agent reads another request on this connection after its
 * last reply (the same value in every reply of one answer).
 */
int dlv_reply_write(tio *t, off_t offset, const char *dsn,
                    enum dlv_action action, const char *reason, bool reuse,
                    strbuf *why);

/*
 * dlv_reply_read - receive one reply and check it answers `expect`
 * (client side). DLV_EOF when the agent closed before it.
 */
int dlv_reply_read(tio *t, off_t expect, dlv_reply *r, strbuf *why);

/*
 * dlv_replies_complete - how many complete messages buf[0..len) holds
 * (a message ends with an empty line); for a client reading non-blocking.
 */
size_t dlv_replies_complete(const char *buf, size_t len);

/*
 * dlv_replies_parse - decode the replies for req from buffered bytes, in
 * request order, into out[0..req->nrcpt). *ngood says how many decoded
 * (free them); DLV_OK only when all did. A short buffer is DLV_EOF. The
 * connection may carry a next request only when the last reply's reuse
 * is set.
 */
int dlv_replies_parse(const dlv_request *req, const char *buf, size_t len,
                      dlv_reply *out, size_t *ngood, strbuf *why);

/* --- agent logging --- */

/* What an agent knows about one delivery attempt, for the log line. */
typedef struct dlv_log {
    const char *relay;                  /* "host[addr]:port", "none", ... */
    struct timeval got;                 /* request received (end of "b") */
    double conn_secs;                   /* connection setup ("c") */
    const char *dsn;
    const char *status;                 /* sent, deferred, bounced, expired */
    const char *reason;                 /* "250 2.0.0 Ok", "discarded" */
} dlv_log;

/*
 * dlv_log_delivery - log "QUEUEID: to=<a>, [orig_to=<o>, ]relay=R,
 * delay=N, delays=a/b/c/d, dsn=X.Y.Z, status=S (reason)" for rcpt.
 */
void dlv_log_delivery(const dlv_request *req, const dlv_rcpt *rcpt,
                      const dlv_log *lg);

/* dlv_format_delay - a delay in Postfix's style ("0.12", "1.5", "12"). */
void dlv_format_delay(double secs, strbuf *out);

/* --- the agent's connection loop (dlv_serve.c) --- */

/*
 * An agent process's request budget and its view of ternd, kept across
 * the connections it serves (in the program's main.c). Requests, not
 * connections, count towards max_use.
 */
typedef struct dlv_agent {
    unsigned long max_use;              /* requests before the process ends */
    unsigned long served;               /* requests answered so far */
    int idle_ms;                        /* wait for a next request */
    bool (*stopping)(void *ctx);        /* ternd wants the process gone */
    void *stop_ctx;
} dlv_agent;

/* The agent side of one connection, handed to a dlv_handler. */
typedef struct dlv_conn {
    dlv_agent *ag;
    tio *t;
    int reuse;                          /* -1 until the first reply decides */
    bool broken;                        /* a reply could not be written */
} dlv_conn;

/*
 * A program's delivery of one valid request: deliver, log, and answer
 * every recipient in request order with dlv_conn_reply.
 */
typedef void (*dlv_handler)(void *ctx, dlv_conn *c, const dlv_request *req,
                            const struct timeval *got);

/*
 * dlv_agent_init - a fresh budget of max_use requests (at least 1);
 * stopping(ctx): server_stopping.
 */
void dlv_agent_init(dlv_agent *ag, long max_use, bool (*stopping)(void *),
                    void *ctx);

/*
 * dlv_conn_reply - dlv_reply_write on c; the first reply of a request
 * decides whether the connection is kept (budget left and ternd not
 * stopping) and every reply of the request says so.
 */
int dlv_conn_reply(dlv_conn *c, off_t offset, const char *dsn,
                   enum dlv_action action, const char *reason, strbuf *why);

/*
 * dlv_serve - serve requests on fd (not closed here) one after another
 * until EOF, DLV_IDLE_MS without a next request, a malformed request, a
 * reply that cannot be written, ternd stopping, or the budget is spent;
 * true then: the caller ends the process (server_retire).
 */
bool dlv_serve(dlv_agent *ag, int fd, dlv_handler fn, void *ctx);

/* --- agents with one verdict for every recipient (dlv_simple.c) --- */

/*
 * dlv_serve_simple - serve requests on fd (error, retry, discard) with
 * dlv_serve: every recipient gets `action` with the nexthop as the text
 * (a leading "x.y.z " detail code is kept with the action's class;
 * empty_text when there is none), logged with `status` (bounced,
 * deferred, sent). Returns dlv_serve's result.
 */
bool dlv_serve_simple(dlv_agent *ag, int fd, const char *queue_directory,
                      enum dlv_action action, const char *status,
                      const char *empty_text);

#endif
