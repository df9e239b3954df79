/*
 * Unit tests for common/addr: RFC 5321 address parsing, quoting, splitting.
 *
 * Every parse case is run on an exact-size heap copy of its input (no NUL
 * after it), so a read past the given length is caught by AddressSanitizer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

#define P   ADDR_P_PATH
#define PO  ADDR_P_PATH_OPTIONAL
#define N   ADDR_P_ALLOW_NULL
#define L   ADDR_P_ALLOW_LOCAL

/* One parse: input (len 0 = strlen), options, and what must come out. */
struct parse_case {
    const char *in;
    size_t len;
    int opts;
    enum addr_err err;
    const char *local;          /* internal local part (ADDR_OK only) */
    const char *domain;
    unsigned flags;
    const char *external;       /* addr_quote of the internal form */
};

static const struct parse_case good_cases[] = {
    /* plain, null sender, routes */
    {"<user@example.com>", 0, P, ADDR_OK, "user", "example.com", 0,
     "user@example.com"},
    {"<>", 0, P | N, ADDR_OK, "", "", ADDR_F_NULL, ""},
    {"", 0, N, ADDR_OK, "", "", ADDR_F_NULL, ""},
    {"<@a,@b:user@c>", 0, P, ADDR_OK, "user", "c", ADDR_F_ROUTE, "user@c"},
    {"<@a.example:user@c>", 0, P, ADDR_OK, "user", "c", ADDR_F_ROUTE,
     "user@c"},
    {"<@[192.0.2.1],@[IPv6:::1]:u@c>", 0, P, ADDR_OK, "u", "c",
     ADDR_F_ROUTE, "u@c"},
    {"@a:user@c", 0, 0, ADDR_OK, "user", "c", ADDR_F_ROUTE, "user@c"},
    /* quoted local parts */
    {"<\"a b\"@x>", 0, P, ADDR_OK, "a b", "x", 0, "\"a b\"@x"},
    {"<\"a\\\"b\"@x>", 0, P, ADDR_OK, "a\"b", "x", 0, "\"a\\\"b\"@x"},
    {"<\"a\\\\b\"@x>", 0, P, ADDR_OK, "a\\b", "x", 0, "\"a\\\\b\"@x"},
    {"<\"abc\"@x>", 0, P, ADDR_OK, "abc", "x", 0, "abc@x"},
    {"<\"a\\bc\"@x>", 0, P, ADDR_OK, "abc", "x", 0, "abc@x"},
    {"<\"a@b\"@x>", 0, P, ADDR_OK, "a@b", "x", 0, "\"a@b\"@x"},
    {"<\"a>b\"@x>", 0, P, ADDR_OK, "a>b", "x", 0, "\"a>b\"@x"},
    {"<\"a.b\"@x>", 0, P, ADDR_OK, "a.b", "x", 0, "a.b@x"},
    /* ordinary local parts that look like routing */
    {"<user%host@x>", 0, P, ADDR_OK, "user%host", "x", 0, "user%host@x"},
    {"<a!b@x>", 0, P, ADDR_OK, "a!b", "x", 0, "a!b@x"},
    {"<a+b=c/d{e}|f~g'h*i?j^k`l#m$n&o@x>", 0, P, ADDR_OK,
     "a+b=c/d{e}|f~g'h*i?j^k`l#m$n&o", "x", 0,
     "a+b=c/d{e}|f~g'h*i?j^k`l#m$n&o@x"},
    /* dots */
    {"<user@example.com.>", 0, P, ADDR_OK, "user", "example.com", 0,
     "user@example.com"},
    {"<user.@x>", 0, P, ADDR_OK, "user.", "x", 0, "\"user.\"@x"},
    {"<.a..b@x>", 0, P, ADDR_OK, ".a..b", "x", 0, "\".a..b\"@x"},
    {"<first.last@sub.example.org>", 0, P, ADDR_OK, "first.last",
     "sub.example.org", 0, "first.last@sub.example.org"},
    /* domains */
    {"<user@[192.0.2.1]>", 0, P, ADDR_OK, "user", "[192.0.2.1]",
     ADDR_F_LITERAL, "user@[192.0.2.1]"},
    {"<user@[IPv6:2001:db8::1]>", 0, P, ADDR_OK, "user",
     "[IPv6:2001:db8::1]", ADDR_F_LITERAL, "user@[IPv6:2001:db8::1]"},
    {"<user@[ipv6:::ffff:192.0.2.1]>", 0, P, ADDR_OK, "user",
     "[ipv6:::ffff:192.0.2.1]", ADDR_F_LITERAL,
     "user@[ipv6:::ffff:192.0.2.1]"},
    {"<a@_dmarc.Example.COM>", 0, P, ADDR_OK, "a", "_dmarc.Example.COM", 0,
     "a@_dmarc.Example.COM"},
    {"<a@x1-2.example>", 0, P, ADDR_OK, "a", "x1-2.example", 0,
     "a@x1-2.example"},
    /* UTF-8 (SMTPUTF8) */
    {"<jos\xc3\xa9@example.com>", 0, P, ADDR_OK, "jos\xc3\xa9",
     "example.com", ADDR_F_UTF8, "jos\xc3\xa9@example.com"},
    {"<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf>", 0,
     P, ADDR_OK, "\xe7\x94\xa8\xe6\x88\xb7",
     "\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf", ADDR_F_UTF8,
     "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf"},
    {"<\"jo s\xc3\xa9\"@x>", 0, P, ADDR_OK, "jo s\xc3\xa9", "x",
     ADDR_F_UTF8, "\"jo s\xc3\xa9\"@x"},
    {"<u@\xf0\x9f\x98\x80.example>", 0, P, ADDR_OK, "u",
     "\xf0\x9f\x98\x80.example", ADDR_F_UTF8, "u@\xf0\x9f\x98\x80.example"},
    {"<@\xc3\xa9.example:u@x>", 0, P, ADDR_OK, "u", "x", ADDR_F_ROUTE,
     "u@x"},
    /* bare and optional brackets */
    {"user@example.com", 0, 0, ADDR_OK, "user", "example.com", 0,
     "user@example.com"},
    {"user", 0, L, ADDR_OK, "user", "", ADDR_F_NODOMAIN, "user"},
    {"<postmaster>", 0, P | L, ADDR_OK, "postmaster", "",
     ADDR_F_NODOMAIN, "postmaster"},
    {"\"a b\"", 0, L, ADDR_OK, "a b", "", ADDR_F_NODOMAIN, "\"a b\""},
    {"user@x", 0, PO, ADDR_OK, "user", "x", 0, "user@x"},
    {"<user@x>", 0, PO, ADDR_OK, "user", "x", 0, "user@x"},
    {"<>", 0, PO | N, ADDR_OK, "", "", ADDR_F_NULL, ""},
    /* the length given is the whole input: what follows is never read */
    {"user@example.comXYZ", 16, 0, ADDR_OK, "user", "example.com", 0,
     "user@example.com"},
};

