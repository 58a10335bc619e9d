/* `tally serve` against a real broker, meter and PostgreSQL: keys and scopes
   on every route, hostile ids, IPv6 (one bill: test_one_bill.c). */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "api/api.h"
#include "meterkit.h"
#include "serve_kit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

/* Whether 'text' is one JSON document (freed at once). */
static bool parses(const char *text)
{
        json_t *doc = json_loads(text, 0, NULL);

        json_decref(doc);
        return doc != NULL;
}

/* The worked example, its catalog copied where the test may edit it. */
static void worked(struct mk_case *c, struct sk_serve *s)
{
        sk_paths(s, c);
        mk_sh("kcat -P -b '%s' -t '%s' -l '%s/events.jsonl'",
              c->broker.bootstrap, c->name, s->worked);
        mk_meter_drain(c);
        sk_tally_ok("customers", "import", s->customers, NULL);
        sk_start(s, c);
}

/* A concrete path for route template 'tmpl' with 'id' for every {param}. */
static void concrete(const char *tmpl, const char *id, char *out, size_t size)
{
        size_t o = 0;

        for (const char *t = tmpl; *t && o + 1 < size; t++) {
                if (*t == '{') {
                        o += (size_t)snprintf(out + o, size - o, "%s", id);
                        t = strchr(t, '}');
                } else {
                        out[o++] = *t;
                }
        }
        out[o < size ? o : size - 1] = '\0';
}

static int call(struct sk_serve *s, const char *method, const char *path,
                const char *key, struct tk_http_resp *r)
{
        char h[512] = "";
        const char *body = strcmp(method, "GET") ? "{}" : "";

        if (key)
                snprintf(h, sizeof h,
                         "Authorization: Bearer %s\r\nContent-Type: "
                         "application/json\r\nIdempotency-Key: k1\r\n",
                         key);
        return tk_http("127.0.0.1", s->port, method, path, h, body,
                       strlen(body), r);
}

static void expect(struct sk_serve *s, const char *method, const char *path,
                   const char *key, int want, const char *why)
{
        struct tk_http_resp r;
        int got = call(s, method, path, key, &r);

        cr_expect_eq(got, want, "%s %s with %s: %d, want %d: %s", method, path,
                     why, got, want, r.body ? r.body : "");
        /* Nothing about another customer: its id never comes back. */
        if (got == 401 || got == 403)
                cr_expect_null(strstr(r.body, "cust_A"), "%s %s (%s): %s",
                               method, path, why, r.body);
        tk_http_resp_release(&r);
}

