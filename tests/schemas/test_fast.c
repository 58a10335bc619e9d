/*
** The fast paths of the JSON and CBOR readers against their general
** readers. A fast path may say "not mine" to anything, but whenever it
** says yes the general reader must say yes too and leave the very same
** event (strings at the same bytes; for CBOR, the item ending at the same
** byte). Random events at and past every bound, then mutated.
*/
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../../schemas/src/cbor_fast.h"
#include "../../schemas/src/fast.h"
#include "../../schemas/src/json.h"
#include "evtest.h"

static unsigned long long seed = 20261122;

static unsigned rnd(unsigned n)
{
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        return (unsigned)((seed >> 33) % n);
}

static bool same_str(struct sch_str a, struct sch_str b)
{
        return a.len == b.len && (a.len == 0 || a.ptr == b.ptr);
}

/* Every field, strings by position in the message. */
static bool same_event(const struct sch_event *a, const struct sch_event *b)
{
        if (!same_str(a->id, b->id) || !same_str(a->source, b->source) ||
            !same_str(a->subject, b->subject) || a->type != b->type ||
            a->time_us != b->time_us || !same_str(a->model, b->model) ||
            a->deployment != b->deployment ||
            !same_str(a->decoding, b->decoding) ||
            a->input_tokens != b->input_tokens ||
            a->output_tokens != b->output_tokens ||
            a->cached_input_tokens != b->cached_input_tokens ||
            a->iterations != b->iterations || a->tokens != b->tokens ||
            a->mac != b->mac || !same_str(a->device_id, b->device_id) ||
            a->action != b->action ||
            !same_str(a->model_class, b->model_class) ||
            !same_str(a->task, b->task) || !same_str(a->outcome, b->outcome) ||
            a->units != b->units || a->dim_count != b->dim_count)
                return false;
        for (uint32_t i = 0; i < a->dim_count; i++)
                if (!same_str(a->dims[i].key, b->dims[i].key) ||
                    !same_str(a->dims[i].value, b->dims[i].value))
                        return false;
        return true;
}

/* Text of length about 'max', sometimes just inside or past a bound,
   sometimes with a byte the fast path must leave alone. */
static struct sch_str text(char *buf, uint32_t max)
{
        static const char odd[] = "\"\\\x01\x7f\xc3\xa9 ";
        uint32_t len;

        switch (rnd(8)) {
        case 0:
                len = max;
                break;
        case 1:
                len = max + 1;
                break;
        case 2:
                len = rnd(2);
                break; /* empty or one byte */
        default:
                len = 1 + rnd(max < 24 ? max : 24);
        }
        for (uint32_t i = 0; i < len; i++)
                buf[i] = (char)('a' + rnd(26));
        if (len && rnd(10) == 0)
                buf[rnd(len)] = odd[rnd(sizeof odd - 1)];
        if (len >= 2 && rnd(12) == 0) { /* valid UTF-8, not ASCII */
                uint32_t at = rnd(len - 1);
                buf[at] = '\xc3';
                buf[at + 1] = '\xa9';
        }
        return (struct sch_str){buf, len};
}

static uint64_t a_count(void)
{
        static const uint64_t edges[] = {0,
                                         1,
                                         9,
                                         10,
                                         999999999999999999ULL,
                                         1000000000000000000ULL,
                                         (uint64_t)INT64_MAX,
                                         (uint64_t)INT64_MAX + 1};
        return rnd(3) ? rnd(100000) : edges[rnd(8)];
}

static const char *const dim_keys[] = {
    "region", "tier",   "app",
    "model",  "tokens", "mac",
    "action", "zone",   "cached_input_tokens",
    "task",   "units",  "outcome"};

