/* Unit tests for queue/qid: shapes, order, clock steps, bursts, no-replace. */
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
#include <sys/wait.h>
#include <unistd.h>

#include "common/strbuf.h"
#include "common/xalloc.h"
#include "queue/qid.h"
#include "testutil.h"

#define BURST 10000

/* A scripted clock: returns times[i] in turn, the last one forever. */
struct fake_clock {
    const struct timeval *times;
    size_t n, next;
    bool fail;
};

static int fake_clock(void *ctx, struct timeval *tv)
{
    struct fake_clock *fc = ctx;

    if (fc->fail) {
        errno = EIO;
        return -1;
    }
    *tv = fc->times[fc->next < fc->n ? fc->next : fc->n - 1];
    if (fc->next < fc->n)
        fc->next++;
    return 0;
}

static void test_format_shapes(void **state)
{
    static const struct {
        bool long_id;
        int64_t sec;
        int32_t usec;
        uint64_t inode;
        const char *want;
    } cases[] = {
        {true, 1720480000, 123456, 1234567, "4WJ09r0sf8z9HdB"},
        {true, 0, 0, 0, "0000000000z0"},
        {true, 1720480000, 999999, 51, "4WJ09r75plz10"},
        {false, 0, 0x12345, 0xab, "12345AB"},
        {false, 1720480000, 0, 0x3f, "000003F"},
    };
    char buf[QID_SIZE];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(qid_format(cases[i].long_id, cases[i].sec, cases[i].usec,
                                    cases[i].inode, buf, sizeof(buf)), 0);
        assert_string_equal(buf, cases[i].want);
        assert_true(qid_valid(buf));
    }
    /* Fits mailq's columns for any inode below 51^5 / 16^6. */
    assert_int_equal(qid_format(true, 1720480000, 999999, 345025250, buf,
                                sizeof(buf)), 0);
    assert_true(strlen(buf) + 1 <= QID_LONG_COLUMN);
    assert_int_equal(qid_format(false, 0, 999999, 0xffffff, buf, sizeof(buf)), 0);
    assert_true(strlen(buf) + 1 <= QID_SHORT_COLUMN + 1);
    /* The largest inode still fits QID_SIZE. */
    assert_int_equal(qid_format(true, 1720480000, 1, UINT64_MAX, buf, sizeof(buf)), 0);
    assert_true(qid_valid(buf));
    /* Bad input: negative time, microseconds out of range, no room. */
    assert_int_equal(qid_format(true, -1, 0, 1, buf, sizeof(buf)), -1);
    assert_int_equal(qid_format(true, 1, 1000000, 1, buf, sizeof(buf)), -1);
    assert_int_equal(qid_format(true, 1, 1, 1, buf, 8), -1);
    assert_string_equal(buf, "");
}

static void test_valid(void **state)
{
    static const struct {
        const char *s;
        bool ok;
    } cases[] = {
        {"4WJ09r0sf8z9HdB", true},
        {"0000000000z0", true},
        {"8045F2AB23", true},
        {"3B5C44E4B25", true},
        {"", false},
        {"z", false},
        {"../etc/passwd", false},
        {"tmp.123.456.0", false},
        {"8045f2ab23", false},          /* short IDs are upper-case */
        {"8045", false},                /* too short */
        {"4WJ09r0sf8z9HdA", false},     /* vowel */
        {"4WJ09r0sf8z9Hdz", false},     /* 'z' inside the inode part */
        {"4WJ09r0sf8y9HdB", false},     /* separator in the wrong place */
        {"4WJ09r0sf8z", false},         /* no inode */
        {"4WJ09r0sf8z9H/B", false},
        {"4WJ09r0sf8z9H\xc3\xa9", false},
        {"0123456789ABCDEF0123456789ABCDEF0", false},   /* overlong */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (qid_valid(cases[i].s) != cases[i].ok)
            fail_msg("qid_valid(\"%s\") != %d", cases[i].s, cases[i].ok);
    }
}

static void test_sorted_by_time(void **state)
{
    /* Crossing digit boundaries of both fields must keep the order. */
    static const struct {
        int64_t sec;
        int32_t usec;
    } times[] = {
        {1720480000, 0}, {1720480000, 1}, {1720480000, 51}, {1720480000, 52},
        {1720480000, 2703}, {1720480000, 2704}, {1720480000, 999999},
        {1720480001, 0}, {1720480051, 0}, {1720480052, 5}, {2000000000, 0},
    };
    char prev[QID_SIZE] = "", cur[QID_SIZE];

    (void)state;
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        /* Inode order is the opposite of time order: time must win. */
        assert_int_equal(qid_format(true, times[i].sec, times[i].usec,
                                    1000000 - i * 7919, cur, sizeof(cur)), 0);
        if (i > 0 && strcmp(prev, cur) >= 0)
            fail_msg("%s sorts before %s", cur, prev);
        memcpy(prev, cur, sizeof(prev));
    }
}

