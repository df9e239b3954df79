/*
 * Unit tests for common/attr: name=value messages over a socketpair, strict
 * and lax decoding, every error class, and xtext.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/attr.h"
#include "common/msg.h"
#include "common/strbuf.h"

#define LONG_WAIT_MS 5000
#define SHORT_WAIT_MS 100

/* A connected pair: the test writes raw bytes at fd, t reads the other end. */
struct link {
    int fd;
    tio *t;
    int tfd;
};

static void link_open(struct link *l, int timeout_ms)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    l->fd = sv[0];
    l->tfd = sv[1];
    l->t = tio_open(sv[1], timeout_ms);
}

static void link_close(struct link *l)
{
    tio_free(l->t);
    if (l->fd >= 0)
        assert_int_equal(close(l->fd), 0);
    assert_int_equal(close(l->tfd), 0);
}

static void put(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

/* The strict table every case below decodes against. */
struct dests {
    strbuf name;
    long size;
    unsigned count;
    int code;
};

static void dests_init(struct dests *d)
{
    sb_init(&d->name, 12);
    sb_set(&d->name, "unchanged");
    d->size = -7;
    d->count = 7;
    d->code = 7;
}

static void dests_assert_unchanged(const struct dests *d, const char *what)
{
    if (strcmp(sb_str(&d->name), "unchanged") != 0 || d->size != -7
        || d->count != 7 || d->code != 7)
        fail_msg("%s: a destination changed on error", what);
}

static size_t table(struct dests *d, attr_spec *spec)
{
    const attr_spec s[] = {
        { "name", ATTR_T_STR, ATTR_REQUIRED, &d->name },
        { "size", ATTR_T_LONG, 0, &d->size },
        { "count", ATTR_T_UINT, 0, &d->count },
        { "code", ATTR_T_INT, 0, &d->code },
    };

    memcpy(spec, s, sizeof(s));
    return sizeof(s) / sizeof(s[0]);
}

#define S(x) x, sizeof(x) - 1

struct bad_case {
    const char *label;
    const char *in;
    size_t len;
    bool close_after;           /* EOF after the bytes */
    int status;
    const char *why;            /* a substring of the error text */
};

static const struct bad_case bad_cases[] = {
    { "unknown", S("name=x\nbogus=1\n\n"), false, ATTR_UNKNOWN,
      "unknown attribute \"bogus\"" },
    { "duplicate", S("name=x\nname=y\n\n"), false, ATTR_DUPLICATE,
      "duplicate attribute \"name\"" },
    { "missing", S("size=1\n\n"), false, ATTR_MISSING,
      "missing attribute \"name\"" },
    { "empty message", S("\n"), false, ATTR_MISSING, "\"name\"" },
    { "not a number", S("name=x\nsize=12x\n\n"), false, ATTR_MALFORMED,
      "\"size\": not a number" },
    { "empty number", S("name=x\ncode=\n\n"), false, ATTR_MALFORMED,
      "\"code\": not a number" },
    { "space before number", S("name=x\ncode= 1\n\n"), false, ATTR_MALFORMED,
      "\"code\": not a number" },
    { "plus sign", S("name=x\ncode=+1\n\n"), false, ATTR_MALFORMED,
      "\"code\": not a number" },
    { "lone minus", S("name=x\ncode=-\n\n"), false, ATTR_MALFORMED,
      "\"code\": not a number" },
    { "negative unsigned", S("name=x\ncount=-1\n\n"), false, ATTR_MALFORMED,
      "\"count\": not a number" },
    { "unsigned overflow", S("name=x\ncount=4294967296\n\n"), false,
      ATTR_MALFORMED, "\"count\": out of range for unsigned" },
    { "int overflow", S("name=x\ncode=2147483648\n\n"), false,
      ATTR_MALFORMED, "\"code\": out of range for int" },
    { "int underflow", S("name=x\ncode=-2147483649\n\n"), false,
      ATTR_MALFORMED, "\"code\": out of range for int" },
    { "long overflow", S("name=x\nsize=99999999999999999999\n\n"), false,
      ATTR_MALFORMED, "\"size\": out of range for long" },
    { "string too long for dest",
      S("name=0123456789abc\n\n"), false,
      ATTR_MALFORMED, "\"name\": value too long" },
    { "crlf line", S("name=x\r\n\n"), false, ATTR_SYNTAX,
      "\"name\": value contains CR" },
    { "bare cr", S("name=a\rb\n\n"), false, ATTR_SYNTAX,
      "\"name\": value contains CR" },
    { "nul", S("name=a\0b\n\n"), false, ATTR_SYNTAX,
      "\"name\": value contains NUL" },
    { "crlf terminator", S("name=x\n\r\n"), false, ATTR_SYNTAX, "CR LF" },
    { "upper-case name", S("Name=x\n\n"), false, ATTR_SYNTAX,
      "bad attribute line \"Name=x\"" },
    { "empty name", S("=x\n\n"), false, ATTR_SYNTAX, "bad attribute line" },
    { "no equals", S("name\n\n"), false, ATTR_SYNTAX, "bad attribute line" },
    { "control in name", S("na\tme=x\n\n"), false, ATTR_SYNTAX,
      "\"na?me=x\"" },
    { "8bit name", S("n\xc3\xa4me=x\n\n"), false, ATTR_SYNTAX,
      "bad attribute line" },
    { "name of 65 bytes",
      S("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=x\n\n"),
      false, ATTR_SYNTAX, "bad attribute line" },
    { "name of 64 bytes is only unknown",
      S("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=x\n\n"),
      false, ATTR_UNKNOWN, "unknown attribute" },
    { "value of 25 bytes (max 24)", S("name=0123456789012345678901234\n\n"),
      false, ATTR_SYNTAX, "\"name\": value longer than 24 bytes" },
    { "too many", S("name=a\nsize=1\ncount=2\ncode=3\n\n"), false,
      ATTR_TOOMANY, "more than 3 attributes" },
    { "missing terminator then eof", S("name=x\n"), true, ATTR_SYNTAX,
      "end of input inside a message" },
    { "eof mid-line", S("name=x"), true, ATTR_SYNTAX,
      "end of input inside a message" },
    { "eof before anything", S(""), true, ATTR_EOF, "end of input" },
    { "missing terminator then silence", S("name=x\n"), false, ATTR_TIMEOUT,
      "timeout" },
};

static void test_strict_errors(void **state)
{
    const attr_opts opts = { .value_max = 24, .count_max = 3 };

    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        attr_spec spec[4];
        struct dests d;
        struct link l;
        strbuf why;
        size_t n;
        int st;

        dests_init(&d);
        n = table(&d, spec);
        sb_init(&why, 200);
        link_open(&l, SHORT_WAIT_MS);
        put(l.fd, c->in, c->len);
        if (c->close_after) {
            assert_int_equal(close(l.fd), 0);
            l.fd = -1;
        }
        st = attr_scan(l.t, &opts, spec, n, &why);
        if (st != c->status)
            fail_msg("%s: status %d (%s), want %d", c->label, st,
                     sb_str(&why), c->status);
        if (strstr(sb_str(&why), c->why) == NULL)
            fail_msg("%s: why \"%s\", want \"%s\"", c->label, sb_str(&why),
                     c->why);
        dests_assert_unchanged(&d, c->label);
        if (st <= ATTR_UNKNOWN && st >= ATTR_MALFORMED) {
            /* a well-formed but wrong message was read whole: in step */
            put(l.fd, S("name=next\n\n"));
            assert_int_equal(attr_scan(l.t, &opts, spec, n, &why), ATTR_OK);
            assert_string_equal(sb_str(&d.name), "next");
        }
        link_close(&l);
        sb_release(&why);
        sb_release(&d.name);
    }
}

