/*
 * smtpd_sess - the SMTP server's session and process state, shared by
 * the smtpd_*.c files of this folder only (not an API for other folders).
 *
 * Plug-in points for the parts that come later:
 *  - restrictions: smtpd_restrict() in smtpd_restrict.c runs the
 *    restriction engine (smtpd_check.[ch], restrict_*) at every stage; it
 *    is the only place that decides whether a command may go on.
 *  - STARTTLS: smtpd_verb_starttls() in smtpd_proto.c; sess->tls and
 *    sess->tls_info (the Received: cipher clause) are what tls/ fills, and
 *    tio_set_ops() after tio_discard_input() slides TLS under sess->t.
 *  - AUTH: smtpd_verb_auth() in smtpd_proto.c; sess->sasl_method and
 *    sess->sasl_user are stored in the queue file and logged by client=.
 *  - cleanup: smtpd_queue_*() in smtpd_queue.c is the only path from the
 *    session to the queue file writer (envelope, recipients, content).
 */
#ifndef TERN_SMTPD_SESS_H
#define TERN_SMTPD_SESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dns.h"
#include "common/strbuf.h"
#include "common/tio.h"
#include "conf/conf.h"
#include "queue/qfile.h"
#include "queue/qid.h"
#include "queue/spool.h"
#include "smtpd/smtpd.h"
#include "smtpd/smtpd_args.h"
#include "smtpd/smtpd_check.h"
#include "smtpd/smtpd_fmt.h"
#include "smtpd/smtpd_sasl.h"
#include "queue/cleanup.h"
#include "tls/tls.h"

/* Parameters read once per process. */
struct smtpd_params {
    const char *myhostname, *mail_name, *banner, *myorigin;
    const char *queue_directory;
    size_t line_limit;          /* line_length_limit */
    size_t rcpt_limit;          /* smtpd_recipient_limit */
    uint64_t size_limit;        /* message_size_limit, 0 = none */
    size_t header_limit;        /* header_size_limit */
    int timeout;                /* smtpd_timeout, seconds */
    unsigned hard_limit, soft_limit, junk_limit;
    int error_sleep;            /* smtpd_error_sleep_time, seconds */
    int greet_wait_ms;          /* smtpd_greet_wait: listen before the 220 */
    unsigned conn_limit;        /* smtpd_client_connection_count_limit */
    bool disable_vrfy;
    bool forbid_bare_newline;
    bool sasl_auth_header;      /* smtpd_sasl_authenticated_header */
    unsigned ext;               /* EHLO keywords left after discarding */
};

struct smtpd_ctx {
    const conf *cf;
    char *service;              /* master.cf service name ("smtp") */
    struct smtpd_params p;
    spool sp;
    qid_gen gen;
    dns_ctx *dns;               /* NULL: client names are "unknown" */
    int conn_dirfd;             /* private/.smtpd-clients, -1 = no limit */
    tls_server *tls;            /* smtpd_tls.c: STARTTLS / wrapper mode */
    smtpd_sasl *sasl;           /* smtpd_auth.c: SMTP AUTH */
    cleanup_cfg *cleanup;       /* queue/cleanup: rewriting, header_checks */
    restrict_set *restrictions; /* smtpd_restrict.c: compiled once */
    bool restrict_warned;       /* FILTER/REDIRECT/BCC warning given */
};

/* Counters of the disconnect line, in Postfix's order. */
enum smtpd_cmd_id {
    SMTPD_C_HELO, SMTPD_C_EHLO, SMTPD_C_STARTTLS, SMTPD_C_AUTH, SMTPD_C_MAIL,
    SMTPD_C_RCPT, SMTPD_C_DATA, SMTPD_C_BDAT, SMTPD_C_RSET, SMTPD_C_NOOP,
    SMTPD_C_VRFY, SMTPD_C_ETRN, SMTPD_C_QUIT, SMTPD_C_HELP, SMTPD_C_UNKNOWN,
    SMTPD_C_COUNT
};

/* What a verb's action reports. */
enum smtpd_result {
    SMTPD_OK,                   /* success */
    SMTPD_FAIL,                 /* failed; counts as a client error */
    SMTPD_FAIL_QUIET,           /* failed, not counted as an error */
};

/* The envelope of the open transaction. */
struct smtpd_txn {
    bool active;                /* MAIL accepted */
    struct smtpd_mail_args mail;
    strbuf sender;              /* internal form, qualified; "" = <> */
    size_t nrcpt;
    strbuf first_rcpt;          /* for Received: "for <...>" */
    qfile_writer *w;            /* open queue file, NULL before 1st RCPT */
    cleanup *cl;                /* the cleanup run writing w */
    char qid[QID_SIZE];
    bool bdat;                  /* BDAT chunks have started */
    bool bdat_failed;           /* a chunk failed: refuse until LAST */
    bool received_done;         /* Received: header written */
    bool nul, too_big;          /* content problems found so far */
    uint64_t size;              /* client content bytes */
    bool bdat_cr;               /* BDAT: the previous byte was CR */
    bool bdat_lf;               /* BDAT: the previous byte was LF */
    bool write_failed;          /* a queue file write failed */
};

