/*
 * video_vae_decoder.c — VideoDecoder: [decode noise] -> un-normalise -> conv_in -> up_blocks
 * (config list reversed) -> norm [-> AdaLN] -> SiLU -> conv_out -> unpatchify.
 *
 * ref: ltx_core/model/video_vae/video_vae.py (VideoDecoder.forward, _make_decoder_block),
 *      sampling.py (DepthToSpaceUpsample), resnet.py (UNetMidBlock3D time embedder);
 *      spec models.md §5.4. Tiled decode: video_vae_tiling.c.
 * Temporal padding is symmetric replicate unless causal_decoder; spatial padding per config
 * (default reflect). Timestep conditioning (off for 2.3) follows the reference exactly:
 * t_scaled = t · timestep_scale_multiplier, per-res_x time embedder of width 4C feeding
 * (shift1, scale1, shift2, scale2) and a last embedder of width 2C for the output norm.
 */
#include "models/video_vae_internal.h"
#include "nn/nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ltx_video_decoder {
    ltx_backend *be;
    ltx_video_vae_config cfg;
    ltx_vae_stats stats;
    vae_conv conv_in;
    int n_blocks;
    vae_block blocks[LTX_VAE_MAX_BLOCKS]; /* up_blocks in execution order */
    vae_norm norm_out;
    vae_conv conv_out;
    /* timestep conditioning */
    float ts_mult;
    vae_temb last_temb;
    ltx_tensor *last_sst; /* (2, C) */
    bool needs_rng;       /* decode noise or inject_noise */
    int ft, fs;
};

/* Builds up_blocks.<i> from config entry `bc`; *feat becomes the block's output width. */
static ltx_status dec_block_load(ltx_video_decoder *d, int i, const ltx_vae_block_cfg *bc,
                                 const ltx_weight_src *src, int *feat)
{
    vae_block *b = &d->blocks[i];
    bool tc = d->cfg.timestep_conditioning;
    char name[128];
    snprintf(name, sizeof name, "up_blocks.%d", i);
    b->cfg = *bc;
    b->cin = b->cout = *feat;
    switch (bc->kind) {
    case LTX_VAE_RES_X:
        b->n_res = bc->num_layers;
        b->res = calloc((size_t)(b->n_res > 0 ? b->n_res : 1), sizeof *b->res);
        if (!b->res) return ltx_err(LTX_ERR_OOM, "decoder blocks");
        for (int j = 0; j < b->n_res; j++) {
            char rn[160];
            snprintf(rn, sizeof rn, "%s.res_blocks.%d", name, j);
            LTX_TRY(ltx_vae_resblock_load(&b->res[j], src, d->be, rn, *feat, *feat,
                                          d->cfg.norm_layer, bc->inject_noise, tc));
        }
        if (tc) {
            char tn[160];
            ltx_vae_key(tn, sizeof tn, name, ".time_embedder");
            LTX_TRY(ltx_vae_temb_load(&b->temb, src, d->be, tn, 4 * *feat));
            b->has_temb = true;
        }
        if (bc->inject_noise && b->n_res > 0) d->needs_rng = true;
        break;
    case LTX_VAE_RES_X_Y:
        /* ref: out = in // multiplier; never timestep conditioned */
        b->cout = *feat / bc->multiplier;
        if (b->cout < 1)
            return ltx_err(LTX_ERR_UNSUPPORTED, "%s: width %d / %d", name, *feat, bc->multiplier);
        b->n_res = 1;
        b->res = calloc(1, sizeof *b->res);
        if (!b->res) return ltx_err(LTX_ERR_OOM, "decoder blocks");
        LTX_TRY(ltx_vae_resblock_load(&b->res[0], src, d->be, name, b->cin, b->cout,
                                      d->cfg.norm_layer, bc->inject_noise, false));
        if (bc->inject_noise) d->needs_rng = true;
        break;
    default: { /* compress_time / compress_space / compress_all: DepthToSpaceUpsample */
        b->s[0] = bc->kind == LTX_VAE_COMPRESS_SPACE ? 1 : 2;
        b->s[1] = b->s[2] = bc->kind == LTX_VAE_COMPRESS_TIME ? 1 : 2;
        int P = b->s[0] * b->s[1] * b->s[2];
        b->reduction = bc->multiplier;
        if (*feat % bc->multiplier != 0)
            return ltx_err(LTX_ERR_UNSUPPORTED, "%s: %d channels not divisible by multiplier %d",
                           name, *feat, bc->multiplier);
        b->cout = *feat / bc->multiplier;
        char cn[160];
        ltx_vae_key(cn, sizeof cn, name, ".conv.conv");
        LTX_TRY(ltx_vae_conv_load(&b->conv, src, d->be, cn, *feat, P * b->cout, 1, 1, 1));
        if (b->s[0] == 2) d->ft *= 2;
        if (b->s[1] == 2) d->fs *= 2;
        break;
    }
    }
    *feat = b->cout;
    return LTX_OK;
}

