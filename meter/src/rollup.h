/* A batch's usage rollups, summed in the meter: one row per customer, UTC
   day, type and billable attributes goes to PostgreSQL instead of one per
   event. */
#ifndef METER_ROLLUP_H
#define METER_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/dec.h"
#include "core/error.h"
#include "core/str.h"

/* input, output and cached input tokens, iterations, tokens, mac, units */
#define METER_SUMS 7
#define METER_NO_GROUP UINT32_MAX

struct meter_group {
        const char *customer, *model, *decoding, *task, *outcome;
        const void *dims; /* jsonb wire form; NULL stands for '{}' */
        uint32_t customer_len, model_len, decoding_len, dims_len;
        uint32_t task_len, outcome_len;
        int32_t day; /* UTC, days since 1970-01-01 */
        int16_t type, deployment;
        unsigned char attrs[16]; /* SHA-256 of model (task), deployment,
                                    decoding (outcome), dimensions: what
                                    prices may tell apart */
        uint64_t count;
        tl_u128 sums[METER_SUMS];
};

struct meter_rollup {
        struct meter_group *groups;
        size_t n, cap;
        uint32_t *slots; /* group index + 1, 0 empty */
        size_t slot_cap;
};

/*
** The group of 'key' (customer, day, type, attrs), created on first sight
** with copies of its strings in 'arena' and zero sums. '*index' gets its
** number.
*/
tl_status meter__rollup_find(struct meter_rollup *r, struct tl_arena *arena,
                             const struct meter_group *key, uint32_t *index,
                             struct tl_error *err);

/* Count one stored event with its counters in group 'g'. */
void meter__rollup_add(struct meter_rollup *r, uint32_t g,
                       const uint64_t n[METER_SUMS]);

/*
** COPY BINARY (header and trailer included) of the groups that counted
** something, for the meter_roll staging table; '*rows' gets how many.
*/
tl_status meter__rollup_copy(const struct meter_rollup *r, struct tl_buf *out,
                             size_t *rows, struct tl_error *err);

/* Forget every group (the arena holding their strings is reset apart). */
void meter__rollup_clear(struct meter_rollup *r);
void meter__rollup_release(struct meter_rollup *r);

#endif
