/* Upload and the emitter against the real broker: offline, online, every
   event on the topic exactly once, read back by a plain consumer. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "inference/emit.h"
#include "schemas/decode.h"
#include "testkit.h"

#define T0 INT64_C(1790000000000000) /* 2026-09-21T14:13:20Z */
#define MAX_IDS 4096
#define MAX_PARTITIONS 16

static const char *const subjects[] = {"cust_a", "cust_b", "cust_c"};

static struct sch_str s(const char *t)
{
        return (struct sch_str){t, (uint32_t)strlen(t)};
}

/* Event "ev-N" of 'subject'; 'id' must outlive it. */
static struct sch_event token_event(int i, const char *subject, char *id,
                                    size_t size)
{
        struct sch_event ev;

        memset(&ev, 0, sizeof ev);
        snprintf(id, size, "ev-%d", i);
        ev.id = s(id);
        ev.source = s("device/dev-1");
        ev.subject = s(subject);
        ev.type = SCH_TYPE_TOKENS;
        ev.time_us = T0 + i * 1000;
        ev.model = s("tiny-15m");
        ev.deployment = SCH_DEPLOY_DEVICE;
        ev.decoding = s("autoregressive");
        ev.input_tokens = 10 + (uint64_t)i;
        ev.output_tokens = 20;
        return ev;
}

/* Subject of event 'i': runs of 1 to 450 events, the three in turn. */
static const char *subject_of(int i)
{
        int run = 0, at = 0;

        for (;;) {
                int len = 1 + (run * 37) % 450;
                if (i < at + len)
                        return subjects[run % 3];
                at += len;
                run++;
        }
}

/* Append events first .. first+n-1 to 'path', 50 per append. */
static void spool_events(const char *path, int first, int n)
{
        struct inf_spool *sp;
        struct tl_error err;
        struct sch_event evs[50];
        char ids[50][16];

        cr_assert_eq(inf_spool_open(path, &sp, &err), TL_OK, "%s", err.msg);
        for (int at = first; at < first + n; at += 50) {
                int k = first + n - at < 50 ? first + n - at : 50;
                for (int j = 0; j < k; j++)
                        evs[j] = token_event(at + j, subject_of(at + j), ids[j],
                                             sizeof ids[j]);
                cr_assert_eq(inf_spool_append(sp, evs, (size_t)k, &err), TL_OK,
                             "%s", err.msg);
        }
        inf_spool_free(&sp);
}

static size_t spool_count(const char *path)
{
        struct inf_spool *sp;
        struct tl_error err;
        size_t n;

        cr_assert_eq(inf_spool_open(path, &sp, &err), TL_OK, "%s", err.msg);
        n = inf_spool_count(sp);
        inf_spool_free(&sp);
        return n;
}

/* ---- what is on the topic ---- */

struct topic_view {
        int count[MAX_IDS]; /* times each "ev-N" was seen */
        size_t events, messages, arrays, max_batch;
};

/* One message: the header, the key and every event it holds. */
static void take(struct topic_view *v, struct sch_decoder *d,
                 const rd_kafka_message_t *m)
{
        rd_kafka_headers_t *hdrs;
        struct sch_cbor_reader r;
        struct sch_event ev;
        struct sch_str raw;
        const void *ct;
        size_t ct_len, n = 0;

        cr_assert_eq(rd_kafka_message_headers(m, &hdrs), 0, "no headers");
        cr_assert_eq(
            rd_kafka_header_get_last(hdrs, "content-type", &ct, &ct_len), 0);
        cr_assert_eq(ct_len, strlen("application/cloudevents+cbor"));
        cr_assert_eq(memcmp(ct, "application/cloudevents+cbor", ct_len), 0);
        cr_assert_leq(m->len, 1024 * 1024);
        v->arrays += ((const unsigned char *)m->payload)[0] >> 5 == 4;
        cr_assert_eq(sch_cbor_reader_open(&r, m->payload, m->len, false, NULL),
                     TL_OK);
        while (sch_cbor_reader_more(&r)) {
                struct tl_error err;
                char text[32];
                int id;
                cr_assert_eq(sch_cbor_reader_next(&r, d, &ev, &raw, &err),
                             TL_OK, "%s", err.msg);
                cr_assert_eq(ev.subject.len, m->key_len, "one subject");
                cr_assert_eq(memcmp(ev.subject.ptr, m->key, m->key_len), 0);
                snprintf(text, sizeof text, "%.*s", (int)ev.id.len, ev.id.ptr);
                cr_assert_eq(sscanf(text, "ev-%d", &id), 1, "%s", text);
                cr_assert(id >= 0 && id < MAX_IDS);
                v->count[id]++;
                n++;
        }
        v->events += n;
        v->messages++;
        if (n > v->max_batch)
                v->max_batch = n;
}

