/*
 * attr - "name=value" attribute messages over tio, strictly decoded.
 *
 * Reading collects one whole message into an attr_list (bounded by name
 * length, value_max and count_max), then the strict decoder checks it
 * against the caller's table and only then stores values, so a bad message
 * changes nothing. Error texts name the attribute; bytes from the peer that
 * are not a valid name are shown sanitized and cut short. Misuse by the
 * program (a bad table, a bad attribute name to send) panics.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/attr.h"
#include "common/msg.h"
#include "common/xalloc.h"

#define ATTR_VALUE_MAX_LIMIT  (1024 * 1024)
#define ATTR_SHOW_MAX         40        /* bytes of hostile text in errors */

/* How each numeric type is parsed and bounded. */
struct attr_numtype {
    enum attr_type type;
    const char *what;
    bool is_signed;
    long long min;
    unsigned long long max;
};

static const struct attr_numtype attr_numtypes[] = {
    { ATTR_T_INT, "int", true, INT_MIN, INT_MAX },
    { ATTR_T_UINT, "unsigned", false, 0, UINT_MAX },
    { ATTR_T_LONG, "long", true, LONG_MIN, LONG_MAX },
};

/* A decoded value, before it is stored. */
struct attr_val {
    size_t spec;                /* index into the caller's table */
    long long sv;
    unsigned long long uv;
};

/* attr_strstatus - text for a status. */
const char *attr_strstatus(int status)
{
    static const char *const text[] = {
        "ok", "end of input", "timeout", "I/O error", "syntax error",
        "unknown attribute", "duplicate attribute", "missing attribute",
        "malformed attribute", "too many attributes", "bad value to send",
    };

    if (status > 0 || (size_t)-status >= sizeof(text) / sizeof(text[0]))
        return "unknown status";
    return text[-status];
}

/* attr_fail - set why (if any) and return status. */
static int attr_fail(strbuf *why, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int attr_fail(strbuf *why, int status, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL) {
        sb_reset(why);
        va_start(ap, fmt);
        if (sb_vprintf(why, fmt, ap) < 0
            && sb_set(why, attr_strstatus(status)) < 0)
            sb_reset(why);
        va_end(ap);
    }
    return status;
}

/* attr_show - printable, bounded rendering of peer bytes for an error. */
static const char *attr_show(strbuf *out, const char *p, size_t n)
{
    size_t i;

    sb_reset(out);
    for (i = 0; i < n && i < ATTR_SHOW_MAX; i++)
        (void)sb_putc(out, p[i] > ' ' && p[i] < 0x7f ? p[i] : '?');
    if (i < n)
        (void)sb_puts(out, "...");
    return sb_str(out);
}

/* attr_name_ok - strict: [a-z0-9_]; lax: '!'..'~' except '='. */
static bool attr_name_ok(const char *p, size_t n, bool strict)
{
    size_t i;
    unsigned char c;

    if (n == 0 || n > ATTR_NAME_MAX)
        return false;
    for (i = 0; i < n; i++) {
        c = (unsigned char)p[i];
        if (strict ? !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                       || c == '_')
            : (c <= ' ' || c >= 0x7f || c == '='))
            return false;
    }
    return true;
}

/* attr_list_init - an empty list. */
void attr_list_init(attr_list *l)
{
    l->items = NULL;
    l->count = l->cap = 0;
}

/* attr_list_clear - free every pair; the list is empty and reusable. */
void attr_list_clear(attr_list *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].name);
        free(l->items[i].value);
    }
    free(l->items);
    attr_list_init(l);
}

/* attr_list_add - append a copy of a pair. */
void attr_list_add(attr_list *l, const char *name, const char *value)
{
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = xreallocarray(l->items, l->cap, sizeof(l->items[0]));
    }
    l->items[l->count].name = xstrdup(name);
    l->items[l->count].value = xstrdup(value);
    l->count++;
}

