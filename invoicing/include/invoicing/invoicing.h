/* The monthly close on PostgreSQL (spec: docs/formats.md): customers imported
   from their file, drafts priced from the rollups, finalization with
   gap-free numbers, late-event adjustments, credits carried over, reports
   and what-if simulations. The pricing is rating/'s, unchanged. */
#ifndef INV_INVOICING_H
#define INV_INVOICING_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/arena.h"
#include "core/dec.h"
#include "core/error.h"
#include "core/str.h"
#include "core/time.h"
#include "rating/catalog.h"
#include "rating/usage.h"

#define INV_MAX_ADDRESS 6

/* Who issues the invoices: printed on them, and the numbering scope. */
struct inv_issuer {
        char *id;     /* numbering scope, default "tally" */
        char *prefix; /* number prefix, default "INV" */
        char *name;
        char *email;
        char *address[INV_MAX_ADDRESS];
        int address_count;
};

struct inv_config {
        char *rules;     /* catalog file or directory (required) */
        long grace_days; /* finalization waits this long, default 3 */
        long batch;      /* customers claimed per transaction, 500 */
        long jobs;       /* concurrent connections of a close; 0: one per
                            CPU, at most 8 */
        struct inv_issuer issuer;
        tl_time_us now_us; /* 0: the clock; tests and the demo pin it */
        /* An invoice is due this long after it is issued, default 30. */
        long payment_terms_days;
};

void inv_config_init(struct inv_config *c);
void inv_config_release(struct inv_config *c);

/*
** Read the `invoicing:` section of the tally config file at 'path' (NULL:
** none), then TALLY_RULES from the environment. Keys: rules, grace_days,
** payment_terms_days, batch, jobs, issuer {id, prefix, name, email,
** address: [lines]}; values expand ${VAR} and "k_file" reads k from a
** file (core/config.h). The `database:` section goes to libpq
** (tl_conf_database). Unknown keys and bad values are TL_EINVAL with
** file:line:col, never quoting a value.
*/
tl_status inv_config_load(struct inv_config *c, const char *path,
                          struct tl_error *err);

/* ---- customers ------------------------------------------------------------
 */

struct inv_import_stats {
        uint64_t inserted, updated, credit_grants;
};

/*
** Load the customers file at 'path' (docs/pricing-rules.md) and upsert every
** customer in one transaction: all or nothing. Its `credits` value is the
** total prepaid credit the file grants; a re-import grants only the
** difference from what earlier imports granted. Returns TL_OK; TL_EINVAL
** etc. with every fault in 'diags' (file:line:col); TL_EDB.
*/
tl_status inv_customers_import(PGconn *conn, const char *path,
                               struct inv_import_stats *stats,
                               struct rate_diags *diags, struct tl_error *err);

/*
** Upsert the customers 'cs' (already validated) in one statement, as
** inv_customers_import does after reading its file ('what' names the input
** in messages). Returns TL_OK and 'stats'; TL_EDB.
*/
struct rate_customers;
tl_status inv_customers_upsert(PGconn *conn, const struct rate_customers *cs,
                               const char *what, struct inv_import_stats *stats,
                               struct tl_error *err);

/*
** A plan change (spec: subscriptions.md): end customer 'id''s current
** subscription on 'start_day' and open one to 'plan' from it, in one
** transaction. '*out' gets the history after it as a JSON array of {plan,
** start, end?} (free with json_decref; may be NULL). Returns TL_OK;
** TL_ENOTFOUND (no such customer); TL_EINVAL (start not after the current
** subscription's start); TL_ECONFLICT (a period already finalized would
** change, naming its invoice); TL_EDB.
*/
tl_status inv_subscription_change(PGconn *conn, const char *id,
                                  const char *plan, int64_t start_day,
                                  json_t **out, struct tl_error *err);

/* ---- the close ------------------------------------------------------------
 */

struct inv_close_opts {
        struct rate_period period;
        const char *customer; /* NULL: every customer of the period */
        bool finalize;
        FILE *progress; /* NULL: quiet */
};

struct inv_close_stats {
        uint64_t customers; /* rated in this run */
        uint64_t drafted;
        uint64_t finalized;
        uint64_t skipped;     /* already finalized before this run */
        uint64_t failed;      /* not produced: a rating error, reported */
        uint64_t adjustments; /* adjustment lines written */
        uint64_t rollup_rows, events;
        char first_number[64], last_number[64];
        int64_t ms_total, ms_read, ms_rate, ms_store;
};

/*
** Draft or finalize the invoices of opts->period. Customers are claimed in
** batches with FOR UPDATE SKIP LOCKED, so several processes may close one
** period at once; each batch is one transaction (numbers, documents,
** credit applied, adjustments), so a killed run leaves whole batches and a
** rerun finishes the rest. Finalized invoices are never touched again.
** The run itself uses cfg->jobs connections (threads): the first is
** 'conn', the others are opened with its parameters. Timings in 'stats'
** are summed over the jobs; ms_total is wall clock. Finalizing before the
*period's end + grace days is TL_EUSAGE. A
** customer whose invoice cannot be priced (e.g. a seat class without a
** price) is reported to opts->progress or stderr, counted in 'failed', and
** the rest go on; the result is then TL_EINVAL.
*/
tl_status inv_close(PGconn *conn, const struct inv_config *cfg,
                    const struct inv_close_opts *opts,
                    struct inv_close_stats *stats, struct tl_error *err);

