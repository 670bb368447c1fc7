/*
 * cuda_conv_attn.c — host side of the CUDA attention (argument checks, then the fused
 * flash-attention kernel of kernels/attention.cu in the backend's precision) and convolution
 * (1/2/3-D, grouped, strided, dilated, transposed) lowered to cuBLASLt GEMMs.
 *
 * Convolution, as src/backend/cpu/cpu_conv.c:
 *   forward     per (sample, group, tile of output positions): col (cig*Kvol, P) = im2col(x),
 *               y[:, tile] = bias + W_g (cog, cig*Kvol) @ col   (GEMM with beta 1 over the
 *               bias-initialised y). Tiles keep col under CONV_COL_BYTES.
 *   transposed  per (sample, group): col (cog*Kvol, Sin) = W_g^T @ x_g, then col2im gathers
 *               each output's taps (deterministic, no atomics) and adds them to y.
 *   depthwise   (one channel in and out per group) a direct kernel.
 * Weights are widened once per call to an f32 scratch unless already contiguous f32. The GEMMs
 * run CUBLAS_COMPUTE_32F (F32) or CUBLAS_COMPUTE_32F_FAST_16BF (BF16: operands rounded to bf16
 * on the tensor cores, f32 accumulation).
 * Not here: cuDNN (implicit GEMM through cuBLASLt was simpler and keeps one numeric path;
 * measure before adding it), fp8 conv weights beyond the f32 widening.
 */
#include "backend/conv_geom.h"
#include "backend/cuda/cuda_internal.h"

#include <string.h>

#define CONV_COL_BYTES ((size_t)256 << 20) /* im2col / col scratch per GEMM */

static cudaStream_t cstream(ltx_backend *be)
{
    return ((cuda_state *)be->impl)->compute;
}

/* ---- attention ----------------------------------------------------------------------------- */

static ltx_status attn_check(ck_attn *j, const ltx_tensor *o, const ltx_tensor *q,
                             const ltx_tensor *k, const ltx_tensor *v, const ltx_tensor *mask)
{
    char b1[96], b2[96], b3[96], b4[96];
    bool ok = q->ndim == 4 && k->ndim == 4 && v->ndim == 4 && o->ndim == 4 && q->dtype == LTX_F32 &&
              k->dtype == LTX_F32 && v->dtype == LTX_F32 && o->dtype == LTX_F32 &&
              ltx_tensor_is_contiguous(o);
    if (ok) {
        j->B = q->shape[0], j->H = q->shape[1], j->Tq = q->shape[2], j->D = q->shape[3];
        j->Hk = k->shape[1], j->Tk = k->shape[2];
        ok = k->shape[0] == j->B && v->shape[0] == j->B && v->shape[1] == j->Hk &&
             v->shape[2] == j->Tk && k->shape[3] == j->D && j->Hk > 0 && j->H % j->Hk == 0 &&
             o->shape[0] == j->B && o->shape[1] == j->H && o->shape[2] == j->Tq &&
             o->shape[3] == v->shape[3];
    }
    if (!ok)
        return ltx_err(
            LTX_ERR_INVALID_ARG,
            "attention: want F32 q (B,H,Tq,D), k (B,Hk,Tk,D), v (B,Hk,Tk,Dv), "
            "contiguous o (B,H,Tq,Dv), H %% Hk == 0; got q %s k %s v %s o %s",
            ltx_tensor_shape_str(q, b1, sizeof b1), ltx_tensor_shape_str(k, b2, sizeof b2),
            ltx_tensor_shape_str(v, b3, sizeof b3), ltx_tensor_shape_str(o, b4, sizeof b4));
    j->Dv = v->shape[3];
    if (j->D > 256 || j->Dv > 256)
        return ltx_err(LTX_ERR_UNSUPPORTED,
                       "attention on cuda: head dims D %lld / Dv %lld (the fused kernel takes "
                       "up to 256)",
                       (long long)j->D, (long long)j->Dv);
    for (int d = 0; d < 4; d++) {
        j->qs[d] = q->stride[d];
        j->ks[d] = k->stride[d];
        j->vs[d] = v->stride[d];
        j->os[d] = o->stride[d];
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
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "attention: mask %s is not F32/BF16/F16/BOOL/U8 broadcastable to (%lld, "
                       "%lld, %lld, %lld)",
                       ltx_tensor_shape_str(mask, b1, sizeof b1), (long long)j->B, (long long)j->H,
                       (long long)j->Tq, (long long)j->Tk);
    j->mask = cu_ptr(mask);
    j->mdtype = (int)mask->dtype;
    return LTX_OK;
}

