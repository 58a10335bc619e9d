/* A customer's invoice for one period, priced (spec: docs/formats.md): lines
   in their order, totals that add up to the cent, usage and savings. */
#ifndef RATE_INVOICE_H
#define RATE_INVOICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/dec.h"
#include "core/error.h"
#include "core/str.h"
#include "rating/catalog.h"
#include "rating/customers.h"
#include "rating/usage.h"

typedef enum {
        RATE_LINE_FEE,
        RATE_LINE_SEAT,
        RATE_LINE_USAGE,
        RATE_LINE_ADJUSTMENT,
        RATE_LINE_MINIMUM,
        RATE_LINE_CREDIT,
        RATE_LINE_TAX,
} rate_line_kind;

/* Exact decimals too long for a tl_dec (10^30 units x a 12-digit weight). */
#define RATE_QTY_MAX 96

/*
** A part of a period priced by one subscription (spec: docs/pricing-rules.md,
** "Subscriptions that change"): from its subscription's start (the
** period's for the first) to the next one's (the period's end for the
** last).
*/
struct rate_segment {
        const char *plan; /* subscribed, before cohorts */
        unsigned plan_line, plan_col;
        int64_t start_day, end_day; /* [start, end) */
        uint32_t active_days;       /* its subscription's days in it */
        char start_iso[11], end_iso[11];
};

struct rate_line {
        rate_line_kind kind;
        /* fee, seat, usage and minimum lines when the period has two or
           more segments; NULL otherwise */
        const struct rate_segment *segment;
        const char *ref; /* fee id, charge id, model_class, period */
        const char *name;
        struct tl_dec amount; /* rounded to the currency's minor unit */
        /* usage: billable units (exact); seat: seat-months at 4 digits */
        char quantity[RATE_QTY_MAX];
        struct tl_dec unit;   /* usage */
        struct tl_dec price;  /* seat: per seat-month; tax: the rate */
        uint64_t seat_days;   /* seat */
        uint32_t active_days; /* fee, minimum: proration numerator */
        /* usage of a charge with included_per_seat ("" otherwise): the
           allowance (included + the seats') and how much of it the usage
           took; exact, or at 4 digits when not a finite decimal (as is
           the quantity then) */
        char capacity[RATE_QTY_MAX];
        char allowance_used[RATE_QTY_MAX];
        /* usage, for usage controls (not on the document): the meter it
           prices, its quantity after the charge's weights and its whole
           allowance, exact or at 4 digits as the capacity */
        const char *meter;
        char used[RATE_QTY_MAX];
        char included[RATE_QTY_MAX];
};

/* Usage shown on the invoice, per meter and group (informational). */
struct rate_usage_group {
        const char *const *values;
        char quantity[RATE_QTY_MAX];
};

struct rate_usage_report {
        const struct rate_meter *meter;
        char quantity[RATE_QTY_MAX];
        size_t group_count;
        struct rate_usage_group *groups;
};

struct rate_savings_line {
        const char *meter;
        const char *priced_as;
        char quantity[RATE_QTY_MAX];
        struct tl_dec cloud_equivalent;
};

struct rate_cohort_choice {
        const char *experiment;
        const char *cohort;
        bool explicit_; /* from the customers file rather than the bucket */
};

struct rate_invoice {
        /* Set by invoicing once the invoice is stored (NULL for a draft
           that rate_invoice_json prints with "number": null). */
        const char *number;
        const char *status;     /* NULL: "draft" */
        const char *extra_json; /* more members ("k":v,...) for the JSON */
        const char *customer;
        const char *customer_name;
        const char *subscribed_plan; /* from the customers file */
        const struct rate_catalog *catalog;
        const struct rate_plan *plan; /* the one priced: the cohort's */
        struct rate_period period;
        uint32_t active_days; /* subscribed days of the period */
        size_t segment_count; /* 1 when the plan did not change */
        struct rate_segment *segments;
        size_t cohort_count;
        struct rate_cohort_choice *cohorts;
        size_t line_count;
        struct rate_line *lines;
        struct tl_dec subtotal, credit, tax, total;
        size_t usage_count;
        struct rate_usage_report *usage;
        size_t savings_count;
        struct rate_savings_line *savings;
        struct tl_arena arena; /* owns the arrays and strings above */
};

