/*
 * smtp_sasl - SMTP AUTH for the smtp/lmtp client through the libsasl2
 * client (see smtp_sasl.h).
 *
 * Owns the password tables, the mechanism filter and the process's
 * libsasl2 client initialisation; per login, a sasl_conn_t and the
 * credentials, wiped and freed when the login ends. libsasl2 gets the
 * user name and password from callbacks whose context is the login, so
 * no state is global. Every failure becomes a deferral in Postfix's
 * words; configuration problems are err text for the caller.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>

#include "common/b64.h"
#include "common/msg.h"
#include "common/saslopt.h"
#include "common/xalloc.h"
#include "maps/maps.h"
#include "smtp/smtp_sasl.h"
#include "smtp/smtp_sess_int.h"

#define SMTP_SASL_SERVICE "smtp"    /* the SASL service name */
#define SMTP_SASL_CRED    4096      /* bytes of a user name or password */
#define SMTP_SASL_LINE    65536     /* an AUTH command or a response line */
#define SMTP_SASL_MECHS   4096      /* the offered mechanism list */
#define SMTP_SASL_MECH    20        /* RFC 4422 section 3.1 */
#define SMTP_SASL_STEPS   100       /* challenges per AUTH, as Postfix */

/* One smtp_sasl_mechanism_filter item: a name, !name, or a table. */
struct mech_pat {
    const char *name;           /* NULL for a table */
    bool neg;
    map *table;
};

struct smtp_sasl {
    bool enabled, per_sender, inited;
    maplist *passwd;            /* smtp_sasl_password_maps */
    char *delims;               /* recipient_delimiter */
    struct mech_pat *filter;
    size_t nfilter;
    unsigned sec_plain, sec_tls;    /* SASL_SEC_* */
    sasl_callback_t cb[2];      /* process-wide: logging */
};

/* One AUTH exchange. */
typedef struct sasl_login {
    smtp_sasl *sa;
    smtp_session *s;
    const smtp_params *p;
    strbuf user, pass;
    sasl_secret_t *secret;
    sasl_callback_t cb[4];
    sasl_conn_t *conn;
    strbuf line;                /* a command or response going out */
    strbuf data;                /* a decoded challenge */
} sasl_login;

/* sasl_proc - libsasl2's generic callback pointer type. */
typedef int (*sasl_proc)(void);

/* ---- libsasl2 callbacks ---- */

/* cb_log - libsasl2's own messages, as Postfix's client logs them. */
static int cb_log(void *ctx, int level, const char *message)
{
    (void)ctx;
    if (message == NULL)
        return SASL_OK;
    if (level == SASL_LOG_ERR || level == SASL_LOG_FAIL)
        msg_warn("SASL authentication failure: %s", message);
    else if (level == SASL_LOG_WARN)
        msg_warn("SASL authentication problem: %s", message);
    else
        msg_debug("SASL authentication info: %s", message);
    return SASL_OK;
}

/* cb_user - the user name for SASL_CB_USER and SASL_CB_AUTHNAME. */
static int cb_user(void *ctx, int id, const char **result, unsigned *len)
{
    sasl_login *lg = ctx;

    if (id != SASL_CB_USER && id != SASL_CB_AUTHNAME)
        return SASL_BADPARAM;
    *result = sb_str(&lg->user);
    if (len != NULL)
        *len = (unsigned)sb_len(&lg->user);
    return SASL_OK;
}

/* cb_pass - the password (SASL_CB_PASS), kept until the login ends. */
static int cb_pass(sasl_conn_t *conn, void *ctx, int id,
                   sasl_secret_t **psecret)
{
    sasl_login *lg = ctx;
    size_t n = sb_len(&lg->pass), size;

    (void)conn;
    if (id != SASL_CB_PASS || psecret == NULL
        || !size_add(sizeof(sasl_secret_t), n, &size))
        return SASL_BADPARAM;
    if (lg->secret == NULL) {
        lg->secret = xcalloc(1, size);
        lg->secret->len = n;
        memcpy(lg->secret->data, sb_str(&lg->pass), n);
    }
    *psecret = lg->secret;
    return SASL_OK;
}

/* ---- Configuration ---- */

