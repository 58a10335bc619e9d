/* Where the engine's metered events go: Kafka through an idempotent
   producer, or a crash-safe CBOR spool on a device that uploads later. */
#ifndef INF_EMIT_H
#define INF_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/time.h"
#include "schemas/event.h"

#define INF_DEFAULT_TOPIC "usage.events"

/* ---- the spool ---- */

/*
** An append-only file of events, one framed CBOR record per event (format in
** docs/formats.md). Opening it takes an exclusive lock (flock on PATH.lock)
** held until inf_spool_free, scans it, and cuts a torn last record (a
** crash mid-append) so new records follow the last whole one. Damage
** anywhere but the tail is an error naming the record and byte offset.
** Opening creates 'path' when missing (and waits for the lock). A child
** forked while the spool is open inherits the lock: fork before opening.
** Returns TL_OK; TL_EUSAGE (no path); TL_EPARSE for corruption ("PATH:
** record #N at byte B: why"); TL_EIO (naming the file) or TL_ENOMEM.
** '*out' is written only on success.
*/
struct inf_spool;

tl_status inf_spool_open(const char *path, struct inf_spool **out,
                         struct tl_error *err);
/* Close the spool '*pp' and release its lock; sets *pp to NULL. Accepts
   NULL and *pp NULL. */
void inf_spool_free(struct inf_spool **pp);

/*
** Append 'n' events (borrowed) and make them durable (fdatasync) before
** returning: one write, all or nothing. Every event must be valid as the
** meter would store it (time skew aside): TL_EINVAL ("PATH: event #i of
** the append: why") writes nothing. TL_EIO or TL_ENOMEM: nothing appended.
*/
tl_status inf_spool_append(struct inf_spool *sp, const struct sch_event *evs,
                           size_t n, struct tl_error *err);

/* Whole records in the spool now. */
size_t inf_spool_count(const struct inf_spool *sp);

/*
** Call 'fn' with each whole record's event in file order (borrowed for the
** call): to inspect a spool, or to keep a copy of what a device is about
** to upload. A non-zero status from 'fn' stops the walk and is returned.
** Otherwise TL_OK, TL_EIO, TL_ENOMEM or TL_EPARSE (damaged since opened).
*/
typedef tl_status (*inf_spool_fn)(void *ctx, const struct sch_event *ev,
                                  struct tl_error *err);
tl_status inf_spool_each(struct inf_spool *sp, inf_spool_fn fn, void *ctx,
                         struct tl_error *err);

/*
** Device seats (docs/pricing-rules.md): before a device's first spooled usage
** an `activate`, then at most one `heartbeat` per UTC day of use. The state
** (activated or not, last heartbeat day) lives beside the spool in
** PATH.device, so it survives uploads that empty the spool. Appends the
** seat events due at 'now_us' for 'device_id' of 'subject' (ids derived
** from device and day, so a replay deduplicates); 'deactivate' appends a
** `deactivate` and forgets the activation. '*appended' counts them.
** The activation day needs no heartbeat. The event is appended before the
** state is written: a crash between repeats it rather than losing it.
** 'dev' is borrowed; its device_id must fit the 128-byte event ids and
** hold no line break. Returns TL_OK; TL_EUSAGE (a field missing),
** TL_EINVAL, TL_EPARSE (PATH.device damaged: "PATH.device:LINE: why"),
** TL_EIO, TL_ENOMEM, or inf_spool_append's statuses. '*appended' is
** written only on success.
*/
struct inf_device {
        const char *subject; /* the customer */
        const char *source;  /* e.g. "device/<device_id>" */
        const char *device_id;
        const char *model_class; /* licence tier: small, medium, large */
};
tl_status inf_spool_seat(struct inf_spool *sp, const struct inf_device *dev,
                         tl_time_us now_us, bool deactivate, size_t *appended,
                         struct tl_error *err);

/* ---- Kafka ---- */

struct inf_emit_opts {
        const char *brokers;      /* NULL: $TALLY_KAFKA_BROKERS */
        const char *topic;        /* NULL: INF_DEFAULT_TOPIC */
        const char *spool;        /* undeliverable events go here (required
                                     by the emitter; upload ignores it) */
        const char *const *props; /* "key=value" librdkafka props, or NULL;
                                     applied over ours */
        size_t prop_count;
        int timeout_ms; /* delivery wait per flush or upload, also
                           message.timeout.ms unless props set it;
                           0: 30000 */
};

/* What a flush or an upload did. */
struct inf_emit_report {
        size_t delivered; /* events confirmed by delivery reports */
        size_t spooled;   /* events not confirmed, appended to the spool */
        size_t messages;  /* Kafka messages confirmed */
};

/*
** An idempotent producer (enable.idempotence, acks=all), one message per
** event as a CBOR map, key = subject. inf_emitter_send queues copies of the
** events; inf_emitter_flush waits for every delivery report and appends
** each event not confirmed to the spool: never dropped. For the demo and
** services the emitter lives across many requests. One thread at a time.
** inf_emitter_new: 'o' is borrowed for the call; TL_EUSAGE (no spool,
** no brokers, a bad property), TL_EKAFKA, TL_ENOMEM.
*/
struct inf_emitter;

tl_status inf_emitter_new(const struct inf_emit_opts *o,
                          struct inf_emitter **out, struct tl_error *err);
/*
** Queue the 'n' events (copied now: the caller may reuse them). All are
** checked first: TL_EINVAL ("event #i (id X): why") queues none. An event
** librdkafka refuses (queue still full after 100 ms, ...) waits for the
** spool at the next flush. TL_ENOMEM may leave the batch half queued.
*/
tl_status inf_emitter_send(struct inf_emitter *em, const struct sch_event *evs,
                           size_t n, struct tl_error *err);
/*
** Wait up to the timeout for the reports, purge what is still queued or in
** flight (no late delivery can follow), and append every event not
** confirmed to the spool. TL_OK when each event since the last report was
** delivered or spooled ('*rep', may be NULL, says which). When the spool
** fails too, its status (TL_EIO, TL_EPARSE, ...) with "N events neither
** delivered nor spooled": they stay in memory for the next flush.
*/
tl_status inf_emitter_flush(struct inf_emitter *em, struct inf_emit_report *rep,
                            struct tl_error *err);
/* Flushes first; events it cannot spool are logged at error level with
   their count ("events lost"). Sets *pp to NULL; accepts NULL. */
void inf_emitter_free(struct inf_emitter **pp);

/*
** `tally upload`: send the spool's records as CBOR arrays (at most 'batch'
** events and 1 MiB per message, one subject per message, key = subject),
** wait for the delivery reports, then atomically rewrite the spool keeping
** only the records not confirmed (fsync + rename under the lock). Running
** it again after a failure sends only what is left. TL_EKAFKA when some
** records stay (counted in rep->spooled).
** The lock is held only to read the spool and to replace it: appends made
** meanwhile are kept. 'batch' 0 means 1000 (at most SCH_MAX_BATCH_EVENTS).
** '*rep' (may be NULL) is written whatever the outcome; spooled counts the
** events read and not confirmed. Other statuses: TL_EUSAGE, TL_ENOTFOUND
** (no spool), TL_EPARSE (corrupt spool: the records before the damage are
** sent and removed, the rest kept byte for byte), TL_ECONFLICT (the spool
** was replaced meanwhile, by another upload: left as it is), TL_EIO,
** TL_ENOMEM.
*/
tl_status inf_upload(const char *spool_path, const struct inf_emit_opts *o,
                     size_t batch, struct inf_emit_report *rep,
                     struct tl_error *err);

#endif
