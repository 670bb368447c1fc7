/*
 * cpu_elementwise.c — CPU copy, fill, unary, binary and axpby ops (see backend.h for the
 * contracts). Reduce and pad live in cpu_reduce.c.
 *
 * Every op walks its operands with cpu_iter (strided views, stride-0 broadcasting, strided
 * outputs such as a slice of a concat target) and runs on the backend's thread pool.
 * Compute dtype: f64 when any operand is f64 (allowed only where caps.f64), else f32, matching
 * PyTorch's type promotion of f32 with f64. Operands already in the compute dtype are read in
 * place (vectorisable loops for contiguous rows); others (bf16/f16/...) are converted through
 * small per-segment buffers.
 *
 * Numerics follow PyTorch's CPU kernels formula by formula (ref: aten/src/ATen/native/cpu/
 * UnaryOpsKernel.cpp, BinaryOpsKernel.cpp, Activation.cpp): a scalar operand is first rounded to
 * the compute dtype, "x * a + b" is two roundings, "x / a" is a true division. The build uses
 * ISO C11 (-std=c11, no GNU extensions), under which GCC defaults to -ffp-contract=off, so no
 * multiply-add is fused behind our back (tests/ops/test_ops_elementwise.c checks SCALE bit for
 * bit). Transcendentals use libm (torch uses SLEEF: results agree to ~1 ulp, not bitwise).
 */
#include "backend/cpu/cpu_iter.h"

#include <math.h>
#include <string.h>

#define CHUNK 256 /* elements per conversion buffer */

/* ---- shared helpers ---------------------------------------------------------------------- */

/* Copies n elements of size esz from a strided source into contiguous dst. */
static void gather(void *dst, const char *src, size_t esz, int64_t stride, int64_t n)
{
    if (stride == 1) {
        memcpy(dst, src, (size_t)n * esz);
        return;
    }
    switch (esz) {
    case 4:
        for (int64_t i = 0; i < n; i++)
            ((uint32_t *)dst)[i] = *(const uint32_t *)(src + 4 * i * stride);
        break;
    case 2:
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)dst)[i] = *(const uint16_t *)(src + 2 * i * stride);
        break;
    case 8:
        for (int64_t i = 0; i < n; i++)
            ((uint64_t *)dst)[i] = *(const uint64_t *)(src + 8 * i * stride);
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            memcpy((char *)dst + i * (int64_t)esz, src + (int64_t)esz * i * stride, esz);
    }
}

/* Copies n contiguous elements into a strided destination. */
static void scatter(char *dst, int64_t stride, const void *src, size_t esz, int64_t n)
{
    if (stride == 1) {
        memcpy(dst, src, (size_t)n * esz);
        return;
    }
    switch (esz) {
    case 4:
        for (int64_t i = 0; i < n; i++)
            *(uint32_t *)(dst + 4 * i * stride) = ((const uint32_t *)src)[i];
        break;
    case 2:
        for (int64_t i = 0; i < n; i++)
            *(uint16_t *)(dst + 2 * i * stride) = ((const uint16_t *)src)[i];
        break;
    case 8:
        for (int64_t i = 0; i < n; i++)
            *(uint64_t *)(dst + 8 * i * stride) = ((const uint64_t *)src)[i];
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            memcpy(dst + (int64_t)esz * i * stride, (const char *)src + i * (int64_t)esz, esz);
    }
}

/* Loads n strided elements of tensor t (element offset off) as dtype `ct` into contiguous out. */
static void load_as(void *out, ltx_dtype ct, const ltx_tensor *t, int64_t off, int64_t stride,
                    int64_t n)
{
    size_t esz = ltx_dtype_size(t->dtype);
    const char *p = (const char *)cpu_ptr(t) + off * (int64_t)esz;
    if (t->dtype == ct) {
        gather(out, p, esz, stride, n);
        return;
    }
    _Alignas(64) unsigned char tmp[CHUNK * 8];
    gather(tmp, p, esz, stride, n);
    ltx_convert(out, ct, tmp, t->dtype, (size_t)n);
}

