/*
 * smtp_log - the Postfix delivery log line of the smtp/lmtp client.
 *
 *   QUEUEID: to=<rcpt>, [orig_to=<orig>, ]relay=host[addr]:port,
 *   [conn_use=N, ]delay=D, delays=a/b/c/d, dsn=X.Y.Z, status=S (text)
 *
 * orig_to only when it differs from to, conn_use only when a cached
 * connection was reused (N > 1), as Postfix writes them (COMPAT.md 4e).
 * Delays have two significant digits and at most two decimals, larger
 * values whole seconds, negative ones 0 (Postfix's format). Pure: the
 * caller logs the formatted text.
 */
#ifndef TERN_SMTP_LOG_H
#define TERN_SMTP_LOG_H

#include "common/strbuf.h"

typedef struct smtp_log_info {
    const char *queue_id;
    const char *to;
    const char *orig_to;        /* NULL or "" = same as to */
    const char *relay;          /* "host[addr]:port" or "none" */
    unsigned conn_use;          /* uses of the connection, 1 = fresh */
    double delay;               /* total since arrival */
    double delays[4];           /* before qmgr, in qmgr, setup, transmission */
    const char *dsn;
    const char *status;         /* sent, deferred, bounced */
    const char *reason;         /* remote reply or local reason, one line */
} smtp_log_info;

/* smtp_delay_format - append secs in Postfix's delay format. */
void smtp_delay_format(double secs, strbuf *out);

/* smtp_log_format - append the whole line (after "QUEUEID: ") to out. */
void smtp_log_format(const smtp_log_info *li, strbuf *out);

#endif
