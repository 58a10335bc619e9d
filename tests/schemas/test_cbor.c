/* CBOR specifics: time tags, floats, tags, indefinite lengths, batches,
   sequences and malformed input. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "evtest.h"

#define SEAT_JSON(id, time)                                                    \
        "{\"specversion\":\"1.0\",\"id\":\"" id "\",\"source\":\"s\","         \
        "\"type\":\"device.seat\",\"subject\":\"c\",\"time\":\"" time "\","    \
        "\"data\":{\"device_id\":\"d\",\"action\":\"activate\","               \
        "\"model_class\":\"small\"}}"

/* Hand-built CBOR: append raw bytes, heads and text. */
static void raw(struct tl_buf *b, const char *bytes, size_t n)
{
        tl_buf_append(b, bytes, n, NULL);
}

static void head(struct tl_buf *b,
                 size_t (*fn)(uint64_t, unsigned char *, size_t), uint64_t v)
{
        unsigned char h[9];
        raw(b, (const char *)h, fn(v, h, sizeof h));
}

static size_t map_h(uint64_t n, unsigned char *b, size_t s)
{
        return cbor_encode_map_start((size_t)n, b, s);
}

static size_t arr_h(uint64_t n, unsigned char *b, size_t s)
{
        return cbor_encode_array_start((size_t)n, b, s);
}

static void text(struct tl_buf *b, const char *s)
{
        unsigned char h[9];
        raw(b, (const char *)h, cbor_encode_string_start(strlen(s), h, 9));
        raw(b, s, strlen(s));
}

/* A seat event map whose "time" value the caller writes with 'put_time'. */
static void seat_with_time(struct tl_buf *b, void (*put_time)(struct tl_buf *))
{
        head(b, map_h, 6);
        text(b, "id"), text(b, "i");
        text(b, "source"), text(b, "s");
        text(b, "type"), text(b, "device.seat");
        text(b, "subject"), text(b, "c");
        text(b, "time"), put_time(b);
        text(b, "data");
        head(b, map_h, 3);
        text(b, "device_id"), text(b, "d");
        text(b, "action"), text(b, "activate");
        text(b, "model_class"), text(b, "small");
}

static void t_tag1_uint(struct tl_buf *b)
{
        head(b, cbor_encode_tag, 1);
        head(b, cbor_encode_uint, 1760434212);
}

static void t_tag1_float(struct tl_buf *b)
{
        unsigned char h[9];
        head(b, cbor_encode_tag, 1);
        raw(b, (const char *)h, cbor_encode_double(1760434212.123, h, 9));
}

static void t_tag0_text(struct tl_buf *b)
{
        head(b, cbor_encode_tag, 0);
        text(b, "2026-10-14T09:30:12.5Z");
}

static void t_tag1_neg(struct tl_buf *b)
{
        head(b, cbor_encode_tag, 1);
        head(b, cbor_encode_negint, 5);
}

static void t_untagged_uint(struct tl_buf *b)
{
        head(b, cbor_encode_uint, 1760434212);
}

static void t_tag1_text(struct tl_buf *b)
{
        head(b, cbor_encode_tag, 1);
        text(b, "2026-10-14T09:30:12Z");
}

static tl_status decode_with_time(void (*put_time)(struct tl_buf *),
                                  struct sch_event *ev, struct tl_error *err)
{
        static struct tl_buf b; /* the event borrows from it */

        tl_buf_clear(&b);
        seat_with_time(&b, put_time);
        return evt_decode_cbor_bytes(b.data, b.len, ev, err);
}

