/* Decoding usage events from CloudEvents JSON and CBOR, with validation. */
#ifndef SCH_DECODE_H
#define SCH_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schemas/event.h"

struct sch_decoder;

/*
** A decoder owns the scratch memory of one message at a time (an arena
** reset per message, capped so a hostile message costs bounded memory) and
** the receiver options validation needs. Not thread-safe: one per thread.
** 'opt' may be NULL for the defaults. Returns TL_OK or TL_ENOMEM.
*/
tl_status sch_decoder_new(const struct sch_options *opt,
                          struct sch_decoder **out, struct tl_error *err);
void sch_decoder_free(struct sch_decoder **pp);

/* Change the receiver clock used for the skew check (0: the real clock). */
void sch_decoder_set_now(struct sch_decoder *d, tl_time_us now_us);

typedef enum {
        SCH_ENC_JSON,
        SCH_ENC_CBOR,
} sch_encoding;

/*
** The encoding of a message: from its content-type header when given
** (NULL: none), else from its first byte ('{' after optional whitespace is
** JSON, anything else CBOR), as docs/formats.md says.
*/
sch_encoding sch_detect_encoding(const char *content_type, const void *buf,
                                 size_t len);

/*
** Decode and validate the one CloudEvents JSON object in 'len' bytes at
** 'buf' into '*ev' (strings borrowed from 'buf' and the decoder). Returns
** TL_OK; TL_EPARSE when the bytes are not JSON (with the byte offset);
** TL_ELIMIT for size, depth or count caps; TL_EINVAL for an invalid event,
** 'err' naming the field path ("data.output_tokens: expected unsigned
** integer, got text"). '*ev' is complete only on TL_OK.
*/
tl_status sch_decode_json(struct sch_decoder *d, const void *buf, size_t len,
                          struct sch_event *ev, struct tl_error *err);

/*
** A reader over a JSON Lines file held in memory: one event per line;
** blank lines are skipped and a CR before the LF is ignored. 'line' is the
** 1-based line of the event last returned, for "events.jsonl:17: ..."
** messages (the caller adds the file name).
*/
struct sch_jsonl_reader {
        const char *buf;
        size_t len;
        size_t pos;
        size_t line;      /* line of the last event returned */
        size_t next_line; /* line at 'pos' */
};

void sch_jsonl_reader_open(struct sch_jsonl_reader *r, const void *buf,
                           size_t len);

/* True while a non-blank line remains. */
bool sch_jsonl_reader_more(struct sch_jsonl_reader *r);

/*
** Decode the next line into '*ev', with sch_decode_json's statuses; '*raw'
** is the line's bytes whatever the outcome. Reading goes on after an
** invalid line.
*/
tl_status sch_jsonl_reader_next(struct sch_jsonl_reader *r,
                                struct sch_decoder *d, struct sch_event *ev,
                                struct sch_str *raw, struct tl_error *err);

/*
** A CBOR reader over one Kafka message (a map, or an array of up to
** SCH_MAX_BATCH_EVENTS maps) or over a file holding a CBOR sequence of maps.
** Each event is decoded and validated on its own, so one bad element
** dead-letters that element alone.
*/
struct sch_cbor_reader {
        const unsigned char *buf;
        size_t len;
        size_t pos;   /* offset of the next element */
        size_t index; /* elements returned so far */
        size_t count; /* elements in a message; SIZE_MAX for a sequence */
        bool sequence;
        bool broken; /* a malformed element ended the reading */
};

/*
** Start reading a message ('sequence' false) or a sequence file ('sequence'
** true). For a message this reads the array header; an array over the batch
** limit, an empty array, or a message over SCH_MAX_MESSAGE_BYTES fail here
** with TL_ELIMIT or TL_EPARSE and nothing of the message is decoded.
*/
tl_status sch_cbor_reader_open(struct sch_cbor_reader *r, const void *buf,
                               size_t len, bool sequence, struct tl_error *err);

/* True while elements remain to be read. */
bool sch_cbor_reader_more(const struct sch_cbor_reader *r);

/*
** Decode the next element into '*ev'. '*raw' is set to the element's own
** bytes whatever the outcome, for a dead letter. Returns TL_OK, TL_EINVAL
** (invalid event; reading goes on), or TL_EPARSE / TL_ELIMIT for a
** malformed element whose end cannot be found: then reading stops, 'broken'
** is set and '*raw' spans the rest of the buffer, which holds
** sch_cbor_reader_remaining() elements of a message.
*/
tl_status sch_cbor_reader_next(struct sch_cbor_reader *r, struct sch_decoder *d,
                               struct sch_event *ev, struct sch_str *raw,
                               struct tl_error *err);

/* Elements of a message not yet returned (a broken message counts the
   failed one and those after it). 0 for a sequence once it ends. */
size_t sch_cbor_reader_remaining(const struct sch_cbor_reader *r);

/*
** Find where the CBOR item at 'buf' ends without decoding it, and the text
** of its top-level "subject" key when it is a map that has one ('subject'
** is left {NULL, 0} otherwise). For splitting a sequence file among
** threads: about a tenth of a decode. TL_OK with '*item_len' set, or
** TL_EPARSE / TL_ELIMIT when the item is malformed or over a cap; the full
** decoder then gives the precise error. The decoder may still refuse an
** item the skim measured (nested tags, maps over 64 entries).
*/
tl_status sch_cbor_skim(const void *buf, size_t len, size_t *item_len,
                        struct sch_str *subject);

#endif
