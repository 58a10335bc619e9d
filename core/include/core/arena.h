/* Bump allocator for per-message and per-request work, reset between items. */
#ifndef TL_ARENA_H
#define TL_ARENA_H

#include <stddef.h>

#include "core/error.h"

struct tl_arena_chunk;

/*
** Allocations come from chunks of at least 'chunk_size' bytes; the arena
** never frees a single allocation, only everything at once. 'cap_bytes'
** bounds the total it will hold (0: unbounded) so hostile input costs
** bounded memory.
*/
struct tl_arena {
        struct tl_arena_chunk *head;
        size_t chunk_size;
        size_t cap_bytes;
        size_t used_bytes; /* bytes handed out since the last reset */
        size_t held_bytes; /* bytes held in chunks */
};

/* Prepare 'a'; allocates nothing until first use. */
void tl_arena_init(struct tl_arena *a, size_t chunk_size, size_t cap_bytes);

/*
** Return 'size' bytes aligned for any type, owned by the arena. Returns
** TL_OK, TL_ENOMEM or TL_ELIMIT (the cap would be passed); '*out' is written
** only on success.
*/
tl_status tl_arena_alloc(struct tl_arena *a, size_t size, void **out,
                         struct tl_error *err);

/* Copy 'len' bytes of 's' plus a NUL into the arena; statuses as above. */
tl_status tl_arena_strndup(struct tl_arena *a, const char *s, size_t len,
                           char **out, struct tl_error *err);

/*
** Forget every allocation but keep the first chunk for reuse, so a steady
** stream of similar items allocates nothing after warm-up.
*/
void tl_arena_reset(struct tl_arena *a);

/* Free all chunks. 'a' may then be reused after tl_arena_init. */
void tl_arena_release(struct tl_arena *a);

#endif
