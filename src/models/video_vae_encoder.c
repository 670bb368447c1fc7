/*
 * video_vae_encoder.c — VideoEncoder: patchify -> conv_in -> down_blocks -> norm -> SiLU ->
 * conv_out -> means (first latent_channels channels) -> per-channel normalise.
 *
 * ref: ltx_core/model/video_vae/video_vae.py (VideoEncoder, _make_encoder_block),
 *      sampling.py (SpaceToDepthDownsample); spec models.md §5.3.
 * All encoder convs are causal (first frame replicated twice in front), spatial padding per
 * config (default zeros). Tiling lives in video_vae_tiling.c.
 */
#include "models/video_vae_internal.h"
#include "nn/nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ltx_video_encoder {
    ltx_backend *be;
    ltx_video_vae_config cfg;
    ltx_vae_stats stats;
    vae_conv conv_in;
    int n_blocks;
    vae_block blocks[LTX_VAE_MAX_BLOCKS];
    vae_norm norm_out;
    vae_conv conv_out;
    int ft, fs; /* time / space compression */
};

static bool is_time(ltx_vae_block_kind k)
{
    return k == LTX_VAE_COMPRESS_TIME || k == LTX_VAE_COMPRESS_ALL ||
           k == LTX_VAE_COMPRESS_ALL_X_Y || k == LTX_VAE_COMPRESS_TIME_RES ||
           k == LTX_VAE_COMPRESS_ALL_RES;
}

static bool is_space(ltx_vae_block_kind k)
{
    return k == LTX_VAE_COMPRESS_SPACE || k == LTX_VAE_COMPRESS_ALL ||
           k == LTX_VAE_COMPRESS_ALL_X_Y || k == LTX_VAE_COMPRESS_SPACE_RES ||
           k == LTX_VAE_COMPRESS_ALL_RES;
}

/* Builds down_blocks.<i>; *feat is updated to the block's output width. */
static ltx_status enc_block_load(ltx_video_encoder *e, int i, const ltx_weight_src *src, int *feat)
{
    vae_block *b = &e->blocks[i];
    const ltx_vae_block_cfg *bc = &e->cfg.enc[i];
    char name[128];
    snprintf(name, sizeof name, "down_blocks.%d", i);
    b->cfg = *bc;
    b->cin = *feat;
    b->cout = *feat;
    b->s[0] = is_time(bc->kind) ? 2 : 1;
    b->s[1] = b->s[2] = is_space(bc->kind) ? 2 : 1;
    int P = b->s[0] * b->s[1] * b->s[2];
    switch (bc->kind) {
    case LTX_VAE_RES_X:
        b->n_res = bc->num_layers;
        b->res = calloc((size_t)(b->n_res > 0 ? b->n_res : 1), sizeof *b->res);
        if (!b->res) return ltx_err(LTX_ERR_OOM, "encoder blocks");
        for (int j = 0; j < b->n_res; j++) {
            char rn[160];
            snprintf(rn, sizeof rn, "%s.res_blocks.%d", name, j);
            LTX_TRY(ltx_vae_resblock_load(&b->res[j], src, e->be, rn, *feat, *feat,
                                          e->cfg.norm_layer, false, false));
        }
        break;
    case LTX_VAE_RES_X_Y:
        b->cout = *feat * bc->multiplier;
        b->n_res = 1;
        b->res = calloc(1, sizeof *b->res);
        if (!b->res) return ltx_err(LTX_ERR_OOM, "encoder blocks");
        LTX_TRY(ltx_vae_resblock_load(&b->res[0], src, e->be, name, b->cin, b->cout,
                                      e->cfg.norm_layer, false, false));
        break;
    case LTX_VAE_COMPRESS_TIME:
    case LTX_VAE_COMPRESS_SPACE:
    case LTX_VAE_COMPRESS_ALL:
    case LTX_VAE_COMPRESS_ALL_X_Y: {
        /* ref: the block is a strided CausalConv3d (keys down_blocks.i.conv.*) */
        if (bc->kind == LTX_VAE_COMPRESS_ALL_X_Y) b->cout = *feat * bc->multiplier;
        char cn[160];
        ltx_vae_key(cn, sizeof cn, name, ".conv");
        LTX_TRY(ltx_vae_conv_load(&b->conv, src, e->be, cn, b->cin, b->cout, b->s[0], b->s[1],
                                  b->s[2]));
        break;
    }
    default: { /* *_res: SpaceToDepthDownsample */
        b->cout = *feat * bc->multiplier;
        if (b->cout % P != 0 || ((int64_t)b->cin * P) % b->cout != 0)
            return ltx_err(LTX_ERR_UNSUPPORTED,
                           "%s: space-to-depth %d->%d channels with "
                           "factor %d does not divide",
                           name, b->cin, b->cout, P);
        b->group_size = b->cin * P / b->cout;
        char cn[160];
        ltx_vae_key(cn, sizeof cn, name, ".conv.conv");
        LTX_TRY(ltx_vae_conv_load(&b->conv, src, e->be, cn, b->cin, b->cout / P, 1, 1, 1));
        break;
    }
    }
    if (is_time(bc->kind)) e->ft *= 2;
    if (is_space(bc->kind)) e->fs *= 2;
    *feat = b->cout;
    return LTX_OK;
}

