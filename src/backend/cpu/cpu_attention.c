/*
 * cpu_attention.c — softmax over the last dim, and scaled dot-product attention computed in
 * blocks with an online softmax (flash-attention style) on OpenBLAS sgemm.
 *
 * attention: for each task (batch b, head h, block of bq <= 256 query rows) and each block of
 *   bk <= 512 keys: S = scale * Q K^T (sgemm), S += mask, the running row max m and sum l are
 *   updated, O is rescaled by exp(m_old - m_new) and O += exp(S - m_new) V (sgemm); finally O / l.
 *   Scratch per worker is bq*bk + (bq + bk)*(D + Dv) + 2*bq floats (0.9 MiB at D = 64) — never
 *   the Tq x Tk matrix. Tasks are shared out dynamically among the pool's workers, each sgemm
 *   single-threaded (OpenBLAS is set to one thread for the op even without a pool: the blocks
 *   are too small for its threads). Block sizes: 256 x 512 measured best of {128..512} x
 *   {256..1024} (~76 GFLOP per CPU-second at B=1, H=16, T=2304, D=64 on this machine's cores).
 *   Inputs are read through their strides: the reference's (B, T, H, D) tensors transposed to
 *   (B, H, T, D) go to sgemm with leading dimension H*D, no copy. Only a non-unit stride in the
 *   last dim (or overlapping rows) makes a per-block copy.
 *   Masks: additive F32 (BF16/F16 too — the reference's x_dtype masks — widened exactly), or
 *   BOOL/U8 where 0 = masked out (-inf) and non-zero = attend (PyTorch's boolean attn_mask
 *   convention); any shape broadcastable to (B, H, Tq, Tk), stride 0 allowed. The reference
 *   builds finite masks (-finfo.max), which behave exactly as in PyTorch (a row masked
 *   everywhere averages V uniformly). Rows whose scores are all -inf give zeros, as PyTorch
 *   >= 2.5's math SDPA (_safe_softmax); PyTorch's CPU flash kernel gives NaN there. A row with
 *   at least one finite score never sees NaN, unless a score is NaN (NaN in q or k): then the
 *   row is NaN, as in PyTorch (NaN weights must not pass for a masked row).
 *   exp is a vectorisable Cephes-style polynomial: relative error < 9e-8 (~1.5 ulp) on
 *   [-87.3, 0], results below FLT_MIN flush to 0.
 *   At LTX_PRECISION_BF16 (attn16_run) both products run on the packed bf16 kernels
 *   (cpu_gemm_bf16.c): Q, K, P and V rounded to bf16 (RNE), f32 accumulation, the scale the
 *   kernel's one f32 product on each finished score; mask, softmax statistics and O stay f32,
 *   P = bf16(exp(s - m)) with l summing the unrounded f32 values. Layout: per batch item and
 *   group of kv heads (packed bytes <= A16_PACK_BYTES, i.e. every head at these sizes) one
 *   parallel pass over token chunks packs q (bf16 rows), K (the kernel's panels) and V (k-pair
 *   panels), reading each input element once along whole token rows; then tasks (head, block
 *   of bq query rows) run strips of A16_SR rows against blocks of A16_BK keys: S strip
 *   (12 x 512 f32, L1) -> mask -> online-softmax update -> one pass exp + sum + bf16 P ->
 *   O strip += P V. The exp: exp_fast on avx2 / scalar; on AVX-512 exp16_avx512 (a shorter
 *   polynomial with vscalefps, relative error <= 4e-7 + |x| 7e-8). Extra memory: the packed
 *   operands (2 bytes per q/k/v element of the group) and ~40 KiB + bq * (Dv + 2) floats per
 *   worker. Measured on this machine (B 1, H 16, T 2304, D 64; loaded, CPU time): ~160-165
 *   GFLOP per CPU-second, ~70 % of the vdpbf16ps peak per CPU-second measured in the same run
 *   (~115-120 before these changes; the products themselves run at the peak, the rest is the
 *   exp, the packing reads of q/k/v and the softmax passes). The avx2 / scalar levels run the
 *   same structure with their kernels, exp_fast and ltx_f32_to_bf16.
 * softmax: max-subtracted, f32, libm expf; all -inf rows give NaN like torch.softmax.
 *
 * ref: packages/ltx-core/src/ltx_core/model/transformer/attention.py (PytorchAttention:
 *      torch.nn.functional.scaled_dot_product_attention on q/k/v viewed (B, T, H, D) and
 *      transposed; a 2-D/3-D mask gains batch and head dims).
 */
#include "backend/cpu/cpu_gemm.h"
#include "backend/cpu/cpu_internal.h"

#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define ATTN_BQ 256 /* query rows per task (fewer when that leaves workers idle) */
#define ATTN_BK 512 /* keys per block */
#define LANES   16  /* accumulator lanes for vectorisable reductions */

#define TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

/* ---- vectorisable exp ------------------------------------------------------------------------ */

