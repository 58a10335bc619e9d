/* The invoice document as the PDF shows it: checked once, then put into
   the words and numbers of the page. Strings only: no geometry here. */
#include <stdio.h>
#include <string.h>

#include "core/time.h"
#include "render_doc.h"
#include "render_pdf.h"

#define DEC_MAX INV__DEC_MAX
#define GROUPED_MAX INV__GROUPED_MAX

static const char *const KINDS[] = {"fee",     "seat",   "usage", "adjustment",
                                    "minimum", "credit", "tax"};

/* An optional member that must be of one JSON type when present. */
static tl_status get_typed(const json_t *obj, const char *where,
                           const char *key, json_type type, bool required,
                           const json_t **out, struct tl_error *err)
{
        static const char *const names[] = {
            [JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array",
            [JSON_STRING] = "a string",  [JSON_INTEGER] = "an integer",
            [JSON_REAL] = "a number",    [JSON_TRUE] = "a boolean",
            [JSON_FALSE] = "a boolean",  [JSON_NULL] = "null"};
        const json_t *v = json_object_get(obj, key);

        if (!v || json_is_null(v)) {
                if (required)
                        return tl_fail(err, TL_EINVAL, "invoice: %s%s: missing",
                                       where, key);
                *out = NULL;
                return TL_OK;
        }
        if (json_typeof(v) != type ||
            (type == JSON_INTEGER && json_integer_value(v) < 0))
                return tl_fail(
                    err, TL_EINVAL, "invoice: %s%s: expected %s%s", where, key,
                    type == JSON_INTEGER ? "a non-negative " : names[type],
                    type == JSON_INTEGER ? "integer" : "");
        *out = v;
        return TL_OK;
}

/* "YYYY-MM-DD" of a real day into its day number since 1970-01-01. */
static bool parse_day(const char *s, int64_t *days)
{
        int64_t y;
        unsigned m, d;

        if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
            strspn(s, "0123456789") != 4 || strspn(s + 5, "0123456789") != 2 ||
            strspn(s + 8, "0123456789") != 2)
                return false;
        y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
            (s[3] - '0');
        m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
        d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
        if (m < 1 || m > 12 || d < 1 || d > tl_days_in_month(y, m))
                return false;
        *days = tl_days_from_civil(y, m, d);
        return true;
}

static tl_status get_day(const json_t *obj, const char *where, const char *key,
                         const char **s, int64_t *days, struct tl_error *err)
{
        tl_status rc = inv__doc_get(obj, where, key, true, false, s, err);

        if (!rc && !parse_day(*s, days))
                rc =
                    tl_fail(err, TL_EINVAL,
                            "invoice: %s%s: expected YYYY-MM-DD, got \"%.40s\"",
                            where, key, *s);
        return rc;
}

/* The period as people say it: both ends included (the document's end is
   the first day after it). */
static tl_status read_period(const json_t *doc, struct inv__pdf_doc *d,
                             struct tl_error *err)
{
        const json_t *period = NULL;
        const char *start = NULL, *end = NULL;
        int64_t from, to, y;
        unsigned m, day;
        tl_status rc;

        if ((rc = get_typed(doc, "", "period", JSON_OBJECT, true, &period,
                            err)) ||
            (rc = get_day(period, "period.", "start", &start, &from, err)) ||
            (rc = get_day(period, "period.", "end", &end, &to, err)))
                return rc;
        if (to <= from)
                return tl_fail(err, TL_EINVAL,
                               "invoice: period: end %s is not after start %s",
                               end, start);
        tl_civil_from_days(to - 1, &y, &m, &day);
        snprintf(d->period, sizeof d->period, "%s \xe2\x80\x93 %04d-%02u-%02u",
                 start, (int)y, m, day);
        return TL_OK;
}

/* A graduated line's tiers as used: each {"quantity", "price"}. */
static tl_status read_tiers(const json_t *line, const char *where,
                            struct tl_error *err)
{
        const json_t *tiers = NULL, *t;
        const char *s;
        char at[96];
        size_t i;
        tl_status rc;

