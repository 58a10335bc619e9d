/* Subscriptions that change within a period, by hand-computed invoices:
   each charge model across a change (tiers restart), fees, minimum and
   `included` prorated exactly, seats by segment, an upgrade and a
   downgrade, a change on the first and the last day, two changes in one
   period, credit and tax once; the customers file's long form and its
   errors. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/str.h"
#include "rating/catalog.h"
#include "rating/customers.h"
#include "rating/invoice.h"
#include "rating/usage.h"
#include "schemas/decode.h"

struct run {
        struct rate_catalog *cat;
        struct rate_customers *cs;
        struct rate_acc *acc;
        struct rate_segs *segs;
        struct rate_invoice *inv;
        struct sch_decoder *dec;
        struct rate_period period;
        int seq;
};

static struct run R;

static void fini(void)
{
        rate_invoice_free(&R.inv);
        rate_segs_free(&R.segs);
        rate_acc_free(&R.acc);
        rate_customers_free(&R.cs);
        rate_catalog_free(&R.cat);
        sch_decoder_free(&R.dec);
        memset(&R, 0, sizeof R);
}

/* Plans a, b and c from their YAML bodies (indented by 4), then 'more'
   (top-level keys). */
static void catalog_more(const char *a, const char *b, const char *c,
                         const char *more)
{
        char yaml[8192];
        struct rate_diags d;
        struct tl_error err;

        snprintf(yaml, sizeof yaml,
                 "catalog: t\nversion: \"1\"\neffective_from: 2020-01-01\n"
                 "currency: USD\n"
                 "meters:\n"
                 "  out: { event: inference.tokens, value: output_tokens,\n"
                 "         aggregation: sum, filter: { deployment: cloud } }\n"
                 "  devices: { event: device.seat, aggregation: seats }\n"
                 "plans:\n  a:\n%s\n  b:\n%s\n  c:\n%s\n%s",
                 a, b, c ? c : "    fees: [{ id: base, amount: 1 }]",
                 more ? more : "");
        memset(&d, 0, sizeof d);
        cr_assert_eq(
            rate_catalog_parse("t.yaml", yaml, strlen(yaml), &R.cat, &d, &err),
            TL_OK, "%s\n%s", err.msg, yaml);
        cr_assert_eq(sch_decoder_new(NULL, &R.dec, NULL), TL_OK);
}

static void catalog(const char *a, const char *b, const char *c)
{
        catalog_more(a, b, c, NULL);
}

/* Customer 'c' with 'fields' after its id, for 'period'. */
static void customer(const char *fields, const char *period)
{
        char yaml[2048];
        struct tl_error err;

        snprintf(yaml, sizeof yaml, "customers:\n  - id: c\n%s\n", fields);
        cr_assert_eq(rate_customers_parse("c.yaml", yaml, strlen(yaml), &R.cs,
                                          NULL, &err),
                     TL_OK, "%s", err.msg);
        cr_assert_eq(rate_period_parse(period, &R.period, &err), TL_OK);
        cr_assert_eq(rate_acc_new(R.cat, &R.period, &R.acc, &err), TL_OK);
        cr_assert_eq(
            rate_segs_new(R.cat, &R.cs->items[0], &R.period, &R.segs, &err),
            TL_OK, "%s", err.msg);
}

static void event(const char *json)
{
        struct sch_event ev;
        struct tl_error err;

        cr_assert_eq(sch_decode_json(R.dec, json, strlen(json), &ev, &err),
                     TL_OK, "%s: %s", err.msg, json);
        cr_assert_eq(rate_acc_add(R.acc, &ev, &err), TL_OK, "%s", err.msg);
        if (R.segs)
                cr_assert_eq(rate_segs_add(R.segs, &ev, &err), TL_OK, "%s",
                             err.msg);
}

