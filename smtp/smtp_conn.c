/*
 * smtp_conn - connection set-up (see smtp_conn.h). Owns a descriptor only
 * until it is returned; every failure closes it and says why. TCP
 * connections have Nagle's algorithm off (tio_nodelay).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/tio.h"
#include "common/unixconn.h"
#include "smtp/smtp_conn.h"

/* conn_fail - close fd, put errno's text in why, -1. */
static int conn_fail(int fd, int err, const char *what, strbuf *why)
{
    if (fd >= 0)
        (void)close(fd);
    sb_reset(why);
    if (what)
        (void)sb_printf(why, "%s: ", what);
    (void)sb_puts(why, strerror(err));
    return -1;
}

/*
 * conn_settle - a non-blocking fd whose connect may be in progress:
 * wait for it within timeout_ms, then make fd blocking again.
 */
static int conn_settle(int fd, bool pending, int timeout_ms, strbuf *why)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int flags, err = 0, rc;
    socklen_t elen = sizeof(err);

    if (pending) {
        do
            rc = poll(&p, 1, timeout_ms);
        while (rc < 0 && errno == EINTR);
        if (rc == 0)
            return conn_fail(fd, ETIMEDOUT, NULL, why);
        if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
            return conn_fail(fd, errno, NULL, why);
        if (err != 0)
            return conn_fail(fd, err, NULL, why);
    }
    if ((flags = fcntl(fd, F_GETFL)) < 0
        || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
        return conn_fail(fd, errno, NULL, why);
    return fd;
}

/* conn_wait - connect fd to sa, finished within timeout_ms. */
static int conn_wait(int fd, const struct sockaddr *sa, socklen_t len,
                     int timeout_ms, strbuf *why)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return conn_fail(fd, errno, NULL, why);
    if (connect(fd, sa, len) == 0)
        return conn_settle(fd, false, timeout_ms, why);
    if (errno != EINPROGRESS)
        return conn_fail(fd, errno, NULL, why);
    return conn_settle(fd, true, timeout_ms, why);
}

/* conn_bind - bind fd to the local address text of the right family. */
static int conn_bind(int fd, int family, const char *text, strbuf *why)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char what[80];

    memset(&ss, 0, sizeof(ss));
    if (fmt_fixed(what, sizeof(what), "bind %.60s", text) < 0)
        what[0] = 0;
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

        sin->sin_family = AF_INET;
        len = sizeof(*sin);
        if (inet_pton(AF_INET, text, &sin->sin_addr) != 1)
            return conn_fail(fd, EINVAL, what, why);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

        sin6->sin6_family = AF_INET6;
        len = sizeof(*sin6);
        if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1)
            return conn_fail(fd, EINVAL, what, why);
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0)
        return conn_fail(fd, errno, what, why);
    return fd;
}

/* smtp_conn_inet - socket, optional bind, timed connect. */
int smtp_conn_inet(const dns_addr *a, unsigned port, const char *bind4,
                   const char *bind6, int timeout_ms, strbuf *why)
{
    struct sockaddr_storage ss;
    socklen_t len;
    const char *bind_to = a->family == AF_INET ? bind4 : bind6;
    int fd;

    memset(&ss, 0, sizeof(ss));
    if (a->family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        memcpy(&sin->sin_addr, a->bytes, 4);
        len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        memcpy(&sin6->sin6_addr, a->bytes, 16);
        len = sizeof(*sin6);
    }
    fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return conn_fail(-1, errno, NULL, why);
    /* tio writes whole commands and body buffers: no Nagle wait for the
     * server's delayed ACK before the last piece of a message */
    if (tio_nodelay(fd) < 0)
        return conn_fail(fd, errno, "setsockopt TCP_NODELAY", why);
    if (bind_to && *bind_to && conn_bind(fd, a->family, bind_to, why) < 0)
        return -1;
    return conn_wait(fd, (struct sockaddr *)&ss, len, timeout_ms, why);
}

/* smtp_conn_unix - a stream socket to path (common/unixconn), timed. */
int smtp_conn_unix(const char *path, int timeout_ms, strbuf *why)
{
    int fd = unix_connect(path, SOCK_NONBLOCK);

    if (fd < 0)
        return conn_fail(-1, errno, NULL, why);
    /* still connecting or already connected: poll tells at once */
    return conn_settle(fd, true, timeout_ms, why);
}
