/* Helpers for the schemas suites: JSON -> CBOR through jansson and libcbor
   (independent of the code under test), and decoding either encoding. */
#ifndef EVTEST_H
#define EVTEST_H

#include <stdbool.h>
#include <stddef.h>

#include "schemas/decode.h"

/* The receiver clock of every test: 2026-11-21T00:00:00Z. */
#define EVT_NOW_US (INT64_C(1795219200) * 1000000)

/*
** Convert 'json' to CBOR in 'out' (jansson parses, libcbor encodes). Strings
** whose key is "time" are tagged with 'time_tag' (-1: untagged).
** Returns false when jansson cannot read 'json'.
*/
bool evt_json_to_cbor(const char *json, int time_tag, struct tl_buf *out);

/* Decode 'json' (as JSON, or converted to CBOR when 'cbor') with a fresh
   decoder at EVT_NOW_US. 'ev' may be NULL. */
tl_status evt_decode(const char *json, bool cbor, struct sch_event *ev,
                     struct tl_error *err);

/* Decode 'len' CBOR bytes as one message holding one event. */
tl_status evt_decode_cbor_bytes(const void *buf, size_t len,
                                struct sch_event *ev, struct tl_error *err);

#endif
