/*
 * video_vae_blocks.c — building blocks of the video VAE: causal conv3d, norms, ResnetBlock3D,
 * space-to-depth / depth-to-space, patchify, timestep embedder, noise injection, and the
 * weight helpers. Encoder/decoder assembly lives in video_vae_encoder.c / video_vae_decoder.c.
 *
 * ref: ltx_core/model/video_vae/convolution.py (CausalConv3d), resnet.py (ResnetBlock3D),
 *      sampling.py (SpaceToDepthDownsample, DepthToSpaceUpsample), ops.py (patchify),
 *      common/normalization.py (PixelNorm), transformer/timestep_embedding.py.
 * Rearrangements are single strided copies: a view of the source in the destination's order.
 */
#include "models/video_vae_internal.h"
#include "nn/nn.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ltx_vae_key(char *out, size_t cap, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la >= cap) la = cap - 1;
    if (lb > cap - 1 - la) lb = cap - 1 - la;
    memcpy(out, a, la);
    memcpy(out + la, b, lb);
    out[la + lb] = 0;
}

/* ---- views and weights -------------------------------------------------------------------- */

ltx_tensor *ltx_vae_view(const ltx_tensor *t, int ndim, const int64_t *shape, const int64_t *stride,
                         int64_t offset)
{
    ltx_tensor *v = ltx_tensor_view(t);
    if (!v) return NULL;
    v->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        v->shape[i] = shape[i];
        v->stride[i] = stride[i];
    }
    v->offset += offset;
    return v;
}

ltx_tensor *ltx_vae_weight(const ltx_weight_src *src, ltx_backend *be, const char *name, int ndim,
                           ...)
{
    int64_t shape[LTX_MAX_DIMS];
    va_list ap;
    va_start(ap, ndim);
    for (int i = 0; i < ndim; i++)
        shape[i] = va_arg(ap, int);
    va_end(ap);
    return src->get(src->user, be, name, ndim, shape);
}

static ltx_tensor *st_get(void *user, ltx_backend *be, const char *name, int ndim,
                          const int64_t *shape)
{
    const ltx_st_weight_src *s = user;
    char full[512];
    bool stats = !strncmp(name, "per_channel_statistics.", 23);
    snprintf(full, sizeof full, "%s%s", stats ? s->stats_prefix : s->prefix, name);
    const ltx_st_entry *e = ltx_st_find(s->st, full);
    if (!e) {
        ltx_err(LTX_ERR_FORMAT, "%s: missing tensor '%s' (the reference needs every parameter)",
                ltx_st_path(s->st), full);
        return NULL;
    }
    bool ok = e->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = e->shape[i] == shape[i];
    if (!ok) {
        char want[128] = "", *p = want;
        for (int i = 0; i < ndim; i++)
            p += snprintf(p, (size_t)(want + sizeof want - p), "%s%lld", i ? "," : "",
                          (long long)shape[i]);
        ltx_err(LTX_ERR_FORMAT, "%s: tensor '%s' has rank %d / unexpected shape, want (%s)",
                ltx_st_path(s->st), full, e->ndim, want);
        return NULL;
    }
    ltx_tensor *t = ltx_st_tensor_as(s->st, be, full, LTX_F32);
    if (t) ltx_vae_key(t->name, sizeof t->name, full, "");
    return t;
}

ltx_weight_src ltx_st_weight_src_init(ltx_st_weight_src *s, const ltx_st_file *st,
                                      const char *prefix)
{
    s->st = st;
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix ? prefix : "");
    snprintf(s->stats_prefix, sizeof s->stats_prefix, "%s", s->prefix);
    return (ltx_weight_src){.get = st_get, .user = s};
}

