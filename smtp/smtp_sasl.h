/*
 * smtp_sasl - the SMTP/LMTP client's SASL authentication (RFC 4954 AUTH)
 * through Cyrus libsasl2, with Postfix's smtp_sasl_* parameters.
 *
 * smtp_sasl_open() reads one service's configuration: with
 * smtp_sasl_auth_enable = yes it opens smtp_sasl_password_maps (required
 * then, as in Postfix), parses the security options and the mechanism
 * filter, and initialises the libsasl2 client once for the process. A bad
 * value is a configuration error (NULL with err) the program refuses to
 * start on.
 *
 * smtp_sasl_login() runs right after the session's last EHLO (after
 * STARTTLS when TLS is used), while the session's reply still holds that
 * EHLO reply. Postfix's rules:
 *  - the server does not offer AUTH, or the password table has no entry
 *    for this sender/server: no AUTH; the mail goes on unauthenticated
 *    ("talk like strangers"); credentials never go to a server the table
 *    does not name;
 *  - the entry is "username:password", looked up with the sender's keys
 *    (user+ext@domain, user@domain, @domain; only with
 *    smtp_sender_dependent_authentication and SMTP), then the server's
 *    host name, then the nexthop as written ("[mail.relay.com]:587");
 *  - smtp_sasl_security_options apply on plaintext sessions,
 *    smtp_sasl_tls_security_options on encrypted ones; tern's defaults
 *    keep PLAIN and LOGIN off plaintext sessions (docs/smtp.md);
 *  - every failure (no usable mechanism, a table lookup error, a 4xx/5xx
 *    reply to AUTH) defers: the outcome holds "SASL authentication failed;
 *    ..." with a 4.x.x code, and the caller drops the session.
 * The password lives only in memory (libsasl2 gets it from a callback) and
 * is never logged; nothing here exits on what a server sends.
 */
#ifndef TERN_SMTP_SASL_H
#define TERN_SMTP_SASL_H

#include <stdbool.h>

#include "common/strbuf.h"
#include "conf/conf.h"
#include "smtp/smtp_params.h"
#include "smtp/smtp_reply.h"
#include "smtp/smtp_session.h"

typedef struct smtp_sasl smtp_sasl;

/* Who the credentials are for. */
struct smtp_sasl_dest {
    const char *sender;         /* envelope sender, "" = <> */
    const char *host;           /* the server's host name (MX or [host]) */
    const char *nexthop;        /* the nexthop as written: "[h]:587" */
};

/* smtp_sasl_open - the SASL client of one service; NULL + err if bad. */
smtp_sasl *smtp_sasl_open(const conf *c, bool lmtp, strbuf *err);

/* smtp_sasl_free - release the tables and libsasl2 (NULL is fine). */
void smtp_sasl_free(smtp_sasl *sa);

/* smtp_sasl_enabled - smtp_sasl_auth_enable. */
bool smtp_sasl_enabled(const smtp_sasl *sa);

/*
 * smtp_sasl_per_sender - credentials depend on the sender
 * (smtp_sender_dependent_authentication with SASL on, SMTP only): a
 * cached session may then serve only the same sender.
 */
bool smtp_sasl_per_sender(const smtp_sasl *sa);

/* Results of a password lookup. */
enum smtp_sasl_found {
    SMTP_SASL_FOUND = 0,
    SMTP_SASL_NONE = 1,         /* no entry: no AUTH */
    SMTP_SASL_ERROR = -1,       /* the table failed: defer */
};

/*
 * smtp_sasl_lookup - the credentials for d in Postfix's key order. FOUND
 * fills user and pass (a value without ':' is a user with an empty
 * password); ERROR puts the reason in why.
 */
int smtp_sasl_lookup(smtp_sasl *sa, const struct smtp_sasl_dest *d,
                     strbuf *user, strbuf *pass, strbuf *why);

/*
 * smtp_sasl_offered - the mechanism names of the AUTH and AUTH= lines of
 * an EHLO reply, one space between them, in the server's order, and
 * only those smtp_sasl_mechanism_filter lets through. False when the
 * reply has no AUTH line at all; out may then or otherwise be empty.
 */
bool smtp_sasl_offered(const smtp_sasl *sa, const smtp_reply *ehlo,
                       strbuf *out);

/* smtp_sasl_security - the SASL_SEC_* flags for a plaintext/TLS session. */
unsigned smtp_sasl_security(const smtp_sasl *sa, bool tls);

/*
 * smtp_sasl_login - authenticate session s as described above. 0: go on
 * (authenticated, or no AUTH for this server); -1: why holds the deferral
 * and the session must not carry mail (close it; it is still in step
 * when s->in_sync says so).
 */
int smtp_sasl_login(smtp_sasl *sa, smtp_session *s, const smtp_params *p,
                    const struct smtp_sasl_dest *d, bool tls,
                    smtp_outcome *why);

#endif
