/*
 * audio_vae_blocks.c — building blocks of the audio VAE: causal Conv2d, PixelNorm/GroupNorm,
 * ResnetBlock, AttnBlock, Downsample, Upsample — weight binding and forward.
 *
 * ref (a2c3f24, ltx_core/model/audio_vae/): causal_conv_2d.py (CausalConv2d padding per
 * causality axis), resnet.py (ResnetBlock without temb, conv_shortcut never used: 1x1
 * nin_shortcut), attention.py (AttnBlock), downsample.py (Downsample pads per axis / avg pool),
 * upsample.py (nearest x2, causal conv, drop the first row/column), common/normalization.py
 * (PixelNorm eps 1e-6 over channels, GroupNorm(32, eps 1e-6, affine)).
 */
#include "models/audio_vae_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- conv ---------------------------------------------------------------------------------- */

/* ref: CausalConv2d.__init__ — F.pad order (w_left, w_right, h_top, h_bottom), dilation 1. */
static void causal_pads(ltx_causality_axis ax, int k, int pad[4])
{
    const int p = k - 1; /* (kernel - 1) * dilation on both axes */
    switch (ax) {
    case LTX_CAUSAL_NONE:
        pad[0] = p / 2, pad[1] = p - p / 2, pad[2] = p / 2, pad[3] = p - p / 2;
        break;
    case LTX_CAUSAL_WIDTH:
    case LTX_CAUSAL_WIDTH_COMPAT:
        pad[0] = p, pad[1] = 0, pad[2] = p / 2, pad[3] = p - p / 2;
        break;
    case LTX_CAUSAL_HEIGHT:
    default:
        pad[0] = p / 2, pad[1] = p - p / 2, pad[2] = p, pad[3] = 0;
        break;
    }
}

void ltx_avae_conv_load(audio_loader *L, avae_conv *c, const char *name, int cin, int cout, int k,
                        int stride, ltx_causality_axis ax, bool causal_wrapper)
{
    memset(c, 0, sizeof *c);
    const int64_t ws[4] = {cout, cin, k, k}, bs[1] = {cout};
    /* make_conv2d always wraps (CausalConv2d -> ".conv."); Downsample's conv is plain */
    const char *inner = causal_wrapper ? ".conv" : "";
    c->w = audio_param(L, false, 4, ws, "%s%s.weight", name, inner);
    c->b = audio_param(L, true, 1, bs, "%s%s.bias", name, inner);
    c->stride = stride;
    if (causal_wrapper) causal_pads(ax, k, c->pad);
}

void ltx_avae_conv_release(avae_conv *c)
{
    ltx_tensor_free(c->w);
    ltx_tensor_free(c->b);
    memset(c, 0, sizeof *c);
}

/* x (B, C, H, W) -> conv after the stored (w_l, w_r, h_t, h_b) zero padding. Symmetric pads go
 * into the conv itself; asymmetric ones through the pad op. */
ltx_tensor *ltx_avae_conv_fwd(ltx_backend *be, const avae_conv *c, const ltx_tensor *x)
{
    ltx_conv_params p = {
        .nspatial = 2, .stride = {c->stride, c->stride, 1}, .dilation = {1, 1, 1}, .groups = 1};
    const int *pd = c->pad;
    if (pd[0] == pd[1] && pd[2] == pd[3]) {
        p.padding[0] = pd[2];
        p.padding[1] = pd[0];
        return ltx_nn_conv(be, x, c->w, c->b, &p);
    }
    const int pads[8] = {0, 0, 0, 0, pd[2], pd[3], pd[0], pd[1]};
    ltx_tensor *xp = ltx_nn_pad(be, x, pads, LTX_PAD_CONSTANT, 0.0);
    if (!xp) return NULL;
    ltx_tensor *y = ltx_nn_conv(be, xp, c->w, c->b, &p);
    ltx_tensor_free(xp);
    return y;
}

/* ---- norm ---------------------------------------------------------------------------------- */

void ltx_avae_norm_load(audio_loader *L, avae_norm *n, const char *name, int ch,
                        ltx_audio_norm kind)
{
    memset(n, 0, sizeof *n);
    n->kind = kind;
    if (kind == LTX_AUDIO_NORM_GROUP) {
        if (ch % 32 && L->status == LTX_OK)
            L->status = ltx_err(LTX_ERR_UNSUPPORTED,
                                "audio VAE: GroupNorm(32) over %d channels "
                                "(%s) — torch refuses channels not divisible by 32",
                                ch, name);
        const int64_t s[1] = {ch};
        n->w = audio_param(L, true, 1, s, "%s.weight", name);
        n->b = audio_param(L, true, 1, s, "%s.bias", name);
    }
}

