/* CBOR events (RFC 8949), definite lengths only: a recursive-descent reader
   feeding the event builder. libcbor encodes (encode.c) and is the oracle
   the tests and the fuzz target check this reader against; its streaming
   decoder alone runs at about the target rate with empty callbacks, so the
   hot path reads heads itself (docs/architecture.md, decode speed). */
#include "builder.h"
#include "cbor_fast.h"
#include "fast.h"

#include <math.h>
#include <string.h>

#include "core/str.h"

/* Builder-level problems (a well-formed but invalid event) are kept and
   reading goes on to find the item's end; these stop reading. */
static tl_status fatal(struct sch__cursor *r, tl_status code, const char *what)
{
        return tl_fail(r->err, code, "CBOR: %s at byte %zu", what,
                       (size_t)(r->p - r->base));
}

static void invalid(struct sch__cursor *r, const char *where, const char *what)
{
        if (!r->d->b.rc)
                r->d->b.rc = tl_fail(r->err, TL_EINVAL, "%s%s", where, what);
}

static double half_to_double(unsigned h)
{
        unsigned exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
        double v = exp == 0    ? ldexp(mant, -24)
                   : exp == 31 ? (mant ? NAN : INFINITY)
                               : ldexp(mant + 1024, (int)exp - 25);
        return (h & 0x8000) ? -v : v;
}

/*
** Read one head: major type and argument. Indefinite lengths and breaks
** are refused here, so everything after is bounded by declared sizes.
*/
static inline __attribute__((always_inline)) tl_status
head(struct sch__cursor *r, unsigned *major, uint64_t *arg)
{
        unsigned b, ai, n;
        uint64_t v = 0;

        if (r->p >= r->end)
                return tl_fail(r->err, TL_EPARSE,
                               "CBOR: item truncated at byte %zu",
                               (size_t)(r->p - r->base));
        b = *r->p;
        *major = b >> 5;
        ai = b & 31;
        if (ai < 24) {
                r->p++;
                *arg = ai;
                return TL_OK;
        }
        if (ai == 31)
                return *major == 7 ? fatal(r, TL_EPARSE, "unexpected break")
                       : *major >= 2 && *major <= 5
                           ? fatal(r, TL_ELIMIT,
                                   "indefinite-length items are not "
                                   "accepted")
                           : fatal(r, TL_EPARSE, "malformed item");
        if (ai > 27)
                return fatal(r, TL_EPARSE, "malformed item");
        n = 1u << (ai - 24);
        if ((size_t)(r->end - r->p) < 1 + n)
                return tl_fail(r->err, TL_EPARSE,
                               "CBOR: item truncated at byte %zu",
                               (size_t)(r->p - r->base));
        switch (n) { /* big-endian arguments of 1, 2, 4 or 8 bytes */
        case 1:
                v = r->p[1];
                break;
        case 2: {
                uint16_t x;
                memcpy(&x, r->p + 1, 2);
                v = __builtin_bswap16(x);
                break;
        }
        case 4: {
                uint32_t x;
                memcpy(&x, r->p + 1, 4);
                v = __builtin_bswap32(x);
                break;
        }
        default:
                memcpy(&v, r->p + 1, 8);
                v = __builtin_bswap64(v);
        }
        r->p += 1 + n;
        *arg = v;
        return TL_OK;
}

/* A definite string's bytes, which must all be present. */
static tl_status payload(struct sch__cursor *r, uint64_t len,
                         struct sch_str *out)
{
        if (len > (uint64_t)(r->end - r->p))
                return tl_fail(r->err, TL_EPARSE,
                               "CBOR: item truncated at byte %zu",
                               (size_t)(r->p - r->base));
        if (len > SCH_MAX_MESSAGE_BYTES)
                return fatal(r, TL_ELIMIT, "text string over 1 MiB");
        out->ptr = (const char *)r->p;
        out->len = (uint32_t)len;
        r->p += len;
        return TL_OK;
}

static void simple(unsigned ai, uint64_t arg, struct sch__value *v)
{
        switch (ai) {
        case 20:
        case 21:
                v->kind = SCH__BOOL;
                break;
        case 22:
                v->kind = SCH__NULL;
                break;
        case 25:
                v->kind = SCH__FLOAT;
                v->f = half_to_double((unsigned)arg);
                break;
        case 26: {
                uint32_t bits = (uint32_t)arg;
                float f;
                memcpy(&f, &bits, 4);
                v->kind = SCH__FLOAT;
                v->f = f;
                break;
        }
        case 27:
                v->kind = SCH__FLOAT;
                memcpy(&v->f, &arg, 8);
                break;
        default: /* undefined and unassigned simple values */
                v->kind = SCH__UNDEFINED;
        }
}

