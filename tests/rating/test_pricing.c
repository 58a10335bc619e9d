/* Pricing by hand-computed examples: each charge model and its tier
   boundaries, allowances, weights, half-even ties in each currency
   exponent, proration at the period's edges, minimum, credit, tax, seats,
   meters' aggregations and cohort placement. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rating/catalog.h"
#include "rating/customers.h"
#include "rating/invoice.h"
#include "rating/usage.h"
#include "schemas/decode.h"

/* One pricing run: a catalog, one customer, events, a period. */
struct run {
        struct rate_catalog *cat;
        struct rate_customers *cs;
        struct rate_acc *acc;
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
        rate_customers_free(&R.cs);
        rate_catalog_free(&R.cat);
        sch_decoder_free(&R.dec);
}

/* A catalog of currency 'cur' with the meter 'out' (cloud output tokens by
   decoding) and more meters, and plan 'p' made of 'plan_body'. */
static void catalog(const char *cur, const char *plan_body)
{
        char yaml[8192];
        struct rate_diags d;
        struct tl_error err;

        snprintf(yaml, sizeof yaml,
                 "catalog: t\nversion: \"1\"\neffective_from: 2020-01-01\n"
                 "currency: %s\n"
                 "meters:\n"
                 "  out: { event: inference.tokens, value: output_tokens,\n"
                 "         aggregation: sum, filter: { deployment: cloud },\n"
                 "         group_by: [decoding] }\n"
                 "  calls: { event: inference.tokens, aggregation: count }\n"
                 "  peak: { event: inference.tokens, value: output_tokens,\n"
                 "          aggregation: max }\n"
                 "  last: { event: inference.tokens, value: output_tokens,\n"
                 "          aggregation: latest }\n"
                 "  models: { event: inference.tokens, value: model,\n"
                 "            aggregation: unique_count }\n"
                 "  devices: { event: device.seat, aggregation: seats }\n"
                 "  changes: { event: device.seat, aggregation: count,\n"
                 "             filter: { action: [activate, deactivate] } }\n"
                 "plans:\n"
                 "  p:\n%s\n"
                 "  q:\n    fees: [{ id: f, amount: 1 }]\n"
                 "experiments:\n"
                 "  - id: exp\n    plan: q\n    salt: q4-2026\n"
                 "    cohorts:\n"
                 "      - { name: control, weight: 50 }\n"
                 "      - { name: lower, weight: 50, plan: p }\n",
                 cur, plan_body);
        memset(&d, 0, sizeof d);
        cr_assert_eq(
            rate_catalog_parse("t.yaml", yaml, strlen(yaml), &R.cat, &d, &err),
            TL_OK, "%s\n%s", err.msg, yaml);
        cr_assert_eq(sch_decoder_new(NULL, &R.dec, NULL), TL_OK);
}

/* The customer 'c' (its YAML fields after the id) and the period. */
static void customer(const char *fields, const char *period)
{
        char yaml[1024];
        struct tl_error err;

        snprintf(yaml, sizeof yaml, "customers:\n  - id: c\n%s\n", fields);
        cr_assert_eq(rate_customers_parse("c.yaml", yaml, strlen(yaml), &R.cs,
                                          NULL, &err),
                     TL_OK, "%s", err.msg);
        cr_assert_eq(rate_period_parse(period, &R.period, &err), TL_OK);
        cr_assert_eq(rate_acc_new(R.cat, &R.period, &R.acc, &err), TL_OK);
}

static void event(const char *json)
{
        struct sch_event ev;
        struct tl_error err;

        cr_assert_eq(sch_decode_json(R.dec, json, strlen(json), &ev, &err),
                     TL_OK, "%s: %s", err.msg, json);
        cr_assert_eq(rate_acc_add(R.acc, &ev, &err), TL_OK, "%s", err.msg);
}

/* A cloud output-token event of 'tokens' at 'time'. */
static void tokens(const char *decoding, unsigned long long tokens,
                   const char *time)
{
        char json[512];

        snprintf(
            json, sizeof json,
            "{\"specversion\":\"1.0\",\"id\":\"e%d\",\"source\":\"s\",\"type\":"
            "\"inference.tokens\",\"subject\":\"c\",\"time\":\"%s\","
            "\"data\":{\"model\":\"m%d\",\"deployment\":\"cloud\","
            "\"decoding\":\"%s\",\"input_tokens\":0,"
            "\"output_tokens\":%llu}}",
            R.seq, time, R.seq % 3, decoding, tokens);
        R.seq++;
        event(json);
}

