/*
 * cuda_kernels.h — the boundary between the CUDA backend's host C (cuda_*.c) and its kernels
 * (kernels/<family>.cu, compiled by nvcc as C++). Plain C structs and extern "C" launchers only:
 * host code validates shapes and dtypes against backend.h's contracts, lowers each op to one of
 * these descriptors and calls a launcher, which enqueues kernels on the given stream and returns
 * the launch status (cudaGetLastError()). Launchers never allocate device memory and never
 * synchronise; scratch, where an op needs it, is passed in by the host side.
 *
 * Dtype codes are ltx_dtype values (F32 0, F16 1, BF16 2, F64 3, F8E4M3 4, F8E5M2 5, I64 6,
 * I32 7, U8 8, BOOL 9); kernels/common.cuh converts with the same rounding rules as
 * src/core/dtype.c. Pointers are device addresses of element [0, ...] (view offset applied).
 */
#ifndef LTX_CUDA_KERNELS_H
#define LTX_CUDA_KERNELS_H

#include <stdint.h>

#include "backend/conv_geom.h"

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CK_MAX_DIMS 8
#define CK_MAX_OPS  4

/* A coalesced N-d index space over up to CK_MAX_OPS operands (operand 0 is the output):
 * element i of the space sits at sum_d idx_d(i) * stride[k][d] in operand k (stride 0 =
 * broadcast). The innermost dim is ndim - 1. `contig` says every operand has stride 1 over a
 * single dim (a flat loop). */
typedef struct ck_iter {
    int ndim, nops, contig;
    int64_t n; /* elements in the space */
    int64_t shape[CK_MAX_DIMS];
    int64_t stride[CK_MAX_OPS][CK_MAX_DIMS];
} ck_iter;

/* An operand: device pointer of element [0...] and its dtype code. */
typedef struct ck_operand {
    void *p;
    int dtype;
} ck_operand;

/* ---- elementwise (kernels/elementwise.cu) ---- */
/* f64: compute in double (some operand is F64), else f32. */
cudaError_t ltx_ck_copy(cudaStream_t s, const ck_iter *it, ck_operand dst, ck_operand src);
/* value: the fill value already converted to dst's dtype, as raw bytes (<= 8). */
cudaError_t ltx_ck_fill(cudaStream_t s, const ck_iter *it, ck_operand dst, uint64_t bits);
cudaError_t ltx_ck_unary(cudaStream_t s, const ck_iter *it, int op, double p0, double p1, int f64,
                         ck_operand dst, ck_operand a);
/* op: ltx_binary_op, or LTX_BINARY_COUNT (7) for axpby with scalars ca, cb. */
cudaError_t ltx_ck_binary(cudaStream_t s, const ck_iter *it, int op, double ca, double cb, int f64,
                          ck_operand dst, ck_operand a, ck_operand b);
/* dst = x + (y * gate), all f32, operands 0..3 of `it`. */
cudaError_t ltx_ck_gated_add(cudaStream_t s, const ck_iter *it, float *dst, const float *x,
                             const float *y, const float *gate);

/* ---- norms (kernels/norm.cu) ---- */
/* RMS/LAYER over the last dim: rows described by `it` (2 operands: dst, x; the last dim is not
 * in it), D elements per row with strides ds / xs. w/b NULL or D contiguous elements. */
cudaError_t ltx_ck_norm_lastdim(cudaStream_t s, int op, const ck_iter *rows, int64_t D, int64_t ds,
                                int64_t xs, float *dst, const float *x, ck_operand w, ck_operand b,
                                float eps);
/* GROUP over contiguous (N, C, S): N*G groups. */
cudaError_t ltx_ck_norm_group(cudaStream_t s, float *dst, const float *x, int64_t N, int64_t C,
                              int64_t S, int64_t G, ck_operand w, ck_operand b, float eps);
/* PIXEL over dim 1 of contiguous (N, C, S). */
cudaError_t ltx_ck_norm_pixel(cudaStream_t s, float *dst, const float *x, int64_t N, int64_t C,
                              int64_t S, float eps);
/* dst = norm(x) * (1 + scale) + shift, rows as ltx_ck_norm_lastdim; scale/shift operands are
 * described by their own row strides (rows iterator operands 2 and 3) and last-dim strides. */
cudaError_t ltx_ck_norm_modulate(cudaStream_t s, int op, const ck_iter *rows, int64_t D, int64_t ds,
                                 int64_t xs, int64_t scs, int64_t shs, float *dst, const float *x,
                                 ck_operand scale, ck_operand shift, float eps);

/* ---- softmax / attention (kernels/softmax.cu, kernels/attention.cu) ---- */
/* Softmax over rows of length L; rows by `it` (dst contiguous operand 0, src operand 1);
 * src last-dim stride ss. */
cudaError_t ltx_ck_softmax(cudaStream_t s, const ck_iter *rows, int64_t L, int64_t ss, float *dst,
                           const float *src);

typedef struct ck_attn {
    const float *q, *k, *v;
    float *o;
    int64_t B, H, Hk, Tq, Tk, D, Dv;    /* Dv: v/o head dim (may differ from D) */
    int64_t qs[4], ks[4], vs[4], os[4]; /* element strides */
    const void *mask;                   /* NULL: none */
    int mdtype;                         /* F32/BF16/F16 additive, BOOL/U8 keep-flags */
    int64_t ms[4];                      /* broadcast strides */
    float scale;
    int bf16; /* round q/k/v/p to bf16, tensor cores, f32 accumulation */
} ck_attn;
/* Flash attention (online softmax). D, Dv <= 256. */
cudaError_t ltx_ck_attention(cudaStream_t s, const ck_attn *a);

