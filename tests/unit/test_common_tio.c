/*
 * Unit tests for common/tio: timed line and byte I/O over socketpairs and
 * pipes. Peers are the other end of a socketpair, written before reading,
 * or a forked child that exits by itself (bounded loops, short timeouts).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/tio.h"
#include "common/msg.h"
#include "common/strbuf.h"
#include "testutil.h"

#define LONG_WAIT_MS 5000       /* for reads that must succeed */
#define SHORT_WAIT_MS 100       /* for reads that must time out */

/* pair - a connected socketpair; sv[0] is the test's peer, sv[1] the tio. */
static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

/* put - write all bytes to a peer descriptor. */
static void put(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

/* peer_read - read what is available at fd within LONG_WAIT_MS. */
static size_t peer_read(int fd, char *buf, size_t size, size_t want)
{
    size_t got = 0;

    for (int i = 0; i < 1000 && got < want; i++) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        ssize_t n;

        if (poll(&pfd, 1, LONG_WAIT_MS) <= 0)
            break;
        n = read(fd, buf + got, size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

/* One expected result of a getline (or skipline) call. */
enum op { GET, SKIP };
struct expect {
    enum op op;
    int status;
    const char *line;
    size_t len;
    unsigned flags;
};

struct line_case {
    const char *name;
    const char *in;
    size_t inlen;
    size_t max;
    struct expect out[6];
};

#define S(x) x, sizeof(x) - 1
#define CRLF TIO_LINE_CRLF
#define LF TIO_LINE_LF

static const struct line_case line_cases[] = {
    { "crlf", S("HELO x\r\n"), 100,
      { { GET, TIO_OK, S("HELO x"), CRLF }, { GET, TIO_EOF, S(""), 0 } } },
    { "bare lf", S("HELO x\n"), 100,
      { { GET, TIO_OK, S("HELO x"), LF }, { GET, TIO_EOF, S(""), 0 } } },
    { "mixed endings", S("one\r\ntwo\nthree\r\n"), 100,
      { { GET, TIO_OK, S("one"), CRLF }, { GET, TIO_OK, S("two"), LF },
        { GET, TIO_OK, S("three"), CRLF }, { GET, TIO_EOF, S(""), 0 } } },
    { "bare cr inside", S("a\rb\r\n"), 100,
      { { GET, TIO_OK, S("a\rb"), CRLF | TIO_LINE_BARE_CR } } },
    { "cr cr lf", S("a\r\r\n"), 100,
      { { GET, TIO_OK, S("a\r"), CRLF | TIO_LINE_BARE_CR } } },
    { "nul inside", S("a\0b\r\n"), 100,
      { { GET, TIO_OK, S("a\0b"), CRLF | TIO_LINE_NUL } } },
    { "8bit", S("caf\xc3\xa9\n"), 100,
      { { GET, TIO_OK, S("caf\xc3\xa9"), LF | TIO_LINE_8BIT } } },
    { "empty line", S("\r\n\n"), 100,
      { { GET, TIO_OK, S(""), CRLF }, { GET, TIO_OK, S(""), LF } } },
    { "exactly max", S("abcd\r\n"), 4,
      { { GET, TIO_OK, S("abcd"), CRLF } } },
    { "max then bare lf", S("abcd\n"), 4,
      { { GET, TIO_OK, S("abcd"), LF } } },
    { "too long then recover", S("abcde\r\nnext\r\n"), 4,
      { { GET, TIO_TOOLONG, S("abcd"), 0 }, { SKIP, TIO_OK, S(""), 0 },
        { GET, TIO_OK, S("next"), CRLF }, { GET, TIO_EOF, S(""), 0 } } },
    { "too long by a bare cr", S("abcd\rX\nok\n"), 4,
      { { GET, TIO_TOOLONG, S("abcd"), 0 }, { SKIP, TIO_OK, S(""), 0 },
        { GET, TIO_OK, S("ok"), LF } } },
    { "bare cr at the limit goes to the next piece", S("abcd\rX\r\n"), 4,
      { { GET, TIO_TOOLONG, S("abcd"), 0 },
        { GET, TIO_OK, S("\rX"), CRLF | TIO_LINE_BARE_CR } } },
    { "crlf at the limit is a line end", S("abcd\r\nef\r\n"), 4,
      { { GET, TIO_OK, S("abcd"), CRLF }, { GET, TIO_OK, S("ef"), CRLF } } },
    { "cr held at the limit, then eof", S("abcd\r"), 4,
      { { GET, TIO_EOF, S("abcd"), 0 } } },
    { "too long, no newline", S("abcdefgh"), 4,
      { { GET, TIO_TOOLONG, S("abcd"), 0 }, { SKIP, TIO_EOF, S(""), 0 } } },
    { "eof mid-line", S("partial"), 100,
      { { GET, TIO_EOF, S("partial"), 0 } } },
    { "eof after cr", S("abc\r"), 100,
      { { GET, TIO_EOF, S("abc\r"), TIO_LINE_BARE_CR } } },
    { "nothing", S(""), 100, { { GET, TIO_EOF, S(""), 0 } } },
};

/* run_expect - perform one expected call and compare. */
static void run_expect(tio *t, strbuf *sb, size_t max, const struct expect *e,
                       const char *name)
{
    unsigned flags = 0xffff;
    int st;

    if (e->op == SKIP) {
        st = tio_skipline(t);
        if (st != e->status)
            fail_msg("%s: skipline %d, want %d", name, st, e->status);
        return;
    }
    st = tio_getline(t, sb, max, &flags);
    if (st != e->status)
        fail_msg("%s: status %d, want %d", name, st, e->status);
    if (sb_len(sb) != e->len || memcmp(sb_str(sb), e->line, e->len) != 0)
        fail_msg("%s: line \"%s\" (%zu)", name, sb_str(sb), sb_len(sb));
    if (st == TIO_OK || st == TIO_EOF)
        if (flags != e->flags)
            fail_msg("%s: flags %#x, want %#x", name, flags, e->flags);
}

static void test_getline_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
        const struct line_case *c = &line_cases[i];
        int sv[2];
        strbuf sb;
        tio *t;

        pair(sv);
        put(sv[0], c->in, c->inlen);
        assert_int_equal(close(sv[0]), 0);
        t = tio_open(sv[1], LONG_WAIT_MS);
        sb_init(&sb, 1000);
        for (size_t j = 0; j < 6 && c->out[j].line != NULL; j++)
            run_expect(t, &sb, c->max, &c->out[j], c->name);
        sb_release(&sb);
        tio_free(t);
        assert_int_equal(close(sv[1]), 0);
    }
}

/* A line longer than the stream's buffer, then recovery. */
static void test_huge_line_skipped(void **state)
{
    size_t big = 50000;
    char *data = malloc(big + 16);
    unsigned flags;
    int sv[2];
    strbuf sb;
    tio *t;

    (void)state;
    assert_non_null(data);
    memset(data, 'x', big);
    memcpy(data + big, "\r\nQUIT\r\n", 8);
    pair(sv);
    put(sv[0], data, big + 8);
    t = tio_open(sv[1], LONG_WAIT_MS);
    sb_init(&sb, SB_NOLIMIT);
    assert_int_equal(tio_getline(t, &sb, 1000, &flags), TIO_TOOLONG);
    assert_int_equal(sb_len(&sb), 1000);
    assert_int_equal(tio_skipline(t), TIO_OK);
    assert_int_equal(tio_getline(t, &sb, 1000, &flags), TIO_OK);
    assert_string_equal(sb_str(&sb), "QUIT");
    /* the strbuf's own bound also counts as the line maximum */
    sb_release(&sb);
    sb_init(&sb, 3);
    put(sv[0], "HELO\r\n", 6);
    assert_int_equal(tio_getline(t, &sb, 1000, &flags), TIO_TOOLONG);
    assert_string_equal(sb_str(&sb), "HEL");
    sb_release(&sb);
    tio_free(t);
    free(data);
    assert_int_equal(close(sv[0]), 0);
    assert_int_equal(close(sv[1]), 0);
}

/* A line arriving one byte at a time from a child process. */
static void test_split_reads(void **state)
{
    static const char msg[] = "EHLO a\r\nMAIL FROM:<x@y>\n";
    unsigned flags;
    int sv[2], status;
    strbuf sb;
    pid_t pid;
    tio *t;

    (void)state;
    pair(sv);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (size_t i = 0; i < sizeof(msg) - 1; i++) {
            if (write(sv[0], msg + i, 1) != 1)
                _exit(1);
            usleep(2000);
        }
        _exit(0);
    }
    assert_int_equal(close(sv[0]), 0);
    t = tio_open(sv[1], LONG_WAIT_MS);
    sb_init(&sb, 100);
    assert_int_equal(tio_getline(t, &sb, 100, &flags), TIO_OK);
    assert_string_equal(sb_str(&sb), "EHLO a");
    assert_int_equal(flags, TIO_LINE_CRLF);
    assert_int_equal(tio_getline(t, &sb, 100, &flags), TIO_OK);
    assert_string_equal(sb_str(&sb), "MAIL FROM:<x@y>");
    assert_int_equal(flags, TIO_LINE_LF);
    assert_int_equal(tio_getline(t, &sb, 100, &flags), TIO_EOF);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sb_release(&sb);
    tio_free(t);
    assert_int_equal(close(sv[1]), 0);
}

