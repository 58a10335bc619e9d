/* tally loadgen: synthetic usage events to Kafka, with their ground truth. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "cli.h"
#include "core/dec.h"
#include "core/log.h"
#include "core/time.h"
#include "loadgen/loadgen.h"

#define MAX_PROPS 64
#define PPM 1000000u

struct lg_args {
        const char *brokers, *topic, *truth, *time_from, *time_to, *config;
        const char *props[MAX_PROPS]; /* -X key=value */
        size_t prop_count;
        struct cli_kafka *kafka; /* --config's strings */
        long rate;               /* units per second; 0: as fast as possible */
        uint32_t dup_ppm, bad_ppm;
        bool quiet, seeded, customers_given;
        struct lg_config cfg;
};

/* Delivery results, written by the callback on the polling thread. */
struct lg_stats {
        uint64_t delivered_msgs, delivered_units;
        uint64_t failed_msgs, failed_units;
        rd_kafka_resp_err_t first_error;
};

/* ---- options ---- */

/* RATIO: a decimal in [0, 1) with at most 6 places, kept exactly in ppm. */
static int parse_ratio(const struct cli_command *cmd, const char *opt,
                       const char *text, uint32_t *ppm)
{
        const char *p = text;
        uint32_t whole = 0, frac = 0;
        int digits = 0, places = 0;

        for (; *p >= '0' && *p <= '9' && whole < 10; p++, digits++)
                whole = whole * 10 + (uint32_t)(*p - '0');
        if (*p == '.')
                for (p++; *p >= '0' && *p <= '9' && places < 7; p++) {
                        frac = frac * 10 + (uint32_t)(*p - '0');
                        places++;
                        digits++;
                }
        if (*p || !digits || places > 6 || whole > 0)
                return cli_usage_error(cmd,
                                       "%s: '%s' is not a ratio from 0 to "
                                       "below 1 (at most 6 decimals)",
                                       opt, text);
        for (; places < 6; places++)
                frac *= 10;
        *ppm = frac;
        return 0;
}

/* --types: a comma list of tokens, iterations, matrix_ops, seat, outcome
   (or the full type names), each at most once. */
static int parse_types(const struct cli_command *cmd, const char *text,
                       struct lg_config *cfg)
{
        static const char *const short_names[] = {
            NULL, "tokens", "iterations", "matrix_ops", "seat", "outcome"};
        const char *p = text;

        cfg->type_count = 0;
        while (*p) {
                size_t len = strcspn(p, ",");
                sch_event_type t = sch_event_type_parse(p, len);

                for (int i = 1; i <= SCH_TYPE_LAST && !t; i++)
                        if (strlen(short_names[i]) == len &&
                            memcmp(short_names[i], p, len) == 0)
                                t = (sch_event_type)i;
                for (size_t i = 0; t && i < cfg->type_count; i++)
                        if (cfg->types[i] == t)
                                t = SCH_TYPE_NONE;
                if (!t || cfg->type_count == SCH_TYPE_LAST)
                        return cli_usage_error(cmd,
                                               "--types: '%.*s' is not one "
                                               "of tokens, iterations, "
                                               "matrix_ops, seat, outcome "
                                               "(each once)",
                                               (int)len, p);
                cfg->types[cfg->type_count++] = t;
                p += len;
                if (*p == ',' && *++p == '\0')
                        return cli_usage_error(cmd, "--types ends with ','");
        }
        if (!cfg->type_count)
                return cli_usage_error(cmd, "--types needs at least one type");
        return 0;
}

static int parse_profile(const struct cli_command *cmd, const char *text,
                         lg_profile *out)
{
        if (strcmp(text, "spread") == 0)
                *out = LG_SPREAD;
        else if (strcmp(text, "production") == 0)
                *out = LG_PRODUCTION;
        else
                return cli_usage_error(cmd,
                                       "--profile is production or spread, "
                                       "not '%s'",
                                       text);
        return 0;
}

static int parse_encoding(const struct cli_command *cmd, const char *text,
                          lg_encoding *out)
{
        if (strcmp(text, "json") == 0)
                *out = LG_JSON;
        else if (strcmp(text, "cbor") == 0)
                *out = LG_CBOR;
        else if (strcmp(text, "mixed") == 0)
                *out = LG_MIXED;
        else
                return cli_usage_error(cmd,
                                       "--encoding is json, cbor or mixed, "
                                       "not '%s'",
                                       text);
        return 0;
}

/* One numeric option into a field of 'cfg' or 'a'. */
static int parse_number(const struct cli_command *cmd, int c, const char *text,
                        struct lg_args *a)
{
        long v;
        int rc;