static void tokens(unsigned long long n, const char *time)
{
        char json[512];

        snprintf(json, sizeof json,
                 "{\"specversion\":\"1.0\",\"id\":\"e%d\",\"source\":\"s\","
                 "\"type\":\"inference.tokens\",\"subject\":\"c\",\"time\":"
                 "\"%s\",\"data\":{\"model\":\"m\",\"deployment\":\"cloud\","
                 "\"decoding\":\"autoregressive\",\"input_tokens\":0,"
                 "\"output_tokens\":%llu}}",
                 R.seq++, time, n);
        event(json);
}

static void seat(const char *device, const char *action, const char *time)
{
        char json[512];

        snprintf(json, sizeof json,
                 "{\"specversion\":\"1.0\",\"id\":\"s%d\",\"source\":\"d\","
                 "\"type\":\"device.seat\",\"subject\":\"c\",\"time\":\"%s\","
                 "\"data\":{\"device_id\":\"%s\",\"action\":\"%s\","
                 "\"model_class\":\"small\"}}",
                 R.seq++, time, device, action);
        event(json);
}

static tl_status build(struct tl_error *err)
{
        struct rate_invoice_opts opts = {0, NULL, R.segs};

        rate_invoice_free(&R.inv);
        return rate_invoice_build_opts(R.cat, R.cs, &R.cs->items[0], R.acc,
                                       rate_acc_find(R.acc, "c"), &opts, &R.inv,
                                       err);
}

static void built(void)
{
        struct tl_error err;

        if (!R.inv)
                cr_assert_eq(build(&err), TL_OK, "%s", err.msg);
}

/* Line 'i' is of 'kind' with 'amount', in segment 'plan' [start, end)
   (plan NULL: in none). */
static void line_is(size_t i, rate_line_kind kind, const char *amount,
                    const char *plan, const char *start, const char *end)
{
        const struct rate_line *l;
        char got[TL_DEC_STR_MAX];

        built();
        cr_assert_lt(i, R.inv->line_count, "line %zu of %zu", i,
                     R.inv->line_count);
        l = &R.inv->lines[i];
        cr_assert_eq(l->kind, kind, "line %zu is %s", i,
                     rate_line_kind_name(l->kind));
        tl_dec_format(&l->amount, got, sizeof got);
        cr_assert_str_eq(got, amount, "line %zu (%s)", i,
                         rate_line_kind_name(kind));
        if (!plan) {
                cr_assert_null(l->segment, "line %zu has a segment", i);
                return;
        }
        cr_assert_not_null(l->segment, "line %zu has no segment", i);
        cr_assert_str_eq(l->segment->plan, plan);
        cr_assert_str_eq(l->segment->start_iso, start);
        cr_assert_str_eq(l->segment->end_iso, end);
}

static void total_is(size_t lines, const char *subtotal, const char *total)
{
        char got[TL_DEC_STR_MAX];

        built();
        cr_assert_eq(R.inv->line_count, lines, "%zu lines", R.inv->line_count);
        tl_dec_format(&R.inv->subtotal, got, sizeof got);
        cr_assert_str_eq(got, subtotal, "subtotal");
        tl_dec_format(&R.inv->total, got, sizeof got);
        cr_assert_str_eq(got, total, "total");
}

#define CHANGE_ON(day)                                                         \
        "    subscriptions:\n"                                                 \
        "      - { plan: a, start: 2026-09-01, end: " day " }\n"               \
        "      - { plan: b, start: " day " }"

#define TIERS                                                                  \
        "tiers: [{up_to: 100, price: 1}, {up_to: 200, price: 0.5},"            \
        " {up_to: null, price: 0.25}]"

