/* The main job end to end, smaller: `tally demo` starts its own
   PostgreSQL and broker, runs the month through the engine, the meter and
   the close, reads the cost to date through `tally serve` with a
   customer-scoped key, and must reconcile. The test then checks the invoices it
   wrote against its own run of `tally rate` on the demo's event log. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "testkit.h"

static char dir[64];

static int count_suffix(const char *path, const char *suffix)
{
        DIR *d = opendir(path);
        struct dirent *e;
        int n = 0;

        cr_assert_not_null(d, "no %s", path);
        while ((e = readdir(d))) {
                size_t len = strlen(e->d_name), sl = strlen(suffix);
                n += len >= sl && !strcmp(e->d_name + len - sl, suffix);
        }
        closedir(d);
        return n;
}

static int occurrences(const char *s, const char *what)
{
        int n = 0;

        while ((s = strstr(s, what))) {
                n++;
                s += strlen(what);
        }
        return n;
}

/* The finalized invoice of 'customer' among the JSON files written: of a
   voided one and its re-issue, the re-issue (the later number). */
static json_t *invoice_of(const char *customer)
{
        char path[300];
        DIR *d;
        struct dirent *e;
        json_t *found = NULL;

        snprintf(path, sizeof path, "%s/invoices", dir);
        d = opendir(path);
        cr_assert_not_null(d);
        while ((e = readdir(d))) {
                char file[600];
                json_t *doc;

                if (!strstr(e->d_name, ".json") ||
                    !strncmp(e->d_name, "CN-", 3))
                        continue;
                snprintf(file, sizeof file, "%s/%s", path, e->d_name);
                doc = json_load_file(file, 0, NULL);
                cr_assert_not_null(doc, "%s does not parse", file);
                if (!strcmp(json_string_value(json_object_get(doc, "customer")),
                            customer) &&
                    (!found ||
                     strcmp(json_string_value(json_object_get(doc, "number")),
                            json_string_value(
                                json_object_get(found, "number"))) > 0)) {
                        json_decref(found);
                        found = doc;
                } else {
                        json_decref(doc);
                }
        }
        closedir(d);
        return found;
}

