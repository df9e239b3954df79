/*
 * smtpd_check - the restriction engine's core: compiling the lists once,
 * running a list, the stage drivers (Postfix's smtpd_check_client, _helo,
 * _mail, _rcpt, _etrn, _data, _eod), and replies and log lines.
 *
 * Owns the restrict_set (compiled lists, opened tables, the parameters it
 * reads) and each restrict_session. A configuration problem is reported
 * once by restrict_compile() and nothing is half-built (everything opened
 * so far is released). At run time a lookup error ends the whole check
 * with 451 4.3.0 and a table value that cannot be used with 451 4.3.5;
 * neither is ever a permit, and neither is a longjmp: each restriction
 * returns DUNNO, OK, REJECT or DEFER and x->stop ends the check.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/addr.h"
#include "common/msg.h"
#include "common/xalloc.h"
#include "smtpd/smtpd_check_int.h"

/* The lists: parameter, reply class of a plain reject, data available. */
static const struct chain_def {
    const char *param;
    const char *rclass;
    unsigned avail;             /* NEED_* known when the list runs */
    unsigned avail_delayed;     /* ... with smtpd_delay_reject = yes */
    const char *when;           /* for the error text */
} chain_defs[CH_N] = {
    [CH_CLIENT] = {"smtpd_client_restrictions", "Client host", 0,
                   NEED_HELO | NEED_SENDER | NEED_RCPT, "at connect"},
    [CH_HELO] = {"smtpd_helo_restrictions", "Helo command", NEED_HELO,
                 NEED_HELO | NEED_SENDER | NEED_RCPT, "at HELO/EHLO"},
    [CH_SENDER] = {"smtpd_sender_restrictions", "Sender address",
                   NEED_HELO | NEED_SENDER,
                   NEED_HELO | NEED_SENDER | NEED_RCPT, "at MAIL FROM"},
    [CH_RELAY] = {"smtpd_relay_restrictions", "Recipient address",
                  NEED_HELO | NEED_SENDER | NEED_RCPT,
                  NEED_HELO | NEED_SENDER | NEED_RCPT, "at RCPT TO"},
    [CH_RECIPIENT] = {"smtpd_recipient_restrictions", "Recipient address",
                      NEED_HELO | NEED_SENDER | NEED_RCPT,
                      NEED_HELO | NEED_SENDER | NEED_RCPT, "at RCPT TO"},
    [CH_DATA] = {"smtpd_data_restrictions", "Data command",
                 NEED_HELO | NEED_SENDER | NEED_RCPT,
                 NEED_HELO | NEED_SENDER | NEED_RCPT, "at DATA"},
    [CH_EOD] = {"smtpd_end_of_data_restrictions", "End-of-data",
                NEED_HELO | NEED_SENDER | NEED_RCPT,
                NEED_HELO | NEED_SENDER | NEED_RCPT, "at end of data"},
    [CH_ETRN] = {"smtpd_etrn_restrictions", "Etrn command",
                 NEED_HELO | NEED_ETRN, NEED_HELO | NEED_ETRN, "at ETRN"},
};

/* What a missing datum is called in the error text. */
static const struct need_name {
    unsigned need;
    const char *what;
} need_names[] = {
    {NEED_HELO, "the HELO name"},
    {NEED_SENDER, "the sender"},
    {NEED_RCPT, "the recipient"},
    {NEED_ETRN, "the ETRN domain"},
};