/* Stores n contiguous values of dtype ct into tensor t (element offset off, strided). */
static void store_from(ltx_tensor *t, int64_t off, int64_t stride, const void *in, ltx_dtype ct,
                       int64_t n)
{
    size_t esz = ltx_dtype_size(t->dtype);
    char *p = (char *)cpu_ptr(t) + off * (int64_t)esz;
    if (t->dtype == ct) {
        scatter(p, stride, in, esz, n);
        return;
    }
    _Alignas(64) unsigned char tmp[CHUNK * 8];
    ltx_convert(tmp, t->dtype, in, ct, (size_t)n);
    scatter(p, stride, tmp, esz, n);
}

static bool is_float_dt(ltx_dtype t)
{
    return t == LTX_F32 || t == LTX_F64 || t == LTX_BF16 || t == LTX_F16 || t == LTX_F8E4M3 ||
           t == LTX_F8E5M2;
}

/* Picks the compute dtype for float operands ts[0..n) and checks the device supports it. */
static ltx_status compute_dtype(ltx_backend *be, const ltx_tensor *const *ts, int n, const char *op,
                                ltx_dtype *ct)
{
    *ct = LTX_F32;
    for (int k = 0; k < n; k++) {
        if (!is_float_dt(ts[k]->dtype))
            return ltx_err(LTX_ERR_INVALID_ARG, "%s: operand %d has non-float dtype %s", op, k,
                           ltx_dtype_name(ts[k]->dtype));
        LTX_TRY(ltx_cpu_check_dtype(be, ts[k]->dtype, op));
        if (ts[k]->dtype == LTX_F64) *ct = LTX_F64;
    }
    if (*ct == LTX_F64 && !be->caps.f64)
        return ltx_err(LTX_ERR_UNSUPPORTED, "%s: device %s has no float64 math", op,
                       be->device_name);
    return LTX_OK;
}

/* ---- copy / fill ------------------------------------------------------------------------- */

typedef struct copy_ctx {
    ltx_tensor *dst;
    const ltx_tensor *src;
} copy_ctx;

static void copy_seg(void *vctx, const int64_t *off, int64_t n, const int64_t *inner, int worker)
{
    (void)worker;
    copy_ctx *c = vctx;
    size_t dsz = ltx_dtype_size(c->dst->dtype), ssz = ltx_dtype_size(c->src->dtype);
    char *d = (char *)cpu_ptr(c->dst) + off[0] * (int64_t)dsz;
    const char *s = (const char *)cpu_ptr(c->src) + off[1] * (int64_t)ssz;
    if (c->dst->dtype == c->src->dtype) {
        if (inner[0] == 1) {
            gather(d, s, ssz, inner[1], n);
            return;
        }
        for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
            _Alignas(64) unsigned char tmp[CHUNK * 8];
            int64_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
            gather(tmp, s + i0 * inner[1] * (int64_t)ssz, ssz, inner[1], m);
            scatter(d + i0 * inner[0] * (int64_t)dsz, inner[0], tmp, dsz, m);
        }
        return;
    }
    for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
        _Alignas(64) unsigned char a[CHUNK * 8], b[CHUNK * 8];
        int64_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
        const char *sp = s + i0 * inner[1] * (int64_t)ssz;
        const void *from = sp;
        if (inner[1] != 1) {
            gather(a, sp, ssz, inner[1], m);
            from = a;
        }
        char *dp = d + i0 * inner[0] * (int64_t)dsz;
        if (inner[0] == 1) {
            ltx_convert(dp, c->dst->dtype, from, c->src->dtype, (size_t)m);
        } else {
            ltx_convert(b, c->dst->dtype, from, c->src->dtype, (size_t)m);
            scatter(dp, inner[0], b, dsz, m);
        }
    }
}

