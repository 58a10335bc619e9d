/* Splitting an ingest body into events and validating each as the meter
   does: the same decoder, so the same messages and field paths. */
#include "ingest_int.h"

#include <string.h>

#include "api/ingest.h"
#include "core/alloc.h"

/* Deeper than the decoder's own cap (SCH_MAX_DEPTH), so an element nested
   past that is still delimited and rejected by the decoder alone. */
#define MAX_NEST 256

json_t *api__text(const char *s, size_t len)
{
        struct tl_buf b;
        json_t *j;

        if (tl_utf8_valid(s, len))
                return json_stringn(s, len);
        tl_buf_init(&b, 0);
        for (size_t i = 0; i < len;) {
                size_t k = 1;
                while (k <= 4 && i + k <= len && !tl_utf8_valid(s + i, k))
                        k++;
                if (k > 4 || i + k > len) {
                        if (tl_buf_append(&b, "\xEF\xBF\xBD", 3, NULL)) {
                                tl_buf_release(&b);
                                return NULL;
                        }
                        i++;
                        continue;
                }
                if (tl_buf_append(&b, s + i, k, NULL)) {
                        tl_buf_release(&b);
                        return NULL;
                }
                i += k;
        }
        j = json_stringn(b.data ? b.data : "", b.len);
        tl_buf_release(&b);
        return j;
}

/*
** The field path a decoder message starts with ("data.input_tokens: ...",
** "time: ..."), or 0 when it names none ("JSON: ...", "CBOR: ...",
** "event: ...", a size limit).
*/
static size_t field_len(const char *msg)
{
        const char *colon = strstr(msg, ": ");
        size_t n;

        if (!colon)
                return 0;
        n = (size_t)(colon - msg);
        if (n >= 4 && strncmp(msg, "data", 4) == 0 && (n == 4 || msg[4] == '.'))
                return n;
        if (n == 0 || memchr(msg, ' ', n))
                return 0;
        if ((n == 4 &&
             (!strncmp(msg, "JSON", 4) || !strncmp(msg, "CBOR", 4))) ||
            (n == 5 && !strncmp(msg, "event", 5)))
                return 0;
        return n;
}

static tl_status nomem(struct tl_error *err)
{
        return tl_fail(err, TL_ENOMEM, "ingest: out of memory");
}

static tl_status add_result(struct api__parse *p, size_t index,
                            const struct tl_error *why, struct tl_error *err)
{
        json_t *r = json_object();
        size_t flen;

        if (!r ||
            json_object_set_new(r, "index", json_integer((json_int_t)index)))
                goto fail;
        if (!why) {
                if (json_object_set_new(r, "status", json_string("accepted")))
                        goto fail;
        } else {
                json_t *e = json_object();
                if (json_object_set_new(r, "status", json_string("rejected")) ||
                    json_object_set_new(r, "error", e) ||
                    json_object_set_new(e, "code",
                                        json_string("invalid_event")) ||
                    json_object_set_new(e, "message",
                                        api__text(why->msg, strlen(why->msg))))
                        goto fail;
                flen = field_len(why->msg);
                if (flen &&
                    json_object_set_new(e, "field", api__text(why->msg, flen)))
                        goto fail;
        }
        if (json_array_append_new(p->results, r))
                return nomem(err);
        return TL_OK;
fail:
        json_decref(r);
        return nomem(err);
}

/* A valid event at [off, off + len) of the body with subject 'ev->subject'
   (copied: the decoder reuses its memory for the next event). */
static tl_status add_valid(struct api__parse *p, size_t off, size_t len,
                           const struct sch_event *ev, struct tl_error *err)
{
        struct api__item *it;

        if (p->valid_count == p->valid_alloc) {
                size_t n = p->valid_alloc ? 2 * p->valid_alloc : 16;
                it = tl_reallocarray(p->valid, n, sizeof *it);
                if (!it)
                        return nomem(err);
                p->valid = it;
                p->valid_alloc = n;
        }
        it = &p->valid[p->valid_count];
        it->off = off;
        it->len = len;
        it->subject_off = p->subjects.len;
        it->subject_len = ev->subject.len;
        if (tl_buf_append(&p->subjects, ev->subject.ptr, ev->subject.len, err))
                return nomem(err);
        p->valid_count++;
        return add_result(p, p->total - 1, NULL, err);
}

