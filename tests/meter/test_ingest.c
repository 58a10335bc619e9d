/* tally meter against a real broker and PostgreSQL: exact totals, every
   bad input dead-lettered with its reason, metrics, shutdown, config. */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "meterkit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

Test(ingest, stores_exactly_the_ground_truth, .timeout = 240)
{
        struct mk_case c;
        const char *gen[] = {
            "--events", "20000",   "--customers",
            "40",       "--types", "tokens,iterations,matrix_ops,seat",
            "--batch",  "25",      "--duplicates",
            "0.3",      "--bad",   "0.05",
            "--seed",   "11",      NULL};

        mk_case_start(&c, "ingest_truth", 1, 4);
        mk_loadgen(&c, gen);
        mk_meter_drain(&c);
        mk_check_truth(&c);
        /* A second run finds nothing new: offsets hold. */
        mk_meter_drain(&c);
        mk_check_truth(&c);
        mk_case_stop(&c);
}

/* The production profile (time order, skewed customers, recent
   duplicates and conflicts) changes what the meter sees per batch, not
   what it must store. */
Test(ingest, a_production_shaped_stream_stores_exactly_the_truth,
     .timeout = 240)
{
        struct mk_case c;
        const char *gen[] = {"--profile",
                             "production",
                             "--events",
                             "20000",
                             "--customers",
                             "3000",
                             "--types",
                             "tokens,iterations,matrix_ops,seat,outcome",
                             "--batch",
                             "100",
                             "--duplicates",
                             "0.3",
                             "--bad",
                             "0.05",
                             "--seed",
                             "13",
                             NULL};

        mk_case_start(&c, "ingest_production", 1, 4);
        mk_loadgen(&c, gen);
        mk_meter_drain(&c);
        mk_check_truth(&c);
        mk_case_stop(&c);
}

/* The whole stream in the topic twice, as when a producer re-sends what
   it is unsure of: the second copy is all duplicates, and the truth check
   tells those extra messages from a meter that counts twice. */
Test(ingest, a_stream_sent_twice_is_stored_once, .timeout = 240)
{
        struct mk_case c;
        const char *gen[] = {"--events", "3000", "--customers", "20", "--batch",
                             "10", "--duplicates", "0.1", "--bad", "0.05",
                             "--seed", "31",
                             /* a fixed range: the same events both times */
                             "--time-from", "2026-10-01T00:00:00Z", "--time-to",
                             "2026-10-20T00:00:00Z", NULL};

        mk_case_start(&c, "ingest_twice", 1, 2);
        mk_loadgen(&c, gen);
        mk_loadgen(&c, gen);
        mk_meter_drain(&c);
        mk_check_truth(&c);
        mk_case_stop(&c);
}

Test(ingest, every_bad_input_is_dead_lettered_with_its_reason, .timeout = 240)
{
        static const char *const reasons[] = {
            "JSON: ",
            "CBOR: ",
            "id: required attribute missing",
            "source: required attribute missing",
            "subject: required attribute missing",
            "type: required attribute missing",
            "time: required attribute missing",
            "data: required attribute missing",
            "type: unknown event type",
            "data.output_tokens: expected unsigned integer, got text",
            "data.output_tokens: expected unsigned integer, got negative",
            "is before 2000-01-01",
            "ahead of the receiver's clock",
            "conflicting duplicate: id '",
            "over the limit",
        };
        struct mk_case c;
        const char *gen[] = {"--events", "3000",    "--customers",
                             "5",        "--batch", "10",
                             "--bad",    "0.4",     "--batch-limit-case",
                             "--seed",   "12",      NULL};

        mk_case_start(&c, "ingest_bad", 1, 2);
        mk_loadgen(&c, gen);
        mk_meter_drain(&c);
        mk_check_truth(&c);
        for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
                char sql[512];
                char *lit =
                    PQescapeLiteral(c.db, reasons[i], strlen(reasons[i]));
                char *n;
                snprintf(sql, sizeof sql,
                         "SELECT count(*) FROM dead_letters WHERE"
                         " position(%s in reason) > 0 AND length(raw) > 0"
                         " AND kafka_topic = 'ingest_bad'",
                         lit);
                PQfreemem(lit);
                n = tk_scalar(c.db, sql);
                cr_expect_gt(atol(n), 0, "no dead letter says \"%s\"",
                             reasons[i]);
                free(n);
        }
        mk_case_stop(&c);
}