static void seat(const char *device, const char *action, const char *cls,
                 const char *time)
{
        char json[512];

        snprintf(json, sizeof json,
                 "{\"specversion\":\"1.0\",\"id\":\"s%d\",\"source\":\"d\","
                 "\"type\":\"device.seat\","
                 "\"subject\":\"c\",\"time\":\"%s\",\"data\":{\"device_id\":"
                 "\"%s\",\"action\":\"%s\",\"model_class\":\"%s\"}}",
                 R.seq++, time, device, action, cls);
        event(json);
}

static tl_status build(struct tl_error *err)
{
        size_t ci = rate_acc_find(R.acc, "c");

        rate_invoice_free(&R.inv);
        return rate_invoice_build(R.cat, R.cs, &R.cs->items[0], R.acc, ci,
                                  &R.inv, err);
}

static const struct rate_line *line(rate_line_kind kind, const char *ref)
{
        struct tl_error err;

        if (!R.inv)
                cr_assert_eq(build(&err), TL_OK, "%s", err.msg);
        for (size_t i = 0; i < R.inv->line_count; i++)
                if (R.inv->lines[i].kind == kind &&
                    (!ref || (R.inv->lines[i].ref &&
                              strcmp(R.inv->lines[i].ref, ref) == 0)))
                        return &R.inv->lines[i];
        return NULL;
}

static void amount_is(rate_line_kind kind, const char *ref, const char *want)
{
        const struct rate_line *l = line(kind, ref);
        char got[TL_DEC_STR_MAX];

        cr_assert(l, "no %s line %s", rate_line_kind_name(kind),
                  ref ? ref : "");
        tl_dec_format(&l->amount, got, sizeof got);
        cr_assert_str_eq(got, want, "%s %s", rate_line_kind_name(kind),
                         ref ? ref : "");
}

static void money_is(const struct tl_dec *d, const char *want)
{
        char got[TL_DEC_STR_MAX];

        tl_dec_format(d, got, sizeof got);
        cr_assert_str_eq(got, want);
}

/* Price 'q' output tokens (autoregressive) under charge 'charge'. */
static void one_charge(const char *cur, const char *charge,
                       unsigned long long q, const char *want_amount)
{
        char body[1024];

        snprintf(body, sizeof body, "    charges:\n      - %s\n", charge);
        catalog(cur, body);
        customer("    plan: p\n    start: 2020-01-01", "2026-10");
        if (q)
                tokens("autoregressive", q, "2026-10-05T00:00:00Z");
        amount_is(RATE_LINE_USAGE, "x", want_amount);
        fini();
        memset(&R, 0, sizeof R);
}

#define TIERS                                                                  \
        "tiers: [{up_to: 100, price: 1}, {up_to: 200, price: 0.5},"            \
        " {up_to: null, price: 0.25}]"

Test(models, per_unit_is_q_times_price_per_unit)
{
        one_charge("USD",
                   "{id: x, meter: out, model: per_unit, unit: 1000000, "
                   "price: 0.15}",
                   20000000, "3.00");
        one_charge("USD", "{id: x, meter: out, model: per_unit, price: 0.15}",
                   0, "0.00");
}

Test(models, graduated_splits_at_each_bound_exactly)
{
        static const struct {
                unsigned long long q;
                const char *amount;
        } cases[] = {{1, "1.00"},     {100, "100.00"}, {101, "100.50"},
                     {200, "150.00"}, {201, "150.25"}, {1000, "350.00"}};

        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
                one_charge("USD",
                           "{id: x, meter: out, model: graduated, " TIERS "}",
                           cases[i].q, cases[i].amount);
}

Test(models, volume_prices_all_of_q_at_its_tier_and_up_to_is_inclusive)
{
        static const struct {
                unsigned long long q;
                const char *amount;
        } cases[] = {{1, "1.00"},     {100, "100.00"}, {101, "50.50"},
                     {200, "100.00"}, {201, "50.25"},  {1000, "250.00"}};

        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
                one_charge("USD",
                           "{id: x, meter: out, model: volume, " TIERS "}",
                           cases[i].q, cases[i].amount);
}

