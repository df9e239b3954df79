/*
 * sm_args - the sendmail command line as cron, PHP's mail(), git
 * send-email, mailx and mutt use it, parsed into an sm_opts.
 *
 * The program name chooses the mode first (mailq = -bp, newaliases = -bi),
 * then options override it. Option parsing stops at the first recipient
 * (or "--"), as Sendmail's and Postfix's do. Historic options (-oem, -odi,
 * -om, -v, -h N, ...) are accepted and ignored. A bad option or value is
 * -1 with a reason (the caller exits EX_USAGE); nothing here exits or logs.
 * The opts point into argv; they own nothing.
 */
#ifndef TERN_SM_ARGS_H
#define TERN_SM_ARGS_H

#include <stdbool.h>

#include "common/strbuf.h"

enum sm_mode {
    SM_MODE_DELIVER,            /* -bm (default): read a message */
    SM_MODE_SMTP,               /* -bs: SMTP on stdin/stdout */
    SM_MODE_MAILQ,              /* -bp, mailq */
    SM_MODE_NEWALIASES,         /* -bi, -I, newaliases */
    SM_MODE_FLUSH,              /* -q */
};

typedef struct sm_opts {
    enum sm_mode mode;
    bool extract;               /* -t */
    bool dot_ok;                /* -i / -oi: a lone "." is data */
    const char *sender;         /* -f / -r; NULL = the invoking user */
    const char *fullname;       /* -F */
    unsigned notify;            /* -N as QFILE_NOTIFY_* bits; 0 = not given */
    int ret;                    /* -R as enum qfile_ret; 0 = not given */
    const char *envid;          /* -V */
    int body;                   /* -B as enum qfile_body; 0 = not given */
    const char *config;         /* -C / -c: configuration directory */
    int verbose;                /* -v count (ignored but counted) */
    char **rcpts;               /* recipients: argv after the options */
    int nrcpt;
} sm_opts;

/* sm_args_parse - parse argv; 0, or -1 with a reason in why. */
int sm_args_parse(int argc, char **argv, sm_opts *o, strbuf *why);

/* sm_parse_notify - "-N" text to QFILE_NOTIFY_* bits; -1 if malformed. */
int sm_parse_notify(const char *text, unsigned *bits);

/* sm_envid_ok - true for an RFC 3461 ENVID value (1..100 printable). */
bool sm_envid_ok(const char *s);

#endif
