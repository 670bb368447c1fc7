/*
 * cpu_gemm_int8.c — C = q8(A) @ W^T for Q8_0 / Q4_0 / Q4_K / Q5_K weights on many rows
 * (AVX-512 VNNI): the packed-panel companion of cpu_gemm_quant.c's register tiles, which read
 * the compact weight blocks directly and suit few rows (<= 16) but reach only ~15-30 % of the
 * vpdpbusd peak. Here the weights are unpacked once per task into panels laid out for
 * vpdpbusd, GotoBLAS style, like the bf16 GEMM (cpu_gemm_bf16.c), so every weight byte loaded
 * serves MR rows and every activation broadcast serves NR columns.
 *
 * Activations are quantized per 32 for every type (codes x, f32 d_x; cpu_gemm_quant.c's
 * format for Q8_0). Weights become unsigned codes u with a per-32 scale d_w and, for the
 * K-quants, a per-32 min term o_w, so that a block's weights are d_w (u - z) (Q8_0: u = w + 128,
 * z = 128; Q4_0: the nibble, z = 8) or d_w u - o_w (Q4_K / Q5_K: u = the 4/5-bit code,
 * d_w = d sc, o_w = dmin m, the format's own products). Per output and block:
 *   Q8_0 / Q4_0: s = start + sum u x (exact int32; start = -z sum x, the activation side's
 *                `binit`), acc += f32(s) * (d_w * d_x)  — the scalar reference's formula;
 *   Q4_K / Q5_K: s = sum u x, acc += f32(s) * (d_w * d_x) - o_w * (d_x sum x)  (`bdsx`).
 * K-quant super-blocks of 256 are split into their 8 sub-blocks of 32 (Q6_K's per-16 scales
 * would halve the integer run per scale step; it keeps the bf16 route).
 *
 * Layout:
 *   - Packed W: per task, a block of nc <= 256 columns x kc k (whole 32-blocks; kc shrinks for
 *     wide blocks so the panel stays ~512 KiB in L2), as micro-panels of NR = 32 columns; per
 *     32-block of a micro-panel 8 quads x 32 columns x 4 codes (1 KiB; lane j of quad q holds
 *     the unsigned codes 4q..4q+3 of column j), then the 32 columns' d_w and o_w as f32
 *     (128 B each; o_w unused for Q8_0 / Q4_0). Every type is packed 16 columns at a time with
 *     AVX-512 by loading each column's code bytes and transposing them into quads (the
 *     plain-C K-quant packer took ~38 % of a real-size stage-1 step, where few rows share each
 *     packed weight; per-quad gathers still ~23 %); the f16 scales come by gathers.
 *   - Micro-kernel MR x NR = 6 x 32: per block, 12 int32 accumulators started from the rows'
 *     binit, per quad 2 panel loads and 12 vpdpbusd whose s8 operand is a 4-byte broadcast of
 *     the row's codes straight from memory; then per row 2 x (convert, d_w * d_x, fma) into 12
 *     f32 accumulators (K-quants: 2 more fused multiply-adds per row for the min term). 16
 *     vpdpbusd (1024 multiply-adds) per 6 (8) f32 ops, where vdpbf16ps needs 32 instructions
 *     for the same 1024: ~1.45x (1.33x) the bf16 GEMM's rate at equal issue rate (vpdpbusd and
 *     vdpbf16ps issue at the same rate, 2 per cycle per core on this Zen 5; bench/cpu_gemm
 *     measured 1.36-1.49x before the bf16 GEMM got its on-the-fly A strips).
 *   - Epilogue per k block: C = [C +] [bias +] scale * acc (the first k block starts from the
 *     bias, later ones add to C).
 *   - Prefetch, as in the bf16 GEMM: a strip's first micro-panel call prefetches the next
 *     strip's codes and per-block values into L2, the later calls the next C tile. The
 *     activations come from ltx_cpu_qact_quantize_blocks (per-block arrays only; the register
 *     tiles' lane form is never built for the panels).
 * Only AVX-512 VNNI; other levels keep the tiles (cpu_gemm_quant.c). Integer parts are exact,
 * so for the same activation codes results differ from the scalar reference only in the order
 * of the f32 scale-and-add steps (docs/NUMERICS.md, "CPU bf16 and quantized kernels"); the
 * K-quants' tiles quantize activations per 256 instead, so there the panels are slightly
 * closer to the exact product.
 * ref: ggml-cpu's ggml_vec_dot_q8_0_q8_0 (the formula); the blocking is the bf16 GEMM's.
 */
