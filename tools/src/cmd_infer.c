/* tally infer: run the reference engine, print the answer and its usage,
   emit the metered events; also --init-model and --bench. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "core/time.h"
#include "inference/emit.h"
#include "inference/request.h"
#include "infer/infer.h"

enum {
        O_MODEL = 256,
        O_TOKENIZER,
        O_PROMPT,
        O_TOKENS,
        O_DECODING,
        O_K,
        O_THRESHOLD,
        O_BLOCK,
        O_TEMP,
        O_TOPP,
        O_SEED,
        O_THREADS,
        O_Q8,
        O_CUSTOMER,
        O_REQUEST,
        O_SOURCE,
        O_MODEL_NAME,
        O_TIME,
        O_BROKERS,
        O_TOPIC,
        O_SPOOL,
        O_OFFLINE,
        O_DEVICE,
        O_CLASS,
        O_DEACTIVATE,
        O_FORMAT,
        O_QUIET,
        O_INIT,
        O_DIM,
        O_HIDDEN,
        O_LAYERS,
        O_HEADS,
        O_KV_HEADS,
        O_VOCAB,
        O_SEQ,
        O_SEPARATE,
        O_GROUP,
        O_BENCH,
        O_RUNS,
        O_LLAMA2C,
        O_CONFIG,
        O_TASK,
        O_OUTCOME,
};

static const struct option OPTS[] = {
    {"model", required_argument, NULL, O_MODEL},
    {"tokenizer", required_argument, NULL, O_TOKENIZER},
    {"prompt", required_argument, NULL, O_PROMPT},
    {"tokens", required_argument, NULL, O_TOKENS},
    {"decoding", required_argument, NULL, O_DECODING},
    {"k", required_argument, NULL, O_K},
    {"threshold", required_argument, NULL, O_THRESHOLD},
    {"block", required_argument, NULL, O_BLOCK},
    {"temperature", required_argument, NULL, O_TEMP},
    {"topp", required_argument, NULL, O_TOPP},
    {"seed", required_argument, NULL, O_SEED},
    {"threads", required_argument, NULL, O_THREADS},
    {"q8", no_argument, NULL, O_Q8},
    {"customer", required_argument, NULL, O_CUSTOMER},
    {"request-id", required_argument, NULL, O_REQUEST},
    {"source", required_argument, NULL, O_SOURCE},
    {"model-name", required_argument, NULL, O_MODEL_NAME},
    {"time", required_argument, NULL, O_TIME},
    {"brokers", required_argument, NULL, O_BROKERS},
    {"topic", required_argument, NULL, O_TOPIC},
    {"spool", required_argument, NULL, O_SPOOL},
    {"offline", no_argument, NULL, O_OFFLINE},
    {"device", required_argument, NULL, O_DEVICE},
    {"model-class", required_argument, NULL, O_CLASS},
    {"deactivate", no_argument, NULL, O_DEACTIVATE},
    {"format", required_argument, NULL, O_FORMAT},
    {"quiet", no_argument, NULL, O_QUIET},
    {"init-model", required_argument, NULL, O_INIT},
    {"dim", required_argument, NULL, O_DIM},
    {"hidden", required_argument, NULL, O_HIDDEN},
    {"layers", required_argument, NULL, O_LAYERS},
    {"heads", required_argument, NULL, O_HEADS},
    {"kv-heads", required_argument, NULL, O_KV_HEADS},
    {"vocab", required_argument, NULL, O_VOCAB},
    {"seq-len", required_argument, NULL, O_SEQ},
    {"separate-classifier", no_argument, NULL, O_SEPARATE},
    {"group", required_argument, NULL, O_GROUP},
    {"bench", no_argument, NULL, O_BENCH},
    {"runs", required_argument, NULL, O_RUNS},
    {"llama2c", required_argument, NULL, O_LLAMA2C},
    {"config", required_argument, NULL, O_CONFIG},
    {"task", required_argument, NULL, O_TASK},
    {"outcome", required_argument, NULL, O_OUTCOME},
    {NULL, 0, NULL, 0},
};

static int parse_real(const struct cli_command *cmd, const char *opt,
                      const char *text, double min, double max, double *out)
{
        char *end;

        errno = 0;
        *out = strtod(text, &end);
        if (errno || end == text || *end || !(*out >= min && *out <= max))
                return cli_usage_error(cmd,
                                       "%s: '%s' is not a number from "
                                       "%g to %g",
                                       opt, text, min, max);
        return 0;
}

static int int_opt(const struct cli_command *cmd, const char *opt,
                   const char *text, long min, long max, int *out)
{
        long v = 0;
        int rc = cli_parse_long(cmd, opt, text, min, max, &v);

        if (!rc)
                *out = (int)v;
        return rc;
}

static int parse_one(const struct cli_command *cmd, int ch, char *v, void *ctx)
{
        struct infer_args *a = ctx;
        struct inf_shape *s = &a->init.shape;

        if (ch == 'X') {
                if (!strchr(v, '=') || a->prop_count == INFER_MAX_PROPS)
                        return cli_usage_error(cmd, "-X %s: expected key=value",
                                               v);
                a->props[a->prop_count++] = v;
                return 0;
        }

        switch (ch) {
        case O_MODEL:
                a->model = v;
                a->b.model = v;
                return 0;
        case O_TOKENIZER:
                a->tokenizer = v;
                return 0;
        case O_PROMPT:
                a->prompt = v;
                return 0;
        case O_TOKENS: {
                int rc = cli_parse_long(cmd, "--tokens", v, 1, INF_MAX_SEQ,
                                        &a->tokens);

                if (!rc) /* for --bench: run.c's -n */
                        a->b.tokens = a->tokens;
                return rc;
        }
        case O_DECODING:
                if (!strcmp(v, "diffusion") || !strcmp(v, "autoregressive")) {
                        a->diffusion = v[0] == 'd';
                        return 0;
                }
                return cli_usage_error(cmd,
                                       "--decoding: '%s': expected "
                                       "autoregressive or diffusion",
                                       v);
        case O_K:
                return cli_parse_long(cmd, "--k", v, 1, INF_MAX_SEQ, &a->k);
        case O_THRESHOLD:
                return parse_real(cmd, "--threshold", v, 1e-12, 1.0,
                                  &a->threshold);
        case O_BLOCK:
                return cli_parse_long(cmd, "--block", v, 1, INF_MAX_SEQ,
                                      &a->block);
        case O_TEMP:
                return parse_real(cmd, "--temperature", v, 0.0, 100.0,
                                  &a->temperature);
        case O_TOPP:
                return parse_real(cmd, "--topp", v, 0.0, 1.0, &a->topp);
        case O_SEED:
                return cli_parse_long(cmd, "--seed", v, 0, INT32_MAX, &a->seed);
        case O_THREADS:
                return cli_parse_long(cmd, "--threads", v, 0, 256, &a->threads);
        case O_Q8:
                a->q8 = true;
                return 0;
        case O_CUSTOMER:
                a->customer = v;
                return 0;
        case O_REQUEST:
                a->request_id = v;
                return 0;
        case O_SOURCE:
                a->source = v;
                return 0;
        case O_MODEL_NAME:
                a->model_name = v;
                return 0;
        case O_TIME:
                a->time = v;
                return 0;
        case O_BROKERS:
                a->brokers = v;
                return 0;
        case O_TOPIC:
                a->topic = v;
                return 0;
        case O_SPOOL:
                a->spool = v;
                return 0;
        case O_OFFLINE:
                a->offline = true;
                return 0;
        case O_DEVICE:
                a->device = v;
                return 0;
        case O_CLASS:
                a->model_class = v;
                return 0;
        case O_DEACTIVATE:
                a->deactivate = true;
                return 0;
        case O_TASK:
                a->task = v;
                return 0;
        case O_OUTCOME:
                a->outcome = v;
                return 0;
        case O_FORMAT:
                if (strcmp(v, "text") && strcmp(v, "json"))
                        return cli_usage_error(cmd,
                                               "--format: '%s': expected "
                                               "text or json",
                                               v);
                a->format = v;
                return 0;
        case O_QUIET:
                a->quiet = true;
                return 0;
        case O_INIT:
                a->init_dir = v;
                return 0;
        case O_DIM:
                return int_opt(cmd, "--dim", v, 2, INF_MAX_DIM, &s->dim);
        case O_HIDDEN:
                return int_opt(cmd, "--hidden", v, 1, INF_MAX_HIDDEN,
                               &s->hidden_dim);
        case O_LAYERS:
                return int_opt(cmd, "--layers", v, 1, INF_MAX_LAYERS,
                               &s->n_layers);
        case O_HEADS:
                return int_opt(cmd, "--heads", v, 1, INF_MAX_DIM, &s->n_heads);
        case O_KV_HEADS:
                return int_opt(cmd, "--kv-heads", v, 1, INF_MAX_DIM,
                               &s->n_kv_heads);
        case O_VOCAB:
                return int_opt(cmd, "--vocab", v, 259, INF_MAX_VOCAB,
                               &s->vocab_size);
        case O_SEQ:
                return int_opt(cmd, "--seq-len", v, 2, INF_MAX_SEQ,
                               &s->seq_len);
        case O_SEPARATE:
                a->init.separate_classifier = true;
                return 0;
        case O_GROUP:
                return int_opt(cmd, "--group", v, 1, 4096, &a->init.group);
        case O_BENCH:
                a->bench = true;
                return 0;
        case O_RUNS:
                return cli_parse_long(cmd, "--runs", v, 1, 1000, &a->b.runs);
        case O_LLAMA2C:
                a->b.llama2c = v;
                return 0;
        case O_CONFIG:
                a->config = v;
                return 0;
        }
        return cli_usage_error(cmd, "unknown option");
}

