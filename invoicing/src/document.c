/* The stored invoice document: rating's invoice, the price each usage line
   was charged at, and invoicing's own members, written by jansson. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"
#include "internal.h"
#include "rating/money.h"

/* The exact value of the plain decimal 'dec' ([-]digits[.digits], as
   rating writes quantities). False when it is not one. */
static bool amount_parse(const char *dec, struct rate_amount *a)
{
        char text[2 * RATE_QTY_MAX + 4];
        size_t n = 0, frac = 0;
        bool point = false;

        for (const char *s = dec; *s; s++) {
                if (*s == '.' && !point) {
                        point = true;
                        continue;
                }
                if ((*s < '0' || *s > '9') && !(*s == '-' && s == dec))
                        return false;
                if (n + 1 >= RATE_QTY_MAX)
                        return false;
                text[n++] = *s;
                frac += point;
        }
        text[n++] = '/';
        text[n++] = '1';
        while (frac--)
                text[n++] = '0';
        text[n] = '\0';
        if (mpq_set_str(a->q, text, 10) != 0)
                return false;
        mpq_canonicalize(a->q);
        return true;
}

static json_t *dec_string(const struct tl_dec *d)
{
        char t[TL_DEC_STR_MAX];

        tl_dec_format(d, t, sizeof t);
        return json_string(t);
}

static json_t *amount_string(const struct rate_amount *a)
{
        char t[RATE_QTY_MAX];

        return rate_amount_format_exact(a, t, sizeof t) ? json_string(t) : NULL;
}

/* Graduated: the units of 'q' each tier took, at its price. A zero
   quantity still shows the first tier's price (at quantity 0). */
static json_t *tiers_used(const struct rate_charge *ch,
                          const struct rate_amount *q)
{
        json_t *tiers = json_array();
        struct rate_amount lo, hi;

        rate_amount_init(&lo);
        rate_amount_init(&hi);
        for (size_t i = 0; tiers && i < ch->tier_count; i++) {
                const struct rate_tier *tr = &ch->tiers[i];

                if (i && rate_amount_cmp(q, &lo) <= 0)
                        break;
                rate_amount_set(&hi, q);
                if (!tr->open) {
                        rate_amount_set_dec(&hi, &tr->up_to);
                        if (rate_amount_cmp(q, &hi) < 0)
                                rate_amount_set(&hi, q);
                }
                {
                        struct rate_amount units;

                        rate_amount_init(&units);
                        rate_amount_set(&units, &hi);
                        rate_amount_sub(&units, &lo);
                        if (rate_amount_sign(&units) < 0)
                                mpq_set_ui(units.q, 0, 1);
                        if (json_array_append_new(
                                tiers, json_pack("{s:o?,s:o?}", "quantity",
                                                 amount_string(&units), "price",
                                                 dec_string(&tr->price))))
                                json_decref(tiers), tiers = NULL;
                        rate_amount_release(&units);
                }
                rate_amount_set(&lo, &hi);
        }
        rate_amount_release(&lo);
        rate_amount_release(&hi);
        return tiers;
}

/* What usage line 'line' (of charge 'ch', quantity 'qty') was priced at,
   as members of 'out': "model", and "price", "size" and "packages", or
   "tiers" (quantity and price of each tier used). */
static tl_status pricing(const struct rate_charge *ch, const char *qty,
                         json_t *out, struct tl_error *err)
{
        struct rate_amount q, t;
        int bad = 0;

        rate_amount_init(&q);
        rate_amount_init(&t);
        if (!amount_parse(qty, &q)) {
                rate_amount_release(&q);
                rate_amount_release(&t);
                return tl_fail(err, TL_EINTERNAL,
                               "charge %s: quantity \"%.40s\" is not a "
                               "decimal",
                               ch->id, qty);
        }
        bad |= json_object_set_new(out, "model",
                                   json_string(rate_model_name(ch->model)));
        switch (ch->model) {
        case RATE_MODEL_PER_UNIT:
        case RATE_MODEL_FLAT:
                bad |=
                    json_object_set_new(out, "price", dec_string(&ch->price));
                break;
        case RATE_MODEL_VOLUME:
                /* The tier q falls in (q equal to an up_to falls in it). */
                for (size_t i = 0; i < ch->tier_count; i++) {
                        if (!ch->tiers[i].open) {
                                rate_amount_set_dec(&t, &ch->tiers[i].up_to);
                                if (rate_amount_cmp(&q, &t) > 0)
                                        continue;
                        }
                        bad |= json_object_set_new(
                            out, "price", dec_string(&ch->tiers[i].price));
                        break;
                }
                break;
        case RATE_MODEL_PACKAGE:
                rate_amount_set(&t, &q);
                rate_amount_div_dec(&t, &ch->size);
                rate_amount_ceil(&t);
                bad |=
                    json_object_set_new(out, "price", dec_string(&ch->price));
                bad |= json_object_set_new(out, "size", dec_string(&ch->size));
                bad |= json_object_set_new(out, "packages", amount_string(&t));
                break;
        case RATE_MODEL_GRADUATED:
                bad |= json_object_set_new(out, "tiers", tiers_used(ch, &q));
                break;
        }
        rate_amount_release(&q);
        rate_amount_release(&t);
        return bad ? tl_fail(err, TL_ENOMEM, "out of memory") : TL_OK;
}

