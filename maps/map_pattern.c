/*
 * map_pattern - regexp: (POSIX ERE) and pcre: (PCRE2) tables.
 *
 * Both read the file syntax of regexp_table(5)/pcre_table(5): lines
 * "/pattern/flags result", "!/pattern/flags result" (negation; no $n),
 * "if /pattern/flags" ... "endif" (nesting), '#' comments, continuation by
 * leading white space, any non-alphanumeric delimiter. Results may use $1..
 * $N, ${N}, $(N) and $$. Case-insensitive matching is the default; the
 * 'i' flag toggles it. Keys are matched as given (no partial keys).
 *
 * The file is read at the first lookup and again when it changes. A hard
 * error (bad regular expression, unterminated pattern, unknown flag, bad
 * $N) makes the whole table fail with MAP_ERROR naming file:line: mail
 * waits instead of being handled by half a table. "if" without "endif"
 * and a stray "endif" are warnings, as in Postfix.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/msg.h"
#include "common/xalloc.h"
#include "maps/map_int.h"

enum rule_kind { RULE_MATCH, RULE_IF, RULE_ENDIF };

struct rule {
    enum rule_kind kind;
    bool negate;
    bool compiled;
    int line;
    size_t skip;                /* IF: index after its ENDIF */
    size_t nsub;                /* capture groups */
    char *result;               /* MATCH */
    regex_t re;                 /* regexp: */
    pcre2_code *pc;             /* pcre: */
};

struct pat_table {
    struct rule *v;
    size_t n;
    size_t maxsub;
    size_t *ov;                 /* 2 * (maxsub + 1) offsets, SIZE_MAX unset */
    regmatch_t *pm;             /* regexp: maxsub + 1 */
    pcre2_match_data *md;       /* pcre: */
};

struct flag_def {
    char c;
    int bit;
};

/* One regular-expression engine: its flags, compiler and matcher. */
struct pat_engine {
    const char *name;
    int defaults;
    const struct flag_def *flags;
    int (*compile)(struct rule *r, const char *pat, int opts, strbuf *why);
    int (*match)(struct pat_table *t, const struct rule *r, const char *key,
                 strbuf *why);
    void (*release)(struct rule *r);
};

static const struct flag_def regexp_flags[] = {
    {'i', REG_ICASE}, {'x', REG_EXTENDED}, {'m', REG_NEWLINE}, {0, 0},
};

static const struct flag_def pcre_flags[] = {
    {'i', PCRE2_CASELESS}, {'m', PCRE2_MULTILINE}, {'s', PCRE2_DOTALL},
    {'x', PCRE2_EXTENDED}, {'A', PCRE2_ANCHORED}, {'E', PCRE2_DOLLAR_ENDONLY},
    {'U', PCRE2_UNGREEDY}, {'X', 0}, {0, 0},
};

/* regexp_compile - regcomp with the rule's flags. */
static int regexp_compile(struct rule *r, const char *pat, int opts,
                          strbuf *why)
{
    int e = regcomp(&r->re, pat, opts);

    if (e != 0) {
        char text[256];

        regerror(e, &r->re, text, sizeof(text));
        sb_printf(why, "bad regular expression /%s/: %s", pat, text);
        return -1;
    }
    r->compiled = true;
    r->nsub = r->re.re_nsub;
    return 0;
}

/* regexp_match - 1 match (offsets in t->ov), 0 no match. */
static int regexp_match(struct pat_table *t, const struct rule *r,
                        const char *key, strbuf *why)
{
    (void)why;
    if (regexec(&r->re, key, r->nsub + 1, t->pm, 0) != 0)
        return 0;
    for (size_t i = 0; i <= r->nsub; i++) {
        t->ov[2 * i] = t->pm[i].rm_so < 0 ? SIZE_MAX : (size_t)t->pm[i].rm_so;
        t->ov[2 * i + 1] = t->pm[i].rm_eo < 0 ? SIZE_MAX
            : (size_t)t->pm[i].rm_eo;
    }
    return 1;
}

/* regexp_release - free a compiled rule. */
static void regexp_release(struct rule *r)
{
    regfree(&r->re);
}

/* pcre_compile_rule - pcre2_compile with the rule's flags. */
static int pcre_compile_rule(struct rule *r, const char *pat, int opts,
                             strbuf *why)
{
    int code;
    PCRE2_SIZE off;
    uint32_t count;

    r->pc = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                          (uint32_t)opts, &code, &off, NULL);
    if (r->pc == NULL) {
        PCRE2_UCHAR text[256];

        if (pcre2_get_error_message(code, text, sizeof(text)) < 0)
            text[0] = '\0';
        sb_printf(why, "bad regular expression /%s/ at offset %zu: %s", pat,
                  (size_t)off, (const char *)text);
        return -1;
    }
    r->compiled = true;
    if (pcre2_pattern_info(r->pc, PCRE2_INFO_CAPTURECOUNT, &count) < 0)
        count = 0;
    r->nsub = count;
    return 0;
}

