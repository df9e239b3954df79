/*
 * server - the daemon skeleton (see server.h for the contract).
 *
 * Owns the struct server of the process: its configuration, the inherited
 * status socket and listeners. Nothing here keeps global state: the
 * skeleton runs once per process and everything lives in that struct.
 * Environment errors are msg_fatal (the process must not run half set up);
 * a failed accept or a client going away is only a reason to go on.
 *
 * The wait for work is one epoll set per process: the status socket, and
 * the listeners with EPOLLEXCLUSIVE, so a new connection wakes one idle
 * process of the service instead of all of them (each of which would
 * otherwise try accept and get EAGAIN). ternd's stop reaches every
 * process all the same: a closed status socket is not exclusive, and a
 * shut-down listener wakes all its waiters. The status socket is read
 * only when epoll says it is readable; whether ternd is still our parent
 * is asked when the wait times out (at least once a minute) - its exit
 * closes the status socket, which wakes us at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "master/master_listen.h"
#include "master/server.h"

/* How long a trigger client may take to send its request bytes. */
#define SERVER_TRIGGER_READ_MS 1000

struct server {
    const struct server_ops *ops;
    conf *cf;                   /* as loaded */
    const conf *eff;            /* with this service's overrides */
    const char *config_opt;     /* -c */
    const char *service, *type;
    char **overrides;           /* -o values, NULL-terminated */
    size_t noverrides;
    char *const *args;
    int nlisten;
    bool log_stderr, standalone, stopping;
    pid_t parent;
    long max_use, max_idle;
    unsigned long uses;
    void *app;
};

/* Accessors. */
const conf *server_conf(const server *srv) { return srv->eff; }
const char *server_service(const server *srv) { return srv->service; }
const char *server_type(const server *srv) { return srv->type; }
char *const *server_args(const server *srv) { return srv->args; }
void server_set_app(server *srv, void *app) { srv->app = app; }
void *server_app(const server *srv) { return srv->app; }

/* now_ms - monotonic milliseconds. */
static long long now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        msg_fatal("clock_gettime: %m");
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* server_usage - the argument summary. */
static void server_usage(const server *srv)
{
    msg_fatal("usage: %s [-c dir] [-n service] [-t type] [-s count]"
              " [-o name=value]... [-e] [-v] [-S] [args]", srv->ops->program);
}

/* server_args_parse - the skeleton's options; stops at the first argument. */
static void server_args_parse(server *srv, int argc, char **argv)
{
    int ch;

    srv->overrides = xcalloc((size_t)argc + 1, sizeof(char *));
    srv->nlisten = 1;
    optind = 1;
    while ((ch = getopt(argc, argv, "+c:n:t:s:o:evS")) != -1) {
        if (ch == 'c')
            srv->config_opt = optarg;
        else if (ch == 'n')
            srv->service = optarg;
        else if (ch == 't')
            srv->type = optarg;
        else if (ch == 's') {
            char *end;
            long n = strtol(optarg, &end, 10);

            if (*end || n < 1 || n > MASTER_LISTEN_MAX)
                msg_fatal("bad listener count: -s %s", optarg);
            srv->nlisten = (int)n;
        } else if (ch == 'o')
            srv->overrides[srv->noverrides++] = optarg;
        else if (ch == 'e')
            srv->log_stderr = true;
        else if (ch == 'v')
            msg_set_verbose(msg_get_verbose() + 1);
        else if (ch == 'S')
            srv->standalone = true;
        else
            server_usage(srv);
    }
    srv->args = argv + optind;
    if (srv->service == NULL)
        srv->service = srv->ops->program;
    if (srv->type == NULL)
        srv->type = "unix";
}

/*
 * server_config - main.cf with the -o overrides of the command line (as
 * Postfix's daemons: ternd read master.cf, and a child started after an
 * edit must run with what ternd runs, not with the edited file); logging.
 */
static void server_config(server *srv)
{
    const char *logfile;

    srv->cf = conf_load_main(conf_dir(srv->config_opt));
    srv->eff = conf_with_overrides(srv->cf, srv->service, srv->overrides,
                                   srv->noverrides);
    if (conf_error_count(srv->cf) > 0) {
        conf_log_diags(srv->cf);
        msg_fatal("%zu error(s) in the configuration in %s",
                  conf_error_count(srv->cf), conf_directory(srv->cf));
    }
    msg_set_syslog_name(conf_get_str(srv->eff, "syslog_name"));
    logfile = conf_get_str(srv->eff, "maillog_file");
    if (msg_set_logfile(logfile) < 0)
        msg_fatal("open maillog_file %s: %m", logfile);
    msg_set_flags(MSG_TO_SYSLOG | (srv->log_stderr ? MSG_TO_STDERR | MSG_DAEMON : 0));
    srv->max_use = conf_get_int(srv->eff, "max_use");
    srv->max_idle = conf_get_time(srv->eff, "max_idle");
}

