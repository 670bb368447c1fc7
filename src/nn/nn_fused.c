/*
 * nn_fused.c — the fused-op wrappers (contract in nn.h): each calls the backend's fused table
 * entry when supports() says the backend runs it natively, and otherwise composes the unfused
 * ops in the order whose roundings the fused CPU references reproduce (tests/ops/
 * test_ops_fused.c checks both paths bit for bit on the CPU). So model code always calls the
 * fused op and every backend gives the same answer up to its own kernels' rounding.
 * ref: ltx_core/model/transformer/transformer.py (AdaLN modulate, gated residual),
 *      feed_forward.py, attention.py (q/k norm then RoPE).
 */
#include "nn/nn.h"

/* (B, T, H*D) view of dst as (B, H, T, D), strides by hand (any dst layout). */
static ltx_tensor *heads_of(const ltx_tensor *t, int heads)
{
    ltx_tensor *v = ltx_tensor_view(t);
    if (!v) return NULL;
    int64_t D = t->shape[2] / heads;
    v->ndim = 4;
    v->shape[0] = t->shape[0];
    v->shape[1] = heads;
    v->shape[2] = t->shape[1];
    v->shape[3] = D;
    v->stride[0] = t->stride[0];
    v->stride[1] = t->stride[2] * D;
    v->stride[2] = t->stride[1];
    v->stride[3] = t->stride[2];
    return v;
}

ltx_status ltx_nn_norm_modulate(ltx_backend *be, ltx_norm_op op, ltx_tensor *dst,
                                const ltx_tensor *x, const ltx_tensor *scale,
                                const ltx_tensor *shift, float eps)
{
    ltx_op_query q = {LTX_OP_NORM_MODULATE, (int)op, dst, {x, scale, shift, NULL}};
    if (ltx_backend_supports(be, &q))
        return be->ops->norm_modulate(be, op, dst, x, scale, shift, eps);
    /* norm(x), * (1 + scale), + shift: three roundings, as the fused reference */
    LTX_TRY(be->ops->norm(be, op, dst, x, NULL, NULL, 0, eps));
    ltx_tensor *s1 = ltx_nn_unary(be, LTX_UNARY_SCALE, scale, 1.0, 1.0);
    if (!s1) return ltx_err_failed();
    ltx_status s = be->ops->binary(be, LTX_BINARY_MUL, dst, dst, s1);
    ltx_tensor_free(s1);
    if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_ADD, dst, dst, shift);
    return s;
}

ltx_status ltx_nn_gated_add(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *x,
                            const ltx_tensor *y, const ltx_tensor *gate)
{
    ltx_op_query q = {LTX_OP_GATED_ADD, -1, dst, {x, y, gate, NULL}};
    if (ltx_backend_supports(be, &q)) return be->ops->gated_add(be, dst, x, y, gate);
    if (!gate) return be->ops->binary(be, LTX_BINARY_ADD, dst, x, y);
    ltx_tensor *t = ltx_nn_binary(be, LTX_BINARY_MUL, y, gate);
    if (!t) return ltx_err_failed();
    ltx_status s = be->ops->binary(be, LTX_BINARY_ADD, dst, x, t);
    ltx_tensor_free(t);
    return s;
}

ltx_status ltx_nn_linear_act(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x,
                             const ltx_tensor *w, const ltx_tensor *bias, float w_scale,
                             ltx_unary_op act)
{
    ltx_op_query q = {LTX_OP_LINEAR_ACT, (int)act, y, {x, w, bias, NULL}};
    if (ltx_backend_supports(be, &q)) return be->ops->linear_act(be, y, x, w, bias, w_scale, act);
    LTX_TRY(be->ops->linear(be, y, x, w, bias, w_scale));
    return be->ops->unary(be, act, y, y, 0.0, 0.0);
}

ltx_status ltx_nn_qk_norm_rope(ltx_backend *be, ltx_rope_mode mode, ltx_tensor *dst,
                               const ltx_tensor *x, const ltx_tensor *w, float eps, int heads,
                               const ltx_tensor *cos, const ltx_tensor *sin)
{
    ltx_op_query q = {LTX_OP_QK_NORM_ROPE, (int)mode, dst, {x, w, cos, sin}};
    if (ltx_backend_supports(be, &q))
        return be->ops->qk_norm_rope(be, mode, dst, x, w, eps, heads, cos, sin);
    if (x->ndim != 3 || heads <= 0 || x->shape[2] % heads)
        return ltx_err(LTX_ERR_INVALID_ARG, "qk_norm_rope: x must be (B, T, H*D), %d heads", heads);
    LTX_TRY(be->ops->norm(be, LTX_NORM_RMS, dst, x, w, NULL, 0, eps));
    ltx_tensor *v = heads_of(dst, heads);
    if (!v) return ltx_err_failed();
    ltx_status s = be->ops->rope(be, mode, v, v, cos, sin);
    ltx_tensor_free(v);
    return s;
}
