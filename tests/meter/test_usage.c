/* GET /v1/customers/{id}/usage: the same amounts as `tally rate` for the
   same events, and a catalog edit served within a second, no restart. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "meterkit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The "draft" of the usage answer for 'id' in 2026-10. */
static json_t *usage(int port, const char *id, int *status)
{
        static char body[1 << 20];
        char path[256];
        json_t *j;

        snprintf(path, sizeof path, "/v1/customers/%s/usage?period=2026-10",
                 id);
        *status = mk_http_get(port, path, body, sizeof body);
        j = json_loads(body, 0, NULL);
        return j;
}

Test(usage, equals_tally_rate_and_follows_catalog_edits, .timeout = 240)
{
        struct mk_case c;
        char src[512], cat[512], cust[512], rate_json[512], addr[64];
        char rules_opt[600], cust_opt[600];
        int port = mk_free_port(), status = 0;
        const char *extra[] = {"--http", addr,     "-X", rules_opt,
                               "-X",     cust_opt, NULL};
        json_t *rate, *u = NULL;
        pid_t m;

        mk_case_start(&c, "usage_api", 1, 2);
        snprintf(src, sizeof src, "%s/tests/rating/worked", tk_source_dir());
        snprintf(cat, sizeof cat, "%s/rules/catalog.yaml", c.dir);
        snprintf(cust, sizeof cust, "%s/customers.yaml", c.dir);
        snprintf(rate_json, sizeof rate_json, "%s/rate.json", c.dir);
        mk_sh("mkdir -p '%s/rules' && cp '%s/catalog.yaml' '%s/rules/'", c.dir,
              src, c.dir);
        mk_sh("cp '%s/customers.yaml' '%s'", src, cust);
        mk_sh("kcat -P -b '%s' -t usage_api -l '%s/events.jsonl'",
              c.broker.bootstrap, src);
        {
                static char cmd[8192];
                snprintf(cmd, sizeof cmd,
                         "'%s' rate --rules '%s' --customers '%s' --events "
                         "'%s/events.jsonl' --period 2026-10 > '%s' "
                         "2>/dev/null",
                         tk_tally_bin(), cat, cust, src, rate_json);
                cr_assert_eq(system(cmd), 0, "%s", cmd);
        }
        rate = json_load_file(rate_json, 0, NULL);
        cr_assert(json_is_array(rate));

        snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
        snprintf(rules_opt, sizeof rules_opt, "meter.rules=%s/rules", c.dir);
        snprintf(cust_opt, sizeof cust_opt, "meter.customers=%s", cust);
        m = mk_meter_spawn(&c, extra);
        cr_assert(mk_wait_consumed(&c, 46, 60000), "events not ingested");

        /* Every customer: the draft equals tally rate's invoice. */
        for (size_t i = 0; i < json_array_size(rate); i++) {
                json_t *want = json_array_get(rate, i);
                const char *id =
                    json_string_value(json_object_get(want, "customer"));
                json_t *got = usage(port, id, &status);
                cr_assert_eq(status, 200, "%s", id);
                cr_expect(json_equal(json_object_get(got, "draft"), want),
                          "%s: the usage API and tally rate differ", id);
                json_decref(got);
        }
        u = usage(port, "cust_0042", &status);
        cr_assert_eq(status, 200);
        cr_expect_str_eq(json_string_value(json_object_get(
                             json_object_get(u, "draft"), "total")),
                         "100.00");
        json_decref(u);

        /* Raise the platform fee, as an editor saves: write and rename. */
        mk_sh("sed 's/amount: 49.00/amount: 149.00/' '%s' > '%s.tmp' && "
              "mv '%s.tmp' '%s'",
              cat, cat, cat, cat);
        {
                long long t0 = now_ms(), took = -1;
                while (now_ms() - t0 < 5000) {
                        json_t *d;
                        const char *total;
                        u = usage(port, "cust_0042", &status);
                        d = json_object_get(u, "draft");
                        total = json_string_value(json_object_get(d, "total"));
                        if (status == 200 && total && strcmp(total, "100.00")) {
                                took = now_ms() - t0;
                                cr_expect_str_eq(total, "170.44");
                                json_decref(u);
                                break;
                        }
                        json_decref(u);
                        mk_sleep_ms(20);
                }
                fprintf(stderr, "catalog edit served after %lld ms\n", took);
                cr_expect(took >= 0 && took <= 1000,
                          "the edit took %lld ms to be served", took);
        }
        /* A broken edit changes nothing and ingest goes on. */
        mk_sh("printf 'catalog: [\\n' > '%s.tmp' && mv '%s.tmp' '%s'", cat, cat,
              cat);
        mk_sleep_ms(700);
        u = usage(port, "cust_0042", &status);
        cr_expect_eq(status, 200);
        cr_expect_str_eq(json_string_value(json_object_get(
                             json_object_get(u, "draft"), "total")),
                         "170.44");
        json_decref(u);
        u = usage(port, "nobody", &status);
        cr_expect_eq(status, 404);
        json_decref(u);
        kill(m, SIGTERM);
        cr_expect_eq(mk_wait(m, 30000), 0);
        json_decref(rate);
        mk_case_stop(&c);
}

