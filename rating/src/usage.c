/* Usage accumulation per customer and meter, and seat-day counting. */
#include "rating/usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/hash.h"
#include "fields.h"
#include "seats.h"

/* Distinct values of a unique_count group: open addressing on a hash,
   strings compared in full, so a hash collision never merges two values. */
struct uset {
        size_t count, cap;
        uint64_t *hashes;
        const char **keys;
        uint32_t *lens;
};

struct group {
        uint64_t hash; /* of the values */
        const char **values;
        const uint32_t *lens; /* of the values */
        tl_u128 quantity;
        tl_time_us latest_us; /* latest: the time of the value held */
        uint64_t latest_seq;
        struct uset *set;
};

struct mstate {
        size_t group_count, group_cap;
        struct group *groups; /* 'inl' until a third group */
        struct rate_group_usage *view;
        size_t seat_count, seat_cap;
        struct rate__seat_ev *seats;
        /* Most meters have one group, a group_by on decoding two: kept
           here, next to the rest of the customer, an event's fold touches
           one block instead of chasing a pointer per meter. */
        struct group inl[2];
};

struct cust {
        const char *id;
        uint32_t id_len;
        uint64_t hash;
        size_t index; /* in the accumulator's list */
        bool in_period;
        struct mstate meters[]; /* one per catalog meter, in the block */
};

struct rate_acc {
        const struct rate_catalog *cat;
        struct rate_period period;
        struct tl_arena arena;
        uint64_t seq;
        size_t count, cap; /* customers; the table has 2 x cap slots */
        struct cust **list;
        struct cust **table;
        /* The meters each event type feeds, so an event tests only those. */
        size_t type_meter_count[SCH_TYPE_LAST + 1];
        size_t *type_meters[SCH_TYPE_LAST + 1];
        struct group **scratch; /* rate_acc_add: a group per meter */
        /* Per meter, per filter: for a filter on deployment or action, a
           bit per enum value it accepts (1u << SCH_DEPLOY_CLOUD ...), so
           the test per event is an AND, not a string compare; 0 for a
           filter on text. */
        unsigned **filter_masks;
        size_t hint_cap;
        struct cust **by_hint; /* rate_acc_add_hinted's customers */
};

static uint64_t hash_bytes(const void *data, size_t len, uint64_t h)
{
        return tl_hash64(data, len, h);
}

static bool filter_has(const struct rate_filter *f, const char *v)
{
        for (size_t j = 0; j < f->value_count; j++)
                if (f->value_lens[j] == strlen(v) &&
                    memcmp(f->values[j], v, f->value_lens[j]) == 0)
                        return true;
        return false;
}

static tl_status compile_filters(struct rate_acc *a)
{
        const struct rate_catalog *cat = a->cat;

        a->filter_masks = tl_calloc(cat->meter_count + 1, sizeof(unsigned *));
        if (!a->filter_masks)
                return TL_ENOMEM;
        for (size_t m = 0; m < cat->meter_count; m++) {
                const struct rate_meter *mt = &cat->meters[m];
                unsigned *mk = tl_calloc(mt->filter_count + 1, sizeof *mk);

                if (!mk)
                        return TL_ENOMEM;
                a->filter_masks[m] = mk;
                for (size_t i = 0; i < mt->filter_count; i++) {
                        const struct rate_filter *f = &mt->filters[i];

                        if (f->field.kind == RATE_FIELD_DEPLOYMENT) {
                                mk[i] |= filter_has(f, "cloud")
                                             ? 1u << SCH_DEPLOY_CLOUD
                                             : 0;
                                mk[i] |= filter_has(f, "device")
                                             ? 1u << SCH_DEPLOY_DEVICE
                                             : 0;
                        } else if (f->field.kind == RATE_FIELD_ACTION) {
                                for (unsigned v = SCH_SEAT_ACTIVATE;
                                     v <= SCH_SEAT_HEARTBEAT; v++)
                                        if (filter_has(f,
                                                       sch_seat_action_name(
                                                           (sch_seat_action)v)))
                                                mk[i] |= 1u << v;
                        }
                }
        }
        return TL_OK;
}

tl_status rate_acc_new(const struct rate_catalog *cat,
                       const struct rate_period *period, struct rate_acc **out,
                       struct tl_error *err)
{
        struct rate_acc *a = tl_calloc(1, sizeof *a);
        tl_status rc;

