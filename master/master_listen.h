/*
 * master_listen - the listening sockets of master.cf services.
 *
 * An inet service listens on its "host:port" (host may be "[v6addr]"), or on
 * the port alone at every address of inet_interfaces ("all", "loopback-only"
 * or a list), restricted by inet_protocols (ipv4, ipv6, all). A unix service
 * listens on a socket file. Every descriptor is non-blocking (children poll
 * then accept, so a lost race is EAGAIN, not a hang) and close-on-exec (ternd
 * passes them on at fixed numbers itself). A set also carries a canonical
 * key of its addresses, so a reload can tell whether it may keep the set.
 * Errors are -1 with a reason; nothing is left open on error.
 */
#ifndef TERN_MASTER_LISTEN_H
#define TERN_MASTER_LISTEN_H

#include <stddef.h>

#include "common/strbuf.h"

/* Most addresses one service may listen on. */
#define MASTER_LISTEN_MAX 16

struct master_listen {
    int fd[MASTER_LISTEN_MAX];
    size_t nfd;
    char *key;                  /* "inet 127.0.0.1:25 [::1]:25" / "unix PATH" */
    char *unix_path;            /* unix: the socket file to unlink, else NULL */
};

/*
 * master_listen_inet - bind host (NULL: the inet_interfaces list) and port.
 * interfaces and protocols are NULL-terminated lists (inet_interfaces,
 * inet_protocols).
 */
int master_listen_inet(struct master_listen *ls, const char *host, int port,
                       const char *const *interfaces,
                       const char *const *protocols, strbuf *why);

/* master_listen_unix - replace any socket file at path and listen on it. */
int master_listen_unix(struct master_listen *ls, const char *path,
                       strbuf *why);

/* master_listen_close - close every descriptor, unlink a unix socket file. */
void master_listen_close(struct master_listen *ls);

/* master_listen_inet_key - the key master_listen_inet would give (no bind). */
int master_listen_inet_key(const char *host, int port,
                           const char *const *interfaces,
                           const char *const *protocols, strbuf *key,
                           strbuf *why);

#endif
