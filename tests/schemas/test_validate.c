/* Every rule of docs/formats.md, valid and invalid, in both encodings. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtest.h"

#define ENVELOPE(id, type, time, data)                                         \
        "{\"specversion\":\"1.0\",\"id\":\"" id "\",\"source\":\"cloud/gw\","  \
        "\"type\":\"" type "\",\"subject\":\"cust_1\",\"time\":\"" time "\","  \
        "\"data\":" data "}"
#define T_OK "2026-10-14T09:30:12.123Z"
#define TOKENS_DATA(extra)                                                     \
        "{\"model\":\"m\",\"deployment\":\"cloud\",\"decoding\":"              \
        "\"diffusion\","                                                       \
        "\"input_tokens\":812,\"output_tokens\":1204" extra "}"
#define TOKENS(extra)                                                          \
        ENVELOPE("req-1", "inference.tokens", T_OK, TOKENS_DATA(extra))
#define ITER(data) ENVELOPE("req-1", "inference.iterations", T_OK, data)
#define MACS(data) ENVELOPE("req-1", "inference.matrix_ops", T_OK, data)
#define SEAT(data) ENVELOPE("req-1", "device.seat", T_OK, data)

enum { BOTH, JSON_ONLY, CBOR_ONLY };

struct vcase {
        const char *name;
        const char *json;
        int enc;
        tl_status rc;
        const char *frag; /* expected in the message */
};

static void run_cases(const struct vcase *cases, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                const struct vcase *c = &cases[i];
                for (int cbor = 0; cbor <= 1; cbor++) {
                        struct tl_error err = {TL_OK, ""};
                        struct sch_event ev;
                        tl_status rc;
                        if ((c->enc == JSON_ONLY && cbor) ||
                            (c->enc == CBOR_ONLY && !cbor))
                                continue;
                        rc = evt_decode(c->json, cbor, &ev, &err);
                        cr_expect_eq(rc, c->rc, "%s (%s): got %s '%s'", c->name,
                                     cbor ? "CBOR" : "JSON", tl_status_name(rc),
                                     err.msg);
                        if (c->frag && rc)
                                cr_expect(strstr(err.msg, c->frag),
                                          "%s (%s): '%s' lacks '%s'", c->name,
                                          cbor ? "CBOR" : "JSON", err.msg,
                                          c->frag);
                }
        }
}

#define RUN(cases) run_cases(cases, sizeof cases / sizeof cases[0])

Test(validate, valid_events_of_every_type_are_accepted)
{
        static const struct vcase cases[] = {
            {"tokens", TOKENS(""), BOTH, TL_OK, NULL},
            {"tokens with cached", TOKENS(",\"cached_input_tokens\":5"), BOTH,
             TL_OK, NULL},
            {"iterations",
             ITER("{\"model\":\"m\",\"deployment\":\"device\",\"decoding\":"
                  "\"diffusion\",\"iterations\":12,\"tokens\":256}"),
             BOTH, TL_OK, NULL},
            {"matrix ops",
             MACS("{\"model\":\"m\",\"deployment\":\"cloud\","
                  "\"mac\":9223372036854775807}"),
             BOTH, TL_OK, NULL},
            {"seat",
             SEAT("{\"device_id\":\"d1\",\"action\":\"heartbeat\","
                  "\"model_class\":\"small\"}"),
             BOTH, TL_OK, NULL},
            {"another decoding word",
             ENVELOPE(
                 "r", "inference.tokens", T_OK,
                 "{\"model\":\"m\",\"deployment\":\"cloud\",\"decoding\":"
                 "\"speculative\",\"input_tokens\":1,\"output_tokens\":2}"),
             BOTH, TL_OK, NULL},
            {"extension attribute",
             "{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\","
             "\"type\":\"device.seat\",\"subject\":\"c\",\"time\":\"" T_OK
             "\",\"datacontenttype\":\"application/json\",\"traceparent\":"
             "{\"a\":[1,2]},\"data\":{\"device_id\":\"d\",\"action\":"
             "\"activate\",\"model_class\":\"small\"}}",
             BOTH, TL_OK, NULL},
            {"no specversion in CBOR",
             "{\"id\":\"i\",\"source\":\"s\",\"type\":\"device.seat\","
             "\"subject\":\"c\",\"time\":\"" T_OK "\",\"data\":{"
             "\"device_id\":\"d\",\"action\":\"activate\","
             "\"model_class\":\"small\"}}",
             CBOR_ONLY, TL_OK, NULL},
        };
        RUN(cases);
}