/* A random event, valid or a little off, in sch_encode_json's form. */
static void random_event(struct sch_event *ev, char bufs[][300])
{
        unsigned b = 0;

        memset(ev, 0, sizeof *ev);
        ev->type = (sch_event_type)(SCH_TYPE_TOKENS + rnd(SCH_TYPE_LAST));
        ev->id = text(bufs[b++], SCH_MAX_ID_BYTES);
        ev->source = rnd(2) ? (struct sch_str){"cloud/eu-west-1/gw-3", 20}
                            : text(bufs[b++], SCH_MAX_SOURCE_BYTES);
        ev->subject = text(bufs[b++], SCH_MAX_SUBJECT_BYTES);
        switch (rnd(6)) {
        case 0:
                ev->time_us = EVT_NOW_US + 3600 * INT64_C(1000000) + rnd(2);
                break;
        case 1:
                ev->time_us = SCH__Y2000_US - rnd(2);
                break;
        default:
                ev->time_us = EVT_NOW_US - (int64_t)rnd(1u << 30) * 1000;
                /* Whole seconds: CBOR writes them as tag 1 epoch seconds. */
                if (rnd(3) == 0)
                        ev->time_us -= ev->time_us % 1000000;
        }
        if (ev->type == SCH_TYPE_OUTCOME) {
                static const char *const words[] = {"success",   "failure",
                                                    "escalated", "re-opened",
                                                    "bad word",  "Ok.2"};
                const char *w = words[rnd(6)];

                ev->task = text(bufs[b++], SCH_MAX_TASK_BYTES);
                ev->outcome = rnd(4) ? (struct sch_str){w, (uint32_t)strlen(w)}
                                     : text(bufs[b++], SCH_MAX_WORD_BYTES);
                ev->deployment = (sch_deployment)(1 + rnd(2));
                ev->units = rnd(2) ? 1 : a_count();
        } else if (ev->type == SCH_TYPE_SEAT) {
                ev->device_id = text(bufs[b++], SCH_MAX_NAME_BYTES);
                ev->action = (sch_seat_action)(1 + rnd(3));
                ev->model_class = text(bufs[b++], SCH_MAX_NAME_BYTES);
        } else {
                ev->model = text(bufs[b++], SCH_MAX_NAME_BYTES);
                ev->deployment = (sch_deployment)(1 + rnd(2));
                if (ev->type != SCH_TYPE_MATRIX_OPS)
                        ev->decoding = text(bufs[b++], SCH_MAX_NAME_BYTES);
                ev->input_tokens = a_count();
                ev->output_tokens = a_count();
                ev->cached_input_tokens = rnd(2) ? 0 : a_count();
                ev->iterations = a_count();
                ev->tokens = a_count();
                ev->mac = a_count();
        }
        ev->dim_count = rnd(4) ? rnd(4) : rnd(SCH_MAX_DIMS + 2);
        if (ev->dim_count > SCH_MAX_DIMS)
                ev->dim_count = SCH_MAX_DIMS; /* the encoder's array */
        for (uint32_t i = 0; i < ev->dim_count; i++) {
                const char *k = dim_keys[rnd(12)];
                if (rnd(3) == 0) {
                        ev->dims[i].key =
                            text(bufs[b++], SCH_MAX_DIM_KEY_BYTES);
                } else {
                        ev->dims[i].key =
                            (struct sch_str){k, (uint32_t)strlen(k)};
                }
                ev->dims[i].value =
                    rnd(5) ? text(bufs[b++], 12)
                           : text(bufs[b++], SCH_MAX_DIM_VALUE_BYTES);
        }
}

/* One random edit of 'doc': a byte replaced (by one of 'alphabet', or by
   any byte when it is NULL), nudged by one, deleted, or inserted. Returns
   the new length; 'doc' has room for one more byte. */
static size_t mutate(unsigned char *doc, size_t len, const char *alphabet)
{
        size_t at = rnd((unsigned)len);
        unsigned char c =
            alphabet ? (unsigned char)alphabet[rnd((unsigned)strlen(alphabet))]
                     : (unsigned char)rnd(256);

        switch (rnd(4)) {
        case 0:
                doc[at] = c;
                return len;
        case 1: /* a length, count or character off by one */
                doc[at] = (unsigned char)(doc[at] + (rnd(2) ? 1 : -1));
                return len;
        case 2:
                memmove(doc + at, doc + at + 1, len - at - 1);
                return len - 1;
        default:
                memmove(doc + at + 1, doc + at, len - at);
                doc[at] = c;
                return len + 1;
        }
}

struct tally {
        int fast, general_ok, cases;
};