#include "backend/cpu/cpu_gemm.h"
#include "core/error.h"
#include "core/quant.h"

#include <immintrin.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c")))

#define MR          6
#define NR          32
#define NC_MAX      256
#define PANEL_BYTES (512 * 1024)
/* one 32-block of a micro-panel: codes, then d_w, then (K-quants) the min term o_w */
#define BLK_BYTES (8 * NR * 4 + 2 * NR * 4)
#define D_OFF     (8 * NR * 4)
#define O_OFF     (9 * NR * 4)

typedef struct i8_job {
    const cpu_qgemm *g;
    int64_t K, nb;       /* K and its 32-blocks */
    int64_t nc, kcb, mc; /* columns per task, 32-blocks per k block, rows per task */
    int64_t n_nblk, n_tasks;
    uint8_t *pack; /* per worker: (nc / NR) micro-panels x kcb blocks */
    atomic_llong next;
} i8_job;

/* Lane i = i * wrb: the byte offsets of 16 consecutive weight rows, for gathers. */
TARGET_AVX512 static inline __m512i row_offsets16(int64_t wrb)
{
    return _mm512_mullo_epi32(
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
        _mm512_set1_epi32((int)wrb));
}

/* out[q] lane i = dword q of the 32 bytes at rows[i] (i < 16; NULL rows read as zeros): two
 * rows per zmm (rows i and i + 8 in its 256-bit halves), an 8 x 8 dword transpose in each half,
 * then the halves' quads interleaved so lane i is row i. */
