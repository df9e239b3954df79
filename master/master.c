/*
 * master - ternd's configuration life cycle and event loop (see master.h).
 *
 * Owns the struct master: the loaded conf, the service list (master_svc.c)
 * and the child list (master_child.c). Signals arrive as bytes on the
 * self-pipe (the signal number) and are acted on here, never in a handler.
 * A reload that finds configuration errors keeps the old configuration; a
 * stop waits for sessions up to ternd_stop_timeout, then kills what is left.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "master/master.h"

#ifndef TERN_VERSION
#define TERN_VERSION "unknown"
#endif

/* Longest single poll wait: timers are re-evaluated at least this often. */
#define LOOP_MAX_WAIT_MS 60000

/* One polled descriptor: the self-pipe, a child's status, or a listener. */
struct loop_ref {
    struct master_child *child;
    struct master_svc *svc;
};

struct loop_set {
    struct pollfd *pfd;
    struct loop_ref *ref;
    size_t n, cap;
};

/* master_now_ms - monotonic milliseconds. */
long long master_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        msg_fatal("clock_gettime: %m");
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* master_init - an empty master. */
void master_init(struct master *m, const char *config_dir, int sig_fd)
{
    memset(m, 0, sizeof(*m));
    m->config_dir = xstrdup(config_dir);
    m->sig_fd = sig_fd;
}

/* master_free - release everything; children are left alone. */
void master_free(struct master *m)
{
    while (m->children) {
        struct master_child *ch = m->children;

        m->children = ch->next;
        master_retire(ch);
        free(ch->path);
        free(ch);
    }
    master_svc_free_all(m);
    if (m->cf)
        conf_free(m->cf);
    free(m->config_dir);
    free(m->queue_directory);
    free(m->daemon_directory);
    memset(m, 0, sizeof(*m));
}

/* master_settings - copy the parameters ternd itself uses from m->cf. */
static void master_settings(struct master *m, bool starting)
{
    const char *qdir = conf_get_str(m->cf, "queue_directory");

    if (starting) {
        m->queue_directory = xstrdup(qdir);
    } else if (strcmp(qdir, m->queue_directory) != 0) {
        msg_warn("queue_directory changed to %s: a reload keeps %s;"
                 " restart tern to use the new one", qdir, m->queue_directory);
    }
    free(m->daemon_directory);
    m->daemon_directory = xstrdup(conf_get_str(m->cf, "daemon_directory"));
    m->throttle_max_ms = 1000LL * conf_get_time(m->cf, "service_throttle_time");
    if (m->throttle_max_ms < MASTER_THROTTLE_FIRST_MS)
        m->throttle_max_ms = MASTER_THROTTLE_FIRST_MS;
    m->stop_timeout_s = conf_get_time(m->cf, "ternd_stop_timeout");
    msg_set_syslog_name(conf_get_str(m->cf, "syslog_name"));
    if (msg_set_logfile(conf_get_str(m->cf, "maillog_file")) < 0)
        msg_warn("open maillog_file %s: %m", conf_get_str(m->cf, "maillog_file"));
}

/* master_load - (re)read the configuration and apply it. */
int master_load(struct master *m, strbuf *why)
{
    bool starting = m->cf == NULL;
    conf *c = conf_load(m->config_dir), *old = m->cf;

    conf_log_diags(c);
    if (conf_error_count(c) > 0) {
        sb_printf(why, "%zu error(s) in the configuration in %s%s",
                  conf_error_count(c), m->config_dir,
                  starting ? "" : " -- keeping the old configuration");
        conf_free(c);
        return -1;
    }
    m->cf = c;
    master_settings(m, starting);
    for (struct master_child *ch = m->children; ch; ch = ch->next)
        master_retire(ch);              /* new processes, new configuration */
    if (master_svc_sync(m, starting, why) < 0)
        return -1;
    if (old)
        conf_free(old);
    return 0;
}

/* loop_add - append one descriptor to poll. */
static void loop_add(struct loop_set *ls, int fd, struct master_child *ch,
                     struct master_svc *s)
{
    if (ls->n == ls->cap) {
        ls->cap = ls->cap ? ls->cap * 2 : 64;
        ls->pfd = xreallocarray(ls->pfd, ls->cap, sizeof(*ls->pfd));
        ls->ref = xreallocarray(ls->ref, ls->cap, sizeof(*ls->ref));
    }
    ls->pfd[ls->n] = (struct pollfd){.fd = fd, .events = POLLIN};
    ls->ref[ls->n++] = (struct loop_ref){.child = ch, .svc = s};
}

/* wants_demand - whether a service's listeners should wake ternd. */
static bool wants_demand(const struct master_svc *s, long long now)
{
    return !s->demand && s->avail == 0 && s->total < (unsigned)s->maxproc
        && now >= s->throttle_until_ms;
}

