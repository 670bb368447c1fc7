/*
 * cpu_gemm_bf16.c — C = bf16(A) @ bf16(W)^T with f32 accumulation (cpu_gemm.h): the CPU's
 * `linear` at LTX_PRECISION_BF16, the analogue of PyTorch's bf16 autocast matmul (inputs rounded
 * to bf16, f32 accumulate, f32 out).
 *
 * Layout (GotoBLAS-style; W packed once per call, A rounded strip by strip):
 *   - A (M, K) f32 is rounded to bf16 strip by strip, on the fly: per column block and k
 *     block, each MR-row strip (MR x kc) goes into the worker's L1 strip buffer (K padded to an
 *     even count with a zero) and runs over the block's micro-panels. A strip is rounded once
 *     per column block (~1 % of the time its micro-kernels take), which beats rounding all of A
 *     up front: no M x K bf16 copy to allocate, fault in and read back from memory (that
 *     pre-pass took ~15-20 % of the time at (6144, 4096, 4096)). The micro-kernel broadcasts one
 *     32-bit pair (A[m][2p], A[m][2p+1]) per row and step from the strip. While a strip's first
 *     micro-panel runs, the kernel prefetches the next strip's f32 rows into L2; during the
 *     others, the next C tile it will add to (these two prefetches: 481 -> 558 GFLOP/s before
 *     the on-the-fly strips, 637-646 with them; 2 cores, Zen 5, peak ~860).
 *   - W (N, K) is packed per task in blocks of nc <= 512 columns x kc k (kc = 512 at nc = 512,
 *     more for narrower blocks — 1024 at 256 columns — up to 2048, so a block stays 512 KiB):
 *     micro-panels of NR = 64 columns, and for each k pair p the 64 pairs (W[n][2p],
 *     W[n][2p+1]) side by side (128 bf16 = four zmm), which is the operand layout of
 *     vdpbf16ps. The block stays in the 1 MiB L2 while every MR-row strip of A (6 x kc bf16,
 *     L1) runs over its nc / NR micro-panels. Every k block is one more pass over the task's C
 *     (out to L3 at 2304 rows); the wider kc at narrow nc halves those passes for the
 *     (2304, 1024, 4096) FF down projection (166 -> 178 GFLOP per CPU-second, bench noise ~5 %).
 *   - Micro-kernel MR x NR = 6 x 64: 24 zmm accumulators, per k pair 4 loads of W, 6
 *     broadcasts of A and 24 vdpbf16ps (each 32 multiply-adds). Its epilogue (bf16_epi) adds
 *     the tile to C for every k block after the first, or starts it from the bias (bias + sum,
 *     the bits of C preset to the bias: ltx_cpu_bf16_gemm_bias, linear's route), and applies the
 *     attention's score scale (one f32 product per sum; none at 1).
 *   - Tasks: column blocks (and row chunks when there are fewer column blocks than 2 x workers),
 *     taken dynamically by the pool's workers; each task packs its own W block.
 * ISA levels (cpu_isa.h): avx512 runs vdpbf16ps (AVX512_BF16); avx2 widens bf16 pairs to f32
 * with shifts and runs vfmadd231ps on ymm; scalar is plain C over the same packed layout (the
 * reference the tests compare the others with). vdpbf16ps flushes bf16 subnormals to zero and
 * adds the two products of a pair in one step; these differ from the scalar path only in the
 * order/rounding of f32 additions (tolerance in docs/NUMERICS.md, "CPU bf16 and quantized
 * kernels").
 * ref: torch.nn.functional.linear under torch.autocast(dtype=torch.bfloat16).
 */
#include "backend/cpu/cpu_gemm.h"
#include "core/error.h"

#include <immintrin.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MR 6
#define NR 64
#define KC                                                                                         \
    512 /* k per packed block at NC_MAX columns (256 pairs); narrower blocks take                  \
         * more k (same 512 KiB), up to KC_MAX */
#define KC_MAX 2048
#define NC_MAX 512 /* columns per packed block */
/* per-worker row scratch: 16 bf16 rows of kc / 2 pairs, one f32 row of kc, kc / 2 zero pairs */
#define ROWBUF_WORDS(kc) (16 * ((kc) / 2) + (kc) + (kc) / 2)

#define TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define TARGET_AVX2   __attribute__((target("avx2,fma,f16c")))

/* What a micro-kernel does with a finished sum s of its tile: c = [c +] [bias[n] +] alpha * s
 * (alpha: one f32 product, skipped when 1; bias: NULL or the tile's nr column values, the
 * first k block of a biased product — bias + s, as c preset to the bias and then += s). */
typedef struct bf16_epi {
    bool acc;
    float alpha;
    const float *bias;
    const float *next; /* C tile of the next call (its MR rows from here, row stride ldc), to
                        * prefetch while this one computes; NULL: none */
    /* f32 A rows of a later strip to prefetch into L2: pf_rows rows pf_ld bytes apart, 2 floats
     * per k pair of this call (NULL: none) */
    const char *pf;
    int64_t pf_ld;
    int pf_rows;
} bf16_epi;

