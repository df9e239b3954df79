/*
 * dlv_simple - the agent side for delivery agents that give every
 * recipient the same verdict without delivering anything: error (bounce),
 * retry (defer) and discard (pretend delivery). The verdict's text is the
 * request's nexthop, optionally starting with an RFC 3463 detail code
 * ("5.1.1 Bad user"), whose class is replaced by the agent's own.
 *
 * Requests come one after another on a connection (dlv_serve): each is
 * read strictly, checked against the queue file (read-only), logged with
 * the Postfix delivery line per recipient and answered. A malformed
 * request is logged and answered with nothing; a queue file that cannot
 * be opened or does not match defers every recipient (4.3.0). Owns only
 * what one call allocates.
 */
#include <string.h>
#include <sys/time.h>

#include "common/msg.h"
#include "queue/dlv.h"

/* dlv_split_dsn - split "x.y.z text" into the agent's class and text. */
static void dlv_split_dsn(const char *nexthop, char klass, char *dsn,
                          size_t size, const char **text)
{
    const char *sp = strchr(nexthop, ' ');
    char head[DLV_DSN_SIZE];

    *text = nexthop;
    if (fmt_fixed(dsn, size, "%c.0.0", klass) < 0)
        msg_panic("dlv_split_dsn: dsn buffer too small");
    if (sp == NULL || fmt_fixed(head, sizeof(head), "%.*s",
                                (int)(sp - nexthop), nexthop) < 0
        || !dlv_dsn_valid(head))
        return;
    head[0] = klass;
    if (fmt_fixed(dsn, size, "%s", head) < 0)
        msg_panic("dlv_split_dsn: dsn buffer too small");
    *text = sp + 1 + strspn(sp + 1, " ");
}

/* The verdict for every request on one connection (dlv_serve's context). */
struct dlv_simple {
    const char *queue_directory;
    enum dlv_action action;
    const char *status;
    const char *empty_text;
};

/* dlv_simple_reply - log and answer every recipient the same way. */
static void dlv_simple_reply(dlv_conn *c, const dlv_request *req,
                             enum dlv_action action, const char *dsn,
                             const char *status, const char *text,
                             const struct timeval *got)
{
    dlv_log lg = {"none", *got, 0, dsn, status, text};
    strbuf why;

    sb_init(&why, 1024);
    for (size_t i = 0; i < req->nrcpt; i++) {
        dlv_log_delivery(req, &req->rcpt[i], &lg);
        if (dlv_conn_reply(c, req->rcpt[i].offset, dsn, action, text, &why)
            != DLV_OK) {
            msg_warn("%s: reply to the queue manager: %s", req->queue_id,
                     sb_str(&why));
            break;
        }
    }
    sb_release(&why);
}

/* dlv_simple_request - one request: the queue file, then the verdict. */
static void dlv_simple_request(void *ctx, dlv_conn *c, const dlv_request *req,
                               const struct timeval *got)
{
    static const char klass[] = {[DLV_DELIVERED] = '2', [DLV_FAILED] = '5',
                                 [DLV_DEFERRED] = '4'};
    const struct dlv_simple *v = ctx;
    char dsn[DLV_DSN_SIZE];
    const char *text;
    qfile_msg *msg = NULL;
    strbuf why;

    sb_init(&why, 1024);
    if (dlv_request_open(v->queue_directory, req, &msg, &why) != QFILE_OK) {
        msg_warn("%s: %s", req->queue_id, sb_str(&why));
        dlv_simple_reply(c, req, DLV_DEFERRED, "4.3.0", "deferred",
                         "cannot read queue file", got);
    } else {
        dlv_split_dsn(req->nexthop, klass[v->action], dsn, sizeof(dsn), &text);
        dlv_simple_reply(c, req, v->action, dsn, v->status,
                         *text ? text : v->empty_text, got);
    }
    qfile_close(msg);
    sb_release(&why);
}

/* dlv_serve_simple - requests on fd, one verdict for all recipients. */
bool dlv_serve_simple(dlv_agent *ag, int fd, const char *queue_directory,
                      enum dlv_action action, const char *status,
                      const char *empty_text)
{
    struct dlv_simple v = {queue_directory, action, status, empty_text};

    return dlv_serve(ag, fd, dlv_simple_request, &v);
}
