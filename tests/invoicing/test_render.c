/* The invoice renderers: CSV columns and quoting, the PDF's pages, the PNG's
   pixels, and errors that name the field or the path at fault. */
#include <cairo.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../invoicing/src/render_pdf.h"
#include "invoicing/render.h"
#include "testkit.h"

#define SAMPLE "sample_invoice.json"
#define SAMPLE_CREDIT "sample_invoice_credit.json"
#define HEADER                                                                 \
        "number,status,customer,period_start,period_end,currency,line_no,"     \
        "kind,ref,name,quantity,unit,amount,model,price,size,tiers\n"
#define COLS 17
#define MAX_ROWS 128

/* The PNG is page 1 of A4 (595.28 x 841.89 pt) at two pixels per point. */
#define PNG_W 1191
#define PNG_H 1684

enum {
        C_NUMBER,
        C_STATUS,
        C_CUSTOMER,
        C_START,
        C_END,
        C_CURRENCY,
        C_LINE_NO,
        C_KIND,
        C_REF,
        C_NAME,
        C_QUANTITY,
        C_UNIT,
        C_AMOUNT,
        C_MODEL,
        C_PRICE,
        C_SIZE,
        C_TIERS
};

static char tmpdir[64];

/*
** Leak checking (TALLY_SANITIZE): each test ends by releasing cairo's font
** caches (cairo_debug_reset_static_data, in teardown), so a font face or
** surface the renderer forgot still shows. What remains is fontconfig's
** own configuration, parsed once per process and kept until FcFini, which
** cairo never calls. Allocations made inside libfontconfig are therefore
** not reported (by module: without frame pointers in the library the fast
** unwinder sees no deeper frame); LeakSanitizer reads this hook at start.
*/
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
        return "leak:libfontconfig.so\n";
}

static void setup(void)
{
        snprintf(tmpdir, sizeof tmpdir, "/tmp/tally-render-XXXXXX");
        cr_assert(mkdtemp(tmpdir));
}

static void teardown(void)
{
        DIR *dir = opendir(tmpdir);
        struct dirent *e;
        char path[512];

        cr_assert(dir);
        while ((e = readdir(dir))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
                cr_assert_eq(unlink(path), 0, "unlink %s", path);
        }
        closedir(dir);
        cr_assert_eq(rmdir(tmpdir), 0);
        cairo_debug_reset_static_data();
}

TestSuite(csv, .init = setup, .fini = teardown);
TestSuite(pdf, .init = setup, .fini = teardown);
TestSuite(png, .init = setup, .fini = teardown);

static const char *tmp(const char *file)
{
        static char path[4][256];
        static int next;
        char *p = path[next++ % 4];

        snprintf(p, 256, "%s/%s", tmpdir, file);
        return p;
}

/* A sample document of tests/invoicing; json_decref it. */
static json_t *load(const char *file)
{
        char path[512];
        json_error_t je;
        json_t *doc;

        snprintf(path, sizeof path, "%s/tests/invoicing/%s", tk_source_dir(),
                 file);
        doc = json_load_file(path, 0, &je);
        cr_assert(doc, "%s:%d: %s", path, je.line, je.text);
        return doc;
}

static json_t *line_of(json_t *doc, size_t i)
{
        json_t *line = json_array_get(json_object_get(doc, "lines"), i);

        cr_assert(line, "no lines[%zu]", i);
        return line;
}

/* The CSV of 'doc', which must render; free it. */
static char *csv_of(const json_t *doc, int header)
{
        struct tl_error err = {0};
        struct tl_buf b;
        char *text;

        tl_buf_init(&b, 0);
        cr_assert_eq(inv_render_csv(doc, header, &b, &err), TL_OK, "%s",
                     err.msg);
        text = strdup(b.data ? b.data : "");
        tl_buf_release(&b);
        cr_assert(text);
        return text;
}

/* ---- A small RFC 4180 reader, to check what a finance import sees ---- */

struct table {
        size_t rows;
        char *cell[MAX_ROWS][COLS];
};

