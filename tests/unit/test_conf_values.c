/*
 * Table-driven tests of the conf library: the registry, typed values (good
 * and bad for each type), per-transport fallback, lists, hostile files
 * (NUL bytes, overlong lines, huge files, missing files), expansion bounds,
 * and the panics that guard against asking for an unknown parameter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/strbuf.h"
#include "conf/conf.h"
#include "maps/maps.h"

static const char master_cf[] =
    "smtp      inet  n       -       n       -       -       smtpd\n"
    "relaylim  unix  -       -       n       -       1       smtp\n"
    "  -o relaylim_destination_concurrency_limit=3\n"
    "oneshot   unix  -       -       n       -       -       smtp\n";

struct lab {
    char dir[64];
};

static void lab_write(struct lab *l, const char *name, const char *data,
                      size_t len)
{
    strbuf path;
    FILE *f;

    sb_init(&path, 4096);
    assert_int_equal(sb_printf(&path, "%s/%s", l->dir, name), 0);
    f = fopen(sb_str(&path), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    sb_release(&path);
}

static void lab_remove(struct lab *l, const char *name)
{
    strbuf path;

    sb_init(&path, 4096);
    assert_int_equal(sb_printf(&path, "%s/%s", l->dir, name), 0);
    (void)unlink(sb_str(&path));
    (void)rmdir(sb_str(&path));
    sb_release(&path);
}

static void lab_open(struct lab *l)
{
    assert_int_equal(fmt_fixed(l->dir, sizeof(l->dir), "%s",
                               "/tmp/tern-conf-test-XXXXXX"), 0);
    assert_non_null(mkdtemp(l->dir));
}

static void lab_close(struct lab *l)
{
    lab_remove(l, "main.cf");
    lab_remove(l, "master.cf");
    assert_int_equal(rmdir(l->dir), 0);
}

/* load - a conf from main.cf bytes (len may include NULs) and master.cf. */
static conf *load(struct lab *l, const char *main_cf, size_t len)
{
    lab_write(l, "main.cf", main_cf, len);
    lab_write(l, "master.cf", master_cf, strlen(master_cf));
    return conf_load(l->dir);
}

/* has_diag - some diagnostic of level contains text. */
static bool has_diag(const conf *c, enum conf_diag_level want, const char *text)
{
    enum conf_diag_level level;

    for (size_t i = 0; i < conf_diag_count(c); i++) {
        const char *d = conf_diag_text(c, i, &level);

        if (level == want && strstr(d, text) != NULL)
            return true;
    }
    return false;
}

static void print_diags(const conf *c)
{
    for (size_t i = 0; i < conf_diag_count(c); i++)
        print_message("diag: %s\n", conf_diag_text(c, i, NULL));
}

/* ---- registry ---- */

static void test_registry_sorted_and_defaults_valid(void **state)
{
    conf *c = conf_defaults();
    strbuf err;

    (void)state;
    sb_init(&err, 4096);
    assert_true(conf_param_count() > 50);
    for (size_t i = 0; i < conf_param_count(); i++) {
        const struct conf_param *p = conf_param_at(i);

        if (i > 0)
            assert_true(strcmp(conf_param_at(i - 1)->name, p->name) < 0);
        assert_ptr_equal(conf_param_find(p->name), p);
        assert_non_null(p->doc);
        assert_true(p->doc[0] != '\0');
        /* every default, expanded, passes its own type check */
        assert_non_null(conf_get_str(c, p->name));
        if (p->type == CONF_TABLES) {
            for (const char *const *t = conf_get_list(c, p->name); *t; t++) {
                strbuf type;

                sb_init(&type, 256);
                assert_non_null(strchr(*t, ':'));
                assert_int_equal(sb_append(&type, *t, (size_t)(strchr(*t, ':') - *t)), 0);
                assert_true(map_type_known(sb_str(&type)));
                sb_release(&type);
            }
        }
    }
    assert_int_equal(conf_error_count(c), 0);
    assert_int_equal(conf_diag_count(c), 0);
    assert_null(conf_param_find("biff"));
    assert_string_equal(conf_transport_fallback("destination_concurrency_limit"),
                        "default_destination_concurrency_limit");
    assert_null(conf_transport_fallback("no_such_suffix"));
    sb_release(&err);
    conf_free(c);
}

