/*
 * smtpd_proto - the SMTP server's command loop and verb table (STYLE.md
 * rule 11): {verb, flags, check, act}. Lines are bounded by
 * line_length_limit where they are read; bare CR/LF in a command ends the
 * session (smtpd_forbid_bare_newline), NUL is a syntax error. Pipelining
 * is checked before every command (reject_unauth_pipelining's rule), the
 * error, junk and time limits at every turn. Owns the session struct for
 * the length of smtpd_serve(); every failure is a reply and a log line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "smtpd/smtpd_sess.h"

/* Verb flags. */
#define V_LAST   (1u << 0)      /* must end a pipelined group (RFC 2920) */
#define V_JUNK   (1u << 1)      /* counts toward smtpd_junk_command_limit */
#define V_NOPIPE (1u << 2)      /* no pipelining check (BDAT data, QUIT) */

typedef enum smtpd_result (*smtpd_act_fn)(smtpd_sess *s, const char *arg,
                                          size_t len);
typedef const char *(*smtpd_check_fn)(const smtpd_sess *s);

struct smtpd_verb {
    const char *name;
    unsigned flags;
    enum smtpd_cmd_id id;
    smtpd_check_fn check;       /* NULL, or a 503 reply when out of order */
    smtpd_act_fn act;
};

/* reply_strip_enhanced - "250 2.0.0 Ok" to "250 Ok" when not offered. */
static const char *reply_strip_enhanced(const char *text)
{
    size_t n = 4;

    if (strlen(text) < 10 || (text[3] != ' ' && text[3] != '-'))
        return text;
    while (text[n] && (text[n] == '.' || (text[n] >= '0' && text[n] <= '9')))
        n++;
    return text[n] == ' ' && n > 8 ? text + n + 1 : text;
}

/* smtpd_reply - one reply line; error replies past the soft limit wait. */
void smtpd_reply(smtpd_sess *s, const char *text)
{
    const struct smtpd_params *p = &s->ctx->p;
    const char *rest = text;

    if (text[0] >= '4' && text[0] <= '5' && strncmp(text, "421", 3) != 0
        && s->errors >= p->soft_limit && p->error_sleep > 0) {
        (void)tio_flush(s->t);
        (void)sleep((unsigned)p->error_sleep);
    }
    if ((p->ext & SMTPD_EXT_ENHANCED) == 0)
        rest = reply_strip_enhanced(text);
    if (rest != text)
        (void)tio_printf(s->t, "%.3s%c%s\r\n", text, text[3], rest);
    else
        (void)tio_printf(s->t, "%s\r\n", text);
}

/* smtpd_replyf - a formatted reply line. */
void smtpd_replyf(smtpd_sess *s, const char *fmt, ...)
{
    va_list ap;

    sb_reset(&s->reply);
    va_start(ap, fmt);
    if (sb_vprintf(&s->reply, fmt, ap) < 0)
        (void)sb_set(&s->reply, "451 4.3.0 Error: internal reply too long");
    va_end(ap);
    smtpd_reply(s, sb_str(&s->reply));
}

/* smtpd_log_reject - Postfix's reject line for a refused command. */
void smtpd_log_reject(smtpd_sess *s, const char *stage, const char *reply,
                      const char *rcpt)
{
    strbuf *b = &s->tmp;

    sb_reset(b);
    (void)sb_printf(b, "%s: %s: %s from %s: %s;",
                    s->txn.qid[0] ? s->txn.qid : "NOQUEUE",
                    reply[0] == '4' ? "defer" : "reject", stage,
                    sb_str(&s->namaddr), reply);
    if (s->txn.active)
        (void)sb_printf(b, " from=<%s>", sb_str(&s->txn.sender));
    if (rcpt)
        (void)sb_printf(b, " to=<%s>", rcpt);
    (void)sb_printf(b, " proto=%s", s->esmtp ? "ESMTP" : "SMTP");
    if (sb_len(&s->helo))
        (void)sb_printf(b, " helo=<%s>", sb_str(&s->helo));
    msg_info("%s", sb_str(b));
}

