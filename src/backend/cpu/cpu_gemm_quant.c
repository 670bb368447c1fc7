/*
 * cpu_gemm_quant.c — C = A @ W^T for block-quantized weights W (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K)
 * against int8-quantized activations, the way ggml's quantized matmul works: A's rows are
 * quantized once per call (to q8 blocks of 32 for Q8_0/Q4_0, to q8_K super-blocks of 256 for
 * the K-quants), every output is a sum of integer block dot products times the blocks' float
 * scales. Used by `linear` at LTX_PRECISION_BF16 (the opt-in low-precision CPU mode);
 * precision F32 keeps the exact dequantize-then-sgemm path (cpu_linalg.c).
 *
 * Activations (our q8 formats, not stored in files so free to differ from ggml's): per block of
 * 32 (Q8_0/Q4_0) or 256 (K-quants) d = amax / 127, q = round(x / d) in [-127, 127], d kept as
 * f32; block sums of q per 32 (Q8_0/Q4_0/Q4_K/Q5_K) or per 16 (Q6_K).
 * Per output (w = weight codes, x = activation codes, sums over the elements of a block):
 *   Q8_0  sum_b dw_b dx_b sum (w + 128) x  - 128 sum x          (w + 128 unsigned for VNNI)
 *   Q4_0  sum_b dw_b dx_b sum q x  - 8 sum x                    (q = nibble 0..15)
 *   Q4_K  sum_sb d dx sum_s sc_s sum q x  - sum_sb,s (dmin m_s) (dx sum_s x)
 *   Q5_K  the same with 5-bit q
 *   Q6_K  sum_sb d dx sum_g sc_g sum q x  - sum_sb,g (32 d sc_g) (dx sum_g x)  (q = 0..63)
 * Q8_0/Q4_0 fold the offset into the integer accumulator's start value (-16 sum x or -sum x in
 * each of the 8 lanes a block occupies); the K-quants' last term is a float dot product of
 * length K/32 (K/16) between a weight-side vector (built per task) and an activation-side
 * vector (built with the quantized activations), done apart from the integer kernel.
 * ISA levels (cpu_isa.h): avx512 tiles 4 activation rows x 4 weight rows in registers with
 * vpdpbusd (Q8_0/Q4_0: u8 x s8 -> s32) or vpmaddubsw + vpdpwssd (K-quants: the 6-bit / int8
 * scales multiply the 16-bit pair sums); avx2 tiles 2 x 4 with vpmaddubsw + vpmaddwd (Q8_0
 * with ggml's sign trick instead of the +128 offset); scalar is plain C over the same integers,
 * the reference the tests compare with. Integer
 * parts are exact on every path; only the order of the f32 scale-and-add steps differs
 * (docs/NUMERICS.md, "CPU bf16 and quantized kernels").
 * Blocking: tasks = (column block x row chunk) over the pool; inside, 64-row strips of the
 * quantized activations (<= ~0.5 MiB at K = 4096) stay in L2 while every 4-row group of W
 * streams past.
 * ref: ggml-cpu's ggml_vec_dot_q8_0_q8_0 / q4_0_q8_0 / q4_K_q8_K / q5_K_q8_K / q6_K_q8_K
 * (formulas only; layouts from src/core/quant.h).
 */
#include "backend/cpu/cpu_gemm.h"
#include "core/error.h"
#include "core/quant.h"

#include <immintrin.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c")))

#define TR 4  /* activation rows per tile */
#define TC 4  /* weight rows per tile */
#define MS 64 /* activation rows per L2 strip */

static inline float h2f(uint16_t h)
{
    return ltx_f16_to_f32(h);
}

/* ---- activation quantization ---------------------------------------------------------------- */

/* Quantizes n values (a block) to codes q; returns d (amax / 127) and the code sum in *sum. */
static float quant_block(const float *x, int n, int8_t *q)
{
    float amax = 0.0f;
    for (int i = 0; i < n; i++)
        amax = fmaxf(amax, fabsf(x[i]));
    float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int i = 0; i < n; i++) {
        float r = roundf(x[i] * id);
        q[i] = (int8_t)(r > 127.0f ? 127 : r < -127.0f ? -127 : r); /* NaN -> -127 */
    }
    return d;
}

/* quant_block for n = 32, plus the code sum. */
static float quant_block32_scalar(const float *x, int8_t *q, int32_t *sum)
{
    float d = quant_block(x, 32, q);
    int32_t s = 0;
    for (int i = 0; i < 32; i++)
        s += q[i];
    *sum = s;
    return d;
}

/* quant_block for n = 32 with AVX-512, bit for bit: the same amax, d, 1 / d and products, and
 * roundf (half away from zero) as trunc plus one step where |v - trunc(v)| >= 0.5 (exact in
 * f32 at these magnitudes). Blocks holding a NaN or infinity take quant_block. Returns d; the
 * code sum in *sum. */
TARGET_AVX512 static float quant_block32_avx512(const float *x, int8_t *q, int32_t *sum)
{
    __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const __m512 inf = _mm512_set1_ps(__builtin_inff());
    __m512 a0 = _mm512_abs_ps(v0), a1 = _mm512_abs_ps(v1);
    if (_mm512_cmp_ps_mask(a0, inf, _CMP_NLT_UQ) | _mm512_cmp_ps_mask(a1, inf, _CMP_NLT_UQ))
        return quant_block32_scalar(x, q, sum);
    float amax = _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
    float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m512 vid = _mm512_set1_ps(id), half = _mm512_set1_ps(0.5f),
                 lim = _mm512_set1_ps(127.0f);
    __m512i c[2];
    __m512 v[2] = {v0, v1};
    for (int h = 0; h < 2; h++) {
        __m512 p = _mm512_mul_ps(v[h], vid);
        __m512 t = _mm512_roundscale_ps(p, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(p, t)), half, _CMP_GE_OQ);
        __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f),
                                  _mm512_and_ps(p, _mm512_set1_ps(-0.0f))); /* +-1 as p */
        t = _mm512_mask_add_ps(t, up, t, one);
        t = _mm512_min_ps(_mm512_max_ps(t, _mm512_sub_ps(_mm512_setzero_ps(), lim)), lim);
        c[h] = _mm512_cvttps_epi32(t);
    }
    _mm_storeu_si128((__m128i *)q, _mm512_cvtepi32_epi8(c[0]));
    _mm_storeu_si128((__m128i *)(q + 16), _mm512_cvtepi32_epi8(c[1]));
    *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(c[0], c[1]));
    return d;
}

