/*
 * route - address routing: Postfix's trivial-rewrite "resolve" step.
 *
 * Given a loaded configuration, route_open() opens every table routing needs
 * (transport_maps, the sender-dependent maps, the tables inside
 * mydestination, virtual_alias_domains, virtual_mailbox_domains and
 * relay_domains) ONCE; route_resolve() then maps a recipient (and the
 * envelope sender) to an address class, a transport and a nexthop, and
 * records which parameter, table and key decided each of the three, so
 * `tern explain` can show it. qmgr routes every recipient with one ctx.
 *
 * Failure model: a table lookup error is never "not found": the result is
 * ROUTE_TEMPFAIL (the caller defers, 4.3.0). A transport or nexthop that
 * cannot be used (bad syntax in main.cf or in a table) is ROUTE_CONFIG
 * (defer, 4.3.5). An address whose domain is not a host name or a valid
 * address literal is ROUTE_BADADDR (bounce, 5.1.3). In every case
 * result.error says what and where. Nothing here crashes on hostile text.
 * See docs/routing.md.
 */
#ifndef TERN_ROUTE_H
#define TERN_ROUTE_H

#include <stdbool.h>

#include "common/strbuf.h"
#include "conf/conf.h"

typedef struct route_ctx route_ctx;

/* Address classes, in the order they are tried. */
enum route_class {
    ROUTE_CLASS_LOCAL,          /* mydestination, own [address] literals */
    ROUTE_CLASS_ALIAS,          /* virtual_alias_domains */
    ROUTE_CLASS_VIRTUAL,        /* virtual_mailbox_domains */
    ROUTE_CLASS_RELAY,          /* relay_domains */
    ROUTE_CLASS_DEFAULT,        /* everything else */
};

enum route_status {
    ROUTE_OK = 0,
    ROUTE_TEMPFAIL,             /* a table lookup failed: defer (4.3.0) */
    ROUTE_CONFIG,               /* unusable transport/nexthop: defer (4.3.5) */
    ROUTE_BADADDR,              /* malformed recipient domain: bounce (5.1.3) */
};

/* How a nexthop is reached. */
enum route_hop_kind {
    ROUTE_HOP_HOST,             /* TCP: host name or IP address, port */
    ROUTE_HOP_UNIX,             /* LMTP over a UNIX socket (unix:/path) */
    ROUTE_HOP_TEXT,             /* not a host: error text, local domain... */
};

/* A parsed nexthop ("[host]:port", "host:port", "[IPv6:2001:db8::1]"). */
struct route_nexthop {
    enum route_hop_kind kind;
    strbuf host;                /* host or address without [] and "IPv6:";
                                 * the socket path; or the text */
    unsigned port;              /* TCP port (0 for UNIX and TEXT) */
    bool port_given;            /* ":port" was written */
    bool mx_lookup;             /* a bare host name: look up its MX */
    bool literal;               /* host is an IP address */
    int family;                 /* AF_INET / AF_INET6 for literals, else 0 */
};

/* What decided one part of the result. */
struct route_why {
    const char *param;          /* deciding parameter; NULL = a built-in default */
    strbuf table;               /* the table that answered ("" = none) */
    strbuf key;                 /* lookup key, or the list item that matched */
    const char *dflt;           /* param == NULL: which default, in words */
};

struct route_result {
    enum route_status status;
    enum route_class rclass;
    strbuf address;             /* the recipient routed (with @domain) */
    strbuf domain;              /* its domain, lower case */
    strbuf transport;           /* master.cf service name */
    strbuf nexthop;             /* nexthop as text */
    struct route_nexthop hop;   /* nexthop parsed for the transport's program */
    strbuf program;             /* master.cf command of transport ("" unknown) */
    bool service_known;         /* transport is a unix service in master.cf */
    struct route_why why_class, why_transport, why_nexthop;
    strbuf error;               /* status != ROUTE_OK: what went wrong */
};

/*
 * route_open - open the routing tables of c; NULL and text in err when a
 * table spec is malformed or a domain-list file cannot be read. c must
 * outlive the ctx (service look-ups read it).
 */
route_ctx *route_open(const conf *c, strbuf *err);
void route_close(route_ctx *rc);

/* route_result_init - empty result; route_result_release frees it. */
void route_result_init(struct route_result *r);
void route_result_release(struct route_result *r);

/*
 * route_resolve - route recipient rcpt (internal form; no "@domain" means
 * @$myhostname) for envelope sender (internal form, "" = null sender).
 * Fills r and returns r->status.
 */
enum route_status route_resolve(route_ctx *rc, const char *rcpt,
                                const char *sender, struct route_result *r);

/*
 * route_parse_nexthop - parse a TCP/UNIX nexthop. default_port fills port
 * when none is written; lmtp turns MX lookups off (LMTP never uses MX) and
 * allows "unix:/path" and "inet:host:port". 0, or -1 with text in err.
 */
int route_parse_nexthop(const char *text, unsigned default_port, bool lmtp,
                        struct route_nexthop *hop, strbuf *err);
void route_nexthop_init(struct route_nexthop *hop);
void route_nexthop_release(struct route_nexthop *hop);

/* route_class_name - "local", "virtual alias", "virtual", "relay", "default". */
const char *route_class_name(enum route_class rclass);

/* route_explain - route and append the `tern explain` text; r->status. */
enum route_status route_explain(route_ctx *rc, const char *rcpt,
                                const char *sender, strbuf *out);

/* route_cmd_main - `tern explain ADDRESS [-f SENDER] [-c DIR]`. */
int route_cmd_main(int argc, char **argv);

#endif
