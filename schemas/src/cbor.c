/* CBOR events on libcbor's streaming decoder: an explicit stack of frames,
   definite lengths only, limits enforced before anything is allocated. */
#include "builder.h"

#include <stdio.h>
#include <string.h>

#include <cbor.h>

#include "core/str.h"

typedef enum { LVL_TOP, LVL_DATA, LVL_SKIP } level;

struct frame {
        bool map;
        level lvl;
        bool want_key;      /* maps: the next item is a key */
        bool key_ok;        /* the pending key is text */
        uint64_t left;      /* items (arrays) or pairs (maps) still to come */
        struct sch_str key; /* the pending key */
};

struct cctx {
        struct sch_decoder *d;
        struct tl_error *err;
        struct frame stack[SCH_MAX_DEPTH + 1];
        int depth;           /* frames in use; 0 before the root item */
        uint64_t tag;        /* tag of the next item, or SCH__NO_TAG */
        unsigned items;
        tl_status fatal;     /* a malformed or over-limit item: stop */
        bool done;           /* the root item is complete */
};

static void fatal(struct cctx *c, tl_status code, const char *what)
{
        if (!c->fatal)
                c->fatal = tl_fail(c->err, code, "CBOR: %s", what);
}

/* An item is complete: advance the enclosing frames, closing full ones. */
static void item_done(struct cctx *c)
{
        while (c->depth > 0) {
                struct frame *f = &c->stack[c->depth - 1];
                if (f->map) {
                        f->want_key = !f->want_key;
                        if (!f->want_key)
                                return; /* a key: its value comes next */
                }
                if (--f->left > 0)
                        return;
                c->depth--; /* the container itself is now complete */
        }
        c->done = true;
}

static void path_of(const struct frame *f, char *out, size_t size)
{
        int n = (int)(f->key.len > 64 ? 64 : f->key.len);

        if (f->lvl == LVL_DATA)
                snprintf(out, size, "data.%.*s", n, f->key.ptr);
        else
                snprintf(out, size, "%.*s", n, f->key.ptr);
}

/* Hand a value to the builder, by the key that holds it. */
static void deliver(struct cctx *c, struct sch__value *v)
{
        struct frame *f;
        char path[80];

        v->tag = c->tag;
        c->tag = SCH__NO_TAG;
        if (++c->items > SCH_MAX_ITEMS)
                return fatal(c, TL_ELIMIT, "more than 4096 items in one event");
        if (c->depth == 0) {
                if (v->kind != SCH__MAP && !c->d->b.rc)
                        c->d->b.rc = tl_fail(c->err, TL_EINVAL,
                                             "event: expected a map, got %s",
                                             sch__kind_name(v->kind));
                return;
        }
        f = &c->stack[c->depth - 1];
        if (!f->map || f->lvl == LVL_SKIP)
                return;
        if (f->want_key) {
                f->key_ok = v->kind == SCH__TEXT && v->tag == SCH__NO_TAG;
                f->key = f->key_ok ? v->text : (struct sch_str){"?", 1};
                if (!f->key_ok && !c->d->b.rc)
                        c->d->b.rc = tl_fail(
                                c->err, TL_EINVAL, "%s: map keys must be text",
                                f->lvl == LVL_DATA ? "data" : "event");
                else if (!tl_utf8_valid(v->text.ptr, v->text.len) &&
                         !c->d->b.rc)
                        c->d->b.rc = tl_fail(
                                c->err, TL_EINVAL,
                                "%s: invalid UTF-8 in a field name",
                                f->lvl == LVL_DATA ? "data" : "event");
                f->key_ok = f->key_ok && !c->d->b.rc;
                return;
        }
        if (!f->key_ok)
                return;
        if (v->kind == SCH__TEXT &&
            !tl_utf8_valid(v->text.ptr, v->text.len)) {
                path_of(f, path, sizeof path);
                if (!c->d->b.rc)
                        c->d->b.rc = tl_fail(c->err, TL_EINVAL,
                                             "%s: invalid UTF-8", path);
                return;
        }
        if (f->lvl == LVL_TOP)
                sch__builder_top(&c->d->b, f->key, v, c->err);
        else
                sch__builder_data(&c->d->b, f->key, v, c->err);
}

static void scalar(struct cctx *c, struct sch__value *v)
{
        if (c->fatal)
                return;
        deliver(c, v);
        item_done(c);
}

static void on_uint(void *ctx, uint64_t u)
{
        struct sch__value v = {.kind = SCH__UINT, .u = u};

        scalar(ctx, &v);
}

static void on_u8(void *ctx, uint8_t u) { on_uint(ctx, u); }
static void on_u16(void *ctx, uint16_t u) { on_uint(ctx, u); }
static void on_u32(void *ctx, uint32_t u) { on_uint(ctx, u); }
static void on_u64(void *ctx, uint64_t u) { on_uint(ctx, u); }

static void on_negint(void *ctx, uint64_t u)
{
        struct sch__value v = {.kind = SCH__NEGINT};

        (void)u;
        scalar(ctx, &v);
}

