/*
 * sm_submit - what sendmail does with a message: read it, complete its
 * header, and hand it to postdrop, which commits it to maildrop/.
 *
 * The -bm (default) and -bs paths both end in sm_submit(), so a message from
 * the command line and one from an SMTP session get the same checks, the
 * same added headers and the same durable commit. Results are sysexits
 * codes: 0 only after postdrop exited 0 (the file is on disk); EX_USAGE,
 * EX_DATAERR (bad address, too large), EX_NOPERM, EX_CONFIG, EX_TEMPFAIL.
 * A reason for a failure goes to the caller's strbuf; nothing here exits.
 */
#ifndef TERN_SM_SUBMIT_H
#define TERN_SM_SUBMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/strbuf.h"
#include "conf/conf.h"
#include "queue/drop.h"
#include "queue/sm_args.h"

/* What sendmail knows about its environment. */
typedef struct sm_ctx {
    conf *cf;
    char *config_dir;           /* the directory cf came from */
    char *login;                /* the invoking user's login name */
    char *gecos;                /* full name from passwd, or NULL */
    const char *myhostname;
    const char *myorigin;
    uint64_t size_limit;        /* message_size_limit; 0 = none */
    char *postdrop;             /* path of the postdrop program */
} sm_ctx;

/* sm_ctx_init - load configuration and user; 0 or an exit code + reason. */
int sm_ctx_init(sm_ctx *ctx, const char *config_opt, strbuf *why);
void sm_ctx_free(sm_ctx *ctx);

/*
 * sm_qualify - parse an address as a user gives it (bare or in <>) into
 * internal form, appending "@myorigin" when it has no domain. 0, or -1
 * with a reason.
 */
int sm_qualify(const sm_ctx *ctx, const char *text, bool allow_null,
               strbuf *internal, strbuf *why);

/*
 * sm_read_message - read a message from fd as LF-terminated lines into msg
 * (a leading "From " line is dropped; without dot_ok a lone "." ends it).
 * 0, or EX_DATAERR when it passes limit bytes (stored with CRLF).
 */
int sm_read_message(int fd, bool dot_ok, uint64_t limit, strbuf *msg,
                    strbuf *why);

/*
 * sm_complete_headers - add From:, Date: and Message-ID: when missing, at
 * the end of the header block. fullname may be NULL.
 */
int sm_complete_headers(const sm_ctx *ctx, const char *sender,
                        const char *fullname, strbuf *msg);

/* sm_phrase - append a display name, quoted when RFC 5322 needs it. */
int sm_phrase(strbuf *out, const char *name);

/*
 * sm_submit - convert msg (LF lines) to CRLF, check the size limit and run
 * postdrop with env; the queue ID goes to qid. An exit code.
 */
int sm_submit(const sm_ctx *ctx, drop_env *env, const strbuf *msg,
              strbuf *qid, strbuf *why);

/* sm_deliver - the default mode: a message on stdin for the recipients. */
int sm_deliver(const sm_ctx *ctx, const sm_opts *o, strbuf *why);

/* sm_smtp - the -bs mode: an SMTP session on in/out. */
int sm_smtp(const sm_ctx *ctx, const sm_opts *o, int in, int out);

#endif
