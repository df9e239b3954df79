/*
 * strbuf - the one bounded string buffer (STYLE.md rule 1).
 *
 * A strbuf owns a heap array that is always NUL-terminated, its length and
 * capacity, and a hard maximum length. An append that would pass the maximum
 * changes nothing and returns -1, so hostile input can never grow a buffer
 * without bound; callers decide what the error means (a 500 reply, a config
 * error). Growth itself cannot fail (xalloc). Bytes may include NUL: use
 * sb_len() rather than strlen() when that matters.
 */
#ifndef TERN_STRBUF_H
#define TERN_STRBUF_H

#include <stddef.h>
#include <stdarg.h>

#define SB_NOLIMIT ((size_t)-1 / 2)

typedef struct strbuf {
    char *data;                 /* NUL-terminated contents */
    size_t len;                 /* bytes used, excluding the NUL */
    size_t cap;                 /* bytes allocated, including the NUL */
    size_t max;                 /* hard maximum for len */
} strbuf;

/* Life cycle. sb_init on a caller-owned struct, sb_new for a heap one. */
void sb_init(strbuf *sb, size_t max);
strbuf *sb_new(size_t max);
void sb_release(strbuf *sb);        /* frees contents, keeps the struct */
void sb_free(strbuf *sb);           /* frees contents and struct */
char *sb_detach(strbuf *sb);        /* caller owns the string; sb is empty */

/* Contents. */
static inline const char *sb_str(const strbuf *sb) { return sb->data; }
static inline size_t sb_len(const strbuf *sb) { return sb->len; }
void sb_reset(strbuf *sb);
void sb_truncate(strbuf *sb, size_t len);

/* Appends: 0 on success, -1 (and no change) when max would be passed. */
int sb_append(strbuf *sb, const void *data, size_t n);
int sb_puts(strbuf *sb, const char *s);

/*
 * sb_putc - append one byte. Inline because body paths call it per byte:
 * with room below both cap and max it is a store; otherwise sb_append
 * decides (growth, or -1 at max), so the semantics are sb_append's.
 */
static inline int sb_putc(strbuf *sb, int c)
{
    char ch = (char)c;

    if (sb->cap - sb->len > 1 && sb->len < sb->max) {
        sb->data[sb->len++] = ch;
        sb->data[sb->len] = '\0';
        return 0;
    }
    return sb_append(sb, &ch, 1);
}

int sb_printf(strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int sb_vprintf(strbuf *sb, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* sb_set - replace the contents with a string (same bound). */
int sb_set(strbuf *sb, const char *s);

/* sb_trim - remove leading and trailing ASCII white space. */
void sb_trim(strbuf *sb);

/* sb_lower - ASCII lower-case in place. */
void sb_lower(strbuf *sb);

/*
 * fmt_fixed - format into a fixed array; returns 0, or -1 when the result
 * would be truncated (the array then holds an empty string).
 */
int fmt_fixed(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