/* Block 32 of row x into codes q: d and code sum, on the best level this CPU has. */
static float quant_block32(const float *x, int8_t *q, int32_t *sum, bool avx512)
{
    return avx512 ? quant_block32_avx512(x, q, sum) : quant_block32_scalar(x, q, sum);
}

static void quant_rows(void *ctx, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    cpu_qact *a = ctx;
    int64_t K = a->K, nsub = K / a->group;
    bool avx512 = ltx_cpu_isa_active() == CPU_ISA_AVX512;
    for (int64_t m = begin; m < end; m++) {
        const float *x = a->src + m * a->lda;
        int8_t *q = a->qs + m * K;
        if (a->block == 32) { /* Q8_0 / Q4_0: per block d and start values, in lane form and
                               * per block */
            float *dv = a->dvec ? a->dvec + m * (K / 4) : NULL, *bd = a->bd + m * (K / 32);
            int32_t *iv = a->init ? a->init + m * (K / 4) : NULL, *bi = a->binit + m * (K / 32);
            bool lanes = a->dvec != NULL;
            for (int64_t b = 0; b < K / 32; b++) {
                int32_t s;
                float d = quant_block32(x + 32 * b, q + 32 * b, &s, avx512);
                for (int l = 0; l < 8 && lanes; l++)
                    dv[8 * b + l] = d, iv[8 * b + l] = a->init_mul * s;
                bd[b] = d, bi[b] = 8 * a->init_mul * s, a->bdsx[m * (K / 32) + b] = d * (float)s;
            }
        } else { /* K-quants: d per 256, group sums times d for the correction term */
            float *xs = a->xs + m * nsub;
            for (int64_t sb = 0; sb < K / 256; sb++) {
                float d = quant_block(x + 256 * sb, 256, q + 256 * sb);
                a->dsb[m * (K / 256) + sb] = d;
                int per = 256 / a->group;
                for (int g = 0; g < per; g++) {
                    int32_t s = 0;
                    for (int i = 0; i < a->group; i++)
                        s += q[256 * sb + a->group * g + i];
                    xs[sb * per + g] = d * (float)s;
                }
            }
        }
    }
}

/* ---- scalar kernels (the reference) --------------------------------------------------------- */

static const uint8_t *wrow(const cpu_qgemm *g, int64_t n)
{
    return (const uint8_t *)g->W + n * g->wrb;
}

/* Q4_K / Q5_K code e (0..255) of a super-block (5-bit: qh adds bit 4). */
static inline int q45k_code(const uint8_t *qs, const uint8_t *qh, int e)
{
    int j = e / 64, l = e % 64, byte = qs[32 * j + (l % 32)];
    int q = l < 32 ? byte & 0xF : byte >> 4;
    if (qh) q |= ((qh[l % 32] >> (2 * j + (l >= 32))) & 1) << 4;
    return q;
}

static inline int q6k_code(const ltx_block_q6_K *b, int e)
{
    int c = e / 128, g = (e / 32) % 4, l = e % 32;
    uint8_t qlb = b->ql[64 * c + 32 * (g & 1) + l];
    int lo = g < 2 ? qlb & 0xF : qlb >> 4;
    return lo | (((b->qh[32 * c + l] >> (2 * g)) & 3) << 4);
}

/* Main (integer-scaled) part of one output: row m of the activations, weight row n. */
static float dot_scalar(const cpu_qgemm *g, int64_t m, int64_t n)
{
    const cpu_qact *a = g->act;
    const int8_t *x = a->qs + m * a->K;
    const uint8_t *w = wrow(g, n);
    float acc = 0.0f;
    switch (g->wt) {
    case LTX_Q8_0:
    case LTX_Q4_0:
        for (int64_t b = 0; b < a->K / 32; b++) {
            int32_t s = a->init[m * (a->K / 4) + 8 * b] * 8;
            if (g->wt == LTX_Q8_0) {
                const ltx_block_q8_0 *blk = (const ltx_block_q8_0 *)w + b;
                for (int i = 0; i < 32; i++)
                    s += (blk->qs[i] + 128) * x[32 * b + i];
                acc += (float)s * (h2f(blk->d) * a->dvec[m * (a->K / 4) + 8 * b]);
            } else {
                const ltx_block_q4_0 *blk = (const ltx_block_q4_0 *)w + b;
                for (int i = 0; i < 16; i++)
                    s +=
                        (blk->qs[i] & 0xF) * x[32 * b + i] + (blk->qs[i] >> 4) * x[32 * b + 16 + i];
                acc += (float)s * (h2f(blk->d) * a->dvec[m * (a->K / 4) + 8 * b]);
            }
        }
        return acc;
    default:
        break;
    }
    for (int64_t sb = 0; sb < a->K / 256; sb++) {
        const int8_t *xs = x + 256 * sb;
        int32_t s = 0;
        float d;
        if (g->wt == LTX_Q6_K) {
            const ltx_block_q6_K *blk = (const ltx_block_q6_K *)w + sb;
            for (int gi = 0; gi < 16; gi++) {
                int32_t t = 0;
                for (int i = 16 * gi; i < 16 * gi + 16; i++)
                    t += q6k_code(blk, i) * xs[i];
                s += blk->scales[gi] * t;
            }
            d = h2f(blk->d);
        } else {
            const uint8_t *qs, *qh = NULL, *scales;
            uint16_t dh;
            if (g->wt == LTX_Q4_K) {
                const ltx_block_q4_K *blk = (const ltx_block_q4_K *)w + sb;
                qs = blk->qs, scales = blk->scales, dh = blk->d;
            } else {
                const ltx_block_q5_K *blk = (const ltx_block_q5_K *)w + sb;
                qs = blk->qs, qh = blk->qh, scales = blk->scales, dh = blk->d;
            }
            for (int sub = 0; sub < 8; sub++) {
                uint8_t sc, mn;
                ltx_q4k_scale_min(sub, scales, &sc, &mn);
                int32_t t = 0;
                for (int i = 32 * sub; i < 32 * sub + 32; i++)
                    t += q45k_code(qs, qh, i) * xs[i];
                s += sc * t;
            }
            d = h2f(dh);
        }
        acc += (float)s * (d * a->dsb[m * (a->K / 256) + sb]);
    }
    return acc;
}