/* attr_list_find - index of name, or -1. */
static long attr_list_find(const attr_list *l, const char *name)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* attr_list_get - the value of name, or NULL. */
const char *attr_list_get(const attr_list *l, const char *name)
{
    long i = attr_list_find(l, name);

    return i < 0 ? NULL : l->items[i].value;
}

/* Per-message read state. */
struct attr_reader {
    tio *t;
    size_t value_max;
    size_t count_max;
    bool strict;
    enum attr_dup dup;
    attr_list *out;
    strbuf *why;
    strbuf show;                /* scratch for attr_show */
};

/* attr_read_fail - map a tio failure while reading line number nline. */
static int attr_read_fail(struct attr_reader *r, enum tio_status st,
                          size_t nline, const strbuf *line)
{
    const char *eq;
    size_t n;

    switch (st) {
    case TIO_EOF:
        if (nline == 0 && sb_len(line) == 0)
            return attr_fail(r->why, ATTR_EOF, "end of input");
        return attr_fail(r->why, ATTR_SYNTAX,
                         "end of input inside a message (no empty line)");
    case TIO_TIMEOUT:
        return attr_fail(r->why, ATTR_TIMEOUT,
                         "timeout reading attribute message");
    case TIO_TOOLONG:
        eq = memchr(sb_str(line), '=', sb_len(line));
        n = eq ? (size_t)(eq - sb_str(line)) : sb_len(line);
        if (eq && attr_name_ok(sb_str(line), n, r->strict))
            return attr_fail(r->why, ATTR_SYNTAX,
                             "attribute \"%.*s\": value longer than %zu bytes",
                             (int)n, sb_str(line), r->value_max);
        return attr_fail(r->why, ATTR_SYNTAX, "bad attribute name \"%s\"",
                         attr_show(&r->show, sb_str(line), n));
    default:
        return attr_fail(r->why, ATTR_IOERR, "read attribute message: %s",
                         strerror(tio_errno(r->t)));
    }
}

/* attr_take_line - check one "name=value" line and add it to the list. */
static int attr_take_line(struct attr_reader *r, strbuf *line, unsigned flags)
{
    char *p = line->data;
    char *eq = memchr(p, '=', sb_len(line));
    size_t n = eq ? (size_t)(eq - p) : sb_len(line);
    long old;

    if (eq == NULL || !attr_name_ok(p, n, r->strict))
        return attr_fail(r->why, ATTR_SYNTAX, "bad attribute line \"%s\"",
                         attr_show(&r->show, p, sb_len(line)));
    *eq = '\0';
    if (flags & (TIO_LINE_CRLF | TIO_LINE_BARE_CR | TIO_LINE_NUL))
        return attr_fail(r->why, ATTR_SYNTAX,
                         "attribute \"%s\": value contains %s", p,
                         flags & TIO_LINE_NUL ? "NUL" : "CR");
    if (sb_len(line) - n - 1 > r->value_max)
        return attr_fail(r->why, ATTR_SYNTAX,
                         "attribute \"%s\": value longer than %zu bytes",
                         p, r->value_max);
    old = attr_list_find(r->out, p);
    if (old < 0) {
        attr_list_add(r->out, p, eq + 1);
        return ATTR_OK;
    }
    if (r->dup == ATTR_DUP_ERROR)
        return attr_fail(r->why, ATTR_DUPLICATE,
                         "duplicate attribute \"%s\"", p);
    if (r->dup == ATTR_DUP_LAST) {
        free(r->out->items[old].value);
        r->out->items[old].value = xstrdup(eq + 1);
    }
    return ATTR_OK;
}