/*
** Read one value into 'v'. Scalars are complete; for an array or map only
** the head is read (kind and v->u = its count) and the caller reads or
** skips the contents. A tag is read with the item it tags.
*/
static tl_status value(struct sch__cursor *r, struct sch__value *v)
{
        const unsigned char *at = r->p;
        unsigned major = 0;
        uint64_t arg = 0;
        tl_status rc;

        v->tag = SCH__NO_TAG;
        v->has_nul = v->bad_utf8 = false;
        v->text.len = 0;
        if (++r->items > SCH_MAX_ITEMS)
                return fatal(r, TL_ELIMIT, "more than 4096 items in one event");
        rc = head(r, &major, &arg);
        if (rc)
                return rc;
        switch (major) {
        case 0:
                v->kind = SCH__UINT;
                v->u = arg;
                return TL_OK;
        case 1:
                v->kind = SCH__NEGINT;
                return TL_OK;
        case 2:
                v->kind = SCH__BYTES;
                return payload(r, arg, &v->text);
        case 3:
                v->kind = SCH__TEXT;
                rc = payload(r, arg, &v->text);
                /* One pass settles the common case; the rest is looked at
                   closely. Invalid text is named by whoever holds it. */
                if (!rc && !sch__plain_ascii(v->text.ptr, v->text.len,
                                             (const char *)r->base)) {
                        v->bad_utf8 = !tl_utf8_valid(v->text.ptr, v->text.len);
                        v->has_nul = memchr(v->text.ptr, '\0', v->text.len);
                }
                return rc;
        case 4:
        case 5:
                v->kind = major == 4 ? SCH__ARRAY : SCH__MAP;
                v->u = arg;
                return TL_OK;
        case 6:
                if (r->p < r->end && (*r->p >> 5) == 6)
                        return fatal(r, TL_ELIMIT,
                                     "nested tags are not accepted");
                rc = value(r, v);
                v->tag = arg;
                r->items--; /* tag and item count as one */
                return rc;
        default: {
                unsigned ai = (unsigned)(*at & 31);
                /* RFC 8949 3.3: a one-byte simple value below 32 is not
                   well-formed; unassigned ones are, but no event has a
                   use for them. */
                if (ai == 24 && arg < 32)
                        return fatal(r, TL_EPARSE, "malformed item");
                if ((ai < 20 || ai == 24) && !r->d->b.rc)
                        r->d->b.rc = tl_fail(r->err, TL_EINVAL,
                                             "CBOR: unassigned simple value "
                                             "%llu",
                                             (unsigned long long)arg);
                simple(ai, arg, v);
                return TL_OK;
        }
        }
}

static tl_status map(struct sch__cursor *r, const struct sch__value *v,
                     sch__level lvl, int depth);

/* Skip the contents of a container whose head is in 'v'. */
static tl_status skip(struct sch__cursor *r, const struct sch__value *v,
                      int depth)
{
        uint64_t n = v->kind == SCH__MAP ? 2 * v->u : v->u;
        struct sch__value x;
        tl_status rc;

        if (depth > SCH_MAX_DEPTH)
                return fatal(r, TL_ELIMIT, "nesting deeper than 16");
        if (v->u > SCH_MAX_ITEMS)
                return fatal(r, TL_ELIMIT, "container of over 4096 items");
        for (uint64_t i = 0; i < n; i++) {
                rc = value(r, &x);
                if (rc)
                        return rc;
                if (x.kind == SCH__TEXT && x.bad_utf8)
                        invalid(r, "", "invalid UTF-8 in a text string");
                if (x.kind == SCH__MAP || x.kind == SCH__ARRAY) {
                        rc = skip(r, &x, depth + 1);
                        if (rc)
                                return rc;
                }
        }
        return TL_OK;
}

static bool is_data(struct sch_str k)
{
        return k.len == 4 && memcmp(k.ptr, "data", 4) == 0;
}