static void test_documented_defaults(void **state)
{
    static const struct { const char *name; long long value; } ints[] = {
        {"default_process_limit", 100}, {"max_use", 100},
        {"default_destination_concurrency_limit", 20},
        {"default_destination_recipient_limit", 50},
        {"initial_destination_concurrency", 5}, {"line_length_limit", 2048},
        {"smtpd_recipient_limit", 1000}, {"header_size_limit", 102400},
        {"smtpd_hard_error_limit", 20}, {"smtpd_soft_error_limit", 10},
    };
    conf *c = conf_defaults();

    (void)state;
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        assert_int_equal(conf_get_int(c, ints[i].name), ints[i].value);
    assert_int_equal(conf_get_time(c, "max_idle"), 100);
    assert_int_equal(conf_get_time(c, "smtpd_timeout"), 300);
    assert_int_equal(conf_get_time(c, "maximal_queue_lifetime"), 5 * 86400);
    assert_int_equal(conf_get_size(c, "message_size_limit"), 10240000);
    assert_false(conf_get_bool(c, "enable_long_queue_ids"));
    assert_string_equal(conf_get_str(c, "queue_directory"), "/var/spool/tern");
    assert_string_equal(conf_get_str(c, "mail_owner"), "tern");
    assert_string_equal(conf_get_str(c, "setgid_group"), "terndrop");
    assert_string_equal(conf_get_str(c, "mynetworks"), "127.0.0.0/8 [::1]/128");
    assert_string_equal(conf_get_list(c, "mynetworks")[1], "[::1]/128");
    assert_string_equal(conf_get_str(c, "myorigin"),
                        conf_get_str(c, "myhostname"));
    assert_non_null(strchr(conf_get_str(c, "myhostname"), '.'));
    conf_free(c);
}

/* ---- good values of each type ---- */

static void test_good_values(void **state)
{
    static const struct {
        const char *line;
        const char *name;
        enum conf_type type;
        long long want;
    } cases[] = {
        {"smtpd_timeout = 60", "smtpd_timeout", CONF_TIME, 60},
        {"smtpd_timeout = 5m", "smtpd_timeout", CONF_TIME, 300},
        {"max_idle = 1h", "max_idle", CONF_TIME, 3600},
        {"maximal_queue_lifetime = 2", "maximal_queue_lifetime", CONF_TIME, 2 * 86400},
        {"maximal_queue_lifetime = 1w", "maximal_queue_lifetime", CONF_TIME, 7 * 86400},
        {"maximal_queue_lifetime = 0", "maximal_queue_lifetime", CONF_TIME, 0},
        {"smtpd_error_sleep_time = 0s", "smtpd_error_sleep_time", CONF_TIME, 0},
        {"max_use = 1", "max_use", CONF_INT, 1},
        {"message_size_limit = 0", "message_size_limit", CONF_SIZE, 0},
        {"message_size_limit = 52428800", "message_size_limit", CONF_SIZE, 52428800},
        {"enable_long_queue_ids = yes", "enable_long_queue_ids", CONF_BOOL, 1},
        {"enable_long_queue_ids = No", "enable_long_queue_ids", CONF_BOOL, 0},
        {"x = 7\nmax_use = $x", "max_use", CONF_INT, 7},
    };
    struct lab l;

    (void)state;
    lab_open(&l);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        conf *c = load(&l, cases[i].line, strlen(cases[i].line));
        long long got = -1;

        if (conf_diag_count(c) != 0) {
            print_diags(c);
            fail_msg("case %zu: %s", i, cases[i].line);
        }
        switch (cases[i].type) {
        case CONF_TIME: got = conf_get_time(c, cases[i].name); break;
        case CONF_INT: got = conf_get_int(c, cases[i].name); break;
        case CONF_SIZE: got = conf_get_size(c, cases[i].name); break;
        case CONF_BOOL: got = conf_get_bool(c, cases[i].name); break;
        default: fail();
        }
        assert_int_equal(got, cases[i].want);
        conf_free(c);
    }
    lab_close(&l);
}