/* Read every partition of 'topic' from the start to its high watermark. */
static void consume(const char *topic, struct topic_view *v)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *parts;
        const rd_kafka_metadata_t *md;
        struct sch_decoder *d;
        int64_t lo, hi[MAX_PARTITIONS], next[MAX_PARTITIONS];
        char errstr[256];
        rd_kafka_topic_t *rkt;
        rd_kafka_t *c;
        int count, pending = 0;
        time_t deadline = time(NULL) + 60;

        memset(v, 0, sizeof *v);
        cr_assert_eq(sch_decoder_new(NULL, &d, NULL), TL_OK);
        tk_kafka_set(conf, "bootstrap.servers", getenv("TALLY_KAFKA_BROKERS"));
        tk_kafka_set(conf, "group.id", "test-upload");
        tk_kafka_set(conf, "enable.auto.commit", "false");
        c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
        cr_assert(c, "%s", errstr);
        rkt = rd_kafka_topic_new(c, topic, NULL);
        cr_assert_eq(rd_kafka_metadata(c, 0, rkt, &md, 10000), 0);
        count = md->topics[0].partition_cnt;
        cr_assert(count > 0 && count <= MAX_PARTITIONS);
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        parts = rd_kafka_topic_partition_list_new(count);
        for (int p = 0; p < count; p++) {
                cr_assert_eq(rd_kafka_query_watermark_offsets(c, topic, p, &lo,
                                                              &hi[p], 10000),
                             0);
                cr_assert_eq(lo, 0, "nothing deleted");
                next[p] = 0;
                pending += hi[p] > 0;
                rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
                    RD_KAFKA_OFFSET_BEGINNING;
        }
        cr_assert_eq(rd_kafka_assign(c, parts), 0);
        rd_kafka_topic_partition_list_destroy(parts);
        while (pending > 0 && time(NULL) < deadline) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
                if (!m)
                        continue;
                cr_assert_eq(m->err, 0, "%s", rd_kafka_message_errstr(m));
                take(v, d, m);
                next[m->partition] = m->offset + 1;
                pending -= next[m->partition] == hi[m->partition];
                rd_kafka_message_destroy(m);
        }
        cr_assert_eq(pending, 0, "topic %s not read to its end", topic);
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
        sch_decoder_free(&d);
}

/* Events first .. first+n-1 each exactly once, and nothing else. */
static void exactly_once(const struct topic_view *v, int first, int n)
{
        for (int i = 0; i < MAX_IDS; i++) {
                int want = i >= first && i < first + n;
                cr_assert_eq(v->count[i], want, "ev-%d seen %d times", i,
                             v->count[i]);
        }
        cr_assert_eq(v->events, (size_t)n);
}

/* ---- fixtures ---- */

static struct tk_broker broker;
static char dir[64], path[128];