static void test_timeouts(void **state)
{
    unsigned flags;
    char buf[16];
    int sv[2];
    strbuf sb;
    tio *t;

    (void)state;
    pair(sv);
    t = tio_open(sv[1], SHORT_WAIT_MS);
    sb_init(&sb, 100);
    assert_int_equal(tio_getline(t, &sb, 100, &flags), TIO_TIMEOUT);
    put(sv[0], "MAIL FROM:<", 11);             /* a line that never ends */
    assert_int_equal(tio_getline(t, &sb, 100, &flags), TIO_TIMEOUT);
    assert_int_equal(tio_read(t, buf, sizeof(buf)), TIO_TIMEOUT);
    assert_int_equal(tio_skipline(t), TIO_TIMEOUT);
    /* a read timeout is not sticky: the session may go on */
    put(sv[0], "RSET\r\n", 6);
    assert_int_equal(tio_getline(t, &sb, 100, &flags), TIO_OK);
    assert_string_equal(sb_str(&sb), "RSET");
    /* in seconds too: 0 s means "only what is already there" */
    tio_set_timeout(t, 0);
    assert_int_equal(tio_getline(t, &sb, 100, &flags), TIO_TIMEOUT);
    assert_string_equal(tio_strstatus(TIO_TIMEOUT), "timeout");
    sb_release(&sb);
    tio_free(t);
    assert_int_equal(close(sv[0]), 0);
    assert_int_equal(close(sv[1]), 0);
}