/* One micro-kernel call: C[0:mr, 0:nr] from the A strip (MR rows of kpn pairs, row stride
 * lda32 pairs) @ packed W micro-panel (kpn x NR pairs), finished as e says. Rows of A past mr
 * are read (any finite values) but not stored. */
typedef void (*bf16_kernel)(int64_t kpn, const uint32_t *a, int64_t lda32, const uint32_t *b,
                            float *c, int64_t ldc, int mr, int nr, const bf16_epi *e);

static inline float bf_lo(uint32_t p)
{
    union {
        uint32_t u;
        float f;
    } v = {p << 16};
    return v.f;
}

static inline float bf_hi(uint32_t p)
{
    union {
        uint32_t u;
        float f;
    } v = {p & 0xFFFF0000u};
    return v.f;
}

/* c[0:n] = [c +] [bias +] alpha * s, the epilogue of the portable and AVX2 kernels. */
static void finish_row(float *c, float *s, int n, const bf16_epi *e)
{
    for (int i = 0; i < n; i++) {
        float v = e->alpha != 1.0f ? s[i] * e->alpha : s[i];
        if (e->bias) v = e->bias[i] + v;
        c[i] = e->acc ? c[i] + v : v;
    }
}

/* Portable C reference: per output, lo product then hi product added in k order. */
static void kernel_scalar(int64_t kpn, const uint32_t *a, int64_t lda32, const uint32_t *b,
                          float *c, int64_t ldc, int mr, int nr, const bf16_epi *e)
{
    for (int r = 0; r < mr; r++) {
        float s[NR] = {0};
        const uint32_t *ar = a + r * lda32;
        for (int64_t p = 0; p < kpn; p++) {
            float a0 = bf_lo(ar[p]), a1 = bf_hi(ar[p]);
            const uint32_t *bp = b + p * NR;
            for (int n = 0; n < NR; n++) {
                s[n] += a0 * bf_lo(bp[n]);
                s[n] += a1 * bf_hi(bp[n]);
            }
        }
        finish_row(c + r * ldc, s, nr, e);
    }
}

/* AVX2: 6 rows x 16 columns at a time (12 ymm accumulators), bf16 widened by shifts. */
TARGET_AVX2 static void kernel_avx2(int64_t kpn, const uint32_t *a, int64_t lda32,
                                    const uint32_t *b, float *c, int64_t ldc, int mr, int nr,
                                    const bf16_epi *e)
{
    const __m256i hi_mask = _mm256_set1_epi32((int)0xFFFF0000u);
    for (int n0 = 0; n0 < nr; n0 += 16) {
        __m256 s[MR][2];
        for (int r = 0; r < MR; r++)
            s[r][0] = s[r][1] = _mm256_setzero_ps();
        for (int64_t p = 0; p < kpn; p++) {
            const uint32_t *bp = b + p * NR + n0;
            __m256i w0 = _mm256_loadu_si256((const __m256i *)bp);
            __m256i w1 = _mm256_loadu_si256((const __m256i *)(bp + 8));
            __m256 l0 = _mm256_castsi256_ps(_mm256_slli_epi32(w0, 16));
            __m256 l1 = _mm256_castsi256_ps(_mm256_slli_epi32(w1, 16));
            __m256 h0 = _mm256_castsi256_ps(_mm256_and_si256(w0, hi_mask));
            __m256 h1 = _mm256_castsi256_ps(_mm256_and_si256(w1, hi_mask));
            for (int r = 0; r < MR; r++) {
                uint32_t ap = a[r * lda32 + p];
                __m256 a0 = _mm256_set1_ps(bf_lo(ap)), a1 = _mm256_set1_ps(bf_hi(ap));
                s[r][0] = _mm256_fmadd_ps(a0, l0, s[r][0]);
                s[r][1] = _mm256_fmadd_ps(a0, l1, s[r][1]);
                s[r][0] = _mm256_fmadd_ps(a1, h0, s[r][0]);
                s[r][1] = _mm256_fmadd_ps(a1, h1, s[r][1]);
            }
        }
        int cols = nr - n0 < 16 ? nr - n0 : 16;
        for (int r = 0; r < mr; r++) {
            float t[16];
            _mm256_storeu_ps(t, s[r][0]);
            _mm256_storeu_ps(t + 8, s[r][1]);
            bf16_epi ec = *e;
            ec.bias = e->bias ? e->bias + n0 : NULL;
            finish_row(c + r * ldc + n0, t, cols, &ec);
        }
    }
}

