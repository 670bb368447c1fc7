/*
 * cpu_reduce.c — CPU reduce (sum, mean, max, min, unbiased var over one dim, keepdim) and pad
 * (constant, reflect, replicate, circular over any dims). Contracts in backend.h.
 *
 * Reduce accumulates in double for f32 and f64 inputs. PyTorch's CPU sum of f32 uses cascade
 * (pairwise) summation in f32, which is already far more accurate than naive f32 summation;
 * double accumulation is at least as accurate, so results agree with torch to f32 rounding.
 * Variance is two-pass (mean first), like torch's Welford up to rounding.
 * ref: aten/src/ATen/native/cpu/SumKernel.cpp, ReduceOpsKernel.cpp, PadNd.cpp
 */
#include "backend/cpu/cpu_iter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 256

/* ---- reduce ------------------------------------------------------------------------------ */

typedef struct reduce_ctx {
    ltx_reduce_op op;
    ltx_tensor *dst;
    const ltx_tensor *src;
    int64_t len, rstride; /* reduced dim: length and source stride */
} reduce_ctx;

static inline double ld(const void *base, bool f64, int64_t i)
{
    return f64 ? ((const double *)base)[i] : (double)((const float *)base)[i];
}

/* Reduces one output element whose inputs are src[p + r*rs], r < len. */
static double reduce_one(ltx_reduce_op op, const void *base, bool f64, int64_t p, int64_t rs,
                         int64_t len)
{
    double acc;
    switch (op) {
    case LTX_REDUCE_SUM:
    case LTX_REDUCE_MEAN:
        acc = 0;
        for (int64_t r = 0; r < len; r++)
            acc += ld(base, f64, p + r * rs);
        return op == LTX_REDUCE_MEAN ? acc / (double)len : acc;
    case LTX_REDUCE_MAX:
    case LTX_REDUCE_MIN:
        acc = ld(base, f64, p);
        for (int64_t r = 1; r < len && acc == acc; r++) {
            double v = ld(base, f64, p + r * rs);
            if (v != v || (op == LTX_REDUCE_MAX ? v > acc : v < acc)) acc = v;
        }
        return acc;
    case LTX_REDUCE_VAR: {
        double m = 0, q = 0;
        for (int64_t r = 0; r < len; r++)
            m += ld(base, f64, p + r * rs);
        m /= (double)len;
        for (int64_t r = 0; r < len; r++) {
            double e = ld(base, f64, p + r * rs) - m;
            q += e * e;
        }
        return len > 1 ? q / (double)(len - 1) : NAN;
    }
    default:
        LTX_ASSERT(!"reduce op out of range");
    }
    return 0;
}

static void reduce_seg(void *vctx, const int64_t *off, int64_t n, const int64_t *inner, int worker)
{
    (void)worker;
    reduce_ctx *c = vctx;
    const void *base = cpu_ptr(c->src);
    bool f64 = c->src->dtype == LTX_F64;
    for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
        double out[CHUNK];
        int64_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
        int64_t p0 = off[1] + i0 * inner[1];
        if (!f64 && c->rstride == 1 && (c->op == LTX_REDUCE_SUM || c->op == LTX_REDUCE_MEAN)) {
            /* contiguous f32 rows: 8 independent double accumulators (vectorisable) */
            for (int64_t j = 0; j < m; j++) {
                const float *x = (const float *)base + p0 + j * inner[1];
                double a[8] = {0};
                int64_t r = 0;
                for (; r + 8 <= c->len; r += 8)
                    for (int k = 0; k < 8; k++)
                        a[k] += (double)x[r + k];
                for (; r < c->len; r++)
                    a[0] += (double)x[r];
                double t = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
                out[j] = c->op == LTX_REDUCE_MEAN ? t / (double)c->len : t;
            }
        } else if (!f64 && inner[1] == 1 && m > 1 &&
                   (c->op == LTX_REDUCE_SUM || c->op == LTX_REDUCE_MEAN)) {
            /* reduced dim outer, contiguous f32 segment inner */
            const float *x = (const float *)base + p0;
            for (int64_t j = 0; j < m; j++)
                out[j] = 0;
            for (int64_t r = 0; r < c->len; r++, x += c->rstride)
                for (int64_t j = 0; j < m; j++)
                    out[j] += (double)x[j];
            if (c->op == LTX_REDUCE_MEAN)
                for (int64_t j = 0; j < m; j++)
                    out[j] /= (double)c->len;
        } else if (c->rstride == 1 || m == 1 || c->op == LTX_REDUCE_VAR) {
            for (int64_t j = 0; j < m; j++)
                out[j] = reduce_one(c->op, base, f64, p0 + j * inner[1], c->rstride, c->len);
        } else {
            /* Reduced dim is not the fastest: sweep rows of the segment (vectorisable). */
            for (int64_t j = 0; j < m; j++)
                out[j] = ld(base, f64, p0 + j * inner[1]);
            for (int64_t r = 1; r < c->len; r++) {
                int64_t pr = p0 + r * c->rstride;
                for (int64_t j = 0; j < m; j++) {
                    double v = ld(base, f64, pr + j * inner[1]);
                    switch (c->op) {
                    case LTX_REDUCE_MAX:
                        out[j] = (v != v || v > out[j]) && out[j] == out[j] ? v : out[j];
                        break;
                    case LTX_REDUCE_MIN:
                        out[j] = (v != v || v < out[j]) && out[j] == out[j] ? v : out[j];
                        break;
                    default:
                        out[j] += v;
                    }
                }
            }
            if (c->op == LTX_REDUCE_MEAN)
                for (int64_t j = 0; j < m; j++)
                    out[j] /= (double)c->len;
        }
        char *d = (char *)cpu_ptr(c->dst);
        if (c->dst->dtype == LTX_F64)
            for (int64_t j = 0; j < m; j++)
                ((double *)d)[off[0] + (i0 + j) * inner[0]] = out[j];
        else
            for (int64_t j = 0; j < m; j++)
                ((float *)d)[off[0] + (i0 + j) * inner[0]] = (float)out[j];
    }
}

