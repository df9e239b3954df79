/*
 * sm_smtp - sendmail -bs: an SMTP session on standard input and output.
 *
 * Verbs come from a table (STYLE.md rule 11); each accepted message goes
 * through sm_submit() exactly like a command-line one, so the reply 250 is
 * sent only after postdrop has committed the file. Owns its session state
 * for one run; input lines and the message size are bounded where the bytes
 * arrive. Protocol errors get a reply and the session goes on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/strbuf.h"
#include "common/tio.h"
#include "common/xalloc.h"
#include "queue/drop.h"
#include "queue/qfile.h"
#include "queue/qid.h"
#include "queue/sm_submit.h"

#define SMTP_LINE_MAX 2048

/* One session. */
struct smtp_sess {
    const sm_ctx *ctx;
    const sm_opts *o;
    tio *t;
    drop_env env;
    bool have_mail;
    bool quit;
    strbuf tmp, why;
    int in, out;
};

/* Blocking raw I/O on two descriptors (tio's own poll is never needed). */
static ssize_t smtp_raw_read(void *ctx, void *buf, size_t len)
{
    const struct smtp_sess *s = ctx;
    ssize_t n;

    while ((n = read(s->in, buf, len)) < 0 && errno == EINTR)
        ;
    return n < 0 ? TIO_RAW_ERROR : n;
}

static ssize_t smtp_raw_write(void *ctx, const void *buf, size_t len)
{
    const struct smtp_sess *s = ctx;
    ssize_t n;

    while ((n = write(s->out, buf, len)) < 0 && errno == EINTR)
        ;
    return n < 0 ? TIO_RAW_ERROR : n;
}

/* smtp_reply - one reply line. */
static void smtp_reply(struct smtp_sess *s, const char *text)
{
    (void)tio_printf(s->t, "%s\r\n", text);
}

/* smtp_reset - forget the current transaction. */
static void smtp_reset(struct smtp_sess *s)
{
    drop_env_free(&s->env);
    drop_env_init(&s->env);
    s->have_mail = false;
}

/* smtp_path - the address after "FROM:"/"TO:" into tmp; rest = params. */
static const char *smtp_path(struct smtp_sess *s, const char *arg,
                             const char *prefix)
{
    size_t plen = strlen(prefix), n;

    if (strncasecmp(arg, prefix, plen) != 0)
        return NULL;
    arg += plen;
    while (*arg == ' ')
        arg++;
    n = *arg == '<' ? addr_path_len(arg, strlen(arg)) : strcspn(arg, " ");
    if (n == 0)
        return NULL;
    sb_reset(&s->tmp);
    if (sb_append(&s->tmp, arg, n) < 0)
        return NULL;
    arg += n;
    while (*arg == ' ')
        arg++;
    return arg;
}

/* smtp_mail_params - BODY= and SIZE=; a reply text on error. */
static const char *smtp_mail_params(struct smtp_sess *s, const char *p)
{
    while (*p) {
        size_t n = strcspn(p, " ");
        char num[24];
        uint64_t size;

        if (n > 5 && strncasecmp(p, "BODY=", 5) == 0) {
            if (n == 9 && strncasecmp(p + 5, "7BIT", 4) == 0)
                s->env.body = QFILE_BODY_7BIT;
            else if (n == 13 && strncasecmp(p + 5, "8BITMIME", 8) == 0)
                s->env.body = QFILE_BODY_8BITMIME;
            else
                return "501 5.5.4 Bad BODY parameter";
        } else if (n >= 5 && strncasecmp(p, "SIZE=", 5) == 0) {
            /* as smtpd: digits only, an overflow is a syntax error */
            if (fmt_fixed(num, sizeof(num), "%.*s", (int)(n - 5), p + 5) < 0
                || drop_num(num, UINT64_MAX, &size) < 0)
                return "501 5.5.4 Bad message size syntax";
            if (s->ctx->size_limit > 0 && size > s->ctx->size_limit)
                return "552 5.3.4 Message size exceeds fixed limit";
        } else {
            return "555 5.5.4 Unsupported option";
        }
        p += n;
        while (*p == ' ')
            p++;
    }
    return NULL;
}

