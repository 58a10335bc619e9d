/* tally.yaml as the meter and the close read it: ${VAR} and k_file
   secrets, and no secret in any error message or log line. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "invoicing/invoicing.h"
#include "meter/meter.h"

#define KAFKA_SECRET "kafka-S3cret-9931"
#define PG_SECRET "pg-S3cret-9931"
#define FILE_SECRET "file-S3cret-9931"

static char logged[65536];

static void sink(tl_log_level level, const char *line, void *ctx)
{
        (void)level;
        (void)ctx;
        strncat(logged, line, sizeof logged - strlen(logged) - 2);
        strcat(logged, "\n");
}

static void no_secret(const char *where, const char *text)
{
        cr_expect_null(strstr(text, "S3cret-9931"), "%s leaked: %s", where,
                       text);
}

/* Write 'text' to a fresh file; returns its path in 'path' (size 32). */
static void put(char *path, const char *text)
{
        int fd;

        strcpy(path, "/tmp/tl-cfg-XXXXXX");
        fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static tl_status meter_load(const char *yaml, struct meter_config *c,
                            struct tl_error *err)
{
        char path[32];
        tl_status rc;

        put(path, yaml);
        meter_config_init(c);
        rc = meter_config_load(c, path, err);
        unlink(path);
        return rc;
}

static const char *prop(const struct meter_config *c, const char *key)
{
        for (int i = 0; i < c->prop_count; i++)
                if (!strcmp(c->props[i].key, key))
                        return c->props[i].value;
        return NULL;
}

Test(config, the_meter_takes_secrets_from_the_environment_and_from_files)
{
        struct meter_config c;
        struct tl_error err = {0};
        char secret[32], yaml[1024];

        put(secret, FILE_SECRET "\n");
        setenv("TL_TEST_KAFKA_PASSWORD", KAFKA_SECRET, 1);
        unsetenv("DATABASE_URL");
        unsetenv("PGPASSWORD");
        snprintf(yaml, sizeof yaml,
                 "kafka:\n"
                 "  brokers: 127.0.0.1:1\n"
                 "  topics: [\"usage.${TL_TEST_TOPIC_SUFFIX}\"]\n"
                 "  properties:\n"
                 "    sasl.username: meter\n"
                 "    sasl.password: ${TL_TEST_KAFKA_PASSWORD}\n"
                 "    ssl.key.password_file: %s\n"
                 "meter:\n"
                 "  batch_ms: 2s\n"
                 "database:\n"
                 "  dsn: postgresql://tally@127.0.0.1:1/t\n"
                 "  password_file: %s\n",
                 secret, secret);
        setenv("TL_TEST_TOPIC_SUFFIX", "events", 1);
        cr_assert_eq(meter_load(yaml, &c, &err), TL_OK, "%s", err.msg);
        cr_expect_str_eq(c.topics[0], "usage.events");
        cr_expect_str_eq(prop(&c, "sasl.password"), KAFKA_SECRET);
        cr_expect_str_eq(prop(&c, "ssl.key.password"), FILE_SECRET);
        cr_expect_eq(c.batch_ms, 2000);
        cr_expect_str_eq(getenv("DATABASE_URL"),
                         "postgresql://tally@127.0.0.1:1/t");
        cr_expect_str_eq(getenv("PGPASSWORD"), FILE_SECRET);
        meter_config_release(&c);
        unlink(secret);
}

/* Every way a secret could slip into a message: put where a number or a
   word belongs, given twice, a file that went away, and librdkafka's own
   log lines while the meter is built with the secret set. */
Test(config, no_secret_reaches_an_error_message_or_a_log_line)
{
        static const char *const BAD[] = {
            "meter:\n  writers: ${TL_TEST_KAFKA_PASSWORD}\n",
            "meter:\n  batch_ms: ${TL_TEST_KAFKA_PASSWORD}\n",
            "kafka:\n  offset_reset: ${TL_TEST_KAFKA_PASSWORD}\n",
            "kafka:\n  properties:\n    sasl.password: "
            "${TL_TEST_KAFKA_PASSWORD}\n"
            "    sasl.password_file: /nonexistent\n",
            "kafka:\n  properties:\n    sasl.password_file: /nonexistent/s\n",
            "kafka:\n  properties:\n    sasl.password: ${TL_TEST_UNSET}\n",
            "database:\n  password: ${TL_TEST_KAFKA_PASSWORD}\n  user: x\n",
        };
        struct meter_config c;
        struct meter *m = NULL;
        struct tl_error err = {0};

        setenv("TL_TEST_KAFKA_PASSWORD", KAFKA_SECRET, 1);
        unsetenv("TL_TEST_UNSET");
        unsetenv("PGPASSWORD");
        setenv("DATABASE_URL",
               "postgresql://tally:" PG_SECRET "@127.0.0.1:1/nowhere", 1);
        tl_log_set_sink(sink, NULL);
        tl_log_set_level(TL_LOG_DEBUG);
        for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
                cr_expect_neq(meter_load(BAD[i], &c, &err), TL_OK, "%s",
                              BAD[i]);
                cr_expect(strstr(err.msg, "tl-cfg-"), "no place: %s", err.msg);
                no_secret("error", err.msg);
                meter_config_release(&c);
        }
        /* Built with the secret: a reserved property is refused after it. */
        cr_assert_eq(meter_load("kafka:\n  brokers: 127.0.0.1:1\n"
                                "  properties:\n"
                                "    sasl.password: ${TL_TEST_KAFKA_PASSWORD}\n"
                                "    enable.auto.commit: \"true\"\n",
                                &c, &err),
                     TL_OK, "%s", err.msg);
        meter_config_set(&c, "kafka.group", "g", &err);
        meter_config_set(&c, "kafka.topics", "t", &err);
        cr_expect_neq(meter_new(&c, &m, &err), TL_OK);
        no_secret("error", err.msg);
        meter_config_release(&c);
        /* ... and accepted, with librdkafka's debug log of its config. */
        cr_assert_eq(meter_load("kafka:\n  brokers: 127.0.0.1:1\n"
                                "  properties:\n"
                                "    security.protocol: SASL_PLAINTEXT\n"
                                "    sasl.mechanism: PLAIN\n"
                                "    sasl.username: u\n"
                                "    sasl.password: ${TL_TEST_KAFKA_PASSWORD}\n"
                                "    debug: conf,security,broker\n"
                                "meter:\n  writers: 1\n",
                                &c, &err),
                     TL_OK, "%s", err.msg);
        meter_config_set(&c, "kafka.group", "g", &err);
        meter_config_set(&c, "kafka.topics", "t", &err);
        cr_assert_eq(meter_new(&c, &m, &err), TL_OK, "%s", err.msg);
        usleep(300 * 1000);
        meter_free(&m);
        meter_config_release(&c);
        tl_log_set_sink(NULL, NULL);
        cr_expect(strlen(logged) > 0, "librdkafka logged nothing");
        no_secret("log", logged);
        unsetenv("DATABASE_URL");
}

