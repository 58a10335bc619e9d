/*
** The JSON reader's fast path: an event in the shape sch_encode_json, the
** load generator and most producers write, read as one sequence of
** expected literals instead of a general parse.
**
** It may only say yes when the general reader would say yes to the same
** bytes and leave the same event: anything it is not sure of (another key
** order, whitespace, an escape, a non-ASCII byte, an extension attribute,
** a value out of bounds, a number it would have to think about) makes it
** say no, and the general reader then decides and words the error. So it
** never reports anything itself. tests/schemas/test_fast.c and the
** JSON fuzzer hold it to that against the general reader.
*/
#include "fast.h"
#include "json.h"

#define LIT SCH__LIT

/*
** A string body at c->p (just past its opening quote) of plain ASCII
** bytes, 'min' to 'max' long, into 'out'; c->p steps past the closing
** quote.
*/
static inline __attribute__((always_inline)) bool
str(struct sch__fcur *c, uint32_t min, uint32_t max, struct sch_str *out)
{
        const unsigned char *s = c->p, *p = c->p;

        for (;;) {
                if (c->end - p >= 8) {
                        uint64_t m = sch__special8(p);
                        if (!m) {
                                p += 8;
                                continue;
                        }
                        p += __builtin_ctzll(m) >> 3;
                } else {
                        while (p < c->end && sch__plain[*p])
                                p++;
                        if (p == c->end)
                                return false;
                }
                break;
        }
        if (*p != '"' || (size_t)(p - s) < min || (size_t)(p - s) > max)
                return false;
        out->ptr = (const char *)s;
        out->len = (uint32_t)(p - s);
        c->p = p + 1;
        return true;
}

/*
** A count at c->p: digits without a leading zero, at most 18 of them (so
** below 2^63 without a check), and then ',' or '}' (not a fraction or an
** exponent, which the general reader refuses with a message).
*/
static inline __attribute__((always_inline)) bool
count(struct sch__fcur *c, uint64_t min, uint64_t *out)
{
        const unsigned char *p = c->p, *stop;
        uint64_t v = 0;

        if (p == c->end || (unsigned)(*p - '0') > 9)
                return false;
        if (*p == '0') {
                p++;
        } else {
                stop = c->end - p > 18 ? p + 18 : c->end;
                while (p < stop && (unsigned)(*p - '0') <= 9)
                        v = v * 10 + (unsigned)(*p++ - '0');
        }
        if (p == c->end || (*p != ',' && *p != '}') || v < min)
                return false;
        *out = v;
        c->p = p;
        return true;
}

static bool type_of(struct sch__fcur *c, sch_event_type *t)
{
        if (LIT(c, "inference.tokens\""))
                *t = SCH_TYPE_TOKENS;
        else if (LIT(c, "inference.iterations\""))
                *t = SCH_TYPE_ITERATIONS;
        else if (LIT(c, "inference.matrix_ops\""))
                *t = SCH_TYPE_MATRIX_OPS;
        else if (LIT(c, "device.seat\""))
                *t = SCH_TYPE_SEAT;
        else if (LIT(c, "task.outcome\""))
                *t = SCH_TYPE_OUTCOME;
        else
                return false;
        return true;
}

static inline __attribute__((always_inline)) bool
deployment(struct sch__fcur *c, struct sch_event *ev)
{
        if (LIT(c, ",\"deployment\":\"cloud\""))
                ev->deployment = SCH_DEPLOY_CLOUD;
        else if (LIT(c, ",\"deployment\":\"device\""))
                ev->deployment = SCH_DEPLOY_DEVICE;
        else
                return false;
        return true;
}

