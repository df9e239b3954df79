/*
 * smtp_agent - the smtp/lmtp delivery agent: the delivery-agent protocol
 * requests (queue/dlv.h) of one connection from qmgr, one after another,
 * each delivered over SMTP or LMTP.
 *
 * For each request it parses the nexthop (queue/route.h), reuses the
 * cached session to the same nexthop when it is younger than
 * smtp_connection_cache_time_limit (after RSET; logged as conn_use=N),
 * or resolves the nexthop and tries its addresses in order until one
 * session opens, runs one transaction, logs one Postfix delivery line per
 * recipient, and replies per recipient. A session that ends in step is
 * kept for the next request (one per process); the rest get QUIT.
 * Protocol errors from qmgr are logged and the request dropped (qmgr
 * defers it); nothing a remote server does ends the process.
 */
#ifndef TERN_SMTP_AGENT_H
#define TERN_SMTP_AGENT_H

#include <stdbool.h>

#include "conf/conf.h"
#include "queue/dlv.h"

typedef struct smtp_agent smtp_agent;

/* smtp_agent_new - set up from a service's configuration; NULL + why. */
smtp_agent *smtp_agent_new(const conf *c, bool lmtp, strbuf *why);

/*
 * smtp_agent_serve - handle the requests on fd (not closed here) with
 * dlv_serve and the process's request budget; true when it is spent.
 */
bool smtp_agent_serve(smtp_agent *a, dlv_agent *budget, int fd);

/* smtp_agent_free - QUIT the cached session and free everything. */
void smtp_agent_free(smtp_agent *a);

#endif
