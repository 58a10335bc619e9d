/* The corrections routes of `tally serve` against a real PostgreSQL:
   payments, credit notes and voids by an admin key, recorded under the
   key's name, with the database's refusals as 400, 404 and 409. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "meterkit.h"
#include "serve_kit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

static int post(struct sk_serve *s, const char *key, const char *path,
                const char *body, json_t **out)
{
        struct tk_http_resp r;
        char h[512];
        int st;

        snprintf(h, sizeof h,
                 "Authorization: Bearer %s\r\nContent-Type: "
                 "application/json\r\n",
                 key);
        st = tk_http("127.0.0.1", s->port, "POST", path, h, body, strlen(body),
                     &r);
        *out = json_loads(r.body ? r.body : "", 0, NULL);
        cr_assert(*out, "%s: not JSON: %s", path, r.body);
        tk_http_resp_release(&r);
        return st;
}

static const char *str(const json_t *o, const char *path)
{
        char k[64];
        const char *dot = strchr(path, '.');

        if (!dot)
                return json_string_value(json_object_get(o, path));
        snprintf(k, sizeof k, "%.*s", (int)(dot - path), path);
        return str(json_object_get(o, k), dot + 1);
}

Test(corrections_api, admin_keys_pay_credit_and_void_with_precise_refusals,
     .timeout = 300)
{
        struct mk_case c;
        struct sk_serve s;
        char admin[128], cust[128];
        json_t *j;
        struct tk_http_resp r;
        char h[256], cn[128];

        tk_require_env();
        mk_case_start(&c, "corr_api", 1, 1);
        sk_paths(&s, &c);
        setenv("TALLY_RULES", s.catalog, 1);
        sk_tally_ok("db", "migrate", NULL);
        free(tk_scalar(c.db, "SELECT tally_ensure_month('2026-10-01')::text"));
        tk_exec(c.db, "INSERT INTO customers (customer_id, name, plan,"
                      " sub_start, tax_rate) VALUES"
                      " ('cust_A', 'Alder', 'pro', '2026-01-01', 0.19),"
                      " ('cust_B', 'Birch', 'pro', '2026-01-01', 0)");
        tk_exec(c.db, "INSERT INTO credit_ledger (customer_id, amount, reason)"
                      " VALUES ('cust_A', 50, 'test grant')");
        sk_tally_ok("invoice", "--period", "2026-10", "--finalize", "--as-of",
                    "2026-11-05", "--quiet", NULL);
        sk_key(admin, "admin", "finance-bot", NULL);
        sk_key(cust, "customer:cust_B", "cust-b", NULL);
        sk_start(&s, &c);

        /* INV-2026-000002: 100.00 for cust_B. */
        cr_expect_eq(post(&s, admin, "/v1/invoices/INV-2026-000002/payments",
                          "{\"amount\": \"30.00\", \"reference\": \"api-1\"}",
                          &j),
                     201);
        cr_expect_str_eq(str(j, "outstanding"), "70.00");
        cr_expect_str_eq(str(j, "payment_status"), "open");
        json_decref(j);
        cr_expect_eq(post(&s, admin, "/v1/invoices/INV-2026-000002/payments",
                          "{\"amount\": \"70.01\", \"reference\": \"api-2\"}",
                          &j),
                     400);
        cr_expect(strstr(str(j, "error.message"),
                         "above the amount due 100.00 (70.00 outstanding)"),
                  "%s", str(j, "error.message"));
        json_decref(j);
        cr_expect_eq(post(&s, cust, "/v1/invoices/INV-2026-000002/payments",
                          "{\"amount\": \"1.00\", \"reference\": \"mine\"}",
                          &j),
                     403);
        json_decref(j);
        cr_expect_eq(post(&s, admin, "/v1/invoices/INV-2026-000002/payments",
                          "{\"amount\": 1}", &j),
                     400);
        json_decref(j);

        cr_expect_eq(post(&s, admin,
                          "/v1/invoices/INV-2026-000002/credit-notes",
                          "{\"line\": \"minimum\", \"amount\": \"10.00\","
                          " \"reason\": \"outage\"}",
                          &j),
                     201);
        cr_assert(!strncmp(str(j, "number"), "CN-", 3), "%s", str(j, "number"));
        snprintf(cn, sizeof cn, "/v1/invoices/%s", str(j, "number"));
        cr_expect_str_eq(str(j, "total"), "10.00");
        cr_expect_str_eq(str(j, "invoice"), "INV-2026-000002");
        json_decref(j);
        cr_expect_eq(post(&s, admin,
                          "/v1/invoices/INV-2026-000002/credit-notes",
                          "{\"line\": \"minimum\", \"amount\": \"41.01\","
                          " \"reason\": \"too much\"}",
                          &j),
                     400);
        json_decref(j);

        cr_expect_eq(post(&s, admin, "/v1/invoices/INV-2026-000001/void",
                          "{\"reason\": \"wrong tax\"}", &j),
                     200);
        cr_expect_str_eq(str(j, "credit_returned"), "50.00");
        json_decref(j);
        cr_expect_eq(post(&s, admin, "/v1/invoices/INV-2026-000001/void",
                          "{\"reason\": \"again\"}", &j),
                     409);
        cr_expect(strstr(str(j, "error.message"), "is void"), "%s",
                  str(j, "error.message"));
        json_decref(j);
        cr_expect_eq(post(&s, admin, "/v1/invoices/INV-2026-000009/void",
                          "{\"reason\": \"x\"}", &j),
                     404);
        json_decref(j);

        /* The owner reads its invoice with the history, under the key's
           name. */
        snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", cust);
        cr_assert_eq(tk_http("127.0.0.1", s.port, "GET",
                             "/v1/invoices/INV-2026-000002", h, "", 0, &r),
                     200);
        j = json_loads(r.body, 0, NULL);
        tk_http_resp_release(&r);
        cr_assert(j);
        cr_expect_str_eq(str(j, "payment_status"), "open");
        cr_expect_str_eq(str(j, "amount_paid"), "30.00");
        cr_expect_eq(json_array_size(json_object_get(j, "history")), 3);
        cr_expect_str_eq(
            json_string_value(json_object_get(
                json_array_get(json_object_get(j, "history"), 1), "by")),
            "finance-bot");
        json_decref(j);
        /* And its credit note, by the same route, JSON and PDF. */
        cr_assert_eq(tk_http("127.0.0.1", s.port, "GET", cn, h, "", 0, &r), 200,
                     "%s", r.body);
        j = json_loads(r.body, 0, NULL);
        tk_http_resp_release(&r);
        cr_expect_str_eq(str(j, "type"), "credit_note");
        json_decref(j);
        snprintf(h, sizeof h,
                 "Authorization: Bearer %s\r\nAccept: application/pdf\r\n",
                 cust);
        cr_expect_eq(tk_http("127.0.0.1", s.port, "GET", cn, h, "", 0, &r),
                     200);
        cr_expect(r.body && !strncmp(r.body, "%PDF", 4));
        tk_http_resp_release(&r);
        sk_stop(&s);
        mk_case_stop(&c);
}