/* One field at 's' into a new string; returns where the field ends. */
static const char *read_field(const char *s, char **out)
{
        char *f = malloc(strlen(s) + 1);
        size_t n = 0;

        cr_assert(f);
        if (*s != '"') {
                while (*s && *s != ',' && *s != '\n')
                        f[n++] = *s++;
        } else {
                for (s++;; s++) {
                        cr_assert(*s, "unterminated quoted field");
                        if (*s == '"' && s[1] != '"')
                                break;
                        if (*s == '"')
                                s++;
                        f[n++] = *s;
                }
                s++;
        }
        f[n] = '\0';
        *out = f;
        return s;
}

/* Every row must have COLS fields and end in LF. */
static void parse_csv(const char *s, struct table *t)
{
        t->rows = 0;
        while (*s) {
                size_t col = 0;

                cr_assert_lt(t->rows, MAX_ROWS);
                for (;;) {
                        cr_assert_lt(col, COLS, "row %zu has too many fields",
                                     t->rows);
                        s = read_field(s, &t->cell[t->rows][col++]);
                        if (*s != ',')
                                break;
                        s++;
                }
                cr_assert_eq(*s, '\n', "row %zu does not end in LF", t->rows);
                cr_assert_eq(col, COLS, "row %zu has %zu fields", t->rows, col);
                s++;
                t->rows++;
        }
}

static void free_table(struct table *t)
{
        for (size_t r = 0; r < t->rows; r++)
                for (size_t c = 0; c < COLS; c++)
                        free(t->cell[r][c]);
}

static const char *str_or_empty(const json_t *obj, const char *key)
{
        const char *s = json_string_value(json_object_get(obj, key));

        return s ? s : "";
}

/* ---- CSV ------------------------------------------------------------- */

Test(csv, header_is_exact)
{
        json_t *doc = load(SAMPLE);
        char *text = csv_of(doc, 1);

        cr_assert_eq(strncmp(text, HEADER, strlen(HEADER)), 0,
                     "header was: %.*s", (int)strcspn(text, "\n"), text);
        free(text);
        json_decref(doc);
}

/* Row by row, each column is what the document says, verbatim. */
static void check_rows_match(const char *file)
{
        json_t *doc = load(file), *line;
        json_t *lines = json_object_get(doc, "lines");
        static const char *const ref_key[][2] = {{"fee", "id"},
                                                 {"seat", "model_class"},
                                                 {"usage", "charge"},
                                                 {"adjustment", "period"}};
        char *text = csv_of(doc, 1), no[24];
        struct table t;
        size_t i;

        parse_csv(text, &t);
        cr_assert_eq(t.rows, json_array_size(lines) + 1,
                     "%zu rows for %zu lines", t.rows - 1,
                     json_array_size(lines));
        json_array_foreach(lines, i, line)
        {
                char **row = t.cell[i + 1];
                const char *kind = str_or_empty(line, "kind"), *ref = "";

                for (size_t k = 0; k < 4; k++)
                        if (!strcmp(kind, ref_key[k][0]))
                                ref = str_or_empty(line, ref_key[k][1]);
                snprintf(no, sizeof no, "%zu", i + 1);
                cr_assert_str_eq(row[C_LINE_NO], no);
                cr_assert_str_eq(row[C_NUMBER], str_or_empty(doc, "number"));
                cr_assert_str_eq(row[C_CUSTOMER],
                                 str_or_empty(doc, "customer"));
                cr_assert_str_eq(
                    row[C_START],
                    str_or_empty(json_object_get(doc, "period"), "start"));
                cr_assert_str_eq(row[C_CURRENCY], "USD");
                cr_assert_str_eq(row[C_KIND], kind);
                cr_assert_str_eq(row[C_REF], ref, "line %zu", i + 1);
                cr_assert_str_eq(row[C_NAME], str_or_empty(line, "name"));
                cr_assert_str_eq(row[C_QUANTITY],
                                 str_or_empty(line, "quantity"));
                cr_assert_str_eq(row[C_UNIT], str_or_empty(line, "unit"));
                cr_assert_str_eq(row[C_AMOUNT], str_or_empty(line, "amount"),
                                 "line %zu", i + 1);
        }
        free_table(&t);
        free(text);
        json_decref(doc);
}

