/*
 * smtp_starttls - outbound TLS of the smtp client: the per-destination
 * policy (smtp_tls_security_level, smtp_tls_policy_maps) and the
 * STARTTLS step of a new session, right after EHLO.
 *
 * The policy table is searched as Postfix does: the nexthop as the request
 * names it ("[mail.relay.com]:587", "example.com:2525", "example.com"),
 * and, for a plain domain only, its parent domains with a leading dot
 * (".example.com", ".com"). A lookup error, a bad policy value or a DANE
 * level defers the mail before any connection is made.
 *
 * Levels that require TLS (encrypt and up) never fall back: a server that
 * does not offer STARTTLS, refuses it, breaks the handshake or presents a
 * certificate the level does not accept ends the session before MAIL
 * FROM, with Postfix's reasons (4.7.x, deferred). At level may a refused
 * STARTTLS continues in plaintext and a failed handshake asks the caller
 * to reconnect to the same address without TLS. Owns the TLS engine and
 * the policy tables of the process.
 */
#ifndef TERN_SMTP_STARTTLS_H
#define TERN_SMTP_STARTTLS_H

#include "conf/conf.h"
#include "smtp/smtp_session.h"
#include "tls/tls.h"

typedef struct smtp_tls smtp_tls;

/* smtp_tls_open - engine and tables of a service; NULL + why on nonsense. */
smtp_tls *smtp_tls_open(const conf *c, strbuf *why);

/* smtp_tls_free - release (NULL is fine). */
void smtp_tls_free(smtp_tls *st);

/*
 * smtp_tls_policy - pol for the request's nexthop (as written) whose
 * host or domain (no [] or port) is domain. 0, or -1 with why: the
 * mail is deferred (4.7.5 for a bad policy, 4.3.0 for a lookup error).
 */
int smtp_tls_policy(smtp_tls *st, const char *nexthop, const char *domain,
                    struct tls_policy *pol, char dsn[SMTP_DSN_SIZE],
                    strbuf *why);

/* smtp_starttls results. */
enum smtp_tls_result {
    SMTP_TLS_OK = 0,            /* go on: TLS active, or plaintext allowed */
    SMTP_TLS_FAIL = -1,         /* why is decided; close the session */
    SMTP_TLS_RETRY_PLAIN = 1,   /* may: handshake failed; reconnect, no TLS */
};

/*
 * smtp_starttls - after EHLO on a TCP session: STARTTLS, the handshake,
 * the certificate verdict and the second EHLO, as d's policy requires.
 */
enum smtp_tls_result smtp_starttls(smtp_session *s, const smtp_params *p,
                                   const smtp_dest *d, const smtp_target *tg,
                                   smtp_outcome *why);

#endif
