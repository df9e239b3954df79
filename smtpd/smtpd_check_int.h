/*
 * smtpd_check_int.h - private to the restriction engine (smtpd_check.c,
 * smtpd_rules.c, smtpd_access.c, smtpd_net.c). Not for smtpd's other
 * files: they use smtpd_check.h only.
 */
#ifndef TERN_SMTPD_CHECK_INT_H
#define TERN_SMTPD_CHECK_INT_H

#include <stdbool.h>

#include "common/cidr.h"
#include "common/strbuf.h"
#include "conf/conf.h"
#include "maps/maps.h"
#include "queue/route.h"
#include "smtpd/smtpd_check.h"

#define RESTRICT_TEXT_MAX 4096      /* replies, log lines, addresses */
#define RESTRICT_REPLY_MAX 510      /* an SMTP reply line, as Postfix cuts */
#define RESTRICT_DEPTH_MAX 100      /* restriction names inside tables */

/* What a restriction returns (STYLE.md rule 10). */
enum restrict_result { R_DUNNO = 0, R_OK, R_REJECT, R_DEFER };

/* Why a reply is an error: only policy ones obey warn_if_reject. */
enum restrict_class { EC_POLICY, EC_BOUNCE, EC_DATA, EC_SOFTWARE };

/* The data a restriction needs (restrict_def.needs). */
#define NEED_HELO   (1u << 0)
#define NEED_SENDER (1u << 1)
#define NEED_RCPT   (1u << 2)
#define NEED_ETRN   (1u << 3)

/* The argument a restriction takes. */
enum restrict_arg { ARG_NONE, ARG_TABLE, ARG_WORD };

struct rctx;
struct restrict_rule;
typedef enum restrict_result (*restrict_fn)(struct rctx *x,
                                            const struct restrict_rule *r);

/* One known restriction name. fn NULL: known, not supported yet. */
struct restrict_def {
    const char *name;
    restrict_fn fn;
    unsigned needs;             /* NEED_* */
    enum restrict_arg arg;
};

/* One compiled list item. */
struct restrict_rule {
    const struct restrict_def *def;
    char *arg;                  /* ARG_TABLE/ARG_WORD text */
    maplist *maps;              /* ARG_TABLE, opened at compile */
};

struct restrict_list {
    struct restrict_rule *v;
    size_t n;
};

/* The lists, in evaluation order of a RCPT with smtpd_delay_reject. */
enum restrict_chain {
    CH_CLIENT, CH_HELO, CH_SENDER, CH_RELAY, CH_RECIPIENT, CH_DATA, CH_EOD,
    CH_ETRN, CH_N
};

/* One mynetworks item. */
struct restrict_net {
    bool neg;
    enum { NET_CIDR, NET_TABLE, NET_NAME } kind;
    struct cidr net;
    map *table;
    char *name;                 /* NET_NAME: lower case host/domain */
};

struct restrict_set {
    const conf *conf;
    route_ctx *route;
    struct restrict_list chains[CH_N];
    struct restrict_net *nets;  /* mynetworks */
    size_t nnets;
    bool nets_parent;           /* mynetworks in parent_domain_matches_... */
    bool local_check;           /* local_recipient_maps is not empty */
    bool local_passwd;          /* ... and names unix:passwd.byname */
    maplist *local_maps;        /* ... its other tables (NULL: none) */
    maplist *valias, *vmailbox, *relay_rcpt, *login_maps;
    char *delims;               /* recipient_delimiter */
    char *null_key;             /* smtpd_null_access_lookup_key */
    char *double_bounce;        /* double_bounce_sender */
    bool delay_reject, helo_required, unlisted_rcpt, unlisted_sender;
    bool show_table, access_parent, untrusted_routing;
    int code_reject, code_defer, code_map_reject, code_map_defer;
    int code_relay, code_local, code_valias, code_vmailbox, code_relay_rcpt;
    int code_nonfqdn, code_badname, code_mulrcpt;
};

/* A DEFER_IF_PERMIT or DEFER_IF_REJECT waiting to be applied. */
struct restrict_defer {
    bool active;
    int code;
    char dsn[16];
    strbuf reason;
};

struct restrict_session {
    restrict_set *rs;
    struct restrict_defer dip;  /* defer_if_permit, text of the first */
    bool dip_client, dip_helo, dip_sender;
    bool hold, discard;         /* of the current message */
};

/* The evaluation context of one restrict_check(). */
struct rctx {
    restrict_session *ss;
    restrict_set *rs;
    const struct restrict_state *st;
    struct restrict_verdict *v;
    enum restrict_stage stage;
    const char *where;          /* "RCPT", "EHLO", "END-OF-MESSAGE", ... */
    enum restrict_chain chain;
    const char *reply_name;     /* what <...> shows in a reply */
    const char *reply_class;    /* "Recipient address", ... */
    const char *helo, *sender, *recipient;    /* as seen by this check */
    int recursion, warn;        /* warn_if_reject: level that set it */
    struct restrict_defer dir;  /* defer_if_reject */
    bool rcpt_checked, sender_checked;
    bool stop;                  /* a temporary or server error ends it all */
    strbuf namaddr;             /* "host[addr]" */
    strbuf qsender, qrcpt;      /* quoted display forms */
};

/* ---- smtpd_check.c ---- */
enum restrict_result restrict_reject(struct rctx *x, enum restrict_class ec,
                                     int code, const char *dsn,
                                     const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void restrict_log(struct rctx *x, const char *whatsup, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
enum restrict_result restrict_defer_if(struct restrict_defer *d, int code,
                                       const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
enum restrict_result restrict_tempfail(struct rctx *x, const char *name);
enum restrict_result restrict_server_error(struct rctx *x);
enum restrict_result restrict_run_list(struct rctx *x,
                                       const struct restrict_list *l);
int restrict_compile_list(restrict_set *rs, const char *param,
                          const char *value, enum restrict_chain ch,
                          bool nested, struct restrict_list *out,
                          strbuf *err);
void restrict_list_free(struct restrict_list *l);
const char *restrict_quote(strbuf *out, const char *addr);

/* ---- smtpd_rules.c ---- */
const struct restrict_def *restrict_find_def(const char *name);
const struct restrict_def *restrict_access_def(enum restrict_chain ch);
enum restrict_result restrict_rcpt_maps(struct rctx *x, const char *addr,
                                        bool is_sender);

/* ---- smtpd_access.c ---- */
enum restrict_result restrict_check_client_access(struct rctx *x,
                                                  const struct restrict_rule *r);
enum restrict_result restrict_check_helo_access(struct rctx *x,
                                                const struct restrict_rule *r);
enum restrict_result restrict_check_sender_access(struct rctx *x,
                                                  const struct restrict_rule *r);
enum restrict_result restrict_check_rcpt_access(struct rctx *x,
                                                const struct restrict_rule *r);
/* restrict_access_action - apply one access(5) value found in table. */
enum restrict_result restrict_access_action(struct rctx *x, const char *value,
                                            const char *table);

/* ---- smtpd_net.c ---- */
int restrict_net_compile(restrict_set *rs, strbuf *err);
void restrict_net_free(restrict_set *rs);

#endif
