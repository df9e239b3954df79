/*
 * tls_ssl_module - the one symbol tern-tls.so exports: the table through
 * which the front (tls_load.c) reaches the OpenSSL engine. Everything else
 * in the module is built with hidden visibility. Owns nothing.
 */
#include "tls/tls_ssl.h"

/* The engine's entries, in struct tls_module order. */
static const struct tls_module tls_ssl_table = {
    .version = TLS_MODULE_VERSION,
    .size = sizeof(struct tls_module),
    .server_open = tls_ssl_server_open,
    .server_free = tls_ssl_server_free,
    .server_ready = tls_ssl_server_ready,
    .server_error = tls_ssl_server_error,
    .server_start = tls_ssl_server_start,
    .client_open = tls_ssl_client_open,
    .client_free = tls_ssl_client_free,
    .client_ready = tls_ssl_client_ready,
    .client_start = tls_ssl_client_start,
    .conn_free = tls_ssl_conn_free,
    .conn_info = tls_ssl_conn_info,
};

/* tern_tls_module - the table, for the loader's dlsym(). */
__attribute__((visibility("default")))
const struct tls_module *tern_tls_module(void)
{
    return &tls_ssl_table;
}
