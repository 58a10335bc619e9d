/* A llama2.c checkpoint, memory-mapped: fp32 (run.c's .bin) or int8
   group-quantized (runq.c's version 2 .bin). Formats: docs/formats.md. */
#ifndef INF_MODEL_H
#define INF_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* The seven header integers of llama2.c's Config. */
struct inf_shape {
        int dim;        /* the residual stream width */
        int hidden_dim; /* the SwiGLU feed-forward width */
        int n_layers;
        int n_heads;    /* query heads; head size = dim / n_heads */
        int n_kv_heads; /* key/value heads, dividing n_heads (grouped) */
        int vocab_size;
        int seq_len; /* the longest sequence, prompt included */
};

/* Limits that keep every product of the shape in 63 bits and every
   allocation sane; real checkpoints are far inside them. */
#define INF_MAX_DIM 16384
#define INF_MAX_HIDDEN 65536
#define INF_MAX_LAYERS 256
#define INF_MAX_VOCAB 1048576
#define INF_MAX_SEQ 32768

typedef enum { INF_FP32 = 0, INF_Q8 = 1 } inf_format;

/* runq.c's int8 header: magic "ak42", version, its size in bytes. */
#define INF_Q8_MAGIC 0x616b3432u
#define INF_Q8_VERSION 2
#define INF_Q8_HEADER 256

/*
** One weight matrix W (rows x cols), applied as y = W x. fp32: 'f' points
** at rows*cols floats. Q8: 'q' at rows*cols int8 and 's' at
** rows*cols/group scales, each scale for 'group' consecutive values of a
** row (runq.c's layout).
*/
struct inf_mat {
        const float *f;
        const int8_t *q;
        const float *s;
        int rows, cols;
};

struct inf_layer {
        const float *rms_att, *rms_ffn; /* dim each */
        struct inf_mat wq, wk, wv, wo, w1, w2, w3;
};

struct inf_model {
        struct inf_shape shape;
        inf_format format;
        int group;              /* Q8 group size; 0 for fp32 */
        bool shared_classifier; /* the classifier is the embedding table */
        struct inf_mat embed;   /* vocab x dim: rows are token embeddings */
        struct inf_layer *layers;
        const float *rms_final;
        struct inf_mat cls; /* vocab x dim */
        char *path;
        void *map;
        size_t map_len;
};

/*
** Map and check the checkpoint at 'path': the format from its first bytes
** (runq's magic "ak42", else run.c's header), every header field in range,
** and the file size exactly what the shape needs. Errors name the file
** and the field.
*/
tl_status inf_model_open(const char *path, struct inf_model **out,
                         struct tl_error *err);
/* Unmaps and frees '*pp', then sets it to NULL; accepts NULL. */
void inf_model_free(struct inf_model **pp);

/* head size, key/value width: derived once, used everywhere */
static inline int inf_head_size(const struct inf_shape *s)
{
        return s->dim / s->n_heads;
}
static inline int inf_kv_dim(const struct inf_shape *s)
{
        return s->dim / s->n_heads * s->n_kv_heads;
}

/* Check a shape as a header would be checked; 'what' names the source. */
tl_status inf_shape_check(const struct inf_shape *s, const char *what,
                          struct tl_error *err);

/* ---- writing checkpoints (`tally infer --init-model`) ---- */

struct inf_init_opts {
        struct inf_shape shape; /* hidden_dim 0: llama2.c's rule from dim */
        uint64_t seed;
        bool separate_classifier;
        int group; /* Q8 group size; 0: 64 halved until it divides dim */
};

/*
** Write DIR/model.bin (fp32), DIR/model-q8.bin (the same weights
** quantized) and DIR/tokenizer.bin (bytes plus printable merges), all
** deterministic in the seed. Each file is written to a temporary name and
** renamed, so a crash leaves no half checkpoint.
*/
tl_status inf_init_model(const char *dir, const struct inf_init_opts *o,
                         struct tl_error *err);

/* Write 'm' (any format) quantized as a runq.c version 2 file. */
tl_status inf_model_write_q8(const struct inf_model *m, int group,
                             const char *path, struct tl_error *err);

#endif
