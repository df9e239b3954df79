/*
 * sendmail - main of sendmail, mailq and newaliases (logic in sm_*.c).
 *
 * Chooses the mode from argv[0] and the options, ignores SIGPIPE (postdrop
 * failures are seen through its exit status), and maps every outcome to a
 * sysexits.h code. The only process-wide state is here.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/strbuf.h"
#include "conf/conf.h"
#include "maps/maps.h"
#include "queue/sm_args.h"
#include "queue/sm_submit.h"
#include "queue/tqueue.h"

/* sendmail_mode - run one of the non-delivery modes; an exit code. */
static int sendmail_mode(const sm_ctx *ctx, const sm_opts *o, char *argv0,
                         strbuf *why)
{
    char *nargv[] = {argv0, NULL};

    switch (o->mode) {
    case SM_MODE_MAILQ:
        if (tqueue_list(ctx->cf, false, stdout, why) < 0)
            return EX_UNAVAILABLE;
        return 0;
    case SM_MODE_NEWALIASES:
        if (setenv("MAIL_CONFIG", ctx->config_dir, 1) < 0)
            return sb_puts(why, "setenv: out of memory"), EX_OSERR;
        return map_cmd_newaliases(1, nargv, conf_param_value);
    case SM_MODE_FLUSH:
        if (tqueue_flush(ctx->cf) < 0)
            return sb_puts(why, "Cannot flush mail queue - qmgr is not"
                           " running"), EX_UNAVAILABLE;
        return 0;
    case SM_MODE_SMTP:
        return sm_smtp(ctx, o, STDIN_FILENO, STDOUT_FILENO);
    default:
        return sm_deliver(ctx, o, why);
    }
}

int main(int argc, char **argv)
{
    sm_opts o;
    sm_ctx ctx;
    strbuf why;
    int rc;

    msg_open("sendmail", MSG_TO_STDERR);
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        msg_fatal("signal: %m");
    sb_init(&why, 1024);
    if (sm_args_parse(argc, argv, &o, &why) < 0) {
        msg_warn("%s", sb_str(&why));
        sb_release(&why);
        return EX_USAGE;
    }
    if ((rc = sm_ctx_init(&ctx, o.config, &why)) == 0) {
        rc = sendmail_mode(&ctx, &o, argv[0], &why);
    }
    if (rc != 0 && sb_len(&why) > 0)
        msg_warn("%s", sb_str(&why));
    sm_ctx_free(&ctx);
    sb_release(&why);
    return rc;
}
