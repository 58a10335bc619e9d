/* Checkpoints and their errors, the tokenizer, the kernels against a
   double-precision reference, request events, and `tally infer`. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../inference/src/kernels.h"
#include "inference/emit.h"
#include "inference/engine.h"
#include "inference/model.h"
#include "inference/request.h"
#include "inference/tokenizer.h"
#include "core/alloc.h"
#include "schemas/decode.h"
#include "testkit.h"

static char dir[64];

static const char *model_dir(bool separate)
{
        struct inf_init_opts o = {.shape = {64, 0, 2, 4, 2, 300, 32},
                                  .seed = 3,
                                  .separate_classifier = separate};
        struct tl_error err;

        snprintf(dir, sizeof dir, "/tmp/tally-infm-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(inf_init_model(dir, &o, &err), TL_OK, "%s", err.msg);
        return dir;
}

static char *path_in(const char *d, const char *name)
{
        static char p[4][128];
        static int i;

        i = (i + 1) % 4;
        snprintf(p[i], sizeof p[i], "%s/%s", d, name);
        return p[i];
}

/* Write 'n' bytes of 'src' (or a header and garbage) to a new file. */
static void write_file(const char *path, const void *buf, size_t n)
{
        FILE *f = fopen(path, "wb");

        cr_assert_not_null(f);
        cr_assert_eq(fwrite(buf, 1, n, f), n);
        fclose(f);
}

static void *read_all(const char *path, size_t *n)
{
        FILE *f = fopen(path, "rb");
        char *buf;

        cr_assert_not_null(f);
        fseek(f, 0, SEEK_END);
        *n = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = malloc(*n + 1);
        cr_assert_eq(fread(buf, 1, *n, f), *n);
        fclose(f);
        return buf;
}

static void expect_open_error(const char *path, tl_status code,
                              const char *needle)
{
        struct inf_model *m = NULL;
        struct tl_error err = {0};

        cr_assert_eq(inf_model_open(path, &m, &err), code, "%s", err.msg);
        cr_assert_null(m);
        cr_assert_not_null(strstr(err.msg, needle), "'%s' lacks '%s'", err.msg,
                           needle);
        cr_assert_not_null(strstr(err.msg, path), "names the file: %s",
                           err.msg);
}

Test(model, checkpoint_errors_name_the_file_and_field)
{
        const char *d = model_dir(false);
        size_t n;
        char *fp = read_all(path_in(d, "model.bin"), &n);
        size_t nq;
        char *q8 = read_all(path_in(d, "model-q8.bin"), &nq);
        char *bad = path_in(d, "bad.bin");
        int32_t hdr[7];

        expect_open_error(path_in(d, "absent.bin"), TL_ENOTFOUND, "No such");
        write_file(bad, fp, 0);
        expect_open_error(bad, TL_EINVAL, "empty file");
        write_file(bad, fp, 20);
        expect_open_error(bad, TL_EINVAL, "shorter than a llama2.c header");
        write_file(bad, fp, n - 4);
        expect_open_error(bad, TL_EINVAL, "needs");
        memcpy(hdr, fp, sizeof hdr);
        hdr[3] = 5; /* 64 is not a multiple of 5 heads */
        memcpy(fp, hdr, sizeof hdr);
        write_file(bad, fp, n);
        expect_open_error(bad, TL_EINVAL, "not a multiple of n_heads");
        hdr[3] = 4;
        hdr[4] = 3;
        memcpy(fp, hdr, sizeof hdr);
        write_file(bad, fp, n);
        expect_open_error(bad, TL_EINVAL, "n_kv_heads 3");
        hdr[4] = 2;
        hdr[0] = -64;
        memcpy(fp, hdr, sizeof hdr);
        write_file(bad, fp, n);
        expect_open_error(bad, TL_EINVAL, "dim -64");
        hdr[0] = 64;
        hdr[6] = 0;
        memcpy(fp, hdr, sizeof hdr);
        write_file(bad, fp, n);
        expect_open_error(bad, TL_EINVAL, "seq_len 0");

        write_file(bad, q8, 100);
        expect_open_error(bad, TL_EINVAL, "shorter than the int8 header");
        q8[4] = 3; /* version */
        write_file(bad, q8, nq);
        expect_open_error(bad, TL_EINVAL, "version 3");
        q8[4] = 2;
        q8[36] = 7;
        write_file(bad, q8, nq);
        expect_open_error(bad, TL_EINVAL, "shared_classifier byte 7");
        q8[36] = 1;
        {
                int32_t g = 48; /* does not divide 64 */

                memcpy(q8 + 37, &g, 4);
        }
        write_file(bad, q8, nq);
        expect_open_error(bad, TL_EINVAL, "group_size 48");
        free(fp);
        free(q8);
}

