/*
 * xalloc - total allocators: allocation failure is fatal, never NULL.
 */
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include "common/xalloc.h"
#include "common/msg.h"

/* size_mul - multiply with overflow check. */
bool size_mul(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* size_add - add with overflow check. */
bool size_add(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* xmalloc - malloc that never returns NULL; zero bytes still gives a pointer. */
void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL)
        msg_fatal("out of memory allocating %zu bytes", size);
    return p;
}

/* xcalloc - zeroed array allocation with overflow check. */
void *xcalloc(size_t nmemb, size_t size)
{
    void *p;

    if (nmemb == 0 || size == 0)
        nmemb = size = 1;
    if ((p = calloc(nmemb, size)) == NULL)
        msg_fatal("out of memory allocating %zu x %zu bytes", nmemb, size);
    return p;
}

/* xrealloc - realloc that never returns NULL. */
void *xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);

    if (p == NULL)
        msg_fatal("out of memory reallocating %zu bytes", size);
    return p;
}

/* xreallocarray - realloc of nmemb elements with overflow check. */
void *xreallocarray(void *ptr, size_t nmemb, size_t size)
{
    size_t total;

    if (!size_mul(nmemb, size, &total))
        msg_fatal("allocation overflow: %zu x %zu bytes", nmemb, size);
    return xrealloc(ptr, total);
}

/* xmemdup - copy n bytes into new memory. */
void *xmemdup(const void *p, size_t n)
{
    void *q = xmalloc(n);

    if (n > 0)
        memcpy(q, p, n);
    return q;
}

/* xstrdup - copy a string. */
char *xstrdup(const char *s)
{
    return xmemdup(s, strlen(s) + 1);
}

/* xstrndup - copy at most n bytes of a string and terminate it. */
char *xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *q = xmalloc(len + 1);

    memcpy(q, s, len);
    q[len] = '\0';
    return q;
}
