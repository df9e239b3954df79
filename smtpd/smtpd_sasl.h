/*
 * smtpd_sasl - SMTP AUTH (RFC 4954) for the SMTP server through Cyrus
 * libsasl2, with Postfix's parameters, replies and log lines.
 *
 * smtpd_sasl_open() reads the smtpd_sasl_* parameters of one service and,
 * when smtpd_sasl_auth_enable = yes, initialises libsasl2 once for the
 * process: application name smtpd_sasl_path (libsasl2 then reads
 * NAME.conf, e.g. smtpd.conf with pwcheck_method and mech_list) from
 * cyrus_sasl_config_path. A bad value (smtpd_sasl_type other than cyrus,
 * an unknown security option, a bad exceptions network) is a configuration
 * error for the caller to refuse to start on.
 *
 * One smtpd_sasl_conn per SMTP session holds the libsasl2 connection,
 * the mechanisms offered to this client (EHLO "AUTH PLAIN LOGIN"), and
 * after a successful AUTH the method and user name. Security properties
 * come from smtpd_sasl_security_options, or smtpd_sasl_tls_security_options
 * when the session is encrypted: after STARTTLS the caller frees the
 * session's smtpd_sasl_conn and makes a new one with tls set.
 *
 * smtpd_sasl_auth_cmd() runs one AUTH command over the session's tio: the
 * 334 challenges go out and the responses are read here, the final reply
 * (235, or the 4xx/5xx error) is returned for the caller to send through
 * its own reply path, which counts errors and applies
 * smtpd_error_sleep_time. Every failure is logged as Postfix does, in the
 * shape fail2ban reads: "warning: host[addr]: SASL LOGIN authentication
 * failed: authentication failure, sasl_username=alice@REALM". Hostile
 * input (bad base64, overlong responses, NUL or 8-bit bytes, unknown
 * mechanisms) gets its reply and changes nothing else.
 *
 * libsasl2's own state is process-wide by its design; this module keeps
 * none of its own outside the structs.
 */
#ifndef TERN_SMTPD_SASL_H
#define TERN_SMTPD_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "common/strbuf.h"
#include "common/tio.h"
#include "conf/conf.h"

typedef struct smtpd_sasl smtpd_sasl;
typedef struct smtpd_sasl_conn smtpd_sasl_conn;

/* Replies, as Postfix words them. */
#define SMTPD_SASL_REPLY_OK "235 2.7.0 Authentication successful"
#define SMTPD_SASL_REPLY_DISABLED "503 5.5.1 Error: authentication not enabled"
#define SMTPD_SASL_REPLY_IN_MAIL "503 5.5.1 Error: MAIL transaction in progress"
#define SMTPD_SASL_REPLY_AGAIN "503 5.5.1 Error: already authenticated"
#define SMTPD_SASL_REPLY_SYNTAX "501 5.5.4 Syntax: AUTH mechanism"
#define SMTPD_SASL_REPLY_NEED_TLS \
    "504 5.5.4 Encryption required for requested authentication mechanism"
#define SMTPD_SASL_REPLY_ABORTED "501 5.7.0 Authentication aborted"
#define SMTPD_SASL_REPLY_DECODE "501 5.5.2 Cannot decode response"
#define SMTPD_SASL_REPLY_TOOLONG "500 5.5.6 SASL response limit exceeded"

/* ---- Per process ---- */

/*
 * smtpd_sasl_open - the SASL side of one smtpd service from its effective
 * configuration. NULL with err set on a configuration error or when
 * libsasl2 cannot start. With smtpd_sasl_auth_enable = no the result is a
 * disabled handle (nothing initialised, every session offers nothing).
 */
smtpd_sasl *smtpd_sasl_open(const conf *c, strbuf *err);

/* smtpd_sasl_free - release (NULL is fine); sessions must be freed first. */
void smtpd_sasl_free(smtpd_sasl *s);

/* smtpd_sasl_enabled - smtpd_sasl_auth_enable. */
bool smtpd_sasl_enabled(const smtpd_sasl *s);

/* smtpd_sasl_broken_clients - broken_sasl_auth_clients: also "AUTH=...". */
bool smtpd_sasl_broken_clients(const smtpd_sasl *s);

/* smtpd_sasl_authenticated_header - smtpd_sasl_authenticated_header. */
bool smtpd_sasl_authenticated_header(const smtpd_sasl *s);

/* ---- Per SMTP session ---- */

/* Who the session is with; strings are copied. */
struct smtpd_sasl_peer {
    const char *namaddr;        /* "host[addr]" for log lines */
    const char *client_addr;    /* "192.0.2.1" */
    int client_port;
    const char *server_addr;    /* local address, NULL if unknown */
    int server_port;
    bool tls;                   /* the session is encrypted */
};

