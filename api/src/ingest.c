/* POST /v1/events: the shared idempotent producer, and each request
   answered only once its own events have their delivery reports. */
#include "api/ingest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/time.h"
#include "ingest_int.h"

#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_TOPIC "usage.events"
/* One event of at most SCH_MAX_MESSAGE_BYTES plus framing, as the
   inference emitter allows. */
#define MAX_MESSAGE_BYTES "1114112"
/* librdkafka reports every message by message.timeout.ms; past this grace
   a request stops waiting and answers 503. */
#define GRACE_MS 5000
#define CT_JSON "application/cloudevents+json"
#define CT_CBOR "application/cloudevents+cbor"

/*
** The messages of one request. Shared between the request thread and the
** delivery reports: one reference per message in flight plus one while the
** request waits, so a report arriving after the request gave up still
** finds it. Guarded by api_ingest.mu.
*/
struct call {
        pthread_cond_t done;
        size_t refs;
        size_t pending;
        size_t failed;
        rd_kafka_resp_err_t first_err;
        struct call *prev, *next; /* api_ingest.calls */
};

struct api_ingest {
        rd_kafka_t *rk;
        rd_kafka_topic_t *rkt;
        uint32_t timeout_ms;
        pthread_mutex_t mu;
        struct call *calls; /* live, for the shutdown */
        pthread_t poller;
        bool poller_started;
        atomic_bool stop;
};

/* Properties whose value the guarantees of this file depend on. */
static const char *const RESERVED[] = {
    "enable.idempotence",    "acks",
    "request.required.acks", "message.timeout.ms",
    "delivery.timeout.ms",
};

static void kafka_log(const rd_kafka_t *rk, int level, const char *fac,
                      const char *buf)
{
        (void)rk;
        tl_log_library(level, "ingest", "librdkafka", fac, buf);
}

/* Under in->mu. */
static void unref(struct api_ingest *in, struct call *c)
{
        if (--c->refs)
                return;
        if (c->prev)
                c->prev->next = c->next;
        else
                in->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        pthread_cond_destroy(&c->done);
        tl_free(c);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
        struct api_ingest *in = opaque;
        struct call *c = m->_private;

        (void)rk;
        pthread_mutex_lock(&in->mu);
        c->pending--;
        if (m->err) {
                c->failed++;
                if (!c->first_err)
                        c->first_err = m->err;
        }
        if (!c->pending)
                pthread_cond_broadcast(&c->done);
        unref(in, c);
        pthread_mutex_unlock(&in->mu);
}

static void *poll_loop(void *arg)
{
        struct api_ingest *in = arg;

        while (!atomic_load(&in->stop))
                rd_kafka_poll(in->rk, 100);
        return NULL;
}

static tl_status set_prop(rd_kafka_conf_t *conf, const char *key,
                          const char *value, struct tl_error *err)
{
        char errstr[256];
        rd_kafka_conf_res_t r =
            rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr);

        /* librdkafka's text quotes the value, which may be a secret. */
        if (r == RD_KAFKA_CONF_UNKNOWN)
                return tl_fail(err, TL_EINVAL,
                               "librdkafka property %s: unknown property", key);
        if (r != RD_KAFKA_CONF_OK)
                return tl_fail(err, TL_EINVAL,
                               "librdkafka property %s: invalid value", key);
        return TL_OK;
}

static tl_status set_props(rd_kafka_conf_t *conf,
                           const struct api_ingest_config *cfg,
                           struct tl_error *err)
{
        char key[256];
        tl_status rc = TL_OK;