ltx_status ltx_vae_conv_load(vae_conv *c, const ltx_weight_src *src, ltx_backend *be,
                             const char *name, int cin, int cout, int st, int sh, int sw)
{
    char k[256];
    ltx_vae_key(k, sizeof k, name, ".weight");
    c->w = ltx_vae_weight(src, be, k, 5, cout, cin, 3, 3, 3);
    if (!c->w) return ltx_err_failed();
    ltx_vae_key(k, sizeof k, name, ".bias");
    c->b = ltx_vae_weight(src, be, k, 1, cout);
    if (!c->b) return ltx_err_failed();
    c->stride[0] = st;
    c->stride[1] = sh;
    c->stride[2] = sw;
    return LTX_OK;
}

void ltx_vae_conv_release(vae_conv *c)
{
    ltx_tensor_free(c->w);
    ltx_tensor_free(c->b);
    c->w = c->b = NULL;
}

ltx_status ltx_vae_norm_init(vae_norm *n, ltx_vae_norm_kind kind, int groups, float eps, int c,
                             const ltx_weight_src *src, ltx_backend *be, const char *name)
{
    n->kind = kind;
    n->groups = groups;
    n->eps = eps;
    n->w = n->b = NULL;
    if (kind == LTX_VAE_PIXEL_NORM) {
        n->eps = 1e-8f; /* ref: PixelNorm() default eps */
        return LTX_OK;
    }
    if (c % groups != 0)
        return ltx_err(LTX_ERR_UNSUPPORTED, "%s: GroupNorm(%d) over %d channels (not divisible)",
                       name, groups, c);
    char k[256];
    ltx_vae_key(k, sizeof k, name, ".weight");
    n->w = ltx_vae_weight(src, be, k, 1, c);
    ltx_vae_key(k, sizeof k, name, ".bias");
    n->b = n->w ? ltx_vae_weight(src, be, k, 1, c) : NULL;
    return n->b ? LTX_OK : ltx_err_failed();
}

void ltx_vae_norm_release(vae_norm *n)
{
    ltx_tensor_free(n->w);
    ltx_tensor_free(n->b);
    n->w = n->b = NULL;
}

ltx_status ltx_vae_temb_load(vae_temb *t, const ltx_weight_src *src, ltx_backend *be,
                             const char *name, int dim)
{
    char k[256];
    t->dim = dim;
    ltx_vae_key(k, sizeof k, name, ".timestep_embedder.linear_1.weight");
    t->w1 = ltx_vae_weight(src, be, k, 2, dim, 256);
    ltx_vae_key(k, sizeof k, name, ".timestep_embedder.linear_1.bias");
    t->b1 = t->w1 ? ltx_vae_weight(src, be, k, 1, dim) : NULL;
    ltx_vae_key(k, sizeof k, name, ".timestep_embedder.linear_2.weight");
    t->w2 = t->b1 ? ltx_vae_weight(src, be, k, 2, dim, dim) : NULL;
    ltx_vae_key(k, sizeof k, name, ".timestep_embedder.linear_2.bias");
    t->b2 = t->w2 ? ltx_vae_weight(src, be, k, 1, dim) : NULL;
    return t->b2 ? LTX_OK : ltx_err_failed();
}

void ltx_vae_temb_release(vae_temb *t)
{
    ltx_tensor_free(t->w1);
    ltx_tensor_free(t->b1);
    ltx_tensor_free(t->w2);
    ltx_tensor_free(t->b2);
    memset(t, 0, sizeof *t);
}

