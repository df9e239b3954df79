/*
 * smtpd_access - check_client_access, check_helo_access,
 * check_sender_access, check_recipient_access and the access(5) actions
 * a table (or later a policy server) answers with.
 *
 * Key orders are access(5)'s (maps.h): a client by host name (and its
 * parent domains), then by address; a HELO name by name and parents; an
 * address by user+ext@domain, user@domain, domain, parents, user+ext@,
 * user@; the null sender by smtpd_null_access_lookup_key. The first key
 * found decides, even if its action is DUNNO. Actions are matched without
 * regard to case. A value that is not an action is a list of restriction
 * names, resolved and run with the same engine (at most
 * RESTRICT_DEPTH_MAX levels deep); a table inside a table value, an
 * unknown name or too deep a nesting is "451 4.3.5 Server configuration
 * error", logged with the table and the value, never a permit.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "common/msg.h"
#include "smtpd/smtpd_check_int.h"

/* An access(5) value split into its action word and its text. */
struct action {
    const char *value;          /* the whole value */
    const char *word;           /* the action word (not NUL-terminated) */
    size_t wlen;
    const char *text;           /* after the word and white space */
    const char *table;          /* the table that answered */
};

typedef enum restrict_result (*action_fn)(struct rctx *x,
                                          const struct action *a);

/* dsn_split - a leading "D.D.D " of text, else dflt; *rest after it. */
static void dsn_split(const char *text, const char *dflt, char dsn[16],
                      const char **rest)
{
    size_t n = 0;
    int dots = 0;

    while (n < 12 && (isdigit((unsigned char)text[n]) || text[n] == '.'))
        dots += text[n++] == '.';
    if (n >= 5 && dots == 2 && (text[0] == '4' || text[0] == '5')
        && text[1] == '.' && text[n - 1] != '.'
        && (text[n] == '\0' || text[n] == ' ' || text[n] == '\t')) {
        (void)fmt_fixed(dsn, 16, "%.*s", (int)n, text);
        text += n;
        while (*text == ' ' || *text == '\t')
            text++;
    } else {
        (void)fmt_fixed(dsn, 16, "%s", dflt);
    }
    *rest = text;
}

/* refuse - REJECT, DEFER and NNN with the access reply shape. */
static enum restrict_result refuse(struct rctx *x, const struct action *a,
                                   int code, const char *dflt_dsn)
{
    const char *text;
    char dsn[16];

    dsn_split(a->text, dflt_dsn, dsn, &text);
    return restrict_reject(x, EC_POLICY, code, dsn, "<%s>: %s rejected: %s",
                           x->reply_name, x->reply_class,
                           *text ? text : "Access denied");
}

static enum restrict_result act_ok(struct rctx *x, const struct action *a)
{
    (void)x;
    (void)a;
    return R_OK;
}

static enum restrict_result act_dunno(struct rctx *x, const struct action *a)
{
    (void)x;
    (void)a;
    return R_DUNNO;
}

static enum restrict_result act_reject(struct rctx *x, const struct action *a)
{
    return refuse(x, a, x->rs->code_map_reject, "5.7.1");
}

static enum restrict_result act_defer(struct rctx *x, const struct action *a)
{
    return refuse(x, a, x->rs->code_map_defer, "4.7.1");
}

/* act_defer_if - DEFER_IF_PERMIT (permit=true) and DEFER_IF_REJECT. */
static enum restrict_result defer_if(struct rctx *x, const struct action *a,
                                     bool permit)
{
    const char *text;
    char dsn[16];

    dsn_split(a->text, "4.7.1", dsn, &text);
    if (!*text)
        text = "Service unavailable";
    if (permit && x->warn != 0)
        return restrict_reject(x, EC_POLICY, x->rs->code_map_defer, dsn,
                               "<%s>: %s rejected: %s", x->reply_name,
                               x->reply_class, text);
    return restrict_defer_if(permit ? &x->ss->dip : &x->dir,
                             x->rs->code_map_defer, dsn,
                             "<%s>: %s rejected: %s", x->reply_name,
                             x->reply_class, text);
}

static enum restrict_result act_dip(struct rctx *x, const struct action *a)
{
    return defer_if(x, a, true);
}

static enum restrict_result act_dir(struct rctx *x, const struct action *a)
{
    return defer_if(x, a, false);
}

static enum restrict_result act_hold(struct rctx *x, const struct action *a)
{
    if (x->ss->hold)
        return R_DUNNO;
    restrict_log(x, "hold", "<%s>: %s %s", x->reply_name, x->reply_class,
                 *a->text ? a->text : "triggers HOLD action");
    x->ss->hold = x->v->hold = true;
    return R_DUNNO;
}

/* act_discard - DISCARD also means permit, and ends further checks. */
static enum restrict_result act_discard(struct rctx *x, const struct action *a)
{
    restrict_log(x, "discard", "<%s>: %s %s", x->reply_name, x->reply_class,
                 *a->text ? a->text : "triggers DISCARD action");
    x->ss->discard = x->v->discard = true;
    return R_OK;
}

