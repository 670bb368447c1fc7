/*
 * upsampler.h — the LTX latent upsamplers (separate files, own flat metadata "config"):
 * spatial ×2 in the classic layout (Conv2d(mid→4·mid) + pixel shuffle 2, keys upsampler.0.*),
 * spatial ×2 / ×1.5 / ×0.75 / ×4 in the rational-resampler layout (Conv2d(mid→num²·mid) +
 * pixel shuffle num + 5×5 binomial blur with stride den, keys upsampler.conv.*,
 * upsampler.blur_down.kernel), temporal ×2 and spatio-temporal ×2 (Conv3d + shuffle, first
 * frame dropped), with dims 3 (Conv3d body) or 2 (everything per frame).
 *
 * Mirrors ltx_core/model/upsampler/ (model.py, model_configurator.py, res_block.py,
 * pixel_shuffle.py, spatial_rational_resampler.py, blur_downsample.py) at a2c3f24; spec
 * models.md §6. Config values the reference rejects fail at load with the key named: neither
 * spatial nor temporal upsampling, a rational scale outside {0.75, 1.5, 2, 4}, dims 2 combined
 * with the temporal or rational upsampler (the reference crashes in forward), widths
 * GroupNorm(32) cannot divide. Note: the classic layout always scales by 2 whatever
 * spatial_scale says (the reference ignores it there); ltx_latent_upsampler_spatial_scale()
 * reports the scale actually applied.
 *
 * Two-stage pipelines (spec §6.3) need an exact spatial ×2 without temporal change: stage 2's
 * latent grid is twice stage 1's and the upsampled latent must equal it in shape. A ×1.5 (or
 * any other) model would produce ceil(1.5·h) × ceil(1.5·w) and the reference dies on a shape
 * assertion; pipelines call ltx_latent_upsampler_check_two_stage() first and report its error.
 *
 * Numerics: f32 activations, weights converted to f32 at load; GroupNorm eps 1e-5.
 * Thread-safety: read-only after load.
 */
#ifndef LTX_MODELS_UPSAMPLER_H
#define LTX_MODELS_UPSAMPLER_H

#include "models/video_vae.h"

typedef struct ltx_upsampler_config {
    int in_channels;          /* 128 */
    int mid_channels;         /* 1024 for 2.3 (512 default) */
    int num_blocks_per_stage; /* 4 */
    int dims;                 /* 3 (Conv3d body) or 2 (per frame) */
    bool spatial_upsample, temporal_upsample, rational_resampler;
    double spatial_scale; /* as configured */
} ltx_upsampler_config;

/* Parses the upsampler file's flat "config" JSON (reference defaults for absent keys:
 * 128, 512, 4, 3, true, false, 2.0, false). */
ltx_status ltx_upsampler_config_parse(const char *json, ltx_upsampler_config *out);

typedef struct ltx_latent_upsampler ltx_latent_upsampler;

/* Builds from config + weight source (keys without prefix). Caller frees with _free. */
ltx_status ltx_latent_upsampler_create(ltx_backend *be, const ltx_upsampler_config *cfg,
                                       const ltx_weight_src *src, ltx_latent_upsampler **out);
/* From an upsampler .safetensors (its own metadata config). `st` may be closed afterwards. */
ltx_status ltx_latent_upsampler_load(ltx_backend *be, const ltx_st_file *st,
                                     ltx_latent_upsampler **out);
void ltx_latent_upsampler_free(ltx_latent_upsampler *u); /* NULL fine */
const ltx_upsampler_config *ltx_latent_upsampler_config(const ltx_latent_upsampler *u);

/* Spatial factor actually applied (2.0, 1.5, 0.75, 4.0; 1.0 without spatial upsampling) and the
 * temporal one (frames F' -> 2F' - 1 when 2). */
double ltx_latent_upsampler_spatial_scale(const ltx_latent_upsampler *u);
int ltx_latent_upsampler_temporal_scale(const ltx_latent_upsampler *u);
/* Output shape for an input latent shape (B, C, F', H', W'). */
void ltx_latent_upsampler_out_shape(const ltx_latent_upsampler *u, const int64_t in[5],
                                    int64_t out[5]);
/* LTX_OK when the model can serve the two-stage pipelines (exact spatial ×2, no temporal
 * change); else LTX_ERR_UNSUPPORTED with the reason (spec §6.3), never a shape crash later. */
ltx_status ltx_latent_upsampler_check_two_stage(const ltx_latent_upsampler *u);

/* LatentUpsampler.forward on an un-normalised latent (B, in_channels, F', H', W') -> *out.
 * Taps "ups.initial_conv", "ups.upsampler". */
ltx_status ltx_latent_upsampler_forward(const ltx_latent_upsampler *u, const ltx_tensor *latent,
                                        const ltx_taps *taps, ltx_tensor **out);
/* upsample_video: normalize(upsampler(un_normalize(latent))) with the VIDEO ENCODER's
 * per-channel statistics (ref: upsampler/model.py). */
ltx_status ltx_upsample_video(const ltx_latent_upsampler *u, const ltx_vae_stats *stats,
                              const ltx_tensor *latent, const ltx_taps *taps, ltx_tensor **out);

#endif
