/* task.outcome (docs/formats.md): its fields, every validation error in
   both encodings, the encoders, the fast paths and the content hash. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../schemas/src/cbor_fast.h"
#include "../../schemas/src/fast.h"
#include "../../schemas/src/json.h"
#include "evtest.h"

#define T_OK "2026-10-14T09:30:12.123Z"
#define OUTCOME(data)                                                          \
        "{\"specversion\":\"1.0\",\"id\":\"o-1\",\"source\":\"bot/eu\","       \
        "\"type\":\"task.outcome\",\"subject\":\"cust_1\",\"time\":\"" T_OK    \
        "\",\"data\":" data "}"
#define DATA(task, outcome, dep, rest)                                         \
        "{\"task\":" task ",\"outcome\":" outcome ",\"deployment\":" dep rest  \
        "}"
#define GOOD_DATA                                                              \
        DATA("\"support.resolution\"", "\"success\"", "\"device\"", "")

enum { BOTH, JSON_ONLY, CBOR_ONLY };

static void expect_error(const char *json, int enc, const char *msg)
{
        for (int cbor = enc == CBOR_ONLY; cbor <= (enc != JSON_ONLY); cbor++) {
                struct tl_error err = {TL_OK, ""};
                tl_status rc = evt_decode(json, cbor, NULL, &err);

                cr_expect_eq(rc, TL_EINVAL, "%s: %s accepted", json,
                             cbor ? "CBOR" : "JSON");
                cr_expect_str_eq(err.msg, msg, "%s", cbor ? "CBOR" : "JSON");
        }
}

static struct sch_str S(const char *s) {
        return (struct sch_str){s, (uint32_t)strlen(s)};
}

static bool
is(struct sch_str s, const char *lit)
{
        return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

Test(outcome, fields_land_in_the_event_and_units_default_to_one)
{
        for (int cbor = 0; cbor <= 1; cbor++) {
                struct sch_event ev;
                struct tl_error err;

                cr_assert_eq(evt_decode(OUTCOME(GOOD_DATA), cbor, &ev, &err),
                             TL_OK, "%s", err.msg);
                cr_assert_eq(ev.type, SCH_TYPE_OUTCOME);
                cr_assert(is(ev.task, "support.resolution"));
                cr_assert(is(ev.outcome, "success"));
                cr_assert_eq(ev.deployment, SCH_DEPLOY_DEVICE);
                cr_assert_eq(ev.units, 1, "units defaults to 1");
                cr_assert_eq(ev.dim_count, 0);

                cr_assert_eq(evt_decode(OUTCOME(DATA("\"t\"", "\"re-opened\"",
                                                     "\"cloud\"",
                                                     ",\"units\":40,"
                                                     "\"queue\":\"vip\"")),
                                        cbor, &ev, &err),
                             TL_OK, "%s", err.msg);
                cr_assert(is(ev.outcome, "re-opened"));
                cr_assert_eq(ev.units, 40);
                cr_assert_eq(ev.deployment, SCH_DEPLOY_CLOUD);
                cr_assert_eq(ev.dim_count, 1, "other text fields are dims");
                cr_assert(is(ev.dims[0].key, "queue"));
        }
}

Test(outcome, units_zero_and_the_largest_count_are_accepted)
{
        struct sch_event ev;
        struct tl_error err;

        for (int cbor = 0; cbor <= 1; cbor++) {
                cr_assert_eq(
                    evt_decode(OUTCOME(DATA("\"t\"", "\"x_1.B-2\"", "\"cloud\"",
                                            ",\"units\":0")),
                               cbor, &ev, &err),
                    TL_OK, "%s", err.msg);
                cr_assert_eq(ev.units, 0);
                cr_assert_eq(
                    evt_decode(OUTCOME(DATA("\"t\"", "\"ok\"", "\"cloud\"",
                                            ",\"units\":"
                                            "9223372036854775807")),
                               cbor, &ev, &err),
                    TL_OK, "%s", err.msg);
                cr_assert_eq(ev.units, (uint64_t)INT64_MAX);
        }
}

Test(outcome, every_validation_error_is_worded_by_its_field)
{
        static const struct {
                const char *json;
                int enc;
                const char *msg;
        } cases[] = {
            {OUTCOME("{\"outcome\":\"success\",\"deployment\":\"cloud\"}"),
             BOTH, "data.task: required field missing"},
            {OUTCOME("{\"task\":\"t\",\"deployment\":\"cloud\"}"), BOTH,
             "data.outcome: required field missing"},
            {OUTCOME("{\"task\":\"t\",\"outcome\":\"success\"}"), BOTH,
             "data.deployment: required field missing"},
            {OUTCOME(DATA("\"\"", "\"success\"", "\"cloud\"", "")), BOTH,
             "data.task: must not be empty"},
            {OUTCOME(DATA("7", "\"success\"", "\"cloud\"", "")), BOTH,
             "data.task: expected text, got unsigned integer"},
            {OUTCOME(DATA("\"12345678901234567890123456789012345678901234567"
                          "890123456789012345\"",
                          "\"success\"", "\"cloud\"", "")),
             BOTH, "data.task: longer than 64 bytes (65)"},
            {OUTCOME(DATA("\"a\\u0000b\"", "\"success\"", "\"cloud\"", "")),
             JSON_ONLY, "data.task: NUL character not allowed"},
            {OUTCOME(DATA("\"t\"", "\"\"", "\"cloud\"", "")), BOTH,
             "data.outcome: must not be empty"},
            {OUTCOME(DATA("\"t\"", "true", "\"cloud\"", "")), BOTH,
             "data.outcome: expected text, got boolean"},
            {OUTCOME(DATA("\"t\"", "\"resolved ok\"", "\"cloud\"", "")), BOTH,
             "data.outcome: expected one word (letters, digits, '_', '-' or "
             "'.'), got \"resolved ok\""},
            {OUTCOME(DATA("\"t\"", "\"r\\u00e9solu\"", "\"cloud\"", "")), BOTH,
             "data.outcome: expected one word (letters, digits, '_', '-' or "
             "'.'), got \"r\xc3\xa9solu\""},
            {OUTCOME(DATA("\"t\"",
                          "\"12345678901234567890123456789012345678901234567"
                          "890123456789012345\"",
                          "\"cloud\"", "")),
             BOTH, "data.outcome: longer than 64 bytes (65)"},
            {OUTCOME(DATA("\"t\"", "\"success\"", "\"edge\"", "")), BOTH,
             "data.deployment: expected \"cloud\" or \"device\", got \"edge\""},
            {OUTCOME(
                 DATA("\"t\"", "\"success\"", "\"cloud\"", ",\"units\":\"3\"")),
             BOTH, "data.units: expected unsigned integer, got text"},
            {OUTCOME(
                 DATA("\"t\"", "\"success\"", "\"cloud\"", ",\"units\":-1")),
             JSON_ONLY,
             "data.units: expected unsigned integer, got negative integer "
             "-1"},
            {OUTCOME(
                 DATA("\"t\"", "\"success\"", "\"cloud\"", ",\"units\":-1")),
             CBOR_ONLY,
             "data.units: expected unsigned integer, got negative integer"},
            {OUTCOME(
                 DATA("\"t\"", "\"success\"", "\"cloud\"", ",\"units\":1.5")),
             JSON_ONLY,
             "data.units: expected unsigned integer, got number 1.5"},
            {OUTCOME(
                 DATA("\"t\"", "\"success\"", "\"cloud\"", ",\"units\":1.5")),
             CBOR_ONLY, "data.units: expected unsigned integer, got number"},
            {OUTCOME(
                 DATA("\"t\"", "\"success\"", "\"cloud\"", ",\"units\":null")),
             BOTH, "data.units: expected unsigned integer, got null"},
            {OUTCOME(DATA("\"t\"", "\"success\"", "\"cloud\"",
                          ",\"units\":9223372036854775808")),
             JSON_ONLY, "data.units: 9223372036854775808 is not below 2^63"},
            {OUTCOME(DATA("\"t\"", "\"success\"", "\"cloud\"",
                          ",\"units\":1,\"units\":2")),
             JSON_ONLY, "data.units: field given twice"},
            {"{\"specversion\":\"1.0\",\"id\":\"o\",\"source\":\"s\","
             "\"type\":\"task.outcomes\",\"subject\":\"c\",\"time\":\"" T_OK
             "\",\"data\":" GOOD_DATA "}",
             BOTH, "type: unknown event type \"task.outcomes\""},
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                expect_error(cases[i].json, cases[i].enc, cases[i].msg);
}

/* CBOR can say what JSON cannot: a count at 2^63, a NUL in text. */
Test(outcome, cbor_only_errors)
{
        /* {"task": "a\0b"} and {"units": 2^63} spliced into an event. */
        static const unsigned char head[] =
            "\xa7\x6bspecversion\x63"
            "1.0\x62id\x61o\x66source\x61s\x64type\x6ctask.outcome"
            "\x67subject\x61"
            "c\x64time\xc1\x1a\x6a\x0b\x2c\xc0\x64"
            "data\xa4";
        static const unsigned char nul_task[] = "\x64task\x63"
                                                "a\0b\x67outcome\x67success\x6a"
                                                "deployment\x65"
                                                "cloud\x65units\x01";
        static const unsigned char big_units[] =
            "\x64task\x61t\x67outcome\x67success\x6a"
            "deployment\x65"
            "cloud\x65units\x1b\x80\0\0\0\0\0\0\0";
        unsigned char doc[256];
        struct tl_error err;
        struct sch_event ev;

        memcpy(doc, head, sizeof head - 1);
        memcpy(doc + sizeof head - 1, nul_task, sizeof nul_task - 1);
        cr_assert_eq(evt_decode_cbor_bytes(
                         doc, sizeof head + sizeof nul_task - 2, &ev, &err),
                     TL_EINVAL);
        cr_expect_str_eq(err.msg, "data.task: NUL character not allowed");
        memcpy(doc + sizeof head - 1, big_units, sizeof big_units - 1);
        cr_assert_eq(evt_decode_cbor_bytes(
                         doc, sizeof head + sizeof big_units - 2, &ev, &err),
                     TL_EINVAL);
        cr_expect_str_eq(err.msg,
                         "data.units: 9223372036854775808 is not below 2^63");
}

