/* Allocation wrappers with a fault-injection countdown for tests. */
#include "core/alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Atomic: services and offline rating allocate from several threads; the
   countdown itself is only armed by single-threaded tests. */
static _Atomic long fail_after = -1; /* -1: never fail */
static _Atomic long attempts;

/* Returns nonzero when this allocation must fail. */
static int injected_failure(void)
{
        long left;

        atomic_fetch_add_explicit(&attempts, 1, memory_order_relaxed);
        left = atomic_load_explicit(&fail_after, memory_order_relaxed);
        if (left < 0)
                return 0;
        if (left == 0)
                return 1;
        atomic_fetch_sub_explicit(&fail_after, 1, memory_order_relaxed);
        return 0;
}

void tl_alloc_fail_after(long n)
{
        atomic_store(&fail_after, n);
        atomic_store(&attempts, 0);
}

void tl_alloc_fail_reset(void)
{
        atomic_store(&fail_after, -1);
        atomic_store(&attempts, 0);
}

long tl_alloc_count(void)
{
        return atomic_load(&attempts);
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
