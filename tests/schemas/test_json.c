/* The JSON decoder's syntax, limits, and agreement with jansson. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "evtest.h"

#define GOOD                                                                   \
        "{\"specversion\":\"1.0\",\"id\":\"req-8f2c-0001\",\"source\":"        \
        "\"cloud/eu-west-1/gw-3\",\"type\":\"inference.tokens\",\"subject\":"  \
        "\"cust_0042\",\"time\":\"2026-10-14T09:30:12.123Z\",\"data\":{"       \
        "\"model\":\"mercury-coder-small\",\"deployment\":\"cloud\","          \
        "\"decoding\":\"diffusion\",\"input_tokens\":812,\"output_tokens\":"   \
        "1204,\"cached_input_tokens\":0,\"region\":\"eu\\u00e9\\n\"}}"

static void expect_parse_error(const char *json, const char *frag)
{
        struct tl_error err;
        tl_status rc = evt_decode(json, false, NULL, &err);

        cr_expect_eq(rc, TL_EPARSE, "%s: got %s (%s)", json, tl_status_name(rc),
                     err.msg);
        cr_expect(strstr(err.msg, frag), "%s: '%s' lacks '%s'", json, err.msg,
                  frag);
}

Test(json, syntax_errors_name_the_byte)
{
        expect_parse_error("",
                           "expected '{' to start an event object at byte 0");
        expect_parse_error("[]", "expected '{'");
        expect_parse_error("{\"id\" \"x\"}",
                           "expected ':' after key at byte 6");
        expect_parse_error("{\"id\":\"x\",}", "expected a string key");
        expect_parse_error("{\"id\":\"x\"", "expected ',' or '}'");
        expect_parse_error("{\"id\":\"x", "unterminated string");
        expect_parse_error("{\"a\":012}", "leading zero");
        expect_parse_error("{\"a\":1.}", "bad fraction");
        expect_parse_error("{\"a\":1e}", "bad exponent");
        expect_parse_error("{\"a\":-}", "bad number");
        expect_parse_error("{\"a\":tru}", "unexpected character");
        expect_parse_error("{\"a\":}", "expected a value at byte 5");
        expect_parse_error("{\"a\":[1,]}", "expected a value at byte 8");
        expect_parse_error("{\"a\":\"\\x\"}", "bad escape");
        expect_parse_error("{\"a\":\"\\u12\"}", "bad \\u escape");
        expect_parse_error("{\"a\":\"\\ud800\"}", "lone high surrogate");
        expect_parse_error("{\"a\":\"\\udc00\"}", "lone low surrogate");
        expect_parse_error("{\"a\":\"tab\there\"}", "control character");
        /* Text that is not UTF-8 is well-formed JSON and an invalid
           event: test_utf8.c. */
        expect_parse_error("{} {}", "unexpected data after the event object");
}

Test(json, escapes_are_decoded)
{
        struct sch_event ev;
        struct tl_error err;
        struct sch_str v;

        cr_assert_eq(evt_decode(GOOD, false, &ev, &err), TL_OK, "%s", err.msg);
        cr_assert(sch_event_text_field(&ev, "region", &v));
        cr_assert_eq(v.len, 5);
        cr_assert_eq(memcmp(v.ptr, "eu\xc3\xa9\n", 5), 0);
        cr_assert_eq(
            evt_decode("{\"specversion\":\"1.0\",\"id\":"
                       "\"\\ud83d\\ude00\\\"\\/\\\\\",\"source\":\"s\","
                       "\"type\":\"device.seat\",\"subject\":\"c\","
                       "\"time\":\"2026-10-14T09:30:12Z\",\"data\":{"
                       "\"device_id\":\"d\",\"action\":\"activate\","
                       "\"model_class\":\"small\"}}",
                       false, &ev, &err),
            TL_OK, "%s", err.msg);
        cr_assert_eq(ev.id.len, 7);
        cr_assert_eq(memcmp(ev.id.ptr, "\xf0\x9f\x98\x80\"/\\", 7), 0);
}

