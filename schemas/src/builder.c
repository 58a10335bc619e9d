/* The event builder: every validation rule of events.md, for both codecs. */
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
};

static const struct {
        const char *name;
        unsigned bit;
} attrs[] = {
        {"specversion", ATTR_SPECVERSION}, {"id", ATTR_ID},
        {"source", ATTR_SOURCE},           {"type", ATTR_TYPE},
        {"subject", ATTR_SUBJECT},         {"time", ATTR_TIME},
        {"data", ATTR_DATA},
};

const char *sch__kind_name(sch__kind k)
{
        static const char *const names[] = {
                "text",    "unsigned integer", "unsigned integer",
                "negative integer", "number", "boolean", "null",
                "undefined", "byte string", "map", "array"};
        return names[k];
}

static bool str_is(struct sch_str s, const char *lit)
{
        size_t n = strlen(lit);
        return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

void sch__builder_start(struct sch__builder *b, struct sch_event *ev,
                        bool json)
{
        memset(ev, 0, sizeof *ev);
        b->ev = ev;
        b->seen = 0;
        b->json = json;
        b->data_is_map = false;
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

/* A text value used as an identifier or name: length bounds, no NUL. */
static tl_status check_text(struct sch__builder *b, const char *path,
                            const struct sch__value *v, size_t min, size_t max,
                            struct tl_error *err)
{
        char got[64];

        if (v->kind != SCH__TEXT || v->tag != SCH__NO_TAG) {
                describe(v, got, sizeof got);
                return FAIL(b, err, TL_EINVAL, "%s: expected text, got %s",
                            path, got);
        }
        if (v->text.len < min)
                return FAIL(b, err, TL_EINVAL, "%s: must not be empty", path);
        if (v->text.len > max)
                return FAIL(b, err, TL_EINVAL,
                            "%s: longer than %zu bytes (%u)", path, max,
                            v->text.len);
        if (memchr(v->text.ptr, '\0', v->text.len))
                return FAIL(b, err, TL_EINVAL,
                            "%s: NUL character not allowed", path);
        return TL_OK;
}

static tl_status set_type(struct sch__builder *b, const struct sch__value *v,
                          struct tl_error *err)
{
        tl_status rc = check_text(b, "type", v, 1, 64, err);

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
                return check_text(b, "id", v, 1, SCH_MAX_ID_BYTES, err);
        case ATTR_SOURCE:
                b->ev->source = v->text;
                return check_text(b, "source", v, 1, SCH_MAX_SOURCE_BYTES,
                                  err);
        case ATTR_SUBJECT:
                b->ev->subject = v->text;
                return check_text(b, "subject", v, 1, SCH_MAX_SUBJECT_BYTES,
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
                b->data_is_map = true;
                return TL_OK;
        }
}

tl_status sch__builder_top(struct sch__builder *b, struct sch_str key,
                           const struct sch__value *v, struct tl_error *err)
{
        for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
                if (!str_is(key, attrs[i].name))
                        continue;
                if (b->seen & attrs[i].bit)
                        return FAIL(b, err, TL_EINVAL,
                                    "%s: attribute given twice",
                                    attrs[i].name);
                b->seen |= attrs[i].bit;
                return set_attr(b, attrs[i].bit, v, err);
        }
        /* Any other attribute is a CloudEvents extension: not ours. */
        return b->rc;
}

tl_status sch__builder_data(struct sch__builder *b, struct sch_str key,
                            const struct sch__value *v, struct tl_error *err)
{
        for (unsigned i = 0; i < b->nfields; i++)
                if (b->fields[i].key.len == key.len &&
                    memcmp(b->fields[i].key.ptr, key.ptr, key.len) == 0)
                        return FAIL(b, err, TL_EINVAL,
                                    "data.%.*s: field given twice",
                                    (int)(key.len > 64 ? 64 : key.len),
                                    key.ptr);
        if (b->nfields == SCH_MAX_FIELDS)
                return FAIL(b, err, TL_ELIMIT, "data: more than %d fields",
                            SCH_MAX_FIELDS);
        b->fields[b->nfields].key = key;
        b->fields[b->nfields].value = *v;
        b->nfields++;
        return b->rc;
}

/* ---- time ---- */

#define Y2000_US (INT64_C(946684800) * TL_US_PER_SEC)
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
        tl_time_format_rfc3339(t, when, sizeof when);
        if (t < Y2000_US)
                return FAIL(b, err, TL_EINVAL,
                            "time: %s is before 2000-01-01T00:00:00Z", when);
        now = opt->now_us ? opt->now_us : tl_time_now_us();
        skew = opt->skew_us ? opt->skew_us : SCH_DEFAULT_SKEW_US;
        if (t > now + skew)
                return FAIL(b, err, TL_EINVAL,
                            "time: %s is more than %lld s ahead of the "
                            "receiver's clock",
                            when, (long long)(skew / TL_US_PER_SEC));
        b->ev->time_us = t;
        return TL_OK;
}

