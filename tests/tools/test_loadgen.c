/* tally loadgen: what lands on the topic is exactly what its truth says,
   recomputed here by consuming the topic and decoding every message. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "core/dec.h"
#include "core/hash.h"
#include "schemas/decode.h"
#include "testkit.h"

#define MAX_PARTITIONS 64
#define TABLE_SIZE (1u << 17) /* keys: far more than any test stores */

struct row {
        char customer[32];
        const char *type;
        uint64_t events;
        tl_u128 cols[7];
};

struct seen {
        char *key; /* subject NUL source NUL id */
        size_t key_len;
        unsigned char hash[SCH_HASH_BYTES];
};

/* The truth recomputed from the topic, and what the stream looked like. */
struct tally {
        struct sch_decoder *decoder;
        struct sch_event ev;
        uint64_t produced, stored, duplicates, dead, conflicts;
        uint64_t json_msgs, cbor_msgs, batch_msgs, bare_msgs, parse_errors;
        uint64_t limit_errors;
        struct row *rows;
        size_t row_count;
        struct seen *table;
        uint64_t digest[MAX_PARTITIONS]; /* payloads in partition order */
};

static void tally_init(struct tally *t)
{
        memset(t, 0, sizeof *t);
        cr_assert_eq(sch_decoder_new(NULL, &t->decoder, NULL), TL_OK);
        t->rows = calloc(4096, sizeof *t->rows);
        t->table = calloc(TABLE_SIZE, sizeof *t->table);
        cr_assert(t->rows && t->table);
}

static void tally_release(struct tally *t)
{
        for (size_t i = 0; i < TABLE_SIZE; i++)
                free(t->table[i].key);
        free(t->table);
        free(t->rows);
        sch_decoder_free(&t->decoder);
}

static void add_row(struct tally *t, const struct sch_event *ev)
{
        const char *type = sch_event_type_name(ev->type);
        struct row *r = NULL;

        for (size_t i = 0; i < t->row_count && !r; i++)
                if (strlen(t->rows[i].customer) == ev->subject.len &&
                    memcmp(t->rows[i].customer, ev->subject.ptr,
                           ev->subject.len) == 0 &&
                    t->rows[i].type == type)
                        r = &t->rows[i];
        if (!r) {
                cr_assert_lt(t->row_count, 4096);
                cr_assert_lt(ev->subject.len, sizeof r->customer);
                r = &t->rows[t->row_count++];
                memcpy(r->customer, ev->subject.ptr, ev->subject.len);
                r->type = type;
        }
        r->events++;
        r->cols[0] += ev->input_tokens;
        r->cols[1] += ev->output_tokens;
        r->cols[2] += ev->cached_input_tokens;
        r->cols[3] += ev->iterations;
        r->cols[4] += ev->tokens;
        r->cols[5] += ev->mac;
        r->cols[6] += ev->units;
}

/* docs/formats.md: a new key is stored, the same key and content a duplicate,
   the same key with other content dead-lettered. */
static void classify(struct tally *t, const struct sch_event *ev)
{
        char key[600];
        size_t len = 0;
        unsigned char hash[SCH_HASH_BYTES];
        const struct sch_str parts[] = {ev->subject, ev->source, ev->id};

        for (int i = 0; i < 3; i++) {
                memcpy(key + len, parts[i].ptr, parts[i].len);
                len += parts[i].len;
                key[len++] = '\0';
        }
        sch_event_hash(ev, hash);
        for (size_t i = tl_hash64(key, len, 0) % TABLE_SIZE;;
             i = (i + 1) % TABLE_SIZE) {
                struct seen *s = &t->table[i];
                if (!s->key) {
                        s->key = malloc(len);
                        memcpy(s->key, key, len);
                        s->key_len = len;
                        memcpy(s->hash, hash, sizeof hash);
                        t->stored++;
                        add_row(t, ev);
                        return;
                }
                if (s->key_len != len || memcmp(s->key, key, len) != 0)
                        continue;
                if (memcmp(s->hash, hash, sizeof hash) == 0) {
                        t->duplicates++;
                } else {
                        t->conflicts++;
                        t->dead++;
                }
                return;
        }
}

