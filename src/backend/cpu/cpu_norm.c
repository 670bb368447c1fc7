/*
 * cpu_norm.c — CPU norm (RMS, layer, group, pixel), rotary embedding and SnakeBeta (contracts in
 * backend.h).
 *
 * All math is f32 with statistics (means, variances) accumulated in double, so results match
 * PyTorch's f32 kernels to f32 rounding (torch accumulates in f32 with vectorised/cascade sums;
 * double is at least as accurate). Weights/biases may be any float dtype and are converted to
 * f32 once per call (a D- or C-element scratch). Inputs may be strided views; RMS/layer norm,
 * rope and snake read them in place, group/pixel norm copy a non-contiguous input to a
 * contiguous scratch first.
 * ref: ltx_core/model/transformer/rope.py (apply_split_rotary_emb, apply_interleaved_rotary_emb),
 *      ltx_core/model/audio_vae/vocoder.py (SnakeBeta), ltx_core/model/common/normalization.py,
 *      torch.nn.functional.rms_norm / layer_norm / group_norm.
 */
#include "backend/cpu/cpu_iter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Returns a malloc'd f32 copy of the n elements of a 1-D-like float tensor (NULL tensor ->
 * *out = NULL). */
static ltx_status vec_f32(const ltx_tensor *t, int64_t n, const char *what, float **out)
{
    *out = NULL;
    if (!t) return LTX_OK;
    if (ltx_tensor_numel(t) != n || !ltx_tensor_is_contiguous(t))
        return ltx_err(LTX_ERR_INVALID_ARG, "%s: expected %lld contiguous elements%s%s", what,
                       (long long)n, t->name[0] ? " in " : "", t->name);
    float *v = malloc(sizeof(float) * (size_t)(n + 1));
    if (!v) return ltx_err(LTX_ERR_OOM, "%s: out of memory", what);
    ltx_convert(v, LTX_F32, cpu_ptr(t), t->dtype, (size_t)n);
    *out = v;
    return LTX_OK;
}

/* ---- RMS / layer norm over the last dim -------------------------------------------------- */

/* Sums over contiguous f32 rows in double with 8 independent accumulators (vectorisable
 * without reassociating any single accumulator). */