Test(csv, one_row_per_line_with_the_documents_strings)
{
        check_rows_match(SAMPLE);
        check_rows_match(SAMPLE_CREDIT);
}

Test(csv, refs_quantities_and_units_by_kind)
{
        json_t *doc = load(SAMPLE_CREDIT);
        char *text = csv_of(doc, 0);

        /* fee: id, no quantity; usage: charge, quantity, unit; adjustment:
           the period it corrects; credit: nothing but its amount. */
        cr_assert(strstr(text, ",1,fee,platform,Platform fee,,,26.87,,,,\n"));
        cr_assert(strstr(text, ",2,usage,cloud-output,Cloud output tokens,"
                               "28000000,1000000,11.30,"));
        cr_assert(strstr(text, ",4,adjustment,2026-09,Late usage for 2026-09,"
                               ",,1.25,,,,\n"));
        cr_assert(
            strstr(text, ",8,credit,,Prepaid credit applied,,,-50.00,,,,\n"));
        cr_assert(strstr(text, ",9,tax,,Tax,,,0.92,,,,\n"));
        free(text);
        json_decref(doc);
}

Test(csv, name_with_comma_quote_and_newline_is_quoted)
{
        json_t *doc = load(SAMPLE);
        const char *name = "Platform fee, \"gold\" tier";
        const char *multi = "Seats\nsmall";
        struct table t;
        char *text;

        json_object_set_new(line_of(doc, 0), "name", json_string(name));
        json_object_set_new(line_of(doc, 2), "name", json_string(multi));
        text = csv_of(doc, 1);
        cr_assert(
            strstr(text, ",platform,\"Platform fee, \"\"gold\"\" tier\","),
            "%s", text);
        cr_assert(strstr(text, ",small,\"Seats\nsmall\",1.3226,"), "%s", text);
        parse_csv(text, &t);
        cr_assert_eq(t.rows, 9);
        cr_assert_str_eq(t.cell[1][C_NAME], name);
        cr_assert_str_eq(t.cell[3][C_NAME], multi);
        cr_assert_str_eq(t.cell[1][C_AMOUNT], "49.00");
        free_table(&t);
        free(text);
        json_decref(doc);
}

/* OWASP's CSV injection: a text cell starting with = + - @ tab or CR is
   run by a spreadsheet, so it is quoted with a single quote in front. */
Test(csv, text_cells_that_would_run_as_formulas_are_neutralised)
{
        static const char *const names[] = {
            "=HYPERLINK(\"http://evil.example\",\"x\")",
            "+SUM(1,2)",
            "-2+3",
            "@cmd",
            "\tTab",
            "\rCR",
        };
        json_t *doc = load(SAMPLE);
        char want[128];
        struct table t;
        char *text;

        json_object_set_new(doc, "customer", json_string("=1+2"));
        for (size_t i = 0; i < 6; i++)
                json_object_set_new(line_of(doc, i), "name",
                                    json_string(names[i]));
        json_object_set_new(line_of(doc, 3), "charge", json_string("@ref"));
        text = csv_of(doc, 1);
        cr_assert(strstr(text, ",\"'=1+2\","), "%s", text);
        cr_assert(strstr(text, ",\"'-2+3\","), "%s", text);
        cr_assert(strstr(text, ",\"'=HYPERLINK(\"\"http://evil.example\"\","
                               "\"\"x\"\")\","),
                  "%s", text);
        parse_csv(text, &t);
        for (size_t i = 0; i < 6; i++) {
                snprintf(want, sizeof want, "'%s", names[i]);
                cr_assert_str_eq(t.cell[i + 1][C_NAME], want);
                cr_assert_str_eq(t.cell[i + 1][C_CUSTOMER], "'=1+2");
        }
        cr_assert_str_eq(t.cell[4][C_REF], "'@ref");
        /* Other text cells are as before: no quote, no prefix. */
        cr_assert(strstr(text, ",Minimum commitment,"), "%s", text);
        cr_assert_str_eq(t.cell[8][C_NAME], "Minimum commitment");
        free_table(&t);
        free(text);
        json_decref(doc);
}