Test(segments, each_charge_model_prices_each_segment_alone_and_tiers_restart)
{
        /* 150 tokens in each half: a whole-period graduated price would be
           100 + 50 + 25 = 175; per segment it is 125 + 125. */
        static const struct {
                const char *charge, *each;
        } cases[] = {
            {"{id: x, meter: out, model: per_unit, unit: 1, price: 0.01}",
             "1.50"},
            {"{id: x, meter: out, model: graduated, " TIERS "}", "125.00"},
            {"{id: x, meter: out, model: volume, " TIERS "}", "75.00"},
            {"{id: x, meter: out, model: package, size: 100, price: 3}",
             "6.00"},
            {"{id: x, meter: out, model: flat, price: 9.99}", "9.99"},
        };

        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                char plan[512];

                snprintf(plan, sizeof plan, "    charges:\n      - %s",
                         cases[i].charge);
                catalog(plan, plan, NULL);
                customer(CHANGE_ON("2026-10-16"), "2026-10");
                tokens(150, "2026-10-05T10:00:00Z");
                tokens(150, "2026-10-20T10:00:00Z");
                line_is(0, RATE_LINE_USAGE, cases[i].each, "a", "2026-10-01",
                        "2026-10-16");
                line_is(1, RATE_LINE_USAGE, cases[i].each, "b", "2026-10-16",
                        "2026-11-01");
                cr_assert_eq(R.inv->segment_count, 2);
                fini();
        }
}

Test(segments, an_upgrade_prorates_fees_and_included_by_segment_days)
{
        /* 10 days of a, 21 of b in October's 31: fees 31 x 10/31 and
           62 x 21/31; included 31 x 10/31 = 10 and 62 x 21/31 = 42. */
        catalog("    fees: [{ id: base, amount: 31 }]\n"
                "    charges:\n      - { id: x, meter: out, model: per_unit,"
                " unit: 1, price: 1, included: 31 }",
                "    fees: [{ id: base, amount: 62 }]\n"
                "    charges:\n      - { id: x, meter: out, model: per_unit,"
                " unit: 1, price: 2, included: 62 }",
                NULL);
        customer(CHANGE_ON("2026-10-11"), "2026-10");
        tokens(100, "2026-10-05T00:00:00Z");
        tokens(100, "2026-10-11T00:00:00Z"); /* the first instant of b */
        line_is(0, RATE_LINE_FEE, "10.00", "a", "2026-10-01", "2026-10-11");
        line_is(1, RATE_LINE_USAGE, "90.00", "a", "2026-10-01", "2026-10-11");
        cr_assert_str_eq(R.inv->lines[1].quantity, "90");
        cr_assert_str_eq(R.inv->lines[1].capacity, "10");
        line_is(2, RATE_LINE_FEE, "42.00", "b", "2026-10-11", "2026-11-01");
        line_is(3, RATE_LINE_USAGE, "116.00", "b", "2026-10-11", "2026-11-01");
        cr_assert_str_eq(R.inv->lines[3].quantity, "58");
        cr_assert_eq(R.inv->active_days, 31);
        cr_assert_str_eq(R.inv->subscribed_plan, "b");
        total_is(4, "258.00", "258.00");
        fini();
}

Test(segments, an_included_not_a_whole_share_is_exact_and_rounded_once)
{
        /* included 100 x 10/31 = 1000/31; usage 50 leaves 550/31 =
           17.741935... units at 1.00: 17.74; shown at 4 digits. */
        const char *p = "    charges:\n      - { id: x, meter: out, model: "
                        "per_unit, unit: 1, price: 1, included: 100 }";

        catalog(p, p, NULL);
        customer(CHANGE_ON("2026-10-11"), "2026-10");
        tokens(50, "2026-10-02T00:00:00Z");
        line_is(0, RATE_LINE_USAGE, "17.74", "a", "2026-10-01", "2026-10-11");
        cr_assert_str_eq(R.inv->lines[0].quantity, "17.7419");
        cr_assert_str_eq(R.inv->lines[0].capacity, "32.2581");
        line_is(1, RATE_LINE_USAGE, "0.00", "b", "2026-10-11", "2026-11-01");
        fini();
}

