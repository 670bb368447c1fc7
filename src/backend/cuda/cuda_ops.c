/*
 * cuda_ops.c — host side of the CUDA backend's non-GEMM ops: argument checks (the CPU
 * backend's contracts and messages, src/backend/cpu/), lowering to the kernels/ launchers, and
 * the per-op supports() answers.
 *
 * Every check mirrors the CPU op of the same name so both backends accept and refuse the same
 * calls; the kernels mirror its arithmetic (see each kernels/<family>.cu). Tables that depend
 * only on shapes (interpolation taps) are built on the host with the CPU's own formulas and
 * uploaded as op scratch.
 */
#include "backend/cuda/cuda_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static cudaStream_t cstream(ltx_backend *be)
{
    return ((cuda_state *)be->impl)->compute;
}

/* ---- iterator ------------------------------------------------------------------------------ */

static void cu_iter_init_strides(ck_iter *it, int ndim, const int64_t *shape, int nops,
                                 const int64_t (*stride)[LTX_MAX_DIMS])
{
    memset(it, 0, sizeof *it);
    it->nops = nops;
    int n = 0;
    int64_t total = 1;
    for (int d = 0; d < ndim; d++) {
        total *= shape[d];
        if (shape[d] == 1) continue;
        it->shape[n] = shape[d];
        for (int k = 0; k < nops; k++)
            it->stride[k][n] = stride[k][d];
        n++;
    }
    it->n = total;
    if (n == 0) {
        it->shape[0] = 1;
        for (int k = 0; k < nops; k++)
            it->stride[k][0] = 1;
        n = 1;
    }
    int m = 0; /* merge dims that every operand steps through as one */
    for (int d = 1; d < n; d++) {
        bool merge = true;
        for (int k = 0; k < nops; k++)
            if (it->stride[k][m] != it->stride[k][d] * it->shape[d]) merge = false;
        m += !merge;
        if (merge)
            it->shape[m] *= it->shape[d];
        else
            it->shape[m] = it->shape[d];
        for (int k = 0; k < nops; k++)
            it->stride[k][m] = it->stride[k][d];
    }
    it->ndim = m + 1;
    it->contig = it->ndim == 1;
    for (int k = 0; k < nops; k++)
        if (it->stride[k][0] != 1 && it->shape[0] > 1) it->contig = 0;
}

/* Broadcast strides of t against `shape` (right-aligned); false when it does not broadcast. */
static bool bcast_strides(const ltx_tensor *t, int ndim, const int64_t *shape, int64_t *st)
{
    if (t->ndim > ndim) return false;
    int off = ndim - t->ndim;
    for (int d = 0; d < ndim; d++) {
        int sd = d - off;
        if (sd < 0 || t->shape[sd] == 1)
            st[d] = 0;
        else if (t->shape[sd] == shape[d])
            st[d] = t->stride[sd];
        else
            return false;
    }
    return true;
}

/* Builds a coalesced ck_iter over `shape` for nops tensors (operand 0 written: must not be
 * broadcast). Same rules as the CPU iterator. */
static ltx_status cu_iter_init(ck_iter *it, int ndim, const int64_t *shape, int nops,
                               const ltx_tensor *const *ts, bool write0, const char *op)
{
    int64_t st[CK_MAX_OPS][LTX_MAX_DIMS];
    for (int k = 0; k < nops; k++) {
        char b[96];
        if (!bcast_strides(ts[k], ndim, shape, st[k]))
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "%s: operand %d %s does not broadcast to the "
                           "output shape",
                           op, k, ltx_tensor_shape_str(ts[k], b, sizeof b));
        for (int d = 0; k == 0 && write0 && d < ndim; d++)
            if (st[0][d] == 0 && shape[d] > 1)
                return ltx_err(LTX_ERR_INVALID_ARG,
                               "%s: output has stride 0 at dim %d (broadcast views cannot be "
                               "written)",
                               op, d);
    }
    cu_iter_init_strides(it, ndim, shape, nops, (const int64_t(*)[LTX_MAX_DIMS])st);
    return LTX_OK;
}

static bool is_float(ltx_dtype t)
{
    return ltx_dtype_is_float(t);
}

/* f64 compute when any operand is f64, like the CPU; non-float operands are refused. */
static ltx_status compute_f64(const ltx_tensor *const *ts, int n, const char *op, int *f64)
{
    *f64 = 0;
    for (int k = 0; k < n; k++) {
        if (!is_float(ts[k]->dtype))
            return ltx_err(LTX_ERR_INVALID_ARG, "%s: operand %d has non-float dtype %s", op, k,
                           ltx_dtype_name(ts[k]->dtype));
        if (ts[k]->dtype == LTX_F64) *f64 = 1;
    }
    return LTX_OK;
}

/* ---- elementwise --------------------------------------------------------------------------- */

