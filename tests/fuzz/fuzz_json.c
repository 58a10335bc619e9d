/* libFuzzer target: the JSON event decoder. Beyond "no crash" it checks
   that what is accepted re-encodes to an equal event with the same hash,
   that jansson agrees wherever agreement is defined, and that what the
   fast path takes the general reader takes too, as the same event. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "schemas/decode.h"
#include "../../schemas/src/json.h"

static void check_round_trip(const struct sch_event *ev)
{
        static struct sch_decoder *d2;
        struct sch_options opt = {INT64_C(4102444800000000), 0};
        unsigned char h1[SCH_HASH_BYTES], h2[SCH_HASH_BYTES];
        struct sch_event back;
        struct tl_buf b;

        if (!d2)
                sch_decoder_new(&opt, &d2, NULL);
        tl_buf_init(&b, 0);
        if (sch_encode_json(ev, &b, NULL) ||
            sch_decode_json(d2, b.data, b.len, &back, NULL) ||
            !sch_event_equal(ev, &back))
                abort();
        sch_event_hash(ev, h1);
        sch_event_hash(&back, h2);
        if (memcmp(h1, h2, sizeof h1))
                abort();
        tl_buf_release(&b);
}

static void check_fast_path(const uint8_t *data, size_t size, tl_status rc)
{
        static struct sch_decoder *f, *g;
        struct sch_options opt = {INT64_C(4102444800000000), 0};
        struct sch_event a, b;

        if (!f) {
                sch_decoder_new(&opt, &f, NULL);
                sch_decoder_new(&opt, &g, NULL);
        }
        if (size > SCH_MAX_MESSAGE_BYTES || !sch__json_fast(f, data, size, &a))
                return;
        if (rc != TL_OK ||
            sch__decode_json_general(g, data, size, &b, NULL) != TL_OK ||
            !sch_event_equal(&a, &b))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct sch_decoder *d;
        struct sch_options opt = {INT64_C(4102444800000000), 0};
        struct sch_event ev;
        struct tl_error err;
        json_error_t je;
        json_t *j;
        tl_status rc;

        if (!d)
                sch_decoder_new(&opt, &d, NULL);
        rc = sch_decode_json(d, data, size, &ev, &err);
        if (rc == TL_OK)
                check_round_trip(&ev);
        check_fast_path(data, size, rc);
        j = json_loadb((const char *)data, size,
                       JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &je);
        /* Jansson stops at a NUL byte outside strings and takes what came
           before; it refuses numbers it cannot hold, which JSON allows. */
        if (memchr(data, '\0', size)) {
                json_decref(j);
                return 0;
        }
        if (!j && !strstr(je.text, "overflow") && rc == TL_OK)
                abort(); /* we accepted what is not JSON */
        if (j && json_is_object(j) && rc == TL_EPARSE)
                abort(); /* we called valid JSON malformed */
        json_decref(j);
        return 0;
}
