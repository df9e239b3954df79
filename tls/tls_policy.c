/*
 * tls_policy - one destination's client TLS policy from the smtp_tls_*
 * parameters and an smtp_tls_policy_maps value, with Postfix's syntax:
 * "LEVEL [match=...] [protocols=...] [ciphers=...] [exclude=...]".
 *
 * The level chooses its defaults (mandatory protocols and ciphers from
 * encrypt up, the match list of fingerprint/verify/secure); attributes
 * replace them. Every value is checked here (level, attribute name,
 * protocol list, cipher grade, an empty match list where one is needed),
 * so a bad policy is an error the caller turns into a deferral, never a
 * weaker level. Owns the strbufs of the policy it fills.
 */
#include <string.h>
#include <strings.h>

#include "tls/tls_module.h"

#define TLS_POL_MAX 8192        /* each policy string */

/* Where a level's default match list comes from. */
static const struct {
    enum tls_level level;
    const char *param;
} tls_match_params[] = {
    { TLS_LEV_FINGERPRINT, "smtp_tls_fingerprint_cert_match" },
    { TLS_LEV_VERIFY, "smtp_tls_verify_cert_match" },
    { TLS_LEV_SECURE, "smtp_tls_secure_cert_match" },
};

/* tls_policy_init - an empty policy at level none. */
void tls_policy_init(struct tls_policy *pol)
{
    pol->level = TLS_LEV_NONE;
    sb_init(&pol->match, TLS_POL_MAX);
    sb_init(&pol->protocols, TLS_POL_MAX);
    sb_init(&pol->ciphers, TLS_POL_MAX);
    sb_init(&pol->exclude, TLS_POL_MAX);
}

/* tls_policy_release - free the strings. */
void tls_policy_release(struct tls_policy *pol)
{
    sb_release(&pol->match);
    sb_release(&pol->protocols);
    sb_release(&pol->ciphers);
    sb_release(&pol->exclude);
}

/* tls_level_required - levels that never deliver in plaintext. */
bool tls_level_required(enum tls_level lev)
{
    return lev >= TLS_LEV_ENCRYPT;
}

/*
 * tls_words - append the items of text split at any of seps to out,
 * one space between items. -1 when out is full.
 */
static int tls_words(const char *text, const char *seps, strbuf *out)
{
    size_t n;

    for (const char *p = text; *p != '\0'; p += n) {
        p += strspn(p, seps);
        if ((n = strcspn(p, seps)) == 0)
            continue;
        if ((sb_len(out) > 0 && sb_putc(out, ' ') < 0)
            || sb_append(out, p, n) < 0)
            return -1;
    }
    return 0;
}

/* tls_policy_defaults - the level's values from the parameters. */
static int tls_policy_defaults(const conf *c, struct tls_policy *pol,
                               strbuf *err)
{
    bool mand = pol->level >= TLS_LEV_ENCRYPT;
    const char *const *list;
    int rc = 0;

    sb_reset(&pol->match);
    for (size_t i = 0; i < sizeof(tls_match_params) / sizeof(*tls_match_params);
         i++) {
        if (tls_match_params[i].level != pol->level)
            continue;
        list = conf_get_list(c, tls_match_params[i].param);
        for (size_t j = 0; list[j] != NULL && rc == 0; j++)
            rc = tls_words(list[j], pol->level == TLS_LEV_FINGERPRINT
                           ? " \t" : ": \t", &pol->match);
    }
    if (rc < 0
        || sb_set(&pol->protocols, conf_get_str(c, mand
                  ? "smtp_tls_mandatory_protocols" : "smtp_tls_protocols")) < 0
        || sb_set(&pol->ciphers, conf_get_str(c, mand
                  ? "smtp_tls_mandatory_ciphers" : "smtp_tls_ciphers")) < 0)
        return tls_fail(err, "TLS policy parameters too long");
    sb_reset(&pol->exclude);
    list = conf_get_list(c, "smtp_tls_exclude_ciphers");
    for (size_t j = 0; list[j] != NULL && rc == 0; j++)
        rc = tls_words(list[j], ": \t", &pol->exclude);
    list = conf_get_list(c, "smtp_tls_mandatory_exclude_ciphers");
    for (size_t j = 0; mand && list[j] != NULL && rc == 0; j++)
        rc = tls_words(list[j], ": \t", &pol->exclude);
    return rc < 0 ? tls_fail(err, "TLS cipher exclusions too long") : 0;
}

