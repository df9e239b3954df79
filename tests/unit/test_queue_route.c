/*
 * Unit tests for queue/route: address classes, transport(5) key and result
 * forms, parent-domain matching both ways, sender-dependent relayhost and
 * default transport, relayhost forms, nexthop parsing (good and bad), lookup
 * errors as temporary failures, malformed recipients, and the explain text.
 * Each configuration is a main.cf + master.cf written to a temp directory;
 * tables are texthash: files under TERN_TEST_DATA/route, inline: or fail:.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/strbuf.h"
#include "conf/conf.h"
#include "queue/route.h"
#include "testutil.h"

#define D TERN_TEST_DATA "/route/"

static const char master_cf[] =
    "smtp      unix  -       -       n       -       -       smtp\n"
    "relay     unix  -       -       n       -       -       smtp\n"
    "lmtp      unix  -       -       n       -       -       lmtp\n"
    "virtual   unix  -       n       n       -       -       virtual\n"
    "error     unix  -       -       n       -       -       error\n"
    "retry     unix  -       -       n       -       -       error\n"
    "discard   unix  -       -       n       -       -       discard\n"
    "relaylim  unix  -       -       n       -       -       smtp\n"
    "  -o relaylim_destination_concurrency_limit=1\n"
    "oneshot   unix  -       -       n       -       -       smtp\n"
    "special   unix  -       -       n       -       -       smtp\n"
    "wild      unix  -       -       n       -       -       smtp\n"
    "mydomain.com-out unix -  -       n       -       -       smtp\n"
    "  -o smtp_helo_name=mydomain.com\n";

#define BASE \
    "myhostname = mx.example.net\n" \
    "mydomain = example.net\n" \
    "mydestination = $myhostname, localhost.$mydomain, localhost,\n" \
    "    .sub.example.net, " D "mydestination\n" \
    "virtual_alias_domains = alias.example, inline:{valias.example=x}\n" \
    "virtual_mailbox_domains = vmail.example\n" \
    "relay_domains = !not.relay.example, relay.example, texthash:" D \
    "relay_domains\n" \
    "recipient_delimiter = +\n" \
    "sender_dependent_relayhost_maps = texthash:" D "sender_relay\n" \
    "sender_dependent_default_transport_maps = texthash:" D \
    "sender_transport\n"
#define TMAPS "transport_maps = texthash:" D "transport\n"

enum {
    C_BASE, C_RELAYHOST, C_WILD, C_PARENT, C_NOPARENT, C_FAIL_XPORT,
    C_FAIL_RELAYDOM, C_FAIL_SENDER, C_BADHOP1, C_BADHOP2, C_BADHOP3,
    C_MISSING, C_PARAMS, C_FAIL_SDDT, C_NULLKEY, C_NCONF
};

static const char *const configs[C_NCONF] = {
    [C_BASE] = BASE TMAPS,
    [C_RELAYHOST] = BASE TMAPS "relayhost = [mail.relay.com]:587\n",
    [C_WILD] = BASE "transport_maps = texthash:" D "transport_wild\n",
    [C_PARENT] = BASE TMAPS
        "parent_domain_matches_subdomains = transport_maps, relay_domains\n",
    [C_NOPARENT] = BASE TMAPS "parent_domain_matches_subdomains =\n",
    [C_FAIL_XPORT] = BASE "transport_maps = fail:broken\n",
    [C_FAIL_RELAYDOM] = BASE TMAPS "relay_domains = fail:broken\n",
    [C_FAIL_SENDER] = BASE TMAPS "sender_dependent_relayhost_maps = fail:x\n",
    [C_BADHOP1] = BASE "relayhost = [unterminated\n",
    [C_BADHOP2] = BASE "relayhost = host:99999\n",
    [C_BADHOP3] = BASE "relayhost = [IPv6:garbage]\n",
    [C_MISSING] = BASE "transport_maps = texthash:" D "no-such-table\n",
    [C_PARAMS] = BASE "relay_transport = relay:[relay.gw]:2525\n"
        "local_transport = local\n"
        "default_transport = error:no remote mail\n",
    [C_FAIL_SDDT] = BASE "sender_dependent_default_transport_maps = fail:x\n",
    [C_NULLKEY] = BASE TMAPS "relayhost = [mail.relay.com]:587\n"
        "sender_dependent_relayhost_maps = inline:{<>=[bounce.relay]}\n",
};

struct fixture {
    char dir[64];
    conf *conf[C_NCONF];
    route_ctx *rc[C_NCONF];
};

/* load_conf - a conf from main.cf text (and the test master.cf). */
static conf *load_conf(const char *dir, const char *main_cf)
{
    return tu_conf_clean(dir, main_cf, master_cf);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    strbuf err;

    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof(f->dir), "/tmp/route-test.XXXXXX");
    sb_init(&err, 4096);
    for (int i = 0; i < C_NCONF; i++) {
        f->conf[i] = load_conf(f->dir, configs[i]);
        f->rc[i] = route_open(f->conf[i], &err);
        if (f->rc[i] == NULL)
            fprintf(stderr, "config %d: %s\n", i, sb_str(&err));
        assert_non_null(f->rc[i]);
    }
    sb_release(&err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    for (int i = 0; i < C_NCONF; i++) {
        route_close(f->rc[i]);
        conf_free(f->conf[i]);
    }
    tu_rm_rf(f->dir);
    free(f);
    return 0;
}