static void tile_scalar(const cpu_qgemm *g, int64_t m0, int nr, int64_t n0, int nc,
                        float out[TR][TC])
{
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < nc; c++)
            out[r][c] = dot_scalar(g, m0 + r, n0 + c);
}

/* ---- AVX2 kernels (256-bit, no VNNI) -------------------------------------------------------- */

#define TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))

TARGET_AVX2 static inline float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Q8_0 / Q4_0, one block (32 elements) per step, 2 rows x 4 weight rows in registers.
 * Q8_0: vpmaddubsw(|w|, sign(x, w)) (ggml's sign trick: no saturation, no offset); Q4_0:
 * vpmaddubsw(q, x) plus the -8 sum x start value; vpmaddwd by ones gives 8 int32 lanes. */
TARGET_AVX2 static void tile_q32_avx2(const cpu_qgemm *g, int64_t m0, int nr, int64_t n0, int nc,
                                      float out[TR][TC])
{
    const cpu_qact *a = g->act;
    int64_t K = a->K, nb = K / 32;
    const uint8_t *w[TC];
    for (int c = 0; c < TC; c++)
        w[c] = wrow(g, n0 + (c < nc ? c : nc - 1));
    const __m256i ones = _mm256_set1_epi16(1), low4 = _mm256_set1_epi8(0x0F);
    for (int r0 = 0; r0 < TR; r0 += 2) {
        const int8_t *x[2];
        const float *dx[2];
        const int32_t *ix[2];
        for (int r = 0; r < 2; r++) {
            int64_t m = m0 + (r0 + r < nr ? r0 + r : nr - 1);
            x[r] = a->qs + m * K, dx[r] = a->dvec + m * (K / 4), ix[r] = a->init + m * (K / 4);
        }
        __m256 acc[2][TC];
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < TC; c++)
                acc[r][c] = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; b++) {
            __m256i wv[TC];
            float dw[TC];
            for (int c = 0; c < TC; c++) {
                if (g->wt == LTX_Q8_0) {
                    const ltx_block_q8_0 *blk = (const ltx_block_q8_0 *)w[c] + b;
                    wv[c] = _mm256_loadu_si256((const __m256i *)blk->qs);
                    dw[c] = _cvtsh_ss(blk->d);
                } else {
                    const ltx_block_q4_0 *blk = (const ltx_block_q4_0 *)w[c] + b;
                    __m128i v = _mm_loadu_si128((const __m128i *)blk->qs);
                    wv[c] = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v),
                                             low4); /* lo | hi */
                    dw[c] = _cvtsh_ss(blk->d);
                }
            }
            for (int r = 0; r < 2; r++) {
                __m256i xv = _mm256_loadu_si256((const __m256i *)(x[r] + 32 * b));
                __m256i iv = _mm256_loadu_si256((const __m256i *)(ix[r] + 8 * b));
                for (int c = 0; c < TC; c++) {
                    __m256i p;
                    if (g->wt == LTX_Q8_0)
                        p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(wv[c], wv[c]),
                                                                   _mm256_sign_epi8(xv, wv[c])),
                                              ones);
                    else
                        p = _mm256_add_epi32(
                            _mm256_madd_epi16(_mm256_maddubs_epi16(wv[c], xv), ones), iv);
                    acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p),
                                                _mm256_set1_ps(dw[c] * dx[r][8 * b]), acc[r][c]);
                }
            }
        }
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < TC; c++)
                out[r0 + r][c] = hsum256(acc[r][c]);
    }
}

/* K-quants, 32 elements (one Q4_K/Q5_K sub-block, two Q6_K groups) per step, 2 x 4 tiles:
 * vpmaddubsw(codes, x) then vpmaddwd by the 16-bit scales into int32 lanes per super-block. */
