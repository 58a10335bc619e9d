/* A plan change inside a period through the broker, the meter, the
   database and the close: the stored histories, the invoice priced per
   segment equal to offline `tally rate` on the same long form, and a
   change dated in a finalized period refused naming its invoice. */
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

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");

        cr_assert(f, "%s", path);
        fputs(text, f);
        fclose(f);
}

/* cust_0042 moves from pro-lower-output to pro on 'day'. */
static void customers_file(const char *path, const char *day)
{
        char text[1024];

        snprintf(text, sizeof text,
                 "customers:\n"
                 "  - id: cust_0042\n"
                 "    name: Northwind Legal LLP\n"
                 "    subscriptions:\n"
                 "      - { plan: pro-lower-output, start: 2026-09-01, end: "
                 "%s }\n"
                 "      - { plan: pro, start: %s }\n"
                 "  - id: cust_A\n"
                 "    name: Alder Insurance\n"
                 "    plan: pro\n"
                 "    start: 2026-10-15\n"
                 "    tax_rate: 0.19\n"
                 "    credits: 50.00\n",
                 day, day);
        write_file(path, text);
}

/* Every member of 'want' equals the same member of 'got' (the stored
   document adds how each line was priced). */
static void subset(const json_t *want, const json_t *got, const char *path)
{
        char sub[512];

        if (json_is_object(want)) {
                const char *k;
                json_t *v;

                cr_assert(json_is_object(got), "%s: not an object", path);
                json_object_foreach((json_t *)want, k, v)
                {
                        snprintf(sub, sizeof sub, "%s.%s", path, k);
                        subset(v, json_object_get(got, k), sub);
                }
        } else if (json_is_array(want)) {
                cr_assert(json_is_array(got) &&
                              json_array_size(got) == json_array_size(want),
                          "%s: array length", path);
                for (size_t i = 0; i < json_array_size(want); i++) {
                        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
                        subset(json_array_get(want, i), json_array_get(got, i),
                               sub);
                }
        } else {
                cr_assert(got && json_equal(want, got), "%s differs", path);
        }
}

static long long count(PGconn *db, const char *sql)
{
        char *s = tk_scalar(db, sql);
        long long v = atoll(s);

        free(s);
        return v;
}

static json_t *stored(PGconn *db, const char *customer)
{
        char sql[256], *body;
        json_t *j;

        snprintf(sql, sizeof sql,
                 "SELECT body::text FROM invoices WHERE customer_id = '%s'"
                 " AND period_start = '2026-10-01'",
                 customer);
        body = tk_scalar(db, sql);
        j = json_loads(body, 0, NULL);
        free(body);
        cr_assert(j, "invoice of %s", customer);
        return j;
}

