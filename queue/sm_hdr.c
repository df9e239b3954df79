/*
 * sm_hdr - header block scanning and RFC 5322 address lists for sendmail.
 *
 * Works on an LF-terminated message held by the caller; owns only the
 * address strings it returns in an sm_addrs (bounded count, bounded
 * length). Malformed lists are reported with a reason, never guessed at:
 * an address that cannot be told apart from its display name is an error.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/strbuf.h"
#include "common/xalloc.h"
#include "queue/sm_hdr.h"

/* sm_is_ftext - a byte allowed in a field name (RFC 5322 ftext). */
static bool sm_is_ftext(unsigned char c)
{
    return c >= 33 && c <= 126 && c != ':';
}

/* sm_line_end - offset after the LF of the line at pos (or len). */
static size_t sm_line_end(const char *msg, size_t len, size_t pos)
{
    const char *nl = memchr(msg + pos, '\n', len - pos);

    return nl ? (size_t)(nl - msg) + 1 : len;
}

/* sm_field_name - length of "name" when the line at pos starts a field. */
static size_t sm_field_name(const char *msg, size_t len, size_t pos,
                            size_t *colon)
{
    size_t i = pos, n;

    while (i < len && sm_is_ftext((unsigned char)msg[i]))
        i++;
    n = i - pos;
    while (i < len && (msg[i] == ' ' || msg[i] == '\t'))
        i++;
    if (n == 0 || i >= len || msg[i] != ':')
        return 0;
    *colon = i;
    return n;
}

/* sm_hdr_end - where the header block ends. */
size_t sm_hdr_end(const char *msg, size_t len)
{
    size_t pos = 0, colon;
    bool in_field = false;

    while (pos < len) {
        char c = msg[pos];

        if (c == '\n')
            return pos;
        if ((c == ' ' || c == '\t') && in_field) {
            pos = sm_line_end(msg, len, pos);
            continue;
        }
        if (sm_field_name(msg, len, pos, &colon) == 0)
            return pos;
        in_field = true;
        pos = sm_line_end(msg, len, pos);
    }
    return len;
}

/* sm_hdr_next - the field at *pos, with its continuation lines. */
bool sm_hdr_next(const char *msg, size_t end, size_t *pos, sm_field *f)
{
    size_t colon, n, p = *pos;

    if (p >= end || (n = sm_field_name(msg, end, p, &colon)) == 0)
        return false;
    f->start = p;
    f->name_len = n;
    f->value = colon + 1;
    p = sm_line_end(msg, end, p);
    while (p < end && (msg[p] == ' ' || msg[p] == '\t'))
        p = sm_line_end(msg, end, p);
    f->end = p;
    *pos = p;
    return true;
}

/* sm_hdr_is - compare a field's name. */
bool sm_hdr_is(const char *msg, const sm_field *f, const char *name)
{
    return strlen(name) == f->name_len
        && strncasecmp(msg + f->start, name, f->name_len) == 0;
}

/* sm_hdr_has - does the header block have this field? */
bool sm_hdr_has(const char *msg, size_t len, const char *name)
{
    size_t end = sm_hdr_end(msg, len), pos = 0;
    sm_field f;

    while (sm_hdr_next(msg, end, &pos, &f))
        if (sm_hdr_is(msg, &f, name))
            return true;
    return false;
}

/* sm_addrs_init - an empty list. */
void sm_addrs_init(sm_addrs *a, size_t max)
{
    memset(a, 0, sizeof(*a));
    a->max = max;
}

/* sm_addrs_free - free the list's strings. */
void sm_addrs_free(sm_addrs *a)
{
    for (size_t i = 0; i < a->count; i++)
        free(a->items[i]);
    free(a->items);
    free(a->spans);
    memset(a, 0, sizeof(*a));
}

