/*
 * smtpd_sasl - SMTP AUTH through Cyrus libsasl2 (see smtpd_sasl.h).
 *
 * Owns the libsasl2 per-process initialisation (while a handle is open)
 * and one sasl_conn_t per session. libsasl2 learns where smtpd.conf lives
 * and where to log through callbacks whose context is the handle, so no
 * state of ours is global. Every failure of the exchange is a reply plus
 * Postfix's warning line; configuration problems are err text for the
 * caller. Nothing here exits on client input.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>

#include "common/b64.h"
#include "common/cidr.h"
#include "common/msg.h"
#include "common/saslopt.h"
#include "common/xalloc.h"
#include "smtpd/smtpd_sasl.h"

#define TERN_SASL_SERVICE "smtp"      /* the SASL service name (GSSAPI etc.) */
#define SASL_MECH_MAX 20            /* RFC 4422 section 3.1 */
#define SASL_REPLY_MAX 65536        /* a 334 line or a final reply */
#define SASL_ROUNDS_MAX 64          /* challenge round trips per AUTH */
#define SASL_NAME_MAX 1024          /* a user name kept for logs/headers */

/* One smtpd_sasl_exceptions_networks item. */
struct sasl_except {
    bool neg;
    struct cidr net;
};

struct smtpd_sasl {
    bool enabled, broken, auth_header;
    bool inited;                    /* sasl_server_init succeeded */
    char *app;                      /* smtpd_sasl_path */
    char *confpath;                 /* cyrus_sasl_config_path or NULL */
    char *realm;                    /* smtpd_sasl_local_domain or NULL */
    char *hostname;                 /* myhostname (server FQDN) */
    unsigned sec_plain, sec_tls;    /* SASL_SEC_* */
    long response_limit;            /* smtpd_sasl_response_limit */
    struct sasl_except *except;
    size_t nexcept;
    sasl_callback_t cb[3];
};

struct smtpd_sasl_conn {
    smtpd_sasl *s;
    sasl_conn_t *conn;              /* NULL: AUTH not offered */
    char *namaddr;
    char *mechs;                    /* "PLAIN LOGIN" */
    char *method;                   /* during an exchange and after success */
    char *username;                 /* after success */
    bool final_pending;             /* success data sent, awaiting a reply */
    strbuf data;                    /* a decoded client response */
};

/* ---- libsasl2 callbacks ---- */

/* sasl_log_cb - libsasl2's messages, at Postfix's levels and wording. */
static int sasl_log_cb(void *ctx, int level, const char *message)
{
    (void)ctx;
    if (message == NULL)
        return SASL_OK;
    if (level == SASL_LOG_ERR || level == SASL_LOG_FAIL)
        msg_warn("SASL authentication failure: %s", message);
    else if (level == SASL_LOG_WARN)
        msg_warn("SASL authentication problem: %s", message);
    else if (level == SASL_LOG_NOTE)
        msg_debug("SASL authentication info: %s", message);
    else
        msg_debug("SASL authentication debug: %s", message);
    return SASL_OK;
}

/* sasl_confpath_cb - cyrus_sasl_config_path for NAME.conf. */
static int sasl_confpath_cb(void *ctx, char **path)
{
    smtpd_sasl *s = ctx;

    if (s->confpath == NULL)
        return SASL_FAIL;
    *path = s->confpath;
    return SASL_OK;
}

/* sasl_proc - libsasl2's generic callback pointer type. */
typedef int (*sasl_proc)(void);

/* set_callbacks - fill s->cb (the list sasl_server_init keeps). */
static void set_callbacks(smtpd_sasl *s)
{
    size_t n = 0;

    s->cb[n++] = (sasl_callback_t){ SASL_CB_LOG,
        (sasl_proc)(void (*)(void))sasl_log_cb, s };
    if (s->confpath != NULL)
        s->cb[n++] = (sasl_callback_t){ SASL_CB_GETCONFPATH,
            (sasl_proc)(void (*)(void))sasl_confpath_cb, s };
    s->cb[n] = (sasl_callback_t){ SASL_CB_LIST_END, NULL, NULL };
}

/* ---- Configuration ---- */

