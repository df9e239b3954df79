/*
 * Fixture helpers shared by the unit tests (header only, static inline so
 * a test that uses none of them compiles no copy): a temporary directory
 * and its recursive removal, a small file written into it, a conf loaded
 * from main.cf/master.cf text, a loopback TCP connection, and msg capture
 * hooks that keep log lines in a strbuf. Every helper checks every return
 * with a cmocka assert, so a broken fixture fails the test that uses it;
 * paths are bounded by fmt_fixed. Include it after <cmocka.h>.
 */
#ifndef TERN_TESTUTIL_H
#define TERN_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/strbuf.h"
#include "conf/conf.h"

/* tu_tmpdir - make a fresh directory from template (ending in XXXXXX). */
static inline void tu_tmpdir(char *dir, size_t size, const char *template)
{
    assert_int_equal(fmt_fixed(dir, size, "%s", template), 0);
    assert_non_null(mkdtemp(dir));
}

/* tu_rm_entry - nftw callback: remove one entry (directories last). */
static inline int tu_rm_entry(const char *path, const struct stat *st,
                              int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* tu_rm_rf - remove a directory tree (symlinks not followed); must succeed. */
static inline void tu_rm_rf(const char *dir)
{
    assert_int_equal(nftw(dir, tu_rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* tu_write_file - dir/name = text (created or truncated). */
static inline void tu_write_file(const char *dir, const char *name,
                                 const char *text)
{
    char path[256];
    FILE *fp;

    assert_int_equal(fmt_fixed(path, sizeof(path), "%s/%s", dir, name), 0);
    assert_non_null(fp = fopen(path, "w"));
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
}

/* tu_conf_text - write dir/main.cf and dir/master.cf, load them; errors kept. */
static inline conf *tu_conf_text(const char *dir, const char *main_cf,
                                 const char *master_cf)
{
    conf *c;

    tu_write_file(dir, "main.cf", main_cf);
    tu_write_file(dir, "master.cf", master_cf);
    c = conf_load(dir);
    assert_non_null(c);
    return c;
}

/* tu_conf_clean - as tu_conf_text, printing diagnostics; no error allowed. */
static inline conf *tu_conf_clean(const char *dir, const char *main_cf,
                                  const char *master_cf)
{
    conf *c = tu_conf_text(dir, main_cf, master_cf);

    for (size_t i = 0; i < conf_diag_count(c); i++)
        fprintf(stderr, "conf: %s\n", conf_diag_text(c, i, NULL));
    assert_int_equal(conf_error_count(c), 0);
    return c;
}

/* tu_tcp_pair - a loopback TCP connection: fd[0] connected, fd[1] accepted. */
static inline void tu_tcp_pair(int fd[2])
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t len = sizeof(sin);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(lfd >= 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(lfd, 1), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
    fd[0] = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd[0] >= 0);
    assert_int_equal(connect(fd[0], (struct sockaddr *)&sin, sizeof(sin)), 0);
    fd[1] = accept(lfd, NULL, NULL);
    assert_true(fd[1] >= 0);
    assert_int_equal(close(lfd), 0);
}

/* tu_capture_lines - msg capture hook: every line into the strbuf ctx. */
static inline void tu_capture_lines(enum msg_level level, const char *text,
                                    void *ctx)
{
    (void)level;
    assert_int_equal(sb_puts(ctx, text), 0);
    assert_int_equal(sb_putc(ctx, '\n'), 0);
}

/* tu_capture_warned - as tu_capture_lines, warnings prefixed "warning: ". */
static inline void tu_capture_warned(enum msg_level level, const char *text,
                                     void *ctx)
{
    assert_int_equal(sb_puts(ctx, level == MSG_WARN ? "warning: " : ""), 0);
    tu_capture_lines(level, text, ctx);
}

#endif
