/* One bill (api.md, "One bill, everywhere"): at 200+ seeded random instants of
   a month, the draft `tally serve` reports equals, line by line and to the
   cent, the draft `tally invoice --period P --customer C` writes at that
   instant. */
#include <signal.h>
#include <stdint.h>
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

#define STEPS 220
#define OPEN "2026-11"   /* the period compared */
#define CLOSED "2026-10" /* the worked month, finalized once, early */

static const char *const CUSTOMERS[] = {"cust_0042", "cust_A"};

/* The state of one run: the seed reproduces every draw. */
struct run {
        struct mk_case c;
        struct sk_serve s;
        char admin[128];
        uint64_t seed, rng;
        int step;
        long long events;    /* units the meter must have committed */
        int next_id;         /* event ids stay unique across the run */
        bool closed;         /* CLOSED finalized */
        int compared, lines; /* drafts and lines found equal or not */
        int mismatches;
        int adjusted; /* drafts that carried an adjustment line */
        int actions[6];
        int action;                       /* of the current step */
        long long ms_act, ms_api, ms_cli; /* where the time goes */
};

enum { A_CHECK, A_EVENTS, A_CREDIT, A_CATALOG, A_LATE, A_CLOSE };
static const char *const ACTION[] = {"check",   "events", "credit",
                                     "catalog", "late",   "close"};

static long long ms_now(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return t.tv_sec * 1000ll + t.tv_nsec / 1000000;
}