/* STARTTLS: buffered plaintext must be visible and discardable. */
static void test_pending_and_discard(void **state)
{
    unsigned flags;
    int sv[2];
    strbuf sb;
    tio *t;

    (void)state;
    pair(sv);
    t = tio_open(sv[1], LONG_WAIT_MS);
    sb_init(&sb, 100);
    assert_int_equal(tio_readable(t, 0), 0);
    assert_int_equal(tio_pending(t), 0);
    put(sv[0], "STARTTLS\r\nEHLO evil\r\n", 21);
    assert_int_equal(tio_readable(t, LONG_WAIT_MS), 1);
    assert_int_equal(tio_getline(t, &sb, 100, &flags), TIO_OK);
    assert_string_equal(sb_str(&sb), "STARTTLS");
    assert_int_equal(tio_pending(t), 11);
    assert_int_equal(tio_readable(t, 0), 1);
    assert_int_equal(tio_discard_input(t), 11);
    assert_int_equal(tio_pending(t), 0);
    assert_int_equal(tio_readable(t, 0), 0);
    put(sv[0], "EHLO good\r\n", 11);
    assert_int_equal(tio_getline(t, &sb, 100, &flags), TIO_OK);
    assert_string_equal(sb_str(&sb), "EHLO good");
    sb_release(&sb);
    tio_free(t);
    assert_int_equal(close(sv[0]), 0);
    assert_int_equal(close(sv[1]), 0);
}

