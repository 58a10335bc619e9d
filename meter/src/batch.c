/* Decoding Kafka messages into a batch: staged rows in PostgreSQL's COPY
   BINARY form, in-batch duplicates, and dead letters with their reason. */
#include "batch.h"
#include "copy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/time.h"

/* meter_keys: seq, key_hash, content_hash, event_time */
#define KEY_FIELDS 4
/* the events columns the meter writes (store.c names them) */
#define EVENT_FIELDS 25

tl_status meter__batch_init(struct meter_batch *b, int64_t skew_us,
                            struct tl_error *err)
{
        struct sch_options opt = {.now_us = 0, .skew_us = skew_us};

        memset(b, 0, sizeof *b);
        tl_buf_init(&b->keys, 0);
        tl_buf_init(&b->evtup, 0);
        tl_buf_init(&b->dims, 0);
        tl_buf_init(&b->scratch, 0);
        tl_arena_init(&b->arena, 1 << 20, 0);
        return sch_decoder_new(&opt, &b->dec, err);
}

void meter__batch_clear(struct meter_batch *b)
{
        for (size_t i = 0; i < b->nmsg; i++)
                rd_kafka_message_destroy(b->msgs[i]);
        b->nmsg = b->nrows = b->ndead = b->staged = 0;
        b->units = 0;
        b->nmonths = 0;
        b->months_overflow = false;
        b->started_us = 0;
        tl_buf_clear(&b->keys);
        tl_buf_clear(&b->evtup);
        meter__rollup_clear(&b->roll);
        if (b->slots)
                memset(b->slots, 0, b->slot_cap * sizeof *b->slots);
        tl_arena_reset(&b->arena);
}

void meter__batch_release(struct meter_batch *b)
{
        meter__batch_clear(b);
        tl_free(b->msgs);
        tl_free(b->rows);
        tl_free(b->dead);
        tl_free(b->slots);
        tl_free(b->parts);
        tl_buf_release(&b->keys);
        tl_buf_release(&b->evtup);
        tl_buf_release(&b->dims);
        meter__rollup_release(&b->roll);
        tl_buf_release(&b->scratch);
        tl_arena_release(&b->arena);
        sch_decoder_free(&b->dec);
        memset(b, 0, sizeof *b);
}

/* Grow '*arr' of '*cap' elements of 'size' bytes to hold one more. */
static tl_status grow(void **arr, size_t *cap, size_t n, size_t size,
                      struct tl_error *err)
{
        size_t ncap;
        void *p;

        if (n < *cap)
                return TL_OK;
        ncap = *cap ? *cap * 2 : 256;
        p = tl_realloc(*arr, ncap * size);
        if (!p)
                return tl_fail(err, TL_ENOMEM, "meter batch: out of memory");
        *arr = p;
        *cap = ncap;
        return TL_OK;
}

/* ---- COPY BINARY encoding ---------------------------------------------- */

#define put_be meter_copy_be
#define put_field meter_copy_field
#define put_null meter_copy_null
#define put_int meter_copy_int

static tl_status put_text(struct tl_buf *o, struct sch_str s,
                          struct tl_error *err)
{
        return s.ptr ? put_field(o, s.ptr, s.len, err) : put_null(o, err);
}

/* A count: NULL when the event type has no such field. */
static tl_status put_count(struct tl_buf *o, bool has, uint64_t v,
                           struct tl_error *err)
{
        return has ? put_int(o, (int64_t)v, 8, err) : put_null(o, err);
}

/* The dimensions as a jsonb value (version byte, then JSON text) in
   'tmp'; left empty when the event has none. */
static tl_status dims_jsonb(const struct sch_event *ev, struct tl_buf *tmp,
                            struct tl_error *err)
{
        tl_status rc = TL_OK;

