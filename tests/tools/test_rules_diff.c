/* `tally rules diff`: the allowance per seat, by class and for every
   class, is compared price by price like every other key. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testkit.h"

static const char BASE[] =
    "catalog: t\nversion: \"%s\"\neffective_from: 2026-10-01\n"
    "currency: USD\nmeters:\n"
    "  local: { event: inference.tokens, value: output_tokens,\n"
    "           aggregation: sum }\n"
    "  devices: { event: device.seat, aggregation: seats }\n"
    "plans:\n  p:\n"
    "    seats: { meter: devices, prices: { small: 4, large: 9 } }\n"
    "    charges:\n"
    "      - { id: a, meter: local, model: per_unit, price: 1,\n"
    "          included_per_seat: %s }\n"
    "      - { id: b, meter: local, model: per_unit, price: 1%s }\n";

static void write_catalog(const char *path, const char *version, const char *a,
                          const char *b)
{
        FILE *f = fopen(path, "w");

        cr_assert(f, "%s", path);
        fprintf(f, BASE, version, a, b);
        cr_assert_eq(fclose(f), 0);
}

Test(rules_diff, included_per_seat_changes_are_listed_per_class)
{
        char dir[] = "/tmp/tally-rules-diff-XXXXXX", a[64], b[64];
        struct tk_proc_result r;

        cr_assert(mkdtemp(dir));
        snprintf(a, sizeof a, "%s/a.yaml", dir);
        snprintf(b, sizeof b, "%s/b.yaml", dir);
        write_catalog(a, "1", "{ small: 1000, large: 5000 }", "");
        write_catalog(b, "2", "{ small: 1500 }", ", included_per_seat: 2000");
        {
                const char *argv[] = {
                    tk_tally_bin(), "rules", "diff", a, b, NULL};

                cr_assert_eq(tk_run(argv, 10000, &r), 0);
        }
        cr_assert(strstr(r.out, "~ plans.p.charges.a.included_per_seat.large: "
                                "5000 -> (none)\n"),
                  "%s", r.out);
        cr_assert(strstr(r.out, "~ plans.p.charges.a.included_per_seat.small: "
                                "1000 -> 1500\n"),
                  "%s", r.out);
        cr_assert(strstr(r.out, "~ plans.p.charges.b.included_per_seat: "
                                "(none) -> 2000\n"),
                  "%s", r.out);
        cr_assert_null(strstr(r.out, "charges.a.included_per_seat:"), "%s",
                       r.out);
        tk_proc_result_release(&r);
        unlink(a);
        unlink(b);
        rmdir(dir);
}
