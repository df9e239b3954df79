/*
 * virtual - the virtual delivery agent program (master.cf:
 * `virtual unix - n n - - virtual`).
 *
 * Runs in the server skeleton as a session service on private/virtual and
 * handles the delivery requests of each connection from qmgr, up to
 * max_use requests (local/virtual.h). With
 * master.cf's unpriv column "n" a root-started ternd leaves it root, and it
 * takes each mailbox owner's uid and gid around each delivery; otherwise it
 * delivers as the user it runs as. A configuration it cannot use stops it
 * at start with the reason.
 */

#include "common/msg.h"
#include "local/virtual.h"
#include "master/server.h"

/* The agent of this process (lives here, in main.c, by STYLE.md rule 14). */
static virtual_agent *virtual_main_agent;
static dlv_agent virtual_main_budget;

/* virtual_stopping - ternd wants the process gone. */
static bool virtual_stopping(void *srv)
{
    return server_stopping(srv);
}

/* virtual_init - build the agent from the service's configuration. */
static int virtual_init(server *srv)
{
    strbuf why;

    sb_init(&why, 1024);
    dlv_agent_init(&virtual_main_budget,
                   conf_get_int(server_conf(srv), "max_use"), virtual_stopping,
                   srv);
    virtual_main_agent = virtual_agent_new(server_conf(srv), &why);
    if (virtual_main_agent == NULL)
        msg_warn("%s", sb_str(&why));
    sb_release(&why);
    return virtual_main_agent ? 0 : -1;
}

/* virtual_session - the delivery requests of one connection. */
static void virtual_session(server *srv, int fd)
{
    if (virtual_agent_serve(virtual_main_agent, &virtual_main_budget, fd))
        server_retire(srv);
}

int main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .program = "virtual", .mode = SERVER_SESSION, .init = virtual_init,
        .session = virtual_session,
    };
    int status = server_main(argc, argv, &ops);

    virtual_agent_free(virtual_main_agent);
    return status;
}