/* filter_open - smtp_sasl_mechanism_filter items; -1 + err when bad. */
static int filter_open(smtp_sasl *sa, const char *const *items, strbuf *err)
{
    size_t n = 0;

    while (items != NULL && items[n] != NULL)
        n++;
    sa->filter = n ? xcalloc(n, sizeof(*sa->filter)) : NULL;
    for (size_t i = 0; i < n; i++, sa->nfilter++) {
        struct mech_pat *m = &sa->filter[i];
        const char *w = items[i];

        if (strchr(w, ':') != NULL) {
            if ((m->table = map_open(w, MAP_F_FOLD, err)) == NULL)
                return -1;
            continue;
        }
        m->neg = (*w == '!');
        m->name = m->neg ? w + 1 : w;
        if (*m->name == 0 || *m->name == '/') {
            sb_reset(err);
            (void)sb_printf(err, "\"%s\": use mechanism names, !names or "
                            "type:table lookups", w);
            return -1;
        }
    }
    return 0;
}

/* read_config - the parameters of an enabled client; -1 + err. */
static int read_config(smtp_sasl *sa, const conf *c, strbuf *err)
{
    const char *maps = conf_get_str(c, "smtp_sasl_password_maps");

    if (maps == NULL || maps[strspn(maps, " \t,")] == 0) {
        (void)sb_puts(err, "specify a password table via the "
                      "`smtp_sasl_password_maps' configuration parameter");
        return -1;
    }
    if ((sa->passwd = maplist_open(maps, MAP_F_FOLD, err)) == NULL) {
        (void)sb_printf(err, " (smtp_sasl_password_maps)");
        return -1;
    }
    if (saslopt_parse("smtp_sasl_security_options",
                      conf_get_list(c, "smtp_sasl_security_options"),
                      &sa->sec_plain, err) != 0
        || saslopt_parse("smtp_sasl_tls_security_options",
                         conf_get_list(c, "smtp_sasl_tls_security_options"),
                         &sa->sec_tls, err) != 0)
        return -1;
    if (filter_open(sa, conf_get_list(c, "smtp_sasl_mechanism_filter"),
                    err) != 0) {
        (void)sb_printf(err, " (smtp_sasl_mechanism_filter)");
        return -1;
    }
    return 0;
}

/* smtp_sasl_open - read the smtp_sasl_* parameters, start libsasl2. */
smtp_sasl *smtp_sasl_open(const conf *c, bool lmtp, strbuf *err)
{
    smtp_sasl *sa = xcalloc(1, sizeof(*sa));
    int r;

    sb_reset(err);
    sa->enabled = conf_get_bool(c, "smtp_sasl_auth_enable");
    if (!sa->enabled)
        return sa;
    sa->per_sender = !lmtp
        && conf_get_bool(c, "smtp_sender_dependent_authentication");
    sa->delims = xstrdup(conf_get_str(c, "recipient_delimiter"));
    if (read_config(sa, c, err) != 0) {
        smtp_sasl_free(sa);
        return NULL;
    }
    sa->cb[0] = (sasl_callback_t){ SASL_CB_LOG,
        (sasl_proc)(void (*)(void))cb_log, sa };
    sa->cb[1] = (sasl_callback_t){ SASL_CB_LIST_END, NULL, NULL };
    if ((r = sasl_client_init(sa->cb)) != SASL_OK) {
        (void)sb_printf(err, "SASL library initialization failed: %s",
                        sasl_errstring(r, NULL, NULL));
        smtp_sasl_free(sa);
        return NULL;
    }
    sa->inited = true;
    return sa;
}

/* smtp_sasl_free - release tables and libsasl2's process state. */
void smtp_sasl_free(smtp_sasl *sa)
{
    if (sa == NULL)
        return;
    if (sa->inited)
        (void)sasl_client_done();
    maplist_close(sa->passwd);
    for (size_t i = 0; i < sa->nfilter; i++)
        map_close(sa->filter[i].table);
    free(sa->filter);
    free(sa->delims);
    free(sa);
}

/* smtp_sasl_enabled - smtp_sasl_auth_enable. */
bool smtp_sasl_enabled(const smtp_sasl *sa)
{
    return sa != NULL && sa->enabled;
}

/* smtp_sasl_per_sender - sender-dependent credentials are in use. */
bool smtp_sasl_per_sender(const smtp_sasl *sa)
{
    return smtp_sasl_enabled(sa) && sa->per_sender;
}

/* smtp_sasl_security - the options for the session's protection. */
unsigned smtp_sasl_security(const smtp_sasl *sa, bool tls)
{
    return tls ? sa->sec_tls : sa->sec_plain;
}

