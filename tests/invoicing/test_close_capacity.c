/* Capacity licences through the broker, the meter, the database and the
   close: seat events from before the period and daily rollups give the
   same invoices as offline `tally rate`, to the fils (KWD). */
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

/* Member 'key' of line 'i' of 'inv', a string. */
static const char *at(const json_t *inv, size_t i, const char *key)
{
        const char *s = json_string_value(json_object_get(
            json_array_get(json_object_get(inv, "lines"), i), key));

        cr_assert(s, "lines[%zu].%s", i, key);
        return s;
}

/*
** By hand (October: 31 days). cust_fleet: small a (September, 31 days) +
** b (from 17 Oct 10:00, 15 days) = 46 seat-days, large c (1..10 Oct) = 10.
** Allowance 500,000 + 46 x 1,000,000 / 31 + 10 x 4,000,000 / 31 =
** 101,500,000 / 31; usage 5,000,000 leaves 53,500,000 / 31: 1,000,000 at
** 0.150 + 22,500,000 / 31 at 0.0625 per 1,000,000 = 0.195362 -> 0.195.
** Seats 57.5 / 31 -> 1.855 and 28 / 31 -> 0.903; fee 10.000: 12.953.
** cust_flat: large z from 16 Oct = 16 days; 500,000 + 16 x 2,000,000 / 31
** = 47,500,000 / 31; usage 2,000,000 leaves 14,500,000 / 31 at 0.150 =
** 0.070161 -> 0.070; seat 44.8 / 31 -> 1.445; 11.515.
*/
Test(close, capacity_licences_close_as_they_rate_offline, .timeout = 240)
{
        struct mk_case c;
        struct tk_proc_result r;
        char dir[400], catalog[512], cust[512], events[512], out[256];
        const char *ids[] = {"cust_flat", "cust_fleet"};
        json_t *offline;

        snprintf(dir, sizeof dir, "%s/tests/invoicing/capacity",
                 tk_source_dir());
        snprintf(catalog, sizeof catalog, "%s/catalog.yaml", dir);
        snprintf(cust, sizeof cust, "%s/customers.yaml", dir);
        snprintf(events, sizeof events, "%s/events.jsonl", dir);
        mk_case_start(&c, "close_capacity", 1, 2);
        mk_sh("kcat -P -b '%s' -t '%s' -l '%s'", c.broker.bootstrap, c.name,
              events);
        mk_meter_drain(&c);
        tally(&r, "customers", "import", cust, NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        snprintf(out, sizeof out, "%s/out", c.dir);
        tally(&r, "invoice", "--period", "2026-10", "--rules", catalog,
              "--finalize", "--as-of", "2026-11-04", "--out", out, "--quiet",
              NULL);
        cr_assert_eq(r.exit_code, 0, "%s %s", r.out, r.err);
        tk_proc_result_release(&r);
        tally(&r, "rate", "--rules", catalog, "--customers", cust, "--events",
              events, "--period", "2026-10", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        offline = json_loads(r.out, 0, NULL);
        cr_assert(json_is_array(offline), "%s", r.out);
        tk_proc_result_release(&r);
        for (size_t k = 0; k < 2; k++) {
                json_t *got = stored(c.db, ids[k]), *off = NULL, *e;
                size_t i;

                json_array_foreach(offline, i, e)
                {
                        if (!strcmp(json_string_value(
                                        json_object_get(e, "customer")),
                                    ids[k]))
                                off = e;
                }
                cr_assert(off, "%s offline", ids[k]);
                cr_assert_eq(json_array_size(json_object_get(off, "lines")),
                             json_array_size(json_object_get(got, "lines")));
                json_array_foreach(json_object_get(off, "lines"), i, e)
                {
                        json_t *gl =
                            json_array_get(json_object_get(got, "lines"), i);
                        const char *key;
                        json_t *v;

                        /* The stored line adds what it was priced at. */
                        json_object_foreach(e, key, v)
                        {
                                cr_assert(
                                    json_equal(v, json_object_get(gl, key)),
                                    "%s lines[%zu].%s", ids[k], i, key);
                        }
                }
                cr_assert(json_equal(json_object_get(off, "total"),
                                     json_object_get(got, "total")),
                          "%s total", ids[k]);
                json_decref(got);
        }
        json_decref(offline);
        {
                json_t *fleet = stored(c.db, "cust_fleet");
                json_t *flat = stored(c.db, "cust_flat");

                cr_assert_str_eq(at(fleet, 3, "charge"), "local");
                cr_assert_str_eq(at(fleet, 3, "quantity"), "1725806.4516");
                cr_assert_str_eq(at(fleet, 3, "allowance_used"),
                                 "3274193.5484");
                cr_assert_str_eq(at(fleet, 3, "capacity"), "3274193.5484");
                cr_assert_str_eq(at(fleet, 3, "amount"), "0.195");
                cr_assert_str_eq(at(fleet, 1, "amount"), "0.903");
                cr_assert_str_eq(at(fleet, 2, "amount"), "1.855");
                cr_assert_str_eq(
                    json_string_value(json_object_get(fleet, "total")),
                    "12.953");
                cr_assert_str_eq(at(flat, 2, "quantity"), "467741.9355");
                cr_assert_str_eq(at(flat, 2, "capacity"), "1532258.0645");
                cr_assert_str_eq(at(flat, 2, "amount"), "0.070");
                cr_assert_str_eq(
                    json_string_value(json_object_get(flat, "total")),
                    "11.515");
                json_decref(fleet);
                json_decref(flat);
        }
        /* The period's CSV has the allowance columns, every row. */
        mk_sh("head -1 '%s/invoices-2026-10.csv' | grep -q "
              "',tiers,allowance_used,capacity$'",
              out);
        mk_sh("grep -q ',local,On-device output tokens,1725806.4516,1000000,"
              "0.195,graduated,.*,3274193.5484,3274193.5484$' "
              "'%s/invoices-2026-10.csv'",
              out);
        mk_case_stop(&c);
}
