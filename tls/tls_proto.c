/*
 * tls_proto - Postfix's TLS vocabulary: security level names, protocol
 * lists (">=TLSv1.2", "!SSLv3", "TLSv1.2 TLSv1.3") and cipher grades.
 *
 * Pure parsing shared by the server and the client side, linked into the
 * programs (front) and into the OpenSSL module alike: no OpenSSL here.
 * Owns nothing. Every bad item is an error naming it, never a guess.
 */
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "tls/tls.h"
#include "tls/tls_module.h"

/* Level names, in enum order. */
static const char *const tls_level_names[] = {
    [TLS_LEV_NONE] = "none",
    [TLS_LEV_MAY] = "may",
    [TLS_LEV_ENCRYPT] = "encrypt",
    [TLS_LEV_FINGERPRINT] = "fingerprint",
    [TLS_LEV_VERIFY] = "verify",
    [TLS_LEV_SECURE] = "secure",
    [TLS_LEV_DANE] = "dane",
    [TLS_LEV_DANE_ONLY] = "dane-only",
};

/* Protocol names and their bits, oldest first. */
static const struct tls_proto_name {
    const char *name;
    unsigned bit;
} tls_proto_names[] = {
    { "SSLv2", TLS_PROTO_SSLv2 },
    { "SSLv3", TLS_PROTO_SSLv3 },
    { "TLSv1", TLS_PROTO_TLSv1 },
    { "TLSv1.1", TLS_PROTO_TLSv1_1 },
    { "TLSv1.2", TLS_PROTO_TLSv1_2 },
    { "TLSv1.3", TLS_PROTO_TLSv1_3 },
};

#define TLS_NPROTO (sizeof(tls_proto_names) / sizeof(tls_proto_names[0]))

/* Cipher grades and the parameter holding each one's OpenSSL list. */
static const struct tls_grade {
    const char *name;
    const char *param;
} tls_grades[] = {
    { "high", "tls_high_cipherlist" },
    { "medium", "tls_medium_cipherlist" },
    { "low", "tls_medium_cipherlist" },         /* gone from OpenSSL 3 */
    { "export", "tls_medium_cipherlist" },      /* gone from OpenSSL 3 */
    { "null", "tls_null_cipherlist" },
};

/* tls_level_lookup - a level by name among the first n levels. */
static int tls_level_lookup(const char *name, size_t n, enum tls_level *lev)
{
    if (name[0] == '\0') {     /* Postfix's empty default means none */
        *lev = TLS_LEV_NONE;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(name, tls_level_names[i]) == 0) {
            *lev = (enum tls_level)i;
            return 0;
        }
    }
    return -1;
}

/* tls_level_parse - a server level by name. */
int tls_level_parse(const char *name, enum tls_level *lev)
{
    return tls_level_lookup(name, TLS_LEV_ENCRYPT + 1, lev);
}

/* tls_client_level_parse - a client level by name. */
int tls_client_level_parse(const char *name, enum tls_level *lev)
{
    return tls_level_lookup(name, sizeof(tls_level_names)
                            / sizeof(*tls_level_names), lev);
}

/* tls_level_name - a level's name. */
const char *tls_level_name(enum tls_level lev)
{
    if ((size_t)lev >= sizeof(tls_level_names) / sizeof(*tls_level_names))
        return "unknown";
    return tls_level_names[lev];
}

/* tls_proto_index - index of a protocol name (n bytes), or -1. */
static int tls_proto_index(const char *name, size_t n)
{
    for (size_t i = 0; i < TLS_NPROTO; i++) {
        if (strlen(tls_proto_names[i].name) == n
            && strncasecmp(tls_proto_names[i].name, name, n) == 0)
            return (int)i;
    }
    return -1;
}

/* Accumulated meaning of a protocol list while it is parsed. */
struct tls_proto_acc {
    unsigned include, exclude;
    int min, max;               /* index bounds, inclusive */
};