/* Numeric columns hold checked decimals: a negative amount is a number
   for the spreadsheet, not a formula, and stays unquoted. */
Test(csv, negative_amounts_stay_plain_numbers)
{
        json_t *doc = load(SAMPLE_CREDIT);
        char *text = csv_of(doc, 0);

        cr_assert(strstr(text, ",Prepaid credit applied,,,-50.00"), "%s", text);
        cr_assert_null(strstr(text, "'-50.00"), "%s", text);
        free(text);
        json_decref(doc);
}

Test(csv, draft_without_number_leaves_the_field_empty)
{
        json_t *doc = load(SAMPLE);
        char *text;

        json_object_set_new(doc, "number", json_null());
        json_object_set_new(doc, "status", json_string("draft"));
        text = csv_of(doc, 0);
        cr_assert_eq(strncmp(text, ",draft,cust_0042,2026-10-01,", 28), 0, "%s",
                     text);
        free(text);
        json_decref(doc);
}

Test(csv, appends_to_the_buffer_and_header_is_optional)
{
        struct tl_error err = {0};
        json_t *doc = load(SAMPLE);
        struct tl_buf b;

        tl_buf_init(&b, 0);
        cr_assert_eq(tl_buf_puts(&b, "kept\n", &err), TL_OK);
        cr_assert_eq(inv_render_csv(doc, 0, &b, &err), TL_OK, "%s", err.msg);
        cr_assert_eq(strncmp(b.data, "kept\nINV-2026-000001,finalized,", 31), 0,
                     "%s", b.data);
        cr_assert_null(strstr(b.data, "line_no"));
        tl_buf_release(&b);
        json_decref(doc);
}

/* Rendering 'doc' must fail with TL_EINVAL and exactly the message 'want',
   leaving what the buffer already held as it was. */
static void expect_csv_error(json_t *doc, const char *want)
{
        struct tl_error err = {0};
        struct tl_buf b;

        tl_buf_init(&b, 0);
        cr_assert_eq(tl_buf_puts(&b, "before\n", &err), TL_OK);
        cr_assert_eq(inv_render_csv(doc, 1, &b, &err), TL_EINVAL, "%s", b.data);
        cr_assert_str_eq(err.msg, want);
        cr_assert_str_eq(b.data, "before\n");
        tl_buf_release(&b);
}

Test(csv, missing_fields_name_their_path)
{
        json_t *doc = load(SAMPLE);

        json_object_del(line_of(doc, 3), "amount");
        expect_csv_error(doc, "invoice: lines[3].amount: missing");
        json_decref(doc);

        doc = load(SAMPLE);
        json_object_del(line_of(doc, 5), "kind");
        expect_csv_error(doc, "invoice: lines[5].kind: missing");
        json_decref(doc);

        doc = load(SAMPLE);
        json_object_del(json_object_get(doc, "period"), "end");
        expect_csv_error(doc, "invoice: period.end: missing");
        json_decref(doc);

        doc = load(SAMPLE);
        json_object_del(doc, "customer");
        expect_csv_error(doc, "invoice: customer: missing");
        json_decref(doc);

        doc = load(SAMPLE);
        json_object_del(doc, "currency");
        expect_csv_error(doc, "invoice: currency: missing");
        json_decref(doc);

        doc = load(SAMPLE);
        json_object_del(doc, "lines");
        expect_csv_error(doc, "invoice: lines: missing");
        json_decref(doc);
}

Test(csv, amounts_must_be_decimal_strings)
{
        json_t *doc = load(SAMPLE);

        json_object_set_new(line_of(doc, 1), "amount", json_real(6.1));
        expect_csv_error(doc, "invoice: lines[1].amount: expected a string");
        json_object_set_new(line_of(doc, 1), "amount", json_string("6,10"));
        expect_csv_error(doc, "invoice: lines[1].amount: expected a decimal "
                              "string, got \"6,10\"");
        json_object_set_new(line_of(doc, 1), "amount", json_string("6.10"));
        json_object_set_new(line_of(doc, 1), "kind", json_string("bonus"));
        expect_csv_error(doc, "invoice: lines[1].kind: unknown kind \"bonus\"");
        json_decref(doc);
}

