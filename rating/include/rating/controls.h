/* Usage controls as catalog data (spec: docs/pricing-rules.md, "Usage
   controls"): hard limits, alerts and progressive thresholds of a plan,
   a customer's overrides and wallet, and the effective set of a customer. */
#ifndef RATE_CONTROLS_H
#define RATE_CONTROLS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/dec.h"
#include "core/error.h"

struct rate_catalog;
struct rate_plan;
struct rate_customer;

/* A hard limit on one meter's quantity per period (after weights). */
struct rate_limit {
        const char *meter_id;
        size_t meter; /* index into the catalog's meters; RATE_NO_INDEX in
                         a customer's overrides until resolved */
        bool removed; /* a customer's `hard: null`: the plan's is lifted */
        struct tl_dec hard;
        unsigned line, col; /* where it is written */
};

/* An alert or a progressive threshold: spend (the draft's subtotal) or one
   meter's quantity at least 'at_least'. */
struct rate_alert {
        const char *id;
        bool by_quantity;     /* quantity_at_least (with meter_id) */
        const char *meter_id; /* by_quantity only */
        size_t meter;         /* as rate_limit.meter */
        struct tl_dec at_least;
        unsigned line, col;
};

struct rate_controls {
        size_t limit_count;
        const struct rate_limit *limits;
        size_t alert_count;
        const struct rate_alert *alerts;
        size_t progressive_count; /* plans only; spend thresholds */
        const struct rate_alert *progressive;
        bool has_low_balance; /* customers only: wallet.low_balance */
        struct tl_dec low_balance;
        /* customers only: wallet.prepaid, spending only what the balance
           holds (entitlements refuse it at or below zero) */
        bool prepaid;
};

/*
** The controls of a customer: its plan's, with the customer's `limits`
** replacing the plan's meter by meter (`hard: null` lifts one), its
** `alerts` replacing the plan's with the same id and adding the others,
** and its wallet. 'plan' and 'cust' (may be NULL, or have no overrides)
** are not changed; the result points into them and into 'arena'. TL_EINVAL
** when an override names a meter 'cat' does not define, as
** "<customers_file>:line:column: customers[id].limits.M: undefined meter
** 'M'"; TL_ENOMEM.
*/
tl_status rate_controls_effective(
    const struct rate_catalog *cat, const struct rate_plan *plan,
    const struct rate_customer *cust, const char *customers_file,
    struct tl_arena *arena, struct rate_controls *out, struct tl_error *err);

/*
** A customer's overrides ('c' as the customers file parses them) as JSON
** text, written by jansson, into '*out' (free() it): what the database
** keeps in customers.controls. TL_ENOMEM.
*/
tl_status rate_controls_to_json(const struct rate_controls *c, char **out,
                                struct tl_error *err);

/*
** Overrides stored by rate_controls_to_json, validated as the customers
** file's keys are ('name' starts messages), into 'arena'. TL_EINVAL,
** TL_EPARSE, TL_ELIMIT, TL_ENOMEM.
*/
tl_status rate_controls_parse_json(const char *name, const char *text,
                                   struct tl_arena *arena,
                                   const struct rate_controls **out,
                                   struct tl_error *err);

#endif
