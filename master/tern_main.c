/*
 * tern - the command front: "tern <command> [args]".
 *
 * Each command lives in the library of the folder it belongs to; this file
 * only finds it in a table and hands over argc/argv (argv[0] is the command
 * name, so each command parses its own options with getopt).
 */
#include <stdio.h>
#include <string.h>

#include "common/msg.h"
#include "conf/conf.h"
#include "master/tern_check.h"
#include "master/tern_ctl.h"
#include "maps/maps.h"
#include "queue/route.h"
#include "queue/tqueue.h"

struct tern_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static int cmd_version(int argc, char **argv);
static int cmd_map(int argc, char **argv);

static const struct tern_command tern_commands[] = {
    /* Each folder's command is added here as it lands. */
    {"start", tern_ctl_start, "start the mail system (ternd) in the background"},
    {"start-fg", tern_ctl_start_fg, "run ternd in the foreground"},
    {"stop", tern_ctl_stop, "stop accepting mail, let sessions finish, stop"},
    {"reload", tern_ctl_reload, "re-read main.cf and master.cf"},
    {"status", tern_ctl_status, "tell whether the mail system is running"},
    {"abort", tern_ctl_abort, "stop everything at once"},
    {"check", check_main, "check main.cf, master.cf, tables and the spool"},
    {"conf", conf_cmd_main, "print or edit main.cf and master.cf (postconf)"},
    {"map", cmd_map, "build or query lookup tables (postmap)"},
    {"explain", route_cmd_main, "show how an address is routed (class, transport, nexthop)"},
    {"queue", tqueue_main, "list, show, delete, hold, release, requeue, flush"},
    {"version", cmd_version, "print the version"},
    {NULL, NULL, NULL},
};

/* cmd_map - `tern map`, reading alias_database from the configuration. */
static int cmd_map(int argc, char **argv)
{
    return map_cmd_main(argc, argv, conf_param_value);
}

/* cmd_version - print the program version. */
static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("tern %s\n", TERN_VERSION);
    return 0;
}

/* usage - list the commands. */
static int usage(void)
{
    fprintf(stderr, "usage: tern command [arguments]\n\ncommands:\n");
    for (const struct tern_command *c = tern_commands; c->name; c++)
        fprintf(stderr, "  %-10s %s\n", c->name, c->summary);
    return 64;                          /* EX_USAGE */
}

int main(int argc, char **argv)
{
    msg_open("tern", MSG_TO_STDERR);
    if (argc < 2)
        return usage();
    for (const struct tern_command *c = tern_commands; c->name; c++)
        if (strcmp(c->name, argv[1]) == 0)
            return c->run(argc - 1, argv + 1);
    msg_warn("unknown command: %s", argv[1]);
    return usage();
}
