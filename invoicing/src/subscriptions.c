/* Plan changes through the API: the current subscription ends where the
   new one starts, checked as the customers file's history is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "internal.h"
#include "schemas/db.h"

static const char LOCK_SQL[] =
    "SELECT 1 FROM customers WHERE customer_id = $1 FOR UPDATE";

static const char HISTORY_SQL[] =
    "SELECT plan, sub_start - date '1970-01-01', sub_end - date '1970-01-01'"
    " FROM subscriptions WHERE customer_id = $1 ORDER BY sub_start";

static const char END_SQL[] =
    "UPDATE subscriptions SET sub_end = $3::date"
    " WHERE customer_id = $1 AND sub_start = $2::date";

static const char OPEN_SQL[] =
    "WITH s AS (INSERT INTO subscriptions (customer_id, plan, sub_start)"
    " VALUES ($1, $2, $3::date) RETURNING 1)"
    " UPDATE customers SET plan = $2, sub_end = NULL, updated_at = now()"
    " WHERE customer_id = $1";

static tl_status run(PGconn *conn, const char *sql, int n, const char *const *p,
                     ExecStatusType want, PGresult **out, struct tl_error *err)
{
        PGresult *r = n ? sch_db_exec(conn, sql, n, p, 0) : PQexec(conn, sql);

        if (PQresultStatus(r) != want)
                return inv__db_fail(r, "subscriptions", err);
        if (out)
                *out = r;
        else
                PQclear(r);
        return TL_OK;
}

static void day_text(int64_t day, char out[11])
{
        int64_t y;
        unsigned m, d;

        tl_civil_from_days(day, &y, &m, &d);
        snprintf(out, 11, "%04d-%02u-%02u", (int)y, m, d);
}

static json_t *history_json(const struct rate_subscription *s, size_t n)
{
        json_t *a = json_array();
        char d[11];

        for (size_t i = 0; a && i < n; i++) {
                json_t *o = json_object();

                day_text(s[i].start_day, d);
                json_object_set_new(o, "plan", json_string(s[i].plan));
                json_object_set_new(o, "start", json_string(d));
                if (s[i].has_end) {
                        day_text(s[i].end_day, d);
                        json_object_set_new(o, "end", json_string(d));
                }
                json_array_append_new(a, o);
        }
        return a;
}

/* Under the customer's lock: the history read, changed and checked. */
static tl_status change(PGconn *conn, const char *id, const char *plan,
                        int64_t start_day, json_t **out, struct tl_error *err)
{
        const char *p[3] = {id, NULL, NULL};
        struct rate_subscription *subs = NULL;
        struct rate_customer cu;
        struct rate_customers one;
        uint32_t slots[16];
        char start[11], prev[11], ids[300], why[200];
        PGresult *r = NULL;
        size_t n;
        tl_status rc;

        if ((rc = run(conn, LOCK_SQL, 1, p, PGRES_TUPLES_OK, &r, err)))
                return rc;
        n = (size_t)PQntuples(r);
        PQclear(r);
        if (n == 0)
                return tl_fail(err, TL_ENOTFOUND,
                               "customer %s: no such "
                               "customer",
                               id);
        if ((rc = run(conn, HISTORY_SQL, 1, p, PGRES_TUPLES_OK, &r, err)))
                return rc;
        n = (size_t)PQntuples(r);
        subs = tl_calloc(n + 1, sizeof *subs);
        if (!subs) {
                PQclear(r);
                return tl_fail(err, TL_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
                subs[i].plan = PQgetvalue(r, (int)i, 0);
                subs[i].start_day = strtoll(PQgetvalue(r, (int)i, 1), NULL, 10);
                subs[i].has_end = !PQgetisnull(r, (int)i, 2);
                subs[i].end_day = strtoll(PQgetvalue(r, (int)i, 2), NULL, 10);
        }
        day_text(start_day, start);
        if (n && subs[n - 1].start_day >= start_day) {
                day_text(subs[n - 1].start_day, prev);
                rc = tl_fail(err, TL_EINVAL,
                             "customer %s: start %s must be after the "
                             "current subscription's start %s",
                             id, start, prev);
                goto out;
        }
        if (n && (!subs[n - 1].has_end || subs[n - 1].end_day > start_day)) {
                subs[n - 1].has_end = true;
                subs[n - 1].end_day = start_day;
        }
        subs[n] =
            (struct rate_subscription){.plan = plan, .start_day = start_day};
        if (rate_subscriptions_check(subs, n + 1, why, sizeof why) !=
            SIZE_MAX) {
                rc = tl_fail(err, TL_EINVAL, "customer %s: %s", id, why);
                goto out;
        }
        memset(&cu, 0, sizeof cu);
        cu.id = id;
        cu.id_len = (uint32_t)strlen(id);
        cu.subs = subs;
        cu.sub_count = n + 1;
        rate_customer_from_subs(&cu);
        memset(slots, 0, sizeof slots);
        one = (struct rate_customers){.path = "subscriptions",
                                      .count = 1,
                                      .items = &cu,
                                      .slot_mask = 15,
                                      .slots = slots};
        rate_customers_index_put(slots, 15, &cu, 0);
        {
                struct tl_buf b;

                tl_buf_init(&b, 0);
                rc = inv__array_add(&b, id, true, err);
                snprintf(ids, sizeof ids, "{%s}", rc ? "" : b.data);
                tl_buf_release(&b);
        }
        if (!rc)
                rc =
                    inv__check_finalized(conn, &one, "subscriptions", ids, err);
        if (!rc && n) {
                day_text(subs[n - 1].start_day, prev);
                p[1] = prev;
                p[2] = start;
                rc = run(conn, END_SQL, 3, p, PGRES_COMMAND_OK, NULL, err);
        }
        if (!rc) {
                const char *q[3] = {id, plan, start};

                rc = run(conn, OPEN_SQL, 3, q, PGRES_COMMAND_OK, NULL, err);
        }
        if (!rc && out)
                *out = history_json(subs, n + 1);
out:
        PQclear(r);
        tl_free(subs);
        return rc;
}

tl_status inv_subscription_change(PGconn *conn, const char *id,
                                  const char *plan, int64_t start_day,
                                  json_t **out, struct tl_error *err)
{
        tl_status rc = run(conn, "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL, err);

        if (out)
                *out = NULL;
        if (rc)
                return rc;
        rc = change(conn, id, plan, start_day, out, err);
        if (!rc)
                rc = run(conn, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, err);
        if (rc) {
                PQclear(PQexec(conn, "ROLLBACK"));
                if (out) {
                        json_decref(*out);
                        *out = NULL;
                }
        }
        return rc;
}
