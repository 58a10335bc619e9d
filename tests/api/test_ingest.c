/* POST /v1/events' ingest against a real broker, PostgreSQL and meter:
   per-event results, exactly the valid distinct events stored, the
   container errors, and no acknowledgement without Kafka's. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "api/ingest.h"
#include "core/str.h"
#include "core/time.h"
#include "evtest.h"
#include "meterkit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

#define BATCH_JSON "application/cloudevents-batch+json"
#define ONE_JSON "application/cloudevents+json"
#define CBOR "application/cbor"

static struct api_ingest *ingest_new(const char *brokers, const char *topic,
                                     uint32_t timeout_ms)
{
        struct api_ingest_config cfg = {.brokers = brokers,
                                        .topic = topic,
                                        .delivery_timeout_ms = timeout_ms};
        struct api_ingest *in = NULL;
        struct tl_error err = {0};

        cr_assert_eq(api_ingest_new(&cfg, &in, &err), TL_OK, "%s", err.msg);
        return in;
}

static json_t *post(struct api_ingest *in, const char *ct, const void *body,
                    size_t len, unsigned want_status)
{
        struct tl_error err = {0};
        json_t *doc = NULL;
        unsigned status = 0;
        char *text;

        cr_assert_eq(api_ingest_post(in, ct, body, len, &doc, &status, &err),
                     TL_OK, "%s", err.msg);
        cr_assert_not_null(doc);
        text = json_dumps(doc, JSON_COMPACT);
        cr_assert_eq(status, want_status, "status %u: %s", status, text);
        free(text);
        return doc;
}

/* Ten minutes before the test's start, as RFC 3339: inside the meter's
   skew, and the same for every event, so a resend is the same content. */
static const char *recent(void)
{
        static char when[64];

        if (!when[0])
                tl_time_format_rfc3339(tl_time_now_us() - 600 * TL_US_PER_SEC,
                                       when, sizeof when);
        return when;
}

/* One inference.tokens event; 'data' replaces the data map when given,
   'time' the time. */
static void event(struct tl_buf *b, const char *id, const char *source,
                  const char *time, const char *data)
{
        tl_buf_printf(
            b, NULL,
            "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"%s\","
            "\"type\":\"inference.tokens\",\"subject\":\"cust_1\","
            "\"time\":\"%s\",\"data\":%s}",
            id, source, time ? time : recent(),
            data ? data
                 : "{\"model\":\"m1\",\"deployment\":\"cloud\","
                   "\"decoding\":\"autoregressive\","
                   "\"input_tokens\":10,\"output_tokens\":20}");
}

static const char *error_field(json_t *doc, size_t index)
{
        json_t *r = json_array_get(json_object_get(doc, "results"), index);

        cr_assert_eq(json_integer_value(json_object_get(r, "index")),
                     (json_int_t)index);
        cr_assert_str_eq(json_string_value(json_object_get(r, "status")),
                         "rejected", "event %zu", index);
        cr_assert_str_eq(json_string_value(json_object_get(
                             json_object_get(r, "error"), "code")),
                         "invalid_event");
        return json_string_value(
            json_object_get(json_object_get(r, "error"), "field"));
}

static void expect_accepted(json_t *doc, size_t index)
{
        json_t *r = json_array_get(json_object_get(doc, "results"), index);

        cr_expect_eq(json_integer_value(json_object_get(r, "index")),
                     (json_int_t)index);
        cr_expect_str_eq(json_string_value(json_object_get(r, "status")),
                         "accepted", "event %zu", index);
}

static void expect_counts(json_t *doc, long accepted, long rejected)
{
        cr_expect_eq(json_integer_value(json_object_get(doc, "accepted")),
                     accepted);
        cr_expect_eq(json_integer_value(json_object_get(doc, "rejected")),
                     rejected);
        cr_expect_eq(json_array_size(json_object_get(doc, "results")),
                     (size_t)(accepted + rejected));
}

static void expect_sql(struct mk_case *c, const char *sql, const char *want)
{
        char *got = tk_scalar(c->db, sql);

        cr_expect_str_eq(got, want, "%s: got %s, want %s", sql, got, want);
        free(got);
}

