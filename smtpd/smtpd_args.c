/*
 * smtpd_args - MAIL FROM / RCPT TO argument parsing (see smtpd_args.h).
 *
 * The ESMTP parameters are a table {name, verb, extension, handler}; every
 * parameter of every command goes through the same lookup, duplicate and
 * extension checks before its handler sees the value. Owns nothing beyond
 * the caller's output structs; errors are return values.
 */
#include <string.h>
#include <strings.h>

#include "common/attr.h"
#include "smtpd/smtpd_args.h"

#define ARGS_MAIL 1
#define ARGS_RCPT 2

/* One parse in progress: the outputs of whichever command it is. */
struct args_ctx {
    const struct smtpd_args_opts *o;
    struct smtpd_mail_args *m;  /* MAIL, else NULL */
    struct smtpd_rcpt_args *r;  /* RCPT, else NULL */
    const char *val;            /* value after '=', NULL when none */
    size_t vlen;
};

typedef enum smtpd_args_err (*args_fn)(struct args_ctx *c);

struct args_param {
    const char *name;
    int verbs;                  /* ARGS_MAIL / ARGS_RCPT */
    unsigned ext;               /* extension that must be offered */
    args_fn fn;
};

/* args_is - value equals word, case-insensitively. */
static bool args_is(const struct args_ctx *c, const char *word)
{
    return c->val && c->vlen == strlen(word)
        && strncasecmp(c->val, word, c->vlen) == 0;
}

/* args_size - SIZE=digits, checked against message_size_limit. */
static enum smtpd_args_err args_size(struct args_ctx *c)
{
    uint64_t v = 0;

    if (c->val == NULL || c->vlen == 0 || c->vlen > 20)
        return SMTPD_ARGS_BAD_SIZE;
    for (size_t i = 0; i < c->vlen; i++) {
        unsigned d = (unsigned)(c->val[i] - '0');

        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return SMTPD_ARGS_BAD_SIZE;
        v = v * 10 + d;
    }
    c->m->size = v;
    if (c->o->size_limit > 0 && v > c->o->size_limit)
        return SMTPD_ARGS_SIZE_LIMIT;
    return SMTPD_ARGS_OK;
}

/* args_body - BODY=7BIT | 8BITMIME (BINARYMIME is not offered). */
static enum smtpd_args_err args_body(struct args_ctx *c)
{
    if (args_is(c, "7BIT"))
        c->m->body = SMTPD_BODY_7BIT;
    else if (args_is(c, "8BITMIME"))
        c->m->body = SMTPD_BODY_8BITMIME;
    else
        return SMTPD_ARGS_BAD_BODY;
    return SMTPD_ARGS_OK;
}

/* args_smtputf8 - SMTPUTF8 takes no value. */
static enum smtpd_args_err args_smtputf8(struct args_ctx *c)
{
    if (c->val != NULL)
        return SMTPD_ARGS_BAD_SMTPUTF8;
    c->m->smtputf8 = true;
    return SMTPD_ARGS_OK;
}

/* args_ret - RET=FULL | HDRS. */
static enum smtpd_args_err args_ret(struct args_ctx *c)
{
    if (args_is(c, "FULL"))
        c->m->ret = SMTPD_RET_FULL;
    else if (args_is(c, "HDRS"))
        c->m->ret = SMTPD_RET_HDRS;
    else
        return SMTPD_ARGS_BAD_RET;
    return SMTPD_ARGS_OK;
}

/* args_printable - every byte of sb is printable ASCII. */
static bool args_printable(const strbuf *sb)
{
    for (size_t i = 0; i < sb_len(sb); i++)
        if ((unsigned char)sb_str(sb)[i] < 0x20
            || (unsigned char)sb_str(sb)[i] > 0x7e)
            return false;
    return true;
}

/* args_envid - ENVID=xtext, at most 100 printable characters decoded. */
static enum smtpd_args_err args_envid(struct args_ctx *c)
{
    if (c->val == NULL || c->vlen == 0
        || attr_xtext_decode(&c->m->envid, c->val, c->vlen) < 0
        || !args_printable(&c->m->envid))
        return SMTPD_ARGS_BAD_ENVID;
    return SMTPD_ARGS_OK;
}

