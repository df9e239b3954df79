/*
 * smtpd - the SMTP server: one session per accepted connection.
 *
 * A smtpd_ctx is built once per process from the service's configuration
 * (parameters, spool, queue ID generator, the compiled restriction lists,
 * resolver for the client's name); a list that does not compile makes
 * smtpd_ctx_new fail, so the service refuses to start. smtpd_serve() runs one
 * session on a connected socket to its end: greeting, commands from the
 * verb table, transactions whose messages are committed to incoming/
 * before the 250 reply, and Postfix's log lines. A client can only end its
 * own session; nothing it sends ends the process.
 */
#ifndef TERN_SMTPD_H
#define TERN_SMTPD_H

#include "common/strbuf.h"
#include "conf/conf.h"
#include "tls/tls.h"

typedef struct smtpd_ctx smtpd_ctx;

/* smtpd_ctx_new - per-process state for a master.cf service; NULL + why. */
smtpd_ctx *smtpd_ctx_new(const conf *cf, const char *service, strbuf *why);

/*
 * smtpd_ctx_adopt_tls - give ctx the service's TLS side (tls_server_open,
 * called before the privilege drop so root-only keys load); ctx owns it.
 * Without it the server offers no TLS.
 */
void smtpd_ctx_adopt_tls(smtpd_ctx *ctx, tls_server *ts);

/* smtpd_ctx_free - release it (NULL is fine). */
void smtpd_ctx_free(smtpd_ctx *ctx);

/* smtpd_serve - one SMTP session on fd (the caller closes fd). */
void smtpd_serve(smtpd_ctx *ctx, int fd);

#endif
