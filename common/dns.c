/*
 * dns - the resolver half of the dns module (see dns.h): the c-ares
 * channel, the poll loop that drives it, a bounded DNS message reader and
 * the MX / A / AAAA / PTR / TLSA lookups.
 *
 * Queries are built with ares_create_query (with EDNS, and the AD bit set
 * so a validating resolver reports DNSSEC status, RFC 6840 5.7) and sent
 * with ares_send; answers are copied and read here, section by section,
 * with every offset checked against the message length. c-ares decodes
 * (compressed) names. A lookup never waits longer than the ctx deadline:
 * when it passes, outstanding queries are cancelled and become TEMPFAIL.
 * The ctx owns the channel; results own their records.
 *
 * The channel is made lazily, by the first lookup that really sends a
 * query: c-ares' channel costs ~74 KB of heap per process, and most smtpd
 * and smtp processes never need one (client addresses named by the hosts
 * file, literal or relayhost addresses). dns_open checks and keeps the
 * configuration; a channel that cannot be made is logged and turns that
 * lookup into a TEMPFAIL, and the next lookup tries again.
 */
#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "common/dns.h"
#include "common/msg.h"
#include "common/xalloc.h"

#define DNS_T_A     1
#define DNS_T_CNAME 5
#define DNS_T_PTR   12
#define DNS_T_MX    15
#define DNS_T_AAAA  28
#define DNS_T_TLSA  52
#define DNS_C_IN    1
#define DNS_EDNS_SIZE 1232
#define DNS_HDR     12
#define DNS_TEXT_NAME_MAX 1024  /* decoded name, with c-ares' escapes */
#define DNS_DEADLINE_MAX_MS (10 * 60 * 1000)

struct dns_ctx {
    ares_channel channel;       /* NULL until a lookup needs DNS */
    dns_server servers[DNS_SERVERS_MAX];        /* resolver_servers */
    size_t nservers;            /* 0: /etc/resolv.conf's */
    int timeout_ms, tries;
    long long deadline_ms;      /* hard bound on one lookup */
    dns_random_fn random;
    void *random_arg;
    dns_hosts *hosts;           /* read before DNS by dns_fcrdns; or NULL */
};

/* One query in flight and its answer. */
struct dns_query {
    const char *name;
    int type;
    bool done;
    bool no_channel;            /* failed: the channel could not be made */
    int status;                 /* ARES_* */
    unsigned char *abuf;        /* copy of the answer */
    size_t alen;
};

/* One answer record, its owner decoded; rdata stays in the message. */
struct dns_rr {
    char *owner;
    unsigned type;
    size_t rdoff, rdlen;
    char *target;               /* CNAME target, decoded */
};

/* An answer message read into records. */
struct dns_msg {
    const unsigned char *buf;
    size_t len;
    unsigned rcode;
    bool ad;
    size_t nrr;
    struct dns_rr rr[DNS_RR_MAX];
};

static const struct {
    int type;
    const char *name;
} dns_type_names[] = {
    {DNS_T_A, "A"}, {DNS_T_CNAME, "CNAME"}, {DNS_T_PTR, "PTR"},
    {DNS_T_MX, "MX"}, {DNS_T_AAAA, "AAAA"}, {DNS_T_TLSA, "TLSA"},
};

/* dns_type_name - mnemonic of a query type. */
static const char *dns_type_name(int type)
{
    for (size_t i = 0; i < sizeof(dns_type_names) / sizeof(*dns_type_names); i++)
        if (dns_type_names[i].type == type)
            return dns_type_names[i].name;
    return "?";
}

/* dns_default_random - arc4random_uniform behind the dns_random_fn shape. */
static unsigned dns_default_random(void *arg, unsigned bound)
{
    (void)arg;
    return bound ? arc4random_uniform(bound) : 0;
}

/* dns_set_servers - install parsed resolver_servers into the channel. */
static int dns_set_servers(ares_channel ch, const dns_server *sv, size_t n,
                           strbuf *err)
{
    struct ares_addr_port_node nodes[DNS_SERVERS_MAX];
    int rc;

    if (n == 0)
        return 0;
    memset(nodes, 0, sizeof(nodes));
    for (size_t i = 0; i < n && i < DNS_SERVERS_MAX; i++) {
        nodes[i].next = i + 1 < n ? &nodes[i + 1] : NULL;
        nodes[i].family = sv[i].family;
        if (sv[i].family == AF_INET)
            memcpy(&nodes[i].addr.addr4, sv[i].bytes, 4);
        else
            memcpy(&nodes[i].addr.addr6, sv[i].bytes, 16);
        nodes[i].udp_port = (int)sv[i].port;
        nodes[i].tcp_port = (int)sv[i].port;
    }
    if ((rc = ares_set_servers_ports(ch, nodes)) != ARES_SUCCESS) {
        (void)sb_printf(err, "resolver_servers: %s", ares_strerror(rc));
        return -1;
    }
    return 0;
}

