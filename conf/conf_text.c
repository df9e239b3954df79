/*
 * conf_text - the text layer of main.cf and master.cf.
 *
 * Reads a configuration file whole (bounded by CONF_FILE_MAX), splits it into
 * Postfix logical lines (comments and blank lines skipped anywhere, a line
 * that starts with white space continues the previous one, each logical line
 * bounded by CONF_LINE_MAX), splits "name = value", lists (commas and/or
 * white space, "{ ... }" groups kept whole) and master.cf fields. Nothing
 * here logs: problems come back as flags or error text for the caller to
 * report with file and line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "conf/conf_private.h"

/* conf_isspace - Postfix's white space (no locale). */
static bool conf_isspace(int ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\f'
        || ch == '\v';
}

/* conf_read_fd - read an open file into out; -1 + err when too large. */
static int conf_read_fd(int fd, const char *path, strbuf *out, strbuf *err)
{
    char buf[8192];

    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            (void)sb_printf(err, "read %s: %s", path, strerror(errno));
            return -1;
        }
        if (n == 0)
            return 0;
        if (sb_append(out, buf, (size_t)n) < 0) {
            (void)sb_printf(err, "%s: file too large (more than %d bytes)",
                            path, CONF_FILE_MAX);
            return -1;
        }
    }
}

/* conf_read_file - the whole file into out, bounded by CONF_FILE_MAX. */
int conf_read_file(const char *path, strbuf *out, strbuf *err)
{
    struct stat st;
    int fd, ret;

    sb_reset(out);
    out->max = CONF_FILE_MAX;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        (void)sb_printf(err, "open %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        (void)sb_printf(err, "%s: not a regular file", path);
        (void)close(fd);
        return -1;
    }
    ret = conf_read_fd(fd, path, out, err);
    (void)close(fd);
    return ret;
}

void conf_reader_init(struct conf_reader *r, const char *path,
                      const char *buf, size_t len)
{
    r->path = path;
    r->buf = buf;
    r->len = len;
    r->pos = 0;
    r->lineno = 0;
}

/* conf_line_skippable - blank, white space only, or a comment. */
static bool conf_line_skippable(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n && conf_isspace((unsigned char)s[i]))
        i++;
    return i == n || s[i] == '#';
}

/* conf_line_add - append one physical line to the logical line. */
static void conf_line_add(struct conf_line *l, const char *s, size_t n,
                          int lineno)
{
    if (n > 0 && s[n - 1] == '\r')      /* CRLF files from other editors */
        n--;
    if (memchr(s, '\0', n) != NULL && !(l->flags & CONF_LINE_NUL)) {
        l->flags |= CONF_LINE_NUL;
        l->nul_line = lineno;
    }
    if (!(l->flags & CONF_LINE_LONG) && sb_append(&l->text, s, n) < 0)
        l->flags |= CONF_LINE_LONG;
}

/* conf_reader_next - the next logical line, as Postfix's readlline. */
bool conf_reader_next(struct conf_reader *r, struct conf_line *l)
{
    bool have = false;

    sb_reset(&l->text);
    l->flags = 0;
    l->line = l->nul_line = 0;
    while (r->pos < r->len) {
        const char *s = r->buf + r->pos;
        const char *nl = memchr(s, '\n', r->len - r->pos);
        size_t n = nl ? (size_t)(nl - s) : r->len - r->pos;
        bool skip = conf_line_skippable(s, n);

        if (have && !skip && !conf_isspace((unsigned char)s[0]))
            break;                      /* the next logical line starts */
        r->pos += n + (nl ? 1 : 0);
        r->lineno++;
        if (skip)
            continue;
        if (!have) {
            have = true;
            l->line = r->lineno;
            if (conf_isspace((unsigned char)s[0]))
                l->flags |= CONF_LINE_ORPHAN;
        }
        conf_line_add(l, s, n, r->lineno);
    }
    return have;
}

