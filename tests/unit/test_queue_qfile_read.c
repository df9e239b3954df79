/*
 * Unit tests for the buffered queue-file reader (queue/qfile_read.c):
 * records that straddle the read buffer's boundary at every alignment,
 * files much larger than the buffer (recipients after a large content),
 * truncation and bad bytes around the boundary. Files are built by hand,
 * record by record, in a temporary directory.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/strbuf.h"
#include "common/xalloc.h"
#include "queue/qfile.h"
#include "testutil.h"

/* The reader's buffer size (qfile_read.c): the boundary under test. */
#define RBUF 16384

/* A queue file being built in memory, and what was put in it. */
struct fb {
    unsigned char *b;
    size_t len, cap;
    off_t rcpt_off[1024];               /* status byte offsets */
    size_t nrcpt;
};

struct fixture {
    char dir[64];
    char path[96];
    strbuf why;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));

    tu_tmpdir(f->dir, sizeof(f->dir), "/tmp/tern-qread-XXXXXX");
    assert_int_equal(fmt_fixed(f->path, sizeof(f->path), "%s/q", f->dir), 0);
    sb_init(&f->why, 1024);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    (void)unlink(f->path);
    assert_int_equal(rmdir(f->dir), 0);
    sb_release(&f->why);
    free(f);
    return 0;
}

/* fb_bytes - append raw bytes. */
static void fb_bytes(struct fb *f, const void *p, size_t n)
{
    if (f->len + n > f->cap) {
        f->cap = (f->len + n) * 2;
        f->b = xrealloc(f->b, f->cap);
    }
    memcpy(f->b + f->len, p, n);
    f->len += n;
}

/* fb_rec - append one record: type, 4-byte big-endian length, data. */
static void fb_rec(struct fb *f, int type, const void *data, size_t len)
{
    unsigned char h[5] = {(unsigned char)type, (unsigned char)(len >> 24),
                          (unsigned char)(len >> 16), (unsigned char)(len >> 8),
                          (unsigned char)len};

    fb_bytes(f, h, sizeof(h));
    fb_bytes(f, data, len);
}

/* fb_rcpt - append a pending recipient record with this address. */
static void fb_rcpt(struct fb *f, const char *addr)
{
    char data[256];
    size_t alen = strlen(addr);

    assert_true(alen + 4 < sizeof(data));
    data[0] = 'P';
    data[1] = 0;
    memcpy(data + 2, addr, alen);
    data[2 + alen] = '\0';              /* orig "" */
    data[3 + alen] = '\0';              /* orcpt "" */
    assert_true(f->nrcpt < sizeof(f->rcpt_off) / sizeof(f->rcpt_off[0]));
    f->rcpt_off[f->nrcpt++] = (off_t)(f->len + 5);
    fb_rec(f, 'R', data, alen + 4);
}

/* fb_env - VERSION, TIME, SENDER (slen bytes of 's'), EXPIRE. */
static void fb_env(struct fb *f, size_t slen)
{
    char *sender = xmalloc(slen + 1);

    memset(sender, 's', slen);
    fb_rec(f, 'V', "1", 1);
    fb_rec(f, 'T', "1700000000.000001", 17);
    fb_rec(f, 'S', sender, slen);
    fb_rec(f, 'X', "0", 1);
    free(sender);
}

/* fb_end - CONTENT of clen bytes (if not written yet) is the caller's; END. */
static void fb_end(struct fb *f, size_t clen)
{
    char end[64];

    assert_int_equal(fmt_fixed(end, sizeof(end), "%zu %zu", f->nrcpt, clen), 0);
    fb_rec(f, 'E', end, strlen(end));
}

/* fb_content - a CONTENT record of clen bytes, byte i = 'a' + i % 26. */
static void fb_content(struct fb *f, size_t clen)
{
    unsigned char h[5] = {'M', (unsigned char)(clen >> 24),
                          (unsigned char)(clen >> 16),
                          (unsigned char)(clen >> 8), (unsigned char)clen};

    fb_bytes(f, h, sizeof(h));
    for (size_t i = 0; i < clen; i++) {
        unsigned char c = (unsigned char)('a' + i % 26);

        fb_bytes(f, &c, 1);
    }
}