/* args_auth - AUTH=xtext or AUTH=<> (kept; used once SASL exists). */
static enum smtpd_args_err args_auth(struct args_ctx *c)
{
    if (c->val == NULL || c->vlen == 0)
        return SMTPD_ARGS_BAD_AUTH;
    if (c->vlen == 2 && memcmp(c->val, "<>", 2) == 0)
        return sb_set(&c->m->auth, "<>") < 0 ? SMTPD_ARGS_BAD_AUTH
            : SMTPD_ARGS_OK;
    if (attr_xtext_decode(&c->m->auth, c->val, c->vlen) < 0
        || !args_printable(&c->m->auth))
        return SMTPD_ARGS_BAD_AUTH;
    return SMTPD_ARGS_OK;
}

/* args_notify - NOTIFY=NEVER or a list of SUCCESS, FAILURE, DELAY. */
static enum smtpd_args_err args_notify(struct args_ctx *c)
{
    static const struct { const char *word; unsigned bit; } words[] = {
        {"NEVER", SMTPD_NOTIFY_NEVER}, {"SUCCESS", SMTPD_NOTIFY_SUCCESS},
        {"FAILURE", SMTPD_NOTIFY_FAILURE}, {"DELAY", SMTPD_NOTIFY_DELAY},
    };
    size_t pos = 0;
    unsigned set = 0;

    if (c->val == NULL || c->vlen == 0)
        return SMTPD_ARGS_BAD_NOTIFY;
    while (pos <= c->vlen) {
        const char *w = c->val + pos;
        const char *comma = memchr(w, ',', c->vlen - pos);
        size_t n = comma ? (size_t)(comma - w) : c->vlen - pos;
        unsigned bit = 0;

        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
            if (n == strlen(words[i].word)
                && strncasecmp(w, words[i].word, n) == 0)
                bit = words[i].bit;
        if (bit == 0 || (set & bit))
            return SMTPD_ARGS_BAD_NOTIFY;
        set |= bit;
        pos += n + 1;
    }
    if ((set & SMTPD_NOTIFY_NEVER) && set != SMTPD_NOTIFY_NEVER)
        return SMTPD_ARGS_BAD_NOTIFY;
    c->r->notify = set;
    return SMTPD_ARGS_OK;
}

/* args_orcpt - ORCPT=addr-type;xtext, stored as "type;decoded". */
static enum smtpd_args_err args_orcpt(struct args_ctx *c)
{
    const char *semi = c->val ? memchr(c->val, ';', c->vlen) : NULL;
    size_t tlen = semi ? (size_t)(semi - c->val) : 0;

    if (semi == NULL || tlen == 0 || c->vlen > SMTPD_ORCPT_MAX
        || tlen + 1 == c->vlen)
        return SMTPD_ARGS_BAD_ORCPT;
    for (size_t i = 0; i < tlen; i++) {
        unsigned char ch = (unsigned char)c->val[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
              || (ch >= '0' && ch <= '9') || ch == '-'))
            return SMTPD_ARGS_BAD_ORCPT;
    }
    if (sb_append(&c->r->orcpt, c->val, tlen + 1) < 0
        || attr_xtext_decode(&c->r->orcpt, semi + 1, c->vlen - tlen - 1) < 0)
        return SMTPD_ARGS_BAD_ORCPT;
    for (size_t i = 0; i < sb_len(&c->r->orcpt); i++)
        if ((unsigned char)sb_str(&c->r->orcpt)[i] < 0x20
            || sb_str(&c->r->orcpt)[i] == 0x7f)
            return SMTPD_ARGS_BAD_ORCPT;
    return SMTPD_ARGS_OK;
}

/* The parameters, by command and the extension that enables them. */
static const struct args_param args_params[] = {
    {"SIZE", ARGS_MAIL, SMTPD_EXT_SIZE, args_size},
    {"BODY", ARGS_MAIL, SMTPD_EXT_8BITMIME, args_body},
    {"SMTPUTF8", ARGS_MAIL, SMTPD_EXT_SMTPUTF8, args_smtputf8},
    {"RET", ARGS_MAIL, SMTPD_EXT_DSN, args_ret},
    {"ENVID", ARGS_MAIL, SMTPD_EXT_DSN, args_envid},
    {"AUTH", ARGS_MAIL, SMTPD_EXT_AUTH, args_auth},
    {"NOTIFY", ARGS_RCPT, SMTPD_EXT_DSN, args_notify},
    {"ORCPT", ARGS_RCPT, SMTPD_EXT_DSN, args_orcpt},
};
#define ARGS_NPARAMS (sizeof(args_params) / sizeof(args_params[0]))

