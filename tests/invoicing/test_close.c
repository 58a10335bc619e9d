/* The monthly close against a real broker, meter and PostgreSQL: the worked
   example end to end, lifecycle, idempotency (rerun, kill -9), numbering
   under two workers, late events, credit carry-over, simulate. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "meterkit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

/* `tally ARGS...` (NULL-terminated), its result in 'r'. */
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

static char worked[400], catalog[512];

static void paths(void)
{
        snprintf(worked, sizeof worked, "%s/tests/rating/worked",
                 tk_source_dir());
        snprintf(catalog, sizeof catalog, "%s/catalog.yaml", worked);
}

/* The worked example's events through the broker and the meter, and its
   customers imported (from 'customers', or the example's file). */
static void load_worked(struct mk_case *c, const char *customers)
{
        struct tk_proc_result r;
        char file[600];

        snprintf(file, sizeof file, "%s/customers.yaml", worked);
        mk_sh("kcat -P -b '%s' -t '%s' -l '%s/events.jsonl'",
              c->broker.bootstrap, c->name, worked);
        mk_meter_drain(c);
        tally(&r, "customers", "import", customers ? customers : file, NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
}

static void close_period(const char *period, const char *as_of, const char *out,
                         int want_exit)
{
        struct tk_proc_result r;

        if (out)
                tally(&r, "invoice", "--period", period, "--rules", catalog,
                      "--finalize", "--as-of", as_of, "--out", out, "--quiet",
                      NULL);
        else
                tally(&r, "invoice", "--period", period, "--rules", catalog,
                      "--finalize", "--as-of", as_of, "--quiet", NULL);
        cr_assert_eq(r.exit_code, want_exit, "exit %d: %s %s", r.exit_code,
                     r.out, r.err);
        tk_proc_result_release(&r);
}

/* Every member of 'want' equals the same member of 'got' (subset check). */
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

static json_t *stored(PGconn *db, const char *customer, const char *period)
{
        char sql[256], *body;
        json_t *j;

        snprintf(sql, sizeof sql,
                 "SELECT body::text FROM invoices WHERE customer_id = '%s'"
                 " AND period_start = '%s-01'",
                 customer, period);
        body = tk_scalar(db, sql);
        j = json_loads(body, 0, NULL);
        free(body);
        cr_assert(j, "invoice of %s %s", customer, period);
        return j;
}

static long long count(PGconn *db, const char *sql)
{
        char *s = tk_scalar(db, sql);
        long long v = atoll(s);

        free(s);
        return v;
}

Test(close, worked_example_through_broker_meter_and_database, .timeout = 240)
{
        struct mk_case c;
        struct tk_proc_result r;
        char out[256], expected[600], rate[600];
        json_t *exp, *offline;

        paths();
        mk_case_start(&c, "close_worked", 1, 2);
        load_worked(&c, NULL);
        snprintf(out, sizeof out, "%s/out", c.dir);
        close_period("2026-10", "2026-11-04", out, 0);

        snprintf(expected, sizeof expected, "%s/expected.json", worked);
        exp = json_load_file(expected, 0, NULL);
        cr_assert(json_is_array(exp));
        /* The same events rated offline: identical amounts and lines. */
        snprintf(rate, sizeof rate, "%s/events.jsonl", worked);
        {
                char cust[600];

                snprintf(cust, sizeof cust, "%s/customers.yaml", worked);
                tally(&r, "rate", "--rules", catalog, "--customers", cust,
                      "--events", rate, "--period", "2026-10", NULL);
                cr_assert_eq(r.exit_code, 0, "%s", r.err);
                offline = json_loads(r.out, 0, NULL);
                tk_proc_result_release(&r);
        }
        for (size_t i = 0; i < json_array_size(exp); i++) {
                json_t *e = json_array_get(exp, i);
                const char *id =
                    json_string_value(json_object_get(e, "customer"));
                json_t *got = stored(c.db, id, "2026-10");
                json_t *off = json_array_get(offline, i);

                subset(e, got, id);
                cr_assert_str_eq(
                    json_string_value(json_object_get(got, "status")),
                    "finalized");
                subset(json_object_get(off, "lines"),
                       json_object_get(got, "lines"), "lines vs tally rate");
                subset(json_object_get(off, "total"),
                       json_object_get(got, "total"), "total vs tally rate");
                json_decref(got);
        }
        json_decref(exp);
        json_decref(offline);
        /* Each usage line keeps its meter and what it was priced at: the
           tiers as used, or the price per unit. */
        {
                json_t *got = stored(c.db, "cust_0042", "2026-10");
                json_t *lines = json_object_get(got, "lines");
                char *text;

                text = json_dumps(json_array_get(lines, 3), JSON_COMPACT);
                cr_assert_str_eq(
                    text, "{\"kind\":\"usage\",\"charge\":\"cloud-output\","
                          "\"meter\":\"cloud-output\",\"quantity\":"
                          "\"11000000\",\"unit\":\"1000000\","
                          "\"model\":\"graduated\",\"tiers\":[{\"quantity\":"
                          "\"10000000\",\"price\":\"0.60\"},{\"quantity\":"
                          "\"1000000\",\"price\":\"0.40\"}],\"name\":"
                          "\"Cloud output tokens\",\"amount\":\"6.40\"}");
                free(text);
                text = json_dumps(json_array_get(lines, 4), JSON_COMPACT);
                cr_assert(strstr(text, "\"model\":\"per_unit\",\"price\":"
                                       "\"0.15\""),
                          "%s", text);
                free(text);
                json_decref(got);
        }
        mk_sh("grep -q ',cloud-output,Cloud output tokens,11000000,1000000,"
              "6.40,graduated,,,10000000 @ 0.60; 1000000 @ 0.40$' "
              "'%s/invoices-2026-10.csv'",
              out);
        /* Files: JSON, PDF per invoice, one CSV with every line. */
        mk_sh("test -s '%s/INV-2026-000001.json' && test -s "
              "'%s/INV-2026-000002.pdf'",
              out, out);
        mk_sh("head -c 5 '%s/INV-2026-000001.pdf' | grep -q '%%PDF-'", out);
        mk_sh("test $(wc -l < '%s/invoices-2026-10.csv') -eq 17", out);
        /* The catalog version is stored and referenced. */
        cr_assert_eq(count(c.db, "SELECT count(*) FROM invoices i JOIN "
                                 "catalog_versions v USING "
                                 "(catalog_version_id) WHERE v.version = "
                                 "'2026-10' AND length(v.body) > 100"),
                     2);
        /* Report: revenue per plan and per cohort. */
        tally(&r, "invoice", "--period", "2026-10", "--report", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert(strstr(r.out, "pro-lower-output") &&
                      strstr(r.out, "output-price-q4/control") &&
                      strstr(r.out, "output-price-q4/lower") &&
                      strstr(r.out, "100.00") && strstr(r.out, "54.84"),
                  "%s", r.out);
        tk_proc_result_release(&r);
        mk_case_stop(&c);
}

/* A digest of everything the close writes. */
static char *digest(PGconn *db)
{
        return tk_scalar(
            db, "SELECT md5(concat_ws('|',"
                " (SELECT string_agg(concat_ws(',', invoice_id, customer_id,"
                "  status, number, total, body::text, usage_events),"
                "  ';' ORDER BY invoice_id) FROM invoices),"
                " (SELECT string_agg(concat_ws(',', entry_id, amount,"
                "  reason, invoice_id), ';' ORDER BY entry_id)"
                "  FROM credit_ledger),"
                " (SELECT string_agg(concat_ws(',', issuer, year, last_seq),"
                "  ';' ORDER BY issuer, year) FROM invoice_numbers),"
                " (SELECT string_agg(concat_ws(',', customer_id, plan,"
                "  updated_at), ';' ORDER BY customer_id) FROM customers),"
                " (SELECT count(*) FROM catalog_versions),"
                " (SELECT count(*) FROM invoice_adjustments)))");
}

Test(close, lifecycle_rerun_immutability_and_simulate, .timeout = 240)
{
        struct mk_case c;
        struct tk_proc_result r;
        char *before, *after, other[600], bad[600];

        paths();
        mk_case_start(&c, "close_life", 1, 1);
        load_worked(&c, NULL);
        /* Drafts: no numbers; re-drafting replaces them. */
        tally(&r, "invoice", "--period", "2026-10", "--rules", catalog,
              "--quiet", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        cr_assert_eq(count(c.db, "SELECT count(*) FROM invoices WHERE "
                                 "status = 'draft' AND number IS NULL"),
                     2);
        /* Inside the grace period: refused, nothing written. */
        close_period("2026-10", "2026-11-03", NULL, 2);
        cr_assert_eq(count(c.db, "SELECT count(*) FROM invoices WHERE "
                                 "status = 'finalized'"),
                     0);
        close_period("2026-10", "2026-11-04", NULL, 0);
        before = digest(c.db);
        close_period("2026-10", "2026-11-20", NULL, 0);
        after = digest(c.db);
        cr_assert_str_eq(before, after, "a second close changed something");
        free(after);
        /* Finalized means frozen, whoever tries. */
        {
                PGresult *u = PQexec(c.db, "UPDATE invoices SET total = 0");
                PGresult *d = PQexec(c.db, "DELETE FROM invoices");
                ExecStatusType su = PQresultStatus(u), sd = PQresultStatus(d);

                PQclear(u);
                PQclear(d);
                cr_assert_eq(su, PGRES_FATAL_ERROR);
                cr_assert_eq(sd, PGRES_FATAL_ERROR);
        }
        /* Simulate other prices: before/after, nothing written. */
        snprintf(other, sizeof other, "%s/other.yaml", c.dir);
        mk_sh(
            "sed 's/unit: 1000000, model: per_unit, price: 0.15/unit: 1000000, "
            "model: per_unit, price: 0.30/' '%s' > '%s' && ! cmp -s '%s' '%s'",
            catalog, other, catalog, other);
        unsetenv("TALLY_RULES");
        tally(&r, "rules", "simulate", "--rules", other, "--period", "2026-10",
              NULL);
        cr_assert_eq(r.exit_code, 2, "no configured rules: %s", r.err);
        cr_assert(strstr(r.err, "no pricing rules configured"), "%s", r.err);
        tk_proc_result_release(&r);
        setenv("TALLY_RULES", catalog, 1);
        tally(&r, "rules", "simulate", "--rules", other, "--period", "2026-10",
              NULL);
        unsetenv("TALLY_RULES");
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert(strstr(r.out, "cust_A") && strstr(r.out, "54.84") &&
                      strstr(r.out, "68.17") && strstr(r.out, "13.33") &&
                      strstr(r.out, "output-price-q4/lower"),
                  "%s", r.out);
        tk_proc_result_release(&r);
        after = digest(c.db);
        cr_assert_str_eq(before, after, "simulate changed the database");
        free(after);
        /* A broken customers file: file:line:col, nothing imported. */
        snprintf(bad, sizeof bad, "%s/bad.yaml", c.dir);
        mk_sh("printf 'customers:\\n  - id: cust_A\\n    name: Changed\\n    "
              "plan: pro\\n    start: 2026-10-15\\n  - id: cust_B\\n    "
              "plan: pro\\n    start: 2026-13-01\\n' > '%s'",
              bad);
        tally(&r, "customers", "import", bad, NULL);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "bad.yaml:") &&
                      strstr(r.err, "nothing imported"),
                  "%s", r.err);
        tk_proc_result_release(&r);
        after = digest(c.db);
        cr_assert_str_eq(before, after, "a refused import changed something");
        free(after);
        free(before);
        /* tally usage: the draft now; an unknown customer is exit 2. */
        tally(&r, "usage", "--customer", "cust_A", "--period", "2026-10",
              "--rules", catalog, "--format", "json", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert(strstr(r.out, "\"subtotal\":\"54.84\""), "%s", r.out);
        tk_proc_result_release(&r);
        tally(&r, "usage", "--customer", "nobody", "--rules", catalog, NULL);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "nobody"), "%s", r.err);
        tk_proc_result_release(&r);
        mk_case_stop(&c);
}

