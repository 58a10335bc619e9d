/* Growable byte buffers and UTF-8 validation. */
#ifndef TL_STR_H
#define TL_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "core/error.h"

/*
** A growable byte buffer, always NUL-terminated after 'len' bytes once it
** holds anything, so its data can be used as a C string when it holds text.
** 'cap_bytes' bounds its growth (0: unbounded).
*/
struct tl_buf {
        char *data;
        size_t len;
        size_t alloc;
        size_t cap_bytes;
};

void tl_buf_init(struct tl_buf *b, size_t cap_bytes);
void tl_buf_release(struct tl_buf *b);
/* Forget the contents, keep the memory. */
void tl_buf_clear(struct tl_buf *b);

/* Cut the contents back to 'len' bytes (no-op when already shorter). */
void tl_buf_truncate(struct tl_buf *b, size_t len);

tl_status tl_buf__append_grow(struct tl_buf *b, const void *data, size_t len,
                              struct tl_error *err);

/*
** Append bytes. Returns TL_OK, TL_ENOMEM or TL_ELIMIT; 'b' unchanged on
** error. Inline while there is room: the meter writes COPY tuples a few
** bytes at a time, and the call had been a tenth of its time.
*/
static inline tl_status tl_buf_append(struct tl_buf *b, const void *data,
                                      size_t len, struct tl_error *err)
{
        if (len < b->alloc - b->len &&
            (!b->cap_bytes || len <= b->cap_bytes - b->len)) {
                if (len)
                        memcpy(b->data + b->len, data, len);
                b->len += len;
                b->data[b->len] = '\0';
                return TL_OK;
        }
        return tl_buf__append_grow(b, data, len, err);
}
tl_status tl_buf_puts(struct tl_buf *b, const char *s, struct tl_error *err);
tl_status tl_buf_printf(struct tl_buf *b, struct tl_error *err, const char *fmt,
                        ...) __attribute__((format(printf, 3, 4)));

/*
** True when 'len' bytes at 's' are well-formed UTF-8 (RFC 3629: no overlong
** forms, no surrogates, nothing above U+10FFFF). NUL bytes are accepted as
** U+0000; callers that forbid them check separately.
*/
bool tl_utf8_valid(const char *s, size_t len);

#endif
