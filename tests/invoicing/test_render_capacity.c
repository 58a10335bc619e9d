/* Capacity licences in the rendered invoice: the PDF row states the
   allowance used, CSV gains its two columns only when an invoice has one. */
#include <cairo.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../invoicing/src/render_pdf.h"
#include "invoicing/render.h"
#include "testkit.h"

static json_t *sample(void)
{
        char path[1024];
        json_error_t je;
        json_t *doc;

        snprintf(path, sizeof path, "%s/tests/invoicing/sample_invoice.json",
                 tk_source_dir());
        doc = json_load_file(path, 0, &je);
        cr_assert(doc, "%s: %s", path, je.text);
        return doc;
}

/* Line 'i' becomes a capacity licence's: per_unit, or graduated. */
static void licence(json_t *doc, size_t i, bool tiers)
{
        json_t *l = json_array_get(json_object_get(doc, "lines"), i);

        json_object_set_new(l, "allowance_used", json_string("1806451.6129"));
        json_object_set_new(l, "capacity", json_string("1806451.6129"));
        if (!tiers) {
                json_object_set_new(l, "model", json_string("per_unit"));
                json_object_set_new(l, "price", json_string("0.30"));
                return;
        }
        json_object_set_new(l, "model", json_string("graduated"));
        json_object_set_new(l, "tiers",
                            json_pack("[{s:s,s:s},{s:s,s:s}]", "quantity",
                                      "10000000", "price", "0.60", "quantity",
                                      "1000000", "price", "0.40"));
}

static void cells_of(const json_t *doc, size_t i, struct inv__pdf_cells *c)
{
        struct tl_error err = {0};
        struct inv__pdf_doc d;

        cr_assert_eq(inv__pdf_read(doc, &d, &err), TL_OK, "%s", err.msg);
        inv__pdf_cells(&d, json_array_get(d.lines, i), c);
}

Test(pdf, the_row_states_the_allowance_used_under_the_name_or_the_tiers)
{
        json_t *doc = sample();
        struct inv__pdf_cells c;
        char path[] = "/tmp/tally-capacity-XXXXXX";
        struct tl_error err;
        int fd;

        licence(doc, 4, false);
        licence(doc, 3, true);
        json_object_set_new(json_array_get(json_object_get(doc, "lines"), 3),
                            "allowance_used", json_string("400000"));
        cells_of(doc, 4, &c);
        cr_assert_str_eq(c.sub, "allowance 1,806,451.6129 used in full");
        cr_assert_str_eq(c.sub2, "");
        cells_of(doc, 3, &c);
        cr_assert_str_eq(c.sub, "10,000,000 @ 0.60 + 1,000,000 @ 0.40 per "
                                "1,000,000");
        cr_assert_str_eq(c.sub2, "allowance used 400,000 of 1,806,451.6129");
        cells_of(doc, 5, &c);
        cr_assert_str_eq(c.sub2, "");
        fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        close(fd);
        cr_assert_eq(inv_render_pdf(doc, path, &err), TL_OK, "%s", err.msg);
        unlink(path);
        json_decref(doc);
        cairo_debug_reset_static_data();
}

Test(pdf, a_capacity_that_is_not_a_decimal_is_refused_by_path)
{
        json_t *doc = sample();
        struct inv__pdf_doc d;
        struct tl_error err = {0};

        licence(doc, 4, false);
        json_object_set_new(json_array_get(json_object_get(doc, "lines"), 4),
                            "capacity", json_string("lots"));
        cr_assert_eq(inv__pdf_read(doc, &d, &err), TL_EINVAL);
        cr_assert(strstr(err.msg, "lines[4].capacity"), "%s", err.msg);
        json_decref(doc);
}

static char *csv(const json_t *doc, int flags)
{
        struct tl_buf b;
        struct tl_error err;
        char *s;

        tl_buf_init(&b, 0);
        cr_assert_eq(inv_render_csv(doc, flags, &b, &err), TL_OK, "%s",
                     err.msg);
        s = strndup(b.data, b.len);
        tl_buf_release(&b);
        return s;
}

Test(csv, allowance_columns_come_with_a_capacity_licence_only)
{
        json_t *doc = sample();
        char *plain = csv(doc, INV_CSV_HEADER), *forced, *with;

        cr_assert(strstr(plain, ",size,tiers\n"), "%s", plain);
        cr_assert_null(strstr(plain, "capacity"), "%s", plain);
        forced = csv(doc, INV_CSV_HEADER | INV_CSV_CAPACITY);
        cr_assert(strstr(forced, ",size,tiers,allowance_used,capacity\n"), "%s",
                  forced);
        licence(doc, 4, false);
        with = csv(doc, INV_CSV_HEADER);
        cr_assert(strstr(with, ",size,tiers,allowance_used,capacity\n"), "%s",
                  with);
        cr_assert(strstr(with, ",3.00,per_unit,0.30,,,1806451.6129,"
                               "1806451.6129\n"),
                  "%s", with);
        /* Every row has the two columns, empty where no licence is. */
        cr_assert(strstr(with, ",Platform fee,,,49.00,,,,,,\n"), "%s", with);
        free(plain);
        free(forced);
        free(with);
        json_decref(doc);
}

Test(pdf, lines_of_a_period_with_a_change_are_grouped_under_their_segment)
{
        json_t *doc = sample();
        json_t *lines = json_object_get(doc, "lines");
        json_t *a = json_pack("{s:s,s:s,s:s}", "plan", "starter", "start",
                              "2026-10-01", "end", "2026-10-15");
        json_t *b = json_pack("{s:s,s:s,s:s}", "plan", "pro", "start",
                              "2026-10-15", "end", "2026-11-01");
        const json_t *open = NULL;
        char text[200], path[] = "/tmp/tally-segments-XXXXXX";
        struct tl_error err;
        size_t n = json_array_size(lines);
        int fd, headings = 0;

        for (size_t i = 0; i < n; i++)
                json_object_set(json_array_get(lines, i), "segment",
                                i < n / 2 ? a : b);
        for (size_t i = 0; i < n; i++)
                if (inv__pdf_segment_heading(json_array_get(lines, i), &open,
                                             text, sizeof text)) {
                        cr_assert(i == 0 || i == n / 2, "heading at %zu", i);
                        cr_assert_str_eq(text,
                                         i ? "Plan pro, 2026-10-15 to "
                                             "2026-11-01 (exclusive)"
                                           : "Plan starter, 2026-10-01 to "
                                             "2026-10-15 (exclusive)");
                        headings++;
                }
        cr_assert_eq(headings, 2);
        open = NULL;
        json_object_del(json_array_get(lines, 0), "segment");
        cr_assert_not(inv__pdf_segment_heading(json_array_get(lines, 0), &open,
                                               text, sizeof text),
                      "a line without a segment opens none");
        json_object_set(json_array_get(lines, 0), "segment", a);
        fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        close(fd);
        cr_assert_eq(inv_render_pdf(doc, path, &err), TL_OK, "%s", err.msg);
        unlink(path);
        json_decref(a);
        json_decref(b);
        json_decref(doc);
        cairo_debug_reset_static_data();
}