Test(segments, a_downgrade_on_the_last_day_floors_each_segment_by_its_minimum)
{
        /* a: 30 days, fee 62 x 30/31 = 60.00, minimum 93 x 30/31 = 90.00:
           30.00 short. b: 1 day, fee 31 x 1/31 = 1.00, no minimum. */
        catalog("    fees: [{ id: base, amount: 62 }]\n    minimum: 93",
                "    fees: [{ id: base, amount: 31 }]", NULL);
        customer(CHANGE_ON("2026-10-31"), "2026-10");
        line_is(0, RATE_LINE_FEE, "60.00", "a", "2026-10-01", "2026-10-31");
        line_is(1, RATE_LINE_MINIMUM, "30.00", "a", "2026-10-01", "2026-10-31");
        line_is(2, RATE_LINE_FEE, "1.00", "b", "2026-10-31", "2026-11-01");
        total_is(3, "91.00", "91.00");
        fini();
}

Test(segments, a_change_on_the_first_day_prices_each_period_by_one_plan)
{
        struct tl_buf lg, sh;
        struct tl_error err;

        tl_buf_init(&lg, 0);
        tl_buf_init(&sh, 0);
        catalog("    fees: [{ id: base, amount: 30 }]",
                "    fees: [{ id: base, amount: 62 }]", NULL);
        customer(CHANGE_ON("2026-10-01"), "2026-09");
        line_is(0, RATE_LINE_FEE, "30.00", NULL, NULL, NULL);
        cr_assert_str_eq(R.inv->plan->id, "a");
        fini();
        catalog("    fees: [{ id: base, amount: 30 }]",
                "    fees: [{ id: base, amount: 62 }]", NULL);
        customer(CHANGE_ON("2026-10-01"), "2026-10");
        cr_assert_null(R.segs, "one segment needs no usage kept apart");
        tokens(10, "2026-10-03T00:00:00Z");
        line_is(0, RATE_LINE_FEE, "62.00", NULL, NULL, NULL);
        cr_assert_eq(rate_invoice_json(R.inv, &lg, &err), TL_OK);
        fini();
        /* The same as the short form, byte for byte. */
        catalog("    fees: [{ id: base, amount: 30 }]",
                "    fees: [{ id: base, amount: 62 }]", NULL);
        customer("    plan: b\n    start: 2026-10-01", "2026-10");
        tokens(10, "2026-10-03T00:00:00Z");
        built();
        cr_assert_eq(rate_invoice_json(R.inv, &sh, &err), TL_OK);
        cr_assert_eq(lg.len, sh.len);
        cr_assert(memcmp(lg.data, sh.data, lg.len) == 0, "%s\n%s", lg.data,
                  sh.data);
        cr_assert_null(strstr(lg.data, "segment"));
        tl_buf_release(&lg);
        tl_buf_release(&sh);
        fini();
}

Test(segments, two_changes_in_one_period_make_three_segments)
{
        /* a 10 days, b 10, c 11: fees 31 x 10/31, 62 x 10/31, 93 x 11/31;
           included 31 each prorated 10, 10, 11 against 15 tokens each. */
        const char *ch = "    charges:\n      - { id: x, meter: out, model: "
                         "per_unit, unit: 1, price: 1, included: 31 }";
        char a[512], b[512], c[512];

        snprintf(a, sizeof a, "    fees: [{ id: base, amount: 31 }]\n%s", ch);
        snprintf(b, sizeof b, "    fees: [{ id: base, amount: 62 }]\n%s", ch);
        snprintf(c, sizeof c, "    fees: [{ id: base, amount: 93 }]\n%s", ch);
        catalog(a, b, c);
        customer("    subscriptions:\n"
                 "      - { plan: a, start: 2026-01-01, end: 2026-10-11 }\n"
                 "      - { plan: c, start: 2026-10-21 }\n"
                 "      - { plan: b, start: 2026-10-11, end: 2026-10-21 }",
                 "2026-10");
        tokens(15, "2026-10-05T00:00:00Z");
        tokens(15, "2026-10-15T00:00:00Z");
        tokens(15, "2026-10-25T00:00:00Z");
        cr_assert_eq(rate_segs_count(R.segs), 3);
        line_is(0, RATE_LINE_FEE, "10.00", "a", "2026-10-01", "2026-10-11");
        line_is(1, RATE_LINE_USAGE, "5.00", "a", "2026-10-01", "2026-10-11");
        line_is(2, RATE_LINE_FEE, "20.00", "b", "2026-10-11", "2026-10-21");
        line_is(3, RATE_LINE_USAGE, "5.00", "b", "2026-10-11", "2026-10-21");
        line_is(4, RATE_LINE_FEE, "33.00", "c", "2026-10-21", "2026-11-01");
        line_is(5, RATE_LINE_USAGE, "4.00", "c", "2026-10-21", "2026-11-01");
        total_is(6, "77.00", "77.00");
        fini();
}

