/*
 * Unit tests for the hosts-file half of common/dns (dns_hosts_*): what a
 * file maps addresses and names to, the lines it must skip (comments,
 * bad addresses, names that are not host names, NUL and 8-bit bytes,
 * overlong lines), a missing, unreadable or oversized file, and re-reading
 * after an edit. Each case writes its own file in a temp directory.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/dns.h"
#include "common/msg.h"
#include "common/xalloc.h"

struct fixture {
    char dir[64];
    char path[128];
    int warnings;
};

/* capture - count warnings (the module's only way to complain). */
static void capture(enum msg_level level, const char *text, void *ctx)
{
    struct fixture *f = ctx;

    (void)text;
    if (level == MSG_WARN)
        f->warnings++;
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));

    (void)fmt_fixed(f->dir, sizeof(f->dir), "%s", "/tmp/tern-dnshosts.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    (void)fmt_fixed(f->path, sizeof(f->path), "%s/hosts", f->dir);
    msg_set_capture(capture, f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    msg_set_capture(NULL, NULL);
    (void)unlink(f->path);
    (void)rmdir(f->path);       /* the directory case */
    assert_int_equal(rmdir(f->dir), 0);
    free(f);
    return 0;
}

/* write_file - replace the hosts file with len bytes of text. */
static void write_file(const char *path, const char *text, size_t len)
{
    char tmp[160];
    FILE *fp;

    (void)fmt_fixed(tmp, sizeof(tmp), "%s.new", path);
    fp = fopen(tmp, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(rename(tmp, path), 0);
}

/* name_of - dns_hosts_name of a textual address; "" when not listed. */
static const char *name_of(dns_hosts *h, const char *addr, strbuf *out)
{
    dns_addr a;

    assert_int_equal(dns_addr_literal(addr, &a), 0);
    sb_reset(out);
    if (!dns_hosts_name(h, &a, out))
        return "";
    return sb_str(out);
}

/* addrs_of - dns_hosts_addrs as "a b c" text. */
static const char *addrs_of(dns_hosts *h, const char *name, int family,
                            strbuf *out)
{
    dns_addr v[8];
    size_t n = dns_hosts_addrs(h, name, family, v, 8);

    sb_reset(out);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(sb_printf(out, "%s%s", i ? " " : "", v[i].text), 0);
    return sb_str(out);
}

static const char HOSTS[] =
    "# a comment line\n"
    "127.0.0.1\tlocalhost\n"
    "127.0.0.1 second.example\n"                 /* first line wins */
    "  192.0.2.1   mail.example  MAIL  smtp.example   # trailing comment\n"
    "192.0.2.2 mail.example\r\n"                 /* CRLF line, "multi on" */
    "192.0.2.1 mail.example\n"                   /* duplicate address */
    "::1 localhost ip6-localhost\n"
    "2001:db8::25 mail.example\n"
    "192.0.2.3\n"                                /* no name */
    "not-an-address bogus.example\n"
    "300.1.1.1 bogus2.example\n"
    "fe80::1%eth0 scoped.example\n"
    "192.0.2.4 bad_name! ok.example\n"           /* first valid name counts */
    "192.0.2.5 caf\xc3\xa9.example\n"            /* 8-bit only: skipped */
    "192.0.2.6 nul.example\0hidden.example\n"    /* a NUL byte: skipped */
    "192.0.2.7 last.example";                    /* no final newline */

static void test_lookups(void **state)
{
    static const struct {
        const char *addr, *name;
    } by_addr[] = {
        {"127.0.0.1", "localhost"}, {"192.0.2.1", "mail.example"},
        {"192.0.2.2", "mail.example"}, {"::1", "localhost"},
        {"2001:db8::25", "mail.example"}, {"192.0.2.3", ""},
        {"192.0.2.4", "ok.example"}, {"192.0.2.5", ""}, {"192.0.2.6", ""},
        {"192.0.2.7", "last.example"}, {"192.0.2.99", ""},
        {"::ffff:127.0.0.1", ""},                /* another family */
    };
    static const struct {
        const char *name;
        int family;
        const char *addrs;
    } by_name[] = {
        {"mail.example", AF_INET, "192.0.2.1 192.0.2.2"},
        {"MAIL.Example.", AF_INET, "192.0.2.1 192.0.2.2"},
        {"mail", AF_INET, "192.0.2.1"},
        {"smtp.example", AF_INET, "192.0.2.1"},
        {"mail.example", AF_INET6, "2001:db8::25"},
        {"localhost", AF_INET, "127.0.0.1"},
        {"localhost", AF_INET6, "::1"},
        {"second.example", AF_INET, "127.0.0.1"},
        {"ip6-localhost", AF_INET, ""},
        {"bogus.example", AF_INET, ""}, {"bogus2.example", AF_INET, ""},
        {"scoped.example", AF_INET6, ""}, {"bad_name!", AF_INET, ""},
        {"nul.example", AF_INET, ""}, {"hidden.example", AF_INET, ""},
        {"last.example", AF_INET, "192.0.2.7"}, {"", AF_INET, ""},
        {"example", AF_INET, ""},
    };
    struct fixture *f = *state;
    dns_hosts *h = dns_hosts_new(f->path);
    strbuf out;

    sb_init(&out, 1024);
    write_file(f->path, HOSTS, sizeof(HOSTS) - 1);
    for (size_t i = 0; i < sizeof(by_addr) / sizeof(by_addr[0]); i++)
        assert_string_equal(name_of(h, by_addr[i].addr, &out), by_addr[i].name);
    for (size_t i = 0; i < sizeof(by_name) / sizeof(by_name[0]); i++)
        assert_string_equal(addrs_of(h, by_name[i].name, by_name[i].family,
                                     &out), by_name[i].addrs);
    assert_int_equal(f->warnings, 0);
    sb_release(&out);
    dns_hosts_free(h);
}

static void test_overlong_line_and_limit(void **state)
{
    struct fixture *f = *state;
    dns_hosts *h = dns_hosts_new(f->path);
    size_t len = 300000;
    char *text = xmalloc(len + 64);
    dns_addr v[4];
    strbuf out;

    sb_init(&out, 1024);
    /* a 300 kB name, then a good line: the good one still counts */
    memcpy(text, "192.0.2.8 ", 10);
    memset(text + 10, 'a', len - 10);
    memcpy(text + len, "\n192.0.2.9 after.example\n", 25);
    write_file(f->path, text, len + 25);
    assert_string_equal(name_of(h, "192.0.2.8", &out), "");
    assert_string_equal(name_of(h, "192.0.2.9", &out), "after.example");
    assert_int_equal(f->warnings, 0);
    /* more than 1 MiB: warned about, and nothing from it is used */
    free(text);
    len = 1024 * 1024 + 1;
    text = xmalloc(len);
    memset(text, '\n', len);
    memcpy(text, "192.0.2.10 big.example\n", 23);
    write_file(f->path, text, len);
    assert_string_equal(name_of(h, "192.0.2.10", &out), "");
    assert_int_equal(dns_hosts_addrs(h, "big.example", AF_INET, v, 4), 0);
    assert_int_equal(f->warnings, 1);   /* once per change, not per lookup */
    free(text);
    sb_release(&out);
    dns_hosts_free(h);
}

static void test_missing_unreadable_and_reread(void **state)
{
    struct fixture *f = *state;
    dns_hosts *h = dns_hosts_new(f->path);
    struct timespec old = {1000000000, 0}, times[2];
    strbuf out;

    sb_init(&out, 1024);
    /* missing: empty, silently */
    assert_string_equal(name_of(h, "127.0.0.1", &out), "");
    assert_int_equal(f->warnings, 0);
    /* created later: read on the next lookup */
    write_file(f->path, "127.0.0.1 one.example\n", 22);
    assert_string_equal(name_of(h, "127.0.0.1", &out), "one.example");
    /* edited (same size, another file): read again */
    write_file(f->path, "127.0.0.1 two.example\n", 22);
    times[0] = times[1] = old;
    assert_int_equal(utimensat(AT_FDCWD, f->path, times, 0), 0);
    assert_string_equal(name_of(h, "127.0.0.1", &out), "two.example");
    /* removed again: forgotten */
    assert_int_equal(unlink(f->path), 0);
    assert_string_equal(name_of(h, "127.0.0.1", &out), "");
    assert_int_equal(f->warnings, 0);
    /* a directory cannot be read: one warning, then empty */
    assert_int_equal(mkdir(f->path, 0700), 0);
    assert_string_equal(name_of(h, "127.0.0.1", &out), "");
    assert_string_equal(name_of(h, "127.0.0.1", &out), "");
    assert_int_equal(f->warnings, 1);
    sb_release(&out);
    dns_hosts_free(h);
}

static void test_resolver_without_hosts_file(void **state)
{
    dns_result res;
    strbuf err, name;
    dns_ctx *ctx;

    (void)state;
    sb_init(&err, 512);
    sb_init(&name, 512);
    /* a server where nothing answers: only the hosts file can name */
    ctx = dns_open("127.0.0.1:9", 200, 1, &err);
    assert_non_null(ctx);
    dns_result_init(&res);
    dns_set_hosts_file(ctx, "");
    assert_int_not_equal(dns_fcrdns(ctx, "127.0.0.1", &name, &res), DNS_OK);
    assert_int_equal(sb_len(&name), 0);
    dns_set_hosts_file(ctx, NULL);
    assert_int_not_equal(dns_fcrdns(ctx, "127.0.0.1", &name, &res), DNS_OK);
    assert_int_equal(dns_fcrdns(ctx, "999.0.0.1", &name, &res), DNS_PERMFAIL);
    dns_result_free(&res);
    dns_close(ctx);
    sb_release(&name);
    sb_release(&err);
}

static void test_fcrdns_from_hosts_file(void **state)
{
    static const char text[] =
        "127.0.0.1 first.example\n"
        "127.0.0.2 two.example\n"
        "127.0.0.3 three.example\n"
        "127.0.0.4 two.example\n";
    struct fixture *f = *state;
    dns_result res;
    strbuf err, name;
    dns_ctx *ctx;

    sb_init(&err, 512);
    sb_init(&name, 512);
    write_file(f->path, text, sizeof(text) - 1);
    ctx = dns_open("127.0.0.1:9", 200, 1, &err);
    assert_non_null(ctx);
    dns_set_hosts_file(ctx, f->path);
    dns_result_init(&res);
    assert_int_equal(dns_fcrdns(ctx, "127.0.0.1", &name, &res), DNS_OK);
    assert_string_equal(sb_str(&name), "first.example");
    assert_int_equal(dns_fcrdns(ctx, "127.0.0.4", &name, &res), DNS_OK);
    assert_string_equal(sb_str(&name), "two.example");      /* "multi on" */
    /* an edit between two clients is seen by the second */
    write_file(f->path, "127.0.0.4 four.example\n", 23);
    assert_int_equal(dns_fcrdns(ctx, "127.0.0.4", &name, &res), DNS_OK);
    assert_string_equal(sb_str(&name), "four.example");
    /* answered from the file alone: no c-ares channel was made */
    assert_false(dns_has_channel(ctx));
    /* not in the file: DNS, which does not answer here */
    assert_int_equal(dns_fcrdns(ctx, "127.0.0.5", &name, &res), DNS_TEMPFAIL);
    assert_int_equal(sb_len(&name), 0);
    assert_true(dns_has_channel(ctx));
    assert_int_equal(f->warnings, 0);
    dns_result_free(&res);
    dns_close(ctx);
    sb_release(&name);
    sb_release(&err);
}

/* A pinned reader answers from one check of the file; unpinned it re-checks. */
static void test_pin_checks_once(void **state)
{
    struct fixture *f = *state;
    dns_hosts *h = dns_hosts_new(f->path);
    strbuf out;

    sb_init(&out, 1024);
    write_file(f->path, "127.0.0.1 one.example\n", 22);
    dns_hosts_pin(h);                   /* reads it */
    assert_string_equal(name_of(h, "127.0.0.1", &out), "one.example");
    write_file(f->path, "127.0.0.1 two.example\n", 22);
    /* pinned: the edit waits, for names and addresses alike */
    assert_string_equal(name_of(h, "127.0.0.1", &out), "one.example");
    assert_string_equal(addrs_of(h, "two.example", AF_INET, &out), "");
    assert_string_equal(addrs_of(h, "one.example", AF_INET, &out),
                        "127.0.0.1");
    dns_hosts_unpin(h);
    assert_string_equal(name_of(h, "127.0.0.1", &out), "two.example");
    /* a pin checks the file: an edit made before it is seen */
    write_file(f->path, "127.0.0.1 three.example\n", 24);
    dns_hosts_pin(h);
    assert_string_equal(addrs_of(h, "three.example", AF_INET, &out),
                        "127.0.0.1");
    dns_hosts_pin(h);                   /* pinning twice is harmless */
    dns_hosts_unpin(h);
    assert_int_equal(f->warnings, 0);
    sb_release(&out);
    dns_hosts_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lookups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlong_line_and_limit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missing_unreadable_and_reread,
                                        setup, teardown),
        cmocka_unit_test(test_resolver_without_hosts_file),
        cmocka_unit_test_setup_teardown(test_fcrdns_from_hosts_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pin_checks_once, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
