/*
 * master_pid - PID file with an fcntl write lock (see master_pid.h).
 *
 * Owns only the descriptor it returns. The lock is advisory and dies with
 * the process, so a ternd killed with SIGKILL never leaves a stale lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "master/master_pid.h"

/* master_pid_path - build the PID file path. */
int master_pid_path(const char *queue_directory, strbuf *out)
{
    sb_reset(out);
    return sb_printf(out, "%s/%s", queue_directory, MASTER_PID_FILE);
}

/* pid_write - replace the file contents with "PID\n" and make it durable. */
static int pid_write(int fd, strbuf *why)
{
    char text[32];
    size_t len;
    ssize_t n;

    if (fmt_fixed(text, sizeof(text), "%ld\n", (long)getpid()) < 0)
        return -1;
    len = strlen(text);
    if (ftruncate(fd, 0) < 0) {
        sb_printf(why, "truncate: %s", strerror(errno));
        return -1;
    }
    n = pwrite(fd, text, len, 0);
    if (n < 0 || (size_t)n != len) {
        sb_printf(why, "write: %s", n < 0 ? strerror(errno) : "short write");
        return -1;
    }
    if (fsync(fd) < 0) {
        sb_printf(why, "fsync: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* pid_holder - ask the kernel who holds a write lock on fd (0 = nobody). */
static pid_t pid_holder(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

    if (fcntl(fd, F_GETLK, &fl) < 0)
        return -1;
    return fl.l_type == F_UNLCK ? 0 : fl.l_pid;
}

/* master_pid_lock - take the lock and write our PID. */
int master_pid_lock(const char *path, pid_t *holder, strbuf *why)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int fd;

    *holder = 0;
    sb_reset(why);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        sb_printf(why, "open %s: %s", path, strerror(errno));
        return -1;
    }
    if (fcntl(fd, F_SETLK, &fl) < 0) {
        if (errno == EAGAIN || errno == EACCES) {
            *holder = pid_holder(fd);
            sb_printf(why, "the tern mail system is already running (pid %ld)",
                      (long)*holder);
        } else {
            sb_printf(why, "lock %s: %s", path, strerror(errno));
        }
        (void)close(fd);
        return -1;
    }
    if (pid_write(fd, why) < 0) {
        (void)close(fd);
        return -1;
    }
    return fd;
}

/* master_pid_query - who holds the lock, if anyone. */
pid_t master_pid_query(const char *path, strbuf *why)
{
    pid_t pid;
    int fd;

    sb_reset(why);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        sb_printf(why, "open %s: %s", path, strerror(errno));
        return -1;
    }
    pid = pid_holder(fd);
    if (pid < 0)
        sb_printf(why, "lock test %s: %s", path, strerror(errno));
    (void)close(fd);
    return pid;
}