/* Integer and boolean parameters, read once at compile. */
static const struct int_param {
    const char *name;
    size_t off;
} int_params[] = {
    {"reject_code", offsetof(restrict_set, code_reject)},
    {"defer_code", offsetof(restrict_set, code_defer)},
    {"access_map_reject_code", offsetof(restrict_set, code_map_reject)},
    {"access_map_defer_code", offsetof(restrict_set, code_map_defer)},
    {"relay_domains_reject_code", offsetof(restrict_set, code_relay)},
    {"unknown_local_recipient_reject_code", offsetof(restrict_set, code_local)},
    {"unknown_virtual_alias_reject_code", offsetof(restrict_set, code_valias)},
    {"unknown_virtual_mailbox_reject_code",
     offsetof(restrict_set, code_vmailbox)},
    {"unknown_relay_recipient_reject_code",
     offsetof(restrict_set, code_relay_rcpt)},
    {"non_fqdn_reject_code", offsetof(restrict_set, code_nonfqdn)},
    {"invalid_hostname_reject_code", offsetof(restrict_set, code_badname)},
    {"multi_recipient_bounce_reject_code", offsetof(restrict_set, code_mulrcpt)},
}, bool_params[] = {
    {"smtpd_delay_reject", offsetof(restrict_set, delay_reject)},
    {"smtpd_helo_required", offsetof(restrict_set, helo_required)},
    {"smtpd_reject_unlisted_recipient", offsetof(restrict_set, unlisted_rcpt)},
    {"smtpd_reject_unlisted_sender", offsetof(restrict_set, unlisted_sender)},
    {"show_user_unknown_table_name", offsetof(restrict_set, show_table)},
    {"allow_untrusted_routing", offsetof(restrict_set, untrusted_routing)},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Replies and log lines ---- */

/* restrict_quote - the external (quoted) form of an address, for display. */
const char *restrict_quote(strbuf *out, const char *address)
{
    sb_reset(out);
    if (addr_quote(out, address, strlen(address)) < 0)
        (void)sb_set(out, "(address too long)");
    return sb_str(out);
}

/* vlog - one Postfix log_whatsup() line: logged and kept in the verdict. */
static void vlog(struct rctx *x, const char *whatsup, const char *fmt,
                 va_list ap) __attribute__((format(printf, 3, 0)));
static void vlog(struct rctx *x, const char *whatsup, const char *fmt,
                 va_list ap)
{
    const struct restrict_state *st = x->st;
    strbuf line;

    sb_init(&line, RESTRICT_TEXT_MAX);
    (void)sb_printf(&line, "%s: %s: %s from %s: ",
                    st->queue_id ? st->queue_id : "NOQUEUE", whatsup,
                    x->where, sb_str(&x->namaddr));
    (void)sb_vprintf(&line, fmt, ap);
    (void)sb_putc(&line, ';');
    if (x->sender)
        (void)sb_printf(&line, " from=<%s>", sb_str(&x->qsender));
    if (x->recipient)
        (void)sb_printf(&line, " to=<%s>", sb_str(&x->qrcpt));
    if (st->protocol_name)
        (void)sb_printf(&line, " proto=%s", st->protocol_name);
    if (x->helo)
        (void)sb_printf(&line, " helo=<%s>", x->helo);
    if (st->sasl_method)
        (void)sb_printf(&line, " sasl_method=%s", st->sasl_method);
    if (st->sasl_username)
        (void)sb_printf(&line, " sasl_username=%s", st->sasl_username);
    msg_info("%s", sb_str(&line));
    if (sb_printf(&x->v->log, "%s\n", sb_str(&line)) < 0)
        msg_warn("restriction log copy full");
    sb_release(&line);
}

/* restrict_log - log a reject/hold/discard/warn/info line. */
void restrict_log(struct rctx *x, const char *whatsup, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(x, whatsup, fmt, ap);
    va_end(ap);
}

/* printable - replace control and 8-bit bytes so a reply is one clean line. */
static void printable(strbuf *sb)
{
    for (size_t i = 0; i < sb->len; i++)
        if ((unsigned char)sb->data[i] < ' ' || (unsigned char)sb->data[i] >= 0x7f)
            sb->data[i] = ' ';
}

/* valid_dsn - "D.DDD.DDD" with a 2, 4 or 5 class, as RFC 3463 writes. */
static bool valid_dsn(const char *dsn)
{
    size_t n = strspn(dsn + 2, "0123456789"), m;

    if ((dsn[0] != '2' && dsn[0] != '4' && dsn[0] != '5') || dsn[1] != '.'
        || n < 1 || n > 3 || dsn[2 + n] != '.')
        return false;
    m = strspn(dsn + 3 + n, "0123456789");
    return m >= 1 && m <= 3;
}

/* finish_reply - validate, clean and log a formatted reply; the result. */
static enum restrict_result finish_reply(struct rctx *x, strbuf *text,
                                         bool warn)
{
    if (text->len < 4 || (text->data[0] != '4' && text->data[0] != '5')
        || !valid_dsn(text->data + 4)) {
        msg_warn("SMTP reply code or DSN configuration error: %s",
                 sb_str(text));
        (void)sb_set(text, "450 4.7.1 Service unavailable");
    }
    if (text->len > RESTRICT_REPLY_MAX)
        sb_truncate(text, RESTRICT_REPLY_MAX);
    printable(text);
    text->data[4] = text->data[0];      /* the reply code decides the class */
    restrict_log(x, warn ? "reject_warning" : "reject", "%s", sb_str(text));
    if (warn)
        return R_DUNNO;
    (void)sb_set(&x->v->reply, sb_str(text));
    return text->data[0] == '4' ? R_DEFER : R_REJECT;
}

/* restrict_reject - Postfix's smtpd_check_reject(). */
enum restrict_result restrict_reject(struct rctx *x, enum restrict_class ec,
                                     int code, const char *dsn,
                                     const char *fmt, ...)
{
    bool warn = x->warn != 0 && (ec == EC_POLICY || ec == EC_BOUNCE);
    enum restrict_result res;
    strbuf text;
    va_list ap;

    sb_init(&text, RESTRICT_TEXT_MAX);
    (void)sb_printf(&text, "%d %s ", code, dsn);
    va_start(ap, fmt);
    (void)sb_vprintf(&text, fmt, ap);
    va_end(ap);
    if (!warn && x->dir.active && text.data[0] == '5') {
        /* An earlier temporary problem may have caused this: defer. */
        x->warn = 0;
        x->dir.active = false;
        sb_reset(&text);
        (void)sb_printf(&text, "%d %s %s", x->dir.code, x->dir.dsn,
                        sb_str(&x->dir.reason));
    }
    res = finish_reply(x, &text, warn);
    sb_release(&text);
    return res;
}

/* restrict_defer_if - remember the first DEFER_IF_* reason; DUNNO. */
enum restrict_result restrict_defer_if(struct restrict_defer *d, int code,
                                       const char *dsn, const char *fmt, ...)
{
    va_list ap;

    if (d->active)
        return R_DUNNO;
    d->active = true;
    d->code = code;
    if (fmt_fixed(d->dsn, sizeof(d->dsn), "%s", dsn) < 0)
        (void)fmt_fixed(d->dsn, sizeof(d->dsn), "%c.7.1", code / 100 + '0');
    sb_reset(&d->reason);
    va_start(ap, fmt);
    (void)sb_vprintf(&d->reason, fmt, ap);
    va_end(ap);
    return R_DUNNO;
}

/* restrict_tempfail - a lookup error: 451 4.3.0, ends the check. */
enum restrict_result restrict_tempfail(struct rctx *x, const char *name)
{
    enum restrict_result r = restrict_reject(x, EC_DATA, 451, "4.3.0",
                                             "<%s>: Temporary lookup failure",
                                             name);

    x->stop = true;
    return r;
}

/* restrict_server_error - unusable table content: 451 4.3.5, ends it. */
enum restrict_result restrict_server_error(struct rctx *x)
{
    enum restrict_result r = restrict_reject(x, EC_SOFTWARE, 451, "4.3.5",
                                             "Server configuration error");

    x->stop = true;
    return r;
}

/* ---- Running a list ---- */

/* restrict_run_list - Postfix's generic_checks(). */
enum restrict_result restrict_run_list(struct rctx *x,
                                       const struct restrict_list *l)
{
    enum restrict_result status = R_DUNNO;
    int saved = x->recursion++;

    for (size_t i = 0; i < l->n; i++) {
        const struct restrict_rule *r = &l->v[i];

        if (x->ss->discard)
            break;
        if (strcmp(r->def->name, "warn_if_reject") == 0) {
            if (x->warn == 0)
                x->warn = x->recursion;
            continue;
        }
        status = r->def->fn(x, r);
        if (x->warn >= x->recursion)
            x->warn = 0;
        if (x->stop || status != R_DUNNO)
            break;
        if (x->ss->dip.active && x->dir.active)
            break;
    }
    x->recursion = saved;
    if (x->warn >= x->recursion)
        x->warn = 0;
    return status;
}

/* ---- Compiling ---- */

/* needs_text - the first datum of missing that the error should name. */
static const char *needs_text(unsigned missing)
{
    for (size_t i = 0; i < NELEM(need_names); i++)
        if (missing & need_names[i].need)
            return need_names[i].what;
    return "its data";
}

/* add_rule - append a rule; opens its table. 0, or -1 with err. */
static int add_rule(struct restrict_list *out, const struct restrict_def *d,
                    const char *param, const char *arg, strbuf *err)
{
    struct restrict_rule *r;
    maplist *ml = NULL;
    strbuf merr;

    if (d->arg == ARG_TABLE) {
        sb_init(&merr, RESTRICT_TEXT_MAX);
        ml = maplist_open(arg, MAP_F_FOLD, &merr);
        if (ml == NULL)
            (void)sb_printf(err, "%s: %s %s: %s", param, d->name, arg,
                            sb_str(&merr));
        sb_release(&merr);
        if (ml == NULL)
            return -1;
    }
    out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
    r = &out->v[out->n++];
    r->def = d;
    r->arg = arg ? xstrdup(arg) : NULL;
    r->maps = ml;
    return 0;
}

/* check_item - can def be used in list ch? 0, or -1 with err. */
static int check_item(const restrict_set *rs, const struct restrict_def *d,
                      const char *param, const char *name,
                      enum restrict_chain ch, bool nested, strbuf *err)
{
    const struct chain_def *cd = &chain_defs[ch];
    unsigned avail = rs->delay_reject ? cd->avail_delayed : cd->avail;

    if (d == NULL) {
        (void)sb_printf(err, "%s: unknown restriction \"%.100s\"", param, name);
        return -1;
    }
    if (d->fn == NULL) {
        (void)sb_printf(err, "%s: restriction \"%s\" is not supported yet",
                        param, d->name);
        return -1;
    }
    if (strstr(d->name, "sender_login_mismatch") && rs->login_maps == NULL) {
        (void)sb_printf(err, "%s: restriction \"%s\" needs"
                        " smtpd_sender_login_maps", param, d->name);
        return -1;
    }
    if (nested && d->arg == ARG_TABLE) {
        (void)sb_printf(err, "%s: lookup table restriction \"%s\" inside an"
                        " access table", param, d->name);
        return -1;
    }
    if (!nested && (d->needs & ~avail) != 0) {
        (void)sb_printf(err, "%s: restriction \"%s\" cannot work here: %s is"
                        " not known when this list runs (%s%s)", param,
                        d->name, needs_text(d->needs & ~avail), cd->when,
                        rs->delay_reject ? "" : ", smtpd_delay_reject = no");
        return -1;
    }
    return 0;
}

/* restrict_compile_list - resolve a list's names (nested: a table value). */
int restrict_compile_list(restrict_set *rs, const char *param,
                          const char *value, enum restrict_chain ch,
                          bool nested, struct restrict_list *out,
                          strbuf *err)
{
    char **items = conf_split_list(value, err);
    int rv = 0;

    if (items == NULL)
        return -1;
    for (char **p = items; *p != NULL && rv == 0; p++) {
        const struct restrict_def *d;
        const char *arg = NULL;

        if (strchr(*p, ':') != NULL && !nested) {
            /* A bare table means the list's own check_*_access. */
            if ((d = restrict_access_def(ch)) == NULL) {
                (void)sb_printf(err, "%s: table \"%.100s\" needs a check_*_"
                                "access restriction before it", param, *p);
                rv = -1;
                break;
            }
            arg = *p;
        } else {
            d = restrict_find_def(*p);
        }
        if (check_item(rs, d, param, *p, ch, nested, err) < 0) {
            rv = -1;
            break;
        }
        if (arg == NULL && d->arg != ARG_NONE) {
            if (p[1] == NULL || (d->arg == ARG_TABLE && !strchr(p[1], ':'))) {
                (void)sb_printf(err, "%s: restriction \"%s\" needs %s", param,
                                d->name, d->arg == ARG_TABLE
                                ? "a type:table argument" : "an argument");
                rv = -1;
                break;
            }
            arg = *++p;
        }
        rv = add_rule(out, d, param, arg, err);
    }
    conf_list_free(items);
    return rv;
}

/* restrict_list_free - release a compiled list. */
void restrict_list_free(struct restrict_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].arg);
        maplist_close(l->v[i].maps);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* open_maps - an optional table parameter; NULL when empty. 0 or -1. */