Test(close, late_events_adjust_the_next_invoice_once_and_credit_carries,
     .timeout = 300)
{
        struct mk_case c;
        char cust[600], late[600];
        json_t *nov, *lines, *dec;
        int adj = 0;

        paths();
        mk_case_start(&c, "close_late", 1, 1);
        /* cust_0042 prepaid 150: 100 used in October, 50 left for later. */
        snprintf(cust, sizeof cust, "%s/customers.yaml", c.dir);
        mk_sh(
            "sed 's/    start: 2026-09-01/    start: 2026-09-01\\n    credits: "
            "150.00/' '%s/customers.yaml' > '%s'",
            worked, cust);
        load_worked(&c, cust);
        close_period("2026-10", "2026-11-04", NULL, 0);
        cr_assert_eq(count(c.db, "SELECT sum(amount) FROM credit_ledger WHERE "
                                 "customer_id = 'cust_0042'"),
                     50);
        /* A late October event for cust_A: +10M cloud output tokens. */
        snprintf(late, sizeof late, "%s/late.jsonl", c.dir);
        mk_sh("printf '%%s\\n' '{\"specversion\":\"1.0\",\"id\":\"late-1\","
              "\"source\":\"api-eu\",\"type\":\"inference.tokens\","
              "\"subject\":\"cust_A\",\"time\":\"2026-10-30T10:00:00Z\","
              "\"data\":{\"model\":\"m\",\"deployment\":\"cloud\","
              "\"decoding\":\"autoregressive\",\"input_tokens\":0,"
              "\"output_tokens\":10000000}}' > '%s'",
              late);
        mk_sh("kcat -P -b '%s' -t '%s' -l '%s'", c.broker.bootstrap, c.name,
              late);
        mk_meter_drain(&c);
        close_period("2026-11", "2026-12-04", NULL, 0);
        /* 40M - 2M = 38M: 10M x 0.50 + 28M x 0.35 = 14.80 (was 11.30); the
           period's lines 26.87 + 14.80 + 15.00 = 56.67 now pass the prorated
           minimum 54.84 that was billed: the adjustment is 1.83. */
        nov = stored(c.db, "cust_A", "2026-11");
        lines = json_object_get(nov, "lines");
        for (size_t i = 0; i < json_array_size(lines); i++) {
                json_t *l = json_array_get(lines, i);

                if (strcmp(json_string_value(json_object_get(l, "kind")),
                           "adjustment"))
                        continue;
                adj++;
                cr_assert_str_eq(
                    json_string_value(json_object_get(l, "period")), "2026-10");
                cr_assert_str_eq(
                    json_string_value(json_object_get(l, "amount")), "1.83");
        }
        cr_assert_eq(adj, 1, "one adjustment line on November");
        json_decref(nov);
        /* cust_0042's last 50.00 of credit went to November. */
        nov = stored(c.db, "cust_0042", "2026-11");
        cr_assert_str_eq(json_string_value(json_object_get(nov, "credit")),
                         "-50.00");
        json_decref(nov);
        cr_assert_eq(count(c.db, "SELECT sum(amount) FROM credit_ledger WHERE "
                                 "customer_id = 'cust_0042'"),
                     0);
        /* December: the same late events are never billed twice. */
        close_period("2026-12", "2027-01-04", NULL, 0);
        dec = stored(c.db, "cust_A", "2026-12");
        lines = json_object_get(dec, "lines");
        for (size_t i = 0; i < json_array_size(lines); i++)
                cr_assert_str_neq(json_string_value(json_object_get(
                                      json_array_get(lines, i), "kind")),
                                  "adjustment");
        json_decref(dec);
        cr_assert_eq(count(c.db, "SELECT count(*) FROM invoice_adjustments"),
                     1);
        /* Numbers stay gap-free across periods: 6 invoices, 1..6. */
        cr_assert_eq(count(c.db, "SELECT count(DISTINCT number) FROM invoices"
                                 " WHERE number ~ '^INV-2026-00000[1-6]$'"),
                     6);
        mk_case_stop(&c);
}