/* parse_exceptions - smtpd_sasl_exceptions_networks as networks. */
static int parse_exceptions(smtpd_sasl *s, const char *const *items,
                            strbuf *err)
{
    size_t n = 0;
    strbuf why;

    while (items != NULL && items[n] != NULL)
        n++;
    s->except = n ? xcalloc(n, sizeof(*s->except)) : NULL;
    sb_init(&why, 512);
    for (size_t i = 0; i < n; i++) {
        const char *text = items[i];

        s->except[i].neg = (*text == '!');
        if (s->except[i].neg)
            text++;
        if (cidr_parse(text, &s->except[i].net, &why) != 0) {
            sb_reset(err);
            (void)sb_printf(err, "smtpd_sasl_exceptions_networks: %s: %s",
                            items[i], sb_str(&why));
            sb_release(&why);
            return -1;
        }
    }
    s->nexcept = n;
    sb_release(&why);
    return 0;
}

/* dup_or_null - a copy of a non-empty string, or NULL. */
static char *dup_or_null(const char *v)
{
    return (v != NULL && *v != 0) ? xstrdup(v) : NULL;
}

/* read_config - the parameters of an enabled handle. 0, or -1 + err. */
static int read_config(smtpd_sasl *s, const conf *c, strbuf *err)
{
    const char *type = conf_get_str(c, "smtpd_sasl_type");

    if (strcasecmp(type, "cyrus") != 0) {
        (void)sb_printf(err, "smtpd_sasl_type = %s: unsupported SASL server "
                        "implementation (tern supports: cyrus)", type);
        return -1;
    }
    s->app = dup_or_null(conf_get_str(c, "smtpd_sasl_path"));
    if (s->app == NULL || strchr(s->app, '/') != NULL) {
        (void)sb_printf(err, "smtpd_sasl_path = %s: need a SASL application "
                        "name such as smtpd", conf_get_str(c, "smtpd_sasl_path"));
        return -1;
    }
    s->confpath = dup_or_null(conf_get_str(c, "cyrus_sasl_config_path"));
    s->realm = dup_or_null(conf_get_str(c, "smtpd_sasl_local_domain"));
    s->hostname = dup_or_null(conf_get_str(c, "myhostname"));
    s->response_limit = conf_get_int(c, "smtpd_sasl_response_limit");
    if (saslopt_parse("smtpd_sasl_security_options",
                      conf_get_list(c, "smtpd_sasl_security_options"),
                      &s->sec_plain, err) != 0
        || saslopt_parse("smtpd_sasl_tls_security_options",
                         conf_get_list(c, "smtpd_sasl_tls_security_options"),
                         &s->sec_tls, err) != 0)
        return -1;
    return parse_exceptions(s, conf_get_list(c, "smtpd_sasl_exceptions_networks"),
                            err);
}

/* smtpd_sasl_open - read the service's SASL parameters, start libsasl2. */
smtpd_sasl *smtpd_sasl_open(const conf *c, strbuf *err)
{
    smtpd_sasl *s = xcalloc(1, sizeof(*s));
    int r;

    s->enabled = conf_get_bool(c, "smtpd_sasl_auth_enable");
    s->broken = conf_get_bool(c, "broken_sasl_auth_clients");
    s->auth_header = conf_get_bool(c, "smtpd_sasl_authenticated_header");
    if (!s->enabled)
        return s;
    if (read_config(s, c, err) != 0) {
        smtpd_sasl_free(s);
        return NULL;
    }
    set_callbacks(s);
    if ((r = sasl_server_init(s->cb, s->app)) != SASL_OK) {
        (void)sb_printf(err, "SASL per-process initialization failed: %s",
                        sasl_errstring(r, NULL, NULL));
        smtpd_sasl_free(s);
        return NULL;
    }
    s->inited = true;
    return s;
}

/* smtpd_sasl_free - release the handle and libsasl2's process state. */
void smtpd_sasl_free(smtpd_sasl *s)
{
    if (s == NULL)
        return;
    if (s->inited)
        (void)sasl_server_done();
    free(s->app);
    free(s->confpath);
    free(s->realm);
    free(s->hostname);
    free(s->except);
    free(s);
}

/* smtpd_sasl_enabled - smtpd_sasl_auth_enable. */
bool smtpd_sasl_enabled(const smtpd_sasl *s)
{
    return s != NULL && s->enabled;
}

/* smtpd_sasl_broken_clients - broken_sasl_auth_clients. */
bool smtpd_sasl_broken_clients(const smtpd_sasl *s)
{
    return s != NULL && s->broken;
}

