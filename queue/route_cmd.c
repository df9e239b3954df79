/*
 * route_cmd - `tern explain ADDRESS [-f SENDER] [-c DIR]`: route one
 * address with the configuration and tables the mail system would use and
 * print, one "name: value (why)" line each, the address class, transport,
 * nexthop and how the nexthop is reached. The format is documented in
 * docs/routing.md and kept stable; later issues add lines, never change
 * these.
 *
 * Exit: 0 routed; 2 the mail would be deferred (a table lookup failed, or
 * a transport/nexthop cannot be used); 64 usage or a malformed address;
 * 78 the configuration has errors or a table cannot be opened; 74 stdout
 * could not be written. Owns nothing past its return.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/msg.h"
#include "conf/conf.h"
#include "queue/route.h"

#define EXIT_DEFER 2
#define EXIT_USAGE 64
#define EXIT_IOERR 74
#define EXIT_CONFIG 78

/* put - append formatted text to the (unbounded) output. */
static void put(strbuf *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void put(strbuf *out, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)sb_vprintf(out, fmt, ap);     /* out has no limit */
    va_end(ap);
}

/* put_why - " (param table, key K)", " (param, matches K)", " (default: ...)". */
static void put_why(strbuf *out, const struct route_why *w)
{
    if (w->param == NULL) {
        put(out, " (default: %s)", w->dflt ? w->dflt : "built in");
        return;
    }
    put(out, " (%s", w->param);
    if (sb_len(&w->table) > 0)
        put(out, " %s, key %s", sb_str(&w->table), sb_str(&w->key));
    else if (sb_len(&w->key) > 0)
        put(out, ", matches %s", sb_str(&w->key));
    put(out, ")");
}

/* put_connect - how the nexthop is reached. */
static void put_connect(strbuf *out, const struct route_result *r)
{
    const struct route_nexthop *h = &r->hop;
    const char *prog = sb_len(&r->program) ? sb_str(&r->program)
                                           : sb_str(&r->transport);

    if (h->kind == ROUTE_HOP_UNIX) {
        put(out, "connect: unix socket %s\n", sb_str(&h->host));
    } else if (h->kind == ROUTE_HOP_HOST && h->mx_lookup) {
        put(out, "connect: MX lookup for %s, port %u\n", sb_str(&h->host),
            h->port);
    } else if (h->kind == ROUTE_HOP_HOST) {
        put(out, "connect: %s %s, port %u, no MX lookup\n",
            h->literal ? "address" : "host", sb_str(&h->host), h->port);
    } else if (strcmp(sb_str(&r->transport), "retry") == 0) {
        put(out, "connect: none (delivery is deferred: %s)\n",
            sb_str(&h->host));
    } else if (strcmp(prog, "error") == 0) {
        put(out, "connect: none (the message is returned: %s)\n",
            sb_str(&h->host));
    } else if (strcmp(prog, "discard") == 0) {
        put(out, "connect: none (the message is discarded)\n");
    } else {
        put(out, "connect: none (delivered on this host by %s)\n", prog);
    }
}

/* route_explain - see route.h. */
enum route_status route_explain(route_ctx *rc, const char *rcpt,
                                const char *sender, strbuf *out)
{
    struct route_result r;
    enum route_status st;

    route_result_init(&r);
    st = route_resolve(rc, rcpt, sender, &r);
    put(out, "address: %s\n", sb_len(&r.address) ? sb_str(&r.address) : rcpt);
    put(out, "sender: %s\n", sender && *sender ? sender : "<>");
    if (st != ROUTE_OK) {
        static const char *const what[] = {
            [ROUTE_TEMPFAIL] = "temporary failure, mail is deferred",
            [ROUTE_CONFIG] = "configuration problem, mail is deferred",
            [ROUTE_BADADDR] = "bad address, mail is returned",
        };

        put(out, "error: %s: %s\n", what[st], sb_str(&r.error));
        route_result_release(&r);
        return st;
    }
    put(out, "class: %s", route_class_name(r.rclass));
    if (r.rclass == ROUTE_CLASS_DEFAULT)
        put(out, " (%s %s)", r.why_class.dflt, sb_str(&r.domain));
    else
        put_why(out, &r.why_class);
    put(out, "\ntransport: %s", sb_str(&r.transport));
    put_why(out, &r.why_transport);
    put(out, "\nnexthop: %s", sb_str(&r.nexthop));
    put_why(out, &r.why_nexthop);
    put(out, "\n");
    put_connect(out, &r);
    if (!r.service_known)
        put(out, "warning: transport %s is not a unix service in master.cf:"
            " mail for it stays in the queue\n", sb_str(&r.transport));
    route_result_release(&r);
    return st;
}