ltx_status ltx_cu_copy(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src)
{
    ck_iter it;
    const ltx_tensor *ts[2] = {dst, src};
    LTX_TRY(cu_iter_init(&it, dst->ndim, dst->shape, 2, ts, true, "copy"));
    return ltx_cu_check(ltx_ck_copy(cstream(be), &it, cu_op(dst), cu_op(src)), "copy");
}

ltx_status ltx_cu_fill(ltx_backend *be, ltx_tensor *dst, double value)
{
    ck_iter it;
    const ltx_tensor *ts[1] = {dst};
    LTX_TRY(cu_iter_init(&it, dst->ndim, dst->shape, 1, ts, true, "fill"));
    uint64_t bits = 0;
    ltx_convert(&bits, dst->dtype, &value, LTX_F64, 1); /* little-endian: low bytes hold it */
    return ltx_cu_check(ltx_ck_fill(cstream(be), &it, cu_op(dst), bits), "fill");
}

ltx_status ltx_cu_unary(ltx_backend *be, ltx_unary_op op, ltx_tensor *dst, const ltx_tensor *a,
                        double p0, double p1)
{
    if ((unsigned)op >= LTX_UNARY_COUNT)
        return ltx_err(LTX_ERR_INVALID_ARG, "unary: op %d out of range", (int)op);
    const ltx_tensor *ts[2] = {dst, a};
    int f64;
    LTX_TRY(compute_f64(ts, 2, "unary", &f64));
    ck_iter it;
    LTX_TRY(cu_iter_init(&it, dst->ndim, dst->shape, 2, ts, true, "unary"));
    return ltx_cu_check(ltx_ck_unary(cstream(be), &it, (int)op, p0, p1, f64, cu_op(dst), cu_op(a)),
                        "unary");
}

static ltx_status run_binary(ltx_backend *be, int op, double ca, double cb, ltx_tensor *dst,
                             const ltx_tensor *a, const ltx_tensor *b, const char *name)
{
    const ltx_tensor *ts[3] = {dst, a, b};
    int f64;
    LTX_TRY(compute_f64(ts, 3, name, &f64));
    ck_iter it;
    LTX_TRY(cu_iter_init(&it, dst->ndim, dst->shape, 3, ts, true, name));
    return ltx_cu_check(
        ltx_ck_binary(cstream(be), &it, op, ca, cb, f64, cu_op(dst), cu_op(a), cu_op(b)), name);
}

ltx_status ltx_cu_binary(ltx_backend *be, ltx_binary_op op, ltx_tensor *dst, const ltx_tensor *a,
                         const ltx_tensor *b)
{
    if ((unsigned)op >= LTX_BINARY_COUNT)
        return ltx_err(LTX_ERR_INVALID_ARG, "binary: op %d out of range", (int)op);
    return run_binary(be, (int)op, 0, 0, dst, a, b, "binary");
}

ltx_status ltx_cu_axpby(ltx_backend *be, ltx_tensor *dst, double a, const ltx_tensor *x, double b,
                        const ltx_tensor *y)
{
    return run_binary(be, LTX_BINARY_COUNT, a, b, dst, x, y, "axpby");
}

/* dst = x + y * gate (gate NULL = 1): one pass; computed as x + (y * gate), two roundings. */
ltx_status ltx_cu_gated_add(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *x,
                            const ltx_tensor *y, const ltx_tensor *gate)
{
    if (!gate) return run_binary(be, LTX_BINARY_ADD, 0, 0, dst, x, y, "gated_add");
    const ltx_tensor *ts[4] = {dst, x, y, gate};
    for (int k = 0; k < 4; k++)
        if (ts[k]->dtype != LTX_F32)
            return ltx_err(LTX_ERR_INVALID_ARG, "gated_add: operand %d must be F32 (got %s)", k,
                           ltx_dtype_name(ts[k]->dtype));
    ck_iter it;
    LTX_TRY(cu_iter_init(&it, dst->ndim, dst->shape, 4, ts, true, "gated_add"));
    return ltx_cu_check(
        ltx_ck_gated_add(cstream(be), &it, cu_ptr(dst), cu_ptr(x), cu_ptr(y), cu_ptr(gate)),
        "gated_add");
}

/* ---- norms --------------------------------------------------------------------------------- */

/* Checks a weight/bias vector: NULL, or n contiguous elements of a float dtype. */
static ltx_status vec_ok(const ltx_tensor *t, int64_t n, const char *what)
{
    if (!t) return LTX_OK;
    if (ltx_tensor_numel(t) != n || !ltx_tensor_is_contiguous(t) || !is_float(t->dtype))
        return ltx_err(LTX_ERR_INVALID_ARG, "%s: expected %lld contiguous elements%s%s", what,
                       (long long)n, t->name[0] ? " in " : "", t->name);
    return LTX_OK;
}

