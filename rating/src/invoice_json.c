/* Invoices as JSON (invoices.md), written by jansson, and as a table for
   people. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "rating/invoice.h"

/*
** The document is built as a jansson tree and dumped once: jansson does
** all the escaping, and keeps members in the order they are set, which is
** the field order of invoices.md. The first failure is kept in 'rc'; later
** calls do nothing but release what they are given.
*/
struct jb {
        struct tl_error *err;
        tl_status rc;
};

static void nomem(struct jb *j)
{
        if (!j->rc)
                j->rc =
                    tl_fail(j->err, TL_ENOMEM, "invoice JSON: out of memory");
}

/* Why text 's' at where.key could not be made a JSON string. */
static void bad_text(struct jb *j, const char *where, const char *key,
                     const char *s)
{
        if (j->rc)
                return;
        if (!s)
                j->rc = tl_fail(j->err, TL_EINTERNAL,
                                "invoice JSON: %s%s%s: no value", where,
                                *where ? "." : "", key);
        else if (!tl_utf8_valid(s, strlen(s)))
                j->rc = tl_fail(j->err, TL_EINVAL,
                                "invoice JSON: %s%s%s: not UTF-8", where,
                                *where ? "." : "", key);
        else
                nomem(j);
}

static json_t *object(struct jb *j)
{
        json_t *o = json_object();

        if (!o)
                nomem(j);
        return o;
}

static json_t *array(struct jb *j)
{
        json_t *a = json_array();

        if (!a)
                nomem(j);
        return a;
}

/* obj[key] = v, taking 'v'; 'where' names obj in messages. */
static void set(struct jb *j, json_t *obj, const char *where, const char *key,
                json_t *v)
{
        if (!v) {
                nomem(j);
                return;
        }
        if (json_object_set_new(obj, key, v))
                bad_text(j, where, "(key)", key);
}

static void set_str(struct jb *j, json_t *obj, const char *where,
                    const char *key, const char *s)
{
        json_t *v = s ? json_string(s) : NULL;

        if (!v)
                bad_text(j, where, key, s);
        else
                set(j, obj, where, key, v);
}

/* Money and other exact decimals are strings. */
static void set_dec(struct jb *j, json_t *obj, const char *where,
                    const char *key, const struct tl_dec *d)
{
        char t[TL_DEC_STR_MAX];

        tl_dec_format(d, t, sizeof t);
        set_str(j, obj, where, key, t);
}

static void set_num(struct jb *j, json_t *obj, const char *where,
                    const char *key, uint64_t v)
{
        set(j, obj, where, key, json_integer((json_int_t)v));
}

static void append(struct jb *j, json_t *arr, json_t *v)
{
        if (!v || json_array_append_new(arr, v))
                nomem(j);
}

static json_t *line(struct jb *j, const struct rate_invoice *inv, size_t i)
{
        const struct rate_line *l = &inv->lines[i];
        json_t *o = object(j);
        char w[40];

        snprintf(w, sizeof w, "lines[%zu]", i);
        set_str(j, o, w, "kind", rate_line_kind_name(l->kind));
        switch (l->kind) {
        case RATE_LINE_FEE:
                set_str(j, o, w, "id", l->ref);
                set_num(j, o, w, "active_days", l->active_days);
                set_num(j, o, w, "period_days", inv->period.days);
                break;
        case RATE_LINE_SEAT:
                set_str(j, o, w, "model_class", l->ref);
                set_num(j, o, w, "seat_days", l->seat_days);
                set_str(j, o, w, "quantity", l->quantity);
                set_dec(j, o, w, "price", &l->price);
                break;
        case RATE_LINE_USAGE:
                set_str(j, o, w, "charge", l->ref);
                set_str(j, o, w, "quantity", l->quantity);
                if (*l->capacity) {
                        set_str(j, o, w, "allowance_used", l->allowance_used);
                        set_str(j, o, w, "capacity", l->capacity);
                }
                set_dec(j, o, w, "unit", &l->unit);
                break;
        case RATE_LINE_ADJUSTMENT:
                set_str(j, o, w, "period", l->ref);
                break;
        case RATE_LINE_TAX:
                set_dec(j, o, w, "rate", &l->price);
                break;
        case RATE_LINE_MINIMUM:
        case RATE_LINE_CREDIT:
                break;
        }
        set_str(j, o, w, "name", l->name ? l->name : "");
        set_dec(j, o, w, "amount", &l->amount);
        if (l->segment) {
                json_t *sg = object(j);

                set_str(j, sg, w, "plan", l->segment->plan);
                set_str(j, sg, w, "start", l->segment->start_iso);
                set_str(j, sg, w, "end", l->segment->end_iso);
                set(j, o, w, "segment", sg);
        }
        return o;
}