/* loop_build - the descriptors of this round. */
static void loop_build(struct master *m, struct loop_set *ls, long long now)
{
    ls->n = 0;
    if (m->sig_fd >= 0)
        loop_add(ls, m->sig_fd, NULL, NULL);
    for (struct master_child *ch = m->children; ch; ch = ch->next)
        if (ch->status_fd >= 0)
            loop_add(ls, ch->status_fd, ch, NULL);
    for (struct master_svc *s = m->svcs; s; s = s->next)
        if (wants_demand(s, now))
            for (size_t i = 0; i < s->ls.nfd; i++)
                loop_add(ls, s->ls.fd[i], NULL, s);
}

/* min_wait - fold a candidate delay into the current one. */
static long long min_wait(long long cur, long long cand)
{
    if (cand < 0)
        return cur;
    return cand < cur ? cand : cur;
}

/* loop_timeout - ms until the next timer: wake-up, throttle end, stop. */
static int loop_timeout(struct master *m, long long now)
{
    long long wait = min_wait(LOOP_MAX_WAIT_MS, master_wakeup(m, now));

    for (struct master_svc *s = m->svcs; s; s = s->next)
        if (s->throttle_until_ms > now)
            wait = min_wait(wait, s->throttle_until_ms - now);
    if (m->stopping)
        wait = min_wait(wait, m->stop_deadline_ms > now
                        ? m->stop_deadline_ms - now : 0);
    return wait < 0 ? 0 : (int)wait;
}

/* master_stop - stop accepting; children finish their sessions. */
static void master_stop(struct master *m, int sig)
{
    if (m->stopping)
        return;
    msg_info("terminating on signal %d", sig);
    master_svc_close_all(m);
    m->stopping = true;
    m->stop_deadline_ms = master_now_ms() + m->stop_timeout_s * 1000LL;
}

/* master_reload - SIGHUP: read the configuration again. */
static void master_reload(struct master *m)
{
    strbuf why;

    if (m->stopping)
        return;
    sb_init(&why, 4096);
    if (master_load(m, &why) < 0)
        msg_warn("reload failed: %s", sb_str(&why));
    else
        msg_info("reload -- version %s, configuration %s", TERN_VERSION,
                 m->config_dir);
    sb_release(&why);
}

/* master_abort - SIGQUIT: kill every child now and leave. */
static void master_abort(struct master *m)
{
    msg_info("terminating immediately on signal %d", SIGQUIT);
    master_svc_close_all(m);
    master_signal_all(m, SIGKILL);
    m->stopping = true;
    m->stop_deadline_ms = 0;
}

/* loop_signals - act on every signal byte waiting in the self-pipe. */
static bool loop_signals(struct master *m)
{
    unsigned char sig[64];
    ssize_t n;

    while ((n = read(m->sig_fd, sig, sizeof(sig))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (sig[i] == SIGCHLD)
                master_reap(m);
            else if (sig[i] == SIGHUP)
                master_reload(m);
            else if (sig[i] == SIGTERM || sig[i] == SIGINT)
                master_stop(m, sig[i]);
            else if (sig[i] == SIGQUIT) {
                master_abort(m);
                return true;
            }
        }
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
        msg_fatal("read signal pipe: %m");
    return false;
}

/* loop_stop_check - during a stop: kill stragglers after the timeout. */
static void loop_stop_check(struct master *m)
{
    unsigned left = 0;

    if (!m->stopping || m->stop_deadline_ms > master_now_ms())
        return;
    for (struct master_child *ch = m->children; ch; ch = ch->next)
        left++;
    if (left > 0)
        msg_warn("%u process(es) still running after %lds -- killing them",
                 left, m->stop_timeout_s);
    master_signal_all(m, SIGKILL);
    m->stop_deadline_ms = master_now_ms() + LOOP_MAX_WAIT_MS;
}

/* master_run - serve until stopped. */
void master_run(struct master *m)
{
    struct loop_set ls = {0};

    for (;;) {
        long long now;
        int rc;

        master_schedule(m);
        if (m->stopping && m->children == NULL)
            break;
        now = master_now_ms();
        loop_build(m, &ls, now);
        rc = poll(ls.pfd, ls.n, loop_timeout(m, now));
        if (rc < 0 && errno != EINTR)
            msg_fatal("poll: %m");
        for (size_t i = 0; rc > 0 && i < ls.n; i++) {
            if (ls.pfd[i].revents == 0)
                continue;
            if (ls.ref[i].child)
                master_status(m, ls.ref[i].child);
            else if (ls.ref[i].svc)
                ls.ref[i].svc->demand = true;
        }
        /* Signals last: a reap may free children referenced above. */
        if (rc > 0 && m->sig_fd >= 0 && ls.pfd[0].revents && loop_signals(m))
            break;
        loop_stop_check(m);
    }
    free(ls.pfd);
    free(ls.ref);
}
