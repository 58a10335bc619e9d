/* Choosing tokens from logits: greedy, temperature, nucleus (top-p), as
   run.c does, with a seeded xorshift64* so a seed replays a run. */
#include "decode.h"

#include <math.h>
#include <stdlib.h>

void inf_sampler_init(struct inf_sampler *s, float temperature, float topp,
                      uint64_t seed)
{
        s->temperature = temperature;
        s->topp = topp;
        s->rng = seed ? seed : UINT64_C(0x9E3779B97F4A7C15);
}

static float random_f32(uint64_t *state)
{
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        return (float)((*state * UINT64_C(0x2545F4914F6CDD1D)) >> 40) /
               16777216.0f;
}

int inf__argmax(const float *x, int n, int skip)
{
        int best = skip == 0 && n > 1 ? 1 : 0;

        for (int i = 0; i < n; i++)
                if (i != skip && x[i] > x[best])
                        best = i;
        return best;
}

void inf__softmax(float *x, int n)
{
        float mx = x[0], sum = 0.0f;

        for (int i = 1; i < n; i++)
                mx = x[i] > mx ? x[i] : mx;
        for (int i = 0; i < n; i++) {
                x[i] = expf(x[i] - mx);
                sum += x[i];
        }
        for (int i = 0; i < n; i++)
                x[i] /= sum;
}

/*
** Nucleus sampling without sorting the whole vocabulary: only tokens at
** least (1 - topp) / (n - 1) likely can be in the nucleus (run.c's
** cutoff), and those few are sorted.
*/
static int cmp_desc(const void *a, const void *b)
{
        const struct inf__prob *x = a, *y = b;

        return (x->p < y->p) - (x->p > y->p);
}

int inf__sample(struct inf_sampler *s, float *logits, int n, int skip,
                struct inf__prob *scratch, float *prob)
{
        float r, cdf = 0.0f;
        int m = 0, tok;

        if (skip >= 0 && skip < n)
                logits[skip] = -INFINITY;
        if (s->temperature <= 0.0f) {
                tok = inf__argmax(logits, n, skip);
                if (prob) {
                        /* p(tok) = 1 / sum exp(l - l_tok): one pass, and
                           the logits stay as they are */
                        float mx = logits[tok], sum = 0.0f;

                        for (int i = 0; i < n; i++)
                                sum += expf(logits[i] - mx);
                        *prob = 1.0f / sum;
                }
                return tok;
        }
        for (int i = 0; i < n; i++)
                logits[i] /= s->temperature;
        inf__softmax(logits, n);
        r = random_f32(&s->rng);
        if (s->topp <= 0.0f || s->topp >= 1.0f) {
                for (int i = 0; i < n; i++) {
                        cdf += logits[i];
                        if (r < cdf) {
                                if (prob)
                                        *prob = logits[i];
                                return i;
                        }
                }
                tok = n - 1;
                if (prob)
                        *prob = logits[tok];
                return tok;
        }
        {
                float cutoff = (1.0f - s->topp) / (float)(n - 1), cum = 0.0f;
                int last;

                for (int i = 0; i < n; i++)
                        if (logits[i] >= cutoff)
                                scratch[m++] = (struct inf__prob){logits[i], i};
                if (!m) { /* NaN logits: nothing compares; take the top */
                        tok = inf__argmax(logits, n, skip);
                        if (prob)
                                *prob = logits[tok];
                        return tok;
                }
                qsort(scratch, (size_t)m, sizeof *scratch, cmp_desc);
                last = m - 1;
                for (int i = 0; i < m; i++) {
                        cum += scratch[i].p;
                        if (cum > s->topp) {
                                last = i;
                                break;
                        }
                }
                r *= cum;
                for (int i = 0; i <= last; i++) {
                        cdf += scratch[i].p;
                        if (r < cdf) {
                                if (prob)
                                        *prob = scratch[i].p;
                                return scratch[i].i;
                        }
                }
                if (prob)
                        *prob = scratch[last].p;
                return scratch[last].i;
        }
}