static enum restrict_result act_warn(struct rctx *x, const struct action *a)
{
    restrict_log(x, "warn", "%s", a->text);
    return R_DUNNO;
}

static enum restrict_result act_info(struct rctx *x, const struct action *a)
{
    restrict_log(x, "info", "%s", a->text);
    return R_DUNNO;
}

/* is_header - "Name: value" with a printable, colon-free, space-free name. */
static bool is_header(const char *s)
{
    size_t n = 0;

    while (s[n] > ' ' && s[n] < 0x7f && s[n] != ':')
        n++;
    return n > 0 && s[n] == ':';
}

static enum restrict_result act_prepend(struct rctx *x, const struct action *a)
{
    if (x->stage == RS_EOD) {
        msg_warn("access table %s: action PREPEND must be used before"
                 " smtpd_end_of_data_restrictions", a->table);
        return R_DUNNO;
    }
    if (!is_header(a->text)) {
        msg_warn("access table %s entry \"%s\" requires header: text",
                 a->table, a->value);
        return R_DUNNO;
    }
    if (sb_printf(&x->v->prepend, "%s\n", a->text) < 0)
        msg_warn("access table %s: too many PREPEND headers", a->table);
    return R_DUNNO;
}

/* redirect - FILTER, REDIRECT, BCC: check, log, keep for smtpd. */
static enum restrict_result redirect(struct rctx *x, const struct action *a,
                                     const char *what, int need, strbuf *dst,
                                     bool add)
{
    if (strchr(a->text, need) == NULL) {
        msg_warn("access table %s entry \"%s\" requires %s", a->table,
                 a->value, need == ':' ? "transport:destination"
                 : "user@domain target");
        return R_DUNNO;
    }
    restrict_log(x, what, "<%s>: %s triggers %.*s %s", x->reply_name,
                 x->reply_class, (int)a->wlen, a->word, a->text);
    if (!add)
        sb_reset(dst);
    if (sb_printf(dst, add ? "%s\n" : "%s", a->text) < 0)
        msg_warn("access table %s: %s target too long", a->table, what);
    return R_DUNNO;
}

static enum restrict_result act_filter(struct rctx *x, const struct action *a)
{
    return redirect(x, a, "filter", ':', &x->v->filter, false);
}

static enum restrict_result act_redirect(struct rctx *x,
                                         const struct action *a)
{
    return redirect(x, a, "redirect", '@', &x->v->redirect, false);
}

static enum restrict_result act_bcc(struct rctx *x, const struct action *a)
{
    return redirect(x, a, "bcc", '@', &x->v->bcc, true);
}

/* The action words of access(5). */
static const struct action_def {
    const char *word;
    action_fn fn;
} actions[] = {
    {"OK", act_ok}, {"RELAY", act_ok}, {"DUNNO", act_dunno},
    {"REJECT", act_reject}, {"DEFER", act_defer},
    {"DEFER_IF_PERMIT", act_dip}, {"DEFER_IF_REJECT", act_dir},
    {"HOLD", act_hold}, {"DISCARD", act_discard}, {"WARN", act_warn},
    {"INFO", act_info}, {"PREPEND", act_prepend}, {"FILTER", act_filter},
    {"REDIRECT", act_redirect}, {"BCC", act_bcc},
};

/* numeric_code - "4NN"/"5NN" with text: the code, else 0. */
static int numeric_code(const struct action *a)
{
    const char *w = a->word;

    if (a->wlen != 3 || *a->text == '\0' || (w[0] != '4' && w[0] != '5')
        || !isdigit((unsigned char)w[1]) || !isdigit((unsigned char)w[2]))
        return 0;
    return (w[0] - '0') * 100 + (w[1] - '0') * 10 + (w[2] - '0');
}

