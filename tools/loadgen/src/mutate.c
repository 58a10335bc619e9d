/* tally loadgen's bad units: a field found in encoded JSON or CBOR bytes
   and broken on purpose, the message staying well formed around it. */
#include "loadgen/loadgen.h"

#include <stdio.h>
#include <string.h>

/* The head of the CBOR item at 'pos': major type, argument, head length. */
static bool cbor_head(const unsigned char *p, size_t len, size_t pos,
                      unsigned *major, uint64_t *arg, size_t *hlen)
{
        unsigned ai;
        size_t n;

        if (pos >= len)
                return false;
        *major = p[pos] >> 5;
        ai = p[pos] & 31u;
        if (ai < 24) {
                *arg = ai;
                *hlen = 1;
                return true;
        }
        if (ai > 27)
                return false;
        n = (size_t)1 << (ai - 24);
        if (pos + 1 + n > len)
                return false;
        *arg = 0;
        for (size_t i = 0; i < n; i++)
                *arg = *arg << 8 | p[pos + 1 + i];
        *hlen = 1 + n;
        return true;
}

/* Offset just past the definite-length item at 'pos' (all the encoder
   writes), or 0 when it is malformed. */
static size_t cbor_skip(const unsigned char *p, size_t len, size_t pos,
                        int depth)
{
        unsigned major;
        uint64_t arg, items;
        size_t hlen;

        if (depth > 8 || !cbor_head(p, len, pos, &major, &arg, &hlen))
                return 0;
        pos += hlen;
        switch (major) {
        case 2:
        case 3:
                return arg <= len - pos ? pos + (size_t)arg : 0;
        case 4:
        case 5:
                items = major == 5 ? 2 * arg : arg;
                for (uint64_t i = 0; i < items && pos; i++)
                        pos = cbor_skip(p, len, pos, depth + 1);
                return pos;
        case 6:
                return cbor_skip(p, len, pos, depth + 1);
        default:
                return pos;
        }
}

/* Offset of the value of text key 'key' in the CBOR map at 'map', or 0. */
static size_t cbor_value(const unsigned char *p, size_t len, size_t map,
                         const char *key)
{
        size_t klen = strlen(key), hlen, pos;
        unsigned major;
        uint64_t n, arg;

        if (!cbor_head(p, len, map, &major, &n, &hlen) || major != 5)
                return 0;
        pos = map + hlen;
        for (uint64_t i = 0; i < n && pos; i++) {
                if (!cbor_head(p, len, pos, &major, &arg, &hlen))
                        return 0;
                if (major == 3 && arg == klen && pos + hlen + klen <= len &&
                    memcmp(p + pos + hlen, key, klen) == 0)
                        return pos + hlen + klen;
                pos = cbor_skip(p, len, pos, 0);
                if (pos)
                        pos = cbor_skip(p, len, pos, 0);
        }
        return 0;
}

/*
** Find 'key' (in "data" when 'in_data') in the encoded unit: '*key_last'
** is the offset of the key's last byte, '*value' of its value's first.
*/
static bool locate(const struct tl_buf *b, bool json, bool in_data,
                   const char *key, size_t *key_last, size_t *value)
{
        char pattern[80];
        const char *from = b->data, *hit;
        size_t at;

        if (json) {
                /* Only keys are followed by ':' outside strings, and the
                   values loadgen writes hold neither quotes nor colons. */
                if (in_data && !(from = strstr(b->data, "\"data\":")))
                        return false;
                snprintf(pattern, sizeof pattern, "\"%s\":", key);
                hit = strstr(from, pattern);
                if (!hit)
                        return false;
                *key_last = (size_t)(hit - b->data) + strlen(key);
                *value = *key_last + 3;
                return true;
        }
        at = 0;
        if (in_data) {
                at = cbor_value((const unsigned char *)b->data, b->len, 0,
                                "data");
                if (!at)
                        return false;
        }
        at = cbor_value((const unsigned char *)b->data, b->len, at, key);
        if (!at)
                return false;
        *key_last = at - 1;
        *value = at;
        return true;
}

/* Replace 'del' bytes at 'off' of 'unit' with 'n' bytes of 'ins', built
   in 'scratch' and swapped in. */
