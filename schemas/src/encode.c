/* Encoders: one event to CloudEvents JSON or to a CBOR map. */
#include "schemas/event.h"

#include <stdio.h>
#include <string.h>

#include <cbor.h>
#include <jansson.h>

/* ---- JSON ---- */

/*
** Every value goes through jansson, which does the escaping; the keys and
** the punctuation between them are fixed text in the order json_fast.c
** reads. Two things an event may hold that jansson cannot write: a count
** of 2^63 or more and text that is not UTF-8. Such an event is invalid
** (events.md) and both readers refuse it; the tests still encode such
** events to check that, so the count's digits and the bytes that are not
** UTF-8 are copied as they are (JSON has no way to write those bytes).
*/

struct jout {
        struct tl_buf *buf;
        struct tl_error *err;
        tl_status rc;
};

static int jput(const char *s, size_t n, void *data)
{
        struct jout *o = data;

        o->rc = tl_buf_append(o->buf, s, n, o->err);
        return o->rc ? -1 : 0;
}

/* Dump 'v' (a new reference, taken) to 'out'. */
static tl_status jdump(struct tl_buf *out, json_t *v, struct tl_error *err)
{
        struct jout o = {out, err, TL_OK};
        int bad;

        if (!v)
                return tl_fail(err, TL_ENOMEM, "JSON encoder: out of memory");
        bad = json_dump_callback(v, jput, &o, JSON_ENCODE_ANY | JSON_COMPACT);
        json_decref(v);
        if (o.rc)
                return o.rc;
        return bad ? tl_fail(err, TL_EINTERNAL, "JSON encoder: jansson failed")
                   : TL_OK;
}

/* Length of the longest prefix of s[0..n) that is UTF-8 as jansson checks
   it: no overlong forms, no surrogates, nothing past U+10FFFF. */
static size_t utf8_prefix(const unsigned char *s, size_t n)
{
        size_t i = 0;

        while (i < n) {
                unsigned c = s[i], need, cp;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        need = 1, cp = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        need = 2, cp = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        need = 3, cp = c & 0x07;
                else
                        return i;
                if (n - i <= need)
                        return i;
                for (unsigned k = 1; k <= need; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return i;
                        cp = cp << 6 | (s[i + k] & 0x3f);
                }
                if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return i;
                i += need + 1;
        }
        return n;
}

/* A run of UTF-8 as the inside of a JSON string: jansson's dump without
   its quotes. */
static tl_status json_run(struct tl_buf *out, const char *p, size_t n,
                          struct tl_error *err)
{
        size_t mark = out->len;
        tl_status rc = jdump(out, json_stringn_nocheck(p, n), err);

        if (rc)
                return rc;
        memmove(out->data + mark, out->data + mark + 1, out->len - mark - 2);
        tl_buf_truncate(out, out->len - 2);
        return TL_OK;
}

static tl_status json_str(struct tl_buf *out, struct sch_str s,
                          struct tl_error *err)
{
        const unsigned char *p = (const unsigned char *)s.ptr;
        size_t at = 0, ok = utf8_prefix(p, s.len);
        tl_status rc;

        if (ok == s.len)
                return jdump(out, json_stringn_nocheck(s.ptr, s.len), err);
        rc = tl_buf_append(out, "\"", 1, err);
        while (!rc && at < s.len) {
                ok = utf8_prefix(p + at, s.len - at);
                rc = json_run(out, s.ptr + at, ok, err);
                at += ok;
                if (!rc && at < s.len)
                        rc = tl_buf_append(out, s.ptr + at++, 1, err);
        }
        return rc ? rc : tl_buf_append(out, "\"", 1, err);
}

static struct sch_str cstr(const char *s)
{
        return (struct sch_str){s, (uint32_t)strlen(s)};
}

/* ,"key": (or without the comma) for one of the encoder's own keys, which
   need no escaping. */
static tl_status json_key(struct tl_buf *out, const char *key, bool first,
                          struct tl_error *err)
{
        tl_status rc = first ? TL_OK : tl_buf_append(out, ",\"", 2, err);

        if (first && !rc)
                rc = tl_buf_append(out, "\"", 1, err);
        if (!rc)
                rc = tl_buf_append(out, key, strlen(key), err);
        return rc ? rc : tl_buf_append(out, "\":", 2, err);
}

/* Append ,"key":"value" (or without the comma for the first member). */
static tl_status json_kv_str(struct tl_buf *out, const char *key,
                             struct sch_str v, bool first, struct tl_error *err)
{
        tl_status rc = json_key(out, key, first, err);

        return rc ? rc : json_str(out, v, err);
}

static tl_status json_kv_u64(struct tl_buf *out, const char *key, uint64_t v,
                             struct tl_error *err)
{
        tl_status rc = json_key(out, key, false, err);

        if (rc)
                return rc;
        if (v > (uint64_t)INT64_MAX) /* invalid; see above */
                return tl_buf_printf(out, err, "%llu", (unsigned long long)v);
        return jdump(out, json_integer((json_int_t)v), err);
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

        if (ev->type == SCH_TYPE_OUTCOME) {
                rc = json_kv_str(out, "task", ev->task, true, err);
                if (!rc)
                        rc = json_kv_str(out, "outcome", ev->outcome, false,
                                         err);
                if (!rc)
                        rc = json_kv_str(
                            out, "deployment",
                            cstr(sch_deployment_name(ev->deployment)), false,
                            err);
                if (!rc)
                        rc = json_kv_u64(out, "units", ev->units, err);
        } else if (ev->type == SCH_TYPE_SEAT) {
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
        static const unsigned typed[] = {0, 6, 5, 3, 3, 4};
        return typed[ev->type] + ev->dim_count;
}

static void put_data(struct cbor_out *o, const struct sch_event *ev)
{
        put_head(o, map_head, data_entries(ev));
        if (ev->type == SCH_TYPE_OUTCOME) {
                put_key_text(o, "task", ev->task);
                put_key_text(o, "outcome", ev->outcome);
                put_key_text(o, "deployment",
                             cstr(sch_deployment_name(ev->deployment)));
                put_key_uint(o, "units", ev->units);
        } else if (ev->type == SCH_TYPE_SEAT) {
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