/*
** Price customer 'cust' for 'period' from catalog 'cat' and its usage in
** 'acc', whose period it is (customer index 'ci', RATE_NO_INDEX when
** it has no usage). Every line
** is the exact rational result rounded once, half to even, to the
** currency's minor unit; totals are sums of rounded lines. Returns TL_OK
** and '*out' (free with rate_invoice_free); TL_EINVAL naming the customers
** file place when the plan, an explicit cohort or a seat class's price is
** missing from 'cat'; TL_EOVERFLOW; TL_ENOMEM.
*/
tl_status rate_invoice_build(const struct rate_catalog *cat,
                             const struct rate_customers *customers,
                             const struct rate_customer *cust,
                             const struct rate_acc *acc, size_t ci,
                             struct rate_invoice **out, struct tl_error *err);

/* Late usage of an earlier, finalized period, already priced: the
   difference between that period re-rated and what was invoiced for it. */
struct rate_adjustment {
        const char *period;   /* "YYYY-MM", the period corrected */
        struct tl_dec amount; /* in the currency's minor unit; may be < 0 */
};

/*
** The segments of customer 'c' in period 'p' into 'out' (room for
** max(1, c->sub_count)); returns how many (>= 1). A period that no
** subscription overlaps has one segment, of the nearest subscription.
*/
size_t rate_segments(const struct rate_customer *c, const struct rate_period *p,
                     struct rate_segment *out);

/*
** One customer's usage per segment, for a period with two or more: an
** accumulator each over the segment's days, fed the same events as the
** period's. rate_segs_new sets '*out' NULL when the period has one
** segment (nothing to keep). TL_OK or TL_ENOMEM.
*/
struct rate_segs;
tl_status rate_segs_new(const struct rate_catalog *cat,
                        const struct rate_customer *c,
                        const struct rate_period *p, struct rate_segs **out,
                        struct tl_error *err);
/* rate_acc_add / rate_acc_add_rollup into every segment's accumulator. */
tl_status rate_segs_add(struct rate_segs *s, const struct sch_event *ev,
                        struct tl_error *err);
tl_status rate_segs_add_rollup(struct rate_segs *s,
                               const struct sch_event *attrs,
                               const struct rate_rollup *r,
                               struct tl_error *err);
/* Segment 'k''s accumulator. */
const struct rate_acc *rate_segs_acc(const struct rate_segs *s, size_t k);
size_t rate_segs_count(const struct rate_segs *s);
void rate_segs_free(struct rate_segs **pp);

struct rate_invoice_opts {
        size_t adjustment_count;
        const struct rate_adjustment *adjustments;
        /* The customer's usage per segment: required when the period has
           two or more (TL_EINVAL without), ignored otherwise. */
        const struct rate_segs *segs;
};

/*
** rate_invoice_build with adjustment lines: they follow the usage lines,
** count in the subtotal, and not towards the minimum (which floors fee +
** seat + usage only). 'opts' may be NULL.
*/
tl_status rate_invoice_build_opts(const struct rate_catalog *cat,
                                  const struct rate_customers *customers,
                                  const struct rate_customer *cust,
                                  const struct rate_acc *acc, size_t ci,
                                  const struct rate_invoice_opts *opts,
                                  struct rate_invoice **out,
                                  struct tl_error *err);

/* Fee + seat + usage + minimum lines: what the period itself costs,
   without adjustments, credit or tax (what a late re-rating compares). */
tl_status rate_invoice_base(const struct rate_invoice *inv, struct tl_dec *out,
                            struct tl_error *err);

void rate_invoice_free(struct rate_invoice **pp);

/*
** Append the invoice JSON of docs/formats.md to 'out' (no trailing newline):
** money and quantities as strings of exact decimals; status "draft" and
** number null until invoicing finalizes it. TL_OK, TL_ENOMEM or TL_ELIMIT.
*/
tl_status rate_invoice_json(const struct rate_invoice *inv, struct tl_buf *out,
                            struct tl_error *err);

/*
** The same document as a jansson value: '*out' (a new reference, the
** caller's to json_decref) dumps, with JSON_COMPACT | JSON_PRESERVE_ORDER,
** to exactly what rate_invoice_json appends. For callers that add members
** before writing it once. TL_OK, TL_ENOMEM or TL_ELIMIT.
*/
struct json_t;
tl_status rate_invoice_doc(const struct rate_invoice *inv, struct json_t **out,
                           struct tl_error *err);

/* Append a human-readable table of the invoice to 'out'. */
tl_status rate_invoice_table(const struct rate_invoice *inv, struct tl_buf *out,
                             struct tl_error *err);

const char *rate_line_kind_name(rate_line_kind k);

/*
** The bucket and cohort of customer 'cust' in experiment 'e': an explicit
** placement wins. Returns the cohort index, or RATE_NO_INDEX when the
** explicit placement names no cohort of 'e'.
*/
size_t rate_place(const struct rate_experiment *e,
                  const struct rate_customer *cust, bool *explicit_);

#endif