/* sm_addrs_add - append a copy of s written at span; -1 when full. */
static int sm_addrs_add(sm_addrs *a, const char *s, sm_span span)
{
    if (a->count >= a->max)
        return -1;
    if (a->count == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 8;
        a->items = xreallocarray(a->items, a->cap, sizeof(*a->items));
        a->spans = xreallocarray(a->spans, a->cap, sizeof(*a->spans));
    }
    a->spans[a->count] = span;
    a->items[a->count++] = xstrdup(s);
    return 0;
}

/* The state of one address-list scan. */
struct sm_scan {
    strbuf spec;                /* bare addr-spec text outside <> */
    strbuf angle;               /* text inside <> */
    bool in_angle, seen_angle;
    bool gap;                   /* white space since the last spec byte */
    bool words;                 /* two words with no '<': not an address */
    sm_span spec_at, angle_at;  /* where spec / angle text was written */
};

/* sm_scan_put - add one byte (written at text offset at) to the address. */
static int sm_scan_put(struct sm_scan *s, char c, size_t at)
{
    strbuf *sb = s->in_angle ? &s->angle : &s->spec;
    sm_span *span = s->in_angle ? &s->angle_at : &s->spec_at;

    if (sb_len(sb) == 0)
        span->start = at;
    span->end = at + 1;

    if (!s->in_angle && s->gap && sb_len(sb) > 0) {
        char last = sb_str(sb)[sb_len(sb) - 1];

        if (last != '.' && last != '@' && c != '.' && c != '@')
            s->words = true;
    }
    s->gap = false;
    return sb_putc(sb, c);
}

/* sm_scan_flush - end one list element: keep its address, if any. */
static int sm_scan_flush(struct sm_scan *s, sm_addrs *out, strbuf *why)
{
    const strbuf *pick = s->seen_angle ? &s->angle : &s->spec;
    int rc = 0;

    if (s->in_angle) {
        (void)sb_puts(why, "missing '>' in address list");
        rc = -1;
    } else if (!s->seen_angle && s->words && sb_len(&s->spec) > 0) {
        (void)sb_printf(why, "bad address syntax in header: %.100s",
                        sb_str(&s->spec));
        rc = -1;
    } else if (sb_len(pick) > 0
               && sm_addrs_add(out, sb_str(pick), s->seen_angle
                               ? s->angle_at : s->spec_at) < 0) {
        (void)sb_puts(why, "too many recipients in message header");
        rc = -1;
    }
    sb_reset(&s->spec);
    sb_reset(&s->angle);
    s->seen_angle = s->in_angle = s->gap = s->words = false;
    return rc;
}

/* sm_skip_comment - skip a (nested) comment at text[*i] == '('. */
static int sm_skip_comment(const char *text, size_t len, size_t *i)
{
    int depth = 0;

    for (; *i < len; (*i)++) {
        if (text[*i] == '\\' && *i + 1 < len)
            (*i)++;
        else if (text[*i] == '(')
            depth++;
        else if (text[*i] == ')' && --depth == 0)
            return 0;
    }
    return -1;
}

/* sm_copy_quoted - copy a quoted string at text[*i] == '"', quotes kept. */
static int sm_copy_quoted(struct sm_scan *s, const char *text, size_t len,
                          size_t *i)
{
    if (sm_scan_put(s, '"', *i) < 0)
        return -1;
    for ((*i)++; *i < len; (*i)++) {
        char c = text[*i];

        if (c == '\\' && *i + 1 < len) {
            if (sm_scan_put(s, c, *i) < 0
                || sm_scan_put(s, text[*i + 1], *i + 1) < 0)
                return -1;
            (*i)++;
        } else if (c == '"') {
            return sm_scan_put(s, '"', *i);
        } else if (c != '\n' && c != '\r' && sm_scan_put(s, c, *i) < 0) {
            return -1;
        }
    }
    return -1;
}

