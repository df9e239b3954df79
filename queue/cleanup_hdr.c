/*
 * cleanup_hdr - the primary message header, one field at a time: hop
 * count, header_checks (with Postfix's log lines), Message-ID logging,
 * header address rewriting, missing From/Date/Message-Id, then the body
 * streams through untouched.
 *
 * Owns no memory of its own: it works in the cleanup's line and field
 * buffers, both bounded by header_size_limit. A field longer than that
 * keeps its first lines and loses the rest (whole lines, so folding stays
 * valid; one warning per message). The header ends at an empty line, or
 * at the first line that is not a header field: then the missing headers
 * and an empty line are inserted before it. A field is written out
 * verbatim unless an action or a rewrite changes it, so long folded
 * headers, 8-bit bytes and even NUL bytes pass unchanged; addresses that
 * do not parse are left alone.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/addr.h"
#include "common/msg.h"
#include "common/strbuf.h"
#include "maps/maps.h"
#include "queue/cleanup_private.h"
#include "queue/sm_hdr.h"

#define CLEANUP_HDR_ADDR_MAX 10240      /* addresses rewritten per field */

/* What a header_checks action does. */
enum cleanup_hc_kind {
    CLEANUP_HC_KEEP,            /* DUNNO, OK, WARN, INFO */
    CLEANUP_HC_DROP,            /* IGNORE */
    CLEANUP_HC_REJECT,
    CLEANUP_HC_HOLD,
    CLEANUP_HC_DISCARD,
    CLEANUP_HC_PREPEND,
    CLEANUP_HC_REPLACE,
};

/* header_checks actions: table word, log word (NULL = silent), effect. */
static const struct cleanup_hc_act {
    const char *name;
    const char *logword;
    enum cleanup_hc_kind kind;
} cleanup_hc_acts[] = {
    {"DUNNO", NULL, CLEANUP_HC_KEEP},
    {"OK", NULL, CLEANUP_HC_KEEP},
    {"IGNORE", NULL, CLEANUP_HC_DROP},
    {"WARN", "warning", CLEANUP_HC_KEEP},
    {"INFO", "info", CLEANUP_HC_KEEP},
    {"REJECT", "reject", CLEANUP_HC_REJECT},
    {"HOLD", "hold", CLEANUP_HC_HOLD},
    {"DISCARD", "discard", CLEANUP_HC_DISCARD},
    {"PREPEND", NULL, CLEANUP_HC_PREPEND},
    {"REPLACE", NULL, CLEANUP_HC_REPLACE},
};

/* Header fields whose addresses are rewritten, and as which class. */
static const struct {
    const char *name;
    bool sender;
} cleanup_addr_fields[] = {
    {"From", true}, {"Sender", true}, {"Reply-To", true},
    {"Errors-To", true}, {"Return-Receipt-To", true},
    {"Resent-From", true}, {"Resent-Sender", true}, {"Resent-Reply-To", true},
    {"To", false}, {"Cc", false}, {"Bcc", false}, {"Apparently-To", false},
    {"Resent-To", false}, {"Resent-Cc", false}, {"Resent-Bcc", false},
};

/* cleanup_hdr_name - length of "name" when s starts a field ("name:"). */
static size_t cleanup_hdr_name(const char *s, size_t len)
{
    size_t i = 0, n;

    while (i < len && s[i] > 32 && s[i] < 127 && s[i] != ':')
        i++;
    n = i;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return n > 0 && i < len && s[i] == ':' ? n : 0;
}

/* cleanup_hdr_is - true when the field's name is name. */
static bool cleanup_hdr_is(const strbuf *f, size_t nlen, const char *name)
{
    return strlen(name) == nlen && strncasecmp(sb_str(f), name, nlen) == 0;
}

