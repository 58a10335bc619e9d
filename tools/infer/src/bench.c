/* tally infer --bench: tokens/s of both decoders and both weight formats,
** one thread and all, medians of several runs; with --llama2c, llama2.c's
** run.c on the same checkpoint, its runs interleaved with ours so both
** sides see the same machine. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/time.h"
#include "infer/infer.h"

#define BENCH_DIR "var/bench-model"
#define MAX_RUNS 1000

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

static double median(double *v, long n)
{
        qsort(v, (size_t)n, sizeof *v, cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The stories15M-shaped random model, made once and reused. */
static int bench_model(const char **dir)
{
        struct inf_init_opts o = {
            .shape = {288, 0, 6, 6, 6, 32000, 256},
            .seed = 15,
        };
        struct tl_error e = {0};
        struct stat st;

        *dir = BENCH_DIR;
        if (stat(BENCH_DIR "/model-q8.bin", &st) == 0)
                return 0;
        if ((mkdir("var", 0777) != 0 && errno != EEXIST) ||
            (mkdir(BENCH_DIR, 0777) != 0 && errno != EEXIST)) {
                fprintf(stderr, "tally infer: %s: %s\n", BENCH_DIR,
                        strerror(errno));
                return INFER_EXIT_RUNTIME;
        }
        fprintf(stderr, "writing a stories15M-shaped random model to %s\n",
                BENCH_DIR);
        if (inf_init_model(BENCH_DIR, &o, &e)) {
                fprintf(stderr, "tally infer: %s\n", e.msg);
                return INFER_EXIT_RUNTIME;
        }
        return 0;
}

/* One timed request; returns tokens/s, or -1 after saying why. */
static double timed(struct inf_state *st, bool diffusion,
                    const struct infer_bench_args *a, int seq_len,
                    struct inf_usage *u)
{
        int prompt[1] = {INF_TOKEN_BOS}, *out, n = 0;
        int len = diffusion ? (int)a->diffusion_n : (int)a->tokens - 1;
        struct inf_gen_opts o = {
            .decoding = diffusion ? INF_DECODE_DIFFUSION : INF_DECODE_AR,
            .max_tokens = len < seq_len - 1 ? len : seq_len - 1,
            .k = (int)a->diffusion_k,
        };
        struct tl_error e = {0};
        int64_t t0;
        double secs;

        out = tl_malloc((size_t)o.max_tokens * sizeof *out);
        if (!out)
                return -1;
        inf_sampler_init(&o.sampler, 0.0f, 0.0f, 1); /* greedy, as run.c -t 0 */
        t0 = tl_mono_us();
        if (inf_generate(st, prompt, 1, &o, out, &n, NULL, u, &e)) {
                fprintf(stderr, "tally infer: %s\n", e.msg);
                tl_free(out);
                return -1;
        }
        secs = (double)(tl_mono_us() - t0) / 1e6;
        tl_free(out);
        return n / secs;
}

/* run.c's own figure ("achieved tok/s: X" on stderr), or -1. */
static double run_llama2c(const char *bin, const struct infer_paths *p,
                          long tokens)
{
        char cmd[12800], line[512];
        double v = -1;
        FILE *f;

        snprintf(cmd, sizeof cmd,
                 "'%s' '%s' -z '%s' -n %ld -t 0 -s 1 2>&1 >/dev/null", bin,
                 p->model, p->tokenizer, tokens);
        f = popen(cmd, "r");
        if (!f)
                return -1;
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "achieved tok/s: %lf", &v) == 1)
                        break;
        pclose(f);
        return v;
}

