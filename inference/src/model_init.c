/* Writing checkpoints: deterministic random llama2.c models for tests,
** benchmarks and the demo, and int8 quantization into runq.c's format.
** No weights can be downloaded here, so text from these models is noise;
** what they are for is exact metering at realistic shapes and speeds.
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "inference/model.h"
#include "inference/tokenizer.h"
#include "kernels.h"

/* splitmix64: a fixed, portable stream, so a seed names one model */
static uint64_t next_u64(uint64_t *s)
{
        uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));

        z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
        return z ^ (z >> 31);
}

struct writer {
        FILE *f;
        const char *path;
        bool ok;
};

static void put(struct writer *w, const void *p, size_t n)
{
        if (w->ok && n && fwrite(p, 1, n, w->f) != n)
                w->ok = false;
}

/* n uniform values in [-scale, scale], or 'scale' itself when constant. */
static void put_random(struct writer *w, uint64_t *rng, size_t n, float scale,
                       bool constant)
{
        float buf[4096];

        while (n && w->ok) {
                size_t k = n < 4096 ? n : 4096;

                for (size_t i = 0; i < k; i++)
                        buf[i] = constant
                                     ? scale
                                     : scale * ((float)(next_u64(rng) >> 40) /
                                                    8388608.0f -
                                                1.0f);
                put(w, buf, k * sizeof *buf);
                n -= k;
        }
}

static tl_status finish(struct writer *w, const char *tmp, const char *path,
                        struct tl_error *err)
{
        if (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0)
                w->ok = false;
        if (fclose(w->f) != 0)
                w->ok = false;
        if (!w->ok || rename(tmp, path) != 0) {
                int e = errno;

                unlink(tmp);
                return tl_fail(err, TL_EIO, "%s: write failed: %s", path,
                               strerror(e));
        }
        return TL_OK;
}

static tl_status open_tmp(struct writer *w, char *tmp, size_t cap,
                          const char *path, struct tl_error *err)
{
        snprintf(tmp, cap, "%s.tmp", path);
        w->f = fopen(tmp, "wb");
        w->path = path;
        w->ok = w->f != NULL;
        if (!w->f)
                return tl_fail(err, TL_EIO, "%s: %s", tmp, strerror(errno));
        return TL_OK;
}

static tl_status write_fp32(const char *path, const struct inf_shape *s,
                            const struct inf_init_opts *o, struct tl_error *err)
{
        size_t d = (size_t)s->dim, h = (size_t)s->hidden_dim;
        size_t kv = (size_t)inf_kv_dim(s), L = (size_t)s->n_layers;
        size_t v = (size_t)s->vocab_size;
        int32_t hdr[7] = {s->dim,        s->hidden_dim, s->n_layers, s->n_heads,
                          s->n_kv_heads, s->vocab_size, s->seq_len};
        uint64_t rng = o->seed;
        float in_d = 1.0f / sqrtf((float)d), in_h = 1.0f / sqrtf((float)h);
        struct writer w;
        char tmp[4200];
        tl_status rc = open_tmp(&w, tmp, sizeof tmp, path, err);

        if (rc)
                return rc;
        if (o->separate_classifier)
                hdr[5] = -hdr[5]; /* run.c's mark of a separate classifier */
        put(&w, hdr, sizeof hdr);
        /* small embeddings (GPT-2 style, std ~0.03): a tied classifier then
           follows the layers instead of echoing the input token */
        put_random(&w, &rng, v * d, 0.05f, false);     /* embeddings */
        put_random(&w, &rng, L * d, 1.0f, true);       /* rms_att */
        put_random(&w, &rng, L * d * d, in_d, false);  /* wq */
        put_random(&w, &rng, L * kv * d, in_d, false); /* wk */
        put_random(&w, &rng, L * kv * d, in_d, false); /* wv */
        put_random(&w, &rng, L * d * d, in_d, false);  /* wo */
        put_random(&w, &rng, L * d, 1.0f, true);       /* rms_ffn */
        put_random(&w, &rng, L * h * d, in_d, false);  /* w1 */
        put_random(&w, &rng, L * d * h, in_h, false);  /* w2 */
        put_random(&w, &rng, L * h * d, in_d, false);  /* w3 */
        put_random(&w, &rng, d, 1.0f, true);           /* rms_final */
        /* run.c skips the old rotary tables; zeros keep the layout */
        put_random(&w, &rng, (size_t)s->seq_len * (size_t)inf_head_size(s),
                   0.0f, true);
        if (o->separate_classifier)
                put_random(&w, &rng, v * d, in_d, false);
        return finish(&w, tmp, path, err);
}