/* cleanup_hdr_text - the field as one C string: lines joined with sep. */
static void cleanup_hdr_text(const strbuf *f, const char *sep, strbuf *out)
{
    size_t n = strnlen(sb_str(f), sb_len(f));      /* a NUL ends the text */

    sb_reset(out);
    while (n > 0 && (f->data[n - 1] == '\n' || f->data[n - 1] == '\r'))
        n--;
    for (size_t i = 0; i < n; i++) {
        if (f->data[i] == '\r' && i + 1 < n && f->data[i + 1] == '\n')
            continue;
        if (f->data[i] == '\n' ? sb_puts(out, sep) < 0
            : sb_putc(out, f->data[i]) < 0)
            return;
    }
}

/* cleanup_hdr_log - "QUEUEID: ACTION: header TEXT from ORIGIN; ...: text". */
static void cleanup_hdr_log(cleanup *c, const char *action, const strbuf *f,
                            const char *text)
{
    strbuf h, line;

    sb_init(&h, c->cfg->header_limit + 2);
    sb_init(&line, 4096);
    cleanup_hdr_text(f, "", &h);
    (void)sb_printf(&line, "%s: %s: header %.200s from %s;", c->queue_id,
                    action, sb_str(&h), c->origin);
    (void)sb_printf(&line, " from=<%s>", c->sender);
    if (c->last_rcpt)
        (void)sb_printf(&line, " to=<%s>", c->last_rcpt);
    if (c->proto)
        (void)sb_printf(&line, " proto=%s", c->proto);
    if (c->helo)
        (void)sb_printf(&line, " helo=<%s>", c->helo);
    if (text && *text)
        (void)sb_printf(&line, ": %s", text);
    cleanup_log(MSG_INFO, "%s", sb_str(&line));
    sb_release(&h);
    sb_release(&line);
}

/* cleanup_dsn_text - "5.7.1 text" unless text starts with its own code. */
static void cleanup_dsn_text(const char *text, strbuf *out)
{
    const char *p = text;
    int dots = 0;

    if (*text == '\0') {
        (void)sb_set(out, "5.7.1 message content rejected");
        return;
    }
    if (*p == '4' || *p == '5') {
        for (p++; *p == '.' || isdigit((unsigned char)*p); p++)
            dots += *p == '.';
        if (dots == 2 && p[-1] != '.' && (*p == ' ' || *p == '\0')) {
            (void)sb_set(out, text);
            return;
        }
    }
    (void)sb_printf(out, "5.7.1 %s", text);
}

/* cleanup_hc_reject - REJECT: 550 (or 451 for a 4.x.x text). */
static void cleanup_hc_reject(cleanup *c, const strbuf *f, const char *text)
{
    strbuf why, reply;

    sb_init(&why, 1024);
    sb_init(&reply, 1100);
    cleanup_dsn_text(text, &why);
    cleanup_hdr_log(c, "reject", f, sb_str(&why));
    (void)sb_printf(&reply, "%s %s", sb_str(&why)[0] == '4' ? "451" : "550",
                    sb_str(&why));
    cleanup_set_verdict(c, sb_str(&why)[0] == '4' ? CLEANUP_TEMPFAIL
                        : CLEANUP_REJECT, sb_str(&reply));
    sb_release(&why);
    sb_release(&reply);
}

/* cleanup_hc_text - replace the field with "text" CRLF (PREPEND/REPLACE). */
static int cleanup_hc_text(cleanup *c, const char *text, bool prepend,
                           strbuf *f)
{
    size_t n = strlen(text);

    if (cleanup_hdr_name(text, n) == 0) {
        cleanup_log(MSG_WARN, "%s: header_checks: %s text is not a header"
                    " field: %.100s", c->queue_id, prepend ? "PREPEND"
                    : "REPLACE", text);
        return 0;
    }
    if (prepend)
        return cleanup_out(c, text, n) < 0 || cleanup_out(c, "\r\n", 2) < 0
            ? -1 : 0;
    sb_reset(f);
    if (sb_puts(f, text) < 0 || sb_puts(f, "\r\n") < 0)
        sb_reset(f);
    return 0;
}

