/* Capacity licences (included_per_seat) by hand-computed examples: the
   allowance grows with each class's seat-days / the period's days, exact,
   and each line is rounded once, in USD, JPY and KWD. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rating/catalog.h"
#include "rating/customers.h"
#include "rating/invoice.h"
#include "rating/reload.h"
#include "rating/usage.h"
#include "schemas/decode.h"
#include "testkit.h"

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
        memset(&R, 0, sizeof R);
}

/* Currency 'cur'; meter 'local' (device output tokens), seat meter
   'devices'; plan 'p' is 'plan_body'. */
static void catalog(const char *cur, const char *plan_body)
{
        char yaml[4096];
        struct rate_diags d;
        struct tl_error err;

        snprintf(yaml, sizeof yaml,
                 "catalog: t\nversion: \"1\"\neffective_from: 2020-01-01\n"
                 "currency: %s\n"
                 "meters:\n"
                 "  local: { event: inference.tokens, value: output_tokens,\n"
                 "           aggregation: sum, filter: { deployment: device "
                 "} }\n"
                 "  devices: { event: device.seat, aggregation: seats }\n"
                 "plans:\n"
                 "  p:\n%s\n",
                 cur, plan_body);
        memset(&d, 0, sizeof d);
        cr_assert_eq(
            rate_catalog_parse("t.yaml", yaml, strlen(yaml), &R.cat, &d, &err),
            TL_OK, "%s\n%s", err.msg, yaml);
        cr_assert_eq(sch_decoder_new(NULL, &R.dec, NULL), TL_OK);
        cr_assert_eq(
            rate_customers_parse(
                "c.yaml",
                "customers:\n  - { id: c, plan: p, start: 2020-01-01 }\n",
                strlen("customers:\n  - { id: c, plan: p, start: "
                       "2020-01-01 }\n"),
                &R.cs, NULL, &err),
            TL_OK, "%s", err.msg);
        cr_assert_eq(rate_period_parse("2026-10", &R.period, &err), TL_OK);
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

static void local_tokens(unsigned long long n, const char *time)
{
        char json[512];

        snprintf(json, sizeof json,
                 "{\"specversion\":\"1.0\",\"id\":\"e%d\",\"source\":\"s\","
                 "\"type\":\"inference.tokens\",\"subject\":\"c\","
                 "\"time\":\"%s\",\"data\":{\"model\":\"m\","
                 "\"deployment\":\"device\",\"decoding\":\"autoregressive\","
                 "\"input_tokens\":0,"
                 "\"output_tokens\":%llu}}",
                 R.seq++, time, n);
        event(json);
}

static void seat(const char *device, const char *action, const char *cls,
                 const char *time)
{
        char json[512];

        snprintf(json, sizeof json,
                 "{\"specversion\":\"1.0\",\"id\":\"s%d\",\"source\":\"d\","
                 "\"type\":\"device.seat\",\"subject\":\"c\",\"time\":\"%s\","
                 "\"data\":{\"device_id\":\"%s\",\"action\":\"%s\","
                 "\"model_class\":\"%s\"}}",
                 R.seq++, time, device, action, cls);
        event(json);
}

/*
** The fleet of every case, October 2026 (31 days):
**  a small, activated in September, never deactivated: 31 days
**  b small, activated 17 Oct 10:00: days 17..31 = 15 days
**  c large, activated 1 Oct, deactivated 11 Oct 00:00: days 1..10 = 10
**  d large, activated in November: nothing
** so small has 46 seat-days and large 10.
*/
static void fleet(void)
{
        seat("a", "activate", "small", "2026-09-15T08:00:00Z");
        seat("b", "activate", "small", "2026-10-17T10:00:00Z");
        seat("c", "activate", "large", "2026-10-01T00:00:00Z");
        seat("c", "deactivate", "large", "2026-10-11T00:00:00Z");
        seat("d", "activate", "large", "2026-11-01T00:00:00Z");
}

static const struct rate_line *line(rate_line_kind kind, const char *ref)
{
        struct tl_error err;

        if (!R.inv)
                cr_assert_eq(
                    rate_invoice_build(R.cat, R.cs, &R.cs->items[0], R.acc,
                                       rate_acc_find(R.acc, "c"), &R.inv, &err),
                    TL_OK, "%s", err.msg);
        for (size_t i = 0; i < R.inv->line_count; i++)
                if (R.inv->lines[i].kind == kind &&
                    strcmp(R.inv->lines[i].ref, ref) == 0)
                        return &R.inv->lines[i];
        cr_assert_fail("no %s line %s", rate_line_kind_name(kind), ref);
        return NULL;
}

static void amount_is(rate_line_kind kind, const char *ref, const char *want)
{
        char got[TL_DEC_STR_MAX];

        tl_dec_format(&line(kind, ref)->amount, got, sizeof got);
        cr_assert_str_eq(got, want, "%s %s", rate_line_kind_name(kind), ref);
}

/* The usage line of 'ref': its quantity, allowance used and capacity. */
static void shown_is(const char *ref, const char *qty, const char *used,
                     const char *cap)
{
        const struct rate_line *l = line(RATE_LINE_USAGE, ref);

        cr_assert_str_eq(l->quantity, qty, "%s quantity", ref);
        cr_assert_str_eq(l->allowance_used, used, "%s allowance_used", ref);
        cr_assert_str_eq(l->capacity, cap, "%s capacity", ref);
}

/*
** Scalar: 1,000,000 tokens per seat-month for every class; 56 seat-days
** bring 56,000,000 / 31 = 1,806,451.6129... tokens. Usage 5,000,000:
** q = 99,000,000 / 31 = 3,193,548.3870...; at P per 1,000,000 the line is
** 99 P / 31: USD 0.30 -> 29.7/31 = 0.958 -> 0.96; JPY 45 -> 4455/31 =
** 143.71 -> 144; KWD 0.095 -> 9.405/31 = 0.30338 -> 0.303. Rounding q
** first (3,193,548.39 x 0.30 / 10^6) would still give 0.96, but the JPY
** seat line below tells exact from early rounding.
*/
static void scalar_case(const char *cur, const char *price, const char *small,
                        const char *large)
{
        char body[1024];

        snprintf(body, sizeof body,
                 "    seats: { meter: devices, prices: { small: %s, large: %s "
                 "} }\n"
                 "    charges:\n"
                 "      - { id: local, meter: local, unit: 1000000,\n"
                 "          included_per_seat: 1000000, model: per_unit,\n"
                 "          price: %s }\n",
                 small, large, price);
        catalog(cur, body);
        fleet();
        local_tokens(3000000, "2026-10-03T00:00:00Z");
        local_tokens(2000000, "2026-10-20T00:00:00Z");
}

Test(capacity, a_scalar_allowance_counts_every_class_by_seat_days_in_usd)
{
        scalar_case("USD", "0.30", "4", "9");
        shown_is("local", "3193548.3871", "1806451.6129", "1806451.6129");
        amount_is(RATE_LINE_USAGE, "local", "0.96");
        /* 46/31 x 4 = 5.9354..., 10/31 x 9 = 2.9032... */
        amount_is(RATE_LINE_SEAT, "small", "5.94");
        amount_is(RATE_LINE_SEAT, "large", "2.90");
        fini();
}

Test(capacity, a_scalar_allowance_rounds_once_per_line_in_jpy)
{
        scalar_case("JPY", "45", "600", "1350");
        amount_is(RATE_LINE_USAGE, "local", "144");
        /* 46 x 600 / 31 = 890.32; 10 x 1350 / 31 = 435.48 */
        amount_is(RATE_LINE_SEAT, "small", "890");
        amount_is(RATE_LINE_SEAT, "large", "435");
        fini();
}

Test(capacity, a_scalar_allowance_rounds_once_per_line_in_kwd)
{
        scalar_case("KWD", "0.095", "1.25", "2.8");
        amount_is(RATE_LINE_USAGE, "local", "0.303");
        /* 46 x 1.25 / 31 = 1.85483...; 10 x 2.8 / 31 = 0.903225... */
        amount_is(RATE_LINE_SEAT, "small", "1.855");
        amount_is(RATE_LINE_SEAT, "large", "0.903");
        fini();
}

/*
** Per class, with `included` and graduated tiers: 500,000 + 46 x
** 1,000,000 / 31 + 10 x 4,000,000 / 31 = 101,500,000 / 31 =
** 3,274,193.548387...; usage 5,000,000 leaves q = 53,500,000 / 31 =
** 1,725,806.4516...: the first 1,000,000 at P1, the other 22,500,000 / 31
** at P2 (per 1,000,000). USD 0.50 / 0.20: 0.5 + 4.5/31 = 0.64516 -> 0.65.
** JPY 70 / 33: 70 + 742.5/31 = 93.9516 -> 94. KWD 0.150 / 0.0625: 0.15 +
** 1.40625/31 = 0.195362... -> 0.195.
*/
static void class_case(const char *cur, const char *p1, const char *p2)
{
        char body[1024];

        snprintf(body, sizeof body,
                 "    seats: { meter: devices, prices: { small: 1, large: 1 } "
                 "}\n"
                 "    charges:\n"
                 "      - id: local\n"
                 "        meter: local\n"
                 "        unit: 1000000\n"
                 "        included: 500000\n"
                 "        included_per_seat: { small: 1000000, large: "
                 "4000000 }\n"
                 "        model: graduated\n"
                 "        tiers: [{ up_to: 1000000, price: %s },\n"
                 "                { up_to: null, price: %s }]\n",
                 p1, p2);
        catalog(cur, body);
        fleet();
        local_tokens(5000000, "2026-10-25T00:00:00Z");
}

Test(capacity, per_class_allowances_add_to_included_in_usd)
{
        class_case("USD", "0.50", "0.20");
        shown_is("local", "1725806.4516", "3274193.5484", "3274193.5484");
        amount_is(RATE_LINE_USAGE, "local", "0.65");
        fini();
}

Test(capacity, per_class_allowances_add_to_included_in_jpy)
{
        class_case("JPY", "70", "33");
        amount_is(RATE_LINE_USAGE, "local", "94");
        fini();
}

Test(capacity, per_class_allowances_add_to_included_in_kwd)
{
        class_case("KWD", "0.150", "0.0625");
        amount_is(RATE_LINE_USAGE, "local", "0.195");
        fini();
}

/* Usage under the capacity uses only what it needs, and costs nothing. */
Test(capacity, usage_within_the_capacity_is_free_and_shows_what_it_used)
{
        catalog("USD",
                "    seats: { meter: devices, prices: { small: 1, large: 1 } "
                "}\n"
                "    charges:\n"
                "      - { id: local, meter: local, unit: 1000000,\n"
                "          included_per_seat: { large: 3100000 },\n"
                "          model: per_unit, price: 7 }\n");
        fleet();
        local_tokens(400000, "2026-10-02T00:00:00Z");
        /* Only large counts: 10 x 3,100,000 / 31 = 1,000,000 exactly. */
        shown_is("local", "0", "400000", "1000000");
        amount_is(RATE_LINE_USAGE, "local", "0.00");
        fini();
}

/*
** A device that moves between classes and comes back: each activity
** counts for the class that activated it, a day once per class. e: small
** 1..5 (deactivated 5 Oct 12:00, so day 5 counts), large from 5 Oct
** 18:00 to 8 Oct 00:00 (days 5, 6, 7): small 5, large 3 seat-days.
** Allowance 31,000 x 5 / 31 + 62,000 x 3 / 31 = 5,000 + 6,000 = 11,000
** exactly; usage 12,345 -> q 1,345 at 0.01 per 1 = 13.45 (USD).
*/
Test(capacity, a_device_changing_class_brings_each_class_its_days)
{
        catalog("USD",
                "    seats: { meter: devices, prices: { small: 1, large: 1 } "
                "}\n"
                "    charges:\n"
                "      - { id: local, meter: local, included_per_seat:\n"
                "          { small: 31000, large: 62000 },\n"
                "          model: per_unit, price: 0.01 }\n");
        seat("e", "activate", "small", "2026-10-01T00:00:00Z");
        seat("e", "deactivate", "small", "2026-10-05T12:00:00Z");
        seat("e", "activate", "large", "2026-10-05T18:00:00Z");
        seat("e", "deactivate", "large", "2026-10-08T00:00:00Z");
        local_tokens(12345, "2026-10-06T00:00:00Z");
        shown_is("local", "1345", "11000", "11000");
        amount_is(RATE_LINE_USAGE, "local", "13.45");
        fini();
}

/* No seats at all: the allowance is `included` alone. */
Test(capacity, without_seats_the_allowance_is_included_alone)
{
        catalog("JPY", "    seats: { meter: devices, prices: { small: 1 } }\n"
                       "    charges:\n"
                       "      - { id: local, meter: local, included: 100,\n"
                       "          included_per_seat: 1000, model: per_unit, "
                       "price: 3 }\n");
        local_tokens(250, "2026-10-06T00:00:00Z");
        shown_is("local", "150", "100", "100");
        amount_is(RATE_LINE_USAGE, "local", "450");
        fini();
}

/* The JSON line states both; a charge without the key has neither. */
Test(capacity, the_json_line_states_allowance_used_and_capacity)
{
        struct tl_buf b;
        struct tl_error err;

        catalog("USD",
                "    seats: { meter: devices, prices: { small: 4, large: 9 } "
                "}\n"
                "    charges:\n"
                "      - { id: local, meter: local, included_per_seat: 10,\n"
                "          model: per_unit, price: 1 }\n"
                "      - { id: plain, meter: local, included: 10,\n"
                "          model: per_unit, price: 1 }\n");
        fleet();
        local_tokens(100, "2026-10-06T00:00:00Z");
        line(RATE_LINE_USAGE, "local");
        tl_buf_init(&b, 0);
        cr_assert_eq(rate_invoice_json(R.inv, &b, &err), TL_OK, "%s", err.msg);
        /* 56 x 10 / 31 = 18.0645...: 81.9355 billable. */
        cr_assert(strstr(b.data,
                         "\"charge\":\"local\",\"quantity\":\"81.9355\","
                         "\"allowance_used\":\"18.0645\","
                         "\"capacity\":\"18.0645\",\"unit\":\"1\""),
                  "%s", b.data);
        cr_assert(strstr(b.data, "\"charge\":\"plain\",\"quantity\":\"90\","
                                 "\"unit\":\"1\""),
                  "%s", b.data);
        amount_is(RATE_LINE_USAGE, "local", "81.94");
        tl_buf_release(&b);
        fini();
}

/* extends merges the key like any other: a child may replace it, and one
   that switches the model keeps it. */
Test(capacity, extends_inherits_and_overrides_the_allowance_per_seat)
{
        struct rate_catalog *cat = NULL;
        struct tl_error err;
        const struct rate_charge *ch;
        char t[TL_DEC_STR_MAX], path[1024];

        snprintf(path, sizeof path,
                 "%s/tests/rating/catalogs/good/capacity.yaml",
                 tk_source_dir());
        cr_assert_eq(rate_catalog_load_file(path, &cat, NULL, &err), TL_OK,
                     "%s", err.msg);
        ch = &cat->plans[rate_catalog_plan(cat, "licence-flat")].charges[0];
        cr_assert(ch->per_seat);
        cr_assert_eq(ch->per_seat_count, 0);
        tl_dec_format(&ch->per_seat_every, t, sizeof t);
        cr_assert_str_eq(t, "2000000");
        ch = &cat->plans[rate_catalog_plan(cat, "licence-tiers")].charges[0];
        cr_assert_eq(ch->model, RATE_MODEL_GRADUATED);
        cr_assert_eq(ch->per_seat_count, 2);
        cr_assert_str_eq(ch->per_seat_classes[0].model_class, "large");
        tl_dec_format(&ch->per_seat_classes[0].quantity, t, sizeof t);
        cr_assert_str_eq(t, "5000000");
        cr_assert_str_eq(ch->per_seat_classes[1].model_class, "small");
        rate_catalog_free(&cat);
}

/* A catalog file whose charge has included_per_seat 'per_seat' (text). */
static void write_licence(const char *path, const char *per_seat)
{
        char tmp[600];
        FILE *f;

        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        f = fopen(tmp, "w");
        cr_assert(f, "%s", tmp);
        fprintf(f,
                "catalog: t\nversion: \"1\"\neffective_from: 2020-01-01\n"
                "currency: USD\nmeters:\n"
                "  local: { event: inference.tokens, value: output_tokens,\n"
                "           aggregation: sum }\n"
                "  devices: { event: device.seat, aggregation: seats }\n"
                "plans:\n  p:\n"
                "    seats: { meter: devices, prices: { small: 4 } }\n"
                "    charges:\n"
                "      - { id: local, meter: local, model: per_unit, price: "
                "1,\n"
                "          included_per_seat: %s }\n",
                per_seat);
        cr_assert_eq(fclose(f), 0);
        cr_assert_eq(rename(tmp, path), 0);
}

/* The scalar allowance the reloader serves, as text ("" if none). */
static void serving(struct rate_reloader *r, char *out, size_t size)
{
        const struct rate_catalog_set *s = rate_reloader_acquire(r);
        const struct rate_charge *ch = &s->catalogs[0]->plans[0].charges[0];

        tl_dec_format(&ch->per_seat_every, out, size);
        rate_reloader_release(r, s);
}

static bool wait_serving(struct rate_reloader *r, const char *want)
{
        char got[TL_DEC_STR_MAX];

        for (int i = 0; i < 2500; i++) {
                serving(r, got, sizeof got);
                if (!strcmp(got, want))
                        return true;
                nanosleep(&(struct timespec){0, 2000000}, NULL);
        }
        return false;
}

/* Pricing people change the allowance in place: it serves without a
   restart, and a broken edit leaves the last good one serving. */
Test(capacity, the_allowance_per_seat_is_hot_reloaded_and_a_bad_edit_refused)
{
        char dir[] = "/tmp/tally-capacity-XXXXXX", path[600];
        struct rate_reloader *r = NULL;
        struct rate_reload_stats st;
        struct tl_error err;
        char got[TL_DEC_STR_MAX];

        cr_assert(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/catalog.yaml", dir);
        write_licence(path, "1000");
        cr_assert_eq(rate_reloader_new(dir, 20, &r, NULL, &err), TL_OK, "%s",
                     err.msg);
        serving(r, got, sizeof got);
        cr_assert_str_eq(got, "1000");
        write_licence(path, "2500");
        cr_assert(wait_serving(r, "2500"));
        write_licence(path, "{ large: 10 }");
        for (int i = 0; i < 2500; i++) {
                rate_reloader_stats(r, &st);
                if (st.failures)
                        break;
                nanosleep(&(struct timespec){0, 2000000}, NULL);
        }
        cr_assert_eq(st.failures, 1);
        cr_assert(strstr(st.last_error, "unknown model_class 'large'"), "%s",
                  st.last_error);
        serving(r, got, sizeof got);
        cr_assert_str_eq(got, "2500");
        rate_reloader_free(&r);
        unlink(path);
        rmdir(dir);
}
