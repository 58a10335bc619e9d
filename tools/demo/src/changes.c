/* What changes around a month's invoices, through `tally serve` with an
   admin key: a customer's mid-month upgrade (its invoice then has two
   segments), and after the close one invoice voided and issued again, one
   credit note and one payment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "demo/demo.h"
#include "invoicing/corrections.h"
#include "summary.h"

/* The customers the corrections touch (skipped when the demo has fewer):
   cust_0003 holds prepaid credit, so its void visibly returns some. */
#define VOID_CUSTOMER "cust_0003"
#define CREDIT_CUSTOMER "cust_0004"
#define PAY_CUSTOMER "cust_0002"
#define UPGRADE_INDEX 0

static tl_status admin_key(struct demo_env *env, struct tl_error *err)
{
        if (env->admin_key[0])
                return TL_OK;
        return demo_key_create(env, "admin", "demo-admin", env->admin_key,
                               sizeof env->admin_key, err);
}

/* POST 'req' (consumed) to 'path' with the admin key; the answer's JSON
   into '*out' when the status is 'want'. */
static tl_status post(struct demo_env *env, const char *path, json_t *req,
                      int want, json_t **out, struct tl_error *err)
{
        static char body[1 << 18];
        char *text = json_dumps(req, JSON_COMPACT);
        int status;

        json_decref(req);
        if (!text)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        status = admin_key(env, err)
                     ? -1
                     : demo_http(env->api, "POST", env->admin_key, path, text,
                                 body, sizeof body);
        free(text); /* lint: libc-free: jansson allocated it */
        if (status != want)
                return tl_fail(err, TL_EIO, "POST %s: %d, expected %d %s", path,
                               status, want, body);
        *out = json_loads(body, 0, NULL);
        if (!*out)
                return tl_fail(err, TL_EPARSE, "POST %s: not JSON: %.200s",
                               path, body);
        return TL_OK;
}

static const char *str(json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));

        return s ? s : "?";
}

tl_status demo_upgrade(const struct demo_opts *o, struct demo_env *env,
                       struct demo_world *w, int day, struct tl_error *err)
{
        struct demo_customer *c = &w->c[UPGRADE_INDEX];
        char path[200], start[32];
        json_t *ans = NULL, *subs;
        tl_status rc;

        /* A change on the first day would be a whole-month plan. */
        if (day < 2 || strcmp(c->plan, "starter"))
                return TL_OK;
        snprintf(start, sizeof start, "%.8s%02d", o->period.start_iso, day);
        snprintf(path, sizeof path, "/v1/customers/%s/subscriptions", c->id);
        rc = post(env, path,
                  json_pack("{s:s, s:s}", "plan", "pro", "start", start), 201,
                  &ans, err);
        subs = json_object_get(ans, "subscriptions");
        if (!rc && json_array_size(subs) != 2)
                rc = tl_fail(err, TL_EIO,
                             "POST %s: expected a history of two "
                             "subscriptions",
                             path);
        if (!rc)
                rc = demo_world_upgrade(w, o, env, UPGRADE_INDEX, "pro", day,
                                        err);
        if (!rc)
                printf("  day %02d: %s upgrades starter -> pro from %s "
                       "(POST /v1/customers/%s/subscriptions, admin key); "
                       "customers.yaml keeps the history in the long form\n",
                       day, c->id, start, c->id);
        json_decref(ans);
        return rc;
}

/* Run 'sql' with $1 the period start and $2 'p2' (NULL: one parameter). */
static PGresult *query(PGconn *c, const char *sql, const struct demo_opts *o,
                       const char *p2, struct tl_error *err)
{
        const char *params[2] = {o->period.start_iso, p2};
        PGresult *r =
            PQexecParams(c, sql, p2 ? 2 : 1, NULL, params, NULL, NULL, 0);

        if (PQresultStatus(r) == PGRES_TUPLES_OK)
                return r;
        tl_fail(err, TL_EDB, "%s", PQresultErrorMessage(r));
        PQclear(r);
        return NULL;
}

tl_status demo__print_segments(PGconn *c, const struct demo_opts *o,
                               struct tl_error *err)
{
        static const char SQL[] =
            "SELECT i.customer_id, i.number, l->'segment'->>'plan',"
            " l->'segment'->>'start', l->'segment'->>'end',"
            " sum((l->>'amount')::numeric)::text"
            " FROM invoices i, json_array_elements(i.body->'lines') l"
            " WHERE i.period_start = $1::date AND i.payment_status <> 'void'"
            " AND l->'segment' IS NOT NULL"
            " GROUP BY 1, 2, 3, 4, 5 ORDER BY i.customer_id COLLATE \"C\", 4";
        PGresult *r = query(c, SQL, o, NULL, err);

        if (!r)
                return TL_EDB;
        printf("\nPlan changes: the invoice prices each segment by its own "
               "plan (from its lines' segment)\n");
        for (int i = 0; i < PQntuples(r); i++) {
                if (i == 0 ||
                    strcmp(PQgetvalue(r, i, 0), PQgetvalue(r, i - 1, 0)))
                        printf("  %s %s:\n", PQgetvalue(r, i, 0),
                               PQgetvalue(r, i, 1));
                printf("    segment %-8s [%s, %s)  $%s\n", PQgetvalue(r, i, 2),
                       PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
                       PQgetvalue(r, i, 5));
        }
        if (!PQntuples(r))
                printf("  no plan change in %s\n", o->period.label);
        PQclear(r);
        return TL_OK;
}

/* The finalized, not void invoice of 'customer': number and total at the
   currency's two digits. false when it has none. */
