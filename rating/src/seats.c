/* Seat-days: a device is active from an activate (or a heartbeat while
   inactive) until a deactivate; each UTC day of the period it touches
   counts once for the class that activated it. */
#include "seats.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

/* The days one activity interval of a device touched, for its class. */
struct span {
        const char *cls;
        uint64_t days; /* bit D: day D of the period (months have <= 31) */
};

static int by_device_time(const void *x, const void *y)
{
        const struct rate__seat_ev *a = x, *b = y;
        int c = strcmp(a->device, b->device);

        if (c)
                return c;
        if (a->time_us != b->time_us)
                return a->time_us < b->time_us ? -1 : 1;
        return (a->seq > b->seq) - (a->seq < b->seq);
}

static int by_span_class(const void *x, const void *y)
{
        return strcmp(((const struct span *)x)->cls,
                      ((const struct span *)y)->cls);
}

static int by_class(const void *x, const void *y)
{
        return strcmp(((const struct rate_seat_usage *)x)->model_class,
                      ((const struct rate_seat_usage *)y)->model_class);
}

/* The days of the period that [from, to) touches: day D counts when the
   device was active at any moment of it (intervals are half-open). */
static uint64_t touched_days(const struct rate_period *p, tl_time_us from,
                             tl_time_us to)
{
        int64_t first, last;
        uint64_t bits = 0;

        if (from < p->start_us)
                from = p->start_us;
        if (to > p->end_us)
                to = p->end_us;
        if (to <= from)
                return 0;
        first = (from - p->start_us) / TL_US_PER_DAY;
        last = (to - 1 - p->start_us) / TL_US_PER_DAY;
        for (int64_t d = first; d <= last; d++)
                bits |= UINT64_C(1) << d;
        return bits;
}

static tl_status add_days(struct rate_seat_usage **list, size_t *n,
                          const char *cls, uint64_t days, struct tl_error *err)
{
        struct rate_seat_usage *l;

        if (days == 0)
                return TL_OK;
        for (size_t i = 0; i < *n; i++)
                if (strcmp((*list)[i].model_class, cls) == 0) {
                        (*list)[i].seat_days += days;
                        return TL_OK;
                }
        l = tl_reallocarray(*list, *n + 1, sizeof *l);
        if (!l)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        l[*n] = (struct rate_seat_usage){cls, days};
        *list = l;
        (*n)++;
        return TL_OK;
}

static tl_status push_span(struct span **v, size_t *n, size_t *cap,
                           const char *cls, uint64_t days, struct tl_error *err)
{
        if (*n == *cap) {
                size_t c = *cap ? *cap * 2 : 4;
                struct span *g = tl_reallocarray(*v, c, sizeof *g);

                if (!g)
                        return tl_fail(err, TL_ENOMEM, "out of memory");
                *v = g;
                *cap = c;
        }
        (*v)[(*n)++] = (struct span){cls, days};
        return TL_OK;
}

/* Credit one device's spans: days of spans of one class are united first,
   so a day on which a device was reactivated counts once. */
static tl_status credit_device(struct span *sp, size_t n,
                               struct rate_seat_usage **list, size_t *count,
                               struct tl_error *err)
{
        tl_status rc = TL_OK;

        if (n > 1)
                qsort(sp, n, sizeof *sp, by_span_class);
        for (size_t i = 0; !rc && i < n;) {
                uint64_t days = 0;
                size_t j = i;

                for (; j < n && strcmp(sp[j].cls, sp[i].cls) == 0; j++)
                        days |= sp[j].days;
                rc = add_days(list, count, sp[i].cls,
                              (uint64_t)__builtin_popcountll(days), err);
                i = j;
        }
        return rc;
}

tl_status rate__seat_days(const struct rate_period *p, struct rate__seat_ev *ev,
                          size_t n, struct rate_seat_usage **out, size_t *count,
                          struct tl_error *err)
{
        struct rate_seat_usage *list = NULL;
        struct span *sp = NULL;
        size_t nl = 0, cap = 0, k = 0;
        tl_status rc = TL_OK;

        if (n)
                qsort(ev, n, sizeof *ev, by_device_time);
        while (!rc && k < n) {
                const char *dev = ev[k].device, *cls = NULL;
                bool active = false;
                tl_time_us since = 0;
                size_t ns = 0;

                for (; !rc && k < n && strcmp(ev[k].device, dev) == 0; k++) {
                        if (ev[k].action == SCH_SEAT_DEACTIVATE) {
                                if (active)
                                        rc = push_span(
                                            &sp, &ns, &cap, cls,
                                            touched_days(p, since,
                                                         ev[k].time_us),
                                            err);
                                active = false;
                        } else if (!active) {
                                active = true;
                                since = ev[k].time_us;
                                cls = ev[k].model_class;
                        }
                }
                if (!rc && active)
                        rc = push_span(&sp, &ns, &cap, cls,
                                       touched_days(p, since, p->end_us), err);
                if (!rc)
                        rc = credit_device(sp, ns, &list, &nl, err);
        }
        tl_free(sp);
        if (rc) {
                tl_free(list);
                return rc;
        }
        if (nl)
                qsort(list, nl, sizeof *list, by_class);
        *out = list;
        *count = nl;
        return TL_OK;
}
