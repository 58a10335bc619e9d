/* tally infer: one request through the engine, its answer and usage
   printed, its metered events emitted to Kafka or to a device's spool. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/str.h"
#include "core/time.h"
#include "inference/emit.h"
#include "inference/request.h"
#include "infer/infer.h"

struct printer {
        const struct inf_tokenizer *tok;
        int prev;
        bool stream; /* AR in text format: print tokens as they come */
        struct tl_buf text;
};

/* Printable bytes only, as run.c's safe_printf: random weights produce
   raw control bytes that would garble a terminal. */
static void add_piece(struct printer *p, int tok)
{
        size_t len;
        const char *s = inf_tokenizer_piece(p->tok, p->prev, tok, &len);

        p->prev = tok;
        if (len == 1 && (unsigned char)s[0] < 0x20 && s[0] != '\n' &&
            s[0] != '\t')
                return;
        if (p->stream) {
                fwrite(s, 1, len, stdout);
                fflush(stdout);
        }
        (void)tl_buf_append(&p->text, s, len, NULL);
}

static void on_token(void *ctx, int pos, int tok, int step)
{
        (void)pos;
        (void)step;
        add_piece(ctx, tok);
}

/* The answer as JSON text: random weights decode to noise, which is not
   always UTF-8, and jansson takes only UTF-8, so each byte past ASCII
   becomes U+FFFD (as the terminal output shows it). NULL: out of memory. */
static json_t *json_text(const char *s, size_t n)
{
        struct tl_buf b;
        json_t *j = NULL;

        tl_buf_init(&b, 0);
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];

                if (tl_buf_append(
                        &b, c < 0x80 ? (const char *)&s[i] : "\xef\xbf\xbd",
                        c < 0x80 ? 1 : 3, NULL))
                        goto out;
        }
        j = json_stringn(b.data ? (const char *)b.data : "", b.len);
out:
        tl_buf_release(&b);
        return j;
}

static int fail(tl_status rc, const struct tl_error *e)
{
        fprintf(stderr, "tally infer: %s\n", e->msg);
        return tl_status_exit_code(rc);
}

/* --source, else where the request ran: a device or the cloud. */
static void source_of(const struct infer_args *a, char *out, size_t size)
{
        if (a->source)
                snprintf(out, size, "%s", a->source);
        else if (a->offline)
                snprintf(out, size, "device/%s",
                         a->device ? a->device : "unknown");
        else
                snprintf(out, size, "cloud/tally-infer");
}

static int emit_offline(const struct infer_args *a,
                        const struct inf_events *evs, tl_time_us now,
                        size_t *seats)
{
        struct inf_spool *sp = NULL;
        struct tl_error e = {0};
        char source[300];
        struct inf_device dev = {a->customer, source, a->device,
                                 a->model_class ? a->model_class : "small"};
        tl_status rc = inf_spool_open(a->spool, &sp, &e);

        source_of(a, source, sizeof source);
        *seats = 0;
        if (!rc && a->device)
                rc = inf_spool_seat(sp, &dev, now, a->deactivate, seats, &e);
        if (!rc && evs)
                rc = inf_spool_append(sp, evs->ev, evs->n, &e);
        inf_spool_free(&sp);
        return rc ? fail(rc, &e) : 0;
}

static int emit_online(const struct infer_args *a, const struct inf_events *evs,
                       struct inf_emit_report *rep)
{
        struct inf_emit_opts o = {
            .brokers = a->brokers,
            .topic = a->topic,
            .spool = a->spool ? a->spool : "tally-undelivered.cbor",
            .props = a->props,
            .prop_count = a->prop_count,
        };
        struct inf_emitter *em = NULL;
        struct tl_error e = {0};
        tl_status rc = inf_emitter_new(&o, &em, &e);

        if (!rc)
                rc = inf_emitter_send(em, evs->ev, evs->n, &e);
        if (!rc)
                rc = inf_emitter_flush(em, rep, &e);
        inf_emitter_free(&em);
        if (rc)
                return fail(rc, &e);
        if (rep->spooled)
                fprintf(stderr,
                        "tally infer: %zu of %zu events not confirmed by "
                        "Kafka; kept in %s for tally upload\n",
                        rep->spooled, evs->n, o.spool);
        return 0;
}