/* Row iterator over the leading dims of x/dst (and optional extra broadcast operands). */
static ltx_status rows_iter(ck_iter *it, const ltx_tensor *dst, const ltx_tensor *x,
                            const ltx_tensor *e2, const ltx_tensor *e3, const char *op)
{
    int nd = x->ndim;
    int64_t st[CK_MAX_OPS][LTX_MAX_DIMS], tmp[LTX_MAX_DIMS];
    int nops = 2;
    for (int d = 0; d < nd - 1; d++) {
        st[0][d] = dst->stride[d];
        st[1][d] = x->stride[d];
    }
    const ltx_tensor *ex[2] = {e2, e3};
    for (int k = 0; k < 2; k++) {
        if (!ex[k]) continue;
        if (!bcast_strides(ex[k], nd, x->shape, tmp)) {
            char b[96];
            return ltx_err(LTX_ERR_INVALID_ARG, "%s: %s does not broadcast to x", op,
                           ltx_tensor_shape_str(ex[k], b, sizeof b));
        }
        for (int d = 0; d < nd - 1; d++)
            st[nops][d] = tmp[d];
        nops++;
    }
    cu_iter_init_strides(it, nd - 1, x->shape, nops, (const int64_t(*)[LTX_MAX_DIMS])st);
    return LTX_OK;
}

ltx_status ltx_cu_norm(ltx_backend *be, ltx_norm_op op, ltx_tensor *dst, const ltx_tensor *x,
                       const ltx_tensor *w, const ltx_tensor *b, int groups, float eps)
{
    if (x->dtype != LTX_F32 || dst->dtype != LTX_F32 || !ltx_tensor_same_shape(dst, x) ||
        x->ndim < 1)
        return ltx_err(LTX_ERR_INVALID_ARG, "norm: x and dst must be f32 of the same shape");
    int nd = x->ndim;
    if (op == LTX_NORM_RMS || op == LTX_NORM_LAYER) {
        int64_t D = x->shape[nd - 1];
        LTX_TRY(vec_ok(w, D, "norm weight"));
        if (op == LTX_NORM_LAYER) LTX_TRY(vec_ok(b, D, "norm bias"));
        if (D == 0 || ltx_tensor_numel(x) == 0) return LTX_OK;
        ck_iter it;
        LTX_TRY(rows_iter(&it, dst, x, NULL, NULL, "norm"));
        ck_operand bo = op == LTX_NORM_LAYER ? cu_op(b) : cu_op(NULL);
        return ltx_cu_check(ltx_ck_norm_lastdim(cstream(be), (int)op, &it, D, dst->stride[nd - 1],
                                                x->stride[nd - 1], cu_ptr(dst), cu_ptr(x), cu_op(w),
                                                bo, eps),
                            "norm");
    }
    if (op != LTX_NORM_GROUP && op != LTX_NORM_PIXEL)
        return ltx_err(LTX_ERR_INVALID_ARG, "norm: op %d out of range", (int)op);
    if (nd < 2 || !ltx_tensor_is_contiguous(dst))
        return ltx_err(LTX_ERR_INVALID_ARG, "norm: group/pixel norm need (N, C, ...) and a "
                                            "contiguous dst");
    int64_t N = x->shape[0], C = x->shape[1], S = ltx_tensor_numel(x) / (N * C > 0 ? N * C : 1);
    if (op == LTX_NORM_GROUP && (groups <= 0 || C % groups))
        return ltx_err(LTX_ERR_INVALID_ARG, "norm: %lld channels in %d groups", (long long)C,
                       groups);
    if (op == LTX_NORM_GROUP) {
        LTX_TRY(vec_ok(w, C, "group norm weight"));
        LTX_TRY(vec_ok(b, C, "group norm bias"));
    }
    if (ltx_tensor_numel(x) == 0) return LTX_OK;
    ltx_tensor *xc = NULL;
    if (!ltx_tensor_is_contiguous(x)) { /* scratch: a contiguous copy of x */
        xc = ltx_tensor_new(be, LTX_F32, x->ndim, x->shape);
        if (!xc) return ltx_err_failed();
        ltx_status s = ltx_cu_copy(be, xc, x);
        if (s != LTX_OK) {
            ltx_tensor_free(xc);
            return s;
        }
    }
    const float *xp = cu_ptr(xc ? xc : x);
    cudaError_t e = op == LTX_NORM_GROUP
                        ? ltx_ck_norm_group(cstream(be), cu_ptr(dst), xp, N, C, S, groups, cu_op(w),
                                            cu_op(b), eps)
                        : ltx_ck_norm_pixel(cstream(be), cu_ptr(dst), xp, N, C, S, eps);
    ltx_tensor_free(xc);
    return ltx_cu_check(e, "norm");
}

