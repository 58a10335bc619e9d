/* Autoregressive decoding with a key/value cache, and inf_generate, the
   entry point of both decoders. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "decode.h"
#include "kernels.h"

tl_status inf__scratch_new(const struct inf_model *m, struct inf__scratch *s,
                           struct tl_error *err)
{
        size_t seq = (size_t)m->shape.seq_len;

        s->probs = tl_malloc((size_t)m->shape.vocab_size * sizeof *s->probs);
        s->seq = tl_malloc(seq * sizeof *s->seq);
        s->rows = tl_malloc(seq * sizeof *s->rows);
        s->ranked = tl_malloc(seq * sizeof *s->ranked);
        if (s->probs && s->seq && s->rows && s->ranked)
                return TL_OK;
        inf__scratch_release(s);
        return tl_fail(err, TL_ENOMEM, "%s: out of memory for decoding",
                       m->path);
}

void inf__scratch_release(struct inf__scratch *s)
{
        tl_free(s->probs);
        tl_free(s->seq);
        tl_free(s->rows);
        tl_free(s->ranked);
        memset(s, 0, sizeof *s);
}

/*
** The prompt in one causal pass (logits for its last position only), then
** one pass per further token at the next position, reading the cache.
*/
static tl_status generate_ar(struct inf_state *st, const int *prompt,
                             int n_prompt, const struct inf_gen_opts *o,
                             struct inf__scratch *sc, int *out, int *n_out,
                             struct inf_usage *u, struct tl_error *err)
{
        const struct inf_shape *s = &st->m->shape;
        struct inf_sampler smp = o->sampler;
        int last = n_prompt - 1, pos = n_prompt, n = 0;
        tl_status rc =
            inf_forward(st, prompt, 0, n_prompt, false, &last, 1, err);

        if (rc)
                return rc;
        u->passes = 1;
        while (n < o->max_tokens) {
                int tok = inf__sample(&smp, inf_state_logits(st), s->vocab_size,
                                      -1, sc->probs, NULL);
                int zero = 0;

                if (o->stop_at_eos &&
                    (tok == INF_TOKEN_EOS || tok == INF_TOKEN_BOS)) {
                        /* a pass produced it: billed, not printed */
                        u->output_tokens = n + 1;
                        *n_out = n;
                        return TL_OK;
                }
                out[n++] = tok;
                if (o->on_token)
                        o->on_token(o->ctx, pos, tok, u->passes);
                /* the last token needs no pass: nothing follows it */
                if (n == o->max_tokens || pos == s->seq_len)
                        break;
                rc = inf_forward(st, &tok, pos, 1, false, &zero, 1, err);
                if (rc)
                        return rc;
                u->passes++;
                pos++;
        }
        *n_out = n;
        u->output_tokens = n;
        return TL_OK;
}

tl_status inf_generate(struct inf_state *st, const int *prompt, int n_prompt,
                       const struct inf_gen_opts *o, int *out, int *n_out,
                       int *per_step, struct inf_usage *u, struct tl_error *err)
{
        const struct inf_shape *s = &st->m->shape;
        struct inf__scratch sc;
        uint64_t macs0 = inf_state_macs(st);
        tl_status rc;
        int room = s->seq_len - n_prompt;

        memset(u, 0, sizeof *u);
        *n_out = 0;
        if (n_prompt < 1)
                return tl_fail(err, TL_EINVAL,
                               "the prompt is empty (it starts with BOS)");
        if (o->max_tokens < 1)
                return tl_fail(err, TL_EINVAL,
                               "tokens %d: at least one must be produced",
                               o->max_tokens);
        /* AR fills positions n_prompt .. n_prompt + max - 2; diffusion
           holds every answer position at once */
        if (o->decoding == INF_DECODE_DIFFUSION ? o->max_tokens > room
                                                : o->max_tokens > room + 1)
                return tl_fail(err, TL_ERANGE,
                               "prompt %d + tokens %d exceed the model's "
                               "seq_len %d",
                               n_prompt, o->max_tokens, s->seq_len);
        if (o->decoding == INF_DECODE_DIFFUSION &&
            !(o->threshold >= 0.0f && o->threshold <= 1.0f))
                return tl_fail(err, TL_EINVAL,
                               "threshold %g: a confidence lies in 0..1",
                               (double)o->threshold);
        if (o->decoding == INF_DECODE_DIFFUSION && o->threshold <= 0.0f &&
            o->k < 1)
                return tl_fail(err, TL_EINVAL,
                               "diffusion needs k >= 1 tokens per step or "
                               "a confidence threshold");
        rc = inf__scratch_new(st->m, &sc, err);
        if (rc)
                return rc;
        u->input_tokens = n_prompt;
        if (o->decoding == INF_DECODE_DIFFUSION)
                rc = inf__generate_diffusion(st, prompt, n_prompt, o, &sc, out,
                                             n_out, per_step, u, err);
        else
                rc = generate_ar(st, prompt, n_prompt, o, &sc, out, n_out, u,
                                 err);
        inf__scratch_release(&sc);
        if (o->decoding == INF_DECODE_DIFFUSION)
                u->output_tokens = *n_out;
        u->macs = inf_state_macs(st) - macs0;
        return rc;
}
