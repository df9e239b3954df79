/*
 * tio - timed, buffered line and byte I/O over a raw-transport vtable.
 *
 * Owns two fixed buffers and a scratch strbuf for tio_printf; never owns
 * the descriptor. Every wait is a poll(2) bounded by the operation's
 * deadline. Errors come back as enum tio_status; only misuse (a bug)
 * panics.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/tio.h"
#include "common/msg.h"
#include "common/xalloc.h"

#define TIO_BUFSIZE     8192
#define TIO_PRINTF_MAX  65536

/* The default transport's state: the descriptor and what kind it is. */
struct tio_fdctx {
    int fd;
    bool notsock;               /* recv/send said ENOTSOCK: use read/write */
};

struct tio {
    struct tio_fdctx fdctx;
    tio_ops ops;
    int timeout_ms;             /* per operation; < 0: none */
    int err;                    /* errno of the last TIO_ERROR */
    enum tio_status werr;       /* sticky write failure */
    size_t rpos, rend;          /* unread input is ibuf[rpos..rend) */
    bool held_cr;               /* a CR read but not yet given: it comes
                                 * before ibuf[rpos] (a full line ended
                                 * between the CR and its successor) */
    size_t olen;                /* pending output is obuf[0..olen) */
    strbuf fmt;                 /* tio_printf scratch */
    unsigned char ibuf[TIO_BUFSIZE];
    unsigned char obuf[TIO_BUFSIZE];
};

/* tio_now_ms - monotonic milliseconds. */
static int64_t tio_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        msg_panic("tio: clock_gettime(CLOCK_MONOTONIC): %m");
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* tio_deadline - absolute deadline for an operation starting now (-1: none). */
static int64_t tio_deadline(const tio *t)
{
    return t->timeout_ms < 0 ? -1 : tio_now_ms() + t->timeout_ms;
}

