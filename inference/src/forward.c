/* The transformer's forward pass over T positions: RMSNorm, rotary
   embeddings, grouped-query attention (causal or bidirectional), SwiGLU,
   and the classifier for the rows that need logits. The math is run.c's;
   what differs is that many positions run as one pass and that every
   matrix multiply adds its multiply-accumulates to the state. */
#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "core/alloc.h"

static void *alloc_floats(size_t n, bool *ok)
{
        void *p = tl_calloc(n ? n : 1, sizeof(float));

        if (!p)
                *ok = false;
        return p;
}

tl_status inf_state_new(const struct inf_model *m, int threads,
                        struct inf_state **out, struct tl_error *err)
{
        const struct inf_shape *s = &m->shape;
        struct inf_state *st = tl_calloc(1, sizeof *st);
        size_t cap = (size_t)s->seq_len, d = (size_t)s->dim;
        size_t h = (size_t)s->hidden_dim, kv = (size_t)inf_kv_dim(s);
        size_t wide = h > d ? h : d, half = (size_t)inf_head_size(s) / 2;
        bool ok = st != NULL;

        *out = NULL;
        if (!ok)
                return tl_fail(err, TL_ENOMEM, "%s: out of memory", m->path);
        (void)
            inf__simd(); /* decided here, never first inside a parallel loop */
        st->m = m;
        st->threads = threads > 0 ? threads : omp_get_max_threads();
        st->cap = s->seq_len;
        st->x = alloc_floats(cap * d, &ok);
        st->xb = alloc_floats(cap * d, &ok);
        st->xb2 = alloc_floats(cap * d, &ok);
        st->q = alloc_floats(cap * d, &ok);
        st->hb = alloc_floats(cap * h, &ok);
        st->hb2 = alloc_floats(cap * h, &ok);
        st->rows = alloc_floats(cap * d, &ok);
        st->kc = alloc_floats((size_t)s->n_layers * cap * kv, &ok);
        st->vc = alloc_floats((size_t)s->n_layers * cap * kv, &ok);
        st->att_slots = st->threads;
        st->att = alloc_floats((size_t)st->att_slots * cap, &ok);
        st->rope_cos = alloc_floats(cap * half, &ok);
        st->rope_sin = alloc_floats(cap * half, &ok);
        if (m->format == INF_Q8) {
                st->aq = tl_calloc(cap * wide, 1);
                st->as = alloc_floats(cap * wide / (size_t)m->group, &ok);
                ok = ok && st->aq;
        }
        if (!ok) {
                inf_state_free(&st);
                return tl_fail(err, TL_ENOMEM,
                               "%s: out of memory for the activations of "
                               "seq_len %d",
                               m->path, s->seq_len);
        }
        /* run.c's rotary frequencies, computed once instead of per token */
        for (size_t p = 0; p < cap; p++)
                for (size_t i = 0; i < half; i++) {
                        float freq =
                            1.0f /
                            powf(10000.0f, (float)(2 * i) / (float)(2 * half));
                        float val = (float)p * freq;

                        st->rope_cos[p * half + i] = cosf(val);
                        st->rope_sin[p * half + i] = sinf(val);
                }
        *out = st;
        return TL_OK;
}

void inf_state_free(struct inf_state **pp)
{
        struct inf_state *st = pp ? *pp : NULL;
        if (!st)
                return;
        *pp = NULL;
        tl_free(st->x);
        tl_free(st->xb);
        tl_free(st->xb2);
        tl_free(st->q);
        tl_free(st->hb);
        tl_free(st->hb2);
        tl_free(st->rows);
        tl_free(st->kc);
        tl_free(st->vc);
        tl_free(st->att);
        tl_free(st->rope_cos);
        tl_free(st->rope_sin);
        tl_free(st->aq);
        tl_free(st->as);
        tl_free(st->logits);
        tl_free(st);
}

uint64_t inf_state_macs(const struct inf_state *st)
{
        return st->macs;
}

void inf_state_reset_macs(struct inf_state *st)
{
        st->macs = 0;
}

float *inf_state_logits(struct inf_state *st)
{
        return st->logits;
}

static void rmsnorm(float *o, const float *x, const float *w, int n)
{
        float ss = 0.0f;

        for (int j = 0; j < n; j++)
                ss += x[j] * x[j];
        ss = 1.0f / sqrtf(ss / (float)n + 1e-5f);
        for (int j = 0; j < n; j++)
                o[j] = w[j] * (ss * x[j]);
}

