/*
 * master - ternd: runs the services of master.cf (DESIGN.md "Programs and
 * processes").
 *
 * A struct master owns the loaded configuration, one struct master_svc per
 * runnable master.cf entry (its listening sockets and process accounting)
 * and one struct master_child per living process. The event loop is a
 * single poll(2) over a self-pipe the signal handlers write to (the handlers
 * themselves live in ternd_main.c and do nothing else), the children's
 * status sockets and, when a service has no idle process, its listeners.
 *
 * Child protocol (see server.h): fd SERVER_STATUS_FD is one end of a socket
 * pair; the child writes SERVER_STATUS_BUSY when it takes a connection and
 * SERVER_STATUS_IDLE when done. ternd closes its end to tell a child to
 * finish its current work and exit (reload, stop, removed service); the
 * child also sees EOF there when ternd dies.
 *
 * Failures of one service (bad command, crashes, bind errors at reload) are
 * logged and throttled and never stop the others. Only a configuration or
 * bind error at start is fatal.
 */
#ifndef TERN_MASTER_H
#define TERN_MASTER_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/strbuf.h"
#include "conf/conf.h"
#include "master/master_listen.h"

/* The process limit used for maxproc 0 ("no limit"). */
#define MASTER_PROC_CAP 1000

/* Throttle back-off: first delay; the cap is service_throttle_time. */
#define MASTER_THROTTLE_FIRST_MS 1000

struct master_svc;

struct master_child {
    pid_t pid;
    int status_fd;              /* ternd's end; -1 once retired */
    bool busy;                  /* took a connection, not yet idle again */
    unsigned uses;              /* connections taken */
    long long started_ms;
    char *path;                 /* program, for log lines */
    struct master_svc *svc;     /* NULL once its service is removed */
    struct master_child *next;
};

struct master_svc {
    char *name;                 /* master.cf service field */
    char *type;                 /* "inet" / "unix" */
    bool inet;
    char *host;                 /* inet host part or NULL */
    int port;
    bool private_;
    char *command;              /* argv[0] as written */
    char *path;                 /* program to execute */
    char **args;                /* master.cf arguments after the command */
    char **overrides;           /* "name=value" of each -o */
    int maxproc;                /* resolved, > 0 */
    int wakeup;                 /* seconds, 0 = never */
    struct master_listen ls;    /* nfd == 0: not listening (disabled) */
    unsigned total;             /* children not yet reaped (retired too) */
    unsigned avail;             /* idle, not retired children */
    long long throttle_until_ms;/* no new process before this */
    long long throttle_ms;      /* current back-off step (0 = none) */
    long long next_wakeup_ms;
    bool demand;                /* a connection waits, nobody idle */
    bool seen;                  /* mark for reload */
    struct master_svc *next;
};

struct master {
    char *config_dir;
    conf *cf;
    char *queue_directory;
    char *daemon_directory;
    long long throttle_max_ms;
    long stop_timeout_s;
    int sig_fd;                 /* read end of the self-pipe, -1 = none */
    bool log_stderr;            /* children log to stderr too (-e) */
    bool stopping;
    long long stop_deadline_ms;
    struct master_svc *svcs;
    struct master_child *children;
};

/* master_init - an empty master for config_dir; sig_fd as above. */
void master_init(struct master *m, const char *config_dir, int sig_fd);

/* master_free - release everything (children are not signalled). */
void master_free(struct master *m);

/*
 * master_load - (re)read main.cf and master.cf and make the services match:
 * new services start listening, removed ones stop, unchanged listeners are
 * kept open, and every existing child is retired so that new processes use
 * the new configuration. At start (no services yet) any error is returned
 * (-1 + why); at reload, configuration errors keep the old configuration and
 * a service that cannot listen is disabled with a warning.
 */
int master_load(struct master *m, strbuf *why);

/* master_run - the event loop; returns when a stop or abort completed. */
void master_run(struct master *m);

/* master_now_ms - the monotonic clock in milliseconds. */
long long master_now_ms(void);

/* ---- processes (master_child.c) ---- */

/* master_schedule - start processes wherever a service needs one now. */
void master_schedule(struct master *m);

/* master_reap - collect exited children, log abnormal ends, throttle. */
void master_reap(struct master *m);

/* master_status - read a child's busy/idle bytes (its status fd is ready). */
void master_status(struct master *m, struct master_child *ch);

/* master_retire - tell a child to finish and exit; it no longer counts idle. */
void master_retire(struct master_child *ch);

/* master_signal_all - send sig to every child. */
void master_signal_all(struct master *m, int sig);

/* ---- services (master_svc.c) ---- */

/* master_svc_sync - services from m->cf: update, add, remove; see master_load. */
int master_svc_sync(struct master *m, bool starting, strbuf *why);

/* master_svc_free_all - close and free every service (at exit). */
void master_svc_free_all(struct master *m);

/* master_svc_close_all - stop listening on every service (stop/abort). */
void master_svc_close_all(struct master *m);

/* master_wakeup - send due wake-up triggers; returns ms until the next. */
long long master_wakeup(struct master *m, long long now);

#endif