/* pcre_match_rule - 1 match (offsets in t->ov), 0 none, -1 match error. */
static int pcre_match_rule(struct pat_table *t, const struct rule *r,
                           const char *key, strbuf *why)
{
    int rc = pcre2_match(r->pc, (PCRE2_SPTR)key, strlen(key), 0, 0, t->md,
                         NULL);
    PCRE2_SIZE *ov;

    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc < 0) {
        PCRE2_UCHAR text[256];

        if (pcre2_get_error_message(rc, text, sizeof(text)) < 0)
            text[0] = '\0';
        sb_printf(why, "line %d: matching failed: %s", r->line,
                  (const char *)text);
        return -1;
    }
    ov = pcre2_get_ovector_pointer(t->md);
    for (size_t i = 0; i <= r->nsub; i++) {
        bool set = i < (size_t)rc && ov[2 * i] != PCRE2_UNSET;

        t->ov[2 * i] = set ? ov[2 * i] : SIZE_MAX;
        t->ov[2 * i + 1] = set ? ov[2 * i + 1] : SIZE_MAX;
    }
    return 1;
}

/* pcre_release - free a compiled rule. */
static void pcre_release(struct rule *r)
{
    pcre2_code_free(r->pc);
}

static const struct pat_engine regexp_engine = {
    "regexp", REG_EXTENDED | REG_ICASE, regexp_flags, regexp_compile,
    regexp_match, regexp_release,
};

static const struct pat_engine pcre_engine = {
    "pcre", PCRE2_CASELESS, pcre_flags, pcre_compile_rule, pcre_match_rule,
    pcre_release,
};

/* table_free - release a loaded table. */
static void table_free(const struct pat_engine *e, struct pat_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].compiled)
            e->release(&t->v[i]);
        free(t->v[i].result);
    }
    free(t->v);
    free(t->ov);
    free(t->pm);
    pcre2_match_data_free(t->md);
    free(t);
}

/* ref_index - parse $N, ${N} or $(N) at p (after '$'); -1 when not one.
 * *len gets the length consumed. -2 for a non-numeric name. */
static long ref_index(const char *p, size_t *len)
{
    char close = 0;
    const char *q = p;
    long n = 0;

    if (*q == '{' || *q == '(') {
        close = *q == '{' ? '}' : ')';
        q++;
    }
    if (!isdigit((unsigned char)*q))
        return isalpha((unsigned char)*q) || *q == '_' ? -2 : -1;
    while (isdigit((unsigned char)*q) && n < 100000)
        n = n * 10 + (*q++ - '0');
    if (close != 0 && *q++ != close)
        return -2;
    *len = (size_t)(q - p);
    return n;
}

/* check_result - validate the $ references of a result; NULL if fine. */
static const char *check_result(const char *res, const struct rule *r)
{
    for (const char *p = res; (p = strchr(p, '$')) != NULL;) {
        size_t len = 0;
        long n;

        if (p[1] == '$') {
            p += 2;
            continue;
        }
        n = ref_index(p + 1, &len);
        if (n == -2)
            return "non-numeric replacement index after '$' (write $$ for a"
                " literal '$')";
        if (n >= 0 && r->negate)
            return "$N substitution is not possible with a negated pattern";
        if (n >= 0 && (n == 0 || (size_t)n > r->nsub))
            return "replacement index $N is out of range for the pattern";
        p += 1 + len;
    }
    return NULL;
}

/* expand - the result with $N replaced by the matched text. */
static int expand(const struct pat_table *t, const struct rule *r,
                  const char *key, strbuf *out)
{
    for (const char *p = r->result; *p; p++) {
        size_t len = 0;
        long n;

        if (*p != '$') {
            if (sb_putc(out, *p) < 0)
                return -1;
            continue;
        }
        if (p[1] == '$') {
            if (sb_putc(out, '$') < 0)
                return -1;
            p++;
            continue;
        }
        n = ref_index(p + 1, &len);
        if (n <= 0) {
            if (sb_putc(out, '$') < 0)
                return -1;
            continue;
        }
        if (t->ov[2 * n] != SIZE_MAX
            && sb_append(out, key + t->ov[2 * n],
                         t->ov[2 * n + 1] - t->ov[2 * n]) < 0)
            return -1;
        p += len;
    }
    return 0;
}