/* e^x for x <= 88; x < -87.33654 (incl. -inf) gives 0. ref: Cephes expf (range reduction by
 * ln2 in two parts, degree-6 polynomial). */
static inline float exp_fast(float x)
{
    float xc = x < -87.33654f ? -87.33654f : x;
    xc = xc > 88.0f ? 88.0f : xc;
    /* n = round(x / ln2) by the 1.5 * 2^23 trick (round to nearest in the default FP mode). */
    float t = xc * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union {
        uint32_t u;
        float f;
    } sc;
    sc.u = (uint32_t)((int32_t)n + 127) << 23;
    float y = p * sc.f;
    return x < -87.33654f ? 0.0f : y;
}

/* Largest of s[0..n) (-inf for n = 0), NaN when any s[j] is NaN (max instructions drop NaN
 * operands, so they are tracked on the side). GCC does not vectorise a float max reduction
 * without -ffast-math, hence the intrinsics. */
static float row_max(const float *s, int64_t n)
{
    int64_t j = 0;
    float m = -INFINITY;
    bool nan = false;
#if defined(__AVX512F__)
    __m512 acc = _mm512_set1_ps(-INFINITY);
    __mmask16 un = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 x = _mm512_loadu_ps(s + j);
        un |= _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
        acc = _mm512_max_ps(acc, x);
    }
    m = _mm512_reduce_max_ps(acc);
    nan = un != 0;
#elif defined(__AVX__)
    __m256 acc = _mm256_set1_ps(-INFINITY), un = _mm256_setzero_ps();
    for (; j + 8 <= n; j += 8) {
        __m256 x = _mm256_loadu_ps(s + j);
        un = _mm256_or_ps(un, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
        acc = _mm256_max_ps(acc, x);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, acc);
    for (int l = 0; l < 8; l++)
        m = m > lanes[l] ? m : lanes[l];
    nan = _mm256_movemask_ps(un) != 0;
#endif
    for (; j < n; j++) {
        nan = nan || s[j] != s[j];
        m = m > s[j] ? m : s[j];
    }
    return nan ? NAN : m;
}

/* s[j] = exp(s[j] - m) in place; returns the sum. */
static float row_exp_sum(float *s, int64_t n, float m)
{
    float acc[LANES] = {0};
    int64_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) {
            float e = exp_fast(s[j + l] - m);
            s[j + l] = e;
            acc[l] += e;
        }
    float sum = 0.0f;
    for (; j < n; j++) {
        s[j] = exp_fast(s[j] - m);
        sum += s[j];
    }
    for (int l = 0; l < LANES; l++)
        sum += acc[l];
    return sum;
}

/* bf16 attention: p[j] = bf16(exp(s[j] - m)) (round to nearest even), returns the f32 sum of
 * the unrounded values. Portable: exp_fast and ltx_f32_to_bf16. */
static float exp_row_bf16_c(const float *s, int64_t n, float m, uint16_t *p)
{
    float acc[LANES] = {0};
    int64_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) {
            float e = exp_fast(s[j + l] - m);
            p[j + l] = ltx_f32_to_bf16(e);
            acc[l] += e;
        }
    float sum = 0.0f;
    for (; j < n; j++) {
        float e = exp_fast(s[j] - m);
        p[j] = ltx_f32_to_bf16(e);
        sum += e;
    }
    for (int l = 0; l < LANES; l++)
        sum += acc[l];
    return sum;
}

/* AVX-512: 16 lanes of exp16_avx512 — relative error <= 4e-7 + |x| 7e-8 (the rounding of
 * x log2 e), vs exp_fast's 9e-8: far below the bf16 rounding of P (2^-9); below -104 it gives
 * 0, and subnormals instead of 0 below FLT_MIN. vcvtne2ps2bf16 rounds to nearest even like
 * ltx_f32_to_bf16 (it flushes subnormal results to 0, as vdpbf16ps would treat them anyway). */
TARGET_AVX512 static inline __m512 exp16_avx512(__m512 x)
{
    /* t = x log2(e) (x clamped at -104: 2^-150 scales to 0), n = round(t), f = t - n exact in
     * [-0.5, 0.5]; 2^f = 1 + f * g(f) with g a degree-4 Chebyshev fit of (2^f - 1) / f (our own
     * fit; relative error <= 2.7e-7 in f32 Horner, exactly 1 at f = 0); 2^n by vscalefps. */
    __m512 t = _mm512_mul_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)),
                             _mm512_set1_ps(1.44269504088896341f));
    __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(t, n);
    __m512 g = _mm512_set1_ps(1.339086681e-3f);
    g = _mm512_fmadd_ps(g, f, _mm512_set1_ps(9.666373953e-3f));
    g = _mm512_fmadd_ps(g, f, _mm512_set1_ps(5.550356954e-2f));
    g = _mm512_fmadd_ps(g, f, _mm512_set1_ps(2.402234823e-1f));
    g = _mm512_fmadd_ps(g, f, _mm512_set1_ps(6.931471825e-1f));
    return _mm512_scalef_ps(_mm512_fmadd_ps(g, f, _mm512_set1_ps(1.0f)), n);
}

