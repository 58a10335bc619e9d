/* Decode + validate 1,000,000 typical events from memory, CBOR and JSON,
   (usage: bench_decode [N [--no-baseline]]; TALLY_BENCH_OUTCOMES=P makes
   P % of them task.outcome events, the rest of the mix unchanged),
   on one core (docs/benchmarks.md: >= 2,000,000 events/s each). Also times the
   tree-building parsers of jansson and libcbor on the same bytes, as the
   baseline that the streaming decoders are measured against. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cbor.h>
#include <jansson.h>

#include "core/time.h"
#include "schemas/decode.h"

#define RUNS 5

struct corpus {
        struct tl_buf bytes;
        size_t *off; /* event i is bytes[off[i], off[i+1]) */
        size_t n;
};

static unsigned long long rng = 88172645463325252ULL;
static unsigned outcome_pct; /* TALLY_BENCH_OUTCOMES */

static unsigned next(unsigned n)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (unsigned)(rng % n);
}

/* A mix like production traffic: mostly token events, some dimensions. */
static void typical_event(size_t i, struct sch_event *ev, char *id, char *sub)
{
        static const char *const models[] = {"mercury-coder-small",
                                             "llada-8b-instruct", "coder-7b"};
        static const char *const decodings[] = {"autoregressive", "diffusion"};
        unsigned kind = next(100);

        memset(ev, 0, sizeof *ev);
        snprintf(id, 48, "req-%08zx-%04u", i, next(10000));
        snprintf(sub, 24, "cust_%04u", next(1000));
        ev->id = (struct sch_str){id, (uint32_t)strlen(id)};
        ev->source = (struct sch_str){"cloud/eu-west-1/gw-3", 20};
        ev->subject = (struct sch_str){sub, (uint32_t)strlen(sub)};
        ev->time_us = INT64_C(1791970212123000) + (int64_t)i * 1000;
        ev->model.ptr = models[next(3)];
        ev->model.len = (uint32_t)strlen(ev->model.ptr);
        ev->deployment = next(4) ? SCH_DEPLOY_CLOUD : SCH_DEPLOY_DEVICE;
        ev->decoding.ptr = decodings[next(2)];
        ev->decoding.len = (uint32_t)strlen(ev->decoding.ptr);
        if (kind < 70) {
                ev->type = SCH_TYPE_TOKENS;
                ev->input_tokens = next(4000);
                ev->output_tokens = next(2000);
        } else if (kind < 80) {
                ev->type = SCH_TYPE_ITERATIONS;
                ev->iterations = 1 + next(64);
                ev->tokens = next(2000);
        } else if (kind < 90) {
                ev->type = SCH_TYPE_MATRIX_OPS;
                ev->decoding = (struct sch_str){NULL, 0};
                ev->mac = (uint64_t)next(1000000) * 1000000000ULL;
        } else {
                ev->type = SCH_TYPE_SEAT;
                ev->model = ev->decoding = (struct sch_str){NULL, 0};
                ev->deployment = SCH_DEPLOY_NONE;
                ev->device_id = (struct sch_str){id, 12};
                ev->action = SCH_SEAT_HEARTBEAT;
                ev->model_class = (struct sch_str){"small", 5};
        }
        /* Drawn only when asked for: the usual stream stays the same. */
        if (outcome_pct && next(100) < outcome_pct) {
                ev->type = SCH_TYPE_OUTCOME;
                ev->model = ev->decoding = (struct sch_str){NULL, 0};
                ev->device_id = ev->model_class = (struct sch_str){NULL, 0};
                ev->action = SCH_SEAT_NONE;
                ev->input_tokens = ev->output_tokens = 0;
                ev->iterations = ev->tokens = ev->mac = 0;
                ev->deployment = next(2) ? SCH_DEPLOY_CLOUD : SCH_DEPLOY_DEVICE;
                ev->task = (struct sch_str){"support.resolution", 18};
                ev->outcome = next(5) ? (struct sch_str){"success", 7}
                                      : (struct sch_str){"failure", 7};
                ev->units = next(4) ? 1 : 1 + next(5);
        }
        if (next(3) == 0) {
                ev->dim_count = 1;
                ev->dims[0].key = (struct sch_str){"region", 6};
                ev->dims[0].value = (struct sch_str){"eu-west-1", 9};
        }
}

static void build(struct corpus *c, size_t n, bool cbor)
{
        char id[48], sub[24];
        struct sch_event ev;

        tl_buf_init(&c->bytes, 0);
        c->off = malloc((n + 1) * sizeof *c->off);
        c->n = n;
        rng = 88172645463325252ULL; /* same events for both encodings */
        for (size_t i = 0; i < n; i++) {
                typical_event(i, &ev, id, sub);
                c->off[i] = c->bytes.len;
                if (cbor)
                        sch_encode_cbor(&ev, &c->bytes, NULL);
                else
                        sch_encode_json(&ev, &c->bytes, NULL);
        }
        c->off[n] = c->bytes.len;
}

