/* The Kafka emitter: an idempotent producer, one CBOR map per event, and
   the spool for every event its delivery reports do not confirm. */
#include "emit_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"

#define CONTENT_TYPE "application/cloudevents+cbor"
#define MAX_MESSAGE_BYTES "1114112" /* 1 MiB of event plus framing room */
#define PURGE_WAIT_MS 10000

/* ---- the producer both senders use ---- */

static void kafka_log(const rd_kafka_t *rk, int level, const char *fac,
                      const char *buf)
{
        (void)rk;
        tl_log_library(level, "emit", "librdkafka", fac, buf);
}

static tl_status set_prop(rd_kafka_conf_t *conf, const char *key,
                          const char *value, struct tl_error *err)
{
        char errstr[256];

        if (rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK)
                return tl_fail(err, TL_EUSAGE, "librdkafka property %s: %s",
                               key, errstr);
        return TL_OK;
}

/* The caller's "key=value" properties on top of ours. */
static tl_status set_props(rd_kafka_conf_t *conf, const struct inf_emit_opts *o,
                           struct tl_error *err)
{
        char key[256];
        tl_status rc = TL_OK;

        for (size_t i = 0; i < o->prop_count && !rc; i++) {
                const char *p = o->props[i], *eq = p ? strchr(p, '=') : NULL;
                if (!eq || eq == p || (size_t)(eq - p) >= sizeof key)
                        return tl_fail(err, TL_EUSAGE,
                                       "librdkafka property '%s': expected "
                                       "key=value",
                                       p ? p : "(null)");
                memcpy(key, p, (size_t)(eq - p));
                key[eq - p] = '\0';
                rc = set_prop(conf, key, eq + 1, err);
        }
        return rc;
}

tl_status inf__producer_new(const struct inf_emit_opts *o, int timeout_ms,
                            inf__dr_fn dr, void *opaque, rd_kafka_t **rk,
                            rd_kafka_topic_t **rkt, struct tl_error *err)
{
        const char *brokers = o->brokers && *o->brokers
                                  ? o->brokers
                                  : getenv("TALLY_KAFKA_BROKERS");
        const char *topic =
            o->topic && *o->topic ? o->topic : INF_DEFAULT_TOPIC;
        char timeout[24], errstr[512];
        rd_kafka_conf_t *conf;
        tl_status rc;

        if (!brokers || !*brokers)
                return tl_fail(err, TL_EUSAGE,
                               "no brokers: give them or set "
                               "TALLY_KAFKA_BROKERS");
        snprintf(timeout, sizeof timeout, "%d", timeout_ms);
        const char *const defaults[][2] = {
            {"bootstrap.servers", brokers},
            {"enable.idempotence", "true"},
            {"acks", "all"},
            {"message.timeout.ms", timeout},
            {"message.max.bytes", MAX_MESSAGE_BYTES},
        };
        conf = rd_kafka_conf_new();
        rc = TL_OK;
        for (size_t i = 0; i < sizeof defaults / sizeof *defaults && !rc; i++)
                rc = set_prop(conf, defaults[i][0], defaults[i][1], err);
        if (!rc)
                rc = set_props(conf, o, err);
        if (rc) {
                rd_kafka_conf_destroy(conf);
                return rc;
        }
        rd_kafka_conf_set_log_cb(conf, kafka_log);
        rd_kafka_conf_set_dr_msg_cb(conf, dr);
        rd_kafka_conf_set_opaque(conf, opaque);
        *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        if (!*rk) {
                rd_kafka_conf_destroy(conf);
                return tl_fail(err, TL_EKAFKA, "cannot create a producer: %s",
                               errstr);
        }
        *rkt = rd_kafka_topic_new(*rk, topic, NULL);
        if (!*rkt) {
                rd_kafka_destroy(*rk);
                return tl_fail(err, TL_EKAFKA, "topic %s: %s", topic,
                               rd_kafka_err2str(rd_kafka_last_error()));
        }
        return TL_OK;
}

void inf__producer_settle(rd_kafka_t *rk, int timeout_ms,
                          const size_t *unreported)
{
        int64_t deadline = tl_mono_us() + (int64_t)timeout_ms * 1000, left;

        while (*unreported > 0 && (left = (deadline - tl_mono_us()) / 1000) > 0)
                rd_kafka_flush(rk, left < 100 ? (int)left : 100);
        if (*unreported == 0)
                return;
        /* What is not confirmed by now counts as undelivered: purged from
           the queues and from flight, so no late delivery can follow what
           the caller does with it. The purge's reports come by polling. */
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        deadline = tl_mono_us() + PURGE_WAIT_MS * 1000;
        while (*unreported > 0 && tl_mono_us() < deadline)
                rd_kafka_poll(rk, 50);
}