        if (cfg->prop_count > API_INGEST_MAX_PROPS)
                return tl_fail(err, TL_EINVAL,
                               "more than %d librdkafka properties",
                               API_INGEST_MAX_PROPS);
        for (size_t i = 0; i < cfg->prop_count && !rc; i++) {
                const char *p = cfg->props[i];
                const char *eq = p ? strchr(p, '=') : NULL;
                if (!eq || eq == p || (size_t)(eq - p) >= sizeof key)
                        return tl_fail(err, TL_EINVAL,
                                       "librdkafka property #%zu: expected "
                                       "key=value",
                                       i + 1);
                memcpy(key, p, (size_t)(eq - p));
                key[eq - p] = '\0';
                for (size_t k = 0; k < sizeof RESERVED / sizeof *RESERVED; k++)
                        if (strcmp(key, RESERVED[k]) == 0)
                                return tl_fail(err, TL_EINVAL,
                                               "librdkafka property %s: set "
                                               "by the ingest producer",
                                               key);
                rc = set_prop(conf, key, eq + 1, err);
        }
        return rc;
}

tl_status api_ingest_new(const struct api_ingest_config *cfg,
                         struct api_ingest **out, struct tl_error *err)
{
        char timeout[24], errstr[512];
        const char *topic;
        struct api_ingest *in;
        rd_kafka_conf_t *conf;
        tl_status rc = TL_OK;

        if (!cfg->brokers || !*cfg->brokers)
                return tl_fail(err, TL_EINVAL, "ingest: no Kafka brokers");
        topic = cfg->topic && *cfg->topic ? cfg->topic : DEFAULT_TOPIC;
        in = tl_calloc(1, sizeof *in);
        if (!in)
                return tl_fail(err, TL_ENOMEM, "ingest: out of memory");
        in->timeout_ms = cfg->delivery_timeout_ms ? cfg->delivery_timeout_ms
                                                  : DEFAULT_TIMEOUT_MS;
        snprintf(timeout, sizeof timeout, "%u", in->timeout_ms);
        const char *const defaults[][2] = {
            {"bootstrap.servers", cfg->brokers},
            {"enable.idempotence", "true"},
            {"acks", "all"},
            {"message.timeout.ms", timeout},
            {"message.max.bytes", MAX_MESSAGE_BYTES},
        };
        conf = rd_kafka_conf_new();
        for (size_t i = 0; i < sizeof defaults / sizeof *defaults && !rc; i++)
                rc = set_prop(conf, defaults[i][0], defaults[i][1], err);
        if (!rc)
                rc = set_props(conf, cfg, err);
        if (rc) {
                rd_kafka_conf_destroy(conf);
                tl_free(in);
                return rc;
        }
        rd_kafka_conf_set_log_cb(conf, kafka_log);
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_opaque(conf, in);
        pthread_mutex_init(&in->mu, NULL);
        atomic_init(&in->stop, false);
        in->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        if (!in->rk) {
                rd_kafka_conf_destroy(conf);
                rc = tl_fail(err, TL_EKAFKA, "cannot create a producer: %s",
                             errstr);
        } else if (!(in->rkt = rd_kafka_topic_new(in->rk, topic, NULL))) {
                rc = tl_fail(err, TL_EKAFKA, "topic %s: %s", topic,
                             rd_kafka_err2str(rd_kafka_last_error()));
        } else if (pthread_create(&in->poller, NULL, poll_loop, in)) {
                rc = tl_fail(err, TL_EKAFKA, "cannot start the poll thread");
        } else {
                in->poller_started = true;
        }
        if (rc) {
                api_ingest_free(&in);
                return rc;
        }
        *out = in;
        return TL_OK;
}

void api_ingest_free(struct api_ingest **pp)
{
        struct api_ingest *in = pp ? *pp : NULL;

        if (!in)
                return;
        if (in->poller_started) {
                atomic_store(&in->stop, true);
                pthread_join(in->poller, NULL);
        }
        if (in->rk) {
                rd_kafka_flush(in->rk, (int)in->timeout_ms);
                /* Whatever is left is reported as purged, which frees the
                   requests that gave up on it. */
                rd_kafka_purge(in->rk, RD_KAFKA_PURGE_F_QUEUE |
                                           RD_KAFKA_PURGE_F_INFLIGHT);
                rd_kafka_poll(in->rk, 100);
        }
        if (in->rkt)
                rd_kafka_topic_destroy(in->rkt);
        if (in->rk)
                rd_kafka_destroy(in->rk);
        while (in->calls) {
                struct call *c = in->calls;
                in->calls = c->next;
                pthread_cond_destroy(&c->done);
                tl_free(c);
        }
        pthread_mutex_destroy(&in->mu);
        tl_free(in);
        *pp = NULL;
}

