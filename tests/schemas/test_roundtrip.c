/* Encoders and decoders agree; the content hash ignores the encoding. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "evtest.h"

static unsigned long long rng = 0x2545F4914F6CDD1DULL;

static unsigned next(unsigned n)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (unsigned)(rng % n);
}

/* Text with the characters encoders must escape, and non-ASCII. */
static struct sch_str random_text(char *buf, unsigned max)
{
        static const char *const pieces[] = {"a",  "Z",  "0",    "-",    "\"",
                                             "\\", "\n", "\t",   "\x01", "/",
                                             "é",  "東", "🙂", " "};
        unsigned len = 0, want = 1 + next(max);

        while (len < want) {
                const char *p = pieces[next(14)];
                size_t n = strlen(p);
                if (len + n > max)
                        break;
                memcpy(buf + len, p, n);
                len += (unsigned)n;
        }
        if (len == 0)
                buf[len++] = 'x';
        return (struct sch_str){buf, len};
}

struct owned {
        char text[40][300];
        struct sch_event ev;
};

static void random_event(struct owned *o)
{
        struct sch_event *ev = &o->ev;
        int t = 0;

        memset(ev, 0, sizeof *ev);
        ev->type = (sch_event_type)(1 + next(4));
        ev->id = random_text(o->text[t++], 128);
        ev->source = random_text(o->text[t++], 200);
        ev->subject = random_text(o->text[t++], 128);
        ev->time_us = INT64_C(946684800000000) +
                      (int64_t)next(800000000) * 1000000 +
                      (next(2) ? (int64_t)next(1000000) : 0);
        if (ev->type == SCH_TYPE_SEAT) {
                ev->device_id = random_text(o->text[t++], 100);
                ev->action = (sch_seat_action)(1 + next(3));
                ev->model_class = random_text(o->text[t++], 20);
        } else {
                ev->model = random_text(o->text[t++], 100);
                ev->deployment = (sch_deployment)(1 + next(2));
                if (ev->type != SCH_TYPE_MATRIX_OPS)
                        ev->decoding = random_text(o->text[t++], 30);
        }
        if (ev->type == SCH_TYPE_TOKENS) {
                ev->input_tokens = next(1000000);
                ev->output_tokens = (uint64_t)next(1000) << 40;
                ev->cached_input_tokens = next(3);
        } else if (ev->type == SCH_TYPE_ITERATIONS) {
                ev->iterations = 1 + next(100);
                ev->tokens = next(5000);
        } else if (ev->type == SCH_TYPE_MATRIX_OPS) {
                ev->mac = INT64_MAX - next(1000);
        }
        ev->dim_count = next(6);
        for (uint32_t i = 0; i < ev->dim_count; i++) {
                /* Distinct sorted keys: "k0", "k1", ... */
                snprintf(o->text[t], 16, "k%u", i % 10);
                ev->dims[i].key = (struct sch_str){o->text[t], 2};
                t++;
                ev->dims[i].value = random_text(o->text[t++], 60);
        }
}

Test(roundtrip, json_and_cbor_decode_what_was_encoded)
{
        struct sch_options opt = {INT64_C(4102444800000000), 0};
        struct sch_decoder *d;
        struct tl_buf j, c;
        static struct owned o;

        sch_decoder_new(&opt, &d, NULL);
        tl_buf_init(&j, 0);
        tl_buf_init(&c, 0);
        for (int i = 0; i < 5000; i++) {
                struct sch_event back;
                struct sch_cbor_reader r;
                struct sch_str raw;
                struct tl_error err;
                unsigned char h1[SCH_HASH_BYTES], h2[SCH_HASH_BYTES];

                random_event(&o);
                sch_event_hash(&o.ev, h1);
                tl_buf_clear(&j);
                cr_assert_eq(sch_encode_json(&o.ev, &j, NULL), TL_OK);
                cr_assert_eq(sch_decode_json(d, j.data, j.len, &back, &err),
                             TL_OK, "%s: %s", err.msg, j.data);
                cr_assert(sch_event_equal(&o.ev, &back), "JSON: %s", j.data);
                sch_event_hash(&back, h2);
                cr_assert_eq(memcmp(h1, h2, sizeof h1), 0);

                tl_buf_clear(&c);
                cr_assert_eq(sch_encode_cbor(&o.ev, &c, NULL), TL_OK);
                cr_assert_eq(
                    sch_cbor_reader_open(&r, c.data, c.len, false, &err),
                    TL_OK);
                cr_assert_eq(sch_cbor_reader_next(&r, d, &back, &raw, &err),
                             TL_OK, "%s (from %s)", err.msg, j.data);
                cr_assert(sch_event_equal(&o.ev, &back), "CBOR of %s", j.data);
                sch_event_hash(&back, h2);
                cr_assert_eq(memcmp(h1, h2, sizeof h1), 0);
        }
        tl_buf_release(&j);
        tl_buf_release(&c);
        sch_decoder_free(&d);
}