Test(ingest, serves_metrics_and_health_and_stops_cleanly, .timeout = 240)
{
        struct mk_case c;
        const char *gen[] = {"--events",     "5000", "--customers", "10",
                             "--duplicates", "0.2",  "--bad",       "0.1",
                             "--seed",       "13",   NULL};
        char addr[64], body[65536];
        const char *extra[] = {"--http", addr, NULL};
        int port = mk_free_port(), status = -1;
        long long produced, stored, dups, dead;
        char want[4][128];
        pid_t meter;

        mk_case_start(&c, "ingest_http", 1, 4);
        mk_loadgen(&c, gen);
        snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
        mk_truth_totals(&c, &produced, &stored, &dups, &dead);
        snprintf(want[0], sizeof want[0], "tally_meter_consumed_total %lld\n",
                 produced);
        snprintf(want[1], sizeof want[1], "tally_meter_stored_total %lld\n",
                 stored);
        snprintf(want[2], sizeof want[2], "tally_meter_duplicates_total %lld\n",
                 dups);
        snprintf(want[3], sizeof want[3],
                 "tally_meter_dead_letters_total %lld\n", dead);
        meter = mk_meter_spawn(&c, extra);
        /* Wait until everything consumed is committed. */
        for (int i = 0; i < 600; i++) {
                status = mk_http_get(port, "/metrics", body, sizeof body);
                if (status == 200 && strstr(body, want[0]))
                        break;
                mk_sleep_ms(100);
        }
        cr_assert_eq(status, 200);
        for (int i = 0; i < 4; i++)
                cr_expect(strstr(body, want[i]), "no \"%s\" in:\n%s", want[i],
                          body);
        cr_expect(strstr(body, "tally_meter_lag{topic=\"ingest_http\","
                               "partition=\"0\"} 0\n"),
                  "%s", body);
        cr_expect(strstr(body, "tally_meter_batch_seconds_count "), "%s", body);
        cr_expect(strstr(body, "tally_meter_up{dependency=\"postgresql\"} 1"),
                  "%s", body);
        cr_expect_eq(mk_http_get(port, "/healthz", body, sizeof body), 200);
        cr_expect_eq(mk_http_get(port, "/nope", body, sizeof body), 404);
        kill(meter, SIGTERM);
        cr_expect_eq(mk_wait(meter, 30000), 0, "SIGTERM: exit 0");
        mk_check_truth(&c);
        mk_case_stop(&c);
}

/* Configuration errors exit 2 and name the place; no service is needed. */
Test(ingest, bad_configuration_is_refused_with_its_place)
{
        char path[] = "/tmp/tk-meter-config-XXXXXX";
        int fd = mkstemp(path);
        struct tk_proc_result r;
        const char *yaml = "kafka:\n  brokers: 127.0.0.1:1\n"
                           "  offset_reset: latest\n";
        const char *argv[] = {tk_tally_bin(), "meter", "--config", path, NULL};
        const char *reserved[] = {tk_tally_bin(),
                                  "meter",
                                  "--brokers",
                                  "127.0.0.1:1",
                                  "-X",
                                  "enable.auto.commit=true",
                                  NULL};
        const char *nobrokers[] = {tk_tally_bin(), "meter", NULL};

        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
        close(fd);
        cr_assert_eq(tk_run(argv, 20000, &r), 0);
        cr_expect_eq(r.exit_code, 2);
        cr_expect(strstr(r.err, ":3:17: kafka.offset_reset: expected "
                                "'earliest' or 'error'"),
                  "%s", r.err);
        tk_proc_result_release(&r);

        fd = open(path, O_WRONLY | O_TRUNC);
        yaml = "meter:\n  batch_event: 10\n";
        cr_assert_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
        close(fd);
        cr_assert_eq(tk_run(argv, 20000, &r), 0);
        cr_expect_eq(r.exit_code, 2);
        cr_expect(strstr(r.err, ":2:3: meter.batch_event: unknown key"), "%s",
                  r.err);
        tk_proc_result_release(&r);
        unlink(path);

        cr_assert_eq(tk_run(reserved, 20000, &r), 0);
        cr_expect_eq(r.exit_code, 2);
        cr_expect(strstr(r.err, "'enable.auto.commit' is set by the meter"),
                  "%s", r.err);
        tk_proc_result_release(&r);

        unsetenv("TALLY_KAFKA_BROKERS");
        cr_assert_eq(tk_run(nobrokers, 20000, &r), 0);
        cr_expect_eq(r.exit_code, 2);
        cr_expect(strstr(r.err, "no Kafka brokers"), "%s", r.err);
        tk_proc_result_release(&r);
}

/* Secrets given through the config never reach a log line, even when the
   database is unreachable and every retry is logged. */
