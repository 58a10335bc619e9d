/* The usage event: one in-memory form for both wire encodings, its
   validation, encoders and canonical content hash (spec: docs/formats.md). */
#ifndef SCH_EVENT_H
#define SCH_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/str.h"
#include "core/time.h"

/* Limits of docs/formats.md, and hard limits against hostile input. */
#define SCH_MAX_MESSAGE_BYTES (1024 * 1024) /* one Kafka message or record */
#define SCH_MAX_BATCH_EVENTS 10000          /* events in one CBOR array */
#define SCH_MAX_ID_BYTES 128
#define SCH_MAX_SOURCE_BYTES 256
#define SCH_MAX_SUBJECT_BYTES 128
#define SCH_MAX_NAME_BYTES 128 /* model, decoding, device_id, model_class */
#define SCH_MAX_TASK_BYTES 64  /* task.outcome: task */
#define SCH_MAX_WORD_BYTES 64  /* task.outcome: outcome */
#define SCH_MAX_DIMS 32
#define SCH_MAX_DIM_KEY_BYTES 64
#define SCH_MAX_DIM_VALUE_BYTES 256
#define SCH_MAX_DEPTH 16        /* nesting of maps and arrays in an event */
#define SCH_MAX_FIELDS 64       /* entries of the envelope or of data */
#define SCH_MAX_ITEMS 4096      /* data items in one event, nested included */
#define SCH_MAX_COUNT INT64_MAX /* counts are unsigned integers below 2^63 */
#define SCH_DEFAULT_SKEW_US (3600 * TL_US_PER_SEC)

typedef enum {
        SCH_TYPE_NONE = 0,
        SCH_TYPE_TOKENS,     /* inference.tokens */
        SCH_TYPE_ITERATIONS, /* inference.iterations */
        SCH_TYPE_MATRIX_OPS, /* inference.matrix_ops */
        SCH_TYPE_SEAT,       /* device.seat */
        SCH_TYPE_OUTCOME,    /* task.outcome */
} sch_event_type;

/* The highest type number: arrays indexed by type have this + 1 entries. */
#define SCH_TYPE_LAST SCH_TYPE_OUTCOME

typedef enum {
        SCH_DEPLOY_NONE = 0,
        SCH_DEPLOY_CLOUD,
        SCH_DEPLOY_DEVICE,
} sch_deployment;

typedef enum {
        SCH_SEAT_NONE = 0,
        SCH_SEAT_ACTIVATE,
        SCH_SEAT_DEACTIVATE,
        SCH_SEAT_HEARTBEAT,
} sch_seat_action;

/* A byte slice; not NUL-terminated. */
struct sch_str {
        const char *ptr;
        uint32_t len;
};

/* A data field kept for meter filters and group_by. */
struct sch_dim {
        struct sch_str key;
        struct sch_str value;
};

/*
** One valid event. Strings are borrowed: they point into the decoded
** message or into the decoder's arena, and live until the decoder decodes
** the next message or is released. Fields a type does not use are zero.
*/
struct sch_event {
        struct sch_str id;
        struct sch_str source;
        struct sch_str subject;
        sch_event_type type;
        tl_time_us time_us;

        /* inference.tokens, .iterations, .matrix_ops */
        struct sch_str model;
        sch_deployment deployment; /* also task.outcome */
        struct sch_str decoding;   /* not for matrix_ops */

        uint64_t input_tokens;        /* tokens */
        uint64_t output_tokens;       /* tokens */
        uint64_t cached_input_tokens; /* tokens; 0 when absent */
        uint64_t iterations;          /* iterations, >= 1 */
        uint64_t tokens;              /* iterations */
        uint64_t mac;                 /* matrix_ops */

        /* device.seat */
        struct sch_str device_id;
        sch_seat_action action;
        struct sch_str model_class;

        /* task.outcome */
        struct sch_str task;
        struct sch_str outcome; /* a word: letters, digits, '_', '-', '.' */
        uint64_t units;         /* 1 when absent */

        /* Other data fields with string values, sorted by key. */
        uint32_t dim_count;
        struct sch_dim dims[SCH_MAX_DIMS];
};

/* Names as on the wire: "inference.tokens", "cloud", "activate", ... */
const char *sch_event_type_name(sch_event_type t);
const char *sch_deployment_name(sch_deployment d);
const char *sch_seat_action_name(sch_seat_action a);
sch_event_type sch_event_type_parse(const char *s, size_t len);

/* Options of the receiver that validation depends on. */
struct sch_options {
        tl_time_us now_us; /* the receiver's clock; 0: read the clock */
        int64_t skew_us;   /* how far ahead 'time' may be; 0: the default */
};

/*
** Look up data field 'key' of 'ev' as text: the typed fields by their wire
** names (model, deployment, decoding, device_id, action, model_class,
** task, outcome) and the dimensions. Returns false when the event has no
** such text field.
*/
bool sch_event_text_field(const struct sch_event *ev, const char *key,
                          struct sch_str *out);

/* Field-by-field equality, strings by content; for tests and dedup checks. */
bool sch_event_equal(const struct sch_event *a, const struct sch_event *b);

/*
** The canonical content hash: SHA-256 over a fixed binary form of every
** field that can affect billing (envelope, typed data, dimensions in key
** order; time at microsecond precision). The same event gives the same hash
** whichever encoding carried it and whatever its key order.
*/
#define SCH_HASH_BYTES 32
void sch_event_hash(const struct sch_event *ev,
                    unsigned char out[SCH_HASH_BYTES]);

/* SHA-256 of 'len' bytes at 'data', for hashes taken per event (the
   content hash, the meter's dedup key and rollup attributes). Safe from
   any thread. */
void sch_sha256(const void *data, size_t len,
                unsigned char out[SCH_HASH_BYTES]);

/*
** Append 'ev' as one CloudEvents JSON object (no newline) to 'out'.
** Returns TL_OK, TL_ENOMEM or TL_ELIMIT (the buffer's cap).
*/
tl_status sch_encode_json(const struct sch_event *ev, struct tl_buf *out,
                          struct tl_error *err);

/*
** Append 'ev' as one CBOR map to 'out' (time as tag 1 integer seconds when
** whole, else tag 0 text). For a batch, call sch_encode_cbor_array_start
** with the count first. Returns TL_OK, TL_ENOMEM or TL_ELIMIT.
*/
tl_status sch_encode_cbor(const struct sch_event *ev, struct tl_buf *out,
                          struct tl_error *err);
tl_status sch_encode_cbor_array_start(size_t count, struct tl_buf *out,
                                      struct tl_error *err);

#endif
