/* Per-key token buckets: each key refills 'per_s' tokens a second up to
   'burst'; a request takes one. Keys are few (one per client), so one lock
   and an open-addressed table are enough. */
#include "internal.h"

#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"

struct api__bucket {
        char name[API_KEY_NAME_MAX + 1]; /* "" : free */
        int64_t micro;                   /* tokens x 1,000,000 */
        tl_time_us at_us;
};

tl_status api__limiter_init(struct api__limiter *l, int64_t per_s,
                            int64_t burst, struct tl_error *err)
{
        memset(l, 0, sizeof *l);
        l->cap = 1024;
        l->per_s = per_s;
        l->burst = burst < 1 ? 1 : burst;
        l->slots = tl_calloc(l->cap, sizeof *l->slots);
        if (!l->slots)
                return tl_fail(err, TL_ENOMEM, "serve: out of memory");
        pthread_mutex_init(&l->lock, NULL);
        return TL_OK;
}

void api__limiter_release(struct api__limiter *l)
{
        if (!l->slots)
                return;
        pthread_mutex_destroy(&l->lock);
        tl_free(l->slots);
        memset(l, 0, sizeof *l);
}

/* The bucket of 'name', made full when new; NULL when the table is full
   (then every key is served unlimited rather than refused: the table only
   fills past 768 live keys, and a cap is no reason to turn clients away). */
static struct api__bucket *find(struct api__limiter *l, const char *name,
                                tl_time_us now)
{
        size_t len = strlen(name);
        size_t i = (size_t)tl_hash64(name, len, 0x11) & (l->cap - 1);

        for (size_t probe = 0; probe < l->cap; probe++) {
                struct api__bucket *b = &l->slots[(i + probe) & (l->cap - 1)];

                if (!strcmp(b->name, name))
                        return b;
                if (!b->name[0]) {
                        if (l->count >= l->cap * 3 / 4)
                                return NULL;
                        memcpy(b->name, name, len + 1);
                        b->micro = l->burst * 1000000;
                        b->at_us = now;
                        l->count++;
                        return b;
                }
        }
        return NULL;
}

bool api__limiter_take(struct api__limiter *l, const char *name,
                       unsigned *retry_s)
{
        tl_time_us now = tl_time_now_us();
        struct api__bucket *b;
        bool ok = true;

        pthread_mutex_lock(&l->lock);
        b = find(l, name, now);
        if (b) {
                /* Whole micro-tokens: elapsed microseconds times the rate. */
                int64_t cap = l->burst * 1000000;
                int64_t t = b->micro + (now - b->at_us) * l->per_s;

                b->micro = t > cap || t < 0 ? cap : t;
                b->at_us = now;
                if (b->micro >= 1000000) {
                        b->micro -= 1000000;
                } else {
                        int64_t wait_us =
                            (1000000 - b->micro + l->per_s - 1) / l->per_s;

                        *retry_s = (unsigned)(wait_us / 1000000 + 1);
                        ok = false;
                }
        }
        pthread_mutex_unlock(&l->lock);
        return ok;
}