Test(ingest, secrets_stay_out_of_the_logs, .timeout = 120)
{
        struct mk_case c;
        const char *extra[] = {"-X", "sasl.password=kafka-secret-4711", NULL};
        char line[4096];
        bool seen_retry = false;
        FILE *f;
        pid_t m;

        mk_case_start(&c, "ingest_secrets", 1, 1);
        setenv("DATABASE_URL",
               "postgresql://tally:pg-secret-4711@127.0.0.1:1/nowhere", 1);
        m = mk_meter_spawn(&c, extra);
        mk_sleep_ms(3000);
        kill(m, SIGTERM);
        cr_expect_eq(mk_wait(m, 30000), 0, "exit 0 after SIGTERM");
        f = fopen(mk_meter_log(), "r");
        cr_assert_not_null(f);
        while (fgets(line, sizeof line, f)) {
                cr_expect_null(strstr(line, "secret-4711"), "leaked: %s", line);
                seen_retry |= strstr(line, "database unavailable") != NULL;
        }
        fclose(f);
        cr_expect(seen_retry, "the unreachable database was not logged");
        unsetenv("DATABASE_URL");
        mk_case_stop(&c);
}

/* A key another transaction holds uncommitted when the meter's dedup
   insert reaches it: the insert waits, the key is committed with other
   content, and the meter must read that content in the same transaction
   (the dedup statement's snapshot predates it) and dead-letter the event
   as a conflicting duplicate, without failing the batch and reading it
   again. */
Test(ingest, a_key_committed_while_the_meter_waits_is_classified_in_place,
     .timeout = 120)
{
        static const char *const ids[] = {"w-0", "w-1", "w-2"};
        struct mk_case c;
        const char *extra[] = {"--exit-idle-ms", "3000", NULL};
        char path[256], sql[512], line[4096], *v;
        bool waited = false, retried = false;
        PGconn *watch;
        FILE *f;
        pid_t m;

        mk_case_start(&c, "ingest_wait", 1, 1);
        snprintf(path, sizeof path, "%s/events.jsonl", c.dir);
        f = fopen(path, "w");
        cr_assert_not_null(f);
        for (int i = 0; i < 3; i++)
                fprintf(f,
                        "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":"
                        "\"gw\",\"type\":\"inference.tokens\",\"subject\":"
                        "\"cust_w\",\"time\":\"2026-10-0%dT10:00:00Z\","
                        "\"data\":{\"model\":\"m\",\"deployment\":\"cloud\","
                        "\"decoding\":\"autoregressive\","
                        "\"input_tokens\":%d,\"output_tokens\":1}}\n",
                        ids[i], i + 1, 10 + i);
        fclose(f);
        mk_sh("kcat -P -b '%s' -t '%s' -l '%s'", c.broker.bootstrap, c.name,
              path);

        /* Another writer's uncommitted key for w-1, with other content. */
        mk_sh("'%s' db migrate > /dev/null", tk_tally_bin());
        tk_exec(c.db, "BEGIN");
        tk_exec(c.db, "INSERT INTO event_keys (key_hash, content_hash,"
                      " event_time) VALUES (tally_event_key('cust_w', 'gw',"
                      " 'w-1'), decode(repeat('00', 32), 'hex'), now())");
        m = mk_meter_spawn(&c, extra);
        snprintf(sql, sizeof sql, "dbname=%s", c.name);
        watch = PQconnectdb(sql);
        cr_assert_eq(PQstatus(watch), CONNECTION_OK);
        for (int i = 0; i < 300 && !waited; i++) {
                v = tk_scalar(watch, "SELECT count(*) FROM pg_stat_activity"
                                     " WHERE wait_event_type = 'Lock'");
                waited = atoi(v) > 0;
                free(v);
                if (!waited)
                        mk_sleep_ms(100);
        }
        cr_expect(waited, "the meter never waited on the held key");
        tk_exec(c.db, "COMMIT");
        cr_expect_eq(mk_wait(m, 60000), 0, "meter exit (log %s)",
                     mk_meter_log());

        v = tk_scalar(watch, "SELECT string_agg(event_id, ',' ORDER BY"
                             " event_id) FROM events");
        cr_expect_str_eq(v, "w-0,w-2");
        free(v);
        v = tk_scalar(watch, "SELECT count(*) || ' ' || min(reason)"
                             " FROM dead_letters");
        cr_expect(strncmp(v, "1 conflicting duplicate: id 'w-1'", 33) == 0,
                  "dead letters: %s", v);
        free(v);
        v = tk_scalar(watch, "SELECT consumed || '=' || stored || '+' ||"
                             " duplicates || '+' || dead_lettered"
                             " FROM ingest_counts");
        cr_expect_str_eq(v, "3=2+0+1");
        free(v);
        f = fopen(mk_meter_log(), "r");
        cr_assert_not_null(f);
        while (fgets(line, sizeof line, f))
                retried |= strstr(line, "batch not stored") != NULL;
        fclose(f);
        cr_expect(!retried, "the batch failed and was read again (log %s)",
                  mk_meter_log());
        PQfinish(watch);
        mk_case_stop(&c);
}