ltx_status ltx_video_encoder_create(ltx_backend *be, const ltx_video_vae_config *cfg,
                                    const ltx_weight_src *src, ltx_video_encoder **out)
{
    *out = NULL;
    ltx_video_encoder *e = calloc(1, sizeof *e);
    if (!e) return ltx_err(LTX_ERR_OOM, "video encoder");
    e->be = be;
    e->cfg = *cfg;
    e->ft = 1;
    e->fs = cfg->patch_size;
    ltx_status s;
    int feat = cfg->latent_channels, p = cfg->patch_size;
    /* ref: VideoEncoder.__init__ — conv_in maps in·p² channels to latent_channels */
    LTX_CHECK_GOTO(s,
                   ltx_vae_conv_load(&e->conv_in, src, be, "conv_in.conv", cfg->in_channels * p * p,
                                     feat, 1, 1, 1),
                   fail);
    for (int i = 0; i < cfg->n_enc; i++) {
        e->n_blocks = i + 1;
        LTX_CHECK_GOTO(s, enc_block_load(e, i, src, &feat), fail);
    }
    LTX_CHECK_GOTO(
        s,
        ltx_vae_norm_init(&e->norm_out, cfg->norm_layer, 32, 1e-6f, feat, src, be, "conv_norm_out"),
        fail);
    int n_out = cfg->latent_channels;
    if (cfg->latent_log_var == LTX_VAE_LOGVAR_PER_CHANNEL)
        n_out *= 2;
    else
        n_out += 1; /* uniform / constant: one shared log-variance channel */
    LTX_CHECK_GOTO(
        s, ltx_vae_conv_load(&e->conv_out, src, be, "conv_out.conv", feat, n_out, 1, 1, 1), fail);
    LTX_CHECK_GOTO(s, ltx_vae_stats_load(&e->stats, be, src, cfg->latent_channels), fail);
    *out = e;
    return LTX_OK;
fail:
    ltx_video_encoder_free(e);
    return ltx_err_context(s, "video encoder: ");
}

void ltx_video_encoder_free(ltx_video_encoder *e)
{
    if (!e) return;
    ltx_vae_conv_release(&e->conv_in);
    for (int i = 0; i < e->n_blocks; i++)
        ltx_vae_block_release(&e->blocks[i]);
    ltx_vae_norm_release(&e->norm_out);
    ltx_vae_conv_release(&e->conv_out);
    ltx_vae_stats_release(&e->stats);
    free(e);
}

const ltx_vae_stats *ltx_video_encoder_stats(const ltx_video_encoder *e)
{
    return &e->stats;
}

void ltx_video_encoder_factors(const ltx_video_encoder *e, int *time, int *space)
{
    *time = e->ft;
    *space = e->fs;
}

