/*
 * smtp / lmtp - the SMTP and LMTP delivery agent program.
 *
 * One binary, two protocols: started under the name "lmtp" (the installed
 * lmtp symlink, master.cf command "lmtp") it speaks LMTP, otherwise SMTP.
 * It runs in the server skeleton as a session service on
 * private/<service> (smtp, relay, lmtp, or any transport defined in
 * master.cf with -o overrides) and handles the delivery requests of each
 * connection from qmgr, up to max_use requests (smtp/smtp_agent.h). The agent lives as long as the process
 * and is freed after the skeleton returns, so a cached session gets QUIT.
 */
#include <string.h>

#include "common/msg.h"
#include "master/server.h"
#include "smtp/smtp_agent.h"

/* The agent of this process (lives here, in main.c, by STYLE.md rule 14). */
static smtp_agent *smtp_main_agent;
static dlv_agent smtp_main_budget;
static int smtp_main_lmtp;

/* smtp_stopping - ternd wants the process gone. */
static bool smtp_stopping(void *srv)
{
    return server_stopping(srv);
}

/* smtp_init - build the agent from the service's configuration. */
static int smtp_init(server *srv)
{
    strbuf why;

    sb_init(&why, 1024);
    dlv_agent_init(&smtp_main_budget, conf_get_int(server_conf(srv), "max_use"),
                   smtp_stopping, srv);
    smtp_main_agent = smtp_agent_new(server_conf(srv), smtp_main_lmtp, &why);
    if (smtp_main_agent == NULL)
        msg_warn("%s", sb_str(&why));
    sb_release(&why);
    return smtp_main_agent ? 0 : -1;
}

/* smtp_session_hook - the delivery requests of one connection. */
static void smtp_session_hook(server *srv, int fd)
{
    if (smtp_agent_serve(smtp_main_agent, &smtp_main_budget, fd))
        server_retire(srv);
}

int main(int argc, char **argv)
{
    static const struct server_ops smtp_ops = {
        .program = "smtp", .mode = SERVER_SESSION, .init = smtp_init,
        .session = smtp_session_hook,
    };
    static const struct server_ops lmtp_ops = {
        .program = "lmtp", .mode = SERVER_SESSION, .init = smtp_init,
        .session = smtp_session_hook,
    };
    const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;
    int status;

    base = base ? base + 1 : (argc > 0 ? argv[0] : "smtp");
    smtp_main_lmtp = strcmp(base, "lmtp") == 0;
    status = server_main(argc, argv, smtp_main_lmtp ? &lmtp_ops : &smtp_ops);
    smtp_agent_free(smtp_main_agent);
    return status;
}
