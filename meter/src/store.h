/* The meter's PostgreSQL side: one transaction per batch holding events,
   dedup keys, rollups, dead letters, counts and the consumed offsets. */
#ifndef METER_STORE_H
#define METER_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "batch.h"

struct meter_store;

/*
** Connect (libpq's variables or DATABASE_URL), apply migrations, force
** synchronous_commit on and prepare the statements. 'group' is the consumer
** group whose offsets this store reads and writes. Returns TL_OK or TL_EDB.
*/
tl_status meter__store_open(const char *group, struct meter_store **out,
                            struct tl_error *err);
void meter__store_free(struct meter_store **pp);

/* False once the connection is gone; then free and open again. */
bool meter__store_alive(const struct meter_store *st);

/* Set each part's 'stored' to the next offset held, or -1 for none. */
tl_status meter__store_load_offsets(struct meter_store *st,
                                    struct meter_part *parts, size_t n,
                                    struct tl_error *err);

/*
** Write the batch in one transaction: keys COPY and dedup insert, events,
** rollups, dead letters (conflicting duplicates included), ingest counts
** and offsets. First each of the batch's partitions' offset row is locked
** and compared with its 'stored' in b->parts: when another consumer moved
** it, nothing is written and TL_ECONFLICT is returned. On TL_OK each of
** those b->parts' 'stored' is its new next offset and the batch's fates are
** settled. TL_EDB on a database failure (rolled back). After a failure the
** batch's fates and shares mean nothing: drop the batch.
*/
tl_status meter__store_commit(struct meter_store *st, struct meter_batch *b,
                              struct tl_error *err);

#endif
