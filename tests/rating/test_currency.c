/* Catalogs per currency: sets with one catalog per currency and date, the
   pick in a customer's currency, and the customers file's currency. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/time.h"
#include "rating/catalog.h"
#include "rating/customers.h"
#include "rating/money.h"
#include "testkit.h"

#define BAD_SETS "tests/rating/catalogs/bad/sets"
#define TWO_CURRENCIES "tests/rating/catalogs/sets/same-date-two-currencies"

static char *src(const char *rel)
{
        static char buf[4][1024];
        static int next;
        char *p = buf[next++ % 4];

        snprintf(p, sizeof buf[0], "%s/%s", tk_source_dir(), rel);
        return p;
}

static int64_t day(int y, unsigned m, unsigned d)
{
        return tl_days_from_civil(y, m, d);
}

static const struct rate_currency *cur(const char *code)
{
        const struct rate_currency *c = rate_currency_find(code, 3);

        cr_assert_not_null(c, "%s", code);
        return c;
}

static int by_name(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
** A bad set: the directory 'dir' loaded as one rules path is refused with
** exactly the messages its files' "# expect: LINE:COL: text" lines name,
** in file-name order, each at its own file.
*/
static void check_set(const char *dir)
{
        char *names[16], row[512], at[1600], text[320];
        size_t n = 0, want = 0;
        struct rate_catalog_set *s = NULL;
        struct rate_diags *d = calloc(1, sizeof *d);
        struct tl_error err;
        DIR *dp = opendir(dir);
        struct dirent *e;

        cr_assert_not_null(dp, "%s", dir);
        cr_assert_not_null(d);
        while ((e = readdir(dp)) != NULL && n < 16)
                if (strstr(e->d_name, ".yaml"))
                        names[n++] = strdup(e->d_name);
        closedir(dp);
        qsort(names, n, sizeof *names, by_name);
        cr_assert_eq(rate_catalog_set_load(dir, &s, d, &err), TL_EINVAL, "%s",
                     dir);
        cr_assert_null(s);
        for (size_t i = 0; i < n; i++) {
                char path[1400];
                unsigned line, col;
                FILE *f;

                snprintf(path, sizeof path, "%s/%s", dir, names[i]);
                f = fopen(path, "r");
                cr_assert_not_null(f, "%s", path);
                while (fgets(row, sizeof row, f) &&
                       sscanf(row, "# expect: %u:%u: %319[^\n]", &line, &col,
                              text) == 3) {
                        int len = snprintf(at, sizeof at, "%s:%u:%u: ", path,
                                           line, col);

                        cr_assert_lt(want, d->count,
                                     "%s: fewer messages than expected", dir);
                        cr_expect(strncmp(d->msg[want], at, (size_t)len) == 0 &&
                                      strstr(d->msg[want] + len, text),
                                  "got '%s', want '%s%s'", d->msg[want], at,
                                  text);
                        want++;
                }
                fclose(f);
                free(names[i]);
        }
        cr_expect_gt(want, 0, "%s: a bad set needs '# expect:' lines", dir);
        cr_expect_eq(d->count, want, "%s: %zu messages, want %zu", dir,
                     d->count, want);
        free(d);
}

Test(currency_sets, each_bad_set_fails_with_exactly_its_expected_messages)
{
        DIR *dp = opendir(src(BAD_SETS));
        struct dirent *e;
        size_t sets = 0;
        char dir[1024];

        cr_assert_not_null(dp);
        while ((e = readdir(dp)) != NULL) {
                if (e->d_name[0] == '.')
                        continue;
                snprintf(dir, sizeof dir, "%s/%s", src(BAD_SETS), e->d_name);
                check_set(dir);
                sets++;
        }
        closedir(dp);
        cr_expect_geq(sets, 1, "a wrong path must not pass by finding none");
}

