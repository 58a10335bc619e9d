/* Internal: offline rating's shared state (offline.c runs and decodes,
   offline_read.c reads files and routes their events to buckets). */
#ifndef RATE_OFFLINE_INT_H
#define RATE_OFFLINE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dedup.h"
#include "files.h"
#include "rating/offline.h"
#include "schemas/decode.h"

#define MAX_THREADS 64
#define AHEAD 4 /* lines prefetched ahead of the one decoded */
/* Customers are split into buckets by subject hash, each with its own
   usage and dedup state, and a thread takes the next bucket when it is
   done with one: a thread that drew busier customers or a slower CPU no
   longer leaves the others waiting (two owners of fixed halves differed by
   12 % on the 10M run). Eight buckets a thread at least. */
#define MIN_BUCKETS 64

/* A line of a JSON Lines file routed to an owner thread. */
struct rec {
        uint64_t off;
        uint32_t len;
        uint32_t line; /* within its range */
};

struct recs {
        size_t n, cap;
        struct rec *v;
};

struct report {
        size_t file;
        uint64_t pos;
        bool cbor;
        char msg[TL_ERROR_MSG_MAX];
};

/* One bucket of customers: their usage and the dedup state of their
   events. Read by one thread at a time. */
struct bucket {
        struct rate_acc *acc;
        struct rate__dedup dedup;
};

/* What one thread has: decoders, counts and reports, and the bucket it is
   reading. */
struct owner {
        unsigned index;
        struct rate_offline *o;
        struct sch_decoder *dec, *dec2;
        struct sch_decoder *dec_pair[2]; /* dec and a second, in turns */
        struct rate_acc *acc;            /* the current bucket's */
        struct rate__dedup *dedup;       /* the current bucket's */
        struct rate_offline_stats st;
        size_t rn, rcap;
        struct report *reports;
        /* The earliest event of an unknown customer this thread saw, by
           place (threads take buckets in any order). */
        const char *first_unknown;
        char first_unknown_buf[SCH_MAX_SUBJECT_BYTES + 1];
        size_t unknown_file;
        uint64_t unknown_pos;
        tl_status rc;
        struct tl_error err;
};

struct rate_offline {
        const struct rate_catalog *cat;
        const struct rate_customers *customers;
        /* per customer of the file: its usage per segment when its plan
           changes in the period, else NULL; touched by the thread of its
           bucket only */
        struct rate_segs **segs;
        struct rate_period period;
        struct rate_offline_opts opts;
        unsigned threads;
        unsigned nbuckets;
        struct bucket *buckets;
        unsigned next_bucket; /* the next one a thread takes (atomic) */
        struct rate__file *files;
        size_t file_count;
        struct owner *owners;
        /* Routing of the file being read: ranges x buckets (CBOR has one
           range: its skim reads the file in order). */
        struct recs *routes; /* [range * nbuckets + bucket] */
        unsigned nranges;
        struct recs *route_sets[2]; /* routes is one; CBOR skims the other */
        uint64_t *range_start;
        uint64_t *range_lines; /* lines in each range */
        size_t cur_file;
        /* Set when splitting the input among threads went wrong: a line
           whose subject the quick scan misread, or a CBOR item whose end
           the skim or an owner could not find. The run is then redone by
           one thread, which needs no splitting and reports exactly. */
        volatile int redo_alone;
        /* This is that redo: files are read in order, never split. */
        bool alone;
};

/* The customers file's own hash: one hash per event routes it, finds its
   customer, and seeds its dedup key. */
static inline uint64_t rate__off_subject_hash(const char *s, size_t len)
{
        return rate_customers_hash(s, len);
}

static inline unsigned rate__off_bucket(const struct rate_offline *o,
                                        uint64_t subject_h)
{
        return (unsigned)(subject_h % o->nbuckets);
}

/* One thread's part of a phase, for run_threads. */
struct job {
        struct rate_offline *o;
        unsigned t;
        tl_status rc;
};

/* Point thread 'w' at bucket 'b'. */
void rate__off_use_bucket(struct owner *w, unsigned b);

/* An invalid event at 'pos' (line, or CBOR item) of file 'file'. */
void rate__off_report(struct owner *w, size_t file, uint64_t pos, bool cbor,
                      const char *msg);

/* Rate one decoded event of thread 'w''s current bucket. */
void rate__off_take(struct owner *w, const struct sch_event *ev,
                    uint64_t subject_h, struct sch_str raw, bool cbor,
                    size_t file, uint64_t pos);

/* 'fn' on every thread (the caller's is thread 0), each with its job. */
tl_status rate__off_run_threads(struct rate_offline *o, void *(*fn)(void *),
                                struct tl_error *err);

/* A thread's part of decoding: buckets until none is left. */
void *rate__off_decode_buckets(void *arg);

/* Read file 'fi': JSON Lines, or CBOR with several threads or one. */
tl_status rate__off_read_jsonl(struct rate_offline *o, size_t fi,
                               struct tl_error *err);
tl_status rate__off_route_cbor(struct rate_offline *o, size_t fi,
                               struct tl_error *err);
tl_status rate__off_read_cbor(struct rate_offline *o, size_t fi,
                              struct tl_error *err);
/* Read JSON Lines file 'fi' in one thread, in order (the redo). */
tl_status rate__off_read_jsonl_alone(struct rate_offline *o, size_t fi,
                                     struct tl_error *err);

#endif
