/* The invoice drawn for people: an A4 PDF, or its first page as a PNG. */
#include <cairo-pdf.h>
#include <cairo.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "invoicing/render.h"
#include "render_pdf.h"
#include "render_pdf_draw.h"

/*
** Doubles here are geometry only: cairo takes coordinates as doubles, and
** the chart (render_pdf_chart.c) scales daily token counts to bar heights.
** Every amount and quantity on the page is the document's exact decimal
** string, at most with thousands separators inserted
** (tools/scripts/check-money.sh lets render_pdf*.c and render_pdf*.h alone
** use double for that reason).
*/

/* The PNG is the page (render_pdf_draw.h) at twice the resolution. */
#define PNG_SCALE 2.0

#define FONT "DejaVu Sans"
#define PI 3.14159265358979

/* Table columns: description at the left, quantity and amount right-aligned. */
#define COL_DESC (LEFT + 8.0)
#define COL_DESC_W 190.0
#define COL_QTY_R (RIGHT - 104.0)
#define COL_QTY_W (COL_QTY_R - COL_DESC - COL_DESC_W - 12.0)
#define COL_AMT_R (RIGHT - 8.0)
#define COL_AMT_W (COL_AMT_R - COL_QTY_R - 10.0)

#define GROUPED_MAX INV__GROUPED_MAX

/* ---- Text ------------------------------------------------------------ */

void inv__pdf_ink(cairo_t *cr, unsigned rgb)
{
        cairo_set_source_rgb(cr, (double)((rgb >> 16) & 0xffu) / 255.0,
                             (double)((rgb >> 8) & 0xffu) / 255.0,
                             (double)(rgb & 0xffu) / 255.0);
}

void inv__pdf_font(cairo_t *cr, double size, bool bold)
{
        cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                               bold ? CAIRO_FONT_WEIGHT_BOLD
                                    : CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr, size);
}

double inv__pdf_width(cairo_t *cr, const char *s)
{
        cairo_text_extents_t e;

        cairo_text_extents(cr, s, &e);
        return e.x_advance;
}

/* Show 's' on baseline 'y' with its left edge, right edge or centre at 'x',
   cut with an ellipsis to 'max_w' points (0: no limit). */
void inv__pdf_show(cairo_t *cr, double x, double y, const char *s,
                   enum align al, double max_w)
{
        char cut[256];
        double w = inv__pdf_width(cr, s);
        size_t n;

        if (max_w > 0 && w > max_w) {
                n = strlen(s) < sizeof cut - 4 ? strlen(s) : sizeof cut - 4;
                do {
                        /* Step back over a whole UTF-8 character. */
                        while (n > 0 && ((unsigned char)s[--n] & 0xc0) == 0x80)
                                ;
                        snprintf(cut, sizeof cut, "%.*s\xe2\x80\xa6", (int)n,
                                 s);
                        w = inv__pdf_width(cr, cut);
                } while (n > 0 && w > max_w);
                s = cut;
        }
        if (al == AL_RIGHT)
                x -= w;
        else if (al == AL_CENTER)
                x -= w / 2;
        cairo_move_to(cr, x, y);
        cairo_show_text(cr, s);
}

/* Like inv__pdf_show(), for text that must never be cut (amounts, quantities):
   when wider than 'max_w' it is drawn smaller instead. */
static void show_exact(cairo_t *cr, double x, double y, const char *s,
                       enum align al, double max_w)
{
        cairo_matrix_t m;
        double w = inv__pdf_width(cr, s);

        if (w <= max_w) {
                inv__pdf_show(cr, x, y, s, al, 0);
                return;
        }
        cairo_save(cr);
        cairo_get_font_matrix(cr, &m);
        cairo_matrix_scale(&m, max_w / w, max_w / w);
        cairo_set_font_matrix(cr, &m);
        inv__pdf_show(cr, x, y, s, al, 0);
        cairo_restore(cr);
}

void inv__pdf_rule(cairo_t *cr, double x0, double x1, double y, double width,
                   unsigned rgb)
{
        inv__pdf_ink(cr, rgb);
        cairo_set_line_width(cr, width);
        cairo_move_to(cr, x0, y);
        cairo_line_to(cr, x1, y);
        cairo_stroke(cr);
}

