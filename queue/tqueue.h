/*
 * tqueue - `tern queue`: list, show, delete, hold, release, requeue, flush;
 * also the listing behind mailq and sendmail -bp.
 *
 * Each action is one rename or one unlink (queue/spool.h, qfile.h), so it
 * is atomic and safe while ternd and its services run. A message in
 * active/ belongs to qmgr: delete, hold and requeue leave it alone and say
 * so (qmgr, next issue, will take such requests itself). Unknown queue IDs
 * are reported and make the command exit non-zero, as postsuper does.
 */
#ifndef TERN_TQUEUE_H
#define TERN_TQUEUE_H

#include <stdbool.h>
#include <stdio.h>

#include "common/strbuf.h"
#include "conf/conf.h"

/*
 * tqueue_list - write the postqueue -p (json false) or -j listing of the
 * spool to out. 0, or -1 with a reason (spool unreadable).
 */
int tqueue_list(const conf *c, bool json, FILE *out, strbuf *why);

/* tqueue_flush - ask qmgr to run the queue; -1 when it is not running. */
int tqueue_flush(const conf *c);

/* tqueue_main - the `tern queue` command; an exit status. */
int tqueue_main(int argc, char **argv);

#endif
