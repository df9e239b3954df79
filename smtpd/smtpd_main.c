/*
 * smtpd - main of the SMTP server: the ternd server skeleton in session
 * mode around smtpd.h. The context is built after the privilege drop and
 * lives, as the skeleton's app pointer, until the process exits.
 */
#include "common/msg.h"
#include "master/server.h"
#include "smtpd/smtpd.h"

/* The process's context, freed at exit (lives here by STYLE.md rule 14). */
static smtpd_ctx *smtpd_main_ctx;

/* smtpd_srv_pre_drop - TLS keys are often readable only by root. */
static int smtpd_srv_pre_drop(server *srv)
{
    strbuf why;
    tls_server *ts;

    sb_init(&why, 1024);
    if ((ts = tls_server_open(server_conf(srv), &why)) == NULL)
        msg_warn("%s", sb_str(&why));
    sb_release(&why);
    server_set_app(srv, ts);    /* until init hands it to the context */
    return ts ? 0 : -1;
}

/* smtpd_srv_init - per-process state from the service's configuration. */
static int smtpd_srv_init(server *srv)
{
    tls_server *ts = server_app(srv);
    strbuf why;
    smtpd_ctx *ctx;

    sb_init(&why, 1024);
    ctx = smtpd_ctx_new(server_conf(srv), server_service(srv), &why);
    if (ctx == NULL)
        msg_warn("%s", sb_str(&why));
    sb_release(&why);
    if (ctx != NULL)
        smtpd_ctx_adopt_tls(ctx, ts);
    else
        tls_server_free(ts);
    server_set_app(srv, ctx);
    smtpd_main_ctx = ctx;
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
        .program = "smtpd", .mode = SERVER_SESSION,
        .pre_drop = smtpd_srv_pre_drop, .init = smtpd_srv_init,
        .session = smtpd_srv_session,
    };

    int status = server_main(argc, argv, &ops);

    smtpd_ctx_free(smtpd_main_ctx);
    return status;
}