        tl_buf_clear(tmp);
        if (!ev->dim_count)
                return TL_OK;
        rc = tl_buf_append(tmp, "\1{", 2, err);
        for (uint32_t i = 0; !rc && i < ev->dim_count; i++) {
                const struct sch_str *kv[2] = {&ev->dims[i].key,
                                               &ev->dims[i].value};
                rc = tl_buf_append(tmp, i ? ",\"" : "\"", i ? 2 : 1, err);
                for (int k = 0; !rc && k < 2; k++) {
                        for (uint32_t j = 0; !rc && j < kv[k]->len; j++) {
                                unsigned char c = (unsigned char)kv[k]->ptr[j];
                                char esc[8];
                                if (c == '"' || c == '\\') {
                                        esc[0] = '\\';
                                        esc[1] = (char)c;
                                        rc = tl_buf_append(tmp, esc, 2, err);
                                } else if (c < 0x20) {
                                        snprintf(esc, sizeof esc, "\\u%04x", c);
                                        rc = tl_buf_append(tmp, esc, 6, err);
                                } else {
                                        rc = tl_buf_append(tmp, &c, 1, err);
                                }
                        }
                        if (!rc)
                                rc = tl_buf_append(tmp, k ? "\"" : "\":\"",
                                                   k ? 1 : 3, err);
                }
        }
        if (!rc)
                rc = tl_buf_append(tmp, "}", 1, err);
        return rc;
}

/* The first 16 bytes of SHA-256 of 't'. */
static void digest16(const struct tl_buf *t, unsigned char out[16])
{
        unsigned char md[SCH_HASH_BYTES];

        sch_sha256(t->data, t->len, md);
        memcpy(out, md, 16);
}

/* Append a NUL separator (unless first) and a field. */
static tl_status put_part(struct tl_buf *t, struct sch_str f, bool first,
                          struct tl_error *err)
{
        tl_status rc = first ? TL_OK : tl_buf_append(t, "", 1, err);

        return rc ? rc : tl_buf_append(t, f.ptr ? f.ptr : "", f.len, err);
}

/* What usage rollups group by: model NUL deployment decoding (NUL key NUL
   value)*, with task and outcome in the places of model and decoding for
   task.outcome (the type is part of the rollup key apart). SHA-256, not a
   fast hash: a crafted collision would merge a customer's usage across
   attributes that prices may tell apart. */
static tl_status attrs_hash(const struct sch_event *ev, struct tl_buf *tmp,
                            unsigned char out[16], struct tl_error *err)
{
        unsigned char dep = (unsigned char)ev->deployment;
        bool outcome = ev->type == SCH_TYPE_OUTCOME;
        tl_status rc;

        tl_buf_clear(tmp);
        rc = put_part(tmp, outcome ? ev->task : ev->model, true, err);
        if (!rc)
                rc = put_part(tmp, (struct sch_str){(const char *)&dep, 1},
                              false, err);
        if (!rc)
                rc = put_part(tmp, outcome ? ev->outcome : ev->decoding, true,
                              err);
        for (uint32_t i = 0; !rc && i < ev->dim_count; i++) {
                rc = put_part(tmp, ev->dims[i].key, false, err);
                if (!rc)
                        rc = put_part(tmp, ev->dims[i].value, false, err);
        }
        if (!rc)
                digest16(tmp, out);
        return rc;
}

/* tally_event_key(): subject NUL source NUL id. */
static tl_status event_key(struct meter_batch *b, const struct sch_event *ev,
                           unsigned char out[METER_KEY_BYTES],
                           struct tl_error *err)
{
        struct tl_buf *t = &b->scratch;
        tl_status rc;

        tl_buf_clear(t);
        rc = put_part(t, ev->subject, true, err);
        if (!rc)
                rc = put_part(t, ev->source, false, err);
        if (!rc)
                rc = put_part(t, ev->id, false, err);
        if (!rc)
                digest16(t, out);
        return rc;
}

/* Days since 1970-01-01 of UTC time 't', rounded down. */
static int64_t utc_day(tl_time_us t)
{
        return t >= 0 ? t / TL_US_PER_DAY : -((-t - 1) / TL_US_PER_DAY) - 1;
}