/* smtpd_txn_reset - forget the transaction; an open queue file is removed. */
void smtpd_txn_reset(smtpd_sess *s)
{
    struct smtpd_txn *x = &s->txn;

    smtpd_queue_abort(s);
    smtpd_mail_args_release(&x->mail);
    smtpd_mail_args_init(&x->mail);
    sb_reset(&x->sender);
    sb_reset(&x->first_rcpt);
    x->active = x->bdat = x->bdat_failed = x->received_done = false;
    x->nul = x->too_big = x->bdat_cr = x->bdat_lf = x->write_failed = false;
    x->nrcpt = 0;
    x->size = 0;
    x->qid[0] = '\0';
    smtpd_restrict_reset(s);    /* the message's HOLD/DISCARD/PREPEND */
}

/* smtpd_io_status - log (and answer) a failed read; returns -1. */
int smtpd_io_status(smtpd_sess *s, enum tio_status st)
{
    char size[48] = "";

    if (s->txn.active && (strcmp(s->where, "DATA") == 0
                          || strcmp(s->where, "BDAT") == 0))
        (void)fmt_fixed(size, sizeof(size), " (%llu bytes)",
                        (unsigned long long)s->txn.size);
    if (st == TIO_TIMEOUT) {
        smtpd_replyf(s, "421 4.4.2 %s Error: timeout exceeded",
                     s->ctx->p.myhostname);
        (void)tio_flush(s->t);
        msg_info("timeout after %s%s from %s", s->where, size,
                 sb_str(&s->namaddr));
    } else {
        msg_info("lost connection after %s%s from %s", s->where, size,
                 sb_str(&s->namaddr));
    }
    s->quit = true;
    return -1;
}

/* arg_trim - skip leading and trailing blanks of an argument. */
static size_t arg_trim(const char **arg, size_t len)
{
    while (len > 0 && (**arg == ' ' || **arg == '\t'))
        (*arg)++, len--;
    while (len > 0 && ((*arg)[len - 1] == ' ' || (*arg)[len - 1] == '\t'))
        len--;
    return len;
}

/* verb_hello - shared part of HELO and EHLO. */
static enum smtpd_result verb_hello(smtpd_sess *s, const char *arg,
                                    size_t len, bool esmtp)
{
    const char *why;

    len = arg_trim(&arg, len);
    if (len == 0) {
        smtpd_reply(s, esmtp ? "501 5.5.4 Syntax: EHLO hostname"
                    : "501 5.5.4 Syntax: HELO hostname");
        return SMTPD_FAIL;
    }
    smtpd_txn_reset(s);
    sb_reset(&s->helo);
    for (size_t i = 0; i < len; i++)    /* kept for headers and logs */
        if (sb_putc(&s->helo, (unsigned char)arg[i] < 0x20
                    || arg[i] == 0x7f ? '?' : arg[i]) < 0)
            break;
    s->esmtp = esmtp;
    s->ext = esmtp ? smtpd_auth_ext(s, smtpd_tls_ext(s, s->ctx->p.ext)) : 0;
    if ((why = smtpd_restrict_helo(s)) != NULL) {
        smtpd_reply(s, why);
        return SMTPD_FAIL;
    }
    return SMTPD_OK;
}

/* verb_helo - HELO hostname. */
static enum smtpd_result verb_helo(smtpd_sess *s, const char *arg, size_t len)
{
    enum smtpd_result r = verb_hello(s, arg, len, false);

    if (r == SMTPD_OK)
        smtpd_replyf(s, "250 %s", s->ctx->p.myhostname);
    return r;
}

/* verb_ehlo - EHLO hostname: the keywords left after discarding. */
static enum smtpd_result verb_ehlo(smtpd_sess *s, const char *arg, size_t len)
{
    static const struct { unsigned ext; const char *word; } kw[] = {
        {SMTPD_EXT_PIPELINING, "PIPELINING"}, {SMTPD_EXT_SIZE, "SIZE"},
        {SMTPD_EXT_VRFY, "VRFY"}, {SMTPD_EXT_ETRN, "ETRN"},
        {SMTPD_EXT_STARTTLS, "STARTTLS"}, {SMTPD_EXT_AUTH, "AUTH"},
        {SMTPD_EXT_ENHANCED, "ENHANCEDSTATUSCODES"},
        {SMTPD_EXT_8BITMIME, "8BITMIME"}, {SMTPD_EXT_DSN, "DSN"},
        {SMTPD_EXT_SMTPUTF8, "SMTPUTF8"}, {SMTPD_EXT_CHUNKING, "CHUNKING"},
    };
    enum smtpd_result r = verb_hello(s, arg, len, true);
    size_t n = sizeof(kw) / sizeof(kw[0]), last = 0;

