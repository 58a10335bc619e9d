/* A month of business: every request really runs through the reference
   engine (fp32 in the cloud, int8 on devices) and its metered events take
   the product's own ways to Kafka: the idempotent emitter for the cloud,
   device spools uploaded on sync days. Everything produced is also logged
   as JSON Lines, the input `tally rate` re-rates offline. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "core/alloc.h"
#include "core/str.h"
#include "demo/demo.h"
#include "inference/emit.h"
#include "inference/model.h"
#include "inference/request.h"
#include "inference/tokenizer.h"
#include "loadgen/loadgen.h"

#define MAX_ANSWER 96

static const char *const PROMPTS[] = {
    "Summarize the attached contract in three bullet points.",
    "Write a unit test for the parser.",
    "Translate to French: the invoice is due on the first.",
    "Classify this support ticket by urgency.",
    "Draft a polite reply declining the meeting.",
    "Explain the difference between a mutex and a semaphore.",
    "List the risks in this insurance claim.",
    "Suggest a name for a coffee shop by the harbor.",
};

struct demo_month {
        const struct demo_opts *o;
        struct demo_env *env;
        const struct demo_world *w;
        struct inf_model *cloud, *edge;
        struct inf_tokenizer *tok;
        struct inf_state *cst, *est;
        struct inf_emitter *em;
        FILE *log, *late; /* events.jsonl, late.jsonl */
        bool late_phase;
        struct tl_buf line;
        int prompt[512], out[MAX_ANSWER], per[MAX_ANSWER];
        uint64_t rng, seq;
        struct demo_counts n;
};

static bool chance(struct demo_month *m, double p)
{
        return demo_unit(&m->rng) < p;
}

/* How many of a rate per day happen today: the whole part, plus one with
   the fractional part's chance. */
static int today(struct demo_month *m, double rate)
{
        int k = (int)rate;

        return k + (chance(m, rate - k) ? 1 : 0);
}

static tl_status log_event(struct demo_month *m, const struct sch_event *ev,
                           struct tl_error *err)
{
        FILE *f = m->late_phase ? m->late : m->log;
        tl_status rc;

        tl_buf_clear(&m->line);
        rc = sch_encode_json(ev, &m->line, err);
        if (!rc && (fwrite(m->line.data, 1, m->line.len, f) != m->line.len ||
                    fputc('\n', f) == EOF))
                rc = tl_fail(err, TL_EIO, "cannot write the event log: %s",
                             strerror(errno));
        return rc;
}

static tl_status open_engine(struct demo_month *m, struct tl_error *err)
{
        char dir[600], path[700];
        struct inf_init_opts io = {
            /* Small enough that a month of requests runs in seconds,
               with every part of the architecture present. */
            .shape = {.dim = 64,
                      .hidden_dim = 176,
                      .n_layers = 2,
                      .n_heads = 4,
                      .n_kv_heads = 2,
                      .vocab_size = 320,
                      .seq_len = 256},
            .seed = 7,
        };
        tl_status rc;

        if (mkdir(demo_path(m->env, "model", dir, sizeof dir), 0755) != 0 &&
            errno != EEXIST)
                return tl_fail(err, TL_EIO, "cannot create %s: %s", dir,
                               strerror(errno));
        if ((rc = inf_init_model(dir, &io, err)))
                return rc;
        snprintf(path, sizeof path, "%s/model.bin", dir);
        if ((rc = inf_model_open(path, &m->cloud, err)))
                return rc;
        snprintf(path, sizeof path, "%s/model-q8.bin", dir);
        if ((rc = inf_model_open(path, &m->edge, err)))
                return rc;
        snprintf(path, sizeof path, "%s/tokenizer.bin", dir);
        if ((rc = inf_tokenizer_open(path, io.shape.vocab_size, &m->tok, err)))
                return rc;
        if ((rc = inf_state_new(m->cloud, m->o->threads, &m->cst, err)))
                return rc;
        return inf_state_new(m->edge, 1, &m->est, err);
}

tl_status demo_month_new(const struct demo_opts *o, struct demo_env *env,
                         const struct demo_world *w, struct demo_month **out,
                         struct tl_error *err)
{
        struct demo_month *m = tl_calloc(1, sizeof *m);
        char path[600], spool[600];
        tl_status rc;

