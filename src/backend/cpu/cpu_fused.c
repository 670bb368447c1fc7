/*
 * cpu_fused.c — the CPU reference implementations of the fused table ops gated_add,
 * linear_act and qk_norm_rope (norm_modulate is in cpu_norm.c next to the norm statistics it
 * shares). Contracts in backend.h.
 *
 * Each produces exactly the roundings of the unfused op sequence it replaces (the op tests
 * compare them bit for bit): gated_add rounds y * gate and then the sum, as `mul` then `add`;
 * linear_act is `linear` then the activation in place; qk_norm_rope is the RMS `norm` with
 * weight into dst, then `rope` in place on dst viewed heads-first.
 * ref: ltx_core/model/transformer/transformer.py (x + attn(...) * gate_msa),
 *      feed_forward.py (Linear -> GELU(tanh)), attention.py (q_norm/k_norm then apply_rope).
 */
#include "backend/cpu/cpu_iter.h"

typedef struct gated_ctx {
    ltx_tensor *dst;
    const ltx_tensor *x, *y, *gate; /* gate NULL = 1 */
} gated_ctx;

static void gated_seg(void *vctx, const int64_t *off, int64_t n, const int64_t *inner, int worker)
{
    (void)worker;
    gated_ctx *c = vctx;
    float *d = (float *)cpu_ptr(c->dst) + off[0];
    const float *x = (const float *)cpu_ptr(c->x) + off[1];
    const float *y = (const float *)cpu_ptr(c->y) + off[2];
    if (c->gate) {
        const float *g = (const float *)cpu_ptr(c->gate) + off[3];
        for (int64_t i = 0; i < n; i++) {
            float t = y[i * inner[2]] * g[i * inner[3]];
            d[i * inner[0]] = x[i * inner[1]] + t;
        }
    } else {
        for (int64_t i = 0; i < n; i++)
            d[i * inner[0]] = x[i * inner[1]] + y[i * inner[2]];
    }
}

ltx_status ltx_cpu_gated_add(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *x,
                             const ltx_tensor *y, const ltx_tensor *gate)
{
    if (dst->dtype != LTX_F32 || x->dtype != LTX_F32 || y->dtype != LTX_F32 ||
        (gate && gate->dtype != LTX_F32) || !ltx_tensor_same_shape(dst, x))
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "gated_add: f32 dst/x of one shape, f32 y and gate expected");
    const ltx_tensor *ts[4] = {dst, x, y, gate};
    cpu_iter it;
    LTX_TRY(ltx_cpu_iter_init(&it, dst->ndim, dst->shape, gate ? 4 : 3, ts, true, "gated_add"));
    gated_ctx c = {dst, x, y, gate};
    ltx_cpu_iter_run(be, &it, 2, gated_seg, &c);
    return LTX_OK;
}

ltx_status ltx_cpu_linear_act(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x,
                              const ltx_tensor *w, const ltx_tensor *bias, float w_scale,
                              ltx_unary_op act)
{
    if (act != LTX_UNARY_GELU_TANH && act != LTX_UNARY_GELU_ERF && act != LTX_UNARY_SILU &&
        act != LTX_UNARY_RELU)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "linear_act: activation %d is not gelu_tanh, gelu_erf, silu or relu",
                       (int)act);
    LTX_TRY(ltx_cpu_linear(be, y, x, w, bias, w_scale));
    return ltx_cpu_unary(be, act, y, y, 0.0, 0.0);
}

ltx_status ltx_cpu_qk_norm_rope(ltx_backend *be, ltx_rope_mode mode, ltx_tensor *dst,
                                const ltx_tensor *x, const ltx_tensor *w, float eps, int heads,
                                const ltx_tensor *cos, const ltx_tensor *sin)
{
    if (x->ndim != 3 || heads <= 0 || x->shape[2] % heads || !ltx_tensor_same_shape(dst, x))
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "qk_norm_rope: x and dst (B, T, H*D) of one shape, %d heads", heads);
    LTX_TRY(ltx_cpu_norm(be, LTX_NORM_RMS, dst, x, w, NULL, 0, eps));
    /* dst (B, T, H*D) viewed (B, H, T, D): strides by hand, so any dst layout works */
    ltx_tensor *v = ltx_tensor_view(dst);
    if (!v) return ltx_err_failed();
    int64_t D = x->shape[2] / heads;
    v->ndim = 4;
    v->shape[0] = x->shape[0];
    v->shape[1] = heads;
    v->shape[2] = x->shape[1];
    v->shape[3] = D;
    v->stride[0] = dst->stride[0];
    v->stride[1] = dst->stride[2] * D;
    v->stride[2] = dst->stride[1];
    v->stride[3] = dst->stride[2];
    ltx_status s = ltx_cpu_rope(be, mode, v, v, cos, sin);
    ltx_tensor_free(v);
    return s;
}