/* attr_read_msg - read one message into r->out (cleared first). */
static int attr_read_msg(struct attr_reader *r)
{
    size_t linemax = ATTR_NAME_MAX + 1 + r->value_max;
    enum tio_status st;
    unsigned flags;
    strbuf line;
    size_t nline;
    int status = ATTR_OK, dup = ATTR_OK;

    attr_list_clear(r->out);
    sb_init(&line, linemax);
    for (nline = 0; status == ATTR_OK; nline++) {
        st = tio_getline(r->t, &line, linemax, &flags);
        if (st != TIO_OK) {
            status = attr_read_fail(r, st, nline, &line);
        } else if (sb_len(&line) == 0) {
            if (flags & TIO_LINE_CRLF)
                status = attr_fail(r->why, ATTR_SYNTAX,
                                   "message ends in CR LF, not LF");
            break;
        } else if (nline >= r->count_max) {
            status = attr_fail(r->why, ATTR_TOOMANY,
                               "more than %zu attributes", r->count_max);
        } else if ((status = attr_take_line(r, &line, flags))
                   == ATTR_DUPLICATE) {
            dup = status;           /* read on to the end: stay in step */
            status = ATTR_OK;
        }
    }
    sb_release(&line);
    if (status == ATTR_OK)
        status = dup;
    if (status != ATTR_OK)
        attr_list_clear(r->out);
    return status;
}

/* attr_reader_init - set up a read with opts (NULL: defaults). */
static void attr_reader_init(struct attr_reader *r, tio *t,
                             const attr_opts *opts, strbuf *why)
{
    r->t = t;
    r->value_max = opts ? opts->value_max : ATTR_VALUE_MAX_DEFAULT;
    r->count_max = opts ? opts->count_max : ATTR_COUNT_MAX_DEFAULT;
    if (r->value_max > ATTR_VALUE_MAX_LIMIT)
        msg_panic("attr: value_max %zu over %d", r->value_max,
                  ATTR_VALUE_MAX_LIMIT);
    r->why = why;
    sb_init(&r->show, ATTR_SHOW_MAX + 8);
}

/* attr_scan_lax - read one message, keeping every name. */
int attr_scan_lax(tio *t, const attr_opts *opts, enum attr_dup dup,
                  attr_list *out, strbuf *why)
{
    struct attr_reader r;
    int status;

    attr_reader_init(&r, t, opts, why);
    r.strict = false;
    r.dup = dup;
    r.out = out;
    status = attr_read_msg(&r);
    sb_release(&r.show);
    return status;
}

/* attr_numtype_of - the numeric description of a type, or NULL. */
static const struct attr_numtype *attr_numtype_of(enum attr_type type)
{
    for (size_t i = 0; i < sizeof(attr_numtypes) / sizeof(attr_numtypes[0]);
         i++)
        if (attr_numtypes[i].type == type)
            return &attr_numtypes[i];
    return NULL;
}

/* attr_parse_num - strict decimal: 0, or -1 not a number, -2 out of range. */
static int attr_parse_num(const char *s, const struct attr_numtype *nt,
                          struct attr_val *v)
{
    const char *p = s + (s[0] == '-' && nt->is_signed);
    char *end;

    if (*p == '\0')
        return -1;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return -1;
    errno = 0;
    if (nt->is_signed) {
        v->sv = strtoll(s, &end, 10);
        if (errno == ERANGE || v->sv < nt->min || v->sv > (long long)nt->max)
            return -2;
    } else {
        v->uv = strtoull(s, &end, 10);
        if (errno == ERANGE || v->uv > nt->max)
            return -2;
    }
    return *end == '\0' ? 0 : -1;
}

/* attr_check_spec - panic on a table the program got wrong. */
static void attr_check_spec(const attr_spec *spec, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (spec[i].name == NULL || spec[i].dest == NULL
            || !attr_name_ok(spec[i].name, strlen(spec[i].name), true)
            || (spec[i].type != ATTR_T_STR
                && attr_numtype_of(spec[i].type) == NULL))
            msg_panic("attr_scan: bad table entry %zu", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(spec[i].name, spec[j].name) == 0)
                msg_panic("attr_scan: \"%s\" twice in table", spec[i].name);
    }
}

