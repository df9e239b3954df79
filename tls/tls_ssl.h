/*
 * tls_ssl - what the OpenSSL files of tls/ (tls_ssl_*.c, built only into
 * the module tern-tls.so) share and nobody else sees: the server, client
 * and connection structures, the tio adapter, the info filler, the session
 * cache and the session ticket keys. Only module files include it: it is
 * the one header of tls/ that includes OpenSSL's.
 */
#ifndef TERN_TLS_SSL_H
#define TERN_TLS_SSL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>

#include "tls/tls_module.h"

/* One session ticket key (RFC 5077): name, AES-256 key, HMAC-SHA256 key. */
#define TLS_TICKET_NAME_LEN 16
#define TLS_TICKET_AES_LEN  32
#define TLS_TICKET_HMAC_LEN 32
#define TLS_TICKET_FILE_LEN \
    (TLS_TICKET_NAME_LEN + TLS_TICKET_AES_LEN + TLS_TICKET_HMAC_LEN)

struct tls_ticket_key {
    unsigned char name[TLS_TICKET_NAME_LEN];
    unsigned char aes[TLS_TICKET_AES_LEN];
    unsigned char hmac[TLS_TICKET_HMAC_LEN];
    bool set;
};

/* Ticket keys shared by the processes of a service through one file. */
struct tls_tickets {
    char *path;                 /* key file; NULL = in-process keys only */
    long lifetime;              /* seconds a key encrypts new tickets */
    struct tls_ticket_key cur;  /* encrypts; decrypts */
    struct tls_ticket_key prev; /* decrypts tickets of the previous key */
    time_t made;                /* when cur was made in-process (no file) */
    bool warned;                /* the file problem was logged once */
};

/* One smtpd service's engine (level, wrapper mode etc. are the front's). */
struct tls_ssl_server {
    int loglevel;
    long timeout;               /* smtpd_starttls_timeout, seconds */
    SSL_CTX *ctx;               /* NULL: not ready (see error) */
    strbuf error;
    struct tls_tickets tickets;
};

struct tls_ssl_conn {
    SSL *ssl;
    tio_ops ops;
    struct tls_info info;
    char *subject, *issuer, *fingerprint;   /* owned strings of info */
    struct tls_ssl_client *client;  /* client side: the engine (session cache) */
    char *cache_key;            /* client side: session cache key, or NULL */
};

/* The client's session cache: one file per key in a spool directory. */
struct tls_scache {
    char *dir;                  /* NULL: no cache */
    long timeout;               /* seconds an entry is used */
    bool warned;                /* a file problem was logged once */
};

struct tls_ssl_client {
    const conf *c;              /* cipher grades are read from it */
    SSL_CTX *ctx;               /* NULL: not ready (see error) */
    strbuf error;
    int loglevel;               /* smtp_tls_loglevel */
    long timeout;               /* smtp_starttls_timeout, seconds */
    const EVP_MD *fpt_md;       /* smtp_tls_fingerprint_digest */
    struct tls_scache cache;
};

/*
 * tls_proto_bounds - the OpenSSL min/max protocol versions of a TLS_PROTO_*
 * mask and the SSL_OP_NO_* options for holes inside the range. 0 or -1.
 */
int tls_proto_bounds(unsigned mask, int *min, int *max, uint64_t *holes,
                     strbuf *err);

/*
 * tls_load_pair - a certificate chain file and its key into ctx; the
 * parameter names appear in err.
 */
int tls_load_pair(SSL_CTX *ctx, const char *cert_param, const char *cert,
                  const char *key_param, const char *key, strbuf *err);

/* tls_ssl_conn_new - a connection on fd (made non-blocking); NULL + err. */
tls_ssl_conn *tls_ssl_conn_new(SSL_CTX *ctx, int fd, strbuf *err);

/* tls_handshake - drive the SSL's handshake within timeout s; 0 or -1. */
int tls_handshake(SSL *ssl, int fd, long timeout, strbuf *err);

/* tls_scache_init - cache in dir (NULL: none) with entry lifetime. */
void tls_scache_init(struct tls_scache *sc, const char *dir, long timeout);

/* tls_scache_release - forget the directory name. */
void tls_scache_release(struct tls_scache *sc);

/* tls_scache_load - the cached session for key, or NULL. */
SSL_SESSION *tls_scache_load(struct tls_scache *sc, const char *key);

/* tls_scache_save - store sess for key (atomic replace); logs trouble once. */
void tls_scache_save(struct tls_scache *sc, const char *key, SSL_SESSION *sess);

/* tls_io_init - point tc->ops at SSL_read/SSL_write on tc->ssl. */
void tls_io_init(tls_ssl_conn *tc);

/* tls_log_errors - log and clear OpenSSL's error queue as warnings. */
void tls_log_errors(void);

/* tls_openssl_error - the newest queued OpenSSL error as text (clears). */
void tls_openssl_error(strbuf *out);

/* tls_info_fill - read the negotiated parameters of tc->ssl into tc->info. */
void tls_info_fill(tls_ssl_conn *tc);

/* tls_info_release - free what tls_info_fill allocated. */
void tls_info_release(tls_ssl_conn *tc);

/* tls_tickets_init - ticket state for key file path (NULL: in-process). */
void tls_tickets_init(struct tls_tickets *tk, const char *path, long lifetime);

/* tls_tickets_release - forget the keys (wiped). */
void tls_tickets_release(struct tls_tickets *tk);

/* tls_tickets_refresh - load, rotate or make the current key; logs trouble. */
void tls_tickets_refresh(struct tls_tickets *tk);

/* tls_tickets_install - have ctx encrypt tickets with tk's keys. 0 or -1. */
int tls_tickets_install(SSL_CTX *ctx, struct tls_tickets *tk);

/* The engine behind the module's table (tls.h semantics, see tls_module.h). */
tls_ssl_server *tls_ssl_server_open(const conf *c, enum tls_level level,
                                    strbuf *err);
void tls_ssl_server_free(tls_ssl_server *ts);
bool tls_ssl_server_ready(const tls_ssl_server *ts);
const char *tls_ssl_server_error(const tls_ssl_server *ts);
tls_ssl_conn *tls_ssl_server_start(tls_ssl_server *ts, tio *t,
                                   const char *client, strbuf *err);
tls_ssl_client *tls_ssl_client_open(const conf *c, strbuf *err);
void tls_ssl_client_free(tls_ssl_client *tc);
bool tls_ssl_client_ready(const tls_ssl_client *tc);
tls_ssl_conn *tls_ssl_client_start(tls_ssl_client *tc, tio *t,
                                   const struct tls_policy *pol,
                                   const struct tls_peer *peer, strbuf *err);
void tls_ssl_conn_free(tls_ssl_conn *conn);
const struct tls_info *tls_ssl_conn_info(const tls_ssl_conn *conn);

#endif
