/* The worked example of the spec through `tally rate`, end to end: every
   amount of expected.json, in both encodings, with any thread count, and
   the error paths of the command. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schemas/decode.h"
#include "testkit.h"

/* The spec's worked example, kept in the repository so the suite runs
   anywhere; the first test checks it still equals ../shared when that is
   beside the checkout. */
#define WORKED "/tests/rating/worked/"
static const char *const WORKED_FILES[] = {"catalog.yaml", "customers.yaml",
                                           "events.jsonl", "expected.json",
                                           "README.md"};

static char tmpdir[64];

static const char *worked(const char *file)
{
        static char path[16][512];
        static int next;
        char *p = path[next++ % 16];

        snprintf(p, 512, "%s" WORKED "%s", tk_source_dir(), file);
        return p;
}

static const char *tmp(const char *file)
{
        static char path[4][256];
        static int next;
        char *p = path[next++ % 4];

        snprintf(p, 256, "%s/%s", tmpdir, file);
        return p;
}

static void setup(void)
{
        snprintf(tmpdir, sizeof tmpdir, "/tmp/tally-worked-XXXXXX");
        cr_assert(mkdtemp(tmpdir));
}

static void teardown(void)
{
        char cmd[128];

        snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
        cr_assert_eq(system(cmd), 0);
}

/* Run `tally rate` on the worked example with the events file 'events'
   and extra arguments. */
static void rate(const char *events, const char *extra1, const char *extra2,
                 struct tk_proc_result *r)
{
        const char *argv[16] = {tk_tally_bin(), "rate",
                                "--rules",      worked("catalog.yaml"),
                                "--customers",  worked("customers.yaml"),
                                "--events",     events,
                                "--period",     "2026-10"};
        int n = 10;

        if (extra1)
                argv[n++] = extra1;
        if (extra2)
                argv[n++] = extra2;
        argv[n] = NULL;
        cr_assert_eq(tk_run(argv, 30000, r), 0);
}

/* Every field of 'want' is in 'got' with the same value; arrays have the
   same length. expected.json shows some fields; the output has more. */
static void assert_subset(json_t *want, json_t *got, const char *path)
{
        char sub[256];

        if (json_is_object(want)) {
                const char *k;
                json_t *v;

                cr_assert(json_is_object(got), "%s: not an object", path);
                json_object_foreach(want, k, v)
                {
                        snprintf(sub, sizeof sub, "%s.%s", path, k);
                        cr_assert(json_object_get(got, k), "%s missing", sub);
                        assert_subset(v, json_object_get(got, k), sub);
                }
        } else if (json_is_array(want)) {
                cr_assert(json_is_array(got), "%s: not an array", path);
                cr_assert_eq(json_array_size(want), json_array_size(got),
                             "%s: %zu items, want %zu", path,
                             json_array_size(got), json_array_size(want));
                for (size_t i = 0; i < json_array_size(want); i++) {
                        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
                        assert_subset(json_array_get(want, i),
                                      json_array_get(got, i), sub);
                }
        } else {
                cr_assert(json_equal(want, got), "%s differs", path);
        }
}

/* Cents of a money string "12.34" (USD), exactly. */
static long long cents(json_t *s)
{
        const char *t = json_string_value(s);
        long long whole, frac;
        int neg;

        cr_assert(t);
        neg = t[0] == '-';
        cr_assert_eq(sscanf(t + neg, "%lld.%2lld", &whole, &frac), 2, "%s", t);
        return (neg ? -1 : 1) * (whole * 100 + frac);
}

Test(worked, the_copy_equals_the_spec_when_it_is_beside, .init = setup,
     .fini = teardown)
{
        char spec[512], cmd[1200];
        struct stat st;

        snprintf(spec, sizeof spec, "%s/../shared/examples/worked",
                 tk_source_dir());
        if (stat(spec, &st) != 0)
                cr_skip_test("../shared is not beside this checkout");
        for (size_t i = 0; i < sizeof WORKED_FILES / sizeof *WORKED_FILES;
             i++) {
                snprintf(cmd, sizeof cmd, "cmp -s %s/%s %s", spec,
                         WORKED_FILES[i], worked(WORKED_FILES[i]));
                cr_assert_eq(system(cmd), 0, "%s differs from the spec's",
                             worked(WORKED_FILES[i]));
        }
}

