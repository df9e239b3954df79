/*
 * smtp_reply - read and parse one SMTP/LMTP server reply.
 *
 * A reply is one or more lines "NNN-text" ... "NNN text" with the same
 * three-digit code. smtp_reply_add_line() takes the lines one by one (pure,
 * for tests); smtp_reply_read() reads them from a tio stream with the
 * stream's timeout. The reply keeps its lines joined by '\n' (codes
 * included), the code, and the enhanced status code (RFC 3463) of the first
 * line, or one derived from the code as Postfix does (2.0.0, 4.0.0, 5.0.0)
 * when the server sent none. Hostile input is bounded: a line is cut at
 * SMTP_REPLY_LINE_MAX bytes (the rest skipped), a reply at
 * SMTP_REPLY_LINES_MAX lines; control bytes in the text become spaces.
 * Garbage (no code, mixed codes) is SMTP_REPLY_BAD, never a crash.
 */
#ifndef TERN_SMTP_REPLY_H
#define TERN_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/strbuf.h"
#include "common/tio.h"

#define SMTP_REPLY_LINE_MAX   2048      /* bytes kept of one reply line */
#define SMTP_REPLY_LINES_MAX  100       /* lines of one reply */
#define SMTP_DSN_SIZE         12        /* "5.999.999" and the NUL */

typedef struct smtp_reply {
    int code;                   /* 200..599 */
    char dsn[SMTP_DSN_SIZE];    /* "x.y.z", sent or derived */
    bool enhanced;              /* the server sent the dsn */
    strbuf text;                /* lines joined by '\n', codes included */
    size_t nlines;
} smtp_reply;

/* Results of reading and parsing. */
enum smtp_reply_status {
    SMTP_REPLY_OK = 0,
    SMTP_REPLY_MORE = 1,        /* add_line: a continuation line; go on */
    SMTP_REPLY_BAD = -1,        /* malformed reply */
    SMTP_REPLY_TIMEOUT = -2,
    SMTP_REPLY_LOST = -3,       /* EOF or I/O error */
};

/* smtp_reply_init / smtp_reply_release - life cycle; reset for reuse. */
void smtp_reply_init(smtp_reply *r);
void smtp_reply_release(smtp_reply *r);
void smtp_reply_reset(smtp_reply *r);

/*
 * smtp_reply_add_line - add one line (without its CRLF) to r: MORE when a
 * continuation line, OK when the reply is complete, BAD when malformed.
 */
int smtp_reply_add_line(smtp_reply *r, const char *line, size_t len);

/* smtp_reply_read - read one whole reply from t into r (reset first). */
int smtp_reply_read(tio *t, smtp_reply *r);

/* smtp_reply_oneline - the text on one line (newlines become spaces). */
void smtp_reply_oneline(const smtp_reply *r, strbuf *out);

/* smtp_dsn_parse - length of an "x.y.z" code at s (x 2/4/5), or 0. */
size_t smtp_dsn_parse(const char *s, size_t len);

#endif
