/* The CSV form of an invoice: one row per line, for finance imports. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "invoicing/render.h"
#include "render_doc.h"

/*
** Quoting follows RFC 4180, but rows end in a bare LF rather than CRLF:
** every importer we target (spreadsheets, pandas, PostgreSQL COPY) accepts
** LF, and LF keeps the output diffable with the rest of tally's text.
** Line breaks inside a quoted field are kept as they are.
*/
static const char CSV_HEADER[] =
    "number,status,customer,period_start,period_end,currency,line_no,"
    "kind,ref,name,quantity,unit,amount,model,price,size,tiers\n";
/* Only with capacity licences, so other exports keep their bytes. */
static const char CSV_CAPACITY_HEADER[] = ",allowance_used,capacity";

/* Which field of each kind of line names what it prices (the ref column). */
static const struct {
        const char *kind;
        const char *ref_key; /* NULL: the kind prices nothing by name */
} KINDS[] = {
    {"fee", "id"},       {"seat", "model_class"},
    {"usage", "charge"}, {"adjustment", "period"},
    {"minimum", NULL},   {"credit", NULL},
    {"tax", NULL},
};

/* The fields shared by every row of one invoice. */
struct head {
        const char *number, *status, *customer, *start, *end, *currency;
};

/* The text of one row's own columns; NULL prints as an empty field. */
struct row {
        const char *kind, *ref, *name, *quantity, *unit, *amount;
        const char *model, *price, *size;      /* what the line was priced at */
        const char *allowance_used, *capacity; /* capacity licences */
        char *tiers; /* "10000000 @ 0.60; 1000000 @ 0.40"; tl_free it */
};

/* An output cursor that remembers its first failure, so callers write a
   whole row and check once. */
struct csv {
        struct tl_buf *out;
        struct tl_error *err;
        tl_status rc;
};

static void put(struct csv *c, const char *s, size_t len)
{
        if (!c->rc)
                c->rc = tl_buf_append(c->out, s, len, c->err);
}

/* What a spreadsheet runs as a formula when a text cell starts with it
   (OWASP, "CSV Injection"); tab and CR too, as some importers drop them. */
static bool formula_lead(const char *s)
{
        return *s && strchr("=+-@\t\r", *s);
}

/*
** One field, preceded by a comma unless it opens the row. Fields holding
** a comma, a quote, CR or LF are quoted, their quotes doubled. A 'text'
** field that a spreadsheet would run as a formula gets a single quote in
** front, inside quotes: the cell then shows the text as it is. Numeric
** fields are checked plain decimals ([-]digits[.digits]) and stay as they
** are, so -12.50 imports as a number: a spreadsheet cannot run a decimal.
*/
static void field(struct csv *c, const char *s, bool first, bool text)
{
        bool defuse = text && s && formula_lead(s);
        const char *q;

        if (!first)
                put(c, ",", 1);
        if (!s)
                return;
        if (!defuse && !s[strcspn(s, ",\"\r\n")]) {
                put(c, s, strlen(s));
                return;
        }
        put(c, defuse ? "\"'" : "\"", defuse ? 2 : 1);
        while ((q = strchr(s, '"'))) {
                put(c, s, (size_t)(q - s) + 1);
                put(c, "\"", 1);
                s = q + 1;
        }
        put(c, s, strlen(s));
        put(c, "\"", 1);
}

static tl_status read_head(const json_t *doc, struct head *h,
                           struct tl_error *err)
{
        const json_t *period = json_object_get(doc, "period");
        tl_status rc;

        if (!json_is_object(doc))
                return tl_fail(err, TL_EINVAL, "invoice: expected an object");
        if ((rc = inv__doc_get(doc, "", "number", false, false, &h->number,
                               err)) ||
            (rc = inv__doc_get(doc, "", "status", true, false, &h->status,
                               err)) ||
            (rc = inv__doc_get(doc, "", "customer", true, false, &h->customer,
                               err)))
                return rc;
        if (!period || json_is_null(period))
                return tl_fail(err, TL_EINVAL, "invoice: period: missing");
        if (!json_is_object(period))
                return tl_fail(err, TL_EINVAL,
                               "invoice: period: expected an object");
        if ((rc = inv__doc_get(period, "period.", "start", true, false,
                               &h->start, err)) ||
            (rc = inv__doc_get(period, "period.", "end", true, false, &h->end,
                               err)))
                return rc;
        return inv__doc_get(doc, "", "currency", true, false, &h->currency,
                            err);
}

/* A graduated line's tiers as used, as one text cell (NULL: none). */
static tl_status read_tiers(const json_t *line, const char *where,
                            struct row *r, struct tl_error *err)
{
        const json_t *tiers = json_object_get(line, "tiers"), *t;
        const char *q, *price;
        char at[96];
        struct tl_buf b;
        size_t i;
        tl_status rc = TL_OK;

        r->tiers = NULL;
        if (!tiers || json_is_null(tiers))
                return TL_OK;
        if (!json_is_array(tiers))
                return tl_fail(err, TL_EINVAL,
                               "invoice: %stiers: expected an array", where);
        tl_buf_init(&b, 0);
        json_array_foreach(tiers, i, t)
        {
                snprintf(at, sizeof at, "%stiers[%zu].", where, i);
                if (!json_is_object(t))
                        rc = tl_fail(err, TL_EINVAL,
                                     "invoice: %stiers[%zu]: expected an "
                                     "object",
                                     where, i);
                if (!rc)
                        rc = inv__doc_get(t, at, "quantity", true, true, &q,
                                          err);
                if (!rc)
                        rc = inv__doc_get(t, at, "price", true, true, &price,
                                          err);
                if (!rc)
                        rc = tl_buf_printf(&b, err, "%s%s @ %s", i ? "; " : "",
                                           q, price);
                if (rc)
                        break;
        }
        if (!rc && b.len)
                r->tiers = tl_strndup(b.data, b.len);
        if (!rc && b.len && !r->tiers)
                rc = tl_fail(err, TL_ENOMEM, "out of memory");
        tl_buf_release(&b);
        return rc;
}