Test(model, separate_classifier_and_int8_agree_with_fp32)
{
        const char *d = model_dir(true);
        struct inf_model *f, *q;
        struct inf_state *sf, *sq;
        struct tl_error err;
        int tok[5] = {1, 70, 80, 90, 100}, row = 4;
        double dot = 0, nf = 0, nq = 0;
        const float *lf, *lq;

        cr_assert_eq(inf_model_open(path_in(d, "model.bin"), &f, &err), TL_OK);
        cr_assert_eq(inf_model_open(path_in(d, "model-q8.bin"), &q, &err),
                     TL_OK, "%s", err.msg);
        cr_assert(!f->shared_classifier && !q->shared_classifier);
        cr_assert_neq(f->cls.f, f->embed.f);
        cr_assert_eq(q->format, INF_Q8);
        cr_assert_eq(q->group, 64);
        cr_assert_eq(inf_state_new(f, 1, &sf, &err), TL_OK);
        cr_assert_eq(inf_state_new(q, 1, &sq, &err), TL_OK);
        cr_assert_eq(inf_forward(sf, tok, 0, 5, false, &row, 1, &err), TL_OK);
        cr_assert_eq(inf_forward(sq, tok, 0, 5, false, &row, 1, &err), TL_OK);
        lf = inf_state_logits(sf);
        lq = inf_state_logits(sq);
        for (int v = 0; v < 300; v++) {
                dot += (double)lf[v] * lq[v];
                nf += (double)lf[v] * lf[v];
                nq += (double)lq[v] * lq[v];
        }
        cr_assert_gt(dot / sqrt(nf * nq), 0.99,
                     "int8 logits follow fp32 (cosine %f)",
                     dot / sqrt(nf * nq));
        inf_state_free(&sf);
        inf_state_free(&sq);
        inf_model_free(&f);
        inf_model_free(&q);
}

Test(model, threads_do_not_change_the_answer)
{
        const char *d = model_dir(false);
        struct inf_model *m;
        struct inf_state *a, *b;
        struct tl_error err;
        int tok[30], rows[30];

        cr_assert_eq(inf_model_open(path_in(d, "model.bin"), &m, &err), TL_OK);
        cr_assert_eq(inf_state_new(m, 1, &a, &err), TL_OK);
        cr_assert_eq(inf_state_new(m, 2, &b, &err), TL_OK);
        for (int i = 0; i < 30; i++) {
                tok[i] = (i * 7 + 1) % 300;
                rows[i] = i;
        }
        cr_assert_eq(inf_forward(a, tok, 0, 30, true, rows, 30, &err), TL_OK);
        cr_assert_eq(inf_forward(b, tok, 0, 30, true, rows, 30, &err), TL_OK);
        cr_assert_eq(memcmp(inf_state_logits(a), inf_state_logits(b),
                            30 * 300 * sizeof(float)),
                     0);
        /* out-of-range requests are refused, not run */
        cr_assert_eq(inf_forward(a, tok, 10, 30, false, rows, 1, &err),
                     TL_ERANGE);
        cr_assert_eq(inf_forward(a, tok, 1, 3, true, rows, 1, &err), TL_ERANGE);
        tok[0] = 300;
        cr_assert_eq(inf_forward(a, tok, 0, 3, false, rows, 1, &err),
                     TL_ERANGE);
        cr_assert_not_null(strstr(err.msg, "token 300"));
        inf_state_free(&a);
        inf_state_free(&b);
        inf_model_free(&m);
}