static json_t *error_doc(const char *code, const char *msg)
{
        json_t *e = json_object(), *doc = json_object();

        if (!e || !doc || json_object_set_new(e, "code", json_string(code)) ||
            json_object_set_new(e, "message", api__text(msg, strlen(msg))) ||
            json_object_set_new(doc, "error", e)) {
                json_decref(doc);
                return NULL;
        }
        return doc;
}

/* The body kind of a Content-Type, parameters ignored; -1 for another. */
static int body_kind(const char *content_type)
{
        static const struct {
                const char *name;
                api__body_kind kind;
        } kinds[] = {
            {"application/cloudevents+json", API__BODY_JSON_ONE},
            {"application/cloudevents-batch+json", API__BODY_JSON_BATCH},
            {"application/cbor", API__BODY_CBOR},
        };
        size_t n;

        if (!content_type)
                return -1;
        while (*content_type == ' ' || *content_type == '\t')
                content_type++;
        n = strcspn(content_type, ";");
        while (n && (content_type[n - 1] == ' ' || content_type[n - 1] == '\t'))
                n--;
        for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
                if (strlen(kinds[i].name) == n &&
                    strncasecmp(content_type, kinds[i].name, n) == 0)
                        return (int)kinds[i].kind;
        return -1;
}

static void deadline_after(struct timespec *ts, int64_t ms)
{
        clock_gettime(CLOCK_MONOTONIC, ts);
        ts->tv_sec += (time_t)(ms / 1000);
        ts->tv_nsec += (long)(ms % 1000) * 1000000L;
        if (ts->tv_nsec >= 1000000000L) {
                ts->tv_sec++;
                ts->tv_nsec -= 1000000000L;
        }
}

static struct call *call_new(struct api_ingest *in)
{
        struct call *c = tl_calloc(1, sizeof *c);
        pthread_condattr_t attr;

        if (!c)
                return NULL;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&c->done, &attr);
        pthread_condattr_destroy(&attr);
        c->refs = 1;
        pthread_mutex_lock(&in->mu);
        c->next = in->calls;
        if (in->calls)
                in->calls->prev = c;
        in->calls = c;
        pthread_mutex_unlock(&in->mu);
        return c;
}

/* Hand one event to librdkafka; a refusal counts as a failed delivery. */
static void produce_one(struct api_ingest *in, struct call *c,
                        const struct api__parse *p, const char *body,
                        const char *ct, size_t i, int64_t deadline_us)
{
        const struct api__item *it = &p->valid[i];
        rd_kafka_resp_err_t kerr;

        pthread_mutex_lock(&in->mu);
        c->refs++;
        c->pending++;
        pthread_mutex_unlock(&in->mu);
        for (;;) {
                kerr = rd_kafka_producev(
                    in->rk, RD_KAFKA_V_RKT(in->rkt),
                    RD_KAFKA_V_KEY((p->subjects.data + it->subject_off),
                                   it->subject_len),
                    RD_KAFKA_V_VALUE((void *)(body + it->off), it->len),
                    RD_KAFKA_V_HEADER("content-type", ct, -1),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_OPAQUE(c), RD_KAFKA_V_END);
                if (kerr != RD_KAFKA_RESP_ERR__QUEUE_FULL ||
                    tl_mono_us() >= deadline_us)
                        break;
                /* The poll thread drains the queue meanwhile. */
                nanosleep(&(struct timespec){0, 5000000L}, NULL);
        }
        if (!kerr)
                return;
        pthread_mutex_lock(&in->mu);
        c->pending--;
        c->failed++;
        if (!c->first_err)
                c->first_err = kerr;
        unref(in, c);
        pthread_mutex_unlock(&in->mu);
}

/* Produce every valid event and wait for their reports: TL_OK when all
   were delivered, TL_EKAFKA ('err' says how many were not) otherwise. */
