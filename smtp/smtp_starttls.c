/*
 * smtp_starttls - TLS policy lookup and the STARTTLS step of the smtp
 * client (see smtp_starttls.h).
 *
 * Owns the process's TLS engine (tls/), its smtp_tls_policy_maps and the
 * smtp_tls_servername choice. Every failure is an outcome with Postfix's
 * words and a 4.7.x code; nothing a server does ends the process.
 */
#include <stdlib.h>
#include <string.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "maps/maps.h"
#include "smtp/smtp_sess_int.h"
#include "smtp/smtp_starttls.h"

#define STLS_KEY_MAX 8192

struct smtp_tls {
    const conf *c;
    tls_client *engine;         /* NULL until a level other than none is used */
    maplist *policy;            /* smtp_tls_policy_maps, NULL = none */
    const char *servername;     /* smtp_tls_servername */
    bool engine_tried;          /* tls_client_open ran */
};

/* smtp_tls_open - tables now; the engine on first use. */
smtp_tls *smtp_tls_open(const conf *c, strbuf *why)
{
    smtp_tls *st = xcalloc(1, sizeof(*st));
    const char *maps = conf_get_str(c, "smtp_tls_policy_maps");
    struct tls_policy pol;
    int rc;

    st->c = c;
    st->servername = conf_get_str(c, "smtp_tls_servername");
    if (maps[0] != '\0'
        && (st->policy = maplist_open(maps, MAP_F_FOLD, why)) == NULL) {
        free(st);
        return NULL;
    }
    tls_policy_init(&pol);              /* the main.cf level must make sense */
    rc = tls_policy_make(c, NULL, &pol, why);
    tls_policy_release(&pol);
    if (rc < 0) {
        smtp_tls_free(st);
        return NULL;
    }
    return st;
}

/* smtp_tls_free - engine and tables. */
void smtp_tls_free(smtp_tls *st)
{
    if (st == NULL)
        return;
    tls_client_free(st->engine);
    maplist_close(st->policy);
    free(st);
}

/* stls_engine - the TLS engine, made once (failures are logged there). */
static tls_client *stls_engine(smtp_tls *st)
{
    strbuf err;

    if (!st->engine_tried) {
        st->engine_tried = true;
        sb_init(&err, 1024);
        if ((st->engine = tls_client_open(st->c, &err)) == NULL)
            msg_warn("%s: disabling TLS support", sb_str(&err));
        sb_release(&err);
    }
    return st->engine;
}

/* stls_lookup - the policy table's value for nexthop, Postfix's order. */
static int stls_lookup(smtp_tls *st, const char *nexthop, strbuf *value)
{
    bool plain = strpbrk(nexthop, "[]:/") == NULL;
    const char *key = nexthop;
    int rc;

    for (int i = 0; i < 128 && key != NULL; i++) {
        if ((rc = maplist_lookup(st->policy, key, value)) != MAP_NOTFOUND)
            return rc;
        key = plain && key[0] != '\0' ? strchr(key + 1, '.') : NULL;
    }
    return MAP_NOTFOUND;
}

/* smtp_tls_policy - the table's entry over the main.cf defaults. */
int smtp_tls_policy(smtp_tls *st, const char *nexthop, const char *domain,
                    struct tls_policy *pol, char dsn[SMTP_DSN_SIZE],
                    strbuf *why)
{
    strbuf value, err;
    int rc = MAP_NOTFOUND;

    (void)domain;
    sb_init(&value, MAP_LINE_MAX);
    sb_init(&err, 1024);
    if (st->policy != NULL)
        rc = stls_lookup(st, nexthop, &value);
    if (rc == MAP_ERROR) {
        (void)fmt_fixed(dsn, SMTP_DSN_SIZE, "4.3.0");
        (void)sb_printf(why, "TLS policy lookup for %s: table lookup error",
                        nexthop);
    } else if (tls_policy_make(st->c, rc == MAP_FOUND ? sb_str(&value) : NULL,
                               pol, &err) < 0) {
        (void)fmt_fixed(dsn, SMTP_DSN_SIZE, "4.7.5");
        (void)sb_printf(why, "TLS policy lookup for %s: %s", nexthop,
                        sb_str(&err));
        rc = MAP_ERROR;
    } else if (pol->level >= TLS_LEV_DANE) {
        (void)fmt_fixed(dsn, SMTP_DSN_SIZE, "4.7.5");
        (void)sb_printf(why, "TLS is required, but TLS security level \"%s\" "
                        "is not supported yet", tls_level_name(pol->level));
        rc = MAP_ERROR;
    }
    if (rc == MAP_ERROR)
        msg_warn("%s", sb_str(why));
    sb_release(&value);
    sb_release(&err);
    return rc == MAP_ERROR ? -1 : 0;
}

/* stls_sni - the server name to send, per smtp_tls_servername. */
static const char *stls_sni(const smtp_tls *st, const smtp_dest *d,
                            const smtp_target *tg)
{
    if (strcmp(st->servername, "hostname") == 0)
        return tg->host;
    if (strcmp(st->servername, "nexthop") == 0)
        return d->domain;
    return st->servername;              /* "" = none, or a literal */
}