void inv__pdf_rounded(cairo_t *cr, double x, double y, double w, double h,
                      double r)
{
        cairo_new_sub_path(cr);
        cairo_arc(cr, x + w - r, y + r, r, -PI / 2, 0);
        cairo_arc(cr, x + w - r, y + h - r, r, 0, PI / 2);
        cairo_arc(cr, x + r, y + h - r, r, PI / 2, PI);
        cairo_arc(cr, x + r, y + r, r, PI, 3 * PI / 2);
        cairo_close_path(cr);
}

/* Append a space and the 'len' bytes at 'word' to the '*used' bytes of
   'line' (of 'size' bytes) when the result still fits in 'w' points. */
static bool extend(cairo_t *cr, char *line, size_t size, size_t *used,
                   const char *word, size_t len, double w)
{
        if (*used + 1 + len >= size)
                return false;
        line[*used] = ' ';
        memcpy(line + *used + 1, word, len);
        line[*used + 1 + len] = '\0';
        if (inv__pdf_width(cr, line) > w) {
                line[*used] = '\0';
                return false;
        }
        *used += 1 + len;
        return true;
}

/*
** Greedy word wrap of 'text' into lines of at most 'w' points, 'lh' apart,
** the first baseline at 'y'. Draws only when 'draw'; returns the number of
** lines either way, so a box can be sized before it is drawn.
*/
int inv__pdf_wrap(cairo_t *cr, const char *text, double x, double y, double w,
                  double lh, bool draw)
{
        char line[512];
        size_t used = 0, word, len;
        int lines = 0;

        while (*text) {
                word = strcspn(text, " ");
                /* A word longer than half the buffer is cut; inv__pdf_show()
                   then shortens it to the width with an ellipsis. */
                len = word < sizeof line / 2 ? word : sizeof line / 2;
                if (used &&
                    !extend(cr, line, sizeof line, &used, text, len, w)) {
                        if (draw)
                                inv__pdf_show(cr, x, y + lh * lines, line,
                                              AL_LEFT, w);
                        lines++;
                        used = 0;
                }
                if (!used) {
                        memcpy(line, text, len);
                        line[len] = '\0';
                        used = len;
                }
                text += word;
                text += strspn(text, " ");
        }
        if (used) {
                if (draw)
                        inv__pdf_show(cr, x, y + lh * lines, line, AL_LEFT, w);
                lines++;
        }
        return lines;
}

/* ---- Pages ----------------------------------------------------------- */

static void draw_watermark(cairo_t *cr, const char *text)
{
        cairo_save(cr);
        cairo_translate(cr, PAGE_W / 2, PAGE_H / 2);
        cairo_rotate(cr, -0.6);
        inv__pdf_font(cr, 140, true);
        cairo_set_source_rgba(cr, 0.75, 0.22, 0.17, 0.08);
        inv__pdf_show(cr, 0, 50, text, AL_CENTER, 0);
        cairo_restore(cr);
}

/* Start page 'p->page': white paper, the draft watermark, the footer and,
   after the first page, a short reminder of whose invoice this is. */
