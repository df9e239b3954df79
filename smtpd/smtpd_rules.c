/*
 * smtpd_rules - the restriction names tern knows, resolved once at compile
 * ({name, fn, needs, arg}), and the restrictions that are not table
 * checks: permit/reject/defer, DEFER_IF_*, pipelining, mynetworks, SASL,
 * relay control, unlisted users, FQDN and HELO syntax, sender login.
 *
 * Replies, codes and DSNs are Postfix's (smtpd_check.c semantics; see
 * docs/restrictions.md). Relay control: the domain that counts is the one
 * after the LAST '@' of the recipient once smtpd has stripped a source
 * route; '%' and '!' never route anything, so "user%other@ourdomain" is
 * the local part "user%other" of ourdomain. A relay_domains recipient
 * whose local part still holds '@', '%' or '!' is not authorised (another
 * host might route it), unless allow_untrusted_routing = yes.
 * Every lookup error ends the check with 451 4.3.0.
 */
#include <ctype.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"
#include "smtpd/smtpd_check_int.h"

#define PW_BUF_MAX 16384

/* ---- Generic restrictions ---- */

static enum restrict_result fn_permit(struct rctx *x,
                                      const struct restrict_rule *r)
{
    (void)x;
    (void)r;
    return R_OK;
}

static enum restrict_result fn_reject(struct rctx *x,
                                      const struct restrict_rule *r)
{
    (void)r;
    return restrict_reject(x, EC_POLICY, x->rs->code_reject, "5.7.1",
                           "<%s>: %s rejected: Access denied", x->reply_name,
                           x->reply_class);
}

static enum restrict_result fn_defer(struct rctx *x,
                                     const struct restrict_rule *r)
{
    (void)r;
    return restrict_reject(x, EC_POLICY, x->rs->code_defer, "4.3.2",
                           "<%s>: %s rejected: Try again later", x->reply_name,
                           x->reply_class);
}

/* fn_warn_if_reject - handled by restrict_run_list; never called. */
static enum restrict_result fn_warn_if_reject(struct rctx *x,
                                              const struct restrict_rule *r)
{
    (void)x;
    (void)r;
    return R_DUNNO;
}

/* fn_defer_if_permit - under warn_if_reject it is a plain (warned) defer. */
static enum restrict_result fn_defer_if_permit(struct rctx *x,
                                               const struct restrict_rule *r)
{
    (void)r;
    if (x->warn != 0)
        return restrict_reject(x, EC_POLICY, 450, "4.7.0",
                               "<%s>: %s rejected: defer_if_permit requested",
                               x->reply_name, x->reply_class);
    return restrict_defer_if(&x->ss->dip, 450, "4.7.0",
                             "<%s>: %s rejected: defer_if_permit requested",
                             x->reply_name, x->reply_class);
}

static enum restrict_result fn_defer_if_reject(struct rctx *x,
                                               const struct restrict_rule *r)
{
    (void)r;
    return restrict_defer_if(&x->dir, 450, "4.7.0",
                             "<%s>: %s rejected: defer_if_reject requested",
                             x->reply_name, x->reply_class);
}

static enum restrict_result fn_pipelining(struct rctx *x,
                                          const struct restrict_rule *r)
{
    (void)r;
    if (!x->st->pipelining_violation)
        return R_DUNNO;
    return restrict_reject(x, EC_POLICY, 503, "5.5.0", "<%s>: %s rejected:"
                           " Improper use of SMTP command pipelining",
                           x->reply_name, x->reply_class);
}

static enum restrict_result fn_mynetworks(struct rctx *x,
                                          const struct restrict_rule *r)
{
    int m = restrict_net_match(x->rs, x->st->client_name, x->st->client_addr);

    (void)r;
    if (m < 0)
        return restrict_tempfail(x, sb_str(&x->namaddr));
    return m ? R_OK : R_DUNNO;
}

static enum restrict_result fn_sasl(struct rctx *x,
                                    const struct restrict_rule *r)
{
    (void)r;
    return x->st->sasl_username && *x->st->sasl_username ? R_OK : R_DUNNO;
}