Test(segments, seat_days_count_in_the_segment_they_fall_in)
{
        /* One device all month: 10 seat-days at 31 a seat-month, 21 at 62. */
        catalog("    seats: { meter: devices, prices: { small: 31 } }",
                "    seats: { meter: devices, prices: { small: 62 } }", NULL);
        customer(CHANGE_ON("2026-10-11"), "2026-10");
        seat("d1", "activate", "2026-09-15T00:00:00Z");
        line_is(0, RATE_LINE_SEAT, "10.00", "a", "2026-10-01", "2026-10-11");
        cr_assert_eq(R.inv->lines[0].seat_days, 10);
        cr_assert_str_eq(R.inv->lines[0].quantity, "0.3226");
        line_is(1, RATE_LINE_SEAT, "42.00", "b", "2026-10-11", "2026-11-01");
        cr_assert_eq(R.inv->lines[1].seat_days, 21);
        fini();
}

Test(segments, credit_and_tax_apply_once_to_the_subtotal_of_every_segment)
{
        struct tl_buf j;
        struct tl_error err;

        tl_buf_init(&j, 0);
        catalog("    fees: [{ id: base, amount: 31 }]",
                "    fees: [{ id: base, amount: 62 }]", NULL);
        customer(CHANGE_ON("2026-10-11") "\n    credits: 5\n"
                                         "    tax_rate: 0.1",
                 "2026-10");
        /* 10.00 + 42.00 = 52.00; less 5.00 credit; 10 % of 47.00. */
        line_is(0, RATE_LINE_FEE, "10.00", "a", "2026-10-01", "2026-10-11");
        line_is(1, RATE_LINE_FEE, "42.00", "b", "2026-10-11", "2026-11-01");
        line_is(2, RATE_LINE_CREDIT, "-5.00", NULL, NULL, NULL);
        line_is(3, RATE_LINE_TAX, "4.70", NULL, NULL, NULL);
        total_is(4, "52.00", "51.70");
        cr_assert_eq(rate_invoice_json(R.inv, &j, &err), TL_OK);
        cr_assert_not_null(strstr(j.data,
                                  "\"segment\":{\"plan\":\"b\",\"start\":"
                                  "\"2026-10-11\",\"end\":\"2026-11-01\"}"),
                           "%s", j.data);
        tl_buf_release(&j);
        fini();
}

Test(segments, a_period_with_a_change_but_no_kept_usage_is_refused)
{
        struct rate_invoice_opts opts = {0, NULL, NULL};
        struct tl_error err;

        catalog("    fees: [{ id: base, amount: 31 }]",
                "    fees: [{ id: base, amount: 62 }]", NULL);
        customer(CHANGE_ON("2026-10-11"), "2026-10");
        cr_assert_eq(rate_invoice_build_opts(R.cat, R.cs, &R.cs->items[0],
                                             R.acc, RATE_NO_INDEX, &opts,
                                             &R.inv, &err),
                     TL_EINVAL);
        cr_assert_not_null(strstr(err.msg, "customer c"), "%s", err.msg);
        fini();
}

Test(segments, an_undefined_plan_of_a_segment_is_named_at_its_place)
{
        struct tl_error err;

        catalog("    fees: [{ id: base, amount: 31 }]",
                "    fees: [{ id: base, amount: 62 }]", NULL);
        customer("    subscriptions:\n"
                 "      - { plan: a, start: 2026-09-01, end: 2026-10-11 }\n"
                 "      - { plan: zz, start: 2026-10-11 }",
                 "2026-10");
        cr_assert_eq(build(&err), TL_EINVAL);
        cr_assert_not_null(strstr(err.msg, "c.yaml:5:17: customers[c].plan: "
                                           "undefined plan 'zz'"),
                           "%s", err.msg);
        fini();
}