/* The row's dedup key in the meter_keys staging COPY. */
static tl_status stage_key(struct meter_batch *b, const struct sch_event *ev,
                           const struct meter_row *row, struct tl_error *err)
{
        struct tl_buf *k = &b->keys;
        unsigned char key[METER_KEY_BYTES];
        tl_status rc = k->len ? TL_OK : meter_copy_header(k, err);

        if (!rc)
                rc = event_key(b, ev, key, err);
        if (!rc)
                rc = put_be(k, KEY_FIELDS, 2, err);
        if (!rc)
                rc = put_int(k, (int64_t)(row - b->rows), 4, err);
        if (!rc)
                rc = put_field(k, key, METER_KEY_BYTES, err);
        if (!rc)
                rc = put_field(k, row->hash, SCH_HASH_BYTES, err);
        if (!rc)
                rc = put_int(k, ev->time_us - METER_PG_EPOCH_US, 8, err);
        return rc;
}

/* The row's tuple of the events COPY, sent only if its key is new. */
static tl_status stage_event(struct meter_batch *b, const struct sch_event *ev,
                             struct meter_row *row,
                             const struct meter_part *part,
                             struct tl_error *err)
{
        struct tl_buf *o = &b->evtup;
        bool tok = ev->type == SCH_TYPE_TOKENS;
        bool itr = ev->type == SCH_TYPE_ITERATIONS;
        bool mac = ev->type == SCH_TYPE_MATRIX_OPS;
        bool seat = ev->type == SCH_TYPE_SEAT;
        struct sch_str topic = {part->topic, (uint32_t)strlen(part->topic)};
        tl_status rc;

        row->ev_off = o->len;
        rc = put_be(o, EVENT_FIELDS, 2, err);
        if (!rc)
                rc = put_int(o, ev->time_us - METER_PG_EPOCH_US, 8, err);
        if (!rc)
                rc = put_text(o, ev->subject, err);
        if (!rc)
                rc = put_int(o, (int64_t)ev->type, 2, err);
        if (!rc)
                rc = put_text(o, ev->source, err);
        if (!rc)
                rc = put_text(o, ev->id, err);
        if (!rc)
                rc = seat ? put_null(o, err) : put_text(o, ev->model, err);
        if (!rc)
                rc = seat ? put_null(o, err)
                          : put_int(o, (int64_t)ev->deployment, 2, err);
        if (!rc)
                rc = (tok || itr) ? put_text(o, ev->decoding, err)
                                  : put_null(o, err);
        if (!rc)
                rc = put_count(o, tok, ev->input_tokens, err);
        if (!rc)
                rc = put_count(o, tok, ev->output_tokens, err);
        if (!rc)
                rc = put_count(o, tok, ev->cached_input_tokens, err);
        if (!rc)
                rc = put_count(o, itr, ev->iterations, err);
        if (!rc)
                rc = put_count(o, itr, ev->tokens, err);
        if (!rc)
                rc = put_count(o, mac, ev->mac, err);
        if (!rc)
                rc = seat ? put_text(o, ev->device_id, err) : put_null(o, err);
        if (!rc)
                rc = seat ? put_int(o, (int64_t)ev->action, 2, err)
                          : put_null(o, err);
        if (!rc)
                rc =
                    seat ? put_text(o, ev->model_class, err) : put_null(o, err);
        if (!rc)
                rc = put_text(o, ev->task, err); /* NULL but for outcomes */
        if (!rc)
                rc = put_text(o, ev->outcome, err);
        if (!rc)
                rc = put_count(o, ev->type == SCH_TYPE_OUTCOME, ev->units, err);
        if (!rc)
                rc = b->dims.len ? put_field(o, b->dims.data, b->dims.len, err)
                                 : put_null(o, err);
        if (!rc)
                rc = put_field(o, row->hash, SCH_HASH_BYTES, err);
        if (!rc)
                rc = put_text(o, topic, err);
        if (!rc)
                rc = put_int(o, part->partition, 4, err);
        if (!rc)
                rc = put_int(o, row->offset, 8, err);
        row->ev_len = (uint32_t)(o->len - row->ev_off);
        return rc;
}

/* The row's rollup group and the counters it adds there if stored. Seats
   are counted from the events, not rolled up. */
static tl_status stage_rollup(struct meter_batch *b, const struct sch_event *ev,
                              struct meter_row *row, struct tl_error *err)
{
        bool tok = ev->type == SCH_TYPE_TOKENS;
        bool itr = ev->type == SCH_TYPE_ITERATIONS;
        struct meter_group key = {0};
        tl_status rc;