/* conf_split_nameval - "name = value": name up to white space or '='. */
int conf_split_nameval(const char *text, strbuf *name, strbuf *value,
                       strbuf *err)
{
    const char *p = text, *start;
    size_t n;

    while (conf_isspace((unsigned char)*p))
        p++;
    start = p;
    while (*p && *p != '=' && !conf_isspace((unsigned char)*p))
        p++;
    if (p == start) {
        (void)sb_puts(err, "missing parameter name before '='");
        return -1;
    }
    sb_reset(name);
    if (sb_append(name, start, (size_t)(p - start)) < 0) {
        (void)sb_puts(err, "parameter name too long");
        return -1;
    }
    while (conf_isspace((unsigned char)*p))
        p++;
    if (*p != '=') {
        (void)sb_printf(err, "missing '=' after parameter name '%.100s'",
                        sb_str(name));
        return -1;
    }
    p++;
    while (conf_isspace((unsigned char)*p))
        p++;
    n = strlen(p);
    while (n > 0 && conf_isspace((unsigned char)p[n - 1]))
        n--;
    sb_reset(value);
    if (sb_append(value, p, n) < 0) {
        (void)sb_puts(err, "value too long");
        return -1;
    }
    return 0;
}

/* conf_group_end - past the '}' that closes the '{' at p; NULL if none. */
static const char *conf_group_end(const char *p)
{
    int level = 0;

    for (; *p; p++) {
        if (*p == '{')
            level++;
        else if (*p == '}' && --level == 0)
            return p + 1;
    }
    return NULL;
}

/* conf_token_end - end of a token that stops at any byte in seps. */
static const char *conf_token_end(const char *p, const char *seps,
                                  strbuf *err)
{
    while (*p && strchr(seps, *p) == NULL) {
        if (*p == '{') {
            const char *e = conf_group_end(p);

            if (e == NULL) {
                (void)sb_printf(err, "missing '}' in \"%.100s\"", p);
                return NULL;
            }
            p = e;
        } else if (*p == '}') {
            (void)sb_printf(err, "unexpected '}' in \"%.100s\"", p);
            return NULL;
        } else {
            p++;
        }
    }
    return p;
}

/* conf_split_list - items separated by commas and/or white space. */
char **conf_split_list(const char *value, strbuf *err)
{
    static const char seps[] = ", \t\r\n\f\v";
    char **list = xcalloc(1, sizeof(*list));
    size_t n = 0;
    const char *p = value;

    for (;;) {
        const char *end;

        p += strspn(p, seps);
        if (*p == '\0')
            return list;
        if ((end = conf_token_end(p, seps, err)) == NULL) {
            conf_list_free(list);
            return NULL;
        }
        list = xreallocarray(list, n + 2, sizeof(*list));
        list[n++] = xstrndup(p, (size_t)(end - p));
        list[n] = NULL;
        p = end;
    }
}

void conf_list_free(char **list)
{
    if (list == NULL)
        return;
    for (char **p = list; *p; p++)
        free(*p);
    free(list);
}

/* conf_unbrace - "{ text }" becomes "text", trimmed; else a copy. */
int conf_unbrace(const char *token, strbuf *out)
{
    size_t n = strlen(token);

    sb_reset(out);
    if (n >= 2 && token[0] == '{' && token[n - 1] == '}') {
        if (sb_append(out, token + 1, n - 2) < 0)
            return -1;
        sb_trim(out);
        return 0;
    }
    return sb_append(out, token, n);
}

/* conf_next_token - next white-space separated field, braces quote. */
const char *conf_next_token(const char **cursor, strbuf *tok, strbuf *err,
                            int *status)
{
    static const char seps[] = " \t\r\n\f\v";
    const char *p = *cursor, *end;

    *status = 0;
    p += strspn(p, seps);
    if (*p == '\0') {
        *cursor = p;
        return NULL;
    }
    if ((end = conf_token_end(p, seps, err)) == NULL) {
        *status = -1;
        return NULL;
    }
    sb_reset(tok);
    if (sb_append(tok, p, (size_t)(end - p)) < 0) {
        (void)sb_puts(err, "field too long");
        *status = -1;
        return NULL;
    }
    *cursor = end;
    return sb_str(tok);
}
