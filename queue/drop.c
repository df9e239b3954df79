/*
 * drop - encode and strictly decode the sendmail -> postdrop stream.
 *
 * Addresses travel in their RFC 5321 external (quoted) form and are
 * re-parsed on arrival, so postdrop stores only what addr_parse accepts.
 * The decoder dispatches on a table of names; an unknown or repeated name,
 * a missing "size", zero recipients or any bound passed is an error.
 * Owns the strings of a drop_env; fails with -1 and a reason.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/strbuf.h"
#include "common/tio.h"
#include "common/xalloc.h"
#include "queue/drop.h"
#include "queue/qfile.h"
#include "queue/sm_args.h"

/* drop_env_init - an empty envelope. */
void drop_env_init(drop_env *e)
{
    memset(e, 0, sizeof(*e));
}

/* drop_env_free - free the envelope's strings. */
void drop_env_free(drop_env *e)
{
    for (size_t i = 0; i < e->nrcpt; i++)
        free(e->rcpts[i]);
    free(e->rcpts);
    free(e->sender);
    free(e->envid);
    drop_env_init(e);
}

/* drop_env_add_rcpt - append a copy of rcpt. */
void drop_env_add_rcpt(drop_env *e, const char *rcpt)
{
    if (e->nrcpt == e->rcap) {
        e->rcap = e->rcap ? 2 * e->rcap : 8;
        e->rcpts = xreallocarray(e->rcpts, e->rcap, sizeof(*e->rcpts));
    }
    e->rcpts[e->nrcpt++] = xstrdup(rcpt);
}

/* drop_put_addr - "name=<external form>\n". */
static int drop_put_addr(strbuf *out, const char *name, const char *a)
{
    if (sb_printf(out, "%s=", name) < 0
        || addr_quote(out, a, strlen(a)) < 0)
        return -1;
    return sb_putc(out, '\n');
}

/* drop_encode - the stream header. */
int drop_encode(const drop_env *e, strbuf *out)
{
    static const char *const rets[] = {"", "FULL", "HDRS"};
    static const char *const bodies[] = {"", "7BIT", "8BITMIME"};

    if (sb_puts(out, DROP_MAGIC "\n") < 0
        || drop_put_addr(out, "sender", e->sender ? e->sender : "") < 0)
        return -1;
    for (size_t i = 0; i < e->nrcpt; i++)
        if (drop_put_addr(out, "rcpt", e->rcpts[i]) < 0)
            return -1;
    if ((e->notify && sb_printf(out, "notify=%u\n", e->notify) < 0)
        || (e->ret > 0 && e->ret < 3
            && sb_printf(out, "ret=%s\n", rets[e->ret]) < 0)
        || (e->body > 0 && e->body < 3
            && sb_printf(out, "body=%s\n", bodies[e->body]) < 0)
        || (e->envid && sb_printf(out, "envid=%s\n", e->envid) < 0))
        return -1;
    return sb_printf(out, "size=%" PRIu64 "\n\n", e->size);
}

/* drop_check_addr - parse and normalise one stream address. */
int drop_check_addr(const char *s, bool allow_null, strbuf *internal,
                    bool *utf8, strbuf *why)
{
    addr a;
    enum addr_err err;
    int rc = -1;

    addr_init(&a);
    err = addr_parse(&a, s, strlen(s), allow_null ? ADDR_P_ALLOW_NULL : 0);
    sb_reset(internal);
    if (err != ADDR_OK)
        (void)sb_printf(why, "bad address <%.100s>: %s", s,
                        addr_strerror(err));
    else if (addr_internal(&a, internal) < 0)
        (void)sb_puts(why, "address too long");
    else
        rc = 0;
    if (rc == 0 && (a.flags & ADDR_F_UTF8))
        *utf8 = true;
    addr_release(&a);
    return rc;
}

/* The decoder's state: the envelope, its limits, names already seen. */
struct drop_dec {
    drop_env *e;
    size_t max_rcpt;
    uint64_t max_size;
    unsigned seen;              /* bit per scalar name */
    bool have_size;
    strbuf tmp;
};

/* drop_keyword - index of s in words[1..n), or -1. */
static int drop_keyword(const char *const *words, int n, const char *s)
{
    for (int i = 1; i < n; i++)
        if (strcmp(words[i], s) == 0)
            return i;
    return -1;
}