/* sm_scan_byte - handle one syntactically significant byte; -1 on error. */
static int sm_scan_byte(struct sm_scan *s, const char *text, size_t len,
                        size_t *i, sm_addrs *out, strbuf *why)
{
    char c = text[*i];

    if (c == '(')
        return sm_skip_comment(text, len, i) < 0
            ? (sb_puts(why, "unbalanced '(' in address list"), -1) : 0;
    if (c == '"')
        return sm_copy_quoted(s, text, len, i) < 0
            ? (sb_puts(why, "unterminated quoted string or address too long"
                       " in address list"), -1) : 0;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        s->gap = true;
        return 0;
    }
    if (s->in_angle) {
        if (c == '>')
            s->in_angle = false;
        else if (c == '<' || sm_scan_put(s, c, *i) < 0)
            return sb_puts(why, "bad '<' or address too long"), -1;
        return 0;
    }
    if (c == '<') {
        if (s->seen_angle)
            return sb_puts(why, "two '<' in one address"), -1;
        s->in_angle = s->seen_angle = true;
        return 0;
    }
    if (c == ':') {             /* group: what came before is its name */
        sb_reset(&s->spec);
        s->words = s->gap = false;
        return 0;
    }
    if (c == ',' || c == ';')
        return sm_scan_flush(s, out, why);
    if (s->seen_angle)
        return 0;               /* text after <...>: ignored, as Postfix */
    return sm_scan_put(s, c, *i) < 0
        ? (sb_puts(why, "address too long in address list"), -1) : 0;
}

/* sm_addr_list - add the addresses of an address list to out. */
int sm_addr_list(const char *text, size_t len, sm_addrs *out, strbuf *why)
{
    struct sm_scan s;
    int rc = 0;

    memset(&s, 0, sizeof(s));
    sb_init(&s.spec, SM_ADDR_TEXT_MAX);
    sb_init(&s.angle, SM_ADDR_TEXT_MAX);
    for (size_t i = 0; i < len && rc == 0; i++)
        rc = sm_scan_byte(&s, text, len, &i, out, why);
    if (rc == 0)
        rc = sm_scan_flush(&s, out, why);
    sb_release(&s.spec);
    sb_release(&s.angle);
    return rc;
}

/* The fields -t reads, without and with Resent- headers present. */
static const char *const sm_rcpt_fields[2][3] = {
    {"To", "Cc", "Bcc"},
    {"Resent-To", "Resent-Cc", "Resent-Bcc"},
};

/* sm_hdr_resent - true when any Resent- field is present. */
static bool sm_hdr_resent(const char *msg, size_t end)
{
    size_t pos = 0;
    sm_field f;

    while (sm_hdr_next(msg, end, &pos, &f))
        if (f.name_len > 7 && strncasecmp(msg + f.start, "Resent-", 7) == 0)
            return true;
    return false;
}

/* sm_hdr_extract - recipients from the header, Bcc removed. */
int sm_hdr_extract(const char *msg, size_t len, sm_addrs *rcpts,
                   strbuf *out, strbuf *why)
{
    size_t end = sm_hdr_end(msg, len), pos = 0;
    const char *const *names = sm_rcpt_fields[sm_hdr_resent(msg, end)];
    sm_field f;

    sb_reset(out);
    while (sm_hdr_next(msg, end, &pos, &f)) {
        bool bcc = sm_hdr_is(msg, &f, "Bcc") || sm_hdr_is(msg, &f, "Resent-Bcc");

        for (int k = 0; k < 3; k++)
            if (sm_hdr_is(msg, &f, names[k])
                && sm_addr_list(msg + f.value, f.end - f.value, rcpts, why) < 0)
                return -1;
        if (!bcc && sb_append(out, msg + f.start, f.end - f.start) < 0)
            return sb_puts(why, "message too large"), -1;
    }
    if (sb_append(out, msg + pos, len - pos) < 0)
        return sb_puts(why, "message too large"), -1;
    return 0;
}
