/*
 * smtp_body - DATA encoding (see smtp_body.h). Pure byte transformation:
 * owns no memory; fails only when the caller's output buffer is full.
 */
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

/* smtp_body_feed - line ends to CRLF, everything else through body_byte. */
int smtp_body_feed(smtp_body *b, const char *data, size_t len, strbuf *out)
{
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        int rc;

        if (b->cr) {
            b->cr = false;
            if (body_eol(b, out) < 0)
                return -1;
            if (c == '\n')
                continue;           /* CRLF: done */
        }
        if (c == '\r') {
            b->cr = true;
            rc = 0;
        } else if (c == '\n') {
            rc = body_eol(b, out);  /* bare LF */
        } else {
            rc = body_byte(b, c, out);
        }
        if (rc < 0)
            return -1;
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
