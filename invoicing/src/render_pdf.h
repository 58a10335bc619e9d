/* Private to the PDF and PNG renderer: the invoice document checked once,
   and the words and numbers its page shows (render_pdf_doc.c). Text only;
   the drawing is render_pdf.c and render_pdf_chart.c (render_pdf_draw.h). */
#ifndef INV_RENDER_PDF_H
#define INV_RENDER_PDF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

#include "render_doc.h" /* INV__DEC_MAX */
/* A decimal of INV__DEC_MAX characters with its thousands separators. */
#define INV__GROUPED_MAX 96
#define INV__CELL_MAX 200

/*
** The document's fields, checked by inv__pdf_read so that drawing cannot
** fail on them. Strings are borrowed from the JSON; NULL where an optional
** field is absent. Arrays and objects are NULL when absent too (jansson's
** iterators take NULL as empty).
*/
struct inv__pdf_doc {
        const char *number, *status, *customer, *customer_name, *plan,
            *plan_name, *currency, *issued;
        const char *subtotal, *credit, *tax, *total;
        const char *issuer_name, *issuer_email, *catalog, *catalog_version;
        const json_t *address, *cohorts, *lines, *daily, *savings, *usage;
        /* A credit note ("type": "credit_note") names the invoice it
           credits and why; NULL for an invoice. */
        const char *credits_invoice, *reason;
        char period[48]; /* "2026-10-01 – 2026-10-31", last day included */
        bool draft;
        bool voided; /* served with "payment_status": "void" */
};

/* The words of one table row; an empty string is not drawn. */
struct inv__pdf_cells {
        const char *name;         /* borrowed from the line */
        char sub[INV__CELL_MAX];  /* grey second line under the name */
        char sub2[INV__CELL_MAX]; /* a third, when the second is taken */
        char qty[INV__CELL_MAX];  /* quantity and what it counts */
        char qty2[INV__CELL_MAX]; /* its rest: same line if it fits, or below */
        char amount[INV__GROUPED_MAX];
};

/*
** Check 'doc' (borrowed; 'd' borrows from it) as the PDF needs it: the
** fields CSV needs plus totals, and the types of every optional field the
** page shows. Returns TL_OK, or TL_EINVAL naming the field path
** ("invoice: lines[3].amount: missing").
*/
tl_status inv__pdf_read(const json_t *doc, struct inv__pdf_doc *d,
                        struct tl_error *err);

/* The string member 'key' of 'obj', or NULL. */
const char *inv__pdf_str(const json_t *obj, const char *key);

/*
** Whether charge line 'line' opens a segment (the PDF groups lines by
** segment): its "segment" differs from '*open', which it then becomes, and
** 'out' the heading. False for lines without one or in the open one.
*/
bool inv__pdf_segment_heading(const json_t *line, const json_t **open,
                              char *out, size_t size);

/* The checked decimal 'dec' with commas between groups of three integer
   digits ("-11000000.50" -> "-11,000,000.50"), into 'out'; returns 'out'. */
const char *inv__pdf_grouped(const char *dec, char out[INV__GROUPED_MAX]);

/* True for lines that go into the table; credit and tax are totals. */
bool inv__pdf_is_charge(const json_t *line);

/* The words of the table row for 'line' (an element of d->lines). */
void inv__pdf_cells(const struct inv__pdf_doc *d, const json_t *line,
                    struct inv__pdf_cells *c);

/* The totals label of the first line of 'kind' (its name, and the tax rate
   as a percentage), or 'fallback' when there is none. */
void inv__pdf_total_label(const struct inv__pdf_doc *d, const char *kind,
                          const char *fallback, char *out, size_t size);

/* The sentence of the savings box for 'entry' (an element of d->savings). */
void inv__pdf_saving(const struct inv__pdf_doc *d, const json_t *entry,
                     char *out, size_t size);

#endif