/* fb_save - write the built file to f->path (replacing it). */
static void fb_save(struct fixture *fx, const struct fb *f, size_t len)
{
    int fd = open(fx->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, f->b, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* check_msg - the reader's view matches what fb_* put in the file. */
static void check_msg(const qfile_msg *m, const struct fb *f, size_t slen,
                      size_t clen)
{
    char addr[64];
    char buf[64];

    assert_int_equal(strlen(m->env.sender), slen);
    assert_int_equal(m->env.arrival.tv_sec, 1700000000);
    assert_int_equal(m->env.arrival.tv_usec, 1);
    assert_int_equal(m->nrcpt, f->nrcpt);
    assert_int_equal(m->npending, f->nrcpt);
    assert_int_equal(m->content_size, clen);
    for (size_t i = 0; i < f->nrcpt; i++) {
        assert_int_equal(fmt_fixed(addr, sizeof(addr), "user%02zu@example.org",
                                   i), 0);
        assert_string_equal(m->rcpt[i].address, addr);
        assert_string_equal(m->rcpt[i].orig, "");
        assert_int_equal(m->rcpt[i].status, QFILE_RCPT_PENDING);
        assert_int_equal(m->rcpt[i].status_offset, f->rcpt_off[i]);
        assert_int_equal(f->b[m->rcpt[i].status_offset], 'P');
    }
    if (clen > 0) {
        size_t n = clen < sizeof(buf) ? clen : sizeof(buf);
        uint64_t pos = clen - n;

        assert_int_equal(qfile_read_content(m, pos, buf, n), (ssize_t)n);
        for (size_t i = 0; i < n; i++)
            assert_int_equal((unsigned char)buf[i], 'a' + (pos + i) % 26);
    }
}

/* build - envelope, 40 recipients before the content, 8 after it, END. */
static void build(struct fb *f, size_t slen, size_t clen)
{
    char addr[64];

    memset(f, 0, sizeof(*f));
    fb_env(f, slen);
    for (size_t i = 0; i < 48; i++) {
        if (i == 40)
            fb_content(f, clen);
        assert_int_equal(fmt_fixed(addr, sizeof(addr), "user%02zu@example.org",
                                   i), 0);
        fb_rcpt(f, addr);
    }
    fb_end(f, clen);
}

/*
 * Every alignment of a record against the buffer boundary: the content
 * is sized so the recipient records after it sit across offset RBUF, and
 * the sender length shifts them one byte at a time over a whole record
 * (header split, data split, record ending exactly at the boundary).
 */
static void test_straddle_every_alignment(void **state)
{
    struct fixture *fx = *state;

    for (size_t shift = 0; shift < 40; shift++) {
        struct fb f;
        qfile_msg *m;
        size_t slen = 1 + shift;

        build(&f, slen, RBUF - 1200);
        assert_true(f.rcpt_off[40] < RBUF && f.rcpt_off[47] > RBUF);
        fb_save(fx, &f, f.len);
        assert_int_equal(qfile_open(fx->path, O_RDONLY, &m, &fx->why), QFILE_OK);
        check_msg(m, &f, slen, RBUF - 1200);
        qfile_close(m);
        free(f.b);
    }
}

/* Files larger than the buffer, with recipients after the content. */
static void test_larger_than_buffer(void **state)
{
    struct fixture *fx = *state;
    static const size_t sizes[] = {0, 1, RBUF - 400, RBUF, RBUF + 1,
                                   3 * RBUF + 7, 1000000};

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct fb f;
        qfile_msg *m;

        build(&f, 20, sizes[i]);
        fb_save(fx, &f, f.len);
        assert_int_equal(qfile_open(fx->path, O_RDONLY, &m, &fx->why), QFILE_OK);
        check_msg(m, &f, 20, sizes[i]);
        qfile_close(m);
        free(f.b);
    }
}

/* A big SENDER record (up to 2048 bytes) across the boundary. */
static void test_big_record_across_boundary(void **state)
{
    struct fixture *fx = *state;

    for (size_t slen = 2040; slen <= QFILE_FIELD_MAX; slen++) {
        struct fb f;
        qfile_msg *m;
        char addr[64];
        char *sender = xmalloc(slen);

        memset(&f, 0, sizeof(f));
        fb_rec(&f, 'V', "1", 1);
        fb_rec(&f, 'T', "1700000000.000001", 17);
        fb_rec(&f, 'X', "0", 1);
        for (size_t i = 0; f.len < RBUF - 1000; i++) {
            assert_int_equal(fmt_fixed(addr, sizeof(addr),
                                       "user%02zu@example.org", i), 0);
            fb_rcpt(&f, addr);
        }
        memset(sender, 's', slen);
        fb_rec(&f, 'S', sender, slen);  /* from below RBUF to past it */
        free(sender);
        assert_true(f.len > RBUF);
        fb_content(&f, 10);
        fb_end(&f, 10);
        fb_save(fx, &f, f.len);
        assert_int_equal(qfile_open(fx->path, O_RDONLY, &m, &fx->why), QFILE_OK);
        check_msg(m, &f, slen, 10);
        qfile_close(m);
        free(f.b);
    }
}

/* Truncation anywhere around the boundary and at the end: corrupt. */
static void test_truncated_around_boundary(void **state)
{
    struct fixture *fx = *state;
    struct fb f;

    build(&f, 7, 3 * RBUF);
    for (size_t cut = 0; cut < 64; cut++) {
        static const size_t base[] = {RBUF - 32, 0};
        qfile_msg *m = NULL;

        for (size_t b = 0; b < 2; b++) {
            size_t len = base[b] ? base[b] + cut : f.len - 1 - cut;

            fb_save(fx, &f, len);
            assert_int_equal(qfile_open(fx->path, O_RDONLY, &m, &fx->why),
                             QFILE_ECORRUPT);
            assert_null(m);
            assert_true(sb_len(&fx->why) > 0);
        }
    }
    fb_save(fx, &f, f.len);             /* the whole file is fine */
    {
        qfile_msg *m;

        assert_int_equal(qfile_open(fx->path, O_RDONLY, &m, &fx->why), QFILE_OK);
        qfile_close(m);
    }
    free(f.b);
}

/*
 * A byte in a recipient record that lies across the boundary: control
 * bytes and NUL are malformed (with the record's offset), an 8-bit byte
 * (UTF-8 address) is kept as it is.
 */
static void test_bytes_across_boundary(void **state)
{
    struct fixture *fx = *state;
    static const struct { unsigned char c; bool ok; } cases[] = {
        {'\n', false}, {0x01, false}, {0x7f, false}, {0x00, false},
        {0xc3, true},
    };

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct fb f = {0};
        qfile_msg *m = NULL;
        char want[96];
        size_t at = 48;
        off_t pos;

        /* shift the records until one starts before RBUF, pos after it */
        for (size_t slen = 1; slen < 40 && at == 48; slen++) {
            free(f.b);
            build(&f, slen, RBUF - 1200);
            for (at = 40; at < 48 && !(f.rcpt_off[at] - 5 < RBUF
                                       && f.rcpt_off[at] + 6 >= RBUF); at++)
                ;
        }
        assert_true(at < 48);
        pos = f.rcpt_off[at] + 6;       /* inside the address */
        f.b[pos] = cases[k].c;
        fb_save(fx, &f, f.len);
        if (cases[k].ok) {
            assert_int_equal(qfile_open(fx->path, O_RDONLY, &m, &fx->why),
                             QFILE_OK);
            assert_int_equal((unsigned char)m->rcpt[at].address[4],
                             cases[k].c);
            qfile_close(m);
        } else {
            assert_int_equal(qfile_open(fx->path, O_RDONLY, &m, &fx->why),
                             QFILE_ECORRUPT);
            assert_null(m);
            assert_int_equal(fmt_fixed(want, sizeof(want),
                                       "malformed RCPT record at offset %lld",
                                       (long long)(f.rcpt_off[at] - 5)), 0);
            assert_string_equal(sb_str(&fx->why), want);
        }
        free(f.b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_straddle_every_alignment, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_larger_than_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_record_across_boundary, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_truncated_around_boundary, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bytes_across_boundary, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
