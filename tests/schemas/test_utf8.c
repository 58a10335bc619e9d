/* Event text that is not UTF-8 is an invalid event, named by its field,
   in JSON and CBOR alike; the fast paths leave any non-ASCII byte to the
   general readers, and `tally rate` refuses such an event the same way. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../schemas/src/cbor_fast.h"
#include "../../schemas/src/json.h"
#include "evtest.h"
#include "schemas/event.h"
#include "testkit.h"

/* Each field holds a three-byte marker that a case overwrites in place,
   so the item keeps its encoder's shape (the one the fast paths take). */
#define BASE                                                                   \
        "{\"specversion\":\"1.0\",\"id\":\"QiQ\",\"source\":\"QoQ\","          \
        "\"type\":\"inference.tokens\",\"subject\":\"QuQ\",\"time\":"          \
        "\"2026-10-14T09:30:12Z\",\"data\":{\"model\":\"QmQ\",\"deployment\":" \
        "\"cloud\",\"decoding\":\"QdQ\",\"input_tokens\":1,"                   \
        "\"output_tokens\":2,\"QkQ\":\"QvQ\"}}"

static const struct {
        const char *marker, *path;
} FIELDS[] = {
    {"QiQ", "id: invalid UTF-8"},
    {"QoQ", "source: invalid UTF-8"},
    {"QuQ", "subject: invalid UTF-8"},
    {"QmQ", "data.model: invalid UTF-8"},
    {"QdQ", "data.decoding: invalid UTF-8"},
    {"QvQ", "data.QkQ: invalid UTF-8"},
    {"QkQ", "data: invalid UTF-8 in a field name"},
};

/* Three bytes each that are not UTF-8: a stray byte, an overlong form, a
   sequence cut short, an encoded surrogate. */
static const char *const BAD[] = {"a\xff"
                                  "b",
                                  "\xc0\xaf"
                                  "z",
                                  "ab\xc3", "\xed\xa0\x80"};

static struct sch_decoder *decoder(void)
{
        struct sch_options opt = {EVT_NOW_US, 0};
        struct sch_decoder *d = NULL;

        cr_assert_eq(sch_decoder_new(&opt, &d, NULL), TL_OK);
        return d;
}

/* BASE in the encoders' own JSON and CBOR. */
static void encoded(struct tl_buf *json, struct tl_buf *cbor)
{
        struct sch_decoder *d = decoder();
        struct sch_event ev;
        struct tl_error err;

        cr_assert_eq(sch_decode_json(d, BASE, strlen(BASE), &ev, &err), TL_OK,
                     "%s", err.msg);
        tl_buf_init(json, 0);
        tl_buf_init(cbor, 0);
        cr_assert_eq(sch_encode_json(&ev, json, NULL), TL_OK);
        cr_assert_eq(sch_encode_cbor(&ev, cbor, NULL), TL_OK);
        sch_decoder_free(&d);
}

/* A copy of 'b' with 'marker' overwritten by the three bytes 'with'. */
static unsigned char *replaced(const struct tl_buf *b, const char *marker,
                               const char *with)
{
        unsigned char *c = malloc(b->len);
        unsigned char *at;

        cr_assert_not_null(c);
        memcpy(c, b->data, b->len);
        at = memmem(c, b->len, marker, 3);
        cr_assert_not_null(at, "%s", marker);
        memcpy(at, with, 3);
        return c;
}

Test(utf8, the_fast_paths_take_the_ascii_base)
{
        struct tl_buf json, cbor;
        struct sch_decoder *d = decoder();
        struct sch_event ev;
        size_t n;

        encoded(&json, &cbor);
        cr_assert(
            sch__json_fast(d, (const unsigned char *)json.data, json.len, &ev),
            "the cases below would not reach the JSON fast path");
        cr_assert(sch__cbor_fast(d, (const unsigned char *)cbor.data, cbor.len,
                                 &ev, &n));
        cr_assert_eq(n, cbor.len);
        tl_buf_release(&json);
        tl_buf_release(&cbor);
        sch_decoder_free(&d);
}

Test(utf8, invalid_text_in_any_field_is_an_invalid_event_in_both_encodings)
{
        struct tl_buf json, cbor;
        struct sch_decoder *d = decoder();

        encoded(&json, &cbor);
        for (size_t f = 0; f < sizeof FIELDS / sizeof *FIELDS; f++)
                for (size_t k = 0; k < sizeof BAD / sizeof *BAD; k++) {
                        unsigned char *j =
                            replaced(&json, FIELDS[f].marker, BAD[k]);
                        unsigned char *c =
                            replaced(&cbor, FIELDS[f].marker, BAD[k]);
                        struct tl_error err = {TL_OK, ""};
                        struct sch_event ev;
                        size_t n;
                        tl_status rc;

                        /* Not mine, say both fast paths. */
                        cr_assert_not(sch__json_fast(d, j, json.len, &ev),
                                      "%s %zu", FIELDS[f].marker, k);
                        cr_assert_not(sch__cbor_fast(d, c, cbor.len, &ev, &n),
                                      "%s %zu", FIELDS[f].marker, k);
                        rc = sch_decode_json(d, j, json.len, &ev, &err);
                        cr_assert_eq(rc, TL_EINVAL, "JSON %s %zu: %s %s",
                                     FIELDS[f].marker, k, tl_status_name(rc),
                                     err.msg);
                        cr_assert_str_eq(err.msg, FIELDS[f].path, "JSON %zu",
                                         k);
                        rc = evt_decode_cbor_bytes(c, cbor.len, &ev, &err);
                        cr_assert_eq(rc, TL_EINVAL, "CBOR %s %zu: %s %s",
                                     FIELDS[f].marker, k, tl_status_name(rc),
                                     err.msg);
                        cr_assert_str_eq(err.msg, FIELDS[f].path, "CBOR %zu",
                                         k);
                        free(j);
                        free(c);
                }
        tl_buf_release(&json);
        tl_buf_release(&cbor);
        sch_decoder_free(&d);
}