ltx_status ltx_video_decoder_create(ltx_backend *be, const ltx_video_vae_config *cfg,
                                    const ltx_weight_src *src, ltx_video_decoder **out)
{
    *out = NULL;
    ltx_video_decoder *d = calloc(1, sizeof *d);
    if (!d) return ltx_err(LTX_ERR_OOM, "video decoder");
    d->be = be;
    d->cfg = *cfg;
    d->ft = 1;
    d->fs = cfg->patch_size;
    d->needs_rng = cfg->timestep_conditioning;
    ltx_status s;
    /* ref: feature_channels = base_channels · 8 (three ×2 upsamplers) */
    int feat = cfg->decoder_base_channels * 8;
    LTX_CHECK_GOTO(s,
                   ltx_vae_conv_load(&d->conv_in, src, be, "conv_in.conv", cfg->latent_channels,
                                     feat, 1, 1, 1),
                   fail);
    for (int i = 0; i < cfg->n_dec; i++) {
        d->n_blocks = i + 1;
        LTX_CHECK_GOTO(s, dec_block_load(d, i, &cfg->dec[cfg->n_dec - 1 - i], src, &feat), fail);
    }
    LTX_CHECK_GOTO(
        s,
        ltx_vae_norm_init(&d->norm_out, cfg->norm_layer, 32, 1e-6f, feat, src, be, "conv_norm_out"),
        fail);
    int p = cfg->patch_size;
    LTX_CHECK_GOTO(s,
                   ltx_vae_conv_load(&d->conv_out, src, be, "conv_out.conv", feat,
                                     cfg->out_channels * p * p, 1, 1, 1),
                   fail);
    if (cfg->timestep_conditioning) {
        ltx_tensor *m = ltx_vae_weight(src, be, "timestep_scale_multiplier", 0);
        s = m ? ltx_tensor_download(m, &d->ts_mult, LTX_F32) : ltx_err_failed();
        ltx_tensor_free(m);
        if (s != LTX_OK) goto fail;
        LTX_CHECK_GOTO(s, ltx_vae_temb_load(&d->last_temb, src, be, "last_time_embedder", 2 * feat),
                       fail);
        d->last_sst = ltx_vae_weight(src, be, "last_scale_shift_table", 2, 2, feat);
        if (!d->last_sst) {
            s = ltx_err_failed();
            goto fail;
        }
    }
    LTX_CHECK_GOTO(s, ltx_vae_stats_load(&d->stats, be, src, cfg->latent_channels), fail);
    *out = d;
    return LTX_OK;
fail:
    ltx_video_decoder_free(d);
    return ltx_err_context(s, "video decoder: ");
}

void ltx_video_decoder_free(ltx_video_decoder *d)
{
    if (!d) return;
    ltx_vae_conv_release(&d->conv_in);
    for (int i = 0; i < d->n_blocks; i++)
        ltx_vae_block_release(&d->blocks[i]);
    ltx_vae_norm_release(&d->norm_out);
    ltx_vae_conv_release(&d->conv_out);
    ltx_vae_temb_release(&d->last_temb);
    ltx_tensor_free(d->last_sst);
    ltx_vae_stats_release(&d->stats);
    free(d);
}

const ltx_vae_stats *ltx_video_decoder_stats(const ltx_video_decoder *d)
{
    return &d->stats;
}

ltx_status ltx_video_decoder_load(ltx_backend *be, const ltx_st_file *st, ltx_video_decoder **out)
{
    ltx_video_vae_config cfg;
    LTX_TRY(ltx_video_vae_config_parse(ltx_st_metadata(st, "config"), &cfg));
    ltx_st_weight_src body;
    ltx_weight_src src = ltx_st_weight_src_init(&body, st, "vae.decoder.");
    snprintf(body.stats_prefix, sizeof body.stats_prefix, "vae."); /* ref: SDOps renaming */
    return ltx_video_decoder_create(be, &cfg, &src, out);
}