static void dead_letter(struct tally *t, tl_status rc, uint64_t units)
{
        t->dead += units;
        t->parse_errors += rc == TL_EPARSE;
        t->limit_errors += rc == TL_ELIMIT;
}

/* Decode one message unit by unit, as the ingest would. */
static void take_message(struct tally *t, const rd_kafka_message_t *m)
{
        char ct[64] = "";
        const void *val;
        size_t size;
        rd_kafka_headers_t *hdrs;
        struct sch_cbor_reader r;
        struct sch_str raw;
        tl_status rc;

        if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_last(hdrs, "content-type", &val, &size) ==
                RD_KAFKA_RESP_ERR_NO_ERROR)
                snprintf(ct, sizeof ct, "%.*s", (int)size, (const char *)val);
        else
                t->bare_msgs++;
        if (sch_detect_encoding(*ct ? ct : NULL, m->payload, m->len) ==
            SCH_ENC_JSON) {
                t->json_msgs++;
                t->produced++;
                rc = sch_decode_json(t->decoder, m->payload, m->len, &t->ev,
                                     NULL);
                if (rc)
                        dead_letter(t, rc, 1);
                else
                        classify(t, &t->ev);
                return;
        }
        t->cbor_msgs++;
        rc = sch_cbor_reader_open(&r, m->payload, m->len, false, NULL);
        if (rc) {
                t->produced++;
                dead_letter(t, rc, 1);
                return;
        }
        t->batch_msgs += ((const unsigned char *)m->payload)[0] >> 5 == 4;
        while (sch_cbor_reader_more(&r)) {
                rc = sch_cbor_reader_next(&r, t->decoder, &t->ev, &raw, NULL);
                if (rc && r.broken) {
                        size_t n = sch_cbor_reader_remaining(&r);
                        t->produced += n;
                        dead_letter(t, rc, n);
                        break;
                }
                t->produced++;
                if (rc)
                        dead_letter(t, rc, 1);
                else
                        classify(t, &t->ev);
        }
}

/* Read every partition of 'topic' from the start to its high watermark. */
static void consume_topic(const char *topic, struct tally *t)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        const rd_kafka_metadata_t *md;
        rd_kafka_topic_partition_list_t *parts;
        int64_t lo, hi[MAX_PARTITIONS], next[MAX_PARTITIONS];
        char errstr[256];
        rd_kafka_topic_t *rkt;
        rd_kafka_t *c;
        int count, pending;
        time_t deadline = time(NULL) + 60;

        tk_kafka_set(conf, "bootstrap.servers", getenv("TALLY_KAFKA_BROKERS"));
        tk_kafka_set(conf, "group.id", "test-loadgen");
        tk_kafka_set(conf, "enable.auto.commit", "false");
        c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
        cr_assert(c, "%s", errstr);
        rkt = rd_kafka_topic_new(c, topic, NULL);
        cr_assert_eq(rd_kafka_metadata(c, 0, rkt, &md, 10000),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
        cr_assert_eq(md->topic_cnt, 1);
        count = md->topics[0].partition_cnt;
        cr_assert(count > 0 && count <= MAX_PARTITIONS, "%d partitions", count);
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        parts = rd_kafka_topic_partition_list_new(count);
        pending = 0;
        for (int p = 0; p < count; p++) {
                cr_assert_eq(rd_kafka_query_watermark_offsets(c, topic, p, &lo,
                                                              &hi[p], 10000),
                             RD_KAFKA_RESP_ERR_NO_ERROR);
                next[p] = lo;
                pending += hi[p] > 0;
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
                take_message(t, m);
                t->digest[m->partition] =
                    tl_hash64(m->payload, m->len, t->digest[m->partition] + 1);
                next[m->partition] = m->offset + 1;
                pending -= next[m->partition] == hi[m->partition];
                rd_kafka_message_destroy(m);
        }
        cr_assert_eq(pending, 0, "topic %s not read to its end", topic);
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
}

