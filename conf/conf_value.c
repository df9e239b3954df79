/*
 * conf_value - one parameter's value for a command that needs nothing else
 * from the configuration (newaliases reading alias_database).
 */
#include "common/msg.h"
#include "common/xalloc.h"
#include "conf/conf.h"

/* conf_param_value - expanded value of name in dir's configuration. */
char *conf_param_value(const char *dir, const char *name)
{
    conf *c = conf_load(conf_dir(dir));
    char *value = NULL;

    if (conf_error_count(c) > 0)
        conf_log_diags(c);
    else
        value = xstrdup(conf_get_str(c, name));
    conf_free(c);
    return value;
}