/* Internal accessor for the tiling code (video_vae_internal.h). */
void ltx_vae_decoder_factors(const ltx_video_decoder *d, int *time, int *space, int *out_ch)
{
    *time = d->ft;
    *space = d->fs;
    *out_ch = d->cfg.out_channels;
}

/* DepthToSpaceUpsample.forward (ref: sampling.py). */
static ltx_tensor *d2s_block(const vae_run *run, const vae_block *b, const ltx_tensor *x)
{
    ltx_backend *be = run->be;
    bool drop = b->s[0] == 2;
    ltx_tensor *xin = NULL, *h = NULL, *y = NULL;
    if (b->cfg.residual && !(xin = ltx_vae_d2s(be, x, b->s, drop))) return NULL;
    h = ltx_vae_causal_conv(run, &b->conv, x);
    y = h ? ltx_vae_d2s(be, h, b->s, drop) : NULL;
    ltx_tensor_free(h);
    if (y && xin) {
        /* ref: x_in.repeat(1, prod(s)/m, 1, 1, 1): output channel j reads x_in[j mod C'] */
        const int64_t *n = y->shape;
        int64_t Cp = xin->shape[1], R = n[1] / Cp;
        int64_t s6[6] = {n[0], R, Cp, n[2], n[3], n[4]};
        int64_t st6[6] = {xin->stride[0], 0, xin->stride[1], xin->stride[2], xin->stride[3],
                          xin->stride[4]};
        ltx_tensor *yv = ltx_tensor_reshape(y, 6, s6);
        ltx_tensor *xv = ltx_vae_view(xin, 6, s6, st6, 0);
        ltx_status s = (yv && xv && R * Cp == n[1])
                           ? be->ops->binary(be, LTX_BINARY_ADD, yv, yv, xv)
                           : ltx_err(LTX_ERR_INTERNAL, "residual depth-to-space widths");
        ltx_tensor_free(yv);
        ltx_tensor_free(xv);
        if (s != LTX_OK) {
            ltx_tensor_free(y);
            y = NULL;
        }
    }
    ltx_tensor_free(xin);
    return y;
}

static ltx_tensor *dec_block_fwd(const vae_run *run, const vae_block *b, const ltx_tensor *x)
{
    if (b->cfg.kind != LTX_VAE_RES_X && b->cfg.kind != LTX_VAE_RES_X_Y) return d2s_block(run, b, x);
    if (b->n_res == 0) return ltx_tensor_view(x);
    ltx_tensor *temb = NULL;
    if (b->has_temb) { /* ref: UNetMidBlock3D — one embedding per block forward */
        temb = ltx_vae_temb_fwd(run->be, &b->temb, run->ts_scaled, run->batch);
        if (!temb) return NULL;
    }
    ltx_tensor *h = ltx_vae_resblock_fwd(run, &b->res[0], x, temb);
    for (int j = 1; h && j < b->n_res; j++) {
        ltx_tensor *n = ltx_vae_resblock_fwd(run, &b->res[j], h, temb);
        ltx_tensor_free(h);
        h = n;
    }
    ltx_tensor_free(temb);
    return h;
}

/* x <- 0.025·randn(x.shape) + 0.975·x (ref: VideoDecoder.forward, decode_noise_scale). */
static ltx_tensor *decode_noise(const vae_run *run, const ltx_tensor *x)
{
    int64_t n = ltx_tensor_numel(x);
    float *buf = malloc(sizeof(float) * (size_t)n);
    if (!buf) {
        ltx_err(LTX_ERR_OOM, "decode noise");
        return NULL;
    }
    ltx_status s = ltx_rng_randn_f32(run->rng, buf, n);
    ltx_tensor *nz =
        s == LTX_OK ? ltx_tensor_from_host(run->be, LTX_F32, x->ndim, x->shape, buf) : NULL;
    free(buf);
    if (!nz) return NULL;
    ltx_tensor *y = ltx_tensor_new(run->be, LTX_F32, x->ndim, x->shape);
    s = y ? run->be->ops->axpby(run->be, y, 0.025, nz, 1.0 - 0.025, x) : ltx_err_failed();
    ltx_tensor_free(nz);
    if (s != LTX_OK) {
        ltx_tensor_free(y);
        return NULL;
    }
    return y;
}

/* x·(1 + scale) + shift after conv_norm_out, from the last time embedder
 * (ref: ada = last_scale_shift_table + emb.reshape(B, 2, C)). */
