/* UTC civil-date arithmetic (Howard Hinnant's algorithms) and RFC 3339. */
#include "core/time.h"

#include <stdio.h>
#include <time.h>

tl_time_us tl_time_now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (tl_time_us)ts.tv_sec * TL_US_PER_SEC + ts.tv_nsec / 1000;
}

int64_t tl_mono_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t floor_div(int64_t a, int64_t b)
{
        int64_t q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t tl_days_from_civil(int64_t year, unsigned month, unsigned day)
{
        int64_t y = month <= 2 ? year - 1 : year;
        int64_t era = floor_div(y, 400);
        int64_t yoe = y - era * 400;
        int64_t mp = month > 2 ? (int64_t)month - 3 : (int64_t)month + 9;
        int64_t doy = (153 * mp + 2) / 5 + (int64_t)day - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

        return era * 146097 + doe - 719468;
}

void tl_civil_from_days(int64_t days, int64_t *year, unsigned *month,
                        unsigned *day)
{
        int64_t z = days + 719468;
        int64_t era = floor_div(z, 146097);
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;
        int64_t m = mp < 10 ? mp + 3 : mp - 9;

        *day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
        *month = (unsigned)m;
        *year = yoe + era * 400 + (m <= 2);
}

unsigned tl_days_in_month(int64_t year, unsigned month)
{
        static const unsigned char days[] = {31, 28, 31, 30, 31, 30,
                                             31, 31, 30, 31, 30, 31};
        int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

        if (month < 1 || month > 12)
                return 0;
        return days[month - 1] + (unsigned)(month == 2 && leap);
}

/* Two digits at 's', or -1. Unsigned arithmetic rejects non-digits. */
static int two(const char *s)
{
        unsigned a = (unsigned)(unsigned char)s[0] - '0';
        unsigned b = (unsigned)(unsigned char)s[1] - '0';

        return a <= 9 && b <= 9 ? (int)(a * 10 + b) : -1;
}

/* The zone suffix at s[i..len): offset in seconds east of UTC. */
static int parse_zone(const char *s, size_t len, size_t i, int64_t *off_s)
{
        int hh, mm;

        if (len - i == 1 && (s[i] == 'Z' || s[i] == 'z')) {
                *off_s = 0;
                return 1;
        }
        if (len - i != 6 || (s[i] != '+' && s[i] != '-') || s[i + 3] != ':')
                return 0;
        hh = two(s + i + 1);
        mm = two(s + i + 4);
        if (hh < 0 || mm < 0 || hh > 23 || mm > 59)
                return 0;
        *off_s = (s[i] == '-' ? -1 : 1) * (int64_t)(hh * 3600 + mm * 60);
        return 1;
}

/* Events in a stream mostly share their month (a month's file has
   random days): remember where the last one starts. Per thread, so
   concurrent parsers never share it. */
static int64_t days_of(int64_t y, int mo, int d)
{
        static _Thread_local int64_t last_key = -1, last_days;
        int64_t key = y * 16 + mo;

        if (key != last_key) {
                last_days = tl_days_from_civil(y, (unsigned)mo, 1);
                last_key = key;
        }
        return last_days + d - 1;
}

tl_status tl_time_parse_rfc3339(const char *s, size_t len, tl_time_us *out,
                                struct tl_error *err)
{
        int c1, c2, mo, d, h, mi, sec, frac_digits = 0;
        int64_t y, frac_us = 0, off_s;
        size_t i = 19;

        /* Fixed positions: YYYY-MM-DDTHH:MM:SS, read without a scanner. */
        if (len < 19 || s[4] != '-' || s[7] != '-' ||
            (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' ||
            (c1 = two(s)) < 0 || (c2 = two(s + 2)) < 0 ||
            (mo = two(s + 5)) < 0 || (d = two(s + 8)) < 0 ||
            (h = two(s + 11)) < 0 || (mi = two(s + 14)) < 0 ||
            (sec = two(s + 17)) < 0 || c1 * 100 + c2 == 0)
                return tl_fail(err, TL_EPARSE,
                               "expected RFC 3339 time "
                               "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm)");
        y = c1 * 100 + c2;
        if (mo < 1 || mo > 12 || d < 1 ||
            (unsigned)d > tl_days_in_month(y, (unsigned)mo) || h > 23 ||
            mi > 59 || sec > 60)
                return tl_fail(err, TL_EPARSE, "date or time out of range");
        if (i < len && s[i] == '.') {
                for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
                        if (frac_digits < 6)
                                frac_us = frac_us * 10 + (s[i] - '0');
                        frac_digits++;
                }
                if (frac_digits == 0 || frac_digits > 9)
                        return tl_fail(err, TL_EPARSE,
                                       "fraction of a second needs 1 to 9 "
                                       "digits");
                for (int k = frac_digits; k < 6; k++)
                        frac_us *= 10;
        }
        if (i >= len || !parse_zone(s, len, i, &off_s))
                return tl_fail(err, TL_EPARSE,
                               "expected 'Z' or a +hh:mm offset at the end");
        /* A leap second (:60) is folded into the next second, as POSIX does. */
        *out = ((days_of(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off_s) *
                TL_US_PER_SEC) +
               frac_us;
        return TL_OK;
}

size_t tl_time_format_rfc3339(tl_time_us t, char *out, size_t size)
{
        int64_t days = t / TL_US_PER_DAY, rem, y;
        unsigned mo, d;
        int n;

        if (t % TL_US_PER_DAY < 0)
                days--;
        rem = t - days * TL_US_PER_DAY;
        tl_civil_from_days(days, &y, &mo, &d);
        n = snprintf(out, size, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
                     (long long)y, mo, d, (int)(rem / (3600 * TL_US_PER_SEC)),
                     (int)(rem / (60 * TL_US_PER_SEC) % 60),
                     (int)(rem / TL_US_PER_SEC % 60), (int)(rem / 1000 % 1000));
        return (n < 0 || (size_t)n >= size) ? 0 : (size_t)n;
}
