/*
 * smtpd_fmt - Received: header, dates, protocol names, disconnect counters
 * and escaped input (see smtpd_fmt.h). Owns nothing; only formats.
 */
#include <string.h>

#include "smtpd/smtpd_fmt.h"

/* fmt_clean - append text with control bytes replaced by '?'. */
static int fmt_clean(strbuf *out, const char *s)
{
    for (; *s; s++)
        if (sb_putc(out, (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s) < 0)
            return -1;
    return 0;
}

/* smtpd_fmt_date - RFC 5322 date in the local zone, Postfix's spacing. */
int smtpd_fmt_date(time_t when, strbuf *out)
{
    static const char *const days[] = {
        "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun",
        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    long off;

    if (localtime_r(&when, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6
        || tm.tm_mon < 0 || tm.tm_mon > 11)
        return -1;
    off = tm.tm_gmtoff / 60;
    return sb_printf(out, "%s, %2d %s %d %02d:%02d:%02d %c%02ld%02ld (%s)",
                     days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
                     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     off < 0 ? '-' : '+', (off < 0 ? -off : off) / 60,
                     (off < 0 ? -off : off) % 60,
                     tm.tm_zone && *tm.tm_zone ? tm.tm_zone : "UTC");
}

/* smtpd_fmt_protocol - the "with" word of the Received: header. */
const char *smtpd_fmt_protocol(bool esmtp, bool tls, bool auth, bool utf8)
{
    static const char *const names[2][4] = {
        {"ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA"},
        {"UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA", "UTF8SMTPSA"},
    };

    if (!esmtp)
        return "SMTP";
    return names[utf8 ? 1 : 0][(tls ? 1 : 0) + (auth ? 2 : 0)];
}

/* smtpd_fmt_received - Postfix's Received: header, CRLF line ends. */
int smtpd_fmt_received(const struct smtpd_received *r, strbuf *out)
{
    bool v6 = r->client_addr && strchr(r->client_addr, ':') != NULL;
    int rc = 0;

    sb_reset(out);
    rc |= sb_puts(out, "Received: from ");
    rc |= fmt_clean(out, r->helo && *r->helo ? r->helo : r->client_name);
    rc |= sb_puts(out, " (");
    rc |= fmt_clean(out, r->client_name);
    rc |= sb_printf(out, " [%s%s])\r\n", v6 ? "IPv6:" : "", r->client_addr);
    if (r->tls_info && *r->tls_info)
        rc |= sb_printf(out, "\t%s\r\n", r->tls_info);
    if (r->auth_user && *r->auth_user) {
        rc |= sb_puts(out, "\t(Authenticated sender: ");
        rc |= fmt_clean(out, r->auth_user);
        rc |= sb_puts(out, ")\r\n");
    }
    rc |= sb_printf(out, "\tby %s (%s) with %s id %s", r->myhostname,
                    r->mail_name, r->protocol, r->queue_id);
    if (r->rcpt) {
        rc |= sb_puts(out, "\r\n\tfor <");
        rc |= fmt_clean(out, r->rcpt);
        rc |= sb_puts(out, ">; ");
    } else {
        rc |= sb_puts(out, ";\r\n\t");
    }
    rc |= smtpd_fmt_date(r->when, out);
    rc |= sb_puts(out, "\r\n");
    return rc < 0 ? -1 : 0;
}

/* fmt_count - " name=ok" or " name=ok/total". */
static int fmt_count(strbuf *out, const char *name, unsigned ok,
                     unsigned total, bool always_total)
{
    if (sb_printf(out, " %s=%u", name, ok) < 0)
        return -1;
    if (ok != total || always_total)
        return sb_printf(out, "/%u", total);
    return 0;
}

/* smtpd_fmt_counts - the disconnect line's counters. */
int smtpd_fmt_counts(const struct smtpd_count *c, size_t n, strbuf *out)
{
    unsigned ok = 0, total = 0;

    for (size_t i = 0; i < n; i++) {
        if (c[i].total == 0)
            continue;
        if (fmt_count(out, c[i].name, c[i].ok, c[i].total, false) < 0)
            return -1;
        ok += c[i].ok;
        total += c[i].total;
    }
    return fmt_count(out, "commands", ok, total, total == 0);
}

/* smtpd_fmt_escape - client input made safe and visible for a log line. */
int smtpd_fmt_escape(const char *s, size_t len, size_t max, strbuf *out)
{
    static const char named[][2] = {{'\r', 'r'}, {'\n', 'n'}, {'\t', 't'},
                                    {'\\', '\\'}};
    int rc = 0;

    for (size_t i = 0; i < len && i < max && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t k;

        for (k = 0; k < sizeof(named) / sizeof(named[0]); k++)
            if (named[k][0] == (char)c)
                break;
        if (k < sizeof(named) / sizeof(named[0]))
            rc = sb_printf(out, "\\%c", named[k][1]);
        else if (c < 0x20 || c == 0x7f)
            rc = sb_printf(out, "\\%03o", c);
        else
            rc = sb_putc(out, c);
    }
    if (rc == 0 && len > max)
        rc = sb_puts(out, "...");
    return rc;
}