/* usage - the synopsis; EX_USAGE. */
static int usage(void)
{
    fprintf(stderr, "usage: tern explain ADDRESS [-f SENDER] [-c DIR]\n");
    return EXIT_USAGE;
}

/* parse_address - external form to internal; false (message) when bad. */
static bool parse_address(const char *text, int opts, const char *what,
                          strbuf *out)
{
    addr a;
    enum addr_err e;
    bool ok;

    addr_init(&a);
    e = addr_parse(&a, text, strlen(text), opts | ADDR_P_PATH_OPTIONAL);
    ok = e == ADDR_OK && addr_internal(&a, out) == 0;
    if (!ok)
        fprintf(stderr, "tern explain: bad %s \"%s\": %s\n", what, text,
                e == ADDR_OK ? "too long" : addr_strerror(e));
    addr_release(&a);
    return ok;
}

/* load - the configuration and routing tables; exit code or 0. */
static int load(const char *dir, conf **cp, route_ctx **rcp)
{
    conf *c = conf_load(conf_dir(dir));
    strbuf err;

    *cp = c;
    *rcp = NULL;
    for (size_t i = 0; i < conf_diag_count(c); i++) {
        enum conf_diag_level level;
        const char *text = conf_diag_text(c, i, &level);

        fprintf(stderr, "tern explain: %s: %s\n",
                level == CONF_ERROR ? "error" : "warning", text);
    }
    if (conf_error_count(c) > 0)
        return EXIT_CONFIG;
    sb_init(&err, 4096);
    if ((*rcp = route_open(c, &err)) == NULL)
        fprintf(stderr, "tern explain: %s\n", sb_str(&err));
    sb_release(&err);
    return *rcp == NULL ? EXIT_CONFIG : 0;
}

/* route_cmd_main - see route.h. */
int route_cmd_main(int argc, char **argv)
{
    static const int codes[] = {[ROUTE_OK] = 0, [ROUTE_TEMPFAIL] = EXIT_DEFER,
                                [ROUTE_CONFIG] = EXIT_DEFER,
                                [ROUTE_BADADDR] = EXIT_USAGE};
    const char *dir = NULL, *sender_text = "";
    strbuf rcpt, sender, out;
    conf *c = NULL;
    route_ctx *rc = NULL;
    int ch, code;

    optind = 0;                         /* full getopt reset (glibc) */
    while ((ch = getopt(argc, argv, "c:f:")) != -1) {
        switch (ch) {
        case 'c': dir = optarg; break;
        case 'f': sender_text = optarg; break;
        default: return usage();
        }
    }
    if (optind != argc - 1)
        return usage();
    sb_init(&rcpt, 4096);
    sb_init(&sender, 4096);
    sb_init(&out, SB_NOLIMIT);
    if (!parse_address(argv[optind], ADDR_P_ALLOW_LOCAL, "address", &rcpt)
        || !parse_address(sender_text, ADDR_P_ALLOW_NULL | ADDR_P_ALLOW_LOCAL,
                          "sender", &sender)) {
        code = EXIT_USAGE;
    } else if ((code = load(dir, &c, &rc)) == 0) {
        code = codes[route_explain(rc, sb_str(&rcpt), sb_str(&sender), &out)];
        if (fputs(sb_str(&out), stdout) == EOF || fflush(stdout) != 0) {
            fprintf(stderr, "tern explain: write stdout failed\n");
            code = EXIT_IOERR;
        }
    }
    route_close(rc);
    conf_free(c);
    sb_release(&rcpt);
    sb_release(&sender);
    sb_release(&out);
    return code;
}
