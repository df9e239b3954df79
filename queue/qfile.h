/*
 * qfile - the queue file: one file per message, versioned typed records
 * ending in an END record (STYLE.md rule 9; format in docs/queue.md).
 *
 * Only queue/ writes queue files, through this API, shared by smtpd,
 * pickup, sendmail/postdrop and bounce. A writer owns a temporary file in
 * incoming/ or maildrop/ and streams the content in bounded memory;
 * qfile_commit names it by its queue ID and makes it durable (no-replace
 * rename, file fsync, directory fsync) - only then may the caller
 * acknowledge. The reader validates every record before it returns
 * anything; a malformed file yields QFILE_ECORRUPT and a reason, never a
 * crash or an unbounded allocation. Recipient status bytes and the
 * forced-expire flag are updated in place with pwrite + fsync.
 */
#ifndef TERN_QFILE_H
#define TERN_QFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/time.h>

#include "common/strbuf.h"
#include "queue/qid.h"
#include "queue/spool.h"

/* Format version written and the only one read. */
#define QFILE_VERSION 1

/* Limits: a longer record or a larger count is rejected, by writer and reader. */
#define QFILE_FIELD_MAX   2048          /* bytes of one text field */
#define QFILE_RCPT_MAX    100000        /* recipients of one message */
#define QFILE_CONTENT_MAX UINT32_MAX    /* content bytes */

/*
 * Record framing: one type byte, a 4-byte big-endian length, the data.
 * The M record's data is the content itself; its length is written last.
 */
#define QFILE_REC_HDR 5
enum qfile_rec_type {
    QFILE_REC_VERSION = 'V',            /* "1" - always the first record */
    QFILE_REC_TIME = 'T',               /* arrival "seconds.microseconds" */
    QFILE_REC_SENDER = 'S',             /* envelope sender, may be empty */
    QFILE_REC_CLIENT_NAME = 'c',
    QFILE_REC_CLIENT_ADDR = 'a',
    QFILE_REC_HELO = 'h',
    QFILE_REC_PROTOCOL = 'p',
    QFILE_REC_SASL_METHOD = 'm',
    QFILE_REC_SASL_USER = 'u',
    QFILE_REC_BODY = 'b',               /* "7BIT" or "8BITMIME" */
    QFILE_REC_SMTPUTF8 = 'U',           /* "1" */
    QFILE_REC_ENVID = 'e',
    QFILE_REC_RET = 'r',                /* "FULL" or "HDRS" */
    QFILE_REC_EXPIRE = 'X',             /* "0" or "1", updated in place */
    QFILE_REC_RCPT = 'R',               /* status, notify, addr NUL orig NUL orcpt */
    QFILE_REC_CONTENT = 'M',            /* the message, verbatim */
    QFILE_REC_END = 'E',                /* "nrcpt content_size" - the last record */
};

/* Recipient status byte, updated in place. */
enum qfile_rcpt_status {
    QFILE_RCPT_PENDING = 'P',           /* not yet done */
    QFILE_RCPT_DELIVERED = 'D',         /* done: delivered */
    QFILE_RCPT_BOUNCED = 'B',           /* done: failed, DSN is bounce's job */
    QFILE_RCPT_DROPPED = 'X',           /* done: discarded or expanded */
};

/* DSN NOTIFY flags (0 = not given: the default, FAILURE + DELAY). */
#define QFILE_NOTIFY_NEVER   0x01
#define QFILE_NOTIFY_SUCCESS 0x02
#define QFILE_NOTIFY_FAILURE 0x04
#define QFILE_NOTIFY_DELAY   0x08

enum qfile_body { QFILE_BODY_NONE, QFILE_BODY_7BIT, QFILE_BODY_8BITMIME };
enum qfile_ret { QFILE_RET_NONE, QFILE_RET_FULL, QFILE_RET_HDRS };

/* Result of reading a queue file. */
enum qfile_result {
    QFILE_OK = 0,
    QFILE_ESYS = -1,                    /* I/O error: errno; retry later */
    QFILE_ECORRUPT = -2,                /* malformed: quarantine it */
};

/* The envelope. Writer: NULL or "" text is left out (sender "" = <>). */
typedef struct qfile_env {
    const char *sender;                 /* required; "" = null sender */
    struct timeval arrival;
    const char *client_name;
    const char *client_addr;
    const char *helo;
    const char *protocol;               /* SMTP, ESMTP, ESMTPSA, ... */
    const char *sasl_method;
    const char *sasl_username;
    enum qfile_body body_type;
    bool smtputf8;
    const char *envid;                  /* DSN ENVID, decoded */
    enum qfile_ret ret;                 /* DSN RET */
    bool forced_expire;
} qfile_env;

/* One recipient. Reader: offsets are for in-place updates. */
typedef struct qfile_rcpt {
    const char *address;                /* required, not empty */
    const char *orig;                   /* before rewriting; "" = address */
    const char *orcpt;                  /* DSN ORCPT "type;value"; "" = none */
    unsigned notify;                    /* QFILE_NOTIFY_* */
    int status;                         /* enum qfile_rcpt_status */
    off_t status_offset;                /* of the status byte (reader) */
} qfile_rcpt;

/* A validated queue file (reader). Strings are owned by it. */
typedef struct qfile_msg {
    int fd;
    qfile_env env;
    qfile_rcpt *rcpt;
    size_t nrcpt;
    size_t npending;                    /* recipients still PENDING */
    off_t content_offset;               /* first content byte */
    uint64_t content_size;
    off_t expire_offset;                /* of the forced-expire byte */
    char **owned;                       /* strings to free */
    size_t nowned;
    bool close_fd;                      /* opened by qfile_open */
} qfile_msg;

