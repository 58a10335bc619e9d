/* Growable buffers and UTF-8 validation. */
#include "core/str.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

void tl_buf_init(struct tl_buf *b, size_t cap_bytes)
{
        b->data = NULL;
        b->len = 0;
        b->alloc = 0;
        b->cap_bytes = cap_bytes;
}

void tl_buf_release(struct tl_buf *b)
{
        tl_free(b->data);
        b->data = NULL;
        b->len = 0;
        b->alloc = 0;
}

void tl_buf_clear(struct tl_buf *b)
{
        b->len = 0;
        if (b->data)
                b->data[0] = '\0';
}

void tl_buf_truncate(struct tl_buf *b, size_t len)
{
        if (len >= b->len)
                return;
        b->len = len;
        b->data[len] = '\0';
}

/* Make room for 'extra' more bytes plus the terminating NUL. */
static tl_status reserve(struct tl_buf *b, size_t extra, struct tl_error *err)
{
        size_t need, grow;
        char *p;

        if (extra > SIZE_MAX - b->len - 1)
                return tl_fail(err, TL_ELIMIT, "buffer: size overflow");
        need = b->len + extra + 1;
        if (b->cap_bytes && need - 1 > b->cap_bytes)
                return tl_fail(err, TL_ELIMIT,
                               "buffer: cap of %zu bytes reached",
                               b->cap_bytes);
        if (need <= b->alloc)
                return TL_OK;
        grow = b->alloc ? b->alloc : 64;
        while (grow < need)
                grow = grow > SIZE_MAX / 2 ? need : grow * 2;
        p = tl_realloc(b->data, grow);
        if (!p)
                return tl_fail(err, TL_ENOMEM, "buffer: cannot grow to %zu",
                               grow);
        b->data = p;
        b->alloc = grow;
        return TL_OK;
}

tl_status tl_buf__append_grow(struct tl_buf *b, const void *data, size_t len,
                              struct tl_error *err)
{
        tl_status rc = reserve(b, len, err);

        if (rc)
                return rc;
        if (len)
                memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = '\0';
        return TL_OK;
}

tl_status tl_buf_puts(struct tl_buf *b, const char *s, struct tl_error *err)
{
        return tl_buf_append(b, s, strlen(s), err);
}

tl_status tl_buf_printf(struct tl_buf *b, struct tl_error *err, const char *fmt,
                        ...)
{
        va_list ap;
        int n;
        tl_status rc;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return tl_fail(err, TL_EINVAL, "buffer: bad format");
        rc = reserve(b, (size_t)n, err);
        if (rc)
                return rc;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
        return TL_OK;
}

bool tl_utf8_valid(const char *s, size_t len)
{
        const unsigned char *p = (const unsigned char *)s;
        const unsigned char *end = p + len;

        while (p < end) {
                unsigned c = *p;
                size_t n;
                uint32_t cp;

                /* Most text is ASCII: skip it eight bytes at a time. */
                if (end - p >= 8) {
                        uint64_t w;
                        memcpy(&w, p, 8);
                        if (!(w & UINT64_C(0x8080808080808080))) {
                                p += 8;
                                continue;
                        }
                }
                if (c < 0x80) {
                        p++;
                        continue;
                }
                if (c >= 0xC2 && c <= 0xDF) {
                        n = 1;
                        cp = c & 0x1F;
                } else if (c >= 0xE0 && c <= 0xEF) {
                        n = 2;
                        cp = c & 0x0F;
                } else if (c >= 0xF0 && c <= 0xF4) {
                        n = 3;
                        cp = c & 0x07;
                } else {
                        return false; /* continuation byte, C0/C1, F5+ */
                }
                if ((size_t)(end - p) <= n)
                        return false;
                for (size_t i = 1; i <= n; i++) {
                        if ((p[i] & 0xC0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i] & 0x3F);
                }
                if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
                    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                        return false;
                p += n + 1;
        }
        return true;
}