/* parse_flags - apply flag letters to opts; NULL or the error text. */
static const char *parse_flags(const struct pat_engine *e, const char *f,
                               size_t n, int *opts, strbuf *why)
{
    for (size_t i = 0; i < n; i++) {
        const struct flag_def *d = e->flags;

        while (d->c != 0 && d->c != f[i])
            d++;
        if (d->c == 0) {
            sb_reset(why);
            sb_printf(why, "unknown %s flag '%c' after the pattern", e->name,
                      f[i]);
            return why->data;
        }
        *opts ^= d->bit;
    }
    return NULL;
}

/* parse_pattern - "[!]/re/flags" at *pp into r; NULL or the error text. */
static const char *parse_pattern(const struct pat_engine *e, char **pp,
                                 struct rule *r, strbuf *why)
{
    char *p = *pp, delim, *pat, *end, *flags;
    int opts = e->defaults;
    const char *msg;

    if (*p == '!') {
        r->negate = true;
        p++;
    }
    delim = *p;
    if (delim == '\0' || isalnum((unsigned char)delim) || delim == '\\'
        || isspace((unsigned char)delim))
        return "expected /pattern/ (a delimiter such as '/')";
    pat = ++p;
    for (; *p && *p != delim; p++)
        if (*p == '\\' && p[1] != '\0')
            p++;
    if (*p != delim)
        return "unterminated pattern (no closing delimiter)";
    end = p++;
    for (flags = p; *p && !isspace((unsigned char)*p); p++)
        ;
    if ((msg = parse_flags(e, flags, (size_t)(p - flags), &opts, why))
        != NULL)
        return msg;
    *end = '\0';
    if (e->compile(r, pat, opts, why) < 0)
        return why->data;
    while (isspace((unsigned char)*p))
        p++;
    *pp = p;
    return NULL;
}

/* keyword - true when line starts with word followed by space or end. */
static bool keyword(const char *line, const char *word)
{
    size_t n = strlen(word);

    return strncasecmp(line, word, n) == 0
        && (line[n] == '\0' || isspace((unsigned char)line[n]));
}

/* parse_line - one logical line into r; NULL or the error text. */
static const char *parse_line(const struct pat_engine *e, char *line,
                              struct rule *r, const map_src *src, strbuf *why)
{
    const char *msg;

    if (keyword(line, "endif")) {
        r->kind = RULE_ENDIF;
        if (line[5] != '\0')
            msg_warn("%s:%d: ignoring text after endif", src->path, r->line);
        return NULL;
    }
    if (keyword(line, "if")) {
        r->kind = RULE_IF;
        line += 2;
        while (isspace((unsigned char)*line))
            line++;
        if ((msg = parse_pattern(e, &line, r, why)) != NULL)
            return msg;
        if (*line != '\0')
            msg_warn("%s:%d: ignoring text after if pattern", src->path,
                     r->line);
        return NULL;
    }
    r->kind = RULE_MATCH;
    if ((msg = parse_pattern(e, &line, r, why)) != NULL)
        return msg;
    if (*line == '\0')
        msg_warn("%s:%d: no result after the pattern; using empty string",
                 src->path, r->line);
    r->result = xstrdup(line);
    return check_result(r->result, r);
}

/* close_ifs - give every IF its skip target; warn on imbalance. */
static int close_ifs(struct pat_table *t, const map_src *src, strbuf *warn)
{
    size_t *stack = xcalloc(t->n + 1, sizeof(*stack)), depth = 0;
    int warned = 0;

    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].kind == RULE_IF) {
            stack[depth++] = i;
        } else if (t->v[i].kind == RULE_ENDIF) {
            if (depth == 0) {
                msg_warn("%s:%d: ignoring endif without matching if",
                         src->path, t->v[i].line);
                warned++;
                continue;
            }
            t->v[stack[--depth]].skip = i + 1;
        }
    }
    while (depth > 0) {
        struct rule *r = &t->v[stack[--depth]];

        r->skip = t->n;
        msg_warn("%s:%d: if without endif (ends at end of file)", src->path,
                 r->line);
        if (warned++ == 0 && warn != NULL) {
            sb_reset(warn);
            sb_printf(warn, "%s:%d: if without endif", src->path, r->line);
        }
    }
    free(stack);
    return warned;
}

/* table_read - every line of the source; NULL with err on a hard error. */
static struct pat_table *table_read(const struct pat_engine *e, map_src *src,
                                    strbuf *err)
{
    struct pat_table *t = xcalloc(1, sizeof(*t));
    strbuf why;
    int r;

    sb_init(&why, 1024);
    while ((r = map_src_next(src, err)) > 0) {
        struct rule *rule;
        const char *msg;

        t->v = xreallocarray(t->v, t->n + 1, sizeof(*t->v));
        rule = memset(&t->v[t->n++], 0, sizeof(*rule));
        rule->line = src->start;
        sb_reset(&why);
        if ((msg = parse_line(e, src->line.data, rule, src, &why)) != NULL) {
            sb_reset(err);
            sb_printf(err, "%s:%d: %s", src->path, rule->line, msg);
            r = -1;
            break;
        }
        if (rule->nsub > t->maxsub)
            t->maxsub = rule->nsub;
    }
    sb_release(&why);
    if (r < 0) {
        table_free(e, t);
        return NULL;
    }
    return t;
}

