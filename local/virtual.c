/*
 * virtual - the virtual delivery agent (see virtual.h for the contract;
 * docs/virtual.md for the user's view).
 *
 * Per request: read it strictly, open the queue file read-only (before any
 * uid switch: the descriptor stays usable), then per recipient look up the
 * mailbox, uid and gid as root, switch the effective ids, deliver with
 * maildir_deliver, switch back, and record a verdict; finally log every
 * recipient and reply in request order. Failures map to DSN codes through
 * one table. Owns the agent's tables and its maildir context; one request's
 * request's memory is released before the next is read (dlv_serve).
 */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "local/maildir.h"
#include "local/virtual.h"
#include "maps/maps.h"

struct virtual_agent {
    char *queue_directory;
    char *base;                         /* virtual_mailbox_base */
    char *delims;                       /* recipient_delimiter */
    maplist *mailbox, *uid, *gid;
    long min_uid;                       /* virtual_minimum_uid */
    uint64_t limit;                     /* virtual_mailbox_limit, 0 = none */
    bool root;                          /* started as root: switch ids */
    maildir_ctx *md;
};

/* virtual_verdict - set an outcome: dsn, action and a formatted reason. */
static void virtual_verdict(virtual_outcome *o, const char *dsn,
                            enum dlv_action action, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void virtual_verdict(virtual_outcome *o, const char *dsn,
                            enum dlv_action action, const char *fmt, ...)
{
    va_list ap;

    if (fmt_fixed(o->dsn, sizeof(o->dsn), "%s", dsn) < 0)
        msg_panic("virtual_verdict: bad dsn %s", dsn);
    o->action = action;
    sb_reset(&o->reason);
    va_start(ap, fmt);
    if (sb_vprintf(&o->reason, fmt, ap) < 0)
        (void)sb_set(&o->reason, "reason too long");
    va_end(ap);
}

/* virtual_open_maps - one table parameter; NULL (not an error) if empty. */
static int virtual_open_maps(const conf *cf, const char *param,
                             maplist **out, strbuf *why)
{
    const char *value = conf_get_str(cf, param);
    strbuf err;

    *out = NULL;
    if (value[strspn(value, " \t,")] == '\0')
        return 0;
    sb_init(&err, 1024);
    *out = maplist_open(value, MAP_F_FOLD, &err);
    if (*out == NULL)
        (void)sb_printf(why, "%s: %s", param, sb_str(&err));
    sb_release(&err);
    return *out ? 0 : -1;
}

/* virtual_agent_new - check the configuration and open the tables. */
virtual_agent *virtual_agent_new(const conf *cf, strbuf *why)
{
    virtual_agent *a = xcalloc(1, sizeof(*a));
    const char *base = conf_get_str(cf, "virtual_mailbox_base");

    a->queue_directory = xstrdup(conf_get_str(cf, "queue_directory"));
    a->base = xstrdup(base);
    a->delims = xstrdup(conf_get_str(cf, "recipient_delimiter"));
    a->min_uid = conf_get_int(cf, "virtual_minimum_uid");
    a->limit = (uint64_t)conf_get_size(cf, "virtual_mailbox_limit");
    a->root = geteuid() == 0;
    a->md = maildir_ctx_new(conf_get_str(cf, "myhostname"));
    if (base[0] != '/') {
        (void)sb_printf(why, "virtual_mailbox_base must be an absolute path"
                        " (it is \"%s\")", base);
    } else if (virtual_open_maps(cf, "virtual_mailbox_maps", &a->mailbox,
                                 why) == 0
               && virtual_open_maps(cf, "virtual_uid_maps", &a->uid, why) == 0
               && virtual_open_maps(cf, "virtual_gid_maps", &a->gid, why) == 0)
        return a;
    virtual_agent_free(a);
    return NULL;
}

/* virtual_agent_free - release the agent. */
void virtual_agent_free(virtual_agent *a)
{
    if (a == NULL)
        return;
    maplist_close(a->mailbox);
    maplist_close(a->uid);
    maplist_close(a->gid);
    maildir_ctx_free(a->md);
    free(a->queue_directory);
    free(a->base);
    free(a->delims);
    free(a);
}

/* virtual_parse_id - a plain decimal id of at least min. */
bool virtual_parse_id(const char *text, long min, long *id)
{
    long v = 0;

    if (*text == '\0')
        return false;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9' || v > (2147483647L - (*p - '0')) / 10)
            return false;
        v = v * 10 + (*p - '0');
    }
    if (v < min)
        return false;
    *id = v;
    return true;
}

/*
 * virtual_lookup - one table with virtual(5)'s key order: 0 found (into
 * result), otherwise the verdict is set and -1 returned. An absent table
 * is "not found".
 */
