/*
 * upsampler.c — LatentUpsampler (contract in upsampler.h).
 *
 * ref: ltx_core/model/upsampler/model.py (LatentUpsampler.forward, upsample_video),
 *      res_block.py (ResBlock: y = SiLU(GN2(conv2(SiLU(GN1(conv1 x)))) + x)),
 *      pixel_shuffle.py, spatial_rational_resampler.py (_rational_for_scale),
 *      blur_downsample.py (depthwise binomial blur, stride den, zero padding k/2).
 * Per-frame 2-D work folds time into the batch: (B, C, F, H, W) -> (B·F, C, H, W) by one
 * strided copy, and back. Not here: the VAE — upsample_video only borrows the caller's
 * per-channel statistics (un-normalize, upsample, normalize), it loads no VAE weights.
 */
#include "models/upsampler.h"
#include "io/json.h"
#include "models/video_vae_internal.h"
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ups_conv {
    ltx_tensor *w, *b;
    int nd; /* 2 or 3 spatial dims */
} ups_conv;

typedef struct ups_res {
    ups_conv c1, c2;
    ltx_tensor *g1w, *g1b, *g2w, *g2b;
} ups_res;

struct ltx_latent_upsampler {
    ltx_backend *be;
    ltx_upsampler_config cfg;
    int body_nd; /* 3 or 2 */
    ups_conv initial, final, up;
    ltx_tensor *gi_w, *gi_b;
    ups_res *pre, *post;
    int num, den;     /* rational resampler */
    ltx_tensor *blur; /* (mid, 1, k, k) depthwise kernel, rational with den > 1 */
    int blur_k;
    enum { UP_CLASSIC, UP_RATIONAL, UP_TEMPORAL, UP_SPATIOTEMPORAL } kind;
};

static ltx_status rational_for_scale(double scale, int *num, int *den)
{
    /* ref: _rational_for_scale mapping */
    static const struct {
        double s;
        int n, d;
    } map[] = {{0.75, 3, 4}, {1.5, 3, 2}, {2.0, 2, 1}, {4.0, 4, 1}};
    for (int i = 0; i < 4; i++)
        if (scale == map[i].s) {
            *num = map[i].n;
            *den = map[i].d;
            return LTX_OK;
        }
    return ltx_err(LTX_ERR_UNSUPPORTED,
                   "upsampler spatial_scale %g: the rational resampler "
                   "supports only 0.75, 1.5, 2.0, 4.0",
                   scale);
}

static ltx_status conv_load(ups_conv *c, const ltx_weight_src *src, ltx_backend *be,
                            const char *name, int cin, int cout, int nd)
{
    char k[160];
    c->nd = nd;
    ltx_vae_key(k, sizeof k, name, ".weight");
    c->w = nd == 3 ? ltx_vae_weight(src, be, k, 5, cout, cin, 3, 3, 3)
                   : ltx_vae_weight(src, be, k, 4, cout, cin, 3, 3);
    ltx_vae_key(k, sizeof k, name, ".bias");
    c->b = c->w ? ltx_vae_weight(src, be, k, 1, cout) : NULL;
    return c->b ? LTX_OK : ltx_err_failed();
}

static void conv_release(ups_conv *c)
{
    ltx_tensor_free(c->w);
    ltx_tensor_free(c->b);
}

static ltx_status gn_load(ltx_tensor **w, ltx_tensor **b, const ltx_weight_src *src,
                          ltx_backend *be, const char *name, int c)
{
    char k[160];
    ltx_vae_key(k, sizeof k, name, ".weight");
    *w = ltx_vae_weight(src, be, k, 1, c);
    ltx_vae_key(k, sizeof k, name, ".bias");
    *b = *w ? ltx_vae_weight(src, be, k, 1, c) : NULL;
    return *b ? LTX_OK : ltx_err_failed();
}