/* Raw bytes (BDAT): buffered bytes first, exact counts, then EOF. */
static void test_raw_read(void **state)
{
    char buf[64];
    unsigned flags;
    int sv[2];
    strbuf sb;
    tio *t;

    (void)state;
    pair(sv);
    t = tio_open(sv[1], LONG_WAIT_MS);
    sb_init(&sb, 100);
    put(sv[0], "BDAT 5 LAST\r\nab\0\r\nQUIT\r\n", 24);
    assert_int_equal(close(sv[0]), 0);
    assert_int_equal(tio_getline(t, &sb, 100, &flags), TIO_OK);
    assert_string_equal(sb_str(&sb), "BDAT 5 LAST");
    assert_int_equal(tio_read(t, buf, 3), 3);
    assert_memory_equal(buf, "ab\0", 3);
    assert_int_equal(tio_read(t, buf, 2), 2);
    assert_memory_equal(buf, "\r\n", 2);
    assert_int_equal(tio_read(t, buf, sizeof(buf)), 6);
    assert_memory_equal(buf, "QUIT\r\n", 6);
    assert_int_equal(tio_read(t, buf, sizeof(buf)), TIO_EOF);
    sb_release(&sb);
    tio_free(t);
    assert_int_equal(close(sv[1]), 0);
}

static void test_write_and_flush(void **state)
{
    size_t big = 20000;
    char *data = malloc(big), *back = malloc(big);
    char buf[128];
    int sv[2];
    tio *t;

    (void)state;
    assert_non_null(data);
    assert_non_null(back);
    pair(sv);
    t = tio_open(sv[1], LONG_WAIT_MS);
    assert_int_equal(tio_printf(t, "250-%s\r\n", "mx.example"), TIO_OK);
    assert_int_equal(tio_puts(t, "250 OK\r\n"), TIO_OK);
    assert_int_equal(tio_unflushed(t), 24);
    assert_int_equal(recv(sv[0], buf, sizeof(buf), MSG_DONTWAIT), -1);
    assert_int_equal(tio_flush(t), TIO_OK);
    assert_int_equal(tio_unflushed(t), 0);
    assert_int_equal(peer_read(sv[0], buf, sizeof(buf), 24), 24);
    assert_memory_equal(buf, "250-mx.example\r\n250 OK\r\n", 24);
    /* larger than the stream's buffer */
    for (size_t i = 0; i < big; i++)
        data[i] = (char)(i * 7);
    assert_int_equal(tio_write(t, data, big), TIO_OK);
    assert_int_equal(tio_flush(t), TIO_OK);
    assert_int_equal(peer_read(sv[0], back, big, big), big);
    assert_memory_equal(back, data, big);
    /* formatted output past its bound: nothing is written */
    assert_int_equal(tio_printf(t, "%70000s", "x"), TIO_TOOLONG);
    assert_int_equal(tio_unflushed(t), 0);
    tio_free(t);
    free(data);
    free(back);
    assert_int_equal(close(sv[0]), 0);
    assert_int_equal(close(sv[1]), 0);
}

/* A read that must wait first flushes pending output (no deadlock). */
static void test_read_flushes_output(void **state)
{
    unsigned flags;
    int sv[2], status;
    strbuf sb;
    pid_t pid;
    tio *t;

    (void)state;
    pair(sv);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char buf[64];
        size_t n = peer_read(sv[0], buf, sizeof(buf), 8);

        _exit(n == 8 && memcmp(buf, "220 hi\r\n", 8) == 0
              && write(sv[0], "EHLO x\r\n", 8) == 8 ? 0 : 1);
    }
    t = tio_open(sv[1], LONG_WAIT_MS);
    sb_init(&sb, 100);
    assert_int_equal(tio_puts(t, "220 hi\r\n"), TIO_OK);
    assert_int_equal(tio_getline(t, &sb, 100, &flags), TIO_OK);
    assert_string_equal(sb_str(&sb), "EHLO x");
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sb_release(&sb);
    tio_free(t);
    assert_int_equal(close(sv[0]), 0);
    assert_int_equal(close(sv[1]), 0);
}

