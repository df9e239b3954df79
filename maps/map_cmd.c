/*
 * map_cmd - `tern map` (postmap/postalias) and `newaliases`.
 *
 *   tern map [-c dir] [-f] [-r] [-i] [-a] [type:]file...    build
 *   tern map [-c dir] [-f] [-a] -q key|- type:file...       query
 *   tern map [-c dir] -s type:file...                        dump
 *   tern map [-c dir] -a                                     newaliases
 *
 * Exit status: 0 success / key found; 1 build error / key not found;
 * 2 lookup error (table missing or unreadable); 64 usage. Messages go to
 * stderr through msg_*, naming file:line for source problems.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "maps/map_int.h"

#define MAP_EX_USAGE 64
#define MAP_EX_LOOKUP 2

struct map_cmd {
    struct map_build_opts build;
    const char *query;          /* -q */
    const char *config_dir;     /* -c */
    bool dump;                  /* -s */
};

/* usage - print the synopsis; EX_USAGE. */
static int usage(void)
{
    fprintf(stderr,
            "usage: tern map [-c dir] [-a] [-f] [-i] [-r] [type:]file...\n"
            "       tern map [-c dir] [-a] [-f] -q key|- type:file...\n"
            "       tern map [-c dir] -s type:file...\n"
            "       tern map [-c dir] -a     (newaliases)\n");
    return MAP_EX_USAGE;
}

/* query_one - look key up in every table in order; print the value. */
static int query_one(maplist *ml, const char *key, bool show_key)
{
    strbuf value;
    int r;

    sb_init(&value, MAP_LINE_MAX);
    r = maplist_lookup(ml, key, &value);
    if (r == MAP_FOUND) {
        if ((show_key ? printf("%s\t%s\n", key, value.data)
             : printf("%s\n", value.data)) < 0)
            r = MAP_ERROR;
    }
    sb_release(&value);
    return r;
}

/* query_stdin - "-q -": one key per input line, "key<TAB>value" output. */
static int query_stdin(maplist *ml)
{
    strbuf line;
    int c, found = 0, error = 0;

    sb_init(&line, MAP_LINE_MAX);
    do {
        c = getchar();
        if (c != '\n' && c != EOF) {
            if (c == '\0' || sb_putc(&line, c) < 0) {
                msg_warn("stdin: key with a NUL byte or too long; skipped");
                while (c != '\n' && c != EOF)
                    c = getchar();
                sb_reset(&line);
            }
            continue;
        }
        if (line.len > 0) {
            int r = query_one(ml, line.data, true);

            found |= r == MAP_FOUND;
            error |= r == MAP_ERROR;
        }
        sb_reset(&line);
    } while (c != EOF);
    sb_release(&line);
    return error ? MAP_EX_LOOKUP : found ? 0 : 1;
}

/* open_specs - the table arguments as one maplist ("file" means cdb:file). */
static maplist *open_specs(int argc, char **argv, int flags)
{
    strbuf err, all;
    maplist *ml = NULL;
    int i;

    sb_init(&all, SB_NOLIMIT);
    sb_init(&err, 4096);
    for (i = 0; i < argc; i++)
        if (sb_printf(&all, "%s%s ", strchr(argv[i], ':') == NULL ? "cdb:"
                      : "", argv[i]) < 0)
            break;
    if (i < argc)
        msg_warn("table arguments too long");
    else if ((ml = maplist_open(all.data, flags, &err)) == NULL)
        msg_warn("%s", err.data);
    sb_release(&all);
    sb_release(&err);
    return ml;
}

/* do_query - -q: exit 0 found, 1 not found, 2 error. */
static int do_query(const struct map_cmd *c, int argc, char **argv)
{
    maplist *ml = open_specs(argc, argv, c->build.nofold ? 0 : MAP_F_FOLD);
    int r;

    if (ml == NULL)
        return MAP_EX_LOOKUP;
    if (strcmp(c->query, "-") == 0) {
        r = query_stdin(ml);
    } else {
        r = query_one(ml, c->query, false);
        r = r == MAP_FOUND ? 0 : r == MAP_NOTFOUND ? 1 : MAP_EX_LOOKUP;
    }
    maplist_close(ml);
    if (fflush(stdout) != 0)
        r = MAP_EX_LOOKUP;
    return r;
}

