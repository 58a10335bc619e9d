/* The catalog and customers loaders: every validation rule at its exact
   place, the worked example's content, versions and `tally rules check`
   (allocation failure: test_catalog_alloc.c). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/time.h"
#include "rating/catalog.h"
#include "rating/customers.h"
#include "core/yaml.h"
#include "testkit.h"

#define BAD_DIR "tests/rating/catalogs/bad"
#define GOOD_DIR "tests/rating/catalogs/good"
#define WORKED "tests/rating/worked/catalog.yaml"
#define SEVERAL "tests/rating/catalogs/bad/several-faults.yaml"
#define CUSTOMERS_BAD_DIR "tests/rating/catalogs/customers-bad"

/* ---- helpers ---- */

static char *src(const char *rel)
{
        static char buf[4][1024];
        static int next;
        char *p = buf[next++ % 4];

        snprintf(p, sizeof buf[0], "%s/%s", tk_source_dir(), rel);
        return p;
}

/* rate_diags is 20 KiB: kept off the stack, and zeroed as the API wants. */
static struct rate_diags *diags_new(void)
{
        struct rate_diags *d = calloc(1, sizeof *d);

        cr_assert_not_null(d);
        return d;
}

static int64_t day(int y, unsigned m, unsigned d)
{
        return tl_days_from_civil(y, m, d);
}

static bool dec_is(const struct tl_dec *d, const char *text)
{
        struct tl_dec want;

        return tl_dec_parse(text, strlen(text), &want, NULL) == TL_OK &&
               tl_dec_cmp(d, &want) == 0;
}

static bool exact(const struct tl_dec *d, long long coef, int scale)
{
        return d->coef == coef && d->scale == scale;
}

/* A corpus expectation: "# expect: LINE:COL: text" at the top of a file. */
struct expect {
        unsigned line, col;
        char text[RATE_DIAG_MSG_MAX];
};

static size_t read_expects(const char *path, struct expect *ex, size_t max)
{
        char row[512];
        size_t n = 0;
        FILE *f = fopen(path, "r");

        cr_assert_not_null(f, "%s", path);
        while (n < max && fgets(row, sizeof row, f) &&
               sscanf(row, "# expect: %u:%u: %319[^\n]", &ex[n].line,
                      &ex[n].col, ex[n].text) == 3)
                n++;
        fclose(f);
        return n;
}

/* 'msg' is "'path':'e->line':'e->col': ..." and holds 'e->text' after. */
static bool diag_matches(const char *msg, const char *path,
                         const struct expect *e)
{
        char at[1200];
        int len = snprintf(at, sizeof at, "%s:%u:%u: ", path, e->line, e->col);

        return strncmp(msg, at, (size_t)len) == 0 &&
               strstr(msg + len, e->text) != NULL;
}

