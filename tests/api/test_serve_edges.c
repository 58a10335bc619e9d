/* `tally serve` at its edges: TLS from files, the per-key rate limit, slow
   clients beside a well-behaved one, customers, idempotent credits and
   finalized invoices (JSON and PDF). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "core/time.h"
#include "meterkit.h"
#include "serve_kit.h"
#include "slowloris.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

/* Whether 'text' is one JSON document (freed at once). */
static bool parses(const char *text)
{
        json_t *doc = json_loads(text, 0, NULL);

        json_decref(doc);
        return doc != NULL;
}

#define SLOW 200
#define PROBES 100

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

/* 'method' 'path' with bearer 'key' (may be NULL), further header lines
   'more' (may be NULL) and a JSON 'body' (may be NULL). */
static int call(struct sk_serve *s, const char *method, const char *path,
                const char *key, const char *more, const char *body,
                struct tk_http_resp *r)
{
        char h[1024] = "";

        if (key)
                snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", key);
        if (body)
                strncat(h, "Content-Type: application/json\r\n",
                        sizeof h - strlen(h) - 1);
        if (more)
                strncat(h, more, sizeof h - strlen(h) - 1);
        return tk_http("127.0.0.1", s->port, method, path, h, body ? body : "",
                       body ? strlen(body) : 0, r);
}

/* The answer's JSON (fails the test unless it is JSON). */
static json_t *json_of(const struct tk_http_resp *r)
{
        json_t *doc = r->body ? json_loads(r->body, 0, NULL) : NULL;

        cr_assert_not_null(doc, "not JSON: %s", r->body ? r->body : "");
        return doc;
}

/* The error object of an error answer: its code must be 'code'. */
static void expect_error(const struct tk_http_resp *r, const char *code)
{
        json_t *doc = json_of(r);
        json_t *e = json_object_get(doc, "error");

        cr_expect_str_eq(json_string_value(json_object_get(e, "code")), code,
                         "%s", r->body);
        cr_expect_gt(strlen(json_string_value(json_object_get(e, "message"))),
                     0);
        json_decref(doc);
}

/* The worked example: its events stored, its customers imported, a
   server on them. */
static void worked(struct mk_case *c, struct sk_serve *s)
{
        sk_paths(s, c);
        mk_sh("kcat -P -b '%s' -t '%s' -l '%s/events.jsonl'",
              c->broker.bootstrap, c->name, s->worked);
        mk_meter_drain(c);
        sk_tally_ok("customers", "import", s->customers, NULL);
        sk_start(s, c);
}

/* ---- TLS ---------------------------------------------------------------- */

/* The HTTP status of GET https://127.0.0.1:port/healthz, or -1. */
static int https_status(int port)
{
        char cmd[256], out[16] = "";
        FILE *p;

        snprintf(cmd, sizeof cmd,
                 "curl -sk -m 2 -o /dev/null -w '%%{http_code}' "
                 "https://127.0.0.1:%d/healthz 2>/dev/null",
                 port);
        p = popen(cmd, "r");
        if (!p)
                return -1;
        if (!fgets(out, sizeof out, p))
                out[0] = '\0';
        pclose(p);
        return out[0] ? atoi(out) : -1;
}

static void tls_config(const char *path, const char *cert, const char *key)
{
        mk_sh("printf 'serve:\\n  http: 127.0.0.1:1\\n  tls_cert: %s\\n"
              "  tls_key: %s\\n' > '%s'",
              cert, key, path);
}

/* The server must not start: exit 2 and a log naming 'file'. */
static void expect_refused(struct mk_case *c, const char *cfg, const char *file)
{
        struct sk_serve s;
        const char *extra[] = {"--config", cfg, NULL};
        char grep[1200];

        sk_paths(&s, c);
        sk_spawn(&s, c, extra);
        cr_expect_eq(mk_wait(s.pid, 30000), 2, "exit of serve with %s (log %s)",
                     cfg, s.log);
        snprintf(grep, sizeof grep, "grep -qF '%s' '%s'", file, s.log);
        cr_expect_eq(system(grep), 0, "the log %s does not name %s", s.log,
                     file);
}

