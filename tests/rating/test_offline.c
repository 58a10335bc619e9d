/* Offline rating at a size where the threads, the routing of both
   encodings and the dedup table's growth all take part: resends,
   reused ids and files split in two must give exactly the invoices of the
   distinct events alone, with any thread count, in JSON Lines or CBOR. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/str.h"
#include "schemas/event.h"
#include "testkit.h"

#define CUSTOMERS 40
#define DISTINCT 30000

static char dir[64];

static const char *path(const char *file)
{
        static char p[8][256];
        static int next;
        char *s = p[next++ % 8];

        snprintf(s, 256, "%s/%s", dir, file);
        return s;
}

static unsigned long long rng;

static unsigned next(unsigned n)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (unsigned)(rng % n);
}

/* Event number 'i' of the distinct set; 'alter' changes its content but
   not its key (a reused id). */
static void event(unsigned i, bool alter, struct sch_event *ev, char *id,
                  char *sub)
{
        unsigned long long saved = rng;

        rng = 0x9E3779B97F4A7C15ULL ^ (i * 0x100000001B3ULL + 1);
        memset(ev, 0, sizeof *ev);
        snprintf(id, 32, "req-%u", i);
        snprintf(sub, 16, "c%02u", next(CUSTOMERS));
        ev->id = (struct sch_str){id, (uint32_t)strlen(id)};
        ev->source = (struct sch_str){"cloud/t", 7};
        ev->subject = (struct sch_str){sub, (uint32_t)strlen(sub)};
        ev->time_us =
            INT64_C(1790812800000000) + (int64_t)next(30 * 86400) * 1000000;
        if (next(10) < 8) {
                ev->type = SCH_TYPE_TOKENS;
                ev->model = (struct sch_str){"coder-7b", 8};
                ev->deployment = next(4) ? SCH_DEPLOY_CLOUD : SCH_DEPLOY_DEVICE;
                ev->decoding = next(2) ? (struct sch_str){"diffusion", 9}
                                       : (struct sch_str){"autoregressive", 14};
                ev->input_tokens = next(4000);
                ev->output_tokens = next(2000) + (alter ? 1 : 0);
        } else {
                ev->type = SCH_TYPE_ITERATIONS;
                ev->model = (struct sch_str){"llada-8b", 8};
                ev->deployment = SCH_DEPLOY_CLOUD;
                ev->decoding = (struct sch_str){"diffusion", 9};
                ev->iterations = 1 + next(64) + (alter ? 1 : 0);
                ev->tokens = next(2000);
        }
        rng = saved;
}

static void append(struct tl_buf *b, const struct sch_event *ev, bool cbor)
{
        if (cbor) {
                cr_assert_eq(sch_encode_cbor(ev, b, NULL), TL_OK);
                return;
        }
        cr_assert_eq(sch_encode_json(ev, b, NULL), TL_OK);
        cr_assert_eq(tl_buf_append(b, "\n", 1, NULL), TL_OK);
}

static void save(const char *file, const struct tl_buf *b)
{
        FILE *f = fopen(path(file), "wb");

        cr_assert(f);
        cr_assert_eq(fwrite(b->data, 1, b->len, f), b->len);
        fclose(f);
}

struct counts {
        unsigned lines, duplicates, reused;
};

/*
** Writes distinct.<ext> (every event once) and a.<ext> + b.<ext>: the same
** events in the same order with exact resends (10 %) and reused ids with
** other content (0.5 %) mixed in, some of them crossing into b.
*/
static struct counts write_files(bool cbor)
{
        const char *ext = cbor ? "cbor" : "jsonl";
        struct tl_buf all, a, b, *cur;
        struct counts c = {0, 0, 0};
        char name[32], id[32], sub[16];
        struct sch_event ev;