/* y = W x against doubles, at sizes that leave every kernel a tail. */
Test(model, kernels_match_a_double_precision_reference)
{
        static const int rows[] = {1, 3, 4, 5, 37, 70}, Ts[] = {1, 2, 5, 9};
        static const int cols[] = {8, 16, 45, 64, 96};
        uint64_t rng = 99;

        for (size_t r = 0; r < 6; r++)
                for (size_t c = 0; c < 5; c++)
                        for (size_t t = 0; t < 4; t++) {
                                int R = rows[r], C = cols[c], T = Ts[t];
                                int g = C % 16 ? 0 : 16;
                                float *w = malloc((size_t)(R * C) * 4);
                                float *x = malloc((size_t)(T * C) * 4);
                                float *y = malloc((size_t)(T * R) * 4);
                                struct inf_mat m = {
                                    .f = w, .rows = R, .cols = C};
                                struct inf_act a = {.f = x};

                                for (int i = 0; i < R * C; i++) {
                                        rng = rng * 6364136223846793005ULL + 1;
                                        w[i] = (float)((int)(rng >> 40) % 2001 -
                                                       1000) /
                                               1000.0f;
                                }
                                for (int i = 0; i < T * C; i++)
                                        x[i] = (float)(i % 17 - 8) / 8.0f;
                                cr_assert_eq(inf__matmul(y, &a, &m, T, 0, 2),
                                             (uint64_t)(R * C * T));
                                for (int tt = 0; tt < T; tt++)
                                        for (int i = 0; i < R; i++) {
                                                double want = 0;

                                                for (int j = 0; j < C; j++)
                                                        want +=
                                                            (double)
                                                                w[i * C + j] *
                                                            x[tt * C + j];
                                                cr_assert_float_eq(
                                                    y[tt * R + i], want, 1e-4,
                                                    "R %d C %d T %d", R, C, T);
                                        }
                                if (g) { /* int8: exact integer sums */
                                        int8_t *wq = malloc((size_t)(R * C));
                                        int8_t *xq = malloc((size_t)(T * C));
                                        float *ws =
                                            malloc((size_t)(R * C / g) * 4);
                                        float *xs =
                                            malloc((size_t)(T * C / g) * 4);
                                        struct inf_mat mq = {.q = wq,
                                                             .s = ws,
                                                             .rows = R,
                                                             .cols = C};
                                        struct inf_act aq = {.q = xq, .s = xs};

                                        inf__quantize(w, R * C, g, wq, ws);
                                        inf__quantize(x, T * C, g, xq, xs);
                                        inf__matmul(y, &aq, &mq, T, g, 1);
                                        for (int tt = 0; tt < T; tt++)
                                                for (int i = 0; i < R; i++) {
                                                        double want = 0;

                                                        for (int j = 0; j < C;
                                                             j++)
                                                                want +=
                                                                    (double)wq
                                                                        [i * C +
                                                                         j] *
                                                                    ws[(i * C +
                                                                        j) /
                                                                       g] *
                                                                    xq[tt * C +
                                                                       j] *
                                                                    xs[(tt * C +
                                                                        j) /
                                                                       g];
                                                        cr_assert_float_eq(
                                                            y[tt * R + i], want,
                                                            1e-4);
                                                }
                                        free(wq);
                                        free(xq);
                                        free(ws);
                                        free(xs);
                                }
                                free(w);
                                free(x);
                                free(y);
                        }
}

