/*
 * maildir - Maildir delivery (see maildir.h for the contract).
 *
 * Every directory below the base is reached with openat(O_NOFOLLOW |
 * O_DIRECTORY) from its parent's descriptor, and created with mkdirat(0700)
 * (then the parent is fsynced) when missing, so no symlink below the base
 * is ever followed and a path cannot be swapped under us between the check
 * and the use. The message is written in bounded memory (64 KiB chunks).
 * Owns the context and, during one call, its descriptors and the tmp/
 * file, which it removes on every failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "local/maildir.h"

#define MAILDIR_CHUNK   65536           /* content bytes read at once */
#define MAILDIR_NAME_MAX 1024           /* a file name we make */

struct maildir_ctx {
    strbuf host;                        /* hostname, '/' and ':' escaped */
    unsigned long count;                /* deliveries by this process */
    int (*fsync_fn)(int fd);
};

/* One delivery in progress. */
typedef struct md_run {
    maildir_ctx *m;
    strbuf *why;
    int *err;
    int dirs[3];                        /* tmp, new, cur */
    int fd;                             /* the tmp/ file */
    strbuf tmpname;
    uint64_t written;
    uint64_t limit;
} md_run;

enum { MD_TMP, MD_NEW, MD_CUR };
static const char *const md_subdirs[] = {"tmp", "new", "cur"};

/* md_fail - set why and return status. */
static int md_fail(md_run *r, int status, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int md_fail(md_run *r, int status, int err, const char *fmt, ...)
{
    va_list ap;

    sb_reset(r->why);
    va_start(ap, fmt);
    if (sb_vprintf(r->why, fmt, ap) < 0)
        (void)sb_set(r->why, "maildir delivery failed (reason too long)");
    va_end(ap);
    *r->err = err;
    return status;
}

/* maildir_ctx_new - a context for one process. */
maildir_ctx *maildir_ctx_new(const char *hostname)
{
    maildir_ctx *m = xcalloc(1, sizeof(*m));

    sb_init(&m->host, 512);
    for (const char *p = hostname; *p && sb_len(&m->host) < 400; p++) {
        if (*p == '/')
            (void)sb_puts(&m->host, "\\057");
        else if (*p == ':')
            (void)sb_puts(&m->host, "\\072");
        else if ((unsigned char)*p > ' ' && (unsigned char)*p < 0x7f)
            (void)sb_putc(&m->host, *p);
    }
    if (sb_len(&m->host) == 0)
        (void)sb_set(&m->host, "localhost");
    m->fsync_fn = fsync;
    return m;
}

/* maildir_ctx_free - release a context. */
void maildir_ctx_free(maildir_ctx *m)
{
    if (m == NULL)
        return;
    sb_release(&m->host);
    free(m);
}

/* maildir_set_fsync - the fsync function (tests). */
void maildir_set_fsync(maildir_ctx *m, int (*fn)(int fd))
{
    m->fsync_fn = fn ? fn : fsync;
}

/* maildir_tmp_name - "<sec>.M<usec>P<pid>Q<count>.<host>". */
int maildir_tmp_name(maildir_ctx *m, strbuf *out)
{
    struct timeval tv;

    if (gettimeofday(&tv, NULL) < 0)
        return -1;
    m->count++;
    sb_reset(out);
    return sb_printf(out, "%lld.M%06ldP%ldQ%lu.%s", (long long)tv.tv_sec,
                     (long)tv.tv_usec, (long)getpid(), m->count,
                     sb_str(&m->host));
}

/* md_close - close a descriptor we own; -1 is fine. */
static void md_close(int *fd)
{
    if (*fd >= 0 && close(*fd) < 0)
        msg_warn("maildir: close: %m");
    *fd = -1;
}

/*
 * md_subdir - open directory name below at, creating it (0700, then
 * fsyncing at) when missing; never follows a symlink.
 */
static int md_subdir(md_run *r, int at, const char *name, const char *shown,
                     int *out)
{
    int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(at, name, flags);

    if (fd < 0 && errno == ENOENT) {
        if (mkdirat(at, name, 0700) < 0 && errno != EEXIST)
            return md_fail(r, MAILDIR_ESYS, errno, "create directory %s: %s",
                           shown, strerror(errno));
        if (r->m->fsync_fn(at) < 0)
            return md_fail(r, MAILDIR_ESYS, errno, "fsync parent of %s: %s",
                           shown, strerror(errno));
        fd = openat(at, name, flags);
    }
    if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
        return md_fail(r, MAILDIR_EUNSAFE, errno,
                       "%s is a symbolic link or not a directory: refused",
                       shown);
    if (fd < 0)
        return md_fail(r, MAILDIR_ESYS, errno, "open directory %s: %s",
                       shown, strerror(errno));
    *out = fd;
    return MAILDIR_OK;
}

/* md_check_path - a relative Maildir path: no "." or ".." components. */
static int md_check_path(md_run *r, const char *path)
{
    size_t len = strlen(path);
    const char *p = path;

    if (len == 0 || path[len - 1] != '/')
        return md_fail(r, MAILDIR_EMBOX, 0, "mailbox \"%s\" is a mailbox"
                       " file (not ending in /): only Maildir delivery is"
                       " supported", path);
    if (strspn(path, "/") == len)
        return md_fail(r, MAILDIR_EUNSAFE, 0, "mailbox path \"%s\" names"
                       " the base itself: refused", path);
    while (*p) {
        size_t n = strcspn(p, "/");

        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return md_fail(r, MAILDIR_EUNSAFE, 0, "mailbox path \"%s\" has a"
                           " \".\" or \"..\" component: refused", path);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)p[i] < ' ' || p[i] == 0x7f)
                return md_fail(r, MAILDIR_EUNSAFE, 0, "mailbox path has a"
                               " control character: refused");
        p += n + (p[n] == '/');
    }
    return MAILDIR_OK;
}

