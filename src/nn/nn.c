/*
 * nn.c — allocate-and-run wrappers over the backend ops (contract in nn.h): each allocates the
 * contiguous result, calls one op and frees the result again when the op fails. No model
 * knowledge and no weight handling here (src/models/); no reference counterpart beyond the
 * torch.nn.functional calls each wrapper names.
 */
#include "nn/nn.h"

#include <string.h>

static ltx_tensor *run_or_free(ltx_tensor *y, ltx_status s)
{
    if (s != LTX_OK) {
        ltx_tensor_free(y);
        return NULL;
    }
    return y;
}

ltx_tensor *ltx_nn_linear(ltx_backend *be, const ltx_tensor *x, const ltx_tensor *w,
                          const ltx_tensor *b)
{
    if (w->ndim != 2 || x->ndim < 1 || x->shape[x->ndim - 1] != w->shape[1]) {
        char sx[96], sw[96];
        ltx_err(LTX_ERR_INVALID_ARG, "linear: input %s vs weight %s%s%s",
                ltx_tensor_shape_str(x, sx, sizeof sx), ltx_tensor_shape_str(w, sw, sizeof sw),
                w->name[0] ? " " : "", w->name);
        return NULL;
    }
    int64_t shape[LTX_MAX_DIMS];
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    shape[x->ndim - 1] = w->shape[0];
    ltx_tensor *y = ltx_tensor_new(be, LTX_F32, x->ndim, shape);
    if (!y) return NULL;
    return run_or_free(y, be->ops->linear(be, y, x, w, b, 1.0f));
}

ltx_tensor *ltx_nn_unary(ltx_backend *be, ltx_unary_op op, const ltx_tensor *x, double p0,
                         double p1)
{
    ltx_tensor *y = ltx_tensor_new(be, x->dtype == LTX_F64 ? LTX_F64 : LTX_F32, x->ndim, x->shape);
    if (!y) return NULL;
    return run_or_free(y, be->ops->unary(be, op, y, x, p0, p1));
}

/* Broadcast result shape of a and b into out; false when not broadcastable. */
static bool nn_broadcast_shape(const ltx_tensor *a, const ltx_tensor *b, int *ndim, int64_t *shape)
{
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < n; i++) {
        int ia = i - (n - a->ndim), ib = i - (n - b->ndim);
        int64_t sa = ia >= 0 ? a->shape[ia] : 1, sb = ib >= 0 ? b->shape[ib] : 1;
        if (sa != sb && sa != 1 && sb != 1) return false;
        shape[i] = sa == 1 ? sb : sa;
    }
    *ndim = n;
    return true;
}

ltx_tensor *ltx_nn_binary(ltx_backend *be, ltx_binary_op op, const ltx_tensor *a,
                          const ltx_tensor *b)
{
    int n;
    int64_t shape[LTX_MAX_DIMS];
    if (!nn_broadcast_shape(a, b, &n, shape)) {
        char sa[96], sb[96];
        ltx_err(LTX_ERR_INVALID_ARG, "binary op: shapes %s and %s do not broadcast",
                ltx_tensor_shape_str(a, sa, sizeof sa), ltx_tensor_shape_str(b, sb, sizeof sb));
        return NULL;
    }
    ltx_dtype dt = (a->dtype == LTX_F64 || b->dtype == LTX_F64) ? LTX_F64 : LTX_F32;
    ltx_tensor *y = ltx_tensor_new(be, dt, n, shape);
    if (!y) return NULL;
    return run_or_free(y, be->ops->binary(be, op, y, a, b));
}

ltx_tensor *ltx_nn_norm(ltx_backend *be, ltx_norm_op op, const ltx_tensor *x, const ltx_tensor *w,
                        const ltx_tensor *b, int groups, float eps)
{
    ltx_tensor *y = ltx_tensor_new(be, LTX_F32, x->ndim, x->shape);
    if (!y) return NULL;
    return run_or_free(y, be->ops->norm(be, op, y, x, w, b, groups, eps));
}

ltx_tensor *ltx_nn_contiguous(ltx_backend *be, const ltx_tensor *x, ltx_dtype dt)
{
    ltx_tensor *y = ltx_tensor_new(be, dt, x->ndim, x->shape);
    if (!y) return NULL;
    return run_or_free(y, be->ops->copy(be, y, x));
}