        if (!a)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        a->cat = cat;
        a->period = *period;
        tl_arena_init(&a->arena, 65536, 0);
        a->scratch = tl_calloc(cat->meter_count + 1, sizeof *a->scratch);
        if (!a->scratch) {
                rate_acc_free(&a);
                return tl_fail(err, TL_ENOMEM, "out of memory");
        }
        if ((rc = compile_filters(a)) != TL_OK) {
                rate_acc_free(&a);
                return tl_fail(err, rc, "out of memory");
        }
        for (int t = SCH_TYPE_TOKENS; t <= SCH_TYPE_LAST; t++) {
                a->type_meters[t] =
                    tl_calloc(cat->meter_count + 1, sizeof(size_t));
                if (!a->type_meters[t]) {
                        rate_acc_free(&a);
                        return tl_fail(err, TL_ENOMEM, "out of memory");
                }
                for (size_t m = 0; m < cat->meter_count; m++)
                        if ((int)cat->meters[m].event == t)
                                a->type_meters[t][a->type_meter_count[t]++] = m;
        }
        *out = a;
        return TL_OK;
}

static void free_mstate(struct mstate *ms)
{
        for (size_t g = 0; g < ms->group_count; g++)
                if (ms->groups[g].set) {
                        tl_free(ms->groups[g].set->hashes);
                        tl_free(ms->groups[g].set->keys);
                        tl_free(ms->groups[g].set->lens);
                        tl_free(ms->groups[g].set);
                }
        if (ms->groups != ms->inl)
                tl_free(ms->groups);
        tl_free(ms->view);
        tl_free(ms->seats);
}

void rate_acc_free(struct rate_acc **pp)
{
        struct rate_acc *a;

        if (!pp || !*pp)
                return;
        a = *pp;
        for (size_t i = 0; i < a->count; i++) {
                for (size_t m = 0; m < a->cat->meter_count; m++)
                        free_mstate(&a->list[i]->meters[m]);
        }
        for (int t = 0; t <= SCH_TYPE_LAST; t++)
                tl_free(a->type_meters[t]);
        for (size_t m = 0; a->filter_masks && m < a->cat->meter_count; m++)
                tl_free(a->filter_masks[m]);
        tl_free(a->filter_masks);
        tl_free(a->scratch);
        tl_free(a->list);
        tl_free(a->by_hint);
        tl_free(a->table);
        tl_arena_release(&a->arena);
        tl_free(a);
        *pp = NULL;
}

/* ---- customers --------------------------------------------------------------
 */

static tl_status grow_customers(struct rate_acc *a, struct tl_error *err)
{
        size_t cap = a->cap ? a->cap * 2 : 64;
        struct cust **list = tl_reallocarray(a->list, cap, sizeof *list);
        struct cust **table;

        if (!list)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        a->list = list;
        table = tl_calloc(cap * 2, sizeof *table);
        if (!table)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        for (size_t i = 0; i < a->count; i++) {
                size_t s = list[i]->hash & (cap * 2 - 1);

                while (table[s])
                        s = (s + 1) & (cap * 2 - 1);
                table[s] = list[i];
        }
        tl_free(a->table);
        a->table = table;
        a->cap = cap;
        return TL_OK;
}

/* The customer with id 'len' bytes at 'id' (hash 'h'), or NULL. */
static struct cust *lookup(const struct rate_acc *a, const char *id, size_t len,
                           uint64_t h)
{
        size_t mask = a->cap * 2 - 1;

        if (!a->cap)
                return NULL;
        for (size_t s = h & mask; a->table[s]; s = (s + 1) & mask) {
                struct cust *c = a->table[s];

                if (c->hash == h && c->id_len == len &&
                    memcmp(c->id, id, len) == 0)
                        return c;
        }
        return NULL;
}

static tl_status customer(struct rate_acc *a, struct sch_str id,
                          struct cust **out, struct tl_error *err)
{
        uint64_t h = hash_bytes(id.ptr, id.len, 0);
        size_t mask, s, size;
        struct cust *c = lookup(a, id.ptr, id.len, h);
        void *mem;
        tl_status rc;

