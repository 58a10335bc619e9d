/* PostgreSQL stopped in immediate mode (as after a crash) and started
   again mid-ingest: the meter reconnects by itself and ends exact. Its
   own binary: the restart would disturb other tests' cluster. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "meterkit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

static void pg_fixture(const char *verb)
{
        char cmd[1024];

        snprintf(cmd, sizeof cmd,
                 "'%s/tools/scripts/pg-fixture.sh' %s '%s'"
                 " >/dev/null",
                 tk_source_dir(), verb, getenv("PGHOST"));
        cr_assert_eq(system(cmd), 0, "%s", cmd);
}

Test(pgrestart, meter_reconnects_after_an_immediate_restart, .timeout = 300)
{
        struct mk_case c;
        const char *gen[] = {
            "--events", "60000",        "--customers", "100",   "--batch",
            "10",       "--duplicates", "0.2",         "--bad", "0.02",
            "--rate",   "4000",         "--seed",      "24",    NULL};
        pid_t gen_pid, m;

        mk_case_start(&c, "fault_pg", 1, 4);
        gen_pid = mk_loadgen_spawn(&c, gen);
        m = mk_meter_spawn(&c, NULL);
        mk_sleep_ms(6000);
        pg_fixture("crash");
        mk_sleep_ms(3000);
        pg_fixture("start");
        mk_sleep_ms(3000);
        pg_fixture("crash");
        pg_fixture("start");
        mk_finish_live(&c, gen_pid, m);
        mk_case_stop(&c);
}
