/*
 * smtpd_ctx - the SMTP server's per-process state: parameters read once
 * from the service's configuration, the spool and queue ID generator, the
 * compiled restriction lists (smtpd_restrict.c), the resolver for client
 * names, and the connection-count directory. Construction fails with a
 * reason (the service then refuses to start); nothing here exits.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "smtpd/smtpd_sess.h"

#define SMTPD_DNS_TIMEOUT_MS 5000
#define SMTPD_DNS_TRIES 2

/* ctx_bool - a boolean parameter another part of tern may register. */
static bool ctx_bool(const conf *cf, const char *name, bool dflt)
{
    return conf_param_find(name) ? conf_get_bool(cf, name) : dflt;
}

/* ctx_ext - the EHLO keywords left after smtpd_discard_ehlo_keywords. */
static unsigned ctx_ext(const conf *cf, bool vrfy)
{
    static const struct { const char *word; unsigned ext; } kw[] = {
        {"pipelining", SMTPD_EXT_PIPELINING}, {"size", SMTPD_EXT_SIZE},
        {"vrfy", SMTPD_EXT_VRFY}, {"etrn", SMTPD_EXT_ETRN},
        {"starttls", SMTPD_EXT_STARTTLS}, {"auth", SMTPD_EXT_AUTH},
        {"enhancedstatuscodes", SMTPD_EXT_ENHANCED},
        {"8bitmime", SMTPD_EXT_8BITMIME}, {"dsn", SMTPD_EXT_DSN},
        {"smtputf8", SMTPD_EXT_SMTPUTF8}, {"chunking", SMTPD_EXT_CHUNKING},
    };
    const char *const *list = conf_get_list(cf, "smtpd_discard_ehlo_keywords");
    /* STARTTLS and ETRN are offered once their code exists; AUTH is
     * kept per session only when SASL offers it (smtpd_auth_ext) */
    unsigned ext = SMTPD_EXT_PIPELINING | SMTPD_EXT_SIZE | SMTPD_EXT_ENHANCED
        | SMTPD_EXT_8BITMIME | SMTPD_EXT_DSN | SMTPD_EXT_SMTPUTF8
        | SMTPD_EXT_CHUNKING | SMTPD_EXT_AUTH | (vrfy ? SMTPD_EXT_VRFY : 0);

    for (size_t i = 0; list && list[i]; i++)
        for (size_t k = 0; k < sizeof(kw) / sizeof(kw[0]); k++)
            if (strcasecmp(list[i], kw[k].word) == 0)
                ext &= ~kw[k].ext;
    return ext;
}

/* ctx_params - read every parameter the server uses. */
static void ctx_params(smtpd_ctx *ctx)
{
    const conf *cf = ctx->cf;
    struct smtpd_params *p = &ctx->p;

    p->myhostname = conf_get_str(cf, "myhostname");
    p->mail_name = conf_get_str(cf, "mail_name");
    p->banner = conf_get_str(cf, "smtpd_banner");
    p->myorigin = conf_get_str(cf, "myorigin");
    p->queue_directory = conf_get_str(cf, "queue_directory");
    p->line_limit = (size_t)conf_get_int(cf, "line_length_limit");
    p->rcpt_limit = (size_t)conf_get_int(cf, "smtpd_recipient_limit");
    p->size_limit = (uint64_t)conf_get_size(cf, "message_size_limit");
    p->header_limit = (size_t)conf_get_int(cf, "header_size_limit");
    p->timeout = (int)conf_get_time(cf, "smtpd_timeout");
    p->hard_limit = (unsigned)conf_get_int(cf, "smtpd_hard_error_limit");
    p->soft_limit = (unsigned)conf_get_int(cf, "smtpd_soft_error_limit");
    p->junk_limit = (unsigned)conf_get_int(cf, "smtpd_junk_command_limit");
    p->error_sleep = (int)conf_get_time(cf, "smtpd_error_sleep_time");
    p->greet_wait_ms = (int)conf_get_time(cf, "smtpd_greet_wait") * 1000;
    p->conn_limit = (unsigned)conf_get_int(cf,
                                           "smtpd_client_connection_count_limit");
    p->disable_vrfy = conf_get_bool(cf, "disable_vrfy_command");
    p->forbid_bare_newline = conf_get_bool(cf, "smtpd_forbid_bare_newline");
    p->sasl_auth_header = ctx_bool(cf, "smtpd_sasl_authenticated_header",
                                   false);
    p->ext = ctx_ext(cf, !p->disable_vrfy);
    if (p->line_limit < 512)
        p->line_limit = 512;    /* RFC 5321 4.5.3.1.4: a command line */
    if (p->timeout > 3600 * 24)
        p->timeout = 3600 * 24;
}

/* smtpd_ctx_new - build the per-process state. */
smtpd_ctx *smtpd_ctx_new(const conf *cf, const char *service, strbuf *why)
{
    smtpd_ctx *ctx = xcalloc(1, sizeof(*ctx));
    const char *servers = conf_param_find("resolver_servers")
        ? conf_get_str(cf, "resolver_servers") : "";
    strbuf err;

    ctx->cf = cf;
    ctx->service = xstrdup(service ? service : "smtp");
    ctx->conn_dirfd = -1;
    ctx_params(ctx);
    spool_init(&ctx->sp, ctx->p.queue_directory);
    qid_gen_init(&ctx->gen, conf_get_bool(cf, "enable_long_queue_ids"));
    if (smtpd_restrict_ctx_open(ctx, why) < 0
        || smtpd_auth_ctx_open(ctx, why) < 0
        || (ctx->cleanup = cleanup_cfg_open(cf, why)) == NULL) {
        smtpd_ctx_free(ctx);
        return NULL;
    }
    sb_init(&err, 512);
    ctx->dns = dns_open(servers, SMTPD_DNS_TIMEOUT_MS, SMTPD_DNS_TRIES, &err);
    if (ctx->dns == NULL)
        msg_warn("resolver: %s; client names are \"unknown\"", sb_str(&err));
    else if (conf_param_find("resolver_hosts_file"))
        dns_set_hosts_file(ctx->dns, conf_get_str(cf, "resolver_hosts_file"));
    sb_release(&err);
    ctx->conn_dirfd = smtpd_client_conn_open(ctx);
    return ctx;
}

/* smtpd_ctx_free - release the per-process state. */
void smtpd_ctx_free(smtpd_ctx *ctx)
{
    if (ctx == NULL)
        return;
    smtpd_tls_ctx_free(ctx);
    smtpd_auth_ctx_free(ctx);
    cleanup_cfg_close(ctx->cleanup);
    smtpd_restrict_ctx_free(ctx);
    if (ctx->dns)
        dns_close(ctx->dns);
    if (ctx->conn_dirfd >= 0)
        (void)close(ctx->conn_dirfd);
    spool_close(&ctx->sp);
    free(ctx->service);
    free(ctx);
}
