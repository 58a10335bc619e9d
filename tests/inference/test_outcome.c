/* The reference engine reports outcomes: inf_request_events appends one
   task.outcome with the request's usage (cloud or device alike), checked
   as the meter checks it, and `tally infer --task` spools it on a device. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inference/emit.h"
#include "inference/request.h"
#include "schemas/decode.h"
#include "testkit.h"

static struct inf_usage usage = {.input_tokens = 12,
                                 .output_tokens = 40,
                                 .passes = 10,
                                 .iterations = 10,
                                 .macs = 123456789012ULL};

static bool is(struct sch_str s, const char *lit)
{
        return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

Test(outcome, a_task_adds_one_outcome_event_after_the_usage)
{
        struct inf_request r = {.id = "req-1",
                                .subject = "cust_0042",
                                .source = "device/d1",
                                .model = "m15",
                                .deployment = SCH_DEPLOY_DEVICE,
                                .decoding = INF_DECODE_DIFFUSION,
                                .time_us = 1793000000000000LL,
                                .task = "support.resolution",
                                .outcome = "failure"};
        struct inf_events evs;
        struct tl_error err;
        const struct sch_event *o;

        cr_assert_eq(inf_request_events(&r, &usage, &evs, &err), TL_OK, "%s",
                     err.msg);
        cr_assert_eq(evs.n, 4);
        cr_assert_str_eq(evs.ids[3], "req-1/outcome");
        o = &evs.ev[3];
        cr_assert_eq(o->type, SCH_TYPE_OUTCOME);
        cr_assert(is(o->task, "support.resolution"));
        cr_assert(is(o->outcome, "failure"));
        cr_assert_eq(o->deployment, SCH_DEPLOY_DEVICE);
        cr_assert_eq(o->units, 1);
        cr_assert(is(o->subject, "cust_0042"));
        cr_assert_eq(o->time_us, r.time_us);

        /* The default outcome, in the cloud, after AR decoding's two. */
        r.outcome = NULL;
        r.deployment = SCH_DEPLOY_CLOUD;
        r.decoding = INF_DECODE_AR;
        cr_assert_eq(inf_request_events(&r, &usage, &evs, &err), TL_OK);
        cr_assert_eq(evs.n, 3);
        cr_assert(is(evs.ev[2].outcome, "success"));
        cr_assert_eq(evs.ev[2].deployment, SCH_DEPLOY_CLOUD);

        /* Without a task: no outcome. */
        r.task = NULL;
        cr_assert_eq(inf_request_events(&r, &usage, &evs, &err), TL_OK);
        cr_assert_eq(evs.n, 2);
}

Test(outcome, what_the_meter_would_refuse_is_refused_with_its_reason)
{
        struct inf_request r = {.id = "req-2",
                                .subject = "c",
                                .source = "cloud/x",
                                .model = "m",
                                .deployment = SCH_DEPLOY_CLOUD,
                                .decoding = INF_DECODE_AR,
                                .time_us = 1793000000000000LL,
                                .task = "t",
                                .outcome = "not a word"};
        struct inf_events evs;
        struct tl_error err;

        cr_assert_eq(inf_request_events(&r, &usage, &evs, &err), TL_EINVAL);
        cr_assert_str_eq(err.msg,
                         "event req-2/outcome: data.outcome: expected one word "
                         "(letters, digits, '_', '-' or '.'), got \"not a "
                         "word\"");
        r.outcome = "success";
        r.task = "12345678901234567890123456789012345678901234567890123456789"
                 "012345";
        cr_assert_eq(inf_request_events(&r, &usage, &evs, &err), TL_EINVAL);
        cr_assert_str_eq(err.msg, "task '12345678901234567890123456789012345"
                                  "678901234567890123456789012345': must be "
                                  "1..64 bytes");
        r.task = "";
        cr_assert_eq(inf_request_events(&r, &usage, &evs, &err), TL_EINVAL);
        cr_assert_str_eq(err.msg, "task '': must be 1..64 bytes");
}

static struct tk_proc_result tally(const char *const *args)
{
        const char *argv[40] = {tk_tally_bin()};
        struct tk_proc_result r;
        int i = 0;

