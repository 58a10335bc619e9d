/* The reference engine: exact multiply-accumulate counts against the
   analytic formula, KV-cache decoding against full recomputation, the
   diffusion schedules, kernels, tokenizer, checkpoint errors, events. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../inference/src/kernels.h"
#include "inference/engine.h"
#include "inference/model.h"
#include "inference/request.h"
#include "inference/tokenizer.h"

static const struct inf_shape SHAPES[] = {
    /* dim hidden layers heads kv vocab seq */
    {64, 0, 2, 4, 2, 300, 64},
    {48, 0, 3, 3, 1, 259, 40},
    {96, 0, 1, 6, 6, 512, 100},
    {32, 96, 2, 2, 1, 270, 48},
};
#define NSHAPES (sizeof SHAPES / sizeof *SHAPES)

static char dirs[NSHAPES][64];

/* A random model of SHAPES[i] in a fresh directory (made once per test
   process; every test runs in its own). */
static const char *model_dir(size_t i)
{
        struct inf_init_opts o = {.shape = SHAPES[i], .seed = 7 + i};
        struct tl_error err;

        if (dirs[i][0])
                return dirs[i];
        snprintf(dirs[i], sizeof dirs[i], "/tmp/tally-inf-XXXXXX");
        cr_assert_not_null(mkdtemp(dirs[i]));
        o.separate_classifier = i % 2 == 1;
        cr_assert_eq(inf_init_model(dirs[i], &o, &err), TL_OK, "%s", err.msg);
        return dirs[i];
}

static struct inf_model *open_model(size_t i, bool q8)
{
        char path[128];
        struct inf_model *m;
        struct tl_error err;

        snprintf(path, sizeof path, "%s/%s", model_dir(i),
                 q8 ? "model-q8.bin" : "model.bin");
        cr_assert_eq(inf_model_open(path, &m, &err), TL_OK, "%s", err.msg);
        return m;
}

/* The formula, from the shape alone (docs/formats.md, "Metering"). */
static uint64_t lin(const struct inf_shape *s)
{
        uint64_t d = (uint64_t)s->dim, kv = (uint64_t)inf_kv_dim(s);
        uint64_t h =
            (uint64_t)(s->hidden_dim ? s->hidden_dim
                                     : 32 * ((8 * s->dim / 3 + 31) / 32));

        return 2 * d * d + 2 * d * kv + 3 * d * h;
}

static uint64_t macs_ar(const struct inf_shape *s, uint64_t P, uint64_t N)
{
        uint64_t d = (uint64_t)s->dim, L = (uint64_t)s->n_layers;
        uint64_t M = P + N - 1; /* positions that run: the last needs none */

        return L * (M * lin(s) + d * M * (M + 1)) +
               N * d * (uint64_t)s->vocab_size;
}

/* masked[i]: positions still masked in the block when step i started */
static uint64_t macs_diffusion(const struct inf_shape *s, uint64_t T,
                               const int *masked, int steps)
{
        uint64_t d = (uint64_t)s->dim, L = (uint64_t)s->n_layers, total = 0;

        for (int i = 0; i < steps; i++)
                total += L * (T * lin(s) + 2 * d * T * T) +
                         (uint64_t)masked[i] * d * (uint64_t)s->vocab_size;
        return total;
}

static struct inf_gen_opts ar_opts(int n)
{
        struct inf_gen_opts o = {.decoding = INF_DECODE_AR, .max_tokens = n};

        inf_sampler_init(&o.sampler, 0.8f, 0.9f, 42);
        return o;
}