static int by_customer_then_type(const void *a, const void *b)
{
        const struct row *x = a, *y = b;
        int c = strcmp(x->customer, y->customer);

        return c ? c : strcmp(x->type, y->type);
}

/* The truth file loadgen should have written for what was consumed. */
static char *expected_truth(struct tally *t)
{
        char *text = NULL, num[48];
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        qsort(t->rows, t->row_count, sizeof *t->rows, by_customer_then_type);
        fprintf(f,
                "# tally loadgen ground truth\nproduced\t%llu\nstored\t%llu\n"
                "duplicates\t%llu\ndead_lettered\t%llu\n"
                "customer\ttype\tevents\tinput_tokens\toutput_tokens\t"
                "cached_input_tokens\titerations\ttokens\tmac\tunits\n",
                (unsigned long long)t->produced, (unsigned long long)t->stored,
                (unsigned long long)t->duplicates, (unsigned long long)t->dead);
        for (size_t i = 0; i < t->row_count; i++) {
                const struct row *r = &t->rows[i];
                fprintf(f, "%s\t%s\t%llu", r->customer, r->type,
                        (unsigned long long)r->events);
                for (int k = 0; k < 7; k++) {
                        tl_u128_format(r->cols[k], num, sizeof num);
                        fprintf(f, "\t%s", num);
                }
                fputc('\n', f);
        }
        fclose(f);
        return text;
}

static char *read_file(const char *path)
{
        char *text = NULL;
        size_t size = 0;
        FILE *in = fopen(path, "r"), *out;
        int c;

        cr_assert(in, "cannot read %s", path);
        out = open_memstream(&text, &size);
        while ((c = fgetc(in)) != EOF)
                fputc(c, out);
        fclose(in);
        fclose(out);
        return text;
}

/* Run `tally loadgen --quiet --topic TOPIC --truth DIR/TOPIC.tsv` plus
   'extra' (NULL-terminated), expecting exit 0; returns the truth path. */
static char *run_loadgen(const char *dir, const char *topic,
                         const char *const *extra)
{
        const char *argv[48] = {tk_tally_bin(), "loadgen", "--quiet",
                                "--topic",      topic,     "--truth"};
        char *truth;
        struct tk_proc_result r;
        int n = 6;

        cr_assert(asprintf(&truth, "%s/%s.tsv", dir, topic) > 0);
        argv[n++] = truth;
        for (; *extra && n < 47; extra++)
                argv[n++] = *extra;
        argv[n] = NULL;
        cr_assert_eq(tk_run(argv, 120000, &r), 0);
        cr_assert_eq(r.exit_code, 0, "loadgen: %s", r.err);
        tk_proc_result_release(&r);
        return truth;
}

/* Produce with 'extra', consume, and demand the truth file to the byte. */
static void check_topic(struct tk_broker *b, const char *topic,
                        const char *const *extra, struct tally *t)
{
        char dir[] = "/tmp/tk-loadgen-XXXXXX";
        char *truth_path, *truth, *expected;

        (void)b;
        cr_assert(mkdtemp(dir));
        truth_path = run_loadgen(dir, topic, extra);
        truth = read_file(truth_path);
        tally_init(t);
        consume_topic(topic, t);
        expected = expected_truth(t);
        cr_assert_str_eq(truth, expected,
                         "truth file differs from the topic:\n--- loadgen\n%s"
                         "--- consumed\n%s",
                         truth, expected);
        free(expected);
        free(truth);
        unlink(truth_path);
        free(truth_path);
        rmdir(dir);
}

