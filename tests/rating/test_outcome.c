/* Outcome pricing by hand-computed examples (docs/pricing-rules.md): units
   default to 1, weights by outcome, device and cloud resolutions priced
   alike, graduated tiers over outcomes, in USD, JPY and KWD; the same
   numbers from daily rollups as from the events. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rating/catalog.h"
#include "rating/customers.h"
#include "rating/invoice.h"
#include "rating/usage.h"
#include "schemas/decode.h"

struct run {
        struct rate_catalog *cat;
        struct rate_customers *cs;
        struct rate_acc *acc, *roll; /* the events; their daily rollups */
        struct rate_invoice *inv;
        struct sch_decoder *dec;
        struct rate_period period;
        int seq;
};

static struct run R;

static void fini(void)
{
        rate_invoice_free(&R.inv);
        rate_acc_free(&R.acc);
        rate_acc_free(&R.roll);
        rate_customers_free(&R.cs);
        rate_catalog_free(&R.cat);
        sch_decoder_free(&R.dec);
        memset(&R, 0, sizeof R);
}

/*
** Currency 'cur', plan 'p' of 'charges'. Meters: resolved (units of
** support.resolution by outcome), by_dep (the same by deployment),
** attempts (a count of every outcome event), local (device only).
*/
static void setup(const char *cur, const char *charges)
{
        char yaml[4096];
        struct rate_diags d;
        struct tl_error err;
        static const char cust[] =
            "customers:\n  - id: c\n    plan: p\n    start: 2020-01-01\n";

        snprintf(yaml, sizeof yaml,
                 "catalog: t\nversion: \"1\"\neffective_from: 2020-01-01\n"
                 "currency: %s\n"
                 "meters:\n"
                 "  resolved: { event: task.outcome, value: units,\n"
                 "              aggregation: sum,\n"
                 "              filter: { task: support.resolution },\n"
                 "              group_by: [outcome] }\n"
                 "  by_dep: { event: task.outcome, value: units,\n"
                 "            aggregation: sum, group_by: [deployment],\n"
                 "            filter: { outcome: success } }\n"
                 "  attempts: { event: task.outcome, aggregation: count }\n"
                 "  local: { event: task.outcome, value: units,\n"
                 "           aggregation: sum,\n"
                 "           filter: { deployment: device, outcome: [success, "
                 "partial] } }\n"
                 "plans:\n  p:\n    charges:\n%s\n",
                 cur, charges);
        memset(&d, 0, sizeof d);
        cr_assert_eq(
            rate_catalog_parse("t.yaml", yaml, strlen(yaml), &R.cat, &d, &err),
            TL_OK, "%s\n%s", err.msg, yaml);
        cr_assert_eq(rate_customers_parse("c.yaml", cust, strlen(cust), &R.cs,
                                          NULL, &err),
                     TL_OK, "%s", err.msg);
        cr_assert_eq(rate_period_parse("2026-10", &R.period, &err), TL_OK);
        cr_assert_eq(rate_acc_new(R.cat, &R.period, &R.acc, &err), TL_OK);
        cr_assert_eq(rate_acc_new(R.cat, &R.period, &R.roll, &err), TL_OK);
        cr_assert_eq(sch_decoder_new(NULL, &R.dec, NULL), TL_OK);
}

/*
** One task.outcome event ('units' < 0: the field left out) on day 'day'
** of October, into the events' accumulator and, as a rollup of one
** event, into the other.
*/
static void outcome(const char *task, const char *what, const char *dep,
                    long long units, int day)
{
        char json[512], u[40] = "";
        struct sch_event ev;
        struct rate_rollup r;
        struct tl_error err;

        if (units >= 0)
                snprintf(u, sizeof u, ",\"units\":%lld", units);
        snprintf(json, sizeof json,
                 "{\"specversion\":\"1.0\",\"id\":\"o%d\",\"source\":\"s\","
                 "\"type\":\"task.outcome\",\"subject\":\"c\",\"time\":"
                 "\"2026-10-%02dT10:00:00Z\",\"data\":{\"task\":\"%s\","
                 "\"outcome\":\"%s\",\"deployment\":\"%s\"%s}}",
                 R.seq++, day, task, what, dep, u);
        cr_assert_eq(sch_decode_json(R.dec, json, strlen(json), &ev, &err),
                     TL_OK, "%s: %s", err.msg, json);
        cr_assert_eq(rate_acc_add(R.acc, &ev, &err), TL_OK, "%s", err.msg);
        memset(&r, 0, sizeof r);
        r.events = 1;
        r.units = ev.units;
        ev.time_us -= ev.time_us % TL_US_PER_DAY; /* the day's start */
        cr_assert_eq(rate_acc_add_rollup(R.roll, &ev, &r, &err), TL_OK, "%s",
                     err.msg);
}