static bool invoice_of(PGconn *c, const struct demo_opts *o,
                       const char *customer, char *number, char *total,
                       size_t size, struct tl_error *err)
{
        PGresult *r = query(c,
                            "SELECT number, round(total, 2)::text FROM invoices"
                            " WHERE period_start = $1::date"
                            " AND customer_id = $2 AND number IS NOT NULL"
                            " AND payment_status <> 'void'",
                            o, customer, err);
        bool found = r && PQntuples(r) == 1;

        if (found) {
                snprintf(number, size, "%s", PQgetvalue(r, 0, 0));
                snprintf(total, size, "%s", PQgetvalue(r, 0, 1));
        }
        PQclear(r);
        return found;
}

/* Void VOID_CUSTOMER's invoice and finalize its period again: the next
   number, the same amounts (the credit it drew comes back and is drawn
   again). */
static tl_status void_and_reissue(PGconn *c, const struct demo_opts *o,
                                  struct demo_env *env,
                                  const struct inv_config *cfg, const char *dir,
                                  struct tl_error *err)
{
        struct inv_close_opts co = {
            .period = o->period, .customer = VOID_CUSTOMER, .finalize = true};
        struct inv_close_stats st;
        char number[64], total[64], again[64], total2[64], path[200];
        json_t *ans = NULL;
        uint64_t written;
        tl_status rc;

        if (!invoice_of(c, o, VOID_CUSTOMER, number, total, sizeof number, err))
                return err->code ? err->code : TL_OK;
        snprintf(path, sizeof path, "/v1/invoices/%s/void", number);
        rc = post(env, path, json_pack("{s:s}", "reason", "wrong tax rate"),
                  200, &ans, err);
        if (!rc)
                printf("  void:        %s (%s, $%s) \"wrong tax rate\": $%s of "
                       "credit returned; the number stays taken\n",
                       number, VOID_CUSTOMER, total,
                       str(ans, "credit_returned"));
        json_decref(ans);
        if (!rc)
                rc = inv_close(c, cfg, &co, &st, err);
        if (!rc &&
            !invoice_of(c, o, VOID_CUSTOMER, again, total2, sizeof again, err))
                rc = tl_fail(err, TL_EIO, "%s: not re-issued", VOID_CUSTOMER);
        /* Every file again: the period's CSV holds all its invoices. */
        if (!rc)
                rc = inv_write_files(c, &o->period, NULL, dir, &written, err);
        if (!rc)
                printf("  re-issued:   %s (%s, $%s) by the close of %s for "
                       "the one customer\n",
                       again, VOID_CUSTOMER, total2, o->period.label);
        return rc;
}

static tl_status credit_note(PGconn *c, const struct demo_opts *o,
                             struct demo_env *env, const char *dir,
                             struct tl_error *err)
{
        char number[64], total[64], path[200];
        json_t *doc = NULL;
        tl_status rc;

        if (!invoice_of(c, o, CREDIT_CUSTOMER, number, total, sizeof number,
                        err))
                return err->code ? err->code : TL_OK;
        snprintf(path, sizeof path, "/v1/invoices/%s/credit-notes", number);
        rc = post(env, path,
                  json_pack("{s:s, s:s, s:s}", "line", "platform", "amount",
                            "5.00", "reason", "outage credit"),
                  201, &doc, err);
        if (!rc)
                rc = inv_document_write(doc, dir, err);
        if (!rc)
                printf("  credit note: %s on %s (%s), line platform: $5.00 "
                       "\"outage credit\", a credit grant for the next "
                       "invoice (%s/%s.pdf)\n",
                       str(doc, "number"), number, CREDIT_CUSTOMER, dir,
                       str(doc, "number"));
        json_decref(doc);
        return rc;
}

static tl_status payment(PGconn *c, const struct demo_opts *o,
                         struct demo_env *env, struct tl_error *err)
{
        char number[64], total[64], path[200];
        json_t *ans = NULL;
        tl_status rc;

        if (!invoice_of(c, o, PAY_CUSTOMER, number, total, sizeof number, err))
                return err->code ? err->code : TL_OK;
        /* Credit may cover an invoice: then there is nothing to pay. */
        if (total[0] == '-' || !strcmp(total, "0.00"))
                return TL_OK;
        snprintf(path, sizeof path, "/v1/invoices/%s/payments", number);
        rc = post(env, path,
                  json_pack("{s:s, s:s}", "amount", total, "reference",
                            "wire-demo-1"),
                  201, &ans, err);
        if (!rc)
                printf("  payment:     $%s on %s (%s), reference "
                       "wire-demo-1: %s, $%s outstanding\n",
                       str(ans, "amount_paid"), number, PAY_CUSTOMER,
                       str(ans, "payment_status"), str(ans, "outstanding"));
        json_decref(ans);
        return rc;
}

tl_status demo__corrections(PGconn *c, const struct demo_opts *o,
                            struct demo_env *env, const struct inv_config *cfg,
                            const char *dir, struct tl_error *err)
{
        PGresult *r;
        tl_status rc;

        printf("\nCorrections after the close (through tally serve, admin "
               "key demo-admin)\n");
        rc = void_and_reissue(c, o, env, cfg, dir, err);
        if (!rc)
                rc = credit_note(c, o, env, dir, err);
        if (!rc)
                rc = payment(c, o, env, err);
        if (rc)
                return rc;
        r = query(c,
                  "SELECT string_agg(n || ' ' || payment_status, ', '"
                  " ORDER BY payment_status) FROM (SELECT payment_status,"
                  " count(*)::text AS n FROM invoices"
                  " WHERE period_start = $1::date AND number IS NOT NULL"
                  " GROUP BY 1) s",
                  o, NULL, err);
        if (!r)
                return TL_EDB;
        printf("  payment status of %s's invoices: %s\n", o->period.label,
               PQgetvalue(r, 0, 0));
        PQclear(r);
        return TL_OK;
}