int inf__timeout_ms(const struct inf_emit_opts *o)
{
        return o->timeout_ms > 0 ? o->timeout_ms : INF__DEFAULT_TIMEOUT_MS;
}

/* ---- the emitter ---- */

enum { MSG_PENDING, MSG_DELIVERED, MSG_FAILED };

/* One event: its CBOR map (tl_malloc'd) and what became of it. */
struct em_msg {
        unsigned char *bytes;
        size_t len;
        int state;
};

struct em_list {
        struct em_msg *v;
        size_t count, alloc;
};

struct inf_emitter {
        rd_kafka_t *rk;
        rd_kafka_topic_t *rkt;
        char *spool;
        int timeout_ms;
        struct sch_decoder *dec;
        struct tl_buf enc;
        /* Sent since the last settle; sent.v[i] went with sequence number
           base_seq + i as its opaque, so a report that comes after we
           gave up on it (outside the window) is ignored. */
        struct em_list sent;
        uint64_t base_seq;
        size_t unreported;
        struct em_list unspooled;   /* failed, waiting for the spool */
        struct inf_emit_report acc; /* since the last flush's report */
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
        struct inf_emitter *em = opaque;
        uint64_t seq = (uint64_t)(uintptr_t)m->_private;
        struct em_msg *msg;

        (void)rk;
        if (seq < em->base_seq || seq - em->base_seq >= em->sent.count)
                return;
        msg = &em->sent.v[seq - em->base_seq];
        if (msg->state != MSG_PENDING)
                return;
        msg->state = m->err ? MSG_FAILED : MSG_DELIVERED;
        em->unreported--;
}

static tl_status reserve(struct em_list *l, size_t more, struct tl_error *err)
{
        size_t want = l->count + more, alloc = l->alloc ? l->alloc : 64;
        struct em_msg *v;

        if (want <= l->alloc)
                return TL_OK;
        while (alloc < want)
                alloc *= 2;
        v = tl_reallocarray(l->v, alloc, sizeof *v);
        if (!v)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        l->v = v;
        l->alloc = alloc;
        return TL_OK;
}

static void list_release(struct em_list *l)
{
        for (size_t i = 0; i < l->count; i++)
                tl_free(l->v[i].bytes);
        tl_free(l->v);
        memset(l, 0, sizeof *l);
}

tl_status inf_emitter_new(const struct inf_emit_opts *o,
                          struct inf_emitter **out, struct tl_error *err)
{
        struct inf_emitter *em;
        tl_status rc;

        if (!o || !o->spool || !*o->spool)
                return tl_fail(err, TL_EUSAGE,
                               "the emitter needs a spool path for what "
                               "cannot be delivered");
        em = tl_calloc(1, sizeof *em);
        if (!em || !(em->spool = tl_strdup(o->spool))) {
                tl_free(em);
                return tl_fail(err, TL_ENOMEM, "out of memory");
        }
        em->timeout_ms = inf__timeout_ms(o);
        em->base_seq = 1; /* 0 is never a sequence number */
        tl_buf_init(&em->enc, 0);
        rc = inf__decoder_new(&em->dec, err);
        if (!rc)
                rc = inf__producer_new(o, em->timeout_ms, on_delivery, em,
                                       &em->rk, &em->rkt, err);
        if (rc) {
                sch_decoder_free(&em->dec);
                tl_buf_release(&em->enc);
                tl_free(em->spool);
                tl_free(em);
                return rc;
        }
        *out = em;
        return TL_OK;
}

/* Hand one checked event to librdkafka; whatever it refuses is kept as
   failed, for the spool. Only running out of memory fails. */