ltx_status ltx_vae_resblock_load(vae_resblock *r, const ltx_weight_src *src, ltx_backend *be,
                                 const char *name, int cin, int cout, ltx_vae_norm_kind norm,
                                 bool inject_noise, bool tc)
{
    char k[256];
    memset(r, 0, sizeof *r);
    r->cin = cin;
    r->cout = cout;
    /* ref: ResnetBlock3D(groups=32, eps=1e-6) as built by UNetMidBlock3D / _make_*_block */
    ltx_vae_key(k, sizeof k, name, ".norm1");
    LTX_TRY(ltx_vae_norm_init(&r->n1, norm, 32, 1e-6f, cin, src, be, k));
    ltx_vae_key(k, sizeof k, name, ".conv1.conv");
    LTX_TRY(ltx_vae_conv_load(&r->c1, src, be, k, cin, cout, 1, 1, 1));
    ltx_vae_key(k, sizeof k, name, ".norm2");
    LTX_TRY(ltx_vae_norm_init(&r->n2, norm, 32, 1e-6f, cout, src, be, k));
    ltx_vae_key(k, sizeof k, name, ".conv2.conv");
    LTX_TRY(ltx_vae_conv_load(&r->c2, src, be, k, cout, cout, 1, 1, 1));
    if (inject_noise) {
        ltx_vae_key(k, sizeof k, name, ".per_channel_scale1");
        if (!(r->pcs1 = ltx_vae_weight(src, be, k, 3, cin, 1, 1))) return ltx_err_failed();
        ltx_vae_key(k, sizeof k, name, ".per_channel_scale2");
        if (!(r->pcs2 = ltx_vae_weight(src, be, k, 3, cin, 1, 1))) return ltx_err_failed();
    }
    if (cin != cout) {
        /* ref: conv_shortcut = make_linear_nd (1x1x1 Conv3d), norm3 = GroupNorm(1, cin) */
        ltx_vae_key(k, sizeof k, name, ".norm3");
        LTX_TRY(ltx_vae_norm_init(&r->n3, LTX_VAE_GROUP_NORM, 1, 1e-6f, cin, src, be, k));
        ltx_vae_key(k, sizeof k, name, ".conv_shortcut.weight");
        if (!(r->sc_w = ltx_vae_weight(src, be, k, 5, cout, cin, 1, 1, 1))) return ltx_err_failed();
        ltx_vae_key(k, sizeof k, name, ".conv_shortcut.bias");
        if (!(r->sc_b = ltx_vae_weight(src, be, k, 1, cout))) return ltx_err_failed();
    }
    if (tc) {
        ltx_vae_key(k, sizeof k, name, ".scale_shift_table");
        if (!(r->sst = ltx_vae_weight(src, be, k, 2, 4, cin))) return ltx_err_failed();
    }
    return LTX_OK;
}

static void vae_resblock_release(vae_resblock *r)
{
    ltx_vae_norm_release(&r->n1);
    ltx_vae_norm_release(&r->n2);
    ltx_vae_norm_release(&r->n3);
    ltx_vae_conv_release(&r->c1);
    ltx_vae_conv_release(&r->c2);
    ltx_tensor_free(r->sc_w);
    ltx_tensor_free(r->sc_b);
    ltx_tensor_free(r->pcs1);
    ltx_tensor_free(r->pcs2);
    ltx_tensor_free(r->sst);
    memset(r, 0, sizeof *r);
}

void ltx_vae_block_release(vae_block *b)
{
    for (int i = 0; i < b->n_res; i++)
        vae_resblock_release(&b->res[i]);
    free(b->res);
    b->res = NULL;
    b->n_res = 0;
    ltx_vae_temb_release(&b->temb);
    ltx_vae_conv_release(&b->conv);
}

ltx_status ltx_vae_failed_status(void)
{
    /* Helpers return NULL after an op failed; its message and status are set (ltx_err). Keep
     * "not built yet" (an op still missing on this backend) distinguishable from real
     * failures: the status recorded with the message, not its text. */
    ltx_status s = ltx_err_status();
    return s != LTX_OK ? s : LTX_ERR_INVALID_ARG;
}

/* ---- forward pieces ------------------------------------------------------------------------ */