Test(models, package_rounds_packages_up)
{
        const char *ch = "{id: x, meter: out, model: package, size: 1000, "
                         "price: 2.50}";

        one_charge("USD", ch, 1, "2.50");
        one_charge("USD", ch, 1000, "2.50");
        one_charge("USD", ch, 1001, "5.00");
        one_charge("USD", ch, 0, "0.00");
}

Test(models, flat_charges_once_when_there_is_usage)
{
        const char *ch = "{id: x, meter: out, model: flat, price: 9.99}";

        one_charge("USD", ch, 0, "0.00");
        one_charge("USD", ch, 1, "9.99");
        one_charge("USD", ch, 123456789, "9.99");
}

Test(models, the_allowance_comes_off_first_and_never_below_zero)
{
        const char *ch = "{id: x, meter: out, model: per_unit, included: 50, "
                         "price: 1}";

        one_charge("USD", ch, 40, "0.00");
        one_charge("USD", ch, 50, "0.00");
        one_charge("USD", ch, 60, "10.00");
}

Test(models, weights_scale_group_values_and_quantity_stays_exact)
{
        const struct rate_line *l;

        catalog("USD", "    charges:\n      - {id: x, meter: out, model: "
                       "per_unit, price: 1, weights: {decoding: {diffusion: "
                       "0.5}}}\n");
        customer("    plan: p\n    start: 2020-01-01", "2026-10");
        tokens("autoregressive", 3, "2026-10-05T00:00:00Z");
        tokens("diffusion", 3, "2026-10-06T00:00:00Z");
        l = line(RATE_LINE_USAGE, "x");
        cr_assert_str_eq(l->quantity, "4.5");
        amount_is(RATE_LINE_USAGE, "x", "4.50");
        fini();
}

Test(rounding, ties_go_to_even_in_each_currency_exponent)
{
        static const struct {
                const char *cur, *price;
                unsigned long long q;
                const char *amount;
        } cases[] = {
            {"USD", "0.005", 1, "0.00"},   {"USD", "0.005", 3, "0.02"},
            {"USD", "0.005", 5, "0.02"},   {"USD", "0.005", 7, "0.04"},
            {"USD", "0.004", 1, "0.00"},   {"USD", "0.006", 1, "0.01"},
            {"JPY", "0.5", 3, "2"},        {"JPY", "0.5", 5, "2"},
            {"JPY", "0.5", 1, "0"},        {"JPY", "1.5", 1, "2"},
            {"KWD", "0.0005", 1, "0.000"}, {"KWD", "0.0005", 3, "0.002"},
            {"BHD", "0.0005", 5, "0.002"}, {"EUR", "0.125", 1, "0.12"},
            {"EUR", "0.135", 1, "0.14"},
        };

        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                char ch[256];

                snprintf(ch, sizeof ch,
                         "{id: x, meter: out, model: per_unit, price: %s}",
                         cases[i].price);
                one_charge(cases[i].cur, ch, cases[i].q, cases[i].amount);
        }
}

Test(rounding, fine_prices_and_huge_quantities_stay_exact)
{
        /* 12 fractional digits times 4 x (2^63 - 1): one rounding only. */
        catalog("USD", "    charges:\n      - {id: x, meter: out, model: "
                       "per_unit, price: 0.000000000001}\n");
        customer("    plan: p\n    start: 2020-01-01", "2026-10");
        for (int i = 0; i < 4; i++)
                tokens("autoregressive", 9223372036854775807ULL,
                       "2026-10-05T00:00:00Z");
        /* 36893488147419103228 x 1e-12 = 36893488.147419103228 */
        amount_is(RATE_LINE_USAGE, "x", "36893488.15");
        cr_assert_str_eq(line(RATE_LINE_USAGE, "x")->quantity,
                         "36893488147419103228");
        fini();
}

/* A plan with a 31.00 fee and a minimum of 62.00, for proration. */
#define FEE_PLAN                                                               \
        "    fees: [{ id: f, name: Fee, amount: 31.00 }]\n"                    \
        "    minimum: 62.00\n"