TARGET_AVX512 static float exp_row_bf16_avx512(const float *s, int64_t n, float m, uint16_t *p)
{
    const __m512 vm = _mm512_set1_ps(m);
    __m512 sum0 = _mm512_setzero_ps(), sum1 = sum0;
    int64_t j = 0;
    for (; j + 32 <= n; j += 32) { /* full vectors: plain stores (masked ones are slow on Zen) */
        __m512 e0 = exp16_avx512(_mm512_sub_ps(_mm512_loadu_ps(s + j), vm));
        __m512 e1 = exp16_avx512(_mm512_sub_ps(_mm512_loadu_ps(s + j + 16), vm));
        sum0 = _mm512_add_ps(sum0, e0);
        sum1 = _mm512_add_ps(sum1, e1);
        _mm512_storeu_si512(p + j, (__m512i)_mm512_cvtne2ps_pbh(e1, e0));
    }
    for (; j < n; j += 16) {
        __mmask16 k = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
        __m512 e = exp16_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + j), vm));
        e = _mm512_maskz_mov_ps(k, e);
        sum0 = _mm512_add_ps(sum0, e);
        _mm256_mask_storeu_epi16(p + j, k, (__m256i)_mm512_cvtneps_pbh(e));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1));
}

static float exp_row_bf16(const float *s, int64_t n, float m, uint16_t *p)
{
    if (ltx_cpu_isa_active() == CPU_ISA_AVX512) return exp_row_bf16_avx512(s, n, m, p);
    return exp_row_bf16_c(s, n, m, p);
}

float ltx_cpu_exp_row_bf16(const float *s, int64_t n, float m, uint16_t *p)
{
    return exp_row_bf16(s, n, m, p);
}

/* ---- softmax ------------------------------------------------------------------------------- */

typedef struct softmax_job {
    const float *src;
    float *dst;
    const ltx_tensor *t; /* src descriptor (shape, strides) */
    int64_t L;
} softmax_job;

static void softmax_rows(void *ctx, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    softmax_job *j = ctx;
    const ltx_tensor *t = j->t;
    int nd = t->ndim;
    int64_t L = j->L, ls = t->stride[nd - 1];
    for (int64_t r = begin; r < end; r++) {
        int64_t off = 0, rem = r;
        for (int d = nd - 2; d >= 0; d--) {
            off += (rem % t->shape[d]) * t->stride[d];
            rem /= t->shape[d];
        }
        const float *s = j->src + off;
        float *o = j->dst + r * L;
        float m = -INFINITY;
        for (int64_t i = 0; i < L; i++) {
            o[i] = s[i * ls];
            m = o[i] > m ? o[i] : m;
        }
        float sum = 0.0f;
        for (int64_t i = 0; i < L; i++) {
            o[i] = expf(o[i] - m);
            sum += o[i];
        }
        for (int64_t i = 0; i < L; i++)
            o[i] /= sum;
    }
}

/* ltx_backend_ops.softmax. src may be strided (any dims); dst contiguous of src's shape. */
ltx_status ltx_cpu_softmax(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src)
{
    char b1[96], b2[96];
    if (src->dtype != LTX_F32 || dst->dtype != LTX_F32 || !ltx_tensor_same_shape(dst, src) ||
        !ltx_tensor_is_contiguous(dst) || src->ndim < 1)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "softmax: want F32 src and contiguous F32 dst of one shape (src %s, dst %s)",
                       ltx_tensor_shape_str(src, b1, sizeof b1),
                       ltx_tensor_shape_str(dst, b2, sizeof b2));
    int64_t L = src->shape[src->ndim - 1];
    if (L == 0) return LTX_OK;
    softmax_job j = {cpu_ptr(src), cpu_ptr(dst), src, L};
    int64_t rows = ltx_tensor_numel(src) / L;
    int64_t grain = 16384 / L + 1;
    ltx_threadpool_for(be->pool, rows, grain, softmax_rows, &j);
    return LTX_OK;
}

/* ---- attention ------------------------------------------------------------------------------ */

typedef struct attn_job {
    const float *q, *k, *v;
    float *o;
    int64_t B, H, Hk, Tq, Tk, D, Dv;
    int64_t qs[4], ks[4], vs[4]; /* element strides */
    const char *mask;            /* NULL: none */
    ltx_dtype mdt;
    int64_t ms[4]; /* broadcast strides (0 where the mask has size 1) */
    float scale;
    int64_t bq, bk, nqb, ntasks;
    float *scratch;
    int64_t scratch_per; /* floats per worker */
    atomic_llong next;
    /* LTX_PRECISION_BF16 (attn16_run): operands packed once per batch item and group of kv
     * heads [hk0, hk1) — per query head q16 rows (q_rows of q_ld halves), per kv head K panels
     * (k_words) and V panels (v_words) */
    bool bf16;
    int64_t b, hk0, hk1, q_ld, q_rows, k_words, v_words, a16_task_f;
    uint16_t *q16;
    uint32_t *kpk, *vpk;
} attn_job;