static enum restrict_result fn_mulrcpt(struct rctx *x,
                                       const struct restrict_rule *r)
{
    unsigned before = x->stage == RS_RCPT ? 0 : 1;

    (void)r;
    if (x->sender == NULL || *x->sender || x->st->rcpt_count <= before)
        return R_DUNNO;
    return restrict_reject(x, EC_POLICY, x->rs->code_mulrcpt, "5.5.3",
                           "<%s>: %s rejected: Multi-recipient bounce",
                           x->reply_name, x->reply_class);
}

/* ---- Relay control ---- */

/* routed_local - a local part another host could still route. */
static bool routed_local(const char *addr)
{
    const char *at = strrchr(addr, '@');
    size_t n = at ? (size_t)(at - addr) : strlen(addr);

    for (size_t i = 0; i < n; i++)
        if (addr[i] == '@' || addr[i] == '%' || addr[i] == '!')
            return true;
    return false;
}

/* auth_destination - 1 we take mail for it, 0 relaying, -1 lookup error. */
static int auth_destination(struct rctx *x)
{
    struct route_result r;
    int rv = 0;

    route_result_init(&r);
    switch (route_resolve(x->rs->route, x->recipient,
                          x->sender ? x->sender : "", &r)) {
    case ROUTE_TEMPFAIL:
        rv = -1;
        break;
    case ROUTE_BADADDR:
        rv = 0;
        break;
    case ROUTE_OK:
    case ROUTE_CONFIG:
        rv = r.rclass == ROUTE_CLASS_LOCAL || r.rclass == ROUTE_CLASS_ALIAS
            || r.rclass == ROUTE_CLASS_VIRTUAL
            || (r.rclass == ROUTE_CLASS_RELAY
                && (x->rs->untrusted_routing || !routed_local(x->recipient)));
        break;
    }
    route_result_release(&r);
    return rv;
}

/* unauth - reject/defer_unauth_destination with code and DSN. */
static enum restrict_result unauth(struct rctx *x, int code, const char *dsn)
{
    int a;

    if (x->recipient == NULL || (a = auth_destination(x)) == 1)
        return R_DUNNO;
    if (a < 0)
        return restrict_tempfail(x, sb_str(&x->qrcpt));
    return restrict_reject(x, EC_POLICY, code, dsn, "<%s>: Relay access denied",
                           sb_str(&x->qrcpt));
}

static enum restrict_result fn_reject_unauth(struct rctx *x,
                                             const struct restrict_rule *r)
{
    (void)r;
    return unauth(x, x->rs->code_relay, "5.7.1");
}

static enum restrict_result fn_defer_unauth(struct rctx *x,
                                            const struct restrict_rule *r)
{
    (void)r;
    return unauth(x, x->rs->code_defer, "4.7.1");
}

static enum restrict_result fn_permit_auth(struct rctx *x,
                                           const struct restrict_rule *r)
{
    int a;

    (void)r;
    if (x->recipient == NULL)
        return R_DUNNO;
    if ((a = auth_destination(x)) < 0)
        return restrict_tempfail(x, sb_str(&x->qrcpt));
    return a ? R_OK : R_DUNNO;
}

/* ---- Unlisted users ---- */

/* passwd_user - 1 when a key without '@' names a UNIX account, else 0. */
static int passwd_user(const char *key)
{
    struct passwd pw, *res = NULL;
    char *buf;
    int found;

    if (*key == '\0' || strchr(key, '@') != NULL || strlen(key) > 256)
        return 0;
    buf = xmalloc(PW_BUF_MAX);
    found = getpwnam_r(key, &pw, buf, PW_BUF_MAX, &res) == 0 && res != NULL;
    free(buf);
    return found;
}