/* AVX-512 BF16: the 6 x 64 register tile described at the top. */
TARGET_AVX512 static void kernel_avx512(int64_t kpn, const uint32_t *a, int64_t lda32,
                                        const uint32_t *b, float *c, int64_t ldc, int mr, int nr,
                                        const bf16_epi *e)
{
    __m512 s00 = _mm512_setzero_ps(), s01 = s00, s02 = s00, s03 = s00;
    __m512 s10 = s00, s11 = s00, s12 = s00, s13 = s00, s20 = s00, s21 = s00, s22 = s00, s23 = s00;
    __m512 s30 = s00, s31 = s00, s32 = s00, s33 = s00, s40 = s00, s41 = s00, s42 = s00, s43 = s00;
    __m512 s50 = s00, s51 = s00, s52 = s00, s53 = s00;
    const uint32_t *a0 = a, *a1 = a + lda32, *a2 = a + 2 * lda32, *a3 = a + 3 * lda32,
                   *a4 = a + 4 * lda32, *a5 = a + 5 * lda32;
    if (e->next && e->acc)
        for (int r = 0; r < MR; r++)
            for (int q = 0; q < 4; q++)
                _mm_prefetch((const char *)(e->next + r * ldc + 16 * q), _MM_HINT_T0);
    const char *pf = e->pf;
    for (int64_t p = 0; p < kpn; p++) {
        const uint32_t *bp = b + p * NR;
        if (pf && !(p & 7)) /* one 64-byte line of each row per 8 pairs */
            for (int r = 0; r < e->pf_rows; r++)
                _mm_prefetch(pf + r * e->pf_ld + p * 8, _MM_HINT_T1);
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp), b1 = (__m512bh)_mm512_loadu_si512(bp + 16);
        __m512bh b2 = (__m512bh)_mm512_loadu_si512(bp + 32);
        __m512bh b3 = (__m512bh)_mm512_loadu_si512(bp + 48);
        __m512bh x;
#define ROW(xr, r0, r1, r2, r3)                                                                    \
    x = (__m512bh)_mm512_set1_epi32((int)xr[p]);                                                   \
    r0 = _mm512_dpbf16_ps(r0, x, b0);                                                              \
    r1 = _mm512_dpbf16_ps(r1, x, b1);                                                              \
    r2 = _mm512_dpbf16_ps(r2, x, b2);                                                              \
    r3 = _mm512_dpbf16_ps(r3, x, b3)
        ROW(a0, s00, s01, s02, s03);
        ROW(a1, s10, s11, s12, s13);
        ROW(a2, s20, s21, s22, s23);
        ROW(a3, s30, s31, s32, s33);
        ROW(a4, s40, s41, s42, s43);
        ROW(a5, s50, s51, s52, s53);
#undef ROW
    }
    __m512 rows[MR][4] = {{s00, s01, s02, s03}, {s10, s11, s12, s13}, {s20, s21, s22, s23},
                          {s30, s31, s32, s33}, {s40, s41, s42, s43}, {s50, s51, s52, s53}};
    const __m512 va = _mm512_set1_ps(e->alpha);
    for (int q = 0; q < 4; q++) {
        int cols = nr - 16 * q;
        if (cols <= 0) break;
        __mmask16 m = cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1);
        __m512 bq = e->bias ? _mm512_maskz_loadu_ps(m, e->bias + 16 * q) : _mm512_setzero_ps();
        for (int r = 0; r < mr; r++) {
            float *cp = c + r * ldc + 16 * q;
            __m512 v = rows[r][q];
            if (e->alpha != 1.0f) v = _mm512_mul_ps(v, va);
            if (e->bias) v = _mm512_add_ps(bq, v);
            if (cols >= 16) { /* plain loads/stores where the tile is whole (masked ones cost
                               * more on Zen) */
                if (e->acc) v = _mm512_add_ps(_mm512_loadu_ps(cp), v);
                _mm512_storeu_ps(cp, v);
            } else {
                if (e->acc) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, cp), v);
                _mm512_mask_storeu_ps(cp, m, v);
            }
        }
    }
}

static bf16_kernel pick_kernel(cpu_isa isa)
{
    switch (isa) {
    case CPU_ISA_AVX512:
        return kernel_avx512;
    case CPU_ISA_AVX2:
        return kernel_avx2;
    default:
        return kernel_scalar;
    }
}

/* ---- f32 -> bf16 rows ------------------------------------------------------------------- */

/* Round to nearest even, NaN -> 0x7FC0: bit for bit ltx_f32_to_bf16 (dtype.c), 16 at a time;
 * M rows of K (row strides lds floats, ldd halves), the ISA checked once per call. */
TARGET_AVX512 static inline __m256i round16_avx512(__m512i u)
{
    __m512i r = _mm512_add_epi32(
        u, _mm512_add_epi32(_mm512_set1_epi32(0x7FFF),
                            _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1))));
    r = _mm512_srli_epi32(r, 16);
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF)),
                                            _mm512_set1_epi32(0x7F800000));
    return _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(r, nan, _mm512_set1_epi32(0x7FC0)));
}

