/* Offline rating (`tally rate`): event files decoded, validated,
   deduplicated and folded into usage, in parallel, with every invalid
   event reported by its place. No Kafka, no database. */
#ifndef RATE_OFFLINE_H
#define RATE_OFFLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "rating/catalog.h"
#include "rating/customers.h"
#include "rating/usage.h"

struct rate_offline_opts {
        unsigned threads;  /* 0: one per online CPU */
        FILE *report;      /* invalid events and warnings; NULL: stderr */
        size_t max_report; /* invalid events printed in full; 0: 100 */
        tl_time_us now_us; /* the clock for the skew rule; 0: real clock */
};

struct rate_offline_stats {
        uint64_t read;       /* events (lines, CBOR items) read */
        uint64_t rated;      /* distinct valid events in the window */
        uint64_t duplicates; /* same key, same content: counted once */
        uint64_t invalid;    /* undecodable, invalid, or a conflicting id */
        uint64_t outside;    /* valid, outside the period (and not seats) */
        uint64_t unknown;    /* valid, for customers not in the file */
        uint64_t bytes;
};

/*
** The usage of one period, read from files. Customers are split among
** threads by a hash of their id, each thread keeping its own accumulator,
** so one customer's events are always folded by one thread in file order:
** the result equals a sequential run's exactly.
*/
struct rate_offline;

/*
** Read every file of 'paths' (JSON Lines, or CBOR sequences: a file whose
** first byte is not '{' or whitespace, or named *.cbor) and fold the
** events of 'period' for the customers of 'customers' into usage priced by
** 'cat' (both borrowed, outliving the result). Invalid events are reported
** to opts->report as "file:LINE: message" (JSON) or "file:#ITEM: message"
** (CBOR) and counted; whether they fail the run is the caller's choice.
** Returns TL_OK and '*out', TL_EIO (a file), TL_EOVERFLOW or TL_ENOMEM.
*/
tl_status rate_offline_run(const struct rate_catalog *cat,
                           const struct rate_customers *customers,
                           const struct rate_period *period,
                           const char *const *paths, size_t path_count,
                           const struct rate_offline_opts *opts,
                           struct rate_offline **out,
                           struct rate_offline_stats *stats,
                           struct tl_error *err);

void rate_offline_free(struct rate_offline **pp);

/* The accumulator holding customer 'id', and its index there; false when
   the customer had no event in the window. */
bool rate_offline_find(const struct rate_offline *o, const char *id,
                       const struct rate_acc **acc, size_t *index);

/* The usage per segment of customer 'c' (an item of the customers the run
   read for) when its plan changes in the period, else NULL: what
   rate_invoice_opts.segs takes. */
struct rate_segs;
const struct rate_segs *rate_offline_segs(const struct rate_offline *o,
                                          const struct rate_customer *c);

/* The accumulator of thread 0, for customers without events. */
const struct rate_acc *rate_offline_any_acc(const struct rate_offline *o);

#endif
