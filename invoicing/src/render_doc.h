/* The stored invoice document as the renderers read it (no doubles here:
   the CSV renderer includes it). */
#ifndef INV_RENDER_DOC_H
#define INV_RENDER_DOC_H

#include <jansson.h>
#include <stdbool.h>

#include "core/error.h"

/* Decimal strings longer than this are refused (quantities reach 10^30
   with 12-digit weights; money is far shorter). */
#define INV__DEC_MAX 64

/* A plain decimal as the document writes money and quantities:
   [-]digits[.digits], nothing else (no exponent, no spaces). */
bool inv__doc_plain_decimal(const char *s);

/*
** The string at 'key' of 'obj' into '*s' (NULL when absent or null and not
** 'required'). 'where' is the path of 'obj' for messages ("", "period.",
** "lines[3]."). With 'decimal' it must be a plain decimal of at most
** INV__DEC_MAX characters. Returns TL_OK or TL_EINVAL naming the path.
*/
tl_status inv__doc_get(const json_t *obj, const char *where, const char *key,
                       bool required, bool decimal, const char **s,
                       struct tl_error *err);

#endif