        row->group = METER_NO_GROUP;
        if (ev->type == SCH_TYPE_SEAT)
                return TL_OK;
        rc = attrs_hash(ev, &b->scratch, key.attrs, err);
        if (rc)
                return rc;
        key.customer = ev->subject.ptr;
        key.customer_len = ev->subject.len;
        key.model = ev->model.ptr;
        key.model_len = ev->model.ptr ? ev->model.len : 0;
        key.decoding = (tok || itr) ? ev->decoding.ptr : NULL;
        key.decoding_len = key.decoding ? ev->decoding.len : 0;
        key.dims = b->dims.len ? b->dims.data : NULL;
        key.dims_len = (uint32_t)b->dims.len;
        key.task = ev->task.ptr;
        key.task_len = ev->task.ptr ? ev->task.len : 0;
        key.outcome = ev->outcome.ptr;
        key.outcome_len = ev->outcome.ptr ? ev->outcome.len : 0;
        key.day = (int32_t)utc_day(ev->time_us);
        key.type = (int16_t)ev->type;
        key.deployment = (int16_t)ev->deployment;
        row->n[0] = tok ? ev->input_tokens : 0;
        row->n[1] = tok ? ev->output_tokens : 0;
        row->n[2] = tok ? ev->cached_input_tokens : 0;
        row->n[3] = itr ? ev->iterations : 0;
        row->n[4] = itr ? ev->tokens : 0;
        row->n[5] = ev->type == SCH_TYPE_MATRIX_OPS ? ev->mac : 0;
        row->n[6] = ev->type == SCH_TYPE_OUTCOME ? ev->units : 0;
        return meter__rollup_find(&b->roll, &b->arena, &key, &row->group, err);
}

static tl_status stage_row(struct meter_batch *b, const struct sch_event *ev,
                           struct meter_row *row, const struct meter_part *part,
                           struct tl_error *err)
{
        tl_status rc = dims_jsonb(ev, &b->dims, err);

        if (!rc)
                rc = stage_key(b, ev, row, err);
        if (!rc)
                rc = stage_event(b, ev, row, part, err);
        if (!rc)
                rc = stage_rollup(b, ev, row, err);
        return rc;
}

/* ---- rows, dedup and dead letters --------------------------------------- */

static bool same_key(const struct meter_row *a, const struct sch_event *ev)
{
        return a->subject_len == ev->subject.len &&
               a->source_len == ev->source.len && a->id_len == ev->id.len &&
               !memcmp(a->subject, ev->subject.ptr, ev->subject.len) &&
               !memcmp(a->source, ev->source.ptr, ev->source.len) &&
               !memcmp(a->id, ev->id.ptr, ev->id.len);
}

static uint64_t key_hash(const struct sch_event *ev)
{
        uint64_t h = tl_hash64(ev->subject.ptr, ev->subject.len, 17);

        h = tl_hash64(ev->source.ptr, ev->source.len, h);
        return tl_hash64(ev->id.ptr, ev->id.len, h);
}

/* Keep the slot table at most half full, rehashing existing rows. */
static tl_status slots_reserve(struct meter_batch *b, struct tl_error *err)
{
        size_t cap;

        if ((b->nrows + 1) * 2 <= b->slot_cap)
                return TL_OK;
        cap = b->slot_cap ? b->slot_cap * 2 : 4096;
        tl_free(b->slots);
        b->slots = tl_calloc(cap, sizeof *b->slots);
        if (!b->slots) {
                b->slot_cap = 0;
                return tl_fail(err, TL_ENOMEM, "meter batch: out of memory");
        }
        b->slot_cap = cap;
        for (size_t i = 0; i < b->nrows; i++) {
                const struct meter_row *r = &b->rows[i];
                struct sch_event k = {.subject = {r->subject, r->subject_len},
                                      .source = {r->source, r->source_len},
                                      .id = {r->id, r->id_len}};
                size_t s;
                if (r->dup_of >= 0)
                        continue;
                s = key_hash(&k) & (cap - 1);
                while (b->slots[s])
                        s = (s + 1) & (cap - 1);
                b->slots[s] = (uint32_t)i + 1;
        }
        return TL_OK;
}