/* The typed fields of data, in sch_encode_json's order. */
static bool typed(struct sch__fcur *c, struct sch_event *ev)
{
        switch (ev->type) {
        case SCH_TYPE_TOKENS:
                if (!LIT(c, "\"model\":\"") ||
                    !str(c, 1, SCH_MAX_NAME_BYTES, &ev->model) ||
                    !deployment(c, ev) || !LIT(c, ",\"decoding\":\"") ||
                    !str(c, 1, SCH_MAX_NAME_BYTES, &ev->decoding) ||
                    !LIT(c, ",\"input_tokens\":") ||
                    !count(c, 0, &ev->input_tokens) ||
                    !LIT(c, ",\"output_tokens\":") ||
                    !count(c, 0, &ev->output_tokens))
                        return false;
                return !LIT(c, ",\"cached_input_tokens\":") ||
                       count(c, 0, &ev->cached_input_tokens);
        case SCH_TYPE_ITERATIONS:
                return LIT(c, "\"model\":\"") &&
                       str(c, 1, SCH_MAX_NAME_BYTES, &ev->model) &&
                       deployment(c, ev) && LIT(c, ",\"decoding\":\"") &&
                       str(c, 1, SCH_MAX_NAME_BYTES, &ev->decoding) &&
                       LIT(c, ",\"iterations\":") &&
                       count(c, 1, &ev->iterations) && LIT(c, ",\"tokens\":") &&
                       count(c, 0, &ev->tokens);
        case SCH_TYPE_MATRIX_OPS:
                return LIT(c, "\"model\":\"") &&
                       str(c, 1, SCH_MAX_NAME_BYTES, &ev->model) &&
                       deployment(c, ev) && LIT(c, ",\"mac\":") &&
                       count(c, 0, &ev->mac);
        case SCH_TYPE_OUTCOME:
                if (!LIT(c, "\"task\":\"") ||
                    !str(c, 1, SCH_MAX_TASK_BYTES, &ev->task) ||
                    !LIT(c, ",\"outcome\":\"") ||
                    !str(c, 1, SCH_MAX_WORD_BYTES, &ev->outcome) ||
                    !sch__is_word(ev->outcome) || !deployment(c, ev))
                        return false;
                ev->units = 1;
                return !LIT(c, ",\"units\":") || count(c, 0, &ev->units);
        default:
                if (!LIT(c, "\"device_id\":\"") ||
                    !str(c, 1, SCH_MAX_NAME_BYTES, &ev->device_id))
                        return false;
                if (LIT(c, ",\"action\":\"heartbeat\""))
                        ev->action = SCH_SEAT_HEARTBEAT;
                else if (LIT(c, ",\"action\":\"activate\""))
                        ev->action = SCH_SEAT_ACTIVATE;
                else if (LIT(c, ",\"action\":\"deactivate\""))
                        ev->action = SCH_SEAT_DEACTIVATE;
                else
                        return false;
                return LIT(c, ",\"model_class\":\"") &&
                       str(c, 1, SCH_MAX_NAME_BYTES, &ev->model_class);
        }
}

/* Dimension fields after the typed ones. */
static bool dims(struct sch__fcur *c, struct sch_event *ev)
{
        while (LIT(c, ",\"")) {
                struct sch_str k, v;

                if (!str(c, 1, SCH_MAX_DIM_KEY_BYTES, &k) || !LIT(c, ":\"") ||
                    !str(c, 0, SCH_MAX_DIM_VALUE_BYTES, &v) ||
                    !sch__fast_dim(ev, k, v))
                        return false;
        }
        return true;
}

bool sch__json_fast(struct sch_decoder *d, const unsigned char *p, size_t len,
                    struct sch_event *ev)
{
        struct sch__fcur c = {p, p + len};
        struct sch_str when;

        sch__fast_clear(ev);
        if (!LIT(&c, "{\"specversion\":\"1.0\",\"id\":\"") ||
            !str(&c, 1, SCH_MAX_ID_BYTES, &ev->id) ||
            !LIT(&c, ",\"source\":\"") ||
            !str(&c, 1, SCH_MAX_SOURCE_BYTES, &ev->source) ||
            !LIT(&c, ",\"type\":\"") || !type_of(&c, &ev->type) ||
            !LIT(&c, ",\"subject\":\"") ||
            !str(&c, 1, SCH_MAX_SUBJECT_BYTES, &ev->subject) ||
            !LIT(&c, ",\"time\":\"") || !str(&c, 0, 64, &when) ||
            !sch__fast_time_text(d, when, &ev->time_us) ||
            !sch__fast_time_ok(d, ev->time_us) || !LIT(&c, ",\"data\":{") ||
            !typed(&c, ev) || !dims(&c, ev) || !LIT(&c, "}}") || c.p != c.end)
                return false;
        tl_arena_reset(&d->arena);
        return true;
}
