/*
 * sm_args - sendmail's command line (see sm_args.h).
 *
 * Uses getopt(3) with a leading '+' so parsing stops at the first
 * recipient; getopt's own state is reset on every call so tests can parse
 * many command lines in one process. Owns nothing.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/strbuf.h"
#include "queue/qfile.h"
#include "queue/sm_args.h"

/* -b modes: the letters after -b and what they mean (NULL mode = refuse). */
static const struct sm_bmode {
    const char *name;
    int mode;                   /* enum sm_mode, or -1: not supported */
    const char *why;
} sm_bmodes[] = {
    {"m", SM_MODE_DELIVER, NULL},
    {"s", SM_MODE_SMTP, NULL},
    {"p", SM_MODE_MAILQ, NULL},
    {"i", SM_MODE_NEWALIASES, NULL},
    {"d", -1, "daemon mode is not supported: use \"tern start\""},
    {"D", -1, "daemon mode is not supported: use \"tern start-fg\""},
    {"v", -1, "address verification mode is not supported"},
    {"t", -1, "address test mode is not supported"},
    {"a", -1, "ARPANET mode is not supported"},
    {"l", -1, "-bl is not supported"},
    {"h", -1, "-bh is not supported"},
    {"H", -1, "-bH is not supported"},
};

/* The DSN NOTIFY keywords of -N. */
static const struct sm_keyword {
    const char *name;
    unsigned value;
} sm_notify_words[] = {
    {"never", QFILE_NOTIFY_NEVER},
    {"success", QFILE_NOTIFY_SUCCESS},
    {"delay", QFILE_NOTIFY_DELAY},
    {"failure", QFILE_NOTIFY_FAILURE},
}, sm_ret_words[] = {
    {"full", QFILE_RET_FULL},
    {"hdrs", QFILE_RET_HDRS},
}, sm_body_words[] = {
    {"7bit", QFILE_BODY_7BIT},
    {"8bitmime", QFILE_BODY_8BITMIME},
};

#define SM_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* sm_keyword - the value of a case-insensitive keyword, or 0. */
static unsigned sm_keyword(const struct sm_keyword *t, size_t n,
                           const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(t[i].name) == len && strncasecmp(t[i].name, s, len) == 0)
            return t[i].value;
    return 0;
}

/* sm_parse_notify - "never" or a comma list of success, delay, failure. */
int sm_parse_notify(const char *text, unsigned *bits)
{
    unsigned out = 0;
    const char *p = text;

    for (;;) {
        size_t n = strcspn(p, ",");
        unsigned v = sm_keyword(sm_notify_words, SM_COUNT(sm_notify_words),
                                p, n);

        if (v == 0)
            return -1;
        out |= v;
        if (p[n] == 0)
            break;
        p += n + 1;
    }
    if ((out & QFILE_NOTIFY_NEVER) && out != QFILE_NOTIFY_NEVER)
        return -1;              /* "never" cannot be combined */
    *bits = out;
    return 0;
}

/* sm_envid_ok - RFC 3461: ENVID is 1..100 printable US-ASCII bytes. */
bool sm_envid_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 100)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

/* sm_mode_for_name - the mode implied by the program name. */
static enum sm_mode sm_mode_for_name(const char *argv0)
{
    const char *base = argv0 ? strrchr(argv0, '/') : NULL;

    base = base ? base + 1 : (argv0 ? argv0 : "");
    if (strcmp(base, "mailq") == 0)
        return SM_MODE_MAILQ;
    if (strcmp(base, "newaliases") == 0)
        return SM_MODE_NEWALIASES;
    return SM_MODE_DELIVER;
}

