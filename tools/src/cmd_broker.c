/* tally broker: librdkafka's mock cluster served over TCP on loopback. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "broker/control.h"
#include "cli.h"
#include "core/error.h"
#include "core/log.h"

#define MAX_TOPICS 64

struct broker_opts {
        long brokers;
        long partitions;
        const char *address_file;
        const char *control;
        char *topics[MAX_TOPICS];
        int topic_count;
};

/* librdkafka syslog levels (0 emerg ... 7 debug) to ours. */
static void kafka_log(const rd_kafka_t *rk, int level, const char *fac,
                      const char *buf)
{
        (void)rk;
        tl_log_library(level, "broker", "librdkafka", fac, buf);
}

static int on_option(const struct cli_command *cmd, int key, char *value,
                     void *ctx)
{
        struct broker_opts *o = ctx;

        switch (key) {
        case 'b':
                return cli_parse_long(cmd, "--brokers", value, 1, 9,
                                      &o->brokers);
        case 'p':
                return cli_parse_long(cmd, "--partitions", value, 1, 256,
                                      &o->partitions);
        case 't':
                if (o->topic_count == MAX_TOPICS)
                        return cli_usage_error(
                            cmd, "at most %d --topic options", MAX_TOPICS);
                o->topics[o->topic_count++] = value;
                return 0;
        case 'a':
                o->address_file = value;
                return 0;
        default: /* 'c' */
                o->control = value;
                return 0;
        }
}

static int parse_opts(const struct cli_command *cmd, int argc, char **argv,
                      struct broker_opts *o)
{
        static const struct option longopts[] = {
            {"brokers", required_argument, NULL, 'b'},
            {"partitions", required_argument, NULL, 'p'},
            {"topic", required_argument, NULL, 't'},
            {"address-file", required_argument, NULL, 'a'},
            {"control", required_argument, NULL, 'c'},
            {NULL, 0, NULL, 0},
        };
        static const struct cli_options spec = {longopts, NULL, on_option,
                                                false};

        return cli_parse_options(cmd, argc, argv, &spec, o, NULL);
}

/*
** Split "NAME[:PARTITIONS]" and create the topic. Returns 0, or a usage or
** runtime exit code after saying why.
*/
static int create_topic(const struct cli_command *cmd,
                        rd_kafka_mock_cluster_t *mc, char *spec,
                        long default_partitions, long brokers)
{
        char *colon = strrchr(spec, ':');
        long partitions = default_partitions;
        rd_kafka_resp_err_t kerr;

        if (colon) {
                *colon = '\0';
                if (cli_parse_long(cmd, "--topic partitions", colon + 1, 1, 256,
                                   &partitions))
                        return CLI_EXIT_USAGE;
        }
        if (!*spec || strlen(spec) > 249)
                return cli_usage_error(cmd, "--topic needs a name of 1 to "
                                            "249 characters");
        kerr = rd_kafka_mock_topic_create(mc, spec, (int)partitions,
                                          (int)(brokers < 3 ? brokers : 3));
        if (kerr) {
                fprintf(stderr, "tally broker: topic '%s': %s\n", spec,
                        rd_kafka_err2str(kerr));
                return CLI_EXIT_RUNTIME;
        }
        return 0;
}

/* Write the address to 'path' through a rename so a reader never sees half. */
static int write_address_file(const char *path, const char *addr)
{
        char tmp[4096];
        FILE *f;

        if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
                return -1;
        f = fopen(tmp, "w");
        if (!f)
                return -1;
        fprintf(f, "%s\n", addr);
        if (fclose(f) != 0 || rename(tmp, path) != 0)
                return -1;
        return 0;
}

static int serve(const struct cli_command *cmd, struct broker_opts *o,
                 const sigset_t *stop_signals)
{
        char errstr[512], num[16];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        struct brk_control *control = NULL;
        rd_kafka_mock_cluster_t *mc;
        rd_kafka_t *rk;
        const char *addr;
        int rc = 0, sig;

        /* The mock cluster lives inside a client handle; letting librdkafka
           create it from test.mock.num.brokers keeps that handle from ever
           dialling a real cluster. */
        snprintf(num, sizeof num, "%ld", o->brokers);
        rd_kafka_conf_set_log_cb(conf, kafka_log);
        if (rd_kafka_conf_set(conf, "test.mock.num.brokers", num, errstr,
                              sizeof errstr) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "tally broker: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return CLI_EXIT_RUNTIME;
        }
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        if (!rk) {
                fprintf(stderr, "tally broker: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return CLI_EXIT_RUNTIME;
        }
        mc = rd_kafka_handle_mock_cluster(rk);
        for (int i = 0; i < o->topic_count && !rc; i++)
                rc = create_topic(cmd, mc, o->topics[i], o->partitions,
                                  o->brokers);
        if (rc)
                goto out;
        /* Ready before the address is printed: whoever reads that line may
           send commands at once. */
        if (o->control && brk_control_start(mc, o->control, &control)) {
                rc = CLI_EXIT_RUNTIME;
                goto out;
        }
        addr = rd_kafka_mock_cluster_bootstraps(mc);
        if (o->address_file && write_address_file(o->address_file, addr)) {
                fprintf(stderr, "tally broker: cannot write %s\n",
                        o->address_file);
                rc = CLI_EXIT_RUNTIME;
                goto out;
        }
        printf("%s\n", addr);
        fflush(stdout);
        tl_log(TL_LOG_INFO, "broker", "serving", "bootstrap=%s brokers=%ld",
               addr, o->brokers);
        /* A development broker has nothing to reload: SIGHUP (a closed
           terminal, a reload-everything script) must not stop it. */
        while (sigwait(stop_signals, &sig) == 0 && sig == SIGHUP)
                tl_log(TL_LOG_INFO, "broker", "SIGHUP received",
                       "action=ignored");
        tl_log(TL_LOG_INFO, "broker", "stopping", "signal=%d", sig);
out:
        brk_control_stop(&control);
        rd_kafka_destroy(rk);
        return rc;
}

int cli_broker_main(int argc, char **argv)
{
        const struct cli_command *cmd = cli_find("broker");
        struct broker_opts o = {.brokers = 1, .partitions = 4};
        sigset_t stop_signals;
        int rc;

        rc = parse_opts(cmd, argc, argv, &o);
        if (rc)
                return rc;
        /* Block before librdkafka starts its threads so they inherit the
           mask and only sigwait below sees SIGINT/SIGTERM/SIGHUP. */
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGINT);
        sigaddset(&stop_signals, SIGTERM);
        sigaddset(&stop_signals, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
        signal(SIGPIPE, SIG_IGN);
        return serve(cmd, &o, &stop_signals);
}