static ltx_status res_load(ups_res *r, const ltx_weight_src *src, ltx_backend *be, const char *name,
                           int c, int nd)
{
    char k[160];
    ltx_vae_key(k, sizeof k, name, ".conv1");
    LTX_TRY(conv_load(&r->c1, src, be, k, c, c, nd));
    ltx_vae_key(k, sizeof k, name, ".conv2");
    LTX_TRY(conv_load(&r->c2, src, be, k, c, c, nd));
    ltx_vae_key(k, sizeof k, name, ".norm1");
    LTX_TRY(gn_load(&r->g1w, &r->g1b, src, be, k, c));
    ltx_vae_key(k, sizeof k, name, ".norm2");
    return gn_load(&r->g2w, &r->g2b, src, be, k, c);
}

static void res_release(ups_res *r)
{
    conv_release(&r->c1);
    conv_release(&r->c2);
    ltx_tensor_free(r->g1w);
    ltx_tensor_free(r->g1b);
    ltx_tensor_free(r->g2w);
    ltx_tensor_free(r->g2b);
}

void ltx_latent_upsampler_free(ltx_latent_upsampler *u)
{
    if (!u) return;
    conv_release(&u->initial);
    conv_release(&u->final);
    conv_release(&u->up);
    ltx_tensor_free(u->gi_w);
    ltx_tensor_free(u->gi_b);
    for (int i = 0; i < u->cfg.num_blocks_per_stage; i++) {
        if (u->pre) res_release(&u->pre[i]);
        if (u->post) res_release(&u->post[i]);
    }
    free(u->pre);
    free(u->post);
    ltx_tensor_free(u->blur);
    free(u);
}

/* Loads the rational resampler's blur kernel (1, 1, k, k) and expands it to (mid, 1, k, k). */
static ltx_status blur_load(ltx_latent_upsampler *u, const ltx_weight_src *src)
{
    int k = 5, mid = u->cfg.mid_channels; /* ref: BlurDownsample(kernel_size=5) */
    ltx_tensor *kt = ltx_vae_weight(src, u->be, "upsampler.blur_down.kernel", 4, 1, 1, k, k);
    if (!kt) return ltx_err_failed();
    u->blur_k = k;
    if (u->den == 1) { /* stride 1: BlurDownsample.forward returns its input */
        ltx_tensor_free(kt);
        return LTX_OK;
    }
    int64_t shape[4] = {mid, 1, k, k}, stride[4] = {0, 0, k, 1};
    ltx_tensor *ev = ltx_vae_view(kt, 4, shape, stride, 0);
    u->blur = ev ? ltx_nn_contiguous(u->be, ev, LTX_F32) : NULL;
    ltx_tensor_free(ev);
    ltx_tensor_free(kt);
    return u->blur ? LTX_OK : ltx_vae_failed_status();
}