Test(loadgen, mixed_batches_match_the_truth_exactly)
{
        const char *extra[] = {"--events",
                               "3000",
                               "--customers",
                               "23",
                               "--types",
                               "tokens,iterations,matrix_ops,seat",
                               "--encoding",
                               "mixed",
                               "--batch",
                               "25",
                               "--duplicates",
                               "0.25",
                               "--bad",
                               "0.15",
                               "--seed",
                               "11",
                               NULL};
        struct tk_broker b;
        struct tally t;

        cr_assert_eq(tk_broker_start(&b, 3, NULL), 0);
        check_topic(&b, "lg.mixed", extra, &t);
        cr_assert_eq(t.stored, 3000);
        cr_assert_eq(t.produced, 5000, "3000 / (1 - 0.4)");
        cr_assert_eq(t.duplicates, 1250);
        cr_assert_eq(t.dead, 750);
        cr_assert_gt(t.conflicts, 0);
        cr_assert_gt(t.parse_errors, 0, "undecodable bytes and bad JSON");
        cr_assert_gt(t.json_msgs, 0);
        cr_assert_gt(t.batch_msgs, 0);
        cr_assert_gt(t.bare_msgs, 0, "some messages without content-type");
        cr_assert_eq(t.row_count, 23 * 4, "every customer has every type");
        tally_release(&t);
        cr_assert_eq(tk_broker_stop(&b), 0);
}

Test(loadgen, json_only_stream_matches_the_truth)
{
        const char *extra[] = {"--events", "800",         "--customers",
                               "5",        "--encoding",  "json",
                               "--batch",  "50",          "--duplicates",
                               "0.1",      "--bad",       "0.3",
                               "--types",  "seat,tokens", NULL};
        struct tk_broker b;
        struct tally t;

        cr_assert_eq(tk_broker_start(&b, 1, NULL), 0);
        check_topic(&b, "lg.json", extra, &t);
        /* Only the undecodable bytes are not JSON. */
        cr_assert_eq(t.batch_msgs, 0);
        cr_assert_leq(t.cbor_msgs, t.parse_errors);
        cr_assert_gt(t.json_msgs, 1000);
        cr_assert_eq(t.stored, 800);
        cr_assert_gt(t.conflicts, 0);
        tally_release(&t);
        cr_assert_eq(tk_broker_stop(&b), 0);
}

Test(loadgen, cbor_batches_with_the_over_limit_case_match_the_truth)
{
        const char *extra[] = {
            "--events",           "2000",   "--customers", "150",
            "--encoding",         "cbor",   "--batch",     "200",
            "--duplicates",       "0.05",   "--bad",       "0.2",
            "--batch-limit-case", "--seed", "3",           NULL};
        struct tk_broker b;
        struct tally t;

        cr_assert_eq(tk_broker_start(&b, 2, NULL), 0);
        check_topic(&b, "lg.cbor", extra, &t);
        cr_assert_eq(t.json_msgs, 0);
        cr_assert_gt(t.limit_errors, 0, "the 10,001-element array");
        cr_assert_gt(t.batch_msgs, 0);
        tally_release(&t);
        cr_assert_eq(tk_broker_stop(&b), 0);
}

Test(loadgen, same_seed_and_times_give_the_same_stream)
{
        const char *extra[] = {"--events",
                               "500",
                               "--customers",
                               "7",
                               "--batch",
                               "4",
                               "--duplicates",
                               "0.2",
                               "--bad",
                               "0.2",
                               "--seed",
                               "99",
                               "--time-from",
                               "2026-01-01T00:00:00Z",
                               "--time-to",
                               "2026-01-31T23:59:59.999Z",
                               NULL};
        struct tk_broker b;
        struct tally t1, t2;

        cr_assert_eq(tk_broker_start(&b, 1, NULL), 0);
        check_topic(&b, "lg.seed.a", extra, &t1);
        check_topic(&b, "lg.seed.b", extra, &t2);
        cr_assert_eq(t1.produced, t2.produced);
        for (int p = 0; p < MAX_PARTITIONS; p++)
                cr_assert_eq(t1.digest[p], t2.digest[p], "partition %d", p);
        tally_release(&t1);
        tally_release(&t2);
        cr_assert_eq(tk_broker_stop(&b), 0);
}