static const struct rate_line *usage_line(struct rate_acc *acc, const char *ref)
{
        struct tl_error err;

        rate_invoice_free(&R.inv);
        cr_assert_eq(rate_invoice_build(R.cat, R.cs, &R.cs->items[0], acc,
                                        rate_acc_find(acc, "c"), &R.inv, &err),
                     TL_OK, "%s", err.msg);
        for (size_t i = 0; i < R.inv->line_count; i++)
                if (R.inv->lines[i].kind == RATE_LINE_USAGE &&
                    R.inv->lines[i].ref &&
                    strcmp(R.inv->lines[i].ref, ref) == 0)
                        return &R.inv->lines[i];
        cr_assert_fail("no usage line %s", ref);
        return NULL;
}

/* Charge 'ref' is 'qty' for 'amount', from events and from rollups. */
static void priced(const char *ref, const char *qty, const char *amount)
{
        struct rate_acc *accs[2] = {R.acc, R.roll};

        for (int k = 0; k < 2; k++) {
                const struct rate_line *l = usage_line(accs[k], ref);
                char got[TL_DEC_STR_MAX];

                tl_dec_format(&l->amount, got, sizeof got);
                cr_expect_str_eq(l->quantity, qty, "%s quantity (%s)", ref,
                                 k ? "rollups" : "events");
                cr_expect_str_eq(got, amount, "%s amount (%s)", ref,
                                 k ? "rollups" : "events");
        }
}

Test(outcome_pricing, units_default_to_one_and_count_ignores_them)
{
        setup("USD", "      - {id: r, meter: resolved, model: per_unit, "
                     "price: 1.25}\n"
                     "      - {id: a, meter: attempts, model: per_unit, "
                     "price: 0.10}\n");
        outcome("support.resolution", "success", "cloud", -1, 1);
        outcome("support.resolution", "success", "device", -1, 2);
        outcome("support.resolution", "success", "cloud", -1, 2);
        outcome("support.resolution", "success", "cloud", 4, 3);
        outcome("code.review", "success", "cloud", 9, 3); /* other task */
        /* 1 + 1 + 1 + 4 = 7 resolutions x 1.25 = 8.75 */
        priced("r", "7", "8.75");
        /* 5 events x 0.10, whatever their units */
        priced("a", "5", "0.50");
        fini();
}

/* A failed attempt at half price: 10 successes + 3 failures x 0.5. */
Test(outcome_pricing, weights_by_outcome_in_three_currencies)
{
        static const struct {
                const char *cur, *price, *amount;
        } cases[] = {
            /* 11.5 x 0.80 = 9.20 */
            {"USD", "0.80", "9.20"},
            /* 11.5 x 120 = 1380 */
            {"JPY", "120", "1380"},
            /* 11.5 x 0.375 = 4.3125: a tie, to the even 4.312 */
            {"KWD", "0.375", "4.312"},
            /* 11.5 x 0.385 = 4.4275: a tie, to the even 4.428 */
            {"KWD", "0.385", "4.428"},
            /* 11.5 x 99.5 = 1144.25 */
            {"JPY", "99.5", "1144"},
        };

        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                char ch[256];

                snprintf(ch, sizeof ch,
                         "      - {id: r, meter: resolved, model: per_unit, "
                         "price: %s, weights: {outcome: {failure: 0.5}}}\n",
                         cases[i].price);
                setup(cases[i].cur, ch);
                outcome("support.resolution", "success", "device", 6, 4);
                outcome("support.resolution", "success", "cloud", 4, 5);
                outcome("support.resolution", "failure", "cloud", 2, 5);
                outcome("support.resolution", "failure", "device", -1, 6);
                priced("r", "11.5", cases[i].amount);
                fini();
        }
}

/* The same resolutions billed the same whether they ran on a device or in
   the cloud: all in the cloud, all on devices, or mixed. */
Test(outcome_pricing, device_and_cloud_resolutions_are_priced_identically)
{
        static const char *const mixes[] = {"cccccc", "dddddd", "cdcdcd",
                                            "ddddcc"};
        static const struct {
                const char *cur, *price, *amount;
        } cases[] = {
            {"USD", "1.99", "11.94"}, /* 6 x 1.99 */
            {"JPY", "298", "1788"},   /* 6 x 298 */
            {"KWD", "0.6125", "3.675"},
        };

        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
                for (size_t m = 0; m < sizeof mixes / sizeof *mixes; m++) {
                        char ch[512];

                        snprintf(ch, sizeof ch,
                                 "      - {id: r, meter: resolved, model: "
                                 "per_unit, price: %s}\n"
                                 "      - {id: d, meter: by_dep, model: "
                                 "per_unit, price: %s}\n",
                                 cases[c].price, cases[c].price);
                        setup(cases[c].cur, ch);
                        for (int k = 0; k < 6; k++)
                                outcome("support.resolution", "success",
                                        mixes[m][k] == 'c' ? "cloud" : "device",
                                        -1, 7 + k);
                        priced("r", "6", cases[c].amount);
                        /* Grouped by deployment, unweighted: the same. */
                        priced("d", "6", cases[c].amount);
                        fini();
                }
}