static int virtual_lookup(const virtual_agent *a, maplist *ml,
                          const char *param, const char *rcpt,
                          strbuf *result, virtual_outcome *o)
{
    struct map_keyopts ko = {MAP_KEYS_VIRTUAL, a->delims, false, false};
    struct map_match mm = {NULL, NULL};
    int rc = ml ? maplist_lookup_order(ml, rcpt, &ko, result, &mm)
                : MAP_NOTFOUND;

    if (rc == MAP_FOUND)
        return 0;
    if (rc == MAP_ERROR)
        virtual_verdict(o, "4.3.0", DLV_DEFERRED, "%s lookup error for %s: %s",
                        param, rcpt, mm.table ? map_error(mm.table)
                        : "table not available");
    else if (strcmp(param, "virtual_mailbox_maps") == 0)
        virtual_verdict(o, "5.1.1", DLV_FAILED, "unknown user: \"%s\"", rcpt);
    else
        virtual_verdict(o, "4.3.5", DLV_DEFERRED, "recipient %s: %s not"
                        " found in %s", rcpt, strcmp(param, "virtual_uid_maps")
                        == 0 ? "uid" : "gid", param);
    return -1;
}

/* virtual_ids - the recipient's uid and gid from the tables, checked. */
static int virtual_ids(const virtual_agent *a, const char *rcpt, uid_t *uid,
                       gid_t *gid, virtual_outcome *o)
{
    strbuf val;
    long id;
    int rc = -1;

    sb_init(&val, MAP_LINE_MAX);
    if (virtual_lookup(a, a->uid, "virtual_uid_maps", rcpt, &val, o) < 0)
        goto out;
    if (!virtual_parse_id(sb_str(&val), a->min_uid, &id)) {
        virtual_verdict(o, "4.3.5", DLV_DEFERRED, "recipient %s: bad uid %s"
                        " in virtual_uid_maps (virtual_minimum_uid is %ld)",
                        rcpt, sb_str(&val), a->min_uid);
        goto out;
    }
    *uid = (uid_t)id;
    if (virtual_lookup(a, a->gid, "virtual_gid_maps", rcpt, &val, o) < 0)
        goto out;
    if (!virtual_parse_id(sb_str(&val), 1, &id)) {
        virtual_verdict(o, "4.3.5", DLV_DEFERRED, "recipient %s: bad gid %s"
                        " in virtual_gid_maps", rcpt, sb_str(&val));
        goto out;
    }
    *gid = (gid_t)id;
    rc = 0;
out:
    sb_release(&val);
    return rc;
}

/* virtual_unbecome - back to root; anything else is fatal. */
static void virtual_unbecome(void)
{
    if (seteuid(0) < 0 || setegid(0) < 0 || setgroups(0, NULL) < 0
        || geteuid() != 0 || getegid() != 0)
        msg_fatal("cannot restore root privileges after a delivery: %m");
}

/* virtual_become - root: effective uid/gid of the mailbox owner. */
static int virtual_become(uid_t uid, gid_t gid, virtual_outcome *o)
{
    if (setgroups(1, &gid) < 0 || setegid(gid) < 0 || seteuid(uid) < 0) {
        int e = errno;

        virtual_unbecome();
        errno = e;
        virtual_verdict(o, "4.3.0", DLV_DEFERRED, "cannot switch to uid %ld"
                        " gid %ld: %s", (long)uid, (long)gid, strerror(errno));
        return -1;
    }
    return 0;
}

/* One row of the maildir failure table. */
struct virtual_errmap {
    int status;                         /* enum maildir_status */
    int err;                            /* errno, 0 = any */
    const char *dsn;
    enum dlv_action action;
};

/* maildir failures to verdicts; the first matching row wins. */
static const struct virtual_errmap virtual_errmap[] = {
    {MAILDIR_EMBOX, 0, "4.3.5", DLV_DEFERRED},
    {MAILDIR_EUNSAFE, 0, "4.3.5", DLV_DEFERRED},
    {MAILDIR_EBASE, 0, "4.3.5", DLV_DEFERRED},
    {MAILDIR_EFBIG, 0, "5.2.2", DLV_FAILED},
    {MAILDIR_EREAD, 0, "4.3.0", DLV_DEFERRED},
    {MAILDIR_ESYS, ENOSPC, "4.2.2", DLV_DEFERRED},
    {MAILDIR_ESYS, EDQUOT, "4.2.2", DLV_DEFERRED},
    {MAILDIR_ESYS, EFBIG, "5.2.2", DLV_FAILED},
    {MAILDIR_ESYS, 0, "4.2.0", DLV_DEFERRED},
};

