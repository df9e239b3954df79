/*
 * Unit tests for the queue-file commit (qfile_commit, qfile_commit_into):
 * the order rename -> fsync file -> fsync directory. After 0 the file is
 * in the target directory, whole; a failed sync leaves no name and no
 * temporary behind and is logged; a short file under a queue ID (what a
 * crash inside the commit can leave) is rejected by the reader.
 * A sync failure is simulated with an O_PATH directory descriptor:
 * renames and unlinks work through it, fsync fails with EBADF.
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
    strbuf log;                         /* captured warnings */
};

/* capture - keep warnings for the assertions. */
static void capture(enum msg_level level, const char *text, void *ctx)
{
    struct fixture *f = ctx;

    if (level == MSG_WARN) {
        (void)sb_puts(&f->log, text);
        (void)sb_putc(&f->log, '\n');
    }
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));

    tu_tmpdir(f->top, sizeof(f->top), "/tmp/tern-qcommit-XXXXXX");
    sb_init(&f->why, 1024);
    assert_int_equal(spool_create(f->top, &f->why), 0);
    spool_init(&f->sp, f->top);
    qid_gen_init(&f->gen, true);
    sb_init(&f->path, 4096);
    sb_init(&f->log, 65536);
    msg_set_flags(0);
    msg_set_capture(capture, f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    msg_set_capture(NULL, NULL);
    spool_close(&f->sp);
    tu_rm_rf(f->top);
    sb_release(&f->why);
    sb_release(&f->path);
    sb_release(&f->log);
    free(f);
    return 0;
}

