/*
 * qfile - queue file writer, in-place updates, removal and quarantine.
 *
 * A writer owns one temporary file and a bounded output buffer; content of
 * any size passes through in chunks. A writer of incoming/ first reuses an
 * emptied file from spare/ (spool_spare_take: no inode allocated, renamed
 * from spare/ to its queue ID at commit); otherwise the file is unnamed
 * (O_TMPFILE) where the file system allows it and linked under its queue
 * ID at commit; otherwise it is a "tmp.*" file (ignored by every reader
 * and listing) renamed at commit. An unnamed file needs no directory entry
 * while it is written: no directory lock for its creation, nothing left
 * after a crash. A finished message's file goes back to spare/ through
 * qfile_recycle_nosync. Any failure poisons the writer: every later call, including
 * qfile_commit, fails, so a caller can never commit a message that lost a
 * record. qfile_commit and qfile_abort free the writer and never leave a
 * temporary file behind on their own error paths.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "queue/qfile.h"

#define QFILE_BUF_FLUSH 65536           /* flush the buffer past this */
#define QFILE_TMP_TRIES 100

enum qfile_wstate { W_START, W_ENV, W_CONTENT, W_AFTER };

struct qfile_writer {
    spool *sp;
    enum spool_dir dir;
    int fd;
    bool unnamed;                       /* O_TMPFILE: linked at commit */
    enum spool_dir fdir;                /* the temporary name's directory */
    char tmpname[64];
    strbuf out;                         /* bytes not yet written */
    off_t flushed;                      /* bytes already in the file */
    off_t content_len_off;              /* of the M record's length field */
    uint64_t content_size;
    size_t nrcpt;
    enum qfile_wstate state;
    bool failed;
    strbuf err;
    char qid[QID_SIZE];                 /* reserved ID, "" = chosen at commit */
};

/* qfile_text_ok - text fields hold no control bytes (8-bit is fine). */
bool qfile_text_ok(const char *s, size_t len)
{
    if (len > QFILE_FIELD_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* qfile_fail - poison the writer with a reason; returns -1. */
__attribute__((format(printf, 2, 3)))
static int qfile_fail(qfile_writer *w, const char *fmt, ...)
{
    va_list ap;

    if (!w->failed) {
        sb_reset(&w->err);
        va_start(ap, fmt);
        (void)sb_vprintf(&w->err, fmt, ap);
        va_end(ap);
    }
    w->failed = true;
    return -1;
}

/* qfile_write_all - write everything, retrying short writes. */
static int qfile_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* qfile_flush - write the buffered bytes. */
static int qfile_flush(qfile_writer *w)
{
    if (sb_len(&w->out) == 0)
        return 0;
    if (qfile_write_all(w->fd, sb_str(&w->out), sb_len(&w->out)) < 0)
        return qfile_fail(w, "write %s: %s", w->tmpname, strerror(errno));
    w->flushed += (off_t)sb_len(&w->out);
    sb_reset(&w->out);
    return 0;
}

/* qfile_put_be32 - store a 32-bit big-endian length. */
static void qfile_put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* qfile_emit - buffer one record header and its data. */
static int qfile_emit(qfile_writer *w, int type, const void *data, size_t len)
{
    unsigned char hdr[QFILE_REC_HDR];

    hdr[0] = (unsigned char)type;
    qfile_put_be32(hdr + 1, (uint32_t)len);
    if (sb_len(&w->out) + sizeof(hdr) + len > QFILE_BUF_FLUSH
        && qfile_flush(w) < 0)
        return -1;
    if (sb_append(&w->out, hdr, sizeof(hdr)) < 0
        || sb_append(&w->out, data, len) < 0)
        return qfile_fail(w, "queue file record too large");
    if (sb_len(&w->out) >= QFILE_BUF_FLUSH)
        return qfile_flush(w);
    return 0;
}

/* qfile_emit_text - a text record, validated. */
static int qfile_emit_text(qfile_writer *w, int type, const char *name,
                           const char *s)
{
    size_t len = strlen(s);

    if (!qfile_text_ok(s, len))
        return qfile_fail(w, "invalid %s: overlong or control character", name);
    return qfile_emit(w, type, s, len);
}

/*
 * qfile_open_unnamed - an O_TMPFILE file in dirfd, or -1 when this file
 * system or kernel has none, or /proc (which linkat needs to give it a
 * name) is missing; the answer is remembered in the spool.
 */
static int qfile_open_unnamed(spool *sp, int dirfd, mode_t mode)
{
    int fd;

    if (sp->tmpfile == 0)
        sp->tmpfile = faccessat(AT_FDCWD, "/proc/self/fd", X_OK, 0) == 0 ? 1 : -1;
    if (sp->tmpfile < 0)
        return -1;
    fd = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode & 0777);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))
        sp->tmpfile = -1;
    return fd;
}