/* splitmix64: small, and the same sequence on every platform. */
static uint64_t next(struct run *r)
{
        uint64_t z = (r->rng += 0x9E3779B97F4A7C15ull);

        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static long long pick(struct run *r, long long lo, long long hi)
{
        return lo + (long long)(next(r) % (uint64_t)(hi - lo + 1));
}

/* One random event of a random shape for 'cust' at a random time of
   'period' (YYYY-MM, days 'd0'..'d1'), appended to 'f'; the units it makes. */
static int one_event(struct run *r, FILE *f, const char *cust,
                     const char *period, int d0, int d1)
{
        char when[40], id[48];
        int kind = (int)pick(r, 0, 5);

        snprintf(when, sizeof when, "%s-%02lldT%02lld:%02lld:00Z", period,
                 pick(r, d0, d1), pick(r, 0, 23), pick(r, 0, 59));
        snprintf(id, sizeof id, "ob-%d", r->next_id++);
        switch (kind) {
        case 0: /* cloud, autoregressive */
        case 1:
                fprintf(f,
                        "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":"
                        "\"cloud/gw-1\",\"type\":\"inference.tokens\","
                        "\"subject\":\"%s\",\"time\":\"%s\",\"data\":{"
                        "\"model\":\"coder-7b\",\"deployment\":\"cloud\","
                        "\"decoding\":\"autoregressive\",\"input_tokens\":"
                        "%lld,\"output_tokens\":%lld}}\n",
                        id, cust, when, pick(r, 0, 3000000),
                        pick(r, 1, 6000000));
                return 1;
        case 2: /* cloud, diffusion: tokens and their iterations */
                fprintf(f,
                        "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":"
                        "\"cloud/gw-2\",\"type\":\"inference.tokens\","
                        "\"subject\":\"%s\",\"time\":\"%s\",\"data\":{"
                        "\"model\":\"coder-dlm\",\"deployment\":\"cloud\","
                        "\"decoding\":\"diffusion\",\"input_tokens\":%lld,"
                        "\"output_tokens\":%lld}}\n",
                        id, cust, when, pick(r, 0, 2000000),
                        pick(r, 1, 4000000));
                fprintf(f,
                        "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":"
                        "\"cloud/gw-2/it\",\"type\":\"inference.iterations\","
                        "\"subject\":\"%s\",\"time\":\"%s\",\"data\":{"
                        "\"model\":\"coder-dlm\",\"deployment\":\"cloud\","
                        "\"decoding\":\"diffusion\",\"iterations\":%lld,"
                        "\"tokens\":%lld}}\n",
                        id, cust, when, pick(r, 1, 90000), pick(r, 1, 4000000));
                return 2;
        case 3: /* on a device: priced as savings only */
                fprintf(f,
                        "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":"
                        "\"device/d%lld\",\"type\":\"inference.tokens\","
                        "\"subject\":\"%s\",\"time\":\"%s\",\"data\":{"
                        "\"model\":\"coder-7b\",\"deployment\":\"device\","
                        "\"decoding\":\"autoregressive\",\"input_tokens\":"
                        "%lld,\"output_tokens\":%lld}}\n",
                        id, pick(r, 1, 4), cust, when, pick(r, 0, 500000),
                        pick(r, 1, 2000000));
                return 1;
        case 4: /* matrix ops */
                fprintf(f,
                        "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":"
                        "\"cloud/gw-2\",\"type\":\"inference.matrix_ops\","
                        "\"subject\":\"%s\",\"time\":\"%s\",\"data\":{"
                        "\"model\":\"coder-dlm\",\"deployment\":\"cloud\","
                        "\"mac\":%lld}}\n",
                        id, cust, when, pick(r, 1, 900000) * 1000000000ll);
                return 1;
        default: /* a seat, small or medium */
                fprintf(f,
                        "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":"
                        "\"device/d%lld\",\"type\":\"device.seat\","
                        "\"subject\":\"%s\",\"time\":\"%s\",\"data\":{"
                        "\"device_id\":\"d%lld\",\"action\":\"activate\","
                        "\"model_class\":\"%s\"}}\n",
                        id, pick(r, 1, 6), cust, when, pick(r, 1, 6),
                        pick(r, 0, 1) ? "small" : "medium");
                return 1;
        }
}

/* A few events for a random customer in 'period', through the broker and
   the running meter; back once the meter has committed them. */
static void produce(struct run *r, const char *period, int d0, int d1)
{
        char file[300];
        FILE *f;
        int n = (int)pick(r, 1, 4);
        const char *cust = CUSTOMERS[pick(r, 0, 1)];

        snprintf(file, sizeof file, "%s/step-%d.jsonl", r->c.dir, r->step);
        f = fopen(file, "w");
        cr_assert_not_null(f);
        for (int i = 0; i < n; i++)
                r->events += one_event(r, f, cust, period, d0, d1);
        fclose(f);
        mk_sh("kcat -P -b '%s' -t '%s' -l '%s'", r->c.broker.bootstrap,
              r->c.name, file);
        cr_assert(mk_wait_consumed(&r->c, r->events, 30000),
                  "seed %llu step %d: the meter did not commit %lld units "
                  "(log %s)",
                  (unsigned long long)r->seed, r->step, r->events,
                  mk_meter_log());
}

/* POST /v1/customers/{id}/credits with a fresh Idempotency-Key. */
static void grant(struct run *r)
{
        const char *cust = CUSTOMERS[pick(r, 0, 1)];
        char path[128], head[400], body[64], amount[32];
        struct tk_http_resp resp;
        json_t *doc;
        char *text;
        int st;

        snprintf(path, sizeof path, "/v1/customers/%s/credits", cust);
        snprintf(head, sizeof head,
                 "Authorization: Bearer %s\r\nContent-Type: application/json"
                 "\r\nIdempotency-Key: one-bill-%llu-%d\r\n",
                 r->admin, (unsigned long long)r->seed, r->step);
        snprintf(amount, sizeof amount, "%lld.%02lld", pick(r, 1, 80),
                 pick(r, 0, 99));
        doc = json_pack("{s:s}", "amount", amount);
        text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        cr_assert_not_null(text);
        snprintf(body, sizeof body, "%s", text);
        free(text);
        st = tk_http("127.0.0.1", r->s.port, "POST", path, head, body,
                     strlen(body), &resp);
        cr_assert_eq(st, 201, "seed %llu step %d: credit %s: %d %s",
                     (unsigned long long)r->seed, r->step, body, st,
                     resp.body ? resp.body : "");
        tk_http_resp_release(&resp);
}

static unsigned long long generation(struct run *r)
{
        static const char KEY[] = "\ntally_api_catalog_generation ";
        struct tk_http_resp resp;
        unsigned long long g = 0;
        const char *at;

        cr_assert_eq(tk_http("127.0.0.1", r->s.port, "GET", "/metrics", NULL,
                             "", 0, &resp),
                     200);
        at = strstr(resp.body, KEY);
        cr_assert_not_null(at, "%s", resp.body);
        g = strtoull(at + sizeof KEY - 1, NULL, 10);
        tk_http_resp_release(&resp);
        return g;
}

/* New prices for the platform fee and cloud input, the file swapped in
   whole (rename); back once serve has reloaded it. */
static void edit_catalog(struct run *r)
{
        unsigned long long before = generation(r);
        char tmp[300];

        snprintf(tmp, sizeof tmp, "%s/catalog.tmp", r->c.dir);
        mk_sh("sed -e 's/amount: 49.00/amount: %lld.%02lld/' -e 's/price: "
              "0.15 }/price: 0.%03lld }/' '%s/catalog.yaml' > '%s' && mv '%s' "
              "'%s/catalog.yaml'",
              pick(r, 20, 99), pick(r, 0, 99), pick(r, 50, 400), r->s.worked,
              tmp, tmp, r->s.catalog);
        for (int i = 0; i < 200 && generation(r) <= before; i++)
                mk_sleep_ms(50);
        cr_assert_gt(generation(r), before,
                     "seed %llu step %d: serve did not reload (log %s)",
                     (unsigned long long)r->seed, r->step, r->s.log);
}

static void close_previous(struct run *r)
{
        sk_tally_ok("invoice", "--period", CLOSED, "--rules", r->s.catalog,
                    "--finalize", "--as-of", "2026-11-05", "--quiet", NULL);
        r->closed = true;
}

/* ---- the comparison ------------------------------------------------------
 */

static char *dump(const json_t *j)
{
        return j ? json_dumps(j,
                              JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)
                 : strdup("(absent)");
}

static json_t *api_draft(struct run *r, const char *cust)
{
        char path[128], head[256];
        struct tk_http_resp resp;
        json_t *doc, *inv;
        int st;

        snprintf(path, sizeof path, "/v1/customers/%s/usage?period=%s", cust,
                 OPEN);
        snprintf(head, sizeof head, "Authorization: Bearer %s\r\n", r->admin);
        st = tk_http("127.0.0.1", r->s.port, "GET", path, head, "", 0, &resp);
        cr_assert_eq(st, 200, "seed %llu step %d: %s: %d %s",
                     (unsigned long long)r->seed, r->step, path, st,
                     resp.body ? resp.body : "");
        doc = json_loads(resp.body, 0, NULL);
        cr_assert_not_null(doc, "%s", resp.body);
        tk_http_resp_release(&resp);
        cr_assert_str_eq(json_string_value(json_object_get(doc, "period")),
                         OPEN);
        inv = json_incref(json_object_get(doc, "invoice"));
        json_decref(doc);
        cr_assert(json_is_object(inv), "seed %llu step %d: no invoice",
                  (unsigned long long)r->seed, r->step);
        return inv;
}

/* `tally invoice` drafts 'cust' (it stores the draft); the stored body. */
static json_t *cli_draft(struct run *r, const char *cust)
{
        const char *params[2] = {cust, OPEN "-01"};
        PGresult *res;
        json_t *inv;

        sk_tally_ok("invoice", "--period", OPEN, "--customer", cust, "--rules",
                    r->s.catalog, "--quiet", NULL);
        res = PQexecParams(r->c.db,
                           "SELECT body::text, status FROM invoices WHERE "
                           "customer_id = $1 AND period_start = $2::date",
                           2, NULL, params, NULL, NULL, 0);
        cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s",
                     PQerrorMessage(r->c.db));
        cr_assert_eq(PQntuples(res), 1, "seed %llu step %d: no draft of %s",
                     (unsigned long long)r->seed, r->step, cust);
        cr_assert_str_eq(PQgetvalue(res, 0, 1), "draft");
        inv = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
        PQclear(res);
        cr_assert_not_null(inv);
        return inv;
}