/* Values far past the line bound, and a value of exactly value_max. */
static void test_overlong_and_exact(void **state)
{
    const attr_opts opts = { .value_max = 16, .count_max = 10 };
    char big[2000];
    attr_spec spec[4];
    struct dests d;
    struct link l;
    strbuf why;
    size_t n;

    (void)state;
    dests_init(&d);
    n = table(&d, spec);
    sb_init(&why, 200);
    link_open(&l, SHORT_WAIT_MS);
    memcpy(big, "name=", 5);
    memset(big + 5, 'v', sizeof(big) - 5);
    put(l.fd, big, sizeof(big));
    put(l.fd, "\n\n", 2);
    assert_int_equal(attr_scan(l.t, &opts, spec, n, &why), ATTR_SYNTAX);
    assert_non_null(strstr(sb_str(&why), "\"name\": value longer than 16"));
    link_close(&l);

    memset(big, 'n', sizeof(big));              /* no '=' at all */
    link_open(&l, SHORT_WAIT_MS);
    put(l.fd, big, sizeof(big));
    put(l.fd, "\n\n", 2);
    assert_int_equal(attr_scan(l.t, &opts, spec, n, &why), ATTR_SYNTAX);
    assert_non_null(strstr(sb_str(&why), "bad attribute name \"nnnn"));
    assert_true(sb_len(&why) < 120);            /* hostile text is cut */
    dests_assert_unchanged(&d, "overlong");
    link_close(&l);

    sb_release(&d.name);
    sb_init(&d.name, 100);
    link_open(&l, SHORT_WAIT_MS);
    put(l.fd, S("name=0123456789abcdef\n\n"));
    assert_int_equal(attr_scan(l.t, &opts, spec, n, &why), ATTR_OK);
    assert_string_equal(sb_str(&d.name), "0123456789abcdef");
    link_close(&l);
    sb_release(&why);
    sb_release(&d.name);
}

