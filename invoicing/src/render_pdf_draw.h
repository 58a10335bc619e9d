/* Private to the PDF and PNG renderer: the page, the palette and the
   drawing helpers shared by render_pdf.c (pages, header, lines, totals)
   and render_pdf_chart.c (the daily-usage chart and the savings box).
   Doubles are cairo's geometry only, never an amount. */
#ifndef INV_RENDER_PDF_DRAW_H
#define INV_RENDER_PDF_DRAW_H

#include <cairo.h>
#include <stdbool.h>

#include "render_pdf.h"

/* A4 in points. */
#define PAGE_W 595.28
#define PAGE_H 841.89
#define LEFT 50.0
#define RIGHT (PAGE_W - 50.0)
#define TOP 44.0
#define BOTTOM (PAGE_H - 58.0) /* content stops here; the footer is below */

/* Palette. */
#define C_INK 0x1f2933
#define C_MUTED 0x66707c
#define C_RULE 0xd8dde3
#define C_BAND 0xeef2f6
#define C_ACCENT 0x1d4e89
#define C_CLOUD 0x3b74c4
#define C_LOCAL 0x2e9e6b
#define C_SAVE_BG 0xeaf6ef
#define C_SAVE_EDGE 0xa9d9bd
#define C_DRAFT 0xc0392b
#define C_FINAL 0x2e8b57

/* Where drawing stands: the cursor, the page, and when to stop. */
struct pg {
        cairo_t *cr;
        const struct inv__pdf_doc *d;
        double y;      /* top of the free space on the current page */
        int page;      /* 1-based */
        int pages;     /* total for the footer; 0 while counting */
        int last_page; /* draw no page after this one (the PNG draws one) */
};

enum align { AL_LEFT, AL_RIGHT, AL_CENTER };

/* ---- render_pdf.c ---------------------------------------------------- */

/* Set the source colour to 0xRRGGBB. */
void inv__pdf_ink(cairo_t *cr, unsigned rgb);

/* The document's font at 'size' points, bold or not. */
void inv__pdf_font(cairo_t *cr, double size, bool bold);

/* The advance of 's' in the current font. */
double inv__pdf_width(cairo_t *cr, const char *s);

/* Show 's' on baseline 'y' with its left edge, right edge or centre at 'x',
   cut with an ellipsis to 'max_w' points (0: no limit). */
void inv__pdf_show(cairo_t *cr, double x, double y, const char *s,
                   enum align al, double max_w);

/* A horizontal line from 'x0' to 'x1' at 'y'. */
void inv__pdf_rule(cairo_t *cr, double x0, double x1, double y, double width,
                   unsigned rgb);

/* The path of a rectangle with corners of radius 'r' (not drawn). */
void inv__pdf_rounded(cairo_t *cr, double x, double y, double w, double h,
                      double r);

/* Greedy word wrap of 'text' into lines of at most 'w' points, 'lh' apart,
   the first baseline at 'y'. Draws only when 'draw'; returns the number of
   lines either way, so a box can be sized before it is drawn. */
int inv__pdf_wrap(cairo_t *cr, const char *text, double x, double y, double w,
                  double lh, bool draw);

/* Make room for 'h' points, beginning the next page when this one is full.
   False when that page would be past 'p->last_page': drawing is over. */
bool inv__pdf_need(struct pg *p, double h);

/* ---- render_pdf_chart.c ---------------------------------------------- */

/* The chart of daily usage (nothing without days), and the savings box
   (nothing without savings). Each returns false when drawing is over. */
bool inv__pdf_draw_chart(struct pg *p);
bool inv__pdf_draw_savings(struct pg *p);

#endif
