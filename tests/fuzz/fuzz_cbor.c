/* libFuzzer target: the CBOR event reader, as a Kafka message and as a
   sequence file. What is accepted must re-encode to an equal event, and
   libcbor (an independent decoder) must read exactly its bytes; what the
   fast path takes, the general reader must take as the same event ending
   at the same byte, and the skim's quick walk must measure as the general
   skim. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "schemas/decode.h"
#include "../../schemas/src/cbor_fast.h"

static struct sch_decoder *d, *d2;

/* libcbor 0.8 refuses the one-byte tag heads 6..20 as "unassigned"
   (libcbor issue #307), though RFC 8949 makes them well-formed. */
static bool has_low_tag_head(struct sch_str raw)
{
        for (uint32_t i = 0; i < raw.len; i++) {
                unsigned char c = (unsigned char)raw.ptr[i];
                if (c >= 0xc6 && c <= 0xd4)
                        return true;
        }
        return false;
}

static void check_accepted(const struct sch_event *ev, struct sch_str raw)
{
        struct cbor_load_result res;
        cbor_item_t *item;
        struct sch_cbor_reader r;
        struct sch_event back;
        struct sch_str raw2;
        struct tl_buf b;

        item = cbor_load((const unsigned char *)raw.ptr, raw.len, &res);
        if ((!item || res.read != raw.len) && !has_low_tag_head(raw))
                abort();
        if (item)
                cbor_decref(&item);
        tl_buf_init(&b, 0);
        if (sch_encode_cbor(ev, &b, NULL) ||
            sch_cbor_reader_open(&r, b.data, b.len, false, NULL) ||
            sch_cbor_reader_next(&r, d2, &back, &raw2, NULL) ||
            !sch_event_equal(ev, &back))
                abort();
        tl_buf_release(&b);
}

static void read_all(const uint8_t *data, size_t size, bool sequence)
{
        struct sch_cbor_reader r;
        struct sch_event ev;
        struct sch_str raw;
        size_t n = 0;

        if (sch_cbor_reader_open(&r, data, size, sequence, NULL))
                return;
        while (sch_cbor_reader_more(&r)) {
                size_t at = r.pos, skim_len;
                struct sch_str subj;
                tl_status skim =
                    sch_cbor_skim(data + at, size - at, &skim_len, &subj);
                tl_status rc = sch_cbor_reader_next(&r, d, &ev, &raw, NULL);
                /* Every element is accounted for, and raw stays inside. */
                if ((const uint8_t *)raw.ptr < data ||
                    (const uint8_t *)raw.ptr + raw.len > data + size)
                        abort();
                /* An item the reader could measure, the skim of offline
                   rating measures alike; the subject it routes by is the
                   event's. */
                if (sequence && !r.broken &&
                    (skim != TL_OK || skim_len != raw.len))
                        abort();
                if (sequence && rc == TL_OK &&
                    (!subj.ptr || subj.len != ev.subject.len ||
                     memcmp(subj.ptr, ev.subject.ptr, subj.len) != 0))
                        abort();
                if (rc == TL_OK)
                        check_accepted(&ev, raw);
                if (++n > size + 1)
                        abort(); /* no progress */
        }
        if (!sequence && !r.broken && sch_cbor_reader_remaining(&r) != 0)
                abort();
}

static void check_fast_path(const uint8_t *data, size_t size)
{
        static struct sch_decoder *f, *g;
        struct sch_options opt = {INT64_C(4102444800000000), 0};
        struct sch_event a, b;
        size_t n = 0, pos = 0;

        if (!f) {
                sch_decoder_new(&opt, &f, NULL);
                sch_decoder_new(&opt, &g, NULL);
        }
        {
                size_t l1 = 0, l2 = 0;
                struct sch_str s1, s2;
                tl_status k1 = sch_cbor_skim(data, size, &l1, &s1);

                if (k1 != sch__cbor_skim_general(data, size, &l2, &s2) ||
                    (k1 == TL_OK &&
                     (l1 != l2 || s1.ptr != s2.ptr || s1.len != s2.len)))
                        abort();
        }
        if (!sch__cbor_fast(f, data, size, &a, &n))
                return;
        if (sch__cbor_decode_general(g, data, size, &pos, &b, NULL) != TL_OK ||
            pos != n || !sch_event_equal(&a, &b))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct sch_options opt = {INT64_C(4102444800000000), 0};

        if (!d) {
                sch_decoder_new(&opt, &d, NULL);
                sch_decoder_new(&opt, &d2, NULL);
        }
        read_all(data, size, false);
        read_all(data, size, true);
        check_fast_path(data, size);
        return 0;
}
