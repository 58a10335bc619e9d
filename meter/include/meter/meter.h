/* The ingest service: a Kafka consumer group member that stores usage
   events in PostgreSQL exactly once (docs/formats.md, docs/architecture.md). */
#ifndef METER_METER_H
#define METER_METER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define METER_MAX_TOPICS 16
#define METER_MAX_PROPS 64

typedef enum {
        METER_RESET_EARLIEST, /* a stored offset out of range: log, resume
                                 at the earliest available */
        METER_RESET_ERROR,    /* ... stop with an error */
} meter_reset;

/* A librdkafka property passed through unchanged (TLS, SASL, timeouts). */
struct meter_prop {
        char *key;
        char *value;
};

struct meter_config {
        char *brokers; /* bootstrap.servers */
        char *group;   /* consumer group, default "tally-meter" */
        char *topics[METER_MAX_TOPICS];
        int topic_count; /* default: usage.events */
        meter_reset offset_reset;
        struct meter_prop props[METER_MAX_PROPS];
        int prop_count;
        long batch_events; /* units per transaction, default 20000 */
        long batch_ms;     /* age bound of a batch, default 500 */
        long writers;      /* database connections writing
                              batches at once, default 2 */
        char *http;        /* "HOST:PORT" for /metrics and /healthz;
                              NULL: none */
        long skew_s;       /* how far ahead event time may be */
        long exit_idle_ms; /* >0: stop once caught up and idle */
};

/* Defaults of every field. */
void meter_config_init(struct meter_config *c);
void meter_config_release(struct meter_config *c);

/*
** Read the YAML config file at 'path' (keys in docs/formats.md) over
** the defaults, then the environment (TALLY_KAFKA_BROKERS,
** TALLY_KAFKA_GROUP, TALLY_KAFKA_TOPICS comma-separated, TALLY_METER_HTTP).
** Values expand ${VAR}; a key "k_file" reads k from a file; the
** `database:` section goes to libpq (tl_conf_database). 'path' NULL: no
** file. Returns TL_OK, or TL_EINVAL / TL_EIO with "file:line:column: key:
** message", which never holds a value.
*/
tl_status meter_config_load(struct meter_config *c, const char *path,
                            struct tl_error *err);

/* Set one key as the config file would ("kafka.group", ...). Returns
   TL_OK, TL_ENOTFOUND for an unknown key, TL_EINVAL for a bad value, or
   TL_ENOMEM. */
tl_status meter_config_set(struct meter_config *c, const char *key,
                           const char *value, struct tl_error *err);

/* What the service did; read any time from any thread. */
struct meter_counts {
        uint64_t consumed, stored, duplicates, dead_lettered;
        uint64_t batches, conflicts, db_errors, kafka_errors;
};

struct meter;

tl_status meter_new(const struct meter_config *c, struct meter **out,
                    struct tl_error *err);

/*
** Consume until '*stop' becomes non-zero (a signal handler sets it), then
** finish the batch, store offsets and leave the group. Survives database
** and broker outages by itself. Returns TL_OK on a clean stop, or the
** error that made it give up (configuration, an out-of-range offset with
** offset_reset "error").
*/
tl_status meter_run(struct meter *m, volatile sig_atomic_t *stop,
                    struct tl_error *err);

/*
** Give meter_run a flag that a SIGHUP handler sets ('hup' borrowed for the
** meter's life; NULL: none). Between polls meter_run clears it and logs
** that there is nothing to reload: the meter loads no catalog (`tally
** serve` does). SIGHUP never stops it.
*/
void meter_watch_hangup(struct meter *m, volatile sig_atomic_t *hup);

void meter_counts_get(const struct meter *m, struct meter_counts *out);
void meter_free(struct meter **pp);

#endif