static void note_month(struct meter_batch *b, tl_time_us t)
{
        int64_t y;
        unsigned m, d;
        int32_t key;

        tl_civil_from_days(utc_day(t), &y, &m, &d);
        key = (int32_t)(y * 12 + m - 1);
        for (int i = 0; i < b->nmonths; i++)
                if (b->months[i] == key)
                        return;
        if (b->nmonths == (int)(sizeof b->months / sizeof b->months[0]))
                b->months_overflow = true;
        else
                b->months[b->nmonths++] = key;
}

static tl_status add_row(struct meter_batch *b, const struct sch_event *ev,
                         struct meter_part *part, uint32_t pi, int64_t offset,
                         int32_t index, struct sch_str raw,
                         struct tl_error *err)
{
        struct meter_row *r;
        size_t s;
        tl_status rc;
        char *subject, *source, *id;

        rc = grow((void **)&b->rows, &b->row_cap, b->nrows, sizeof *b->rows,
                  err);
        if (!rc)
                rc = slots_reserve(b, err);
        if (!rc)
                rc = tl_arena_strndup(&b->arena, ev->subject.ptr,
                                      ev->subject.len, &subject, err);
        if (!rc)
                rc = tl_arena_strndup(&b->arena, ev->source.ptr, ev->source.len,
                                      &source, err);
        if (!rc)
                rc = tl_arena_strndup(&b->arena, ev->id.ptr, ev->id.len, &id,
                                      err);
        if (rc)
                return rc;
        r = &b->rows[b->nrows];
        *r = (struct meter_row){.part = pi,
                                .batch_index = index,
                                .offset = offset,
                                .raw = (const unsigned char *)raw.ptr,
                                .raw_len = raw.len,
                                .dup_of = -1,
                                .fate = ROW_NEW,
                                .subject = subject,
                                .source = source,
                                .id = id,
                                .subject_len = ev->subject.len,
                                .source_len = ev->source.len,
                                .id_len = ev->id.len};
        sch_event_hash(ev, r->hash);
        s = key_hash(ev) & (b->slot_cap - 1);
        for (; b->slots[s]; s = (s + 1) & (b->slot_cap - 1)) {
                const struct meter_row *first = &b->rows[b->slots[s] - 1];
                if (same_key(first, ev)) {
                        r->dup_of = (int32_t)(b->slots[s] - 1);
                        break;
                }
        }
        if (r->dup_of < 0) {
                b->slots[s] = (uint32_t)b->nrows + 1;
                rc = stage_row(b, ev, r, part, err);
                if (rc)
                        return rc;
                b->staged++;
                note_month(b, ev->time_us);
        }
        b->nrows++;
        return TL_OK;
}

/* Replace bytes that would make 'reason' invalid text with '?'. */
static void clean_text(char *s)
{
        size_t n = strlen(s);

        if (tl_utf8_valid(s, n))
                return;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] >= 0x80)
                        s[i] = '?';
}

tl_status meter__batch_dead(struct meter_batch *b, uint32_t pi, int64_t offset,
                            int32_t index, int32_t count, const void *raw,
                            size_t raw_len, struct tl_error *err,
                            const char *fmt, ...)
{
        char msg[TL_ERROR_MSG_MAX + 256];
        va_list ap;
        char *reason;
        tl_status rc;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        clean_text(msg);
        rc = grow((void **)&b->dead, &b->dead_cap, b->ndead, sizeof *b->dead,
                  err);
        if (!rc)
                rc =
                    tl_arena_strndup(&b->arena, msg, strlen(msg), &reason, err);
        if (rc)
                return rc;
        b->dead[b->ndead++] = (struct meter_dead){.part = pi,
                                                  .batch_index = index,
                                                  .batch_count = count,
                                                  .offset = offset,
                                                  .raw = raw,
                                                  .raw_len = raw_len,
                                                  .reason = reason};
        return TL_OK;
}

