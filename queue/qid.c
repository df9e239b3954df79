/*
 * qid - queue ID generation, validation and the no-replace rename.
 *
 * Long IDs (Postfix's enable_long_queue_ids = yes shape): 6 base-52 digits
 * of seconds, 4 base-52 digits of microseconds, 'z', the inode in base 51.
 * The digit alphabet is in ASCII order, so IDs sort by time stamp. Short
 * IDs: 5 upper-case hex digits of microseconds, then the inode in hex.
 * Owns nothing but the caller's qid_gen; fails with -1 and errno.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#include "common/strbuf.h"
#include "queue/qid.h"

/* Base 52 without vowels, in ASCII order; base 51 drops the final 'z'. */
static const char qid_digits[] =
    "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";
static const char qid_hex[] = "0123456789ABCDEF";

#define QID_SEC_DIGITS   6
#define QID_USEC_DIGITS  4
#define QID_SEPARATOR    'z'
#define QID_SHORT_USEC   5
#define QID_CLAIM_TRIES  1000

/* qid_real_clock - the default time source. */
static int qid_real_clock(void *ctx, struct timeval *tv)
{
    (void)ctx;
    return gettimeofday(tv, NULL);
}

/* qid_gen_init - set up a generator with the real clock. */
void qid_gen_init(qid_gen *gen, bool long_ids)
{
    memset(gen, 0, sizeof(*gen));
    gen->long_ids = long_ids;
    gen->clock = qid_real_clock;
}

/* qid_gen_set_clock - inject a time source. */
void qid_gen_set_clock(qid_gen *gen, qid_clock_fn fn, void *ctx)
{
    gen->clock = fn ? fn : qid_real_clock;
    gen->clock_ctx = ctx;
}

/* qid_put - append value in base `base` using at least `width` digits. */
static int qid_put(strbuf *sb, uint64_t value, unsigned base,
                   const char *alphabet, size_t width)
{
    char tmp[72];
    size_t n = 0;

    do {
        tmp[n++] = alphabet[value % base];
        value /= base;
    } while (value > 0 && n < sizeof(tmp));
    while (n < width && n < sizeof(tmp))
        tmp[n++] = alphabet[0];
    while (n > 0)
        if (sb_putc(sb, tmp[--n]) < 0)
            return -1;
    return 0;
}

/* qid_format - build an ID from a time stamp and an inode. */
int qid_format(bool long_id, int64_t sec, int32_t usec, uint64_t inode,
               char *buf, size_t size)
{
    strbuf sb;
    int ret = 0;

    if (sec < 0 || usec < 0 || usec >= 1000000 || size == 0) {
        errno = EINVAL;
        return -1;
    }
    sb_init(&sb, QID_SIZE - 1);
    if (long_id) {
        if (qid_put(&sb, (uint64_t)sec, 52, qid_digits, QID_SEC_DIGITS) < 0
            || qid_put(&sb, (uint64_t)usec, 52, qid_digits, QID_USEC_DIGITS) < 0
            || sb_putc(&sb, QID_SEPARATOR) < 0
            || qid_put(&sb, inode, 51, qid_digits, 1) < 0)
            ret = -1;
    } else {
        if (qid_put(&sb, (uint64_t)usec, 16, qid_hex, QID_SHORT_USEC) < 0
            || qid_put(&sb, inode, 16, qid_hex, 1) < 0)
            ret = -1;
    }
    if (ret == 0 && fmt_fixed(buf, size, "%s", sb_str(&sb)) < 0)
        ret = -1;
    sb_release(&sb);
    if (ret < 0)
        errno = ENAMETOOLONG;
    return ret;
}

/* qid_tick - the next time stamp: the clock, or 1us past the last one. */
static int qid_tick(qid_gen *gen, int64_t *sec, int32_t *usec)
{
    struct timeval tv;
    int64_t s;
    int32_t u;

    if (gen->clock(gen->clock_ctx, &tv) < 0)
        return -1;
    s = (int64_t)tv.tv_sec;
    u = (int32_t)tv.tv_usec;
    if (s < 0 || u < 0 || u >= 1000000) {
        errno = EINVAL;
        return -1;
    }
    if (gen->have_last && (s < gen->last_sec
                           || (s == gen->last_sec && u <= gen->last_usec))) {
        /* Same instant or a clock step back: keep counting forward. */
        s = gen->last_sec;
        u = gen->last_usec + 1;
        if (u >= 1000000) {
            s++;
            u = 0;
        }
    }
    gen->last_sec = s;
    gen->last_usec = u;
    gen->have_last = true;
    *sec = s;
    *usec = u;
    return 0;
}

/* qid_next - the next ID for a file with this inode. */
int qid_next(qid_gen *gen, uint64_t inode, char *buf, size_t size)
{
    int64_t sec;
    int32_t usec;

    if (qid_tick(gen, &sec, &usec) < 0)
        return -1;
    return qid_format(gen->long_ids, sec, usec, inode, buf, size);
}

/* qid_rename_noreplace - rename within dirfd, failing with EEXIST. */
static int qid_rename_noreplace(int dirfd, const char *from, const char *to)
{
    if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    /* File system without RENAME_NOREPLACE: link() never replaces either. */
    if (linkat(dirfd, from, dirfd, to, 0) < 0)
        return -1;
    if (unlinkat(dirfd, from, 0) < 0)
        return -1;
    return 0;
}

/* qid_claim_by - fresh IDs for the file fd until name() takes one. */
int qid_claim_by(qid_gen *gen, int fd, int (*name)(void *ctx, const char *id),
                 void *ctx, char *buf, size_t size)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return -1;
    for (int i = 0; i < QID_CLAIM_TRIES; i++) {
        if (qid_next(gen, (uint64_t)st.st_ino, buf, size) < 0)
            return -1;
        if (name(ctx, buf) == 0)
            return 0;
        if (errno != EEXIST)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

struct qid_rename_ctx {
    int dirfd;
    const char *tmpname;
};

/* qid_rename_to - qid_claim_by's namer: rename the temporary to id. */
static int qid_rename_to(void *ctx, const char *id)
{
    const struct qid_rename_ctx *r = ctx;

    return qid_rename_noreplace(r->dirfd, r->tmpname, id);
}

/* qid_claim - give the open file a fresh ID by a no-replace rename. */
int qid_claim(qid_gen *gen, int dirfd, const char *tmpname, int fd,
              char *buf, size_t size)
{
    struct qid_rename_ctx r = {dirfd, tmpname};

    return qid_claim_by(gen, fd, qid_rename_to, &r, buf, size);
}

/* qid_in - true when every byte of s[0..n) is in the set. */
static bool qid_in(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0' || strchr(set, s[i]) == NULL)
            return false;
    return true;
}

/* qid_valid - the shape check used before an ID becomes a path. */
bool qid_valid(const char *s)
{
    size_t len = strnlen(s, QID_SIZE);
    size_t head = QID_SEC_DIGITS + QID_USEC_DIGITS;
    char base51[sizeof(qid_digits)];

    if (len >= QID_SIZE)
        return false;
    if (len > head + 1 && s[head] == QID_SEPARATOR) {
        memcpy(base51, qid_digits, sizeof(base51));
        base51[51] = '\0';
        return qid_in(s, head, qid_digits)
            && qid_in(s + head + 1, len - head - 1, base51);
    }
    return len > QID_SHORT_USEC && len <= QID_SHORT_USEC + 16
        && qid_in(s, len, qid_hex);
}