TARGET_AVX2 static void tile_qk_avx2(const cpu_qgemm *g, int64_t m0, int nr, int64_t n0, int nc,
                                     float out[TR][TC])
{
    const cpu_qact *a = g->act;
    int64_t K = a->K, nsb = K / 256;
    const uint8_t *w[TC];
    for (int c = 0; c < TC; c++)
        w[c] = wrow(g, n0 + (c < nc ? c : nc - 1));
    const __m256i low4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3),
                  one = _mm256_set1_epi8(1);
    for (int r0 = 0; r0 < TR; r0 += 2) {
        const int8_t *x[2];
        const float *dx[2];
        for (int r = 0; r < 2; r++) {
            int64_t m = m0 + (r0 + r < nr ? r0 + r : nr - 1);
            x[r] = a->qs + m * K, dx[r] = a->dsb + m * nsb;
        }
        __m256 acc[2][TC];
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < TC; c++)
                acc[r][c] = _mm256_setzero_ps();
        for (int64_t sb = 0; sb < nsb; sb++) {
            __m256i acci[2][TC];
            for (int r = 0; r < 2; r++)
                for (int c = 0; c < TC; c++)
                    acci[r][c] = _mm256_setzero_si256();
            float dw[TC];
            int16_t sc[TC][16];
            for (int c = 0; c < TC; c++) {
                if (g->wt == LTX_Q6_K) {
                    const ltx_block_q6_K *blk = (const ltx_block_q6_K *)w[c] + sb;
                    for (int i = 0; i < 16; i++)
                        sc[c][i] = blk->scales[i];
                    dw[c] = _cvtsh_ss(blk->d);
                } else {
                    const uint8_t *scales = g->wt == LTX_Q4_K
                                                ? ((const ltx_block_q4_K *)w[c] + sb)->scales
                                                : ((const ltx_block_q5_K *)w[c] + sb)->scales;
                    for (int i = 0; i < 8; i++) {
                        uint8_t s8, mn;
                        ltx_q4k_scale_min(i, scales, &s8, &mn);
                        sc[c][i] = s8;
                    }
                    dw[c] = _cvtsh_ss(g->wt == LTX_Q4_K ? ((const ltx_block_q4_K *)w[c] + sb)->d
                                                        : ((const ltx_block_q5_K *)w[c] + sb)->d);
                }
            }
            for (int s = 0; s < 8; s++) { /* 32 elements: sub-block s (Q6_K: groups 2s, 2s+1) */
                __m256i wv[TC], scv[TC];
                int j = s / 2, hi = s & 1;
                for (int c = 0; c < TC; c++) {
                    if (g->wt == LTX_Q6_K) {
                        const ltx_block_q6_K *blk = (const ltx_block_q6_K *)w[c] + sb;
                        int half = s / 4, gq = s % 4; /* group of 32 in the 128-element half */
                        __m256i L = _mm256_loadu_si256(
                            (const __m256i *)(blk->ql + 64 * half + 32 * (gq & 1)));
                        __m256i H = _mm256_loadu_si256((const __m256i *)(blk->qh + 32 * half));
                        __m256i lo = gq < 2 ? _mm256_and_si256(L, low4)
                                            : _mm256_and_si256(_mm256_srli_epi16(L, 4), low4);
                        __m256i hb =
                            _mm256_and_si256(_mm256_srl_epi16(H, _mm_cvtsi32_si128(2 * gq)), m3);
                        wv[c] = _mm256_or_si256(lo, _mm256_slli_epi16(hb, 4));
                        scv[c] = _mm256_set_m128i(_mm_set1_epi16(sc[c][2 * s + 1]),
                                                  _mm_set1_epi16(sc[c][2 * s]));
                    } else {
                        const uint8_t *qs, *qh = NULL;
                        if (g->wt == LTX_Q4_K) {
                            qs = ((const ltx_block_q4_K *)w[c] + sb)->qs;
                        } else {
                            const ltx_block_q5_K *blk = (const ltx_block_q5_K *)w[c] + sb;
                            qs = blk->qs, qh = blk->qh;
                        }
                        __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
                        __m256i q = hi ? _mm256_and_si256(_mm256_srli_epi16(v, 4), low4)
                                       : _mm256_and_si256(v, low4);
                        if (qh) {
                            __m256i h = _mm256_loadu_si256((const __m256i *)qh);
                            __m256i bit = _mm256_and_si256(
                                _mm256_srl_epi16(h, _mm_cvtsi32_si128(2 * j + hi)), one);
                            q = _mm256_or_si256(q, _mm256_slli_epi16(bit, 4));
                        }
                        wv[c] = q;
                        scv[c] = _mm256_set1_epi16(sc[c][s]);
                    }
                }
                for (int r = 0; r < 2; r++) {
                    __m256i xv = _mm256_loadu_si256((const __m256i *)(x[r] + 256 * sb + 32 * s));
                    for (int c = 0; c < TC; c++)
                        acci[r][c] = _mm256_add_epi32(
                            acci[r][c], _mm256_madd_epi16(_mm256_maddubs_epi16(wv[c], xv), scv[c]));
                }
            }
            for (int r = 0; r < 2; r++)
                for (int c = 0; c < TC; c++)
                    acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acci[r][c]),
                                                _mm256_set1_ps(dw[c] * dx[r][sb]), acc[r][c]);
        }
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < TC; c++)
                out[r0 + r][c] = hsum256(acc[r][c]);
    }
}

/* ---- AVX-512 VNNI kernels ------------------------------------------------------------------- */

TARGET_AVX512 static inline float hsum512(__m512 v)
{
    return _mm512_reduce_add_ps(v);
}

/* Q8_0 / Q4_0: per 64 elements (two blocks), per weight row: unsigned codes (w + 128, or the
 * nibbles in element order) and the two blocks' scales in lanes 0-7 / 8-15. */