/* dns_count_servers - how many servers the channel will try (at least 1). */
static int dns_count_servers(ares_channel ch)
{
    struct ares_addr_port_node *list = NULL;
    int n = 0;

    if (ares_get_servers_ports(ch, &list) != ARES_SUCCESS)
        return 1;
    for (const struct ares_addr_port_node *p = list; p && n < 64; p = p->next)
        n++;
    ares_free_data(list);
    return n > 0 ? n : 1;
}

/* dns_channel_deadline - the lookup bound for the channel's servers. */
static long long dns_channel_deadline(const dns_ctx *ctx)
{
    /* c-ares doubles the per-try wait each round; allow all of it. */
    long long ms = (long long)ctx->timeout_ms * ((1 << ctx->tries) - 1)
                   * dns_count_servers(ctx->channel) + 1000;

    return ms > DNS_DEADLINE_MAX_MS ? DNS_DEADLINE_MAX_MS : ms;
}

/* dns_channel - make the channel on first need; -1 (logged) if it cannot. */
static int dns_channel(dns_ctx *ctx)
{
    struct ares_options opts;
    strbuf err;
    int rc;

    if (ctx->channel != NULL)
        return 0;
    sb_init(&err, 256);
    if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
        (void)sb_printf(&err, "c-ares init: %s", ares_strerror(rc));
    } else {
        memset(&opts, 0, sizeof(opts));
        opts.timeout = ctx->timeout_ms;
        opts.tries = ctx->tries;
        rc = ares_init_options(&ctx->channel, &opts,
                               ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
        if (rc != ARES_SUCCESS) {
            (void)sb_printf(&err, "c-ares channel: %s", ares_strerror(rc));
            ctx->channel = NULL;
        } else if (dns_set_servers(ctx->channel, ctx->servers, ctx->nservers,
                                   &err) < 0) {
            ares_destroy(ctx->channel);
            ctx->channel = NULL;
        }
        if (ctx->channel == NULL)
            ares_library_cleanup();
    }
    if (ctx->channel == NULL) {
        msg_warn("dns: %s; lookups fail until the resolver can be set up",
                 sb_str(&err));
        sb_release(&err);
        return -1;
    }
    sb_release(&err);
    ctx->deadline_ms = dns_channel_deadline(ctx);
    return 0;
}

/* dns_open - check and keep the configuration; the channel comes later. */
dns_ctx *dns_open(const char *servers, int timeout_ms, int tries, strbuf *err)
{
    dns_ctx *ctx;

    if (timeout_ms < 1 || timeout_ms > 60000 || tries < 1 || tries > 10) {
        (void)sb_printf(err, "resolver timeout %d ms or tries %d out of range",
                        timeout_ms, tries);
        return NULL;
    }
    ctx = xcalloc(1, sizeof(*ctx));
    if (dns_servers_parse(servers, ctx->servers, DNS_SERVERS_MAX,
                          &ctx->nservers, err) < 0) {
        free(ctx);
        return NULL;
    }
    ctx->timeout_ms = timeout_ms;
    ctx->tries = tries;
    ctx->random = dns_default_random;
    ctx->hosts = dns_hosts_new(DNS_HOSTS_FILE);
    return ctx;
}

/* dns_has_channel - whether a lookup has made the c-ares channel yet. */
bool dns_has_channel(const dns_ctx *ctx)
{
    return ctx->channel != NULL;
}

/* dns_close - destroy the channel, if made (lookups are all done). */
void dns_close(dns_ctx *ctx)
{
    if (ctx == NULL)
        return;
    if (ctx->channel != NULL) {
        ares_destroy(ctx->channel);
        ares_library_cleanup();
    }
    dns_hosts_free(ctx->hosts);
    free(ctx);
}

/* dns_set_hosts_file - the hosts file for dns_fcrdns; NULL/"" for none. */
void dns_set_hosts_file(dns_ctx *ctx, const char *path)
{
    dns_hosts_free(ctx->hosts);
    ctx->hosts = path && *path ? dns_hosts_new(path) : NULL;
}

/* dns_set_random - replace the random source. */
void dns_set_random(dns_ctx *ctx, dns_random_fn fn, void *arg)
{
    ctx->random = fn ? fn : dns_default_random;
    ctx->random_arg = fn ? arg : NULL;
}

/* dns_query_cb - c-ares completion: keep a copy of the answer. */
static void dns_query_cb(void *arg, int status, int timeouts,
                         unsigned char *abuf, int alen)
{
    struct dns_query *q = arg;

    (void)timeouts;
    q->done = true;
    q->status = status;
    if (status == ARES_SUCCESS && abuf != NULL && alen > 0) {
        q->abuf = xmemdup(abuf, (size_t)alen);
        q->alen = (size_t)alen;
    }
}