/* do_dump - -s: print every entry of indexed tables. */
static int do_dump(int argc, char **argv)
{
    strbuf err;
    int r = 0;

    sb_init(&err, 4096);
    for (int i = 0; i < argc; i++) {
        const char *name = argv[i], *colon = strchr(name, ':');

        if (colon != NULL) {
            char *type = xstrndup(name, (size_t)(colon - name));
            bool indexed = strcmp(type, "cdb") == 0
                || strcmp(type, "hash") == 0 || strcmp(type, "btree") == 0
                || strcmp(type, "lmdb") == 0;

            free(type);
            if (!indexed) {
                msg_warn("%s: -s works on indexed tables only", name);
                r = 1;
                continue;
            }
            name = colon + 1;
        }
        if (map_cdb_dump(name, stdout, &err) < 0) {
            msg_warn("%s", err.data);
            r = MAP_EX_LOOKUP;
        }
    }
    sb_release(&err);
    return r;
}

/* do_build - build (or check) every table named. */
static int do_build(const struct map_cmd *c, int argc, char **argv)
{
    strbuf err;
    int r = 0;

    sb_init(&err, 4096);
    for (int i = 0; i < argc; i++) {
        sb_reset(&err);
        if (map_build(argv[i], &c->build, &err) < 0) {
            msg_warn("%s", err.data);
            r = 1;
        }
    }
    sb_release(&err);
    return r;
}

/* build_aliases - build each table of main.cf's alias_database. */
static int build_aliases(const struct map_cmd *c, map_param_fn param)
{
    char *list, *save = NULL;
    char *argv[64];
    int argc = 0, r;

    if (param == NULL) {
        msg_warn("no configuration to read alias_database from");
        return 1;
    }
    if ((list = param(c->config_dir, "alias_database")) == NULL)
        return 1;
    for (char *t = strtok_r(list, ", \t", &save); t && argc < 64;
         t = strtok_r(NULL, ", \t", &save))
        argv[argc++] = t;
    r = argc > 0 ? do_build(c, argc, argv) : 0;
    free(list);
    return r;
}

/* parse_args - options common to tern map and newaliases. */
static int parse_args(struct map_cmd *c, int argc, char **argv)
{
    int ch;

    memset(c, 0, sizeof(*c));
    optind = 0;                         /* full getopt reset (glibc) */
    while ((ch = getopt(argc, argv, "ac:fiq:rsv")) != -1) {
        switch (ch) {
        case 'a': c->build.aliases = true; break;
        case 'c': c->config_dir = optarg; break;
        case 'f': c->build.nofold = true; break;
        case 'i': c->build.incremental = true; break;
        case 'q': c->query = optarg; break;
        case 'r': c->build.replace = true; break;
        case 's': c->dump = true; break;
        case 'v': msg_set_verbose(msg_get_verbose() + 1); break;
        default: return -1;
        }
    }
    return optind;
}

/* map_cmd_main - `tern map`. */
int map_cmd_main(int argc, char **argv, map_param_fn param)
{
    struct map_cmd c;
    int first = parse_args(&c, argc, argv);

    if (first < 0)
        return usage();
    argc -= first;
    argv += first;
    if (c.query != NULL && (c.build.incremental || c.dump))
        return usage();
    if (argc == 0 && c.build.aliases && c.query == NULL && !c.dump)
        return build_aliases(&c, param);
    if (argc == 0)
        return usage();
    if (c.query != NULL)
        return do_query(&c, argc, argv);
    if (c.dump)
        return do_dump(argc, argv);
    if (c.build.incremental) {
        c.build.input = stdin;
        c.build.input_name = "stdin";
    }
    return do_build(&c, argc, argv);
}

/* map_cmd_newaliases - newaliases [-c dir] [type:file...]. */
int map_cmd_newaliases(int argc, char **argv, map_param_fn param)
{
    struct map_cmd c;
    int first = parse_args(&c, argc, argv);

    if (first < 0 || c.query != NULL || c.dump || c.build.incremental)
        return usage();
    c.build.aliases = true;
    if (first >= argc)
        return build_aliases(&c, param);
    return do_build(&c, argc - first, argv + first);
}