static void test_write_failures_are_sticky(void **state)
{
    int sv[2], size = 4096;
    char chunk[4096];
    int st = TIO_OK;
    tio *t;

    (void)state;
    /* nobody reads: the socket fills and the flush times out */
    pair(sv);
    assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size,
                                sizeof(size)), 0);
    t = tio_open(sv[1], SHORT_WAIT_MS);
    memset(chunk, 'z', sizeof(chunk));
    for (int i = 0; i < 1000 && st == TIO_OK; i++)
        st = tio_write(t, chunk, sizeof(chunk));
    if (st == TIO_OK)
        st = tio_flush(t);
    assert_int_equal(st, TIO_TIMEOUT);
    assert_int_equal(tio_puts(t, "more"), TIO_TIMEOUT);
    assert_int_equal(tio_flush(t), TIO_TIMEOUT);
    tio_free(t);
    assert_int_equal(close(sv[0]), 0);
    assert_int_equal(close(sv[1]), 0);

    /* the peer is gone: an error (and no SIGPIPE) */
    pair(sv);
    assert_int_equal(close(sv[0]), 0);
    t = tio_open(sv[1], LONG_WAIT_MS);
    assert_int_equal(tio_puts(t, "221 bye\r\n"), TIO_OK);
    assert_int_equal(tio_flush(t), TIO_ERROR);
    assert_int_equal(tio_errno(t), EPIPE);
    assert_int_equal(tio_puts(t, "x"), TIO_ERROR);
    tio_free(t);
    assert_int_equal(close(sv[1]), 0);
}

/* Pipes (the non-socket path): lines, timeout and writes. */
static void test_pipe(void **state)
{
    int in[2], out[2];
    unsigned flags;
    char buf[16];
    strbuf sb;
    tio *r, *w;

    (void)state;
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    r = tio_open(in[0], SHORT_WAIT_MS);
    w = tio_open(out[1], LONG_WAIT_MS);
    sb_init(&sb, 100);
    assert_int_equal(tio_getline(r, &sb, 100, &flags), TIO_TIMEOUT);
    put(in[1], "a\nb", 3);
    assert_int_equal(tio_getline(r, &sb, 100, &flags), TIO_OK);
    assert_string_equal(sb_str(&sb), "a");
    assert_int_equal(close(in[1]), 0);
    assert_int_equal(tio_getline(r, &sb, 100, &flags), TIO_EOF);
    assert_string_equal(sb_str(&sb), "b");
    assert_int_equal(tio_puts(w, "hello\n"), TIO_OK);
    assert_int_equal(tio_flush(w), TIO_OK);
    assert_int_equal(peer_read(out[0], buf, sizeof(buf), 6), 6);
    assert_memory_equal(buf, "hello\n", 6);
    sb_release(&sb);
    tio_free(r);
    tio_free(w);
    assert_int_equal(close(in[0]), 0);
    assert_int_equal(close(out[0]), 0);
    assert_int_equal(close(out[1]), 0);
}

/* A stand-in TLS layer: XOR 0x20, and "would block" on every other read. */
struct fake_tls {
    int fd;
    int calls;
};