/* Transposing copies (same dtype; src contiguous along a dim j other than the iterator's
 * innermost dim L): 32x32 tiles over (j, L) so both sides stay in cache. */
#define TILE 16
typedef struct tcopy_ctx {
    const cpu_iter *it;
    char *d;
    const char *s;
    size_t esz;
    int j, L, nouter;
    int outer[LTX_MAX_DIMS];
    int64_t ntile_j;
} tcopy_ctx;

static void tcopy_items(void *vctx, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    tcopy_ctx *c = vctx;
    const cpu_iter *it = c->it;
    int j = c->j, L = c->L;
    int64_t dj = it->stride[0][j], dl = it->stride[0][L], sj = it->stride[1][j],
            sl = it->stride[1][L];
    int64_t nj = it->shape[j], nl = it->shape[L];
    for (int64_t item = begin; item < end; item++) {
        int64_t o = item / c->ntile_j, j0 = (item % c->ntile_j) * TILE;
        int64_t j1 = j0 + TILE < nj ? j0 + TILE : nj, od = 0, os = 0;
        for (int k = c->nouter - 1; k >= 0; k--) {
            int dim = c->outer[k];
            int64_t i = o % it->shape[dim];
            o /= it->shape[dim];
            od += i * it->stride[0][dim];
            os += i * it->stride[1][dim];
        }
        for (int64_t l0 = 0; l0 < nl; l0 += TILE) {
            int64_t l1 = l0 + TILE < nl ? l0 + TILE : nl;
            switch (c->esz) {
#define TCOPY_CASE(SZ, TY)                                                                         \
    case SZ: {                                                                                     \
        TY *dp = (TY *)c->d + od;                                                                  \
        const TY *sp = (const TY *)c->s + os;                                                      \
        for (int64_t a = j0; a < j1; a++)                                                          \
            for (int64_t b = l0; b < l1; b++)                                                      \
                dp[a * dj + b * dl] = sp[a * sj + b * sl];                                         \
        break;                                                                                     \
    }
                TCOPY_CASE(1, uint8_t)
                TCOPY_CASE(2, uint16_t)
                TCOPY_CASE(4, uint32_t)
                TCOPY_CASE(8, uint64_t)
#undef TCOPY_CASE
            default:
                LTX_ASSERT(!"bad element size");
            }
        }
    }
}

/* Returns true when the tiled transposing copy applies (and ran). */
static bool try_tiled_copy(ltx_backend *be, const cpu_iter *it, ltx_tensor *dst,
                           const ltx_tensor *src)
{
    int L = it->ndim - 1;
    if (dst->dtype != src->dtype || it->ndim < 2 || it->stride[1][L] == 1 || it->shape[L] < 8)
        return false;
    int j = -1;
    for (int d = 0; d < L; d++)
        if (it->stride[1][d] == 1 && it->shape[d] >= 8) j = d;
    if (j < 0) return false;
    tcopy_ctx c = {it,
                   cpu_ptr(dst),
                   cpu_ptr(src),
                   ltx_dtype_size(dst->dtype),
                   j,
                   L,
                   0,
                   {0},
                   (it->shape[j] + TILE - 1) / TILE};
    int64_t nout = 1;
    for (int d = 0; d < L; d++)
        if (d != j) {
            c.outer[c.nouter++] = d;
            nout *= it->shape[d];
        }
    ltx_cpu_parallel(be, nout * c.ntile_j, TILE * it->shape[L], tcopy_items, &c);
    return true;
}

/* Any dtype to any dtype (ltx_convert rules); src broadcastable to dst; dst may be strided
 * but not broadcast. Overlapping src/dst memory is not supported. */
/* Block-quantized copies (either side): contiguous tensors of one shape, converted row by row
 * through f32 with the dtype traits; rows are split over the pool. */
typedef struct qcopy_ctx {
    char *d;
    const char *s;
    ltx_dtype dt, st;
    int64_t row; /* elements per row */
} qcopy_ctx;