/* ---- data fields by type ---- */

typedef enum { F_NAME, F_DEPLOY, F_ACTION, F_COUNT } field_kind;

struct field_spec {
        const char *name;
        field_kind kind;
        size_t offset;
        bool required;
        uint64_t min; /* counts only */
};

#define EV_OFF(f) offsetof(struct sch_event, f)

static const struct field_spec tokens_fields[] = {
        {"model", F_NAME, EV_OFF(model), true, 0},
        {"deployment", F_DEPLOY, 0, true, 0},
        {"decoding", F_NAME, EV_OFF(decoding), true, 0},
        {"input_tokens", F_COUNT, EV_OFF(input_tokens), true, 0},
        {"output_tokens", F_COUNT, EV_OFF(output_tokens), true, 0},
        {"cached_input_tokens", F_COUNT, EV_OFF(cached_input_tokens), false,
         0},
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

static const struct field_spec *fields_of(sch_event_type t)
{
        switch (t) {
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

static tl_status set_count(struct sch__builder *b, const char *path,
                           const struct field_spec *fs,
                           const struct sch__value *v, struct tl_error *err)
{
        char got[64];

        if (v->tag != SCH__NO_TAG ||
            (v->kind != SCH__UINT && v->kind != SCH__BIGUINT)) {
                describe(v, got, sizeof got);
                return FAIL(b, err, TL_EINVAL,
                            "%s: expected unsigned integer, got %s", path, got);
        }
        if (v->kind == SCH__BIGUINT) /* JSON: only the literal holds it */
                return FAIL(b, err, TL_EINVAL, "%s: %.*s is not below 2^63",
                            path, (int)(v->text.len > 40 ? 40 : v->text.len),
                            v->text.ptr);
        if (v->u > (uint64_t)SCH_MAX_COUNT)
                return FAIL(b, err, TL_EINVAL, "%s: %llu is not below 2^63",
                            path, (unsigned long long)v->u);
        if (v->u < fs->min)
                return FAIL(b, err, TL_EINVAL, "%s: must be at least %llu",
                            path, (unsigned long long)fs->min);
        *(uint64_t *)((char *)b->ev + fs->offset) = v->u;
        return TL_OK;
}

static tl_status set_enum(struct sch__builder *b, const char *path,
                          const struct field_spec *fs,
                          const struct sch__value *v, struct tl_error *err)
{
        tl_status rc = check_text(b, path, v, 1, SCH_MAX_NAME_BYTES, err);
        struct sch_str t = v->text;

        if (rc)
                return rc;
        if (fs->kind == F_DEPLOY) {
                b->ev->deployment = str_is(t, "cloud")    ? SCH_DEPLOY_CLOUD
                                    : str_is(t, "device") ? SCH_DEPLOY_DEVICE
                                                          : SCH_DEPLOY_NONE;
                if (b->ev->deployment == SCH_DEPLOY_NONE)
                        return FAIL(b, err, TL_EINVAL,
                                    "%s: expected \"cloud\" or \"device\", "
                                    "got \"%.*s\"",
                                    path, (int)t.len, t.ptr);
                return TL_OK;
        }
        b->ev->action = str_is(t, "activate")     ? SCH_SEAT_ACTIVATE
                        : str_is(t, "deactivate") ? SCH_SEAT_DEACTIVATE
                        : str_is(t, "heartbeat")  ? SCH_SEAT_HEARTBEAT
                                                  : SCH_SEAT_NONE;
        if (b->ev->action == SCH_SEAT_NONE)
                return FAIL(b, err, TL_EINVAL,
                            "%s: expected \"activate\", \"deactivate\" or "
                            "\"heartbeat\", got \"%.*s\"",
                            path, (int)t.len, t.ptr);
        return TL_OK;
}

static tl_status set_field(struct sch__builder *b, const struct field_spec *fs,
                           const struct sch__value *v, struct tl_error *err)
{
        char path[80];

        snprintf(path, sizeof path, "data.%s", fs->name);
        switch (fs->kind) {
        case F_COUNT:
                return set_count(b, path, fs, v, err);
        case F_NAME: {
                tl_status rc =
                        check_text(b, path, v, 1, SCH_MAX_NAME_BYTES, err);
                if (!rc)
                        *(struct sch_str *)((char *)b->ev + fs->offset) =
                                v->text;
                return rc;
        }
        default:
                return set_enum(b, path, fs, v, err);
        }
}

static tl_status add_dim(struct sch__builder *b, const struct sch__field *f,
                         struct tl_error *err)
{
        struct sch_event *ev = b->ev;
        char path[80];
        tl_status rc;
        uint32_t i;

        snprintf(path, sizeof path, "data.%.*s",
                 (int)(f->key.len > 64 ? 64 : f->key.len), f->key.ptr);
        if (f->key.len == 0 || f->key.len > SCH_MAX_DIM_KEY_BYTES)
                return FAIL(b, err, TL_EINVAL,
                            "%s: field names are 1 to %d bytes", path,
                            SCH_MAX_DIM_KEY_BYTES);
        if (memchr(f->key.ptr, '\0', f->key.len))
                return FAIL(b, err, TL_EINVAL,
                            "data: NUL character in a field name");
        rc = check_text(b, path, &f->value, 0, SCH_MAX_DIM_VALUE_BYTES, err);
        if (rc)
                return rc;
        if (ev->dim_count == SCH_MAX_DIMS)
                return FAIL(b, err, TL_ELIMIT,
                            "data: more than %d dimension fields", SCH_MAX_DIMS);
        /* Insertion keeps them sorted by key: canonical for the hash. */
        for (i = ev->dim_count; i > 0; i--) {
                const struct sch_str *k = &ev->dims[i - 1].key;
                uint32_t n = k->len < f->key.len ? k->len : f->key.len;
                int c = memcmp(k->ptr, f->key.ptr, n);
                if (c < 0 || (c == 0 && k->len < f->key.len))
                        break;
                ev->dims[i] = ev->dims[i - 1];
        }
        ev->dims[i].key = f->key;
        ev->dims[i].value = f->value.text;
        ev->dim_count++;
        return TL_OK;
}

static tl_status resolve_data(struct sch__builder *b, struct tl_error *err)
{
        const struct field_spec *specs = fields_of(b->ev->type);
        unsigned seen = 0;
        tl_status rc = TL_OK;

        for (unsigned i = 0; i < b->nfields && !rc; i++) {
                const struct sch__field *f = &b->fields[i];
                unsigned k;
                for (k = 0; specs[k].name; k++)
                        if (str_is(f->key, specs[k].name))
                                break;
                if (specs[k].name) {
                        seen |= 1u << k;
                        rc = set_field(b, &specs[k], &f->value, err);
                } else if (f->value.kind == SCH__TEXT &&
                           f->value.tag == SCH__NO_TAG) {
                        rc = add_dim(b, f, err);
                }
                /* Other non-text fields carry nothing billable: ignored. */
        }
        for (unsigned k = 0; specs[k].name && !rc; k++)
                if (specs[k].required && !(seen & (1u << k)))
                        rc = FAIL(b, err, TL_EINVAL,
                                  "data.%s: required field missing",
                                  specs[k].name);
        return rc;
}

tl_status sch__builder_finish(struct sch__builder *b,
                              const struct sch_options *opt,
                              struct tl_error *err)
{
        tl_status rc;

        if (b->rc)
                return b->rc;
        for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
                if (attrs[i].bit == ATTR_SPECVERSION && !b->json)
                        continue; /* optional in CBOR */
                if (!(b->seen & attrs[i].bit))
                        return FAIL(b, err, TL_EINVAL,
                                    "%s: required attribute missing",
                                    attrs[i].name);
        }
        rc = resolve_time(b, opt, err);
        if (rc)
                return rc;
        return resolve_data(b, err);
}
