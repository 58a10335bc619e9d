/* Daily rollups fed to the accumulator price exactly like the events they
   sum (what invoicing relies on), and meters that need events refuse them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "rating/catalog.h"
#include "rating/customers.h"
#include "rating/invoice.h"
#include "rating/usage.h"
#include "schemas/decode.h"

#define WORKED TK_SOURCE_DIR "/tests/rating/worked/"

/* One rollup being summed: its key and sums. */
struct roll {
        char subject[64], model[64], decoding[32];
        int type, deployment;
        int64_t day;
        struct rate_rollup r;
};

static char *slurp(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        char *buf;
        long n;

        cr_assert(f, "%s", path);
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        rewind(f);
        buf = malloc((size_t)n + 1);
        cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        buf[n] = '\0';
        *len = (size_t)n;
        return buf;
}

static void copy(char *dst, size_t size, struct sch_str s)
{
        snprintf(dst, size, "%.*s", (int)s.len, s.ptr ? s.ptr : "");
}

static struct sch_str str(const char *s)
{
        return (struct sch_str){s[0] ? s : NULL, (uint32_t)strlen(s)};
}

Test(rollup, worked_example_from_rollups_equals_from_events)
{
        struct rate_catalog *cat = NULL;
        struct rate_customers *cs = NULL;
        struct rate_acc *by_event = NULL, *by_rollup = NULL;
        struct sch_decoder *dec = NULL;
        struct sch_jsonl_reader rd;
        struct rate_period p;
        struct tl_error err;
        struct roll rolls[64];
        char seen[64][80];
        size_t nroll = 0, nseen = 0, len;
        char *events = slurp(WORKED "events.jsonl", &len);
        struct sch_event ev;

        memset(&ev, 0, sizeof ev);
        cr_assert_eq(
            rate_catalog_load_file(WORKED "catalog.yaml", &cat, NULL, &err),
            TL_OK, "%s", err.msg);
        cr_assert_eq(
            rate_customers_load_file(WORKED "customers.yaml", &cs, NULL, &err),
            TL_OK, "%s", err.msg);
        cr_assert_eq(rate_period_parse("2026-10", &p, &err), TL_OK);
        cr_assert_eq(rate_acc_new(cat, &p, &by_event, &err), TL_OK);
        cr_assert_eq(rate_acc_new(cat, &p, &by_rollup, &err), TL_OK);
        cr_assert_eq(sch_decoder_new(NULL, &dec, &err), TL_OK);
        sch_decoder_set_now(dec, p.end_us);
        sch_jsonl_reader_open(&rd, events, len);
        while (sch_jsonl_reader_more(&rd)) {
                struct sch_str raw;

                cr_assert_eq(sch_jsonl_reader_next(&rd, dec, &ev, &raw, &err),
                             TL_OK, "%s", err.msg);
                char key[80];
                bool dup = false;

                snprintf(key, sizeof key, "%.*s/%.*s", (int)ev.source.len,
                         ev.source.ptr, (int)ev.id.len, ev.id.ptr);
                for (size_t i = 0; i < nseen; i++)
                        dup = dup || !strcmp(seen[i], key);
                if (dup)
                        continue;
                snprintf(seen[nseen++], sizeof seen[0], "%s", key);
                cr_assert_eq(rate_acc_add(by_event, &ev, &err), TL_OK);
                if (!rate_catalog_rollup_ok(cat, ev.type) ||
                    ev.time_us < p.start_us || ev.time_us >= p.end_us) {
                        cr_assert_eq(rate_acc_add(by_rollup, &ev, &err), TL_OK);
                        continue;
                }
                {
                        struct roll k = {0};
                        struct roll *r = NULL;

                        copy(k.subject, sizeof k.subject, ev.subject);
                        copy(k.model, sizeof k.model, ev.model);
                        copy(k.decoding, sizeof k.decoding, ev.decoding);
                        k.type = (int)ev.type;
                        k.deployment = (int)ev.deployment;
                        k.day = ev.time_us / TL_US_PER_DAY;
                        for (size_t i = 0; i < nroll && !r; i++)
                                if (!strcmp(rolls[i].subject, k.subject) &&
                                    !strcmp(rolls[i].model, k.model) &&
                                    !strcmp(rolls[i].decoding, k.decoding) &&
                                    rolls[i].type == k.type &&
                                    rolls[i].deployment == k.deployment &&
                                    rolls[i].day == k.day)
                                        r = &rolls[i];
                        if (!r) {
                                cr_assert_lt(nroll, 64);
                                r = &rolls[nroll++];
                                *r = k;
                        }
                        r->r.events++;
                        r->r.input_tokens += ev.input_tokens;
                        r->r.output_tokens += ev.output_tokens;
                        r->r.cached_input_tokens += ev.cached_input_tokens;
                        r->r.iterations += ev.iterations;
                        r->r.tokens += ev.tokens;
                        r->r.mac += ev.mac;
                }
        }
        cr_assert_gt(nroll, 5, "the example has rollable usage");
        for (size_t i = 0; i < nroll; i++) {
                struct sch_event a;

                memset(&a, 0, sizeof a);
                a.subject = str(rolls[i].subject);
                a.model = str(rolls[i].model);
                a.decoding = str(rolls[i].decoding);
                a.type = (sch_event_type)rolls[i].type;
                a.deployment = (sch_deployment)rolls[i].deployment;
                a.time_us = rolls[i].day * TL_US_PER_DAY;
                cr_assert_eq(
                    rate_acc_add_rollup(by_rollup, &a, &rolls[i].r, &err),
                    TL_OK, "%s", err.msg);
        }
        for (size_t i = 0; i < cs->count; i++) {
                const struct rate_customer *c = &cs->items[i];
                struct rate_invoice *x = NULL, *y = NULL;
                struct tl_buf a, b;

                tl_buf_init(&a, 0);
                tl_buf_init(&b, 0);
                cr_assert_eq(rate_invoice_build(cat, cs, c, by_event,
                                                rate_acc_find(by_event, c->id),
                                                &x, &err),
                             TL_OK, "%s", err.msg);
                cr_assert_eq(rate_invoice_build(cat, cs, c, by_rollup,
                                                rate_acc_find(by_rollup, c->id),
                                                &y, &err),
                             TL_OK, "%s", err.msg);
                rate_invoice_json(x, &a, &err);
                rate_invoice_json(y, &b, &err);
                cr_assert_str_eq(a.data, b.data, "%s", c->id);
                cr_assert(strstr(a.data, "\"total\":\""), "%s", a.data);
                tl_buf_release(&a);
                tl_buf_release(&b);
                rate_invoice_free(&x);
                rate_invoice_free(&y);
        }
        sch_decoder_free(&dec);
        rate_acc_free(&by_event);
        rate_acc_free(&by_rollup);
        rate_customers_free(&cs);
        rate_catalog_free(&cat);
        free(events);
}

