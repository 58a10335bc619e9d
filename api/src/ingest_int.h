/* Internals of POST /v1/events shared by ingest.c and ingest_parse.c. */
#ifndef API_INGEST_INT_H
#define API_INGEST_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/error.h"
#include "core/str.h"
#include "schemas/decode.h"

typedef enum {
        API__BODY_JSON_ONE,   /* application/cloudevents+json */
        API__BODY_JSON_BATCH, /* application/cloudevents-batch+json */
        API__BODY_CBOR,       /* application/cbor */
} api__body_kind;

/* One valid event: the client's own bytes of it (so a resend produces the
   same bytes) and its subject, the message key. */
struct api__item {
        size_t off, len;    /* in the body */
        size_t subject_off; /* in api__parse.subjects */
        uint32_t subject_len;
};

/* What a body holds: its valid events and the per-event results. */
struct api__parse {
        struct api__item *valid;
        size_t valid_count, valid_alloc;
        struct tl_buf subjects;
        json_t *results; /* [{"index", "status", "error"?}, ...] */
        size_t total;    /* events in the body */
};

/*
** Split 'len' bytes at 'body' of kind 'kind' into events and validate each
** with schemas/'s decoder, as the meter does. TL_OK with '*p' filled (an
** invalid event is a rejected result, not an error); TL_EPARSE for a body
** that is no event container (400), TL_ELIMIT for more than
** API_INGEST_MAX_EVENTS events (413), 'err' saying why; TL_ENOMEM.
** Release '*p' with api__parse_release whatever the outcome.
*/
tl_status api__parse_body(api__body_kind kind, const void *body, size_t len,
                          struct api__parse *p, struct tl_error *err);
void api__parse_release(struct api__parse *p);

/* A JSON string of 'len' bytes at 's', invalid UTF-8 replaced by U+FFFD
   (error messages may quote client bytes or be cut mid-character). NULL
   when out of memory. */
json_t *api__text(const char *s, size_t len);

#endif
