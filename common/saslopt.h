/*
 * saslopt - Postfix's SASL security option words (noanonymous,
 * noplaintext, noactive, nodictionary, mutual_auth, forward_secrecy) as
 * libsasl2 SASL_SEC_* flags, for smtpd_sasl_*_security_options (server)
 * and smtp_sasl_*_security_options (client).
 *
 * Pure: an unknown word is -1 with a reason naming the parameter and the
 * word; nothing else changes.
 */
#ifndef TERN_SASLOPT_H
#define TERN_SASLOPT_H

#include "common/strbuf.h"

/*
 * saslopt_parse - the words of param's value (a NULL-terminated list,
 * NULL = empty) as SASL_SEC_* flags. 0, or -1 with err naming the word.
 */
int saslopt_parse(const char *param, const char *const *words,
                  unsigned *flags, strbuf *err);

#endif
