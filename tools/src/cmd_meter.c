/* tally meter: the ingest service. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/error.h"
#include "core/log.h"
#include "meter/meter.h"

static volatile sig_atomic_t stop_flag, hup_flag;

static void on_signal(int sig)
{
        if (sig == SIGHUP)
                hup_flag = 1; /* meter_run logs it and runs on */
        else
                stop_flag = 1;
}

/* The flags, kept in order until the config file is read under them. */
struct meter_flags {
        const char *config;
        struct {
                const char *key;
                char *value;
        } sets[64];
        int nsets;
};

static int on_option(const struct cli_command *cmd, int ch, char *value,
                     void *ctx)
{
        static const char *const KEYS[128] = {
            ['g'] = "kafka.group",        ['t'] = "kafka.topics",
            ['b'] = "kafka.brokers",      ['H'] = "meter.http",
            ['n'] = "meter.batch_events", ['m'] = "meter.batch_ms",
            ['i'] = "meter.exit_idle_ms", ['r'] = "kafka.offset_reset",
            ['w'] = "meter.writers",
        };
        struct meter_flags *f = ctx;

        if (ch == 'c') {
                f->config = value;
        } else if (ch == 'X') {
                char *eq = strchr(value, '=');
                if (!eq || eq == value)
                        return cli_usage_error(
                            cmd, "-X needs KEY=VALUE, got '%s'", value);
                *eq = '\0';
                if (f->nsets == 64)
                        return cli_usage_error(cmd, "too many -X");
                f->sets[f->nsets].key = value;
                f->sets[f->nsets++].value = eq + 1;
        } else {
                /* getopt_long only returns the table's keys. */
                if (f->nsets == 64)
                        return cli_usage_error(cmd, "too many flags");
                f->sets[f->nsets].key = KEYS[ch];
                f->sets[f->nsets++].value = value;
        }
        return 0;
}

/* Flags override the file and the environment. */
static int parse_flags(const struct cli_command *cmd, int argc, char **argv,
                       struct meter_config *c, const char **config)
{
        static const struct option longopts[] = {
            {"config", required_argument, NULL, 'c'},
            {"group", required_argument, NULL, 'g'},
            {"topic", required_argument, NULL, 't'},
            {"brokers", required_argument, NULL, 'b'},
            {"http", required_argument, NULL, 'H'},
            {"batch-events", required_argument, NULL, 'n'},
            {"batch-ms", required_argument, NULL, 'm'},
            {"writers", required_argument, NULL, 'w'},
            {"exit-idle-ms", required_argument, NULL, 'i'},
            {"offset-reset", required_argument, NULL, 'r'},
            {"set", required_argument, NULL, 'X'},
            {NULL, 0, NULL, 0},
        };
        static const struct cli_options spec = {longopts, "X:", on_option,
                                                false};
        struct meter_flags f = {.config = NULL};
        int rc = cli_parse_options(cmd, argc, argv, &spec, &f, NULL);

        if (rc)
                return rc;
        *config = f.config;
        if (!*config && access("tally.yaml", R_OK) == 0)
                *config = "tally.yaml";
        {
                struct tl_error e = {0};
                if (meter_config_load(c, *config, &e)) {
                        fprintf(stderr, "tally meter: %s\n", e.msg);
                        return CLI_EXIT_USAGE;
                }
        }
        for (int i = 0; i < f.nsets; i++) {
                struct tl_error e = {0};
                char key[256];
                const char *k = f.sets[i].key;
                /* -X takes librdkafka properties by their own names. */
                if (!strchr(k, '.') ||
                    (strncmp(k, "kafka.", 6) && strncmp(k, "meter.", 6))) {
                        snprintf(key, sizeof key, "kafka.properties.%s", k);
                        k = key;
                }
                if (meter_config_set(c, k, f.sets[i].value, &e))
                        return cli_usage_error(cmd, "%s: %s", f.sets[i].key,
                                               e.msg);
        }
        return 0;
}

int cli_meter_main(int argc, char **argv)
{
        const struct cli_command *cmd = cli_find("meter");
        struct meter_config c;
        struct meter *m = NULL;
        struct tl_error e = {0};
        const char *config = NULL;
        struct sigaction sa;
        tl_status rc;
        int exit_code;

        meter_config_init(&c);
        exit_code = parse_flags(cmd, argc, argv, &c, &config);
        if (!exit_code && !c.group)
                meter_config_set(&c, "kafka.group", "tally-meter", &e);
        if (!exit_code && !c.topic_count)
                meter_config_set(&c, "kafka.topics", "usage.events", &e);
        if (exit_code) {
                meter_config_release(&c);
                return exit_code;
        }
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        rc = meter_new(&c, &m, &e);
        if (!rc) {
                meter_watch_hangup(m, &hup_flag);
                rc = meter_run(m, &stop_flag, &e);
        }
        if (m) {
                struct meter_counts n;
                meter_counts_get(m, &n);
                fprintf(stderr,
                        "tally meter: consumed %llu, stored %llu, duplicates "
                        "%llu, dead-lettered %llu\n",
                        (unsigned long long)n.consumed,
                        (unsigned long long)n.stored,
                        (unsigned long long)n.duplicates,
                        (unsigned long long)n.dead_lettered);
        }
        meter_free(&m);
        meter_config_release(&c);
        if (rc) {
                fprintf(stderr, "tally meter: %s\n", e.msg);
                return tl_status_exit_code(rc);
        }
        return CLI_EXIT_OK;
}
