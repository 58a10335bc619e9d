/* The llama2.c tokenizer: reading, BPE encoding, decoding, and the
   byte-level tokenizer written with random checkpoints. */
#include "inference/tokenizer.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"

#define MAX_PIECE 4096 /* longer pieces mean a damaged file */

struct piece_index {
        const char *str;
        int id;
};

struct inf_tokenizer {
        int vocab_size;
        int max_len;
        char **pieces;
        size_t *lens;
        float *scores;
        struct piece_index *sorted;
        char bytes[256][2];
};

static int cmp_piece(const void *a, const void *b)
{
        return strcmp(((const struct piece_index *)a)->str,
                      ((const struct piece_index *)b)->str);
}

void inf_tokenizer_free(struct inf_tokenizer **pp)
{
        struct inf_tokenizer *t = pp ? *pp : NULL;
        if (!t)
                return;
        *pp = NULL;
        for (int i = 0; t->pieces && i < t->vocab_size; i++)
                tl_free(t->pieces[i]);
        tl_free(t->pieces);
        tl_free(t->lens);
        tl_free(t->scores);
        tl_free(t->sorted);
        tl_free(t);
}

static tl_status read_exact(FILE *f, void *p, size_t n, const char *path,
                            int piece, struct tl_error *err)
{
        if (fread(p, 1, n, f) == n)
                return TL_OK;
        if (ferror(f))
                return tl_fail(err, TL_EIO, "%s: %s", path, strerror(errno));
        return tl_fail(err, TL_EINVAL,
                       "%s: ends inside piece %d (the model's vocab_size "
                       "needs more)",
                       path, piece);
}

tl_status inf_tokenizer_open(const char *path, int vocab_size,
                             struct inf_tokenizer **out, struct tl_error *err)
{
        struct inf_tokenizer *t = tl_calloc(1, sizeof *t);
        FILE *f;
        tl_status rc = TL_OK;
        int32_t max_len;
        size_t n = (size_t)vocab_size;

        *out = NULL;
        if (!t)
                return tl_fail(err, TL_ENOMEM, "%s: out of memory", path);
        t->vocab_size = vocab_size;
        t->pieces = tl_calloc(n, sizeof *t->pieces);
        t->lens = tl_calloc(n, sizeof *t->lens);
        t->scores = tl_calloc(n, sizeof *t->scores);
        t->sorted = tl_calloc(n, sizeof *t->sorted);
        if (!t->pieces || !t->lens || !t->scores || !t->sorted) {
                inf_tokenizer_free(&t);
                return tl_fail(err, TL_ENOMEM, "%s: out of memory", path);
        }
        f = fopen(path, "rb");
        if (!f) {
                rc = tl_fail(err, errno == ENOENT ? TL_ENOTFOUND : TL_EIO,
                             "%s: %s", path, strerror(errno));
                inf_tokenizer_free(&t);
                return rc;
        }
        rc = read_exact(f, &max_len, sizeof max_len, path, 0, err);
        if (!rc && (max_len < 1 || max_len > MAX_PIECE))
                rc = tl_fail(err, TL_EINVAL,
                             "%s: max_token_length %d: must lie in 1..%d", path,
                             (int)max_len, MAX_PIECE);
        for (int i = 0; !rc && i < vocab_size; i++) {
                int32_t len;

                rc = read_exact(f, &t->scores[i], sizeof(float), path, i, err);
                if (!rc)
                        rc = read_exact(f, &len, sizeof len, path, i, err);
                if (!rc && (len < 0 || len > max_len))
                        rc = tl_fail(err, TL_EINVAL,
                                     "%s: piece %d: length %d outside "
                                     "0..max_token_length %d",
                                     path, i, (int)len, (int)max_len);
                if (!rc && !(t->pieces[i] = tl_malloc((size_t)len + 1)))
                        rc = tl_fail(err, TL_ENOMEM, "%s: out of memory", path);
                if (!rc)
                        rc = read_exact(f, t->pieces[i], (size_t)len, path, i,
                                        err);
                if (!rc) {
                        t->pieces[i][len] = '\0';
                        t->lens[i] = (size_t)len;
                        t->sorted[i] = (struct piece_index){t->pieces[i], i};
                }
        }
        fclose(f);
        if (rc) {
                inf_tokenizer_free(&t);
                return rc;
        }
        t->max_len = max_len;
        qsort(t->sorted, n, sizeof *t->sorted, cmp_piece);
        for (int b = 0; b < 256; b++)
                t->bytes[b][0] = (char)b;
        *out = t;
        return TL_OK;
}

static int lookup(const struct inf_tokenizer *t, const char *s)
{
        struct piece_index key = {s, 0};
        const struct piece_index *hit =
            bsearch(&key, t->sorted, (size_t)t->vocab_size, sizeof *t->sorted,
                    cmp_piece);

        return hit ? hit->id : -1;
}