/* Ids a hand-written envelope broke: quote, backslash, newline, control
   bytes, non-ASCII, a slash. Each answer parses as JSON and gives the id
   back, in the envelope and in the draft. */
Test(usage, hostile_customer_ids_round_trip_through_the_json, .timeout = 120)
{
        static const char *const ids[] = {
            "q\"uote",
            "back\\slash",
            "new\nline",
            "ctl\x01\x1f\x7f",
            "caf\xc3\xa9 \xe2\x82\xac",
            "tab\there",
            "sl/ash",
            "\"}],\"x\":{\"",
        };
        static char body[1 << 20];
        struct mk_case c;
        char cust[512], addr[64], cust_opt[600], rules_opt[600], path[512];
        int port = mk_free_port();
        const char *extra[] = {"--http", addr,     "-X", rules_opt,
                               "-X",     cust_opt, NULL};
        FILE *f;
        pid_t m;

        mk_case_start(&c, "usage_ids", 1, 1);
        snprintf(cust, sizeof cust, "%s/customers.yaml", c.dir);
        f = fopen(cust, "w");
        cr_assert(f);
        fputs("customers:\n", f);
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
                fputs("  - id: \"", f);
                for (const unsigned char *s = (const unsigned char *)ids[i]; *s;
                     s++)
                        if (*s == '"' || *s == '\\')
                                fprintf(f, "\\%c", *s);
                        else if (*s < 0x20 || *s == 0x7f)
                                fprintf(f, "\\x%02x", *s);
                        else
                                fputc(*s, f);
                fputs("\"\n    plan: pro\n    start: 2026-09-01\n", f);
        }
        fclose(f);
        snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
        snprintf(rules_opt, sizeof rules_opt,
                 "meter.rules=%s/tests/rating/worked/catalog.yaml",
                 tk_source_dir());
        snprintf(cust_opt, sizeof cust_opt, "meter.customers=%s", cust);
        m = mk_meter_spawn(&c, extra);
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
                size_t n =
                    (size_t)snprintf(path, sizeof path, "/v1/customers/");
                int status = -1;
                json_error_t je;
                json_t *j;

                for (const unsigned char *s = (const unsigned char *)ids[i]; *s;
                     s++)
                        n += (size_t)snprintf(path + n, sizeof path - n,
                                              "%%%02X", *s);
                snprintf(path + n, sizeof path - n, "/usage?period=2026-10");
                for (int t = 0; t < 200 && status != 200; t++) {
                        status = mk_http_get(port, path, body, sizeof body);
                        if (status != 200)
                                mk_sleep_ms(50);
                }
                cr_assert_eq(status, 200, "%s: %s", path, body);
                j = json_loads(body, 0, &je);
                cr_assert(j, "%s: not JSON (%s): %s", path, je.text, body);
                cr_assert_str_eq(
                    json_string_value(json_object_get(j, "customer_id")),
                    ids[i]);
                cr_assert_str_eq(json_string_value(json_object_get(
                                     json_object_get(j, "draft"), "customer")),
                                 ids[i]);
                cr_assert_str_eq(
                    json_string_value(json_object_get(j, "period")), "2026-10");
                json_decref(j);
        }
        kill(m, SIGTERM);
        cr_expect_eq(mk_wait(m, 30000), 0);
        mk_case_stop(&c);
}