TARGET_AVX512 static void tile_q32_avx512(const cpu_qgemm *g, int64_t m0, int nr, int64_t n0,
                                          int nc, float out[TR][TC])
{
    const cpu_qact *a = g->act;
    int64_t K = a->K, nb = K / 32;
    const int8_t *x[TR];
    const float *dx[TR];
    const int32_t *ix[TR];
    const uint8_t *w[TC];
    for (int r = 0; r < TR; r++) {
        int64_t m = m0 + (r < nr ? r : nr - 1);
        x[r] = a->qs + m * K, dx[r] = a->dvec + m * (K / 4), ix[r] = a->init + m * (K / 4);
    }
    for (int c = 0; c < TC; c++)
        w[c] = wrow(g, n0 + (c < nc ? c : nc - 1));
    __m512 acc[TR][TC];
    for (int r = 0; r < TR; r++)
        for (int c = 0; c < TC; c++)
            acc[r][c] = _mm512_setzero_ps();
    const __m512i flip = _mm512_set1_epi8((char)0x80), low4 = _mm512_set1_epi8(0x0F);
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        __m512i wz[TC];
        __m512 dw[TC];
        for (int c = 0; c < TC; c++) {
            float d0, d1;
            if (g->wt == LTX_Q8_0) {
                const ltx_block_q8_0 *blk = (const ltx_block_q8_0 *)w[c] + b;
                __m256i q0 = _mm256_loadu_si256((const __m256i *)blk[0].qs);
                __m256i q1 = _mm256_loadu_si256((const __m256i *)blk[1].qs);
                wz[c] =
                    _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1), flip);
                d0 = _cvtsh_ss(blk[0].d), d1 = _cvtsh_ss(blk[1].d);
            } else {
                const ltx_block_q4_0 *blk = (const ltx_block_q4_0 *)w[c] + b;
                __m128i q0 = _mm_loadu_si128((const __m128i *)blk[0].qs);
                __m128i q1 = _mm_loadu_si128((const __m128i *)blk[1].qs);
                /* [q0 q0 q1 q1] shifted by (0, 4, 0, 4) per 128-bit lane: lo0 hi0 lo1 hi1 */
                __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(q0, q0)),
                                               _mm256_set_m128i(q1, q1), 1);
                z = _mm512_srlv_epi64(z, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0));
                wz[c] = _mm512_and_si512(z, low4);
                d0 = _cvtsh_ss(blk[0].d), d1 = _cvtsh_ss(blk[1].d);
            }
            dw[c] = _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(d0), _mm512_set1_ps(d1));
        }
        for (int r = 0; r < TR; r++) {
            __m512i xv = _mm512_loadu_si512(x[r] + 32 * b);
            __m512i iv = _mm512_loadu_si512(ix[r] + 8 * b);
            __m512 dv = _mm512_loadu_ps(dx[r] + 8 * b);
            for (int c = 0; c < TC; c++) {
                __m512i s = _mm512_dpbusd_epi32(iv, wz[c], xv);
                acc[r][c] =
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw[c], dv), acc[r][c]);
            }
        }
    }
    for (int r = 0; r < TR; r++)
        for (int c = 0; c < TC; c++)
            out[r][c] = hsum512(acc[r][c]);
    if (b < nb) { /* odd block count: the last block in plain C */
        for (int r = 0; r < nr; r++)
            for (int c = 0; c < nc; c++) {
                const int8_t *xb = x[r] + 32 * b;
                int32_t s = ix[r][8 * b] * 8;
                float dwv;
                if (g->wt == LTX_Q8_0) {
                    const ltx_block_q8_0 *blk = (const ltx_block_q8_0 *)w[c] + b;
                    for (int i = 0; i < 32; i++)
                        s += (blk->qs[i] + 128) * xb[i];
                    dwv = h2f(blk->d);
                } else {
                    const ltx_block_q4_0 *blk = (const ltx_block_q4_0 *)w[c] + b;
                    for (int i = 0; i < 16; i++)
                        s += (blk->qs[i] & 0xF) * xb[i] + (blk->qs[i] >> 4) * xb[16 + i];
                    dwv = h2f(blk->d);
                }
                out[r][c] += (float)s * (dwv * dx[r][8 * b]);
            }
    }
}

/* K-quants: unsigned codes of 64 elements (chunk j of a super-block) in element order, and the
 * 16-bit scales of the vpmaddubsw pair sums they belong to. */
TARGET_AVX512 static inline __m512i q45k_chunk(const uint8_t *qs, const uint8_t *qh, int j)
{
    __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
    __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    if (qh) {
        __m256i h = _mm256_loadu_si256((const __m256i *)qh), one = _mm256_set1_epi8(1);
        __m256i b0 = _mm256_and_si256(_mm256_srl_epi16(h, _mm_cvtsi32_si128(2 * j)), one);
        __m256i b1 = _mm256_and_si256(_mm256_srl_epi16(h, _mm_cvtsi32_si128(2 * j + 1)), one);
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(b0, 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(b1, 4));
    }
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

TARGET_AVX512 static inline __m512i q6k_chunk(const ltx_block_q6_K *b, int j)
{
    int half = j / 2, upper = j & 1;
    __m512i L = _mm512_loadu_si512(b->ql + 64 * half);
    __m256i H = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * half));
    __m512i HH = _mm512_inserti64x4(_mm512_castsi256_si512(H), H, 1);
    __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(3);
    __m512i lo = upper ? _mm512_and_si512(_mm512_srli_epi16(L, 4), m4) : _mm512_and_si512(L, m4);
    /* high bits: qh >> (2g) for the 4 groups g of 32 in the 128-element half */
    __m512i sh =
        upper ? _mm512_set_epi64(6, 6, 6, 6, 4, 4, 4, 4) : _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0);
    __m512i hb = _mm512_and_si512(_mm512_srlv_epi64(HH, sh), m3);
    return _mm512_or_si512(lo, _mm512_slli_epi16(hb, 4));
}