Test(model, tokenizer_round_trips_and_merges)
{
        const char *d = model_dir(false);
        struct inf_tokenizer *t;
        struct tl_error err;
        const char *text = "once upon a time, Zoë said: <0x41> \"hi\"\n\ttab";
        int ids[128], n = 0;
        char back[256];
        size_t len, at = 0;

        cr_assert_eq(
            inf_tokenizer_open(path_in(d, "tokenizer.bin"), 300, &t, &err),
            TL_OK, "%s", err.msg);
        cr_assert_eq(inf_tokenizer_encode(t, text, true, ids, &n, &err), TL_OK);
        cr_assert_eq(ids[0], INF_TOKEN_BOS);
        cr_assert_lt(n, (int)strlen(text), "merges shorten the sequence");
        for (int i = 1; i < n; i++) {
                const char *p =
                    inf_tokenizer_piece(t, ids[i - 1], ids[i], &len);
                memcpy(back + at, p, len);
                at += len;
        }
        back[at] = '\0';
        cr_assert_str_eq(back, text);
        inf_tokenizer_free(&t);

        /* a tokenizer shorter than the model's vocabulary */
        cr_assert_eq(
            inf_tokenizer_open(path_in(d, "tokenizer.bin"), 301, &t, &err),
            TL_EINVAL);
        cr_assert_not_null(strstr(err.msg, "piece 300"), "%s", err.msg);
        cr_assert_eq(inf_tokenizer_write_bytes(path_in(d, "t.bin"), 100, &err),
                     TL_EINVAL);
        {
                int32_t bad[3] = {0, 0, 0};

                write_file(path_in(d, "t.bin"), bad, sizeof bad);
                cr_assert_eq(
                    inf_tokenizer_open(path_in(d, "t.bin"), 3, &t, &err),
                    TL_EINVAL);
                cr_assert_not_null(strstr(err.msg, "max_token_length 0"));
                bad[0] = 4;
                bad[2] = 9; /* piece 0 longer than the maximum */
                write_file(path_in(d, "t.bin"), bad, sizeof bad);
                cr_assert_eq(
                    inf_tokenizer_open(path_in(d, "t.bin"), 3, &t, &err),
                    TL_EINVAL);
                cr_assert_not_null(strstr(err.msg, "piece 0: length 9"));
        }
}

Test(model, request_events_validate_as_the_meter_would)
{
        struct inf_usage u = {.input_tokens = 12,
                              .output_tokens = 40,
                              .passes = 10,
                              .iterations = 10,
                              .macs = 123456789012ULL};
        struct inf_request r = {"req-1",
                                "cust_0042",
                                "cloud/test",
                                "m15",
                                SCH_DEPLOY_CLOUD,
                                INF_DECODE_DIFFUSION,
                                1793000000000000LL,
                                NULL,
                                NULL};
        struct inf_events evs;
        struct tl_error err;
        struct sch_decoder *dec;
        struct sch_options opt = {.now_us = 1793000000000000LL};

        cr_assert_eq(sch_decoder_new(&opt, &dec, &err), TL_OK);
        cr_assert_eq(inf_request_events(&r, &u, &evs, &err), TL_OK);
        cr_assert_eq(evs.n, 3);
        cr_assert_str_eq(evs.ids[0], "req-1/tokens");
        cr_assert_str_eq(evs.ids[1], "req-1/iterations");
        cr_assert_str_eq(evs.ids[2], "req-1/matrix_ops");
        for (size_t i = 0; i < evs.n; i++) {
                struct tl_buf b;
                struct sch_cbor_reader rd;
                struct sch_event ev;
                struct sch_str raw;

                tl_buf_init(&b, 0);
                cr_assert_eq(sch_encode_cbor(&evs.ev[i], &b, &err), TL_OK);
                cr_assert_eq(
                    sch_cbor_reader_open(&rd, b.data, b.len, false, &err),
                    TL_OK);
                cr_assert_eq(sch_cbor_reader_next(&rd, dec, &ev, &raw, &err),
                             TL_OK, "%s", err.msg);
                cr_assert(sch_event_equal(&ev, &evs.ev[i]));
                tl_buf_release(&b);
        }
        cr_assert_eq(evs.ev[1].iterations, 10);
        cr_assert_eq(evs.ev[1].tokens, 40);
        cr_assert_eq(evs.ev[2].mac, 123456789012ULL);
        r.decoding = INF_DECODE_AR;
        cr_assert_eq(inf_request_events(&r, &u, &evs, &err), TL_OK);
        cr_assert_eq(evs.n, 2, "no iterations for autoregressive decoding");
        r.id = "";
        cr_assert_eq(inf_request_events(&r, &u, &evs, &err), TL_EINVAL);
        cr_assert_not_null(strstr(err.msg, "request id"));
        sch_decoder_free(&dec);
}

static struct tk_proc_result tally(const char *const *args)
{
        const char *argv[40] = {tk_tally_bin()};
        struct tk_proc_result r;
        int i = 0;

        for (; args[i]; i++)
                argv[i + 1] = args[i];
        argv[i + 1] = NULL;
        cr_assert_eq(tk_run(argv, 60000, &r), 0);
        return r;
}

