/* task.outcome end to end: broker -> meter -> PostgreSQL (events, rollups,
   dedup, dead letters) -> cost to date and the close, from rollups and
   from stored events, equal to offline `tally rate`. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "meterkit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

static char dir[400];

/* `tally ARGS...` (NULL-terminated); fails unless it exits 0. Returns its
   standard output, parsed as JSON when 'json'. */
static json_t *tally(bool json, ...)
{
        const char *argv[40];
        struct tk_proc_result r;
        json_t *out = NULL;
        int n = 0;
        va_list ap;

        argv[n++] = tk_tally_bin();
        va_start(ap, json);
        while (n < 39 && (argv[n] = va_arg(ap, const char *)) != NULL)
                n++;
        va_end(ap);
        argv[n] = NULL;
        cr_assert_eq(tk_run(argv, 120000, &r), 0, "tally did not finish");
        cr_assert_eq(r.exit_code, 0, "%s: %s %s", argv[1], r.out, r.err);
        if (json) {
                out = json_loads(r.out, 0, NULL);
                cr_assert(out, "%s: not JSON: %s", argv[1], r.out);
        }
        tk_proc_result_release(&r);
        return out;
}

static char *path(const char *file)
{
        static char buf[4][600];
        static int k;

        k = (k + 1) % 4;
        snprintf(buf[k], sizeof buf[k], "%s/%s", dir, file);
        return buf[k];
}

static long long count(PGconn *db, const char *sql)
{
        char *s = tk_scalar(db, sql);
        long long v = atoll(s);

        free(s);
        return v;
}

static const char *str(const json_t *o, const char *k)
{
        const char *s = json_string_value(json_object_get(o, k));

        cr_assert(s, "no '%s'", k);
        return s;
}

/* The one usage line of an invoice document, and its total. */
static void expect_priced(const json_t *doc, const char *what)
{
        const json_t *lines = json_object_get(doc, "lines");
        const json_t *l = json_array_get(lines, 0);

        cr_assert_eq(json_array_size(lines), 1, "%s: lines", what);
        cr_expect_str_eq(str(l, "charge"), "per-resolution", "%s", what);
        /* 11 successes + 4 failures x 0.5 = 13 at 0.90 */
        cr_expect_str_eq(str(l, "quantity"), "13", "%s", what);
        cr_expect_str_eq(str(l, "amount"), "11.70", "%s", what);
        cr_expect_str_eq(str(doc, "total"), "11.70", "%s", what);
}

Test(outcome, an_outcome_goes_through_the_meter_and_the_database_to_the_invoice,
     .timeout = 300)
{
        struct mk_case c;
        json_t *j, *doc;
        char *body;

        snprintf(dir, sizeof dir, "%s/tests/invoicing/outcome",
                 tk_source_dir());
        mk_case_start(&c, "outcome_e2e", 1, 2);
        mk_sh("kcat -P -b '%s' -t '%s' -l '%s'", c.broker.bootstrap, c.name,
              path("events.jsonl"));
        /* An invalid one: dead-lettered with the field's reason. */
        mk_sh("printf '%%s\\n' '{\"specversion\":\"1.0\",\"id\":\"bad-1\","
              "\"source\":\"bot/eu-1\",\"type\":\"task.outcome\",\"subject\":"
              "\"cust_bot\",\"time\":\"2026-10-10T00:00:00Z\",\"data\":"
              "{\"task\":\"support.resolution\",\"outcome\":\"success\","
              "\"deployment\":\"cloud\",\"units\":\"3\"}}' | "
              "kcat -P -b '%s' -t '%s' -l",
              c.broker.bootstrap, c.name);
        mk_meter_drain(&c);

        /* 10 distinct events stored once, the replay a duplicate. */
        cr_expect_eq(count(c.db, "SELECT count(*) FROM events WHERE type = 5"),
                     10);
        cr_expect_eq(count(c.db, "SELECT sum(duplicates) FROM ingest_counts"),
                     1);
        cr_expect_eq(count(c.db,
                           "SELECT count(*) FROM events WHERE type = 5 AND"
                           " units = 1 AND task = 'support.resolution' AND"
                           " outcome = 'success' AND deployment = 2"),
                     4);
        cr_expect_eq(count(c.db, "SELECT count(*) FROM dead_letters WHERE"
                                 " reason = 'data.units: expected unsigned"
                                 " integer, got text'"),
                     1);
        /* Rollups: units summed by task, outcome and deployment. */
        cr_expect_eq(count(c.db, "SELECT sum(units) FROM usage_rollups WHERE"
                                 " type = 5 AND task = 'support.resolution'"
                                 " AND outcome = 'success'"),
                     11);
        cr_expect_eq(count(c.db, "SELECT sum(units) FROM usage_rollups WHERE"
                                 " type = 5 AND outcome = 'success' AND"
                                 " deployment = 2"),
                     4);
        cr_expect_eq(count(c.db, "SELECT sum(units) FROM usage_rollups WHERE"
                                 " type = 5 AND outcome = 'failure'"),
                     4);
        cr_expect_eq(count(c.db, "SELECT sum(event_count) FROM usage_rollups"
                                 " WHERE type = 5"),
                     10);

        tally(false, "customers", "import", path("customers.yaml"), NULL);
        /* Cost to date from rollups, then from the stored events. */
        j = tally(true, "usage", "--customer", "cust_bot", "--period",
                  "2026-10", "--format", "json", "--rules",
                  path("catalog.yaml"), "--as-of", "2026-10-31", NULL);
        doc = json_object_get(j, "invoice") ? json_object_get(j, "invoice") : j;
        expect_priced(doc, "cost to date (rollups)");
        json_decref(j);
        j = tally(true, "usage", "--customer", "cust_bot", "--period",
                  "2026-10", "--format", "json", "--rules",
                  path("catalog_events.yaml"), "--as-of", "2026-10-31", NULL);
        doc = json_object_get(j, "invoice") ? json_object_get(j, "invoice") : j;
        expect_priced(doc, "cost to date (events)");
        json_decref(j);
        /* Offline, from the file. */
        j = tally(true, "rate", "--rules", path("catalog.yaml"), "--customers",
                  path("customers.yaml"), "--events", path("events.jsonl"),
                  "--period", "2026-10", NULL);
        expect_priced(json_array_get(j, 0), "tally rate");
        json_decref(j);
        /* The close. */
        tally(false, "invoice", "--period", "2026-10", "--rules",
              path("catalog.yaml"), "--finalize", "--as-of", "2026-11-04",
              "--quiet", NULL);
        body = tk_scalar(c.db, "SELECT body::text FROM invoices WHERE"
                               " customer_id = 'cust_bot' AND status ="
                               " 'finalized'");
        j = json_loads(body, 0, NULL);
        free(body);
        cr_assert(j);
        expect_priced(j, "the close");
        json_decref(j);
        mk_case_stop(&c);
}