Test(close_segments, a_mid_month_upgrade_closes_as_offline_rating_prices_it,
     .timeout = 300)
{
        struct mk_case c;
        struct tk_proc_result r;
        char worked[400], catalog[512], events[512], cust[600], moved[600];
        json_t *offline, *got, *off = NULL, *draft;

        snprintf(worked, sizeof worked, "%s/tests/rating/worked",
                 tk_source_dir());
        snprintf(catalog, sizeof catalog, "%s/catalog.yaml", worked);
        snprintf(events, sizeof events, "%s/events.jsonl", worked);
        mk_case_start(&c, "close_segments", 1, 2);
        snprintf(cust, sizeof cust, "%s/customers.yaml", c.dir);
        snprintf(moved, sizeof moved, "%s/moved.yaml", c.dir);
        customers_file(cust, "2026-10-15");
        customers_file(moved, "2026-10-20");
        mk_sh("kcat -P -b '%s' -t '%s' -l '%s'", c.broker.bootstrap, c.name,
              events);
        mk_meter_drain(&c);
        tally(&r, "customers", "import", cust, NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        cr_assert_eq(count(c.db, "SELECT count(*) FROM subscriptions WHERE "
                                 "customer_id = 'cust_0042'"),
                     2);
        cr_assert_eq(count(c.db, "SELECT count(*) FROM customers WHERE "
                                 "customer_id = 'cust_0042' AND plan = 'pro'"
                                 " AND sub_start = '2026-09-01'"),
                     1, "customers.plan is the current plan");

        /* The cost to date before the close: priced the same way. */
        tally(&r, "usage", "--customer", "cust_0042", "--period", "2026-10",
              "--rules", catalog, "--format", "json", NULL);
        cr_assert_eq(r.exit_code, 0, "%s %s", r.out, r.err);
        cr_assert(strstr(r.out, "\"segment\""), "%s", r.out);
        draft = json_loads(r.out, 0, NULL);
        cr_assert(json_is_array(json_object_get(draft, "lines")), "%s", r.out);
        tk_proc_result_release(&r);

        tally(&r, "invoice", "--period", "2026-10", "--rules", catalog,
              "--finalize", "--as-of", "2026-11-04", "--quiet", NULL);
        cr_assert_eq(r.exit_code, 0, "%s %s", r.out, r.err);
        tk_proc_result_release(&r);

        tally(&r, "rate", "--rules", catalog, "--customers", cust, "--events",
              events, "--period", "2026-10", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        offline = json_loads(r.out, 0, NULL);
        tk_proc_result_release(&r);
        cr_assert(json_is_array(offline));
        for (size_t i = 0; i < json_array_size(offline); i++)
                if (!strcmp(json_string_value(json_object_get(
                                json_array_get(offline, i), "customer")),
                            "cust_0042"))
                        off = json_array_get(offline, i);
        cr_assert_not_null(off);
        got = stored(c.db, "cust_0042");
        subset(json_object_get(off, "lines"), json_object_get(got, "lines"),
               "lines vs tally rate");
        subset(json_object_get(off, "total"), json_object_get(got, "total"),
               "total vs tally rate");
        /* The cost to date drafted before the close is the same bill. */
        subset(json_object_get(draft, "lines"), json_object_get(got, "lines"),
               "lines vs tally usage");
        json_decref(draft);
        {
                json_t *first =
                    json_array_get(json_object_get(got, "lines"), 0);
                json_t *seg = json_object_get(first, "segment");
                json_t *lines = json_object_get(got, "lines");
                json_t *last = json_object_get(
                    json_array_get(lines, json_array_size(lines) - 1),
                    "segment");

                cr_assert_str_eq(
                    json_string_value(json_object_get(seg, "plan")),
                    "pro-lower-output");
                cr_assert_str_eq(json_string_value(json_object_get(seg, "end")),
                                 "2026-10-15");
                cr_assert_str_eq(
                    json_string_value(json_object_get(last, "plan")), "pro");
        }
        json_decref(got);
        got = stored(c.db, "cust_A");
        {
                char *text = json_dumps(got, JSON_COMPACT);

                cr_assert_not_null(text);
                cr_expect_null(strstr(text, "segment"),
                               "no change, no segment");
                free(text);
        }
        json_decref(got);
        json_decref(offline);

        /* Moving the change inside the finalized October is refused,
           naming the customer, the date and the invoice. */
        tally(&r, "customers", "import", moved, NULL);
        cr_assert_neq(r.exit_code, 0);
        cr_assert(strstr(r.err, "customer cust_0042") &&
                      strstr(r.err, "2026-10-15") &&
                      strstr(r.err, "period 2026-10") &&
                      strstr(r.err, "INV-2026-"),
                  "%s", r.err);
        tk_proc_result_release(&r);
        cr_assert_eq(count(c.db, "SELECT count(*) FROM subscriptions WHERE "
                                 "customer_id = 'cust_0042' AND sub_start = "
                                 "'2026-10-15'"),
                     1, "nothing changed");
        /* The same file again is no change at all. */
        tally(&r, "customers", "import", cust, NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        mk_case_stop(&c);
}