        if (!m)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        m->o = o;
        m->env = env;
        m->w = w;
        m->rng = o->seed ^ 0x5eed;
        tl_buf_init(&m->line, 0);
        *out = m;
        if (mkdir(demo_path(env, "devices", path, sizeof path), 0755) != 0 &&
            errno != EEXIST)
                return tl_fail(err, TL_EIO, "cannot create %s: %s", path,
                               strerror(errno));
        m->log = fopen(demo_path(env, "events.jsonl", path, sizeof path), "w");
        if (m->log)
                m->late =
                    fopen(demo_path(env, "late.jsonl", path, sizeof path), "w");
        if (!m->log || !m->late)
                return tl_fail(err, TL_EIO, "cannot create %s: %s", path,
                               strerror(errno));
        if ((rc = open_engine(m, err)))
                return rc;
        struct inf_emit_opts eo = {
            .brokers = env->brokers,
            .topic = DEMO_TOPIC,
            .spool = demo_path(env, "undelivered.cbor", spool, sizeof spool),
        };
        return inf_emitter_new(&eo, &m->em, err);
}

void demo_month_free(struct demo_month **pp)
{
        struct demo_month *m = pp ? *pp : NULL;

        if (!m)
                return;
        *pp = NULL;
        inf_emitter_free(&m->em);
        inf_state_free(&m->cst);
        inf_state_free(&m->est);
        inf_tokenizer_free(&m->tok);
        inf_model_free(&m->cloud);
        inf_model_free(&m->edge);
        if (m->log)
                fclose(m->log);
        if (m->late)
                fclose(m->late);
        tl_buf_release(&m->line);
        tl_free(m);
}

const struct demo_counts *demo_month_counts(const struct demo_month *m)
{
        return &m->n;
}

/* One request through the engine; its events in 'evs'. The strings of
   the request live in 'names' (model, source) and must outlive 'evs'. */
static tl_status serve(struct demo_month *m, const struct demo_customer *c,
                       const struct demo_device *dev, int day, inf_decoding dec,
                       char names[2][128], char *id, struct inf_events *evs,
                       struct tl_error *err)
{
        struct inf_state *st = dev ? m->est : m->cst;
        struct inf_gen_opts g = {.decoding = dec, .stop_at_eos = true};
        struct inf_usage u;
        int np = 0, nout = 0;
        tl_status rc;

        rc = inf_tokenizer_encode(
            m->tok,
            PROMPTS[demo_rand(&m->rng) % (sizeof PROMPTS / sizeof *PROMPTS)],
            true, m->prompt, &np, err);
        if (rc)
                return rc;
        if (dec == INF_DECODE_AR) {
                g.max_tokens = dev ? demo_between(&m->rng, 12, 48)
                                   : demo_between(&m->rng, 16, 96);
        } else {
                g.max_tokens = demo_between(&m->rng, 16, 64);
                if (chance(m, 0.3))
                        g.threshold = 0.004f; /* adaptive */
                else
                        g.k = demo_between(&m->rng, 2, 8);
                g.block = chance(m, 0.3) ? 16 : 0;
        }
        inf_sampler_init(&g.sampler, 0.8f, 0.9f, demo_rand(&m->rng) | 1);
        rc =
            inf_generate(st, m->prompt, np, &g, m->out, &nout, m->per, &u, err);
        if (rc)
                return rc;
        snprintf(id, 64, "%s-d%02d-%06llu", c->id, day,
                 (unsigned long long)++m->seq);
        if (dev)
                snprintf(names[0], 128, "device/%s", dev->id);
        else
                snprintf(names[0], 128, "cloud/eu-west-1/gw-%d",
                         demo_between(&m->rng, 1, 3));
        snprintf(names[1], 128, "%s",
                 dev                    ? "ref-edge-q8"
                 : dec == INF_DECODE_AR ? "ref-chat"
                                        : "ref-dllm");
        struct inf_request r = {
            .id = id,
            .subject = c->id,
            .source = names[0],
            .model = names[1],
            .deployment = dev ? SCH_DEPLOY_DEVICE : SCH_DEPLOY_CLOUD,
            .decoding = dec,
            .time_us = m->o->period.start_us +
                       (tl_time_us)(day - 1) * TL_US_PER_DAY +
                       (tl_time_us)demo_between(&m->rng, 8 * 3600, 20 * 3600) *
                           TL_US_PER_SEC,
        };
        /* The support bot reports what each request achieved, on the
           device path as in the cloud, as `tally infer --task --outcome`
           does (the same inf_request fields). */
        if (!strcmp(c->plan, "support-bot")) {
                bool ok = chance(m, 0.85);

                r.task = "support.resolution";
                r.outcome = ok ? "success" : "failure";
                m->n.outcomes[dev ? 1 : 0][ok ? 0 : 1]++;
        }
        if ((rc = inf_request_events(&r, &u, evs, err)))
                return rc;
        if (dev) {
                m->n.device_requests++;
                m->n.local_out_tokens += (uint64_t)u.output_tokens;
        } else {
                *(dec == INF_DECODE_AR ? &m->n.ar_requests
                                       : &m->n.diffusion_requests) += 1;
                m->n.cloud_out_tokens += (uint64_t)u.output_tokens;
                m->n.macs += u.macs;
                m->n.steps += (uint64_t)u.iterations;
        }
        return TL_OK;
}