/* tls_proto_item - apply one list item (n bytes at s); -1 with err. */
static int tls_proto_item(struct tls_proto_acc *acc, const char *s, size_t n,
                          strbuf *err)
{
    size_t skip = 0;
    int idx;

    if (n >= 2 && (strncmp(s, ">=", 2) == 0 || strncmp(s, "<=", 2) == 0))
        skip = 2;
    else if (s[0] == '!')
        skip = 1;
    idx = tls_proto_index(s + skip, n - skip);
    if (idx < 0) {
        return tls_fail(err, "unknown TLS protocol \"%.*s\"",
                        n > 64 ? 64 : (int)n, s);
    }
    if (skip == 2 && s[0] == '>')
        acc->min = idx > acc->min ? idx : acc->min;
    else if (skip == 2)
        acc->max = idx < acc->max ? idx : acc->max;
    else if (skip == 1)
        acc->exclude |= tls_proto_names[idx].bit;
    else
        acc->include |= tls_proto_names[idx].bit;
    return 0;
}

/* tls_protocols_parse - Postfix protocol list to a TLS_PROTO_* set. */
int tls_protocols_parse(const char *spec, unsigned *mask, strbuf *err)
{
    static const char sep[] = ", \t\r\n:";
    struct tls_proto_acc acc = { 0, 0, 0, (int)TLS_NPROTO - 1 };
    unsigned set = 0;
    size_t n;

    for (const char *p = spec; *p != '\0'; p += n) {
        p += strspn(p, sep);
        if ((n = strcspn(p, sep)) == 0)
            continue;
        if (tls_proto_item(&acc, p, n, err) < 0)
            return -1;
    }
    set = acc.include != 0 ? acc.include : TLS_PROTO_ALL;
    set &= ~acc.exclude;
    for (size_t i = 0; i < TLS_NPROTO; i++) {
        if ((int)i < acc.min || (int)i > acc.max)
            set &= ~tls_proto_names[i].bit;
    }
    if (set == 0)
        return tls_fail(err, "TLS protocol list \"%.64s\" enables no protocol",
                        spec);
    *mask = set;
    return 0;
}

/* tls_protocol_names - names of the protocols in mask. */
void tls_protocol_names(unsigned mask, strbuf *out)
{
    sb_reset(out);
    for (size_t i = 0; i < TLS_NPROTO; i++) {
        if ((mask & tls_proto_names[i].bit) == 0)
            continue;
        if ((sb_len(out) > 0 && sb_putc(out, ' ') < 0)
            || sb_puts(out, tls_proto_names[i].name) < 0)
            return;             /* out's bound is the caller's choice */
    }
}

/* tls_cipher_exclude - append ":!X" for each item of an exclusion list. */
static int tls_cipher_exclude(const char *exclude, strbuf *out, strbuf *err)
{
    static const char sep[] = ", \t\r\n:";
    size_t n;

    for (const char *p = exclude; *p != '\0'; p += n) {
        p += strspn(p, sep);
        if ((n = strcspn(p, sep)) == 0)
            continue;
        if (p[0] == '!' || p[0] == '+' || p[0] == '-' || p[0] == '@')
            return tls_fail(err, "bad cipher exclusion \"%.*s\": give plain "
                            "names", n > 64 ? 64 : (int)n, p);
        if (sb_printf(out, ":!%.*s", (int)n, p) < 0)
            return tls_fail(err, "cipher exclusion list too long");
    }
    return 0;
}

/* tls_cipher_list - OpenSSL cipher string for a grade minus exclusions. */
int tls_cipher_list(const conf *c, const char *grade, const char *exclude,
                    strbuf *out, strbuf *err)
{
    const struct tls_grade *g = NULL;

    for (size_t i = 0; i < sizeof(tls_grades) / sizeof(*tls_grades); i++) {
        if (strcasecmp(grade, tls_grades[i].name) == 0)
            g = &tls_grades[i];
    }
    if (g == NULL)
        return tls_fail(err, "unknown TLS cipher grade \"%.64s\" "
                        "(use high, medium or null)", grade);
    sb_reset(out);
    if (sb_puts(out, conf_get_str(c, g->param)) < 0)
        return tls_fail(err, "%s too long", g->param);
    if (sb_len(out) == 0)
        return tls_fail(err, "%s is empty", g->param);
    return tls_cipher_exclude(exclude, out, err);
}

/* tls_fail - replace err with a formatted reason; returns -1. */
int tls_fail(strbuf *err, const char *fmt, ...)
{
    va_list ap;

    sb_reset(err);
    va_start(ap, fmt);
    if (sb_vprintf(err, fmt, ap) < 0)
        (void)sb_set(err, "error text too long");
    va_end(ap);
    return -1;
}