/* drop_num - a decimal number without sign or leading junk; -1 if bad. */
int drop_num(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (*s < '0' || *s > '9' || strlen(s) > 20)
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

/* drop_field - apply one "name=value" line; -1 with a reason. */
static int drop_field(struct drop_dec *d, const char *name, const char *v,
                      strbuf *why)
{
    static const char *const scalars[] = {
        "", "sender", "notify", "ret", "body", "envid", "size"};
    static const char *const rets[] = {"", "FULL", "HDRS"};
    static const char *const bodies[] = {"", "7BIT", "8BITMIME"};
    int k = drop_keyword(scalars, 7, name);
    uint64_t n;

    if (strcmp(name, "rcpt") == 0) {
        if (d->e->nrcpt >= d->max_rcpt)
            return sb_puts(why, "too many recipients"), -1;
        if (drop_check_addr(v, false, &d->tmp, &d->e->smtputf8, why) < 0)
            return -1;
        drop_env_add_rcpt(d->e, sb_str(&d->tmp));
        return 0;
    }
    if (k < 0)
        return sb_printf(why, "unknown field \"%.64s\"", name), -1;
    if (d->seen & (1u << k))
        return sb_printf(why, "duplicate field \"%s\"", name), -1;
    d->seen |= 1u << k;
    switch (k) {
    case 1:
        if (drop_check_addr(v, true, &d->tmp, &d->e->smtputf8, why) < 0)
            return -1;
        d->e->sender = xstrdup(sb_str(&d->tmp));
        return 0;
    case 2:
        if (drop_num(v, 0x0f, &n) < 0 || n == 0
            || ((n & QFILE_NOTIFY_NEVER) && n != QFILE_NOTIFY_NEVER))
            return sb_puts(why, "bad notify value"), -1;
        d->e->notify = (unsigned)n;
        return 0;
    case 3:
        return (d->e->ret = drop_keyword(rets, 3, v)) < 0
            ? (sb_puts(why, "bad ret value"), -1) : 0;
    case 4:
        return (d->e->body = drop_keyword(bodies, 3, v)) < 0
            ? (sb_puts(why, "bad body value"), -1) : 0;
    case 5:
        if (!sm_envid_ok(v))
            return sb_puts(why, "bad envid value"), -1;
        d->e->envid = xstrdup(v);
        return 0;
    default:
        if (drop_num(v, d->max_size, &d->e->size) < 0)
            return sb_puts(why, "bad size or message too large"), -1;
        d->have_size = true;
        return 0;
    }
}

/* drop_line - read one stream header line; -1 with a reason. */
static int drop_line(tio *t, strbuf *line, strbuf *why)
{
    unsigned flags = 0;
    int st = tio_getline(t, line, DROP_LINE_MAX, &flags);

    if (st == TIO_TOOLONG)
        return sb_puts(why, "stream line too long"), -1;
    if (st != TIO_OK)
        return sb_printf(why, "read stream: %s", tio_strstatus(st)), -1;
    if ((flags & (TIO_LINE_CRLF | TIO_LINE_BARE_CR | TIO_LINE_NUL))
        || memchr(sb_str(line), 0, sb_len(line)))
        return sb_puts(why, "control character in stream line"), -1;
    return 0;
}

/* drop_decode - read and validate the stream header. */
int drop_decode(tio *t, drop_env *e, size_t max_rcpt, uint64_t max_size,
                strbuf *why)
{
    struct drop_dec d = {e, max_rcpt ? max_rcpt : QFILE_RCPT_MAX,
                         max_size ? max_size : QFILE_CONTENT_MAX, 0, false,
                         {0}};
    strbuf line;
    int rc = -1;

    sb_init(&line, DROP_LINE_MAX + 1);
    sb_init(&d.tmp, DROP_LINE_MAX + 1);
    if (drop_line(t, &line, why) < 0)
        goto done;
    if (strcmp(sb_str(&line), DROP_MAGIC) != 0) {
        (void)sb_puts(why, "not a tern drop stream");
        goto done;
    }
    while (drop_line(t, &line, why) == 0) {
        char *eq;

        if (sb_len(&line) == 0) {
            if (!(d.seen & (1u << 1)) || !d.have_size || e->nrcpt == 0)
                (void)sb_puts(why, "stream lacks sender, size or recipients");
            else
                rc = 0;
            break;
        }
        if ((eq = strchr(line.data, '=')) == NULL) {
            (void)sb_puts(why, "stream line without '='");
            break;
        }
        *eq = 0;
        if (drop_field(&d, line.data, eq + 1, why) < 0)
            break;
    }
done:
    sb_release(&line);
    sb_release(&d.tmp);
    return rc;
}
