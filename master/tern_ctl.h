/*
 * tern_ctl - the ternd control commands of `tern`:
 *   tern start | start-fg | stop | reload | status | abort  [-c DIR]
 * Each finds the spool from the configuration (-c, $MAIL_CONFIG, default),
 * asks the PID-file lock who runs, and signals or starts ternd. Each returns
 * the process exit status: 0 on success, 1 on failure (status: 1 = not
 * running), 64 on a usage error.
 */
#ifndef TERN_TERN_CTL_H
#define TERN_TERN_CTL_H

int tern_ctl_start(int argc, char **argv);
int tern_ctl_start_fg(int argc, char **argv);
int tern_ctl_stop(int argc, char **argv);
int tern_ctl_reload(int argc, char **argv);
int tern_ctl_status(int argc, char **argv);
int tern_ctl_abort(int argc, char **argv);

#endif
