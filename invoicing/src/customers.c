/* Customers: imported from their file into PostgreSQL, and read back as
   the rate_customer values the rater takes. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/dec.h"
#include "core/hash.h"
#include "core/time.h"
#include "internal.h"
#include "rating/customers.h"
#include "schemas/db.h"

tl_status inv__db_fail(PGresult *r, const char *what, struct tl_error *err)
{
        tl_status rc = tl_fail(err, TL_EDB, "%s: %s", what,
                               r ? PQresultErrorMessage(r) : "no result");
        size_t n = strlen(err ? err->msg : "");

        /* libpq ends its messages with a newline; ours never do. */
        while (err && n && (err->msg[n - 1] == '\n' || err->msg[n - 1] == ' '))
                err->msg[--n] = '\0';
        PQclear(r);
        return rc;
}

tl_status inv__array_add(struct tl_buf *out, const char *s, bool first,
                         struct tl_error *err)
{
        tl_status rc = tl_buf_puts(out, first ? "\"" : ",\"", err);

        /* Runs appended whole, two bytes per escape: documents are full
           of quotes, and this runs for every byte of every invoice. */
        for (const char *p = s; !rc && *p;) {
                size_t n = strcspn(p, "\"\\");

                rc = tl_buf_append(out, p, n, err);
                p += n;
                if (!rc && *p)
                        rc = tl_buf_append(out, *p++ == '"' ? "\\\"" : "\\\\",
                                           2, err);
        }
        return rc ? rc : tl_buf_puts(out, "\"", err);
}

tl_status inv__custs_array(const struct inv__custs *c, struct tl_buf *out,
                           struct tl_error *err)
{
        tl_status rc = tl_buf_puts(out, "{", err);

        for (size_t i = 0; !rc && i < c->count; i++)
                rc = inv__array_add(out, c->items[i].id, i == 0, err);
        return rc ? rc : tl_buf_puts(out, "}", err);
}

size_t inv__custs_find(const struct inv__custs *c, const char *id, size_t len)
{
        return rate_customers_index_get(c->slots, c->slot_mask, c->items, id,
                                        len, rate_customers_hash(id, len));
}

void inv__custs_release(struct inv__custs *c)
{
        tl_free(c->slots);
        tl_arena_release(&c->arena);
        memset(c, 0, sizeof *c);
}

static tl_status dup(struct inv__custs *c, const char *s, const char **out,
                     struct tl_error *err)
{
        return tl_arena_strndup(&c->arena, s, strlen(s), (char **)out, err);
}

/* cohorts jsonb -> explicit placements. */
static tl_status placements(struct inv__custs *c, struct rate_customer *cu,
                            const char *text, struct tl_error *err)
{
        json_t *o = json_loads(text, 0, NULL);
        struct rate_placement *pl;
        const char *k;
        json_t *v;
        size_t n = 0;
        tl_status rc = TL_OK;

        if (!o || !json_is_object(o)) {
                json_decref(o);
                return tl_fail(err, TL_EINVAL,
                               "customers table: %s: cohorts is not an object",
                               cu->id);
        }
        if (json_object_size(o) &&
            (rc = tl_arena_alloc(&c->arena, json_object_size(o) * sizeof *pl,
                                 (void **)&pl, err)) == TL_OK) {
                json_object_foreach(o, k, v)
                {
                        if (!json_is_string(v) || rc)
                                continue;
                        pl[n].line = pl[n].col = 0;
                        rc = dup(c, k, &pl[n].experiment, err);
                        if (!rc)
                                rc = dup(c, json_string_value(v), &pl[n].cohort,
                                         err);
                        n++;
                }
                cu->placements = pl;
                cu->placement_count = n;
        }
        json_decref(o);
        return rc;
}

/* The history column: [[plan, start, end|null], ...] by start, or NULL
   when the customer has one subscription (its row says it all). */
static tl_status history(struct inv__custs *c, struct rate_customer *cu,
                         const PGresult *r, int row, int col,
                         struct tl_error *err)
{
        struct rate_subscription *subs;
        json_t *a;
        size_t n;
        tl_status rc = TL_OK;

