/* tally loadgen --profile production: the shape of a live gateway's stream,
   read back from the topic (the truth itself: test_loadgen.c). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "schemas/decode.h"
#include "testkit.h"

#define MAX_PARTITIONS 64
#define CUSTOMERS 10000
#define EVENTS 60000

/* What the stream looked like, per customer and per partition. */
struct shape {
        struct sch_decoder *decoder;
        struct sch_event ev;
        uint64_t events[CUSTOMERS]; /* distinct events by customer */
        uint8_t models[CUSTOMERS];  /* bit per model name seen */
        char model_names[8][32];
        int model_count;
        int64_t last_n[MAX_PARTITIONS]; /* highest event number so far */
        int64_t last_time[MAX_PARTITIONS];
        uint64_t distinct, backwards;
};

static int model_bit(struct shape *s, struct sch_str m)
{
        for (int i = 0; i < s->model_count; i++)
                if (strlen(s->model_names[i]) == m.len &&
                    memcmp(s->model_names[i], m.ptr, m.len) == 0)
                        return i;
        cr_assert_lt(s->model_count, 8);
        cr_assert_lt(m.len, sizeof s->model_names[0]);
        memcpy(s->model_names[s->model_count], m.ptr, m.len);
        return s->model_count++;
}

/* One valid event as consumed from 'part'. Event numbers (the id's tail)
   rise in stream order, so a number above every earlier one in the
   partition is the event's first sending; a resend keeps its old time. */
static void take_event(struct shape *s, int part, const struct sch_event *ev)
{
        char id[64], subject[32];
        unsigned long long seed, n;
        unsigned cust;
        int used = 0;

        snprintf(id, sizeof id, "%.*s", (int)ev->id.len, ev->id.ptr);
        if (sscanf(id, "lg-%llu-%llu%n", &seed, &n, &used) != 2 ||
            id[used] != '\0' || (int64_t)n <= s->last_n[part])
                return;
        s->last_n[part] = (int64_t)n;
        s->distinct++;
        s->backwards += ev->time_us < s->last_time[part];
        s->last_time[part] = ev->time_us;
        snprintf(subject, sizeof subject, "%.*s", (int)ev->subject.len,
                 ev->subject.ptr);
        cr_assert_eq(sscanf(subject, "cust_%u", &cust), 1, "%s", subject);
        cr_assert(cust >= 1 && cust <= CUSTOMERS, "%u", cust);
        s->events[cust - 1]++;
        if (ev->model.len)
                s->models[cust - 1] |= (uint8_t)(1u << model_bit(s, ev->model));
}

static void take_message(struct shape *s, const rd_kafka_message_t *m)
{
        struct sch_cbor_reader r;
        struct sch_str raw;

        if (sch_detect_encoding(NULL, m->payload, m->len) == SCH_ENC_JSON) {
                if (!sch_decode_json(s->decoder, m->payload, m->len, &s->ev,
                                     NULL))
                        take_event(s, m->partition, &s->ev);
                return;
        }
        if (sch_cbor_reader_open(&r, m->payload, m->len, false, NULL))
                return;
        while (sch_cbor_reader_more(&r)) {
                tl_status rc =
                    sch_cbor_reader_next(&r, s->decoder, &s->ev, &raw, NULL);
                if (rc && r.broken)
                        break;
                if (!rc)
                        take_event(s, m->partition, &s->ev);
        }
}