        tl_buf_init(&all, 0);
        tl_buf_init(&a, 0);
        tl_buf_init(&b, 0);
        rng = 88172645463325252ULL;
        cur = &a;
        for (unsigned i = 0; i < DISTINCT; i++) {
                if (i == DISTINCT / 2)
                        cur = &b;
                event(i, false, &ev, id, sub);
                append(&all, &ev, cbor);
                append(cur, &ev, cbor);
                c.lines++;
                if (i > 0 && next(100) < 10) {
                        event(next(i), false, &ev, id, sub);
                        append(cur, &ev, cbor);
                        c.lines++;
                        c.duplicates++;
                }
                if (i > 0 && next(1000) < 5) {
                        event(next(i), true, &ev, id, sub);
                        append(cur, &ev, cbor);
                        c.lines++;
                        c.reused++;
                }
                if (next(1000) < 2) { /* a customer not in the file */
                        event(i, false, &ev, id, sub);
                        snprintf(sub, sizeof sub, "zz%u", next(1000));
                        ev.subject =
                            (struct sch_str){sub, (uint32_t)strlen(sub)};
                        append(cur, &ev, cbor);
                        c.lines++;
                }
        }
        snprintf(name, sizeof name, "distinct.%s", ext);
        save(name, &all);
        snprintf(name, sizeof name, "a.%s", ext);
        save(name, &a);
        snprintf(name, sizeof name, "b.%s", ext);
        save(name, &b);
        tl_buf_release(&all);
        tl_buf_release(&a);
        tl_buf_release(&b);
        return c;
}

static void setup(void)
{
        FILE *f;

        snprintf(dir, sizeof dir, "/tmp/tally-offline-XXXXXX");
        cr_assert(mkdtemp(dir));
        f = fopen(path("customers.yaml"), "w");
        cr_assert(f);
        fputs("customers:\n", f);
        for (unsigned i = 0; i < CUSTOMERS; i++)
                fprintf(f, "  - { id: c%02u, plan: pro, start: 2026-0%u-01 }\n",
                        i, 1 + i % 9);
        fclose(f);
}

static void teardown(void)
{
        char cmd[128];

        if (getenv("TK_KEEP"))
                return;
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        cr_assert_eq(system(cmd), 0);
}

/* `tally rate` over one or two event files; extra flags after. */
static void rate(const char *f1, const char *f2, const char *threads,
                 struct tk_proc_result *r)
{
        char catalog[512];
        const char *argv[20] = {tk_tally_bin(),
                                "rate",
                                "--rules",
                                catalog,
                                "--customers",
                                path("customers.yaml"),
                                "--period",
                                "2026-10",
                                "--threads",
                                threads,
                                "--skip-invalid",
                                "--events",
                                f1};
        int n = 13;

        snprintf(catalog, sizeof catalog, "%s/tests/rating/worked/catalog.yaml",
                 tk_source_dir());
        if (f2) {
                argv[n++] = "--events";
                argv[n++] = f2;
        }
        argv[n] = NULL;
        cr_assert_eq(tk_run(argv, 60000, r), 0);
        cr_assert_eq(r->exit_code, 0, "%s", r->err);
}

static void same_invoices_whatever_the_threads(bool cbor)
{
        const char *ext = cbor ? "cbor" : "jsonl";
        struct counts c = write_files(cbor);
        struct tk_proc_result base, r;
        char fa[64], fb[64], fd[64], want[256];
        static const char *const threads[] = {"1", "2", "3"};
        char *first_err = NULL;

        snprintf(fa, sizeof fa, "a.%s", ext);
        snprintf(fb, sizeof fb, "b.%s", ext);
        snprintf(fd, sizeof fd, "distinct.%s", ext);
        cr_assert_gt(c.duplicates, 2000);
        cr_assert_gt(c.reused, 50);
        rate(path(fd), NULL, "1", &base);
        snprintf(want, sizeof want,
                 "%u events read, %u rated, 0 duplicates, 0 invalid", DISTINCT,
                 DISTINCT);
        cr_assert(strstr(base.err, want), "%s\nwant %s", base.err, want);
        snprintf(want, sizeof want,
                 "%u events read, %u rated, %u duplicates, %u invalid", c.lines,
                 DISTINCT, c.duplicates, c.reused);
        for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
                rate(path(fa), path(fb), threads[t], &r);
                cr_assert(strstr(r.err, want), "--threads %s: %s\nwant %s",
                          threads[t], r.err, want);
                cr_assert(strstr(r.err, "with different content"), "%s", r.err);
                cr_assert(strstr(r.err, "more invalid events"), "%s", r.err);
                cr_assert(strstr(r.err, "customers not in"), "%s", r.err);
                cr_assert_str_eq(r.out, base.out,
                                 "--threads %s: not the distinct events' "
                                 "invoices",
                                 threads[t]);
                /* The same reports (the first 100 by place), the same
                   unknown customer named, whichever thread read what. */
                if (t == 0)
                        first_err = strdup(r.err);
                else
                        cr_assert_str_eq(r.err, first_err, "--threads %s",
                                         threads[t]);
                tk_proc_result_release(&r);
        }
        free(first_err);
        tk_proc_result_release(&base);
}