Test(engine, ar_macs_equal_the_formula)
{
        static const int prompts[] = {1, 2, 9}, answers[] = {1, 2, 17};

        for (size_t i = 0; i < NSHAPES; i++)
                for (int q8 = 0; q8 < 2; q8++) {
                        struct inf_model *m = open_model(i, q8);
                        struct inf_state *st;
                        struct tl_error err;

                        cr_assert_eq(inf_state_new(m, 1, &st, &err), TL_OK);
                        for (int a = 0; a < 3; a++)
                                for (int b = 0; b < 3; b++) {
                                        int prompt[16] = {1}, out[32], n;
                                        struct inf_gen_opts o =
                                            ar_opts(answers[b]);
                                        struct inf_usage u;

                                        for (int k = 1; k < prompts[a]; k++)
                                                prompt[k] = 3 + 11 * k;
                                        cr_assert_eq(
                                            inf_generate(st, prompt, prompts[a],
                                                         &o, out, &n, NULL, &u,
                                                         &err),
                                            TL_OK, "%s", err.msg);
                                        cr_assert_eq(n, answers[b]);
                                        cr_assert_eq(u.passes, answers[b],
                                                     "one pass per token");
                                        cr_assert_eq(u.input_tokens,
                                                     prompts[a]);
                                        cr_assert_eq(
                                            u.macs,
                                            macs_ar(&m->shape,
                                                    (uint64_t)prompts[a],
                                                    (uint64_t)n),
                                            "shape %zu q8 %d P %d N %d", i, q8,
                                            prompts[a], n);
                                }
                        inf_state_free(&st);
                        inf_model_free(&m);
                }
}

Test(engine, diffusion_fixed_k_takes_ceil_n_over_k_steps_and_counts_exactly)
{
        static const int ns[] = {1, 5, 12, 16}, ks[] = {1, 3, 4, 16};

        for (size_t i = 0; i < NSHAPES; i++) {
                struct inf_model *m = open_model(i, i % 2);
                struct inf_state *st;
                struct tl_error err;

                cr_assert_eq(inf_state_new(m, 2, &st, &err), TL_OK);
                for (int a = 0; a < 4; a++)
                        for (int b = 0; b < 4; b++)
                                for (int blk = 0; blk <= 4; blk += 4) {
                                        int prompt[3] = {1, 40, 41}, out[16],
                                            per[16], masked[16], n, steps = 0;
                                        struct inf_gen_opts o = {
                                            .decoding = INF_DECODE_DIFFUSION,
                                            .max_tokens = ns[a],
                                            .k = ks[b],
                                            .block = blk};
                                        struct inf_usage u;

                                        inf_sampler_init(&o.sampler, 0.0f, 0.0f,
                                                         1);
                                        cr_assert_eq(
                                            inf_generate(st, prompt, 3, &o, out,
                                                         &n, per, &u, &err),
                                            TL_OK, "%s", err.msg);
                                        /* the expected schedule */
                                        for (int b0 = 0; b0 < ns[a];
                                             b0 += blk ? blk : ns[a]) {
                                                int left =
                                                    (blk && blk < ns[a])
                                                        ? (ns[a] - b0 < blk
                                                               ? ns[a] - b0
                                                               : blk)
                                                        : ns[a];

                                                for (; left > 0;
                                                     left -= ks[b]) {
                                                        masked[steps] = left;
                                                        cr_assert_eq(
                                                            per[steps],
                                                            left < ks[b]
                                                                ? left
                                                                : ks[b]);
                                                        steps++;
                                                }
                                        }
                                        if (!blk)
                                                cr_assert_eq(
                                                    steps, (ns[a] + ks[b] - 1) /
                                                               ks[b]);
                                        cr_assert_eq(u.iterations, steps);
                                        cr_assert_eq(u.passes, steps);
                                        cr_assert_eq(n, ns[a]);
                                        for (int k = 0; k < n; k++)
                                                cr_assert_neq(out[k],
                                                              INF_TOKEN_MASK);
                                        cr_assert_eq(
                                            u.macs,
                                            macs_diffusion(
                                                &m->shape,
                                                (uint64_t)(3 + ns[a]), masked,
                                                steps),
                                            "shape %zu n %d k %d block %d", i,
                                            ns[a], ks[b], blk);
                                }
                inf_state_free(&st);
                inf_model_free(&m);
        }
}