Test(worked, reproduces_every_amount_of_expected_json, .init = setup,
     .fini = teardown)
{
        struct tk_proc_result r;
        json_error_t je;
        json_t *want, *got;

        rate(worked("events.jsonl"), NULL, NULL, &r);
        cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
        want = json_load_file(worked("expected.json"), 0, &je);
        cr_assert(want, "%s", je.text);
        got = json_loads(r.out, 0, &je);
        cr_assert(got, "output is not JSON: %s\n%s", je.text, r.out);
        assert_subset(want, got, "$");
        /* The invoice adds up to the cent, from its own lines. */
        for (size_t i = 0; i < json_array_size(got); i++) {
                json_t *inv = json_array_get(got, i), *l;
                long long sum = 0, credit_tax = 0;
                size_t k;

                json_array_foreach(json_object_get(inv, "lines"), k, l)
                {
                        const char *kind =
                            json_string_value(json_object_get(l, "kind"));

                        if (!strcmp(kind, "credit") || !strcmp(kind, "tax"))
                                credit_tax +=
                                    cents(json_object_get(l, "amount"));
                        else
                                sum += cents(json_object_get(l, "amount"));
                }
                cr_assert_eq(sum, cents(json_object_get(inv, "subtotal")));
                cr_assert_eq(sum + credit_tax,
                             cents(json_object_get(inv, "total")));
        }
        /* The duplicate replay and the two events outside October. */
        cr_assert(strstr(r.err, "46 events read, 43 rated, 1 duplicates"), "%s",
                  r.err);
        cr_assert(strstr(r.err, "2 outside the period"), "%s", r.err);
        json_decref(want);
        json_decref(got);
        tk_proc_result_release(&r);
}

Test(worked, any_thread_count_gives_the_same_bytes, .init = setup,
     .fini = teardown)
{
        struct tk_proc_result one, two, five;

        rate(worked("events.jsonl"), "--threads", "1", &one);
        rate(worked("events.jsonl"), "--threads", "2", &two);
        rate(worked("events.jsonl"), "--threads", "5", &five);
        cr_assert_eq(one.exit_code, 0, "%s", one.err);
        cr_assert_str_eq(one.out, two.out);
        cr_assert_str_eq(one.out, five.out);
        tk_proc_result_release(&one);
        tk_proc_result_release(&two);
        tk_proc_result_release(&five);
}

/* Re-encode the worked events as a CBOR sequence with the schemas codec. */
static void write_cbor(const char *jsonl, const char *out_path)
{
        struct sch_decoder *d;
        struct tl_buf out;
        char line[4096];
        FILE *in = fopen(jsonl, "r"), *out_f;

        cr_assert(in);
        cr_assert_eq(sch_decoder_new(NULL, &d, NULL), TL_OK);
        tl_buf_init(&out, 0);
        while (fgets(line, sizeof line, in)) {
                struct sch_event ev;

                cr_assert_eq(sch_decode_json(d, line, strlen(line), &ev, NULL),
                             TL_OK);
                cr_assert_eq(sch_encode_cbor(&ev, &out, NULL), TL_OK);
        }
        fclose(in);
        out_f = fopen(out_path, "wb");
        cr_assert(out_f);
        cr_assert_eq(fwrite(out.data, 1, out.len, out_f), out.len);
        fclose(out_f);
        tl_buf_release(&out);
        sch_decoder_free(&d);
}

Test(worked, a_cbor_sequence_rates_exactly_like_json_lines, .init = setup,
     .fini = teardown)
{
        struct tk_proc_result j, c;

        write_cbor(worked("events.jsonl"), tmp("events.cbor"));
        rate(worked("events.jsonl"), NULL, NULL, &j);
        rate(tmp("events.cbor"), NULL, NULL, &c);
        cr_assert_eq(c.exit_code, 0, "%s", c.err);
        cr_assert_str_eq(j.out, c.out);
        tk_proc_result_release(&j);
        tk_proc_result_release(&c);
}

/* The worked events plus 'extra' lines appended. */
static const char *events_plus(const char *extra)
{
        char cmd[1024];
        const char *path = tmp("events.jsonl");
        FILE *f;

        snprintf(cmd, sizeof cmd, "cp %s %s", worked("events.jsonl"), path);
        cr_assert_eq(system(cmd), 0);
        f = fopen(path, "a");
        cr_assert(f);
        fputs(extra, f);
        fclose(f);
        return path;
}