/* One routing case; NULL fields are not checked. */
struct rcase {
    int cfg;
    const char *rcpt, *sender;
    enum route_status st;
    enum route_class cls;
    const char *transport, *nexthop;
    const char *xp_why;         /* why_transport: "param" or "param|key" */
    const char *hop_why;        /* why_nexthop: "param|key" or "-" (default) */
    const char *host;           /* parsed hop host */
    unsigned port;
    int mx;                     /* -1: not checked */
    const char *err;            /* substring of r.error when st != OK */
};

#define OK ROUTE_OK
#define L ROUTE_CLASS_LOCAL
#define A ROUTE_CLASS_ALIAS
#define V ROUTE_CLASS_VIRTUAL
#define R ROUTE_CLASS_RELAY
#define DF ROUTE_CLASS_DEFAULT

static const struct rcase cases[] = {
    /* Address classes and their transport parameters. */
    {C_BASE, "u@mx.example.net", "", OK, L, "local", "mx.example.net",
     "local_transport", "local_transport", NULL, 0, -1, NULL},
    {C_BASE, "u@localhost.example.net", "", OK, L, "local", "mx.example.net",
     NULL, NULL, NULL, 0, -1, NULL},
    {C_BASE, "U@LocalHost", "", OK, L, "local", NULL, NULL, NULL, NULL, 0, -1,
     NULL},
    {C_BASE, "root", "", OK, L, "local", "mx.example.net", NULL, NULL, NULL, 0,
     -1, NULL},
    {C_BASE, "u@a.sub.example.net", "", OK, L, "local", NULL, NULL, NULL, NULL,
     0, -1, NULL},
    {C_BASE, "u@sub.example.net", "", OK, DF, "smtp", "sub.example.net", NULL,
     NULL, NULL, 0, -1, NULL},                  /* ".sub" = subdomains only */
    {C_BASE, "u@filedest.example", "", OK, L, "local", NULL, NULL, NULL, NULL,
     0, -1, NULL},                              /* from a /file item */
    {C_BASE, "u@other-filedest.example", "", OK, L, NULL, NULL, NULL, NULL,
     NULL, 0, -1, NULL},
    {C_BASE, "u@[127.0.0.1]", "", OK, L, "local", NULL, NULL, NULL, NULL, 0,
     -1, NULL},                                 /* own address literal */
    {C_BASE, "u@[192.0.2.77]", "", OK, DF, "smtp", "[192.0.2.77]", NULL,
     NULL, "192.0.2.77", 25, 0, NULL},
    {C_BASE, "u@alias.example", "", OK, A, "error",
     "5.1.1 User unknown in virtual alias table", "-", "-", NULL, 0, -1,
     NULL},                                     /* transport_maps not used */
    {C_BASE, "u@valias.example", "", OK, A, "error", NULL, NULL, NULL, NULL, 0,
     -1, NULL},
    {C_BASE, "u@vmail.example", "", OK, V, "virtual", "vmail.example",
     "virtual_transport", "-", NULL, 0, -1, NULL},
    {C_BASE, "u@x.vmail.example", "", OK, DF, "smtp", NULL, NULL, NULL, NULL,
     0, -1, NULL},                              /* exact-name list */
    {C_BASE, "u@relay.example", "", OK, R, "relay", "relay.example",
     "relay_transport", "-", "relay.example", 25, 1, NULL},
    {C_BASE, "u@x.relay.example", "", OK, R, "relay", "x.relay.example", NULL,
     NULL, NULL, 0, -1, NULL},                  /* parent style by default */
    {C_BASE, "u@not.relay.example", "", OK, DF, "smtp", NULL, NULL, NULL,
     NULL, 0, -1, NULL},                        /* "!" excludes */
    {C_BASE, "u@tabrelay.example", "", OK, R, "relay", NULL, NULL, NULL, NULL,
     0, -1, NULL},                              /* table in the list */
    {C_BASE, "u@sub.tabrelay.example", "", OK, R, NULL, NULL, NULL, NULL, NULL,
     0, -1, NULL},
    {C_NOPARENT, "u@x.relay.example", "", OK, DF, "smtp", NULL, NULL, NULL,
     NULL, 0, -1, NULL},
    {C_NOPARENT, "u@relay.example", "", OK, R, NULL, NULL, NULL, NULL, NULL,
     0, -1, NULL},
    {C_BASE, "u@other.org", "", OK, DF, "smtp", "other.org",
     "default_transport", "-", "other.org", 25, 1, NULL},
    /* transport(5) keys: domain, .domain, user+ext@domain, user@domain. */
    {C_BASE, "u@yahoo.com", "", OK, DF, "relaylim", "yahoo.com",
     "transport_maps|yahoo.com", "-", "yahoo.com", 25, 1, NULL},
    {C_BASE, "u@mx.yahoo.com", "", OK, DF, "smtp", NULL, NULL, NULL, NULL, 0,
     -1, NULL},                         /* no parent match for transport_maps */
    {C_BASE, "u@mail.ru", "", OK, DF, "oneshot", "mail.ru",
     "transport_maps|.ru", NULL, NULL, 0, -1, NULL},
    {C_BASE, "u@ru", "", OK, DF, "smtp", NULL, NULL, NULL, NULL, 0, -1, NULL},
    {C_BASE, "u@example.com", "", OK, DF, "error", "Bad domain!",
     "transport_maps|example.com", "transport_maps|example.com", "Bad domain!",
     0, -1, NULL},
    {C_BASE, "u@a.b.example.com", "", OK, DF, "error", "Bad domain!",
     "transport_maps|.example.com", NULL, NULL, 0, -1, NULL},
    {C_BASE, "user+special@ext.example", "", OK, DF, "special",
     "[10.0.0.1]:2525", "transport_maps|user+special@ext.example", NULL,
     "10.0.0.1", 2525, 0, NULL},
    {C_BASE, "user+other@ext.example", "", OK, DF, "smtp", "[user.host]",
     "transport_maps|user@ext.example", NULL, "user.host", 25, 0, NULL},
    {C_BASE, "user@ext.example", "", OK, DF, "smtp", "[user.host]", NULL, NULL,
     NULL, 0, -1, NULL},
    {C_BASE, "someone@ext.example", "", OK, DF, "smtp", "ext.example",
     "default_transport", NULL, NULL, 0, -1, NULL},
    {C_WILD, "u@anything.example", "", OK, DF, "wild", "[wild.host]",
     "transport_maps|*", "transport_maps|*", "wild.host", 25, 0, NULL},
    {C_WILD, "u@special.example", "", OK, DF, "smtp", "special.example",
     "transport_maps|special.example", "-", NULL, 0, -1, NULL},
    {C_WILD, "u@mx.example.net", "", OK, L, "wild", NULL, NULL, NULL, NULL, 0,
     -1, NULL},                         /* transport_maps override local too */
    /* Parent-domain matching both ways. */
    {C_BASE, "u@sub.parentish.example", "", OK, DF, "smtp",
     "sub.parentish.example", NULL, NULL, NULL, 0, -1, NULL},
    {C_PARENT, "u@sub.parentish.example", "", OK, DF, "smtp", "[parent.host]",
     "transport_maps|parentish.example", NULL, NULL, 0, -1, NULL},
    {C_PARENT, "u@mail.ru", "", OK, DF, "smtp", "mail.ru", NULL, NULL, NULL, 0,
     -1, NULL},                         /* ".ru" is not a parent-style key */
    /* transport(5) result forms. */
    {C_RELAYHOST, "u@yahoo.com", "", OK, DF, "relaylim", "yahoo.com", NULL,
     "-", NULL, 0, -1, NULL},           /* "transport:" resets the nexthop */
    {C_RELAYHOST, "u@colon.example", "", OK, DF, "smtp", "[only.nexthop]:26",
     "default_transport", "transport_maps|colon.example", "only.nexthop", 26,
     0, NULL},                          /* ":nexthop" keeps the transport */
    {C_RELAYHOST, "u@noop.example", "", OK, DF, "smtp", "[mail.relay.com]:587",
     "default_transport", "relayhost", "mail.relay.com", 587, 0, NULL},
    {C_BASE, "u@host.example", "", OK, DF, "smtp", "mx.host.example:2525",
     NULL, NULL, "mx.host.example", 2525, 1, NULL},
    {C_BASE, "u@lit4.example", "", OK, DF, "relay", "[192.0.2.1]", NULL, NULL,
     "192.0.2.1", 25, 0, NULL},
    {C_BASE, "u@lit6.example", "", OK, DF, "relay", "[IPv6:2001:db8::1]",
     NULL, NULL, "2001:db8::1", 25, 0, NULL},
    {C_BASE, "u@lmtp.example", "", OK, DF, "lmtp", "unix:/var/run/lmtp.sock",
     NULL, NULL, "/var/run/lmtp.sock", 0, 0, NULL},
    {C_BASE, "u@lmtpinet.example", "", OK, DF, "lmtp", NULL, NULL, NULL,
     "lmtp.host", 24, 0, NULL},
    {C_BASE, "u@lmtpbare.example", "", OK, DF, "lmtp", NULL, NULL, NULL,
     "lmtp.host", 24, 0, NULL},         /* LMTP: no MX, port 24 */
    {C_BASE, "u@discard.example", "", OK, DF, "discard", "discard.example",
     NULL, NULL, NULL, 0, -1, NULL},
    {C_BASE, "u@localx.example", "", OK, DF, "local", "localx.example", NULL,
     NULL, NULL, 0, -1, NULL},
    {C_BASE, "u@errnotext.example", "", OK, DF, "error",
     "Address is undeliverable", NULL, "-", NULL, 0, -1, NULL},
    {C_BASE, "u@retry.example", "", OK, DF, "retry",
     "Address is undeliverable", NULL, NULL, NULL, 0, -1, NULL},
    /* Sender-dependent default transport (the mydomain.com-out recipe). */
    {C_BASE, "u@other.org", "a@mydomain.com", OK, DF, "mydomain.com-out",
     "other.org", "sender_dependent_default_transport_maps|@mydomain.com", "-",
     NULL, 0, -1, NULL},
    {C_RELAYHOST, "u@other.org", "a@mydomain.com", OK, DF, "mydomain.com-out",
     "[mail.relay.com]:587", NULL, "relayhost", NULL, 0, -1, NULL},
    {C_BASE, "u@other.org", "special@mydomain.com", OK, DF, "special",
     "[special.out]", NULL,
     "sender_dependent_default_transport_maps|special@mydomain.com", NULL, 0,
     -1, NULL},
    {C_BASE, "u@other.org", "a@dunno.example", OK, DF, "smtp", NULL,
     "default_transport", NULL, NULL, 0, -1, NULL},
    {C_BASE, "u@yahoo.com", "a@mydomain.com", OK, DF, "relaylim", NULL, NULL,
     NULL, NULL, 0, -1, NULL},          /* transport_maps win */
    {C_BASE, "u@relay.example", "a@mydomain.com", OK, R, "relay", NULL, NULL,
     NULL, NULL, 0, -1, NULL},          /* default class only */
    /* Sender-dependent relayhost and relayhost. */
    {C_RELAYHOST, "u@other.org", "vip@sender.example", OK, DF, "smtp",
     "[vip.relay]:2525", NULL,
     "sender_dependent_relayhost_maps|vip@sender.example", "vip.relay", 2525,
     0, NULL},
    {C_RELAYHOST, "u@other.org", "vip+tag@sender.example", OK, DF, "smtp",
     "[vip.relay]:2525", NULL,
     "sender_dependent_relayhost_maps|vip@sender.example", NULL, 0, -1, NULL},
    {C_RELAYHOST, "u@other.org", "x@sender.example", OK, DF, "smtp",
     "[sender.relay]", NULL, "sender_dependent_relayhost_maps|@sender.example",
     NULL, 0, -1, NULL},
    {C_RELAYHOST, "u@other.org", "dunno@sender.example", OK, DF, "smtp",
     "[mail.relay.com]:587", NULL, "relayhost", NULL, 0, -1, NULL},
    {C_NULLKEY, "u@other.org", "", OK, DF, "smtp", "[bounce.relay]", NULL,
     "sender_dependent_relayhost_maps|<>", NULL, 0, -1, NULL},
    {C_NULLKEY, "u@other.org", "a@b.example", OK, DF, "smtp",
     "[mail.relay.com]:587", NULL, "relayhost", NULL, 0, -1, NULL},
    {C_RELAYHOST, "u@relay.example", "x@sender.example", OK, R, "relay",
     "[sender.relay]", NULL, NULL, NULL, 0, -1, NULL},
    {C_RELAYHOST, "u@relay.example", "a@b.example", OK, R, "relay",
     "[mail.relay.com]:587", NULL, "relayhost", NULL, 0, -1, NULL},
    {C_RELAYHOST, "u@vmail.example", "", OK, V, "virtual", "vmail.example",
     NULL, NULL, NULL, 0, -1, NULL},    /* relayhost is off-host only */
    {C_RELAYHOST, "u@mx.example.net", "", OK, L, "local", "mx.example.net",
     NULL, NULL, NULL, 0, -1, NULL},
    /* Transport parameters with a nexthop. */
    {C_PARAMS, "u@relay.example", "vip@sender.example", OK, R, "relay",
     "[relay.gw]:2525", NULL, "relay_transport", "relay.gw", 2525, 0, NULL},
    {C_PARAMS, "u@mx.example.net", "", OK, L, "local", "mx.example.net", NULL,
     "-", NULL, 0, -1, NULL},
    {C_PARAMS, "u@other.org", "", OK, DF, "error", "no remote mail", NULL,
     "default_transport", "no remote mail", 0, -1, NULL},
    /* Lookup errors are temporary failures. */
    {C_FAIL_XPORT, "u@other.org", "", ROUTE_TEMPFAIL, DF, NULL, NULL, NULL,
     NULL, NULL, 0, -1, "transport_maps"},
    {C_FAIL_RELAYDOM, "u@other.org", "", ROUTE_TEMPFAIL, DF, NULL, NULL, NULL,
     NULL, NULL, 0, -1, "relay_domains"},
    {C_FAIL_RELAYDOM, "u@mx.example.net", "", OK, L, "local", NULL, NULL, NULL,
     NULL, 0, -1, NULL},                /* decided before relay_domains */
    {C_FAIL_SENDER, "u@other.org", "a@b.example", ROUTE_TEMPFAIL, DF, NULL,
     NULL, NULL, NULL, NULL, 0, -1, "sender_dependent_relayhost_maps"},
    {C_FAIL_SDDT, "u@other.org", "a@b.example", ROUTE_TEMPFAIL, DF, NULL, NULL,
     NULL, NULL, NULL, 0, -1, "sender_dependent_default_transport_maps"},
    {C_MISSING, "u@other.org", "", ROUTE_TEMPFAIL, DF, NULL, NULL, NULL, NULL,
     NULL, 0, -1, "no-such-table"},
    /* Unusable nexthops and transports: an error result, not a crash. */
    {C_BADHOP1, "u@other.org", "", ROUTE_CONFIG, DF, NULL, NULL, NULL, NULL,
     NULL, 0, -1, "unterminated"},
    {C_BADHOP2, "u@other.org", "", ROUTE_CONFIG, DF, NULL, NULL, NULL, NULL,
     NULL, 0, -1, "bad port"},
    {C_BADHOP3, "u@other.org", "", ROUTE_CONFIG, DF, NULL, NULL, NULL, NULL,
     NULL, 0, -1, "IPv6"},
    {C_BADHOP1, "u@vmail.example", "", OK, V, "virtual", NULL, NULL, NULL,
     NULL, 0, -1, NULL},                /* relayhost not used: no error */
    {C_BASE, "u@bad1.example", "", ROUTE_CONFIG, DF, NULL, NULL, NULL, NULL,
     NULL, 0, -1, "transport_maps"},
    {C_BASE, "u@bad2.example", "", ROUTE_CONFIG, DF, NULL, NULL, NULL, NULL,
     NULL, 0, -1, "99999"},
    {C_BASE, "u@bad3.example", "", ROUTE_CONFIG, DF, NULL, NULL, NULL, NULL,
     NULL, 0, -1, "IPv6"},
    {C_BASE, "u@bad4.example", "", ROUTE_CONFIG, DF, NULL, NULL, NULL, NULL,
     NULL, 0, -1, "one nexthop"},
    {C_BASE, "u@bad5.example", "", ROUTE_CONFIG, DF, NULL, NULL, NULL, NULL,
     NULL, 0, -1, "bad transport name"},
    /* Malformed recipients. */
    {C_BASE, "", "", ROUTE_BADADDR, DF, NULL, NULL, NULL, NULL, NULL, 0, -1,
     "empty"},
    {C_BASE, "u@", "", ROUTE_BADADDR, DF, NULL, NULL, NULL, NULL, NULL, 0, -1,
     "bad domain"},
    {C_BASE, "u@exa mple.com", "", ROUTE_BADADDR, DF, NULL, NULL, NULL, NULL,
     NULL, 0, -1, NULL},
    {C_BASE, "u\001@example.org", "", ROUTE_BADADDR, DF, NULL, NULL, NULL,
     NULL, NULL, 0, -1, "control"},
    {C_BASE, "u@host.example:25", "", ROUTE_BADADDR, DF, NULL, NULL, NULL,
     NULL, NULL, 0, -1, NULL},
    {C_BASE, "u@192.0.2.1", "", ROUTE_BADADDR, DF, NULL, NULL, NULL, NULL,
     NULL, 0, -1, NULL},                /* bare numeric domain */
    {C_BASE, "u@[192.0.2.1", "", ROUTE_BADADDR, DF, NULL, NULL, NULL, NULL,
     NULL, 0, -1, NULL},
    {C_BASE, "u@[2001:db8::1]", "", ROUTE_BADADDR, DF, NULL, NULL, NULL, NULL,
     NULL, 0, -1, NULL},                /* needs the IPv6: tag */
    {C_BASE, "u@[IPv6:nonsense]", "", ROUTE_BADADDR, DF, NULL, NULL, NULL,
     NULL, NULL, 0, -1, NULL},
    {C_BASE, "u@b\xc3\xbc" "cher.example", "", OK, DF, "smtp", NULL, NULL,
     NULL, NULL, 0, -1, NULL},          /* UTF-8 domain is routed */
};