ltx_status ltx_cu_attention(ltx_backend *be, ltx_tensor *o, const ltx_tensor *q,
                            const ltx_tensor *k, const ltx_tensor *v, const ltx_tensor *mask,
                            float scale)
{
    ck_attn j;
    memset(&j, 0, sizeof j);
    j.q = cu_ptr(q), j.k = cu_ptr(k), j.v = cu_ptr(v), j.o = cu_ptr(o), j.scale = scale;
    LTX_TRY(attn_check(&j, o, q, k, v, mask));
    if (ltx_tensor_numel(o) == 0) return LTX_OK;
    if (j.D == 0) return ltx_err(LTX_ERR_INVALID_ARG, "attention: head dim D is 0");
    if (j.Tk == 0) return ltx_cu_fill(be, o, 0.0); /* no keys: all weights 0 */
    j.bf16 = be->precision == LTX_PRECISION_BF16;
    ltx_cu_timing_mark(1, 0, cstream(be));
    cudaError_t e = ltx_ck_attention(cstream(be), &j);
    ltx_cu_timing_mark(1, 1, cstream(be));
    return ltx_cu_check(e, "attention");
}

/* ---- convolution --------------------------------------------------------------------------- */

static cublasComputeType_t conv_compute(ltx_backend *be)
{
    return be->precision == LTX_PRECISION_BF16 ? CUBLAS_COMPUTE_32F_FAST_16BF : CUBLAS_COMPUTE_32F;
}

static ltx_status conv_forward(ltx_backend *be, const ck_conv *g, float *y, const float *x,
                               const float *w)
{
    int64_t KK = g->cig * g->Kvol;
    int64_t P = (int64_t)(CONV_COL_BYTES / ((size_t)KK * sizeof(float)));
    if (P < 1) P = 1;
    if (P > g->Sout) P = g->Sout;
    if (KK > INT32_MAX || g->cog > INT32_MAX || P > INT32_MAX)
        return ltx_err(LTX_ERR_INVALID_ARG, "conv: GEMM dims beyond 2^31");
    float *col;
    LTX_TRY(ltx_cu_scratch(be, (size_t)(KK * P) * sizeof(float), (void **)&col));
    ltx_status s = LTX_OK;
    for (int64_t n = 0; n < g->N && s == LTX_OK; n++)
        for (int64_t grp = 0; grp < g->G && s == LTX_OK; grp++)
            for (int64_t p0 = 0; p0 < g->Sout && s == LTX_OK; p0 += P) {
                int64_t np = g->Sout - p0 < P ? g->Sout - p0 : P;
                s = ltx_cu_check(ltx_ck_im2col(cstream(be), g, x, n, grp, p0, np, col, 0),
                                 "im2col");
                if (s != LTX_OK) break;
                /* y_tile^T (np x cog) = col^T (np x KK) . W_g^T (KK x cog), column-major */
                gemm_desc d = {.ta = CUBLAS_OP_N,
                               .tb = CUBLAS_OP_N,
                               .m = (int)np,
                               .n = (int)g->cog,
                               .k = (int)KK,
                               .batch = 1,
                               .atype = CUDA_R_32F,
                               .btype = CUDA_R_32F,
                               .ctype = CUDA_R_32F,
                               .compute = conv_compute(be),
                               .A = col,
                               .lda = np,
                               .B = w + grp * g->cog * KK,
                               .ldb = KK,
                               .C = y + (n * g->Cout + grp * g->cog) * g->Sout + p0,
                               .ldc = g->Sout,
                               .alpha = 1.0f,
                               .beta = 1.0f,
                               .epi = CUBLASLT_EPILOGUE_DEFAULT};
                s = ltx_cu_gemm_or_fail(be, &d, "conv");
            }
    ltx_cu_scratch_free(be, col);
    return s;
}

