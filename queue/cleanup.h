/*
 * cleanup - what happens to every message on its way into the queue, run
 * as a library by smtpd and by pickup alike (DESIGN.md: cleanup is a
 * library, not a process), so mail from sendmail and from SMTP is treated
 * the same. See docs/cleanup.md.
 *
 * A cleanup_cfg holds the parameters and the open tables of one process
 * (canonical_maps, sender_canonical_maps, recipient_canonical_maps,
 * virtual_alias_maps, header_checks); a cleanup is one message, streamed:
 *
 *   c = cleanup_open(cfg, writer, &env, &info);   envelope sender rewritten,
 *                                                 envelope written
 *   cleanup_add_rcpt(c, &rcpt) ...                canonical + virtual alias
 *   cleanup_write(c, buf, len) ...                content, any split
 *   verdict = cleanup_close(c, reply);            before the caller commits
 *
 * Headers are handled one field at a time (a field is buffered up to
 * header_size_limit; the excess of a longer one is discarded, whole lines
 * at a time), so memory is bounded; the body streams straight through to
 * the qfile writer. Recipients are written after the content. The writer
 * stays the caller's: commit it on CLEANUP_OK (into hold/ on CLEANUP_HOLD),
 * abort it otherwise.
 *
 * Failure model: nothing here exits or crashes on hostile content. A table
 * lookup error, an alias expansion past its limits or a writer error make
 * the verdict CLEANUP_TEMPFAIL (the caller answers 451 / keeps the maildrop
 * file); header_checks REJECT and the hop count limit make it
 * CLEANUP_REJECT. Once the verdict is REJECT, DISCARD or TEMPFAIL the rest
 * of the input is read and dropped. Log lines (message-id=, header_checks
 * actions) carry the program name "cleanup" (tern/cleanup[pid of the
 * caller]), as Postfix's cleanup daemon's do, so pflogsumm counts them.
 */
#ifndef TERN_CLEANUP_H
#define TERN_CLEANUP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/strbuf.h"
#include "conf/conf.h"
#include "queue/qfile.h"

typedef struct cleanup_cfg cleanup_cfg;
typedef struct cleanup cleanup;

/* What the caller must do with the message. */
enum cleanup_verdict {
    CLEANUP_OK,                 /* commit into incoming/ */
    CLEANUP_REJECT,             /* abort; SMTP: the 5xx reply given */
    CLEANUP_HOLD,               /* commit into hold/ (header_checks HOLD) */
    CLEANUP_DISCARD,            /* abort, but answer as if accepted */
    CLEANUP_TEMPFAIL,           /* abort; SMTP: the 4xx reply given */
};

/* Where the message comes from. */
typedef struct cleanup_info {
    const char *queue_id;       /* required: log lines and the Message-ID */
    bool local;                 /* posted on this host (pickup): header
                                 * addresses are rewritten and missing
                                 * headers added, always */
    bool mynetworks;            /* SMTP: the client matched mynetworks (for
                                 * permit_mynetworks in
                                 * local_header_rewrite_clients) */
} cleanup_info;

/*
 * cleanup_cfg_open - read the cleanup parameters of cf and open their
 * tables; NULL and a reason in err when a value cannot be used (a bad
 * table spec, an unknown local_header_rewrite_clients or *_classes item).
 */
cleanup_cfg *cleanup_cfg_open(const conf *cf, strbuf *err);
void cleanup_cfg_close(cleanup_cfg *cc);

/*
 * cleanup_open - start a message: rewrite the envelope sender of env and
 * write the envelope to w (a writer in state "nothing written yet"). Never
 * NULL; a failure here is reported by cleanup_close.
 */
cleanup *cleanup_open(cleanup_cfg *cc, qfile_writer *w, const qfile_env *env,
                      const cleanup_info *info);

/*
 * cleanup_add_rcpt - one envelope recipient (address in internal form):
 * canonical rewriting, then virtual alias expansion and duplicate
 * removal. 0, or -1 when the message can no longer be accepted (the
 * verdict is decided; the caller may go on feeding).
 */
int cleanup_add_rcpt(cleanup *c, const qfile_rcpt *r);

/*
 * cleanup_write - content bytes (lines ending in CRLF), in any split.
 * 0, or -1 as for cleanup_add_rcpt.
 */
int cleanup_write(cleanup *c, const void *buf, size_t len);

/*
 * cleanup_close - end the content, write the recipients, free c; the
 * verdict. reply (replaced) gets the SMTP reply for REJECT and TEMPFAIL
 * ("550 5.7.1 message content rejected", "554 5.4.6 Too many hops",
 * "451 4.3.0 Error: temporary lookup failure"), "" otherwise.
 */
enum cleanup_verdict cleanup_close(cleanup *c, strbuf *reply);

/* cleanup_abort - forget a message without a verdict (client gone). */
void cleanup_abort(cleanup *c);

/* cleanup_verdict_name - "ok", "reject", "hold", "discard", "tempfail". */
const char *cleanup_verdict_name(enum cleanup_verdict v);

#endif
