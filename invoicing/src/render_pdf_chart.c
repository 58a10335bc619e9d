/* The invoice page's daily-usage chart and its savings box. */
#include <cairo.h>
#include <stdbool.h>
#include <stdio.h>

#include "render_pdf.h"
#include "render_pdf_draw.h"

/*
** Doubles here are geometry only: the chart scales the daily token counts
** (the document's exact decimal strings) to bar heights and axis labels;
** the savings box shows the document's words and amounts as strings.
*/

/* ---- Chart and savings ----------------------------------------------- */

/* The value of a checked decimal string for geometry only (a bar's height),
   read by hand so the C locale's decimal point cannot matter. Negative
   values draw as nothing. */
static double magnitude(const char *dec)
{
        double v = 0, place = 1;
        bool frac = false;

        if (*dec == '-')
                return 0;
        for (; *dec; dec++) {
                if (*dec == '.') {
                        frac = true;
                } else if (frac) {
                        place /= 10;
                        v += (double)(*dec - '0') * place;
                } else {
                        v = v * 10 + (double)(*dec - '0');
                }
        }
        return v;
}

/* A y-axis scale of round numbers: 'n' steps of 1, 2 or 5 x 10^k (k >= 0)
   reaching at least 'max' (> 0), about five of them. */
static void nice_scale(double max, double *step, int *n)
{
        double raw = max / 5, mag = 1;

        /* Steps of at least 1: the counts are whole tokens. */
        while (mag * 10 <= raw)
                mag *= 10;
        if (raw <= mag)
                *step = mag;
        else if (raw <= 2 * mag)
                *step = 2 * mag;
        else if (raw <= 5 * mag)
                *step = 5 * mag;
        else
                *step = 10 * mag;
        for (*n = 1; *n * *step < max; (*n)++)
                ;
}

/* An axis label: 2000000 -> "2M", 1500 -> "1.5k". */
static void compact(double v, char *out, size_t size)
{
        if (v >= 1e9)
                snprintf(out, size, "%gB", v / 1e9);
        else if (v >= 1e6)
                snprintf(out, size, "%gM", v / 1e6);
        else if (v >= 1e3)
                snprintf(out, size, "%gk", v / 1e3);
        else
                snprintf(out, size, "%g", v);
}

static void legend(cairo_t *cr, double right, double y)
{
        static const struct {
                const char *label;
                unsigned rgb;
        } series[] = {{"Cloud", C_CLOUD}, {"On-device", C_LOCAL}};
        double x = right;

        inv__pdf_font(cr, 8, false);
        for (int i = 1; i >= 0; i--) {
                x -= inv__pdf_width(cr, series[i].label);
                inv__pdf_ink(cr, C_INK);
                inv__pdf_show(cr, x, y, series[i].label, AL_LEFT, 0);
                x -= 12;
                cairo_rectangle(cr, x, y - 7, 8, 8);
                inv__pdf_ink(cr, series[i].rgb);
                cairo_fill(cr);
                x -= 14;
        }
}

/* Bars of one day: cloud, then on-device, side by side in its slot. */
static void day_bars(cairo_t *cr, const json_t *e, double x, double slot,
                     double base, double plot_h, double top)
{
        double bar = slot * 0.36, h;

        h = magnitude(inv__pdf_str(e, "cloud")) / top * plot_h;
        cairo_rectangle(cr, x + slot * 0.12, base - h, bar, h);
        inv__pdf_ink(cr, C_CLOUD);
        cairo_fill(cr);
        h = magnitude(inv__pdf_str(e, "local")) / top * plot_h;
        cairo_rectangle(cr, x + slot * 0.12 + bar, base - h, bar, h);
        inv__pdf_ink(cr, C_LOCAL);
        cairo_fill(cr);
}