Test(worked, an_invalid_event_is_reported_by_line_and_fails_the_run,
     .init = setup, .fini = teardown)
{
        struct tk_proc_result r, base;
        const char *ev = events_plus(
            "{\"specversion\":\"1.0\",\"id\":\"bad-1\",\"source\":\"x\","
            "\"type\":\"inference.tokens\",\"subject\":\"cust_A\","
            "\"time\":\"2026-10-20T10:00:00Z\",\"data\":{\"model\":\"m\","
            "\"deployment\":\"cloud\",\"decoding\":\"autoregressive\","
            "\"input_tokens\":1,\"output_tokens\":\"many\"}}\n"
            "not json at all\n");

        rate(ev, NULL, NULL, &r);
        cr_assert_eq(r.exit_code, 2, "%s", r.err);
        cr_assert(strstr(r.err, "events.jsonl:47: data.output_tokens: "
                                "expected unsigned integer"),
                  "%s", r.err);
        cr_assert(strstr(r.err, "events.jsonl:48: "), "%s", r.err);
        cr_assert_str_eq(r.out, "", "nothing is rated without --skip-invalid");
        tk_proc_result_release(&r);

        /* --skip-invalid reports them and rates the rest: the same
           invoices as without the bad lines. */
        rate(ev, "--skip-invalid", NULL, &r);
        rate(worked("events.jsonl"), NULL, NULL, &base);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert(strstr(r.err, "events.jsonl:47: "), "%s", r.err);
        cr_assert_str_eq(r.out, base.out);
        tk_proc_result_release(&r);
        tk_proc_result_release(&base);
}

Test(worked, a_reused_id_with_other_content_is_refused_not_counted,
     .init = setup, .fini = teardown)
{
        struct tk_proc_result r, base;
        /* ar-0 again, with different token counts. */
        const char *ev = events_plus(
            "{\"specversion\":\"1.0\",\"id\":\"ar-0\",\"source\":"
            "\"cloud/gw-1\",\"type\":\"inference.tokens\",\"subject\":"
            "\"cust_0042\",\"time\":\"2026-10-02T10:00:00Z\",\"data\":{"
            "\"model\":\"coder-7b\",\"deployment\":\"cloud\",\"decoding\":"
            "\"autoregressive\",\"input_tokens\":1,\"output_tokens\":1}}\n");

        rate(ev, "--skip-invalid", NULL, &r);
        rate(worked("events.jsonl"), NULL, NULL, &base);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert(strstr(r.err, "events.jsonl:47: id 'ar-0'"), "%s", r.err);
        cr_assert(strstr(r.err, "different content"), "%s", r.err);
        cr_assert_str_eq(r.out, base.out);
        tk_proc_result_release(&r);
        tk_proc_result_release(&base);
}

Test(worked, table_format_shows_the_lines_and_totals, .init = setup,
     .fini = teardown)
{
        struct tk_proc_result r;

        rate(worked("events.jsonl"), "--format", "table", &r);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert(strstr(r.out, "cust_0042"));
        cr_assert(strstr(r.out, "Minimum commitment"));
        cr_assert(strstr(r.out, "29.56"));
        cr_assert(strstr(r.out, "5.76 USD"), "%s", r.out);
        tk_proc_result_release(&r);
}

Test(worked, usage_errors_exit_2_with_a_reason, .init = setup, .fini = teardown)
{
        struct tk_proc_result r;
        const char *no_period[] = {tk_tally_bin(), "rate", "--rules",
                                   worked("catalog.yaml"), NULL};
        const char *bad_period[] = {tk_tally_bin(),
                                    "rate",
                                    "--rules",
                                    worked("catalog.yaml"),
                                    "--customers",
                                    worked("customers.yaml"),
                                    "--events",
                                    worked("events.jsonl"),
                                    "--period",
                                    "2026-13",
                                    NULL};
        const char *early[] = {tk_tally_bin(),
                               "rate",
                               "--rules",
                               worked("catalog.yaml"),
                               "--customers",
                               worked("customers.yaml"),
                               "--events",
                               worked("events.jsonl"),
                               "--period",
                               "2026-09",
                               NULL};
        const char *missing[] = {tk_tally_bin(),
                                 "rate",
                                 "--rules",
                                 worked("catalog.yaml"),
                                 "--customers",
                                 worked("customers.yaml"),
                                 "--events",
                                 "/nonexistent/events.jsonl",
                                 "--period",
                                 "2026-10",
                                 NULL};

        cr_assert_eq(tk_run(no_period, 10000, &r), 0);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "required"), "%s", r.err);
        tk_proc_result_release(&r);
        cr_assert_eq(tk_run(bad_period, 10000, &r), 0);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "2026-13"), "%s", r.err);
        tk_proc_result_release(&r);
        cr_assert_eq(tk_run(early, 10000, &r), 0);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "no catalog is in force for 2026-09"), "%s",
                  r.err);
        tk_proc_result_release(&r);
        cr_assert_eq(tk_run(missing, 10000, &r), 0);
        cr_assert_eq(r.exit_code, 1);
        cr_assert(strstr(r.err, "/nonexistent/events.jsonl"), "%s", r.err);
        tk_proc_result_release(&r);
}