static ssize_t fake_read(void *ctx, void *buf, size_t len)
{
    struct fake_tls *f = ctx;
    ssize_t n;

    if (f->calls++ % 2 == 0)
        return TIO_RAW_WANT_READ;
    n = recv(f->fd, buf, len, MSG_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN ? TIO_RAW_WANT_READ : TIO_RAW_ERROR;
    for (ssize_t i = 0; i < n; i++)
        ((char *)buf)[i] ^= 0x20;
    return n;
}

static ssize_t fake_write(void *ctx, const void *buf, size_t len)
{
    struct fake_tls *f = ctx;
    char tmp[64];

    if (len > sizeof(tmp))
        len = sizeof(tmp);
    for (size_t i = 0; i < len; i++)
        tmp[i] = ((const char *)buf)[i] ^ 0x20;
    return send(f->fd, tmp, len, MSG_NOSIGNAL);
}

static jmp_buf panic_jmp;

static void panic_hook(enum msg_level level)
{
    (void)level;
    longjmp(panic_jmp, 1);
}

static void test_ops_vtable(void **state)
{
    struct fake_tls f = { 0, 0 };
    tio_ops ops = { fake_read, fake_write, &f };
    unsigned flags;
    char buf[64];
    int sv[2];
    strbuf sb;
    tio *t;

    (void)state;
    pair(sv);
    f.fd = sv[1];
    t = tio_open(sv[1], LONG_WAIT_MS);
    sb_init(&sb, 100);
    put(sv[0], "STARTTLS\r\nhidden\r\n", 18);
    assert_int_equal(tio_getline(t, &sb, 100, &flags), TIO_OK);
    /* switching with plaintext still buffered is a bug */
    msg_open("unit", 0);
    msg_set_fatal_hook(panic_hook);
    if (setjmp(panic_jmp) == 0) {
        tio_set_ops(t, &ops);
        fail();
    }
    msg_set_fatal_hook(NULL);
    assert_int_equal(tio_discard_input(t), 8);
    tio_set_ops(t, &ops);
    put(sv[0], "ehlo\x2d\x2a", 6);              /* "EHLO\r\n" ^ 0x20 */
    assert_int_equal(tio_getline(t, &sb, 100, &flags), TIO_OK);
    assert_string_equal(sb_str(&sb), "EHLO");
    assert_int_equal(flags, TIO_LINE_CRLF);
    assert_int_equal(tio_puts(t, "250 OK"), TIO_OK);
    assert_int_equal(tio_flush(t), TIO_OK);
    assert_int_equal(peer_read(sv[0], buf, sizeof(buf), 6), 6);
    assert_memory_equal(buf, "\x12\x15\x10\x00ok", 6);
    tio_set_ops(t, NULL);                       /* back to the descriptor */
    put(sv[0], "plain\n", 6);
    assert_int_equal(tio_getline(t, &sb, 100, &flags), TIO_OK);
    assert_string_equal(sb_str(&sb), "plain");
    sb_release(&sb);
    tio_free(t);
    assert_int_equal(close(sv[0]), 0);
    assert_int_equal(close(sv[1]), 0);
}

static void test_strstatus(void **state)
{
    (void)state;
    assert_string_equal(tio_strstatus(TIO_OK), "ok");
    assert_string_equal(tio_strstatus(TIO_EOF), "lost connection");
    assert_string_equal(tio_strstatus(TIO_ERROR), "I/O error");
    assert_string_equal(tio_strstatus(TIO_TOOLONG), "line too long");
    assert_string_equal(tio_strstatus(-99), "unknown status");
    assert_string_equal(tio_strstatus(5), "unknown status");
}

/*
 * Split invariance of tio_getline: random streams (long lines, CRLF and
 * bare endings, CR at a piece limit, NUL and 8-bit bytes) arrive through a
 * transport that hands out 1 byte, random amounts or 8 KiB per read; at
 * smtpd's piece size (2048) and a tiny one, every split must give the same
 * pieces, the pieces with their endings must rebuild the stream, and a
 * complete line's flags must say exactly what is in it.
 */
struct mem_src {
    const char *data;
    size_t len, pos, chunk;     /* chunk 0: random sizes */
    unsigned seed;
};

static ssize_t mem_read(void *ctx, void *buf, size_t len)
{
    struct mem_src *m = ctx;
    size_t n = m->chunk ? m->chunk : 1 + (size_t)rand_r(&m->seed) % 600;

    if (n > len)
        n = len;
    if (n > m->len - m->pos)
        n = m->len - m->pos;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (ssize_t)n;
}

static ssize_t mem_write(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    return (ssize_t)len;
}

/* line_flags - what a complete line's flags must report about it. */
static unsigned line_flags(const strbuf *sb)
{
    unsigned f = 0;

    for (size_t i = 0; i < sb_len(sb); i++) {
        unsigned char c = (unsigned char)sb_str(sb)[i];

        f |= c == '\r' ? TIO_LINE_BARE_CR : c == '\0' ? TIO_LINE_NUL
            : c >= 0x80 ? TIO_LINE_8BIT : 0;
    }
    return f;
}

/* transcript - read all lines; record status, flags and bytes of each. */
static void transcript(const strbuf *in, size_t chunk, size_t max,
                       strbuf *log, strbuf *rebuilt)
{
    struct mem_src m = { sb_str(in), sb_len(in), 0, chunk, 99 };
    tio_ops ops = { mem_read, mem_write, &m };
    int st = TIO_OK, sv[2];
    unsigned flags;
    strbuf sb;
    tio *t;

    pair(sv);
    t = tio_open(sv[1], LONG_WAIT_MS);
    tio_set_ops(t, &ops);
    sb_init(&sb, max);
    for (int guard = 0; st != TIO_EOF && guard < 100000; guard++) {
        st = tio_getline(t, &sb, max, &flags);
        assert_true(st == TIO_OK || st == TIO_TOOLONG || st == TIO_EOF);
        if (st == TIO_OK)
            assert_int_equal(flags & ~(unsigned)(CRLF | LF), line_flags(&sb));
        if (st == TIO_TOOLONG)
            flags = 0;          /* may include bytes past the piece */
        assert_int_equal(sb_printf(log, "%d %u %zu:", st, flags, sb_len(&sb)),
                         0);
        assert_int_equal(sb_append(log, sb_str(&sb), sb_len(&sb)), 0);
        assert_int_equal(sb_append(rebuilt, sb_str(&sb), sb_len(&sb)), 0);
        if (st == TIO_OK)
            assert_int_equal(sb_puts(rebuilt, flags & CRLF ? "\r\n" : "\n"),
                             0);
    }
    sb_release(&sb);
    tio_free(t);
    assert_int_equal(close(sv[0]), 0);
    assert_int_equal(close(sv[1]), 0);
}

/* gen_stream - random lines; always ends in CRLF (see the held-CR case). */
static void gen_stream(unsigned *seed, size_t max, strbuf *m)
{
    static const char *const tokens[] = {
        "\r\n", "\r\n", "\n", "\r", "\r\r\n", "x", "MAIL FROM:<a@b>",
        "\xc3\xa9", "\xff",
    };
    size_t ntok = 1 + (size_t)rand_r(seed) % 40;

    sb_reset(m);
    for (size_t k = 0; k < ntok; k++) {
        int r = rand_r(seed) % 100;

        if (r < 30)
            assert_int_equal(sb_puts(m, "a plain line\r\n"), 0);
        else if (r < 40) {      /* around the piece limit, then a CR */
            size_t n = max - 2 + (size_t)rand_r(seed) % 5;

            for (size_t j = 0; j < n; j++)
                assert_int_equal(sb_putc(m, 'a' + (int)(j % 26)), 0);
            assert_int_equal(sb_puts(m, rand_r(seed) % 2 ? "\r" : "\r\n"),
                             0);
        } else if (r < 45) {
            size_t n = (size_t)rand_r(seed) % (3 * max);

            for (size_t j = 0; j < n; j++)
                assert_int_equal(sb_putc(m, 'A' + (int)(j % 26)), 0);
        } else if (r < 48)
            assert_int_equal(sb_putc(m, '\0'), 0);
        else
            assert_int_equal(sb_puts(m, tokens[(size_t)rand_r(seed)
                                               % (sizeof(tokens)
                                                  / sizeof(tokens[0]))]), 0);
    }
    assert_int_equal(sb_puts(m, "\r\n"), 0);
}

static void test_getline_splits(void **state)
{
    static const size_t maxes[] = {2048, 7};
    static const size_t chunks[] = {8192, 1, 0};
    unsigned seed = 2024;
    strbuf in, ref, ref_rebuilt, log, rebuilt;

    (void)state;
    sb_init(&in, SB_NOLIMIT);
    sb_init(&ref, SB_NOLIMIT);
    sb_init(&ref_rebuilt, SB_NOLIMIT);
    sb_init(&log, SB_NOLIMIT);
    sb_init(&rebuilt, SB_NOLIMIT);
    for (int round = 0; round < 150; round++) {
        for (size_t x = 0; x < sizeof(maxes) / sizeof(maxes[0]); x++) {
            gen_stream(&seed, maxes[x], &in);
            for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
                strbuf *l = c == 0 ? &ref : &log;
                strbuf *r = c == 0 ? &ref_rebuilt : &rebuilt;

                sb_reset(l);
                sb_reset(r);
                transcript(&in, chunks[c], maxes[x], l, r);
                assert_int_equal(sb_len(r), sb_len(&in));
                assert_memory_equal(sb_str(r), sb_str(&in), sb_len(&in));
                if (c == 0)
                    continue;
                assert_int_equal(sb_len(&log), sb_len(&ref));
                assert_memory_equal(sb_str(&log), sb_str(&ref), sb_len(&ref));
            }
        }
    }
    sb_release(&in);
    sb_release(&ref);
    sb_release(&ref_rebuilt);
    sb_release(&log);
    sb_release(&rebuilt);
}