/* ---- Password lookup ---- */

/* lookup_one - one input in the tables with key order o. */
static int lookup_one(smtp_sasl *sa, const char *input,
                      const struct map_keyopts *o, strbuf *val, strbuf *why)
{
    strbuf key;
    struct map_match m = {.key = &key, .table = NULL};
    int rv;

    if (*input == 0)
        return MAP_NOTFOUND;
    sb_init(&key, MAP_LINE_MAX);
    rv = maplist_lookup_order(sa->passwd, input, o, val, &m);
    if (rv == MAP_ERROR)
        (void)sb_printf(why, "smtp_sasl_password_maps lookup of %s in %s: %s",
                        sb_str(&key), m.table ? map_spec(m.table) : "?",
                        m.table ? map_error(m.table) : "error");
    sb_release(&key);
    return rv;
}

/* smtp_sasl_lookup - sender keys, the host name, the nexthop as written. */
int smtp_sasl_lookup(smtp_sasl *sa, const struct smtp_sasl_dest *d,
                     strbuf *user, strbuf *pass, strbuf *why)
{
    struct map_keyopts by_sender = {.order = MAP_KEYS_VIRTUAL,
                                    .delimiters = sa->delims};
    struct map_keyopts whole = {.order = MAP_KEYS_FULL};
    strbuf val;
    const char *colon;
    int rv = MAP_NOTFOUND;

    sb_reset(user);
    sb_reset(pass);
    sb_reset(why);
    sb_init(&val, MAP_LINE_MAX);
    if (sa->per_sender && d->sender != NULL)
        rv = lookup_one(sa, d->sender, &by_sender, &val, why);
    if (rv == MAP_NOTFOUND)
        rv = lookup_one(sa, d->host, &whole, &val, why);
    if (rv == MAP_NOTFOUND && strcasecmp(d->host, d->nexthop) != 0)
        rv = lookup_one(sa, d->nexthop, &whole, &val, why);
    if (rv == MAP_FOUND) {              /* "user:password", at the first ':' */
        colon = memchr(sb_str(&val), ':', sb_len(&val));
        if (colon == NULL)
            colon = sb_str(&val) + sb_len(&val);
        if (sb_append(user, sb_str(&val), (size_t)(colon - sb_str(&val))) != 0
            || (*colon && sb_puts(pass, colon + 1) != 0)) {
            (void)sb_puts(why, "smtp_sasl_password_maps: user name or "
                          "password too long");
            explicit_bzero(pass->data, pass->len);
            sb_reset(user);
            sb_reset(pass);
            rv = MAP_ERROR;
        }
    }
    explicit_bzero(val.data, val.len);
    sb_release(&val);
    return rv == MAP_FOUND ? SMTP_SASL_FOUND
        : rv == MAP_ERROR ? SMTP_SASL_ERROR : SMTP_SASL_NONE;
}

/* ---- Mechanisms ---- */

/* mech_allowed - smtp_sasl_mechanism_filter lets mech through. */
static bool mech_allowed(const smtp_sasl *sa, const char *mech)
{
    strbuf val;
    int rv;

    if (sa->nfilter == 0)
        return true;
    for (size_t i = 0; i < sa->nfilter; i++) {
        const struct mech_pat *m = &sa->filter[i];

        if (m->table == NULL) {
            if (strcasecmp(m->name, mech) == 0)
                return !m->neg;
            continue;
        }
        sb_init(&val, MAP_LINE_MAX);
        rv = map_lookup(m->table, mech, &val);
        sb_release(&val);
        if (rv == MAP_FOUND)
            return true;
        if (rv == MAP_ERROR)
            msg_warn("smtp_sasl_mechanism_filter: %s: %s", map_spec(m->table),
                     map_error(m->table));
    }
    return false;
}

/* mech_word_ok - a mechanism name of RFC 4422's alphabet and length. */
static bool mech_word_ok(const char *w, size_t n)
{
    if (n == 0 || n > SMTP_SASL_MECH)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(w[i] >= 'A' && w[i] <= 'Z') && !(w[i] >= 'a' && w[i] <= 'z')
            && !(w[i] >= '0' && w[i] <= '9') && w[i] != '-' && w[i] != '_')
            return false;
    return true;
}