TARGET_AVX512 static inline void transpose16x8(const uint8_t *const rows[16], __m512i out[8])
{
    __m512i z[8], t[8], u[8];
    for (int i = 0; i < 8; i++) {
        __m256i lo =
            rows[i] ? _mm256_loadu_si256((const __m256i *)rows[i]) : _mm256_setzero_si256();
        __m256i hi =
            rows[i + 8] ? _mm256_loadu_si256((const __m256i *)rows[i + 8]) : _mm256_setzero_si256();
        z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    }
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm512_unpacklo_epi32(z[i], z[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(z[i], z[i + 1]);
    }
    for (int g = 0; g < 8; g += 4) { /* u[g + d]: dwords d (128-bit lanes 0, 2) and d + 4 (1, 3) */
        u[g] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
        u[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
        u[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
        u[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
    }
    const __m512i ia = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
    const __m512i ib = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
    for (int d = 0; d < 4; d++) {
        out[d] = _mm512_permutex2var_epi64(u[d], ia, u[d + 4]);
        out[d + 4] = _mm512_permutex2var_epi64(u[d], ib, u[d + 4]);
    }
}

/* Q4_K / Q5_K weight rows n..n+16 as half h of a micro-panel (lanes past `cols` get zero
 * codes, d_w and o_w). Sub-blocks 2c and 2c + 1 of a super-block are the low and high nibbles
 * of qs[32c..32c+31]: those 32 bytes of the 16 rows are loaded and transposed once per pair
 * (quad q of every column in one zmm); Q5_K's qh[0..31] (bit sb of qh[i] is bit 4 of code i of
 * sub-block sb) likewise once per super-block. Per super-block, gathers of the dwords of
 * d | dmin << 16 and of the 12 scale bytes give d_w = d * sc and o_w = dmin * m exactly as
 * ltx_q4k_scale_min and the dequantizer compute them. */
TARGET_AVX512 static void pack16_k_avx512(uint8_t *panel, int h, const cpu_qgemm *g, int64_t n,
                                          int cols, int64_t b0, int64_t kb)
{
    const __mmask16 live = cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1);
    const __m512i rows = row_offsets16(g->wrb);
    const __m512i zero = _mm512_setzero_si512(), low4 = _mm512_set1_epi8(0x0F),
                  bit0 = _mm512_set1_epi8(0x01), b63 = _mm512_set1_epi32(63),
                  b15 = _mm512_set1_epi32(15), bff = _mm512_set1_epi32(0xFF);
    const uint8_t *base = (const uint8_t *)g->W + n * g->wrb;
    bool q5 = g->wt == LTX_Q5_K;
    int64_t bsz = q5 ? (int64_t)sizeof(ltx_block_q5_K) : (int64_t)sizeof(ltx_block_q4_K);
    size_t o_sc = q5 ? offsetof(ltx_block_q5_K, scales) : offsetof(ltx_block_q4_K, scales);
    size_t o_qs = q5 ? offsetof(ltx_block_q5_K, qs) : offsetof(ltx_block_q4_K, qs);
    size_t o_qh = offsetof(ltx_block_q5_K, qh);
    __m512i T[8], QH[8], S[3] = {zero, zero, zero}, dd = zero;
    for (int i = 0; i < 8; i++)
        T[i] = QH[i] = zero; /* set before use (first block); -Wmaybe-uninitialized */
    int64_t cur_sbk = -1, cur_c = -1;
    for (int64_t b = 0; b < kb; b++) {
        int64_t gb = b0 + b, sbk = gb / 8;
        int sb = (int)(gb % 8);
        const uint8_t *blk = base + sbk * bsz;
        const uint8_t *rp[16];
        if (sbk != cur_sbk) {
            for (int i = 0; i < 3; i++)
                S[i] = _mm512_mask_i32gather_epi32(zero, live, rows, blk + o_sc + 4 * i, 1);
            dd = _mm512_mask_i32gather_epi32(zero, live, rows, blk, 1); /* d | dmin << 16 */
            if (q5) {
                for (int i = 0; i < 16; i++)
                    rp[i] = i < cols ? blk + i * g->wrb + o_qh : NULL;
                transpose16x8(rp, QH);
            }
            cur_sbk = sbk, cur_c = -1;
        }
        if (sb / 2 != cur_c) {
            cur_c = sb / 2;
            for (int i = 0; i < 16; i++)
                rp[i] = i < cols ? blk + i * g->wrb + o_qs + 32 * cur_c : NULL;
            transpose16x8(rp, T);
        }
        uint8_t *out = panel + b * BLK_BYTES + h * 64;
        for (int q = 0; q < 8; q++) {
            __m512i v = _mm512_and_si512(sb & 1 ? _mm512_srli_epi32(T[q], 4) : T[q], low4);
            if (q5)
                v = _mm512_or_si512(
                    v, _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(QH[q], sb), bit0), 4));
            _mm512_storeu_si512(out + q * NR * 4, v);
        }
        /* scale bytes k = 0..11 as (S[k / 4] >> 8 (k % 4)) & 0xFF */
#define SBYTE(k) _mm512_and_si512(_mm512_srli_epi32(S[(k) / 4], 8 * ((k) % 4)), bff)
        __m512i sc, mn;
        if (sb < 4) {
            sc = _mm512_and_si512(SBYTE(sb), b63);
            mn = _mm512_and_si512(SBYTE(sb + 4), b63);
        } else {
            __m512i hi = SBYTE(sb + 4);
            sc = _mm512_or_si512(_mm512_and_si512(hi, b15),
                                 _mm512_slli_epi32(_mm512_srli_epi32(SBYTE(sb - 4), 6), 4));
            mn = _mm512_or_si512(_mm512_srli_epi32(hi, 4),
                                 _mm512_slli_epi32(_mm512_srli_epi32(SBYTE(sb), 6), 4));
        }
#undef SBYTE
        __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dd));
        __m512 dm = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(dd, 16)));
        _mm512_storeu_ps(out + D_OFF, _mm512_mul_ps(d, _mm512_cvtepi32_ps(sc)));
        _mm512_storeu_ps(out + O_OFF, _mm512_mul_ps(dm, _mm512_cvtepi32_ps(mn)));
    }
}

/* out[q] lane i = dword q of the 16 bytes at rows[i] (NULL rows read as zeros): rows i, i + 4,
 * i + 8, i + 12 in the 128-bit lanes of one zmm, then a 4 x 4 dword transpose in every lane. */
