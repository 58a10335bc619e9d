/* Internals shared by the spool, the emitter and upload (not public). */
#ifndef INF_EMIT_INT_H
#define INF_EMIT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <librdkafka/rdkafka.h>

#include "inference/emit.h"
#include "schemas/decode.h"

#define INF__MIB (1024 * 1024)
#define INF__DEFAULT_TIMEOUT_MS 30000

/* Bytes owned elsewhere. */
struct inf__bytes {
        const unsigned char *ptr;
        size_t len;
};

/* ---- spool.c ---- */

/* CRC-32C (Castagnoli, reflected 0x82F63B78) of 'len' bytes at 'p'. */
uint32_t inf__crc32c(const void *p, size_t len);

/*
** A decoder that validates events as the meter stores them, except for the
** receiver's clock skew: that check belongs to the receiver, and a device
** clock set back must not turn a spool into "corruption" (docs/formats.md).
** Returns TL_OK or TL_ENOMEM.
*/
tl_status inf__decoder_new(struct sch_decoder **out, struct tl_error *err);

/*
** Check that 'e' is one CBOR map holding a valid event (decoded into '*ev'
** with 'dec'). Returns TL_OK, or TL_EINVAL, TL_EPARSE, TL_ELIMIT with the
** decoder's reason, unprefixed.
*/
tl_status inf__check_event(struct sch_decoder *dec, struct inf__bytes e,
                           struct sch_event *ev, struct tl_error *err);

/* One whole record found by a scan. */
struct inf__record {
        size_t offset;           /* of the record in the file */
        size_t size;             /* of the whole record */
        struct inf__bytes event; /* the event's CBOR map, inside the buffer */
};

/* Called for each whole record in order, with its event (borrowed for the
   call). A non-zero status stops the scan and is returned as is. */
typedef tl_status (*inf__record_fn)(void *ctx, const struct inf__record *rec,
                                    const struct sch_event *ev,
                                    struct tl_error *err);

struct inf__scan {
        size_t count; /* whole records before 'end' */
        size_t end;   /* byte just past the last of them */
        bool corrupt; /* damage at 'end' with a valid record after it */
};

/*
** Read the spool image 'buf' ('len' bytes, 'path' for messages) record by
** record, calling 'fn' (may be NULL) for each. A torn tail (nothing valid
** after the damage) ends the scan quietly at 'end'. Returns TL_OK, or
** TL_EPARSE for corruption ("PATH: record #N at byte B: why") with '*out'
** filled all the same, or whatever 'fn' returned.
*/
tl_status inf__spool_scan(const char *path, const unsigned char *buf,
                          size_t len, struct sch_decoder *dec,
                          inf__record_fn fn, void *ctx, struct inf__scan *out,
                          struct tl_error *err);

/* ---- upload.c: files ---- */

/* Take flock(LOCK_EX) on 'path'.lock, waiting for it. Returns TL_OK with
   '*fd' the lock's descriptor (close it to unlock), TL_ENOMEM or TL_EIO. */
tl_status inf__spool_lock(const char *path, int *fd, struct tl_error *err);

/* "'path''suffix'" in a tl_malloc'd string; NULL when out of memory. */
char *inf__path_with(const char *path, const char *suffix);

/* Read all of 'fd' ('path' for messages) into a tl_malloc'd '*buf' (NULL
   when empty). Returns TL_OK, TL_ENOMEM or TL_EIO. */
tl_status inf__read_all(int fd, const char *path, unsigned char **buf,
                        size_t *len, struct tl_error *err);

/* Write all 'len' bytes at 'off' of 'fd'. Returns TL_OK or TL_EIO. */
tl_status inf__write_at(int fd, const char *path, const void *buf, size_t len,
                        off_t off, struct tl_error *err);

/* fsync the directory holding 'path', so a create or rename in it is
   durable. Returns TL_OK, TL_ENOMEM or TL_EIO. */
tl_status inf__fsync_dir(const char *path, struct tl_error *err);

/*
** Replace 'path' with 'len' bytes atomically: 'path'.tmp written and
** fsynced, renamed over it, the directory fsynced. Returns TL_OK, TL_ENOMEM
** or TL_EIO (the temporary file removed).
*/
tl_status inf__write_atomic(const char *path, const void *buf, size_t len,
                            struct tl_error *err);

/* ---- spool.c ---- */

/*
** Append 'n' events already encoded as CBOR maps, framed and checked as
** inf_spool_append does, in one write and one fdatasync. On failure the
** file is cut back and nothing counts as appended.
*/
tl_status inf__spool_append_encoded(struct inf_spool *sp,
                                    const struct inf__bytes *evs, size_t n,
                                    struct tl_error *err);

/* ---- emit.c: the producer both senders use ---- */

typedef void (*inf__dr_fn)(rd_kafka_t *rk, const rd_kafka_message_t *m,
                           void *opaque);

/*
** An idempotent producer (enable.idempotence, acks=all, message.timeout.ms
** = 'timeout_ms') for 'o' with 'o->props' on top, reporting to 'dr' with
** 'opaque', and its topic handle. Returns TL_OK, TL_EUSAGE (no brokers, a
** bad property) or TL_EKAFKA.
*/
tl_status inf__producer_new(const struct inf_emit_opts *o, int timeout_ms,
                            inf__dr_fn dr, void *opaque, rd_kafka_t **rk,
                            rd_kafka_topic_t **rkt, struct tl_error *err);

/*
** Wait up to 'timeout_ms' for the reports of everything queued, then purge
** the queues (in flight included) and serve the purge's reports, so that no
** delivery can be reported after this returns for what '*unreported'
** still counts (the report callback decrements it).
*/
void inf__producer_settle(rd_kafka_t *rk, int timeout_ms,
                          const size_t *unreported);

/* The delivery wait of 'o' in milliseconds (its default when 0). */
int inf__timeout_ms(const struct inf_emit_opts *o);

#endif