static void qcopy_rows(void *vctx, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    qcopy_ctx *c = vctx;
    size_t db = ltx_dtype_bytes(c->dt, c->row), sb = ltx_dtype_bytes(c->st, c->row);
    for (int64_t r = begin; r < end; r++)
        ltx_convert(c->d + (size_t)r * db, c->dt, c->s + (size_t)r * sb, c->st, (size_t)c->row);
}

static ltx_status copy_quant(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src)
{
    char b1[96], b2[96];
    if (!ltx_tensor_same_shape(dst, src) || !ltx_tensor_is_contiguous(dst) ||
        !ltx_tensor_is_contiguous(src))
        return ltx_err(LTX_ERR_UNSUPPORTED,
                       "copy: quantized tensors convert only contiguous and of one shape (%s %s "
                       "-> %s)",
                       src->name, ltx_tensor_shape_str(src, b1, sizeof b1),
                       ltx_tensor_shape_str(dst, b2, sizeof b2));
    int64_t n = ltx_tensor_numel(src);
    int64_t row = src->ndim ? src->shape[src->ndim - 1] : 1;
    if (n == 0 || row == 0) return LTX_OK;
    qcopy_ctx c = {cpu_ptr(dst), cpu_ptr(src), dst->dtype, src->dtype, row};
    ltx_threadpool_for(be->pool, n / row, 1 + 65536 / row, qcopy_rows, &c);
    return LTX_OK;
}

ltx_status ltx_cpu_copy(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src)
{
    LTX_TRY(ltx_cpu_check_dtype(be, dst->dtype, "copy"));
    LTX_TRY(ltx_cpu_check_dtype(be, src->dtype, "copy"));
    if (ltx_dtype_is_quant(dst->dtype) || ltx_dtype_is_quant(src->dtype))
        return copy_quant(be, dst, src);
    cpu_iter it;
    const ltx_tensor *ts[2] = {dst, src};
    LTX_TRY(ltx_cpu_iter_init(&it, dst->ndim, dst->shape, 2, ts, true, "copy"));
    if (try_tiled_copy(be, &it, dst, src)) return LTX_OK;
    copy_ctx c = {dst, src};
    ltx_cpu_iter_run(be, &it, dst->dtype == src->dtype ? 1 : 2, copy_seg, &c);
    return LTX_OK;
}

typedef struct fill_ctx {
    ltx_tensor *dst;
    unsigned char val[8];
} fill_ctx;

static void fill_seg(void *vctx, const int64_t *off, int64_t n, const int64_t *inner, int worker)
{
    (void)worker;
    fill_ctx *c = vctx;
    size_t esz = ltx_dtype_size(c->dst->dtype);
    char *d = (char *)cpu_ptr(c->dst) + off[0] * (int64_t)esz;
    int64_t s = inner[0];
    switch (esz) {
    case 4: {
        uint32_t v;
        memcpy(&v, c->val, 4);
        for (int64_t i = 0; i < n; i++)
            *(uint32_t *)(d + 4 * i * s) = v;
        break;
    }
    case 8: {
        uint64_t v;
        memcpy(&v, c->val, 8);
        for (int64_t i = 0; i < n; i++)
            *(uint64_t *)(d + 8 * i * s) = v;
        break;
    }
    default:
        for (int64_t i = 0; i < n; i++)
            memcpy(d + (int64_t)esz * i * s, c->val, esz);
    }
}