void ltx_avae_norm_release(avae_norm *n)
{
    ltx_tensor_free(n->w);
    ltx_tensor_free(n->b);
    memset(n, 0, sizeof *n);
}

/* norm then SiLU when `silu` */
ltx_tensor *ltx_avae_norm_fwd(ltx_backend *be, const avae_norm *n, const ltx_tensor *x, bool silu)
{
    ltx_tensor *h = n->kind == LTX_AUDIO_NORM_GROUP
                        ? ltx_nn_norm(be, LTX_NORM_GROUP, x, n->w, n->b, 32, 1e-6f)
                        : ltx_nn_norm(be, LTX_NORM_PIXEL, x, NULL, NULL, 0, 1e-6f);
    if (!h || !silu) return h;
    ltx_status s = be->ops->unary(be, LTX_UNARY_SILU, h, h, 0, 0);
    if (s != LTX_OK) {
        ltx_tensor_free(h);
        return NULL;
    }
    return h;
}

/* ---- ResnetBlock ------------------------------------------------------------------------- */

void ltx_avae_res_load(audio_loader *L, avae_res *r, const char *name, int cin, int cout,
                       const ltx_audio_vae_config *cfg)
{
    memset(r, 0, sizeof *r);
    char n[200];
    snprintf(n, sizeof n, "%s.norm1", name);
    ltx_avae_norm_load(L, &r->norm1, n, cin, cfg->norm);
    snprintf(n, sizeof n, "%s.conv1", name);
    ltx_avae_conv_load(L, &r->conv1, n, cin, cout, 3, 1, cfg->causality, true);
    snprintf(n, sizeof n, "%s.norm2", name);
    ltx_avae_norm_load(L, &r->norm2, n, cout, cfg->norm);
    snprintf(n, sizeof n, "%s.conv2", name);
    ltx_avae_conv_load(L, &r->conv2, n, cout, cout, 3, 1, cfg->causality, true);
    r->has_nin = cin != cout;
    if (r->has_nin) {
        snprintf(n, sizeof n, "%s.nin_shortcut", name);
        ltx_avae_conv_load(L, &r->nin, n, cin, cout, 1, 1, cfg->causality, true);
    }
}

void ltx_avae_res_release(avae_res *r)
{
    ltx_avae_norm_release(&r->norm1);
    ltx_avae_norm_release(&r->norm2);
    ltx_avae_conv_release(&r->conv1);
    ltx_avae_conv_release(&r->conv2);
    ltx_avae_conv_release(&r->nin);
}

/* ref: ResnetBlock.forward: h = conv1(silu(norm1(x))); h = conv2(silu(norm2(h)));
 * x (through nin_shortcut when widths differ) + h. Dropout is inactive at inference. */
ltx_tensor *ltx_avae_res_fwd(ltx_backend *be, const avae_res *r, const ltx_tensor *x)
{
    ltx_tensor *h = ltx_avae_norm_fwd(be, &r->norm1, x, true), *sc = NULL, *y = NULL;
    if (!h) return NULL;
    AUDIO_STEP(h, ltx_avae_conv_fwd(be, &r->conv1, h));
    AUDIO_STEP(h, ltx_avae_norm_fwd(be, &r->norm2, h, true));
    AUDIO_STEP(h, ltx_avae_conv_fwd(be, &r->conv2, h));
    if (r->has_nin) {
        sc = ltx_avae_conv_fwd(be, &r->nin, x);
        if (!sc) goto fail;
    }
    y = ltx_nn_binary(be, LTX_BINARY_ADD, sc ? sc : x, h);
fail:
    ltx_tensor_free(h);
    ltx_tensor_free(sc);
    return y;
}

/* ---- AttnBlock ----------------------------------------------------------------------------- */

static void conv1x1_load(audio_loader *L, avae_conv *c, const char *name, int ch)
{
    memset(c, 0, sizeof *c);
    const int64_t ws[4] = {ch, ch, 1, 1}, bs[1] = {ch};
    c->w = audio_param(L, false, 4, ws, "%s.weight", name);
    c->b = audio_param(L, true, 1, bs, "%s.bias", name);
    c->stride = 1;
}

