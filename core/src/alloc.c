/* Allocation wrappers with a fault-injection countdown for tests. */
#include "core/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static long fail_after = -1; /* -1: never fail */
static long attempts;

/* Returns nonzero when this allocation must fail. */
static int injected_failure(void)
{
        attempts++;
        if (fail_after < 0)
                return 0;
        if (fail_after == 0)
                return 1;
        fail_after--;
        return 0;
}

void tl_alloc_fail_after(long n)
{
        fail_after = n;
        attempts = 0;
}

void tl_alloc_fail_reset(void)
{
        fail_after = -1;
        attempts = 0;
}

long tl_alloc_count(void)
{
        return attempts;
}

void *tl_malloc(size_t size)
{
        if (injected_failure())
                return NULL;
        return malloc(size ? size : 1);
}

void *tl_calloc(size_t count, size_t size)
{
        if (injected_failure())
                return NULL;
        return calloc(count ? count : 1, size ? size : 1);
}

void *tl_realloc(void *ptr, size_t size)
{
        if (injected_failure())
                return NULL;
        return realloc(ptr, size ? size : 1);
}

void *tl_reallocarray(void *ptr, size_t count, size_t size)
{
        if (size && count > SIZE_MAX / size)
                return NULL;
        return tl_realloc(ptr, count * size);
}

void tl_free(void *ptr)
{
        free(ptr);
}

char *tl_strndup(const char *s, size_t len)
{
        char *p;

        if (len == SIZE_MAX)
                return NULL;
        p = tl_malloc(len + 1);
        if (!p)
                return NULL;
        memcpy(p, s, len);
        p[len] = '\0';
        return p;
}

char *tl_strdup(const char *s)
{
        return tl_strndup(s, strlen(s));
}