/* smtpd_sasl_authenticated_header - smtpd_sasl_authenticated_header. */
bool smtpd_sasl_authenticated_header(const smtpd_sasl *s)
{
    return s != NULL && s->auth_header;
}

/* ---- Sessions ---- */

/* excepted - the client is in smtpd_sasl_exceptions_networks. */
static bool excepted(const smtpd_sasl *s, const char *client_addr)
{
    struct cidr_addr a;

    if (s->nexcept == 0 || client_addr == NULL
        || cidr_addr_parse(client_addr, &a) != 0)
        return false;
    for (size_t i = 0; i < s->nexcept; i++)
        if (cidr_match(&s->except[i].net, &a))
            return !s->except[i].neg;
    return false;
}

/* sasl_conn_start - the libsasl2 connection and its mechanism list. */
static void sasl_conn_start(smtpd_sasl_conn *sc, bool tls)
{
    sasl_security_properties_t sp;
    const char *list = NULL;
    unsigned len = 0;
    int count = 0, r;

    r = sasl_server_new(TERN_SASL_SERVICE, sc->s->hostname, sc->s->realm, NULL,
                        NULL, NULL, 0, &sc->conn);
    if (r != SASL_OK) {
        msg_warn("%s: SASL per-connection initialization failed: %s",
                 sc->namaddr, sasl_errstring(r, NULL, NULL));
        sc->conn = NULL;
        return;
    }
    memset(&sp, 0, sizeof(sp));
    sp.security_flags = tls ? sc->s->sec_tls : sc->s->sec_plain;
    sp.max_ssf = 0;                 /* no SASL security layer */
    if ((r = sasl_setprop(sc->conn, SASL_SEC_PROPS, &sp)) != SASL_OK
        || (r = sasl_listmech(sc->conn, NULL, "", " ", "", &list, &len,
                              &count)) != SASL_OK
        || count <= 0 || list == NULL || len == 0) {
        msg_warn("%s: no SASL authentication mechanisms%s%s", sc->namaddr,
                 r != SASL_OK ? ": " : "",
                 r != SASL_OK ? sasl_errstring(r, NULL, NULL) : "");
        sasl_dispose(&sc->conn);
        sc->conn = NULL;
        return;
    }
    sc->mechs = xstrndup(list, len);
}

/* smtpd_sasl_conn_new - one session's SASL state. */
smtpd_sasl_conn *smtpd_sasl_conn_new(smtpd_sasl *s,
                                     const struct smtpd_sasl_peer *peer)
{
    smtpd_sasl_conn *sc = xcalloc(1, sizeof(*sc));

    sc->s = s;
    sc->namaddr = xstrdup(peer->namaddr ? peer->namaddr : "unknown[unknown]");
    sb_init(&sc->data, SASL_REPLY_MAX);
    if (s != NULL && s->enabled && s->inited && !excepted(s, peer->client_addr))
        sasl_conn_start(sc, peer->tls);
    return sc;
}

/* smtpd_sasl_conn_free - release one session's state. */
void smtpd_sasl_conn_free(smtpd_sasl_conn *sc)
{
    if (sc == NULL)
        return;
    if (sc->conn != NULL)
        sasl_dispose(&sc->conn);
    free(sc->namaddr);
    free(sc->mechs);
    free(sc->method);
    free(sc->username);
    sb_release(&sc->data);
    free(sc);
}

/* smtpd_sasl_offered - AUTH is advertised and accepted. */
bool smtpd_sasl_offered(const smtpd_sasl_conn *sc)
{
    return sc != NULL && sc->conn != NULL;
}

/* smtpd_sasl_mechanisms - the mechanism list for EHLO. */
const char *smtpd_sasl_mechanisms(const smtpd_sasl_conn *sc)
{
    return smtpd_sasl_offered(sc) ? sc->mechs : "";
}

/* smtpd_sasl_ehlo - the AUTH keyword lines of the EHLO reply. */
int smtpd_sasl_ehlo(const smtpd_sasl_conn *sc, strbuf *out)
{
    if (!smtpd_sasl_offered(sc))
        return 0;
    if (sb_printf(out, "AUTH %s\n", sc->mechs) != 0)
        return -1;
    if (sc->s->broken && sb_printf(out, "AUTH=%s\n", sc->mechs) != 0)
        return -1;
    return 0;
}

/* ---- The exchange ---- */