TARGET_AVX512 static void tile_qk_avx512(const cpu_qgemm *g, int64_t m0, int nr, int64_t n0, int nc,
                                         float out[TR][TC])
{
    const cpu_qact *a = g->act;
    int64_t K = a->K, nsb = K / 256;
    const int8_t *x[TR];
    const float *dx[TR];
    const uint8_t *w[TC];
    for (int r = 0; r < TR; r++) {
        int64_t m = m0 + (r < nr ? r : nr - 1);
        x[r] = a->qs + m * K, dx[r] = a->dsb + m * nsb;
    }
    for (int c = 0; c < TC; c++)
        w[c] = wrow(g, n0 + (c < nc ? c : nc - 1));
    __m512 accf[TR][TC];
    for (int r = 0; r < TR; r++)
        for (int c = 0; c < TC; c++)
            accf[r][c] = _mm512_setzero_ps();
    /* Q6_K: int16 lane i of chunk j belongs to group 4j + i / 8 */
    const __m512i gidx = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1,
                                          1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    for (int64_t sb = 0; sb < nsb; sb++) {
        __m512i acci[TR][TC];
        for (int r = 0; r < TR; r++)
            for (int c = 0; c < TC; c++)
                acci[r][c] = _mm512_setzero_si512();
        float dw[TC];
        int16_t sc[TC][16];
        for (int c = 0; c < TC; c++) {
            if (g->wt == LTX_Q6_K) {
                const ltx_block_q6_K *blk = (const ltx_block_q6_K *)w[c] + sb;
                for (int i = 0; i < 16; i++)
                    sc[c][i] = blk->scales[i];
                dw[c] = _cvtsh_ss(blk->d);
            } else {
                const uint8_t *scales = g->wt == LTX_Q4_K
                                            ? ((const ltx_block_q4_K *)w[c] + sb)->scales
                                            : ((const ltx_block_q5_K *)w[c] + sb)->scales;
                for (int i = 0; i < 8; i++) {
                    uint8_t s, mn;
                    ltx_q4k_scale_min(i, scales, &s, &mn);
                    sc[c][i] = s;
                }
                dw[c] = _cvtsh_ss(g->wt == LTX_Q4_K ? ((const ltx_block_q4_K *)w[c] + sb)->d
                                                    : ((const ltx_block_q5_K *)w[c] + sb)->d);
            }
        }
        for (int j = 0; j < 4; j++) {
            __m512i wz[TC], scv[TC];
            for (int c = 0; c < TC; c++) {
                if (g->wt == LTX_Q6_K) {
                    const ltx_block_q6_K *blk = (const ltx_block_q6_K *)w[c] + sb;
                    wz[c] = q6k_chunk(blk, j);
                    __m512i s16 = _mm512_castsi256_si512(
                        _mm256_loadu_si256((const __m256i *)sc[c])); /* 16 scales */
                    scv[c] = _mm512_permutexvar_epi16(
                        _mm512_add_epi16(gidx, _mm512_set1_epi16((short)(4 * j))), s16);
                } else {
                    const uint8_t *qs, *qh = NULL;
                    if (g->wt == LTX_Q4_K) {
                        qs = ((const ltx_block_q4_K *)w[c] + sb)->qs;
                    } else {
                        const ltx_block_q5_K *blk = (const ltx_block_q5_K *)w[c] + sb;
                        qs = blk->qs, qh = blk->qh;
                    }
                    wz[c] = q45k_chunk(qs, qh, j);
                    scv[c] = _mm512_mask_blend_epi16(0xFFFF0000u, _mm512_set1_epi16(sc[c][2 * j]),
                                                     _mm512_set1_epi16(sc[c][2 * j + 1]));
                }
            }
            for (int r = 0; r < TR; r++) {
                __m512i xv = _mm512_loadu_si512(x[r] + 256 * sb + 64 * j);
                for (int c = 0; c < TC; c++)
                    acci[r][c] =
                        _mm512_dpwssd_epi32(acci[r][c], _mm512_maddubs_epi16(wz[c], xv), scv[c]);
            }
        }
        for (int r = 0; r < TR; r++)
            for (int c = 0; c < TC; c++)
                accf[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acci[r][c]),
                                             _mm512_set1_ps(dw[c] * dx[r][sb]), accf[r][c]);
    }
    for (int r = 0; r < TR; r++)
        for (int c = 0; c < TC; c++)
            out[r][c] = hsum512(accf[r][c]);
}

/* ---- weight-side correction vectors (K-quants) and the driver ------------------------------- */

/* wm (K / group floats) for weight row n: Q4_K/Q5_K dmin * m_s, Q6_K 32 * d * sc_g. */
static void weight_corr(const cpu_qgemm *g, int64_t n, float *wm)
{
    const uint8_t *w = wrow(g, n);
    for (int64_t sb = 0; sb < g->act->K / 256; sb++) {
        if (g->wt == LTX_Q6_K) {
            const ltx_block_q6_K *blk = (const ltx_block_q6_K *)w + sb;
            float d = h2f(blk->d);
            for (int i = 0; i < 16; i++)
                wm[16 * sb + i] = 32.0f * d * (float)blk->scales[i];
        } else {
            const uint8_t *scales = g->wt == LTX_Q4_K ? ((const ltx_block_q4_K *)w + sb)->scales
                                                      : ((const ltx_block_q5_K *)w + sb)->scales;
            uint16_t dm = g->wt == LTX_Q4_K ? ((const ltx_block_q4_K *)w + sb)->dmin
                                            : ((const ltx_block_q5_K *)w + sb)->dmin;
            for (int i = 0; i < 8; i++) {
                uint8_t s, mn;
                ltx_q4k_scale_min(i, scales, &s, &mn);
                wm[8 * sb + i] = h2f(dm) * (float)mn;
            }
        }
    }
}