static tl_status cloud_request(struct demo_month *m,
                               const struct demo_customer *c, int day,
                               inf_decoding dec, struct tl_error *err)
{
        struct inf_events evs;
        char names[2][128], id[64];
        tl_status rc = serve(m, c, NULL, day, dec, names, id, &evs, err);

        for (size_t i = 0; !rc && i < evs.n; i++)
                rc = log_event(m, &evs.ev[i], err);
        if (!rc)
                rc = inf_emitter_send(m->em, evs.ev, evs.n, err);
        if (rc)
                return rc;
        m->n.unique_events += evs.n;
        /* A client that timed out and retried: the same ids again. */
        if (chance(m, 0.03)) {
                rc = inf_emitter_send(m->em, evs.ev, evs.n, err);
                m->n.replays += rc ? 0 : evs.n;
        }
        return rc;
}

static void spool_path(const struct demo_month *m, const struct demo_device *d,
                       char *buf, size_t size)
{
        char name[80];

        snprintf(name, sizeof name, "devices/%s.spool", d->id);
        demo_path(m->env, name, buf, size);
}

/* A device's day: its requests into its spool, the seat events due. */
static tl_status device_day(struct demo_month *m, const struct demo_customer *c,
                            const struct demo_device *d, int day,
                            struct tl_error *err)
{
        struct inf_spool *sp = NULL;
        struct inf_device dev = {c->id, NULL, d->id, d->model_class};
        char path[600], source[128];
        int k = demo_between(&m->rng, 1, 3);
        size_t seats = 0;
        tl_status rc;

        snprintf(source, sizeof source, "device/%s", d->id);
        dev.source = source;
        spool_path(m, d, path, sizeof path);
        rc = inf_spool_open(path, &sp, err);
        for (int i = 0; !rc && i < k; i++) {
                struct inf_events evs;
                char names[2][128], id[64];

                rc = serve(m, c, d, day, INF_DECODE_AR, names, id, &evs, err);
                if (!rc)
                        rc = inf_spool_seat(sp, &dev, evs.ev[0].time_us, false,
                                            &seats, err);
                m->n.seat_events += seats;
                if (!rc)
                        rc = inf_spool_append(sp, evs.ev, evs.n, err);
        }
        if (!rc && d->deactivates && day == d->last_day) {
                tl_time_us eod = m->o->period.start_us +
                                 (tl_time_us)day * TL_US_PER_DAY -
                                 TL_US_PER_SEC;
                rc = inf_spool_seat(sp, &dev, eod, true, &seats, err);
                m->n.seat_events += seats;
        }
        inf_spool_free(&sp);
        return rc;
}

static tl_status log_spooled(void *ctx, const struct sch_event *ev,
                             struct tl_error *err)
{
        struct demo_month *m = ctx;

        *(m->late_phase ? &m->n.late_events : &m->n.unique_events) += 1;
        return log_event(m, ev, err);
}

/* What `tally upload` does on a device, with a copy of it in the log. */
static tl_status upload(struct demo_month *m, const char *path,
                        struct tl_error *err)
{
        struct inf_emit_opts eo = {.brokers = m->env->brokers,
                                   .topic = DEMO_TOPIC};
        struct inf_emit_report rep = {0};
        struct inf_spool *sp = NULL;
        size_t count = 0;
        tl_status rc;

        if (access(path, F_OK) != 0)
                return TL_OK;
        rc = inf_spool_open(path, &sp, err);
        if (!rc && (count = inf_spool_count(sp)) > 0)
                rc = inf_spool_each(sp, log_spooled, m, err);
        inf_spool_free(&sp); /* upload takes the lock itself */
        if (rc || count == 0)
                return rc;
        rc = inf_upload(path, &eo, 500, &rep, err);
        if (!rc && rep.spooled)
                rc = tl_fail(err, TL_EKAFKA, "%s: %zu events not confirmed",
                             path, rep.spooled);
        m->n.uploads++;
        return rc;
}

