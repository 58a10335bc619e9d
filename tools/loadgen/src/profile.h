/* The production profile's pieces (profile.c): customers of skewed size,
   each with sticky habits, and event times that only advance. */
#ifndef LG_PROFILE_H
#define LG_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/time.h"

/* The choices a customer keeps for the whole run, as indices into gen.c's
   tables (4 models, 3 decodings, 3 tasks, 3 regions, 3 classes). */
struct lg__habits {
        uint8_t models[3], model_count; /* 1 .. 3 distinct models */
        uint8_t decodings[2], decoding_count;
        uint8_t apps[3], app_count; /* app-N values; 0: no app dimension */
        uint8_t tasks[2], task_count;
        uint8_t region, model_class;
        bool device; /* on-device rather than cloud */
};

/* The habits of customer 'cust' under 'seed': the same arguments give the
   same habits, whatever else the run does. */
void lg__habits_of(uint64_t seed, uint32_t cust, struct lg__habits *h);

/*
** The cumulative Zipf weights (exponent 1: the customer of rank r, from 1,
** weighs 1/r) of 'n' customers into '*out' (n entries, the caller's to
** tl_free). Returns TL_OK or TL_ENOMEM.
*/
tl_status lg__zipf_new(uint32_t n, uint64_t **out, struct tl_error *err);

/* A customer drawn by weight from 'cum' (lg__zipf_new's, 'n' entries). */
uint32_t lg__zipf_pick(const uint64_t *cum, uint32_t n, uint64_t *s);

/*
** The time of distinct event 'n' of 'events' spread evenly over
** [from, to], on a millisecond; on the whole second below it when
** 'whole_second' and that keeps the times non-decreasing in 'n'.
*/
tl_time_us lg__steady_time(tl_time_us from, tl_time_us to, uint64_t events,
                           uint64_t n, bool whole_second);

#endif
