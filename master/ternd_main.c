/*
 * ternd - the tern master daemon (thin main; the logic is master*.c).
 *
 *   ternd [-c DIR] [-d] [-v]
 *
 * Reads the configuration (-c, $MAIL_CONFIG or the built-in directory),
 * checks a root start's accounts, creates the spool, takes the PID-file
 * lock, opens every listener and runs the services of master.cf until
 * SIGTERM/SIGINT (stop), SIGQUIT (abort); SIGHUP reloads. With -d it
 * detaches and its parent exits 0 only once all of that succeeded (what
 * `tern start` waits for). Logs go to stderr in the foreground unless
 * maillog_file is set, else to syslog or maillog_file.
 *
 * The one piece of global state: the self-pipe the signal handlers write
 * the signal number to (handlers do nothing else).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/msg.h"
#include "conf/conf.h"
#include "master/master.h"
#include "master/master_pid.h"
#include "queue/spool.h"

#ifndef TERN_VERSION
#define TERN_VERSION "unknown"
#endif

static int ternd_sig_pipe = -1;         /* write end, for the handlers */

/* ternd_on_signal - hand the signal to the event loop. */
static void ternd_on_signal(int sig)
{
    unsigned char b = (unsigned char)sig;
    int saved = errno;
    ssize_t n = write(ternd_sig_pipe, &b, 1);

    (void)n;                            /* full pipe: a wake-up is pending */
    errno = saved;
}

/* ternd_signals - the self-pipe and handlers; returns the read end. */
static int ternd_signals(void)
{
    static const int sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGCHLD};
    struct sigaction sa = {.sa_handler = ternd_on_signal,
                           .sa_flags = SA_RESTART | SA_NOCLDSTOP};
    int p[2];

    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
        msg_fatal("pipe: %m");
    ternd_sig_pipe = p[1];
    if (sigemptyset(&sa.sa_mask) < 0)
        msg_fatal("sigemptyset: %m");
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL) < 0)
            msg_fatal("sigaction: %m");
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        msg_fatal("signal: %m");
    return p[0];
}

/*
 * ternd_accounts - a root start needs mail_owner and setgid_group; it gives
 * the spool to them (spool_set_owner). Other starts own what they make.
 */
static void ternd_accounts(const conf *c)
{
    const char *owner = conf_get_str(c, "mail_owner");
    const char *group = conf_get_str(c, "setgid_group");
    struct passwd *pw;
    struct group *gr;
    strbuf why;

    if (geteuid() != 0)
        return;
    errno = 0;
    pw = getpwnam(owner);
    if (pw == NULL)
        msg_fatal("mail_owner user \"%s\" does not exist; create it with:"
                  " useradd --system --home-dir %s --shell /usr/sbin/nologin %s",
                  owner, conf_get_str(c, "queue_directory"), owner);
    if (pw->pw_uid == 0)
        msg_fatal("mail_owner user \"%s\" has user ID 0: it must be an"
                  " unprivileged account of its own", owner);
    errno = 0;
    if ((gr = getgrnam(group)) == NULL)
        msg_fatal("setgid_group group \"%s\" does not exist; create it with:"
                  " groupadd --system %s", group, group);
    sb_init(&why, 4096);
    if (spool_create(conf_get_str(c, "queue_directory"), &why) < 0
        || spool_set_owner(conf_get_str(c, "queue_directory"), pw->pw_uid,
                           pw->pw_gid, gr->gr_gid, &why) < 0)
        msg_fatal("spool %s: %s", conf_get_str(c, "queue_directory"),
                  sb_str(&why));
    sb_release(&why);
}

