/* Offline rating throughput (docs/benchmarks.md: `tally rate` over 10,000,000
   events of 1,000 customers >= 3,000,000 events/s, decode included).
   usage: bench_rate TALLY_BIN [--events N] [--customers N] [--runs N]
                     [--dir DIR] [--threads N]
   Writes the events once as JSON Lines and as a CBOR sequence into DIR
   (kept for reruns), then times whole `tally rate` runs of each: process
   start, reading, decoding, validation, dedup, rating, invoice JSON. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/str.h"
#include "core/time.h"
#include "schemas/event.h"

static unsigned long long rng = 88172645463325252ULL;

static unsigned next(unsigned n)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (unsigned)(rng % n);
}

/* October 2026 traffic like the worked example's: mostly tokens. */
static void event(size_t i, unsigned customers, struct sch_event *ev, char *id,
                  char *sub, char *dev)
{
        static const char *const models[] = {"mercury-coder-small",
                                             "llada-8b-instruct", "coder-7b"};
        static const char *const decodings[] = {"autoregressive", "diffusion"};
        unsigned kind = next(100), c = next(customers);

        memset(ev, 0, sizeof *ev);
        snprintf(id, 48, "req-%010zx", i);
        snprintf(sub, 24, "cust_%05u", c);
        ev->id = (struct sch_str){id, (uint32_t)strlen(id)};
        ev->source = (struct sch_str){"cloud/eu-west-1/gw-3", 20};
        ev->subject = (struct sch_str){sub, (uint32_t)strlen(sub)};
        /* 2026-10-01T00:00:00Z plus up to 30 days. */
        ev->time_us = INT64_C(1790812800000000) +
                      (int64_t)next(30 * 86400) * 1000000 + next(1000) * 1000;
        ev->model.ptr = models[next(3)];
        ev->model.len = (uint32_t)strlen(ev->model.ptr);
        ev->deployment = next(4) ? SCH_DEPLOY_CLOUD : SCH_DEPLOY_DEVICE;
        ev->decoding.ptr = decodings[next(2)];
        ev->decoding.len = (uint32_t)strlen(ev->decoding.ptr);
        if (kind < 80) {
                ev->type = SCH_TYPE_TOKENS;
                ev->input_tokens = next(4000);
                ev->output_tokens = next(2000);
        } else if (kind < 90) {
                ev->type = SCH_TYPE_ITERATIONS;
                ev->iterations = 1 + next(64);
                ev->tokens = next(2000);
        } else if (kind < 99) {
                ev->type = SCH_TYPE_MATRIX_OPS;
                ev->decoding = (struct sch_str){NULL, 0};
                ev->mac = (uint64_t)next(1000000) * 1000000000ULL;
        } else {
                ev->type = SCH_TYPE_SEAT;
                ev->model = ev->decoding = (struct sch_str){NULL, 0};
                ev->deployment = SCH_DEPLOY_NONE;
                snprintf(dev, 24, "dev-%u-%u", c, next(4));
                ev->device_id = (struct sch_str){dev, (uint32_t)strlen(dev)};
                ev->action = SCH_SEAT_HEARTBEAT;
                ev->model_class = (struct sch_str){"small", 5};
        }
}

static int write_file(const char *path, const struct tl_buf *b)
{
        FILE *f = fopen(path, "wb");

        if (!f || fwrite(b->data, 1, b->len, f) != b->len || fclose(f)) {
                fprintf(stderr, "bench_rate: %s: %s\n", path, strerror(errno));
                return -1;
        }
        return 0;
}

static int generate(const char *dir, size_t n, unsigned customers)
{
        struct tl_buf json, cbor, cust;
        char path[512], id[48], sub[24], dev[24];
        int rc = 0;

        tl_buf_init(&json, 0);
        tl_buf_init(&cbor, 0);
        tl_buf_init(&cust, 0);
        for (size_t i = 0; i < n && !rc; i++) {
                struct sch_event ev;

                event(i, customers, &ev, id, sub, dev);
                rc = sch_encode_json(&ev, &json, NULL) ||
                     tl_buf_append(&json, "\n", 1, NULL) ||
                     sch_encode_cbor(&ev, &cbor, NULL);
        }
        tl_buf_puts(&cust, "customers:\n", NULL);
        for (unsigned c = 0; c < customers && !rc; c++)
                rc = tl_buf_printf(&cust, NULL,
                                   "  - { id: cust_%05u, plan: pro, start: "
                                   "2026-%02u-01, tax_rate: 0.%02u }\n",
                                   c, 1 + c % 12, c % 25);
        snprintf(path, sizeof path, "%s/events.jsonl", dir);
        rc = rc || write_file(path, &json);
        snprintf(path, sizeof path, "%s/events.cbor", dir);
        rc = rc || write_file(path, &cbor);
        snprintf(path, sizeof path, "%s/customers.yaml", dir);
        rc = rc || write_file(path, &cust);
        tl_buf_release(&json);
        tl_buf_release(&cbor);
        tl_buf_release(&cust);
        return rc;
}