static int bench_format(const struct infer_bench_args *a, const char *model,
                        bool q8, int threads, double *ours_ar1, double *theirs)
{
        struct infer_paths paths;
        struct inf_model *m = NULL;
        struct tl_error e = {0};
        int rc = infer_resolve(model, NULL, q8, &paths);

        if (rc)
                return rc;
        if (inf_model_open(paths.model, &m, &e)) {
                fprintf(stderr, "tally infer: %s\n", e.msg);
                return INFER_EXIT_RUNTIME;
        }
        for (int t = 1; t <= threads; t = t == threads ? t + 1 : threads)
                for (int diffusion = 0; diffusion < 2; diffusion++) {
                        struct inf_state *st = NULL;
                        double v[MAX_RUNS], r[MAX_RUNS], med;
                        struct inf_usage u = {0};
                        bool compare =
                            a->llama2c && !q8 && t == 1 && !diffusion;

                        if (inf_state_new(m, t, &st, &e)) {
                                fprintf(stderr, "tally infer: %s\n", e.msg);
                                inf_model_free(&m);
                                return INFER_EXIT_RUNTIME;
                        }
                        /* a warm-up run, which also proves the shape works */
                        if (timed(st, diffusion, a, m->shape.seq_len, &u) < 0 ||
                            !u.output_tokens) {
                                inf_state_free(&st);
                                inf_model_free(&m);
                                return INFER_EXIT_RUNTIME;
                        }
                        for (long i = 0; i < a->runs; i++) {
                                if (compare &&
                                    (r[i] = run_llama2c(a->llama2c, &paths,
                                                        a->tokens)) < 0) {
                                        fprintf(stderr,
                                                "tally infer: %s printed no "
                                                "tokens/s\n",
                                                a->llama2c);
                                        compare = false;
                                }
                                v[i] = timed(st, diffusion, a, m->shape.seq_len,
                                             &u);
                                if (v[i] < 0) {
                                        inf_state_free(&st);
                                        inf_model_free(&m);
                                        return INFER_EXIT_RUNTIME;
                                }
                        }
                        med = median(v, a->runs);
                        printf("%-5s %-15s %7d %10.1f %7d %7d %14llu\n",
                               q8 ? "int8" : "fp32",
                               diffusion ? "diffusion" : "autoregressive", t,
                               med, u.output_tokens, u.passes,
                               (unsigned long long)(u.macs /
                                                    (uint64_t)u.output_tokens));
                        if (compare) {
                                *ours_ar1 = med;
                                *theirs = median(r, a->runs);
                        }
                        inf_state_free(&st);
                }
        inf_model_free(&m);
        return 0;
}

int infer_bench(const struct infer_bench_args *in)
{
        struct infer_bench_args a = *in;
        const char *model = a.model;
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        int threads =
            a.threads > 0 ? (int)a.threads : (int)(cpus > 0 ? cpus : 1);
        double ours = 0, theirs = 0;
        int rc = 0;

        if (!a.tokens)
                a.tokens = 256;
        if (!a.diffusion_n)
                a.diffusion_n = 128;
        if (!a.diffusion_k)
                a.diffusion_k = 4;
        if (a.runs > MAX_RUNS)
                a.runs = MAX_RUNS;
        if (!model && (rc = bench_model(&model)))
                return rc;
        printf("model %s; SIMD kernels: %s; runs per row: %ld (median)\n"
               "autoregressive: %ld positions from BOS (run.c's -n), greedy; "
               "diffusion: n %ld, k %ld per step\n\n",
               model, inf_kernels(), a.runs, a.tokens, a.diffusion_n,
               a.diffusion_k);
        printf("%-5s %-15s %7s %10s %7s %7s %14s\n", "wts", "decoder",
               "threads", "tokens/s", "tokens", "passes", "MACs/token");
        rc = bench_format(&a, model, false, threads, &ours, &theirs);
        if (!rc)
                rc = bench_format(&a, model, true, threads, &ours, &theirs);
        if (!rc && a.llama2c && theirs > 0)
                printf("\nllama2.c run.c (%s), fp32, 1 thread: %.1f tokens/s "
                       "(median); tally / run.c = %.2fx (target >= 1.5x)\n",
                       a.llama2c, theirs, ours / theirs);
        return rc;
}