/* cleanup_hdr_act - apply a header_checks result; true drops the field. */
static bool cleanup_hdr_act(cleanup *c, strbuf *f, const char *result)
{
    size_t wl = strcspn(result, " \t");
    const char *text = result + wl;
    const struct cleanup_hc_act *a = NULL;

    while (*text == ' ' || *text == '\t')
        text++;
    for (size_t i = 0; i < sizeof(cleanup_hc_acts) / sizeof(*a); i++)
        if (strlen(cleanup_hc_acts[i].name) == wl
            && strncasecmp(result, cleanup_hc_acts[i].name, wl) == 0)
            a = &cleanup_hc_acts[i];
    if (a == NULL) {
        cleanup_log(MSG_WARN, "%s: unknown command in header_checks map: %.100s",
                    c->queue_id, result);
        return false;
    }
    if (a->kind == CLEANUP_HC_REJECT) {
        cleanup_hc_reject(c, f, text);
        return true;
    }
    if (a->logword)
        cleanup_hdr_log(c, a->logword, f, text);
    if (a->kind == CLEANUP_HC_HOLD)
        cleanup_set_verdict(c, CLEANUP_HOLD, "");
    else if (a->kind == CLEANUP_HC_DISCARD)
        cleanup_set_verdict(c, CLEANUP_DISCARD, "");
    else if (a->kind == CLEANUP_HC_PREPEND || a->kind == CLEANUP_HC_REPLACE)
        (void)cleanup_hc_text(c, text, a->kind == CLEANUP_HC_PREPEND, f);
    return a->kind == CLEANUP_HC_DROP || sb_len(f) == 0;
}

/* cleanup_hdr_check - header_checks on one field; true drops it. */
static bool cleanup_hdr_check(cleanup *c, strbuf *f)
{
    strbuf key, result;
    bool drop = false;
    int rc;

    if (c->cfg->header_checks == NULL)
        return false;
    sb_init(&key, c->cfg->header_limit + 2);
    sb_init(&result, MAP_LINE_MAX);
    cleanup_hdr_text(f, "\n", &key);
    rc = maplist_lookup(c->cfg->header_checks, sb_str(&key), &result);
    if (rc == MAP_FOUND) {
        drop = cleanup_hdr_act(c, f, sb_str(&result));
    } else if (rc == MAP_ERROR) {
        cleanup_log(MSG_WARN, "%s: header_checks lookup error", c->queue_id);
        cleanup_set_verdict(c, CLEANUP_TEMPFAIL,
                            "451 4.3.0 Error: temporary lookup failure");
        drop = true;
    }
    sb_release(&key);
    sb_release(&result);
    return drop;
}

/* cleanup_hdr_addr - rewrite one address written at f[start..end). */
static int cleanup_hdr_addr(cleanup *c, const char *item, bool sender,
                            strbuf *out)
{
    strbuf internal, canon;
    int rc = 0;

    sb_init(&internal, QFILE_FIELD_MAX);
    sb_init(&canon, QFILE_FIELD_MAX);
    sb_reset(out);
    if (cleanup_qualify(c->cfg, item, strlen(item), &internal) == 0) {
        rc = cleanup_canon(c, sender, true, sb_str(&internal), &canon);
        if (rc != CLEANUP_MAP_ERROR
            && addr_quote(out, sb_str(&canon), sb_len(&canon)) < 0)
            sb_reset(out);
    }
    sb_release(&internal);
    sb_release(&canon);
    return rc == CLEANUP_MAP_ERROR ? -1 : 0;
}

