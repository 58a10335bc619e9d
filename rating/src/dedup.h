/* Offline rating's dedup table: one per owner thread. */
#ifndef RATE_DEDUP_H
#define RATE_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "files.h"
#include "schemas/decode.h"

#define RATE__MAX_FILES 65535 /* files a run may read: 16 bits of a ref */

struct rate__dref;

/*
** The one structure probed at random, so it is kept small: a slot is 8
** bytes, the high half of the key's hash over the remembered event's
** number + 1 (0: empty); the table's index supplies the hash's low bits.
** A match of the 32 bits is confirmed by decoding the remembered event
** again and comparing the keys in full. Each remembered event has a ref,
** appended in order: its full hash (to rehash when the table grows) and
** where its bytes are (file index, offset). Zero-initialize; 'files' and
** 'dec' (for decoding again) are set by the owner.
*/
struct rate__dedup {
        const struct rate__file *files; /* borrowed: the run's files */
        struct sch_decoder *dec;        /* borrowed */
        size_t n, cap;                  /* events remembered; slots */
        uint64_t *slots;
        size_t refcap;
        struct rate__dref *refs;
};

/* Room for 'more' new keys at a load of at most 0.7. TL_OK, TL_ENOMEM or
   TL_ELIMIT (over 2^32 - 2 events in one table). */
tl_status rate__dedup_reserve(struct rate__dedup *d, size_t more,
                              struct tl_error *err);

/* Where the slot of hash 'h' is, to prefetch it a step before its check
   (NULL while the table is empty: prefetching NULL does not fault). */
static inline const void *rate__dedup_slot(const struct rate__dedup *d,
                                           uint64_t h)
{
        return d->cap ? &d->slots[h & (d->cap - 1)] : NULL;
}

/*
** 'ev' with key hash 'h' (never 0), its bytes at 'raw' in file 'file': 0
** new (and remembered); 1 a duplicate; 2 the same key with different
** content ('why' says so); -1 out of memory or over the cap ('err').
*/
int rate__dedup_check(struct rate__dedup *d, const struct sch_event *ev,
                      uint64_t h, const char *raw, size_t file,
                      struct tl_error *why, struct tl_error *err);

void rate__dedup_release(struct rate__dedup *d);

#endif
