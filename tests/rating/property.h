/* The property suite's shared parts: the case model, deterministic
   randomness, exact-number helpers and the independent reference. */
#ifndef PROPERTY_H
#define PROPERTY_H

#include <gmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dec.h"

/*
** The reference shares no code with the rater. Every catalog number is
** generated as an integer x 10^12 (no number may have more fractional
** digits); amounts are GMP numerator / denominator pairs built from the
** spec's formulas, rounded once, half to even, at the end of each line.
*/
#define E12 ((tl_u128)1000000000000)
#define MAX_CUST 3
#define MAX_EV 12
#define MAX_FEES 4
#define MAX_CHARGES 8
#define MAX_TIERS 4
#define DAY_US (INT64_C(86400) * 1000000)
#define DEFAULT_SEED UINT64_C(0x7a11e5eed2026)

_Static_assert(sizeof(unsigned long) == 8, "mpz_*_ui take 64-bit words");

/* The fixed meters of every random catalog (see write_catalog). */
extern const char *const METER[4];
extern const bool GROUPS[4];
/* Decoding values of events; 0: the field is absent (group ""). */
extern const char *const DECODING[4];
extern const char *const CURRENCY[3];
extern const unsigned MINOR[3];
extern const char *const MODEL[5];
enum { PER_UNIT, GRADUATED, VOLUME, PACKAGE, FLAT };

/* What was exercised, so a run shows it met the edges it claims to. */
struct prop_stats {
        unsigned long invoices, lines, ties, at_up_to, zero_q, minimum, credit;
};
extern struct prop_stats stats;

/* ---- deterministic randomness (splitmix64) and numbers --------------- */

struct rng {
        uint64_t s;
};

struct tbuf {
        size_t n;
        char b[1 << 16];
};

/* ---- the case model -------------------------------------------------- */

struct charge { /* every number x 10^12 */
        char id[12], name[24];
        int meter, model, nweights, ntiers;
        bool has_unit, has_inc;
        tl_u128 unit, included, price, size;
        int wvalue[3]; /* DECODING index */
        tl_u128 weight[3], up_to[MAX_TIERS], tprice[MAX_TIERS];
};

struct fee {
        char id[12], name[24];
        tl_u128 amount;
};

struct plan {
        int nfees, ncharges, savings; /* savings: priced_as, or -1 */
        struct fee fees[MAX_FEES];
        struct charge charges[MAX_CHARGES];
        bool has_min;
        tl_u128 minimum;
};

struct event {
        bool cloud;
        int dec;
        uint64_t in, out;
        int64_t time_us;
};

struct cust {
        char id[16];
        int nev;
        int64_t start_day, end_day;
        bool has_end, has_tax, has_credits;
        tl_u128 tax, credits;
        struct event ev[MAX_EV];
        tl_u128 tot[4][4]; /* the reference's usage: meter x decoding */
};

struct tcase {
        int cur, year, month, ncust;
        int64_t pstart_day, days;
        struct plan plan;
        struct cust cust[MAX_CUST];
};

uint64_t rnext(struct rng *r);

uint64_t below(struct rng *r, uint64_t n);

bool chance(struct rng *r, unsigned pct);

tl_u128 below128(struct rng *r, tl_u128 n);

tl_u128 p10(unsigned n);

/* A number x 10^12 up to 10^'int_digits', mostly with few fractional
   digits, so that money amounts often land exactly on ties. */
tl_u128 rnum(struct rng *r, unsigned int_digits);

void z_u128(mpz_t z, tl_u128 v);

/* 0 <= z < 2^128 */
tl_u128 u128_of(const mpz_t z);

/* Append printf text to 't' (fails the test when it is full). */
void tp(struct tbuf *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Calendar, written out here (Hinnant's civil-days algorithms). */
int64_t days_from_civil(int64_t y, int m, int d);

void civil_text(int64_t z, char out[11]);

/* Usage by meter and decoding value, read off the meters' definitions:
   only events with time in [period start, period end) count. */
void ref_usage(const struct tcase *k, struct cust *c);

/* '*q' x 10^12 = sum of count x weight (1 where not named); with
   'allowance', less included and never below 0. */
void ref_q(mpz_t q, const struct charge *ch, const tl_u128 tot[4],
           bool allowance);

/* 'v' / 10^'digits' with exactly 'digits' places ("-0.05", "7"); with
   'shortest', trailing fractional zeros (and a bare point) dropped. */
void fixed_text(const mpz_t v, unsigned digits, bool shortest, char *out,
                size_t size);

/* One invoice line in the form both sides are written in for comparing:
   kind, what it prices, name and quantity where the line has them. */
void line_text(struct tbuf *t, const char *kind, const char *ref,
               const char *name, const char *qty, const char *amount);

/* The invoice of 'c' as docs/formats.md and docs/pricing-rules.md describe it.
 */
void ref_invoice(const struct tcase *k, const struct cust *c, struct tbuf *t);

#endif
