/* A customer's prepaid balance: its unexpired grants less what invoices
   drew from them and less the draft to date (docs/pricing-rules.md). */
#include <string.h>

#include "core/time.h"
#include "internal.h"

/* The credit column is what the draft to date may spend: the grants not
   expired now, less every draw (finalized and interim invoices). */
#define ONE_COLUMNS INV__CUSTOMER_COLUMNS_AT(INV__AT_US("$2"))
static const char ONE_SQL[] =
    "SELECT " ONE_COLUMNS " FROM customers c WHERE c.customer_id = $1";

tl_status inv__balance_priced(PGconn *conn, const struct inv_config *cfg,
                              const struct rate_catalog_set *set,
                              const char *id, struct inv_balance *out,
                              struct rate_invoice **priced,
                              struct inv__custs *cust, struct tl_error *err)
{
        tl_time_us now = cfg->now_us ? cfg->now_us : tl_time_now_us();
        const struct rate_catalog *cat;
        const struct rate_currency *cur = NULL;
        struct rate_period p;
        struct inv__custs one;
        struct inv__usage u;
        struct inv__late late;
        struct rate_invoice *inv = NULL;
        char asof[24];
        const char *params[2] = {id, asof};
        tl_status rc = TL_OK;

        memset(out, 0, sizeof *out);
        memset(&one, 0, sizeof one);
        memset(&u, 0, sizeof u);
        memset(&late, 0, sizeof late);
        /* Floor division: the day of the instant 'now'. */
        rate_period_of_day(
            now / TL_US_PER_DAY - (now % TL_US_PER_DAY < 0 ? 1 : 0), &p);
        inv__credit_as_of(cfg, &p, asof);
        rc = inv__customer_currency(conn, id, &cur, err);
        if (rc)
                return rc;
        cat = rate_catalog_set_pick_in(set, p.start_day, cur);
        if (!cat && cur)
                return inv__no_catalog_in(cfg->rules, id, cur, &p, err);
        if (!cat)
                return tl_fail(err, TL_EINVAL,
                               "balance: no catalog in force for %s", p.label);
        rc = inv__custs_query(conn, ONE_SQL, 2, params, &one, err);
        if (!rc && one.count == 0)
                rc = tl_fail(err, TL_ENOTFOUND,
                             "customer %s: not in the customers table", id);
        if (!rc)
                rc = inv__usage_read(conn, cat, &p, &one, &u, err);
        if (!rc)
                rc = inv__late_find(conn, set, &one, &p, &late, err);
        if (!rc)
                rc = inv__price(cat, &one, 0, &u, &late, &inv, err);
        if (!rc) {
                snprintf(out->currency, sizeof out->currency, "%s",
                         cat->currency->code);
                snprintf(out->period, sizeof out->period, "%s", p.label);
                out->credit_left = one.items[0].credits;
                out->draft = inv->subtotal;
                rc = tl_dec_sub(&out->credit_left, &out->draft, &out->balance,
                                err);
        }
        if (!rc && priced) {
                *priced = inv;
                inv = NULL;
        }
        if (!rc && cust) {
                *cust = one;
                memset(&one, 0, sizeof one);
        }
        rate_invoice_free(&inv);
        inv__late_release(&late);
        inv__usage_release(&u);
        inv__custs_release(&one);
        return rc;
}

tl_status inv_balance(PGconn *conn, const struct inv_config *cfg,
                      const struct rate_catalog_set *set, const char *id,
                      struct inv_balance *out, struct tl_error *err)
{
        return inv__balance_priced(conn, cfg, set, id, out, NULL, NULL, err);
}
