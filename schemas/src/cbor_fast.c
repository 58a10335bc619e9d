/*
** The CBOR reader's fast path: an event in the shape sch_encode_cbor and
** the load generator write (a map of 7 in the order specversion, id,
** source, type, subject, time, data; data's typed fields in the encoder's
** order, then dimensions), read as a sequence of expected bytes.
**
** The same contract as the JSON fast path (json_fast.c): it says yes only
** when the general reader would accept the same bytes, end the item at the
** same byte and leave the same event; on anything else (another order, a
** tag on the map, non-ASCII text, a float time, a count past 2^63 - 1, an
** extension) it says no and the general reader decides and words the
** error. tests/schemas/test_cbor_fast.c and the CBOR fuzzer hold it to
** that.
*/
#include "cbor_fast.h"

#include "fast.h"

#define LIT SCH__LIT

#define Y10000_S INT64_C(253402300800)

/* A definite head of major type 'major' at c->p, stepped over. */
static inline __attribute__((always_inline)) bool
head(struct sch__fcur *c, unsigned major, uint64_t *arg)
{
        return sch__cbor_head(&c->p, c->end, major, arg);
}

/* A text string of plain ASCII (no NUL), 'min' to 'max' bytes. 'base' is
   the item's first byte, for the word-wise check's look back. */
static inline __attribute__((always_inline)) bool
text(struct sch__fcur *c, const unsigned char *base, uint32_t min, uint32_t max,
     struct sch_str *out)
{
        uint64_t n;

        if (!head(c, 3, &n) || n < min || n > max ||
            n > (uint64_t)(c->end - c->p) ||
            !sch__plain_ascii((const char *)c->p, (size_t)n,
                              (const char *)base))
                return false;
        out->ptr = (const char *)c->p;
        out->len = (uint32_t)n;
        c->p += n;
        return true;
}

/* An unsigned count below 2^63, at least 'min'. */
static inline __attribute__((always_inline)) bool
count(struct sch__fcur *c, uint64_t min, uint64_t *out)
{
        return head(c, 0, out) && *out <= (uint64_t)SCH_MAX_COUNT &&
               *out >= min;
}

static bool type_of(struct sch__fcur *c, sch_event_type *t)
{
        if (LIT(c, "\x70inference.tokens"))
                *t = SCH_TYPE_TOKENS;
        else if (LIT(c, "\x74inference.iterations"))
                *t = SCH_TYPE_ITERATIONS;
        else if (LIT(c, "\x74inference.matrix_ops"))
                *t = SCH_TYPE_MATRIX_OPS;
        else if (LIT(c, "\x6b"
                        "device.seat"))
                *t = SCH_TYPE_SEAT;
        else if (LIT(c, "\x6ctask.outcome"))
                *t = SCH_TYPE_OUTCOME;
        else
                return false;
        return true;
}

static inline __attribute__((always_inline)) bool
deployment(struct sch__fcur *c, struct sch_event *ev)
{
        if (LIT(c, "\x6a"
                   "deployment\x65"
                   "cloud"))
                ev->deployment = SCH_DEPLOY_CLOUD;
        else if (LIT(c, "\x6a"
                        "deployment\x66"
                        "device"))
                ev->deployment = SCH_DEPLOY_DEVICE;
        else
                return false;
        return true;
}

/* 'time': epoch seconds under tag 1, or RFC 3339 text (tag 0 or none). */
static bool when(struct sch__fcur *c, const unsigned char *base,
                 struct sch_decoder *d, struct sch_event *ev)
{
        struct sch_str s;
        uint64_t secs;

        if (!LIT(c, "\x64time") || c->p == c->end)
                return false;
        if (*c->p == 0xc1) {
                c->p++;
                if (!head(c, 0, &secs) || secs >= (uint64_t)Y10000_S)
                        return false;
                ev->time_us = (tl_time_us)secs * TL_US_PER_SEC;
        } else {
                if (*c->p == 0xc0)
                        c->p++;
                if (!text(c, base, 0, 64, &s) ||
                    !sch__fast_time_text(d, s, &ev->time_us))
                        return false;
        }
        return sch__fast_time_ok(d, ev->time_us);
}

/* Data's typed fields in sch_encode_cbor's order; '*n' is how many. */
static bool typed(struct sch__fcur *c, const unsigned char *base,
                  struct sch_event *ev, uint64_t *n)
{
        const uint32_t name = SCH_MAX_NAME_BYTES;