/* One key/value pair of the envelope (TOP) or of data (DATA). */
static tl_status pair(struct sch__cursor *r, sch__level lvl, int depth)
{
        const char *where = lvl == SCH__LVL_DATA ? "data" : "event";
        struct sch__value k, v;
        tl_status rc;
        bool key_ok;

        rc = value(r, &k);
        if (rc)
                return rc;
        key_ok = k.kind == SCH__TEXT && k.tag == SCH__NO_TAG;
        if (!key_ok) {
                invalid(r, where, ": map keys must be text");
                if (k.kind == SCH__MAP || k.kind == SCH__ARRAY)
                        rc = skip(r, &k, depth + 1);
        } else if (k.bad_utf8) {
                invalid(r, where, ": invalid UTF-8 in a field name");
                key_ok = false;
        }
        if (!rc)
                rc = value(r, &v);
        if (rc)
                return rc;
        if (key_ok && v.kind == SCH__TEXT && v.bad_utf8 && !r->d->b.rc)
                r->d->b.rc = tl_fail(r->err, TL_EINVAL, "%s%.*s: invalid UTF-8",
                                     lvl == SCH__LVL_DATA ? "data." : "",
                                     (int)(k.text.len > 64 ? 64 : k.text.len),
                                     k.text.ptr);
        else if (key_ok && lvl == SCH__LVL_TOP)
                sch__builder_top(&r->d->b, k.text, &v, r->err);
        else if (key_ok)
                sch__builder_data(&r->d->b, k.text, &v, r->err);
        if (v.kind != SCH__MAP && v.kind != SCH__ARRAY)
                return TL_OK;
        if (key_ok && lvl == SCH__LVL_TOP && v.kind == SCH__MAP &&
            is_data(k.text))
                return map(r, &v, SCH__LVL_DATA, depth + 1);
        return skip(r, &v, depth + 1);
}

/* The contents of the envelope map, or of data. */
static tl_status map(struct sch__cursor *r, const struct sch__value *v,
                     sch__level lvl, int depth)
{
        tl_status rc;

        if (depth > SCH_MAX_DEPTH)
                return fatal(r, TL_ELIMIT, "nesting deeper than 16");
        if (v->u > SCH_MAX_FIELDS)
                return fatal(r, TL_ELIMIT, "map of more than 64 entries");
        for (uint64_t i = 0; i < v->u; i++) {
                rc = pair(r, lvl, depth);
                if (rc)
                        return rc;
        }
        return TL_OK;
}

tl_status sch__cbor_decode_general(struct sch_decoder *d,
                                   const unsigned char *buf, size_t len,
                                   size_t *pos, struct sch_event *ev,
                                   struct tl_error *err)
{
        struct sch__cursor r = {buf + *pos, buf + len, buf, d, err, 0};
        struct sch__value v;
        tl_status rc;

        tl_arena_reset(&d->arena);
        sch__builder_start(&d->b, ev, false);
        rc = value(&r, &v);
        /* Tag 55799 only says "this is CBOR" (RFC 8949, 3.4.6); any other
           tag on the event would give it a meaning we do not know. */
        if (!rc && v.kind == SCH__MAP && v.tag != SCH__NO_TAG &&
            v.tag != 55799 && !d->b.rc)
                d->b.rc = tl_fail(err, TL_EINVAL,
                                  "event: unexpected tag %llu on the event map",
                                  (unsigned long long)v.tag);
        if (!rc && v.kind == SCH__MAP)
                rc = map(&r, &v, SCH__LVL_TOP, 1);
        else if (!rc) {
                if (!d->b.rc)
                        d->b.rc = tl_fail(err, TL_EINVAL,
                                          "event: expected a map, got %s",
                                          sch__kind_name(v.kind));
                if (v.kind == SCH__ARRAY)
                        rc = skip(&r, &v, 1);
        }
        if (rc)
                return rc;
        *pos = (size_t)(r.p - buf);
        if (d->b.rc)
                return d->b.rc;
        return sch__builder_finish(&d->b, &d->opt, err);
}

/*
** Decode one item at buf[*pos] as an event: the fast path when it is the
** usual shape, else the general reader. On return '*pos' is past the item
** unless the result is fatal (TL_EPARSE or TL_ELIMIT).
*/
static tl_status decode_item(struct sch_decoder *d, const unsigned char *buf,
                             size_t len, size_t *pos, struct sch_event *ev,
                             struct tl_error *err)
{
        size_t n;

        if (sch__cbor_fast(d, buf + *pos, len - *pos, ev, &n)) {
                *pos += n;
                return TL_OK;
        }
        return sch__cbor_decode_general(d, buf, len, pos, ev, err);
}

/* Past one item of the skim, counting items and depth like the decoder. */
static tl_status skim_item(struct sch__cursor *r, int depth,
                           struct sch_str *subject)
{
        const unsigned char *at;
        unsigned major = 0;
        uint64_t arg = 0, n;
        tl_status rc;