static int open_maps(const conf *c, const char *param, maplist **out,
                     strbuf *err)
{
    const char *value = conf_get_str(c, param);
    strbuf merr;

    *out = NULL;
    if (value == NULL || *value == '\0')
        return 0;
    sb_init(&merr, RESTRICT_TEXT_MAX);
    *out = maplist_open(value, MAP_F_FOLD, &merr);
    if (*out == NULL)
        (void)sb_printf(err, "%s: %s", param, sb_str(&merr));
    sb_release(&merr);
    return *out ? 0 : -1;
}

/* in_list - whether name is an item of list parameter param. */
static bool in_list(const conf *c, const char *param, const char *name)
{
    const char *const *items = conf_get_list(c, param);

    for (; items && *items; items++)
        if (strcasecmp(*items, name) == 0)
            return true;
    return false;
}

/* local_maps - local_recipient_maps: passwd pseudo-table and real tables. */
static int local_maps(restrict_set *rs, strbuf *err)
{
    const char *const *items = conf_get_list(rs->conf, "local_recipient_maps");
    strbuf rest, merr;
    int rv = 0;

    sb_init(&rest, RESTRICT_TEXT_MAX * 4);
    sb_init(&merr, RESTRICT_TEXT_MAX);
    for (; items && *items; items++) {
        const char *t = *items;

        rs->local_check = true;
        while (strncmp(t, "proxy:", 6) == 0)
            t += 6;
        if (strcmp(t, "unix:passwd.byname") == 0)
            rs->local_passwd = true;
        else if (sb_printf(&rest, "%s%s", rest.len ? " " : "", t) < 0)
            rv = -1;
    }
    if (rv == 0 && rest.len > 0
        && (rs->local_maps = maplist_open(sb_str(&rest), MAP_F_FOLD, &merr))
        == NULL)
        rv = -1;
    if (rv < 0)
        (void)sb_printf(err, "local_recipient_maps: %s",
                        merr.len ? sb_str(&merr) : "too many tables");
    sb_release(&rest);
    sb_release(&merr);
    return rv;
}

