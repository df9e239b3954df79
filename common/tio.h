/*
 * tio - timed, buffered line and byte I/O on a file descriptor.
 *
 * A tio stream owns an input and an output buffer over a socket or pipe it
 * does NOT own (the caller closes the descriptor). Every operation that may
 * wait - one tio_getline, one tio_read, one tio_flush - gets one deadline of
 * the stream's timeout, measured on the monotonic clock, and reports
 * TIO_TIMEOUT when it passes. Waiting is done with poll(2); EINTR restarts
 * the wait with the time that is left. A read that has to wait first flushes
 * pending output, so replies to pipelined commands leave in one write and a
 * peer is never left waiting for bytes still in our buffer.
 *
 * Bytes move through a small vtable (tio_ops). The default uses recv/send
 * with MSG_DONTWAIT|MSG_NOSIGNAL on sockets and poll+read/write otherwise;
 * a TLS layer installs its own after STARTTLS (tio_set_ops) without any
 * caller changing. Lines are bounded by the caller's maximum; an over-long
 * line is reported and its rest can be skipped (tio_skipline).
 *
 * Failures are return values (enum tio_status), never exits. A write error
 * or timeout is sticky: later writes fail the same way without I/O.
 */
#ifndef TERN_TIO_H
#define TERN_TIO_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/strbuf.h"

typedef struct tio tio;

/* Results. TIO_OK is 0; every failure is negative. */
enum tio_status {
    TIO_OK = 0,
    TIO_EOF = -1,               /* the peer closed its side */
    TIO_TIMEOUT = -2,           /* the deadline passed */
    TIO_ERROR = -3,             /* I/O error; tio_errno() says which */
    TIO_TOOLONG = -4,           /* line past its maximum; tio_printf overflow */
};

/* tio_getline flags: exactly one of CRLF/LF on TIO_OK, plus what was seen. */
#define TIO_LINE_CRLF    (1u << 0)  /* ended in CR LF */
#define TIO_LINE_LF      (1u << 1)  /* ended in a bare LF */
#define TIO_LINE_BARE_CR (1u << 2)  /* a CR not followed by LF is in the line */
#define TIO_LINE_NUL     (1u << 3)  /* a NUL byte is in the line */
#define TIO_LINE_8BIT    (1u << 4)  /* a byte >= 0x80 is in the line */

/*
 * Raw transport. read/write move up to len bytes and return how many (read:
 * 0 at end of file), TIO_RAW_ERROR with errno set, or TIO_RAW_WANT_READ /
 * TIO_RAW_WANT_WRITE when they would block (tio then polls the descriptor
 * for that event until the deadline and calls again). They must not block
 * themselves: a TLS layer puts the socket in non-blocking mode.
 */
#define TIO_RAW_ERROR      (-1)
#define TIO_RAW_WANT_READ  (-2)
#define TIO_RAW_WANT_WRITE (-3)

typedef struct tio_ops {
    ssize_t (*read)(void *ctx, void *buf, size_t len);
    ssize_t (*write)(void *ctx, const void *buf, size_t len);
    void *ctx;
} tio_ops;

#define TIO_NO_TIMEOUT (-1)

/* tio_open - a stream over fd; timeout_ms per operation, or TIO_NO_TIMEOUT. */
tio *tio_open(int fd, int timeout_ms);

/* tio_free - release buffers; unflushed output is dropped, fd stays open. */
void tio_free(tio *t);

/* tio_fd - the descriptor the stream polls. */
int tio_fd(const tio *t);

/* tio_set_timeout_ms / tio_set_timeout - change the per-operation deadline. */
void tio_set_timeout_ms(tio *t, int timeout_ms);
void tio_set_timeout(tio *t, int seconds);

/*
 * tio_set_ops - route raw I/O through ops (NULL: back to the descriptor).
 * Buffered input or output at this point is a bug (panic): flush, and call
 * tio_discard_input so no plaintext read before STARTTLS survives it.
 */
void tio_set_ops(tio *t, const tio_ops *ops);

/* tio_errno - errno of the last TIO_ERROR (0 if none). */
int tio_errno(const tio *t);

/* tio_strstatus - short text for a status ("timeout", "lost connection"). */
const char *tio_strstatus(int status);

/*
 * tio_getline - read one line into sb (reset first), without its ending.
 * At most max bytes (and never past sb's own bound) are stored.
 * Returns TIO_OK with TIO_LINE_CRLF or TIO_LINE_LF in *flags; TIO_TOOLONG
 * with the first max bytes in sb and the rest of the line still unread (see
 * tio_skipline); TIO_EOF (sb holds any partial line); TIO_TIMEOUT or
 * TIO_ERROR. *flags also reports bare CR, NUL and 8-bit bytes.
 */
enum tio_status tio_getline(tio *t, strbuf *sb, size_t max, unsigned *flags);

/* tio_skipline - discard input up to and including the next LF. */
enum tio_status tio_skipline(tio *t);

/*
 * tio_read - read 1..len raw bytes (buffered ones first): the count, or
 * TIO_EOF, TIO_TIMEOUT, TIO_ERROR. len must be > 0.
 */
ssize_t tio_read(tio *t, void *buf, size_t len);

/* tio_pending - bytes already read from the peer and not yet consumed. */
size_t tio_pending(const tio *t);

/* tio_discard_input - drop buffered input; returns how many bytes. */
size_t tio_discard_input(tio *t);

/*
 * tio_readable - 1 if input is buffered or arrives (or EOF) within
 * timeout_ms, 0 if not, TIO_ERROR. Consumes nothing (pre-greeting checks).
 */
int tio_readable(tio *t, int timeout_ms);

/*
 * Output: buffered until tio_flush (or a full buffer, or a waiting read).
 * tio_printf output over 64 KiB is TIO_TOOLONG and nothing is buffered.
 */
enum tio_status tio_write(tio *t, const void *data, size_t len);
enum tio_status tio_puts(tio *t, const char *s);
enum tio_status tio_printf(tio *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum tio_status tio_vprintf(tio *t, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
enum tio_status tio_flush(tio *t);

/* tio_unflushed - output bytes not yet written. */
size_t tio_unflushed(const tio *t);

/*
 * tio_nodelay - make a TCP socket send each write at once (TCP_NODELAY).
 * tio already gathers output into whole units (a reply, a pipelined
 * command group, a body buffer) and writes it only at a flush, so Nagle's
 * algorithm adds nothing but a wait for the peer's delayed ACK (~40 ms on
 * Linux) whenever a unit follows one still unacknowledged - e.g. the end
 * of a message body after its first buffers. Returns 1 when set, 0 when fd
 * is not a TCP socket (UNIX-domain socket, pipe, file: nothing to do), -1
 * with errno set otherwise.
 */
int tio_nodelay(int fd);

#endif