static json_t *usage(struct jb *j, const struct rate_usage_report *r, size_t i)
{
        const struct rate_meter *m = r->meter;
        json_t *o = object(j), *groups;
        char w[64];

        snprintf(w, sizeof w, "usage[%zu]", i);
        set_str(j, o, w, "meter", m->id);
        set_str(j, o, w, "event", sch_event_type_name(m->event));
        set_str(j, o, w, "aggregation", rate_aggregation_name(m->aggregation));
        /* Local and cloud side by side: the deployment a meter filters on,
           when it names exactly one. */
        for (size_t f = 0; f < m->filter_count; f++)
                if (m->filters[f].field.kind == RATE_FIELD_DEPLOYMENT &&
                    m->filters[f].value_count == 1)
                        set_str(j, o, w, "deployment", m->filters[f].values[0]);
        set_str(j, o, w, "quantity", r->quantity);
        if (!m->group_by_count)
                return o;
        groups = array(j);
        for (size_t g = 0; g < r->group_count; g++) {
                json_t *e = object(j);

                snprintf(w, sizeof w, "usage[%zu].groups[%zu]", i, g);
                for (size_t f = 0; f < m->group_by_count; f++)
                        set_str(j, e, w, m->group_by[f].name,
                                r->groups[g].values[f]);
                set_str(j, e, w, "quantity", r->groups[g].quantity);
                append(j, groups, e);
        }
        snprintf(w, sizeof w, "usage[%zu]", i);
        set(j, o, w, "groups", groups);
        return o;
}

/* The members invoicing adds ("k":v,... in inv->extra_json), after ours. */
static void extra(struct jb *j, json_t *doc, const char *members)
{
        struct tl_buf b;
        json_error_t je;
        json_t *x = NULL, *v;
        const char *k;

        tl_buf_init(&b, 0);
        if (tl_buf_puts(&b, "{", NULL) || tl_buf_puts(&b, members, NULL) ||
            tl_buf_puts(&b, "}", NULL)) {
                nomem(j);
        } else {
                x = json_loadb(b.data, b.len, 0, &je);
                if (!x && !j->rc)
                        j->rc = tl_fail(j->err, TL_EINTERNAL,
                                        "invoice JSON: extra members, column "
                                        "%d: %s",
                                        je.column - 1, je.text);
        }
        json_object_foreach(x, k, v)
        {
                set(j, doc, "", k, json_incref(v));
        }
        json_decref(x);
        tl_buf_release(&b);
}

static json_t *document(struct jb *j, const struct rate_invoice *inv)
{
        const struct rate_catalog *c = inv->catalog;
        json_t *doc = object(j), *o, *a;

        if (inv->number)
                set_str(j, doc, "", "number", inv->number);
        else
                set(j, doc, "", "number", json_null());
        set_str(j, doc, "", "status", inv->status ? inv->status : "draft");
        set_str(j, doc, "", "customer", inv->customer);
        if (inv->customer_name)
                set_str(j, doc, "", "customer_name", inv->customer_name);
        o = object(j);
        set_str(j, o, "period", "start", inv->period.start_iso);
        set_str(j, o, "period", "end", inv->period.end_iso);
        set(j, doc, "", "period", o);
        set_str(j, doc, "", "currency", c->currency->code);
        set_str(j, doc, "", "plan", inv->plan->id);
        set_str(j, doc, "", "plan_name", inv->plan->name);
        set_str(j, doc, "", "subscribed_plan", inv->subscribed_plan);
        o = object(j);
        for (size_t i = 0; i < inv->cohort_count; i++)
                set_str(j, o, "cohorts", inv->cohorts[i].experiment,
                        inv->cohorts[i].cohort);
        set(j, doc, "", "cohorts", o);
        o = object(j);
        set_str(j, o, "rules", "catalog", c->name);
        set_str(j, o, "rules", "version", c->version);
        set_str(j, o, "rules", "sha256", c->sha256_hex);
        set(j, doc, "", "rules", o);
        set_num(j, doc, "", "active_days", inv->active_days);
        set_num(j, doc, "", "period_days", inv->period.days);
        a = array(j);
        for (size_t i = 0; i < inv->line_count; i++)
                append(j, a, line(j, inv, i));
        set(j, doc, "", "lines", a);
        set_dec(j, doc, "", "subtotal", &inv->subtotal);
        set_dec(j, doc, "", "credit", &inv->credit);
        set_dec(j, doc, "", "tax", &inv->tax);
        set_dec(j, doc, "", "total", &inv->total);
        a = array(j);
        for (size_t i = 0; i < inv->usage_count; i++)
                append(j, a, usage(j, &inv->usage[i], i));
        set(j, doc, "", "usage", a);
        a = array(j);
        for (size_t i = 0; i < inv->savings_count; i++) {
                const struct rate_savings_line *s = &inv->savings[i];
                char w[40];

                snprintf(w, sizeof w, "savings[%zu]", i);
                o = object(j);
                set_str(j, o, w, "meter", s->meter);
                set_str(j, o, w, "quantity", s->quantity);
                set_str(j, o, w, "priced_as", s->priced_as);
                set_dec(j, o, w, "cloud_equivalent", &s->cloud_equivalent);
                append(j, a, o);
        }
        set(j, doc, "", "savings", a);
        if (inv->extra_json && *inv->extra_json)
                extra(j, doc, inv->extra_json);
        return doc;
}