ltx_status ltx_cu_norm_modulate(ltx_backend *be, ltx_norm_op op, ltx_tensor *dst,
                                const ltx_tensor *x, const ltx_tensor *scale,
                                const ltx_tensor *shift, float eps)
{
    if (op != LTX_NORM_RMS && op != LTX_NORM_LAYER)
        return ltx_err(LTX_ERR_INVALID_ARG, "norm_modulate: op must be RMS or LAYER (got %d)",
                       (int)op);
    if (x->dtype != LTX_F32 || dst->dtype != LTX_F32 || !ltx_tensor_same_shape(dst, x) ||
        x->ndim < 1 || !scale || !shift || !is_float(scale->dtype) || !is_float(shift->dtype))
        return ltx_err(LTX_ERR_INVALID_ARG, "norm_modulate: x and dst must be f32 of one shape; "
                                            "scale and shift float tensors");
    int nd = x->ndim;
    int64_t D = x->shape[nd - 1];
    int64_t sc[LTX_MAX_DIMS], sh[LTX_MAX_DIMS];
    if (!bcast_strides(scale, nd, x->shape, sc) || !bcast_strides(shift, nd, x->shape, sh))
        return ltx_err(LTX_ERR_INVALID_ARG, "norm_modulate: scale/shift do not broadcast to x");
    if (D == 0 || ltx_tensor_numel(x) == 0) return LTX_OK;
    ck_iter it;
    LTX_TRY(rows_iter(&it, dst, x, scale, shift, "norm_modulate"));
    return ltx_cu_check(ltx_ck_norm_modulate(cstream(be), (int)op, &it, D, dst->stride[nd - 1],
                                             x->stride[nd - 1], sc[nd - 1], sh[nd - 1], cu_ptr(dst),
                                             cu_ptr(x), cu_op(scale), cu_op(shift), eps),
                        "norm_modulate");
}

/* ---- softmax ------------------------------------------------------------------------------- */

ltx_status ltx_cu_softmax(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src)
{
    char b1[96], b2[96];
    if (src->dtype != LTX_F32 || dst->dtype != LTX_F32 || !ltx_tensor_same_shape(dst, src) ||
        !ltx_tensor_is_contiguous(dst) || src->ndim < 1)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "softmax: want F32 src and contiguous F32 dst of one shape (src %s, dst %s)",
                       ltx_tensor_shape_str(src, b1, sizeof b1),
                       ltx_tensor_shape_str(dst, b2, sizeof b2));
    int64_t L = src->shape[src->ndim - 1];
    if (L == 0 || ltx_tensor_numel(src) == 0) return LTX_OK;
    ck_iter it;
    LTX_TRY(rows_iter(&it, dst, src, NULL, NULL, "softmax"));
    return ltx_cu_check(
        ltx_ck_softmax(cstream(be), &it, L, src->stride[src->ndim - 1], cu_ptr(dst), cu_ptr(src)),
        "softmax");
}

/* ---- rope / qk path / snake ---------------------------------------------------------------- */

static ltx_status table_strides(const ltx_tensor *t, const int64_t *want, int64_t *st,
                                const char *what)
{
    if (t->dtype != LTX_F32 || t->ndim < 1 || t->ndim > 4)
        return ltx_err(LTX_ERR_INVALID_ARG, "rope: %s must be f32 of rank <= 4", what);
    int off = 4 - t->ndim;
    for (int d = 0; d < 4; d++) {
        int sd = d - off;
        int64_t sz = sd >= 0 ? t->shape[sd] : 1;
        if (sz != want[d] && !(sz == 1 && d < 2)) {
            char b[96];
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "rope: %s %s does not broadcast to (%lld, %lld, %lld, %lld)", what,
                           ltx_tensor_shape_str(t, b, sizeof b), (long long)want[0],
                           (long long)want[1], (long long)want[2], (long long)want[3]);
        }
        st[d] = (sd >= 0 && sz == want[d]) ? t->stride[sd] : 0;
    }
    return LTX_OK;
}

ltx_status ltx_cu_rope(ltx_backend *be, ltx_rope_mode mode, ltx_tensor *dst, const ltx_tensor *x,
                       const ltx_tensor *cos, const ltx_tensor *sin)
{
    if (x->ndim != 4 || x->dtype != LTX_F32 || dst->dtype != LTX_F32 ||
        !ltx_tensor_same_shape(dst, x) || x->shape[3] % 2)
        return ltx_err(LTX_ERR_INVALID_ARG, "rope: x and dst must be f32 (B, H, T, D), D even");
    if (mode != LTX_ROPE_SPLIT && mode != LTX_ROPE_INTERLEAVED)
        return ltx_err(LTX_ERR_INVALID_ARG, "rope: mode %d out of range", (int)mode);
    ck_rope r = {.mode = (int)mode,
                 .B = x->shape[0],
                 .H = x->shape[1],
                 .T = x->shape[2],
                 .D = x->shape[3],
                 .dst = cu_ptr(dst),
                 .x = cu_ptr(x),
                 .cos = cu_ptr(cos),
                 .sin = cu_ptr(sin)};
    int64_t want[4] = {r.B, r.H, r.T, r.D / 2};
    LTX_TRY(table_strides(cos, want, r.c_s, "cos"));
    LTX_TRY(table_strides(sin, want, r.s_s, "sin"));
    for (int d = 0; d < 4; d++) {
        r.dst_s[d] = dst->stride[d];
        r.x_s[d] = x->stride[d];
    }
    if (ltx_tensor_numel(x) == 0) return LTX_OK;
    return ltx_cu_check(ltx_ck_rope_apply(cstream(be), &r), "rope");
}

