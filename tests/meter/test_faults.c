/* Exactly once under faults: kill -9 at random moments, a group member
   lost mid-run, broker outages and injected protocol errors. Each case
   ends with the database equal to loadgen's ground truth. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "meterkit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

/* Units the meters have accounted for; 0 until the first meter migrated. */
static long long consumed(struct mk_case *c)
{
        PGresult *r = PQexec(c->db, "SELECT coalesce(sum(consumed), 0)"
                                    " FROM ingest_counts");
        long long v = PQresultStatus(r) == PGRES_TUPLES_OK
                          ? atoll(PQgetvalue(r, 0, 0))
                          : 0;

        PQclear(r);
        return v;
}

Test(faults, kill_9_twenty_times_while_ingesting, .timeout = 500)
{
        struct mk_case c;
        const char *gen[] = {
            "--events", "120000",       "--customers", "200",   "--batch",
            "20",       "--duplicates", "0.3",         "--bad", "0.02",
            "--rate",   "1200",         "--seed",      "21",    NULL};
        const char *fast[] = {"--batch-ms", "50", NULL};
        unsigned seed = (unsigned)time(NULL);
        long long produced, stored, dups, dead;
        pid_t gen_pid;

        mk_case_start(&c, "fault_kill", 1, 8);
        gen_pid = mk_loadgen_spawn(&c, gen);
        fprintf(stderr, "kill -9 moments seeded with %u\n", seed);
        srand(seed);
        for (int i = 0; i < 20; i++) {
                pid_t m = mk_meter_spawn(&c, fast);
                if (i % 2) {
                        /* Anywhere: the join (which waits out the killed
                           member's session, 4 s) or the stream. */
                        mk_sleep_ms(1000 + rand() % 5000);
                } else {
                        /* Mid-stream for sure: a loaded machine may take
                           longer than any fixed delay to join and commit. */
                        long long before = consumed(&c);
                        mk_wait_consumed(&c, before + 1, 30000);
                        mk_sleep_ms(rand() % 1500);
                }
                kill(m, SIGKILL);
                cr_assert_eq(mk_wait(m, 10000), -1, "meter %d not killed", i);
        }
        cr_assert_eq(mk_wait(gen_pid, 240000), 0, "loadgen failed");
        mk_truth_totals(&c, &produced, &stored, &dups, &dead);
        {
                long long n = consumed(&c);
                fprintf(stderr, "before the final run: %lld of %lld units\n", n,
                        produced);
                cr_expect_gt(n, 0, "the killed meters stored nothing");
        }
        mk_meter_drain(&c);
        mk_check_truth(&c);
        mk_case_stop(&c);
}

Test(faults, two_meters_in_one_group_one_killed, .timeout = 300)
{
        struct mk_case c;
        const char *gen[] = {
            "--events", "60000",        "--customers", "100",   "--batch",
            "10",       "--duplicates", "0.2",         "--bad", "0.02",
            "--rate",   "5000",         "--seed",      "22",    NULL};
        const char *idle[] = {"--exit-idle-ms", "7000", NULL};
        pid_t gen_pid, a, b;

        mk_case_start(&c, "fault_pair", 1, 8);
        gen_pid = mk_loadgen_spawn(&c, gen);
        a = mk_meter_spawn(&c, NULL);
        b = mk_meter_spawn(&c, idle);
        mk_sleep_ms(7000);
        kill(a, SIGKILL);
        mk_wait(a, 10000);
        cr_assert_eq(mk_wait(gen_pid, 120000), 0, "loadgen failed");
        /* The survivor takes the dead member's partitions and finishes. */
        cr_assert_eq(mk_wait(b, 180000), 0, "the surviving meter failed");
        mk_check_truth(&c);
        mk_case_stop(&c);
}

static void control(const char *cmd)
{
        cr_assert_eq(tk_broker_control_env(cmd), 0, "broker control '%s'", cmd);
}

Test(faults, broker_outage_and_injected_errors, .timeout = 300)
{
        struct mk_case c;
        const char *gen[] = {
            "--events", "60000",        "--customers", "100",   "--batch",
            "10",       "--duplicates", "0.2",         "--bad", "0.02",
            "--rate",   "4000",         "--seed",      "23",    NULL};
        pid_t gen_pid, m;

        mk_case_start(&c, "fault_broker", 3, 6);
        gen_pid = mk_loadgen_spawn(&c, gen);
        m = mk_meter_spawn(&c, NULL);
        mk_sleep_ms(5000);
        /* A leader (and maybe the coordinator) away for ten seconds. */
        control("down 1");
        mk_sleep_ms(10000);
        control("up 1");
        control("errors Fetch 20 NOT_LEADER_FOR_PARTITION");
        control("errors OffsetCommit 5 REQUEST_TIMED_OUT");
        control("errors Heartbeat 5 COORDINATOR_NOT_AVAILABLE");
        mk_sleep_ms(2000);
        control("leader fault_broker 0 2");
        control("errors Fetch 10 REQUEST_TIMED_OUT");
        mk_finish_live(&c, gen_pid, m);
        mk_case_stop(&c);
}