static const char CATALOG[] =
    "catalog: t\nversion: \"1\"\neffective_from: 2020-01-01\n"
    "currency: USD\n"
    "meters:\n"
    "  calls: { event: inference.tokens, aggregation: count }\n"
    "  peak: { event: inference.iterations, value: iterations,\n"
    "          aggregation: max }\n"
    "plans:\n"
    "  p:\n"
    "    name: P\n"
    "    charges:\n"
    "      - { id: calls, name: Calls, meter: calls, model: per_unit,\n"
    "          price: 0.01 }\n";

Test(rollup, count_meters_count_events_and_max_meters_refuse_rollups)
{
        struct rate_catalog *cat = NULL;
        struct rate_acc *acc = NULL;
        struct rate_period p;
        struct tl_error err;
        struct rate_rollup r = {.events = 7, .output_tokens = 100};
        struct sch_event a;
        const struct rate_group_usage *g;

        cr_assert_eq(rate_catalog_parse("t.yaml", CATALOG, sizeof CATALOG - 1,
                                        &cat, NULL, &err),
                     TL_OK, "%s", err.msg);
        cr_assert(rate_catalog_rollup_ok(cat, SCH_TYPE_TOKENS));
        cr_assert_not(rate_catalog_rollup_ok(cat, SCH_TYPE_ITERATIONS));
        cr_assert_not(rate_catalog_rollup_ok(cat, SCH_TYPE_SEAT));
        cr_assert_eq(rate_period_parse("2026-10", &p, &err), TL_OK);
        cr_assert_eq(rate_acc_new(cat, &p, &acc, &err), TL_OK);
        memset(&a, 0, sizeof a);
        a.subject = str("c1");
        a.type = SCH_TYPE_TOKENS;
        a.deployment = SCH_DEPLOY_CLOUD;
        a.time_us = p.start_us;
        cr_assert_eq(rate_acc_add_rollup(acc, &a, &r, &err), TL_OK);
        cr_assert_eq(rate_acc_add_rollup(acc, &a, &r, &err), TL_OK);
        cr_assert_eq(rate_acc_groups(acc, rate_acc_find(acc, "c1"), 0, &g), 1);
        cr_assert(g[0].quantity == 14, "count: events of both rollups");
        a.type = SCH_TYPE_ITERATIONS;
        cr_assert_eq(rate_acc_add_rollup(acc, &a, &r, &err), TL_EINVAL);
        cr_assert(strstr(err.msg, "meter peak") &&
                      strstr(err.msg, "needs the events"),
                  "%s", err.msg);
        rate_acc_free(&acc);
        rate_catalog_free(&cat);
}