        if (c) {
                *out = c;
                return TL_OK;
        }
        if (a->count == a->cap && (rc = grow_customers(a, err)) != TL_OK)
                return rc;
        size = sizeof *c + a->cat->meter_count * sizeof c->meters[0];
        if ((rc = tl_arena_alloc(&a->arena, size, &mem, err)) != TL_OK)
                return rc;
        c = mem;
        memset(c, 0, size);
        c->hash = h;
        c->id_len = id.len;
        if ((rc = tl_arena_strndup(&a->arena, id.ptr, id.len, (char **)&c->id,
                                   err)) != TL_OK)
                return rc;
        mask = a->cap * 2 - 1;
        for (s = h & mask; a->table[s]; s = (s + 1) & mask)
                ;
        a->table[s] = c;
        c->index = a->count;
        a->list[a->count++] = c;
        *out = c;
        return TL_OK;
}

/* The customer of hint 'hint' (SIZE_MAX: none, look it up by id). */
static tl_status customer_hinted(struct rate_acc *a, struct sch_str id,
                                 size_t hint, struct cust **out,
                                 struct tl_error *err)
{
        tl_status rc;

        if (hint == SIZE_MAX)
                return customer(a, id, out, err);
        if (hint < a->hint_cap && a->by_hint[hint]) {
                *out = a->by_hint[hint];
                return TL_OK;
        }
        if (hint >= a->hint_cap) {
                size_t cap = a->hint_cap ? a->hint_cap : 64;
                struct cust **v;

                while (cap <= hint)
                        cap *= 2;
                v = tl_reallocarray(a->by_hint, cap, sizeof *v);
                if (!v)
                        return tl_fail(err, TL_ENOMEM, "out of memory");
                memset(v + a->hint_cap, 0, (cap - a->hint_cap) * sizeof *v);
                a->by_hint = v;
                a->hint_cap = cap;
        }
        if ((rc = customer(a, id, out, err)) == TL_OK)
                a->by_hint[hint] = *out;
        return rc;
}

static bool passes(const struct rate_acc *a, size_t mi,
                   const struct sch_event *ev)
{
        const struct rate_meter *m = &a->cat->meters[mi];

        for (size_t i = 0; i < m->filter_count; i++) {
                const struct rate_filter *f = &m->filters[i];
                struct sch_str v;
                bool any = false;

                if (f->field.kind == RATE_FIELD_DEPLOYMENT) {
                        if (!(a->filter_masks[mi][i] >> ev->deployment & 1))
                                return false;
                        continue;
                }
                if (f->field.kind == RATE_FIELD_ACTION) {
                        if (!(a->filter_masks[mi][i] >> ev->action & 1))
                                return false;
                        continue;
                }
                if (!text_field(ev, &f->field, &v))
                        return false;
                for (size_t j = 0; !any && j < f->value_count; j++)
                        any = v.len == f->value_lens[j] &&
                              memcmp(v.ptr, f->values[j], v.len) == 0;
                if (!any)
                        return false;
        }
        return true;
}

/* ---- groups
 * -------------------------------------------------------------------- */

static tl_status find_group(struct rate_acc *a, const struct rate_meter *m,
                            struct mstate *ms, const struct sch_event *ev,
                            struct group **out, struct tl_error *err)
{
        struct sch_str vals[64];
        size_t n = m->group_by_count < 64 ? m->group_by_count : 64;
        uint64_t h = 0;
        struct group *g;
        tl_status rc;

        /* Most meters do not group: their one group is always the first. */
        if (n == 0 && ms->group_count == 1) {
                *out = &ms->groups[0];
                return TL_OK;
        }
        for (size_t i = 0; i < n; i++) {
                if (!text_field(ev, &m->group_by[i], &vals[i]))
                        vals[i] = (struct sch_str){"", 0};
                h = hash_bytes(vals[i].ptr, vals[i].len, h + i);
        }
        for (size_t gi = 0; gi < ms->group_count; gi++) {
                bool same;

                g = &ms->groups[gi];
                if (g->hash != h)
                        continue;
                same = true;
                for (size_t i = 0; same && i < n; i++)
                        same =
                            g->lens[i] == vals[i].len &&
                            memcmp(g->values[i], vals[i].ptr, vals[i].len) == 0;
                if (same) {
                        *out = g;
                        return TL_OK;
                }
        }
        if (!ms->groups) {
                ms->groups = ms->inl;
                ms->group_cap = sizeof ms->inl / sizeof ms->inl[0];
        }
        if (ms->group_count == ms->group_cap) {
                size_t cap = ms->group_cap * 2;
                struct group *gs = tl_reallocarray(
                    ms->groups == ms->inl ? NULL : ms->groups, cap, sizeof *gs);

                if (!gs)
                        return tl_fail(err, TL_ENOMEM, "out of memory");
                if (ms->groups == ms->inl)
                        memcpy(gs, ms->inl, sizeof ms->inl);
                ms->groups = gs;
                ms->group_cap = cap;
        }
        g = &ms->groups[ms->group_count];
        memset(g, 0, sizeof *g);
        g->hash = h;
        if ((rc = tl_arena_alloc(&a->arena, (n + 1) * sizeof *g->values,
                                 (void **)&g->values, err)) != TL_OK ||
            (rc = tl_arena_alloc(&a->arena, (n + 1) * sizeof *g->lens,
                                 (void **)&g->lens, err)) != TL_OK)
                return rc;
        for (size_t i = 0; i < n; i++) {
                if ((rc = tl_arena_strndup(&a->arena, vals[i].ptr, vals[i].len,
                                           (char **)&g->values[i], err)))
                        return rc;
                ((uint32_t *)g->lens)[i] = vals[i].len;
        }
        ms->group_count++;
        *out = g;
        return TL_OK;
}