static ltx_status conv_transposed(ltx_backend *be, const ck_conv *g, float *y, const float *x,
                                  const float *w)
{
    int64_t cogK = g->cog * g->Kvol;
    if (cogK > INT32_MAX || g->Sin > INT32_MAX || g->cig > INT32_MAX)
        return ltx_err(LTX_ERR_INVALID_ARG, "conv transposed: GEMM dims beyond 2^31");
    float *col;
    LTX_TRY(ltx_cu_scratch(be, (size_t)(cogK * g->Sin) * sizeof(float), (void **)&col));
    ltx_status s = LTX_OK;
    int64_t ldx = g->cig == 1 ? g->Sin : g->xs[1];
    for (int64_t n = 0; n < g->N && s == LTX_OK; n++)
        for (int64_t grp = 0; grp < g->G && s == LTX_OK; grp++) {
            /* col^T (Sin x cogK) = x_g^T (Sin x cig) . W_g (cig x cogK), column-major */
            gemm_desc d = {.ta = CUBLAS_OP_N,
                           .tb = CUBLAS_OP_T,
                           .m = (int)g->Sin,
                           .n = (int)cogK,
                           .k = (int)g->cig,
                           .batch = 1,
                           .atype = CUDA_R_32F,
                           .btype = CUDA_R_32F,
                           .ctype = CUDA_R_32F,
                           .compute = conv_compute(be),
                           .A = x + n * g->xs[0] + grp * g->cig * g->xs[1],
                           .lda = ldx,
                           .B = w + grp * g->cig * cogK,
                           .ldb = cogK,
                           .C = col,
                           .ldc = g->Sin,
                           .alpha = 1.0f,
                           .beta = 0.0f,
                           .epi = CUBLASLT_EPILOGUE_DEFAULT};
            s = ltx_cu_gemm_or_fail(be, &d, "conv transposed");
            if (s == LTX_OK)
                s = ltx_cu_check(ltx_ck_col2im(cstream(be), g, col, y, n, grp), "col2im");
        }
    ltx_cu_scratch_free(be, col);
    return s;
}

/* f32 contiguous copy of a weight/bias tensor (any float dtype/strides) when needed. */
static ltx_status as_f32(ltx_backend *be, const ltx_tensor *t, ltx_tensor **tmp, const float **p)
{
    *tmp = NULL;
    if (t->dtype == LTX_F32 && ltx_tensor_is_contiguous(t)) {
        *p = cu_ptr(t);
        return LTX_OK;
    }
    *tmp = ltx_tensor_new(be, LTX_F32, t->ndim, t->shape);
    if (!*tmp) return ltx_err_failed();
    LTX_TRY(ltx_cu_copy(be, *tmp, t));
    *p = cu_ptr(*tmp);
    return LTX_OK;
}

ltx_status ltx_cu_conv(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x, const ltx_tensor *w,
                       const ltx_tensor *bias, const ltx_conv_params *p)
{
    if (x->dtype != LTX_F32 || y->dtype != LTX_F32 || !ltx_tensor_is_contiguous(y))
        return ltx_err(LTX_ERR_INVALID_ARG, "conv: x must be f32, y contiguous f32");
    if (!ltx_dtype_is_float(w->dtype))
        return ltx_err(LTX_ERR_INVALID_ARG, "conv: weight dtype %s", ltx_dtype_name(w->dtype));
    ck_conv g;
    LTX_TRY(ltx_conv_geom_make(y, x, w, p, &g));
    if (bias && (ltx_tensor_numel(bias) != g.Cout || !ltx_tensor_is_contiguous(bias)))
        return ltx_err(LTX_ERR_INVALID_ARG, "conv: bias must have %lld contiguous elements",
                       (long long)g.Cout);
    if (ltx_tensor_numel(y) == 0) return LTX_OK;
    ltx_tensor *wt = NULL, *bt = NULL, *xt = NULL;
    const float *wf = NULL, *bf = NULL, *xf = cu_ptr(x);
    ltx_status s = as_f32(be, w, &wt, &wf);
    if (s == LTX_OK && bias) s = as_f32(be, bias, &bt, &bf);
    if (s == LTX_OK && g.cig == 1 && g.cog == 1) {
        s = ltx_cu_check(
            ltx_ck_conv_depthwise(cstream(be), &g, cu_ptr(y), xf, wf, bf, p->transposed),
            "depthwise conv");
        goto done;
    }
    if (s == LTX_OK && p->transposed &&
        !ltx_conv_geom_x_contiguous(&g, x)) { /* GEMM needs (cig, Sin) */
        s = as_f32(be, x, &xt, &xf);
        if (s == LTX_OK) {
            for (int i = 0; i < 2; i++)
                g.xs[i] = xt->stride[i];
            for (int i = 0; i < 3; i++) {
                int si = i - (3 - p->nspatial);
                g.xs[2 + i] = si >= 0 ? xt->stride[2 + si] : 0;
            }
        }
    }
    if (s == LTX_OK)
        s = ltx_cu_check(ltx_ck_conv_bias_init(cstream(be), cu_ptr(y), g.N, g.Cout, g.Sout, bf),
                         "conv bias");
    if (s == LTX_OK)
        s = p->transposed ? conv_transposed(be, &g, cu_ptr(y), xf, wf)
                          : conv_forward(be, &g, cu_ptr(y), xf, wf);
done:
    ltx_tensor_free(wt);
    ltx_tensor_free(bt);
    ltx_tensor_free(xt);
    return s;
}
