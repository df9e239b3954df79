/*
 * dlv_serve - the agent side of a connection from qmgr: one request after
 * another on the same connection (docs/delivery-protocol.md, "Connection
 * reuse"), so a delivery costs qmgr no connect and the agent no accept and
 * no busy/idle round trip with ternd.
 *
 * After each request the agent waits up to DLV_IDLE_MS for the next one,
 * checking every second whether ternd wants it gone. Its replies say
 * reuse=1 only when it will read again: the budget (max_use requests) is
 * not spent and ternd is not stopping it, decided at the first reply, so
 * qmgr never sends into a connection the agent is about to close. A
 * malformed request is logged and ends the connection without a reply
 * (qmgr defers its recipients). A spent budget is reported to the caller,
 * which ends the process with server_retire (the skeleton itself counts
 * sessions, not requests). Owns only one call's memory.
 */
#include <sys/time.h>

#include "common/msg.h"
#include "queue/dlv.h"

#define DLV_STOP_CHECK_MS 1000          /* idle wait: look at ternd this often */

/* dlv_agent_init - a fresh request budget. */
void dlv_agent_init(dlv_agent *ag, long max_use, bool (*stopping)(void *),
                    void *ctx)
{
    *ag = (dlv_agent){.max_use = max_use < 1 ? 1 : (unsigned long)max_use,
                      .idle_ms = DLV_IDLE_MS, .stopping = stopping,
                      .stop_ctx = ctx};
}

/* dlv_agent_stopping - ternd asked the process to finish. */
static bool dlv_agent_stopping(dlv_agent *ag)
{
    return ag->stopping != NULL && ag->stopping(ag->stop_ctx);
}

/* dlv_conn_reply - one reply; the request's first decides about reuse. */
int dlv_conn_reply(dlv_conn *c, off_t offset, const char *dsn,
                   enum dlv_action action, const char *reason, strbuf *why)
{
    int rc;

    if (c->reuse < 0)
        c->reuse = c->ag->served + 1 < c->ag->max_use
            && !dlv_agent_stopping(c->ag);
    rc = dlv_reply_write(c->t, offset, dsn, action, reason, c->reuse == 1,
                         why);
    if (rc != DLV_OK)
        c->broken = true;               /* the stream is out of step now */
    return rc;
}

/* dlv_wait_request - true when a next request (or EOF) arrived in time. */
static bool dlv_wait_request(dlv_agent *ag, tio *t)
{
    for (int waited = 0; waited < ag->idle_ms; waited += DLV_STOP_CHECK_MS) {
        int left = ag->idle_ms - waited;
        int r = tio_readable(t, left < DLV_STOP_CHECK_MS ? left
                             : DLV_STOP_CHECK_MS);

        if (r != 0)
            return r > 0;
        if (dlv_agent_stopping(ag))
            return false;
    }
    return false;
}

/* dlv_serve_one - read and handle one request; true when c stays open. */
static bool dlv_serve_one(dlv_conn *c, dlv_handler fn, void *ctx,
                          strbuf *why)
{
    struct timeval got;
    dlv_request req;
    int rc;

    dlv_request_init(&req);
    c->reuse = -1;
    rc = dlv_request_read(c->t, &req, why);
    if (rc == DLV_OK) {
        if (gettimeofday(&got, NULL) < 0)
            msg_fatal("gettimeofday: %m");
        fn(ctx, c, &req, &got);
        c->ag->served++;
    } else if (rc != DLV_EOF) {
        msg_warn("delivery request: %s", sb_str(why));
    }
    dlv_request_free(&req);
    return rc == DLV_OK && c->reuse == 1 && !c->broken;
}

/* dlv_serve - requests on fd until EOF, idle, error, stop or budget. */
bool dlv_serve(dlv_agent *ag, int fd, dlv_handler fn, void *ctx)
{
    dlv_conn c = {ag, tio_open(fd, DLV_TIMEOUT_MS), -1, false};
    unsigned long first = ag->served;
    bool open = true;
    strbuf why;

    sb_init(&why, 1024);
    while (open && ag->served < ag->max_use) {
        if (ag->served > first && !dlv_wait_request(ag, c.t))
            break;
        open = dlv_serve_one(&c, fn, ctx, &why);
    }
    msg_debug("delivery agent connection: %lu request%s", ag->served - first,
              ag->served - first == 1 ? "" : "s");
    (void)tio_flush(c.t);
    tio_free(c.t);
    sb_release(&why);
    return ag->served >= ag->max_use;
}
