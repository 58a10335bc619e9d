/* Matrix multiply kernels: y = W x over T positions, fp32 and int8.
**
** W is row-major (rows x cols), as llama2.c stores it. Decoding one token
** (T = 1) streams W once from memory, so the fp32 kernel takes four rows
** at a time against one x and keeps eight FMA chains in flight. Passes
** over many positions (prefill, every diffusion step) block W by rows so
** a block stays in cache while all positions run against it: W is read
** from memory once per pass, not once per position.
**
** AVX+FMA versions are chosen at run time; the portable ones give the same
** results up to summation order. The reference machine has AVX and FMA
** but not AVX2, so the int8 kernels use 128-bit integer instructions.
*/
#include "kernels.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define INF_X86 1
#else
#define INF_X86 0
#endif

#define ROW_BLOCK 32           /* rows of W kept hot across positions */
#define PAR_MIN_MACS (1 << 17) /* below this, threads cost more than help */

bool inf__simd(void)
{
#if INF_X86
        static int have = -1;

        if (have < 0) {
                __builtin_cpu_init();
                have = __builtin_cpu_supports("avx") &&
                       __builtin_cpu_supports("fma");
        }
        return have;
#else
        return false;
#endif
}

const char *inf_kernels(void)
{
        return inf__simd() ? "AVX+FMA" : "portable C";
}

/* ---- fp32, portable ---- */

static float dot_f32(const float *a, const float *b, int n)
{
        float acc[8] = {0};
        int j = 0;

        for (; j + 8 <= n; j += 8)
                for (int u = 0; u < 8; u++)
                        acc[u] += a[j + u] * b[j + u];
        for (; j < n; j++)
                acc[0] += a[j] * b[j];
        return ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
               ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

static void rows_f32(float *y, const float *x, const struct inf_mat *w, int T,
                     int r0, int r1)
{
        int n = w->cols, d = w->rows;

        for (int t = 0; t < T; t++)
                for (int i = r0; i < r1; i++)
                        y[(size_t)t * (size_t)d + (size_t)i] =
                            dot_f32(w->f + (size_t)i * (size_t)n,
                                    x + (size_t)t * (size_t)n, n);
}

#if INF_X86
#define AVX __attribute__((target("avx,fma")))

AVX static inline float hsum8(__m256 v)
{
        __m128 s =
            _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
}

/* y[i] for rows i..i+3 against one x: the T = 1 case. */
AVX static void rows4_avx(float *y, const float *x, const float *w, int n)
{
        const float *w0 = w, *w1 = w + n, *w2 = w + 2 * n, *w3 = w + 3 * n;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int j = 0;

        for (; j + 16 <= n; j += 16) {
                __m256 x0 = _mm256_loadu_ps(x + j);
                __m256 x1 = _mm256_loadu_ps(x + j + 8);

                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + j), x0, a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + j), x0, a1);
                a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + j), x0, a2);
                a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + j), x0, a3);
                b0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + j + 8), x1, b0);
                b1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + j + 8), x1, b1);
                b2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + j + 8), x1, b2);
                b3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + j + 8), x1, b3);
        }
        for (; j + 8 <= n; j += 8) {
                __m256 x0 = _mm256_loadu_ps(x + j);

                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + j), x0, a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + j), x0, a1);
                a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + j), x0, a2);
                a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + j), x0, a3);
        }
        y[0] = hsum8(_mm256_add_ps(a0, b0));
        y[1] = hsum8(_mm256_add_ps(a1, b1));
        y[2] = hsum8(_mm256_add_ps(a2, b2));
        y[3] = hsum8(_mm256_add_ps(a3, b3));
        for (; j < n; j++) {
                y[0] += w0[j] * x[j];
                y[1] += w1[j] * x[j];
                y[2] += w2[j] * x[j];
                y[3] += w3[j] * x[j];
        }
}

AVX static float dot_avx(const float *a, const float *b, int n)
{
        __m256 s0 = _mm256_setzero_ps(), s1 = s0;
        int j = 0;
        float r;

        for (; j + 16 <= n; j += 16) {
                s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j),
                                     _mm256_loadu_ps(b + j), s0);
                s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j + 8),
                                     _mm256_loadu_ps(b + j + 8), s1);
        }
        for (; j + 8 <= n; j += 8)
                s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j),
                                     _mm256_loadu_ps(b + j), s0);
        r = hsum8(_mm256_add_ps(s0, s1));
        for (; j < n; j++)
                r += a[j] * b[j];
        return r;
}

