/* Invoices as JSON (invoices.md) and as a table for people. */
#include <stdio.h>
#include <string.h>

#include "rating/invoice.h"

struct out {
        struct tl_buf *b;
        struct tl_error *err;
        tl_status rc;
};

static void raw(struct out *o, const char *s, size_t n)
{
        if (!o->rc)
                o->rc = tl_buf_append(o->b, s, n, o->err);
}

static void lit(struct out *o, const char *s)
{
        raw(o, s, strlen(s));
}

/* A JSON string: quotes, backslashes and control bytes escaped. */
static void str(struct out *o, const char *s)
{
        const char *run = s;

        lit(o, "\"");
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                char esc[8];

                if (c >= 0x20 && c != '"' && c != '\\')
                        continue;
                raw(o, run, (size_t)(s - run));
                if (c == '"' || c == '\\')
                        snprintf(esc, sizeof esc, "\\%c", c);
                else
                        snprintf(esc, sizeof esc, "\\u%04x", c);
                lit(o, esc);
                run = s + 1;
        }
        raw(o, run, (size_t)(s - run));
        lit(o, "\"");
}

static void key(struct out *o, const char *k)
{
        str(o, k);
        lit(o, ":");
}

static void dec(struct out *o, const struct tl_dec *d)
{
        char t[TL_DEC_STR_MAX];

        tl_dec_format(d, t, sizeof t);
        str(o, t);
}

static void num(struct out *o, uint64_t v)
{
        char t[24];

        snprintf(t, sizeof t, "%llu", (unsigned long long)v);
        lit(o, t);
}

/* ,"k":value — a field after the first of an object. */
static void f_str(struct out *o, const char *k, const char *v)
{
        lit(o, ",");
        key(o, k);
        str(o, v);
}

static void f_dec(struct out *o, const char *k, const struct tl_dec *d)
{
        lit(o, ",");
        key(o, k);
        dec(o, d);
}

static void f_num(struct out *o, const char *k, uint64_t v)
{
        lit(o, ",");
        key(o, k);
        num(o, v);
}

static void line(struct out *o, const struct rate_invoice *inv,
                 const struct rate_line *l)
{
        lit(o, "{");
        key(o, "kind");
        str(o, rate_line_kind_name(l->kind));
        switch (l->kind) {
        case RATE_LINE_FEE:
                f_str(o, "id", l->ref);
                f_num(o, "active_days", l->active_days);
                f_num(o, "period_days", inv->period.days);
                break;
        case RATE_LINE_SEAT:
                f_str(o, "model_class", l->ref);
                f_num(o, "seat_days", l->seat_days);
                f_str(o, "quantity", l->quantity);
                f_dec(o, "price", &l->price);
                break;
        case RATE_LINE_USAGE:
                f_str(o, "charge", l->ref);
                f_str(o, "quantity", l->quantity);
                f_dec(o, "unit", &l->unit);
                break;
        case RATE_LINE_ADJUSTMENT:
                f_str(o, "period", l->ref);
                break;
        case RATE_LINE_TAX:
                f_dec(o, "rate", &l->price);
                break;
        case RATE_LINE_MINIMUM:
        case RATE_LINE_CREDIT:
                break;
        }
        f_str(o, "name", l->name ? l->name : "");
        f_dec(o, "amount", &l->amount);
        lit(o, "}");
}

