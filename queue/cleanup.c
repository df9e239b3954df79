/*
 * cleanup - configuration, message life cycle and verdict (see cleanup.h).
 *
 * Owns the cleanup_cfg (open tables, copied parameter values, the local
 * interface addresses for permit_inet_interfaces) and each cleanup (the
 * rewritten envelope, the recipient list, the header buffers). The qfile
 * writer is only borrowed. A configuration value that cannot be used
 * fails cleanup_cfg_open with a reason; everything after that reports
 * through the verdict, never by exiting.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "common/msg.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "conf/conf.h"
#include "maps/maps.h"
#include "queue/cleanup.h"
#include "queue/cleanup_private.h"
#include "queue/qfile.h"

#define CLEANUP_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A configuration word and its bit. */
struct cleanup_name_bit {
    const char *name;
    unsigned bit;
};

/* Names of the address classes in *canonical_classes. */
static const struct cleanup_name_bit cleanup_class_names[] = {
    {"envelope_sender", CLEANUP_ENV_SENDER},
    {"envelope_recipient", CLEANUP_ENV_RCPT},
    {"header_sender", CLEANUP_HDR_SENDER},
    {"header_recipient", CLEANUP_HDR_RCPT},
};

/* Items of local_header_rewrite_clients tern implements. */
static const struct cleanup_name_bit cleanup_lhr_names[] = {
    {"permit_inet_interfaces", CLEANUP_LHR_INET_IF},
    {"permit_mynetworks", CLEANUP_LHR_NETWORKS},
    {"permit_sasl_authenticated", CLEANUP_LHR_SASL},
    {"static:all", CLEANUP_LHR_ALL},
};

/* cleanup_log - one log line under the program name "cleanup". */
void cleanup_log(enum msg_level level, const char *fmt, ...)
{
    char prev[64];
    va_list ap;

    if (fmt_fixed(prev, sizeof(prev), "%s", msg_get_program()) < 0)
        (void)fmt_fixed(prev, sizeof(prev), "tern");
    msg_set_program("cleanup");
    va_start(ap, fmt);
    msg_vlog(level, fmt, ap);
    va_end(ap);
    msg_set_program(prev);
}

/* cleanup_verdict_name - a verdict as a word for logs and tests. */
const char *cleanup_verdict_name(enum cleanup_verdict v)
{
    static const char *const names[] = {
        [CLEANUP_OK] = "ok", [CLEANUP_REJECT] = "reject",
        [CLEANUP_HOLD] = "hold", [CLEANUP_DISCARD] = "discard",
        [CLEANUP_TEMPFAIL] = "tempfail",
    };

    return (unsigned)v < CLEANUP_NELEM(names) ? names[v] : "?";
}

/* cleanup_bits - a list parameter's items as bits of a name table. */
static int cleanup_bits(const conf *cf, const char *param,
                        const struct cleanup_name_bit *t, size_t n,
                        unsigned *out, strbuf *err)
{
    const char *const *items = conf_get_list(cf, param);

    *out = 0;
    for (size_t i = 0; items && items[i]; i++) {
        size_t k = 0;

        while (k < n && strcasecmp(items[i], t[k].name) != 0)
            k++;
        if (k == n)
            return sb_printf(err, "%s: unsupported item \"%s\"", param,
                             items[i]), -1;
        *out |= t[k].bit;
    }
    return 0;
}

/* cleanup_maps - open one table parameter (NULL when it is empty). */
static int cleanup_maps(const conf *cf, const char *param, int flags,
                        maplist **out, strbuf *err)
{
    const char *value = conf_get_str(cf, param);
    strbuf why;

    *out = NULL;
    if (value[strspn(value, " \t,")] == '\0')
        return 0;
    sb_init(&why, 512);
    *out = maplist_open(value, flags, &why);
    if (*out == NULL)
        (void)sb_printf(err, "%s: %s", param, sb_str(&why));
    sb_release(&why);
    return *out ? 0 : -1;
}