static void begin_page(struct pg *p)
{
        cairo_t *cr = p->cr;
        const struct inv__pdf_doc *d = p->d;
        char text[160];

        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_paint(cr);
        if (d->draft || d->voided)
                draw_watermark(cr, d->draft ? "DRAFT" : "VOID");
        inv__pdf_rule(cr, LEFT, RIGHT, PAGE_H - 44, 0.5, C_RULE);
        inv__pdf_font(cr, 7.5, false);
        inv__pdf_ink(cr, C_MUTED);
        snprintf(text, sizeof text, "%s%s%s %s \xc2\xb7 %s",
                 d->issuer_name ? d->issuer_name : "",
                 d->issuer_name ? " \xc2\xb7 " : "",
                 d->credits_invoice ? "Credit note" : "Invoice",
                 d->number ? d->number : "(draft)", d->customer);
        inv__pdf_show(cr, LEFT, PAGE_H - 32, text, AL_LEFT, 380);
        if (p->pages)
                snprintf(text, sizeof text, "Page %d of %d", p->page, p->pages);
        else
                snprintf(text, sizeof text, "Page %d", p->page);
        inv__pdf_show(cr, RIGHT, PAGE_H - 32, text, AL_RIGHT, 0);
        p->y = TOP;
        if (p->page == 1)
                return;
        inv__pdf_font(cr, 10, true);
        inv__pdf_ink(cr, C_INK);
        inv__pdf_show(cr, LEFT, TOP + 10, d->issuer_name ? d->issuer_name : "",
                      AL_LEFT, 250);
        inv__pdf_font(cr, 9, false);
        inv__pdf_ink(cr, C_MUTED);
        snprintf(text, sizeof text, "%s %s (continued)",
                 d->credits_invoice ? "Credit note" : "Invoice",
                 d->number ? d->number : "draft");
        inv__pdf_show(cr, RIGHT, TOP + 10, text, AL_RIGHT, 0);
        inv__pdf_rule(cr, LEFT, RIGHT, TOP + 20, 1.0, C_ACCENT);
        p->y = TOP + 34;
}

/*
** Make room for 'h' points: when the page is full, end it and begin the
** next. False when the next page is past 'p->last_page', i.e. drawing is
** over (the PNG stops after page 1).
*/
bool inv__pdf_need(struct pg *p, double h)
{
        if (p->y + h <= BOTTOM)
                return true;
        if (p->page >= p->last_page)
                return false;
        cairo_show_page(p->cr);
        p->page++;
        begin_page(p);
        return true;
}

/* ---- Header and parties ---------------------------------------------- */

static void draw_badge(cairo_t *cr, double right, double y, const char *status,
                       bool draft)
{
        char up[32];
        double w;
        size_t i;

        for (i = 0; status[i] && i < sizeof up - 1; i++)
                up[i] = status[i] >= 'a' && status[i] <= 'z'
                            ? (char)(status[i] - 'a' + 'A')
                            : status[i];
        up[i] = '\0';
        inv__pdf_font(cr, 7.5, true);
        w = inv__pdf_width(cr, up) + 12;
        inv__pdf_rounded(cr, right - w, y, w, 14, 3);
        inv__pdf_ink(cr, draft                          ? C_DRAFT
                         : !strcmp(status, "finalized") ? C_FINAL
                                                        : C_MUTED);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 1, 1, 1);
        inv__pdf_show(cr, right - w / 2, y + 10, up, AL_CENTER, 0);
}

/* A grey label and its value, both on baseline 'y', in the header's
   right-hand column. */
static void meta_row(cairo_t *cr, double y, const char *label,
                     const char *value)
{
        inv__pdf_font(cr, 8.5, false);
        inv__pdf_ink(cr, C_MUTED);
        inv__pdf_show(cr, RIGHT - 190, y, label, AL_LEFT, 0);
        inv__pdf_ink(cr, C_INK);
        inv__pdf_show(cr, RIGHT, y, value, AL_RIGHT, 140);
}