Test(offline, json_lines_with_resends_rate_as_the_distinct_events,
     .init = setup, .fini = teardown, .timeout = 120)
{
        same_invoices_whatever_the_threads(false);
}

Test(offline, cbor_with_resends_rate_as_the_distinct_events, .init = setup,
     .fini = teardown, .timeout = 120)
{
        same_invoices_whatever_the_threads(true);
}

/* A malformed item in the middle of a sequence ends the reading there,
   with the same report whether one thread reads or several do. */
Test(offline, a_malformed_cbor_item_is_reported_alike_by_every_thread_count,
     .init = setup, .fini = teardown, .timeout = 120)
{
        struct tl_buf b;
        struct sch_event ev;
        char id[32], sub[16], catalog[512];
        struct tk_proc_result one, two;
        const char *argv[] = {tk_tally_bin(),
                              "rate",
                              "--rules",
                              catalog,
                              "--customers",
                              path("customers.yaml"),
                              "--period",
                              "2026-10",
                              "--threads",
                              "1",
                              "--events",
                              path("bad.cbor"),
                              NULL};

        snprintf(catalog, sizeof catalog, "%s/tests/rating/worked/catalog.yaml",
                 tk_source_dir());
        tl_buf_init(&b, 0);
        rng = 1;
        for (unsigned i = 0; i < 2000; i++) {
                if (i == 1234)
                        /* A map head announcing 3 pairs, then a break. */
                        cr_assert_eq(
                            tl_buf_append(&b, "\xa3\x61x\xff", 4, NULL), TL_OK);
                event(i, false, &ev, id, sub);
                append(&b, &ev, true);
        }
        save("bad.cbor", &b);
        tl_buf_release(&b);
        cr_assert_eq(tk_run(argv, 60000, &one), 0);
        argv[9] = "2";
        cr_assert_eq(tk_run(argv, 60000, &two), 0);
        cr_assert_eq(one.exit_code, 2, "%s", one.err);
        cr_assert(strstr(one.err, "bad.cbor:#1235: CBOR: unexpected break"),
                  "%s", one.err);
        cr_assert_eq(two.exit_code, one.exit_code);
        cr_assert_str_eq(two.err, one.err);
        cr_assert_str_eq(two.out, one.out);
        tk_proc_result_release(&one);
        tk_proc_result_release(&two);
}

/* ---- escaped subjects ---- */

/* Subjects as the customers file writes them, and as a JSON line may:
   one each of \u escape, \" and a surrogate pair. */
static const struct {
        const char *yaml, *plain, *json;
} ESCAPED[] = {
    {"cust_0042", "cust_0042", "cust\\u005f0042"},
    {"'q\"x'", "q\"x", "q\\\"x"},
    {"\"e\\U0001F600\"", "e\xf0\x9f\x98\x80", "e\\ud83d\\ude00"},
    {"c00", "c00", "c00"},
};
#define N_ESCAPED (sizeof ESCAPED / sizeof *ESCAPED)

/* 'ev' as a JSON line with its subject written as ESCAPED[k].json. */
static void append_escaped(struct tl_buf *b, const struct sch_event *ev,
                           size_t k)
{
        struct tl_buf j;
        char *at;
        size_t head;

        tl_buf_init(&j, 0);
        cr_assert_eq(sch_encode_json(ev, &j, NULL), TL_OK);
        cr_assert_eq(tl_buf_append(&j, "", 1, NULL), TL_OK);
        at = strstr((char *)j.data, "\"subject\":\"");
        cr_assert_not_null(at, "%s", (char *)j.data);
        head = (size_t)(at - (char *)j.data) + 11;
        cr_assert_eq(tl_buf_append(b, j.data, head, NULL), TL_OK);
        cr_assert_eq(
            tl_buf_append(b, ESCAPED[k].json, strlen(ESCAPED[k].json), NULL),
            TL_OK);
        /* Past the subject as the encoder wrote it: to its closing quote. */
        at += 11;
        while (*at != '"')
                at += *at == '\\' ? 2 : 1;
        cr_assert_eq(tl_buf_append(b, at, strlen(at), NULL), TL_OK);
        cr_assert_eq(tl_buf_append(b, "\n", 1, NULL), TL_OK);
        tl_buf_release(&j);
}

