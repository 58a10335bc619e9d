/* The summary's sections on outcomes and capacity licences, read from the
   finalized invoices (close.c prints them after the usage). */
#ifndef DEMO_SUMMARY_H
#define DEMO_SUMMARY_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "demo/demo.h"
#include "invoicing/invoicing.h"

/*
** Outcomes by deployment: what the engine reported (support.resolution,
** success and failure, cloud and device) beside what the invoices' usage
** blocks hold, and what the per-resolution lines charged. '*ok' becomes
** false when a count differs. TL_EDB when a query fails.
*/
tl_status demo__print_outcomes(PGconn *c, const struct demo_opts *o,
                               const struct demo_counts *n, bool *ok,
                               struct tl_error *err);

/* Each customer's capacity licence: seat-months, the allowance it used of
   the capacity its seats gave, and what went beyond, from the invoices'
   lines (allowance_used, capacity). TL_EDB when the query fails. */
tl_status demo__print_capacity(PGconn *c, const struct demo_opts *o,
                               struct tl_error *err);

/* Each invoice of the period with two or more segments (a plan change):
   per segment its plan, days and the sum of its lines. TL_EDB when the
   query fails. */
tl_status demo__print_segments(PGconn *c, const struct demo_opts *o,
                               struct tl_error *err);

/*
** After the close, through `tally serve` with an admin key: cust_0003's
** invoice voided and issued again by a close of the one customer (with
** 'cfg'), a credit note on cust_0004's platform fee, cust_0002's invoice
** paid in full; then the payment statuses of the period. The invoice files
** in 'dir' are written again, and the credit note's beside them. A
** customer the demo does not have is skipped. TL_EIO when `tally serve`
** answers otherwise than it should, TL_EDB.
*/
tl_status demo__corrections(PGconn *c, const struct demo_opts *o,
                            struct demo_env *env, const struct inv_config *cfg,
                            const char *dir, struct tl_error *err);

#endif