/* find_user - look addr up in ml (and passwd): 1 found, 0 not, -1 error. */
static int find_user(restrict_set *rs, maplist *ml, bool passwd,
                     const char *addr, bool local)
{
    struct map_keyopts o = {.order = MAP_KEYS_VIRTUAL, .delimiters =
                            rs->delims, .local_domain = local};
    map_keys keys = {0, NULL};
    strbuf val;
    int rv = 0;

    if (map_keys_make(addr, &o, &keys) < 0)
        return 0;
    sb_init(&val, MAP_LINE_MAX);
    if (ml != NULL) {
        int m = maplist_lookup_keys(ml, &keys, &val, NULL);

        rv = m == MAP_FOUND ? 1 : m == MAP_ERROR ? -1 : 0;
    }
    for (size_t i = 0; rv == 0 && passwd && i < keys.n; i++) {
        for (char *p = keys.v[i].key; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        rv = passwd_user(keys.v[i].key);
    }
    sb_release(&val);
    map_keys_free(&keys);
    return rv;
}

/* local_exempt - postmaster, mailer-daemon and double_bounce_sender. */
static bool local_exempt(const restrict_set *rs, const char *addr)
{
    const char *names[] = {"postmaster", "mailer-daemon", rs->double_bounce};
    const char *at = strrchr(addr, '@');
    size_t n = at ? (size_t)(at - addr) : strlen(addr);

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == n && strncasecmp(addr, names[i], n) == 0)
            return true;
    return false;
}

/* unknown - the 5.1.1 (recipient) / 5.1.0 (sender) "User unknown" reply. */
static enum restrict_result unknown(struct rctx *x, bool is_sender, int code,
                                    const char *table, const char *shown)
{
    bool show = x->rs->show_table || strcmp(table, "virtual alias") == 0;

    return restrict_reject(x, EC_BOUNCE, code, is_sender ? "5.1.0" : "5.1.1",
                           "<%s>: %s rejected: User unknown%s%s%s", shown,
                           is_sender ? "Sender address" : "Recipient address",
                           show ? " in " : "", show ? table : "",
                           show ? " table" : "");
}

/* unknown_as - a find_user() result, "not found" becoming code. */
static int unknown_as(int found, int code)
{
    return found == 0 ? code : found;
}

/* restrict_rcpt_maps - Postfix's check_rcpt_maps for either address. */
enum restrict_result restrict_rcpt_maps(struct rctx *x, const char *addr,
                                        bool is_sender)
{
    restrict_set *rs = x->rs;
    struct route_result r;
    enum restrict_result res = R_DUNNO;
    strbuf shown;
    int f = 0;

    sb_init(&shown, RESTRICT_TEXT_MAX);
    (void)restrict_quote(&shown, addr);
    route_result_init(&r);
    switch (route_resolve(rs->route, addr, is_sender ? "" : x->sender, &r)) {
    case ROUTE_TEMPFAIL:
        res = restrict_tempfail(x, sb_str(&shown));
        break;
    case ROUTE_BADADDR:
        break;
    case ROUTE_OK:
    case ROUTE_CONFIG: {
        const char *full = sb_str(&r.address);
        bool local = r.rclass == ROUTE_CLASS_LOCAL;

        if (rs->valias && (f = find_user(rs, rs->valias, false, full,
                                         local)) != 0)
            ;                           /* an alias: known, or an error */
        else if (local && rs->local_check && !local_exempt(rs, full))
            f = unknown_as(find_user(rs, rs->local_maps, rs->local_passwd,
                                     full, true), 2);
        else if (r.rclass == ROUTE_CLASS_ALIAS)
            f = 3;
        else if (r.rclass == ROUTE_CLASS_VIRTUAL && rs->vmailbox)
            f = unknown_as(find_user(rs, rs->vmailbox, false, full, false), 4);
        else if (r.rclass == ROUTE_CLASS_RELAY && rs->relay_rcpt)
            f = unknown_as(find_user(rs, rs->relay_rcpt, false, full, false),
                           5);
        break;
    }
    }
    if (f < 0)
        res = restrict_tempfail(x, sb_str(&shown));
    else if (f == 2)
        res = unknown(x, is_sender, rs->code_local, "local recipient",
                      sb_str(&shown));
    else if (f == 3)
        res = unknown(x, is_sender, rs->code_valias, "virtual alias",
                      sb_str(&shown));
    else if (f == 4)
        res = unknown(x, is_sender, rs->code_vmailbox, "virtual mailbox",
                      sb_str(&shown));
    else if (f == 5)
        res = unknown(x, is_sender, rs->code_relay_rcpt, "relay recipient",
                      sb_str(&shown));
    route_result_release(&r);
    sb_release(&shown);
    return res;
}