Test(proration, fees_and_minimum_follow_subscribed_days_at_the_edges)
{
        static const struct {
                const char *fields, *period, *fee, *minimum;
        } cases[] = {
            /* whole month: started before, or on its first day */
            {"    start: 2026-01-15", "2026-10", "31.00", "31.00"},
            {"    start: 2026-10-01", "2026-10", "31.00", "31.00"},
            /* started on the last day: 1 of 31 */
            {"    start: 2026-10-31", "2026-10", "1.00", "1.00"},
            /* ended (exclusive) on the 2nd: 1 of 31 */
            {"    start: 2026-01-01\n    end: 2026-10-02", "2026-10", "1.00",
             "1.00"},
            /* ended on the first of the next month: all of October */
            {"    start: 2026-01-01\n    end: 2026-11-01", "2026-10", "31.00",
             "31.00"},
            /* February of a leap year: 10 of 29 days */
            {"    start: 2028-02-20", "2028-02", "10.69", "10.69"},
            /* a 30-day month: 15 of 30 */
            {"    start: 2026-11-16", "2026-11", "15.50", "15.50"},
        };

        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                char fields[256];

                catalog("USD", FEE_PLAN);
                snprintf(fields, sizeof fields, "    plan: p\n%s",
                         cases[i].fields);
                customer(fields, cases[i].period);
                amount_is(RATE_LINE_FEE, "f", cases[i].fee);
                /* The minimum prorates like the fee: the shortfall is the
                   prorated minimum less the prorated fee. */
                amount_is(RATE_LINE_MINIMUM, NULL, cases[i].minimum);
                fini();
                memset(&R, 0, sizeof R);
        }
}

Test(totals, credit_is_capped_at_the_subtotal_and_tax_follows_it)
{
        catalog("USD", "    fees: [{ id: f, amount: 100 }]\n");
        customer("    plan: p\n    start: 2020-01-01\n    credits: 500\n"
                 "    tax_rate: 0.19",
                 "2026-10");
        amount_is(RATE_LINE_CREDIT, NULL, "-100.00");
        amount_is(RATE_LINE_TAX, NULL, "0.00");
        money_is(&R.inv->total, "0.00");
        fini();
        memset(&R, 0, sizeof R);

        catalog("USD", "    fees: [{ id: f, amount: 54.84 }]\n");
        customer("    plan: p\n    start: 2020-01-01\n    credits: 50\n"
                 "    tax_rate: 0.19",
                 "2026-10");
        amount_is(RATE_LINE_TAX, NULL, "0.92");
        money_is(&R.inv->subtotal, "54.84");
        money_is(&R.inv->credit, "-50.00");
        money_is(&R.inv->total, "5.76");
        /* Without credit or tax there are no such lines, only zero totals. */
        fini();
        memset(&R, 0, sizeof R);
        catalog("USD", "    fees: [{ id: f, amount: 1 }]\n");
        customer("    plan: p\n    start: 2020-01-01", "2026-10");
        cr_assert_null(line(RATE_LINE_CREDIT, NULL));
        cr_assert_null(line(RATE_LINE_TAX, NULL));
        money_is(&R.inv->credit, "0.00");
        fini();
}

Test(totals, a_credit_of_sub_cent_precision_is_cut_never_rounded_up)
{
        /* 10.015 rounds half to even to 10.02, more than the grants hold:
           an invoice may draw only what is there. */
        catalog("USD", "    fees: [{ id: f, amount: 100 }]\n");
        customer("    plan: p\n    start: 2020-01-01\n    credits: 10.015\n",
                 "2026-10");
        amount_is(RATE_LINE_CREDIT, NULL, "-10.01");
        money_is(&R.inv->total, "89.99");
        fini();
}

#define SEAT_PLAN                                                              \
        "    seats: { meter: devices, prices: { small: 31, large: 62 } }\n"

