/*
 * pickup - move messages from maildrop/ into incoming/, trusting nothing.
 *
 * A maildrop file is written by postdrop on behalf of a local user, who
 * owns it; pickup reads it as hostile input: the validating reader, then
 * its own checks (size limit, pending recipients only, addresses that
 * re-parse). A bad file goes to corrupt/ with a log line. A good one is
 * rewritten by pickup through the qfile writer (never renamed: its bytes
 * and owner are the user's) into a private staging directory,
 * incoming/.pickup/, and then renamed to incoming/<the maildrop queue ID>.
 * That rename is the commit: a crash before it leaves only staging debris
 * (removed at start) and the maildrop file; a crash after it leaves both,
 * and the next scan sees the ID already queued and only removes the
 * maildrop copy. So a message is queued exactly once across kill -9
 * (while qmgr, next issue, keeps it in incoming/ or another queue until the
 * maildrop copy is gone - it is removed right after the rename).
 *
 * Logs "QUEUEID: uid=N from=<sender>" (Postfix pickup's line) and wakes
 * qmgr. Owns a pickup_ctx: two spool handles and an ID generator.
 */
#ifndef TERN_PICKUP_H
#define TERN_PICKUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/strbuf.h"
#include "conf/conf.h"
#include "queue/cleanup.h"
#include "queue/qfile.h"
#include "queue/qid.h"
#include "queue/spool.h"

/* The staging directory below incoming/ (not a queue ID: scanners skip it). */
#define PICKUP_STAGE ".pickup"

typedef struct pickup_ctx {
    const conf *cf;
    spool sp;                   /* the spool */
    spool stage;                /* same top; SPOOL_INCOMING = staging dir */
    qid_gen gen;
    uint64_t size_limit;        /* message_size_limit, 0 = none */
    cleanup_cfg *cleanup;       /* the cleanup library's tables */
} pickup_ctx;

/* Outcome of one maildrop file. */
enum pickup_result {
    PICKUP_QUEUED,              /* now in incoming/ */
    PICKUP_DUPLICATE,           /* already queued: maildrop copy removed */
    PICKUP_CORRUPT,             /* moved to corrupt/ */
    PICKUP_RETRY,               /* temporary trouble: left in maildrop/ */
    PICKUP_DROPPED,             /* cleanup said REJECT or DISCARD: removed */
};

/*
 * pickup_init - open the spool, create and empty the staging directory,
 * purge maildrop temporary files older than a day. 0, or -1 + reason.
 */
int pickup_init(pickup_ctx *ctx, const conf *cf, strbuf *why);
void pickup_free(pickup_ctx *ctx);

/* pickup_scan - one pass over maildrop/; how many messages were queued. */
int pickup_scan(pickup_ctx *ctx);

/* pickup_file - handle one maildrop file. */
enum pickup_result pickup_file(pickup_ctx *ctx, const char *qid);

/*
 * pickup_cleanup - run the checked envelope and content of `in` through
 * the cleanup library (canonical and virtual alias rewriting, missing
 * headers, header_checks) into `w`, as local mail with queue ID qid. uid
 * is the submitting user. The verdict; reply says why for REJECT/TEMPFAIL.
 */
enum cleanup_verdict pickup_cleanup(pickup_ctx *ctx, const qfile_msg *in,
                                    uid_t uid, const char *qid,
                                    qfile_writer *w, strbuf *reply);

#endif
