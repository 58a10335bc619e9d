/* Encoders: one event to CloudEvents JSON or to a CBOR map. */
#include "schemas/event.h"

#include <stdio.h>
#include <string.h>

#include <cbor.h>

/* ---- JSON ---- */

static tl_status json_str(struct tl_buf *out, struct sch_str s,
                          struct tl_error *err)
{
        static const char hex[] = "0123456789abcdef";
        char esc[8];
        uint32_t start = 0;
        tl_status rc = tl_buf_append(out, "\"", 1, err);

        for (uint32_t i = 0; i < s.len && !rc; i++) {
                unsigned char c = (unsigned char)s.ptr[i];
                size_t n = 0;
                if (c == '"' || c == '\\') {
                        esc[0] = '\\';
                        esc[1] = (char)c;
                        n = 2;
                } else if (c < 0x20) {
                        memcpy(esc, "\\u00", 4);
                        esc[4] = hex[c >> 4];
                        esc[5] = hex[c & 15];
                        n = 6;
                }
                if (!n)
                        continue;
                rc = tl_buf_append(out, s.ptr + start, i - start, err);
                if (!rc)
                        rc = tl_buf_append(out, esc, n, err);
                start = i + 1;
        }
        if (!rc)
                rc = tl_buf_append(out, s.ptr + start, s.len - start, err);
        return rc ? rc : tl_buf_append(out, "\"", 1, err);
}

static struct sch_str cstr(const char *s)
{
        return (struct sch_str){s, (uint32_t)strlen(s)};
}

/* Append ,"key":"value" (or without the comma for the first member). */
static tl_status json_kv_str(struct tl_buf *out, const char *key,
                             struct sch_str v, bool first, struct tl_error *err)
{
        tl_status rc =
            tl_buf_printf(out, err, "%s\"%s\":", first ? "" : ",", key);
        return rc ? rc : json_str(out, v, err);
}

static tl_status json_kv_u64(struct tl_buf *out, const char *key, uint64_t v,
                             struct tl_error *err)
{
        return tl_buf_printf(out, err, ",\"%s\":%llu", key,
                             (unsigned long long)v);
}

/* RFC 3339 with only as many fractional digits as the time needs. */
static void format_time(tl_time_us t, char *out, size_t size)
{
        size_t n = tl_time_format_rfc3339(t, out, size);
        long long us = (long long)(t % TL_US_PER_SEC);

        if (us < 0)
                us += TL_US_PER_SEC;
        if (n >= 5 && us % 1000 != 0)
                snprintf(out + n - 5, size - (n - 5), ".%06lldZ", us);
        else if (n >= 5 && us == 0)
                memcpy(out + n - 5, "Z", 2);
}

static tl_status json_data(const struct sch_event *ev, struct tl_buf *out,
                           struct tl_error *err)
{
        tl_status rc = TL_OK;

        if (ev->type == SCH_TYPE_SEAT) {
                rc = json_kv_str(out, "device_id", ev->device_id, true, err);
                if (!rc)
                        rc = json_kv_str(out, "action",
                                         cstr(sch_seat_action_name(ev->action)),
                                         false, err);
                if (!rc)
                        rc = json_kv_str(out, "model_class", ev->model_class,
                                         false, err);
        } else {
                rc = json_kv_str(out, "model", ev->model, true, err);
                if (!rc)
                        rc = json_kv_str(
                            out, "deployment",
                            cstr(sch_deployment_name(ev->deployment)), false,
                            err);
                if (!rc && ev->type != SCH_TYPE_MATRIX_OPS)
                        rc = json_kv_str(out, "decoding", ev->decoding, false,
                                         err);
        }
        if (rc)
                return rc;
        switch (ev->type) {
        case SCH_TYPE_TOKENS:
                rc = json_kv_u64(out, "input_tokens", ev->input_tokens, err);
                if (!rc)
                        rc = json_kv_u64(out, "output_tokens",
                                         ev->output_tokens, err);
                if (!rc)
                        rc = json_kv_u64(out, "cached_input_tokens",
                                         ev->cached_input_tokens, err);
                break;
        case SCH_TYPE_ITERATIONS:
                rc = json_kv_u64(out, "iterations", ev->iterations, err);
                if (!rc)
                        rc = json_kv_u64(out, "tokens", ev->tokens, err);
                break;
        case SCH_TYPE_MATRIX_OPS:
                rc = json_kv_u64(out, "mac", ev->mac, err);
                break;
        default:
                break;
        }
        for (uint32_t i = 0; i < ev->dim_count && !rc; i++) {
                rc = tl_buf_append(out, ",", 1, err);
                if (!rc)
                        rc = json_str(out, ev->dims[i].key, err);
                if (!rc)
                        rc = tl_buf_append(out, ":", 1, err);
                if (!rc)
                        rc = json_str(out, ev->dims[i].value, err);
        }
        return rc;
}

tl_status sch_encode_json(const struct sch_event *ev, struct tl_buf *out,
                          struct tl_error *err)
{
        char when[40];
        size_t mark = out->len;
        tl_status rc;

