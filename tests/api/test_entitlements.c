/* Entitlements and crossings against a real meter, serve and PostgreSQL:
   an event the meter committed shows within 1 s, scopes, a hard limit
   refuses, and each crossing is one outbox row (controls.md). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "meterkit.h"
#include "serve_kit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

static int64_t now_ms(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static long scalar_long(PGconn *db, const char *sql)
{
        char *v = tk_scalar(db, sql);
        long n = v ? strtol(v, NULL, 10) : -1;

        free(v);
        return n;
}

/* cust_L: a hard limit of 5,000,000 cloud output tokens, an alert at
   3,000,000, and two alerts never reached; cust_M: no controls. */
static void customers(struct mk_case *c, char *path, size_t cap)
{
        FILE *f;

        snprintf(path, cap, "%s/controls-customers.yaml", c->dir);
        f = fopen(path, "w");
        cr_assert_not_null(f);
        fputs("customers:\n"
              "  - id: cust_L\n    name: Limited\n    plan: pro\n"
              "    start: 2026-10-01\n"
              "    limits:\n      cloud-output: { hard: 5000000 }\n"
              "    alerts:\n"
              "      - { id: out-3, meter: cloud-output, "
              "quantity_at_least: 3000000 }\n"
              "      - { id: out-9, meter: cloud-output, "
              "quantity_at_least: 9000000 }\n"
              "      - { id: spend-big, spend_at_least: 100000.00 }\n"
              "  - id: cust_M\n    name: Other\n    plan: pro\n"
              "    start: 2026-10-01\n",
              f);
        fclose(f);
}

/* 'n' events of 1,000,000 cloud output tokens for 'who', now. */
static void produce(struct mk_case *c, const char *who, int from, int n)
{
        char path[300], when[40];
        time_t t = time(NULL);
        FILE *f;

        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
        snprintf(path, sizeof path, "%s/ev-%d.jsonl", c->dir, from);
        f = fopen(path, "w");
        cr_assert_not_null(f);
        for (int i = from; i < from + n; i++)
                fprintf(f,
                        "{\"specversion\":\"1.0\",\"id\":\"e-%d\",\"source\":"
                        "\"gw\",\"type\":\"inference.tokens\",\"subject\":"
                        "\"%s\",\"time\":\"%s\",\"data\":{\"model\":"
                        "\"coder-7b\",\"deployment\":\"cloud\",\"decoding\":"
                        "\"autoregressive\",\"input_tokens\":0,"
                        "\"output_tokens\":1000000}}\n",
                        i, who, when);
        fclose(f);
        mk_sh("kcat -P -b '%s' -t '%s' -l '%s'", c->broker.bootstrap, c->name,
              path);
}

/* GET the entitlements of 'id' with 'key': the status, '*doc' the body. */
static int get(struct sk_serve *s, const char *id, const char *key,
               json_t **doc)
{
        char path[200], h[300];
        struct tk_http_resp r;
        int got;

        snprintf(path, sizeof path, "/v1/customers/%s/entitlements", id);
        snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", key);
        got = tk_http("127.0.0.1", s->port, "GET", path, h, "", 0, &r);
        *doc = json_loads(r.body ? r.body : "", 0, NULL);
        tk_http_resp_release(&r);
        return got;
}

static const char *used_of(json_t *doc)
{
        return json_string_value(json_object_get(
            json_object_get(json_object_get(doc, "meters"), "cloud-output"),
            "used"));
}

/* Wait until the meter committed 'events' events of cust_L, then the
   entitlement must say 'used' within 1 s. */
