/*
 * master_svc - ternd's services: built from the master.cf entries of a
 * loaded conf, kept in step with it across reloads (see master.h).
 *
 * Owns each struct master_svc, its strings and its listeners. A service is
 * identified by name and type; on reload an existing service is updated in
 * place, so its children stay counted against its process limit, and its
 * listeners are kept when their address key did not change (no connection
 * is refused during a reload). Unusable entries are skipped with a warning.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "master/master.h"
#include "master/server.h"

/* strv_dup - copy a NULL-terminated string vector (NULL gives an empty one). */
static char **strv_dup(char *const *v, size_t skip)
{
    size_t n = 0;
    char **out;

    while (v && v[n])
        n++;
    n = n > skip ? n - skip : 0;
    out = xcalloc(n + 1, sizeof(*out));
    for (size_t i = 0; i < n; i++)
        out[i] = xstrdup(v[i + skip]);
    return out;
}

/* strv_free - free a vector made by strv_dup. */
static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* svc_free_config - free the fields a reload replaces. */
static void svc_free_config(struct master_svc *s)
{
    free(s->host);
    free(s->command);
    free(s->path);
    strv_free(s->args);
    strv_free(s->overrides);
    s->host = s->command = s->path = NULL;
    s->args = s->overrides = NULL;
}

/* svc_overrides - the -o list as "name=value" strings. */
static char **svc_overrides(const struct conf_service *cs)
{
    char **out = xcalloc(cs->nover + 1, sizeof(*out));
    strbuf sb;

    for (size_t i = 0; i < cs->nover; i++) {
        sb_init(&sb, SB_NOLIMIT);
        (void)sb_printf(&sb, "%s=%s", cs->over[i].name, cs->over[i].value);
        out[i] = sb_detach(&sb);
        sb_release(&sb);
    }
    return out;
}

/* svc_configure - copy one master.cf entry's settings into s. */
static void svc_configure(struct master *m, struct master_svc *s,
                          const struct conf_service *cs)
{
    strbuf path;
    long limit = conf_get_int(m->cf, "default_process_limit");

    svc_free_config(s);
    s->inet = cs->type == CONF_SVC_INET;
    s->host = cs->host ? xstrdup(cs->host) : NULL;
    s->port = cs->port;
    s->private_ = cs->private_;
    s->command = xstrdup(cs->argv[0]);
    sb_init(&path, SB_NOLIMIT);
    if (cs->argv[0][0] == '/')
        (void)sb_puts(&path, cs->argv[0]);
    else
        (void)sb_printf(&path, "%s/%s", m->daemon_directory, cs->argv[0]);
    s->path = sb_detach(&path);
    sb_release(&path);
    s->args = strv_dup(cs->argv, 1);
    s->overrides = svc_overrides(cs);
    if (cs->field[4] && strcmp(cs->field[4], "-") == 0)
        s->maxproc = limit > MASTER_PROC_CAP ? MASTER_PROC_CAP : (int)limit;
    else
        s->maxproc = cs->maxproc <= 0 || cs->maxproc > MASTER_PROC_CAP
            ? MASTER_PROC_CAP : cs->maxproc;
    if (s->wakeup != cs->wakeup)
        s->next_wakeup_ms = 0;
    s->wakeup = cs->wakeup > 0 ? cs->wakeup : 0;
    if (s->inet && s->wakeup > 0) {
        msg_warn("master.cf line %d: service %s/inet: wakeup works only for"
                 " unix services -- ignored", cs->line, cs->name);
        s->wakeup = 0;
    }
}

/* svc_find - the service with this name and type, or NULL. */
static struct master_svc *svc_find(struct master *m, const char *name,
                                   const char *type)
{
    for (struct master_svc *s = m->svcs; s; s = s->next)
        if (strcmp(s->name, name) == 0 && strcmp(s->type, type) == 0)
            return s;
    return NULL;
}

/* svc_runnable - whether ternd can run this entry; warns when not. */
static bool svc_runnable(const struct conf_service *cs)
{
    if (cs->type != CONF_SVC_INET && cs->type != CONF_SVC_UNIX) {
        msg_warn("master.cf line %d: service %s type %s is not supported"
                 " -- ignored", cs->line, cs->name, cs->type_name);
        return false;
    }
    if (cs->argv == NULL || cs->argv[0] == NULL || cs->argv[0][0] == '\0') {
        msg_warn("master.cf line %d: service %s has no command -- ignored",
                 cs->line, cs->name);
        return false;
    }
    return true;
}

/* svc_unix_path - the socket file of a unix service. */
static void svc_unix_path(const struct master *m, const struct master_svc *s,
                          strbuf *out)
{
    sb_reset(out);
    (void)sb_printf(out, "%s/%s/%s", m->queue_directory,
                    s->private_ ? "private" : "public", s->name);
}