/* args_one - look up and apply one "NAME[=VALUE]" word. */
static enum smtpd_args_err args_one(struct args_ctx *c, int verb,
                                    const char *w, size_t n, unsigned *seen)
{
    const char *eq = memchr(w, '=', n);
    size_t nlen = eq ? (size_t)(eq - w) : n;

    for (size_t i = 0; i < ARGS_NPARAMS; i++) {
        const struct args_param *p = &args_params[i];

        if (nlen != strlen(p->name) || strncasecmp(w, p->name, nlen) != 0)
            continue;
        if ((p->verbs & verb) == 0 || (c->o->ext & p->ext) == 0)
            return SMTPD_ARGS_UNSUPPORTED;
        if (*seen & (1u << i))
            return SMTPD_ARGS_DUPLICATE;
        *seen |= 1u << i;
        c->val = eq ? eq + 1 : NULL;
        c->vlen = eq ? n - nlen - 1 : 0;
        return p->fn(c);
    }
    return SMTPD_ARGS_UNSUPPORTED;
}

/* args_params_all - every parameter word after the path. */
static enum smtpd_args_err args_params_all(struct args_ctx *c, int verb,
                                           const char *s, size_t len,
                                           strbuf *detail)
{
    unsigned seen = 0;
    size_t pos = 0;

    while (pos < len) {
        size_t n = 0;
        enum smtpd_args_err err;

        if (s[pos] == ' ') {
            pos++;
            continue;
        }
        while (pos + n < len && s[pos + n] != ' ')
            n++;
        if ((err = args_one(c, verb, s + pos, n, &seen)) != SMTPD_ARGS_OK) {
            sb_reset(detail);
            (void)sb_append(detail, s + pos, n);
            return err;
        }
        pos += n;
    }
    return SMTPD_ARGS_OK;
}

/*
 * args_path - "FROM:"/"TO:", optional spaces, then the path into a;
 * *used is how far the text was consumed.
 */
static enum smtpd_args_err args_path(const char *s, size_t len,
                                     const char *prefix, int opts, addr *a,
                                     size_t *used)
{
    size_t plen = strlen(prefix), pos = 0, n = 0;

    while (pos < len && s[pos] == ' ')
        pos++;
    if (len - pos < plen || strncasecmp(s + pos, prefix, plen) != 0)
        return SMTPD_ARGS_SYNTAX;
    pos += plen;
    while (pos < len && s[pos] == ' ')
        pos++;
    if (pos < len && s[pos] == '<') {
        if ((n = addr_path_len(s + pos, len - pos)) == 0)
            return SMTPD_ARGS_BAD_ADDR;
    } else {
        while (pos + n < len && s[pos + n] != ' ')
            n++;
    }
    if (n == 0)
        return SMTPD_ARGS_SYNTAX;
    if (addr_parse(a, s + pos, n, opts) != ADDR_OK)
        return SMTPD_ARGS_BAD_ADDR;
    *used = pos + n;
    return SMTPD_ARGS_OK;
}

void smtpd_mail_args_init(struct smtpd_mail_args *m)
{
    memset(m, 0, sizeof(*m));
    addr_init(&m->sender);
    sb_init(&m->envid, SMTPD_ENVID_MAX);
    sb_init(&m->auth, 1024);
}

void smtpd_mail_args_release(struct smtpd_mail_args *m)
{
    addr_release(&m->sender);
    sb_release(&m->envid);
    sb_release(&m->auth);
}

void smtpd_rcpt_args_init(struct smtpd_rcpt_args *r)
{
    memset(r, 0, sizeof(*r));
    addr_init(&r->rcpt);
    sb_init(&r->orcpt, SMTPD_ORCPT_MAX);
}

void smtpd_rcpt_args_release(struct smtpd_rcpt_args *r)
{
    addr_release(&r->rcpt);
    sb_release(&r->orcpt);
}

/* args_mail_clear - forget a failed MAIL parse. */
static void args_mail_clear(struct smtpd_mail_args *m)
{
    smtpd_mail_args_release(m);
    smtpd_mail_args_init(m);
}

/* smtpd_args_mail - MAIL FROM:<path> [parameters]. */
enum smtpd_args_err smtpd_args_mail(const char *s, size_t len,
                                    const struct smtpd_args_opts *o,
                                    struct smtpd_mail_args *m, strbuf *detail)
{
    struct args_ctx c = { .o = o, .m = m };
    enum smtpd_args_err err;
    size_t used = 0;