/* cleanup_add_ifaddr - remember one local address (text or sockaddr). */
static void cleanup_add_ifaddr(cleanup_cfg *cc, int family, const void *a)
{
    struct cleanup_ifaddr *ia;

    cc->ifaddrs = xreallocarray(cc->ifaddrs, cc->nifaddrs + 1,
                                sizeof(*cc->ifaddrs));
    ia = &cc->ifaddrs[cc->nifaddrs++];
    memset(ia, 0, sizeof(*ia));
    ia->family = family;
    memcpy(ia->addr, a, family == AF_INET ? 4 : 16);
}

/* cleanup_parse_ip - a textual address ("[...]" allowed); false if none. */
static bool cleanup_parse_ip(const char *text, int *family,
                             unsigned char addr[16])
{
    char buf[64];
    size_t n = strlen(text);

    if (n >= 2 && text[0] == '[' && text[n - 1] == ']') {
        text++;
        n -= 2;
    }
    if (n >= sizeof(buf))
        return false;
    memcpy(buf, text, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, addr) == 1)
        return *family = AF_INET, true;
    if (inet_pton(AF_INET6, buf, addr) != 1)
        return false;
    *family = AF_INET6;
    if (memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
        memmove(addr, addr + 12, 4);        /* IPv4-mapped: as IPv4 */
        *family = AF_INET;
    }
    return true;
}

/* cleanup_load_ifaddrs - the addresses of inet_interfaces. */
static void cleanup_load_ifaddrs(cleanup_cfg *cc, const conf *cf)
{
    const char *const *items = conf_get_list(cf, "inet_interfaces");
    struct ifaddrs *ifs = NULL;
    unsigned char a[16];
    int fam;

    for (size_t i = 0; items && items[i]; i++) {
        if (strcasecmp(items[i], "loopback-only") == 0
            || strcasecmp(items[i], "localhost") == 0) {
            (void)cleanup_parse_ip("127.0.0.1", &fam, a);
            cleanup_add_ifaddr(cc, fam, a);
            (void)cleanup_parse_ip("::1", &fam, a);
            cleanup_add_ifaddr(cc, fam, a);
        } else if (cleanup_parse_ip(items[i], &fam, a)) {
            cleanup_add_ifaddr(cc, fam, a);
        } else if (strcasecmp(items[i], "all") == 0 && ifs == NULL
                   && getifaddrs(&ifs) < 0) {
            msg_warn("cleanup: getifaddrs: %m");
            ifs = NULL;
        }
    }
    for (struct ifaddrs *p = ifs; p != NULL; p = p->ifa_next) {
        if (p->ifa_addr == NULL)
            continue;
        if (p->ifa_addr->sa_family == AF_INET)
            cleanup_add_ifaddr(cc, AF_INET,
                               &((const struct sockaddr_in *)(const void *)
                                 p->ifa_addr)->sin_addr);
        else if (p->ifa_addr->sa_family == AF_INET6)
            cleanup_add_ifaddr(cc, AF_INET6,
                               &((const struct sockaddr_in6 *)(const void *)
                                 p->ifa_addr)->sin6_addr);
    }
    if (ifs != NULL)
        freeifaddrs(ifs);
}

/* cleanup_load_mydest - the literal domains of mydestination. */
static void cleanup_load_mydest(cleanup_cfg *cc, const conf *cf)
{
    const char *const *items = conf_get_list(cf, "mydestination");

    for (size_t i = 0; items && items[i]; i++) {
        if (strchr(items[i], ':') != NULL || items[i][0] == '/')
            continue;                   /* a table: not a literal domain */
        cc->mydest = xreallocarray(cc->mydest, cc->nmydest + 1,
                                   sizeof(*cc->mydest));
        cc->mydest[cc->nmydest++] = xstrdup(items[i]);
    }
}