/* Line 'i' (0-based, as in the messages' field paths) into 'r'. */
static tl_status read_line(const json_t *line, size_t i, struct row *r,
                           struct tl_error *err)
{
        const char *ref_key = NULL;
        char where[40];
        size_t k;
        tl_status rc;

        snprintf(where, sizeof where, "lines[%zu].", i);
        if (!json_is_object(line))
                return tl_fail(err, TL_EINVAL,
                               "invoice: lines[%zu]: expected an object", i);
        if ((rc =
                 inv__doc_get(line, where, "kind", true, false, &r->kind, err)))
                return rc;
        for (k = 0; k < sizeof KINDS / sizeof KINDS[0]; k++)
                if (!strcmp(r->kind, KINDS[k].kind))
                        break;
        if (k == sizeof KINDS / sizeof KINDS[0])
                return tl_fail(err, TL_EINVAL,
                               "invoice: %skind: unknown kind \"%s\"", where,
                               r->kind);
        ref_key = KINDS[k].ref_key;
        r->ref = NULL;
        if ((ref_key && (rc = inv__doc_get(line, where, ref_key, false, false,
                                           &r->ref, err))) ||
            (rc = inv__doc_get(line, where, "name", false, false, &r->name,
                               err)) ||
            (rc = inv__doc_get(line, where, "quantity", false, true,
                               &r->quantity, err)) ||
            (rc =
                 inv__doc_get(line, where, "unit", false, true, &r->unit, err)))
                return rc;
        if ((rc = inv__doc_get(line, where, "amount", true, true, &r->amount,
                               err)) ||
            (rc = inv__doc_get(line, where, "model", false, false, &r->model,
                               err)) ||
            (rc = inv__doc_get(line, where, "price", false, true, &r->price,
                               err)) ||
            (rc = inv__doc_get(line, where, "size", false, true, &r->size,
                               err)) ||
            (rc = inv__doc_get(line, where, "allowance_used", false, true,
                               &r->allowance_used, err)) ||
            (rc = inv__doc_get(line, where, "capacity", false, true,
                               &r->capacity, err)))
                return rc;
        return read_tiers(line, where, r, err);
}

static void put_row(struct csv *c, const struct head *h, size_t line_no,
                    const struct row *r, bool capacity)
{
        char no[24];

        snprintf(no, sizeof no, "%zu", line_no);
        field(c, h->number, true, true);
        field(c, h->status, false, true);
        field(c, h->customer, false, true);
        field(c, h->start, false, true);
        field(c, h->end, false, true);
        field(c, h->currency, false, true);
        field(c, no, false, false);
        field(c, r->kind, false, true);
        field(c, r->ref, false, true);
        field(c, r->name, false, true);
        field(c, r->quantity, false, false);
        field(c, r->unit, false, false);
        field(c, r->amount, false, false);
        field(c, r->model, false, true);
        field(c, r->price, false, false);
        field(c, r->size, false, false);
        field(c, r->tiers, false, true);
        if (capacity) {
                field(c, r->allowance_used, false, false);
                field(c, r->capacity, false, false);
        }
        put(c, "\n", 1);
}

bool inv_csv_has_capacity(const json_t *doc)
{
        const json_t *lines = json_object_get(doc, "lines"), *line;
        size_t i;

        json_array_foreach(lines, i, line)
        {
                if (json_object_get(line, "capacity"))
                        return true;
        }
        return false;
}

tl_status inv_render_csv(const json_t *doc, int flags, struct tl_buf *out,
                         struct tl_error *err)
{
        struct csv c = {out, err, TL_OK};
        size_t start_len = out->len;
        const json_t *lines;
        struct head h;
        struct row r;
        bool capacity;

        if ((c.rc = read_head(doc, &h, err)))
                return c.rc;
        lines = json_object_get(doc, "lines");
        if (!lines || json_is_null(lines))
                return tl_fail(err, TL_EINVAL, "invoice: lines: missing");
        if (!json_is_array(lines))
                return tl_fail(err, TL_EINVAL,
                               "invoice: lines: expected an array");
        capacity = (flags & INV_CSV_CAPACITY) || inv_csv_has_capacity(doc);
        if ((flags & INV_CSV_HEADER) && !capacity)
                put(&c, CSV_HEADER, sizeof CSV_HEADER - 1);
        if ((flags & INV_CSV_HEADER) && capacity) {
                put(&c, CSV_HEADER, sizeof CSV_HEADER - 2);
                put(&c, CSV_CAPACITY_HEADER, sizeof CSV_CAPACITY_HEADER - 1);
                put(&c, "\n", 1);
        }
        for (size_t i = 0; !c.rc && i < json_array_size(lines); i++) {
                r.tiers = NULL;
                c.rc = read_line(json_array_get(lines, i), i, &r, err);
                if (!c.rc)
                        put_row(&c, &h, i + 1, &r, capacity);
                tl_free(r.tiers);
        }
        /* 'out' is appended to: on failure it goes back to what it held. */
        if (c.rc)
                tl_buf_truncate(out, start_len);
        return c.rc;
}
