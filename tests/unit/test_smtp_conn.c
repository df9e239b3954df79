/*
 * Unit tests for smtp/smtp_conn: the client's connect helper against
 * loopback listeners the test opens itself. A TCP connection comes back
 * connected, blocking and with TCP_NODELAY set (the end of a message must
 * not wait for the server's delayed ACK); refusals and bad bind addresses
 * come back as -1 with the system's words. No outside network is used.
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
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/strbuf.h"
#include "smtp/smtp_conn.h"

#define CONNECT_MS 5000

/* listener - a loopback TCP listener (family AF_INET or AF_INET6); port. */
static int listener(int family, unsigned *port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd = socket(family, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = in6addr_loopback;
        len = sizeof(*sin6);
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4) < 0
        || getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        (void)close(fd);
        return -1;              /* e.g. no IPv6 loopback here */
    }
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                  : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

/* loopback - the dns_addr of 127.0.0.1 or ::1. */
static dns_addr loopback(int family)
{
    dns_addr a;

    memset(&a, 0, sizeof(a));
    a.family = family;
    if (family == AF_INET) {
        const unsigned char v4[4] = {127, 0, 0, 1};

        memcpy(a.bytes, v4, sizeof(v4));
    } else {
        memcpy(a.bytes, &in6addr_loopback, 16);
    }
    return a;
}

/* sockopt - an int socket option of fd. */
static int sockopt(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);

    assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

/* One connect and what must come of it. */
struct conn_case {
    int family;
    bool listening;             /* else the port is closed: refused */
    const char *bind4, *bind6;
    const char *why;            /* expected failure text; NULL: connected */
};

static const struct conn_case conn_cases[] = {
    {AF_INET, true, "", "", NULL},
    {AF_INET, true, NULL, NULL, NULL},
    {AF_INET, true, "127.0.0.1", "", NULL},
    {AF_INET6, true, "", "", NULL},
    {AF_INET6, true, "127.0.0.1", "::1", NULL},
    {AF_INET, false, "", "", "Connection refused"},
    {AF_INET6, false, "", "", "Connection refused"},
    {AF_INET, true, "not-an-address", "", "bind not-an-address: Invalid argument"},
    {AF_INET6, true, "", "::1::", "bind ::1::: Invalid argument"},
};

/* TCP connects: connected, blocking, TCP_NODELAY on; failures say why. */
static void test_conn_inet(void **state)
{
    strbuf why;

    (void)state;
    sb_init(&why, 512);
    for (size_t i = 0; i < sizeof(conn_cases) / sizeof(conn_cases[0]); i++) {
        const struct conn_case *c = &conn_cases[i];
        dns_addr a = loopback(c->family);
        unsigned port = 0;
        int lfd = listener(c->family, &port), fd, acc;

        if (lfd < 0 && c->family == AF_INET6)
            continue;           /* no IPv6 loopback on this machine */
        assert_true(lfd >= 0);
        if (!c->listening)
            assert_int_equal(close(lfd), 0);    /* port now closed */
        sb_reset(&why);
        fd = smtp_conn_inet(&a, port, c->bind4, c->bind6, CONNECT_MS, &why);
        if (c->why) {
            assert_int_equal(fd, -1);
            assert_string_equal(sb_str(&why), c->why);
        } else {
            assert_true(fd >= 0);
            assert_int_equal(sockopt(fd, IPPROTO_TCP, TCP_NODELAY) != 0, 1);
            assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
            assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
            acc = accept(lfd, NULL, NULL);      /* it really connected */
            assert_true(acc >= 0);
            assert_int_equal(write(fd, "EHLO x\r\n", 8), 8);
            {
                char buf[8];

                assert_int_equal(read(acc, buf, sizeof(buf)), 8);
                assert_memory_equal(buf, "EHLO x\r\n", 8);
            }
            assert_int_equal(close(acc), 0);
            assert_int_equal(close(fd), 0);
        }
        if (c->listening)
            assert_int_equal(close(lfd), 0);
    }
    sb_release(&why);
}

/* UNIX-domain connects work (no TCP option to set) and refuse cleanly. */
static void test_conn_unix(void **state)
{
    char dir[] = "/tmp/tern-smtpconn-XXXXXX", path[128];
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    strbuf why;
    int lfd, fd;

    (void)state;
    sb_init(&why, 512);
    assert_non_null(mkdtemp(dir));
    assert_int_equal(fmt_fixed(path, sizeof(path), "%s/lmtp", dir), 0);
    assert_true(strlen(path) < sizeof(sun.sun_path));
    memcpy(sun.sun_path, path, strlen(path) + 1);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(listen(lfd, 4), 0);
    fd = smtp_conn_unix(path, CONNECT_MS, &why);
    assert_true(fd >= 0);
    assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    assert_int_equal(close(fd), 0);
    assert_int_equal(close(lfd), 0);
    assert_int_equal(unlink(path), 0);
    sb_reset(&why);
    assert_int_equal(smtp_conn_unix(path, CONNECT_MS, &why), -1);
    assert_string_equal(sb_str(&why), "No such file or directory");
    assert_int_equal(rmdir(dir), 0);
    sb_release(&why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conn_inet),
        cmocka_unit_test(test_conn_unix),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