/* The first diagnostic of parsing 'fields' for customer c. */
static void refused(const char *fields, const char *want)
{
        char yaml[2048];
        struct rate_customers *cs = NULL;
        struct rate_diags d;
        struct tl_error err;

        memset(&d, 0, sizeof d);
        snprintf(yaml, sizeof yaml, "customers:\n  - id: c\n%s\n", fields);
        cr_assert_eq(
            rate_customers_parse("c.yaml", yaml, strlen(yaml), &cs, &d, &err),
            TL_EINVAL, "%s", yaml);
        cr_assert_gt(d.count, 0);
        cr_assert_not_null(strstr(d.msg[0], want), "%s\nwanted: %s", d.msg[0],
                           want);
}

Test(customers_file, a_bad_history_is_refused_at_its_place)
{
        refused("    subscriptions:\n"
                "      - { plan: a, start: 2026-09-01, end: 2026-10-15 }\n"
                "      - { plan: b, start: 2026-10-10 }",
                "c.yaml:5:27: customers[c].subscriptions: start 2026-10-10 "
                "overlaps the subscription to 'a' [2026-09-01, 2026-10-15)");
        refused("    subscriptions:\n"
                "      - { plan: a, start: 2026-09-01 }\n"
                "      - { plan: b, start: 2026-10-10 }",
                "c.yaml:5:27: customers[c].subscriptions: start 2026-10-10 "
                "overlaps the subscription to 'a' [2026-09-01, open)");
        refused("    subscriptions:\n"
                "      - { plan: a, start: 2026-09-01, end: 2026-09-01 }",
                "c.yaml:4:27: customers[c].subscriptions: end 2026-09-01 "
                "must be after start 2026-09-01");
        refused("    plan: a\n    subscriptions:\n"
                "      - { plan: a, start: 2026-09-01 }",
                "c.yaml:3:5: customers[c]: 'plan' and 'subscriptions' at "
                "once");
        refused("    subscriptions: []", "customers[c].subscriptions: at "
                                         "least one subscription");
        refused("    subscriptions:\n      - { plan: a }",
                "customers[c].subscriptions[0]");
}

Test(customers_file, the_long_form_sets_the_current_plan_and_the_span)
{
        struct rate_customers *cs = NULL;
        struct tl_error err;
        const char *yaml =
            "customers:\n  - id: c\n    subscriptions:\n"
            "      - { plan: pro, start: 2026-10-15 }\n"
            "      - { plan: starter, start: 2026-09-01, end: 2026-10-15 }\n";
        const struct rate_customer *c;

        cr_assert_eq(
            rate_customers_parse("c.yaml", yaml, strlen(yaml), &cs, NULL, &err),
            TL_OK, "%s", err.msg);
        c = &cs->items[0];
        cr_assert_eq(c->sub_count, 2);
        cr_assert_str_eq(c->subs[0].plan, "starter", "sorted by start");
        cr_assert_str_eq(c->plan, "pro");
        cr_assert_eq(c->start_day, c->subs[0].start_day);
        cr_assert_not(c->has_end);
        rate_customers_free(&cs);
}

Test(segments, a_downgrade_prices_each_model_at_each_plans_own_rates)
{
        /* a: graduated TIERS, b: volume at half those prices; 150 tokens
           on each side of the 16th: 100 + 25 = 125.00, then 150 x 0.25 =
           37.50. */
        catalog("    charges:\n      - { id: x, meter: out, model: "
                "graduated, " TIERS " }",
                "    charges:\n      - { id: x, meter: out, model: volume, "
                "tiers: [{up_to: 100, price: 0.5}, {up_to: 200, price: "
                "0.25}, {up_to: null, price: 0.125}] }",
                NULL);
        customer(CHANGE_ON("2026-10-16"), "2026-10");
        tokens(150, "2026-10-15T23:59:59Z"); /* the last instant of a */
        tokens(150, "2026-10-16T00:00:00Z");
        line_is(0, RATE_LINE_USAGE, "125.00", "a", "2026-10-01", "2026-10-16");
        line_is(1, RATE_LINE_USAGE, "37.50", "b", "2026-10-16", "2026-11-01");
        total_is(2, "162.50", "162.50");
        fini();
}

