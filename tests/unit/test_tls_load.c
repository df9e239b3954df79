/*
 * Unit tests for tls/tls_load (the OpenSSL module loader) through the
 * tls.h API: at level none nothing is loaded (no tern-tls.so, libssl or
 * libcrypto in /proc/self/maps); a missing module, a file that is not a
 * shared object and a library without the module's symbol are "cannot
 * load PATH: why" errors for the server and the client, never a crash;
 * the build's module loads, maps OpenSSL, and a server without
 * certificates is "not ready" as before. The order matters: the tests
 * that expect nothing mapped run first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls/tls.h"
#include "tls/tls_module.h"
#include "common/msg.h"
#include "common/tio.h"
#include "testutil.h"

struct fixture {
    char dir[64];
    strbuf log;
};

/* load - a conf with daemon_directory = ddir and the extra text. */
static conf *load(struct fixture *f, const char *ddir, const char *text)
{
    char main_cf[4096];

    assert_int_equal(fmt_fixed(main_cf, sizeof(main_cf),
                               "queue_directory = %s\ndaemon_directory = %s\n"
                               "%s", f->dir, ddir, text), 0);
    return tu_conf_clean(f->dir, main_cf, "");
}

/* mapped - does /proc/self/maps name a file containing what? */
static bool mapped(const char *what)
{
    char line[4096];
    bool found = false;
    FILE *fp = fopen("/proc/self/maps", "r");

    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp) != NULL)
        found = found || strstr(line, what) != NULL;
    assert_int_equal(fclose(fp), 0);
    return found;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof(f->dir), "/tmp/tls-load.XXXXXX");
    sb_init(&f->log, 1 << 16);
    msg_set_capture(tu_capture_lines, &f->log);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    msg_set_capture(NULL, NULL);
    tu_rm_rf(f->dir);
    sb_release(&f->log);
    free(f);
    return 0;
}

/* Level none needs no module: none is loaded, even if none exists. */
static void test_none_loads_nothing(void **state)
{
    struct fixture *f = *state;
    conf *c = load(f, f->dir, "smtpd_tls_security_level = none\n");
    strbuf err;
    tls_server *ts;

    sb_init(&err, 1024);
    assert_non_null(ts = tls_server_open(c, &err));
    assert_int_equal(tls_server_level(ts), TLS_LEV_NONE);
    assert_false(tls_server_ready(ts));
    assert_string_equal(tls_server_error(ts), "smtpd_tls_security_level = none");
    assert_false(tls_server_offer(ts, false));
    assert_false(mapped(TLS_MODULE_FILE));
    assert_false(mapped("libssl"));
    assert_false(mapped("libcrypto"));
    tls_server_free(ts);
    sb_release(&err);
    conf_free(c);
}

/* A bad level is a configuration error found without loading anything. */
static void test_bad_level_loads_nothing(void **state)
{
    struct fixture *f = *state;
    conf *c = load(f, TERN_TEST_LIBEXEC, "smtpd_tls_security_level = bogus\n");
    strbuf err;

    sb_init(&err, 1024);
    assert_null(tls_server_open(c, &err));
    assert_non_null(strstr(sb_str(&err), "unknown level \"bogus\""));
    assert_false(mapped(TLS_MODULE_FILE));
    sb_release(&err);
    conf_free(c);
}

/* expect_cannot_load - err is "cannot load <dir>/tern-tls.so: ...why...". */
static void expect_cannot_load(const struct fixture *f, const strbuf *err,
                               const char *why)
{
    char want[256];

    assert_int_equal(fmt_fixed(want, sizeof(want), "cannot load %s/%s: ",
                               f->dir, TLS_MODULE_FILE), 0);
    assert_memory_equal(sb_str(err), want, strlen(want));
    assert_non_null(strstr(sb_str(err) + strlen(want), why));
}

/* A missing or broken module fails server and client with the reason. */
static void test_bad_module(void **state)
{
    static const struct {
        const char *content;        /* NULL: no file */
        const char *server_cf;
        const char *why;
    } cases[] = {
        { NULL, "smtpd_tls_security_level = may\n", "No such file" },
        { NULL, "smtpd_tls_security_level = encrypt\n", "No such file" },
        { NULL, "smtpd_tls_wrappermode = yes\n", "No such file" },
        { "not a shared object but text long enough to hold an ELF header,"
          " with 8-bit \xff\xfe bytes and more text after them\n",
          "smtpd_tls_security_level = may\n", "invalid ELF header" },
        { "", "smtpd_tls_security_level = may\n", "file too short" },
        { "\x7f" "ELF\x02\x01\x01\n", "smtpd_tls_security_level = may\n",
          "file too short" },
    };
    struct fixture *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        conf *c;
        strbuf err;
        char path[256];

        assert_int_equal(fmt_fixed(path, sizeof(path), "%s/%s", f->dir,
                                   TLS_MODULE_FILE), 0);
        (void)unlink(path);
        if (cases[i].content != NULL)
            tu_write_file(f->dir, TLS_MODULE_FILE, cases[i].content);
        c = load(f, f->dir, cases[i].server_cf);
        sb_init(&err, 4096);
        assert_null(tls_server_open(c, &err));
        expect_cannot_load(f, &err, cases[i].why);
        sb_reset(&err);
        assert_null(tls_client_open(c, &err));
        expect_cannot_load(f, &err, cases[i].why);
        assert_false(tls_client_ready(NULL));
        sb_release(&err);
        conf_free(c);
    }
    assert_false(mapped("libssl"));
}

/* A shared object without tern_tls_module is not the module. */
static void test_not_the_module(void **state)
{
    strbuf err;

    (void)state;
    sb_init(&err, 4096);
    assert_null(tls_module_open("libc.so.6", &err));
    assert_memory_equal(sb_str(&err), "cannot load libc.so.6: ", 23);
    assert_non_null(strstr(sb_str(&err), TLS_MODULE_SYMBOL));
    sb_release(&err);
}

/* The build's module loads; without certificates the server is not ready. */
static void test_module_loads(void **state)
{
    struct fixture *f = *state;
    conf *c = load(f, TERN_TEST_LIBEXEC, "smtpd_tls_security_level = may\n");
    strbuf err;
    tls_server *ts;
    tls_client *tc;
    int sv[2];
    tio *t;

    sb_init(&err, 4096);
    assert_non_null(ts = tls_server_open(c, &err));
    assert_true(mapped(TLS_MODULE_FILE));
    assert_true(mapped("libssl"));
    assert_false(tls_server_ready(ts));
    assert_non_null(strstr(tls_server_error(ts), "no server certificate"));
    assert_non_null(strstr(sb_str(&f->log), "disabling TLS support"));
    assert_true(tls_server_offer(ts, false));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    t = tio_open(sv[0], 5000);
    assert_null(tls_server_start(ts, t, "client[192.0.2.1]", &err));
    assert_non_null(strstr(sb_str(&err), "TLS not available: "));
    tio_free(t);
    assert_int_equal(close(sv[1]), 0);
    assert_non_null(tc = tls_client_open(c, &err));
    assert_true(tls_client_ready(tc));
    tls_client_free(tc);
    tls_server_free(ts);
    sb_release(&err);
    conf_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_none_loads_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_level_loads_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_module, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_the_module, setup, teardown),
        cmocka_unit_test_setup_teardown(test_module_loads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
