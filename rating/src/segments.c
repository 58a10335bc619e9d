/* A period cut where the subscribed plan changes, and the usage of each
   part kept apart. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "rating/invoice.h"

static void iso(int64_t day, char out[11])
{
        int64_t y;
        unsigned m, d;

        tl_civil_from_days(day, &y, &m, &d);
        snprintf(out, 11, "%04d-%02u-%02u", (int)y, m, d);
}

/* Days of [from, to) within [sub_start, sub_end). */
static uint32_t overlap(int64_t from, int64_t to, int64_t sub_start,
                        bool has_end, int64_t sub_end)
{
        if (sub_start > from)
                from = sub_start;
        if (has_end && sub_end < to)
                to = sub_end;
        return to > from ? (uint32_t)(to - from) : 0;
}

static void one(struct rate_segment *s, const char *plan, unsigned line,
                unsigned col, int64_t from, int64_t to, uint32_t active)
{
        memset(s, 0, sizeof *s);
        s->plan = plan;
        s->plan_line = line;
        s->plan_col = col;
        s->start_day = from;
        s->end_day = to;
        s->active_days = active;
        iso(from, s->start_iso);
        iso(to, s->end_iso);
}

size_t rate_segments(const struct rate_customer *c, const struct rate_period *p,
                     struct rate_segment *out)
{
        const struct rate_subscription *s = c->subs;
        size_t lo = SIZE_MAX, hi = 0, near = 0;

        if (c->sub_count == 0) {
                one(out, c->plan, c->plan_line, c->plan_col, p->start_day,
                    p->end_day,
                    overlap(p->start_day, p->end_day, c->start_day, c->has_end,
                            c->end_day));
                return 1;
        }
        for (size_t i = 0; i < c->sub_count; i++) {
                if (s[i].start_day < p->end_day)
                        near = i;
                if (s[i].start_day < p->end_day &&
                    (!s[i].has_end || s[i].end_day > p->start_day)) {
                        if (lo == SIZE_MAX)
                                lo = i;
                        hi = i;
                }
        }
        if (lo == SIZE_MAX) {
                /* Usage outside every subscription is still billed, by the
                   plan held last before (or first after) the period. */
                one(out, s[near].plan, s[near].plan_line, s[near].plan_col,
                    p->start_day, p->end_day, 0);
                return 1;
        }
        for (size_t i = lo; i <= hi; i++) {
                int64_t from = i == lo ? p->start_day : s[i].start_day;
                int64_t to = i == hi ? p->end_day : s[i + 1].start_day;

                one(&out[i - lo], s[i].plan, s[i].plan_line, s[i].plan_col,
                    from, to,
                    overlap(from, to, s[i].start_day, s[i].has_end,
                            s[i].end_day));
        }
        return hi - lo + 1;
}

struct rate_segs {
        size_t count;
        struct rate_acc **acc;
};

void rate_segs_free(struct rate_segs **pp)
{
        if (!pp || !*pp)
                return;
        for (size_t i = 0; i < (*pp)->count; i++)
                rate_acc_free(&(*pp)->acc[i]);
        tl_free((*pp)->acc);
        tl_free(*pp);
        *pp = NULL;
}

tl_status rate_segs_new(const struct rate_catalog *cat,
                        const struct rate_customer *c,
                        const struct rate_period *p, struct rate_segs **out,
                        struct tl_error *err)
{
        struct rate_segment *sg;
        struct rate_segs *s;
        size_t n;
        tl_status rc = TL_OK;

        *out = NULL;
        if (c->sub_count < 2)
                return TL_OK;
        if (!(sg = tl_calloc(c->sub_count, sizeof *sg)))
                return tl_fail(err, TL_ENOMEM, "out of memory");
        n = rate_segments(c, p, sg);
        if (n < 2) {
                tl_free(sg);
                return TL_OK;
        }
        s = tl_calloc(1, sizeof *s);
        if (!s || !(s->acc = tl_calloc(n, sizeof *s->acc))) {
                tl_free(s);
                tl_free(sg);
                return tl_fail(err, TL_ENOMEM, "out of memory");
        }
        s->count = n;
        for (size_t k = 0; !rc && k < n; k++) {
                struct rate_period w = *p;

                /* The segment as a short period: its own days, the seat
                   days it holds, the events in it. */
                w.start_day = sg[k].start_day;
                w.end_day = sg[k].end_day;
                w.days = (uint32_t)(w.end_day - w.start_day);
                w.start_us = w.start_day * TL_US_PER_DAY;
                w.end_us = w.end_day * TL_US_PER_DAY;
                memcpy(w.start_iso, sg[k].start_iso, sizeof w.start_iso);
                memcpy(w.end_iso, sg[k].end_iso, sizeof w.end_iso);
                rc = rate_acc_new(cat, &w, &s->acc[k], err);
        }
        tl_free(sg);
        if (rc) {
                rate_segs_free(&s);
                return rc;
        }
        *out = s;
        return TL_OK;
}

tl_status rate_segs_add(struct rate_segs *s, const struct sch_event *ev,
                        struct tl_error *err)
{
        tl_status rc = TL_OK;

        for (size_t k = 0; !rc && k < s->count; k++)
                rc = rate_acc_add(s->acc[k], ev, err);
        return rc;
}

tl_status rate_segs_add_rollup(struct rate_segs *s,
                               const struct sch_event *attrs,
                               const struct rate_rollup *r,
                               struct tl_error *err)
{
        tl_status rc = TL_OK;

        for (size_t k = 0; !rc && k < s->count; k++)
                rc = rate_acc_add_rollup(s->acc[k], attrs, r, err);
        return rc;
}

const struct rate_acc *rate_segs_acc(const struct rate_segs *s, size_t k)
{
        return s->acc[k];
}

size_t rate_segs_count(const struct rate_segs *s)
{
        return s->count;
}