        if (PQgetisnull(r, row, col))
                return TL_OK;
        a = json_loads(PQgetvalue(r, row, col), 0, NULL);
        n = json_array_size(a);
        if (n < 2) {
                json_decref(a);
                return tl_fail(err, TL_EINVAL,
                               "subscriptions table: %s: bad history", cu->id);
        }
        rc = tl_arena_alloc(&c->arena, n * sizeof *subs, (void **)&subs, err);
        for (size_t i = 0; !rc && i < n; i++) {
                json_t *e = json_array_get(a, i);
                json_t *end = json_array_get(e, 2);

                memset(&subs[i], 0, sizeof subs[i]);
                {
                        const char *plan =
                            json_string_value(json_array_get(e, 0));

                        rc = dup(c, plan ? plan : "", &subs[i].plan, err);
                        subs[i].start_day =
                            json_integer_value(json_array_get(e, 1));
                        subs[i].has_end = json_is_integer(end);
                        subs[i].end_day = json_integer_value(end);
                }
        }
        if (!rc) {
                cu->subs = subs;
                cu->sub_count = n;
        }
        json_decref(a);
        return rc;
}

static tl_status dec_col(const PGresult *r, int row, int col,
                         struct tl_dec *out, struct tl_error *err)
{
        const char *s = PQgetvalue(r, row, col);

        return tl_dec_parse(s, strlen(s), out, err);
}

void inv__credit_as_of(const struct inv_config *cfg,
                       const struct rate_period *p, char out[24])
{
        tl_time_us now = cfg->now_us ? cfg->now_us : tl_time_now_us();
        tl_time_us end = p->end_day * TL_US_PER_DAY;

        snprintf(out, 24, "%lld", (long long)(now < end ? now : end));
}

tl_status inv__custs_query(PGconn *conn, const char *sql, int nparams,
                           const char *const *params, struct inv__custs *out,
                           struct tl_error *err)
{
        return inv__custs_result(sch_db_exec(conn, sql, nparams, params, 0),
                                 out, err);
}

tl_status inv__customer_currency(PGconn *conn, const char *id,
                                 const struct rate_currency **out,
                                 struct tl_error *err)
{
        const char *params[1] = {id};
        PGresult *r = sch_db_exec(
            conn, "SELECT currency FROM customers WHERE customer_id = $1", 1,
            params, 0);

        *out = NULL;
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                return inv__db_fail(r, "reading the customer's currency", err);
        if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
                *out = rate_currency_find(PQgetvalue(r, 0, 0), 3);
        PQclear(r);
        return TL_OK;
}

tl_status inv__no_catalog_in(const char *rules, const char *id,
                             const struct rate_currency *cur,
                             const struct rate_period *p, struct tl_error *err)
{
        return tl_fail(err, TL_EINVAL,
                       "customer %s is billed in %s: %s has no catalog in %s "
                       "in force for %s (none in %s has effective_from on or "
                       "before %s)",
                       id, cur->code, rules ? rules : "the rules", cur->code,
                       p->label, cur->code, p->start_iso);
}

tl_status inv__custs_result(PGresult *r, struct inv__custs *out,
                            struct tl_error *err)
{
        size_t n, cap;
        tl_status rc = TL_OK;

