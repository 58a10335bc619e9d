/* One request's metered events (docs/formats.md), with ids derived from the
   request id so that a retried emission deduplicates downstream. */
#ifndef INF_REQUEST_H
#define INF_REQUEST_H

#include <stddef.h>

#include "core/error.h"
#include "core/time.h"
#include "inference/engine.h"
#include "schemas/event.h"

#define INF_MAX_REQUEST_ID 100 /* leaves room for the suffixes in 128 */

struct inf_request {
        const char *id;      /* the request id: 1..100 bytes */
        const char *subject; /* the customer */
        const char *source;  /* e.g. cloud/eu-west-1/gw-3, device/<id> */
        const char *model;   /* the billed model name */
        sch_deployment deployment;
        inf_decoding decoding;
        tl_time_us time_us;
        /* What the request achieved (task.outcome), or NULL for no such
           event: 'task' 1..64 bytes, 'outcome' one word (NULL: success). */
        const char *task;
        const char *outcome;
};

/* The events of one request; strings point into the struct itself. */
struct inf_events {
        struct sch_event ev[4];
        size_t n;
        char ids[4][SCH_MAX_ID_BYTES + 1];
};

/*
** inference.tokens, then inference.iterations (diffusion only), then
** inference.matrix_ops, then task.outcome (with a task only, units 1), with
** ids "<id>/tokens", "<id>/iterations", "<id>/matrix_ops" and
** "<id>/outcome". Every field is checked as the meter would check it.
*/
tl_status inf_request_events(const struct inf_request *r,
                             const struct inf_usage *u, struct inf_events *out,
                             struct tl_error *err);

#endif