/* Insert 'v' into 's'; '*added' tells whether it was new. */
static tl_status uset_add(struct rate_acc *a, struct uset *s, struct sch_str v,
                          bool *added, struct tl_error *err)
{
        uint64_t h = hash_bytes(v.ptr, v.len, 7);
        size_t mask, i;
        tl_status rc;

        if ((s->count + 1) * 2 > s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 16;
                uint64_t *hs = tl_calloc(cap, sizeof *hs);
                const char **ks = tl_calloc(cap, sizeof *ks);
                uint32_t *ls = tl_calloc(cap, sizeof *ls);

                if (!hs || !ks || !ls) {
                        tl_free(hs);
                        tl_free(ks);
                        tl_free(ls);
                        return tl_fail(err, TL_ENOMEM, "out of memory");
                }
                for (size_t j = 0; j < s->cap; j++) {
                        if (!s->keys[j])
                                continue;
                        for (i = s->hashes[j] & (cap - 1); ks[i];
                             i = (i + 1) & (cap - 1))
                                ;
                        hs[i] = s->hashes[j];
                        ks[i] = s->keys[j];
                        ls[i] = s->lens[j];
                }
                tl_free(s->hashes);
                tl_free(s->keys);
                tl_free(s->lens);
                s->hashes = hs;
                s->keys = ks;
                s->lens = ls;
                s->cap = cap;
        }
        mask = s->cap - 1;
        for (i = h & mask; s->keys[i]; i = (i + 1) & mask)
                if (s->hashes[i] == h && s->lens[i] == v.len &&
                    memcmp(s->keys[i], v.ptr, v.len) == 0) {
                        *added = false;
                        return TL_OK;
                }
        if ((rc = tl_arena_strndup(&a->arena, v.ptr, v.len,
                                   (char **)&s->keys[i], err)) != TL_OK)
                return rc;
        s->hashes[i] = h;
        s->lens[i] = v.len;
        s->count++;
        *added = true;
        return TL_OK;
}

static tl_status add_seat(struct rate_acc *a, struct mstate *ms,
                          const struct sch_event *ev, struct tl_error *err)
{
        struct rate__seat_ev *se;
        tl_status rc;

        if (ms->seat_count == ms->seat_cap) {
                size_t cap = ms->seat_cap ? ms->seat_cap * 2 : 8;
                struct rate__seat_ev *s =
                    tl_reallocarray(ms->seats, cap, sizeof *s);

                if (!s)
                        return tl_fail(err, TL_ENOMEM, "out of memory");
                ms->seats = s;
                ms->seat_cap = cap;
        }
        se = &ms->seats[ms->seat_count];
        se->time_us = ev->time_us;
        se->seq = a->seq;
        se->action = ev->action;
        if ((rc = tl_arena_strndup(&a->arena, ev->device_id.ptr,
                                   ev->device_id.len, (char **)&se->device,
                                   err)) ||
            (rc = tl_arena_strndup(&a->arena, ev->model_class.ptr,
                                   ev->model_class.len,
                                   (char **)&se->model_class, err)))
                return rc;
        ms->seat_count++;
        return TL_OK;
}

/* What 'ev' (or rollup 'r' when not NULL) adds to a sum meter on 'k'. */
static tl_u128 addend(const struct sch_event *ev, const struct rate_rollup *r,
                      rate_field_kind k)
{
        return r ? rollup_field(r, k) : count_field(ev, k);
}