        switch (c) {
        case 'e':
                rc = cli_parse_long(cmd, "--events", text, 1, 100000000, &v);
                a->cfg.events = (uint64_t)v;
                return rc;
        case 'c':
                rc = cli_parse_long(cmd, "--customers", text, 1, 1000000, &v);
                a->cfg.customers = (uint32_t)v;
                a->customers_given = true;
                return rc;
        case 'B':
                rc = cli_parse_long(cmd, "--batch", text, 1,
                                    SCH_MAX_BATCH_EVENTS, &v);
                a->cfg.batch = (uint32_t)v;
                return rc;
        case 'r':
                return cli_parse_long(cmd, "--rate", text, 0, 1000000000,
                                      &a->rate);
        default: /* 's' */
                rc = cli_parse_long(cmd, "--seed", text, 0, INT64_MAX, &v);
                a->cfg.seed = (uint64_t)v;
                a->seeded = true;
                return rc;
        }
}

static int parse_opt(const struct cli_command *cmd, int c, char *value,
                     void *ctx)
{
        struct lg_args *a = ctx;

        switch (c) {
        case 'b':
                a->brokers = value;
                return 0;
        case 't':
                a->topic = value;
                return *value ? 0
                              : cli_usage_error(cmd, "--topic needs a name");
        case 'o':
                a->truth = value;
                return 0;
        case 'C':
                a->config = value;
                return 0;
        case 'f':
                a->time_from = value;
                return 0;
        case 'u':
                a->time_to = value;
                return 0;
        case 'q':
                a->quiet = true;
                return 0;
        case 'L':
                a->cfg.batch_limit_case = true;
                return 0;
        case 'T':
                return parse_types(cmd, value, &a->cfg);
        case 'E':
                return parse_encoding(cmd, value, &a->cfg.encoding);
        case 'P':
                return parse_profile(cmd, value, &a->cfg.profile);
        case 'd':
                return parse_ratio(cmd, "--duplicates", value, &a->dup_ppm);
        case 'x':
                return parse_ratio(cmd, "--bad", value, &a->bad_ppm);
        case 'X':
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
        default:
                return parse_number(cmd, c, value, a);
        }
}

/* The time range: defaults to this UTC month's start .. now; never in the
   future, never before 2000 (docs/formats.md). */
static int parse_times(const struct cli_command *cmd, struct lg_args *a)
{
        tl_time_us now = a->cfg.now_us;
        tl_time_us y2k = tl_days_from_civil(2000, 1, 1) * TL_US_PER_DAY;
        struct tl_error err;
        int64_t year;
        unsigned month, day;

        a->cfg.time_to = now;
        if (a->time_to && tl_time_parse_rfc3339(a->time_to, strlen(a->time_to),
                                                &a->cfg.time_to, &err))
                return cli_usage_error(cmd, "--time-to: %s", err.msg);
        tl_civil_from_days(a->cfg.time_to / TL_US_PER_DAY, &year, &month, &day);
        a->cfg.time_from = tl_days_from_civil(year, month, 1) * TL_US_PER_DAY;
        if (a->time_from &&
            tl_time_parse_rfc3339(a->time_from, strlen(a->time_from),
                                  &a->cfg.time_from, &err))
                return cli_usage_error(cmd, "--time-from: %s", err.msg);
        if (a->cfg.time_to > now)
                return cli_usage_error(cmd, "--time-to is in the future");
        if (a->cfg.time_from <= y2k)
                return cli_usage_error(cmd, "--time-from must be after "
                                            "2000-01-01T00:00:00Z");
        if (a->cfg.time_from > a->cfg.time_to)
                return cli_usage_error(cmd, "--time-from is after --time-to");
        return 0;
}

/* Units of each kind from the ratios, which are of all units produced:
   total = events / (1 - dup - bad), rounded to nearest. */
static int plan_counts(const struct cli_command *cmd, struct lg_args *a)
{
        uint32_t rest = PPM - a->dup_ppm - a->bad_ppm;
        tl_u128 total;

        if (a->dup_ppm + a->bad_ppm >= PPM)
                return cli_usage_error(cmd, "--duplicates and --bad must add "
                                            "up to less than 1");
        total = ((tl_u128)a->cfg.events * PPM + rest / 2) / rest;
        a->cfg.duplicates = (uint64_t)((total * a->dup_ppm + PPM / 2) / PPM);
        a->cfg.bad = (uint64_t)((total * a->bad_ppm + PPM / 2) / PPM);
        return 0;
}