        for (;;) { /* tags: the item they tag follows */
                if (++r->items > SCH_MAX_ITEMS)
                        return TL_ELIMIT;
                at = r->p;
                if ((rc = head(r, &major, &arg)) != TL_OK)
                        return rc;
                if (major != 6)
                        break;
                r->items--;
        }
        switch (major) {
        case 2:
        case 3:
                if (arg > (uint64_t)(r->end - r->p) ||
                    arg > SCH_MAX_MESSAGE_BYTES)
                        return TL_EPARSE;
                r->p += arg;
                return TL_OK;
        case 4:
        case 5:
                break;
        case 7:
                /* RFC 8949 3.3: a one-byte simple value below 32. */
                return (*at & 31) == 24 && arg < 32 ? TL_EPARSE : TL_OK;
        default:
                return TL_OK;
        }
        if (depth > SCH_MAX_DEPTH || arg > SCH_MAX_ITEMS)
                return TL_ELIMIT;
        n = major == 5 ? 2 * arg : arg;
        for (uint64_t i = 0; i < n; i++) {
                const unsigned char *k = r->p;

                if ((rc = skim_item(r, depth + 1, NULL)) != TL_OK)
                        return rc;
                /* A top-level key "subject" (a 7-byte text head, 0x67)
                   followed by a text value: take that value. */
                if (subject && major == 5 && i % 2 == 0 && r->p - k == 8 &&
                    k[0] == 0x67 && memcmp(k + 1, "subject", 7) == 0 &&
                    r->p < r->end && (*r->p >> 5) == 3 && !subject->ptr) {
                        struct sch__cursor t = *r;
                        unsigned tm;
                        uint64_t tlen = 0;

                        if ((rc = skim_item(r, depth + 1, NULL)) != TL_OK)
                                return rc;
                        i++;
                        /* The text is what follows the value's head. */
                        (void)head(&t, &tm, &tlen);
                        *subject =
                            (struct sch_str){(const char *)t.p, (uint32_t)tlen};
                }
        }
        return TL_OK;
}

/* A text string at *pp, stepped over; its bytes in '*t'. */
static inline __attribute__((always_inline)) bool
skim_text(const unsigned char **pp, const unsigned char *end, struct sch_str *t)
{
        uint64_t n;

        if (!sch__cbor_head(pp, end, 3, &n) || n > (uint64_t)(end - *pp) ||
            n > SCH_MAX_MESSAGE_BYTES)
                return false;
        *t = (struct sch_str){(const char *)*pp, (uint32_t)n};
        *pp += n;
        return true;
}

/* A scalar the usual event holds: text, an unsigned count, or time's tag
   0 or 1 on either. */
static inline __attribute__((always_inline)) bool
skim_scalar(const unsigned char **pp, const unsigned char *end)
{
        struct sch_str t;
        uint64_t v;

        if (*pp < end && (**pp == 0xc0 || **pp == 0xc1))
                ++*pp;
        return sch__cbor_head(pp, end, 0, &v) || skim_text(pp, end, &t);
}

/*
** The skim of the usual item without recursion: a map of fewer than 24
** text-keyed pairs whose values are scalars (skim_scalar) or one level of
** such a map (data). Anything else is the general skim's; where this one
** answers, it answers as that one would: the same end, and the value of
** the first top-level key written 0x67 "subject" when it is text.
*/
static bool skim_usual(const unsigned char *p, const unsigned char *end,
                       size_t *item_len, struct sch_str *subject)
{
        const unsigned char *start = p;
        uint64_t pairs, inner;

        if (!sch__cbor_head(&p, end, 5, &pairs) || pairs >= 24)
                return false;
        for (uint64_t i = 0; i < pairs; i++) {
                struct sch_str k, v;

                if (!skim_text(&p, end, &k))
                        return false;
                if (p < end && (*p >> 5) == 5) {
                        if (!sch__cbor_head(&p, end, 5, &inner) || inner >= 24)
                                return false;
                        for (uint64_t j = 0; j < 2 * inner; j += 2)
                                if (!skim_text(&p, end, &v) ||
                                    !skim_scalar(&p, end))
                                        return false;
                        continue;
                }
                if (k.len == 7 && k.ptr[-1] == 0x67 &&
                    sch__fast_same((const unsigned char *)k.ptr, "subject",
                                   7) &&
                    !subject->ptr && p < end && (*p >> 5) == 3) {
                        if (!skim_text(&p, end, &v))
                                return false;
                        *subject = v;
                        continue;
                }
                if (!skim_scalar(&p, end))
                        return false;
        }
        *item_len = (size_t)(p - start);
        return true;
}