/* dst (B, T, H*D) = rope(rms_norm(x) * w): x's last dim must be contiguous, dst contiguous. */
ltx_status ltx_cu_qk_norm_rope(ltx_backend *be, ltx_rope_mode mode, ltx_tensor *dst,
                               const ltx_tensor *x, const ltx_tensor *w, float eps, int heads,
                               const ltx_tensor *cos, const ltx_tensor *sin)
{
    if (x->ndim != 3 || x->dtype != LTX_F32 || dst->dtype != LTX_F32 ||
        !ltx_tensor_same_shape(dst, x) || !ltx_tensor_is_contiguous(dst) || heads <= 0 ||
        x->shape[2] % heads || (x->shape[2] / heads) % 2 || x->stride[2] != 1 ||
        (x->shape[0] > 1 && x->stride[0] != x->shape[1] * x->stride[1]))
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "qk_norm_rope: want f32 x (B, T, H*D) with contiguous rows, contiguous "
                       "dst of its shape, H*D divisible by heads into even D");
    if (mode != LTX_ROPE_SPLIT && mode != LTX_ROPE_INTERLEAVED)
        return ltx_err(LTX_ERR_INVALID_ARG, "qk_norm_rope: mode %d out of range", (int)mode);
    int64_t HD = x->shape[2];
    LTX_TRY(vec_ok(w, HD, "qk_norm_rope weight"));
    ck_rope r = {.mode = (int)mode,
                 .B = x->shape[0],
                 .H = heads,
                 .T = x->shape[1],
                 .D = HD / heads,
                 .dst = cu_ptr(dst),
                 .x = cu_ptr(x),
                 .cos = cu_ptr(cos),
                 .sin = cu_ptr(sin)};
    /* interleaved rope rotates the whole inner dim as one head (backend.h): heads == 1 then */
    int64_t want[4] = {r.B, r.H, r.T, r.D / 2};
    LTX_TRY(table_strides(cos, want, r.c_s, "cos"));
    LTX_TRY(table_strides(sin, want, r.s_s, "sin"));
    if (ltx_tensor_numel(x) == 0) return LTX_OK;
    return ltx_cu_check(ltx_ck_qk_norm_rope(cstream(be), &r, x->stride[1], cu_op(w), eps),
                        "qk_norm_rope");
}

ltx_status ltx_cu_snake(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *x,
                        const ltx_tensor *alpha, const ltx_tensor *beta, bool log_scale)
{
    if (x->ndim != 3 || x->dtype != LTX_F32 || dst->dtype != LTX_F32 ||
        !ltx_tensor_same_shape(dst, x))
        return ltx_err(LTX_ERR_INVALID_ARG, "snake: x and dst must be f32 (B, C, T)");
    int64_t C = x->shape[1];
    if (!alpha || !beta) return ltx_err(LTX_ERR_INVALID_ARG, "snake: alpha and beta are required");
    LTX_TRY(vec_ok(alpha, C, "snake alpha"));
    LTX_TRY(vec_ok(beta, C, "snake beta"));
    if (ltx_tensor_numel(x) == 0) return LTX_OK;
    float *tab;
    LTX_TRY(ltx_cu_scratch(be, sizeof(float) * (size_t)(2 * C), (void **)&tab));
    cudaError_t e =
        ltx_ck_snake_prep(cstream(be), tab, tab + C, cu_op(alpha), cu_op(beta), C, log_scale);
    if (e == cudaSuccess)
        e = ltx_ck_snake(cstream(be), cu_ptr(dst), cu_ptr(x), x->shape[0], C, x->shape[2],
                         dst->stride, x->stride, tab, tab + C);
    ltx_cu_scratch_free(be, tab);
    return ltx_cu_check(e, "snake");
}

/* ---- reduce / pad -------------------------------------------------------------------------- */