/* dst[...] = value converted to dst's dtype (ltx_convert from f64). dst may be strided. */
ltx_status ltx_cpu_fill(ltx_backend *be, ltx_tensor *dst, double value)
{
    LTX_TRY(ltx_cpu_check_dtype(be, dst->dtype, "fill"));
    if (ltx_dtype_is_quant(dst->dtype))
        return ltx_err(LTX_ERR_UNSUPPORTED, "fill: %s tensors are not filled in place",
                       ltx_dtype_name(dst->dtype));
    cpu_iter it;
    const ltx_tensor *ts[1] = {dst};
    LTX_TRY(ltx_cpu_iter_init(&it, dst->ndim, dst->shape, 1, ts, true, "fill"));
    fill_ctx c = {.dst = dst};
    ltx_convert(c.val, dst->dtype, &value, LTX_F64, 1);
    ltx_cpu_iter_run(be, &it, 1, fill_seg, &c);
    return LTX_OK;
}

/* ---- unary ------------------------------------------------------------------------------- */

/* ref: Activation.cpp GeluKernelImpl (tanh): kBeta = sqrt(2) * (2/sqrt(pi)) * 0.5 */
#define GELU_BETA  0.7978845608028654
#define GELU_KAPPA 0.044715

/* UN(T, M): the unary kernel over type T, with M(f) naming the libm function for T. The loop
 * body is repeated for the contiguous case so the compiler can vectorise it. */
#define UN_LOOP(EXPR)                                                                              \
    if (ds == 1 && as == 1) {                                                                      \
        for (int64_t i = 0; i < n; i++) {                                                          \
            num x = a[i];                                                                          \
            d[i] = (EXPR);                                                                         \
        }                                                                                          \
    } else {                                                                                       \
        for (int64_t i = 0; i < n; i++) {                                                          \
            num x = a[i * as];                                                                     \
            d[i * ds] = (EXPR);                                                                    \
        }                                                                                          \
    }                                                                                              \
    break

#define DEFINE_UNARY(NAME, T, M, FE, FT)                                                           \
    static void NAME(ltx_unary_op op, double p0, double p1, T *d, int64_t ds, const T *a,          \
                     int64_t as, int64_t n)                                                        \
    {                                                                                              \
        typedef T num;                                                                             \
        const T c0 = (T)p0, c1 = (T)p1, one = 1, half = (T)0.5;                                    \
        const T beta = (T)GELU_BETA, kappa = (T)GELU_KAPPA, rsq2 = (T)0.70710678118654752440;      \
        switch (op) {                                                                              \
        case LTX_UNARY_NEG:                                                                        \
            UN_LOOP(-x);                                                                           \
        case LTX_UNARY_EXP:                                                                        \
            UN_LOOP(M(exp)(x));                                                                    \
        case LTX_UNARY_LOG:                                                                        \
            UN_LOOP(M(log)(x));                                                                    \
        case LTX_UNARY_SQRT:                                                                       \
            UN_LOOP(M(sqrt)(x));                                                                   \
        case LTX_UNARY_RSQRT:                                                                      \
            UN_LOOP(one / M(sqrt)(x));                                                             \
        case LTX_UNARY_SIN:                                                                        \
            UN_LOOP(M(sin)(x));                                                                    \
        case LTX_UNARY_COS:                                                                        \
            UN_LOOP(M(cos)(x));                                                                    \
        case LTX_UNARY_TANH:                                                                       \
            UN_LOOP(M(tanh)(x));                                                                   \
        case LTX_UNARY_SIGMOID:                                                                    \
            UN_LOOP(one / (one + FE(-x)));                                                         \
        case LTX_UNARY_SILU:                                                                       \
            UN_LOOP(x / (one + FE(-x)));                                                           \
        case LTX_UNARY_GELU_TANH:                                                                  \
            UN_LOOP((half * x) * (one + FT(beta * (x + kappa * (x * x * x)))));                    \
        case LTX_UNARY_GELU_ERF:                                                                   \
            UN_LOOP((x * half) * (one + M(erf)(x * rsq2)));                                        \
        case LTX_UNARY_RELU:                                                                       \
            UN_LOOP(x > 0 ? x : (x != x ? x : 0));                                                 \
        case LTX_UNARY_LEAKY_RELU:                                                                 \
            UN_LOOP(x > 0 ? x : x * c0);                                                           \
        case LTX_UNARY_ABS:                                                                        \
            UN_LOOP(M(fabs)(x));                                                                   \
        case LTX_UNARY_SQUARE:                                                                     \
            UN_LOOP((x * x));                                                                      \
        case LTX_UNARY_SCALE:                                                                      \
            UN_LOOP((x * c0) + c1);                                                                \
        case LTX_UNARY_DIVS:                                                                       \
            UN_LOOP(x / c0);                                                                       \
        case LTX_UNARY_RECIP:                                                                      \
            UN_LOOP(one / x);                                                                      \
        case LTX_UNARY_CLAMP:                                                                      \
            UN_LOOP(x < c0 ? c0 : (x > c1 ? c1 : x));                                              \
        case LTX_UNARY_ROUND_BF16:                                                                 \
            UN_LOOP((num)ltx_round_bf16((float)x));                                                \
        default:                                                                                   \
            LTX_ASSERT(!"unary op out of range");                                                  \
        }                                                                                          \
    }