/* dns_send - build and send one query; failures complete it at once. */
static void dns_send(dns_ctx *ctx, struct dns_query *q)
{
    unsigned char *buf = NULL;
    int buflen = 0, rc;

    rc = ares_create_query(q->name, DNS_C_IN, q->type, 0, 1, &buf, &buflen,
                           DNS_EDNS_SIZE);
    if (rc != ARES_SUCCESS || buflen < DNS_HDR) {
        if (buf)
            ares_free_string(buf);
        q->done = true;
        q->status = rc != ARES_SUCCESS ? rc : ARES_EBADQUERY;
        return;
    }
    buf[3] |= 0x20;                     /* AD: report DNSSEC status */
    ares_send(ctx->channel, buf, buflen, dns_query_cb, q);
    ares_free_string(buf);
}

/* dns_now_ms - monotonic milliseconds. */
static long long dns_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        msg_fatal("clock_gettime: %m");
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* dns_pending - queries not yet answered. */
static size_t dns_pending(const struct dns_query *q, size_t n)
{
    size_t left = 0;

    for (size_t i = 0; i < n; i++)
        left += !q[i].done;
    return left;
}

/* dns_poll_once - wait for c-ares' sockets up to wait_ms and process. */
static void dns_poll_once(dns_ctx *ctx, int wait_ms)
{
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    struct pollfd pfd[ARES_GETSOCK_MAXNUM];
    struct timeval tv, maxtv, *tvp;
    int bits, nfd = 0, rc;

    bits = ares_getsock(ctx->channel, socks, ARES_GETSOCK_MAXNUM);
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
        short ev = 0;

        /* ARES_GETSOCK_WRITABLE shifts a signed 1 by up to 31: unsigned. */
        if (((unsigned)bits >> i) & 1u)
            ev |= POLLIN;
        if (((unsigned)bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u)
            ev |= POLLOUT;
        if (ev == 0)
            continue;
        pfd[nfd].fd = socks[i];
        pfd[nfd].events = ev;
        pfd[nfd].revents = 0;
        nfd++;
    }
    maxtv.tv_sec = wait_ms / 1000;
    maxtv.tv_usec = (wait_ms % 1000) * 1000;
    tvp = ares_timeout(ctx->channel, &maxtv, &tv);
    rc = poll(pfd, (nfds_t)nfd, (int)(tvp->tv_sec * 1000 + tvp->tv_usec / 1000));
    if (rc < 0 && errno != EINTR)
        msg_warn("dns: poll: %m");
    if (rc <= 0) {
        ares_process_fd(ctx->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        return;
    }
    for (int i = 0; i < nfd; i++) {
        short re = pfd[i].revents;

        if (re == 0)
            continue;
        ares_process_fd(ctx->channel,
                        re & (POLLIN | POLLERR | POLLHUP) ? pfd[i].fd : ARES_SOCKET_BAD,
                        re & (POLLOUT | POLLERR) ? pfd[i].fd : ARES_SOCKET_BAD);
    }
}

/* dns_run - send n queries and drive c-ares until all end or the deadline. */
static void dns_run(dns_ctx *ctx, struct dns_query *q, size_t n)
{
    long long deadline;

    if (dns_channel(ctx) < 0) {
        for (size_t i = 0; i < n; i++) {
            q[i].done = q[i].no_channel = true;
            q[i].status = ARES_ENOTINITIALIZED;
        }
        return;
    }
    deadline = dns_now_ms() + ctx->deadline_ms;
    for (size_t i = 0; i < n; i++)
        dns_send(ctx, &q[i]);
    while (dns_pending(q, n) > 0) {
        long long left = deadline - dns_now_ms();

        if (left <= 0) {
            ares_cancel(ctx->channel);          /* callbacks: ECANCELLED */
            break;
        }
        dns_poll_once(ctx, left > 1000 ? 1000 : (int)left);
    }
    for (size_t i = 0; i < n; i++)              /* belt and braces */
        if (!q[i].done) {
            q[i].done = true;
            q[i].status = ARES_ETIMEOUT;
        }
}

/* dns_query_free - release a query's answer copy. */
static void dns_query_free(struct dns_query *q)
{
    free(q->abuf);
    q->abuf = NULL;
    q->alen = 0;
}

/* dns_get_name - decode the name at *off (bounded), advance *off. */
static char *dns_get_name(const unsigned char *buf, size_t len, size_t *off)
{
    char *raw = NULL, *name;
    long enclen = 0;

    if (*off >= len
        || ares_expand_name(buf + *off, buf, (int)len, &raw, &enclen)
            != ARES_SUCCESS)
        return NULL;
    if (enclen <= 0 || (size_t)enclen > len - *off
        || strlen(raw) > DNS_TEXT_NAME_MAX) {
        ares_free_string(raw);
        return NULL;
    }
    *off += (size_t)enclen;
    name = xstrdup(raw);
    ares_free_string(raw);
    return name;
}

/* dns_get16 - a 16-bit big-endian value at off (caller checked bounds). */
static unsigned dns_get16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* dns_msg_free - release decoded names. */
static void dns_msg_free(struct dns_msg *m)
{
    for (size_t i = 0; i < m->nrr; i++) {
        free(m->rr[i].owner);
        free(m->rr[i].target);
    }
    m->nrr = 0;
}

/* dns_msg_rr - read one answer record at *off; false when malformed. */
static bool dns_msg_rr(struct dns_msg *m, size_t *off, bool keep)
{
    struct dns_rr rr = {0};

    if ((rr.owner = dns_get_name(m->buf, m->len, off)) == NULL)
        return false;
    if (m->len - *off < 10) {
        free(rr.owner);
        return false;
    }
    rr.type = dns_get16(m->buf + *off);
    rr.rdlen = dns_get16(m->buf + *off + 8);
    rr.rdoff = *off + 10;
    if (rr.rdlen > m->len - rr.rdoff) {
        free(rr.owner);
        return false;
    }
    *off = rr.rdoff + rr.rdlen;
    if (dns_get16(m->buf + rr.rdoff - 8) != DNS_C_IN || !keep) {
        free(rr.owner);
        return true;
    }
    if (rr.type == DNS_T_CNAME) {
        size_t t = rr.rdoff;

        if ((rr.target = dns_get_name(m->buf, m->len, &t)) == NULL
            || t != rr.rdoff + rr.rdlen) {
            free(rr.owner);
            free(rr.target);
            return false;
        }
    }
    m->rr[m->nrr++] = rr;
    return true;
}

/* dns_msg_parse - header, question skipped, answer records kept. */
static bool dns_msg_parse(struct dns_msg *m, const unsigned char *buf, size_t len)
{
    size_t off = DNS_HDR;
    unsigned qd, an;

    memset(m, 0, sizeof(*m));
    m->buf = buf;
    m->len = len;
    if (buf == NULL || len < DNS_HDR || !(buf[2] & 0x80))
        return false;
    m->rcode = buf[3] & 0x0f;
    m->ad = (buf[3] & 0x20) != 0;
    qd = dns_get16(buf + 4);
    an = dns_get16(buf + 6);
    for (unsigned i = 0; i < qd; i++) {
        char *name = dns_get_name(buf, len, &off);

        free(name);
        if (name == NULL || len - off < 4)
            return false;
        off += 4;
    }
    for (unsigned i = 0; i < an; i++)
        if (!dns_msg_rr(m, &off, m->nrr < DNS_RR_MAX)) {
            dns_msg_free(m);
            return false;
        }
    return true;
}

/* dns_same_name - DNS names compare without case and final dot. */
static bool dns_same_name(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la && a[la - 1] == '.')
        la--;
    if (lb && b[lb - 1] == '.')
        lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}

