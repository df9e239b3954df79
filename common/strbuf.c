/*
 * strbuf - bounded, always-terminated, growable byte strings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

#include "common/strbuf.h"
#include "common/xalloc.h"
#include "common/msg.h"

#define SB_MINCAP 64

/* sb_init - make an empty buffer whose length may not pass max. */
void sb_init(strbuf *sb, size_t max)
{
    sb->data = xmalloc(SB_MINCAP);
    sb->data[0] = '\0';
    sb->len = 0;
    sb->cap = SB_MINCAP;
    sb->max = max > SB_NOLIMIT ? SB_NOLIMIT : max;
}

/* sb_new - allocate and initialize a buffer. */
strbuf *sb_new(size_t max)
{
    strbuf *sb = xmalloc(sizeof(*sb));

    sb_init(sb, max);
    return sb;
}

/* sb_release - free the contents; the struct may be sb_init'ed again. */
void sb_release(strbuf *sb)
{
    free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
}

/* sb_free - free a buffer made by sb_new. */
void sb_free(strbuf *sb)
{
    if (sb == NULL)
        return;
    sb_release(sb);
    free(sb);
}

/* sb_detach - hand the string to the caller and leave the buffer empty. */
char *sb_detach(strbuf *sb)
{
    char *s = sb->data;

    sb->data = xmalloc(SB_MINCAP);
    sb->data[0] = '\0';
    sb->len = 0;
    sb->cap = SB_MINCAP;
    return s;
}

/* sb_reset - empty the buffer, keeping its memory. */
void sb_reset(strbuf *sb)
{
    sb->len = 0;
    sb->data[0] = '\0';
}

/* sb_truncate - shorten to len bytes (no-op if already shorter). */
void sb_truncate(strbuf *sb, size_t len)
{
    if (len < sb->len) {
        sb->len = len;
        sb->data[len] = '\0';
    }
}

/* sb_reserve - make room for n more bytes plus the NUL; -1 past max. */
static int sb_reserve(strbuf *sb, size_t n)
{
    size_t need, cap;

    if (n > sb->max - sb->len)
        return -1;
    need = sb->len + n + 1;
    if (need <= sb->cap)
        return 0;
    cap = sb->cap;
    while (cap < need)
        cap = cap > SB_NOLIMIT / 2 ? need : cap * 2;
    sb->data = xrealloc(sb->data, cap);
    sb->cap = cap;
    return 0;
}

/* sb_append - append n bytes. */
int sb_append(strbuf *sb, const void *data, size_t n)
{
    if (sb_reserve(sb, n) < 0)
        return -1;
    if (n > 0)
        memcpy(sb->data + sb->len, data, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
    return 0;
}

/* sb_puts - append a string. */
int sb_puts(strbuf *sb, const char *s)
{
    return sb_append(sb, s, strlen(s));
}

/* sb_set - replace the contents. */
int sb_set(strbuf *sb, const char *s)
{
    size_t n = strlen(s);

    if (n > sb->max)
        return -1;
    sb_reset(sb);
    return sb_append(sb, s, n);
}

/* sb_vprintf - append formatted text; all or nothing. */
int sb_vprintf(strbuf *sb, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        msg_panic("sb_vprintf: bad format \"%s\"", fmt);
    if (sb_reserve(sb, (size_t)n) < 0)
        return -1;
    if (vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap) != n)
        msg_panic("sb_vprintf: inconsistent length for \"%s\"", fmt);
    sb->len += (size_t)n;
    return 0;
}

/* sb_printf - append formatted text. */
int sb_printf(strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    int ret;

    va_start(ap, fmt);
    ret = sb_vprintf(sb, fmt, ap);
    va_end(ap);
    return ret;
}

/* sb_trim - strip ASCII white space at both ends. */
void sb_trim(strbuf *sb)
{
    size_t start = 0, end = sb->len;

    while (end > 0 && isspace((unsigned char)sb->data[end - 1]))
        end--;
    while (start < end && isspace((unsigned char)sb->data[start]))
        start++;
    if (start > 0)
        memmove(sb->data, sb->data + start, end - start);
    sb->len = end - start;
    sb->data[sb->len] = '\0';
}

/* sb_lower - fold ASCII upper case. */
void sb_lower(strbuf *sb)
{
    for (size_t i = 0; i < sb->len; i++)
        sb->data[i] = (char)tolower((unsigned char)sb->data[i]);
}

/* fmt_fixed - snprintf that treats truncation as failure. */
int fmt_fixed(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (size == 0)
        return -1;
    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size) {
        buf[0] = '\0';
        return -1;
    }
    return 0;
}
