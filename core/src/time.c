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

/* Read exactly 'n' digits at s[*i]; -1 when any is not a digit. */
static int64_t digits(const char *s, size_t len, size_t *i, int n)
{
        int64_t v = 0;

        for (int k = 0; k < n; k++, (*i)++) {
                if (*i >= len || s[*i] < '0' || s[*i] > '9')
                        return -1;
                v = v * 10 + (s[*i] - '0');
        }
        return v;
}

static int expect(const char *s, size_t len, size_t *i, char a, char b)
{
        if (*i < len && (s[*i] == a || s[*i] == b)) {
                (*i)++;
                return 1;
        }
        return 0;
}

/* Parse the zone suffix at s[*i] into an offset in seconds east of UTC. */
static int parse_zone(const char *s, size_t len, size_t *i, int64_t *off_s)
{
        int64_t hh, mm;
        int sign;

        if (expect(s, len, i, 'Z', 'z')) {
                *off_s = 0;
                return 1;
        }
        if (*i >= len || (s[*i] != '+' && s[*i] != '-'))
                return 0;
        sign = s[(*i)++] == '-' ? -1 : 1;
        hh = digits(s, len, i, 2);
        if (hh < 0 || !expect(s, len, i, ':', ':'))
                return 0;
        mm = digits(s, len, i, 2);
        if (mm < 0 || hh > 23 || mm > 59)
                return 0;
        *off_s = sign * (hh * 3600 + mm * 60);
        return 1;
}

tl_status tl_time_parse_rfc3339(const char *s, size_t len, tl_time_us *out,
                                struct tl_error *err)
{
        size_t i = 0;
        int64_t y, mo, d, h, mi, sec, frac_us = 0, off_s;
        int frac_digits = 0;

        y = digits(s, len, &i, 4);
        if (y < 1 || !expect(s, len, &i, '-', '-') ||
            (mo = digits(s, len, &i, 2)) < 0 ||
            !expect(s, len, &i, '-', '-') ||
            (d = digits(s, len, &i, 2)) < 0 || !expect(s, len, &i, 'T', 't') ||
            (h = digits(s, len, &i, 2)) < 0 ||
            !expect(s, len, &i, ':', ':') ||
            (mi = digits(s, len, &i, 2)) < 0 ||
            !expect(s, len, &i, ':', ':') || (sec = digits(s, len, &i, 2)) < 0)
                return tl_fail(err, TL_EPARSE,
                               "expected RFC 3339 time "
                               "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm)");
        if (mo < 1 || mo > 12 || d < 1 ||
            d > tl_days_in_month(y, (unsigned)mo) || h > 23 || mi > 59 ||
            sec > 60)
                return tl_fail(err, TL_EPARSE, "date or time out of range");
        if (i < len && s[i] == '.') {
                i++;
                while (i < len && s[i] >= '0' && s[i] <= '9') {
                        if (frac_digits < 6)
                                frac_us = frac_us * 10 + (s[i] - '0');
                        frac_digits++;
                        i++;
                }
                if (frac_digits == 0 || frac_digits > 9)
                        return tl_fail(err, TL_EPARSE,
                                       "fraction of a second needs 1 to 9 "
                                       "digits");
                for (int k = frac_digits; k < 6; k++)
                        frac_us *= 10;
        }
        if (!parse_zone(s, len, &i, &off_s) || i != len)
                return tl_fail(err, TL_EPARSE,
                               "expected 'Z' or a +hh:mm offset at the end");
        /* A leap second (:60) is folded into the next second, as POSIX does. */
        *out = ((tl_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
                 h * 3600 + mi * 60 + sec - off_s) *
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
                     (int)(rem / TL_US_PER_SEC % 60),
                     (int)(rem / 1000 % 1000));
        return (n < 0 || (size_t)n >= size) ? 0 : (size_t)n;
}
