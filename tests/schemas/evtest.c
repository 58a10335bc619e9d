/* JSON -> CBOR for tests, and one-call decoding. */
#include "evtest.h"

#include <string.h>

#include <cbor.h>
#include <jansson.h>

static void put(struct tl_buf *out, const unsigned char *b, size_t n)
{
        tl_buf_append(out, b, n, NULL);
}

static void encode(json_t *v, const char *key, int time_tag, struct tl_buf *out)
{
        unsigned char h[16];
        size_t n;

        switch (json_typeof(v)) {
        case JSON_OBJECT: {
                const char *k;
                json_t *x;
                n = cbor_encode_map_start(json_object_size(v), h, sizeof h);
                put(out, h, n);
                json_object_foreach(v, k, x)
                {
                        n = cbor_encode_string_start(strlen(k), h, sizeof h);
                        put(out, h, n);
                        put(out, (const unsigned char *)k, strlen(k));
                        encode(x, k, time_tag, out);
                }
                break;
        }
        case JSON_ARRAY: {
                size_t i;
                json_t *x;
                n = cbor_encode_array_start(json_array_size(v), h, sizeof h);
                put(out, h, n);
                json_array_foreach(v, i, x) encode(x, NULL, time_tag, out);
                break;
        }
        case JSON_STRING:
                if (key && strcmp(key, "time") == 0 && time_tag >= 0) {
                        n = cbor_encode_tag((uint64_t)time_tag, h, sizeof h);
                        put(out, h, n);
                }
                n = cbor_encode_string_start(json_string_length(v), h,
                                             sizeof h);
                put(out, h, n);
                put(out, (const unsigned char *)json_string_value(v),
                    json_string_length(v));
                break;
        case JSON_INTEGER: {
                json_int_t i = json_integer_value(v);
                n = i >= 0
                        ? cbor_encode_uint((uint64_t)i, h, sizeof h)
                        : cbor_encode_negint((uint64_t)(-(i + 1)), h, sizeof h);
                put(out, h, n);
                break;
        }
        case JSON_REAL:
                n = cbor_encode_double(json_real_value(v), h, sizeof h);
                put(out, h, n);
                break;
        case JSON_TRUE:
        case JSON_FALSE:
                n = cbor_encode_bool(json_is_true(v), h, sizeof h);
                put(out, h, n);
                break;
        default:
                n = cbor_encode_null(h, sizeof h);
                put(out, h, n);
        }
}

bool evt_json_to_cbor(const char *json, int time_tag, struct tl_buf *out)
{
        json_error_t e;
        json_t *v = json_loads(json, JSON_ALLOW_NUL, &e);

        if (!v)
                return false;
        encode(v, NULL, time_tag, out);
        json_decref(v);
        return true;
}

/* The decoded event borrows from these, so they live until the next call
   (each Criterion test is its own process; globals are not leaks). */
static struct sch_decoder *dec;
static struct tl_buf keep;

static struct sch_decoder *fresh_decoder(void)
{
        struct sch_options opt = {EVT_NOW_US, 0};

        sch_decoder_free(&dec);
        sch_decoder_new(&opt, &dec, NULL);
        return dec;
}

tl_status evt_decode_cbor_bytes(const void *buf, size_t len,
                                struct sch_event *ev, struct tl_error *err)
{
        struct sch_decoder *d = fresh_decoder();
        struct sch_cbor_reader r;
        struct sch_event tmp;
        struct sch_str raw;
        tl_status rc;

        rc = sch_cbor_reader_open(&r, buf, len, false, err);
        if (!rc)
                rc = sch_cbor_reader_next(&r, d, ev ? ev : &tmp, &raw, err);
        return rc;
}

tl_status evt_decode(const char *json, bool cbor, struct sch_event *ev,
                     struct tl_error *err)
{
        struct sch_event tmp;

        if (!cbor)
                return sch_decode_json(fresh_decoder(), json, strlen(json),
                                       ev ? ev : &tmp, err);
        tl_buf_clear(&keep);
        if (!evt_json_to_cbor(json, -1, &keep))
                return tl_fail(err, TL_EINTERNAL, "jansson cannot read case");
        return evt_decode_cbor_bytes(keep.data, keep.len, ev, err);
}
