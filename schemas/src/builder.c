/* The event builder: every validation rule of docs/formats.md, for both codecs.
 */
#include "builder.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

enum {
        ATTR_SPECVERSION = 1u << 0,
        ATTR_ID = 1u << 1,
        ATTR_SOURCE = 1u << 2,
        ATTR_TYPE = 1u << 3,
        ATTR_SUBJECT = 1u << 4,
        ATTR_TIME = 1u << 5,
        ATTR_DATA = 1u << 6,
        ATTR_ALL = (1u << 7) - 1,
};

static const struct {
        const char *name;
        unsigned bit;
} attrs[] = {
    {"specversion", ATTR_SPECVERSION},
    {"id", ATTR_ID},
    {"source", ATTR_SOURCE},
    {"type", ATTR_TYPE},
    {"subject", ATTR_SUBJECT},
    {"time", ATTR_TIME},
    {"data", ATTR_DATA},
};

const char *sch__kind_name(sch__kind k)
{
        static const char *const names[] = {"text",
                                            "unsigned integer",
                                            "unsigned integer",
                                            "negative integer",
                                            "number",
                                            "boolean",
                                            "null",
                                            "undefined",
                                            "byte string",
                                            "map",
                                            "array"};
        return names[k];
}

static bool str_is(struct sch_str s, const char *lit)
{
        size_t n = strlen(lit);
        return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

void sch__builder_start(struct sch__builder *b, struct sch_event *ev, bool json)
{
        /* Everything but the dimension array, which dim_count guards. */
        memset(ev, 0, offsetof(struct sch_event, dims));
        b->ev = ev;
        b->seen = 0;
        b->json = json;
        b->ndata = 0;
        b->data_seen = 0;
        b->nfields = 0;
        b->rc = TL_OK;
}

/* Keep only the first error: later ones are often its consequences. */
#define FAIL(b, err, code, ...)                                                \
        ((b)->rc ? (b)->rc : ((b)->rc = tl_fail((err), (code), __VA_ARGS__)))

/* What a value is, for "got ..." in messages; numbers show their text. */
static void describe(const struct sch__value *v, char *out, size_t size)
{
        if (v->tag != SCH__NO_TAG)
                snprintf(out, size, "tagged item (tag %llu)",
                         (unsigned long long)v->tag);
        else if ((v->kind == SCH__FLOAT || v->kind == SCH__NEGINT) &&
                 v->text.len)
                snprintf(out, size, "%s %.*s", sch__kind_name(v->kind),
                         (int)(v->text.len > 40 ? 40 : v->text.len),
                         v->text.ptr);
        else
                snprintf(out, size, "%s", sch__kind_name(v->kind));
}

/* Why a text value failed check_text; formatted only then. */
static __attribute__((cold, noinline)) tl_status
text_failure(struct sch__builder *b, const char *prefix, const char *name,
             const struct sch__value *v, size_t min, size_t max,
             struct tl_error *err)
{
        char got[64];

        if (v->kind != SCH__TEXT || v->tag != SCH__NO_TAG) {
                describe(v, got, sizeof got);
                return FAIL(b, err, TL_EINVAL, "%s%s: expected text, got %s",
                            prefix, name, got);
        }
        if (v->text.len < min)
                return FAIL(b, err, TL_EINVAL, "%s%s: must not be empty",
                            prefix, name);
        if (v->text.len > max)
                return FAIL(b, err, TL_EINVAL,
                            "%s%s: longer than %zu bytes (%u)", prefix, name,
                            max, v->text.len);
        return FAIL(b, err, TL_EINVAL, "%s%s: NUL character not allowed",
                    prefix, name);
}

/*
** A text value used as an identifier or name: length bounds, no NUL.
** The field path is 'prefix' + 'name' ("data." + "model"), formatted only
** when there is an error, which keeps the valid path to a few compares.
*/
static inline tl_status check_text(struct sch__builder *b, const char *prefix,
                                   const char *name, const struct sch__value *v,
                                   size_t min, size_t max, struct tl_error *err)
{
        if (v->kind == SCH__TEXT && v->tag == SCH__NO_TAG &&
            v->text.len >= min && v->text.len <= max && !v->has_nul)
                return TL_OK;
        return text_failure(b, prefix, name, v, min, max, err);
}

static tl_status set_type(struct sch__builder *b, const struct sch__value *v,
                          struct tl_error *err)
{
        tl_status rc = check_text(b, "", "type", v, 1, 64, err);

        if (rc)
                return rc;
        b->ev->type = sch_event_type_parse(v->text.ptr, v->text.len);
        if (b->ev->type == SCH_TYPE_NONE)
                return FAIL(b, err, TL_EINVAL,
                            "type: unknown event type \"%.*s\"",
                            (int)v->text.len, v->text.ptr);
        return TL_OK;
}

static tl_status set_attr(struct sch__builder *b, unsigned bit,
                          const struct sch__value *v, struct tl_error *err)
{
        char got[64];

        switch (bit) {
        case ATTR_SPECVERSION:
                if (v->kind != SCH__TEXT || !str_is(v->text, "1.0"))
                        return FAIL(b, err, TL_EINVAL,
                                    "specversion: expected \"1.0\"");
                return TL_OK;
        case ATTR_ID:
                b->ev->id = v->text;
                return check_text(b, "", "id", v, 1, SCH_MAX_ID_BYTES, err);
        case ATTR_SOURCE:
                b->ev->source = v->text;
                return check_text(b, "", "source", v, 1, SCH_MAX_SOURCE_BYTES,
                                  err);
        case ATTR_SUBJECT:
                b->ev->subject = v->text;
                return check_text(b, "", "subject", v, 1, SCH_MAX_SUBJECT_BYTES,
                                  err);
        case ATTR_TYPE:
                return set_type(b, v, err);
        case ATTR_TIME:
                b->time = *v;
                return TL_OK;
        default: /* ATTR_DATA */
                if (v->kind != SCH__MAP || v->tag != SCH__NO_TAG) {
                        describe(v, got, sizeof got);
                        return FAIL(b, err, TL_EINVAL,
                                    "data: expected map, got %s", got);
                }
                return TL_OK;
        }
}

/* Index in attrs[] of 'key', or -1. Lengths first: most keys differ in
   them, and memcmp of a constant size compiles to a few compares. */
static int attr_index(struct sch_str k)
{
        switch (k.len) {
        case 2:
                return memcmp(k.ptr, "id", 2) == 0 ? 1 : -1;
        case 4:
                if (memcmp(k.ptr, "type", 4) == 0)
                        return 3;
                if (memcmp(k.ptr, "time", 4) == 0)
                        return 5;
                return memcmp(k.ptr, "data", 4) == 0 ? 6 : -1;
        case 6:
                return memcmp(k.ptr, "source", 6) == 0 ? 2 : -1;
        case 7:
                return memcmp(k.ptr, "subject", 7) == 0 ? 4 : -1;
        case 11:
                return memcmp(k.ptr, "specversion", 11) == 0 ? 0 : -1;
        default:
                return -1;
        }
}

tl_status sch__builder_top(struct sch__builder *b, struct sch_str key,
                           const struct sch__value *v, struct tl_error *err)
{
        int i = attr_index(key);

        /* Any other attribute is a CloudEvents extension: not ours. */
        if (i < 0)
                return b->rc;
        if (b->seen & attrs[i].bit)
                return FAIL(b, err, TL_EINVAL, "%s: attribute given twice",
                            attrs[i].name);
        b->seen |= attrs[i].bit;
        return set_attr(b, attrs[i].bit, v, err);
}

/* ---- time ---- */

#define Y10000_S INT64_C(253402300800)

static tl_status epoch_seconds(struct sch__builder *b,
                               const struct sch__value *v, tl_time_us *out,
                               struct tl_error *err)
{
        if (v->kind == SCH__UINT) {
                if (v->u >= (uint64_t)Y10000_S)
                        return FAIL(b, err, TL_EINVAL,
                                    "time: %llu s is past year 9999",
                                    (unsigned long long)v->u);
                *out = (tl_time_us)v->u * TL_US_PER_SEC;
                return TL_OK;
        }
        if (v->kind == SCH__NEGINT)
                return FAIL(b, err, TL_EINVAL,
                            "time: before 2000-01-01T00:00:00Z");
        if (v->kind == SCH__FLOAT) {
                if (!isfinite(v->f) || v->f < 0 || v->f >= (double)Y10000_S)
                        return FAIL(b, err, TL_EINVAL,
                                    "time: epoch seconds out of range");
                *out = (tl_time_us)llround(v->f * 1e6);
                return TL_OK;
        }
        return FAIL(b, err, TL_EINVAL,
                    "time: tag 1 needs epoch seconds, got %s",
                    sch__kind_name(v->kind));
}

static tl_status resolve_time(struct sch__builder *b,
                              const struct sch_options *opt,
                              struct tl_error *err)
{
        const struct sch__value *v = &b->time;
        tl_time_us t = 0, now, skew;
        char got[64], when[40];
        tl_status rc;

        if (v->kind == SCH__TEXT && (v->tag == SCH__NO_TAG || v->tag == 0)) {
                rc = tl_time_parse_rfc3339(v->text.ptr, v->text.len, &t, err);
                if (rc) {
                        /* The parser's reason, under this field's name. */
                        tl_error_prefix(err, "time");
                        if (err)
                                err->code = TL_EINVAL;
                        return b->rc = TL_EINVAL;
                }
        } else if (v->tag == 1) {
                rc = epoch_seconds(b, v, &t, err);
                if (rc)
                        return rc;
        } else {
                describe(v, got, sizeof got);
                return FAIL(b, err, TL_EINVAL,
                            b->json ? "time: expected RFC 3339 text, got %s"
                                    : "time: expected RFC 3339 text (tag 0) "
                                      "or epoch seconds (tag 1), got %s",
                            got);
        }
        if (t < SCH__Y2000_US) {
                tl_time_format_rfc3339(t, when, sizeof when);
                return FAIL(b, err, TL_EINVAL,
                            "time: %s is before 2000-01-01T00:00:00Z", when);
        }
        now = opt->now_us ? opt->now_us : tl_time_now_us();
        skew = opt->skew_us ? opt->skew_us : SCH_DEFAULT_SKEW_US;
        if (t > now + skew) {
                tl_time_format_rfc3339(t, when, sizeof when);
                return FAIL(b, err, TL_EINVAL,
                            "time: %s is more than %lld s ahead of the "
                            "receiver's clock",
                            when, (long long)(skew / TL_US_PER_SEC));
        }
        b->ev->time_us = t;
        return TL_OK;
}

/* ---- data fields by type ---- */

typedef enum { F_NAME, F_DEPLOY, F_ACTION, F_COUNT, F_WORD } field_kind;

struct field_spec {
        const char *name;
        field_kind kind;
        size_t offset;
        bool required;
        uint64_t min; /* counts: the least value; names and words: the most
                         bytes (0: SCH_MAX_NAME_BYTES) */
};

#define EV_OFF(f) offsetof(struct sch_event, f)

static const struct field_spec tokens_fields[] = {
    {"model", F_NAME, EV_OFF(model), true, 0},
    {"deployment", F_DEPLOY, 0, true, 0},
    {"decoding", F_NAME, EV_OFF(decoding), true, 0},
    {"input_tokens", F_COUNT, EV_OFF(input_tokens), true, 0},
    {"output_tokens", F_COUNT, EV_OFF(output_tokens), true, 0},
    {"cached_input_tokens", F_COUNT, EV_OFF(cached_input_tokens), false, 0},
    {NULL, F_NAME, 0, false, 0},
};
static const struct field_spec iterations_fields[] = {
    {"model", F_NAME, EV_OFF(model), true, 0},
    {"deployment", F_DEPLOY, 0, true, 0},
    {"decoding", F_NAME, EV_OFF(decoding), true, 0},
    {"iterations", F_COUNT, EV_OFF(iterations), true, 1},
    {"tokens", F_COUNT, EV_OFF(tokens), true, 0},
    {NULL, F_NAME, 0, false, 0},
};
static const struct field_spec matrix_ops_fields[] = {
    {"model", F_NAME, EV_OFF(model), true, 0},
    {"deployment", F_DEPLOY, 0, true, 0},
    {"mac", F_COUNT, EV_OFF(mac), true, 0},
    {NULL, F_NAME, 0, false, 0},
};
static const struct field_spec seat_fields[] = {
    {"device_id", F_NAME, EV_OFF(device_id), true, 0},
    {"action", F_ACTION, 0, true, 0},
    {"model_class", F_NAME, EV_OFF(model_class), true, 0},
    {NULL, F_NAME, 0, false, 0},
};

/* units is optional: 1 when absent (resolve_data). */
#define OUTCOME_UNITS 3
static const struct field_spec outcome_fields[] = {
    {"task", F_NAME, EV_OFF(task), true, SCH_MAX_TASK_BYTES},
    {"outcome", F_WORD, EV_OFF(outcome), true, SCH_MAX_WORD_BYTES},
    {"deployment", F_DEPLOY, 0, true, 0},
    {"units", F_COUNT, EV_OFF(units), false, 0},
    {NULL, F_NAME, 0, false, 0},
};

static const struct field_spec *fields_of(sch_event_type t)
{
        switch (t) {
        case SCH_TYPE_OUTCOME:
                return outcome_fields;
        case SCH_TYPE_TOKENS:
                return tokens_fields;
        case SCH_TYPE_ITERATIONS:
                return iterations_fields;
        case SCH_TYPE_MATRIX_OPS:
                return matrix_ops_fields;
        default:
                return seat_fields;
        }
}

static tl_status set_count(struct sch__builder *b, const struct field_spec *fs,
                           const struct sch__value *v, struct tl_error *err)
{
        char got[64];

        if (v->tag != SCH__NO_TAG ||
            (v->kind != SCH__UINT && v->kind != SCH__BIGUINT)) {
                describe(v, got, sizeof got);
                return FAIL(b, err, TL_EINVAL,
                            "data.%s: expected unsigned integer, got %s",
                            fs->name, got);
        }
        if (v->kind == SCH__BIGUINT) /* JSON: only the literal holds it */
                return FAIL(b, err, TL_EINVAL,
                            "data.%s: %.*s is not below 2^63", fs->name,
                            (int)(v->text.len > 40 ? 40 : v->text.len),
                            v->text.ptr);
        if (v->u > (uint64_t)SCH_MAX_COUNT)
                return FAIL(b, err, TL_EINVAL,
                            "data.%s: %llu is not below 2^63", fs->name,
                            (unsigned long long)v->u);
        if (v->u < fs->min)
                return FAIL(b, err, TL_EINVAL, "data.%s: must be at least %llu",
                            fs->name, (unsigned long long)fs->min);
        *(uint64_t *)((char *)b->ev + fs->offset) = v->u;
        return TL_OK;
}

static tl_status set_enum(struct sch__builder *b, const struct field_spec *fs,
                          const struct sch__value *v, struct tl_error *err)
{
        tl_status rc =
            check_text(b, "data.", fs->name, v, 1, SCH_MAX_NAME_BYTES, err);
        struct sch_str t = v->text;

        if (rc)
                return rc;
        if (fs->kind == F_DEPLOY) {
                b->ev->deployment = str_is(t, "cloud")    ? SCH_DEPLOY_CLOUD
                                    : str_is(t, "device") ? SCH_DEPLOY_DEVICE
                                                          : SCH_DEPLOY_NONE;
                if (b->ev->deployment == SCH_DEPLOY_NONE)
                        return FAIL(b, err, TL_EINVAL,
                                    "data.%s: expected \"cloud\" or "
                                    "\"device\", got \"%.*s\"",
                                    fs->name, (int)t.len, t.ptr);
                return TL_OK;
        }
        b->ev->action = str_is(t, "activate")     ? SCH_SEAT_ACTIVATE
                        : str_is(t, "deactivate") ? SCH_SEAT_DEACTIVATE
                        : str_is(t, "heartbeat")  ? SCH_SEAT_HEARTBEAT
                                                  : SCH_SEAT_NONE;
        if (b->ev->action == SCH_SEAT_NONE)
                return FAIL(b, err, TL_EINVAL,
                            "data.%s: expected \"activate\", \"deactivate\" "
                            "or \"heartbeat\", got \"%.*s\"",
                            fs->name, (int)t.len, t.ptr);
        return TL_OK;
}

static tl_status set_field(struct sch__builder *b, const struct field_spec *fs,
                           const struct sch__value *v, struct tl_error *err)
{
        size_t max = fs->min ? (size_t)fs->min : SCH_MAX_NAME_BYTES;

        switch (fs->kind) {
        case F_COUNT:
                return set_count(b, fs, v, err);
        case F_NAME:
        case F_WORD: {
                tl_status rc = check_text(b, "data.", fs->name, v, 1, max, err);
                if (rc)
                        return rc;
                if (fs->kind == F_WORD && !sch__is_word(v->text))
                        return FAIL(b, err, TL_EINVAL,
                                    "data.%s: expected one word (letters, "
                                    "digits, '_', '-' or '.'), got \"%.*s\"",
                                    fs->name, (int)v->text.len, v->text.ptr);
                *(struct sch_str *)((char *)b->ev + fs->offset) = v->text;
                return TL_OK;
        }
        default:
                return set_enum(b, fs, v, err);
        }
}

static tl_status add_dim(struct sch__builder *b, struct sch_str key,
                         const struct sch__value *value, struct tl_error *err)
{
        struct sch_event *ev = b->ev;
        int klen = (int)(key.len > 64 ? 64 : key.len);
        uint32_t i;

        /* Only text values get here (see resolve_data). */
        if (key.len == 0 || key.len > SCH_MAX_DIM_KEY_BYTES)
                return FAIL(b, err, TL_EINVAL,
                            "data.%.*s: field names are 1 to %d bytes", klen,
                            key.ptr, SCH_MAX_DIM_KEY_BYTES);
        if (memchr(key.ptr, '\0', key.len))
                return FAIL(b, err, TL_EINVAL,
                            "data: NUL character in a field name");
        if (value->text.len > SCH_MAX_DIM_VALUE_BYTES)
                return FAIL(b, err, TL_EINVAL,
                            "data.%.*s: longer than %d bytes (%u)", klen,
                            key.ptr, SCH_MAX_DIM_VALUE_BYTES, value->text.len);
        if (value->has_nul)
                return FAIL(b, err, TL_EINVAL,
                            "data.%.*s: NUL character not allowed", klen,
                            key.ptr);
        if (ev->dim_count == SCH_MAX_DIMS)
                return FAIL(b, err, TL_ELIMIT,
                            "data: more than %d dimension fields",
                            SCH_MAX_DIMS);
        /* Insertion keeps them sorted by key: canonical for the hash. */
        for (i = ev->dim_count; i > 0; i--) {
                const struct sch_str *k = &ev->dims[i - 1].key;
                uint32_t n = k->len < key.len ? k->len : key.len;
                int c = memcmp(k->ptr, key.ptr, n);
                if (c == 0 && k->len == key.len) {
                        /* Undo the shift: the event stays as it was. */
                        for (uint32_t j = i; j < ev->dim_count; j++)
                                ev->dims[j] = ev->dims[j + 1];
                        return FAIL(b, err, TL_EINVAL,
                                    "data.%.*s: field given twice", klen,
                                    key.ptr);
                }
                if (c < 0 || (c == 0 && k->len < key.len))
                        break;
                ev->dims[i] = ev->dims[i - 1];
        }
        ev->dims[i].key = key;
        ev->dims[i].value = value->text;
        ev->dim_count++;
        return TL_OK;
}

/* Index in fields_of(type) of data field 'k', or -1. A switch on the
   length finds the one candidate; one compare of constant size confirms. */
static int spec_index(sch_event_type t, struct sch_str k)
{
#define IS(lit) (memcmp(k.ptr, lit, sizeof lit - 1) == 0)
        if (t == SCH_TYPE_OUTCOME) {
                switch (k.len) {
                case 4:
                        return IS("task") ? 0 : -1;
                case 7:
                        return IS("outcome") ? 1 : -1;
                case 10:
                        return IS("deployment") ? 2 : -1;
                case 5:
                        return IS("units") ? OUTCOME_UNITS : -1;
                default:
                        return -1;
                }
        }
        if (t == SCH_TYPE_SEAT) {
                switch (k.len) {
                case 9:
                        return IS("device_id") ? 0 : -1;
                case 6:
                        return IS("action") ? 1 : -1;
                case 11:
                        return IS("model_class") ? 2 : -1;
                default:
                        return -1;
                }
        }
        switch (k.len) { /* shared by the three inference types */
        case 5:
                return IS("model") ? 0 : -1;
        case 10:
                if (IS("deployment"))
                        return 1;
                return t == SCH_TYPE_ITERATIONS && IS("iterations") ? 3 : -1;
        default:
                break;
        }
        switch (t) {
        case SCH_TYPE_TOKENS:
                switch (k.len) {
                case 8:
                        return IS("decoding") ? 2 : -1;
                case 12:
                        return IS("input_tokens") ? 3 : -1;
                case 13:
                        return IS("output_tokens") ? 4 : -1;
                case 19:
                        return IS("cached_input_tokens") ? 5 : -1;
                default:
                        return -1;
                }
        case SCH_TYPE_ITERATIONS:
                if (k.len == 8)
                        return IS("decoding") ? 2 : -1;
                return k.len == 6 && IS("tokens") ? 4 : -1;
        default: /* matrix_ops */
                return k.len == 3 && IS("mac") ? 2 : -1;
        }
#undef IS
}

int sch__data_field_index(sch_event_type t, struct sch_str key)
{
        return spec_index(t, key);
}

/* One data field of an event whose type is known: typed, dimension, or
   (any other non-text value) ignored. */
static tl_status apply_data(struct sch__builder *b, struct sch_str key,
                            const struct sch__value *v, struct tl_error *err)
{
        int k = spec_index(b->ev->type, key);

        if (k >= 0) {
                const struct field_spec *fs = &fields_of(b->ev->type)[k];
                if (b->data_seen & (1u << k))
                        return FAIL(b, err, TL_EINVAL,
                                    "data.%s: field given twice", fs->name);
                b->data_seen |= 1u << k;
                return set_field(b, fs, v, err);
        }
        if (v->kind == SCH__TEXT && v->tag == SCH__NO_TAG)
                return add_dim(b, key, v, err);
        return b->rc; /* nothing billable in it */
}

tl_status sch__builder_data(struct sch__builder *b, struct sch_str key,
                            const struct sch__value *v, struct tl_error *err)
{
        if (b->ndata++ == SCH_MAX_FIELDS)
                return FAIL(b, err, TL_ELIMIT, "data: more than %d fields",
                            SCH_MAX_FIELDS);
        if (b->rc)
                return b->rc;
        /* Usually 'type' came first and the field goes straight in;
           otherwise it waits for sch__builder_finish. */
        if (b->ev->type != SCH_TYPE_NONE)
                return apply_data(b, key, v, err);
        b->fields[b->nfields].key = key;
        b->fields[b->nfields].value = *v;
        b->nfields++;
        return TL_OK;
}

static tl_status resolve_data(struct sch__builder *b, struct tl_error *err)
{
        const struct field_spec *specs = fields_of(b->ev->type);
        tl_status rc = TL_OK;

        for (unsigned i = 0; i < b->nfields && !rc; i++)
                rc = apply_data(b, b->fields[i].key, &b->fields[i].value, err);
        for (unsigned k = 0; specs[k].name && !rc; k++)
                if (specs[k].required && !(b->data_seen & (1u << k)))
                        rc = FAIL(b, err, TL_EINVAL,
                                  "data.%s: required field missing",
                                  specs[k].name);
        if (!rc && b->ev->type == SCH_TYPE_OUTCOME &&
            !(b->data_seen & (1u << OUTCOME_UNITS)))
                b->ev->units = 1;
        return rc;
}

tl_status sch__builder_finish(struct sch__builder *b,
                              const struct sch_options *opt,
                              struct tl_error *err)
{
        tl_status rc;

        if (b->rc)
                return b->rc;
        /* specversion is optional in CBOR. */
        if ((b->seen | (b->json ? 0u : ATTR_SPECVERSION)) != ATTR_ALL) {
                for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
                        if (attrs[i].bit == ATTR_SPECVERSION && !b->json)
                                continue;
                        if (!(b->seen & attrs[i].bit))
                                return FAIL(b, err, TL_EINVAL,
                                            "%s: required attribute missing",
                                            attrs[i].name);
                }
        }
        rc = resolve_time(b, opt, err);
        if (rc)
                return rc;
        return resolve_data(b, err);
}