Test(config, the_close_takes_secrets_and_refuses_them_without_quoting)
{
        struct inv_config c;
        struct tl_error err = {0};
        char path[32], name[32], yaml[512];

        put(name, "Alder Insurance\n");
        setenv("TL_TEST_RULES", "pricing-rules/", 1);
        setenv("TL_TEST_KAFKA_PASSWORD", KAFKA_SECRET, 1);
        unsetenv("TALLY_RULES");
        snprintf(yaml, sizeof yaml,
                 "invoicing:\n  rules: ${TL_TEST_RULES}\n  grace_days: 5\n"
                 "  issuer:\n    name_file: %s\n",
                 name);
        put(path, yaml);
        inv_config_init(&c);
        cr_assert_eq(inv_config_load(&c, path, &err), TL_OK, "%s", err.msg);
        cr_expect_str_eq(c.rules, "pricing-rules/");
        cr_expect_str_eq(c.issuer.name, "Alder Insurance");
        cr_expect_eq(c.grace_days, 5);
        inv_config_release(&c);
        unlink(path);
        put(path, "invoicing:\n  jobs: ${TL_TEST_KAFKA_PASSWORD}\n");
        inv_config_init(&c);
        cr_expect_eq(inv_config_load(&c, path, &err), TL_EINVAL);
        cr_expect(strstr(err.msg, ":2:9: invoicing.jobs: expected an integer"),
                  "%s", err.msg);
        no_secret("error", err.msg);
        inv_config_release(&c);
        unlink(path);
        unlink(name);
}
