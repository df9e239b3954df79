/*
 * smtpd_dot - DATA end detection and dot-unstuffing (see smtpd_dot.h).
 *
 * One function per state decides what a byte does; the table of them is
 * the whole machine. Inside a line, runs of plain bytes (what the TEXT
 * state would copy one by one) are found with memchr and appended at
 * once. Owns nothing; fails only when the caller's buffer bound is passed.
 */
#include <string.h>

#include "smtpd/smtpd_dot.h"

/* What a step appends to the content. */
enum smtpd_dot_emit { EMIT_NONE, EMIT_BYTE, EMIT_CRLF };

/* What a byte does in a state: the next state and what it appends. */
struct smtpd_dot_step {
    enum smtpd_dot_state next;
    enum smtpd_dot_emit emit;
};

typedef struct smtpd_dot_step (*smtpd_dot_fn)(unsigned char c);

#define STEP(n, e) ((struct smtpd_dot_step){ (n), (e) })

/* dot_text - a byte inside a line (also after an unstuffed leading dot). */
static struct smtpd_dot_step dot_text(unsigned char c)
{
    if (c == '\r')
        return STEP(SMTPD_DOT_CR, EMIT_NONE);
    if (c == '\n')
        return STEP(SMTPD_DOT_BARE_LF, EMIT_NONE);
    return STEP(SMTPD_DOT_TEXT, EMIT_BYTE);
}

/* dot_bol - first byte of a line: a dot may start the end or be stuffing. */
static struct smtpd_dot_step dot_bol(unsigned char c)
{
    if (c == '.')
        return STEP(SMTPD_DOT_DOT, EMIT_NONE);
    return dot_text(c);
}

/* dot_dot - after a leading dot: CR may end, anything else is unstuffed. */
static struct smtpd_dot_step dot_dot(unsigned char c)
{
    if (c == '\r')
        return STEP(SMTPD_DOT_DOT_CR, EMIT_NONE);
    return dot_text(c);
}

/* dot_dot_cr - ".\r" at the start of a line: only LF ends the message. */
static struct smtpd_dot_step dot_dot_cr(unsigned char c)
{
    if (c == '\n')
        return STEP(SMTPD_DOT_DONE, EMIT_NONE);
    return STEP(SMTPD_DOT_BARE_CR, EMIT_NONE);
}

/* dot_cr - after a CR inside a line: only LF may follow. */
static struct smtpd_dot_step dot_cr(unsigned char c)
{
    if (c == '\n')
        return STEP(SMTPD_DOT_BOL, EMIT_CRLF);
    return STEP(SMTPD_DOT_BARE_CR, EMIT_NONE);
}

/* The machine; the final states have no function. */
static const smtpd_dot_fn smtpd_dot_table[] = {
    [SMTPD_DOT_BOL] = dot_bol,
    [SMTPD_DOT_DOT] = dot_dot,
    [SMTPD_DOT_DOT_CR] = dot_dot_cr,
    [SMTPD_DOT_TEXT] = dot_text,
    [SMTPD_DOT_CR] = dot_cr,
    [SMTPD_DOT_DONE] = NULL,
    [SMTPD_DOT_BARE_LF] = NULL,
    [SMTPD_DOT_BARE_CR] = NULL,
};

/* smtpd_dot_init - start of content (the DATA line's CRLF was the first). */
void smtpd_dot_init(smtpd_dot *d)
{
    d->state = SMTPD_DOT_BOL;
    d->nul = false;
    d->eight_bit = false;
}

/* smtpd_dot_stopped - end or error reached. */
bool smtpd_dot_stopped(const smtpd_dot *d)
{
    return smtpd_dot_table[d->state] == NULL;
}

/* dot_step - one byte through the machine; -1 when out is full. */
static int dot_step(smtpd_dot *d, unsigned char c, strbuf *out)
{
    struct smtpd_dot_step st = smtpd_dot_table[d->state](c);
    int rc = 0;

    if (c == '\0')
        d->nul = true;          /* dropped; the caller refuses the message */
    else if (c >= 0x80)
        d->eight_bit = true;
    if (st.emit == EMIT_BYTE && c != '\0')
        rc = sb_putc(out, c);
    else if (st.emit == EMIT_CRLF)
        rc = sb_append(out, "\r\n", 2);
    d->state = st.next;
    return rc;
}

/*
 * dot_run - how many bytes at p are plain text: no CR, LF or NUL. In the
 * TEXT state dot_step would append each of them and stay in TEXT, so the
 * caller appends the run at once; 8-bit bytes in it are noted here.
 */
static size_t dot_run(smtpd_dot *d, const unsigned char *p, size_t n)
{
    const unsigned char *hit;
    unsigned char high = 0;

    if ((hit = memchr(p, '\r', n)) != NULL)
        n = (size_t)(hit - p);
    if ((hit = memchr(p, '\n', n)) != NULL)
        n = (size_t)(hit - p);
    if ((hit = memchr(p, '\0', n)) != NULL)
        n = (size_t)(hit - p);
    if (!d->eight_bit) {
        for (size_t i = 0; i < n; i++)
            high |= p[i];
        d->eight_bit = (high & 0x80) != 0;
    }
    return n;
}

/*
 * smtpd_dot_feed - run the machine over a piece of input: runs of plain
 * text inside a line in bulk, every other byte through dot_step.
 */
ssize_t smtpd_dot_feed(smtpd_dot *d, const void *in, size_t len, strbuf *out)
{
    const unsigned char *p = in;
    size_t i = 0, run;

    while (i < len && !smtpd_dot_stopped(d)) {
        if (d->state == SMTPD_DOT_TEXT
            && (run = dot_run(d, p + i, len - i)) > 0) {
            if (sb_append(out, p + i, run) < 0)
                return -1;
            if ((i += run) == len)
                break;          /* else p[i] is a CR, LF or NUL */
        }
        if (dot_step(d, p[i], out) < 0)
            return -1;
        i++;
    }
    return (ssize_t)i;
}