/* Block of `rows` rows of D elements starting at p (row stride rs, col stride cs): a BLAS
 * pointer + leading dim, copying into buf when the layout does not fit. */
static const float *blas_rows(const float *p, int64_t rows, int64_t D, int64_t rs, int64_t cs,
                              float *buf, int64_t *ld)
{
    if ((cs == 1 || D == 1) && (rows == 1 || rs >= D)) {
        *ld = rows == 1 ? D : rs;
        return p;
    }
    for (int64_t r = 0; r < rows; r++)
        for (int64_t d = 0; d < D; d++)
            buf[r * D + d] = p[r * rs + d * cs];
    *ld = D;
    return buf;
}

/* S (nq, nk) += mask block for rows i0.., keys j0.. of (b, h). */
static void add_mask(const attn_job *j, float *S, int64_t nq, int64_t nk, int64_t b, int64_t h,
                     int64_t i0, int64_t j0)
{
    size_t esz = ltx_dtype_size(j->mdt);
    int64_t m3 = j->ms[3];
    for (int64_t r = 0; r < nq; r++) {
        const char *row =
            j->mask + (size_t)(b * j->ms[0] + h * j->ms[1] + (i0 + r) * j->ms[2] + j0 * m3) * esz;
        float *s = S + r * nk;
        if (j->mdt == LTX_F32) {
            const float *mf = (const float *)row;
            if (m3 == 1)
                for (int64_t c = 0; c < nk; c++)
                    s[c] += mf[c];
            else
                for (int64_t c = 0; c < nk; c++)
                    s[c] += mf[c * m3];
        } else if (j->mdt == LTX_BF16 || j->mdt == LTX_F16) { /* widened exactly */
            const uint16_t *mh = (const uint16_t *)row;
            for (int64_t c = 0; c < nk; c++)
                s[c] +=
                    j->mdt == LTX_BF16 ? ltx_bf16_to_f32(mh[c * m3]) : ltx_f16_to_f32(mh[c * m3]);
        } else { /* BOOL / U8: 0 = masked */
            const uint8_t *mb = (const uint8_t *)row;
            for (int64_t c = 0; c < nk; c++)
                if (!mb[c * m3]) s[c] = -INFINITY;
        }
    }
}

/* Online-softmax update of row r for one block of scores s (nk, f32, scaled and masked):
 * returns false when the row's weights for this block are all 0 (every key so far masked) or
 * the row is NaN (lrow set to NaN); otherwise updates mrow/lrow, rescales the row of O and
 * leaves mrow[r] as the max to subtract. */
static bool row_update(float *s, int64_t nk, float *mrow, float *lrow, float *O, int64_t Dv,
                       int64_t r, float *corr_out)
{
    float mnew = row_max(s, nk);
    if (isnan(mnew)) { /* NaN in q or k: the row is NaN, as in PyTorch (not "masked") */
        lrow[r] = NAN;
        return false;
    }
    mnew = mnew > mrow[r] ? mnew : mrow[r];
    if (mnew == -INFINITY) return false;   /* every key so far masked: weights 0, O stays 0 */
    float corr = exp_fast(mrow[r] - mnew); /* 0 when m was -inf */
    mrow[r] = mnew;
    if (corr != 1.0f)
        for (int64_t d = 0; d < Dv; d++)
            O[r * Dv + d] *= corr;
    *corr_out = corr;
    return true;
}

/* One key block in f32: S = scale * Q K^T (sgemm), mask, online softmax in S, O += S V. */
static void block_f32(attn_job *j, const float *Q, int64_t ldq, const float *Kp, int64_t ldk,
                      const float *Vp, int64_t ldv, int64_t nq, int64_t nk, float *S, float *O,
                      float *mrow, float *lrow, const int64_t pos[4])
{
    int64_t Dv = j->Dv;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nk, (int)j->D, j->scale, Q,
                (int)ldq, Kp, (int)ldk, 0.0f, S, (int)nk);
    if (j->mask) add_mask(j, S, nq, nk, pos[0], pos[1], pos[2], pos[3]);
    for (int64_t r = 0; r < nq; r++) {
        float *s = S + r * nk, corr;
        if (!row_update(s, nk, mrow, lrow, O, Dv, r, &corr)) {
            memset(s, 0, (size_t)nk * sizeof *s);
            continue;
        }
        lrow[r] = lrow[r] * corr + row_exp_sum(s, nk, mrow[r]);
    }
    /* (nq, Dv) += P (nq, nk) @ V (nk, Dv) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)Dv, (int)nk, 1.0f, S,
                (int)nk, Vp, (int)ldv, 1.0f, O, (int)Dv);
}

/* out (nq, Dv) = O / l per row; a fully masked row (l = 0) gives 0, a NaN row stays NaN. */
static void finish_rows(float *out, const float *O, const float *lrow, int64_t nq, int64_t Dv)
{
    for (int64_t r = 0; r < nq; r++) {
        float inv = lrow[r] > 0.0f ? 1.0f / lrow[r] : isnan(lrow[r]) ? NAN : 0.0f;
        for (int64_t d = 0; d < Dv; d++)
            out[r * Dv + d] = O[r * Dv + d] * inv;
    }
}