    if (r != SMTPD_OK)
        return r;
    for (size_t i = 0; i < n; i++)
        if (s->ext & kw[i].ext)
            last = i + 1;
    (void)tio_printf(s->t, "250%c%s\r\n", last ? '-' : ' ',
                     s->ctx->p.myhostname);
    for (size_t i = 0; i < last; i++) {
        if ((s->ext & kw[i].ext) == 0)
            continue;
        if (kw[i].ext == SMTPD_EXT_AUTH) {      /* mechanisms: smtpd_auth.c */
            smtpd_auth_ehlo(s, i + 1 == last);
            continue;
        }
        (void)tio_printf(s->t, "250%c%s", i + 1 == last ? ' ' : '-',
                         kw[i].word);
        if (kw[i].ext == SMTPD_EXT_SIZE && s->ctx->p.size_limit > 0)
            (void)tio_printf(s->t, " %llu",
                             (unsigned long long)s->ctx->p.size_limit);
        (void)tio_puts(s->t, "\r\n");
    }
    return SMTPD_OK;
}

/* verb_noarg - the shared "no argument allowed" check. */
static bool verb_noarg(smtpd_sess *s, const char *arg, size_t len,
                       const char *syntax)
{
    if (arg_trim(&arg, len) == 0)
        return true;
    smtpd_reply(s, syntax);
    return false;
}

/* verb_rset - RSET. */
static enum smtpd_result verb_rset(smtpd_sess *s, const char *arg, size_t len)
{
    if (!verb_noarg(s, arg, len, "501 5.5.4 Syntax: RSET"))
        return SMTPD_FAIL;
    smtpd_txn_reset(s);
    smtpd_reply(s, "250 2.0.0 Ok");
    return SMTPD_OK;
}

/* verb_noop - NOOP (arguments are allowed and ignored, RFC 5321). */
static enum smtpd_result verb_noop(smtpd_sess *s, const char *arg, size_t len)
{
    (void)arg;
    (void)len;
    smtpd_reply(s, "250 2.0.0 Ok");
    return SMTPD_OK;
}

/* verb_quit - QUIT. */
static enum smtpd_result verb_quit(smtpd_sess *s, const char *arg, size_t len)
{
    (void)arg;
    (void)len;
    smtpd_reply(s, "221 2.0.0 Bye");
    s->quit = true;
    return SMTPD_OK;
}

/* verb_vrfy - VRFY: 252 (cannot verify, will try) unless disabled. */
static enum smtpd_result verb_vrfy(smtpd_sess *s, const char *arg, size_t len)
{
    if (s->ctx->p.disable_vrfy) {
        smtpd_reply(s, "502 5.5.1 VRFY command is disabled");
        return SMTPD_FAIL;
    }
    if ((len = arg_trim(&arg, len)) == 0) {
        smtpd_reply(s, "501 5.5.4 Syntax: VRFY address");
        return SMTPD_FAIL;
    }
    return smtpd_restrict_vrfy(s, arg, len);   /* the RCPT lists, 252 */
}

/* verb_help - HELP: the commands this server knows. */
static enum smtpd_result verb_help(smtpd_sess *s, const char *arg, size_t len)
{
    (void)arg;
    (void)len;
    smtpd_reply(s, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET "
                "NOOP VRFY HELP QUIT");
    return SMTPD_OK;
}

/* verb_etrn - ETRN is not offered (no fast flush service). */
static enum smtpd_result verb_etrn(smtpd_sess *s, const char *arg, size_t len)
{
    (void)arg;
    (void)len;
    smtpd_reply(s, "502 5.5.1 Error: command not implemented");
    return SMTPD_FAIL;
}

/* verb_starttls - STARTTLS: smtpd_tls.c (handshake, then a fresh session). */
static enum smtpd_result verb_starttls(smtpd_sess *s, const char *arg,
                                       size_t len)
{
    return smtpd_tls_starttls(s, arg, len);
}

/* verb_auth - AUTH: smtpd_auth.c (SASL exchange, sasl_method/sasl_user). */
static enum smtpd_result verb_auth(smtpd_sess *s, const char *arg, size_t len)
{
    return smtpd_auth_verb(s, arg, len);
}

