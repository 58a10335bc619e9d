/* The month's summary of outcome pricing and capacity licences, read back
   from the finalized invoices, beside the engine's own counts. */
#include "summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Run 'sql' with the period start as $1. */
static PGresult *query(PGconn *c, const char *sql, const struct demo_opts *o,
                       struct tl_error *err)
{
        const char *params[1] = {o->period.start_iso};
        PGresult *r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);

        if (PQresultStatus(r) == PGRES_TUPLES_OK)
                return r;
        tl_fail(err, TL_EDB, "%s", PQresultErrorMessage(r));
        PQclear(r);
        return NULL;
}

/* The invoiced quantity of 'deployment' and 'outcome' in 'r' (rows of
   deployment, outcome, quantity), "0" when absent. */
static const char *invoiced(PGresult *r, const char *deployment,
                            const char *outcome)
{
        for (int i = 0; i < PQntuples(r); i++)
                if (!strcmp(PQgetvalue(r, i, 0), deployment) &&
                    !strcmp(PQgetvalue(r, i, 1), outcome))
                        return PQgetvalue(r, i, 2);
        return "0";
}

tl_status demo__print_outcomes(PGconn *c, const struct demo_opts *o,
                               const struct demo_counts *n, bool *ok,
                               struct tl_error *err)
{
        static const char GROUPS_SQL[] =
            "SELECT g->>'deployment', g->>'outcome',"
            " sum((g->>'quantity')::numeric)::text"
            " FROM invoices i, json_array_elements(i.body->'usage') u,"
            " json_array_elements(u->'groups') g"
            " WHERE i.period_start = $1::date AND u->>'meter' = 'resolutions'"
            " AND i.payment_status <> 'void'"
            " GROUP BY 1, 2";
        static const char LINES_SQL[] =
            "SELECT count(*), "
            "trim_scale(coalesce(sum((l->>'quantity')::numeric), 0))"
            "::text, coalesce(sum((l->>'amount')::numeric), 0)::text"
            " FROM invoices i, json_array_elements(i.body->'lines') l"
            " WHERE i.period_start = $1::date"
            " AND i.payment_status <> 'void'"
            " AND l->>'charge' = 'per-resolution'";
        static const char *const WHERE[2] = {"cloud", "device"};
        static const char *const LABEL[2] = {"cloud:    ", "on device:"};
        PGresult *g = query(c, GROUPS_SQL, o, err), *l;
        bool same = true;

        if (!g)
                return TL_EDB;
        printf("\nOutcomes, by deployment (support.resolution, reported by "
               "the engine with each request)\n");
        for (int d = 0; d < 2; d++) {
                const char *s = invoiced(g, WHERE[d], "success"),
                           *f = invoiced(g, WHERE[d], "failure");
                bool eq = strtoull(s, NULL, 10) == n->outcomes[d][0] &&
                          strtoull(f, NULL, 10) == n->outcomes[d][1];

                printf("  %s %llu resolved, %llu failed; invoiced %s "
                       "success, %s failure\n",
                       LABEL[d], (unsigned long long)n->outcomes[d][0],
                       (unsigned long long)n->outcomes[d][1], s, f);
                same = same && eq;
        }
        PQclear(g);
        if (!(l = query(c, LINES_SQL, o, err)))
                return TL_EDB;
        printf("  priced alike wherever they ran: %s resolutions (a failed "
               "attempt at half weight) on %s invoice(s), $%s  %s\n",
               PQgetvalue(l, 0, 1), PQgetvalue(l, 0, 0), PQgetvalue(l, 0, 2),
               same ? "[equal]" : "[MISMATCH]");
        PQclear(l);
        *ok = *ok && same;
        return TL_OK;
}

/* Lines with a segment are left out: across a plan change a prorated
   `included` shows allowance_used and capacity too, without a licence. */
tl_status demo__print_capacity(PGconn *c, const struct demo_opts *o,
                               struct tl_error *err)
{
        static const char SQL[] =
            "SELECT i.customer_id, coalesce((SELECT"
            "  sum((s->>'quantity')::numeric) FROM"
            "  json_array_elements(i.body->'lines') s"
            "  WHERE s->>'kind' = 'seat'), 0)::text,"
            " l->>'allowance_used', l->>'capacity', l->>'quantity',"
            " l->>'amount'"
            " FROM invoices i, json_array_elements(i.body->'lines') l"
            " WHERE i.period_start = $1::date AND l->>'capacity' IS NOT NULL"
            " AND i.payment_status <> 'void'"
            " AND l->'segment' IS NULL"
            " ORDER BY i.customer_id COLLATE \"C\", l->>'charge'";
        PGresult *r = query(c, SQL, o, err);

        if (!r)
                return TL_EDB;
        printf("\nCapacity licences: the local allowance grows with seats "
               "(from the invoices' lines)\n");
        if (PQntuples(r))
                printf("  %-10s %11s %16s %16s %14s %9s\n", "customer",
                       "seat-months", "allowance used", "capacity", "beyond it",
                       "billed $");
        for (int i = 0; i < PQntuples(r); i++)
                printf("  %-10s %11s %16s %16s %14s %9s\n", PQgetvalue(r, i, 0),
                       PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                       PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
                       PQgetvalue(r, i, 5));
        if (!PQntuples(r))
                printf("  no customer on a capacity licence\n");
        else
                printf("  (on-device output tokens; capacity = included + "
                       "per-seat allowance x seat-days / days)\n");
        PQclear(r);
        return TL_OK;
}