/* One document through both readers; the fast path's yes must hold. */
static void compare(struct sch_decoder *fast, struct sch_decoder *general,
                    const char *doc, size_t len, struct tally *t)
{
        struct sch_event a, b;
        struct tl_error e1, e2;
        bool took = sch__json_fast(fast, (const unsigned char *)doc, len, &a);
        tl_status rc = sch__decode_json_general(general, doc, len, &b, &e1);
        tl_status rc2;

        t->cases++;
        t->general_ok += rc == TL_OK;
        if (took) {
                t->fast++;
                cr_assert_eq(rc, TL_OK,
                             "fast path took what the general reader refuses "
                             "(%s): %.*s",
                             e1.msg, (int)len, doc);
                cr_assert(same_event(&a, &b), "events differ: %.*s", (int)len,
                          doc);
        }
        /* The public entry answers as the general reader does. */
        rc2 = sch_decode_json(fast, doc, len, &a, &e2);
        cr_assert_eq(rc2, rc, "%.*s", (int)len, doc);
        if (rc)
                cr_assert_str_eq(e2.msg, e1.msg);
        else /* unescaped strings live in each decoder's own arena */
                cr_assert(sch_event_equal(&a, &b), "%.*s", (int)len, doc);
}

static struct sch_decoder *decoder(void)
{
        struct sch_options opt = {EVT_NOW_US, 0};
        struct sch_decoder *d;

        cr_assert_eq(sch_decoder_new(&opt, &d, NULL), TL_OK);
        return d;
}

#define GOOD                                                                   \
        "{\"specversion\":\"1.0\",\"id\":\"req-1\",\"source\":\"gw\","         \
        "\"type\":\"inference.tokens\",\"subject\":\"cust_1\",\"time\":"       \
        "\"2026-10-14T09:30:12.123Z\",\"data\":{\"model\":\"m\","              \
        "\"deployment\":\"cloud\",\"decoding\":\"diffusion\","                 \
        "\"input_tokens\":812,\"output_tokens\":1204,\"region\":\"eu\"}}"

Test(json_fast, agrees_with_the_general_reader_on_mutated_documents)
{
        static const char alphabet[] =
            "{}[]:,\"\\0123456789-+.eEZT \x7f\x80\xc3";
        struct sch_decoder *f = decoder(), *g = decoder();
        struct tally t = {0};
        size_t base_len = strlen(GOOD);
        char doc[512];

        for (int i = 0; i < 40000; i++) {
                size_t len = base_len;

                memcpy(doc, GOOD, base_len);
                for (int m = 0; m < 1 + (i % 2); m++)
                        len = mutate((unsigned char *)doc, len, alphabet);
                compare(f, g, doc, len, &t);
        }
        cr_assert_gt(t.fast, 1000, "fast took %d mutants", t.fast);
        sch_decoder_free(&f);
        sch_decoder_free(&g);
}

/* What the fast path leaves to the general reader, each on its own. */
Test(json_fast, leaves_every_unusual_shape_to_the_general_reader)
{
        static const struct {
                const char *from, *to;
        } cases[] = {
            {"{\"spec", "{ \"spec"},                        /* whitespace */
            {"\"id\":\"req-1\"", "\"id\":\"req\\u002d1\""}, /* escape */
            {"\"model\":\"m\"", "\"model\":\"m\xc3\xa9\""}, /* UTF-8 */
            {"\"source\":\"gw\",",
             "\"source\":\"gw\",\"x\":1,"}, /* extension */
            {"\"input_tokens\":812", "\"input_tokens\":1234567890123456789"},
            {"\"input_tokens\":812", "\"input_tokens\":0812"},
            {"\"input_tokens\":812", "\"input_tokens\":812.0"},
            {"\"region\":\"eu\"", "\"region\":\"eu\",\"region\":\"us\""},
            {"\"region\":\"eu\"", "\"region\":\"eu\",\"output_tokens\":\"x\""},
            {"\"region\":\"eu\"", "\"region\":7"},
            {"\"time\":\"2026-10-14T09:30:12.123Z\"",
             "\"time\":\"2026-12-14T09:30:12.123Z\""}, /* ahead */
            {"\"type\":\"inference.tokens\",\"subject\":\"cust_1\"",
             "\"subject\":\"cust_1\",\"type\":\"inference.tokens\""},
        };
        struct sch_decoder *f = decoder(), *g = decoder();
        struct sch_event ev;
        char doc[2048];

        cr_assert(
            sch__json_fast(f, (const unsigned char *)GOOD, strlen(GOOD), &ev));
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                const char *at = strstr(GOOD, cases[i].from);
                struct tally t = {0};
                int n;

                cr_assert(at, "%s", cases[i].from);
                n = snprintf(doc, sizeof doc, "%.*s%s%s", (int)(at - GOOD),
                             GOOD, cases[i].to, at + strlen(cases[i].from));
                cr_expect(!sch__json_fast(f, (const unsigned char *)doc,
                                          (size_t)n, &ev),
                          "fast path took: %s", doc);
                compare(f, g, doc, (size_t)n, &t);
        }
        /* One dimension more than an event holds. */
        {
                struct tally t = {0};
                size_t n = (size_t)(strstr(GOOD, "}}") - GOOD);

                memcpy(doc, GOOD, n);
                for (int k = 0; k < SCH_MAX_DIMS; k++)
                        n += (size_t)sprintf(doc + n, ",\"d%02d\":\"v\"", k);
                n += (size_t)sprintf(doc + n, "}}");
                cr_expect(
                    !sch__json_fast(f, (const unsigned char *)doc, n, &ev));
                compare(f, g, doc, n, &t);
                cr_expect_eq(t.general_ok, 0);
        }
        sch_decoder_free(&f);
        sch_decoder_free(&g);
}