Test(serve, every_route_refuses_every_wrong_key, .timeout = 240)
{
        struct mk_case c;
        struct sk_serve s;
        char admin[128], a[128], b[128], ev[128], revoked[128], expired[128];

        tk_require_env();
        mk_case_start(&c, "serve_keys", 1, 2);
        worked(&c, &s);
        sk_key(admin, "admin", "admin", NULL);
        sk_key(a, "customer:cust_A", "a", NULL);
        sk_key(b, "customer:cust_0042", "b", NULL);
        sk_key(ev, "events:write", "ev", NULL);
        sk_key(revoked, "admin", "revoked", NULL);
        sk_key(expired, "admin", "expired", NULL);
        sk_tally_ok("keys", "revoke", "revoked", NULL);
        tk_exec(c.db, "UPDATE api_keys SET expires_at = now() - interval "
                      "'1 second' WHERE name = 'expired'");
        for (size_t i = 0; i < api_route_count(); i++) {
                const char *m, *t;
                char path[256];

                api_route_at(i, &m, &t);
                concrete(t, "cust_A", path, sizeof path);
                if (!strcmp(t, "/healthz") || !strcmp(t, "/metrics")) {
                        expect(&s, m, path, NULL, 200, "no key (open)");
                        continue;
                }
                expect(&s, m, path, NULL, 401, "no key");
                expect(&s, m, path, "not-a-key", 401, "a malformed key");
                expect(&s, m, path,
                       "tly_0000000000000000_"
                       "0000000000000000000000000000000000000000000000000000"
                       "000000000000",
                       401, "an unknown key");
                expect(&s, m, path, revoked, 401, "a revoked key");
                expect(&s, m, path, expired, 401, "an expired key");
                if (strcmp(t, "/v1/events"))
                        expect(&s, m, path, ev, 403, "an events:write key");
                else
                        expect(&s, m, path, a, 403, "a customer key");
                if (strstr(t, "{id}"))
                        expect(&s, m, path, b, 403, "another customer's key");
        }
        /* A foreign key cannot tell an existing customer from none. */
        {
                struct tk_http_resp r1, r2;

                call(&s, "GET", "/v1/customers/cust_A/usage", b, &r1);
                call(&s, "GET", "/v1/customers/nobody/usage", b, &r2);
                cr_expect_eq(r1.status, 403);
                cr_expect_str_eq(r1.body, r2.body);
                tk_http_resp_release(&r1);
                tk_http_resp_release(&r2);
        }
        /* And the right keys get through. */
        expect(&s, "GET", "/v1/customers/cust_A/usage", a, 200, "its own key");
        expect(&s, "GET", "/v1/customers/cust_A/usage", admin, 200, "admin");
        expect(&s, "GET", "/v1/customers/cust_A/invoices", a, 200, "its own");
        /* The table holds hashes only. */
        {
                char *all = tk_scalar(c.db, "SELECT string_agg(t::text, ',') "
                                            "FROM api_keys t");

                cr_expect_null(strstr(all, admin + 21));
                free(all);
        }
        sk_stop(&s);
        mk_case_stop(&c);
}

Test(serve, hostile_paths_are_refused_cleanly, .timeout = 240)
{
        static const char *const BAD[] = {
            "/v1/customers/%00/usage", "/v1/customers/a%ZZ/usage",
            "/v1/customers/a%2/usage", "/v1/customers/%FF%FE/usage",
            "/v1/customers//usage",    "/v1/customers/a/b/c/d/e/f/g",
        };
        struct mk_case c;
        struct sk_serve s;
        char admin[128], *longp;
        struct tk_http_resp r;

        tk_require_env();
        mk_case_start(&c, "serve_hostile", 1, 2);
        worked(&c, &s);
        sk_key(admin, "admin", "admin", NULL);
        for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
                int st = call(&s, "GET", BAD[i], admin, &r);

                cr_expect(st == 400 || st == 404, "%s: %d %s", BAD[i], st,
                          r.body);
                cr_expect(parses(r.body), "%s: %s", BAD[i], r.body);
                tk_http_resp_release(&r);
        }
        /* Quotes, backslashes, newlines in an id: escaped in the answer. */
        cr_expect_eq(
            call(&s, "GET", "/v1/customers/a%22b%5Cc%0Ad/usage", admin, &r),
            404);
        cr_expect(parses(r.body), "%s", r.body);
        tk_http_resp_release(&r);
        /* 100 KB of URL: refused, and the server still answers. */
        longp = malloc(100 * 1024 + 32);
        strcpy(longp, "/v1/customers/");
        memset(longp + 14, 'x', 100 * 1024);
        strcpy(longp + 14 + 100 * 1024, "/usage");
        cr_expect_neq(call(&s, "GET", longp, admin, &r), 200);
        tk_http_resp_release(&r);
        free(longp);
        cr_expect_eq(call(&s, "GET", "/healthz", NULL, &r), 200);
        tk_http_resp_release(&r);
        /* IPv6: the same server on [::1] when it listens on every address. */
        sk_stop(&s);
        s.http_host = "[::]";
        sk_start(&s, &c);
        cr_expect_eq(tk_http("::1", s.port, "GET", "/healthz", NULL, "", 0, &r),
                     200);
        tk_http_resp_release(&r);
        cr_expect_eq(
            tk_http("127.0.0.1", s.port, "GET", "/healthz", NULL, "", 0, &r),
            200);
        tk_http_resp_release(&r);
        sk_stop(&s);
        mk_case_stop(&c);
}
