/*
 * dns - synchronous DNS lookups with a deadline, over c-ares.
 *
 * A dns_ctx owns one c-ares channel, created from the configuration
 * (resolver_servers, a timeout and a try count) by the first lookup that
 * sends a query, and reused for every later one; a process whose lookups
 * are all answered without DNS (hosts file, literals) never makes one. Each lookup sends its queries and drives c-ares itself with
 * poll(2) until every answer is in or the deadline passes, so callers see a
 * plain function call. There is no global state: all of it is in the ctx.
 *
 * Lookups fill a caller-owned dns_result (dns_result_init once, reused by
 * every lookup, dns_result_free at the end) and return its status:
 *
 *   DNS_OK        records found (MX, addresses, PTR names, TLSA records)
 *   DNS_NOTFOUND  the name does not exist (result.nxdomain) or has no record
 *                 of the type asked for (NODATA); a permanent answer
 *   DNS_NULLMX    the domain publishes a null MX (RFC 7505): it takes no mail
 *   DNS_TEMPFAIL  server failure, timeout, refusal or a malformed reply
 *   DNS_PERMFAIL  the question itself is unusable (a malformed name)
 *
 * Every non-OK result carries a reason in Postfix's words ("Name service
 * error for name=X type=MX: Host not found"). Names in answers are bounded
 * (RFC 1035 limits), the number of records taken from one answer is bounded,
 * CNAME chains are followed at most DNS_CNAME_MAX steps, and a malformed
 * answer is a TEMPFAIL, never a crash. Allocation failure ends the process
 * (xalloc); nothing else does.
 */
#ifndef TERN_DNS_H
#define TERN_DNS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/strbuf.h"

typedef struct dns_ctx dns_ctx;

typedef enum dns_status {
    DNS_OK = 0,
    DNS_NOTFOUND,
    DNS_NULLMX,
    DNS_TEMPFAIL,
    DNS_PERMFAIL,
} dns_status;

/* Address families (inet_protocols). */
#define DNS_INET4     (1u << 0)
#define DNS_INET6     (1u << 1)
#define DNS_INET_ALL  (DNS_INET4 | DNS_INET6)

/* Which family goes first (smtp_address_preference). */
typedef enum dns_prefer {
    DNS_PREFER_ANY = 0,         /* no preference: both families shuffled */
    DNS_PREFER_IPV4,
    DNS_PREFER_IPV6,
} dns_prefer;

#define DNS_NAME_MAX     253    /* a host name in text, without final dot */
#define DNS_SERVERS_MAX  8      /* entries in resolver_servers */
#define DNS_RR_MAX       64     /* records taken from one answer */
#define DNS_CNAME_MAX    8      /* CNAME steps followed in one answer */
#define DNS_TEXT_ADDR    46     /* INET6_ADDRSTRLEN */
#define DNS_HOSTS_FILE   "/etc/hosts"

typedef struct dns_mx_rr {
    unsigned pref;              /* MX preference, lower first */
    char *host;                 /* exchange, no trailing dot */
} dns_mx_rr;

typedef struct dns_addr {
    int family;                 /* AF_INET or AF_INET6 */
    unsigned char bytes[16];    /* 4 or 16 bytes in network order */
    char text[DNS_TEXT_ADDR];   /* presentation form */
} dns_addr;

typedef struct dns_tlsa_rr {
    unsigned usage, selector, mtype;
    unsigned char *data;        /* certificate association data */
    size_t len;
} dns_tlsa_rr;

typedef struct dns_result {
    dns_status status;
    bool nxdomain;              /* NOTFOUND: no such name (else NODATA) */
    bool implicit_mx;           /* dns_mx: no MX, mx[0] is the domain itself */
    bool ad;                    /* every answer used had the AD bit set */
    strbuf reason;              /* why, when status is not DNS_OK */
    dns_mx_rr *mx;              /* dns_mx: in delivery order */
    size_t nmx;
    dns_addr *addr;             /* dns_addrs: in connection order */
    size_t naddr;
    char **names;               /* dns_ptr: host names, no trailing dot */
    size_t nnames;
    dns_tlsa_rr *tlsa;          /* dns_tlsa */
    size_t ntlsa;
} dns_result;

/* One resolver_servers entry. */
typedef struct dns_server {
    int family;                 /* AF_INET or AF_INET6 */
    unsigned char bytes[16];
    unsigned port;              /* 53 unless given */
} dns_server;

/* Random source: a number in [0, bound). Tests inject their own. */
typedef unsigned (*dns_random_fn)(void *arg, unsigned bound);

