/* tally broker: Kafka protocol on loopback, for librdkafka and kcat alike. */
#include <criterion/criterion.h>
#include <signal.h>
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
        const char *argv[] = {tk_tally_bin(), "broker", "--topic", "t:0", NULL};
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

/* A producer for 'bootstrap' that counts deliveries in the globals above
   and reconnects quickly after an outage. */
static rd_kafka_t *quick_producer(const char *bootstrap)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[256];
        rd_kafka_t *p;

        tk_kafka_set(conf, "bootstrap.servers", bootstrap);
        tk_kafka_set(conf, "enable.idempotence", "true");
        tk_kafka_set(conf, "reconnect.backoff.max.ms", "200");
        tk_kafka_set(conf, "linger.ms", "1");
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        cr_assert(p, "%s", errstr);
        return p;
}

static void produce_n(rd_kafka_t *p, const char *topic, int n)
{
        for (int i = 0; i < n; i++)
                cr_assert_eq(
                    rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic),
                                      RD_KAFKA_V_VALUE("x", 1),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_END),
                    RD_KAFKA_RESP_ERR_NO_ERROR);
}

Test(broker, control_takes_a_broker_down_and_up_again)
{
        struct tk_broker b;
        rd_kafka_t *p;

        cr_assert_eq(tk_broker_start(&b, 1, NULL), 0);
        cr_assert_str_eq(getenv("TALLY_BROKER_CONTROL"), b.control);
        delivered = failed = 0;
        p = quick_producer(b.bootstrap);
        produce_n(p, "broker.ctl", 10);
        cr_assert_eq(rd_kafka_flush(p, 20000), RD_KAFKA_RESP_ERR_NO_ERROR);
        cr_assert_eq(delivered, 10);

        cr_assert_eq(tk_broker_control(&b, "down 1"), 0);
        produce_n(p, "broker.ctl", 10);
        /* Nothing can be delivered while the only broker is down. */
        for (int i = 0; i < 15; i++)
                rd_kafka_poll(p, 100);
        cr_assert_eq(delivered, 10, "delivered while down");
        cr_assert_eq(failed, 0);

        cr_assert_eq(tk_broker_control_env("up 1"), 0);
        cr_assert_eq(rd_kafka_flush(p, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
        cr_assert_eq(delivered, 20, "after up: %d", delivered);
        cr_assert_eq(failed, 0);
        rd_kafka_destroy(p);
        cr_assert_eq(tk_broker_stop(&b), 0);
}

Test(broker, control_pushes_errors_and_rejects_bad_commands)
{
        struct tk_broker b;
        char fifo[sizeof b.control];
        rd_kafka_t *p;

        cr_assert_eq(tk_broker_start(&b, 2, NULL), 0);
        cr_assert_eq(tk_broker_control(&b, "down 7"), -1, "no broker 7");
        cr_assert_eq(tk_broker_control(&b, "launch 1"), -1);
        cr_assert_eq(tk_broker_control(&b, "errors Produce 2 NO_SUCH_ERROR"),
                     -1);
        cr_assert_eq(tk_broker_control(&b, "rtt 1"), -1, "missing MS");
        cr_assert_eq(tk_broker_control(&b, "leader broker.err 0 2"), 0);
        cr_assert_eq(tk_broker_control(&b, "rtt -1 20"), 0);
        /* Retriable errors: the producer retries through them. */
        cr_assert_eq(
            tk_broker_control(&b, "errors Produce 3 NOT_LEADER_FOR_PARTITION"),
            0);
        delivered = failed = 0;
        p = quick_producer(b.bootstrap);
        produce_n(p, "broker.err", 5);
        cr_assert_eq(rd_kafka_flush(p, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
        cr_assert_eq(delivered, 5);
        cr_assert_eq(failed, 0);
        rd_kafka_destroy(p);

        /* The broker removes its FIFO when it stops. */
        strcpy(fifo, b.control);
        kill(b.pid, SIGTERM);
        for (int i = 0; i < 500 && access(fifo, F_OK) == 0; i++)
                usleep(10000);
        cr_assert_neq(access(fifo, F_OK), 0, "FIFO left behind");
        cr_assert_eq(tk_broker_stop(&b), 0);
}
