/* Internal: the CBOR reader's two paths (cbor_fast.c in front of cbor.c). */
#ifndef SCH_CBOR_FAST_H
#define SCH_CBOR_FAST_H

#include <stdbool.h>
#include <stddef.h>

#include "builder.h"

/*
** The usual shape only (sch_encode_cbor's order, ASCII text, definite
** lengths, no tags but time's): true when the item of '*item_len' bytes
** at 'p' is a valid event, decoded into '*ev' exactly as the general
** reader would have; false on any surprise, and the general reader then
** decides. Never reads outside the 'len' bytes at 'p'.
*/
bool sch__cbor_fast(struct sch_decoder *d, const unsigned char *p, size_t len,
                    struct sch_event *ev, size_t *item_len);

/*
** The general reader alone: decode the item at buf[*pos]; '*pos' moves
** past it unless the result is TL_EPARSE or TL_ELIMIT (its end unknown).
*/
tl_status sch__cbor_decode_general(struct sch_decoder *d,
                                   const unsigned char *buf, size_t len,
                                   size_t *pos, struct sch_event *ev,
                                   struct tl_error *err);

/* sch_cbor_skim without its quick walk of the usual item (for tests). */
tl_status sch__cbor_skim_general(const void *buf, size_t len, size_t *item_len,
                                 struct sch_str *subject);

#endif