/* read_params - the scalar parameters and the engine's own tables. */
static int read_params(restrict_set *rs, strbuf *err)
{
    const conf *c = rs->conf;

    for (size_t i = 0; i < NELEM(int_params); i++)
        *(int *)((char *)rs + int_params[i].off) =
            (int)conf_get_int(c, int_params[i].name);
    for (size_t i = 0; i < NELEM(bool_params); i++)
        *(bool *)((char *)rs + bool_params[i].off) =
            conf_get_bool(c, bool_params[i].name);
    rs->delims = xstrdup(conf_get_str(c, "recipient_delimiter"));
    rs->null_key = xstrdup(conf_get_str(c, "smtpd_null_access_lookup_key"));
    rs->double_bounce = xstrdup(conf_get_str(c, "double_bounce_sender"));
    rs->access_parent = in_list(c, "parent_domain_matches_subdomains",
                                "smtpd_access_maps");
    rs->nets_parent = in_list(c, "parent_domain_matches_subdomains",
                              "mynetworks");
    if (open_maps(c, "virtual_alias_maps", &rs->valias, err) < 0
        || open_maps(c, "virtual_mailbox_maps", &rs->vmailbox, err) < 0
        || open_maps(c, "relay_recipient_maps", &rs->relay_rcpt, err) < 0
        || open_maps(c, "smtpd_sender_login_maps", &rs->login_maps, err) < 0
        || local_maps(rs, err) < 0)
        return -1;
    return restrict_net_compile(rs, err);
}

