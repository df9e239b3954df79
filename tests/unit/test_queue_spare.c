/*
 * Unit tests for spare/ (queue/spool.c spool_spare_*, queue/qfile.c): a
 * finished message's file is emptied and recycled, a writer of incoming/
 * takes it back under a fresh queue ID; strangers in spare/ (symlink,
 * hard link, directory, FIFO, another user's file) are removed and never
 * written through; concurrent takers never share a file; a missing
 * spare/ falls back to new files; the bound is kept; a dead writer's
 * claimed file is reused, a live one's is not.
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
#include <sys/wait.h>
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
    int fd_spare;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));

    tu_tmpdir(f->top, sizeof(f->top), "/tmp/tern-spare-XXXXXX");
    sb_init(&f->why, 1024);
    assert_int_equal(spool_create(f->top, &f->why), 0);
    spool_init(&f->sp, f->top);
    qid_gen_init(&f->gen, true);
    f->fd_spare = spool_dirfd(&f->sp, SPOOL_SPARE);
    assert_true(f->fd_spare >= 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    spool_close(&f->sp);
    tu_rm_rf(f->top);
    sb_release(&f->why);
    free(f);
    return 0;
}

/* write_msg - one message through the writer into incoming/; its ID. */
static void write_msg(struct fixture *f, const char *body, char *qid)
{
    qfile_env env = {.sender = "a@example.com", .arrival = {1700000000, 0}};
    qfile_rcpt r = {.address = "b@example.com"};
    qfile_writer *w = qfile_create(&f->sp, SPOOL_INCOMING, 0600, &f->why);

    assert_non_null(w);
    assert_int_equal(qfile_put_env(w, &env), 0);
    assert_int_equal(qfile_add_rcpt(w, &r), 0);
    assert_int_equal(qfile_write_content(w, body, strlen(body)), 0);
    assert_int_equal(qfile_commit(w, &f->gen, qid, QID_SIZE), 0);
}

/* ino_of - the inode of dir/name (0 when missing). */
static ino_t ino_of(struct fixture *f, enum spool_dir dir, const char *name,
                    struct stat *out)
{
    struct stat st;

