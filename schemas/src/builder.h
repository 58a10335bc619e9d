/* Internal: the event builder both decoders feed, key by key. All
   validation of docs/formats.md lives behind it, so both encodings obey the
   same rules with the same messages. */
#ifndef SCH_BUILDER_H
#define SCH_BUILDER_H

#include <stdbool.h>
#include <stdint.h>

#include "schemas/decode.h"

typedef enum {
        SCH__TEXT,
        SCH__UINT,    /* fits uint64 */
        SCH__BIGUINT, /* an integer at or past 2^64 (JSON) */
        SCH__NEGINT,
        SCH__FLOAT, /* a number with a fraction or exponent, or a float */
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
        bool has_nul;        /* TEXT holds a U+0000 (never stored) */
        bool bad_utf8;       /* TEXT is not UTF-8 (CBOR; JSON stops first) */
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
        unsigned seen; /* bit per envelope attribute */
        bool json;     /* specversion is required in JSON */
        struct sch__value time;
        unsigned ndata;     /* data fields seen, kept or not */
        unsigned data_seen; /* bit per typed field of the event's type */
        unsigned nfields;   /* fields buffered while 'type' is unknown */
        struct sch__field fields[SCH_MAX_FIELDS];
        tl_status rc; /* first error, kept */
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

/* Index of data field 'key' among the typed fields of type 't', -1 for
   a dimension (or ignored) field. */
int sch__data_field_index(sch_event_type t, struct sch_str key);

/* Events before this are refused (docs/formats.md). */
#define SCH__Y2000_US (INT64_C(946684800) * TL_US_PER_SEC)

/* Name of a value's kind for messages: "text", "map", ... */
const char *sch__kind_name(sch__kind k);

/*
** Scan 'len' bytes of text at 'p' once: true when all of it is ASCII
** without NUL, the common case, eight bytes at a time. 'base' is where the
** enclosing buffer starts: a short string is read as the last bytes of one
** 8-byte word reaching back into what precedes it (its own head, at
** least), with those earlier bytes masked off, so no byte loop is needed.
** Otherwise the caller falls back to full UTF-8 validation and a NUL search.
*/
static inline bool sch__plain_ascii(const char *p, size_t len, const char *base)
{
        const uint64_t high = UINT64_C(0x8080808080808080);
        const uint64_t ones = UINT64_C(0x0101010101010101);
        uint64_t acc = 0, w;
        size_t i = 0;

        if (len < 8) {
                if (len == 0)
                        return true;
                if ((size_t)(p - base) < 8 - len) {
                        for (; i < len; i++) {
                                unsigned char c = (unsigned char)p[i];
                                acc |= (c & 0x80u) | (c == 0 ? 0x80u : 0u);
                        }
                        return acc == 0;
                }
                /* Little-endian: the low bytes are the ones before 'p';
                   make them plain spaces. */
                __builtin_memcpy(&w, p + len - 8, 8);
                uint64_t keep = ~UINT64_C(0) << (8 * (8 - len));
                w = (w & keep) | (ones * 0x20 & ~keep);
                return !((w & high) | ((w - ones) & ~w & high));
        }
        for (; i + 8 <= len; i += 8) {
                __builtin_memcpy(&w, p + i, 8);
                /* High bit set, or a zero byte (Mycroft's haszero). */
                acc |= (w & high) | ((w - ones) & ~w & high);
        }
        if (i < len) { /* the last word again, overlapping: no tail loop */
                __builtin_memcpy(&w, p + len - 8, 8);
                acc |= (w & high) | ((w - ones) & ~w & high);
        }
        return acc == 0;
}

/* An outcome is one word, so that a catalog can name it in a filter or a
   weight as it was sent: ASCII letters, digits, '_', '-' and '.'. */
static inline bool sch__is_word(struct sch_str s)
{
        for (uint32_t i = 0; i < s.len; i++) {
                unsigned char c = (unsigned char)s.ptr[i];

                if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') &&
                    !(c >= '0' && c <= '9') && c != '_' && c != '-' && c != '.')
                        return false;
        }
        return true;
}

/* Where a reader is in an event: the envelope, data, or a skipped value. */
typedef enum { SCH__LVL_TOP, SCH__LVL_DATA, SCH__LVL_SKIP } sch__level;

/* A reader's cursor over one message, for the JSON and CBOR readers. */
struct sch__cursor {
        const unsigned char *p;
        const unsigned char *end;
        const unsigned char *base;
        struct sch_decoder *d;
        struct tl_error *err;
        unsigned items; /* values read, against SCH_MAX_ITEMS */
};

/* Decoder internals shared by the two formats. */
struct sch_decoder {
        struct tl_arena arena;
        tl_time_us clock_us; /* the real clock when last read (fast path) */
        int64_t month_key;   /* year * 16 + month of the last fast time */
        int64_t month_days;  /* its first day, in days since 1970 */
        unsigned month_len;  /* its days */
        struct sch_options opt;
        struct sch__builder b;
};

#endif