Test(validate, typed_fields_land_in_the_event)
{
        struct sch_event ev;
        struct tl_error err;

        for (int cbor = 0; cbor <= 1; cbor++) {
                cr_assert_eq(evt_decode(TOKENS(""), cbor, &ev, &err), TL_OK,
                             "%s", err.msg);
                cr_assert_eq(ev.type, SCH_TYPE_TOKENS);
                cr_assert_eq(ev.deployment, SCH_DEPLOY_CLOUD);
                cr_assert_eq(ev.input_tokens, 812);
                cr_assert_eq(ev.output_tokens, 1204);
                cr_assert_eq(ev.cached_input_tokens, 0, "defaults to 0");
                cr_assert_eq(ev.time_us, INT64_C(1791970212123000));
                cr_assert_eq(ev.id.len, 5);
                cr_assert_eq(memcmp(ev.id.ptr, "req-1", 5), 0);
                cr_assert_eq(memcmp(ev.decoding.ptr, "diffusion", 9), 0);
        }
}

Test(validate, envelope_rules)
{
        static const struct vcase cases[] = {
            {"missing id",
             "{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":"
             "\"device.seat\",\"subject\":\"c\",\"time\":\"" T_OK
             "\",\"data\":{}}",
             BOTH, TL_EINVAL, "id: required attribute missing"},
            {"empty id",
             ENVELOPE("", "inference.tokens", T_OK, TOKENS_DATA("")), BOTH,
             TL_EINVAL, "id: must not be empty"},
            {"missing source",
             "{\"specversion\":\"1.0\",\"id\":\"i\",\"type\":\"device.seat\","
             "\"subject\":\"c\",\"time\":\"" T_OK "\",\"data\":{}}",
             BOTH, TL_EINVAL, "source: required attribute missing"},
            {"missing subject",
             "{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\","
             "\"type\":\"device.seat\",\"time\":\"" T_OK "\",\"data\":{}}",
             BOTH, TL_EINVAL, "subject: required attribute missing"},
            {"missing type",
             "{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\","
             "\"subject\":\"c\",\"time\":\"" T_OK "\",\"data\":{}}",
             BOTH, TL_EINVAL, "type: required attribute missing"},
            {"missing time",
             "{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\","
             "\"type\":\"device.seat\",\"subject\":\"c\",\"data\":{}}",
             BOTH, TL_EINVAL, "time: required attribute missing"},
            {"missing data",
             "{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\","
             "\"type\":\"device.seat\",\"subject\":\"c\",\"time\":\"" T_OK
             "\"}",
             BOTH, TL_EINVAL, "data: required attribute missing"},
            {"missing specversion in JSON",
             "{\"id\":\"i\",\"source\":\"s\",\"type\":\"device.seat\","
             "\"subject\":\"c\",\"time\":\"" T_OK "\",\"data\":{}}",
             JSON_ONLY, TL_EINVAL, "specversion: required attribute missing"},
            {"wrong specversion", "{\"specversion\":\"0.3\",\"id\":\"i\"}",
             BOTH, TL_EINVAL, "specversion: expected \"1.0\""},
            {"unknown type", ENVELOPE("i", "inference.foo", T_OK, "{}"), BOTH,
             TL_EINVAL, "type: unknown event type \"inference.foo\""},
            {"type not text", "{\"specversion\":\"1.0\",\"type\":7}", BOTH,
             TL_EINVAL, "type: expected text, got unsigned integer"},
            {"id not text", "{\"specversion\":\"1.0\",\"id\":true}", BOTH,
             TL_EINVAL, "id: expected text, got boolean"},
            {"data not a map", ENVELOPE("i", "device.seat", T_OK, "[1]"), BOTH,
             TL_EINVAL, "data: expected map, got array"},
            {"data null", ENVELOPE("i", "device.seat", T_OK, "null"), BOTH,
             TL_EINVAL, "data: expected map, got null"},
            {"NUL in id",
             ENVELOPE("a\\u0000b", "inference.tokens", T_OK, TOKENS_DATA("")),
             BOTH, TL_EINVAL, "id: NUL character not allowed"},
            {"attribute twice",
             "{\"specversion\":\"1.0\",\"id\":\"a\",\"id\":\"b\"}", JSON_ONLY,
             TL_EINVAL, "id: attribute given twice"},
        };
        RUN(cases);
}

