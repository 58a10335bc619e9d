/* rate_invoice_json on invoices made by hand: escaping checked by
   jansson's reader, text that is not UTF-8, and invoicing's extra
   members. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "rating/invoice.h"

static const struct rate_currency usd = {"USD", 2};
static struct rate_catalog cat;
static struct rate_plan plan = {.id = "pro", .name = "Pro"};

/* An invoice with no lines, the period 2026-10. */
static void invoice(struct rate_invoice *inv, const char *name)
{
        memset(inv, 0, sizeof *inv);
        cat.name = "acme";
        cat.version = "v1";
        cat.currency = &usd;
        strcpy(cat.sha256_hex, "ab");
        inv->catalog = &cat;
        inv->plan = &plan;
        inv->customer = "cust_1";
        inv->customer_name = name;
        inv->subscribed_plan = "pro";
        strcpy(inv->period.start_iso, "2026-10-01");
        strcpy(inv->period.end_iso, "2026-11-01");
        inv->period.days = 31;
}

Test(invoice_json, hostile_text_reads_back_the_same_with_jansson)
{
        static const char hostile[] =
            "q\"b\\n\nc\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0b\x0c\x0d\x0e"
            "\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e"
            "\x1f/\x7f\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80 end";
        struct rate_cohort_choice co = {hostile, hostile, false};
        struct rate_invoice inv;
        struct tl_buf b;
        json_t *doc, *v;

        invoice(&inv, hostile);
        inv.cohort_count = 1;
        inv.cohorts = &co;
        tl_buf_init(&b, 0);
        cr_assert_eq(rate_invoice_json(&inv, &b, NULL), TL_OK);
        doc = json_loadb(b.data, b.len, 0, NULL);
        cr_assert(doc, "%s", b.data);
        v = json_object_get(doc, "customer_name");
        cr_expect_eq(json_string_length(v), sizeof hostile - 1);
        cr_expect_eq(memcmp(json_string_value(v), hostile, sizeof hostile - 1),
                     0);
        v = json_object_get(json_object_get(doc, "cohorts"), hostile);
        cr_expect_str_eq(json_string_value(v), hostile);
        cr_expect(strstr(b.data, "/\x7f\xc3\xa9\xe2\x80\xa8"), "%s", b.data);
        json_decref(doc);
        tl_buf_release(&b);
}

Test(invoice_json, text_that_is_not_utf8_is_refused_with_its_field)
{
        struct rate_invoice inv;
        struct tl_buf b;
        struct tl_error err;

        invoice(&inv, "Caf\xe9");
        tl_buf_init(&b, 0);
        cr_assert_eq(tl_buf_puts(&b, "keep", NULL), TL_OK);
        cr_assert_eq(rate_invoice_json(&inv, &b, &err), TL_EINVAL);
        cr_expect(strstr(err.msg, "customer_name: not UTF-8"), "%s", err.msg);
        cr_expect_eq(b.len, 4, "the buffer is left as it was");
        tl_buf_release(&b);
}

Test(invoice_json, extra_members_come_last_in_their_order_and_bad_ones_fail)
{
        struct rate_invoice inv;
        struct tl_buf b;
        struct tl_error err;
        const char *tail;

        invoice(&inv, NULL);
        inv.extra_json = "\"issuer\":{\"name\":\"A\\nB\"},\"issued\":null,"
                         "\"daily\":[]";
        tl_buf_init(&b, 0);
        cr_assert_eq(rate_invoice_json(&inv, &b, &err), TL_OK, "%s", err.msg);
        tail = strstr(b.data, ",\"savings\":[]");
        cr_assert(tail, "%s", b.data);
        cr_expect_str_eq(tail,
                         ",\"savings\":[],\"issuer\":{\"name\":\"A\\nB\"},"
                         "\"issued\":null,\"daily\":[]}");
        tl_buf_clear(&b);
        inv.extra_json = "\"issuer\":{\"name\":\"A\"";
        cr_assert_eq(rate_invoice_json(&inv, &b, &err), TL_EINTERNAL);
        cr_expect(strstr(err.msg, "extra members"), "%s", err.msg);
        cr_expect_eq(b.len, 0);
        tl_buf_release(&b);
}