        if ((rc = get_typed(line, where, "tiers", JSON_ARRAY, false, &tiers,
                            err)))
                return rc;
        json_array_foreach(tiers, i, t)
        {
                snprintf(at, sizeof at, "%stiers[%zu].", where, i);
                if (!json_is_object(t))
                        return tl_fail(err, TL_EINVAL,
                                       "invoice: %stiers[%zu]: expected an "
                                       "object",
                                       where, i);
                if ((rc = inv__doc_get(t, at, "quantity", true, true, &s,
                                       err)) ||
                    (rc = inv__doc_get(t, at, "price", true, true, &s, err)))
                        return rc;
        }
        return TL_OK;
}

static tl_status read_line(const json_t *line, size_t i, struct tl_error *err)
{
        static const char *const decimals[] = {
            "quantity", "unit",     "price",          "rate",
            "size",     "packages", "allowance_used", "capacity"};
        static const char *const strings[] = {
            "name", "id", "charge", "meter", "model_class", "period", "model"};
        static const char *const counts[] = {"seat_days", "active_days",
                                             "period_days"};
        const char *kind = NULL, *s;
        const json_t *v;
        char where[40];
        size_t k;
        tl_status rc;

        snprintf(where, sizeof where, "lines[%zu].", i);
        if (!json_is_object(line))
                return tl_fail(err, TL_EINVAL,
                               "invoice: lines[%zu]: expected an object", i);
        if ((rc = inv__doc_get(line, where, "kind", true, false, &kind, err)) ||
            (rc = inv__doc_get(line, where, "amount", true, true, &s, err)))
                return rc;
        for (k = 0; k < sizeof KINDS / sizeof KINDS[0]; k++)
                if (!strcmp(kind, KINDS[k]))
                        break;
        if (k == sizeof KINDS / sizeof KINDS[0])
                return tl_fail(err, TL_EINVAL,
                               "invoice: %skind: unknown kind \"%.40s\"", where,
                               kind);
        for (k = 0; k < sizeof decimals / sizeof decimals[0]; k++)
                if ((rc = inv__doc_get(line, where, decimals[k], false, true,
                                       &s, err)))
                        return rc;
        for (k = 0; k < sizeof strings / sizeof strings[0]; k++)
                if ((rc = inv__doc_get(line, where, strings[k], false, false,
                                       &s, err)))
                        return rc;
        for (k = 0; k < sizeof counts / sizeof counts[0]; k++)
                if ((rc = get_typed(line, where, counts[k], JSON_INTEGER, false,
                                    &v, err)))
                        return rc;
        return read_tiers(line, where, err);
}

/* Each entry of the array 'key' of 'doc' must be an object holding the
   string fields 'names' ('decimals' of them, counted from the first, as
   decimals; a "day" field as a date). */
static tl_status read_entries(const json_t *doc, const char *key,
                              const char *const *names, size_t count,
                              size_t decimals, const json_t **out,
                              struct tl_error *err)
{
        const json_t *arr = NULL, *e;
        const char *s;
        char where[48];
        int64_t day;
        size_t i;
        tl_status rc;

        if ((rc = get_typed(doc, "", key, JSON_ARRAY, false, &arr, err)))
                return rc;
        json_array_foreach(arr, i, e)
        {
                snprintf(where, sizeof where, "%s[%zu].", key, i);
                if (!json_is_object(e))
                        return tl_fail(err, TL_EINVAL,
                                       "invoice: %s[%zu]: expected an object",
                                       key, i);
                for (size_t k = 0; k < count; k++) {
                        rc = strcmp(names[k], "day")
                                 ? inv__doc_get(e, where, names[k], true,
                                                k < decimals, &s, err)
                                 : get_day(e, where, "day", &s, &day, err);
                        if (rc)
                                return rc;
                }
        }
        *out = arr;
        return TL_OK;
}

static tl_status read_issuer(const json_t *doc, struct inv__pdf_doc *d,
                             struct tl_error *err)
{
        const json_t *issuer = NULL, *rules = NULL, *line;
        size_t i;
        tl_status rc;