ltx_tensor *ltx_vae_causal_conv(const vae_run *run, const vae_conv *c, const ltx_tensor *x)
{
    ltx_backend *be = run->be;
    /* ref: CausalConv3d.forward — replicate first frame twice (causal) or first+last once */
    int pads[10] = {0};
    pads[4] = run->causal ? 2 : 1;
    pads[5] = run->causal ? 0 : 1;
    ltx_tensor *xp = ltx_nn_pad(be, x, pads, LTX_PAD_REPLICATE, 0.0);
    if (!xp) return NULL;
    ltx_conv_params p = {.nspatial = 3,
                         .stride = {c->stride[0], c->stride[1], c->stride[2]},
                         .padding = {0, 1, 1},
                         .dilation = {1, 1, 1},
                         .groups = 1};
    if (run->pad != LTX_PAD_CONSTANT) {
        /* nn.Conv3d(padding_mode != "zeros") pads H and W by 1 in that mode, then convolves */
        int sp[10] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1};
        ltx_tensor *xs = ltx_nn_pad(be, xp, sp, run->pad, 0.0);
        ltx_tensor_free(xp);
        if (!xs) return NULL;
        xp = xs;
        p.padding[1] = p.padding[2] = 0;
    }
    ltx_tensor *y = ltx_nn_conv(be, xp, c->w, c->b, &p);
    ltx_tensor_free(xp);
    return y;
}

ltx_tensor *ltx_vae_norm_fwd(ltx_backend *be, const vae_norm *n, const ltx_tensor *x)
{
    if (n->kind == LTX_VAE_PIXEL_NORM)
        return ltx_nn_norm(be, LTX_NORM_PIXEL, x, NULL, NULL, 0, n->eps);
    return ltx_nn_norm(be, LTX_NORM_GROUP, x, n->w, n->b, n->groups, n->eps);
}

ltx_tensor *ltx_vae_silu(ltx_backend *be, const ltx_tensor *x)
{
    return ltx_nn_unary(be, LTX_UNARY_SILU, x, 0.0, 0.0);
}

ltx_tensor *ltx_vae_temb_fwd(ltx_backend *be, const vae_temb *t, const float *ts, int batch)
{
    /* ref: get_timestep_embedding(t, 256, flip_sin_to_cos=True, downscale_freq_shift=0), f32 */
    float *emb = malloc(sizeof(float) * 256 * (size_t)batch);
    if (!emb) {
        ltx_err(LTX_ERR_OOM, "timestep embedding");
        return NULL;
    }
    const float neg_log = (float)-log(10000.0);
    for (int b = 0; b < batch; b++)
        for (int i = 0; i < 128; i++) {
            float e = expf((neg_log * (float)i) / 128.0f);
            float a = ts[b] * e;
            emb[b * 256 + i] = cosf(a);
            emb[b * 256 + 128 + i] = sinf(a);
        }
    int64_t shape[2] = {batch, 256};
    ltx_tensor *x = ltx_tensor_from_host(be, LTX_F32, 2, shape, emb);
    free(emb);
    if (!x) return NULL;
    ltx_tensor *h = ltx_nn_linear(be, x, t->w1, t->b1);
    ltx_tensor_free(x);
    if (!h) return NULL;
    ltx_tensor *a = ltx_vae_silu(be, h);
    ltx_tensor_free(h);
    if (!a) return NULL;
    ltx_tensor *y = ltx_nn_linear(be, a, t->w2, t->b2);
    ltx_tensor_free(a);
    return y;
}

ltx_tensor *ltx_vae_modulate(ltx_backend *be, const ltx_tensor *x, const ltx_tensor *ada, int j)
{
    /* ada (B, k, C) contiguous; shift = ada[:, j], scale = ada[:, j+1] viewed (B, C, 1, 1, 1) */
    int64_t B = ada->shape[0], k = ada->shape[1], C = ada->shape[2];
    int64_t shape[5] = {B, C, 1, 1, 1}, stride[5] = {k * C, 1, 0, 0, 0};
    ltx_tensor *shift = ltx_vae_view(ada, 5, shape, stride, (int64_t)j * C);
    ltx_tensor *scale = ltx_vae_view(ada, 5, shape, stride, (int64_t)(j + 1) * C);
    ltx_tensor *onep = scale ? ltx_nn_unary(be, LTX_UNARY_SCALE, scale, 1.0, 1.0) : NULL;
    ltx_tensor *m = onep ? ltx_nn_binary(be, LTX_BINARY_MUL, x, onep) : NULL;
    ltx_tensor *y = (m && shift) ? ltx_nn_binary(be, LTX_BINARY_ADD, m, shift) : NULL;
    ltx_tensor_free(shift);
    ltx_tensor_free(scale);
    ltx_tensor_free(onep);
    ltx_tensor_free(m);
    return y;
}

