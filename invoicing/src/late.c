/* Late events: usage that reached a period after it was finalized. Each
   finalized invoice keeps the count of events it priced (usage_events);
   events are never deleted, so a larger count now means late events. The
   period is re-rated as it would be today and the difference from what
   was billed for it (the invoice plus earlier adjustments) becomes an
   adjustment line on the next invoice. The adjustment records the count
   it brought the period to, so the same events are never billed twice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "internal.h"
#include "schemas/db.h"

static const char LATE_SQL[] =
    "SELECT i.customer_id, to_char(i.period_start, 'YYYY-MM'),"
    " (i.base + coalesce(a.amount, 0))::text, cur.n"
    " FROM invoices i"
    " LEFT JOIN LATERAL (SELECT sum(x.amount) AS amount,"
    " max(x.usage_events) AS seen FROM invoice_adjustments x"
    " WHERE x.customer_id = i.customer_id"
    " AND x.corrected_period = i.period_start AND NOT EXISTS (SELECT 1"
    " FROM invoices v WHERE v.invoice_id = x.invoice_id"
    " AND v.payment_status = 'void')) a ON true"
    " CROSS JOIN LATERAL (SELECT coalesce((SELECT sum(r.event_count)"
    " FROM usage_rollups r WHERE r.customer_id = i.customer_id"
    " AND r.day >= i.period_start"
    " AND r.day < (i.period_start + interval '1 month')::date), 0)"
    " + (SELECT count(*) FROM events e WHERE e.customer_id = i.customer_id"
    " AND e.type = 4 AND e.event_time < ((i.period_start"
    " + interval '1 month')::date)::timestamp AT TIME ZONE 'UTC') AS n) cur"
    " WHERE i.customer_id = ANY($1::text[]) AND i.status = 'finalized'"
    " AND i.payment_status <> 'void'"
    " AND i.period_start < $2::date"
    " AND cur.n <> greatest(i.usage_events, coalesce(a.seen, 0))"
    " ORDER BY i.customer_id, i.period_start";

static const char ONE_SQL[] = "SELECT " INV__CUSTOMER_COLUMNS
                              " FROM customers c WHERE c.customer_id = $1";

/* Re-rate 'period' for customer 'id': fee + seat + usage + minimum now. */
static tl_status rerate(PGconn *conn, const struct rate_catalog_set *set,
                        const char *id, const struct rate_period *q,
                        struct tl_dec *base, struct tl_error *err)
{
        const struct rate_catalog *cat;
        const struct rate_currency *cur = NULL;
        struct inv__custs one;
        struct inv__usage u;
        struct rate_invoice *inv = NULL;
        const char *params[1] = {id};
        tl_status rc = inv__customer_currency(conn, id, &cur, err);

        if (rc)
                return rc;
        /* In the customer's currency now: a late period is re-rated as the
           invoice it corrects, in the currency it is billed in. */
        cat = rate_catalog_set_pick_in(set, q->start_day, cur);
        if (!cat && cur)
                return inv__no_catalog_in(NULL, id, cur, q, err);
        if (!cat)
                return tl_fail(err, TL_EINVAL,
                               "late usage of %s for customer %s: no "
                               "catalog in force for that period",
                               q->label, id);
        rc = inv__custs_query(conn, ONE_SQL, 1, params, &one, err);
        if (!rc && one.count != 1)
                rc = tl_fail(err, TL_ENOTFOUND, "customer %s vanished", id);
        memset(&u, 0, sizeof u);
        if (!rc)
                rc = inv__usage_read(conn, cat, q, &one, &u, err);
        if (!rc)
                rc = inv__price(cat, &one, 0, &u, NULL, &inv, err);
        if (!rc)
                rc = rate_invoice_base(inv, base, err);
        rate_invoice_free(&inv);
        inv__usage_release(&u);
        inv__custs_release(&one);
        return rc;
}

void inv__late_sql(const struct rate_period *p, const char *ids,
                   const char *params[2], struct sch_db_stmt *st)
{
        params[0] = ids;
        params[1] = p->start_iso;
        *st = (struct sch_db_stmt){LATE_SQL, 2, params, 0};
}

tl_status inv__late_find(PGconn *conn, const struct rate_catalog_set *set,
                         const struct inv__custs *cs,
                         const struct rate_period *p, struct inv__late *out,
                         struct tl_error *err)
{
        struct tl_buf ids;
        const char *params[2];
        struct sch_db_stmt st;
        PGresult *r;
        tl_status rc;

        memset(out, 0, sizeof *out);
        tl_buf_init(&ids, 0);
        rc = inv__custs_array(cs, &ids, err);
        if (rc) {
                tl_buf_release(&ids);
                return rc;
        }
        inv__late_sql(p, ids.data, params, &st);
        r = sch_db_exec(conn, st.sql, st.nparams, st.params, 0);
        tl_buf_release(&ids);
        return inv__late_result(conn, set, cs, r, out, err);
}

tl_status inv__late_result(PGconn *conn, const struct rate_catalog_set *set,
                           const struct inv__custs *cs, PGresult *r,
                           struct inv__late *out, struct tl_error *err)
{
        tl_status rc = TL_OK;

        memset(out, 0, sizeof *out);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                return inv__db_fail(r, "looking for late usage", err);
        if (PQntuples(r) == 0) {
                PQclear(r);
                return TL_OK;
        }
        out->items = tl_calloc((size_t)PQntuples(r), sizeof *out->items);
        if (!out->items) {
                PQclear(r);
                return tl_fail(err, TL_ENOMEM, "out of memory");
        }
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                struct inv__late_item *it = &out->items[out->count];
                const char *id = PQgetvalue(r, i, 0);
                struct rate_period q;
                struct tl_dec now, billed;

                it->ci = inv__custs_find(cs, id, strlen(id));
                rc = rate_period_parse(PQgetvalue(r, i, 1), &q, err);
                if (!rc)
                        rc = rerate(conn, set, id, &q, &now, err);
                if (!rc)
                        rc = tl_dec_parse(PQgetvalue(r, i, 2),
                                          (size_t)PQgetlength(r, i, 2), &billed,
                                          err);
                if (!rc)
                        rc = tl_dec_sub(&now, &billed, &it->amount, err);
                if (rc)
                        break;
                snprintf(it->period, sizeof it->period, "%s", q.label);
                snprintf(it->start, sizeof it->start, "%s", q.start_iso);
                it->usage_events = strtoull(PQgetvalue(r, i, 3), NULL, 10);
                out->count++;
        }
        PQclear(r);
        return rc;
}

void inv__late_release(struct inv__late *l)
{
        tl_free(l->items);
        memset(l, 0, sizeof *l);
}
