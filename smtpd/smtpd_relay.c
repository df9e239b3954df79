/*
 * smtpd_relay - the built-in relay rule, Postfix's default
 * smtpd_relay_restrictions (permit_mynetworks, defer/reject of
 * unauthorized destinations) in one obvious place, so the server is never
 * an open relay before the restriction engine (smtpd_check.[ch]) replaces
 * the call in smtpd_mail.c. mynetworks entries are common/cidr patterns;
 * an entry it cannot read (a table, a file) is logged once and matches
 * nothing, so it fails closed.
 */
#include "common/cidr.h"
#include "common/msg.h"
#include "common/xalloc.h"
#include "smtpd/smtpd_sess.h"

/* smtpd_nets_parse - mynetworks into ctx->nets (common/cidr patterns). */
int smtpd_nets_parse(smtpd_ctx *ctx, strbuf *why)
{
    const char *const *list = conf_get_list(ctx->cf, "mynetworks");
    size_t n = 0;

    while (list && list[n])
        n++;
    ctx->nets = xcalloc(n ? n : 1, sizeof(*ctx->nets));
    for (size_t i = 0; i < n; i++) {
        sb_reset(why);
        if (cidr_parse(list[i], &ctx->nets[ctx->nnets], why) == 0)
            ctx->nnets++;
        else
            msg_warn("mynetworks: cannot use \"%s\" yet (%s); it matches "
                     "no client", list[i], sb_str(why));
    }
    sb_reset(why);
    return 0;
}

/* smtpd_nets_match - is the textual client address in mynetworks? */
bool smtpd_nets_match(const smtpd_ctx *ctx, const char *client)
{
    struct cidr_addr a;

    if (cidr_addr_parse(client, &a) < 0)
        return false;
    for (size_t i = 0; i < ctx->nnets; i++)
        if (cidr_match(&ctx->nets[i], &a))
            return true;
    return false;
}

/*
 * smtpd_relay_check - NULL when the recipient may be accepted, else the
 * reply (in reply): permit_mynetworks, permit_sasl_authenticated (the
 * client logged in with AUTH), then destinations this host
 * handles (local, virtual alias, virtual mailbox, relay_domains), else
 * "554 5.7.1 <rcpt>: Relay access denied". A table error defers.
 */
const char *smtpd_relay_check(smtpd_sess *s, const char *rcpt, strbuf *reply)
{
    struct route_result r;
    enum route_status st;
    const char *out = NULL;

    if (s->trusted || sb_len(&s->sasl_user) > 0)
        return NULL;
    route_result_init(&r);
    st = route_resolve(s->ctx->route, rcpt, sb_str(&s->txn.sender), &r);
    sb_reset(reply);
    if (st == ROUTE_TEMPFAIL)
        (void)sb_printf(reply, "451 4.3.0 <%s>: Temporary lookup failure", rcpt);
    else if (st == ROUTE_BADADDR)
        (void)sb_printf(reply, "501 5.1.3 <%s>: Bad recipient address syntax",
                        rcpt);
    else if (st != ROUTE_OK && st != ROUTE_CONFIG)
        (void)sb_puts(reply, "451 4.3.5 Server configuration error");
    else if (r.rclass == ROUTE_CLASS_DEFAULT)
        (void)sb_printf(reply, "554 5.7.1 <%s>: Relay access denied", rcpt);
    if (sb_len(reply) > 0)
        out = sb_str(reply);
    route_result_release(&r);
    return out;
}