ltx_status ltx_latent_upsampler_create(ltx_backend *be, const ltx_upsampler_config *cfg,
                                       const ltx_weight_src *src, ltx_latent_upsampler **out)
{
    *out = NULL;
    const ltx_upsampler_config *c = cfg;
    if (!c->spatial_upsample && !c->temporal_upsample)
        return ltx_err(LTX_ERR_UNSUPPORTED, "upsampler config: either spatial_upsample or "
                                            "temporal_upsample must be true");
    if (c->in_channels < 1 || c->mid_channels < 1 || c->num_blocks_per_stage < 0 ||
        c->num_blocks_per_stage > 64)
        return ltx_err(LTX_ERR_FORMAT, "upsampler config: bad channel or block counts");
    if (c->mid_channels % 32)
        return ltx_err(LTX_ERR_UNSUPPORTED,
                       "upsampler config: mid_channels %d is not divisible "
                       "by GroupNorm's 32 groups",
                       c->mid_channels);
    ltx_latent_upsampler *u = calloc(1, sizeof *u);
    if (!u) return ltx_err(LTX_ERR_OOM, "upsampler");
    u->be = be;
    u->cfg = *c;
    u->body_nd = c->dims == 2 ? 2 : 3; /* ref: Conv2d if dims == 2 else Conv3d */
    u->num = 2;
    u->den = 1;
    int mid = c->mid_channels, nd = u->body_nd;
    ltx_status s = LTX_OK;
    if (c->spatial_upsample && c->temporal_upsample)
        u->kind = UP_SPATIOTEMPORAL;
    else if (c->spatial_upsample)
        u->kind = c->rational_resampler ? UP_RATIONAL : UP_CLASSIC;
    else
        u->kind = UP_TEMPORAL;
    if (nd == 2 && u->kind != UP_CLASSIC) {
        s = ltx_err(LTX_ERR_UNSUPPORTED,
                    "upsampler config: dims=2 with a %s upsampler fails in "
                    "the reference's forward",
                    u->kind == UP_RATIONAL ? "rational" : "temporal");
        goto fail;
    }
    if (u->kind == UP_RATIONAL &&
        (s = rational_for_scale(c->spatial_scale, &u->num, &u->den)) != LTX_OK)
        goto fail;
    LTX_CHECK_GOTO(s, conv_load(&u->initial, src, be, "initial_conv", c->in_channels, mid, nd),
                   fail);
    LTX_CHECK_GOTO(s, gn_load(&u->gi_w, &u->gi_b, src, be, "initial_norm", mid), fail);
    u->pre = calloc((size_t)c->num_blocks_per_stage + 1, sizeof *u->pre);
    u->post = calloc((size_t)c->num_blocks_per_stage + 1, sizeof *u->post);
    if (!u->pre || !u->post) {
        s = ltx_err(LTX_ERR_OOM, "upsampler");
        goto fail;
    }
    for (int i = 0; i < c->num_blocks_per_stage; i++) {
        char k[64];
        snprintf(k, sizeof k, "res_blocks.%d", i);
        LTX_CHECK_GOTO(s, res_load(&u->pre[i], src, be, k, mid, nd), fail);
        snprintf(k, sizeof k, "post_upsample_res_blocks.%d", i);
        LTX_CHECK_GOTO(s, res_load(&u->post[i], src, be, k, mid, nd), fail);
    }
    switch (u->kind) {
    case UP_CLASSIC:
        s = conv_load(&u->up, src, be, "upsampler.0", mid, 4 * mid, 2);
        break;
    case UP_TEMPORAL:
        s = conv_load(&u->up, src, be, "upsampler.0", mid, 2 * mid, 3);
        break;
    case UP_SPATIOTEMPORAL:
        s = conv_load(&u->up, src, be, "upsampler.0", mid, 8 * mid, 3);
        break;
    case UP_RATIONAL:
        s = conv_load(&u->up, src, be, "upsampler.conv", mid, u->num * u->num * mid, 2);
        if (s == LTX_OK) s = blur_load(u, src);
        break;
    }
    if (s != LTX_OK) goto fail;
    LTX_CHECK_GOTO(s, conv_load(&u->final, src, be, "final_conv", mid, c->in_channels, nd), fail);
    *out = u;
    return LTX_OK;
fail:
    ltx_latent_upsampler_free(u);
    return ltx_err_context(s, "latent upsampler: ");
}

ltx_status ltx_latent_upsampler_load(ltx_backend *be, const ltx_st_file *st,
                                     ltx_latent_upsampler **out)
{
    const char *cj = ltx_st_metadata(st, "config");
    if (!cj) return ltx_err(LTX_ERR_FORMAT, "%s: no metadata 'config'", ltx_st_path(st));
    ltx_upsampler_config cfg;
    LTX_TRY(ltx_upsampler_config_parse(cj, &cfg));
    ltx_st_weight_src ws;
    ltx_weight_src src = ltx_st_weight_src_init(&ws, st, "");
    return ltx_latent_upsampler_create(be, &cfg, &src, out);
}

