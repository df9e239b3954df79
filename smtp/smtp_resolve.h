/*
 * smtp_resolve - from a parsed nexthop to the list of addresses to try.
 *
 *  - an address literal: that address;
 *  - [host] (and every LMTP inet host): the host's A/AAAA records;
 *  - a domain: its MX hosts in preference order (random among equal ones,
 *    the implicit MX when there is none), each host's addresses per
 *    inet_protocols and smtp_address_preference, at most
 *    smtp_mx_address_limit addresses in all. A null MX fails with 5.1.10.
 *    An MX host that is this machine (myhostname, or one of its addresses
 *    per inet_interfaces) cuts the list before its preference, as Postfix
 *    does; when nothing better is left the mail "loops back to myself"
 *    (5.4.6).
 *
 * Lookup failures become a status with a DSN code and a reason in
 * Postfix's words: DEFER (4.4.3) for temporary DNS trouble, BOUNCE
 * (5.4.4) when the name does not exist. The list owns its strings.
 */
#ifndef TERN_SMTP_RESOLVE_H
#define TERN_SMTP_RESOLVE_H

#include <stddef.h>

#include "common/dns.h"
#include "queue/route.h"
#include "smtp/smtp_params.h"
#include "smtp/smtp_reply.h"

typedef struct smtp_target {
    char *host;                 /* MX host or nexthop host */
    unsigned pref;              /* MX preference (0 without MX) */
    dns_addr addr;
    unsigned port;
} smtp_target;

typedef struct smtp_targets {
    smtp_target *v;
    size_t n, cap;
} smtp_targets;

enum smtp_resolve_status {
    SMTP_RESOLVE_OK = 0,
    SMTP_RESOLVE_DEFER,         /* try again later */
    SMTP_RESOLVE_BOUNCE,        /* permanent */
};

/*
 * smtp_resolve - fill out (emptied first). On failure dsn and why say
 * what; out is then empty.
 */
int smtp_resolve(dns_ctx *dns, const smtp_params *p,
                 const struct route_nexthop *hop, smtp_targets *out,
                 char dsn[SMTP_DSN_SIZE], strbuf *why);

/* smtp_targets_free - release every entry (the struct may be reused). */
void smtp_targets_free(smtp_targets *t);

#endif
