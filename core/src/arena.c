/* Chunked bump allocator. */
#include "core/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"

struct tl_arena_chunk {
        struct tl_arena_chunk *next;
        size_t size;
        size_t used;
        alignas(max_align_t) unsigned char data[];
};

#define ARENA_ALIGN alignof(max_align_t)

void tl_arena_init(struct tl_arena *a, size_t chunk_size, size_t cap_bytes)
{
        a->head = NULL;
        a->chunk_size = chunk_size ? chunk_size : 4096;
        a->cap_bytes = cap_bytes;
        a->used_bytes = 0;
        a->held_bytes = 0;
}

static size_t align_up(size_t n)
{
        return (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
}

static tl_status add_chunk(struct tl_arena *a, size_t need,
                           struct tl_error *err)
{
        size_t size = need > a->chunk_size ? need : a->chunk_size;
        struct tl_arena_chunk *c;

        if (size > SIZE_MAX - sizeof *c)
                return tl_fail(err, TL_ENOMEM, "arena: chunk of %zu bytes",
                               size);
        c = tl_malloc(sizeof *c + size);
        if (!c)
                return tl_fail(err, TL_ENOMEM,
                               "arena: cannot allocate %zu bytes", size);
        c->next = a->head;
        c->size = size;
        c->used = 0;
        a->head = c;
        a->held_bytes += size;
        return TL_OK;
}

tl_status tl_arena_alloc(struct tl_arena *a, size_t size, void **out,
                         struct tl_error *err)
{
        size_t need;
        tl_status rc;

        if (size > SIZE_MAX - ARENA_ALIGN)
                return tl_fail(err, TL_ELIMIT, "arena: %zu bytes requested",
                               size);
        need = align_up(size ? size : 1);
        if (a->cap_bytes &&
            (need > a->cap_bytes || a->used_bytes > a->cap_bytes - need))
                return tl_fail(err, TL_ELIMIT,
                               "arena: memory cap of %zu bytes reached",
                               a->cap_bytes);
        if (!a->head || a->head->size - a->head->used < need) {
                rc = add_chunk(a, need, err);
                if (rc)
                        return rc;
        }
        *out = a->head->data + a->head->used;
        a->head->used += need;
        a->used_bytes += need;
        return TL_OK;
}

tl_status tl_arena_strndup(struct tl_arena *a, const char *s, size_t len,
                           char **out, struct tl_error *err)
{
        /* Set on success only; GCC's -O3 cannot see that through the call
           and warns maybe-uninitialized (an error under -Werror). */
        void *p = NULL;
        tl_status rc;

        if (len == SIZE_MAX)
                return tl_fail(err, TL_ELIMIT, "arena: string too long");
        rc = tl_arena_alloc(a, len + 1, &p, err);
        if (rc)
                return rc;
        memcpy(p, s, len);
        ((char *)p)[len] = '\0';
        *out = p;
        return TL_OK;
}

static void free_chunks(struct tl_arena_chunk *c)
{
        while (c) {
                struct tl_arena_chunk *next = c->next;
                tl_free(c);
                c = next;
        }
}

void tl_arena_reset(struct tl_arena *a)
{
        struct tl_arena_chunk *last = a->head;

        if (!last)
                return;
        /* Keep the oldest chunk: it is the regular size, not an outsized one
           made for a single big allocation. */
        while (last->next) {
                struct tl_arena_chunk *next = last->next;
                a->held_bytes -= last->size;
                tl_free(last);
                last = next;
        }
        last->used = 0;
        a->head = last;
        a->used_bytes = 0;
}

void tl_arena_release(struct tl_arena *a)
{
        free_chunks(a->head);
        a->head = NULL;
        a->used_bytes = 0;
        a->held_bytes = 0;
}