static void attn_task(attn_job *j, int64_t task, float *ws)
{
    int64_t qb = task % j->nqb, bh = task / j->nqb;
    int64_t h = bh % j->H, b = bh / j->H;
    int64_t hk = h / (j->H / j->Hk);
    int64_t i0 = qb * j->bq, nq = j->Tq - i0 < j->bq ? j->Tq - i0 : j->bq;
    int64_t D = j->D, Dv = j->Dv, bq = j->bq, bk = j->bk;
    float *S = ws, *O = S + bq * bk, *mrow = O + bq * Dv, *lrow = mrow + bq;
    float *qbuf = lrow + bq, *kbuf = qbuf + bq * D, *vbuf = kbuf + bk * D;

    int64_t ldq, ldk = 0, ldv = 0;
    const float *Q = blas_rows(j->q + b * j->qs[0] + h * j->qs[1] + i0 * j->qs[2], nq, D, j->qs[2],
                               j->qs[3], qbuf, &ldq);
    memset(O, 0, (size_t)(nq * Dv) * sizeof *O);
    for (int64_t r = 0; r < nq; r++) {
        mrow[r] = -INFINITY;
        lrow[r] = 0.0f;
    }
    for (int64_t j0 = 0; j0 < j->Tk; j0 += bk) {
        int64_t nk = j->Tk - j0 < bk ? j->Tk - j0 : bk, pos[4] = {b, h, i0, j0};
        const float *Kp = blas_rows(j->k + b * j->ks[0] + hk * j->ks[1] + j0 * j->ks[2], nk, D,
                                    j->ks[2], j->ks[3], kbuf, &ldk);
        const float *Vp = blas_rows(j->v + b * j->vs[0] + hk * j->vs[1] + j0 * j->vs[2], nk, Dv,
                                    j->vs[2], j->vs[3], vbuf, &ldv);
        block_f32(j, Q, ldq, Kp, ldk, Vp, ldv, nq, nk, S, O, mrow, lrow, pos);
    }
    finish_rows(j->o + ((b * j->H + h) * j->Tq + i0) * Dv, O, lrow, nq, Dv);
}

/* ---- attention at LTX_PRECISION_BF16 --------------------------------------------------------- */

#define A16_CHUNK      64         /* tokens per packing item (one K panel) */
#define A16_SR         12         /* query rows per strip (2 micro-kernel rows) */
#define A16_BK         512        /* keys per block */
#define A16_PACK_BYTES (64 << 20) /* packed q/k/v of a group of kv heads */

/* Rows t0..t0+n of one head of x (element strides xs, head offset base) as f32 rows with unit
 * column stride: in place, or copied into buf (n x D). */
static const float *head_rows(const float *base, const int64_t xs[4], int64_t t0, int64_t n,
                              int64_t D, float *buf, int64_t *ld)
{
    return blas_rows(base + t0 * xs[2], n, D, xs[2], xs[3], buf, ld);
}

/* Packing item: tokens [t0, t0 + A16_CHUNK) of every head of the group — q rows rounded, K
 * rows into their panel, V rows into their pairs. Reads whole token rows of all the group's
 * heads in turn (prefetch-friendly), writes each packed element once. */
static void a16_pack(void *ctx, int64_t begin, int64_t end, int worker)
{
    attn_job *j = ctx;
    int64_t D = j->D, Dv = j->Dv, r = j->H / j->Hk, kpd = (D + 1) / 2;
    float *buf = j->scratch + (size_t)worker * (size_t)j->scratch_per + j->a16_task_f;
    uint32_t *rowbuf = (uint32_t *)(buf + A16_CHUNK * (D > Dv ? D : Dv));
    for (int64_t it = begin; it < end; it++) {
        int64_t t0 = it * A16_CHUNK, ld;
        for (int64_t hk = j->hk0; hk < j->hk1; hk++) {
            for (int64_t h = hk * r; h < (hk + 1) * r && t0 < j->Tq; h++) {
                int64_t n = j->Tq - t0 < A16_CHUNK ? j->Tq - t0 : A16_CHUNK;
                const float *src =
                    head_rows(j->q + j->b * j->qs[0] + h * j->qs[1], j->qs, t0, n, D, buf, &ld);
                uint16_t *dst = j->q16 + (h - j->hk0 * r) * j->q_rows * j->q_ld + t0 * j->q_ld;
                ltx_cpu_bf16_round_block(dst, j->q_ld, src, ld, n, D);
            }
            if (t0 >= j->Tk) continue;
            int64_t n = j->Tk - t0 < A16_CHUNK ? j->Tk - t0 : A16_CHUNK, g = hk - j->hk0;
            const float *src =
                head_rows(j->k + j->b * j->ks[0] + hk * j->ks[1], j->ks, t0, n, D, buf, &ld);
            ltx_cpu_bf16_pack_nk(j->kpk + g * j->k_words + (t0 / 64) * kpd * 64, src, n, D, ld,
                                 rowbuf);
            src = head_rows(j->v + j->b * j->vs[0] + hk * j->vs[1], j->vs, t0, n, Dv, buf, &ld);
            ltx_cpu_bf16_pack_kn_slice(j->vpk + g * j->v_words, src, ld, t0, t0 + n, j->Tk, Dv,
                                       (uint16_t *)rowbuf);
        }
    }
}

