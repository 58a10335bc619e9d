/* A currency per customer through the close: USD, EUR, KWD (3 digits) and
   JPY (0) customers in one run, each invoice in its currency from the
   catalog in force in it, credit drawn only from grants in that currency,
   and a customer whose currency has no catalog named while the others
   close. The draft and offline `tally rate` pick the same way. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "meterkit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

static void tally(struct tk_proc_result *r, ...)
{
        const char *argv[40];
        int n = 0;
        va_list ap;

        argv[n++] = tk_tally_bin();
        va_start(ap, r);
        while (n < 39 && (argv[n] = va_arg(ap, const char *)) != NULL)
                n++;
        va_end(ap);
        argv[n] = NULL;
        cr_assert_eq(tk_run(argv, 120000, r), 0, "tally did not finish");
}

static void write_file(const char *dir, const char *name, const char *text)
{
        char path[512];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", dir, name);
        f = fopen(path, "w");
        cr_assert(f, "%s", path);
        fputs(text, f);
        fclose(f);
}

/* One catalog of 2026-09-01 in 'cur' whose plan 'pro' is the fee 'fee'. */
static void catalog(const char *dir, const char *cur, const char *fee)
{
        char name[32], text[1024];

        snprintf(name, sizeof name, "%s.yaml", cur);
        snprintf(text, sizeof text,
                 "catalog: t\nversion: %s-1\neffective_from: 2026-09-01\n"
                 "currency: %s\n"
                 "meters:\n  out: { event: inference.tokens, value: "
                 "output_tokens, aggregation: sum }\n"
                 "plans:\n  pro:\n    fees:\n      - { id: platform, name: "
                 "Platform fee, amount: %s }\n    charges:\n      - { id: "
                 "out, meter: out, model: per_unit, price: 1 }\n",
                 cur, cur, fee);
        write_file(dir, name, text);
}

/* Customers u (USD, or 'u_cur' for the first import), e (EUR), k (KWD),
   j (JPY), n (none: the catalog's default) and x (CHF, no catalog). */
static void customers(const char *dir, const char *name, const char *u_cur,
                      const char *u_credits)
{
        char text[1024];

        snprintf(text, sizeof text,
                 "customers:\n"
                 "  - { id: u, plan: pro, start: 2026-09-01, currency: %s,"
                 " credits: %s, tax_rate: 0.1 }\n"
                 "  - { id: e, plan: pro, start: 2026-09-01, currency: EUR,"
                 " credits: 5.00, tax_rate: 0.1 }\n"
                 "  - { id: k, plan: pro, start: 2026-09-01, currency: KWD,"
                 " tax_rate: 0.1 }\n"
                 "  - { id: j, plan: pro, start: 2026-09-01, currency: JPY,"
                 " tax_rate: 0.1 }\n"
                 "  - { id: n, plan: pro, start: 2026-09-01 }\n"
                 "  - { id: x, plan: pro, start: 2026-09-01, currency: CHF }\n",
                 u_cur, u_credits);
        write_file(dir, name, text);
}

static char *scalar(PGconn *db, const char *fmt, const char *arg)
{
        char sql[512];

        snprintf(sql, sizeof sql, fmt, arg);
        return tk_scalar(db, sql);
}

/* The stored invoice of October for 'id': its currency column, the
   document's currency and total. */
static void expect_invoice(PGconn *db, const char *id, const char *cur,
                           const char *total)
{
        char *col = scalar(db,
                           "SELECT currency || ' ' || (body->>'currency') ||"
                           " ' ' || (body->>'total') FROM invoices WHERE"
                           " customer_id = '%s' AND period_start ="
                           " '2026-10-01'",
                           id);
        char want[64];

        snprintf(want, sizeof want, "%s %s %s", cur, cur, total);
        cr_expect_str_eq(col, want, "customer %s: %s", id, col);
        free(col);
}

