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
 *   At LTX_PRECISION_BF16 both products run on the packed bf16 kernels (cpu_gemm_bf16.c):
 *   Q, K, P and V rounded to bf16, f32 accumulation, the scale applied to S in f32; the
 *   softmax statistics, the mask and O stay f32. With unit column strides a worker packs the
 *   K and V of a whole head once (Tk x D bf16 each) and keeps them while its next tasks are of
 *   the same head (tasks are numbered query block fastest), instead of once per query block.
 * softmax: max-subtracted, f32, libm expf; all -inf rows give NaN like torch.softmax.
 *
 * ref: packages/ltx-core/src/ltx_core/model/transformer/attention.py (PytorchAttention:
 *      torch.nn.functional.scaled_dot_product_attention on q/k/v viewed (B, T, H, D) and
 *      transposed; a 2-D/3-D mask gains batch and head dims).
 */
#include "backend/cpu/cpu_gemm.h"
#include "backend/cpu/cpu_internal.h"

#include <cblas.h>
#include <math.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define ATTN_BQ 256 /* query rows per task (fewer when that leaves workers idle) */
#define ATTN_BK 512 /* keys per block */
#define LANES   16  /* accumulator lanes for vectorisable reductions */

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
ltx_status cpu_softmax(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src)
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
    bool bf16;           /* LTX_PRECISION_BF16: both products on the bf16 kernels */
    bool bf16_whole;     /* bf16 and unit column strides: K/V packed once per head, not per block */
    int64_t bf16_off[5]; /* bf16: word offsets in the scratch of q16, p16, kpan, vpan, rowbuf */
    int64_t *head_tag;   /* bf16_whole: per worker, b * Hk + hk of the panels it holds (-1 none) */
    atomic_llong next;
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

static void attn_task(attn_job *j, int64_t task, float *ws, int64_t *tag)
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
    uint32_t *w32 = (uint32_t *)ws;
    uint16_t *q16 = (uint16_t *)(w32 + j->bf16_off[0]), *p16 = (uint16_t *)(w32 + j->bf16_off[1]);
    uint32_t *kpan = w32 + j->bf16_off[2], *vpan = w32 + j->bf16_off[3];
    uint32_t *rowbuf = w32 + j->bf16_off[4];
    if (j->bf16) cpu_bf16_round_rows(q16, Q, nq, D, ldq);
    int64_t kpd = (D + 1) / 2, vstride = 0; /* whole-head V panels: words between panels */
    if (j->bf16_whole) {                    /* consecutive tasks of a worker share the head */
        vstride = ((j->Tk + 1) / 2) * 64;
        if (*tag != b * j->Hk + hk) {
            cpu_bf16_pack_nk(kpan, j->k + b * j->ks[0] + hk * j->ks[1], j->Tk, D, j->ks[2],
                             rowbuf);
            cpu_bf16_pack_kn(vpan, j->v + b * j->vs[0] + hk * j->vs[1], j->Tk, Dv, j->vs[2],
                             (uint16_t *)rowbuf);
            *tag = b * j->Hk + hk;
        }
    }
    memset(O, 0, (size_t)(nq * Dv) * sizeof *O);
    for (int64_t r = 0; r < nq; r++) {
        mrow[r] = -INFINITY;
        lrow[r] = 0.0f;
    }
    for (int64_t j0 = 0; j0 < j->Tk; j0 += bk) {
        int64_t nk = j->Tk - j0 < bk ? j->Tk - j0 : bk;
        const float *Kp = j->bf16_whole ? NULL
                                        : blas_rows(j->k + b * j->ks[0] + hk * j->ks[1] +
                                                        j0 * j->ks[2],
                                                    nk, D, j->ks[2], j->ks[3], kbuf, &ldk);
        /* (nq, nk) = scale * Q (nq, D) @ K^T (D, nk) */
        if (j->bf16) { /* bf16 inputs, f32 accumulation; the scale applied in f32 after */
            const uint32_t *kp = kpan + (j->bf16_whole ? (j0 / 64) * kpd * 64 : 0);
            if (!j->bf16_whole) cpu_bf16_pack_nk(kpan, Kp, nk, D, ldk, rowbuf);
            cpu_bf16_gemm_packed(nq, nk, D, q16, kp, 0, S, nk, false);
            for (int64_t e = 0; e < nq * nk; e++)
                S[e] *= j->scale;
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nk, (int)D,
                        j->scale, Q, (int)ldq, Kp, (int)ldk, 0.0f, S, (int)nk);
        }
        if (j->mask) add_mask(j, S, nq, nk, b, h, i0, j0);
        for (int64_t r = 0; r < nq; r++) {
            float *s = S + r * nk;
            float mnew = row_max(s, nk);
            if (isnan(mnew)) { /* NaN in q or k: the row is NaN, as in PyTorch (not "masked") */
                lrow[r] = NAN;
                memset(s, 0, (size_t)nk * sizeof *s);
                continue;
            }
            mnew = mnew > mrow[r] ? mnew : mrow[r];
            if (mnew == -INFINITY) { /* every key so far masked: weights 0, O stays 0 */
                memset(s, 0, (size_t)nk * sizeof *s);
                continue;
            }
            float corr = exp_fast(mrow[r] - mnew); /* 0 when m was -inf */
            lrow[r] = lrow[r] * corr + row_exp_sum(s, nk, mnew);
            mrow[r] = mnew;
            if (corr != 1.0f)
                for (int64_t d = 0; d < Dv; d++)
                    O[r * Dv + d] *= corr;
        }
        const float *Vp = j->bf16_whole ? NULL
                                        : blas_rows(j->v + b * j->vs[0] + hk * j->vs[1] +
                                                        j0 * j->vs[2],
                                                    nk, Dv, j->vs[2], j->vs[3], vbuf, &ldv);
        /* (nq, Dv) += P (nq, nk) @ V (nk, Dv) */
        if (j->bf16) {
            cpu_bf16_round_rows(p16, S, nq, nk, nk);
            const uint32_t *vp = vpan + (j->bf16_whole ? (j0 / 2) * 64 : 0);
            if (!j->bf16_whole) cpu_bf16_pack_kn(vpan, Vp, nk, Dv, ldv, (uint16_t *)rowbuf);
            cpu_bf16_gemm_packed(nq, Dv, nk, p16, vp, vstride, O, Dv, true);
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)Dv, (int)nk, 1.0f,
                        S, (int)nk, Vp, (int)ldv, 1.0f, O, (int)Dv);
        }
    }
    float *out = j->o + ((b * j->H + h) * j->Tq + i0) * Dv; /* o contiguous (B, H, Tq, Dv) */
    for (int64_t r = 0; r < nq; r++) {
        /* fully masked row -> 0; a NaN row stays NaN */
        float inv = lrow[r] > 0.0f ? 1.0f / lrow[r] : isnan(lrow[r]) ? NAN : 0.0f;
        for (int64_t d = 0; d < Dv; d++)
            out[r * Dv + d] = O[r * Dv + d] * inv;
    }
}