    args_mail_clear(m);
    err = args_path(s, len, "FROM:", ADDR_P_PATH_OPTIONAL | ADDR_P_ALLOW_NULL
                    | ADDR_P_ALLOW_LOCAL, &m->sender, &used);
    if (err == SMTPD_ARGS_OK)
        err = args_params_all(&c, ARGS_MAIL, s + used, len - used, detail);
    if (err == SMTPD_ARGS_OK && (m->sender.flags & ADDR_F_UTF8)
        && !m->smtputf8)
        err = SMTPD_ARGS_UTF8_UNDECLARED;
    if (err != SMTPD_ARGS_OK)
        args_mail_clear(m);
    return err;
}

/* smtpd_args_rcpt - RCPT TO:<path> [parameters]. */
enum smtpd_args_err smtpd_args_rcpt(const char *s, size_t len,
                                    const struct smtpd_args_opts *o,
                                    struct smtpd_rcpt_args *r, strbuf *detail)
{
    struct args_ctx c = { .o = o, .r = r };
    enum smtpd_args_err err;
    size_t used = 0;

    smtpd_rcpt_args_release(r);
    smtpd_rcpt_args_init(r);
    err = args_path(s, len, "TO:", ADDR_P_PATH_OPTIONAL | ADDR_P_ALLOW_LOCAL,
                    &r->rcpt, &used);
    if (err == SMTPD_ARGS_OK)
        err = args_params_all(&c, ARGS_RCPT, s + used, len - used, detail);
    if (err == SMTPD_ARGS_OK && (r->rcpt.flags & ADDR_F_UTF8)
        && !o->smtputf8)
        err = SMTPD_ARGS_UTF8_UNDECLARED;
    if (err != SMTPD_ARGS_OK) {
        smtpd_rcpt_args_release(r);
        smtpd_rcpt_args_init(r);
    }
    return err;
}

/* smtpd_args_reply - Postfix's reply for each error. */
int smtpd_args_reply(enum smtpd_args_err err, bool mail, const char *detail,
                     strbuf *out)
{
    /* Reply texts; a trailing ": " is followed by the offending word. */
    static const char *const texts[SMTPD_ARGS_COUNT] = {
        [SMTPD_ARGS_OK] = "250 2.1.0 Ok",
        [SMTPD_ARGS_UTF8_UNDECLARED] =
            "553 5.6.7 Must declare SMTPUTF8 to send unicode address",
        [SMTPD_ARGS_UNSUPPORTED] = "555 5.5.4 Unsupported option: ",
        [SMTPD_ARGS_DUPLICATE] = "501 5.5.4 Error: duplicate parameter: ",
        [SMTPD_ARGS_BAD_SIZE] = "501 5.5.4 Bad message size syntax",
        [SMTPD_ARGS_SIZE_LIMIT] = "552 5.3.4 Message size exceeds fixed limit",
        [SMTPD_ARGS_BAD_BODY] = "501 5.5.4 Bad BODY keyword: ",
        [SMTPD_ARGS_BAD_SMTPUTF8] = "501 5.5.4 Bad SMTPUTF8 parameter syntax",
        [SMTPD_ARGS_BAD_RET] = "501 5.5.4 Bad RET parameter syntax",
        [SMTPD_ARGS_BAD_ENVID] = "501 5.5.4 Bad ENVID parameter syntax",
        [SMTPD_ARGS_BAD_AUTH] = "501 5.5.4 Bad AUTH parameter syntax",
        [SMTPD_ARGS_BAD_NOTIFY] = "501 5.5.4 Error: Bad NOTIFY parameter syntax",
        [SMTPD_ARGS_BAD_ORCPT] = "501 5.5.4 Error: Bad ORCPT parameter syntax",
    };
    const char *text;
    size_t n;

    sb_reset(out);
    if (err == SMTPD_ARGS_SYNTAX)
        return sb_puts(out, mail ? "501 5.5.4 Syntax: MAIL FROM:<address>"
                       : "501 5.5.4 Syntax: RCPT TO:<address>");
    if (err == SMTPD_ARGS_BAD_ADDR)
        return sb_puts(out, mail ? "501 5.1.7 Bad sender address syntax"
                       : "501 5.1.3 Bad recipient address syntax");
    text = (unsigned)err < SMTPD_ARGS_COUNT ? texts[err] : NULL;
    if (text == NULL)
        return sb_puts(out, "501 5.5.4 Syntax error in parameters");
    n = strlen(text);
    if (sb_puts(out, text) < 0)
        return -1;
    if (n > 2 && strcmp(text + n - 2, ": ") == 0)
        return sb_puts(out, detail ? detail : "");
    return 0;
}
