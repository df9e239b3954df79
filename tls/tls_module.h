/*
 * tls_module - the contract between tls/'s OpenSSL-free front (linked into
 * every program) and the OpenSSL engine built as a loadable module,
 * <daemon_directory>/tern-tls.so (see docs/tls.md).
 *
 * The module exports one symbol, tern_tls_module(), returning a table of
 * function pointers; the front dlopen()s the module the first time a
 * process needs OpenSSL and forwards through the table. Everything else
 * the module calls (msg_*, sb_*, x*alloc, conf_get_*, tio_*) it takes from
 * the program that loads it (exported by tern-tls.sym), so logging, hooks
 * and configuration stay the program's own. Nobody outside tls/ includes
 * this header.
 */
#ifndef TERN_TLS_MODULE_H
#define TERN_TLS_MODULE_H

#include <stdbool.h>
#include <stddef.h>

#include "tls/tls.h"

/* The module's file name in daemon_directory and its one exported symbol. */
#define TLS_MODULE_FILE "tern-tls.so"
#define TLS_MODULE_SYMBOL "tern_tls_module"

/* Bump when the table or any structure passed through it changes. */
#define TLS_MODULE_VERSION 1u

/* The module's own objects; opaque to the front. */
typedef struct tls_ssl_server tls_ssl_server;
typedef struct tls_ssl_client tls_ssl_client;
typedef struct tls_ssl_conn tls_ssl_conn;

/*
 * The engine. Each entry has the semantics of the tls.h function of the
 * same name; server_open runs only for a level other than none (the front
 * has parsed level, wrapper mode, auth_only and received_header).
 */
struct tls_module {
    unsigned version;           /* TLS_MODULE_VERSION */
    size_t size;                /* sizeof(struct tls_module) */
    tls_ssl_server *(*server_open)(const conf *c, enum tls_level level,
                                   strbuf *err);
    void (*server_free)(tls_ssl_server *ts);
    bool (*server_ready)(const tls_ssl_server *ts);
    const char *(*server_error)(const tls_ssl_server *ts);
    tls_ssl_conn *(*server_start)(tls_ssl_server *ts, tio *t,
                                  const char *client, strbuf *err);
    tls_ssl_client *(*client_open)(const conf *c, strbuf *err);
    void (*client_free)(tls_ssl_client *tc);
    bool (*client_ready)(const tls_ssl_client *tc);
    tls_ssl_conn *(*client_start)(tls_ssl_client *tc, tio *t,
                                  const struct tls_policy *pol,
                                  const struct tls_peer *peer, strbuf *err);
    void (*conn_free)(tls_ssl_conn *conn);
    const struct tls_info *(*conn_info)(const tls_ssl_conn *conn);
};

/* tern_tls_module - the module's table (the symbol dlsym() looks up). */
const struct tls_module *tern_tls_module(void);

/*
 * tls_module_load - the engine from <daemon_directory of c>/tern-tls.so,
 * loaded on the first call (RTLD_NOW | RTLD_LOCAL) and kept until the
 * process exits; later calls find it loaded. NULL with err "cannot load
 * PATH: why" when it cannot be loaded or is not the module of this build.
 */
const struct tls_module *tls_module_load(const conf *c, strbuf *err);

/* tls_module_open - the same from an explicit path. */
const struct tls_module *tls_module_open(const char *path, strbuf *err);

/* tls_conn_wrap - the caller's handle of a module connection (NULL: NULL). */
tls_conn *tls_conn_wrap(const struct tls_module *mod, tls_ssl_conn *impl);

/* tls_fail - replace err with a formatted reason; returns -1. */
int tls_fail(strbuf *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