/* dns_msg_owner - follow CNAMEs from qname to the owner of type records. */
static const char *dns_msg_owner(const struct dns_msg *m, const char *qname,
                                 unsigned type)
{
    const char *cur = qname;

    for (int hop = 0; hop < DNS_CNAME_MAX; hop++) {
        const char *next = NULL;

        for (size_t i = 0; i < m->nrr; i++) {
            if (!dns_same_name(m->rr[i].owner, cur))
                continue;
            if (m->rr[i].type == type)
                return cur;
            if (m->rr[i].type == DNS_T_CNAME && next == NULL)
                next = m->rr[i].target;
        }
        if (next == NULL)
            return cur;
        cur = next;
    }
    return cur;
}

/* dns_fail - set status and a Postfix-style reason; returns status. */
static dns_status dns_fail(dns_result *res, dns_status st, const char *name,
                           int type, const char *why)
{
    res->status = st;
    sb_reset(&res->reason);
    if (sb_printf(&res->reason, "Name service error for name=%.300s type=%s: %s",
                  name, dns_type_name(type), why) < 0)
        (void)sb_puts(&res->reason, why);
    return st;
}

/* ARES_* statuses of a failed query, as tern sees them. */
static const struct {
    int ares;
    dns_status st;
    const char *why;
} dns_ares_map[] = {
    {ARES_ETIMEOUT, DNS_TEMPFAIL, "Host not found, try again (timeout)"},
    {ARES_ESERVFAIL, DNS_TEMPFAIL, "Host not found, try again (server failure)"},
    {ARES_EREFUSED, DNS_TEMPFAIL, "Host not found, try again (query refused)"},
    /* c-ares 1.18 reports SERVFAIL/REFUSED from every server this way too. */
    {ARES_ECONNREFUSED, DNS_TEMPFAIL,
     "Host not found, try again (no server gave a usable answer)"},
    {ARES_EBADRESP, DNS_TEMPFAIL, "Host not found, try again (malformed reply)"},
    {ARES_ECANCELLED, DNS_TEMPFAIL, "Host not found, try again (timeout)"},
    {ARES_ENOTFOUND, DNS_NOTFOUND, "Host not found"},
    {ARES_ENODATA, DNS_NOTFOUND, "Host found but no data record of requested type"},
    {ARES_EBADNAME, DNS_PERMFAIL, "malformed domain name"},
    {ARES_EBADQUERY, DNS_PERMFAIL, "malformed domain name"},
};

