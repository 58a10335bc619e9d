/* `tally rules diff` on the usage controls: limits by meter, alerts and
   progressive thresholds by id. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testkit.h"

static const char HEAD[] =
    "catalog: t\nversion: \"%s\"\neffective_from: 2026-10-01\n"
    "currency: USD\nmeters:\n"
    "  out: { event: inference.tokens, value: output_tokens, "
    "aggregation: sum }\n"
    "  in: { event: inference.tokens, value: input_tokens, "
    "aggregation: sum }\n"
    "plans:\n  pro:\n    fees: [ { id: base, amount: 10 } ]\n";

static void write_catalog(const char *path, const char *version,
                          const char *controls)
{
        FILE *f = fopen(path, "w");

        cr_assert_not_null(f, "%s", path);
        fprintf(f, HEAD, version);
        fputs(controls, f);
        fclose(f);
}

Test(rules_diff, shows_each_changed_added_and_removed_control)
{
        char dir[] = "/tmp/tally-rdiff-XXXXXX", a[64], b[64];
        const char *argv[6];
        struct tk_proc_result r;

        cr_assert_not_null(mkdtemp(dir));
        snprintf(a, sizeof a, "%s/a.yaml", dir);
        snprintf(b, sizeof b, "%s/b.yaml", dir);
        write_catalog(
            a, "1",
            "    limits: { out: { hard: 100 }, in: { hard: 5 } }\n"
            "    alerts:\n"
            "      - { id: s1, spend_at_least: 40.00 }\n"
            "      - { id: q1, meter: out, quantity_at_least: 90 }\n");
        write_catalog(b, "2",
                      "    limits: { out: { hard: 200 } }\n"
                      "    alerts:\n"
                      "      - { id: s1, spend_at_least: 50.00 }\n"
                      "    progressive:\n"
                      "      - { id: pb, spend_at_least: 500 }\n");
        argv[0] = tk_tally_bin();
        argv[1] = "rules";
        argv[2] = "diff";
        argv[3] = a;
        argv[4] = b;
        argv[5] = NULL;
        cr_assert_eq(tk_run(argv, 10000, &r), 0);
        cr_expect_str_eq(r.out,
                         "~ version: 1 -> 2\n"
                         "~ plans.pro.limits.out.hard: 100 -> 200\n"
                         "~ plans.pro.limits.in.hard: 5 -> (none)\n"
                         "~ plans.pro.alerts.s1.spend_at_least: 40.00 "
                         "-> 50.00\n"
                         "- plans.pro.alerts.q1\n"
                         "+ plans.pro.progressive.pb\n",
                         "%s", r.out);
        tk_proc_result_release(&r);
        unlink(a);
        unlink(b);
        rmdir(dir);
}
