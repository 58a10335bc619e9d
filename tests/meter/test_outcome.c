/* task.outcome through tally meter: stored exactly once, rollups equal to
   the events (units summed), duplicates and conflicts on units classified
   like every other type. */
#include <stdlib.h>

#include <criterion/criterion.h>

#include "meterkit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

Test(outcome_ingest, outcomes_are_stored_exactly_once_and_rolled_up,
     .timeout = 240)
{
        struct mk_case c;
        const char *gen[] = {"--events", "6000",    "--customers",
                             "30",       "--types", "outcome,tokens,seat",
                             "--batch",  "25",      "--duplicates",
                             "0.25",     "--bad",   "0.1",
                             "--seed",   "5",       NULL};
        char *n;

        mk_case_start(&c, "outcome_ingest", 1, 3);
        mk_loadgen(&c, gen);
        mk_meter_drain(&c);
        mk_check_truth(&c);
        n = tk_scalar(c.db, "SELECT count(*) FROM events WHERE type = 5"
                            " AND units >= 1 AND task IS NOT NULL AND"
                            " outcome IS NOT NULL AND model IS NULL");
        cr_expect_gt(atoll(n), 1000, "outcome events stored: %s", n);
        free(n);
        /* Again: nothing new, the truth still holds. */
        mk_meter_drain(&c);
        mk_check_truth(&c);
        mk_case_stop(&c);
}
