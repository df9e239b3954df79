/*
 * addr - RFC 5321 mail addresses: parsing, quoting, splitting.
 *
 * addr_parse() reads an address as it appears in "MAIL FROM:<...>" or
 * "RCPT TO:<...>" (a path in angle brackets) or bare (sendmail arguments,
 * table values), from a pointer and a length: it never reads past the length
 * and never needs a NUL. On success it fills an addr with the INTERNAL form
 * (Postfix's convention): the local part unquoted ("a b" for "\"a b\"@x"),
 * the domain as written. addr_quote() turns an internal address back into
 * the RFC 5321 external form; parse -> quote -> parse -> quote is stable.
 *
 * Every input passes the same checks, in this order, and the first failure is
 * reported as one addr_err (addr_strerror() gives the text):
 *   1. bytes: CR, LF, NUL, any other C0 control, DEL and C1 controls are
 *      rejected anywhere (even quoted); bytes >= 0x80 must be valid UTF-8
 *      (shortest form, no surrogates, <= U+10FFFF);
 *   2. angle brackets (when asked for); nothing may follow the closing '>';
 *   3. the null address "<>" (or "" bare) only with ADDR_P_ALLOW_NULL;
 *   4. a source route "@a,@b:" is checked and stripped (ADDR_F_ROUTE set);
 *   5. local part: a quoted string, or a dot-string; local part <= 64 octets
 *      as written;
 *   6. domain: "@" then a host name (labels of letters, digits, '-', '_' and
 *      UTF-8, 1..63 octets each, no hyphen at either end) or an address
 *      literal "[192.0.2.1]" / "[IPv6:2001:db8::1]" checked with inet_pton;
 *      domain <= 255 octets;
 *   7. whole path <= 256 octets, counting the angle brackets (a bare address
 *      is counted as if it had them, so it may be 254 octets).
 *
 * Decisions:
 *   - An unquoted local part may contain leading, trailing or repeated dots
 *     ("user.@x", ".a..b@x"), because real mail uses them (Postfix accepts
 *     them too). They are not a dot-atom, so addr_quote() emits them quoted:
 *     "user.@x" becomes "\"user.\"@x".
 *   - A quoted local part may not be mixed with dots outside the quotes
 *     ("a.\"b\"@x" is an error), and an empty local part ("\"\"@x", "<@x>")
 *     is an error.
 *   - One trailing dot on a host name is removed ("user@example.com." is
 *     stored as "user@example.com"), as Postfix does; two are an error.
 *   - "user%host@x" and "a!b@x" are ordinary local parts: no routing is
 *     derived from '%' or '!'.
 *   - White space is never trimmed: "< a@b >" is an error. Callers strip the
 *     SMTP command's own spaces first (addr_path_len() finds the path's end).
 *   - ADDR_F_UTF8 is set when the stored local part or domain has a byte >=
 *     0x80; the caller decides whether SMTPUTF8 was negotiated.
 *
 * Memory: an addr owns two strbufs (addr_init/addr_release). On any error
 * the addr is left empty (flags 0), so nothing half-parsed is ever used.
 */
#ifndef TERN_ADDR_H
#define TERN_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/strbuf.h"

/* RFC 5321 section 4.5.3.1 limits, in octets. */
#define ADDR_LOCAL_MAX   64
#define ADDR_DOMAIN_MAX  255
#define ADDR_PATH_MAX    256

/* Parse options (addr_parse's opts), combine with |. */
#define ADDR_P_PATH          (1 << 0) /* "<...>" required (SMTP MAIL/RCPT) */
#define ADDR_P_PATH_OPTIONAL (1 << 1) /* "<...>" or bare (lax SMTP clients) */
#define ADDR_P_ALLOW_NULL    (1 << 2) /* accept the null address "<>" / "" */
#define ADDR_P_ALLOW_LOCAL   (1 << 3) /* accept "user" with no "@domain" */

/* Result flags (addr.flags). */
#define ADDR_F_NULL     (1 << 0)  /* the null address: local and domain "" */
#define ADDR_F_UTF8     (1 << 1)  /* needs SMTPUTF8 (8-bit local or domain) */
#define ADDR_F_LITERAL  (1 << 2)  /* domain is an address literal "[...]" */
#define ADDR_F_ROUTE    (1 << 3)  /* a source route was stripped */
#define ADDR_F_NODOMAIN (1 << 4)  /* no "@domain" (ADDR_P_ALLOW_LOCAL) */

