/* Unit tests for master/master_pid and master/master_listen. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/strbuf.h"
#include "master/master_listen.h"
#include "master/master_pid.h"

/* A temporary directory per test, removed (shallowly) afterwards. */
struct tmp {
    char dir[64];
};

static int tmp_setup(void **state)
{
    struct tmp *t = calloc(1, sizeof(*t));

    assert_non_null(t);
    assert_int_equal(fmt_fixed(t->dir, sizeof(t->dir), "/tmp/ternunit-XXXXXX"), 0);
    assert_non_null(mkdtemp(t->dir));
    *state = t;
    return 0;
}

static int tmp_teardown(void **state)
{
    struct tmp *t = *state;
    char path[128];
    static const char *const names[] = {"master.pid", "sock", "link", NULL};

    for (int i = 0; names[i]; i++) {
        assert_int_equal(fmt_fixed(path, sizeof(path), "%s/%s", t->dir, names[i]), 0);
        (void)unlink(path);
    }
    (void)rmdir(t->dir);
    free(t);
    return 0;
}

/* free_port - a loopback port that was free a moment ago. */
static int free_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    assert_true(fd >= 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    port = ntohs(sin.sin_port);
    close(fd);
    return port;
}

static void test_pid_lock_refuses_second(void **state)
{
    struct tmp *t = *state;
    char path[128], text[32];
    strbuf why;
    pid_t holder, child;
    int fd, status;
    ssize_t n;

    sb_init(&why, 4096);
    assert_int_equal(fmt_fixed(path, sizeof(path), "%s/master.pid", t->dir), 0);
    assert_int_equal(master_pid_query(path, &why), 0);      /* no file yet */
    fd = master_pid_lock(path, &holder, &why);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    n = pread(fd, text, sizeof(text) - 1, 0);
    assert_true(n > 0);
    text[n] = '\0';
    assert_int_equal(strtol(text, NULL, 10), getpid());
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* Another process: the lock is taken, the query names us. */
        int rc = master_pid_lock(path, &holder, &why) == -1
            && holder == getppid()
            && strstr(sb_str(&why), "already running") != NULL
            && master_pid_query(path, &why) == getppid();

        _exit(rc ? 0 : 1);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fd);
    child = fork();
    assert_true(child >= 0);
    if (child == 0)                     /* released: nobody holds it */
        _exit(master_pid_query(path, &why) == 0 ? 0 : 1);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sb_release(&why);
}

static void test_pid_bad_paths(void **state)
{
    struct tmp *t = *state;
    char path[128], link[128];
    strbuf why;
    pid_t holder;

    sb_init(&why, 4096);
    /* A directory that does not exist: a reason, no crash. */
    assert_int_equal(fmt_fixed(path, sizeof(path), "%s/nodir/master.pid", t->dir), 0);
    assert_int_equal(master_pid_lock(path, &holder, &why), -1);
    assert_non_null(strstr(sb_str(&why), "No such file"));
    assert_int_equal(holder, 0);
    /* A symlink planted as the PID file is not followed. */
    assert_int_equal(fmt_fixed(link, sizeof(link), "%s/link", t->dir), 0);
    assert_int_equal(symlink("/etc/passwd", link), 0);
    assert_int_equal(master_pid_lock(link, &holder, &why), -1);
    assert_int_equal(master_pid_query(link, &why), -1);
    sb_release(&why);
}

/* Address keys: what a service listens on, without binding. */
static void test_listen_keys(void **state)
{
    static const char *const all[] = {"all", NULL}, *const v4[] = {"ipv4", NULL},
        *const v6[] = {"ipv6", NULL}, *const loop[] = {"loopback-only", NULL},
        *const two[] = {"127.0.0.1", "127.0.0.2", NULL},
        *const bad[] = {"ipx", NULL};
    static const struct {
        const char *host;
        int port;
        const char *const *ifs, *const *protos;
        const char *key;                /* NULL: error expected */
    } cases[] = {
        {"127.0.0.1", 2525, all, all, "inet 127.0.0.1:2525"},
        {"[::1]", 2525, all, all, "inet [::1]:2525"},
        {NULL, 25, all, v4, "inet 0.0.0.0:25"},
        {NULL, 25, all, v6, "inet [::]:25"},
        {NULL, 25, all, all, "inet 0.0.0.0:25 [::]:25"},
        {NULL, 25, loop, v4, "inet 127.0.0.1:25"},
        {NULL, 25, two, all, "inet 127.0.0.1:25 127.0.0.2:25"},
        {NULL, 25, NULL, v4, "inet 0.0.0.0:25"},
        {"127.0.0.1", 0, all, all, NULL},
        {"127.0.0.1", 65536, all, all, NULL},
        {"127.0.0.1", 25, all, bad, NULL},
    };
    strbuf key, why;

    (void)state;
    sb_init(&key, 4096);
    sb_init(&why, 4096);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = master_listen_inet_key(cases[i].host, cases[i].port,
                                        cases[i].ifs, cases[i].protos, &key, &why);

        if (cases[i].key) {
            assert_int_equal(rc, 0);
            assert_string_equal(sb_str(&key), cases[i].key);
        } else {
            assert_int_equal(rc, -1);
            assert_true(sb_len(&why) > 0);
        }
        sb_reset(&why);
    }
    sb_release(&key);
    sb_release(&why);
}

static void test_listen_inet_bind(void **state)
{
    static const char *const all[] = {"all", NULL};
    struct master_listen ls, again;
    int port = free_port();
    char want[64];
    strbuf why;

    (void)state;
    sb_init(&why, 4096);
    assert_int_equal(master_listen_inet(&ls, "127.0.0.1", port, all, all, &why), 0);
    assert_int_equal(ls.nfd, 1);
    assert_true(fcntl(ls.fd[0], F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(ls.fd[0], F_GETFD) & FD_CLOEXEC);
    assert_int_equal(fmt_fixed(want, sizeof(want), "inet 127.0.0.1:%d", port), 0);
    assert_string_equal(ls.key, want);
    /* The same address again: a clear error, nothing left open. */
    assert_int_equal(master_listen_inet(&again, "127.0.0.1", port, all, all, &why), -1);
    assert_non_null(strstr(sb_str(&why), "Address already in use"));
    assert_int_equal(again.nfd, 0);
    master_listen_close(&ls);
    assert_int_equal(ls.nfd, 0);
    sb_release(&why);
}

static void test_listen_unix(void **state)
{
    struct tmp *t = *state;
    struct master_listen ls;
    char path[128], longpath[300];
    struct stat st;
    strbuf why;
    int fd;

    sb_init(&why, 4096);
    assert_int_equal(fmt_fixed(path, sizeof(path), "%s/sock", t->dir), 0);
    fd = open(path, O_CREAT | O_WRONLY, 0600);      /* a stale file is replaced */
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(master_listen_unix(&ls, path, &why), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0666);
    master_listen_close(&ls);
    assert_int_equal(stat(path, &st), -1);          /* unlinked */
    /* Over sun_path's size: refused with a reason. */
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(master_listen_unix(&ls, longpath, &why), -1);
    assert_non_null(strstr(sb_str(&why), "too long"));
    sb_release(&why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pid_lock_refuses_second, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_pid_bad_paths, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_listen_keys),
        cmocka_unit_test(test_listen_inet_bind),
        cmocka_unit_test_setup_teardown(test_listen_unix, tmp_setup, tmp_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