TARGET_AVX512 static inline void transpose16x4(const uint8_t *const rows[16], __m512i out[4])
{
    __m512i z[4];
    for (int i = 0; i < 4; i++) {
        __m128i r[4];
        for (int l = 0; l < 4; l++)
            r[l] = rows[i + 4 * l] ? _mm_loadu_si128((const __m128i *)rows[i + 4 * l])
                                   : _mm_setzero_si128();
        z[i] = _mm512_inserti32x4(
            _mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(r[0]), r[1], 1), r[2], 2),
            r[3], 3);
    }
    __m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]), t1 = _mm512_unpackhi_epi32(z[0], z[1]);
    __m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]), t3 = _mm512_unpackhi_epi32(z[2], z[3]);
    out[0] = _mm512_unpacklo_epi64(t0, t2);
    out[1] = _mm512_unpackhi_epi64(t0, t2);
    out[2] = _mm512_unpacklo_epi64(t1, t3);
    out[3] = _mm512_unpackhi_epi64(t1, t3);
}

/* Q8_0 / Q4_0 weight rows n..n+16 as half h of a micro-panel (lanes past `cols` get zero codes
 * and d): per block, the code bytes of the 16 rows loaded and transposed so that quad q of
 * every column is one zmm (Q8_0: 32 bytes, w + 128 = w ^ 0x80; Q4_0: 16 bytes whose low
 * nibbles are elements 0-15 and high nibbles 16-31), and one gather of the dwords holding d
 * (loads and transposes: ~1.5x the gathers' rate at 64 rows). */
TARGET_AVX512 static void pack16_avx512(uint8_t *panel, int h, const cpu_qgemm *g, int64_t n,
                                        int cols, int64_t b0, int64_t kb)
{
    const __mmask16 live = cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1);
    const __m512i rows = row_offsets16(g->wrb);
    const __m512i zero = _mm512_setzero_si512(), flip = _mm512_set1_epi8((char)0x80),
                  low4 = _mm512_set1_epi8(0x0F);
    const uint8_t *base = (const uint8_t *)g->W + n * g->wrb;
    bool q8 = g->wt == LTX_Q8_0;
    int64_t bsz = q8 ? (int64_t)sizeof(ltx_block_q8_0) : (int64_t)sizeof(ltx_block_q4_0);
    for (int64_t b = 0; b < kb; b++) {
        const uint8_t *blk = base + (b0 + b) * bsz; /* d (f16), then the codes */
        uint8_t *out = panel + b * BLK_BYTES + h * 64;
        const uint8_t *rp[16];
        for (int i = 0; i < 16; i++)
            rp[i] = i < cols ? blk + i * g->wrb + 2 : NULL;
        __m512i v[8];
        if (q8) {
            transpose16x8(rp, v);
            for (int q = 0; q < 8; q++) /* zero lanes stay zero codes: masked flip */
                _mm512_storeu_si512(out + q * NR * 4,
                                    _mm512_mask_xor_epi32(zero, live, v[q], flip));
        } else {
            transpose16x4(rp, v);
            for (int q = 0; q < 4; q++) {
                _mm512_storeu_si512(out + q * NR * 4, _mm512_and_si512(v[q], low4));
                _mm512_storeu_si512(out + (q + 4) * NR * 4,
                                    _mm512_and_si512(_mm512_srli_epi32(v[q], 4), low4));
            }
        }
        __m512i dh = _mm512_mask_i32gather_epi32(zero, live, rows, blk, 1);
        _mm512_storeu_ps(out + D_OFF, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dh)));
    }
}

/* Packs columns n0..n1 and 32-blocks b0..b0+kb; the last micro-panel's columns past n1 get
 * zero codes and d, so they add nothing. */
static void pack_w(const cpu_qgemm *g, uint8_t *dst, int64_t n0, int64_t n1, int64_t b0, int64_t kb)
{
    /* 16 columns per gather; the last panel's empty upper half gets zeros too */
    bool kq = g->wt == LTX_Q4_K || g->wt == LTX_Q5_K;
    for (int64_t p = n0; p < n1; p += 16) {
        int64_t left = n1 - p;
        uint8_t *panel = dst + ((p - n0) / NR) * kb * BLK_BYTES;
        int h = (int)((p - n0) % NR / 16), cols = left < 16 ? (int)left : 16;
        if (kq)
            pack16_k_avx512(panel, h, g, p, cols, b0, kb);
        else
            pack16_avx512(panel, h, g, p, cols, b0, kb);
    }
    if ((n1 - n0) % NR && (n1 - n0) % NR <= 16) {
        uint8_t *panel = dst + ((n1 - n0) / NR) * kb * BLK_BYTES;
        if (kq)
            pack16_k_avx512(panel, 1, g, n1, 0, b0, kb);
        else
            pack16_avx512(panel, 1, g, n1, 0, b0, kb);
    }
}