/* A JSON event whose string attribute 'attr' is 'len' bytes of 'x'. */
static char *with_long(const char *attr, size_t len)
{
        char *s = malloc(len + 1), *out = malloc(len + 1024);

        memset(s, 'x', len);
        s[len] = '\0';
        snprintf(out, len + 1024,
                 "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"%s\","
                 "\"type\":\"device.seat\",\"subject\":\"%s\",\"time\":\"" T_OK
                 "\",\"data\":{\"device_id\":\"%s\",\"action\":\"activate\","
                 "\"model_class\":\"small\"}}",
                 strcmp(attr, "id") ? "i" : s, strcmp(attr, "source") ? "s" : s,
                 strcmp(attr, "subject") ? "c" : s,
                 strcmp(attr, "device_id") ? "d" : s);
        free(s);
        return out;
}

Test(validate, string_lengths_are_bounded_in_bytes)
{
        static const struct {
                const char *attr, *path;
                size_t max;
        } limits[] = {{"id", "id", 128},
                      {"source", "source", 256},
                      {"subject", "subject", 128},
                      {"device_id", "data.device_id", 128}};

        for (size_t i = 0; i < 4; i++) {
                for (int cbor = 0; cbor <= 1; cbor++) {
                        struct tl_error err;
                        char want[64];
                        char *ok = with_long(limits[i].attr, limits[i].max);
                        char *bad =
                            with_long(limits[i].attr, limits[i].max + 1);
                        cr_expect_eq(evt_decode(ok, cbor, NULL, &err), TL_OK,
                                     "%s at max: %s", limits[i].attr, err.msg);
                        cr_expect_eq(evt_decode(bad, cbor, NULL, &err),
                                     TL_EINVAL, "%s over max", limits[i].attr);
                        snprintf(want, sizeof want, "%s: longer than %zu bytes",
                                 limits[i].path, limits[i].max);
                        cr_expect(strstr(err.msg, want), "'%s'", err.msg);
                        free(ok);
                        free(bad);
                }
        }
}

Test(validate, time_rules)
{
        static const struct vcase cases[] = {
            {"offset time",
             ENVELOPE("i", "inference.tokens", "2026-10-14T11:30:12+02:00",
                      TOKENS_DATA("")),
             BOTH, TL_OK, NULL},
            {"within skew",
             ENVELOPE("i", "inference.tokens", "2026-11-21T00:59:59Z",
                      TOKENS_DATA("")),
             BOTH, TL_OK, NULL},
            {"beyond skew",
             ENVELOPE("i", "inference.tokens", "2026-11-21T01:00:01Z",
                      TOKENS_DATA("")),
             BOTH, TL_EINVAL,
             "time: 2026-11-21T01:00:01.000Z is more than 3600 s ahead"},
            {"at 2000",
             ENVELOPE("i", "inference.tokens", "2000-01-01T00:00:00Z",
                      TOKENS_DATA("")),
             BOTH, TL_OK, NULL},
            {"before 2000",
             ENVELOPE("i", "inference.tokens", "1999-12-31T23:59:59Z",
                      TOKENS_DATA("")),
             BOTH, TL_EINVAL, "is before 2000-01-01"},
            {"date only",
             ENVELOPE("i", "inference.tokens", "2026-10-14", TOKENS_DATA("")),
             BOTH, TL_EINVAL, "time: expected RFC 3339"},
            {"no zone",
             ENVELOPE("i", "inference.tokens", "2026-10-14T09:30:12",
                      TOKENS_DATA("")),
             BOTH, TL_EINVAL, "time: expected 'Z'"},
            {"bad day",
             ENVELOPE("i", "inference.tokens", "2026-02-30T09:30:12Z",
                      TOKENS_DATA("")),
             BOTH, TL_EINVAL, "time: date or time out of range"},
            {"time as number",
             "{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\","
             "\"type\":\"device.seat\",\"subject\":\"c\",\"time\":1760434212,"
             "\"data\":{}}",
             BOTH, TL_EINVAL, "time: expected RFC 3339 text"},
        };
        RUN(cases);
}