static const struct rate_charge *charge_of(const struct rate_plan *plan,
                                           const char *id)
{
        for (size_t i = 0; i < plan->charge_count; i++)
                if (!strcmp(plan->charges[i].id, id))
                        return &plan->charges[i];
        return NULL;
}

/* Each usage line of 'lines' with its meter just after "charge" and its
   pricing just after "unit". */
static tl_status price_lines(const struct rate_invoice *inv, json_t *lines,
                             struct tl_error *err)
{
        json_t *line, *v, *priced;
        const char *k;
        size_t i;
        tl_status rc = TL_OK;

        json_array_foreach(lines, i, line)
        {
                const char *kind =
                    json_string_value(json_object_get(line, "kind"));
                const char *id =
                    json_string_value(json_object_get(line, "charge"));
                const char *qty =
                    json_string_value(json_object_get(line, "quantity"));
                const struct rate_charge *ch;

                if (!kind || strcmp(kind, "usage") || !id || !qty ||
                    !(ch = charge_of(inv->plan, id)))
                        continue;
                if (!(priced = json_object()))
                        return tl_fail(err, TL_ENOMEM, "out of memory");
                json_object_foreach(line, k, v)
                {
                        if (json_object_set(priced, k, v))
                                rc = tl_fail(err, TL_ENOMEM, "out of memory");
                        /* The meter, for its noun on the PDF: a charge's
                           id need not be its meter's. */
                        if (!rc && !strcmp(k, "charge") &&
                            ch->meter < inv->catalog->meter_count &&
                            json_object_set_new(
                                priced, "meter",
                                json_string(
                                    inv->catalog->meters[ch->meter].id)))
                                rc = tl_fail(err, TL_ENOMEM, "out of memory");
                        if (!rc && !strcmp(k, "unit"))
                                rc = pricing(ch, qty, priced, err);
                        if (rc)
                                break;
                }
                if (!rc && json_array_set(lines, i, priced))
                        rc = tl_fail(err, TL_ENOMEM, "out of memory");
                json_decref(priced);
                if (rc)
                        return rc;
        }
        return TL_OK;
}

/* Invoicing's members: issuer, issued, and the daily usage of the chart. */
static json_t *daily_of(const struct inv__usage *u, size_t ci)
{
        json_t *daily = json_array();

        for (uint32_t d = 0; daily && d < u->days; d++) {
                char day[16], cloud[48], local[48];
                int64_t y;
                unsigned m, dd;
                const tl_u128 *v = &u->daily[(ci * u->days + d) * 2];

                tl_civil_from_days(rate_acc_period(u->acc)->start_day + d, &y,
                                   &m, &dd);
                snprintf(day, sizeof day, "%04lld-%02u-%02u", (long long)y, m,
                         dd);
                tl_u128_format(v[0], cloud, sizeof cloud);
                tl_u128_format(v[1], local, sizeof local);
                if (json_array_append_new(
                        daily, json_pack("{s:s,s:s,s:s}", "day", day, "cloud",
                                         cloud, "local", local)))
                        json_decref(daily), daily = NULL;
        }
        return daily;
}

static json_t *issuer_of(const struct inv_config *cfg)
{
        const struct inv_issuer *is = &cfg->issuer;
        json_t *addr = json_array();

        for (int i = 0; addr && i < is->address_count; i++)
                if (json_array_append_new(addr, json_string(is->address[i])))
                        json_decref(addr), addr = NULL;
        return json_pack("{s:s,s:o,s:s?}", "name", is->name ? is->name : "",
                         "address", addr, "email", is->email);
}

tl_status inv__document_doc(const struct inv_config *cfg,
                            const struct inv__usage *u, size_t ci,
                            const char *issued, const struct rate_invoice *inv,
                            json_t **out, struct tl_error *err)
{
        json_t *doc = NULL;
        tl_status rc = rate_invoice_doc(inv, &doc, err);

        if (!rc)
                rc = price_lines(inv, json_object_get(doc, "lines"), err);
        if (!rc &&
            (json_object_set_new(doc, "issuer", issuer_of(cfg)) ||
             json_object_set_new(doc, "issued",
                                 issued ? json_string(issued) : json_null()) ||
             json_object_set_new(doc, "daily", daily_of(u, ci))))
                rc = tl_fail(err, TL_ENOMEM, "out of memory");
        if (rc) {
                json_decref(doc);
                return rc;
        }
        *out = doc;
        return TL_OK;
}

tl_status inv__document(const struct inv_config *cfg,
                        const struct inv__usage *u, size_t ci,
                        const char *issued, const struct rate_invoice *inv,
                        struct tl_buf *out, struct tl_error *err)
{
        json_t *doc = NULL;
        char *s = NULL;
        tl_status rc = inv__document_doc(cfg, u, ci, issued, inv, &doc, err);

        if (!rc && !(s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER)))
                rc = tl_fail(err, TL_ENOMEM, "out of memory");
        if (!rc)
                rc = tl_buf_puts(out, s, err);
        free(s); /* lint: libc-free: jansson allocated it */
        json_decref(doc);
        return rc;
}