/* Rows of one micro-kernel call: codes, d and start values at the k block's first block. */
typedef struct i8_rows {
    const int8_t *x[MR];
    const float *d[MR];
    const int32_t *init[MR]; /* NULL for the K-quants: the integer sums start at 0 */
    const float *dsx[MR];    /* K-quants: d_x x code sum per block, for the min term */
    /* Prefetches while this call computes (NULL: none): the next strip's codes, d and start
     * values into L2 (at its first micro-panel: the strip's rows come from memory), or the next
     * C tile this call's successor adds to (at the others). */
    const int8_t *pf_x;         /* the next strip's first row of codes, pf_x_ld apart */
    const void *pf_d, *pf_init; /* two of its per-block arrays (4 bytes a block) */
    int64_t pf_x_ld, pf_b_ld;   /* row strides: K bytes, K / 32 blocks */
    int pf_rows;
    const float *next_c;
} i8_rows;

/* The micro-kernel's epilogue: C[0:mr, 0:nr] = [C +] [bias +] scale * rows. */
TARGET_AVX512 static inline void store_tile(__m512 rows[MR][2], float *c, int64_t ldc, int mr,
                                            int nr, bool acc, const float *bias, float scale)
{
    const __m512 vs = _mm512_set1_ps(scale);
    for (int h = 0; h < 2; h++) {
        int cols = nr - 16 * h;
        if (cols <= 0) break;
        __mmask16 m = cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1);
        __m512 bv = bias ? _mm512_maskz_loadu_ps(m, bias + 16 * h) : _mm512_setzero_ps();
        for (int r = 0; r < mr; r++) {
            float *cp = c + r * ldc + 16 * h;
            __m512 v = scale != 1.0f ? _mm512_mul_ps(rows[r][h], vs) : rows[r][h];
            if (bias) v = _mm512_add_ps(bv, v);
            if (acc) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, cp), v);
            _mm512_mask_storeu_ps(cp, m, v);
        }
    }
}

/* The next strip's rows at block b (even) into L2: one 64-byte line of codes per row and 2
 * blocks, one line of each per-block array per 16. */
static inline void prefetch_next_strip(const i8_rows *rw, int64_t b)
{
    for (int r = 0; r < rw->pf_rows; r++) {
        _mm_prefetch((const char *)(rw->pf_x + r * rw->pf_x_ld + 32 * b), _MM_HINT_T1);
        if (!(b & 15)) {
            int64_t o = 4 * (r * rw->pf_b_ld + b);
            _mm_prefetch((const char *)rw->pf_d + o, _MM_HINT_T1);
            _mm_prefetch((const char *)rw->pf_init + o, _MM_HINT_T1);
        }
    }
}

