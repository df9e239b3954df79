/*
 * qmgr - the queue manager service (master.cf: qmgr unix n - n 300 1 qmgr).
 *
 * A trigger service: the skeleton hands over on the first wake-up (or
 * after a second), and qmgr's own poll() loop (queue/qmgr_loop.c) then
 * accepts the wake-ups on the qmgr socket itself while it talks to the
 * delivery agents, until ternd asks it to stop. At start it moves what a
 * previous qmgr left in active/ back to incoming/. A routing table that
 * cannot be opened is a fatal configuration error (ternd retries).
 */
#include <fcntl.h>

#include "common/msg.h"
#include "common/strbuf.h"
#include "master/server.h"
#include "queue/qmgr.h"
#include "queue/route.h"

/* What the process keeps between skeleton calls. */
struct qmgr_app {
    route_ctx *route;
    qmgr *q;
};

/* qmgr_stop - the skeleton says ternd wants us gone. */
static bool qmgr_stop(void *ctx)
{
    return server_stopping(ctx);
}

/* qmgr_init - open routing, build the queue manager, recover active/. */
static int qmgr_init(server *srv)
{
    static struct qmgr_app app;
    strbuf err;
    int n;

    sb_init(&err, 4096);
    app.route = route_open(server_conf(srv), &err);
    if (app.route == NULL)
        msg_fatal("routing tables: %s", sb_str(&err));
    sb_release(&err);
    app.q = qmgr_new(server_conf(srv), qmgr_route, app.route);
    if ((n = qmgr_recover(app.q)) > 0)
        msg_info("moved %d message%s from active back to incoming", n,
                 n == 1 ? "" : "s");
    server_set_app(srv, &app);
    return n < 0 ? -1 : 0;
}

/* qmgr_trigger - run the queue manager until ternd stops us. */
static void qmgr_trigger(server *srv)
{
    struct qmgr_app *app = server_app(srv);
    int lfd = fcntl(SERVER_LISTEN_FD, F_GETFD) < 0 ? -1 : SERVER_LISTEN_FD;

    if (app->q == NULL)
        return;
    qmgr_run(app->q, lfd, qmgr_stop, srv);
    qmgr_free(app->q);
    app->q = NULL;
    route_close(app->route);
    app->route = NULL;
}

int main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .program = "qmgr", .mode = SERVER_TRIGGER,
        .flags = SERVER_LONG_RUNNING, .trigger_every = 1,
        .init = qmgr_init, .trigger = qmgr_trigger,
    };

    return server_main(argc, argv, &ops);
}