/* dns_answer - judge a finished query: OK with m parsed, or a failure. */
static dns_status dns_answer(const struct dns_query *q, struct dns_msg *m,
                             dns_result *res)
{
    if (q->no_channel)
        return dns_fail(res, DNS_TEMPFAIL, q->name, q->type,
                        "Host not found, try again (resolver not available)");
    if (q->status != ARES_SUCCESS) {
        for (size_t i = 0; i < sizeof(dns_ares_map) / sizeof(*dns_ares_map); i++)
            if (dns_ares_map[i].ares == q->status) {
                res->nxdomain = q->status == ARES_ENOTFOUND;
                return dns_fail(res, dns_ares_map[i].st, q->name, q->type,
                                dns_ares_map[i].why);
            }
        return dns_fail(res, DNS_TEMPFAIL, q->name, q->type,
                        ares_strerror(q->status));
    }
    if (!dns_msg_parse(m, q->abuf, q->alen))
        return dns_fail(res, DNS_TEMPFAIL, q->name, q->type,
                        "Host not found, try again (malformed reply)");
    if (m->rcode == 3) {
        dns_msg_free(m);
        res->nxdomain = true;
        return dns_fail(res, DNS_NOTFOUND, q->name, q->type, "Host not found");
    }
    if (m->rcode != 0) {
        dns_msg_free(m);
        return dns_fail(res, DNS_TEMPFAIL, q->name, q->type,
                        "Host not found, try again (server error)");
    }
    res->status = DNS_OK;
    return DNS_OK;
}

/* dns_reset - empty a result for a new lookup. */
static void dns_reset(dns_result *res)
{
    dns_result_free(res);
    dns_result_init(res);
}

/* dns_lookup1 - one query; DNS_OK leaves m parsed with the owner found. */
static dns_status dns_lookup1(dns_ctx *ctx, const char *name, int type,
                              struct dns_msg *m, const char **owner,
                              struct dns_query *q, dns_result *res)
{
    dns_status st;

    memset(q, 0, sizeof(*q));
    q->name = name;
    q->type = type;
    if (!dns_name_valid(name))
        return dns_fail(res, DNS_PERMFAIL, name, type, "malformed domain name");
    dns_run(ctx, q, 1);
    if ((st = dns_answer(q, m, res)) != DNS_OK)
        return st;
    res->ad = m->ad;
    *owner = dns_msg_owner(m, name, (unsigned)type);
    return DNS_OK;
}

/* dns_strip_dot - a copy of name without its final dot. */
static char *dns_strip_dot(const char *name)
{
    size_t len = strlen(name);

    return xstrndup(name, len && name[len - 1] == '.' ? len - 1 : len);
}

/* dns_mx_collect - the MX records of owner into res; count of null MX. */
static size_t dns_mx_collect(const struct dns_msg *m, const char *owner,
                             dns_result *res, size_t *malformed)
{
    size_t nulls = 0;

    res->mx = xcalloc(DNS_RR_MAX, sizeof(*res->mx));
    for (size_t i = 0; i < m->nrr; i++) {
        const struct dns_rr *rr = &m->rr[i];
        size_t off = rr->rdoff + 2;
        char *host;

        if (rr->type != DNS_T_MX || !dns_same_name(rr->owner, owner))
            continue;
        if (rr->rdlen < 3
            || (host = dns_get_name(m->buf, m->len, &off)) == NULL
            || off != rr->rdoff + rr->rdlen) {
            (*malformed)++;
            continue;
        }
        if (*host == 0 || strcmp(host, ".") == 0) {
            nulls++;
        } else if (!dns_name_valid(host)) {
            msg_warn("dns: malformed host name in MX record of %.300s", owner);
            (*malformed)++;
        } else {
            bool dup = false;

            for (size_t j = 0; j < res->nmx && !dup; j++)
                dup = dns_same_name(res->mx[j].host, host);
            if (!dup) {
                res->mx[res->nmx].pref = dns_get16(m->buf + rr->rdoff);
                res->mx[res->nmx++].host = dns_strip_dot(host);
            }
        }
        free(host);
    }
    return nulls;
}

/* dns_mx - MX lookup with implicit MX and null MX (see dns.h). */
dns_status dns_mx(dns_ctx *ctx, const char *domain, dns_result *res)
{
    struct dns_query q;
    struct dns_msg m;
    const char *owner;
    dns_status st;
    size_t nulls, malformed = 0;

    dns_reset(res);
    if ((st = dns_lookup1(ctx, domain, DNS_T_MX, &m, &owner, &q, res)) != DNS_OK) {
        if (st == DNS_NOTFOUND && !res->nxdomain) {      /* NODATA */
            st = DNS_OK;
            res->status = DNS_OK;
            sb_reset(&res->reason);
            res->implicit_mx = true;
            res->mx = xcalloc(1, sizeof(*res->mx));
            res->mx[0].host = dns_strip_dot(domain);
            res->nmx = 1;
        }
        dns_query_free(&q);
        return st;
    }
    nulls = dns_mx_collect(&m, owner, res, &malformed);
    if (res->nmx == 0 && nulls > 0 && malformed == 0)
        st = dns_fail(res, DNS_NULLMX, domain, DNS_T_MX,
                      "domain does not accept mail (null MX)");
    else if (res->nmx == 0 && malformed > 0)
        st = dns_fail(res, DNS_TEMPFAIL, domain, DNS_T_MX,
                      "Host not found, try again (malformed MX record)");
    else if (res->nmx == 0) {                   /* only other types, e.g. CNAME */
        res->implicit_mx = true;
        res->mx[0].host = dns_strip_dot(domain);
        res->nmx = 1;
    } else
        dns_mx_sort(res->mx, res->nmx, ctx->random, ctx->random_arg);
    dns_msg_free(&m);
    dns_query_free(&q);
    return st;
}

