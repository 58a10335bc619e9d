/* The close's pieces shared by the batch (close.c) and the run of
   concurrent jobs (close_run.c). */
#ifndef INV_CLOSE_H
#define INV_CLOSE_H

#include <pthread.h>

#include "internal.h"

/* What the jobs of one run share. Claims are taken one at a time under
   'lock', each after the last customer claimed so far, so no job claims
   what another job of this run already closed (the row locks still keep
   other processes out). Each claim takes a ticket, and finalizing batches
   take their numbers in ticket order: a run numbers in customer order
   whatever its jobs' timing, so a killed run resumed numbers exactly as a
   clean one. */
struct inv__run {
        pthread_mutex_t lock;
        pthread_cond_t turn_cv;
        uint64_t next_ticket, turn;
        char cursor[1024];
        bool failed; /* the others finish their batch and stop */
        tl_status rc;
        struct tl_error err;          /* the first failure */
        uint64_t customers, produced; /* for the progress lines */
};

/* One batch being closed. */
struct inv__batch {
        struct inv__run *run;
        uint64_t ticket;
        unsigned long long first_seq, last_seq; /* numbers this job gave */
        const struct inv_config *cfg;
        const struct inv_close_opts *opts;
        const struct rate_catalog_set *set;
        const struct rate_catalog *cat;
        /* The customers' currency this run closes: "" for those without
           one (priced by 'cat' whatever its currency). */
        const char *currency;
        const char *catalog_id;
        struct inv__custs cs;
        struct inv__usage u;
        struct inv__late late;
        struct rate_invoice **inv; /* per customer; NULL: not produced */
        size_t produced;
        char issued[16];
};

/* Every catalog of 'set' into catalog_versions (once per SHA-256), and
   the id of 'cat' into 'id'. */
tl_status inv__store_catalogs(PGconn *conn, const struct rate_catalog_set *set,
                              const struct rate_catalog *cat, char id[24],
                              struct tl_error *err);

/* Claim, price and store one batch in one transaction, adding to 'st'.
   '*done' when no customer was left to claim. */
tl_status inv__batch_close(PGconn *conn, struct inv__batch *b,
                           struct inv_close_stats *st, bool *done,
                           struct tl_error *err);

/* Invoice number 'seq' of the batch's issuer and period's year. */
void inv__number_format(const struct inv__batch *b, unsigned long long seq,
                        char *out, size_t size);

#endif
