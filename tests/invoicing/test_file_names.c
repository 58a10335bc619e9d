/* Invoice file names: unique, safe and reversible for any customer id. */
#include <criterion/criterion.h>
#include <string.h>

#include "invoicing/render.h"

TestSuite(names);

/* Ids that the old mapping (unsafe byte -> '_') gave one name, and worse. */
static const char *const HOSTILE[] = {
    "a,b\"c", "a_b_c", "a b c", "=1+2",         "_1_2",        "+1+2",
    ".",      "..",    "_",     "%2E",          ".hidden",     "a/../b",
    "a\\b",   "a\nb",  "a\rb",  "\x01\x1f\x7f", "caf\xc3\xa9", "caf%C3%A9",
    "A",      "a",     "-",     "a%",           "%",           "a.b",
};
#define NHOSTILE (sizeof HOSTILE / sizeof HOSTILE[0])

Test(names, hostile_ids_get_distinct_safe_names_that_decode_back)
{
        char name[NHOSTILE][256], back[256];
        struct tl_error err = {0};

        for (size_t i = 0; i < NHOSTILE; i++) {
                cr_assert_eq(inv_file_name(HOSTILE[i], name[i], 256, &err),
                             TL_OK, "%zu: %s", i, err.msg);
                cr_assert_eq(strspn(name[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "abcdefghijklmnopqrstuvwxyz"
                                             "0123456789._-%"),
                             strlen(name[i]), "%s", name[i]);
                cr_assert_neq(name[i][0], '.', "%s", name[i]);
                cr_assert_eq(
                    inv_file_name_decode(name[i], back, sizeof back, &err),
                    TL_OK, "%s: %s", name[i], err.msg);
                cr_assert_str_eq(back, HOSTILE[i]);
                for (size_t k = 0; k < i; k++)
                        cr_assert_str_neq(name[i], name[k], "%s and %s",
                                          HOSTILE[i], HOSTILE[k]);
        }
        cr_assert_eq(inv_file_name("a,b\"c", name[0], 256, &err), TL_OK);
        cr_assert_str_eq(name[0], "a%2Cb%22c");
        cr_assert_eq(inv_file_name("..", name[0], 256, &err), TL_OK);
        cr_assert_str_eq(name[0], "%2E.");
        cr_assert_eq(inv_file_name("INV-2026-000001", name[0], 256, &err),
                     TL_OK);
        cr_assert_str_eq(name[0], "INV-2026-000001");
}

Test(names, names_are_never_cut_and_odd_names_do_not_decode)
{
        struct tl_error err = {0};
        char small[8], out[64];

        cr_assert_eq(inv_file_name("abcdefg", small, sizeof small, &err),
                     TL_OK);
        cr_assert_eq(inv_file_name("abcdefgh", small, sizeof small, &err),
                     TL_EINVAL);
        cr_assert_eq(inv_file_name("abcde\"", small, sizeof small, &err),
                     TL_EINVAL);
        cr_assert_eq(inv_file_name("", out, sizeof out, &err), TL_EINVAL);
        /* Only the one name each id has decodes: no needless escape, no
           bare unsafe byte, no NUL, no leading dot. */
        cr_assert_eq(inv_file_name_decode("%61", out, sizeof out, &err),
                     TL_EINVAL);
        cr_assert_eq(inv_file_name_decode("a b", out, sizeof out, &err),
                     TL_EINVAL);
        cr_assert_eq(inv_file_name_decode("a%00", out, sizeof out, &err),
                     TL_EINVAL);
        cr_assert_eq(inv_file_name_decode("a%2", out, sizeof out, &err),
                     TL_EINVAL);
        cr_assert_eq(inv_file_name_decode(".a", out, sizeof out, &err),
                     TL_EINVAL);
        cr_assert_eq(inv_file_name_decode("%2e", out, sizeof out, &err),
                     TL_EINVAL);
}
