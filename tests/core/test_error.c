/* The status list, tl_fail and message prefixing. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/error.h"

Test(error, fail_fills_code_and_message_and_returns_code)
{
        struct tl_error err;
        tl_status rc = tl_fail(&err, TL_EINVAL, "%s:%d:%d: tiers must ascend",
                               "rules.yaml", 14, 9);

        cr_assert_eq(rc, TL_EINVAL);
        cr_assert_eq(err.code, TL_EINVAL);
        cr_assert_str_eq(err.msg, "rules.yaml:14:9: tiers must ascend");
}

Test(error, fail_accepts_null_error)
{
        cr_assert_eq(tl_fail(NULL, TL_EIO, "ignored"), TL_EIO);
}

Test(error, long_message_is_cut_with_ellipsis)
{
        struct tl_error err;
        char big[2 * TL_ERROR_MSG_MAX];

        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        tl_fail(&err, TL_EPARSE, "%s", big);
        cr_assert_eq(strlen(err.msg), TL_ERROR_MSG_MAX - 1);
        cr_assert_str_eq(err.msg + TL_ERROR_MSG_MAX - 4, "...");
}

Test(error, prefix_adds_outer_context)
{
        struct tl_error err;

        tl_fail(&err, TL_EINVAL, "expected unsigned integer");
        cr_assert_eq(tl_error_prefix(&err, "data.%s", "output_tokens"),
                     TL_EINVAL);
        cr_assert_str_eq(err.msg,
                         "data.output_tokens: expected unsigned integer");
}

Test(error, status_names_and_exit_codes_follow_the_list)
{
        cr_assert_eq(TL_OK, 0);
        cr_assert_str_eq(tl_status_name(TL_OK), "TL_OK");
        cr_assert_str_eq(tl_status_name(TL_EOVERFLOW), "TL_EOVERFLOW");
        cr_assert_str_eq(tl_status_text(TL_ENOMEM), "out of memory");
        cr_assert_str_eq(tl_status_name((tl_status)999), "TL_?");
        cr_assert_eq(tl_status_exit_code(TL_OK), 0);
        cr_assert_eq(tl_status_exit_code(TL_EINVAL), 2);
        cr_assert_eq(tl_status_exit_code(TL_EUSAGE), 2);
        cr_assert_eq(tl_status_exit_code(TL_EDB), 1);
        cr_assert_eq(tl_status_exit_code((tl_status)999), 1);
}

Test(error, clear_resets)
{
        struct tl_error err;

        tl_fail(&err, TL_EIO, "disk");
        tl_error_clear(&err);
        cr_assert_eq(err.code, TL_OK);
        cr_assert_str_eq(err.msg, "");
        tl_error_clear(NULL);
}