/* all_digits - Postfix takes an all-numeric value as OK. */
static bool all_digits(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* nested - a value that names restrictions: compile and run them. */
static enum restrict_result nested(struct rctx *x, const struct action *a)
{
    struct restrict_list l = {NULL, 0};
    enum restrict_result res;
    strbuf err;

    if (x->recursion > RESTRICT_DEPTH_MAX) {
        msg_warn("access table %s entry \"%s\" causes unreasonable"
                 " recursion", a->table, a->value);
        return restrict_server_error(x);
    }
    sb_init(&err, RESTRICT_TEXT_MAX);
    if (restrict_compile_list(x->rs, "value", a->value, x->chain, true, &l,
                              &err) < 0) {
        msg_warn("access table %s entry \"%s\": %s", a->table, a->value,
                 sb_str(&err));
        res = restrict_server_error(x);
    } else if (l.n == 0) {
        msg_warn("access table %s has an empty value", a->table);
        res = R_OK;
    } else {
        res = restrict_run_list(x, &l);
    }
    restrict_list_free(&l);
    sb_release(&err);
    return res;
}

/* restrict_access_action - see smtpd_check_int.h. */
enum restrict_result restrict_access_action(struct rctx *x, const char *value,
                                            const char *table)
{
    struct action a = {.value = value, .word = value, .table = table};
    int code;

    a.wlen = strcspn(value, " \t");
    a.text = value + a.wlen + strspn(value + a.wlen, " \t");
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if (strlen(actions[i].word) == a.wlen
            && strncasecmp(actions[i].word, value, a.wlen) == 0)
            return actions[i].fn(x, &a);
    if (all_digits(value))
        return R_OK;
    if ((code = numeric_code(&a)) != 0) {
        char dflt[8];

        (void)fmt_fixed(dflt, sizeof(dflt), "%c.7.1", a.word[0]);
        return refuse(x, &a, code, dflt);
    }
    if (strchr(value, ':') != NULL) {
        msg_warn("access table %s has entry with lookup table: %s", table,
                 value);
        return restrict_server_error(x);
    }
    return nested(x, &a);
}

/* ---- The checks ---- */

/* lookup - look input up in r's tables; applies the action if found. */
static enum restrict_result lookup(struct rctx *x, const struct restrict_rule *r,
                                   const char *input,
                                   const struct map_keyopts *o, bool *found)
{
    struct map_match m = {NULL, NULL};
    enum restrict_result res;
    strbuf val;
    int rv;

    *found = false;
    sb_init(&val, MAP_LINE_MAX);
    rv = maplist_lookup_order(r->maps, input, o, &val, &m);
    if (rv == MAP_ERROR) {
        res = restrict_tempfail(x, x->reply_name);
    } else if (rv == MAP_FOUND) {
        *found = true;
        res = restrict_access_action(x, sb_str(&val), m.table
                                     ? map_spec(m.table) : r->arg);
    } else {
        res = R_DUNNO;
    }
    sb_release(&val);
    return res;
}

/* with_subject - run lookup under the reply name/class of the check. */
static enum restrict_result with_subject(struct rctx *x,
                                         const struct restrict_rule *r,
                                         const char *input,
                                         const struct map_keyopts *o,
                                         const char *name, const char *cls,
                                         bool *found)
{
    const char *saved_name = x->reply_name, *saved_cls = x->reply_class;
    enum restrict_result res;

    x->reply_name = name;
    x->reply_class = cls;
    res = lookup(x, r, input, o, found);
    x->reply_name = saved_name;
    x->reply_class = saved_cls;
    return res;
}

enum restrict_result restrict_check_client_access(struct rctx *x,
                                                  const struct restrict_rule *r)
{
    struct map_keyopts host = {.order = MAP_KEYS_DOMAIN,
                               .parent_matches = x->rs->access_parent};
    struct map_keyopts ip = {.order = MAP_KEYS_CLIENT};
    const char *name = x->st->client_name, *addr = x->st->client_addr;
    enum restrict_result res = R_DUNNO;
    bool found = false;

    if (name && *name && strcasecmp(name, "unknown") != 0)
        res = with_subject(x, r, name, &host, sb_str(&x->namaddr),
                           "Client host", &found);
    if (!found && !x->stop && addr && *addr)
        res = with_subject(x, r, addr, &ip, sb_str(&x->namaddr),
                           "Client host", &found);
    return res;
}

enum restrict_result restrict_check_helo_access(struct rctx *x,
                                                const struct restrict_rule *r)
{
    struct map_keyopts o = {.order = MAP_KEYS_DOMAIN,
                            .parent_matches = x->rs->access_parent};
    bool found;

    if (x->helo == NULL || *x->helo == '\0')
        return R_DUNNO;
    return with_subject(x, r, x->helo, &o, x->helo, "Helo command", &found);
}

/* address_access - sender or recipient keys (the null sender by key). */
static enum restrict_result address_access(struct rctx *x,
                                           const struct restrict_rule *r,
                                           const char *addr, const char *shown,
                                           const char *cls)
{
    struct map_keyopts o = {.order = MAP_KEYS_ACCESS,
                            .delimiters = x->rs->delims,
                            .parent_matches = x->rs->access_parent};
    bool found;

    if (*addr == '\0') {
        o.order = MAP_KEYS_FULL;
        addr = x->rs->null_key;
        if (*addr == '\0')
            return R_DUNNO;
    }
    return with_subject(x, r, addr, &o, shown, cls, &found);
}

enum restrict_result restrict_check_sender_access(struct rctx *x,
                                                  const struct restrict_rule *r)
{
    if (x->sender == NULL)
        return R_DUNNO;
    return address_access(x, r, x->sender, sb_str(&x->qsender),
                          "Sender address");
}

enum restrict_result restrict_check_rcpt_access(struct rctx *x,
                                                const struct restrict_rule *r)
{
    if (x->recipient == NULL || *x->recipient == '\0')
        return R_DUNNO;
    return address_access(x, r, x->recipient, sb_str(&x->qrcpt),
                          "Recipient address");
}