typedef struct qfile_writer qfile_writer;

/* --- writer --- */

/*
 * qfile_create - start a message as a temporary file in dir (incoming or
 * maildrop) with this file mode. NULL with a reason in why.
 */
qfile_writer *qfile_create(spool *sp, enum spool_dir dir, mode_t mode,
                           strbuf *why);

/* qfile_put_env - write the envelope; once, before recipients and content. */
int qfile_put_env(qfile_writer *w, const qfile_env *env);

/* qfile_add_rcpt - append a recipient (before or after the content). */
int qfile_add_rcpt(qfile_writer *w, const qfile_rcpt *rcpt);

/* qfile_write_content - append content bytes, stored verbatim; one run. */
int qfile_write_content(qfile_writer *w, const void *buf, size_t len);

/*
 * qfile_commit - write END, name the file by its new queue ID (into
 * qid, QID_SIZE bytes), fsync the file, then the directory; then the
 * caller may acknowledge. Frees w. On failure (a failed fsync included)
 * neither the temporary file nor the new name is left behind.
 */
int qfile_commit(qfile_writer *w, qid_gen *gen, char *qid, size_t qid_size);

/*
 * qfile_commit_into - qfile_commit, but the file is named straight in
 * directory `to` (hold/ for a held message) by a no-replace rename, then
 * the file and that directory are fsynced: it is never visible in the
 * writer's own directory, so qmgr cannot take it. Frees w; -1 removes
 * the file.
 */
int qfile_commit_into(qfile_writer *w, enum spool_dir to, qid_gen *gen,
                      char *qid, size_t qid_size);

/*
 * qfile_reserve_id - choose the queue ID now, from the temporary file's
 * inode (unique among live files), so a writer that must log it or put it
 * in a Received: header before the content (smtpd) knows it early;
 * qfile_commit then names the file by exactly this ID (no-replace rename).
 * Calling it again gives the same ID. 0, or -1 with errno.
 */
int qfile_reserve_id(qfile_writer *w, qid_gen *gen, char *qid,
                     size_t qid_size);

/* qfile_abort - remove the temporary file and free w (NULL is fine). */
void qfile_abort(qfile_writer *w);

/* qfile_writer_error - why the last writer call failed. */
const char *qfile_writer_error(const qfile_writer *w);

/* qfile_writer_size - content bytes written so far. */
uint64_t qfile_writer_size(const qfile_writer *w);

/* --- reader --- */

/*
 * qfile_open - open and validate a queue file (O_RDONLY or O_RDWR). QFILE_OK
 * with *out set, or QFILE_ESYS / QFILE_ECORRUPT with a reason in why.
 */
int qfile_open(const char *path, int flags, qfile_msg **out, strbuf *why);

/* qfile_read_fd - validate an open file (not closed by qfile_close). */
int qfile_read_fd(int fd, qfile_msg **out, strbuf *why);

/* qfile_read_content - read up to len content bytes from content offset pos. */
ssize_t qfile_read_content(const qfile_msg *msg, uint64_t pos, void *buf,
                           size_t len);

/* qfile_close - free a message (closing its file if qfile_open opened it). */
void qfile_close(qfile_msg *msg);

/* --- in-place updates and removal --- */

/* qfile_text_ok - true when s[0..len) may be stored as a text field. */
bool qfile_text_ok(const char *s, size_t len);

/* qfile_notify_ok - true for NEVER alone or a set of SUCCESS/FAILURE/DELAY. */
bool qfile_notify_ok(unsigned notify);

/* qfile_status_valid - true for a known recipient status byte. */
bool qfile_status_valid(int status);

/*
 * qfile_mark_rcpt - set one recipient's status durably (pwrite +
 * fdatasync: the bytes are rewritten in place, so the file's size and
 * blocks do not change and only its timestamps are left unsynced).
 */
int qfile_mark_rcpt(int fd, off_t status_offset, int status);

/* qfile_mark_rcpts - set several recipients, then one fdatasync. */
int qfile_mark_rcpts(int fd, const off_t *offsets, size_t n, int status);

/* qfile_set_expire - set or clear the forced-expire flag durably. */
int qfile_set_expire(int fd, off_t expire_offset, bool on);

/*
 * qfile_remove - unlink dir/qid, fsync the directory, then remove the
 * message's defer/qid reason file if there is one.
 */
int qfile_remove(spool *sp, enum spool_dir dir, const char *qid);

/*
 * qfile_remove_nosync - qfile_remove without the directory fsync, for a
 * caller that syncs dir once for a batch of removals (spool_fsync_dir).
 * Only for a file whose recipients are all marked done: a removal lost in
 * a crash brings back a file with nothing left to deliver.
 */
int qfile_remove_nosync(spool *sp, enum spool_dir dir, const char *qid);

/*
 * qfile_recycle_nosync - qfile_remove_nosync for qmgr's finished
 * messages: the file is emptied and moved to spare/ for a writer to reuse
 * (spool_spare_put) while spare/ has room, else unlinked; defer/qid is
 * removed only when `reasons` (the message had been deferred). The same
 * rule as qfile_remove_nosync: only for a file whose recipients are all
 * done, the caller syncs dir lazily. 0, or -1 with errno (nothing done).
 */
int qfile_recycle_nosync(spool *sp, enum spool_dir dir, const char *qid,
                         bool reasons);

/*
 * qfile_quarantine - move dir/qid to corrupt/ and log
 * "QUEUEID: corrupt queue file: reason".
 */
int qfile_quarantine(spool *sp, enum spool_dir dir, const char *qid,
                     const char *reason);

#endif