/* stls_cache_key - server, SNI and the whole policy. */
static void stls_cache_key(const smtp_session *s, const struct tls_policy *pol,
                           const char *sni, strbuf *key)
{
    (void)sb_printf(key, "%s&%s&%s&%s&%s&%s&%s", sb_str(&s->relay),
                    tls_level_name(pol->level), sni, sb_str(&pol->match),
                    sb_str(&pol->protocols), sb_str(&pol->ciphers),
                    sb_str(&pol->exclude));
}

/* stls_handshake - TLS on s after a 220 to STARTTLS; the verdict too. */
static enum smtp_tls_result stls_handshake(smtp_session *s, smtp_tls *st,
                                           const smtp_dest *d,
                                           const smtp_target *tg,
                                           smtp_outcome *why)
{
    const struct tls_policy *pol = d->tls_policy;
    const char *sni = stls_sni(st, d, tg);
    struct tls_peer peer = {
        .namaddrport = sb_str(&s->relay), .host = tg->host,
        .host_from_mx = tg->pref > 0 || strcmp(tg->host, d->domain) != 0,
        .nexthop = d->domain, .sni = sni,
    };
    strbuf err, key;

    sb_init(&err, SMTP_REASON_MAX);
    sb_init(&key, STLS_KEY_MAX);
    stls_cache_key(s, pol, sni, &key);
    peer.cache_key = sb_str(&key);
    s->tls = tls_client_start(st->engine, s->t, pol, &peer, &err);
    sb_release(&key);
    if (s->tls == NULL) {
        s->in_sync = false;
        sess_outcome_fmt(why, DLV_DEFERRED, "4.7.5",
                         "Cannot start TLS: handshake failure");
        sb_release(&err);
        return pol->level == TLS_LEV_MAY ? SMTP_TLS_RETRY_PLAIN : SMTP_TLS_FAIL;
    }
    if (tls_client_enforce(s->tls, pol->level, &err) < 0) {
        sess_outcome_fmt(why, DLV_DEFERRED, "4.7.5", "%s", sb_str(&err));
        sb_release(&err);
        return SMTP_TLS_FAIL;
    }
    sb_release(&err);
    return SMTP_TLS_OK;
}

/* stls_command - STARTTLS and its reply; OK means "start the handshake". */
static enum smtp_tls_result stls_command(smtp_session *s,
                                         const smtp_params *p, bool required,
                                         smtp_outcome *why)
{
    strbuf text;
    int rc;

    (void)tio_puts(s->t, "STARTTLS\r\n");
    if ((rc = sess_read(s, p, SMTP_ST_HELO)) != SMTP_REPLY_OK) {
        sess_io_outcome(s, p, rc, SMTP_ST_HELO, why);
        return SMTP_TLS_FAIL;
    }
    if (s->reply.code / 100 == 2)
        return SMTP_TLS_OK;
    if (!required)
        return SMTP_TLS_RETRY_PLAIN;    /* the caller goes on in plaintext */
    sb_init(&text, SMTP_REASON_MAX);
    smtp_reply_oneline(&s->reply, &text);
    sess_outcome_fmt(why, DLV_DEFERRED, s->reply.code / 100 == 4
                     || s->reply.code / 100 == 5 ? s->reply.dsn : "4.7.0",
                     "TLS is required, but host %s refused to start TLS: %s",
                     sb_str(&s->name), sb_str(&text));
    why->dsn[0] = '4';                  /* never a bounce: try again later */
    sb_release(&text);
    return SMTP_TLS_FAIL;
}

/* smtp_starttls - STARTTLS as the policy requires, then EHLO again. */
enum smtp_tls_result smtp_starttls(smtp_session *s, const smtp_params *p,
                                   const smtp_dest *d, const smtp_target *tg,
                                   smtp_outcome *why)
{
    const struct tls_policy *pol = d->tls_policy;
    bool required;
    enum smtp_tls_result rc;

    if (pol == NULL || pol->level == TLS_LEV_NONE || tg == NULL
        || d->tls == NULL || p->lmtp)
        return SMTP_TLS_OK;
    required = tls_level_required(pol->level);
    if (!s->esmtp || !(s->feat.flags & SMTP_FEAT_STARTTLS)) {
        if (!required)
            return SMTP_TLS_OK;
        sess_outcome_fmt(why, DLV_DEFERRED, "4.7.4", "TLS is required, but "
                         "was not offered by host %s", sb_str(&s->name));
        return SMTP_TLS_FAIL;
    }
    if (stls_engine(d->tls) == NULL || !tls_client_ready(d->tls->engine)) {
        if (!required)
            return SMTP_TLS_OK;
        sess_outcome_fmt(why, DLV_DEFERRED, "4.7.5", "TLS is required, but "
                         "our TLS engine is unavailable");
        return SMTP_TLS_FAIL;
    }
    if ((rc = stls_command(s, p, required, why)) != SMTP_TLS_OK)
        return rc == SMTP_TLS_RETRY_PLAIN ? SMTP_TLS_OK : rc;
    if ((rc = stls_handshake(s, d->tls, d, tg, why)) != SMTP_TLS_OK)
        return rc;
    return sess_hello(s, p, why) == 0 ? SMTP_TLS_OK : SMTP_TLS_FAIL;
}