/* `tally infer --task`: one outcome from the cloud path and one from a
   device's spool (sent by `tally upload`), stored, and priced alike. */
Test(outcome, the_engines_cloud_and_device_outcomes_are_priced_alike,
     .timeout = 300)
{
        struct mk_case c;
        char model[300], spool[300], undelivered[300];
        json_t *j, *doc, *line;

        snprintf(dir, sizeof dir, "%s/tests/invoicing/outcome",
                 tk_source_dir());
        mk_case_start(&c, "outcome_engine", 1, 2);
        snprintf(model, sizeof model, "%s/model", c.dir);
        snprintf(spool, sizeof spool, "%s/device.cbor", c.dir);
        snprintf(undelivered, sizeof undelivered, "%s/undelivered.cbor", c.dir);
        tally(false, "infer", "--init-model", model, "--dim", "32", "--layers",
              "1", "--heads", "2", "--vocab", "280", "--seq-len", "24",
              "--quiet", NULL);
        tally(false, "infer", "--model", model, "--tokens", "3", "--customer",
              "cust_eng", "--topic", c.name, "--spool", undelivered, "--time",
              "2026-10-12T10:00:00Z", "--request-id", "rq-cloud", "--task",
              "support.resolution", "--quiet", NULL);
        tally(false, "infer", "--model", model, "--tokens", "3", "--customer",
              "cust_eng", "--offline", "--spool", spool, "--device", "dev-7",
              "--time", "2026-10-13T10:00:00Z", "--request-id", "rq-dev",
              "--task", "support.resolution", "--outcome", "success", "--quiet",
              NULL);
        tally(false, "upload", "--spool", spool, "--topic", c.name, NULL);
        mk_meter_drain(&c);
        cr_expect_eq(count(c.db, "SELECT count(*) FROM events WHERE type = 5"
                                 " AND event_id = 'rq-cloud/outcome' AND"
                                 " deployment = 1 AND units = 1"),
                     1);
        cr_expect_eq(count(c.db, "SELECT count(*) FROM events WHERE type = 5"
                                 " AND event_id = 'rq-dev/outcome' AND"
                                 " deployment = 2 AND units = 1"),
                     1);
        tally(false, "customers", "import", path("customers_engine.yaml"),
              NULL);
        j = tally(true, "usage", "--customer", "cust_eng", "--period",
                  "2026-10", "--format", "json", "--rules",
                  path("catalog.yaml"), "--as-of", "2026-10-31", NULL);
        doc = json_object_get(j, "invoice") ? json_object_get(j, "invoice") : j;
        line = json_array_get(json_object_get(doc, "lines"), 0);
        cr_assert(line);
        /* 1 in the cloud + 1 on a device = 2 x 0.90 */
        cr_expect_str_eq(str(line, "quantity"), "2");
        cr_expect_str_eq(str(line, "amount"), "1.80");
        json_decref(j);
        mk_case_stop(&c);
}
