/* Internal: what the fast paths of both readers share (json_fast.c,
   cbor_fast.c). Each reads the usual shape of an event as a sequence of
   expected bytes and only says "yes, this event" or "not mine". */
#ifndef SCH_FAST_H
#define SCH_FAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "builder.h"
#include "core/time.h"

struct sch__fcur {
        const unsigned char *p, *end;
};

/*
** 'n' bytes at 'p' equal those of 'lit', by 8-byte words (the last one
** overlapping): with 'n' a constant this unrolls to a few loads and
** compares, where the library memcmp was a call per literal.
*/
static inline __attribute__((always_inline)) bool
sch__fast_same(const unsigned char *p, const char *lit, size_t n)
{
        uint64_t a, b, diff = 0;
        size_t i = 0;

        if (n < 8) { /* two overlapping loads: memcmp was a call */
                uint32_t x, y;
                uint16_t u, v;

                if (n >= 4) {
                        memcpy(&x, p, 4);
                        memcpy(&y, lit, 4);
                        diff = x ^ y;
                        memcpy(&x, p + n - 4, 4);
                        memcpy(&y, lit + n - 4, 4);
                        return (diff | (x ^ y)) == 0;
                }
                if (n >= 2) {
                        memcpy(&u, p, 2);
                        memcpy(&v, lit, 2);
                        diff = u ^ v;
                        memcpy(&u, p + n - 2, 2);
                        memcpy(&v, lit + n - 2, 2);
                        return (diff | (uint16_t)(u ^ v)) == 0;
                }
                return n == 0 || p[0] == (unsigned char)lit[0];
        }
        for (; i + 8 <= n; i += 8) {
                memcpy(&a, p + i, 8);
                memcpy(&b, lit + i, 8);
                diff |= a ^ b;
        }
        if (i < n) {
                memcpy(&a, p + n - 8, 8);
                memcpy(&b, lit + n - 8, 8);
                diff |= a ^ b;
        }
        return diff == 0;
}

/*
** A CBOR head of major type 'major' at *pp with a definite argument (1, 2,
** 4 or 8 bytes big-endian, or in the head byte), stepped over. False for
** another major type, an indefinite length or a reserved value, which the
** general reader words; never reads at or past 'end'.
*/
static inline __attribute__((always_inline)) bool
sch__cbor_head(const unsigned char **pp, const unsigned char *end,
               unsigned major, uint64_t *arg)
{
        const unsigned char *p = *pp;
        unsigned ai;

        if (p >= end || (*p >> 5) != major)
                return false;
        ai = *p & 31;
        if (ai < 24) {
                *arg = ai;
                *pp = p + 1;
                return true;
        }
        if (ai > 27 || (size_t)(end - p) < 1 + (1u << (ai - 24)))
                return false;
        switch (ai) {
        case 24:
                *arg = p[1];
                break;
        case 25:
                *arg = (uint64_t)p[1] << 8 | p[2];
                break;
        case 26: {
                uint32_t x;
                memcpy(&x, p + 1, 4);
                *arg = __builtin_bswap32(x);
                break;
        }
        default: {
                uint64_t x;
                memcpy(&x, p + 1, 8);
                *arg = __builtin_bswap64(x);
        }
        }
        *pp = p + 1 + (1u << (ai - 24));
        return true;
}

/* The literal 'lit' (a string constant) at c->p, stepped over. */
#define SCH__LIT(c, lit)                                                       \
        ((size_t)((c)->end - (c)->p) >= sizeof(lit) - 1 &&                     \
         sch__fast_same((c)->p, lit, sizeof(lit) - 1) &&                       \
         ((c)->p += sizeof(lit) - 1, true))

/* Two ASCII digits at 's' as a number, or a value over 99. */
static inline unsigned sch__fast_two(const char *s)
{
        unsigned a = (unsigned)(unsigned char)s[0] - '0';
        unsigned b = (unsigned)(unsigned char)s[1] - '0';

        return a <= 9 && b <= 9 ? a * 10 + b : 100;
}