static const struct parse_case bad_cases[] = {
    /* brackets */
    {"<a@b", 0, P, ADDR_ERR_BRACKET, 0, 0, 0, 0},
    {"a@b>", 0, P, ADDR_ERR_BRACKET, 0, 0, 0, 0},
    {"a@b", 0, P, ADDR_ERR_BRACKET, 0, 0, 0, 0},
    {"<", 0, P, ADDR_ERR_BRACKET, 0, 0, 0, 0},
    {"", 0, P | N, ADDR_ERR_BRACKET, 0, 0, 0, 0},
    {"<a@b>", 4, P, ADDR_ERR_BRACKET, 0, 0, 0, 0},
    {"<a@b> x", 0, P, ADDR_ERR_TRAILING, 0, 0, 0, 0},
    {"<a@b>>", 0, P, ADDR_ERR_TRAILING, 0, 0, 0, 0},
    {"<a@b><c@d>", 0, P, ADDR_ERR_TRAILING, 0, 0, 0, 0},
    {"<a@b>", 0, 0, ADDR_ERR_LOCAL_SYNTAX, 0, 0, 0, 0},
    {"<a@b", 0, PO, ADDR_ERR_BRACKET, 0, 0, 0, 0},
    /* null address */
    {"<>", 0, P, ADDR_ERR_NULL, 0, 0, 0, 0},
    {"", 0, 0, ADDR_ERR_NULL, 0, 0, 0, 0},
    {"<>", 0, PO, ADDR_ERR_NULL, 0, 0, 0, 0},
    /* spaces outside quotes */
    {"<a b@x>", 0, P, ADDR_ERR_LOCAL_SYNTAX, 0, 0, 0, 0},
    {"< a@b>", 0, P, ADDR_ERR_LOCAL_SYNTAX, 0, 0, 0, 0},
    {"<a@b >", 0, P, ADDR_ERR_DOMAIN_SYNTAX, 0, 0, 0, 0},
    {"<a @b>", 0, P, ADDR_ERR_LOCAL_SYNTAX, 0, 0, 0, 0},
    {" a@b", 0, 0, ADDR_ERR_LOCAL_SYNTAX, 0, 0, 0, 0},
    /* local part syntax and quoting */
    {"<a\\@b@x>", 0, P, ADDR_ERR_LOCAL_SYNTAX, 0, 0, 0, 0},
    {"<a(b)@x>", 0, P, ADDR_ERR_LOCAL_SYNTAX, 0, 0, 0, 0},
    {"<a,b@x>", 0, P, ADDR_ERR_LOCAL_SYNTAX, 0, 0, 0, 0},
    {"<a;b@x>", 0, P, ADDR_ERR_LOCAL_SYNTAX, 0, 0, 0, 0},
    {"<a[b@x>", 0, P, ADDR_ERR_LOCAL_SYNTAX, 0, 0, 0, 0},
    {"<\"a\"b@x>", 0, P, ADDR_ERR_LOCAL_SYNTAX, 0, 0, 0, 0},
    {"<a.\"b\"@x>", 0, P, ADDR_ERR_LOCAL_SYNTAX, 0, 0, 0, 0},
    {"<\"a\".b@x>", 0, P, ADDR_ERR_LOCAL_SYNTAX, 0, 0, 0, 0},
    {"<\"a b@x>", 0, P, ADDR_ERR_QUOTE, 0, 0, 0, 0},
    {"\"a b@x", 0, 0, ADDR_ERR_QUOTE, 0, 0, 0, 0},
    {"\"a\\", 0, 0, ADDR_ERR_QUOTE, 0, 0, 0, 0},
    {"\"a\\\xc3\xa9\"@x", 0, 0, ADDR_ERR_QUOTE, 0, 0, 0, 0},
    {"<\"a\\\">", 0, P, ADDR_ERR_QUOTE, 0, 0, 0, 0},
    /* empty local part, missing domain */
    {"<\"\"@x>", 0, P, ADDR_ERR_LOCAL_EMPTY, 0, 0, 0, 0},
    {"<@x>", 0, P, ADDR_ERR_LOCAL_EMPTY, 0, 0, 0, 0},
    {"@x", 0, 0, ADDR_ERR_LOCAL_EMPTY, 0, 0, 0, 0},
    {"<@a:@x>", 0, P, ADDR_ERR_LOCAL_EMPTY, 0, 0, 0, 0},
    {"<@a:>", 0, P, ADDR_ERR_LOCAL_EMPTY, 0, 0, 0, 0},
    {"<user>", 0, P, ADDR_ERR_NO_DOMAIN, 0, 0, 0, 0},
    {"user", 0, 0, ADDR_ERR_NO_DOMAIN, 0, 0, 0, 0},
    {"\"a b\"", 0, 0, ADDR_ERR_NO_DOMAIN, 0, 0, 0, 0},
    /* source routes */
    {"<@a,user@c>", 0, P, ADDR_ERR_ROUTE, 0, 0, 0, 0},
    {"<@a,@b>", 0, P, ADDR_ERR_ROUTE, 0, 0, 0, 0},
    {"<@-a:u@c>", 0, P, ADDR_ERR_ROUTE, 0, 0, 0, 0},
    {"<@:u@c>", 0, P, ADDR_ERR_ROUTE, 0, 0, 0, 0},
    {"<@a,:u@c>", 0, P, ADDR_ERR_ROUTE, 0, 0, 0, 0},
    {"<@[1.2.3.999]:u@c>", 0, P, ADDR_ERR_ROUTE, 0, 0, 0, 0},
    {"<@[1.2.3.4]x:u@c>", 0, P, ADDR_ERR_ROUTE, 0, 0, 0, 0},
    /* domains */
    {"<user@>", 0, P, ADDR_ERR_DOMAIN_SYNTAX, 0, 0, 0, 0},
    {"<user@.>", 0, P, ADDR_ERR_DOMAIN_SYNTAX, 0, 0, 0, 0},
    {"<user@x..>", 0, P, ADDR_ERR_DOMAIN_SYNTAX, 0, 0, 0, 0},
    {"<user@x..y>", 0, P, ADDR_ERR_DOMAIN_SYNTAX, 0, 0, 0, 0},
    {"<user@.x>", 0, P, ADDR_ERR_DOMAIN_SYNTAX, 0, 0, 0, 0},
    {"<user@-x.com>", 0, P, ADDR_ERR_DOMAIN_SYNTAX, 0, 0, 0, 0},
    {"<user@x-.com>", 0, P, ADDR_ERR_DOMAIN_SYNTAX, 0, 0, 0, 0},
    {"<a@b@c>", 0, P, ADDR_ERR_DOMAIN_SYNTAX, 0, 0, 0, 0},
    {"<a@b,c>", 0, P, ADDR_ERR_DOMAIN_SYNTAX, 0, 0, 0, 0},
    {"<a@b:25>", 0, P, ADDR_ERR_DOMAIN_SYNTAX, 0, 0, 0, 0},
    {"<a@x.c\"om>", 0, P, ADDR_ERR_DOMAIN_SYNTAX, 0, 0, 0, 0},
    {"<a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b>",
     0, P, ADDR_ERR_DOMAIN_SYNTAX, 0, 0, 0, 0},        /* 64-octet label */
    /* address literals */
    {"<u@[192.0.2.256]>", 0, P, ADDR_ERR_LITERAL, 0, 0, 0, 0},
    {"<u@[192.0.2]>", 0, P, ADDR_ERR_LITERAL, 0, 0, 0, 0},
    {"<u@[2001:db8::1]>", 0, P, ADDR_ERR_LITERAL, 0, 0, 0, 0},
    {"<u@[IPv6:2001:db8::g]>", 0, P, ADDR_ERR_LITERAL, 0, 0, 0, 0},
    {"<u@[IPv6:192.0.2.1]>", 0, P, ADDR_ERR_LITERAL, 0, 0, 0, 0},
    {"<u@[IPv6:]>", 0, P, ADDR_ERR_LITERAL, 0, 0, 0, 0},
    {"<u@[]>", 0, P, ADDR_ERR_LITERAL, 0, 0, 0, 0},
    {"<u@[1.2.3.4>", 0, P, ADDR_ERR_LITERAL, 0, 0, 0, 0},
    {"<u@[1.2.3.4].>", 0, P, ADDR_ERR_LITERAL, 0, 0, 0, 0},
    {"<u@[tag:foo]>", 0, P, ADDR_ERR_LITERAL, 0, 0, 0, 0},
    {"<u@[ 1.2.3.4]>", 0, P, ADDR_ERR_LITERAL, 0, 0, 0, 0},
    {"<u@[IPv6:1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16]>", 0, P,
     ADDR_ERR_LITERAL, 0, 0, 0, 0},
    /* control bytes, anywhere, even quoted; they win over other errors */
    {"<a\r\n@x>", 0, P, ADDR_ERR_CONTROL, 0, 0, 0, 0},
    {"<a@x>\r\n", 0, P, ADDR_ERR_CONTROL, 0, 0, 0, 0},
    {"<a\0b@x>", 7, P, ADDR_ERR_CONTROL, 0, 0, 0, 0},
    {"<a@x\0>", 6, P, ADDR_ERR_CONTROL, 0, 0, 0, 0},
    {"\0", 1, N, ADDR_ERR_CONTROL, 0, 0, 0, 0},
    {"<\"a\tb\"@x>", 0, P, ADDR_ERR_CONTROL, 0, 0, 0, 0},
    {"<a\x7f@x>", 0, P, ADDR_ERR_CONTROL, 0, 0, 0, 0},
    {"<a\x1b[0m@x>", 0, P, ADDR_ERR_CONTROL, 0, 0, 0, 0},
    {"<a\xc2\x85@x>", 0, P, ADDR_ERR_CONTROL, 0, 0, 0, 0},   /* U+0085 */
    {"a@b\n", 0, 0, ADDR_ERR_CONTROL, 0, 0, 0, 0},
    /* invalid UTF-8 */
    {"<a\xff@x>", 0, P, ADDR_ERR_UTF8, 0, 0, 0, 0},
    {"<a\x80@x>", 0, P, ADDR_ERR_UTF8, 0, 0, 0, 0},
    {"<a\xc0\xaf@x>", 0, P, ADDR_ERR_UTF8, 0, 0, 0, 0},      /* overlong */
    {"<a\xe0\x80\xaf@x>", 0, P, ADDR_ERR_UTF8, 0, 0, 0, 0},  /* overlong */
    {"<a\xed\xa0\x80@x>", 0, P, ADDR_ERR_UTF8, 0, 0, 0, 0},  /* surrogate */
    {"<a\xf4\x90\x80\x80@x>", 0, P, ADDR_ERR_UTF8, 0, 0, 0, 0},
    {"<a@x\xe4\xbd", 0, P, ADDR_ERR_UTF8, 0, 0, 0, 0},       /* cut */
    {"a@x\xc3", 0, 0, ADDR_ERR_UTF8, 0, 0, 0, 0},
    {"<\"\xe9\"@x>", 0, P, ADDR_ERR_UTF8, 0, 0, 0, 0},        /* Latin-1 */
    /* the length given is the whole input */
    {"a@b\xc3\xa9", 4, 0, ADDR_ERR_UTF8, 0, 0, 0, 0},
};

