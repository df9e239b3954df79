/*
 * smtp_resolve - MX and address resolution (see smtp_resolve.h). All DNS
 * goes through common/dns; this file only orders, limits and checks for
 * mail looping back to this host. Owns the target list it fills.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/xalloc.h"
#include "smtp/smtp_resolve.h"

/* What resolving one MX list found. */
typedef struct resolve_state {
    bool tempfail;              /* some lookup failed temporarily */
    bool self;                  /* an MX host is this machine */
    unsigned self_pref;
    strbuf last;                /* last lookup failure */
} resolve_state;

/* smtp_targets_free - free the hosts and the array. */
void smtp_targets_free(smtp_targets *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].host);
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}

/* target_add - append one address of host. */
static void target_add(smtp_targets *t, const char *host, unsigned pref,
                       const dns_addr *a, unsigned port)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
    }
    t->v[t->n].host = xstrdup(host);
    t->v[t->n].pref = pref;
    t->v[t->n].addr = *a;
    t->v[t->n].port = port;
    t->n++;
}

/* is_own - a is one of this host's addresses. */
static bool is_own(const smtp_params *p, const dns_addr *a)
{
    size_t len = a->family == AF_INET ? 4 : 16;

    for (size_t i = 0; i < p->nown; i++)
        if (p->own[i].family == a->family
            && memcmp(p->own[i].bytes, a->bytes, len) == 0)
            return true;
    return false;
}

/* fail - set dsn and reason; the status to return. */
static int fail(int status, const char *dsn, char out[SMTP_DSN_SIZE],
                strbuf *why, const char *prefix, const char *text)
{
    (void)fmt_fixed(out, SMTP_DSN_SIZE, "%s", dsn);
    sb_reset(why);
    (void)sb_printf(why, "%s%s", prefix, text);
    return status;
}

/* host_addrs - add the addresses of one host; false when it is this host. */
static bool host_addrs(dns_ctx *dns, const smtp_params *p, const char *host,
                       unsigned pref, unsigned port, bool mx,
                       smtp_targets *out, resolve_state *st)
{
    dns_result res;
    bool self = false;

    dns_result_init(&res);
    if (dns_addrs(dns, host, p->families, p->prefer, &res) != DNS_OK) {
        st->tempfail |= res.status == DNS_TEMPFAIL;
        (void)sb_set(&st->last, sb_str(&res.reason));
    }
    for (size_t i = 0; i < res.naddr && !self; i++) {
        if (mx && is_own(p, &res.addr[i]))
            self = true;
        else if (p->mx_address_limit == 0 || out->n < p->mx_address_limit)
            target_add(out, host, pref, &res.addr[i], port);
    }
    dns_result_free(&res);
    return !self;
}

/* resolve_mx - MX hosts in order until this host or the limit. */
static void resolve_mx(dns_ctx *dns, const smtp_params *p,
                       const dns_result *mx, unsigned port,
                       smtp_targets *out, resolve_state *st)
{
    for (size_t i = 0; i < mx->nmx; i++) {
        const dns_mx_rr *m = &mx->mx[i];

        if (p->mx_address_limit && out->n >= p->mx_address_limit)
            break;
        if (strcasecmp(m->host, p->myhostname) == 0
            || !host_addrs(dns, p, m->host, m->pref, port, true, out, st)) {
            st->self = true;
            st->self_pref = m->pref;
            break;
        }
    }
    if (st->self) {                     /* drop equal or worse preferences */
        size_t keep = 0;

        for (size_t i = 0; i < out->n; i++) {
            if (out->v[i].pref < st->self_pref)
                out->v[keep++] = out->v[i];
            else
                free(out->v[i].host);
        }
        out->n = keep;
    }
}

/* resolve_domain - the MX path. */
static int resolve_domain(dns_ctx *dns, const smtp_params *p,
                          const struct route_nexthop *hop, smtp_targets *out,
                          char dsn[SMTP_DSN_SIZE], strbuf *why,
                          resolve_state *st)
{
    const char *domain = sb_str(&hop->host);
    dns_result mx;
    int rc = SMTP_RESOLVE_OK;

    dns_result_init(&mx);
    switch (dns_mx(dns, domain, &mx)) {
    case DNS_OK:
        resolve_mx(dns, p, &mx, hop->port, out, st);
        break;
    case DNS_NULLMX:
        rc = fail(SMTP_RESOLVE_BOUNCE, "5.1.10", dsn, why, "Domain ", domain);
        (void)sb_puts(why, " does not accept mail: no mail exchanger (nullMX)");
        break;
    case DNS_TEMPFAIL:
        rc = fail(SMTP_RESOLVE_DEFER, "4.4.3", dsn, why,
                  "Host or domain name not found. ", sb_str(&mx.reason));
        break;
    default:
        rc = fail(SMTP_RESOLVE_BOUNCE, "5.4.4", dsn, why,
                  "Host or domain name not found. ", sb_str(&mx.reason));
        break;
    }
    dns_result_free(&mx);
    return rc;
}

/* smtp_resolve - literal, [host] or MX; then the empty-list verdicts. */
int smtp_resolve(dns_ctx *dns, const smtp_params *p,
                 const struct route_nexthop *hop, smtp_targets *out,
                 char dsn[SMTP_DSN_SIZE], strbuf *why)
{
    resolve_state st = {0};
    dns_addr lit;
    int rc = SMTP_RESOLVE_OK;

    smtp_targets_free(out);
    sb_init(&st.last, 1024);
    if (hop->literal && dns_addr_literal(sb_str(&hop->host), &lit) == 0)
        target_add(out, sb_str(&hop->host), 0, &lit, hop->port);
    else if (!hop->mx_lookup)
        (void)host_addrs(dns, p, sb_str(&hop->host), 0, hop->port, false,
                         out, &st);
    else
        rc = resolve_domain(dns, p, hop, out, dsn, why, &st);
    if (rc == SMTP_RESOLVE_OK && out->n == 0) {
        if (st.self)
            rc = fail(SMTP_RESOLVE_BOUNCE, "5.4.6", dsn, why, "mail for ",
                      sb_str(&hop->host));
        else if (st.tempfail)
            rc = fail(SMTP_RESOLVE_DEFER, "4.4.3", dsn, why,
                      "Host or domain name not found. ", sb_str(&st.last));
        else
            rc = fail(SMTP_RESOLVE_BOUNCE, "5.4.4", dsn, why,
                      "Host or domain name not found. ", sb_str(&st.last));
        if (st.self)
            (void)sb_puts(why, " loops back to myself");
    }
    sb_release(&st.last);
    return rc;
}
