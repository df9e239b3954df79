/*
 * dlv - the delivery-agent protocol: request and reply encoding, strict
 * decoding and validation, and the agent's delivery log line (dlv.h).
 *
 * Requests are encoded by hand into a strbuf ("name=value\n" lines, an
 * empty line after each message: common/attr.h's framing) so a client with
 * a non-blocking socket can write them from its own event loop; they are
 * decoded with attr_scan's strict tables. Replies buffered by such a
 * client are decoded through a tio whose raw reader is the buffer itself.
 * Every check happens before anything is returned; errors are statuses
 * with a one-line reason. Owns nothing but what dlv_request_free and
 * dlv_reply_free release.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/attr.h"
#include "common/msg.h"
#include "common/xalloc.h"
#include "queue/dlv.h"
#include "queue/qid.h"
#include "queue/spool.h"

/* dlv_fail - set why (if any) to a formatted reason and return status. */
static int dlv_fail(strbuf *why, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int dlv_fail(strbuf *why, int status, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL) {
        sb_reset(why);
        va_start(ap, fmt);
        if (sb_vprintf(why, fmt, ap) < 0)
            sb_reset(why);
        va_end(ap);
    }
    return status;
}

/* dlv_attr_status - map an attr status to a dlv status. */
static int dlv_attr_status(int st)
{
    if (st == ATTR_OK)
        return DLV_OK;
    if (st == ATTR_EOF)
        return DLV_EOF;
    return st == ATTR_TIMEOUT || st == ATTR_IOERR ? DLV_IO : DLV_PROTO;
}

/* --- small value codecs --- */

static const char *const dlv_action_names[] = {
    [DLV_DELIVERED] = "delivered",
    [DLV_FAILED] = "failed",
    [DLV_DEFERRED] = "deferred",
};
#define DLV_NACTIONS (sizeof(dlv_action_names) / sizeof(dlv_action_names[0]))

/* dlv_action_name - the wire name of an action. */
const char *dlv_action_name(enum dlv_action a)
{
    return (size_t)a < DLV_NACTIONS ? dlv_action_names[a] : "unknown";
}

/* dlv_action_lookup - the action with this wire name, or -1. */
int dlv_action_lookup(const char *name)
{
    for (size_t i = 0; i < DLV_NACTIONS; i++)
        if (strcmp(dlv_action_names[i], name) == 0)
            return (int)i;
    return -1;
}

/* dlv_digits - 1..max decimal digits at *p (advanced), no sign. */
static bool dlv_digits(const char **p, size_t max)
{
    size_t n = 0;

    while (**p >= '0' && **p <= '9') {
        (*p)++;
        if (++n > max)
            return false;
    }
    return n > 0;
}

