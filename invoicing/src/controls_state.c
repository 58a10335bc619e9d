/* A customer's usage controls against its draft to date (controls.md):
   what entitlements answer and crossing detection compares, from the one
   pricing the invoice uses. */
#include <string.h>

#include "core/alloc.h"
#include "internal.h"
#include "rating/controls.h"

void inv_controls_state_release(struct inv_controls_state *s)
{
        tl_arena_release(&s->arena);
        memset(s, 0, sizeof *s);
}

static tl_status dup(struct inv_controls_state *s, const char *v,
                     const char **out, struct tl_error *err)
{
        if (!v) {
                *out = NULL;
                return TL_OK;
        }
        return tl_arena_strndup(&s->arena, v, strlen(v), (char **)out, err);
}

/* The state of meter 'id', added (zero) when not there yet. */
static struct inv_meter_state *meter_of(struct inv_controls_state *s,
                                        size_t cap, const char *id,
                                        struct tl_error *err)
{
        struct inv_meter_state *m;

        for (size_t i = 0; i < s->meter_count; i++)
                if (!strcmp(s->meters[i].meter, id))
                        return &s->meters[i];
        if (s->meter_count == cap)
                return NULL; /* cap counts every line and limit: unreachable */
        m = &s->meters[s->meter_count];
        memset(m, 0, sizeof *m);
        if (dup(s, id, &m->meter, err))
                return NULL;
        s->meter_count++;
        return m;
}

/* Fold usage line 'l' into its meter: quantities are the rating's exact
   text (or 4 digits for a prorated allowance, as the invoice shows it). */
static tl_status add_line(struct inv_meter_state *m, const struct rate_line *l,
                          struct tl_error *err)
{
        struct tl_dec used, inc, left;
        tl_status rc;

        if ((rc = tl_dec_parse(l->used, strlen(l->used), &used, err)) ||
            (rc = tl_dec_parse(l->included, strlen(l->included), &inc, err)) ||
            (rc = tl_dec_add(&m->used, &used, &m->used, err)))
                return rc;
        if (tl_dec_cmp(&inc, &used) <= 0)
                return TL_OK;
        if ((rc = tl_dec_sub(&inc, &used, &left, err)))
                return rc;
        return tl_dec_add(&m->included_left, &left, &m->included_left, err);
}

static tl_status fill(struct inv_controls_state *s,
                      const struct rate_invoice *inv,
                      const struct rate_controls *ctl, struct tl_error *err)
{
        size_t cap = inv->line_count + ctl->limit_count;
        void *mem = NULL;
        tl_status rc;

        if (cap && (rc = tl_arena_alloc(&s->arena, cap * sizeof *s->meters,
                                        &mem, err)))
                return rc;
        s->meters = mem;
        for (size_t i = 0; i < inv->line_count; i++) {
                const struct rate_line *l = &inv->lines[i];
                struct inv_meter_state *m;

                if (l->kind != RATE_LINE_USAGE || !l->meter)
                        continue;
                if (!(m = meter_of(s, cap, l->meter, err)))
                        return err->code ? err->code : TL_ENOMEM;
                if ((rc = add_line(m, l, err)))
                        return rc;
        }
        s->allowed = true;
        for (size_t i = 0; i < ctl->limit_count; i++) {
                const struct rate_limit *x = &ctl->limits[i];
                struct inv_meter_state *m = meter_of(s, cap, x->meter_id, err);

                if (!m)
                        return err->code ? err->code : TL_ENOMEM;
                m->has_hard = true;
                m->hard = x->hard;
                m->reached = tl_dec_cmp(&m->used, &m->hard) >= 0;
                if (!m->reached &&
                    (rc = tl_dec_sub(&m->hard, &m->used, &m->remaining, err)))
                        return rc;
                if (m->reached)
                        s->allowed = false;
        }
        s->prepaid = ctl->prepaid;
        if (s->prepaid && s->balance.balance.coef <= 0)
                s->allowed = false;
        s->has_low_balance = ctl->has_low_balance;
        s->low_balance = ctl->low_balance;
        s->low = s->has_low_balance &&
                 tl_dec_cmp(&s->balance.balance, &s->low_balance) <= 0;
        if (ctl->alert_count &&
            (rc = tl_arena_alloc(
                 &s->arena, ctl->alert_count * sizeof *s->alerts, &mem, err)))
                return rc;
        s->alerts = ctl->alert_count ? mem : NULL;
        for (size_t i = 0; i < ctl->alert_count; i++) {
                const struct rate_alert *x = &ctl->alerts[i];
                struct inv_alert_state *a = &s->alerts[s->alert_count++];
                const struct tl_dec *v = &s->balance.draft;

                memset(a, 0, sizeof *a);
                a->at_least = x->at_least;
                if ((rc = dup(s, x->id, &a->id, err)) ||
                    (rc = dup(s, x->by_quantity ? x->meter_id : NULL, &a->meter,
                              err)))
                        return rc;
                if (x->by_quantity) {
                        const struct tl_dec zero = TL_DEC_ZERO;

                        v = &zero;
                        for (size_t k = 0; k < s->meter_count; k++)
                                if (!strcmp(s->meters[k].meter, x->meter_id))
                                        v = &s->meters[k].used;
                        a->crossed = tl_dec_cmp(v, &x->at_least) >= 0;
                } else {
                        a->crossed = tl_dec_cmp(v, &x->at_least) >= 0;
                }
        }
        return TL_OK;
}

tl_status inv_controls_state(PGconn *conn, const struct inv_config *cfg,
                             const struct rate_catalog_set *set, const char *id,
                             struct inv_controls_state *out,
                             struct tl_error *err)
{
        bool txn = PQtransactionStatus(conn) == PQTRANS_IDLE;
        struct rate_invoice *inv = NULL;
        struct inv__custs one;
        struct rate_controls ctl;
        const struct rate_catalog *cat;
        tl_status rc = TL_OK;

        memset(out, 0, sizeof *out);
        memset(&one, 0, sizeof one);
        tl_arena_init(&out->arena, 4096, 0);
        /* The grants, the rollups and the late events of one snapshot. */
        if (txn) {
                PGresult *r = PQexec(
                    conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");

                if (PQresultStatus(r) != PGRES_COMMAND_OK)
                        rc = tl_fail(err, TL_EDB, "controls: %s",
                                     PQerrorMessage(conn));
                PQclear(r);
        }
        if (!rc)
                rc = inv__balance_priced(conn, cfg, set, id, &out->balance,
                                         &inv, &one, err);
        if (txn)
                PQclear(PQexec(conn, rc ? "ROLLBACK" : "COMMIT"));
        if (rc)
                return rc;
        cat = rate_catalog_set_pick(set, inv->period.start_day);
        rc = cat ? rate_controls_effective(cat, inv->plan, &one.items[0],
                                           "customers", &out->arena, &ctl, err)
                 : tl_fail(err, TL_EINVAL, "controls: no catalog in force");
        if (!rc)
                rc = fill(out, inv, &ctl, err);
        rate_invoice_free(&inv);
        inv__custs_release(&one);
        return rc;
}