Test(serve_edges, tls_serves_https_only_and_bad_files_stop_the_start,
     .timeout = 240)
{
        struct mk_case c;
        struct sk_serve s;
        struct tk_http_resp r;
        char cert[300], key[300], key2[300], cfg[300], missing[300], junk[300];
        const char *extra[] = {"--config", cfg, NULL};
        int st = -1;

        tk_require_env();
        cr_assert_eq(system("command -v curl >/dev/null && command -v "
                            "openssl >/dev/null"),
                     0, "the test needs curl and openssl");
        mk_case_start(&c, "serve_tls", 1, 1);
        snprintf(cert, sizeof cert, "%s/cert.pem", c.dir);
        snprintf(key, sizeof key, "%s/key.pem", c.dir);
        snprintf(key2, sizeof key2, "%s/other-key.pem", c.dir);
        snprintf(missing, sizeof missing, "%s/missing-key.pem", c.dir);
        snprintf(junk, sizeof junk, "%s/junk-cert.pem", c.dir);
        snprintf(cfg, sizeof cfg, "%s/tls.yaml", c.dir);
        mk_sh("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
              "/CN=localhost -keyout '%s' -out '%s' 2>/dev/null",
              key, cert);
        mk_sh("openssl genrsa -out '%s' 2048 2>/dev/null", key2);
        tls_config(cfg, cert, key);
        sk_paths(&s, &c);
        sk_spawn(&s, &c, extra);
        for (int i = 0; i < 100 && st != 200; i++) {
                st = https_status(s.port);
                if (st != 200)
                        mk_sleep_ms(200);
        }
        cr_expect_eq(st, 200, "GET /healthz over TLS (log %s)", s.log);
        /* Plain HTTP on the TLS port gets no answer worth the name. */
        st = tk_http("127.0.0.1", s.port, "GET", "/healthz", NULL, "", 0, &r);
        cr_expect_neq(st, 200, "plain HTTP answered 200 on the TLS port");
        tk_http_resp_release(&r);
        cr_expect_eq(https_status(s.port), 200, "TLS after the plain try");
        sk_stop(&s);

        /* A key of another certificate, and a key file that is not there. */
        tls_config(cfg, cert, key2);
        expect_refused(&c, cfg, key2);
        tls_config(cfg, cert, missing);
        expect_refused(&c, cfg, missing);
        mk_sh("echo 'not a certificate' > '%s'", junk);
        tls_config(cfg, junk, key);
        expect_refused(&c, cfg, junk);
        mk_case_stop(&c);
}

/* ---- rate limit ----------------------------------------------------------
 */

Test(serve_edges, a_busy_key_gets_429_with_retry_after_and_others_do_not,
     .timeout = 240)
{
        struct mk_case c;
        struct sk_serve s;
        struct tk_http_resp r;
        char cfg[300], a[128], b[128];
        const char *extra[] = {"--config", cfg, NULL};
        const char *path = "/v1/customers/cust_0042/invoices";
        int ok = 0, limited = 0, other;

        tk_require_env();
        mk_case_start(&c, "serve_limit", 1, 1);
        snprintf(cfg, sizeof cfg, "%s/limit.yaml", c.dir);
        mk_sh("printf 'serve:\\n  rate_per_s: 5\\n  rate_burst: 5\\n' > '%s'",
              cfg);
        sk_paths(&s, &c);
        sk_start_with(&s, &c, extra);
        sk_key(a, "admin", "busy", NULL);
        sk_key(b, "admin", "calm", NULL);
        for (int i = 0; i < 20; i++) {
                int st = call(&s, "GET", path, a, NULL, NULL, &r);

                if (st == 200) {
                        ok++;
                } else {
                        cr_expect_eq(st, 429, "request %d: %s", i, r.body);
                        cr_expect_not_null(
                            strcasestr(r.head, "\r\nRetry-After: "), "%s",
                            r.head);
                        expect_error(&r, "rate_limited");
                        limited++;
                }
                tk_http_resp_release(&r);
        }
        fprintf(stderr, "rate limit: %d answered, %d limited of 20\n", ok,
                limited);
        cr_expect_geq(ok, 5, "the burst of 5 was not served");
        cr_expect_geq(limited, 10, "only %d of 20 were limited", limited);
        other = call(&s, "GET", path, b, NULL, NULL, &r);
        cr_expect_eq(other, 200, "another key was limited: %s", r.body);
        tk_http_resp_release(&r);
        sk_stop(&s);
        mk_case_stop(&c);
}

