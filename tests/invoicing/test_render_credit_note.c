/* The PDF of a credit note (its own title, the invoice it credits and
   why) and of a voided invoice (a VOID watermark), from documents alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cairo.h>
#include <criterion/criterion.h>
#include <jansson.h>

#include "core/alloc.h"
#include "core/yaml.h"
#include "invoicing/render.h"
#include "testkit.h"

/* fontconfig's configuration lives until FcFini, which cairo never calls
   (as in test_render.c): not the renderer's leak. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
        return "leak:libfontconfig.so\n";
}

static const char CREDIT_NOTE[] =
    "{\"number\":\"CN-2026-000007\",\"type\":\"credit_note\","
    "\"status\":\"issued\",\"invoice\":\"INV-2026-000002\","
    "\"customer_name\":\"Birch\",\"customer\":\"cust_B\","
    "\"period\":{\"start\":\"2026-10-01\",\"end\":\"2026-11-01\"},"
    "\"issuer\":{\"name\":\"Acme AI\",\"address\":[],\"email\":null},"
    "\"issued\":\"2026-12-01\",\"reason\":\"outage\","
    "\"lines\":[{\"kind\":\"minimum\",\"name\":\"Minimum commitment\","
    "\"amount\":\"20.00\"}],\"subtotal\":\"20.00\",\"credit\":\"0.00\","
    "\"tax\":\"0.00\",\"total\":\"20.00\",\"currency\":\"USD\"}";

/* The PDF 'doc' renders to, as bytes ('*len'); NULL-terminated. */
static char *pdf_of(const json_t *doc, size_t *len)
{
        char path[] = "/tmp/tally-cn-XXXXXX";
        struct tl_error e = {0};
        char *bytes = NULL;
        int fd = mkstemp(path);

        cr_assert_geq(fd, 0);
        close(fd);
        cr_assert_eq(inv_render_pdf(doc, path, &e), TL_OK, "%s", e.msg);
        cr_assert_eq(tl_read_file(path, &bytes, len, &e), TL_OK, "%s", e.msg);
        unlink(path);
        return bytes;
}

static bool holds(const char *bytes, size_t len, const char *needle)
{
        size_t n = strlen(needle);

        for (size_t i = 0; i + n <= len; i++)
                if (!memcmp(bytes + i, needle, n))
                        return true;
        return false;
}

Test(credit_note_pdf, is_titled_as_a_credit_note)
{
        json_t *doc = json_loads(CREDIT_NOTE, 0, NULL);
        size_t len;
        char *pdf;

        cr_assert(doc);
        pdf = pdf_of(doc, &len);
        cr_expect(holds(pdf, len, "Title (Credit note CN-2026-000007)"));
        tl_free(pdf);
        json_decref(doc);
        cairo_debug_reset_static_data();
}

Test(credit_note_pdf, without_its_reason_is_einval_naming_it)
{
        json_t *doc = json_loads(CREDIT_NOTE, 0, NULL);
        struct tl_error e = {0};

        json_object_del(doc, "reason");
        cr_expect_eq(inv_render_pdf(doc, "/tmp/tally-cn-never.pdf", &e),
                     TL_EINVAL);
        cr_expect(strstr(e.msg, "reason"), "%s", e.msg);
        json_decref(doc);
        cairo_debug_reset_static_data();
}

Test(credit_note_pdf, a_voided_invoice_renders_otherwise_than_an_open_one)
{
        char path[512];
        json_t *doc;
        size_t la, lb;
        char *a, *b;

        snprintf(path, sizeof path, "%s/tests/invoicing/sample_invoice.json",
                 tk_source_dir());
        doc = json_load_file(path, 0, NULL);
        cr_assert(doc, "%s", path);
        json_object_set_new(doc, "payment_status", json_string("open"));
        a = pdf_of(doc, &la);
        json_object_set_new(doc, "payment_status", json_string("void"));
        b = pdf_of(doc, &lb);
        cr_expect(la != lb || memcmp(a, b, la), "the VOID mark is missing");
        tl_free(a);
        tl_free(b);
        json_decref(doc);
        cairo_debug_reset_static_data();
}