static void an_outcome(struct sch_event *ev)
{
        memset(ev, 0, sizeof *ev);
        ev->type = SCH_TYPE_OUTCOME;
        ev->id = S("o-7");
        ev->source = S("bot/eu");
        ev->subject = S("cust_9");
        ev->time_us = INT64_C(1791970212000000);
        ev->task = S("support.resolution");
        ev->outcome = S("failure");
        ev->deployment = SCH_DEPLOY_DEVICE;
        ev->units = 5;
        ev->dim_count = 1;
        ev->dims[0].key = S("queue");
        ev->dims[0].value = S("vip");
}

Test(outcome, both_encoders_write_what_the_fast_paths_read_back)
{
        struct sch_options opt = {EVT_NOW_US, 0};
        struct sch_decoder *d;
        struct sch_event ev, back;
        struct tl_buf b;
        size_t n = 0;

        cr_assert_eq(sch_decoder_new(&opt, &d, NULL), TL_OK);
        an_outcome(&ev);
        tl_buf_init(&b, 0);
        cr_assert_eq(sch_encode_json(&ev, &b, NULL), TL_OK);
        cr_assert(
            sch__json_fast(d, (const unsigned char *)b.data, b.len, &back),
            "JSON fast path refused %.*s", (int)b.len, (char *)b.data);
        cr_assert(sch_event_equal(&ev, &back));
        tl_buf_clear(&b);
        cr_assert_eq(sch_encode_cbor(&ev, &b, NULL), TL_OK);
        cr_assert(
            sch__cbor_fast(d, (const unsigned char *)b.data, b.len, &back, &n));
        cr_assert_eq(n, b.len);
        cr_assert(sch_event_equal(&ev, &back));
        tl_buf_release(&b);
        sch_decoder_free(&d);
}

