/*
 * conf_param - the parameter registry and the value checker.
 *
 * The registry is the constant table generated from conf_params.def (sorted,
 * so lookups bsearch it). conf_value_parse() decides whether a value is good
 * for a parameter's type and range and yields its number; it names what is
 * wrong in err and changes nothing else.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"
#include "conf/conf_private.h"
#include "maps/maps.h"

#ifndef TERN_DAEMON_DIRECTORY
#define TERN_DAEMON_DIRECTORY "/usr/local/libexec/tern"
#endif
#ifndef TERN_COMMAND_DIRECTORY
#define TERN_COMMAND_DIRECTORY "/usr/local/sbin"
#endif

static const struct conf_param conf_params[] = {
#define PARAM(name, type, def, min, max, doc) {name, type, def, min, max, doc},
#include "conf/conf_params.def"
#undef PARAM
};

#define CONF_NPARAMS (sizeof(conf_params) / sizeof(conf_params[0]))

/* Per-transport families: "<service>_<suffix>" falls back to "fallback". */
static const struct conf_tparam {
    const char *suffix;
    const char *fallback;
} conf_tparams[] = {
#define TPARAM(suffix, fallback) {suffix, fallback},
#include "conf/conf_params.def"
#undef TPARAM
};

size_t conf_param_count(void)
{
    return CONF_NPARAMS;
}

const struct conf_param *conf_param_at(size_t i)
{
    return i < CONF_NPARAMS ? &conf_params[i] : NULL;
}

/* conf_param_cmp - bsearch comparator: name against a registry entry. */
static int conf_param_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct conf_param *)elem)->name);
}

/* conf_param_index - registry index of name, or -1. */
ptrdiff_t conf_param_index(const char *name)
{
    const struct conf_param *p = bsearch(name, conf_params, CONF_NPARAMS,
                                         sizeof(conf_params[0]),
                                         conf_param_cmp);

    return p ? p - conf_params : -1;
}

const struct conf_param *conf_param_find(const char *name)
{
    ptrdiff_t i = conf_param_index(name);

    return i < 0 ? NULL : &conf_params[i];
}

const char *conf_transport_fallback(const char *suffix)
{
    for (size_t i = 0; i < sizeof(conf_tparams) / sizeof(conf_tparams[0]); i++)
        if (strcmp(conf_tparams[i].suffix, suffix) == 0)
            return conf_tparams[i].fallback;
    return NULL;
}

/* conf_param_transport - fallback index when name is <service>_<suffix>. */
ptrdiff_t conf_param_transport(const struct conf *root, const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < sizeof(conf_tparams) / sizeof(conf_tparams[0]); i++) {
        size_t sl = strlen(conf_tparams[i].suffix);

        if (len <= sl + 1 || name[len - sl - 1] != '_'
            || strcmp(name + len - sl, conf_tparams[i].suffix) != 0)
            continue;
        for (size_t s = 0; s <= root->nsvc; s++) {
            const char *svc = s < root->nsvc ? root->svc[s].name
                : root->self_name;

            if (svc && strlen(svc) == len - sl - 1
                && strncmp(svc, name, len - sl - 1) == 0)
                return conf_param_index(conf_tparams[i].fallback);
        }
    }
    return -1;
}

/* conf_parse_number - optional '-', digits; -1 on junk or overflow. */
static int conf_parse_number(const char *s, long long *num, const char **end)
{
    char *e;

    if (!isdigit((unsigned char)s[0]) && !(s[0] == '-'
                                           && isdigit((unsigned char)s[1])))
        return -1;
    errno = 0;
    *num = strtoll(s, &e, 10);
    if (errno == ERANGE)
        return -1;
    *end = e;
    return 0;
}

/* conf_time_unit - seconds per unit letter, 0 if not a unit. */
static long long conf_time_unit(int ch)
{
    static const struct { char unit; long long secs; } units[] = {
        {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800},
    };

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (units[i].unit == ch)
            return units[i].secs;
    return 0;
}

/* conf_parse_time - N or N<unit>; bare N takes the default's unit. */
static int conf_parse_time(const struct conf_param *p, const char *value,
                           long long *num, strbuf *err)
{
    const char *end;
    long long n, mult;
    int unit;

    if (conf_parse_number(value, &n, &end) < 0) {
        (void)sb_puts(err, "not a time value");
        return -1;
    }
    unit = *end;
    if (unit == '\0') {
        size_t dl = p->def ? strlen(p->def) : 0;

        unit = dl > 0 && !isdigit((unsigned char)p->def[dl - 1])
            ? p->def[dl - 1] : 's';
    } else if (end[1] != '\0') {
        (void)sb_printf(err, "bad time unit '%.20s'", end);
        return -1;
    }
    if ((mult = conf_time_unit(unit)) == 0) {
        (void)sb_printf(err, "bad time unit '%c' (use s, m, h, d or w)", unit);
        return -1;
    }
    if (n > LLONG_MAX / mult || n < LLONG_MIN / mult) {
        (void)sb_puts(err, "time value too large");
        return -1;
    }
    *num = n * mult;
    return 0;
}

/* conf_parse_tables - every item must be a known type:name. */
static int conf_parse_tables(const char *value, strbuf *err)
{
    char **list = conf_split_list(value, err);
    int ret = 0;

    if (list == NULL)
        return -1;
    for (char **t = list; *t && ret == 0; t++) {
        const char *colon = strchr(*t, ':');
        char *type;

        if (colon == NULL || colon == *t) {
            (void)sb_printf(err, "table '%.200s' is not of the form type:name",
                            *t);
            ret = -1;
            break;
        }
        type = xstrndup(*t, (size_t)(colon - *t));
        if (!map_type_known(type)) {
            (void)sb_printf(err, "unsupported table type '%.100s'", type);
            ret = -1;
        }
        free(type);
    }
    conf_list_free(list);
    return ret;
}

/* conf_value_parse - check a (expanded) value against its parameter. */
int conf_value_parse(const struct conf_param *p, const char *value,
                     long long *num, strbuf *err)
{
    const char *end = value;
    long long n = 0;

    switch (p->type) {
    case CONF_STR:
        return 0;
    case CONF_LIST: {
        char **list = conf_split_list(value, err);

        conf_list_free(list);
        return list ? 0 : -1;
    }
    case CONF_TABLES:
        return conf_parse_tables(value, err);
    case CONF_BOOL:
        if (strcasecmp(value, "yes") != 0 && strcasecmp(value, "no") != 0) {
            (void)sb_puts(err, "expected yes or no");
            return -1;
        }
        *num = strcasecmp(value, "yes") == 0;
        return 0;
    case CONF_TIME:
        if (conf_parse_time(p, value, &n, err) < 0)
            return -1;
        break;
    case CONF_INT:
    case CONF_SIZE:
        if (conf_parse_number(value, &n, &end) < 0 || *end != '\0') {
            (void)sb_puts(err, p->type == CONF_INT ? "not a number"
                          : "not a size in bytes");
            return -1;
        }
        break;
    }
    if (n < p->min || n > p->max) {
        (void)sb_printf(err, "out of range (%lld..%lld)", p->min, p->max);
        return -1;
    }
    *num = n;
    return 0;
}
