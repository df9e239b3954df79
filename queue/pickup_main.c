/*
 * pickup - main of the pickup service: the ternd server skeleton in
 * trigger mode around pickup.c. Each wake-up (postdrop's, or ternd's every
 * `wakeup` seconds of master.cf) scans maildrop/ once; so does the start.
 */
#include <stdlib.h>

#include "common/msg.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "master/server.h"
#include "queue/pickup.h"

/* pickup_srv_init - set up the context after the privilege drop. */
static int pickup_srv_init(server *srv)
{
    pickup_ctx *ctx = xcalloc(1, sizeof(*ctx));
    strbuf why;

    sb_init(&why, 1024);
    if (pickup_init(ctx, server_conf(srv), &why) < 0) {
        msg_warn("%s", sb_str(&why));
        sb_release(&why);
        pickup_free(ctx);
        free(ctx);
        return -1;
    }
    sb_release(&why);
    server_set_app(srv, ctx);
    (void)pickup_scan(ctx);
    return 0;
}

/* pickup_srv_trigger - one scan per wake-up. */
static void pickup_srv_trigger(server *srv)
{
    (void)pickup_scan(server_app(srv));
}

int main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .program = "pickup",
        .mode = SERVER_TRIGGER,
        .flags = 0,
        .trigger_every = 60,
        .init = pickup_srv_init,
        .trigger = pickup_srv_trigger,
    };

    return server_main(argc, argv, &ops);
}