/* cleanup_hdr_rewrite - canonical rewriting of a field's addresses. */
static void cleanup_hdr_rewrite(cleanup *c, strbuf *f, size_t nlen, bool sender)
{
    size_t voff = nlen, pos, i;
    sm_addrs a;
    strbuf why, out, repl;
    bool changed = false;

    while (f->data[voff] != ':')
        voff++;
    voff++;
    pos = 0;
    sm_addrs_init(&a, CLEANUP_HDR_ADDR_MAX);
    sb_init(&why, 512);
    sb_init(&out, f->max);
    sb_init(&repl, QFILE_FIELD_MAX * 2);
    if (sm_addr_list(f->data + voff, sb_len(f) - voff, &a, &why) < 0)
        sm_addrs_free(&a);              /* unparsable: leave it alone */
    for (i = 0; i < a.count && !cleanup_done(c); i++) {
        size_t s = voff + a.spans[i].start, e = voff + a.spans[i].end;
        const char *item = a.items[i];

        if (e - s != strlen(item) || memcmp(f->data + s, item, e - s) != 0
            || cleanup_hdr_addr(c, item, sender, &repl) < 0
            || sb_len(&repl) == 0 || strcmp(sb_str(&repl), item) == 0)
            continue;
        if (sb_append(&out, f->data + pos, s - pos) < 0
            || sb_append(&out, sb_str(&repl), sb_len(&repl)) < 0)
            break;
        pos = e;
        changed = true;
    }
    if (changed && i == a.count && !cleanup_done(c)
        && sb_append(&out, f->data + pos, sb_len(f) - pos) == 0) {
        sb_reset(f);
        (void)sb_append(f, sb_str(&out), sb_len(&out));
    }
    sm_addrs_free(&a);
    sb_release(&why);
    sb_release(&out);
    sb_release(&repl);
}

/* cleanup_hdr_note - hop count, seen flags, message-id= log line. */
static void cleanup_hdr_note(cleanup *c, const strbuf *f, size_t nlen)
{
    if (cleanup_hdr_is(f, nlen, "Received")
        && ++c->hops >= c->cfg->hopcount_limit) {
        cleanup_log(MSG_WARN, "%s: message rejected: hopcount exceeded",
                    c->queue_id);
        cleanup_set_verdict(c, CLEANUP_REJECT, "554 5.4.6 Too many hops");
    } else if (cleanup_hdr_is(f, nlen, "From")) {
        c->seen_from = true;
    } else if (cleanup_hdr_is(f, nlen, "Date")) {
        c->seen_date = true;
    } else if (cleanup_hdr_is(f, nlen, "Message-ID") && !c->seen_msgid) {
        strbuf v;
        const char *p;

        c->seen_msgid = true;
        sb_init(&v, c->cfg->header_limit + 2);
        cleanup_hdr_text(f, "", &v);
        for (p = strchr(sb_str(&v), ':') + 1; *p == ' ' || *p == '\t'; p++)
            ;
        cleanup_log(MSG_INFO, "%s: message-id=%.400s", c->queue_id, p);
        sb_release(&v);
    }
}

/* cleanup_hdr_field - process and write the collected field. */
static int cleanup_hdr_field(cleanup *c)
{
    strbuf *f = &c->field;
    size_t nlen = cleanup_hdr_name(sb_str(f), sb_len(f));

    if (sb_len(f) == 0 || nlen == 0 || cleanup_done(c)) {
        sb_reset(f);
        return cleanup_done(c) ? -1 : 0;
    }
    cleanup_hdr_note(c, f, nlen);
    if (!cleanup_done(c) && !cleanup_hdr_check(c, f) && !cleanup_done(c)) {
        nlen = cleanup_hdr_name(sb_str(f), sb_len(f));  /* REPLACE */
        for (size_t i = 0; c->rewrite_hdrs && i < sizeof(cleanup_addr_fields)
             / sizeof(cleanup_addr_fields[0]); i++)
            if (cleanup_hdr_is(f, nlen, cleanup_addr_fields[i].name))
                cleanup_hdr_rewrite(c, f, nlen, cleanup_addr_fields[i].sender);
        if (!cleanup_done(c))
            (void)cleanup_out(c, sb_str(f), sb_len(f));
    }
    sb_reset(f);
    return cleanup_done(c) ? -1 : 0;
}