/* Read every partition of 'topic' from the start to its end, in order. */
static void consume_topic(const char *topic, struct shape *s)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        const rd_kafka_metadata_t *md;
        rd_kafka_topic_partition_list_t *parts;
        int64_t lo, hi[MAX_PARTITIONS], next[MAX_PARTITIONS];
        char errstr[256];
        rd_kafka_topic_t *rkt;
        rd_kafka_t *c;
        int count, pending = 0;
        time_t deadline = time(NULL) + 60;

        tk_kafka_set(conf, "bootstrap.servers", getenv("TALLY_KAFKA_BROKERS"));
        tk_kafka_set(conf, "group.id", "test-loadgen-profile");
        tk_kafka_set(conf, "enable.auto.commit", "false");
        c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
        cr_assert(c, "%s", errstr);
        rkt = rd_kafka_topic_new(c, topic, NULL);
        cr_assert_eq(rd_kafka_metadata(c, 0, rkt, &md, 10000),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
        count = md->topics[0].partition_cnt;
        cr_assert(count > 0 && count <= MAX_PARTITIONS, "%d partitions", count);
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        parts = rd_kafka_topic_partition_list_new(count);
        for (int p = 0; p < count; p++) {
                cr_assert_eq(rd_kafka_query_watermark_offsets(c, topic, p, &lo,
                                                              &hi[p], 10000),
                             RD_KAFKA_RESP_ERR_NO_ERROR);
                cr_assert_eq(lo, 0, "partition %d lost its start", p);
                next[p] = lo;
                pending += hi[p] > lo;
                rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
                    RD_KAFKA_OFFSET_BEGINNING;
        }
        cr_assert_eq(rd_kafka_assign(c, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_topic_partition_list_destroy(parts);
        while (pending > 0 && time(NULL) < deadline) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
                if (!m)
                        continue;
                cr_assert_eq(m->err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s",
                             rd_kafka_message_errstr(m));
                cr_assert_eq(m->offset, next[m->partition], "in order");
                take_message(s, m);
                next[m->partition] = m->offset + 1;
                pending -= next[m->partition] == hi[m->partition];
                rd_kafka_message_destroy(m);
        }
        cr_assert_eq(pending, 0, "topic %s not read to its end", topic);
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
}

static int by_size_desc(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? 1 : x > y ? -1 : 0;
}

static struct shape *produce_and_read(const char *topic)
{
        const char *argv[] = {
            tk_tally_bin(), "loadgen", "--quiet", "--topic", topic, "--profile",
            "production", "--events", "60000", "--types",
            "tokens,iterations,matrix_ops,seat,outcome", "--batch", "50",
            "--duplicates", "0.3", "--bad", "0.02", "--seed", "5",
            /* the mock keeps 5 MiB a partition */
            "-X", "compression.type=lz4", NULL};
        struct shape *s = calloc(1, sizeof *s);
        struct tk_proc_result r;

        cr_assert(s);
        for (int p = 0; p < MAX_PARTITIONS; p++)
                s->last_n[p] = -1;
        cr_assert_eq(sch_decoder_new(NULL, &s->decoder, NULL), TL_OK);
        cr_assert_eq(tk_run(argv, 120000, &r), 0);
        cr_assert_eq(r.exit_code, 0, "loadgen: %s", r.err);
        tk_proc_result_release(&r);
        consume_topic(topic, s);
        cr_assert_eq(s->distinct, EVENTS, "first sendings seen: %llu",
                     (unsigned long long)s->distinct);
        return s;
}

static void shape_free(struct shape *s)
{
        sch_decoder_free(&s->decoder);
        free(s);
}

Test(loadgen_profile, production_events_arrive_in_time_order)
{
        struct tk_broker b;
        struct shape *s;

        cr_assert_eq(tk_broker_start(&b, 1, NULL), 0);
        s = produce_and_read("lg.prod.order");
        cr_assert_eq(s->backwards, 0, "%llu first sendings went back in time",
                     (unsigned long long)s->backwards);
        shape_free(s);
        cr_assert_eq(tk_broker_stop(&b), 0);
}

/* Zipf with exponent 1 over 10,000 customers gives the top 1 % about
   53 % of the events (H(100) / H(10000)); the tail still has most
   customers sending something. */
Test(loadgen_profile, production_customers_are_skewed_and_stick_to_few_models)
{
        struct tk_broker b;
        struct shape *s;
        uint64_t sizes[CUSTOMERS], top = 0;
        size_t active = 0;

        cr_assert_eq(tk_broker_start(&b, 1, NULL), 0);
        s = produce_and_read("lg.prod.skew");
        for (int i = 0; i < CUSTOMERS; i++) {
                int models = __builtin_popcount(s->models[i]);
                cr_assert_leq(models, 3, "cust %d on %d models", i + 1, models);
                sizes[i] = s->events[i];
                active += sizes[i] > 0;
        }
        qsort(sizes, CUSTOMERS, sizeof *sizes, by_size_desc);
        for (int i = 0; i < CUSTOMERS / 100; i++)
                top += sizes[i];
        cr_assert_gt(top * 100, (uint64_t)EVENTS * 45,
                     "top 1 %% carry %llu of %d events",
                     (unsigned long long)top, EVENTS);
        cr_assert_lt(top * 100, (uint64_t)EVENTS * 62, "but not all of them");
        cr_assert_gt(active, 3000, "%zu customers sent events", active);
        cr_assert_eq(s->model_count, 4, "all models in use across customers");
        shape_free(s);
        cr_assert_eq(tk_broker_stop(&b), 0);
}