/* The request's identity: customer, ids, source, time. */
static int request_of(const struct infer_args *a, const struct inf_model *m,
                      char *id, size_t id_size, char *source, size_t src_size,
                      struct inf_request *r)
{
        struct tl_error e = {0};
        const char *name = a->model_name;

        if (a->request_id)
                snprintf(id, id_size, "%s", a->request_id);
        else
                infer_random_id(id, id_size);
        source_of(a, source, src_size);
        if (!name) {
                const char *slash = strrchr(m->path, '/');

                name = slash ? slash + 1 : m->path;
        }
        *r = (struct inf_request){
            .id = id,
            .subject = a->customer,
            .source = source,
            .model = name,
            .deployment = a->offline ? SCH_DEPLOY_DEVICE : SCH_DEPLOY_CLOUD,
            .decoding = a->diffusion ? INF_DECODE_DIFFUSION : INF_DECODE_AR,
            .time_us = tl_time_now_us(),
            .task = a->task,
            .outcome = a->outcome,
        };
        if (a->time &&
            tl_time_parse_rfc3339(a->time, strlen(a->time), &r->time_us, &e)) {
                fprintf(stderr, "tally infer: --time: %s\n", e.msg);
                return INFER_EXIT_USAGE;
        }
        return 0;
}

static void report(const struct infer_args *a, const struct printer *p,
                   const struct inf_usage *u, const int *per_step, double secs,
                   const char *id, size_t events)
{
        if (!strcmp(a->format, "json")) {
                json_t *o = json_pack(
                    "{s:s, s:s, s:o, s:i, s:i, s:i, s:i, s:I, s:f, s:I}",
                    "request_id", id, "decoding",
                    a->diffusion ? "diffusion" : "autoregressive", "text",
                    json_text(p->text.data ? (const char *)p->text.data : "",
                              p->text.len),
                    "input_tokens", u->input_tokens, "output_tokens",
                    u->output_tokens, "passes", u->passes, "iterations",
                    u->iterations, "macs", (json_int_t)u->macs, "seconds", secs,
                    "events", (json_int_t)events);

                if (o && a->diffusion) {
                        json_t *steps = json_array();

                        for (int i = 0; steps && i < u->iterations; i++)
                                json_array_append_new(
                                    steps, json_integer(per_step[i]));
                        json_object_set_new(o, "unmasked_per_step", steps);
                }
                if (!o || json_dumpf(o, stdout, JSON_COMPACT) ||
                    fputc('\n', stdout) == EOF)
                        fprintf(stderr, "tally infer: cannot write the JSON "
                                        "report\n");
                json_decref(o);
                return;
        }
        if (!p->stream)
                fwrite(p->text.data ? p->text.data : "", 1, p->text.len,
                       stdout);
        printf("\n");
        fflush(stdout); /* the answer before its usage on a terminal */
        if (a->quiet)
                return;
        fprintf(stderr,
                "%s: %d prompt + %d answer tokens, %d passes%s, %llu MACs, "
                "%.3f s (%.1f tokens/s)\n",
                a->diffusion ? "diffusion" : "autoregressive", u->input_tokens,
                u->output_tokens, u->passes,
                a->diffusion ? "" : " (one per token)",
                (unsigned long long)u->macs, secs,
                secs > 0 ? u->output_tokens / secs : 0.0);
        if (a->diffusion) {
                fprintf(stderr, "denoising steps: %d; unmasked per step:",
                        u->iterations);
                for (int i = 0; i < u->iterations; i++)
                        fprintf(stderr, " %d", per_step[i]);
                fprintf(stderr, "\n");
        }
}