/* A broker of three with 'topic' (4 partitions), and a spool path. */
static void start(const char *topic)
{
        char arg[64];
        const char *extra[] = {"--topic", arg, NULL};

        snprintf(arg, sizeof arg, "%s:4", topic);
        cr_assert_eq(tk_broker_start(&broker, 3, extra), 0);
        snprintf(dir, sizeof dir, "/tmp/tk-upload-XXXXXX");
        cr_assert(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/spool.cbor", dir);
}

static void stop(void)
{
        char cmd[128];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        cr_assert_eq(system(cmd), 0);
        cr_assert_eq(tk_broker_stop(&broker), 0);
}

static off_t file_size(const char *p)
{
        struct stat st;

        cr_assert_eq(stat(p, &st), 0);
        return st.st_size;
}

/* ---- upload ---- */

Test(upload, offline_then_online_delivers_every_event_exactly_once,
     .timeout = 240)
{
        const char *short_wait[] = {"message.timeout.ms=1500"};
        struct inf_emit_opts o = {.topic = "up.once",
                                  .props = short_wait,
                                  .prop_count = 1,
                                  .timeout_ms = 4000};
        struct inf_emit_report rep;
        struct topic_view *v = malloc(sizeof *v);
        struct tl_error err;

        start("up.once");
        spool_events(path, 0, 2500);
        cr_assert_eq(tk_broker_control(&broker, "down -1"), 0);
        cr_assert_eq(inf_upload(path, &o, 200, &rep, &err), TL_EKAFKA, "%s",
                     err.msg);
        cr_assert(strstr(err.msg, "2500 of 2500 events not delivered"), "%s",
                  err.msg);
        cr_assert_eq(rep.delivered, 0);
        cr_assert_eq(rep.messages, 0);
        cr_assert_eq(rep.spooled, 2500);
        cr_assert_eq(spool_count(path), 2500, "every event kept");

        cr_assert_eq(tk_broker_control(&broker, "up -1"), 0);
        o.prop_count = 0;
        o.timeout_ms = 30000;
        cr_assert_eq(inf_upload(path, &o, 200, &rep, &err), TL_OK, "%s",
                     err.msg);
        cr_assert_eq(rep.delivered, 2500);
        cr_assert_eq(rep.spooled, 0);
        cr_assert_eq(spool_count(path), 0);
        cr_assert_eq(file_size(path), 0);

        consume("up.once", v);
        exactly_once(v, 0, 2500);
        cr_assert_eq(v->messages, rep.messages);
        cr_assert_eq(v->arrays, v->messages);
        cr_assert_eq(v->max_batch, 200);
        /* One subject per message cuts at every run: more than 2500/200. */
        cr_assert_gt(v->messages, 2500 / 200 + 3);
        free(v);
        stop();
}

Test(upload, the_emitter_spools_what_is_not_delivered, .timeout = 240)
{
        /* librdkafka would wait a minute: the flush's own 2 s decide. */
        const char *props[] = {"message.timeout.ms=60000",
                               "reconnect.backoff.max.ms=200"};
        struct inf_emit_opts o = {.topic = "up.emit",
                                  .spool = path,
                                  .props = props,
                                  .prop_count = 2,
                                  .timeout_ms = 2000};
        time_t before;
        struct inf_emit_report rep;
        struct inf_emitter *em;
        struct topic_view *v = malloc(sizeof *v);
        struct sch_event evs[60];
        char ids[60][16];
        struct tl_error err;

        start("up.emit");
        cr_assert_eq(inf_emitter_new(&o, &em, &err), TL_OK, "%s", err.msg);
        cr_assert_eq(tk_broker_control(&broker, "down -1"), 0);
        /* One buffer for every batch: the emitter must copy. */
        for (int at = 0; at < 300; at += 60) {
                for (int j = 0; j < 60; j++)
                        evs[j] = token_event(at + j, subject_of(at + j), ids[j],
                                             sizeof ids[j]);
                cr_assert_eq(inf_emitter_send(em, evs, 60, &err), TL_OK, "%s",
                             err.msg);
        }
        before = time(NULL);
        cr_assert_eq(inf_emitter_flush(em, &rep, &err), TL_OK, "%s", err.msg);
        cr_assert_leq(time(NULL) - before, 5, "purged at the flush timeout");
        cr_assert_eq(rep.delivered, 0);
        cr_assert_eq(rep.spooled, 300);
        cr_assert_eq(spool_count(path), 300, "none lost");

        cr_assert_eq(tk_broker_control(&broker, "up -1"), 0);
        for (int at = 300; at < 500; at += 50) {
                for (int j = 0; j < 50; j++)
                        evs[j] = token_event(at + j, subject_of(at + j), ids[j],
                                             sizeof ids[j]);
                cr_assert_eq(inf_emitter_send(em, evs, 50, &err), TL_OK, "%s",
                             err.msg);
        }
        cr_assert_eq(inf_emitter_flush(em, &rep, &err), TL_OK, "%s", err.msg);
        cr_assert_eq(rep.delivered, 200, "spooled %zu", rep.spooled);
        cr_assert_eq(rep.messages, 200);
        cr_assert_eq(rep.spooled, 0);
        inf_emitter_free(&em);
        cr_assert_eq(spool_count(path), 300);

        o.prop_count = 0;
        o.timeout_ms = 30000;
        cr_assert_eq(inf_upload(path, &o, 1000, &rep, &err), TL_OK, "%s",
                     err.msg);
        cr_assert_eq(rep.delivered, 300);
        consume("up.emit", v);
        exactly_once(v, 0, 500);
        free(v);
        stop();
}

struct bg_upload {
        struct inf_emit_opts o;
        struct inf_emit_report rep;
        struct tl_error err;
        tl_status rc;
};

static void *upload_thread(void *arg)
{
        struct bg_upload *u = arg;

        u->rc = inf_upload(path, &u->o, 10, &u->rep, &u->err);
        return NULL;
}

Test(upload, events_appended_during_an_upload_stay_in_the_spool, .timeout = 240)
{
        struct bg_upload u = {.o = {.topic = "up.during"}};
        struct topic_view *v = malloc(sizeof *v);
        struct inf_emit_report rep;
        struct tl_error err;
        pthread_t t;

        start("up.during");
        spool_events(path, 0, 50);
        /* Slow answers keep the upload busy while the device appends. */
        cr_assert_eq(tk_broker_control(&broker, "rtt -1 1500"), 0);
        cr_assert_eq(pthread_create(&t, NULL, upload_thread, &u), 0);
        usleep(400 * 1000);
        spool_events(path, 1000, 7);
        cr_assert_eq(pthread_join(t, NULL), 0);
        cr_assert_eq(u.rc, TL_OK, "%s", u.err.msg);
        cr_assert_eq(u.rep.delivered, 50);
        cr_assert_eq(spool_count(path), 7, "the appends survive the rewrite");
        cr_assert_eq(tk_broker_control(&broker, "rtt -1 0"), 0);
        cr_assert_eq(inf_upload(path, &u.o, 10, &rep, &err), TL_OK, "%s",
                     err.msg);
        cr_assert_eq(rep.delivered, 7);
        consume("up.during", v);
        for (int i = 0; i < 7; i++)
                cr_assert_eq(v->count[1000 + i], 1);
        v->count[1000] = v->count[1001] = v->count[1002] = v->count[1003] = 0;
        v->count[1004] = v->count[1005] = v->count[1006] = 0;
        v->events -= 7;
        exactly_once(v, 0, 50);
        free(v);
        stop();
}

/* Flip a byte inside record 'no' (1-based) of a spool of single appends,
   whose record ends are 'ends'. */
static void damage(const off_t *ends, int no)
{
        FILE *f = fopen(path, "r+b");
        int c;

        cr_assert(f);
        fseek(f, ends[no - 2] + 12, SEEK_SET);
        c = fgetc(f);
        fseek(f, ends[no - 2] + 12, SEEK_SET);
        fputc(c ^ 0x20, f);
        fclose(f);
}

Test(upload, a_corrupt_spool_sends_what_precedes_the_damage, .timeout = 240)
{
        struct inf_emit_opts o = {.topic = "up.corrupt"};
        struct topic_view *v = malloc(sizeof *v);
        struct inf_emit_report rep;
        struct inf_spool *sp;
        struct tl_error err;
        off_t ends[10];
        char want[64];

        start("up.corrupt");
        for (int i = 0; i < 10; i++) {
                spool_events(path, i, 1);
                ends[i] = file_size(path);
        }
        damage(ends, 6);
        cr_assert_eq(inf_upload(path, &o, 100, &rep, &err), TL_EPARSE);
        snprintf(want, sizeof want, "record #6 at byte %lld",
                 (long long)ends[4]);
        cr_assert(strstr(err.msg, want), "%s", err.msg);
        cr_assert(strstr(err.msg, "5 of the 5 events before the damage"), "%s",
                  err.msg);
        cr_assert_eq(rep.delivered, 5);
        /* The damaged rest is kept as it was, and still refused. */
        cr_assert_eq(file_size(path), ends[9] - ends[4]);
        cr_assert_eq(inf_spool_open(path, &sp, &err), TL_EPARSE);
        cr_assert(strstr(err.msg, "record #1 at byte 0"), "%s", err.msg);
        consume("up.corrupt", v);
        exactly_once(v, 0, 5);
        free(v);
        stop();
}

/* Run `tally upload ARGS...`; returns the result (release it). */
static struct tk_proc_result run_upload(const char *const *args)
{
        const char *argv[24] = {tk_tally_bin(), "upload"};
        struct tk_proc_result r;
        int n = 2;

        for (; *args && n < 23; args++)
                argv[n++] = *args;
        argv[n] = NULL;
        cr_assert_eq(tk_run(argv, 60000, &r), 0);
        return r;
}

static void cli_expect(const char *const *args, int code, const char *out,
                       const char *errtext)
{
        struct tk_proc_result r = run_upload(args);

        cr_assert_eq(r.exit_code, code, "exit %d: %s%s", r.exit_code, r.out,
                     r.err);
        if (out)
                cr_assert(strstr(r.out, out), "wanted '%s' in: %s", out, r.out);
        if (errtext)
                cr_assert(strstr(r.err, errtext), "wanted '%s' in: %s", errtext,
                          r.err);
        tk_proc_result_release(&r);
}

Test(upload, the_cli_reports_and_exits_0_1_or_2, .timeout = 240)
{
        struct topic_view *v = malloc(sizeof *v);
        char left[200], done[200], missing[160];

        start("up.cli");
        spool_events(path, 0, 40);
        snprintf(left, sizeof left,
                 "uploaded 0 events in 0 messages; 40 left in %s\n", path);
        snprintf(missing, sizeof missing, "%s/none.cbor", dir);
        cli_expect((const char *[]){NULL}, 2, NULL, "--spool FILE is required");
        cli_expect((const char *[]){"--spool", path, "--batch", "0", NULL}, 2,
                   NULL, "--batch: '0' is not a whole number");
        cli_expect((const char *[]){"--spool", path, "-X", "acks", NULL}, 2,
                   NULL, "-X needs key=value");
        cli_expect((const char *[]){"--spool", path, "-X", "no.such=1", NULL},
                   2, NULL, "no.such");
        cli_expect((const char *[]){"--spool", missing, NULL}, 2, NULL,
                   "cannot open");
        cli_expect((const char *[]){"--spool", path, "extra", NULL}, 2, NULL,
                   "unexpected argument");

        cr_assert_eq(tk_broker_control(&broker, "down -1"), 0);
        cli_expect((const char *[]){"--spool", path, "--topic", "up.cli",
                                    "--timeout-ms", "3000", "-X",
                                    "message.timeout.ms=1000", NULL},
                   1, left, "40 of 40 events not delivered");
        cr_assert_eq(tk_broker_control(&broker, "up -1"), 0);
        /* Runs of 1, 38 and 1 events of three subjects, by sevens. */
        snprintf(done, sizeof done,
                 "uploaded 40 events in 8 messages; 0 left in %s\n", path);
        cli_expect((const char *[]){"--spool", path, "--topic", "up.cli",
                                    "--batch", "7", NULL},
                   0, done, NULL);
        cli_expect((const char *[]){"--spool", path, "--topic", "up.cli", NULL},
                   0, "uploaded 0 events in 0 messages; 0 left", NULL);
        consume("up.cli", v);
        exactly_once(v, 0, 40);
        cr_assert_leq(v->max_batch, 7);

        /* Corrupt input: exit 2, naming the record. */
        spool_events(path, 100, 3);
        {
                FILE *f = fopen(path, "r+b");
                fputc(0, f);
                fclose(f);
        }
        cli_expect((const char *[]){"--spool", path, "--topic", "up.cli", NULL},
                   2, "uploaded 0 events", "record #1 at byte 0");
        free(v);
        stop();
}

Test(upload, an_emitter_that_cannot_spool_keeps_the_events_and_says_so,
     .timeout = 120)
{
        char bad[160];
        const char *props[] = {"message.timeout.ms=500"};
        struct inf_emit_opts o = {.topic = "up.nospool",
                                  .spool = bad,
                                  .props = props,
                                  .prop_count = 1,
                                  .timeout_ms = 1000};
        struct inf_emit_report rep = {7, 7, 7};
        struct inf_emitter *em;
        struct sch_event evs[10];
        char ids[10][16];
        struct tl_error err;

        start("up.nospool");
        snprintf(bad, sizeof bad, "%s/no/such/dir/spool.cbor", dir);
        cr_assert_eq(inf_emitter_new(&o, &em, &err), TL_OK, "%s", err.msg);
        cr_assert_eq(tk_broker_control(&broker, "down -1"), 0);
        for (int j = 0; j < 10; j++)
                evs[j] = token_event(j, "cust_a", ids[j], sizeof ids[j]);
        cr_assert_eq(inf_emitter_send(em, evs, 10, &err), TL_OK, "%s", err.msg);
        cr_assert_eq(inf_emitter_flush(em, &rep, &err), TL_EIO);
        cr_assert(strstr(err.msg, "10 events neither delivered nor spooled"),
                  "%s", err.msg);
        cr_assert(strstr(err.msg, bad), "%s", err.msg);
        cr_assert_eq(rep.delivered, 7, "the report is left alone");
        /* Kept: the next flush tries the spool again, with all of them. */
        cr_assert_eq(inf_emitter_flush(em, &rep, &err), TL_EIO);
        cr_assert(strstr(err.msg, "10 events"), "%s", err.msg);
        /* An invalid event is refused whole, before anything is queued. */
        evs[3].model = s("");
        cr_assert_eq(inf_emitter_send(em, evs, 10, &err), TL_EINVAL);
        cr_assert(strstr(err.msg, "event #4 (id ev-3)"), "%s", err.msg);
        inf_emitter_free(&em); /* logs "events lost" */
        o.spool = NULL;
        cr_assert_eq(inf_emitter_new(&o, &em, &err), TL_EUSAGE);
        o.spool = path;
        o.props = (const char *[]){"no.such.property=1"};
        cr_assert_eq(inf_emitter_new(&o, &em, &err), TL_EUSAGE);
        cr_assert(strstr(err.msg, "no.such.property"), "%s", err.msg);
        cr_assert_eq(tk_broker_control(&broker, "up -1"), 0);
        stop();
}