/* check_why - "param" or "param|key" or "-" (a built-in default). */
static void check_why(const struct route_why *w, const char *want)
{
    const char *bar;

    if (want == NULL)
        return;
    if (strcmp(want, "-") == 0) {
        assert_null(w->param);
        assert_non_null(w->dflt);
        return;
    }
    assert_non_null(w->param);
    bar = strchr(want, '|');
    if (bar == NULL) {
        assert_string_equal(w->param, want);
        return;
    }
    assert_int_equal(strncmp(w->param, want, (size_t)(bar - want)), 0);
    assert_int_equal(strlen(w->param), (size_t)(bar - want));
    assert_string_equal(sb_str(&w->key), bar + 1);
    assert_true(sb_len(&w->table) > 0);
}

static void test_resolve_table(void **state)
{
    struct fixture *f = *state;
    struct route_result r;

    route_result_init(&r);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct rcase *c = &cases[i];
        enum route_status st = route_resolve(f->rc[c->cfg], c->rcpt, c->sender,
                                             &r);

        print_message("case %zu: cfg %d %s from <%s>\n", i, c->cfg, c->rcpt,
                      c->sender);
        if (st != c->st)
            print_message("  got status %d: %s\n", st, sb_str(&r.error));
        assert_int_equal(st, c->st);
        assert_int_equal(r.status, st);
        if (c->err != NULL)
            assert_non_null(strstr(sb_str(&r.error), c->err));
        if (st != ROUTE_OK) {
            assert_true(sb_len(&r.error) > 0);
            continue;
        }
        assert_int_equal(r.rclass, c->cls);
        if (c->transport)
            assert_string_equal(sb_str(&r.transport), c->transport);
        if (c->nexthop)
            assert_string_equal(sb_str(&r.nexthop), c->nexthop);
        check_why(&r.why_transport, c->xp_why);
        check_why(&r.why_nexthop, c->hop_why);
        if (c->host)
            assert_string_equal(sb_str(&r.hop.host), c->host);
        if (c->host && c->port)
            assert_int_equal(r.hop.port, c->port);
        if (c->mx >= 0)
            assert_int_equal(r.hop.mx_lookup, c->mx);
    }
    route_result_release(&r);
}