/* Sender to receiver: every type, extremes, two messages back to back. */
static void test_round_trip(void **state)
{
    char wire[256];
    attr_spec spec[4];
    struct dests d;
    struct link l;
    tio *out;
    strbuf why;
    size_t n;
    ssize_t got;

    (void)state;
    dests_init(&d);
    n = table(&d, spec);
    sb_init(&why, 200);
    link_open(&l, LONG_WAIT_MS);
    out = tio_open(l.fd, LONG_WAIT_MS);
    assert_int_equal(attr_print(out, &why,
                                ATTR_SEND_STR("name", "caf\xc3\xa9 =x"),
                                ATTR_SEND_LONG("size", LONG_MIN),
                                ATTR_SEND_UINT("count", UINT_MAX),
                                ATTR_SEND_INT("code", -5),
                                ATTR_SEND_END), ATTR_OK);
    assert_int_equal(attr_print(out, &why, ATTR_SEND_STR("name", ""),
                                ATTR_SEND_END), ATTR_OK);
    assert_int_equal(attr_scan(l.t, NULL, spec, n, &why), ATTR_OK);
    assert_string_equal(sb_str(&d.name), "caf\xc3\xa9 =x");
    assert_true(d.size == LONG_MIN);
    assert_true(d.count == UINT_MAX);
    assert_int_equal(d.code, -5);
    d.code = 7;
    assert_int_equal(attr_scan(l.t, NULL, spec, n, &why), ATTR_OK);
    assert_string_equal(sb_str(&d.name), "");
    assert_int_equal(d.code, 7);                /* optional, absent */
    tio_free(out);

    /* the exact wire shape */
    out = tio_open(l.tfd, LONG_WAIT_MS);
    assert_int_equal(attr_print(out, &why, ATTR_SEND_STR("action", "DUNNO"),
                                ATTR_SEND_UINT("n", 42), ATTR_SEND_END),
                     ATTR_OK);
    got = read(l.fd, wire, sizeof(wire));
    assert_int_equal(got, 19);
    assert_memory_equal(wire, "action=DUNNO\nn=42\n\n", 19);
    tio_free(out);
    link_close(&l);
    sb_release(&why);
    sb_release(&d.name);
}