Test(validate, data_field_rules)
{
        static const struct vcase cases[] = {
            {"count as text",
             ENVELOPE("i", "inference.tokens", T_OK,
                      "{\"model\":\"m\",\"deployment\":\"cloud\","
                      "\"decoding\":\"d\",\"input_tokens\":1,"
                      "\"output_tokens\":\"1204\"}"),
             BOTH, TL_EINVAL,
             "data.output_tokens: expected unsigned integer, got text"},
            {"negative count", TOKENS(",\"cached_input_tokens\":-1"), BOTH,
             TL_EINVAL,
             "data.cached_input_tokens: expected unsigned integer, got "
             "negative integer"},
            {"fractional count", TOKENS(",\"cached_input_tokens\":1.5"), BOTH,
             TL_EINVAL,
             "data.cached_input_tokens: expected unsigned integer, got "
             "number"},
            {"count at 2^63",
             MACS("{\"model\":\"m\",\"deployment\":"
                  "\"cloud\",\"mac\":9223372036854775808}"),
             JSON_ONLY, TL_EINVAL,
             "data.mac: 9223372036854775808 is not below 2^63"},
            {"count past 2^64",
             MACS("{\"model\":\"m\",\"deployment\":\"cloud\",\"mac\":"
                  "123456789012345678901234567890}"),
             JSON_ONLY, TL_EINVAL,
             "data.mac: 123456789012345678901234567890 is not below 2^63"},
            {"missing output_tokens",
             ENVELOPE("i", "inference.tokens", T_OK,
                      "{\"model\":\"m\",\"deployment\":\"cloud\","
                      "\"decoding\":\"d\",\"input_tokens\":1}"),
             BOTH, TL_EINVAL, "data.output_tokens: required field missing"},
            {"missing model", MACS("{\"deployment\":\"cloud\",\"mac\":1}"),
             BOTH, TL_EINVAL, "data.model: required field missing"},
            {"bad deployment",
             MACS("{\"model\":\"m\",\"deployment\":\"edge\",\"mac\":1}"), BOTH,
             TL_EINVAL,
             "data.deployment: expected \"cloud\" or \"device\", got "
             "\"edge\""},
            {"empty model",
             MACS("{\"model\":\"\",\"deployment\":\"cloud\","
                  "\"mac\":1}"),
             BOTH, TL_EINVAL, "data.model: must not be empty"},
            {"zero iterations",
             ITER("{\"model\":\"m\",\"deployment\":\"cloud\",\"decoding\":"
                  "\"diffusion\",\"iterations\":0,\"tokens\":5}"),
             BOTH, TL_EINVAL, "data.iterations: must be at least 1"},
            {"missing tokens",
             ITER("{\"model\":\"m\",\"deployment\":\"cloud\",\"decoding\":"
                  "\"diffusion\",\"iterations\":3}"),
             BOTH, TL_EINVAL, "data.tokens: required field missing"},
            {"missing decoding",
             ITER("{\"model\":\"m\",\"deployment\":\"cloud\","
                  "\"iterations\":3,\"tokens\":5}"),
             BOTH, TL_EINVAL, "data.decoding: required field missing"},
            {"bad action",
             SEAT("{\"device_id\":\"d\",\"action\":\"pause\","
                  "\"model_class\":\"small\"}"),
             BOTH, TL_EINVAL,
             "data.action: expected \"activate\", \"deactivate\" or "
             "\"heartbeat\", got \"pause\""},
            {"missing model_class",
             SEAT("{\"device_id\":\"d\",\"action\":\"activate\"}"), BOTH,
             TL_EINVAL, "data.model_class: required field missing"},
            {"missing device_id",
             SEAT("{\"action\":\"activate\",\"model_class\":\"s\"}"), BOTH,
             TL_EINVAL, "data.device_id: required field missing"},
            {"count as map", TOKENS(",\"cached_input_tokens\":{}"), BOTH,
             TL_EINVAL,
             "data.cached_input_tokens: expected unsigned integer, got map"},
            {"field twice",
             ENVELOPE("i", "device.seat", T_OK,
                      "{\"device_id\":\"a\",\"device_id\":\"b\"}"),
             JSON_ONLY, TL_EINVAL, "data.device_id: field given twice"},
        };
        RUN(cases);
}