/* Adds randn(H, W)·pcs (C,1,1) to h (B, C, F, H, W) in place, drawing from run->rng. */
static ltx_status vae_inject_noise(const vae_run *run, ltx_tensor *h, const ltx_tensor *pcs)
{
    /* ref: ResnetBlock3D._feed_spatial_noise — one randn((H, W)) call per application */
    if (!run->rng)
        return ltx_err(LTX_ERR_INVALID_ARG, "decoder has inject_noise blocks: pass the pipeline "
                                            "generator as opts.rng");
    int64_t H = h->shape[3], W = h->shape[4], C = h->shape[1];
    if (pcs->shape[0] != C)
        return ltx_err(LTX_ERR_INTERNAL, "per_channel_scale width %lld != %lld",
                       (long long)pcs->shape[0], (long long)C);
    float *n = malloc(sizeof(float) * (size_t)(H * W));
    if (!n) return ltx_err(LTX_ERR_OOM, "noise");
    ltx_status s = ltx_rng_randn_f32(run->rng, n, H * W);
    int64_t nshape[5] = {1, 1, 1, H, W};
    ltx_tensor *nt = s == LTX_OK ? ltx_tensor_from_host(run->be, LTX_F32, 5, nshape, n) : NULL;
    free(n);
    if (!nt) return s != LTX_OK ? s : ltx_err_failed();
    int64_t pshape[5] = {1, C, 1, 1, 1}, pstride[5] = {0, 1, 0, 0, 0};
    ltx_tensor *pv = ltx_vae_view(pcs, 5, pshape, pstride, 0);
    ltx_tensor *scaled = pv ? ltx_nn_binary(run->be, LTX_BINARY_MUL, nt, pv) : NULL;
    s = scaled ? run->be->ops->binary(run->be, LTX_BINARY_ADD, h, h, scaled) : ltx_err_failed();
    ltx_tensor_free(nt);
    ltx_tensor_free(pv);
    ltx_tensor_free(scaled);
    return s;
}

ltx_tensor *ltx_vae_resblock_fwd(const vae_run *run, const vae_resblock *r, const ltx_tensor *x,
                                 const ltx_tensor *temb)
{
    ltx_backend *be = run->be;
    ltx_tensor *h = NULL, *ada = NULL, *res = NULL, *y = NULL;
    if (r->sst) {
        if (!temb) {
            ltx_err(LTX_ERR_INVALID_ARG, "timestep-conditioned res block without timestep");
            return NULL;
        }
        /* ref: ada = scale_shift_table[None] + timestep.reshape(B, 4, C) (B, 4, C) */
        int64_t B = temb->shape[0];
        int64_t shape[3] = {B, 4, r->cin}, stride[3] = {4 * r->cin, r->cin, 1};
        ltx_tensor *tv = ltx_vae_view(temb, 3, shape, stride, 0);
        ada = tv ? ltx_nn_binary(be, LTX_BINARY_ADD, tv, r->sst) : NULL;
        ltx_tensor_free(tv);
        if (!ada) goto fail;
    }
    h = ltx_vae_norm_fwd(be, &r->n1, x);
    if (!h) goto fail;
    if (ada) VAE_STEP(h, ltx_vae_modulate(be, h, ada, 0)); /* shift1, scale1 */
    VAE_STEP(h, ltx_vae_silu(be, h));
    VAE_STEP(h, ltx_vae_causal_conv(run, &r->c1, h));
    if (r->pcs1 && vae_inject_noise(run, h, r->pcs1) != LTX_OK) goto fail;
    VAE_STEP(h, ltx_vae_norm_fwd(be, &r->n2, h));
    if (ada) VAE_STEP(h, ltx_vae_modulate(be, h, ada, 2)); /* shift2, scale2 */
    VAE_STEP(h, ltx_vae_silu(be, h));
    VAE_STEP(h, ltx_vae_causal_conv(run, &r->c2, h));
    if (r->pcs2 && vae_inject_noise(run, h, r->pcs2) != LTX_OK) goto fail;
    if (r->sc_w) {
        res = ltx_vae_norm_fwd(be, &r->n3, x);
        if (!res) goto fail;
        ltx_conv_params p = {
            .nspatial = 3, .stride = {1, 1, 1}, .dilation = {1, 1, 1}, .groups = 1};
        VAE_STEP(res, ltx_nn_conv(be, res, r->sc_w, r->sc_b, &p));
        y = ltx_nn_binary(be, LTX_BINARY_ADD, res, h);
    } else {
        y = ltx_nn_binary(be, LTX_BINARY_ADD, x, h);
    }
fail:
    ltx_tensor_free(h);
    ltx_tensor_free(ada);
    ltx_tensor_free(res);
    return y;
}