#define MF(fn) fn##f
#define MD(fn) fn
/* exp for the f32 activations (sigmoid, SiLU, GELU-tanh), branch-free so their loops
 * vectorise (libm expf does not): Cody-Waite reduction by ln 2, Cephes minimax polynomial,
 * 2^n by exponent bits; ~1 ulp on [-87.3, 88.7], 0 below, +Inf above, NaN stays NaN. torch uses
 * SLEEF's 1-ulp vector expf here, so results agree to ~1 ulp as with libm. */
static inline float exp_fast(float x)
{
    float xc = (x >= -87.3f && x <= 88.7f) ? x : (x > 0 ? 88.7f : -87.3f); /* NaN -> -87.3 */
    float n = rintf(xc * 1.44269504088896341f);
    float r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
                4.1665795894e-2f) *
                   r +
               1.6666665459e-1f) *
                  r +
              5.0000001201e-1f;
    p = (p * (r * r) + r) + 1.0f;
    union {
        int32_t i;
        float f;
    } u;
    u.i = (int32_t)((uint32_t)((int32_t)n + 127) << 23); /* n + 127 in [1, 255] */
    float y = p * u.f;
    y = x > 88.7f ? INFINITY : (x < -87.3f ? 0.0f : y);
    return x != x ? x : y;
}

/* tanh(u) = 1 - 2 / (exp(2u) + 1) for GELU-tanh, where only 1 + tanh(u) matters (absolute
 * error ~1e-7, like torch's cancellation near u << 0). */
static inline float tanh_gelu_fast(float u)
{
    return 1.0f - 2.0f / (exp_fast(2.0f * u) + 1.0f);
}

DEFINE_UNARY(unary_f32, float, MF, exp_fast, tanh_gelu_fast)
DEFINE_UNARY(unary_f64, double, MD, exp, tanh)

typedef struct unary_ctx {
    ltx_unary_op op;
    double p0, p1;
    ltx_tensor *dst;
    const ltx_tensor *a;
    ltx_dtype ct;
    bool direct; /* both operands already in ct */
} unary_ctx;

static void unary_seg(void *vctx, const int64_t *off, int64_t n, const int64_t *inner, int worker)
{
    (void)worker;
    unary_ctx *c = vctx;
    if (c->direct) {
        if (c->ct == LTX_F32)
            unary_f32(c->op, c->p0, c->p1, (float *)cpu_ptr(c->dst) + off[0], inner[0],
                      (const float *)cpu_ptr(c->a) + off[1], inner[1], n);
        else
            unary_f64(c->op, c->p0, c->p1, (double *)cpu_ptr(c->dst) + off[0], inner[0],
                      (const double *)cpu_ptr(c->a) + off[1], inner[1], n);
        return;
    }
    for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
        _Alignas(64) double ta[CHUNK], td[CHUNK];
        int64_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
        load_as(ta, c->ct, c->a, off[1] + i0 * inner[1], inner[1], m);
        if (c->ct == LTX_F32)
            unary_f32(c->op, c->p0, c->p1, (float *)td, 1, (const float *)ta, 1, m);
        else
            unary_f64(c->op, c->p0, c->p1, td, 1, ta, 1, m);
        store_from(c->dst, off[0] + i0 * inner[0], inner[0], td, c->ct, m);
    }
}

