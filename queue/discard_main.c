/*
 * discard - the discard delivery agent (master.cf:
 * `discard unix - - n - - discard`).
 *
 * Reports every recipient of a request as delivered (dsn 2.0.0) without
 * delivering anything, logging `status=sent (TEXT)` where TEXT is the
 * nexthop (transport_maps `discard:` routes give the recipient domain, or
 * the text written after "discard:") and "discarded" when that is empty.
 * It never writes the queue file; qmgr marks the recipients.
 */

#include "master/server.h"
#include "queue/dlv.h"

/* The request budget of this process (main.c state, STYLE.md rule 14). */
static dlv_agent discard_budget;

/* discard_stopping - ternd wants the process gone. */
static bool discard_stopping(void *srv)
{
    return server_stopping(srv);
}

/* discard_init - a budget of max_use requests. */
static int discard_init(server *srv)
{
    dlv_agent_init(&discard_budget, conf_get_int(server_conf(srv), "max_use"),
                   discard_stopping, srv);
    return 0;
}

/* discard_session - delivery requests on one connection (stdin: -S). */
static void discard_session(server *srv, int fd)
{
    if (dlv_serve_simple(&discard_budget, fd,
                         conf_get_str(server_conf(srv), "queue_directory"),
                         DLV_DELIVERED, "sent", "discarded"))
        server_retire(srv);
}

int main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .program = "discard", .mode = SERVER_SESSION, .init = discard_init,
        .session = discard_session,
    };

    return server_main(argc, argv, &ops);
}
