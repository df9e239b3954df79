/*
 * mailq - Postfix-compatible queue listings (postqueue -p and -j).
 *
 * Every format string here is Postfix's (COMPAT.md 4b, 4c): monitoring
 * plugins and dashboards parse these bytes. The ID column holds the queue ID
 * followed by one status character: '*' active, '!' hold, '#' forced to
 * expire, ' ' otherwise (as Postfix's showq does, so a full-width ID pushes
 * the size column one place right). Owns nothing; fails with -1 only when
 * the caller's output buffer is full.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/addr.h"
#include "common/strbuf.h"
#include "queue/mailq.h"

/*
 * The two layouts. Formats are chosen with ?: between literals so the
 * compiler still checks every one of them.
 */
#define MAILQ_HEADER(l) ((l) ? "%-17s %8s %-19s %s\n" : "%-11s %7s %-20s %s\n")
#define MAILQ_SENDER(l) ((l) ? "%-17s %8llu %19.19s %s\n" \
                             : "%-11s %7llu %20.20s %s\n")
#define MAILQ_RCPT(l)   ((l) ? "%-17s %8s %-19s %s\n" : "%-11s %7s %-20s %s\n")

/* Reason lines: right-aligned in this many columns (Postfix's value). */
#define MAILQ_REASON_COLUMNS 76

/* mailq_fmt_init - reset the totals and choose the layout. */
void mailq_fmt_init(mailq_fmt *fmt, bool long_ids)
{
    memset(fmt, 0, sizeof(*fmt));
    fmt->long_ids = long_ids;
}

/* mailq_utf8_len - length of the valid UTF-8 sequence at s, or 0. */
static size_t mailq_utf8_len(const unsigned char *s, size_t len)
{
    size_t need;
    unsigned cp;

    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        need = 2, cp = s[0] & 0x1fu;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        need = 3, cp = s[0] & 0x0fu;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        need = 4, cp = s[0] & 0x07u;
    else
        return 0;
    if (need > len)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return need;
}

/* mailq_printable_bytes - append s[0..len) with unprintable bytes as '?'. */
static int mailq_printable_bytes(strbuf *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t n = p[i] >= 0x80 ? mailq_utf8_len(p + i, len - i) : 0;

        if (n > 0) {
            if (sb_append(out, p + i, n) < 0)
                return -1;
            i += n;
            continue;
        }
        if (sb_putc(out, p[i] < 0x20 || p[i] >= 0x7f ? '?' : p[i]) < 0)
            return -1;
        i++;
    }
    return 0;
}

/* mailq_printable - quoted, printable form of an internal address. */
int mailq_printable(strbuf *out, const char *address)
{
    strbuf quoted;
    int rc;

    sb_init(&quoted, SB_NOLIMIT);
    if (addr_quote(&quoted, address, strlen(address)) < 0) {
        sb_release(&quoted);
        return -1;
    }
    rc = mailq_printable_bytes(out, sb_str(&quoted), sb_len(&quoted));
    sb_release(&quoted);
    return rc;
}

/* mailq_who - the sender as shown: MAILER-DAEMON for the null address. */
static int mailq_who(strbuf *out, const char *sender)
{
    if (sender == NULL || *sender == 0)
        return sb_puts(out, "MAILER-DAEMON");
    return mailq_printable(out, sender);
}