/* cleanup_load_values - the scalar parameters. */
static int cleanup_load_values(cleanup_cfg *cc, const conf *cf, strbuf *err)
{
    const char *const *prop = conf_get_list(cf, "propagate_unmatched_extensions");

    cc->always_add = conf_get_bool(cf, "always_add_missing_headers");
    cc->hopcount_limit = conf_get_int(cf, "hopcount_limit");
    cc->recursion_limit = conf_get_int(cf, "virtual_alias_recursion_limit");
    cc->expansion_limit = conf_get_int(cf, "virtual_alias_expansion_limit");
    cc->header_limit = (size_t)conf_get_int(cf, "header_size_limit");
    cc->myhostname = xstrdup(conf_get_str(cf, "myhostname"));
    cc->myorigin = xstrdup(conf_get_str(cf, "myorigin"));
    cc->delims = xstrdup(conf_get_str(cf, "recipient_delimiter"));
    for (size_t i = 0; prop && prop[i]; i++) {
        if (strcasecmp(prop[i], "canonical") == 0)
            cc->prop_canonical = true;
        else if (strcasecmp(prop[i], "virtual") == 0)
            cc->prop_virtual = true;
    }
    cleanup_load_mydest(cc, cf);
    size_t ncls = CLEANUP_NELEM(cleanup_class_names);

    if (cleanup_bits(cf, "canonical_classes", cleanup_class_names, ncls,
                     &cc->canon_classes, err) < 0
        || cleanup_bits(cf, "sender_canonical_classes", cleanup_class_names,
                        ncls, &cc->sender_classes, err) < 0
        || cleanup_bits(cf, "recipient_canonical_classes", cleanup_class_names,
                        ncls, &cc->rcpt_classes, err) < 0
        || cleanup_bits(cf, "local_header_rewrite_clients", cleanup_lhr_names,
                        CLEANUP_NELEM(cleanup_lhr_names), &cc->lhr, err) < 0)
        return -1;
    if (cc->lhr & CLEANUP_LHR_INET_IF)
        cleanup_load_ifaddrs(cc, cf);
    return 0;
}

/* cleanup_cfg_open - parameters and tables, once per process. */
cleanup_cfg *cleanup_cfg_open(const conf *cf, strbuf *err)
{
    cleanup_cfg *cc = xcalloc(1, sizeof(*cc));

    if (cleanup_load_values(cc, cf, err) < 0
        || cleanup_maps(cf, "canonical_maps", MAP_F_FOLD, &cc->canon, err) < 0
        || cleanup_maps(cf, "sender_canonical_maps", MAP_F_FOLD,
                        &cc->sender_canon, err) < 0
        || cleanup_maps(cf, "recipient_canonical_maps", MAP_F_FOLD,
                        &cc->rcpt_canon, err) < 0
        || cleanup_maps(cf, "virtual_alias_maps", MAP_F_FOLD, &cc->virtual,
                        err) < 0
        || cleanup_maps(cf, "header_checks", 0, &cc->header_checks, err) < 0) {
        cleanup_cfg_close(cc);
        return NULL;
    }
    return cc;
}

/* cleanup_cfg_close - close the tables, free the values. */
void cleanup_cfg_close(cleanup_cfg *cc)
{
    if (cc == NULL)
        return;
    maplist_close(cc->canon);
    maplist_close(cc->sender_canon);
    maplist_close(cc->rcpt_canon);
    maplist_close(cc->virtual);
    maplist_close(cc->header_checks);
    for (size_t i = 0; i < cc->nmydest; i++)
        free(cc->mydest[i]);
    free(cc->mydest);
    free(cc->ifaddrs);
    free(cc->myhostname);
    free(cc->myorigin);
    free(cc->delims);
    free(cc);
}

/* cleanup_inet_if - true when the client address is a local interface's. */
static bool cleanup_inet_if(const cleanup_cfg *cc, const char *client)
{
    unsigned char a[16];
    int fam;

    if (client == NULL || !cleanup_parse_ip(client, &fam, a))
        return false;
    for (size_t i = 0; i < cc->nifaddrs; i++)
        if (cc->ifaddrs[i].family == fam
            && memcmp(cc->ifaddrs[i].addr, a, fam == AF_INET ? 4 : 16) == 0)
            return true;
    return false;
}

/* cleanup_local_client - local_header_rewrite_clients for an SMTP client. */
static bool cleanup_local_client(const cleanup_cfg *cc, const qfile_env *env,
                                 const cleanup_info *info)
{
    return (cc->lhr & CLEANUP_LHR_ALL)
        || ((cc->lhr & CLEANUP_LHR_NETWORKS) && info->mynetworks)
        || ((cc->lhr & CLEANUP_LHR_SASL) && env->sasl_username
            && *env->sasl_username)
        || ((cc->lhr & CLEANUP_LHR_INET_IF)
            && cleanup_inet_if(cc, env->client_addr));
}