ltx_tensor *ltx_nn_cat(ltx_backend *be, const ltx_tensor *const *xs, int n, int dim)
{
    if (n <= 0) {
        ltx_err(LTX_ERR_INVALID_ARG, "cat of zero tensors");
        return NULL;
    }
    int nd = xs[0]->ndim;
    if (dim < 0) dim += nd;
    int64_t shape[LTX_MAX_DIMS];
    memcpy(shape, xs[0]->shape, sizeof(int64_t) * (size_t)nd);
    shape[dim] = 0;
    for (int i = 0; i < n; i++) {
        if (xs[i]->ndim != nd) {
            ltx_err(LTX_ERR_INVALID_ARG, "cat: rank mismatch");
            return NULL;
        }
        for (int d = 0; d < nd; d++)
            if (d != dim && xs[i]->shape[d] != xs[0]->shape[d]) {
                ltx_err(LTX_ERR_INVALID_ARG, "cat: dim %d differs (%lld vs %lld)", d,
                        (long long)xs[i]->shape[d], (long long)xs[0]->shape[d]);
                return NULL;
            }
        shape[dim] += xs[i]->shape[dim];
    }
    ltx_tensor *y = ltx_tensor_new(be, xs[0]->dtype, nd, shape);
    if (!y) return NULL;
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        ltx_tensor *part = ltx_tensor_slice(y, dim, off, off + xs[i]->shape[dim], 1);
        ltx_status s = part ? be->ops->copy(be, part, xs[i]) : ltx_err_failed();
        ltx_tensor_free(part);
        if (s != LTX_OK) return run_or_free(y, s);
        off += xs[i]->shape[dim];
    }
    return y;
}

ltx_tensor *ltx_nn_conv(ltx_backend *be, const ltx_tensor *x, const ltx_tensor *w,
                        const ltx_tensor *b, const ltx_conv_params *p)
{
    int ns = p->nspatial;
    if (x->ndim != ns + 2 || w->ndim != ns + 2) {
        ltx_err(LTX_ERR_INVALID_ARG, "conv%dd: input rank %d, weight rank %d", ns, x->ndim,
                w->ndim);
        return NULL;
    }
    int64_t shape[LTX_MAX_DIMS];
    shape[0] = x->shape[0];
    shape[1] = p->transposed ? w->shape[1] * p->groups : w->shape[0];
    for (int i = 0; i < ns; i++) {
        int64_t in = x->shape[2 + i], k = w->shape[2 + i];
        int64_t eff = (int64_t)p->dilation[i] * (k - 1) + 1;
        shape[2 + i] =
            p->transposed ? (in - 1) * p->stride[i] - 2 * p->padding[i] + eff + p->output_padding[i]
                          : (in + 2 * p->padding[i] - eff) / p->stride[i] + 1;
        if (shape[2 + i] <= 0) {
            ltx_err(LTX_ERR_INVALID_ARG,
                    "conv%dd: spatial dim %d of size %lld too small for kernel %lld", ns, i,
                    (long long)in, (long long)k);
            return NULL;
        }
    }
    ltx_tensor *y = ltx_tensor_new(be, LTX_F32, ns + 2, shape);
    if (!y) return NULL;
    return run_or_free(y, be->ops->conv(be, y, x, w, b, p));
}

ltx_tensor *ltx_nn_pad(ltx_backend *be, const ltx_tensor *x, const int *pads, ltx_pad_mode mode,
                       double value)
{
    int64_t shape[LTX_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++)
        shape[i] = x->shape[i] + pads[2 * i] + pads[2 * i + 1];
    ltx_tensor *y = ltx_tensor_new(be, x->dtype == LTX_F64 ? LTX_F64 : LTX_F32, x->ndim, shape);
    if (!y) return NULL;
    return run_or_free(y, be->ops->pad(be, y, x, pads, mode, value));
}

ltx_tensor *ltx_nn_attention(ltx_backend *be, const ltx_tensor *q, const ltx_tensor *k,
                             const ltx_tensor *v, const ltx_tensor *mask, float scale)
{
    ltx_tensor *o = ltx_tensor_new(be, LTX_F32, q->ndim, q->shape);
    if (!o) return NULL;
    return run_or_free(o, be->ops->attention(be, o, q, k, v, mask, scale));
}