static void draw_header(struct pg *p)
{
        cairo_t *cr = p->cr;
        const struct inv__pdf_doc *d = p->d;
        const char *number = d->number ? d->number : "Not yet numbered";
        const json_t *line;
        double y = p->y, ly = y + 32;
        size_t i;

        inv__pdf_font(cr, 16, true);
        inv__pdf_ink(cr, C_INK);
        inv__pdf_show(cr, LEFT, y + 16, d->issuer_name ? d->issuer_name : "",
                      AL_LEFT, 260);
        inv__pdf_font(cr, 8.5, false);
        inv__pdf_ink(cr, C_MUTED);
        json_array_foreach(d->address, i, line)
        {
                inv__pdf_show(cr, LEFT, ly, json_string_value(line), AL_LEFT,
                              260);
                ly += 12;
        }
        if (d->issuer_email)
                inv__pdf_show(cr, LEFT, ly, d->issuer_email, AL_LEFT, 260);

        inv__pdf_font(cr, 22, true);
        inv__pdf_ink(cr, C_ACCENT);
        inv__pdf_show(cr, RIGHT, y + 18,
                      d->credits_invoice ? "CREDIT NOTE" : "INVOICE", AL_RIGHT,
                      0);
        inv__pdf_font(cr, 10.5, true);
        inv__pdf_ink(cr, C_INK);
        inv__pdf_show(cr, RIGHT, y + 37, number, AL_RIGHT, 0);
        draw_badge(cr, RIGHT - inv__pdf_width(cr, number) - 8, y + 27,
                   d->status, d->draft);
        meta_row(cr, y + 58, "Issued",
                 d->issued ? d->issued : "not yet (draft)");
        meta_row(cr, y + 71, "Period", d->period);
        if (d->credits_invoice) {
                meta_row(cr, y + 84, "Credits invoice", d->credits_invoice);
                meta_row(cr, y + 97, "Reason", d->reason);
                ly = ly > y + 104 ? ly : y + 104;
        }
        /* A long address pushes the rule down rather than crossing it. */
        y = ly > y + 84 ? ly + 6 : y + 90;
        inv__pdf_rule(cr, LEFT, RIGHT, y, 1.2, C_ACCENT);
        p->y = y + 18;
}

static void draw_parties(struct pg *p)
{
        cairo_t *cr = p->cr;
        const struct inv__pdf_doc *d = p->d;
        const char *key;
        const json_t *v;
        char text[256];
        double y = p->y, ly = y + 38, bx = RIGHT - 200;

        inv__pdf_font(cr, 7.5, true);
        inv__pdf_ink(cr, C_MUTED);
        inv__pdf_show(cr, LEFT, y + 8, "BILL TO", AL_LEFT, 0);
        inv__pdf_font(cr, 12, true);
        inv__pdf_ink(cr, C_INK);
        inv__pdf_show(cr, LEFT, y + 24,
                      d->customer_name ? d->customer_name : d->customer,
                      AL_LEFT, 270);
        inv__pdf_font(cr, 8.5, false);
        snprintf(text, sizeof text, "Customer ID: %s", d->customer);
        inv__pdf_show(cr, LEFT, ly, text, AL_LEFT, 270);
        if (d->plan || d->plan_name) {
                if (d->plan && d->plan_name)
                        snprintf(text, sizeof text, "Plan: %s (%s)",
                                 d->plan_name, d->plan);
                else
                        snprintf(text, sizeof text, "Plan: %s",
                                 d->plan_name ? d->plan_name : d->plan);
                inv__pdf_show(cr, LEFT, ly += 12, text, AL_LEFT, 270);
        }
        json_object_foreach((json_t *)d->cohorts, key, v)
        {
                if (!json_is_string(v))
                        continue;
                snprintf(text, sizeof text, "Cohort: %s = %s", key,
                         json_string_value(v));
                inv__pdf_show(cr, LEFT, ly += 12, text, AL_LEFT, 270);
        }

        inv__pdf_rounded(cr, bx, y, RIGHT - bx, 62, 4);
        inv__pdf_ink(cr, C_BAND);
        cairo_fill(cr);
        inv__pdf_font(cr, 7.5, true);
        inv__pdf_ink(cr, C_MUTED);
        inv__pdf_show(cr, bx + 14, y + 17,
                      d->draft             ? "COST TO DATE"
                      : d->credits_invoice ? "TOTAL CREDITED"
                                           : "TOTAL DUE",
                      AL_LEFT, 0);
        snprintf(text, sizeof text, "%s ", d->currency);
        inv__pdf_grouped(d->total, text + strlen(text));
        inv__pdf_font(cr, 18, true);
        inv__pdf_ink(cr, C_INK);
        show_exact(cr, bx + 14, y + 44, text, AL_LEFT, RIGHT - bx - 28);
        p->y = (ly > y + 62 ? ly : y + 62) + 20;
}

/* ---- Lines ----------------------------------------------------------- */