Test(json, whitespace_is_allowed_between_tokens)
{
        cr_assert_eq(
            evt_decode(" \n{ \"specversion\" : \"1.0\" ,\t\"id\":\"i\","
                       "\"source\":\"s\",\"type\":\"device.seat\","
                       "\"subject\":\"c\",\"time\":"
                       "\"2026-10-14T09:30:12Z\",\"data\" : { "
                       "\"device_id\":\"d\",\"action\":\"activate\","
                       "\"model_class\":\"small\" } }\r\n",
                       false, NULL, NULL),
            TL_OK);
}

Test(json, limits_bound_hostile_input)
{
        struct tl_error err;
        size_t big = SCH_MAX_MESSAGE_BYTES + 1;
        char *s = malloc(big + 1);
        struct sch_decoder *d;
        struct sch_event ev;

        /* Over the message limit: refused before parsing. */
        memset(s, ' ', big);
        s[0] = '{';
        s[big] = '\0';
        sch_decoder_new(NULL, &d, NULL);
        cr_assert_eq(sch_decode_json(d, s, big, &ev, &err), TL_ELIMIT);
        cr_assert(strstr(err.msg, "over the 1048576 byte limit"), "%s",
                  err.msg);
        /* Deep nesting in an ignored extension attribute. */
        strcpy(s, "{\"ext\":");
        for (int i = 0; i < 40; i++)
                strcat(s, "[");
        for (int i = 0; i < 40; i++)
                strcat(s, "]");
        strcat(s, "}");
        cr_assert_eq(sch_decode_json(d, s, strlen(s), &ev, &err), TL_ELIMIT);
        cr_assert(strstr(err.msg, "nesting deeper than 16"), "%s", err.msg);
        /* Many items: a long array of zeros. */
        strcpy(s, "{\"ext\":[0");
        for (int i = 0; i < 5000; i++)
                strcat(s, ",0");
        strcat(s, "]}");
        cr_assert_eq(sch_decode_json(d, s, strlen(s), &ev, &err), TL_ELIMIT);
        cr_assert(strstr(err.msg, "more than 4096 items"), "%s", err.msg);
        sch_decoder_free(&d);
        free(s);
}

/*
** Differential: mutate a valid event byte by byte and compare with jansson.
** Where we accept, jansson must accept (we read the whole document); where
** jansson accepts, we must not call it malformed. Jansson is stricter than
** JSON on a few numbers (overflow), which those cases skip.
*/
Test(json, agrees_with_jansson_on_mutated_documents)
{
        static const char alphabet[] =
            "{}[]:,\"\\0123456789-+.eEtruefalsn \x7f\x80\xc3";
        unsigned long long seed = 42;
        size_t base_len = strlen(GOOD);
        char doc[1024];
        int compared = 0;

        for (int i = 0; i < 20000; i++) {
                size_t len = base_len, at;
                json_error_t je;
                struct tl_error err;
                json_t *j;
                tl_status rc;

                memcpy(doc, GOOD, base_len);
                for (int m = 0; m < 1 + (i % 3); m++) {
                        seed = seed * 6364136223846793005ULL + 1;
                        at = (size_t)(seed >> 33) % len;
                        char c = alphabet[(seed >> 20) % (sizeof alphabet - 1)];
                        switch ((seed >> 12) % 3) {
                        case 0:
                                doc[at] = c;
                                break;
                        case 1:
                                memmove(doc + at, doc + at + 1, len - at - 1);
                                len--;
                                break;
                        default:
                                memmove(doc + at + 1, doc + at, len - at);
                                doc[at] = c;
                                len++;
                        }
                }
                doc[len] = '\0';
                j = json_loadb(doc, len,
                               JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &je);
                rc = evt_decode(doc, false, NULL, &err);
                if ((!j && strstr(je.text, "overflow")) ||
                    (j && !json_is_object(j))) {
                        json_decref(j);
                        continue;
                }
                compared++;
                if (rc == TL_OK)
                        cr_assert(j, "we accept, jansson rejects (%s): %s",
                                  je.text, doc);
                if (j)
                        cr_assert_neq(rc, TL_EPARSE,
                                      "jansson accepts, we say '%s': %s",
                                      err.msg, doc);
                json_decref(j);
        }
        cr_assert_gt(compared, 19000);
}