/* md_open_maildir - walk base/path (creating it) and open tmp, new, cur. */
static int md_open_maildir(md_run *r, const char *base, const char *path)
{
    char *copy = xstrdup(path), *save = NULL;
    int at, rc = MAILDIR_OK;
    strbuf shown;

    at = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (at < 0) {
        free(copy);
        return md_fail(r, MAILDIR_EBASE, errno, "virtual_mailbox_base %s: %s",
                       base, strerror(errno));
    }
    sb_init(&shown, 8192);
    (void)sb_puts(&shown, base);
    for (char *c = strtok_r(copy, "/", &save); c && rc == MAILDIR_OK;
         c = strtok_r(NULL, "/", &save)) {
        int next = -1;

        (void)sb_printf(&shown, "/%s", c);
        rc = md_subdir(r, at, c, sb_str(&shown), &next);
        md_close(&at);
        at = next;
    }
    for (int i = 0; i < 3 && rc == MAILDIR_OK; i++) {
        size_t mark = sb_len(&shown);

        (void)sb_printf(&shown, "/%s", md_subdirs[i]);
        rc = md_subdir(r, at, md_subdirs[i], sb_str(&shown), &r->dirs[i]);
        sb_truncate(&shown, mark);
    }
    md_close(&at);
    sb_release(&shown);
    free(copy);
    return rc;
}

/* md_write_all - write n bytes (limit checked); MAILDIR_OK or a failure. */
static int md_write_all(md_run *r, const char *buf, size_t n)
{
    if (r->limit > 0 && (n > r->limit || r->written > r->limit - n))
        return md_fail(r, MAILDIR_EFBIG, EFBIG, "message is larger than"
                       " virtual_mailbox_limit (%llu bytes)",
                       (unsigned long long)r->limit);
    while (n > 0) {
        ssize_t w = write(r->fd, buf, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return md_fail(r, MAILDIR_ESYS, errno, "write maildir file"
                           " tmp/%s: %s", sb_str(&r->tmpname), strerror(errno));
        buf += w;
        n -= (size_t)w;
        r->written += (uint64_t)w;
    }
    return MAILDIR_OK;
}

/* md_header_ok - a header value: no control characters (no CR, LF, NUL). */
static bool md_header_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < ' ' || *s == 0x7f)
            return false;
    return true;
}

/* md_write_headers - Return-Path:, X-Original-To:, Delivered-To:. */
static int md_write_headers(md_run *r, const maildir_msg *msg)
{
    const char *orig = *msg->orig_rcpt ? msg->orig_rcpt : msg->rcpt;
    strbuf h;
    int rc;

    if (!md_header_ok(msg->return_path) || !md_header_ok(orig)
        || !md_header_ok(msg->rcpt) || *msg->rcpt == '\0')
        return md_fail(r, MAILDIR_EUNSAFE, 0, "sender or recipient has"
                       " control characters: refused");
    sb_init(&h, 3 * 4200);
    if (sb_printf(&h, "Return-Path: <%s>\nX-Original-To: %s\n"
                  "Delivered-To: %s\n", msg->return_path, orig, msg->rcpt) < 0)
        rc = md_fail(r, MAILDIR_EUNSAFE, 0, "sender or recipient too long");
    else
        rc = md_write_all(r, sb_str(&h), sb_len(&h));
    sb_release(&h);
    return rc;
}

/* md_crlf_to_lf - convert one chunk in place; *cr carries a trailing CR. */
static size_t md_crlf_to_lf(const char *in, size_t n, char *out, bool *cr)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (*cr && in[i] != '\n')
            out[o++] = '\r';
        *cr = in[i] == '\r';
        if (!*cr)
            out[o++] = in[i];
    }
    return o;
}

/* md_write_content - copy the content, CRLF to LF, in bounded chunks. */
static int md_write_content(md_run *r, const maildir_msg *msg)
{
    char *in = xmalloc(MAILDIR_CHUNK), *out = xmalloc(MAILDIR_CHUNK + 1);
    uint64_t pos = 0;
    bool cr = false;
    int rc = MAILDIR_OK;

    while (rc == MAILDIR_OK && pos < msg->size) {
        size_t want = msg->size - pos < MAILDIR_CHUNK
                      ? (size_t)(msg->size - pos) : MAILDIR_CHUNK;
        ssize_t got = msg->read(msg->read_ctx, pos, in, want);

        if (got <= 0) {
            rc = md_fail(r, MAILDIR_EREAD, got < 0 ? errno : 0,
                         "cannot read the message content at byte %llu",
                         (unsigned long long)pos);
            break;
        }
        pos += (uint64_t)got;
        rc = md_write_all(r, out, md_crlf_to_lf(in, (size_t)got, out, &cr));
    }
    if (rc == MAILDIR_OK && cr)
        rc = md_write_all(r, "\r", 1);
    free(in);
    free(out);
    return rc;
}

