/*
 * virtual - the virtual delivery agent: Maildir delivery for virtual
 * mailbox domains, as Postfix's virtual(8) (docs/virtual.md).
 *
 * The delivery requests of a connection from qmgr come one after another
 * (queue/dlv.h, dlv_serve). Each recipient is
 * looked up in virtual_mailbox_maps, virtual_uid_maps and
 * virtual_gid_maps with virtual(5)'s key order (user+ext@domain,
 * user@domain, @domain) and delivered into
 * $virtual_mailbox_base/<result> with that uid and gid (seteuid/setegid
 * around each delivery when running as root; as the invoking user
 * otherwise), then logged with Postfix's delivery line and answered.
 *
 * virtual_agent_new() refuses a configuration it cannot use (a base that is
 * not absolute, a bad table) with a reason; a failure to give privileges
 * back after a delivery is msg_fatal (the process must not go on).
 */
#ifndef TERN_VIRTUAL_H
#define TERN_VIRTUAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/strbuf.h"
#include "conf/conf.h"
#include "queue/dlv.h"

typedef struct virtual_agent virtual_agent;

/* The verdict for one recipient. */
typedef struct virtual_outcome {
    char dsn[DLV_DSN_SIZE];
    enum dlv_action action;
    strbuf reason;                      /* one line */
} virtual_outcome;

/* virtual_agent_new - the agent for a service's configuration, or NULL. */
virtual_agent *virtual_agent_new(const conf *cf, strbuf *why);

/* virtual_agent_free - release the agent (NULL is fine). */
void virtual_agent_free(virtual_agent *a);

/*
 * virtual_agent_serve - the requests on fd (each: deliver, log, reply)
 * with dlv_serve and the process's request budget; true when spent.
 */
bool virtual_agent_serve(virtual_agent *a, dlv_agent *budget, int fd);

/*
 * virtual_parse_id - a decimal uid/gid from a table result: true with *id
 * when it is a plain number of at least min (so never 0 when min >= 1).
 */
bool virtual_parse_id(const char *text, long min, long *id);

#endif