Test(engine, adaptive_diffusion_unmasks_everything)
{
        static const float thresholds[] = {1e-9f, 0.5f, 1.0f};

        for (int q8 = 0; q8 < 2; q8++) {
                struct inf_model *m = open_model(0, q8);
                struct inf_state *st;
                struct tl_error err;

                cr_assert_eq(inf_state_new(m, 0, &st, &err), TL_OK);
                for (int t = 0; t < 3; t++) {
                        int prompt[2] = {1, 77}, out[20], per[20], n, sum = 0;
                        struct inf_gen_opts o = {.decoding =
                                                     INF_DECODE_DIFFUSION,
                                                 .max_tokens = 20,
                                                 .threshold = thresholds[t]};
                        struct inf_usage u;

                        inf_sampler_init(&o.sampler, 0.0f, 0.0f, 1);
                        cr_assert_eq(inf_generate(st, prompt, 2, &o, out, &n,
                                                  per, &u, &err),
                                     TL_OK, "%s", err.msg);
                        for (int k = 0; k < n; k++)
                                cr_assert_neq(out[k], INF_TOKEN_MASK);
                        for (int s = 0; s < u.iterations; s++) {
                                cr_assert_geq(per[s], 1);
                                sum += per[s];
                        }
                        cr_assert_eq(sum, 20);
                        if (t == 0) /* everything is that confident */
                                cr_assert_eq(u.iterations, 1);
                        if (t == 2) /* nothing is: one per step */
                                cr_assert_eq(u.iterations, 20);
                }
                inf_state_free(&st);
                inf_model_free(&m);
        }
}

/* Logits of a causal pass over the whole sequence equal those of
   position-by-position decoding through the KV cache. */
Test(engine, kv_cache_logits_equal_full_recompute)
{
        for (size_t i = 0; i < NSHAPES; i++)
                for (int q8 = 0; q8 < 2; q8++) {
                        struct inf_model *m = open_model(i, q8);
                        struct inf_state *full, *inc;
                        struct tl_error err;
                        int L = 23, tok[23], rows[23], V = m->shape.vocab_size;
                        float *want;
                        double worst = 0.0;

                        cr_assert_eq(inf_state_new(m, 2, &full, &err), TL_OK);
                        cr_assert_eq(inf_state_new(m, 1, &inc, &err), TL_OK);
                        for (int t = 0; t < L; t++) {
                                tok[t] = t ? (t * 37) % V : 1;
                                rows[t] = t;
                        }
                        cr_assert_eq(
                            inf_forward(full, tok, 0, L, false, rows, L, &err),
                            TL_OK, "%s", err.msg);
                        want = inf_state_logits(full);
                        for (int t = 0; t < L; t++) {
                                int zero = 0;
                                const float *got;

                                cr_assert_eq(inf_forward(inc, tok + t, t, 1,
                                                         false, &zero, 1, &err),
                                             TL_OK, "%s", err.msg);
                                got = inf_state_logits(inc);
                                for (int v = 0; v < V; v++) {
                                        double w = want[(size_t)t * (size_t)V +
                                                        (size_t)v];
                                        double d =
                                            fabs(got[v] - w) / (1.0 + fabs(w));

                                        worst = d > worst ? d : worst;
                                }
                        }
                        cr_assert_lt(worst, 1e-4,
                                     "shape %zu q8 %d: worst relative "
                                     "difference %g",
                                     i, q8, worst);
                        cr_assert_eq(inf_state_macs(full), inf_state_macs(inc),
                                     "the same work either way");
                        inf_state_free(&full);
                        inf_state_free(&inc);
                        inf_model_free(&m);
                }
}

/* Bidirectional attention is not causal: a later token changes an
   earlier position's logits, which a causal pass never does. */
Test(engine, bidirectional_sees_the_future)
{
        struct inf_model *m = open_model(0, false);
        struct inf_state *st;
        struct tl_error err;
        int a[4] = {1, 50, 60, 70}, b[4] = {1, 50, 60, 71}, row = 1;
        float first[300];

        cr_assert_eq(inf_state_new(m, 1, &st, &err), TL_OK);
        for (int bidi = 0; bidi < 2; bidi++) {
                cr_assert_eq(inf_forward(st, a, 0, 4, bidi, &row, 1, &err),
                             TL_OK);
                memcpy(first, inf_state_logits(st), sizeof first);
                cr_assert_eq(inf_forward(st, b, 0, 4, bidi, &row, 1, &err),
                             TL_OK);
                if (bidi)
                        cr_assert_neq(
                            memcmp(first, inf_state_logits(st), sizeof first),
                            0);
                else
                        cr_assert_eq(
                            memcmp(first, inf_state_logits(st), sizeof first),
                            0);
        }
        inf_state_free(&st);
        inf_model_free(&m);
}