static double sum_sq_dev(const float *x, int64_t n, double m, bool square_dev)
{
    double a[8] = {0};
    int64_t i = 0;
    if (square_dev) {
        for (; i + 8 <= n; i += 8)
            for (int k = 0; k < 8; k++) {
                double e = (double)x[i + k] - m;
                a[k] += e * e;
            }
        for (; i < n; i++)
            a[0] += ((double)x[i] - m) * ((double)x[i] - m);
    } else {
        for (; i + 8 <= n; i += 8)
            for (int k = 0; k < 8; k++)
                a[k] += (double)x[i + k];
        for (; i < n; i++)
            a[0] += (double)x[i];
    }
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

typedef struct lastdim_ctx {
    ltx_norm_op op;
    ltx_tensor *dst;
    const ltx_tensor *x;
    const float *w, *b;
    int64_t D, ds, xs; /* last dim and its strides */
    float eps;
} lastdim_ctx;

static void lastdim_seg(void *vctx, const int64_t *off, int64_t n, const int64_t *inner, int worker)
{
    (void)worker;
    lastdim_ctx *c = vctx;
    int64_t D = c->D, ds = c->ds, xs = c->xs;
    for (int64_t r = 0; r < n; r++) {
        float *d = (float *)cpu_ptr(c->dst) + off[0] + r * inner[0];
        const float *x = (const float *)cpu_ptr(c->x) + off[1] + r * inner[1];
        if (c->op == LTX_NORM_RMS) {
            double ss = 0;
            if (xs == 1)
                ss = sum_sq_dev(x, D, 0.0, true);
            else
                for (int64_t i = 0; i < D; i++)
                    ss += (double)x[i * xs] * x[i * xs];
            float rs = (float)(1.0 / sqrt(ss / (double)D + (double)c->eps));
            if (c->w)
                for (int64_t i = 0; i < D; i++)
                    d[i * ds] = (x[i * xs] * rs) * c->w[i];
            else
                for (int64_t i = 0; i < D; i++)
                    d[i * ds] = x[i * xs] * rs;
        } else {
            double m = 0, q = 0;
            if (xs == 1) {
                m = sum_sq_dev(x, D, 0.0, false) / (double)D;
                q = sum_sq_dev(x, D, m, true);
            } else {
                for (int64_t i = 0; i < D; i++)
                    m += x[i * xs];
                m /= (double)D;
                for (int64_t i = 0; i < D; i++) {
                    double e = x[i * xs] - m;
                    q += e * e;
                }
            }
            float rs = (float)(1.0 / sqrt(q / (double)D + (double)c->eps)), mf = (float)m;
            for (int64_t i = 0; i < D; i++) {
                float y = (x[i * xs] - mf) * rs;
                if (c->w) y = y * c->w[i];
                if (c->b) y = y + c->b[i];
                d[i * ds] = y;
            }
        }
    }
}

/* ---- fused norm + AdaLN modulate -------------------------------------------------------- */

typedef struct nm_ctx {
    ltx_norm_op op;
    ltx_tensor *dst;
    const ltx_tensor *x, *scale, *shift;
    int64_t D, ds, xs, cs, hs; /* last dim and the operands' strides along it */
    float eps;
} nm_ctx;

/* Per row: the statistics of lastdim_seg, then y = norm(x) * (1 + scale) + shift with the
 * rounding sequence of the composed ops (norm with weight 1 + scale, then the shift add). */
static void nm_seg(void *vctx, const int64_t *off, int64_t n, const int64_t *inner, int worker)
{
    (void)worker;
    nm_ctx *c = vctx;
    int64_t D = c->D, ds = c->ds, xs = c->xs, cs = c->cs, hs = c->hs;
    for (int64_t r = 0; r < n; r++) {
        float *d = (float *)cpu_ptr(c->dst) + off[0] + r * inner[0];
        const float *x = (const float *)cpu_ptr(c->x) + off[1] + r * inner[1];
        const float *sc = (const float *)cpu_ptr(c->scale) + off[2] + r * inner[2];
        const float *sh = (const float *)cpu_ptr(c->shift) + off[3] + r * inner[3];
        double m = 0, q = 0;
        if (c->op == LTX_NORM_LAYER) {
            if (xs == 1) {
                m = sum_sq_dev(x, D, 0.0, false) / (double)D;
                q = sum_sq_dev(x, D, m, true);
            } else {
                for (int64_t i = 0; i < D; i++) m += x[i * xs];
                m /= (double)D;
                for (int64_t i = 0; i < D; i++) q += (x[i * xs] - m) * (x[i * xs] - m);
            }
        } else if (xs == 1) {
            q = sum_sq_dev(x, D, 0.0, true);
        } else {
            for (int64_t i = 0; i < D; i++) q += (double)x[i * xs] * x[i * xs];
        }
        float rs = (float)(1.0 / sqrt(q / (double)D + (double)c->eps)), mf = (float)m;
        if (c->op == LTX_NORM_RMS)
            for (int64_t i = 0; i < D; i++) {
                float y = (x[i * xs] * rs) * (1.0f + sc[i * cs]);
                d[i * ds] = y + sh[i * hs];
            }
        else
            for (int64_t i = 0; i < D; i++) {
                float y = ((x[i * xs] - mf) * rs) * (1.0f + sc[i * cs]);
                d[i * ds] = y + sh[i * hs];
            }
    }
}

/* Element strides of t broadcast (right-aligned) to `shape` (rank nd); false if it does not
 * broadcast. */
static bool bcast_strides(const ltx_tensor *t, int nd, const int64_t *shape, int64_t *st)
{
    if (t->ndim > nd) return false;
    for (int d = 0; d < nd; d++) {
        int k = d - (nd - t->ndim);
        int64_t sz = k >= 0 ? t->shape[k] : 1;
        if (sz != shape[d] && sz != 1) return false;
        st[d] = (k >= 0 && sz != 1) ? t->stride[k] : 0;
    }
    return true;
}

/* f32 version of a float tensor: t itself, or a new converted copy in *tmp. */
static ltx_status as_f32(ltx_backend *be, const ltx_tensor *t, const ltx_tensor **out,
                         ltx_tensor **tmp)
{
    *tmp = NULL;
    *out = t;
    if (t->dtype == LTX_F32) return LTX_OK;
    *tmp = ltx_tensor_new(be, LTX_F32, t->ndim, t->shape);
    if (!*tmp) return ltx_err_failed();
    *out = *tmp;
    return ltx_cpu_copy(be, *tmp, t);
}

/* dst = norm(x) * (1 + scale) + shift (contract in backend.h). */
ltx_status ltx_cpu_norm_modulate(ltx_backend *be, ltx_norm_op op, ltx_tensor *dst,
                                 const ltx_tensor *x, const ltx_tensor *scale,
                                 const ltx_tensor *shift, float eps)
{
    if (x->dtype != LTX_F32 || dst->dtype != LTX_F32 || !ltx_tensor_same_shape(dst, x) ||
        x->ndim < 1 || (op != LTX_NORM_RMS && op != LTX_NORM_LAYER))
        return ltx_err(LTX_ERR_INVALID_ARG, "norm_modulate: f32 x/dst of one shape and an RMS "
                                            "or layer norm expected");
    int nd = x->ndim;
    int64_t st[4][LTX_MAX_DIMS];
    const ltx_tensor *sc = NULL, *sh = NULL;
    ltx_tensor *tsc = NULL, *tsh = NULL;
    ltx_status s = as_f32(be, scale, &sc, &tsc);
    if (s == LTX_OK) s = as_f32(be, shift, &sh, &tsh);
    if (s == LTX_OK && (!bcast_strides(sc, nd, x->shape, st[2]) ||
                        !bcast_strides(sh, nd, x->shape, st[3])))
        s = ltx_err(LTX_ERR_INVALID_ARG, "norm_modulate: scale/shift do not broadcast to x");
    if (s == LTX_OK && x->shape[nd - 1] > 0) {
        for (int d = 0; d < nd; d++) {
            st[0][d] = dst->stride[d];
            st[1][d] = x->stride[d];
        }
        int64_t D = x->shape[nd - 1];
        nm_ctx c = {op, dst, x, sc, sh, D, st[0][nd - 1], st[1][nd - 1], st[2][nd - 1],
                    st[3][nd - 1], eps};
        cpu_iter it;
        ltx_cpu_iter_init_strides(&it, nd - 1, x->shape, 4, (const int64_t(*)[LTX_MAX_DIMS])st);
        ltx_cpu_iter_run(be, &it, (int)(D < 1000000 ? 4 * D : 1000000), nm_seg, &c);
    }
    ltx_tensor_free(tsc);
    ltx_tensor_free(tsh);
    return s;
}

/* ---- group / pixel norm on contiguous (N, C, S) ------------------------------------------ */

typedef struct chan_ctx {
    float *d;
    const float *x;
    const float *w, *b;
    int64_t N, C, S, G;
    float eps;
} chan_ctx;

/* One item = one (n, group). */
static void group_items(void *vctx, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    chan_ctx *c = vctx;
    int64_t cpg = c->C / c->G, len = cpg * c->S;
    for (int64_t it = begin; it < end; it++) {
        int64_t n = it / c->G, g = it % c->G;
        const float *x = c->x + (n * c->C + g * cpg) * c->S;
        float *d = c->d + (n * c->C + g * cpg) * c->S;
        double m = sum_sq_dev(x, len, 0.0, false) / (double)len;
        double q = sum_sq_dev(x, len, m, true);
        float rs = (float)(1.0 / sqrt(q / (double)len + (double)c->eps)), mf = (float)m;
        for (int64_t ch = 0; ch < cpg; ch++) {
            float w = c->w ? c->w[g * cpg + ch] : 1.0f, bb = c->b ? c->b[g * cpg + ch] : 0.0f;
            const float *xr = x + ch * c->S;
            float *dr = d + ch * c->S;
            for (int64_t s = 0; s < c->S; s++)
                dr[s] = ((xr[s] - mf) * rs) * w + bb;
        }
    }
}

#define PIX_BLK 512
/* One item = a block of PIX_BLK spatial positions of one sample. */
static void pixel_items(void *vctx, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    chan_ctx *c = vctx;
    int64_t nblk = (c->S + PIX_BLK - 1) / PIX_BLK;
    for (int64_t it = begin; it < end; it++) {
        int64_t n = it / nblk, s0 = (it % nblk) * PIX_BLK;
        int64_t m = c->S - s0 < PIX_BLK ? c->S - s0 : PIX_BLK;
        double acc[PIX_BLK];
        float rs[PIX_BLK];
        for (int64_t s = 0; s < m; s++)
            acc[s] = 0;
        const float *x = c->x + n * c->C * c->S + s0;
        float *d = c->d + n * c->C * c->S + s0;
        for (int64_t ch = 0; ch < c->C; ch++)
            for (int64_t s = 0; s < m; s++)
                acc[s] += (double)x[ch * c->S + s] * x[ch * c->S + s];
        for (int64_t s = 0; s < m; s++)
            rs[s] = (float)(1.0 / sqrt(acc[s] / (double)c->C + (double)c->eps));
        for (int64_t ch = 0; ch < c->C; ch++)
            for (int64_t s = 0; s < m; s++)
                d[ch * c->S + s] = x[ch * c->S + s] * rs[s];
    }
}

/* Norms (see ltx_norm_op). x f32 (any strides), dst f32 of x's shape (any non-broadcast
 * strides for RMS/layer; contiguous for group/pixel). w, b: NULL or any float dtype with D
 * (RMS/layer, last dim) or C (group) contiguous elements; pixel norm takes neither. */
ltx_status ltx_cpu_norm(ltx_backend *be, ltx_norm_op op, ltx_tensor *dst, const ltx_tensor *x,
                        const ltx_tensor *w, const ltx_tensor *b, int groups, float eps)
{
    if (x->dtype != LTX_F32 || dst->dtype != LTX_F32 || !ltx_tensor_same_shape(dst, x) ||
        x->ndim < 1)
        return ltx_err(LTX_ERR_INVALID_ARG, "norm: x and dst must be f32 of the same shape");
    int nd = x->ndim;
    ltx_status s = LTX_OK;
    float *wv = NULL, *bv = NULL;
    ltx_tensor *xc = NULL;
    if (op == LTX_NORM_RMS || op == LTX_NORM_LAYER) {
        int64_t D = x->shape[nd - 1];
        LTX_CHECK_GOTO(s, vec_f32(w, D, "norm weight", &wv), done);
        if (op == LTX_NORM_LAYER) LTX_CHECK_GOTO(s, vec_f32(b, D, "norm bias", &bv), done);
        lastdim_ctx c = {op, dst, x, wv, bv, D, dst->stride[nd - 1], x->stride[nd - 1], eps};
        /* iterate the leading dims; one segment element = one row */
        int64_t st[2][LTX_MAX_DIMS];
        for (int d = 0; d < nd - 1; d++) {
            st[0][d] = dst->stride[d];
            st[1][d] = x->stride[d];
        }
        cpu_iter it;
        ltx_cpu_iter_init_strides(&it, nd - 1, x->shape, 2, (const int64_t(*)[LTX_MAX_DIMS])st);
        if (D > 0) ltx_cpu_iter_run(be, &it, (int)(D < 1000000 ? 3 * D : 1000000), lastdim_seg, &c);
        goto done;
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
    if (!ltx_tensor_is_contiguous(x)) {
        /* scratch: a contiguous copy of x (same size as dst) */
        xc = ltx_tensor_new(be, LTX_F32, x->ndim, x->shape);
        if (!xc) return ltx_err_failed();
        LTX_CHECK_GOTO(s, ltx_cpu_copy(be, xc, x), done);
    }
    const float *xp = cpu_ptr(xc ? xc : x);
    if (op == LTX_NORM_GROUP) {
        LTX_CHECK_GOTO(s, vec_f32(w, C, "group norm weight", &wv), done);
        LTX_CHECK_GOTO(s, vec_f32(b, C, "group norm bias", &bv), done);
    }
    chan_ctx c = {cpu_ptr(dst), xp, wv, bv, N, C, S, groups, eps};
    if (op == LTX_NORM_GROUP)
        ltx_cpu_parallel(be, N * groups, 3 * (C / groups) * S, group_items, &c);
    else
        ltx_cpu_parallel(be, N * ((S + PIX_BLK - 1) / PIX_BLK), 3 * C * PIX_BLK, pixel_items, &c);
done:
    ltx_tensor_free(xc);
    free(wv);
    free(bv);
    return s;
}

/* ---- rotary embedding -------------------------------------------------------------------- */

typedef struct rope_ctx {
    ltx_rope_mode mode;
    ltx_tensor *dst;
    const ltx_tensor *x, *cos, *sin;
    int64_t B, H, T, D;
    int64_t cst[4], sst[4]; /* cos/sin strides over (B, H, T, i), 0 where broadcast */
} rope_ctx;

static void rope_rows(void *vctx, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    rope_ctx *c = vctx;
    const ltx_tensor *x = c->x;
    ltx_tensor *dst = c->dst;
    int64_t half = c->D / 2, xs = x->stride[3], ds = dst->stride[3];
    for (int64_t r = begin; r < end; r++) {
        int64_t t = r % c->T, h = (r / c->T) % c->H, b = r / (c->T * c->H);
        const float *xr =
            (const float *)cpu_ptr(x) + b * x->stride[0] + h * x->stride[1] + t * x->stride[2];
        float *dr =
            (float *)cpu_ptr(dst) + b * dst->stride[0] + h * dst->stride[1] + t * dst->stride[2];
        const float *cr =
            (const float *)cpu_ptr(c->cos) + b * c->cst[0] + h * c->cst[1] + t * c->cst[2];
        const float *sr =
            (const float *)cpu_ptr(c->sin) + b * c->sst[0] + h * c->sst[1] + t * c->sst[2];
        int64_t ci = c->cst[3], si = c->sst[3];
        if (c->mode == LTX_ROPE_SPLIT) {
            for (int64_t i = 0; i < half; i++) {
                float x1 = xr[i * xs], x2 = xr[(i + half) * xs], co = cr[i * ci], sn = sr[i * si];
                dr[i * ds] = (x1 * co) + ((-sn) * x2);
                dr[(i + half) * ds] = (x2 * co) + (sn * x1);
            }
        } else {
            for (int64_t i = 0; i < half; i++) {
                float x1 = xr[2 * i * xs], x2 = xr[(2 * i + 1) * xs];
                float co = cr[i * ci], sn = sr[i * si];
                dr[2 * i * ds] = (x1 * co) + ((-x2) * sn);
                dr[(2 * i + 1) * ds] = (x2 * co) + (x1 * sn);
            }
        }
    }
}

/* Broadcast strides of a cos/sin table (rank <= 4, right-aligned to (B, H, T, D/2)). */
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
                           "rope: %s %s does not broadcast to (%lld, %lld, "
                           "%lld, %lld)",
                           what, ltx_tensor_shape_str(t, b, sizeof b), (long long)want[0],
                           (long long)want[1], (long long)want[2], (long long)want[3]);
        }
        st[d] = (sd >= 0 && sz == want[d]) ? t->stride[sd] : 0;
    }
    return LTX_OK;
}