Test(jsonl, reads_events_line_by_line_with_line_numbers)
{
        static const char file[] =
            "\n"
            "{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"s\","
            "\"type\":\"device.seat\",\"subject\":\"c\",\"time\":"
            "\"2026-10-14T09:30:12Z\",\"data\":{\"device_id\":\"d\","
            "\"action\":\"activate\",\"model_class\":\"small\"}}\r\n"
            "   \n"
            "{\"specversion\":\"1.0\",\"id\":\"b\"}\n"
            "{\"specversion\":\"1.0\",\"id\":\"c\",\"source\":\"s\","
            "\"type\":\"device.seat\",\"subject\":\"c\",\"time\":"
            "\"2026-10-14T09:30:12Z\",\"data\":{\"device_id\":\"d\","
            "\"action\":\"heartbeat\",\"model_class\":\"small\"}}";
        struct sch_options opt = {EVT_NOW_US, 0};
        struct sch_jsonl_reader r;
        struct sch_decoder *d;
        struct sch_event ev;
        struct sch_str raw;
        struct tl_error err;

        sch_decoder_new(&opt, &d, NULL);
        sch_jsonl_reader_open(&r, file, sizeof file - 1);
        cr_assert(sch_jsonl_reader_more(&r));
        cr_assert_eq(sch_jsonl_reader_next(&r, d, &ev, &raw, &err), TL_OK, "%s",
                     err.msg);
        cr_assert_eq(r.line, 2);
        cr_assert_eq(ev.id.ptr[0], 'a');
        cr_assert_eq(raw.ptr[raw.len - 1], '}', "CR dropped");
        cr_assert_eq(sch_jsonl_reader_next(&r, d, &ev, &raw, &err), TL_EINVAL);
        cr_assert_eq(r.line, 4, "blank line 3 skipped");
        cr_assert(strstr(err.msg, "source: required attribute missing"), "%s",
                  err.msg);
        cr_assert_eq(sch_jsonl_reader_next(&r, d, &ev, &raw, &err), TL_OK, "%s",
                     err.msg);
        cr_assert_eq(r.line, 5);
        cr_assert_eq(ev.action, SCH_SEAT_HEARTBEAT);
        cr_assert_not(sch_jsonl_reader_more(&r));
        cr_assert_eq(sch_jsonl_reader_next(&r, d, &ev, &raw, &err),
                     TL_ENOTFOUND);
        sch_decoder_free(&d);
}

Test(jsonl, the_worked_example_file_decodes_completely)
{
        char path[1024];
        struct sch_options opt = {EVT_NOW_US, 0};
        struct sch_jsonl_reader r;
        struct sch_decoder *d;
        struct sch_event ev;
        struct sch_str raw;
        struct tl_error err;
        static char buf[1 << 16];
        size_t n;
        int events = 0;
        FILE *f;

        snprintf(path, sizeof path, "%s/tests/rating/worked/events.jsonl",
                 TK_SRC);
        f = fopen(path, "rb");
        cr_assert(f, "%s", path);
        n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        sch_decoder_new(&opt, &d, NULL);
        sch_jsonl_reader_open(&r, buf, n);
        while (sch_jsonl_reader_more(&r)) {
                cr_assert_eq(sch_jsonl_reader_next(&r, d, &ev, &raw, &err),
                             TL_OK, "line %zu: %s", r.line, err.msg);
                events++;
        }
        cr_assert_eq(events, 46);
        sch_decoder_free(&d);
}

Test(json, every_failed_allocation_is_reported_cleanly)
{
        /* Escaped strings are the only allocation of a decode: fail each
           allocation in turn, from creating the decoder on. */
        static const char doc[] = GOOD;
        for (long n = 0;; n++) {
                struct sch_decoder *d = NULL;
                struct sch_event ev;
                struct tl_error err;
                tl_status rc;

                tl_alloc_fail_after(n);
                rc = sch_decoder_new(NULL, &d, &err);
                if (!rc) {
                        sch_decoder_set_now(d, EVT_NOW_US);
                        rc = sch_decode_json(d, doc, sizeof doc - 1, &ev, &err);
                }
                tl_alloc_fail_reset();
                sch_decoder_free(&d);
                if (rc == TL_OK) {
                        cr_assert_geq(n, 2, "decoder and arena chunk");
                        break;
                }
                cr_assert_eq(rc, TL_ENOMEM, "allocation %ld: %s", n, err.msg);
        }
}