/* One nexthop parse; host NULL = must fail. */
struct hcase {
    const char *text;
    bool lmtp;
    const char *host;
    enum route_hop_kind kind;
    unsigned port;
    bool port_given, mx, literal;
    int family;
};

static const struct hcase hops[] = {
    {"example.com", false, "example.com", ROUTE_HOP_HOST, 25, false, true,
     false, 0},
    {"example.com:2525", false, "example.com", ROUTE_HOP_HOST, 2525, true,
     true, false, 0},
    {"[mail.relay.com]:587", false, "mail.relay.com", ROUTE_HOP_HOST, 587,
     true, false, false, 0},
    {"[mail.relay.com]", false, "mail.relay.com", ROUTE_HOP_HOST, 25, false,
     false, false, 0},
    {"[192.0.2.1]", false, "192.0.2.1", ROUTE_HOP_HOST, 25, false, false, true,
     AF_INET},
    {"[192.0.2.1]:26", false, "192.0.2.1", ROUTE_HOP_HOST, 26, true, false,
     true, AF_INET},
    {"[IPv6:2001:db8::1]", false, "2001:db8::1", ROUTE_HOP_HOST, 25, false,
     false, true, AF_INET6},
    {"[ipv6:2001:db8::1]:587", false, "2001:db8::1", ROUTE_HOP_HOST, 587, true,
     false, true, AF_INET6},
    {"[2001:db8::2]", false, "2001:db8::2", ROUTE_HOP_HOST, 25, false, false,
     true, AF_INET6},
    {"192.0.2.9", false, "192.0.2.9", ROUTE_HOP_HOST, 25, false, false, true,
     AF_INET},
    {"relay.example:submission", false, "relay.example", ROUTE_HOP_HOST, 587,
     true, true, false, 0},
    {"b\xc3\xbc" "cher.example", false, "b\xc3\xbc" "cher.example",
     ROUTE_HOP_HOST, 25, false, true, false, 0},
    {"lmtp.host", true, "lmtp.host", ROUTE_HOP_HOST, 24, false, false, false,
     0},
    {"inet:lmtp.host:2424", true, "lmtp.host", ROUTE_HOP_HOST, 2424, true,
     false, false, 0},
    {"unix:/run/dovecot/lmtp", true, "/run/dovecot/lmtp", ROUTE_HOP_UNIX, 0,
     false, false, false, 0},
    /* Bad forms. */
    {"", false, NULL, 0, 0, false, false, false, 0},
    {"[unterminated", false, NULL, 0, 0, false, false, false, 0},
    {"[unterminated:25", false, NULL, 0, 0, false, false, false, 0},
    {"host:99999", false, NULL, 0, 0, false, false, false, 0},
    {"host:0", false, NULL, 0, 0, false, false, false, 0},
    {"host:", false, NULL, 0, 0, false, false, false, 0},
    {"host:25x", false, NULL, 0, 0, false, false, false, 0},
    {"host:nosuchservice", false, NULL, 0, 0, false, false, false, 0},
    {"[IPv6:garbage]", false, NULL, 0, 0, false, false, false, 0},
    {"[IPv6:192.0.2.1]", false, NULL, 0, 0, false, false, false, 0},
    {"[]", false, NULL, 0, 0, false, false, false, 0},
    {"[host]x", false, NULL, 0, 0, false, false, false, 0},
    {"[host]:", false, NULL, 0, 0, false, false, false, 0},
    {"2001:db8::1", false, NULL, 0, 0, false, false, false, 0},
    {"a..b", false, NULL, 0, 0, false, false, false, 0},
    {".a.b", false, NULL, 0, 0, false, false, false, 0},
    {"a b", false, NULL, 0, 0, false, false, false, 0},
    {"a,b", false, NULL, 0, 0, false, false, false, 0},
    {"a\tb", false, NULL, 0, 0, false, false, false, 0},
    {"a\x01" "b", false, NULL, 0, 0, false, false, false, 0},
    {"ho$t", false, NULL, 0, 0, false, false, false, 0},
    {"unix:/run/sock", false, NULL, 0, 0, false, false, false, 0},
    {"unix:relative", true, NULL, 0, 0, false, false, false, 0},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
     false, NULL, 0, 0, false, false, false, 0},   /* 64-octet label */
};

