/*
 * Unit tests for local/maildir (Maildir delivery) and virtual_parse_id:
 * unique names, tmp -> new, the added headers, CRLF -> LF across chunk
 * boundaries, 8-bit and NUL bytes, the fsync path, and refusals (missing
 * base, "..", symlinks, mailbox files, bad header values, size limit,
 * content read errors). Everything happens in a fresh temporary directory.
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

#include "common/strbuf.h"
#include "common/xalloc.h"
#include "local/maildir.h"
#include "local/virtual.h"

/* FMT - fmt_fixed into an array, asserting it fits. */
#define FMT(buf, ...) \
    assert_int_equal(fmt_fixed(buf, sizeof(buf), __VA_ARGS__), 0)

/* A content source over a memory buffer; fail_at >= 0 fails there. */
struct src {
    const char *data;
    size_t len;
    long fail_at;
};

static ssize_t src_read(void *ctx, uint64_t pos, void *buf, size_t len)
{
    struct src *s = ctx;

    if (s->fail_at >= 0 && pos >= (uint64_t)s->fail_at) {
        errno = EIO;
        return -1;
    }
    if (pos >= s->len)
        return 0;
    if (len > s->len - pos)
        len = s->len - pos;
    memcpy(buf, s->data + pos, len);
    return (ssize_t)len;
}

/* Per-test fixture: a temporary base directory and a context. */
struct fx {
    char base[64];
    maildir_ctx *m;
    strbuf name, why;
};

static int fx_setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));

    FMT(f->base, "/tmp/tern-maildir-XXXXXX");
    assert_non_null(mkdtemp(f->base));
    f->m = maildir_ctx_new("mx.example:25/x");
    sb_init(&f->name, 4096);
    sb_init(&f->why, 4096);
    *state = f;
    return 0;
}

/* rm_tree - remove a directory tree (bounded depth, no symlink following). */
static void rm_tree(int at, const char *name, int depth)
{
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    DIR *d;
    struct dirent *e;

    if (fd < 0 || depth > 10) {
        if (fd >= 0)
            close(fd);
        (void)unlinkat(at, name, 0);
        return;
    }
    d = fdopendir(fd);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            rm_tree(dirfd(d), e->d_name, depth + 1);
    closedir(d);
    (void)unlinkat(at, name, AT_REMOVEDIR);
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;

    rm_tree(AT_FDCWD, f->base, 0);
    maildir_ctx_free(f->m);
    sb_release(&f->name);
    sb_release(&f->why);
    free(f);
    return 0;
}

