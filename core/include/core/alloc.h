/* Allocation entry points with deterministic fault injection for tests. */
#ifndef TL_ALLOC_H
#define TL_ALLOC_H

#include <stddef.h>

/*
** malloc/realloc/free with two additions: sizes are checked for overflow by
** the array forms, and tests can make the Nth allocation fail to prove every
** failure path unwinds cleanly (SQLite's and curl's technique).
** All project code allocates through these.
*/
void *tl_malloc(size_t size);
void *tl_calloc(size_t count, size_t size);
void *tl_realloc(void *ptr, size_t size);
/* realloc of 'count' x 'size' bytes; NULL (ptr untouched) on overflow. */
void *tl_reallocarray(void *ptr, size_t count, size_t size);
void tl_free(void *ptr);
/* A copy of 'len' bytes of 's' plus a NUL; NULL on failure. */
char *tl_strndup(const char *s, size_t len);
char *tl_strdup(const char *s);

/*
** Zeroed memory for big tables probed at random (hash tables of millions of
** slots): mapped apart from the heap, in transparent huge pages where the
** kernel allows them, and written once up front. Touching the pages first
** by a read would map the shared zero page, and the write after it costs a
** fault plus a TLB shootdown on every CPU of the process (a third of the
** time of a 10M-event `tally rate` before this). Free with tl_big_free and
** the same size. NULL on overflow or when out of memory.
*/
void *tl_big_zalloc(size_t count, size_t size);
void tl_big_free(void *ptr, size_t count, size_t size);

/*
** Fault injection: after 'n' more successful allocations, every following
** one fails until tl_alloc_fail_reset(). n = 0 fails the next one.
** Process-wide and not thread-safe: for single-threaded tests only.
*/
void tl_alloc_fail_after(long n);
void tl_alloc_fail_reset(void);
/* Allocations attempted since the last reset; for loops that fail each one. */
long tl_alloc_count(void);

#endif