static void rate_escaped(const char *events, const char *threads, bool skip,
                         struct tk_proc_result *r)
{
        char catalog[512];
        const char *argv[16] = {tk_tally_bin(), "rate",        "--rules",
                                catalog,        "--customers", path("esc.yaml"),
                                "--period",     "2026-10",     "--threads",
                                threads,        "--events",    events};
        int n = 12;

        snprintf(catalog, sizeof catalog, "%s/tests/rating/worked/catalog.yaml",
                 tk_source_dir());
        if (skip)
                argv[n++] = "--skip-invalid";
        argv[n] = NULL;
        cr_assert_eq(tk_run(argv, 60000, r), 0);
        cr_assert_eq(r->exit_code, 0, "%s %s: %s (signal %d)", events, threads,
                     r->err, r->term_signal);
}

/* The subject routes by its decoded text: an escaped one is the same
   customer, whichever thread count reads it. */
Test(offline, escaped_subjects_rate_as_the_unescaped_ones, .init = setup,
     .fini = teardown, .timeout = 120)
{
        struct tl_buf plain, esc;
        struct sch_event ev;
        char id[32], sub[16];
        struct tk_proc_result base, r;
        FILE *f = fopen(path("esc.yaml"), "w");
        static const char *const threads[] = {"1", "3"};

        cr_assert(f);
        fputs("customers:\n", f);
        for (size_t k = 0; k < N_ESCAPED; k++)
                fprintf(f, "  - { id: %s, plan: pro, start: 2026-09-01 }\n",
                        ESCAPED[k].yaml);
        fclose(f);
        tl_buf_init(&plain, 0);
        tl_buf_init(&esc, 0);
        for (unsigned i = 0; i < 400; i++) {
                size_t k = i % N_ESCAPED;

                event(i, false, &ev, id, sub);
                ev.subject = (struct sch_str){
                    ESCAPED[k].plain, (uint32_t)strlen(ESCAPED[k].plain)};
                append(&plain, &ev, true);
                append_escaped(&esc, &ev, k);
        }
        save("plain.cbor", &plain);
        save("esc.jsonl", &esc);
        tl_buf_release(&plain);
        tl_buf_release(&esc);
        rate_escaped(path("plain.cbor"), "1", false, &base);
        cr_assert(strstr(base.err, "400 events read, 400 rated"), "%s",
                  base.err);
        for (size_t k = 0; k < N_ESCAPED; k++) {
                char want[64];

                snprintf(want, sizeof want, "\"%s\"",
                         k == 1 ? "q\\\"x" : ESCAPED[k].plain);
                cr_assert(strstr(base.out, want), "%s in %s", want, base.out);
        }
        for (size_t t = 0; t < 2; t++)
                for (int skip = 0; skip < 2; skip++) {
                        rate_escaped(path("esc.jsonl"), threads[t], skip, &r);
                        cr_assert(strstr(r.err, "400 events read, 400 rated"),
                                  "--threads %s: %s", threads[t], r.err);
                        cr_assert_str_eq(r.out, base.out, "--threads %s%s",
                                         threads[t],
                                         skip ? " --skip-invalid" : "");
                        tk_proc_result_release(&r);
                }
        tk_proc_result_release(&base);
}

/* A key the quick scan cannot read (`"subj\u0065ct"`) misroutes its line:
   the run is redone by one thread, once, with the same invoices. */