/*
 * dns_open - a resolver. servers is "" (use /etc/resolv.conf) or a list of
 * "ADDR", "ADDR:PORT", "[ADDR]" or "[ADDR]:PORT" separated by commas and/or
 * blanks; timeout_ms (1..60000) is the wait per try, tries (1..10) the tries
 * per server. NULL with the reason in err on a bad argument. The c-ares
 * channel is made by the first lookup that needs DNS; when it cannot be
 * made, that is logged (msg_warn) and the lookup is DNS_TEMPFAIL ("resolver
 * not available"); the next lookup tries again.
 */
dns_ctx *dns_open(const char *servers, int timeout_ms, int tries, strbuf *err);
void dns_close(dns_ctx *ctx);

/* dns_has_channel - whether a lookup has made the c-ares channel yet. */
bool dns_has_channel(const dns_ctx *ctx);

/* dns_set_random - replace the random source (default arc4random). */
void dns_set_random(dns_ctx *ctx, dns_random_fn fn, void *arg);

/*
 * dns_set_hosts_file - the hosts file dns_fcrdns reads before DNS (the
 * system resolver's "files" source); default DNS_HOSTS_FILE, NULL or ""
 * for DNS only. Read on first use and again when it changes.
 */
void dns_set_hosts_file(dns_ctx *ctx, const char *path);

/* dns_servers_parse - parse resolver_servers; -1 and err on a bad entry. */
int dns_servers_parse(const char *text, dns_server *out, size_t max,
                      size_t *n, strbuf *err);

/* dns_families_parse - inet_protocols ("all", "ipv4", "ipv6", lists). */
int dns_families_parse(const char *text, unsigned *families);

/* dns_prefer_parse - smtp_address_preference ("any", "ipv4", "ipv6"). */
int dns_prefer_parse(const char *text, dns_prefer *prefer);

/* dns_addr_literal - 0 and *out when text is a bare IPv4/IPv6 address. */
int dns_addr_literal(const char *text, dns_addr *out);

/* dns_name_valid - a syntactically usable host/domain name (LDH, '_'). */
bool dns_name_valid(const char *name);

/* dns_mx_sort - by preference, random order among equal preferences. */
void dns_mx_sort(dns_mx_rr *v, size_t n, dns_random_fn fn, void *arg);

/* Results. */
void dns_result_init(dns_result *res);
void dns_result_free(dns_result *res);      /* releases; init to reuse */
const char *dns_status_name(dns_status status);

/*
 * Lookups. dns_mx: MX list; no MX but the name exists gives the implicit
 * MX (the domain itself, RFC 5321 5.1); NXDOMAIN is DNS_NOTFOUND; a null
 * MX is DNS_NULLMX. dns_addrs: A and/or AAAA of host per families, ordered
 * per prefer; a literal address is returned as is without DNS. dns_ptr:
 * PTR names of a textual address. dns_fcrdns: the client name Postfix
 * would show: the hosts file's name of the address, else its PTR names,
 * the first whose addresses include the address (into name); a name
 * listed in the hosts file with addresses of the family is checked
 * against those, without DNS (res->names: the names tried, the hosts
 * file's one alone when it had one). dns_tlsa: TLSA records of e.g.
 * "_25._tcp.mx.example.com" and the AD bit of the answer.
 */
dns_status dns_mx(dns_ctx *ctx, const char *domain, dns_result *res);
dns_status dns_addrs(dns_ctx *ctx, const char *host, unsigned families,
                     dns_prefer prefer, dns_result *res);
dns_status dns_ptr(dns_ctx *ctx, const char *addr, dns_result *res);
dns_status dns_fcrdns(dns_ctx *ctx, const char *addr, strbuf *name,
                      dns_result *res);
dns_status dns_tlsa(dns_ctx *ctx, const char *name, dns_result *res);

/*
 * The hosts file on its own (dns_fcrdns uses it; tests call it directly).
 * dns_hosts_new: a reader of path, read lazily and re-read when the file
 * changes; a missing file is empty, an unreadable or oversized one (over
 * 1 MiB) is warned about and empty. dns_hosts_name: the first name of the
 * first line listing addr (true), as gethostbyaddr's files source.
 * dns_hosts_addrs: the distinct addresses of family listed for name on any
 * line (case-insensitive, at most max into out); their count. Each lookup
 * checks (stat) whether the file changed, except between dns_hosts_pin and
 * dns_hosts_unpin: one check at the pin, then every lookup in between
 * answers from that reading (dns_fcrdns: one stat per client, not one per
 * lookup).
 */
typedef struct dns_hosts dns_hosts;
dns_hosts *dns_hosts_new(const char *path);
void dns_hosts_free(dns_hosts *h);
void dns_hosts_pin(dns_hosts *h);
void dns_hosts_unpin(dns_hosts *h);
bool dns_hosts_name(dns_hosts *h, const dns_addr *addr, strbuf *name);
size_t dns_hosts_addrs(dns_hosts *h, const char *name, int family,
                       dns_addr *out, size_t max);

#endif
