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

/* discard_session - one delivery request. */
static void discard_session(server *srv, int fd)
{
    dlv_serve_simple(fd, conf_get_str(server_conf(srv), "queue_directory"),
                     DLV_DELIVERED, "sent", "discarded");
}

int main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .program = "discard", .mode = SERVER_SESSION,
        .session = discard_session,
    };

    return server_main(argc, argv, &ops);
}
