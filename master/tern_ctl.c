/*
 * tern_ctl - tern start/start-fg/stop/reload/status/abort (see tern_ctl.h).
 *
 * Owns nothing beyond one command's run. ternd is found next to the running
 * tern program (/proc/self/exe), so a build tree and an installation both
 * work. Processes are addressed only through the PID the lock holder has.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "conf/conf.h"
#include "master/master.h"
#include "master/master_pid.h"
#include "master/tern_ctl.h"

#define CTL_EX_USAGE 64
#define CTL_POLL_MS 100
#define CTL_STOP_GRACE_S 15

extern char **environ;

struct ctl {
    const char *dir;            /* configuration directory */
    strbuf pidpath;
    long stop_timeout;          /* seconds ternd may wait for sessions */
};

/*
 * ctl_open - parse [-c DIR], read the configuration; -1 = exit with *rc.
 * strict: configuration errors refuse the command (start, reload); else
 * they are reported and the spool is still found (stop, status, abort).
 */
static int ctl_open(struct ctl *ctl, int argc, char **argv, bool strict,
                    int *rc)
{
    const char *opt = NULL;
    conf *c;
    int ch;

    sb_init(&ctl->pidpath, 4096);       /* first: ctl_done always works */
    optind = 1;
    while ((ch = getopt(argc, argv, "c:")) != -1) {
        if (ch != 'c') {
            optind = argc + 1;
            break;
        }
        opt = optarg;
    }
    if (optind != argc) {
        fprintf(stderr, "usage: tern %s [-c config_directory]\n", argv[0]);
        *rc = CTL_EX_USAGE;
        return -1;
    }
    ctl->dir = conf_dir(opt);
    c = conf_load(ctl->dir);
    if (conf_error_count(c) > 0) {
        conf_log_diags(c);
        msg_warn("%zu error(s) in the configuration in %s%s",
                 conf_error_count(c), ctl->dir, strict ? "" : " (ignored)");
        if (strict) {
            conf_free(c);
            *rc = 1;
            return -1;
        }
    }
    (void)master_pid_path(conf_get_str(c, "queue_directory"), &ctl->pidpath);
    ctl->stop_timeout = conf_get_time(c, "ternd_stop_timeout");
    conf_free(c);
    return 0;
}

/* ctl_done - release what ctl_open allocated; passes rc through. */
static int ctl_done(struct ctl *ctl, int rc)
{
    sb_release(&ctl->pidpath);
    return rc;
}

/* ctl_pid - the running ternd's PID, 0 if none; errors are logged (0). */
static pid_t ctl_pid(struct ctl *ctl)
{
    strbuf why;
    pid_t pid;

    sb_init(&why, 4096);
    pid = master_pid_query(sb_str(&ctl->pidpath), &why);
    if (pid < 0) {
        msg_warn("%s", sb_str(&why));
        pid = 0;
    }
    sb_release(&why);
    return pid;
}

/* ctl_wait_gone - wait (bounded) until nobody holds the lock. */
static int ctl_wait_gone(struct ctl *ctl, long seconds)
{
    struct timespec nap = {0, CTL_POLL_MS * 1000000L};

    for (long i = 0; i < seconds * (1000 / CTL_POLL_MS); i++) {
        if (ctl_pid(ctl) == 0)
            return 0;
        (void)nanosleep(&nap, NULL);
    }
    return -1;
}

/* ctl_ternd - the ternd program next to this tern. */
static int ctl_ternd(strbuf *out)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash;

    if (n <= 0)
        return -1;
    self[n] = '\0';
    slash = strrchr(self, '/');
    if (slash == NULL)
        return -1;
    *slash = '\0';
    sb_reset(out);
    return sb_printf(out, "%s/ternd", self);
}

/* ctl_signal - send sig to the running ternd; 0, or 1 if not running. */
static int ctl_signal(struct ctl *ctl, int sig, pid_t *pid)
{
    *pid = ctl_pid(ctl);
    if (*pid == 0) {
        msg_warn("the mail system is not running");
        return 1;
    }
    if (kill(*pid, sig) < 0) {
        msg_warn("signal ternd pid %ld: %m", (long)*pid);
        return 1;
    }
    return 0;
}

