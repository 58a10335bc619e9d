/* Pieces shared by the close, the usage command, reports and simulation. */
#ifndef INV_INTERNAL_H
#define INV_INTERNAL_H

#include <libpq-fe.h>

#include "core/arena.h"
#include "core/str.h"
#include "schemas/db.h"
#include "invoicing/invoicing.h"
#include "rating/customers.h"
#include "rating/invoice.h"
#include "rating/usage.h"

/* Customers as the database holds them, in query order. */
struct inv__custs {
        size_t count;
        struct rate_customer *items;
        size_t slot_mask; /* id -> index + 1, open addressing */
        uint32_t *slots;
        struct tl_arena arena;
};

/* A timestamptz from parameter 'p': microseconds since the epoch as text
   (inv__credit_as_of). */
#define INV__AT_US(p)                                                          \
        "(to_timestamp(0) + (" p "::int8 || ' microseconds')::interval)"

/* Whether grant g may be spent on customer c's invoices: in c's currency,
   or in none (0013_currency.sql: "the customer's currency"). */
#define INV__GRANT_CURRENCY_OK "(g.currency IS NULL OR g.currency = c.currency)"

/* The credit available at 'asof' (an SQL timestamptz) to customer c: each
   grant in its currency not expired by then (0010_balances.sql), less what
   was drawn from it. */
#define INV__CREDIT_LEFT(asof)                                                 \
        "coalesce((SELECT sum(greatest(g.amount + coalesce((SELECT"            \
        " sum(m.amount) FROM credit_ledger m WHERE m.grant_id ="               \
        " g.entry_id), 0), 0)) FROM credit_ledger g WHERE g.customer_id ="     \
        " c.customer_id AND g.grant_id IS NULL AND g.amount > 0 AND"           \
        " " INV__GRANT_CURRENCY_OK " AND"                                      \
        " (g.expires_at IS NULL OR g.expires_at > " asof ")), 0)"

/* The history [[plan, start, end], ...] of customer c, only when there is
   more than one subscription. */
#define INV__SUBSCRIPTIONS                                                     \
        "(SELECT json_agg(json_build_array(s.plan,"                            \
        " s.sub_start - date '1970-01-01', s.sub_end - date '1970-01-01')"     \
        " ORDER BY s.sub_start) FROM subscriptions s"                          \
        " WHERE s.customer_id = c.customer_id HAVING count(*) > 1)::text"

/* The SELECT list inv__custs_query reads, over "customers c", with the
   credit available at 'asof'. */
#define INV__CUSTOMER_COLUMNS_AT(asof)                                         \
        "c.customer_id, c.name, c.plan,"                                       \
        " (c.sub_start - date '1970-01-01'),"                                  \
        " (c.sub_end - date '1970-01-01'), c.tax_rate::text,"                  \
        " c.cohorts::text, " INV__CREDIT_LEFT(                                 \
            asof) "::text,"                                                    \
                  " c.controls::text, " INV__SUBSCRIPTIONS ", c.currency"

/* The same for readers that spend no credit (re-rating, simulation): the
   credit available now. */
#define INV__CUSTOMER_COLUMNS INV__CUSTOMER_COLUMNS_AT("now()")

/*
** The moment an invoice of period 'p' spends credit, for INV__AT_US, into
** 'out': the period's end, or cfg's now (the clock when unset) while the
** period runs. The close and the draft to date use the same moment, so the
** cost to date and the invoice agree.
*/
void inv__credit_as_of(const struct inv_config *cfg,
                       const struct rate_period *p, char out[24]);

/*
** Refuse histories of 'cs' (customers ids[] as a text[] literal) that
** change the plan changes inside a period already finalized: TL_ECONFLICT
** naming the customer, the date and the invoice ('what' names the input).
*/
struct rate_customers;
tl_status inv__check_finalized(PGconn *conn, const struct rate_customers *cs,
                               const char *what, const char *ids,
                               struct tl_error *err);

/*
** The currency customer 'id' is billed in into '*out': NULL when it has
** none (the catalog's default) or is not in the table (the callers report
** that their own way). TL_EDB.
*/
tl_status inv__customer_currency(PGconn *conn, const char *id,
                                 const struct rate_currency **out,
                                 struct tl_error *err);

/* TL_EINVAL naming customer 'id' billed in 'cur', which has no catalog
   in force for 'p' ('rules' the rules path). */
tl_status inv__no_catalog_in(const char *rules, const char *id,
                             const struct rate_currency *cur,
                             const struct rate_period *p, struct tl_error *err);

/* Run 'sql' (selecting INV__CUSTOMER_COLUMNS) into 'out' (released with
   inv__custs_release, also on failure). */
tl_status inv__custs_query(PGconn *conn, const char *sql, int nparams,
                           const char *const *params, struct inv__custs *out,
                           struct tl_error *err);
/* The same from the result 'r' of such a statement (taken, also on
   failure). */
tl_status inv__custs_result(PGresult *r, struct inv__custs *out,
                            struct tl_error *err);
void inv__custs_release(struct inv__custs *c);
/* The index of customer 'id', or RATE_NO_INDEX. */
size_t inv__custs_find(const struct inv__custs *c, const char *id, size_t len);
/* The ids as a PostgreSQL text[] literal, for "= ANY($1::text[])". */
tl_status inv__custs_array(const struct inv__custs *c, struct tl_buf *out,
                           struct tl_error *err);