/* end_exchange - forget an unfinished exchange (not a success). */
static void end_exchange(smtpd_sasl_conn *sc)
{
    if (sc->username == NULL) {
        free(sc->method);
        sc->method = NULL;
    }
    sc->final_pending = false;
    sb_reset(&sc->data);
}

/* fail_user - the user name libsasl2 saw in a failed attempt, or NULL. */
static const char *fail_user(const smtpd_sasl_conn *sc)
{
    const void *p = NULL;

    if (sasl_getprop(sc->conn, SASL_USERNAME, &p) != SASL_OK || p == NULL
        || *(const char *)p == 0)
        return NULL;
    return p;
}

/* fail_with - log Postfix's warning, set reply, end the exchange. */
static enum smtpd_sasl_step fail_with(smtpd_sasl_conn *sc, const char *reason,
                                      const char *user, const char *text,
                                      strbuf *reply)
{
    msg_warn("%s: SASL %s authentication failed: %s%s%s", sc->namaddr,
             sc->method, reason, user ? ", sasl_username=" : "",
             user ? user : "");
    sb_reset(reply);
    (void)sb_puts(reply, text);
    end_exchange(sc);
    return SMTPD_SASL_STEP_FAIL;
}

/* fail_sasl - a libsasl2 error code as a 535 or 454. */
static enum smtpd_sasl_step fail_sasl(smtpd_sasl_conn *sc, int r,
                                      strbuf *reply)
{
    bool temp = (r == SASL_TRYAGAIN || r == SASL_UNAVAIL || r == SASL_NOMEM
                 || r == SASL_FAIL);
    const char *reason;
    strbuf text;
    enum smtpd_sasl_step step;

    if (r == SASL_NOUSER)           /* no hint which names exist */
        r = SASL_BADAUTH;
    reason = sasl_errstring(r, NULL, NULL);
    sb_init(&text, 512);
    (void)sb_printf(&text, temp ? "454 4.7.0 Temporary authentication "
                    "failure: %s" : "535 5.7.8 Error: authentication failed: %s",
                    reason);
    step = fail_with(sc, reason, fail_user(sc), sb_str(&text), reply);
    sb_release(&text);
    return step;
}

/* clean_name - a copy of a user name safe for logs and headers. */
static char *clean_name(const char *name)
{
    char *copy = xstrndup(name, SASL_NAME_MAX);

    for (char *p = copy; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return copy;
}

/* succeed - record the user and reply 235. */
static enum smtpd_sasl_step succeed(smtpd_sasl_conn *sc, strbuf *reply)
{
    const void *p = NULL;

    if (sasl_getprop(sc->conn, SASL_USERNAME, &p) != SASL_OK || p == NULL
        || *(const char *)p == 0)
        return fail_sasl(sc, SASL_FAIL, reply);
    sc->username = clean_name(p);
    sc->final_pending = false;
    sb_reset(&sc->data);
    sb_reset(reply);
    (void)sb_puts(reply, SMTPD_SASL_REPLY_OK);
    return SMTPD_SASL_STEP_DONE;
}

/* challenge - "334 base64" into reply. */
static enum smtpd_sasl_step challenge(smtpd_sasl_conn *sc, const char *out,
                                      unsigned outlen, strbuf *reply)
{
    sb_reset(reply);
    if (sb_puts(reply, "334 ") != 0
        || b64_encode(out, outlen, reply) != 0)
        return fail_sasl(sc, SASL_FAIL, reply);
    return SMTPD_SASL_STEP_MORE;
}

/* outcome - what a sasl_server_start/step result means for the client. */
static enum smtpd_sasl_step outcome(smtpd_sasl_conn *sc, int r,
                                    const char *out, unsigned outlen,
                                    strbuf *reply)
{
    if (r == SASL_CONTINUE)
        return challenge(sc, out, outlen, reply);
    if (r != SASL_OK)
        return fail_sasl(sc, r, reply);
    if (outlen == 0)
        return succeed(sc, reply);
    sc->final_pending = true;       /* RFC 4422: success data in a 334 */
    return challenge(sc, out, outlen, reply);
}

/* mech_ok - a mechanism name of RFC 4422's alphabet and length. */
static bool mech_ok(const char *mech)
{
    size_t n = strlen(mech);

    if (n == 0 || n > SASL_MECH_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)mech[i]) && mech[i] != '-' && mech[i] != '_')
            return false;
    return true;
}

