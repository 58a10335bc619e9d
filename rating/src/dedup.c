/* Offline rating's dedup table: small slots, confirmed by decoding again. */
#include "dedup.h"

#include <string.h>

#include "core/alloc.h"

#define SLOT(tag, n) ((uint64_t)(tag) << 32 | ((uint64_t)(n) + 1))
#define REF_FILE_SHIFT 48
#define MAX_EVENTS (UINT32_MAX - 1)

struct rate__dref {
        uint64_t h;
        uint64_t where; /* file index << REF_FILE_SHIFT | offset */
};

tl_status rate__dedup_reserve(struct rate__dedup *d, size_t more,
                              struct tl_error *err)
{
        size_t want = d->n + more, cap = d->cap ? d->cap : 4096;
        uint64_t *t;
        struct rate__dref *r;

        if (want > MAX_EVENTS)
                return tl_fail(err, TL_ELIMIT,
                               "more than %u distinct events for one thread: "
                               "use more --threads",
                               (unsigned)MAX_EVENTS);
        /* Linear probing stays short at 0.7, and a smaller table misses
           the caches less. */
        while (cap / 10 * 7 < want)
                cap *= 2;
        if (want > d->refcap) {
                size_t rc = d->refcap ? d->refcap : 1024;

                while (rc < want)
                        rc *= 2;
                r = tl_reallocarray(d->refs, rc, sizeof *r);
                if (!r)
                        return tl_fail(err, TL_ENOMEM, "out of memory");
                d->refs = r;
                d->refcap = rc;
        }
        if (cap == d->cap)
                return TL_OK;
        t = tl_big_zalloc(cap, sizeof *t);
        if (!t)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        for (size_t n = 0; n < d->n; n++) {
                uint64_t h = d->refs[n].h;
                size_t s;

                for (s = h & (cap - 1); t[s]; s = (s + 1) & (cap - 1))
                        ;
                t[s] = SLOT(h >> 32, n);
        }
        tl_big_free(d->slots, d->cap, sizeof *t);
        d->slots = t;
        d->cap = cap;
        return TL_OK;
}

/* Decode a remembered event again (it decoded before, so it does again). */
static bool redecode(struct rate__dedup *d, uint64_t where,
                     struct sch_event *ev)
{
        const struct rate__file *f = &d->files[where >> REF_FILE_SHIFT];
        size_t off = (size_t)(where & ((UINT64_C(1) << REF_FILE_SHIFT) - 1));
        const char *p = f->buf + off, *nl;
        size_t n = f->len - off;
        struct sch_cbor_reader r;
        struct sch_str raw;

        if (f->cbor)
                return sch_cbor_reader_open(&r, p, n, true, NULL) == TL_OK &&
                       sch_cbor_reader_next(&r, d->dec, ev, &raw, NULL) ==
                           TL_OK;
        if ((nl = memchr(p, '\n', n)) != NULL)
                n = (size_t)(nl - p);
        if (n > 0 && p[n - 1] == '\r')
                n--;
        return sch_decode_json(d->dec, p, n, ev, NULL) == TL_OK;
}

static bool same_str(struct sch_str a, struct sch_str b)
{
        return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

int rate__dedup_check(struct rate__dedup *d, const struct sch_event *ev,
                      uint64_t h, const char *raw, size_t file,
                      struct tl_error *why, struct tl_error *err)
{
        uint64_t tag = h >> 32;
        size_t s;

        if ((d->n + 1 > d->cap / 10 * 7 || d->n == d->refcap) &&
            rate__dedup_reserve(d, 1, err) != TL_OK)
                return -1;
        for (s = h & (d->cap - 1); d->slots[s]; s = (s + 1) & (d->cap - 1)) {
                struct sch_event first;
                const struct rate__dref *r;

                if (d->slots[s] >> 32 != tag)
                        continue;
                r = &d->refs[(d->slots[s] & UINT32_MAX) - 1];
                if (r->h != h || !redecode(d, r->where, &first))
                        continue;
                if (!same_str(first.subject, ev->subject) ||
                    !same_str(first.source, ev->source) ||
                    !same_str(first.id, ev->id))
                        continue;
                if (sch_event_equal(&first, ev))
                        return 1;
                tl_fail(why, TL_EINVAL,
                        "id '%.*s' (subject %.*s, source %.*s) seen before "
                        "with different content",
                        (int)ev->id.len, ev->id.ptr, (int)ev->subject.len,
                        ev->subject.ptr, (int)ev->source.len, ev->source.ptr);
                return 2;
        }
        d->refs[d->n] =
            (struct rate__dref){h, (uint64_t)file << REF_FILE_SHIFT |
                                       (uint64_t)(raw - d->files[file].buf)};
        d->slots[s] = SLOT(tag, d->n);
        d->n++;
        return 0;
}

void rate__dedup_release(struct rate__dedup *d)
{
        tl_big_free(d->slots, d->cap, sizeof *d->slots);
        tl_free(d->refs);
        memset(d, 0, sizeof *d);
}