static void on_n8(void *ctx, uint8_t u) { on_negint(ctx, u); }
static void on_n16(void *ctx, uint16_t u) { on_negint(ctx, u); }
static void on_n32(void *ctx, uint32_t u) { on_negint(ctx, u); }
static void on_n64(void *ctx, uint64_t u) { on_negint(ctx, u); }

static void on_text(void *ctx, cbor_data data, size_t len)
{
        struct cctx *c = ctx;
        struct sch__value v = {.kind = SCH__TEXT};

        if (len > SCH_MAX_MESSAGE_BYTES)
                return fatal(c, TL_ELIMIT, "text string over 1 MiB");

        v.text.ptr = (const char *)data;
        v.text.len = (uint32_t)len;
        /* Keys and values of the event are checked in deliver(); text in
           ignored places must still be UTF-8 for the event to be valid. */
        if (c->depth > 0 && c->stack[c->depth - 1].lvl == LVL_SKIP &&
            !tl_utf8_valid(v.text.ptr, v.text.len) && !c->d->b.rc)
                c->d->b.rc = tl_fail(c->err, TL_EINVAL,
                                     "invalid UTF-8 in a text string");
        scalar(ctx, &v);
}

static void on_bytes(void *ctx, cbor_data data, size_t len)
{
        struct sch__value v = {.kind = SCH__BYTES};

        (void)data;
        (void)len;
        scalar(ctx, &v);
}

static void on_float(void *ctx, double f)
{
        struct sch__value v = {.kind = SCH__FLOAT, .f = f};

        scalar(ctx, &v);
}

static void on_f4(void *ctx, float f) { on_float(ctx, f); }
static void on_f8(void *ctx, double f) { on_float(ctx, f); }

static void on_simple(void *ctx, sch__kind k)
{
        struct sch__value v = {.kind = k};

        scalar(ctx, &v);
}

static void on_null(void *ctx) { on_simple(ctx, SCH__NULL); }
static void on_undef(void *ctx) { on_simple(ctx, SCH__UNDEFINED); }
static void on_bool(void *ctx, bool b) { (void)b; on_simple(ctx, SCH__BOOL); }

static void on_tag(void *ctx, uint64_t tag)
{
        struct cctx *c = ctx;

        if (c->fatal)
                return;
        if (c->tag != SCH__NO_TAG)
                return fatal(c, TL_ELIMIT, "nested tags are not accepted");
        c->tag = tag;
}

static void container(struct cctx *c, bool map, size_t count)
{
        struct sch__value v = {.kind = map ? SCH__MAP : SCH__ARRAY};
        level lvl = LVL_SKIP;
        struct frame *parent;

        if (c->fatal)
                return;
        parent = c->depth ? &c->stack[c->depth - 1] : NULL;
        if (!parent && map)
                lvl = LVL_TOP;
        else if (parent && map && parent->lvl == LVL_TOP && !parent->want_key &&
                 parent->key_ok && parent->key.len == 4 &&
                 memcmp(parent->key.ptr, "data", 4) == 0)
                lvl = LVL_DATA;
        deliver(c, &v);
        if (c->fatal)
                return;
        if (lvl != LVL_SKIP && count > SCH_MAX_FIELDS)
                return fatal(c, TL_ELIMIT, "map of more than 64 entries");
        if (count > SCH_MAX_ITEMS)
                return fatal(c, TL_ELIMIT, "container of over 4096 items");
        if (c->depth == SCH_MAX_DEPTH)
                return fatal(c, TL_ELIMIT, "nesting deeper than 16");
        if (count == 0) {
                item_done(c);
                return;
        }
        c->stack[c->depth++] = (struct frame){map, lvl, map, false, count,
                                              {NULL, 0}};
}

static void on_map(void *ctx, size_t n) { container(ctx, true, n); }
static void on_array(void *ctx, size_t n) { container(ctx, false, n); }

static void on_indefinite(void *ctx)
{
        fatal(ctx, TL_ELIMIT, "indefinite-length items are not accepted");
}

static void on_break(void *ctx)
{
        fatal(ctx, TL_EPARSE, "unexpected break");
}

static const struct cbor_callbacks callbacks = {
        .uint8 = on_u8, .uint16 = on_u16, .uint32 = on_u32, .uint64 = on_u64,
        .negint8 = on_n8, .negint16 = on_n16, .negint32 = on_n32,
        .negint64 = on_n64,
        .byte_string = on_bytes, .byte_string_start = on_indefinite,
        .string = on_text, .string_start = on_indefinite,
        .array_start = on_array, .indef_array_start = on_indefinite,
        .map_start = on_map, .indef_map_start = on_indefinite,
        .tag = on_tag,
        .float2 = on_f4, .float4 = on_f4, .float8 = on_f8,
        .undefined = on_undef, .null = on_null, .boolean = on_bool,
        .indef_break = on_break,
};