/* The config's infer.task and infer.outcome, for a request that emits
   (a customer, not a deactivation); the flags win. */
static int task_of_config(const struct cli_command *cmd, struct infer_args *a,
                          struct infer_config *conf)
{
        struct tl_error e = {0};

        if (infer_config_load(conf, a->config, &e)) {
                fprintf(stderr, "tally %s: %s\n", cmd->name, e.msg);
                return tl_status_exit_code(e.code);
        }
        if (!conf->task || !a->customer || a->deactivate)
                return 0;
        if (!a->task) {
                a->task = conf->task;
                if (!a->outcome)
                        a->outcome = conf->outcome;
        }
        return 0;
}

static int parse(const struct cli_command *cmd, int argc, char **argv,
                 struct infer_args *a, struct cli_kafka *kafka,
                 struct infer_config *conf)
{
        static const struct cli_options spec = {OPTS, "X:", parse_one, false};
        int rc;

        memset(a, 0, sizeof *a);
        a->kafka = kafka;
        a->tokens = 64;
        a->k = 4;
        a->temperature = 0.8;
        a->topp = 0.9;
        a->seed = -1;
        a->format = "text";
        a->init.shape = (struct inf_shape){288, 0, 6, 6, 0, 32000, 256};
        a->b.runs = 5;
        a->b.tokens = 256;
        rc = cli_parse_options(cmd, argc, argv, &spec, a, NULL);
        if (rc)
                return rc;
        if (!a->init.shape.n_kv_heads)
                a->init.shape.n_kv_heads = a->init.shape.n_heads;
        if (a->offline && !a->spool)
                return cli_usage_error(cmd, "--offline needs --spool FILE");
        if ((a->device || a->deactivate) && !a->offline)
                return cli_usage_error(cmd, "--device and --deactivate are "
                                            "for --offline devices");
        if (a->deactivate && (!a->device || !a->customer))
                return cli_usage_error(cmd, "--deactivate needs --device and "
                                            "--customer");
        if (a->threshold > 0 && !a->diffusion)
                return cli_usage_error(cmd, "--threshold is for "
                                            "--decoding diffusion");
        rc = cli_kafka_load(cmd, a->config, a->kafka, &a->brokers, &a->topic,
                            a->props, &a->prop_count, INFER_MAX_PROPS);
        if (rc)
                return rc;
        if ((rc = task_of_config(cmd, a, conf)))
                return rc;
        if (a->outcome && !a->task)
                return cli_usage_error(cmd, "--outcome needs --task");
        if (a->task && (!a->customer || a->deactivate))
                return cli_usage_error(cmd, "--task needs --customer (and a "
                                            "request, not --deactivate)");
        if (!a->model)
                a->model =
                    getenv("TALLY_MODEL") ? getenv("TALLY_MODEL") : "var/model";
        /* a model is named by its seed; a request is sampled afresh */
        if (a->seed < 0)
                a->seed =
                    a->init_dir ? 1 : (long)(tl_time_now_us() % INT32_MAX);
        a->b.threads = a->threads;
        return 0;
}

