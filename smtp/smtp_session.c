/*
 * smtp_session - connection set-up and teardown of the smtp/lmtp client
 * (see smtp_session.h); the transaction itself is in smtp_trans.c.
 *
 * Owns the session struct, its tio stream and its socket. A server that
 * refuses, stalls or talks garbage yields an outcome, never an exit.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "smtp/smtp_conn.h"
#include "smtp/smtp_session.h"
#include "smtp/smtp_sess_int.h"
#include "smtp/smtp_starttls.h"
#include "tls/tls.h"

/* smtp_outcome_init - undecided. */
void smtp_outcome_init(smtp_outcome *o)
{
    o->done = false;
    o->action = DLV_DEFERRED;
    (void)fmt_fixed(o->dsn, sizeof(o->dsn), "4.0.0");
    sb_init(&o->reason, SMTP_REASON_MAX);
}

/* smtp_outcome_release - free the reason. */
void smtp_outcome_release(smtp_outcome *o)
{
    sb_release(&o->reason);
}

/* smtp_outcome_set - decide; the reason is cut to its bound. */
void smtp_outcome_set(smtp_outcome *o, enum dlv_action action,
                      const char *dsn, const char *reason)
{
    o->done = true;
    o->action = action;
    if (fmt_fixed(o->dsn, sizeof(o->dsn), "%s", dsn) < 0)
        (void)fmt_fixed(o->dsn, sizeof(o->dsn), "4.0.0");
    sb_reset(&o->reason);
    (void)sb_printf(&o->reason, "%.*s", SMTP_REASON_MAX, reason);
}

/* sess_outcome_fmt - decide with a formatted reason. */
void sess_outcome_fmt(smtp_outcome *o, enum dlv_action action,
                      const char *dsn, const char *fmt, ...)
{
    strbuf text;
    va_list ap;

    sb_init(&text, SMTP_REASON_MAX);
    va_start(ap, fmt);
    (void)sb_vprintf(&text, fmt, ap);
    va_end(ap);
    smtp_outcome_set(o, action, dsn, sb_str(&text));
    sb_release(&text);
}

/* sess_read - one reply with the stage's timeout. */
int sess_read(smtp_session *s, const smtp_params *p, enum smtp_stage st)
{
    tio_set_timeout(s->t, p->timeout[st]);
    return smtp_reply_read(s->t, &s->reply);
}

/* sess_io_outcome - a failed read or write at stage st, as an outcome. */
void sess_io_outcome(smtp_session *s, const smtp_params *p, int rc,
                     enum smtp_stage st, smtp_outcome *o)
{
    const char *stage = smtp_stage_name(p, st);

    s->in_sync = false;
    if (rc == SMTP_REPLY_TIMEOUT || rc == TIO_TIMEOUT)
        sess_outcome_fmt(o, DLV_DEFERRED, "4.4.2",
                         "conversation with %s timed out while %s",
                         sb_str(&s->name), stage);
    else if (rc == SMTP_REPLY_BAD)
        sess_outcome_fmt(o, DLV_DEFERRED, "4.5.0",
                         "malformed reply from %s while %s",
                         sb_str(&s->name), stage);
    else
        sess_outcome_fmt(o, DLV_DEFERRED, "4.4.2",
                         "lost connection with %s while %s",
                         sb_str(&s->name), stage);
}

/*
 * sess_reply_outcome - the current reply as an outcome: 2xx (when ok2xx)
 * delivered, 5xx failed, anything else deferred. cmd names the command.
 */
void sess_reply_outcome(smtp_session *s, const char *cmd, bool ok2xx,
                        smtp_outcome *o)
{
    strbuf text;
    const smtp_reply *r = &s->reply;

    sb_init(&text, SMTP_REASON_MAX);
    smtp_reply_oneline(r, &text);
    if (ok2xx && r->code / 100 == 2)
        smtp_outcome_set(o, DLV_DELIVERED, r->dsn, sb_str(&text));
    else
        sess_outcome_fmt(o, r->code / 100 == 5 ? DLV_FAILED : DLV_DEFERRED,
                         r->code / 100 == 5 || r->code / 100 == 4 ? r->dsn
                         : "4.5.0", "host %s said: %s (in reply to %s command)",
                         sb_str(&s->name), sb_str(&text), cmd);
    sb_release(&text);
}

/* sess_new - an unconnected session named for texts and the log. */
static smtp_session *sess_new(const smtp_params *p, const smtp_target *tg,
                              const char *path)
{
    smtp_session *s = xcalloc(1, sizeof(*s));

    s->fd = -1;
    sb_init(&s->name, 1024);
    sb_init(&s->relay, 1024);
    smtp_reply_init(&s->reply);
    if (path) {
        (void)sb_printf(&s->name, "%s[%s]", p->myhostname, path);
        (void)sb_set(&s->relay, sb_str(&s->name));
    } else {
        (void)sb_printf(&s->name, "%s[%s]", tg->host, tg->addr.text);
        (void)sb_printf(&s->relay, "%s:%u", sb_str(&s->name), tg->port);
    }
    return s;
}

/* sess_free - close and free without a word to the server. */
static void sess_free(smtp_session *s)
{
    if (s->t)
        tio_free(s->t);
    tls_conn_free(s->tls);              /* after the last I/O on s->t */
    if (s->fd >= 0)
        (void)close(s->fd);
    sb_release(&s->name);
    sb_release(&s->relay);
    smtp_reply_release(&s->reply);
    free(s);
}

