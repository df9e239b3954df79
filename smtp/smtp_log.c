/*
 * smtp_log - delivery line formatting (see smtp_log.h). No state, no
 * failure: text that does not fit the caller's bound is cut.
 */
#include <string.h>

#include "smtp/smtp_log.h"

#define US_PER_S 1000000LL

/* delay_resolution - microseconds kept: 0.01s below 1s, 0.1s to 10s, 1s. */
static long long delay_resolution(long long sec)
{
    if (sec >= 10)
        return US_PER_S;
    if (sec >= 1)
        return US_PER_S / 10;
    return US_PER_S / 100;
}

/* smtp_delay_format - two significant digits, rounded, no trailing zeros. */
void smtp_delay_format(double secs, strbuf *out)
{
    long long total, sec, usec, res;

    if (!(secs > 0))
        secs = 0;
    if (secs > 1e12)
        secs = 1e12;
    total = (long long)(secs * (double)US_PER_S + 0.5);
    sec = total / US_PER_S;
    usec = total % US_PER_S;
    res = delay_resolution(sec);
    usec += res / 2;
    if (usec >= US_PER_S) {
        sec++;
        usec -= US_PER_S;
    }
    (void)sb_printf(out, "%lld", sec);
    if (usec < res)
        return;
    (void)sb_putc(out, '.');
    for (long long unit = US_PER_S / 10; unit >= res && usec >= res;
         unit /= 10) {
        (void)sb_putc(out, (char)('0' + usec / unit));
        usec %= unit;
    }
}

/* smtp_log_format - the delivery line after the queue ID. */
void smtp_log_format(const smtp_log_info *li, strbuf *out)
{
    (void)sb_printf(out, "to=<%s>, ", li->to);
    if (li->orig_to && *li->orig_to && strcmp(li->orig_to, li->to) != 0)
        (void)sb_printf(out, "orig_to=<%s>, ", li->orig_to);
    (void)sb_printf(out, "relay=%s, ", li->relay);
    if (li->conn_use > 1)
        (void)sb_printf(out, "conn_use=%u, ", li->conn_use);
    (void)sb_puts(out, "delay=");
    smtp_delay_format(li->delay, out);
    (void)sb_puts(out, ", delays=");
    for (int i = 0; i < 4; i++) {
        if (i > 0)
            (void)sb_putc(out, '/');
        smtp_delay_format(li->delays[i], out);
    }
    (void)sb_printf(out, ", dsn=%s, status=%s (%s)", li->dsn, li->status,
                    li->reason);
}
