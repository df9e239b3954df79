/*
 * master_pid - the PID file of ternd: queue_directory/pid/master.pid.
 *
 * The file holds ternd's PID; a write lock (fcntl) on it, held for ternd's
 * life, is what says "ternd runs on this spool": a second ternd cannot take
 * it, and `tern status|stop|reload|abort` ask the kernel who holds it rather
 * than trusting a possibly stale number. Nothing here exits; errors are -1
 * with a reason.
 */
#ifndef TERN_MASTER_PID_H
#define TERN_MASTER_PID_H

#include <sys/types.h>

#include "common/strbuf.h"

/* Path of the PID file below queue_directory. */
#define MASTER_PID_FILE "pid/master.pid"

/*
 * master_pid_lock - create/lock path and write our PID; returns the open
 * descriptor (keep it open to keep the lock). -1 with a reason in why;
 * *holder is the PID of a running ternd when that is the reason (else 0).
 */
int master_pid_lock(const char *path, pid_t *holder, strbuf *why);

/*
 * master_pid_query - the PID of the process holding the lock on path: >0
 * when ternd runs, 0 when it does not (no file, or no lock), -1 on error.
 */
pid_t master_pid_query(const char *path, strbuf *why);

/* master_pid_path - "queue_directory/pid/master.pid" into out; -1 if too long. */
int master_pid_path(const char *queue_directory, strbuf *out);

#endif
