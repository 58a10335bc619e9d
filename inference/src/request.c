/* A request's usage as the events the meter stores. */
#include "inference/request.h"

#include <stdio.h>
#include <string.h>

#include "schemas/decode.h"

static struct sch_str str_of(const char *s)
{
        return (struct sch_str){s, (uint32_t)strlen(s)};
}

static tl_status check(const char *what, const char *v, size_t max,
                       struct tl_error *err)
{
        size_t n = v ? strlen(v) : 0;

        if (n < 1 || n > max)
                return tl_fail(err, TL_EINVAL, "%s '%s': must be 1..%zu bytes",
                               what, v ? v : "", max);
        return TL_OK;
}

/* Each event through the meter's own decoder: what passes here is what
   the meter stores (UTF-8, time bounds and skew against this clock). */
static tl_status validate(const struct inf_events *evs, struct tl_error *err)
{
        struct sch_options opt = {0};
        struct sch_decoder *dec = NULL;
        struct tl_buf b;
        tl_status rc = sch_decoder_new(&opt, &dec, err);

        tl_buf_init(&b, 0);
        for (size_t i = 0; !rc && i < evs->n; i++) {
                struct sch_cbor_reader rd;
                struct sch_event ev;
                struct sch_str raw;

                tl_buf_clear(&b);
                rc = sch_encode_cbor(&evs->ev[i], &b, err);
                if (!rc)
                        rc = sch_cbor_reader_open(&rd, b.data, b.len, false,
                                                  err);
                if (!rc)
                        rc = sch_cbor_reader_next(&rd, dec, &ev, &raw, err);
                if (rc)
                        tl_error_prefix(err, "event %s", evs->ids[i]);
        }
        tl_buf_release(&b);
        sch_decoder_free(&dec);
        return rc;
}

/* The request's task.outcome, after its usage: where the work ran, as
   the usage says, so device and cloud resolutions price alike. */
static void outcome(const struct inf_request *r, struct inf_events *out)
{
        struct sch_event *e = &out->ev[out->n];

        snprintf(out->ids[out->n], sizeof out->ids[out->n], "%s/outcome",
                 r->id);
        e->type = SCH_TYPE_OUTCOME;
        e->id = str_of(out->ids[out->n]);
        e->source = str_of(r->source);
        e->subject = str_of(r->subject);
        e->time_us = r->time_us;
        e->task = str_of(r->task);
        e->outcome = str_of(r->outcome ? r->outcome : "success");
        e->deployment = r->deployment;
        e->units = 1;
        out->n++;
}

tl_status inf_request_events(const struct inf_request *r,
                             const struct inf_usage *u, struct inf_events *out,
                             struct tl_error *err)
{
        static const char *const suffix[] = {"tokens", "iterations",
                                             "matrix_ops"};
        const char *decoding = r->decoding == INF_DECODE_DIFFUSION
                                   ? "diffusion"
                                   : "autoregressive";
        tl_status rc = check("request id", r->id, INF_MAX_REQUEST_ID, err);

        if (!rc)
                rc = check("customer", r->subject, SCH_MAX_SUBJECT_BYTES, err);
        if (!rc)
                rc = check("source", r->source, SCH_MAX_SOURCE_BYTES, err);
        if (!rc)
                rc = check("model", r->model, SCH_MAX_NAME_BYTES, err);
        if (!rc && r->task)
                rc = check("task", r->task, SCH_MAX_TASK_BYTES, err);
        if (rc)
                return rc;
        memset(out, 0, sizeof *out);
        for (int k = 0; k < 3; k++) {
                struct sch_event *e;

                if (k == 1 && r->decoding != INF_DECODE_DIFFUSION)
                        continue;
                e = &out->ev[out->n];
                snprintf(out->ids[out->n], sizeof out->ids[out->n], "%s/%s",
                         r->id, suffix[k]);
                e->id = str_of(out->ids[out->n]);
                e->source = str_of(r->source);
                e->subject = str_of(r->subject);
                e->time_us = r->time_us;
                e->model = str_of(r->model);
                e->deployment = r->deployment;
                if (k == 0) {
                        e->type = SCH_TYPE_TOKENS;
                        e->decoding = str_of(decoding);
                        e->input_tokens = (uint64_t)u->input_tokens;
                        e->output_tokens = (uint64_t)u->output_tokens;
                } else if (k == 1) {
                        e->type = SCH_TYPE_ITERATIONS;
                        e->decoding = str_of(decoding);
                        e->iterations = (uint64_t)u->iterations;
                        e->tokens = (uint64_t)u->output_tokens;
                } else {
                        e->type = SCH_TYPE_MATRIX_OPS;
                        e->mac = u->macs;
                }
                out->n++;
        }
        if (r->task)
                outcome(r, out);
        return validate(out, err);
}