/* Rotary embedding (see backend.h for the table layout). x, dst f32 (B, H, T, D), any strides
 * (dst may be x itself); cos/sin f32 (B|1, H|1, T, D/2), any strides. */
ltx_status ltx_cpu_rope(ltx_backend *be, ltx_rope_mode mode, ltx_tensor *dst, const ltx_tensor *x,
                        const ltx_tensor *cos, const ltx_tensor *sin)
{
    if (x->ndim != 4 || x->dtype != LTX_F32 || dst->dtype != LTX_F32 ||
        !ltx_tensor_same_shape(dst, x) || x->shape[3] % 2)
        return ltx_err(LTX_ERR_INVALID_ARG, "rope: x and dst must be f32 (B, H, T, D), D even");
    if (mode != LTX_ROPE_SPLIT && mode != LTX_ROPE_INTERLEAVED)
        return ltx_err(LTX_ERR_INVALID_ARG, "rope: mode %d out of range", (int)mode);
    rope_ctx c = {mode,        dst,         x,           cos, sin, x->shape[0],
                  x->shape[1], x->shape[2], x->shape[3], {0}, {0}};
    int64_t want[4] = {c.B, c.H, c.T, c.D / 2};
    LTX_TRY(table_strides(cos, want, c.cst, "cos"));
    LTX_TRY(table_strides(sin, want, c.sst, "sin"));
    ltx_cpu_parallel(be, c.B * c.H * c.T, 4 * c.D, rope_rows, &c);
    return LTX_OK;
}