static int run_loaded(const struct infer_args *a, struct inf_model *m,
                      struct inf_tokenizer *tk)
{
        struct inf_state *st = NULL;
        struct tl_error e = {0};
        size_t plen = a->prompt ? strlen(a->prompt) : 0;
        int *prompt = tl_malloc((plen + 3) * sizeof *prompt);
        int *out = tl_malloc((size_t)a->tokens * sizeof *out);
        int *per = tl_malloc((size_t)a->tokens * sizeof *per);
        int np = 0, nout = 0, code = 0;
        struct printer p = {.tok = tk, .prev = INF_TOKEN_BOS};
        struct inf_gen_opts o = {
            .decoding = a->diffusion ? INF_DECODE_DIFFUSION : INF_DECODE_AR,
            .max_tokens = (int)a->tokens,
            .stop_at_eos = true,
            .k = (int)a->k,
            .threshold = (float)a->threshold,
            .block = (int)a->block,
            .on_token = a->diffusion ? NULL : on_token,
            .ctx = &p,
        };
        struct inf_usage u;
        struct inf_request r;
        struct inf_events evs;
        char id[128], source[300];
        tl_status rc;
        int64_t t0;

        tl_buf_init(&p.text, 0);
        p.stream = !a->diffusion && !strcmp(a->format, "text");
        inf_sampler_init(&o.sampler, (float)a->temperature, (float)a->topp,
                         (uint64_t)a->seed);
        rc = prompt && out && per ? inf_state_new(m, (int)a->threads, &st, &e)
                                  : tl_fail(&e, TL_ENOMEM, "out of memory");
        if (!rc)
                rc = inf_tokenizer_encode(tk, a->prompt ? a->prompt : "", true,
                                          prompt, &np, &e);
        if (!rc &&
            (code = request_of(a, m, id, sizeof id, source, sizeof source, &r)))
                goto done;
        if (!rc && a->customer) {
                /* the events must be storable before any work is done:
                   work that cannot be billed is not started */
                struct inf_usage probe = {1, 1, 1, 1, 1};

                rc = inf_request_events(&r, &probe, &evs, &e);
        }
        t0 = tl_mono_us();
        if (!rc)
                rc = inf_generate(st, prompt, np, &o, out, &nout, per, &u, &e);
        if (rc) {
                code = fail(rc, &e);
                goto done;
        }
        if (a->diffusion)
                for (int i = 0; i < nout; i++)
                        add_piece(&p, out[i]);
        if (a->customer) {
                rc = inf_request_events(&r, &u, &evs, &e);
                if (rc) {
                        code = fail(rc, &e);
                        goto done;
                }
        }
        report(a, &p, &u, per, (double)(tl_mono_us() - t0) / 1e6, id,
               a->customer ? evs.n : 0);
        if (a->customer && a->offline) {
                size_t seats;

                code = emit_offline(a, &evs, r.time_us, &seats);
                if (!code && !a->quiet)
                        fprintf(stderr, "spooled %zu events (%zu seat) to %s\n",
                                evs.n + seats, seats, a->spool);
        } else if (a->customer) {
                struct inf_emit_report rep = {0};

                code = emit_online(a, &evs, &rep);
                if (!code && !a->quiet && !rep.spooled)
                        fprintf(stderr, "emitted %zu events (request %s)\n",
                                rep.delivered, id);
        }
done:
        tl_buf_release(&p.text);
        inf_state_free(&st);
        tl_free(prompt);
        tl_free(out);
        tl_free(per);
        return code;
}

int infer_run(const struct infer_args *a)
{
        struct infer_paths paths;
        struct inf_model *m = NULL;
        struct inf_tokenizer *tk = NULL;
        struct tl_error e = {0};
        tl_status rc;
        int code;

        if (a->deactivate) {
                size_t seats;

                code = emit_offline(a, NULL, tl_time_now_us(), &seats);
                if (!code && !a->quiet)
                        fprintf(stderr, "spooled %zu seat event to %s\n", seats,
                                a->spool);
                return code;
        }
        code = infer_resolve(a->model, a->tokenizer, a->q8, &paths);
        if (code)
                return code;
        rc = inf_model_open(paths.model, &m, &e);
        if (!rc)
                rc = inf_tokenizer_open(paths.tokenizer, m->shape.vocab_size,
                                        &tk, &e);
        code = rc ? fail(rc, &e) : run_loaded(a, m, tk);
        inf_tokenizer_free(&tk);
        inf_model_free(&m);
        return code;
}