/* ---- bad values: an error naming file, line, parameter and value ---- */

static void test_bad_values(void **state)
{
    static const struct { const char *text; const char *diag; } cases[] = {
        {"max_use = 12abc", "main.cf, line 1: parameter 'max_use': invalid value '12abc': not a number"},
        {"max_use = 0", "parameter 'max_use': invalid value '0': out of range"},
        {"max_use =", "parameter 'max_use': invalid value '': not a number"},
        {"enable_long_queue_ids = maybe", "parameter 'enable_long_queue_ids': invalid value 'maybe': expected yes or no"},
        {"smtpd_timeout = 10x", "parameter 'smtpd_timeout': invalid value '10x': bad time unit 'x'"},
        {"smtpd_timeout = 1h30m", "bad time unit 'h30m'"},
        {"smtpd_timeout = s", "not a time value"},
        {"smtpd_timeout = 99999999999999999w", "time value too large"},
        {"message_size_limit = -1", "invalid value '-1': out of range"},
        {"message_size_limit = 10MB", "not a size in bytes"},
        {"transport_maps = nosuch:/x", "unsupported table type 'nosuch'"},
        {"transport_maps = /etc/tern/transport", "is not of the form type:name"},
        {"transport_maps = :/x", "is not of the form type:name"},
        {"mynetworks = 127.0.0.1 }", "unexpected '}'"},
        {"\n\n\nt = 5q\nsmtpd_timeout = $t", "main.cf, line 5: parameter 'smtpd_timeout': invalid value '$t' (expands to '5q')"},
    };
    struct lab l;

    (void)state;
    lab_open(&l);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        conf *c = load(&l, cases[i].text, strlen(cases[i].text));

        if (!has_diag(c, CONF_ERROR, cases[i].diag)) {
            print_diags(c);
            fail_msg("case %zu: no error containing \"%s\"", i, cases[i].diag);
        }
        assert_int_equal(conf_error_count(c), 1);
        conf_free(c);
    }
    lab_close(&l);
}

/* ---- per-transport parameters ---- */

static void test_transport_fallback(void **state)
{
    static const char text[] =
        "default_destination_concurrency_limit = 7\n"
        "relaylim_destination_concurrency_limit = 1\n"
        "relaylim_destination_rate_delay = 2m\n"
        "oneshot_destination_recipient_limit = $one\n"
        "one = 1\n"
        "ghost_destination_concurrency_limit = 2\n";
    struct lab l;
    conf *c;
    const conf *svc;

    (void)state;
    lab_open(&l);
    c = load(&l, text, strlen(text));
    assert_int_equal(conf_error_count(c), 0);
    assert_true(has_diag(c, CONF_WARNING,
                         "line 6: ignoring unsupported parameter 'ghost_destination_concurrency_limit'"));
    assert_int_equal(conf_diag_count(c), 1);
    assert_int_equal(conf_get_transport_int(c, "relaylim", "destination_concurrency_limit"), 1);
    assert_int_equal(conf_get_transport_int(c, "smtp", "destination_concurrency_limit"), 7);
    assert_int_equal(conf_get_transport_int(c, "ghost", "destination_concurrency_limit"), 7);
    assert_int_equal(conf_get_transport_int(c, "oneshot", "destination_recipient_limit"), 1);
    assert_int_equal(conf_get_transport_int(c, "smtp", "destination_recipient_limit"), 50);
    assert_int_equal(conf_get_transport_time(c, "relaylim", "destination_rate_delay"), 120);
    assert_int_equal(conf_get_transport_int(c, "smtp", "initial_destination_concurrency"), 5);
    /* the relaylim service's -o wins inside that service */
    svc = conf_for_service(c, "relaylim", "unix");
    assert_non_null(svc);
    assert_int_equal(conf_get_transport_int(svc, "relaylim", "destination_concurrency_limit"), 3);
    assert_null(conf_for_service(c, "relaylim", "inet"));
    assert_non_null(conf_service_find(c, "relaylim", NULL));
    conf_free(c);

    /* a bad per-transport value is an error typed like its fallback */
    c = load(&l, "relaylim_destination_concurrency_limit = lots",
             strlen("relaylim_destination_concurrency_limit = lots"));
    assert_true(has_diag(c, CONF_ERROR, "parameter 'relaylim_destination_concurrency_limit': invalid value 'lots'"));
    assert_int_equal(conf_get_transport_int(c, "relaylim", "destination_concurrency_limit"), 20);
    conf_free(c);
    lab_close(&l);
}

