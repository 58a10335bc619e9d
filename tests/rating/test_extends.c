/* `extends`: a child charge that names another model drops the base's
   model-specific keys and keeps the rest (docs/pricing-rules.md). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rating/catalog.h"

#define HEAD                                                                   \
        "catalog: t\n"                                                         \
        "version: \"1\"\n"                                                     \
        "effective_from: 2026-10-01\n"                                         \
        "currency: USD\n"                                                      \
        "meters:\n"                                                            \
        "  out: { event: inference.tokens, value: output_tokens, "             \
        "aggregation: sum, group_by: [decoding] }\n"                           \
        "plans:\n"

/* Each model with the keys it needs, written as a flow map's tail. */
static const struct {
        const char *name;
        rate_model model;
        const char *keys;
} MODELS[] = {
    {"per_unit", RATE_MODEL_PER_UNIT, "price: 0.25"},
    {"graduated", RATE_MODEL_GRADUATED,
     "tiers: [{ up_to: 10, price: 3 }, { up_to: null, price: 2 }]"},
    {"volume", RATE_MODEL_VOLUME,
     "tiers: [{ up_to: 100, price: 5 }, { up_to: null, price: 4 }]"},
    {"package", RATE_MODEL_PACKAGE, "size: 1000, price: 7"},
    {"flat", RATE_MODEL_FLAT, "price: 9.5"},
};
#define N_MODELS (sizeof MODELS / sizeof *MODELS)

static bool dec_is(const struct tl_dec *d, const char *text)
{
        struct tl_dec want;

        return tl_dec_parse(text, strlen(text), &want, NULL) == TL_OK &&
               tl_dec_cmp(d, &want) == 0;
}

/* The charge as model 'i' defines it; 'tag' tells base from child. */
static void expect_model_keys(const struct rate_charge *c, size_t i,
                              const char *tag)
{
        cr_assert_eq(c->model, MODELS[i].model, "%s: %s", tag, MODELS[i].name);
        switch (c->model) {
        case RATE_MODEL_PER_UNIT:
                cr_assert(dec_is(&c->price, "0.25"), "%s", tag);
                break;
        case RATE_MODEL_GRADUATED:
                cr_assert_eq(c->tier_count, 2, "%s", tag);
                cr_assert(dec_is(&c->tiers[0].up_to, "10"), "%s", tag);
                cr_assert(dec_is(&c->tiers[1].price, "2"), "%s", tag);
                break;
        case RATE_MODEL_VOLUME:
                cr_assert_eq(c->tier_count, 2, "%s", tag);
                cr_assert(dec_is(&c->tiers[0].up_to, "100"), "%s", tag);
                cr_assert(dec_is(&c->tiers[1].price, "4"), "%s", tag);
                break;
        case RATE_MODEL_PACKAGE:
                cr_assert(dec_is(&c->size, "1000"), "%s", tag);
                cr_assert(dec_is(&c->price, "7"), "%s", tag);
                break;
        case RATE_MODEL_FLAT:
                cr_assert(dec_is(&c->price, "9.5"), "%s", tag);
                break;
        }
        if (c->model != RATE_MODEL_GRADUATED && c->model != RATE_MODEL_VOLUME)
                cr_assert_eq(c->tier_count, 0, "%s: tiers inherited", tag);
}

/* What the child inherits whatever its model. */
static void expect_common_keys(const struct rate_charge *c, const char *tag)
{
        cr_assert_str_eq(c->name, "Output", "%s", tag);
        cr_assert(dec_is(&c->unit, "1000"), "%s", tag);
        cr_assert(dec_is(&c->included, "50"), "%s", tag);
        cr_assert_eq(c->weight_count, 1, "%s", tag);
        cr_assert(dec_is(&c->weights[0].factor, "0.5"), "%s", tag);
}

