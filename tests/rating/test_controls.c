/* Usage controls in the catalog and the customers file: what a plan
   inherits, and a customer's effective set (plan merged with overrides). */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/time.h"
#include "rating/catalog.h"
#include "rating/controls.h"
#include "rating/customers.h"

static const char CATALOG[] =
    "catalog: t\n"
    "version: \"1\"\n"
    "effective_from: 2026-10-01\n"
    "currency: USD\n"
    "meters:\n"
    "  out: { event: inference.tokens, value: output_tokens, aggregation: sum "
    "}\n"
    "  in: { event: inference.tokens, value: input_tokens, aggregation: sum }\n"
    "plans:\n"
    "  starter:\n"
    "    fees: [ { id: base, amount: 10 } ]\n"
    "    limits:\n"
    "      out: { hard: 50000000 }\n"
    "      in: { hard: 9000 }\n"
    "    alerts:\n"
    "      - { id: spend-80, spend_at_least: 40.00 }\n"
    "      - { id: out-90, meter: out, quantity_at_least: 45000000 }\n"
    "    progressive:\n"
    "      - { id: pb-500, spend_at_least: 500.00 }\n"
    "  bigger:\n"
    "    extends: starter\n"
    "    limits:\n"
    "      out: { hard: 90000000 }\n";

static const char CUSTOMERS[] =
    "customers:\n"
    "  - id: c1\n"
    "    plan: starter\n"
    "    start: 2026-10-01\n"
    "    limits:\n"
    "      out: { hard: 70000000 }\n"
    "      in: { hard: null }\n"
    "    alerts:\n"
    "      - { id: spend-80, spend_at_least: 80.00 }\n"
    "      - { id: in-1, meter: in, quantity_at_least: 1000 }\n"
    "    wallet: { low_balance: 10.00 }\n"
    "  - id: c2\n"
    "    plan: starter\n"
    "    start: 2026-10-01\n"
    "  - id: c3\n"
    "    plan: starter\n"
    "    start: 2026-10-01\n"
    "    limits:\n"
    "      nope: { hard: 1 }\n";

static struct rate_catalog *cat;
static struct rate_customers *cs;

static void load(void)
{
        struct tl_error err = {TL_OK, ""};

        cr_assert_eq(rate_catalog_parse("c.yaml", CATALOG, strlen(CATALOG),
                                        &cat, NULL, &err),
                     TL_OK, "%s", err.msg);
        cr_assert_eq(rate_customers_parse("cu.yaml", CUSTOMERS,
                                          strlen(CUSTOMERS), &cs, NULL, &err),
                     TL_OK, "%s", err.msg);
}

static void unload(void)
{
        rate_catalog_free(&cat);
        rate_customers_free(&cs);
}

static const struct rate_plan *plan(const char *id)
{
        size_t i = rate_catalog_plan(cat, id);

        cr_assert_neq(i, RATE_NO_INDEX);
        return &cat->plans[i];
}

static void dec_is(const struct tl_dec *d, const char *want)
{
        char got[64];

        tl_dec_format(d, got, sizeof got);
        cr_expect_str_eq(got, want);
}

TestSuite(controls, .init = load, .fini = unload);

Test(controls, a_plan_holds_its_limits_alerts_and_progressive_thresholds)
{
        const struct rate_controls *c = &plan("starter")->controls;

        cr_assert_eq(c->limit_count, 2);
        cr_expect_str_eq(c->limits[0].meter_id, "out");
        cr_expect_eq(c->limits[0].meter, rate_catalog_meter(cat, "out"));
        dec_is(&c->limits[0].hard, "50000000");
        cr_assert_eq(c->alert_count, 2);
        cr_expect_not(c->alerts[0].by_quantity);
        dec_is(&c->alerts[0].at_least, "40.00");
        cr_expect(c->alerts[1].by_quantity);
        cr_expect_eq(c->alerts[1].meter, rate_catalog_meter(cat, "out"));
        cr_assert_eq(c->progressive_count, 1);
        cr_expect_str_eq(c->progressive[0].id, "pb-500");
        dec_is(&c->progressive[0].at_least, "500.00");
}

Test(controls, a_child_plan_replaces_a_key_whole_and_inherits_the_others)
{
        const struct rate_controls *c = &plan("bigger")->controls;

        cr_assert_eq(c->limit_count, 1);
        dec_is(&c->limits[0].hard, "90000000");
        cr_expect_eq(c->alert_count, 2);
        cr_expect_eq(c->progressive_count, 1);
}

Test(controls, a_customer_overrides_limits_by_meter_and_alerts_by_id)
{
        struct tl_arena arena;
        struct rate_controls e;
        struct tl_error err = {TL_OK, ""};
        const struct rate_customer *c1 = rate_customers_find(cs, "c1", 2);

        tl_arena_init(&arena, 4096, 0);
        cr_assert_eq(rate_controls_effective(cat, plan("starter"), c1, cs->path,
                                             &arena, &e, &err),
                     TL_OK, "%s", err.msg);
        /* out raised to 70M; in lifted by hard: null. */
        cr_assert_eq(e.limit_count, 1);
        cr_expect_str_eq(e.limits[0].meter_id, "out");
        cr_expect_eq(e.limits[0].meter, rate_catalog_meter(cat, "out"));
        dec_is(&e.limits[0].hard, "70000000");
        /* spend-80 at 80.00, in-1 added, out-90 kept from the plan. */
        cr_assert_eq(e.alert_count, 3);
        cr_expect_str_eq(e.alerts[0].id, "spend-80");
        dec_is(&e.alerts[0].at_least, "80.00");
        cr_expect_str_eq(e.alerts[1].id, "in-1");
        cr_expect_eq(e.alerts[1].meter, rate_catalog_meter(cat, "in"));
        cr_expect_str_eq(e.alerts[2].id, "out-90");
        cr_expect_eq(e.progressive_count, 1);
        cr_expect(e.has_low_balance);
        dec_is(&e.low_balance, "10.00");
        tl_arena_release(&arena);
}