/* dst = reduce(src) over `dim` (negative counts from the end); dst has src's shape with 1 at
 * dim. src and dst are f32 or f64 (f64 only where caps.f64); src may be strided. */
ltx_status ltx_cpu_reduce(ltx_backend *be, ltx_reduce_op op, ltx_tensor *dst, const ltx_tensor *src,
                          int dim)
{
    if ((unsigned)op >= LTX_REDUCE_COUNT)
        return ltx_err(LTX_ERR_INVALID_ARG, "reduce: op %d out of range", (int)op);
    LTX_TRY(ltx_cpu_check_dtype(be, src->dtype, "reduce"));
    LTX_TRY(ltx_cpu_check_dtype(be, dst->dtype, "reduce"));
    if ((src->dtype != LTX_F32 && src->dtype != LTX_F64) ||
        (dst->dtype != LTX_F32 && dst->dtype != LTX_F64))
        return ltx_err(LTX_ERR_INVALID_ARG, "reduce: f32/f64 only (got %s -> %s)",
                       ltx_dtype_name(src->dtype), ltx_dtype_name(dst->dtype));
    if ((src->dtype == LTX_F64 || dst->dtype == LTX_F64) && !be->caps.f64)
        return ltx_err(LTX_ERR_UNSUPPORTED, "reduce: device %s has no float64 math",
                       be->device_name);
    if (dim < 0) dim += src->ndim;
    bool ok = dim >= 0 && dim < src->ndim && dst->ndim == src->ndim && dst->shape[dim] == 1;
    for (int d = 0; ok && d < src->ndim; d++)
        if (d != dim && dst->shape[d] != src->shape[d]) ok = false;
    if (!ok) {
        char a[96], b[96];
        return ltx_err(LTX_ERR_INVALID_ARG, "reduce: dst %s is not src %s with 1 at dim %d",
                       ltx_tensor_shape_str(dst, a, sizeof a),
                       ltx_tensor_shape_str(src, b, sizeof b), dim);
    }
    int64_t len = src->shape[dim];
    if (len == 0 && (op == LTX_REDUCE_MAX || op == LTX_REDUCE_MIN))
        return ltx_err(LTX_ERR_INVALID_ARG, "reduce: max/min over an empty dim %d", dim);
    int64_t st[2][LTX_MAX_DIMS];
    for (int d = 0; d < src->ndim; d++) {
        st[0][d] = dst->stride[d];
        st[1][d] = src->stride[d];
    }
    cpu_iter it;
    ltx_cpu_iter_init_strides(&it, dst->ndim, dst->shape, 2, (const int64_t(*)[LTX_MAX_DIMS])st);
    reduce_ctx c = {op, dst, src, len, src->stride[dim]};
    if (len == 0) {
        ltx_cpu_fill(be, dst, op == LTX_REDUCE_SUM ? 0.0 : NAN);
        return LTX_OK;
    }
    ltx_cpu_iter_run(be, &it, (int)(len < 1000000 ? len : 1000000), reduce_seg, &c);
    return LTX_OK;
}

/* ---- pad --------------------------------------------------------------------------------- */

typedef struct pad_ctx {
    ltx_tensor *dst;
    const ltx_tensor *src;
    int64_t *map[LTX_MAX_DIMS]; /* dst index -> src index, or -1 (constant) */
    int64_t lo, hi;             /* last dim: dst range [lo, hi) maps to src lo-before.. */
    int64_t before_last;
    unsigned char val[8];
} pad_ctx;