static void test_parse_nexthop(void **state)
{
    struct route_nexthop hop;
    strbuf err;

    (void)state;
    route_nexthop_init(&hop);
    sb_init(&err, 1024);
    for (size_t i = 0; i < sizeof(hops) / sizeof(hops[0]); i++) {
        const struct hcase *h = &hops[i];
        int r = route_parse_nexthop(h->text, h->lmtp ? 24 : 25, h->lmtp, &hop,
                                    &err);

        print_message("nexthop %zu: \"%s\" -> %d %s\n", i, h->text, r,
                      sb_str(&err));
        if (h->host == NULL) {
            assert_int_equal(r, -1);
            assert_true(sb_len(&err) > 0);
            assert_int_equal(sb_len(&hop.host), 0);
            continue;
        }
        assert_int_equal(r, 0);
        assert_string_equal(sb_str(&hop.host), h->host);
        assert_int_equal(hop.kind, h->kind);
        assert_int_equal(hop.port, h->port);
        assert_int_equal(hop.port_given, h->port_given);
        assert_int_equal(hop.mx_lookup, h->mx);
        assert_int_equal(hop.literal, h->literal);
        assert_int_equal(hop.family, h->family);
    }
    route_nexthop_release(&hop);
    sb_release(&err);
}

static void test_parse_nexthop_overlong(void **state)
{
    struct route_nexthop hop;
    strbuf err;
    char big[8192];

    (void)state;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    route_nexthop_init(&hop);
    sb_init(&err, 1024);
    assert_int_equal(route_parse_nexthop(big, 25, false, &hop, &err), -1);
    big[0] = '[';
    assert_int_equal(route_parse_nexthop(big, 25, false, &hop, &err), -1);
    route_nexthop_release(&hop);
    sb_release(&err);
}