/* dns_addr_collect - A or AAAA records into out[]; false if one is malformed. */
static bool dns_addr_collect(const struct dns_msg *m, const char *owner,
                             int type, dns_addr *out, size_t *n)
{
    int fam = type == DNS_T_A ? AF_INET : AF_INET6;
    size_t want = type == DNS_T_A ? 4 : 16;

    *n = 0;
    for (size_t i = 0; i < m->nrr; i++) {
        const struct dns_rr *rr = &m->rr[i];

        if (rr->type != (unsigned)type || !dns_same_name(rr->owner, owner))
            continue;
        if (rr->rdlen != want)
            return false;
        memset(&out[*n], 0, sizeof(out[*n]));
        out[*n].family = fam;
        memcpy(out[*n].bytes, m->buf + rr->rdoff, want);
        if (inet_ntop(fam, out[*n].bytes, out[*n].text, DNS_TEXT_ADDR) == NULL)
            return false;
        (*n)++;
    }
    return true;
}

/* dns_shuffle_addrs - Fisher-Yates over v[0..n). */
static void dns_shuffle_addrs(dns_ctx *ctx, dns_addr *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = ctx->random(ctx->random_arg, (unsigned)i) % i;
        dns_addr tmp = v[i - 1];

        v[i - 1] = v[j];
        v[j] = tmp;
    }
}

/* dns_addr_literal_result - a literal address as the whole answer. */
static dns_status dns_addr_literal_result(const dns_addr *lit, unsigned families,
                                          dns_result *res)
{
    unsigned fam = lit->family == AF_INET ? DNS_INET4 : DNS_INET6;

    if (!(families & fam)) {
        res->status = DNS_NOTFOUND;
        (void)sb_printf(&res->reason, "address %s: its protocol is disabled "
                        "by inet_protocols", lit->text);
        return DNS_NOTFOUND;
    }
    res->addr = xmemdup(lit, sizeof(*lit));
    res->naddr = 1;
    return DNS_OK;
}

/* dns_status_rank - which failure speaks for a pair of lookups. */
static int dns_status_rank(dns_status st)
{
    static const int rank[] = {
        [DNS_OK] = 0, [DNS_NOTFOUND] = 1, [DNS_NULLMX] = 1,
        [DNS_PERMFAIL] = 2, [DNS_TEMPFAIL] = 3,
    };

    return rank[st];
}

/* dns_addrs_merge - combine the A and AAAA outcomes into one status. */
static dns_status dns_addrs_merge(dns_result *res, dns_result *part, size_t n)
{
    dns_result *worst = &part[0];
    bool all_nx = true;

    if (res->naddr > 0)
        return res->status = DNS_OK;
    for (size_t i = 0; i < n; i++) {
        all_nx = all_nx && part[i].nxdomain;
        if (dns_status_rank(part[i].status) > dns_status_rank(worst->status))
            worst = &part[i];
    }
    res->status = worst->status == DNS_OK ? DNS_NOTFOUND : worst->status;
    res->nxdomain = res->status == DNS_NOTFOUND && all_nx;
    if (!(res->status == DNS_NOTFOUND && !res->nxdomain))
        (void)sb_set(&res->reason, sb_str(&worst->reason));
    return res->status;
}

