/*
 * smtpd - main of the SMTP server: the ternd server skeleton in session
 * mode around smtpd.h. The context is built after the privilege drop and
 * lives, as the skeleton's app pointer, until the process exits.
 */
#include "common/msg.h"
#include "master/server.h"
#include "smtpd/smtpd.h"

/* smtpd_srv_init - per-process state from the service's configuration. */
static int smtpd_srv_init(server *srv)
{
    strbuf why;
    smtpd_ctx *ctx;

    sb_init(&why, 1024);
    ctx = smtpd_ctx_new(server_conf(srv), server_service(srv), &why);
    if (ctx == NULL)
        msg_warn("%s", sb_str(&why));
    sb_release(&why);
    server_set_app(srv, ctx);
    return ctx ? 0 : -1;
}

/* smtpd_srv_session - one SMTP session per accepted connection. */
static void smtpd_srv_session(server *srv, int fd)
{
    smtpd_serve(server_app(srv), fd);
}

int main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .program = "smtpd", .mode = SERVER_SESSION, .init = smtpd_srv_init,
        .session = smtpd_srv_session,
    };

    return server_main(argc, argv, &ops);
}
