/* POST /v1/customers/{id}/subscriptions against a real `tally serve`: a plan
   change ends the current subscription and opens the new one, the cost to
   date is then priced per segment, and bad bodies, unknown plans, dates
   not after the current start and dates in a finalized period are
   refused precisely. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "meterkit.h"
#include "serve_kit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

static int post(struct sk_serve *s, const char *id, const char *key,
                const char *body, struct tk_http_resp *r)
{
        char h[512], path[200];

        snprintf(h, sizeof h,
                 "Authorization: Bearer %s\r\nContent-Type: "
                 "application/json\r\n",
                 key);
        snprintf(path, sizeof path, "/v1/customers/%s/subscriptions", id);
        return tk_http("127.0.0.1", s->port, "POST", path, h, body,
                       strlen(body), r);
}

/* POST 'body' for 'id': status 'want' and a body holding 'has'. */
static void expect(struct sk_serve *s, const char *id, const char *key,
                   const char *body, int want, const char *has)
{
        struct tk_http_resp r;
        int got = post(s, id, key, body, &r);

        cr_expect_eq(got, want, "%s: %d, want %d: %s", body, got, want,
                     r.body ? r.body : "");
        if (has)
                cr_expect(r.body && strstr(r.body, has), "%s: %s lacks %s",
                          body, r.body ? r.body : "", has);
        tk_http_resp_release(&r);
}

Test(serve_subscriptions,
     a_plan_change_splits_the_period_and_bad_ones_are_refused, .timeout = 300)
{
        struct mk_case c;
        struct sk_serve s;
        struct tk_http_resp r;
        char admin[128], cust[128], h[300];
        json_t *doc;

        mk_case_start(&c, "serve_subs", 1, 2);
        sk_paths(&s, &c);
        mk_sh("kcat -P -b '%s' -t '%s' -l '%s/events.jsonl'",
              c.broker.bootstrap, c.name, s.worked);
        mk_meter_drain(&c);
        sk_tally_ok("customers", "import", s.customers, NULL);
        sk_start(&s, &c);
        sk_key(admin, "admin", "admin", NULL);
        sk_key(cust, "customer:cust_0042", "c42", NULL);

        expect(&s, "cust_0042", cust,
               "{\"plan\":\"pro\",\"start\":\"2026-10-20\"}", 403, NULL);
        expect(&s, "cust_0042", admin, "{\"plan\":\"pro\"}", 400,
               "the body must be");
        expect(&s, "cust_0042", admin,
               "{\"plan\":\"pro\",\"start\":\"2026-10-32\"}", 400,
               "start: expected a date");
        expect(&s, "cust_0042", admin,
               "{\"plan\":\"gold\",\"start\":\"2026-10-20\"}", 400,
               "undefined plan 'gold'");
        expect(&s, "nobody", admin,
               "{\"plan\":\"pro\",\"start\":\"2026-10-20\"}", 404, NULL);
        expect(&s, "cust_0042", admin,
               "{\"plan\":\"pro-lower-output\",\"start\":\"2026-10-20\"}", 201,
               "[{\"plan\":\"pro\",\"start\":\"2026-09-01\",\"end\":"
               "\"2026-10-20\"},{\"plan\":\"pro-lower-output\",\"start\":"
               "\"2026-10-20\"}]");
        expect(&s, "cust_0042", admin,
               "{\"plan\":\"pro\",\"start\":\"2026-10-20\"}", 400,
               "must be after the current subscription's start 2026-10-20");
        expect(&s, "cust_0042", admin,
               "{\"plan\":\"pro\",\"start\":\"2026-08-01\"}", 400,
               "no catalog in force on 2026-08-01");
        cr_expect_eq(atoi(tk_scalar(c.db, "SELECT count(*) FROM subscriptions"
                                          " WHERE customer_id = 'cust_0042'")),
                     2);

        /* The cost to date now has two segments. */
        snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", admin);
        cr_assert_eq(tk_http("127.0.0.1", s.port, "GET",
                             "/v1/customers/cust_0042/usage?period=2026-10", h,
                             "", 0, &r),
                     200, "%s", r.body);
        doc = json_loads(r.body, 0, NULL);
        cr_assert(doc);
        cr_expect(strstr(r.body, "\"segment\"") &&
                      strstr(r.body, "pro-lower-output"),
                  "%s", r.body);
        json_decref(doc);
        tk_http_resp_release(&r);

        /* Once October is finalized, a change inside it is a conflict
           naming the invoice; one in November is not. */
        sk_tally_ok("invoice", "--period", "2026-10", "--rules", s.catalog,
                    "--finalize", "--as-of", "2026-11-04", "--quiet", NULL);
        expect(&s, "cust_0042", admin,
               "{\"plan\":\"pro\",\"start\":\"2026-10-25\"}", 409, "INV-2026-");
        expect(&s, "cust_0042", admin,
               "{\"plan\":\"pro\",\"start\":\"2026-11-10\"}", 201, NULL);
        /* PUT takes the long form through the same parser; rewriting the
           finalized October is a conflict there too. */
        {
                char hp[400];
                const char *ok = "{\"name\":\"Alder\",\"subscriptions\":["
                                 "{\"plan\":\"pro\",\"start\":"
                                 "\"2026-10-15\",\"end\":\"2026-11-05\"},"
                                 "{\"plan\":\"pro-lower-output\","
                                 "\"start\":\"2026-11-05\"}]}";
                const char *moved =
                    "{\"subscriptions\":[{\"plan\":\"pro\",\"start\":"
                    "\"2026-09-01\",\"end\":\"2026-10-22\"},{\"plan\":"
                    "\"pro-lower-output\",\"start\":\"2026-10-22\"}]}";
                const char *overlap =
                    "{\"subscriptions\":[{\"plan\":\"pro\",\"start\":"
                    "\"2026-09-01\"},{\"plan\":\"pro\",\"start\":"
                    "\"2026-10-22\"}]}";

                snprintf(hp, sizeof hp,
                         "Authorization: Bearer %s\r\nContent-Type: "
                         "application/json\r\n",
                         admin);
                cr_expect_eq(tk_http("127.0.0.1", s.port, "PUT",
                                     "/v1/customers/cust_A", hp, ok, strlen(ok),
                                     &r),
                             200, "%s", r.body);
                tk_http_resp_release(&r);
                cr_expect_eq(
                    atoi(tk_scalar(c.db, "SELECT count(*) FROM "
                                         "subscriptions WHERE customer_id"
                                         " = 'cust_A'")),
                    2);
                cr_expect_eq(tk_http("127.0.0.1", s.port, "PUT",
                                     "/v1/customers/cust_0042", hp, moved,
                                     strlen(moved), &r),
                             409, "%s", r.body);
                cr_expect(strstr(r.body, "cust_0042") &&
                              strstr(r.body, "2026-10-20") &&
                              strstr(r.body, "INV-2026-"),
                          "%s", r.body);
                tk_http_resp_release(&r);
                cr_expect_eq(tk_http("127.0.0.1", s.port, "PUT",
                                     "/v1/customers/cust_0042", hp, overlap,
                                     strlen(overlap), &r),
                             400, "%s", r.body);
                cr_expect(strstr(r.body, "overlaps"), "%s", r.body);
                tk_http_resp_release(&r);
        }
        sk_stop(&s);
        mk_case_stop(&c);
}
