/*
 * conf_expand - $name expansion as Postfix's mac_expand does it.
 *
 * Forms: $name, ${name}, $(name), ${name?text} (text when name is not empty),
 * ${name:text} (text when name is empty), the 3.0 forms ${name?{text}},
 * ${name:{text}} and ${name?{a}:{b}}, and $$ for a literal '$'. A name that
 * is not defined expands to nothing. Each parameter is expanded once and
 * memoized in its slot; meeting a slot that is still being expanded is a
 * loop, reported with its chain ("$a -> $b -> $a"). Nesting, output size and
 * syntax are bounded: every problem is an error text, never a crash.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "conf/conf_private.h"

struct exp_state {
    const struct conf *c;
    const char *stack[CONF_DEPTH_MAX + 1];  /* names being expanded */
    size_t depth;
    int level;                  /* nested text expansions */
    bool loop;                  /* the error is a loop (has its own chain) */
};

static int exp_text(struct exp_state *x, const char *text, size_t len,
                    strbuf *out, strbuf *err);

/* exp_isname - a character of a parameter name. */
static bool exp_isname(int ch)
{
    return isalnum(ch) || ch == '_';
}

/* exp_find - the slot behind name and the text it expands; NULL = undefined. */
static struct conf_slot *exp_find(const struct conf *c, const char *name,
                                  const char **raw)
{
    ptrdiff_t i = conf_param_index(name);
    struct conf_entry *e = conf_table_find(&c->tab, name);

    if (e && e->ignored)
        e = NULL;
    if (i >= 0) {
        *raw = e ? e->value : c->pdef[i];
        return &c->pslot[i];
    }
    if (e) {
        *raw = e->value;
        return &c->eslot[e - c->tab.v];
    }
    i = conf_param_transport(c->root, name);
    if (i >= 0)
        return exp_find(c, conf_param_at((size_t)i)->name, raw);
    return NULL;
}

/* exp_loop - describe the chain from the first use of name to name. */
static void exp_loop(struct exp_state *x, const char *name, strbuf *err)
{
    size_t i = 0;

    while (i < x->depth && strcmp(x->stack[i], name) != 0)
        i++;
    (void)sb_puts(err, "macro expansion loop: ");
    for (; i < x->depth; i++)
        (void)sb_printf(err, "$%.100s -> ", x->stack[i]);
    (void)sb_printf(err, "$%.100s", name);
    x->loop = true;
}

/* exp_fill - expand a NEW slot's raw text and memoize the result. */
static int exp_fill(struct exp_state *x, struct conf_slot *slot,
                    const char *name, const char *raw, strbuf *err)
{
    strbuf tmp;
    int ret;

    if (x->depth >= CONF_DEPTH_MAX) {
        (void)sb_puts(err, "macro nesting too deep");
        return -1;
    }
    slot->state = SLOT_BUSY;
    x->stack[x->depth++] = name;
    sb_init(&tmp, CONF_VALUE_MAX);
    ret = exp_text(x, raw ? raw : "", raw ? strlen(raw) : 0, &tmp, err);
    x->depth--;
    if (ret < 0) {
        slot->state = SLOT_ERROR;
        slot->text = xstrdup(sb_str(err));
        sb_release(&tmp);
        return -1;
    }
    slot->state = SLOT_DONE;
    slot->text = sb_detach(&tmp);
    sb_release(&tmp);
    return 0;
}

/* exp_value - the expanded value of name ("" when undefined). */
static int exp_value(struct exp_state *x, const char *name, const char **value,
                     strbuf *err)
{
    const char *raw = NULL;
    struct conf_slot *slot = exp_find(x->c, name, &raw);

    *value = "";
    if (slot == NULL)
        return 0;
    switch (slot->state) {
    case SLOT_DONE:
        *value = slot->text;
        return 0;
    case SLOT_ERROR:
        (void)sb_set(err, slot->text);
        return -1;
    case SLOT_BUSY:
        exp_loop(x, name, err);
        return -1;
    case SLOT_NEW:
        break;
    }
    if (exp_fill(x, slot, name, raw, err) < 0)
        return -1;
    *value = slot->text;
    return 0;
}

