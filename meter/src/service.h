/* Inside the meter: the state the consumer loop and the HTTP thread share. */
#ifndef METER_SERVICE_H
#define METER_SERVICE_H

#include <pthread.h>
#include <stdatomic.h>

#include "batch.h"
#include "meter/meter.h"
#include "store.h"
#include "writer.h"

/* Upper bounds of the batch-latency histogram, in milliseconds. */
#define METER_LAT_BUCKETS 11
extern const int meter__lat_bounds_ms[METER_LAT_BUCKETS];

struct meter_http;

/* A writer and its two batches: one filling, one being committed. */
struct meter_lane {
        struct meter_writer w;
        struct meter_batch b[2];
        int fill; /* index of the batch being filled */
};

struct meter {
        const struct meter_config *cfg;
        rd_kafka_t *rk;
        struct meter_store *st; /* the consumer thread's: offsets on resync */
        struct meter_lane *lanes;
        int nlanes;
        bool need_resync; /* a batch failed: drop the rest, read again */

        /* Assigned partitions; the HTTP thread reads them under 'lock'. */
        pthread_mutex_t lock;
        struct meter_part *parts;
        size_t nparts, part_cap;
        uint32_t last_part; /* lookup hint: messages come in runs */

        _Atomic uint64_t consumed, stored, duplicates, dead_lettered;
        _Atomic uint64_t batches, conflicts, db_errors, kafka_errors;
        _Atomic uint64_t gaps, lat_count, lat_sum_us;
        _Atomic uint64_t lat_buckets[METER_LAT_BUCKETS];
        _Atomic int db_up, kafka_up;

        volatile sig_atomic_t *stop;
        volatile sig_atomic_t *hup; /* set by SIGHUP; NULL: not watched */
        bool in_revoke;
        bool fatal;
        struct tl_error fatal_err;
        int64_t last_msg_us;
        int64_t last_assign_us; /* a rebalance may still move partitions */
        int64_t last_lag_us;
        struct meter_http *http;
};

/* Connect '*st', retrying with backoff until it works or the meter stops;
   false when stopped first. */
bool meter__ensure_store(struct meter *m, struct meter_store **st);

/* Prometheus text of the counters and per-partition lag. */
tl_status meter__metrics_text(struct meter *m, struct tl_buf *out,
                              struct tl_error *err);

/* The HTTP server (libmicrohttpd) on "HOST:PORT". */
tl_status meter__http_start(struct meter *m, const char *addr,
                            struct meter_http **out, struct tl_error *err);
void meter__http_stop(struct meter_http **pp);

#endif
