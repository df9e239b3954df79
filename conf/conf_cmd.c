/*
 * conf_cmd - `tern conf`, a postconf-compatible subset.
 *
 *   tern conf [-c dir] [-d | -n] [-h] [-x] [name ...]   print parameters
 *   tern conf [-c dir] -e name=value ...                 edit main.cf
 *   tern conf [-c dir] -X name ...                       remove from main.cf
 *   tern conf [-c dir] -M [service[/type] ...]           print master.cf
 *   tern conf [-c dir] -P service/type/name=value ...    edit a -o override
 *
 * Values print as written unless -x expands them. Configuration problems go
 * to stderr and do not change the exit status (as postconf); an unreadable
 * main.cf, a failed edit or bad usage exits non-zero.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "conf/conf_private.h"

#define EX_USAGE_CODE 64

enum cmd_mode { MODE_SHOW, MODE_EDIT, MODE_REMOVE, MODE_MASTER, MODE_PEDIT };

struct cmd_opts {
    const char *dir;
    enum cmd_mode mode;
    bool defaults, nondefault, value_only, expand;
};

/* cmd_usage - the synopsis; EX_USAGE. */
static int cmd_usage(void)
{
    fprintf(stderr,
            "usage: tern conf [-c dir] [-d | -n] [-h] [-x] [name ...]\n"
            "       tern conf [-c dir] -e name=value ...\n"
            "       tern conf [-c dir] -X name ...\n"
            "       tern conf [-c dir] -M [service[/type] ...]\n"
            "       tern conf [-c dir] -P service/type/name=value ...\n");
    return EX_USAGE_CODE;
}

/* cmd_print - "name = value" ("name =" when empty), or the value (-h). */
static void cmd_print(const struct cmd_opts *o, const conf *c, const char *name,
                      const char *raw)
{
    strbuf val, err;
    const char *v = raw;

    sb_init(&val, SB_NOLIMIT);
    sb_init(&err, 4096);
    if (o->expand) {
        if (conf_expand(c, raw, &val, &err) == 0)
            v = sb_str(&val);
        else
            msg_warn("%s: %s", name, sb_str(&err));
    }
    if (o->value_only)
        printf("%s\n", v);
    else if (*v == '\0')
        printf("%s =\n", name);
    else
        printf("%s = %s\n", name, v);
    sb_release(&val);
    sb_release(&err);
}

/* cmd_raw - a name's value as written; NULL when the name is unknown. */
static const char *cmd_raw(const conf *c, const char *name, strbuf *tmp)
{
    const struct conf_param *p;
    size_t len = strlen(name);

    if (conf_param_find(name) || conf_is_set(c, name))
        return conf_raw(c, name);
    for (size_t i = 0; i < conf_service_count(c); i++) {
        const char *svc = conf_service_at(c, i)->name;
        size_t sl = strlen(svc);
        const char *fallback;

        if (len > sl + 1 && strncmp(name, svc, sl) == 0 && name[sl] == '_'
            && (fallback = conf_transport_fallback(name + sl + 1)) != NULL
            && (p = conf_param_find(fallback)) != NULL) {
            sb_reset(tmp);
            (void)sb_printf(tmp, "$%s", p->name);
            return sb_str(tmp);
        }
    }
    return NULL;
}

/* cmd_show_all - every parameter (or -n: only those set), sorted. */
static void cmd_show_all(const struct cmd_opts *o, const conf *c)
{
    size_t i = 0, k = 0, np = conf_param_count(), ns = conf_set_count(c);

    while (i < np || k < ns) {
        const char *pn = i < np ? conf_param_at(i)->name : NULL;
        const char *sn = k < ns ? conf_set_name(c, k) : NULL;
        int cmp = pn == NULL ? 1 : sn == NULL ? -1 : strcmp(pn, sn);

        if (cmp >= 0) {                 /* a definition in main.cf */
            cmd_print(o, c, sn, conf_raw(c, sn));
            k++;
            i += cmp == 0;
        } else {
            if (!o->nondefault)
                cmd_print(o, c, pn, conf_raw(c, pn));
            i++;
        }
    }
}

/* cmd_show - print parameters; 1 when main.cf cannot be read. */
static int cmd_show(const struct cmd_opts *o, int argc, char **argv)
{
    conf *c;
    strbuf tmp, path;

    if (o->defaults) {
        c = conf_defaults();
    } else {
        sb_init(&path, SB_NOLIMIT);
        (void)sb_printf(&path, "%s/main.cf", o->dir);
        if (access(sb_str(&path), R_OK) < 0) {
            msg_warn("open %s: %s", sb_str(&path), strerror(errno));
            sb_release(&path);
            return 1;
        }
        sb_release(&path);
        c = conf_load(o->dir);
        conf_log_diags(c);
    }
    sb_init(&tmp, SB_NOLIMIT);
    if (argc == 0)
        cmd_show_all(o, c);
    for (int i = 0; i < argc; i++) {
        const char *raw = cmd_raw(c, argv[i], &tmp);

        if (raw == NULL)
            msg_warn("%s: unknown parameter", argv[i]);
        else
            cmd_print(o, c, argv[i], raw);
    }
    sb_release(&tmp);
    conf_free(c);
    return 0;
}