/* ---- SnakeBeta --------------------------------------------------------------------------- */

typedef struct snake_ctx {
    ltx_tensor *dst;
    const ltx_tensor *x;
    const float *a, *inv; /* per channel: frequency and 1/(beta + 1e-9) */
    int64_t C, T;
} snake_ctx;

/* sin for |x| <= SIN_FAST_MAX, branch-free so the snake loop vectorises (libm sinf does not):
 * Cody-Waite reduction by pi/2 in three float parts (exact products for |k| < 2^16), Cephes
 * minimax polynomials on [-pi/4, pi/4]; ~1 ulp (torch's SLEEF sinf is 1 ulp too). Larger
 * arguments are redone with sinf. */
#define SIN_FAST_MAX 8192.0f
static inline float sin_fast(float x)
{
    float kf = rintf(x * 0.636619772367581343f);
    int k = (int)kf;
    float r = ((x - kf * 1.5703125f) - kf * 4.837512969970703125e-4f) - kf * 7.5497899548918822e-8f;
    float r2 = r * r;
    float sn = r + r * r2 * (-1.6666654611e-1f + r2 * (8.3321608736e-3f + r2 * -1.9515295891e-4f));
    float cs =
        (1.0f - 0.5f * r2) +
        r2 * r2 *
            (4.166664568298827e-2f + r2 * (-1.388731625493765e-3f + r2 * 2.443315711809948e-5f));
    float v = (k & 1) ? cs : sn;
    return (k & 2) ? -v : v;
}