static const char *content_type(const rd_kafka_message_t *msg, char *buf,
                                size_t size)
{
        rd_kafka_headers_t *h = NULL;
        const void *v;
        size_t len;

        if (rd_kafka_message_headers(msg, &h) || !h ||
            rd_kafka_header_get_last(h, "content-type", &v, &len) || !v)
                return NULL;
        if (len >= size)
                len = size - 1;
        memcpy(buf, v, len);
        buf[len] = '\0';
        return buf;
}

static tl_status add_cbor(struct meter_batch *b, rd_kafka_message_t *msg,
                          struct meter_part *part, uint32_t pi,
                          struct tl_error *err)
{
        struct sch_cbor_reader rd;
        struct tl_error e = {0};
        tl_status rc;

        if (sch_cbor_reader_open(&rd, msg->payload, msg->len, false, &e)) {
                b->units++;
                part->consumed++;
                return meter__batch_dead(b, pi, msg->offset, 0, 1, msg->payload,
                                         msg->len, err, "%s", e.msg);
        }
        while (sch_cbor_reader_more(&rd)) {
                struct sch_event ev;
                struct sch_str raw;
                int32_t index = (int32_t)rd.index;

                tl_error_clear(&e);
                rc = sch_cbor_reader_next(&rd, b->dec, &ev, &raw, &e);
                if (rc == TL_OK) {
                        b->units++;
                        part->consumed++;
                        rc = add_row(b, &ev, part, pi, msg->offset, index, raw,
                                     err);
                } else if (rc == TL_EINVAL) {
                        b->units++;
                        part->consumed++;
                        rc = meter__batch_dead(b, pi, msg->offset, index, 1,
                                               raw.ptr, raw.len, err, "%s",
                                               e.msg);
                } else {
                        /* The rest cannot be split: one row stands for it. */
                        size_t rest = sch_cbor_reader_remaining(&rd);
                        if (!rest)
                                rest = 1;
                        b->units += rest;
                        part->consumed += rest;
                        rc = meter__batch_dead(b, pi, msg->offset, index,
                                               (int32_t)rest, raw.ptr, raw.len,
                                               err, "%s", e.msg);
                        if (!rc)
                                break;
                }
                if (rc)
                        return rc;
        }
        return TL_OK;
}

tl_status meter__batch_bind(struct meter_batch *b,
                            const struct meter_part *parts, size_t n,
                            struct tl_error *err)
{
        if (n > b->parts_cap) {
                struct meter_part *np = tl_realloc(b->parts, n * sizeof *np);
                if (!np)
                        return tl_fail(err, TL_ENOMEM,
                                       "meter batch: out of memory");
                b->parts = np;
                b->parts_cap = n;
        }
        for (size_t i = 0; i < n; i++) {
                struct meter_part *p = &b->parts[i];
                memcpy(p, &parts[i], sizeof *p);
                p->last = -1;
                p->consumed = p->stored_n = p->dups = p->dead = 0;
        }
        b->nparts = n;
        return TL_OK;
}

tl_status meter__batch_add(struct meter_batch *b, rd_kafka_message_t *msg,
                           uint32_t pi, struct tl_error *err)
{
        struct meter_part *part = &b->parts[pi];
        char ctbuf[128];
        const char *ct;
        tl_status rc;

        rc =
            grow((void **)&b->msgs, &b->msg_cap, b->nmsg, sizeof *b->msgs, err);
        if (rc) {
                rd_kafka_message_destroy(msg);
                return rc;
        }
        b->msgs[b->nmsg++] = msg;
        if (!b->started_us)
                b->started_us = tl_mono_us();
        part->last = msg->offset;
        if (!msg->payload || msg->len == 0) {
                b->units++;
                part->consumed++;
                return meter__batch_dead(b, pi, msg->offset, 0, 1, "", 0, err,
                                         "empty message");
        }
        if (msg->len > SCH_MAX_MESSAGE_BYTES) {
                b->units++;
                part->consumed++;
                return meter__batch_dead(b, pi, msg->offset, 0, 1, msg->payload,
                                         msg->len, err,
                                         "message of %zu bytes is over the "
                                         "limit of %d bytes",
                                         msg->len, SCH_MAX_MESSAGE_BYTES);
        }
        ct = content_type(msg, ctbuf, sizeof ctbuf);
        if (sch_detect_encoding(ct, msg->payload, msg->len) == SCH_ENC_CBOR)
                return add_cbor(b, msg, part, pi, err);
        {
                struct sch_event ev;
                struct tl_error e = {0};
                struct sch_str raw = {msg->payload, (uint32_t)msg->len};

                b->units++;
                part->consumed++;
                if (sch_decode_json(b->dec, msg->payload, msg->len, &ev, &e))
                        return meter__batch_dead(b, pi, msg->offset, 0, 1,
                                                 msg->payload, msg->len, err,
                                                 "%s", e.msg);
                return add_row(b, &ev, part, pi, msg->offset, 0, raw, err);
        }
}

