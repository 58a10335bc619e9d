/* What a meter reads from an event or a rollup row: the text attributes
   its filters and group_by name, and the counts it sums. */
#ifndef RATE_FIELDS_H
#define RATE_FIELDS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "rating/catalog.h"
#include "rating/usage.h"
#include "schemas/event.h"

static inline bool text_field(const struct sch_event *ev,
                              const struct rate_field *f, struct sch_str *out)
{
        const char *s;

        switch (f->kind) {
        case RATE_FIELD_MODEL:
                *out = ev->model;
                return out->ptr != NULL;
        case RATE_FIELD_DECODING:
                *out = ev->decoding;
                return out->ptr != NULL;
        case RATE_FIELD_DEVICE_ID:
                *out = ev->device_id;
                return out->ptr != NULL;
        case RATE_FIELD_MODEL_CLASS:
                *out = ev->model_class;
                return out->ptr != NULL;
        case RATE_FIELD_TASK:
                *out = ev->task;
                return out->ptr != NULL;
        case RATE_FIELD_OUTCOME:
                *out = ev->outcome;
                return out->ptr != NULL;
        case RATE_FIELD_DEPLOYMENT:
                if (ev->deployment == SCH_DEPLOY_CLOUD)
                        *out = (struct sch_str){"cloud", 5};
                else if (ev->deployment == SCH_DEPLOY_DEVICE)
                        *out = (struct sch_str){"device", 6};
                else
                        return false;
                return true;
        case RATE_FIELD_ACTION:
                if (!ev->action)
                        return false;
                s = sch_seat_action_name(ev->action);
                *out = (struct sch_str){s, (uint32_t)strlen(s)};
                return true;
        default:
                break;
        }
        for (uint32_t i = 0; i < ev->dim_count; i++)
                if (ev->dims[i].key.len == f->name_len &&
                    memcmp(ev->dims[i].key.ptr, f->name, f->name_len) == 0) {
                        *out = ev->dims[i].value;
                        return true;
                }
        return false;
}

static inline uint64_t count_field(const struct sch_event *ev,
                                   rate_field_kind k)
{
        switch (k) {
        case RATE_FIELD_INPUT_TOKENS:
                return ev->input_tokens;
        case RATE_FIELD_OUTPUT_TOKENS:
                return ev->output_tokens;
        case RATE_FIELD_CACHED_INPUT_TOKENS:
                return ev->cached_input_tokens;
        case RATE_FIELD_ITERATIONS:
                return ev->iterations;
        case RATE_FIELD_TOKENS:
                return ev->tokens;
        case RATE_FIELD_MAC:
                return ev->mac;
        case RATE_FIELD_UNITS:
                return ev->units;
        default:
                return 0;
        }
}

static inline tl_u128 rollup_field(const struct rate_rollup *r,
                                   rate_field_kind k)
{
        switch (k) {
        case RATE_FIELD_INPUT_TOKENS:
                return r->input_tokens;
        case RATE_FIELD_OUTPUT_TOKENS:
                return r->output_tokens;
        case RATE_FIELD_CACHED_INPUT_TOKENS:
                return r->cached_input_tokens;
        case RATE_FIELD_ITERATIONS:
                return r->iterations;
        case RATE_FIELD_TOKENS:
                return r->tokens;
        case RATE_FIELD_MAC:
                return r->mac;
        case RATE_FIELD_UNITS:
                return r->units;
        default:
                return 0;
        }
}

#endif