static json_t *fresh(struct sk_serve *s, struct mk_case *c, const char *key,
                     long events, const char *used)
{
        json_t *doc = NULL;
        int64_t end = now_ms() + 60000, seen;

        while (scalar_long(c->db, "SELECT count(*) FROM events WHERE "
                                  "customer_id = 'cust_L'") < events &&
               now_ms() < end)
                mk_sleep_ms(20);
        seen = now_ms();
        cr_assert_lt(seen, end, "the meter never committed %ld events", events);
        for (;;) {
                json_decref(doc);
                cr_assert_eq(get(s, "cust_L", key, &doc), 200);
                if (used_of(doc) && !strcmp(used_of(doc), used))
                        break;
                cr_assert_lt(now_ms() - seen, 1000,
                             "used %s, want %s, 1 s after the commit",
                             used_of(doc) ? used_of(doc) : "?", used);
                mk_sleep_ms(20);
        }
        return doc;
}

static long outbox(PGconn *db, const char *key_like)
{
        char sql[300];

        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM webhook_outbox WHERE customer_id ="
                 " 'cust_L' AND dedupe_key LIKE '%s'",
                 key_like);
        return scalar_long(db, sql);
}

Test(entitlements, follow_the_meter_refuse_at_the_limit_and_cross_once,
     .timeout = 300)
{
        struct mk_case c;
        struct sk_serve s;
        char file[300], keyL[128], keyM[128], admin[128];
        json_t *doc;
        pid_t meter;

        tk_require_env();
        mk_case_start(&c, "ent_limit", 1, 1);
        sk_paths(&s, &c);
        customers(&c, file, sizeof file);
        sk_tally_ok("customers", "import", file, NULL);
        meter = mk_meter_spawn(&c, NULL);
        sk_start(&s, &c);
        sk_key(admin, "admin", "admin", NULL);
        sk_key(keyL, "customer:cust_L", "l", NULL);
        sk_key(keyM, "customer:cust_M", "m", NULL);

        cr_expect_eq(get(&s, "cust_L", keyM, &doc), 403, "another's key");
        json_decref(doc);
        cr_assert_eq(get(&s, "cust_L", admin, &doc), 200);
        cr_expect_str_eq(used_of(doc), "0");
        cr_expect(json_is_true(json_object_get(doc, "allowed")));
        json_decref(doc);

        /* 2,000,000: inside the allowance, below every threshold. */
        produce(&c, "cust_L", 0, 2);
        doc = fresh(&s, &c, keyL, 2, "2000000");
        cr_expect(json_is_true(json_object_get(doc, "allowed")));
        cr_expect_str_eq(
            json_string_value(json_object_get(
                json_object_get(json_object_get(doc, "meters"), "cloud-output"),
                "remaining")),
            "3000000");
        cr_expect_str_eq(
            json_string_value(json_object_get(
                json_object_get(json_object_get(doc, "meters"), "cloud-output"),
                "included_left")),
            "0");
        json_decref(doc);
        cr_expect_eq(outbox(c.db, "%"), 0, "nothing crossed yet");

        /* 3,000,000 crosses out-3; 5,000,000 reaches the limit; 6,000,000
           crosses nothing new. */
        produce(&c, "cust_L", 2, 1);
        json_decref(fresh(&s, &c, keyL, 3, "3000000"));
        produce(&c, "cust_L", 3, 2);
        doc = fresh(&s, &c, keyL, 5, "5000000");
        cr_expect(json_is_false(json_object_get(doc, "allowed")),
                  "refused at its hard limit");
        json_decref(doc);
        produce(&c, "cust_L", 5, 1);
        json_decref(fresh(&s, &c, keyL, 6, "6000000"));
        mk_sleep_ms(300);

        cr_expect_eq(outbox(c.db, "alert.triggered:cust_L:out-3:%"), 1);
        cr_expect_eq(outbox(c.db, "limit.reached:cust_L:cloud-output:%"), 1);
        cr_expect_eq(outbox(c.db, "%out-9%"), 0, "out-9 never crossed");
        cr_expect_eq(outbox(c.db, "%spend-big%"), 0, "spend-big neither");
        cr_expect_eq(outbox(c.db, "%"), 2, "one row per crossing");

        sk_stop(&s);
        kill(meter, SIGTERM);
        mk_wait(meter, 60000);
        mk_case_stop(&c);
}