/* dst = op(a; p0, p1), a broadcast to dst. */
ltx_status ltx_cpu_unary(ltx_backend *be, ltx_unary_op op, ltx_tensor *dst, const ltx_tensor *a,
                         double p0, double p1)
{
    if ((unsigned)op >= LTX_UNARY_COUNT)
        return ltx_err(LTX_ERR_INVALID_ARG, "unary: op %d out of range", (int)op);
    unary_ctx c = {op, p0, p1, dst, a, LTX_F32, false};
    const ltx_tensor *ts[2] = {dst, a};
    LTX_TRY(compute_dtype(be, ts, 2, "unary", &c.ct));
    c.direct = dst->dtype == c.ct && a->dtype == c.ct;
    cpu_iter it;
    LTX_TRY(ltx_cpu_iter_init(&it, dst->ndim, dst->shape, 2, ts, true, "unary"));
    int cost = (op <= LTX_UNARY_GELU_ERF && op != LTX_UNARY_NEG) ? 8 : 1;
    ltx_cpu_iter_run(be, &it, cost, unary_seg, &c);
    return LTX_OK;
}

/* ---- binary / axpby ---------------------------------------------------------------------- */

#define BIN_LOOP(EXPR)                                                                             \
    if (ds == 1 && as == 1 && bs == 1) {                                                           \
        for (int64_t i = 0; i < n; i++) {                                                          \
            num x = a[i], y = b[i];                                                                \
            d[i] = (EXPR);                                                                         \
        }                                                                                          \
    } else if (ds == 1 && as == 1 && bs == 0) {                                                    \
        const num y = b[0];                                                                        \
        for (int64_t i = 0; i < n; i++) {                                                          \
            num x = a[i];                                                                          \
            d[i] = (EXPR);                                                                         \
        }                                                                                          \
    } else {                                                                                       \
        for (int64_t i = 0; i < n; i++) {                                                          \
            num x = a[i * as], y = b[i * bs];                                                      \
            d[i * ds] = (EXPR);                                                                    \
        }                                                                                          \
    }                                                                                              \
    break

/* ref: BinaryOpsKernel.cpp — maximum/minimum propagate NaN; pow is std::pow in the dtype. */
#define DEFINE_BINARY(NAME, T, M)                                                                  \
    static void NAME(int op, double ca, double cb, T *d, int64_t ds, const T *a, int64_t as,       \
                     const T *b, int64_t bs, int64_t n)                                            \
    {                                                                                              \
        typedef T num;                                                                             \
        const T pa = (T)ca, pb = (T)cb;                                                            \
        switch (op) {                                                                              \
        case LTX_BINARY_ADD:                                                                       \
            BIN_LOOP(x + y);                                                                       \
        case LTX_BINARY_SUB:                                                                       \
            BIN_LOOP(x - y);                                                                       \
        case LTX_BINARY_MUL:                                                                       \
            BIN_LOOP(x *y);                                                                        \
        case LTX_BINARY_DIV:                                                                       \
            BIN_LOOP(x / y);                                                                       \
        case LTX_BINARY_MAX:                                                                       \
            BIN_LOOP((x != x || y != y) ? x + y : (x > y ? x : y));                                \
        case LTX_BINARY_MIN:                                                                       \
            BIN_LOOP((x != x || y != y) ? x + y : (x < y ? x : y));                                \
        case LTX_BINARY_POW:                                                                       \
            BIN_LOOP(M(pow)(x, y));                                                                \
        case LTX_BINARY_COUNT: /* axpby: two products, then one add */                             \
            BIN_LOOP((pa * x) + (pb * y));                                                         \
        default:                                                                                   \
            LTX_ASSERT(!"binary op out of range");                                                 \
        }                                                                                          \
    }

