/* UTC time: microseconds since the Unix epoch, civil dates, RFC 3339. */
#ifndef TL_TIME_H
#define TL_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Microseconds since 1970-01-01T00:00:00Z; the one time type of tally. */
typedef int64_t tl_time_us;

#define TL_US_PER_SEC INT64_C(1000000)
#define TL_US_PER_DAY (INT64_C(86400) * TL_US_PER_SEC)

/* The wall clock now. */
tl_time_us tl_time_now_us(void);

/* Microseconds of a monotonic clock (any origin), for durations. */
int64_t tl_mono_us(void);

/* Days since 1970-01-01 of a proleptic Gregorian date (any year). */
int64_t tl_days_from_civil(int64_t year, unsigned month, unsigned day);

/* The date of 'days' since 1970-01-01. */
void tl_civil_from_days(int64_t days, int64_t *year, unsigned *month,
                        unsigned *day);

/* Days in 'month' (1..12) of 'year'; 0 for a bad month. */
unsigned tl_days_in_month(int64_t year, unsigned month);

/*
** Parse an RFC 3339 timestamp ("2026-10-14T09:30:12.123Z", offsets like
** "+02:00", 't'/'z' in either case, up to 9 fractional digits of which the
** first 6 are kept; more precision than a microsecond is truncated toward
** the past). Years 0001..9999. Returns TL_OK or TL_EPARSE with the reason
** in 'err'; '*out' written only on success.
*/
tl_status tl_time_parse_rfc3339(const char *s, size_t len, tl_time_us *out,
                                struct tl_error *err);

/*
** Format 't' as "YYYY-MM-DDTHH:MM:SS.mmmZ" into 'out' (at least 32 bytes
** advised). Returns the length written, or 0 when 'size' is too small.
*/
size_t tl_time_format_rfc3339(tl_time_us t, char *out, size_t size);

#endif