/* tern_ctl_start - run ternd -d and report whether it started. */
int tern_ctl_start(int argc, char **argv)
{
    struct ctl ctl;
    strbuf prog;
    pid_t pid;
    int rc = 0, status;

    if (ctl_open(&ctl, argc, argv, true, &rc) < 0)
        return ctl_done(&ctl, rc);
    if ((pid = ctl_pid(&ctl)) > 0) {
        msg_warn("the mail system is already running (pid %ld)", (long)pid);
        return ctl_done(&ctl, 1);
    }
    sb_init(&prog, 4096);
    if (ctl_ternd(&prog) < 0)
        msg_fatal("cannot find ternd next to this program");
    {
        char *dir = xstrdup(ctl.dir);
        char *args[] = {"ternd", "-d", "-c", dir, NULL};

        errno = posix_spawn(&pid, sb_str(&prog), NULL, NULL, args, environ);
        if (errno != 0)
            msg_fatal("execute %s: %m", sb_str(&prog));
        free(dir);
    }
    sb_release(&prog);
    if (waitpid(pid, &status, 0) < 0)
        msg_fatal("wait for ternd: %m");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        msg_warn("the mail system did not start (see the messages above"
                 " or the mail log)");
        return ctl_done(&ctl, 1);
    }
    msg_info("the mail system is started (pid %ld)", (long)ctl_pid(&ctl));
    return ctl_done(&ctl, 0);
}

/* tern_ctl_start_fg - become ternd in the foreground. */
int tern_ctl_start_fg(int argc, char **argv)
{
    struct ctl ctl;
    strbuf prog;
    pid_t pid;
    int rc = 0;

    if (ctl_open(&ctl, argc, argv, true, &rc) < 0)
        return ctl_done(&ctl, rc);
    if ((pid = ctl_pid(&ctl)) > 0) {
        msg_warn("the mail system is already running (pid %ld)", (long)pid);
        return ctl_done(&ctl, 1);
    }
    sb_init(&prog, 4096);
    if (ctl_ternd(&prog) < 0)
        msg_fatal("cannot find ternd next to this program");
    {
        char *args[] = {"ternd", "-c", xstrdup(ctl.dir), NULL};

        execv(sb_str(&prog), args);
    }
    msg_fatal("execute %s: %m", sb_str(&prog));
}

/* How stop, reload and abort differ: one signal, words, and a wait. */
enum ctl_wait { CTL_NO_WAIT, CTL_WAIT_SESSIONS, CTL_WAIT_GRACE };

struct ctl_action {
    int sig;
    bool strict;                /* refuse a configuration with errors */
    const char *doing;          /* "stopping" ... for the log line */
    enum ctl_wait wait;
};

/* ctl_act - signal ternd, log it, and wait for it to go as asked. */
static int ctl_act(int argc, char **argv, const struct ctl_action *a)
{
    struct ctl ctl;
    pid_t pid;
    long seconds;
    int rc = 0;

    if (ctl_open(&ctl, argc, argv, a->strict, &rc) < 0
        || (rc = ctl_signal(&ctl, a->sig, &pid)) != 0)
        return ctl_done(&ctl, rc);
    msg_info("%s the mail system (pid %ld)", a->doing, (long)pid);
    if (a->wait == CTL_NO_WAIT)
        return ctl_done(&ctl, 0);
    seconds = CTL_STOP_GRACE_S
        + (a->wait == CTL_WAIT_SESSIONS ? ctl.stop_timeout : 0);
    if (ctl_wait_gone(&ctl, seconds) < 0) {
        if (a->wait == CTL_WAIT_SESSIONS)
            msg_warn("ternd pid %ld is still running", (long)pid);
        return ctl_done(&ctl, 1);
    }
    return ctl_done(&ctl, 0);
}

/* tern_ctl_stop - SIGTERM, then wait for sessions to end and ternd to go. */
int tern_ctl_stop(int argc, char **argv)
{
    static const struct ctl_action stop = {
        SIGTERM, false, "stopping", CTL_WAIT_SESSIONS,
    };

    return ctl_act(argc, argv, &stop);
}

/* tern_ctl_reload - SIGHUP. */
int tern_ctl_reload(int argc, char **argv)
{
    static const struct ctl_action reload = {
        SIGHUP, true, "refreshing", CTL_NO_WAIT,
    };

    return ctl_act(argc, argv, &reload);
}

/* tern_ctl_abort - SIGQUIT: everything stops now. */
int tern_ctl_abort(int argc, char **argv)
{
    static const struct ctl_action abort_now = {
        SIGQUIT, false, "aborting", CTL_WAIT_GRACE,
    };

    return ctl_act(argc, argv, &abort_now);
}

/* tern_ctl_status - exit 0 "tern is running (pid N)" or 1 "... not running". */
int tern_ctl_status(int argc, char **argv)
{
    struct ctl ctl;
    pid_t pid;
    int rc = 0;

    if (ctl_open(&ctl, argc, argv, false, &rc) < 0)
        return ctl_done(&ctl, rc);
    pid = ctl_pid(&ctl);
    if (pid > 0)
        printf("tern is running (pid %ld)\n", (long)pid);
    else
        printf("tern is not running\n");
    return ctl_done(&ctl, pid > 0 ? 0 : 1);
}
