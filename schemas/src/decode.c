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