static void draw_table_head(struct pg *p)
{
        cairo_t *cr = p->cr;
        char text[64];

        cairo_rectangle(cr, LEFT, p->y, RIGHT - LEFT, 20);
        inv__pdf_ink(cr, C_BAND);
        cairo_fill(cr);
        inv__pdf_font(cr, 7.5, true);
        inv__pdf_ink(cr, C_MUTED);
        inv__pdf_show(cr, COL_DESC, p->y + 13, "DESCRIPTION", AL_LEFT, 0);
        inv__pdf_show(cr, COL_QTY_R, p->y + 13, "QUANTITY", AL_RIGHT, 0);
        snprintf(text, sizeof text, "AMOUNT (%.16s)", p->d->currency);
        inv__pdf_show(cr, COL_AMT_R, p->y + 13, text, AL_RIGHT, 0);
        p->y += 20;
}

/* One line for the quantity cell when its two parts fit side by side. */
static void join_quantity(cairo_t *cr, struct inv__pdf_cells *c)
{
        char both[2 * INV__CELL_MAX];

        if (!c->qty2[0])
                return;
        snprintf(both, sizeof both, "%s %s", c->qty, c->qty2);
        inv__pdf_font(cr, 9, false);
        if (strlen(both) < sizeof c->qty &&
            inv__pdf_width(cr, both) <= COL_QTY_W) {
                memcpy(c->qty, both, strlen(both) + 1);
                c->qty2[0] = '\0';
        }
}

/* A segment's heading when 'line' opens one; false when the page ran
   out. */
static bool draw_segment(struct pg *p, const json_t *line, const json_t **open)
{
        cairo_t *cr = p->cr;
        char text[200];
        int page = p->page;

        if (!inv__pdf_segment_heading(line, open, text, sizeof text))
                return true;
        if (!inv__pdf_need(p, 22))
                return false;
        if (page != p->page)
                draw_table_head(p);
        inv__pdf_font(cr, 8.5, true);
        inv__pdf_ink(cr, C_INK);
        inv__pdf_show(cr, COL_DESC, p->y + 15, text, AL_LEFT, COL_DESC_W);
        p->y += 22;
        inv__pdf_rule(cr, LEFT, RIGHT, p->y, 0.5, C_RULE);
        return true;
}

static bool draw_lines(struct pg *p)
{
        cairo_t *cr = p->cr;
        const json_t *line, *seg = NULL;
        struct inv__pdf_cells c;
        double h;
        int page;
        size_t i;

        if (!inv__pdf_need(p, 60))
                return false;
        draw_table_head(p);
        json_array_foreach(p->d->lines, i, line)
        {
                if (!inv__pdf_is_charge(line))
                        continue;
                if (!draw_segment(p, line, &seg))
                        return false;
                inv__pdf_cells(p->d, line, &c);
                join_quantity(cr, &c);
                h = c.sub2[0] ? 39 : c.sub[0] || c.qty2[0] ? 30 : 21;
                page = p->page;
                if (!inv__pdf_need(p, h))
                        return false;
                if (page != p->page)
                        draw_table_head(p);
                inv__pdf_font(cr, 9.5, false);
                inv__pdf_ink(cr, C_INK);
                inv__pdf_show(cr, COL_DESC, p->y + 14, c.name, AL_LEFT,
                              COL_DESC_W);
                inv__pdf_font(cr, 9, false);
                show_exact(cr, COL_QTY_R, p->y + 14, c.qty, AL_RIGHT,
                           COL_QTY_W);
                show_exact(cr, COL_AMT_R, p->y + 14, c.amount, AL_RIGHT,
                           COL_AMT_W);
                inv__pdf_font(cr, 7.5, false);
                inv__pdf_ink(cr, C_MUTED);
                inv__pdf_show(cr, COL_DESC, p->y + 25, c.sub, AL_LEFT,
                              COL_DESC_W);
                show_exact(cr, COL_QTY_R, p->y + 25, c.qty2, AL_RIGHT,
                           COL_QTY_W);
                if (c.sub2[0])
                        inv__pdf_show(cr, COL_DESC, p->y + 34, c.sub2, AL_LEFT,
                                      COL_DESC_W);
                p->y += h;
                inv__pdf_rule(cr, LEFT, RIGHT, p->y, 0.5, C_RULE);
        }
        p->y += 10;
        return true;
}

