/*
 * conf_get - typed read access to a loaded conf.
 *
 * Values were expanded and typed once at load; these functions only look
 * them up. A name outside the registry, or an accessor of the wrong type,
 * is a programming error and panics, so a typo cannot silently read "".
 */
#include <string.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "conf/conf_private.h"

/* conf_need - registry index of name, panicking unless its type is t or u. */
static size_t conf_need(const char *fn, const char *name, enum conf_type t,
                        enum conf_type u)
{
    ptrdiff_t i = conf_param_index(name);

    if (i < 0)
        msg_panic("%s: unknown parameter '%s' (not in conf_params.def)", fn,
                  name);
    if (conf_param_at((size_t)i)->type != t
        && conf_param_at((size_t)i)->type != u)
        msg_panic("%s: parameter '%s' has another type", fn, name);
    return (size_t)i;
}

const char *conf_get_str(const conf *c, const char *name)
{
    ptrdiff_t i = conf_param_index(name);

    if (i < 0)
        msg_panic("conf_get_str: unknown parameter '%s' (not in conf_params.def)",
                  name);
    return c->pslot[i].state == SLOT_DONE ? c->pslot[i].text : "";
}

long conf_get_int(const conf *c, const char *name)
{
    return (long)c->pnum[conf_need("conf_get_int", name, CONF_INT, CONF_INT)];
}

bool conf_get_bool(const conf *c, const char *name)
{
    return c->pnum[conf_need("conf_get_bool", name, CONF_BOOL, CONF_BOOL)] != 0;
}

long conf_get_time(const conf *c, const char *name)
{
    return (long)c->pnum[conf_need("conf_get_time", name, CONF_TIME, CONF_TIME)];
}

long long conf_get_size(const conf *c, const char *name)
{
    return c->pnum[conf_need("conf_get_size", name, CONF_SIZE, CONF_SIZE)];
}

const char *const *conf_get_list(const conf *c, const char *name)
{
    return (const char *const *)
        c->plist[conf_need("conf_get_list", name, CONF_LIST, CONF_TABLES)];
}

/* conf_transport_num - <transport>_<suffix>, else its fallback parameter. */
static long long conf_transport_num(const conf *c, const char *fn,
                                    const char *transport, const char *suffix,
                                    enum conf_type type)
{
    const char *fallback = conf_transport_fallback(suffix);
    const struct conf_entry *e;
    long long num;
    size_t fi;
    strbuf name, err;

    if (fallback == NULL)
        msg_panic("%s: unknown per-transport parameter '%s'", fn, suffix);
    fi = conf_need(fn, fallback, type, type);
    num = c->pnum[fi];
    sb_init(&name, SB_NOLIMIT);
    sb_init(&err, 1024);
    (void)sb_printf(&name, "%s_%s", transport, suffix);
    e = conf_table_find(&c->tab, sb_str(&name));
    if (e && !e->ignored && c->eslot[e - c->tab.v].state == SLOT_DONE
        && conf_value_parse(conf_param_at(fi), c->eslot[e - c->tab.v].text,
                            &num, &err) < 0)
        num = c->pnum[fi];
    sb_release(&name);
    sb_release(&err);
    return num;
}

long conf_get_transport_int(const conf *c, const char *transport,
                            const char *suffix)
{
    return (long)conf_transport_num(c, "conf_get_transport_int", transport,
                                    suffix, CONF_INT);
}

long conf_get_transport_time(const conf *c, const char *transport,
                             const char *suffix)
{
    return (long)conf_transport_num(c, "conf_get_transport_time", transport,
                                    suffix, CONF_TIME);
}

const char *conf_raw(const conf *c, const char *name)
{
    return conf_lookup_raw(c, name);
}

bool conf_is_set(const conf *c, const char *name)
{
    const struct conf_entry *e = conf_table_find(&c->tab, name);

    return e != NULL && !e->ignored;
}

bool conf_source(const conf *c, const char *name, const char **file,
                 int *line)
{
    const struct conf_entry *e = conf_table_find(&c->tab, name);

    if (e == NULL || e->ignored)
        return false;
    *file = e->file;
    *line = e->line;
    return true;
}

size_t conf_set_count(const conf *c)
{
    return c->nset;
}

const char *conf_set_name(const conf *c, size_t i)
{
    return i < c->nset ? c->tab.v[c->setidx[i]].name : NULL;
}

const char *conf_directory(const conf *c)
{
    return c->dir;
}

size_t conf_service_count(const conf *c)
{
    return c->root->nsvc;
}

const struct conf_service *conf_service_at(const conf *c, size_t i)
{
    return i < c->root->nsvc ? &c->root->svc[i] : NULL;
}

/* conf_service_index - position of name/type in master.cf, or -1. */
static ptrdiff_t conf_service_index(const conf *c, const char *name,
                                    const char *type)
{
    const struct conf *root = c->root;

    for (size_t i = 0; i < root->nsvc; i++)
        if (strcmp(root->svc[i].name, name) == 0
            && (type == NULL || strcmp(root->svc[i].type_name, type) == 0))
            return (ptrdiff_t)i;
    return -1;
}

const struct conf_service *conf_service_find(const conf *c, const char *name,
                                             const char *type)
{
    ptrdiff_t i = conf_service_index(c, name, type);

    return i < 0 ? NULL : &c->root->svc[i];
}

const conf *conf_for_service(const conf *c, const char *name, const char *type)
{
    ptrdiff_t i = conf_service_index(c, name, type);

    return i < 0 || c->root->svc_conf == NULL ? NULL : c->root->svc_conf[i];
}