/* nodelay_of - TCP_NODELAY as getsockopt reports it on a TCP socket. */
static int nodelay_of(int fd)
{
    int on = -1;
    socklen_t len = sizeof(on);

    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
    return on != 0;
}

/* tio_nodelay: set on TCP (fresh, connected, accepted), no-op elsewhere. */
static void test_nodelay(void **state)
{
    int tcp[2], sv[2], pfd[2], fresh, fd;

    (void)state;
    tu_tcp_pair(tcp);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(nodelay_of(tcp[i]), 0);       /* the default */
        assert_int_equal(tio_nodelay(tcp[i]), 1);
        assert_int_equal(nodelay_of(tcp[i]), 1);
        assert_int_equal(tio_nodelay(tcp[i]), 1);      /* twice is fine */
    }
    fresh = socket(AF_INET6, SOCK_STREAM, 0);          /* before connect */
    if (fresh >= 0) {
        assert_int_equal(tio_nodelay(fresh), 1);
        assert_int_equal(nodelay_of(fresh), 1);
        assert_int_equal(close(fresh), 0);
    }
    pair(sv);                                           /* UNIX-domain */
    assert_int_equal(tio_nodelay(sv[1]), 0);
    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(tio_nodelay(pfd[1]), 0);
    fd = open("/dev/null", O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(tio_nodelay(fd), 0);
    assert_int_equal(close(fd), 0);
    errno = 0;                                          /* bad descriptor */
    assert_int_equal(tio_nodelay(fd), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(tio_nodelay(-1), -1);
    /* the stream still carries bytes over a NODELAY socket */
    {
        tio *t = tio_open(tcp[1], LONG_WAIT_MS);
        char buf[16];

        assert_int_equal(tio_puts(t, "250 ok\r\n"), TIO_OK);
        assert_int_equal(tio_flush(t), TIO_OK);
        assert_int_equal(peer_read(tcp[0], buf, sizeof(buf), 8), 8);
        assert_memory_equal(buf, "250 ok\r\n", 8);
        tio_free(t);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(close(tcp[i]), 0);
        assert_int_equal(close(sv[i]), 0);
        assert_int_equal(close(pfd[i]), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_getline_table),
        cmocka_unit_test(test_huge_line_skipped),
        cmocka_unit_test(test_split_reads),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_pending_and_discard),
        cmocka_unit_test(test_raw_read),
        cmocka_unit_test(test_write_and_flush),
        cmocka_unit_test(test_read_flushes_output),
        cmocka_unit_test(test_write_failures_are_sticky),
        cmocka_unit_test(test_pipe),
        cmocka_unit_test(test_ops_vtable),
        cmocka_unit_test(test_strstatus),
        cmocka_unit_test(test_getline_splits),
        cmocka_unit_test(test_nodelay),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
