/* The decoder object and encoding detection. */
#include "builder.h"

#include <string.h>
#include <strings.h>

#include "core/alloc.h"

/* Scratch per message: unescaped JSON strings only, so the message size
   bounds it; the cap makes that a guarantee. */
#define ARENA_CHUNK (16 * 1024)
#define ARENA_CAP (2 * SCH_MAX_MESSAGE_BYTES)

tl_status sch_decoder_new(const struct sch_options *opt,
                          struct sch_decoder **out, struct tl_error *err)
{
        struct sch_decoder *d = tl_calloc(1, sizeof *d);

        if (!d)
                return tl_fail(err, TL_ENOMEM, "cannot allocate a decoder");
        tl_arena_init(&d->arena, ARENA_CHUNK, ARENA_CAP);
        if (opt)
                d->opt = *opt;
        *out = d;
        return TL_OK;
}

void sch_decoder_free(struct sch_decoder **pp)
{
        if (!pp || !*pp)
                return;
        tl_arena_release(&(*pp)->arena);
        tl_free(*pp);
        *pp = NULL;
}

void sch_decoder_set_now(struct sch_decoder *d, tl_time_us now_us)
{
        d->opt.now_us = now_us;
}

static bool has_suffix(const char *s, const char *suffix)
{
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && strncasecmp(s + n - m, suffix, m) == 0;
}

sch_encoding sch_detect_encoding(const char *content_type, const void *buf,
                                 size_t len)
{
        const unsigned char *p = buf, *end = p + len;

        if (content_type && *content_type) {
                char base[128];
                size_t n = strcspn(content_type, ";");
                if (n >= sizeof base)
                        n = sizeof base - 1;
                memcpy(base, content_type, n);
                while (n && (base[n - 1] == ' ' || base[n - 1] == '\t'))
                        n--;
                base[n] = '\0';
                if (has_suffix(base, "json"))
                        return SCH_ENC_JSON;
                if (has_suffix(base, "cbor"))
                        return SCH_ENC_CBOR;
        }
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
                p++;
        return p < end && *p == '{' ? SCH_ENC_JSON : SCH_ENC_CBOR;
}

void sch_jsonl_reader_open(struct sch_jsonl_reader *r, const void *buf,
                           size_t len)
{
        r->buf = buf;
        r->len = len;
        r->pos = 0;
        r->line = 0;
        r->next_line = 1;
}

static bool blank(const char *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
                        return false;
        return true;
}

bool sch_jsonl_reader_more(struct sch_jsonl_reader *r)
{
        while (r->pos < r->len) {
                const char *p = r->buf + r->pos;
                const char *nl = memchr(p, '\n', r->len - r->pos);
                size_t n = nl ? (size_t)(nl - p) : r->len - r->pos;
                if (!blank(p, n))
                        return true;
                r->pos += n + (nl != NULL);
                r->next_line++;
        }
        return false;
}

tl_status sch_jsonl_reader_next(struct sch_jsonl_reader *r,
                                struct sch_decoder *d, struct sch_event *ev,
                                struct sch_str *raw, struct tl_error *err)
{
        const char *p;
        const char *nl;
        size_t n;

        if (!sch_jsonl_reader_more(r))
                return tl_fail(err, TL_ENOTFOUND, "no more lines");
        p = r->buf + r->pos;
        nl = memchr(p, '\n', r->len - r->pos);
        n = nl ? (size_t)(nl - p) : r->len - r->pos;
        r->pos += n + (nl != NULL);
        r->line = r->next_line++;
        if (n && p[n - 1] == '\r')
                n--;
        raw->ptr = p;
        raw->len = (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n);
        return sch_decode_json(d, p, n, ev, err);
}
