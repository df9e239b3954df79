/*
 * smtp_session - one SMTP or LMTP session of the client: connect, greeting,
 * EHLO (HELO fallback) or LHLO, then transactions (MAIL, RCPT, DATA, the
 * content, the final reply or LMTP's reply per recipient), RSET between
 * transactions of a cached session, QUIT at the end.
 *
 * Every read has its stage's timeout (smtp_*_timeout). MAIL and the RCPTs
 * leave in one write when the server offers PIPELINING. SIZE, 8BITMIME,
 * SMTPUTF8 and DSN parameters are sent when offered; a message over the
 * server's SIZE is not sent (5.3.4), a message that needs SMTPUTF8 to a
 * server without it fails (5.6.7). Outcomes are per recipient: 2xx
 * delivered, 4xx deferred, 5xx failed, and a timeout or lost connection
 * defers every recipient not yet answered. Reasons are Postfix's texts
 * ("host X[a] said: 550 ... (in reply to RCPT TO command)", "lost
 * connection with X[a] while sending RCPT TO"). A session owns its socket
 * and buffers; nothing here exits on what a server sends.
 */
#ifndef TERN_SMTP_SESSION_H
#define TERN_SMTP_SESSION_H

#include <stdbool.h>
#include <time.h>

#include "common/strbuf.h"
#include "common/tio.h"
#include "queue/dlv.h"
#include "queue/qfile.h"
#include "smtp/smtp_ehlo.h"
#include "smtp/smtp_params.h"
#include "smtp/smtp_reply.h"
#include "smtp/smtp_resolve.h"

#define SMTP_REASON_MAX 1000

struct smtp_tls;
struct tls_conn;
struct tls_policy;

/*
 * What a new session is for: the request's routing facts. Per request;
 * a session copies what it must keep. Fields may be NULL.
 */
typedef struct smtp_dest {
    const char *nexthop;        /* as the request names it: "[relay]:587" */
    const char *domain;         /* its host or domain, no [] or port */
    const char *sender;         /* the envelope sender */
    struct smtp_tls *tls;       /* the process's TLS engine and tables */
    const struct tls_policy *tls_policy;  /* NULL: no TLS (level none) */
} smtp_dest;

/* What happened to one recipient (or to a connection attempt). */
typedef struct smtp_outcome {
    bool done;                  /* decided */
    enum dlv_action action;
    char dsn[SMTP_DSN_SIZE];
    strbuf reason;              /* one line */
} smtp_outcome;

typedef struct smtp_session {
    int fd;
    tio *t;
    strbuf name;                /* "host[addr]" for texts */
    strbuf relay;               /* "host[addr]:port" for the log */
    smtp_features feat;
    bool esmtp;
    bool in_sync;               /* the protocol state is known: reusable */
    struct tls_conn *tls;       /* STARTTLS succeeded: TLS is active */
    unsigned uses;              /* transactions started on it */
    struct timespec idle_since; /* end of the last transaction */
    smtp_reply reply;
} smtp_session;

/* smtp_outcome_init / _release / _set - one recipient's result. */
void smtp_outcome_init(smtp_outcome *o);
void smtp_outcome_release(smtp_outcome *o);
void smtp_outcome_set(smtp_outcome *o, enum dlv_action action,
                      const char *dsn, const char *reason);

/*
 * smtp_session_open - connect to a TCP target, or to a UNIX socket when
 * path is not NULL, read the greeting, say EHLO/HELO/LHLO, then STARTTLS
 * as d's TLS policy says (smtp_starttls.h; d may be NULL: no TLS). NULL on
 * any failure, with why filled (deferred: the caller tries the next
 * address).
 */
smtp_session *smtp_session_open(const smtp_params *p, const smtp_target *tg,
                                const char *path, const smtp_dest *d,
                                smtp_outcome *why);

/*
 * smtp_session_deliver - one transaction for req's recipients; out has
 * req->nrcpt entries, every one done afterwards. msg supplies the content.
 */
void smtp_session_deliver(smtp_session *s, const smtp_params *p,
                          const dlv_request *req, const qfile_msg *msg,
                          smtp_outcome *out);

/* smtp_session_rset - make a cached session ready; 0, or -1 (close it). */
int smtp_session_rset(smtp_session *s, const smtp_params *p);

/* smtp_session_close - QUIT when the session is in step; free it (NULL ok). */
void smtp_session_close(smtp_session *s, const smtp_params *p);

#endif