/* mech_listed - mech (n bytes) already in the space-separated list. */
static bool mech_listed(const strbuf *list, const char *mech, size_t n)
{
    const char *p = sb_str(list);

    while (*p) {
        size_t len = strcspn(p, " ");

        if (len == n && strncasecmp(p, mech, n) == 0)
            return true;
        p += len;
        p += (*p == ' ');
    }
    return false;
}

/* mech_add - append one offered word to raw, and to out when allowed. */
static void mech_add(const smtp_sasl *sa, const char *w, size_t n,
                     strbuf *raw, strbuf *out)
{
    char mech[SMTP_SASL_MECH + 1];

    if (raw != NULL && sb_len(raw) + n + 1 < raw->max) {
        if (sb_len(raw) > 0)
            (void)sb_putc(raw, ' ');
        (void)sb_append(raw, w, n);
    }
    if (!mech_word_ok(w, n) || mech_listed(out, w, n)
        || fmt_fixed(mech, sizeof(mech), "%.*s", (int)n, w) < 0
        || !mech_allowed(sa, mech))
        return;
    if (sb_len(out) + n + 1 >= out->max)
        return;
    if (sb_len(out) > 0)
        (void)sb_putc(out, ' ');
    (void)sb_append(out, w, n);
}

/* auth_line - the words after "AUTH " or "AUTH=" in one EHLO line. */
static const char *auth_line(const char *line, size_t len, size_t *rest)
{
    if (len < 8 || strncasecmp(line + 4, "AUTH", 4) != 0
        || (len > 8 && line[8] != ' ' && line[8] != '='))
        return NULL;
    *rest = len > 8 ? len - 9 : 0;
    return line + (len > 8 ? 9 : 8);
}

/* line_words - add each mechanism word of text[0..len). */
static void line_words(const smtp_sasl *sa, const char *text, size_t len,
                       strbuf *raw, strbuf *out)
{
    size_t i = 0;

    while (i < len) {
        size_t n = 0;

        while (i + n < len && text[i + n] != ' ')
            n++;
        if (n > 0)
            mech_add(sa, text + i, n, raw, out);
        i += n + 1;
    }
}

/* mechs_parse - offered (raw) and allowed (out) mechanisms of an EHLO reply. */
static bool mechs_parse(const smtp_sasl *sa, const smtp_reply *ehlo,
                        strbuf *raw, strbuf *out)
{
    const char *p = sb_str(&ehlo->text);
    bool any = false;

    sb_reset(out);
    for (size_t ln = 0; *p && ln < SMTP_REPLY_LINES_MAX; ln++) {
        size_t len = strcspn(p, "\n"), rest = 0;
        const char *w = ln > 0 ? auth_line(p, len, &rest) : NULL;

        if (w != NULL) {
            any = true;
            line_words(sa, w, rest, raw, out);
        }
        p += len;
        p += (*p == '\n');
    }
    return any;
}

/* smtp_sasl_offered - the server's AUTH mechanisms that pass the filter. */
bool smtp_sasl_offered(const smtp_sasl *sa, const smtp_reply *ehlo,
                       strbuf *out)
{
    return mechs_parse(sa, ehlo, NULL, out);
}

/* ---- The exchange ---- */

/* login_cannot - "cannot authenticate to server X: why" (4.7.0). */
static int login_cannot(sasl_login *lg, smtp_outcome *why, const char *text)
{
    sess_outcome_fmt(why, DLV_DEFERRED, "4.7.0", "SASL authentication "
                     "failed; cannot authenticate to server %s: %s",
                     sb_str(&lg->s->name), text);
    return -1;
}

/* login_cancel - abort an exchange the server is in with "*" (RFC 4954). */
static void login_cancel(sasl_login *lg)
{
    if (lg->s->reply.code != 334)
        return;                         /* AUTH not sent: nothing to abort */
    (void)tio_puts(lg->s->t, "*\r\n");
    if (sess_read(lg->s, lg->p, SMTP_ST_HELO) != SMTP_REPLY_OK
        || lg->s->reply.code / 100 == 3)
        lg->s->in_sync = false;
}

