/* `tally infer --config FILE` takes the task and outcome it reports from
   the file's `infer:` section, beside its `kafka:` one; the flags win. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inference/emit.h"
#include "schemas/decode.h"
#include "testkit.h"

static char dir[64], spool[128], conf[128];

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

static void write_conf(const char *text)
{
        FILE *f = fopen(conf, "w");

        cr_assert_not_null(f);
        fputs(text, f);
        cr_assert_eq(fclose(f), 0);
}

static void setup(void)
{
        struct tk_proc_result r;

        snprintf(dir, sizeof dir, "/tmp/tally-infcf-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        snprintf(spool, sizeof spool, "%s/dev.cbor", dir);
        snprintf(conf, sizeof conf, "%s/tally.yaml", dir);
        r = tally((const char *[]){"infer", "--init-model", dir, "--dim", "32",
                                   "--layers", "1", "--heads", "2", "--vocab",
                                   "280", "--seq-len", "24", "--quiet", NULL});
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
}

static void teardown(void)
{
        char cmd[100];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        cr_assert_eq(system(cmd), 0);
}

TestSuite(infer_config, .init = setup, .fini = teardown);

/* One request on the device 'dev1' with the config file and 'extra'
   (NULL-terminated, up to four); the exit code, stderr into 'err'. */
static int run(const char *id, const char *const *extra, char *err, size_t size)
{
        const char *args[40] = {"infer",
                                "--model",
                                dir,
                                "--tokens",
                                "2",
                                "--customer",
                                "cust_1",
                                "--offline",
                                "--spool",
                                spool,
                                "--device",
                                "dev1",
                                "--time",
                                "2026-10-14T10:00:00Z",
                                "--request-id",
                                id,
                                "--config",
                                conf};
        struct tk_proc_result r;
        size_t n = 18;
        int code;

        for (size_t i = 0; extra && extra[i]; i++)
                args[n++] = extra[i];
        args[n] = NULL;
        r = tally(args);
        code = r.exit_code;
        snprintf(err, size, "%s", r.err);
        tk_proc_result_release(&r);
        return code;
}

struct seen {
        int n;
        char what[4][96];
};

static tl_status look(void *ctx, const struct sch_event *ev,
                      struct tl_error *err)
{
        struct seen *s = ctx;

        (void)err;
        if (ev->type == SCH_TYPE_OUTCOME && s->n < 4)
                snprintf(s->what[s->n++], sizeof s->what[0], "%.*s %.*s:%.*s",
                         (int)ev->id.len, ev->id.ptr, (int)ev->task.len,
                         ev->task.ptr, (int)ev->outcome.len, ev->outcome.ptr);
        return TL_OK;
}

static struct seen outcomes(void)
{
        struct inf_spool *sp;
        struct tl_error err;
        struct seen s = {0};

        cr_assert_eq(inf_spool_open(spool, &sp, &err), TL_OK, "%s", err.msg);
        cr_assert_eq(inf_spool_each(sp, look, &s, &err), TL_OK, "%s", err.msg);
        inf_spool_free(&sp);
        return s;
}

Test(infer_config, the_infer_section_reports_an_outcome_and_flags_win)
{
        char err[4096];
        struct seen s;

        write_conf("kafka:\n  brokers: 127.0.0.1:1\n"
                   "infer:\n  task: support.resolution\n  outcome: failure\n");
        cr_assert_eq(run("r1", NULL, err, sizeof err), 0, "%s", err);
        cr_assert_eq(run("r2", (const char *[]){"--outcome", "success", NULL},
                         err, sizeof err),
                     0, "%s", err);
        cr_assert_eq(run("r3", (const char *[]){"--task", "code.review", NULL},
                         err, sizeof err),
                     0, "%s", err);
        s = outcomes();
        cr_assert_eq(s.n, 3);
        cr_assert_str_eq(s.what[0], "r1/outcome support.resolution:failure");
        cr_assert_str_eq(s.what[1], "r2/outcome support.resolution:success");
        /* A task of its own: the file's outcome was about its task. */
        cr_assert_str_eq(s.what[2], "r3/outcome code.review:success");
}

Test(infer_config, without_the_section_no_outcome_is_reported)
{
        char err[4096];

        write_conf("kafka:\n  brokers: 127.0.0.1:1\n");
        cr_assert_eq(run("r1", NULL, err, sizeof err), 0, "%s", err);
        cr_assert_eq(outcomes().n, 0);
}

Test(infer_config, a_bad_section_is_refused_by_position)
{
        char err[4096];

        write_conf("infer:\n  outcome: failure\n");
        cr_assert_eq(run("r1", NULL, err, sizeof err), 2, "%s", err);
        cr_assert(strstr(err, "tally.yaml:2:3: infer.outcome: needs "
                              "infer.task"),
                  "%s", err);
        write_conf("infer:\n  task: support.resolution\n  result: ok\n");
        cr_assert_eq(run("r1", NULL, err, sizeof err), 2, "%s", err);
        cr_assert(strstr(err, "result"), "%s", err);
        /* Refused before any work, as the meter would refuse it. */
        write_conf("infer:\n  task: support.resolution\n  outcome: so so\n");
        cr_assert_eq(run("r1", NULL, err, sizeof err), 2, "%s", err);
        cr_assert(strstr(err, "data.outcome: expected one word"), "%s", err);
}