/* sum a[i] * b[i] in 16 interleaved f32 partial sums (vectorisable without reassociation
 * flags), then added in index order. */
static float dot16(const float *a, const float *b, int64_t n)
{
    float p[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++)
            p[l] += a[i + l] * b[i + l];
    for (; i < n; i++)
        p[i % 16] += a[i] * b[i];
    float s = 0.0f;
    for (int l = 0; l < 16; l++)
        s += p[l];
    return s;
}

typedef void (*qtile_fn)(const cpu_qgemm *g, int64_t m0, int nr, int64_t n0, int nc,
                         float out[TR][TC]);

typedef struct qjob {
    const cpu_qgemm *g;
    qtile_fn tile;
    int64_t nc, mc, n_nblk, n_tasks;
    float *wm; /* per worker: nc * K / group */
    atomic_llong next;
} qjob;

static void q_tasks(void *ctx, int64_t begin, int64_t end, int worker)
{
    (void)begin;
    (void)end;
    qjob *j = ctx;
    const cpu_qgemm *g = j->g;
    const cpu_qact *a = g->act;
    int64_t nsub = a->block == 256 ? a->K / a->group : 0;
    float *wm = j->wm ? j->wm + (size_t)worker * (size_t)(j->nc * nsub) : NULL;
    for (;;) {
        int64_t t = atomic_fetch_add(&j->next, 1);
        if (t >= j->n_tasks) break;
        int64_t n0 = (t % j->n_nblk) * j->nc, n1 = n0 + j->nc < g->N ? n0 + j->nc : g->N;
        int64_t m0 = (t / j->n_nblk) * j->mc, m1 = m0 + j->mc < g->M ? m0 + j->mc : g->M;
        if (wm)
            for (int64_t n = n0; n < n1; n++)
                weight_corr(g, n, wm + (n - n0) * nsub);
        for (int64_t ms = m0; ms < m1; ms += MS) {
            int64_t me = ms + MS < m1 ? ms + MS : m1;
            for (int64_t n = n0; n < n1; n += TC) {
                int nc = n1 - n < TC ? (int)(n1 - n) : TC;
                for (int64_t m = ms; m < me; m += TR) {
                    int nr = me - m < TR ? (int)(me - m) : TR;
                    float out[TR][TC];
                    j->tile(g, m, nr, n, nc, out);
                    for (int r = 0; r < nr; r++)
                        for (int c = 0; c < nc; c++) {
                            float v = out[r][c];
                            if (wm)
                                v -= dot16(a->xs + (m + r) * nsub, wm + (n + c - n0) * nsub, nsub);
                            float *cp = g->C + (m + r) * g->ldc + n + c;
                            *cp = g->accumulate ? *cp + g->scale * v
                                  : g->bias     ? g->bias[n + c] + g->scale * v
                                                : g->scale * v;
                        }
                }
            }
        }
    }
}

/* LTX_CPU_INT8_MAX_ROWS: rows up to which every supported type takes the int8 kernels
 * (default INT8_TILE_MAX_ROWS = 64; 0: never, e.g. to measure the bf16 route). */
static int64_t int8_max_rows(void)
{
    const char *e = getenv("LTX_CPU_INT8_MAX_ROWS");
    return e && *e ? strtoll(e, NULL, 10) : INT8_TILE_MAX_ROWS;
}

bool ltx_cpu_gemm_quant_route(ltx_dtype wt, int64_t M, int64_t K)
{
    if (!ltx_cpu_gemm_quant_supports(wt, K)) return false;
    int64_t lim = int8_max_rows();
    if (lim <= 0) return false;
    if (M <= lim) return true;
    return ltx_cpu_gemm_int8_panel_type(wt) && ltx_cpu_isa_active() == CPU_ISA_AVX512;
}

bool ltx_cpu_gemm_quant_supports(ltx_dtype wt, int64_t K)
{
    switch (wt) {
    case LTX_Q8_0:
    case LTX_Q4_0:
        return K % 32 == 0;
    case LTX_Q4_K:
    case LTX_Q5_K:
    case LTX_Q6_K:
        return K % 256 == 0;
    default:
        return false;
    }
}

void ltx_cpu_qact_free(cpu_qact *a)
{
    if (!a) return;
    free(a->qs), free(a->dvec), free(a->init), free(a->bd), free(a->binit), free(a->bdsx),
        free(a->dsb), free(a->xs);
    memset(a, 0, sizeof *a);
}

static ltx_status qact_quantize(ltx_threadpool *pool, ltx_dtype wt, int64_t M, int64_t K,
                                const float *A, int64_t lda, bool lanes, cpu_qact *a)
{
    memset(a, 0, sizeof *a);
    a->M = M, a->K = K, a->src = A, a->lda = lda;
    bool k = wt == LTX_Q4_K || wt == LTX_Q5_K || wt == LTX_Q6_K;
    a->block = k ? 256 : 32;
    a->group = wt == LTX_Q6_K ? 16 : 32;
    a->init_mul = wt == LTX_Q8_0 ? -16 : -1;
    a->qs = aligned_alloc(64, ((size_t)(M * K) + 63) / 64 * 64);
    bool ok = a->qs != NULL;
    if (k) {
        a->dsb = malloc(sizeof(float) * (size_t)(M * (K / 256)) + 4);
        a->xs = malloc(sizeof(float) * (size_t)(M * (K / a->group)) + 4);
        ok = ok && a->dsb && a->xs;
    } else {
        if (lanes) {
            a->dvec = malloc(sizeof(float) * (size_t)(M * (K / 4)) + 4);
            a->init = malloc(sizeof(int32_t) * (size_t)(M * (K / 4)) + 4);
            ok = ok && a->dvec && a->init;
        }
        a->bd = malloc(sizeof(float) * (size_t)(M * (K / 32)) + 4);
        a->binit = malloc(sizeof(int32_t) * (size_t)(M * (K / 32)) + 4);
        a->bdsx = malloc(sizeof(float) * (size_t)(M * (K / 32)) + 4);
        ok = ok && a->bd && a->binit && a->bdsx;
    }
    if (!ok) {
        ltx_cpu_qact_free(a);
        return ltx_err(LTX_ERR_OOM, "linear (%s): no memory to quantize %lld x %lld activations",
                       ltx_dtype_name(wt), (long long)M, (long long)K);
    }
    ltx_threadpool_for(pool, M, 8, quant_rows, a);
    a->src = NULL;
    return LTX_OK;
}