void ltx_avae_attn_load(audio_loader *L, avae_attn *a, const char *name, int ch,
                        const ltx_audio_vae_config *cfg, bool encoder)
{
    memset(a, 0, sizeof *a);
    if (encoder && cfg->attn_none) {
        a->identity = true; /* ref: make_attn(AttentionType.NONE) -> nn.Identity */
        return;
    }
    if (encoder && cfg->attn_linear) {
        if (L->status == LTX_OK)
            L->status = ltx_err(LTX_ERR_UNSUPPORTED,
                                "audio VAE: attn_type \"linear\" at %s — "
                                "the reference raises NotImplementedError",
                                name);
        return;
    }
    char n[200];
    snprintf(n, sizeof n, "%s.norm", name);
    ltx_avae_norm_load(L, &a->norm, n, ch, cfg->norm);
    snprintf(n, sizeof n, "%s.q", name);
    conv1x1_load(L, &a->q, n, ch);
    snprintf(n, sizeof n, "%s.k", name);
    conv1x1_load(L, &a->k, n, ch);
    snprintf(n, sizeof n, "%s.v", name);
    conv1x1_load(L, &a->v, n, ch);
    snprintf(n, sizeof n, "%s.proj_out", name);
    conv1x1_load(L, &a->proj, n, ch);
}

void ltx_avae_attn_release(avae_attn *a)
{
    ltx_avae_norm_release(&a->norm);
    ltx_avae_conv_release(&a->q);
    ltx_avae_conv_release(&a->k);
    ltx_avae_conv_release(&a->v);
    ltx_avae_conv_release(&a->proj);
}

/* (B, C, H, W) -> contiguous (B, 1, H*W, C) token layout for the attention op */
static ltx_tensor *to_tokens(ltx_backend *be, const ltx_tensor *x)
{
    const int64_t B = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
    const int64_t s3[3] = {B, C, HW}, s4[4] = {B, 1, HW, C};
    ltx_tensor *f = ltx_tensor_reshape(x, 3, s3), *t = NULL, *c = NULL, *r = NULL;
    if (f) t = ltx_tensor_transpose(f, 1, 2);
    if (t) c = ltx_nn_contiguous(be, t, LTX_F32);
    if (c) r = ltx_tensor_reshape(c, 4, s4);
    ltx_tensor_free(f), ltx_tensor_free(t), ltx_tensor_free(c);
    return r;
}

/* ref: AttnBlock.forward: single-head softmax(q k^T * C^-0.5) v over the H*W positions, then
 * proj_out, residual. */
ltx_tensor *ltx_avae_attn_fwd(ltx_backend *be, const avae_attn *a, const ltx_tensor *x)
{
    if (a->identity) return ltx_tensor_view(x);
    const int64_t B = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    ltx_tensor *h = ltx_avae_norm_fwd(be, &a->norm, x, false);
    ltx_tensor *q = NULL, *k = NULL, *v = NULL, *o = NULL, *y = NULL;
    if (!h) return NULL;
    q = ltx_avae_conv_fwd(be, &a->q, h);
    k = ltx_avae_conv_fwd(be, &a->k, h);
    v = ltx_avae_conv_fwd(be, &a->v, h);
    if (!q || !k || !v) goto fail;
    AUDIO_STEP(q, to_tokens(be, q));
    AUDIO_STEP(k, to_tokens(be, k));
    AUDIO_STEP(v, to_tokens(be, v));
    o = ltx_nn_attention(be, q, k, v, NULL, (float)(1.0 / sqrt((double)C))); /* (B, 1, HW, C) */
    if (!o) goto fail;
    {
        const int64_t s3[3] = {B, H * W, C}, s4[4] = {B, C, H, W};
        ltx_tensor *f = ltx_tensor_reshape(o, 3, s3), *t = f ? ltx_tensor_transpose(f, 1, 2) : NULL;
        ltx_tensor *c = t ? ltx_nn_contiguous(be, t, LTX_F32) : NULL;
        ltx_tensor_free(h);
        h = c ? ltx_tensor_reshape(c, 4, s4) : NULL;
        ltx_tensor_free(f), ltx_tensor_free(t), ltx_tensor_free(c);
        if (!h) goto fail;
    }
    AUDIO_STEP(h, ltx_avae_conv_fwd(be, &a->proj, h));
    y = ltx_nn_binary(be, LTX_BINARY_ADD, x, h);
fail:
    ltx_tensor_free(h), ltx_tensor_free(q), ltx_tensor_free(k), ltx_tensor_free(v);
    ltx_tensor_free(o);
    return y;
}

/* ---- Downsample / Upsample ---------------------------------------------------------------- */