ltx_status ltx_cu_reduce(ltx_backend *be, ltx_reduce_op op, ltx_tensor *dst, const ltx_tensor *src,
                         int dim)
{
    if ((unsigned)op >= LTX_REDUCE_COUNT)
        return ltx_err(LTX_ERR_INVALID_ARG, "reduce: op %d out of range", (int)op);
    if ((src->dtype != LTX_F32 && src->dtype != LTX_F64) ||
        (dst->dtype != LTX_F32 && dst->dtype != LTX_F64))
        return ltx_err(LTX_ERR_INVALID_ARG, "reduce: f32/f64 only (got %s -> %s)",
                       ltx_dtype_name(src->dtype), ltx_dtype_name(dst->dtype));
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
    if (len == 0) return ltx_cu_fill(be, dst, op == LTX_REDUCE_SUM ? 0.0 : NAN);
    int64_t st[2][LTX_MAX_DIMS];
    for (int d = 0; d < src->ndim; d++) {
        st[0][d] = dst->stride[d];
        st[1][d] = src->stride[d];
    }
    ck_iter it;
    cu_iter_init_strides(&it, dst->ndim, dst->shape, 2, (const int64_t(*)[LTX_MAX_DIMS])st);
    if (it.n == 0) return LTX_OK;
    return ltx_cu_check(
        ltx_ck_reduce(cstream(be), &it, (int)op, len, src->stride[dim], cu_op(dst), cu_op(src)),
        "reduce");
}

ltx_status ltx_cu_pad(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src, const int *pads,
                      ltx_pad_mode mode, double value)
{
    if (dst->ndim != src->ndim || !ltx_tensor_is_contiguous(dst))
        return ltx_err(LTX_ERR_INVALID_ARG, "pad: dst must be contiguous with src's rank");
    if (dst->dtype != src->dtype) { /* pad in src's dtype, then convert (scratch: dst-sized) */
        ltx_tensor *tmp = ltx_tensor_new(be, src->dtype, dst->ndim, dst->shape);
        if (!tmp) return ltx_err_failed();
        ltx_status s = ltx_cu_pad(be, tmp, src, pads, mode, value);
        if (s == LTX_OK) s = ltx_cu_copy(be, dst, tmp);
        ltx_tensor_free(tmp);
        return s;
    }
    if (src->ndim == 0) return ltx_cu_copy(be, dst, src);
    ck_pad p = {.ndim = src->ndim, .mode = (int)mode, .esz = (int)ltx_dtype_size(dst->dtype)};
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
                           "pad: dim %d of size %lld cannot take pads (%lld, %lld) in mode %d", d,
                           (long long)n, (long long)b, (long long)a, (int)mode);
        p.dshape[d] = dst->shape[d];
        p.sshape[d] = n;
        p.sstride[d] = src->stride[d];
        p.before[d] = b;
    }
    if (ltx_tensor_numel(dst) == 0) return LTX_OK;
    ltx_convert(&p.value_bits, dst->dtype, &value, LTX_F64, 1);
    return ltx_cu_check(ltx_ck_pad_apply(cstream(be), &p, cu_ptr(dst), cu_ptr(src)), "pad");
}

/* ---- interpolate --------------------------------------------------------------------------- */

#define CUBIC_A -0.75f /* ref: UpSample.h upsample_get_cubic_coefficients */

static float src_index(float scale, int64_t i, bool align, bool cubic)
{
    if (align) return scale * (float)i;
    float s = scale * ((float)i + 0.5f) - 0.5f;
    return (!cubic && s < 0) ? 0.0f : s;
}

/* One dim's taps: cpu_conv.c build_dim, formula for formula (so both backends agree). */
static void build_dim(ltx_interp_mode mode, bool align, int64_t in, int64_t out, int64_t stride,
                      int taps, int64_t *idx, float *wt)
{
    float scale =
        align ? (out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f) : (float)in / (float)out;
    for (int64_t i = 0; i < out; i++) {
        int64_t *ix = idx + i * taps;
        float *w = wt + i * taps;
        if (mode == LTX_INTERP_AREA && taps > 1) {
            int64_t s0 = (int64_t)floorf((float)(i * in) / (float)out);
            int64_t s1 = (int64_t)ceilf((float)((i + 1) * in) / (float)out);
            float inv = 1.0f / (float)(s1 - s0);
            for (int k = 0; k < taps; k++) {
                bool on = s0 + k < s1;
                ix[k] = (on ? s0 + k : s0) * stride;
                w[k] = on ? inv : 0.0f;
            }
        } else if (taps == 1) {
            float ns = (float)in / (float)out;
            int64_t s = in == out ? i : (int64_t)floorf((float)i * ns);
            ix[0] = (s < in - 1 ? s : in - 1) * stride;
            w[0] = 1.0f;
        } else if (taps == 2) {
            if (in == out) {
                ix[0] = ix[1] = i * stride;
                w[0] = 1.0f;
                w[1] = 0.0f;
                continue;
            }
            float r = src_index(scale, i, align, false);
            int64_t i0 = (int64_t)r, off = i0 < in - 1 ? 1 : 0;
            float l1 = r - (float)i0;
            l1 = l1 < 0 ? 0 : (l1 > 1 ? 1 : l1);
            ix[0] = i0 * stride;
            ix[1] = (i0 + off) * stride;
            w[0] = 1.0f - l1;
            w[1] = l1;
        } else {
            float r = src_index(scale, i, align, true);
            float fl = floorf(r), t = r - fl;
            int64_t i0 = (int64_t)fl;
            float A = CUBIC_A, x1 = t + 1.0f, x2 = 1.0f - t, x3 = 2.0f - t;
            w[0] = ((A * x1 - 5.0f * A) * x1 + 8.0f * A) * x1 - 4.0f * A;
            w[1] = ((A + 2.0f) * t - (A + 3.0f)) * t * t + 1.0f;
            w[2] = ((A + 2.0f) * x2 - (A + 3.0f)) * x2 * x2 + 1.0f;
            w[3] = ((A * x3 - 5.0f * A) * x3 + 8.0f * A) * x3 - 4.0f * A;
            for (int k = 0; k < 4; k++) {
                int64_t j = i0 - 1 + k;
                ix[k] = (j < 0 ? 0 : (j > in - 1 ? in - 1 : j)) * stride;
            }
        }
    }
}