/* Rows [s0, s0 + sr) of a task against keys [j0, j0 + nk): S = scale * (q16 K^T) on the packed
 * kernels (the scale is the kernel's one f32 product per sum), mask, then per row the
 * online-softmax update and one pass writing exp(s - m) as bf16 P (the f32 values summed
 * into l), O += P V. S (sr x nk f32) and P stay in L1/L2. */
static void strip_bf16(attn_job *j, const int64_t pos[4], int64_t s0, int64_t sr, int64_t nk,
                       float *ws, float *O, float *mrow, float *lrow)
{
    int64_t b = pos[0], h = pos[1], i0 = pos[2], j0 = pos[3], Dv = j->Dv;
    int64_t hl = h - j->hk0 * (j->H / j->Hk), g = h / (j->H / j->Hk) - j->hk0;
    int64_t kpd = (j->D + 1) / 2, ld16 = 2 * ((nk + 1) / 2);
    float *S = ws;
    uint16_t *p16 = (uint16_t *)(S + A16_SR * j->bk);
    const uint16_t *q16 = j->q16 + (hl * j->q_rows + i0 + s0) * j->q_ld;
    const uint32_t *kp = j->kpk + g * j->k_words + (j0 / 64) * kpd * 64;
    const uint32_t *vp = j->vpk + g * j->v_words + (j0 / 2) * 64;
    ltx_cpu_bf16_gemm_packed(sr, nk, j->D, q16, kp, 0, S, nk, false, j->scale);
    if (j->mask) add_mask(j, S, sr, nk, b, h, i0 + s0, j0);
    for (int64_t r = 0; r < sr; r++) {
        float *s = S + r * nk, corr;
        uint16_t *pr = p16 + r * ld16;
        if (!row_update(s, nk, mrow, lrow, O, Dv, s0 + r, &corr)) {
            memset(pr, 0, (size_t)ld16 * sizeof *pr);
            continue;
        }
        lrow[s0 + r] = lrow[s0 + r] * corr + exp_row_bf16(s, nk, mrow[s0 + r], pr);
        if (nk < ld16) pr[nk] = 0;
    }
    ltx_cpu_bf16_gemm_packed(sr, Dv, nk, p16, vp, ((j->Tk + 1) / 2) * 64, O + s0 * Dv, Dv, true,
                             1.0f);
}

/* Task = (query head of the group, block of bq query rows), all keys. */
static void task_bf16(attn_job *j, int64_t task, float *ws)
{
    int64_t qb = task % j->nqb, h = j->hk0 * (j->H / j->Hk) + task / j->nqb;
    int64_t i0 = qb * j->bq, nq = j->Tq - i0 < j->bq ? j->Tq - i0 : j->bq, Dv = j->Dv;
    float *O = ws, *mrow = O + j->bq * Dv, *lrow = mrow + j->bq, *sws = lrow + j->bq;
    memset(O, 0, (size_t)(nq * Dv) * sizeof *O);
    for (int64_t r = 0; r < nq; r++) {
        mrow[r] = -INFINITY;
        lrow[r] = 0.0f;
    }
    for (int64_t j0 = 0; j0 < j->Tk; j0 += j->bk) {
        int64_t nk = j->Tk - j0 < j->bk ? j->Tk - j0 : j->bk, pos[4] = {j->b, h, i0, j0};
        for (int64_t s0 = 0; s0 < nq; s0 += A16_SR)
            strip_bf16(j, pos, s0, nq - s0 < A16_SR ? nq - s0 : A16_SR, nk, sws, O, mrow, lrow);
    }
    finish_rows(j->o + ((j->b * j->H + h) * j->Tq + i0) * Dv, O, lrow, nq, Dv);
}

/* Takes tasks until none is left: task_bf16 at LTX_PRECISION_BF16, else attn_task. */
static void attn_worker(void *ctx, int64_t begin, int64_t end, int worker)
{
    (void)begin;
    (void)end;
    attn_job *j = ctx;
    float *ws = j->scratch + (size_t)worker * (size_t)j->scratch_per;
    for (;;) {
        int64_t t = atomic_fetch_add(&j->next, 1);
        if (t >= j->ntasks) break;
        if (j->bf16)
            task_bf16(j, t, ws);
        else
            attn_task(j, t, ws);
    }
}

/* The bf16 attention (see the top of the file): per batch item and group of kv heads (sized so
 * the packed operands stay within A16_PACK_BYTES), pack, then run the tasks. */