void ltx_avae_down_load(audio_loader *L, avae_down *d, const char *name, int ch,
                        const ltx_audio_vae_config *cfg)
{
    memset(d, 0, sizeof *d);
    d->with_conv = cfg->resamp_with_conv;
    if (!d->with_conv) {
        if (cfg->causality != LTX_CAUSAL_NONE && L->status == LTX_OK)
            L->status = ltx_err(LTX_ERR_UNSUPPORTED,
                                "audio VAE: resamp_with_conv=false needs "
                                "causality_axis null (the reference's Downsample: \"causality "
                                "is only supported when `with_conv=True`\")");
        /* avg_pool2d(2, 2) as a depthwise conv with weights 1/4 (power of two: exact) */
        const int64_t s[4] = {ch, 1, 2, 2};
        d->pool = ltx_tensor_new(L->be, LTX_F32, 4, s);
        if (d->pool && L->be->ops->fill(L->be, d->pool, 0.25) != LTX_OK) {
            ltx_tensor_free(d->pool);
            d->pool = NULL;
        }
        if (!d->pool && L->status == LTX_OK) L->status = ltx_err_failed();
        return;
    }
    char n[200];
    snprintf(n, sizeof n, "%s.conv", name);
    ltx_avae_conv_load(L, &d->conv, n, ch, ch, 3, 2, cfg->causality, false);
    /* ref: Downsample.forward pads (left, right, top, bottom) */
    static const int pads[4][4] = {
        [LTX_CAUSAL_NONE] = {0, 1, 0, 1},
        [LTX_CAUSAL_WIDTH] = {2, 0, 0, 1},
        [LTX_CAUSAL_HEIGHT] = {0, 1, 2, 0},
        [LTX_CAUSAL_WIDTH_COMPAT] = {1, 0, 0, 1},
    };
    memcpy(d->conv.pad, pads[cfg->causality], sizeof d->conv.pad);
}

void ltx_avae_down_release(avae_down *d)
{
    ltx_avae_conv_release(&d->conv);
    ltx_tensor_free(d->pool);
    memset(d, 0, sizeof *d);
}

ltx_tensor *ltx_avae_down_fwd(ltx_backend *be, const avae_down *d, const ltx_tensor *x)
{
    if (d->with_conv) return ltx_avae_conv_fwd(be, &d->conv, x);
    ltx_conv_params p = {
        .nspatial = 2, .stride = {2, 2, 1}, .dilation = {1, 1, 1}, .groups = (int)x->shape[1]};
    return ltx_nn_conv(be, x, d->pool, NULL, &p);
}

void ltx_avae_up_load(audio_loader *L, avae_up *u, const char *name, int ch,
                      const ltx_audio_vae_config *cfg)
{
    memset(u, 0, sizeof *u);
    u->axis = cfg->causality;
    char n[200];
    snprintf(n, sizeof n, "%s.conv", name);
    ltx_avae_conv_load(L, &u->conv, n, ch, ch, 3, 1, cfg->causality, true);
}

void ltx_avae_up_release(avae_up *u)
{
    ltx_avae_conv_release(&u->conv);
}

/* ref: Upsample.forward: nearest x2 on both axes, causal conv, then drop the first time row
 * (HEIGHT) / first mel column (WIDTH); NONE and WIDTH_COMPAT keep everything. */
ltx_tensor *ltx_avae_up_fwd(ltx_backend *be, const avae_up *u, const ltx_tensor *x)
{
    int64_t s[4] = {x->shape[0], x->shape[1], 2 * x->shape[2], 2 * x->shape[3]};
    ltx_tensor *h = ltx_tensor_new(be, LTX_F32, 4, s);
    if (!h) return NULL;
    if (be->ops->interpolate(be, LTX_INTERP_NEAREST, h, x, false) != LTX_OK) goto fail;
    AUDIO_STEP(h, ltx_avae_conv_fwd(be, &u->conv, h));
    if (u->axis == LTX_CAUSAL_HEIGHT || u->axis == LTX_CAUSAL_WIDTH) {
        const int dim = u->axis == LTX_CAUSAL_HEIGHT ? 2 : 3;
        ltx_tensor *sl = ltx_tensor_slice(h, dim, 1, h->shape[dim], 1);
        ltx_tensor *c = sl ? ltx_nn_contiguous(be, sl, LTX_F32) : NULL;
        ltx_tensor_free(sl);
        AUDIO_STEP(h, c);
    }
    return h;
fail:
    ltx_tensor_free(h);
    return NULL;
}