/* ---- hostile files ---- */

static void test_hostile_files(void **state)
{
    static const char nul_value[] = "a = b\nmax_use = 1\0 2\n# c\0omment\nmax_idle = 5s\n";
    struct lab l;
    strbuf big;
    conf *c;

    (void)state;
    lab_open(&l);
    c = load(&l, nul_value, sizeof(nul_value) - 1);
    assert_true(has_diag(c, CONF_ERROR, "main.cf, line 2: NUL byte in file"));
    assert_true(has_diag(c, CONF_ERROR, "main.cf, line 3: NUL byte in file"));
    assert_int_equal(conf_error_count(c), 2);
    assert_int_equal(conf_get_int(c, "max_use"), 100);       /* line ignored */
    assert_int_equal(conf_get_time(c, "max_idle"), 5);       /* rest parsed */
    conf_free(c);

    /* an overlong logical line, also across continuation lines */
    sb_init(&big, SB_NOLIMIT);
    assert_int_equal(sb_puts(&big, "max_use = 3\nmynetworks = "), 0);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(sb_puts(&big, "10.0.0.0/8\n  "), 0);
    assert_int_equal(sb_puts(&big, "x\nmax_idle = 7s\n"), 0);
    c = load(&l, sb_str(&big), sb_len(&big));
    assert_true(has_diag(c, CONF_ERROR, "main.cf, line 2: line too long (more than 65536 bytes)"));
    assert_int_equal(conf_get_int(c, "max_use"), 3);
    assert_int_equal(conf_get_time(c, "max_idle"), 7);
    assert_string_equal(conf_get_str(c, "mynetworks"), "127.0.0.0/8 [::1]/128");
    conf_free(c);

    /* a file past the size bound */
    sb_reset(&big);
    while (sb_len(&big) <= 4 * 1024 * 1024)
        assert_int_equal(sb_puts(&big, "# filler filler filler filler filler\n"), 0);
    c = load(&l, sb_str(&big), sb_len(&big));
    assert_true(has_diag(c, CONF_ERROR, "file too large"));
    conf_free(c);
    sb_release(&big);

    /* 8-bit bytes: kept in values, an unknown name is only a warning */
    c = load(&l, "b\xc3\xaf" "ff = 1\nmail_name = t\xc3\xabrn\n", 27);
    assert_true(has_diag(c, CONF_WARNING, "ignoring unsupported parameter 'b\xc3\xaf" "ff'"));
    assert_int_equal(conf_error_count(c), 0);
    assert_string_equal(conf_get_str(c, "mail_name"), "t\xc3\xabrn");
    conf_free(c);
    lab_close(&l);
}