/* md_new_name - "new/<sec>.V<dev>I<ino>M<usec>.<host>" for the file. */
static int md_new_name(md_run *r, const struct stat *st, strbuf *name)
{
    struct timeval tv;

    if (gettimeofday(&tv, NULL) < 0)
        return md_fail(r, MAILDIR_ESYS, errno, "gettimeofday: %s",
                       strerror(errno));
    sb_reset(name);
    if (sb_printf(name, "new/%lld.V%llxI%llxM%06ld.%s", (long long)tv.tv_sec,
                  (unsigned long long)st->st_dev,
                  (unsigned long long)st->st_ino, (long)tv.tv_usec,
                  sb_str(&r->m->host)) < 0)
        return md_fail(r, MAILDIR_ESYS, ENAMETOOLONG, "maildir file name"
                       " too long");
    return MAILDIR_OK;
}

/* md_commit - fsync and close the file, link it into new/, fsync new/. */
static int md_commit(md_run *r, strbuf *name)
{
    const char *tmp = sb_str(&r->tmpname), *base;
    struct stat st;
    int rc;

    if (r->m->fsync_fn(r->fd) < 0 || fstat(r->fd, &st) < 0)
        return md_fail(r, MAILDIR_ESYS, errno, "fsync maildir file tmp/%s:"
                       " %s", tmp, strerror(errno));
    if (close(r->fd) < 0) {
        r->fd = -1;
        return md_fail(r, MAILDIR_ESYS, errno, "close maildir file tmp/%s:"
                       " %s", tmp, strerror(errno));
    }
    r->fd = -1;
    if ((rc = md_new_name(r, &st, name)) != MAILDIR_OK)
        return rc;
    base = sb_str(name) + 4;            /* after "new/" */
    if (linkat(r->dirs[MD_TMP], tmp, r->dirs[MD_NEW], base, 0) < 0)
        return md_fail(r, MAILDIR_ESYS, errno, "link tmp/%s to %s: %s",
                       tmp, sb_str(name), strerror(errno));
    if (r->m->fsync_fn(r->dirs[MD_NEW]) < 0) {
        int e = errno;

        if (unlinkat(r->dirs[MD_NEW], base, 0) < 0)
            msg_warn("maildir: remove %s: %m", sb_str(name));
        return md_fail(r, MAILDIR_ESYS, e, "fsync maildir new/: %s",
                       strerror(e));
    }
    return MAILDIR_OK;
}

/* md_write - create tmp/<unique>, write headers and content, commit. */
static int md_write(md_run *r, const maildir_msg *msg, strbuf *name)
{
    int rc;

    if (maildir_tmp_name(r->m, &r->tmpname) < 0)
        return md_fail(r, MAILDIR_ESYS, ENAMETOOLONG, "cannot make a"
                       " maildir file name");
    r->fd = openat(r->dirs[MD_TMP], sb_str(&r->tmpname), O_WRONLY | O_CREAT
                   | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (r->fd < 0) {
        sb_reset(&r->tmpname);
        return md_fail(r, MAILDIR_ESYS, errno, "create maildir file: %s",
                       strerror(errno));
    }
    if ((rc = md_write_headers(r, msg)) == MAILDIR_OK
        && (rc = md_write_content(r, msg)) == MAILDIR_OK)
        rc = md_commit(r, name);
    return rc;
}

/* maildir_deliver - the whole delivery; see maildir.h. */
int maildir_deliver(maildir_ctx *m, const char *base, const char *path,
                    const maildir_msg *msg, strbuf *name, strbuf *why,
                    int *err)
{
    md_run r = {.m = m, .why = why, .err = err, .dirs = {-1, -1, -1},
                .fd = -1, .limit = msg->limit};
    int rc;

    *err = 0;
    sb_init(&r.tmpname, MAILDIR_NAME_MAX);
    sb_reset(why);
    if ((rc = md_check_path(&r, path)) == MAILDIR_OK
        && (rc = md_open_maildir(&r, base, path)) == MAILDIR_OK)
        rc = md_write(&r, msg, name);
    md_close(&r.fd);
    if (sb_len(&r.tmpname) > 0 && r.dirs[MD_TMP] >= 0
        && unlinkat(r.dirs[MD_TMP], sb_str(&r.tmpname), 0) < 0)
        msg_warn("maildir: remove tmp/%s: %m", sb_str(&r.tmpname));
    for (int i = 0; i < 3; i++)
        md_close(&r.dirs[i]);
    sb_release(&r.tmpname);
    return rc;
}