static void snake_rows(void *vctx, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    snake_ctx *c = vctx;
    const ltx_tensor *x = c->x;
    ltx_tensor *d = c->dst;
    for (int64_t r = begin; r < end; r++) {
        int64_t b = r / c->C, ch = r % c->C;
        const float *xr = (const float *)cpu_ptr(x) + b * x->stride[0] + ch * x->stride[1];
        float *dr = (float *)cpu_ptr(d) + b * d->stride[0] + ch * d->stride[1];
        int64_t xs = x->stride[2], ds = d->stride[2];
        float a = c->a[ch], inv = c->inv[ch];
        /* rows with far-out arguments (or NaN/Inf) use libm sinf (rare; also safe in place) */
        int nbig = 0;
        for (int64_t t = 0; t < c->T; t++)
            nbig += !(fabsf(xr[t * xs] * a) <= SIN_FAST_MAX);
        if (nbig) {
            for (int64_t t = 0; t < c->T; t++) {
                float v = xr[t * xs], s = sinf(v * a);
                dr[t * ds] = v + inv * (s * s);
            }
        } else if (xs == 1 && ds == 1) {
            for (int64_t t = 0; t < c->T; t++) {
                float v = xr[t], s = sin_fast(v * a);
                dr[t] = v + inv * (s * s);
            }
        } else {
            for (int64_t t = 0; t < c->T; t++) {
                float v = xr[t * xs], s = sin_fast(v * a);
                dr[t * ds] = v + inv * (s * s);
            }
        }
    }
}