static enum restrict_result fn_unlisted_rcpt(struct rctx *x,
                                             const struct restrict_rule *r)
{
    (void)r;
    if (x->recipient == NULL || *x->recipient == '\0' || x->rcpt_checked)
        return R_DUNNO;
    if (x->warn == 0)
        x->rcpt_checked = true;
    return restrict_rcpt_maps(x, x->recipient, false);
}

static enum restrict_result fn_unlisted_sender(struct rctx *x,
                                               const struct restrict_rule *r)
{
    (void)r;
    if (x->sender == NULL || *x->sender == '\0' || x->sender_checked)
        return R_DUNNO;
    if (x->warn == 0)
        x->sender_checked = true;
    return restrict_rcpt_maps(x, x->sender, true);
}

/* ---- Host name and address syntax ---- */

/* valid_hostname - labels of letters, digits, '-', '_', no '-' at ends,
 * at most 255 octets; one trailing dot allowed (as Postfix's
 * dup_if_truncate); an all-numeric name is not a host name. */
static bool valid_hostname(const char *name, bool *fqdn)
{
    size_t len = strlen(name), label = 0;
    bool digits_only = true;

    if (len > 1 && name[len - 1] == '.' && name[len - 2] != '.')
        len--;
    *fqdn = false;
    if (len == 0 || len > 255)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];

        if (c == '.') {
            if (label == 0 || name[i - 1] == '-')
                return false;
            *fqdn = true;
            label = 0;
            continue;
        }
        if (!isalnum(c) && c != '-' && c != '_')
            return false;
        if ((c == '-' && label == 0) || ++label > 63)
            return false;
        if (!isdigit(c))
            digits_only = false;
    }
    return label > 0 && name[len - 1] != '-' && !digits_only;
}

/* valid_literal - "[192.0.2.1]" or "[IPv6:...]". */
static bool valid_literal(const char *name)
{
    struct cidr_addr a;
    size_t len = strlen(name);

    return len > 2 && name[0] == '[' && name[len - 1] == ']'
        && cidr_addr_parse(name, &a) == 0;
}

/* valid_bare_addr - a bare IPv4 address (Postfix's back-compat case). */
static bool valid_bare_addr(const char *name)
{
    struct cidr_addr a;

    return name[0] != '[' && cidr_addr_parse(name, &a) == 0;
}

/* helo_literal_bad - the "invalid ip address" reply for a bad literal. */
static enum restrict_result helo_literal_bad(struct rctx *x)
{
    if (valid_literal(x->helo))
        return R_DUNNO;
    return restrict_reject(x, EC_POLICY, x->rs->code_badname, "5.5.2",
                           "<%s>: Helo command rejected: invalid ip address",
                           x->helo);
}

static enum restrict_result fn_nonfqdn_helo(struct rctx *x,
                                            const struct restrict_rule *r)
{
    bool fqdn;

    (void)r;
    if (x->helo == NULL)
        return R_DUNNO;
    if (x->helo[0] == '[')
        return helo_literal_bad(x);
    if (valid_hostname(x->helo, &fqdn) && fqdn)
        return R_DUNNO;
    return restrict_reject(x, EC_POLICY, x->rs->code_nonfqdn, "5.5.2",
                           "<%s>: Helo command rejected: need fully-qualified"
                           " hostname", x->helo);
}