/* check_internal - the addr holds exactly the expected parts and flags. */
static void check_internal(const addr *a, const struct parse_case *c)
{
    assert_string_equal(sb_str(&a->local), c->local);
    assert_string_equal(sb_str(&a->domain), c->domain);
    assert_int_equal(a->flags, c->flags);
}

/* parse_exact - parse from a heap copy of exactly len bytes. */
static enum addr_err parse_exact(addr *a, const char *s, size_t len, int opts)
{
    char *copy = xmalloc(len > 0 ? len : 1);
    enum addr_err err;

    memcpy(copy, s, len);
    err = addr_parse(a, copy, len, opts);
    free(copy);
    return err;
}

/* shown - a printable copy of a case's input for progress lines. */
static const char *shown(strbuf *sb, const char *s, size_t len)
{
    sb_reset(sb);
    for (size_t i = 0; i < len; i++)
        if (sb_printf(sb, (unsigned char)s[i] < 0x20 || s[i] == 0x7f
                      ? "\\x%02x" : "%c", (unsigned char)s[i]) != 0)
            break;
    return sb_str(sb);
}

/* case_len - the input length of a case. */
static size_t case_len(const struct parse_case *c)
{
    return c->len != 0 ? c->len : strlen(c->in);
}

static void test_parse_good_and_round_trip(void **state)
{
    addr a, b;
    strbuf internal, external, again;

    (void)state;
    addr_init(&a);
    addr_init(&b);
    sb_init(&internal, 1024);
    sb_init(&external, 1024);
    sb_init(&again, 1024);
    for (size_t i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
        const struct parse_case *c = &good_cases[i];
        int bare = c->opts & (N | L);

        print_message("good case %zu: %s\n", i, c->in);
        assert_int_equal(parse_exact(&a, c->in, case_len(c), c->opts),
                         ADDR_OK);
        check_internal(&a, c);
        sb_reset(&internal);
        sb_reset(&external);
        assert_int_equal(addr_internal(&a, &internal), 0);
        assert_int_equal(addr_quote(&external, sb_str(&internal),
                                    sb_len(&internal)), 0);
        assert_string_equal(sb_str(&external), c->external);

        /* external -> internal -> external is stable, bare and bracketed */
        assert_int_equal(parse_exact(&b, sb_str(&external),
                                     sb_len(&external), bare), ADDR_OK);
        assert_int_equal(b.flags, c->flags & (unsigned)~ADDR_F_ROUTE);
        sb_reset(&again);
        assert_int_equal(addr_internal(&b, &again), 0);
        assert_string_equal(sb_str(&again), sb_str(&internal));
        sb_reset(&again);
        assert_int_equal(sb_printf(&again, "<%s>", sb_str(&external)), 0);
        assert_int_equal(parse_exact(&b, sb_str(&again), sb_len(&again),
                                     P | bare), ADDR_OK);
        sb_reset(&again);
        assert_int_equal(addr_internal(&b, &again), 0);
        assert_string_equal(sb_str(&again), sb_str(&internal));
    }
    sb_release(&internal);
    sb_release(&external);
    sb_release(&again);
    addr_release(&a);
    addr_release(&b);
}