/* check_mail - MAIL only outside a transaction. */
static const char *check_mail(const smtpd_sess *s)
{
    return s->txn.active ? "503 5.5.1 Error: nested MAIL command" : NULL;
}

/* check_rcpt - RCPT only inside a transaction. */
static const char *check_rcpt(const smtpd_sess *s)
{
    return s->txn.active ? NULL : "503 5.5.1 Error: need MAIL command";
}

/* check_data - DATA needs recipients and no BDAT before it. */
static const char *check_data(const smtpd_sess *s)
{
    if (!s->txn.active)
        return "503 5.5.1 Error: need RCPT command";
    if (s->txn.bdat)
        return "503 5.5.1 Error: DATA command after BDAT";
    if (s->txn.nrcpt == 0)
        return "554 5.5.1 Error: no valid recipients";
    return NULL;
}

/* The verbs, in the order of the disconnect line's counters. */
static const struct smtpd_verb smtpd_verbs[] = {
    {"HELO", V_LAST, SMTPD_C_HELO, NULL, verb_helo},
    {"EHLO", V_LAST, SMTPD_C_EHLO, NULL, verb_ehlo},
    {"STARTTLS", V_LAST, SMTPD_C_STARTTLS, NULL, verb_starttls},
    {"AUTH", V_LAST, SMTPD_C_AUTH, NULL, verb_auth},
    {"MAIL", 0, SMTPD_C_MAIL, check_mail, smtpd_verb_mail},
    {"RCPT", 0, SMTPD_C_RCPT, check_rcpt, smtpd_verb_rcpt},
    {"DATA", V_LAST, SMTPD_C_DATA, check_data, smtpd_verb_data},
    {"BDAT", V_NOPIPE, SMTPD_C_BDAT, NULL, smtpd_verb_bdat},
    {"RSET", V_JUNK, SMTPD_C_RSET, NULL, verb_rset},
    {"NOOP", V_LAST | V_JUNK, SMTPD_C_NOOP, NULL, verb_noop},
    {"VRFY", V_LAST | V_JUNK, SMTPD_C_VRFY, NULL, verb_vrfy},
    {"ETRN", V_LAST | V_JUNK, SMTPD_C_ETRN, NULL, verb_etrn},
    {"QUIT", V_NOPIPE, SMTPD_C_QUIT, NULL, verb_quit},
    {"HELP", V_LAST, SMTPD_C_HELP, NULL, verb_help},
};

/* Counter names, indexed by enum smtpd_cmd_id. */
static const char *const smtpd_count_names[SMTPD_C_COUNT] = {
    "helo", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "bdat",
    "rset", "noop", "vrfy", "etrn", "quit", "help", "unknown",
};

/* read_line - the next command line: a read-ahead one first. */
static enum tio_status read_line(smtpd_sess *s, unsigned *flags)
{
    if (s->have_stash) {
        s->have_stash = false;
        sb_reset(&s->line);
        (void)sb_append(&s->line, sb_str(&s->stash), sb_len(&s->stash));
        *flags = s->stash_flags;
        return s->stash_status;
    }
    return tio_getline(s->t, &s->line, s->ctx->p.line_limit, flags);
}

/* pipe_flag - log improper pipelining after `after`, with the next input. */
static void pipe_flag(smtpd_sess *s, const char *after)
{
    strbuf *b = &s->tmp;

    if (!s->have_stash) {
        s->stash_status = tio_getline(s->t, &s->stash, s->ctx->p.line_limit,
                                      &s->stash_flags);
        s->have_stash = true;
    }
    if (sb_len(&s->stash) == 0 && s->stash_status != TIO_OK)
        return;                 /* the client only closed: not pipelining */
    sb_reset(b);
    (void)smtpd_fmt_escape(sb_str(&s->stash), sb_len(&s->stash), 100, b);
    if (s->stash_status == TIO_OK)
        (void)sb_puts(b, (s->stash_flags & TIO_LINE_CRLF) ? "\\r\\n" : "\\n");
    msg_info("improper command pipelining after %s from %s: %s", after,
             sb_str(&s->namaddr), sb_str(b));
    s->ill_pipelining = true;
}