/*
** Graduated tiers over outcomes: 600 successes and 101 failures at half
** weight make 650.5 billable resolutions; tiers split at 100 and 500.
*/
Test(outcome_pricing, graduated_tiers_over_outcomes_in_three_currencies)
{
        static const struct {
                const char *cur, *p1, *p2, *p3, *amount;
        } cases[] = {
            /* 100 x 2 + 400 x 1.5 + 150.5 x 1 = 950.5 */
            {"USD", "2", "1.5", "1", "950.50"},
            /* 100 x 300 + 400 x 250 + 150.5 x 199.5 = 160024.75 */
            {"JPY", "300", "250", "199.5", "160025"},
            /* 100 x 0.615 + 400 x 0.4615 + 150.5 x 0.3075 = 292.37875 */
            {"KWD", "0.615", "0.4615", "0.3075", "292.379"},
        };

        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                char ch[512];

                snprintf(ch, sizeof ch,
                         "      - {id: r, meter: resolved, model: graduated, "
                         "weights: {outcome: {failure: 0.5}}, tiers: "
                         "[{up_to: 100, price: %s}, {up_to: 500, price: %s}, "
                         "{up_to: null, price: %s}]}\n",
                         cases[i].p1, cases[i].p2, cases[i].p3);
                setup(cases[i].cur, ch);
                outcome("support.resolution", "success", "device", 350, 8);
                outcome("support.resolution", "success", "cloud", 250, 9);
                outcome("support.resolution", "failure", "cloud", 100, 9);
                outcome("support.resolution", "failure", "device", -1, 10);
                priced("r", "650.5", cases[i].amount);
                fini();
        }
}

Test(outcome_pricing, filters_on_deployment_and_a_list_of_outcomes)
{
        setup("USD", "      - {id: l, meter: local, model: per_unit, "
                     "price: 0.5, included: 1}\n");
        outcome("support.resolution", "success", "device", 3, 1);
        outcome("support.resolution", "partial", "device", -1, 1);
        outcome("support.resolution", "failure", "device", 5, 1);
        outcome("support.resolution", "success", "cloud", 7, 1);
        /* 3 + 1 on devices, less 1 included: 3 x 0.5 */
        priced("l", "3", "1.50");
        fini();
}

Test(outcome_pricing, catalog_fields_of_outcome_meters_are_checked)
{
        static const struct {
                const char *meter, *msg;
        } cases[] = {
            {"{ event: task.outcome, value: mac, aggregation: sum }",
             "'mac' is not a count field of task.outcome (one of: units)"},
            {"{ event: task.outcome, value: outcome, aggregation: sum }",
             "'outcome' is not a count field of task.outcome (one of: "
             "units)"},
            {"{ event: task.outcome, aggregation: count, group_by: [units] }",
             "'units' is a count, not a text field"},
            {"{ event: task.outcomes, aggregation: count }",
             "unknown event type 'task.outcomes' (inference.tokens, "
             "inference.iterations, inference.matrix_ops, device.seat, "
             "task.outcome)"},
        };

        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                char yaml[1024];
                struct rate_catalog *cat = NULL;
                struct rate_diags d;
                struct tl_error err;
                tl_status rc;

                snprintf(yaml, sizeof yaml,
                         "catalog: t\nversion: \"1\"\neffective_from: "
                         "2020-01-01\ncurrency: USD\nmeters:\n  m: %s\n"
                         "plans:\n  p:\n    fees: [{ id: f, amount: 1 }]\n",
                         cases[i].meter);
                memset(&d, 0, sizeof d);
                rc = rate_catalog_parse("t.yaml", yaml, strlen(yaml), &cat, &d,
                                        &err);
                cr_expect_neq(rc, TL_OK, "%s", cases[i].meter);
                cr_expect(strstr(err.msg, cases[i].msg), "'%s' lacks '%s'",
                          err.msg, cases[i].msg);
                rate_catalog_free(&cat);
        }
}

/* The groups of a meter come in the order of their values, not of the
   events' arrival: the close reads rollups in whatever order PostgreSQL
   returns them, and its invoice must list groups as the cost to date does
   (found by api.one_bill: "diffusion" before "autoregressive"). */
Test(outcome_pricing, groups_are_listed_by_value_whatever_the_arrival_order,
     .fini = fini)
{
        const struct rate_group_usage *gs;
        size_t m = 0, n;

        setup("USD", "      - { id: r, meter: resolved, model: per_unit, "
                     "price: 1 }");
        outcome("support.resolution", "success", "cloud", 2, 3);
        outcome("support.resolution", "partial", "cloud", 1, 4);
        outcome("support.resolution", "failure", "cloud", 1, 5);
        while (m < R.cat->meter_count &&
               strcmp(R.cat->meters[m].id, "resolved"))
                m++;
        cr_assert_lt(m, R.cat->meter_count);
        n = rate_acc_groups(R.acc, rate_acc_find(R.acc, "c"), m, &gs);
        cr_assert_eq(n, 3);
        cr_expect_str_eq(gs[0].values[0], "failure");
        cr_expect_str_eq(gs[1].values[0], "partial");
        cr_expect_str_eq(gs[2].values[0], "success");
}
