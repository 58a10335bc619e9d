/* A batch of customers' usage for one period, read from PostgreSQL into a
   rating accumulator: daily rollups where they are exact (sum and count
   meters), stored events where only events will do (max, latest,
   unique_count, seats). The pricing that follows is rating/'s own. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "internal.h"
#include "schemas/db_events.h"
#include "schemas/db.h"

static const char ROLLUP_SQL[] =
    "SELECT customer_id, type, day - date '1970-01-01', model,"
    " deployment, decoding,"
    " CASE WHEN dims = '{}'::jsonb THEN NULL ELSE dims::text END,"
    " event_count, input_tokens, output_tokens, cached_input_tokens,"
    " iterations, tokens, mac, task, outcome, units"
    " FROM usage_rollups WHERE customer_id = ANY($1::text[])"
    " AND day >= $2::date AND day < $3::date";

/* Seat events from before the period too (a device activated earlier is
   active in it); the other types only where rollups cannot serve. */
static const char EVENTS_SQL[] =
    "SELECT " SCH_DB_EVENT_COLUMNS
    " FROM events e LEFT JOIN LATERAL jsonb_each_text(e.dims) d ON true"
    " WHERE e.customer_id = ANY($1::text[])"
    " AND e.event_time < $3::timestamptz"
    " AND ((e.type = 4) OR (e.event_time >= $2::timestamptz"
    " AND e.type = ANY($4::int2[])))"
    " ORDER BY e.customer_id, e.source, e.event_id, d.key COLLATE \"C\"";

/* The same when every other type reads rollups (the usual catalog): seat
   events only, which the partial index events_seats (0007) answers. */
static const char SEATS_SQL[] =
    "SELECT " SCH_DB_EVENT_COLUMNS
    " FROM events e LEFT JOIN LATERAL jsonb_each_text(e.dims) d ON true"
    " WHERE e.customer_id = ANY($1::text[])"
    " AND e.event_time < $2::timestamptz AND e.type = 4"
    " ORDER BY e.customer_id, e.source, e.event_id, d.key COLLATE \"C\"";

static tl_u128 u128_col(const PGresult *r, int row, int col)
{
        const char *s = PQgetvalue(r, row, col);
        tl_u128 v = 0;

        for (; *s >= '0' && *s <= '9'; s++)
                v = v * 10 + (tl_u128)((unsigned char)*s - 48u);
        return v;
}

static struct sch_str str_col(const PGresult *r, int row, int col)
{
        struct sch_str s = {NULL, 0};

        if (!PQgetisnull(r, row, col) && PQgetlength(r, row, col) > 0) {
                s.ptr = PQgetvalue(r, row, col);
                s.len = (uint32_t)PQgetlength(r, row, col);
        }
        return s;
}

/* Tokens of a rollup into the customer's daily chart series. */
static void chart(struct inv__usage *u, size_t ci, int64_t day_index,
                  const struct sch_event *ev, const struct rate_rollup *ru)
{
        size_t slot;

        if (ev->type != SCH_TYPE_TOKENS || day_index < 0 ||
            day_index >= (int64_t)u->days || ci == RATE_NO_INDEX)
                return;
        slot = (ci * u->days + (size_t)day_index) * 2 +
               (ev->deployment == SCH_DEPLOY_DEVICE);
        u->daily[slot] += ru->input_tokens + ru->output_tokens;
}

/* The rollups' result 'r' (taken) into 'u'. */
static tl_status fold_rollups(PGresult *r, const struct rate_catalog *cat,
                              const struct rate_period *p,
                              const struct inv__custs *cs, struct inv__usage *u,
                              struct tl_error *err)
{
        tl_status rc = TL_OK;

        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                return inv__db_fail(r, "reading usage rollups", err);
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                struct sch_event ev;
                struct rate_rollup ru;
                int64_t day = strtoll(PQgetvalue(r, i, 2), NULL, 10);
                size_t ci = inv__custs_find(cs, PQgetvalue(r, i, 0),
                                            (size_t)PQgetlength(r, i, 0));
                json_t *dims = NULL;

