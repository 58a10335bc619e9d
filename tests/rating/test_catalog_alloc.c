/* Allocation failure in the catalog, catalog-set and customers loaders:
   every failed allocation is TL_ENOMEM with nothing returned. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "rating/catalog.h"
#include "rating/customers.h"
#include "testkit.h"

#define GOOD_DIR "tests/rating/catalogs/good"
#define WORKED "tests/rating/worked/catalog.yaml"

static char *src(const char *rel)
{
        static char buf[2][1024];
        static int next;
        char *p = buf[next++ % 2];

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

/*
** Fail the first, second, ... allocation of 'load' until it succeeds: each
** failure must come back as TL_ENOMEM with nothing returned (and, under
** ASan, nothing leaked).
*/
static void fail_each_allocation(const char *what, tl_status (*load)(void))
{
        tl_status rc;
        long n;

        for (n = 0;; n++) {
                tl_alloc_fail_after(n);
                rc = load();
                tl_alloc_fail_reset();
                if (rc == TL_OK)
                        break;
                cr_assert_eq(rc, TL_ENOMEM, "%s, allocation %ld: %s", what, n,
                             tl_status_name(rc));
        }
        cr_assert_gt(n, 5, "%s: only %ld allocations", what, n);
}

static tl_status load_worked(void)
{
        struct rate_catalog *cat = NULL;
        struct rate_diags *d = diags_new();
        tl_status rc = rate_catalog_load_file(src(WORKED), &cat, d, NULL);

        cr_assert(rc == TL_OK ? cat->plan_count == 2 : cat == NULL);
        rate_catalog_free(&cat);
        free(d);
        return rc;
}

static tl_status load_good_set(void)
{
        struct rate_catalog_set *s = NULL;
        tl_status rc = rate_catalog_set_load(src(GOOD_DIR), &s, NULL, NULL);

        cr_assert(rc == TL_OK || s == NULL);
        rate_catalog_set_free(&s);
        return rc;
}

static tl_status load_customers_text(void)
{
        const char *text = "customers:\n"
                           "  - { id: c1, plan: pro, start: 2026-10-01, "
                           "cohorts: { e: a } }\n";
        struct rate_customers *cs = NULL;
        tl_status rc =
            rate_customers_parse("c.yaml", text, strlen(text), &cs, NULL, NULL);

        cr_assert(rc == TL_OK || cs == NULL);
        rate_customers_free(&cs);
        return rc;
}

Test(alloc, every_failed_allocation_of_a_catalog_load_is_enomem)
{
        fail_each_allocation("catalog", load_worked);
}

Test(alloc, every_failed_allocation_of_a_set_load_is_enomem)
{
        fail_each_allocation("set", load_good_set);
}

Test(alloc, every_failed_allocation_of_a_customers_load_is_enomem)
{
        fail_each_allocation("customers", load_customers_text);
}