static void test_clock_step_back(void **state)
{
    static const struct timeval times[] = {
        {1720480000, 500000}, {1720480000, 500000}, {1720480000, 499999},
        {1720470000, 0}, {1720470000, 0}, {1720480000, 999999},
        {1720480000, 999999}, {1720480001, 3}, {1000, 0},
    };
    struct fake_clock fc = {times, sizeof(times) / sizeof(times[0]), 0, false};
    qid_gen gen;
    char ids[16][QID_SIZE];
    size_t n = sizeof(times) / sizeof(times[0]);

    (void)state;
    for (int shape = 0; shape < 2; shape++) {
        qid_gen_init(&gen, shape == 0);
        qid_gen_set_clock(&gen, fake_clock, &fc);
        fc.next = 0;
        for (size_t i = 0; i < n; i++) {
            /* The same inode every time: only the time stamp separates them. */
            assert_int_equal(qid_next(&gen, 4242, ids[i], QID_SIZE), 0);
            assert_true(qid_valid(ids[i]));
            for (size_t j = 0; j < i; j++)
                assert_string_not_equal(ids[i], ids[j]);
            if (shape == 0 && i > 0 && strcmp(ids[i - 1], ids[i]) >= 0)
                fail_msg("%s not after %s", ids[i], ids[i - 1]);
        }
    }
    /* The clock rolled over a second while counting: 999999 + 1us. */
    assert_int_equal(qid_format(true, 1720480001, 0, 4242, ids[15], QID_SIZE), 0);
    qid_gen_init(&gen, true);
    qid_gen_set_clock(&gen, fake_clock, &fc);
    fc.next = 5;
    assert_int_equal(qid_next(&gen, 4242, ids[0], QID_SIZE), 0);
    assert_int_equal(qid_next(&gen, 4242, ids[1], QID_SIZE), 0);
    assert_string_equal(ids[1], ids[15]);
    /* A failing clock is an error, not a made-up ID. */
    fc.fail = true;
    assert_int_equal(qid_next(&gen, 1, ids[0], QID_SIZE), -1);
}

struct tmpdir {
    char path[64];
    int fd;
};

static int tmpdir_setup(void **state)
{
    struct tmpdir *t = xcalloc(1, sizeof(*t));

    tu_tmpdir(t->path, sizeof(t->path), "/tmp/tern-qid-XXXXXX");
    t->fd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(t->fd >= 0);
    *state = t;
    return 0;
}

static int tmpdir_teardown(void **state)
{
    struct tmpdir *t = *state;
    DIR *dp = opendir(t->path);
    struct dirent *de;

    assert_non_null(dp);
    while ((de = readdir(dp)) != NULL)
        if (de->d_name[0] != '.')
            assert_int_equal(unlinkat(t->fd, de->d_name, 0), 0);
    closedir(dp);
    close(t->fd);
    assert_int_equal(rmdir(t->path), 0);
    free(t);
    return 0;
}

