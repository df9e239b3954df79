/*
 * addr - RFC 5321 address parsing, quoting and splitting (see addr.h).
 *
 * Contract: addr_parse() validates the whole input before it stores
 * anything, runs the same checks for every input (no special-case early
 * return: CVE-2020-7247 came from one), reads only s[0..len) and reports the
 * first failure as an enum addr_err. The parsed parts live in the caller's
 * addr (two strbufs bounded by the RFC limits). Nothing here allocates
 * except those buffers, logs, or touches global state.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "common/addr.h"
#include "common/msg.h"
#include "common/xalloc.h"

/* The input split into its pieces, before anything is stored. */
struct addr_span {
    size_t local_start;         /* offset of the local part as written */
    size_t local_end;           /* offset of '@' or of the end */
    size_t domain_start;        /* offset after '@' */
    size_t domain_len;          /* without the stripped trailing dot */
    unsigned flags;             /* ADDR_F_* found so far */
};

static const char *const addr_err_text[ADDR_ERR_COUNT] = {
    [ADDR_OK] = "address is valid",
    [ADDR_ERR_CONTROL] = "address contains a control character",
    [ADDR_ERR_UTF8] = "address contains invalid UTF-8",
    [ADDR_ERR_BRACKET] = "address is missing '<' or '>'",
    [ADDR_ERR_TRAILING] = "text after the address's closing '>'",
    [ADDR_ERR_NULL] = "null address is not allowed here",
    [ADDR_ERR_ROUTE] = "malformed source route",
    [ADDR_ERR_LOCAL_EMPTY] = "address has an empty local part",
    [ADDR_ERR_LOCAL_SYNTAX] = "bad character in the address's local part",
    [ADDR_ERR_QUOTE] = "unterminated quote or bad backslash in the local part",
    [ADDR_ERR_NO_DOMAIN] = "address has no domain",
    [ADDR_ERR_DOMAIN_SYNTAX] = "bad domain name in the address",
    [ADDR_ERR_LITERAL] = "bad address literal in the domain",
    [ADDR_ERR_LOCAL_TOO_LONG] = "local part is longer than 64 octets",
    [ADDR_ERR_DOMAIN_TOO_LONG] = "domain is longer than 255 octets",
    [ADDR_ERR_PATH_TOO_LONG] = "address is longer than 256 octets",
};

/* addr_strerror - human text for an error code. */
const char *addr_strerror(enum addr_err err)
{
    if ((unsigned)err >= ADDR_ERR_COUNT)
        return "unknown address error";
    return addr_err_text[err];
}

/* addr_err_too_long - the errors an SMTP server reports as "too long". */
bool addr_err_too_long(enum addr_err err)
{
    return err == ADDR_ERR_LOCAL_TOO_LONG || err == ADDR_ERR_DOMAIN_TOO_LONG
        || err == ADDR_ERR_PATH_TOO_LONG;
}

/* addr_init - empty address with buffers bounded by the RFC limits. */
void addr_init(addr *a)
{
    sb_init(&a->local, ADDR_LOCAL_MAX);
    sb_init(&a->domain, ADDR_DOMAIN_MAX);
    a->flags = 0;
}

/* addr_release - free the buffers. */
void addr_release(addr *a)
{
    sb_release(&a->local);
    sb_release(&a->domain);
    a->flags = 0;
}