/* Copies `src_view` (any strides) into a new contiguous tensor of shape `out_shape`
 * (same numel); frees src_view. */
static ltx_tensor *materialise(ltx_backend *be, ltx_tensor *src_view, int ndim,
                               const int64_t *out_shape)
{
    if (!src_view) return NULL;
    ltx_tensor *y = ltx_tensor_new(be, LTX_F32, ndim, out_shape);
    ltx_tensor *yv = NULL;
    if (y) {
        int64_t st[LTX_MAX_DIMS];
        ltx_contiguous_strides(src_view->ndim, src_view->shape, st);
        yv = ltx_vae_view(y, src_view->ndim, src_view->shape, st, 0);
    }
    ltx_status s = yv ? be->ops->copy(be, yv, src_view) : ltx_err_failed();
    ltx_tensor_free(yv);
    ltx_tensor_free(src_view);
    if (s != LTX_OK) {
        ltx_tensor_free(y);
        return NULL;
    }
    return y;
}

ltx_tensor *ltx_vae_s2d(ltx_backend *be, const ltx_tensor *x, const int *s)
{
    const int64_t *n = x->shape, *st = x->stride;
    int64_t D = n[2] / s[0], H = n[3] / s[1], W = n[4] / s[2];
    if (D * s[0] != n[2] || H * s[1] != n[3] || W * s[2] != n[4]) {
        ltx_err(LTX_ERR_INVALID_ARG, "space-to-depth (%d,%d,%d) of (%lld,%lld,%lld)", s[0], s[1],
                s[2], (long long)n[2], (long long)n[3], (long long)n[4]);
        return NULL;
    }
    /* view (B, C, p1, p2, p3, D, H, W) of x */
    int64_t vs[8] = {n[0], n[1], s[0], s[1], s[2], D, H, W};
    int64_t vst[8] = {st[0], st[1], st[2], st[3], st[4], s[0] * st[2], s[1] * st[3], s[2] * st[4]};
    int64_t out[5] = {n[0], n[1] * s[0] * s[1] * s[2], D, H, W};
    return materialise(be, ltx_vae_view(x, 8, vs, vst, 0), 5, out);
}

ltx_status ltx_vae_scatter(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x, int ndim,
                           const int64_t *shape, const int64_t *xst, int64_t xoff,
                           const int64_t *yst, int64_t yoff)
{
    ltx_tensor *xv = ltx_vae_view(x, ndim, shape, xst, xoff);
    ltx_tensor *yv = xv ? ltx_vae_view(y, ndim, shape, yst, yoff) : NULL;
    ltx_status s = yv ? be->ops->copy(be, yv, xv) : ltx_vae_failed_status();
    ltx_tensor_free(xv);
    ltx_tensor_free(yv);
    return s;
}