/* count_files - regular entries in base/sub ("." entries skipped). */
static int count_files(const struct fx *f, const char *sub)
{
    char path[512];
    DIR *d;
    struct dirent *e;
    int n = 0;

    FMT(path, "%s/%s", f->base, sub);
    d = opendir(path);
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* read_file - the whole of base/rel into a new strbuf. */
static strbuf *read_file(const struct fx *f, const char *rel)
{
    char path[1024], buf[4096];
    strbuf *sb = sb_new(SB_NOLIMIT);
    ssize_t n;
    int fd;

    FMT(path, "%s/%s", f->base, rel);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        assert_int_equal(sb_append(sb, buf, (size_t)n), 0);
    close(fd);
    return sb;
}

/* deliver - maildir_deliver of content to path with the usual envelope. */
static int deliver(struct fx *f, const char *path, const char *data,
                   size_t len, uint64_t limit, int *err)
{
    struct src s = {data, len, -1};
    maildir_msg msg = {"alice@example.org", "", "bob@demo.example", len,
                       src_read, &s, limit};

    return maildir_deliver(f->m, f->base, path, &msg, &f->name, &f->why, err);
}

static void test_tmp_names_unique(void **state)
{
    struct fx *f = *state;
    char **seen = xcalloc(500, sizeof(char *));
    strbuf n;

    sb_init(&n, 1024);
    for (int i = 0; i < 500; i++) {
        assert_int_equal(maildir_tmp_name(f->m, &n), 0);
        /* '/' and ':' of the host name are escaped (Maildir spec) */
        assert_null(strchr(sb_str(&n), '/'));
        assert_null(strchr(sb_str(&n), ':'));
        assert_non_null(strstr(sb_str(&n), ".mx.example\\07225\\057x"));
        for (int j = 0; j < i; j++)
            assert_string_not_equal(seen[j], sb_str(&n));
        seen[i] = xstrdup(sb_str(&n));
    }
    for (int i = 0; i < 500; i++)
        free(seen[i]);
    free(seen);
    sb_release(&n);
}

static void test_deliver_tmp_to_new(void **state)
{
    struct fx *f = *state;
    const char body[] = "Subject: hi\r\n\r\nline 1\r\nline 2\r\n";
    char rel[1024];
    struct stat st;
    strbuf *got;
    int err;

    assert_int_equal(deliver(f, "demo.example/bob/", body, strlen(body), 0,
                             &err), MAILDIR_OK);
    assert_int_equal(strncmp(sb_str(&f->name), "new/", 4), 0);
    assert_non_null(strstr(sb_str(&f->name), ".V"));
    assert_int_equal(count_files(f, "demo.example/bob/new"), 1);
    assert_int_equal(count_files(f, "demo.example/bob/tmp"), 0);
    assert_int_equal(count_files(f, "demo.example/bob/cur"), 0);
    FMT(rel, "%s/demo.example/bob/new", f->base);
    assert_int_equal(stat(rel, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    FMT(rel, "demo.example/bob/%s", sb_str(&f->name));
    got = read_file(f, rel);
    assert_string_equal(sb_str(got),
                        "Return-Path: <alice@example.org>\n"
                        "X-Original-To: bob@demo.example\n"
                        "Delivered-To: bob@demo.example\n"
                        "Subject: hi\n\nline 1\nline 2\n");
    sb_free(got);
    /* a second delivery is a second file */
    assert_int_equal(deliver(f, "demo.example/bob/", body, strlen(body), 0,
                             &err), MAILDIR_OK);
    assert_int_equal(count_files(f, "demo.example/bob/new"), 2);
}

static void test_headers_null_sender_orig(void **state)
{
    struct fx *f = *state;
    struct src s = {"x\r\n", 3, -1};
    maildir_msg msg = {"", "Bob@Demo.Example", "bob@demo.example", 3,
                       src_read, &s, 0};
    char rel[512];
    strbuf *got;
    int err;

    assert_int_equal(maildir_deliver(f->m, f->base, "b/", &msg, &f->name,
                                     &f->why, &err), MAILDIR_OK);
    FMT(rel, "b/%s", sb_str(&f->name));
    got = read_file(f, rel);
    assert_string_equal(sb_str(got), "Return-Path: <>\n"
                        "X-Original-To: Bob@Demo.Example\n"
                        "Delivered-To: bob@demo.example\nx\n");
    sb_free(got);
}

static void test_content_bytes(void **state)
{
    struct fx *f = *state;
    size_t len = 65536 * 2 + 10;
    char *data = xmalloc(len);
    char rel[512];
    strbuf *got;
    size_t hdr;
    int err;

    /* CRLF split across the 64 KiB chunk boundary, lone CRs, NUL, 8-bit */
    memset(data, 'a', len);
    data[65535] = '\r';
    data[65536] = '\n';
    data[100] = '\0';
    data[101] = (char)0xe9;
    data[102] = '\r';                   /* lone CR: kept */
    data[len - 1] = '\r';               /* trailing CR: kept */
    assert_int_equal(deliver(f, "m/", data, len, 0, &err), MAILDIR_OK);
    FMT(rel, "m/%s", sb_str(&f->name));
    got = read_file(f, rel);
    hdr = strlen("Return-Path: <alice@example.org>\nX-Original-To: "
                 "bob@demo.example\nDelivered-To: bob@demo.example\n");
    assert_int_equal(sb_len(got), hdr + len - 1);
    assert_int_equal(sb_str(got)[hdr + 100], '\0');
    assert_int_equal((unsigned char)sb_str(got)[hdr + 101], 0xe9);
    assert_int_equal(sb_str(got)[hdr + 102], '\r');
    assert_int_equal(sb_str(got)[hdr + 65535], '\n');
    assert_int_equal(sb_str(got)[hdr + 65536], 'a');
    assert_int_equal(sb_str(got)[hdr + len - 2], '\r');
    sb_free(got);
    free(data);
}

/* fsync test hooks: count calls, or fail the n-th. */
struct fsync_state {
    int calls;
    int fail_at;                        /* 0 = never */
};
static struct fsync_state *fsync_hook;

static int fsync_counting(int fd)
{
    fsync_hook->calls++;
    if (fsync_hook->fail_at && fsync_hook->calls == fsync_hook->fail_at) {
        errno = EIO;
        return -1;
    }
    return fsync(fd);
}

static void test_fsync_path(void **state)
{
    struct fx *f = *state;
    struct fsync_state st = {0, 0};
    int err, first;

    fsync_hook = &st;
    maildir_set_fsync(f->m, fsync_counting);
    /* new Maildir: parent per created directory (m, tmp, new, cur), file, new/ */
    assert_int_equal(deliver(f, "m/", "x\r\n", 3, 0, &err), MAILDIR_OK);
    first = st.calls;
    assert_int_equal(first, 6);
    /* existing Maildir: the file, then new/ */
    st.calls = 0;
    assert_int_equal(deliver(f, "m/", "x\r\n", 3, 0, &err), MAILDIR_OK);
    assert_int_equal(st.calls, 2);
    /* the file's fsync fails: nothing in new/, tmp/ cleaned */
    st = (struct fsync_state){0, 1};
    assert_int_equal(deliver(f, "m/", "y\r\n", 3, 0, &err), MAILDIR_ESYS);
    assert_int_equal(err, EIO);
    assert_non_null(strstr(sb_str(&f->why), "fsync"));
    /* new/'s fsync fails: the new/ entry is taken back */
    st = (struct fsync_state){0, 2};
    assert_int_equal(deliver(f, "m/", "y\r\n", 3, 0, &err), MAILDIR_ESYS);
    assert_int_equal(count_files(f, "m/new"), 2);
    assert_int_equal(count_files(f, "m/tmp"), 0);
    fsync_hook = NULL;
}

/* One refusal case. */
struct refusal {
    const char *path;
    int status;
    const char *why;                    /* substring of the reason */
};

static void test_refusals(void **state)
{
    static const struct refusal cases[] = {
        {"someone", MAILDIR_EMBOX, "mailbox file"},
        {"", MAILDIR_EMBOX, "mailbox file"},
        {"dir/mbox", MAILDIR_EMBOX, "only Maildir"},
        {"../escape/", MAILDIR_EUNSAFE, "\"..\""},
        {"a/../../escape/", MAILDIR_EUNSAFE, "\"..\""},
        {"a/./b/", MAILDIR_EUNSAFE, "\".\""},
        {"..", MAILDIR_EMBOX, "mailbox file"},
        {"/", MAILDIR_EUNSAFE, "base itself"},
        {"///", MAILDIR_EUNSAFE, "base itself"},
        {"a\nb/", MAILDIR_EUNSAFE, "control"},
        {"a\tb/", MAILDIR_EUNSAFE, "control"},
    };
    struct fx *f = *state;
    char up[512];
    int err;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(deliver(f, cases[i].path, "x", 1, 0, &err),
                         cases[i].status);
        assert_non_null(strstr(sb_str(&f->why), cases[i].why));
    }
    /* nothing was created inside or next to the base */
    assert_int_equal(count_files(f, ""), 0);
    FMT(up, "%s/../escape", f->base);
    assert_int_not_equal(access(up, F_OK), 0);
    /* leading and doubled slashes stay inside the base */
    assert_int_equal(deliver(f, "//x//y/", "x", 1, 0, &err), MAILDIR_OK);
    assert_int_equal(count_files(f, "x/y/new"), 1);
}

static void test_missing_base(void **state)
{
    struct fx *f = *state;
    struct src s = {"x", 1, -1};
    maildir_msg msg = {"a@b", "", "c@d", 1, src_read, &s, 0};
    char base[128];
    int err;

    FMT(base, "%s/nonexistent", f->base);
    assert_int_equal(maildir_deliver(f->m, base, "u/", &msg, &f->name,
                                     &f->why, &err), MAILDIR_EBASE);
    assert_int_equal(err, ENOENT);
    assert_non_null(strstr(sb_str(&f->why), "virtual_mailbox_base"));
    assert_int_not_equal(access(base, F_OK), 0);
}

static void test_symlinks_refused(void **state)
{
    struct fx *f = *state;
    char target[256], link[256];
    int err;

    /* the Maildir itself is a symlink to a directory elsewhere */
    FMT(target, "%s/elsewhere", f->base);
    assert_int_equal(mkdir(target, 0700), 0);
    FMT(link, "%s/user", f->base);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(deliver(f, "user/", "x", 1, 0, &err), MAILDIR_EUNSAFE);
    assert_non_null(strstr(sb_str(&f->why), "symbolic link"));
    assert_int_equal(count_files(f, "elsewhere"), 0);
    /* an intermediate directory is a symlink */
    assert_int_equal(deliver(f, "user/sub/", "x", 1, 0, &err),
                     MAILDIR_EUNSAFE);
    /* new/ inside a real Maildir is a symlink */
    assert_int_equal(deliver(f, "real/", "x", 1, 0, &err), MAILDIR_OK);
    FMT(link, "%s/real/new", f->base);
    rm_tree(AT_FDCWD, link, 0);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(deliver(f, "real/", "x", 1, 0, &err), MAILDIR_EUNSAFE);
    assert_int_equal(count_files(f, "elsewhere"), 0);
    assert_int_equal(count_files(f, "real/tmp"), 0);
    /* a file where a directory should be */
    FMT(link, "%s/plain", f->base);
    err = open(link, O_CREAT | O_WRONLY, 0600);
    assert_true(err >= 0);
    assert_int_equal(close(err), 0);
    assert_int_equal(deliver(f, "plain/", "x", 1, 0, &err), MAILDIR_EUNSAFE);
}

static void test_limit_and_read_errors(void **state)
{
    struct fx *f = *state;
    struct src s = {"abcdef\r\n", 8, 4};
    maildir_msg msg = {"a@b", "", "c@d", 8, src_read, &s, 0};
    int err;

    /* the limit counts the added headers too: hdr + 7 takes 7 more bytes */
    uint64_t hdr = strlen("Return-Path: <alice@example.org>\nX-Original-To: "
                          "bob@demo.example\nDelivered-To: bob@demo.example\n");

    assert_int_equal(deliver(f, "m/", "0123456789", 10, hdr + 7, &err),
                     MAILDIR_EFBIG);
    assert_non_null(strstr(sb_str(&f->why), "virtual_mailbox_limit"));
    assert_int_equal(count_files(f, "m/new"), 0);
    assert_int_equal(count_files(f, "m/tmp"), 0);
    assert_int_equal(deliver(f, "m/", "0123456", 7, hdr + 7, &err),
                     MAILDIR_OK);
    /* the content source fails mid-way */
    s.fail_at = 0;
    assert_int_equal(maildir_deliver(f->m, f->base, "m/", &msg, &f->name,
                                     &f->why, &err), MAILDIR_EREAD);
    /* the content is shorter than announced */
    s.fail_at = -1;
    msg.size = 100;
    assert_int_equal(maildir_deliver(f->m, f->base, "m/", &msg, &f->name,
                                     &f->why, &err), MAILDIR_EREAD);
    assert_int_equal(count_files(f, "m/new"), 1);
    assert_int_equal(count_files(f, "m/tmp"), 0);
}

static void test_bad_header_values(void **state)
{
    static const char *const rcpts[] = {"a\nb@c", "a\rb@c", "", "x\x01@y"};
    struct fx *f = *state;
    struct src s = {"x", 1, -1};
    int err;

    for (size_t i = 0; i < sizeof(rcpts) / sizeof(rcpts[0]); i++) {
        maildir_msg msg = {"a@b", "", rcpts[i], 1, src_read, &s, 0};

        assert_int_equal(maildir_deliver(f->m, f->base, "m/", &msg, &f->name,
                                         &f->why, &err), MAILDIR_EUNSAFE);
    }
    assert_int_equal(count_files(f, "m/new"), 0);
    assert_int_equal(count_files(f, "m/tmp"), 0);
}

static void test_parse_id(void **state)
{
    static const struct {
        const char *text;
        long min;
        bool ok;
        long id;
    } cases[] = {
        {"1000", 100, true, 1000}, {"100", 100, true, 100},
        {"99", 100, false, 0}, {"0", 1, false, 0}, {"", 1, false, 0},
        {"-5", 1, false, 0}, {"12a", 1, false, 0}, {" 12", 1, false, 0},
        {"99999999999999", 1, false, 0}, {"2147483647", 1, true, 2147483647},
        {"2147483648", 1, false, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long id = -1;

        assert_int_equal(virtual_parse_id(cases[i].text, cases[i].min, &id),
                         cases[i].ok);
        if (cases[i].ok)
            assert_int_equal(id, cases[i].id);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tmp_names_unique, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_deliver_tmp_to_new, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_headers_null_sender_orig, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_content_bytes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fsync_path, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_refusals, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_missing_base, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_symlinks_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_limit_and_read_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_header_values, fx_setup, fx_teardown),
        cmocka_unit_test(test_parse_id),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