        memset(out, 0, sizeof *out);
        tl_arena_init(&out->arena, 65536, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                return inv__db_fail(r, "reading customers", err);
        n = (size_t)PQntuples(r);
        cap = rate_customers_slots(n);
        out->slots = tl_calloc(cap, sizeof *out->slots);
        if (!out->slots ||
            tl_arena_alloc(&out->arena, (n + 1) * sizeof *out->items,
                           (void **)&out->items, err)) {
                PQclear(r);
                return tl_fail(err, TL_ENOMEM, "out of memory");
        }
        out->slot_mask = cap - 1;
        for (int i = 0; !rc && i < (int)n; i++) {
                struct rate_customer *cu = &out->items[i];

                memset(cu, 0, sizeof *cu);
                rc = dup(out, PQgetvalue(r, i, 0), &cu->id, err);
                if (!rc && *PQgetvalue(r, i, 1))
                        rc = dup(out, PQgetvalue(r, i, 1), &cu->name, err);
                if (!rc)
                        rc = dup(out, PQgetvalue(r, i, 2), &cu->plan, err);
                cu->start_day = strtoll(PQgetvalue(r, i, 3), NULL, 10);
                cu->has_end = !PQgetisnull(r, i, 4);
                if (cu->has_end)
                        cu->end_day = strtoll(PQgetvalue(r, i, 4), NULL, 10);
                if (!rc)
                        rc = dec_col(r, i, 5, &cu->tax_rate, err);
                /* numeric(12,6) pads "0.19" to "0.190000"; the file's
                   text is what invoices show. */
                while (!rc && cu->tax_rate.scale > 0 &&
                       cu->tax_rate.coef % 10 == 0) {
                        cu->tax_rate.coef /= 10;
                        cu->tax_rate.scale--;
                }
                if (!rc)
                        rc = placements(out, cu, PQgetvalue(r, i, 6), err);
                if (!rc)
                        rc = dec_col(r, i, 7, &cu->credits, err);
                if (!rc && !PQgetisnull(r, i, 8))
                        rc = rate_controls_parse_json(
                            "customers.controls", PQgetvalue(r, i, 8),
                            &out->arena, &cu->controls, err);
                if (!rc)
                        rc = history(out, cu, r, i, 9, err);
                if (!rc && !PQgetisnull(r, i, 10)) {
                        cu->currency =
                            rate_currency_find(PQgetvalue(r, i, 10), 3);
                        if (!cu->currency)
                                rc = tl_fail(err, TL_EINVAL,
                                             "customers.currency of %s: '%s' "
                                             "is not an ISO 4217 code",
                                             cu->id, PQgetvalue(r, i, 10));
                }
                if (rc)
                        break;
                cu->id_len = (uint32_t)strlen(cu->id);
                rate_customers_index_put(out->slots, out->slot_mask, out->items,
                                         (size_t)i);
                out->count++;
        }
        PQclear(r);
        return rc;
}

/* ---- import
 * ------------------------------------------------------------------ */

/* The histories: every subscription of the customers imported replaces
   theirs (kept where the start is the same, so a re-import rewrites
   nothing), in the customers' statement. */
#define IMPORT_SUBS_CTES                                                       \
        ", s AS (SELECT * FROM unnest($10::text[], $11::text[], $12::date[],"  \
        " $13::date[]) AS s(id, plan, sub_start, sub_end)),"                   \
        " sdel AS (DELETE FROM subscriptions o WHERE o.customer_id ="          \
        " ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM s WHERE s.id ="        \
        " o.customer_id AND s.sub_start = o.sub_start) RETURNING 1),"          \
        " sup AS (INSERT INTO subscriptions AS o (customer_id, plan,"          \
        " sub_start, sub_end) SELECT id, plan, sub_start, sub_end FROM s"      \
        " ON CONFLICT (customer_id, sub_start) DO UPDATE SET plan ="           \
        " excluded.plan, sub_end = excluded.sub_end"                           \
        " WHERE (o.plan, o.sub_end) IS DISTINCT FROM"                          \
        " (excluded.plan, excluded.sub_end) RETURNING 1)"

/* Every customer as parallel text[] literals, one statement for all. */
static const char IMPORT_SQL[] =
    "WITH v AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[],"
    " $4::date[], $5::date[], $6::numeric[], $7::jsonb[], $8::numeric[],"
    " $9::jsonb[], $17::text[]) AS v(id, name, plan, sub_start, sub_end,"
    " tax_rate, cohorts, credits, controls, currency)),"
    " up AS (INSERT INTO customers AS c (customer_id, name, plan,"
    " sub_start, sub_end, tax_rate, cohorts, controls, currency)"
    " SELECT id, name, plan, sub_start, sub_end, tax_rate, cohorts,"
    " controls, currency FROM v"
    " ON CONFLICT (customer_id) DO UPDATE SET name = excluded.name,"
    " plan = excluded.plan, sub_start = excluded.sub_start,"
    " sub_end = excluded.sub_end, tax_rate = excluded.tax_rate,"
    " cohorts = excluded.cohorts, controls = excluded.controls,"
    " currency = excluded.currency, updated_at = now()"
    " RETURNING customer_id, (xmax = 0) AS inserted),"
    /* The file states the total it grants per customer and expiry: an
       import grants the difference from earlier imports of that class. */
    " fg AS (SELECT id, (date '1970-01-01' + day)::timestamp AT TIME ZONE"
    " 'UTC' AS exp, sum(amount) AS amount FROM unnest($14::text[],"
    " $15::numeric[], $16::int[]) AS f(id, amount, day) GROUP BY 1, 2),"
    " dg AS (SELECT l.customer_id AS id, l.expires_at AS exp,"
    " sum(l.amount) AS amount FROM credit_ledger l JOIN v"
    " ON l.customer_id = v.id WHERE l.reason = 'import' AND"
    " (l.grant_id IS NULL AND l.currency IS NOT DISTINCT FROM v.currency"
    " OR (SELECT o.currency FROM credit_ledger o WHERE o.entry_id ="
    " l.grant_id) IS NOT DISTINCT FROM v.currency) GROUP BY 1, 2),"
    " grants AS (SELECT coalesce(fg.id, dg.id) AS id,"
    " coalesce(fg.exp, dg.exp) AS exp, coalesce(fg.amount, 0)"
    " - coalesce(dg.amount, 0) AS amount, (SELECT v.currency FROM v"
    " WHERE v.id = coalesce(fg.id, dg.id)) AS currency FROM fg FULL JOIN dg"
    " ON fg.id = dg.id AND coalesce(fg.exp, 'infinity') ="
    " coalesce(dg.exp, 'infinity')),"
    /* A lower total than before takes the difference back from the
       latest import grant of its class (a draw on it, 0010_balances.sql). */
    " g AS (INSERT INTO credit_ledger (customer_id, amount, reason,"
    " expires_at, grant_id, currency) SELECT id, amount, 'import', exp,"
    " CASE WHEN amount < 0 THEN (SELECT max(l.entry_id) FROM credit_ledger"
    " l WHERE l.customer_id = grants.id AND l.reason = 'import' AND"
    " l.grant_id IS NULL AND l.expires_at IS NOT DISTINCT FROM grants.exp"
    " AND l.currency IS NOT DISTINCT FROM grants.currency) END,"
    " CASE WHEN amount > 0 THEN grants.currency END"
    " FROM grants WHERE amount <> 0 RETURNING 1)" IMPORT_SUBS_CTES
    " SELECT (SELECT count(*) FROM up WHERE inserted),"
    " (SELECT count(*) FROM up WHERE NOT inserted),"
    " (SELECT count(*) FROM g)";

/* The customers' currencies ($17) come last, after the grants. */
enum { IMPORT_COLS = 9, SUB_COLS = 4, GRANT_COLS = 3, CUR_COLS = 1 };
#define ALL_COLS (IMPORT_COLS + SUB_COLS + GRANT_COLS + CUR_COLS)

/* The grants of 'c' as rows of the three grant arrays. */
static tl_status grant_rows(const struct rate_customer *c, struct tl_buf *a,
                            bool *first, struct tl_error *err)
{
        char dec[TL_DEC_STR_MAX], day[24];
        tl_status rc = TL_OK;

        for (size_t i = 0; !rc && i < c->grant_count; i++) {
                const struct rate_grant *g = &c->grants[i];

                tl_dec_format(&g->amount, dec, sizeof dec);
                snprintf(day, sizeof day, "%lld", (long long)g->expires_day);
                rc = inv__array_add(&a[0], c->id, *first, err);
                if (!rc)
                        rc = inv__array_add(&a[1], dec, *first, err);
                if (!rc)
                        rc = g->expires
                                 ? inv__array_add(&a[2], day, *first, err)
                                 : tl_buf_puts(&a[2], *first ? "NULL" : ",NULL",
                                               err);
                *first = false;
        }
        return rc;
}

static void day_text(int64_t day, char out[16])
{
        int64_t y;
        unsigned m, d;

        tl_civil_from_days(day, &y, &m, &d);
        snprintf(out, 16, "%04lld-%02u-%02u", (long long)y, m, d);
}

/* One customer's subscriptions into the arrays $10..$13. */
static tl_status import_subs(const struct rate_customer *c, struct tl_buf *a,
                             bool *first, struct tl_error *err)
{
        struct rate_subscription one = {.plan = c->plan,
                                        .start_day = c->start_day,
                                        .has_end = c->has_end,
                                        .end_day = c->end_day};
        const struct rate_subscription *s = c->sub_count ? c->subs : &one;
        size_t n = c->sub_count ? c->sub_count : 1;
        char day[16];
        tl_status rc = TL_OK;

        for (size_t i = 0; !rc && i < n; i++, *first = false) {
                rc = inv__array_add(&a[0], c->id, *first, err);
                if (!rc)
                        rc = inv__array_add(&a[1], s[i].plan, *first, err);
                day_text(s[i].start_day, day);
                if (!rc)
                        rc = inv__array_add(&a[2], day, *first, err);
                day_text(s[i].end_day, day);
                if (!rc)
                        rc = s[i].has_end
                                 ? inv__array_add(&a[3], day, *first, err)
                                 : tl_buf_puts(&a[3], *first ? "NULL" : ",NULL",
                                               err);
        }
        return rc;
}

static tl_status import_row(const struct rate_customer *c, struct tl_buf *a,
                            bool first, struct tl_error *err)
{
        char day[16], dec[TL_DEC_STR_MAX];
        int64_t y;
        unsigned m, d;
        tl_status rc;
        json_t *co = json_object();
        char *cj;

        if (!co)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        for (size_t i = 0; i < c->placement_count; i++)
                json_object_set_new(co, c->placements[i].experiment,
                                    json_string(c->placements[i].cohort));
        cj = json_dumps(co, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(co);
        if (!cj)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        rc = inv__array_add(&a[0], c->id, first, err);
        if (!rc)
                /* The name is optional in the file and NOT NULL in the
                   table: none is stored as "" and read back as none. */
                rc = inv__array_add(&a[1], c->name ? c->name : "", first, err);
        if (!rc)
                rc = inv__array_add(&a[2], c->plan, first, err);
        tl_civil_from_days(c->start_day, &y, &m, &d);
        snprintf(day, sizeof day, "%04lld-%02u-%02u", (long long)y, m, d);
        if (!rc)
                rc = inv__array_add(&a[3], day, first, err);
        if (c->has_end) {
                tl_civil_from_days(c->end_day, &y, &m, &d);
                snprintf(day, sizeof day, "%04lld-%02u-%02u", (long long)y, m,
                         d);
                if (!rc)
                        rc = inv__array_add(&a[4], day, first, err);
        } else if (!rc) {
                rc = tl_buf_puts(&a[4], first ? "NULL" : ",NULL", err);
        }
        tl_dec_format(&c->tax_rate, dec, sizeof dec);
        if (!rc)
                rc = inv__array_add(&a[5], dec, first, err);
        if (!rc)
                rc = inv__array_add(&a[6], cj, first, err);
        tl_dec_format(&c->credits, dec, sizeof dec);
        if (!rc)
                rc = inv__array_add(&a[7], dec, first, err);
        free(cj); /* lint: libc-free: jansson allocated it */
        cj = NULL;
        if (!rc && c->controls)
                rc = rate_controls_to_json(c->controls, &cj, err);
        if (!rc)
                rc = cj ? inv__array_add(&a[8], cj, first, err)
                        : tl_buf_puts(&a[8], first ? "NULL" : ",NULL", err);
        free(cj); /* lint: libc-free: jansson allocated it */
        if (!rc)
                rc = c->currency ? inv__array_add(&a[ALL_COLS - 1],
                                                  c->currency->code, first, err)
                                 : tl_buf_puts(&a[ALL_COLS - 1],
                                               first ? "NULL" : ",NULL", err);
        return rc;
}

/* Finalized invoices of the customers imported, with their stored plan
   changes ([[plan, start], ...] after the first subscription). */
static const char FINALIZED_SQL[] =
    "SELECT i.customer_id, i.period_start - date '1970-01-01', i.number,"
    " (SELECT json_agg(json_build_array(s.plan,"
    " s.sub_start - date '1970-01-01') ORDER BY s.sub_start)"
    " FROM subscriptions s WHERE s.customer_id = i.customer_id)::text"
    " FROM invoices i WHERE i.status = 'finalized'"
    " AND i.customer_id = ANY($1::text[])"
    " ORDER BY i.customer_id, i.period_start";

/* A plan change: the day a subscription after the first starts. */
struct change {
        int64_t day;
        const char *plan;
};

/* The changes of 'p' in the new history of 'c' (at most 31: one a day). */
static size_t new_changes(const struct rate_customer *c,
                          const struct rate_period *p, struct change *out)
{
        size_t n = 0;

        for (size_t i = 1; c && i < c->sub_count; i++)
                if (c->subs[i].start_day >= p->start_day &&
                    c->subs[i].start_day < p->end_day)
                        out[n++] = (struct change){c->subs[i].start_day,
                                                   c->subs[i].plan};
        return n;
}

/* The same in the stored history 'a' ([[plan, start], ...]). */
static size_t old_changes(const json_t *a, const struct rate_period *p,
                          struct change *out)
{
        size_t n = 0;

        for (size_t i = 1; i < json_array_size(a) && n < 31; i++) {
                json_t *e = json_array_get(a, i);
                int64_t d = json_integer_value(json_array_get(e, 1));
                const char *plan = json_string_value(json_array_get(e, 0));

                if (d >= p->start_day && d < p->end_day)
                        out[n++] = (struct change){d, plan ? plan : ""};
        }
        return n;
}

/*
** Refuse a history that changes the plan changes inside a finalized
** period: the invoice stands, so the history it was priced by must too.
** TL_ECONFLICT naming the customer, the date and the invoice.
*/
tl_status inv__check_finalized(PGconn *conn, const struct rate_customers *cs,
                               const char *what, const char *ids,
                               struct tl_error *err)
{
        PGresult *r = sch_db_exec(conn, FINALIZED_SQL, 1, &ids, 0);
        tl_status rc = TL_OK;

        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                return inv__db_fail(r, "reading finalized invoices", err);
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                const char *id = PQgetvalue(r, i, 0);
                const struct rate_customer *c =
                    rate_customers_find(cs, id, strlen(id));
                json_t *old = json_loads(PQgetvalue(r, i, 3), 0, NULL);
                struct rate_period p;
                struct change oc[32], nc[32];
                size_t on, nn;
                int64_t day = -1;
                char when[16];

                rate_period_of_day(strtoll(PQgetvalue(r, i, 1), NULL, 10), &p);
                on = old_changes(old, &p, oc);
                nn = new_changes(c, &p, nc);
                /* The first change that differs is the one refused. */
                for (size_t k = 0; day < 0 && (k < on || k < nn); k++) {
                        if (k < on && k < nn && oc[k].day == nc[k].day &&
                            strcmp(oc[k].plan, nc[k].plan) == 0)
                                continue;
                        day = k >= on                 ? nc[k].day
                              : k >= nn               ? oc[k].day
                              : oc[k].day < nc[k].day ? oc[k].day
                                                      : nc[k].day;
                }
                json_decref(old);
                if (day >= 0) {
                        day_text(day, when);
                        rc = tl_fail(err, TL_ECONFLICT,
                                     "%s: customer %s: a plan change on %s "
                                     "falls in period %s, already invoiced "
                                     "as %s (finalized invoices do not "
                                     "change: date it from %s)",
                                     what, id, when, p.label,
                                     PQgetvalue(r, i, 2), p.end_iso);
                }
        }
        PQclear(r);
        return rc;
}

tl_status inv_customers_upsert(PGconn *conn, const struct rate_customers *cs,
                               const char *what, struct inv_import_stats *stats,
                               struct tl_error *err)
{
        struct tl_buf a[ALL_COLS];
        const char *params[ALL_COLS];
        bool gfirst = true;
        PGresult *r;
        bool first_sub = true;
        tl_status rc = TL_OK;

