/*
 * unixconn - connect a stream socket to a UNIX-domain socket path: the
 * one place that builds a sockaddr_un (qmgr to its agents, wake-up
 * triggers, the smtp client's LMTP-over-unix). Owns nothing after it
 * returns; fails with -1 and errno (ENAMETOOLONG for a path that does not
 * fit), never leaving a descriptor open. Logs nothing.
 */
#ifndef TERN_UNIXCONN_H
#define TERN_UNIXCONN_H

/*
 * unix_connect - a close-on-exec AF_UNIX stream socket connected to path.
 * flags is 0 (a blocking connect) or SOCK_NONBLOCK (the socket stays
 * non-blocking and a connect still in progress counts as success). The
 * descriptor, or -1 with errno (EINVAL for other flags).
 */
int unix_connect(const char *path, int flags);

#endif
