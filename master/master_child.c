/*
 * master_child - ternd's service processes: start, account, reap, throttle
 * (see master.h for the status protocol).
 *
 * Owns each struct master_child and ternd's end of its status socket. A
 * process that cannot be started, or that ends abnormally before it served
 * anything, throttles its service with an exponential back-off capped at
 * service_throttle_time; other services are never affected. Every abnormal
 * end is logged the way Postfix's master logs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "master/master.h"
#include "master/server.h"

/* Most children collected per SIGCHLD (the loop comes back for more). */
#define REAP_BATCH 1000

/* svc_throttle - no new process for this service for a growing while. */
static void svc_throttle(struct master *m, struct master_svc *s)
{
    long long step = s->throttle_ms ? s->throttle_ms * 2 : MASTER_THROTTLE_FIRST_MS;

    s->throttle_ms = step > m->throttle_max_ms ? m->throttle_max_ms : step;
    s->throttle_until_ms = master_now_ms() + s->throttle_ms;
    s->demand = false;
    msg_warn("%s: bad command startup -- throttling", s->path);
}

/* child_argv - the exec vector for one process of s. */
static char **child_argv(const struct master *m, const struct master_svc *s,
                         char *count)
{
    size_t nover = 0, nargs = 0, n = 0, cap;
    char **argv;

    while (s->overrides[nover])
        nover++;
    while (s->args[nargs])
        nargs++;
    cap = 12 + 2 * nover + nargs;
    argv = xcalloc(cap, sizeof(*argv));
    argv[n++] = s->command;
    argv[n++] = "-c";
    argv[n++] = m->config_dir;
    argv[n++] = "-n";
    argv[n++] = s->name;
    argv[n++] = "-t";
    argv[n++] = s->type;
    argv[n++] = "-s";
    argv[n++] = count;
    if (m->log_stderr)
        argv[n++] = "-e";
    if (msg_get_verbose() > 0)
        argv[n++] = "-v";
    for (size_t i = 0; i < nover; i++) {
        argv[n++] = "-o";
        argv[n++] = s->overrides[i];
    }
    for (size_t i = 0; i < nargs; i++)
        argv[n++] = s->args[i];
    argv[n] = NULL;
    return argv;
}

/* child_exec - in the new process: set up descriptors and exec; no return. */
static void child_exec(const struct master_svc *s, int status_fd, char **argv)
{
    static const int sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGCHLD, SIGPIPE};
    int tmp[MASTER_LISTEN_MAX + 1], nsrc = (int)s->ls.nfd + 1;
    int above = SERVER_LISTEN_FD + nsrc;
    sigset_t none;

    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        (void)signal(sigs[i], SIG_DFL);
    (void)sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    /* Move every source above the target range first, then into place. */
    for (int i = 0; i < nsrc; i++) {
        tmp[i] = fcntl(i == 0 ? status_fd : s->ls.fd[i - 1], F_DUPFD_CLOEXEC, above);
        if (tmp[i] < 0) {
            msg_warn("%s: dup: %m", s->path);
            _exit(1);
        }
    }
    for (int i = 0; i < nsrc; i++)
        if (dup2(tmp[i], i == 0 ? SERVER_STATUS_FD : SERVER_LISTEN_FD + i - 1) < 0) {
            msg_warn("%s: dup2: %m", s->path);
            _exit(1);
        }
    execv(s->path, argv);
    msg_warn("execute %s: %m", s->path);
    _exit(1);
}

/* child_spawn - start one process of s. */
static void child_spawn(struct master *m, struct master_svc *s)
{
    struct master_child *ch;
    char count[16];
    char **argv;
    int sv[2];
    pid_t pid;

    if (access(s->path, X_OK) < 0) {
        msg_warn("process %s: cannot execute: %m", s->path);
        svc_throttle(m, s);
        return;
    }
    if (fmt_fixed(count, sizeof(count), "%zu", s->ls.nfd) < 0
        || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        msg_warn("service %s: socketpair: %m", s->name);
        svc_throttle(m, s);
        return;
    }
    argv = child_argv(m, s, count);
    pid = fork();
    if (pid == 0)
        child_exec(s, sv[1], argv);
    free(argv);
    (void)close(sv[1]);
    if (pid < 0) {
        msg_warn("fork: %m");
        (void)close(sv[0]);
        svc_throttle(m, s);
        return;
    }
    if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0)
        msg_warn("status socket of pid %ld: %m", (long)pid);
    ch = xcalloc(1, sizeof(*ch));
    ch->pid = pid;
    ch->status_fd = sv[0];
    ch->path = xstrdup(s->path);
    ch->svc = s;
    ch->started_ms = master_now_ms();
    ch->next = m->children;
    m->children = ch;
    s->total++;
    s->avail++;
    s->demand = false;
    msg_debug("service %s/%s: started pid %ld", s->name, s->type, (long)pid);
}