/* login_send - the line built in lg->line, then the server's reply. */
static int login_send(sasl_login *lg, bool toolong, smtp_outcome *why)
{
    int rc;

    if (toolong || sb_puts(&lg->line, "\r\n") != 0) {
        login_cancel(lg);
        return login_cannot(lg, why, "SASL response too long");
    }
    (void)tio_write(lg->s->t, sb_str(&lg->line), sb_len(&lg->line));
    explicit_bzero(lg->line.data, lg->line.len);
    sb_reset(&lg->line);
    if ((rc = sess_read(lg->s, lg->p, SMTP_ST_HELO)) != SMTP_REPLY_OK) {
        sess_io_outcome(lg->s, lg->p, rc, SMTP_ST_HELO, why);
        return -1;
    }
    return 0;
}

/* login_challenge - answer one 334; 0, or -1 with why (cancelled). */
static int login_challenge(sasl_login *lg, smtp_outcome *why)
{
    const char *text = sb_str(&lg->s->reply.text);
    size_t len = strcspn(text, "\n");
    const char *out = NULL;
    unsigned outlen = 0;
    int r;

    text += len > 3 ? 4 : len;          /* "334 " */
    len -= len > 3 ? 4 : len;
    if (b64_decode(text, len, &lg->data) != 0) {
        login_cancel(lg);
        return login_cannot(lg, why, "malformed SASL challenge from server");
    }
    r = sasl_client_step(lg->conn, sb_str(&lg->data),
                         (unsigned)sb_len(&lg->data), NULL, &out, &outlen);
    if (r != SASL_OK && r != SASL_CONTINUE) {
        login_cancel(lg);
        return login_cannot(lg, why, sasl_errstring(r, NULL, NULL));
    }
    return login_send(lg, out != NULL && outlen > 0
                      && b64_encode(out, outlen, &lg->line) != 0, why);
}

/* login_final - the reply that ends AUTH: 2xx, or a deferral. */
static int login_final(sasl_login *lg, smtp_outcome *why)
{
    const smtp_reply *r = &lg->s->reply;
    strbuf text;
    char dsn[SMTP_DSN_SIZE];

    if (r->code / 100 == 2)
        return 0;
    sb_init(&text, SMTP_REASON_MAX);
    smtp_reply_oneline(r, &text);
    memcpy(dsn, r->dsn, sizeof(dsn));
    dsn[0] = '4';               /* smtp_sasl_auth_soft_bounce, always */
    sess_outcome_fmt(why, DLV_DEFERRED, dsn, "SASL authentication failed; "
                     "server %s said: %s", sb_str(&lg->s->name), sb_str(&text));
    sb_release(&text);
    return -1;
}

/* login_start - the libsasl2 client and its first step; the AUTH line. */
static int login_start(sasl_login *lg, const char *mechs, const char *host,
                       bool tls, smtp_outcome *why)
{
    sasl_security_properties_t sp;
    const char *out = NULL, *mech = NULL;
    unsigned outlen = 0;
    bool toolong;
    int r;

    r = sasl_client_new(SMTP_SASL_SERVICE, host, NULL, NULL, lg->cb, 0,
                        &lg->conn);
    if (r == SASL_OK) {
        memset(&sp, 0, sizeof(sp));
        sp.security_flags = smtp_sasl_security(lg->sa, tls);
        sp.max_ssf = 0;                 /* no SASL security layer */
        r = sasl_setprop(lg->conn, SASL_SEC_PROPS, &sp);
    }
    if (r == SASL_OK)
        r = sasl_client_start(lg->conn, mechs, NULL, &out, &outlen, &mech);
    if ((r != SASL_OK && r != SASL_CONTINUE) || mech == NULL)
        return login_cannot(lg, why, sasl_errstring(r == SASL_OK ? SASL_NOMECH
                                                    : r, NULL, NULL));
    toolong = sb_printf(&lg->line, "AUTH %s", mech) != 0;
    if (out != NULL && !toolong)        /* an initial response; "=" if empty */
        toolong = sb_putc(&lg->line, ' ') != 0
            || (outlen == 0 ? sb_putc(&lg->line, '=')
                : b64_encode(out, outlen, &lg->line)) != 0;
    return login_send(lg, toolong, why);
}

/* login_run - AUTH, the challenges, the final reply. */
static int login_run(sasl_login *lg, const char *mechs, const char *host,
                     bool tls, smtp_outcome *why)
{
    int steps = 0;

    if (login_start(lg, mechs, host, tls, why) != 0)
        return -1;
    while (lg->s->reply.code == 334) {
        if (++steps > SMTP_SASL_STEPS) {
            login_cancel(lg);
            sess_outcome_fmt(why, DLV_DEFERRED, "4.3.0", "SASL authentication "
                             "failed; authentication protocol loop with "
                             "server %s", sb_str(&lg->s->name));
            return -1;
        }
        if (login_challenge(lg, why) != 0)
            return -1;
    }
    return login_final(lg, why);
}

