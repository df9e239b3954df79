/*
 * server - the one skeleton every tern daemon runs in (STYLE.md rule 7).
 *
 * server_main() parses the arguments ternd gives a service process
 *   -c DIR  -n SERVICE  -t TYPE  -s COUNT  [-o NAME=VALUE]...  [-e] [-v] [-S]
 * loads the configuration for that master.cf service: main.cf plus the -o
 * overrides of its command line (conf_load_main + conf_with_overrides; like
 * Postfix's daemons it never takes -o from master.cf, which may have been
 * edited since ternd read it, and a broken master.cf does not stop it),
 * points logging at syslog_name / maillog_file, calls
 * ops->pre_drop (open what needs privilege: keys, ports), drops privileges
 * to mail_owner when running as root (setgroups, setresgid, setresuid, each
 * checked, then verified irreversible; not when the service's master.cf
 * unpriv column is "n", which keeps root as in Postfix), calls ops->init,
 * and serves:
 *
 *  - SERVER_SESSION: accept one connection at a time on the inherited
 *    listeners and call ops->session(srv, fd); the skeleton closes fd after.
 *  - SERVER_TRIGGER: each accepted connection is a wake-up request (its
 *    bytes are read and dropped); call ops->trigger(srv). Also called every
 *    ops->trigger_every seconds of quiet when that is > 0.
 *
 * It tells ternd "busy"/"idle" around each request, and exits (status 0)
 * after max_use requests or max_idle idle seconds (unless the program sets
 * SERVER_LONG_RUNNING), and when ternd closes the status socket or goes away
 * — always after finishing the current request. With -S (stand-alone, for
 * debugging and tests without ternd) it runs one session on stdin.
 *
 * Anything wrong in the environment (bad arguments, configuration errors,
 * a failed privilege drop) is msg_fatal: a service never runs half-set-up.
 */
#ifndef TERN_SERVER_H
#define TERN_SERVER_H

#include <stdbool.h>

#include "conf/conf.h"

/* Descriptors ternd hands a service process. */
#define SERVER_STATUS_FD 3          /* socket pair to ternd */
#define SERVER_LISTEN_FD 4          /* first listener; -s says how many */

/* Status bytes a process writes to ternd. */
#define SERVER_STATUS_BUSY 'B'
#define SERVER_STATUS_IDLE 'I'

/* Request byte ternd writes to a trigger service on each wake-up. */
#define SERVER_TRIGGER_WAKEUP 'W'

enum server_mode {
    SERVER_SESSION,             /* one connection at a time */
    SERVER_TRIGGER,             /* wake-up requests (pickup, qmgr) */
};

/* server_ops flags */
#define SERVER_LONG_RUNNING (1u << 0)   /* ignore max_use and max_idle */

typedef struct server server;

struct server_ops {
    const char *program;        /* log name: "smtpd" */
    enum server_mode mode;
    unsigned flags;
    int trigger_every;          /* SERVER_TRIGGER: seconds, 0 = only on wake-up */
    /* Each hook may be NULL. pre_drop/init return -1 to refuse to run. */
    int (*pre_drop)(server *srv);
    int (*init)(server *srv);
    void (*session)(server *srv, int fd);
    void (*trigger)(server *srv);
};

/* server_main - run the daemon; returns the process exit status. */
int server_main(int argc, char **argv, const struct server_ops *ops);

/* server_conf - the effective configuration of this service. */
const conf *server_conf(const server *srv);

/* server_service / server_type - master.cf name and type ("smtp", "inet"). */
const char *server_service(const server *srv);
const char *server_type(const server *srv);

/* server_args - positional arguments after the options; NULL-terminated. */
char *const *server_args(const server *srv);

/* server_set_app / server_app - the program's own context pointer. */
void server_set_app(server *srv, void *app);
void *server_app(const server *srv);

/*
 * server_stopping - true once ternd asked this process to finish (or went
 * away); a long session may check it to end early and politely.
 */
bool server_stopping(server *srv);

/*
 * server_retire - end the process after the current request, as after
 * max_use: for a program whose own budget counts something else than
 * connections (a delivery agent's requests, docs/delivery-protocol.md).
 */
void server_retire(server *srv);

#endif
