/*
 * smtp_hdrchk - smtp_header_checks on the way out (see smtp_hdrchk.h).
 *
 * Owns the per-message buffers (a line and a field, each bounded) and,
 * through smtp_hdrchk_open/close, the process's tables. Header text is
 * hostile: it is only matched and copied, and log lines show at most a
 * bounded, printable excerpt.
 */
#include <string.h>
#include <strings.h>

#include "common/msg.h"
#include "smtp/smtp_hdrchk.h"

/* What an action does to the field. */
enum hc_effect { HC_KEEP, HC_DROP, HC_REPLACE, HC_PREPEND, HC_UNSUPPORTED };

/* Actions: table word, log word (NULL = silent), effect. */
static const struct hc_action {
    const char *name;
    const char *logword;
    enum hc_effect effect;
} hc_actions[] = {
    {"DUNNO", NULL, HC_KEEP},
    {"OK", NULL, HC_KEEP},
    {"IGNORE", NULL, HC_DROP},
    {"WARN", "warning", HC_KEEP},
    {"INFO", "info", HC_KEEP},
    {"REPLACE", "replace", HC_REPLACE},
    {"PREPEND", "prepend", HC_PREPEND},
};

/* smtp_hdrchk_open - the tables, or NULL when the parameter is empty. */
int smtp_hdrchk_open(const conf *c, maplist **out, strbuf *why)
{
    const char *spec = conf_get_str(c, "smtp_header_checks");

    *out = NULL;
    if (spec[0] == '\0')
        return 0;
    if ((*out = maplist_open(spec, 0, why)) == NULL)
        return -1;
    return 0;
}

/* smtp_hdrchk_close - release the tables. */
void smtp_hdrchk_close(maplist *ml)
{
    maplist_close(ml);
}

/* smtp_hdrchk_init - a filter at the start of a message. */
void smtp_hdrchk_init(smtp_hdrchk *h, maplist *ml, const char *queue_id)
{
    h->ml = ml;
    h->queue_id = queue_id;
    h->in_header = ml != NULL;
    sb_init(&h->line, SMTP_HDRCHK_FIELD_MAX);
    sb_init(&h->field, SMTP_HDRCHK_FIELD_MAX);
    sb_init(&h->tmp, SB_NOLIMIT);
}

/* smtp_hdrchk_release - free the buffers. */
void smtp_hdrchk_release(smtp_hdrchk *h)
{
    sb_release(&h->line);
    sb_release(&h->field);
    sb_release(&h->tmp);
}

/* hc_is_field - does line start a header field ("Name:")? */
static bool hc_is_field(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n && s[i] > ' ' && s[i] < 0x7f && s[i] != ':')
        i++;
    return i > 0 && i < n && s[i] == ':';
}

/* hc_key - the lookup key: lines joined by "\n", no CR, no final LF. */
static void hc_key(const strbuf *field, strbuf *key)
{
    const char *s = sb_str(field);
    size_t n = sb_len(field);

    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
            continue;
        if (sb_putc(key, s[i]) < 0)
            return;
    }
}

/* hc_log - Postfix's "QUEUEID: action: header FIELD: text" line. */
static void hc_log(const smtp_hdrchk *h, const char *action, const char *key,
                   const char *text)
{
    strbuf shown;

    sb_init(&shown, 256);
    for (size_t i = 0; key[i] != '\0' && i < 60; i++)
        (void)sb_putc(&shown, key[i] >= ' ' && key[i] < 0x7f ? key[i] : ' ');
    if (text[0] != '\0')
        msg_info("%s: %s: header %s: %.200s", h->queue_id, action,
                 sb_str(&shown), text);
    else
        msg_info("%s: %s: header %s", h->queue_id, action, sb_str(&shown));
    sb_release(&shown);
}

/* hc_apply - one action on the field: what goes to out. */
static int hc_apply(smtp_hdrchk *h, const char *key, const char *result,
                    strbuf *out)
{
    size_t wl = strcspn(result, " \t");
    const char *text = result + wl + strspn(result + wl, " \t");
    const struct hc_action *a = NULL;

    for (size_t i = 0; i < sizeof(hc_actions) / sizeof(*hc_actions); i++)
        if (strlen(hc_actions[i].name) == wl
            && strncasecmp(result, hc_actions[i].name, wl) == 0)
            a = &hc_actions[i];
    if (a == NULL) {
        msg_warn("%s: unsupported action in smtp_header_checks map: %.100s",
                 h->queue_id, result);
        return sb_append(out, sb_str(&h->field), sb_len(&h->field));
    }
    if (a->logword != NULL)
        hc_log(h, a->logword, key, text);
    if (a->effect == HC_DROP || (a->effect == HC_REPLACE && text[0] == '\0'))
        return 0;
    if (a->effect == HC_REPLACE || a->effect == HC_PREPEND) {
        if (sb_puts(out, text) < 0 || sb_puts(out, "\r\n") < 0)
            return -1;
        if (a->effect == HC_REPLACE)
            return 0;
    }
    return sb_append(out, sb_str(&h->field), sb_len(&h->field));
}

