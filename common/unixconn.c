/*
 * unixconn - unix_connect (see unixconn.h). Owns the socket only until it
 * is returned; every failure closes it and keeps the cause in errno.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/unixconn.h"

/* unix_connect - socket, address from path, connect. */
int unix_connect(const char *path, int flags)
{
    struct sockaddr_un sun;
    size_t len = strlen(path);
    int fd, saved;

    if (flags & ~SOCK_NONBLOCK) {
        errno = EINVAL;
        return -1;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (len == 0 || len >= sizeof(sun.sun_path)) {
        errno = len == 0 ? ENOENT : ENAMETOOLONG;
        return -1;
    }
    memcpy(sun.sun_path, path, len + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0
        || ((flags & SOCK_NONBLOCK) && errno == EINPROGRESS))
        return fd;
    saved = errno;
    (void)close(fd);
    errno = saved;
    return -1;
}
