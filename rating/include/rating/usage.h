/* Usage accumulation: events folded into each customer's meters for one
   billing period, exactly (128-bit sums, overflow an error). */
#ifndef RATE_USAGE_H
#define RATE_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/time.h"
#include "rating/catalog.h"
#include "schemas/event.h"

/* A billing period: a calendar month in UTC, [start, end). */
struct rate_period {
        int64_t start_day, end_day; /* days since 1970-01-01 */
        tl_time_us start_us, end_us;
        uint32_t days;
        char label[8];      /* "2026-10" */
        char start_iso[11]; /* "2026-10-01" */
        char end_iso[11];   /* "2026-11-01" */
};

/* Parse "YYYY-MM" (months of years 2000..9999). TL_OK or TL_EINVAL. */
tl_status rate_period_parse(const char *text, struct rate_period *out,
                            struct tl_error *err);

/* The period holding 'day'. */
void rate_period_of_day(int64_t day, struct rate_period *out);

/*
** A set of customers' usage for one catalog and period. Non-seat meters
** count events whose time lies in the period; seat meters also read earlier
** events, since a device activated before the period is active in it.
** Not thread-safe: parallel callers each keep their own, over disjoint
** customers. Deduplication is the caller's: add each distinct event once.
*/
struct rate_acc;

/* 'cat' is borrowed and must outlive the accumulator. TL_OK or TL_ENOMEM. */
tl_status rate_acc_new(const struct rate_catalog *cat,
                       const struct rate_period *period, struct rate_acc **out,
                       struct tl_error *err);
void rate_acc_free(struct rate_acc **pp);

/*
** Fold 'ev' into its subject's usage. Events outside the window, or that no
** meter counts, change nothing (they still create the customer when in the
** period, so a customer with only unpriced usage still gets an invoice).
** Returns TL_OK, TL_EOVERFLOW (a sum passed 2^128: the event is refused
** whole, nothing half-added) or TL_ENOMEM.
*/
tl_status rate_acc_add(struct rate_acc *acc, const struct sch_event *ev,
                       struct tl_error *err);

/*
** rate_acc_add for a caller that numbers its customers densely (offline
** rating: the index in the customers file): 'hint' finds the customer
** without a hash lookup. A customer must always come with the same hint.
*/
tl_status rate_acc_add_hinted(struct rate_acc *acc, const struct sch_event *ev,
                              size_t hint, struct tl_error *err);

/*
** A daily rollup: 'events' events of one day sharing their attributes,
** their numeric fields summed. Sums and counts fed this way equal the same
** events fed one by one; max, latest, unique_count and seats cannot be
** derived from it.
*/
struct rate_rollup {
        uint64_t events;
        tl_u128 input_tokens, output_tokens, cached_input_tokens;
        tl_u128 iterations, tokens, mac;
        tl_u128 units; /* task.outcome */
};

/*
** Fold rollup 'r' whose attributes (subject, type, model, deployment,
** decoding, task, outcome, dims, and time: the day's start) are in 'attrs'.
*Returns what
** rate_acc_add does, and TL_EINVAL when a meter the rollup feeds needs
** the events (check rate_catalog_rollup_ok first).
*/
tl_status rate_acc_add_rollup(struct rate_acc *acc,
                              const struct sch_event *attrs,
                              const struct rate_rollup *r,
                              struct tl_error *err);

/* Whether every meter of 'cat' counting events of type 't' can be fed by
   daily rollups (sum and count meters only; never seats). */
bool rate_catalog_rollup_ok(const struct rate_catalog *cat, sch_event_type t);

/* The period 'acc' accumulates. */
const struct rate_period *rate_acc_period(const struct rate_acc *acc);

/* Customers seen, in no particular order; 'i' < rate_acc_customer_count. */
size_t rate_acc_customer_count(const struct rate_acc *acc);
const char *rate_acc_customer_id(const struct rate_acc *acc, size_t i);
/* The index of customer 'id', or RATE_NO_INDEX. */
size_t rate_acc_find(const struct rate_acc *acc, const char *id);
/* Whether customer 'i' had any event in the period itself. */
bool rate_acc_in_period(const struct rate_acc *acc, size_t i);

/* One group of a meter's usage: the group_by values and the aggregate. */
struct rate_group_usage {
        const char *const *values; /* one per group_by field ("" if absent) */
        tl_u128 quantity;          /* sum, count, max, latest or distinct */
};

/*
** The groups of meter 'm' for customer 'i' (seat meters have none: see
** rate_acc_seats). '*out' stays valid until the next rate_acc_add.
*/
size_t rate_acc_groups(const struct rate_acc *acc, size_t i, size_t m,
                       const struct rate_group_usage **out);

/* Active seat-days per model_class for seat meter 'm' of customer 'i'. */
struct rate_seat_usage {
        const char *model_class;
        uint64_t seat_days;
};

/*
** Compute the seat-days of seat meter 'm' for customer 'i' into a new
** array '*out' of '*count' entries sorted by class (free with tl_free).
** Returns TL_OK or TL_ENOMEM.
*/
tl_status rate_acc_seats(const struct rate_acc *acc, size_t i, size_t m,
                         struct rate_seat_usage **out, size_t *count,
                         struct tl_error *err);

#endif