        format_time(ev->time_us, when, sizeof when);
        rc = tl_buf_puts(out, "{\"specversion\":\"1.0\"", err);
        if (!rc)
                rc = json_kv_str(out, "id", ev->id, false, err);
        if (!rc)
                rc = json_kv_str(out, "source", ev->source, false, err);
        if (!rc)
                rc = json_kv_str(out, "type",
                                 cstr(sch_event_type_name(ev->type)), false,
                                 err);
        if (!rc)
                rc = json_kv_str(out, "subject", ev->subject, false, err);
        if (!rc)
                rc = json_kv_str(out, "time", cstr(when), false, err);
        if (!rc)
                rc = tl_buf_puts(out, ",\"data\":{", err);
        if (!rc)
                rc = json_data(ev, out, err);
        if (!rc)
                rc = tl_buf_puts(out, "}}", err);
        if (rc) /* leave 'out' as it was */
                tl_buf_truncate(out, mark);
        return rc;
}

/* ---- CBOR ---- */

/*
** libcbor's encoders write into a caller's buffer and return 0 when it is
** too small; every head fits in 9 bytes, so reserve that much first.
*/
struct cbor_out {
        struct tl_buf *buf;
        struct tl_error *err;
        tl_status rc;
};

typedef size_t (*head_fn)(uint64_t, unsigned char *, size_t);

static void put_head(struct cbor_out *o, head_fn fn, uint64_t v)
{
        unsigned char head[9];
        size_t n;

        if (o->rc)
                return;
        n = fn(v, head, sizeof head);
        o->rc = tl_buf_append(o->buf, head, n, o->err);
}

static size_t map_head(uint64_t n, unsigned char *b, size_t s)
{
        return cbor_encode_map_start((size_t)n, b, s);
}

static size_t array_head(uint64_t n, unsigned char *b, size_t s)
{
        return cbor_encode_array_start((size_t)n, b, s);
}

static size_t text_head(uint64_t n, unsigned char *b, size_t s)
{
        return cbor_encode_string_start((size_t)n, b, s);
}

static void put_text(struct cbor_out *o, struct sch_str s)
{
        put_head(o, text_head, s.len);
        if (!o->rc && s.len)
                o->rc = tl_buf_append(o->buf, s.ptr, s.len, o->err);
}

static void put_key_text(struct cbor_out *o, const char *key, struct sch_str v)
{
        put_text(o, cstr(key));
        put_text(o, v);
}

static void put_key_uint(struct cbor_out *o, const char *key, uint64_t v)
{
        put_text(o, cstr(key));
        put_head(o, cbor_encode_uint, v);
}

static unsigned data_entries(const struct sch_event *ev)
{
        static const unsigned typed[] = {0, 6, 5, 3, 3};
        return typed[ev->type] + ev->dim_count;
}

static void put_data(struct cbor_out *o, const struct sch_event *ev)
{
        put_head(o, map_head, data_entries(ev));
        if (ev->type == SCH_TYPE_SEAT) {
                put_key_text(o, "device_id", ev->device_id);
                put_key_text(o, "action",
                             cstr(sch_seat_action_name(ev->action)));
                put_key_text(o, "model_class", ev->model_class);
        } else {
                put_key_text(o, "model", ev->model);
                put_key_text(o, "deployment",
                             cstr(sch_deployment_name(ev->deployment)));
                if (ev->type != SCH_TYPE_MATRIX_OPS)
                        put_key_text(o, "decoding", ev->decoding);
        }
        if (ev->type == SCH_TYPE_TOKENS) {
                put_key_uint(o, "input_tokens", ev->input_tokens);
                put_key_uint(o, "output_tokens", ev->output_tokens);
                put_key_uint(o, "cached_input_tokens", ev->cached_input_tokens);
        } else if (ev->type == SCH_TYPE_ITERATIONS) {
                put_key_uint(o, "iterations", ev->iterations);
                put_key_uint(o, "tokens", ev->tokens);
        } else if (ev->type == SCH_TYPE_MATRIX_OPS) {
                put_key_uint(o, "mac", ev->mac);
        }
        for (uint32_t i = 0; i < ev->dim_count; i++) {
                put_text(o, ev->dims[i].key);
                put_text(o, ev->dims[i].value);
        }
}

tl_status sch_encode_cbor(const struct sch_event *ev, struct tl_buf *out,
                          struct tl_error *err)
{
        struct cbor_out o = {out, err, TL_OK};
        size_t mark = out->len;
        char when[40];

        put_head(&o, map_head, 7);
        put_key_text(&o, "specversion", cstr("1.0"));
        put_key_text(&o, "id", ev->id);
        put_key_text(&o, "source", ev->source);
        put_key_text(&o, "type", cstr(sch_event_type_name(ev->type)));
        put_key_text(&o, "subject", ev->subject);
        put_text(&o, cstr("time"));
        if (ev->time_us % TL_US_PER_SEC == 0 && ev->time_us >= 0) {
                put_head(&o, cbor_encode_tag, 1);
                put_head(&o, cbor_encode_uint,
                         (uint64_t)(ev->time_us / TL_US_PER_SEC));
        } else {
                format_time(ev->time_us, when, sizeof when);
                put_head(&o, cbor_encode_tag, 0);
                put_text(&o, cstr(when));
        }
        put_text(&o, cstr("data"));
        put_data(&o, ev);
        if (o.rc)
                tl_buf_truncate(out, mark);
        return o.rc;
}

tl_status sch_encode_cbor_array_start(size_t count, struct tl_buf *out,
                                      struct tl_error *err)
{
        struct cbor_out o = {out, err, TL_OK};

        put_head(&o, array_head, count);
        return o.rc;
}
