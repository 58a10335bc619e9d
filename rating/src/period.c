/* Billing periods: calendar months in UTC. */
#include <stdio.h>
#include <string.h>

#include "rating/usage.h"

void rate_period_of_day(int64_t day, struct rate_period *out)
{
        int64_t y;
        unsigned m, d;

        tl_civil_from_days(day, &y, &m, &d);
        memset(out, 0, sizeof *out);
        out->start_day = tl_days_from_civil(y, m, 1);
        out->days = tl_days_in_month(y, m);
        out->end_day = out->start_day + out->days;
        out->start_us = out->start_day * TL_US_PER_DAY;
        out->end_us = out->end_day * TL_US_PER_DAY;
        snprintf(out->label, sizeof out->label, "%04d-%02u", (int)y, m);
        snprintf(out->start_iso, sizeof out->start_iso, "%04d-%02u-01", (int)y,
                 m);
        tl_civil_from_days(out->end_day, &y, &m, &d);
        snprintf(out->end_iso, sizeof out->end_iso, "%04d-%02u-01", (int)y, m);
}

tl_status rate_period_parse(const char *text, struct rate_period *out,
                            struct tl_error *err)
{
        unsigned y, m;
        char tail;

        if (strlen(text) != 7 || text[4] != '-' ||
            sscanf(text, "%4u-%2u%c", &y, &m, &tail) != 2 || y < 2000 ||
            y > 9999 || m < 1 || m > 12)
                return tl_fail(err, TL_EINVAL,
                               "period '%s': expected YYYY-MM (e.g. 2026-10)",
                               text);
        rate_period_of_day(tl_days_from_civil(y, m, 1), out);
        return TL_OK;
}