/* cmd_master_match - whether a service matches "name" or "name/type". */
static bool cmd_master_match(const struct conf_service *s, int argc,
                             char **argv)
{
    if (argc == 0)
        return true;
    for (int i = 0; i < argc; i++) {
        const char *slash = strchr(argv[i], '/');
        size_t n = slash ? (size_t)(slash - argv[i]) : strlen(argv[i]);

        if (strlen(s->name) == n && strncmp(s->name, argv[i], n) == 0
            && (slash == NULL || strcmp(slash + 1, s->type_name) == 0))
            return true;
    }
    return false;
}

/* cmd_master - print master.cf entries in one-line form. */
static int cmd_master(const struct cmd_opts *o, int argc, char **argv)
{
    conf *c = conf_load(o->dir);
    strbuf line;

    conf_log_diags(c);
    sb_init(&line, SB_NOLIMIT);
    for (size_t i = 0; i < conf_service_count(c); i++) {
        const struct conf_service *s = conf_service_at(c, i);

        if (!cmd_master_match(s, argc, argv))
            continue;
        sb_reset(&line);
        conf_format_service(s, &line);
        printf("%s\n", sb_str(&line));
    }
    sb_release(&line);
    conf_free(c);
    return 0;
}

/* cmd_pedit - each service/type/name=value becomes a -o override. */
static int cmd_pedit(const struct cmd_opts *o, int argc, char **argv)
{
    strbuf err;
    int ret = 0;

    sb_init(&err, 4096);
    for (int i = 0; i < argc && ret == 0; i++) {
        char *spec = xstrdup(argv[i]);
        char *type = strchr(spec, '/');
        char *name = type ? strchr(type + 1, '/') : NULL;
        char *eq = name ? strchr(name + 1, '=') : NULL;

        if (eq == NULL || type == spec || name == type + 1) {
            msg_warn("bad -P argument '%s' (use service/type/name=value)",
                     argv[i]);
            ret = 1;
        } else {
            *type++ = '\0';
            *name++ = '\0';
            *eq++ = '\0';
            if (conf_edit_master(o->dir, spec, type, name, eq, &err) < 0) {
                msg_warn("%s", sb_str(&err));
                ret = 1;
            }
        }
        free(spec);
    }
    sb_release(&err);
    return ret;
}

/* cmd_edit - -e and -X. */
static int cmd_edit(const struct cmd_opts *o, int argc, char **argv)
{
    strbuf err;
    int ret;

    if (argc == 0)
        return cmd_usage();
    sb_init(&err, 4096);
    ret = o->mode == MODE_EDIT
        ? conf_edit_main(o->dir, argv, (size_t)argc, &err)
        : conf_remove_main(o->dir, argv, (size_t)argc, &err);
    if (ret < 0)
        msg_warn("%s", sb_str(&err));
    sb_release(&err);
    return ret < 0 ? 1 : 0;
}

/* cmd_options - parse the flags; -1 on bad usage. */
static int cmd_options(int argc, char **argv, struct cmd_opts *o)
{
    static const struct { int flag; enum cmd_mode mode; } modes[] = {
        {'e', MODE_EDIT}, {'X', MODE_REMOVE}, {'M', MODE_MASTER},
        {'P', MODE_PEDIT},
    };
    const char *cdir = NULL;
    int ch;

    optind = 1;
    while ((ch = getopt(argc, argv, "+c:dehnxMPX")) != -1) {
        bool is_mode = false;

        for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
            if (ch == modes[i].flag) {
                if (o->mode != MODE_SHOW && o->mode != modes[i].mode)
                    return -1;
                o->mode = modes[i].mode;
                is_mode = true;
            }
        }
        if (is_mode)
            continue;
        switch (ch) {
        case 'c': cdir = optarg; break;
        case 'd': o->defaults = true; break;
        case 'n': o->nondefault = true; break;
        case 'h': o->value_only = true; break;
        case 'x': o->expand = true; break;
        default: return -1;
        }
    }
    if (o->defaults && o->nondefault)
        return -1;
    o->dir = conf_dir(cdir);
    return 0;
}

int conf_cmd_main(int argc, char **argv)
{
    struct cmd_opts o = {0};

    msg_open("tern conf", MSG_TO_STDERR);
    if (cmd_options(argc, argv, &o) < 0)
        return cmd_usage();
    argc -= optind;
    argv += optind;
    switch (o.mode) {
    case MODE_SHOW:
        return cmd_show(&o, argc, argv);
    case MODE_EDIT:
    case MODE_REMOVE:
        return cmd_edit(&o, argc, argv);
    case MODE_MASTER:
        return cmd_master(&o, argc, argv);
    case MODE_PEDIT:
        return argc == 0 ? cmd_usage() : cmd_pedit(&o, argc, argv);
    }
    return cmd_usage();
}