/* One row against four positions: W's row is loaded once for all four. */
AVX static void row_x4_avx(float *y, size_t ys, const float *w, const float *x,
                           size_t xs, int n)
{
        const float *x0 = x, *x1 = x + xs, *x2 = x + 2 * xs, *x3 = x + 3 * xs;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        int j = 0;
        float r0, r1, r2, r3;

        for (; j + 8 <= n; j += 8) {
                __m256 wv = _mm256_loadu_ps(w + j);

                a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x0 + j), a0);
                a1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x1 + j), a1);
                a2 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x2 + j), a2);
                a3 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x3 + j), a3);
        }
        r0 = hsum8(a0);
        r1 = hsum8(a1);
        r2 = hsum8(a2);
        r3 = hsum8(a3);
        for (; j < n; j++) {
                r0 += w[j] * x0[j];
                r1 += w[j] * x1[j];
                r2 += w[j] * x2[j];
                r3 += w[j] * x3[j];
        }
        y[0] = r0;
        y[ys] = r1;
        y[2 * ys] = r2;
        y[3 * ys] = r3;
}

/* Two rows against four positions: eight FMA chains, six loads per
   eight FMAs (one row against four needs five per four). */
AVX static void row2_x4_avx(float *y, size_t ys, const float *w, size_t n,
                            const float *x, size_t xs)
{
        const float *x0 = x, *x1 = x + xs, *x2 = x + 2 * xs, *x3 = x + 3 * xs;
        const float *w0 = w, *w1 = w + n;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        size_t j = 0;
        float r[8];

        for (; j + 8 <= n; j += 8) {
                __m256 v0 = _mm256_loadu_ps(w0 + j),
                       v1 = _mm256_loadu_ps(w1 + j);
                __m256 x0v = _mm256_loadu_ps(x0 + j),
                       x1v = _mm256_loadu_ps(x1 + j);
                __m256 x2v = _mm256_loadu_ps(x2 + j),
                       x3v = _mm256_loadu_ps(x3 + j);

                a0 = _mm256_fmadd_ps(v0, x0v, a0);
                a1 = _mm256_fmadd_ps(v0, x1v, a1);
                a2 = _mm256_fmadd_ps(v0, x2v, a2);
                a3 = _mm256_fmadd_ps(v0, x3v, a3);
                b0 = _mm256_fmadd_ps(v1, x0v, b0);
                b1 = _mm256_fmadd_ps(v1, x1v, b1);
                b2 = _mm256_fmadd_ps(v1, x2v, b2);
                b3 = _mm256_fmadd_ps(v1, x3v, b3);
        }
        r[0] = hsum8(a0);
        r[1] = hsum8(a1);
        r[2] = hsum8(a2);
        r[3] = hsum8(a3);
        r[4] = hsum8(b0);
        r[5] = hsum8(b1);
        r[6] = hsum8(b2);
        r[7] = hsum8(b3);
        for (; j < n; j++) {
                r[0] += w0[j] * x0[j];
                r[1] += w0[j] * x1[j];
                r[2] += w0[j] * x2[j];
                r[3] += w0[j] * x3[j];
                r[4] += w1[j] * x0[j];
                r[5] += w1[j] * x1[j];
                r[6] += w1[j] * x2[j];
                r[7] += w1[j] * x3[j];
        }
        for (size_t t = 0; t < 4; t++) {
                y[t * ys] = r[t];
                y[t * ys + 1] = r[4 + t];
        }
}

AVX static void rows_f32_avx(float *y, const float *x, const struct inf_mat *w,
                             int T, int r0, int r1)
{
        size_t n = (size_t)w->cols, d = (size_t)w->rows;

        if (T == 1) {
                int i = r0;

                for (; i + 4 <= r1; i += 4)
                        rows4_avx(y + i, x, w->f + (size_t)i * n, w->cols);
                for (; i < r1; i++)
                        y[i] = dot_avx(w->f + (size_t)i * n, x, w->cols);
                return;
        }
        for (int b = r0; b < r1; b += ROW_BLOCK) {
                int be = b + ROW_BLOCK < r1 ? b + ROW_BLOCK : r1;
                int t = 0;

                for (; t + 4 <= T; t += 4) {
                        int i = b;

                        for (; i + 2 <= be; i += 2)
                                row2_x4_avx(y + (size_t)t * d + (size_t)i, d,
                                            w->f + (size_t)i * n, n,
                                            x + (size_t)t * n, n);
                        for (; i < be; i++)
                                row_x4_avx(y + (size_t)t * d + (size_t)i, d,
                                           w->f + (size_t)i * n,
                                           x + (size_t)t * n, n, w->cols);
                }
                for (; t < T; t++)
                        for (int i = b; i < be; i++)
                                y[(size_t)t * d + (size_t)i] =
                                    dot_avx(w->f + (size_t)i * n,
                                            x + (size_t)t * n, w->cols);
        }
}
#endif

float inf__dot(const float *a, const float *b, int n)
{
#if INF_X86
        if (inf__simd())
                return dot_avx(a, b, n);
#endif
        return dot_f32(a, b, n);
}

/* ---- int8 ---- */