ltx_status ltx_cu_interpolate(ltx_backend *be, ltx_interp_mode mode, ltx_tensor *dst,
                              const ltx_tensor *src, bool align_corners)
{
    int ns = src->ndim - 2;
    if (src->dtype != LTX_F32 || dst->dtype != LTX_F32 || !ltx_tensor_is_contiguous(dst) ||
        ns < 1 || ns > 3 || dst->ndim != src->ndim || dst->shape[0] != src->shape[0] ||
        dst->shape[1] != src->shape[1])
        return ltx_err(LTX_ERR_INVALID_ARG, "interpolate: need f32 (N, C, 1-3 spatial dims) "
                                            "and a contiguous f32 dst of the same N, C");
    if (mode == LTX_INTERP_BICUBIC && ns != 2)
        return ltx_err(LTX_ERR_INVALID_ARG, "interpolate: bicubic needs 2 spatial dims");
    if ((unsigned)mode > LTX_INTERP_AREA)
        return ltx_err(LTX_ERR_INVALID_ARG, "interpolate: mode %d out of range", (int)mode);
    for (int i = 2; i < src->ndim; i++)
        if (src->shape[i] < 1 || dst->shape[i] < 1)
            return ltx_err(LTX_ERR_INVALID_ARG, "interpolate: empty spatial dim %d", i);
    if (ltx_tensor_numel(dst) == 0) return LTX_OK;
    ck_interp c = {.C = src->shape[1],
                   .xs0 = src->stride[0],
                   .xs1 = src->stride[1],
                   .x = cu_ptr(src),
                   .y = cu_ptr(dst)};
    int taps = mode == LTX_INTERP_NEAREST ? 1 : mode == LTX_INTERP_LINEAR ? 2 : 4;
    int64_t total = 0, in[3], st[3];
    for (int i = 0; i < 3; i++) {
        int si = i - (3 - ns);
        in[i] = si >= 0 ? src->shape[2 + si] : 1;
        c.out[i] = si >= 0 ? dst->shape[2 + si] : 1;
        st[i] = si >= 0 ? src->stride[2 + si] : 0;
        c.taps[i] = si >= 0 ? taps : 1;
        if (mode == LTX_INTERP_AREA && si >= 0) {
            int64_t mx = 1;
            for (int64_t o = 0; o < c.out[i]; o++) {
                int64_t s0 = (int64_t)floorf((float)(o * in[i]) / (float)c.out[i]);
                int64_t s1 = (int64_t)ceilf((float)((o + 1) * in[i]) / (float)c.out[i]);
                if (s1 - s0 > mx) mx = s1 - s0;
            }
            c.taps[i] = (int)mx;
        }
        total += c.out[i] * c.taps[i];
    }
    /* one host block: int64 indices then float weights; uploaded as one scratch */
    size_t ib = sizeof(int64_t) * (size_t)total, bytes = ib + sizeof(float) * (size_t)total;
    char *h = malloc(bytes);
    if (!h) return ltx_err(LTX_ERR_OOM, "interpolate: tables");
    int64_t o = 0;
    for (int i = 0; i < 3; i++) {
        build_dim(mode, align_corners, in[i], c.out[i], st[i], c.taps[i], (int64_t *)h + o,
                  (float *)(h + ib) + o);
        o += c.out[i] * c.taps[i];
    }
    void *d;
    ltx_status s = ltx_cu_scratch_upload(be, h, bytes, &d);
    free(h);
    if (s != LTX_OK) return s;
    o = 0;
    for (int i = 0; i < 3; i++) {
        c.idx[i] = (const int64_t *)d + o;
        c.wt[i] = (const float *)((char *)d + ib) + o;
        o += c.out[i] * c.taps[i];
    }
    c.rows = src->shape[0] * src->shape[1] * c.out[0] * c.out[1];
    cudaError_t e = ltx_ck_interpolate(cstream(be), &c);
    ltx_cu_scratch_free(be, d);
    return ltx_cu_check(e, "interpolate");
}