/* login_init - the per-login state with its callbacks. */
static void login_init(sasl_login *lg, smtp_sasl *sa, smtp_session *s,
                       const smtp_params *p)
{
    memset(lg, 0, sizeof(*lg));
    lg->sa = sa;
    lg->s = s;
    lg->p = p;
    sb_init(&lg->user, SMTP_SASL_CRED);
    sb_init(&lg->pass, SMTP_SASL_CRED);
    sb_init(&lg->line, SMTP_SASL_LINE);
    sb_init(&lg->data, SMTP_SASL_LINE);
    lg->cb[0] = (sasl_callback_t){ SASL_CB_USER,
        (sasl_proc)(void (*)(void))cb_user, lg };
    lg->cb[1] = (sasl_callback_t){ SASL_CB_AUTHNAME,
        (sasl_proc)(void (*)(void))cb_user, lg };
    lg->cb[2] = (sasl_callback_t){ SASL_CB_PASS,
        (sasl_proc)(void (*)(void))cb_pass, lg };
    lg->cb[3] = (sasl_callback_t){ SASL_CB_LIST_END, NULL, NULL };
}

/* wipe_release - zero a buffer that held secrets, then free it. */
static void wipe_release(strbuf *sb)
{
    explicit_bzero(sb->data, sb->len);
    sb_release(sb);
}

/* login_done - dispose of libsasl2's state and every secret. */
static void login_done(sasl_login *lg)
{
    if (lg->conn != NULL)
        sasl_dispose(&lg->conn);
    if (lg->secret != NULL) {
        explicit_bzero(lg->secret->data, lg->secret->len);
        free(lg->secret);
    }
    wipe_release(&lg->user);
    wipe_release(&lg->pass);
    wipe_release(&lg->line);
    wipe_release(&lg->data);
}

/* login_mechs - the usable mechanisms; -1 with why when none is left. */
static int login_mechs(sasl_login *lg, strbuf *mechs, smtp_outcome *why)
{
    strbuf raw;
    int rc = 0;

    sb_init(&raw, SMTP_SASL_MECHS);
    (void)mechs_parse(lg->sa, &lg->s->reply, &raw, mechs);
    if (sb_len(mechs) == 0) {
        msg_warn(sb_len(&raw) ? "%s offered no supported AUTH mechanisms: '%s'"
                 : "%s offered null AUTH mechanism list%s",
                 sb_str(&lg->s->relay), sb_str(&raw));
        sess_outcome_fmt(why, DLV_DEFERRED, "4.7.0", "SASL authentication "
                         "failed: server %s offered no compatible "
                         "authentication mechanisms for this type of "
                         "connection security", sb_str(&lg->s->name));
        rc = -1;
    }
    sb_release(&raw);
    return rc;
}

/* smtp_sasl_login - AUTH when the server offers it and we have a password. */
int smtp_sasl_login(smtp_sasl *sa, smtp_session *s, const smtp_params *p,
                    const struct smtp_sasl_dest *d, bool tls,
                    smtp_outcome *why)
{
    sasl_login lg;
    strbuf mechs, err;
    int rc = 0, found;

    if (!smtp_sasl_enabled(sa) || !s->esmtp
        || !(s->feat.flags & SMTP_FEAT_AUTH))
        return 0;
    login_init(&lg, sa, s, p);
    sb_init(&mechs, SMTP_SASL_MECHS);
    sb_init(&err, SMTP_REASON_MAX);
    found = smtp_sasl_lookup(sa, d, &lg.user, &lg.pass, &err);
    if (found == SMTP_SASL_ERROR) {
        msg_warn("%s", sb_str(&err));
        sess_outcome_fmt(why, DLV_DEFERRED, "4.3.0", "SASL authentication "
                         "failed; cannot authenticate to server %s: password "
                         "table lookup error", sb_str(&s->name));
        rc = -1;
    } else if (found == SMTP_SASL_FOUND) {
        rc = login_mechs(&lg, &mechs, why);
        if (rc == 0)
            rc = login_run(&lg, sb_str(&mechs), d->host, tls, why);
    }
    login_done(&lg);
    sb_release(&mechs);
    sb_release(&err);
    return rc;
}
