/*
 * mailq - the two queue listings Postfix tools parse: `postqueue -p`
 * (mailq, sendmail -bp) and `postqueue -j` (JSON lines), byte for byte as
 * COMPAT.md 4b and 4c specify.
 *
 * The formatter is pure: it turns one mailq_entry (a message as the queue
 * scanner saw it) into text appended to a caller's strbuf, and keeps only
 * the running totals the trailer needs in a mailq_fmt the caller owns.
 * Addresses arrive in internal form and are RFC 5321-quoted here; bytes a
 * terminal or a JSON parser would choke on become '?' (or JSON escapes).
 * Failure is -1 when the output strbuf's maximum would be passed.
 */
#ifndef TERN_MAILQ_H
#define TERN_MAILQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/strbuf.h"

/* One recipient still to be delivered. */
typedef struct mailq_rcpt {
    const char *address;        /* internal form */
    const char *orig_address;   /* internal form; NULL = same as address */
    const char *reason;         /* deferral (or bounce) reason; NULL = none */
    bool bounced;               /* reason is a pending bounce's */
} mailq_rcpt;

/* One queued message. */
typedef struct mailq_entry {
    const char *queue_name;     /* "maildrop", "active", ... */
    const char *queue_id;
    int64_t arrival;            /* UNIX seconds */
    uint64_t size;              /* content bytes (headers + body) */
    bool forced_expire;
    bool smtputf8;              /* JSON may carry UTF-8 unchanged */
    const char *sender;         /* internal form; "" = MAILER-DAEMON */
    const mailq_rcpt *rcpts;
    size_t nrcpt;
} mailq_entry;

/* Running state of one -p listing. */
typedef struct mailq_fmt {
    bool long_ids;              /* enable_long_queue_ids: the wide layout */
    uint64_t count;             /* messages shown so far */
    uint64_t bytes;             /* their total size */
} mailq_fmt;

/* mailq_fmt_init - start a listing in the short or the long layout. */
void mailq_fmt_init(mailq_fmt *fmt, bool long_ids);

/*
 * mailq_format - append one message's block (the column header first when
 * it is the first message; an empty line between messages).
 */
int mailq_format(mailq_fmt *fmt, const mailq_entry *e, strbuf *out);

/* mailq_trailer - "-- N Kbytes in M Requests." or "Mail queue is empty". */
int mailq_trailer(const mailq_fmt *fmt, strbuf *out);

/* mailq_json - append one JSON line (3.11+ member set) for a message. */
int mailq_json(const mailq_entry *e, strbuf *out);

/*
 * mailq_json_quote - append s[0..len) as a JSON string body (no quotes):
 * short escapes for \b \f \n \r \t " and \\, \u00XX for other controls
 * and DEL; bytes >= 0x80 kept when utf8 and part of valid UTF-8, else '?'.
 */
int mailq_json_quote(strbuf *out, const char *s, size_t len, bool utf8);

/*
 * mailq_printable - append an internal address RFC 5321-quoted with
 * non-printable bytes replaced by '?' (what mailq shows).
 */
int mailq_printable(strbuf *out, const char *addr);

/* mailq_asctime - the first 24 characters of asctime(localtime(t)). */
int mailq_asctime(int64_t t, char *buf, size_t size);

#endif