/* Fold 'ev' (or rollup 'r') into group 'g' of meter 'm' (sums were
   checked by the caller). */
static tl_status fold(struct rate_acc *a, const struct rate_meter *m,
                      struct group *g, const struct sch_event *ev,
                      const struct rate_rollup *r, struct tl_error *err)
{
        struct sch_str v;
        bool added;
        uint64_t x;
        tl_status rc;

        switch (m->aggregation) {
        case RATE_AGG_SUM:
                g->quantity += addend(ev, r, m->value.kind);
                break;
        case RATE_AGG_COUNT:
                g->quantity += r ? r->events : 1;
                break;
        case RATE_AGG_MAX:
                x = count_field(ev, m->value.kind);
                if (x > g->quantity)
                        g->quantity = x;
                break;
        case RATE_AGG_LATEST:
                /* The newest event by time; at equal times, the one read
                   last, so the result never depends on anything else. */
                if (ev->time_us >= g->latest_us) {
                        g->quantity = count_field(ev, m->value.kind);
                        g->latest_us = ev->time_us;
                        g->latest_seq = a->seq;
                }
                break;
        case RATE_AGG_UNIQUE_COUNT:
                if (!text_field(ev, &m->value, &v))
                        break;
                if (!g->set && !(g->set = tl_calloc(1, sizeof *g->set)))
                        return tl_fail(err, TL_ENOMEM, "out of memory");
                if ((rc = uset_add(a, g->set, v, &added, err)) != TL_OK)
                        return rc;
                g->quantity += added;
                break;
        case RATE_AGG_SEATS:
                break;
        }
        return TL_OK;
}

/* Marks a seat meter the event feeds: seats keep events, not groups. */
static struct group seat_mark;

bool rate_catalog_rollup_ok(const struct rate_catalog *cat, sch_event_type t)
{
        if (t == SCH_TYPE_SEAT)
                return false;
        for (size_t m = 0; m < cat->meter_count; m++)
                if ((int)cat->meters[m].event == (int)t &&
                    cat->meters[m].aggregation != RATE_AGG_SUM &&
                    cat->meters[m].aggregation != RATE_AGG_COUNT)
                        return false;
        return true;
}

static tl_status add(struct rate_acc *a, const struct sch_event *ev,
                     const struct rate_rollup *r, size_t hint,
                     struct tl_error *err)
{
        bool in_period =
            ev->time_us >= a->period.start_us && ev->time_us < a->period.end_us;
        size_t n = (unsigned)ev->type <= SCH_TYPE_LAST
                       ? a->type_meter_count[ev->type]
                       : 0;
        struct group **groups = a->scratch;
        struct cust *c = NULL;
        tl_status rc;

        if (ev->time_us >= a->period.end_us)
                return TL_OK;
        if (!in_period && ev->type != SCH_TYPE_SEAT)
                return TL_OK;
        a->seq++;
        /* A sum that would overflow must refuse the event whole: find every
           group and check every sum first, fold after. */
        for (size_t k = 0; k < n; k++) {
                size_t mi = a->type_meters[ev->type][k];
                const struct rate_meter *m = &a->cat->meters[mi];
                tl_u128 sum;

                groups[k] = NULL;
                if ((!in_period && m->aggregation != RATE_AGG_SEATS) ||
                    !passes(a, mi, ev))
                        continue;
                if (!c && (rc = customer_hinted(a, ev->subject, hint, &c, err)))
                        return rc;
                if (m->aggregation == RATE_AGG_SEATS) {
                        groups[k] = &seat_mark;
                        continue;
                }
                if ((rc =
                         find_group(a, m, &c->meters[mi], ev, &groups[k], err)))
                        return rc;
                if (r && m->aggregation != RATE_AGG_SUM &&
                    m->aggregation != RATE_AGG_COUNT)
                        return tl_fail(err, TL_EINVAL,
                                       "meter %s: a %s meter needs the "
                                       "events, not daily rollups",
                                       m->id,
                                       m->aggregation == RATE_AGG_SEATS
                                           ? "seats"
                                           : "max, latest or "
                                             "unique_count");
                if ((m->aggregation == RATE_AGG_SUM &&
                     !tl_u128_add(groups[k]->quantity,
                                  addend(ev, r, m->value.kind), &sum)) ||
                    (m->aggregation == RATE_AGG_COUNT && r &&
                     !tl_u128_add(groups[k]->quantity, r->events, &sum)))
                        return tl_fail(err, TL_EOVERFLOW,
                                       "meter %s: the sum for %.*s passes "
                                       "2^128",
                                       m->id, (int)ev->subject.len,
                                       ev->subject.ptr);
        }
        for (size_t k = 0; k < n; k++) {
                size_t mi = a->type_meters[ev->type][k];
                const struct rate_meter *m = &a->cat->meters[mi];

                if (groups[k] == &seat_mark && r)
                        rc = tl_fail(err, TL_EINVAL,
                                     "meter %s: seats need the events, not "
                                     "daily rollups",
                                     m->id);
                else if (groups[k] == &seat_mark)
                        rc = add_seat(a, &c->meters[mi], ev, err);
                else if (groups[k])
                        rc = fold(a, m, groups[k], ev, r, err);
                else
                        continue;
                if (rc)
                        return rc;
        }
        if (in_period) {
                if (!c && (rc = customer_hinted(a, ev->subject, hint, &c, err)))
                        return rc;
                c->in_period = true;
        }
        return TL_OK;
}

