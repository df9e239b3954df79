/*
 * Unit tests for common/msg's log lines in maillog_file: each line names
 * the process that wrote it - the pid msg caches is the child's after a
 * fork, not the parent's - and control bytes in the text are neutralised.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/strbuf.h"

/* read_log - the whole log file. */
static void read_log(const char *path, strbuf *out)
{
    char buf[4096];
    ssize_t n;
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    sb_reset(out);
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        assert_int_equal(sb_append(out, buf, (size_t)n), 0);
    assert_int_equal(n, 0);
    close(fd);
}

/* expect_line - the log holds "ident[pid]: text". */
static void expect_line(const strbuf *log, long pid, const char *text)
{
    char want[256];

    assert_int_equal(fmt_fixed(want, sizeof(want), "tern/msgtest[%ld]: %s\n",
                               pid, text), 0);
    if (strstr(sb_str(log), want) == NULL)
        fail_msg("no line \"%s\" in:\n%s", want, sb_str(log));
}

static void test_pid_after_fork(void **state)
{
    char path[] = "/tmp/tern-msg-XXXXXX";
    int fd = mkstemp(path), status;
    strbuf log;
    pid_t child, grandchild;

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    sb_init(&log, 65536);
    msg_open("msgtest", MSG_TO_SYSLOG);
    assert_int_equal(msg_set_logfile(path), 0);
    msg_info("parent before");          /* caches the parent's pid */
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        msg_info("child");
        grandchild = fork();            /* a fork of a fork */
        if (grandchild == 0) {
            msg_info("grandchild");
            _exit(0);
        }
        _exit(grandchild > 0 && waitpid(grandchild, &status, 0) == grandchild
              && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    msg_info("parent after\x01");
    read_log(path, &log);
    expect_line(&log, (long)getpid(), "parent before");
    expect_line(&log, (long)child, "child");
    expect_line(&log, (long)getpid(), "parent after?");
    /* the grandchild's line names neither its parent nor ours */
    assert_non_null(strstr(sb_str(&log), "]: grandchild\n"));
    {
        char twice[64];

        assert_int_equal(fmt_fixed(twice, sizeof(twice), "[%ld]: grandchild",
                                   (long)child), 0);
        assert_null(strstr(sb_str(&log), twice));
        assert_int_equal(fmt_fixed(twice, sizeof(twice), "[%ld]: grandchild",
                                   (long)getpid()), 0);
        assert_null(strstr(sb_str(&log), twice));
    }
    assert_int_equal(msg_set_logfile(""), 0);
    msg_set_flags(0);
    sb_release(&log);
    assert_int_equal(unlink(path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pid_after_fork),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