static void totals_row(cairo_t *cr, double y, const char *label,
                       const char *dec)
{
        char g[GROUPED_MAX];

        inv__pdf_show(cr, RIGHT - 222, y, label, AL_LEFT, 150);
        show_exact(cr, COL_AMT_R, y, inv__pdf_grouped(dec, g), AL_RIGHT,
                   COL_AMT_W);
}

static bool draw_totals(struct pg *p)
{
        cairo_t *cr = p->cr;
        const struct inv__pdf_doc *d = p->d;
        char label[160], text[GROUPED_MAX + 24];
        double y;

        if (!inv__pdf_need(p, 92))
                return false;
        y = p->y;
        inv__pdf_font(cr, 9, false);
        inv__pdf_ink(cr, C_INK);
        totals_row(cr, y + 12, "Subtotal", d->subtotal);
        inv__pdf_total_label(d, "credit", "Credit", label, sizeof label);
        totals_row(cr, y + 28, label, d->credit);
        inv__pdf_total_label(d, "tax", "Tax", label, sizeof label);
        totals_row(cr, y + 44, label, d->tax);
        cairo_rectangle(cr, RIGHT - 230, y + 54, 230, 26);
        inv__pdf_ink(cr, C_BAND);
        cairo_fill(cr);
        inv__pdf_rule(cr, RIGHT - 230, RIGHT, y + 54, 1.2, C_ACCENT);
        inv__pdf_font(cr, 11, true);
        inv__pdf_ink(cr, C_INK);
        inv__pdf_show(cr, RIGHT - 222, y + 72,
                      d->draft ? "Total to date" : "Total", AL_LEFT, 0);
        snprintf(text, sizeof text, "%.16s ", d->currency);
        inv__pdf_grouped(d->total, text + strlen(text));
        show_exact(cr, COL_AMT_R, y + 72, text, AL_RIGHT, 130);

        /* The left of the totals holds where the prices came from. */
        inv__pdf_font(cr, 7.5, false);
        inv__pdf_ink(cr, C_MUTED);
        if (d->catalog) {
                snprintf(label, sizeof label, "Prices from catalog %s%s%s.",
                         d->catalog, d->catalog_version ? ", version " : "",
                         d->catalog_version ? d->catalog_version : "");
                inv__pdf_show(cr, LEFT, y + 12, label, AL_LEFT, 250);
        }
        if (d->issuer_email) {
                snprintf(label, sizeof label,
                         "Questions about this invoice? %s", d->issuer_email);
                inv__pdf_show(cr, LEFT, y + 24, label, AL_LEFT, 250);
        }
        p->y = y + 98;
        return true;
}

/* ---- Surfaces -------------------------------------------------------- */

static void draw_document(struct pg *p)
{
        begin_page(p);
        draw_header(p);
        draw_parties(p);
        if (draw_lines(p) && draw_totals(p) && inv__pdf_draw_chart(p))
                inv__pdf_draw_savings(p);
}

/*
** The one drawing of the invoice, onto 's' at 'scale' points per unit.
** 'pages' is the total for the footers (0: unknown yet). With 'one_page'
** drawing stops at the end of page 1; otherwise each page is emitted.
** The number of pages drawn goes to '*drawn' unless NULL. Returns cairo's
** status.
*/
static cairo_status_t draw_on(cairo_surface_t *s, const struct inv__pdf_doc *d,
                              double scale, int pages, bool one_page,
                              int *drawn)
{
        cairo_t *cr = cairo_create(s);
        cairo_font_options_t *fo = cairo_font_options_create();
        struct pg p = {cr, d, 0, 1, pages, one_page ? 1 : INT_MAX};
        cairo_status_t st;

        /* Unhinted metrics, as a PDF has them, so the PNG is laid out
           exactly like the PDF's first page. */
        cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
        cairo_set_font_options(cr, fo);
        cairo_font_options_destroy(fo);
        cairo_scale(cr, scale, scale);
        draw_document(&p);
        if (!one_page)
                cairo_show_page(cr);
        st = cairo_status(cr);
        cairo_destroy(cr);
        if (drawn)
                *drawn = p.page;
        return st;
}