/* W x for T rows of 'in' (n wide), quantizing them first for Q8. */
static void project(struct inf_state *st, float *y, const float *in, int n,
                    const struct inf_mat *w, int T, bool quantized)
{
        const struct inf_model *m = st->m;
        struct inf_act a = {.f = in};

        if (m->format == INF_Q8) {
                if (!quantized)
                        for (int t = 0; t < T; t++)
                                inf__quantize(in + (size_t)t * (size_t)n, n,
                                              m->group,
                                              st->aq + (size_t)t * (size_t)n,
                                              st->as + (size_t)t * (size_t)n /
                                                           (size_t)m->group);
                a.q = st->aq;
                a.s = st->as;
        }
        st->macs += inf__matmul(y, &a, w, T, m->group, st->threads);
}

static void rope(struct inf_state *st, float *v, int width, int pos)
{
        int hs = inf_head_size(&st->m->shape), half = hs / 2;
        const float *c = st->rope_cos + (size_t)pos * (size_t)half;
        const float *s = st->rope_sin + (size_t)pos * (size_t)half;

        for (int i = 0; i < width; i += 2) {
                int f = (i % hs) / 2;
                float v0 = v[i], v1 = v[i + 1];

                v[i] = v0 * c[f] - v1 * s[f];
                v[i + 1] = v0 * s[f] + v1 * c[f];
        }
}

/* One head of one query over keys 0..nk-1 of layer 'l'. */
static void attend(struct inf_state *st, int l, const float *q, int h, int nk,
                   float *att, float *out)
{
        const struct inf_shape *s = &st->m->shape;
        int hs = inf_head_size(s), kv = inf_kv_dim(s);
        int kvh = h / (s->n_heads / s->n_kv_heads);
        const float *kbase = st->kc +
                             (size_t)l * (size_t)s->seq_len * (size_t)kv +
                             (size_t)kvh * (size_t)hs;
        const float *vbase = st->vc +
                             (size_t)l * (size_t)s->seq_len * (size_t)kv +
                             (size_t)kvh * (size_t)hs;
        float scale = 1.0f / sqrtf((float)hs), mx = -INFINITY, sum = 0.0f;

        for (int t = 0; t < nk; t++) {
                att[t] =
                    inf__dot(q, kbase + (size_t)t * (size_t)kv, hs) * scale;
                mx = att[t] > mx ? att[t] : mx;
        }
        for (int t = 0; t < nk; t++) {
                att[t] = expf(att[t] - mx);
                sum += att[t];
        }
        memset(out, 0, (size_t)hs * sizeof *out);
        for (int t = 0; t < nk; t++) {
                const float *v = vbase + (size_t)t * (size_t)kv;
                float a = att[t] / sum;

                for (int i = 0; i < hs; i++)
                        out[i] += a * v[i];
        }
}

static void attention(struct inf_state *st, int l, int pos0, int T,
                      bool bidirectional)
{
        const struct inf_shape *s = &st->m->shape;
        int heads = s->n_heads, hs = inf_head_size(s), d = s->dim;
        int jobs = T * heads;
        uint64_t macs = 0;

        /* scores and weighted values: 2 * head_size per key and head */
        for (int t = 0; t < T; t++)
                macs += 2 * (uint64_t)d *
                        (uint64_t)(bidirectional ? pos0 + T : pos0 + t + 1);
        st->macs += macs;
#pragma omp parallel for schedule(static)                                      \
    num_threads(st->threads) if (st->threads > 1 && macs >= (1u << 16))
        for (int j = 0; j < jobs; j++) {
                int t = j / heads, h = j % heads;
                int nk = bidirectional ? pos0 + T : pos0 + t + 1;
                size_t off = (size_t)t * (size_t)d + (size_t)h * (size_t)hs;
                float *att =
                    st->att + (size_t)omp_get_thread_num() * (size_t)st->cap;

                attend(st, l, st->q + off, h, nk, att, st->xb + off);
        }
}

static void embed(struct inf_state *st, const int *tokens, int T)
{
        const struct inf_model *m = st->m;
        size_t d = (size_t)m->shape.dim;

        for (int t = 0; t < T; t++) {
                float *x = st->x + (size_t)t * d;
                size_t row = (size_t)tokens[t] * d;

                if (m->embed.f) {
                        memcpy(x, m->embed.f + row, d * sizeof *x);
                        continue;
                }
                for (size_t i = 0; i < d; i++)
                        x[i] = (float)m->embed.q[row + i] *
                               m->embed.s[(row + i) / (size_t)m->group];
        }
}

