/* Summing a batch's usage per rollup key in the meter. PostgreSQL then
   upserts about one row per customer and day instead of grouping every
   event of the batch itself, which had been a sixth of the transaction. */
#include "rollup.h"

#include <string.h>

#include "copy.h"
#include "core/alloc.h"
#include "core/hash.h"

#define ROLL_FIELDS 18

static uint64_t group_hash(const struct meter_group *k)
{
        uint64_t a;

        memcpy(&a, k->attrs, sizeof a);
        return tl_hash64(k->customer, k->customer_len,
                         a ^ ((uint64_t)(uint32_t)k->day << 16) ^
                             (uint64_t)(uint16_t)k->type);
}

static bool same_group(const struct meter_group *a, const struct meter_group *b)
{
        return a->day == b->day && a->type == b->type &&
               a->customer_len == b->customer_len &&
               !memcmp(a->attrs, b->attrs, sizeof a->attrs) &&
               !memcmp(a->customer, b->customer, a->customer_len);
}

/* Keep the slots at most half full. */
static tl_status reserve(struct meter_rollup *r, struct tl_error *err)
{
        size_t cap;

        if (r->n == r->cap) {
                size_t ncap = r->cap ? r->cap * 2 : 256;
                struct meter_group *g = tl_realloc(r->groups, ncap * sizeof *g);
                if (!g)
                        return tl_fail(err, TL_ENOMEM,
                                       "meter rollups: out of memory");
                r->groups = g;
                r->cap = ncap;
        }
        if ((r->n + 1) * 2 <= r->slot_cap)
                return TL_OK;
        cap = r->slot_cap ? r->slot_cap * 2 : 1024;
        tl_free(r->slots);
        r->slots = tl_calloc(cap, sizeof *r->slots);
        if (!r->slots) {
                r->slot_cap = 0;
                return tl_fail(err, TL_ENOMEM, "meter rollups: out of memory");
        }
        r->slot_cap = cap;
        for (size_t i = 0; i < r->n; i++) {
                size_t s = group_hash(&r->groups[i]) & (cap - 1);
                while (r->slots[s])
                        s = (s + 1) & (cap - 1);
                r->slots[s] = (uint32_t)i + 1;
        }
        return TL_OK;
}

static tl_status dup(struct tl_arena *a, const void *p, uint32_t len,
                     const char **out, struct tl_error *err)
{
        char *s = NULL;
        tl_status rc = tl_arena_strndup(a, p ? p : "", len, &s, err);

        *out = s;
        return rc;
}

tl_status meter__rollup_find(struct meter_rollup *r, struct tl_arena *arena,
                             const struct meter_group *key, uint32_t *index,
                             struct tl_error *err)
{
        struct meter_group *g;
        const char *dims = NULL;
        size_t s;
        tl_status rc = reserve(r, err);

        if (rc)
                return rc;
        s = group_hash(key) & (r->slot_cap - 1);
        for (; r->slots[s]; s = (s + 1) & (r->slot_cap - 1))
                if (same_group(&r->groups[r->slots[s] - 1], key)) {
                        *index = r->slots[s] - 1;
                        return TL_OK;
                }
        g = &r->groups[r->n];
        *g = *key;
        g->count = 0;
        memset(g->sums, 0, sizeof g->sums);
        rc = dup(arena, key->customer, key->customer_len, &g->customer, err);
        if (!rc)
                rc = dup(arena, key->model, key->model_len, &g->model, err);
        if (!rc)
                rc = dup(arena, key->decoding, key->decoding_len, &g->decoding,
                         err);
        if (!rc)
                rc = dup(arena, key->task, key->task_len, &g->task, err);
        if (!rc)
                rc = dup(arena, key->outcome, key->outcome_len, &g->outcome,
                         err);
        if (!rc && key->dims)
                rc = dup(arena, key->dims, key->dims_len, &dims, err);
        if (rc)
                return rc;
        g->dims = dims;
        r->slots[s] = (uint32_t)r->n + 1;
        *index = (uint32_t)r->n++;
        return TL_OK;
}

void meter__rollup_add(struct meter_rollup *r, uint32_t g,
                       const uint64_t n[METER_SUMS])
{
        struct meter_group *grp = &r->groups[g];

        grp->count++;
        for (int i = 0; i < METER_SUMS; i++)
                grp->sums[i] += n[i];
}

tl_status meter__rollup_copy(const struct meter_rollup *r, struct tl_buf *out,
                             size_t *rows, struct tl_error *err)
{
        static const unsigned char empty_dims[] = "\1{}";
        tl_status rc = meter_copy_header(out, err);

        *rows = 0;
        for (size_t i = 0; !rc && i < r->n; i++) {
                const struct meter_group *g = &r->groups[i];
                if (!g->count)
                        continue;
                rc = meter_copy_be(out, ROLL_FIELDS, 2, err);
                if (!rc)
                        rc = meter_copy_field(out, g->customer, g->customer_len,
                                              err);
                if (!rc)
                        rc = meter_copy_int(out, g->day - METER_PG_EPOCH_DAYS,
                                            4, err);
                if (!rc)
                        rc = meter_copy_int(out, g->type, 2, err);
                if (!rc)
                        rc = meter_copy_field(out, g->attrs, sizeof g->attrs,
                                              err);
                if (!rc)
                        rc = meter_copy_field(out, g->model, g->model_len, err);
                if (!rc)
                        rc = meter_copy_int(out, g->deployment, 2, err);
                if (!rc)
                        rc = meter_copy_field(out, g->decoding, g->decoding_len,
                                              err);
                if (!rc)
                        rc = g->dims
                                 ? meter_copy_field(out, g->dims, g->dims_len,
                                                    err)
                                 : meter_copy_field(out, empty_dims, 3, err);
                if (!rc)
                        rc = meter_copy_int(out, (int64_t)g->count, 8, err);
                for (int k = 0; !rc && k < METER_SUMS; k++)
                        rc = meter_copy_numeric(out, g->sums[k], err);
                if (!rc)
                        rc = meter_copy_field(out, g->task, g->task_len, err);
                if (!rc)
                        rc = meter_copy_field(out, g->outcome, g->outcome_len,
                                              err);
                (*rows)++;
        }
        return rc ? rc : meter_copy_trailer(out, err);
}

void meter__rollup_clear(struct meter_rollup *r)
{
        r->n = 0;
        if (r->slots)
                memset(r->slots, 0, r->slot_cap * sizeof *r->slots);
}

void meter__rollup_release(struct meter_rollup *r)
{
        tl_free(r->groups);
        tl_free(r->slots);
        memset(r, 0, sizeof *r);
}
