/*
 * msg - Postfix-shaped log lines to syslog, a log file or stderr.
 *
 * Each line is formatted into one bounded buffer and written with a single
 * write(2) (O_APPEND for maillog_file), so lines from concurrent processes
 * never interleave. Failing to log is never fatal. The pid a line carries
 * is cached (glibc's getpid is a system call each time) and refreshed in
 * the child of every fork() by a pthread_atfork handler; without that
 * handler it is asked for each line.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/msg.h"

#define MSG_LINE_MAX 4096

static char msg_program[64] = "tern";
static char msg_syslog_name[64] = "tern";
static char msg_ident[130] = "tern/tern";
static char msg_host[256] = "localhost";
static int msg_flags = MSG_TO_STDERR;
static int msg_logfd = -1;
static int msg_verbose_level;
static bool msg_syslog_open;
static msg_capture_fn msg_capture;
static void *msg_capture_ctx;
static void (*msg_fatal_hook)(enum msg_level);
static pid_t msg_pid;                   /* 0 = not cached */
static bool msg_atfork_set;

static const char *const msg_prefix[] = {
    [MSG_INFO] = "", [MSG_WARN] = "warning: ",
    [MSG_FATAL] = "fatal: ", [MSG_PANIC] = "panic: ",
};

/* msg_after_fork - in a fork child: the cached pid was the parent's. */
static void msg_after_fork(void)
{
    msg_pid = getpid();
}

/* msg_self - this process's pid; cached once a fork cannot go unnoticed. */
static long msg_self(void)
{
    if (msg_pid != 0)
        return (long)msg_pid;
    if (!msg_atfork_set)
        msg_atfork_set = pthread_atfork(NULL, NULL, msg_after_fork) == 0;
    if (!msg_atfork_set)
        return (long)getpid();
    msg_pid = getpid();
    return (long)msg_pid;
}

/* msg_copy_name - bounded copy of a name; over-long names are cut. */
static void msg_copy_name(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* msg_update_ident - recompute "syslog_name/program" and reopen syslog. */
static void msg_update_ident(void)
{
    size_t a = strlen(msg_syslog_name), b = strlen(msg_program);

    memcpy(msg_ident, msg_syslog_name, a);
    msg_ident[a] = '/';
    memcpy(msg_ident + a + 1, msg_program, b + 1);
    if (msg_syslog_open) {
        closelog();
        msg_syslog_open = false;
    }
}

void msg_open(const char *program, int flags)
{
    const char *slash = strrchr(program, '/');

    msg_copy_name(msg_program, sizeof(msg_program), slash ? slash + 1 : program);
    msg_flags = flags;
    if (gethostname(msg_host, sizeof(msg_host)) < 0)
        msg_copy_name(msg_host, sizeof(msg_host), "localhost");
    msg_host[sizeof(msg_host) - 1] = '\0';
    msg_update_ident();
}

/* msg_set_program - rename the program, destinations unchanged. */
void msg_set_program(const char *program)
{
    if (strcmp(program, msg_program) == 0)
        return;
    msg_copy_name(msg_program, sizeof(msg_program), program);
    msg_update_ident();
}

/* msg_get_program - the program name lines carry now. */
const char *msg_get_program(void)
{
    return msg_program;
}

void msg_set_syslog_name(const char *name)
{
    msg_copy_name(msg_syslog_name, sizeof(msg_syslog_name),
                  name[0] ? name : "tern");
    msg_update_ident();
}

int msg_set_logfile(const char *path)
{
    int fd = -1;

    if (path[0] != '\0') {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0)
            return -1;
    }
    if (msg_logfd >= 0)
        (void)close(msg_logfd);
    msg_logfd = fd;
    return 0;
}

void msg_set_flags(int flags)
{
    msg_flags = flags;
}

void msg_set_verbose(int level)
{
    msg_verbose_level = level;
}

int msg_get_verbose(void)
{
    return msg_verbose_level;
}

void msg_set_capture(msg_capture_fn fn, void *ctx)
{
    msg_capture = fn;
    msg_capture_ctx = ctx;
}

void msg_set_fatal_hook(void (*hook)(enum msg_level))
{
    msg_fatal_hook = hook;
}

/* msg_sanitize - control bytes become '?' so text cannot forge lines. */
static void msg_sanitize(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

/* msg_write_all - one write, a retry on EINTR; errors are ignored. */
static void msg_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

/* msg_emit_file - "Mmm dd hh:mm:ss host ident[pid]: text" to maillog_file. */
static void msg_emit_file(const char *text)
{
    char line[MSG_LINE_MAX + 512], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    int n;

    if (localtime_r(&now, &tm) == NULL
        || strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm) == 0)
        stamp[0] = '\0';
    n = snprintf(line, sizeof(line), "%s %s %s[%ld]: %s\n", stamp, msg_host,
                 msg_ident, msg_self(), text);
    if (n > 0)
        msg_write_all(msg_logfd, line, (size_t)n < sizeof(line) ? (size_t)n
                      : sizeof(line) - 1);
}

/* msg_emit_stderr - "program: text", or "tern/program[pid]: text" for daemons. */
static void msg_emit_stderr(const char *text)
{
    char line[MSG_LINE_MAX + 256];
    int n;

    if (msg_flags & MSG_DAEMON)
        n = snprintf(line, sizeof(line), "%s[%ld]: %s\n", msg_ident,
                     msg_self(), text);
    else
        n = snprintf(line, sizeof(line), "%s: %s\n", msg_program, text);
    if (n > 0)
        msg_write_all(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n
                      : sizeof(line) - 1);
}

void msg_vlog(enum msg_level level, const char *fmt, va_list ap)
{
    static const int prio[] = {
        [MSG_INFO] = LOG_INFO, [MSG_WARN] = LOG_WARNING,
        [MSG_FATAL] = LOG_CRIT, [MSG_PANIC] = LOG_CRIT,
    };
    char text[MSG_LINE_MAX], body[MSG_LINE_MAX];
    int saved_errno = errno;

    errno = saved_errno;                /* for %m */
    if (vsnprintf(body, sizeof(body), fmt, ap) < 0)
        body[0] = '\0';
    msg_sanitize(body);
    (void)snprintf(text, sizeof(text), "%s%s", msg_prefix[level], body);
    if (msg_capture)
        msg_capture(level, text, msg_capture_ctx);
    if (msg_flags & MSG_TO_STDERR)
        msg_emit_stderr(text);
    if (msg_flags & MSG_TO_SYSLOG) {
        if (msg_logfd >= 0) {
            msg_emit_file(text);
        } else {
            if (!msg_syslog_open) {
                openlog(msg_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
                msg_syslog_open = true;
            }
            syslog(prio[level], "%s", text);
        }
    }
    errno = saved_errno;
}

void msg_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    msg_vlog(MSG_INFO, fmt, ap);
    va_end(ap);
}

void msg_debug(const char *fmt, ...)
{
    va_list ap;

    if (msg_verbose_level <= 0)
        return;
    va_start(ap, fmt);
    msg_vlog(MSG_INFO, fmt, ap);
    va_end(ap);
}

void msg_warn(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    msg_vlog(MSG_WARN, fmt, ap);
    va_end(ap);
}

void msg_fatal(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    msg_vlog(MSG_FATAL, fmt, ap);
    va_end(ap);
    if (msg_fatal_hook)
        msg_fatal_hook(MSG_FATAL);
    exit(1);
}

void msg_panic(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    msg_vlog(MSG_PANIC, fmt, ap);
    va_end(ap);
    if (msg_fatal_hook)
        msg_fatal_hook(MSG_PANIC);
    abort();
}