/* sess_greeting - the server's 220; a refusal defers (tried next host). */
static int sess_greeting(smtp_session *s, const smtp_params *p,
                         smtp_outcome *why)
{
    strbuf text;
    char dsn[SMTP_DSN_SIZE];
    int rc = sess_read(s, p, SMTP_ST_GREETING);

    if (rc != SMTP_REPLY_OK) {
        sess_io_outcome(s, p, rc, SMTP_ST_GREETING, why);
        return -1;
    }
    if (s->reply.code / 100 == 2)
        return 0;
    sb_init(&text, SMTP_REASON_MAX);
    smtp_reply_oneline(&s->reply, &text);
    memcpy(dsn, s->reply.dsn, sizeof(dsn));
    dsn[0] = '4';                       /* a 5xx greeting: try elsewhere */
    sess_outcome_fmt(why, DLV_DEFERRED, dsn,
                     "host %s refused to talk to me: %s", sb_str(&s->name),
                     sb_str(&text));
    sb_release(&text);
    return -1;
}

/* sess_hello - EHLO (HELO after a 5xx) or LHLO. */
int sess_hello(smtp_session *s, const smtp_params *p, smtp_outcome *why)
{
    const char *verb = p->lmtp ? "LHLO" : "EHLO";
    int rc;

    for (int attempt = 0; attempt < 2; attempt++) {
        (void)tio_printf(s->t, "%s %s\r\n", verb, p->helo_name);
        if ((rc = sess_read(s, p, SMTP_ST_HELO)) != SMTP_REPLY_OK) {
            sess_io_outcome(s, p, rc, SMTP_ST_HELO, why);
            return -1;
        }
        if (s->reply.code / 100 == 2) {
            s->esmtp = attempt == 0;
            if (s->esmtp)
                smtp_ehlo_parse(&s->reply, &s->feat);
            return 0;
        }
        if (p->lmtp || s->reply.code / 100 != 5 || attempt > 0)
            break;
        verb = "HELO";
    }
    sess_reply_outcome(s, verb, false, why);
    why->action = DLV_DEFERRED;         /* handshake trouble: next host */
    why->dsn[0] = '4';
    return -1;
}

/* sess_open - connect, greeting, hello. */
static smtp_session *sess_open(const smtp_params *p, const smtp_target *tg,
                               const char *path, smtp_outcome *why)
{
    smtp_session *s = sess_new(p, tg, path);
    strbuf err;
    int ms = p->timeout[SMTP_ST_CONNECT] * 1000;

    sb_init(&err, 512);
    s->fd = path ? smtp_conn_unix(path, ms, &err)
        : smtp_conn_inet(&tg->addr, tg->port, p->bind4, p->bind6, ms, &err);
    if (s->fd < 0) {
        sess_outcome_fmt(why, DLV_DEFERRED, "4.4.1", "connect to %s: %s",
                         sb_str(path ? &s->name : &s->relay), sb_str(&err));
        sb_release(&err);
        sess_free(s);
        return NULL;
    }
    sb_release(&err);
    s->t = tio_open(s->fd, p->timeout[SMTP_ST_GREETING] * 1000);
    s->in_sync = true;                  /* until a read or write fails */
    if (sess_greeting(s, p, why) < 0 || sess_hello(s, p, why) < 0) {
        if (s->in_sync) {               /* a refusal: say goodbye */
            (void)tio_puts(s->t, "QUIT\r\n");
            (void)tio_flush(s->t);
        }
        sess_free(s);
        return NULL;
    }
    return s;
}

/* smtp_session_open - a session, with TLS as the policy says. */
smtp_session *smtp_session_open(const smtp_params *p, const smtp_target *tg,
                                const char *path, const smtp_dest *d,
                                smtp_outcome *why)
{
    smtp_session *s = sess_open(p, tg, path, why);
    enum smtp_tls_result rc;

    if (s == NULL || d == NULL || path != NULL)
        return s;
    if ((rc = smtp_starttls(s, p, d, tg, why)) == SMTP_TLS_OK)
        return s;
    if (rc == SMTP_TLS_RETRY_PLAIN)     /* level may only */
        msg_info("%s: %s; retrying without TLS", sb_str(&s->relay),
                 sb_str(&why->reason));
    smtp_session_close(s, p);           /* QUIT only when in step */
    return rc == SMTP_TLS_RETRY_PLAIN ? sess_open(p, tg, path, why) : NULL;
}

/* smtp_session_rset - RSET before reusing a cached session. */
int smtp_session_rset(smtp_session *s, const smtp_params *p)
{
    if (!s->in_sync)
        return -1;
    (void)tio_puts(s->t, "RSET\r\n");
    if (sess_read(s, p, SMTP_ST_RSET) != SMTP_REPLY_OK
        || s->reply.code / 100 != 2) {
        s->in_sync = false;
        return -1;
    }
    return 0;
}

/* smtp_session_close - QUIT (reply awaited briefly) when in step; free. */
void smtp_session_close(smtp_session *s, const smtp_params *p)
{
    if (s == NULL)
        return;
    if (s->in_sync) {
        (void)tio_puts(s->t, "QUIT\r\n");
        (void)sess_read(s, p, SMTP_ST_QUIT);
    }
    sess_free(s);
}