        d->issuer_name = d->issuer_email = NULL;
        d->address = NULL;
        if ((rc = get_typed(doc, "", "issuer", JSON_OBJECT, false, &issuer,
                            err)) ||
            (rc = get_typed(doc, "", "rules", JSON_OBJECT, false, &rules, err)))
                return rc;
        d->catalog = d->catalog_version = NULL;
        if (rules && ((rc = inv__doc_get(rules, "rules.", "catalog", false,
                                         false, &d->catalog, err)) ||
                      (rc = inv__doc_get(rules, "rules.", "version", false,
                                         false, &d->catalog_version, err))))
                return rc;
        if (!issuer)
                return TL_OK;
        if ((rc = inv__doc_get(issuer, "issuer.", "name", false, false,
                               &d->issuer_name, err)) ||
            (rc = inv__doc_get(issuer, "issuer.", "email", false, false,
                               &d->issuer_email, err)) ||
            (rc = get_typed(issuer, "issuer.", "address", JSON_ARRAY, false,
                            &d->address, err)))
                return rc;
        json_array_foreach(d->address, i, line)
        {
                if (!json_is_string(line))
                        return tl_fail(err, TL_EINVAL,
                                       "invoice: issuer.address[%zu]: "
                                       "expected a string",
                                       i);
        }
        return TL_OK;
}

tl_status inv__pdf_read(const json_t *doc, struct inv__pdf_doc *d,
                        struct tl_error *err)
{
        static const char *const daily[] = {"cloud", "local", "day"};
        static const char *const savings[] = {"quantity", "cloud_equivalent",
                                              "meter", "priced_as"};
        const json_t *line;
        size_t i;
        tl_status rc;

        if (!json_is_object(doc))
                return tl_fail(err, TL_EINVAL, "invoice: expected an object");
        if ((rc = inv__doc_get(doc, "", "number", false, false, &d->number,
                               err)) ||
            (rc = inv__doc_get(doc, "", "status", true, false, &d->status,
                               err)) ||
            (rc = inv__doc_get(doc, "", "customer", true, false, &d->customer,
                               err)) ||
            (rc = inv__doc_get(doc, "", "customer_name", false, false,
                               &d->customer_name, err)) ||
            (rc = inv__doc_get(doc, "", "plan", false, false, &d->plan, err)) ||
            (rc = inv__doc_get(doc, "", "plan_name", false, false,
                               &d->plan_name, err)) ||
            (rc = inv__doc_get(doc, "", "currency", true, false, &d->currency,
                               err)) ||
            (rc = inv__doc_get(doc, "", "issued", false, false, &d->issued,
                               err)) ||
            (rc = read_period(doc, d, err)) ||
            (rc =
                 get_typed(doc, "", "lines", JSON_ARRAY, true, &d->lines, err)))
                return rc;
        json_array_foreach(d->lines, i, line)
        {
                if ((rc = read_line(line, i, err)))
                        return rc;
        }
        if ((rc = inv__doc_get(doc, "", "subtotal", true, true, &d->subtotal,
                               err)) ||
            (rc = inv__doc_get(doc, "", "credit", true, true, &d->credit,
                               err)) ||
            (rc = inv__doc_get(doc, "", "tax", true, true, &d->tax, err)) ||
            (rc = inv__doc_get(doc, "", "total", true, true, &d->total, err)) ||
            (rc = get_typed(doc, "", "cohorts", JSON_OBJECT, false, &d->cohorts,
                            err)) ||
            (rc = get_typed(doc, "", "usage", JSON_ARRAY, false, &d->usage,
                            err)) ||
            (rc = read_entries(doc, "daily", daily, 3, 2, &d->daily, err)) ||
            (rc =
                 read_entries(doc, "savings", savings, 4, 2, &d->savings, err)))
                return rc;
        d->draft = !strcmp(d->status, "draft");
        d->voided = inv__pdf_str(doc, "payment_status") &&
                    !strcmp(inv__pdf_str(doc, "payment_status"), "void");
        d->credits_invoice = d->reason = NULL;
        if (!strcmp(inv__pdf_str(doc, "type") ? inv__pdf_str(doc, "type") : "",
                    "credit_note") &&
            ((rc = inv__doc_get(doc, "", "invoice", true, false,
                                &d->credits_invoice, err)) ||
             (rc = inv__doc_get(doc, "", "reason", true, false, &d->reason,
                                err))))
                return rc;
        return read_issuer(doc, d, err);
}