ltx_status ltx_cpu_qact_quantize(ltx_threadpool *pool, ltx_dtype wt, int64_t M, int64_t K,
                                 const float *A, int64_t lda, cpu_qact *a)
{
    return qact_quantize(pool, wt, M, K, A, lda, true, a);
}

ltx_status ltx_cpu_qact_quantize_blocks(ltx_threadpool *pool, ltx_dtype wt, int64_t M, int64_t K,
                                        const float *A, int64_t lda, cpu_qact *a)
{
    if (wt != LTX_Q8_0 && wt != LTX_Q4_0)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "linear: per-block activations are for block-32 types, "
                       "not %s",
                       ltx_dtype_name(wt));
    return qact_quantize(pool, wt, M, K, A, lda, false, a);
}

ltx_status ltx_cpu_gemm_quant_run(ltx_threadpool *pool, const cpu_qgemm *g)
{
    bool kq_w = g->wt == LTX_Q4_K || g->wt == LTX_Q5_K || g->wt == LTX_Q6_K;
    if (kq_w && g->act->block == 32) { /* activations quantized for the panels */
        if (!ltx_cpu_gemm_int8_panels_supports(g))
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "linear (%s): per-32 activations need the AVX-512 VNNI panels",
                           ltx_dtype_name(g->wt));
        return ltx_cpu_gemm_int8_panels(pool, g);
    }
    if (g->M > INT8_PANEL_MIN_ROWS && ltx_cpu_gemm_int8_panels_supports(g))
        return ltx_cpu_gemm_int8_panels(pool, g);
    if (g->act->block == 32 && !g->act->dvec)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "linear (%s): activations without the lane form need the panels (more "
                       "than %d rows, AVX-512 VNNI)",
                       ltx_dtype_name(g->wt), INT8_PANEL_MIN_ROWS);
    int nw = ltx_threadpool_size(pool);
    cpu_isa isa = ltx_cpu_isa_active();
    bool kq = g->act->block == 256;
    qjob j = {.g = g};
    j.tile = isa == CPU_ISA_AVX512 ? (kq ? tile_qk_avx512 : tile_q32_avx512)
             : isa == CPU_ISA_AVX2 ? (kq ? tile_qk_avx2 : tile_q32_avx2)
                                   : tile_scalar;
    j.nc = ltx_cpu_gemm_col_block(g->N, nw, TC, 256);
    j.n_nblk = (g->N + j.nc - 1) / j.nc;
    j.mc = ltx_cpu_gemm_row_chunk(g->M, j.n_nblk, nw, TR);
    j.n_tasks = j.n_nblk * ((g->M + j.mc - 1) / j.mc);
    if (kq) {
        j.wm = malloc(sizeof(float) * (size_t)nw * (size_t)(j.nc * (g->act->K / g->act->group)));
        if (!j.wm)
            return ltx_err(LTX_ERR_OOM, "linear (%s): no memory for weight corrections",
                           ltx_dtype_name(g->wt));
    }
    atomic_init(&j.next, 0);
    ltx_threadpool_for(pool, nw, 1, q_tasks, &j);
    free(j.wm);
    return LTX_OK;
}

ltx_status ltx_cpu_gemm_quant(ltx_threadpool *pool, int64_t M, int64_t N, int64_t K, const float *A,
                              int64_t lda, ltx_dtype wt, const void *W, int64_t wrb, float scale,
                              const float *bias, float *C, int64_t ldc, bool accumulate)
{
    if (M <= 0 || N <= 0) return LTX_OK;
    if (!ltx_cpu_gemm_quant_supports(wt, K))
        return ltx_err(LTX_ERR_INVALID_ARG, "linear: no int8 kernel for %s with K = %lld",
                       ltx_dtype_name(wt), (long long)K);
    /* the panels take per-32 activations for every type: the K-quants quantize them as Q8_0
     * does (their min term needs only the code sums, not Q8_0's start values) */
    bool panels = M > INT8_PANEL_MIN_ROWS && ltx_cpu_isa_active() == CPU_ISA_AVX512 &&
                  ltx_cpu_gemm_int8_panel_type(wt);
    bool kq_panels = panels && (wt == LTX_Q4_K || wt == LTX_Q5_K);
    cpu_qact a;
    if (panels) /* per-block arrays only: the lane form is for the register tiles */
        LTX_TRY(ltx_cpu_qact_quantize_blocks(pool, kq_panels ? LTX_Q8_0 : wt, M, K, A, lda, &a));
    else
        LTX_TRY(ltx_cpu_qact_quantize(pool, wt, M, K, A, lda, &a));
    cpu_qgemm g = {.act = &a,
                   .M = M,
                   .N = N,
                   .wt = wt,
                   .W = W,
                   .wrb = wrb,
                   .scale = scale,
                   .C = C,
                   .ldc = ldc,
                   .accumulate = accumulate,
                   .bias = bias};
    ltx_status s = ltx_cpu_gemm_quant_run(pool, &g);
    ltx_cpu_qact_free(&a);
    return s;
}