const ltx_upsampler_config *ltx_latent_upsampler_config(const ltx_latent_upsampler *u)
{
    return &u->cfg;
}

double ltx_latent_upsampler_spatial_scale(const ltx_latent_upsampler *u)
{
    switch (u->kind) {
    case UP_CLASSIC:
    case UP_SPATIOTEMPORAL:
        return 2.0;
    case UP_RATIONAL:
        return (double)u->num / (double)u->den;
    default:
        return 1.0;
    }
}

int ltx_latent_upsampler_temporal_scale(const ltx_latent_upsampler *u)
{
    return (u->kind == UP_TEMPORAL || u->kind == UP_SPATIOTEMPORAL) ? 2 : 1;
}

/* Output size of the rational path per axis: n·num, then conv stride den, pad k/2. */
static int64_t rational_len(const ltx_latent_upsampler *u, int64_t n)
{
    int64_t m = n * u->num;
    if (u->den == 1) return m;
    return (m + 2 * (u->blur_k / 2) - u->blur_k) / u->den + 1;
}

void ltx_latent_upsampler_out_shape(const ltx_latent_upsampler *u, const int64_t in[5],
                                    int64_t out[5])
{
    memcpy(out, in, sizeof(int64_t) * 5);
    if (u->kind == UP_TEMPORAL || u->kind == UP_SPATIOTEMPORAL) out[2] = 2 * in[2] - 1;
    if (u->kind == UP_CLASSIC || u->kind == UP_SPATIOTEMPORAL) {
        out[3] = 2 * in[3];
        out[4] = 2 * in[4];
    } else if (u->kind == UP_RATIONAL) {
        out[3] = rational_len(u, in[3]);
        out[4] = rational_len(u, in[4]);
    }
}

ltx_status ltx_latent_upsampler_check_two_stage(const ltx_latent_upsampler *u)
{
    double s = ltx_latent_upsampler_spatial_scale(u);
    if (s == 2.0 && ltx_latent_upsampler_temporal_scale(u) == 1) return LTX_OK;
    return ltx_err(LTX_ERR_UNSUPPORTED,
                   "this latent upsampler scales space by x%g%s; the two-stage pipelines run "
                   "stage 1 at exactly half the output size and need an exact x2 spatial "
                   "upsample (a x%g model would give ceil(%g*h') x ceil(%g*w') latents, which "
                   "do not match the stage-2 grid). Use the x2 spatial upsampler",
                   s, ltx_latent_upsampler_temporal_scale(u) == 2 ? " and time by x2" : "", s, s,
                   s);
}

/* ---- forward ---------------------------------------------------------------------------- */

static ltx_tensor *conv_fwd(ltx_backend *be, const ups_conv *c, const ltx_tensor *x)
{
    ltx_conv_params p = {.nspatial = c->nd,
                         .stride = {1, 1, 1},
                         .padding = {1, 1, 1},
                         .dilation = {1, 1, 1},
                         .groups = 1};
    return ltx_nn_conv(be, x, c->w, c->b, &p);
}

static ltx_tensor *gn(ltx_backend *be, const ltx_tensor *x, const ltx_tensor *w,
                      const ltx_tensor *b)
{
    return ltx_nn_norm(be, LTX_NORM_GROUP, x, w, b, 32, 1e-5f); /* ref: GroupNorm(32, C) defaults */
}

static ltx_tensor *res_fwd(ltx_backend *be, const ups_res *r, const ltx_tensor *x)
{
    ltx_tensor *h = conv_fwd(be, &r->c1, x), *y = NULL;
    if (!h) return NULL;
    VAE_STEP(h, gn(be, h, r->g1w, r->g1b));
    VAE_STEP(h, ltx_vae_silu(be, h));
    VAE_STEP(h, conv_fwd(be, &r->c2, h));
    VAE_STEP(h, gn(be, h, r->g2w, r->g2b));
    VAE_STEP(h, ltx_nn_binary(be, LTX_BINARY_ADD, h, x));
    y = ltx_vae_silu(be, h);
fail:
    ltx_tensor_free(h);
    return y;
}