/* ---- rope, snake, fused q/k path, gated add (kernels/rope.cu, snake.cu, fused.cu) ---- */
typedef struct ck_rope {
    int mode; /* ltx_rope_mode */
    int64_t B, H, T, D;
    float *dst;
    const float *x, *cos, *sin;
    int64_t dst_s[4], x_s[4], c_s[4], s_s[4];
} ck_rope;
cudaError_t ltx_ck_rope_apply(cudaStream_t s, const ck_rope *r);
/* dst (B, T, H*D) = rope(rms_norm(x) * w) with x (B, T, H*D) rows of stride xr (last dim
 * contiguous), dst contiguous; cos/sin strides as ck_rope over (B, H, T, D/2). */
cudaError_t ltx_ck_qk_norm_rope(cudaStream_t s, const ck_rope *r, int64_t xrow, ck_operand w,
                                float eps);
/* SnakeBeta: a, inv are C device floats (frequency, 1/(beta+1e-9)) prepared by ltx_ck_snake_prep.
 */
cudaError_t ltx_ck_snake_prep(cudaStream_t s, float *a_out, float *inv_out, ck_operand alpha,
                              ck_operand beta, int64_t C, int log_scale);
cudaError_t ltx_ck_snake(cudaStream_t s, float *dst, const float *x, int64_t B, int64_t C,
                         int64_t T, const int64_t *ds, const int64_t *xs, const float *a,
                         const float *inv);

/* ---- reduce / pad / interpolate (kernels/reduce.cu, pad.cu, interpolate.cu) ---- */
/* Output elements by `it` (dst operand 0, src operand 1 at the first reduced element). */
cudaError_t ltx_ck_reduce(cudaStream_t s, const ck_iter *it, int op, int64_t len, int64_t rstride,
                          ck_operand dst, ck_operand src);
typedef struct ck_pad {
    int ndim, mode;
    int64_t dshape[CK_MAX_DIMS], sshape[CK_MAX_DIMS], sstride[CK_MAX_DIMS];
    int64_t before[CK_MAX_DIMS];
    uint64_t value_bits;
    int esz;
} ck_pad;
cudaError_t ltx_ck_pad_apply(cudaStream_t s, const ck_pad *p, void *dst, const void *src);
/* Interpolation with per-dim tap tables built on the host (identical to the CPU's): idx/wt
 * hold out[i] * taps[i] entries for dims 0..2 back to back (device memory). */
typedef struct ck_interp {
    int taps[3];
    int64_t out[3], C, rows;
    int64_t xs0, xs1;
    const int64_t *idx[3];
    const float *wt[3];
    const float *x;
    float *y;
} ck_interp;
cudaError_t ltx_ck_interpolate(cudaStream_t s, const ck_interp *c);

/* ---- GEMM helpers (kernels/gemm_aux.cu) ---- */
/* Converts n contiguous elements of any float dtype to bf16 (scaled by `scale`) / to f32. */
cudaError_t ltx_ck_to_bf16(cudaStream_t s, void *dst, ck_operand src, int64_t n, float scale);
cudaError_t ltx_ck_to_f32(cudaStream_t s, float *dst, ck_operand src, int64_t n, float scale);
/* Strided (rows, cols) f32 matrix to contiguous bf16 / f32 (row stride rs, col stride cs). */
cudaError_t ltx_ck_gather_rows(cudaStream_t s, void *dst, int to_bf16, const float *src,
                               int64_t rows, int64_t cols, int64_t rs, int64_t cs);
/* y (M, N) = act(y + bias[n]) in place; bias NULL allowed; act = ltx_unary_op or -1 (none). */
cudaError_t ltx_ck_bias_act(cudaStream_t s, float *y, int64_t M, int64_t N, ck_operand bias,
                            int act);

/* ---- convolution helpers (kernels/conv.cu) ---- */
typedef ltx_conv_geom ck_conv; /* backend/conv_geom.h, shared with the CPU backend */
/* col (cig*Kvol, P) for sample n, group g, output positions [p0, p0 + P); bf16 or f32. */
cudaError_t ltx_ck_im2col(cudaStream_t s, const ck_conv *g, const float *x, int64_t n, int64_t grp,
                          int64_t p0, int64_t P, void *col, int to_bf16);
/* y[n, g*cog + co, pos] += col2im for the transposed conv: col (cog*Kvol, Sin) of sample n
 * group g scattered (gather formulation, no atomics) into y's (cog, Sout) block. */
cudaError_t ltx_ck_col2im(cudaStream_t s, const ck_conv *g, const float *col, float *y, int64_t n,
                          int64_t grp);
/* y (N, Cout, Sout) = bias broadcast (or 0). */
cudaError_t ltx_ck_conv_bias_init(cudaStream_t s, float *y, int64_t N, int64_t C, int64_t S,
                                  const float *bias);
/* Depthwise (cig == cog == 1) direct convolution, forward or transposed. */
cudaError_t ltx_ck_conv_depthwise(cudaStream_t s, const ck_conv *g, float *y, const float *x,
                                  const float *w, const float *bias, int transposed);

#ifdef __cplusplus
}
#endif

#endif
