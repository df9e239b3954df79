/*
 * smtp_body - DATA encoding (see smtp_body.h). Pure byte transformation:
 * owns no memory; fails only when the caller's output buffer is full.
 * Line ends are found with memchr and the bytes between them are copied
 * in runs up to the next fold point, never one call per byte.
 */
#include <string.h>
#include <sys/types.h>

#include "smtp/smtp_body.h"

/* smtp_body_init - start at the beginning of a line. */
void smtp_body_init(smtp_body *b, size_t limit)
{
    b->limit = limit;
    b->col = 0;
    b->bol = true;
    b->cr = false;
}

/* body_eol - end the current line with CRLF. */
static int body_eol(smtp_body *b, strbuf *out)
{
    b->col = 0;
    b->bol = true;
    return sb_append(out, "\r\n", 2);
}

/* body_byte - one content byte: fold, stuff, copy. */
static int body_byte(smtp_body *b, char c, strbuf *out)
{
    if (b->limit > 0 && b->col >= b->limit) {
        if (sb_append(out, "\r\n ", 3) < 0)
            return -1;
        b->col = 1;
    }
    if (b->bol && c == '.' && sb_putc(out, '.') < 0)
        return -1;
    b->bol = false;
    b->col++;
    return sb_putc(out, c);
}

/* body_run - how many bytes at p come before the next CR or LF. */
static size_t body_run(const char *p, size_t n)
{
    const char *hit;

    if ((hit = memchr(p, '\r', n)) != NULL)
        n = (size_t)(hit - p);
    if ((hit = memchr(p, '\n', n)) != NULL)
        n = (size_t)(hit - p);
    return n;
}

/*
 * body_text - a run of n > 0 bytes without CR or LF: the first through
 * body_byte (folding, dot-stuffing), then as many as fit before the next
 * fold point in one append. Returns the bytes taken, or -1.
 */
static ssize_t body_text(smtp_body *b, const char *p, size_t n, strbuf *out)
{
    size_t take = n - 1, room;

    if (body_byte(b, p[0], out) < 0)
        return -1;
    if (b->limit > 0) {             /* col passes limit only when limit is 1 */
        room = b->col < b->limit ? b->limit - b->col : 0;
        if (take > room)
            take = room;
    }
    if (take > 0 && sb_append(out, p + 1, take) < 0)
        return -1;
    b->col += take;
    return (ssize_t)(take + 1);
}

/* smtp_body_feed - line ends to CRLF, runs of other bytes via body_text. */
int smtp_body_feed(smtp_body *b, const char *data, size_t len, strbuf *out)
{
    size_t i = 0;

    while (i < len) {
        char c = data[i];
        ssize_t n = 1;

        if (b->cr) {
            b->cr = false;
            if (body_eol(b, out) < 0)
                return -1;
            if (c == '\n') {
                i++;
                continue;           /* CRLF: done */
            }
        }
        if (c == '\r')
            b->cr = true;
        else if (c == '\n')
            n = body_eol(b, out);   /* bare LF: 0 or -1 */
        else
            n = body_text(b, data + i, body_run(data + i, len - i), out);
        if (n < 0)
            return -1;
        i += n > 0 ? (size_t)n : 1;
    }
    return 0;
}

/* smtp_body_finish - a pending CR or partial line ends; then the dot. */
int smtp_body_finish(smtp_body *b, strbuf *out)
{
    if (b->cr) {
        b->cr = false;
        if (body_eol(b, out) < 0)
            return -1;
    }
    if (!b->bol && body_eol(b, out) < 0)
        return -1;
    return sb_append(out, ".\r\n", 3);
}
