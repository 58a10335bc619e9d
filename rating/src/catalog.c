/* Catalog lookups, cohort placement, and sets of versions. */
#include "rating/catalog.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"

size_t rate_catalog_meter(const struct rate_catalog *c, const char *id)
{
        for (size_t i = 0; i < c->meter_count; i++)
                if (c->meters[i].id && strcmp(c->meters[i].id, id) == 0)
                        return i;
        return RATE_NO_INDEX;
}

size_t rate_catalog_plan(const struct rate_catalog *c, const char *id)
{
        for (size_t i = 0; i < c->plan_count; i++)
                if (c->plans[i].id && strcmp(c->plans[i].id, id) == 0)
                        return i;
        return RATE_NO_INDEX;
}

size_t rate_plan_charge(const struct rate_plan *p, const char *id)
{
        for (size_t i = 0; i < p->charge_count; i++)
                if (p->charges[i].id && strcmp(p->charges[i].id, id) == 0)
                        return i;
        return RATE_NO_INDEX;
}

uint64_t rate_fnv1a64(const void *data, size_t len, uint64_t h)
{
        const unsigned char *p = data;

        for (size_t i = 0; i < len; i++) {
                h ^= p[i];
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)

uint32_t rate_bucket(const char *salt, const char *customer_id)
{
        uint64_t h = rate_fnv1a64(salt, strlen(salt), FNV_OFFSET);

        h = rate_fnv1a64(":", 1, h);
        h = rate_fnv1a64(customer_id, strlen(customer_id), h);
        return (uint32_t)(h % 10000);
}

size_t rate_experiment_cohort(const struct rate_experiment *e, uint32_t bucket)
{
        for (size_t i = 0; i < e->cohort_count; i++)
                if (bucket >= e->cohorts[i].bucket_lo &&
                    bucket < e->cohorts[i].bucket_hi)
                        return i;
        return RATE_NO_INDEX;
}

const char *rate_aggregation_name(rate_aggregation a)
{
        static const char *const N[] = {"sum",    "count",        "max",
                                        "latest", "unique_count", "seats"};
        return (unsigned)a < sizeof N / sizeof *N ? N[a] : "?";
}

const char *rate_model_name(rate_model m)
{
        static const char *const N[] = {"per_unit", "graduated", "volume",
                                        "package", "flat"};
        return (unsigned)m < sizeof N / sizeof *N ? N[m] : "?";
}

/* ---- sets ------------------------------------------------------------------
 */

static int by_effective(const void *a, const void *b)
{
        const struct rate_catalog *x = *(const struct rate_catalog *const *)a;
        const struct rate_catalog *y = *(const struct rate_catalog *const *)b;

        if (x->effective_from_day != y->effective_from_day)
                return (x->effective_from_day > y->effective_from_day) -
                       (x->effective_from_day < y->effective_from_day);
        /* Catalogs of one date differ in currency: by file name, so a pick
           in any currency is the same on every load. */
        return strcmp(x->path, y->path);
}

static int by_name(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_yaml_name(const char *n)
{
        size_t len = strlen(n);

        if (n[0] == '.')
                return false; /* editors' swap and backup files */
        return (len > 5 && strcmp(n + len - 5, ".yaml") == 0) ||
               (len > 4 && strcmp(n + len - 4, ".yml") == 0);
}

/* The files a rules path names, sorted so messages come in a stable order. */
static tl_status list_files(const char *path, char ***out, size_t *out_n,
                            struct tl_error *err)
{
        struct stat st;
        DIR *d;
        struct dirent *e;
        char **names = NULL;
        size_t n = 0;

        if (stat(path, &st) != 0)
                return tl_fail(err, TL_EIO, "%s: no such file or directory",
                               path);
        if (!S_ISDIR(st.st_mode)) {
                names = tl_calloc(1, sizeof *names);
                if (!names || !(names[0] = tl_strdup(path))) {
                        tl_free(names);
                        return tl_fail(err, TL_ENOMEM, "out of memory");
                }
                *out = names;
                *out_n = 1;
                return TL_OK;
        }
        if (!(d = opendir(path)))
                return tl_fail(err, TL_EIO, "%s: cannot open directory", path);
        while ((e = readdir(d)) != NULL) {
                char **grown;
                size_t len;

                if (!is_yaml_name(e->d_name))
                        continue;
                grown = tl_reallocarray(names, n + 1, sizeof *names);
                len = strlen(path) + strlen(e->d_name) + 2;
                if (!grown || !(grown[n] = tl_malloc(len))) {
                        names = grown ? grown : names;
                        for (size_t i = 0; i < n; i++)
                                tl_free(names[i]);
                        tl_free(names);
                        closedir(d);
                        return tl_fail(err, TL_ENOMEM, "out of memory");
                }
                names = grown;
                snprintf(names[n], len, "%s/%s", path, e->d_name);
                n++;
        }
        closedir(d);
        if (n == 0) {
                tl_free(names);
                return tl_fail(err, TL_ENOTFOUND,
                               "%s: no catalog files (*.yaml, *.yml)", path);
        }
        qsort(names, n, sizeof *names, by_name);
        *out = names;
        *out_n = n;
        return TL_OK;
}

tl_status rate_catalog_set_load(const char *path, struct rate_catalog_set **out,
                                struct rate_diags *diags, struct tl_error *err)
{
        struct rate_catalog_set *s;
        char **files = NULL;
        size_t n = 0;
        tl_status rc = list_files(path, &files, &n, err), first = TL_OK;

        if (rc) {
                if (err)
                        rate_diags_add(diags, "%s", err->msg);
                return rc;
        }
        s = tl_calloc(1, sizeof *s);
        if (s)
                s->catalogs = tl_calloc(n, sizeof *s->catalogs);
        if (!s || !s->catalogs) {
                tl_free(s);
                s = NULL;
                first = tl_fail(err, TL_ENOMEM, "out of memory");
        }
        /* Every file is checked, so one run reports every fault. */
        for (size_t i = 0; s && i < n; i++) {
                struct tl_error e;
                struct rate_catalog *c = NULL;

                rc = rate_catalog_load_file(files[i], &c, diags, &e);
                if (rc) {
                        if (!first) {
                                first = rc;
                                if (err)
                                        *err = e;
                        }
                        continue;
                }
                for (size_t j = 0; j < s->count; j++) {
                        const struct rate_catalog *o = s->catalogs[j];

                        /* One date may hold one catalog per currency. */
                        if (strcmp(o->version, c->version) == 0 ||
                            (o->effective_from_day == c->effective_from_day &&
                             o->currency == c->currency)) {
                                bool same_version =
                                    strcmp(o->version, c->version) == 0;

                                rate_diags_add(
                                    diags, "%s:1:1: %s %s is also in %s",
                                    c->path,
                                    same_version ? "version"
                                                 : "effective_from of "
                                                   "version",
                                    c->version, o->path);
                                if (!first)
                                        first = tl_fail(
                                            err, TL_EINVAL,
                                            "%s:1:1: %s %s is also in %s",
                                            c->path,
                                            same_version ? "version"
                                                         : "effective_from of "
                                                           "version",
                                            c->version, o->path);
                        }
                }
                s->catalogs[s->count++] = c;
        }
        for (size_t i = 0; i < n; i++)
                tl_free(files[i]);
        tl_free(files);
        if (first) {
                rate_catalog_set_free(&s);
                return first;
        }
        qsort(s->catalogs, s->count, sizeof *s->catalogs, by_effective);
        *out = s;
        return TL_OK;
}

void rate_catalog_set_free(struct rate_catalog_set **pp)
{
        if (!pp || !*pp)
                return;
        for (size_t i = 0; i < (*pp)->count; i++)
                rate_catalog_free(&(*pp)->catalogs[i]);
        tl_free((*pp)->catalogs);
        tl_free(*pp);
        *pp = NULL;
}

const struct rate_catalog *
rate_catalog_set_pick(const struct rate_catalog_set *s,
                      int64_t period_start_day)
{
        return rate_catalog_set_pick_in(s, period_start_day, NULL);
}

const struct rate_catalog *
rate_catalog_set_pick_in(const struct rate_catalog_set *s,
                         int64_t period_start_day,
                         const struct rate_currency *cur)
{
        const struct rate_catalog *best = NULL;

        for (size_t i = 0; i < s->count; i++)
                if (s->catalogs[i]->effective_from_day <= period_start_day &&
                    (!cur || s->catalogs[i]->currency == cur))
                        best = s->catalogs[i];
        return best;
}