Test(roundtrip, a_batch_of_encoded_events_decodes_in_order)
{
        struct sch_options opt = {INT64_C(4102444800000000), 0};
        static struct owned o[50];
        struct sch_decoder *d;
        struct sch_cbor_reader r;
        struct tl_buf c;

        tl_buf_init(&c, 0);
        cr_assert_eq(sch_encode_cbor_array_start(50, &c, NULL), TL_OK);
        for (int i = 0; i < 50; i++) {
                random_event(&o[i]);
                cr_assert_eq(sch_encode_cbor(&o[i].ev, &c, NULL), TL_OK);
        }
        sch_decoder_new(&opt, &d, NULL);
        cr_assert_eq(sch_cbor_reader_open(&r, c.data, c.len, false, NULL),
                     TL_OK);
        for (int i = 0; i < 50; i++) {
                struct sch_event back;
                struct sch_str raw;
                cr_assert_eq(sch_cbor_reader_next(&r, d, &back, &raw, NULL),
                             TL_OK);
                cr_assert(sch_event_equal(&o[i].ev, &back), "element %d", i);
        }
        cr_assert_not(sch_cbor_reader_more(&r));
        sch_decoder_free(&d);
        tl_buf_release(&c);
}

#define A                                                                      \
        "{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\",\"type\":"     \
        "\"inference.tokens\",\"subject\":\"c\",\"time\":"                     \
        "\"2026-10-14T09:30:12Z\",\"data\":{\"model\":\"m\",\"deployment\":"   \
        "\"cloud\",\"decoding\":\"d\",\"input_tokens\":1,\"output_tokens\":"   \
        "2,\"x\":\"1\",\"y\":\"2\"}}"
/* The same event: other key order, an offset time, explicit default. */
#define A_REORDERED                                                            \
        "{\"data\":{\"y\":\"2\",\"cached_input_tokens\":0,\"output_tokens\":"  \
        "2,"                                                                   \
        "\"input_tokens\":1,\"decoding\":\"d\",\"deployment\":\"cloud\","      \
        "\"model\":\"m\",\"x\":\"1\"},\"time\":\"2026-10-14T11:30:12+02:00\"," \
        "\"subject\":\"c\",\"type\":\"inference.tokens\",\"source\":\"s\","    \
        "\"id\":\"i\",\"specversion\":\"1.0\"}"

static void hash_of(const char *json, bool cbor,
                    unsigned char out[SCH_HASH_BYTES])
{
        struct sch_event ev;
        struct tl_error err;

        cr_assert_eq(evt_decode(json, cbor, &ev, &err), TL_OK, "%s", err.msg);
        sch_event_hash(&ev, out);
}

Test(hash, does_not_depend_on_encoding_or_key_order)
{
        unsigned char a[SCH_HASH_BYTES], b[SCH_HASH_BYTES];

        hash_of(A, false, a);
        hash_of(A, true, b);
        cr_assert_eq(memcmp(a, b, sizeof a), 0, "JSON vs CBOR");
        hash_of(A_REORDERED, false, b);
        cr_assert_eq(memcmp(a, b, sizeof a), 0, "key order, offset, default");
        hash_of(A_REORDERED, true, b);
        cr_assert_eq(memcmp(a, b, sizeof a), 0);
}

