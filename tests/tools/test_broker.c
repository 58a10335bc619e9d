/* tally broker: Kafka protocol on loopback, for librdkafka and kcat alike. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "testkit.h"

Test(broker, prints_address_and_stops_cleanly_on_sigterm)
{
        struct tk_broker b;

        cr_assert_eq(tk_broker_start(&b, 3, NULL), 0);
        cr_assert(strstr(b.bootstrap, "127.0.0.1:"), "%s", b.bootstrap);
        cr_assert_eq(strchr(b.bootstrap, ',') != NULL, 1, "three brokers");
        cr_assert_eq(tk_broker_stop(&b), 0, "exit 0 after SIGTERM");
}

Test(broker, kcat_lists_brokers_and_flag_created_topic)
{
        const char *extra[] = {"--topic", "usage.events:6", NULL};
        struct tk_broker b;
        struct tk_proc_result r;

        cr_assert_eq(tk_broker_start(&b, 2, extra), 0);
        const char *argv[] = {"/usr/bin/kcat", "-L", "-b", b.bootstrap, NULL};
        cr_assert_eq(tk_run(argv, 20000, &r), 0);
        cr_assert_eq(r.exit_code, 0, "kcat: %s", r.err);
        cr_assert(strstr(r.out, "2 brokers:"), "%s", r.out);
        cr_assert(strstr(r.out, "broker 1 at 127.0.0.1:"), "%s", r.out);
        cr_assert(strstr(r.out, "topic \"usage.events\" with 6 partitions"),
                  "%s", r.out);
        tk_proc_result_release(&r);
        cr_assert_eq(tk_broker_stop(&b), 0);
}

Test(broker, bad_topic_spec_exits_2)
{
        const char *argv[] = {tk_tally_bin(), "broker", "--topic", "t:0",
                              NULL};
        struct tk_proc_result r;

        cr_assert_eq(tk_run(argv, 20000, &r), 0);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "--topic partitions: '0'"), "%s", r.err);
        tk_proc_result_release(&r);
}

static int delivered, failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
        (void)rk;
        (void)opaque;
        if (m->err)
                failed++;
        else
                delivered++;
}

Test(broker, librdkafka_round_trip_through_auto_created_topic)
{
        struct tk_broker b;
        char errstr[256], payload[32];
        rd_kafka_conf_t *pc = rd_kafka_conf_new(), *cc = rd_kafka_conf_new();
        rd_kafka_t *p, *c;
        int got = 0;

        cr_assert_eq(tk_broker_start(&b, 1, NULL), 0);
        tk_kafka_set(pc, "bootstrap.servers", b.bootstrap);
        tk_kafka_set(pc, "enable.idempotence", "true");
        rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
        p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, sizeof errstr);
        cr_assert(p, "%s", errstr);
        for (int i = 0; i < 100; i++) {
                snprintf(payload, sizeof payload, "m%d", i);
                cr_assert_eq(rd_kafka_producev(
                                     p, RD_KAFKA_V_TOPIC("broker.rt"),
                                     RD_KAFKA_V_VALUE(payload, strlen(payload)),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                     RD_KAFKA_V_END),
                             RD_KAFKA_RESP_ERR_NO_ERROR);
        }
        cr_assert_eq(rd_kafka_flush(p, 20000), RD_KAFKA_RESP_ERR_NO_ERROR);
        cr_assert_eq(delivered, 100);
        cr_assert_eq(failed, 0);
        rd_kafka_destroy(p);

        tk_kafka_set(cc, "bootstrap.servers", b.bootstrap);
        tk_kafka_set(cc, "group.id", "broker-rt");
        tk_kafka_set(cc, "auto.offset.reset", "earliest");
        c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, errstr, sizeof errstr);
        cr_assert(c, "%s", errstr);
        rd_kafka_poll_set_consumer(c);
        rd_kafka_topic_partition_list_t *t =
                rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(t, "broker.rt",
                                          RD_KAFKA_PARTITION_UA);
        cr_assert_eq(rd_kafka_subscribe(c, t), RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_topic_partition_list_destroy(t);
        time_t deadline = time(NULL) + 30;

        while (got < 100 && time(NULL) < deadline) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
                if (!m)
                        continue;
                if (!m->err)
                        got++;
                rd_kafka_message_destroy(m);
        }
        cr_assert_eq(got, 100);
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
        cr_assert_eq(tk_broker_stop(&b), 0);
}