static tl_status queue_one(struct inf_emitter *em, const struct sch_event *ev,
                           const char *bytes, size_t len, struct tl_error *err)
{
        struct em_msg *msg;
        rd_kafka_resp_err_t kerr;
        void *seq;

        if (reserve(&em->sent, 1, err))
                return TL_ENOMEM;
        msg = &em->sent.v[em->sent.count];
        msg->bytes = tl_malloc(len);
        if (!msg->bytes)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        memcpy(msg->bytes, bytes, len);
        msg->len = len;
        msg->state = MSG_PENDING;
        seq = (void *)(uintptr_t)(em->base_seq + em->sent.count);
        em->sent.count++;
        for (int tries = 0; tries < 2; tries++) {
                kerr = rd_kafka_producev(
                    em->rk, RD_KAFKA_V_RKT(em->rkt),
                    RD_KAFKA_V_KEY(ev->subject.ptr, ev->subject.len),
                    RD_KAFKA_V_VALUE(msg->bytes, len),
                    RD_KAFKA_V_HEADER("content-type", CONTENT_TYPE, -1),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_OPAQUE(seq), RD_KAFKA_V_END);
                if (kerr != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_poll(em->rk, 100);
        }
        if (kerr)
                msg->state = MSG_FAILED; /* spooled at the next flush */
        else
                em->unreported++;
        return TL_OK;
}

tl_status inf_emitter_send(struct inf_emitter *em, const struct sch_event *evs,
                           size_t n, struct tl_error *err)
{
        size_t *ends = n ? tl_reallocarray(NULL, n, sizeof *ends) : NULL;
        struct sch_event check;
        struct tl_error why;
        tl_status rc = TL_OK;

        if (n && !ends)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        tl_buf_clear(&em->enc);
        for (size_t i = 0; i < n && !rc; i++) {
                rc = sch_encode_cbor(&evs[i], &em->enc, err);
                ends[i] = em->enc.len;
        }
        /* Every event is checked before any is queued: the batch goes
           whole or not at all, and the spool never gets what it refuses. */
        for (size_t i = 0; i < n && !rc; i++) {
                size_t start = i ? ends[i - 1] : 0;
                struct inf__bytes b = {(const unsigned char *)em->enc.data +
                                           start,
                                       ends[i] - start};
                if (inf__check_event(em->dec, b, &check, &why))
                        rc = tl_fail(err, TL_EINVAL, "event #%zu (id %.*s): %s",
                                     i + 1, (int)evs[i].id.len, evs[i].id.ptr,
                                     why.msg);
        }
        for (size_t i = 0; i < n && !rc; i++) {
                size_t start = i ? ends[i - 1] : 0;
                rc = queue_one(em, &evs[i], em->enc.data + start,
                               ends[i] - start, err);
        }
        tl_free(ends);
        rd_kafka_poll(em->rk, 0);
        return rc;
}

/* Append everything waiting in em->unspooled to the spool, in one go. */
static tl_status spool_waiting(struct inf_emitter *em, struct tl_error *err)
{
        size_t n = em->unspooled.count;
        struct inf__bytes *items = tl_reallocarray(NULL, n, sizeof *items);
        struct inf_spool *sp = NULL;
        tl_status rc;

        if (!items)
                return tl_fail(err, TL_ENOMEM,
                               "%zu events neither delivered nor spooled: out "
                               "of memory",
                               n);
        for (size_t i = 0; i < n; i++)
                items[i] = (struct inf__bytes){em->unspooled.v[i].bytes,
                                               em->unspooled.v[i].len};
        rc = inf_spool_open(em->spool, &sp, err);
        if (!rc)
                rc = inf__spool_append_encoded(sp, items, n, err);
        inf_spool_free(&sp);
        tl_free(items);
        if (rc)
                return tl_error_prefix(err,
                                       "%zu events neither delivered nor "
                                       "spooled",
                                       n);
        list_release(&em->unspooled);
        em->acc.spooled += n;
        return TL_OK;
}

/* Wait for the reports, count what was confirmed, spool the rest. */
static tl_status settle(struct inf_emitter *em, struct tl_error *err)
{
        if (reserve(&em->unspooled, em->sent.count, err))
                return TL_ENOMEM;
        inf__producer_settle(em->rk, em->timeout_ms, &em->unreported);
        for (size_t i = 0; i < em->sent.count; i++) {
                struct em_msg *m = &em->sent.v[i];
                if (m->state == MSG_DELIVERED) {
                        em->acc.delivered++;
                        em->acc.messages++;
                        tl_free(m->bytes);
                } else {
                        em->unspooled.v[em->unspooled.count++] = *m;
                }
        }
        em->base_seq += em->sent.count;
        em->sent.count = 0;
        em->unreported = 0;
        return em->unspooled.count ? spool_waiting(em, err) : TL_OK;
}

tl_status inf_emitter_flush(struct inf_emitter *em, struct inf_emit_report *rep,
                            struct tl_error *err)
{
        tl_status rc = settle(em, err);

        if (rc)
                return rc;
        if (rep)
                *rep = em->acc;
        memset(&em->acc, 0, sizeof em->acc);
        return TL_OK;
}

void inf_emitter_free(struct inf_emitter **pp)
{
        struct inf_emitter *em = pp ? *pp : NULL;
        struct tl_error err;
        char spool[256], why[2 * TL_ERROR_MSG_MAX];

        if (!em)
                return;
        *pp = NULL;
        if (settle(em, &err) != TL_OK)
                /* Nobody is left to return this to: say it loudly. */
                tl_log(TL_LOG_ERROR, "emit",
                       "events lost: neither delivered nor spooled",
                       "spool=%s count=%zu error=%s",
                       tl_log_quote(em->spool, spool, sizeof spool),
                       em->unspooled.count + em->sent.count,
                       tl_log_quote(err.msg, why, sizeof why));
        rd_kafka_topic_destroy(em->rkt);
        rd_kafka_destroy(em->rk);
        list_release(&em->sent);
        list_release(&em->unspooled);
        sch_decoder_free(&em->dec);
        tl_buf_release(&em->enc);
        tl_free(em->spool);
        tl_free(em);
}
