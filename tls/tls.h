/*
 * tls - OpenSSL for tern: the SMTP server's STARTTLS / wrapper mode now,
 * the client's security levels later (DESIGN.md, tls/).
 *
 * A tls_server is built once per smtpd process from the service's
 * configuration (smtpd_tls_* parameters): the OpenSSL context with the RSA
 * and/or ECDSA certificates, protocol range, cipher grade, server cipher
 * preference and session tickets. A configuration that makes no sense (an
 * unknown level, protocol or cipher grade) is an error for the caller to
 * refuse to start on. A certificate or key that cannot be used is NOT: as
 * Postfix does, the server then still runs, logs why, answers STARTTLS with
 * "454 4.7.0 TLS not available due to local problem" and, at level encrypt,
 * never accepts mail in plaintext (fail closed).
 *
 * tls_server_start() turns one session's tio stream into TLS: it flushes
 * pending output, DISCARDS every byte the client sent before the handshake
 * (nothing pipelined after STARTTLS in plaintext can ever be executed: the
 * CVE-2011-0411 class), puts the socket in non-blocking mode, runs the
 * handshake under smtpd_starttls_timeout and installs a tio_ops adapter so
 * the caller keeps using the same tio. The caller must reset its session
 * state (HELO, MAIL, RCPT, SASL) after a successful start.
 *
 * Process-wide OpenSSL state is OpenSSL's own; this module keeps none.
 * Callers must ignore SIGPIPE (the server skeleton does).
 */
#ifndef TERN_TLS_H
#define TERN_TLS_H

#include <stdbool.h>

#include "common/strbuf.h"
#include "common/tio.h"
#include "conf/conf.h"

/* ---- Security levels ---- */

/*
 * Levels. The server knows the first three (smtpd_tls_security_level);
 * the client (smtp_tls_security_level) all of them, in order of strength.
 * dane and dane-only are names the client accepts and refuses to use
 * (deferred, "not supported yet"), never a silent downgrade.
 */
enum tls_level {
    TLS_LEV_NONE,               /* no STARTTLS */
    TLS_LEV_MAY,                /* STARTTLS offered / used when offered */
    TLS_LEV_ENCRYPT,            /* STARTTLS required before mail */
    TLS_LEV_FINGERPRINT,        /* client: certificate/key digest pinned */
    TLS_LEV_VERIFY,             /* client: trusted chain + name */
    TLS_LEV_SECURE,             /* client: trusted chain + nexthop name */
    TLS_LEV_DANE,               /* client: not supported yet */
    TLS_LEV_DANE_ONLY,          /* client: not supported yet */
};

/* tls_level_parse - "none" | "may" | "encrypt" (any case): 0, or -1. */
int tls_level_parse(const char *name, enum tls_level *lev);

/* tls_client_level_parse - any level name above (any case): 0, or -1. */
int tls_client_level_parse(const char *name, enum tls_level *lev);

/* tls_level_name - the name of a level. */
const char *tls_level_name(enum tls_level lev);

/* ---- Protocols and ciphers (Postfix syntax) ---- */

/* Protocol bits of a parsed protocol list. */
#define TLS_PROTO_SSLv2   (1u << 0)
#define TLS_PROTO_SSLv3   (1u << 1)
#define TLS_PROTO_TLSv1   (1u << 2)
#define TLS_PROTO_TLSv1_1 (1u << 3)
#define TLS_PROTO_TLSv1_2 (1u << 4)
#define TLS_PROTO_TLSv1_3 (1u << 5)
#define TLS_PROTO_ALL     ((1u << 6) - 1)

/*
 * tls_protocols_parse - the protocols a Postfix protocol list enables:
 * ">=TLSv1.2", "<=TLSv1.3", exclusions "!SSLv2, !SSLv3" (everything else
 * stays enabled) or inclusions "TLSv1.2 TLSv1.3", separated by commas,
 * colons or white space; names in any case. An empty list enables all.
 * Returns 0 with the TLS_PROTO_* set in *mask, or -1 with err naming the
 * bad item (unknown name, or nothing left enabled).
 */
int tls_protocols_parse(const char *spec, unsigned *mask, strbuf *err);

/* tls_protocol_names - the enabled protocols of mask as "TLSv1.2 TLSv1.3". */
void tls_protocol_names(unsigned mask, strbuf *out);

