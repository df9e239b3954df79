/*
 * saslopt - SASL security option words to libsasl2 flags (see saslopt.h).
 * A table, case-insensitive; owns nothing, fails with -1 and a reason.
 */
#include <strings.h>

#include <sasl/sasl.h>

#include "common/saslopt.h"

/* The security option words. */
static const struct {
    const char *name;
    unsigned flag;
} sec_words[] = {
    {"noanonymous", SASL_SEC_NOANONYMOUS},
    {"noplaintext", SASL_SEC_NOPLAINTEXT},
    {"noactive", SASL_SEC_NOACTIVE},
    {"nodictionary", SASL_SEC_NODICTIONARY},
    {"mutual_auth", SASL_SEC_MUTUAL_AUTH},
    {"forward_secrecy", SASL_SEC_FORWARD_SECRECY},
};

/* saslopt_parse - option words to SASL_SEC_* flags. */
int saslopt_parse(const char *param, const char *const *words,
                  unsigned *flags, strbuf *err)
{
    *flags = 0;
    for (size_t i = 0; words != NULL && words[i] != NULL; i++) {
        size_t k = 0;

        while (k < sizeof(sec_words) / sizeof(sec_words[0])
               && strcasecmp(words[i], sec_words[k].name) != 0)
            k++;
        if (k == sizeof(sec_words) / sizeof(sec_words[0])) {
            sb_reset(err);
            (void)sb_printf(err, "%s: unknown SASL security option \"%s\"",
                            param, words[i]);
            return -1;
        }
        *flags |= sec_words[k].flag;
    }
    return 0;
}