/*
 * smtpd_sasl_conn_new - a session's SASL state. Never NULL. AUTH is not
 * offered (smtpd_sasl_offered false) when SASL is disabled, the client is
 * in smtpd_sasl_exceptions_networks, or libsasl2 has no mechanism for it
 * (logged as a warning once per session).
 */
smtpd_sasl_conn *smtpd_sasl_conn_new(smtpd_sasl *s,
                                     const struct smtpd_sasl_peer *peer);
void smtpd_sasl_conn_free(smtpd_sasl_conn *sc);     /* NULL is fine */

/* smtpd_sasl_offered - advertise AUTH in EHLO and accept the command. */
bool smtpd_sasl_offered(const smtpd_sasl_conn *sc);

/* smtpd_sasl_mechanisms - "PLAIN LOGIN" ("" when not offered). */
const char *smtpd_sasl_mechanisms(const smtpd_sasl_conn *sc);

/*
 * smtpd_sasl_ehlo - append the EHLO keyword lines without reply codes:
 * "AUTH PLAIN LOGIN\n" and, with broken_sasl_auth_clients, also
 * "AUTH=PLAIN LOGIN\n". Nothing when not offered. 0, or -1 past out's bound.
 */
int smtpd_sasl_ehlo(const smtpd_sasl_conn *sc, strbuf *out);

/* What the server knows when AUTH arrives. */
struct smtpd_sasl_cmd {
    const char *args;           /* text after "AUTH", e.g. " PLAIN AGFs..." */
    bool in_mail;               /* a MAIL transaction is open */
    bool need_tls;              /* smtpd_tls_auth_only and no TLS yet */
};

/* How an AUTH command ended. */
enum smtpd_sasl_result {
    SMTPD_SASL_DONE,            /* reply is the 235: the client is authenticated */
    SMTPD_SASL_REFUSED,         /* reply is a 4xx/5xx: count it as an error */
    SMTPD_SASL_LOST,            /* I/O failed mid-exchange: see *io */
};

/*
 * smtpd_sasl_auth_cmd - one AUTH command. Writes and flushes 334 lines to
 * t and reads the responses from it (each at most
 * smtpd_sasl_response_limit bytes); the final reply line (no CRLF) goes
 * to reply (replaced) for the caller to send. On SMTPD_SASL_LOST, *io is
 * the tio status (EOF, timeout, error) and reply is empty.
 */
enum smtpd_sasl_result smtpd_sasl_auth_cmd(smtpd_sasl_conn *sc, tio *t,
                                           const struct smtpd_sasl_cmd *cmd,
                                           strbuf *reply, int *io);

/*
 * The exchange one step at a time, without I/O (smtpd_sasl_auth_cmd runs
 * on these). start takes the mechanism and the initial response as the
 * client wrote it (base64, "=" for empty, NULL for none); next takes one
 * response line. Both put into reply the next line to send: "334 ..." with
 * SMTPD_SASL_MORE, else the final reply.
 */
enum smtpd_sasl_step {
    SMTPD_SASL_STEP_MORE,       /* send reply, read a response, call next */
    SMTPD_SASL_STEP_DONE,       /* authenticated; reply is the 235 */
    SMTPD_SASL_STEP_FAIL,       /* reply is the error; logged */
};
enum smtpd_sasl_step smtpd_sasl_start(smtpd_sasl_conn *sc, const char *mech,
                                      const char *initial, strbuf *reply);
enum smtpd_sasl_step smtpd_sasl_next(smtpd_sasl_conn *sc, const char *line,
                                     size_t len, strbuf *reply);

/* ---- After AUTH ---- */

/* smtpd_sasl_username / _method - NULL until AUTH succeeded. */
const char *smtpd_sasl_username(const smtpd_sasl_conn *sc);
const char *smtpd_sasl_method(const smtpd_sasl_conn *sc);

/*
 * smtpd_sasl_log_clause - append ", sasl_method=PLAIN, sasl_username=u"
 * for the "client=host[addr]" log line (nothing when not authenticated).
 * 0, or -1 past out's bound.
 */
int smtpd_sasl_log_clause(const smtpd_sasl_conn *sc, strbuf *out);

/*
 * smtpd_sasl_received_clause - append "(Authenticated sender: u)" for the
 * Received: header when smtpd_sasl_authenticated_header = yes and the
 * client is authenticated (nothing otherwise). 0, or -1 past out's bound.
 */
int smtpd_sasl_received_clause(const smtpd_sasl *s,
                                const smtpd_sasl_conn *sc, strbuf *out);

#endif
