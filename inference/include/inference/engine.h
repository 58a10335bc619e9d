/* The reference engine: a forward pass that counts its multiply-
   accumulates, and the two decoders that the metering bills. */
#ifndef INF_ENGINE_H
#define INF_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "inference/model.h"

/* llama2.c's special tokens: BOS starts every sequence, EOS may end one. */
#define INF_TOKEN_BOS 1
#define INF_TOKEN_EOS 2
/* Diffusion's mask: <unk>, which neither tokenizer ever produces. */
#define INF_TOKEN_MASK 0

/*
** Activations, the key/value cache and scratch for one model, sized once
** for the longest sequence: decoding allocates nothing per token.
** One state serves one request at a time.
*/
struct inf_state;

/* 'threads' 0: OpenMP's default (one per CPU); 1: single-threaded. */
tl_status inf_state_new(const struct inf_model *m, int threads,
                        struct inf_state **out, struct tl_error *err);
/* Frees '*pp' and sets it to NULL; accepts NULL. */
void inf_state_free(struct inf_state **pp);

/* Multiply-accumulates of every matrix multiply since the state was made
   (or since inf_state_reset_macs): projections, attention, classifier. */
uint64_t inf_state_macs(const struct inf_state *st);
void inf_state_reset_macs(struct inf_state *st);

/*
** One forward pass over tokens[0..T) at positions pos0..pos0+T-1.
** Causal: position p attends to 0..p, reading earlier keys and values
** from the cache and leaving its own there (so pos0 > 0 continues a
** sequence). Bidirectional: every position attends to all of
** 0..pos0+T-1; pos0 must be 0. Logits are computed only for the 'n_out'
** rows listed in 'out_rows' (indexes into 0..T-1) and returned in order:
** row i at inf_state_logits(st) + i * vocab_size.
*/
tl_status inf_forward(struct inf_state *st, const int *tokens, int pos0, int T,
                      bool bidirectional, const int *out_rows, int n_out,
                      struct tl_error *err);
float *inf_state_logits(struct inf_state *st);

/* The matrix kernels this CPU runs: "AVX+FMA" or "portable C". */
const char *inf_kernels(void);

/* ---- decoding ---- */

struct inf_sampler {
        float temperature; /* 0: greedy argmax */
        float topp;        /* nucleus; 0 or >= 1: off */
        uint64_t rng;      /* state of xorshift64*; never 0 */
};
void inf_sampler_init(struct inf_sampler *s, float temperature, float topp,
                      uint64_t seed);

typedef enum { INF_DECODE_AR = 0, INF_DECODE_DIFFUSION = 1 } inf_decoding;

struct inf_gen_opts {
        inf_decoding decoding;
        int max_tokens;   /* answer length: AR's most, diffusion's n */
        bool stop_at_eos; /* AR: stop at EOS or BOS (run.c: BOS); the
                             stop token counts as produced, not shown */
        /* diffusion */
        int k;           /* positions unmasked per step (fixed mode) */
        float threshold; /* > 0: adaptive, every position at least this
                            confident, at least one per step */
        int block;       /* 0: one block; else semi-autoregressive
                            blocks of this many positions */
        struct inf_sampler sampler;
        /* each produced token with its step (AR: its pass), may be NULL */
        void (*on_token)(void *ctx, int pos, int token, int step);
        void *ctx;
};

/* What a request did: what the events bill. */
struct inf_usage {
        int input_tokens;  /* prompt tokens processed, BOS included */
        int output_tokens; /* tokens produced */
        int passes;        /* forward passes run */
        int iterations;    /* diffusion: denoising steps; AR: 0 */
        uint64_t macs;     /* multiply-accumulates, counted */
};

/*
** Decode an answer after prompt[0..n_prompt) (which should start with
** BOS) into out[0..*n_out) (room for max_tokens). AR prefills the prompt
** in one causal pass and then runs one pass per further token. Diffusion
** appends max_tokens masks and runs bidirectional passes over the whole
** sequence, each unmasking the k most confident masked positions of the
** current block (or, adaptive, all above the threshold). For diffusion
** 'per_step' (room for max_tokens, may be NULL) receives how many tokens
** each step unmasked.
*/
tl_status inf_generate(struct inf_state *st, const int *prompt, int n_prompt,
                       const struct inf_gen_opts *o, int *out, int *n_out,
                       int *per_step, struct inf_usage *u,
                       struct tl_error *err);

#endif