                memset(&ev, 0, sizeof ev);
                ev.subject = str_col(r, i, 0);
                ev.type = (sch_event_type)atoi(PQgetvalue(r, i, 1));
                ev.time_us = day * TL_US_PER_DAY;
                ev.model = str_col(r, i, 3);
                ev.deployment = (sch_deployment)atoi(PQgetvalue(r, i, 4));
                ev.decoding = str_col(r, i, 5);
                memset(&ru, 0, sizeof ru);
                ru.events = (uint64_t)u128_col(r, i, 7);
                ru.input_tokens = u128_col(r, i, 8);
                ru.output_tokens = u128_col(r, i, 9);
                ru.cached_input_tokens = u128_col(r, i, 10);
                ru.iterations = u128_col(r, i, 11);
                ru.tokens = u128_col(r, i, 12);
                ru.mac = u128_col(r, i, 13);
                ev.task = str_col(r, i, 14);
                ev.outcome = str_col(r, i, 15);
                ru.units = u128_col(r, i, 16);
                u->rollup_rows++;
                if (ci != RATE_NO_INDEX)
                        u->fingerprint[ci] += ru.events;
                chart(u, ci, day - p->start_day, &ev, &ru);
                if (!rate_catalog_rollup_ok(cat, ev.type))
                        continue; /* read as events below */
                if (!PQgetisnull(r, i, 6)) {
                        const char *k;
                        json_t *v;

                        dims = json_loads(PQgetvalue(r, i, 6), 0, NULL);
                        json_object_foreach(dims, k, v)
                        {
                                if (!json_is_string(v) ||
                                    ev.dim_count >= SCH_MAX_DIMS)
                                        continue;
                                ev.dims[ev.dim_count].key =
                                    (struct sch_str){k, (uint32_t)strlen(k)};
                                ev.dims[ev.dim_count].value = (struct sch_str){
                                    json_string_value(v),
                                    (uint32_t)json_string_length(v)};
                                ev.dim_count++;
                        }
                }
                rc = rate_acc_add_rollup(u->acc, &ev, &ru, err);
                /* Rollups are daily and segments whole days: each lies in
                   one segment. */
                if (!rc && ci != RATE_NO_INDEX && u->segs[ci])
                        rc = rate_segs_add_rollup(u->segs[ci], &ev, &ru, err);
                json_decref(dims);
        }
        PQclear(r);
        return rc;
}

/* The events' result 'r' (taken) into 'u'. */
static tl_status fold_events(PGresult *r, const struct inv__custs *cs,
                             struct inv__usage *u, struct tl_error *err)
{
        tl_status rc = TL_OK;

        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                return inv__db_fail(r, "reading events", err);
        for (int row = 0; !rc && row < PQntuples(r);) {
                struct sch_event ev;
                size_t ci;

                sch_db_row_event(r, &row, &ev);
                u->events++;
                ci = inv__custs_find(cs, ev.subject.ptr, ev.subject.len);
                if (ev.type == SCH_TYPE_SEAT && ci != RATE_NO_INDEX)
                        u->fingerprint[ci]++;
                rc = rate_acc_add(u->acc, &ev, err);
                if (!rc && ci != RATE_NO_INDEX && u->segs[ci])
                        rc = rate_segs_add(u->segs[ci], &ev, err);
        }
        PQclear(r);
        return rc;
}

void inv__usage_sql(const struct rate_catalog *cat, const struct rate_period *p,
                    const char *ids, struct inv__usage_sql *q)
{
        q->params[0] = q->seats[0] = ids;
        q->params[1] = p->start_iso;
        q->params[2] = q->seats[1] = p->end_iso;
        q->params[3] = q->types;
        strcpy(q->types, "{");
        for (int t = SCH_TYPE_TOKENS; t <= SCH_TYPE_LAST; t++)
                if (t != SCH_TYPE_SEAT &&
                    !rate_catalog_rollup_ok(cat, (sch_event_type)t))
                        snprintf(q->types + strlen(q->types),
                                 sizeof q->types - strlen(q->types), "%s%d",
                                 q->types[1] ? "," : "", t);
        strcat(q->types, "}");
        q->stmt[0] = (struct sch_db_stmt){ROLLUP_SQL, 3, q->params, 0};
        q->stmt[1] = q->types[1]
                         ? (struct sch_db_stmt){EVENTS_SQL, 4, q->params, 0}
                         : (struct sch_db_stmt){SEATS_SQL, 2, q->seats, 0};
}