DEFINE_BINARY(binary_f32, float, MF)
DEFINE_BINARY(binary_f64, double, MD)

typedef struct binary_ctx {
    int op; /* ltx_binary_op, or LTX_BINARY_COUNT for axpby */
    double ca, cb;
    ltx_tensor *dst;
    const ltx_tensor *a, *b;
    ltx_dtype ct;
    bool direct;
} binary_ctx;

static void binary_seg(void *vctx, const int64_t *off, int64_t n, const int64_t *inner, int worker)
{
    (void)worker;
    binary_ctx *c = vctx;
    if (c->direct) {
        if (c->ct == LTX_F32)
            binary_f32(c->op, c->ca, c->cb, (float *)cpu_ptr(c->dst) + off[0], inner[0],
                       (const float *)cpu_ptr(c->a) + off[1], inner[1],
                       (const float *)cpu_ptr(c->b) + off[2], inner[2], n);
        else
            binary_f64(c->op, c->ca, c->cb, (double *)cpu_ptr(c->dst) + off[0], inner[0],
                       (const double *)cpu_ptr(c->a) + off[1], inner[1],
                       (const double *)cpu_ptr(c->b) + off[2], inner[2], n);
        return;
    }
    for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
        _Alignas(64) double ta[CHUNK], tb[CHUNK], td[CHUNK];
        int64_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
        load_as(ta, c->ct, c->a, off[1] + i0 * inner[1], inner[1], m);
        load_as(tb, c->ct, c->b, off[2] + i0 * inner[2], inner[2], m);
        if (c->ct == LTX_F32)
            binary_f32(c->op, c->ca, c->cb, (float *)td, 1, (const float *)ta, 1, (const float *)tb,
                       1, m);
        else
            binary_f64(c->op, c->ca, c->cb, td, 1, ta, 1, tb, 1, m);
        store_from(c->dst, off[0] + i0 * inner[0], inner[0], td, c->ct, m);
    }
}

static ltx_status run_binary(ltx_backend *be, int op, double ca, double cb, ltx_tensor *dst,
                             const ltx_tensor *a, const ltx_tensor *b, const char *name)
{
    binary_ctx c = {op, ca, cb, dst, a, b, LTX_F32, false};
    const ltx_tensor *ts[3] = {dst, a, b};
    LTX_TRY(compute_dtype(be, ts, 3, name, &c.ct));
    c.direct = dst->dtype == c.ct && a->dtype == c.ct && b->dtype == c.ct;
    cpu_iter it;
    LTX_TRY(ltx_cpu_iter_init(&it, dst->ndim, dst->shape, 3, ts, true, name));
    ltx_cpu_iter_run(be, &it, op == LTX_BINARY_POW ? 8 : 1, binary_seg, &c);
    return LTX_OK;
}

/* dst = a op b; a and b broadcast (numpy rules) to dst's shape; mixed f32/f64 computes in f64. */
ltx_status ltx_cpu_binary(ltx_backend *be, ltx_binary_op op, ltx_tensor *dst, const ltx_tensor *a,
                          const ltx_tensor *b)
{
    if ((unsigned)op >= LTX_BINARY_COUNT)
        return ltx_err(LTX_ERR_INVALID_ARG, "binary: op %d out of range", (int)op);
    return run_binary(be, (int)op, 0, 0, dst, a, b, "binary");
}

/* dst = (a * x) + (b * y): each product rounded to the compute dtype, then the sum. */
ltx_status ltx_cpu_axpby(ltx_backend *be, ltx_tensor *dst, double a, const ltx_tensor *x, double b,
                         const ltx_tensor *y)
{
    return run_binary(be, LTX_BINARY_COUNT, a, b, dst, x, y, "axpby");
}