static ltx_status attn16_run(ltx_backend *be, attn_job *j)
{
    int nw = ltx_threadpool_size(be->pool);
    int64_t r = j->H / j->Hk, D = j->D, Dv = j->Dv;
    j->q_ld = 2 * ((D + 1) / 2);
    j->q_rows = j->Tq + 8; /* the kernels read up to 5 rows past a strip (results unused) */
    j->k_words = ltx_cpu_bf16_panel_words(j->Tk, D);
    j->v_words = ltx_cpu_bf16_panel_words(Dv, j->Tk);
    int64_t per_kv = r * j->q_rows * j->q_ld / 2 + j->k_words + j->v_words; /* 32-bit words */
    int64_t G = A16_PACK_BYTES / 4 / per_kv;
    G = G < 1 ? 1 : G > j->Hk ? j->Hk : G;
    /* per worker: O, m, l (task); S strip, P strip (bk + 2 halves per row); then the packing
     * buffers (apart, so the P rows the kernels read past a strip stay finite) */
    j->a16_task_f = j->bq * Dv + 2 * j->bq + A16_SR * j->bk + (A16_SR + 8) * (j->bk + 2) / 2;
    int64_t pack_f = A16_CHUNK * (D > Dv ? D : Dv) + 16 * ((D + 1) / 2) + (Dv + 63) / 64 * 64;
    j->scratch_per = (j->a16_task_f + pack_f + 15) / 16 * 16;
    j->scratch = malloc((size_t)nw * (size_t)j->scratch_per * sizeof(float));
    uint32_t *pk = malloc((size_t)(G * per_kv) * sizeof *pk);
    if (!j->scratch || !pk) {
        free(j->scratch);
        free(pk);
        return ltx_err(LTX_ERR_OOM, "attention (bf16): no memory for %lld packed kv heads",
                       (long long)G);
    }
    j->q16 = (uint16_t *)pk;
    j->kpk = pk + G * r * j->q_rows * j->q_ld / 2;
    j->vpk = j->kpk + G * j->k_words;
    for (int64_t i = 0; i < nw; i++) /* P rows past a strip: read by the kernels, kept finite */
        memset(j->scratch + i * j->scratch_per, 0, (size_t)j->scratch_per * sizeof(float));
    for (int64_t g = 0; g < G * r; g++) /* q rows past Tq */
        memset(j->q16 + (g * j->q_rows + j->Tq) * j->q_ld, 0,
               (size_t)((j->q_rows - j->Tq) * j->q_ld) * sizeof *j->q16);
    int64_t chunks = ((j->Tq > j->Tk ? j->Tq : j->Tk) + A16_CHUNK - 1) / A16_CHUNK;
    for (j->b = 0; j->b < j->B; j->b++)
        for (j->hk0 = 0; j->hk0 < j->Hk; j->hk0 += G) {
            j->hk1 = j->hk0 + G < j->Hk ? j->hk0 + G : j->Hk;
            ltx_threadpool_for(be->pool, chunks, 1, a16_pack, j);
            j->ntasks = (j->hk1 - j->hk0) * r * j->nqb;
            atomic_store(&j->next, 0);
            ltx_threadpool_for(be->pool, nw, 1, attn_worker, j);
        }
    free(j->scratch);
    free(pk);
    return LTX_OK;
}

/* Checks shapes and fills the broadcast strides of the mask. */
static ltx_status attn_check(attn_job *j, const ltx_tensor *o, const ltx_tensor *q,
                             const ltx_tensor *k, const ltx_tensor *v, const ltx_tensor *mask)
{
    char b1[96], b2[96], b3[96], b4[96];
    bool ok = q->ndim == 4 && k->ndim == 4 && v->ndim == 4 && o->ndim == 4 && q->dtype == LTX_F32 &&
              k->dtype == LTX_F32 && v->dtype == LTX_F32 && o->dtype == LTX_F32 &&
              ltx_tensor_is_contiguous(o);
    if (ok) {
        j->B = q->shape[0], j->H = q->shape[1], j->Tq = q->shape[2], j->D = q->shape[3];
        j->Hk = k->shape[1], j->Tk = k->shape[2], j->Dv = v->shape[3];
        ok = k->shape[0] == j->B && v->shape[0] == j->B && v->shape[1] == j->Hk &&
             v->shape[2] == j->Tk && k->shape[3] == j->D && j->Hk > 0 && j->H % j->Hk == 0 &&
             o->shape[0] == j->B && o->shape[1] == j->H && o->shape[2] == j->Tq &&
             o->shape[3] == j->Dv;
    }
    if (!ok)
        return ltx_err(
            LTX_ERR_INVALID_ARG,
            "attention: want F32 q (B,H,Tq,D), k (B,Hk,Tk,D), v (B,Hk,Tk,Dv), "
            "contiguous o (B,H,Tq,Dv), H %% Hk == 0; got q %s k %s v %s o %s",
            ltx_tensor_shape_str(q, b1, sizeof b1), ltx_tensor_shape_str(k, b2, sizeof b2),
            ltx_tensor_shape_str(v, b3, sizeof b3), ltx_tensor_shape_str(o, b4, sizeof b4));
    for (int d = 0; d < 4; d++) {
        j->qs[d] = q->stride[d];
        j->ks[d] = k->stride[d];
        j->vs[d] = v->stride[d];
        j->ms[d] = 0;
    }
    if (!mask) return LTX_OK;
    const int64_t full[4] = {j->B, j->H, j->Tq, j->Tk};
    ok = mask->ndim <= 4 &&
         (mask->dtype == LTX_F32 || mask->dtype == LTX_BF16 || mask->dtype == LTX_F16 ||
          mask->dtype == LTX_BOOL || mask->dtype == LTX_U8);
    for (int d = 0; ok && d < mask->ndim; d++) {
        int fd = d + 4 - mask->ndim;
        if (mask->shape[d] == 1) continue;
        ok = mask->shape[d] == full[fd];
        j->ms[fd] = mask->stride[d];
    }
    if (!ok)
        return ltx_err(
            LTX_ERR_INVALID_ARG,
            "attention: mask %s is not F32/BF16/F16/BOOL/U8 broadcastable to (%lld, %lld, %lld, "
            "%lld)",
            ltx_tensor_shape_str(mask, b1, sizeof b1), (long long)j->B, (long long)j->H,
            (long long)j->Tq, (long long)j->Tk);
    j->mask = cpu_ptr(mask);
    j->mdt = mask->dtype;
    return LTX_OK;
}

