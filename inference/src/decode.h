/* The decoders' shared pieces: token choice from logits. Private. */
#ifndef INF_DECODE_H
#define INF_DECODE_H

#include "inference/engine.h"

struct inf__prob {
        float p;
        int i;
};

/* The index of the largest of x[0..n) other than 'skip' (-1: none). */
int inf__argmax(const float *x, int n, int skip);

/* In place: logits to probabilities. */
void inf__softmax(float *x, int n);

/*
** Choose a token from 'logits' (overwritten with probabilities), never
** 'skip' (-1: any). '*prob' (may be NULL) receives the chosen token's
** probability: the confidence diffusion ranks positions by. 'scratch'
** holds n entries.
*/
int inf__sample(struct inf_sampler *s, float *logits, int n, int skip,
                struct inf__prob *scratch, float *prob);

/* A masked position's prediction, ranked by confidence in diffusion. */
struct inf__ranked {
        float conf;
        int row;
        int tok;
};

/*
** Scratch one request needs, allocated once per request (never per
** token): probabilities for top-p, the sequence, the masked rows and
** their predictions.
*/
struct inf__scratch {
        struct inf__prob *probs;    /* vocab_size */
        int *seq;                   /* seq_len */
        int *rows;                  /* seq_len */
        struct inf__ranked *ranked; /* seq_len */
};
tl_status inf__scratch_new(const struct inf_model *m, struct inf__scratch *s,
                           struct tl_error *err);
void inf__scratch_release(struct inf__scratch *s);

tl_status inf__generate_diffusion(struct inf_state *st, const int *prompt,
                                  int n_prompt, const struct inf_gen_opts *o,
                                  struct inf__scratch *sc, int *out, int *n_out,
                                  int *per_step, struct inf_usage *u,
                                  struct tl_error *err);

#endif