/* tio_left_ms - poll(2) timeout for what remains of a deadline. */
static int tio_left_ms(int64_t deadline)
{
    int64_t left;

    if (deadline < 0)
        return -1;
    left = deadline - tio_now_ms();
    if (left <= 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

/* tio_wait - wait for events on fd until the deadline. */
static enum tio_status tio_wait(tio *t, short events, int64_t deadline)
{
    struct pollfd pfd = { .fd = t->fdctx.fd, .events = events };
    int n;

    for (;;) {
        n = poll(&pfd, 1, tio_left_ms(deadline));
        if (n > 0)
            return TIO_OK;      /* ready, or HUP/ERR: the next call says */
        if (n == 0)
            return TIO_TIMEOUT;
        if (errno != EINTR) {
            t->err = errno;
            return TIO_ERROR;
        }
    }
}

/* tio_poll_now - 1 if fd is ready for events right now, 0 if not, -1. */
static int tio_poll_now(int fd, short events)
{
    struct pollfd pfd = { .fd = fd, .events = events };
    int n = poll(&pfd, 1, 0);

    if (n < 0 && errno == EINTR)
        return 0;
    return n < 0 ? -1 : n > 0;
}

/* tio_fd_read - default raw read: never blocks. */
static ssize_t tio_fd_read(void *ctx, void *buf, size_t len)
{
    struct tio_fdctx *f = ctx;
    ssize_t n;
    int ready;

    if (!f->notsock) {
        n = recv(f->fd, buf, len, MSG_DONTWAIT);
        if (n >= 0)
            return n;
        if (errno != ENOTSOCK)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
                ? TIO_RAW_WANT_READ : TIO_RAW_ERROR;
        f->notsock = true;
    }
    if ((ready = tio_poll_now(f->fd, POLLIN)) <= 0)
        return ready < 0 ? TIO_RAW_ERROR : TIO_RAW_WANT_READ;
    n = read(f->fd, buf, len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return TIO_RAW_WANT_READ;
    return n < 0 ? TIO_RAW_ERROR : n;
}

/* tio_fd_write - default raw write: sockets never block or raise SIGPIPE. */
static ssize_t tio_fd_write(void *ctx, const void *buf, size_t len)
{
    struct tio_fdctx *f = ctx;
    ssize_t n;
    int ready;

    if (!f->notsock) {
        n = send(f->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0)
            return n;
        if (errno != ENOTSOCK)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
                ? TIO_RAW_WANT_WRITE : TIO_RAW_ERROR;
        f->notsock = true;
    }
    if ((ready = tio_poll_now(f->fd, POLLOUT)) <= 0)
        return ready < 0 ? TIO_RAW_ERROR : TIO_RAW_WANT_WRITE;
    n = write(f->fd, buf, len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return TIO_RAW_WANT_WRITE;
    return n < 0 ? TIO_RAW_ERROR : n;
}

/* tio_open - make a stream over fd. */
tio *tio_open(int fd, int timeout_ms)
{
    tio *t = xcalloc(1, sizeof(*t));

    if (fd < 0)
        msg_panic("tio_open: bad descriptor %d", fd);
    t->fdctx.fd = fd;
    t->ops.read = tio_fd_read;
    t->ops.write = tio_fd_write;
    t->ops.ctx = &t->fdctx;
    t->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
    sb_init(&t->fmt, TIO_PRINTF_MAX);
    return t;
}

/* tio_free - release the stream (not the descriptor). */
void tio_free(tio *t)
{
    if (t == NULL)
        return;
    sb_release(&t->fmt);
    free(t);
}

/* tio_fd - the descriptor. */
int tio_fd(const tio *t)
{
    return t->fdctx.fd;
}

/* tio_set_timeout_ms - per-operation deadline in milliseconds. */
void tio_set_timeout_ms(tio *t, int timeout_ms)
{
    t->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

/* tio_set_timeout - per-operation deadline in seconds. */
void tio_set_timeout(tio *t, int seconds)
{
    if (seconds < 0)
        t->timeout_ms = -1;
    else
        t->timeout_ms = seconds > INT_MAX / 1000 ? INT_MAX : seconds * 1000;
}

/* tio_set_ops - swap the raw transport at a clean boundary. */
void tio_set_ops(tio *t, const tio_ops *ops)
{
    if (tio_pending(t) > 0)
        msg_panic("tio_set_ops: %zu bytes of input still buffered",
                  tio_pending(t));
    if (t->olen > 0)
        msg_panic("tio_set_ops: %zu bytes of output not flushed", t->olen);
    if (ops == NULL) {
        t->ops.read = tio_fd_read;
        t->ops.write = tio_fd_write;
        t->ops.ctx = &t->fdctx;
    } else {
        if (ops->read == NULL || ops->write == NULL)
            msg_panic("tio_set_ops: incomplete vtable");
        t->ops = *ops;
    }
}

/* tio_errno - errno of the last failure. */
int tio_errno(const tio *t)
{
    return t->err;
}

/* tio_strstatus - text for a status, for log lines. */
const char *tio_strstatus(int status)
{
    static const char *const text[] = {
        [-TIO_OK] = "ok", [-TIO_EOF] = "lost connection",
        [-TIO_TIMEOUT] = "timeout", [-TIO_ERROR] = "I/O error",
        [-TIO_TOOLONG] = "line too long",
    };

    if (status > 0 || status < TIO_TOOLONG)
        return "unknown status";
    return text[-status];
}

/* tio_raw_write_all - write obuf[0..olen) before the deadline. */
static enum tio_status tio_raw_write_all(tio *t, int64_t deadline)
{
    size_t done = 0;
    enum tio_status st;
    ssize_t n;

    while (done < t->olen) {
        n = t->ops.write(t->ops.ctx, t->obuf + done, t->olen - done);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n == TIO_RAW_WANT_WRITE || n == TIO_RAW_WANT_READ) {
            st = tio_wait(t, n == TIO_RAW_WANT_WRITE ? POLLOUT : POLLIN,
                          deadline);
            if (st != TIO_OK)
                return st;
            continue;
        }
        t->err = n == 0 ? EIO : errno;
        return TIO_ERROR;
    }
    t->olen = 0;
    return TIO_OK;
}

/* tio_flush_by - flush with a given deadline; failures are sticky. */
static enum tio_status tio_flush_by(tio *t, int64_t deadline)
{
    enum tio_status st;

    if (t->werr != TIO_OK)
        return t->werr;
    if (t->olen == 0)
        return TIO_OK;
    st = tio_raw_write_all(t, deadline);
    if (st != TIO_OK)
        t->werr = st;
    return st;
}

/* tio_flush - write all pending output. */
enum tio_status tio_flush(tio *t)
{
    return tio_flush_by(t, tio_deadline(t));
}

/*
 * tio_fill - read more input into ibuf; flushes output before waiting.
 * Returns TIO_OK (something was added), TIO_EOF, TIO_TIMEOUT, TIO_ERROR.
 */
static enum tio_status tio_fill(tio *t, int64_t deadline)
{
    enum tio_status st;
    ssize_t n;

    if (t->rpos == t->rend)
        t->rpos = t->rend = 0;
    else if (t->rpos > 0) {
        memmove(t->ibuf, t->ibuf + t->rpos, t->rend - t->rpos);
        t->rend -= t->rpos;
        t->rpos = 0;
    }
    if (t->rend == sizeof(t->ibuf))
        msg_panic("tio_fill: input buffer full");
    for (;;) {
        n = t->ops.read(t->ops.ctx, t->ibuf + t->rend,
                        sizeof(t->ibuf) - t->rend);
        if (n > 0) {
            t->rend += (size_t)n;
            return TIO_OK;
        }
        if (n == 0)
            return TIO_EOF;
        if (n != TIO_RAW_WANT_READ && n != TIO_RAW_WANT_WRITE) {
            t->err = errno;
            return TIO_ERROR;
        }
        if (t->olen > 0 && (st = tio_flush_by(t, deadline)) != TIO_OK)
            return st;
        st = tio_wait(t, n == TIO_RAW_WANT_READ ? POLLIN : POLLOUT, deadline);
        if (st != TIO_OK)
            return st;
    }
}

/*
 * tio_line_run - length of plain bytes at p (no CR/LF), noting NUL/8-bit.
 * memchr finds the line end; the flag scans stop once a flag is set.
 */
static size_t tio_line_run(const unsigned char *p, size_t n, unsigned *flags)
{
    const unsigned char *hit;
    unsigned char high = 0;

    if ((hit = memchr(p, '\r', n)) != NULL)
        n = (size_t)(hit - p);
    if ((hit = memchr(p, '\n', n)) != NULL)
        n = (size_t)(hit - p);
    if (!(*flags & TIO_LINE_NUL) && memchr(p, '\0', n) != NULL)
        *flags |= TIO_LINE_NUL;
    if (!(*flags & TIO_LINE_8BIT)) {
        for (size_t i = 0; i < n; i++)
            high |= p[i];
        if (high & 0x80)
            *flags |= TIO_LINE_8BIT;
    }
    return n;
}

/* Per-call state of tio_getline. */
struct tio_linestate {
    strbuf *sb;
    size_t max;
    unsigned *flags;
    bool cr;                    /* a CR was consumed, its successor unseen */
};

/*
 * tio_line_step - consume buffered bytes into the line. Returns 1 while
 * more input is needed, or TIO_OK / TIO_TOOLONG when the line is decided.
 */
static int tio_line_step(tio *t, struct tio_linestate *ls)
{
    unsigned char c;
    size_t run;

    while (t->rpos < t->rend) {
        c = t->ibuf[t->rpos];
        if (ls->cr) {
            ls->cr = false;
            if (c == '\n') {
                t->rpos++;
                *ls->flags |= TIO_LINE_CRLF;
                return TIO_OK;
            }
            if (sb_len(ls->sb) >= ls->max || sb_putc(ls->sb, '\r') < 0) {
                t->held_cr = true;      /* the next line starts with it */
                return TIO_TOOLONG;
            }
            *ls->flags |= TIO_LINE_BARE_CR;
            continue;
        }
        if (c == '\n' || c == '\r') {
            t->rpos++;
            if (c == '\r') {
                ls->cr = true;
                continue;
            }
            *ls->flags |= TIO_LINE_LF;
            return TIO_OK;
        }
        if (sb_len(ls->sb) >= ls->max)
            return TIO_TOOLONG;
        run = tio_line_run(t->ibuf + t->rpos, t->rend - t->rpos, ls->flags);
        if (run > ls->max - sb_len(ls->sb))
            run = ls->max - sb_len(ls->sb);
        if (sb_append(ls->sb, t->ibuf + t->rpos, run) < 0)
            return TIO_TOOLONG;
        t->rpos += run;
    }
    return 1;
}

/* tio_getline - read one bounded line; see tio.h for the outcomes. */
enum tio_status tio_getline(tio *t, strbuf *sb, size_t max, unsigned *flags)
{
    struct tio_linestate ls = { .sb = sb, .max = max, .flags = flags,
                                .cr = t->held_cr };
    int64_t deadline = tio_deadline(t);
    enum tio_status st;
    int r;

    t->held_cr = false;
    sb_reset(sb);
    *flags = 0;
    if (ls.max > sb->max)
        ls.max = sb->max;
    for (;;) {
        if ((r = tio_line_step(t, &ls)) <= 0)
            return (enum tio_status)r;
        if ((st = tio_fill(t, deadline)) == TIO_OK)
            continue;
        if (st == TIO_EOF && ls.cr && sb_len(sb) < ls.max
            && sb_putc(sb, '\r') == 0)
            *flags |= TIO_LINE_BARE_CR;
        return st;
    }
}

/* tio_skipline - drop the rest of a line (after TIO_TOOLONG). */
enum tio_status tio_skipline(tio *t)
{
    int64_t deadline = tio_deadline(t);
    const unsigned char *nl;
    enum tio_status st;

    t->held_cr = false;

    for (;;) {
        nl = memchr(t->ibuf + t->rpos, '\n', t->rend - t->rpos);
        if (nl != NULL) {
            t->rpos = (size_t)(nl - t->ibuf) + 1;
            return TIO_OK;
        }
        t->rpos = t->rend;
        if ((st = tio_fill(t, deadline)) != TIO_OK)
            return st;
    }
}

/* tio_read - raw bytes, buffered ones first. */
ssize_t tio_read(tio *t, void *buf, size_t len)
{
    enum tio_status st;
    size_t n;

    if (len == 0)
        msg_panic("tio_read: zero-length read");
    if (t->held_cr) {
        t->held_cr = false;
        *(unsigned char *)buf = '\r';
        return 1;
    }
    if (t->rpos == t->rend && (st = tio_fill(t, tio_deadline(t))) != TIO_OK)
        return st;
    n = t->rend - t->rpos;
    if (n > len)
        n = len;
    memcpy(buf, t->ibuf + t->rpos, n);
    t->rpos += n;
    return (ssize_t)n;
}

/* tio_pending - buffered input. */
size_t tio_pending(const tio *t)
{
    return t->rend - t->rpos + (t->held_cr ? 1 : 0);
}

/* tio_discard_input - forget buffered input (plaintext before STARTTLS). */
size_t tio_discard_input(tio *t)
{
    size_t n = tio_pending(t);

    t->rpos = t->rend = 0;
    t->held_cr = false;
    return n;
}

/* tio_readable - is there input now or within timeout_ms? */
int tio_readable(tio *t, int timeout_ms)
{
    struct pollfd pfd = { .fd = t->fdctx.fd, .events = POLLIN };
    int64_t deadline;
    int n;

    if (t->rend > t->rpos)
        return 1;
    deadline = timeout_ms < 0 ? -1 : tio_now_ms() + timeout_ms;
    for (;;) {
        n = poll(&pfd, 1, tio_left_ms(deadline));
        if (n >= 0)
            return n > 0;
        if (errno != EINTR) {
            t->err = errno;
            return TIO_ERROR;
        }
    }
}

/* tio_write - buffer bytes, flushing when the buffer fills. */
enum tio_status tio_write(tio *t, const void *data, size_t len)
{
    const unsigned char *p = data;
    enum tio_status st;
    size_t n;

    if (t->werr != TIO_OK)
        return t->werr;
    while (len > 0) {
        if (t->olen == sizeof(t->obuf) && (st = tio_flush(t)) != TIO_OK)
            return st;
        n = sizeof(t->obuf) - t->olen;
        if (n > len)
            n = len;
        memcpy(t->obuf + t->olen, p, n);
        t->olen += n;
        p += n;
        len -= n;
    }
    return TIO_OK;
}

/* tio_puts - buffer a string. */
enum tio_status tio_puts(tio *t, const char *s)
{
    return tio_write(t, s, strlen(s));
}

/* tio_vprintf - buffer formatted text; all or nothing past 64 KiB. */
enum tio_status tio_vprintf(tio *t, const char *fmt, va_list ap)
{
    sb_reset(&t->fmt);
    if (sb_vprintf(&t->fmt, fmt, ap) < 0)
        return TIO_TOOLONG;
    return tio_write(t, sb_str(&t->fmt), sb_len(&t->fmt));
}

/* tio_printf - buffer formatted text. */
enum tio_status tio_printf(tio *t, const char *fmt, ...)
{
    enum tio_status st;
    va_list ap;

    va_start(ap, fmt);
    st = tio_vprintf(t, fmt, ap);
    va_end(ap);
    return st;
}

/* tio_unflushed - pending output. */
size_t tio_unflushed(const tio *t)
{
    return t->olen;
}

/* tio_nodelay - turn Nagle's algorithm off on a TCP socket. */
int tio_nodelay(int fd)
{
    int on = 1;

    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == 0)
        return 1;
    /* not TCP: a UNIX-domain socket says EOPNOTSUPP, a pipe ENOTSOCK */
    if (errno == EOPNOTSUPP || errno == ENOPROTOOPT || errno == ENOTSOCK)
        return 0;
    return -1;
}