Test(controls, a_customer_without_overrides_has_its_plans_controls)
{
        struct tl_arena arena;
        struct rate_controls e;
        struct tl_error err = {TL_OK, ""};

        tl_arena_init(&arena, 4096, 0);
        cr_assert_eq(rate_controls_effective(cat, plan("starter"),
                                             rate_customers_find(cs, "c2", 2),
                                             cs->path, &arena, &e, &err),
                     TL_OK);
        cr_expect_eq(e.limit_count, 2);
        cr_expect_eq(e.alert_count, 2);
        cr_expect_not(e.has_low_balance);
        tl_arena_release(&arena);
}

Test(controls, an_override_of_an_undefined_meter_is_named_where_written)
{
        struct tl_arena arena;
        struct rate_controls e;
        struct tl_error err = {TL_OK, ""};

        tl_arena_init(&arena, 4096, 0);
        cr_expect_eq(rate_controls_effective(cat, plan("starter"),
                                             rate_customers_find(cs, "c3", 2),
                                             "cu.yaml", &arena, &e, &err),
                     TL_EINVAL);
        cr_expect_str_eq(err.msg, "cu.yaml:19:7: customers[c3].limits: "
                                  "undefined meter 'nope'");
        tl_arena_release(&arena);
}

Test(controls, a_customers_overrides_read_back_as_stored_are_the_same)
{
        const struct rate_customer *c1 = rate_customers_find(cs, "c1", 2);
        const struct rate_controls *back = NULL;
        struct tl_error err = {TL_OK, ""};
        struct tl_arena arena;
        char *text = NULL;

        tl_arena_init(&arena, 4096, 0);
        cr_assert_eq(rate_controls_to_json(c1->controls, &text, &err), TL_OK);
        cr_expect_str_eq(text,
                         "{\"limits\": {\"out\": {\"hard\": \"70000000\"}, "
                         "\"in\": {\"hard\": null}}, \"alerts\": [{\"id\": "
                         "\"spend-80\", \"spend_at_least\": \"80.00\"}, "
                         "{\"id\": \"in-1\", \"meter\": \"in\", "
                         "\"quantity_at_least\": \"1000\"}], \"wallet\": "
                         "{\"low_balance\": \"10.00\"}}");
        cr_assert_eq(
            rate_controls_parse_json("stored", text, &arena, &back, &err),
            TL_OK, "%s", err.msg);
        cr_assert_eq(back->limit_count, 2);
        cr_expect(back->limits[1].removed);
        dec_is(&back->limits[0].hard, "70000000");
        cr_assert_eq(back->alert_count, 2);
        cr_expect_str_eq(back->alerts[1].meter_id, "in");
        dec_is(&back->alerts[1].at_least, "1000");
        dec_is(&back->low_balance, "10.00");
        free(text); /* lint: libc-free: jansson allocated it */
        tl_arena_release(&arena);
}

Test(controls, stored_overrides_that_no_longer_validate_are_refused)
{
        const struct rate_controls *back = NULL;
        struct tl_error err = {TL_OK, ""};
        struct tl_arena arena;

        tl_arena_init(&arena, 4096, 0);
        cr_expect_eq(rate_controls_parse_json(
                         "stored",
                         "{\"limits\": {\"out\": {\"hard\": \"-1\"}}}", &arena,
                         &back, &err),
                     TL_EINVAL);
        cr_expect(strstr(err.msg, "controls.limits.out.hard"), "%s", err.msg);
        tl_arena_release(&arena);
}

Test(customer_credits, grants_count_until_the_day_they_expire)
{
        static const char FILE_[] =
            "customers:\n"
            "  - id: c1\n"
            "    plan: starter\n"
            "    start: 2026-10-01\n"
            "    credits:\n"
            "      - { amount: 30.00, expires_at: 2026-10-20 }\n"
            "      - { amount: 50.00 }\n";
        struct rate_customers *f = NULL;
        struct tl_error err = {TL_OK, ""};
        struct tl_dec d;
        const struct rate_customer *c;

        cr_assert_eq(rate_customers_parse("f.yaml", FILE_, strlen(FILE_), &f,
                                          NULL, &err),
                     TL_OK, "%s", err.msg);
        c = rate_customers_find(f, "c1", 2);
        dec_is(&c->credits, "80.00");
        d = rate_customer_credit_on(c, tl_days_from_civil(2026, 10, 19));
        dec_is(&d, "80.00");
        d = rate_customer_credit_on(c, tl_days_from_civil(2026, 10, 20));
        dec_is(&d, "50.00");
        rate_customers_free(&f);
}