/* The outcome of decoding event p->total - 1. */
static tl_status settle(struct api__parse *p, tl_status rc, size_t off,
                        size_t len, const struct sch_event *ev,
                        const struct tl_error *why, struct tl_error *err)
{
        if (rc == TL_OK)
                return add_valid(p, off, len, ev, err);
        if (rc == TL_ENOMEM)
                return nomem(err);
        return add_result(p, p->total - 1, why, err);
}

static const unsigned char *skip_ws(const unsigned char *s,
                                    const unsigned char *end)
{
        while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
                s++;
        return s;
}

/*
** Where the batch element starting at 's' stops: at the ',' or ']' that
** closes it at the array's level, outside strings. Only strings and
** nesting are read: the decoder judges everything else, and bytes that
** are not UTF-8 inside a string are its to name.
*/
static tl_status element_stop(const unsigned char *s, const unsigned char *end,
                              size_t index, const unsigned char **stop,
                              struct tl_error *err)
{
        unsigned char open[MAX_NEST];
        size_t depth = 0;

        for (; s < end; s++) {
                switch (*s) {
                case '"':
                        for (s++; s < end && *s != '"'; s++)
                                if (*s == '\\')
                                        s++;
                        if (s >= end)
                                goto eof;
                        break;
                case '{':
                case '[':
                        if (depth == MAX_NEST)
                                return tl_fail(err, TL_EPARSE,
                                               "JSON: event %zu: nesting "
                                               "deeper than %d",
                                               index, MAX_NEST);
                        open[depth++] = *s == '{' ? '}' : ']';
                        break;
                case '}':
                case ']':
                        if (depth == 0 && *s == ']') {
                                *stop = s;
                                return TL_OK;
                        }
                        if (depth == 0 || open[depth - 1] != *s)
                                return tl_fail(err, TL_EPARSE,
                                               "JSON: event %zu: unbalanced "
                                               "'%c'",
                                               index, *s);
                        depth--;
                        break;
                case ',':
                        if (depth == 0) {
                                *stop = s;
                                return TL_OK;
                        }
                        break;
                default:
                        break;
                }
        }
eof:
        return tl_fail(err, TL_EPARSE,
                       "JSON: the batch ends inside event %zu (no closing "
                       "']')",
                       index);
}

static tl_status parse_json_batch(struct sch_decoder *d,
                                  const unsigned char *base, size_t len,
                                  struct api__parse *p, struct tl_error *err)
{
        const unsigned char *s = base, *end = base + len, *stop = NULL;
        tl_status rc;

        s = skip_ws(s, end);
        if (s == end || *s != '[')
                return tl_fail(err, TL_EPARSE,
                               "JSON: expected '[' to start a batch of events");
        s = skip_ws(s + 1, end);
        if (s < end && *s == ']')
                return tl_fail(err, TL_EPARSE, "JSON: empty batch");
        for (;;) {
                const unsigned char *e;
                struct sch_event ev;
                struct tl_error why = {0};

                if (p->total == API_INGEST_MAX_EVENTS)
                        return tl_fail(err, TL_ELIMIT,
                                       "batch of more than %d events",
                                       API_INGEST_MAX_EVENTS);
                rc = element_stop(s, end, p->total, &stop, err);
                if (rc)
                        return rc;
                e = stop;
                while (e > s && (e[-1] == ' ' || e[-1] == '\t' ||
                                 e[-1] == '\r' || e[-1] == '\n'))
                        e--;
                if (e == s)
                        return tl_fail(err, TL_EPARSE,
                                       "JSON: event %zu: expected a value",
                                       p->total);
                p->total++;
                rc = sch_decode_json(d, s, (size_t)(e - s), &ev, &why);
                rc = settle(p, rc, (size_t)(s - base), (size_t)(e - s), &ev,
                            &why, err);
                if (rc)
                        return rc;
                s = skip_ws(stop + 1, end);
                if (*stop == ']')
                        break;
        }
        if (s != end)
                return tl_fail(err, TL_EPARSE,
                               "JSON: unexpected data after the batch at byte "
                               "%zu",
                               (size_t)(s - base));
        return TL_OK;
}

static tl_status parse_json_one(struct sch_decoder *d, const void *body,
                                size_t len, struct api__parse *p,
                                struct tl_error *err)
{
        struct sch_event ev;
        struct tl_error why = {0};
        tl_status rc = sch_decode_json(d, body, len, &ev, &why);

        /* Not even a JSON object: no event to answer for. */
        if (rc == TL_EPARSE)
                return tl_fail(err, TL_EPARSE, "%s", why.msg);
        p->total = 1;
        return settle(p, rc, 0, len, &ev, &why, err);
}