/* restrict_relay_guard - see smtpd_check.h. */
int restrict_relay_guard(const restrict_set *rs, strbuf *err)
{
    static const char *const stoppers[] = {
        "reject_unauth_destination", "defer_unauth_destination", "reject",
        "defer", "defer_if_permit",
    };
    static const enum restrict_chain lists[] = {CH_RELAY, CH_RECIPIENT};

    for (size_t l = 0; l < NELEM(lists); l++) {
        const struct restrict_list *list = &rs->chains[lists[l]];

        for (size_t i = 0; i < list->n; i++)
            for (size_t k = 0; k < NELEM(stoppers); k++)
                if (strcasecmp(list->v[i].def->name, stoppers[k]) == 0)
                    return 0;
    }
    (void)sb_printf(err, "smtpd_relay_restrictions and"
                    " smtpd_recipient_restrictions: neither has"
                    " reject_unauth_destination, defer_unauth_destination,"
                    " reject, defer or defer_if_permit; refusing to run as"
                    " an open relay");
    return -1;
}

/* restrict_compile - see smtpd_check.h. */
restrict_set *restrict_compile(const conf *service_conf, strbuf *err)
{
    restrict_set *rs = xcalloc(1, sizeof(*rs));
    strbuf rerr;

    sb_reset(err);
    rs->conf = service_conf;
    if (read_params(rs, err) < 0) {
        restrict_free(rs);
        return NULL;
    }
    for (int ch = 0; ch < CH_N; ch++) {
        const char *param = chain_defs[ch].param;

        if (restrict_compile_list(rs, param, conf_get_str(service_conf, param),
                                  (enum restrict_chain)ch, false,
                                  &rs->chains[ch], err) < 0) {
            restrict_free(rs);
            return NULL;
        }
    }
    sb_init(&rerr, RESTRICT_TEXT_MAX);
    rs->route = route_open(service_conf, &rerr);
    if (rs->route == NULL) {
        (void)sb_printf(err, "address routing: %s", sb_str(&rerr));
        restrict_free(rs);
        rs = NULL;
    }
    sb_release(&rerr);
    return rs;
}

