/*
 * test-echo - a TEST-ONLY service program for ternd's integration tests.
 * It is built into the build tree's libexec/tern but never installed.
 *
 * As a session service it greets with "220 SERVICE PID BANNER" (BANNER is
 * smtpd_banner, so a -o override is visible to the client), answers "QUIT"
 * with "221 bye" and echoes any other line as "250 LINE". Run with the
 * argument "trigger" it is a trigger service that logs "trigger N" on each
 * wake-up. Bad input (overlong lines, NUL bytes) gets a 500 reply.
 */
#include <string.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/strbuf.h"
#include "common/tio.h"
#include "master/server.h"

#define ECHO_LINE_MAX 1000
#define ECHO_TIMEOUT_MS 300000

/* echo_session - greet, then echo lines until QUIT or the client goes. */
static void echo_session(server *srv, int fd)
{
    tio *t = tio_open(fd, ECHO_TIMEOUT_MS);
    strbuf line;
    unsigned flags;
    int rc;

    sb_init(&line, ECHO_LINE_MAX);
    (void)tio_printf(t, "220 %s %ld %s\r\n", server_service(srv),
                     (long)getpid(), conf_get_str(server_conf(srv), "smtpd_banner"));
    while ((rc = tio_getline(t, &line, ECHO_LINE_MAX, &flags)) != TIO_EOF) {
        if (rc == TIO_TOOLONG) {
            (void)tio_skipline(t);
            (void)tio_puts(t, "500 line too long\r\n");
        } else if (rc != TIO_OK) {
            break;
        } else if (flags & TIO_LINE_NUL) {
            (void)tio_puts(t, "500 NUL byte in line\r\n");
        } else if (strcmp(sb_str(&line), "QUIT") == 0) {
            (void)tio_puts(t, "221 bye\r\n");
            break;
        } else {
            (void)tio_printf(t, "250 %s\r\n", sb_str(&line));
        }
        if (tio_flush(t) != TIO_OK)
            break;
    }
    (void)tio_flush(t);
    tio_free(t);
    sb_release(&line);
}

/* Wake-ups seen by this process (a main file may keep such state). */
static unsigned long echo_triggers;

/* echo_trigger - log each wake-up so a test can count them. */
static void echo_trigger(server *srv)
{
    msg_info("trigger %lu service %s", ++echo_triggers, server_service(srv));
}

int main(int argc, char **argv)
{
    static const struct server_ops session_ops = {
        .program = "test-echo", .mode = SERVER_SESSION, .session = echo_session,
    };
    static const struct server_ops trigger_ops = {
        .program = "test-echo", .mode = SERVER_TRIGGER,
        .flags = SERVER_LONG_RUNNING, .trigger = echo_trigger,
    };
    const struct server_ops *ops = &session_ops;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "trigger") == 0)
            ops = &trigger_ops;
    return server_main(argc, argv, ops);
}