static void test_parse_bad(void **state)
{
    addr a;
    strbuf show;

    (void)state;
    addr_init(&a);
    sb_init(&show, 1024);
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct parse_case *c = &bad_cases[i];

        print_message("bad case %zu: %s\n", i,
                      shown(&show, c->in, case_len(c)));
        /* a previous good parse must not survive a failed one */
        assert_int_equal(addr_parse(&a, "<\"x y\"@z>", 9, P), ADDR_OK);
        assert_int_equal(parse_exact(&a, c->in, case_len(c), c->opts),
                         c->err);
        assert_int_equal(sb_len(&a.local), 0);
        assert_int_equal(sb_len(&a.domain), 0);
        assert_int_equal(a.flags, 0);
    }
    sb_release(&show);
    addr_release(&a);
}

/* build_domain - a host name of exactly n octets (60-octet labels). */
static void build_domain(strbuf *sb, size_t n)
{
    size_t label = 0;

    for (size_t i = 0; i < n; i++) {
        bool dot = label == 60 && i + 1 < n;

        assert_int_equal(sb_putc(sb, dot ? '.' : 'd'), 0);
        label = dot ? 0 : label + 1;
    }
}

static void test_length_limits(void **state)
{
    static const struct {
        size_t local, domain;   /* octets of each part */
        int opts;
        enum addr_err err;
    } cases[] = {
        {64, 10, P, ADDR_OK},
        {65, 10, P, ADDR_ERR_LOCAL_TOO_LONG},
        {1000, 10, 0, ADDR_ERR_LOCAL_TOO_LONG},
        {1, 250, 0, ADDR_OK},               /* 1 + 1 + 250 + 2 = 254 */
        {1, 252, 0, ADDR_OK},               /* bare counts "<>": 256 */
        {1, 253, 0, ADDR_ERR_PATH_TOO_LONG},
        {1, 252, P, ADDR_OK},               /* "<" 1 "@" 252 ">" = 256 */
        {1, 253, P, ADDR_ERR_PATH_TOO_LONG},
        {64, 189, P, ADDR_OK},              /* 2 + 64 + 1 + 189 = 256 */
        {64, 190, P, ADDR_ERR_PATH_TOO_LONG},
        {1, 255, P, ADDR_ERR_PATH_TOO_LONG},
        {1, 256, P, ADDR_ERR_DOMAIN_TOO_LONG},
        {1, 5000, 0, ADDR_ERR_DOMAIN_TOO_LONG},
        {65, 256, P, ADDR_ERR_LOCAL_TOO_LONG},  /* local checked first */
    };
    addr a;
    strbuf sb;

    (void)state;
    addr_init(&a);
    sb_init(&sb, SB_NOLIMIT);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sb_reset(&sb);
        if (cases[i].opts & P)
            assert_int_equal(sb_putc(&sb, '<'), 0);
        for (size_t k = 0; k < cases[i].local; k++)
            assert_int_equal(sb_putc(&sb, 'l'), 0);
        assert_int_equal(sb_putc(&sb, '@'), 0);
        build_domain(&sb, cases[i].domain);
        if (cases[i].opts & P)
            assert_int_equal(sb_putc(&sb, '>'), 0);
        print_message("length case %zu\n", i);
        assert_int_equal(parse_exact(&a, sb_str(&sb), sb_len(&sb),
                                     cases[i].opts), cases[i].err);
        if (cases[i].err == ADDR_OK) {
            assert_int_equal(sb_len(&a.local), cases[i].local);
            assert_int_equal(sb_len(&a.domain), cases[i].domain);
        }
        assert_int_equal(addr_err_too_long(cases[i].err),
                         cases[i].err != ADDR_OK);
    }
    /* a quoted local part is measured as written, quotes included */
    sb_reset(&sb);
    assert_int_equal(sb_printf(&sb, "\"%062d\"@x", 0), 0);
    assert_int_equal(parse_exact(&a, sb_str(&sb), sb_len(&sb), 0), ADDR_OK);
    sb_reset(&sb);
    assert_int_equal(sb_printf(&sb, "\"%063d\"@x", 0), 0);
    assert_int_equal(parse_exact(&a, sb_str(&sb), sb_len(&sb), 0),
                     ADDR_ERR_LOCAL_TOO_LONG);
    sb_release(&sb);
    addr_release(&a);
}