TARGET_AVX512 static void round_rows_avx512(uint16_t *dst, int64_t ldd, const float *src,
                                            int64_t lds, int64_t M, int64_t K)
{
    for (int64_t m = 0; m < M; m++) {
        const float *s = src + m * lds;
        uint16_t *d = dst + m * ldd;
        int64_t i = 0;
        for (; i + 16 <= K; i += 16)
            _mm256_storeu_si256((__m256i *)(d + i), round16_avx512(_mm512_loadu_si512(s + i)));
        if (i < K) {
            __mmask16 k = (__mmask16)((1u << (K - i)) - 1);
            _mm256_mask_storeu_epi16(
                d + i, k, round16_avx512(_mm512_castps_si512(_mm512_maskz_loadu_ps(k, s + i))));
        }
    }
}

static void round_rows(uint16_t *dst, int64_t ldd, const float *src, int64_t lds, int64_t M,
                       int64_t K)
{
    if (ltx_cpu_isa_active() == CPU_ISA_AVX512) {
        round_rows_avx512(dst, ldd, src, lds, M, K);
        return;
    }
    for (int64_t m = 0; m < M; m++)
        ltx_f32_to_bf16_row(dst + m * ldd, src + m * lds, (size_t)K);
}

static void round_row(uint16_t *dst, const float *src, size_t n)
{
    round_rows(dst, 0, src, 0, 1, (int64_t)n);
}

/* ---- packing ------------------------------------------------------------------------------ */

typedef struct gemm_job {
    int64_t M, N, K, Kp; /* Kp: k pairs */
    const float *A;
    int64_t lda;
    const cpu_wsource *w;
    float *C;
    int64_t ldc;
    bool accumulate;
    const float *bias; /* N values each output starts from (as C preset to them), or NULL */
    bool w_direct;     /* bf16, unit column stride, scale 1: pairs read in place */
    int64_t nc, mc, n_nblk, n_tasks;
    int64_t kc;       /* k per packed block (even) */
    uint32_t *bpack;  /* per worker: (nc / NR) * (kc / 2) * NR pairs */
    uint32_t *rowbuf; /* per worker: ROWBUF_WORDS (16 converted rows, f32 row, zero row) */
    uint32_t *abuf;   /* per worker: one MR x kc / 2 strip of A in bf16 pairs */
    cpu_isa isa;
    bf16_kernel kern;
    atomic_llong next;
} gemm_job;

/* dst[p * NR + i] = rows[i][p] for 16 rows i and kpn pairs p (one 16-column slice of a
 * micro-panel). Portable version. */
static void transpose16_scalar(uint32_t *dst, const uint32_t *const *rows, int64_t p0, int64_t kpn)
{
    for (int64_t p = p0; p < kpn; p++)
        for (int i = 0; i < 16; i++)
            dst[p * NR + i] = rows[i][p];
}

/* The same with 16 x 16 in-register transposes of 32-bit pairs (4 shuffle stages). */
TARGET_AVX512 static void transpose16_avx512(uint32_t *dst, const uint32_t *const *rows,
                                             int64_t kpn)
{
    int64_t p0 = 0;
    for (; p0 + 16 <= kpn; p0 += 16) {
        __m512i r[16], t[16];
        for (int i = 0; i < 16; i++)
            r[i] = _mm512_loadu_si512(rows[i] + p0);
        for (int i = 0; i < 16; i += 2) {
            t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
            t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
        }
        for (int i = 0; i < 16; i += 4) {
            r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
            r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
            r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
            r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
        }
        /* r[4g + j] holds pair (4q + j) of rows 4g..4g+3 in 128-bit lane q */
        for (int j = 0; j < 4; j++) {
            __m512i a = _mm512_shuffle_i32x4(r[j], r[4 + j], 0x88); /* lanes 0,2 | 0,2 */
            __m512i b = _mm512_shuffle_i32x4(r[j], r[4 + j], 0xDD); /* lanes 1,3 | 1,3 */
            __m512i c = _mm512_shuffle_i32x4(r[8 + j], r[12 + j], 0x88);
            __m512i d = _mm512_shuffle_i32x4(r[8 + j], r[12 + j], 0xDD);
            t[j] = _mm512_shuffle_i32x4(a, c, 0x88);      /* pair j      */
            t[8 + j] = _mm512_shuffle_i32x4(a, c, 0xDD);  /* pair 8 + j  */
            t[4 + j] = _mm512_shuffle_i32x4(b, d, 0x88);  /* pair 4 + j  */
            t[12 + j] = _mm512_shuffle_i32x4(b, d, 0xDD); /* pair 12 + j */
        }
        for (int q = 0; q < 16; q++)
            _mm512_storeu_si512(dst + (p0 + q) * NR, t[q]);
    }
    transpose16_scalar(dst, rows, p0, kpn);
}

/* Packs W[n0:n1, pairs p0:p1] into micro-panels (see top); columns past n1 are zero. Rows are
 * read in place when W is bf16 with pairs 4-byte aligned, else converted into rowbuf. */
