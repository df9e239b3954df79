/*
 * smtp_body - message content to SMTP DATA bytes.
 *
 * An encoder turns stored content, fed in chunks of any size, into what
 * goes on the wire after DATA: every line end (CRLF, a bare LF, or a bare
 * CR) becomes CRLF, so no bare CR or LF ever leaves; a line that starts
 * with '.' gets a second '.'; a line longer than the limit
 * (smtp_line_length_limit, not counting CRLF or a stuffed dot) is folded
 * as Postfix folds it: after `limit` bytes "CRLF SPACE" is inserted, and
 * each continuation line holds the space and at most limit-1 more bytes.
 * smtp_body_finish ends an unterminated last line and adds ".CRLF".
 * Output goes to a caller's strbuf; -1 only when its bound is too small.
 */
#ifndef TERN_SMTP_BODY_H
#define TERN_SMTP_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/strbuf.h"

typedef struct smtp_body {
    size_t limit;               /* fold lines longer than this; 0 = never */
    size_t col;                 /* bytes on the current wire line */
    bool bol;                   /* at the beginning of a line */
    bool cr;                    /* a CR waits for its LF */
} smtp_body;

/* smtp_body_init - a fresh encoder with a line length limit (0 = none). */
void smtp_body_init(smtp_body *b, size_t limit);

/* smtp_body_feed - encode data[0..len) onto out; 0, or -1 if out is full. */
int smtp_body_feed(smtp_body *b, const char *data, size_t len, strbuf *out);

/* smtp_body_finish - end the last line and append ".\r\n". */
int smtp_body_finish(smtp_body *b, strbuf *out);

#endif