Test(outcome, the_fast_paths_default_units_to_one_as_the_general_reader)
{
        static const char doc[] = OUTCOME(GOOD_DATA);
        struct sch_options opt = {EVT_NOW_US, 0};
        struct sch_decoder *d;
        struct sch_event a, b;
        struct tl_error err;
        struct tl_buf cbor;
        size_t n = 0, pos = 0;

        cr_assert_eq(sch_decoder_new(&opt, &d, NULL), TL_OK);
        cr_assert(
            sch__json_fast(d, (const unsigned char *)doc, sizeof doc - 1, &a));
        cr_assert_eq(a.units, 1);
        cr_assert_eq(sch__decode_json_general(d, doc, sizeof doc - 1, &b, &err),
                     TL_OK);
        cr_assert(sch_event_equal(&a, &b));
        tl_buf_init(&cbor, 0);
        cr_assert(evt_json_to_cbor(doc, 0, &cbor));
        cr_assert(sch__cbor_fast(d, (const unsigned char *)cbor.data, cbor.len,
                                 &a, &n));
        cr_assert_eq(a.units, 1);
        cr_assert_eq(sch__cbor_decode_general(d,
                                              (const unsigned char *)cbor.data,
                                              cbor.len, &pos, &b, &err),
                     TL_OK, "%s", err.msg);
        cr_assert(sch_event_equal(&a, &b));
        tl_buf_release(&cbor);
        sch_decoder_free(&d);
}