        for (; args[i]; i++)
                argv[i + 1] = args[i];
        argv[i + 1] = NULL;
        cr_assert_eq(tk_run(argv, 60000, &r), 0);
        return r;
}

static void expect_exit(const char *const *args, int code, const char *needle)
{
        struct tk_proc_result r = tally(args);

        cr_assert_eq(r.exit_code, code, "exit %d\n%s", r.exit_code, r.err);
        cr_assert_not_null(strstr(r.err, needle), "stderr lacks '%s': %s",
                           needle, r.err);
        tk_proc_result_release(&r);
}

struct seen {
        int outcomes, usage;
        char ids[4][64];
};

static tl_status look(void *ctx, const struct sch_event *ev,
                      struct tl_error *err)
{
        struct seen *s = ctx;

        (void)err;
        if (ev->type != SCH_TYPE_OUTCOME) {
                s->usage += ev->type != SCH_TYPE_SEAT;
                return TL_OK;
        }
        cr_assert_eq(ev->deployment, SCH_DEPLOY_DEVICE);
        cr_assert(is(ev->task, "support.resolution"));
        snprintf(s->ids[s->outcomes++ & 3], sizeof s->ids[0], "%.*s:%.*s",
                 (int)ev->id.len, ev->id.ptr, (int)ev->outcome.len,
                 ev->outcome.ptr);
        return TL_OK;
}

Test(outcome, infer_task_spools_the_outcome_on_a_device)
{
        char d[64], spool[128];
        struct tk_proc_result r;
        struct inf_spool *sp;
        struct tl_error err;
        struct seen s = {0};

        snprintf(d, sizeof d, "/tmp/tally-info-XXXXXX");
        cr_assert_not_null(mkdtemp(d));
        snprintf(spool, sizeof spool, "%s/dev.cbor", d);
        r = tally((const char *[]){"infer", "--init-model", d, "--dim", "32",
                                   "--layers", "1", "--heads", "2", "--vocab",
                                   "280", "--seq-len", "24", "--quiet", NULL});
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        r = tally((const char *[]){
            "infer", "--model", d, "--tokens", "3", "--customer", "cust_1",
            "--offline", "--spool", spool, "--device", "dev1", "--time",
            "2026-10-14T10:00:00Z", "--request-id", "r1", "--task",
            "support.resolution", NULL});
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert_not_null(strstr(r.err, "spooled 4 events (1 seat)"), "%s",
                           r.err);
        tk_proc_result_release(&r);
        r = tally((const char *[]){"infer",
                                   "--model",
                                   d,
                                   "--tokens",
                                   "3",
                                   "--customer",
                                   "cust_1",
                                   "--offline",
                                   "--spool",
                                   spool,
                                   "--device",
                                   "dev1",
                                   "--time",
                                   "2026-10-14T11:00:00Z",
                                   "--request-id",
                                   "r2",
                                   "--task",
                                   "support.resolution",
                                   "--outcome",
                                   "failure",
                                   NULL});
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        cr_assert_eq(inf_spool_open(spool, &sp, &err), TL_OK, "%s", err.msg);
        cr_assert_eq(inf_spool_each(sp, look, &s, &err), TL_OK, "%s", err.msg);
        inf_spool_free(&sp);
        cr_assert_eq(s.outcomes, 2);
        cr_assert_eq(s.usage, 4, "tokens and matrix_ops of each request");
        cr_assert_str_eq(s.ids[0], "r1/outcome:success");
        cr_assert_str_eq(s.ids[1], "r2/outcome:failure");

        expect_exit((const char *[]){"infer", "--outcome", "success", NULL}, 2,
                    "--outcome needs --task");
        expect_exit((const char *[]){"infer", "--task", "t", NULL}, 2,
                    "--task needs --customer");
        /* Refused before any work, as the meter would refuse it. */
        expect_exit((const char *[]){"infer", "--model", d, "--tokens", "2",
                                     "--customer", "c", "--offline", "--spool",
                                     spool, "--task", "t", "--outcome", "so so",
                                     NULL},
                    2, "data.outcome: expected one word");
}