static void pad_rows(void *vctx, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    pad_ctx *c = vctx;
    const ltx_tensor *s = c->src;
    ltx_tensor *d = c->dst;
    int nd = d->ndim, last = nd - 1;
    size_t esz = ltx_dtype_size(d->dtype);
    int64_t W = d->shape[last], sw = s->stride[last];
    const char *sb = cpu_ptr(s);
    for (int64_t r = begin; r < end; r++) {
        /* dst row r: decompose over dims 0..last-1 (dst is contiguous). */
        int64_t rem = r, soff = 0;
        bool fill = false;
        for (int k = last - 1; k >= 0; k--) {
            int64_t i = rem % d->shape[k];
            rem /= d->shape[k];
            int64_t m = c->map[k][i];
            if (m < 0) fill = true;
            soff += m * s->stride[k];
        }
        char *drow = (char *)cpu_ptr(d) + r * W * (int64_t)esz;
        for (int64_t i = 0; i < W; i++) {
            if (!fill && i == c->lo && sw == 1) { /* contiguous middle */
                memcpy(drow + i * (int64_t)esz, sb + (soff + i - c->before_last) * (int64_t)esz,
                       (size_t)(c->hi - c->lo) * esz);
                i = c->hi - 1;
                continue;
            }
            int64_t m = fill ? -1 : c->map[last][i];
            const void *from = m < 0 ? (const void *)c->val : sb + (soff + m * sw) * (int64_t)esz;
            memcpy(drow + i * (int64_t)esz, from, esz);
        }
    }
}

static int64_t pad_index(ltx_pad_mode mode, int64_t j, int64_t n)
{
    if (j >= 0 && j < n) return j;
    switch (mode) {
    case LTX_PAD_REFLECT:
        return j < 0 ? -j : 2 * (n - 1) - j;
    case LTX_PAD_REPLICATE:
        return j < 0 ? 0 : n - 1;
    case LTX_PAD_CIRCULAR:
        return ((j % n) + n) % n;
    default:
        return -1;
    }
}

/* dst = pad(src); dst contiguous, shape src + before + after per dim (negative pads crop). Any
 * dtypes; when dst's differs from src's the pad runs in src's dtype and is converted by copy.
 * Reflect needs pads < size, circular pads <= size (as torch). Scratch: one int64 index map per
 * dim (sum of dst sizes), plus a dst-sized tensor when the dtypes differ. */
ltx_status ltx_cpu_pad(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src, const int *pads,
                       ltx_pad_mode mode, double value)
{
    LTX_TRY(ltx_cpu_check_dtype(be, dst->dtype, "pad"));
    if (dst->ndim != src->ndim || !ltx_tensor_is_contiguous(dst))
        return ltx_err(LTX_ERR_INVALID_ARG, "pad: dst must be contiguous with src's rank");
    if (dst->dtype != src->dtype) { /* pad in src's dtype, then convert (scratch: dst-sized) */
        ltx_tensor *tmp = ltx_tensor_new(be, src->dtype, dst->ndim, dst->shape);
        if (!tmp) return ltx_err_failed();
        ltx_status s = ltx_cpu_pad(be, tmp, src, pads, mode, value);
        if (s == LTX_OK) s = ltx_cpu_copy(be, dst, tmp);
        ltx_tensor_free(tmp);
        return s;
    }
    if (src->ndim == 0) return ltx_cpu_copy(be, dst, src);
    int64_t total = 0;
    for (int d = 0; d < src->ndim; d++) {
        int64_t n = src->shape[d], b = pads[2 * d], a = pads[2 * d + 1];
        if (dst->shape[d] != n + a + b)
            return ltx_err(LTX_ERR_INVALID_ARG, "pad: dim %d: %lld + %lld + %lld != dst %lld", d,
                           (long long)b, (long long)n, (long long)a, (long long)dst->shape[d]);
        bool bad = (mode == LTX_PAD_REFLECT && (b >= n || a >= n)) ||
                   (mode == LTX_PAD_CIRCULAR && (b > n || a > n)) ||
                   (mode != LTX_PAD_CONSTANT && n == 0 && (a > 0 || b > 0));
        if (bad)
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "pad: dim %d of size %lld cannot take pads "
                           "(%lld, %lld) in mode %d",
                           d, (long long)n, (long long)b, (long long)a, (int)mode);
        total += dst->shape[d];
    }
    if (ltx_tensor_numel(dst) == 0) return LTX_OK;
    pad_ctx c = {.dst = dst, .src = src};
    int64_t *maps = malloc(sizeof(int64_t) * (size_t)(total + 1));
    if (!maps) return ltx_err(LTX_ERR_OOM, "pad: out of memory");
    int64_t *p = maps;
    for (int d = 0; d < src->ndim; d++) {
        c.map[d] = p;
        for (int64_t i = 0; i < dst->shape[d]; i++)
            p[i] = pad_index(mode, i - pads[2 * d], src->shape[d]);
        p += dst->shape[d];
    }
    int last = src->ndim - 1;
    c.before_last = pads[2 * last];
    c.lo = c.before_last > 0 ? c.before_last : 0;
    c.hi = c.before_last + src->shape[last];
    if (c.hi > dst->shape[last]) c.hi = dst->shape[last];
    if (c.hi <= c.lo) c.lo = c.hi = -1;
    ltx_convert(c.val, dst->dtype, &value, LTX_F64, 1);
    int64_t W = dst->shape[last];
    ltx_cpu_parallel(be, ltx_tensor_numel(dst) / W, W, pad_rows, &c);
    free(maps);
    return LTX_OK;
}