/* sm_opt_b - a -b mode letter. */
static int sm_opt_b(sm_opts *o, const char *arg, strbuf *why)
{
    for (size_t i = 0; i < SM_COUNT(sm_bmodes); i++) {
        if (strcmp(sm_bmodes[i].name, arg) != 0)
            continue;
        if (sm_bmodes[i].mode < 0)
            return sb_printf(why, "%s", sm_bmodes[i].why), -1;
        o->mode = (enum sm_mode)sm_bmodes[i].mode;
        return 0;
    }
    return sb_printf(why, "unsupported option: -b%s", arg), -1;
}

/* sm_opt_value - -N, -R, -B, -V: keyword values checked here. */
static int sm_opt_value(sm_opts *o, int opt, const char *arg, strbuf *why)
{
    unsigned v;

    switch (opt) {
    case 'N':
        if (sm_parse_notify(arg, &o->notify) < 0)
            return sb_printf(why, "bad -N option value: %.100s", arg), -1;
        return 0;
    case 'R':
        if ((v = sm_keyword(sm_ret_words, SM_COUNT(sm_ret_words), arg,
                            strlen(arg))) == 0)
            return sb_printf(why, "bad -R option value: %.100s", arg), -1;
        o->ret = (int)v;
        return 0;
    case 'B':
        if ((v = sm_keyword(sm_body_words, SM_COUNT(sm_body_words), arg,
                            strlen(arg))) == 0)
            return sb_printf(why, "bad -B option value: %.100s", arg), -1;
        o->body = (int)v;
        return 0;
    default:                    /* 'V' */
        if (!sm_envid_ok(arg))
            return sb_printf(why, "bad -V option value: %.100s", arg), -1;
        o->envid = arg;
        return 0;
    }
}

/* sm_opt_o - -o letters: -oi matters, every other historic one is ignored. */
static int sm_opt_o(sm_opts *o, const char *arg)
{
    if (strcmp(arg, "i") == 0)
        o->dot_ok = true;
    return 0;                   /* -oem -oee -oep -oeq -oew -odb -odi -om ... */
}

/* sm_opt - one option letter. */
static int sm_opt(sm_opts *o, int opt, const char *arg, strbuf *why)
{
    switch (opt) {
    case 'b':
        return sm_opt_b(o, arg, why);
    case 'C': case 'c':
        o->config = arg;
        return 0;
    case 'F':
        o->fullname = arg;
        return 0;
    case 'f': case 'r':
        o->sender = arg;
        return 0;
    case 'I':
        o->mode = SM_MODE_NEWALIASES;
        return 0;
    case 'i':
        o->dot_ok = true;
        return 0;
    case 'N': case 'R': case 'B': case 'V':
        return sm_opt_value(o, opt, arg, why);
    case 'o':
        return sm_opt_o(o, arg);
    case 'q':
        o->mode = SM_MODE_FLUSH;
        return 0;
    case 't':
        o->extract = true;
        return 0;
    case 'v':
        o->verbose++;
        return 0;
    case 'G': case 'h': case 'L': case 'm': case 'n': case 'O': case 'p':
    case 'U': case 'X':
        return 0;               /* historic, ignored as Postfix does */
    default:
        return sb_puts(why, "usage: sendmail [options] [recipient ...]"), -1;
    }
}

/* sm_args_parse - the whole command line. */
int sm_args_parse(int argc, char **argv, sm_opts *o, strbuf *why)
{
    int opt;

    memset(o, 0, sizeof(*o));
    o->mode = sm_mode_for_name(argc > 0 ? argv[0] : NULL);
    optind = 0;                 /* full re-initialisation (glibc) */
    opterr = 0;
    while ((opt = getopt(argc, argv,
                         "+B:b:C:c:F:f:Gh:IiL:mN:nO:o:p:q::R:r:tUV:vX:")) != -1) {
        if (opt == '?' || opt == ':') {
            (void)sb_printf(why, "invalid option or missing value: -%c",
                            optopt ? optopt : '?');
            return -1;
        }
        if (sm_opt(o, opt, optarg ? optarg : "", why) < 0)
            return -1;
    }
    o->rcpts = argv + optind;
    o->nrcpt = argc - optind;
    return 0;
}