/* cleanup_date - RFC 5322 date of t, as Postfix writes it. */
static int cleanup_date(strbuf *out, time_t t)
{
    struct tm tm;
    char buf[64], zone[16];
    long off;

    if (localtime_r(&t, &tm) == NULL
        || strftime(buf, sizeof(buf), "%a, %e %b %Y %H:%M:%S", &tm) == 0
        || strftime(zone, sizeof(zone), "%Z", &tm) == 0)
        return -1;
    off = tm.tm_gmtoff / 60;
    return sb_printf(out, "%s %c%02ld%02ld (%s)", buf, off < 0 ? '-' : '+',
                     labs(off) / 60, labs(off) % 60, zone);
}

/* cleanup_hdr_missing - add Message-Id, Date and From when missing. */
static int cleanup_hdr_missing(cleanup *c)
{
    strbuf h;
    time_t t = (time_t)c->arrival;
    struct tm tm;
    char stamp[32];
    int rc = 0;

    if (!c->add_missing)
        return 0;
    sb_init(&h, 4096);
    if (!c->seen_msgid && gmtime_r(&t, &tm) != NULL
        && strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm) > 0
        && sb_printf(&h, "Message-Id: <%s.%s@%s>\r\n", stamp, c->queue_id,
                     c->cfg->myhostname) == 0)
        cleanup_log(MSG_INFO, "%s: message-id=<%s.%s@%s>", c->queue_id, stamp,
                    c->queue_id, c->cfg->myhostname);
    if (!c->seen_date && (sb_puts(&h, "Date: ") < 0 || cleanup_date(&h, t) < 0
                          || sb_puts(&h, "\r\n") < 0))
        rc = -1;
    if (!c->seen_from && (sb_puts(&h, "From: ") < 0
                          || (*c->sender ? addr_quote(&h, c->sender,
                                                      strlen(c->sender))
                              : sb_puts(&h, "MAILER-DAEMON")) < 0
                          || sb_puts(&h, "\r\n") < 0))
        rc = -1;
    c->seen_msgid = c->seen_date = c->seen_from = true;
    if (rc == 0)
        rc = cleanup_out(c, sb_str(&h), sb_len(&h));
    sb_release(&h);
    return rc;
}

/* cleanup_hdr_end - the header is over; line (maybe "") starts the body. */
static int cleanup_hdr_end(cleanup *c, const char *line, size_t len,
                           bool separator)
{
    c->hstate = CLEANUP_H_BODY;
    if (cleanup_hdr_field(c) < 0 || cleanup_hdr_missing(c) < 0
        || (!separator && cleanup_out(c, "\r\n", 2) < 0))
        return -1;
    return cleanup_out(c, line, len);
}

/* cleanup_hdr_overflow - a field passed header_size_limit: say so once. */
static void cleanup_hdr_overflow(cleanup *c)
{
    if (!c->overflow_logged)
        cleanup_log(MSG_WARN, "%s: message header exceeds header_size_limit"
                    " %zu: excess discarded", c->queue_id, c->cfg->header_limit);
    c->overflow_logged = true;
}

/* cleanup_hdr_line - one complete header-section line in c->line. */
static int cleanup_hdr_line(cleanup *c)
{
    const char *s = sb_str(&c->line);
    size_t n = sb_len(&c->line);
    int rc = 0;

    if ((n == 1 && s[0] == '\n') || (n == 2 && s[0] == '\r' && s[1] == '\n'))
        rc = cleanup_hdr_end(c, s, n, true);
    else if ((s[0] == ' ' || s[0] == '\t') && sb_len(&c->field) > 0) {
        if (sb_len(&c->field) + n > c->cfg->header_limit)
            cleanup_hdr_overflow(c);
        else
            (void)sb_append(&c->field, s, n);
    } else if (cleanup_hdr_name(s, n) > 0) {
        rc = cleanup_hdr_field(c);
        (void)sb_append(&c->field, s, n);
    } else {
        rc = cleanup_hdr_end(c, s, n, false);
    }
    sb_reset(&c->line);
    return rc;
}