ltx_tensor *ltx_vae_d2s(ltx_backend *be, const ltx_tensor *x, const int *s, bool drop_first)
{
    const int64_t *n = x->shape, *st = x->stride;
    int64_t P = (int64_t)s[0] * s[1] * s[2], C = n[1] / P;
    int drop = drop_first ? 1 : 0;
    if (C * P != n[1] || n[2] * s[0] - drop < 1) {
        ltx_err(LTX_ERR_INVALID_ARG, "depth-to-space: %lld channels not divisible by %lld",
                (long long)n[1], (long long)P);
        return NULL;
    }
    int64_t out[5] = {n[0], C, n[2] * s[0] - drop, n[3] * s[1], n[4] * s[2]};
    ltx_tensor *y = ltx_tensor_new(be, LTX_F32, 5, out);
    if (!y) return NULL;
    const int64_t *yt = y->stride;
    /* channel = c·P + i1·p2·p3 + i2·p3 + i3 -> (t = d·p1 + i1 - drop, h·p2 + i2, w·p3 + i3).
     * One copy per temporal phase i1, iterating in the source's order (rows of W contiguous)
     * and scattering with stride p3: far faster than gathering 2-element rows. */
    for (int i1 = 0; i1 < s[0]; i1++) {
        int64_t d0 = i1 < drop ? 1 : 0; /* output frame -1 does not exist */
        if (n[2] - d0 < 1) continue;
        int64_t vs[7] = {n[0], C, s[1], s[2], n[2] - d0, n[3], n[4]};
        int64_t xs[7] = {st[0], P * st[1], s[2] * st[1], st[1], st[2], st[3], st[4]};
        int64_t ys[7] = {yt[0], yt[1], yt[3], yt[4], s[0] * yt[2], s[1] * yt[3], s[2] * yt[4]};
        int64_t xoff = (int64_t)i1 * s[1] * s[2] * st[1] + d0 * st[2];
        int64_t yoff = (d0 * s[0] + i1 - drop) * yt[2];
        if (ltx_vae_scatter(be, y, x, 7, vs, xs, xoff, ys, yoff) != LTX_OK) {
            ltx_tensor_free(y);
            return NULL;
        }
    }
    return y;
}

ltx_tensor *ltx_video_vae_patchify(ltx_backend *be, const ltx_tensor *x, int p)
{
    const int64_t *n = x->shape, *st = x->stride;
    int64_t H = n[3] / p, W = n[4] / p;
    /* ref: "b c (f p) (h q) (w r) -> b (c p r q) f h w": view (B, C, r, q, F, H, W) */
    int64_t vs[7] = {n[0], n[1], p, p, n[2], H, W};
    int64_t vst[7] = {st[0], st[1], st[4], st[3], st[2], p * st[3], p * st[4]};
    int64_t out[5] = {n[0], n[1] * p * p, n[2], H, W};
    return materialise(be, ltx_vae_view(x, 7, vs, vst, 0), 5, out);
}

ltx_tensor *ltx_video_vae_unpatchify(ltx_backend *be, const ltx_tensor *x, int p)
{
    const int64_t *n = x->shape, *st = x->stride;
    int64_t C = n[1] / (p * p);
    int64_t out[5] = {n[0], C, n[2], n[3] * p, n[4] * p};
    ltx_tensor *y = ltx_tensor_new(be, LTX_F32, 5, out);
    if (!y) return NULL;
    const int64_t *yt = y->stride;
    /* ref: "b (c p r q) f h w -> b c (f p) (h q) (w r)": source order (B, C, r, q, F, H, W),
     * scattered to (f, h·p + q, w·p + r) */
    int64_t vs[7] = {n[0], C, p, p, n[2], n[3], n[4]};
    int64_t xs[7] = {st[0], p * p * st[1], p * st[1], st[1], st[2], st[3], st[4]};
    int64_t ys[7] = {yt[0], yt[1], yt[4], yt[3], yt[2], p * yt[3], p * yt[4]};
    if (ltx_vae_scatter(be, y, x, 7, vs, xs, 0, ys, 0) != LTX_OK) {
        ltx_tensor_free(y);
        return NULL;
    }
    return y;
}