tl_status meter__batch_settle(struct meter_batch *b, struct tl_error *err)
{
        struct meter_part *parts = b->parts;

        for (size_t i = 0; i < b->nrows; i++) {
                struct meter_row *r = &b->rows[i];
                struct meter_part *p = &parts[r->part];
                tl_status rc;

                if (r->dup_of >= 0) {
                        /* Compare with what the database holds for the key:
                           the first copy's content when it was just stored,
                           else the older stored content. */
                        const struct meter_row *f = &b->rows[r->dup_of];
                        const unsigned char *ref =
                            f->fate == ROW_STORED ? f->hash : f->db_hash;
                        r->fate = memcmp(ref, r->hash, SCH_HASH_BYTES)
                                      ? ROW_CONFLICT
                                      : ROW_DUP;
                }
                if (r->fate == ROW_STORED) {
                        p->stored_n++;
                } else if (r->fate == ROW_DUP) {
                        p->dups++;
                } else if (r->fate == ROW_CONFLICT) {
                        rc = meter__batch_dead(
                            b, r->part, r->offset, r->batch_index, 1, r->raw,
                            r->raw_len, err,
                            "conflicting duplicate: id '%s' from source "
                            "'%s' for subject '%s' was first seen with "
                            "other content",
                            r->id, r->source, r->subject);
                        if (rc)
                                return rc;
                } else {
                        return tl_fail(err, TL_EINTERNAL,
                                       "meter: row %zu left unclassified", i);
                }
        }
        for (size_t i = 0; i < b->ndead; i++)
                parts[b->dead[i].part].dead += (uint64_t)b->dead[i].batch_count;
        return TL_OK;
}

tl_status meter__batch_stored_copy(struct meter_batch *b, struct tl_buf *out,
                                   size_t *rows, struct tl_error *err)
{
        tl_status rc = meter_copy_header(out, err);

        *rows = 0;
        for (size_t i = 0; !rc && i < b->nrows; i++) {
                const struct meter_row *r = &b->rows[i];
                if (r->fate != ROW_STORED)
                        continue;
                rc = tl_buf_append(out, b->evtup.data + r->ev_off, r->ev_len,
                                   err);
                if (r->group != METER_NO_GROUP)
                        meter__rollup_add(&b->roll, r->group, r->n);
                (*rows)++;
        }
        return rc ? rc : meter_copy_trailer(out, err);
}

tl_status meter__batch_dead_copy(const struct meter_batch *b,
                                 const struct meter_part *parts,
                                 const char *group, struct tl_buf *out,
                                 struct tl_error *err)
{
        tl_status rc = meter_copy_header(out, err);

        for (size_t i = 0; !rc && i < b->ndead; i++) {
                const struct meter_dead *d = &b->dead[i];
                const struct meter_part *p = &parts[d->part];
                rc = put_be(out, 8, 2, err);
                if (!rc)
                        rc = put_field(out, group, strlen(group), err);
                if (!rc)
                        rc = put_field(out, p->topic, strlen(p->topic), err);
                if (!rc)
                        rc = put_int(out, p->partition, 4, err);
                if (!rc)
                        rc = put_int(out, d->offset, 8, err);
                if (!rc)
                        rc = put_int(out, d->batch_index, 4, err);
                if (!rc)
                        rc = put_int(out, d->batch_count, 4, err);
                if (!rc)
                        rc = put_field(out, d->reason, strlen(d->reason), err);
                if (!rc)
                        rc = put_field(out, d->raw, d->raw_len, err);
        }
        return rc ? rc : meter_copy_trailer(out, err);
}
