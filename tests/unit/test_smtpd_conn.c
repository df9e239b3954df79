/*
 * Unit tests for smtpd's client connection set-up: smtpd_serve over a real
 * loopback TCP connection turns Nagle's algorithm off on the accepted
 * socket (a reply that follows one still unacknowledged must not wait for
 * the client's delayed ACK), and over a UNIX-domain socket serves the same
 * session without a warning. The configuration is a temporary directory
 * (own spool, own hosts file, an unreachable name server that is never
 * asked); the client side is the test, which sends QUIT before smtpd reads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/strbuf.h"
#include "conf/conf.h"
#include "smtpd/smtpd.h"
#include "testutil.h"

#define WAIT_MS 5000

/* The test's configuration directory and what smtpd logged. */
struct lab {
    char dir[64];
    char path[128];
    strbuf warnings;
};

/* capture - keep warnings and worse (a TCP_NODELAY failure would be one). */
static void capture(enum msg_level level, const char *text, void *ctx)
{
    struct lab *l = ctx;

    if (level != MSG_INFO)
        (void)sb_printf(&l->warnings, "%s\n", text);
}

/* lab_ctx - a configuration directory and the smtpd context built from it. */
static smtpd_ctx *lab_ctx(struct lab *l, conf **cf)
{
    strbuf main_cf, why;
    smtpd_ctx *ctx;

    tu_tmpdir(l->dir, sizeof(l->dir), "/tmp/tern-smtpdconn-XXXXXX");
    sb_init(&main_cf, 4096);
    sb_init(&why, 1024);
    sb_init(&l->warnings, SB_NOLIMIT);
    assert_int_equal(sb_printf(&main_cf,
                               "queue_directory = %s/spool\n"
                               "resolver_hosts_file = %s/hosts\n"
                               "resolver_servers = 127.0.0.1:9\n"
                               "myhostname = test.example\n"
                               "smtpd_client_connection_count_limit = 0\n",
                               l->dir, l->dir), 0);
    tu_write_file(l->dir, "main.cf", sb_str(&main_cf));
    tu_write_file(l->dir, "master.cf", "");
    tu_write_file(l->dir, "hosts", "127.0.0.1 localhost\n::1 localhost\n");
    assert_int_equal(fmt_fixed(l->path, sizeof(l->path), "%s/spool", l->dir),
                     0);
    assert_int_equal(mkdir(l->path, 0700), 0);
    *cf = conf_load_main(l->dir);
    assert_non_null(*cf);
    msg_set_capture(capture, l);
    ctx = smtpd_ctx_new(*cf, "smtpd", &why);
    if (ctx == NULL)
        fail_msg("smtpd_ctx_new: %s", sb_str(&why));
    sb_release(&main_cf);
    sb_release(&why);
    return ctx;
}

/* lab_end - free the context and remove the directory. */
static void lab_end(struct lab *l, smtpd_ctx *ctx, conf *cf)
{
    static const char *const names[] = {"main.cf", "master.cf", "hosts"};

    smtpd_ctx_free(ctx);
    conf_free(cf);
    msg_set_capture(NULL, NULL);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_int_equal(fmt_fixed(l->path, sizeof(l->path), "%s/%s", l->dir,
                                   names[i]), 0);
        assert_int_equal(unlink(l->path), 0);
    }
    assert_int_equal(fmt_fixed(l->path, sizeof(l->path), "%s/spool", l->dir),
                     0);
    assert_int_equal(rmdir(l->path), 0);        /* smtpd left nothing there */
    assert_int_equal(rmdir(l->dir), 0);
    sb_release(&l->warnings);
}

/* read_all - what the server sent until it closed or WAIT_MS passed. */
static void read_all(int fd, strbuf *out)
{
    char buf[1024];

    for (int i = 0; i < 100; i++) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;

        if (poll(&p, 1, WAIT_MS) <= 0)
            break;
        if ((n = read(fd, buf, sizeof(buf))) <= 0)
            break;
        assert_int_equal(sb_append(out, buf, (size_t)n), 0);
    }
}

/* One session: over TCP or a UNIX-domain socketpair. */
struct conn_case {
    bool tcp;
    int nodelay;                /* TCP_NODELAY after the session (TCP) */
};

static const struct conn_case conn_cases[] = {
    {true, 1},
    {false, 0},
};

/* smtpd_serve sets TCP_NODELAY on TCP clients; the session is unchanged. */
static void test_serve_nodelay(void **state)
{
    struct lab l;
    conf *cf;
    smtpd_ctx *ctx = lab_ctx(&l, &cf);
    strbuf got;

    (void)state;
    sb_init(&got, SB_NOLIMIT);
    for (size_t i = 0; i < sizeof(conn_cases) / sizeof(conn_cases[0]); i++) {
        const struct conn_case *c = &conn_cases[i];
        int fd[2];

        if (c->tcp)
            tu_tcp_pair(fd);
        else
            assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
        assert_int_equal(write(fd[0], "QUIT\r\n", 6), 6);
        smtpd_serve(ctx, fd[1]);
        if (c->tcp) {
            int on = -1;
            socklen_t len = sizeof(on);

            assert_int_equal(getsockopt(fd[1], IPPROTO_TCP, TCP_NODELAY, &on,
                                        &len), 0);
            assert_int_equal(on != 0, c->nodelay);
        }
        assert_int_equal(close(fd[1]), 0);
        sb_reset(&got);
        read_all(fd[0], &got);
        assert_int_equal(close(fd[0]), 0);
        assert_non_null(strstr(sb_str(&got), "220 test.example"));
        assert_non_null(strstr(sb_str(&got), "\r\n221 2.0.0 Bye\r\n"));
        assert_null(strstr(sb_str(&l.warnings), "TCP_NODELAY"));
    }
    sb_release(&got);
    lab_end(&l, ctx, cf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serve_nodelay),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