tl_status demo_month_day(struct demo_month *m, int day, struct tl_error *err)
{
        tl_status rc = TL_OK;

        for (size_t i = 0; !rc && i < m->w->n; i++) {
                const struct demo_customer *c = &m->w->c[i];
                int ar, df;

                if (day < c->start_day)
                        continue;
                ar = today(m, c->ar_per_day);
                df = today(m, c->diffusion_per_day);
                for (int k = 0; !rc && k < ar; k++)
                        rc = cloud_request(m, c, day, INF_DECODE_AR, err);
                for (int k = 0; !rc && k < df; k++)
                        rc =
                            cloud_request(m, c, day, INF_DECODE_DIFFUSION, err);
                for (int d = 0; !rc && d < c->devices; d++) {
                        const struct demo_device *v = &c->dev[d];
                        char path[600];

                        if (day >= v->first_day && day <= v->last_day &&
                            chance(m, v->use_per_day))
                                rc = device_day(m, c, v, day, err);
                        /* Devices sync weekly, on their own day. */
                        if (!rc && !v->late && (day + d + (int)i) % 7 == 0) {
                                spool_path(m, v, path, sizeof path);
                                rc = upload(m, path, err);
                        }
                }
        }
        if (!rc) {
                struct inf_emit_report rep;
                rc = inf_emitter_flush(m->em, &rep, err);
                if (!rc && rep.spooled)
                        fprintf(stderr,
                                "tally demo: %zu events not confirmed by "
                                "Kafka, kept in the undelivered spool\n",
                                rep.spooled);
        }
        return rc;
}

tl_status demo_month_sync(struct demo_month *m, struct tl_error *err)
{
        char path[600];
        tl_status rc = TL_OK;

        m->n.device_spools_pending = 0;
        for (size_t i = 0; !rc && i < m->w->n; i++)
                for (int d = 0; !rc && d < m->w->c[i].devices; d++) {
                        const struct demo_device *v = &m->w->c[i].dev[d];

                        spool_path(m, v, path, sizeof path);
                        if (v->late)
                                m->n.device_spools_pending +=
                                    access(path, F_OK) == 0;
                        else
                                rc = upload(m, path, err);
                }
        /* What the emitter could not deliver went to its spool: send it. */
        if (!rc)
                rc = upload(
                    m, demo_path(m->env, "undelivered.cbor", path, sizeof path),
                    err);
        if (!rc && fflush(m->log) != 0)
                rc = tl_fail(err, TL_EIO, "cannot write events.jsonl: %s",
                             strerror(errno));
        return rc;
}

tl_status demo_month_late(struct demo_month *m, struct tl_error *err)
{
        char path[600];
        tl_status rc = TL_OK;

        m->late_phase = true;
        for (size_t i = 0; !rc && i < m->w->n; i++)
                for (int d = 0; !rc && d < m->w->c[i].devices; d++)
                        if (m->w->c[i].dev[d].late) {
                                spool_path(m, &m->w->c[i].dev[d], path,
                                           sizeof path);
                                rc = upload(m, path, err);
                        }
        if (!rc && fflush(m->late) != 0)
                rc = tl_fail(err, TL_EIO, "cannot write late.jsonl: %s",
                             strerror(errno));
        return rc;
}

/* ---- malformed input ---- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg,
                        void *opaque)
{
        (void)rk;
        if (msg->err)
                ++*(int *)opaque;
}

static tl_status produce_raw(rd_kafka_t *rk, const char *key,
                             const struct tl_buf *b, const char *ct,
                             struct tl_error *err)
{
        rd_kafka_resp_err_t e =
            ct ? rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(DEMO_TOPIC),
                                   RD_KAFKA_V_KEY(key, strlen(key)),
                                   RD_KAFKA_V_VALUE(b->data, b->len),
                                   RD_KAFKA_V_HEADER("content-type", ct, -1),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                   RD_KAFKA_V_END)
               : rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(DEMO_TOPIC),
                                   RD_KAFKA_V_KEY(key, strlen(key)),
                                   RD_KAFKA_V_VALUE(b->data, b->len),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                   RD_KAFKA_V_END);
        return e ? tl_fail(err, TL_EKAFKA, "produce: %s", rd_kafka_err2str(e))
                 : TL_OK;
}

#define CT_JSON "application/cloudevents+json"
#define CT_CBOR "application/cloudevents+cbor"

/* The seven kinds of bad input, made from one valid event 'ev' of the
   customer 'key'; the last re-sends its key with other content. */