/* Every byte JSON must escape, and some it need not: '/', DEL, U+00E9,
   U+2028 and a character outside the BMP. */
static const char hostile[] =
    "q\"b\\n\nc\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
    "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f"
    "/\x7f\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80 end";

static void expect_member(json_t *obj, const char *key, const char *want,
                          size_t len)
{
        json_t *v = json_object_get(obj, key);

        cr_assert(json_is_string(v), "%s is not a string", key);
        cr_expect_eq(json_string_length(v), len, "%s", key);
        cr_expect_eq(memcmp(json_string_value(v), want, len), 0, "%s", key);
}

Test(json, the_encoder_escapes_hostile_text_so_jansson_reads_it_back)
{
        struct sch_str h = {hostile, (uint32_t)(sizeof hostile - 1)};
        struct sch_event ev = {0};
        struct tl_buf out;
        json_error_t je;
        json_t *doc, *data;

        ev.type = SCH_TYPE_TOKENS;
        ev.id = ev.source = ev.subject = ev.model = ev.decoding = h;
        ev.deployment = SCH_DEPLOY_DEVICE;
        ev.time_us = EVT_NOW_US;
        ev.input_tokens = (uint64_t)INT64_MAX;
        ev.output_tokens = 7;
        ev.dim_count = 1;
        ev.dims[0].key = h;
        ev.dims[0].value = h;
        tl_buf_init(&out, 0);
        cr_assert_eq(sch_encode_json(&ev, &out, NULL), TL_OK);
        doc = json_loadb(out.data, out.len, 0, &je);
        cr_assert(doc, "%s: %.*s", je.text, (int)out.len, out.data);
        data = json_object_get(doc, "data");
        expect_member(doc, "id", h.ptr, h.len);
        expect_member(doc, "source", h.ptr, h.len);
        expect_member(doc, "subject", h.ptr, h.len);
        expect_member(data, "model", h.ptr, h.len);
        expect_member(data, "decoding", h.ptr, h.len);
        expect_member(data, hostile, h.ptr, h.len);
        cr_expect_eq(json_integer_value(json_object_get(data, "input_tokens")),
                     INT64_MAX);
        cr_expect_eq(json_object_size(data), 7);
        /* Nothing but the escapes JSON requires: the rest is as it was. */
        cr_expect(memmem(out.data, out.len, "/\x7f\xc3\xa9\xe2\x80\xa8", 7));
        json_decref(doc);
        tl_buf_release(&out);
}

Test(json, text_that_is_not_utf8_keeps_its_bytes_and_the_rest_escaped)
{
        static const char want[] = "\"a\\\"\xff\\n\xc3\"";
        struct sch_event ev = {0};
        struct tl_buf out;
        char *at;

        ev.type = SCH_TYPE_MATRIX_OPS;
        ev.id = (struct sch_str){"a\"\xff\n\xc3", 5};
        ev.source = ev.subject = ev.model = (struct sch_str){"x", 1};
        ev.deployment = SCH_DEPLOY_CLOUD;
        ev.time_us = EVT_NOW_US;
        ev.mac = (uint64_t)INT64_MAX + 1; /* past what jansson holds */
        tl_buf_init(&out, 0);
        cr_assert_eq(sch_encode_json(&ev, &out, NULL), TL_OK);
        at = memmem(out.data, out.len, "\"id\":", 5);
        cr_assert(at);
        cr_expect_eq(memcmp(at + 5, want, sizeof want - 1), 0, "%.*s",
                     (int)out.len, out.data);
        cr_expect(strstr(out.data, "\"mac\":9223372036854775808}"), "%s",
                  out.data);
        tl_buf_release(&out);
}