Test(seats, active_days_touch_the_period_half_open)
{
        const struct rate_line *l;

        catalog("USD", SEAT_PLAN);
        customer("    plan: p\n    start: 2020-01-01", "2026-10");
        /* Deactivated exactly at the period's start: no October day. */
        seat("a", "activate", "small", "2026-09-01T00:00:00Z");
        seat("a", "deactivate", "small", "2026-10-01T00:00:00Z");
        /* One second on the last day: that day counts. */
        seat("b", "activate", "small", "2026-10-31T23:59:59Z");
        /* Heartbeats only: active from the first one on the 30th. */
        seat("c", "heartbeat", "small", "2026-10-30T12:00:00Z");
        seat("c", "heartbeat", "small", "2026-10-31T12:00:00Z");
        /* Out on the 3rd, back on the 5th: days 1-3 and 5-31. */
        seat("d", "activate", "large", "2026-09-01T00:00:00Z");
        seat("d", "deactivate", "large", "2026-10-03T08:00:00Z");
        seat("d", "activate", "large", "2026-10-05T08:00:00Z");
        /* Events after the period change nothing. */
        seat("e", "activate", "large", "2026-11-01T00:00:00Z");
        l = line(RATE_LINE_SEAT, "small");
        cr_assert(l);
        cr_assert_eq(l->seat_days, 3);
        cr_assert_str_eq(l->quantity, "0.0968");
        amount_is(RATE_LINE_SEAT, "small", "3.00");
        l = line(RATE_LINE_SEAT, "large");
        cr_assert_eq(l->seat_days, 30);
        amount_is(RATE_LINE_SEAT, "large", "60.00");
        /* Lines come in class order. */
        cr_assert_str_eq(R.inv->lines[0].ref, "large");
        fini();
}

Test(seats, a_device_may_change_class_any_number_of_times)
{
        char body[512] = "    seats: { meter: devices, prices: {";

        for (int k = 0; k < 10; k++)
                snprintf(body + strlen(body), sizeof body - strlen(body),
                         "%s k%d: 31", k ? "," : "", k);
        strcat(body, " } }\n");
        catalog("USD", body);
        customer("    plan: p\n    start: 2020-01-01", "2026-10");
        /* One device, ten classes, each active on a day of its own. */
        for (int k = 0; k < 10; k++) {
                char cls[8], on[32], off[32];

                snprintf(cls, sizeof cls, "k%d", k);
                snprintf(on, sizeof on, "2026-10-%02dT01:00:00Z", 2 * k + 1);
                snprintf(off, sizeof off, "2026-10-%02dT02:00:00Z", 2 * k + 1);
                seat("z", "activate", cls, on);
                seat("z", "deactivate", cls, off);
        }
        for (int k = 0; k < 10; k++) {
                char cls[8];

                snprintf(cls, sizeof cls, "k%d", k);
                cr_assert(line(RATE_LINE_SEAT, cls), "no line for %s", cls);
                cr_assert_eq(line(RATE_LINE_SEAT, cls)->seat_days, 1, "%s",
                             cls);
                amount_is(RATE_LINE_SEAT, cls, "1.00");
        }
        fini();
}

Test(seats, a_class_without_a_price_refuses_the_invoice)
{
        struct tl_error err;

        catalog("USD", SEAT_PLAN);
        customer("    plan: p\n    start: 2020-01-01", "2026-10");
        seat("a", "activate", "huge", "2026-10-02T00:00:00Z");
        cr_assert_eq(build(&err), TL_EINVAL);
        cr_assert(strstr(err.msg, "model_class 'huge'"), "%s", err.msg);
        cr_assert(strstr(err.msg, "customer c"), "%s", err.msg);
        fini();
}

Test(meters, count_max_latest_and_unique_count)
{
        const struct rate_group_usage *g;
        size_t ci;

        catalog("USD", "    fees: []\n");
        customer("    plan: p\n    start: 2020-01-01", "2026-10");
        tokens("autoregressive", 5, "2026-10-05T00:00:00Z");
        tokens("diffusion", 9, "2026-10-01T00:00:00Z");
        tokens("autoregressive", 7, "2026-10-09T00:00:00Z");
        tokens("autoregressive", 1, "2026-10-09T00:00:00Z");
        ci = rate_acc_find(R.acc, "c");
        cr_assert_eq(
            rate_acc_groups(R.acc, ci, rate_catalog_meter(R.cat, "calls"), &g),
            1);
        cr_assert(g[0].quantity == 4);
        rate_acc_groups(R.acc, ci, rate_catalog_meter(R.cat, "peak"), &g);
        cr_assert(g[0].quantity == 9);
        /* The newest by time; at equal times the one read last. */
        rate_acc_groups(R.acc, ci, rate_catalog_meter(R.cat, "last"), &g);
        cr_assert(g[0].quantity == 1);
        /* Models m0, m1, m2, m0: three distinct. */
        rate_acc_groups(R.acc, ci, rate_catalog_meter(R.cat, "models"), &g);
        cr_assert(g[0].quantity == 3);
        fini();
}

