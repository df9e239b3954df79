/*
 * qmgr_route - qmgr's routing callback over the route library: maps a
 * route_resolve() result to a transport and nexthop, or to a deferral
 * (table lookup failure 4.3.0, unusable configuration 4.3.5) or a bounce
 * (malformed recipient domain 5.1.3) with route's reason. Owns nothing
 * beyond one call.
 */
#include "queue/qmgr.h"
#include "queue/route.h"

/* qmgr_route - a qmgr_resolve_fn; ctx is a route_ctx. */
enum qmgr_route_status qmgr_route(void *ctx, const char *rcpt,
                                  const char *sender, strbuf *transport,
                                  strbuf *nexthop, strbuf *dsn, strbuf *why)
{
    struct route_result r;
    enum qmgr_route_status rs = QMGR_ROUTE_DEFER;

    route_result_init(&r);
    switch (route_resolve(ctx, rcpt, sender, &r)) {
    case ROUTE_OK:
        if (sb_set(transport, sb_str(&r.transport)) == 0
            && sb_set(nexthop, sb_str(&r.nexthop)) == 0)
            rs = QMGR_ROUTE_OK;
        else
            (void)sb_set(why, "transport or nexthop too long");
        break;
    case ROUTE_BADADDR:
        rs = QMGR_ROUTE_BOUNCE;
        (void)sb_set(dsn, "5.1.3");
        (void)sb_set(why, sb_str(&r.error));
        break;
    case ROUTE_CONFIG:
        (void)sb_set(dsn, "4.3.5");
        (void)sb_set(why, sb_str(&r.error));
        break;
    case ROUTE_TEMPFAIL:
    default:
        (void)sb_set(dsn, "4.3.0");
        (void)sb_set(why, sb_str(&r.error));
        break;
    }
    route_result_release(&r);
    return rs;
}