/* N customers with a few rollup rows each, written directly: this suite
   is about claiming and numbering, not ingest. */
static void many_customers(PGconn *db, int n)
{
        struct tk_proc_result r;
        char sql[2048];

        tally(&r, "db", "migrate", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        free(tk_scalar(db, "SELECT tally_ensure_month('2026-10-01')::text"));
        snprintf(sql, sizeof sql,
                 "INSERT INTO customers (customer_id, name, plan, sub_start)"
                 " SELECT format('c%%05s', i), format('Customer %%s', i),"
                 " 'pro', '2026-01-01' FROM generate_series(1, %d) i",
                 n);
        tk_exec(db, sql);
        tk_exec(db, "INSERT INTO usage_rollups (customer_id, day, type,"
                    " attrs_hash, deployment, decoding, event_count,"
                    " input_tokens, output_tokens)"
                    " SELECT customer_id, date '2026-10-01' + d, 1,"
                    " decode(md5('cloud-ar'), 'hex'), 1, 'autoregressive',"
                    " 10, 1000000 * d, 2000000 * d"
                    " FROM customers, generate_series(0, 30, 3) d");
}

/* Customers in id order hold numbers 1..n, each once, no gaps. */
static void check_numbers(PGconn *db, int n)
{
        cr_assert_eq(count(db, "SELECT count(*) FROM invoices WHERE "
                               "status = 'finalized'"),
                     n);
        cr_assert_eq(count(db, "SELECT count(DISTINCT number) FROM invoices"),
                     n);
        cr_assert_eq(count(db, "SELECT max(substr(number, 10)::int) FROM "
                               "invoices"),
                     n);
        cr_assert_eq(count(db, "SELECT last_seq FROM invoice_numbers"), n);
}

static pid_t spawn_close(const char *batch)
{
        pid_t pid = fork();

        cr_assert_neq(pid, -1);
        if (pid == 0) {
                execl(tk_tally_bin(), "tally", "invoice", "--period", "2026-10",
                      "--rules", catalog, "--finalize", "--as-of", "2026-11-05",
                      "--batch", batch, "--quiet", (char *)NULL);
                _exit(127);
        }
        return pid;
}

Test(close, killed_run_and_two_workers_keep_numbers_gap_free, .timeout = 300)
{
        struct mk_case c;
        char *clean, *resumed;
        int status;
        pid_t a, b;
        const int n = 400;

        paths();
        mk_case_start(&c, "close_kill", 1, 1);
        many_customers(c.db, n);
        /* A clean single run, the reference. */
        a = spawn_close("10");
        cr_assert_eq(mk_wait(a, 120000), 0);
        check_numbers(c.db, n);
        clean = tk_scalar(c.db, "SELECT md5(string_agg(customer_id || number"
                                " || body::text, ';' ORDER BY customer_id))"
                                " FROM invoices");
        /* Again from scratch, killed -9 halfway, then run to the end. */
        tk_exec(c.db, "ALTER TABLE invoices DISABLE TRIGGER invoices_frozen");
        tk_exec(c.db, "DELETE FROM invoices; DELETE FROM invoice_numbers");
        tk_exec(c.db, "ALTER TABLE invoices ENABLE TRIGGER invoices_frozen");
        a = spawn_close("10");
        for (int i = 0; i < 2000; i++) {
                if (count(c.db, "SELECT count(*) FROM invoices") >= n / 4)
                        break;
                mk_sleep_ms(5);
        }
        kill(a, SIGKILL);
        waitpid(a, &status, 0);
        cr_assert(WIFSIGNALED(status), "the close finished before the kill");
        cr_assert_lt(count(c.db, "SELECT count(*) FROM invoices"), n);
        cr_assert_eq(count(c.db, "SELECT count(*) FROM invoices"),
                     count(c.db, "SELECT coalesce(max(last_seq), 0) FROM "
                                 "invoice_numbers"),
                     "a killed run leaves whole batches");
        a = spawn_close("10");
        cr_assert_eq(mk_wait(a, 120000), 0);
        check_numbers(c.db, n);
        resumed = tk_scalar(c.db, "SELECT md5(string_agg(customer_id || number"
                                  " || body::text, ';' ORDER BY customer_id))"
                                  " FROM invoices");
        cr_assert_str_eq(clean, resumed,
                         "killed and resumed differs from a clean run");
        free(clean);
        free(resumed);
        /* Two workers at once on the same period. */
        tk_exec(c.db, "ALTER TABLE invoices DISABLE TRIGGER invoices_frozen");
        tk_exec(c.db, "DELETE FROM invoices; DELETE FROM invoice_numbers");
        tk_exec(c.db, "ALTER TABLE invoices ENABLE TRIGGER invoices_frozen");
        a = spawn_close("5");
        b = spawn_close("5");
        cr_assert_eq(mk_wait(a, 120000), 0);
        cr_assert_eq(mk_wait(b, 120000), 0);
        check_numbers(c.db, n);
        cr_assert_eq(count(c.db, "SELECT count(*) FROM (SELECT customer_id FROM"
                                 " invoices GROUP BY 1 HAVING count(*) > 1) x"),
                     0);
        mk_case_stop(&c);
}

/* One run of several jobs: each customer drafted once, not once per job,
   and numbers given in customer order (so a killed run resumes exactly). */
Test(close, jobs_draft_each_customer_once_and_number_in_id_order,
     .timeout = 300)
{
        struct tk_proc_result r;
        struct mk_case c;
        const int n = 300;

        paths();
        mk_case_start(&c, "close_jobs", 1, 1);
        many_customers(c.db, n);
        tally(&r, "invoice", "--period", "2026-10", "--rules", catalog,
              "--batch", "7", "--jobs", "4", "--quiet", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert(strstr(r.out, "300 customers rated: 300 drafted, 0 "
                                "finalized"),
                  "%s", r.out);
        tk_proc_result_release(&r);
        cr_assert_eq(count(c.db, "SELECT count(*) FROM invoices WHERE "
                                 "status = 'draft'"),
                     n);
        tally(&r, "invoice", "--period", "2026-10", "--rules", catalog,
              "--finalize", "--as-of", "2026-11-05", "--batch", "7", "--jobs",
              "4", "--quiet", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert(strstr(r.out, "300 customers rated: 0 drafted, 300 "
                                "finalized (INV-2026-000001 .. "
                                "INV-2026-000300)"),
                  "%s", r.out);
        tk_proc_result_release(&r);
        check_numbers(c.db, n);
        cr_assert_eq(count(c.db, "SELECT count(*) FROM (SELECT number, lag("
                                 "number) OVER (ORDER BY customer_id) p FROM"
                                 " invoices) x WHERE p >= number"),
                     0, "numbers out of customer order");
        mk_case_stop(&c);
}

/* A job whose connection is refused costs time, not the close. */
Test(close, a_job_that_cannot_connect_leaves_the_others_going, .timeout = 120)
{
        struct tk_proc_result r;
        struct mk_case c;
        char role[64], sql[512], *user;

        paths();
        mk_case_start(&c, "close_conn", 1, 1);
        many_customers(c.db, 40);
        snprintf(role, sizeof role, "close_lim_%d", (int)getpid());
        snprintf(sql, sizeof sql,
                 "CREATE ROLE %s LOGIN CONNECTION LIMIT 1;"
                 " GRANT CREATE, USAGE ON SCHEMA public TO %s;"
                 " GRANT ALL ON ALL TABLES IN SCHEMA public TO %s;"
                 " GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO %s",
                 role, role, role, role);
        tk_exec(c.db, sql);
        user = getenv("PGUSER") ? strdup(getenv("PGUSER")) : NULL;
        setenv("PGUSER", role, 1);
        tally(&r, "invoice", "--period", "2026-10", "--rules", catalog,
              "--jobs", "3", "--quiet", NULL);
        if (user)
                setenv("PGUSER", user, 1);
        else
                unsetenv("PGUSER");
        free(user);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert(strstr(r.err, "a close job cannot connect: ") &&
                      strstr(r.err, "too many connections") &&
                      strstr(r.err, "going on with 1 job(s)"),
                  "%s", r.err);
        cr_assert(strstr(r.out, "40 customers rated: 40 drafted"), "%s", r.out);
        tk_proc_result_release(&r);
        snprintf(sql, sizeof sql, "DROP OWNED BY %s; DROP ROLE %s", role, role);
        tk_exec(c.db, sql);
        mk_case_stop(&c);
}

Test(close, bad_invocations_are_precise, .timeout = 120)
{
        struct tk_proc_result r;
        char cfg[256];

        paths();
        tally(&r, "invoice", "--period", "2026-13", NULL);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "--period"), "%s", r.err);
        tk_proc_result_release(&r);
        tally(&r, "invoice", NULL);
        cr_assert_eq(r.exit_code, 2);
        tk_proc_result_release(&r);
        tally(&r, "invoice", "--period", "2026-10", "--jobs", "0", NULL);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "--jobs"), "%s", r.err);
        tk_proc_result_release(&r);
        snprintf(cfg, sizeof cfg, "/tmp/tally-inv-cfg-%d.yaml", (int)getpid());
        mk_sh("printf 'invoicing:\\n  grace_days: 3\\n  colour: red\\n' > '%s'",
              cfg);
        tally(&r, "invoice", "--period", "2026-10", "--config", cfg, NULL);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, ":3:3: invoicing.colour: unknown key"), "%s",
                  r.err);
        tk_proc_result_release(&r);
        mk_sh("printf 'invoicing:\\n  jobs: 65\\n' > '%s'", cfg);
        tally(&r, "invoice", "--period", "2026-10", "--config", cfg, NULL);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, ":2:9: invoicing.jobs"), "%s", r.err);
        tk_proc_result_release(&r);
        unlink(cfg);
}