/* The production profile keeps every option and an exact truth: skewed
   customers, recent duplicates and conflicts, every type, both encodings. */
Test(loadgen, production_profile_matches_the_truth_exactly)
{
        const char *extra[] = {"--profile",
                               "production",
                               "--events",
                               "4000",
                               "--customers",
                               "300",
                               "--types",
                               "outcome,tokens,iterations,matrix_ops,seat",
                               "--encoding",
                               "mixed",
                               "--batch",
                               "40",
                               "--duplicates",
                               "0.3",
                               "--bad",
                               "0.1",
                               "--batch-limit-case",
                               "--seed",
                               "17",
                               NULL};
        struct tk_broker b;
        struct tally t;

        cr_assert_eq(tk_broker_start(&b, 2, NULL), 0);
        check_topic(&b, "lg.production", extra, &t);
        cr_assert_eq(t.stored, 4000);
        cr_assert_gt(t.duplicates, 0);
        cr_assert_gt(t.conflicts, 0);
        cr_assert_gt(t.limit_errors, 0);
        cr_assert_gt(t.json_msgs, 0);
        cr_assert_gt(t.batch_msgs, 0);
        tally_release(&t);
        cr_assert_eq(tk_broker_stop(&b), 0);
}

Test(loadgen, production_profile_same_seed_gives_the_same_bytes)
{
        const char *extra[] = {"--profile",
                               "production",
                               "--events",
                               "3000",
                               "--customers",
                               "500",
                               "--batch",
                               "10",
                               "--duplicates",
                               "0.2",
                               "--bad",
                               "0.05",
                               "--seed",
                               "8",
                               "--time-from",
                               "2026-01-01T00:00:00Z",
                               "--time-to",
                               "2026-01-31T23:59:59.999Z",
                               NULL};
        struct tk_broker b;
        struct tally t1, t2;
        bool differs = false;

        cr_assert_eq(tk_broker_start(&b, 1, NULL), 0);
        check_topic(&b, "lg.prodseed.a", extra, &t1);
        check_topic(&b, "lg.prodseed.b", extra, &t2);
        cr_assert_eq(t1.produced, t2.produced);
        for (int p = 0; p < MAX_PARTITIONS; p++) {
                cr_assert_eq(t1.digest[p], t2.digest[p], "partition %d", p);
                differs |= t1.digest[p] != 0;
        }
        cr_assert(differs, "something was produced");
        tally_release(&t1);
        tally_release(&t2);
        cr_assert_eq(tk_broker_stop(&b), 0);
}

Test(loadgen, failed_delivery_exits_1_and_writes_no_truth)
{
        char dir[] = "/tmp/tk-loadgen-XXXXXX", truth[64];
        struct tk_broker b;
        struct tk_proc_result r;
        struct stat st;

        cr_assert_eq(tk_broker_start(&b, 1, NULL), 0);
        cr_assert(mkdtemp(dir));
        snprintf(truth, sizeof truth, "%s/t.tsv", dir);
        cr_assert_eq(tk_broker_control(&b, "down -1"), 0);
        const char *argv[] = {tk_tally_bin(),
                              "loadgen",
                              "--quiet",
                              "--events",
                              "50",
                              "--truth",
                              truth,
                              "-X",
                              "message.timeout.ms=1500",
                              NULL};
        cr_assert_eq(tk_run(argv, 60000, &r), 0);
        cr_assert_eq(r.exit_code, 1, "%s", r.err);
        cr_assert(strstr(r.err, "failed delivery"), "%s", r.err);
        cr_assert_neq(stat(truth, &st), 0, "truth written anyway");
        tk_proc_result_release(&r);
        rmdir(dir);
        cr_assert_eq(tk_broker_control(&b, "up -1"), 0);
        cr_assert_eq(tk_broker_stop(&b), 0);
}

