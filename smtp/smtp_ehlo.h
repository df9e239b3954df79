/*
 * smtp_ehlo - the server features an EHLO/LHLO reply announces.
 *
 * Parses the lines after the first of a 250 reply into a feature set:
 * keywords are case-insensitive, unknown ones are ignored, a SIZE without a
 * usable number (or 0) means "no limit announced". Pure and bounded: it
 * reads only the reply text.
 */
#ifndef TERN_SMTP_EHLO_H
#define TERN_SMTP_EHLO_H

#include <stdint.h>

#include "smtp/smtp_reply.h"

#define SMTP_FEAT_PIPELINING  (1u << 0)
#define SMTP_FEAT_SIZE        (1u << 1)
#define SMTP_FEAT_8BITMIME    (1u << 2)
#define SMTP_FEAT_SMTPUTF8    (1u << 3)
#define SMTP_FEAT_DSN         (1u << 4)
#define SMTP_FEAT_STARTTLS    (1u << 5)
#define SMTP_FEAT_AUTH        (1u << 6)
#define SMTP_FEAT_ENHANCED    (1u << 7)     /* ENHANCEDSTATUSCODES */

typedef struct smtp_features {
    unsigned flags;             /* SMTP_FEAT_* */
    uint64_t size_limit;        /* SIZE n; 0 = none announced */
} smtp_features;

/* smtp_ehlo_parse - the features of a 2xx EHLO/LHLO reply. */
void smtp_ehlo_parse(const smtp_reply *r, smtp_features *f);

#endif
