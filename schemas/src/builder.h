/* Internal: the event builder both decoders feed, key by key. All
   validation of events.md lives behind it, so both encodings obey the same
   rules with the same messages. */
#ifndef SCH_BUILDER_H
#define SCH_BUILDER_H

#include "schemas/decode.h"

typedef enum {
        SCH__TEXT,
        SCH__UINT,     /* fits uint64 */
        SCH__BIGUINT,  /* an integer at or past 2^64 (JSON) */
        SCH__NEGINT,
        SCH__FLOAT,    /* a number with a fraction or exponent, or a float */
        SCH__BOOL,
        SCH__NULL,
        SCH__UNDEFINED,
        SCH__BYTES,
        SCH__MAP,
        SCH__ARRAY,
} sch__kind;

#define SCH__NO_TAG UINT64_MAX

struct sch__value {
        sch__kind kind;
        struct sch_str text; /* TEXT; the literal for numbers in JSON */
        uint64_t u;          /* UINT */
        double f;            /* FLOAT (CBOR only; time tag 1) */
        uint64_t tag;        /* CBOR tag on the item, or SCH__NO_TAG */
};

struct sch__field {
        struct sch_str key;
        struct sch__value value;
};

struct sch__builder {
        struct sch_event *ev;
        unsigned seen;      /* bit per envelope attribute */
        bool json;          /* specversion is required in JSON */
        bool data_is_map;
        struct sch__value time;
        unsigned nfields;   /* data fields, buffered: 'type' may come last */
        struct sch__field fields[SCH_MAX_FIELDS];
        tl_status rc;       /* first error, kept */
};

void sch__builder_start(struct sch__builder *b, struct sch_event *ev,
                        bool json);

/*
** An envelope attribute 'key' with 'v'. A 'data' value that is a map is
** announced with kind SCH__MAP and its fields then come through
** sch__builder_data. Returns the builder's first error so far.
*/
tl_status sch__builder_top(struct sch__builder *b, struct sch_str key,
                           const struct sch__value *v, struct tl_error *err);

tl_status sch__builder_data(struct sch__builder *b, struct sch_str key,
                            const struct sch__value *v, struct tl_error *err);

/* Check everything that needs the whole event, fill 'ev'. */
tl_status sch__builder_finish(struct sch__builder *b,
                              const struct sch_options *opt,
                              struct tl_error *err);

/* Name of a value's kind for messages: "text", "map", ... */
const char *sch__kind_name(sch__kind k);

/* Decoder internals shared by the two formats. */
struct sch_decoder {
        struct tl_arena arena;
        struct sch_options opt;
        struct sch__builder b;
};

#endif
