/*
 * maildir - deliver one message into a Maildir (the qmail Maildir spec, as
 * Postfix's virtual(8) writes it), for the virtual delivery agent.
 *
 * maildir_deliver() finds or creates <base>/<path> and its tmp/, new/ and
 * cur/ (mode 0700) one component at a time with O_NOFOLLOW, so a symlink
 * anywhere below the base is refused; "." and ".." components are refused,
 * so the mailbox never escapes the base. It writes Return-Path:,
 * X-Original-To: and Delivered-To: then the content (CRLF line ends turned
 * into LF) to tmp/<unique>, fsyncs it, links it into new/ under Postfix's
 * "<sec>.V<dev>I<ino>M<usec>.<host>" name, removes the tmp/ name and fsyncs
 * new/: only then does it report success (the durability rule). On any
 * failure nothing is left in new/ and the tmp/ file is removed.
 *
 * Owns a small context (host name for file names, a counter, the fsync
 * function tests may replace); it keeps no global state and never exits.
 * The caller runs it with the mailbox owner's effective uid and gid.
 */
#ifndef TERN_MAILDIR_H
#define TERN_MAILDIR_H

#include <stdint.h>
#include <sys/types.h>

#include "common/strbuf.h"

/* Results of maildir_deliver. */
enum maildir_status {
    MAILDIR_OK = 0,
    MAILDIR_EUNSAFE = -1,       /* "."/".." component, symlink, bad header */
    MAILDIR_EMBOX = -2,         /* path does not end in "/": a mailbox file */
    MAILDIR_EBASE = -3,         /* the base is missing or not a directory */
    MAILDIR_ESYS = -4,          /* I/O error; *err holds errno */
    MAILDIR_EFBIG = -5,         /* message larger than the limit */
    MAILDIR_EREAD = -6,         /* the content source failed */
};

/* Reads up to len content bytes at offset pos; bytes read, 0 = end, -1. */
typedef ssize_t (*maildir_read_fn)(void *ctx, uint64_t pos, void *buf,
                                   size_t len);

/* One message to deliver. */
typedef struct maildir_msg {
    const char *return_path;    /* envelope sender; "" = <> */
    const char *orig_rcpt;      /* X-Original-To:; "" = same as rcpt */
    const char *rcpt;           /* Delivered-To: */
    uint64_t size;              /* content bytes to copy */
    maildir_read_fn read;
    void *read_ctx;
    uint64_t limit;             /* largest file in bytes; 0 = no limit */
} maildir_msg;

typedef struct maildir_ctx maildir_ctx;

/* maildir_ctx_new - a context naming files after hostname. */
maildir_ctx *maildir_ctx_new(const char *hostname);

/* maildir_ctx_free - release a context (NULL is fine). */
void maildir_ctx_free(maildir_ctx *m);

/* maildir_set_fsync - replace fsync(2) (tests: count calls, inject EIO). */
void maildir_set_fsync(maildir_ctx *m, int (*fn)(int fd));

/* maildir_tmp_name - the next unique tmp/ file name, into out. */
int maildir_tmp_name(maildir_ctx *m, strbuf *out);

/*
 * maildir_deliver - deliver msg into <base>/<path>. MAILDIR_OK with the
 * new file's name relative to the Maildir ("new/...") in name; otherwise
 * an enum maildir_status with a one-line reason in why and, for
 * MAILDIR_ESYS, errno in *err.
 */
int maildir_deliver(maildir_ctx *m, const char *base, const char *path,
                    const maildir_msg *msg, strbuf *name, strbuf *why,
                    int *err);

#endif
