/*
 * smtp_hdrchk - smtp_header_checks: regexp/pcre tables applied to the
 * primary message header as the smtp client sends it (Postfix's
 * header_checks(5) on output; the queue file is not changed).
 *
 * A filter sits in front of the DATA encoder (smtp_body.h): it collects
 * each logical header field (with its continuation lines), looks it up
 * (the key is the field with "\n" between its lines, as in Postfix), and
 * applies the action: IGNORE drops the field, REPLACE text puts text in
 * its place, PREPEND text puts text before it, WARN and INFO log and keep
 * it, DUNNO and OK keep it; every other action (REJECT, HOLD, DISCARD,
 * FILTER, REDIRECT...) is logged as unsupported on output and ignored.
 * The header ends at the first empty line or the first line that is not
 * a header field; the rest passes untouched. A field longer than
 * SMTP_HDRCHK_FIELD_MAX ends checking (it and the rest pass unchanged). A
 * table lookup error is -1: the caller stops the delivery (deferred).
 * Log lines: "QUEUEID: warning: header NAME: VALUE: text" (Postfix's).
 */
#ifndef TERN_SMTP_HDRCHK_H
#define TERN_SMTP_HDRCHK_H

#include <stdbool.h>
#include <stddef.h>

#include "common/strbuf.h"
#include "conf/conf.h"
#include "maps/maps.h"
#include "smtp/smtp_body.h"

#define SMTP_HDRCHK_FIELD_MAX 102400    /* Postfix's header_size_limit */

typedef struct smtp_hdrchk {
    maplist *ml;                /* NULL: the filter passes everything */
    const char *queue_id;       /* for log lines */
    bool in_header;             /* still in the primary header */
    strbuf line;                /* the physical line being read */
    strbuf field;               /* the logical field being collected */
    strbuf tmp;                 /* filtered bytes for the encoder */
} smtp_hdrchk;

/* smtp_hdrchk_open - smtp_header_checks of c into *out (NULL if empty). */
int smtp_hdrchk_open(const conf *c, maplist **out, strbuf *why);

/* smtp_hdrchk_close - release the tables (NULL is fine). */
void smtp_hdrchk_close(maplist *ml);

/* smtp_hdrchk_init / _release - one message's filter state. */
void smtp_hdrchk_init(smtp_hdrchk *h, maplist *ml, const char *queue_id);
void smtp_hdrchk_release(smtp_hdrchk *h);

/* smtp_hdrchk_feed - content in; what to send appended to out. 0 or -1. */
int smtp_hdrchk_feed(smtp_hdrchk *h, const char *data, size_t len,
                     strbuf *out);

/* smtp_hdrchk_finish - the end of the content: a pending field out. */
int smtp_hdrchk_finish(smtp_hdrchk *h, strbuf *out);

/*
 * smtp_hdrchk_pass / smtp_hdrchk_pass_end - the filter, then the DATA
 * encoder enc onto out (without tables: the encoder only). 0, or -1 on
 * a table lookup error.
 */
int smtp_hdrchk_pass(smtp_hdrchk *h, smtp_body *enc, const char *data,
                     size_t len, strbuf *out);
int smtp_hdrchk_pass_end(smtp_hdrchk *h, smtp_body *enc, strbuf *out);

#endif
