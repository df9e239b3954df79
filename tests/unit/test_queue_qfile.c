/*
 * Unit tests for queue/qfile and queue/spool: write/read/mark round trips,
 * every truncation point, hand-made malformed files, quarantine, removal,
 * writer misuse, spool creation, moves and the temporary-file purge.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "queue/qfile.h"
#include "queue/qid.h"
#include "queue/spool.h"
#include "testutil.h"

struct fixture {
    char top[64];
    spool sp;
    qid_gen gen;
    strbuf why;
    strbuf path;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    strbuf why;

    tu_tmpdir(f->top, sizeof(f->top), "/tmp/tern-qfile-XXXXXX");
    sb_init(&why, 512);
    assert_int_equal(spool_create(f->top, &why), 0);
    sb_release(&why);
    spool_init(&f->sp, f->top);
    qid_gen_init(&f->gen, true);
    sb_init(&f->why, 1024);
    sb_init(&f->path, 4096);
    *state = f;
    return 0;
}

/* setup_named - as setup, with O_TMPFILE off: named "tmp.*" writers. */
static int setup_named(void **state)
{
    int rc = setup(state);

    ((struct fixture *)*state)->sp.tmpfile = -1;
    return rc;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    spool_close(&f->sp);
    tu_rm_rf(f->top);
    sb_release(&f->why);
    sb_release(&f->path);
    free(f);
    return 0;
}