/* smtp_mail - MAIL FROM:<sender> [BODY=] [SIZE=]. */
static void smtp_mail(struct smtp_sess *s, const char *arg)
{
    const char *params, *err;

    if (s->have_mail) {
        smtp_reply(s, "503 5.5.1 Error: nested MAIL command");
        return;
    }
    if ((params = smtp_path(s, arg, "FROM:")) == NULL) {
        smtp_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
        return;
    }
    sb_reset(&s->why);
    if (sm_qualify(s->ctx, sb_str(&s->tmp), true, &s->why, &s->why) < 0) {
        smtp_reply(s, "501 5.1.7 Bad sender address syntax");
        return;
    }
    s->env.sender = xstrdup(sb_str(&s->why));
    if ((err = smtp_mail_params(s, params)) != NULL) {
        smtp_reset(s);
        smtp_reply(s, err);
        return;
    }
    s->env.notify = s->o->notify;
    s->env.ret = s->o->ret;
    s->env.envid = s->o->envid ? xstrdup(s->o->envid) : NULL;
    s->have_mail = true;
    smtp_reply(s, "250 2.1.0 Ok");
}

/* smtp_rcpt - RCPT TO:<recipient>. */
static void smtp_rcpt(struct smtp_sess *s, const char *arg)
{
    const char *params;

    if (!s->have_mail) {
        smtp_reply(s, "503 5.5.1 Error: need MAIL command");
        return;
    }
    if ((params = smtp_path(s, arg, "TO:")) == NULL) {
        smtp_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
        return;
    }
    if (*params) {
        smtp_reply(s, "555 5.5.4 Unsupported option");
        return;
    }
    if (s->env.nrcpt >= QFILE_RCPT_MAX) {
        smtp_reply(s, "452 4.5.3 Error: too many recipients");
        return;
    }
    sb_reset(&s->why);
    if (sm_qualify(s->ctx, sb_str(&s->tmp), false, &s->why, &s->why) < 0) {
        smtp_reply(s, "501 5.1.3 Bad recipient address syntax");
        return;
    }
    drop_env_add_rcpt(&s->env, sb_str(&s->why));
    smtp_reply(s, "250 2.1.5 Ok");
}

/* smtp_read_data - the message up to ".", dot-unstuffed; -1 on EOF. */
static int smtp_read_data(struct smtp_sess *s, strbuf *msg, bool *big)
{
    strbuf line;
    uint64_t crlf = 0;
    int st;

    sb_init(&line, SMTP_LINE_MAX * 4);
    for (;;) {
        unsigned flags = 0;
        const char *p;

        st = tio_getline(s->t, &line, SMTP_LINE_MAX * 4, &flags);
        if (st != TIO_OK && st != TIO_TOOLONG)
            break;
        p = sb_str(&line);
        if (st == TIO_OK && strcmp(p, ".") == 0)
            break;
        if (*p == '.')
            p++;
        crlf += strlen(p) + 2;
        if ((s->ctx->size_limit > 0 && crlf > s->ctx->size_limit)
            || sb_puts(msg, p) < 0 || (st == TIO_OK && sb_putc(msg, '\n') < 0))
            *big = true;
    }
    sb_release(&line);
    return st == TIO_OK ? 0 : -1;
}

/* smtp_data - DATA: read, complete, submit, reply. */
static void smtp_data(struct smtp_sess *s, const char *arg)
{
    strbuf msg, qid;
    bool big = false;
    int rc;

    (void)arg;
    if (!s->have_mail || s->env.nrcpt == 0) {
        smtp_reply(s, "503 5.5.1 Error: need RCPT command");
        return;
    }
    smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
    sb_init(&msg, SB_NOLIMIT);
    sb_init(&qid, QID_SIZE);
    sb_reset(&s->why);
    if (smtp_read_data(s, &msg, &big) < 0) {
        s->quit = true;
    } else if (big) {
        smtp_reply(s, "552 5.3.4 Error: message file too big");
    } else if (sm_complete_headers(s->ctx, s->env.sender, s->o->fullname,
                                   &msg) < 0) {
        smtp_reply(s, "552 5.3.4 Error: message file too big");
    } else if ((rc = sm_submit(s->ctx, &s->env, &msg, &qid, &s->why)) == 0) {
        (void)tio_printf(s->t, "250 2.0.0 Ok: queued as %s\r\n", sb_str(&qid));
    } else {
        smtp_reply(s, rc == EX_DATAERR ? "552 5.3.4 Error: message not accepted"
                   : "451 4.3.0 Error: queue file write error");
    }
    sb_release(&msg);
    sb_release(&qid);
    smtp_reset(s);
}