static void test_path_len(void **state)
{
    static const struct {
        const char *in;
        size_t want;
    } cases[] = {
        {"<a@b> SIZE=10", 5},
        {"<\"a>b\"@x> SIZE=1", 9},
        {"<\"a\\\">\"@x> BODY=8BITMIME", 10},
        {"<> AUTH=<>", 2},
        {"<a@b", 0},
        {"a@b> x", 0},
        {"", 0},
        {"<\"a>", 0},
        {"<\"a\\", 0},
        {"<a\"b>c\"@x> SIZE=1", 5},          /* a quote mid-word is no quote */
        {"<@a:\"b>c\"@x> SIZE=1", 12},       /* after a route it is */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = strlen(cases[i].in);
        char *copy = xmalloc(len > 0 ? len : 1);

        memcpy(copy, cases[i].in, len);
        assert_int_equal(addr_path_len(copy, len), cases[i].want);
        free(copy);
    }
}

static void test_quote(void **state)
{
    static const struct {
        const char *internal;
        const char *external;
    } cases[] = {
        {"a b@x", "\"a b\"@x"},
        {"a\"b@x", "\"a\\\"b\"@x"},
        {"a\\b@x", "\"a\\\\b\"@x"},
        {"a@b@x", "\"a@b\"@x"},
        {"user", "user"},
        {"a b", "\"a b\""},
        {"", ""},
        {"@x", "\"\"@x"},
        {"user.@x", "\"user.\"@x"},
        {".user@x", "\".user\"@x"},
        {"a..b@x", "\"a..b\"@x"},
        {"a.b.c@x", "a.b.c@x"},
        {"user@[192.0.2.1]", "user@[192.0.2.1]"},
        {"a(b)@x", "\"a(b)\"@x"},
        {"jos\xc3\xa9@x", "jos\xc3\xa9@x"},
    };
    strbuf out, small;

    (void)state;
    sb_init(&out, 100);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sb_reset(&out);
        assert_int_equal(addr_quote(&out, cases[i].internal,
                                    strlen(cases[i].internal)), 0);
        assert_string_equal(sb_str(&out), cases[i].external);
    }
    /* appends; a full buffer leaves what was there */
    sb_init(&small, 8);
    assert_int_equal(sb_puts(&small, "to="), 0);
    assert_int_equal(addr_quote(&small, "a@b", 3), 0);
    assert_string_equal(sb_str(&small), "to=a@b");
    assert_int_equal(addr_quote(&small, "a b@c", 5), -1);
    assert_string_equal(sb_str(&small), "to=a@b");
    assert_int_equal(addr_quote(&small, "abc@x", 5), -1);
    assert_string_equal(sb_str(&small), "to=a@b");
    sb_release(&small);
    sb_release(&out);

    assert_true(addr_is_dot_atom("a.b", 3));
    assert_false(addr_is_dot_atom("a.b.", 3 + 1));
    assert_true(addr_is_dot_atom("a.b.", 3));      /* only len bytes count */
    assert_false(addr_is_dot_atom("", 0));
}