Test(offline, a_misrouted_line_is_redone_once_in_order, .init = setup,
     .fini = teardown, .timeout = 120)
{
        struct tl_buf plain, odd;
        struct sch_event ev;
        char id[32], sub[16];
        struct tk_proc_result base, r;
        static const char *const threads[] = {"1", "3"};

        tl_buf_init(&plain, 0);
        tl_buf_init(&odd, 0);
        for (unsigned i = 0; i < 2000; i++) {
                size_t len = odd.len;
                char *key;

                event(i, false, &ev, id, sub);
                append(&plain, &ev, false);
                append(&odd, &ev, false);
                if (i % 500 != 7)
                        continue;
                cr_assert_eq(tl_buf_append(&odd, "", 1, NULL), TL_OK);
                key = strstr((char *)odd.data + len, "\"subject\"");
                cr_assert_not_null(key);
                odd.len--;
                /* The key and the rest of the line, written again. */
                {
                        char rest[4096];

                        snprintf(rest, sizeof rest, "\"subj\\u0065ct\"%s",
                                 key + 9);
                        odd.len = (size_t)(key - (char *)odd.data);
                        cr_assert_eq(
                            tl_buf_append(&odd, rest, strlen(rest), NULL),
                            TL_OK);
                }
        }
        save("plain.jsonl", &plain);
        save("odd.jsonl", &odd);
        tl_buf_release(&plain);
        tl_buf_release(&odd);
        rate(path("plain.jsonl"), NULL, "1", &base);
        cr_assert(strstr(base.err, "2000 events read, 2000 rated"), "%s",
                  base.err);
        for (size_t t = 0; t < 2; t++) {
                rate(path("odd.jsonl"), NULL, threads[t], &r);
                cr_assert_str_eq(r.err, base.err, "--threads %s", threads[t]);
                cr_assert_str_eq(r.out, base.out, "--threads %s", threads[t]);
                tk_proc_result_release(&r);
        }
        tk_proc_result_release(&base);
}

/* ---- all or nothing ---- */

/* One customer's amount cannot be written in 38 digits: the run fails and
   prints no document, not one without that customer. */
Test(offline, an_invoice_that_fails_leaves_stdout_empty, .init = setup,
     .fini = teardown, .timeout = 60)
{
        static const char *const formats[] = {"json", "table"};
        struct tl_buf b;
        struct sch_event ev;
        char id[32], sub[16];
        struct tk_proc_result r;
        FILE *f = fopen(path("huge.yaml"), "w");
        const char *argv[] = {tk_tally_bin(),
                              "rate",
                              "--rules",
                              path("huge.yaml"),
                              "--customers",
                              path("customers.yaml"),
                              "--period",
                              "2026-10",
                              "--events",
                              path("huge.jsonl"),
                              "--format",
                              "json",
                              NULL};

        cr_assert(f);
        /* 1e36 a token fits an amount; 1000 tokens of it do not. */
        fputs("catalog: t\nversion: \"1\"\neffective_from: 2026-01-01\n"
              "currency: USD\nmeters:\n"
              "  out: { event: inference.tokens, value: output_tokens, "
              "aggregation: sum }\n"
              "plans:\n  pro:\n    charges:\n"
              "      - { id: out, meter: out, model: per_unit, price: 1e36 }\n",
              f);
        fclose(f);
        tl_buf_init(&b, 0);
        for (unsigned i = 0; i < 3; i++) {
                event(i, false, &ev, id, sub);
                ev.type = SCH_TYPE_TOKENS;
                ev.model = (struct sch_str){"coder-7b", 8};
                ev.deployment = SCH_DEPLOY_CLOUD;
                ev.decoding = (struct sch_str){"diffusion", 9};
                ev.subject = (struct sch_str){i == 1 ? "c07" : "c03", 3};
                ev.output_tokens = i == 1 ? 1000 : 1;
                append(&b, &ev, false);
        }
        save("huge.jsonl", &b);
        tl_buf_release(&b);
        for (size_t k = 0; k < 2; k++) {
                argv[11] = formats[k];
                cr_assert_eq(tk_run(argv, 30000, &r), 0);
                cr_assert_eq(r.exit_code, 1, "%s", r.err);
                cr_assert(strstr(r.err, "amount too large for 38 digits"), "%s",
                          r.err);
                cr_assert_str_eq(r.out, "", "--format %s", formats[k]);
                tk_proc_result_release(&r);
        }
}