struct out {
        struct tl_buf *b;
        struct tl_error *err;
        tl_status rc;
};

static int put(const char *s, size_t n, void *data)
{
        struct out *o = data;

        o->rc = tl_buf_append(o->b, s, n, o->err);
        return o->rc ? -1 : 0;
}

tl_status rate_invoice_doc(const struct rate_invoice *inv, json_t **out,
                           struct tl_error *err)
{
        struct jb j = {err, TL_OK};
        json_t *doc = document(&j, inv);

        if (j.rc) {
                json_decref(doc);
                return j.rc;
        }
        *out = doc;
        return TL_OK;
}

tl_status rate_invoice_json(const struct rate_invoice *inv, struct tl_buf *b,
                            struct tl_error *err)
{
        struct jb j = {err, TL_OK};
        struct out o = {b, err, TL_OK};
        size_t mark = b->len;
        json_t *doc = document(&j, inv);

        if (!j.rc &&
            json_dump_callback(doc, put, &o,
                               JSON_COMPACT | JSON_PRESERVE_ORDER) &&
            !o.rc)
                o.rc =
                    tl_fail(err, TL_EINTERNAL, "invoice JSON: jansson failed");
        json_decref(doc);
        if (j.rc || o.rc) /* leave 'b' as it was */
                tl_buf_truncate(b, mark);
        return j.rc ? j.rc : o.rc;
}

tl_status rate_invoice_table(const struct rate_invoice *inv, struct tl_buf *b,
                             struct tl_error *err)
{
        tl_status rc;
        char amt[TL_DEC_STR_MAX];

        rc = tl_buf_printf(b, err, "%s%s%s%s  %s  plan %s  %s %s (%.12s)\n",
                           inv->customer, inv->customer_name ? " (" : "",
                           inv->customer_name ? inv->customer_name : "",
                           inv->customer_name ? ")" : "", inv->period.label,
                           inv->plan->id, inv->catalog->name,
                           inv->catalog->version, inv->catalog->sha256_hex);
        for (size_t i = 0; !rc && i < inv->cohort_count; i++)
                rc = tl_buf_printf(b, err, "  cohort %s: %s\n",
                                   inv->cohorts[i].experiment,
                                   inv->cohorts[i].cohort);
        for (size_t i = 0; !rc && i < inv->line_count; i++) {
                const struct rate_line *l = &inv->lines[i];
                char what[160];

                if (l->segment &&
                    (i == 0 || inv->lines[i - 1].segment != l->segment))
                        rc = tl_buf_printf(
                            b, err, "  %s %s to %s\n", l->segment->plan,
                            l->segment->start_iso, l->segment->end_iso);
                if (rc)
                        break;
                switch (l->kind) {
                case RATE_LINE_SEAT:
                        snprintf(what, sizeof what, "%s %s: %llu seat-days",
                                 l->name, l->ref,
                                 (unsigned long long)l->seat_days);
                        break;
                case RATE_LINE_USAGE:
                        snprintf(what, sizeof what, "%s: %s", l->name,
                                 l->quantity);
                        break;
                default:
                        snprintf(what, sizeof what, "%s", l->name);
                }
                tl_dec_format(&l->amount, amt, sizeof amt);
                rc = tl_buf_printf(b, err, "  %-10s %-52s %14s\n",
                                   rate_line_kind_name(l->kind), what, amt);
                if (!rc && *l->capacity)
                        rc = tl_buf_printf(b, err,
                                           "  %-10s allowance used %s of %s\n",
                                           "", l->allowance_used, l->capacity);
        }
        if (!rc) {
                char st[TL_DEC_STR_MAX], cr[TL_DEC_STR_MAX], tx[TL_DEC_STR_MAX];

                tl_dec_format(&inv->subtotal, st, sizeof st);
                tl_dec_format(&inv->credit, cr, sizeof cr);
                tl_dec_format(&inv->tax, tx, sizeof tx);
                tl_dec_format(&inv->total, amt, sizeof amt);
                rc = tl_buf_printf(b, err,
                                   "  %-63s %14s\n  %-63s %14s\n  %-63s %14s\n"
                                   "  %-63s %14s %s\n",
                                   "subtotal", st, "credit", cr, "tax", tx,
                                   "total", amt, inv->catalog->currency->code);
        }
        for (size_t i = 0; !rc && i < inv->savings_count; i++) {
                tl_dec_format(&inv->savings[i].cloud_equivalent, amt,
                              sizeof amt);
                rc = tl_buf_printf(b, err,
                                   "  savings: %s %s on device, worth %s as %s "
                                   "(not charged)\n",
                                   inv->savings[i].meter,
                                   inv->savings[i].quantity, amt,
                                   inv->savings[i].priced_as);
        }
        return rc;
}
