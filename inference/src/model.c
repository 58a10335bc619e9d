/* Checkpoint loading: llama2.c's fp32 .bin and runq.c's int8 version 2,
   memory-mapped and checked against the size their header implies. */
#include "inference/model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

tl_status inf_shape_check(const struct inf_shape *s, const char *what,
                          struct tl_error *err)
{
        static const struct {
                const char *name;
                size_t off;
                int max;
        } f[] = {
            {"dim", offsetof(struct inf_shape, dim), INF_MAX_DIM},
            {"hidden_dim", offsetof(struct inf_shape, hidden_dim),
             INF_MAX_HIDDEN},
            {"n_layers", offsetof(struct inf_shape, n_layers), INF_MAX_LAYERS},
            {"n_heads", offsetof(struct inf_shape, n_heads), INF_MAX_DIM},
            {"n_kv_heads", offsetof(struct inf_shape, n_kv_heads), INF_MAX_DIM},
            {"vocab_size", offsetof(struct inf_shape, vocab_size),
             INF_MAX_VOCAB},
            {"seq_len", offsetof(struct inf_shape, seq_len), INF_MAX_SEQ},
        };
        for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
                int v;

                memcpy(&v, (const char *)s + f[i].off, sizeof v);
                if (v < 1 || v > f[i].max)
                        return tl_fail(err, TL_EINVAL,
                                       "%s: %s %d: must lie in 1..%d", what,
                                       f[i].name, v, f[i].max);
        }
        if (s->vocab_size < 3)
                return tl_fail(err, TL_EINVAL,
                               "%s: vocab_size %d: ids 0, 1 and 2 are "
                               "<unk>, BOS and EOS, so at least 3",
                               what, s->vocab_size);
        if (s->dim % s->n_heads)
                return tl_fail(err, TL_EINVAL,
                               "%s: dim %d is not a multiple of n_heads %d",
                               what, s->dim, s->n_heads);
        if (s->n_heads % s->n_kv_heads)
                return tl_fail(err, TL_EINVAL,
                               "%s: n_heads %d is not a multiple of "
                               "n_kv_heads %d",
                               what, s->n_heads, s->n_kv_heads);
        if (inf_head_size(s) % 2)
                return tl_fail(err, TL_EINVAL,
                               "%s: head size %d (dim / n_heads) must be even "
                               "for rotary embeddings",
                               what, inf_head_size(s));
        return TL_OK;
}

/* Matrix element counts of one layer, in file order. */
struct sizes {
        size_t d, h, kv, l, v, hs;
};

static struct sizes sizes_of(const struct inf_shape *s)
{
        return (struct sizes){(size_t)s->dim,        (size_t)s->hidden_dim,
                              (size_t)inf_kv_dim(s), (size_t)s->n_layers,
                              (size_t)s->vocab_size, (size_t)inf_head_size(s)};
}

static struct inf_mat fmat(const float **p, int rows, int cols)
{
        struct inf_mat m = {.f = *p, .rows = rows, .cols = cols};

        *p += (size_t)rows * (size_t)cols;
        return m;
}

static tl_status map_fp32(struct inf_model *m, const char *path, bool shared,
                          struct tl_error *err)
{
        const struct inf_shape *s = &m->shape;
        struct sizes z = sizes_of(s);
        size_t need = 7 * sizeof(int32_t) +
                      sizeof(float) * (z.v * z.d +
                                       z.l * (2 * z.d + 2 * z.d * z.d +
                                              2 * z.d * z.kv + 3 * z.d * z.h) +
                                       z.d + (size_t)s->seq_len * z.hs +
                                       (shared ? 0 : z.v * z.d));
        const float *p = (const float *)((const char *)m->map + 28);
        int d = s->dim, h = s->hidden_dim, kv = inf_kv_dim(s);

