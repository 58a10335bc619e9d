/* POST /v1/customers/{id}/subscriptions: a plan change, {plan, start}: the
   current subscription ends on start and the new one opens (spec:
   subscriptions.md). Admin keys only. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include "invoicing/invoicing.h"
#include "rating/reload.h"
#include "schemas/db.h"

/* 'text' as a day YYYY-MM-DD, or false. */
static bool day_of(const char *text, int64_t *out)
{
        unsigned y, m, d;
        char tail;

        if (!text || strlen(text) != 10 || text[4] != '-' || text[7] != '-' ||
            strspn(text, "0123456789-") != 10 ||
            sscanf(text, "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3 || y < 1970 ||
            m < 1 || m > 12 || d < 1 || d > tl_days_in_month(y, m))
                return false;
        *out = tl_days_from_civil(y, m, d);
        return true;
}

/* The currency customer 'id' is billed in, NULL for none (or no such
   customer: the change reports that). */
static tl_status currency_of(PGconn *db, const char *id,
                             const struct rate_currency **out,
                             struct tl_error *err)
{
        const char *params[1] = {id};
        PGresult *r = sch_db_exec(
            db, "SELECT currency FROM customers WHERE customer_id = $1", 1,
            params, 0);

        *out = NULL;
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                tl_fail(err, TL_EDB, "subscriptions: %s", PQerrorMessage(db));
                PQclear(r);
                return TL_EDB;
        }
        if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
                *out = rate_currency_find(PQgetvalue(r, 0, 0), 3);
        PQclear(r);
        return TL_OK;
}

/* Whether 'plan' is a plan of the catalog in force in currency 'cur' (the
   customer's; NULL: any) for the period of 'day' (a plan the close could
   price); else why not in 'why'. */
static bool plan_known(struct api__call *c, const struct rate_currency *cur,
                       const char *plan, int64_t day, const char *text,
                       char *why, size_t size)
{
        const struct rate_catalog_set *set =
            rate_reloader_acquire(c->srv->rules);
        struct rate_period p;
        const struct rate_catalog *cat;
        bool ok;

        rate_period_of_day(day, &p);
        cat = set ? rate_catalog_set_pick_in(set, p.start_day, cur) : NULL;
        ok = cat && rate_catalog_plan(cat, plan) != RATE_NO_INDEX;
        if (!cat && cur)
                snprintf(why, size,
                         "start: the customer is billed in %s and no catalog "
                         "in %s is in force on %s (period %s)",
                         cur->code, cur->code, text, p.label);
        else if (!cat)
                snprintf(why, size,
                         "start: no catalog in force on %s (period %s)", text,
                         p.label);
        else if (!ok)
                snprintf(why, size,
                         "plan: undefined plan '%.100s' in catalog %s "
                         "version %s, in force on %s",
                         plan, cat->name, cat->version, text);
        rate_reloader_release(c->srv->rules, set);
        return ok;
}

enum MHD_Result api__subscriptions(struct api__call *c)
{
        const char *id = c->seg[2];
        struct tl_error err = {TL_OK, ""};
        json_t *body, *history = NULL;
        const char *plan, *start;
        const struct rate_currency *cur = NULL;
        char msg[300];
        int64_t day;
        tl_status rc;

        body = json_loadb((const char *)c->req->body.data, c->req->body.len,
                          JSON_REJECT_DUPLICATES, NULL);
        plan = json_string_value(json_object_get(body, "plan"));
        start = json_string_value(json_object_get(body, "start"));
        if (!json_is_object(body) || json_object_size(body) != 2 || !plan ||
            !*plan || !start) {
                json_decref(body);
                return api__error(c, MHD_HTTP_BAD_REQUEST, "invalid_request",
                                  "the body must be {\"plan\": \"pro\", "
                                  "\"start\": \"YYYY-MM-DD\"}",
                                  NULL);
        }
        if (!day_of(start, &day)) {
                json_decref(body);
                return api__error(c, MHD_HTTP_BAD_REQUEST, "invalid_request",
                                  "start: expected a date YYYY-MM-DD", "start");
        }
        if (!api__db(c, &err) || currency_of(c->db, id, &cur, &err)) {
                json_decref(body);
                return api__fail(c, TL_EDB, &err);
        }
        if (!plan_known(c, cur, plan, day, start, msg, sizeof msg)) {
                enum MHD_Result a =
                    api__error(c, MHD_HTTP_BAD_REQUEST, "invalid_request", msg,
                               strncmp(msg, "plan", 4) ? "start" : "plan");

                json_decref(body);
                return a;
        }
        rc = inv_subscription_change(c->db, id, plan, day, &history, &err);
        json_decref(body);
        if (rc == TL_ENOTFOUND)
                return api__error(c, MHD_HTTP_NOT_FOUND, "not_found",
                                  "no such customer", NULL);
        if (rc)
                return api__fail(c, rc, &err);
        return api__json(
            c, MHD_HTTP_CREATED,
            json_pack("{s:s, s:o}", "customer", id, "subscriptions", history));
}