static void test_overlong_address(void **state)
{
    struct fixture *f = *state;
    struct route_result r;
    char big[10000];

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[10] = '@';
    route_result_init(&r);
    assert_int_equal(route_resolve(f->rc[C_BASE], big, "", &r), ROUTE_BADADDR);
    assert_int_equal(route_resolve(f->rc[C_BASE], "u@other.org", big, &r),
                     ROUTE_OK);         /* an odd sender finds nothing */
    route_result_release(&r);
}

/* The open-time failures: a bad table spec, an unreadable list file. */
static void test_open_errors(void **state)
{
    static const struct {
        const char *main_cf, *err;
    } bad[] = {
        {"transport_maps = nosuchtype:/x\n", "transport_maps"},
        {"mydestination = /nonexistent/route-test/file\n", "mydestination"},
        {"relay_domains = cdb:\n", "relay_domains"},
    };
    struct fixture *f = *state;
    strbuf err;

    sb_init(&err, 4096);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        conf *c;
        route_ctx *rc;

        tu_write_file(f->dir, "main.cf", bad[i].main_cf);
        c = conf_load(f->dir);
        rc = route_open(c, &err);
        print_message("open %zu: %s\n", i, sb_str(&err));
        assert_null(rc);
        assert_non_null(strstr(sb_str(&err), bad[i].err));
        conf_free(c);
    }
    sb_release(&err);
}