typedef struct smtpd_sess {
    smtpd_ctx *ctx;
    tio *t;
    int fd;
    char addr[DNS_TEXT_ADDR];   /* client address text */
    strbuf name;                /* verified client name or "unknown" */
    strbuf namaddr;             /* "name[addr]" for log lines */
    strbuf line;                /* the current command line */
    strbuf reply;               /* scratch for replies */
    strbuf tmp;                 /* scratch */
    strbuf helo;                /* HELO/EHLO argument, "" = none */
    bool esmtp;                 /* EHLO was used */
    unsigned ext;               /* extensions offered (after EHLO) */
    bool trusted;               /* client in mynetworks */
    bool tls;                   /* filled by tls/ after STARTTLS */
    tls_conn *tls_conn;         /* smtpd_tls.c; freed after tio_free */
    strbuf tls_info;            /* Received: cipher clause, "" = none */
    strbuf sasl_method, sasl_user;   /* filled by AUTH (smtpd_auth.c) */
    smtpd_sasl_conn *sasl;      /* smtpd_auth.c; NULL: AUTH disabled */
    struct smtpd_txn txn;
    unsigned errors, junk;
    struct smtpd_count counts[SMTPD_C_COUNT];
    const char *where;           /* "CONNECT", "EHLO", ... for log lines */
    bool ill_pipelining;        /* improper pipelining seen (sticky) */
    bool quit;                  /* end the session after this command */
    /* a line read ahead to log improper pipelining */
    bool have_stash;
    enum tio_status stash_status;
    unsigned stash_flags;
    strbuf stash;
    int conn_fd;                /* connection-count lock, -1 = none */
    struct smtpd_rx *rx;        /* smtpd_restrict.c: restriction state */
} smtpd_sess;

/* smtpd_proto.c */
void smtpd_reply(smtpd_sess *s, const char *text);
void smtpd_replyf(smtpd_sess *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void smtpd_log_reject(smtpd_sess *s, const char *stage, const char *reply,
                      const char *rcpt);
void smtpd_txn_reset(smtpd_sess *s);
int smtpd_io_status(smtpd_sess *s, enum tio_status st);

/* smtpd_mail.c */
int smtpd_addr_internal(smtpd_sess *s, const addr *a, strbuf *out);
enum smtpd_result smtpd_verb_mail(smtpd_sess *s, const char *arg, size_t len);
enum smtpd_result smtpd_verb_rcpt(smtpd_sess *s, const char *arg, size_t len);

/* smtpd_data.c */
enum smtpd_result smtpd_verb_data(smtpd_sess *s, const char *arg, size_t len);
enum smtpd_result smtpd_verb_bdat(smtpd_sess *s, const char *arg, size_t len);

/* smtpd_queue.c: the one path to the queue file, through queue/cleanup */
int smtpd_queue_open(smtpd_sess *s);
int smtpd_queue_rcpt(smtpd_sess *s, const struct smtpd_rcpt_args *r,
                     const char *address);
int smtpd_queue_content(smtpd_sess *s, const char *buf, size_t len);
int smtpd_queue_commit(smtpd_sess *s, strbuf *reply);
void smtpd_queue_abort(smtpd_sess *s);

/* smtpd_restrict.c: the restriction engine in the session */
int smtpd_restrict_ctx_open(smtpd_ctx *ctx, strbuf *why);
void smtpd_restrict_ctx_free(smtpd_ctx *ctx);
void smtpd_restrict_start(smtpd_sess *s);
void smtpd_restrict_end(smtpd_sess *s);
void smtpd_restrict_reset(smtpd_sess *s);
const char *smtpd_restrict(smtpd_sess *s, enum restrict_stage stage,
                           const char *address);
bool smtpd_restrict_connect(smtpd_sess *s);
const char *smtpd_restrict_gate(smtpd_sess *s, const char *verb);
const char *smtpd_restrict_helo(smtpd_sess *s);
enum smtpd_result smtpd_restrict_vrfy(smtpd_sess *s, const char *arg,
                                      size_t len);
int smtpd_restrict_prepend(smtpd_sess *s);
bool smtpd_restrict_hold(const smtpd_sess *s);
bool smtpd_restrict_discard(const smtpd_sess *s);

/* smtpd_tls.c: STARTTLS, wrapper mode, the encrypt gate, TLS EHLO words */
void smtpd_tls_ctx_free(smtpd_ctx *ctx);
unsigned smtpd_tls_ext(const smtpd_sess *s, unsigned ext);
const char *smtpd_tls_gate(const smtpd_sess *s, const char *verb);
enum smtpd_result smtpd_tls_starttls(smtpd_sess *s, const char *arg,
                                     size_t len);
bool smtpd_tls_wrapper(smtpd_sess *s);
void smtpd_tls_end(smtpd_sess *s);

/* smtpd_auth.c: SMTP AUTH (smtpd_sasl) in the session */
int smtpd_auth_ctx_open(smtpd_ctx *ctx, strbuf *why);
void smtpd_auth_ctx_free(smtpd_ctx *ctx);
void smtpd_auth_start(smtpd_sess *s);
void smtpd_auth_end(smtpd_sess *s);
unsigned smtpd_auth_ext(const smtpd_sess *s, unsigned ext);
void smtpd_auth_ehlo(smtpd_sess *s, bool last);
enum smtpd_result smtpd_auth_verb(smtpd_sess *s, const char *arg, size_t len);

/* smtpd_client.c */
void smtpd_client_identify(smtpd_sess *s);
int smtpd_client_conn_open(smtpd_ctx *ctx);
bool smtpd_client_conn_take(smtpd_sess *s);
void smtpd_client_conn_release(smtpd_sess *s);

#endif