static void expect_same(struct run *r, const char *cust, const char *what,
                        const json_t *api, const json_t *cli)
{
        bool same = api && cli && json_equal((json_t *)api, (json_t *)cli);

        if (!same) {
                char *a = dump(api), *b = dump(cli);

                r->mismatches++;
                cr_expect(same,
                          "seed %llu step %d (%s) %s %s %s:\n  serve:   %s\n"
                          "  invoice: %s",
                          (unsigned long long)r->seed, r->step,
                          ACTION[r->action], cust, OPEN, what, a, b);
                free(a);
                free(b);
        }
}

static const char *const TOTALS[] = {"subtotal", "credit", "tax", "total"};

/* Members compared on their own above the whole-document pass. */
static bool compared_alone(const char *k)
{
        for (size_t i = 0; i < sizeof TOTALS / sizeof *TOTALS; i++)
                if (!strcmp(k, TOTALS[i]))
                        return true;
        return !strcmp(k, "lines");
}

static void compare(struct run *r, const char *cust)
{
        long long t0 = ms_now();
        json_t *api = api_draft(r, cust);
        long long t1 = ms_now();
        json_t *cli = cli_draft(r, cust);
        json_t *al = json_object_get(api, "lines");
        json_t *cl = json_object_get(cli, "lines");
        const char *k;
        json_t *v;
        char what[64];
        bool adjusted = false;

        r->ms_api += t1 - t0;
        r->ms_cli += ms_now() - t1;
        cr_assert(json_is_array(al) && json_is_array(cl),
                  "seed %llu step %d %s: lines", (unsigned long long)r->seed,
                  r->step, cust);
        if (json_array_size(al) != json_array_size(cl)) {
                char *a = dump(al), *b = dump(cl);

                r->mismatches++;
                cr_expect_fail("seed %llu step %d %s %s: %zu lines from "
                               "serve, %zu from invoice:\n  serve:   %s\n"
                               "  invoice: %s",
                               (unsigned long long)r->seed, r->step, cust, OPEN,
                               json_array_size(al), json_array_size(cl), a, b);
                free(a);
                free(b);
        }
        for (size_t i = 0; i < json_array_size(al) && i < json_array_size(cl);
             i++) {
                json_t *l = json_array_get(cl, i);
                const char *kind =
                    json_string_value(json_object_get(l, "kind"));

                snprintf(what, sizeof what, "lines[%zu]", i);
                expect_same(r, cust, what, json_array_get(al, i), l);
                adjusted |= kind && !strcmp(kind, "adjustment");
                r->lines++;
        }
        for (size_t i = 0; i < sizeof TOTALS / sizeof *TOTALS; i++)
                expect_same(r, cust, TOTALS[i], json_object_get(api, TOTALS[i]),
                            json_object_get(cli, TOTALS[i]));
        /* Everything else of the document too: one definition of a bill. */
        json_object_foreach(cli, k, v)
        {
                if (!compared_alone(k))
                        expect_same(r, cust, k, json_object_get(api, k), v);
        }
        json_object_foreach(api, k, v)
        {
                if (!json_object_get(cli, k))
                        expect_same(r, cust, k, v, NULL);
        }
        r->adjusted += adjusted;
        r->compared++;
        json_decref(api);
        json_decref(cli);
}