/* C[0:mr, 0:nr] (row stride ldc) = [C +] [bias +] scale * sum over kb blocks of the panel. */
TARGET_AVX512 static void kernel_avx512(int64_t kb, const i8_rows *rw, const uint8_t *panel,
                                        float *c, int64_t ldc, int mr, int nr, bool acc,
                                        const float *bias, float scale, bool kq)
{
    __m512 f00 = _mm512_setzero_ps(), f01 = f00, f10 = f00, f11 = f00, f20 = f00, f21 = f00;
    __m512 f30 = f00, f31 = f00, f40 = f00, f41 = f00, f50 = f00, f51 = f00;
    const int8_t *x0 = rw->x[0], *x1 = rw->x[1], *x2 = rw->x[2], *x3 = rw->x[3], *x4 = rw->x[4],
                 *x5 = rw->x[5];
    if (rw->next_c && acc)
        for (int r = 0; r < MR; r++) {
            _mm_prefetch((const char *)(rw->next_c + r * ldc), _MM_HINT_T0);
            _mm_prefetch((const char *)(rw->next_c + r * ldc + 16), _MM_HINT_T0);
        }
    for (int64_t b = 0; b < kb; b++) {
        const uint8_t *pb = panel + b * BLK_BYTES;
        if (rw->pf_rows && !(b & 1)) prefetch_next_strip(rw, b);
#define INIT(r) (kq ? 0 : rw->init[r][b])
        __m512i i00 = _mm512_set1_epi32(INIT(0)), i01 = i00;
        __m512i i10 = _mm512_set1_epi32(INIT(1)), i11 = i10;
        __m512i i20 = _mm512_set1_epi32(INIT(2)), i21 = i20;
        __m512i i30 = _mm512_set1_epi32(INIT(3)), i31 = i30;
        __m512i i40 = _mm512_set1_epi32(INIT(4)), i41 = i40;
        __m512i i50 = _mm512_set1_epi32(INIT(5)), i51 = i50;
#undef INIT
        for (int q = 0; q < 8; q++) {
            __m512i w0 = _mm512_loadu_si512(pb + q * NR * 4);
            __m512i w1 = _mm512_loadu_si512(pb + q * NR * 4 + 64);
            int64_t o = 32 * b + 4 * q;
            __m512i xv;
#define ROW(xr, a0, a1)                                                                            \
    xv = _mm512_set1_epi32(*(const int32_t *)(xr + o));                                            \
    a0 = _mm512_dpbusd_epi32(a0, w0, xv);                                                          \
    a1 = _mm512_dpbusd_epi32(a1, w1, xv)
            ROW(x0, i00, i01);
            ROW(x1, i10, i11);
            ROW(x2, i20, i21);
            ROW(x3, i30, i31);
            ROW(x4, i40, i41);
            ROW(x5, i50, i51);
#undef ROW
        }
        __m512 dw0 = _mm512_loadu_ps((const float *)(pb + D_OFF));
        __m512 dw1 = _mm512_loadu_ps((const float *)(pb + D_OFF + 64));
#define FIN(r, a0, a1, s0, s1)                                                                     \
    {                                                                                              \
        __m512 dx = _mm512_set1_ps(rw->d[r][b]);                                                   \
        s0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a0), _mm512_mul_ps(dw0, dx), s0);                  \
        s1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a1), _mm512_mul_ps(dw1, dx), s1);                  \
    }
        FIN(0, i00, i01, f00, f01);
        FIN(1, i10, i11, f10, f11);
        FIN(2, i20, i21, f20, f21);
        FIN(3, i30, i31, f30, f31);
        FIN(4, i40, i41, f40, f41);
        FIN(5, i50, i51, f50, f51);
#undef FIN
        if (kq) { /* - o_w (d_x sum x) per row: the K-quants' min term */
            __m512 o0 = _mm512_loadu_ps((const float *)(pb + O_OFF));
            __m512 o1 = _mm512_loadu_ps((const float *)(pb + O_OFF + 64));
#define MIN(r, s0, s1)                                                                             \
    {                                                                                              \
        __m512 t = _mm512_set1_ps(rw->dsx[r][b]);                                                  \
        s0 = _mm512_fnmadd_ps(o0, t, s0);                                                          \
        s1 = _mm512_fnmadd_ps(o1, t, s1);                                                          \
    }
            MIN(0, f00, f01);
            MIN(1, f10, f11);
            MIN(2, f20, f21);
            MIN(3, f30, f31);
            MIN(4, f40, f41);
            MIN(5, f50, f51);
#undef MIN
        }
    }
    __m512 rows[MR][2] = {{f00, f01}, {f10, f11}, {f20, f21}, {f30, f31}, {f40, f41}, {f50, f51}};
    store_tile(rows, c, ldc, mr, nr, acc, bias, scale);
}

