/* llama2.c's tokenizer.bin: pieces with merge scores, BPE encoding with
   byte fallback, and decoding of pieces (raw bytes as <0xNN>). */
#ifndef INF_TOKENIZER_H
#define INF_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

struct inf_tokenizer;

/* Read 'vocab_size' pieces from 'path' (the model's vocab_size). */
tl_status inf_tokenizer_open(const char *path, int vocab_size,
                             struct inf_tokenizer **out, struct tl_error *err);
/* Frees '*pp' and sets it to NULL; accepts NULL. */
void inf_tokenizer_free(struct inf_tokenizer **pp);

/*
** Encode 'text' as llama2.c does: BOS first when 'bos', a leading space
** (sentencepiece's dummy prefix) when the text is not empty, each UTF-8
** character as its piece or as byte tokens (id = byte + 3), then merges
** of the best-scoring adjacent pair until none applies. 'out' needs room
** for strlen(text) + 3 ids; '*n' receives the count.
*/
tl_status inf_tokenizer_encode(const struct inf_tokenizer *t, const char *text,
                               bool bos, int *out, int *n,
                               struct tl_error *err);

/*
** The bytes token 'tok' stands for after token 'prev' (a byte token's
** single byte; a piece after BOS loses its leading space). Sets '*len'.
*/
const char *inf_tokenizer_piece(const struct inf_tokenizer *t, int prev,
                                int tok, size_t *len);

/* Write the byte-level tokenizer of `tally infer --init-model`: the three
   specials, 256 byte tokens, then printable merges up to vocab_size. */
tl_status inf_tokenizer_write_bytes(const char *path, int vocab_size,
                                    struct tl_error *err);

#endif
