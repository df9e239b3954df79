/*
 * drop - the message stream sendmail writes to postdrop's standard input.
 *
 *   TERNDROP 1
 *   sender=<internal address, may be empty>
 *   rcpt=<internal address>            (one line per recipient, >= 1)
 *   notify=<QFILE_NOTIFY_* bits>       (optional)
 *   ret=FULL|HDRS  body=7BIT|8BITMIME  envid=<RFC 3461 text>  (optional)
 *   size=<content bytes>
 *   <empty line>
 *   <exactly size bytes of content>    then end of file
 *
 * Lines end in LF; values hold no NUL, CR or LF. postdrop runs with a
 * privilege the sender lacks, so the decoder trusts nothing: every name
 * must be known, scalars appear at most once, every address passes
 * addr_parse() and must carry a domain, counts and sizes are bounded, and
 * the first error ends decoding with a reason. Nothing here exits.
 */
#ifndef TERN_DROP_H
#define TERN_DROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"
#include "common/tio.h"

#define DROP_MAGIC     "TERNDROP 1"
#define DROP_LINE_MAX  2048         /* one header line of the stream */

/* The envelope of a dropped message; strings owned by the drop_env. */
typedef struct drop_env {
    char *sender;               /* internal form; "" = null sender */
    char **rcpts;               /* internal form, each with a domain */
    size_t nrcpt;
    size_t rcap;
    unsigned notify;            /* QFILE_NOTIFY_* or 0 */
    int ret;                    /* enum qfile_ret */
    int body;                   /* enum qfile_body */
    char *envid;                /* NULL = none */
    bool smtputf8;              /* some address needs SMTPUTF8 */
    uint64_t size;              /* content bytes that follow */
} drop_env;

/*
 * drop_num - s is only decimal digits (no sign, space or junk) and at
 * most max: 0 with *out set, else -1. The one strict number parser of
 * queue/ (the stream's fields, sendmail -bs SIZE=).
 */
int drop_num(const char *s, uint64_t max, uint64_t *out);

/* drop_env_init / drop_env_free - an empty envelope. */
void drop_env_init(drop_env *e);
void drop_env_free(drop_env *e);

/* drop_env_add_rcpt - append a recipient (copied). */
void drop_env_add_rcpt(drop_env *e, const char *rcpt);

/* drop_encode - the stream's header (up to the empty line) into out. */
int drop_encode(const drop_env *e, strbuf *out);

/*
 * drop_decode - read and validate the header from t into e (which must be
 * freshly initialised). max_rcpt and max_size bound the recipients and the
 * announced content size (0 = QFILE limits). 0, or -1 with a reason.
 */
int drop_decode(tio *t, drop_env *e, size_t max_rcpt, uint64_t max_size,
                strbuf *why);

/*
 * drop_check_addr - parse a stream address: *internal gets the normalised
 * internal form; null allowed only when allow_null. 0, or -1 + reason.
 */
int drop_check_addr(const char *s, bool allow_null, strbuf *internal,
                    bool *utf8, strbuf *why);

#endif