/* ---- slow clients ----------------------------------------------------------
 */

/* PROBES timed usage calls, 50 ms apart, sorted into 'lat'; the failures. */
static int time_usage(struct sk_serve *s, const char *admin, double *lat)
{
        struct tk_http_resp r;
        int failed = 0;

        for (int i = 0; i < PROBES; i++) {
                double t0 = now_ms();
                int st = call(s, "GET", "/v1/customers/cust_0042/usage", admin,
                              NULL, NULL, &r);

                lat[i] = now_ms() - t0;
                failed += st != 200;
                tk_http_resp_release(&r);
                mk_sleep_ms(50);
        }
        qsort(lat, PROBES, sizeof *lat, by_value);
        return failed;
}

Test(serve_edges, slow_clients_leave_a_good_client_p99_under_50ms,
     .timeout = 300)
{
        static double lat[PROBES], base[PROBES];
        struct mk_case c;
        struct sk_serve s;
        struct tk_slowloris *slow = NULL;
        struct tk_slowloris_report rep;
        struct tk_http_resp r;
        char admin[128];
        int failed = 0;
        double p50, p99;
        long nofile = tk_raise_nofile(SLOW + 256);

        tk_require_env();
        cr_assert_geq(nofile, SLOW + 64, "RLIMIT_NOFILE %ld", nofile);
        mk_case_start(&c, "serve_slow", 1, 1);
        worked(&c, &s);
        sk_key(admin, "admin", "admin", NULL);
        /* Unloaded first (which also opens the threads' database
           connections), to tell the slow clients' cost from the machine's. */
        time_usage(&s, admin, base);
        cr_assert_eq(
            tk_slowloris_start(&slow, "127.0.0.1", s.port, SLOW, 30, 5000), 0);
        mk_sleep_ms(1000);
        failed = time_usage(&s, admin, lat);
        cr_expect_eq(call(&s, "GET", "/healthz", NULL, NULL, NULL, &r), 200);
        tk_http_resp_release(&r);
        tk_slowloris_peek(slow, &rep);
        tk_slowloris_stop(&slow, NULL);
        p50 = lat[PROBES / 2];
        p99 = lat[(PROBES * 99 + 99) / 100 - 1];
        fprintf(stderr,
                "serve slow clients: %d wanted, %d refused, %d closed, %d "
                "open, %ld bytes sent; usage: %d calls, %d failed, p50 %.1f "
                "ms, p99 %.1f ms, max %.1f ms (unloaded: p50 %.1f, p99 %.1f, "
                "max %.1f ms)\n",
                rep.wanted, rep.refused, rep.closed, rep.open, rep.sent, PROBES,
                failed, p50, p99, lat[PROBES - 1], base[PROBES / 2],
                base[(PROBES * 99 + 99) / 100 - 1], base[PROBES - 1]);
        cr_expect_eq(rep.refused + rep.closed + rep.open, SLOW);
        /* Otherwise the calls proved nothing: the load was not there. */
        cr_expect_geq(rep.open, SLOW * 9 / 10, "only %d slow clients held on",
                      rep.open);
        cr_expect_eq(failed, 0, "%d of %d usage calls failed", failed, PROBES);
        cr_expect_lt(p99, TK_LATENCY_MS(50.0),
                     "p99 usage latency %.1f ms (bound %.0f ms)", p99,
                     TK_LATENCY_MS(50.0));
        /* And the server is still whole afterwards. */
        cr_expect_eq(call(&s, "GET", "/healthz", NULL, NULL, NULL, &r), 200);
        tk_http_resp_release(&r);
        sk_stop(&s);
        mk_case_stop(&c);
}