/* tls_policy_attr - apply one "name=value" (n bytes at s) of a table value. */
static int tls_policy_attr(struct tls_policy *pol, const char *s, size_t n,
                           strbuf *err)
{
    const char *eq = memchr(s, '=', n);
    size_t klen = eq != NULL ? (size_t)(eq - s) : n;
    strbuf val;
    strbuf *dst = NULL;
    const char *seps = ":";
    int rc;

    if (eq != NULL && klen == 5 && strncasecmp(s, "match", 5) == 0) {
        dst = &pol->match;
        seps = pol->level == TLS_LEV_FINGERPRINT ? "|" : ":";
    } else if (eq != NULL && klen == 9 && strncasecmp(s, "protocols", 9) == 0) {
        dst = &pol->protocols;
    } else if (eq != NULL && klen == 7 && strncasecmp(s, "ciphers", 7) == 0) {
        dst = &pol->ciphers;
    } else if (eq != NULL && klen == 7 && strncasecmp(s, "exclude", 7) == 0) {
        dst = &pol->exclude;
    }
    if (dst == NULL)
        return tls_fail(err, "invalid attribute \"%.*s\"",
                        n > 64 ? 64 : (int)n, s);
    sb_init(&val, TLS_POL_MAX);
    rc = sb_append(&val, eq + 1, n - klen - 1);
    sb_reset(dst);
    if (rc == 0)
        rc = tls_words(sb_str(&val), seps, dst);
    sb_release(&val);
    return rc < 0 ? tls_fail(err, "attribute \"%.*s\" too long", (int)klen, s)
        : 0;
}

/* tls_policy_table - the level and attributes of a table value. */
static int tls_policy_table(const conf *c, const char *value,
                            struct tls_policy *pol, strbuf *err)
{
    static const char ws[] = " \t\r\n";
    const char *p = value + strspn(value, ws);
    size_t n = strcspn(p, ws);
    strbuf word;
    int rc;

    sb_init(&word, 64);
    rc = sb_append(&word, p, n);
    if (rc < 0 || n == 0 || tls_client_level_parse(sb_str(&word),
                                                     &pol->level) < 0)
        rc = tls_fail(err, "invalid TLS security level \"%.*s\"",
                      n > 64 ? 64 : (int)n, p);
    sb_release(&word);
    if (rc < 0 || tls_policy_defaults(c, pol, err) < 0)
        return -1;
    for (p += n; *p != '\0'; p += n) {
        p += strspn(p, ws);
        if ((n = strcspn(p, ws)) == 0)
            continue;
        if (tls_policy_attr(pol, p, n, err) < 0)
            return -1;
    }
    return 0;
}

/* tls_policy_check - every value usable; the match list where needed. */
static int tls_policy_check(const conf *c, struct tls_policy *pol,
                            strbuf *err)
{
    strbuf why, list;
    unsigned mask;
    int rc = 0;

    if (pol->level < TLS_LEV_MAY || pol->level >= TLS_LEV_DANE)
        return 0;
    sb_init(&why, 1024);
    sb_init(&list, TLS_POL_MAX);
    if (tls_protocols_parse(sb_str(&pol->protocols), &mask, &why) < 0)
        rc = tls_fail(err, "protocols: %s", sb_str(&why));
    else if (tls_cipher_list(c, sb_str(&pol->ciphers), sb_str(&pol->exclude),
                             &list, &why) < 0)
        rc = tls_fail(err, "ciphers: %s", sb_str(&why));
    else if (pol->level >= TLS_LEV_FINGERPRINT && sb_len(&pol->match) == 0)
        rc = tls_fail(err, "security level %s needs a match list",
                      tls_level_name(pol->level));
    sb_release(&why);
    sb_release(&list);
    return rc;
}

/* tls_policy_make - parameters, then the table value, then checks. */
int tls_policy_make(const conf *c, const char *table_value,
                    struct tls_policy *pol, strbuf *err)
{
    const char *level = conf_get_str(c, "smtp_tls_security_level");

    if (table_value != NULL) {
        if (tls_policy_table(c, table_value, pol, err) < 0)
            return -1;
    } else if (tls_client_level_parse(level, &pol->level) < 0) {
        return tls_fail(err, "smtp_tls_security_level: unknown level "
                        "\"%.64s\"", level);
    } else if (tls_policy_defaults(c, pol, err) < 0) {
        return -1;
    }
    return tls_policy_check(c, pol, err);
}