Test(cbor, time_as_tag_0_text_or_tag_1_epoch_seconds)
{
        struct sch_event ev;
        struct tl_error err;

        cr_assert_eq(decode_with_time(t_tag1_uint, &ev, &err), TL_OK, "%s",
                     err.msg);
        cr_assert_eq(ev.time_us, INT64_C(1760434212000000));
        cr_assert_eq(decode_with_time(t_tag1_float, &ev, &err), TL_OK, "%s",
                     err.msg);
        cr_assert_eq(ev.time_us, INT64_C(1760434212123000), "%lld",
                     (long long)ev.time_us);
        cr_assert_eq(decode_with_time(t_tag0_text, &ev, &err), TL_OK, "%s",
                     err.msg);
        cr_assert_eq(ev.time_us, INT64_C(1791970212500000), "%lld",
                     (long long)ev.time_us);
        cr_assert_eq(decode_with_time(t_tag1_neg, &ev, &err), TL_EINVAL);
        cr_assert(strstr(err.msg, "time: before 2000-01-01"), "%s", err.msg);
        cr_assert_eq(decode_with_time(t_untagged_uint, &ev, &err), TL_EINVAL);
        cr_assert(strstr(err.msg, "time: expected RFC 3339 text (tag 0) or "
                                  "epoch seconds (tag 1), got unsigned "
                                  "integer"),
                  "%s", err.msg);
        cr_assert_eq(decode_with_time(t_tag1_text, &ev, &err), TL_EINVAL);
        cr_assert(strstr(err.msg, "tag 1 needs epoch seconds, got text"), "%s",
                  err.msg);
}

/* Decode 'b' as one event: it must be invalid with 'frag' in the reason. */
static void expect_invalid(struct tl_buf *b, const char *frag)
{
        struct tl_error err;

        cr_assert_eq(evt_decode_cbor_bytes(b->data, b->len, NULL, &err),
                     TL_EINVAL, "%s", frag);
        cr_assert(strstr(err.msg, frag), "'%s' lacks '%s'", err.msg, frag);
        tl_buf_clear(b);
}

Test(cbor, wrong_kinds_are_named)
{
        struct tl_buf b;

        tl_buf_init(&b, 0);
        head(&b, map_h, 1);
        text(&b, "id");
        raw(&b,
            "\x43"
            "abc",
            4); /* byte string */
        expect_invalid(&b, "id: expected text, got byte string");
        head(&b, map_h, 1);
        head(&b, cbor_encode_uint, 7); /* a non-text key */
        text(&b, "x");
        expect_invalid(&b, "event: map keys must be text");
        text(&b, "not a map");
        expect_invalid(&b, "event: expected a map, got text");
        head(&b, map_h, 1);
        text(&b, "id");
        head(&b, cbor_encode_tag, 2); /* a bignum tag */
        raw(&b, "\x41\x01", 2);
        expect_invalid(&b, "id: expected text, got tagged item (tag 2)");
        head(&b, map_h, 1);
        text(&b, "id");
        raw(&b, "\x62\xc3\x28", 3); /* invalid UTF-8 */
        expect_invalid(&b, "id: invalid UTF-8");
        tl_buf_release(&b);
}

