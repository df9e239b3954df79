/*
 * restrict - the SMTP server's restriction engine (STYLE.md rule 10):
 * smtpd_{client,helo,sender,relay,recipient,data,end_of_data,etrn}_
 * restrictions with Postfix's semantics. See docs/restrictions.md.
 *
 * restrict_compile() resolves every restriction name of every list ONCE,
 * at configuration load, to an entry {name, fn, needs, arg} and opens the
 * tables the lists and the engine name (check_*_access tables, mynetworks,
 * local_recipient_maps, virtual_*_maps, relay_recipient_maps,
 * smtpd_sender_login_maps). An unknown name, a name tern knows but does
 * not implement yet (reject_rbl_client, check_policy_service, ...), a
 * restriction in a list evaluated before the data it needs exists, a
 * missing or malformed table argument or a bad mynetworks pattern is a
 * configuration error naming the parameter and the item: the server
 * refuses to start instead of failing at the first message.
 *
 * restrict_check() evaluates what one SMTP command needs, including
 * smtpd_delay_reject (client, HELO and sender lists run again at each RCPT
 * and ETRN), DEFER_IF_PERMIT / DEFER_IF_REJECT across stages,
 * warn_if_reject, and the implicit reject_unlisted_recipient /
 * reject_unlisted_sender. A table lookup error is "451 4.3.0 <x>:
 * Temporary lookup failure", never a permit. Every reject, reject_warning,
 * hold, discard, warn and info is logged with msg_info() in Postfix's
 * shape ("NOQUEUE: reject: RCPT from host[addr]: 554 5.7.1 <x>: Relay
 * access denied; from=<s> to=<r> proto=ESMTP helo=<h>") and copied into
 * the verdict: the caller must not log them again.
 *
 * Ownership: a restrict_set is read-only after compile apart from its
 * tables' own caches; one restrict_session per SMTP connection keeps the
 * state Postfix keeps per session (DEFER_IF_PERMIT of earlier stages,
 * HOLD/DISCARD of the current message). Nothing here crashes on hostile
 * input: overlong or 8-bit names and addresses simply do not match, or are
 * refused with the reply Postfix gives.
 */
#ifndef TERN_SMTPD_CHECK_H
#define TERN_SMTPD_CHECK_H

#include <stdbool.h>

#include "common/strbuf.h"
#include "conf/conf.h"

/* The protocol stages a check runs at (Postfix's protocol_state). */
enum restrict_stage {
    RS_CONNECT,                 /* smtpd_client_restrictions */
    RS_HELO,                    /* smtpd_helo_restrictions */
    RS_MAIL,                    /* smtpd_sender_restrictions */
    RS_RCPT,                    /* smtpd_relay_ then _recipient_restrictions */
    RS_DATA,                    /* smtpd_data_restrictions */
    RS_EOD,                     /* smtpd_end_of_data_restrictions */
    RS_ETRN,                    /* smtpd_etrn_restrictions */
    RS_VRFY,                    /* the RCPT lists, logged as VRFY */
};

/*
 * What smtpd knows when it asks; strings are NUL-terminated and owned by
 * the caller. Addresses are in internal form (addr.h); the engine shows
 * them quoted where needed in replies and log lines.
 */
struct restrict_state {
    const char *client_name;            /* verified name or "unknown" */
    const char *reverse_client_name;    /* PTR name or "unknown" */
    const char *client_addr;            /* "192.0.2.1", "2001:db8::1" */
    int client_port;
    const char *helo;                   /* NULL before HELO/EHLO */
    bool esmtp;                         /* EHLO (logged as EHLO/ESMTP) */
    const char *sender;                 /* NULL before MAIL, "" for <> */
    const char *recipient;              /* RCPT/VRFY; DATA/EOD: the only one */
    const char *etrn_domain;            /* ETRN argument */
    const char *sasl_method;            /* NULL when not authenticated */
    const char *sasl_username;
    bool tls;
    const char *queue_id;               /* NULL: logged as NOQUEUE */
    unsigned rcpt_count;                /* recipients accepted so far */
    long size;                          /* SIZE= or message size */
    const char *protocol_name;          /* "SMTP" or "ESMTP"; NULL = not shown */
    bool pipelining_violation;          /* for reject_unauth_pipelining */
};

/* A check's outcome: DUNNO and OK both let the command proceed. */
enum restrict_action {
    RESTRICT_DUNNO = 0,
    RESTRICT_OK,
    RESTRICT_REJECT,                    /* reply is 5xx */
    RESTRICT_DEFER,                     /* reply is 4xx */
};

struct restrict_verdict {
    enum restrict_action action;
    strbuf reply;               /* REJECT/DEFER: "554 5.7.1 <x>: ..." */
    bool disconnect;            /* the reply is 421 or 521: hang up after it */
    bool hold;                  /* HOLD triggered by this check */
    bool discard;               /* DISCARD triggered: accept, then drop */
    strbuf prepend;             /* PREPEND header lines, each ending "\n" */
    strbuf filter;              /* FILTER transport:destination (last wins) */
    strbuf redirect;            /* REDIRECT address (last wins) */
    strbuf bcc;                 /* BCC addresses, each ending "\n" */
    strbuf log;                 /* every line this check logged, "\n" each */
};

typedef struct restrict_set restrict_set;
typedef struct restrict_session restrict_session;

/*
 * restrict_compile - every list of service_conf (main.cf plus the
 * service's -o overrides); NULL and one line in err naming the parameter
 * and the item on any configuration error. service_conf must outlive it.
 */
restrict_set *restrict_compile(const conf *service_conf, strbuf *err);
/*
 * restrict_relay_guard - refuse a server configuration that would relay for
 * anyone: as Postfix does, smtpd_relay_restrictions or
 * smtpd_recipient_restrictions must hold reject_unauth_destination,
 * defer_unauth_destination, reject, defer or defer_if_permit. smtpd runs it
 * at start and `tern check` for every smtpd service; 0, or -1 with err.
 */
int restrict_relay_guard(const restrict_set *rs, strbuf *err);

void restrict_free(restrict_set *rs);

/*
 * restrict_net_match - is the client (verified name or "unknown", address)
 * in mynetworks, with every item kind permit_mynetworks honours (!item,
 * names, /file, type:table)? 1 yes, 0 no, -1 table lookup error. The one
 * mynetworks test: smtpd's trusted flag uses it too.
 */
int restrict_net_match(restrict_set *rs, const char *name, const char *addr);

/* Per-connection state; reset at the end of each mail transaction. */
restrict_session *restrict_session_new(restrict_set *rs);
void restrict_session_reset(restrict_session *ss);     /* RSET, after DATA */
void restrict_session_free(restrict_session *ss);

void restrict_verdict_init(struct restrict_verdict *v);
void restrict_verdict_release(struct restrict_verdict *v);

/*
 * restrict_check - evaluate stage for st; fills v (reset first) and
 * returns v->action. With smtpd_delay_reject = yes the CONNECT, HELO and
 * MAIL stages only check smtpd_helo_required (MAIL: "503 5.5.1 Error:
 * send HELO/EHLO first"); their lists run at RCPT. A RCPT for the bare
 * address "postmaster" is always accepted (RFC 5321 section 4.5.1).
 */
enum restrict_action restrict_check(restrict_session *ss,
                                    enum restrict_stage stage,
                                    const struct restrict_state *st,
                                    struct restrict_verdict *v);

#endif
