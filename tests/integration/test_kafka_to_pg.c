/* End to end through the real parts: produce to the broker, consume in a
   group, write rows with libpq COPY, read them back. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "testkit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

#define N_MESSAGES 2000
#define N_CUSTOMERS 7

static void dr_count(rd_kafka_t *rk, const rd_kafka_message_t *m, void *op)
{
        (void)rk;
        (void)op;
        int *counts = rd_kafka_opaque(rk);
        counts[m->err ? 1 : 0]++;
}

/* Produce N_MESSAGES "customer,tokens" records keyed by customer. */
static long long produce_all(const char *topic)
{
        char errstr[256], key[16], val[64];
        int counts[2] = {0, 0};
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        long long total = 0;
        rd_kafka_t *p;

        tk_kafka_set(conf, "bootstrap.servers", getenv("TALLY_KAFKA_BROKERS"));
        tk_kafka_set(conf, "enable.idempotence", "true");
        tk_kafka_set(conf, "acks", "all");
        rd_kafka_conf_set_dr_msg_cb(conf, dr_count);
        rd_kafka_conf_set_opaque(conf, counts);
        p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        cr_assert(p, "%s", errstr);
        for (int i = 0; i < N_MESSAGES; i++) {
                int tokens = (i * 37) % 1000 + 1;
                snprintf(key, sizeof key, "cust_%d", i % N_CUSTOMERS);
                snprintf(val, sizeof val, "%s,%d", key, tokens);
                total += tokens;
                cr_assert_eq(
                    rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic),
                                      RD_KAFKA_V_KEY(key, strlen(key)),
                                      RD_KAFKA_V_VALUE(val, strlen(val)),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_END),
                    RD_KAFKA_RESP_ERR_NO_ERROR);
                rd_kafka_poll(p, 0);
        }
        cr_assert_eq(rd_kafka_flush(p, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
        cr_assert_eq(counts[0], N_MESSAGES, "all delivered");
        cr_assert_eq(counts[1], 0, "none failed");
        rd_kafka_destroy(p);
        return total;
}

/* Consume everything and COPY it into 'messages' in one transaction. */
static void consume_into(PGconn *db, const char *topic)
{
        char errstr[256], line[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        int got = 0;
        rd_kafka_t *c;

        tk_kafka_set(conf, "bootstrap.servers", getenv("TALLY_KAFKA_BROKERS"));
        tk_kafka_set(conf, "group.id", "it-kafka-to-pg");
        tk_kafka_set(conf, "auto.offset.reset", "earliest");
        tk_kafka_set(conf, "enable.auto.commit", "false");
        c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
        cr_assert(c, "%s", errstr);
        rd_kafka_poll_set_consumer(c);
        rd_kafka_topic_partition_list_t *t =
            rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(t, topic, RD_KAFKA_PARTITION_UA);
        cr_assert_eq(rd_kafka_subscribe(c, t), 0);
        rd_kafka_topic_partition_list_destroy(t);

        tk_exec(db, "BEGIN");
        PGresult *r = PQexec(db, "COPY messages (part, off, customer, tokens)"
                                 " FROM STDIN");
        cr_assert_eq(PQresultStatus(r), PGRES_COPY_IN, "%s",
                     PQerrorMessage(db));
        PQclear(r);
        time_t deadline = time(NULL) + 60;

        while (got < N_MESSAGES && time(NULL) < deadline) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
                if (!m)
                        continue;
                if (!m->err) {
                        int n = snprintf(line, sizeof line, "%d\t%lld\t%.*s\n",
                                         m->partition, (long long)m->offset,
                                         (int)m->len, (const char *)m->payload);
                        char *comma = memchr(line, ',', (size_t)n);
                        cr_assert(comma);
                        *comma = '\t';
                        cr_assert_eq(PQputCopyData(db, line, n), 1);
                        got++;
                }
                rd_kafka_message_destroy(m);
        }
        cr_assert_eq(got, N_MESSAGES, "consumed all");
        cr_assert_eq(PQputCopyEnd(db, NULL), 1);
        r = PQgetResult(db);
        cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s",
                     PQerrorMessage(db));
        PQclear(r);
        tk_exec(db, "COMMIT");
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
}

Test(kafka_to_pg, produced_messages_are_stored_and_read_back_exactly,
     .timeout = 180)
{
        tk_require_env();
        PGconn *db = tk_pg_fresh_db("it_kafka_to_pg");
        cr_assert(db);
        tk_exec(db, "CREATE TABLE messages (part int NOT NULL, off bigint NOT "
                    "NULL, customer text NOT NULL, tokens bigint NOT NULL, "
                    "PRIMARY KEY (part, off))");

        long long total = produce_all("it.usage");
        consume_into(db, "it.usage");

        PGresult *r = PQexec(db, "SELECT count(*), sum(tokens), "
                                 "count(DISTINCT customer), "
                                 "count(DISTINCT part) FROM messages");
        cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
        cr_assert_eq(atoll(PQgetvalue(r, 0, 0)), N_MESSAGES);
        cr_assert_eq(atoll(PQgetvalue(r, 0, 1)), total);
        cr_assert_eq(atoi(PQgetvalue(r, 0, 2)), N_CUSTOMERS);
        cr_assert_gt(atoi(PQgetvalue(r, 0, 3)), 1, "spread over partitions");
        PQclear(r);
        /* Keyed by customer: each customer's messages sit in one partition. */
        r = PQexec(db, "SELECT max(n) FROM (SELECT count(DISTINCT part) AS n "
                       "FROM messages GROUP BY customer) s");
        cr_assert_str_eq(PQgetvalue(r, 0, 0), "1");
        PQclear(r);
        PQfinish(db);
}