static char *temp_dir(void)
{
        static char dir[64];

        snprintf(dir, sizeof dir, "/tmp/tally-catalog-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        return dir;
}

static void write_file(const char *dir, const char *name, const char *text)
{
        char path[256];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", dir, name);
        f = fopen(path, "w");
        cr_assert_not_null(f, "%s", path);
        fputs(text, f);
        fclose(f);
}

/* Temp directories here hold files only. */
static void remove_dir(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        char path[512];

        while (d && (e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.' &&
                    (!e->d_name[1] || strcmp(e->d_name, "..") == 0))
                        continue;
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                unlink(path);
        }
        if (d)
                closedir(d);
        rmdir(dir);
}

/* A small valid catalog for tests that vary one thing. */
#define METERS                                                                 \
        "meters:\n"                                                            \
        "  out: { event: inference.tokens, value: output_tokens, "             \
        "aggregation: sum }\n"
#define HEAD                                                                   \
        "catalog: t\n"                                                         \
        "version: \"1\"\n"                                                     \
        "effective_from: 2026-10-01\n"                                         \
        "currency: USD\n" METERS
#define PLAN                                                                   \
        "plans:\n"                                                             \
        "  pro:\n"                                                             \
        "    charges:\n"                                                       \
        "      - { id: out, meter: out, model: per_unit, price: 0.5 }\n"

/* ---- the bad corpus: one file per rule ---- */

/* Load a file (and free what it made): a catalog or a customers file. */
typedef tl_status (*load_fn)(const char *path, struct rate_diags *d,
                             struct tl_error *err);

static tl_status load_catalog(const char *path, struct rate_diags *d,
                              struct tl_error *err)
{
        struct rate_catalog *cat = NULL;
        tl_status rc = rate_catalog_load_file(path, &cat, d, err);

        cr_expect_eq(cat != NULL, rc == TL_OK, "%s", path);
        rate_catalog_free(&cat);
        return rc;
}

static tl_status load_customers(const char *path, struct rate_diags *d,
                                struct tl_error *err)
{
        struct rate_customers *cs = NULL;
        tl_status rc = rate_customers_load_file(path, &cs, d, err);

        cr_expect_eq(cs != NULL, rc == TL_OK, "%s", path);
        rate_customers_free(&cs);
        return rc;
}

/*
** Load the file at 'path' and check it against its "# expect:" lines:
** exactly those messages in order, the first also in 'err'. A file with
** none must load cleanly; in a bad corpus every file needs one.
*/
static void check_file(const char *path, bool bad, load_fn load)
{
        struct expect ex[16];
        size_t n = read_expects(path, ex, 16);
        struct rate_diags *d = diags_new();
        struct tl_error err = {TL_OK, ""};
        tl_status rc = load(path, d, &err);

        cr_expect_eq(n > 0, bad, "%s: '# expect:' lines", path);
        cr_expect(n ? rc == TL_EINVAL || rc == TL_EPARSE || rc == TL_ELIMIT
                    : rc == TL_OK,
                  "%s: %s %s", path, tl_status_name(rc), err.msg);
        cr_expect_eq(d->count, n, "%s: %zu messages, want %zu; first: %s", path,
                     d->count, n, d->msg[0]);
        for (size_t k = 0; k < n && k < d->count; k++)
                cr_expect(diag_matches(d->msg[k], path, &ex[k]),
                          "got '%s', want %u:%u: '%s'", d->msg[k], ex[k].line,
                          ex[k].col, ex[k].text);
        if (n)
                cr_expect_str_eq(err.msg, d->msg[0], "%s", path);
        free(d);
}

static size_t check_dir(const char *rel, bool bad, load_fn load)
{
        DIR *dir = opendir(src(rel));
        struct dirent *e;
        size_t files = 0;
        char path[1024];

        cr_assert_not_null(dir, "%s", src(rel));
        while ((e = readdir(dir)) != NULL) {
                if (!strstr(e->d_name, ".yaml"))
                        continue;
                snprintf(path, sizeof path, "%s/%s", src(rel), e->d_name);
                check_file(path, bad, load);
                files++;
        }
        closedir(dir);
        return files;
}

/* A fault that drags a second, derived message along is a finding too. */
Test(catalog_bad, every_corpus_file_fails_with_exactly_its_expected_messages)
{
        /* A wrong source path must not pass by finding nothing. */
        cr_expect_geq(check_dir(BAD_DIR, true, load_catalog), 90);
}

Test(catalog_good, every_good_file_loads_without_messages)
{
        struct rate_catalog_set *set = NULL;
        struct tl_error err;
        size_t files = check_dir(GOOD_DIR, false, load_catalog);

        /* Together they are one valid rules directory, too. */
        cr_assert_eq(rate_catalog_set_load(src(GOOD_DIR), &set, NULL, &err),
                     TL_OK, "%s", err.msg);
        cr_expect_eq(set->count, files);
        rate_catalog_set_free(&set);
}

/* 'cheap' extends 'pro' there: its inherited faults are not repeated. */
Test(catalog, one_file_reports_every_fault_once)
{
        struct expect ex[16];

        cr_assert_eq(read_expects(src(SEVERAL), ex, 16), 7);
        check_file(src(SEVERAL), true, load_catalog);
}

/* ---- the worked example ---- */

static struct rate_catalog *worked(void)
{
        struct rate_catalog *cat = NULL;
        struct tl_error err;

        cr_assert_eq(rate_catalog_load_file(src(WORKED), &cat, NULL, &err),
                     TL_OK, "%s", err.msg);
        return cat;
}

static struct rate_catalog *good(const char *name)
{
        struct rate_catalog *cat = NULL;
        struct tl_error err;
        char rel[256];

        snprintf(rel, sizeof rel, "%s/%s", GOOD_DIR, name);
        cr_assert_eq(rate_catalog_load_file(src(rel), &cat, NULL, &err), TL_OK,
                     "%s", err.msg);
        return cat;
}

Test(worked, header_names_version_date_currency_and_file_hash)
{
        struct rate_catalog *cat = worked();
        const char *argv[] = {"/usr/bin/sha256sum", src(WORKED), NULL};
        struct tk_proc_result r;

        cr_assert_str_eq(cat->name, "acme-ai");
        cr_assert_str_eq(cat->version, "2026-10");
        cr_assert_eq(cat->effective_from_day, day(2026, 10, 1));
        cr_assert_str_eq(cat->currency->code, "USD");
        cr_assert_eq(cat->currency->minor_digits, 2);
        cr_assert_str_eq(cat->path, src(WORKED));
        if (access(argv[0], X_OK) != 0)
                argv[0] = "/bin/sha256sum";
        cr_assert_eq(tk_run(argv, 10000, &r), 0);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert_eq(strncmp(r.out, cat->sha256_hex, 64), 0, "%s vs %s", r.out,
                     cat->sha256_hex);
        tk_proc_result_release(&r);
        rate_catalog_free(&cat);
        cr_assert_null(cat);
}

Test(worked, meters_resolve_event_value_filter_and_group_by)
{
        static const struct {
                const char *id;
                sch_event_type event;
                rate_aggregation agg;
                rate_field_kind value;
                const char *deployment;
        } want[] = {
            {"cloud-output", SCH_TYPE_TOKENS, RATE_AGG_SUM,
             RATE_FIELD_OUTPUT_TOKENS, "cloud"},
            {"cloud-input", SCH_TYPE_TOKENS, RATE_AGG_SUM,
             RATE_FIELD_INPUT_TOKENS, "cloud"},
            {"local-output", SCH_TYPE_TOKENS, RATE_AGG_SUM,
             RATE_FIELD_OUTPUT_TOKENS, "device"},
            {"denoise-steps", SCH_TYPE_ITERATIONS, RATE_AGG_SUM,
             RATE_FIELD_ITERATIONS, "cloud"},
            {"compute", SCH_TYPE_MATRIX_OPS, RATE_AGG_SUM, RATE_FIELD_MAC,
             "cloud"},
            {"devices", SCH_TYPE_SEAT, RATE_AGG_SEATS, RATE_FIELD_DIM, NULL},
        };
        struct rate_catalog *cat = worked();

        cr_assert_eq(cat->meter_count, 6);
        for (size_t i = 0; i < 6; i++) {
                const struct rate_meter *m = &cat->meters[i];

                cr_assert_str_eq(m->id, want[i].id, "in document order");
                cr_assert_eq(m->event, want[i].event, "%s", m->id);
                cr_assert_eq(m->aggregation, want[i].agg, "%s", m->id);
                cr_assert_eq(m->value.kind, want[i].value, "%s", m->id);
                cr_assert_eq(m->filter_count, want[i].deployment ? 1 : 0);
                if (!want[i].deployment)
                        continue;
                cr_assert_eq(m->filters[0].field.kind, RATE_FIELD_DEPLOYMENT);
                cr_assert_eq(m->filters[0].value_count, 1);
                cr_assert_str_eq(m->filters[0].values[0], want[i].deployment);
                cr_assert_eq(m->group_by_count, i == 0 ? 1 : 0, "%s", m->id);
        }
        cr_assert_eq(cat->meters[0].group_by[0].kind, RATE_FIELD_DECODING);
        cr_assert_eq(rate_catalog_meter(cat, "compute"), 4);
        cr_assert_eq(rate_catalog_meter(cat, "nope"), RATE_NO_INDEX);
        rate_catalog_free(&cat);
}

/* What both plans share: pro's fees, seats, minimum and savings. */
static void expect_pro_base(const struct rate_catalog *cat,
                            const struct rate_plan *p)
{
        cr_assert_eq(p->fee_count, 1, "%s", p->id);
        cr_assert_str_eq(p->fees[0].id, "platform");
        cr_assert_str_eq(p->fees[0].name, "Platform fee");
        cr_assert(dec_is(&p->fees[0].amount, "49.00"));
        cr_assert_eq(p->seat_meter, rate_catalog_meter(cat, "devices"));
        cr_assert_eq(p->seat_price_count, 2);
        cr_assert_str_eq(p->seat_prices[0].model_class, "medium");
        cr_assert(dec_is(&p->seat_prices[0].price, "9"));
        cr_assert_str_eq(p->seat_prices[1].model_class, "small");
        cr_assert(dec_is(&p->seat_prices[1].price, "4"));
        cr_assert(p->has_minimum);
        cr_assert(dec_is(&p->minimum, "100"));
        cr_assert_eq(p->savings_count, 1);
        cr_assert_eq(p->savings[0].meter,
                     rate_catalog_meter(cat, "local-output"));
        cr_assert_eq(p->savings[0].charge, rate_plan_charge(p, "cloud-output"));
        cr_assert_eq(p->charge_count, 4);
}

static void expect_charge(const struct rate_plan *p, const char *id,
                          const char *unit, const char *price)
{
        const struct rate_charge *c = &p->charges[rate_plan_charge(p, id)];

        cr_assert_eq(c->model, RATE_MODEL_PER_UNIT, "%s", id);
        cr_assert(dec_is(&c->unit, unit), "%s unit", id);
        cr_assert(dec_is(&c->price, price), "%s price", id);
        cr_assert(tl_dec_is_zero(&c->included));
}

static void expect_cloud_output(const struct rate_plan *p, const char *low,
                                const char *high)
{
        const struct rate_charge *c = &p->charges[0];

        cr_assert_str_eq(c->id, "cloud-output");
        cr_assert_str_eq(c->name, "Cloud output tokens");
        cr_assert_eq(c->model, RATE_MODEL_GRADUATED);
        cr_assert(dec_is(&c->unit, "1000000"));
        cr_assert(dec_is(&c->included, "2000000"));
        cr_assert_eq(c->weight_count, 1);
        cr_assert_eq(c->weights[0].group_index, 0);
        cr_assert_str_eq(c->weights[0].value, "diffusion");
        cr_assert(dec_is(&c->weights[0].factor, "0.5"));
        cr_assert_eq(c->tier_count, 2);
        cr_assert_not(c->tiers[0].open);
        cr_assert(dec_is(&c->tiers[0].up_to, "10000000"));
        cr_assert(dec_is(&c->tiers[0].price, low), "%s", p->id);
        cr_assert(c->tiers[1].open);
        cr_assert(dec_is(&c->tiers[1].price, high), "%s", p->id);
}

Test(worked, extends_inherits_everything_and_merges_the_charge_by_key)
{
        struct rate_catalog *cat = worked();
        const struct rate_plan *pro, *low;

        cr_assert_eq(cat->plan_count, 2);
        pro = &cat->plans[rate_catalog_plan(cat, "pro")];
        low = &cat->plans[rate_catalog_plan(cat, "pro-lower-output")];
        cr_assert_str_eq(pro->name, "Pro");
        expect_pro_base(cat, pro);
        expect_pro_base(cat, low);
        expect_cloud_output(pro, "0.60", "0.40");
        /* Only the tiers are overridden: model, unit, included, weights
           and name come from pro's charge of the same id. */
        expect_cloud_output(low, "0.50", "0.35");
        for (size_t i = 0; i < 2; i++) {
                const struct rate_plan *p = i ? low : pro;

                expect_charge(p, "cloud-input", "1000000", "0.15");
                expect_charge(p, "denoise", "1000", "0.002");
                expect_charge(p, "compute", "1e12", "0.0001");
        }
        rate_catalog_free(&cat);
}

Test(worked, cohorts_split_the_buckets_and_place_the_example_customer)
{
        struct rate_catalog *cat = worked();
        const struct rate_experiment *e;
        const char *key = "q4-2026:cust_0042";

        cr_assert_eq(cat->experiment_count, 1);
        e = &cat->experiments[0];
        cr_assert_str_eq(e->id, "output-price-q4");
        cr_assert_str_eq(e->salt, "q4-2026");
        cr_assert_eq(e->plan, rate_catalog_plan(cat, "pro"));
        cr_assert_eq(e->cohort_count, 2);
        cr_assert_str_eq(e->cohorts[0].name, "control");
        cr_assert_eq(e->cohorts[0].plan, rate_catalog_plan(cat, "pro"));
        cr_assert_eq(e->cohorts[0].bucket_lo, 0);
        cr_assert_eq(e->cohorts[0].bucket_hi, 5000);
        cr_assert_str_eq(e->cohorts[1].name, "lower");
        cr_assert_eq(e->cohorts[1].plan,
                     rate_catalog_plan(cat, "pro-lower-output"));
        cr_assert_eq(e->cohorts[1].bucket_lo, 5000);
        cr_assert_eq(e->cohorts[1].bucket_hi, 10000);
        /* The spec's example, digit for digit. */
        cr_assert_eq(rate_fnv1a64(key, strlen(key), 0xcbf29ce484222325ULL),
                     0x13d6aeda25e9c5c5ULL);
        cr_assert_eq(rate_bucket("q4-2026", "cust_0042"), 2229);
        cr_assert_eq(rate_experiment_cohort(e, 2229), 0);
        /* And the worked README's second customer. */
        cr_assert_eq(rate_bucket("q4-2026", "cust_A"), 7726);
        cr_assert_eq(rate_experiment_cohort(e, 7726), 1);
        cr_assert_eq(rate_experiment_cohort(e, 4999), 0);
        cr_assert_eq(rate_experiment_cohort(e, 5000), 1);
        cr_assert_eq(rate_experiment_cohort(e, 9999), 1);
        rate_catalog_free(&cat);
}

Test(catalog, uneven_cohort_weights_floor_each_boundary)
{
        struct rate_catalog *cat = good("cohorts.yaml");
        const struct rate_cohort *c = cat->experiments[0].cohorts;

        /* floor(10000 x 1/3) = 3333, floor(10000 x 2/3) = 6666. */
        cr_assert_eq(c[0].bucket_lo, 0);
        cr_assert_eq(c[0].bucket_hi, 3333);
        cr_assert_eq(c[1].bucket_lo, 3333);
        cr_assert_eq(c[1].bucket_hi, 6666);
        cr_assert_eq(c[1].plan, rate_catalog_plan(cat, "b"));
        cr_assert_eq(c[2].bucket_lo, 6666);
        cr_assert_eq(c[2].bucket_hi, 10000);
        cr_assert_eq(c[2].plan, rate_catalog_plan(cat, "a"));
        /* A positive weight too small for one bucket is accepted and holds
           none: the spec's floors, computed exactly. */
        c = cat->experiments[1].cohorts;
        cr_assert_eq(c[0].bucket_hi, 0);
        cr_assert_eq(c[1].bucket_lo, 0);
        cr_assert_eq(c[1].bucket_hi, 10000);
        rate_catalog_free(&cat);
}

/* ---- numbers and limits ---- */

Test(catalog, numbers_are_parsed_exactly_from_their_text)
{
        struct rate_catalog *cat = good("numbers.yaml");
        const struct rate_plan *p = &cat->plans[0];

        /* Written digits are kept: 0.60 has scale 2, however quoted. */
        cr_assert(exact(&p->charges[0].price, 60, 2));
        cr_assert(exact(&p->charges[1].price, 60, 2));
        cr_assert(exact(&p->charges[2].unit, 1000000000000, 0));
        cr_assert(exact(&p->charges[2].price, 1, 12));
        cr_assert(exact(&p->charges[3].size, 1000000, 0));
        cr_assert(exact(&p->charges[3].price, 7, 0));
        cr_assert(exact(&p->minimum, 10000005, 4));
        rate_catalog_free(&cat);
}

/* HEAD PLAN padded with one comment line to exactly 'len' bytes. */
static char *padded(size_t len)
{
        const char *base = HEAD PLAN;
        char *buf = malloc(len);

        cr_assert_not_null(buf);
        memcpy(buf, base, strlen(base));
        memset(buf + strlen(base), 'x', len - strlen(base));
        buf[strlen(base)] = '#';
        buf[len - 1] = '\n';
        return buf;
}

Test(catalog, document_of_1_mib_loads_and_one_byte_more_is_refused)
{
        struct rate_catalog *cat = NULL;
        struct rate_diags *d = diags_new();
        struct tl_error err;
        char *buf = padded(TL_YAML_MAX_BYTES + 1);
        char *dir = temp_dir(), path[128];
        FILE *f;

        cr_assert_eq(rate_catalog_parse("big.yaml", buf, TL_YAML_MAX_BYTES,
                                        &cat, NULL, &err),
                     TL_OK, "%s", err.msg);
        rate_catalog_free(&cat);
        cr_assert_eq(rate_catalog_parse("big.yaml", buf, TL_YAML_MAX_BYTES + 1,
                                        &cat, d, &err),
                     TL_ELIMIT);
        cr_assert(strstr(err.msg, "big.yaml: document of 1048577 bytes is "
                                  "over the 1 MiB limit"),
                  "%s", err.msg);
        cr_assert_eq(d->count, 1);
        cr_assert_null(cat);
        /* From a file too: the reader stops one byte past the limit. */
        snprintf(path, sizeof path, "%s/big.yaml", dir);
        f = fopen(path, "w");
        fwrite(buf, 1, TL_YAML_MAX_BYTES + 1, f);
        fwrite("# more\n", 1, 7, f);
        fclose(f);
        cr_assert_eq(rate_catalog_load_file(path, &cat, d, &err), TL_ELIMIT);
        cr_assert(strstr(err.msg, "1 MiB"), "%s", err.msg);
        remove_dir(dir);
        free(buf);
        free(d);
}

Test(catalog, nesting_of_32_is_read_and_33_is_refused)
{
        char text[1024];
        struct rate_catalog *cat = NULL;
        struct rate_diags *d = diags_new();
        struct tl_error err;

        /* The root map and 31 lists: 32 levels, read, so validation runs
           (nesting-33.yaml in the corpus is the refused case). */
        snprintf(text, sizeof text, HEAD PLAN "x: %.31s%.31s\n",
                 "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
                 "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
        cr_assert_eq(
            rate_catalog_parse("t.yaml", text, strlen(text), &cat, d, &err),
            TL_EINVAL, "%s", err.msg);
        cr_assert_eq(d->count, 1);
        cr_assert_str_eq(d->msg[0], "t.yaml:11:1: unknown key 'x'");
        free(d);
}

/* ---- versions ---- */

static const char *version_text(const char *version, const char *date)
{
        static char buf[1024];

        snprintf(buf, sizeof buf,
                 "catalog: t\nversion: \"%s\"\neffective_from: %s\n"
                 "currency: USD\n%s",
                 version, date, METERS PLAN);
        return buf;
}

Test(catalog_set, picks_the_latest_effective_on_or_before_the_period_start)
{
        char *dir = temp_dir();
        struct rate_catalog_set *s = NULL;
        struct tl_error err;

        /* File names sort the other way from their dates, and only *.yaml
           and *.yml not starting with '.' are catalogs. */
        write_file(dir, "a.yaml", version_text("2026-11", "2026-11-01"));
        write_file(dir, "b.yml", version_text("2026-10", "2026-10-01"));
        write_file(dir, ".a.yaml.swp", "not: yaml: at all");
        write_file(dir, "README.md", "# notes\n");
        cr_assert_eq(rate_catalog_set_load(dir, &s, NULL, &err), TL_OK, "%s",
                     err.msg);
        cr_assert_eq(s->count, 2);
        cr_assert_str_eq(s->catalogs[0]->version, "2026-10");
        cr_assert_null(rate_catalog_set_pick(s, day(2026, 9, 30)));
        cr_assert_str_eq(rate_catalog_set_pick(s, day(2026, 10, 1))->version,
                         "2026-10");
        cr_assert_str_eq(rate_catalog_set_pick(s, day(2026, 10, 31))->version,
                         "2026-10");
        cr_assert_str_eq(rate_catalog_set_pick(s, day(2026, 11, 1))->version,
                         "2026-11");
        cr_assert_str_eq(rate_catalog_set_pick(s, day(2030, 1, 1))->version,
                         "2026-11");
        rate_catalog_set_free(&s);
        cr_assert_null(s);
        remove_dir(dir);
}

Test(catalog_set, version_or_date_in_two_files_refuses_the_set)
{
        char *dir = temp_dir(), want[256];
        struct rate_catalog_set *s = NULL;
        struct rate_diags *d = diags_new();
        struct tl_error err;

        write_file(dir, "a.yaml", version_text("1", "2026-10-01"));
        write_file(dir, "b.yaml", version_text("1", "2026-11-01"));
        write_file(dir, "c.yaml", version_text("2", "2026-10-01"));
        cr_assert_eq(rate_catalog_set_load(dir, &s, d, &err), TL_EINVAL);
        cr_assert_null(s);
        cr_assert_eq(d->count, 2);
        /* 1:1, not the duplicated key: a loaded catalog keeps no node
           positions for the set to point at. */
        snprintf(want, sizeof want,
                 "%s/b.yaml:1:1: version 1 is also in %s/a.yaml", dir, dir);
        cr_assert_str_eq(d->msg[0], want);
        cr_assert_str_eq(err.msg, want);
        snprintf(want, sizeof want,
                 "%s/c.yaml:1:1: effective_from of version 2 is also in "
                 "%s/a.yaml",
                 dir, dir);
        cr_assert_str_eq(d->msg[1], want);
        remove_dir(dir);
        free(d);
}

Test(catalog_set, every_bad_file_is_reported_and_an_empty_dir_is_not_found)
{
        char *dir = temp_dir();
        struct rate_catalog_set *s = NULL;
        struct rate_diags *d = diags_new();
        struct tl_error err;

        cr_assert_eq(rate_catalog_set_load(dir, &s, d, &err), TL_ENOTFOUND);
        write_file(dir, "a.yaml", "catalog: t\n");
        write_file(dir, "b.yaml", version_text("1", "2026-10-01"));
        write_file(dir, "c.yaml", "catalog: [\n");
        d->count = 0;
        cr_assert_eq(rate_catalog_set_load(dir, &s, d, &err), TL_EINVAL);
        cr_assert_null(s);
        /* a.yaml's four missing keys, then c.yaml's syntax error. */
        cr_assert_eq(d->count, 5, "%zu", d->count);
        cr_assert(
            strstr(d->msg[0], "a.yaml:1:1: missing required key 'version'"),
            "%s", d->msg[0]);
        cr_assert(strstr(d->msg[4], "c.yaml:2:1: "), "%s", d->msg[4]);
        remove_dir(dir);
        cr_assert_eq(rate_catalog_set_load(dir, &s, NULL, &err), TL_EIO);
        free(d);
}

/* ---- customers ---- */

/* catalogs/customers-bad: one file per rule, "# expect:" as for catalogs. */
Test(customers, each_fault_is_reported_at_its_place)
{
        cr_expect_geq(check_dir(CUSTOMERS_BAD_DIR, true, load_customers), 16);
}

Test(customers, valid_file_keeps_dates_rates_credits_and_placements)
{
        const char *text =
            "customers:\n"
            "  - id: cust_A\n"
            "    plan: pro\n"
            "    start: 2026-10-15\n"
            "    end: 2026-10-16\n"
            "    tax_rate: 1\n"
            "    credits: 50.00\n"
            "    cohorts: { output-price-q4: lower }\n"
            "  - { id: cust_0042, plan: pro, start: 2026-09-01 }\n";
        struct rate_customers *cs = NULL;
        struct tl_error err;
        const struct rate_customer *c;

        cr_assert_eq(
            rate_customers_parse("c.yaml", text, strlen(text), &cs, NULL, &err),
            TL_OK, "%s", err.msg);
        cr_assert_eq(cs->count, 2);
        cr_assert_str_eq(cs->items[0].id, "cust_0042", "sorted by id");
        c = rate_customers_find(cs, "cust_A", 6);
        cr_assert_not_null(c);
        cr_assert_eq(c->line, 2);
        cr_assert_eq(c->plan_line, 3);
        cr_assert_eq(c->plan_col, 11);
        cr_assert_eq(c->start_day, day(2026, 10, 15));
        cr_assert(c->has_end);
        cr_assert_eq(c->end_day, day(2026, 10, 16));
        cr_assert(dec_is(&c->tax_rate, "1"), "1 is the top of the range");
        cr_assert(dec_is(&c->credits, "50"));
        cr_assert_eq(c->placement_count, 1);
        cr_assert_str_eq(c->placements[0].experiment, "output-price-q4");
        cr_assert_str_eq(c->placements[0].cohort, "lower");
        cr_assert_eq(c->placements[0].line, 8);
        cr_assert_eq(c->placements[0].col, 33);
        c = rate_customers_find(cs, "cust_0042", 9);
        cr_assert_not(c->has_end);
        cr_assert(tl_dec_is_zero(&c->tax_rate));
        cr_assert_null(rate_customers_find(cs, "cust_", 5));
        rate_customers_free(&cs);
        cr_assert_null(cs);
}

/* ---- tally rules check ---- */

static struct tk_proc_result rules_check(const char *a, const char *b)
{
        const char *argv[] = {tk_tally_bin(), "rules", "check", a, b, NULL};
        struct tk_proc_result r;

        cr_assert_eq(tk_run(argv, 20000, &r), 0);
        return r;
}

Test(rules_check, good_catalog_prints_a_summary_and_exits_0)
{
        struct tk_proc_result r = rules_check(src(WORKED), NULL);

        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert(strstr(r.out,
                         "ok: catalog acme-ai version 2026-10, 6 meters, "
                         "2 plans, 1 experiments, sha256 "),
                  "%s", r.out);
        cr_assert_str_eq(r.err, "");
        tk_proc_result_release(&r);
}

Test(rules_check, bad_catalog_prints_every_message_and_exits_2)
{
        struct expect ex[16];
        const char *path = src(SEVERAL);
        size_t n = read_expects(path, ex, 16), lines = 0;
        struct tk_proc_result r = rules_check(src(WORKED), path);

        /* Every path is checked: the good one is still summarised. */
        cr_assert_eq(r.exit_code, 2, "%s", r.err);
        cr_assert(strstr(r.out, "ok: catalog acme-ai"), "%s", r.out);
        for (char *line = strtok(r.err, "\n"); line;
             line = strtok(NULL, "\n"), lines++)
                cr_expect(lines < n && diag_matches(line, path, &ex[lines]),
                          "line %zu: %s", lines, line);
        cr_assert_eq(lines, n, "%s", r.err);
        tk_proc_result_release(&r);
}