/* mailq_asctime - asctime(localtime(t)) without the newline, locale-free. */
int mailq_asctime(int64_t t, char *buf, size_t size)
{
    static const char days[7][4] = {
        "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun",
        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t when = (time_t)t;
    struct tm tm;

    if (localtime_r(&when, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6
        || tm.tm_mon < 0 || tm.tm_mon > 11)
        return fmt_fixed(buf, size, "%s", "??? ??? ?? ??:??:?? ????");
    return fmt_fixed(buf, size, "%.3s %.3s%3d %.2d:%.2d:%.2d %d",
                     days[tm.tm_wday], months[tm.tm_mon], tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, 1900 + tm.tm_year);
}

/* mailq_status - the status character that follows the queue ID. */
static char mailq_status(const mailq_entry *e)
{
    if (e->forced_expire)
        return '#';
    if (strcmp(e->queue_name, "active") == 0)
        return '*';
    if (strcmp(e->queue_name, "hold") == 0)
        return '!';
    return ' ';
}

/* mailq_reason - a "(reason)" line right-aligned like Postfix's. */
static int mailq_reason(strbuf *out, const char *reason)
{
    strbuf text;
    int pad, rc;

    sb_init(&text, SB_NOLIMIT);
    if (mailq_printable_bytes(&text, reason, strlen(reason)) < 0) {
        sb_release(&text);
        return -1;
    }
    pad = sb_len(&text) >= MAILQ_REASON_COLUMNS ? 0
        : MAILQ_REASON_COLUMNS - (int)sb_len(&text);
    rc = sb_printf(out, "%*s(%s)\n", pad, "", sb_str(&text));
    sb_release(&text);
    return rc;
}

/* mailq_same - true when two optional reasons are equal. */
static bool mailq_same(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* mailq_rcpts - the recipient lines, each reason printed once per run. */
static int mailq_rcpts(bool l, const mailq_entry *e, strbuf *out,
                       strbuf *tmp)
{
    const char *prev = NULL;

    for (size_t i = 0; i < e->nrcpt; i++) {
        const mailq_rcpt *r = &e->rcpts[i];

        if (!mailq_same(prev, r->reason)) {
            if (mailq_reason(out, r->reason ? r->reason
                             : "reason unavailable") < 0)
                return -1;
        }
        prev = r->reason;
        sb_reset(tmp);
        if (mailq_printable(tmp, r->address) < 0
            || sb_printf(out, MAILQ_RCPT(l), "", "", "", sb_str(tmp)) < 0)
            return -1;
    }
    return 0;
}

/* mailq_format - one message's block of the -p listing. */
int mailq_format(mailq_fmt *fmt, const mailq_entry *e, strbuf *out)
{
    bool l = fmt->long_ids;
    char when[32];
    strbuf id, who;
    int rc = -1;

    if (fmt->count == 0) {
        if (sb_printf(out, MAILQ_HEADER(l),
                      l ? "----Queue ID-----" : "-Queue ID-", "--Size--",
                      l ? "---Arrival Time----" : "----Arrival Time----",
                      l ? "--Sender/Recipient------"
                      : "-Sender/Recipient-------") < 0)
            return -1;
    } else if (sb_putc(out, '\n') < 0) {
        return -1;
    }
    sb_init(&id, SB_NOLIMIT);
    sb_init(&who, SB_NOLIMIT);
    if (mailq_asctime(e->arrival, when, sizeof(when)) == 0
        && mailq_printable_bytes(&id, e->queue_id, strlen(e->queue_id)) == 0
        && sb_putc(&id, mailq_status(e)) == 0
        && mailq_who(&who, e->sender) == 0
        && sb_printf(out, MAILQ_SENDER(l), sb_str(&id),
                     (unsigned long long)e->size, when, sb_str(&who)) == 0
        && mailq_rcpts(l, e, out, &who) == 0)
        rc = 0;
    sb_release(&id);
    sb_release(&who);
    fmt->count++;
    fmt->bytes += e->size;
    return rc;
}

/* mailq_trailer - the last line check_mailq reads. */
int mailq_trailer(const mailq_fmt *fmt, strbuf *out)
{
    if (fmt->count == 0)
        return sb_puts(out, "Mail queue is empty\n");
    return sb_printf(out, "\n-- %llu Kbytes in %llu Request%s.\n",
                     (unsigned long long)(fmt->bytes / 1024),
                     (unsigned long long)fmt->count,
                     fmt->count == 1 ? "" : "s");
}

/* mailq_json_quote - JSON string escaping in Postfix's quote_for_json way. */
int mailq_json_quote(strbuf *out, const char *s, size_t len, bool utf8)
{
    static const char shorts[][2] = {
        {'\b', 'b'}, {'\f', 'f'}, {'\n', 'n'}, {'\r', 'r'}, {'\t', 't'},
        {'"', '"'}, {'\\', '\\'}};
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t n = (utf8 && p[i] >= 0x80) ? mailq_utf8_len(p + i, len - i) : 0;
        size_t k;
        int rc;

        if (n > 0) {
            if (sb_append(out, p + i, n) < 0)
                return -1;
            i += n;
            continue;
        }
        for (k = 0; k < sizeof(shorts) / sizeof(shorts[0]); k++)
            if (p[i] == (unsigned char)shorts[k][0])
                break;
        if (k < sizeof(shorts) / sizeof(shorts[0]))
            rc = sb_putc(out, '\\') < 0 ? -1 : sb_putc(out, shorts[k][1]);
        else if (p[i] < 0x20 || p[i] == 0x7f)
            rc = sb_printf(out, "\\u%04X", p[i]);
        else
            rc = sb_putc(out, p[i] >= 0x80 ? '?' : p[i]);
        if (rc < 0)
            return -1;
        i++;
    }
    return 0;
}

/* mailq_json_str - append `"key": "value"` with the value JSON-quoted. */
static int mailq_json_str(strbuf *out, const char *key, const char *value,
                          bool utf8)
{
    if (sb_printf(out, "\"%s\": \"", key) < 0
        || mailq_json_quote(out, value, strlen(value), utf8) < 0)
        return -1;
    return sb_putc(out, '"');
}

/* mailq_json_addr - a quoted address member (MAILER-DAEMON for <>). */
static int mailq_json_addr(strbuf *out, const char *key, const char *a,
                           bool utf8, strbuf *tmp)
{
    sb_reset(tmp);
    if (a == NULL || *a == 0) {
        if (sb_puts(tmp, "MAILER-DAEMON") < 0)
            return -1;
    } else if (addr_quote(tmp, a, strlen(a)) < 0) {
        return -1;
    }
    return mailq_json_str(out, key, sb_str(tmp), utf8);
}

/* mailq_json_rcpt - one recipients[] object. */
static int mailq_json_rcpt(strbuf *out, const mailq_rcpt *r, bool utf8,
                           strbuf *tmp)
{
    const char *orig = r->orig_address ? r->orig_address : r->address;

    if (sb_putc(out, '{') < 0
        || mailq_json_addr(out, "orig_address", orig, utf8, tmp) < 0
        || sb_puts(out, ", ") < 0
        || mailq_json_addr(out, "address", r->address, utf8, tmp) < 0)
        return -1;
    if (r->reason != NULL
        && (sb_puts(out, ", ") < 0
            || mailq_json_str(out, r->bounced ? "bounce_reason"
                              : "delay_reason", r->reason, utf8) < 0))
        return -1;
    return sb_putc(out, '}');
}

/* mailq_json - one JSON object on one line. */
int mailq_json(const mailq_entry *e, strbuf *out)
{
    strbuf tmp;
    int rc = -1;

    sb_init(&tmp, SB_NOLIMIT);
    if (sb_putc(out, '{') < 0
        || mailq_json_str(out, "queue_name", e->queue_name, false) < 0
        || sb_puts(out, ", ") < 0
        || mailq_json_str(out, "queue_id", e->queue_id, false) < 0
        || sb_printf(out, ", \"arrival_time\": %lld, \"message_size\": %llu"
                     ", \"forced_expire\": %s, ", (long long)e->arrival,
                     (unsigned long long)e->size,
                     e->forced_expire ? "true" : "false") < 0
        || mailq_json_addr(out, "sender", e->sender, e->smtputf8, &tmp) < 0
        || sb_puts(out, ", \"recipients\": [") < 0)
        goto done;
    for (size_t i = 0; i < e->nrcpt; i++)
        if ((i > 0 && sb_puts(out, ", ") < 0)
            || mailq_json_rcpt(out, &e->rcpts[i], e->smtputf8, &tmp) < 0)
            goto done;
    rc = sb_puts(out, "]}\n");
done:
    sb_release(&tmp);
    return rc;
}
