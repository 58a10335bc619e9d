/* The production profile of `tally loadgen`: what a live gateway sends
   (docs/benchmarks.md), as opposed to the spread backfill of gen.c. */
#include "profile.h"

#include "core/alloc.h"
#include "core/dec.h"
#include "rng.h"

/* Weights are 2^40 / rank: exact integers, and a million customers sum
   to below 2^45. */
#define ZIPF_SCALE (UINT64_C(1) << 40)

/* 'count' distinct values below 'n' (count <= n), from a random start. */
static void distinct(uint64_t *s, unsigned n, unsigned count, uint8_t *out)
{
        unsigned start = (unsigned)below(s, n);

        for (unsigned i = 0; i < count; i++)
                out[i] = (uint8_t)((start + i) % n);
}

void lg__habits_of(uint64_t seed, uint32_t cust, struct lg__habits *h)
{
        uint64_t s = seed ^ UINT64_C(0x6a09e667f3bcc909);

        s += (uint64_t)cust * UINT64_C(0x8cb92ba72f3d8dd7);
        next_u64(&s);
        h->model_count = (uint8_t)(1 + below(&s, 3));
        distinct(&s, 4, h->model_count, h->models);
        /* Most customers decode one way; a third try a second. */
        h->decoding_count = below(&s, 3) ? 1 : 2;
        distinct(&s, 3, h->decoding_count, h->decodings);
        /* Half tag no app at all; the others one to three apps of ten. */
        h->app_count = below(&s, 2) ? 0 : (uint8_t)(1 + below(&s, 3));
        distinct(&s, 10, h->app_count, h->apps);
        h->task_count = (uint8_t)(1 + below(&s, 2));
        distinct(&s, 3, h->task_count, h->tasks);
        h->region = (uint8_t)below(&s, 3);
        h->model_class = (uint8_t)below(&s, 3);
        h->device = below(&s, 4) == 0;
}

tl_status lg__zipf_new(uint32_t n, uint64_t **out, struct tl_error *err)
{
        uint64_t *cum = tl_malloc((size_t)n * sizeof *cum), sum = 0;

        if (!cum)
                return tl_fail(err, TL_ENOMEM, "loadgen: out of memory");
        for (uint32_t i = 0; i < n; i++) {
                sum += ZIPF_SCALE / ((uint64_t)i + 1);
                cum[i] = sum;
        }
        *out = cum;
        return TL_OK;
}

uint32_t lg__zipf_pick(const uint64_t *cum, uint32_t n, uint64_t *s)
{
        uint64_t r = below(s, cum[n - 1]);
        uint32_t lo = 0, hi = n - 1;

        /* The first customer whose cumulative weight passes r. */
        while (lo < hi) {
                uint32_t mid = lo + (hi - lo) / 2;
                if (cum[mid] > r)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return lo;
}

/* Event n's instant on the evenly spaced grid, rounded down to a
   millisecond unless that falls before 'from'. */
static tl_time_us grid_ms(tl_time_us from, tl_time_us to, uint64_t events,
                          uint64_t n, tl_time_us *raw)
{
        tl_u128 span = (tl_u128)(uint64_t)(to - from);
        tl_time_us t = from + (tl_time_us)(span * n / events);
        tl_time_us ms = t - t % 1000;

        *raw = t;
        return ms >= from ? ms : t;
}

tl_time_us lg__steady_time(tl_time_us from, tl_time_us to, uint64_t events,
                           uint64_t n, bool whole_second)
{
        tl_time_us raw, prev_raw, sec;
        tl_time_us t = grid_ms(from, to, events, n, &raw);

        if (!whole_second)
                return t;
        sec = raw - raw % TL_US_PER_SEC;
        /* Whole seconds travel in CBOR as tag 1: keep some, but never
           before the previous event's time. */
        if (sec < from || sec >= t)
                return t;
        if (n > 0 && sec < grid_ms(from, to, events, n - 1, &prev_raw))
                return t;
        return sec;
}
