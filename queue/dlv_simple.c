/*
 * dlv_simple - the agent side for delivery agents that give every
 * recipient the same verdict without delivering anything: error (bounce),
 * retry (defer) and discard (pretend delivery). The verdict's text is the
 * request's nexthop, optionally starting with an RFC 3463 detail code
 * ("5.1.1 Bad user"), whose class is replaced by the agent's own.
 *
 * One request per connection: read it strictly, check it against the
 * queue file (read-only), log the Postfix delivery line per recipient and
 * reply. A malformed request is logged and answered with nothing; a
 * queue file that cannot be opened or does not match defers every
 * recipient (4.3.0). Owns only what one call allocates.
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

/* dlv_simple_reply - log and answer every recipient the same way. */
static int dlv_simple_reply(tio *t, const dlv_request *req,
                            enum dlv_action action, const char *dsn,
                            const char *status, const char *text,
                            const struct timeval *got, strbuf *why)
{
    dlv_log lg = {"none", *got, 0, dsn, status, text};

    for (size_t i = 0; i < req->nrcpt; i++) {
        dlv_log_delivery(req, &req->rcpt[i], &lg);
        if (dlv_reply_write(t, req->rcpt[i].offset, dsn, action, text, why)
            != DLV_OK)
            return -1;
    }
    return 0;
}

/* dlv_serve_simple - answer one request on fd with one verdict for all. */
void dlv_serve_simple(int fd, const char *queue_directory,
                      enum dlv_action action, const char *status,
                      const char *empty_text)
{
    static const char klass[] = {[DLV_DELIVERED] = '2', [DLV_FAILED] = '5',
                                 [DLV_DEFERRED] = '4'};
    tio *t = tio_open(fd, DLV_TIMEOUT_MS);
    char dsn[DLV_DSN_SIZE];
    const char *text;
    struct timeval got;
    dlv_request req;
    qfile_msg *msg = NULL;
    strbuf why;
    int rc;

    sb_init(&why, 1024);
    dlv_request_init(&req);
    if (gettimeofday(&got, NULL) < 0)
        msg_fatal("gettimeofday: %m");
    if ((rc = dlv_request_read(t, &req, &why)) != DLV_OK) {
        if (rc != DLV_EOF)
            msg_warn("bad delivery request: %s", sb_str(&why));
    } else if (dlv_request_open(queue_directory, &req, &msg, &why) != QFILE_OK) {
        msg_warn("%s: %s", req.queue_id, sb_str(&why));
        rc = dlv_simple_reply(t, &req, DLV_DEFERRED, "4.3.0", "deferred",
                              "cannot read queue file", &got, &why);
    } else {
        dlv_split_dsn(req.nexthop, klass[action], dsn, sizeof(dsn), &text);
        rc = dlv_simple_reply(t, &req, action, dsn, status,
                              *text ? text : empty_text, &got, &why);
    }
    if (rc < 0 && sb_len(&why) > 0)
        msg_warn("%s", sb_str(&why));
    qfile_close(msg);
    dlv_request_free(&req);
    tio_free(t);
    sb_release(&why);
}