/* qfile_open_named - a fresh "tmp.*" file in dirfd; its name into w. */
static int qfile_open_named(qfile_writer *w, int dirfd, mode_t mode)
{
    struct timeval tv;
    int fd = -1;

    for (int i = 0; i < QFILE_TMP_TRIES && fd < 0; i++) {
        if (gettimeofday(&tv, NULL) < 0)
            tv.tv_sec = tv.tv_usec = 0;
        if (fmt_fixed(w->tmpname, sizeof(w->tmpname), "%s%ld.%lld%06ld.%d",
                      SPOOL_TEMP_PREFIX, (long)getpid(), (long long)tv.tv_sec,
                      (long)tv.tv_usec, i) < 0)
            break;
        fd = openat(dirfd, w->tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC
                    | O_NOFOLLOW, mode & 0777);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    return fd;
}

/* qfile_create - open a fresh temporary file in dir. */
qfile_writer *qfile_create(spool *sp, enum spool_dir dir, mode_t mode,
                           strbuf *why)
{
    int dirfd = spool_dirfd(sp, dir), fd;
    qfile_writer *w;

    if (dirfd < 0) {
        (void)sb_printf(why, "open %s/%s: %s", sp->top,
                        spool_name(dir) ? spool_name(dir) : "?", strerror(errno));
        return NULL;
    }
    w = xcalloc(1, sizeof(*w));
    w->fdir = dir;
    /* incoming/'s writers are mail_owner, as spare/; maildrop's are not */
    if (dir == SPOOL_INCOMING
        && (fd = spool_spare_take(sp, mode, w->tmpname,
                                  sizeof(w->tmpname))) >= 0) {
        w->fdir = SPOOL_SPARE;          /* checked and chmod'ed already */
    } else if ((fd = qfile_open_unnamed(sp, dirfd, mode)) >= 0) {
        w->unnamed = true;
        (void)fmt_fixed(w->tmpname, sizeof(w->tmpname), "(unnamed)");
    } else {
        fd = qfile_open_named(w, dirfd, mode);
    }
    if (fd < 0 || (w->fdir != SPOOL_SPARE && fchmod(fd, mode & 0777) < 0)) {
        (void)sb_printf(why, "create queue file in %s/%s: %s", sp->top,
                        spool_name(dir), strerror(errno));
        if (fd >= 0) {
            (void)close(fd);
            if (!w->unnamed)
                (void)unlinkat(dirfd, w->tmpname, 0);
        }
        free(w);
        return NULL;
    }
    w->sp = sp;
    w->dir = dir;
    w->fd = fd;
    w->content_len_off = -1;
    sb_init(&w->out, QFILE_BUF_FLUSH + 4 * QFILE_FIELD_MAX);
    sb_init(&w->err, 512);
    return w;
}

/* qfile_env_text - the table of optional envelope text records. */
static int qfile_env_texts(qfile_writer *w, const qfile_env *env)
{
    const struct {
        int type;
        const char *name;
        const char *value;
    } texts[] = {
        {QFILE_REC_CLIENT_NAME, "client name", env->client_name},
        {QFILE_REC_CLIENT_ADDR, "client address", env->client_addr},
        {QFILE_REC_HELO, "HELO name", env->helo},
        {QFILE_REC_PROTOCOL, "protocol", env->protocol},
        {QFILE_REC_SASL_METHOD, "SASL method", env->sasl_method},
        {QFILE_REC_SASL_USER, "SASL username", env->sasl_username},
        {QFILE_REC_ENVID, "ENVID", env->envid},
    };

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (texts[i].value != NULL && texts[i].value[0] != '\0'
            && qfile_emit_text(w, texts[i].type, texts[i].name,
                               texts[i].value) < 0)
            return -1;
    return 0;
}

/* qfile_env_flags - body type, SMTPUTF8, RET and the expire byte. */
static int qfile_env_flags(qfile_writer *w, const qfile_env *env)
{
    static const char *const bodies[] = {NULL, "7BIT", "8BITMIME"};
    static const char *const rets[] = {NULL, "FULL", "HDRS"};

    if ((unsigned)env->body_type > QFILE_BODY_8BITMIME
        || (unsigned)env->ret > QFILE_RET_HDRS)
        return qfile_fail(w, "invalid body type or RET value");
    if (bodies[env->body_type] != NULL
        && qfile_emit_text(w, QFILE_REC_BODY, "body type",
                           bodies[env->body_type]) < 0)
        return -1;
    if (env->smtputf8 && qfile_emit(w, QFILE_REC_SMTPUTF8, "1", 1) < 0)
        return -1;
    if (rets[env->ret] != NULL
        && qfile_emit_text(w, QFILE_REC_RET, "RET", rets[env->ret]) < 0)
        return -1;
    return qfile_emit(w, QFILE_REC_EXPIRE, env->forced_expire ? "1" : "0", 1);
}

/* qfile_put_env - version, arrival time, sender, then the rest. */
int qfile_put_env(qfile_writer *w, const qfile_env *env)
{
    char buf[64];

    if (w->failed)
        return -1;
    if (w->state != W_START)
        return qfile_fail(w, "envelope written twice");
    if (env->sender == NULL)
        return qfile_fail(w, "no sender");
    if (env->arrival.tv_sec < 0 || env->arrival.tv_usec < 0
        || env->arrival.tv_usec >= 1000000)
        return qfile_fail(w, "invalid arrival time");
    if (fmt_fixed(buf, sizeof(buf), "%d", QFILE_VERSION) < 0
        || qfile_emit(w, QFILE_REC_VERSION, buf, strlen(buf)) < 0)
        return -1;
    if (fmt_fixed(buf, sizeof(buf), "%lld.%06ld",
                  (long long)env->arrival.tv_sec, (long)env->arrival.tv_usec) < 0
        || qfile_emit(w, QFILE_REC_TIME, buf, strlen(buf)) < 0)
        return -1;
    if (qfile_emit_text(w, QFILE_REC_SENDER, "sender", env->sender) < 0
        || qfile_env_texts(w, env) < 0 || qfile_env_flags(w, env) < 0)
        return -1;
    w->state = W_ENV;
    return 0;
}

/* qfile_notify_ok - NOTIFY is NEVER alone, or a set of the other three. */
bool qfile_notify_ok(unsigned notify)
{
    if (notify > 0x0f)
        return false;
    return !(notify & QFILE_NOTIFY_NEVER) || notify == QFILE_NOTIFY_NEVER;
}

/* qfile_add_rcpt - one R record: status, notify, address, orig, orcpt. */
int qfile_add_rcpt(qfile_writer *w, const qfile_rcpt *r)
{
    const char *orig = r->orig ? r->orig : "";
    const char *orcpt = r->orcpt ? r->orcpt : "";
    strbuf rec;
    int ret;

    if (w->failed)
        return -1;
    if (w->state == W_START)
        return qfile_fail(w, "recipient before envelope");
    if (w->nrcpt >= QFILE_RCPT_MAX)
        return qfile_fail(w, "too many recipients (limit %d)", QFILE_RCPT_MAX);
    if (r->address == NULL || r->address[0] == '\0'
        || !qfile_text_ok(r->address, strlen(r->address))
        || !qfile_text_ok(orig, strlen(orig))
        || !qfile_text_ok(orcpt, strlen(orcpt)))
        return qfile_fail(w, "invalid recipient address");
    if (!qfile_notify_ok(r->notify))
        return qfile_fail(w, "invalid NOTIFY flags 0x%x", r->notify);
    sb_init(&rec, 2 + 3 * (QFILE_FIELD_MAX + 1));
    if (sb_putc(&rec, QFILE_RCPT_PENDING) < 0 || sb_putc(&rec, (int)r->notify) < 0
        || sb_puts(&rec, r->address) < 0 || sb_putc(&rec, 0) < 0
        || sb_puts(&rec, orig) < 0 || sb_putc(&rec, 0) < 0
        || sb_puts(&rec, orcpt) < 0)
        ret = qfile_fail(w, "recipient record too large");
    else
        ret = qfile_emit(w, QFILE_REC_RCPT, sb_str(&rec), sb_len(&rec));
    sb_release(&rec);
    if (ret == 0) {
        w->nrcpt++;
        if (w->state == W_CONTENT)
            w->state = W_AFTER;
    }
    return ret;
}

/* qfile_begin_content - the M record header; its length comes at commit. */
static int qfile_begin_content(qfile_writer *w)
{
    unsigned char hdr[QFILE_REC_HDR] = {QFILE_REC_CONTENT, 0, 0, 0, 0};

    w->content_len_off = w->flushed + (off_t)sb_len(&w->out) + 1;
    if (sb_append(&w->out, hdr, sizeof(hdr)) < 0)
        return qfile_fail(w, "queue file buffer full");
    w->state = W_CONTENT;
    return 0;
}

/* qfile_write_content - buffer small chunks, write big ones directly. */
int qfile_write_content(qfile_writer *w, const void *buf, size_t len)
{
    if (w->failed)
        return -1;
    if (w->state == W_START)
        return qfile_fail(w, "content before envelope");
    if (w->state == W_AFTER)
        return qfile_fail(w, "content after trailing recipients");
    if (w->state == W_ENV && qfile_begin_content(w) < 0)
        return -1;
    if (len > QFILE_CONTENT_MAX - w->content_size)
        return qfile_fail(w, "content too large");
    w->content_size += len;
    if (len >= QFILE_BUF_FLUSH / 2) {
        if (qfile_flush(w) < 0)
            return -1;
        if (qfile_write_all(w->fd, buf, len) < 0)
            return qfile_fail(w, "write %s: %s", w->tmpname, strerror(errno));
        w->flushed += (off_t)len;
        return 0;
    }
    if (sb_len(&w->out) + len > QFILE_BUF_FLUSH && qfile_flush(w) < 0)
        return -1;
    if (sb_append(&w->out, buf, len) < 0)
        return qfile_fail(w, "queue file buffer full");
    return 0;
}

/* qfile_finish - content length, END record, flush; no fsync yet. */
static int qfile_finish(qfile_writer *w)
{
    unsigned char be[4];
    char end[64];

    if (w->state == W_START)
        return qfile_fail(w, "no envelope");
    if (w->nrcpt == 0)
        return qfile_fail(w, "no recipients");
    if (w->state == W_ENV && qfile_begin_content(w) < 0)
        return -1;
    if (fmt_fixed(end, sizeof(end), "%zu %" PRIu64, w->nrcpt,
                  w->content_size) < 0
        || qfile_emit(w, QFILE_REC_END, end, strlen(end)) < 0
        || qfile_flush(w) < 0)
        return -1;
    qfile_put_be32(be, (uint32_t)w->content_size);
    if (pwrite(w->fd, be, sizeof(be), w->content_len_off) != sizeof(be))
        return qfile_fail(w, "write %s: %s", w->tmpname, strerror(errno));
    return 0;
}

/* qfile_free - release a writer (the file must be dealt with already). */
static void qfile_free(qfile_writer *w)
{
    if (w->fd >= 0)
        (void)close(w->fd);
    sb_release(&w->out);
    sb_release(&w->err);
    free(w);
}

/* qfile_commit - the durability sequence in the writer's own directory. */
int qfile_commit(qfile_writer *w, qid_gen *gen, char *qid, size_t qid_size)
{
    return qfile_commit_into(w, w->dir, gen, qid, qid_size);
}

/* qfile_link - give the unnamed file the name `name` in tofd (no replace). */
static int qfile_link(const qfile_writer *w, int tofd, const char *name)
{
    char path[64];

    if (fmt_fixed(path, sizeof(path), "/proc/self/fd/%d", w->fd) < 0)
        return -1;
    return linkat(AT_FDCWD, path, tofd, name, AT_SYMLINK_FOLLOW);
}

struct qfile_link_ctx {
    const qfile_writer *w;
    int tofd;
};

/* qfile_link_to - qid_claim_by's namer for an unnamed file. */
static int qfile_link_to(void *ctx, const char *id)
{
    const struct qfile_link_ctx *l = ctx;

    return qfile_link(l->w, l->tofd, id);
}

/* qfile_claim_link - link the unnamed file under a fresh ID from its inode. */
static int qfile_claim_link(qfile_writer *w, int tofd, qid_gen *gen,
                            char *qid, size_t qid_size)
{
    struct qfile_link_ctx l = {w, tofd};

    return qid_claim_by(gen, w->fd, qfile_link_to, &l, qid, qid_size);
}

/* qfile_name - give the finished file its queue ID in directory tofd. */
static int qfile_name(qfile_writer *w, int dirfd, int tofd, bool same,
                      qid_gen *gen, char *qid, size_t qid_size)
{
    if (w->unnamed && w->qid[0] == '\0')
        return qfile_claim_link(w, tofd, gen, qid, qid_size);
    /* into another directory the ID must be chosen before the rename */
    if (!same && w->qid[0] == '\0'
        && qfile_reserve_id(w, gen, qid, qid_size) < 0)
        return -1;
    if (w->qid[0] == '\0')
        return qid_claim(gen, dirfd, w->tmpname, w->fd, qid, qid_size);
    if (fmt_fixed(qid, qid_size, "%s", w->qid) < 0)
        return -1;
    if (w->unnamed)
        return qfile_link(w, tofd, w->qid);
    return renameat2(dirfd, w->tmpname, tofd, w->qid, RENAME_NOREPLACE);
}

/*
 * qfile_commit_into - write END and fsync the file; then give it its name
 * in directory `to` (a link of the unnamed file, or one no-replace rename
 * of the temporary) and fsync that directory: only then is it committed,
 * and the name never shows a file whose content is not yet on disk. A
 * failed directory fsync takes the name back and fails (the caller
 * answers 4xx). For a renamed temporary the old directory's fsync only
 * settles the temporary name's removal (a stale temporary is purged
 * later); a file from spare/ needs not even that (a stale spare/tmp.* is
 * reused later); an unnamed file leaves nothing behind (docs/queue.md,
 * "Commit order").
 */
int qfile_commit_into(qfile_writer *w, enum spool_dir to, qid_gen *gen,
                      char *qid, size_t qid_size)
{
    int dirfd = spool_dirfd(w->sp, w->fdir), tofd = spool_dirfd(w->sp, to);

    if (w->failed || qfile_finish(w) < 0 || fsync(w->fd) < 0) {
        msg_warn("queue file %s: %s", w->tmpname,
                 w->failed ? sb_str(&w->err) : strerror(errno));
        qfile_abort(w);
        return -1;
    }
    if (dirfd < 0 || tofd < 0
        || qfile_name(w, dirfd, tofd, to == w->fdir, gen, qid, qid_size) < 0) {
        msg_warn("name queue file %s in %s/%s: %m", w->tmpname, w->sp->top,
                 spool_name(to) ? spool_name(to) : "?");
        qfile_abort(w);
        return -1;
    }
    if (fsync(tofd) < 0) {
        /* Named but not known durable: take the name back, answer 4xx. */
        msg_warn("fsync %s/%s: %m", w->sp->top, spool_name(to));
        if (unlinkat(tofd, qid, 0) < 0 && errno != ENOENT)
            msg_warn("remove %s/%s/%s: %m", w->sp->top, spool_name(to), qid);
        qfile_free(w);
        return -1;
    }
    if (!w->unnamed && w->fdir != SPOOL_SPARE && to != w->fdir
        && fsync(dirfd) < 0)
        msg_warn("fsync %s/%s: %m", w->sp->top, spool_name(w->fdir));
    qfile_free(w);
    return 0;
}

/* qfile_reserve_id - the queue ID, chosen now from the file's inode. */
int qfile_reserve_id(qfile_writer *w, qid_gen *gen, char *qid,
                     size_t qid_size)
{
    struct stat st;

    if (w->qid[0] == '\0'
        && (fstat(w->fd, &st) < 0
            || qid_next(gen, (uint64_t)st.st_ino, w->qid, sizeof(w->qid)) < 0)) {
        w->qid[0] = '\0';
        return -1;
    }
    return fmt_fixed(qid, qid_size, "%s", w->qid);
}

/* qfile_abort - drop the temporary file. */
void qfile_abort(qfile_writer *w)
{
    int dirfd;

    if (w == NULL)
        return;
    dirfd = w->unnamed ? -1 : spool_dirfd(w->sp, w->fdir);
    if (dirfd >= 0 && unlinkat(dirfd, w->tmpname, 0) < 0 && errno != ENOENT)
        msg_warn("remove %s: %m", w->tmpname);
    qfile_free(w);
}

/* qfile_writer_error - the reason of the first failure. */
const char *qfile_writer_error(const qfile_writer *w)
{
    return w->failed ? sb_str(&w->err) : "";
}

/* qfile_writer_size - content bytes so far. */
uint64_t qfile_writer_size(const qfile_writer *w)
{
    return w->content_size;
}

/* qfile_status_valid - the status bytes the format knows. */
bool qfile_status_valid(int status)
{
    return status == QFILE_RCPT_PENDING || status == QFILE_RCPT_DELIVERED
        || status == QFILE_RCPT_BOUNCED || status == QFILE_RCPT_DROPPED;
}

/* qfile_patch - check the byte at off is a known value, then replace it. */
static int qfile_patch(int fd, off_t off, char value, bool (*ok)(int))
{
    char old;
    ssize_t n;

    if (off <= 0) {
        errno = EINVAL;
        return -1;
    }
    if ((n = pread(fd, &old, 1, off)) < 0)
        return -1;
    if (n != 1 || !ok((unsigned char)old)) {
        errno = EINVAL;             /* not a status byte: a wrong offset */
        return -1;
    }
    if (pwrite(fd, &value, 1, off) != 1)
        return -1;
    return 0;
}

/*
 * qfile_mark_rcpts - set many status bytes, then one fdatasync: an
 * in-place rewrite changes no size or block, so fdatasync makes the bytes
 * durable without the journal commit an mtime update would force.
 */
int qfile_mark_rcpts(int fd, const off_t *offsets, size_t n, int status)
{
    if (!qfile_status_valid(status)) {
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (qfile_patch(fd, offsets[i], (char)status, qfile_status_valid) < 0)
            return -1;
    return fdatasync(fd);
}

/* qfile_mark_rcpt - set one status byte durably. */
int qfile_mark_rcpt(int fd, off_t status_offset, int status)
{
    return qfile_mark_rcpts(fd, &status_offset, 1, status);
}

/* qfile_expire_ok - the two values of the expire byte. */
static bool qfile_expire_ok(int c)
{
    return c == '0' || c == '1';
}

/* qfile_set_expire - flip the forced-expire byte durably. */
int qfile_set_expire(int fd, off_t expire_offset, bool on)
{
    if (qfile_patch(fd, expire_offset, on ? '1' : '0', qfile_expire_ok) < 0)
        return -1;
    return fsync(fd);
}

/* qfile_remove - unlink, fsync the directory, drop the reason file. */
int qfile_remove(spool *sp, enum spool_dir dir, const char *qid)
{
    if (qfile_remove_nosync(sp, dir, qid) < 0)
        return -1;
    return spool_fsync_dir(sp, dir);
}

/* qfile_remove_nosync - unlink, drop the reason file; caller syncs dir. */
int qfile_remove_nosync(spool *sp, enum spool_dir dir, const char *qid)
{
    int dirfd, deferfd;

    if (!qid_valid(qid)) {
        errno = EINVAL;
        return -1;
    }
    if ((dirfd = spool_dirfd(sp, dir)) < 0 || unlinkat(dirfd, qid, 0) < 0)
        return -1;
    /* A stale reason file is harmless; it must not fail the removal. */
    deferfd = spool_dirfd(sp, SPOOL_DEFER);
    if (deferfd >= 0 && unlinkat(deferfd, qid, 0) < 0 && errno != ENOENT)
        msg_warn("remove %s/defer/%s: %m", sp->top, qid);
    return 0;
}

/* qfile_recycle_nosync - to spare/ (or unlinked); the reason file if asked. */
int qfile_recycle_nosync(spool *sp, enum spool_dir dir, const char *qid,
                         bool reasons)
{
    int dirfd, deferfd;

    if (!qid_valid(qid)) {
        errno = EINVAL;
        return -1;
    }
    if (spool_spare_put(sp, dir, qid) < 0
        && ((dirfd = spool_dirfd(sp, dir)) < 0 || unlinkat(dirfd, qid, 0) < 0))
        return -1;
    if (!reasons)
        return 0;
    /* A stale reason file is harmless; it must not fail the removal. */
    deferfd = spool_dirfd(sp, SPOOL_DEFER);
    if (deferfd >= 0 && unlinkat(deferfd, qid, 0) < 0 && errno != ENOENT)
        msg_warn("remove %s/defer/%s: %m", sp->top, qid);
    return 0;
}

/* qfile_quarantine - corrupt/ and one log line. */
int qfile_quarantine(spool *sp, enum spool_dir dir, const char *qid,
                     const char *reason)
{
    msg_warn("%s: corrupt queue file: %s", qid, reason);
    if (spool_move(sp, qid, dir, SPOOL_CORRUPT) < 0) {
        msg_warn("%s: move to %s/corrupt: %m", qid, sp->top);
        return -1;
    }
    return 0;
}