static tl_status deliver(struct api_ingest *in, const struct api__parse *p,
                         const char *body, const char *ct, struct tl_error *err)
{
        struct call *c = call_new(in);
        int64_t deadline_us;
        struct timespec until;
        size_t failed;
        rd_kafka_resp_err_t why;

        if (!c)
                return tl_fail(err, TL_ENOMEM, "ingest: out of memory");
        deadline_us = tl_mono_us() + (int64_t)in->timeout_ms * 1000;
        for (size_t i = 0; i < p->valid_count; i++)
                produce_one(in, c, p, body, ct, i, deadline_us);
        deadline_after(&until, (int64_t)in->timeout_ms + GRACE_MS);
        pthread_mutex_lock(&in->mu);
        while (c->pending &&
               pthread_cond_timedwait(&c->done, &in->mu, &until) != ETIMEDOUT)
                ;
        failed = c->failed + c->pending;
        why = c->first_err ? c->first_err : RD_KAFKA_RESP_ERR__MSG_TIMED_OUT;
        unref(in, c);
        pthread_mutex_unlock(&in->mu);
        if (failed)
                return tl_fail(err, TL_EKAFKA,
                               "%zu of %zu events were not confirmed by Kafka "
                               "(%s); send the whole request again",
                               failed, p->valid_count, rd_kafka_err2str(why));
        return TL_OK;
}

static tl_status answer(json_t *doc, unsigned status, json_t **result,
                        unsigned *http_status, struct tl_error *err)
{
        if (!doc)
                return tl_fail(err, TL_ENOMEM, "ingest: out of memory");
        *result = doc;
        *http_status = status;
        return TL_OK;
}

tl_status api_ingest_post(struct api_ingest *in, const char *content_type,
                          const void *body, size_t len, json_t **result,
                          unsigned *http_status, struct tl_error *err)
{
        struct api__parse p;
        struct tl_error why = {0};
        int kind = body_kind(content_type);
        json_t *doc;
        tl_status rc;
        char msg[160];

        if (kind < 0)
                return answer(error_doc("unsupported_media_type",
                                        "Content-Type must be "
                                        "application/cloudevents+json, "
                                        "application/cloudevents-batch+json "
                                        "or application/cbor"),
                              415, result, http_status, err);
        if (len > API_INGEST_MAX_BODY) {
                snprintf(msg, sizeof msg,
                         "a body of %zu bytes is over the limit of %u bytes",
                         len, API_INGEST_MAX_BODY);
                return answer(error_doc("payload_too_large", msg), 413, result,
                              http_status, err);
        }
        rc = api__parse_body((api__body_kind)kind, body, len, &p, &why);
        if (rc == TL_EPARSE || rc == TL_ELIMIT) {
                api__parse_release(&p);
                return answer(error_doc(rc == TL_EPARSE ? "malformed_body"
                                                        : "payload_too_large",
                                        why.msg),
                              rc == TL_EPARSE ? 400 : 413, result, http_status,
                              err);
        }
        if (rc) {
                api__parse_release(&p);
                return tl_fail(err, rc, "%s", why.msg);
        }
        if (p.valid_count) {
                rc = deliver(in, &p, (const char *)body,
                             kind == API__BODY_CBOR ? CT_CBOR : CT_JSON, &why);
                if (rc == TL_ENOMEM) {
                        api__parse_release(&p);
                        return tl_fail(err, rc, "%s", why.msg);
                }
                if (rc) {
                        api__parse_release(&p);
                        return answer(error_doc("kafka_unavailable", why.msg),
                                      503, result, http_status, err);
                }
        }
        doc = json_object();
        if (doc &&
            (json_object_set_new(doc, "accepted",
                                 json_integer((json_int_t)p.valid_count)) ||
             json_object_set_new(
                 doc, "rejected",
                 json_integer((json_int_t)(p.total - p.valid_count))) ||
             json_object_set(doc, "results", p.results))) {
                json_decref(doc);
                doc = NULL;
        }
        api__parse_release(&p);
        return answer(doc, 202, result, http_status, err);
}
