/* Event names, field lookup, equality and the canonical content hash. */
#include "schemas/event.h"

#include <string.h>

static const char *const type_names[] = {"",
                                         "inference.tokens",
                                         "inference.iterations",
                                         "inference.matrix_ops",
                                         "device.seat",
                                         "task.outcome"};
static const char *const deployment_names[] = {"", "cloud", "device"};
static const char *const action_names[] = {"", "activate", "deactivate",
                                           "heartbeat"};

const char *sch_event_type_name(sch_event_type t)
{
        return (unsigned)t <= SCH_TYPE_LAST ? type_names[t] : "";
}

const char *sch_deployment_name(sch_deployment d)
{
        return (unsigned)d <= SCH_DEPLOY_DEVICE ? deployment_names[d] : "";
}

const char *sch_seat_action_name(sch_seat_action a)
{
        return (unsigned)a <= SCH_SEAT_HEARTBEAT ? action_names[a] : "";
}

sch_event_type sch_event_type_parse(const char *s, size_t len)
{
        /* Called for every event: lengths first, constant-size compares. */
        switch (len) {
        case 11:
                return memcmp(s, "device.seat", 11) == 0 ? SCH_TYPE_SEAT
                                                         : SCH_TYPE_NONE;
        case 12:
                return memcmp(s, "task.outcome", 12) == 0 ? SCH_TYPE_OUTCOME
                                                          : SCH_TYPE_NONE;
        case 16:
                return memcmp(s, "inference.tokens", 16) == 0 ? SCH_TYPE_TOKENS
                                                              : SCH_TYPE_NONE;
        case 20:
                if (memcmp(s, "inference.iterations", 20) == 0)
                        return SCH_TYPE_ITERATIONS;
                return memcmp(s, "inference.matrix_ops", 20) == 0
                           ? SCH_TYPE_MATRIX_OPS
                           : SCH_TYPE_NONE;
        default:
                return SCH_TYPE_NONE;
        }
}

static struct sch_str cstr(const char *s)
{
        return (struct sch_str){s, (uint32_t)strlen(s)};
}

bool sch_event_text_field(const struct sch_event *ev, const char *key,
                          struct sch_str *out)
{
        struct sch_str found = {NULL, 0};
        size_t klen = strlen(key);

        if (strcmp(key, "model") == 0)
                found = ev->model;
        else if (strcmp(key, "decoding") == 0)
                found = ev->decoding;
        else if (strcmp(key, "device_id") == 0)
                found = ev->device_id;
        else if (strcmp(key, "model_class") == 0)
                found = ev->model_class;
        else if (strcmp(key, "task") == 0)
                found = ev->task;
        else if (strcmp(key, "outcome") == 0)
                found = ev->outcome;
        else if (strcmp(key, "deployment") == 0 && ev->deployment)
                found = cstr(sch_deployment_name(ev->deployment));
        else if (strcmp(key, "action") == 0 && ev->action)
                found = cstr(sch_seat_action_name(ev->action));
        for (uint32_t i = 0; !found.ptr && i < ev->dim_count; i++)
                if (ev->dims[i].key.len == klen &&
                    memcmp(ev->dims[i].key.ptr, key, klen) == 0)
                        found = ev->dims[i].value;
        if (!found.ptr)
                return false;
        *out = found;
        return true;
}

static bool str_eq(struct sch_str a, struct sch_str b)
{
        return a.len == b.len &&
               (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool sch_event_equal(const struct sch_event *a, const struct sch_event *b)
{
        if (!str_eq(a->id, b->id) || !str_eq(a->source, b->source) ||
            !str_eq(a->subject, b->subject) || a->type != b->type ||
            a->time_us != b->time_us || !str_eq(a->model, b->model) ||
            a->deployment != b->deployment ||
            !str_eq(a->decoding, b->decoding) ||
            a->input_tokens != b->input_tokens ||
            a->output_tokens != b->output_tokens ||
            a->cached_input_tokens != b->cached_input_tokens ||
            a->iterations != b->iterations || a->tokens != b->tokens ||
            a->mac != b->mac || !str_eq(a->device_id, b->device_id) ||
            a->action != b->action || !str_eq(a->model_class, b->model_class) ||
            !str_eq(a->task, b->task) || !str_eq(a->outcome, b->outcome) ||
            a->units != b->units || a->dim_count != b->dim_count)
                return false;
        for (uint32_t i = 0; i < a->dim_count; i++)
                if (!str_eq(a->dims[i].key, b->dims[i].key) ||
                    !str_eq(a->dims[i].value, b->dims[i].value))
                        return false;
        return true;
}

/* The canonical form: big-endian integers, strings length-prefixed. It is
   bounded (every string has a cap), so a stack buffer holds it. */
#define CANON_MAX                                                              \
        (64 + 7 * 4 + SCH_MAX_ID_BYTES + SCH_MAX_SOURCE_BYTES +                \
         SCH_MAX_SUBJECT_BYTES + 4 * SCH_MAX_NAME_BYTES + 8 * 8 +              \
         SCH_MAX_TASK_BYTES + SCH_MAX_WORD_BYTES + 4 * 2 + 8 +                 \
         SCH_MAX_DIMS * (8 + SCH_MAX_DIM_KEY_BYTES + SCH_MAX_DIM_VALUE_BYTES))

struct canon {
        unsigned char buf[CANON_MAX];
        size_t len;
};

static void put_u64(struct canon *c, uint64_t v)
{
        for (int i = 7; i >= 0; i--)
                c->buf[c->len++] = (unsigned char)(v >> (i * 8));
}

static void put_str(struct canon *c, struct sch_str s)
{
        for (int i = 3; i >= 0; i--)
                c->buf[c->len++] = (unsigned char)(s.len >> (i * 8));
        if (s.len)
                memcpy(c->buf + c->len, s.ptr, s.len);
        c->len += s.len;
}

void sch_event_hash(const struct sch_event *ev,
                    unsigned char out[SCH_HASH_BYTES])
{
        static const char magic[] = "tally-event-v1";
        struct canon c;

        c.len = 0;
        memcpy(c.buf, magic, sizeof magic);
        c.len = sizeof magic;
        c.buf[c.len++] = (unsigned char)ev->type;
        put_u64(&c, (uint64_t)ev->time_us);
        put_str(&c, ev->id);
        put_str(&c, ev->source);
        put_str(&c, ev->subject);
        put_str(&c, ev->model);
        c.buf[c.len++] = (unsigned char)ev->deployment;
        put_str(&c, ev->decoding);
        put_u64(&c, ev->input_tokens);
        put_u64(&c, ev->output_tokens);
        put_u64(&c, ev->cached_input_tokens);
        put_u64(&c, ev->iterations);
        put_u64(&c, ev->tokens);
        put_u64(&c, ev->mac);
        put_str(&c, ev->device_id);
        c.buf[c.len++] = (unsigned char)ev->action;
        put_str(&c, ev->model_class);
        /* Only for the type that has them: the hashes of the other types,
           stored with every event since 0001, must not change. */
        if (ev->type == SCH_TYPE_OUTCOME) {
                put_str(&c, ev->task);
                put_str(&c, ev->outcome);
                put_u64(&c, ev->units);
        }
        put_u64(&c, ev->dim_count);
        for (uint32_t i = 0; i < ev->dim_count && i < SCH_MAX_DIMS; i++) {
                put_str(&c, ev->dims[i].key);
                put_str(&c, ev->dims[i].value);
        }
        sch_sha256(c.buf, c.len, out);
}