/*
 * tls_cipher_list - the OpenSSL cipher string for a Postfix cipher grade
 * ("high", "medium", "null"; "low" and "export" are treated as "medium")
 * read from tls_<grade>_cipherlist of c, followed by ":!X" for every item
 * of the exclude list ("aNULL, RC4"). 0, or -1 with err.
 */
int tls_cipher_list(const conf *c, const char *grade, const char *exclude,
                    strbuf *out, strbuf *err);

/* ---- The SMTP server side ---- */

typedef struct tls_server tls_server;
typedef struct tls_conn tls_conn;

/*
 * tls_server_open - the TLS side of one smtpd service from its effective
 * configuration. NULL with err set on a configuration error (the service
 * must not start). Otherwise never NULL; when certificates or keys cannot
 * be used the reason is logged (and kept, see tls_server_error) and
 * tls_server_ready() is false. Call before dropping privileges: the key
 * files are often readable only by root.
 */
tls_server *tls_server_open(const conf *c, strbuf *err);

/* tls_server_free - release the context (NULL is fine). */
void tls_server_free(tls_server *ts);

/* tls_server_level - the configured smtpd_tls_security_level. */
enum tls_level tls_server_level(const tls_server *ts);

/* tls_server_ready - a usable context exists (certificates loaded). */
bool tls_server_ready(const tls_server *ts);

/* tls_server_error - why it is not ready ("" when it is). */
const char *tls_server_error(const tls_server *ts);

/* tls_server_wrapper - smtpd_tls_wrappermode: TLS from the first byte. */
bool tls_server_wrapper(const tls_server *ts);

/* tls_server_offer - advertise STARTTLS in EHLO (level may/encrypt, no TLS yet). */
bool tls_server_offer(const tls_server *ts, bool tls_active);

/*
 * tls_server_auth_ok - may AUTH be advertised and used now?
 * False before TLS when smtpd_tls_auth_only = yes.
 */
bool tls_server_auth_ok(const tls_server *ts, bool tls_active);

/*
 * tls_server_needs_starttls - must the command verb be refused with
 * TLS_REPLY_NEED_STARTTLS? True at level encrypt before TLS for every verb
 * except EHLO, HELO, STARTTLS, NOOP, RSET and QUIT (any case).
 */
bool tls_server_needs_starttls(const tls_server *ts, bool tls_active,
                               const char *verb);

/* tls_server_received_header - smtpd_tls_received_header. */
bool tls_server_received_header(const tls_server *ts);

/* Replies, as Postfix words them. */
#define TLS_REPLY_NEED_STARTTLS "530 5.7.0 Must issue a STARTTLS command first"
#define TLS_REPLY_UNAVAILABLE "454 4.7.0 TLS not available due to local problem"
#define TLS_REPLY_READY "220 2.0.0 Ready to start TLS"
#define TLS_REPLY_ALREADY "554 5.5.1 Error: TLS already active"
#define TLS_REPLY_SYNTAX "501 5.5.4 Syntax: STARTTLS"

/*
 * tls_server_start - the handshake on t's socket, after the caller sent
 * TLS_REPLY_READY (or, in wrapper mode, before the greeting). Flushes t,
 * discards buffered input (logged when not empty), runs the handshake
 * within smtpd_starttls_timeout and routes t through TLS. client is
 * "host[addr]" for log lines. On failure (logged as Postfix does) returns
 * NULL with err set; t is left in plaintext and the caller disconnects.
 */
tls_conn *tls_server_start(tls_server *ts, tio *t, const char *client,
                           strbuf *err);

/*
 * tls_conn_free - send close_notify if it can go without waiting and
 * release the connection. Call after the last I/O on the tio (tio_free, or
 * tio_set_ops(t, NULL)), never before: the tio still points at it.
 */
void tls_conn_free(tls_conn *tc);

/* ---- What a connection negotiated (logging, Received, policy) ---- */

struct tls_info {
    const char *protocol;       /* "TLSv1.3" */
    const char *cipher;         /* "TLS_AES_256_GCM_SHA384" */
    int cipher_bits;            /* bits in use */
    int alg_bits;               /* bits of the algorithm */
    const char *peer_subject;   /* client certificate CN, NULL if none */
    const char *peer_issuer;    /* its issuer's CN, NULL if none */
    const char *peer_fingerprint; /* SHA-256 "AB:CD:..", NULL if none */
    bool reused;                /* the session was resumed */
    bool peer_trusted;          /* client: the chain verified to a CA */
    bool peer_matched;          /* client: name or fingerprint matched */
};