/* virtual_maildir_verdict - the verdict for a maildir_deliver failure. */
static void virtual_maildir_verdict(int status, int err, const char *why,
                                    virtual_outcome *o)
{
    for (size_t i = 0; i < sizeof(virtual_errmap) / sizeof(virtual_errmap[0]);
         i++) {
        const struct virtual_errmap *e = &virtual_errmap[i];

        if (e->status == status && (e->err == 0 || e->err == err)) {
            virtual_verdict(o, e->dsn, e->action, "%s", why);
            return;
        }
    }
    virtual_verdict(o, "4.3.0", DLV_DEFERRED, "%s", why);
}

/* virtual_read - maildir content source: the queue file's content. */
static ssize_t virtual_read(void *ctx, uint64_t pos, void *buf, size_t len)
{
    return qfile_read_content(ctx, pos, buf, len);
}

/* virtual_deliver_one - look up, switch ids, deliver one recipient. */
static void virtual_deliver_one(virtual_agent *a, const dlv_request *req,
                                qfile_msg *msg, const dlv_rcpt *r,
                                virtual_outcome *o)
{
    maildir_msg mm = {req->sender, r->orig_address, r->address,
                      msg->content_size, virtual_read, msg, a->limit};
    strbuf path, name, why;
    uid_t uid;
    gid_t gid;
    int rc, err;

    sb_init(&path, MAP_LINE_MAX);
    sb_init(&name, 2048);
    sb_init(&why, 2048);
    if (virtual_lookup(a, a->mailbox, "virtual_mailbox_maps", r->address,
                       &path, o) == 0
        && virtual_ids(a, r->address, &uid, &gid, o) == 0
        && (!a->root || virtual_become(uid, gid, o) == 0)) {
        rc = maildir_deliver(a->md, a->base, sb_str(&path), &mm, &name, &why,
                             &err);
        if (a->root)
            virtual_unbecome();
        if (rc == MAILDIR_OK)
            virtual_verdict(o, "2.0.0", DLV_DELIVERED, "delivered to maildir");
        else
            virtual_maildir_verdict(rc, err, sb_str(&why), o);
    }
    sb_release(&path);
    sb_release(&name);
    sb_release(&why);
}

/* virtual_finish - log and answer every recipient in request order. */
static void virtual_finish(const dlv_request *req, const virtual_outcome *out,
                           const struct timeval *got, dlv_conn *c)
{
    static const char *const status[] = {[DLV_DELIVERED] = "sent",
        [DLV_FAILED] = "bounced", [DLV_DEFERRED] = "deferred"};
    strbuf why;

    sb_init(&why, 1024);
    for (size_t i = 0; i < req->nrcpt; i++) {
        dlv_log lg = {"virtual", *got, 0, out[i].dsn, status[out[i].action],
                      sb_str(&out[i].reason)};

        dlv_log_delivery(req, &req->rcpt[i], &lg);
    }
    for (size_t i = 0; i < req->nrcpt; i++)
        if (dlv_conn_reply(c, req->rcpt[i].offset, out[i].dsn,
                           out[i].action, sb_str(&out[i].reason), &why)
            != DLV_OK) {
            msg_warn("%s: reply to the queue manager: %s", req->queue_id,
                     sb_str(&why));
            break;
        }
    sb_release(&why);
}

/* virtual_run - the queue file, each recipient, the log and the replies. */
static void virtual_run(void *ctx, dlv_conn *c, const dlv_request *req,
                        const struct timeval *got)
{
    virtual_agent *a = ctx;
    virtual_outcome *out = xcalloc(req->nrcpt, sizeof(*out));
    qfile_msg *msg = NULL;
    strbuf why;

    sb_init(&why, 1024);
    for (size_t i = 0; i < req->nrcpt; i++)
        sb_init(&out[i].reason, DLV_REASON_MAX);
    if (dlv_request_open(a->queue_directory, req, &msg, &why) != QFILE_OK) {
        msg_warn("%s: %s", req->queue_id, sb_str(&why));
        for (size_t i = 0; i < req->nrcpt; i++)
            virtual_verdict(&out[i], "4.3.0", DLV_DEFERRED,
                            "cannot read queue file");
    } else {
        for (size_t i = 0; i < req->nrcpt; i++)
            virtual_deliver_one(a, req, msg, &req->rcpt[i], &out[i]);
    }
    virtual_finish(req, out, got, c);
    for (size_t i = 0; i < req->nrcpt; i++)
        sb_release(&out[i].reason);
    free(out);
    qfile_close(msg);
    sb_release(&why);
}

/* virtual_agent_serve - the requests of one connection on fd. */
bool virtual_agent_serve(virtual_agent *a, dlv_agent *budget, int fd)
{
    return dlv_serve(budget, fd, virtual_run, a);
}