static int infer(int argc, char **argv, struct cli_kafka *kafka,
                 struct infer_config *conf)
{
        const struct cli_command *cmd = cli_find("infer");
        struct infer_args a;
        struct tl_error e = {0};
        int rc = parse(cmd, argc, argv, &a, kafka, conf);

        if (rc)
                return rc;
        if (a.init_dir) {
                if (mkdir(a.init_dir, 0777) != 0 && errno != EEXIST) {
                        fprintf(stderr, "tally infer: %s: %s\n", a.init_dir,
                                strerror(errno));
                        return CLI_EXIT_RUNTIME;
                }
                a.init.seed = (uint64_t)a.seed;
                if (inf_init_model(a.init_dir, &a.init, &e)) {
                        fprintf(stderr, "tally infer: %s\n", e.msg);
                        return tl_status_exit_code(e.code);
                }
                if (!a.quiet)
                        printf("wrote %s/model.bin, %s/model-q8.bin and "
                               "%s/tokenizer.bin (random weights, seed %ld: "
                               "the text is noise, the metering exact)\n",
                               a.init_dir, a.init_dir, a.init_dir, a.seed);
                return CLI_EXIT_OK;
        }
        if (a.bench)
                return infer_bench(&a.b);
        return infer_run(&a);
}

int cli_infer_main(int argc, char **argv)
{
        struct cli_kafka kafka;
        struct infer_config conf = {0};
        int rc;

        memset(&kafka, 0, sizeof kafka);
        rc = infer(argc, argv, &kafka, &conf);
        cli_kafka_release(&kafka);
        infer_config_release(&conf);
        return rc;
}
