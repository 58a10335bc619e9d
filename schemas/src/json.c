/* CloudEvents JSON decoder: strict RFC 8259, one pass, zero-copy strings.
   Written for the event's flat shape rather than built on a tree library:
   see docs/architecture.md (decode speed) and the differential tests that
   check it against jansson. */
#include "json.h"

#include <string.h>

#include "core/str.h"

static tl_status syntax(struct sch__cursor *j, const char *what)
{
        return tl_fail(j->err, TL_EPARSE, "JSON: %s at byte %zu", what,
                       (size_t)(j->p - j->base));
}

static inline void skip_ws(struct sch__cursor *j)
{
        /* Producers rarely send whitespace: one compare says "none". */
        while (
            j->p < j->end && *j->p <= ' ' &&
            (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
                j->p++;
}

/* Length of the UTF-8 sequence at 'p' (lead byte >= 0x80), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
        size_t n = *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : 2;

        if ((size_t)(end - p) < n || !tl_utf8_valid((const char *)p, n))
                return 0;
        return n;
}

static int hex4(const unsigned char *p, unsigned *out)
{
        unsigned v = 0;

        for (int i = 0; i < 4; i++) {
                unsigned c = p[i], d;
                if (c >= '0' && c <= '9')
                        d = c - '0';
                else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
                        d = (c | 0x20) - 'a' + 10;
                else
                        return 0;
                v = v << 4 | d;
        }
        *out = v;
        return 1;
}

static size_t put_utf8(unsigned cp, char *o)
{
        if (cp < 0x80) {
                o[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                o[0] = (char)(0xC0 | cp >> 6);
                o[1] = (char)(0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                o[0] = (char)(0xE0 | cp >> 12);
                o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                o[2] = (char)(0x80 | (cp & 0x3F));
                return 3;
        }
        o[0] = (char)(0xF0 | cp >> 18);
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
}

/* One \u escape of four hex digits (two escapes for a surrogate pair)
   at j->p, just past the 'u'. */
static tl_status unescape_u(struct sch__cursor *j, char *o, size_t *olen)
{
        unsigned cp, lo;

        if (j->end - j->p < 4 || !hex4(j->p, &cp))
                return syntax(j, "bad \\u escape");
        j->p += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
                return syntax(j, "lone low surrogate in \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
                    !hex4(j->p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return syntax(j, "lone high surrogate in \\u escape");
                j->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        *olen += put_utf8(cp, o + *olen);
        return TL_OK;
}

/* Slow path for a string with escapes: copy it unescaped into the arena.
   'start' is just past the opening quote; 'raw_end' at the closing one. */
static tl_status unescape(struct sch__cursor *j, const unsigned char *start,
                          const unsigned char *raw_end, struct sch__value *out)
{
        char *o;
        size_t olen = 0;
        void *mem;
        tl_status rc;

        /* Unescaped text is never longer than its escaped form. */
        rc = tl_arena_alloc(&j->d->arena, (size_t)(raw_end - start), &mem,
                            j->err);
        if (rc)
                return rc;
        o = mem;
        j->p = start;
        while (j->p < raw_end) {
                unsigned char c = *j->p++;
                if (c != '\\') {
                        o[olen++] = (char)c;
                        continue;
                }
                c = *j->p++;
                switch (c) {
                case '"':
                case '\\':
                case '/':
                        o[olen++] = (char)c;
                        break;
                case 'b':
                        o[olen++] = '\b';
                        break;
                case 'f':
                        o[olen++] = '\f';
                        break;
                case 'n':
                        o[olen++] = '\n';
                        break;
                case 'r':
                        o[olen++] = '\r';
                        break;
                case 't':
                        o[olen++] = '\t';
                        break;
                case 'u':
                        rc = unescape_u(j, o, &olen);
                        if (rc)
                                return rc;
                        break;
                default:
                        j->p--;
                        return syntax(j, "bad escape");
                }
        }
        j->p = raw_end + 1;
        out->text.ptr = o;
        out->text.len = (uint32_t)olen;
        /* Only an escape can put a NUL in JSON text. */
        out->has_nul = memchr(o, '\0', olen) != NULL;
        return TL_OK;
}

/* A string at j->p (on the opening quote) into 'out' (kind TEXT).
   Zero-copy unless escaped. */
static inline __attribute__((always_inline)) tl_status
parse_string(struct sch__cursor *j, struct sch__value *out)
{
        const unsigned char *start = ++j->p;
        bool escaped = false;

        out->bad_utf8 = false;
        for (;;) {
                while (j->end - j->p >= 8) {
                        uint64_t m = sch__special8(j->p);
                        if (m) {
                                j->p += __builtin_ctzll(m) >> 3;
                                break;
                        }
                        j->p += 8;
                }
                while (j->p < j->end && sch__plain[*j->p])
                        j->p++;
                if (j->p >= j->end)
                        return syntax(j, "unterminated string");
                if (*j->p == '"')
                        break;
                if (*j->p == '\\') {
                        escaped = true;
                        if (j->end - j->p < 2)
                                return syntax(j, "unterminated string");
                        j->p += 2; /* checked when unescaping */
                } else if (*j->p < 0x20) {
                        return syntax(j, "control character in string");
                } else {
                        size_t n = utf8_len(j->p, j->end);
                        /* Still JSON: the event is what is invalid, and
                           the caller names the field (bad_text). */
                        out->bad_utf8 |= n == 0;
                        j->p += n ? n : 1;
                }
        }
        if ((size_t)(j->p - start) > UINT32_MAX)
                return tl_fail(j->err, TL_ELIMIT, "JSON: string too long");
        out->has_nul = false;
        if (escaped)
                return unescape(j, start, j->p, out);
        out->text.ptr = (const char *)start;
        out->text.len = (uint32_t)(j->p - start);
        j->p++;
        return TL_OK;
}

static bool is_digit(unsigned char c)
{
        return c >= '0' && c <= '9';
}

/* A number, classified: UINT (fits 64 bits), BIGUINT, NEGINT or FLOAT. */
static tl_status parse_number(struct sch__cursor *j, struct sch__value *v)
{
        const unsigned char *start = j->p;
        bool neg = false, frac = false, big = false;
        uint64_t u = 0;

        if (*j->p == '-') {
                neg = true;
                j->p++;
        }
        if (j->p >= j->end || !is_digit(*j->p))
                return syntax(j, "bad number");
        if (*j->p == '0' && j->p + 1 < j->end && is_digit(j->p[1]))
                return syntax(j, "leading zero in number");
        while (j->p < j->end && is_digit(*j->p)) {
                unsigned d = (unsigned)(*j->p++ - '0');
                if (u > (UINT64_MAX - d) / 10)
                        big = true;
                else
                        u = u * 10 + d;
        }
        if (j->p < j->end && *j->p == '.') {
                frac = true;
                if (++j->p >= j->end || !is_digit(*j->p))
                        return syntax(j, "bad fraction");
                while (j->p < j->end && is_digit(*j->p))
                        j->p++;
        }
        if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
                frac = true;
                j->p++;
                if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
                        j->p++;
                if (j->p >= j->end || !is_digit(*j->p))
                        return syntax(j, "bad exponent");
                while (j->p < j->end && is_digit(*j->p))
                        j->p++;
        }
        v->kind = frac  ? SCH__FLOAT
                  : neg ? SCH__NEGINT
                  : big ? SCH__BIGUINT
                        : SCH__UINT;
        v->u = u;
        v->text.ptr = (const char *)start;
        v->text.len = (uint32_t)(j->p - start);
        return TL_OK;
}

static tl_status parse_literal(struct sch__cursor *j, const char *word,
                               sch__kind kind, struct sch__value *v)
{
        size_t n = strlen(word);

        if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
                return syntax(j, "unexpected character");
        j->p += n;
        v->kind = kind;
        return TL_OK;
}

static tl_status parse_container(struct sch__cursor *j, sch__level lvl,
                                 int depth);

/*
** A value at j->p. Scalars are returned in 'v'. A container is announced
** in 'v' (MAP or ARRAY) and also parsed here, at level 'inner'.
*/
static tl_status parse_value(struct sch__cursor *j, struct sch__value *v,
                             sch__level inner, int depth, bool announce_only)
{
        tl_status rc;

        if (++j->items > SCH_MAX_ITEMS)
                return tl_fail(j->err, TL_ELIMIT,
                               "JSON: more than %d items in one event",
                               SCH_MAX_ITEMS);
        v->tag = SCH__NO_TAG;
        v->text.len = 0;
        v->has_nul = false;
        v->bad_utf8 = false;
        if (j->p >= j->end)
                return syntax(j, "expected a value");
        switch (*j->p) {
        case '"':
                v->kind = SCH__TEXT;
                return parse_string(j, v);
        case '{':
        case '[':
                v->kind = *j->p == '{' ? SCH__MAP : SCH__ARRAY;
                if (announce_only)
                        return TL_OK;
                rc = parse_container(
                    j, v->kind == SCH__MAP ? inner : SCH__LVL_SKIP, depth + 1);
                return rc;
        case 't':
                return parse_literal(j, "true", SCH__BOOL, v);
        case 'f':
                return parse_literal(j, "false", SCH__BOOL, v);
        case 'n':
                return parse_literal(j, "null", SCH__NULL, v);
        case '-':
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7':
        case '8':
        case '9':
                return parse_number(j, v);
        default:
                return syntax(j, "expected a value");
        }
}

/* A text that is not UTF-8, as an invalid event: 'key' names the field of
   the envelope or of data it is the value of (NULL: a name, or a text
   inside a container no field reads). */
static tl_status bad_text(struct sch__cursor *j, sch__level lvl,
                          const struct sch_str *key)
{
        if (lvl == SCH__LVL_SKIP)
                return tl_fail(j->err, TL_EINVAL,
                               "invalid UTF-8 in a text string");
        if (!key)
                return tl_fail(j->err, TL_EINVAL,
                               "%s: invalid UTF-8 in a field name",
                               lvl == SCH__LVL_DATA ? "data" : "event");
        return tl_fail(j->err, TL_EINVAL, "%s%.*s: invalid UTF-8",
                       lvl == SCH__LVL_DATA ? "data." : "",
                       (int)(key->len > 64 ? 64 : key->len), key->ptr);
}

static tl_status member(struct sch__cursor *j, sch__level lvl, int depth,
                        struct sch_str key)
{
        struct sch__value v;
        sch__level inner = SCH__LVL_SKIP;
        tl_status rc;

        if (lvl == SCH__LVL_TOP && key.len == 4 &&
            memcmp(key.ptr, "data", 4) == 0)
                inner = SCH__LVL_DATA;
        /* Announce containers to the builder before descending, so that a
           wrong kind is reported by the key that holds it. */
        rc = parse_value(j, &v, inner, depth, true);
        if (rc)
                return rc;
        if (v.kind == SCH__TEXT && v.bad_utf8)
                return bad_text(j, lvl, &key);
        if (lvl == SCH__LVL_TOP)
                rc = sch__builder_top(&j->d->b, key, &v, j->err);
        else if (lvl == SCH__LVL_DATA)
                rc = sch__builder_data(&j->d->b, key, &v, j->err);
        if (rc)
                return rc;
        if (v.kind == SCH__MAP || v.kind == SCH__ARRAY)
                return parse_container(
                    j, v.kind == SCH__MAP ? inner : SCH__LVL_SKIP, depth + 1);
        return TL_OK;
}

static tl_status parse_container(struct sch__cursor *j, sch__level lvl,
                                 int depth)
{
        bool object = *j->p == '{';
        unsigned char close = object ? '}' : ']';
        struct sch__value key;
        struct sch__value v;
        tl_status rc;

        if (depth > SCH_MAX_DEPTH)
                return tl_fail(j->err, TL_ELIMIT,
                               "JSON: nesting deeper than %d", SCH_MAX_DEPTH);
        j->p++;
        skip_ws(j);
        if (j->p < j->end && *j->p == close) {
                j->p++;
                return TL_OK;
        }
        for (;;) {
                if (object) {
                        if (j->p >= j->end || *j->p != '"')
                                return syntax(j, "expected a string key");
                        rc = parse_string(j, &key);
                        if (rc)
                                return rc;
                        if (key.bad_utf8)
                                return bad_text(j, lvl, NULL);
                        skip_ws(j);
                        if (j->p >= j->end || *j->p != ':')
                                return syntax(j, "expected ':' after key");
                        j->p++;
                        skip_ws(j);
                        rc = member(j, lvl, depth, key.text);
                } else {
                        rc = parse_value(j, &v, SCH__LVL_SKIP, depth, false);
                        if (!rc && v.kind == SCH__TEXT && v.bad_utf8)
                                return bad_text(j, SCH__LVL_SKIP, NULL);
                }
                if (rc)
                        return rc;
                skip_ws(j);
                if (j->p < j->end && *j->p == ',') {
                        j->p++;
                        skip_ws(j);
                        continue;
                }
                if (j->p < j->end && *j->p == close) {
                        j->p++;
                        return TL_OK;
                }
                return syntax(j, object ? "expected ',' or '}'"
                                        : "expected ',' or ']'");
        }
}

tl_status sch_decode_json(struct sch_decoder *d, const void *buf, size_t len,
                          struct sch_event *ev, struct tl_error *err)
{
        if (len <= SCH_MAX_MESSAGE_BYTES && sch__json_fast(d, buf, len, ev))
                return TL_OK;
        return sch__decode_json_general(d, buf, len, ev, err);
}

tl_status sch__decode_json_general(struct sch_decoder *d, const void *buf,
                                   size_t len, struct sch_event *ev,
                                   struct tl_error *err)
{
        struct sch__cursor j = {
            buf, (const unsigned char *)buf + len, buf, d, err, 0};
        tl_status rc;

        if (len > SCH_MAX_MESSAGE_BYTES)
                return tl_fail(err, TL_ELIMIT,
                               "message of %zu bytes is over the %d byte limit",
                               len, SCH_MAX_MESSAGE_BYTES);
        tl_arena_reset(&d->arena);
        sch__builder_start(&d->b, ev, true);
        skip_ws(&j);
        if (j.p >= j.end || *j.p != '{')
                return syntax(&j, "expected '{' to start an event object");
        rc = parse_container(&j, SCH__LVL_TOP, 1);
        if (rc)
                return rc;
        skip_ws(&j);
        if (j.p != j.end)
                return syntax(&j, "unexpected data after the event object");
        return sch__builder_finish(&d->b, &d->opt, err);
}