static void expect_exit(const char *const *args, int code, const char *needle)
{
        struct tk_proc_result r = tally(args);

        cr_assert_eq(r.exit_code, code, "%s: exit %d\n%s", args[1], r.exit_code,
                     r.err);
        cr_assert_not_null(strstr(r.err, needle), "stderr lacks '%s': %s",
                           needle, r.err);
        tk_proc_result_release(&r);
}

Test(model, cli_init_run_and_errors)
{
        char d[64];
        struct tk_proc_result r;

        snprintf(d, sizeof d, "/tmp/tally-infc-XXXXXX");
        cr_assert_not_null(mkdtemp(d));
        r = tally((const char *[]){"infer", "--init-model", d, "--dim", "32",
                                   "--layers", "1", "--heads", "2", "--vocab",
                                   "280", "--seq-len", "24", NULL});
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        r = tally((const char *[]){"infer", "--model", d, "--prompt", "hi",
                                   "--tokens", "6", "--decoding", "diffusion",
                                   "--k", "4", "--format", "json", "--q8",
                                   NULL});
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert_not_null(strstr(r.out, "\"output_tokens\":6"), "%s", r.out);
        cr_assert_not_null(strstr(r.out, "\"iterations\":2"), "%s", r.out);
        cr_assert_not_null(strstr(r.out, "\"unmasked_per_step\":[4,2]"));
        {
                /* jansson writes it: noise text included, it parses */
                json_t *doc = json_loads(r.out, 0, NULL);

                cr_assert_not_null(doc, "%s", r.out);
                cr_assert(json_is_string(json_object_get(doc, "text")));
                cr_assert_eq(
                    json_integer_value(json_object_get(doc, "output_tokens")),
                    6);
                json_decref(doc);
        }
        tk_proc_result_release(&r);

        expect_exit(
            (const char *[]){"infer", "--model", d, "--tokens", "0", NULL}, 2,
            "--tokens");
        expect_exit(
            (const char *[]){"infer", "--model", "/nonexistent/m", NULL}, 2,
            "/nonexistent/m");
        expect_exit((const char *[]){"infer", "--decoding", "beam", NULL}, 2,
                    "expected autoregressive or diffusion");
        expect_exit((const char *[]){"infer", "--threshold", "0.5", NULL}, 2,
                    "--threshold is for");
        expect_exit((const char *[]){"infer", "--offline", NULL}, 2,
                    "--offline needs --spool");
        expect_exit(
            (const char *[]){"infer", "--model", d, "--tokens", "30", NULL}, 2,
            "exceed the model's seq_len 24");
        expect_exit((const char *[]){"infer", "--init-model", d, "--dim", "30",
                                     "--heads", "4", NULL},
                    2, "dim 30 is not a multiple of n_heads 4");
        /* events the meter would refuse are refused before any work */
        expect_exit((const char *[]){"infer", "--model", d, "--tokens", "2",
                                     "--customer", "c", "--time",
                                     "1999-12-31T00:00:00Z", NULL},
                    2, "before 2000-01-01");
        expect_exit((const char *[]){"infer", "--model", d, "--tokens", "2",
                                     "--customer", "c", "--time", "soon", NULL},
                    2, "--time");
        expect_exit((const char *[]){"infer", "--model", d, "--tokens", "2",
                                     "--customer", "", NULL},
                    2, "customer");
}

/* A device's requests go to its spool with the seat events due: an
   activation on first use, a heartbeat on a later day, a deactivation. */