static enum restrict_result fn_invalid_helo(struct rctx *x,
                                            const struct restrict_rule *r)
{
    bool fqdn;

    (void)r;
    if (x->helo == NULL)
        return R_DUNNO;
    if (x->helo[0] == '[')
        return helo_literal_bad(x);
    if (valid_hostname(x->helo, &fqdn) || valid_bare_addr(x->helo))
        return R_DUNNO;
    return restrict_reject(x, EC_POLICY, x->rs->code_badname, "5.5.2",
                           "<%s>: Helo command rejected: Invalid name",
                           x->helo);
}

/* nonfqdn_addr - reject_non_fqdn_sender/recipient on one address. */
static enum restrict_result nonfqdn_addr(struct rctx *x, const char *addr,
                                         const char *shown, const char *cls)
{
    const char *at = strrchr(addr, '@');
    const char *dom = at ? at + 1 : "";
    bool fqdn;

    if (dom[0] == '[' && dom[strlen(dom) - 1] == ']')
        return R_DUNNO;                 /* literals are not judged here */
    if (valid_hostname(dom, &fqdn) && fqdn)
        return R_DUNNO;
    return restrict_reject(x, EC_POLICY, x->rs->code_nonfqdn, "4.5.2",
                           "<%s>: %s rejected: need fully-qualified address",
                           shown, cls);
}

static enum restrict_result fn_nonfqdn_sender(struct rctx *x,
                                              const struct restrict_rule *r)
{
    (void)r;
    if (x->sender == NULL || *x->sender == '\0')
        return R_DUNNO;
    return nonfqdn_addr(x, x->sender, sb_str(&x->qsender), "Sender address");
}

static enum restrict_result fn_nonfqdn_rcpt(struct rctx *x,
                                            const struct restrict_rule *r)
{
    (void)r;
    if (x->recipient == NULL || *x->recipient == '\0')
        return R_DUNNO;
    return nonfqdn_addr(x, x->recipient, sb_str(&x->qrcpt),
                        "Recipient address");
}

/* ---- Sender login ---- */

/* owners_match - user among the comma/space separated owners? */
static bool owners_match(const char *owners, const char *user)
{
    size_t ulen = strlen(user);

    while (*owners) {
        size_t n;

        owners += strspn(owners, ", \t");
        n = strcspn(owners, ", \t");
        if (n == ulen && n > 0 && strncasecmp(owners, user, n) == 0)
            return true;
        owners += n;
    }
    return false;
}

/* login_owner - owners of the sender: 1 found (in val), 0 none, -1 error. */
static int login_owner(struct rctx *x, strbuf *val)
{
    struct map_keyopts o = {.order = MAP_KEYS_VIRTUAL,
                            .delimiters = x->rs->delims};
    int m = maplist_lookup_order(x->rs->login_maps, x->sender, &o, val, NULL);

    return m == MAP_FOUND ? 1 : m == MAP_ERROR ? -1 : 0;
}

/* login_check - the sender-login family; mode bits say which half. */
#define LOGIN_AUTH      1       /* logged in: must own a listed sender */
#define LOGIN_UNKNOWN   2       /* ... an unlisted sender is fine */
#define LOGIN_UNAUTH    4       /* not logged in: listed senders refused */
static enum restrict_result login_check(struct rctx *x, int mode)
{
    const char *user = x->st->sasl_username;
    bool authed = user != NULL && *user != '\0';
    enum restrict_result res = R_DUNNO;
    strbuf val;
    int f;

    if (x->sender == NULL || *x->sender == '\0' || x->rs->login_maps == NULL
        || (authed && !(mode & LOGIN_AUTH))
        || (!authed && !(mode & LOGIN_UNAUTH)))
        return R_DUNNO;
    sb_init(&val, MAP_LINE_MAX);
    f = login_owner(x, &val);
    if (f < 0)
        res = restrict_tempfail(x, sb_str(&x->qsender));
    else if (authed && !(f == 0 && (mode & LOGIN_UNKNOWN))
             && !(f == 1 && owners_match(sb_str(&val), user)))
        res = restrict_reject(x, EC_POLICY, 553, "5.7.1", "<%s>: Sender"
                              " address rejected: not owned by user %s",
                              sb_str(&x->qsender), user);
    else if (!authed && f == 1)
        res = restrict_reject(x, EC_POLICY, 553, "5.7.1", "<%s>: Sender"
                              " address rejected: not logged in",
                              sb_str(&x->qsender));
    sb_release(&val);
    return res;
}