static void pack_w(const gemm_job *j, uint32_t *dst, uint32_t *rowbuf, int64_t n0, int64_t n1,
                   int64_t p0, int64_t p1)
{
    int64_t kpn = p1 - p0, k0 = 2 * p0, k1 = 2 * p1 < j->K ? 2 * p1 : j->K;
    int64_t kch = j->kc / 2;
    float *wide = (float *)(rowbuf + 16 * kch); /* kc floats */
    uint32_t *zero = rowbuf + 16 * kch + j->kc; /* kc / 2 zero pairs */
    memset(zero, 0, (size_t)kpn * sizeof *zero);
    for (int64_t g0 = n0; g0 < n1; g0 += 16) {
        const uint32_t *rows[16];
        for (int i = 0; i < 16; i++) {
            int64_t n = g0 + i;
            uint32_t *own = rowbuf + i * kch;
            const uint16_t *src =
                j->w_direct ? (const uint16_t *)j->w->base + n * j->w->rs + k0 : NULL;
            if (n >= n1) {
                rows[i] = zero;
            } else if (src && k1 - k0 == 2 * kpn && !((uintptr_t)src & 3)) {
                rows[i] = (const uint32_t *)src;
            } else {
                uint16_t *h = (uint16_t *)own;
                if (src) {
                    memcpy(h, src, (size_t)(k1 - k0) * sizeof *h);
                } else {
                    ltx_cpu_widen_rows(wide, j->w, n, n + 1, k0, k1);
                    round_row(h, wide, (size_t)(k1 - k0));
                }
                if (k1 - k0 < 2 * kpn) h[k1 - k0] = 0; /* odd K: pad the last pair */
                rows[i] = own;
            }
        }
        uint32_t *panel = dst + ((g0 - n0) / NR) * kpn * NR + (g0 - n0) % NR;
        if (j->isa == CPU_ISA_AVX512)
            transpose16_avx512(panel, rows, kpn);
        else
            transpose16_scalar(panel, rows, 0, kpn);
    }
}

/* One MR-row strip (A at a, row stride lda32 pairs, mr live rows) over the micro-panels of
 * ncols columns (panel q at b + q * bstride) into C at c (row stride ldc), finished as e says
 * (bias: the strip's first column's bias, NULL none). The first call prefetches the next
 * strip's A rows (pf, pf_ld bytes apart, pf_rows of them; NULL none) into L2, the later calls
 * the next C tile: the next panel's, after the last one the next strip's first (cn; NULL
 * none). */
static void run_strip(bf16_kernel kern, int64_t kp, const uint32_t *a, int64_t lda32,
                      const uint32_t *b, int64_t bstride, float *c, float *cn, int64_t ldc, int mr,
                      int64_t ncols, const char *pf, int64_t pf_ld, int pf_rows, const float *bias,
                      bf16_epi *e)
{
    for (int64_t nb = 0; nb < ncols; nb += NR) {
        int nr = ncols - nb < NR ? (int)(ncols - nb) : NR;
        bool first = nb == 0;
        e->bias = bias ? bias + nb : NULL;
        e->pf = first && pf_rows > 0 ? pf : NULL;
        e->pf_ld = pf_ld;
        e->pf_rows = pf_rows;
        e->next = first ? NULL : nb + NR < ncols ? c + nb + NR : cn;
        kern(kp, a, lda32, b + (nb / NR) * bstride, c + nb, ldc, mr, nr, e);
    }
}

/* Takes tasks (column block x row chunk) until none is left. Per k block: packs the task's W
 * block, then per MR-row strip rounds A's f32 rows to bf16 into the worker's L1 strip (each
 * strip once per column block: ~1 % of its micro-kernel time, and no M x K bf16 copy of A) and
 * runs the strip over the block's micro-panels. The first call of a strip prefetches the next
 * strip's f32 rows into L2, the later ones the next C tile (when it is added to). */