static int parse_args(const struct cli_command *cmd, int argc, char **argv,
                      struct lg_args *a)
{
        static const struct option longopts[] = {
            {"brokers", required_argument, NULL, 'b'},
            {"topic", required_argument, NULL, 't'},
            {"config", required_argument, NULL, 'C'},
            {"events", required_argument, NULL, 'e'},
            {"customers", required_argument, NULL, 'c'},
            {"types", required_argument, NULL, 'T'},
            {"encoding", required_argument, NULL, 'E'},
            {"profile", required_argument, NULL, 'P'},
            {"batch", required_argument, NULL, 'B'},
            {"duplicates", required_argument, NULL, 'd'},
            {"bad", required_argument, NULL, 'x'},
            {"batch-limit-case", no_argument, NULL, 'L'},
            {"rate", required_argument, NULL, 'r'},
            {"seed", required_argument, NULL, 's'},
            {"truth", required_argument, NULL, 'o'},
            {"time-from", required_argument, NULL, 'f'},
            {"time-to", required_argument, NULL, 'u'},
            {"quiet", no_argument, NULL, 'q'},
            {NULL, 0, NULL, 0},
        };
        static const struct cli_options spec = {longopts, "X:", parse_opt,
                                                false};

        if (cli_parse_options(cmd, argc, argv, &spec, a, NULL))
                return CLI_EXIT_USAGE;
        if (cli_kafka_load(cmd, a->config, a->kafka, &a->brokers, &a->topic,
                           a->props, &a->prop_count, MAX_PROPS))
                return CLI_EXIT_USAGE;
        if (!a->topic)
                a->topic = "usage.events";
        if (!a->brokers || !*a->brokers)
                a->brokers = getenv("TALLY_KAFKA_BROKERS");
        if (!a->brokers || !*a->brokers)
                return cli_usage_error(cmd, "no brokers: give --brokers or "
                                            "set TALLY_KAFKA_BROKERS");
        /* A skewed population needs a tail: production's default is the
           10,000 customers of docs/benchmarks.md. */
        if (a->cfg.profile == LG_PRODUCTION && !a->customers_given)
                a->cfg.customers = 10000;
        if (parse_times(cmd, a))
                return CLI_EXIT_USAGE;
        return plan_counts(cmd, a);
}

/* ---- producing ---- */

static void kafka_log(const rd_kafka_t *rk, int level, const char *fac,
                      const char *buf)
{
        (void)rk;
        tl_log_library(level, "loadgen", "librdkafka", fac, buf);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
        struct lg_stats *st = opaque;
        uint64_t units = (uint64_t)(uintptr_t)m->_private;

        (void)rk;
        if (m->err) {
                if (!st->failed_msgs)
                        st->first_error = m->err;
                st->failed_msgs++;
                st->failed_units += units;
        } else {
                st->delivered_msgs++;
                st->delivered_units += units;
        }
}

static int set_prop(const struct cli_command *cmd, rd_kafka_conf_t *conf,
                    const char *key, const char *value)
{
        char errstr[512];

        if (rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK)
                return cli_usage_error(cmd, "%s: %s", key, errstr);
        return 0;
}

