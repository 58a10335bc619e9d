/* The server's small parts on their own: path ids and the per-key limiter. */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "../../api/src/internal.h"

static bool id_ok(const char *raw, const char *want)
{
        char buf[512];
        size_t n = strlen(raw);

        cr_assert_lt(n, sizeof buf);
        memcpy(buf, raw, n + 1);
        if (!api__decode_id(buf, n))
                return false;
        cr_expect_str_eq(buf, want, "%s", raw);
        return true;
}

Test(paths, ids_are_decoded_once_and_checked)
{
        char big[200];

        cr_expect(id_ok("cust_0042", "cust_0042"));
        cr_expect(id_ok("a%2Fb", "a/b"), "an encoded slash stays in the id");
        cr_expect(id_ok("a%252F", "a%2F"), "decoded once, not twice");
        cr_expect(id_ok("caf%C3%A9", "caf\xc3\xa9"));
        cr_expect(id_ok("a%22b%5Cc%0Ad", "a\"b\\c\nd"));
        cr_expect_not(id_ok("", ""), "empty");
        cr_expect_not(id_ok("a%00b", ""), "NUL");
        cr_expect_not(id_ok("a%2", ""), "cut escape");
        cr_expect_not(id_ok("a%G0", ""), "bad hex");
        cr_expect_not(id_ok("%FF%FE", ""), "not UTF-8");
        cr_expect_not(id_ok("%C0%AF", ""), "overlong UTF-8");
        memset(big, 'x', 129);
        big[129] = '\0';
        cr_expect_not(id_ok(big, ""), "129 bytes");
        big[128] = '\0';
        cr_expect(id_ok(big, big), "128 bytes");
}

Test(limiter, a_burst_then_refusals_with_a_retry_and_keys_apart)
{
        struct api__limiter l;
        unsigned retry = 0;
        int ok = 0;

        cr_assert_eq(api__limiter_init(&l, 2, 5, NULL), TL_OK);
        for (int i = 0; i < 5; i++)
                ok += api__limiter_take(&l, "a", &retry);
        cr_expect_eq(ok, 5, "the burst");
        cr_expect_not(api__limiter_take(&l, "a", &retry), "past the burst");
        cr_expect_geq(retry, 1);
        cr_expect_leq(retry, 2);
        cr_expect(api__limiter_take(&l, "b", &retry), "another key");
        api__limiter_release(&l);
}

Test(limiter, tokens_come_back_at_the_rate)
{
        struct api__limiter l;
        unsigned retry = 0;

        cr_assert_eq(api__limiter_init(&l, 1000, 1, NULL), TL_OK);
        cr_expect(api__limiter_take(&l, "k", &retry));
        cr_expect_not(api__limiter_take(&l, "k", &retry));
        usleep(5000); /* 5 ms at 1,000/s: five tokens, capped at 1 */
        cr_expect(api__limiter_take(&l, "k", &retry));
        cr_expect_not(api__limiter_take(&l, "k", &retry));
        api__limiter_release(&l);
}
