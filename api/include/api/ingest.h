/* POST /v1/events: events over HTTP, validated as the meter validates them
   (the same schemas/ decoder), produced to Kafka by the idempotent producer
   and acknowledged only after the delivery reports (docs/api.md). */
#ifndef API_INGEST_H
#define API_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/error.h"

#define API_INGEST_MAX_PROPS 64
#define API_INGEST_MAX_BODY (4u * 1024 * 1024)
#define API_INGEST_MAX_EVENTS 10000

struct api_ingest_config {
        const char *brokers; /* bootstrap servers */
        const char *topic;   /* the meter's topic */
        /* librdkafka properties "key=value" (SASL, TLS), borrowed */
        const char *const *props;
        size_t prop_count;
        uint32_t delivery_timeout_ms; /* 0: 30,000 */
};

/* One producer shared by every request thread (librdkafka is thread-safe). */
struct api_ingest;

/*
** Start the producer (enable.idempotence=true, acks=all). TL_OK and
** '*out'; TL_EINVAL for a bad property (named, value never quoted);
** TL_EKAFKA.
*/
tl_status api_ingest_new(const struct api_ingest_config *cfg,
                         struct api_ingest **out, struct tl_error *err);

/* Flush (bounded by the delivery timeout), then free '*pp'; sets it NULL. */
void api_ingest_free(struct api_ingest **pp);

/*
** Take one request body of 'len' bytes with Content-Type 'content_type':
** "application/cloudevents+json" (one event), "application/cloudevents-
** batch+json" (a JSON array of events), "application/cbor" (one item or an
** array of items). Every event is validated; the valid ones are produced
** (keyed by subject, as every producer of tally does) and this returns once
** each has its delivery report. '*result' (json_decref it) is
**   {"accepted": N, "rejected": M,
**    "results": [{"index": i, "status": "accepted"} |
**                {"index": i, "status": "rejected",
**                 "error": {"code": "invalid_event", "message": "...",
**                           "field": "data.input_tokens"}}, ...]}
** and '*http_status' the answer: 202 when nothing failed to be delivered
** (rejected events included: they are answered per event), 400 for a body
** that is no event container at all (with '*result' the error document),
** 413 past API_INGEST_MAX_BODY or API_INGEST_MAX_EVENTS, 415 for another
** content type, 503 when Kafka did not confirm every valid event (the
** client retries the whole batch: events dedup by their key). Duplicates
** are the meter's to count: a resent event is accepted here and counted
** once when stored. Returns TL_OK whenever '*result' is set; TL_ENOMEM.
*/
tl_status api_ingest_post(struct api_ingest *in, const char *content_type,
                          const void *body, size_t len, json_t **result,
                          unsigned *http_status, struct tl_error *err);

#endif
