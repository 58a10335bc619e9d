/* Seat events to active days (spec: docs/pricing-rules.md, "Seats"). */
#ifndef RATE_SEATS_H
#define RATE_SEATS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/time.h"
#include "rating/usage.h"
#include "schemas/event.h"

/* One device.seat event as a seat meter keeps it (strings are owned by
   the accumulator's arena). */
struct rate__seat_ev {
        tl_time_us time_us;
        uint64_t seq; /* order of arrival, for equal times */
        sch_seat_action action;
        const char *device;
        const char *model_class;
};

/*
** The seat-days per model_class in period 'p' of the 'n' events at 'ev'
** (which it sorts in place) into a new array '*out' of '*count' entries,
** sorted by class (free with tl_free). TL_OK or TL_ENOMEM.
*/
tl_status rate__seat_days(const struct rate_period *p, struct rate__seat_ev *ev,
                          size_t n, struct rate_seat_usage **out, size_t *count,
                          struct tl_error *err);

#endif
