/* A customer's currency over `tally serve`: PUT /v1/customers/{id} stores
   it (an unknown code refused at its line and column), an API grant is in
   it, and a customer whose currency has no catalog gets a precise refusal
   from the cost to date and the plan change, never a price in USD. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "meterkit.h"
#include "serve_kit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

/* 'method' 'path' with 'body' as 'key': status 'want', a body holding
   'has' (may be NULL). */
static void expect(struct sk_serve *s, const char *method, const char *path,
                   const char *key, const char *body, int want, const char *has)
{
        struct tk_http_resp r;
        char h[512];
        int got;

        snprintf(h, sizeof h,
                 "Authorization: Bearer %s\r\nContent-Type: "
                 "application/json\r\nIdempotency-Key: cur-1\r\n",
                 key);
        got = tk_http("127.0.0.1", s->port, method, path, h, body, strlen(body),
                      &r);
        cr_expect_eq(got, want, "%s %s %s: %d, want %d: %s", method, path, body,
                     got, want, r.body ? r.body : "");
        if (has)
                cr_expect(r.body && strstr(r.body, has), "%s %s: %s lacks %s",
                          method, path, r.body ? r.body : "", has);
        tk_http_resp_release(&r);
}

static void expect_sql(PGconn *db, const char *sql, const char *want)
{
        char *v = tk_scalar(db, sql);

        cr_expect_str_eq(v, want, "%s", sql);
        free(v);
}

Test(serve_currency, a_currency_without_a_catalog_is_refused_by_name,
     .timeout = 300)
{
        struct mk_case c;
        struct sk_serve s;
        char admin[128];

        mk_case_start(&c, "serve_currency", 1, 1);
        sk_paths(&s, &c);
        sk_tally_ok("customers", "import", s.customers, NULL);
        sk_start(&s, &c);
        sk_key(admin, "admin", "admin", NULL);

        expect(&s, "PUT", "/v1/customers/cust_eu", admin,
               "{\"plan\": \"pro\", \"start\": \"2026-09-01\","
               " \"currency\": \"EUX\"}",
               400, "currency: 'EUX' is not an ISO 4217 currency code");
        expect_sql(c.db,
                   "SELECT count(*) FROM customers WHERE customer_id ="
                   " 'cust_eu'",
                   "0");
        expect(&s, "PUT", "/v1/customers/cust_eu", admin,
               "{\"plan\": \"pro\", \"start\": \"2026-09-01\","
               " \"currency\": \"EUR\"}",
               201, NULL);
        expect_sql(c.db,
                   "SELECT currency FROM customers WHERE customer_id ="
                   " 'cust_eu'",
                   "EUR");
        expect(&s, "POST", "/v1/customers/cust_eu/credits", admin,
               "{\"amount\": \"12.50\"}", 201, NULL);
        expect_sql(c.db,
                   "SELECT currency FROM credit_ledger WHERE customer_id ="
                   " 'cust_eu' AND grant_id IS NULL",
                   "EUR");
        /* The worked catalog is in USD only. */
        expect(&s, "GET", "/v1/customers/cust_eu/usage?period=2026-10", admin,
               "", 400, "customer cust_eu is billed in EUR");
        expect(&s, "POST", "/v1/customers/cust_eu/subscriptions", admin,
               "{\"plan\": \"pro\", \"start\": \"2026-10-20\"}", 400,
               "the customer is billed in EUR and no catalog in EUR");
        /* Without a currency, as before. */
        expect(&s, "GET", "/v1/customers/cust_0042/usage?period=2026-10", admin,
               "", 200, "\"USD\"");
        sk_stop(&s);
        mk_case_stop(&c);
}
