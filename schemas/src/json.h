/* Internal: the JSON reader's two paths and the byte tests they share. */
#ifndef SCH_JSON_H
#define SCH_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "builder.h"

/* 1 for bytes that may stand in a string as themselves: printable ASCII
   other than '"' and '\\'. Everything else takes the slow path. */
static const unsigned char sch__plain[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
    R16(0), R16(0), /* 0x00-0x1f: control bytes */
    1,      1,      0,      1,      1,      1,      1,      1,      1, 1,
    1,      1,      1,      1,      1,      1, /* 0x20-0x2f: '"' */
    R16(1), R16(1), 1,      1,      1,      1,      1,      1,      1, 1,
    1,      1,      1,      1,      0,      1,      1,      1, /* 0x50-0x5f:
                                                                  '\\' */
    R16(1), R16(1),                                            /* 0x60-0x7f */
    R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0),
#undef R16
};

/*
** The bytes among the 8 at 'p' that need a look ('"', '\\', < 0x20,
** >= 0x80) as a mask of high bits; 0 when all are plain. The lowest set
** bit is exact (borrows only spoil bits above it), which is all the
** caller uses.
*/
static inline uint64_t sch__special8(const unsigned char *p)
{
        const uint64_t ones = UINT64_C(0x0101010101010101);
        const uint64_t high = UINT64_C(0x8080808080808080);
        uint64_t w, q, bs, lo;

        memcpy(&w, p, 8);
        q = w ^ (ones * '"');
        bs = w ^ (ones * '\\');
        lo = w - ones * 0x20; /* borrows where a byte is below 0x20 */
        return ((q - ones) & ~q & high) | ((bs - ones) & ~bs & high) |
               (lo & ~w & high) | (w & high);
}

/*
** The general reader: any key order, whitespace, escapes, extensions; the
** one that words every error. sch_decode_json tries sch__json_fast first.
*/
tl_status sch__decode_json_general(struct sch_decoder *d, const void *buf,
                                   size_t len, struct sch_event *ev,
                                   struct tl_error *err);

/*
** The usual shape only: the members in the order sch_encode_json writes
** them, no whitespace, no escape, ASCII strings, counts below 10^18. True
** when '*ev' is decoded and valid, exactly as the general reader would
** have left it; false on any surprise, and the general reader then decides
** (and words the error). Never reads outside the 'len' bytes at 'p'.
*/
bool sch__json_fast(struct sch_decoder *d, const unsigned char *p, size_t len,
                    struct sch_event *ev);

#endif