/* The meter's view after draining: the stored ids and its counts. */
static void expect_stored(struct mk_case *c, const char *ids,
                          const char *counts)
{
        mk_meter_drain(c);
        expect_sql(c,
                   "SELECT string_agg(event_id, ',' ORDER BY event_id)"
                   " FROM events",
                   ids);
        expect_sql(c,
                   "SELECT sum(consumed) || ' ' || sum(stored) || ' ' ||"
                   " sum(duplicates) || ' ' || sum(dead_lettered)"
                   " FROM ingest_counts",
                   counts);
}

Test(ingest, a_json_batch_answers_per_event_and_stores_the_valid_distinct_set,
     .timeout = 240)
{
        struct mk_case c;
        struct api_ingest *in;
        struct tl_buf b;
        json_t *doc;

        mk_case_start(&c, "api_ingest_json", 1, 1);
        in = ingest_new(c.broker.bootstrap, c.name, 20000);
        tl_buf_init(&b, 0);
        event(&b, "stored", "gw", NULL, NULL);
        doc = post(in, ONE_JSON, b.data, b.len, 202);
        expect_counts(doc, 1, 0);
        expect_accepted(doc, 0);
        json_decref(doc);
        expect_stored(&c, "stored", "1 1 0 0");

        tl_buf_clear(&b);
        tl_buf_puts(&b, " [ ", NULL);
        event(&b, "e1", "gw", NULL, NULL); /* 0 */
        tl_buf_puts(&b, ",\n", NULL);
        event(&b, "e2", "gw", NULL, NULL); /* 1 */
        tl_buf_puts(&b, ",", NULL);
        event(&b, "e1", "gw", NULL, NULL); /* 2: e1 again */
        tl_buf_puts(&b, ",", NULL);
        event(&b, "stored", "gw", NULL, NULL); /* 3: already stored */
        tl_buf_puts(&b, ",", NULL);
        event(&b, "no-output", "gw", NULL, /* 4 */
              "{\"model\":\"m1\",\"deployment\":\"cloud\","
              "\"decoding\":\"autoregressive\",\"input_tokens\":10}");
        tl_buf_puts(&b, ",", NULL);
        event(&b, "text-count", "gw", NULL, /* 5 */
              "{\"model\":\"m1\",\"deployment\":\"cloud\","
              "\"decoding\":\"autoregressive\",\"input_tokens\":\"ten\","
              "\"output_tokens\":20}");
        tl_buf_puts(&b, ",", NULL);
        event(&b, "bad-time", "gw", "yesterday", NULL); /* 6 */
        tl_buf_puts(&b, ",", NULL);
        event(&b, "not-utf8", "gw\xff\xfe", NULL, NULL); /* 7 */
        tl_buf_puts(&b, ",", NULL);
        event(&b, "e3", "gw", NULL, NULL); /* 8 */
        tl_buf_puts(&b, "]\n", NULL);
        doc = post(in, "Application/CloudEvents-Batch+JSON; charset=utf-8",
                   b.data, b.len, 202);
        expect_counts(doc, 5, 4);
        for (size_t i = 0; i < 4; i++)
                expect_accepted(doc, i);
        expect_accepted(doc, 8);
        cr_expect_str_eq(error_field(doc, 4), "data.output_tokens");
        cr_expect_str_eq(error_field(doc, 5), "data.input_tokens");
        cr_expect_str_eq(error_field(doc, 6), "time");
        cr_expect_str_eq(error_field(doc, 7), "source");
        json_decref(doc);
        /* e1 twice and "stored" again are the meter's duplicates. */
        expect_stored(&c, "e1,e2,e3,stored", "6 4 2 0");

        tl_buf_release(&b);
        api_ingest_free(&in);
        cr_expect_null(in);
        mk_case_stop(&c);
}

static void cbor_event(struct tl_buf *out, const char *id, const char *data)
{
        struct tl_buf json;

        tl_buf_init(&json, 0);
        event(&json, id, "dev", NULL, data);
        cr_assert(evt_json_to_cbor(json.data, 0, out), "%s", json.data);
        tl_buf_release(&json);
}