static void test_internal_and_lower(void **state)
{
    addr a;
    strbuf out, tiny;

    (void)state;
    addr_init(&a);
    sb_init(&out, 300);
    assert_int_equal(addr_parse(&a, "<\"A b\"@Ex\xc3\x89.COM.>",
                                strlen("<\"A b\"@Ex\xc3\x89.COM.>"), P),
                     ADDR_OK);
    addr_lower_domain(&a);
    assert_string_equal(sb_str(&a.domain), "ex\xc3\x89.com");
    assert_string_equal(sb_str(&a.local), "A b");     /* local kept */
    assert_int_equal(addr_internal(&a, &out), 0);
    assert_string_equal(sb_str(&out), "A b@ex\xc3\x89.com");

    assert_int_equal(addr_parse(&a, "<>", 2, P | N), ADDR_OK);
    sb_reset(&out);
    assert_int_equal(addr_internal(&a, &out), 0);
    assert_string_equal(sb_str(&out), "");

    assert_int_equal(addr_parse(&a, "<a@b.c>", 7, P), ADDR_OK);
    sb_init(&tiny, 4);
    assert_int_equal(sb_puts(&tiny, "x"), 0);
    assert_int_equal(addr_internal(&a, &tiny), -1);
    assert_string_equal(sb_str(&tiny), "x");
    sb_release(&tiny);
    sb_release(&out);
    addr_release(&a);
}