/* The shapes it is for: optional cached tokens, every type, dims sorted. */
Test(json_fast, takes_the_encoders_shapes)
{
        static const char *const docs[] = {
            GOOD,
            "{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"s\",\"type\":"
            "\"inference.iterations\",\"subject\":\"c\",\"time\":"
            "\"2026-10-01T00:00:00Z\",\"data\":{\"model\":\"m\","
            "\"deployment\":\"device\",\"decoding\":\"d\",\"iterations\":1,"
            "\"tokens\":0}}",
            "{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"s\",\"type\":"
            "\"inference.matrix_ops\",\"subject\":\"c\",\"time\":"
            "\"2026-10-01T00:00:00+02:00\",\"data\":{\"model\":\"m\","
            "\"deployment\":\"cloud\",\"mac\":999999999999999999,"
            "\"zone\":\"b\",\"app\":\"\"}}",
            "{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"s\",\"type\":"
            "\"device.seat\",\"subject\":\"c\",\"time\":"
            "\"2026-10-01T00:00:00.5Z\",\"data\":{\"device_id\":\"d\","
            "\"action\":\"deactivate\",\"model_class\":\"small\"}}",
            /* An outcome without units (1), and with units and a dim. */
            "{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"s\",\"type\":"
            "\"task.outcome\",\"subject\":\"c\",\"time\":"
            "\"2026-10-01T00:00:00Z\",\"data\":{\"task\":"
            "\"support.resolution\",\"outcome\":\"success\","
            "\"deployment\":\"device\"}}",
            "{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"s\",\"type\":"
            "\"task.outcome\",\"subject\":\"c\",\"time\":"
            "\"2026-10-01T00:00:00Z\",\"data\":{\"task\":\"t\","
            "\"outcome\":\"re-opened\",\"deployment\":\"cloud\","
            "\"units\":12,\"queue\":\"vip\"}}",
        };
        struct sch_decoder *f = decoder(), *g = decoder();
        struct sch_event ev;

        for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
                struct tally t = {0};

                cr_expect(sch__json_fast(f, (const unsigned char *)docs[i],
                                         strlen(docs[i]), &ev),
                          "not taken: %s", docs[i]);
                compare(f, g, docs[i], strlen(docs[i]), &t);
                cr_expect_eq(t.fast, 1);
        }
        /* Dimensions come out sorted by key, as the general reader sorts. */
        cr_assert(sch__json_fast(f, (const unsigned char *)docs[2],
                                 strlen(docs[2]), &ev));
        cr_assert_eq(ev.dim_count, 2);
        cr_assert_eq(ev.dims[0].key.len, 3); /* "app" before "zone" */
        cr_assert_eq(ev.dims[0].value.len, 0);
        sch_decoder_free(&f);
        sch_decoder_free(&g);
}

/* ---- CBOR ---------------------------------------------------------------- */