/* dns_addrs - A/AAAA of host, ordered per prefer (see dns.h). */
dns_status dns_addrs(dns_ctx *ctx, const char *host, unsigned families,
                     dns_prefer prefer, dns_result *res)
{
    static const int types[2] = {DNS_T_AAAA, DNS_T_A};
    struct dns_query q[2];
    dns_result part[2];
    dns_addr lit, found[2][DNS_RR_MAX];
    size_t nq = 0, nfound[2] = {0, 0};
    int idx[2];

    dns_reset(res);
    if (dns_addr_literal(host, &lit) == 0)
        return dns_addr_literal_result(&lit, families, res);
    if (!(families & DNS_INET_ALL) || !dns_name_valid(host))
        return dns_fail(res, DNS_PERMFAIL, host, DNS_T_A, "malformed domain name");
    memset(q, 0, sizeof(q));
    for (int t = 0; t < 2; t++)
        if (families & (types[t] == DNS_T_A ? DNS_INET4 : DNS_INET6)) {
            q[nq].name = host;
            q[nq].type = types[t];
            idx[nq++] = t;
        }
    dns_run(ctx, q, nq);
    res->ad = true;
    for (size_t i = 0; i < nq; i++) {
        struct dns_msg m;

        dns_result_init(&part[i]);
        if (dns_answer(&q[i], &m, &part[i]) == DNS_OK) {
            const char *owner = dns_msg_owner(&m, host, (unsigned)q[i].type);

            if (!dns_addr_collect(&m, owner, q[i].type, found[idx[i]],
                                  &nfound[idx[i]])) {
                nfound[idx[i]] = 0;
                (void)dns_fail(&part[i], DNS_TEMPFAIL, host, q[i].type,
                               "Host not found, try again (malformed record)");
            }
            res->ad = res->ad && m.ad;
            dns_msg_free(&m);
        }
        dns_query_free(&q[i]);
    }
    res->addr = xcalloc(2 * DNS_RR_MAX, sizeof(*res->addr));
    dns_shuffle_addrs(ctx, found[0], nfound[0]);
    dns_shuffle_addrs(ctx, found[1], nfound[1]);
    for (int k = 0; k < 2; k++) {
        int t = prefer == DNS_PREFER_IPV4 ? 1 - k : k;      /* 0 = AAAA */

        memcpy(res->addr + res->naddr, found[t], nfound[t] * sizeof(dns_addr));
        res->naddr += nfound[t];
    }
    if (prefer == DNS_PREFER_ANY)
        dns_shuffle_addrs(ctx, res->addr, res->naddr);
    (void)dns_addrs_merge(res, part, nq);
    if (res->naddr == 0 || res->status != DNS_OK)
        res->ad = false;
    if (res->status == DNS_NOTFOUND && !res->nxdomain && sb_len(&res->reason) == 0)
        (void)dns_fail(res, DNS_NOTFOUND, host, DNS_T_A,
                       "Host found but no data record of requested type");
    for (size_t i = 0; i < nq; i++)
        dns_result_free(&part[i]);
    return res->status;
}

/* dns_reverse_name - the in-addr.arpa / ip6.arpa name of an address. */
static int dns_reverse_name(const dns_addr *a, strbuf *out)
{
    static const char hex[] = "0123456789abcdef";
    int rc = 0;

    if (a->family == AF_INET)
        return sb_printf(out, "%u.%u.%u.%u.in-addr.arpa", a->bytes[3],
                         a->bytes[2], a->bytes[1], a->bytes[0]);
    for (int i = 15; i >= 0 && rc == 0; i--)
        rc = sb_printf(out, "%c.%c.", hex[a->bytes[i] & 15], hex[a->bytes[i] >> 4]);
    return rc < 0 ? -1 : sb_puts(out, "ip6.arpa");
}

/* dns_ptr - PTR names of a textual address (see dns.h). */
dns_status dns_ptr(dns_ctx *ctx, const char *addr, dns_result *res)
{
    struct dns_query q;
    struct dns_msg m;
    const char *owner;
    dns_addr a;
    strbuf rev;
    dns_status st;
    size_t bad = 0, broken = 0;

    dns_reset(res);
    if (dns_addr_literal(addr, &a) < 0)
        return dns_fail(res, DNS_PERMFAIL, addr, DNS_T_PTR, "malformed address");
    sb_init(&rev, 128);
    if (dns_reverse_name(&a, &rev) < 0)
        msg_panic("dns_ptr: reverse name of %s too long", a.text);
    st = dns_lookup1(ctx, sb_str(&rev), DNS_T_PTR, &m, &owner, &q, res);
    if (st == DNS_OK) {
        res->names = xcalloc(DNS_RR_MAX, sizeof(*res->names));
        for (size_t i = 0; i < m.nrr; i++) {
            size_t off = m.rr[i].rdoff;
            char *name;

            if (m.rr[i].type != DNS_T_PTR || !dns_same_name(m.rr[i].owner, owner))
                continue;
            name = dns_get_name(m.buf, m.len, &off);
            if (name == NULL || off != m.rr[i].rdoff + m.rr[i].rdlen)
                broken++;
            else if (dns_name_valid(name))
                res->names[res->nnames++] = dns_strip_dot(name);
            else
                bad++;                  /* a name, but not a host name */
            free(name);
        }
        dns_msg_free(&m);
        if (res->nnames == 0 && broken)
            st = dns_fail(res, DNS_TEMPFAIL, sb_str(&rev), DNS_T_PTR,
                          "Host not found, try again (malformed PTR record)");
        else if (res->nnames == 0)
            st = dns_fail(res, DNS_NOTFOUND, sb_str(&rev), DNS_T_PTR, bad
                          ? "Malformed name server reply (not a host name)"
                          : "Host found but no data record of requested type");
    }
    dns_query_free(&q);
    sb_release(&rev);
    return st;
}