/* ---- Prices ---------------------------------------------------------- */

static void render_pdf_ok(const json_t *doc, const char *path);

/* Add the members of 'more' (taken) to 'line'. */
static void merge(json_t *line, json_t *more)
{
        cr_assert(more);
        cr_assert_eq(json_object_update(line, more), 0);
        json_decref(more);
}

/* The sample with its usage lines priced by each model, as the close
   stores them (document.c): lines 3..6 graduated, volume, per_unit,
   package. */
static json_t *load_priced(void)
{
        json_t *doc = load(SAMPLE);

        merge(line_of(doc, 3),
              json_pack("{s:s,s:[{s:s,s:s},{s:s,s:s}]}", "model", "graduated",
                        "tiers", "quantity", "10000000", "price", "0.60",
                        "quantity", "1000000", "price", "0.40"));
        merge(line_of(doc, 4),
              json_pack("{s:s,s:s}", "model", "volume", "price", "0.15"));
        merge(line_of(doc, 5),
              json_pack("{s:s,s:s}", "model", "per_unit", "price", "0.002"));
        merge(line_of(doc, 6),
              json_pack("{s:s,s:s,s:s,s:s}", "model", "package", "price",
                        "0.35", "size", "1000000000000000", "packages", "4"));
        return doc;
}

/* The words the PDF draws for line 'i' of 'doc'. */
static void cells_of(const json_t *doc, size_t i, struct inv__pdf_cells *c)
{
        struct tl_error err = {0};
        struct inv__pdf_doc d;

        cr_assert_eq(inv__pdf_read(doc, &d, &err), TL_OK, "%s", err.msg);
        inv__pdf_cells(&d, json_array_get(d.lines, i), c);
}

Test(pdf, every_priced_line_shows_its_price_or_its_tiers)
{
        json_t *doc = load_priced();
        struct inv__pdf_cells c;

        cells_of(doc, 3, &c);
        cr_assert_str_eq(c.sub, "10,000,000 @ 0.60 + 1,000,000 @ 0.40 per "
                                "1,000,000");
        cells_of(doc, 4, &c);
        cr_assert_str_eq(c.qty2, "@ 0.15 per 1,000,000");
        cells_of(doc, 5, &c);
        cr_assert_str_eq(c.qty, "150,000 units");
        cr_assert_str_eq(c.qty2, "@ 0.002 per 1,000");
        cells_of(doc, 6, &c);
        cr_assert_str_eq(c.qty2, "4 packs of 1,000,000,000,000,000 @ 0.35");
        cells_of(doc, 1, &c);
        cr_assert(strstr(c.sub, "9.00 per seat-month"), "%s", c.sub);
        render_pdf_ok(doc, tmp("priced.pdf"));
        json_decref(doc);
}

Test(csv, every_priced_line_shows_its_price_or_its_tiers)
{
        json_t *doc = load_priced();
        char *text = csv_of(doc, 1);
        struct table t;

        parse_csv(text, &t);
        cr_assert_str_eq(t.cell[2][C_PRICE], "9.00"); /* seat */
        cr_assert_str_eq(t.cell[4][C_MODEL], "graduated");
        cr_assert_str_eq(t.cell[4][C_PRICE], "");
        cr_assert_str_eq(t.cell[4][C_TIERS], "10000000 @ 0.60; 1000000 @ 0.40");
        cr_assert_str_eq(t.cell[5][C_MODEL], "volume");
        cr_assert_str_eq(t.cell[5][C_PRICE], "0.15");
        cr_assert_str_eq(t.cell[6][C_MODEL], "per_unit");
        cr_assert_str_eq(t.cell[6][C_PRICE], "0.002");
        cr_assert_str_eq(t.cell[6][C_UNIT], "1000");
        cr_assert_str_eq(t.cell[7][C_MODEL], "package");
        cr_assert_str_eq(t.cell[7][C_PRICE], "0.35");
        cr_assert_str_eq(t.cell[7][C_SIZE], "1000000000000000");
        cr_assert_str_eq(t.cell[1][C_PRICE], ""); /* a fee has none */
        json_object_set_new(
            json_array_get(json_object_get(line_of(doc, 3), "tiers"), 1),
            "price", json_string("abc"));
        expect_csv_error(doc, "invoice: lines[3].tiers[1].price: expected a "
                              "decimal string, got \"abc\"");
        free_table(&t);
        free(text);
        json_decref(doc);
}