/* restrict_free - release everything compile made. */
void restrict_free(restrict_set *rs)
{
    if (rs == NULL)
        return;
    for (int ch = 0; ch < CH_N; ch++)
        restrict_list_free(&rs->chains[ch]);
    restrict_net_free(rs);
    maplist_close(rs->local_maps);
    maplist_close(rs->valias);
    maplist_close(rs->vmailbox);
    maplist_close(rs->relay_rcpt);
    maplist_close(rs->login_maps);
    route_close(rs->route);
    free(rs->delims);
    free(rs->null_key);
    free(rs->double_bounce);
    free(rs);
}

/* ---- Sessions and verdicts ---- */

restrict_session *restrict_session_new(restrict_set *rs)
{
    restrict_session *ss = xcalloc(1, sizeof(*ss));

    ss->rs = rs;
    sb_init(&ss->dip.reason, RESTRICT_TEXT_MAX);
    return ss;
}

/* restrict_session_reset - forget the message's HOLD/DISCARD. */
void restrict_session_reset(restrict_session *ss)
{
    ss->hold = ss->discard = false;
    ss->dip_sender = false;
}

void restrict_session_free(restrict_session *ss)
{
    if (ss == NULL)
        return;
    sb_release(&ss->dip.reason);
    free(ss);
}

void restrict_verdict_init(struct restrict_verdict *v)
{
    memset(v, 0, sizeof(*v));
    sb_init(&v->reply, RESTRICT_TEXT_MAX);
    sb_init(&v->prepend, RESTRICT_TEXT_MAX * 4);
    sb_init(&v->filter, RESTRICT_TEXT_MAX);
    sb_init(&v->redirect, RESTRICT_TEXT_MAX);
    sb_init(&v->bcc, RESTRICT_TEXT_MAX * 4);
    sb_init(&v->log, RESTRICT_TEXT_MAX * 8);
}

void restrict_verdict_release(struct restrict_verdict *v)
{
    sb_release(&v->reply);
    sb_release(&v->prepend);
    sb_release(&v->filter);
    sb_release(&v->redirect);
    sb_release(&v->bcc);
    sb_release(&v->log);
}

/* verdict_reset - empty a verdict for a new check. */
static void verdict_reset(struct restrict_verdict *v)
{
    v->action = RESTRICT_DUNNO;
    v->disconnect = v->hold = v->discard = false;
    sb_reset(&v->reply);
    sb_reset(&v->prepend);
    sb_reset(&v->filter);
    sb_reset(&v->redirect);
    sb_reset(&v->bcc);
    sb_reset(&v->log);
}

/* ---- Stage drivers (Postfix's smtpd_check_*) ---- */

/* run_chain - one list with its reply name and class; Postfix's RESET. */
static enum restrict_result run_chain(struct rctx *x, enum restrict_chain ch,
                                      const char *reply_name)
{
    x->chain = ch;
    x->reply_name = reply_name;
    x->reply_class = chain_defs[ch].rclass;
    x->recursion = 0;
    x->warn = 0;
    x->dir.active = false;
    return restrict_run_list(x, &x->rs->chains[ch]);
}