    if (fstatat(spool_dirfd(&f->sp, dir), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return 0;
    if (out)
        *out = st;
    return st.st_ino;
}

/* count_names - entries of a spool directory (dot names left out). */
static size_t count_names(struct fixture *f, enum spool_dir dir)
{
    int fd = openat(spool_dirfd(&f->sp, dir), ".", O_RDONLY | O_DIRECTORY);
    DIR *d = fdopendir(fd);
    struct dirent *de;
    size_t n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* put_file - an empty plain file spare/name (as qmgr leaves one). */
static void put_file(struct fixture *f, const char *name)
{
    int fd = openat(f->fd_spare, name, O_WRONLY | O_CREAT | O_EXCL, 0600);

    assert_true(fd >= 0);
    assert_int_equal(close(fd), 0);
}

/* spare_name - a queue-ID-shaped name for a spare file. */
static void spare_name(struct fixture *f, unsigned n, char *buf)
{
    assert_int_equal(qid_next(&f->gen, 1000000 + n, buf, QID_SIZE), 0);
}

/* fresh_view - a new process's view of the spool (no remembered state). */
static void fresh_view(struct fixture *f)
{
    spool_close(&f->sp);
    spool_init(&f->sp, f->top);
    f->fd_spare = spool_dirfd(&f->sp, SPOOL_SPARE);
}

/* A delivered file goes to spare/ emptied; the next writer reuses it. */
static void test_put_then_take(void **state)
{
    struct fixture *f = *state;
    char qid[QID_SIZE], qid2[QID_SIZE];
    struct stat st;
    qfile_msg *m;
    strbuf why;
    ino_t ino;

    write_msg(f, "first message\n", qid);
    ino = ino_of(f, SPOOL_INCOMING, qid, NULL);
    assert_int_equal(spool_move(&f->sp, qid, SPOOL_INCOMING, SPOOL_ACTIVE), 0);
    assert_int_equal(qfile_recycle_nosync(&f->sp, SPOOL_ACTIVE, qid, false), 0);
    assert_int_equal(ino_of(f, SPOOL_ACTIVE, qid, NULL), 0);
    assert_int_equal(ino_of(f, SPOOL_SPARE, qid, &st), ino);
    assert_int_equal(st.st_size, 0);                /* no old content */
    fresh_view(f);          /* the first writer found spare/ empty: 100 ms */
    write_msg(f, "second message\n", qid2);
    assert_string_not_equal(qid, qid2);             /* a fresh ID */
    assert_int_equal(ino_of(f, SPOOL_INCOMING, qid2, &st), ino);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(count_names(f, SPOOL_SPARE), 0);
    sb_reset(&f->why);
    assert_int_equal(spool_path(&f->sp, SPOOL_INCOMING, qid2, &f->why), 0);
    sb_init(&why, 512);
    assert_int_equal(qfile_open(sb_str(&f->why), O_RDONLY, &m, &why), QFILE_OK);
    assert_int_equal(m->content_size, strlen("second message\n"));
    qfile_close(m);
    sb_release(&why);
}

/* A recycled file is emptied if it is not (a put lost its truncate). */
static void test_take_nonempty(void **state)
{
    struct fixture *f = *state;
    char name[QID_SIZE], qid[QID_SIZE];
    struct stat st;
    ino_t ino;
    int fd;

    spare_name(f, 1, name);
    fd = openat(f->fd_spare, name, O_WRONLY | O_CREAT | O_EXCL, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "OLD SECRET CONTENT", 18), 18);
    assert_int_equal(close(fd), 0);
    ino = ino_of(f, SPOOL_SPARE, name, NULL);
    write_msg(f, "x\n", qid);
    assert_int_equal(ino_of(f, SPOOL_INCOMING, qid, &st), ino);
    assert_int_equal(st.st_mode & 07777, 0600);     /* mode of the writer */
    assert_int_equal(count_names(f, SPOOL_SPARE), 0);
    {
        char buf[4096];
        int rfd = openat(spool_dirfd(&f->sp, SPOOL_INCOMING), qid, O_RDONLY);
        ssize_t n = read(rfd, buf, sizeof(buf));

        assert_true(n > 0);
        assert_null(memmem(buf, (size_t)n, "SECRET", 6));
        close(rfd);
    }
}

/* An aborted writer leaves nothing in spare/ or incoming/. */
static void test_take_abort(void **state)
{
    struct fixture *f = *state;
    char name[QID_SIZE];
    qfile_writer *w;

    spare_name(f, 2, name);
    put_file(f, name);
    w = qfile_create(&f->sp, SPOOL_INCOMING, 0600, &f->why);
    assert_non_null(w);
    assert_int_equal(count_names(f, SPOOL_SPARE), 1);   /* claimed tmp.* */
    qfile_abort(w);
    assert_int_equal(count_names(f, SPOOL_SPARE), 0);
    assert_int_equal(count_names(f, SPOOL_INCOMING), 0);
}

/* maildrop/ writers never take from spare/. */
static void test_maildrop_no_take(void **state)
{
    struct fixture *f = *state;
    char name[QID_SIZE];
    qfile_writer *w;

    spare_name(f, 3, name);
    put_file(f, name);
    w = qfile_create(&f->sp, SPOOL_MAILDROP, 0644, &f->why);
    assert_non_null(w);
    qfile_abort(w);
    assert_int_not_equal(ino_of(f, SPOOL_SPARE, name, NULL), 0);
}

static int warnings;

static void count_warn(enum msg_level level, const char *text, void *ctx)
{
    (void)ctx;
    (void)text;
    if (level == MSG_WARN)
        warnings++;
}

/* stranger kinds placed in spare/ */
enum stranger { S_SYMLINK, S_HARDLINK, S_DIR, S_FIFO, S_OTHER_USER };

/* make_stranger - put one under a queue-ID name; false if not possible. */
static bool make_stranger(struct fixture *f, enum stranger kind,
                          const char *name, const char *victim)
{
    int fd;

    switch (kind) {
    case S_SYMLINK:
        return symlinkat(victim, f->fd_spare, name) == 0;
    case S_HARDLINK:
        return linkat(AT_FDCWD, victim, f->fd_spare, name, 0) == 0;
    case S_DIR:
        return mkdirat(f->fd_spare, name, 0700) == 0;
    case S_FIFO:
        return mkfifoat(f->fd_spare, name, 0600) == 0;
    case S_OTHER_USER:
        if (geteuid() != 0)
            return false;
        fd = openat(f->fd_spare, name, O_WRONLY | O_CREAT | O_EXCL, 0600);
        return fd >= 0 && write(fd, "theirs", 6) == 6 && fchown(fd, 65534, 65534) == 0
            && close(fd) == 0;
    }
    return false;
}

/* Strangers in spare/ are removed, never written; a new file is used. */
static void test_take_rejects(void **state)
{
    struct fixture *f = *state;
    static const enum stranger kinds[] = {S_SYMLINK, S_HARDLINK, S_DIR,
                                          S_FIFO, S_OTHER_USER};
    char victim[128], name[QID_SIZE], qid[QID_SIZE], buf[64];

    assert_int_equal(fmt_fixed(victim, sizeof(victim), "%s/victim", f->top), 0);
    msg_set_capture(count_warn, NULL);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        int fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "precious", 8), 8);
        assert_int_equal(close(fd), 0);
        spare_name(f, 10 + (unsigned)i, name);
        if (!make_stranger(f, kinds[i], name, victim))
            continue;                   /* not root: no other user */
        warnings = 0;
        write_msg(f, "hello\n", qid);
        assert_int_equal(warnings, 1);
        assert_int_equal(count_names(f, SPOOL_SPARE), 0);
        assert_int_not_equal(ino_of(f, SPOOL_INCOMING, qid, NULL), 0);
        fd = open(victim, O_RDONLY);
        assert_true(fd >= 0);
        assert_int_equal(read(fd, buf, sizeof(buf)), 8);  /* untouched */
        assert_int_equal(close(fd), 0);
        assert_int_equal(unlink(victim), 0);
        fresh_view(f);      /* the empty spare/ is not re-read for 100 ms */
    }
    msg_set_capture(NULL, NULL);
}