tl_status rate_acc_add(struct rate_acc *a, const struct sch_event *ev,
                       struct tl_error *err)
{
        return add(a, ev, NULL, SIZE_MAX, err);
}

tl_status rate_acc_add_hinted(struct rate_acc *a, const struct sch_event *ev,
                              size_t hint, struct tl_error *err)
{
        return add(a, ev, NULL, hint, err);
}

tl_status rate_acc_add_rollup(struct rate_acc *a, const struct sch_event *attrs,
                              const struct rate_rollup *r, struct tl_error *err)
{
        return add(a, attrs, r, SIZE_MAX, err);
}

const struct rate_period *rate_acc_period(const struct rate_acc *acc)
{
        return &acc->period;
}

size_t rate_acc_customer_count(const struct rate_acc *acc)
{
        return acc->count;
}

const char *rate_acc_customer_id(const struct rate_acc *acc, size_t i)
{
        return acc->list[i]->id;
}

bool rate_acc_in_period(const struct rate_acc *acc, size_t i)
{
        return acc->list[i]->in_period;
}

size_t rate_acc_find(const struct rate_acc *acc, const char *id)
{
        size_t len = strlen(id);
        const struct cust *c = lookup(acc, id, len, hash_bytes(id, len, 0));

        return c ? c->index : RATE_NO_INDEX;
}

/* Groups by their values, field by field: the order events arrived in (or
   the order PostgreSQL returned rollups in) must not change an invoice, or
   the close and the cost to date would list one bill's groups apart.
   Insertion sort: a meter has a handful of groups. */
static void sort_groups(struct rate_group_usage *v, size_t n, size_t fields)
{
        for (size_t i = 1; i < n; i++) {
                struct rate_group_usage x = v[i];
                size_t j = i;

                for (; j > 0; j--) {
                        int c = 0;

                        for (size_t f = 0; !c && f < fields; f++)
                                c = strcmp(v[j - 1].values[f], x.values[f]);
                        if (c <= 0)
                                break;
                        v[j] = v[j - 1];
                }
                v[j] = x;
        }
}

size_t rate_acc_groups(const struct rate_acc *acc, size_t i, size_t m,
                       const struct rate_group_usage **out)
{
        struct mstate *ms = &acc->list[i]->meters[m];
        struct rate_group_usage *v;

        if (ms->group_count == 0)
                return 0;
        v = tl_reallocarray(ms->view, ms->group_count, sizeof *v);
        if (!v)
                return 0;
        ms->view = v;
        for (size_t g = 0; g < ms->group_count; g++) {
                v[g].values = ms->groups[g].values;
                v[g].quantity = ms->groups[g].quantity;
        }
        sort_groups(v, ms->group_count, acc->cat->meters[m].group_by_count);
        *out = v;
        return ms->group_count;
}

/* ---- seats ----------------------------------------------------------------
 */

tl_status rate_acc_seats(const struct rate_acc *acc, size_t i, size_t m,
                         struct rate_seat_usage **out, size_t *count,
                         struct tl_error *err)
{
        struct mstate *ms = &acc->list[i]->meters[m];

        return rate__seat_days(&acc->period, ms->seats, ms->seat_count, out,
                               count, err);
}