        if (m->map_len != need)
                return tl_fail(err, TL_EINVAL,
                               "%s: %zu bytes, but its header (dim %d, "
                               "hidden_dim %d, n_layers %d, vocab_size %d%s, "
                               "seq_len %d) needs %zu",
                               path, m->map_len, d, h, s->n_layers,
                               s->vocab_size, shared ? "" : " unshared",
                               s->seq_len, need);
        m->embed = fmat(&p, s->vocab_size, d);
        /* run.c's order: each kind of weight for all layers, then the next */
        for (int l = 0; l < s->n_layers; l++, p += d)
                m->layers[l].rms_att = p;
        for (int l = 0; l < s->n_layers; l++)
                m->layers[l].wq = fmat(&p, d, d);
        for (int l = 0; l < s->n_layers; l++)
                m->layers[l].wk = fmat(&p, kv, d);
        for (int l = 0; l < s->n_layers; l++)
                m->layers[l].wv = fmat(&p, kv, d);
        for (int l = 0; l < s->n_layers; l++)
                m->layers[l].wo = fmat(&p, d, d);
        for (int l = 0; l < s->n_layers; l++, p += d)
                m->layers[l].rms_ffn = p;
        for (int l = 0; l < s->n_layers; l++)
                m->layers[l].w1 = fmat(&p, h, d);
        for (int l = 0; l < s->n_layers; l++)
                m->layers[l].w2 = fmat(&p, d, h);
        for (int l = 0; l < s->n_layers; l++)
                m->layers[l].w3 = fmat(&p, h, d);
        m->rms_final = p;
        p += d;
        p += (size_t)s->seq_len * z.hs; /* freq_cis_real, freq_cis_imag */
        m->cls = shared ? m->embed : fmat(&p, s->vocab_size, d);
        return TL_OK;
}

static struct inf_mat qmat(const char **p, int rows, int cols, int group)
{
        size_t n = (size_t)rows * (size_t)cols;
        struct inf_mat m = {.rows = rows, .cols = cols};

        m.q = (const int8_t *)*p;
        *p += n;
        m.s = (const float *)(const void *)*p;
        *p += n / (size_t)group * sizeof(float);
        return m;
}

static size_t qbytes(size_t n, size_t group)
{
        return n + n / group * sizeof(float);
}

static tl_status map_q8(struct inf_model *m, const char *path, bool shared,
                        struct tl_error *err)
{
        const struct inf_shape *s = &m->shape;
        struct sizes z = sizes_of(s);
        size_t g = (size_t)m->group;
        int d = s->dim, h = s->hidden_dim, kv = inf_kv_dim(s);
        size_t need;
        const char *p;

        if (m->group < 1 || d % m->group || h % m->group)
                return tl_fail(err, TL_EINVAL,
                               "%s: group_size %d must divide dim %d and "
                               "hidden_dim %d",
                               path, m->group, d, h);
        need = INF_Q8_HEADER + sizeof(float) * (2 * z.l * z.d + z.d) +
               qbytes(z.v * z.d, g) +
               z.l * (2 * qbytes(z.d * z.d, g) + 2 * qbytes(z.d * z.kv, g) +
                      3 * qbytes(z.d * z.h, g)) +
               (shared ? 0 : qbytes(z.v * z.d, g));
        if (m->map_len != need)
                return tl_fail(err, TL_EINVAL,
                               "%s: %zu bytes, but its header (dim %d, "
                               "hidden_dim %d, n_layers %d, vocab_size %d, "
                               "group_size %d%s) needs %zu",
                               path, m->map_len, d, h, s->n_layers,
                               s->vocab_size, m->group,
                               shared ? "" : ", unshared", need);
        p = (const char *)m->map + INF_Q8_HEADER;
        for (int l = 0; l < s->n_layers; l++, p += z.d * sizeof(float))
                m->layers[l].rms_att = (const float *)(const void *)p;
        for (int l = 0; l < s->n_layers; l++, p += z.d * sizeof(float))
                m->layers[l].rms_ffn = (const float *)(const void *)p;
        m->rms_final = (const float *)(const void *)p;
        p += z.d * sizeof(float);
        m->embed = qmat(&p, s->vocab_size, d, m->group);
        for (int l = 0; l < s->n_layers; l++)
                m->layers[l].wq = qmat(&p, d, d, m->group);
        for (int l = 0; l < s->n_layers; l++)
                m->layers[l].wk = qmat(&p, kv, d, m->group);
        for (int l = 0; l < s->n_layers; l++)
                m->layers[l].wv = qmat(&p, kv, d, m->group);
        for (int l = 0; l < s->n_layers; l++)
                m->layers[l].wo = qmat(&p, d, d, m->group);
        for (int l = 0; l < s->n_layers; l++)
                m->layers[l].w1 = qmat(&p, h, d, m->group);
        for (int l = 0; l < s->n_layers; l++)
                m->layers[l].w2 = qmat(&p, d, h, m->group);
        for (int l = 0; l < s->n_layers; l++)
                m->layers[l].w3 = qmat(&p, h, d, m->group);
        m->cls = shared ? m->embed : qmat(&p, s->vocab_size, d, m->group);
        return TL_OK;
}

