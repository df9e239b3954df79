/*
 * pickup - maildrop/ to incoming/ (see pickup.h for the crash argument).
 *
 * Owns the pickup_ctx's spool handles. Every maildrop file is opened
 * without following links, must be a regular file with one link, and is
 * validated by qfile_read_fd before anything is copied; pickup then writes
 * a new queue file of its own. Failures are logged with the queue ID; a
 * temporary one leaves the file for the next scan.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/msg.h"
#include "common/strbuf.h"
#include "conf/conf.h"
#include "queue/cleanup.h"
#include "queue/drop.h"
#include "queue/pickup.h"
#include "queue/qfile.h"
#include "queue/qid.h"
#include "queue/spool.h"
#include "queue/trigger.h"

#define PICKUP_TEMP_AGE (24 * 3600)     /* maildrop temp files older: debris */
#define PICKUP_CHUNK    65536

/* pickup_empty_stage - remove every file in the staging directory. */
static int pickup_empty_stage(int fd)
{
    int dupfd = dup(fd);
    DIR *dp;
    struct dirent *de;

    if (dupfd < 0 || (dp = fdopendir(dupfd)) == NULL) {
        if (dupfd >= 0)
            (void)close(dupfd);
        return -1;
    }
    rewinddir(dp);
    while ((de = readdir(dp)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0
            && unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT)
            msg_warn("remove %s/%s: %m", PICKUP_STAGE, de->d_name);
    (void)closedir(dp);
    return fsync(fd);
}

/* pickup_init - spool handles, staging directory, temp-file purge. */
int pickup_init(pickup_ctx *ctx, const conf *cf, strbuf *why)
{
    int infd, fd;

    memset(ctx, 0, sizeof(*ctx));
    ctx->cf = cf;
    spool_init(&ctx->sp, conf_get_str(cf, "queue_directory"));
    spool_init(&ctx->stage, conf_get_str(cf, "queue_directory"));
    qid_gen_init(&ctx->gen, conf_get_bool(cf, "enable_long_queue_ids"));
    ctx->size_limit = (uint64_t)conf_get_size(cf, "message_size_limit");
    if ((infd = spool_dirfd(&ctx->sp, SPOOL_INCOMING)) < 0)
        return sb_printf(why, "open %s/incoming: %m", ctx->sp.top), -1;
    if (mkdirat(infd, PICKUP_STAGE, 0700) < 0 && errno != EEXIST)
        return sb_printf(why, "mkdir incoming/%s: %m", PICKUP_STAGE), -1;
    fd = openat(infd, PICKUP_STAGE, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                | O_CLOEXEC);
    if (fd < 0)
        return sb_printf(why, "open incoming/%s: %m", PICKUP_STAGE), -1;
    ctx->stage.dirfd[SPOOL_INCOMING] = fd;
    if (pickup_empty_stage(fd) < 0 || fsync(infd) < 0)
        return sb_printf(why, "clean incoming/%s: %m", PICKUP_STAGE), -1;
    if (spool_purge_temp(&ctx->sp, SPOOL_MAILDROP,
                         time(NULL) - PICKUP_TEMP_AGE) < 0)
        msg_warn("purge %s/maildrop: %m", ctx->sp.top);
    if ((ctx->cleanup = cleanup_cfg_open(cf, why)) == NULL)
        return -1;
    return 0;
}

/* pickup_free - close the spool handles. */
void pickup_free(pickup_ctx *ctx)
{
    spool_close(&ctx->sp);
    spool_close(&ctx->stage);
    cleanup_cfg_close(ctx->cleanup);
    ctx->cleanup = NULL;
}

/* pickup_queued - true when qid is already in a queue past maildrop. */
static bool pickup_queued(pickup_ctx *ctx, const char *qid)
{
    static const enum spool_dir dirs[] = {
        SPOOL_INCOMING, SPOOL_ACTIVE, SPOOL_DEFERRED, SPOOL_HOLD};

    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        int fd = spool_dirfd(&ctx->sp, dirs[i]);

        if (fd >= 0 && faccessat(fd, qid, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
            return true;
    }
    return false;
}

/* pickup_unlink - remove the maildrop copy durably. */
static int pickup_unlink(pickup_ctx *ctx, const char *qid)
{
    int fd = spool_dirfd(&ctx->sp, SPOOL_MAILDROP);

    if (fd < 0 || (unlinkat(fd, qid, 0) < 0 && errno != ENOENT)
        || fsync(fd) < 0) {
        msg_warn("%s: remove maildrop file: %m", qid);
        return -1;
    }
    return 0;
}

/* pickup_addr_ok - an internal address that re-parses to itself. */
static bool pickup_addr_ok(const char *a, bool allow_null, strbuf *tmp,
                           strbuf *why)
{
    strbuf ext;
    bool utf8 = false, ok;

    sb_init(&ext, 4096);
    ok = addr_quote(&ext, a, strlen(a)) == 0
        && drop_check_addr(sb_str(&ext), allow_null, tmp, &utf8, why) == 0
        && strcmp(sb_str(tmp), a) == 0
        && (*a || allow_null);
    if (!ok && sb_len(why) == 0)
        (void)sb_printf(why, "address does not re-parse: %.100s", a);
    sb_release(&ext);
    return ok;
}

/* pickup_check - pickup's own checks on a validated file; reason if bad. */
static int pickup_check(pickup_ctx *ctx, const qfile_msg *m, strbuf *why)
{
    strbuf tmp;
    int rc = -1;

    sb_init(&tmp, 4096);
    if (ctx->size_limit > 0 && m->content_size > ctx->size_limit)
        (void)sb_printf(why, "message size %llu exceeds message_size_limit",
                        (unsigned long long)m->content_size);
    else if (m->env.forced_expire)
        (void)sb_puts(why, "forced-expire flag set in a maildrop file");
    else if (!pickup_addr_ok(m->env.sender, true, &tmp, why))
        ;
    else
        rc = 0;
    for (size_t i = 0; rc == 0 && i < m->nrcpt; i++) {
        if (m->rcpt[i].status != QFILE_RCPT_PENDING)
            rc = (sb_puts(why, "recipient not pending in a maildrop file"), -1);
        else if (!pickup_addr_ok(m->rcpt[i].address, false, &tmp, why))
            rc = -1;
    }
    sb_release(&tmp);
    return rc;
}

/* pickup_copy_content - the content, chunk by chunk, through cleanup. */
static int pickup_copy_content(const qfile_msg *in, cleanup *c)
{
    char *buf = malloc(PICKUP_CHUNK);
    uint64_t pos = 0;
    int rc = 0;

    if (buf == NULL)
        return -1;
    while (rc == 0 && pos < in->content_size) {
        ssize_t n = qfile_read_content(in, pos, buf, PICKUP_CHUNK);

        if (n <= 0 || cleanup_write(c, buf, (size_t)n) < 0)
            rc = -1;
        else
            pos += (uint64_t)n;
    }
    free(buf);
    return rc;
}

/* pickup_cleanup - the checked message through the cleanup library. */
enum cleanup_verdict pickup_cleanup(pickup_ctx *ctx, const qfile_msg *in,
                                    uid_t uid, const char *qid,
                                    qfile_writer *w, strbuf *reply)
{
    qfile_env env;
    struct timeval now;
    cleanup_info info = {qid, true, false};
    cleanup *c;

    (void)uid;                  /* for "Received: ... (from userid N)" */
    memset(&env, 0, sizeof(env));
    if (gettimeofday(&now, NULL) < 0) {
        (void)sb_set(reply, "451 4.3.0 Error: clock error");
        return CLEANUP_TEMPFAIL;
    }
    env.sender = in->env.sender;
    /* the user wrote the arrival time: keep it only if it is plausible */
    env.arrival = in->env.arrival.tv_sec <= now.tv_sec
        && in->env.arrival.tv_sec > now.tv_sec - 7 * 86400
        ? in->env.arrival : now;
    env.body_type = in->env.body_type;
    env.smtputf8 = in->env.smtputf8;
    env.envid = in->env.envid;
    env.ret = in->env.ret;
    c = cleanup_open(ctx->cleanup, w, &env, &info);
    for (size_t i = 0; i < in->nrcpt; i++) {
        qfile_rcpt r = in->rcpt[i];

        r.status = QFILE_RCPT_PENDING;
        if (cleanup_add_rcpt(c, &r) < 0)
            break;
    }
    (void)pickup_copy_content(in, c);   /* a failure shows in the verdict */
    return cleanup_close(c, reply);
}

/* pickup_publish - staging/tmpid becomes incoming/qid or hold/qid (the commit). */
static enum pickup_result pickup_publish(pickup_ctx *ctx, const char *tmpid,
                                         const char *qid, enum spool_dir dir)
{
    int sfd = ctx->stage.dirfd[SPOOL_INCOMING];
    int ifd = spool_dirfd(&ctx->sp, dir);

    if (renameat2(sfd, tmpid, ifd, qid, RENAME_NOREPLACE) < 0) {
        int saved = errno;

        (void)unlinkat(sfd, tmpid, 0);
        if (saved == EEXIST)
            return PICKUP_DUPLICATE;
        errno = saved;
        msg_warn("%s: rename into incoming: %m", qid);
        return PICKUP_RETRY;
    }
    if (fsync(ifd) < 0 || fsync(sfd) < 0) {
        msg_warn("%s: fsync incoming: %m", qid);
        return PICKUP_RETRY;    /* the next scan sees it queued */
    }
    return PICKUP_QUEUED;
}

/* pickup_write - rewrite a checked message through the staging directory. */
static enum pickup_result pickup_write(pickup_ctx *ctx, const qfile_msg *m,
                                       uid_t uid, const char *qid)
{
    strbuf why;
    qfile_writer *w;
    char tmpid[QID_SIZE];
    enum cleanup_verdict v;

    sb_init(&why, 1024);
    w = qfile_create(&ctx->stage, SPOOL_INCOMING, 0600, &why);
    if (w == NULL) {
        msg_warn("%s: %s", qid, sb_str(&why));
        sb_release(&why);
        return PICKUP_RETRY;
    }
    v = pickup_cleanup(ctx, m, uid, qid, w, &why);
    if (v != CLEANUP_OK && v != CLEANUP_HOLD) {
        /* no bounce service yet: a REJECT is logged (cleanup) and dropped */
        if (v != CLEANUP_DISCARD)
            msg_warn("%s: %s: %s", qid, v == CLEANUP_TEMPFAIL ? "deferred"
                     : "rejected", sb_str(&why));
        qfile_abort(w);
        sb_release(&why);
        return v == CLEANUP_TEMPFAIL ? PICKUP_RETRY : PICKUP_DROPPED;
    }
    sb_release(&why);
    if (qfile_commit(w, &ctx->gen, tmpid, sizeof(tmpid)) < 0) {
        msg_warn("%s: commit queue file: %m", qid);
        return PICKUP_RETRY;
    }
    return pickup_publish(ctx, tmpid, qid,
                          v == CLEANUP_HOLD ? SPOOL_HOLD : SPOOL_INCOMING);
}

/* pickup_open - the maildrop file as a regular, singly linked file. */
static int pickup_open(pickup_ctx *ctx, const char *qid, struct stat *st)
{
    int dfd = spool_dirfd(&ctx->sp, SPOOL_MAILDROP);
    int fd = dfd < 0 ? -1 : openat(dfd, qid, O_RDONLY | O_NOFOLLOW
                                   | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

    if (fd >= 0 && fstat(fd, st) < 0) {
        (void)close(fd);
        return -1;
    }
    return fd;
}

/* pickup_file - one maildrop file, start to finish. */
enum pickup_result pickup_file(pickup_ctx *ctx, const char *qid)
{
    struct stat st;
    strbuf why;
    qfile_msg *m = NULL;
    enum pickup_result res = PICKUP_RETRY;
    int fd, rc;

    if (pickup_queued(ctx, qid))
        return pickup_unlink(ctx, qid) == 0 ? PICKUP_DUPLICATE : PICKUP_RETRY;
    if ((fd = pickup_open(ctx, qid, &st)) < 0) {
        if (errno == ELOOP)
            (void)qfile_quarantine(&ctx->sp, SPOOL_MAILDROP, qid, "symlink");
        return errno == ELOOP ? PICKUP_CORRUPT : PICKUP_RETRY;
    }
    sb_init(&why, 1024);
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
        rc = (sb_puts(&why, "not a regular file with one link"), QFILE_ECORRUPT);
    else
        rc = qfile_read_fd(fd, &m, &why);
    if (rc == QFILE_OK && pickup_check(ctx, m, &why) < 0)
        rc = QFILE_ECORRUPT;
    if (rc == QFILE_ECORRUPT) {
        (void)qfile_quarantine(&ctx->sp, SPOOL_MAILDROP, qid, sb_str(&why));
        res = PICKUP_CORRUPT;
    } else if (rc != QFILE_OK) {
        msg_warn("%s: read maildrop file: %s", qid, sb_str(&why));
    } else if ((res = pickup_write(ctx, m, st.st_uid, qid)) != PICKUP_RETRY) {
        if (res == PICKUP_QUEUED || res == PICKUP_DROPPED)
            msg_info("%s: uid=%ld from=<%s>", qid, (long)st.st_uid,
                     m->env.sender);
        if (pickup_unlink(ctx, qid) < 0 && res == PICKUP_DUPLICATE)
            res = PICKUP_RETRY;
    }
    qfile_close(m);
    (void)close(fd);
    sb_release(&why);
    return res;
}

/* pickup_scan - every complete file in maildrop/, then wake qmgr. */
int pickup_scan(pickup_ctx *ctx)
{
    spool_ids ids;
    int queued = 0;

    if (spool_list(&ctx->sp, SPOOL_MAILDROP, 0, &ids) < 0) {
        msg_warn("open %s/maildrop: %m", ctx->sp.top);
        return 0;
    }
    for (size_t i = 0; i < ids.n; i++)
        if (pickup_file(ctx, ids.v[i]) == PICKUP_QUEUED)
            queued++;
    spool_ids_free(&ids);
    if (queued > 0)
        (void)trigger_service(ctx->cf, ctx->sp.top, "qmgr");
    return queued;
}