/* smtp_helo / smtp_ehlo - greetings; EHLO lists what we support. */
static void smtp_helo(struct smtp_sess *s, const char *arg)
{
    (void)arg;
    (void)tio_printf(s->t, "250 %s\r\n", s->ctx->myhostname);
}

static void smtp_ehlo(struct smtp_sess *s, const char *arg)
{
    (void)arg;
    (void)tio_printf(s->t, "250-%s\r\n250-PIPELINING\r\n", s->ctx->myhostname);
    if (s->ctx->size_limit > 0)
        (void)tio_printf(s->t, "250-SIZE %llu\r\n",
                         (unsigned long long)s->ctx->size_limit);
    smtp_reply(s, "250-8BITMIME\r\n250 ENHANCEDSTATUSCODES");
}

static void smtp_rset(struct smtp_sess *s, const char *arg)
{
    (void)arg;
    smtp_reset(s);
    smtp_reply(s, "250 2.0.0 Ok");
}

static void smtp_noop(struct smtp_sess *s, const char *arg)
{
    (void)arg;
    smtp_reply(s, "250 2.0.0 Ok");
}

static void smtp_vrfy(struct smtp_sess *s, const char *arg)
{
    (void)arg;
    smtp_reply(s, "502 5.5.1 VRFY command is disabled");
}

static void smtp_quit(struct smtp_sess *s, const char *arg)
{
    (void)arg;
    smtp_reply(s, "221 2.0.0 Bye");
    s->quit = true;
}

/* The verbs. */
static const struct smtp_verb {
    const char *name;
    void (*act)(struct smtp_sess *s, const char *arg);
} smtp_verbs[] = {
    {"HELO", smtp_helo}, {"EHLO", smtp_ehlo}, {"MAIL", smtp_mail},
    {"RCPT", smtp_rcpt}, {"DATA", smtp_data}, {"RSET", smtp_rset},
    {"NOOP", smtp_noop}, {"VRFY", smtp_vrfy}, {"QUIT", smtp_quit},
};

/* smtp_command - dispatch one command line. */
static void smtp_command(struct smtp_sess *s, const char *line)
{
    size_t n = strcspn(line, " ");
    const char *arg = line + n;

    while (*arg == ' ')
        arg++;
    for (size_t i = 0; i < sizeof(smtp_verbs) / sizeof(smtp_verbs[0]); i++) {
        if (n == 4 && strncasecmp(line, smtp_verbs[i].name, 4) == 0) {
            smtp_verbs[i].act(s, arg);
            return;
        }
    }
    smtp_reply(s, "502 5.5.2 Error: command not recognized");
}

/* sm_smtp - the session loop. */
int sm_smtp(const sm_ctx *ctx, const sm_opts *o, int in, int out)
{
    struct smtp_sess s;
    tio_ops ops;
    strbuf line;

    memset(&s, 0, sizeof(s));
    s.ctx = ctx;
    s.o = o;
    s.in = in;
    s.out = out;
    ops.read = smtp_raw_read;
    ops.write = smtp_raw_write;
    ops.ctx = &s;
    s.t = tio_open(in, TIO_NO_TIMEOUT);
    tio_set_ops(s.t, &ops);
    drop_env_init(&s.env);
    sb_init(&s.tmp, SMTP_LINE_MAX + 1);
    sb_init(&s.why, 1024);
    sb_init(&line, SMTP_LINE_MAX + 1);
    (void)tio_printf(s.t, "220 %s ESMTP tern\r\n", ctx->myhostname);
    while (!s.quit) {
        unsigned flags = 0;
        int st = tio_getline(s.t, &line, SMTP_LINE_MAX, &flags);

        if (st == TIO_TOOLONG) {
            (void)tio_skipline(s.t);
            smtp_reply(&s, "500 5.5.0 Error: line too long");
        } else if (st != TIO_OK) {
            break;
        } else if (flags & TIO_LINE_NUL) {
            smtp_reply(&s, "500 5.5.2 Error: bad syntax");
        } else {
            smtp_command(&s, sb_str(&line));
        }
    }
    (void)tio_flush(s.t);
    tio_free(s.t);
    drop_env_free(&s.env);
    sb_release(&s.tmp);
    sb_release(&s.why);
    sb_release(&line);
    return 0;
}