/* Append 's' to a text[] literal being built in 'out' ("{" and "}" are
   the caller's; 'first' says whether a comma is needed). */
tl_status inv__array_add(struct tl_buf *out, const char *s, bool first,
                         struct tl_error *err);

/* The usage of a set of customers for one period, read from the database. */
struct inv__usage {
        struct rate_acc *acc;
        uint64_t rollup_rows, events;
        uint64_t *fingerprint; /* per customer: see invoices.usage_events */
        tl_u128 *daily;        /* per customer, day, [cloud, local] tokens */
        uint32_t days;
        /* per customer: its usage per segment when its plan changes in
           the period, else NULL (rate_segs_new) */
        struct rate_segs **segs;
        size_t seg_slots;
};

/*
** Fold the usage of 'cs' in 'p' into out->acc, priced by 'cat': rollups for
** event types whose meters all sum or count, the events themselves for the
** rest and for seats (with seat events before the period).
*/
tl_status inv__usage_read(PGconn *conn, const struct rate_catalog *cat,
                          const struct rate_period *p,
                          const struct inv__custs *cs, struct inv__usage *out,
                          struct tl_error *err);
void inv__usage_release(struct inv__usage *u);

/* inv__usage_read in two steps, for a caller that sends its statements
   with others (sch_db_exec_all): the statements for the customers of the
   text[] literal 'ids' (kept by pointer, as are 'q''s own members: 'q'
   must stay where it is), then the fold of their two results (taken,
   also on failure) for 'cs'. */
struct inv__usage_sql {
        const char *params[4], *seats[2];
        char types[32];
        struct sch_db_stmt stmt[2]; /* rollups, events */
};
void inv__usage_sql(const struct rate_catalog *cat, const struct rate_period *p,
                    const char *ids, struct inv__usage_sql *q);
tl_status inv__usage_fold(const struct rate_catalog *cat,
                          const struct rate_period *p,
                          const struct inv__custs *cs, PGresult *r[2],
                          struct inv__usage *out, struct tl_error *err);

/* Late usage found for the customers of a batch, already priced. */
struct inv__late_item {
        size_t ci;      /* customer index */
        char period[8]; /* the period corrected, "YYYY-MM" */
        char start[11]; /* its first day */
        struct tl_dec amount;
        uint64_t usage_events; /* the fingerprint it brings it to */
};
struct inv__late {
        size_t count;
        struct inv__late_item *items;
};

/*
** For each customer of 'cs', the finalized periods before 'p' whose usage
** changed since they were invoiced, each re-rated with the catalog of
** 'set' in force for it: the difference is what an adjustment line bills.
*/
tl_status inv__late_find(PGconn *conn, const struct rate_catalog_set *set,
                         const struct inv__custs *cs,
                         const struct rate_period *p, struct inv__late *out,
                         struct tl_error *err);
/* inv__late_find in two steps (as inv__usage_sql): its statement for the
   text[] literal 'ids' into 'st' ('params' its room, kept by pointer),
   then the late periods from its result 'r' (taken, also on failure). */
void inv__late_sql(const struct rate_period *p, const char *ids,
                   const char *params[2], struct sch_db_stmt *st);
tl_status inv__late_result(PGconn *conn, const struct rate_catalog_set *set,
                           const struct inv__custs *cs, PGresult *r,
                           struct inv__late *out, struct tl_error *err);
void inv__late_release(struct inv__late *l);

/*
** Price customer 'ci' of 'cs' from 'u' with the adjustments of 'late' for
** it: the very call `tally rate` makes, plus the adjustment lines.
*/
tl_status inv__price(const struct rate_catalog *cat,
                     const struct inv__custs *cs, size_t ci,
                     const struct inv__usage *u, const struct inv__late *late,
                     struct rate_invoice **out, struct tl_error *err);

/*
** inv_balance that also hands over the priced draft ('*priced', may be
** NULL; rate_invoice_free) and the customer as read ('cust', may be NULL;
** inv__custs_release), both only on success.
*/
tl_status inv__balance_priced(PGconn *conn, const struct inv_config *cfg,
                              const struct rate_catalog_set *set,
                              const char *id, struct inv_balance *out,
                              struct rate_invoice **priced,
                              struct inv__custs *cust, struct tl_error *err);

/*
** Append the stored document of 'inv' (customer 'ci' of 'u') to 'out':
** rating's invoice JSON, each usage line with what it was priced at
** ("model", "price", "size", "packages", "tiers"), and "issuer", "issued"
** ('issued', or null for a draft) and "daily" (document.c). Written by
** jansson. TL_OK, TL_ENOMEM, TL_EINTERNAL.
*/
tl_status inv__document(const struct inv_config *cfg,
                        const struct inv__usage *u, size_t ci,
                        const char *issued, const struct rate_invoice *inv,
                        struct tl_buf *out, struct tl_error *err);
/* The same document as a jansson value ('*out', the caller's reference). */
tl_status inv__document_doc(const struct inv_config *cfg,
                            const struct inv__usage *u, size_t ci,
                            const char *issued, const struct rate_invoice *inv,
                            struct json_t **out, struct tl_error *err);

/* The catalog set at cfg->rules, loaded and validated. */
tl_status inv__load_rules(const char *path, struct rate_catalog_set **out,
                          struct tl_error *err);

/* A failed statement as TL_EDB: "<what>: <server message>". */
tl_status inv__db_fail(PGresult *r, const char *what, struct tl_error *err);

#endif