/* (B, C, F, H, W) -> (B·F, C, H, W) contiguous. */
static ltx_tensor *fold_time(ltx_backend *be, const ltx_tensor *x)
{
    const int64_t *n = x->shape, *st = x->stride;
    int64_t vs[5] = {n[0], n[2], n[1], n[3], n[4]}, vst[5] = {st[0], st[2], st[1], st[3], st[4]};
    ltx_tensor *v = ltx_vae_view(x, 5, vs, vst, 0);
    ltx_tensor *c = v ? ltx_nn_contiguous(be, v, LTX_F32) : NULL;
    ltx_tensor_free(v);
    if (!c) return NULL;
    int64_t s4[4] = {n[0] * n[2], n[1], n[3], n[4]};
    ltx_tensor *r = ltx_tensor_reshape(c, 4, s4);
    ltx_tensor_free(c);
    return r;
}

/* (B·F, C, H, W) -> (B, C, F, H, W) contiguous. */
static ltx_tensor *unfold_time(ltx_backend *be, const ltx_tensor *x, int64_t B)
{
    const int64_t *n = x->shape;
    int64_t F = n[0] / B;
    int64_t vs[5] = {B, n[1], F, n[2], n[3]};
    int64_t vst[5] = {F * x->stride[0], x->stride[1], x->stride[0], x->stride[2], x->stride[3]};
    ltx_tensor *v = ltx_vae_view(x, 5, vs, vst, 0);
    ltx_tensor *c = v ? ltx_nn_contiguous(be, v, LTX_F32) : NULL;
    ltx_tensor_free(v);
    return c;
}

/* 2-D pixel shuffle "b (c p1 p2) h w -> b c (h p1) (w p2)" with p1 = p2 = p, iterating in the
 * source's order (contiguous rows) and scattering with stride p. */
static ltx_tensor *shuffle2d(ltx_backend *be, const ltx_tensor *x, int p)
{
    const int64_t *n = x->shape, *st = x->stride;
    int64_t C = n[1] / (p * p);
    int64_t out[4] = {n[0], C, n[2] * p, n[3] * p};
    ltx_tensor *y = ltx_tensor_new(be, LTX_F32, 4, out);
    if (!y) return NULL;
    const int64_t *yt = y->stride;
    int64_t vs[6] = {n[0], C, p, p, n[2], n[3]};
    int64_t xs[6] = {st[0], p * p * st[1], p * st[1], st[1], st[2], st[3]};
    int64_t ys[6] = {yt[0], yt[1], yt[2], yt[3], p * yt[2], p * yt[3]};
    if (ltx_vae_scatter(be, y, x, 6, vs, xs, 0, ys, 0) != LTX_OK) {
        ltx_tensor_free(y);
        return NULL;
    }
    return y;
}