static void test_missing_files(void **state)
{
    struct lab l;
    conf *c;

    (void)state;
    lab_open(&l);
    c = conf_load(l.dir);               /* neither file exists */
    assert_true(has_diag(c, CONF_ERROR, "main.cf: No such file or directory"));
    assert_true(has_diag(c, CONF_ERROR, "master.cf: No such file or directory"));
    assert_int_equal(conf_error_count(c), 2);
    assert_int_equal(conf_get_int(c, "max_use"), 100);       /* defaults */
    assert_int_equal(conf_service_count(c), 0);
    conf_free(c);

    lab_write(&l, "master.cf", master_cf, strlen(master_cf));
    {
        strbuf p;

        sb_init(&p, 4096);
        assert_int_equal(sb_printf(&p, "%s/main.cf", l.dir), 0);
        assert_int_equal(mkdir(sb_str(&p), 0700), 0);
        c = conf_load(l.dir);
        assert_true(has_diag(c, CONF_ERROR, "main.cf: not a regular file"));
        conf_free(c);
        sb_release(&p);
    }
    lab_close(&l);
}

/* ---- expansion bounds ---- */

static void test_expansion_bounds(void **state)
{
    struct lab l;
    strbuf text;
    conf *c;

    (void)state;
    lab_open(&l);
    sb_init(&text, SB_NOLIMIT);
    /* a chain longer than the nesting bound */
    for (int i = 0; i < 150; i++)
        assert_int_equal(sb_printf(&text, "p%d = $p%d\n", i, i + 1), 0);
    assert_int_equal(sb_puts(&text, "p150 = end\nmail_name = $p0\n"), 0);
    c = load(&l, sb_str(&text), sb_len(&text));
    assert_true(has_diag(c, CONF_ERROR, "parameter 'mail_name': in $p0"));
    assert_true(has_diag(c, CONF_ERROR, "macro nesting too deep"));
    conf_free(c);

    /* deeply nested ${a?${a?...}} in one value */
    sb_reset(&text);
    assert_int_equal(sb_puts(&text, "a = x\nmail_name = "), 0);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(sb_puts(&text, "${a?"), 0);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(sb_putc(&text, '}'), 0);
    c = load(&l, sb_str(&text), sb_len(&text));
    assert_true(has_diag(c, CONF_ERROR, "macro nesting too deep"));
    conf_free(c);

    /* exponential growth is cut at the value bound */
    sb_reset(&text);
    assert_int_equal(sb_puts(&text, "e0 = 0123456789\n"), 0);
    for (int i = 1; i <= 30; i++)
        assert_int_equal(sb_printf(&text, "e%d = $e%d$e%d$e%d\n", i, i - 1, i - 1, i - 1), 0);
    assert_int_equal(sb_puts(&text, "mail_name = $e30\n"), 0);
    c = load(&l, sb_str(&text), sb_len(&text));
    assert_true(has_diag(c, CONF_ERROR, "value too long after expansion"));
    conf_free(c);
    sb_release(&text);
    lab_close(&l);
}

/* ---- computed defaults ---- */

static void test_hostname_domain_defaults(void **state)
{
    static const char text[] = "myhostname = mx.mail.example.org\n";
    struct lab l;
    conf *c;
    const char *const *dest;

    (void)state;
    lab_open(&l);
    c = load(&l, text, strlen(text));
    assert_string_equal(conf_get_str(c, "mydomain"), "mail.example.org");
    assert_string_equal(conf_get_str(c, "myorigin"), "mx.mail.example.org");
    assert_string_equal(conf_get_str(c, "smtpd_banner"), "mx.mail.example.org ESMTP tern");
    dest = conf_get_list(c, "mydestination");
    assert_string_equal(dest[0], "mx.mail.example.org");
    assert_string_equal(dest[1], "localhost.mail.example.org");
    assert_string_equal(dest[2], "localhost");
    assert_null(dest[3]);
    assert_string_equal(conf_get_str(c, "config_directory"), l.dir);
    assert_string_equal(conf_raw(c, "myorigin"), "$myhostname");
    assert_true(conf_is_set(c, "myhostname"));
    assert_false(conf_is_set(c, "myorigin"));
    conf_free(c);
    lab_close(&l);
}

/* ---- lists ---- */

