/* The engine's inner pieces: matrix multiply kernels, quantization and
   the state's layout. Private to inference/. */
#ifndef INF_KERNELS_H
#define INF_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

#include "inference/engine.h"
#include "inference/model.h"

/* An input to W x: fp32 rows, or their int8 quantization (Q8 models). */
struct inf_act {
        const float *f;  /* T rows of n */
        const int8_t *q; /* T rows of n */
        const float *s;  /* T rows of n / group */
};

/*
** y[t] = W x[t] for t < T; y rows have W.rows floats. Threads split the
** rows when the product is large enough to pay for them. Returns the
** multiply-accumulates done: W.rows * W.cols * T.
*/
uint64_t inf__matmul(float *y, const struct inf_act *x, const struct inf_mat *w,
                     int T, int group, int threads);

/* a . b over n floats, with the fastest kernel this CPU has. */
float inf__dot(const float *a, const float *b, int n);

/* runq.c's symmetric quantization: per group of 'group' values, scale =
   max |x| / 127, q = round(x / scale). n is a multiple of group. */
void inf__quantize(const float *x, int n, int group, int8_t *q, float *s);

/* Whether the AVX+FMA kernels run on this CPU (for the bench's report). */
bool inf__simd(void);

struct inf_state {
        const struct inf_model *m;
        int threads;
        int cap; /* rows of activations: the longest T, seq_len */
        float *x, *xb, *xb2, *q, *hb, *hb2;
        int8_t *aq; /* quantized activations, cap x max(dim, hidden) */
        float *as;
        float *kc, *vc; /* [layer][seq_len][kv_dim] */
        float *att;     /* per thread: seq_len scores */
        int att_slots;
        float *rope_cos, *rope_sin; /* [seq_len][head_size / 2] */
        float *rows;                /* final-normed rows for the classifier */
        float *logits;
        int logits_cap; /* rows the logits buffer holds */
        uint64_t macs;
};

#endif