static void layer(struct inf_state *st, int l, int pos0, int T,
                  bool bidirectional)
{
        const struct inf_model *m = st->m;
        const struct inf_layer *w = &m->layers[l];
        int d = m->shape.dim, h = m->shape.hidden_dim;
        int kv = inf_kv_dim(&m->shape);
        size_t cache =
            ((size_t)l * (size_t)m->shape.seq_len + (size_t)pos0) * (size_t)kv;

        for (int t = 0; t < T; t++)
                rmsnorm(st->xb + (size_t)t * (size_t)d,
                        st->x + (size_t)t * (size_t)d, w->rms_att, d);
        /* keys and values go straight to their cache rows */
        project(st, st->q, st->xb, d, &w->wq, T, false);
        project(st, st->kc + cache, st->xb, d, &w->wk, T, true);
        project(st, st->vc + cache, st->xb, d, &w->wv, T, true);
        for (int t = 0; t < T; t++) {
                rope(st, st->q + (size_t)t * (size_t)d, d, pos0 + t);
                rope(st, st->kc + cache + (size_t)t * (size_t)kv, kv, pos0 + t);
        }
        attention(st, l, pos0, T, bidirectional);
        project(st, st->xb2, st->xb, d, &w->wo, T, false);
        for (size_t i = 0; i < (size_t)T * (size_t)d; i++)
                st->x[i] += st->xb2[i];

        for (int t = 0; t < T; t++)
                rmsnorm(st->xb + (size_t)t * (size_t)d,
                        st->x + (size_t)t * (size_t)d, w->rms_ffn, d);
        project(st, st->hb, st->xb, d, &w->w1, T, false);
        project(st, st->hb2, st->xb, d, &w->w3, T, true);
        for (size_t i = 0; i < (size_t)T * (size_t)h; i++) {
                float v = st->hb[i];

                st->hb[i] = v / (1.0f + expf(-v)) * st->hb2[i]; /* SwiGLU */
        }
        project(st, st->xb, st->hb, h, &w->w2, T, false);
        for (size_t i = 0; i < (size_t)T * (size_t)d; i++)
                st->x[i] += st->xb[i];
}

tl_status inf_forward(struct inf_state *st, const int *tokens, int pos0, int T,
                      bool bidirectional, const int *out_rows, int n_out,
                      struct tl_error *err)
{
        const struct inf_model *m = st->m;
        const struct inf_shape *s = &m->shape;
        size_t d = (size_t)s->dim, v = (size_t)s->vocab_size;

        if (T < 1 || pos0 < 0 || T > s->seq_len - pos0 ||
            (bidirectional && pos0))
                return tl_fail(err, TL_ERANGE,
                               "forward: %d positions from %d do not fit "
                               "seq_len %d%s",
                               T, pos0, s->seq_len,
                               bidirectional && pos0 ? " (bidirectional "
                                                       "passes start at 0)"
                                                     : "");
        if (n_out < 0 || n_out > T)
                return tl_fail(err, TL_ERANGE,
                               "forward: %d output rows of %d positions", n_out,
                               T);
        for (int i = 0; i < n_out; i++)
                if (out_rows[i] < 0 || out_rows[i] >= T)
                        return tl_fail(err, TL_ERANGE,
                                       "forward: output row %d outside "
                                       "0..%d",
                                       out_rows[i], T - 1);
        for (int t = 0; t < T; t++)
                if (tokens[t] < 0 || tokens[t] >= s->vocab_size)
                        return tl_fail(err, TL_ERANGE,
                                       "forward: token %d at position %d "
                                       "outside vocab_size %d",
                                       tokens[t], pos0 + t, s->vocab_size);
        if (n_out > st->logits_cap) {
                /* grows to the largest request once, then never again */
                float *p =
                    tl_realloc(st->logits, (size_t)n_out * v * sizeof *p);

                if (!p)
                        return tl_fail(err, TL_ENOMEM,
                                       "forward: out of memory for %d rows "
                                       "of logits",
                                       n_out);
                st->logits = p;
                st->logits_cap = n_out;
        }
        embed(st, tokens, T);
        for (int l = 0; l < s->n_layers; l++)
                layer(st, l, pos0, T, bidirectional);
        for (int i = 0; i < n_out; i++) {
                rmsnorm(st->rows + (size_t)i * d,
                        st->x + (size_t)out_rows[i] * d, m->rms_final, s->dim);
        }
        if (n_out)
                project(st, st->logits, st->rows, s->dim, &m->cls, n_out,
                        false);
        return TL_OK;
}