static void gemm_tasks(void *ctx, int64_t begin, int64_t end, int worker)
{
    (void)begin;
    (void)end;
    gemm_job *j = ctx;
    int64_t kch = j->kc / 2;
    uint32_t *bp = j->bpack + (size_t)worker * (size_t)(j->nc / NR) * (size_t)kch * NR;
    uint32_t *rowbuf = j->rowbuf + (size_t)worker * ROWBUF_WORDS(j->kc);
    uint32_t *abuf = j->abuf + (size_t)worker * MR * (size_t)kch;
    for (;;) {
        int64_t t = atomic_fetch_add(&j->next, 1);
        if (t >= j->n_tasks) break;
        int64_t n0 = (t % j->n_nblk) * j->nc, n1 = n0 + j->nc < j->N ? n0 + j->nc : j->N;
        int64_t m0 = (t / j->n_nblk) * j->mc, m1 = m0 + j->mc < j->M ? m0 + j->mc : j->M;
        for (int64_t p0 = 0; p0 < j->Kp; p0 += kch) {
            int64_t p1 = p0 + kch < j->Kp ? p0 + kch : j->Kp, kpn = p1 - p0;
            int64_t k0 = 2 * p0, kh = (2 * p1 < j->K ? 2 * p1 : j->K) - k0;
            pack_w(j, bp, rowbuf, n0, n1, p0, p1);
            bf16_epi e = {j->accumulate || p0 > 0, 1.0f, NULL, NULL, NULL, 0, 0};
            for (int64_t m = m0; m < m1; m += MR) {
                int mr = m1 - m < MR ? (int)(m1 - m) : MR;
                const float *arow = j->A + m * j->lda + k0;
                /* rows past mr keep earlier finite values (or the zeros of the allocation):
                 * read by the kernel, never stored */
                for (int r = 0; r < mr; r++) {
                    uint16_t *d = (uint16_t *)(abuf + r * kpn);
                    round_row(d, arow + r * j->lda, (size_t)kh);
                    if (kh & 1) d[kh] = 0; /* odd K: pad the last pair */
                }
                int64_t mn = m + MR < m1 ? m + MR : m1;
                int nmr = m1 - mn < MR ? (int)(m1 - mn) : MR;
                run_strip(j->kern, kpn, abuf, kpn, bp, kpn * NR, j->C + m * j->ldc + n0,
                          nmr > 0 ? j->C + mn * j->ldc + n0 : NULL, j->ldc, mr, n1 - n0,
                          (const char *)(arow + MR * j->lda), j->lda * (int64_t)sizeof(float), nmr,
                          j->bias && p0 == 0 ? j->bias + n0 : NULL, &e);
            }
        }
    }
}

static ltx_status gemm_run(ltx_threadpool *pool, int64_t M, int64_t N, int64_t K, const float *A,
                           int64_t lda, const cpu_wsource *w, const float *bias, float *C,
                           int64_t ldc, bool accumulate)
{
    if (M <= 0 || N <= 0) return LTX_OK;
    if (K <= 0) {
        for (int64_t m = 0; m < M && !accumulate; m++)
            if (bias)
                memcpy(C + m * ldc, bias, (size_t)N * sizeof *C);
            else
                memset(C + m * ldc, 0, (size_t)N * sizeof *C);
        return LTX_OK;
    }
    int nw = ltx_threadpool_size(pool);
    gemm_job j = {.M = M,
                  .N = N,
                  .K = K,
                  .Kp = (K + 1) / 2,
                  .A = A,
                  .lda = lda,
                  .w = w,
                  .C = C,
                  .ldc = ldc,
                  .accumulate = accumulate,
                  .bias = accumulate ? NULL : bias,
                  .isa = ltx_cpu_isa_active()};
    j.kern = pick_kernel(j.isa);
    j.w_direct = w->dt == LTX_BF16 && (w->cs == 1 || K == 1) && w->scale == 1.0f;
    j.nc = ltx_cpu_gemm_col_block(N, nw, NR, NC_MAX);
    j.n_nblk = (N + j.nc - 1) / j.nc;
    j.mc = ltx_cpu_gemm_row_chunk(M, j.n_nblk, nw, MR);
    j.n_tasks = j.n_nblk * ((M + j.mc - 1) / j.mc);

    /* k per block: the 512 KiB of an NC_MAX x KC block, more k for narrower blocks (fewer
     * passes over C), at most KC_MAX and not past K */
    j.kc = (int64_t)KC * NC_MAX / j.nc;
    j.kc = j.kc > KC_MAX ? KC_MAX : j.kc;
    j.kc = j.kc > 2 * j.Kp ? 2 * j.Kp : j.kc;
    size_t bsz = (size_t)(j.nc / NR) * (size_t)(j.kc / 2) * NR * sizeof(uint32_t);
    j.bpack = aligned_alloc(64, bsz * (size_t)nw);
    j.rowbuf = malloc((size_t)nw * ROWBUF_WORDS(j.kc) * sizeof(uint32_t));
    size_t asz = (size_t)nw * MR * (size_t)(j.kc / 2) * sizeof(uint32_t);
    j.abuf = aligned_alloc(64, (asz + 63) / 64 * 64);
    if (!j.abuf || !j.bpack || !j.rowbuf) {
        free(j.abuf), free(j.bpack), free(j.rowbuf);
        return ltx_err(LTX_ERR_OOM, "linear (bf16): no memory for %lld x %lld packed operands",
                       (long long)M, (long long)K);
    }
    memset(j.abuf, 0, asz);
    atomic_init(&j.next, 0);
    ltx_threadpool_for(pool, nw, 1, gemm_tasks, &j);
    free(j.abuf), free(j.bpack), free(j.rowbuf);
    return LTX_OK;
}

ltx_status ltx_cpu_bf16_gemm(ltx_threadpool *pool, int64_t M, int64_t N, int64_t K, const float *A,
                             int64_t lda, const cpu_wsource *w, float *C, int64_t ldc,
                             bool accumulate)
{
    return gemm_run(pool, M, N, K, A, lda, w, NULL, C, ldc, accumulate);
}