/* One item through both CBOR readers, and through the public reader. */
static void compare_cbor(struct sch_decoder *fast, struct sch_decoder *general,
                         const unsigned char *doc, size_t len, struct tally *t)
{
        struct sch_event a, b;
        struct tl_error e1, e2;
        struct sch_cbor_reader r;
        struct sch_str raw;
        size_t n = 0, pos = 0;
        bool took = sch__cbor_fast(fast, doc, len, &a, &n);
        tl_status rc =
            sch__cbor_decode_general(general, doc, len, &pos, &b, &e1);
        tl_status rc2;

        /* Followed by another item, as in a sequence: the same end. */
        if (len <= 600) {
                unsigned char two[1200];
                struct sch_event c;
                size_t n2 = 0;

                memcpy(two, doc, len);
                memcpy(two + len, doc, len);
                if (sch__cbor_fast(fast, two, 2 * len, &c, &n2))
                        cr_assert(rc == TL_OK && n2 == pos,
                                  "in a sequence the fast path ends the item "
                                  "at %zu, the general reader at %zu (%s)",
                                  n2, pos, rc ? e1.msg : "ok");
        }
        t->cases++;
        t->general_ok += rc == TL_OK;
        if (took) {
                t->fast++;
                cr_assert_eq(rc, TL_OK,
                             "CBOR fast path took what the general reader "
                             "refuses (%s), case %d",
                             e1.msg, t->cases);
                cr_assert_eq(n, pos, "the item ends at %zu, not %zu", n, pos);
                cr_assert(same_event(&a, &b), "events differ, case %d",
                          t->cases);
        }
        /* The skim that routes items among threads: its quick walk of
           the usual item must measure as the general skim does. */
        {
                size_t l1 = 0, l2 = 0;
                struct sch_str s1, s2;
                tl_status k1 = sch_cbor_skim(doc, len, &l1, &s1);
                tl_status k2 = sch__cbor_skim_general(doc, len, &l2, &s2);

                cr_assert_eq(k1, k2, "skim, case %d", t->cases);
                if (k1 == TL_OK)
                        cr_assert(
                            l1 == l2 && s1.ptr == s2.ptr && s1.len == s2.len,
                            "skims differ, case %d: %zu/%zu", t->cases, l1, l2);
        }
        cr_assert_eq(sch_cbor_reader_open(&r, doc, len, true, NULL), TL_OK);
        rc2 = sch_cbor_reader_next(&r, fast, &a, &raw, &e2);
        cr_assert_eq(rc2, rc, "case %d", t->cases);
        if (rc)
                cr_assert_str_eq(e2.msg, e1.msg);
        else
                cr_assert(sch_event_equal(&a, &b));
}

/*
** 30,000 random events through the encoder of one format and both of its
** readers. Both answers must be common, or the test proves little.
*/
static void random_events(bool cbor)
{
        struct sch_decoder *f = decoder(), *g = decoder();
        struct tally t = {0};
        static char bufs[2 * SCH_MAX_DIMS + 8][300];

        for (int i = 0; i < 30000; i++) {
                struct sch_event ev;
                struct tl_buf out;

                random_event(&ev, bufs);
                tl_buf_init(&out, 0);
                if (cbor) {
                        cr_assert_eq(sch_encode_cbor(&ev, &out, NULL), TL_OK);
                        compare_cbor(f, g, (const unsigned char *)out.data,
                                     out.len, &t);
                } else {
                        cr_assert_eq(sch_encode_json(&ev, &out, NULL), TL_OK);
                        compare(f, g, (const char *)out.data, out.len, &t);
                }
                tl_buf_release(&out);
        }
        cr_assert_gt(t.fast, t.cases / 20, "fast %d of %d", t.fast, t.cases);
        cr_assert_gt(t.general_ok - t.fast, t.cases / 40,
                     "valid but not fast: %d", t.general_ok - t.fast);
        cr_assert_gt(t.cases - t.general_ok, t.cases / 5, "invalid: %d",
                     t.cases - t.general_ok);
        sch_decoder_free(&f);
        sch_decoder_free(&g);
}

Test(json_fast, agrees_with_the_general_reader_on_random_events)
{
        random_events(false);
}

Test(cbor_fast, agrees_with_the_general_reader_on_random_events)
{
        random_events(true);
}

Test(cbor_fast, agrees_with_the_general_reader_on_mutated_items)
{
        struct sch_decoder *f = decoder(), *g = decoder();
        struct tally t = {0};
        struct tl_buf good;
        unsigned char doc[512];

        tl_buf_init(&good, 0);
        cr_assert(evt_json_to_cbor(GOOD, 0, &good));
        for (int i = 0; i < 40000; i++) {
                size_t len = good.len;

                memcpy(doc, good.data, good.len);
                for (int m = 0; m < 1 + (i % 2); m++)
                        len = mutate(doc, len, NULL);
                compare_cbor(f, g, doc, len, &t);
        }
        cr_assert_gt(t.fast, 1000, "fast took %d mutants", t.fast);
        tl_buf_release(&good);
        sch_decoder_free(&f);
        sch_decoder_free(&g);
}