Test(currency_sets, two_catalogs_of_one_date_in_different_currencies_load)
{
        struct rate_catalog_set *s = NULL;
        struct tl_error err;

        cr_assert_eq(rate_catalog_set_load(src(TWO_CURRENCIES), &s, NULL, &err),
                     TL_OK, "%s", err.msg);
        cr_assert_eq(s->count, 2);
        /* Each currency picks its own, never the other's. */
        cr_assert_str_eq(
            rate_catalog_set_pick_in(s, day(2026, 10, 1), cur("USD"))->version,
            "usd-1");
        cr_assert_str_eq(
            rate_catalog_set_pick_in(s, day(2026, 11, 1), cur("EUR"))->version,
            "eur-1");
        cr_assert_null(
            rate_catalog_set_pick_in(s, day(2026, 10, 1), cur("JPY")));
        cr_assert_null(
            rate_catalog_set_pick_in(s, day(2026, 9, 30), cur("USD")));
        /* Without a currency: the last of the date by file name, on every
           load (usd.yaml sorts after eur.yaml). */
        cr_assert_str_eq(rate_catalog_set_pick(s, day(2026, 10, 1))->version,
                         "usd-1");
        rate_catalog_set_free(&s);
}

Test(currency_sets, a_currency_keeps_its_own_older_catalog_over_a_newer_other)
{
        struct rate_catalog_set *s = NULL;
        struct tl_error err;
        char dir[] = "/tmp/tally-currency-XXXXXX", path[128];
        static const char *const FILES[][2] = {
            {"a.yaml", "version: eur-sep\neffective_from: 2026-09-01\n"
                       "currency: EUR\n"},
            {"b.yaml", "version: usd-nov\neffective_from: 2026-11-01\n"
                       "currency: USD\n"},
            {"c.yaml", "version: kwd-oct\neffective_from: 2026-10-01\n"
                       "currency: KWD\n"},
        };

        cr_assert_not_null(mkdtemp(dir));
        for (size_t i = 0; i < 3; i++) {
                FILE *f;

                snprintf(path, sizeof path, "%s/%s", dir, FILES[i][0]);
                f = fopen(path, "w");
                cr_assert_not_null(f);
                fprintf(f,
                        "catalog: t\n%smeters:\n  out: { event: "
                        "inference.tokens, value: output_tokens, "
                        "aggregation: sum }\nplans:\n  pro:\n    charges:\n"
                        "      - { id: out, meter: out, model: per_unit, "
                        "price: 1 }\n",
                        FILES[i][1]);
                fclose(f);
        }
        cr_assert_eq(rate_catalog_set_load(dir, &s, NULL, &err), TL_OK, "%s",
                     err.msg);
        cr_assert_str_eq(
            rate_catalog_set_pick_in(s, day(2026, 12, 1), cur("EUR"))->version,
            "eur-sep");
        cr_assert_str_eq(
            rate_catalog_set_pick_in(s, day(2026, 12, 1), cur("KWD"))->version,
            "kwd-oct");
        cr_assert_null(
            rate_catalog_set_pick_in(s, day(2026, 10, 1), cur("USD")));
        cr_assert_str_eq(rate_catalog_set_pick(s, day(2026, 10, 1))->version,
                         "kwd-oct");
        rate_catalog_set_free(&s);
        for (size_t i = 0; i < 3; i++) {
                snprintf(path, sizeof path, "%s/%s", dir, FILES[i][0]);
                unlink(path);
        }
        rmdir(dir);
}

Test(currency_customers, a_known_code_is_kept_and_none_means_the_catalogs)
{
        const char *text = "customers:\n"
                           "  - { id: a, plan: pro, start: 2026-10-01,"
                           " currency: KWD }\n"
                           "  - { id: b, plan: pro, start: 2026-10-01 }\n";
        struct rate_customers *cs = NULL;
        struct tl_error err;

        cr_assert_eq(
            rate_customers_parse("c.yaml", text, strlen(text), &cs, NULL, &err),
            TL_OK, "%s", err.msg);
        cr_assert_eq(rate_customers_find(cs, "a", 1)->currency, cur("KWD"));
        cr_assert_eq(rate_customers_find(cs, "a", 1)->currency->minor_digits,
                     3u);
        cr_assert_null(rate_customers_find(cs, "b", 1)->currency);
        rate_customers_free(&cs);
}