Test(model, cli_offline_requests_land_in_the_spool)
{
        char d[64], spool[128];
        struct tk_proc_result r;
        struct inf_spool *sp;
        struct tl_error err;

        snprintf(d, sizeof d, "/tmp/tally-info-XXXXXX");
        cr_assert_not_null(mkdtemp(d));
        snprintf(spool, sizeof spool, "%s/dev.cbor", d);
        r = tally((const char *[]){"infer", "--init-model", d, "--dim", "32",
                                   "--layers", "1", "--heads", "2", "--vocab",
                                   "280", "--seq-len", "24", "--quiet", NULL});
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        r = tally((const char *[]){
            "infer", "--model", d, "--tokens", "3", "--customer", "cust_1",
            "--offline", "--spool", spool, "--device", "dev1", "--time",
            "2026-10-14T10:00:00Z", "--request-id", "r1", NULL});
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert_not_null(strstr(r.err, "spooled 3 events (1 seat)"), "%s",
                           r.err);
        tk_proc_result_release(&r);
        r = tally((const char *[]){
            "infer", "--model", d, "--tokens", "4", "--decoding", "diffusion",
            "--customer", "cust_1", "--offline", "--spool", spool, "--device",
            "dev1", "--time", "2026-10-15T08:00:00Z", NULL});
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert_not_null(strstr(r.err, "spooled 4 events (1 seat)"), "%s",
                           r.err);
        tk_proc_result_release(&r);
        r = tally((const char *[]){"infer", "--customer", "cust_1", "--offline",
                                   "--spool", spool, "--device", "dev1",
                                   "--deactivate", NULL});
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        cr_assert_eq(inf_spool_open(spool, &sp, &err), TL_OK, "%s", err.msg);
        cr_assert_eq(inf_spool_count(sp), 8);
        inf_spool_free(&sp);
        /* an unusable spool path is an error, not a crash */
        expect_exit((const char *[]){"infer", "--model", d, "--tokens", "2",
                                     "--customer", "c", "--offline", "--spool",
                                     "/nonexistent/dir/s.cbor", NULL},
                    1, "/nonexistent/dir/s.cbor");
}

/* A model wider than both its vocabulary and its feed-forward: the int8
   writer's buffer must hold the dim x dim matrices too. */
Test(model, init_model_wider_than_vocab_and_hidden)
{
        struct inf_init_opts o = {.shape = {320, 32, 1, 4, 4, 259, 8},
                                  .seed = 5};
        struct inf_model *m;
        struct tl_error err;
        char d[64], p[128];

        snprintf(d, sizeof d, "/tmp/tally-infw-XXXXXX");
        cr_assert_not_null(mkdtemp(d));
        cr_assert_eq(inf_init_model(d, &o, &err), TL_OK, "%s", err.msg);
        snprintf(p, sizeof p, "%s/model-q8.bin", d);
        cr_assert_eq(inf_model_open(p, &m, &err), TL_OK, "%s", err.msg);
        cr_assert_eq(m->group, 32);
        inf_model_free(&m);
}

/* Every allocation of opening, decoding and closing fails in turn: each
   failure is TL_ENOMEM (or a clean error), never a crash, and the sanitizer
   build sees no leak. Inference allocates through core/alloc.h for this. */
Test(model, every_allocation_failure_unwinds_cleanly)
{
        const char *d = model_dir(false);
        bool done = false;

        for (long n = 0; !done && n < 10000; n++) {
                struct inf_model *m = NULL;
                struct inf_state *st = NULL;
                struct inf_tokenizer *t = NULL;
                struct inf_gen_opts ar = {.decoding = INF_DECODE_AR,
                                          .max_tokens = 4};
                struct inf_gen_opts dif = {
                    .decoding = INF_DECODE_DIFFUSION, .max_tokens = 4, .k = 2};
                int prompt[3] = {1, 70, 80}, out[8], got = 0;
                struct inf_usage u;
                struct tl_error err;
                tl_status rc;

                tl_alloc_fail_after(n);
                rc = inf_model_open(path_in(d, "model.bin"), &m, &err);
                if (!rc)
                        rc = inf_tokenizer_open(path_in(d, "tokenizer.bin"),
                                                m->shape.vocab_size, &t, &err);
                if (!rc)
                        rc = inf_state_new(m, 1, &st, &err);
                inf_sampler_init(&ar.sampler, 0.8f, 0.9f, 42);
                inf_sampler_init(&dif.sampler, 0.8f, 0.9f, 42);
                if (!rc)
                        rc = inf_generate(st, prompt, 3, &ar, out, &got, NULL,
                                          &u, &err);
                if (!rc)
                        rc = inf_generate(st, prompt, 3, &dif, out, &got, NULL,
                                          &u, &err);
                tl_alloc_fail_reset();
                if (rc)
                        cr_assert(rc == TL_ENOMEM || rc == TL_EIO,
                                  "allocation %ld: %s", n, err.msg);
                else
                        done = true;
                inf_state_free(&st);
                inf_tokenizer_free(&t);
                inf_model_free(&m);
                cr_assert_null(st);
                cr_assert_null(m);
                cr_assert_null(t);
        }
        cr_assert(done, "decoding succeeds once no allocation fails");
}