/*
** Decode one item at buf[*pos] as an event. On return '*pos' is past the
** item unless the result is fatal (TL_EPARSE or TL_ELIMIT).
*/
static tl_status decode_item(struct sch_decoder *d, const unsigned char *buf,
                             size_t len, size_t *pos, struct sch_event *ev,
                             struct tl_error *err)
{
        struct cctx c = {.d = d, .err = err, .tag = SCH__NO_TAG};
        size_t p = *pos;

        tl_arena_reset(&d->arena);
        sch__builder_start(&d->b, ev, false);
        while (!c.done && !c.fatal) {
                struct cbor_decoder_result r =
                        cbor_stream_decode(buf + p, len - p, &callbacks, &c);
                if (r.status == CBOR_DECODER_NEDATA)
                        return tl_fail(err, TL_EPARSE,
                                       "CBOR: item truncated at byte %zu", p);
                if (r.status == CBOR_DECODER_ERROR)
                        return tl_fail(err, TL_EPARSE,
                                       "CBOR: malformed item at byte %zu", p);
                p += r.read;
        }
        if (c.fatal)
                return c.fatal;
        *pos = p;
        if (d->b.rc)
                return d->b.rc;
        return sch__builder_finish(&d->b, &d->opt, err);
}

/* Read the array head of a batch message without decoding its elements. */
struct head {
        bool array;
        bool indefinite;
        size_t count;
};

static void head_array(void *ctx, size_t n)
{
        ((struct head *)ctx)->array = true;
        ((struct head *)ctx)->count = n;
}

static void head_indef(void *ctx)
{
        ((struct head *)ctx)->indefinite = true;
}

tl_status sch_cbor_reader_open(struct sch_cbor_reader *r, const void *buf,
                               size_t len, bool sequence, struct tl_error *err)
{
        struct cbor_callbacks cb = cbor_empty_callbacks;
        struct head h = {false, false, 0};
        struct cbor_decoder_result res;

        memset(r, 0, sizeof *r);
        r->buf = buf;
        r->len = len;
        r->sequence = sequence;
        r->count = sequence ? SIZE_MAX : 1;
        if (sequence)
                return TL_OK;
        if (len > SCH_MAX_MESSAGE_BYTES)
                return tl_fail(err, TL_ELIMIT,
                               "message of %zu bytes is over the %d byte limit",
                               len, SCH_MAX_MESSAGE_BYTES);
        if (len == 0)
                return tl_fail(err, TL_EPARSE, "CBOR: empty message");
        if ((r->buf[0] >> 5) != 4) /* major type 4: array */
                return TL_OK;
        cb.array_start = head_array;
        cb.indef_array_start = head_indef;
        res = cbor_stream_decode(r->buf, len, &cb, &h);
        if (h.indefinite)
                return tl_fail(err, TL_ELIMIT,
                               "CBOR: indefinite-length batch arrays are not "
                               "accepted");
        if (res.status != CBOR_DECODER_FINISHED || !h.array)
                return tl_fail(err, TL_EPARSE, "CBOR: malformed batch head");
        if (h.count == 0)
                return tl_fail(err, TL_EPARSE, "CBOR: empty batch");
        if (h.count > SCH_MAX_BATCH_EVENTS)
                return tl_fail(err, TL_ELIMIT,
                               "CBOR: batch of %zu events is over the limit "
                               "of %d",
                               h.count, SCH_MAX_BATCH_EVENTS);
        r->pos = res.read;
        r->count = h.count;
        return TL_OK;
}

bool sch_cbor_reader_more(const struct sch_cbor_reader *r)
{
        if (r->broken)
                return false;
        return r->sequence ? r->pos < r->len : r->index < r->count;
}

size_t sch_cbor_reader_remaining(const struct sch_cbor_reader *r)
{
        if (r->sequence)
                return r->broken ? 1 : 0;
        return r->count - r->index;
}

tl_status sch_cbor_reader_next(struct sch_cbor_reader *r,
                               struct sch_decoder *d, struct sch_event *ev,
                               struct sch_str *raw, struct tl_error *err)
{
        size_t start = r->pos, pos = r->pos;
        tl_status rc = decode_item(d, r->buf, r->len, &pos, ev, err);

        if (rc == TL_EPARSE || rc == TL_ELIMIT) {
                /* Nothing says where this item ends: the rest goes together. */
                r->broken = true;
                raw->ptr = (const char *)r->buf + start;
                raw->len = (uint32_t)(r->len - start);
                return rc;
        }
        r->pos = pos;
        r->index++;
        raw->ptr = (const char *)r->buf + start;
        raw->len = (uint32_t)(pos - start);
        if (pos - start > SCH_MAX_MESSAGE_BYTES)
                return tl_fail(err, TL_EINVAL,
                               "event of %zu bytes is over the %d byte limit",
                               pos - start, SCH_MAX_MESSAGE_BYTES);
        if (!r->sequence && r->index == r->count && pos != r->len) {
                r->broken = true;
                raw->len = (uint32_t)(r->len - start);
                r->index--;
                return tl_fail(err, TL_EPARSE,
                               "CBOR: %zu unexpected bytes after the last "
                               "event",
                               r->len - pos);
        }
        return rc;
}
