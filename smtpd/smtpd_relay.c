/*
 * smtpd_relay - mynetworks as common/cidr patterns, for the session's
 * "trusted" flag (the client connection count exemption and cleanup's
 * local_header_rewrite_clients). Relay control itself is the restriction
 * engine's (smtpd_relay_restrictions, run by smtpd_restrict.c); this file
 * decides nothing about recipients. An entry it cannot read (a table, a
 * file) is logged once and matches nothing, so it fails closed.
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
            msg_warn("mynetworks: \"%s\" is not an address pattern (%s); "
                     "permit_mynetworks uses it, the connection limit "
                     "exemption and header rewriting do not", list[i],
                     sb_str(why));
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