/* Valid UTF-8 that is not ASCII: the fast paths pass, the event is good. */
Test(utf8, non_ascii_text_goes_to_the_general_readers_and_is_accepted)
{
        struct tl_buf json, cbor;
        struct sch_decoder *d = decoder();

        encoded(&json, &cbor);
        for (size_t f = 0; f < sizeof FIELDS / sizeof *FIELDS; f++) {
                unsigned char *j =
                    replaced(&json, FIELDS[f].marker, "\xc3\xa9z");
                unsigned char *c =
                    replaced(&cbor, FIELDS[f].marker, "\xc3\xa9z");
                struct tl_error err = {TL_OK, ""};
                struct sch_event ev;
                size_t n;

                cr_assert_not(sch__json_fast(d, j, json.len, &ev), "%s",
                              FIELDS[f].marker);
                cr_assert_not(sch__cbor_fast(d, c, cbor.len, &ev, &n), "%s",
                              FIELDS[f].marker);
                cr_assert_eq(sch_decode_json(d, j, json.len, &ev, &err), TL_OK,
                             "%s: %s", FIELDS[f].marker, err.msg);
                cr_assert_eq(evt_decode_cbor_bytes(c, cbor.len, &ev, &err),
                             TL_OK, "%s: %s", FIELDS[f].marker, err.msg);
                free(j);
                free(c);
        }
        tl_buf_release(&json);
        tl_buf_release(&cbor);
        sch_decoder_free(&d);
}

/* In JSON a name or text the event does not read is refused too, as in
   CBOR: nothing not UTF-8 is stored. */
Test(utf8, invalid_text_inside_an_unread_container_is_refused)
{
        static const char *const docs[] = {
            "{\"id\":\"i\",\"x\":[\"a\xff\"]}",
            "{\"id\":\"i\",\"x\":{\"k\xff\":1}}",
            "{\"\xff\":\"i\"}",
        };
        static const char *const want[] = {
            "invalid UTF-8 in a text string",
            "invalid UTF-8 in a text string",
            "event: invalid UTF-8 in a field name",
        };

        for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
                struct tl_error err = {TL_OK, ""};

                cr_assert_eq(evt_decode(docs[i], false, NULL, &err), TL_EINVAL,
                             "%zu: %s", i, err.msg);
                cr_assert_str_eq(err.msg, want[i]);
        }
}

/* `tally rate` decodes with the same readers: the event is reported as
   invalid by line and field, and nothing is rated. */
Test(utf8, tally_rate_reports_the_field_and_rates_nothing)
{
        char dir[] = "/tmp/tally-utf8-XXXXXX", file[64], catalog[512],
             customers[512];
        struct tk_proc_result r;
        FILE *f;
        const char *argv[] = {tk_tally_bin(), "rate",    "--rules",  catalog,
                              "--customers",  customers, "--period", "2026-10",
                              "--events",     file,      NULL};

        cr_assert_not_null(mkdtemp(dir));
        snprintf(file, sizeof file, "%s/e.jsonl", dir);
        snprintf(catalog, sizeof catalog, "%s/tests/rating/worked/catalog.yaml",
                 tk_source_dir());
        snprintf(customers, sizeof customers,
                 "%s/tests/rating/worked/customers.yaml", tk_source_dir());
        f = fopen(file, "w");
        cr_assert_not_null(f);
        /* A good event of a real customer, then a bad one. */
        fprintf(f, "%.*scust_0042%s\n", (int)(strstr(BASE, "QuQ") - BASE), BASE,
                strstr(BASE, "QuQ") + 3);
        fprintf(f, "%.*sc\xff\xffz%s\n", (int)(strstr(BASE, "QmQ") - BASE),
                BASE, strstr(BASE, "QmQ") + 3);
        fclose(f);
        cr_assert_eq(tk_run(argv, 20000, &r), 0);
        cr_assert_eq(r.exit_code, 2, "%s", r.err);
        cr_assert(strstr(r.err, "e.jsonl:2: data.model: invalid UTF-8"), "%s",
                  r.err);
        cr_assert(strstr(r.err, "1 invalid events; nothing rated"), "%s",
                  r.err);
        cr_assert_str_eq(r.out, "");
        tk_proc_result_release(&r);
        unlink(file);
        rmdir(dir);
}