/* table_load - read and prepare a table; warnings counted into *nwarn. */
static struct pat_table *table_load(const struct pat_engine *e,
                                    const char *path, strbuf *err,
                                    strbuf *warn, int *nwarn)
{
    struct pat_table *t;
    map_src src;

    if (map_src_open(&src, path, err) < 0)
        return NULL;
    t = table_read(e, &src, err);
    if (t != NULL) {
        *nwarn = close_ifs(t, &src, warn);
        t->ov = xcalloc(2 * (t->maxsub + 1), sizeof(*t->ov));
        t->pm = xcalloc(t->maxsub + 1, sizeof(*t->pm));
        if (e == &pcre_engine
            && (t->md = pcre2_match_data_create((uint32_t)t->maxsub + 1,
                                                NULL)) == NULL)
            msg_fatal("pcre2_match_data_create: out of memory");
    }
    map_src_close(&src);
    return t;
}

/* table_match - evaluate the rules against key; enum map_result. */
static int table_match(const struct pat_engine *e, struct pat_table *t,
                       const char *key, strbuf *result, strbuf *why)
{
    for (size_t i = 0; i < t->n;) {
        const struct rule *r = &t->v[i];
        int m;

        if (r->kind == RULE_ENDIF) {
            i++;
            continue;
        }
        if ((m = e->match(t, r, key, why)) < 0)
            return MAP_ERROR;
        if (r->kind == RULE_IF) {
            i = (m != r->negate) ? i + 1 : r->skip;
            continue;
        }
        if (m != r->negate) {
            if (expand(t, r, key, result) < 0) {
                sb_printf(why, "line %d: result too long", r->line);
                return MAP_ERROR;
            }
            return MAP_FOUND;
        }
        i++;
    }
    return MAP_NOTFOUND;
}

struct pat_state {
    const struct pat_engine *engine;
    struct pat_table *table;
    map_stamp stamp;
};

/* pat_open - state only; the file is read at the first lookup. */
static int pat_open_engine(map *m, strbuf *err, const struct pat_engine *e)
{
    struct pat_state *st = xcalloc(1, sizeof(*st));

    st->engine = e;
    m->impl = st;
    if (*m->name == '\0') {
        sb_reset(err);
        sb_printf(err, "table %s: missing file name", m->spec);
        return -1;
    }
    return 0;
}

/* regexp_open - a regexp: table. */
static int regexp_open(map *m, strbuf *err)
{
    return pat_open_engine(m, err, &regexp_engine);
}

/* pcre_open - a pcre: table. */
static int pcre_open(map *m, strbuf *err)
{
    return pat_open_engine(m, err, &pcre_engine);
}

/* pat_lookup - reload when changed, then match the full key. */
static int pat_lookup(map *m, const char *key, strbuf *result)
{
    struct pat_state *st = m->impl;
    map_stamp now;
    strbuf why;
    int r, nwarn;

    sb_init(&why, 1024);
    if (map_stamp_get(m->name, &now, &why) < 0)
        goto error;
    if (st->table == NULL || !map_stamp_same(&st->stamp, &now)) {
        table_free(st->engine, st->table);
        st->stamp.valid = false;
        st->table = table_load(st->engine, m->name, &why, NULL, &nwarn);
        if (st->table == NULL)
            goto error;
        st->stamp = now;
    }
    r = table_match(st->engine, st->table, key, result, &why);
    if (r == MAP_ERROR)
        goto error;
    sb_release(&why);
    return r;
error:
    map_set_error(m, &why);
    sb_release(&why);
    return MAP_ERROR;
}

/* pat_check - parse the file; 1 when it only has warnings. */
static int pat_check(map *m, strbuf *err)
{
    struct pat_state *st = m->impl;
    int nwarn = 0;
    struct pat_table *t = table_load(st->engine, m->name, err, err, &nwarn);

    if (t == NULL)
        return -1;
    table_free(st->engine, t);
    return nwarn > 0 ? 1 : 0;
}

/* pat_close - release state. */
static void pat_close(map *m)
{
    struct pat_state *st = m->impl;

    if (st == NULL)
        return;
    table_free(st->engine, st->table);
    free(st);
}

const struct map_ops map_regexp_ops = {
    "regexp", true, regexp_open, pat_lookup, pat_check, pat_close,
};

const struct map_ops map_pcre_ops = {
    "pcre", true, pcre_open, pat_lookup, pat_check, pat_close,
};