/*
** The two usual RFC 3339 forms, "YYYY-MM-DDTHH:MM:SSZ" and the same with
** ".mmm" milliseconds, into '*out' exactly as tl_time_parse_rfc3339 reads
** them (a leap second folded into the next, as there); false for any
** other text, which that parser then reads. The month's first day is
** remembered in the decoder: a month's events have random days.
*/
static inline bool sch__fast_time(struct sch_decoder *d, const char *s,
                                  size_t len, tl_time_us *out)
{
        unsigned c1, c2, mo, dd, h, mi, sec, ms = 0;
        int64_t y;

        if ((len != 20 && len != 24) || s[len - 1] != 'Z' || s[4] != '-' ||
            s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
                return false;
        c1 = sch__fast_two(s);
        c2 = sch__fast_two(s + 2);
        mo = sch__fast_two(s + 5);
        dd = sch__fast_two(s + 8);
        h = sch__fast_two(s + 11);
        mi = sch__fast_two(s + 14);
        sec = sch__fast_two(s + 17);
        if (len == 24) {
                unsigned a = sch__fast_two(s + 20);
                unsigned b = (unsigned)(unsigned char)s[22] - '0';

                if (s[19] != '.' || a > 99 || b > 9)
                        return false;
                ms = a * 10 + b;
        }
        if (c1 > 99 || c2 > 99 || c1 + c2 == 0 || mo < 1 || mo > 12 || dd < 1 ||
            h > 23 || mi > 59 || sec > 60)
                return false;
        y = (int64_t)(c1 * 100 + c2);
        if (y * 16 + mo != d->month_key) {
                d->month_key = y * 16 + mo;
                d->month_days = tl_days_from_civil(y, mo, 1);
                d->month_len = tl_days_in_month(y, mo);
        }
        if (dd > d->month_len)
                return false;
        *out = ((d->month_days + dd - 1) * 86400 + h * 3600 + mi * 60 + sec) *
                   TL_US_PER_SEC +
               (tl_time_us)ms * 1000;
        return true;
}

/* Time text as the general reader reads it. */
static inline bool sch__fast_time_text(struct sch_decoder *d, struct sch_str s,
                                       tl_time_us *out)
{
        return sch__fast_time(d, s.ptr, s.len, out) ||
               tl_time_parse_rfc3339(s.ptr, s.len, out, NULL) == TL_OK;
}

/* The general reader's window: not before 2000, not past the receiver's
   clock plus the skew. The real clock is read again only when an event
   looks ahead of the last reading: the clock does not go back. */
static inline bool sch__fast_time_ok(struct sch_decoder *d, tl_time_us t)
{
        tl_time_us skew = d->opt.skew_us ? d->opt.skew_us : SCH_DEFAULT_SKEW_US;

        if (t < SCH__Y2000_US)
                return false;
        if (d->opt.now_us)
                return t <= d->opt.now_us + skew;
        if (t > d->clock_us + skew)
                d->clock_us = tl_time_now_us();
        return t <= d->clock_us + skew;
}

/* What sch__builder_start clears, field by field: the memset of 240
   bytes compiled to `rep stos`, 12 % of this path. A new field before
   'dims' must be added here: the assertion fails until it is. */
_Static_assert(offsetof(struct sch_event, dims) == 240,
               "sch__fast_clear() must clear every field before dims");
static inline void sch__fast_clear(struct sch_event *ev)
{
        const struct sch_str none = {NULL, 0};

        ev->id = ev->source = ev->subject = none;
        ev->type = SCH_TYPE_NONE;
        ev->time_us = 0;
        ev->model = ev->decoding = ev->device_id = ev->model_class = none;
        ev->deployment = SCH_DEPLOY_NONE;
        ev->action = SCH_SEAT_NONE;
        ev->input_tokens = ev->output_tokens = ev->cached_input_tokens = 0;
        ev->iterations = ev->tokens = ev->mac = 0;
        ev->task = ev->outcome = none;
        ev->units = 0;
        ev->dim_count = 0;
}

/*
** Dimension 'k' = 'v' into 'ev', kept sorted by key as the builder keeps
** them; false (the general reader decides) when the key is a typed field
** of the event's type, is given twice, or the event has no room left.
*/
static inline bool sch__fast_dim(struct sch_event *ev, struct sch_str k,
                                 struct sch_str v)
{
        uint32_t i;

        if (ev->dim_count == SCH_MAX_DIMS ||
            sch__data_field_index(ev->type, k) >= 0)
                return false;
        for (i = ev->dim_count; i > 0; i--) {
                const struct sch_str *o = &ev->dims[i - 1].key;
                uint32_t n = o->len < k.len ? o->len : k.len;
                int d = memcmp(o->ptr, k.ptr, n);

                if (d == 0 && o->len == k.len)
                        return false; /* given twice */
                if (d < 0 || (d == 0 && o->len < k.len))
                        break;
                ev->dims[i] = ev->dims[i - 1];
        }
        ev->dims[i].key = k;
        ev->dims[i].value = v;
        ev->dim_count++;
        return true;
}

#endif