/* The explain text: one line per part, the decisive table and key. */
static void test_explain_text(void **state)
{
    struct fixture *f = *state;
    strbuf out;

    sb_init(&out, SB_NOLIMIT);
    assert_int_equal(route_explain(f->rc[C_BASE], "user@yahoo.com", "", &out),
                     ROUTE_OK);
    assert_string_equal(sb_str(&out),
        "address: user@yahoo.com\n"
        "sender: <>\n"
        "class: default (no local, virtual alias, virtual mailbox or relay"
        " domain matches yahoo.com)\n"
        "transport: relaylim (transport_maps texthash:" D "transport, key"
        " yahoo.com)\n"
        "nexthop: yahoo.com (default: recipient domain, transport_maps gave"
        " no nexthop)\n"
        "connect: MX lookup for yahoo.com, port 25\n");
    sb_reset(&out);
    assert_int_equal(route_explain(f->rc[C_RELAYHOST], "u@other.org",
                                   "x@sender.example", &out), ROUTE_OK);
    assert_string_equal(sb_str(&out),
        "address: u@other.org\n"
        "sender: x@sender.example\n"
        "class: default (no local, virtual alias, virtual mailbox or relay"
        " domain matches other.org)\n"
        "transport: smtp (default_transport)\n"
        "nexthop: [sender.relay] (sender_dependent_relayhost_maps texthash:" D
        "sender_relay, key @sender.example)\n"
        "connect: host sender.relay, port 25, no MX lookup\n");
    sb_reset(&out);
    assert_int_equal(route_explain(f->rc[C_BASE], "u@relay.example", "", &out),
                     ROUTE_OK);
    assert_non_null(strstr(sb_str(&out),
                           "class: relay (relay_domains, matches relay.example)\n"));
    sb_reset(&out);
    assert_int_equal(route_explain(f->rc[C_FAIL_XPORT], "u@a.example", "",
                                   &out), ROUTE_TEMPFAIL);
    assert_non_null(strstr(sb_str(&out), "error: temporary failure"));
    assert_null(strstr(sb_str(&out), "transport:"));
    sb_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_nexthop),
        cmocka_unit_test(test_parse_nexthop_overlong),
        cmocka_unit_test_setup_teardown(test_resolve_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlong_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_explain_text, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