void inf__quantize(const float *x, int n, int group, int8_t *q, float *s)
{
        for (int g = 0; g < n / group; g++) {
                const float *xg = x + (size_t)g * (size_t)group;
                float wmax = 0.0f, scale;

                for (int i = 0; i < group; i++)
                        wmax = fmaxf(wmax, fabsf(xg[i]));
                scale = wmax / 127.0f;
                s[g] = scale;
                /* runq.c's rule exactly: round(x / scale), halves away
                   from zero; an all-zero group stays zero */
                for (int i = 0; i < group; i++)
                        q[(size_t)g * (size_t)group + (size_t)i] =
                            (int8_t)(scale > 0.0f ? roundf(xg[i] / scale)
                                                  : 0.0f);
        }
}

static float dot_q8(const int8_t *wq, const float *ws, const int8_t *xq,
                    const float *xs, int n, int group)
{
        float val = 0.0f;

        for (int g = 0; g < n / group; g++) {
                int32_t acc = 0;

                for (int k = 0; k < group; k++)
                        acc += (int32_t)wq[g * group + k] *
                               (int32_t)xq[g * group + k];
                val += (float)acc * ws[g] * xs[g];
        }
        return val;
}

#if INF_X86
/* 16 int8 products summed into four int32 lanes. The operands are in
   [-127, 127], so maddubs's int16 pairs (at most 2 * 127 * 127) never
   saturate. */
AVX static inline __m128i dot16(__m128i w, __m128i x)
{
        __m128i p = _mm_maddubs_epi16(_mm_abs_epi8(w), _mm_sign_epi8(x, w));

        return _mm_madd_epi16(p, _mm_set1_epi16(1));
}

AVX static float dot_q8_avx(const int8_t *wq, const float *ws, const int8_t *xq,
                            const float *xs, int n, int group)
{
        __m128 acc = _mm_setzero_ps();

        for (int g = 0; g < n / group; g++) {
                __m128i isum = _mm_setzero_si128();
                const int8_t *a = wq + (size_t)g * (size_t)group;
                const int8_t *b = xq + (size_t)g * (size_t)group;

                for (int k = 0; k < group; k += 16)
                        isum = _mm_add_epi32(
                            isum,
                            dot16(_mm_loadu_si128((const void *)(a + k)),
                                  _mm_loadu_si128((const void *)(b + k))));
                acc = _mm_add_ps(acc, _mm_mul_ps(_mm_cvtepi32_ps(isum),
                                                 _mm_set1_ps(ws[g] * xs[g])));
        }
        acc = _mm_add_ps(acc, _mm_movehl_ps(acc, acc));
        acc = _mm_add_ss(acc, _mm_movehdup_ps(acc));
        return _mm_cvtss_f32(acc);
}
#endif

static void rows_q8(float *y, const struct inf_act *x, const struct inf_mat *w,
                    int T, int group, int r0, int r1)
{
        size_t n = (size_t)w->cols, d = (size_t)w->rows;
        size_t ng = n / (size_t)group;
#if INF_X86
        bool simd = inf__simd() && group % 16 == 0;
#endif

        for (int b = r0; b < r1; b += ROW_BLOCK) {
                int be = b + ROW_BLOCK < r1 ? b + ROW_BLOCK : r1;

                for (int t = 0; t < T; t++) {
                        const int8_t *xq = x->q + (size_t)t * n;
                        const float *xs = x->s + (size_t)t * ng;

                        for (int i = b; i < be; i++) {
                                const int8_t *wq = w->q + (size_t)i * n;
                                const float *ws = w->s + (size_t)i * ng;
                                float v;
#if INF_X86
                                if (simd)
                                        v = dot_q8_avx(wq, ws, xq, xs, w->cols,
                                                       group);
                                else
#endif
                                        v = dot_q8(wq, ws, xq, xs, w->cols,
                                                   group);
                                y[(size_t)t * d + (size_t)i] = v;
                        }
                }
        }
}

static void rows_any(float *y, const struct inf_act *x, const struct inf_mat *w,
                     int T, int group, int r0, int r1)
{
        if (w->q) {
                rows_q8(y, x, w, T, group, r0, r1);
                return;
        }
#if INF_X86
        if (inf__simd()) {
                rows_f32_avx(y, x->f, w, T, r0, r1);
                return;
        }
#endif
        rows_f32(y, x->f, w, T, r0, r1);
}

uint64_t inf__matmul(float *y, const struct inf_act *x, const struct inf_mat *w,
                     int T, int group, int threads)
{
        uint64_t macs = (uint64_t)w->rows * (uint64_t)w->cols * (uint64_t)T;
        /* chunks of whole row blocks, several per thread for balance */
        int chunks = (w->rows + ROW_BLOCK - 1) / ROW_BLOCK;

        if (threads == 1 || macs < PAR_MIN_MACS || chunks < 2) {
                rows_any(y, x, w, T, group, 0, w->rows);
                return macs;
        }
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
        for (int c = 0; c < chunks; c++) {
                int r0 = c * ROW_BLOCK;
                int r1 = r0 + ROW_BLOCK < w->rows ? r0 + ROW_BLOCK : w->rows;

                rows_any(y, x, w, T, group, r0, r1);
        }
        return macs;
}