Test(hash, changes_with_any_billable_content)
{
        static const char *const edits[][2] = {
            {"\"id\":\"i\"", "\"id\":\"i2\""},
            {"\"source\":\"s\"", "\"source\":\"s2\""},
            {"\"subject\":\"c\"", "\"subject\":\"c2\""},
            {"09:30:12Z", "09:30:13Z"},
            {"\"model\":\"m\"", "\"model\":\"m2\""},
            {"\"cloud\"", "\"device\""},
            {"\"decoding\":\"d\"", "\"decoding\":\"d2\""},
            {"\"input_tokens\":1", "\"input_tokens\":9"},
            {"\"output_tokens\":2", "\"output_tokens\":9"},
            {"\"x\":\"1\"", "\"x\":\"9\""},
            {"\"y\":\"2\"", "\"y\":\"2\",\"z\":\"3\""},
        };
        unsigned char base[SCH_HASH_BYTES], h[SCH_HASH_BYTES];
        char doc[1024];

        hash_of(A, false, base);
        for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
                const char *at = strstr(A, edits[i][0]);
                cr_assert(at, "%s", edits[i][0]);
                snprintf(doc, sizeof doc, "%.*s%s%s", (int)(at - A), A,
                         edits[i][1], at + strlen(edits[i][0]));
                hash_of(doc, false, h);
                cr_assert_neq(memcmp(base, h, sizeof h), 0, "%s", doc);
        }
}

Test(encode, a_full_buffer_is_a_limit_error_and_leaves_it_unchanged)
{
        static struct owned o;
        struct tl_buf b;
        struct tl_error err;

        random_event(&o);
        for (int cbor = 0; cbor <= 1; cbor++) {
                tl_buf_init(&b, 40);
                cr_assert_eq(tl_buf_puts(&b, "keep", NULL), TL_OK);
                cr_assert_eq(cbor ? sch_encode_cbor(&o.ev, &b, &err)
                                  : sch_encode_json(&o.ev, &b, &err),
                             TL_ELIMIT);
                cr_assert_eq(b.len, 4);
                cr_assert_str_eq(b.data, "keep");
                tl_buf_release(&b);
        }
}

/* sch_sha256 keeps a context per thread: each of several threads must get
   what OpenSSL's one-shot SHA256() gives, at every length. */
static void *sha_thread(void *arg)
{
        unsigned char data[300], a[SCH_HASH_BYTES], b[SCH_HASH_BYTES];
        unsigned seed = (unsigned)(size_t)arg;
        size_t bad = 0;

        for (size_t i = 0; i < sizeof data; i++)
                data[i] = (unsigned char)(i * 31 + seed);
        for (int round = 0; round < 20; round++)
                for (size_t len = 0; len <= sizeof data; len++) {
                        data[len % sizeof data] ^= (unsigned char)round;
                        sch_sha256(data, len, a);
                        SHA256(data, len, b);
                        bad += memcmp(a, b, sizeof a) != 0;
                }
        return (void *)bad;
}

Test(hash, sha256_is_sha256_from_any_thread)
{
        static const unsigned char abc[SCH_HASH_BYTES] = {
            0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
            0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
            0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
        unsigned char h[SCH_HASH_BYTES];
        pthread_t t[4];

        sch_sha256("abc", 3, h);
        cr_assert_eq(memcmp(h, abc, sizeof h), 0);
        for (size_t i = 0; i < 4; i++)
                cr_assert_eq(
                    pthread_create(&t[i], NULL, sha_thread, (void *)(i + 1)),
                    0);
        for (size_t i = 0; i < 4; i++) {
                void *bad;
                cr_assert_eq(pthread_join(t[i], &bad), 0);
                cr_assert_eq((size_t)bad, 0, "thread %zu", i);
        }
}