/* A member string of a checked document, or NULL. */
const char *inv__pdf_str(const json_t *obj, const char *key)
{
        return json_string_value(json_object_get(obj, key));
}

/* 'dec' (a checked plain decimal) with a comma between each three digits
   of its integer part: "-11000000.50" -> "-11,000,000.50". */
const char *inv__pdf_grouped(const char *dec, char out[GROUPED_MAX])
{
        size_t n = 0, int_len;

        if (*dec == '-')
                out[n++] = *dec++;
        int_len = strspn(dec, "0123456789");
        for (size_t i = 0; i < int_len; i++) {
                if (i && (int_len - i) % 3 == 0)
                        out[n++] = ',';
                out[n++] = dec[i];
        }
        snprintf(out + n, GROUPED_MAX - n, "%s", dec + int_len);
        return out;
}

/* True when the decimal 'dec' is zero ("0", "0.00", "-0"). */
static bool is_zero(const char *dec)
{
        return !dec[strspn(dec, "-0.")];
}

/* A rate as a percentage, by moving the point two places: "0.19" -> "19",
   "0.075" -> "7.5", "1" -> "100". */
static const char *percent(const char *rate, char out[GROUPED_MAX])
{
        const char *sign = *rate == '-' ? "-" : "";
        const char *point, *frac;
        char digits[GROUPED_MAX * 2];
        size_t int_len, whole, end, lead = 0;

        rate += *sign ? 1 : 0;
        point = strchr(rate, '.');
        frac = point ? point + 1 : "";
        int_len = point ? (size_t)(point - rate) : strlen(rate);
        /* The digits without the point, padded so two fractional digits
           exist to become integer ones; the point now sits at 'whole'. */
        snprintf(digits, sizeof digits, "%.*s%s00", (int)int_len, rate, frac);
        whole = int_len + 2;
        end = int_len + strlen(frac) > whole ? int_len + strlen(frac) : whole;
        while (end > whole && digits[end - 1] == '0')
                end--;
        while (lead + 1 < whole && digits[lead] == '0')
                lead++;
        if (end == whole)
                snprintf(out, GROUPED_MAX, "%s%.*s", sign, (int)(whole - lead),
                         digits + lead);
        else
                snprintf(out, GROUPED_MAX, "%s%.*s.%.*s", sign,
                         (int)(whole - lead), digits + lead, (int)(end - whole),
                         digits + whole);
        return out;
}

/* What a meter counts, from its event type, in the plural:
   "inference.matrix_ops" -> "matrix ops", "task.outcome" -> "outcomes".
   "units" when the document's usage does not say. */
static const char *noun(const struct inv__pdf_doc *d, const char *meter,
                        char out[48])
{
        const json_t *u;
        const char *event, *dot, *m;
        size_t i, n;

        snprintf(out, 48, "units");
        json_array_foreach(d->usage, i, u)
        {
                m = inv__pdf_str(u, "meter");
                event = inv__pdf_str(u, "event");
                if (!m || !event || !meter || strcmp(m, meter))
                        continue;
                dot = strrchr(event, '.');
                snprintf(out, 47, "%s", dot ? dot + 1 : event);
                for (char *c = out; *c; c++)
                        if (*c == '_')
                                *c = ' ';
                /* Event types name one event ("outcome"); a quantity
                   counts many. */
                n = strlen(out);
                if (n && out[n - 1] != 's')
                        snprintf(out + n, 48 - n, "s");
                break;
        }
        return out;
}

/* The meter a usage line's charge reads: the line's "meter" (stored
   invoices say it), else the charge id, which is the meter's in most
   catalogs. */
static const char *meter_of(const json_t *line)
{
        const char *m = inv__pdf_str(line, "meter");

        return m ? m : inv__pdf_str(line, "charge");
}