/* attr_decode_one - match a pair to the table and decode its value. */
static int attr_decode_one(const attr_pair *p, const attr_spec *spec,
                           size_t n, struct attr_val *v, strbuf *why)
{
    const struct attr_numtype *nt;
    int r;

    for (v->spec = 0; v->spec < n; v->spec++)
        if (strcmp(spec[v->spec].name, p->name) == 0)
            break;
    if (v->spec == n)
        return attr_fail(why, ATTR_UNKNOWN, "unknown attribute \"%s\"",
                         p->name);
    if (spec[v->spec].type == ATTR_T_STR) {
        if (strlen(p->value) > ((strbuf *)spec[v->spec].dest)->max)
            return attr_fail(why, ATTR_MALFORMED,
                             "attribute \"%s\": value too long", p->name);
        return ATTR_OK;
    }
    nt = attr_numtype_of(spec[v->spec].type);
    if ((r = attr_parse_num(p->value, nt, v)) == 0)
        return ATTR_OK;
    return attr_fail(why, ATTR_MALFORMED, "attribute \"%s\": %s %s", p->name,
                     r == -1 ? "not a number:" : "out of range for",
                     r == -1 ? "value" : nt->what);
}

/* attr_store - put a decoded value in its destination. */
static void attr_store(const attr_spec *s, const attr_pair *p,
                       const struct attr_val *v)
{
    switch (s->type) {
    case ATTR_T_STR:
        if (sb_set(s->dest, p->value) < 0)
            msg_panic("attr_store: \"%s\" checked but too long", s->name);
        break;
    case ATTR_T_INT:
        *(int *)s->dest = (int)v->sv;
        break;
    case ATTR_T_UINT:
        *(unsigned *)s->dest = (unsigned)v->uv;
        break;
    case ATTR_T_LONG:
        *(long *)s->dest = (long)v->sv;
        break;
    default:
        msg_panic("attr_store: bad type %d", (int)s->type);
    }
}

/* attr_decode - check a whole message against the table, then store it. */
static int attr_decode(const attr_list *l, const attr_spec *spec, size_t n,
                       strbuf *why)
{
    struct attr_val *vals = xcalloc(l->count ? l->count : 1, sizeof(*vals));
    int status = ATTR_OK;
    size_t i;

    for (i = 0; i < l->count && status == ATTR_OK; i++)
        status = attr_decode_one(&l->items[i], spec, n, &vals[i], why);
    for (i = 0; i < n && status == ATTR_OK; i++)
        if ((spec[i].flags & ATTR_REQUIRED)
            && attr_list_find(l, spec[i].name) < 0)
            status = attr_fail(why, ATTR_MISSING,
                               "missing attribute \"%s\"", spec[i].name);
    for (i = 0; i < l->count && status == ATTR_OK; i++)
        attr_store(&spec[vals[i].spec], &l->items[i], &vals[i]);
    free(vals);
    return status;
}

/* attr_scan - read one message and decode it strictly. */
int attr_scan(tio *t, const attr_opts *opts, const attr_spec *spec,
              size_t n, strbuf *why)
{
    struct attr_reader r;
    attr_list l;
    int status;

    attr_check_spec(spec, n);
    attr_list_init(&l);
    attr_reader_init(&r, t, opts, why);
    r.strict = true;
    r.dup = ATTR_DUP_ERROR;
    r.out = &l;
    status = attr_read_msg(&r);
    if (status == ATTR_OK)
        status = attr_decode(&l, spec, n, why);
    attr_list_clear(&l);
    sb_release(&r.show);
    return status;
}

/* attr_write_status - map a tio write failure. */
static int attr_write_status(tio *t, enum tio_status st, strbuf *why)
{
    if (st == TIO_TIMEOUT)
        return attr_fail(why, ATTR_TIMEOUT, "timeout writing attributes");
    return attr_fail(why, ATTR_IOERR, "write attributes: %s",
                     st == TIO_ERROR ? strerror(tio_errno(t))
                     : tio_strstatus(st));
}

