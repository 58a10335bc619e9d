/* File names for invoice files: one name per id, and back again. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "invoicing/render.h"

static const char HEX[] = "0123456789ABCDEF";

/* Bytes a name keeps as they are: no separator, quote, space, or byte a
   shell, a spreadsheet or a file system would read otherwise. */
static bool plain(unsigned char c, bool first)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               (c == '.' && !first);
}

tl_status inv_file_name(const char *id, char *out, size_t size,
                        struct tl_error *err)
{
        size_t n = 0;

        if (!*id)
                return tl_fail(err, TL_EINVAL,
                               "file name: an empty id has no file name");
        for (const unsigned char *s = (const unsigned char *)id; *s; s++) {
                bool keep = plain(*s, s == (const unsigned char *)id);

                if (n + (keep ? 1 : 3) >= size)
                        return tl_fail(err, TL_EINVAL,
                                       "file name of \"%.60s\": longer than "
                                       "%zu bytes once encoded",
                                       id, size - 1);
                if (keep) {
                        out[n++] = (char)*s;
                } else {
                        out[n++] = '%';
                        out[n++] = HEX[*s >> 4];
                        out[n++] = HEX[*s & 15];
                }
        }
        out[n] = '\0';
        return TL_OK;
}

static int hex_value(char c)
{
        const char *p = c ? strchr(HEX, c) : NULL;

        return p ? (int)(p - HEX) : -1;
}

tl_status inv_file_name_decode(const char *name, char *out, size_t size,
                               struct tl_error *err)
{
        size_t n = 0;

        for (const char *s = name; *s; s++) {
                int hi = 0, lo = 0;

                if (n + 1 >= size)
                        return tl_fail(err, TL_EINVAL,
                                       "file name \"%.60s\": longer than %zu "
                                       "bytes decoded",
                                       name, size - 1);
                if (*s != '%') {
                        if (!plain((unsigned char)*s, s == name))
                                return tl_fail(err, TL_EINVAL,
                                               "file name \"%.60s\": byte %zu "
                                               "should be encoded",
                                               name, (size_t)(s - name));
                        out[n++] = *s;
                        continue;
                }
                if ((hi = hex_value(s[1])) < 0 || (lo = hex_value(s[2])) < 0 ||
                    (hi == 0 && lo == 0) ||
                    plain((unsigned char)(hi * 16 + lo), s == name))
                        return tl_fail(err, TL_EINVAL,
                                       "file name \"%.60s\": bad escape at "
                                       "byte %zu",
                                       name, (size_t)(s - name));
                out[n++] = (char)(hi * 16 + lo);
                s += 2;
        }
        out[n] = '\0';
        return TL_OK;
}