/* set_reply - replace reply with a fixed line. */
static enum smtpd_sasl_step set_reply(strbuf *reply, const char *text)
{
    sb_reset(reply);
    (void)sb_puts(reply, text);
    return SMTPD_SASL_STEP_FAIL;
}

/* smtpd_sasl_start - AUTH mechanism [initial-response]. */
enum smtpd_sasl_step smtpd_sasl_start(smtpd_sasl_conn *sc, const char *mech,
                                      const char *initial, strbuf *reply)
{
    const char *out = NULL;
    unsigned outlen = 0;
    int r;

    if (!smtpd_sasl_offered(sc))
        return set_reply(reply, SMTPD_SASL_REPLY_DISABLED);
    if (sc->username != NULL)
        return set_reply(reply, SMTPD_SASL_REPLY_AGAIN);
    if (mech == NULL || !mech_ok(mech))
        return set_reply(reply, SMTPD_SASL_REPLY_SYNTAX);
    end_exchange(sc);
    sc->method = xstrdup(mech);
    for (char *p = sc->method; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    if (initial != NULL && strcmp(initial, "=") != 0
        && b64_decode(initial, strlen(initial), &sc->data) != 0)
        return fail_with(sc, "Invalid base64 data in initial response", NULL,
                         SMTPD_SASL_REPLY_DECODE, reply);
    r = sasl_server_start(sc->conn, sc->method,
                          initial ? sb_str(&sc->data) : NULL,
                          (unsigned)sb_len(&sc->data), &out, &outlen);
    return outcome(sc, r, out, outlen, reply);
}

/* smtpd_sasl_next - one client response line. */
enum smtpd_sasl_step smtpd_sasl_next(smtpd_sasl_conn *sc, const char *line,
                                     size_t len, strbuf *reply)
{
    const char *out = NULL;
    unsigned outlen = 0;
    int r;

    if (sc->method == NULL || sc->username != NULL)
        msg_panic("smtpd_sasl_next: no exchange in progress");
    if (len == 1 && line[0] == '*') {
        msg_warn("%s: SASL %s authentication aborted", sc->namaddr,
                 sc->method);
        end_exchange(sc);
        return set_reply(reply, SMTPD_SASL_REPLY_ABORTED);
    }
    if (b64_decode(line, len, &sc->data) != 0)
        return fail_with(sc, "Invalid base64 data in continued response", NULL,
                         SMTPD_SASL_REPLY_DECODE, reply);
    if (sc->final_pending)
        return succeed(sc, reply);
    r = sasl_server_step(sc->conn, sb_str(&sc->data),
                         (unsigned)sb_len(&sc->data), &out, &outlen);
    return outcome(sc, r, out, outlen, reply);
}

/* ---- The AUTH command over a stream ---- */

/* split_args - " MECH [INITIAL]" into two words; false on bad syntax. */
static bool split_args(const char *args, strbuf *mech, strbuf *initial,
                       bool *has_initial)
{
    const char *p = args ? args : "";
    const char *w[3];
    size_t wl[3];
    size_t n = 0;

    while (n < 3) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == 0)
            break;
        w[n] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        wl[n] = (size_t)(p - w[n]);
        n++;
    }
    if (n < 1 || n > 2 || sb_append(mech, w[0], wl[0]) != 0)
        return false;
    *has_initial = (n == 2);
    return n == 1 || sb_append(initial, w[1], wl[1]) == 0;
}

/* send_line - one reply line to the client, flushed. */
static int send_line(tio *t, const strbuf *line)
{
    int st = tio_printf(t, "%s\r\n", sb_str(line));

    return st == TIO_OK ? tio_flush(t) : st;
}

/* read_response - one response line into line; a tio status. */
static int read_response(smtpd_sasl_conn *sc, tio *t, strbuf *line,
                         strbuf *reply)
{
    unsigned flags = 0;
    int st = tio_getline(t, line, (size_t)sc->s->response_limit, &flags);

    if (st == TIO_TOOLONG) {
        msg_warn("%s: SASL %s authentication aborted: response too long",
                 sc->namaddr, sc->method);
        end_exchange(sc);
        (void)set_reply(reply, SMTPD_SASL_REPLY_TOOLONG);
        return tio_skipline(t);
    }
    return st;
}