Test(ingest, cbor_items_and_arrays_are_validated_like_the_meter, .timeout = 240)
{
        struct mk_case c;
        struct api_ingest *in;
        struct tl_buf b;
        json_t *doc;

        mk_case_start(&c, "api_ingest_cbor", 1, 1);
        in = ingest_new(c.broker.bootstrap, c.name, 20000);
        tl_buf_init(&b, 0);
        cbor_event(&b, "stored", NULL);
        doc = post(in, CBOR, b.data, b.len, 202);
        expect_counts(doc, 1, 0);
        json_decref(doc);
        expect_stored(&c, "stored", "1 1 0 0");

        tl_buf_clear(&b);
        tl_buf_append(&b, "\x86", 1, NULL); /* an array of 6 */
        cbor_event(&b, "c1", NULL);
        cbor_event(&b, "c1", NULL);
        cbor_event(&b, "stored", NULL);
        cbor_event(&b, "negative", /* 3 */
                   "{\"model\":\"m1\",\"deployment\":\"cloud\","
                   "\"decoding\":\"autoregressive\",\"input_tokens\":-1,"
                   "\"output_tokens\":1}");
        cbor_event(&b, "no-model", /* 4 */
                   "{\"deployment\":\"cloud\",\"decoding\":\"x\","
                   "\"input_tokens\":1,\"output_tokens\":1}");
        cbor_event(&b, "c2", NULL);
        doc = post(in, "application/CBOR", b.data, b.len, 202);
        expect_counts(doc, 4, 2);
        expect_accepted(doc, 0);
        expect_accepted(doc, 5);
        cr_expect_str_eq(error_field(doc, 3), "data.input_tokens");
        cr_expect_str_eq(error_field(doc, 4), "data.model");
        json_decref(doc);
        expect_stored(&c, "c1,c2,stored", "5 3 2 0");

        tl_buf_release(&b);
        api_ingest_free(&in);
        mk_case_stop(&c);
}

static void expect_error(struct api_ingest *in, const char *ct,
                         const void *body, size_t len, unsigned status,
                         const char *code)
{
        json_t *doc = post(in, ct, body, len, status);
        json_t *e = json_object_get(doc, "error");

        cr_expect_str_eq(json_string_value(json_object_get(e, "code")), code);
        cr_expect_gt(strlen(json_string_value(json_object_get(e, "message"))),
                     0);
        cr_expect_null(json_object_get(doc, "results"));
        json_decref(doc);
}

static char big[API_INGEST_MAX_BODY + 2];

Test(ingest, bodies_that_are_no_container_are_400_other_types_415_and_big_413)
{
        /* No broker is needed: nothing here is produced. */
        struct api_ingest *in = ingest_new("127.0.0.1:1", "none", 1000);
        static const char indefinite[] = "\x9f\xff";
        static const char announced[] = "\x82\xa0";
        struct tl_buf b;

        tk_require_env();
        expect_error(in, BATCH_JSON, "{\"id\":\"x\"}", 10, 400,
                     "malformed_body");
        expect_error(in, BATCH_JSON, "[{\"id\":\"x]", 10, 400,
                     "malformed_body");
        expect_error(in, BATCH_JSON, "[{}, ]", 6, 400, "malformed_body");
        expect_error(in, BATCH_JSON, "[{}] x", 6, 400, "malformed_body");
        expect_error(in, BATCH_JSON, "[]", 2, 400, "malformed_body");
        expect_error(in, ONE_JSON, "not json", 8, 400, "malformed_body");
        expect_error(in, CBOR, indefinite, 2, 400, "malformed_body");
        expect_error(in, CBOR, announced, 2, 400, "malformed_body");
        expect_error(in, "text/plain", "{}", 2, 415, "unsupported_media_type");
        expect_error(in, NULL, "{}", 2, 415, "unsupported_media_type");
        expect_error(in, "application/cloudevents+jsonx", "{}", 2, 415,
                     "unsupported_media_type");

        memset(big, ' ', sizeof big);
        expect_error(in, ONE_JSON, big, API_INGEST_MAX_BODY + 1, 413,
                     "payload_too_large");
        tl_buf_init(&b, 0);
        tl_buf_puts(&b, "[1", NULL);
        for (int i = 0; i < API_INGEST_MAX_EVENTS; i++)
                tl_buf_puts(&b, ",1", NULL);
        tl_buf_puts(&b, "]", NULL);
        expect_error(in, BATCH_JSON, b.data, b.len, 413, "payload_too_large");
        tl_buf_release(&b);
        api_ingest_free(&in);
}

