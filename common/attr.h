/*
 * attr - strict attribute IPC (STYLE.md rule 12) over a tio stream.
 *
 * A message is "name=value" lines, each ending in LF, then one empty line
 * (the Postfix policy protocol's shape; docs/ipc.md). Names are [a-z0-9_],
 * 1..ATTR_NAME_MAX bytes (lax mode: printable ASCII but '=' and space);
 * values have no NUL, CR or LF and are at most value_max bytes; a message
 * has at most count_max attributes. Bytes that must travel raw are xtext-
 * encoded by the caller (attr_xtext_encode).
 *
 * attr_scan decodes one message against a table: an unknown, duplicate,
 * missing or malformed attribute is an error naming it, and no destination
 * changes unless the whole message is good. attr_scan_lax returns the pairs
 * (unknown names kept, duplicates resolved first- or last-wins). Every line
 * is read with the stream's timeout. After ATTR_UNKNOWN, ATTR_DUPLICATE,
 * ATTR_MISSING or ATTR_MALFORMED the whole message has been read and the
 * stream is in step; after any other error it may not be: close it.
 */
#ifndef TERN_ATTR_H
#define TERN_ATTR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/strbuf.h"
#include "common/tio.h"

#define ATTR_NAME_MAX           64
#define ATTR_VALUE_MAX_DEFAULT  4096
#define ATTR_COUNT_MAX_DEFAULT  100

/* Results: ATTR_OK is 0, failures negative. */
enum attr_status {
    ATTR_OK = 0,
    ATTR_EOF = -1,          /* peer closed before a message began */
    ATTR_TIMEOUT = -2,      /* a read or write timed out */
    ATTR_IOERR = -3,        /* read or write error */
    ATTR_SYNTAX = -4,       /* bad line, name, NUL/CR, overlong, cut short */
    ATTR_UNKNOWN = -5,      /* strict: a name not in the table */
    ATTR_DUPLICATE = -6,    /* a name twice */
    ATTR_MISSING = -7,      /* strict: a required name absent */
    ATTR_MALFORMED = -8,    /* a value that is not a number in range, or
                             * longer than its destination allows */
    ATTR_TOOMANY = -9,      /* more than count_max attributes */
    ATTR_BADVALUE = -10,    /* send: a value with CR, LF or over max */
};

enum attr_type { ATTR_T_END = 0, ATTR_T_STR, ATTR_T_INT, ATTR_T_UINT,
                 ATTR_T_LONG };

/* Receive limits; NULL means the defaults. */
typedef struct attr_opts {
    size_t value_max;
    size_t count_max;
} attr_opts;

/* One expected attribute. dest: strbuf *, int *, unsigned *, long *. */
#define ATTR_REQUIRED  (1u << 0)
typedef struct attr_spec {
    const char *name;
    enum attr_type type;
    unsigned flags;
    void *dest;
} attr_spec;

/* A list of pairs (lax receive result, or a message to send). */
typedef struct attr_pair {
    char *name;
    char *value;
} attr_pair;

typedef struct attr_list {
    attr_pair *items;
    size_t count;
    size_t cap;
} attr_list;

enum attr_dup { ATTR_DUP_FIRST, ATTR_DUP_LAST, ATTR_DUP_ERROR };

/* attr_strstatus - short text for a status. */
const char *attr_strstatus(int status);

/* List life cycle and access. attr_list_add copies both strings. */
void attr_list_init(attr_list *l);
void attr_list_clear(attr_list *l);
void attr_list_add(attr_list *l, const char *name, const char *value);
const char *attr_list_get(const attr_list *l, const char *name);

/*
 * attr_scan - read one message and decode it strictly against spec[0..n).
 * On ATTR_OK every present attribute is stored in its dest; otherwise no
 * dest changed and why (if not NULL) says what, naming the attribute.
 */
int attr_scan(tio *t, const attr_opts *opts, const attr_spec *spec,
              size_t n, strbuf *why);

/*
 * attr_scan_lax - read one message into out (cleared first), keeping
 * unknown names; a repeated name keeps the first or last value, or fails.
 */
int attr_scan_lax(tio *t, const attr_opts *opts, enum attr_dup dup,
                  attr_list *out, strbuf *why);

/*
 * attr_print - write one message and flush. Arguments are ATTR_SEND_*()
 * items ending with ATTR_SEND_END. A bad name is a bug (panic); a value
 * with CR or LF is ATTR_BADVALUE and nothing is written (the receiver
 * enforces its own value_max).
 */
int attr_print(tio *t, strbuf *why, ...);

/* attr_print_list - same, from a list of pairs. */
int attr_print_list(tio *t, const attr_list *l, strbuf *why);

/* Type-checked argument builders for attr_print. */
static inline const char *attr_arg_str(const char *s) { return s; }
static inline int attr_arg_int(int v) { return v; }
static inline unsigned attr_arg_uint(unsigned v) { return v; }
static inline long attr_arg_long(long v) { return v; }
#define ATTR_SEND_STR(n, v)  ATTR_T_STR, attr_arg_str(n), attr_arg_str(v)
#define ATTR_SEND_INT(n, v)  ATTR_T_INT, attr_arg_str(n), attr_arg_int(v)
#define ATTR_SEND_UINT(n, v) ATTR_T_UINT, attr_arg_str(n), attr_arg_uint(v)
#define ATTR_SEND_LONG(n, v) ATTR_T_LONG, attr_arg_str(n), attr_arg_long(v)
#define ATTR_SEND_END        ATTR_T_END

/*
 * RFC 3461 xtext: bytes outside '!'..'~', and '+' and '=', become "+XX".
 * Both append to out and return 0, or -1 past out's bound (decode also on
 * malformed input: a bad "+XX", or a byte outside '!'..'~', or '=').
 */
int attr_xtext_encode(strbuf *out, const void *data, size_t len);
int attr_xtext_decode(strbuf *out, const char *in, size_t len);

#endif