/* exchange - send challenges and read responses until the end. */
static enum smtpd_sasl_result exchange(smtpd_sasl_conn *sc, tio *t,
                                       enum smtpd_sasl_step step,
                                       strbuf *reply, int *io)
{
    strbuf line;
    int rounds = 0;

    sb_init(&line, (size_t)sc->s->response_limit + 1);
    while (step == SMTPD_SASL_STEP_MORE && rounds++ < SASL_ROUNDS_MAX) {
        if ((*io = send_line(t, reply)) != TIO_OK
            || (*io = read_response(sc, t, &line, reply)) != TIO_OK
            || sc->method == NULL)
            break;
        step = smtpd_sasl_next(sc, sb_str(&line), sb_len(&line), reply);
    }
    sb_release(&line);
    if (*io != TIO_OK) {
        end_exchange(sc);
        sb_reset(reply);
        return SMTPD_SASL_LOST;
    }
    if (step == SMTPD_SASL_STEP_MORE && sc->method == NULL)
        return SMTPD_SASL_REFUSED;          /* response too long: replied */
    if (step == SMTPD_SASL_STEP_MORE)       /* a mechanism that never ends */
        (void)fail_sasl(sc, SASL_BADPROT, reply);
    return step == SMTPD_SASL_STEP_DONE ? SMTPD_SASL_DONE : SMTPD_SASL_REFUSED;
}

/* smtpd_sasl_auth_cmd - one AUTH command, Postfix's checks in its order. */
enum smtpd_sasl_result smtpd_sasl_auth_cmd(smtpd_sasl_conn *sc, tio *t,
                                           const struct smtpd_sasl_cmd *cmd,
                                           strbuf *reply, int *io)
{
    strbuf mech, initial;
    bool has_initial = false;
    enum smtpd_sasl_step step;
    enum smtpd_sasl_result res = SMTPD_SASL_REFUSED;

    *io = TIO_OK;
    sb_reset(reply);
    if (!smtpd_sasl_offered(sc))
        (void)sb_puts(reply, SMTPD_SASL_REPLY_DISABLED);
    else if (cmd->need_tls)
        (void)sb_puts(reply, SMTPD_SASL_REPLY_NEED_TLS);
    else if (cmd->in_mail)
        (void)sb_puts(reply, SMTPD_SASL_REPLY_IN_MAIL);
    else if (sc->username != NULL)
        (void)sb_puts(reply, SMTPD_SASL_REPLY_AGAIN);
    if (sb_len(reply) > 0)
        return SMTPD_SASL_REFUSED;
    sb_init(&mech, SASL_MECH_MAX + 1);
    sb_init(&initial, (size_t)sc->s->response_limit);
    if (!split_args(cmd->args, &mech, &initial, &has_initial))
        (void)sb_puts(reply, SMTPD_SASL_REPLY_SYNTAX);
    else {
        step = smtpd_sasl_start(sc, sb_str(&mech),
                                has_initial ? sb_str(&initial) : NULL, reply);
        res = exchange(sc, t, step, reply, io);
    }
    sb_release(&mech);
    sb_release(&initial);
    return res;
}

/* ---- After AUTH ---- */

/* smtpd_sasl_username - the authenticated user, or NULL. */
const char *smtpd_sasl_username(const smtpd_sasl_conn *sc)
{
    return sc != NULL ? sc->username : NULL;
}

/* smtpd_sasl_method - the mechanism that authenticated, or NULL. */
const char *smtpd_sasl_method(const smtpd_sasl_conn *sc)
{
    return sc != NULL && sc->username != NULL ? sc->method : NULL;
}

/* smtpd_sasl_log_clause - ", sasl_method=M, sasl_username=U". */
int smtpd_sasl_log_clause(const smtpd_sasl_conn *sc, strbuf *out)
{
    if (smtpd_sasl_username(sc) == NULL)
        return 0;
    return sb_printf(out, ", sasl_method=%s, sasl_username=%s", sc->method,
                     sc->username);
}

/* smtpd_sasl_received_clause - "(Authenticated sender: U)". */
int smtpd_sasl_received_clause(const smtpd_sasl *s,
                                const smtpd_sasl_conn *sc, strbuf *out)
{
    if (!smtpd_sasl_authenticated_header(s) || smtpd_sasl_username(sc) == NULL)
        return 0;
    return sb_printf(out, "(Authenticated sender: %s)", sc->username);
}