static void attn_worker(void *ctx, int64_t begin, int64_t end, int worker)
{
    (void)begin;
    (void)end;
    attn_job *j = ctx;
    float *ws = j->scratch + (size_t)worker * (size_t)j->scratch_per;
    for (;;) {
        int64_t t = atomic_fetch_add(&j->next, 1);
        if (t >= j->ntasks) break;
        attn_task(j, t, ws, j->head_tag ? &j->head_tag[worker] : NULL);
    }
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
    /* S, O, m, l, Q copy, K copy, V copy */
    j.scratch_per = j.bq * j.bk + j.bq * j.Dv + 2 * j.bq + j.bq * j.D + j.bk * j.D + j.bk * j.Dv;
    j.scratch_per = (j.scratch_per + 15) / 16 * 16;
    j.bf16 = cpu_gemm_bf16(be);
    j.bf16_whole = j.bf16 && (j.ks[3] == 1 || j.D == 1) && (j.vs[3] == 1 || j.Dv == 1);
    if (j.bf16) { /* q16, p16 (bf16 rows), K / V panels, pack scratch; 32-bit words */
        int64_t pk = j.bf16_whole ? j.Tk : j.bk; /* keys per packed K / V */
        int64_t npad = (j.Dv + 63) / 64 * 64, sz[5] = {
            cpu_bf16_rows_pad(j.bq) * ((j.D + 1) / 2), cpu_bf16_rows_pad(j.bq) * ((j.bk + 1) / 2),
            cpu_bf16_panel_words(pk, j.D), cpu_bf16_panel_words(j.Dv, pk),
            16 * ((j.D + 1) / 2) > npad ? 16 * ((j.D + 1) / 2) : npad};
        for (int i = 0; i < 5; i++) {
            j.bf16_off[i] = j.scratch_per;
            j.scratch_per += (sz[i] + 15) / 16 * 16;
        }
    }
    j.scratch = malloc((size_t)nw * (size_t)j.scratch_per * sizeof(float));
    if (!j.scratch)
        return ltx_err(LTX_ERR_OOM, "attention: no memory for %d x %lld scratch floats", nw,
                       (long long)j.scratch_per);
    int64_t tags[64];
    if (j.bf16_whole) {
        j.head_tag = nw <= 64 ? tags : malloc(sizeof(int64_t) * (size_t)nw);
        if (!j.head_tag) {
            free(j.scratch);
            return ltx_err(LTX_ERR_OOM, "attention: no memory for %d worker tags", nw);
        }
        for (int i = 0; i < nw; i++)
            j.head_tag[i] = -1;
    }
    atomic_init(&j.next, 0);
    /* Blocks are small: OpenBLAS single-threaded even without a pool (its threads would cost
     * more in wake-ups than they save). */
    int saved = openblas_get_num_threads();
    if (saved != 1) openblas_set_num_threads(1);
    ltx_threadpool_for(be->pool, nw, 1, attn_worker, &j);
    if (saved != 1) openblas_set_num_threads(saved);
    free(j.scratch);
    if (j.head_tag != tags) free(j.head_tag);
    return LTX_OK;
}

/* ltx_backend_ops.attention. In bf16 precision (cpu_gemm_bf16(be)) both products run on the
 * bf16 kernels, which round q, k, v and the probabilities themselves (see the top of the file);
 * scores, softmax and sums stay f32. */
ltx_status cpu_attention(ltx_backend *be, ltx_tensor *o, const ltx_tensor *q, const ltx_tensor *k,
                         const ltx_tensor *v, const ltx_tensor *mask, float scale)
{
    return attention_run(be, o, q, k, v, mask, scale);
}