/* count_dir - names in a spool directory; *temps gets the tmp.* ones. */
static size_t count_dir(struct fixture *f, enum spool_dir dir, size_t *temps)
{
    DIR *dp;
    struct dirent *de;
    size_t n = 0, t = 0;

    assert_int_equal(spool_path(&f->sp, dir, NULL, &f->path), 0);
    dp = opendir(sb_str(&f->path));
    assert_non_null(dp);
    while ((de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (strncmp(de->d_name, SPOOL_TEMP_PREFIX,
                    strlen(SPOOL_TEMP_PREFIX)) == 0)
            t++;
        else if (de->d_type != DT_DIR)
            n++;
    }
    closedir(dp);
    if (temps)
        *temps = t;
    return n;
}

/* start_msg - a writer in incoming/ with a message of `body` bytes. */
static qfile_writer *start_msg(struct fixture *f, spool *sp, size_t body)
{
    qfile_env env = {.sender = "s@example.org", .arrival = {1720480000, 7}};
    qfile_rcpt r = {"r@example.org", NULL, NULL, 0, 0, 0};
    qfile_writer *w = qfile_create(sp, SPOOL_INCOMING, 0600, &f->why);
    char *text = xmalloc(body + 1);

    assert_non_null(w);
    memset(text, 'x', body);
    memcpy(text, "Subject: t\r\n\r\n", 14);
    assert_int_equal(qfile_put_env(w, &env), 0);
    assert_int_equal(qfile_add_rcpt(w, &r), 0);
    assert_int_equal(qfile_write_content(w, text, body), 0);
    free(text);
    return w;
}

/* path_fd - an O_PATH descriptor of a spool directory: no fsync through it. */
static int path_fd(struct fixture *f, enum spool_dir dir)
{
    int fd;

    assert_int_equal(spool_path(&f->sp, dir, NULL, &f->path), 0);
    fd = open(sb_str(&f->path), O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

/* After 0 the whole file is in the target directory under its ID. */
static void test_commit_names_whole_file(void **state)
{
    struct fixture *f = *state;
    const struct {
        enum spool_dir to;
        bool reserve;
        size_t body;
    } cases[] = {
        {SPOOL_INCOMING, false, 20}, {SPOOL_INCOMING, true, 20},
        {SPOOL_INCOMING, false, 300000}, {SPOOL_HOLD, true, 4096},
        {SPOOL_HOLD, false, 4096},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char qid[QID_SIZE], early[QID_SIZE] = "";
        qfile_writer *w = start_msg(f, &f->sp, cases[i].body);
        qfile_msg *m;
        size_t temps;

        if (cases[i].reserve)
            assert_int_equal(qfile_reserve_id(w, &f->gen, early,
                                              sizeof(early)), 0);
        assert_int_equal(qfile_commit_into(w, cases[i].to, &f->gen, qid,
                                           sizeof(qid)), 0);
        if (cases[i].reserve)
            assert_string_equal(qid, early);
        assert_int_equal(count_dir(f, cases[i].to, &temps), 1);
        assert_int_equal(temps, 0);
        if (cases[i].to != SPOOL_INCOMING)
            assert_int_equal(count_dir(f, SPOOL_INCOMING, &temps), 0);
        assert_int_equal(temps, 0);
        assert_int_equal(spool_path(&f->sp, cases[i].to, qid, &f->path), 0);
        assert_int_equal(qfile_open(sb_str(&f->path), O_RDONLY, &m, &f->why),
                         QFILE_OK);
        assert_int_equal(m->content_size, cases[i].body);
        assert_int_equal(m->nrcpt, 1);
        qfile_close(m);
        assert_int_equal(qfile_remove(&f->sp, cases[i].to, qid), 0);
    }
    assert_string_equal(sb_str(&f->log), "");
}

/* A failed sync of the file's directory: -1, no name, no temporary, a log line. */
static void test_commit_sync_failure_leaves_nothing(void **state)
{
    struct fixture *f = *state;
    const struct {
        enum spool_dir to;
        bool reserve;
    } cases[] = {
        {SPOOL_INCOMING, false}, {SPOOL_INCOMING, true},
        {SPOOL_HOLD, false}, {SPOOL_HOLD, true},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char qid[QID_SIZE], early[QID_SIZE];
        qfile_writer *w;
        size_t temps;
        spool sp;

        spool_init(&sp, f->top);
        sp.dirfd[cases[i].to] = path_fd(f, cases[i].to);
        w = start_msg(f, &sp, 100);
        if (cases[i].reserve)
            assert_int_equal(qfile_reserve_id(w, &f->gen, early,
                                              sizeof(early)), 0);
        sb_reset(&f->log);
        assert_int_equal(qfile_commit_into(w, cases[i].to, &f->gen, qid,
                                           sizeof(qid)), -1);
        spool_close(&sp);
        assert_int_equal(count_dir(f, cases[i].to, &temps), 0);
        assert_int_equal(temps, 0);
        assert_int_equal(count_dir(f, SPOOL_INCOMING, &temps), 0);
        assert_int_equal(temps, 0);
        assert_non_null(strstr(sb_str(&f->log), "fsync "));
        assert_non_null(strstr(sb_str(&f->log), "Bad file descriptor"));
    }
}

/* A name that a crash left on a short file (no END) is never a message. */
static void test_short_file_under_id_is_rejected(void **state)
{
    struct fixture *f = *state;
    char qid[QID_SIZE];
    qfile_writer *w = start_msg(f, &f->sp, 4096);
    struct stat st;
    qfile_msg *m;

    assert_int_equal(qfile_commit(w, &f->gen, qid, sizeof(qid)), 0);
    assert_int_equal(spool_path(&f->sp, SPOOL_INCOMING, qid, &f->path), 0);
    assert_int_equal(stat(sb_str(&f->path), &st), 0);
    /* what delayed allocation may leave: less than was written, or nothing */
    const off_t cut[] = {st.st_size - 1, st.st_size - 5, st.st_size / 2,
                         64, 5, 1, 0};

    assert_int_equal(qfile_open(sb_str(&f->path), O_RDONLY, &m, &f->why),
                     QFILE_OK);
    qfile_close(m);
    for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
        assert_int_equal(truncate(sb_str(&f->path), cut[i]), 0);
        assert_int_equal(qfile_open(sb_str(&f->path), O_RDONLY, &m, &f->why),
                         QFILE_ECORRUPT);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_names_whole_file,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_sync_failure_leaves_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_file_under_id_is_rejected,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