/* attr_print_list - validate every pair, then write the message and flush. */
int attr_print_list(tio *t, const attr_list *l, strbuf *why)
{
    enum tio_status st = TIO_OK;
    const attr_pair *p;
    size_t i;

    for (i = 0; i < l->count; i++) {
        p = &l->items[i];
        if (!attr_name_ok(p->name, strlen(p->name), true))
            msg_panic("attr_print: bad attribute name \"%.*s\"",
                      ATTR_SHOW_MAX, p->name);
        if (strpbrk(p->value, "\r\n") != NULL)
            return attr_fail(why, ATTR_BADVALUE,
                             "attribute \"%s\": value contains CR or LF",
                             p->name);
    }
    for (i = 0; i < l->count && st == TIO_OK; i++) {
        p = &l->items[i];
        if ((st = tio_puts(t, p->name)) == TIO_OK
            && (st = tio_write(t, "=", 1)) == TIO_OK
            && (st = tio_puts(t, p->value)) == TIO_OK)
            st = tio_write(t, "\n", 1);
    }
    if (st == TIO_OK && (st = tio_write(t, "\n", 1)) == TIO_OK)
        st = tio_flush(t);
    return st == TIO_OK ? ATTR_OK : attr_write_status(t, st, why);
}

/* attr_format_arg - turn one vararg value into text. */
static void attr_format_arg(enum attr_type type, va_list *ap, strbuf *out)
{
    const char *s;
    int r;

    sb_reset(out);
    switch (type) {
    case ATTR_T_STR:
        s = va_arg(*ap, const char *);
        if (s == NULL)
            msg_panic("attr_print: null string value");
        r = sb_puts(out, s);
        break;
    case ATTR_T_INT:
        r = sb_printf(out, "%d", va_arg(*ap, int));
        break;
    case ATTR_T_UINT:
        r = sb_printf(out, "%u", va_arg(*ap, unsigned));
        break;
    case ATTR_T_LONG:
        r = sb_printf(out, "%ld", va_arg(*ap, long));
        break;
    default:
        msg_panic("attr_print: bad type %d", (int)type);
    }
    if (r < 0)
        msg_panic("attr_print: value cannot be formatted");
}

/* attr_print - write one message from ATTR_SEND_* arguments. */
int attr_print(tio *t, strbuf *why, ...)
{
    enum attr_type type;
    const char *name;
    attr_list l;
    strbuf val;
    va_list ap;
    int status;

    attr_list_init(&l);
    sb_init(&val, SB_NOLIMIT);
    va_start(ap, why);
    while ((type = (enum attr_type)va_arg(ap, int)) != ATTR_T_END) {
        if ((name = va_arg(ap, const char *)) == NULL)
            msg_panic("attr_print: null attribute name");
        attr_format_arg(type, &ap, &val);
        attr_list_add(&l, name, sb_str(&val));
    }
    va_end(ap);
    status = attr_print_list(t, &l, why);
    attr_list_clear(&l);
    sb_release(&val);
    return status;
}

/* attr_xtext_encode - append RFC 3461 xtext of data. */
int attr_xtext_encode(strbuf *out, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t start = sb_len(out);
    int r = 0;

    for (size_t i = 0; i < len && r == 0; i++) {
        if (p[i] > ' ' && p[i] < 0x7f && p[i] != '+' && p[i] != '=')
            r = sb_putc(out, p[i]);
        else
            r = sb_printf(out, "+%02X", p[i]);
    }
    if (r < 0)
        sb_truncate(out, start);
    return r;
}

/* attr_hexval - value of a hex digit, or -1. */
static int attr_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* attr_xtext_decode - append the bytes an xtext string stands for. */
int attr_xtext_decode(strbuf *out, const char *in, size_t len)
{
    size_t start = sb_len(out);
    int r = 0, hi, lo;
    unsigned char c;

    for (size_t i = 0; i < len && r == 0; i++) {
        c = (unsigned char)in[i];
        if (c == '+') {
            if (len - i < 3 || (hi = attr_hexval(in[i + 1])) < 0
                || (lo = attr_hexval(in[i + 2])) < 0)
                r = -1;
            else
                r = sb_putc(out, hi * 16 + lo);
            i += 2;
        } else if (c <= ' ' || c >= 0x7f || c == '=') {
            r = -1;
        } else {
            r = sb_putc(out, c);
        }
    }
    if (r < 0)
        sb_truncate(out, start);
    return r;
}