static tl_status bad_kinds(struct demo_month *m, rd_kafka_t *rk,
                           const char *key, const struct sch_event *ev,
                           struct tl_error *err)
{
        struct tl_buf u, scratch;
        struct sch_event x = *ev;
        tl_status rc;

        tl_buf_init(&u, 0);
        tl_buf_init(&scratch, 0);
        rc = tl_buf_puts(&u, "\xa1\xff not an event", err);
        if (!rc)
                rc = produce_raw(rk, key, &u, NULL, err);
        tl_buf_clear(&u);
        if (!rc && !(rc = sch_encode_json(ev, &u, err)) &&
            !(rc = lg_drop_key(&u, true, "subject", err)))
                rc = produce_raw(rk, key, &u, CT_JSON, err);
        tl_buf_clear(&u);
        if (!rc && !(rc = sch_encode_cbor(ev, &u, err)) &&
            !(rc = lg_unknown_type(&u, false, err)))
                rc = produce_raw(rk, key, &u, CT_CBOR, err);
        tl_buf_clear(&u);
        if (!rc && !(rc = sch_encode_json(ev, &u, err)) &&
            !(rc = lg_count_as_text(&u, &scratch, true, ev->type, err)))
                rc = produce_raw(rk, key, &u, CT_JSON, err);
        tl_buf_clear(&u);
        if (!rc && !(rc = sch_encode_cbor(ev, &u, err)) &&
            !(rc = lg_count_negative(&u, &scratch, false, ev->type, err)))
                rc = produce_raw(rk, key, &u, CT_CBOR, err);
        tl_buf_clear(&u);
        x.time_us = tl_time_now_us() + 30 * TL_US_PER_DAY; /* a bad clock */
        if (!rc && !(rc = sch_encode_json(&x, &u, err)))
                rc = produce_raw(rk, key, &u, CT_JSON, err);
        tl_buf_clear(&u);
        x = *ev;
        x.output_tokens += 1; /* same key, other content: a conflict */
        if (!rc && !(rc = sch_encode_json(&x, &u, err)))
                rc = produce_raw(rk, key, &u, CT_JSON, err);
        if (!rc)
                m->n.malformed += 7;
        tl_buf_release(&u);
        tl_buf_release(&scratch);
        return rc;
}

tl_status demo_month_noise(struct demo_month *m, int day, struct tl_error *err)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        size_t reps = m->w->n / 16 + 1;
        char why[256];
        int failed = 0;
        rd_kafka_t *rk;
        tl_status rc = TL_OK;

        rd_kafka_conf_set_opaque(conf, &failed);
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        if (rd_kafka_conf_set(conf, "bootstrap.servers", m->env->brokers, why,
                              sizeof why) ||
            rd_kafka_conf_set(conf, "enable.idempotence", "true", why,
                              sizeof why) ||
            !(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why))) {
                rd_kafka_conf_destroy(conf);
                return tl_fail(err, TL_EKAFKA, "producer: %s", why);
        }
        for (size_t j = 0; !rc && j < reps; j++) {
                const struct demo_customer *c = &m->w->c[(j * 7) % m->w->n];
                struct inf_events evs;
                struct inf_emit_report rep;
                char names[2][128], id[64];

                if (day < c->start_day)
                        continue;
                /* The original goes first, and is delivered before its
                   conflicting copy is produced. */
                rc =
                    serve(m, c, NULL, day, INF_DECODE_AR, names, id, &evs, err);
                for (size_t i = 0; !rc && i < evs.n; i++)
                        rc = log_event(m, &evs.ev[i], err);
                if (!rc)
                        rc = inf_emitter_send(m->em, evs.ev, evs.n, err);
                if (!rc)
                        rc = inf_emitter_flush(m->em, &rep, err);
                if (!rc)
                        m->n.unique_events += evs.n;
                if (!rc)
                        rc = bad_kinds(m, rk, c->id, &evs.ev[0], err);
        }
        if (rd_kafka_flush(rk, 30000) || failed)
                rc = rc ? rc
                        : tl_fail(err, TL_EKAFKA,
                                  "%d malformed messages not delivered",
                                  failed ? failed : rd_kafka_outq_len(rk));
        rd_kafka_destroy(rk);
        return rc;
}
