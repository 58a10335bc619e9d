/* The tally dispatcher: help, unknown commands, bad flags, exit codes. */
#include <criterion/criterion.h>
#include <string.h>

#include "testkit.h"

static struct tk_proc_result run(const char *a1, const char *a2, const char *a3)
{
        const char *argv[] = {tk_tally_bin(), a1, a2, a3, NULL};
        struct tk_proc_result r;

        cr_assert_eq(tk_run(argv, 10000, &r), 0);
        return r;
}

Test(cli, help_lists_every_command_and_exits_0)
{
        struct tk_proc_result r = run("help", NULL, NULL);
        const char *cmds[] = {"rules",  "rate",    "meter", "customers",
                              "usage",  "invoice", "infer", "upload",
                              "broker", "loadgen", "demo"};

        cr_assert_eq(r.exit_code, 0);
        for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
                cr_assert(strstr(r.out, cmds[i]), "help lacks %s", cmds[i]);
        tk_proc_result_release(&r);
}

Test(cli, no_arguments_prints_overview_and_exits_2)
{
        struct tk_proc_result r = run(NULL, NULL, NULL);

        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "usage: tally <command>"));
        tk_proc_result_release(&r);
}

Test(cli, unknown_command_is_named_and_exits_2)
{
        struct tk_proc_result r = run("frobnicate", NULL, NULL);

        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "'frobnicate' is not a tally command"), "%s",
                  r.err);
        tk_proc_result_release(&r);
        r = run("help", "frobnicate", NULL);
        cr_assert_eq(r.exit_code, 2);
        tk_proc_result_release(&r);
}

Test(cli, command_help_prints_usage_and_exits_0)
{
        struct tk_proc_result r = run("broker", "--help", NULL);

        cr_assert_eq(r.exit_code, 0);
        cr_assert(strstr(r.out, "usage: tally broker"));
        tk_proc_result_release(&r);
        r = run("help", "rate", NULL);
        cr_assert_eq(r.exit_code, 0);
        cr_assert(strstr(r.out, "usage: tally rate --rules PATH"));
        tk_proc_result_release(&r);
}

Test(cli, bad_flag_is_named_and_exits_2)
{
        struct tk_proc_result r = run("broker", "--bogus", NULL);

        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "unknown option '--bogus'"), "%s", r.err);
        tk_proc_result_release(&r);
        r = run("broker", "--brokers", "zero");
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "--brokers: 'zero' is not a whole number"),
                  "%s", r.err);
        tk_proc_result_release(&r);
        r = run("broker", "--brokers", NULL);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "--brokers needs a value"), "%s", r.err);
        tk_proc_result_release(&r);
        r = run("broker", "stray", NULL);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "unexpected argument 'stray'"), "%s", r.err);
        tk_proc_result_release(&r);
}

Test(cli, every_command_is_built_and_demo_refuses_bad_options)
{
        struct tk_proc_result r = run("help", NULL, NULL);

        cr_assert_eq(r.exit_code, 0);
        cr_assert_null(strstr(r.out, "not built yet"), "%s", r.out);
        tk_proc_result_release(&r);
        r = run("demo", "--customers", "0");
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "--customers"), "%s", r.err);
        tk_proc_result_release(&r);
        r = run("demo", "--customers", NULL);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "--customers needs a value"), "%s", r.err);
        tk_proc_result_release(&r);
        r = run("demo", "--period", "2026-13");
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "--period"), "%s", r.err);
        tk_proc_result_release(&r);
}

Test(cli, version_prints_version)
{
        struct tk_proc_result r = run("--version", NULL, NULL);

        cr_assert_eq(r.exit_code, 0);
        cr_assert_eq(strncmp(r.out, "tally ", 6), 0);
        tk_proc_result_release(&r);
}

/* Writers out of range are refused before anything connects. */
Test(cli, meter_writers_out_of_range_is_a_usage_error)
{
        static const char *const bad[] = {"0", "17", "two"};

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                struct tk_proc_result r = run("meter", "--writers", bad[i]);
                cr_expect_eq(r.exit_code, 2, "--writers %s", bad[i]);
                cr_expect(strstr(r.err, "meter.writers: expected an integer"
                                        " in [1, 16]"),
                          "%s", r.err);
                tk_proc_result_release(&r);
        }
}
