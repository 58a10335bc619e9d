/* A writer: one database connection and a thread that commits the batch it
   is handed while the consumer thread decodes the next. Several writers
   split the partitions, so several transactions can run at once. */
#ifndef METER_WRITER_H
#define METER_WRITER_H

#include <pthread.h>
#include <stdbool.h>

#include "batch.h"
#include "store.h"

struct meter;

struct meter_writer {
        struct meter *m;
        struct meter_store *st;
        pthread_t thread;
        bool running;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        struct meter_batch *job; /* handed over, result not taken yet */
        bool done, quit;
        tl_status rc;
        struct tl_error err;
};

/* Start the writer's thread (it connects when handed its first batch). */
tl_status meter__writer_start(struct meter_writer *w, struct meter *m,
                              struct tl_error *err);

/* Commit 'b' on the writer's thread; the writer must be idle. */
void meter__writer_hand(struct meter_writer *w, struct meter_batch *b);

/*
** Wait for the batch handed over last and take it back: '*out' gets it
** (NULL when none was pending) with its commit's status in '*rc' and
** 'err'.
*/
void meter__writer_take(struct meter_writer *w, struct meter_batch **out,
                        tl_status *rc, struct tl_error *err);

/* Whether the batch handed over last is committed (or failed) and waits
   to be taken back. */
bool meter__writer_finished(struct meter_writer *w);

/* Stop the thread (after any pending commit) and close the connection. */
void meter__writer_stop(struct meter_writer *w);

#endif