tl_status sch_cbor_skim(const void *buf, size_t len, size_t *item_len,
                        struct sch_str *subject)
{
        *subject = (struct sch_str){NULL, 0};
        if (skim_usual(buf, (const unsigned char *)buf + len, item_len,
                       subject))
                return TL_OK;
        return sch__cbor_skim_general(buf, len, item_len, subject);
}

tl_status sch__cbor_skim_general(const void *buf, size_t len, size_t *item_len,
                                 struct sch_str *subject)
{
        struct sch__cursor r = {
            buf, (const unsigned char *)buf + len, buf, NULL, NULL, 0};
        tl_status rc;

        *subject = (struct sch_str){NULL, 0};
        if ((rc = skim_item(&r, 1, subject)) != TL_OK)
                return rc;
        *item_len = (size_t)(r.p - r.base);
        return TL_OK;
}

tl_status sch_cbor_reader_open(struct sch_cbor_reader *r, const void *buf,
                               size_t len, bool sequence, struct tl_error *err)
{
        struct sch__cursor c = {
            buf, (const unsigned char *)buf + len, buf, NULL, err, 0};
        unsigned major = 0;
        uint64_t count = 0;
        tl_status rc;

        memset(r, 0, sizeof *r);
        r->buf = buf;
        r->len = len;
        r->sequence = sequence;
        r->count = sequence ? SIZE_MAX : 1;
        if (sequence)
                return TL_OK;
        if (len > SCH_MAX_MESSAGE_BYTES)
                return tl_fail(err, TL_ELIMIT,
                               "message of %zu bytes is over the %d byte limit",
                               len, SCH_MAX_MESSAGE_BYTES);
        if (len == 0)
                return tl_fail(err, TL_EPARSE, "CBOR: empty message");
        if ((r->buf[0] >> 5) != 4) /* not an array: one event */
                return TL_OK;
        if ((r->buf[0] & 31) == 31)
                return tl_fail(err, TL_ELIMIT,
                               "CBOR: indefinite-length batch arrays are not "
                               "accepted");
        rc = head(&c, &major, &count);
        if (rc)
                return tl_fail(err, TL_EPARSE, "CBOR: malformed batch head");
        if (count == 0)
                return tl_fail(err, TL_EPARSE, "CBOR: empty batch");
        if (count > SCH_MAX_BATCH_EVENTS)
                return tl_fail(err, TL_ELIMIT,
                               "CBOR: batch of %llu events is over the limit "
                               "of %d",
                               (unsigned long long)count, SCH_MAX_BATCH_EVENTS);
        r->pos = (size_t)(c.p - c.base);
        r->count = (size_t)count;
        return TL_OK;
}

bool sch_cbor_reader_more(const struct sch_cbor_reader *r)
{
        if (r->broken)
                return false;
        return r->sequence ? r->pos < r->len : r->index < r->count;
}

size_t sch_cbor_reader_remaining(const struct sch_cbor_reader *r)
{
        if (r->sequence)
                return r->broken ? 1 : 0;
        return r->count - r->index;
}

tl_status sch_cbor_reader_next(struct sch_cbor_reader *r, struct sch_decoder *d,
                               struct sch_event *ev, struct sch_str *raw,
                               struct tl_error *err)
{
        size_t start = r->pos, pos = r->pos;
        tl_status rc = decode_item(d, r->buf, r->len, &pos, ev, err);

        raw->ptr = (const char *)r->buf + start;
        if (rc == TL_EPARSE || rc == TL_ELIMIT) {
                /* Nothing says where this item ends: the rest goes together. */
                r->broken = true;
                raw->len = (uint32_t)(r->len - start);
                return rc;
        }
        r->pos = pos;
        r->index++;
        raw->len = (uint32_t)(pos - start);
        if (!r->sequence && r->index == r->count && pos != r->len) {
                r->broken = true;
                raw->len = (uint32_t)(r->len - start);
                r->index--;
                return tl_fail(err, TL_EPARSE,
                               "CBOR: %zu unexpected bytes after the last "
                               "event",
                               r->len - pos);
        }
        if (!rc && pos - start > SCH_MAX_MESSAGE_BYTES)
                return tl_fail(err, TL_EINVAL,
                               "event of %zu bytes is over the %d byte limit",
                               pos - start, SCH_MAX_MESSAGE_BYTES);
        return rc;
}
