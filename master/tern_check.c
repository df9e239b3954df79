/*
 * tern_check - `tern check`: configuration, tables and spool, all reported.
 *
 * Nothing here changes anything: it reads the configuration, asks the maps
 * layer about every table it names, and looks at the spool directory. Each
 * problem is printed with the file and line it comes from where there is
 * one, and counted; the caller's exit status follows the error count.
 */
#include <errno.h>
#include <grp.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/strbuf.h"
#include "maps/maps.h"
#include "master/tern_check.h"
#include "queue/spool.h"
#include "smtpd/smtpd_check.h"

#define EX_USAGE_CODE 64

/* check_vreport - print one problem with its level word. */
static void check_vreport(const char *level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void check_vreport(const char *level, const char *fmt, va_list ap)
{
    strbuf sb;

    sb_init(&sb, 8192);
    (void)sb_vprintf(&sb, fmt, ap);
    if (strcmp(level, "warning") == 0)
        msg_warn("%s", sb_str(&sb));
    else
        msg_info("%s: %s", level, sb_str(&sb));
    sb_release(&sb);
}

void check_error(struct check_report *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    check_vreport("error", fmt, ap);
    va_end(ap);
    r->errors++;
}

void check_warning(struct check_report *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    check_vreport("warning", fmt, ap);
    va_end(ap);
    r->warnings++;
}

/* check_table_type_known - type:name with a type tern implements. */
static bool check_table_type_known(const char *spec)
{
    const char *colon = strchr(spec, ':');
    strbuf type;
    bool known;

    if (colon == NULL)
        return false;
    sb_init(&type, 256);
    known = sb_append(&type, spec, (size_t)(colon - spec)) == 0
        && map_type_known(sb_str(&type));
    sb_release(&type);
    return known;
}

/* check_param_tables - map_check each table a parameter of c names. */
static void check_param_tables(const conf *c, const char *name,
                               struct check_report *r)
{
    const char *file;
    int line;
    strbuf ref, value, err;
    char **list = NULL;

    if (!conf_source(c, name, &file, &line))
        return;
    sb_init(&ref, 1024);
    sb_init(&value, SB_NOLIMIT);
    sb_init(&err, 4096);
    (void)sb_printf(&ref, "${%s}", name);
    /* a value that does not expand or split was reported by conf_load */
    if (conf_expand(c, sb_str(&ref), &value, &err) == 0)
        list = conf_split_list(sb_str(&value), &err);
    for (char **t = list; t && *t; t++) {
        int ret;

        if (!check_table_type_known(*t))
            continue;                   /* reported by conf_load */
        sb_reset(&err);
        ret = map_check(*t, &err);
        if (ret < 0)
            check_error(r, "%s, line %d: parameter '%s': table %s: %s", file,
                        line, name, *t, sb_str(&err));
        else if (ret > 0)
            check_warning(r, "%s, line %d: parameter '%s': table %s: %s",
                          file, line, name, *t, sb_str(&err));
    }
    conf_list_free(list);
    sb_release(&ref);
    sb_release(&value);
    sb_release(&err);
}

/*
 * check_restrictions - compile the restriction lists of every smtpd
 * service as the server does at start (restrict_compile), so an unknown
 * restriction name is reported here and not first by a failing service.
 * Only a configuration without other errors is compiled: the lists open
 * the same tables, whose problems were reported once already.
 */
void check_restrictions(const conf *c, struct check_report *r)
{
    strbuf err;

    if (r->errors > 0) {
        msg_info("note: smtpd restriction lists are checked once the "
                 "errors above are fixed");
        return;
    }
    sb_init(&err, 8192);
    for (size_t i = 0; i < conf_service_count(c); i++) {
        const struct conf_service *svc = conf_service_at(c, i);
        const conf *sc;
        const char *prog;
        restrict_set *rs;

        if (svc->argv == NULL || svc->argv[0] == NULL)
            continue;
        prog = strrchr(svc->argv[0], '/');
        prog = prog ? prog + 1 : svc->argv[0];
        if (strcmp(prog, "smtpd") != 0
            || (sc = conf_for_service(c, svc->name, svc->type_name)) == NULL)
            continue;
        if ((rs = restrict_compile(sc, &err)) == NULL
            || restrict_relay_guard(rs, &err) < 0)
            check_error(r, "%s/master.cf, line %d: service %s/%s: %s",
                        conf_directory(c), svc->line, svc->name,
                        svc->type_name, sb_str(&err));
        restrict_free(rs);
    }
    sb_release(&err);
}

void check_tables(const conf *c, struct check_report *r)
{
    for (size_t i = 0; i < conf_param_count(); i++) {
        const struct conf_param *p = conf_param_at(i);

        if (p->type != CONF_TABLES)
            continue;
        check_param_tables(c, p->name, r);
        for (size_t s = 0; s < conf_service_count(c); s++) {
            const struct conf_service *svc = conf_service_at(c, s);
            const conf *sc = conf_for_service(c, svc->name, svc->type_name);

            for (size_t o = 0; sc && o < svc->nover; o++)
                if (strcmp(svc->over[o].name, p->name) == 0)
                    check_param_tables(sc, p->name, r);
        }
    }
}

/*
 * spool_owners - who should own the spool directories: a root-owned
 * queue_directory means a root start (mail_owner, setgid_group); any other
 * owner ran tern itself and owns everything. -1 when an account is missing.
 */
static int spool_owners(const conf *c, uid_t top_uid, gid_t top_gid,
                        uid_t *uid, gid_t *gid, gid_t *setgid,
                        struct check_report *r)
{
    const struct passwd *pw;
    const struct group *gr;

    if (top_uid != 0) {
        *uid = top_uid;
        *gid = *setgid = top_gid;
        return 0;
    }
    if ((pw = getpwnam(conf_get_str(c, "mail_owner"))) == NULL) {
        check_error(r, "mail_owner user '%s' does not exist",
                    conf_get_str(c, "mail_owner"));
        return -1;
    }
    if ((gr = getgrnam(conf_get_str(c, "setgid_group"))) == NULL) {
        check_error(r, "setgid_group group '%s' does not exist",
                    conf_get_str(c, "setgid_group"));
        return -1;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    *setgid = gr->gr_gid;
    return 0;
}

/* check_spool_dirs - each spool directory's type, mode and owner. */
static void check_spool_dirs(const conf *c, const char *dir,
                             const struct stat *top, struct check_report *r)
{
    uid_t uid;
    gid_t gid, setgid;
    strbuf path;
    struct stat st;

    if (spool_owners(c, top->st_uid, top->st_gid, &uid, &gid, &setgid, r) < 0)
        return;
    sb_init(&path, 4096);
    for (int i = 0; i < SPOOL_NDIRS; i++) {
        bool root_dir = i == SPOOL_PID && top->st_uid == 0;
        uid_t want_uid = root_dir ? 0 : uid;
        gid_t want_gid = (i == SPOOL_MAILDROP || i == SPOOL_PUBLIC) ? setgid
            : root_dir ? top->st_gid : gid;

        sb_reset(&path);
        if (sb_printf(&path, "%s/%s", dir, spool_name(i)) < 0)
            continue;
        if (lstat(sb_str(&path), &st) < 0) {
            if (errno == ENOENT)
                check_warning(r, "%s is missing (tern start creates it)",
                              sb_str(&path));
            else
                check_error(r, "%s: %s", sb_str(&path), strerror(errno));
        } else if (!S_ISDIR(st.st_mode)) {
            check_error(r, "%s is not a directory", sb_str(&path));
        } else if ((st.st_mode & 07777) != spool_mode(i)) {
            check_error(r, "%s has mode %04o, expected %04o", sb_str(&path),
                        (unsigned)(st.st_mode & 07777), (unsigned)spool_mode(i));
        } else if (st.st_uid != want_uid || st.st_gid != want_gid) {
            check_error(r, "%s is owned by %ld:%ld, expected %ld:%ld",
                        sb_str(&path), (long)st.st_uid, (long)st.st_gid,
                        (long)want_uid, (long)want_gid);
        }
    }
    sb_release(&path);
}

void check_spool(const conf *c, struct check_report *r)
{
    const char *dir = conf_get_str(c, "queue_directory");
    const char *owner = conf_get_str(c, "mail_owner");
    const struct passwd *pw;
    struct stat st;

    if (lstat(dir, &st) < 0) {
        if (errno != ENOENT)
            check_error(r, "queue_directory %s: %s", dir, strerror(errno));
        return;                         /* tern start creates it */
    }
    if (!S_ISDIR(st.st_mode)) {
        check_error(r, "queue_directory %s is not a directory", dir);
        return;
    }
    pw = getpwnam(owner);
    if (st.st_uid != getuid() && (pw == NULL || st.st_uid != pw->pw_uid))
        check_error(r, "queue_directory %s is owned by uid %ld, not by mail_owner '%s' or the invoking user (uid %ld)",
                    dir, (long)st.st_uid, owner, (long)getuid());
    if (st.st_mode & S_IWOTH)
        check_error(r, "queue_directory %s is writable by everyone (mode %04o)",
                    dir, (unsigned)(st.st_mode & 07777));
    check_spool_dirs(c, dir, &st, r);
}

int check_main(int argc, char **argv)
{
    struct check_report r = {0};
    const char *cdir = NULL;
    enum conf_diag_level level;
    conf *c;
    int ch;

    msg_open("tern check", MSG_TO_STDERR);
    optind = 1;
    while ((ch = getopt(argc, argv, "+c:")) != -1) {
        if (ch != 'c') {
            fprintf(stderr, "usage: tern check [-c config_directory]\n");
            return EX_USAGE_CODE;
        }
        cdir = optarg;
    }
    c = conf_load(conf_dir(cdir));
    for (size_t i = 0; i < conf_diag_count(c); i++) {
        const char *text = conf_diag_text(c, i, &level);

        if (level == CONF_ERROR)
            check_error(&r, "%s", text);
        else
            check_warning(&r, "%s", text);
    }
    check_tables(c, &r);
    check_restrictions(c, &r);
    check_spool(c, &r);
    conf_free(c);
    if (r.errors > 0)
        msg_info("%zu error%s, %zu warning%s", r.errors,
                 r.errors == 1 ? "" : "s", r.warnings,
                 r.warnings == 1 ? "" : "s");
    return r.errors > 0 ? 1 : 0;
}