/* ---- supports() ---------------------------------------------------------------------------- */

static bool f32(const ltx_tensor *t)
{
    return t && t->dtype == LTX_F32;
}
static bool fl(const ltx_tensor *t)
{
    return t && is_float(t->dtype);
}

/* Precise answers per op (see backend.h): true exactly when the op above runs these dtypes and
 * shapes natively. Only dtype/ndim/shape/strides are read. */
bool ltx_cu_supports(ltx_backend *be, const ltx_op_query *q)
{
    (void)be;
    const ltx_tensor *d = q->dst, *a = q->src[0], *b = q->src[1];
    if (!d) return false;
    if (d->ndim > CK_MAX_DIMS) return false;
    switch (q->op) {
    case LTX_OP_COPY:
        return a != NULL;
    case LTX_OP_FILL:
        return true;
    case LTX_OP_UNARY:
        return q->sub >= 0 && q->sub < LTX_UNARY_COUNT && fl(d) && fl(a);
    case LTX_OP_BINARY:
        return q->sub >= 0 && q->sub < LTX_BINARY_COUNT && fl(d) && fl(a) && fl(b);
    case LTX_OP_AXPBY:
        return fl(d) && fl(a) && fl(b);
    case LTX_OP_GATED_ADD:
        return f32(d) && f32(a) && f32(b) && (!q->src[2] || f32(q->src[2]));
    case LTX_OP_LINEAR:
    case LTX_OP_LINEAR_ACT:
        return f32(d) && f32(a) && b && b->ndim == 2 &&
               (b->dtype == LTX_F32 || b->dtype == LTX_BF16 || b->dtype == LTX_F16 ||
                b->dtype == LTX_F8E4M3 || b->dtype == LTX_F8E5M2) &&
               (q->op == LTX_OP_LINEAR || q->sub == LTX_UNARY_GELU_TANH ||
                q->sub == LTX_UNARY_GELU_ERF || q->sub == LTX_UNARY_SILU ||
                q->sub == LTX_UNARY_RELU);
    case LTX_OP_MATMUL:
        return f32(d) && f32(a) && f32(b) && d->ndim >= 2;
    case LTX_OP_SOFTMAX:
        return f32(d) && f32(a);
    case LTX_OP_NORM:
        return q->sub >= 0 && q->sub < LTX_NORM_COUNT && f32(d) && f32(a);
    case LTX_OP_NORM_MODULATE:
        return (q->sub == LTX_NORM_RMS || q->sub == LTX_NORM_LAYER) && f32(d) && f32(a) && fl(b) &&
               fl(q->src[2]);
    case LTX_OP_ATTENTION: {
        const ltx_tensor *k = q->src[1], *v = q->src[2], *m = q->src[3];
        if (!f32(d) || !f32(a) || !f32(k) || !f32(v) || a->ndim != 4) return false;
        int64_t D = a->shape[3];
        if (D < 1 || D > 256 || v->ndim != 4 || v->shape[3] < 1 || v->shape[3] > 256) return false;
        return !m || m->dtype == LTX_F32 || m->dtype == LTX_BF16 || m->dtype == LTX_F16 ||
               m->dtype == LTX_BOOL || m->dtype == LTX_U8;
    }
    case LTX_OP_ROPE:
        return (q->sub == LTX_ROPE_SPLIT || q->sub == LTX_ROPE_INTERLEAVED) && f32(d) && f32(a) &&
               d->ndim == 4;
    case LTX_OP_QK_NORM_ROPE:
        return (q->sub == LTX_ROPE_SPLIT || q->sub == LTX_ROPE_INTERLEAVED) && f32(d) && f32(a) &&
               a->ndim == 3 && a->stride[2] == 1;
    case LTX_OP_CONV:
        return f32(d) && f32(a) && fl(b) && a->ndim >= 3 && a->ndim <= 5;
    case LTX_OP_PAD:
        return a != NULL && d->ndim == a->ndim;
    case LTX_OP_REDUCE:
        return q->sub >= 0 && q->sub < LTX_REDUCE_COUNT && d && a &&
               (d->dtype == LTX_F32 || d->dtype == LTX_F64) &&
               (a->dtype == LTX_F32 || a->dtype == LTX_F64);
    case LTX_OP_INTERPOLATE:
        return q->sub >= 0 && q->sub <= LTX_INTERP_AREA && f32(d) && f32(a) && a->ndim >= 3 &&
               a->ndim <= 5 && (q->sub != LTX_INTERP_BICUBIC || a->ndim == 4);
    case LTX_OP_SNAKE:
        return f32(d) && f32(a) && d->ndim == 3;
    default:
        return false;
    }
}
