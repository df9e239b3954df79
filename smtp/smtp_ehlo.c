/*
 * smtp_ehlo - EHLO keyword parsing (see smtp_ehlo.h). A table maps
 * keywords to feature bits; nothing here allocates or fails.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp_ehlo.h"

static const struct {
    const char *name;
    unsigned flag;
} smtp_ehlo_table[] = {
    {"PIPELINING", SMTP_FEAT_PIPELINING},
    {"SIZE", SMTP_FEAT_SIZE},
    {"8BITMIME", SMTP_FEAT_8BITMIME},
    {"SMTPUTF8", SMTP_FEAT_SMTPUTF8},
    {"DSN", SMTP_FEAT_DSN},
    {"STARTTLS", SMTP_FEAT_STARTTLS},
    {"AUTH", SMTP_FEAT_AUTH},
    {"ENHANCEDSTATUSCODES", SMTP_FEAT_ENHANCED},
};

/* ehlo_size - the number after SIZE, 0 when absent or unusable. */
static uint64_t ehlo_size(const char *p, size_t len)
{
    uint64_t v = 0;
    size_t i = 0;

    while (i < len && p[i] == ' ')
        i++;
    for (; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
        if (v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    return i == len || p[i] == ' ' ? v : 0;
}

/* ehlo_keyword - one "KEYWORD params" line. */
static void ehlo_keyword(const char *p, size_t len, smtp_features *f)
{
    size_t kw = 0;

    while (kw < len && p[kw] != ' ' && p[kw] != '=')
        kw++;
    for (size_t i = 0; i < sizeof(smtp_ehlo_table) / sizeof(smtp_ehlo_table[0]); i++) {
        if (strlen(smtp_ehlo_table[i].name) != kw
            || strncasecmp(p, smtp_ehlo_table[i].name, kw) != 0)
            continue;
        f->flags |= smtp_ehlo_table[i].flag;
        if (smtp_ehlo_table[i].flag == SMTP_FEAT_SIZE)
            f->size_limit = ehlo_size(p + kw, len - kw);
    }
}

/* smtp_ehlo_parse - every line but the greeting line is a keyword line. */
void smtp_ehlo_parse(const smtp_reply *r, smtp_features *f)
{
    const char *s = sb_str(&r->text), *end = s + sb_len(&r->text);
    const char *nl = memchr(s, '\n', (size_t)(end - s));

    f->flags = 0;
    f->size_limit = 0;
    while (nl != NULL) {
        const char *line = nl + 1;

        nl = memchr(line, '\n', (size_t)(end - line));
        size_t len = (size_t)((nl ? nl : end) - line);

        if (len > 4)
            ehlo_keyword(line + 4, len - 4, f);
    }
}
