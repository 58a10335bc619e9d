/* The summary's sections on outcomes and capacity licences, read from the
   finalized invoices (close.c prints them after the usage). */
#ifndef DEMO_SUMMARY_H
#define DEMO_SUMMARY_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "demo/demo.h"

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

#endif
