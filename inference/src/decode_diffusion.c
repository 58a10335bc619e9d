/* Masked diffusion decoding (LLaDA-style): the answer starts as masks;
** each denoising step is one bidirectional pass over prompt + answer that
** predicts every masked position of the current block, and the most
** confident predictions are kept. Fixed mode keeps k per step, so a block
** of b positions takes ceil(b / k) steps; adaptive mode keeps every
** prediction at least 'threshold' likely, and at least one, so it always
** ends. Logits are computed only for the positions still masked in the
** block: the classifier is the largest matrix and the rest need none.
*/
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "kernels.h"

/* Most confident first; ties by position so a run is deterministic. */
static int cmp_ranked(const void *a, const void *b)
{
        const struct inf__ranked *x = a, *y = b;

        if (x->conf != y->conf)
                return x->conf < y->conf ? 1 : -1;
        return (x->row > y->row) - (x->row < y->row);
}

tl_status inf__generate_diffusion(struct inf_state *st, const int *prompt,
                                  int n_prompt, const struct inf_gen_opts *o,
                                  struct inf__scratch *sc, int *out, int *n_out,
                                  int *per_step, struct inf_usage *u,
                                  struct tl_error *err)
{
        const struct inf_shape *s = &st->m->shape;
        struct inf_sampler smp = o->sampler;
        int n = o->max_tokens, T = n_prompt + n;
        int block = o->block > 0 && o->block < n ? o->block : n;
        struct inf__ranked *rank = sc->ranked;
        tl_status rc = TL_OK;

        memcpy(sc->seq, prompt, (size_t)n_prompt * sizeof *prompt);
        for (int i = n_prompt; i < T; i++)
                sc->seq[i] = INF_TOKEN_MASK;

        for (int b0 = n_prompt; b0 < T && !rc; b0 += block) {
                int b1 = b0 + block < T ? b0 + block : T;

                for (;;) {
                        int m = 0, keep;

                        for (int p = b0; p < b1; p++)
                                if (sc->seq[p] == INF_TOKEN_MASK)
                                        sc->rows[m++] = p;
                        if (!m)
                                break;
                        rc = inf_forward(st, sc->seq, 0, T, true, sc->rows, m,
                                         err);
                        if (rc)
                                break;
                        u->passes++;
                        for (int i = 0; i < m; i++) {
                                float *lg = inf_state_logits(st) +
                                            (size_t)i * (size_t)s->vocab_size;

                                rank[i].row = sc->rows[i];
                                rank[i].tok = inf__sample(
                                    &smp, lg, s->vocab_size, INF_TOKEN_MASK,
                                    sc->probs, &rank[i].conf);
                        }
                        qsort(rank, (size_t)m, sizeof *rank, cmp_ranked);
                        if (o->threshold > 0.0f) {
                                keep = 1;
                                while (keep < m &&
                                       rank[keep].conf >= o->threshold)
                                        keep++;
                        } else {
                                keep = o->k < m ? o->k : m;
                        }
                        if (keep < 1) /* every step unmasks: it ends */
                                keep = 1;
                        for (int i = 0; i < keep; i++) {
                                sc->seq[rank[i].row] = rank[i].tok;
                                if (o->on_token)
                                        o->on_token(o->ctx, rank[i].row,
                                                    rank[i].tok,
                                                    u->iterations + 1);
                        }
                        if (per_step)
                                per_step[u->iterations] = keep;
                        u->iterations++;
                }
        }
        if (rc)
                return rc;
        memcpy(out, sc->seq + n_prompt, (size_t)n * sizeof *out);
        *n_out = n;
        return TL_OK;
}