Test(extends, a_child_charge_switches_between_every_pair_of_models)
{
        for (size_t b = 0; b < N_MODELS; b++)
                for (size_t k = 0; k < N_MODELS; k++) {
                        char text[2048], tag[64];
                        struct rate_catalog *cat = NULL;
                        struct tl_error err = {TL_OK, ""};
                        const struct rate_plan *base, *child;

                        snprintf(text, sizeof text,
                                 HEAD "  base:\n"
                                      "    charges:\n"
                                      "      - { id: out, name: Output, "
                                      "meter: out, unit: 1000, included: 50,\n"
                                      "          weights: { decoding: { "
                                      "diffusion: 0.5 } },\n"
                                      "          model: %s, %s }\n"
                                      "  child:\n"
                                      "    extends: base\n"
                                      "    charges:\n"
                                      "      - { id: out, model: %s, %s }\n",
                                 MODELS[b].name, MODELS[b].keys, MODELS[k].name,
                                 MODELS[k].keys);
                        snprintf(tag, sizeof tag, "%s -> %s", MODELS[b].name,
                                 MODELS[k].name);
                        cr_assert_eq(rate_catalog_parse("t.yaml", text,
                                                        strlen(text), &cat,
                                                        NULL, &err),
                                     TL_OK, "%s: %s", tag, err.msg);
                        base = &cat->plans[rate_catalog_plan(cat, "base")];
                        child = &cat->plans[rate_catalog_plan(cat, "child")];
                        cr_assert_eq(child->charge_count, 1, "%s", tag);
                        expect_model_keys(&base->charges[0], b, tag);
                        expect_model_keys(&child->charges[0], k, tag);
                        expect_common_keys(&base->charges[0], tag);
                        expect_common_keys(&child->charges[0], tag);
                        rate_catalog_free(&cat);
                }
}

/* The review's case: volume tiers overridden by a per-unit price. */
Test(extends, volume_charge_becomes_per_unit_in_the_child)
{
        const char *text =
            HEAD "  base:\n"
                 "    charges:\n"
                 "      - id: out\n"
                 "        meter: out\n"
                 "        model: volume\n"
                 "        tiers:\n"
                 "          - { up_to: 100, price: 5 }\n"
                 "          - { up_to: null, price: 4 }\n"
                 "  child:\n"
                 "    extends: base\n"
                 "    charges:\n"
                 "      - { id: out, model: per_unit, price: 0.3 }\n";
        struct rate_catalog *cat = NULL;
        struct tl_error err = {TL_OK, ""};
        const struct rate_charge *c;

        cr_assert_eq(
            rate_catalog_parse("t.yaml", text, strlen(text), &cat, NULL, &err),
            TL_OK, "%s", err.msg);
        c = &cat->plans[rate_catalog_plan(cat, "child")].charges[0];
        cr_assert_eq(c->model, RATE_MODEL_PER_UNIT);
        cr_assert(dec_is(&c->price, "0.3"));
        cr_assert_eq(c->tier_count, 0);
        cr_assert_eq(c->meter, 0);
        rate_catalog_free(&cat);
}

/* A switched charge that misses its new model's key is the child's fault,
   and the message says where the child wrote it. */
Test(extends, a_switched_charge_missing_its_key_is_reported_in_the_child)
{
        const char *text =
            HEAD "  base:\n"
                 "    charges:\n"
                 "      - { id: out, meter: out, model: package, size: 10, "
                 "price: 1 }\n"
                 "  child:\n"
                 "    extends: base\n"
                 "    charges:\n"
                 "      - { id: out, model: graduated }\n";
        struct rate_catalog *cat = NULL;
        struct rate_diags *d = calloc(1, sizeof *d);
        struct tl_error err = {TL_OK, ""};

        cr_assert_not_null(d);
        cr_assert_eq(
            rate_catalog_parse("t.yaml", text, strlen(text), &cat, d, &err),
            TL_EINVAL);
        cr_assert_eq(d->count, 1, "%s", d->msg[0]);
        cr_assert_str_eq(d->msg[0],
                         "t.yaml:14:9: plans.child.charges.out: missing "
                         "required key 'tiers' (model graduated)");
        free(d);
}

/* The same model keeps merging key by key: a child may set only a price. */
Test(extends, the_same_model_still_inherits_what_the_child_leaves_out)
{
        const char *text =
            HEAD "  base:\n"
                 "    charges:\n"
                 "      - { id: out, meter: out, model: package, size: 10, "
                 "price: 1 }\n"
                 "  child:\n"
                 "    extends: base\n"
                 "    charges:\n"
                 "      - { id: out, model: package, price: 2 }\n"
                 "  other:\n"
                 "    extends: base\n"
                 "    charges:\n"
                 "      - { id: out, price: 3 }\n";
        struct rate_catalog *cat = NULL;
        struct tl_error err = {TL_OK, ""};
        const struct rate_charge *c;

        cr_assert_eq(
            rate_catalog_parse("t.yaml", text, strlen(text), &cat, NULL, &err),
            TL_OK, "%s", err.msg);
        c = &cat->plans[rate_catalog_plan(cat, "child")].charges[0];
        cr_assert(dec_is(&c->size, "10"));
        cr_assert(dec_is(&c->price, "2"));
        c = &cat->plans[rate_catalog_plan(cat, "other")].charges[0];
        cr_assert(dec_is(&c->size, "10"));
        cr_assert(dec_is(&c->price, "3"));
        rate_catalog_free(&cat);
}