/* The head of a top-level CBOR array: its count and where elements start. */
static tl_status cbor_array_head(const unsigned char *b, size_t len,
                                 uint64_t *count, size_t *start,
                                 struct tl_error *err)
{
        unsigned ai = b[0] & 31;
        size_t n = ai < 24 ? 0 : ai <= 27 ? (size_t)1 << (ai - 24) : 0;

        if (ai == 31)
                return tl_fail(err, TL_EPARSE,
                               "CBOR: indefinite-length batch arrays are not "
                               "accepted");
        if (ai > 27 || 1 + n > len)
                return tl_fail(err, TL_EPARSE, "CBOR: malformed batch head");
        *count = ai < 24 ? ai : 0;
        for (size_t i = 0; i < n; i++)
                *count = *count << 8 | b[1 + i];
        *start = 1 + n;
        return TL_OK;
}

/*
** One item or a definite array of items. Each item is read by the meter's
** own CBOR reader (as a one-item sequence: a body may be larger than one
** Kafka message); an item the decoder cannot finish but whose end the skim
** finds is rejected alone, one whose end is unknown makes the body 400.
*/
static tl_status parse_cbor(struct sch_decoder *d, const unsigned char *b,
                            size_t len, struct api__parse *p,
                            struct tl_error *err)
{
        uint64_t count = 1;
        size_t pos = 0;
        tl_status rc;

        if (len == 0)
                return tl_fail(err, TL_EPARSE, "CBOR: empty body");
        if (b[0] >> 5 == 4) {
                rc = cbor_array_head(b, len, &count, &pos, err);
                if (rc)
                        return rc;
                if (count == 0)
                        return tl_fail(err, TL_EPARSE, "CBOR: empty batch");
                if (count > API_INGEST_MAX_EVENTS)
                        return tl_fail(err, TL_ELIMIT,
                                       "CBOR: batch of %llu events is over "
                                       "the limit of %d",
                                       (unsigned long long)count,
                                       API_INGEST_MAX_EVENTS);
        }
        for (uint64_t i = 0; i < count; i++) {
                struct sch_cbor_reader r;
                struct sch_event ev;
                struct sch_str raw;
                struct tl_error why = {0};
                size_t n;

                if (pos >= len)
                        return tl_fail(err, TL_EPARSE,
                                       "CBOR: the batch announces %llu "
                                       "events and holds %llu",
                                       (unsigned long long)count,
                                       (unsigned long long)i);
                sch_cbor_reader_open(&r, b + pos, len - pos, true, NULL);
                p->total++;
                rc = sch_cbor_reader_next(&r, d, &ev, &raw, &why);
                if (rc == TL_EPARSE || rc == TL_ELIMIT) {
                        struct sch_str subject;
                        if (sch_cbor_skim(b + pos, len - pos, &n, &subject))
                                return tl_fail(err, TL_EPARSE,
                                               "CBOR: event %llu: %s",
                                               (unsigned long long)i, why.msg);
                } else {
                        n = raw.len;
                }
                rc = settle(p, rc, pos, n, &ev, &why, err);
                if (rc)
                        return rc;
                pos += n;
        }
        if (pos != len)
                return tl_fail(err, TL_EPARSE,
                               "CBOR: %zu unexpected bytes after the last "
                               "event",
                               len - pos);
        return TL_OK;
}

tl_status api__parse_body(api__body_kind kind, const void *body, size_t len,
                          struct api__parse *p, struct tl_error *err)
{
        struct sch_decoder *d = NULL;
        tl_status rc;

        memset(p, 0, sizeof *p);
        tl_buf_init(&p->subjects, 0);
        p->results = json_array();
        if (!p->results)
                return nomem(err);
        rc = sch_decoder_new(NULL, &d, err);
        if (rc)
                return rc;
        if (kind == API__BODY_JSON_ONE)
                rc = parse_json_one(d, body, len, p, err);
        else if (kind == API__BODY_JSON_BATCH)
                rc = parse_json_batch(d, body, len, p, err);
        else
                rc = parse_cbor(d, body, len, p, err);
        sch_decoder_free(&d);
        return rc;
}

void api__parse_release(struct api__parse *p)
{
        tl_free(p->valid);
        tl_buf_release(&p->subjects);
        json_decref(p->results);
        memset(p, 0, sizeof *p);
}