/* svc_listen - make s listen where its configuration says; -1 + why. */
static int svc_listen(struct master *m, struct master_svc *s, strbuf *why)
{
    strbuf key, path;
    int rc;

    sb_init(&key, SB_NOLIMIT);
    sb_init(&path, SB_NOLIMIT);
    if (s->inet)
        rc = master_listen_inet_key(s->host, s->port,
                                    conf_get_list(m->cf, "inet_interfaces"),
                                    conf_get_list(m->cf, "inet_protocols"),
                                    &key, why);
    else {
        svc_unix_path(m, s, &path);
        rc = sb_printf(&key, "unix %s", sb_str(&path));
    }
    if (rc == 0 && (s->ls.key == NULL || strcmp(s->ls.key, sb_str(&key)) != 0)) {
        master_listen_close(&s->ls);
        rc = s->inet
            ? master_listen_inet(&s->ls, s->host, s->port,
                                 conf_get_list(m->cf, "inet_interfaces"),
                                 conf_get_list(m->cf, "inet_protocols"), why)
            : master_listen_unix(&s->ls, sb_str(&path), why);
    }
    sb_release(&key);
    sb_release(&path);
    return rc;
}

/* svc_remove - stop a service: close listeners, retire and orphan children. */
static void svc_remove(struct master *m, struct master_svc *s)
{
    for (struct master_child *ch = m->children; ch; ch = ch->next)
        if (ch->svc == s) {
            master_retire(ch);
            ch->svc = NULL;
        }
    master_listen_close(&s->ls);
    svc_free_config(s);
    free(s->name);
    free(s->type);
    free(s);
}

/* svc_update - add or update the service of one entry; NULL if unusable. */
static struct master_svc *svc_update(struct master *m,
                                     const struct conf_service *cs)
{
    struct master_svc *s;

    if (!svc_runnable(cs))
        return NULL;
    s = svc_find(m, cs->name, cs->type_name);
    if (s == NULL) {
        s = xcalloc(1, sizeof(*s));
        s->name = xstrdup(cs->name);
        s->type = xstrdup(cs->type_name);
        s->next = m->svcs;
        m->svcs = s;
    } else if (s->seen) {
        msg_warn("master.cf line %d: duplicate service %s/%s -- ignored",
                 cs->line, cs->name, cs->type_name);
        return NULL;
    }
    svc_configure(m, s, cs);
    s->seen = true;
    return s;
}

/* master_svc_sync - bring the services in line with m->cf. */
int master_svc_sync(struct master *m, bool starting, strbuf *why)
{
    struct master_svc **sp;
    size_t n = conf_service_count(m->cf);

    for (struct master_svc *s = m->svcs; s; s = s->next)
        s->seen = false;
    for (size_t i = 0; i < n; i++) {
        struct master_svc *s = svc_update(m, conf_service_at(m->cf, i));

        if (s == NULL || svc_listen(m, s, why) == 0)
            continue;
        if (starting)
            return sb_printf(why, " (service %s/%s)", s->name, s->type), -1;
        msg_warn("service %s/%s: %s -- service disabled", s->name, s->type,
                 sb_str(why));
        master_listen_close(&s->ls);
        sb_reset(why);
    }
    for (sp = &m->svcs; *sp;) {
        struct master_svc *s = *sp;

        if (s->seen) {
            sp = &s->next;
            continue;
        }
        *sp = s->next;
        msg_info("service %s/%s removed", s->name, s->type);
        svc_remove(m, s);
    }
    return 0;
}

/* master_svc_free_all - remove every service without logging. */
void master_svc_free_all(struct master *m)
{
    while (m->svcs) {
        struct master_svc *s = m->svcs;

        m->svcs = s->next;
        svc_remove(m, s);
    }
}

/* master_svc_close_all - stop listening everywhere; children are retired. */
void master_svc_close_all(struct master *m)
{
    for (struct master_svc *s = m->svcs; s; s = s->next)
        master_listen_close(&s->ls);
    for (struct master_child *ch = m->children; ch; ch = ch->next)
        master_retire(ch);
}

/* svc_trigger - connect to a unix service and write one wake-up byte. */
static void svc_trigger(const struct master_svc *s)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char req = SERVER_TRIGGER_WAKEUP;
    int fd;

    if (s->ls.unix_path == NULL
        || fmt_fixed(sun.sun_path, sizeof(sun.sun_path), "%s", s->ls.unix_path) < 0)
        return;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        msg_warn("wakeup %s: socket: %m", s->name);
        return;
    }
    /* A full backlog (EAGAIN) means wake-ups are already pending: fine. */
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
        if (send(fd, &req, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1)
            msg_debug("wakeup %s: send: %m", s->name);
    } else if (errno != EAGAIN) {
        msg_warn("wakeup %s: connect %s: %m", s->name, s->ls.unix_path);
    }
    (void)close(fd);
}

/* master_wakeup - send the wake-ups that are due; ms until the next one. */
long long master_wakeup(struct master *m, long long now)
{
    long long next = -1;

    for (struct master_svc *s = m->svcs; s; s = s->next) {
        if (s->wakeup <= 0 || s->ls.nfd == 0)
            continue;
        if (s->next_wakeup_ms == 0)
            s->next_wakeup_ms = now + s->wakeup * 1000LL;
        if (now >= s->next_wakeup_ms) {
            if (now >= s->throttle_until_ms)
                svc_trigger(s);
            s->next_wakeup_ms = now + s->wakeup * 1000LL;
        }
        if (next < 0 || s->next_wakeup_ms - now < next)
            next = s->next_wakeup_ms - now;
    }
    return next;
}
