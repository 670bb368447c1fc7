/*
 * cpu_supports.c — the supports() query of the CPU backends: which (op, sub-op, dtypes, shapes)
 * the kernels in src/backend/cpu/ run natively.
 *
 * Both flavours run the same kernels; "cpu-restricted" answers from its narrower caps (no f64
 * storage or math), so callers that ask before they run take the same fallbacks they would on
 * an accelerator without float64. ref: ggml's backend supports_op (idea only).
 */
#include "backend/cpu/cpu_internal.h"

static bool is_float(ltx_dtype t)
{
    return t == LTX_F32 || t == LTX_F64 || t == LTX_F16 || t == LTX_BF16 || t == LTX_F8E4M3 ||
           t == LTX_F8E5M2;
}

static bool f32(const ltx_tensor *t)
{
    return t && t->dtype == LTX_F32;
}

/* NULL or a float tensor: weights, biases, tables. */
static bool opt_float(const ltx_tensor *t)
{
    return !t || is_float(t->dtype);
}

/* Elementwise math runs in f32, or f64 where the device computes in f64. */
static bool elementwise_ok(const ltx_backend *be, const ltx_op_query *q, int nsrc)
{
    const ltx_tensor *ts[5] = {q->dst, q->src[0], q->src[1], q->src[2], q->src[3]};
    for (int k = 0; k <= nsrc; k++) {
        if (!ts[k]) continue;
        if (!is_float(ts[k]->dtype)) return false;
        if (ts[k]->dtype == LTX_F64 && !((be->caps.compute_dtypes >> LTX_F64) & 1u)) return false;
    }
    return true;
}

static bool sub_in(int sub, int count)
{
    return sub >= 0 && sub < count;
}

bool ltx_cpu_supports(ltx_backend *be, const ltx_op_query *q)
{
    if (!q || (int)q->op < 0 || q->op >= LTX_OP_COUNT || !q->dst) return false;
    const ltx_tensor *ts[5] = {q->dst, q->src[0], q->src[1], q->src[2], q->src[3]};
    for (int k = 0; k < 5; k++)
        if (ts[k] && !ltx_backend_has_dtype(be, ts[k]->dtype)) return false;
    const ltx_tensor *a = q->src[0];
    switch (q->op) {
    case LTX_OP_COPY:
        return a != NULL;
    case LTX_OP_FILL:
        return true;
    case LTX_OP_PAD:
        return a && sub_in(q->sub, LTX_PAD_CIRCULAR + 1);
    case LTX_OP_UNARY:
        return a && sub_in(q->sub, LTX_UNARY_COUNT) && elementwise_ok(be, q, 1);
    case LTX_OP_BINARY:
        return a && q->src[1] && sub_in(q->sub, LTX_BINARY_COUNT) && elementwise_ok(be, q, 2);
    case LTX_OP_AXPBY:
        return a && q->src[1] && elementwise_ok(be, q, 2);
    case LTX_OP_REDUCE:
        return a && sub_in(q->sub, LTX_REDUCE_COUNT) && (f32(a) || a->dtype == LTX_F64) &&
               (f32(q->dst) || q->dst->dtype == LTX_F64);
    case LTX_OP_LINEAR_ACT:
        if (q->sub != LTX_UNARY_GELU_TANH && q->sub != LTX_UNARY_GELU_ERF &&
            q->sub != LTX_UNARY_SILU && q->sub != LTX_UNARY_RELU)
            return false;
        /* fall through */
    case LTX_OP_LINEAR:
        return f32(q->dst) && f32(a) && q->src[1] && is_float(q->src[1]->dtype) &&
               q->src[1]->ndim == 2 && opt_float(q->src[2]);
    case LTX_OP_MATMUL:
        return f32(q->dst) && f32(a) && f32(q->src[1]);
    case LTX_OP_SOFTMAX:
        return f32(q->dst) && f32(a);
    case LTX_OP_NORM:
        return f32(q->dst) && f32(a) && sub_in(q->sub, LTX_NORM_COUNT) && opt_float(q->src[1]) &&
               opt_float(q->src[2]);
    case LTX_OP_ATTENTION:
        return f32(q->dst) && f32(a) && f32(q->src[1]) && f32(q->src[2]) &&
               (!q->src[3] || f32(q->src[3]));
    case LTX_OP_ROPE:
    case LTX_OP_QK_NORM_ROPE: {
        /* rope: (x, cos, sin); qk_norm_rope: (x, w, cos, sin) */
        int c0 = q->op == LTX_OP_ROPE ? 1 : 2;
        return f32(q->dst) && f32(a) && sub_in(q->sub, LTX_ROPE_INTERLEAVED + 1) &&
               f32(q->src[c0]) && f32(q->src[c0 + 1]) &&
               (q->op == LTX_OP_ROPE || opt_float(q->src[1]));
    }
    case LTX_OP_CONV:
        return f32(q->dst) && f32(a) && q->src[1] && is_float(q->src[1]->dtype) &&
               opt_float(q->src[2]);
    case LTX_OP_INTERPOLATE:
        return f32(q->dst) && f32(a) && sub_in(q->sub, LTX_INTERP_AREA + 1);
    case LTX_OP_SNAKE:
        return f32(q->dst) && f32(a) && opt_float(q->src[1]) && opt_float(q->src[2]);
    case LTX_OP_NORM_MODULATE:
        return f32(q->dst) && f32(a) && (q->sub == LTX_NORM_RMS || q->sub == LTX_NORM_LAYER) &&
               q->src[1] && is_float(q->src[1]->dtype) && q->src[2] && is_float(q->src[2]->dtype);
    case LTX_OP_GATED_ADD:
        return f32(q->dst) && f32(a) && f32(q->src[1]) && (!q->src[2] || f32(q->src[2]));
    case LTX_OP_COUNT:
        break;
    }
    return false;
}