/* Why an address was refused. Keep addr_strerror's table in step. */
enum addr_err {
    ADDR_OK = 0,
    ADDR_ERR_CONTROL,        /* CR, LF, NUL or another control byte */
    ADDR_ERR_UTF8,           /* 8-bit bytes that are not valid UTF-8 */
    ADDR_ERR_BRACKET,        /* missing '<' or '>' */
    ADDR_ERR_TRAILING,       /* text after the closing '>' */
    ADDR_ERR_NULL,           /* null address where it is not allowed */
    ADDR_ERR_ROUTE,          /* malformed source route */
    ADDR_ERR_LOCAL_EMPTY,    /* empty local part */
    ADDR_ERR_LOCAL_SYNTAX,   /* bad character in the local part */
    ADDR_ERR_QUOTE,          /* unterminated quote or bad backslash */
    ADDR_ERR_NO_DOMAIN,      /* no "@domain" */
    ADDR_ERR_DOMAIN_SYNTAX,  /* bad or empty host name */
    ADDR_ERR_LITERAL,        /* bad address literal "[...]" */
    ADDR_ERR_LOCAL_TOO_LONG, /* local part over 64 octets */
    ADDR_ERR_DOMAIN_TOO_LONG,/* domain over 255 octets */
    ADDR_ERR_PATH_TOO_LONG,  /* path over 256 octets */
    ADDR_ERR_COUNT
};

/* A parsed address in internal form. */
typedef struct addr {
    strbuf local;               /* unquoted local part ("" for null) */
    strbuf domain;              /* domain as written, trailing dot removed */
    unsigned flags;             /* ADDR_F_* */
} addr;

/* addr_init - make an empty address; addr_release frees its buffers. */
void addr_init(addr *a);
void addr_release(addr *a);

/* addr_parse - parse s[0..len) under opts (ADDR_P_*); ADDR_OK or why not. */
enum addr_err addr_parse(addr *a, const char *s, size_t len, int opts);

/* addr_strerror - a short human text for an error ("bad address syntax"). */
const char *addr_strerror(enum addr_err err);

/* addr_err_too_long - true for the three length errors (5.1.x "too long"). */
bool addr_err_too_long(enum addr_err err);

/*
 * addr_path_len - length of the "<...>" path at the start of s[0..len),
 * including both brackets, skipping a quoted local part ("<\"a>b\"@x> SIZE=1"
 * gives 9; a quote opens only right after '<' or a route's ':'); 0 when s
 * does not start with '<' or the '>' is missing.
 */
size_t addr_path_len(const char *s, size_t len);

/* addr_internal - append the internal form "local@domain" ("" for null). */
int addr_internal(const addr *a, strbuf *out);

/* addr_lower_domain - ASCII lower-case the domain in place (for lookups). */
void addr_lower_domain(addr *a);

/*
 * addr_quote - append the external form of an internal address s[0..len):
 * the local part (before the LAST '@') is quoted only when it is not a
 * dot-atom, with '"' and '\\' escaped; the domain is copied. "" (null)
 * appends nothing. 0, or -1 when out's maximum would be passed.
 */
int addr_quote(strbuf *out, const char *s, size_t len);

/* addr_is_dot_atom - true when s[0..len) may be written without quotes. */
bool addr_is_dot_atom(const char *s, size_t len);

/*
 * addr_split - split an internal address at its LAST '@' (a quoted local
 * part may itself hold '@'). *local_len is the local part's length; *domain
 * points after the '@'. Without '@': false, the whole string is the local
 * part and *domain is s + len with *domain_len 0.
 */
bool addr_split(const char *s, size_t len, size_t *local_len,
                const char **domain, size_t *domain_len);

/*
 * addr_split_ext - split a local part at recipient_delimiter. delims lists
 * one or more delimiter characters (Postfix allows several); the extension
 * starts at the FIRST byte of the local part that is any of them. On true,
 * local[0..*base_len) is the base, local[*base_len] is the delimiter that
 * was found and the extension follows it (possibly empty: "user+").
 * False (no split) when delims is empty, no delimiter occurs, the local
 * part starts with one (the base would be empty), or - with
 * owner_request_special and '-' among delims - the local part is
 * "owner-..." or "...-request" (case-insensitive), as Postfix does.
 */
bool addr_split_ext(const char *local, size_t len, const char *delims,
                    bool owner_request_special, size_t *base_len);

#endif