/* Valid or not, each of these is the general reader's to decide. */
Test(cbor_fast, leaves_every_unusual_shape_to_the_general_reader)
{
        static const struct {
                const char *from, *to;
        } cases[] = {
            {"\"id\":\"req-1\",\"source\":\"gw\",",
             "\"source\":\"gw\",\"id\":\"req-1\","}, /* order */
            {"{\"specversion\":\"1.0\",", "{"},      /* optional in CBOR */
            {"\"model\":\"m\"", "\"model\":\"m\u00e9\""},
            {"\"source\":\"gw\",", "\"source\":\"gw\",\"x\":1,"},
            {"\"input_tokens\":812", "\"input_tokens\":812.0"},
            {"\"region\":\"eu\"", "\"cached_input_tokens\":\"x\""},
            {"\"region\":\"eu\"", "\"region\":7"},
            {"\"time\":\"2026-10-14T09:30:12.123Z\"",
             "\"time\":\"2026-12-14T09:30:12.123Z\""}, /* ahead */
        };
        struct sch_decoder *f = decoder(), *g = decoder();
        struct sch_event ev;
        struct tl_buf b;
        char doc[1024];
        size_t n;

        tl_buf_init(&b, 0);
        cr_assert(evt_json_to_cbor(GOOD, 0, &b));
        cr_assert(
            sch__cbor_fast(f, (const unsigned char *)b.data, b.len, &ev, &n),
            "GOOD not taken");
        cr_assert_eq(n, b.len);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                const char *at = strstr(GOOD, cases[i].from);
                struct tally t = {0};

                cr_assert(at, "%s", cases[i].from);
                snprintf(doc, sizeof doc, "%.*s%s%s", (int)(at - GOOD), GOOD,
                         cases[i].to, at + strlen(cases[i].from));
                tl_buf_truncate(&b, 0);
                cr_assert(evt_json_to_cbor(doc, 0, &b), "%s", doc);
                cr_expect(!sch__cbor_fast(f, (const unsigned char *)b.data,
                                          b.len, &ev, &n),
                          "fast path took: %s", doc);
                compare_cbor(f, g, (const unsigned char *)b.data, b.len, &t);
        }
        /* "subject" under a two-byte head: the skim does not route by
           it, so neither may its quick walk. */
        {
                struct tally t = {0};
                unsigned char two[1024];
                const char *k;
                size_t at;

                tl_buf_truncate(&b, 0);
                cr_assert(evt_json_to_cbor(GOOD, 0, &b));
                k = memmem(b.data, b.len, "\x67subject", 8);
                cr_assert(k);
                at = (size_t)(k - b.data);
                memcpy(two, b.data, at);
                two[at] = 0x78;
                two[at + 1] = 7;
                memcpy(two + at + 2, k + 1, b.len - at - 1);
                compare_cbor(f, g, two, b.len + 1, &t);
                cr_expect_eq(t.general_ok, 1);
        }
        /* The self-describe tag on the map. */
        tl_buf_truncate(&b, 0);
        cr_assert(tl_buf_append(&b, "\xd9\xd9\xf7", 3, NULL) == TL_OK);
        cr_assert(evt_json_to_cbor(GOOD, 0, &b));
        {
                struct tally t = {0};

                cr_expect(!sch__cbor_fast(f, (const unsigned char *)b.data,
                                          b.len, &ev, &n));
                compare_cbor(f, g, (const unsigned char *)b.data, b.len, &t);
                cr_expect_eq(t.general_ok, 1);
        }
        tl_buf_release(&b);
        sch_decoder_free(&f);
        sch_decoder_free(&g);
}

/* What the encoder writes for each type, with and without dimensions and
   in both time forms, is the fast path's to take. */