static tl_status io_fail(struct tl_error *err, const char *path,
                         const char *what, cairo_status_t st)
{
        return tl_fail(err, TL_EIO, "invoice: %s: cannot write %s: %s", path,
                       what, cairo_status_to_string(st));
}

static cairo_status_t discard(void *closure, const unsigned char *data,
                              unsigned int length)
{
        (void)closure;
        (void)data;
        (void)length;
        return CAIRO_STATUS_SUCCESS;
}

/* How many pages 'd' takes, for "Page n of N": a dry run into a PDF
   stream that goes nowhere, so it breaks pages exactly as the real one.
   'path' and 'what' (the format) are for the message. */
static tl_status count_pages(const struct inv__pdf_doc *d, const char *path,
                             const char *what, int *pages, struct tl_error *err)
{
        cairo_surface_t *s =
            cairo_pdf_surface_create_for_stream(discard, NULL, PAGE_W, PAGE_H);
        cairo_status_t st = cairo_surface_status(s);

        if (!st)
                st = draw_on(s, d, 1.0, 0, false, pages);
        cairo_surface_finish(s);
        if (!st)
                st = cairo_surface_status(s);
        cairo_surface_destroy(s);
        return st ? io_fail(err, path, what, st) : TL_OK;
}

/* Title, author and, for an issued invoice, its issue day as the creation
   date, so rendering the same invoice again gives the same document. */
static void set_metadata(cairo_surface_t *s, const struct inv__pdf_doc *d)
{
        char text[160];

        snprintf(text, sizeof text, "%s %s",
                 d->credits_invoice ? "Credit note" : "Invoice",
                 d->number ? d->number : "(draft)");
        cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, text);
        if (d->issuer_name)
                cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_AUTHOR,
                                               d->issuer_name);
        cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR, "tally");
        if (d->issued && strlen(d->issued) == 10) {
                snprintf(text, sizeof text, "%sT00:00:00Z", d->issued);
                cairo_pdf_surface_set_metadata(
                    s, CAIRO_PDF_METADATA_CREATE_DATE, text);
        }
}

tl_status inv_render_pdf(const json_t *doc, const char *path,
                         struct tl_error *err)
{
        cairo_surface_t *s;
        cairo_status_t st;
        struct inv__pdf_doc d;
        int pages;
        tl_status rc;

        if ((rc = inv__pdf_read(doc, &d, err)) ||
            (rc = count_pages(&d, path, "PDF", &pages, err)))
                return rc;
        s = cairo_pdf_surface_create(path, PAGE_W, PAGE_H);
        st = cairo_surface_status(s);
        if (st) {
                cairo_surface_destroy(s);
                return io_fail(err, path, "PDF", st);
        }
        set_metadata(s, &d);
        st = draw_on(s, &d, 1.0, pages, false, NULL);
        cairo_surface_finish(s);
        if (!st)
                st = cairo_surface_status(s);
        cairo_surface_destroy(s);
        if (st) {
                /* The file was created here: a half-written PDF must not
                   pass for an invoice. */
                unlink(path);
                return io_fail(err, path, "PDF", st);
        }
        return TL_OK;
}

tl_status inv_render_png(const json_t *doc, const char *path,
                         struct tl_error *err)
{
        cairo_surface_t *s;
        cairo_status_t st;
        struct inv__pdf_doc d;
        int pages;
        tl_status rc;

        if ((rc = inv__pdf_read(doc, &d, err)) ||
            (rc = count_pages(&d, path, "PNG", &pages, err)))
                return rc;
        s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32,
                                       (int)(PAGE_W * PNG_SCALE + 0.5),
                                       (int)(PAGE_H * PNG_SCALE + 0.5));
        st = cairo_surface_status(s);
        if (!st)
                st = draw_on(s, &d, PNG_SCALE, pages, true, NULL);
        if (!st)
                st = cairo_surface_write_to_png(s, path);
        cairo_surface_destroy(s);
        return st ? io_fail(err, path, "PNG", st) : TL_OK;
}