/* One invocation that must be refused with exit 2, naming 'why'. */
static void refused(const char *const *args, const char *why)
{
        const char *argv[24] = {tk_tally_bin(), "loadgen"};
        struct tk_proc_result r;
        int n = 2;

        for (; *args && n < 23; args++)
                argv[n++] = *args;
        argv[n] = NULL;
        cr_assert_eq(tk_run(argv, 20000, &r), 0);
        cr_assert_eq(r.exit_code, 2, "%s: exit %d: %s", why, r.exit_code,
                     r.err);
        cr_assert(strstr(r.err, why), "wanted '%s' in: %s", why, r.err);
        tk_proc_result_release(&r);
}

Test(loadgen, usage_errors_exit_2)
{
#define B "--brokers", "127.0.0.1:1"
        unsetenv("TALLY_KAFKA_BROKERS");
        refused((const char *[]){"--events", "5", NULL}, "no brokers");
        refused((const char *[]){B, "--encoding", "xml", NULL},
                "--encoding is json, cbor or mixed");
        refused((const char *[]){B, "--duplicates", "1.5", NULL},
                "--duplicates: '1.5' is not a ratio");
        refused((const char *[]){B, "--bad", "0.1234567", NULL},
                "--bad: '0.1234567'");
        refused(
            (const char *[]){B, "--duplicates", "0.6", "--bad", "0.4", NULL},
            "add up to less than 1");
        refused((const char *[]){B, "--types", "tokens,foo", NULL},
                "--types: 'foo'");
        refused((const char *[]){B, "--types", "seat,seat", NULL},
                "--types: 'seat'");
        refused((const char *[]){B, "--time-to", "2999-01-01T00:00:00Z", NULL},
                "in the future");
        refused(
            (const char *[]){B, "--time-from", "1999-12-31T00:00:00Z", NULL},
            "after 2000-01-01");
        refused((const char *[]){B, "--time-from", "2025-02-01T00:00:00Z",
                                 "--time-to", "2025-01-01T00:00:00Z", NULL},
                "--time-from is after --time-to");
        refused((const char *[]){B, "--time-to", "yesterday", NULL},
                "--time-to:");
        refused((const char *[]){B, "--events", "0", NULL}, "--events: '0'");
        refused((const char *[]){B, "--batch", "10001", NULL},
                "--batch: '10001'");
        refused((const char *[]){B, "--customers", NULL},
                "--customers needs a value");
        refused((const char *[]){B, "-X", "linger.ms", NULL},
                "-X needs key=value");
        refused((const char *[]){B, "-X", "no.such.property=1", NULL},
                "no.such.property");
        refused((const char *[]){B, "--bogus", NULL},
                "unknown option '--bogus'");
        refused((const char *[]){B, "stray", NULL},
                "unexpected argument 'stray'");
#undef B
}

/* A config file (the services' format) at DIR/NAME holding 'text'. */
static void write_config(const char *dir, const char *name, const char *text,
                         char *path, size_t size)
{
        FILE *f;

        snprintf(path, size, "%s/%s", dir, name);
        f = fopen(path, "w");
        cr_assert(f, "%s", path);
        fputs(text, f);
        cr_assert_eq(fclose(f), 0);
}

