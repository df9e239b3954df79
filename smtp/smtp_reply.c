/*
 * smtp_reply - SMTP reply parsing (see smtp_reply.h for the contract).
 *
 * Owns nothing but the reply's text buffer. Bad input is a status, not an
 * exit: the caller turns SMTP_REPLY_BAD into a protocol error.
 */
#include <string.h>

#include "smtp/smtp_reply.h"

/* Room for every line plus its '\n'. */
#define SMTP_REPLY_TEXT_MAX (SMTP_REPLY_LINES_MAX * (SMTP_REPLY_LINE_MAX + 1))

/* smtp_reply_init - an empty reply. */
void smtp_reply_init(smtp_reply *r)
{
    memset(r, 0, sizeof(*r));
    sb_init(&r->text, SMTP_REPLY_TEXT_MAX);
}

/* smtp_reply_release - free the text. */
void smtp_reply_release(smtp_reply *r)
{
    sb_release(&r->text);
}

/* smtp_reply_reset - empty again, buffer kept. */
void smtp_reply_reset(smtp_reply *r)
{
    r->code = 0;
    r->dsn[0] = 0;
    r->enhanced = false;
    r->nlines = 0;
    sb_reset(&r->text);
}

/* digits - count of decimal digits at s[0..len), at most max. */
static size_t digits(const char *s, size_t len, size_t max)
{
    size_t n = 0;

    while (n < len && n <= max && s[n] >= '0' && s[n] <= '9')
        n++;
    return n;
}

/* smtp_dsn_parse - length of "x.y.z" at s when followed by end or space. */
size_t smtp_dsn_parse(const char *s, size_t len)
{
    size_t i = 1, n;

    if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
        return 0;
    for (int part = 0; part < 2; part++) {
        if (i >= len || s[i] != '.')
            return 0;
        i++;
        n = digits(s + i, len - i, 3);
        if (n == 0 || n > 3)
            return 0;
        i += n;
    }
    return i == len || s[i] == ' ' ? i : 0;
}

/* reply_first_line - code and enhanced status of the first line. */
static void reply_first_line(smtp_reply *r, int code, const char *rest,
                             size_t len)
{
    size_t n = smtp_dsn_parse(rest, len);

    r->code = code;
    if (n > 0 && n < SMTP_DSN_SIZE && rest[0] == '0' + code / 100) {
        memcpy(r->dsn, rest, n);
        r->dsn[n] = 0;
        r->enhanced = true;
    } else {
        r->dsn[0] = (char)('0' + code / 100);
        memcpy(r->dsn + 1, ".0.0", 5);
        r->enhanced = false;
    }
}

/* smtp_reply_add_line - one line: MORE, OK or BAD. */
int smtp_reply_add_line(smtp_reply *r, const char *line, size_t len)
{
    int code;

    if (len < 3 || digits(line, 3, 3) != 3 || (len > 3 && line[3] != ' '
                                                 && line[3] != '-'))
        return SMTP_REPLY_BAD;
    code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (code < 200 || code > 599)
        return SMTP_REPLY_BAD;
    if (r->nlines == 0)
        reply_first_line(r, code, line + (len > 3 ? 4 : 3),
                         len > 3 ? len - 4 : 0);
    else if (code != r->code)
        return SMTP_REPLY_BAD;
    if (r->nlines >= SMTP_REPLY_LINES_MAX)
        return SMTP_REPLY_BAD;
    if (len > SMTP_REPLY_LINE_MAX)
        len = SMTP_REPLY_LINE_MAX;
    if (r->nlines > 0 && sb_putc(&r->text, '\n') < 0)
        return SMTP_REPLY_BAD;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];

        if (sb_putc(&r->text, c < 0x20 || c == 0x7f ? ' ' : c) < 0)
            return SMTP_REPLY_BAD;
    }
    r->nlines++;
    return len > 3 && line[3] == '-' ? SMTP_REPLY_MORE : SMTP_REPLY_OK;
}

/* smtp_reply_read - read lines until the reply is complete. */
int smtp_reply_read(tio *t, smtp_reply *r)
{
    strbuf line;
    unsigned flags;
    int rc = SMTP_REPLY_MORE;

    smtp_reply_reset(r);
    sb_init(&line, SMTP_REPLY_LINE_MAX);
    for (size_t i = 0; i <= SMTP_REPLY_LINES_MAX && rc == SMTP_REPLY_MORE; i++) {
        int st = tio_getline(t, &line, SMTP_REPLY_LINE_MAX, &flags);

        if (st == TIO_TOOLONG)
            st = tio_skipline(t);
        if (st == TIO_TIMEOUT)
            rc = SMTP_REPLY_TIMEOUT;
        else if (st != TIO_OK)
            rc = SMTP_REPLY_LOST;
        else
            rc = smtp_reply_add_line(r, sb_str(&line), sb_len(&line));
    }
    sb_release(&line);
    return rc == SMTP_REPLY_MORE ? SMTP_REPLY_BAD : rc;
}

/* smtp_reply_oneline - the reply text with newlines as spaces. */
void smtp_reply_oneline(const smtp_reply *r, strbuf *out)
{
    sb_reset(out);
    for (size_t i = 0; i < sb_len(&r->text); i++)
        if (sb_putc(out, sb_str(&r->text)[i] == '\n' ? ' '
                    : sb_str(&r->text)[i]) < 0)
            break;
}
