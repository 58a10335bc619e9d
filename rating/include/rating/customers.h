/* The customers file (spec: docs/pricing-rules.md, "Customers file"): who is
   billed, on which plan, from when, with which tax, credit and cohorts. */
#ifndef RATE_CUSTOMERS_H
#define RATE_CUSTOMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/dec.h"
#include "core/error.h"
#include "rating/catalog.h"
#include "rating/controls.h"

/* A credit grant of the customers file; without expiry unless 'expires'. */
struct rate_grant {
        struct tl_dec amount; /* >= 0 */
        bool expires;
        int64_t expires_day; /* spendable before this day (00:00 UTC) */
};

/* An explicit placement: this customer is in 'cohort' of 'experiment'. */
struct rate_placement {
        const char *experiment;
        const char *cohort;
        unsigned line, col;
};

/* One subscription of a customer's history: 'plan' over the days
   [start_day, end_day) (no end: the current one). */
struct rate_subscription {
        const char *plan;
        unsigned plan_line, plan_col;   /* where `plan` is written */
        unsigned start_line, start_col; /* where `start` is written */
        int64_t start_day;
        bool has_end;
        int64_t end_day;
};

struct rate_customer {
        const char *id;
        uint32_t id_len;
        const char *name;
        const char *plan;
        unsigned line, col;           /* where the entry starts */
        unsigned plan_line, plan_col; /* where `plan` is written */
        int64_t start_day;            /* first subscribed day */
        bool has_end;
        int64_t end_day;        /* first day no longer subscribed (exclusive) */
        struct tl_dec tax_rate; /* 0 <= rate <= 1 */
        /* Billed in this currency: catalogs in it only. NULL: the catalog
           in force, whatever its currency (the catalog's default). */
        const struct rate_currency *currency;
        struct tl_dec credits; /* prepaid balance, >= 0: the grants' sum */
        size_t grant_count;    /* `credits` as grants (a number is one) */
        const struct rate_grant *grants;
        size_t placement_count;
        const struct rate_placement *placements;
        /* Overrides of the plan's limits and alerts, and the wallet; NULL
           when none is written (rate_controls_effective merges them). */
        const struct rate_controls *controls;
        /* The long form's history by start, non-overlapping (0 for the
           short form, which is one subscription: plan, start, end above).
           With a history, plan is the last one's, start_day the first's
           start and has_end/end_day the last's end. */
        size_t sub_count;
        const struct rate_subscription *subs;
};

struct rate_customers {
        const char *path;
        size_t count;
        const struct rate_customer *items; /* sorted by id (bytes) */
        /* Ids hashed for one probe per event when rating: slot values are
           item index + 1, 0 is empty. */
        size_t slot_mask;
        const uint32_t *slots;
        struct tl_arena arena; /* owns everything */
};

/*
** Load and validate a customers file of 'len' bytes at 'buf' ('name' for
** messages): unknown or missing keys, duplicate ids, bad dates (end after
** start), overlapping subscriptions, the short form (plan, start, end) and
** the long one (subscriptions) at once, negative credits, tax_rate outside
** [0, 1]. Plans and cohorts are
** checked against a catalog when rating, since the catalog in force
** depends on the period. Returns TL_OK and '*out', TL_EINVAL (every fault
** in 'diags', the first in 'err'), TL_EPARSE, TL_ELIMIT or TL_ENOMEM.
*/
tl_status rate_customers_parse(const char *name, const void *buf, size_t len,
                               struct rate_customers **out,
                               struct rate_diags *diags, struct tl_error *err);

/* Read the file at 'path' and rate_customers_parse it. Adds TL_EIO. */
tl_status rate_customers_load_file(const char *path,
                                   struct rate_customers **out,
                                   struct rate_diags *diags,
                                   struct tl_error *err);

void rate_customers_free(struct rate_customers **pp);

/* The credit of 'c''s grants not expired on 'day' (days since 1970): what
   an invoice of a period ending on 'day' may spend, before any draw. */
struct tl_dec rate_customer_credit_on(const struct rate_customer *c,
                                      int64_t day);

/*
** Check and order a history of 'n' subscriptions in place (by start):
** each end after its start, no two overlapping, only the last open.
** Returns SIZE_MAX when it holds, else the index (after sorting) of the
** first at fault, with the reason in 'why' ('len' bytes).
*/
size_t rate_subscriptions_check(struct rate_subscription *subs, size_t n,
                                char *why, size_t len);

/* Set the short-form fields of 'c' (plan, start_day, has_end, end_day)
   from its history 'c->subs' (checked, n >= 1). */
void rate_customer_from_subs(struct rate_customer *c);

/* The customer with id 'len' bytes at 'id', or NULL. One hash probe: this
   runs once per rated event. */
const struct rate_customer *rate_customers_find(const struct rate_customers *cs,
                                                const char *id, size_t len);

/* The hash of an id the index uses, and the lookup for a caller that has
   it already (offline rating hashes each subject once, for its routing
   too). */
uint64_t rate_customers_hash(const char *id, size_t len);
const struct rate_customer *
rate_customers_find_hashed(const struct rate_customers *cs, const char *id,
                           size_t len, uint64_t h);

/*
** The id index itself, for every list of customers (this file's, and
** invoicing's read from the database): open addressing over
** rate_customers_slots(count) zeroed slots, a slot holding an item's index
** + 1. Put items[i] (its id and id_len set); get returns the index of the
** id of hash 'h' (rate_customers_hash), or RATE_NO_INDEX.
*/
size_t rate_customers_slots(size_t count);
void rate_customers_index_put(uint32_t *slots, size_t mask,
                              const struct rate_customer *items, size_t i);
size_t rate_customers_index_get(const uint32_t *slots, size_t mask,
                                const struct rate_customer *items,
                                const char *id, size_t len, uint64_t h);

#endif