Test(demo, a_small_month_reconciles_and_matches_offline_rating, .timeout = 600)
{
        const char *argv[] = {tk_tally_bin(),
                              "demo",
                              "--customers",
                              "6",
                              "--days",
                              "8",
                              "--period",
                              "2026-10",
                              "--seed",
                              "1",
                              "--dir",
                              dir,
                              NULL};
        char rules[100], customers[100], events[100], path[100];
        struct tk_proc_result r, rate;
        const char *cap;
        json_t *offline;

        snprintf(dir, sizeof dir, "/tmp/tk-demo-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(tk_run(argv, 540000, &r), 0, "the demo did not finish");
        cr_assert_eq(r.exit_code, 0, "demo failed:\n%s\n%s", r.out, r.err);
        /* Its own checks: counts at the close and after the late sync, and
           its offline comparison. */
        cr_assert_eq(occurrences(r.out, "[reconciled]"), 2, "%s", r.out);
        cr_assert_null(strstr(r.out, "MISMATCH"), "%s", r.out);
        cr_assert(strstr(r.out, "priced 6 invoices; 6 of them equal"), "%s",
                  r.out);
        cr_assert(strstr(r.out, "tally serve reloaded it in"), "%s", r.out);
        cr_assert(strstr(r.out, "with a key scoped customer:cust_0001; the "
                                "same key for cust_0002: 403 refused"),
                  "%s", r.out);
        cr_assert(strstr(r.out, "adjustment line of $"), "%s", r.out);
        cr_assert(strstr(r.out, "+ 7 malformed"), "%s", r.out);
        /* Outcomes by deployment equal the engine's counts, and the
           licence customer's capacity is shown from its invoice. */
        cr_assert(strstr(r.out, "Outcomes, by deployment"), "%s", r.out);
        cr_assert(strstr(r.out, "  on device: "), "%s", r.out);
        cr_assert(strstr(r.out, "priced alike wherever they ran: "), "%s",
                  r.out);
        cr_assert_eq(occurrences(r.out, "[equal]"), 2, "%s", r.out);
        cap = strstr(r.out, "Capacity licences: ");
        cr_assert(cap && strstr(cap, "\n  cust_0006  "), "%s", r.out);
        cr_assert(!strstr(cap, "\n  cust_0001  "),
                  "a prorated allowance is no licence:\n%s", r.out);
        /* The upgrade through tally serve, and its invoice's segments. */
        cr_assert(strstr(r.out, "cust_0001 upgrades starter -> pro from "
                                "2026-10-04 (POST /v1/customers/cust_0001/"
                                "subscriptions, admin key)"),
                  "%s", r.out);
        cr_assert(strstr(r.out, "  cust_0001 INV-2026-000001:\n"
                                "    segment starter  [2026-10-01, "
                                "2026-10-04)  $"),
                  "%s", r.out);
        cr_assert(strstr(r.out, "    segment pro      [2026-10-04, "
                                "2026-11-01)  $"),
                  "%s", r.out);
        /* The corrections after the close, and where they leave the
           invoices. */
        cr_assert(strstr(r.out, "  void:        INV-2026-000003 (cust_0003, "),
                  "%s", r.out);
        cr_assert(strstr(r.out, "  re-issued:   INV-2026-000007 (cust_0003, "),
                  "%s", r.out);
        cr_assert(strstr(r.out, "  credit note: CN-2026-000001 on "
                                "INV-2026-000004 (cust_0004), line platform: "
                                "$5.00"),
                  "%s", r.out);
        cr_assert(strstr(r.out, " on INV-2026-000002 (cust_0002), reference "
                                "wire-demo-1: paid, $0.00 outstanding"),
                  "%s", r.out);
        cr_assert(strstr(r.out, "payment status of 2026-10's invoices: 5 "
                                "open, 1 paid, 1 void\n"),
                  "%s", r.out);
        /* What it wrote. */
        snprintf(path, sizeof path, "%s/invoices", dir);
        /* Six invoices, the voided one's re-issue and the credit note. */
        cr_assert_eq(count_suffix(path, ".pdf"), 8);
        cr_assert_eq(count_suffix(path, ".json"), 8);
        cr_assert_eq(count_suffix(path, "invoices-2026-10.csv"), 1);
        cr_assert_eq(count_suffix(path, ".png"), 1);
        /* Our own `tally rate` on the demo's log equals every invoice. */
        snprintf(rules, sizeof rules, "%s/rules", dir);
        snprintf(customers, sizeof customers, "%s/customers.yaml", dir);
        snprintf(events, sizeof events, "%s/events.jsonl", dir);
        {
                const char *rate_argv[] = {tk_tally_bin(),
                                           "rate",
                                           "--rules",
                                           rules,
                                           "--customers",
                                           customers,
                                           "--events",
                                           events,
                                           "--period",
                                           "2026-10",
                                           "--format",
                                           "json",
                                           NULL};
                cr_assert_eq(tk_run(rate_argv, 60000, &rate), 0);
        }
        cr_assert_eq(rate.exit_code, 0, "%s", rate.err);
        offline = json_loads(rate.out, 0, NULL);
        cr_assert_eq(json_array_size(offline), 6);
        for (size_t i = 0; i < 6; i++) {
                json_t *want = json_array_get(offline, i);
                const char *id =
                    json_string_value(json_object_get(want, "customer"));
                json_t *got = invoice_of(id);

                cr_assert_not_null(got, "no invoice for %s", id);
                cr_assert_str_eq(
                    json_string_value(json_object_get(got, "status")),
                    "finalized");
                cr_assert_str_eq(
                    json_string_value(json_object_get(got, "total")),
                    json_string_value(json_object_get(want, "total")), "%s",
                    id);
                cr_assert_str_eq(json_string_value(json_object_get(
                                     json_object_get(got, "rules"), "version")),
                                 "demo-2", "priced by the edited catalog");
                if (!strcmp(id, "cust_0003"))
                        cr_assert_str_eq(
                            json_string_value(json_object_get(got, "number")),
                            "INV-2026-000007", "the re-issue, not the void");
                /* The upgrade: lines of both segments, Starter first. */
                if (!strcmp(id, "cust_0001")) {
                        json_t *lines = json_object_get(got, "lines");
                        const char *first = NULL, *last = NULL;

                        for (size_t k = 0; k < json_array_size(lines); k++) {
                                const char *p =
                                    json_string_value(json_object_get(
                                        json_object_get(
                                            json_array_get(lines, k),
                                            "segment"),
                                        "plan"));
                                if (p && !first)
                                        first = p;
                                if (p)
                                        last = p;
                        }
                        cr_assert(first && last, "no segments");
                        cr_assert_str_eq(first, "starter");
                        cr_assert_str_eq(last, "pro");
                }
                if (!strcmp(id, "cust_0005") || !strcmp(id, "cust_0006"))
                        cr_assert_str_eq(
                            json_string_value(json_object_get(got, "plan")),
                            strcmp(id, "cust_0005") ? "device-licence"
                                                    : "support-bot");
                /* Stored usage lines name their meter: the PDF's noun
                   ("outcomes") when the charge id is not the meter's. */
                if (!strcmp(id, "cust_0005"))
                        cr_assert_str_eq(
                            json_string_value(json_object_get(
                                json_array_get(json_object_get(got, "lines"),
                                               1),
                                "meter")),
                            "resolutions");
                json_decref(got);
        }
        json_decref(offline);
        tk_proc_result_release(&rate);
        tk_proc_result_release(&r);
        {
                char cmd[120];
                snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
                cr_assert_eq(system(cmd), 0);
        }
}
