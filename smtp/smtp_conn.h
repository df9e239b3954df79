/*
 * smtp_conn - open the client's TCP or UNIX-domain connection.
 *
 * A TCP connection may first bind a local address (smtp_bind_address for
 * IPv4, smtp_bind_address6 for IPv6; "" = let the kernel choose); the
 * connect itself is bounded by a timeout (smtp_connect_timeout). Its
 * socket has TCP_NODELAY set: the session's tio stream writes whole
 * commands and body buffers, and with Nagle's algorithm the end of a
 * message waited for the server's delayed ACK (~40 ms). The
 * caller owns the returned descriptor. Failures return -1 with the
 * system's words in why ("Connection refused", "Connection timed out",
 * "bind 127.0.0.2: Cannot assign requested address"); the caller adds
 * "connect to host[addr]:port: ".
 */
#ifndef TERN_SMTP_CONN_H
#define TERN_SMTP_CONN_H

#include "common/dns.h"
#include "common/strbuf.h"

/* smtp_conn_inet - connect to a:port; a descriptor or -1 and why. */
int smtp_conn_inet(const dns_addr *a, unsigned port, const char *bind4,
                   const char *bind6, int timeout_ms, strbuf *why);

/* smtp_conn_unix - connect to a UNIX-domain socket; fd or -1 and why. */
int smtp_conn_unix(const char *path, int timeout_ms, strbuf *why);

#endif
