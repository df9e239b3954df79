/*
 * tls_load - finds and loads the OpenSSL module, and the connection
 * handles the front gives out for the module's connections.
 *
 * <daemon_directory>/tern-tls.so is dlopen()ed (RTLD_NOW | RTLD_LOCAL) the
 * first time a process needs OpenSSL: every symbol is resolved then, so a
 * module that does not fit this program fails here, not in a session.
 * The module is never closed (OpenSSL keeps process-wide state and exit
 * handlers); a later dlopen of it only finds it loaded, so this file keeps
 * no state. Every failure is "cannot load PATH: why" in err, nothing else.
 */
#include <dlfcn.h>
#include <stdlib.h>

#include "tls/tls_module.h"
#include "common/xalloc.h"

#define TLS_LOAD_PATH_MAX 4096

/* The front's handle of one module connection. */
struct tls_conn {
    const struct tls_module *mod;
    tls_ssl_conn *impl;
};

/* tls_module_open - dlopen path and check its table; NULL + err. */
const struct tls_module *tls_module_open(const char *path, strbuf *err)
{
    const struct tls_module *(*entry)(void);
    const struct tls_module *mod;
    const char *why;
    void *handle;

    if ((handle = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
        why = dlerror();
        (void)tls_fail(err, "cannot load %s: %s", path,
                       why != NULL ? why : "unknown dlopen error");
        return NULL;
    }
    *(void **)&entry = dlsym(handle, TLS_MODULE_SYMBOL);
    if (entry == NULL) {
        why = dlerror();
        (void)tls_fail(err, "cannot load %s: %s", path,
                       why != NULL ? why : "no " TLS_MODULE_SYMBOL);
    } else if ((mod = entry()) == NULL || mod->version != TLS_MODULE_VERSION
               || mod->size != sizeof(*mod)) {
        (void)tls_fail(err, "cannot load %s: not the TLS module of this "
                       "tern (interface %u, expected %u)", path,
                       mod != NULL ? mod->version : 0, TLS_MODULE_VERSION);
    } else {
        return mod;
    }
    (void)dlclose(handle);      /* nothing of it was used */
    return NULL;
}

/* tls_module_load - the module in c's daemon_directory; NULL + err. */
const struct tls_module *tls_module_load(const conf *c, strbuf *err)
{
    const char *dir = conf_get_str(c, "daemon_directory");
    const struct tls_module *mod;
    strbuf path;

    sb_init(&path, TLS_LOAD_PATH_MAX);
    if (sb_printf(&path, "%s/%s", dir, TLS_MODULE_FILE) < 0) {
        (void)tls_fail(err, "cannot load %.64s.../%s: path too long", dir,
                       TLS_MODULE_FILE);
        mod = NULL;
    } else {
        mod = tls_module_open(sb_str(&path), err);
    }
    sb_release(&path);
    return mod;
}

/* tls_conn_wrap - a handle for impl (NULL stays NULL). */
tls_conn *tls_conn_wrap(const struct tls_module *mod, tls_ssl_conn *impl)
{
    tls_conn *tc;

    if (impl == NULL)
        return NULL;
    tc = xmalloc(sizeof(*tc));
    tc->mod = mod;
    tc->impl = impl;
    return tc;
}

/* tls_conn_free - close_notify and release, by the module (NULL is fine). */
void tls_conn_free(tls_conn *tc)
{
    if (tc == NULL)
        return;
    tc->mod->conn_free(tc->impl);
    free(tc);
}

/* tls_conn_info - the negotiated parameters, owned by the connection. */
const struct tls_info *tls_conn_info(const tls_conn *tc)
{
    return tc->mod->conn_info(tc->impl);
}