static void test_split_list(void **state)
{
    static const struct { const char *in; const char *out; } cases[] = {
        {"", ""},
        {"  , ,\t", ""},
        {"a, b c,,d", "a|b|c|d|"},
        {"check_policy_service { inet:127.0.0.1:9998, timeout=10s }, reject",
         "check_policy_service|{ inet:127.0.0.1:9998, timeout=10s }|reject|"},
        {"inline:{ a=b, c=d }, static:x", "inline:{ a=b, c=d }|static:x|"},
        {"{a{b}c}", "{a{b}c}|"},
        {"x {", NULL},
        {"x }", NULL},
        {"a\xff,b", "a\xff" "|b|"},
    };
    strbuf err, got;

    (void)state;
    sb_init(&err, 4096);
    sb_init(&got, 4096);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char **list = conf_split_list(cases[i].in, &err);

        if (cases[i].out == NULL) {
            assert_null(list);
            assert_true(sb_len(&err) > 0);
            sb_reset(&err);
            continue;
        }
        assert_non_null(list);
        sb_reset(&got);
        for (char **p = list; *p; p++)
            assert_int_equal(sb_printf(&got, "%s|", *p), 0);
        assert_string_equal(sb_str(&got), cases[i].out);
        conf_list_free(list);
    }
    assert_int_equal(conf_unbrace("{ a = b c }", &got), 0);
    assert_string_equal(sb_str(&got), "a = b c");
    assert_int_equal(conf_unbrace("plain", &got), 0);
    assert_string_equal(sb_str(&got), "plain");
    sb_release(&err);
    sb_release(&got);
}

/* ---- programming errors panic; conf_open refuses bad configs ---- */

static jmp_buf panic_jmp;
static volatile enum msg_level last_level;

static void panic_hook(enum msg_level level)
{
    last_level = level;
    longjmp(panic_jmp, 1);
}

static void quiet(enum msg_level level, const char *text, void *ctx)
{
    (void)level;
    (void)text;
    (void)ctx;
}

static void test_panics_and_open(void **state)
{
    conf *volatile c = conf_defaults();
    struct lab l;

    (void)state;
    msg_open("unit", 0);
    msg_set_capture(quiet, NULL);
    msg_set_fatal_hook(panic_hook);
    last_level = MSG_INFO;
    if (setjmp(panic_jmp) == 0) {
        (void)conf_get_int(c, "no_such_parameter");
        fail();
    }
    assert_int_equal(last_level, MSG_PANIC);
    last_level = MSG_INFO;
    if (setjmp(panic_jmp) == 0) {
        (void)conf_get_int(c, "myhostname");    /* a string */
        fail();
    }
    assert_int_equal(last_level, MSG_PANIC);
    last_level = MSG_INFO;
    if (setjmp(panic_jmp) == 0) {
        (void)conf_get_str(c, "biff");
        fail();
    }
    assert_int_equal(last_level, MSG_PANIC);
    last_level = MSG_INFO;
    if (setjmp(panic_jmp) == 0) {
        (void)conf_get_transport_int(c, "smtp", "no_such_suffix");
        fail();
    }
    assert_int_equal(last_level, MSG_PANIC);
    conf_free(c);

    lab_open(&l);
    lab_write(&l, "main.cf", "max_use = x\n", 12);
    lab_write(&l, "master.cf", master_cf, strlen(master_cf));
    last_level = MSG_INFO;
    if (setjmp(panic_jmp) == 0) {
        (void)conf_open(l.dir);
        fail();
    }
    assert_int_equal(last_level, MSG_FATAL);
    msg_set_fatal_hook(NULL);
    msg_set_capture(NULL, NULL);
    lab_close(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_sorted_and_defaults_valid),
        cmocka_unit_test(test_documented_defaults),
        cmocka_unit_test(test_good_values),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_transport_fallback),
        cmocka_unit_test(test_hostile_files),
        cmocka_unit_test(test_missing_files),
        cmocka_unit_test(test_expansion_bounds),
        cmocka_unit_test(test_hostname_domain_defaults),
        cmocka_unit_test(test_split_list),
        cmocka_unit_test(test_panics_and_open),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