static void test_split(void **state)
{
    static const struct {
        const char *in;
        bool found;
        size_t local_len;
        const char *domain;
    } cases[] = {
        {"user@example.com", true, 4, "example.com"},
        {"a@b@example.com", true, 3, "example.com"},
        {"user", false, 4, ""},
        {"user@", true, 4, ""},
        {"@x", true, 0, "x"},
        {"", false, 0, ""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t llen = 99, dlen = 99;
        const char *dom = NULL;
        size_t len = strlen(cases[i].in);

        assert_int_equal(addr_split(cases[i].in, len, &llen, &dom, &dlen),
                         cases[i].found);
        assert_int_equal(llen, cases[i].local_len);
        assert_int_equal(dlen, strlen(cases[i].domain));
        assert_memory_equal(dom, cases[i].domain, dlen);
    }
}

static void test_split_ext(void **state)
{
    static const struct {
        const char *local;
        const char *delims;
        bool owner_request;
        bool split;
        size_t base_len;
    } cases[] = {
        {"user+ext", "+", true, true, 4},
        {"user+a+b", "+", true, true, 4},
        {"user-ext", "+-", true, true, 4},
        {"a-b+c", "+-", true, true, 1},
        {"a+b-c", "-+", true, true, 1},
        {"user+", "+", true, true, 4},
        {"user", "+", true, false, 0},
        {"+ext", "+", true, false, 0},
        {"user+ext", "", true, false, 0},
        {"user+ext", NULL, true, false, 0},
        {"", "+", true, false, 0},
        {"owner-list", "-", true, false, 0},
        {"OWNER-list", "-", true, false, 0},
        {"list-request", "-", true, false, 0},
        {"list-Request", "+-", true, false, 0},
        {"owner-list", "-", false, true, 5},
        {"list-request", "-", false, true, 4},
        {"owner-list+x", "+", true, true, 10},
        {"user.ext", ".", true, true, 4},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t base = 99;
        bool got = addr_split_ext(cases[i].local, strlen(cases[i].local),
                                  cases[i].delims, cases[i].owner_request,
                                  &base);

        print_message("split_ext case %zu: %s\n", i, cases[i].local);
        assert_int_equal(got, cases[i].split);
        if (got)
            assert_int_equal(base, cases[i].base_len);
    }
    /* the length bounds the search: a delimiter past it is not seen */
    {
        size_t base = 99;

        assert_false(addr_split_ext("user+ext", 4, "+", true, &base));
    }
}

static void test_strerror(void **state)
{
    (void)state;
    for (int i = 0; i < ADDR_ERR_COUNT; i++) {
        const char *t = addr_strerror((enum addr_err)i);

        assert_non_null(t);
        assert_true(strlen(t) > 5);
        for (int k = 0; k < i; k++)
            assert_string_not_equal(t, addr_strerror((enum addr_err)k));
    }
    assert_string_equal(addr_strerror(ADDR_ERR_COUNT),
                        "unknown address error");
    assert_string_equal(addr_strerror(ADDR_ERR_PATH_TOO_LONG),
                        "address is longer than 256 octets");
    assert_false(addr_err_too_long(ADDR_ERR_LOCAL_SYNTAX));
    assert_true(addr_err_too_long(ADDR_ERR_DOMAIN_TOO_LONG));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good_and_round_trip),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_length_limits),
        cmocka_unit_test(test_path_len),
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_internal_and_lower),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_split_ext),
        cmocka_unit_test(test_strerror),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