/*
** What a usage line was priced at, beside its quantity (or, for tiers,
** under its name): "@ 0.002 per 1,000" (per_unit, volume), "4 packs of
** 100 @ 5.00", "flat 10.00", or "10,000,000 @ 0.60 + 1,000,000 @ 0.40 per
** 1,000,000". A document without its pricing (stored before it was kept)
** shows the unit alone.
*/
static void usage_price(const json_t *line, const char *unit,
                        struct inv__pdf_cells *c)
{
        const char *model = inv__pdf_str(line, "model"),
                   *price = inv__pdf_str(line, "price");
        const json_t *tiers = json_object_get(line, "tiers"), *t;
        char g[GROUPED_MAX], g2[GROUPED_MAX], per[GROUPED_MAX + 8] = "";
        size_t i, n = 0;

        if (unit)
                snprintf(per, sizeof per, "per %s", inv__pdf_grouped(unit, g));
        if (model && !strcmp(model, "package") && price &&
            inv__pdf_str(line, "size") && inv__pdf_str(line, "packages")) {
                snprintf(c->qty2, sizeof c->qty2, "%s packs of %s @ %s",
                         inv__pdf_grouped(inv__pdf_str(line, "packages"), g),
                         inv__pdf_grouped(inv__pdf_str(line, "size"), g2),
                         price);
                return;
        }
        if (model && !strcmp(model, "flat") && price) {
                snprintf(c->qty2, sizeof c->qty2, "flat %s",
                         inv__pdf_grouped(price, g));
                return;
        }
        if (json_array_size(tiers)) {
                json_array_foreach(tiers, i, t)
                {
                        n += (size_t)snprintf(
                            c->sub + n,
                            n < sizeof c->sub ? sizeof c->sub - n : 0,
                            "%s%s @ %s", i ? " + " : "",
                            inv__pdf_grouped(inv__pdf_str(t, "quantity"), g),
                            inv__pdf_grouped(inv__pdf_str(t, "price"), g2));
                        if (n >= sizeof c->sub)
                                break;
                }
                if (n < sizeof c->sub && *per)
                        snprintf(c->sub + n, sizeof c->sub - n, " %s", per);
                return;
        }
        if (price)
                snprintf(c->qty2, sizeof c->qty2, "@ %s%s%s",
                         inv__pdf_grouped(price, g), *per ? " " : "", per);
        else
                snprintf(c->qty2, sizeof c->qty2, "%s", per);
}

/* A capacity licence's allowance, under the name (below the tiers when
   they are there), short enough for the column: "allowance 1,000,000
   used in full", or "allowance used 400,000 of 1,000,000". */
static void allowance(const json_t *line, struct inv__pdf_cells *c)
{
        const char *used = inv__pdf_str(line, "allowance_used"),
                   *cap = inv__pdf_str(line, "capacity");
        char g[GROUPED_MAX], g2[GROUPED_MAX];
        char *to = c->sub[0] ? c->sub2 : c->sub;

        if (!used || !cap)
                return;
        if (!strcmp(used, cap))
                snprintf(to, sizeof c->sub, "allowance %s used in full",
                         inv__pdf_grouped(cap, g));
        else
                snprintf(to, sizeof c->sub, "allowance used %s of %s",
                         inv__pdf_grouped(used, g), inv__pdf_grouped(cap, g2));
}

void inv__pdf_cells(const struct inv__pdf_doc *d, const json_t *line,
                    struct inv__pdf_cells *c)
{
        const char *kind = inv__pdf_str(line, "kind"),
                   *q = inv__pdf_str(line, "quantity");
        const char *unit = inv__pdf_str(line, "unit"),
                   *price = inv__pdf_str(line, "price");
        const json_t *days = json_object_get(line, "seat_days");
        json_int_t active =
            json_integer_value(json_object_get(line, "active_days"));
        json_int_t whole =
            json_integer_value(json_object_get(line, "period_days"));
        char g[GROUPED_MAX], g2[GROUPED_MAX], what[48];