ltx_status ltx_video_encoder_load(ltx_backend *be, const ltx_st_file *st, ltx_video_encoder **out)
{
    ltx_video_vae_config cfg;
    LTX_TRY(ltx_video_vae_config_parse(ltx_st_metadata(st, "config"), &cfg));
    ltx_st_weight_src body;
    ltx_weight_src src = ltx_st_weight_src_init(&body, st, "vae.encoder.");
    snprintf(body.stats_prefix, sizeof body.stats_prefix, "vae."); /* ref: SDOps renaming */
    return ltx_video_encoder_create(be, &cfg, &src, out);
}

ltx_tensor *ltx_video_encoder_crop_frames(const ltx_video_encoder *e, const ltx_tensor *video,
                                          int64_t *dropped)
{
    if (video->ndim != 5 || video->shape[2] < 1) {
        ltx_err(LTX_ERR_INVALID_ARG, "crop: video must be (B, C, F, H, W) with F >= 1");
        return NULL;
    }
    int64_t F = video->shape[2], drop = (F - 1) % e->ft; /* ref: frames_to_crop */
    if (dropped) *dropped = drop;
    return ltx_tensor_slice(video, 2, 0, F - drop, 1);
}

/* SpaceToDepthDownsample.forward (ref: sampling.py). */
static ltx_tensor *s2d_block(const vae_run *run, const vae_block *b, const ltx_tensor *x)
{
    ltx_backend *be = run->be;
    ltx_tensor *xp = NULL, *skip = NULL, *mean = NULL, *h = NULL, *hs = NULL, *y = NULL;
    const ltx_tensor *xin = x;
    if (b->s[0] == 2) { /* duplicate the first frame in front */
        int pads[10] = {0, 0, 0, 0, 1, 0, 0, 0, 0, 0};
        if (!(xp = ltx_nn_pad(be, x, pads, LTX_PAD_REPLICATE, 0.0))) goto done;
        xin = xp;
    }
    if (!(skip = ltx_vae_s2d(be, xin, b->s))) goto done; /* (B, cin·P, D, H, W) */
    {
        /* mean over consecutive groups of group_size channels -> (B, cout, D, H, W) */
        const int64_t *n = skip->shape;
        int64_t g6[6] = {n[0], b->cout, b->group_size, n[2], n[3], n[4]};
        int64_t m6[6] = {n[0], b->cout, 1, n[2], n[3], n[4]};
        int64_t m5[5] = {n[0], b->cout, n[2], n[3], n[4]};
        ltx_tensor *sv = ltx_tensor_reshape(skip, 6, g6);
        ltx_tensor *m = sv ? ltx_tensor_new(be, LTX_F32, 6, m6) : NULL;
        ltx_status s = m ? be->ops->reduce(be, LTX_REDUCE_MEAN, m, sv, 2) : ltx_err_failed();
        ltx_tensor_free(sv);
        if (s == LTX_OK) mean = ltx_tensor_reshape(m, 5, m5);
        ltx_tensor_free(m);
        if (!mean) goto done;
    }
    if (!(h = ltx_vae_causal_conv(run, &b->conv, xin))) goto done;
    if (!(hs = ltx_vae_s2d(be, h, b->s))) goto done;
    y = ltx_nn_binary(be, LTX_BINARY_ADD, hs, mean);
done:
    ltx_tensor_free(xp);
    ltx_tensor_free(skip);
    ltx_tensor_free(mean);
    ltx_tensor_free(h);
    ltx_tensor_free(hs);
    return y;
}

