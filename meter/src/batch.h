/* One ingest batch: Kafka messages decoded into staged rows and dead
   letters, waiting to be written in one PostgreSQL transaction. */
#ifndef METER_BATCH_H
#define METER_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/str.h"
#include "schemas/decode.h"
#include "schemas/event.h"

#include "rollup.h"

/*
** An assigned partition. 'stored' is the next offset the database holds for
** it as far as this process knows (-1: no row yet); a commit checks it
** under a row lock, which fences off a stale owner after a rebalance. Each
** batch works on its own copy of the assigned partitions (meter__batch_bind)
** and keeps its share in it, so two batches can be in flight at once.
*/
struct meter_part {
        char topic[256];
        int32_t partition;
        int64_t stored;
        int64_t pos;  /* next offset expected from Kafka */
        int64_t high; /* high watermark seen, for lag */
        bool eof;
        /* the in-flight batch's share */
        int64_t last; /* last offset in the batch, -1: none */
        uint64_t consumed, stored_n, dups, dead;
};

/* The dedup key: SHA-256(subject NUL source NUL id), first 16 bytes, as
   tally_event_key() in schemas/sql/0003 computes it. */
#define METER_KEY_BYTES 16

enum meter_fate { ROW_NEW, ROW_STORED, ROW_DUP, ROW_CONFLICT };

/* A valid event of the batch. */
struct meter_row {
        uint32_t part;
        int32_t batch_index;
        int64_t offset;
        const unsigned char *raw; /* the event's own bytes, for a dead letter */
        uint32_t raw_len;
        int32_t dup_of; /* earlier row of the batch with this key, or -1 */
        uint8_t fate;
        unsigned char hash[SCH_HASH_BYTES];
        /* the stored content's hash when the key was stored before */
        unsigned char db_hash[SCH_HASH_BYTES];
        const char *subject, *source, *id; /* arena copies */
        uint32_t subject_len, source_len, id_len;
        size_t ev_off; /* its tuple in the batch's 'evtup' */
        uint32_t ev_len;
        uint32_t group;         /* rollup group, METER_NO_GROUP for seats */
        uint64_t n[METER_SUMS]; /* what it adds to the group if stored */
};

/* Something that cannot be stored, with why. */
struct meter_dead {
        uint32_t part;
        int32_t batch_index;
        int32_t batch_count;
        int64_t offset;
        const unsigned char *raw;
        size_t raw_len;
        const char *reason; /* arena, valid UTF-8 */
};

struct meter_batch {
        rd_kafka_message_t *
            *msgs; /* held until the batch ends: rows point in */
        size_t nmsg, msg_cap;
        struct meter_row *rows;
        size_t nrows, row_cap;
        struct meter_dead *dead;
        size_t ndead, dead_cap;
        uint64_t units;      /* events and batch elements consumed */
        size_t staged;       /* rows with a key in 'keys' */
        struct tl_buf keys;  /* COPY BINARY of meter_keys, no trailer */
        struct tl_buf evtup; /* events COPY tuples of the staged rows */
        struct tl_buf dims;  /* the current event's dimensions as jsonb */
        struct tl_buf scratch;
        struct meter_rollup roll;
        uint32_t *slots; /* in-batch dedup: row index + 1, 0 empty */
        size_t slot_cap;
        int32_t months[512]; /* months touched, as year * 12 + month - 1 */
        int nmonths;
        bool months_overflow;
        struct tl_arena arena;
        struct sch_decoder *dec;
        int64_t started_us; /* monotonic, first message */
        /* the partitions as of meter__batch_bind, with this batch's share */
        struct meter_part *parts;
        size_t nparts, parts_cap;
};

tl_status meter__batch_init(struct meter_batch *b, int64_t skew_us,
                            struct tl_error *err);
void meter__batch_release(struct meter_batch *b);

/* Forget every row and dead letter; destroys the held messages. */
void meter__batch_clear(struct meter_batch *b);

/*
** Copy the identity and stored offset of the meter's 'n' partitions into
** the (empty) batch, with shares at zero. Partition indexes are the same.
*/
tl_status meter__batch_bind(struct meter_batch *b,
                            const struct meter_part *parts, size_t n,
                            struct tl_error *err);

/*
** Decode 'msg' of the batch's partition 'pi' into rows and dead letters.
** The batch takes ownership of 'msg'. Returns TL_OK, or TL_ENOMEM (the
** message is then still owned by the batch and the batch must be dropped).
*/
tl_status meter__batch_add(struct meter_batch *b, rd_kafka_message_t *msg,
                           uint32_t pi, struct tl_error *err);

/*
** After the database said which staged rows were new: resolve in-batch
** duplicates from their first row, turn conflicts into dead letters, and
** add each fate to its partition's counters.
*/
tl_status meter__batch_settle(struct meter_batch *b, struct tl_error *err);

/* Append a dead letter with a printf reason (made valid UTF-8). */
tl_status meter__batch_dead(struct meter_batch *b, uint32_t pi, int64_t offset,
                            int32_t index, int32_t count, const void *raw,
                            size_t raw_len, struct tl_error *err,
                            const char *fmt, ...)
    __attribute__((format(printf, 9, 10)));

/*
** The events COPY BINARY (header to trailer) of the rows settled as
** stored, and their sums added to the rollup groups; '*rows' gets how
** many. Call once, after meter__batch_settle().
*/
tl_status meter__batch_stored_copy(struct meter_batch *b, struct tl_buf *out,
                                   size_t *rows, struct tl_error *err);

/* Tuples of the dead-letter COPY for the batch's dead letters. */
tl_status meter__batch_dead_copy(const struct meter_batch *b,
                                 const struct meter_part *parts,
                                 const char *group, struct tl_buf *out,
                                 struct tl_error *err);

#endif