/* The upsampler stage on a 5-D x (dims 3 body); taps "ups.upsampler". */
static ltx_tensor *upsample_stage(const ltx_latent_upsampler *u, const ltx_tensor *x,
                                  const ltx_taps *taps)
{
    ltx_backend *be = u->be;
    int64_t B = x->shape[0];
    ltx_tensor *h = NULL, *y = NULL;
    if (u->kind == UP_TEMPORAL || u->kind == UP_SPATIOTEMPORAL) {
        /* ref: Conv3d + PixelShuffleND(1 or 3), then drop the first frame */
        int s[3] = {2, u->kind == UP_SPATIOTEMPORAL ? 2 : 1, u->kind == UP_SPATIOTEMPORAL ? 2 : 1};
        h = conv_fwd(be, &u->up, x);
        y = h ? ltx_vae_d2s(be, h, s, true) : NULL;
        ltx_tensor_free(h);
        ltx_tap(taps, "ups.upsampler", y);
        return y;
    }
    h = fold_time(be, x);
    if (!h) return NULL;
    VAE_STEP(h, conv_fwd(be, &u->up, h));
    VAE_STEP(h, shuffle2d(be, h, u->kind == UP_CLASSIC ? 2 : u->num));
    if (u->kind == UP_RATIONAL && u->blur) {
        ltx_conv_params p = {.nspatial = 2,
                             .stride = {u->den, u->den, 1},
                             .padding = {u->blur_k / 2, u->blur_k / 2, 0},
                             .dilation = {1, 1, 1},
                             .groups = (int)h->shape[1]};
        VAE_STEP(h, ltx_nn_conv(be, h, u->blur, NULL, &p));
    }
    if (u->kind == UP_CLASSIC) ltx_tap(taps, "ups.upsampler", h); /* (B·F, C, H, W) */
    y = unfold_time(be, h, B);
    if (y && u->kind == UP_RATIONAL) ltx_tap(taps, "ups.upsampler", y);
fail:
    ltx_tensor_free(h);
    return y;
}

ltx_status ltx_latent_upsampler_forward(const ltx_latent_upsampler *u, const ltx_tensor *latent,
                                        const ltx_taps *taps, ltx_tensor **out)
{
    *out = NULL;
    ltx_backend *be = u->be;
    if (latent->ndim != 5 || latent->shape[1] != u->cfg.in_channels)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "latent upsampler: input must be (B, %d, F', H', "
                       "W'), got rank %d with %lld channels",
                       u->cfg.in_channels, latent->ndim,
                       latent->ndim > 1 ? (long long)latent->shape[1] : 0LL);
    int64_t B = latent->shape[0];
    ltx_tensor *x = NULL, *y = NULL;
    bool per_frame = u->body_nd == 2; /* ref: dims == 2 runs everything per frame */
    x = per_frame ? fold_time(be, latent) : ltx_tensor_view(latent);
    if (!x) goto fail;
    VAE_STEP(x, conv_fwd(be, &u->initial, x));
    ltx_tap(taps, "ups.initial_conv", x);
    VAE_STEP(x, gn(be, x, u->gi_w, u->gi_b));
    VAE_STEP(x, ltx_vae_silu(be, x));
    for (int i = 0; i < u->cfg.num_blocks_per_stage; i++)
        VAE_STEP(x, res_fwd(be, &u->pre[i], x));
    if (per_frame) {
        VAE_STEP(x, conv_fwd(be, &u->up, x));
        VAE_STEP(x, shuffle2d(be, x, 2));
        ltx_tap(taps, "ups.upsampler", x);
    } else {
        VAE_STEP(x, upsample_stage(u, x, taps));
    }
    for (int i = 0; i < u->cfg.num_blocks_per_stage; i++)
        VAE_STEP(x, res_fwd(be, &u->post[i], x));
    VAE_STEP(x, conv_fwd(be, &u->final, x));
    if (per_frame) VAE_STEP(x, unfold_time(be, x, B));
    *out = x;
    return LTX_OK;
fail:
    (void)y;
    ltx_tensor_free(x);
    return ltx_err_context(ltx_vae_failed_status(), "latent upsampler: ");
}

ltx_status ltx_upsample_video(const ltx_latent_upsampler *u, const ltx_vae_stats *stats,
                              const ltx_tensor *latent, const ltx_taps *taps, ltx_tensor **out)
{
    *out = NULL;
    ltx_tensor *x = ltx_vae_un_normalize(u->be, stats, latent), *y = NULL;
    if (!x) return ltx_vae_failed_status();
    ltx_status s = ltx_latent_upsampler_forward(u, x, taps, &y);
    ltx_tensor_free(x);
    if (s != LTX_OK) return s;
    *out = ltx_vae_normalize(u->be, stats, y);
    ltx_tensor_free(y);
    return *out ? LTX_OK : ltx_vae_failed_status();
}