static enum restrict_result fn_login_auth(struct rctx *x,
                                          const struct restrict_rule *r)
{
    (void)r;
    return login_check(x, LOGIN_AUTH);
}

static enum restrict_result fn_login_unauth(struct rctx *x,
                                            const struct restrict_rule *r)
{
    (void)r;
    return login_check(x, LOGIN_UNAUTH);
}

static enum restrict_result fn_login_known(struct rctx *x,
                                           const struct restrict_rule *r)
{
    (void)r;
    return login_check(x, LOGIN_AUTH | LOGIN_UNKNOWN | LOGIN_UNAUTH);
}

static enum restrict_result fn_login_both(struct rctx *x,
                                          const struct restrict_rule *r)
{
    (void)r;
    return login_check(x, LOGIN_AUTH | LOGIN_UNAUTH);
}

/* ---- The table of names ---- */

#define S NEED_SENDER
#define R NEED_RCPT
#define H NEED_HELO
static const struct restrict_def defs[] = {
    {"permit", fn_permit, 0, ARG_NONE},
    {"reject", fn_reject, 0, ARG_NONE},
    {"defer", fn_defer, 0, ARG_NONE},
    {"warn_if_reject", fn_warn_if_reject, 0, ARG_NONE},
    {"defer_if_permit", fn_defer_if_permit, 0, ARG_NONE},
    {"defer_if_reject", fn_defer_if_reject, 0, ARG_NONE},
    {"reject_unauth_pipelining", fn_pipelining, 0, ARG_NONE},
    {"permit_mynetworks", fn_mynetworks, 0, ARG_NONE},
    {"permit_sasl_authenticated", fn_sasl, 0, ARG_NONE},
    {"reject_unauth_destination", fn_reject_unauth, R, ARG_NONE},
    {"defer_unauth_destination", fn_defer_unauth, R, ARG_NONE},
    {"permit_auth_destination", fn_permit_auth, R, ARG_NONE},
    {"reject_unlisted_recipient", fn_unlisted_rcpt, R, ARG_NONE},
    {"check_recipient_maps", fn_unlisted_rcpt, R, ARG_NONE},
    {"reject_unlisted_sender", fn_unlisted_sender, S, ARG_NONE},
    {"reject_non_fqdn_helo_hostname", fn_nonfqdn_helo, H, ARG_NONE},
    {"reject_non_fqdn_hostname", fn_nonfqdn_helo, H, ARG_NONE},
    {"reject_invalid_helo_hostname", fn_invalid_helo, H, ARG_NONE},
    {"reject_invalid_hostname", fn_invalid_helo, H, ARG_NONE},
    {"reject_non_fqdn_sender", fn_nonfqdn_sender, S, ARG_NONE},
    {"reject_non_fqdn_recipient", fn_nonfqdn_rcpt, R, ARG_NONE},
    {"reject_multi_recipient_bounce", fn_mulrcpt, S, ARG_NONE},
    {"check_client_access", restrict_check_client_access, 0, ARG_TABLE},
    {"check_helo_access", restrict_check_helo_access, H, ARG_TABLE},
    {"check_sender_access", restrict_check_sender_access, S, ARG_TABLE},
    {"check_recipient_access", restrict_check_rcpt_access, R, ARG_TABLE},
    {"reject_authenticated_sender_login_mismatch", fn_login_auth, S, ARG_NONE},
    {"reject_unauthenticated_sender_login_mismatch", fn_login_unauth, S,
     ARG_NONE},
    {"reject_known_sender_login_mismatch", fn_login_known, S, ARG_NONE},
    {"reject_sender_login_mismatch", fn_login_both, S, ARG_NONE},
    /* Known names of later work: a clear "not supported yet" error. */
    {"check_ccert_access", NULL, 0, ARG_TABLE},
    {"check_client_a_access", NULL, 0, ARG_TABLE},
    {"check_client_mx_access", NULL, 0, ARG_TABLE},
    {"check_client_ns_access", NULL, 0, ARG_TABLE},
    {"check_etrn_access", NULL, 0, ARG_TABLE},
    {"check_helo_a_access", NULL, H, ARG_TABLE},
    {"check_helo_mx_access", NULL, H, ARG_TABLE},
    {"check_helo_ns_access", NULL, H, ARG_TABLE},
    {"check_policy_service", NULL, 0, ARG_WORD},
    {"check_recipient_a_access", NULL, R, ARG_TABLE},
    {"check_recipient_mx_access", NULL, R, ARG_TABLE},
    {"check_recipient_ns_access", NULL, R, ARG_TABLE},
    {"check_reverse_client_a_access", NULL, 0, ARG_TABLE},
    {"check_reverse_client_hostname_access", NULL, 0, ARG_TABLE},
    {"check_reverse_client_mx_access", NULL, 0, ARG_TABLE},
    {"check_reverse_client_ns_access", NULL, 0, ARG_TABLE},
    {"check_sasl_access", NULL, 0, ARG_TABLE},
    {"check_sender_a_access", NULL, S, ARG_TABLE},
    {"check_sender_mx_access", NULL, S, ARG_TABLE},
    {"check_sender_ns_access", NULL, S, ARG_TABLE},
    {"permit_dnswl_client", NULL, 0, ARG_WORD},
    {"permit_inet_interfaces", NULL, 0, ARG_NONE},
    {"permit_mx_backup", NULL, R, ARG_NONE},
    {"permit_rhswl_client", NULL, 0, ARG_WORD},
    {"permit_tls_all_clientcerts", NULL, 0, ARG_NONE},
    {"permit_tls_clientcerts", NULL, 0, ARG_NONE},
    {"reject_plaintext_session", NULL, 0, ARG_NONE},
    {"reject_rbl_client", NULL, 0, ARG_WORD},
    {"reject_rhsbl_client", NULL, 0, ARG_WORD},
    {"reject_rhsbl_helo", NULL, H, ARG_WORD},
    {"reject_rhsbl_recipient", NULL, R, ARG_WORD},
    {"reject_rhsbl_reverse_client", NULL, 0, ARG_WORD},
    {"reject_rhsbl_sender", NULL, S, ARG_WORD},
    {"reject_unknown_client", NULL, 0, ARG_NONE},
    {"reject_unknown_client_hostname", NULL, 0, ARG_NONE},
    {"reject_unknown_helo_hostname", NULL, H, ARG_NONE},
    {"reject_unknown_hostname", NULL, H, ARG_NONE},
    {"reject_unknown_recipient_domain", NULL, R, ARG_NONE},
    {"reject_unknown_reverse_client_hostname", NULL, 0, ARG_NONE},
    {"reject_unknown_sender_domain", NULL, S, ARG_NONE},
    {"reject_unverified_recipient", NULL, R, ARG_NONE},
    {"reject_unverified_sender", NULL, S, ARG_NONE},
    {"sleep", NULL, 0, ARG_WORD},
};
#undef S
#undef R
#undef H

/* restrict_find_def - a name (case-insensitive, as Postfix) or NULL. */
const struct restrict_def *restrict_find_def(const char *name)
{
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
        if (strcasecmp(defs[i].name, name) == 0)
            return &defs[i];
    return NULL;
}

/* restrict_access_def - the check_*_access a bare table means in list ch. */
const struct restrict_def *restrict_access_def(enum restrict_chain ch)
{
    static const char *const names[CH_N] = {
        [CH_CLIENT] = "check_client_access", [CH_HELO] = "check_helo_access",
        [CH_SENDER] = "check_sender_access",
        [CH_RELAY] = "check_recipient_access",
        [CH_RECIPIENT] = "check_recipient_access",
        [CH_ETRN] = "check_etrn_access",
    };

    return names[ch] ? restrict_find_def(names[ch]) : NULL;
}
