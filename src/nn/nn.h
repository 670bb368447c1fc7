/*
 * nn.h — model-agnostic layer helpers over the backend ops. Each helper allocates its
 * contiguous f32 result on the input's backend, runs the op, and returns the new tensor (caller
 * frees), or NULL with the error set. They keep model code short: `h = ltx_nn_linear(be, x, w, b)`.
 * Weight dtypes are whatever the checkpoint stores (the linear op converts per panel).
 */
#ifndef LTX_NN_H
#define LTX_NN_H

#include "backend/backend.h"

/* y = x @ w^T + b; x (..., K), w (N, K), b (N) or NULL -> (..., N) */
ltx_tensor *ltx_nn_linear(ltx_backend *be, const ltx_tensor *x, const ltx_tensor *w,
                          const ltx_tensor *b);
ltx_tensor *ltx_nn_unary(ltx_backend *be, ltx_unary_op op, const ltx_tensor *x, double p0,
                         double p1);
/* a op b with broadcasting; result shape = broadcast shape */
ltx_tensor *ltx_nn_binary(ltx_backend *be, ltx_binary_op op, const ltx_tensor *a,
                          const ltx_tensor *b);
ltx_tensor *ltx_nn_norm(ltx_backend *be, ltx_norm_op op, const ltx_tensor *x, const ltx_tensor *w,
                        const ltx_tensor *b, int groups, float eps);
/* Contiguous f32 (or `dt`) copy of any view. */
ltx_tensor *ltx_nn_contiguous(ltx_backend *be, const ltx_tensor *x, ltx_dtype dt);
/* Concatenate along dim (all same rank, equal other dims). */
ltx_tensor *ltx_nn_cat(ltx_backend *be, const ltx_tensor *const *xs, int n, int dim);
ltx_tensor *ltx_nn_conv(ltx_backend *be, const ltx_tensor *x, const ltx_tensor *w,
                        const ltx_tensor *b, const ltx_conv_params *p);
ltx_tensor *ltx_nn_pad(ltx_backend *be, const ltx_tensor *x, const int *pads, ltx_pad_mode mode,
                       double value);
/* q (B,H,Tq,D), k/v (B,Hk,Tk,D) -> (B,H,Tq,D) */
ltx_tensor *ltx_nn_attention(ltx_backend *be, const ltx_tensor *q, const ltx_tensor *k,
                             const ltx_tensor *v, const ltx_tensor *mask, float scale);
/* ---- fused ops (nn_fused.c): the backend's fused entry when supports() says so, else the
 * unfused ops composed with the same roundings. Results go into caller-allocated dst (contracts
 * of the table entries in backend.h). ---- */
/* dst = norm(x) * (1 + scale) + shift (RMS or LAYER, no affine weight). */
ltx_status ltx_nn_norm_modulate(ltx_backend *be, ltx_norm_op op, ltx_tensor *dst,
                                const ltx_tensor *x, const ltx_tensor *scale,
                                const ltx_tensor *shift, float eps);
/* dst = x + y * gate (gate NULL = 1); dst may be x. */
ltx_status ltx_nn_gated_add(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *x,
                            const ltx_tensor *y, const ltx_tensor *gate);
/* y = act(x @ w^T * w_scale + bias). */
ltx_status ltx_nn_linear_act(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x,
                             const ltx_tensor *w, const ltx_tensor *bias, float w_scale,
                             ltx_unary_op act);
/* dst (B, T, H*D) = rope(rms_norm(x) * w) per head. */
ltx_status ltx_nn_qk_norm_rope(ltx_backend *be, ltx_rope_mode mode, ltx_tensor *dst,
                               const ltx_tensor *x, const ltx_tensor *w, float eps, int heads,
                               const ltx_tensor *cos, const ltx_tensor *sin);

#endif
