/*
 * error - the error and retry delivery agents (master.cf:
 * `error unix - - n - - error` and `retry unix - - n - - error`).
 *
 * As service "error" it fails every recipient of a request with the
 * nexthop text as the reason (transport_maps `example.com error:Bad
 * domain!` gives dsn 5.0.0 "Bad domain!"); as service "retry" it defers
 * them (4.0.0). A leading detail code in the text ("5.1.1 ...") is kept.
 * It never writes the queue file; qmgr marks the recipients.
 */
#include <string.h>

#include "master/server.h"
#include "queue/dlv.h"

/* The request budget of this process (main.c state, STYLE.md rule 14). */
static dlv_agent error_budget;

/* error_stopping - ternd wants the process gone. */
static bool error_stopping(void *srv)
{
    return server_stopping(srv);
}

/* error_init - a budget of max_use requests. */
static int error_init(server *srv)
{
    dlv_agent_init(&error_budget, conf_get_int(server_conf(srv), "max_use"),
                   error_stopping, srv);
    return 0;
}

/* error_session - delivery requests on one connection (stdin: -S). */
static void error_session(server *srv, int fd)
{
    bool retry = strcmp(server_service(srv), "retry") == 0;

    if (dlv_serve_simple(&error_budget, fd,
                         conf_get_str(server_conf(srv), "queue_directory"),
                         retry ? DLV_DEFERRED : DLV_FAILED,
                         retry ? "deferred" : "bounced",
                         retry ? "delivery temporarily suspended"
                         : "mail rejected"))
        server_retire(srv);
}

int main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .program = "error", .mode = SERVER_SESSION, .init = error_init,
        .session = error_session,
    };

    return server_main(argc, argv, &ops);
}
