/*
 * smtpd_dot - the DATA content state machine: where the message ends.
 *
 * Bytes of the DATA phase are fed in any split (one byte at a time, or
 * whole buffers); the machine removes dot-stuffing and appends the message
 * content, lines ending in CRLF, to a strbuf. Only <CR><LF>.<CR><LF> ends
 * the message (the first CRLF may be the one that ended the DATA command),
 * and every line must end in CRLF: a LF without a CR before it, or a CR not
 * followed by LF, is an error that stops the machine (SMTP smuggling:
 * <LF>.<LF>, <CR>.<CR>, <LF>.<CR><LF>, <CR><LF>.<LF>... can never end or
 * split a message). A NUL byte is dropped from the output and remembered;
 * the caller refuses the message at its end. Pure logic: no I/O, no state
 * outside the struct.
 */
#ifndef TERN_SMTPD_DOT_H
#define TERN_SMTPD_DOT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/strbuf.h"

/* Where the machine is. */
enum smtpd_dot_state {
    SMTPD_DOT_BOL,              /* at the start of a line */
    SMTPD_DOT_DOT,              /* "." at the start of a line */
    SMTPD_DOT_DOT_CR,           /* ".\r" at the start of a line */
    SMTPD_DOT_TEXT,             /* inside a line */
    SMTPD_DOT_CR,               /* "\r" inside a line */
    SMTPD_DOT_DONE,             /* <CR><LF>.<CR><LF> seen */
    SMTPD_DOT_BARE_LF,          /* error: LF without CR */
    SMTPD_DOT_BARE_CR,          /* error: CR without LF */
};

typedef struct smtpd_dot {
    enum smtpd_dot_state state;
    bool nul;                   /* a NUL byte was seen (and dropped) */
    bool eight_bit;             /* a byte >= 0x80 was seen */
} smtpd_dot;

/* smtpd_dot_init - a machine at the start of the content. */
void smtpd_dot_init(smtpd_dot *d);

/*
 * smtpd_dot_feed - consume in[0..len) until the end of the message or an
 * error; content goes to out. Returns the bytes consumed (less than len
 * only when the machine stopped); -1 when out's bound was passed (the
 * caller has a size limit below it, so this is a bug guard).
 */
ssize_t smtpd_dot_feed(smtpd_dot *d, const void *in, size_t len, strbuf *out);

/* smtpd_dot_stopped - true once the end or an error was reached. */
bool smtpd_dot_stopped(const smtpd_dot *d);

#endif