Test(ingest, a_bad_producer_property_is_named_without_its_value)
{
        const char *unknown[] = {"no.such.property=s3cret"};
        const char *reserved[] = {"acks=0"};
        const char *malformed[] = {"s3cret"};
        const char *const *sets[] = {unknown, reserved, malformed};
        const char *names[] = {"no.such.property", "acks", "#1"};

        tk_require_env();
        for (size_t i = 0; i < 3; i++) {
                struct api_ingest_config cfg = {.brokers = "127.0.0.1:1",
                                                .topic = "t",
                                                .props = sets[i],
                                                .prop_count = 1};
                struct api_ingest *in = NULL;
                struct tl_error err = {0};
                cr_expect_eq(api_ingest_new(&cfg, &in, &err), TL_EINVAL);
                cr_expect_null(in);
                cr_expect(strstr(err.msg, names[i]), "%s", err.msg);
                cr_expect_null(strstr(err.msg, "s3cret"), "%s", err.msg);
        }
}

static void expect_unavailable(struct api_ingest *in)
{
        struct tl_buf b;

        tl_buf_init(&b, 0);
        tl_buf_puts(&b, "[", NULL);
        event(&b, "lost-1", "gw", NULL, NULL);
        tl_buf_puts(&b, ",", NULL);
        event(&b, "lost-2", "gw", NULL, NULL);
        tl_buf_puts(&b, "]", NULL);
        expect_error(in, BATCH_JSON, b.data, b.len, 503, "kafka_unavailable");
        tl_buf_release(&b);
}

Test(ingest, without_kafka_nothing_is_acknowledged, .timeout = 120)
{
        struct mk_case c;
        struct api_ingest *in;
        struct tl_buf b;
        char closed[64];
        json_t *doc;

        /* No broker at all. */
        snprintf(closed, sizeof closed, "127.0.0.1:%d", mk_free_port());
        in = ingest_new(closed, "nowhere", 2000);
        expect_unavailable(in);
        api_ingest_free(&in);

        /* A broker that goes away under a working producer. */
        mk_case_start(&c, "api_ingest_down", 1, 1);
        in = ingest_new(c.broker.bootstrap, c.name, 3000);
        tl_buf_init(&b, 0);
        event(&b, "before", "gw", NULL, NULL);
        doc = post(in, ONE_JSON, b.data, b.len, 202);
        expect_counts(doc, 1, 0);
        json_decref(doc);
        tk_broker_stop(&c.broker);
        expect_unavailable(in);
        tl_buf_release(&b);
        api_ingest_free(&in);
        mk_case_stop(&c);
}

struct poster {
        struct api_ingest *in;
        int thread;
        unsigned status;
        long accepted;
};

static void *post_batch(void *arg)
{
        struct poster *p = arg;
        struct tl_buf b;
        struct tl_error err = {0};
        json_t *doc = NULL;

        tl_buf_init(&b, 0);
        tl_buf_puts(&b, "[", NULL);
        for (int i = 0; i < 50; i++) {
                char id[32];
                snprintf(id, sizeof id, "t%d-%02d", p->thread, i);
                if (i)
                        tl_buf_puts(&b, ",", NULL);
                event(&b, id, "gw", NULL, NULL);
        }
        tl_buf_puts(&b, "]", NULL);
        if (api_ingest_post(p->in, BATCH_JSON, b.data, b.len, &doc, &p->status,
                            &err) == TL_OK)
                p->accepted =
                    (long)json_integer_value(json_object_get(doc, "accepted"));
        json_decref(doc);
        tl_buf_release(&b);
        return NULL;
}

Test(ingest, concurrent_requests_share_one_producer, .timeout = 240)
{
        struct mk_case c;
        struct poster p[4];
        pthread_t t[4];

        mk_case_start(&c, "api_ingest_threads", 1, 2);
        p[0].in = ingest_new(c.broker.bootstrap, c.name, 20000);
        for (int i = 0; i < 4; i++) {
                p[i] = (struct poster){.in = p[0].in, .thread = i};
                cr_assert_eq(pthread_create(&t[i], NULL, post_batch, &p[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
                pthread_join(t[i], NULL);
                cr_expect_eq(p[i].status, 202, "thread %d", i);
                cr_expect_eq(p[i].accepted, 50, "thread %d", i);
        }
        api_ingest_free(&p[0].in);
        mk_meter_drain(&c);
        expect_sql(&c, "SELECT count(DISTINCT event_id) FROM events", "200");
        expect_sql(&c, "SELECT sum(consumed) FROM ingest_counts", "200");
        mk_case_stop(&c);
}