bool inv__pdf_draw_chart(struct pg *p)
{
        const double plot_h = 100, x0 = LEFT + 34;
        cairo_t *cr = p->cr;
        const json_t *daily = p->d->daily, *e;
        double max = 0, step, slot, base, v;
        char label[32];
        int n, every = 1;
        size_t i, days = json_array_size(daily);

        if (!days)
                return true;
        if (!inv__pdf_need(p, plot_h + 52))
                return false;
        inv__pdf_font(cr, 10.5, true);
        inv__pdf_ink(cr, C_INK);
        inv__pdf_show(cr, LEFT, p->y + 10, "Daily usage", AL_LEFT, 0);
        v = LEFT + inv__pdf_width(cr, "Daily usage") + 8;
        inv__pdf_font(cr, 8, false);
        inv__pdf_ink(cr, C_MUTED);
        inv__pdf_show(cr, v, p->y + 10, "tokens per day, input and output",
                      AL_LEFT, 0);
        legend(cr, RIGHT, p->y + 10);
        base = p->y + 24 + plot_h;
        json_array_foreach(daily, i, e)
        {
                v = magnitude(inv__pdf_str(e, "cloud"));
                max = v > max ? v : max;
                v = magnitude(inv__pdf_str(e, "local"));
                max = v > max ? v : max;
        }
        nice_scale(max > 0 ? max : 1, &step, &n);
        inv__pdf_font(cr, 7, false);
        /* With no usage at all only the zero line is drawn: a scale would
           claim a range the data does not have. */
        for (int t = 0; t <= (max > 0 ? n : 0); t++) {
                double ty = base - plot_h * t / n;

                inv__pdf_rule(cr, x0, RIGHT, ty, t ? 0.4 : 0.8,
                              t ? C_RULE : C_MUTED);
                inv__pdf_ink(cr, C_MUTED);
                compact(step * t, label, sizeof label);
                inv__pdf_show(cr, x0 - 6, ty + 2.5, label, AL_RIGHT, 0);
        }
        slot = (RIGHT - x0) / (double)days;
        while (slot * every < 13)
                every = every == 1 ? 2 : every == 2 ? 5 : every + 5;
        json_array_foreach(daily, i, e)
        {
                const char *day = inv__pdf_str(e, "day");
                double x = x0 + slot * (double)i;

                day_bars(cr, e, x, slot, base, plot_h, step * n);
                if (i % (size_t)every && i + 1 != days)
                        continue;
                snprintf(label, sizeof label, "%d",
                         (day[8] - '0') * 10 + (day[9] - '0'));
                inv__pdf_ink(cr, C_MUTED);
                inv__pdf_show(cr, x + slot / 2, base + 10, label, AL_CENTER, 0);
        }
        if (max <= 0) {
                inv__pdf_font(cr, 9, false);
                inv__pdf_show(cr, (x0 + RIGHT) / 2, base - plot_h / 2,
                              "No usage recorded in this period", AL_CENTER, 0);
        }
        p->y = base + 26;
        return true;
}

bool inv__pdf_draw_savings(struct pg *p)
{
        const double pad = 12, lh = 12, w = RIGHT - LEFT - 2 * pad;
        cairo_t *cr = p->cr;
        const json_t *e;
        char text[640];
        double h = 2 * pad + 14, y;
        size_t i;

        if (!json_array_size(p->d->savings))
                return true;
        inv__pdf_font(cr, 8.5, false);
        json_array_foreach(p->d->savings, i, e)
        {
                inv__pdf_saving(p->d, e, text, sizeof text);
                h += lh * inv__pdf_wrap(cr, text, 0, 0, w, lh, false) +
                     (i ? 4 : 0);
        }
        if (!inv__pdf_need(p, h))
                return false;
        y = p->y;
        inv__pdf_rounded(cr, LEFT, y, RIGHT - LEFT, h, 5);
        inv__pdf_ink(cr, C_SAVE_BG);
        cairo_fill_preserve(cr);
        inv__pdf_ink(cr, C_SAVE_EDGE);
        cairo_set_line_width(cr, 0.8);
        cairo_stroke(cr);
        inv__pdf_font(cr, 9.5, true);
        inv__pdf_ink(cr, 0x1e6b47);
        inv__pdf_show(cr, LEFT + pad, y + pad + 8, "On-device savings", AL_LEFT,
                      0);
        y += pad + 8 + 15;
        inv__pdf_font(cr, 8.5, false);
        inv__pdf_ink(cr, C_INK);
        json_array_foreach(p->d->savings, i, e)
        {
                inv__pdf_saving(p->d, e, text, sizeof text);
                y += lh * inv__pdf_wrap(cr, text, LEFT + pad, y, w, lh, true) +
                     4;
        }
        p->y += h + 10;
        return true;
}