/*
** The draft invoice of customer 'id' for 'period' priced now from the
** database (the rollups, pending late adjustments, the credit balance), as
** JSON ('json') or a table. Nothing is written. TL_ENOTFOUND for an
** unknown customer.
*/
tl_status inv_usage(PGconn *conn, const struct inv_config *cfg, const char *id,
                    const struct rate_period *period, bool json,
                    struct tl_buf *out, struct tl_error *err);

/*
** inv_usage with the catalog set 'set' already loaded (a service's
** hot-reloaded snapshot): the same code, so `tally usage`, `tally invoice`
** and `tally serve` give one answer. '*version' (may be NULL) is set to the
** version of the catalog that priced it, owned by 'set'.
*/
tl_status inv_draft(PGconn *conn, const struct inv_config *cfg,
                    const struct rate_catalog_set *set, const char *id,
                    const struct rate_period *period, bool json,
                    struct tl_buf *out, const char **version,
                    struct tl_error *err);

/* A customer's prepaid balance, exact, in the currency of the catalog in
   force for the running period. */
struct inv_balance {
        char currency[4];
        char period[8];            /* the running period, "YYYY-MM" */
        struct tl_dec credit_left; /* unexpired grants less every draw */
        struct tl_dec draft;       /* the draft to date, before credit */
        struct tl_dec balance;     /* credit_left - draft; may be negative */
};

/*
** The balance of customer 'id' at cfg's now (the clock when unset): the
** credit grants not expired by then, less what finalized and interim
** invoices drew from them, less the subtotal of the running period's draft
** to date, priced by inv_draft's code with 'set'. Nothing is written.
** TL_ENOTFOUND for an unknown customer, TL_EINVAL when no catalog is in
** force, TL_EDB, TL_ENOMEM, TL_EOVERFLOW.
*/
tl_status inv_balance(PGconn *conn, const struct inv_config *cfg,
                      const struct rate_catalog_set *set, const char *id,
                      struct inv_balance *out, struct tl_error *err);

/* One meter of a customer under its usage controls. */
struct inv_meter_state {
        const char *meter;           /* id, owned by the state's arena */
        struct tl_dec used;          /* after weights, over its usage lines */
        struct tl_dec included_left; /* allowance not used yet */
        bool has_hard;
        struct tl_dec hard;
        struct tl_dec remaining; /* hard - used, never below zero */
        bool reached;            /* used >= hard */
};

/* One alert of a customer: spend (meter NULL) or a meter's quantity. */
struct inv_alert_state {
        const char *id, *meter;
        struct tl_dec at_least;
        bool crossed;
};

/* What entitlements and crossing detection read (controls.md). */
struct inv_controls_state {
        struct inv_balance balance;
        bool prepaid; /* wallet.prepaid */
        bool has_low_balance;
        struct tl_dec low_balance;
        bool low;           /* has_low_balance and balance <= low_balance */
        bool allowed;       /* no hard limit reached, and not a prepaid wallet
                               at or below zero */
        size_t meter_count; /* meters with usage lines or a hard limit */
        struct inv_meter_state *meters;
        size_t alert_count;
        struct inv_alert_state *alerts;
        struct tl_arena arena;
};

/*
** The controls of customer 'id' now, from one pricing of the running
** period's draft (inv_balance's): per meter used and allowance left, hard
** limits (rate_controls_effective of its plan and overrides), alerts
** crossed, balance. A REPEATABLE READ transaction makes it one snapshot
** when 'conn' is idle. Release 'out' with inv_controls_state_release (also
** after a failure). Statuses as inv_balance.
*/
tl_status inv_controls_state(PGconn *conn, const struct inv_config *cfg,
                             const struct rate_catalog_set *set, const char *id,
                             struct inv_controls_state *out,
                             struct tl_error *err);
void inv_controls_state_release(struct inv_controls_state *s);

/*
** inv_draft's JSON document as a jansson value ('*doc', the caller's
** reference): for a service that embeds it in its own answer without
** writing and reading it back. The same code, so the same bill.
*/
struct json_t;
tl_status inv_draft_doc(PGconn *conn, const struct inv_config *cfg,
                        const struct rate_catalog_set *set, const char *id,
                        const struct rate_period *period, struct json_t **doc,
                        const char **version, struct tl_error *err);

/* Write every stored invoice of 'period' (or of one customer) to 'dir':
   <name>.json, <name>.pdf, and invoices-YYYY-MM.csv, always of the whole
   period and without void invoices (a void invoice's PDF says VOID; its
   JSON is the frozen document). '*written' counts invoices written. */
tl_status inv_write_files(PGconn *conn, const struct rate_period *period,
                          const char *customer, const char *dir,
                          uint64_t *written, struct tl_error *err);

/* Revenue per plan and per experiment cohort of the stored invoices. */
tl_status inv_report(PGconn *conn, const struct rate_period *period,
                     struct tl_buf *out, struct tl_error *err);

/*
** Re-rate 'period' with the catalog(s) at 'rules' in a READ ONLY
** transaction: revenue (fee + seat + usage + minimum) per customer and per
** cohort, before (the stored invoices, or the configured rules where none
** is stored) and after.
*/
tl_status inv_simulate(PGconn *conn, const struct inv_config *cfg,
                       const char *rules, const struct rate_period *period,
                       struct tl_buf *out, struct tl_error *err);

#endif