        if (ev->type == SCH_TYPE_SEAT) {
                *n = 3;
                if (!LIT(c, "\x69"
                            "device_id") ||
                    !text(c, base, 1, name, &ev->device_id))
                        return false;
                if (LIT(c, "\x66"
                           "action\x69heartbeat"))
                        ev->action = SCH_SEAT_HEARTBEAT;
                else if (LIT(c, "\x66"
                                "action\x68"
                                "activate"))
                        ev->action = SCH_SEAT_ACTIVATE;
                else if (LIT(c, "\x66"
                                "action\x6a"
                                "deactivate"))
                        ev->action = SCH_SEAT_DEACTIVATE;
                else
                        return false;
                return LIT(c, "\x6bmodel_class") &&
                       text(c, base, 1, name, &ev->model_class);
        }
        if (ev->type == SCH_TYPE_OUTCOME) {
                if (!LIT(c, "\x64task") ||
                    !text(c, base, 1, SCH_MAX_TASK_BYTES, &ev->task) ||
                    !LIT(c, "\x67outcome") ||
                    !text(c, base, 1, SCH_MAX_WORD_BYTES, &ev->outcome) ||
                    !sch__is_word(ev->outcome) || !deployment(c, ev))
                        return false;
                *n = 3;
                ev->units = 1;
                if (!LIT(c, "\x65units"))
                        return true;
                *n = 4;
                return count(c, 0, &ev->units);
        }
        if (!LIT(c, "\x65model") || !text(c, base, 1, name, &ev->model) ||
            !deployment(c, ev))
                return false;
        switch (ev->type) {
        case SCH_TYPE_TOKENS:
                if (!LIT(c, "\x68"
                            "decoding") ||
                    !text(c, base, 1, name, &ev->decoding) ||
                    !LIT(c, "\x6cinput_tokens") ||
                    !count(c, 0, &ev->input_tokens) ||
                    !LIT(c, "\x6doutput_tokens") ||
                    !count(c, 0, &ev->output_tokens))
                        return false;
                *n = 5;
                if (!LIT(c, "\x73"
                            "cached_input_tokens"))
                        return true;
                *n = 6;
                return count(c, 0, &ev->cached_input_tokens);
        case SCH_TYPE_ITERATIONS:
                *n = 5;
                return LIT(c, "\x68"
                              "decoding") &&
                       text(c, base, 1, name, &ev->decoding) &&
                       LIT(c, "\x6aiterations") &&
                       count(c, 1, &ev->iterations) && LIT(c, "\x66tokens") &&
                       count(c, 0, &ev->tokens);
        default:
                *n = 3;
                return LIT(c, "\x63mac") && count(c, 0, &ev->mac);
        }
}

bool sch__cbor_fast(struct sch_decoder *d, const unsigned char *p, size_t len,
                    struct sch_event *ev, size_t *item_len)
{
        struct sch__fcur c = {p, p + len};
        uint64_t entries, n;

        sch__fast_clear(ev);
        if (!LIT(&c, "\xa7\x6bspecversion\x63"
                     "1.0\x62id") ||
            !text(&c, p, 1, SCH_MAX_ID_BYTES, &ev->id) ||
            !LIT(&c, "\x66source") ||
            !text(&c, p, 1, SCH_MAX_SOURCE_BYTES, &ev->source) ||
            !LIT(&c, "\x64type") || !type_of(&c, &ev->type) ||
            !LIT(&c, "\x67subject") ||
            !text(&c, p, 1, SCH_MAX_SUBJECT_BYTES, &ev->subject) ||
            !when(&c, p, d, ev) ||
            !LIT(&c, "\x64"
                     "data") ||
            !head(&c, 5, &entries) || !typed(&c, p, ev, &n) || entries < n ||
            entries - n > SCH_MAX_DIMS)
                return false;
        for (uint64_t i = n; i < entries; i++) {
                struct sch_str k, v;

                if (!text(&c, p, 1, SCH_MAX_DIM_KEY_BYTES, &k) ||
                    !text(&c, p, 0, SCH_MAX_DIM_VALUE_BYTES, &v) ||
                    !sch__fast_dim(ev, k, v))
                        return false;
        }
        *item_len = (size_t)(c.p - p);
        return true;
}
