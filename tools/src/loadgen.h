/* `tally loadgen`: the deterministic generator of synthetic event streams
   (loadgen_gen.c), separate from the Kafka producer around it. */
#ifndef CLI_LOADGEN_H
#define CLI_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/str.h"
#include "core/time.h"
#include "schemas/event.h"

typedef enum {
        CLI_LG_JSON,
        CLI_LG_CBOR,
        CLI_LG_MIXED,
} cli_lg_encoding;

/* What to generate. Counts are in units: one event, or one bad item. */
struct cli_lg_config {
        uint64_t seed;
        uint64_t events;     /* distinct valid events, >= 1 */
        uint64_t duplicates; /* units resending an earlier event */
        uint64_t bad;        /* units the ingest must dead-letter */
        uint32_t customers;  /* ids cust_0001 ... */
        sch_event_type types[4];
        size_t type_count;
        cli_lg_encoding encoding;
        uint32_t batch;        /* events per CBOR message; 1: a bare map */
        bool batch_limit_case; /* also send a CBOR array over the limit */
        tl_time_us time_from;  /* event times, inclusive */
        tl_time_us time_to;
        tl_time_us now_us; /* the clock "far in the future" is taken from */
};

/* One Kafka message; 'payload' and the strings are the generator's and live
   until the next cli_lg_next. */
struct cli_lg_message {
        const char *key;          /* the subject */
        const char *content_type; /* NULL: no header */
        const struct tl_buf *payload;
        uint32_t units;
};

struct cli_lg;

/*
** Prepare a generator for 'cfg' (copied). Returns TL_OK, TL_ENOMEM, or
** TL_EINVAL when 'cfg' cannot be satisfied (no events, no types, ...).
*/
tl_status cli_lg_new(const struct cli_lg_config *cfg, struct cli_lg **out,
                     struct tl_error *err);
void cli_lg_free(struct cli_lg **pp);

/* True while units remain to be generated. */
bool cli_lg_more(const struct cli_lg *g);

/*
** Generate the next message into '*msg'. Every bad unit is checked against
** the event decoder before it is handed out. Returns TL_OK, TL_ENOMEM, or
** TL_EINTERNAL when a unit meant to be bad decodes as valid (or the
** reverse): a generator bug, never to be sent.
*/
tl_status cli_lg_next(struct cli_lg *g, struct cli_lg_message *msg,
                      struct tl_error *err);

/* Units generated so far, and of them duplicates and bad ones. */
struct cli_lg_counts {
        uint64_t produced;
        uint64_t stored;
        uint64_t duplicates;
        uint64_t dead_lettered;
};
void cli_lg_counts(const struct cli_lg *g, struct cli_lg_counts *out);

/*
** Append the ground truth of everything generated so far to 'out' (the TSV
** of `tally loadgen --help`). Returns TL_OK, TL_ENOMEM or TL_ELIMIT.
*/
tl_status cli_lg_truth(const struct cli_lg *g, struct tl_buf *out,
                       struct tl_error *err);

/*
** Internal to the generator (loadgen_mutate.c): break one field of the
** event encoded in 'unit' (one JSON object, or one CBOR map as
** sch_encode_json / sch_encode_cbor write it), keeping the bytes well
** formed so that only validation rejects them. Those that change its
** length build the result in 'scratch' and swap the two buffers. Each
** returns TL_OK, TL_ENOMEM, or TL_EINTERNAL when the field is not there.
*/
/* Rename envelope attribute 'key' ("id" -> "ix"): the attribute is then
   missing, the renamed one an extension nobody reads. */
tl_status cli__lg_drop_key(struct tl_buf *unit, bool json, const char *key,
                           struct tl_error *err);
/* "inference.tokens" -> "inference.tokenX". */
tl_status cli__lg_unknown_type(struct tl_buf *unit, bool json,
                               struct tl_error *err);
/* The count of 'type' (output_tokens, iterations, mac) as text. */
tl_status cli__lg_count_as_text(struct tl_buf *unit, struct tl_buf *scratch,
                                bool json, sch_event_type type,
                                struct tl_error *err);
/* The count of 'type' made negative. */
tl_status cli__lg_count_negative(struct tl_buf *unit, struct tl_buf *scratch,
                                 bool json, sch_event_type type,
                                 struct tl_error *err);

#endif
