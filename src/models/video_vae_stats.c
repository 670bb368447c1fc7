/*
 * video_vae_stats.c — the video VAE's per-channel statistics: loading
 * per_channel_statistics.{mean-of-means,std-of-means} and (un)normalizing latents with them.
 * ref: ltx_core/model/video_vae/ops.py PerChannelStatistics.
 */
#include "models/video_vae_internal.h"
#include "nn/nn.h"

/* ---- per-channel statistics --------------------------------------------------------------- */

ltx_status ltx_vae_stats_load(ltx_vae_stats *st, ltx_backend *be, const ltx_weight_src *src,
                              int channels)
{
    st->mean = ltx_vae_weight(src, be, "per_channel_statistics.mean-of-means", 1, channels);
    st->std = st->mean ? ltx_vae_weight(src, be, "per_channel_statistics.std-of-means", 1, channels)
                       : NULL;
    if (!st->std) {
        ltx_vae_stats_release(st);
        return ltx_err_failed();
    }
    return LTX_OK;
}

void ltx_vae_stats_release(ltx_vae_stats *st)
{
    if (!st) return;
    ltx_tensor_free(st->mean);
    ltx_tensor_free(st->std);
    st->mean = st->std = NULL;
}

/* (C) vector viewed (1, C, 1, ..., 1) for x's rank. */
static ltx_tensor *chan_view(const ltx_tensor *v, const ltx_tensor *x)
{
    int64_t shape[LTX_MAX_DIMS], stride[LTX_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) {
        shape[i] = i == 1 ? v->shape[0] : 1;
        stride[i] = i == 1 ? v->stride[0] : 0;
    }
    return ltx_vae_view(v, x->ndim, shape, stride, 0);
}

static ltx_tensor *stats_apply(ltx_backend *be, const ltx_vae_stats *st, const ltx_tensor *x,
                               bool normalize)
{
    if (x->ndim < 2 || x->shape[1] != st->mean->shape[0]) {
        ltx_err(LTX_ERR_INVALID_ARG, "latent has %lld channels, statistics have %lld",
                x->ndim < 2 ? 0LL : (long long)x->shape[1], (long long)st->mean->shape[0]);
        return NULL;
    }
    ltx_tensor *m = chan_view(st->mean, x), *sd = chan_view(st->std, x), *t = NULL, *y = NULL;
    if (m && sd) {
        /* ref: ops.py — (x - mean) / std and x * std + mean */
        t = ltx_nn_binary(be, normalize ? LTX_BINARY_SUB : LTX_BINARY_MUL, x, normalize ? m : sd);
        if (t)
            y = ltx_nn_binary(be, normalize ? LTX_BINARY_DIV : LTX_BINARY_ADD, t,
                              normalize ? sd : m);
    }
    ltx_tensor_free(m);
    ltx_tensor_free(sd);
    ltx_tensor_free(t);
    return y;
}

ltx_tensor *ltx_vae_normalize(ltx_backend *be, const ltx_vae_stats *st, const ltx_tensor *x)
{
    return stats_apply(be, st, x, true);
}

ltx_tensor *ltx_vae_un_normalize(ltx_backend *be, const ltx_vae_stats *st, const ltx_tensor *x)
{
    return stats_apply(be, st, x, false);
}