/* ---- customers, credits, invoices ------------------------------------------
 */

static void expect_put(struct sk_serve *s, const char *admin, const char *id,
                       const char *body, int want, const char *needle)
{
        char path[200];
        struct tk_http_resp r;
        int st;

        snprintf(path, sizeof path, "/v1/customers/%s", id);
        st = call(s, "PUT", path, admin, NULL, body, &r);
        cr_expect_eq(st, want, "PUT %s %s: %d %s", path, body, st, r.body);
        if (needle)
                cr_expect_not_null(strstr(r.body, needle),
                                   "PUT %s: '%s' not in %s", body, needle,
                                   r.body);
        if (st >= 400)
                cr_expect(parses(r.body), "%s", r.body);
        tk_http_resp_release(&r);
}

/* The draft's "credit" total for 'id' now. */
static char *credit_now(struct sk_serve *s, const char *admin, const char *id)
{
        char path[200];
        struct tk_http_resp r;
        json_t *doc;
        char *out;

        snprintf(path, sizeof path, "/v1/customers/%s/usage", id);
        cr_assert_eq(call(s, "GET", path, admin, NULL, NULL, &r), 200, "%s",
                     r.body);
        doc = json_of(&r);
        out = strdup(json_string_value(
            json_object_get(json_object_get(doc, "invoice"), "credit")));
        json_decref(doc);
        tk_http_resp_release(&r);
        return out;
}

static int grant(struct sk_serve *s, const char *admin, const char *id,
                 const char *idem, const char *body, struct tk_http_resp *r)
{
        char path[200], h[300] = "";

        snprintf(path, sizeof path, "/v1/customers/%s/credits", id);
        if (idem)
                snprintf(h, sizeof h, "Idempotency-Key: %s\r\n", idem);
        return call(s, "POST", path, admin, h, body, r);
}