Test(cbor_fast, takes_the_encoders_shapes)
{
        struct sch_decoder *f = decoder(), *g = decoder();

        for (int type = SCH_TYPE_TOKENS; type <= SCH_TYPE_LAST; type++)
                for (int variant = 0; variant < 4; variant++) {
                        struct sch_event ev, out;
                        struct tl_buf b;
                        struct tally t = {0};
                        size_t n;

                        memset(&ev, 0, sizeof ev);
                        ev.type = (sch_event_type)type;
                        ev.id = (struct sch_str){"req-1", 5};
                        ev.source = (struct sch_str){"gw", 2};
                        ev.subject = (struct sch_str){"cust_1", 6};
                        /* Whole seconds (tag 1) or not (tag 0 text). */
                        ev.time_us = EVT_NOW_US - 86400 * INT64_C(1000000) -
                                     (variant & 1) * 1000;
                        if (type == SCH_TYPE_OUTCOME) {
                                ev.task = (struct sch_str){"support.t", 9};
                                ev.outcome = (struct sch_str){"failure", 7};
                                ev.deployment = SCH_DEPLOY_CLOUD;
                                ev.units = 3;
                        } else if (type == SCH_TYPE_SEAT) {
                                ev.device_id = (struct sch_str){"d", 1};
                                ev.action = SCH_SEAT_ACTIVATE;
                                ev.model_class = (struct sch_str){"small", 5};
                        } else {
                                ev.model = (struct sch_str){"m", 1};
                                ev.deployment = SCH_DEPLOY_DEVICE;
                                if (type != SCH_TYPE_MATRIX_OPS)
                                        ev.decoding = (struct sch_str){"d", 1};
                                if (type == SCH_TYPE_TOKENS) {
                                        ev.input_tokens = ev.output_tokens = 7;
                                        ev.cached_input_tokens = 3;
                                } else if (type == SCH_TYPE_ITERATIONS) {
                                        ev.iterations = ev.tokens = 9;
                                } else {
                                        ev.mac = 9;
                                }
                        }
                        if (variant & 2) {
                                ev.dim_count = 2;
                                ev.dims[0].key = (struct sch_str){"app", 3};
                                ev.dims[0].value = (struct sch_str){"x", 1};
                                ev.dims[1].key = (struct sch_str){"zone", 4};
                                ev.dims[1].value = (struct sch_str){"", 0};
                        }
                        tl_buf_init(&b, 0);
                        cr_assert_eq(sch_encode_cbor(&ev, &b, NULL), TL_OK);
                        cr_expect(
                            sch__cbor_fast(f, (const unsigned char *)b.data,
                                           b.len, &out, &n),
                            "type %d variant %d not taken", type, variant);
                        compare_cbor(f, g, (const unsigned char *)b.data, b.len,
                                     &t);
                        cr_expect(sch_event_equal(&ev, &out));
                        tl_buf_release(&b);
                }
        sch_decoder_free(&f);
        sch_decoder_free(&g);
}

/* The fast paths' reading of the two usual time forms against the RFC
   3339 parser, on random and edge dates (leap days, :60, year 0000,
   month 13, day 31 of short months, a 'z' or 't' in lower case). */
Test(fast_time, reads_as_the_rfc3339_parser)
{
        static const char *const edges[] = {
            "2024-02-29T23:59:60Z",     "2023-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",     "2000-02-29T00:00:00.999Z",
            "0000-01-01T00:00:00Z",     "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999Z", "2026-13-01T00:00:00Z",
            "2026-04-31T00:00:00Z",     "2026-10-01T24:00:00Z",
            "2026-10-01t00:00:00Z",     "2026-10-01T00:00:00z",
            "2026-10-01T00:00:00.12Z",  "2026-10-01T00:60:00Z",
            "2026-10-01T00:00:61Z",     "2026-1a-01T00:00:00Z",
        };
        struct sch_decoder *d = decoder();
        char s[32];
        int fast = 0;

        for (int i = 0; i < 200000; i++) {
                tl_time_us a = 0, b = 0;
                size_t len;
                bool took;
                tl_status rc;

                if (i < (int)(sizeof edges / sizeof edges[0])) {
                        snprintf(s, sizeof s, "%s", edges[i]);
                } else {
                        snprintf(s, sizeof s,
                                 "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
                                 rnd(3) ? 1999 + rnd(40) : rnd(10000), rnd(14),
                                 rnd(33), rnd(25), rnd(61), rnd(62), rnd(1000));
                        if (rnd(2))
                                snprintf(s + 19, sizeof s - 19, "Z");
                        if (rnd(50) == 0)
                                s[rnd(20)] = (char)('0' + rnd(80));
                }
                len = strlen(s);
                took = sch__fast_time(d, s, len, &a);
                rc = tl_time_parse_rfc3339(s, len, &b, NULL);
                fast += took;
                if (took)
                        cr_assert(rc == TL_OK && a == b, "%s: %lld / %lld", s,
                                  (long long)a, (long long)b);
        }
        cr_assert_gt(fast, 50000, "%d", fast);
        sch_decoder_free(&d);
}