Test(cbor, hostile_items_are_refused_with_bounded_work)
{
        static const struct {
                const char *bytes;
                size_t len;
                tl_status rc;
                const char *frag;
        } cases[] = {
            {"\xbf\x62id\x61i\xff", 7, TL_ELIMIT, "indefinite-length"},
            {"\xa1\x62id\x7f\x61i\xff", 8, TL_ELIMIT, "indefinite-length"},
            {"\xa1\x62id", 4, TL_EPARSE, "truncated"},
            {"\xa1\x62id\x78\xff", 6, TL_EPARSE, "truncated"},
            {"\xb9\xff\xff", 3, TL_ELIMIT, "map of more than 64 entries"},
            {"\xa1\x62id\x9b\xff\xff\xff\xff\xff\xff\xff\xff", 13, TL_ELIMIT,
             "container of over 4096 items"},
            {"\xa1\x62id\xc0\xc0\x61x", 8, TL_ELIMIT, "nested tags"},
            {"\xa1\x62id\xff", 5, TL_EPARSE, "unexpected break"},
            {"\xa1\x62id\x1c", 5, TL_EPARSE, "malformed"},
            {"\xa1\x62id\xf8\x10", 6, TL_EPARSE, "malformed"},
            {"\xa1\x62id\xe1", 5, TL_EINVAL, "unassigned simple value 1"},
            {"\xa1\x62id\xf8\xff", 6, TL_EINVAL, "unassigned simple value 255"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                struct tl_error err = {TL_OK, ""};
                tl_status rc = evt_decode_cbor_bytes(cases[i].bytes,
                                                     cases[i].len, NULL, &err);
                cr_expect_eq(rc, cases[i].rc, "case %zu: %s %s", i,
                             tl_status_name(rc), err.msg);
                cr_expect(strstr(err.msg, cases[i].frag), "case %zu: '%s'", i,
                          err.msg);
        }
}

Test(cbor, deep_nesting_is_refused)
{
        struct tl_buf b;
        struct tl_error err;

        tl_buf_init(&b, 0);
        head(&b, map_h, 1);
        text(&b, "ext");
        for (int i = 0; i < 40; i++)
                head(&b, arr_h, 1);
        head(&b, cbor_encode_uint, 0);
        cr_assert_eq(evt_decode_cbor_bytes(b.data, b.len, NULL, &err),
                     TL_ELIMIT);
        cr_assert(strstr(err.msg, "nesting deeper than 16"), "%s", err.msg);
        tl_buf_release(&b);
}

static void append_event(struct tl_buf *b, const char *json)
{
        cr_assert(evt_json_to_cbor(json, 0, b), "case json");
}

Test(cbor, a_bad_element_dead_letters_alone)
{
        struct tl_buf b;
        struct sch_decoder *d;
        struct sch_cbor_reader r;
        struct sch_event ev;
        struct sch_str rawel;
        struct tl_error err;
        struct sch_options opt = {EVT_NOW_US, 0};
        size_t second_start, second_end;

        tl_buf_init(&b, 0);
        sch_encode_cbor_array_start(3, &b, NULL);
        append_event(&b, SEAT_JSON("a", "2026-10-14T09:30:12Z"));
        second_start = b.len;
        append_event(&b, SEAT_JSON("b", "1999-10-14T09:30:12Z"));
        second_end = b.len;
        append_event(&b, SEAT_JSON("c", "2026-10-14T09:30:12Z"));
        sch_decoder_new(&opt, &d, NULL);
        cr_assert_eq(sch_cbor_reader_open(&r, b.data, b.len, false, &err),
                     TL_OK);
        cr_assert_eq(r.count, 3);
        cr_assert_eq(sch_cbor_reader_next(&r, d, &ev, &rawel, &err), TL_OK);
        cr_assert_eq(memcmp(ev.id.ptr, "a", 1), 0);
        cr_assert_eq(sch_cbor_reader_next(&r, d, &ev, &rawel, &err), TL_EINVAL);
        cr_assert(strstr(err.msg, "is before 2000-01-01"), "%s", err.msg);
        cr_assert_eq(rawel.ptr, b.data + second_start, "raw is the element");
        cr_assert_eq(rawel.len, second_end - second_start);
        cr_assert(sch_cbor_reader_more(&r));
        cr_assert_eq(sch_cbor_reader_next(&r, d, &ev, &rawel, &err), TL_OK);
        cr_assert_eq(memcmp(ev.id.ptr, "c", 1), 0);
        cr_assert_not(sch_cbor_reader_more(&r));
        cr_assert_eq(sch_cbor_reader_remaining(&r), 0);
        sch_decoder_free(&d);
        tl_buf_release(&b);
}

Test(cbor, a_malformed_element_ends_the_batch_and_counts_the_rest)
{
        struct tl_buf b;
        struct sch_decoder *d;
        struct sch_cbor_reader r;
        struct sch_event ev;
        struct sch_str rawel;
        struct tl_error err;
        struct sch_options opt = {EVT_NOW_US, 0};
        size_t bad_at;

        tl_buf_init(&b, 0);
        sch_encode_cbor_array_start(4, &b, NULL);
        append_event(&b, SEAT_JSON("a", "2026-10-14T09:30:12Z"));
        bad_at = b.len;
        raw(&b, "\xa2\x62id\xff\xff", 6); /* a break where a value belongs */
        append_event(&b, SEAT_JSON("c", "2026-10-14T09:30:12Z"));
        sch_decoder_new(&opt, &d, NULL);
        cr_assert_eq(sch_cbor_reader_open(&r, b.data, b.len, false, &err),
                     TL_OK);
        cr_assert_eq(sch_cbor_reader_next(&r, d, &ev, &rawel, &err), TL_OK);
        cr_assert_eq(sch_cbor_reader_next(&r, d, &ev, &rawel, &err), TL_EPARSE);
        cr_assert(r.broken);
        cr_assert_eq(rawel.ptr, b.data + bad_at);
        cr_assert_eq(rawel.len, b.len - bad_at, "the rest, together");
        cr_assert_eq(sch_cbor_reader_remaining(&r), 3, "elements 2..4");
        cr_assert_not(sch_cbor_reader_more(&r));
        sch_decoder_free(&d);
        tl_buf_release(&b);
}

Test(cbor, batch_heads_are_checked_before_decoding)
{
        struct sch_cbor_reader r;
        struct tl_error err;
        unsigned char h[9];
        size_t n;

        n = cbor_encode_array_start(10001, h, sizeof h);
        cr_assert_eq(sch_cbor_reader_open(&r, h, n, false, &err), TL_ELIMIT);
        cr_assert(strstr(err.msg, "batch of 10001 events is over the limit of "
                                  "10000"),
                  "%s", err.msg);
        cr_assert_eq(sch_cbor_reader_open(&r, "\x80", 1, false, &err),
                     TL_EPARSE);
        cr_assert(strstr(err.msg, "empty batch"), "%s", err.msg);
        cr_assert_eq(sch_cbor_reader_open(&r, "\x9f\xff", 2, false, &err),
                     TL_ELIMIT);
        cr_assert_eq(sch_cbor_reader_open(&r, "", 0, false, &err), TL_EPARSE);
}

Test(cbor, trailing_bytes_after_the_event_are_an_error)
{
        struct tl_buf b;
        struct tl_error err;

        tl_buf_init(&b, 0);
        append_event(&b, SEAT_JSON("a", "2026-10-14T09:30:12Z"));
        raw(&b, "\x00", 1);
        cr_assert_eq(evt_decode_cbor_bytes(b.data, b.len, NULL, &err),
                     TL_EPARSE);
        cr_assert(strstr(err.msg, "1 unexpected bytes after the last event"),
                  "%s", err.msg);
        tl_buf_release(&b);
}

Test(cbor, a_sequence_file_reads_event_after_event)
{
        struct tl_buf b;
        struct sch_decoder *d;
        struct sch_cbor_reader r;
        struct sch_event ev;
        struct sch_str rawel;
        struct sch_options opt = {EVT_NOW_US, 0};
        const char *ids = "xyz";
        int n = 0;

        tl_buf_init(&b, 0);
        append_event(&b, SEAT_JSON("x", "2026-10-14T09:30:12Z"));
        append_event(&b, SEAT_JSON("y", "2026-10-14T09:30:12Z"));
        append_event(&b, SEAT_JSON("z", "2026-10-14T09:30:12Z"));
        sch_decoder_new(&opt, &d, NULL);
        cr_assert_eq(sch_cbor_reader_open(&r, b.data, b.len, true, NULL),
                     TL_OK);
        while (sch_cbor_reader_more(&r)) {
                cr_assert_eq(sch_cbor_reader_next(&r, d, &ev, &rawel, NULL),
                             TL_OK);
                cr_assert_eq(ev.id.ptr[0], ids[n]);
                n++;
        }
        cr_assert_eq(n, 3);
        sch_decoder_free(&d);
        tl_buf_release(&b);
}

Test(cbor, detect_uses_content_type_then_first_byte)
{
        cr_assert_eq(
            sch_detect_encoding("application/cloudevents+json", "\xa1", 1),
            SCH_ENC_JSON);
        cr_assert_eq(
            sch_detect_encoding("application/cloudevents+cbor; x=1", "{", 1),
            SCH_ENC_CBOR);
        cr_assert_eq(sch_detect_encoding(NULL, "  {\"a\":1}", 9), SCH_ENC_JSON);
        cr_assert_eq(sch_detect_encoding("text/plain", "\xa1", 1),
                     SCH_ENC_CBOR);
        cr_assert_eq(sch_detect_encoding(NULL, "", 0), SCH_ENC_CBOR);
}

Test(cbor, only_the_self_describe_tag_may_wrap_the_event)
{
        struct tl_buf b;
        struct tl_error err;

        tl_buf_init(&b, 0);
        head(&b, cbor_encode_tag, 55799);
        append_event(&b, SEAT_JSON("a", "2026-10-14T09:30:12Z"));
        cr_assert_eq(evt_decode_cbor_bytes(b.data, b.len, NULL, &err), TL_OK,
                     "%s", err.msg);
        tl_buf_clear(&b);
        head(&b, cbor_encode_tag, 10);
        append_event(&b, SEAT_JSON("a", "2026-10-14T09:30:12Z"));
        expect_invalid(&b, "event: unexpected tag 10 on the event map");
        tl_buf_release(&b);
}

/* The skim that splits sequence files among threads measures each item
   exactly as the reader does, finds its subject, and refuses what the
   reader cannot read. */
Test(cbor, the_skim_measures_items_and_finds_the_subject)
{
        struct tl_buf b;
        struct sch_cbor_reader r;
        struct sch_decoder *d;
        struct sch_event ev;
        struct sch_str rawel, subj;
        struct sch_options opt = {EVT_NOW_US, 0};
        size_t pos = 0, n;
        static const struct {
                const char *bytes;
                size_t len;
        } bad[] = {
            {"\xbf\x62id\x61i\xff", 7}, /* indefinite map */
            {"\xa1\x62id", 4},          /* truncated */
            {"\xa1\x62id\x78\xff", 6},  /* text past the end */
            {"\xa1\x62id\xff", 5},      /* a break */
            {"\xa1\x62id\x1c", 5},      /* reserved ai */
            {"\xa1\x62id\xf8\x10", 6},  /* simple < 32 */
            {"\xa1\x62id\x9b\xff\xff\xff\xff\xff\xff\xff\xff", 13},
        };

        tl_buf_init(&b, 0);
        append_event(&b, SEAT_JSON("x", "2026-10-14T09:30:12Z"));
        head(&b, cbor_encode_tag, 55799);
        append_event(&b, SEAT_JSON("y", "2026-10-14T09:30:12Z"));
        /* Not an event at all: measured all the same, no subject. */
        head(&b, arr_h, 2);
        head(&b, cbor_encode_uint, 1);
        text(&b, "subject");
        sch_decoder_new(&opt, &d, NULL);
        cr_assert_eq(sch_cbor_reader_open(&r, b.data, b.len, true, NULL),
                     TL_OK);
        for (int i = 0; i < 3; i++) {
                cr_assert_eq(
                    sch_cbor_skim(b.data + pos, b.len - pos, &n, &subj), TL_OK,
                    "item %d", i);
                (void)sch_cbor_reader_next(&r, d, &ev, &rawel, NULL);
                cr_assert_eq(n, rawel.len, "item %d: %zu, reader %u", i, n,
                             rawel.len);
                if (i < 2)
                        cr_assert(
                            subj.ptr && subj.len == ev.subject.len &&
                                memcmp(subj.ptr, ev.subject.ptr, subj.len) == 0,
                            "item %d", i);
                else
                        cr_assert_null(subj.ptr);
                pos += n;
        }
        cr_assert_eq(pos, b.len);
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
                cr_expect_neq(
                    sch_cbor_skim(bad[i].bytes, bad[i].len, &n, &subj), TL_OK,
                    "bad case %zu", i);
        sch_decoder_free(&d);
        tl_buf_release(&b);
}