/* dlv_dsn_valid - "x.y.z" with class 2, 4 or 5 and 1..3 digit fields. */
bool dlv_dsn_valid(const char *dsn)
{
    const char *p = dsn;

    if ((p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
        return false;
    p += 2;
    if (!dlv_digits(&p, 3) || *p++ != '.' || !dlv_digits(&p, 3))
        return false;
    return *p == '\0';
}

/* dlv_dsn_fits - true when the DSN class fits the action. */
static bool dlv_dsn_fits(enum dlv_action a, const char *dsn)
{
    switch (a) {
    case DLV_DELIVERED:
        return dsn[0] == '2';
    case DLV_DEFERRED:
        return dsn[0] == '4';
    case DLV_FAILED:
        return dsn[0] == '4' || dsn[0] == '5';
    }
    return false;
}

/* Body and RET keywords, indexed by their enums. */
static const char *const dlv_body_names[] = {
    [QFILE_BODY_NONE] = "", [QFILE_BODY_7BIT] = "7BIT",
    [QFILE_BODY_8BITMIME] = "8BITMIME",
};
static const char *const dlv_ret_names[] = {
    [QFILE_RET_NONE] = "", [QFILE_RET_FULL] = "FULL",
    [QFILE_RET_HDRS] = "HDRS",
};

/* dlv_keyword - index of s in names[0..n), or -1. */
static int dlv_keyword(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

/* dlv_parse_u64 - strict decimal without sign, at most max. */
static bool dlv_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

/* dlv_parse_time - "seconds[.fraction]" (up to 6 fraction digits). */
static bool dlv_parse_time(const char *s, struct timeval *tv)
{
    const char *dot = strchr(s, '.');
    char secs[24];
    uint64_t sec;
    long usec = 0;
    int scale = 100000;

    if (fmt_fixed(secs, sizeof(secs), "%.*s",
                  (int)(dot ? (size_t)(dot - s) : strlen(s)), s) < 0
        || !dlv_parse_u64(secs, INT64_MAX / 2, &sec))
        return false;
    if (dot != NULL) {
        const char *p = dot + 1;

        if (*p == '\0' || strlen(p) > 6)
            return false;
        for (; *p; p++, scale /= 10) {
            if (*p < '0' || *p > '9')
                return false;
            usec += (*p - '0') * scale;
        }
    }
    tv->tv_sec = (time_t)sec;
    tv->tv_usec = usec;
    return true;
}

/* dlv_service_ok - a master.cf service name: printable, no '/', not "." */
static bool dlv_service_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 100 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s >= 0x7f || *s == '/')
            return false;
    return true;
}

/* --- requests --- */

/* dlv_request_init - an empty request. */
void dlv_request_init(dlv_request *req)
{
    memset(req, 0, sizeof(*req));
    req->queue_id = req->queue_name = req->transport = "";
    req->nexthop = req->sender = req->envid = "";
}

/* dlv_request_add_rcpt - append a recipient (strings are the caller's). */
void dlv_request_add_rcpt(dlv_request *req, const dlv_rcpt *r)
{
    if (req->nrcpt == req->cap) {
        req->cap = req->cap ? 2 * req->cap : 8;
        req->rcpt = xreallocarray(req->rcpt, req->cap, sizeof(*req->rcpt));
    }
    req->rcpt[req->nrcpt++] = *r;
}

/* dlv_request_free - release what the request owns. */
void dlv_request_free(dlv_request *req)
{
    for (size_t i = 0; i < req->nowned; i++)
        free(req->owned[i]);
    free(req->owned);
    free(req->rcpt);
    dlv_request_init(req);
}

/* dlv_own - keep a decoded string in the request; returns it. */
static const char *dlv_own(dlv_request *req, const char *s)
{
    req->owned = xreallocarray(req->owned, req->nowned + 1,
                               sizeof(*req->owned));
    return req->owned[req->nowned++] = xstrdup(s);
}

/* dlv_text_ok - storable text field (queue file rules), may be empty. */
static bool dlv_text_ok(const char *s)
{
    return qfile_text_ok(s, strlen(s));
}

/* dlv_check_header - the envelope part of dlv_request_check. */
static int dlv_check_header(const dlv_request *req, strbuf *why)
{
    int d = spool_lookup(req->queue_name);

    if (!qid_valid(req->queue_id))
        return dlv_fail(why, -1, "bad queue_id");
    if (d != SPOOL_INCOMING && d != SPOOL_ACTIVE && d != SPOOL_DEFERRED
        && d != SPOOL_HOLD)
        return dlv_fail(why, -1, "bad queue_name");
    if (!dlv_service_ok(req->transport))
        return dlv_fail(why, -1, "bad transport");
    if (!dlv_text_ok(req->nexthop))
        return dlv_fail(why, -1, "bad nexthop");
    if (!dlv_text_ok(req->sender))
        return dlv_fail(why, -1, "bad sender");
    if (!dlv_text_ok(req->envid))
        return dlv_fail(why, -1, "bad envid");
    if (req->arrival_time < 0 || req->active_time.tv_sec < 0
        || req->active_time.tv_usec < 0 || req->active_time.tv_usec > 999999)
        return dlv_fail(why, -1, "bad arrival_time or active_time");
    if ((size_t)req->body_type >= 3 || (size_t)req->ret >= 3
        || req->size > QFILE_CONTENT_MAX)
        return dlv_fail(why, -1, "bad body_type, ret or size");
    if (req->nrcpt < 1 || req->nrcpt > DLV_RCPT_MAX)
        return dlv_fail(why, -1, "bad rcpt_count %zu (1..%d)", req->nrcpt,
                        DLV_RCPT_MAX);
    return 0;
}

/* dlv_request_check - everything a sender or receiver must verify. */
int dlv_request_check(const dlv_request *req, strbuf *why)
{
    if (dlv_check_header(req, why) < 0)
        return -1;
    for (size_t i = 0; i < req->nrcpt; i++) {
        const dlv_rcpt *r = &req->rcpt[i];

        if (*r->address == '\0' || !dlv_text_ok(r->address)
            || !dlv_text_ok(r->orig_address) || !dlv_text_ok(r->orcpt))
            return dlv_fail(why, -1, "recipient %zu: bad address", i + 1);
        if (r->notify != 0 && !qfile_notify_ok(r->notify))
            return dlv_fail(why, -1, "recipient %zu: bad notify", i + 1);
        if (r->offset <= 0)
            return dlv_fail(why, -1, "recipient %zu: bad offset", i + 1);
        for (size_t j = 0; j < i; j++)
            if (req->rcpt[j].offset == r->offset)
                return dlv_fail(why, -1, "recipient %zu: offset repeated",
                                i + 1);
    }
    return 0;
}

/* dlv_put - append "name=value\n"; -1 past out's bound or a bad value. */
static int dlv_put(strbuf *out, const char *name, const char *value)
{
    if (strpbrk(value, "\r\n") != NULL || strlen(value) > DLV_VALUE_MAX)
        return -1;
    return sb_printf(out, "%s=%s\n", name, value);
}

/* dlv_put_xtext - append "name=xtext(value)\n". */
static int dlv_put_xtext(strbuf *out, const char *name, const char *value)
{
    strbuf x;
    int rc;

    sb_init(&x, DLV_VALUE_MAX);
    rc = attr_xtext_encode(&x, value, strlen(value));
    if (rc == 0)
        rc = dlv_put(out, name, sb_str(&x));
    sb_release(&x);
    return rc;
}

/* dlv_encode_header - the header message of a request. */
static int dlv_encode_header(const dlv_request *req, strbuf *out)
{
    char num[64], act[64], size[32], count[32];

    if (fmt_fixed(num, sizeof(num), "%lld", (long long)req->arrival_time) < 0
        || fmt_fixed(act, sizeof(act), "%lld.%06ld",
                     (long long)req->active_time.tv_sec,
                     (long)req->active_time.tv_usec) < 0
        || fmt_fixed(size, sizeof(size), "%llu",
                     (unsigned long long)req->size) < 0
        || fmt_fixed(count, sizeof(count), "%zu", req->nrcpt) < 0)
        return -1;
    if (dlv_put(out, "request", "deliver") < 0
        || dlv_put(out, "queue_id", req->queue_id) < 0
        || dlv_put(out, "queue_name", req->queue_name) < 0
        || dlv_put(out, "transport", req->transport) < 0
        || dlv_put(out, "nexthop", req->nexthop) < 0
        || dlv_put(out, "sender", req->sender) < 0
        || dlv_put(out, "arrival_time", num) < 0
        || dlv_put(out, "active_time", act) < 0
        || dlv_put(out, "size", size) < 0
        || dlv_put(out, "body_type", dlv_body_names[req->body_type]) < 0
        || dlv_put(out, "smtputf8", req->smtputf8 ? "1" : "0") < 0
        || dlv_put_xtext(out, "envid", req->envid) < 0
        || dlv_put(out, "ret", dlv_ret_names[req->ret]) < 0
        || dlv_put(out, "rcpt_count", count) < 0)
        return -1;
    return sb_putc(out, '\n');
}

/* dlv_encode_rcpt - one recipient message. */
static int dlv_encode_rcpt(const dlv_rcpt *r, strbuf *out)
{
    char notify[16], offset[32];

    if (fmt_fixed(notify, sizeof(notify), "%u", r->notify) < 0
        || fmt_fixed(offset, sizeof(offset), "%lld", (long long)r->offset) < 0
        || dlv_put(out, "address", r->address) < 0
        || dlv_put(out, "orig_address", r->orig_address) < 0
        || dlv_put_xtext(out, "orcpt", r->orcpt) < 0
        || dlv_put(out, "notify", notify) < 0
        || dlv_put(out, "offset", offset) < 0)
        return -1;
    return sb_putc(out, '\n');
}

/* dlv_request_encode - append the request's bytes to out. */
int dlv_request_encode(const dlv_request *req, strbuf *out, strbuf *why)
{
    size_t mark = sb_len(out);

    if (dlv_request_check(req, why) < 0)
        return DLV_PROTO;
    if (dlv_encode_header(req, out) < 0)
        goto toolong;
    for (size_t i = 0; i < req->nrcpt; i++)
        if (dlv_encode_rcpt(&req->rcpt[i], out) < 0)
            goto toolong;
    return DLV_OK;
toolong:
    sb_truncate(out, mark);
    return dlv_fail(why, DLV_PROTO, "request too long to encode");
}

/* dlv_request_write - encode and send a request, then flush. */
int dlv_request_write(tio *t, const dlv_request *req, strbuf *why)
{
    strbuf out;
    int rc;

    sb_init(&out, SB_NOLIMIT);
    rc = dlv_request_encode(req, &out, why);
    if (rc == DLV_OK && (tio_write(t, sb_str(&out), sb_len(&out)) != TIO_OK
                         || tio_flush(t) != TIO_OK))
        rc = dlv_fail(why, DLV_IO, "send delivery request: %s",
                      tio_errno(t) ? strerror(tio_errno(t)) : "timeout");
    sb_release(&out);
    return rc;
}

/* --- request decoding (agent side) --- */

/* The header's attributes while they are decoded. */
struct dlv_hdr {
    strbuf request, queue_id, queue_name, transport, nexthop, sender;
    strbuf active_time, size, body_type, envid, ret;
    long arrival;
    int smtputf8;
    unsigned rcpt_count;
};

/* dlv_hdr_bufs - the header's strbufs, for init and release. */
static strbuf *dlv_hdr_buf(struct dlv_hdr *h, size_t i)
{
    strbuf *v[] = {&h->request, &h->queue_id, &h->queue_name, &h->transport,
                   &h->nexthop, &h->sender, &h->active_time, &h->size,
                   &h->body_type, &h->envid, &h->ret};

    return i < sizeof(v) / sizeof(v[0]) ? v[i] : NULL;
}

/* dlv_scan_header - read the header message strictly into h. */
static int dlv_scan_header(tio *t, struct dlv_hdr *h, strbuf *why)
{
    const attr_spec spec[] = {
        {"request", ATTR_T_STR, ATTR_REQUIRED, &h->request},
        {"queue_id", ATTR_T_STR, ATTR_REQUIRED, &h->queue_id},
        {"queue_name", ATTR_T_STR, ATTR_REQUIRED, &h->queue_name},
        {"transport", ATTR_T_STR, ATTR_REQUIRED, &h->transport},
        {"nexthop", ATTR_T_STR, ATTR_REQUIRED, &h->nexthop},
        {"sender", ATTR_T_STR, ATTR_REQUIRED, &h->sender},
        {"arrival_time", ATTR_T_LONG, ATTR_REQUIRED, &h->arrival},
        {"active_time", ATTR_T_STR, ATTR_REQUIRED, &h->active_time},
        {"size", ATTR_T_STR, ATTR_REQUIRED, &h->size},
        {"body_type", ATTR_T_STR, ATTR_REQUIRED, &h->body_type},
        {"smtputf8", ATTR_T_INT, ATTR_REQUIRED, &h->smtputf8},
        {"envid", ATTR_T_STR, ATTR_REQUIRED, &h->envid},
        {"ret", ATTR_T_STR, ATTR_REQUIRED, &h->ret},
        {"rcpt_count", ATTR_T_UINT, ATTR_REQUIRED, &h->rcpt_count},
    };
    const attr_opts opts = {DLV_VALUE_MAX, 32};

    return attr_scan(t, &opts, spec, sizeof(spec) / sizeof(spec[0]), why);
}

/* dlv_take_header - validate h and fill req's envelope. */
static int dlv_take_header(const struct dlv_hdr *h, dlv_request *req,
                           strbuf *why)
{
    int body = dlv_keyword(dlv_body_names, 3, sb_str(&h->body_type));
    int ret = dlv_keyword(dlv_ret_names, 3, sb_str(&h->ret));
    strbuf envid;
    int rc = DLV_OK;

    if (strcmp(sb_str(&h->request), "deliver") != 0)
        return dlv_fail(why, DLV_PROTO, "unknown request \"%.40s\"",
                        sb_str(&h->request));
    if (body < 0 || ret < 0 || (h->smtputf8 != 0 && h->smtputf8 != 1))
        return dlv_fail(why, DLV_PROTO, "bad body_type, ret or smtputf8");
    if (!dlv_parse_u64(sb_str(&h->size), QFILE_CONTENT_MAX, &req->size))
        return dlv_fail(why, DLV_PROTO, "bad size");
    if (!dlv_parse_time(sb_str(&h->active_time), &req->active_time))
        return dlv_fail(why, DLV_PROTO, "bad active_time");
    sb_init(&envid, QFILE_FIELD_MAX);
    if (attr_xtext_decode(&envid, sb_str(&h->envid), sb_len(&h->envid)) < 0)
        rc = dlv_fail(why, DLV_PROTO, "bad envid xtext");
    else
        req->envid = dlv_own(req, sb_str(&envid));
    sb_release(&envid);
    req->queue_id = dlv_own(req, sb_str(&h->queue_id));
    req->queue_name = dlv_own(req, sb_str(&h->queue_name));
    req->transport = dlv_own(req, sb_str(&h->transport));
    req->nexthop = dlv_own(req, sb_str(&h->nexthop));
    req->sender = dlv_own(req, sb_str(&h->sender));
    req->arrival_time = (time_t)h->arrival;
    req->body_type = (enum qfile_body)body;
    req->ret = (enum qfile_ret)ret;
    req->smtputf8 = h->smtputf8 == 1;
    return rc;
}

/* dlv_read_rcpt - read and decode one recipient message. */
static int dlv_read_rcpt(tio *t, dlv_request *req, strbuf *why)
{
    strbuf addr, orig, orcpt, dec;
    unsigned notify = 0;
    long offset = 0;
    const attr_spec spec[] = {
        {"address", ATTR_T_STR, ATTR_REQUIRED, &addr},
        {"orig_address", ATTR_T_STR, ATTR_REQUIRED, &orig},
        {"orcpt", ATTR_T_STR, ATTR_REQUIRED, &orcpt},
        {"notify", ATTR_T_UINT, ATTR_REQUIRED, &notify},
        {"offset", ATTR_T_LONG, ATTR_REQUIRED, &offset},
    };
    const attr_opts opts = {DLV_VALUE_MAX, 8};
    dlv_rcpt r;
    int rc;

    sb_init(&addr, QFILE_FIELD_MAX);
    sb_init(&orig, QFILE_FIELD_MAX);
    sb_init(&orcpt, DLV_VALUE_MAX);
    sb_init(&dec, QFILE_FIELD_MAX);
    rc = dlv_attr_status(attr_scan(t, &opts, spec, 5, why));
    if (rc == DLV_EOF)
        rc = dlv_fail(why, DLV_PROTO, "end of input before recipient %zu",
                      req->nrcpt + 1);
    else if (rc == DLV_OK
             && attr_xtext_decode(&dec, sb_str(&orcpt), sb_len(&orcpt)) < 0)
        rc = dlv_fail(why, DLV_PROTO, "recipient %zu: bad orcpt xtext",
                      req->nrcpt + 1);
    if (rc == DLV_OK) {
        r = (dlv_rcpt){dlv_own(req, sb_str(&addr)), dlv_own(req, sb_str(&orig)),
                       dlv_own(req, sb_str(&dec)), notify, (off_t)offset};
        dlv_request_add_rcpt(req, &r);
    }
    sb_release(&addr);
    sb_release(&orig);
    sb_release(&orcpt);
    sb_release(&dec);
    return rc;
}

/* dlv_request_read - receive and validate a whole request. */
int dlv_request_read(tio *t, dlv_request *req, strbuf *why)
{
    struct dlv_hdr h = {0};
    int rc;

    for (size_t i = 0; dlv_hdr_buf(&h, i) != NULL; i++)
        sb_init(dlv_hdr_buf(&h, i), DLV_VALUE_MAX);
    rc = dlv_attr_status(dlv_scan_header(t, &h, why));
    if (rc == DLV_OK)
        rc = dlv_take_header(&h, req, why);
    if (rc == DLV_OK && (h.rcpt_count < 1 || h.rcpt_count > DLV_RCPT_MAX))
        rc = dlv_fail(why, DLV_PROTO, "bad rcpt_count %u (1..%d)",
                      h.rcpt_count, DLV_RCPT_MAX);
    for (unsigned i = 0; rc == DLV_OK && i < h.rcpt_count; i++)
        rc = dlv_read_rcpt(t, req, why);
    for (size_t i = 0; dlv_hdr_buf(&h, i) != NULL; i++)
        sb_release(dlv_hdr_buf(&h, i));
    if (rc == DLV_OK && dlv_request_check(req, why) < 0)
        rc = DLV_PROTO;
    return rc;
}

/* dlv_find_rcpt - the message's recipient whose status byte is at off. */
static const qfile_rcpt *dlv_find_rcpt(const qfile_msg *msg, off_t off)
{
    size_t lo = 0, hi = msg->nrcpt;

    while (lo < hi) {                   /* offsets increase in file order */
        size_t mid = lo + (hi - lo) / 2;

        if (msg->rcpt[mid].status_offset == off)
            return &msg->rcpt[mid];
        if (msg->rcpt[mid].status_offset < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* dlv_request_match - the request names pending recipients of this file. */
int dlv_request_match(const dlv_request *req, const qfile_msg *msg,
                      strbuf *why)
{
    if (strcmp(req->sender, msg->env.sender) != 0)
        return dlv_fail(why, -1, "%s: request sender differs from queue file",
                        req->queue_id);
    for (size_t i = 0; i < req->nrcpt; i++) {
        const qfile_rcpt *q = dlv_find_rcpt(msg, req->rcpt[i].offset);

        if (q == NULL || strcmp(q->address, req->rcpt[i].address) != 0)
            return dlv_fail(why, -1, "%s: recipient at offset %lld not in "
                            "queue file", req->queue_id,
                            (long long)req->rcpt[i].offset);
        if (q->status != QFILE_RCPT_PENDING)
            return dlv_fail(why, -1, "%s: recipient at offset %lld already "
                            "done", req->queue_id,
                            (long long)req->rcpt[i].offset);
    }
    return 0;
}

/* dlv_request_open - open and match the request's queue file. */
int dlv_request_open(const char *queue_directory, const dlv_request *req,
                     qfile_msg **out, strbuf *why)
{
    strbuf path;
    int rc;

    *out = NULL;
    if (dlv_check_header(req, why) < 0)
        return QFILE_ECORRUPT;
    sb_init(&path, 4096);
    if (sb_printf(&path, "%s/%s/%s", queue_directory, req->queue_name,
                  req->queue_id) < 0) {
        sb_release(&path);
        return dlv_fail(why, QFILE_ESYS, "queue file path too long");
    }
    rc = qfile_open(sb_str(&path), O_RDONLY, out, why);
    sb_release(&path);
    if (rc == QFILE_OK && dlv_request_match(req, *out, why) < 0) {
        qfile_close(*out);
        *out = NULL;
        rc = QFILE_ECORRUPT;
    }
    return rc;
}

/* --- replies --- */

/* dlv_reply_free - free the reason. */
void dlv_reply_free(dlv_reply *r)
{
    free(r->reason);
    r->reason = NULL;
}

/* dlv_clean_reason - a single bounded line: control bytes become spaces. */
static void dlv_clean_reason(const char *in, strbuf *out)
{
    sb_reset(out);
    for (const unsigned char *p = (const unsigned char *)in; *p; p++)
        if (sb_putc(out, *p < ' ' || *p == 0x7f ? ' ' : *p) < 0)
            break;
    sb_trim(out);
}

/* dlv_reply_write - send one reply and flush. */
int dlv_reply_write(tio *t, off_t offset, const char *dsn,
                    enum dlv_action action, const char *reason, bool reuse,
                    strbuf *why)
{
    strbuf clean, out;
    int rc = DLV_OK;

    if (!dlv_dsn_valid(dsn) || (size_t)action >= DLV_NACTIONS
        || !dlv_dsn_fits(action, dsn) || offset <= 0)
        return dlv_fail(why, DLV_PROTO, "bad reply: dsn %.20s action %s",
                        dsn, dlv_action_name(action));
    sb_init(&clean, DLV_REASON_MAX);
    sb_init(&out, SB_NOLIMIT);
    dlv_clean_reason(reason ? reason : "", &clean);
    if (sb_printf(&out, "offset=%lld\ndsn=%s\naction=%s\nreason=%s\n"
                  "reuse=%d\n\n", (long long)offset, dsn,
                  dlv_action_name(action), sb_str(&clean), reuse ? 1 : 0) < 0
        || tio_write(t, sb_str(&out), sb_len(&out)) != TIO_OK
        || tio_flush(t) != TIO_OK)
        rc = dlv_fail(why, DLV_IO, "send delivery reply: %s",
                      tio_errno(t) ? strerror(tio_errno(t)) : "timeout");
    sb_release(&clean);
    sb_release(&out);
    return rc;
}

/* dlv_line_ok - no control bytes (a reason goes into defer/ lines). */
static bool dlv_line_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < ' ' || *p == 0x7f)
            return false;
    return true;
}

/* dlv_reply_read - receive one reply that must answer `expect`. */
int dlv_reply_read(tio *t, off_t expect, dlv_reply *r, strbuf *why)
{
    strbuf dsn, action, reason;
    long offset = 0;
    int reuse = 0;                      /* absent: the agent closes */
    const attr_spec spec[] = {
        {"offset", ATTR_T_LONG, ATTR_REQUIRED, &offset},
        {"dsn", ATTR_T_STR, ATTR_REQUIRED, &dsn},
        {"action", ATTR_T_STR, ATTR_REQUIRED, &action},
        {"reason", ATTR_T_STR, ATTR_REQUIRED, &reason},
        {"reuse", ATTR_T_INT, 0, &reuse},
    };
    const attr_opts opts = {DLV_VALUE_MAX, 8};
    int rc, a = -1;

    sb_init(&dsn, DLV_DSN_SIZE - 1);
    sb_init(&action, 16);
    sb_init(&reason, DLV_REASON_MAX);
    rc = dlv_attr_status(attr_scan(t, &opts, spec, 5, why));
    if (rc == DLV_OK && reuse != 0 && reuse != 1)
        rc = dlv_fail(why, DLV_PROTO, "bad reply: reuse=%d", reuse);
    else if (rc == DLV_OK && (off_t)offset != expect)
        rc = dlv_fail(why, DLV_PROTO, "reply for offset %ld, expected %lld",
                      offset, (long long)expect);
    else if (rc == DLV_OK && ((a = dlv_action_lookup(sb_str(&action))) < 0
                              || !dlv_dsn_valid(sb_str(&dsn))
                              || !dlv_dsn_fits((enum dlv_action)a,
                                               sb_str(&dsn))))
        rc = dlv_fail(why, DLV_PROTO, "bad reply: dsn \"%s\" action \"%s\"",
                      sb_str(&dsn), sb_str(&action));
    else if (rc == DLV_OK && !dlv_line_ok(sb_str(&reason)))
        rc = dlv_fail(why, DLV_PROTO, "bad reply: control byte in reason");
    if (rc == DLV_OK) {
        r->offset = (off_t)offset;
        if (fmt_fixed(r->dsn, sizeof(r->dsn), "%s", sb_str(&dsn)) < 0)
            msg_panic("dlv_reply_read: dsn checked but too long");
        r->action = (enum dlv_action)a;
        r->reason = sb_detach(&reason);
        r->reuse = reuse == 1;
    }
    sb_release(&dsn);
    sb_release(&action);
    sb_release(&reason);
    return rc;
}

/* dlv_replies_complete - count messages that end in buf[0..len). */
size_t dlv_replies_complete(const char *buf, size_t len)
{
    size_t n = 0;
    char prev = '\n';

    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n' && prev == '\n')
            n++;
        prev = buf[i];
    }
    return n;
}

/* A buffer read through tio's raw vtable. */
struct dlv_membuf {
    const char *p;
    size_t left;
};

/* dlv_mem_read - hand out buffered bytes; 0 (end of file) when done. */
static ssize_t dlv_mem_read(void *ctx, void *buf, size_t len)
{
    struct dlv_membuf *m = ctx;
    size_t n = len < m->left ? len : m->left;

    memcpy(buf, m->p, n);
    m->p += n;
    m->left -= n;
    return (ssize_t)n;
}

/* dlv_mem_write - a read-only stream: writing is an error. */
static ssize_t dlv_mem_write(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    (void)len;
    errno = EBADF;
    return TIO_RAW_ERROR;
}

/* dlv_replies_parse - decode all replies for req from a buffer. */
int dlv_replies_parse(const dlv_request *req, const char *buf, size_t len,
                      dlv_reply *out, size_t *ngood, strbuf *why)
{
    struct dlv_membuf mem = {buf, len};
    const tio_ops ops = {dlv_mem_read, dlv_mem_write, &mem};
    /* The descriptor is never polled: the raw reader never says "wait". */
    tio *t = tio_open(STDIN_FILENO, DLV_TIMEOUT_MS);
    int rc = DLV_OK;

    tio_set_ops(t, &ops);
    *ngood = 0;
    while (*ngood < req->nrcpt) {
        rc = dlv_reply_read(t, req->rcpt[*ngood].offset, &out[*ngood], why);
        if (rc != DLV_OK)
            break;
        ++*ngood;
    }
    if (rc == DLV_EOF)
        (void)dlv_fail(why, DLV_EOF, "lost connection after %zu of %zu "
                       "replies", *ngood, req->nrcpt);
    else if (rc == DLV_OK && mem.left + tio_pending(t) > 0)
        rc = dlv_fail(why, DLV_PROTO, "unexpected data after the last reply");
    tio_free(t);
    return rc;
}

/* --- the agent's log line --- */

/* dlv_format_delay - Postfix style: whole seconds from 10 s, else 2 digits. */
void dlv_format_delay(double secs, strbuf *out)
{
    char buf[64];
    size_t n;

    if (!(secs > 0))                    /* also NaN */
        secs = 0;
    if (secs >= 10) {
        (void)fmt_fixed(buf, sizeof(buf), "%.0f", secs);
    } else {
        (void)fmt_fixed(buf, sizeof(buf), "%.*f", secs >= 1 ? 1 : 2, secs);
        n = strlen(buf);
        while (n > 1 && buf[n - 1] == '0')
            buf[--n] = '\0';
        if (buf[n - 1] == '.')
            buf[n - 1] = '\0';
    }
    (void)sb_puts(out, buf);
}

/* dlv_tv_secs - a timeval as seconds. */
static double dlv_tv_secs(const struct timeval *tv)
{
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/* dlv_log_delivery - the Postfix delivery line for one recipient. */
void dlv_log_delivery(const dlv_request *req, const dlv_rcpt *rcpt,
                      const dlv_log *lg)
{
    struct timeval now;
    double t_now, t_act = dlv_tv_secs(&req->active_time);
    double t_got = dlv_tv_secs(&lg->got), c = lg->conn_secs > 0 ? lg->conn_secs : 0;
    double d[5];
    strbuf line;

    if (gettimeofday(&now, NULL) < 0)
        msg_fatal("gettimeofday: %m");
    t_now = dlv_tv_secs(&now);
    if (t_got <= 0)
        t_got = t_now;
    d[0] = t_now - (double)req->arrival_time;
    d[1] = t_act - (double)req->arrival_time;
    d[2] = t_got - t_act;
    d[3] = c;
    d[4] = t_now - t_got - c;
    sb_init(&line, SB_NOLIMIT);
    (void)sb_printf(&line, "%s: to=<%s>, ", req->queue_id, rcpt->address);
    if (*rcpt->orig_address && strcmp(rcpt->orig_address, rcpt->address) != 0)
        (void)sb_printf(&line, "orig_to=<%s>, ", rcpt->orig_address);
    (void)sb_printf(&line, "relay=%s, delay=", lg->relay ? lg->relay : "none");
    for (size_t i = 0; i < 5; i++) {
        dlv_format_delay(d[i], &line);
        (void)sb_puts(&line, i == 0 ? ", delays=" : i < 4 ? "/" : "");
    }
    msg_info("%s, dsn=%s, status=%s (%s)", sb_str(&line), lg->dsn, lg->status,
             lg->reason ? lg->reason : "");
    sb_release(&line);
}
