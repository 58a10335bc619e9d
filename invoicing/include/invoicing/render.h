/* Invoice renderers. Each works from the stored invoice document (the JSON
   of docs/formats.md, as invoicing keeps it in invoices.body), so a finalized
   invoice re-rendered years later is the same invoice. */
#ifndef INV_RENDER_H
#define INV_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/str.h"

/*
** The invoice document holds, besides the fields of docs/formats.md:
**   "issuer": {"name": "...", "address": ["line", ...], "email": "..."}
**   "issued": "YYYY-MM-DD" or null (the finalization day)
**   "daily": [{"day": "2026-10-01", "cloud": "123", "local": "45"}, ...]
**            one entry per day of the period, tokens (input + output) as
**            exact decimal strings: cloud = deployment cloud, local = device.
** Adjustment lines carry "period": "YYYY-MM" (the period they correct).
*/

/* Flags of inv_render_csv. */
#define INV_CSV_HEADER 1 /* a header row first */
/* The allowance columns, also for a document without capacity licences:
   so every row of a file made of several documents has the same columns. */
#define INV_CSV_CAPACITY 2

/*
** Append the CSV form of 'doc' to 'out': a header row (when 'flags' has
** INV_CSV_HEADER; 1 is that flag) and one row per line, for finance
** imports (RFC 4180 quoting). Columns:
** number,status,customer,period_start,period_end,currency,line_no,kind,
** ref,name,quantity,unit,amount,model,price,size,tiers (what the line was
** priced at: see docs/formats.md), then allowance_used,capacity when a
** line of 'doc' has them (a capacity licence) or 'flags' has
** INV_CSV_CAPACITY. Text cells a spreadsheet would run as formulas get a
** quote in front. TL_OK, TL_EINVAL naming the missing field, TL_ENOMEM.
*/
tl_status inv_render_csv(const json_t *doc, int flags, struct tl_buf *out,
                         struct tl_error *err);

/* Whether a usage line of 'doc' states a capacity (inv_render_csv then
   writes the allowance columns). */
bool inv_csv_has_capacity(const json_t *doc);

/*
** Write 'doc' as a one-page (more if the lines need it) A4 PDF to 'path'
** with cairo: issuer and customer blocks, number/status/period, the lines
** with quantities and units, totals, a chart of daily usage (local vs
** cloud) and the savings box. TL_OK, TL_EINVAL, TL_EIO naming 'path'.
*/
tl_status inv_render_pdf(const json_t *doc, const char *path,
                         struct tl_error *err);

/* The first page of the same rendering as a PNG (for visual checks). */
tl_status inv_render_png(const json_t *doc, const char *path,
                         struct tl_error *err);

/*
** The file name (without extension) that stands for 'id', an invoice
** number or a customer id, into 'out' of 'size' bytes. Bytes of
** [A-Za-z0-9._-] stay, every other byte becomes %XX (upper-case hex), and
** so does a leading '.': distinct ids give distinct names, none hidden or
** "..", and inv_file_name_decode gives 'id' back. TL_OK; TL_EINVAL for an
** empty id or a name that does not fit 'size' (never cut: a cut name could
** be another id's).
*/
tl_status inv_file_name(const char *id, char *out, size_t size,
                        struct tl_error *err);

/*
** The id whose inv_file_name is 'name', into 'out' of 'size' bytes. TL_OK;
** TL_EINVAL naming the byte when 'name' is not exactly such a name (a bad
** or needless escape, an unencoded byte, %00) or does not fit.
*/
tl_status inv_file_name_decode(const char *name, char *out, size_t size,
                               struct tl_error *err);

#endif