/* put refuses a file with another name: it is unlinked, the other kept. */
static void test_put_rejects_hardlink(void **state)
{
    struct fixture *f = *state;
    char qid[QID_SIZE], other[128];
    struct stat st;

    write_msg(f, "linked\n", qid);
    assert_int_equal(spool_move(&f->sp, qid, SPOOL_INCOMING, SPOOL_ACTIVE), 0);
    assert_int_equal(fmt_fixed(other, sizeof(other), "%s/other", f->top), 0);
    assert_int_equal(linkat(spool_dirfd(&f->sp, SPOOL_ACTIVE), qid, AT_FDCWD,
                            other, 0), 0);
    assert_int_equal(spool_spare_put(&f->sp, SPOOL_ACTIVE, qid), -1);
    assert_int_equal(qfile_recycle_nosync(&f->sp, SPOOL_ACTIVE, qid, false), 0);
    assert_int_equal(ino_of(f, SPOOL_ACTIVE, qid, NULL), 0);
    assert_int_equal(count_names(f, SPOOL_SPARE), 0);
    assert_int_equal(stat(other, &st), 0);
    assert_true(st.st_size > 0);
    assert_int_equal(unlink(other), 0);
    /* hostile names: nothing done */
    assert_int_equal(spool_spare_put(&f->sp, SPOOL_ACTIVE, "../x"), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(spool_spare_put(&f->sp, SPOOL_ACTIVE, "tmp.1.2"), -1);
}

/* The reason file goes only when asked, as with qfile_remove_nosync. */
static void test_recycle_reasons(void **state)
{
    struct fixture *f = *state;
    char qid[QID_SIZE];

    for (int reasons = 0; reasons < 2; reasons++) {
        write_msg(f, "r\n", qid);
        assert_int_equal(spool_move(&f->sp, qid, SPOOL_INCOMING,
                                    SPOOL_ACTIVE), 0);
        int fd = openat(spool_dirfd(&f->sp, SPOOL_DEFER), qid,
                        O_WRONLY | O_CREAT, 0600);

        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(qfile_recycle_nosync(&f->sp, SPOOL_ACTIVE, qid,
                                              reasons), 0);
        assert_int_equal(ino_of(f, SPOOL_DEFER, qid, NULL) == 0, reasons);
        (void)unlinkat(spool_dirfd(&f->sp, SPOOL_DEFER), qid, 0);
    }
}

/* Four processes take 50 each from 100 files: none taken twice. */
static void test_concurrent_takers(void **state)
{
    struct fixture *f = *state;
    char name[QID_SIZE];
    int p[2];
    pid_t kids[4];
    ino_t got[200];
    size_t ngot = 0;
    ssize_t n;

    for (unsigned i = 0; i < 100; i++) {
        spare_name(f, 100 + i, name);
        put_file(f, name);
    }
    assert_int_equal(pipe(p), 0);
    for (int k = 0; k < 4; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            spool sp;
            char tmp[64];
            struct stat st;

            close(p[0]);
            spool_init(&sp, f->top);
            for (int i = 0; i < 50; i++) {
                int fd = spool_spare_take(&sp, 0600, tmp, sizeof(tmp));

                if (fd < 0)
                    continue;
                if (fstat(fd, &st) == 0
                    && write(p[1], &st.st_ino, sizeof(st.st_ino)) < 0)
                    _exit(2);
                close(fd);
            }
            spool_close(&sp);
            _exit(0);
        }
    }
    close(p[1]);
    while (ngot < 200 && (n = read(p[0], &got[ngot], sizeof(got[0]))) > 0)
        ngot++;
    close(p[0]);
    for (int k = 0; k < 4; k++) {
        int status;

        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_int_equal(ngot, 100);        /* every file, each once */
    for (size_t i = 0; i < ngot; i++)
        for (size_t j = i + 1; j < ngot; j++)
            assert_true(got[i] != got[j]);
    /* every file taken is under a claimed tmp.* name, none lost */
    assert_int_equal(count_names(f, SPOOL_SPARE), 100);
}

/* Without spare/ (an older spool) writers and removal work as before. */
static void test_spare_missing(void **state)
{
    struct fixture *f = *state;
    char path[128], qid[QID_SIZE];

    spool_close(&f->sp);
    assert_int_equal(fmt_fixed(path, sizeof(path), "%s/spare", f->top), 0);
    assert_int_equal(rmdir(path), 0);
    spool_init(&f->sp, f->top);
    write_msg(f, "no spare\n", qid);
    assert_int_equal(spool_move(&f->sp, qid, SPOOL_INCOMING, SPOOL_ACTIVE), 0);
    assert_int_equal(spool_spare_put(&f->sp, SPOOL_ACTIVE, qid), -1);
    assert_int_equal(qfile_recycle_nosync(&f->sp, SPOOL_ACTIVE, qid, false), 0);
    assert_int_equal(count_names(f, SPOOL_ACTIVE), 0);
    write_msg(f, "again\n", qid);
    assert_int_equal(count_names(f, SPOOL_INCOMING), 1);
    assert_int_equal(mkdir(path, 0700), 0);     /* teardown's tree */
}

/* spare/ holds at most SPOOL_SPARE_MAX files; past that, unlink. */
static void test_bound(void **state)
{
    struct fixture *f = *state;
    char name[QID_SIZE], qid[QID_SIZE];

    for (unsigned i = 0; i < SPOOL_SPARE_MAX - 1; i++) {
        spare_name(f, 1000 + i, name);
        put_file(f, name);
    }
    for (int i = 0; i < 2; i++) {
        write_msg(f, "bound\n", qid);
        /* the writer took one: put two back to reach the bound */
        spare_name(f, 5000 + (unsigned)i, name);
        put_file(f, name);
        assert_int_equal(spool_move(&f->sp, qid, SPOOL_INCOMING,
                                    SPOOL_ACTIVE), 0);
        assert_int_equal(qfile_recycle_nosync(&f->sp, SPOOL_ACTIVE, qid,
                                              false), 0);
        assert_int_equal(ino_of(f, SPOOL_SPARE, qid, NULL) != 0, i == 0);
        assert_int_equal(count_names(f, SPOOL_ACTIVE), 0);
    }
    assert_int_equal(count_names(f, SPOOL_SPARE), SPOOL_SPARE_MAX);
}

/* A dead writer's claimed file is reused after a minute; a live one's not. */
static void test_stale_claims(void **state)
{
    struct fixture *f = *state;
    char dead[64], live[64], qid[QID_SIZE];
    struct timespec old[2] = {{0, 0}, {0, 0}};
    pid_t kid = fork();

    assert_true(kid >= 0);
    if (kid == 0)
        _exit(0);
    assert_int_equal(waitpid(kid, NULL, 0), kid);
    assert_int_equal(fmt_fixed(dead, sizeof(dead), "tmp.%ld.1.s0", (long)kid), 0);
    assert_int_equal(fmt_fixed(live, sizeof(live), "tmp.%ld.1.s0",
                               (long)getpid()), 0);
    old[0].tv_sec = old[1].tv_sec = time(NULL) - 120;
    put_file(f, dead);
    put_file(f, live);
    assert_int_equal(utimensat(f->fd_spare, dead, old, 0), 0);
    assert_int_equal(utimensat(f->fd_spare, live, old, 0), 0);
    write_msg(f, "stale\n", qid);
    assert_int_equal(ino_of(f, SPOOL_SPARE, dead, NULL), 0);    /* reused */
    assert_int_not_equal(ino_of(f, SPOOL_SPARE, live, NULL), 0);
    assert_int_equal(count_names(f, SPOOL_SPARE), 1);
}

/* An emptied file that comes back (a lost put) is malformed, not a crash. */
static void test_empty_file_is_corrupt(void **state)
{
    struct fixture *f = *state;
    char qid[QID_SIZE];
    qfile_msg *m = NULL;
    int fd;

    write_msg(f, "will be emptied\n", qid);
    fd = openat(spool_dirfd(&f->sp, SPOOL_INCOMING), qid, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 0), 0);
    sb_reset(&f->why);
    assert_int_equal(qfile_read_fd(fd, &m, &f->why), QFILE_ECORRUPT);
    assert_null(m);
    close(fd);
    assert_int_equal(qfile_quarantine(&f->sp, SPOOL_INCOMING, qid,
                                      sb_str(&f->why)), 0);
    assert_int_not_equal(ino_of(f, SPOOL_CORRUPT, qid, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_then_take, setup, teardown),
        cmocka_unit_test_setup_teardown(test_take_nonempty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_take_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maildrop_no_take, setup, teardown),
        cmocka_unit_test_setup_teardown(test_take_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_rejects_hardlink, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recycle_reasons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_takers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spare_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_file_is_corrupt, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