/* pipe_check - reject_unauth_pipelining's test before a command runs. */
static void pipe_check(smtpd_sess *s, const struct smtpd_verb *v)
{
    bool granted = s->esmtp && (s->ext & SMTPD_EXT_PIPELINING);

    if (s->ill_pipelining || (v && (v->flags & V_NOPIPE)))
        return;
    if (v && granted && (v->flags & V_LAST) == 0)
        return;
    if (s->have_stash || tio_pending(s->t) > 0 || tio_readable(s->t, 0) == 1)
        pipe_flag(s, v ? v->name : "UNKNOWN");
}

/* find_verb - the table entry for a command word, or NULL. */
static const struct smtpd_verb *find_verb(const char *w, size_t n)
{
    for (size_t i = 0; i < sizeof(smtpd_verbs) / sizeof(smtpd_verbs[0]); i++)
        if (strlen(smtpd_verbs[i].name) == n
            && strncasecmp(smtpd_verbs[i].name, w, n) == 0)
            return &smtpd_verbs[i];
    return NULL;
}

/* count - one command's outcome in the counters and the error count. */
static void count(smtpd_sess *s, enum smtpd_cmd_id id, enum smtpd_result r)
{
    s->counts[id].total++;
    if (r == SMTPD_OK)
        s->counts[id].ok++;
    else if (r == SMTPD_FAIL)
        s->errors++;
}

/* dispatch - one command line through the table. */
static void dispatch(smtpd_sess *s)
{
    const char *line = sb_str(&s->line);
    size_t len = sb_len(&s->line), n = strcspn(line, " ");
    const struct smtpd_verb *v = find_verb(line, n);
    const char *why;
    enum smtpd_result r;

    s->where = v ? v->name : "UNKNOWN";
    pipe_check(s, v);
    if (v == NULL) {
        smtpd_reply(s, "502 5.5.2 Error: command not recognized");
        count(s, SMTPD_C_UNKNOWN, SMTPD_FAIL);
        return;
    }
    if ((v->flags & V_JUNK) && s->junk++ >= s->ctx->p.junk_limit)
        s->errors++;
    if ((why = smtpd_restrict_gate(s, v->name)) != NULL
        || (why = smtpd_tls_gate(s, v->name)) != NULL
        || (v->check && (why = v->check(s)) != NULL)) {
        smtpd_reply(s, why);
        r = SMTPD_FAIL;
    } else {
        r = v->act(s, line + n, len - n);
    }
    count(s, v->id, r);
}

/* bad_line - a command line we refuse before parsing; true to go on. */
static bool bad_line(smtpd_sess *s, enum tio_status st, unsigned flags)
{
    const char *what = (flags & TIO_LINE_LF) ? "<LF>" : "<CR>";

    if (st == TIO_TOOLONG) {
        (void)tio_skipline(s->t);
        smtpd_reply(s, "500 5.5.2 Error: line too long");
        count(s, SMTPD_C_UNKNOWN, SMTPD_FAIL);
        return true;
    }
    if ((flags & (TIO_LINE_LF | TIO_LINE_BARE_CR))
        && s->ctx->p.forbid_bare_newline) {
        smtpd_replyf(s, "521 5.5.2 %s Error: bare %s received",
                     s->ctx->p.myhostname, what);
        msg_info("disallowed bare %s received from %s after %s", what,
                 sb_str(&s->namaddr), s->where);
        s->quit = true;
        return false;
    }
    smtpd_reply(s, "500 5.5.2 Error: bad syntax");
    count(s, SMTPD_C_UNKNOWN, SMTPD_FAIL);
    return true;
}

/* smtpd_loop - commands until QUIT, an I/O end or a limit. */
static void smtpd_loop(smtpd_sess *s)
{
    const struct smtpd_params *p = &s->ctx->p;
    enum tio_status st;
    unsigned flags;

    while (!s->quit) {
        if (s->errors >= p->hard_limit) {
            smtpd_replyf(s, "421 4.7.0 %s Error: too many errors",
                         p->myhostname);
            msg_info("too many errors after %s from %s", s->where,
                     sb_str(&s->namaddr));
            break;
        }
        st = read_line(s, &flags);
        if (st != TIO_OK && st != TIO_TOOLONG) {
            (void)smtpd_io_status(s, st);
            break;
        }
        if (st == TIO_TOOLONG || (flags & (TIO_LINE_LF | TIO_LINE_BARE_CR
                                           | TIO_LINE_NUL))) {
            if (!bad_line(s, st, flags))
                break;
            continue;
        }
        dispatch(s);
    }
    (void)tio_flush(s->t);
}

