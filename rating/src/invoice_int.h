/* Internal to pricing an invoice: the builder's state, shared by
   invoice.c (fees, minimum, totals) and invoice_lines.c (seats, usage,
   savings). */
#ifndef RATE_INVOICE_INT_H
#define RATE_INVOICE_INT_H

#include "rating/invoice.h"
#include "rating/money.h"

/* One segment's usage and plan. */
struct seg_use {
        const struct rate_acc *acc;
        size_t ci;                    /* in acc, or RATE_NO_INDEX */
        const struct rate_plan *plan; /* priced: the cohort's */
};

/* Work in progress on one invoice. */
struct build {
        const struct rate_catalog *cat;
        const struct rate_customers *customers;
        const struct rate_customer *cust;
        const struct rate_acc *acc; /* the current segment's usage */
        size_t ci;
        struct rate_invoice *inv;
        size_t line_cap;
        struct tl_error *err;
        /* The plan's seat-days by class (seat_lines), for allowances per
           seat; tl_free'd by the builder. */
        struct rate_seat_usage *seats;
        size_t seat_count;
        /* The current segment: its plan, days subscribed, and the share of
           `included` it gets (segment days / period days with two or
           more segments, else 1/1). 'seg' is NULL with one segment. */
        const struct rate_plan *plan;
        const struct rate_segment *seg;
        uint32_t active_days;
        uint32_t inc_num, inc_den;
        size_t seg_count;
        struct seg_use *use;
};

/* A new zeroed line of 'kind' on the invoice, in its segment. */
tl_status rate__add_line(struct build *b, rate_line_kind kind,
                         struct rate_line **out);
/* 'a' rounded to the currency's minor unit, errors naming the customer. */
tl_status rate__round_money(struct build *b, const struct rate_amount *a,
                            struct tl_dec *out);
/* 'a' as an exact decimal text, TL_EOVERFLOW when it has none short. */
tl_status rate__exact_text(struct build *b, const struct rate_amount *a,
                           char *out);

/* The lines of the current segment, each added to 'sum'. */
tl_status rate__seat_lines(struct build *b, struct rate_amount *sum);
tl_status rate__usage_lines(struct build *b, struct rate_amount *sum);
/* The savings section over every segment, summed per local meter. */
tl_status rate__savings(struct build *b);

#endif
