/*
 * sm_hdr - the message header block as sendmail sees it: where it ends,
 * which fields it has, and (for -t) the recipients of To/Cc/Bcc.
 *
 * Input is the message as sendmail holds it: lines ending in LF (no CR).
 * The header block is the run of "name: value" fields and their
 * continuation lines (starting with space or tab) from the first line; it
 * ends at an empty line or at the first line that is neither. Address lists
 * follow RFC 5322: display names, angle addresses, quoted strings, nested
 * comments and groups ("list: a@x, b@y;"). Every scan is bounded by the
 * length given; nothing here allocates without a bound or exits. Addresses
 * come back as written (an addr-spec, white space and comments removed);
 * the caller validates them with addr_parse(). Each address also records
 * where it was written (sm_span), so the cleanup library can rewrite header
 * addresses in place with this same parser (sendmail -t and cleanup share
 * it; the sm_ prefix is historical).
 */
#ifndef TERN_SM_HDR_H
#define TERN_SM_HDR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/strbuf.h"

/* One header field: name and the whole field (continuations included). */
typedef struct sm_field {
    size_t start;               /* offset of the field's first byte */
    size_t end;                 /* offset after its last line's LF */
    size_t name_len;            /* name is msg[start .. start+name_len) */
    size_t value;               /* offset of the value (after ':') */
} sm_field;

/* Where an address was written: text[start .. end) of the scanned text. */
typedef struct sm_span {
    size_t start;
    size_t end;
} sm_span;

/* The addresses found in header fields. */
typedef struct sm_addrs {
    char **items;
    sm_span *spans;             /* spans[i]: where items[i] was written, in
                                 * the text of the sm_addr_list call that
                                 * found it (cleanup rewrites in place) */
    size_t count;
    size_t cap;
    size_t max;                 /* most addresses kept; more is an error */
} sm_addrs;

/* Limits on what one field may hold. */
#define SM_ADDR_TEXT_MAX 1024   /* bytes of one address as written */

/* sm_hdr_end - offset of the first byte after the header block. */
size_t sm_hdr_end(const char *msg, size_t len);

/*
 * sm_hdr_next - the next field at *pos (below end); true and *pos moved
 * past it, or false when no field is left.
 */
bool sm_hdr_next(const char *msg, size_t end, size_t *pos, sm_field *f);

/* sm_hdr_is - true when the field's name is `name` (case-insensitive). */
bool sm_hdr_is(const char *msg, const sm_field *f, const char *name);

/* sm_hdr_has - true when the header block has a field called name. */
bool sm_hdr_has(const char *msg, size_t len, const char *name);

/* sm_addrs_init / sm_addrs_free - an empty list keeping at most max. */
void sm_addrs_init(sm_addrs *a, size_t max);
void sm_addrs_free(sm_addrs *a);

/*
 * sm_addr_list - add the addresses of an RFC 5322 address list
 * text[0..len) (folding allowed) to out. 0, or -1 with a reason (an
 * unbalanced quote, comment or '<', an address over SM_ADDR_TEXT_MAX, too
 * many addresses).
 */
int sm_addr_list(const char *text, size_t len, sm_addrs *out, strbuf *why);

/*
 * sm_hdr_extract - sendmail -t: the recipients of To/Cc/Bcc (or of
 * Resent-To/Resent-Cc/Resent-Bcc when any Resent- field is present, as
 * Postfix does) are added to rcpts, and the message without its Bcc (and
 * Resent-Bcc) fields is written to out (replaced). 0, or -1 with a reason.
 */
int sm_hdr_extract(const char *msg, size_t len, sm_addrs *rcpts,
                   strbuf *out, strbuf *why);

#endif