/* sess_init - a fresh session on fd. */
static void sess_init(smtpd_sess *s, smtpd_ctx *ctx, int fd)
{
    size_t line_max = ctx->p.line_limit + 16;

    memset(s, 0, sizeof(*s));
    s->ctx = ctx;
    s->fd = fd;
    s->conn_fd = -1;
    s->t = tio_open(fd, ctx->p.timeout * 1000);
    /* replies leave whole at each flush: no Nagle wait for a delayed ACK */
    if (tio_nodelay(fd) < 0)
        msg_warn("setsockopt TCP_NODELAY on the client connection: %m");
    s->where = "CONNECT";
    sb_init(&s->name, DNS_NAME_MAX + 1);
    sb_init(&s->namaddr, DNS_NAME_MAX + DNS_TEXT_ADDR + 8);
    sb_init(&s->line, line_max);
    sb_init(&s->stash, line_max);
    sb_init(&s->reply, line_max + 512);
    sb_init(&s->tmp, 4 * line_max + 1024);
    sb_init(&s->helo, line_max);
    sb_init(&s->tls_info, 1024);
    sb_init(&s->sasl_method, 256);
    sb_init(&s->sasl_user, 1024);
    smtpd_mail_args_init(&s->txn.mail);
    sb_init(&s->txn.sender, 2 * ADDR_PATH_MAX);
    sb_init(&s->txn.first_rcpt, 2 * ADDR_PATH_MAX);
    for (int i = 0; i < SMTPD_C_COUNT; i++)
        s->counts[i].name = smtpd_count_names[i];
    smtpd_txn_reset(s);
}

/* sess_free - release everything the session holds. */
static void sess_free(smtpd_sess *s)
{
    smtpd_txn_reset(s);
    smtpd_mail_args_release(&s->txn.mail);
    smtpd_client_conn_release(s);
    tio_free(s->t);
    smtpd_tls_end(s);           /* after the stream that points at it */
    smtpd_auth_end(s);
    smtpd_restrict_end(s);
    sb_release(&s->txn.sender);
    sb_release(&s->txn.first_rcpt);
    sb_release(&s->name);
    sb_release(&s->namaddr);
    sb_release(&s->line);
    sb_release(&s->stash);
    sb_release(&s->reply);
    sb_release(&s->tmp);
    sb_release(&s->helo);
    sb_release(&s->tls_info);
    sb_release(&s->sasl_method);
    sb_release(&s->sasl_user);
}

/* smtpd_serve - one session from connect to disconnect. */
void smtpd_serve(smtpd_ctx *ctx, int fd)
{
    smtpd_sess s;
    strbuf counts;

    sess_init(&s, ctx, fd);
    smtpd_client_identify(&s);
    msg_info("connect from %s", sb_str(&s.namaddr));
    smtpd_auth_start(&s);       /* SASL state for this client (and its TLS) */
    smtpd_restrict_start(&s);   /* restriction state for the session */
    if (!smtpd_client_conn_take(&s)) {
        smtpd_replyf(&s, "421 4.7.0 %s Error: too many connections from %s",
                     ctx->p.myhostname, s.addr);
        (void)tio_flush(s.t);
    } else if (smtpd_tls_wrapper(&s)) {     /* TLS first on port 465 */
        /* smtpd_greet_wait 0: a poll that does not wait (Postfix's smtpd
         * greets at once); only bytes already sent count as talking first */
        if (tio_readable(s.t, ctx->p.greet_wait_ms) == 1)
            pipe_flag(&s, "CONNECT");
        if (smtpd_restrict_connect(&s))     /* else its refusal was sent */
            smtpd_replyf(&s, "220 %s", ctx->p.banner);
        smtpd_loop(&s);
    }
    sb_init(&counts, 1024);
    (void)smtpd_fmt_counts(s.counts, SMTPD_C_COUNT, &counts);
    msg_info("disconnect from %s%s", sb_str(&s.namaddr), sb_str(&counts));
    sb_release(&counts);
    sess_free(&s);
}