Test(segments, cohorts_are_placed_per_plan)
{
        /* The experiment is on b: the a segment is priced by a, the b one
           by the cohort's plan c, and the segment still names b. */
        catalog_more("    fees: [{ id: base, amount: 31 }]",
                     "    fees: [{ id: base, amount: 62 }]",
                     "    fees: [{ id: base, amount: 93 }]",
                     "experiments:\n  - id: exp\n    plan: b\n    salt: s\n"
                     "    cohorts:\n      - { name: control, weight: 50 }\n"
                     "      - { name: dear, weight: 50, plan: c }\n");
        customer(CHANGE_ON("2026-10-11") "\n    cohorts: { exp: dear }",
                 "2026-10");
        line_is(0, RATE_LINE_FEE, "10.00", "a", "2026-10-01", "2026-10-11");
        line_is(1, RATE_LINE_FEE, "63.00", "b", "2026-10-11", "2026-11-01");
        cr_assert_eq(R.inv->cohort_count, 1);
        cr_assert_str_eq(R.inv->cohorts[0].cohort, "dear");
        cr_assert_str_eq(R.inv->plan->id, "c");
        cr_assert_str_eq(R.inv->subscribed_plan, "b");
        fini();
}

Test(segments, an_allowance_per_seat_counts_the_segments_seat_days_only)
{
        /* One device all month; a grants 31 tokens a seat-month, b 62:
           10 x 31 / 31 = 10 and 21 x 62 / 31 = 42, not prorated again. */
        catalog("    seats: { meter: devices, prices: { small: 0 } }\n"
                "    charges:\n      - { id: x, meter: out, model: per_unit,"
                " unit: 1, price: 1, included_per_seat: 31 }",
                "    seats: { meter: devices, prices: { small: 0 } }\n"
                "    charges:\n      - { id: x, meter: out, model: per_unit,"
                " unit: 1, price: 1, included_per_seat: 62 }",
                NULL);
        customer(CHANGE_ON("2026-10-11"), "2026-10");
        seat("d1", "activate", "2026-09-15T00:00:00Z");
        tokens(25, "2026-10-05T00:00:00Z");
        tokens(25, "2026-10-25T00:00:00Z");
        line_is(1, RATE_LINE_USAGE, "15.00", "a", "2026-10-01", "2026-10-11");
        cr_assert_str_eq(R.inv->lines[1].capacity, "10");
        line_is(3, RATE_LINE_USAGE, "0.00", "b", "2026-10-11", "2026-11-01");
        cr_assert_str_eq(R.inv->lines[3].capacity, "42");
        cr_assert_str_eq(R.inv->lines[3].allowance_used, "25");
        fini();
}

Test(segments, the_table_heads_each_segments_lines_with_its_plan_and_days)
{
        struct tl_buf t;
        struct tl_error err;
        const char *a, *b;

        tl_buf_init(&t, 0);
        catalog("    fees: [{ id: base, amount: 31 }]",
                "    fees: [{ id: base, amount: 62 }]", NULL);
        customer(CHANGE_ON("2026-10-11"), "2026-10");
        built();
        cr_assert_eq(rate_invoice_table(R.inv, &t, &err), TL_OK);
        a = strstr(t.data, "  a 2026-10-01 to 2026-10-11\n");
        b = strstr(t.data, "  b 2026-10-11 to 2026-11-01\n");
        cr_assert(a && b && a < b, "%s", t.data);
        cr_assert(strstr(a, "10.00") < b, "a's fee under a: %s", t.data);
        tl_buf_release(&t);
        fini();
}