/* is_atext - RFC 5322 atext, extended with 8-bit (UTF-8) bytes (RFC 6531). */
static bool is_atext(unsigned char c)
{
    if (c >= 0x80)
        return true;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* is_host_char - a byte that may appear in a host name label. */
static bool is_host_char(unsigned char c)
{
    return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* utf8_seq - length of the valid UTF-8 sequence at p[0..n), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
    static const struct {
        unsigned char lo, hi;   /* lead byte range */
        size_t len;
        uint32_t mask, min;
    } leads[] = {
        {0xC2, 0xDF, 2, 0x1F, 0x80},
        {0xE0, 0xEF, 3, 0x0F, 0x800},
        {0xF0, 0xF4, 4, 0x07, 0x10000},
    };

    for (size_t k = 0; k < sizeof(leads) / sizeof(leads[0]); k++) {
        if (p[0] < leads[k].lo || p[0] > leads[k].hi)
            continue;
        if (n < leads[k].len)
            return 0;
        uint32_t v = p[0] & leads[k].mask;
        for (size_t i = 1; i < leads[k].len; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            v = (v << 6) | (p[i] & 0x3F);
        }
        if (v < leads[k].min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return 0;
        *cp = v;
        return leads[k].len;
    }
    return 0;
}

/* check_bytes - step 1: no control bytes, 8-bit only as valid UTF-8. */
static enum addr_err check_bytes(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint32_t cp;
        size_t n;

        if (s[i] < 0x20 || s[i] == 0x7F)
            return ADDR_ERR_CONTROL;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if ((n = utf8_seq(s + i, len - i, &cp)) == 0)
            return ADDR_ERR_UTF8;
        if (cp <= 0x9F)                 /* C1 controls U+0080..U+009F */
            return ADDR_ERR_CONTROL;
        i += n;
    }
    return ADDR_OK;
}

/* addr_path_len - length of the leading "<...>", quotes skipped; 0 if none. */
size_t addr_path_len(const char *s, size_t len)
{
    bool quoted = false;

    if (len == 0 || s[0] != '<')
        return 0;
    for (size_t i = 1; i < len; i++) {
        if (quoted) {
            if (s[i] == '\\')
                i++;                    /* the loop bound still holds */
            else if (s[i] == '"')
                quoted = false;
        } else if (s[i] == '"' && (i == 1 || s[i - 1] == ':')) {
            quoted = true;              /* only a local part starts quoted */
        } else if (s[i] == '>') {
            return i + 1;
        }
    }
    return 0;
}

/* unwrap - step 2: find the text inside "<...>" and the path's length. */
static enum addr_err unwrap(const char *s, size_t len, int opts,
                            size_t *start, size_t *end, size_t *path_len)
{
    size_t n;

    if ((opts & (ADDR_P_PATH | ADDR_P_PATH_OPTIONAL)) && len > 0
        && s[0] == '<') {
        if ((n = addr_path_len(s, len)) == 0)
            /* A final '>' that did not end the path sat inside a quote. */
            return len > 1 && s[len - 1] == '>' ? ADDR_ERR_QUOTE
                : ADDR_ERR_BRACKET;
        if (n != len)
            return ADDR_ERR_TRAILING;
        *start = 1;
        *end = len - 1;
        *path_len = len;
        return ADDR_OK;
    }
    if (opts & ADDR_P_PATH)
        return ADDR_ERR_BRACKET;
    *start = 0;
    *end = len;
    /* A bare address counts as if it had its brackets. */
    if (!size_add(len, 2, path_len))
        *path_len = SIZE_MAX;
    return ADDR_OK;
}

/* check_hostname - labels of host characters, 1..63 octets, no edge '-'. */
static enum addr_err check_hostname(const char *d, size_t n)
{
    size_t label = 0;

    for (size_t i = 0; i <= n; i++) {
        if (i == n || d[i] == '.') {
            if (label == 0 || label > 63)
                return ADDR_ERR_DOMAIN_SYNTAX;
            if (d[i - label] == '-' || d[i - 1] == '-')
                return ADDR_ERR_DOMAIN_SYNTAX;
            label = 0;
        } else if (is_host_char((unsigned char)d[i])) {
            label++;
        } else {
            return ADDR_ERR_DOMAIN_SYNTAX;
        }
    }
    return ADDR_OK;
}

/* check_literal - "[IPv4]" or "[IPv6:addr]", each accepted by inet_pton. */
static enum addr_err check_literal(const char *d, size_t n)
{
    char text[INET6_ADDRSTRLEN + 1];
    unsigned char bin[sizeof(struct in6_addr)];
    const char *body = d + 1;
    size_t blen;
    int af = AF_INET;

    if (n < 3 || d[n - 1] != ']')
        return ADDR_ERR_LITERAL;
    blen = n - 2;
    if (blen > 5 && strncasecmp(body, "IPv6:", 5) == 0) {
        af = AF_INET6;
        body += 5;
        blen -= 5;
    }
    if (blen >= sizeof(text)
        || fmt_fixed(text, sizeof(text), "%.*s", (int)blen, body) != 0)
        return ADDR_ERR_LITERAL;
    if (inet_pton(af, text, bin) != 1)
        return ADDR_ERR_LITERAL;
    return ADDR_OK;
}

/*
 * check_domain - step 6 on d[0..n): a literal or a host name. With
 * strip_dot, one trailing dot of a host name is dropped (*out_len).
 */
static enum addr_err check_domain(const char *d, size_t n, bool strip_dot,
                                  size_t *out_len, unsigned *flags)
{
    enum addr_err err;

    if (n > 0 && d[0] == '[') {
        if (n > ADDR_DOMAIN_MAX)
            return ADDR_ERR_DOMAIN_TOO_LONG;
        if ((err = check_literal(d, n)) != ADDR_OK)
            return err;
        *flags |= ADDR_F_LITERAL;
        *out_len = n;
        return ADDR_OK;
    }
    if (strip_dot && n > 1 && d[n - 1] == '.')
        n--;
    if (n == 0)
        return ADDR_ERR_DOMAIN_SYNTAX;
    if (n > ADDR_DOMAIN_MAX)
        return ADDR_ERR_DOMAIN_TOO_LONG;
    if ((err = check_hostname(d, n)) != ADDR_OK)
        return err;
    *out_len = n;
    return ADDR_OK;
}

/*
 * skip_route - step 4: "@a,@b:" at s[*pos..end). "@domain" with nothing
 * after it is an empty local part, not a route.
 */
static enum addr_err skip_route(const char *s, size_t end, size_t *pos)
{
    size_t p = *pos;

    for (unsigned hop = 0; p < end; hop++) {
        size_t start, dlen;
        unsigned ignored = 0;

        if (s[p] != '@')
            return ADDR_ERR_ROUTE;
        start = ++p;
        if (p < end && s[p] == '[') {
            while (p < end && s[p] != ']')
                p++;
            if (p < end)
                p++;
        } else {
            while (p < end && s[p] != ',' && s[p] != ':')
                p++;
        }
        if (p >= end)
            return hop == 0 ? ADDR_ERR_LOCAL_EMPTY : ADDR_ERR_ROUTE;
        if (check_domain(s + start, p - start, false, &dlen, &ignored)
            != ADDR_OK)
            return ADDR_ERR_ROUTE;
        if (s[p++] == ':') {
            *pos = p;
            return ADDR_OK;
        }
        if (s[p - 1] != ',')
            return ADDR_ERR_ROUTE;
    }
    return ADDR_ERR_ROUTE;
}

/* put - append one byte to a buffer that was sized to fit; a miss is a bug. */
static void put(strbuf *out, char c)
{
    if (out != NULL && sb_putc(out, c) != 0)
        msg_panic("addr: local part buffer overflow after validation");
}

/* scan_quoted - a quoted string at s[*pos] (the '"'); unquote into out. */
static enum addr_err scan_quoted(const char *s, size_t end, size_t *pos,
                                 strbuf *out)
{
    size_t p = *pos + 1;

    while (p < end && s[p] != '"') {
        if (s[p] == '\\') {
            /* quoted-pairSMTP: backslash then one printable ASCII byte */
            if (p + 1 >= end || (unsigned char)s[p + 1] < 0x20
                || (unsigned char)s[p + 1] > 0x7E)
                return ADDR_ERR_QUOTE;
            p++;
        }
        put(out, s[p]);
        p++;
    }
    if (p >= end)
        return ADDR_ERR_QUOTE;
    if (p == *pos + 1)
        return ADDR_ERR_LOCAL_EMPTY;    /* "" */
    p++;                                /* closing quote */
    if (p < end && s[p] != '@')
        return ADDR_ERR_LOCAL_SYNTAX;   /* "a"b@x, "a".b@x */
    *pos = p;
    return ADDR_OK;
}

/*
 * scan_local - step 5 at s[*pos..end): leaves *pos at the '@' or the end.
 * With out == NULL it only validates; otherwise it stores the unquoted form.
 */
static enum addr_err scan_local(const char *s, size_t end, size_t *pos,
                                strbuf *out)
{
    size_t p = *pos;

    if (p < end && s[p] == '"')
        return scan_quoted(s, end, pos, out);
    while (p < end && s[p] != '@') {
        if (!is_atext((unsigned char)s[p]) && s[p] != '.')
            return ADDR_ERR_LOCAL_SYNTAX;
        put(out, s[p]);
        p++;
    }
    if (p == *pos)
        return ADDR_ERR_LOCAL_EMPTY;
    *pos = p;
    return ADDR_OK;
}

/* split_mailbox - steps 4-6 on s[start..end): route, local part, domain. */
static enum addr_err split_mailbox(const char *s, size_t start, size_t end,
                                   int opts, struct addr_span *sp)
{
    enum addr_err err;
    size_t p = start;

    if (p < end && s[p] == '@') {
        if ((err = skip_route(s, end, &p)) != ADDR_OK)
            return err;
        sp->flags |= ADDR_F_ROUTE;
    }
    sp->local_start = p;
    if ((err = scan_local(s, end, &p, NULL)) != ADDR_OK)
        return err;
    sp->local_end = p;
    if (p - sp->local_start > ADDR_LOCAL_MAX)
        return ADDR_ERR_LOCAL_TOO_LONG;
    if (p == end) {
        if (!(opts & ADDR_P_ALLOW_LOCAL))
            return ADDR_ERR_NO_DOMAIN;
        sp->flags |= ADDR_F_NODOMAIN;
        sp->domain_start = end;
        sp->domain_len = 0;
        return ADDR_OK;
    }
    sp->domain_start = p + 1;           /* s[p] is '@' */
    return check_domain(s + sp->domain_start, end - sp->domain_start, true,
                        &sp->domain_len, &sp->flags);
}

/* has_8bit - true when s[0..n) has a byte >= 0x80. */
static bool has_8bit(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return true;
    return false;
}

/* store - copy a fully validated span into the addr. */
static void store(addr *a, const char *s, const struct addr_span *sp)
{
    size_t p = sp->local_start;

    if (scan_local(s, sp->local_end, &p, &a->local) != ADDR_OK)
        msg_panic("addr: local part changed between checks");
    if (sb_append(&a->domain, s + sp->domain_start, sp->domain_len) != 0)
        msg_panic("addr: domain buffer overflow after validation");
    a->flags = sp->flags;
    if (has_8bit(sb_str(&a->local), sb_len(&a->local))
        || has_8bit(sb_str(&a->domain), sb_len(&a->domain)))
        a->flags |= ADDR_F_UTF8;
}

/* addr_parse - validate s[0..len) completely, then store it in *a. */
enum addr_err addr_parse(addr *a, const char *s, size_t len, int opts)
{
    struct addr_span sp = {0};
    size_t start = 0, end = 0, path_len = 0;
    enum addr_err err;

    sb_reset(&a->local);
    sb_reset(&a->domain);
    a->flags = 0;
    if ((err = check_bytes((const unsigned char *)s, len)) != ADDR_OK)
        return err;
    if ((err = unwrap(s, len, opts, &start, &end, &path_len)) != ADDR_OK)
        return err;
    if (start == end) {
        if (!(opts & ADDR_P_ALLOW_NULL))
            return ADDR_ERR_NULL;
        a->flags = ADDR_F_NULL;
        return ADDR_OK;
    }
    if ((err = split_mailbox(s, start, end, opts, &sp)) != ADDR_OK)
        return err;
    if (path_len > ADDR_PATH_MAX)
        return ADDR_ERR_PATH_TOO_LONG;
    store(a, s, &sp);
    return ADDR_OK;
}

/* addr_internal - append "local@domain", "local" or "" (null). */
int addr_internal(const addr *a, strbuf *out)
{
    size_t save = sb_len(out);

    if (a->flags & ADDR_F_NULL)
        return 0;
    if (sb_append(out, sb_str(&a->local), sb_len(&a->local)) != 0
        || (!(a->flags & ADDR_F_NODOMAIN)
            && (sb_putc(out, '@') != 0
                || sb_append(out, sb_str(&a->domain),
                             sb_len(&a->domain)) != 0))) {
        sb_truncate(out, save);
        return -1;
    }
    return 0;
}

/* addr_lower_domain - ASCII-only lower case, independent of the locale. */
void addr_lower_domain(addr *a)
{
    char *d = a->domain.data;

    for (size_t i = 0; i < a->domain.len; i++)
        if (d[i] >= 'A' && d[i] <= 'Z')
            d[i] = (char)(d[i] - 'A' + 'a');
}

/* addr_is_dot_atom - atext runs separated by single dots, none at the ends. */
bool addr_is_dot_atom(const char *s, size_t len)
{
    if (len == 0 || s[0] == '.' || s[len - 1] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (s[i + 1] == '.')        /* i + 1 < len: s[len - 1] != '.' */
                return false;
        } else if (!is_atext((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

/* quote_local - append s[0..len) as a quoted string. */
static int quote_local(strbuf *out, const char *s, size_t len)
{
    if (sb_putc(out, '"') != 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if ((s[i] == '"' || s[i] == '\\') && sb_putc(out, '\\') != 0)
            return -1;
        if (sb_putc(out, s[i]) != 0)
            return -1;
    }
    return sb_putc(out, '"');
}

/* addr_quote - internal form to RFC 5321 external form. */
int addr_quote(strbuf *out, const char *s, size_t len)
{
    size_t save = sb_len(out), llen, dlen;
    const char *dom;
    bool has_at;
    int rc;

    if (len == 0)
        return 0;
    has_at = addr_split(s, len, &llen, &dom, &dlen);
    if (addr_is_dot_atom(s, llen))
        rc = sb_append(out, s, llen);
    else
        rc = quote_local(out, s, llen);
    if (rc == 0 && has_at)
        rc = (sb_putc(out, '@') == 0 && sb_append(out, dom, dlen) == 0)
            ? 0 : -1;
    if (rc != 0)
        sb_truncate(out, save);
    return rc;
}

/* addr_split - local part and domain around the LAST '@'. */
bool addr_split(const char *s, size_t len, size_t *local_len,
                const char **domain, size_t *domain_len)
{
    for (size_t i = len; i > 0; i--) {
        if (s[i - 1] == '@') {
            *local_len = i - 1;
            *domain = s + i;
            *domain_len = len - i;
            return true;
        }
    }
    *local_len = len;
    *domain = s + len;
    *domain_len = 0;
    return false;
}

/* addr_split_ext - base and extension at the first recipient delimiter. */
bool addr_split_ext(const char *local, size_t len, const char *delims,
                    bool owner_request_special, size_t *base_len)
{
    if (delims == NULL || delims[0] == '\0' || len == 0)
        return false;
    if (owner_request_special && strchr(delims, '-') != NULL) {
        /* Mailing-list conventions Postfix keeps whole (owner_request_special). */
        if (len >= 6 && strncasecmp(local, "owner-", 6) == 0)
            return false;
        if (len >= 8 && strncasecmp(local + len - 8, "-request", 8) == 0)
            return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (local[i] != '\0' && strchr(delims, local[i]) != NULL) {
            if (i == 0)
                return false;
            *base_len = i;
            return true;
        }
    }
    return false;
}