static void usage(struct out *o, const struct rate_usage_report *r)
{
        const struct rate_meter *m = r->meter;

        lit(o, "{");
        key(o, "meter");
        str(o, m->id);
        f_str(o, "event", sch_event_type_name(m->event));
        f_str(o, "aggregation", rate_aggregation_name(m->aggregation));
        /* Local and cloud side by side: the deployment a meter filters on,
           when it names exactly one. */
        for (size_t f = 0; f < m->filter_count; f++)
                if (m->filters[f].field.kind == RATE_FIELD_DEPLOYMENT &&
                    m->filters[f].value_count == 1) {
                        f_str(o, "deployment", m->filters[f].values[0]);
                }
        f_str(o, "quantity", r->quantity);
        if (m->group_by_count) {
                lit(o, ",");
                key(o, "groups");
                lit(o, "[");
                for (size_t g = 0; g < r->group_count; g++) {
                        lit(o, g ? ",{" : "{");
                        for (size_t f = 0; f < m->group_by_count; f++) {
                                key(o, m->group_by[f].name);
                                str(o, r->groups[g].values[f]);
                                lit(o, ",");
                        }
                        key(o, "quantity");
                        str(o, r->groups[g].quantity);
                        lit(o, "}");
                }
                lit(o, "]");
        }
        lit(o, "}");
}

tl_status rate_invoice_json(const struct rate_invoice *inv, struct tl_buf *b,
                            struct tl_error *err)
{
        struct out o = {b, err, TL_OK};
        const struct rate_catalog *c = inv->catalog;

        if (inv->number) {
                lit(&o, "{\"number\":");
                str(&o, inv->number);
        } else {
                lit(&o, "{\"number\":null");
        }
        lit(&o, ",\"status\":");
        str(&o, inv->status ? inv->status : "draft");
        lit(&o, ",");
        key(&o, "customer");
        str(&o, inv->customer);
        if (inv->customer_name) {
                f_str(&o, "customer_name", inv->customer_name);
        }
        lit(&o, ",\"period\":{\"start\":");
        str(&o, inv->period.start_iso);
        lit(&o, ",\"end\":");
        str(&o, inv->period.end_iso);
        lit(&o, "},");
        key(&o, "currency");
        str(&o, c->currency->code);
        f_str(&o, "plan", inv->plan->id);
        f_str(&o, "plan_name", inv->plan->name);
        f_str(&o, "subscribed_plan", inv->subscribed_plan);
        lit(&o, ",");
        key(&o, "cohorts");
        lit(&o, "{");
        for (size_t i = 0; i < inv->cohort_count; i++) {
                if (i)
                        lit(&o, ",");
                key(&o, inv->cohorts[i].experiment);
                str(&o, inv->cohorts[i].cohort);
        }
        lit(&o, "},\"rules\":{\"catalog\":");
        str(&o, c->name);
        lit(&o, ",\"version\":");
        str(&o, c->version);
        lit(&o, ",\"sha256\":");
        str(&o, c->sha256_hex);
        lit(&o, "},\"active_days\":");
        num(&o, inv->active_days);
        lit(&o, ",\"period_days\":");
        num(&o, inv->period.days);
        lit(&o, ",\"lines\":[");
        for (size_t i = 0; i < inv->line_count; i++) {
                if (i)
                        lit(&o, ",");
                line(&o, inv, &inv->lines[i]);
        }
        lit(&o, "],");
        key(&o, "subtotal");
        dec(&o, &inv->subtotal);
        f_dec(&o, "credit", &inv->credit);
        f_dec(&o, "tax", &inv->tax);
        f_dec(&o, "total", &inv->total);
        lit(&o, ",\"usage\":[");
        for (size_t i = 0; i < inv->usage_count; i++) {
                if (i)
                        lit(&o, ",");
                usage(&o, &inv->usage[i]);
        }
        lit(&o, "],\"savings\":[");
        for (size_t i = 0; i < inv->savings_count; i++) {
                const struct rate_savings_line *s = &inv->savings[i];

                lit(&o, i ? ",{" : "{");
                key(&o, "meter");
                str(&o, s->meter);
                f_str(&o, "quantity", s->quantity);
                f_str(&o, "priced_as", s->priced_as);
                f_dec(&o, "cloud_equivalent", &s->cloud_equivalent);
                lit(&o, "}");
        }
        lit(&o, "]");
        if (inv->extra_json && *inv->extra_json) {
                lit(&o, ",");
                lit(&o, inv->extra_json);
        }
        lit(&o, "}");
        return o.rc;
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