/* cleanup_done - true once the message cannot be accepted any more. */
bool cleanup_done(const cleanup *c)
{
    return c->verdict == CLEANUP_REJECT || c->verdict == CLEANUP_DISCARD
        || c->verdict == CLEANUP_TEMPFAIL;
}

/* cleanup_set_verdict - a stronger verdict replaces a weaker one. */
void cleanup_set_verdict(cleanup *c, enum cleanup_verdict v, const char *reply)
{
    if (cleanup_done(c) || v == CLEANUP_OK)
        return;
    c->verdict = v;
    (void)sb_set(&c->reply, reply ? reply : "");
}

/* cleanup_out - content to the writer; a failure is a TEMPFAIL. */
int cleanup_out(cleanup *c, const void *buf, size_t len)
{
    if (cleanup_done(c))
        return -1;
    if (len > 0 && qfile_write_content(c->w, buf, len) < 0) {
        c->write_failed = true;
        cleanup_set_verdict(c, CLEANUP_TEMPFAIL,
                            "451 4.3.0 Error: queue file write error");
        return -1;
    }
    return 0;
}

/* cleanup_origin - "host[addr]" of an SMTP client, or "local". */
static char *cleanup_origin(const qfile_env *env)
{
    strbuf o;
    char *s;

    if (env->client_addr == NULL || *env->client_addr == '\0')
        return xstrdup("local");
    sb_init(&o, 1024);
    if (sb_printf(&o, "%s[%s]", env->client_name && *env->client_name
                  ? env->client_name : "unknown", env->client_addr) < 0)
        (void)sb_set(&o, "unknown");
    s = sb_detach(&o);
    sb_release(&o);
    return s;
}