tl_status inv__usage_fold(const struct rate_catalog *cat,
                          const struct rate_period *p,
                          const struct inv__custs *cs, PGresult *r[2],
                          struct inv__usage *u, struct tl_error *err)
{
        tl_status rc = TL_OK;

        memset(u, 0, sizeof *u);
        u->days = p->days;
        u->fingerprint = tl_calloc(cs->count + 1, sizeof *u->fingerprint);
        u->daily = tl_calloc((cs->count + 1) * p->days * 2, sizeof *u->daily);
        u->segs = tl_calloc(cs->count + 1, sizeof *u->segs);
        u->seg_slots = cs->count;
        if (!u->fingerprint || !u->daily || !u->segs)
                rc = tl_fail(err, TL_ENOMEM, "out of memory");
        if (!rc)
                rc = rate_acc_new(cat, p, &u->acc, err);
        for (size_t i = 0; !rc && i < cs->count; i++)
                rc = rate_segs_new(cat, &cs->items[i], p, &u->segs[i], err);
        if (rc) {
                PQclear(r[0]);
                PQclear(r[1]);
                return rc;
        }
        rc = fold_rollups(r[0], cat, p, cs, u, err);
        if (rc) {
                PQclear(r[1]);
                return rc;
        }
        return fold_events(r[1], cs, u, err);
}

tl_status inv__usage_read(PGconn *conn, const struct rate_catalog *cat,
                          const struct rate_period *p,
                          const struct inv__custs *cs, struct inv__usage *u,
                          struct tl_error *err)
{
        struct inv__usage_sql q;
        struct tl_buf ids;
        PGresult *r[2];
        tl_status rc;

        memset(u, 0, sizeof *u);
        tl_buf_init(&ids, 0);
        rc = inv__custs_array(cs, &ids, err);
        if (!rc) {
                inv__usage_sql(cat, p, ids.data, &q);
                sch_db_exec_all(conn, q.stmt, 2, r);
                rc = inv__usage_fold(cat, p, cs, r, u, err);
        }
        tl_buf_release(&ids);
        return rc;
}

void inv__usage_release(struct inv__usage *u)
{
        rate_acc_free(&u->acc);
        for (size_t i = 0; u->segs && i < u->seg_slots; i++)
                rate_segs_free(&u->segs[i]);
        tl_free(u->segs);
        tl_free(u->fingerprint);
        tl_free(u->daily);
        memset(u, 0, sizeof *u);
}

tl_status inv__price(const struct rate_catalog *cat,
                     const struct inv__custs *cs, size_t ci,
                     const struct inv__usage *u, const struct inv__late *late,
                     struct rate_invoice **out, struct tl_error *err)
{
        static const struct rate_customers table = {.path = "customers table"};
        struct rate_adjustment adj[16];
        struct rate_invoice_opts opts = {0, adj, u->segs[ci]};

        for (size_t i = 0; late && i < late->count; i++)
                if (late->items[i].ci == ci &&
                    !tl_dec_is_zero(&late->items[i].amount)) {
                        if (opts.adjustment_count == 16)
                                return tl_fail(err, TL_ELIMIT,
                                               "customer %s: more than 16 "
                                               "periods to adjust at once",
                                               cs->items[ci].id);
                        adj[opts.adjustment_count].period =
                            late->items[i].period;
                        adj[opts.adjustment_count++].amount =
                            late->items[i].amount;
                }
        return rate_invoice_build_opts(cat, &table, &cs->items[ci], u->acc,
                                       rate_acc_find(u->acc, cs->items[ci].id),
                                       &opts, out, err);
}