Test(serve_edges, customers_credits_and_invoices_answer_as_specified,
     .timeout = 300)
{
        struct mk_case c;
        struct sk_serve s;
        struct tk_http_resp r, r2;
        char admin[128], ka[128], k42[128], number[128], path[300];
        char *before, *after, *rows;
        json_t *doc;

        tk_require_env();
        mk_case_start(&c, "serve_writes", 1, 1);
        worked(&c, &s);
        sk_key(admin, "admin", "admin", NULL);
        sk_key(ka, "customer:cust_A", "a", NULL);
        sk_key(k42, "customer:cust_0042", "b", NULL);

        /* PUT: create, update, the customers file's rules. */
        expect_put(&s, admin, "cust_new",
                   "{\"name\":\"New Co\",\"plan\":\"pro\","
                   "\"start\":\"2026-09-01\"}",
                   201, "cust_new");
        expect_put(&s, admin, "cust_new",
                   "{\"name\":\"New Co\",\"plan\":\"pro\","
                   "\"start\":\"2026-09-01\"}",
                   200, NULL);
        expect_put(&s, admin, "cust_new",
                   "{\"name\":\"New Co Ltd\",\"plan\":\"pro\","
                   "\"start\":\"2026-09-01\"}",
                   200, NULL);
        expect_put(&s, admin, "cust_new",
                   "{\"plan\":\"pro\",\"start\":\"2026-13-45\"}", 400, "start");
        expect_put(&s, admin, "cust_new",
                   "{\"plan\":\"pro\",\"start\":\"2026-09-01\","
                   "\"credits\":-5}",
                   400, "credits");
        expect_put(&s, admin, "cust_new",
                   "{\"plan\":\"pro\",\"start\":\"2026-09-01\","
                   "\"colour\":\"red\"}",
                   400, "colour");
        expect_put(&s, admin, "cust_new",
                   "{\"id\":\"cust_other\",\"plan\":\"pro\","
                   "\"start\":\"2026-09-01\"}",
                   400, "\"field\":\"id\"");
        expect_put(&s, admin, "cust_new", "[1,2]", 400, NULL);
        rows = tk_scalar(c.db, "SELECT count(*) || ' ' || min(name) FROM "
                               "customers WHERE customer_id = 'cust_new'");
        cr_expect_str_eq(rows, "1 New Co Ltd");
        free(rows);
        cr_expect_eq(call(&s, "GET", "/v1/customers/cust_new/usage", admin,
                          NULL, NULL, &r),
                     200, "%s", r.body);
        doc = json_of(&r);
        cr_expect_str_eq(json_string_value(json_object_get(doc, "customer")),
                         "cust_new");
        cr_expect_not_null(json_object_get(doc, "invoice"));
        json_decref(doc);
        tk_http_resp_release(&r);

        /* Credits: the key is required, a replay answers the same, another
           body under the same key is a conflict. */
        before = credit_now(&s, admin, "cust_0042");
        cr_expect_eq(
            grant(&s, admin, "cust_0042", NULL, "{\"amount\":\"25.00\"}", &r),
            400);
        tk_http_resp_release(&r);
        cr_expect_eq(
            grant(&s, admin, "cust_0042", "g-1", "{\"amount\":\"25.00\"}", &r),
            201, "%s", r.body);
        cr_expect_eq(
            grant(&s, admin, "cust_0042", "g-1", "{\"amount\":\"25.00\"}", &r2),
            201, "%s", r2.body);
        cr_expect_str_eq(r.body, r2.body);
        tk_http_resp_release(&r);
        tk_http_resp_release(&r2);
        cr_expect_eq(
            grant(&s, admin, "cust_0042", "g-1", "{\"amount\":\"26.00\"}", &r),
            409, "%s", r.body);
        tk_http_resp_release(&r);
        cr_expect_eq(
            grant(&s, admin, "nobody", "g-2", "{\"amount\":\"25.00\"}", &r),
            404, "%s", r.body);
        expect_error(&r, "not_found");
        tk_http_resp_release(&r);
        rows = tk_scalar(c.db,
                         "SELECT count(*) || ' ' || round(sum(amount), 2) FROM "
                         "credit_ledger WHERE customer_id = "
                         "'cust_0042' AND reason = 'api'");
        cr_expect_str_eq(rows, "1 25.00");
        free(rows);
        after = credit_now(&s, admin, "cust_0042");
        fprintf(stderr, "draft credit of cust_0042: %s before, %s after\n",
                before, after);
        cr_expect_str_eq(before, "0.00");
        cr_expect_not_null(strstr(after, "25.00"), "credit %s", after);
        /* A grant with an expiry; the expiry must be an instant ahead. */
        cr_expect_eq(grant(&s, admin, "cust_0042", "g-3",
                           "{\"amount\":\"5.00\","
                           "\"expires_at\":\"2099-01-01T00:00:00Z\"}",
                           &r),
                     201, "%s", r.body);
        cr_expect_not_null(strstr(r.body, "\"expires_at\":"
                                          "\"2099-01-01T00:00:00Z\""),
                           "%s", r.body);
        tk_http_resp_release(&r);
        rows = tk_scalar(c.db, "SELECT to_char(expires_at AT TIME ZONE 'UTC',"
                               " 'YYYY-MM-DD') FROM credit_ledger WHERE"
                               " customer_id = 'cust_0042' AND amount = 5");
        cr_expect_str_eq(rows, "2099-01-01");
        free(rows);
        cr_expect_eq(grant(&s, admin, "cust_0042", "g-4",
                           "{\"amount\":\"5.00\","
                           "\"expires_at\":\"2020-01-01T00:00:00Z\"}",
                           &r),
                     400, "%s", r.body);
        cr_expect_not_null(strstr(r.body, "\"field\":\"expires_at\""), "%s",
                           r.body);
        tk_http_resp_release(&r);
        cr_expect_eq(grant(&s, admin, "cust_0042", "g-5",
                           "{\"amount\":\"5.00\",\"expires_at\":\"soon\"}", &r),
                     400, "%s", r.body);
        tk_http_resp_release(&r);
        cr_expect_eq(grant(&s, admin, "cust_0042", "g-6",
                           "{\"amount\":\"5.00\",\"expiry\":\"soon\"}", &r),
                     400, "%s", r.body);
        tk_http_resp_release(&r);
        /* A replay after the expiry has passed answers as the first time. */
        {
                char body[128], at[40];

                tl_time_format_rfc3339(tl_time_now_us() + 2 * TL_US_PER_SEC, at,
                                       sizeof at);
                snprintf(body, sizeof body,
                         "{\"amount\":\"1.00\",\"expires_at\":\"%s\"}", at);
                cr_expect_eq(grant(&s, admin, "cust_0042", "g-7", body, &r),
                             201, "%s", r.body);
                sleep(3);
                cr_expect_eq(grant(&s, admin, "cust_0042", "g-7", body, &r2),
                             201, "%s", r2.body);
                cr_expect_str_eq(r.body, r2.body);
                tk_http_resp_release(&r);
                tk_http_resp_release(&r2);
                cr_expect_eq(grant(&s, admin, "cust_0042", "g-8", body, &r),
                             400, "%s", r.body);
                tk_http_resp_release(&r);
        }
        /* Overrides through PUT: the customers file's rules and storage. */
        expect_put(&s, admin, "cust_new",
                   "{\"plan\":\"pro\",\"start\":\"2026-09-01\","
                   "\"alerts\":[{\"id\":\"a\",\"spend_at_least\":5},"
                   "{\"id\":\"a\",\"spend_at_least\":6}]}",
                   400, "duplicate id 'a'");
        expect_put(&s, admin, "cust_new",
                   "{\"plan\":\"pro\",\"start\":\"2026-09-01\","
                   "\"wallet\":{\"low_balance\":\"10.00\"}}",
                   200, NULL);
        rows =
            tk_scalar(c.db, "SELECT controls->'wallet'->>'low_balance'"
                            " FROM customers WHERE customer_id = 'cust_new'");
        cr_expect_str_eq(rows, "10.00");
        free(rows);
        free(before);
        free(after);

        /* A finalized invoice: listed, read as JSON and PDF, by its owner. */
        sk_tally_ok("invoice", "--period", "2026-10", "--rules", s.catalog,
                    "--finalize", "--as-of", "2026-11-05", NULL);
        cr_assert_eq(call(&s, "GET", "/v1/customers/cust_A/invoices", ka, NULL,
                          NULL, &r),
                     200, "%s", r.body);
        doc = json_of(&r);
        {
                json_t *first =
                    json_array_get(json_object_get(doc, "invoices"), 0);
                const char *n =
                    json_string_value(json_object_get(first, "number"));

                cr_assert_not_null(n, "%s", r.body);
                snprintf(number, sizeof number, "%s", n);
                cr_expect_str_eq(
                    json_string_value(json_object_get(first, "period")),
                    "2026-10");
        }
        json_decref(doc);
        tk_http_resp_release(&r);
        snprintf(path, sizeof path, "/v1/invoices/%s", number);
        cr_expect_eq(call(&s, "GET", path, ka, NULL, NULL, &r), 200, "%s",
                     r.body);
        doc = json_of(&r);
        cr_expect_str_eq(json_string_value(json_object_get(doc, "customer")),
                         "cust_A", "%s", r.body);
        json_decref(doc);
        tk_http_resp_release(&r);
        cr_expect_eq(
            call(&s, "GET", path, ka, "Accept: application/pdf\r\n", NULL, &r),
            200);
        cr_expect(r.body_len > 4 && !memcmp(r.body, "%PDF", 4),
                  "not a PDF: %.20s", r.body ? r.body : "");
        cr_expect_not_null(strcasestr(r.head, "Content-Type: application/pdf"),
                           "%s", r.head);
        tk_http_resp_release(&r);
        cr_expect_eq(call(&s, "GET", path, k42, NULL, NULL, &r), 403, "%s",
                     r.body);
        expect_error(&r, "forbidden");
        tk_http_resp_release(&r);
        cr_expect_eq(
            call(&s, "GET", "/v1/invoices/NO-SUCH-1", admin, NULL, NULL, &r),
            404, "%s", r.body);
        expect_error(&r, "not_found");
        tk_http_resp_release(&r);
        sk_stop(&s);
        mk_case_stop(&c);
}
