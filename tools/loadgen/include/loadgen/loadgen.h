/* `tally loadgen`: the deterministic generator of synthetic event streams
   (loadgen_gen.c), separate from the Kafka producer around it. */
#ifndef LG_LOADGEN_H
#define LG_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/str.h"
#include "core/time.h"
#include "schemas/event.h"

typedef enum {
        LG_JSON,
        LG_CBOR,
        LG_MIXED,
} lg_encoding;

/* The shape of the stream (docs/benchmarks.md). */
typedef enum {
        /* Each customer's events spread uniformly over the time range and
           over every model, decoding and dimension value: a backfill, in
           which nearly every event opens a rollup row of its own. */
        LG_SPREAD,
        /* A live gateway: event times advance through the range in
           stream order; customers of Zipf-skewed size (exponent 1,
           cust_0001 the largest), each sticking to one to three models, one
           or two decodings, one deployment and at most three app values;
           duplicates repeat one of the customer's recent events. */
        LG_PRODUCTION,
} lg_profile;

/* What to generate. Counts are in units: one event, or one bad item. */
struct lg_config {
        uint64_t seed;
        uint64_t events;     /* distinct valid events, >= 1 */
        uint64_t duplicates; /* units resending an earlier event */
        uint64_t bad;        /* units the ingest must dead-letter */
        uint32_t customers;  /* ids cust_0001 ... */
        sch_event_type types[SCH_TYPE_LAST];
        size_t type_count;
        lg_encoding encoding;
        uint32_t batch;        /* events per CBOR message; 1: a bare map */
        bool batch_limit_case; /* also send a CBOR array over the limit */
        tl_time_us time_from;  /* event times, inclusive */
        tl_time_us time_to;
        tl_time_us now_us; /* the clock "far in the future" is taken from */
        lg_profile profile;
};

/* One Kafka message; 'payload' and the strings are the generator's and live
   until the next lg_next. */
struct lg_message {
        const char *key;          /* the subject */
        const char *content_type; /* NULL: no header */
        const struct tl_buf *payload;
        uint32_t units;
};

struct lg_gen;

/*
** Prepare a generator for 'cfg' (copied). Returns TL_OK, TL_ENOMEM, or
** TL_EINVAL when 'cfg' cannot be satisfied (no events, no types, ...).
*/
tl_status lg_new(const struct lg_config *cfg, struct lg_gen **out,
                 struct tl_error *err);
void lg_free(struct lg_gen **pp);

/* True while units remain to be generated. */
bool lg_more(const struct lg_gen *g);

/*
** Generate the next message into '*msg'. Every bad unit is checked against
** the event decoder before it is handed out. Returns TL_OK, TL_ENOMEM, or
** TL_EINTERNAL when a unit meant to be bad decodes as valid (or the
** reverse): a generator bug, never to be sent.
*/
tl_status lg_next(struct lg_gen *g, struct lg_message *msg,
                  struct tl_error *err);

/* Units generated so far, and of them duplicates and bad ones. */
struct lg_counts {
        uint64_t produced;
        uint64_t stored;
        uint64_t duplicates;
        uint64_t dead_lettered;
};
void lg_counts(const struct lg_gen *g, struct lg_counts *out);

/*
** Append the ground truth of everything generated so far to 'out' (the TSV
** of `tally loadgen --help`). Returns TL_OK, TL_ENOMEM or TL_ELIMIT.
*/
tl_status lg_truth(const struct lg_gen *g, struct tl_buf *out,
                   struct tl_error *err);

/*
** Bad units (mutate.c; the demo sends them too): break one field of the
** event encoded in 'unit' (one JSON object, or one CBOR map as
** sch_encode_json / sch_encode_cbor write it), keeping the bytes well
** formed so that only validation rejects them. Those that change its
** length build the result in 'scratch' and swap the two buffers. Each
** returns TL_OK, TL_ENOMEM, or TL_EINTERNAL when the field is not there.
*/
/* Rename envelope attribute 'key' ("id" -> "ix"): the attribute is then
   missing, the renamed one an extension nobody reads. */
tl_status lg_drop_key(struct tl_buf *unit, bool json, const char *key,
                      struct tl_error *err);
/* "inference.tokens" -> "inference.tokenX". */
tl_status lg_unknown_type(struct tl_buf *unit, bool json, struct tl_error *err);
/* The count of 'type' (output_tokens, iterations, mac) as text. */
tl_status lg_count_as_text(struct tl_buf *unit, struct tl_buf *scratch,
                           bool json, sch_event_type type,
                           struct tl_error *err);
/* The count of 'type' made negative. */
tl_status lg_count_negative(struct tl_buf *unit, struct tl_buf *scratch,
                            bool json, sch_event_type type,
                            struct tl_error *err);

#endif