        memset(stats, 0, sizeof *stats);
        for (int i = 0; i < ALL_COLS; i++) {
                tl_buf_init(&a[i], 0);
                rc = rc ? rc : tl_buf_puts(&a[i], "{", err);
        }
        for (size_t i = 0; !rc && i < cs->count; i++) {
                rc = import_row(&cs->items[i], a, i == 0, err);
                if (!rc)
                        rc = import_subs(&cs->items[i], a + IMPORT_COLS,
                                         &first_sub, err);
                if (!rc)
                        rc = grant_rows(&cs->items[i],
                                        a + IMPORT_COLS + SUB_COLS, &gfirst,
                                        err);
        }
        for (int i = 0; i < ALL_COLS; i++) {
                rc = rc ? rc : tl_buf_puts(&a[i], "}", err);
                params[i] = a[i].data;
        }
        if (!rc)
                rc = inv__check_finalized(conn, cs, what, params[0], err);
        if (!rc) {
                /* One statement is one transaction: all or nothing. */
                r = sch_db_exec(conn, IMPORT_SQL, ALL_COLS, params, 0);
                if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                        rc = inv__db_fail(r, what, err);
                } else {
                        stats->inserted =
                            strtoull(PQgetvalue(r, 0, 0), NULL, 10);
                        stats->updated =
                            strtoull(PQgetvalue(r, 0, 1), NULL, 10);
                        stats->credit_grants =
                            strtoull(PQgetvalue(r, 0, 2), NULL, 10);
                        PQclear(r);
                }
        }
        for (int i = 0; i < ALL_COLS; i++)
                tl_buf_release(&a[i]);
        return rc;
}

tl_status inv_customers_import(PGconn *conn, const char *path,
                               struct inv_import_stats *stats,
                               struct rate_diags *diags, struct tl_error *err)
{
        struct rate_customers *cs = NULL;
        tl_status rc;

        memset(stats, 0, sizeof *stats);
        rc = rate_customers_load_file(path, &cs, diags, err);
        if (!rc)
                rc = inv_customers_upsert(conn, cs, path, stats, err);
        rate_customers_free(&cs);
        return rc;
}