tl_status inf_tokenizer_encode(const struct inf_tokenizer *t, const char *text,
                               bool bos, int *out, int *n, struct tl_error *err)
{
        size_t cap = (size_t)t->max_len * 2 + 3;
        char *buf = tl_malloc(cap > 8 ? cap : 8);
        int k = 0;

        if (!buf)
                return tl_fail(err, TL_ENOMEM, "tokenizer: out of memory");
        if (bos)
                out[k++] = 1; /* BOS */
        if (text[0]) {
                int sp = lookup(t, " ");

                if (sp >= 0)
                        out[k++] = sp;
        }
        for (const char *c = text; *c;) {
                /* one UTF-8 character: a lead byte and its continuations */
                size_t len = 1;
                int id;

                while (len < 4 && ((unsigned char)c[len] & 0xC0) == 0x80)
                        len++;
                memcpy(buf, c, len);
                buf[len] = '\0';
                id = lookup(t, buf);
                if (id >= 0)
                        out[k++] = id;
                else /* byte tokens; <unk> where the vocabulary has none */
                        for (size_t i = 0; i < len; i++)
                                out[k++] =
                                    (unsigned char)c[i] + 3 < t->vocab_size
                                        ? (unsigned char)c[i] + 3
                                        : 0;
                c += len;
        }
        for (;;) {
                float best = -1e10f;
                int best_id = -1, best_at = -1;

                for (int i = 0; i + 1 < k; i++) {
                        size_t a = t->lens[out[i]], b = t->lens[out[i + 1]];
                        int id;

                        if (a + b + 1 > cap)
                                continue;
                        memcpy(buf, t->pieces[out[i]], a);
                        memcpy(buf + a, t->pieces[out[i + 1]], b);
                        buf[a + b] = '\0';
                        id = lookup(t, buf);
                        if (id >= 0 && t->scores[id] > best) {
                                best = t->scores[id];
                                best_id = id;
                                best_at = i;
                        }
                }
                if (best_at < 0)
                        break;
                out[best_at] = best_id;
                memmove(out + best_at + 1, out + best_at + 2,
                        (size_t)(k - best_at - 2) * sizeof *out);
                k--;
        }
        tl_free(buf);
        *n = k;
        return TL_OK;
}

const char *inf_tokenizer_piece(const struct inf_tokenizer *t, int prev,
                                int tok, size_t *len)
{
        const char *p;
        unsigned b;

        if (tok < 0 || tok >= t->vocab_size) {
                *len = 0;
                return "";
        }
        p = t->pieces[tok];
        *len = t->lens[tok];
        if (prev == 1 && p[0] == ' ') {
                p++;
                (*len)--;
        }
        if (*len == 6 && sscanf(p, "<0x%02X>", &b) == 1 && b < 256) {
                *len = 1;
                return t->bytes[b];
        }
        return p;
}

/* The letters of the merges: words and spaces, so noise reads as noise. */
static const char ALPHABET[] = " abcdefghijklmnopqrstuvwxyz.,'";

tl_status inf_tokenizer_write_bytes(const char *path, int vocab_size,
                                    struct tl_error *err)
{
        const size_t na = sizeof ALPHABET - 1;
        FILE *f;
        int32_t max_len = 6; /* "<0xNN>" */
        int id = 0, width = 2;
        char tmp[4200];
        size_t next = 0, span = na * na;
        bool ok;

        if (vocab_size < 259)
                return tl_fail(err, TL_EINVAL,
                               "vocab %d: the byte tokenizer needs at least "
                               "259 (3 specials and 256 bytes)",
                               vocab_size);
        for (size_t left = (size_t)vocab_size - 259, s = span, w = 2; left > 0;
             w++, s *= na) {
                max_len = (int32_t)(w > 6 ? w : (size_t)max_len);
                left = left > s ? left - s : 0;
        }
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        f = fopen(tmp, "wb");
        if (!f)
                return tl_fail(err, TL_EIO, "%s: %s", tmp, strerror(errno));
        ok = fwrite(&max_len, sizeof max_len, 1, f) == 1;
        for (; ok && id < vocab_size; id++) {
                char piece[32];
                float score = 0.0f;
                int32_t len;

                if (id == 0)
                        strcpy(piece, "<unk>");
                else if (id == 1)
                        strcpy(piece, "\n<s>\n");
                else if (id == 2)
                        strcpy(piece, "\n</s>\n");
                else if (id < 259 && id - 3 >= 0x20 && id - 3 < 0x7F) {
                        piece[0] = (char)(id - 3);
                        piece[1] = '\0';
                } else if (id < 259) {
                        snprintf(piece, sizeof piece, "<0x%02X>", id - 3);
                } else {
                        /* merges: every string of 'width' letters in turn,
                           shorter and earlier ones scoring higher */
                        size_t v = next;

                        for (int i = width - 1; i >= 0; i--) {
                                piece[i] = ALPHABET[v % na];
                                v /= na;
                        }
                        piece[width] = '\0';
                        score = -(float)(id - 259);
                        if (++next == span) {
                                next = 0;
                                span *= na;
                                width++;
                        }
                }
                len = (int32_t)strlen(piece);
                ok = fwrite(&score, sizeof score, 1, f) == 1 &&
                     fwrite(&len, sizeof len, 1, f) == 1 &&
                     fwrite(piece, (size_t)len, 1, f) == 1;
        }
        ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
        if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) {
                int e = errno;

                unlink(tmp);
                return tl_fail(err, TL_EIO, "%s: write failed: %s", path,
                               strerror(e));
        }
        return TL_OK;
}