/* count_entries - names in a directory other than . and .. */
static size_t count_entries(const char *path)
{
    DIR *dp = opendir(path);
    struct dirent *de;
    size_t n = 0;

    assert_non_null(dp);
    while ((de = readdir(dp)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(dp);
    return n;
}

/* claim_burst - create and claim n files; IDs go to ids (n * QID_SIZE). */
static void claim_burst(int dirfd, qid_gen *gen, const char *tag, size_t n,
                        char (*ids)[QID_SIZE])
{
    char tmp[64];

    for (size_t i = 0; i < n; i++) {
        int fd;

        assert_int_equal(fmt_fixed(tmp, sizeof(tmp), "tmp.%s.%zu", tag, i), 0);
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(qid_claim(gen, dirfd, tmp, fd, ids[i], QID_SIZE), 0);
        close(fd);
    }
}

static int cmp_ids(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_burst_one_process(void **state)
{
    struct tmpdir *t = *state;
    char (*ids)[QID_SIZE] = xcalloc(BURST, QID_SIZE);
    qid_gen gen;

    qid_gen_init(&gen, true);
    claim_burst(t->fd, &gen, "a", BURST, ids);
    for (size_t i = 1; i < BURST; i++)
        if (strcmp(ids[i - 1], ids[i]) >= 0)
            fail_msg("ID %zu (%s) does not sort after %s", i, ids[i], ids[i - 1]);
    assert_int_equal(count_entries(t->path), BURST);
    free(ids);
}

/* burst_child - claim n IDs and write them to the pipe; exit status 0 = ok. */
static void burst_child(int dirfd, int wfd, const char *tag, size_t n)
{
    char (*ids)[QID_SIZE] = xcalloc(n, QID_SIZE);
    qid_gen gen;
    size_t len = n * QID_SIZE, done = 0;

    qid_gen_init(&gen, true);
    claim_burst(dirfd, &gen, tag, n, ids);
    while (done < len) {
        ssize_t w = write(wfd, (char *)ids + done, len - done);

        if (w <= 0)
            _exit(2);
        done += (size_t)w;
    }
    _exit(0);
}

/* read_all - read exactly len bytes from a pipe. */
static void read_all(int fd, void *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t r = read(fd, (char *)buf + done, len - done);

        assert_true(r > 0);
        done += (size_t)r;
    }
}

static void test_burst_two_processes(void **state)
{
    struct tmpdir *t = *state;
    const size_t half = BURST / 2;
    char (*ids)[QID_SIZE] = xcalloc(BURST, QID_SIZE);
    int pipes[2][2];
    pid_t pids[2];
    int status;

    for (int c = 0; c < 2; c++) {
        assert_int_equal(pipe(pipes[c]), 0);
        pids[c] = fork();
        assert_true(pids[c] >= 0);
        if (pids[c] == 0) {
            close(pipes[c][0]);
            burst_child(t->fd, pipes[c][1], c ? "c1" : "c0", half);
        }
        close(pipes[c][1]);
    }
    for (int c = 0; c < 2; c++) {
        read_all(pipes[c][0], ids[c * half], half * QID_SIZE);
        close(pipes[c][0]);
        assert_int_equal(waitpid(pids[c], &status, 0), pids[c]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        for (size_t i = 1; i < half; i++)
            assert_true(strcmp(ids[c * half + i - 1], ids[c * half + i]) < 0);
    }
    qsort(ids, BURST, QID_SIZE, cmp_ids);
    for (size_t i = 1; i < BURST; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0)
            fail_msg("duplicate ID %s", ids[i]);
    assert_int_equal(count_entries(t->path), BURST);
    free(ids);
}

static void test_claim_never_replaces(void **state)
{
    static const struct timeval fixed[] = {{1720480000, 42}};
    struct fake_clock fc = {fixed, 1, 0, false};
    struct tmpdir *t = *state;
    char want[QID_SIZE], got[QID_SIZE], text[16] = "";
    struct stat st;
    qid_gen gen;
    int fd, old;

    qid_gen_init(&gen, true);
    qid_gen_set_clock(&gen, fake_clock, &fc);
    fd = openat(t->fd, "tmp.x", O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    /* A file already holds the name the first attempt would take. */
    assert_int_equal(qid_format(true, 1720480000, 42, st.st_ino, want,
                                sizeof(want)), 0);
    old = openat(t->fd, want, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(old >= 0);
    assert_int_equal(write(old, "precious", 8), 8);
    close(old);
    assert_int_equal(qid_claim(&gen, t->fd, "tmp.x", fd, got, sizeof(got)), 0);
    assert_string_not_equal(got, want);
    assert_true(strcmp(got, want) > 0);
    old = openat(t->fd, want, O_RDONLY);
    assert_true(old >= 0);
    assert_int_equal(read(old, text, sizeof(text) - 1), 8);
    assert_string_equal(text, "precious");
    close(old);
    assert_int_equal(faccessat(t->fd, "tmp.x", F_OK, 0), -1);
    /* A temporary name that is gone is an error, not a new empty file. */
    assert_int_equal(qid_claim(&gen, t->fd, "tmp.x", fd, got, sizeof(got)), -1);
    assert_int_equal(errno, ENOENT);
    close(fd);
}

struct namer {
    int busy;                           /* EEXIST this many times first */
    int other_errno;                    /* then fail with this, if set */
    int calls;
    char last[QID_SIZE];
};

/* namer_try - a stand-in for a no-replace rename or link. */
static int namer_try(void *ctx, const char *id)
{
    struct namer *n = ctx;

    assert_true(qid_valid(id));
    assert_string_not_equal(id, n->last);   /* a fresh ID every time */
    assert_int_equal(fmt_fixed(n->last, sizeof(n->last), "%s", id), 0);
    if (n->calls++ < n->busy) {
        errno = EEXIST;
        return -1;
    }
    if (n->other_errno) {
        errno = n->other_errno;
        return -1;
    }
    return 0;
}

/* qid_claim_by: taken IDs are skipped, other errors stop at once. */
static void test_claim_by(void **state)
{
    struct tmpdir *t = *state;
    char got[QID_SIZE];
    qid_gen gen;
    int fd;

    qid_gen_init(&gen, true);
    fd = openat(t->fd, "f", O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    {
        struct namer n = {.busy = 3};

        assert_int_equal(qid_claim_by(&gen, fd, namer_try, &n, got,
                                      sizeof(got)), 0);
        assert_int_equal(n.calls, 4);
        assert_string_equal(got, n.last);
    }
    {
        struct namer n = {.busy = 1, .other_errno = EACCES};

        assert_int_equal(qid_claim_by(&gen, fd, namer_try, &n, got,
                                      sizeof(got)), -1);
        assert_int_equal(errno, EACCES);
        assert_int_equal(n.calls, 2);
    }
    {
        struct namer n = {.busy = 1 << 20};     /* every ID taken */

        assert_int_equal(qid_claim_by(&gen, fd, namer_try, &n, got,
                                      sizeof(got)), -1);
        assert_int_equal(errno, EEXIST);
        assert_true(n.calls > 1 && n.calls < 1 << 20);
    }
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_shapes),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_sorted_by_time),
        cmocka_unit_test(test_clock_step_back),
        cmocka_unit_test_setup_teardown(test_burst_one_process, tmpdir_setup,
                                        tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_burst_two_processes, tmpdir_setup,
                                        tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_claim_by, tmpdir_setup,
                                        tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_claim_never_replaces, tmpdir_setup,
                                        tmpdir_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