/*
** A producer tuned for throughput without loss (idempotent, acks=all),
** then the caller's -X properties on top. Returns NULL with '*rc' set to
** the exit code after saying why.
*/
static rd_kafka_t *make_producer(const struct cli_command *cmd,
                                 const struct lg_args *a, struct lg_stats *st,
                                 int *rc)
{
        static const char *const defaults[][2] = {
            {"enable.idempotence", "true"},
            {"acks", "all"},
            {"linger.ms", "5"},
            {"queue.buffering.max.messages", "1000000"},
            {"queue.buffering.max.kbytes", "1048576"},
        };
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[512], key[256];
        rd_kafka_t *rk;

        *rc = set_prop(cmd, conf, "bootstrap.servers", a->brokers);
        for (size_t i = 0; !*rc && i < sizeof defaults / sizeof *defaults; i++)
                *rc = set_prop(cmd, conf, defaults[i][0], defaults[i][1]);
        for (size_t i = 0; !*rc && i < a->prop_count; i++) {
                const char *eq = strchr(a->props[i], '=');
                snprintf(key, sizeof key, "%.*s", (int)(eq - a->props[i]),
                         a->props[i]);
                *rc = set_prop(cmd, conf, key, eq + 1);
        }
        if (*rc) {
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rd_kafka_conf_set_log_cb(conf, kafka_log);
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_opaque(conf, st);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        if (!rk) {
                fprintf(stderr, "tally loadgen: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                *rc = CLI_EXIT_RUNTIME;
        }
        return rk;
}

/* Everything one run needs while producing. */
struct lg_run {
        const struct lg_args *a;
        struct lg_gen *gen;
        rd_kafka_t *rk;
        struct lg_stats stats;
        uint64_t total_units, sent_units, sent_msgs;
        tl_time_us start_us, last_report_us;
};

static unsigned long long per_second(uint64_t n, tl_time_us elapsed_us)
{
        if (elapsed_us <= 0)
                return 0;
        return (unsigned long long)((tl_u128)n * TL_US_PER_SEC /
                                    (uint64_t)elapsed_us);
}

/* A progress line about once a second, unless --quiet. */
static void report(struct lg_run *r)
{
        tl_time_us now = tl_time_now_us();

        if (r->a->quiet || now - r->last_report_us < TL_US_PER_SEC)
                return;
        r->last_report_us = now;
        fprintf(stderr,
                "tally loadgen: %llu/%llu units in %llu messages, %llu "
                "units/s, %llu delivered, %d awaiting delivery\n",
                (unsigned long long)r->sent_units,
                (unsigned long long)r->total_units,
                (unsigned long long)r->sent_msgs,
                per_second(r->sent_units, now - r->start_us),
                (unsigned long long)r->stats.delivered_units,
                rd_kafka_outq_len(r->rk));
}

/* Hold back to --rate units a second, serving delivery reports meanwhile. */
static void pace(struct lg_run *r)
{
        tl_time_us due, now;

        if (r->a->rate <= 0)
                return;
        due = r->start_us + (tl_time_us)((tl_u128)r->sent_units *
                                         TL_US_PER_SEC / (uint64_t)r->a->rate);
        while ((now = tl_time_now_us()) < due) {
                tl_time_us wait_ms = (due - now) / 1000 + 1;
                rd_kafka_poll(r->rk, (int)(wait_ms < 100 ? wait_ms : 100));
                report(r);
        }
}

/* Hand one message to librdkafka, waiting while its queue is full. */
static int produce_one(struct lg_run *r, const struct lg_message *m)
{
        void *units = (void *)(uintptr_t)m->units;
        rd_kafka_resp_err_t kerr;

        for (;;) {
                if (m->content_type)
                        kerr = rd_kafka_producev(
                            r->rk, RD_KAFKA_V_TOPIC(r->a->topic),
                            RD_KAFKA_V_KEY(m->key, strlen(m->key)),
                            RD_KAFKA_V_VALUE(m->payload->data, m->payload->len),
                            RD_KAFKA_V_HEADER("content-type", m->content_type,
                                              -1),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_OPAQUE(units), RD_KAFKA_V_END);
                else
                        kerr = rd_kafka_producev(
                            r->rk, RD_KAFKA_V_TOPIC(r->a->topic),
                            RD_KAFKA_V_KEY(m->key, strlen(m->key)),
                            RD_KAFKA_V_VALUE(m->payload->data, m->payload->len),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_OPAQUE(units), RD_KAFKA_V_END);
                if (kerr != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_poll(r->rk, 100);
                report(r);
        }
        if (kerr) {
                fprintf(stderr, "tally loadgen: cannot produce to %s: %s\n",
                        r->a->topic, rd_kafka_err2str(kerr));
                return CLI_EXIT_RUNTIME;
        }
        rd_kafka_poll(r->rk, 0);
        r->sent_units += m->units;
        r->sent_msgs++;
        return 0;
}

static int produce_all(struct lg_run *r)
{
        struct lg_message m;
        struct tl_error err;
        char fatal[512];
        int rc = 0;

        while (!rc && lg_more(r->gen)) {
                if (lg_next(r->gen, &m, &err)) {
                        fprintf(stderr, "tally loadgen: %s\n", err.msg);
                        return CLI_EXIT_RUNTIME;
                }
                rc = produce_one(r, &m);
                if (!rc && rd_kafka_fatal_error(r->rk, fatal, sizeof fatal)) {
                        fprintf(stderr, "tally loadgen: producer failed: %s\n",
                                fatal);
                        rc = CLI_EXIT_RUNTIME;
                }
                if (!rc)
                        pace(r);
                report(r);
        }
        /* Every message still queued ends delivered or failed (at the
           latest after message.timeout.ms); wait for all of them. */
        while (rd_kafka_outq_len(r->rk) > 0) {
                rd_kafka_flush(r->rk, 1000);
                report(r);
        }
        return rc;
}

/* The truth file, whole or not at all: written aside, then renamed. */
static int write_truth(const struct lg_run *r)
{
        struct tl_buf text;
        struct tl_error err;
        char tmp[4096];
        FILE *f;
        int rc = CLI_EXIT_RUNTIME;

        tl_buf_init(&text, 0);
        if (snprintf(tmp, sizeof tmp, "%s.tmp", r->a->truth) >= (int)sizeof tmp)
                goto out;
        if (lg_truth(r->gen, &text, &err)) {
                fprintf(stderr, "tally loadgen: %s\n", err.msg);
                goto out;
        }
        f = fopen(tmp, "w");
        if (!f)
                goto fail_io;
        if (fwrite(text.data, 1, text.len, f) != text.len) {
                fclose(f);
                goto fail_io;
        }
        if (fclose(f) != 0 || rename(tmp, r->a->truth) != 0)
                goto fail_io;
        rc = 0;
        goto out;
fail_io:
        fprintf(stderr, "tally loadgen: cannot write %s\n", r->a->truth);
        remove(tmp);
out:
        tl_buf_release(&text);
        return rc;
}

static int finish(struct lg_run *r, int rc)
{
        struct lg_counts n;
        tl_time_us elapsed = tl_time_now_us() - r->start_us;

        lg_counts(r->gen, &n);
        fprintf(stderr,
                "tally loadgen: produced %llu units (%llu events, %llu "
                "duplicates, %llu bad) in %llu messages to %s in %lld.%03lld "
                "s: %llu units/s (seed %llu)\n",
                (unsigned long long)r->sent_units, (unsigned long long)n.stored,
                (unsigned long long)n.duplicates,
                (unsigned long long)n.dead_lettered,
                (unsigned long long)r->sent_msgs, r->a->topic,
                (long long)(elapsed / TL_US_PER_SEC),
                (long long)(elapsed % TL_US_PER_SEC / 1000),
                per_second(r->sent_units, elapsed),
                (unsigned long long)r->a->cfg.seed);
        if (r->stats.failed_msgs) {
                fprintf(stderr,
                        "tally loadgen: %llu of %llu messages (%llu units) "
                        "failed delivery, first: %s\n",
                        (unsigned long long)r->stats.failed_msgs,
                        (unsigned long long)r->sent_msgs,
                        (unsigned long long)r->stats.failed_units,
                        rd_kafka_err2str(r->stats.first_error));
                return CLI_EXIT_RUNTIME;
        }
        if (rc)
                return rc;
        return r->a->truth ? write_truth(r) : 0;
}

static int loadgen(int argc, char **argv, struct cli_kafka *kafka)
{
        const struct cli_command *cmd = cli_find("loadgen");
        struct lg_args a = {
            .kafka = kafka,
            .cfg = {.events = 10000,
                    .customers = 100,
                    .types = {SCH_TYPE_TOKENS, SCH_TYPE_ITERATIONS,
                              SCH_TYPE_MATRIX_OPS},
                    .type_count = 3,
                    .encoding = LG_MIXED,
                    .batch = 1,
                    .now_us = tl_time_now_us()},
        };
        struct lg_run r = {.a = &a};
        struct tl_error err;
        int rc = parse_args(cmd, argc, argv, &a);

        if (rc)
                return rc;
        if (!a.seeded)
                a.cfg.seed =
                    (uint64_t)(a.cfg.now_us ^ (tl_time_us)getpid()) & INT64_MAX;
        if (lg_new(&a.cfg, &r.gen, &err)) {
                fprintf(stderr, "tally loadgen: %s\n", err.msg);
                return tl_status_exit_code(err.code);
        }
        r.rk = make_producer(cmd, &a, &r.stats, &rc);
        if (!r.rk) {
                lg_free(&r.gen);
                return rc;
        }
        r.total_units = a.cfg.events + a.cfg.duplicates + a.cfg.bad;
        r.start_us = r.last_report_us = tl_time_now_us();
        if (!a.quiet)
                fprintf(stderr,
                        "tally loadgen: %llu units (%llu events, %llu "
                        "duplicates, %llu bad) for %u customers to %s "
                        "(profile %s, seed %llu)\n",
                        (unsigned long long)r.total_units,
                        (unsigned long long)a.cfg.events,
                        (unsigned long long)a.cfg.duplicates,
                        (unsigned long long)a.cfg.bad, a.cfg.customers, a.topic,
                        a.cfg.profile == LG_PRODUCTION ? "production"
                                                       : "spread",
                        (unsigned long long)a.cfg.seed);
        rc = finish(&r, produce_all(&r));
        rd_kafka_destroy(r.rk);
        lg_free(&r.gen);
        return rc;
}

int cli_loadgen_main(int argc, char **argv)
{
        struct cli_kafka kafka;
        int rc;

        memset(&kafka, 0, sizeof kafka);
        rc = loadgen(argc, argv, &kafka);
        cli_kafka_release(&kafka);
        return rc;
}