/* ltx_backend_ops.attention. mask may be NULL. Writes all of o; q, k, v, mask are only read.
 * Per-call scratch (see top of file) is freed before returning. */
static ltx_status attention_run(ltx_backend *be, ltx_tensor *o, const ltx_tensor *q,
                                const ltx_tensor *k, const ltx_tensor *v, const ltx_tensor *mask,
                                float scale)
{
    attn_job j = {
        .q = cpu_ptr(q), .k = cpu_ptr(k), .v = cpu_ptr(v), .o = cpu_ptr(o), .scale = scale};
    LTX_TRY(attn_check(&j, o, q, k, v, mask));
    if (ltx_tensor_numel(o) == 0) return LTX_OK;
    if (j.Tk == 0 || j.D == 0) { /* no keys (all weights 0) or empty dot products */
        if (j.D == 0) return ltx_err(LTX_ERR_INVALID_ARG, "attention: head dim D is 0");
        memset(j.o, 0, ltx_tensor_nbytes(o));
        return LTX_OK;
    }
    int nw = ltx_threadpool_size(be->pool);
    j.bk = j.Tk < ATTN_BK ? j.Tk : ATTN_BK;
    j.bq = j.Tq < ATTN_BQ ? j.Tq : ATTN_BQ;
    /* Keep every worker busy: at least 4 tasks per worker while blocks stay >= 32 rows. */
    while (j.bq > 32 && j.B * j.H * ((j.Tq + j.bq - 1) / j.bq) < 4 * nw)
        j.bq /= 2;
    j.nqb = (j.Tq + j.bq - 1) / j.bq;
    j.ntasks = j.B * j.H * j.nqb;
    if (ltx_cpu_gemm_bf16(be)) {
        j.bf16 = true;
        j.bk = j.Tk < A16_BK ? j.Tk : A16_BK;
        return attn16_run(be, &j);
    }
    /* S, O, m, l, Q copy, K copy, V copy */
    j.scratch_per = j.bq * j.bk + j.bq * j.Dv + 2 * j.bq + j.bq * j.D + j.bk * j.D + j.bk * j.Dv;
    j.scratch_per = (j.scratch_per + 15) / 16 * 16;
    j.scratch = malloc((size_t)nw * (size_t)j.scratch_per * sizeof(float));
    if (!j.scratch)
        return ltx_err(LTX_ERR_OOM, "attention: no memory for %d x %lld scratch floats", nw,
                       (long long)j.scratch_per);
    atomic_init(&j.next, 0);
    /* Blocks are small: OpenBLAS single-threaded even without a pool (its threads would cost
     * more in wake-ups than they save). */
    int saved = openblas_get_num_threads();
    if (saved != 1) openblas_set_num_threads(1);
    ltx_threadpool_for(be->pool, nw, 1, attn_worker, &j);
    if (saved != 1) openblas_set_num_threads(saved);
    free(j.scratch);
    return LTX_OK;
}

/* ltx_backend_ops.attention. In bf16 precision (ltx_cpu_gemm_bf16(be)) both products run on the
 * bf16 kernels, which round q, k, v and the probabilities themselves (see the top of the file);
 * scores, softmax and sums stay f32. */
ltx_status ltx_cpu_attention(ltx_backend *be, ltx_tensor *o, const ltx_tensor *q,
                             const ltx_tensor *k, const ltx_tensor *v, const ltx_tensor *mask,
                             float scale)
{
    return attention_run(be, o, q, k, v, mask, scale);
}