/* count_dir - committed and temporary names in a spool directory. */
static size_t count_dir(struct fixture *f, enum spool_dir dir, size_t *temps)
{
    DIR *dp;
    struct dirent *de;
    size_t n = 0;

    assert_int_equal(spool_path(&f->sp, dir, NULL, &f->path), 0);
    dp = opendir(sb_str(&f->path));
    assert_non_null(dp);
    if (temps)
        *temps = 0;
    while ((de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (spool_is_temp(de->d_name)) {
            if (temps)
                (*temps)++;
        } else {
            assert_true(qid_valid(de->d_name));
            n++;
        }
    }
    closedir(dp);
    return n;
}

/* open_qid - qfile_open of dir/qid. */
static int open_qid(struct fixture *f, enum spool_dir dir, const char *qid,
                    int flags, qfile_msg **msg)
{
    assert_int_equal(spool_path(&f->sp, dir, qid, &f->path), 0);
    return qfile_open(sb_str(&f->path), flags, msg, &f->why);
}

static const char content8[] =
    "From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\r\n"
    "Subject: caf\xc3\xa9 \xff\xfe\r\n\r\nbody with a NUL \0 byte\r\n.\r\n";

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    qfile_env env = {
        .sender = "alice@example.org", .arrival = {1720480000, 42},
        .client_name = "mail.example.org", .client_addr = "192.0.2.1",
        .helo = "mail.example.org", .protocol = "ESMTPSA",
        .sasl_method = "PLAIN", .sasl_username = "alice",
        .body_type = QFILE_BODY_8BITMIME, .smtputf8 = true,
        .envid = "QQ314159", .ret = QFILE_RET_HDRS,
    };
    const qfile_rcpt rcpts[] = {
        {"bob@example.net", NULL, NULL, 0, 0, 0},
        {"carol@example.com", "list@example.com", "rfc822;list@example.com",
         QFILE_NOTIFY_SUCCESS | QFILE_NOTIFY_FAILURE, 0, 0},
        {"j\xc3\xbcrgen@example.de", "", "utf-8;j\xc3\xbcrgen@example.de",
         QFILE_NOTIFY_NEVER, 0, 0},
    };
    qfile_writer *w = qfile_create(&f->sp, SPOOL_INCOMING, 0600, &f->why);
    char qid[QID_SIZE], buf[4096];
    qfile_msg *m;
    size_t temps;
    struct stat st;

    assert_non_null(w);
    assert_int_equal(count_dir(f, SPOOL_INCOMING, &temps), 0);
    /* uncommitted: unnamed (O_TMPFILE), or only a temporary name */
    assert_int_equal(temps, f->sp.tmpfile > 0 ? 0 : 1);
    assert_int_equal(qfile_put_env(w, &env), 0);
    assert_int_equal(qfile_add_rcpt(w, &rcpts[0]), 0);
    assert_int_equal(qfile_add_rcpt(w, &rcpts[1]), 0);
    assert_int_equal(qfile_write_content(w, content8, 20), 0);
    assert_int_equal(qfile_write_content(w, content8 + 20, sizeof(content8) - 21), 0);
    assert_int_equal(qfile_add_rcpt(w, &rcpts[2]), 0);     /* after content */
    assert_int_equal(qfile_commit(w, &f->gen, qid, sizeof(qid)), 0);
    assert_true(qid_valid(qid));
    assert_int_equal(count_dir(f, SPOOL_INCOMING, &temps), 1);
    assert_int_equal(temps, 0);

    assert_int_equal(open_qid(f, SPOOL_INCOMING, qid, O_RDONLY, &m), QFILE_OK);
    assert_int_equal(fstat(m->fd, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_string_equal(m->env.sender, "alice@example.org");
    assert_int_equal(m->env.arrival.tv_sec, 1720480000);
    assert_int_equal(m->env.arrival.tv_usec, 42);
    assert_string_equal(m->env.client_name, "mail.example.org");
    assert_string_equal(m->env.client_addr, "192.0.2.1");
    assert_string_equal(m->env.helo, "mail.example.org");
    assert_string_equal(m->env.protocol, "ESMTPSA");
    assert_string_equal(m->env.sasl_method, "PLAIN");
    assert_string_equal(m->env.sasl_username, "alice");
    assert_int_equal(m->env.body_type, QFILE_BODY_8BITMIME);
    assert_true(m->env.smtputf8);
    assert_string_equal(m->env.envid, "QQ314159");
    assert_int_equal(m->env.ret, QFILE_RET_HDRS);
    assert_false(m->env.forced_expire);
    assert_int_equal(m->nrcpt, 3);
    assert_int_equal(m->npending, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(m->rcpt[i].address, rcpts[i].address);
        assert_string_equal(m->rcpt[i].orig, rcpts[i].orig ? rcpts[i].orig : "");
        assert_string_equal(m->rcpt[i].orcpt, rcpts[i].orcpt ? rcpts[i].orcpt : "");
        assert_int_equal(m->rcpt[i].notify, rcpts[i].notify);
        assert_int_equal(m->rcpt[i].status, QFILE_RCPT_PENDING);
    }
    assert_int_equal(m->content_size, sizeof(content8) - 1);
    assert_int_equal(qfile_read_content(m, 0, buf, sizeof(buf)), sizeof(content8) - 1);
    assert_memory_equal(buf, content8, sizeof(content8) - 1);
    assert_int_equal(qfile_read_content(m, 5, buf, 3), 3);
    assert_memory_equal(buf, content8 + 5, 3);
    assert_int_equal(qfile_read_content(m, sizeof(content8), buf, 3), 0);
    qfile_close(m);
}

static void test_many_rcpts_null_sender_and_marking(void **state)
{
    struct fixture *f = *state;
    qfile_env env = {.sender = "", .arrival = {1, 0}};
    qfile_writer *w = qfile_create(&f->sp, SPOOL_INCOMING, 0600, &f->why);
    char qid[QID_SIZE], addr[64];
    off_t offs[500];
    qfile_msg *m;

    assert_non_null(w);
    assert_int_equal(qfile_put_env(w, &env), 0);
    for (int i = 0; i < 1000; i++) {
        qfile_rcpt r = {addr, NULL, NULL, 0, 0, 0};

        assert_int_equal(fmt_fixed(addr, sizeof(addr), "user%d@example.com", i), 0);
        assert_int_equal(qfile_add_rcpt(w, &r), 0);
    }
    assert_int_equal(qfile_commit(w, &f->gen, qid, sizeof(qid)), 0);
    assert_int_equal(open_qid(f, SPOOL_INCOMING, qid, O_RDWR, &m), QFILE_OK);
    assert_string_equal(m->env.sender, "");
    assert_string_equal(m->env.client_name, "");
    assert_int_equal(m->env.body_type, QFILE_BODY_NONE);
    assert_int_equal(m->content_size, 0);
    assert_int_equal(m->nrcpt, 1000);
    assert_string_equal(m->rcpt[999].address, "user999@example.com");
    for (int i = 0; i < 500; i++)
        offs[i] = m->rcpt[2 * i].status_offset;
    assert_int_equal(qfile_mark_rcpts(m->fd, offs, 500, QFILE_RCPT_DELIVERED), 0);
    assert_int_equal(qfile_mark_rcpt(m->fd, m->rcpt[1].status_offset,
                                     QFILE_RCPT_BOUNCED), 0);
    /* Wrong offsets and unknown statuses change nothing. */
    assert_int_equal(qfile_mark_rcpt(m->fd, 1, QFILE_RCPT_DELIVERED), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(qfile_mark_rcpt(m->fd, m->rcpt[3].status_offset + 1,
                                     QFILE_RCPT_DELIVERED), -1);
    assert_int_equal(qfile_mark_rcpt(m->fd, m->rcpt[3].status_offset, 'Z'), -1);
    assert_int_equal(qfile_mark_rcpt(m->fd, 1 << 30, QFILE_RCPT_DELIVERED), -1);
    assert_int_equal(qfile_set_expire(m->fd, m->expire_offset, true), 0);
    qfile_close(m);

    assert_int_equal(open_qid(f, SPOOL_INCOMING, qid, O_RDONLY, &m), QFILE_OK);
    assert_int_equal(m->npending, 499);
    assert_int_equal(m->rcpt[0].status, QFILE_RCPT_DELIVERED);
    assert_int_equal(m->rcpt[1].status, QFILE_RCPT_BOUNCED);
    assert_int_equal(m->rcpt[3].status, QFILE_RCPT_PENDING);
    assert_int_equal(m->rcpt[998].status, QFILE_RCPT_DELIVERED);
    assert_true(m->env.forced_expire);
    qfile_close(m);

    /* All done: qmgr removes it, and its reason file. */
    assert_int_equal(spool_path(&f->sp, SPOOL_DEFER, qid, &f->path), 0);
    close(open(sb_str(&f->path), O_WRONLY | O_CREAT, 0600));
    assert_int_equal(qfile_remove(&f->sp, SPOOL_INCOMING, qid), 0);
    assert_int_equal(count_dir(f, SPOOL_INCOMING, NULL), 0);
    assert_int_equal(count_dir(f, SPOOL_DEFER, NULL), 0);
    assert_int_equal(qfile_remove(&f->sp, SPOOL_INCOMING, qid), -1);
    assert_int_equal(qfile_remove(&f->sp, SPOOL_INCOMING, "../x"), -1);
}

static void test_big_content_streamed(void **state)
{
    struct fixture *f = *state;
    const size_t total = 10 * 1024 * 1024;
    qfile_env env = {.sender = "big@example.org", .arrival = {2, 999999}};
    qfile_rcpt r = {"rcpt@example.net", NULL, NULL, 0, 0, 0};
    qfile_writer *w = qfile_create(&f->sp, SPOOL_MAILDROP, 0644, &f->why);
    char *chunk = xmalloc(70000), *back = xmalloc(65536), qid[QID_SIZE];
    size_t done = 0, step = 1;
    qfile_msg *m;
    uint64_t pos = 0;

    assert_non_null(w);
    assert_int_equal(qfile_put_env(w, &env), 0);
    assert_int_equal(qfile_add_rcpt(w, &r), 0);
    while (done < total) {
        size_t n = step < total - done ? step : total - done;

        for (size_t i = 0; i < n; i++)
            chunk[i] = (char)((done + i) * 131 % 251);
        assert_int_equal(qfile_write_content(w, chunk, n), 0);
        done += n;
        step = step * 3 % 69997 + 1;        /* tiny to just-over-buffer sizes */
    }
    assert_int_equal(qfile_writer_size(w), total);
    assert_int_equal(qfile_commit(w, &f->gen, qid, sizeof(qid)), 0);
    assert_int_equal(open_qid(f, SPOOL_MAILDROP, qid, O_RDONLY, &m), QFILE_OK);
    assert_int_equal(m->content_size, total);
    while (pos < total) {
        ssize_t n = qfile_read_content(m, pos, back, 65536);

        assert_true(n > 0);
        for (ssize_t i = 0; i < n; i++)
            if (back[i] != (char)((pos + (uint64_t)i) * 131 % 251))
                fail_msg("content differs at %llu", (unsigned long long)(pos + (uint64_t)i));
        pos += (uint64_t)n;
    }
    assert_int_equal(qfile_read_content(m, pos, back, 65536), 0);
    qfile_close(m);
    free(chunk);
    free(back);
}

/* commit_small - a small valid message; its bytes go to *bytes. */
static size_t commit_small(struct fixture *f, char *qid, char **bytes)
{
    qfile_env env = {.sender = "s@x", .arrival = {1720480000, 7},
                     .helo = "h", .body_type = QFILE_BODY_7BIT};
    qfile_rcpt r = {"r@y", "o@y", "rfc822;o@y", QFILE_NOTIFY_DELAY, 0, 0};
    qfile_writer *w = qfile_create(&f->sp, SPOOL_INCOMING, 0600, &f->why);
    struct stat st;
    int fd;

    assert_non_null(w);
    assert_int_equal(qfile_put_env(w, &env), 0);
    assert_int_equal(qfile_add_rcpt(w, &r), 0);
    assert_int_equal(qfile_write_content(w, "Subject: x\r\n\r\nhi\r\n", 18), 0);
    assert_int_equal(qfile_commit(w, &f->gen, qid, QID_SIZE), 0);
    assert_int_equal(spool_path(&f->sp, SPOOL_INCOMING, qid, &f->path), 0);
    fd = open(sb_str(&f->path), O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    *bytes = xmalloc((size_t)st.st_size);
    assert_int_equal(read(fd, *bytes, (size_t)st.st_size), st.st_size);
    close(fd);
    return (size_t)st.st_size;
}

/* write_file - replace path with exactly these bytes. */
static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void test_every_truncation(void **state)
{
    struct fixture *f = *state;
    char qid[QID_SIZE], *bytes;
    size_t size = commit_small(f, qid, &bytes);
    qfile_msg *m;

    assert_int_equal(spool_path(&f->sp, SPOOL_INCOMING, "trunc", &f->path), 0);
    for (size_t n = 0; n < size; n++) {
        write_file(sb_str(&f->path), bytes, n);
        if (qfile_open(sb_str(&f->path), O_RDONLY, &m, &f->why) != QFILE_ECORRUPT)
            fail_msg("file cut at %zu of %zu bytes was accepted", n, size);
        assert_null(m);
        assert_true(sb_len(&f->why) > 0);
    }
    write_file(sb_str(&f->path), bytes, size);
    assert_int_equal(qfile_open(sb_str(&f->path), O_RDONLY, &m, &f->why), QFILE_OK);
    assert_string_equal(m->rcpt[0].orcpt, "rfc822;o@y");
    qfile_close(m);
    free(bytes);
}

/* One hand-made record, optionally with a lying length field. */
struct rec {
    int type;
    const char *data;
    size_t dlen;                        /* 0 = strlen(data) */
    long long hdrlen;                   /* -1 = dlen */
};

#define REC(t, s) {t, s, 0, -1}
#define RECN(t, s) {t, s, sizeof(s) - 1, -1}
#define RCPT_OK RECN('R', "P\0r@y\0\0")

/* build - serialise records into a fresh strbuf. */
static void build(strbuf *out, const struct rec *recs)
{
    for (size_t i = 0; recs[i].type != 0; i++) {
        size_t dlen = recs[i].dlen ? recs[i].dlen : strlen(recs[i].data);
        uint32_t hl = recs[i].hdrlen < 0 ? (uint32_t)dlen : (uint32_t)recs[i].hdrlen;
        unsigned char hdr[5] = {(unsigned char)recs[i].type, (unsigned char)(hl >> 24),
                                (unsigned char)(hl >> 16), (unsigned char)(hl >> 8),
                                (unsigned char)hl};

        assert_int_equal(sb_append(out, hdr, 5), 0);
        assert_int_equal(sb_append(out, recs[i].data, dlen), 0);
    }
}

/* Hand-made files and the reason each must be rejected with. */
static const struct malformed_case {
    const char *name;
    struct rec recs[12];
    const char *why;                /* NULL = accepted */
} malformed_cases[] = {
    {"baseline", {REC('V', "1"), REC('T', "1.000001"), REC('S', "a@b"),
                  REC('X', "0"), RCPT_OK, REC('M', "hi\n"), REC('E', "1 3")}, NULL},
    {"8-bit sender", {REC('V', "1"), REC('T', "1.000001"), REC('S', "\xc3\xbc@b"),
                      REC('X', "0"), RCPT_OK, REC('M', "hi\n"), REC('E', "1 3")}, NULL},
    {"no version first", {REC('T', "1.000001"), REC('V', "1")},
     "not a queue file: no VERSION record"},
    {"wrong version", {REC('V', "2"), REC('T', "1.000001")},
     "unsupported queue file version 2"},
    {"version with zero", {REC('V', "01")}, "malformed VERSION record"},
    {"garbage type", {REC('V', "1"), REC(0x01, "x")},
     "unknown record type 0x01 at offset 6"},
    {"overlong sender", {REC('V', "1"), {'S', "a", 1, 5000}},
     "overlong SENDER record (5000 bytes) at offset 6"},
    {"overlong rcpt", {REC('V', "1"), {'R', "a", 1, 0x7fffffff}},
     "overlong RCPT record (2147483647 bytes) at offset 6"},
    {"content past end", {REC('V', "1"), REC('T', "1.000001"), {'M', "hi", 2, 0xffffffffLL}},
     "truncated CONTENT record at offset 19"},
    {"END-less", {REC('V', "1"), REC('T', "1.000001"), REC('S', ""),
                  REC('X', "0"), RCPT_OK, REC('M', "hi\n")}, "missing END record"},
    {"after END", {REC('V', "1"), REC('T', "1.000001"), REC('S', ""), REC('X', "0"),
                   RCPT_OK, REC('M', "hi\n"), REC('E', "1 3"), REC('S', "")},
     "data after END record at offset 58"},
    {"size mismatch", {REC('V', "1"), REC('T', "1.000001"), REC('S', ""), REC('X', "0"),
                       RCPT_OK, REC('M', "hi\n"), REC('E', "1 4")},
     "content size mismatch: END says 4, content has 3"},
    {"count mismatch", {REC('V', "1"), REC('T', "1.000001"), REC('S', ""), REC('X', "0"),
                        RCPT_OK, REC('M', "hi\n"), REC('E', "2 3")},
     "recipient count mismatch: END says 2, found 1"},
    {"no recipients", {REC('V', "1"), REC('T', "1.000001"), REC('S', ""), REC('X', "0"),
                       REC('M', "hi\n"), REC('E', "0 3")}, "no recipients"},
    {"duplicate sender", {REC('V', "1"), REC('S', "a"), REC('S', "b")},
     "duplicate SENDER record at offset 12"},
    {"sender after content", {REC('V', "1"), REC('M', ""), REC('S', "a")},
     "SENDER record after content at offset 11"},
    {"newline in sender", {REC('V', "1"), REC('S', "a\nb")},
     "control character in SENDER record at offset 6"},
    {"NUL in helo", {REC('V', "1"), RECN('h', "a\0b")},
     "control character in HELO record at offset 6"},
    {"bad status", {REC('V', "1"), RECN('R', "Q\0r@y\0\0")},
     "malformed RCPT record at offset 6"},
    {"one NUL", {REC('V', "1"), RECN('R', "P\0r@y\0")},
     "malformed RCPT record at offset 6"},
    {"empty address", {REC('V', "1"), RECN('R', "P\0\0\0")},
     "malformed RCPT record at offset 6"},
    {"NEVER plus SUCCESS", {REC('V', "1"), RECN('R', "P\x03r@y\0\0")},
     "malformed RCPT record at offset 6"},
    {"bad time", {REC('V', "1"), REC('T', "123.45")},
     "malformed TIME record at offset 6"},
    {"negative time", {REC('V', "1"), REC('T', "-1.000000")},
     "malformed TIME record at offset 6"},
    {"bad body", {REC('V', "1"), REC('b', "9BIT")},
     "bad value in BODY record at offset 6"},
    {"bad expire", {REC('V', "1"), REC('X', "y")},
     "bad value in EXPIRE record at offset 6"},
    {"bad END", {REC('V', "1"), REC('T', "1.000001"), REC('S', ""), REC('X', "0"),
                 RCPT_OK, REC('M', ""), REC('E', "x y")},
     "malformed END record at offset 47"},
    {"missing EXPIRE", {REC('V', "1"), REC('T', "1.000001"), REC('S', ""),
                        RCPT_OK, REC('M', ""), REC('E', "1 0")}, "missing EXPIRE record"},
    {"missing TIME", {REC('V', "1"), REC('S', ""), REC('X', "0"),
                      RCPT_OK, REC('M', ""), REC('E', "1 0")}, "missing TIME record"},
    {"header cut", {REC('V', "1"), REC('\xff', "\xff\xff")},
     "truncated record header at offset 6"},
};

static void test_malformed_files(void **state)
{
    struct fixture *f = *state;
    strbuf raw;
    qfile_msg *m;

    sb_init(&raw, 1 << 20);
    assert_int_equal(spool_path(&f->sp, SPOOL_INCOMING, "hand", &f->path), 0);
    for (size_t i = 0; i < sizeof(malformed_cases) / sizeof(malformed_cases[0]); i++) {
        const struct malformed_case *c = &malformed_cases[i];
        int ret;

        sb_reset(&raw);
        build(&raw, c->recs);
        if (strcmp(c->name, "header cut") == 0)
            sb_truncate(&raw, sb_len(&raw) - 5);
        write_file(sb_str(&f->path), sb_str(&raw), sb_len(&raw));
        ret = qfile_open(sb_str(&f->path), O_RDONLY, &m, &f->why);
        if (c->why == NULL) {
            if (ret != QFILE_OK)
                fail_msg("%s: rejected: %s", c->name, sb_str(&f->why));
            qfile_close(m);
            continue;
        }
        if (ret != QFILE_ECORRUPT)
            fail_msg("%s: accepted", c->name);
        if (strcmp(sb_str(&f->why), c->why) != 0)
            fail_msg("%s: reason \"%s\", want \"%s\"", c->name, sb_str(&f->why),
                     c->why);
        assert_null(m);
    }
    sb_release(&raw);
}

static void test_open_errors(void **state)
{
    struct fixture *f = *state;
    qfile_msg *m;

    assert_int_equal(open_qid(f, SPOOL_INCOMING, "nonexistent", O_RDONLY, &m),
                     QFILE_ESYS);
    assert_int_equal(errno, ENOENT);
    assert_null(m);
    /* A directory and a symlink (hostile maildrop content) are corrupt. */
    assert_int_equal(spool_path(&f->sp, SPOOL_INCOMING, NULL, &f->path), 0);
    assert_int_equal(qfile_open(sb_str(&f->path), O_RDONLY, &m, &f->why),
                     QFILE_ECORRUPT);
    assert_string_equal(sb_str(&f->why), "not a regular file");
    assert_int_equal(spool_path(&f->sp, SPOOL_INCOMING, "link", &f->path), 0);
    assert_int_equal(symlink("/etc/passwd", sb_str(&f->path)), 0);
    assert_int_equal(qfile_open(sb_str(&f->path), O_RDONLY, &m, NULL), QFILE_ECORRUPT);
}

struct captured {
    int count;
    char text[512];
};

static void capture(enum msg_level level, const char *text, void *ctx)
{
    struct captured *c = ctx;

    (void)level;
    if (c->count++ == 0)
        assert_int_equal(fmt_fixed(c->text, sizeof(c->text), "%s", text), 0);
}

static void test_quarantine(void **state)
{
    struct fixture *f = *state;
    char qid[QID_SIZE], *bytes, line[600];
    size_t size = commit_small(f, qid, &bytes);
    struct captured cap = {0, ""};
    qfile_msg *m;

    bytes[0] = 'Z';                     /* break the first record */
    assert_int_equal(spool_path(&f->sp, SPOOL_INCOMING, qid, &f->path), 0);
    write_file(sb_str(&f->path), bytes, size);
    assert_int_equal(qfile_open(sb_str(&f->path), O_RDONLY, &m, &f->why),
                     QFILE_ECORRUPT);
    msg_open("unit", 0);
    msg_set_capture(capture, &cap);
    assert_int_equal(qfile_quarantine(&f->sp, SPOOL_INCOMING, qid,
                                      sb_str(&f->why)), 0);
    msg_set_capture(NULL, NULL);
    assert_int_equal(fmt_fixed(line, sizeof(line),
                               "warning: %s: corrupt queue file: unknown record type"
                               " 0x5a at offset 0", qid), 0);
    assert_int_equal(cap.count, 1);
    assert_string_equal(cap.text, line);
    assert_int_equal(count_dir(f, SPOOL_INCOMING, NULL), 0);
    assert_int_equal(count_dir(f, SPOOL_CORRUPT, NULL), 1);
    assert_int_equal(open_qid(f, SPOOL_CORRUPT, qid, O_RDONLY, &m), QFILE_ECORRUPT);
    free(bytes);
}

static void test_writer_misuse(void **state)
{
    static const struct {
        const char *name;
        qfile_env env;
        qfile_rcpt rcpt;
        int content_after;              /* write content after the rcpt */
        const char *why;
    } cases[] = {
        {"null sender pointer", {.sender = NULL}, {"r@y", 0, 0, 0, 0, 0}, 0, "no sender"},
        {"CR in sender", {.sender = "a\r@b"}, {"r@y", 0, 0, 0, 0, 0}, 0,
         "invalid sender: overlong or control character"},
        {"LF in HELO", {.sender = "", .helo = "x\ny"}, {"r@y", 0, 0, 0, 0, 0}, 0,
         "invalid HELO name: overlong or control character"},
        {"bad usec", {.sender = "", .arrival = {1, 1000000}}, {"r@y", 0, 0, 0, 0, 0}, 0,
         "invalid arrival time"},
        {"empty rcpt", {.sender = ""}, {"", 0, 0, 0, 0, 0}, 0, "invalid recipient address"},
        {"tab in rcpt", {.sender = ""}, {"a\tb", 0, 0, 0, 0, 0}, 0,
         "invalid recipient address"},
        {"bad notify", {.sender = ""}, {"r@y", 0, 0, 0x11, 0, 0}, 0,
         "invalid NOTIFY flags 0x11"},
        {"content after trailing rcpt", {.sender = ""}, {"r@y", 0, 0, 0, 0, 0}, 1,
         "content after trailing recipients"},
    };
    struct fixture *f = *state;
    char qid[QID_SIZE];

    msg_open("unit", 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        qfile_writer *w = qfile_create(&f->sp, SPOOL_INCOMING, 0600, &f->why);

        assert_non_null(w);
        if (cases[i].content_after)
            assert_int_equal(qfile_write_content(w, "x", 1), -1);   /* too early */
        else
            (void)qfile_put_env(w, &cases[i].env);
        if (cases[i].content_after) {
            qfile_writer *w2 = w;

            qfile_abort(w2);
            w = qfile_create(&f->sp, SPOOL_INCOMING, 0600, &f->why);
            assert_int_equal(qfile_put_env(w, &cases[i].env), 0);
            assert_int_equal(qfile_write_content(w, "x", 1), 0);
        }
        (void)qfile_add_rcpt(w, &cases[i].rcpt);
        if (cases[i].content_after)
            assert_int_equal(qfile_write_content(w, "y", 1), -1);
        assert_string_equal(qfile_writer_error(w), cases[i].why);
        /* A poisoned writer never commits, and leaves nothing behind. */
        assert_int_equal(qfile_commit(w, &f->gen, qid, sizeof(qid)), -1);
        {
            size_t temps;

            assert_int_equal(count_dir(f, SPOOL_INCOMING, &temps), 0);
            assert_int_equal(temps, 0);
        }
    }
}

static void test_writer_limits_and_abort(void **state)
{
    struct fixture *f = *state;
    char qid[QID_SIZE], big[QFILE_FIELD_MAX + 2];

    /* Overlong field, envelope twice, no recipients, abort. */
    {
        qfile_env env = {.sender = big};
        qfile_writer *w = qfile_create(&f->sp, SPOOL_INCOMING, 0600, &f->why);

        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        assert_int_equal(qfile_put_env(w, &env), -1);
        qfile_abort(w);
        env.sender = "";
        w = qfile_create(&f->sp, SPOOL_INCOMING, 0600, &f->why);
        assert_int_equal(qfile_put_env(w, &env), 0);
        assert_int_equal(qfile_put_env(w, &env), -1);
        assert_string_equal(qfile_writer_error(w), "envelope written twice");
        qfile_abort(w);
        w = qfile_create(&f->sp, SPOOL_INCOMING, 0600, &f->why);
        assert_int_equal(qfile_put_env(w, &env), 0);
        assert_int_equal(qfile_commit(w, &f->gen, qid, sizeof(qid)), -1);
        assert_int_equal(count_dir(f, SPOOL_INCOMING, NULL), 0);
        qfile_abort(NULL);
    }
    /* A spool directory that cannot be opened. */
    {
        spool bad;

        spool_init(&bad, "/nonexistent/tern");
        sb_reset(&f->why);
        assert_null(qfile_create(&bad, SPOOL_INCOMING, 0600, &f->why));
        assert_string_equal(sb_str(&f->why), "open /nonexistent/tern/incoming: "
                            "No such file or directory");
        spool_close(&bad);
    }
}

static void test_spool_layout_and_moves(void **state)
{
    struct fixture *f = *state;
    char qid[QID_SIZE], *bytes, other[QID_SIZE];
    struct stat st;
    qfile_msg *m;

    for (int d = 0; d < SPOOL_NDIRS; d++) {
        assert_int_equal(spool_lookup(spool_name((enum spool_dir)d)), d);
        assert_int_equal(spool_path(&f->sp, (enum spool_dir)d, NULL, &f->path), 0);
        assert_int_equal(lstat(sb_str(&f->path), &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, spool_mode((enum spool_dir)d));
    }
    assert_int_equal(spool_lookup("nonsense"), -1);
    assert_null(spool_name(SPOOL_NDIRS));
    assert_int_equal(spool_create(f->top, &f->why), 0);     /* idempotent */
    assert_int_equal(spool_path(&f->sp, SPOOL_HOLD, NULL, &f->path), 0);
    assert_int_equal(rmdir(sb_str(&f->path)), 0);
    write_file(sb_str(&f->path), "x", 1);
    sb_reset(&f->why);
    assert_int_equal(spool_create(f->top, &f->why), -1);
    assert_string_equal(sb_str(&f->why), "hold exists and is not a directory");
    assert_int_equal(unlink(sb_str(&f->path)), 0);
    assert_int_equal(spool_create(f->top, &f->why), 0);

    /* incoming -> active -> deferred -> hold, never over an existing file. */
    (void)commit_small(f, qid, &bytes);
    free(bytes);
    assert_int_equal(spool_move(&f->sp, qid, SPOOL_INCOMING, SPOOL_ACTIVE), 0);
    assert_int_equal(spool_move(&f->sp, qid, SPOOL_ACTIVE, SPOOL_DEFERRED), 0);
    (void)commit_small(f, other, &bytes);
    free(bytes);
    assert_int_equal(spool_path(&f->sp, SPOOL_HOLD, qid, &f->path), 0);
    write_file(sb_str(&f->path), "older", 5);
    assert_int_equal(spool_move(&f->sp, qid, SPOOL_DEFERRED, SPOOL_HOLD), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(open_qid(f, SPOOL_DEFERRED, qid, O_RDONLY, &m), QFILE_OK);
    qfile_close(m);
    assert_int_equal(spool_move(&f->sp, "../../etc", SPOOL_DEFERRED, SPOOL_HOLD), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(spool_move(&f->sp, other, SPOOL_DEFERRED, SPOOL_HOLD), -1);
    assert_int_equal(errno, ENOENT);
}

/* start_small - a writer in sp's incoming/ with a valid small message. */
static qfile_writer *start_small(struct fixture *f, spool *sp)
{
    qfile_env env = {.sender = "s@x", .arrival = {1720480000, 7}};
    qfile_rcpt r = {"r@y", NULL, NULL, 0, 0, 0};
    qfile_writer *w = qfile_create(sp, SPOOL_INCOMING, 0600, &f->why);

    assert_non_null(w);
    assert_int_equal(qfile_put_env(w, &env), 0);
    assert_int_equal(qfile_add_rcpt(w, &r), 0);
    assert_int_equal(qfile_write_content(w, "Subject: x\r\n\r\nhi\r\n", 18), 0);
    return w;
}

/* A held message is named in hold/ only, never in incoming/ (qmgr's). */
static void test_commit_into_hold(void **state)
{
    struct fixture *f = *state;
    const struct {
        bool reserve;                   /* smtpd reserves the ID early */
        bool hold_broken;               /* hold/ is not a directory */
        int rc;
    } cases[] = {
        {true, false, 0}, {false, false, 0}, {true, true, -1}, {false, true, -1},
    };
    char qid[QID_SIZE], early[QID_SIZE], saved[128];
    size_t temps;
    qfile_msg *m;

    assert_int_equal(fmt_fixed(saved, sizeof(saved), "%s/hold.saved", f->top), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        spool sp;                       /* hold/ opened afresh each time */
        qfile_writer *w;

        assert_int_equal(spool_path(&f->sp, SPOOL_HOLD, NULL, &f->path), 0);
        if (cases[i].hold_broken) {
            assert_int_equal(rename(sb_str(&f->path), saved), 0);
            write_file(sb_str(&f->path), "x", 1);
        }
        spool_init(&sp, f->top);
        w = start_small(f, &sp);
        if (cases[i].reserve)
            assert_int_equal(qfile_reserve_id(w, &f->gen, early,
                                              sizeof(early)), 0);
        assert_int_equal(qfile_commit_into(w, SPOOL_HOLD, &f->gen, qid,
                                           sizeof(qid)), cases[i].rc);
        spool_close(&sp);
        /* nothing in incoming/, committed or temporary, at any outcome */
        assert_int_equal(count_dir(f, SPOOL_INCOMING, &temps), 0);
        assert_int_equal(temps, 0);
        if (cases[i].hold_broken) {
            assert_int_equal(spool_path(&f->sp, SPOOL_HOLD, NULL, &f->path), 0);
            assert_int_equal(unlink(sb_str(&f->path)), 0);
            assert_int_equal(rename(saved, sb_str(&f->path)), 0);
            continue;
        }
        if (cases[i].reserve)
            assert_string_equal(qid, early);
        assert_int_equal(open_qid(f, SPOOL_HOLD, qid, O_RDONLY, &m), QFILE_OK);
        assert_string_equal(m->env.sender, "s@x");
        qfile_close(m);
        assert_int_equal(qfile_remove(&f->sp, SPOOL_HOLD, qid), 0);
    }
}

/* spool_list: queue IDs only, sorted, filtered by mtime; errors are -1. */
static void test_spool_list(void **state)
{
    struct fixture *f = *state;
    char a[QID_SIZE], b[QID_SIZE], *bytes;
    const char *const strangers[] = {"tmp.123", ".hidden", "not-a-qid", "A"};
    struct timespec old[2] = {{1000, 0}, {1000, 0}};
    qfile_writer *w = qfile_create(&f->sp, SPOOL_INCOMING, 0600, &f->why);
    spool_ids ids;
    spool bad;

    assert_non_null(w);                 /* a temporary file stays unlisted */
    (void)commit_small(f, a, &bytes);
    free(bytes);
    (void)commit_small(f, b, &bytes);
    free(bytes);
    for (size_t i = 0; i < sizeof(strangers) / sizeof(strangers[0]); i++) {
        assert_int_equal(spool_path(&f->sp, SPOOL_INCOMING, strangers[i],
                                    &f->path), 0);
        write_file(sb_str(&f->path), "x", 1);
    }
    assert_int_equal(spool_list(&f->sp, SPOOL_INCOMING, 0, &ids), 0);
    assert_int_equal(ids.n, 2);
    assert_true(strcmp(ids.v[0], ids.v[1]) < 0);
    assert_true(strcmp(ids.v[0], a) == 0 || strcmp(ids.v[0], b) == 0);
    spool_ids_free(&ids);
    assert_int_equal(ids.n, 0);
    /* due: only files modified at or before it */
    assert_int_equal(spool_path(&f->sp, SPOOL_INCOMING, b, &f->path), 0);
    assert_int_equal(utimensat(AT_FDCWD, sb_str(&f->path), old, 0), 0);
    assert_int_equal(spool_list(&f->sp, SPOOL_INCOMING, 1000, &ids), 0);
    assert_int_equal(ids.n, 1);
    assert_string_equal(ids.v[0], b);
    spool_ids_free(&ids);
    assert_int_equal(spool_list(&f->sp, SPOOL_INCOMING, 999, &ids), 0);
    assert_int_equal(ids.n, 0);
    spool_ids_free(&ids);
    assert_int_equal(spool_list(&f->sp, SPOOL_HOLD, 0, &ids), 0);
    assert_int_equal(ids.n, 0);
    /* an unreadable directory */
    spool_init(&bad, "/nonexistent/tern");
    assert_int_equal(spool_list(&bad, SPOOL_INCOMING, 0, &ids), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(ids.n, 0);
    spool_close(&bad);
    qfile_abort(w);
}

static void test_purge_temp(void **state)
{
    struct fixture *f = *state;
    qfile_writer *live, *stale;
    char qid[QID_SIZE], *bytes;
    size_t temps;

    (void)commit_small(f, qid, &bytes);
    free(bytes);
    f->sp.tmpfile = -1;                 /* named temporaries, as without O_TMPFILE */
    stale = qfile_create(&f->sp, SPOOL_MAILDROP, 0644, &f->why);
    live = qfile_create(&f->sp, SPOOL_MAILDROP, 0644, &f->why);
    assert_non_null(stale);
    assert_non_null(live);
    /* Only temporaries older than the cut-off go; nothing younger. */
    assert_int_equal(spool_purge_temp(&f->sp, SPOOL_MAILDROP, 1), 0);
    assert_int_equal(count_dir(f, SPOOL_MAILDROP, &temps), 0);
    assert_int_equal(temps, 2);
    assert_int_equal(spool_purge_temp(&f->sp, SPOOL_MAILDROP, 0), 2);
    assert_int_equal(count_dir(f, SPOOL_MAILDROP, &temps), 0);
    assert_int_equal(temps, 0);
    assert_int_equal(spool_purge_temp(&f->sp, SPOOL_INCOMING, 0), 0);
    assert_int_equal(count_dir(f, SPOOL_INCOMING, NULL), 1);   /* committed stays */
    qfile_abort(stale);                 /* already gone: no error */
    qfile_abort(live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup_named, teardown),
        cmocka_unit_test_setup_teardown(test_commit_into_hold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_into_hold, setup_named,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_rcpts_null_sender_and_marking,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_content_streamed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quarantine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_misuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_limits_and_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_layout_and_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purge_temp, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