static ltx_tensor *last_adaln(const ltx_video_decoder *d, const ltx_tensor *x, const float *ts,
                              int B)
{
    ltx_backend *be = d->be;
    ltx_tensor *e = ltx_vae_temb_fwd(be, &d->last_temb, ts, B), *ada = NULL, *y = NULL;
    if (e) {
        int64_t C = d->last_sst->shape[1];
        int64_t sh[3] = {B, 2, C}, st[3] = {2 * C, C, 1};
        ltx_tensor *ev = ltx_vae_view(e, 3, sh, st, 0);
        ada = ev ? ltx_nn_binary(be, LTX_BINARY_ADD, ev, d->last_sst) : NULL;
        ltx_tensor_free(ev);
    }
    y = ada ? ltx_vae_modulate(be, x, ada, 0) : NULL;
    ltx_tensor_free(e);
    ltx_tensor_free(ada);
    return y;
}

ltx_status ltx_video_decoder_forward(const ltx_video_decoder *d, const ltx_tensor *latent,
                                     const ltx_vae_decode_opts *opts, const ltx_taps *taps,
                                     ltx_tensor **out)
{
    *out = NULL;
    ltx_backend *be = d->be;
    const ltx_video_vae_config *c = &d->cfg;
    if (latent->ndim != 5 || latent->shape[1] != c->latent_channels)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "video decoder: latent must be (B, %d, F', H', W'), "
                       "got rank %d with %lld channels",
                       c->latent_channels, latent->ndim,
                       latent->ndim > 1 ? (long long)latent->shape[1] : 0LL);
    for (int i = 0; i < 5; i++)
        if (latent->shape[i] < 1)
            return ltx_err(LTX_ERR_INVALID_ARG, "video decoder: empty latent dim %d", i);
    ltx_rng *rng = opts ? opts->rng : NULL;
    if (d->needs_rng && !rng)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "video decoder: this config draws noise "
                       "(timestep_conditioning / inject_noise); pass the pipeline generator as "
                       "opts.rng");
    int B = (int)latent->shape[0];
    float *ts = NULL;
    if (c->timestep_conditioning) {
        ts = malloc(sizeof(float) * (size_t)B);
        if (!ts) return ltx_err(LTX_ERR_OOM, "timesteps");
        for (int b = 0; b < B; b++) /* ref: default decode_timestep 0.05 */
            ts[b] = (opts && opts->timestep ? opts->timestep[b] : 0.05f) * d->ts_mult;
    }
    vae_run run = {.be = be,
                   .pad = c->dec_padding,
                   .causal = c->causal_decoder,
                   .rng = rng,
                   .ts_scaled = ts,
                   .batch = B};
    ltx_tensor *x = NULL, *n = NULL;
    if (c->timestep_conditioning) {
        if (!(n = decode_noise(&run, latent))) goto fail;
        x = ltx_vae_un_normalize(be, &d->stats, n);
        ltx_tensor_free(n);
    } else {
        x = ltx_vae_un_normalize(be, &d->stats, latent);
    }
    if (!x) goto fail;
    n = ltx_vae_causal_conv(&run, &d->conv_in, x);
    ltx_tensor_free(x);
    if (!(x = n)) goto fail;
    ltx_tap(taps, "dec.conv_in", x);
    for (int i = 0; i < d->n_blocks; i++) {
        n = dec_block_fwd(&run, &d->blocks[i], x);
        ltx_tensor_free(x);
        if (!(x = n)) goto fail;
        char tn[64];
        snprintf(tn, sizeof tn, "dec.up_blocks.%d", i);
        ltx_tap(taps, tn, x);
    }
    n = ltx_vae_norm_fwd(be, &d->norm_out, x);
    ltx_tensor_free(x);
    if (!(x = n)) goto fail;
    if (c->timestep_conditioning) {
        n = last_adaln(d, x, ts, B);
        ltx_tensor_free(x);
        if (!(x = n)) goto fail;
    }
    n = ltx_vae_silu(be, x);
    ltx_tensor_free(x);
    if (!(x = n)) goto fail;
    n = ltx_vae_causal_conv(&run, &d->conv_out, x);
    ltx_tensor_free(x);
    if (!(x = n)) goto fail;
    ltx_tap(taps, "dec.conv_out", x);
    n = ltx_video_vae_unpatchify(be, x, c->patch_size);
    ltx_tensor_free(x);
    if (!n) goto fail;
    free(ts);
    *out = n;
    return LTX_OK;
fail:
    free(ts);
    return ltx_err_context(ltx_vae_failed_status(), "video decoder: ");
}