/* ---- PDF ------------------------------------------------------------- */

/* The bytes of 'path' (NUL-terminated); '*len' gets the size. */
static char *slurp(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        struct stat st;
        char *data;

        cr_assert(f, "cannot open %s", path);
        cr_assert_eq(fstat(fileno(f), &st), 0);
        data = malloc((size_t)st.st_size + 1);
        cr_assert(data);
        cr_assert_eq(fread(data, 1, (size_t)st.st_size, f), (size_t)st.st_size);
        data[st.st_size] = '\0';
        fclose(f);
        *len = (size_t)st.st_size;
        return data;
}

/* Pages of a PDF written by cairo: its page objects are plain
   "<< /Type /Page" dictionaries ("/Type /Pages" is the tree, not a page). */
static int pdf_pages(const char *path)
{
        size_t len;
        char *data = slurp(path, &len);
        const char *key = "/Type /Page";
        int pages = 0;

        cr_assert(len > 5 && !memcmp(data, "%PDF-", 5), "%s is not a PDF",
                  path);
        for (char *p = data;
             (p = memmem(p, len - (size_t)(p - data), key, strlen(key)));
             p += strlen(key))
                if (p[strlen(key)] != 's')
                        pages++;
        free(data);
        return pages;
}

static void render_pdf_ok(const json_t *doc, const char *path)
{
        struct tl_error err = {0};
        struct stat st;

        cr_assert_eq(inv_render_pdf(doc, path, &err), TL_OK, "%s", err.msg);
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_gt(st.st_size, 10000, "%s is only %lld bytes", path,
                     (long long)st.st_size);
}

Test(pdf, sample_fits_on_one_page)
{
        json_t *doc = load(SAMPLE);

        render_pdf_ok(doc, tmp("inv.pdf"));
        cr_assert_eq(pdf_pages(tmp("inv.pdf")), 1);
        json_decref(doc);
}

Test(pdf, credit_sample_and_a_draft_render)
{
        json_t *doc = load(SAMPLE_CREDIT);

        render_pdf_ok(doc, tmp("credit.pdf"));
        cr_assert_eq(pdf_pages(tmp("credit.pdf")), 1);
        json_object_set_new(doc, "status", json_string("draft"));
        json_object_set_new(doc, "number", json_null());
        json_object_set_new(doc, "issued", json_null());
        render_pdf_ok(doc, tmp("draft.pdf"));
        cr_assert_geq(pdf_pages(tmp("draft.pdf")), 1);
        json_decref(doc);
}

Test(pdf, sixty_lines_continue_on_more_pages)
{
        json_t *doc = load(SAMPLE);
        json_t *lines = json_object_get(doc, "lines");
        json_t *usage = json_deep_copy(line_of(doc, 3));

        while (json_array_size(lines) < 60)
                json_array_insert(lines, 4, usage);
        json_decref(usage);
        render_pdf_ok(doc, tmp("long.pdf"));
        cr_assert_geq(pdf_pages(tmp("long.pdf")), 2);
        json_decref(doc);
}

Test(pdf, same_invoice_gives_the_same_bytes)
{
        json_t *doc = load(SAMPLE);
        size_t len_a, len_b;
        char *a, *b;

        render_pdf_ok(doc, tmp("a.pdf"));
        render_pdf_ok(doc, tmp("b.pdf"));
        a = slurp(tmp("a.pdf"), &len_a);
        b = slurp(tmp("b.pdf"), &len_b);
        cr_assert(len_a == len_b && !memcmp(a, b, len_a),
                  "an issued invoice must render identically");
        free(a);
        free(b);
        json_decref(doc);
}

Test(pdf, unwritable_path_is_eio_naming_it)
{
        struct tl_error err = {0};
        json_t *doc = load(SAMPLE);
        const char *path = tmp("no-such-dir/inv.pdf");

        cr_assert_eq(inv_render_pdf(doc, path, &err), TL_EIO);
        cr_assert(strstr(err.msg, path), "%s", err.msg);
        json_decref(doc);
}