static tl_status splice(struct tl_buf *unit, struct tl_buf *scratch, size_t off,
                        size_t del, const char *ins, size_t n,
                        struct tl_error *err)
{
        struct tl_buf swap;
        tl_status rc;

        tl_buf_clear(scratch);
        rc = tl_buf_append(scratch, unit->data, off, err);
        if (!rc)
                rc = tl_buf_append(scratch, ins, n, err);
        if (!rc)
                rc = tl_buf_append(scratch, unit->data + off + del,
                                   unit->len - off - del, err);
        if (rc)
                return rc;
        swap = *unit;
        *unit = *scratch;
        *scratch = swap;
        return TL_OK;
}

static const char *count_key(sch_event_type t)
{
        return t == SCH_TYPE_TOKENS       ? "output_tokens"
               : t == SCH_TYPE_ITERATIONS ? "iterations"
               : t == SCH_TYPE_OUTCOME    ? "units"
                                          : "mac";
}

tl_status lg_count_as_text(struct tl_buf *unit, struct tl_buf *scratch,
                           bool json, sch_event_type type, struct tl_error *err)
{
        size_t key_last, value, hlen;
        unsigned major;
        uint64_t arg;
        char text[32];
        int n;

        if (!locate(unit, json, true, count_key(type), &key_last, &value))
                return tl_fail(err, TL_EINTERNAL, "loadgen: no count field");
        if (json) {
                size_t digits = strspn(unit->data + value, "0123456789");
                n = snprintf(text, sizeof text, "\"%.*s\"", (int)digits,
                             unit->data + value);
                return splice(unit, scratch, value, digits, text, (size_t)n,
                              err);
        }
        if (!cbor_head((const unsigned char *)unit->data, unit->len, value,
                       &major, &arg, &hlen) ||
            major != 0)
                return tl_fail(err, TL_EINTERNAL, "loadgen: bad count head");
        n = snprintf(text, sizeof text, "%c%llu", 0x60,
                     (unsigned long long)arg);
        text[0] = (char)(0x60 | (n - 1)); /* text of n - 1 < 24 bytes */
        return splice(unit, scratch, value, hlen, text, (size_t)n, err);
}

tl_status lg_count_negative(struct tl_buf *unit, struct tl_buf *scratch,
                            bool json, sch_event_type type,
                            struct tl_error *err)
{
        size_t key_last, value;

        if (!locate(unit, json, true, count_key(type), &key_last, &value))
                return tl_fail(err, TL_EINTERNAL, "loadgen: no count field");
        if (json)
                return splice(unit, scratch, value, 0, "-", 1, err);
        if (((unsigned char)unit->data[value] >> 5) != 0)
                return tl_fail(err, TL_EINTERNAL, "loadgen: bad count head");
        /* Major type 0 (unsigned n) to 1 (-1 - n): same argument bytes. */
        unit->data[value] = (char)(unit->data[value] | 0x20);
        return TL_OK;
}

tl_status lg_unknown_type(struct tl_buf *unit, bool json, struct tl_error *err)
{
        size_t key_last, value, hlen;
        unsigned major;
        uint64_t arg;
        char *end;

        if (!locate(unit, json, false, "type", &key_last, &value))
                return tl_fail(err, TL_EINTERNAL, "loadgen: no type");
        if (json) {
                end = strchr(unit->data + value + 1, '"');
                if (!end)
                        return tl_fail(err, TL_EINTERNAL, "loadgen: type?");
                end[-1] = 'X';
                return TL_OK;
        }
        if (!cbor_head((const unsigned char *)unit->data, unit->len, value,
                       &major, &arg, &hlen) ||
            major != 3 || arg == 0)
                return tl_fail(err, TL_EINTERNAL, "loadgen: type?");
        unit->data[value + hlen + arg - 1] = 'X';
        return TL_OK;
}

tl_status lg_drop_key(struct tl_buf *unit, bool json, const char *key,
                      struct tl_error *err)
{
        size_t key_last, value;

        if (!locate(unit, json, false, key, &key_last, &value))
                return tl_fail(err, TL_EINTERNAL, "loadgen: no %s", key);
        unit->data[key_last] = 'x';
        return TL_OK;
}