static ltx_tensor *enc_block_fwd(const vae_run *run, const vae_block *b, const ltx_tensor *x)
{
    switch (b->cfg.kind) {
    case LTX_VAE_RES_X:
    case LTX_VAE_RES_X_Y: {
        if (b->n_res == 0) return ltx_tensor_view(x); /* num_layers 0: identity */
        ltx_tensor *h = ltx_vae_resblock_fwd(run, &b->res[0], x, NULL);
        for (int j = 1; h && j < b->n_res; j++) {
            ltx_tensor *n = ltx_vae_resblock_fwd(run, &b->res[j], h, NULL);
            ltx_tensor_free(h);
            h = n;
        }
        return h;
    }
    case LTX_VAE_COMPRESS_TIME:
    case LTX_VAE_COMPRESS_SPACE:
    case LTX_VAE_COMPRESS_ALL:
    case LTX_VAE_COMPRESS_ALL_X_Y:
        return ltx_vae_causal_conv(run, &b->conv, x);
    default:
        return s2d_block(run, b, x);
    }
}

ltx_status ltx_video_encoder_forward(const ltx_video_encoder *e, const ltx_tensor *video,
                                     const ltx_taps *taps, ltx_tensor **out)
{
    *out = NULL;
    ltx_backend *be = e->be;
    const ltx_video_vae_config *c = &e->cfg;
    if (video->ndim != 5 || video->shape[1] != c->in_channels)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "video encoder: input must be (B, %d, F, H, W), got "
                       "rank %d with %lld channels",
                       c->in_channels, video->ndim,
                       video->ndim > 1 ? (long long)video->shape[1] : 0LL);
    int64_t F = video->shape[2], H = video->shape[3], W = video->shape[4];
    if (F < 1 || (F - 1) % e->ft != 0)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "video encoder: %lld frames is not 1 + %d·k "
                       "(crop the clip first; the reference crops with a warning)",
                       (long long)F, e->ft);
    if (H < e->fs || W < e->fs || H % e->fs || W % e->fs)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "video encoder: frame size %lldx%lld (HxW) is not "
                       "a positive multiple of %d",
                       (long long)H, (long long)W, e->fs);
    vae_run run = {.be = be, .pad = c->enc_padding, .causal = true, .batch = (int)video->shape[0]};
    ltx_tensor *x = ltx_video_vae_patchify(be, video, c->patch_size), *y = NULL;
    if (!x) return ltx_vae_failed_status();
    ltx_tensor *n = ltx_vae_causal_conv(&run, &e->conv_in, x);
    ltx_tensor_free(x);
    x = n;
    if (!x) goto fail;
    if (taps && x->shape[2] >= 2) {
        ltx_tensor *v = ltx_tensor_slice(x, 2, 0, 2, 1);
        ltx_tap(taps, "enc.conv_in.first2frames", v);
        ltx_tensor_free(v);
    }
    for (int i = 0; i < e->n_blocks; i++) {
        n = enc_block_fwd(&run, &e->blocks[i], x);
        ltx_tensor_free(x);
        x = n;
        if (!x) goto fail;
        char tn[64];
        snprintf(tn, sizeof tn, "enc.down_blocks.%d", i);
        ltx_tap(taps, tn, x);
        if (taps && i == 0 && x->shape[2] >= 2) {
            ltx_tensor *v = ltx_tensor_slice(x, 2, 0, 2, 1);
            ltx_tap(taps, "enc.down_blocks.0.first2frames", v);
            ltx_tensor_free(v);
        }
    }
    n = ltx_vae_norm_fwd(be, &e->norm_out, x);
    ltx_tensor_free(x);
    x = n ? ltx_vae_silu(be, n) : NULL;
    ltx_tensor_free(n);
    if (!x) goto fail;
    n = ltx_vae_causal_conv(&run, &e->conv_out, x);
    ltx_tensor_free(x);
    x = n;
    if (!x) goto fail;
    ltx_tap(taps, "enc.conv_out", x);
    {
        /* ref: every log-var mode keeps the first latent_channels channels as the means */
        ltx_tensor *means = ltx_tensor_slice(x, 1, 0, c->latent_channels, 1);
        y = means ? ltx_vae_normalize(be, &e->stats, means) : NULL;
        ltx_tensor_free(means);
    }
    ltx_tensor_free(x);
    if (!y) return ltx_vae_failed_status();
    *out = y;
    return LTX_OK;
fail:
    return ltx_err_context(ltx_vae_failed_status(), "video encoder: ");
}