static tl_status read_header(struct inf_model *m, const char *path,
                             bool *shared, struct tl_error *err)
{
        const unsigned char *b = m->map;
        int32_t hdr[7];
        uint32_t magic = 0;

        if (m->map_len >= 4)
                memcpy(&magic, b, 4);
        if (magic == INF_Q8_MAGIC) {
                int32_t version, group;

                if (m->map_len < INF_Q8_HEADER)
                        return tl_fail(err, TL_EINVAL,
                                       "%s: %zu bytes: shorter than the int8 "
                                       "header (256)",
                                       path, m->map_len);
                memcpy(&version, b + 4, 4);
                if (version != INF_Q8_VERSION)
                        return tl_fail(err, TL_EINVAL,
                                       "%s: int8 checkpoint version %d; this "
                                       "engine reads version 2",
                                       path, (int)version);
                memcpy(hdr, b + 8, sizeof hdr);
                if (b[36] > 1)
                        return tl_fail(err, TL_EINVAL,
                                       "%s: shared_classifier byte %u: must "
                                       "be 0 or 1",
                                       path, (unsigned)b[36]);
                *shared = b[36] == 1;
                memcpy(&group, b + 37, 4);
                m->format = INF_Q8;
                m->group = group;
        } else {
                if (m->map_len < sizeof hdr)
                        return tl_fail(err, TL_EINVAL,
                                       "%s: %zu bytes: shorter than a "
                                       "llama2.c header (28)",
                                       path, m->map_len);
                memcpy(hdr, b, sizeof hdr);
                /* run.c: a negative vocab_size marks a separate classifier */
                *shared = hdr[5] > 0;
                if (hdr[5] < 0 && hdr[5] != INT32_MIN)
                        hdr[5] = -hdr[5];
                m->format = INF_FP32;
        }
        m->shape = (struct inf_shape){hdr[0], hdr[1], hdr[2], hdr[3],
                                      hdr[4], hdr[5], hdr[6]};
        return inf_shape_check(&m->shape, path, err);
}

tl_status inf_model_open(const char *path, struct inf_model **out,
                         struct tl_error *err)
{
        struct inf_model *m = tl_calloc(1, sizeof *m);
        struct stat st;
        bool shared = true;
        tl_status rc;
        int fd;

        *out = NULL;
        if (!m || !(m->path = tl_strdup(path))) {
                tl_free(m);
                return tl_fail(err, TL_ENOMEM, "%s: out of memory", path);
        }
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) != 0) {
                rc = tl_fail(err, errno == ENOENT ? TL_ENOTFOUND : TL_EIO,
                             "%s: %s", path, strerror(errno));
                if (fd >= 0)
                        close(fd);
                inf_model_free(&m);
                return rc;
        }
        m->map_len = (size_t)st.st_size;
        m->map = m->map_len
                     ? mmap(NULL, m->map_len, PROT_READ, MAP_PRIVATE, fd, 0)
                     : MAP_FAILED;
        close(fd);
        if (m->map == MAP_FAILED) {
                m->map = NULL;
                rc = m->map_len
                         ? tl_fail(err, TL_EIO, "%s: mmap: %s", path,
                                   strerror(errno))
                         : tl_fail(err, TL_EINVAL, "%s: empty file", path);
                inf_model_free(&m);
                return rc;
        }
        rc = read_header(m, path, &shared, err);
        if (!rc && !(m->layers = tl_calloc((size_t)m->shape.n_layers,
                                           sizeof *m->layers)))
                rc = tl_fail(err, TL_ENOMEM, "%s: out of memory", path);
        if (!rc)
                rc = m->format == INF_Q8 ? map_q8(m, path, shared, err)
                                         : map_fp32(m, path, shared, err);
        if (rc) {
                inf_model_free(&m);
                return rc;
        }
        m->shared_classifier = shared;
        /* the weights are read front to back on every token */
        posix_madvise(m->map, m->map_len, POSIX_MADV_WILLNEED);
        *out = m;
        return TL_OK;
}

void inf_model_free(struct inf_model **pp)
{
        struct inf_model *m = pp ? *pp : NULL;
        if (!m)
                return;
        *pp = NULL;
        if (m->map)
                munmap(m->map, m->map_len);
        tl_free(m->layers);
        tl_free(m->path);
        tl_free(m);
}