Test(meters, filters_and_the_period_window_select_events)
{
        const struct rate_group_usage *g;
        size_t n;

        catalog("USD", "    fees: []\n");
        customer("    plan: p\n    start: 2020-01-01", "2026-10");
        tokens("autoregressive", 5, "2026-09-30T23:59:59.999999Z");
        tokens("autoregressive", 7, "2026-10-01T00:00:00Z");
        tokens("autoregressive", 11, "2026-10-31T23:59:59.999999Z");
        tokens("autoregressive", 13, "2026-11-01T00:00:00Z");
        event("{\"specversion\":\"1.0\",\"id\":\"dev\",\"source\":\"s\","
              "\"type\":\"inference.tokens\","
              "\"subject\":\"c\",\"time\":\"2026-10-02T00:00:00Z\",\"data\":{"
              "\"model\":\"m\",\"deployment\":\"device\",\"decoding\":\"x\","
              "\"input_tokens\":0,\"output_tokens\":1000}}");
        n = rate_acc_groups(R.acc, rate_acc_find(R.acc, "c"),
                            rate_catalog_meter(R.cat, "out"), &g);
        cr_assert_eq(n, 1);
        cr_assert(g[0].quantity == 18);
        cr_assert_str_eq(g[0].values[0], "autoregressive");
        fini();
}

/* Filters on the enum fields (deployment above, action here) are
   compiled to bits; any subset of the values must select as the text
   compare did. */
Test(meters, a_filter_on_action_selects_its_values_only)
{
        const struct rate_group_usage *g;

        catalog("USD", "    fees: []\n");
        customer("    plan: p\n    start: 2020-01-01", "2026-10");
        seat("d1", "activate", "small", "2026-10-02T00:00:00Z");
        seat("d1", "heartbeat", "small", "2026-10-03T00:00:00Z");
        seat("d1", "heartbeat", "small", "2026-10-04T00:00:00Z");
        seat("d1", "deactivate", "small", "2026-10-05T00:00:00Z");
        seat("d2", "activate", "small", "2026-10-05T00:00:00Z");
        cr_assert_eq(rate_acc_groups(R.acc, rate_acc_find(R.acc, "c"),
                                     rate_catalog_meter(R.cat, "changes"), &g),
                     1);
        cr_assert(g[0].quantity == 3);
        fini();
}

Test(cohorts, placement_by_bucket_and_explicit_placement_wins)
{
        bool expl;

        cr_assert_eq(rate_bucket("q4-2026", "cust_0042"), 2229);
        catalog("USD", "    fees: [{ id: f, amount: 2 }]\n");
        customer("    plan: q\n    start: 2020-01-01", "2026-10");
        cr_assert_eq(rate_place(&R.cat->experiments[0], &R.cs->items[0], &expl),
                     rate_experiment_cohort(&R.cat->experiments[0],
                                            rate_bucket("q4-2026", "c")));
        cr_assert_not(expl);
        fini();
        memset(&R, 0, sizeof R);

        catalog("USD", "    fees: [{ id: f, amount: 2 }]\n");
        customer("    plan: q\n    start: 2020-01-01\n"
                 "    cohorts: { exp: lower }",
                 "2026-10");
        /* 'lower' prices with plan p: its fee of 2, not q's 1. */
        amount_is(RATE_LINE_FEE, "f", "2.00");
        cr_assert_str_eq(R.inv->plan->id, "p");
        cr_assert_eq(R.inv->cohort_count, 1);
        cr_assert_str_eq(R.inv->cohorts[0].cohort, "lower");
        cr_assert(R.inv->cohorts[0].explicit_);
        fini();
        memset(&R, 0, sizeof R);

        catalog("USD", "    fees: []\n");
        customer("    plan: q\n    start: 2020-01-01\n"
                 "    cohorts: { exp: nobody }",
                 "2026-10");
        {
                struct tl_error err;

                cr_assert_eq(build(&err), TL_EINVAL);
                cr_assert(strstr(err.msg, "c.yaml:5:21: customers[c].cohorts"
                                          ".exp: experiment 'exp' has no "
                                          "cohort 'nobody'"),
                          "%s", err.msg);
        }
        fini();
}