        c->name =
            inv__pdf_str(line, "name") ? inv__pdf_str(line, "name") : kind;
        c->sub[0] = c->sub2[0] = c->qty[0] = c->qty2[0] = '\0';
        inv__pdf_grouped(inv__pdf_str(line, "amount"), c->amount);
        if (!strcmp(kind, "usage")) {
                if (q)
                        snprintf(c->qty, sizeof c->qty, "%s %s",
                                 inv__pdf_grouped(q, g),
                                 noun(d, meter_of(line), what));
                usage_price(line, unit, c);
                allowance(line, c);
        } else if (!strcmp(kind, "seat")) {
                if (q)
                        snprintf(c->qty, sizeof c->qty, "%s seat-months",
                                 inv__pdf_grouped(q, g));
                if (days)
                        snprintf(c->qty2, sizeof c->qty2, "(%lld seat-days)",
                                 (long long)json_integer_value(days));
                snprintf(c->sub, sizeof c->sub, "%s models%s%s%s",
                         inv__pdf_str(line, "model_class")
                             ? inv__pdf_str(line, "model_class")
                             : "all",
                         price ? " \xc2\xb7 " : "",
                         price ? inv__pdf_grouped(price, g2) : "",
                         price ? " per seat-month" : "");
        } else if (!strcmp(kind, "adjustment") &&
                   inv__pdf_str(line, "period")) {
                snprintf(c->qty, sizeof c->qty, "corrects %s",
                         inv__pdf_str(line, "period"));
        } else if (whole > 0 && active < whole) {
                snprintf(c->qty, sizeof c->qty, "%lld/%lld days",
                         (long long)active, (long long)whole);
        }
}

bool inv__pdf_segment_heading(const json_t *line, const json_t **open,
                              char *out, size_t size)
{
        const json_t *seg = json_object_get(line, "segment");
        const char *plan = inv__pdf_str(seg, "plan");
        const char *start = inv__pdf_str(seg, "start");
        const char *end = inv__pdf_str(seg, "end");

        if (!seg || (*open && json_equal((json_t *)*open, (json_t *)seg)))
                return false;
        *open = seg;
        snprintf(out, size, "Plan %.60s, %.10s to %.10s (exclusive)",
                 plan ? plan : "?", start ? start : "?", end ? end : "?");
        return true;
}

/* The lines that are charges; credit and tax belong to the totals. */
bool inv__pdf_is_charge(const json_t *line)
{
        const char *kind = inv__pdf_str(line, "kind");

        return strcmp(kind, "credit") && strcmp(kind, "tax");
}

/* The label of the first line of 'kind', with the tax rate when given. */
void inv__pdf_total_label(const struct inv__pdf_doc *d, const char *kind,
                          const char *fallback, char *out, size_t size)
{
        const json_t *line;
        char pct[GROUPED_MAX];
        size_t i;

        snprintf(out, size, "%s", fallback);
        json_array_foreach(d->lines, i, line)
        {
                if (strcmp(inv__pdf_str(line, "kind"), kind))
                        continue;
                if (inv__pdf_str(line, "name"))
                        snprintf(out, size, "%s", inv__pdf_str(line, "name"));
                if (inv__pdf_str(line, "rate"))
                        snprintf(out + strlen(out), size - strlen(out),
                                 " (%s%%)",
                                 percent(inv__pdf_str(line, "rate"), pct));
                return;
        }
}

/* The sentence of one savings entry. */
void inv__pdf_saving(const struct inv__pdf_doc *d, const json_t *e, char *out,
                     size_t size)
{
        char q[GROUPED_MAX], amount[GROUPED_MAX], what[48];

        if (is_zero(inv__pdf_str(e, "quantity"))) {
                snprintf(out, size,
                         "No on-device usage of %s this period, so no "
                         "savings to show against %s in the cloud.",
                         inv__pdf_str(e, "meter"),
                         inv__pdf_str(e, "priced_as"));
                return;
        }
        snprintf(out, size,
                 "Your on-device usage (%s %s of %s) would have cost %s %s "
                 "in the cloud (priced as %s).",
                 inv__pdf_grouped(inv__pdf_str(e, "quantity"), q),
                 noun(d, inv__pdf_str(e, "meter"), what),
                 inv__pdf_str(e, "meter"), d->currency,
                 inv__pdf_grouped(inv__pdf_str(e, "cloud_equivalent"), amount),
                 inv__pdf_str(e, "priced_as"));
}