Test(validate, other_data_fields_become_sorted_dimensions)
{
        struct sch_event ev;
        struct tl_error err;
        struct sch_str v;

        for (int cbor = 0; cbor <= 1; cbor++) {
                cr_assert_eq(evt_decode(TOKENS(",\"region\":\"eu\","
                                               "\"app\":\"chat\","
                                               "\"latency_ms\":17,"
                                               "\"note\":\"\""),
                                        cbor, &ev, &err),
                             TL_OK, "%s", err.msg);
                cr_assert_eq(ev.dim_count, 3, "numbers are not dimensions");
                cr_assert_eq(memcmp(ev.dims[0].key.ptr, "app", 3), 0);
                cr_assert_eq(memcmp(ev.dims[1].key.ptr, "note", 4), 0);
                cr_assert_eq(ev.dims[1].value.len, 0, "empty values allowed");
                cr_assert_eq(memcmp(ev.dims[2].key.ptr, "region", 6), 0);
                cr_assert(sch_event_text_field(&ev, "region", &v));
                cr_assert_eq(memcmp(v.ptr, "eu", 2), 0);
                cr_assert(sch_event_text_field(&ev, "deployment", &v));
                cr_assert_eq(memcmp(v.ptr, "cloud", 5), 0);
                cr_assert_not(sch_event_text_field(&ev, "absent", &v));
        }
}

/* TOKENS with 'n' extra string fields d00..dNN, and optional tail. */
static char *with_dims(int n, const char *tail)
{
        char *s = malloc(8192), *p;

        p = s + sprintf(s, "%s", TOKENS(""));
        p -= 2; /* before "}}" */
        for (int i = 0; i < n; i++)
                p += sprintf(p, ",\"d%02d\":\"v\"", i);
        sprintf(p, "%s}}", tail);
        return s;
}

Test(validate, dimension_limits)
{
        char key65[80], val257[300], tail[400];

        memset(key65, 'k', 65);
        key65[65] = '\0';
        memset(val257, 'v', 257);
        val257[257] = '\0';
        for (int cbor = 0; cbor <= 1; cbor++) {
                struct tl_error err;
                char *s = with_dims(32, "");
                cr_expect_eq(evt_decode(s, cbor, NULL, &err), TL_OK, "%s",
                             err.msg);
                free(s);
                s = with_dims(33, "");
                cr_expect_eq(evt_decode(s, cbor, NULL, &err), TL_ELIMIT);
                cr_expect(strstr(err.msg, "data: more than 32 dimension"), "%s",
                          err.msg);
                free(s);
                snprintf(tail, sizeof tail, ",\"%s\":\"v\"", key65);
                s = with_dims(0, tail);
                cr_expect_eq(evt_decode(s, cbor, NULL, &err), TL_EINVAL);
                cr_expect(strstr(err.msg, "field names are 1 to 64 bytes"),
                          "%s", err.msg);
                free(s);
                snprintf(tail, sizeof tail, ",\"k\":\"%s\"", val257);
                s = with_dims(0, tail);
                cr_expect_eq(evt_decode(s, cbor, NULL, &err), TL_EINVAL);
                cr_expect(strstr(err.msg, "data.k: longer than 256 bytes"),
                          "%s", err.msg);
                free(s);
                s = with_dims(0, ",\"\":\"v\"");
                cr_expect_eq(evt_decode(s, cbor, NULL, &err), TL_EINVAL);
                cr_expect(strstr(err.msg, "field names are 1 to 64"), "%s",
                          err.msg);
                free(s);
                /* 70 ignored numeric fields: the field cap, not the
                   dimension cap, is what stops these. */
                char many[1024] = "";
                for (int i = 0; i < 70; i++)
                        sprintf(many + strlen(many), ",\"n%02d\":1", i);
                s = with_dims(0, many);
                cr_expect_eq(evt_decode(s, cbor, NULL, &err), TL_ELIMIT);
                cr_expect(strstr(err.msg, "more than 64"), "%s", err.msg);
                free(s);
        }
}