/* Ids the old file names (unsafe byte -> '_') merged pairwise: each must
   get its own files, named by percent-encoding (test_render checks that
   those names decode back). */
Test(close, hostile_customer_ids_each_get_their_own_files, .timeout = 240)
{
        static const char *const ids[] = {"a,b\"c", "a_b_c",   "=1+2",
                                          "_1_2",   ".hidden", "x/../y"};
        static const char *const names[] = {"a%2Cb%22c", "a_b_c",
                                            "%3D1%2B2",  "_1_2",
                                            "%2Ehidden", "x%2F..%2Fy"};
        struct mk_case c;
        struct tk_proc_result r;
        char cust[400], out[256], file[600];
        FILE *f;

        paths();
        mk_case_start(&c, "close_names", 1, 1);
        snprintf(cust, sizeof cust, "%s/customers.yaml", c.dir);
        f = fopen(cust, "w");
        cr_assert(f);
        fputs("customers:\n", f);
        for (size_t i = 0; i < 6; i++) {
                fputs("  - id: \"", f);
                for (const char *s = ids[i]; *s; s++)
                        fprintf(f, *s == '"' || *s == '\\' ? "\\%c" : "%c", *s);
                fputs("\"\n    plan: pro\n    start: 2026-09-01\n", f);
        }
        fclose(f);
        tally(&r, "customers", "import", cust, NULL);
        cr_assert_eq(r.exit_code, 0, "sig %d: %s %s", r.term_signal, r.out,
                     r.err);
        tk_proc_result_release(&r);
        snprintf(out, sizeof out, "%s/out", c.dir);
        tally(&r, "invoice", "--period", "2026-10", "--rules", catalog,
              "--as-of", "2026-10-20", "--out", out, "--quiet", NULL);
        cr_assert_eq(r.exit_code, 0, "%s %s", r.out, r.err);
        cr_assert(strstr(r.out, "wrote 6 invoices"), "%s", r.out);
        tk_proc_result_release(&r);
        for (size_t i = 0; i < 6; i++) {
                json_t *doc;

                snprintf(file, sizeof file, "%s/draft-%s-2026-10.json", out,
                         names[i]);
                doc = json_load_file(file, 0, NULL);
                cr_assert(doc, "%s missing or not JSON", file);
                cr_assert_str_eq(
                    json_string_value(json_object_get(doc, "customer")), ids[i],
                    "%s", file);
                json_decref(doc);
                snprintf(file, sizeof file, "%s/draft-%s-2026-10.pdf", out,
                         names[i]);
                cr_assert_eq(access(file, R_OK), 0, "%s", file);
        }
        /* Six JSON, six PDF and the CSV: nothing else, nothing hidden. */
        mk_sh("test $(ls -A '%s' | wc -l) -eq 13", out);
        mk_sh("test $(ls -A '%s' | grep -c '^\\.') -eq 0", out);
        mk_case_stop(&c);
}