/* ternd_prepare - read the configuration, check accounts, create the spool. */
static void ternd_prepare(const char *dir, strbuf *pidpath, bool *logfile)
{
    conf *c = conf_load(dir);
    strbuf why;

    conf_log_diags(c);
    if (conf_error_count(c) > 0)
        msg_fatal("%zu error(s) in the configuration in %s",
                  conf_error_count(c), dir);
    if (msg_set_logfile(conf_get_str(c, "maillog_file")) < 0)
        msg_fatal("open maillog_file %s: %m", conf_get_str(c, "maillog_file"));
    msg_set_syslog_name(conf_get_str(c, "syslog_name"));
    *logfile = conf_get_str(c, "maillog_file")[0] != '\0';
    ternd_accounts(c);
    sb_init(&why, 4096);
    if (spool_create(conf_get_str(c, "queue_directory"), &why) < 0)
        msg_fatal("create spool %s: %s", conf_get_str(c, "queue_directory"),
                  sb_str(&why));
    sb_release(&why);
    if (master_pid_path(conf_get_str(c, "queue_directory"), pidpath) < 0)
        msg_fatal("queue_directory path too long");
    conf_free(c);
}

/* ternd_detach - fork; the parent exits 0 once the child says it is ready. */
static int ternd_detach(void)
{
    int p[2];
    char ok;
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) < 0)
        msg_fatal("pipe: %m");
    pid = fork();
    if (pid < 0)
        msg_fatal("fork: %m");
    if (pid > 0) {
        (void)close(p[1]);
        _exit(read(p[0], &ok, 1) == 1 ? 0 : 1);
    }
    (void)close(p[0]);
    if (setsid() < 0)
        msg_fatal("setsid: %m");
    return p[1];
}

/* ternd_ready - tell the waiting parent, then leave the terminal behind. */
static void ternd_ready(int ready_fd)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (null < 0)
        msg_fatal("open /dev/null: %m");
    for (int fd = 0; fd <= 2; fd++)
        if (dup2(null, fd) < 0)
            msg_fatal("dup2 /dev/null: %m");
    (void)close(null);
    if (write(ready_fd, "R", 1) != 1)
        msg_warn("tell the starting command we are ready: %m");
    (void)close(ready_fd);
}

/* ternd_usage - the usage line. */
static void ternd_usage(void)
{
    msg_fatal("usage: ternd [-c config_directory] [-d] [-v]");
}

int main(int argc, char **argv)
{
    const char *dir_opt = NULL;
    bool detach = false, logfile = false;
    int ch, pidfd, ready_fd = -1;
    strbuf pidpath, why;
    struct master m;
    pid_t holder;

    msg_open("ternd", MSG_TO_STDERR | MSG_DAEMON);
    while ((ch = getopt(argc, argv, "c:dv")) != -1) {
        if (ch == 'c')
            dir_opt = optarg;
        else if (ch == 'd')
            detach = true;
        else if (ch == 'v')
            msg_set_verbose(msg_get_verbose() + 1);
        else
            ternd_usage();
    }
    if (optind != argc)
        ternd_usage();
    sb_init(&pidpath, 4096);
    sb_init(&why, 4096);
    ternd_prepare(conf_dir(dir_opt), &pidpath, &logfile);
    /* Until started, errors also reach the terminal that started us. */
    if (detach || logfile)
        msg_set_flags(MSG_TO_STDERR | MSG_TO_SYSLOG);
    master_init(&m, conf_dir(dir_opt), -1);
    m.log_stderr = !detach && !logfile;
    if (detach)
        ready_fd = ternd_detach();
    pidfd = master_pid_lock(sb_str(&pidpath), &holder, &why);
    if (pidfd < 0)
        msg_fatal("%s", sb_str(&why));
    m.sig_fd = ternd_signals();
    if (master_load(&m, &why) < 0) {
        (void)unlink(sb_str(&pidpath));
        msg_fatal("%s", sb_str(&why));
    }
    msg_info("daemon started -- version %s, configuration %s", TERN_VERSION,
             m.config_dir);
    if (detach || logfile)
        msg_set_flags(MSG_TO_SYSLOG);
    if (detach)
        ternd_ready(ready_fd);
    master_run(&m);
    if (unlink(sb_str(&pidpath)) < 0)
        msg_warn("remove %s: %m", sb_str(&pidpath));
    (void)close(pidfd);
    master_free(&m);
    sb_release(&pidpath);
    sb_release(&why);
    return 0;
}