static void hex(const unsigned char h[SCH_HASH_BYTES], char out[65])
{
        for (int i = 0; i < SCH_HASH_BYTES; i++)
                snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* The hashes stored with every event before task.outcome existed must not
   change (a replay would dead-letter as a conflicting duplicate): these
   were computed by the event.c of the commit before. */
Test(outcome, the_content_hash_of_the_other_types_is_unchanged)
{
        struct sch_event ev;
        unsigned char h[SCH_HASH_BYTES];
        char x[65];

        memset(&ev, 0, sizeof ev);
        ev.id = S("req-1");
        ev.source = S("cloud/gw");
        ev.subject = S("cust_1");
        ev.type = SCH_TYPE_TOKENS;
        ev.time_us = INT64_C(1791970212123000);
        ev.model = S("m");
        ev.deployment = SCH_DEPLOY_CLOUD;
        ev.decoding = S("diffusion");
        ev.input_tokens = 812;
        ev.output_tokens = 1204;
        ev.dim_count = 1;
        ev.dims[0].key = S("region");
        ev.dims[0].value = S("eu");
        sch_event_hash(&ev, h);
        hex(h, x);
        cr_expect_str_eq(
            x,
            "9e0f274293aa6843ccdcb62c93d25edbefdff4ee42a17eac88446f0509436dc7");
        memset(&ev, 0, sizeof ev);
        ev.id = S("s-1");
        ev.source = S("dev");
        ev.subject = S("cust_2");
        ev.type = SCH_TYPE_SEAT;
        ev.time_us = INT64_C(1791970212000000);
        ev.device_id = S("d1");
        ev.action = SCH_SEAT_ACTIVATE;
        ev.model_class = S("small");
        sch_event_hash(&ev, h);
        hex(h, x);
        cr_expect_str_eq(
            x,
            "9e329afb60d5567b143a3acab855e1a858b3e72f0f914407afe7d0cb0a5cc56c");
}

Test(outcome, the_content_hash_tells_task_outcome_and_units_apart)
{
        struct sch_event ev;
        unsigned char base[SCH_HASH_BYTES], h[SCH_HASH_BYTES];

        an_outcome(&ev);
        sch_event_hash(&ev, base);
        ev.task = S("support.resolutioN");
        sch_event_hash(&ev, h);
        cr_expect_neq(memcmp(base, h, sizeof h), 0, "task");
        an_outcome(&ev);
        ev.outcome = S("success");
        sch_event_hash(&ev, h);
        cr_expect_neq(memcmp(base, h, sizeof h), 0, "outcome");
        an_outcome(&ev);
        ev.units = 6;
        sch_event_hash(&ev, h);
        cr_expect_neq(memcmp(base, h, sizeof h), 0, "units");
        an_outcome(&ev);
        ev.deployment = SCH_DEPLOY_CLOUD;
        sch_event_hash(&ev, h);
        cr_expect_neq(memcmp(base, h, sizeof h), 0, "deployment");
        an_outcome(&ev);
        sch_event_hash(&ev, h);
        cr_expect_eq(memcmp(base, h, sizeof h), 0, "deterministic");
}

Test(outcome, text_fields_are_looked_up_by_their_wire_names)
{
        struct sch_event ev;
        struct sch_str v;

        an_outcome(&ev);
        cr_assert(sch_event_text_field(&ev, "task", &v));
        cr_assert(is(v, "support.resolution"));
        cr_assert(sch_event_text_field(&ev, "outcome", &v));
        cr_assert(is(v, "failure"));
        cr_assert(sch_event_text_field(&ev, "deployment", &v));
        cr_assert(is(v, "device"));
        cr_assert_str_eq(sch_event_type_name(SCH_TYPE_OUTCOME), "task.outcome");
        cr_assert_eq(sch_event_type_parse("task.outcome", 12),
                     SCH_TYPE_OUTCOME);
}