/* cleanup_dup - a copy of an optional text (NULL or "" = NULL). */
static char *cleanup_dup(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

/* cleanup_open - one message: rewrite the sender, write the envelope. */
cleanup *cleanup_open(cleanup_cfg *cc, qfile_writer *w, const qfile_env *env,
                      const cleanup_info *info)
{
    cleanup *c = xcalloc(1, sizeof(*c));
    strbuf sender;
    qfile_env e = *env;
    bool local = info->local || cleanup_local_client(cc, env, info);

    c->cfg = cc;
    c->w = w;
    sb_init(&c->reply, 1024);
    sb_init(&c->line, cc->header_limit);
    sb_init(&c->field, cc->header_limit + 2);
    c->queue_id = xstrdup(info->queue_id && *info->queue_id
                          ? info->queue_id : "NOQUEUE");
    c->origin = cleanup_origin(env);
    c->proto = cleanup_dup(env->protocol);
    c->helo = cleanup_dup(env->helo);
    c->arrival = env->arrival.tv_sec > 0 ? (long)env->arrival.tv_sec
        : (long)time(NULL);
    c->rewrite_hdrs = local;
    c->add_missing = local || cc->always_add;
    sb_init(&sender, QFILE_FIELD_MAX);
    if (env->sender && *env->sender
        && cleanup_canon(c, true, false, env->sender, &sender)
        == CLEANUP_MAP_ERROR)
        (void)sb_set(&sender, env->sender);
    else if (!env->sender || !*env->sender)
        (void)sb_set(&sender, "");
    c->sender = sb_detach(&sender);
    sb_release(&sender);
    e.sender = c->sender;
    if (!cleanup_done(c) && qfile_put_env(w, &e) < 0) {
        c->write_failed = true;
        cleanup_set_verdict(c, CLEANUP_TEMPFAIL,
                            "451 4.3.0 Error: queue file write error");
    }
    return c;
}

/* cleanup_put_rcpt - keep one final recipient unless it is a duplicate. */
int cleanup_put_rcpt(cleanup *c, const char *address, const qfile_rcpt *from)
{
    qfile_rcpt *r;
    const char *orig = from->orig && *from->orig ? from->orig : from->address;

    if (!cleanup_set_add(&c->seen_rcpt, address))
        return 0;
    if (c->nrcpt >= QFILE_RCPT_MAX) {
        cleanup_log(MSG_WARN, "%s: too many recipients after alias expansion",
                    c->queue_id);
        cleanup_set_verdict(c, CLEANUP_TEMPFAIL,
                            "452 4.5.3 Error: too many recipients");
        return -1;
    }
    if (c->nrcpt == c->rcpt_cap) {
        c->rcpt_cap = c->rcpt_cap ? 2 * c->rcpt_cap : 8;
        c->rcpt = xreallocarray(c->rcpt, c->rcpt_cap, sizeof(*c->rcpt));
    }
    r = &c->rcpt[c->nrcpt++];
    memset(r, 0, sizeof(*r));
    r->address = xstrdup(address);
    r->orig = xstrdup(strcmp(orig, address) == 0 ? "" : orig);
    r->orcpt = xstrdup(from->orcpt ? from->orcpt : "");
    r->notify = from->notify;
    r->status = QFILE_RCPT_PENDING;
    return 0;
}

/* cleanup_add_rcpt - canonical, then virtual alias expansion. */
int cleanup_add_rcpt(cleanup *c, const qfile_rcpt *r)
{
    strbuf canon;
    char **list = NULL;
    size_t n = 0;
    int rc;

    if (cleanup_done(c))
        return -1;
    sb_init(&canon, QFILE_FIELD_MAX);
    rc = cleanup_canon(c, false, false, r->address, &canon);
    if (rc != CLEANUP_MAP_ERROR) {
        free(c->last_rcpt);
        c->last_rcpt = xstrdup(sb_str(&canon));
        if (cleanup_virtual(c, sb_str(&canon), &list, &n) == 0)
            for (size_t i = 0; i < n && !cleanup_done(c); i++)
                (void)cleanup_put_rcpt(c, list[i], r);
        cleanup_strv_free(list, n);
    }
    sb_release(&canon);
    return cleanup_done(c) ? -1 : 0;
}

/* cleanup_write - content: headers through the state machine, body as is. */
int cleanup_write(cleanup *c, const void *buf, size_t len)
{
    if (cleanup_done(c))
        return -1;
    if (c->hstate == CLEANUP_H_BODY)
        return cleanup_out(c, buf, len);
    return cleanup_hdr_feed(c, buf, len);
}

/* cleanup_free - release a message's memory. */
static void cleanup_free(cleanup *c)
{
    for (size_t i = 0; i < c->nrcpt; i++) {
        free((char *)(uintptr_t)c->rcpt[i].address);
        free((char *)(uintptr_t)c->rcpt[i].orig);
        free((char *)(uintptr_t)c->rcpt[i].orcpt);
    }
    free(c->rcpt);
    cleanup_set_free(&c->seen_rcpt);
    sb_release(&c->reply);
    sb_release(&c->line);
    sb_release(&c->field);
    free(c->queue_id);
    free(c->sender);
    free(c->last_rcpt);
    free(c->origin);
    free(c->proto);
    free(c->helo);
    free(c);
}

/* cleanup_close - finish the content, write the recipients, the verdict. */
enum cleanup_verdict cleanup_close(cleanup *c, strbuf *reply)
{
    enum cleanup_verdict v;

    if (!cleanup_done(c))
        (void)cleanup_hdr_finish(c);
    if (!cleanup_done(c) && c->nrcpt == 0)
        cleanup_set_verdict(c, CLEANUP_REJECT,
                            "554 5.5.1 Error: no valid recipients");
    for (size_t i = 0; i < c->nrcpt && !cleanup_done(c); i++)
        if (qfile_add_rcpt(c->w, &c->rcpt[i]) < 0) {
            c->write_failed = true;
            cleanup_set_verdict(c, CLEANUP_TEMPFAIL,
                                "451 4.3.0 Error: queue file write error");
        }
    v = c->verdict;
    sb_reset(reply);
    if (v == CLEANUP_REJECT || v == CLEANUP_TEMPFAIL)
        (void)sb_puts(reply, sb_str(&c->reply));
    cleanup_free(c);
    return v;
}

/* cleanup_abort - drop a message without a verdict. */
void cleanup_abort(cleanup *c)
{
    if (c != NULL)
        cleanup_free(c);
}
