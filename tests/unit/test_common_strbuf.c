/* Unit tests for common/strbuf, common/xalloc and common/msg. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <errno.h>
#include <stdlib.h>

#include "common/strbuf.h"
#include "common/xalloc.h"
#include "common/msg.h"

static void test_append_and_bound(void **state)
{
    strbuf sb;

    (void)state;
    sb_init(&sb, 10);
    assert_int_equal(sb_puts(&sb, "hello"), 0);
    assert_int_equal(sb_putc(&sb, ' '), 0);
    assert_int_equal(sb_puts(&sb, "world"), -1);   /* would pass 10 */
    assert_string_equal(sb_str(&sb), "hello ");     /* unchanged */
    assert_int_equal(sb_printf(&sb, "%d", 1234), 0);
    assert_int_equal(sb_len(&sb), 10);
    assert_int_equal(sb_putc(&sb, 'x'), -1);
    assert_string_equal(sb_str(&sb), "hello 1234");
    sb_release(&sb);
}

static void test_growth_and_nul_bytes(void **state)
{
    strbuf *sb = sb_new(SB_NOLIMIT);

    (void)state;
    for (int i = 0; i < 10000; i++)
        assert_int_equal(sb_append(sb, "a\0b", 3), 0);
    assert_int_equal(sb_len(sb), 30000);
    assert_int_equal(sb_str(sb)[1], '\0');
    assert_int_equal(sb_str(sb)[30000], '\0');
    sb_free(sb);
}

/*
 * sb_putc's inline fast path: byte by byte it must behave as sb_append of
 * one byte at every bound - max below, at and above the allocation, a
 * released buffer, NUL and 8-bit bytes - and stay NUL-terminated.
 */
static void test_putc_matches_append(void **state)
{
    static const size_t maxes[] = {0, 1, 62, 63, 64, 65, 127, 128, 1000};

    (void)state;
    for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
        strbuf a, b;

        sb_init(&a, maxes[m]);
        sb_init(&b, maxes[m]);
        for (int i = 0; i < 1100; i++) {
            char c = (char)(i % 3 == 0 ? '\0' : i % 3 == 1 ? 'x' : 0xe9);

            assert_int_equal(sb_putc(&a, c), sb_append(&b, &c, 1));
            assert_int_equal(sb_len(&a), sb_len(&b));
            assert_int_equal(sb_str(&a)[sb_len(&a)], '\0');
        }
        assert_int_equal(sb_len(&a), maxes[m]);
        assert_memory_equal(sb_str(&a), sb_str(&b), sb_len(&b));
        sb_release(&a);
        sb_release(&b);
    }
}

/* After sb_release the struct may be used again once sb_init'ed. */
static void test_putc_after_release(void **state)
{
    strbuf sb;

    (void)state;
    sb_init(&sb, 4);
    sb_release(&sb);
    sb_init(&sb, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(sb_putc(&sb, 'a' + i), 0);
    assert_int_equal(sb_putc(&sb, 'e'), -1);
    assert_string_equal(sb_str(&sb), "abcd");
    sb_release(&sb);
}

static void test_trim_lower_truncate_set(void **state)
{
    strbuf sb;
    char *s;

    (void)state;
    sb_init(&sb, 100);
    sb_puts(&sb, " \t MiXeD Case \r\n");
    sb_trim(&sb);
    assert_string_equal(sb_str(&sb), "MiXeD Case");
    sb_lower(&sb);
    assert_string_equal(sb_str(&sb), "mixed case");
    sb_truncate(&sb, 5);
    assert_string_equal(sb_str(&sb), "mixed");
    sb_truncate(&sb, 50);
    assert_string_equal(sb_str(&sb), "mixed");
    assert_int_equal(sb_set(&sb, "new"), 0);
    s = sb_detach(&sb);
    assert_string_equal(s, "new");
    assert_int_equal(sb_len(&sb), 0);
    free(s);
    sb_trim(&sb);                       /* empty buffer */
    assert_string_equal(sb_str(&sb), "");
    sb_release(&sb);
}

static void test_fmt_fixed(void **state)
{
    char buf[8];

    (void)state;
    assert_int_equal(fmt_fixed(buf, sizeof(buf), "%s", "1234567"), 0);
    assert_string_equal(buf, "1234567");
    assert_int_equal(fmt_fixed(buf, sizeof(buf), "%s", "12345678"), -1);
    assert_string_equal(buf, "");
}

static void test_size_checks(void **state)
{
    size_t out;

    (void)state;
    assert_true(size_mul(1000, 1000, &out));
    assert_int_equal(out, 1000000);
    assert_false(size_mul(SIZE_MAX / 2, 3, &out));
    assert_false(size_add(SIZE_MAX, 1, &out));
    assert_true(size_add(1, 2, &out));
}

struct captured {
    enum msg_level level;
    char text[512];
};

static void capture(enum msg_level level, const char *text, void *ctx)
{
    struct captured *c = ctx;

    c->level = level;
    assert_int_equal(fmt_fixed(c->text, sizeof(c->text), "%s", text), 0);
}

static jmp_buf fatal_jmp;

static void fatal_hook(enum msg_level level)
{
    longjmp(fatal_jmp, level == MSG_PANIC ? 2 : 1);
}

static void test_msg_levels_and_sanitizing(void **state)
{
    struct captured c = {0};

    (void)state;
    msg_open("unit", 0);
    msg_set_capture(capture, &c);
    msg_info("hello %s", "world");
    assert_int_equal(c.level, MSG_INFO);
    assert_string_equal(c.text, "hello world");
    msg_warn("ignoring unsupported parameter '%s'", "biff");
    assert_string_equal(c.text, "warning: ignoring unsupported parameter 'biff'");
    msg_info("forged\nJul  9 tern/smtpd[1]: %s\r", "x");
    assert_string_equal(c.text, "forged?Jul  9 tern/smtpd[1]: x?");
    errno = ENOENT;
    msg_info("open %s: %m", "/nonexistent");
    assert_string_equal(c.text, "open /nonexistent: No such file or directory");

    msg_set_fatal_hook(fatal_hook);
    if (setjmp(fatal_jmp) == 0) {
        msg_fatal("no %s", "spool");
        fail();
    }
    assert_int_equal(c.level, MSG_FATAL);
    assert_string_equal(c.text, "fatal: no spool");
    msg_set_fatal_hook(NULL);
    msg_set_capture(NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_bound),
        cmocka_unit_test(test_growth_and_nul_bytes),
        cmocka_unit_test(test_putc_matches_append),
        cmocka_unit_test(test_putc_after_release),
        cmocka_unit_test(test_trim_lower_truncate_set),
        cmocka_unit_test(test_fmt_fixed),
        cmocka_unit_test(test_size_checks),
        cmocka_unit_test(test_msg_levels_and_sanitizing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