/* apply_dip - a pending DEFER_IF_PERMIT turns a non-reject into 4xx. */
static enum restrict_result apply_dip(struct rctx *x, enum restrict_result s)
{
    if (s == R_REJECT || s == R_DEFER || !x->ss->dip.active)
        return s;
    return restrict_reject(x, EC_POLICY, x->ss->dip.code, x->ss->dip.dsn,
                           "%s", sb_str(&x->ss->dip.reason));
}

/* check_client - smtpd_client_restrictions. */
static enum restrict_result check_client(struct rctx *x)
{
    enum restrict_result s;

    x->ss->dip.active = false;
    s = run_chain(x, CH_CLIENT, sb_str(&x->namaddr));
    x->ss->dip_client = x->ss->dip.active;
    return s;
}

/* check_helo - smtpd_helo_restrictions. */
static enum restrict_result check_helo(struct rctx *x)
{
    enum restrict_result s;

    if (x->helo == NULL)
        return R_DUNNO;
    x->ss->dip.active = x->ss->dip_client;
    s = run_chain(x, CH_HELO, x->helo);
    x->ss->dip_helo = x->ss->dip.active;
    return s;
}

/* keep_ok - a list's OK stands unless the implicit check refuses. */
static enum restrict_result keep_ok(enum restrict_result list,
                                    enum restrict_result implicit)
{
    return implicit == R_DUNNO ? list : implicit;
}

/* check_mail - smtpd_sender_restrictions, then implicit unlisted sender. */
static enum restrict_result check_mail(struct rctx *x)
{
    enum restrict_result s;

    if (x->sender == NULL)
        return R_DUNNO;
    x->ss->dip.active = x->ss->dip_client || x->ss->dip_helo;
    x->sender_checked = false;
    s = run_chain(x, CH_SENDER, sb_str(&x->qsender));
    x->ss->dip_sender = x->ss->dip.active;
    if (x->rs->unlisted_sender && s != R_REJECT && s != R_DEFER && !x->stop
        && !x->sender_checked && !x->ss->discard && *x->sender)
        s = keep_ok(s, restrict_rcpt_maps(x, x->sender, true));
    return s;
}

/* blocks - a result that ends the command. */
static bool blocks(enum restrict_result s)
{
    return s == R_REJECT || s == R_DEFER;
}

/* check_rcpt - RCPT and VRFY: delayed lists, relay, recipient, unlisted. */
static enum restrict_result check_rcpt(struct rctx *x)
{
    enum restrict_result s = R_DUNNO;

    if (x->recipient == NULL || strcasecmp(x->recipient, "postmaster") == 0)
        return R_DUNNO;
    if (x->rs->delay_reject
        && (blocks(s = check_client(x)) || x->stop
            || blocks(s = check_helo(x)) || x->stop
            || blocks(s = check_mail(x)) || x->stop))
        return s;
    x->ss->dip.active = x->ss->dip_sender;
    x->rcpt_checked = false;
    s = run_chain(x, CH_RELAY, sb_str(&x->qrcpt));
    if (!blocks(s) && !x->stop)
        s = run_chain(x, CH_RECIPIENT, sb_str(&x->qrcpt));
    if (x->stop)
        return s;
    s = apply_dip(x, s);
    if (x->rs->unlisted_rcpt && !blocks(s) && !x->rcpt_checked
        && !x->ss->discard)
        s = keep_ok(s, restrict_rcpt_maps(x, x->recipient, false));
    return s;
}

/* check_etrn - ETRN: delayed client and HELO lists, then the ETRN list. */
static enum restrict_result check_etrn(struct rctx *x)
{
    enum restrict_result s = R_DUNNO;

    if (x->rs->delay_reject
        && (blocks(s = check_client(x)) || x->stop
            || blocks(s = check_helo(x)) || x->stop))
        return s;
    x->ss->dip.active = x->ss->dip_client || x->ss->dip_helo;
    s = run_chain(x, CH_ETRN, x->st->etrn_domain ? x->st->etrn_domain : "");
    return x->stop ? s : apply_dip(x, s);
}

/* check_data - DATA and end of data (recipient shown only if just one). */
static enum restrict_result check_data(struct rctx *x, enum restrict_chain ch)
{
    enum restrict_result s;

    if (x->st->rcpt_count > 1)
        x->recipient = NULL;
    x->ss->dip.active = false;
    s = run_chain(x, ch, ch == CH_DATA ? "DATA" : "END-OF-MESSAGE");
    return x->stop ? s : apply_dip(x, s);
}