/* master_schedule - start a process where a service has nobody idle. */
void master_schedule(struct master *m)
{
    long long now = master_now_ms();

    if (m->stopping)
        return;
    for (struct master_svc *s = m->svcs; s; s = s->next) {
        if (s->ls.nfd == 0 || s->avail > 0 || s->total >= (unsigned)s->maxproc
            || now < s->throttle_until_ms)
            continue;
        if (s->inet || s->demand)
            child_spawn(m, s);
    }
}

/* master_retire - close ternd's end: the child finishes and exits. */
void master_retire(struct master_child *ch)
{
    if (ch->status_fd < 0)
        return;
    (void)close(ch->status_fd);
    ch->status_fd = -1;
    if (ch->svc && !ch->busy)
        ch->svc->avail--;
}

/* child_status_byte - apply one status byte. */
static void child_status_byte(struct master_child *ch, char c)
{
    struct master_svc *s = ch->svc;

    if (c == SERVER_STATUS_BUSY && !ch->busy) {
        ch->busy = true;
        ch->uses++;
        if (s) {
            s->avail--;
            s->throttle_ms = 0;         /* it works: forget the back-off */
        }
    } else if (c == SERVER_STATUS_IDLE && ch->busy) {
        ch->busy = false;
        if (s)
            s->avail++;
    } else if (c != SERVER_STATUS_BUSY && c != SERVER_STATUS_IDLE) {
        msg_warn("process %s pid %ld: bad status byte 0x%02x -- ignored",
                 ch->path, (long)ch->pid, (unsigned char)c);
    }
}

/* master_status - read what a child reported. */
void master_status(struct master *m, struct master_child *ch)
{
    char buf[64];
    ssize_t n;

    (void)m;
    n = read(ch->status_fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {                       /* the child is going away */
        master_retire(ch);
        return;
    }
    for (ssize_t i = 0; i < n && ch->status_fd >= 0; i++)
        child_status_byte(ch, buf[i]);
}

/* child_ended - account for and log one reaped child. */
static void child_ended(struct master *m, struct master_child *ch, int status)
{
    struct master_svc *s = ch->svc;
    bool bad = true;

    if (WIFSIGNALED(status))
        msg_warn("process %s pid %ld killed by signal %d", ch->path,
                 (long)ch->pid, WTERMSIG(status));
    else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        msg_warn("process %s pid %ld exit status %d", ch->path,
                 (long)ch->pid, WEXITSTATUS(status));
    else
        bad = false;
    master_retire(ch);
    if (s == NULL)
        return;
    s->total--;
    if (bad && ch->uses == 0 && !m->stopping)
        svc_throttle(m, s);
}

/* master_reap - collect every exited child. */
void master_reap(struct master *m)
{
    int status;
    pid_t pid;

    for (int i = 0; i < REAP_BATCH; i++) {
        struct master_child **cp;

        pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        for (cp = &m->children; *cp && (*cp)->pid != pid; cp = &(*cp)->next)
            ;
        if (*cp == NULL)
            continue;
        struct master_child *ch = *cp;

        *cp = ch->next;
        child_ended(m, ch, status);
        free(ch->path);
        free(ch);
    }
}

/* master_signal_all - send sig to every child still alive. */
void master_signal_all(struct master *m, int sig)
{
    for (struct master_child *ch = m->children; ch; ch = ch->next)
        if (kill(ch->pid, sig) < 0 && errno != ESRCH)
            msg_warn("kill pid %ld: %m", (long)ch->pid);
}