Test(loadgen, config_file_names_brokers_and_topic_and_flags_override_it)
{
        struct tk_broker b;
        struct tally t;
        struct tk_proc_result r;
        char dir[] = "/tmp/tk-loadgen-cfg-XXXXXX", cfg[256], text[1024];
        char truth_path[300], *truth, *expected;

        cr_assert_eq(tk_broker_start(&b, 1, NULL), 0);
        cr_assert(mkdtemp(dir));
        snprintf(text, sizeof text,
                 "kafka:\n  brokers: %s\n  topics: [from_config]\n"
                 "  properties:\n    client.id: loadgen-config-test\n",
                 b.bootstrap);
        write_config(dir, "tally.yaml", text, cfg, sizeof cfg);
        /* The environment would override the file, as for the meter. */
        unsetenv("TALLY_KAFKA_BROKERS");
        snprintf(truth_path, sizeof truth_path, "%s/truth.tsv", dir);
        const char *argv[] = {
            tk_tally_bin(), "loadgen", "--quiet",  "--config", cfg, "--events",
            "40",           "--truth", truth_path, "--seed",   "7", NULL};
        cr_assert_eq(tk_run(argv, 120000, &r), 0);
        cr_assert_eq(r.exit_code, 0, "loadgen: %s", r.err);
        tk_proc_result_release(&r);
        setenv("TALLY_KAFKA_BROKERS", b.bootstrap, 1);
        truth = read_file(truth_path);
        tally_init(&t);
        consume_topic("from_config", &t);
        expected = expected_truth(&t);
        cr_assert_str_eq(truth, expected, "the file's topic got:\n%s",
                         expected);
        cr_assert(t.produced > 0);
        free(expected);
        free(truth);
        tally_release(&t);

        /* --topic beats the file's topic. */
        check_topic(&b, "from_flag",
                    (const char *[]){"--config", cfg, "--events", "30", NULL},
                    &t);
        tally_release(&t);
        unlink(truth_path);
        unlink(cfg);
        rmdir(dir);
        cr_assert_eq(tk_broker_stop(&b), 0);
}

Test(loadgen, bad_config_file_exits_2_with_its_file_and_line)
{
        char dir[] = "/tmp/tk-loadgen-bad-XXXXXX", cfg[256], want[300];

        cr_assert(mkdtemp(dir));
        write_config(dir, "bad.yaml",
                     "kafka:\n  brokers: 127.0.0.1:1\n  nope: 1\n", cfg,
                     sizeof cfg);
        snprintf(want, sizeof want, "%s:3:3: kafka.nope: unknown key", cfg);
        refused((const char *[]){"--config", cfg, NULL}, want);
        /* The same loader, the same message, for the other Kafka clients. */
        const char *up[] = {tk_tally_bin(), "upload", "--spool", "/nonexistent",
                            "--config",     cfg,      NULL};
        const char *inf[] = {tk_tally_bin(), "infer", "--config", cfg, NULL};
        const char *const *cmds[] = {up, inf};
        for (int i = 0; i < 2; i++) {
                struct tk_proc_result r;
                cr_assert_eq(tk_run(cmds[i], 20000, &r), 0);
                cr_assert_eq(r.exit_code, 2, "%s: %s", cmds[i][1], r.err);
                cr_assert(strstr(r.err, want), "%s: %s", cmds[i][1], r.err);
                tk_proc_result_release(&r);
        }
        unlink(cfg);
        rmdir(dir);
}

/* --types outcome: task.outcome events with their units in the truth,
   conflicts on units, bad counts on units; every type at once. */
Test(loadgen, outcome_events_match_the_truth_with_their_units)
{
        const char *extra[] = {
            "--events", "1500",    "--customers",
            "7",        "--types", "outcome,tokens,iterations,matrix_ops,seat",
            "--batch",  "20",      "--duplicates",
            "0.2",      "--bad",   "0.2",
            "--seed",   "23",      NULL};
        struct tk_broker b;
        struct tally t;
        tl_u128 units = 0;
        size_t outcome_rows = 0;

        cr_assert_eq(tk_broker_start(&b, 1, NULL), 0);
        check_topic(&b, "lg.outcome", extra, &t);
        cr_assert_eq(t.stored, 1500);
        cr_assert_eq(t.row_count, 7 * 5, "every customer has every type");
        for (size_t i = 0; i < t.row_count; i++)
                if (strcmp(t.rows[i].type, "task.outcome") == 0) {
                        outcome_rows++;
                        units += t.rows[i].cols[6];
                        cr_assert_gt(t.rows[i].cols[6], t.rows[i].events,
                                     "some events carry more than 1 unit");
                }
        cr_assert_eq(outcome_rows, 7);
        cr_assert_gt(units, 0);
        tally_release(&t);
        cr_assert_eq(tk_broker_stop(&b), 0);
}