/* exp_name_value - exp_value for a name given as pointer and length. */
static int exp_name_value(struct exp_state *x, const char *name, size_t len,
                          const char **value, strbuf *err)
{
    char *copy = xstrndup(name, len);
    strbuf sub;
    int ret;

    sb_init(&sub, 1024);
    ret = exp_value(x, copy, value, &sub);
    if (ret < 0) {
        if (x->loop)
            (void)sb_puts(err, sb_str(&sub));
        else
            (void)sb_printf(err, "in $%.100s: %s", copy, sb_str(&sub));
    }
    sb_release(&sub);
    free(copy);
    return ret;
}

/* exp_group - "{...}" after optional white space: its inside; NULL if none. */
static const char *exp_group(const char *p, const char *end, const char **in,
                             size_t *inlen)
{
    int level = 0;

    while (p < end && isspace((unsigned char)*p))
        p++;
    if (p == end || *p != '{')
        return NULL;
    for (const char *q = p; q < end; q++) {
        if (*q == '{') {
            level++;
        } else if (*q == '}' && --level == 0) {
            *in = p + 1;
            *inlen = (size_t)(q - p - 1);
            return q + 1;
        }
    }
    return NULL;
}

/* exp_braced - "{a}" (0) or "{a}:{b}" (1) after ?/: (3.0 form); -1 if not. */
static int exp_braced(const char *s, size_t len, const char **a, size_t *alen,
                      const char **b, size_t *blen)
{
    const char *end = s + len, *p;

    if ((p = exp_group(s, end, a, alen)) == NULL)
        return -1;
    while (p < end && isspace((unsigned char)*p))
        p++;
    if (p == end)
        return 0;
    if (*p != ':' || (p = exp_group(p + 1, end, b, blen)) == NULL)
        return -1;
    while (p < end && isspace((unsigned char)*p))
        p++;
    return p == end ? 1 : -1;
}

/* exp_expr - the inside of ${...}: name, name?text or name:text. */
static int exp_expr(struct exp_state *x, const char *s, size_t len,
                    strbuf *out, strbuf *err)
{
    const char *value, *a, *b = NULL;
    size_t n = 0, alen, blen = 0;
    int form;

    while (n < len && exp_isname((unsigned char)s[n]))
        n++;
    if (n == 0 || (n < len && s[n] != '?' && s[n] != ':')) {
        (void)sb_printf(err, "bad macro expression '${%.*s}'",
                        (int)(len > 100 ? 100 : len), s);
        return -1;
    }
    if (exp_name_value(x, s, n, &value, err) < 0)
        return -1;
    if (n == len) {
        if (sb_puts(out, value) < 0) {
            (void)sb_puts(err, "value too long after expansion");
            return -1;
        }
        return 0;
    }
    a = s + n + 1;
    alen = len - n - 1;
    form = exp_braced(a, alen, &a, &alen, &b, &blen);
    if (form == 1 && s[n] != '?') {
        (void)sb_printf(err, "bad macro expression '${%.*s}'",
                        (int)(len > 100 ? 100 : len), s);
        return -1;
    }
    if (form < 0) {
        a = s + n + 1;
        alen = len - n - 1;
        b = NULL;
    }
    if ((s[n] == '?') == (*value != '\0'))
        return exp_text(x, a, alen, out, err);
    return b ? exp_text(x, b, blen, out, err) : 0;
}

