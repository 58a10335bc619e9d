/* The PDF names a usage line's quantity by what its meter counts, in the
   plural, through the line's meter when the charge id is not the meter's. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "../../invoicing/src/render_pdf.h"
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

/* The index of the usage line of charge 'id'. */
static size_t line_of(const json_t *doc, const char *id)
{
        const json_t *lines = json_object_get(doc, "lines");

        for (size_t i = 0; i < json_array_size(lines); i++) {
                const char *c = json_string_value(
                    json_object_get(json_array_get(lines, i), "charge"));
                if (c && !strcmp(c, id))
                        return i;
        }
        cr_assert_fail("no usage line of charge %s in the sample", id);
        return 0;
}

static void cells_of(const json_t *doc, size_t i, struct inv__pdf_cells *c)
{
        struct tl_error err = {0};
        struct inv__pdf_doc d;

        cr_assert_eq(inv__pdf_read(doc, &d, &err), TL_OK, "%s", err.msg);
        inv__pdf_cells(&d, json_array_get(d.lines, i), c);
}

/* The sample's compute line becomes resolutions priced per outcome. */
static void outcomes(json_t *doc, const char *charge, const char *meter)
{
        json_t *l = json_array_get(json_object_get(doc, "lines"),
                                   line_of(doc, "compute"));

        json_object_set_new(l, "charge", json_string(charge));
        json_object_set_new(l, "quantity", json_string("13"));
        json_object_set_new(l, "unit", json_string("1"));
        if (meter)
                json_object_set_new(l, "meter", json_string(meter));
        json_array_append_new(
            json_object_get(doc, "usage"),
            json_pack("{s:s,s:s,s:s,s:s}", "meter", "resolutions", "event",
                      "task.outcome", "aggregation", "sum", "quantity", "13"));
}

Test(pdf, an_outcome_charge_counts_outcomes_in_the_plural)
{
        json_t *doc = sample();
        struct inv__pdf_cells c;

        outcomes(doc, "resolutions", NULL);
        cells_of(doc, line_of(doc, "resolutions"), &c);
        cr_assert_str_eq(c.qty, "13 outcomes");
        json_decref(doc);
}

Test(pdf, a_charge_named_apart_from_its_meter_uses_the_meters_noun)
{
        json_t *doc = sample();
        struct inv__pdf_cells c;
        json_t *l;

        outcomes(doc, "support-bot", "resolutions");
        cells_of(doc, line_of(doc, "support-bot"), &c);
        cr_assert_str_eq(c.qty, "13 outcomes");
        /* The sample's denoise charge reads the denoise-steps meter. */
        l = json_array_get(json_object_get(doc, "lines"),
                           line_of(doc, "denoise"));
        json_object_set_new(l, "meter", json_string("denoise-steps"));
        cells_of(doc, line_of(doc, "denoise"), &c);
        cr_assert_str_eq(c.qty, "150,000 iterations");
        json_decref(doc);
}

Test(pdf, a_line_without_a_meter_the_usage_knows_says_units)
{
        json_t *doc = sample();
        struct inv__pdf_cells c;

        cells_of(doc, line_of(doc, "denoise"), &c);
        cr_assert_str_eq(c.qty, "150,000 units");
        cells_of(doc, line_of(doc, "cloud-input"), &c);
        cr_assert_str_eq(c.qty, "20,000,000 tokens");
        json_decref(doc);
}

Test(pdf, a_meter_that_is_not_a_string_is_refused_by_path)
{
        json_t *doc = sample();
        struct tl_error err = {0};
        struct inv__pdf_doc d;
        size_t i = line_of(doc, "denoise");

        json_object_set_new(json_array_get(json_object_get(doc, "lines"), i),
                            "meter", json_integer(3));
        cr_assert_eq(inv__pdf_read(doc, &d, &err), TL_EINVAL);
        cr_assert(strstr(err.msg, "meter"), "%s", err.msg);
        json_decref(doc);
}