/* ---- the run ---------------------------------------------------------------
 */

static uint64_t seed_of_env(void)
{
        const char *s = getenv("TALLY_ONE_BILL_SEED");

        return s && *s ? strtoull(s, NULL, 0)
                       : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
}

/* Events not stored: duplicates and dead letters, with the reasons. */
static const char LOST_SQL[] =
    "SELECT coalesce(sum(dead_lettered + duplicates), 0) || ' '"
    " || coalesce((SELECT string_agg(reason, '; ') FROM dead_letters), '')"
    " FROM ingest_counts";

/* The action of step 'i': the close once, early; late events only after
   it; otherwise a weighted draw. */
static int action(struct run *r, int close_at)
{
        long long d;

        if (r->step == close_at)
                return A_CLOSE;
        d = pick(r, 0, 99);
        if (d < 30)
                return A_EVENTS;
        if (d < 40)
                return A_CREDIT;
        if (d < 48)
                return A_CATALOG;
        if (d < 62)
                return r->closed ? A_LATE : A_EVENTS;
        return A_CHECK;
}

Test(one_bill, serve_and_invoice_draft_the_same_bill_at_random_instants,
     .timeout = 600)
{
        static struct run r;
        int close_at;
        char *base, *lost0, *lost;
        pid_t meter;

        tk_require_env();
        memset(&r, 0, sizeof r);
        r.seed = r.rng = seed_of_env();
        fprintf(stderr,
                "one_bill: seed %llu (TALLY_ONE_BILL_SEED=%llu "
                "repeats this run)\n",
                (unsigned long long)r.seed, (unsigned long long)r.seed);
        close_at = (int)pick(&r, 2, 12);
        mk_case_start(&r.c, "one_bill", 1, 2);
        sk_paths(&r.s, &r.c);
        mk_sh("kcat -P -b '%s' -t '%s' -l '%s/events.jsonl'",
              r.c.broker.bootstrap, r.c.name, r.s.worked);
        mk_meter_drain(&r.c);
        sk_tally_ok("customers", "import", r.s.customers, NULL);
        /* The worked example's replayed duplicate, and nothing else. */
        lost0 = tk_scalar(r.c.db, LOST_SQL);
        base = tk_scalar(
            r.c.db, "SELECT coalesce(sum(consumed), 0) FROM ingest_counts");
        r.events = atoll(base);
        free(base);
        meter = mk_meter_spawn(&r.c, NULL);
        sk_start(&r.s, &r.c);
        sk_key(r.admin, "admin", "one-bill", NULL);

        for (r.step = 0; r.step < STEPS; r.step++) {
                int a = action(&r, close_at);
                long long t0 = ms_now();

                r.action = a;
                r.actions[a]++;
                switch (a) {
                case A_EVENTS:
                        produce(&r, OPEN, 1, 30);
                        break;
                case A_LATE:
                        produce(&r, CLOSED, 15, 31);
                        break;
                case A_CREDIT:
                        grant(&r);
                        break;
                case A_CATALOG:
                        edit_catalog(&r);
                        break;
                case A_CLOSE:
                        close_previous(&r);
                        break;
                default:
                        break;
                }
                r.ms_act += ms_now() - t0;
                for (size_t i = 0; i < 2; i++)
                        compare(&r, CUSTOMERS[i]);
                /* One instant's differences tell the story; the seed
                   replays the run up to here. */
                if (r.mismatches) {
                        cr_expect_fail("seed %llu: serve and tally invoice "
                                       "disagree at step %d (%s); stopped",
                                       (unsigned long long)r.seed, r.step,
                                       ACTION[r.action]);
                        r.step++;
                        break;
                }
        }
        fprintf(stderr,
                "one_bill: seed %llu: %d instants, %d drafts and %d lines "
                "compared; %d drafts with an adjustment; actions: events %d, "
                "late %d, credit %d, catalog %d, close %d, check %d\n",
                (unsigned long long)r.seed, r.step, r.compared, r.lines,
                r.adjusted, r.actions[A_EVENTS], r.actions[A_LATE],
                r.actions[A_CREDIT], r.actions[A_CATALOG], r.actions[A_CLOSE],
                r.actions[A_CHECK]);
        fprintf(stderr,
                "one_bill: %lld ms acting, %lld ms in GET usage, %lld ms in "
                "tally invoice\n",
                r.ms_act, r.ms_api, r.ms_cli);
        /* The run exercised what it claims to. */
        cr_expect_eq(r.compared, 2 * r.step);
        cr_expect_geq(r.step, 200, "seed %llu: only %d instants",
                      (unsigned long long)r.seed, r.step);
        cr_expect_eq(r.actions[A_CLOSE], 1);
        cr_expect_gt(r.actions[A_LATE], 0, "seed %llu",
                     (unsigned long long)r.seed);
        cr_expect_gt(r.actions[A_CATALOG], 0, "seed %llu",
                     (unsigned long long)r.seed);
        cr_expect_gt(r.actions[A_CREDIT], 0, "seed %llu",
                     (unsigned long long)r.seed);
        /* Every event produced was stored: none went to the dead letters
           or was dropped as a duplicate unnoticed. */
        lost = tk_scalar(r.c.db, LOST_SQL);
        cr_expect_str_eq(lost, lost0, "seed %llu: lost events: %s (was %s)",
                         (unsigned long long)r.seed, lost, lost0);
        free(lost);
        free(lost0);
        cr_expect_gt(r.adjusted, 0,
                     "seed %llu: no draft carried a pending adjustment",
                     (unsigned long long)r.seed);
        sk_stop(&r.s);
        kill(meter, SIGTERM);
        cr_expect_eq(mk_wait(meter, 30000), 0, "meter exit (log %s)",
                     mk_meter_log());
        mk_case_stop(&r.c);
}
