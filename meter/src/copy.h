/* PostgreSQL's COPY BINARY tuple encoding, shared by the staged keys, the
   events, the rollups and the dead letters a batch writes. */
#ifndef METER_COPY_H
#define METER_COPY_H

#include <stddef.h>
#include <stdint.h>

#include "core/dec.h"
#include "core/error.h"
#include "core/str.h"

/* Microseconds from the Unix epoch to PostgreSQL's (2000-01-01). */
#define METER_PG_EPOCH_US (INT64_C(946684800) * 1000000)
/* Days from the Unix epoch to PostgreSQL's. */
#define METER_PG_EPOCH_DAYS 10957

static inline tl_status meter_copy_be(struct tl_buf *o, uint64_t v, int bytes,
                                      struct tl_error *err)
{
        unsigned char tmp[8];

        for (int i = 0; i < bytes; i++)
                tmp[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
        return tl_buf_append(o, tmp, (size_t)bytes, err);
}

static inline tl_status meter_copy_field(struct tl_buf *o, const void *p,
                                         size_t len, struct tl_error *err)
{
        tl_status rc = meter_copy_be(o, (uint32_t)len, 4, err);

        return rc ? rc : tl_buf_append(o, p, len, err);
}

static inline tl_status meter_copy_null(struct tl_buf *o, struct tl_error *err)
{
        return meter_copy_be(o, UINT32_MAX, 4, err);
}

static inline tl_status meter_copy_int(struct tl_buf *o, int64_t v, int bytes,
                                       struct tl_error *err)
{
        tl_status rc = meter_copy_be(o, (uint32_t)bytes, 4, err);

        return rc ? rc : meter_copy_be(o, (uint64_t)v, bytes, err);
}

/*
** A numeric in PostgreSQL's wire form: digit count, weight, sign and
** display scale, then base-10000 digits, most significant first. Rollup
** sums are numeric because a month of mac counts passes 2^64.
*/
static inline tl_status meter_copy_numeric(struct tl_buf *o, tl_u128 v,
                                           struct tl_error *err)
{
        uint16_t digits[10]; /* 2^128 < 10000^10 */
        int n = 0;
        tl_status rc;

        for (; v; v /= 10000)
                digits[n++] = (uint16_t)(v % 10000);
        rc = meter_copy_be(o, (uint32_t)(8 + 2 * n), 4, err);
        if (!rc)
                rc = meter_copy_be(o, (uint64_t)n, 2, err);
        if (!rc)
                rc = meter_copy_be(o, (uint64_t)(n ? n - 1 : 0), 2, err);
        if (!rc)
                rc = meter_copy_be(o, 0, 4, err); /* sign +, scale 0 */
        while (!rc && n)
                rc = meter_copy_be(o, digits[--n], 2, err);
        return rc;
}

/* The signature, flags and extension length that open a COPY BINARY. */
static inline tl_status meter_copy_header(struct tl_buf *out,
                                          struct tl_error *err)
{
        static const unsigned char sig[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0";

        return tl_buf_append(out, sig, sizeof sig, err);
}

static inline tl_status meter_copy_trailer(struct tl_buf *out,
                                           struct tl_error *err)
{
        return meter_copy_be(out, 0xffff, 2, err);
}

#endif
