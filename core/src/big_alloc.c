/* Big zeroed tables: anonymous mappings, huge pages, written up front. */
/* MAP_ANONYMOUS and madvise's Linux advice are not in POSIX. */
#define _GNU_SOURCE
#include "core/alloc.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

/* Below this, the heap's pages are as good and likely warm already. */
#define BIG_MIN ((size_t)1 << 21)

void *tl_big_zalloc(size_t count, size_t size)
{
        size_t bytes;
        void *p;

        if (size && count > SIZE_MAX / size)
                return NULL;
        bytes = count * size;
        if (bytes < BIG_MIN)
                return tl_calloc(count, size);
        /* The injected failures cover this path like every other. */
        p = tl_malloc(1);
        if (!p)
                return NULL;
        tl_free(p);
        p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return NULL;
#ifdef MADV_HUGEPAGE
        (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
        /* Fresh anonymous pages read as zeros; writing them now faults
           them in for writing, once, by the thread that will use them. */
#ifdef MADV_POPULATE_WRITE
        if (madvise(p, bytes, MADV_POPULATE_WRITE) == 0)
                return p;
#endif
        for (size_t off = 0; off < bytes; off += 4096)
                ((volatile char *)p)[off] = 0;
        return p;
}

void tl_big_free(void *ptr, size_t count, size_t size)
{
        size_t bytes = count * size;

        if (!ptr)
                return;
        if (bytes < BIG_MIN)
                tl_free(ptr);
        else
                munmap(ptr, bytes);
}