static void put_q(struct writer *w, const struct inf_mat *m, int group,
                  int8_t *q, float *s)
{
        size_t n = (size_t)m->rows * (size_t)m->cols;

        if (m->q) { /* already quantized with this group: copy */
                put(w, m->q, n);
                put(w, m->s, n / (size_t)group * sizeof(float));
                return;
        }
        /* runq.c's layout: all values of the tensor, then its scales */
        for (int r = 0; r < m->rows; r++)
                inf__quantize(m->f + (size_t)r * (size_t)m->cols, m->cols,
                              group, q + (size_t)r * (size_t)m->cols,
                              s + (size_t)r * (size_t)m->cols / (size_t)group);
        put(w, q, n);
        put(w, s, n / (size_t)group * sizeof(float));
}

tl_status inf_model_write_q8(const struct inf_model *m, int group,
                             const char *path, struct tl_error *err)
{
        const struct inf_shape *s = &m->shape;
        size_t d = (size_t)s->dim, h = (size_t)s->hidden_dim;
        size_t v = (size_t)s->vocab_size;
        /* the largest tensor: embeddings, wq/wo or the feed-forward */
        size_t big = v * d > d * h ? v * d : d * h;
        unsigned char hdr[INF_Q8_HEADER] = {0};
        uint32_t magic = INF_Q8_MAGIC;
        int32_t version = INF_Q8_VERSION, g = group,
                cfg[7] = {s->dim,        s->hidden_dim, s->n_layers, s->n_heads,
                          s->n_kv_heads, s->vocab_size, s->seq_len};
        int8_t *q;
        float *sc;
        struct writer w;

        big = big > d * d ? big : d * d;
        char tmp[4200];
        tl_status rc;

        if (m->format == INF_Q8 && group != m->group)
                return tl_fail(err, TL_EINVAL,
                               "%s: already int8 with group %d; cannot "
                               "requantize to %d",
                               m->path, m->group, group);
        if (group < 1 || s->dim % group || s->hidden_dim % group)
                return tl_fail(err, TL_EINVAL,
                               "group %d must divide dim %d and hidden_dim %d",
                               group, s->dim, s->hidden_dim);
        q = tl_malloc(big);
        sc = tl_malloc(big / (size_t)group * sizeof *sc);
        rc = q && sc ? open_tmp(&w, tmp, sizeof tmp, path, err)
                     : tl_fail(err, TL_ENOMEM, "%s: out of memory", path);
        if (rc) {
                tl_free(q);
                tl_free(sc);
                return rc;
        }
        memcpy(hdr, &magic, 4);
        memcpy(hdr + 4, &version, 4);
        memcpy(hdr + 8, cfg, sizeof cfg);
        hdr[36] = m->shared_classifier ? 1 : 0;
        memcpy(hdr + 37, &g, 4);
        put(&w, hdr, sizeof hdr);
        for (int l = 0; l < s->n_layers; l++)
                put(&w, m->layers[l].rms_att, d * sizeof(float));
        for (int l = 0; l < s->n_layers; l++)
                put(&w, m->layers[l].rms_ffn, d * sizeof(float));
        put(&w, m->rms_final, d * sizeof(float));
        put_q(&w, &m->embed, group, q, sc);
#define EACH(field)                                                            \
        for (int l = 0; l < s->n_layers; l++)                                  \
        put_q(&w, &m->layers[l].field, group, q, sc)
        EACH(wq);
        EACH(wk);
        EACH(wv);
        EACH(wo);
        EACH(w1);
        EACH(w2);
        EACH(w3);
#undef EACH
        if (!m->shared_classifier)
                put_q(&w, &m->cls, group, q, sc);
        tl_free(q);
        tl_free(sc);
        return finish(&w, tmp, path, err);
}

tl_status inf_init_model(const char *dir, const struct inf_init_opts *o,
                         struct tl_error *err)
{
        struct inf_shape s = o->shape;
        struct inf_model *m = NULL;
        char fp[4096], q8[4096], tok[4096];
        int group = o->group;
        tl_status rc;

        if (!s.hidden_dim) {
                /* llama2.c: 2/3 of 4 * dim, up to a multiple of 32 */
                s.hidden_dim = 2 * (4 * s.dim) / 3;
                s.hidden_dim = 32 * ((s.hidden_dim + 31) / 32);
        }
        rc = inf_shape_check(&s, "--init-model", err);
        if (rc)
                return rc;
        if (!group)
                for (group = 64;
                     group > 1 && (s.dim % group || s.hidden_dim % group);)
                        group /= 2;
        snprintf(fp, sizeof fp, "%s/model.bin", dir);
        snprintf(q8, sizeof q8, "%s/model-q8.bin", dir);
        snprintf(tok, sizeof tok, "%s/tokenizer.bin", dir);
        rc = inf_tokenizer_write_bytes(tok, s.vocab_size, err);
        if (!rc)
                rc = write_fp32(fp, &s, o, err);
        if (!rc)
                rc = inf_model_open(fp, &m, err);
        if (!rc)
                rc = inf_model_write_q8(m, group, q8, err);
        inf_model_free(&m);
        return rc;
}