Test(worked, a_plan_missing_from_the_catalog_names_the_customers_file,
     .init = setup, .fini = teardown)
{
        struct tk_proc_result r;
        const char *cust = tmp("customers.yaml");
        FILE *f = fopen(cust, "w");
        const char *argv[] = {
            tk_tally_bin(), "rate",    "--rules",  worked("catalog.yaml"),
            "--customers",  cust,      "--events", worked("events.jsonl"),
            "--period",     "2026-10", NULL};

        cr_assert(f);
        fputs("customers:\n"
              "  - id: cust_0042\n"
              "    plan: enterprise\n"
              "    start: 2026-01-01\n",
              f);
        fclose(f);
        cr_assert_eq(tk_run(argv, 10000, &r), 0);
        cr_assert_eq(r.exit_code, 2, "%s", r.err);
        cr_assert(strstr(r.err, "customers.yaml:3:11: customers[cust_0042]."
                                "plan: undefined plan 'enterprise'"),
                  "%s", r.err);
        /* The other customer's events are reported as unknown, not lost. */
        cr_assert(strstr(r.err, "events of customers not in"), "%s", r.err);
        tk_proc_result_release(&r);
}

/* Every byte JSON must escape and some it need not ('/', DEL, U+00E9,
   U+2028, outside the BMP), as a YAML double-quoted scalar and as C. */
#define HOSTILE_YAML                                                           \
        "\"q\\\"b\\\\n\\nc\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\x09"       \
        "\\x0b\\x0c\\x0d\\x0e\\x0f\\x10\\x11\\x12\\x13\\x14\\x15\\x16\\x17"    \
        "\\x18\\x19\\x1a\\x1b\\x1c\\x1d\\x1e\\x1f/\\x7f\\u00e9\\u2028"         \
        "\\U0001F600 end\""
static const char hostile[] =
    "q\"b\\n\nc\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0b\x0c\x0d\x0e\x0f"
    "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f"
    "/\x7f\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80 end";

/* Copy worked/'name' to tmp/'name' with the first 'from' replaced. */
static const char *copy_with(const char *name, const char *from, const char *to)
{
        static char text[16384];
        FILE *f = fopen(worked(name), "r");
        size_t n;
        char *at;
        const char *out = tmp(name);

        cr_assert(f);
        n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        at = strstr(text, from);
        cr_assert(at, "%s lacks %s", name, from);
        f = fopen(out, "w");
        cr_assert(f);
        fwrite(text, 1, (size_t)(at - text), f);
        fputs(to, f);
        fputs(at + strlen(from), f);
        fclose(f);
        return out;
}

static void expect_hostile(json_t *v, const char *what)
{
        cr_assert(json_is_string(v), "%s is not a string", what);
        cr_expect_eq(json_string_length(v), sizeof hostile - 1, "%s", what);
        cr_expect_eq(memcmp(json_string_value(v), hostile, sizeof hostile - 1),
                     0, "%s", what);
}

Test(worked, invoice_json_escapes_hostile_names_so_jansson_reads_them_back,
     .init = setup, .fini = teardown)
{
        struct tk_proc_result r;
        const char *cat = copy_with("catalog.yaml", "name: Platform fee",
                                    "name: " HOSTILE_YAML);
        const char *cust =
            copy_with("customers.yaml", "Northwind Legal LLP", HOSTILE_YAML);
        const char *argv[] = {
            tk_tally_bin(), "rate",    "--rules",  cat,
            "--customers",  cust,      "--events", worked("events.jsonl"),
            "--period",     "2026-10", NULL};
        json_error_t je;
        json_t *got, *inv, *fee = NULL;

        cr_assert_eq(tk_run(argv, 30000, &r), 0);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        got = json_loads(r.out, 0, &je);
        cr_assert(got, "%s: %s", je.text, r.out);
        inv = json_array_get(got, 0);
        cr_assert_str_eq(json_string_value(json_object_get(inv, "customer")),
                         "cust_0042");
        expect_hostile(json_object_get(inv, "customer_name"), "customer_name");
        for (size_t i = 0; i < json_array_size(json_object_get(inv, "lines"));
             i++) {
                json_t *l = json_array_get(json_object_get(inv, "lines"), i);
                const char *kind =
                    json_string_value(json_object_get(l, "kind"));
                if (kind && !strcmp(kind, "fee"))
                        fee = l;
        }
        cr_assert(fee, "no fee line: %s", r.out);
        expect_hostile(json_object_get(fee, "name"), "lines[fee].name");
        json_decref(got);
        tk_proc_result_release(&r);
}