/* hc_flush - check the collected field and emit it; -1 on lookup error. */
static int hc_flush(smtp_hdrchk *h, strbuf *out)
{
    strbuf key, result;
    int rc;

    if (sb_len(&h->field) == 0)
        return 0;
    sb_init(&key, SMTP_HDRCHK_FIELD_MAX);
    sb_init(&result, MAP_LINE_MAX);
    hc_key(&h->field, &key);
    rc = maplist_lookup(h->ml, sb_str(&key), &result);
    if (rc == MAP_FOUND)
        rc = hc_apply(h, sb_str(&key), sb_str(&result), out) < 0 ? -1 : 0;
    else if (rc == MAP_NOTFOUND)
        rc = sb_append(out, sb_str(&h->field), sb_len(&h->field));
    else
        msg_warn("%s: smtp_header_checks map lookup problem", h->queue_id);
    sb_reset(&h->field);
    sb_release(&key);
    sb_release(&result);
    return rc < 0 ? -1 : 0;
}

/* hc_end_header - the header is over: pending field, then line, verbatim. */
static int hc_end_header(smtp_hdrchk *h, strbuf *out)
{
    int rc = hc_flush(h, out);

    h->in_header = false;
    if (sb_append(out, sb_str(&h->line), sb_len(&h->line)) < 0)
        rc = -1;
    sb_reset(&h->line);
    return rc;
}

/* hc_line - one complete physical line of the header section. */
static int hc_line(smtp_hdrchk *h, strbuf *out)
{
    const char *s = sb_str(&h->line);
    size_t n = sb_len(&h->line);

    if ((s[0] == ' ' || s[0] == '\t') && sb_len(&h->field) > 0) {
        if (sb_append(&h->field, s, n) < 0)
            return hc_end_header(h, out);   /* too long: stop checking */
        sb_reset(&h->line);
        return 0;
    }
    if (!hc_is_field(s, n))
        return hc_end_header(h, out);       /* empty line, or the body */
    if (hc_flush(h, out) < 0)
        return -1;
    (void)sb_append(&h->field, s, n);       /* fits: same bound as line */
    sb_reset(&h->line);
    return 0;
}

/* smtp_hdrchk_feed - split into lines while in the header. */
int smtp_hdrchk_feed(smtp_hdrchk *h, const char *data, size_t len,
                     strbuf *out)
{
    size_t i = 0;

    while (i < len && h->in_header) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t n = nl != NULL ? (size_t)(nl - (data + i)) + 1 : len - i;

        if (sb_append(&h->line, data + i, n) < 0) {
            if (hc_end_header(h, out) < 0
                || sb_append(out, data + i, n) < 0)
                return -1;
        } else if (nl != NULL && hc_line(h, out) < 0) {
            return -1;
        }
        i += n;
    }
    return i < len && sb_append(out, data + i, len - i) < 0 ? -1 : 0;
}

/* smtp_hdrchk_finish - a last partial line, then the pending field. */
int smtp_hdrchk_finish(smtp_hdrchk *h, strbuf *out)
{
    if (!h->in_header)
        return 0;
    if (sb_len(&h->line) > 0 && hc_line(h, out) < 0)
        return -1;
    return h->in_header ? hc_end_header(h, out) : 0;
}

/* smtp_hdrchk_pass - filter then encode. */
int smtp_hdrchk_pass(smtp_hdrchk *h, smtp_body *enc, const char *data,
                     size_t len, strbuf *out)
{
    if (!h->in_header && sb_len(&h->line) == 0) {
        (void)smtp_body_feed(enc, data, len, out);
        return 0;
    }
    sb_reset(&h->tmp);
    if (smtp_hdrchk_feed(h, data, len, &h->tmp) < 0)
        return -1;
    (void)smtp_body_feed(enc, sb_str(&h->tmp), sb_len(&h->tmp), out);
    return 0;
}

/* smtp_hdrchk_pass_end - finish the filter, encode what it released. */
int smtp_hdrchk_pass_end(smtp_hdrchk *h, smtp_body *enc, strbuf *out)
{
    sb_reset(&h->tmp);
    if (smtp_hdrchk_finish(h, &h->tmp) < 0)
        return -1;
    (void)smtp_body_feed(enc, sb_str(&h->tmp), sb_len(&h->tmp), out);
    return 0;
}
