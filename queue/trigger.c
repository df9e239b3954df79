/*
 * trigger - one-byte wake-ups on a service's unix socket.
 *
 * Owns nothing beyond the socket of one call, closed before returning.
 * Non-blocking connect and send: a busy or absent service never stalls the
 * caller. Fails with -1 (errno set); nothing is logged here.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/strbuf.h"
#include "common/unixconn.h"
#include "conf/conf.h"
#include "master/server.h"
#include "queue/trigger.h"

/* trigger_wake - connect, send one byte, close. */
int trigger_wake(const char *path, char byte)
{
    int fd = unix_connect(path, SOCK_NONBLOCK), rc = -1, saved;

    if (fd < 0)
        return -1;
    /* a connect still in progress fails the send: the service is busy */
    if (send(fd, &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
        rc = 0;
    saved = errno;
    (void)close(fd);
    errno = saved;
    return rc;
}

/* trigger_service - wake a unix service by its master.cf name. */
int trigger_service(const conf *c, const char *queue_directory,
                    const char *name)
{
    return trigger_service_byte(c, queue_directory, name,
                                SERVER_TRIGGER_WAKEUP);
}

/* trigger_service_byte - send one request byte to a unix service. */
int trigger_service_byte(const conf *c, const char *queue_directory,
                         const char *name, char byte)
{
    const struct conf_service *s = conf_service_find(c, name, "unix");
    strbuf path;
    int rc;

    if (s == NULL) {
        errno = ENOENT;
        return -1;
    }
    sb_init(&path, 4096);
    if (sb_printf(&path, "%s/%s/%s", queue_directory,
                  s->private_ ? "private" : "public", name) < 0) {
        sb_release(&path);
        errno = ENAMETOOLONG;
        return -1;
    }
    rc = trigger_wake(sb_str(&path), byte);
    sb_release(&path);
    return rc;
}