/* server_fds - check the inherited descriptors; keep them from exec'd programs. */
static void server_fds(server *srv)
{
    if (srv->standalone)
        return;
    for (int i = 0; i <= srv->nlisten; i++) {
        int fd = i == 0 ? SERVER_STATUS_FD : SERVER_LISTEN_FD + i - 1;

        if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
            msg_fatal("descriptor %d from ternd: %m (run me from ternd, or"
                      " with -S)", fd);
    }
}

/*
 * server_keeps_root - master.cf's unpriv column is "n" for this service
 * (Postfix's meaning: run with root privileges, e.g. the virtual agent,
 * which takes each mailbox owner's ids per delivery). Stand-alone runs and
 * services not in master.cf always drop.
 */
static bool server_keeps_root(const server *srv)
{
    const struct conf_service *s;

    if (srv->standalone)
        return false;
    s = conf_service_find(srv->cf, srv->service, srv->type);
    if (s == NULL || s->unpriv)
        return false;
    msg_debug("service %s/%s: unpriv is n, keeping root privileges",
              srv->service, srv->type);
    return true;
}

/* server_drop - root: become mail_owner for good (STYLE.md rule 7). */
static void server_drop(server *srv)
{
    const char *owner = conf_get_str(srv->eff, "mail_owner");
    uid_t ru, eu, su;
    gid_t rg, eg, sg, gid;
    struct passwd *pw;

    if (geteuid() != 0)
        return;
    if (server_keeps_root(srv))
        return;
    pw = getpwnam(owner);
    if (pw == NULL)
        msg_fatal("mail_owner user \"%s\" does not exist", owner);
    if (pw->pw_uid == 0)
        msg_fatal("mail_owner user \"%s\" has user ID 0", owner);
    gid = pw->pw_gid;
    if (setgroups(1, &gid) < 0)
        msg_fatal("setgroups(%ld): %m", (long)gid);
    if (setresgid(gid, gid, gid) < 0)
        msg_fatal("setresgid(%ld): %m", (long)gid);
    if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
        msg_fatal("setresuid(%ld): %m", (long)pw->pw_uid);
    if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
        msg_fatal("getresuid: %m");
    if (ru != pw->pw_uid || eu != pw->pw_uid || su != pw->pw_uid
        || rg != gid || eg != gid || sg != gid)
        msg_fatal("privilege drop to %s did not take effect", owner);
    if (setuid(0) == 0 || seteuid(0) == 0)
        msg_fatal("privileges could be regained after dropping them to %s",
                  owner);
}

/* server_tell - report busy/idle; a closed socket means ternd wants us gone. */
static void server_tell(server *srv, char what)
{
    if (srv->standalone)
        return;
    if (send(SERVER_STATUS_FD, &what, 1, MSG_NOSIGNAL) != 1)
        srv->stopping = true;
}

/* server_status_read - the status socket is readable: EOF means stop. */
static void server_status_read(server *srv)
{
    char buf[16];
    ssize_t n = recv(SERVER_STATUS_FD, buf, sizeof(buf), MSG_DONTWAIT);

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        srv->stopping = true;
}

/* server_stopping - ternd closed the status socket or went away. */
bool server_stopping(server *srv)
{
    struct pollfd p = {.fd = SERVER_STATUS_FD, .events = POLLIN};

    if (srv->stopping || srv->standalone)
        return srv->stopping;
    if (getppid() != srv->parent)
        srv->stopping = true;
    else if (poll(&p, 1, 0) > 0)
        server_status_read(srv);
    return srv->stopping;
}

/* server_retire - finish after the current request. */
void server_retire(server *srv)
{
    srv->stopping = true;
}

/* server_drain - read a trigger client's request bytes, briefly. */
static void server_drain(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char buf[256];

    if (poll(&p, 1, SERVER_TRIGGER_READ_MS) > 0
        && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0)
        msg_debug("trigger request: %m");
}

/* server_request - one accepted connection: a session or a trigger. */
static void server_request(server *srv, int fd)
{
    server_tell(srv, SERVER_STATUS_BUSY);
    if (srv->ops->mode == SERVER_TRIGGER) {
        server_drain(fd);
        if (srv->ops->trigger)
            srv->ops->trigger(srv);
    } else if (srv->ops->session) {
        srv->ops->session(srv, fd);
    }
    (void)close(fd);
    srv->uses++;
    server_tell(srv, SERVER_STATUS_IDLE);
}

/* server_wait_ms - how long to wait for work: idle limit, trigger timer. */
static int server_wait_ms(const server *srv, long long idle_since,
                          long long last_trigger)
{
    long long now = now_ms(), wait = 60000;

    if (!(srv->ops->flags & SERVER_LONG_RUNNING))
        wait = idle_since + srv->max_idle * 1000LL - now;
    if (srv->ops->mode == SERVER_TRIGGER && srv->ops->trigger_every > 0) {
        long long t = last_trigger + srv->ops->trigger_every * 1000LL - now;

        wait = t < wait ? t : wait;
    }
    if (wait > 60000)
        wait = 60000;                   /* re-check the parent now and then */
    return wait < 0 ? 0 : (int)wait;
}

/*
 * server_accept - take one connection from a ready listener: the socket,
 * -1 when there was none after all, -2 when ternd shut the listener down.
 */
