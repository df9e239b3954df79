/*
 * Unit tests for common/unixconn: unix_connect to a listening socket
 * (blocking and non-blocking) and every refusal: no such path, not a
 * socket, nobody listening, a path too long or empty, unknown flags.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/strbuf.h"
#include "common/unixconn.h"

struct fixture {
    char dir[64];
    char live[128], dead[128], file[128];
    int lfd;
};

/* listen_at - a listening socket bound to path; its fd. */
static int listen_at(const char *path, bool keep)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(fmt_fixed(sun.sun_path, sizeof(sun.sun_path), "%s", path), 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(listen(fd, 4), 0);
    if (!keep) {
        close(fd);
        return -1;
    }
    return fd;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    int fd;

    assert_non_null(f);
    assert_int_equal(fmt_fixed(f->dir, sizeof(f->dir), "/tmp/tern-unix-XXXXXX"), 0);
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(fmt_fixed(f->live, sizeof(f->live), "%s/live", f->dir), 0);
    assert_int_equal(fmt_fixed(f->dead, sizeof(f->dead), "%s/dead", f->dir), 0);
    assert_int_equal(fmt_fixed(f->file, sizeof(f->file), "%s/file", f->dir), 0);
    f->lfd = listen_at(f->live, true);
    (void)listen_at(f->dead, false);     /* the socket file stays, unheard */
    fd = open(f->file, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    close(f->lfd);
    assert_int_equal(unlink(f->live), 0);
    assert_int_equal(unlink(f->dead), 0);
    assert_int_equal(unlink(f->file), 0);
    assert_int_equal(rmdir(f->dir), 0);
    free(f);
    return 0;
}

static void test_connects(void **state)
{
    struct fixture *f = *state;
    const int flags[] = {0, SOCK_NONBLOCK};

    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        int fd = unix_connect(f->live, flags[i]), peer, fl;
        char c = 0;

        assert_true(fd >= 0);
        fl = fcntl(fd, F_GETFL);
        assert_int_equal(!!(fl & O_NONBLOCK), flags[i] == SOCK_NONBLOCK);
        assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        peer = accept(f->lfd, NULL, NULL);
        assert_true(peer >= 0);
        assert_int_equal(write(fd, "x", 1), 1);
        assert_int_equal(read(peer, &c, 1), 1);
        assert_int_equal(c, 'x');
        close(peer);
        close(fd);
    }
}

static void test_refusals(void **state)
{
    struct fixture *f = *state;
    char longpath[200];
    const struct {
        const char *path;
        int flags, err;
    } cases[] = {
        {"/nonexistent/tern/private/qmgr", 0, ENOENT},
        {f->dead, 0, ECONNREFUSED},
        {f->dead, SOCK_NONBLOCK, ECONNREFUSED},
        {f->file, 0, ECONNREFUSED},
        {f->dir, 0, ECONNREFUSED},
        {longpath, 0, ENAMETOOLONG},
        {"", 0, ENOENT},
        {f->live, SOCK_CLOEXEC, EINVAL},
        {f->live, -1, EINVAL},
    };

    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        errno = 0;
        assert_int_equal(unix_connect(cases[i].path, cases[i].flags), -1);
        if (errno != cases[i].err)
            fail_msg("case %zu (%s): errno %d (%s), want %d", i,
                     cases[i].path, errno, strerror(errno), cases[i].err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
