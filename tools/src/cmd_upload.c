/* tally upload: a device's offline spool, sent to Kafka as CBOR batches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "inference/emit.h"

#define MAX_PROPS 64

struct up_args {
        const char *spool, *brokers, *topic, *config;
        struct cli_kafka kafka;
        const char *props[MAX_PROPS]; /* -X key=value */
        size_t prop_count;
        long batch, timeout_ms;
};

static int parse_opt(const struct cli_command *cmd, int c, char *value,
                     void *ctx)
{
        struct up_args *a = ctx;

        switch (c) {
        case 's':
                a->spool = value;
                return *value ? 0
                              : cli_usage_error(cmd, "--spool needs a file");
        case 'b':
                a->brokers = value;
                return 0;
        case 't':
                a->topic = value;
                return *value ? 0
                              : cli_usage_error(cmd, "--topic needs a name");
        case 'B':
                return cli_parse_long(cmd, "--batch", value, 1, 10000,
                                      &a->batch);
        case 'c':
                a->config = value;
                return 0;
        case 'T':
                return cli_parse_long(cmd, "--timeout-ms", value, 1, 86400000,
                                      &a->timeout_ms);
        default: /* 'X' */
                if (!strchr(value, '=') || *value == '=')
                        return cli_usage_error(cmd,
                                               "-X needs key=value, "
                                               "not '%s'",
                                               value);
                if (a->prop_count == MAX_PROPS)
                        return cli_usage_error(cmd, "at most %d -X options",
                                               MAX_PROPS);
                a->props[a->prop_count++] = value;
                return 0;
        }
}

static int parse_args(const struct cli_command *cmd, int argc, char **argv,
                      struct up_args *a)
{
        static const struct option longopts[] = {
            {"spool", required_argument, NULL, 's'},
            {"brokers", required_argument, NULL, 'b'},
            {"topic", required_argument, NULL, 't'},
            {"batch", required_argument, NULL, 'B'},
            {"timeout-ms", required_argument, NULL, 'T'},
            {"config", required_argument, NULL, 'c'},
            {NULL, 0, NULL, 0},
        };
        static const struct cli_options spec = {longopts, "X:", parse_opt,
                                                false};
        int rc;

        if (cli_parse_options(cmd, argc, argv, &spec, a, NULL))
                return CLI_EXIT_USAGE;
        if (!a->spool)
                return cli_usage_error(cmd, "--spool FILE is required");
        rc = cli_kafka_load(cmd, a->config, &a->kafka, &a->brokers, &a->topic,
                            a->props, &a->prop_count, MAX_PROPS);
        if (rc)
                return rc;
        if (!a->topic)
                a->topic = INF_DEFAULT_TOPIC;
        if (!a->brokers || !*a->brokers)
                a->brokers = getenv("TALLY_KAFKA_BROKERS");
        if (!a->brokers || !*a->brokers)
                return cli_usage_error(cmd, "no brokers: give --brokers or "
                                            "set TALLY_KAFKA_BROKERS");
        return 0;
}

int cli_upload_main(int argc, char **argv)
{
        const struct cli_command *cmd = cli_find("upload");
        struct up_args a = {.batch = 1000, .timeout_ms = 30000};
        struct inf_emit_report rep = {0, 0, 0};
        struct tl_error err;
        tl_status rc;
        int exit_code = parse_args(cmd, argc, argv, &a);

        if (exit_code) {
                cli_kafka_release(&a.kafka);
                return exit_code;
        }
        struct inf_emit_opts o = {
            .brokers = a.brokers,
            .topic = a.topic,
            .props = a.props,
            .prop_count = a.prop_count,
            .timeout_ms = (int)a.timeout_ms,
        };
        rc = inf_upload(a.spool, &o, (size_t)a.batch, &rep, &err);
        /* The counts whatever happened: what left, what stays. */
        if (rc != TL_EUSAGE && rc != TL_ENOTFOUND)
                printf("uploaded %zu events in %zu messages; %zu left in %s\n",
                       rep.delivered, rep.messages, rep.spooled, a.spool);
        if (rc) {
                fflush(stdout);
                fprintf(stderr, "tally upload: %s\n", err.msg);
        }
        cli_kafka_release(&a.kafka);
        return tl_status_exit_code(rc);
}