/* Takes tasks (column block x row chunk) until none is left. */
static void i8_tasks(void *ctx, int64_t begin, int64_t end, int worker)
{
    (void)begin;
    (void)end;
    i8_job *j = ctx;
    const cpu_qgemm *g = j->g;
    const cpu_qact *a = g->act;
    bool kq = g->wt == LTX_Q4_K || g->wt == LTX_Q5_K;
    uint8_t *pk = j->pack + (size_t)worker * (size_t)(j->nc / NR * j->kcb * BLK_BYTES);
    for (;;) {
        int64_t t = atomic_fetch_add(&j->next, 1);
        if (t >= j->n_tasks) break;
        int64_t n0 = (t % j->n_nblk) * j->nc, n1 = n0 + j->nc < g->N ? n0 + j->nc : g->N;
        int64_t m0 = (t / j->n_nblk) * j->mc, m1 = m0 + j->mc < g->M ? m0 + j->mc : g->M;
        for (int64_t b0 = 0; b0 < j->nb; b0 += j->kcb) {
            int64_t kb = j->nb - b0 < j->kcb ? j->nb - b0 : j->kcb;
            pack_w(g, pk, n0, n1, b0, kb);
            bool acc = g->accumulate || b0 > 0;
            for (int64_t m = m0; m < m1; m += MR) {
                int mr = m1 - m < MR ? (int)(m1 - m) : MR;
                i8_rows rw;
                for (int r = 0; r < MR; r++) { /* rows past mr repeat the last (not stored) */
                    int64_t mm = m + (r < mr ? r : mr - 1);
                    rw.x[r] = a->qs + mm * j->K + 32 * b0;
                    rw.d[r] = a->bd + mm * j->nb + b0;
                    rw.init[r] = a->binit + mm * j->nb + b0;
                    rw.dsx[r] = a->bdsx + mm * j->nb + b0;
                }
                int64_t mn = m + MR; /* the next strip */
                int nmr = m1 - mn < MR ? (int)(m1 - mn) : MR;
                if (nmr < 0) nmr = 0;
                rw.pf_x = a->qs + mn * j->K + 32 * b0, rw.pf_x_ld = j->K;
                rw.pf_d = a->bd + mn * j->nb + b0, rw.pf_b_ld = j->nb;
                rw.pf_init = kq ? (const void *)(a->bdsx + mn * j->nb + b0)
                                : (const void *)(a->binit + mn * j->nb + b0);
                for (int64_t p = n0; p < n1; p += NR) {
                    int nr = n1 - p < NR ? (int)(n1 - p) : NR;
                    bool first = p == n0;
                    rw.pf_rows = first ? nmr : 0;
                    rw.next_c = first         ? NULL
                                : p + NR < n1 ? g->C + m * g->ldc + p + NR
                                : nmr > 0     ? g->C + mn * g->ldc + n0
                                              : NULL;
                    const float *bias = g->bias && b0 == 0 ? g->bias + p : NULL;
                    kernel_avx512(kb, &rw, pk + ((p - n0) / NR) * kb * BLK_BYTES,
                                  g->C + m * g->ldc + p, g->ldc, mr, nr, acc, bias, g->scale, kq);
                }
            }
        }
    }
}

bool ltx_cpu_gemm_int8_panel_type(ltx_dtype wt)
{
    return wt == LTX_Q8_0 || wt == LTX_Q4_0 || wt == LTX_Q4_K || wt == LTX_Q5_K;
}

bool ltx_cpu_gemm_int8_panels_supports(const cpu_qgemm *g)
{
    return ltx_cpu_gemm_int8_panel_type(g->wt) && g->act->block == 32 && g->act->bd &&
           ltx_cpu_isa_active() == CPU_ISA_AVX512;
}

ltx_status ltx_cpu_gemm_int8_panels(ltx_threadpool *pool, const cpu_qgemm *g)
{
    if (g->M <= 0 || g->N <= 0) return LTX_OK;
    int nw = ltx_threadpool_size(pool);
    i8_job j = {.g = g, .K = g->act->K, .nb = g->act->K / 32};
    j.nc = ltx_cpu_gemm_col_block(g->N, nw, NR, NC_MAX);
    j.n_nblk = (g->N + j.nc - 1) / j.nc;
    j.kcb = PANEL_BYTES / (j.nc / NR * BLK_BYTES);
    if (j.kcb > j.nb) j.kcb = j.nb;
    if (j.kcb < 1) j.kcb = 1;
    j.mc = ltx_cpu_gemm_row_chunk(g->M, j.n_nblk, nw, MR);
    j.n_tasks = j.n_nblk * ((g->M + j.mc - 1) / j.mc);
    j.pack = aligned_alloc(64, (size_t)nw * (size_t)(j.nc / NR * j.kcb * BLK_BYTES));
    if (!j.pack)
        return ltx_err(LTX_ERR_OOM, "linear (%s): no memory for %d packed weight panels",
                       ltx_dtype_name(g->wt), nw);
    atomic_init(&j.next, 0);
    ltx_threadpool_for(pool, nw, 1, i8_tasks, &j);
    free(j.pack);
    return LTX_OK;
}