ltx_status ltx_cpu_bf16_gemm_bias(ltx_threadpool *pool, int64_t M, int64_t N, int64_t K,
                                  const float *A, int64_t lda, const cpu_wsource *w,
                                  const float *bias, float *C, int64_t ldc)
{
    return gemm_run(pool, M, N, K, A, lda, w, bias, C, ldc, false);
}

/* ---- building blocks for callers that pack themselves (attention) --------------------------- */

int64_t ltx_cpu_bf16_panel_words(int64_t N, int64_t K)
{
    return (N + NR - 1) / NR * NR * ((K + 1) / 2);
}

int64_t ltx_cpu_bf16_rows_pad(int64_t M)
{
    return (M + MR - 1) / MR * MR;
}

void ltx_cpu_bf16_round_rows(uint16_t *dst, const float *src, int64_t M, int64_t K, int64_t lds)
{
    int64_t ld16 = 2 * ((K + 1) / 2);
    for (int64_t m = 0; m < ltx_cpu_bf16_rows_pad(M); m++) {
        uint16_t *d = dst + m * ld16;
        if (m < M) {
            round_row(d, src + m * lds, (size_t)K);
            if (K < ld16) d[K] = 0;
        } else {
            memset(d, 0, (size_t)ld16 * sizeof *d);
        }
    }
}

void ltx_cpu_bf16_pack_nk(uint32_t *dst, const float *src, int64_t N, int64_t K, int64_t lds,
                          uint32_t *rowbuf)
{
    int64_t kpn = (K + 1) / 2;
    cpu_isa isa = ltx_cpu_isa_active();
    for (int64_t g0 = 0; g0 < (N + NR - 1) / NR * NR; g0 += 16) {
        const uint32_t *rows[16];
        int64_t nr = N - g0 < 16 ? (N - g0 > 0 ? N - g0 : 0) : 16;
        ltx_cpu_bf16_round_block((uint16_t *)rowbuf, 2 * kpn, src + g0 * lds, lds, nr, K);
        for (int i = 0; i < 16; i++) {
            uint32_t *own = rowbuf + i * kpn;
            if (i >= nr) memset(own, 0, (size_t)kpn * sizeof *own);
            rows[i] = own;
        }
        uint32_t *panel = dst + (g0 / NR) * kpn * NR + g0 % NR;
        if (isa == CPU_ISA_AVX512)
            transpose16_avx512(panel, rows, kpn);
        else
            transpose16_scalar(panel, rows, 0, kpn);
    }
}

void ltx_cpu_bf16_round_block(uint16_t *dst, int64_t ldd, const float *src, int64_t lds, int64_t M,
                              int64_t K)
{
    round_rows(dst, ldd, src, lds, M, K);
    for (int64_t m = 0; (K & 1) && m < M; m++)
        dst[m * ldd + K] = 0;
}

/* d[n] = lo[n] | hi[n] << 16 for 64 columns (one k pair of a micro-panel). */
TARGET_AVX512 static void interleave64_avx512(uint32_t *d, const uint16_t *lo, const uint16_t *hi)
{
    for (int n = 0; n < NR; n += 16) {
        __m512i l = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(lo + n)));
        __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(hi + n)));
        _mm512_storeu_si512(d + n, _mm512_or_si512(l, _mm512_slli_epi32(h, 16)));
    }
}

void ltx_cpu_bf16_pack_kn_slice(uint32_t *dst, const float *src, int64_t lds, int64_t k0,
                                int64_t k1, int64_t K, int64_t N, uint16_t *rowbuf)
{
    int64_t kpn = (K + 1) / 2, npad = (N + NR - 1) / NR * NR;
    uint16_t *r0 = rowbuf, *r1 = rowbuf + npad;
    memset(rowbuf, 0, (size_t)(2 * npad) * sizeof *rowbuf);
    bool avx512 = ltx_cpu_isa_active() == CPU_ISA_AVX512;
    for (int64_t k = k0; k < k1; k += 2) {
        int64_t p = k / 2;
        round_rows(r0, npad, src + (k - k0) * lds, lds, k + 1 < K ? 2 : 1, N);
        if (k + 1 >= K) memset(r1, 0, (size_t)N * sizeof *r1);
        for (int64_t n0 = 0; n0 < npad; n0 += NR) {
            uint32_t *d = dst + (n0 / NR) * kpn * NR + p * NR;
            if (avx512)
                interleave64_avx512(d, r0 + n0, r1 + n0);
            else
                for (int n = 0; n < NR; n++)
                    d[n] = (uint32_t)r0[n0 + n] | (uint32_t)r1[n0 + n] << 16;
        }
    }
}

void ltx_cpu_bf16_pack_kn(uint32_t *dst, const float *src, int64_t K, int64_t N, int64_t lds,
                          uint16_t *rowbuf)
{
    ltx_cpu_bf16_pack_kn_slice(dst, src, lds, 0, K, K, N, rowbuf);
}