static double now_s(void)
{
        return (double)tl_mono_us() / 1e6;
}

/* One whole `tally rate` run, stdout discarded; its wall time, or < 0. */
static double run(const char *bin, const char *dir, const char *rules,
                  const char *events, const char *threads)
{
        char cust[512], ev[512];
        double t0 = now_s();
        pid_t pid;
        int status;

        snprintf(cust, sizeof cust, "%s/customers.yaml", dir);
        snprintf(ev, sizeof ev, "%s/%s", dir, events);
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
                const char *argv[] = {
                    bin,           "rate",    "--rules",   rules,
                    "--customers", cust,      "--events",  ev,
                    "--period",    "2026-10", "--threads", threads,
                    NULL};

                if (!freopen("/dev/null", "w", stdout) ||
                    !freopen("/dev/null", "w", stderr))
                        _exit(127);
                execv(bin, (char *const *)argv);
                _exit(127);
        }
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
                fprintf(stderr, "bench_rate: tally rate on %s failed\n", ev);
                return -1;
        }
        return now_s() - t0;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
        const char *bin = argc > 1 ? argv[1] : NULL,
                   *dir = "/tmp/tally-bench-rate";
        const char *threads = "2";
        size_t n = 10000000;
        unsigned customers = 1000, runs = 5;
        char rules[512], stamp[512];
        struct stat st;
        FILE *f;

        for (int i = 2; i + 1 < argc; i += 2) {
                if (!strcmp(argv[i], "--events"))
                        n = strtoull(argv[i + 1], NULL, 10);
                else if (!strcmp(argv[i], "--customers"))
                        customers = (unsigned)atoi(argv[i + 1]);
                else if (!strcmp(argv[i], "--runs"))
                        runs = (unsigned)atoi(argv[i + 1]);
                else if (!strcmp(argv[i], "--dir"))
                        dir = argv[i + 1];
                else if (!strcmp(argv[i], "--threads"))
                        threads = argv[i + 1];
        }
        if (!bin || runs == 0 || runs > 50 || customers == 0) {
                fprintf(stderr, "usage: bench_rate TALLY_BIN [--events N] "
                                "[--customers N] [--runs N] [--dir DIR] "
                                "[--threads N]\n");
                return 2;
        }
        snprintf(rules, sizeof rules, "%s/tests/rating/worked/catalog.yaml",
                 TALLY_SOURCE_DIR);
        snprintf(stamp, sizeof stamp, "%s/stamp-%zu-%u", dir, n, customers);
        if (stat(stamp, &st) != 0) {
                double t0 = now_s();

                mkdir(dir, 0755);
                printf("generating %zu events for %u customers in %s ...\n", n,
                       customers, dir);
                fflush(stdout);
                if (generate(dir, n, customers))
                        return 1;
                if ((f = fopen(stamp, "w")))
                        fclose(f);
                printf("generated in %.1f s\n", now_s() - t0);
        }
        printf("tally rate: %zu events, %u customers, --threads %s, %u runs "
               "each (whole process, wall clock)\n",
               n, customers, threads, runs);
        for (int e = 0; e < 2; e++) {
                const char *file = e ? "events.cbor" : "events.jsonl";
                double t[50];

                for (unsigned r = 0; r < runs; r++)
                        if ((t[r] = run(bin, dir, rules, file, threads)) < 0)
                                return 1;
                qsort(t, runs, sizeof *t, cmp_double);
                printf("  %-13s median %.3f s = %.2fM events/s (best %.2fM, "
                       "worst %.2fM)\n",
                       file, t[runs / 2], (double)n / t[runs / 2] / 1e6,
                       (double)n / t[0] / 1e6, (double)n / t[runs - 1] / 1e6);
        }
        return 0;
}