/* cleanup_hdr_long - the line buffer is full and no LF came. */
static int cleanup_hdr_long(cleanup *c)
{
    const char *s = sb_str(&c->line);
    size_t n = sb_len(&c->line);
    int rc = 0;

    cleanup_hdr_overflow(c);
    if ((s[0] == ' ' || s[0] == '\t') && sb_len(&c->field) > 0) {
        c->skip_to_field = false;       /* drop the whole continuation */
        c->hstate = CLEANUP_H_SKIP;
    } else if (cleanup_hdr_name(s, n) > 0) {
        rc = cleanup_hdr_field(c);      /* keep the first limit bytes */
        (void)sb_append(&c->field, s, n);
        c->skip_to_field = true;        /* CRLF added when the line ends */
        c->hstate = CLEANUP_H_SKIP;
    } else {
        rc = cleanup_hdr_end(c, s, n, false);
    }
    sb_reset(&c->line);
    return rc;
}

/* cleanup_hdr_feed - header-section bytes; switches to the body. */
int cleanup_hdr_feed(cleanup *c, const char *buf, size_t len)
{
    size_t i = 0;

    while (i < len && !cleanup_done(c)) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (buf + i)) + 1 : len - i;
        size_t room = c->line.max - sb_len(&c->line);

        if (c->hstate == CLEANUP_H_BODY)
            return cleanup_out(c, buf + i, len - i);
        if (c->hstate == CLEANUP_H_SKIP) {
            i += n;
            if (nl && c->skip_to_field)
                (void)sb_append(&c->field, "\r\n", 2);
            if (nl)
                c->hstate = CLEANUP_H_LINE;
            continue;
        }
        if (n > room) {
            (void)sb_append(&c->line, buf + i, room);
            i += room;
            if (cleanup_hdr_long(c) < 0)
                return -1;
            continue;
        }
        (void)sb_append(&c->line, buf + i, n);
        i += n;
        if (nl && cleanup_hdr_line(c) < 0)
            return -1;
    }
    return cleanup_done(c) ? -1 : 0;
}

/* cleanup_hdr_finish - end of content while still in the header. */
int cleanup_hdr_finish(cleanup *c)
{
    if (c->hstate == CLEANUP_H_BODY)
        return 0;
    if (c->hstate == CLEANUP_H_SKIP && c->skip_to_field)
        (void)sb_append(&c->field, "\r\n", 2);
    if (sb_len(&c->line) > 0) {         /* a last line without its LF */
        if (cleanup_hdr_name(sb_str(&c->line), sb_len(&c->line)) > 0) {
            if (cleanup_hdr_field(c) < 0)
                return -1;
            (void)sb_append(&c->field, sb_str(&c->line), sb_len(&c->line));
            (void)sb_puts(&c->field, "\r\n");
        } else if ((c->line.data[0] == ' ' || c->line.data[0] == '\t')
                   && sb_len(&c->field) > 0
                   && sb_len(&c->field) + sb_len(&c->line) + 2
                   <= c->cfg->header_limit) {
            (void)sb_append(&c->field, sb_str(&c->line), sb_len(&c->line));
            (void)sb_puts(&c->field, "\r\n");
        } else {
            int rc = cleanup_hdr_end(c, sb_str(&c->line), sb_len(&c->line),
                                     false);

            sb_reset(&c->line);
            return rc;
        }
        sb_reset(&c->line);
    }
    c->hstate = CLEANUP_H_BODY;
    if (cleanup_hdr_field(c) < 0 || cleanup_hdr_missing(c) < 0)
        return -1;
    return 0;
}