/* helo_missing - smtpd_helo_required at MAIL (Postfix's mail_cmd). */
static enum restrict_result helo_missing(struct rctx *x)
{
    (void)sb_set(&x->v->reply, "503 5.5.1 Error: send HELO/EHLO first");
    return R_REJECT;
}

/* run_stage - dispatch one stage. */
static enum restrict_result run_stage(struct rctx *x)
{
    bool now = !x->rs->delay_reject;

    switch (x->stage) {
    case RS_CONNECT:
        return now ? check_client(x) : R_DUNNO;
    case RS_HELO:
        return now ? check_helo(x) : R_DUNNO;
    case RS_MAIL:
        if (x->rs->helo_required && x->helo == NULL)
            return helo_missing(x);
        return now ? check_mail(x) : R_DUNNO;
    case RS_RCPT:
    case RS_VRFY:
        return check_rcpt(x);
    case RS_ETRN:
        return check_etrn(x);
    case RS_DATA:
        return check_data(x, CH_DATA);
    case RS_EOD:
        return check_data(x, CH_EOD);
    }
    return R_DUNNO;
}

/* Log "where" of each stage. */
static const char *const stage_where[] = {
    [RS_CONNECT] = "CONNECT", [RS_HELO] = "HELO", [RS_MAIL] = "MAIL",
    [RS_RCPT] = "RCPT", [RS_DATA] = "DATA", [RS_EOD] = "END-OF-MESSAGE",
    [RS_ETRN] = "ETRN", [RS_VRFY] = "VRFY",
};

/* ctx_init - the context of one check. */
static void ctx_init(struct rctx *x, restrict_session *ss,
                     enum restrict_stage stage,
                     const struct restrict_state *st,
                     struct restrict_verdict *v)
{
    memset(x, 0, sizeof(*x));
    x->ss = ss;
    x->rs = ss->rs;
    x->st = st;
    x->v = v;
    x->stage = stage;
    x->where = stage == RS_HELO && st->esmtp ? "EHLO" : stage_where[stage];
    x->helo = st->helo;
    x->sender = st->sender;
    x->recipient = stage >= RS_RCPT && stage != RS_ETRN ? st->recipient
        : NULL;
    sb_init(&x->dir.reason, RESTRICT_TEXT_MAX);
    sb_init(&x->namaddr, RESTRICT_TEXT_MAX);
    sb_init(&x->qsender, RESTRICT_TEXT_MAX);
    sb_init(&x->qrcpt, RESTRICT_TEXT_MAX);
    (void)sb_printf(&x->namaddr, "%s[%s]",
                    st->client_name ? st->client_name : "unknown",
                    st->client_addr ? st->client_addr : "unknown");
    if (x->sender)
        (void)restrict_quote(&x->qsender, x->sender);
    if (x->recipient)
        (void)restrict_quote(&x->qrcpt, x->recipient);
}

/* ctx_release - free the context's buffers. */
static void ctx_release(struct rctx *x)
{
    sb_release(&x->dir.reason);
    sb_release(&x->namaddr);
    sb_release(&x->qsender);
    sb_release(&x->qrcpt);
}

/* restrict_check - see smtpd_check.h. */
enum restrict_action restrict_check(restrict_session *ss,
                                    enum restrict_stage stage,
                                    const struct restrict_state *st,
                                    struct restrict_verdict *v)
{
    enum restrict_result s;
    struct rctx x;

    verdict_reset(v);
    if ((unsigned)stage > RS_VRFY)
        msg_panic("restrict_check: bad stage %d", (int)stage);
    ctx_init(&x, ss, stage, st, v);
    s = run_stage(&x);
    ctx_release(&x);
    switch (s) {
    case R_REJECT:
    case R_DEFER:
        v->action = v->reply.data[0] == '4' ? RESTRICT_DEFER : RESTRICT_REJECT;
        v->disconnect = strncmp(sb_str(&v->reply), "421", 3) == 0
            || strncmp(sb_str(&v->reply), "521", 3) == 0;
        break;
    case R_OK:
        v->action = RESTRICT_OK;
        break;
    case R_DUNNO:
        v->action = RESTRICT_DUNNO;
        break;
    }
    return v->action;
}