static int server_accept(const struct epoll_event *ev, int n)
{
    for (int i = 0; i < n; i++) {
        int fd;

        if (ev[i].data.fd == SERVER_STATUS_FD)
            continue;
        if (ev[i].events & (EPOLLHUP | EPOLLERR))
            return -2;
        fd = accept4(ev[i].data.fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            return fd;
        if (errno == EINVAL)
            return -2;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED
            && errno != EINTR)
            msg_warn("accept: %m");
    }
    return -1;
}

/* server_watch - add fd to the epoll set; a listener only wakes one of us. */
static void server_watch(int ep, int fd, bool exclusive)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

    if (exclusive) {
        ev.events |= EPOLLEXCLUSIVE;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0)
            return;
        if (errno != EINVAL)            /* EINVAL: a kernel before 4.5 */
            msg_fatal("epoll_ctl add descriptor %d: %m", fd);
        ev.events = EPOLLIN;
    }
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        msg_fatal("epoll_ctl add descriptor %d: %m", fd);
}

/* server_epoll - the set the loop waits on: status socket and listeners. */
static int server_epoll(const server *srv)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);

    if (ep < 0)
        msg_fatal("epoll_create1: %m");
    server_watch(ep, SERVER_STATUS_FD, false);
    for (int i = 0; i < srv->nlisten; i++)
        server_watch(ep, SERVER_LISTEN_FD + i, true);
    return ep;
}

/* server_status_ready - whether the status socket is among the events. */
static bool server_status_ready(const struct epoll_event *ev, int n)
{
    for (int i = 0; i < n; i++)
        if (ev[i].data.fd == SERVER_STATUS_FD)
            return true;
    return false;
}

/* server_timer - a quiet spell ended: trigger timer or idle exit (true). */
static bool server_timer(server *srv, long long idle_since, long long *last_trigger)
{
    long long now = now_ms();

    if (srv->ops->mode == SERVER_TRIGGER && srv->ops->trigger_every > 0
        && now >= *last_trigger + srv->ops->trigger_every * 1000LL) {
        *last_trigger = now;
        if (srv->ops->trigger)
            srv->ops->trigger(srv);
    }
    return !(srv->ops->flags & SERVER_LONG_RUNNING)
        && now >= idle_since + srv->max_idle * 1000LL;
}

/*
 * server_loop - serve until max_use, max_idle or ternd says stop. ternd's
 * state (parent, status socket) is asked after a quiet spell or when the
 * status socket speaks, not before every accept: its exit or its closing
 * of the status socket wakes the wait at once.
 */
static void server_loop(server *srv)
{
    struct epoll_event ev[MASTER_LISTEN_MAX + 1];
    long long idle_since = now_ms(), last_trigger = idle_since;
    int ep = server_epoll(srv);
    bool ask = true;

    while (!srv->stopping && !(ask && server_stopping(srv))) {
        int n, fd;

        if (!(srv->ops->flags & SERVER_LONG_RUNNING)
            && srv->uses >= (unsigned long)srv->max_use)
            break;
        n = epoll_wait(ep, ev, MASTER_LISTEN_MAX + 1,
                       server_wait_ms(srv, idle_since, last_trigger));
        if (n < 0 && errno != EINTR)
            msg_fatal("epoll_wait: %m");
        if (n == 0 && server_timer(srv, idle_since, &last_trigger))
            break;
        ask = n <= 0 || server_status_ready(ev, n);
        if (ask)
            continue;                   /* status first: it may say stop */
        fd = server_accept(ev, n);
        if (fd == -2)
            break;                      /* stopped listening: we are done */
        if (fd < 0)
            continue;
        server_request(srv, fd);
        idle_since = now_ms();
        if (srv->ops->mode == SERVER_TRIGGER)
            last_trigger = idle_since;
    }
    (void)close(ep);
}

/* server_main - the whole life of a service process. */
int server_main(int argc, char **argv, const struct server_ops *ops)
{
    server srv = {.ops = ops};

    msg_open(ops->program, MSG_TO_STDERR | MSG_DAEMON);
    server_args_parse(&srv, argc, argv);
    server_config(&srv);
    server_fds(&srv);
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        msg_fatal("signal: %m");
    srv.parent = getppid();
    if (ops->pre_drop && ops->pre_drop(&srv) < 0)
        msg_fatal("%s: initialization before the privilege drop failed",
                  ops->program);
    server_drop(&srv);
    if (ops->init && ops->init(&srv) < 0)
        msg_fatal("%s: initialization failed", ops->program);
    /* give back what set-up freed: dozens of processes sit idle like this */
    (void)malloc_trim(0);
    if (srv.standalone) {
        if (ops->mode == SERVER_SESSION && ops->session)
            ops->session(&srv, STDIN_FILENO);
        else if (ops->mode == SERVER_TRIGGER && ops->trigger)
            ops->trigger(&srv);
    } else {
        server_loop(&srv);
    }
    conf_free(srv.cf);
    free(srv.overrides);
    return 0;
}