void ltx_cpu_bf16_gemm_packed(int64_t M, int64_t N, int64_t K, const uint16_t *A16,
                              const uint32_t *Bp, int64_t bstride, float *C, int64_t ldc,
                              bool accumulate, float alpha)
{
    int64_t kpn = (K + 1) / 2;
    if (bstride <= 0) bstride = kpn * NR;
    bf16_kernel kern = pick_kernel(ltx_cpu_isa_active());
    bf16_epi e = {accumulate, alpha, NULL, NULL, NULL, 0, 0};
    for (int64_t nb = 0; nb < N; nb += NR) {
        int nr = N - nb < NR ? (int)(N - nb) : NR;
        const uint32_t *b = Bp + (nb / NR) * bstride;
        for (int64_t m = 0; m < M; m += MR) {
            int mr = M - m < MR ? (int)(M - m) : MR;
            kern(kpn, (const uint32_t *)A16 + m * kpn, kpn, b, C + m * ldc + nb, ldc, mr, nr, &e);
        }
    }
}

/* ---- threaded product of pre-rounded A and pre-packed B (convolution) ---------------------- */

typedef struct a16_job {
    int64_t M, N, kpn; /* kpn: k pairs of A16's rows and of Bp's panels */
    const uint32_t *A;
    const uint32_t *Bp;
    float *C;
    int64_t ldc;
    bool accumulate;
    int64_t ncb, mc, n_nblk, n_tasks;
    bf16_kernel kern;
    atomic_llong next;
} a16_job;

#define A16_KB 256 /* k pairs per block: a 512-column block of B is 512 KiB (L2) */

static void a16_tasks(void *ctx, int64_t begin, int64_t end, int worker)
{
    (void)begin, (void)end, (void)worker;
    a16_job *j = ctx;
    for (;;) {
        int64_t t = atomic_fetch_add(&j->next, 1);
        if (t >= j->n_tasks) break;
        int64_t n0 = (t % j->n_nblk) * j->ncb, n1 = n0 + j->ncb < j->N ? n0 + j->ncb : j->N;
        int64_t m0 = (t / j->n_nblk) * j->mc, m1 = m0 + j->mc < j->M ? m0 + j->mc : j->M;
        for (int64_t p0 = 0; p0 < j->kpn; p0 += A16_KB) {
            int64_t kp = j->kpn - p0 < A16_KB ? j->kpn - p0 : A16_KB;
            bf16_epi e = {j->accumulate || p0 > 0, 1.0f, NULL, NULL, NULL, 0, 0};
            for (int64_t m = m0; m < m1; m += MR) {
                int mr = m1 - m < MR ? (int)(m1 - m) : MR;
                const uint32_t *a = j->A + m * j->kpn + p0;
                int64_t mn = m + MR < m1 ? m + MR : m1;
                int nmr = m1 - mn < MR ? (int)(m1 - mn) : MR;
                /* A16 rows hold 4 bytes a pair where the kernel's prefetch steps 8 (f32 rows):
                 * it fetches the next strip's pairs of this k block and as many beyond (the
                 * next k block's, read later) */
                run_strip(j->kern, kp, a, j->kpn, j->Bp + (n0 / NR) * j->kpn * NR + p0 * NR,
                          j->kpn * NR, j->C + m * j->ldc + n0,
                          nmr > 0 ? j->C + mn * j->ldc + n0 : NULL, j->ldc, mr, n1 - n0,
                          (const char *)(a + MR * j->kpn), j->kpn * (int64_t)sizeof(uint32_t), nmr,
                          NULL, &e);
            }
        }
    }
}

void ltx_cpu_bf16_gemm_a16(ltx_threadpool *pool, int64_t M, int64_t N, int64_t K,
                           const uint16_t *A16, const uint32_t *Bp, float *C, int64_t ldc,
                           bool accumulate)
{
    if (M <= 0 || N <= 0 || K <= 0) return;
    int nw = ltx_threadpool_size(pool);
    a16_job j = {.M = M,
                 .N = N,
                 .kpn = (K + 1) / 2,
                 .A = (const uint32_t *)A16,
                 .Bp = Bp,
                 .C = C,
                 .ldc = ldc,
                 .accumulate = accumulate,
                 .kern = pick_kernel(ltx_cpu_isa_active())};
    int64_t npad = (N + NR - 1) / NR * NR;
    j.ncb = npad < NC_MAX ? npad : NC_MAX;
    j.n_nblk = (N + j.ncb - 1) / j.ncb;
    j.mc = ltx_cpu_gemm_row_chunk(M, j.n_nblk, nw, MR);
    j.n_tasks = j.n_nblk * ((M + j.mc - 1) / j.mc);
    atomic_init(&j.next, 0);
    ltx_threadpool_for(pool, nw, 1, a16_tasks, &j);
}