Test(pdf, invalid_documents_are_einval_naming_the_field)
{
        struct tl_error err = {0};
        json_t *doc = load(SAMPLE);

        json_object_del(doc, "lines");
        cr_assert_eq(inv_render_pdf(doc, tmp("x.pdf"), &err), TL_EINVAL);
        cr_assert_str_eq(err.msg, "invoice: lines: missing");
        cr_assert_eq(access(tmp("x.pdf"), F_OK), -1, "no file on failure");
        json_decref(doc);

        doc = load(SAMPLE);
        json_object_del(doc, "total");
        cr_assert_eq(inv_render_pdf(doc, tmp("x.pdf"), &err), TL_EINVAL);
        cr_assert_str_eq(err.msg, "invoice: total: missing");
        json_object_set_new(doc, "total", json_string("100.00"));
        json_object_set_new(json_array_get(json_object_get(doc, "daily"), 4),
                            "day", json_string("2026-10-32"));
        cr_assert_eq(inv_render_pdf(doc, tmp("x.pdf"), &err), TL_EINVAL);
        cr_assert_str_eq(err.msg, "invoice: daily[4].day: expected "
                                  "YYYY-MM-DD, got \"2026-10-32\"");
        json_decref(doc);
}

/* ---- PNG ------------------------------------------------------------- */

/* Pixels darker than mid-grey in columns [x0, x1) of rows [y0, y1). */
static long dark_pixels(cairo_surface_t *img, int x0, int y0, int x1, int y1)
{
        const unsigned char *data = cairo_image_surface_get_data(img);
        int stride = cairo_image_surface_get_stride(img);
        long dark = 0;

        for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++) {
                        uint32_t px;

                        memcpy(&px,
                               data + (size_t)y * (size_t)stride +
                                   (size_t)x * 4,
                               4);
                        if (((px >> 16) & 0xff) + ((px >> 8) & 0xff) +
                                (px & 0xff) <
                            3 * 110)
                                dark++;
                }
        return dark;
}

Test(png, first_page_decodes_with_ink_where_the_header_is)
{
        struct tl_error err = {0};
        json_t *doc = load(SAMPLE);
        const char *path = tmp("inv.png");
        cairo_surface_t *img;
        size_t len;
        char *data;

        cr_assert_eq(inv_render_png(doc, path, &err), TL_OK, "%s", err.msg);
        data = slurp(path, &len);
        cr_assert(len > 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8));
        free(data);
        img = cairo_image_surface_create_from_png(path);
        cr_assert_eq(cairo_surface_status(img), CAIRO_STATUS_SUCCESS);
        cr_assert_eq(cairo_image_surface_get_width(img), PNG_W);
        cr_assert_eq(cairo_image_surface_get_height(img), PNG_H);
        cairo_surface_flush(img);
        /* The header holds the issuer's name at the top left and the title
           "INVOICE" with the number at the top right (the first ~45 pt
           below the margin); the paper is white, so a blank page and a
           black one both fail. */
        cr_assert_gt(dark_pixels(img, 100, 88, 500, 116), 1000, "issuer");
        cr_assert_gt(dark_pixels(img, 800, 88, 1091, 128), 1000, "title");
        cr_assert_lt(dark_pixels(img, 0, 0, PNG_W, PNG_H),
                     (long)PNG_W * PNG_H / 10);
        cairo_surface_destroy(img);
        json_decref(doc);
}

Test(png, errors_match_the_pdfs)
{
        struct tl_error err = {0};
        json_t *doc = load(SAMPLE);
        const char *path = tmp("no-such-dir/inv.png");

        cr_assert_eq(inv_render_png(doc, path, &err), TL_EIO);
        cr_assert(strstr(err.msg, path), "%s", err.msg);
        json_object_del(doc, "lines");
        cr_assert_eq(inv_render_png(doc, tmp("x.png"), &err), TL_EINVAL);
        cr_assert_str_eq(err.msg, "invoice: lines: missing");
        json_decref(doc);
}
