/* UTC civil dates and RFC 3339 parsing. */
#include <criterion/criterion.h>
#include <time.h>
#include <string.h>

#include "core/time.h"

static tl_time_us T(const char *s)
{
        tl_time_us t;
        struct tl_error err;

        cr_assert_eq(tl_time_parse_rfc3339(s, strlen(s), &t, &err), TL_OK,
                     "%s: %s", s, err.msg);
        return t;
}

Test(time, civil_round_trips_across_eras)
{
        for (int64_t d = -800000; d <= 800000; d += 37) {
                int64_t y;
                unsigned m, day;
                tl_civil_from_days(d, &y, &m, &day);
                cr_assert_eq(tl_days_from_civil(y, m, day), d);
        }
        cr_assert_eq(tl_days_from_civil(1970, 1, 1), 0);
        cr_assert_eq(tl_days_from_civil(2000, 3, 1), 11017);
}

Test(time, days_in_month_knows_leap_years)
{
        cr_assert_eq(tl_days_in_month(2026, 10), 31);
        cr_assert_eq(tl_days_in_month(2026, 2), 28);
        cr_assert_eq(tl_days_in_month(2028, 2), 29);
        cr_assert_eq(tl_days_in_month(2100, 2), 28);
        cr_assert_eq(tl_days_in_month(2000, 2), 29);
        cr_assert_eq(tl_days_in_month(2026, 13), 0);
}

Test(time, parses_rfc3339_with_fraction_and_offsets)
{
        char buf[40];

        cr_assert_eq(T("1970-01-01T00:00:00Z"), 0);
        cr_assert_eq(T("2026-10-14T09:30:12.123Z"),
                     T("2026-10-14T11:30:12.123+02:00"));
        cr_assert_eq(T("2026-10-14t09:30:12.123456789z") % TL_US_PER_SEC,
                     123456);
        cr_assert_eq(T("2026-11-01T00:00:00Z") - T("2026-10-31T23:59:59Z"),
                     TL_US_PER_SEC);
        tl_time_format_rfc3339(T("2026-10-14T09:30:12.123-05:30"), buf,
                               sizeof buf);
        cr_assert_str_eq(buf, "2026-10-14T15:00:12.123Z");
        tl_time_format_rfc3339(T("1969-12-31T23:59:59.5Z"), buf, sizeof buf);
        cr_assert_str_eq(buf, "1969-12-31T23:59:59.500Z");
}

static void assert_bad(const char *s, const char *frag)
{
        tl_time_us t = 77;
        struct tl_error err;

        cr_assert_eq(tl_time_parse_rfc3339(s, strlen(s), &t, &err), TL_EPARSE,
                     "%s", s);
        cr_assert(strstr(err.msg, frag), "%s: '%s'", s, err.msg);
        cr_assert_eq(t, 77);
}

Test(time, rejects_bad_timestamps_with_reason)
{
        assert_bad("2026-10-14", "expected RFC 3339");
        assert_bad("2026-10-14 09:30:12Z", "expected RFC 3339");
        assert_bad("2026-02-29T00:00:00Z", "out of range");
        assert_bad("2026-13-01T00:00:00Z", "out of range");
        assert_bad("2026-10-14T24:00:00Z", "out of range");
        assert_bad("2026-10-14T09:30:12", "'Z' or a +hh:mm");
        assert_bad("2026-10-14T09:30:12.Z", "1 to 9 digits");
        assert_bad("2026-10-14T09:30:12.1234567891Z", "1 to 9 digits");
        assert_bad("2026-10-14T09:30:12+0200", "'Z' or a +hh:mm");
        assert_bad("2026-10-14T09:30:12Zjunk", "'Z' or a +hh:mm");
        assert_bad("0000-01-01T00:00:00Z", "expected RFC 3339");
}

Test(time, monotonic_clock_advances_with_time)
{
        struct timespec ts = {0, 20 * 1000 * 1000};
        int64_t a = tl_mono_us(), b;

        nanosleep(&ts, NULL);
        b = tl_mono_us();
        cr_assert_geq(b - a, 20000, "%lld us for a 20 ms sleep",
                      (long long)(b - a));
        cr_assert_lt(b - a, 5000000);
}