static void test_print_refuses_bad_values(void **state)
{
    struct link l;
    strbuf why;
    char buf[16];

    (void)state;
    sb_init(&why, 200);
    link_open(&l, LONG_WAIT_MS);
    assert_int_equal(attr_print(l.t, &why, ATTR_SEND_STR("ok", "fine"),
                                ATTR_SEND_STR("bad", "a\nb"), ATTR_SEND_END),
                     ATTR_BADVALUE);
    assert_string_equal(sb_str(&why),
                        "attribute \"bad\": value contains CR or LF");
    assert_int_equal(attr_print(l.t, &why, ATTR_SEND_STR("bad", "a\rb"),
                                ATTR_SEND_END), ATTR_BADVALUE);
    assert_int_equal(tio_unflushed(l.t), 0);
    assert_int_equal(recv(l.fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
    /* the peer is gone */
    assert_int_equal(close(l.fd), 0);
    l.fd = -1;
    assert_int_equal(attr_print(l.t, &why, ATTR_SEND_STR("a", "b"),
                                ATTR_SEND_END), ATTR_IOERR);
    assert_non_null(strstr(sb_str(&why), "write attributes"));
    link_close(&l);
    sb_release(&why);
}

static void test_lax(void **state)
{
    struct link l;
    attr_list out;
    strbuf why;

    (void)state;
    sb_init(&why, 200);
    attr_list_init(&out);
    link_open(&l, LONG_WAIT_MS);
    put(l.fd, S("request=smtpd_access_policy\nX-New.Attr=1\n"
                "recipient=a@x\nrecipient=b@x\n\n"));
    assert_int_equal(attr_scan_lax(l.t, NULL, ATTR_DUP_FIRST, &out, &why),
                     ATTR_OK);
    assert_int_equal(out.count, 3);
    assert_string_equal(attr_list_get(&out, "request"),
                        "smtpd_access_policy");
    assert_string_equal(attr_list_get(&out, "X-New.Attr"), "1");
    assert_string_equal(attr_list_get(&out, "recipient"), "a@x");
    assert_null(attr_list_get(&out, "sender"));

    put(l.fd, S("recipient=a@x\nrecipient=b@x\n\n"));
    assert_int_equal(attr_scan_lax(l.t, NULL, ATTR_DUP_LAST, &out, &why),
                     ATTR_OK);
    assert_int_equal(out.count, 1);
    assert_string_equal(attr_list_get(&out, "recipient"), "b@x");

    put(l.fd, S("recipient=a@x\nrecipient=b@x\n\n"));
    assert_int_equal(attr_scan_lax(l.t, NULL, ATTR_DUP_ERROR, &out, &why),
                     ATTR_DUPLICATE);
    assert_int_equal(out.count, 0);             /* nothing half-filled */

    put(l.fd, S("action=DUNNO\n\n"));         /* still in step after it */
    assert_int_equal(attr_scan_lax(l.t, NULL, ATTR_DUP_ERROR, &out, &why),
                     ATTR_OK);
    assert_string_equal(attr_list_get(&out, "action"), "DUNNO");

    put(l.fd, S("bad name=1\n\n"));
    assert_int_equal(attr_scan_lax(l.t, NULL, ATTR_DUP_FIRST, &out, &why),
                     ATTR_SYNTAX);
    attr_list_clear(&out);
    link_close(&l);

    link_open(&l, SHORT_WAIT_MS);              /* a silent policy server */
    assert_int_equal(attr_scan_lax(l.t, NULL, ATTR_DUP_FIRST, &out, &why),
                     ATTR_TIMEOUT);
    link_close(&l);
    sb_release(&why);
}

/* A list sent by attr_print_list arrives intact through the lax reader. */
static void test_print_list(void **state)
{
    attr_list in, out;
    struct link l;
    tio *w;

    (void)state;
    attr_list_init(&in);
    attr_list_init(&out);
    attr_list_add(&in, "request", "smtpd_access_policy");
    attr_list_add(&in, "etrn_domain", "");
    attr_list_add(&in, "ccert_subject", "Wietse+20Venema");
    link_open(&l, LONG_WAIT_MS);
    w = tio_open(l.fd, LONG_WAIT_MS);
    assert_int_equal(attr_print_list(w, &in, NULL), ATTR_OK);
    assert_int_equal(attr_scan_lax(l.t, NULL, ATTR_DUP_ERROR, &out, NULL),
                     ATTR_OK);
    assert_int_equal(out.count, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(out.items[i].name, in.items[i].name);
        assert_string_equal(out.items[i].value, in.items[i].value);
    }
    tio_free(w);
    attr_list_clear(&in);
    attr_list_clear(&out);
    link_close(&l);
}

static jmp_buf panic_jmp;

static void panic_hook(enum msg_level level)
{
    (void)level;
    longjmp(panic_jmp, 1);
}

/* Program errors (not peer errors) panic. */
static void test_misuse_panics(void **state)
{
    int a, b;
    const attr_spec twice[] = {
        { "x", ATTR_T_INT, 0, &a }, { "x", ATTR_T_INT, 0, &b },
    };
    const attr_spec upper[] = { { "X", ATTR_T_INT, 0, &a } };
    attr_list bad;
    struct link l;

    (void)state;
    msg_open("unit", 0);
    msg_set_fatal_hook(panic_hook);
    link_open(&l, SHORT_WAIT_MS);
    if (setjmp(panic_jmp) == 0) {
        (void)attr_scan(l.t, NULL, twice, 2, NULL);
        fail();
    }
    if (setjmp(panic_jmp) == 0) {
        (void)attr_scan(l.t, NULL, upper, 1, NULL);
        fail();
    }
    attr_list_init(&bad);
    attr_list_add(&bad, "bad name", "x");
    if (setjmp(panic_jmp) == 0) {
        (void)attr_print_list(l.t, &bad, NULL);
        fail();
    }
    attr_list_clear(&bad);
    msg_set_fatal_hook(NULL);
    link_close(&l);
}

struct xtext_case {
    const char *raw;
    size_t len;
    const char *xtext;
};

static const struct xtext_case xtext_cases[] = {
    { S(""), "" },
    { S("abc"), "abc" },
    { S("a+b=c"), "a+2Bb+3Dc" },
    { S("Wietse Venema"), "Wietse+20Venema" },
    { S("\0\x01\x7f\x80\xff"), "+00+01+7F+80+FF" },
    { S("!~<x@y>"), "!~<x@y>" },
};

static const char *const xtext_bad[] = {
    "+4", "+", "+G0", "+4g", "a=b", "a b", "\x80", "a\tb",
};

static void test_xtext(void **state)
{
    strbuf sb;

    (void)state;
    sb_init(&sb, 100);
    for (size_t i = 0; i < sizeof(xtext_cases) / sizeof(xtext_cases[0]);
         i++) {
        const struct xtext_case *c = &xtext_cases[i];

        sb_reset(&sb);
        assert_int_equal(attr_xtext_encode(&sb, c->raw, c->len), 0);
        assert_string_equal(sb_str(&sb), c->xtext);
        sb_reset(&sb);
        assert_int_equal(attr_xtext_decode(&sb, c->xtext, strlen(c->xtext)),
                         0);
        assert_int_equal(sb_len(&sb), c->len);
        assert_memory_equal(sb_str(&sb), c->raw, c->len);
    }
    sb_reset(&sb);
    assert_int_equal(attr_xtext_decode(&sb, S("a+2bb")), 0);   /* lower hex */
    assert_string_equal(sb_str(&sb), "a+b");
    for (size_t i = 0; i < sizeof(xtext_bad) / sizeof(xtext_bad[0]); i++) {
        sb_set(&sb, "keep");
        if (attr_xtext_decode(&sb, xtext_bad[i], strlen(xtext_bad[i])) != -1)
            fail_msg("xtext \"%s\" decoded", xtext_bad[i]);
        assert_string_equal(sb_str(&sb), "keep");
    }
    sb_release(&sb);
    sb_init(&sb, 5);                            /* out's bound */
    sb_set(&sb, "ab");
    assert_int_equal(attr_xtext_encode(&sb, S(" ")), 0);
    assert_int_equal(attr_xtext_encode(&sb, S("x")), -1);
    assert_string_equal(sb_str(&sb), "ab+20");
    sb_release(&sb);
}

static void test_strstatus(void **state)
{
    (void)state;
    assert_string_equal(attr_strstatus(ATTR_OK), "ok");
    assert_string_equal(attr_strstatus(ATTR_MISSING), "missing attribute");
    assert_string_equal(attr_strstatus(ATTR_BADVALUE), "bad value to send");
    assert_string_equal(attr_strstatus(-11), "unknown status");
    assert_string_equal(attr_strstatus(1), "unknown status");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strict_errors),
        cmocka_unit_test(test_overlong_and_exact),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_print_refuses_bad_values),
        cmocka_unit_test(test_lax),
        cmocka_unit_test(test_print_list),
        cmocka_unit_test(test_misuse_panics),
        cmocka_unit_test(test_xtext),
        cmocka_unit_test(test_strstatus),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
