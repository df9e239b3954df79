/*
 * xalloc - total allocators.
 *
 * Every function here either returns usable memory or ends the process
 * through msg_fatal(): callers never test for NULL. Size computations that
 * could overflow are checked (size_mul/size_add) before any allocation.
 */
#ifndef TERN_XALLOC_H
#define TERN_XALLOC_H

#include <stddef.h>
#include <stdbool.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);

/* size_mul/size_add: *out = a op b; false on overflow. */
bool size_mul(size_t a, size_t b, size_t *out);
bool size_add(size_t a, size_t b, size_t *out);

#endif