static double now_s(void)
{
        return (double)tl_mono_us() / 1e6;
}

typedef size_t (*decode_fn)(const struct corpus *c);

static struct sch_decoder *dec;

static size_t run_ours_json(const struct corpus *c)
{
        struct sch_event ev;
        size_t ok = 0;

        for (size_t i = 0; i < c->n; i++)
                ok += sch_decode_json(dec, c->bytes.data + c->off[i],
                                      c->off[i + 1] - c->off[i], &ev,
                                      NULL) == TL_OK;
        return ok;
}

static size_t run_ours_cbor(const struct corpus *c)
{
        struct sch_cbor_reader r;
        struct sch_event ev;
        struct sch_str raw;
        size_t ok = 0;

        for (size_t i = 0; i < c->n; i++) {
                if (sch_cbor_reader_open(&r, c->bytes.data + c->off[i],
                                         c->off[i + 1] - c->off[i], false,
                                         NULL))
                        continue;
                ok += sch_cbor_reader_next(&r, dec, &ev, &raw, NULL) == TL_OK;
        }
        return ok;
}

static size_t run_jansson(const struct corpus *c)
{
        size_t ok = 0;

        for (size_t i = 0; i < c->n; i++) {
                json_t *v = json_loadb(c->bytes.data + c->off[i],
                                       c->off[i + 1] - c->off[i], 0, NULL);
                ok += v != NULL;
                json_decref(v);
        }
        return ok;
}

static size_t run_libcbor_tree(const struct corpus *c)
{
        size_t ok = 0;

        for (size_t i = 0; i < c->n; i++) {
                struct cbor_load_result res;
                cbor_item_t *v =
                    cbor_load((const unsigned char *)c->bytes.data + c->off[i],
                              c->off[i + 1] - c->off[i], &res);
                ok += v != NULL;
                if (v)
                        cbor_decref(&v);
        }
        return ok;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

/* Median events/s over RUNS runs; exits if any event fails to decode. */
static double measure(const char *name, decode_fn fn, const struct corpus *c)
{
        double rates[RUNS];

        for (int r = 0; r < RUNS; r++) {
                double t0 = now_s();
                size_t ok = fn(c);
                double dt = now_s() - t0;
                if (ok != c->n) {
                        fprintf(stderr, "%s: %zu of %zu events decoded\n", name,
                                ok, c->n);
                        exit(1);
                }
                rates[r] = (double)c->n / dt;
        }
        qsort(rates, RUNS, sizeof rates[0], cmp_double);
        printf("%-32s %12.0f events/s  %8.1f MB/s  (median of %d; min %.0f, "
               "max %.0f)\n",
               name, rates[RUNS / 2],
               rates[RUNS / 2] * (double)c->bytes.len / (double)c->n / 1e6,
               RUNS, rates[0], rates[RUNS - 1]);
        return rates[RUNS / 2];
}

int main(int argc, char **argv)
{
        size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
        struct sch_options opt = {INT64_C(1800000000000000), 0};
        struct corpus json, cbor;
        cpu_set_t one;
        double j, c;

        /* One core, as the target says; the same core every run. */
        if (getenv("TALLY_BENCH_OUTCOMES"))
                outcome_pct = (unsigned)atoi(getenv("TALLY_BENCH_OUTCOMES"));
        CPU_ZERO(&one);
        CPU_SET(0, &one);
        sched_setaffinity(0, sizeof one, &one);
        sch_decoder_new(&opt, &dec, NULL);
        build(&json, n, false);
        build(&cbor, n, true);
        printf("%zu typical events: JSON %.0f bytes/event, CBOR %.0f "
               "bytes/event\n",
               n, (double)json.bytes.len / (double)n,
               (double)cbor.bytes.len / (double)n);
        j = measure("JSON decode+validate (tally)", run_ours_json, &json);
        c = measure("CBOR decode+validate (tally)", run_ours_cbor, &cbor);
        if (!(argc > 2 && strcmp(argv[2], "--no-baseline") == 0)) {
                measure("JSON parse only (jansson tree)", run_jansson, &json);
                measure("CBOR parse only (libcbor tree)", run_libcbor_tree,
                        &cbor);
        }
        printf("target 2000000 events/s each: JSON %s, CBOR %s\n",
               j >= 2e6 ? "met" : "MISSED", c >= 2e6 ? "met" : "MISSED");
        sch_decoder_free(&dec);
        tl_buf_release(&json.bytes);
        tl_buf_release(&cbor.bytes);
        free(json.off);
        free(cbor.off);
        return j >= 2e6 && c >= 2e6 ? 0 : 3;
}