/* exp_dollar - one reference starting after '$'; *used = bytes consumed. */
static int exp_dollar(struct exp_state *x, const char *p, size_t len,
                      size_t *used, strbuf *out, strbuf *err)
{
    const char *value;
    size_t n = 0;
    int level = 1;

    if (len > 0 && (p[0] == '{' || p[0] == '(')) {
        char open = p[0], close = open == '{' ? '}' : ')';

        for (n = 1; n < len && level > 0; n++) {
            if (p[n] == open)
                level++;
            else if (p[n] == close)
                level--;
        }
        if (level > 0) {
            (void)sb_printf(err, "truncated macro reference '$%.*s'",
                            (int)(len > 100 ? 100 : len), p);
            return -1;
        }
        *used = n;
        return exp_expr(x, p + 1, n - 2, out, err);
    }
    while (n < len && exp_isname((unsigned char)p[n]))
        n++;
    if (n == 0) {
        (void)sb_puts(err, "empty macro name after '$' (write $$ for a '$')");
        return -1;
    }
    *used = n;
    if (exp_name_value(x, p, n, &value, err) < 0)
        return -1;
    if (sb_puts(out, value) < 0) {
        (void)sb_puts(err, "value too long after expansion");
        return -1;
    }
    return 0;
}

/* exp_text - expand len bytes of text into out. */
static int exp_text(struct exp_state *x, const char *text, size_t len,
                    strbuf *out, strbuf *err)
{
    size_t i = 0;
    int ret = 0;

    if (++x->level > CONF_DEPTH_MAX) {
        (void)sb_puts(err, "macro nesting too deep");
        x->level--;
        return -1;
    }
    while (i < len && ret == 0) {
        const char *d = memchr(text + i, '$', len - i);
        size_t lit = d ? (size_t)(d - text) - i : len - i, used = 0;

        if (sb_append(out, text + i, lit) < 0) {
            (void)sb_puts(err, "value too long after expansion");
            ret = -1;
            break;
        }
        i += lit;
        if (i >= len)
            break;
        if (i + 1 < len && text[i + 1] == '$') {
            if (sb_putc(out, '$') < 0) {
                (void)sb_puts(err, "value too long after expansion");
                ret = -1;
            }
            i += 2;
            continue;
        }
        ret = exp_dollar(x, text + i + 1, len - i - 1, &used, out, err);
        i += 1 + used;
    }
    x->level--;
    return ret;
}

/* conf_slot_get - the expanded value of name, expanding it if needed. */
int conf_slot_get(struct conf *c, const char *name, const char **value,
                  strbuf *err)
{
    struct exp_state x = {.c = c};

    return exp_value(&x, name, value, err);
}

/* conf_expand - expand text with the values of c. */
int conf_expand(const conf *c, const char *text, strbuf *out, strbuf *err)
{
    struct exp_state x = {.c = c};

    return exp_text(&x, text, strlen(text), out, err);
}

/* conf_lookup_raw - what name expands from, as written. */
const char *conf_lookup_raw(const struct conf *c, const char *name)
{
    const char *raw = NULL;

    return exp_find(c, name, &raw) ? raw : NULL;
}

/* scan_text - report every name referenced in text (bounded nesting). */
static void scan_text(const char *p, const char *end, int level,
                      void (*fn)(const char *, size_t, void *), void *ctx)
{
    while (level < CONF_DEPTH_MAX && (p = memchr(p, '$', (size_t)(end - p)))) {
        size_t n = 0;

        if (++p >= end)
            return;
        if (*p == '$') {
            p++;
            continue;
        }
        if (*p == '{' || *p == '(') {
            char open = *p, close = open == '{' ? '}' : ')';
            const char *q = p + 1;
            int depth = 1;

            for (; q < end && depth > 0; q++)
                depth += (*q == open) - (*q == close);
            if (depth > 0)
                return;
            while (p + 1 + n < q - 1 && exp_isname((unsigned char)p[1 + n]))
                n++;
            if (n > 0)
                fn(p + 1, n, ctx);
            if (p + 1 + n < q - 1)
                scan_text(p + 2 + n, q - 1, level + 1, fn, ctx);
            p = q;
            continue;
        }
        while (p + n < end && exp_isname((unsigned char)p[n]))
            n++;
        if (n > 0)
            fn(p, n, ctx);
        p += n;
    }
}

void conf_scan_refs(const char *text,
                    void (*fn)(const char *name, size_t len, void *ctx),
                    void *ctx)
{
    scan_text(text, text + strlen(text), 0, fn, ctx);
}