/*
 * dns_forward_has - whether name's addresses include a: the hosts file's
 * when it lists name with addresses of a's family, else DNS's (*temp set on
 * a temporary DNS failure).
 */
static bool dns_forward_has(dns_ctx *ctx, const char *name, const dns_addr *a,
                            dns_result *fwd, bool *temp)
{
    dns_addr local[DNS_RR_MAX];
    size_t n = ctx->hosts ? dns_hosts_addrs(ctx->hosts, name, a->family, local,
                                            DNS_RR_MAX) : 0;
    const dns_addr *v = local;

    if (n == 0) {
        dns_status st = dns_addrs(ctx, name, a->family == AF_INET ? DNS_INET4
                                  : DNS_INET6, DNS_PREFER_ANY, fwd);

        *temp = *temp || st == DNS_TEMPFAIL;
        v = fwd->addr;
        n = fwd->naddr;
    }
    for (size_t j = 0; j < n; j++)
        if (memcmp(v[j].bytes, a->bytes, sizeof(a->bytes)) == 0)
            return true;
    return false;
}

/* dns_fcrdns_names - dns_fcrdns after the address is parsed. */
static dns_status dns_fcrdns_names(dns_ctx *ctx, const dns_addr *ap,
                                   const char *addr, strbuf *name,
                                   dns_result *res)
{
    dns_result fwd;
    dns_addr a = *ap;
    bool temp = false;
    dns_status st;

    if (ctx->hosts && dns_hosts_name(ctx->hosts, &a, name)) {
        res->names = xcalloc(1, sizeof(*res->names));
        res->names[res->nnames++] = xstrdup(sb_str(name));
        sb_reset(name);
    } else if ((st = dns_ptr(ctx, addr, res)) != DNS_OK) {
        return st;
    }
    dns_result_init(&fwd);
    for (size_t i = 0; i < res->nnames && i < 10 && sb_len(name) == 0; i++)
        if (dns_forward_has(ctx, res->names[i], &a, &fwd, &temp)
            && sb_set(name, res->names[i]) < 0)
            break;
    dns_result_free(&fwd);
    if (sb_len(name) > 0)
        return DNS_OK;
    res->status = temp ? DNS_TEMPFAIL : DNS_NOTFOUND;
    sb_reset(&res->reason);
    (void)sb_printf(&res->reason, "hostname %.300s does not resolve to address %s%s",
                    res->names[0], a.text, temp ? ": Host not found, try again" : "");
    return res->status;
}

/* dns_fcrdns - the hosts file's or a PTR name that maps back (see dns.h). */
dns_status dns_fcrdns(dns_ctx *ctx, const char *addr, strbuf *name,
                      dns_result *res)
{
    dns_addr a;
    dns_status st;

    sb_reset(name);
    dns_reset(res);
    if (dns_addr_literal(addr, &a) < 0)
        return dns_fail(res, DNS_PERMFAIL, addr, DNS_T_PTR, "malformed address");
    if (ctx->hosts)
        dns_hosts_pin(ctx->hosts);      /* one check of the file per client */
    st = dns_fcrdns_names(ctx, &a, addr, name, res);
    if (ctx->hosts)
        dns_hosts_unpin(ctx->hosts);
    return st;
}

/* dns_tlsa - TLSA records of name and the answer's AD bit (see dns.h). */
dns_status dns_tlsa(dns_ctx *ctx, const char *name, dns_result *res)
{
    struct dns_query q;
    struct dns_msg m;
    const char *owner;
    dns_status st;

    dns_reset(res);
    if ((st = dns_lookup1(ctx, name, DNS_T_TLSA, &m, &owner, &q, res)) != DNS_OK) {
        dns_query_free(&q);
        return st;
    }
    res->tlsa = xcalloc(DNS_RR_MAX, sizeof(*res->tlsa));
    for (size_t i = 0; i < m.nrr && st == DNS_OK; i++) {
        const struct dns_rr *rr = &m.rr[i];
        dns_tlsa_rr *t = &res->tlsa[res->ntlsa];

        if (rr->type != DNS_T_TLSA || !dns_same_name(rr->owner, owner))
            continue;
        if (rr->rdlen < 4) {
            st = dns_fail(res, DNS_TEMPFAIL, name, DNS_T_TLSA,
                          "Host not found, try again (malformed TLSA record)");
            break;
        }
        t->usage = m.buf[rr->rdoff];
        t->selector = m.buf[rr->rdoff + 1];
        t->mtype = m.buf[rr->rdoff + 2];
        t->len = rr->rdlen - 3;
        t->data = xmemdup(m.buf + rr->rdoff + 3, t->len);
        res->ntlsa++;
    }
    if (st == DNS_OK && res->ntlsa == 0)
        st = dns_fail(res, DNS_NOTFOUND, name, DNS_T_TLSA,
                      "Host found but no data record of requested type");
    if (st != DNS_OK)
        res->ad = false;
    dns_msg_free(&m);
    dns_query_free(&q);
    return st;
}