/* tls_conn_info - the negotiated parameters; owned by tc. */
const struct tls_info *tls_conn_info(const tls_conn *tc);

/* tls_info_summary - "TLSv1.3 with cipher X (256/256 bits)". 0 or -1. */
int tls_info_summary(const struct tls_info *info, strbuf *out);

/*
 * tls_info_received - the Received: header clause Postfix writes with
 * smtpd_tls_received_header: "(using TLSv1.3 with cipher X (256/256 bits))".
 */
int tls_info_received(const struct tls_info *info, strbuf *out);

/* ---- The SMTP client side (tls_client.c, tls_policy.c, tls_scache.c) ---- */

typedef struct tls_client tls_client;

/*
 * One destination's effective TLS policy: smtp_tls_security_level and the
 * smtp_tls_* parameters of that level, overridden by an
 * smtp_tls_policy_maps entry. match holds names (verify, secure) or
 * fingerprints (fingerprint), one per space.
 */
struct tls_policy {
    enum tls_level level;
    strbuf match;               /* "hostname nexthop" or "AB:CD.. EF:01.." */
    strbuf protocols;           /* Postfix protocol list */
    strbuf ciphers;             /* grade: high, medium, null */
    strbuf exclude;             /* cipher names to exclude */
};

/* tls_policy_init / tls_policy_release - an empty policy (level none). */
void tls_policy_init(struct tls_policy *pol);
void tls_policy_release(struct tls_policy *pol);

/*
 * tls_policy_make - the policy from c's smtp_tls_* parameters, with a
 * policy table value ("secure match=nexthop:dot-nexthop protocols=..."
 * ciphers=high exclude=3DES", NULL for none) on top: its level picks the
 * level's defaults, its attributes replace them. Table names are
 * ':'-separated, fingerprints '|'-separated, as in Postfix. 0, or -1 with
 * err naming the bad level, attribute, protocol list or cipher grade.
 */
int tls_policy_make(const conf *c, const char *table_value,
                    struct tls_policy *pol, strbuf *err);

/* tls_level_required - does the level forbid plaintext delivery? */
bool tls_level_required(enum tls_level lev);

/*
 * tls_client_open - the client TLS engine of one smtp process from c:
 * CA file/path, client certificate (smtp_tls_cert_file/key_file, and the
 * ECDSA pair), fingerprint digest, session cache. NULL with err only for
 * configuration nonsense (an unknown digest); an unusable certificate or
 * CA file leaves it "not ready" (logged once): then levels that require
 * TLS defer with "our TLS engine is unavailable" and may sends plaintext.
 */
tls_client *tls_client_open(const conf *c, strbuf *err);

/* tls_client_free - release the engine (NULL is fine). */
void tls_client_free(tls_client *tc);

/* tls_client_ready - the engine can start TLS. */
bool tls_client_ready(const tls_client *tc);

/* What the client knows about the server it starts TLS with. */
struct tls_peer {
    const char *namaddrport;    /* "host[addr]:port" for log lines */
    const char *host;           /* server name (MX host, or the [host]) */
    bool host_from_mx;          /* host came from an (insecure) MX lookup */
    const char *nexthop;        /* nexthop domain or host, no [] or port */
    const char *sni;            /* server name indication; NULL/"" none */
    const char *cache_key;      /* session cache key; NULL = no cache */
};

/*
 * tls_client_start - STARTTLS handshake on t's socket after the server's
 * 220 to STARTTLS, with pol's protocols and ciphers, an offered cached
 * session, and then the certificate evaluated for pol (chain trust, name
 * or fingerprint match, in the returned info). The "... TLS connection
 * established to ..." line is logged per smtp_tls_loglevel. On failure
 * returns NULL with err (OpenSSL's reason; "SSL_connect error to X: why"
 * is logged) and t is unusable: the caller closes the connection.
 */
tls_conn *tls_client_start(tls_client *tc, tio *t,
                           const struct tls_policy *pol,
                           const struct tls_peer *peer, strbuf *err);

/*
 * tls_client_enforce - may mail go over conn at level lev? 0, or -1 with
 * Postfix's reason: "Server certificate not trusted" (verify, secure),
 * "Server certificate not verified" (fingerprint, verify, secure).
 */
int tls_client_enforce(const tls_conn *conn, enum tls_level lev,
                       strbuf *reason);

#endif