Test(close_currency, each_customer_is_billed_in_its_currency_with_its_credit,
     .timeout = 300)
{
        struct mk_case c;
        struct tk_proc_result r;
        char rules[256], empty[256];
        char *v;

        mk_case_start(&c, "close_currency", 1, 1);
        snprintf(rules, sizeof rules, "%s/rules", c.dir);
        mk_sh("mkdir -p '%s'", rules);
        /* Four catalogs of one date, one per currency. */
        catalog(rules, "USD", "10.00");
        catalog(rules, "EUR", "9.00");
        catalog(rules, "KWD", "3.125");
        catalog(rules, "JPY", "1499");
        write_file(c.dir, "empty.jsonl", "");
        snprintf(empty, sizeof empty, "%s/empty.jsonl", c.dir);

        /* u is granted 7 EUR while billed in EUR, then moves to USD with 4:
           the EUR grant stays, untouched by USD invoices. */
        customers(c.dir, "first.yaml", "EUR", "7.00");
        customers(c.dir, "then.yaml", "USD", "4.00");
        {
                char p1[256], p2[256];

                snprintf(p1, sizeof p1, "%s/first.yaml", c.dir);
                snprintf(p2, sizeof p2, "%s/then.yaml", c.dir);
                tally(&r, "customers", "import", p1, NULL);
                cr_assert_eq(r.exit_code, 0, "%s", r.err);
                tk_proc_result_release(&r);
                tally(&r, "customers", "import", p2, NULL);
                cr_assert_eq(r.exit_code, 0, "%s", r.err);
                tk_proc_result_release(&r);
        }
        v = tk_scalar(c.db, "SELECT string_agg(currency || ' ' || amount::text,"
                            " ', ' ORDER BY entry_id) FROM credit_ledger"
                            " WHERE customer_id = 'u'");
        cr_assert_str_eq(v, "EUR 7.000000, USD 4.000000");
        free(v);

        /* The draft of a customer whose currency has no catalog names it. */
        tally(&r, "usage", "--customer", "x", "--period", "2026-10", "--rules",
              rules, "--format", "json", NULL);
        cr_assert_neq(r.exit_code, 0);
        cr_assert(strstr(r.err, "customer x is billed in CHF") &&
                      strstr(r.err, "no catalog in CHF"),
                  "%s", r.err);
        tk_proc_result_release(&r);
        tally(&r, "usage", "--customer", "e", "--period", "2026-10", "--rules",
              rules, "--format", "json", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert(strstr(r.out, "\"currency\": \"EUR\"") ||
                      strstr(r.out, "\"currency\":\"EUR\""),
                  "%s", r.out);
        tk_proc_result_release(&r);

        /* The close: x is named and not produced, the others close. */
        tally(&r, "invoice", "--period", "2026-10", "--rules", rules,
              "--finalize", "--as-of", "2026-11-04", "--quiet", NULL);
        cr_assert_neq(r.exit_code, 0, "x has no catalog: %s", r.err);
        cr_assert(strstr(r.err, "x: not produced: customer x is billed in "
                                "CHF"),
                  "%s", r.err);
        cr_assert(strstr(r.err, "1 invoice(s) of 2026-10 could not be "
                                "produced"),
                  "%s", r.err);
        tk_proc_result_release(&r);
        /* Credit before tax: (10.00 - 4.00 USD credit) + 10%; (9.00 - 5.00
           EUR) + 10%; 3.125 + 0.3125 -> 0.312 (KWD, 3 digits, half to
           even); 1499 + 149.9 -> 150 (JPY, none); n: the default catalog,
           the last by file name of the date (USD.yaml), without tax. */
        expect_invoice(c.db, "u", "USD", "6.60");
        expect_invoice(c.db, "e", "EUR", "4.40");
        expect_invoice(c.db, "k", "KWD", "3.437");
        expect_invoice(c.db, "j", "JPY", "1649");
        expect_invoice(c.db, "n", "USD", "10.00");
        v = tk_scalar(c.db, "SELECT count(*) FROM invoices WHERE"
                            " customer_id = 'x'");
        cr_assert_str_eq(v, "0", "never priced in another currency");
        free(v);
        /* Credit drawn from the grant in the invoice's currency only. */
        v = tk_scalar(c.db,
                      "SELECT string_agg(g.currency || ' ' || (g.amount +"
                      " coalesce((SELECT sum(m.amount) FROM credit_ledger m"
                      " WHERE m.grant_id = g.entry_id), 0))::numeric(12,2)"
                      "::text, ', ' ORDER BY g.customer_id, g.entry_id)"
                      " FROM credit_ledger g WHERE g.grant_id IS NULL");
        cr_assert_str_eq(v, "EUR 0.00, EUR 7.00, USD 0.00");
        free(v);

        /* Offline rating picks the same catalogs and names x too. */
        {
                char cust[256];

                snprintf(cust, sizeof cust, "%s/then.yaml", c.dir);
                tally(&r, "rate", "--rules", rules, "--customers", cust,
                      "--events", empty, "--period", "2026-10", NULL);
        }
        cr_assert_neq(r.exit_code, 0);
        cr_assert(strstr(r.err, "customer x is billed in CHF"), "%s", r.err);
        {
                json_t *all = json_loads(r.out, 0, NULL);
                const char *want[][2] = {{"e", "EUR"},
                                         {"j", "JPY"},
                                         {"k", "KWD"},
                                         {"n", "USD"},
                                         {"u", "USD"}};

                cr_assert(json_is_array(all), "%s", r.out);
                cr_assert_eq(json_array_size(all), 5, "%s", r.out);
                for (size_t i = 0; i < 5; i++) {
                        json_t *inv = json_array_get(all, i);

                        cr_expect_str_eq(
                            json_string_value(json_object_get(inv, "customer")),
                            want[i][0]);
                        cr_expect_str_eq(
                            json_string_value(json_object_get(inv, "currency")),
                            want[i][1]);
                }
                json_decref(all);
        }
        tk_proc_result_release(&r);
        mk_case_stop(&c);
}