/* SnakeBeta: x, dst f32 (B, C, T) any strides; alpha, beta (C) any float dtype.
 * ref: vocoder.py SnakeBeta.forward: x + 1/(beta + 1e-9) * sin(x * alpha)^2, alpha = exp(alpha),
 * beta = exp(beta) when log_scale. */
ltx_status ltx_cpu_snake(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *x,
                         const ltx_tensor *alpha, const ltx_tensor *beta, bool log_scale)
{
    if (x->ndim != 3 || x->dtype != LTX_F32 || dst->dtype != LTX_F32 ||
        !ltx_tensor_same_shape(dst, x))
        return ltx_err(LTX_ERR_INVALID_ARG, "snake: x and dst must be f32 (B, C, T)");
    int64_t C = x->shape[1];
    float *a = NULL, *bt = NULL;
    ltx_status s = vec_f32(alpha, C, "snake alpha", &a);
    if (s == LTX_OK) s = vec_f32(beta, C, "snake beta", &bt);
    if (s == LTX_OK && (!a || !bt))
        s = ltx_err(LTX_ERR_INVALID_ARG, "snake: alpha and beta are required");
    if (s == LTX_OK) {
        for (int64_t ch = 0; ch < C; ch++) {
            float av = log_scale ? expf(a[ch]) : a[ch], bv = log_scale ? expf(bt[ch]) : bt[ch];
            a[ch] = av;
            bt[ch] = 1.0f / (bv + 1e-9f); /* ref: eps = 1e-9 */
        }
        snake_ctx c = {dst, x, a, bt, C, x->shape[2]};
        ltx_cpu_parallel(be, x->shape[0] * C, 12 * x->shape[2], snake_rows, &c);
    }
    free(a);
    free(bt);
    return s;
}
