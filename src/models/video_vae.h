/*
 * video_vae.h — the LTX-2.3 video VAE: encoder (pixels -> normalised 128-channel latent),
 * decoder (latent -> pixels), per-channel latent statistics, and the reference's tiled /
 * temporally chunked decode and encode.
 *
 * Mirrors ltx_core/model/video_vae/ (video_vae.py, resnet.py, sampling.py, convolution.py,
 * ops.py, model_configurator.py, tiling.py) and ltx_core/tiling.py at a2c3f24; spec
 * models.md §5. Every option the reference configurators accept is implemented:
 *   blocks    encoder: res_x, res_x_y, compress_time, compress_space, compress_all,
 *                      compress_all_x_y, compress_time_res, compress_space_res,
 *                      compress_all_res
 *             decoder: res_x (inject_noise), res_x_y (multiplier, inject_noise), compress_time,
 *                      compress_space, compress_all (multiplier, residual)
 *   norm_layer pixel_norm | group_norm (32 groups, eps 1e-6)
 *   latent_log_var uniform | per_channel | constant
 *   spatial_padding_mode zeros | reflect | replicate | circular (defaults: encoder zeros,
 *             decoder reflect — the configurators' defaults differ!)
 *   causal_decoder, timestep_conditioning (decode noise + AdaLN of every res block and of the
 *             output norm; default TRUE when the key is absent, as in the reference)
 * Values the reference itself rejects (or crashes on at run time) fail with
 * LTX_ERR_UNSUPPORTED / LTX_ERR_FORMAT and a message naming the key: dims other than 3
 * (the 2-D / (2,1) paths cannot run the causal convs), "attn_res_x" (the reference passes an
 * argument UNetMidBlock3D does not take), latent_log_var "none" (its 128->64 chunk cannot be
 * normalised), inject_noise on a width-changing res_x_y (per_channel_scale has the input width),
 * widths that GroupNorm(32) or the (de)shuffles cannot divide.
 *
 * Randomness (decoder only): with timestep_conditioning the decoder draws
 * randn(latent.shape) once per forward (x <- 0.025·ε + 0.975·x before un-normalising), and every
 * res block with inject_noise draws randn(H, W) after conv1 and after conv2. The reference takes
 * these from the pipeline's torch.Generator (the one that drew the initial noise, continuing its
 * stream); callers pass that generator as `rng` (an ltx_rng from core/rng.h) and the draws
 * happen in the reference's order (tile by tile for tiled decode). A decoder that needs draws
 * and gets rng == NULL fails with LTX_ERR_INVALID_ARG. The 2.3 config has both features off.
 *
 * Numerics: float32 activations; weights of any stored dtype are converted to f32 once at load
 * (bf16 upcast is exact). All compute goes through backend ops (conv, pad, norm, ...), so the
 * code runs on every backend, including "cpu-restricted" (no host pointers).
 *
 * Thread-safety: an encoder/decoder is read-only after creation; concurrent forwards on the
 * same object are fine as long as each call has its own rng.
 */
#ifndef LTX_MODELS_VIDEO_VAE_H
#define LTX_MODELS_VIDEO_VAE_H

#include "backend/backend.h"
#include "core/rng.h"
#include "core/tap.h"
#include "io/safetensors.h"

#include <stdbool.h>

/* ---- weights ---------------------------------------------------------------------------- */

/* Supplies one parameter by its name inside the component (the reference's state-dict name,
 * e.g. "up_blocks.0.res_blocks.0.conv1.conv.weight") with the shape the model expects, as a
 * new f32 tensor on `be` (the caller of the source frees it). NULL + error when missing or of
 * another shape. Lets tests build models from random weights without a file. */
typedef struct ltx_weight_src {
    ltx_tensor *(*get)(void *user, ltx_backend *be, const char *name, int ndim,
                       const int64_t *shape);
    void *user;
} ltx_weight_src;

/* A source over a safetensors file: name -> prefix + name, shape checked, converted to f32.
 * Names starting "per_channel_statistics." take stats_prefix instead (the reference's SDOps map
 * "vae.per_channel_statistics." into both VAE halves); init sets it equal to `prefix`.
 * `st` must stay valid while the source is used; prefixes are copied (max 127 chars). */
typedef struct ltx_st_weight_src {
    const ltx_st_file *st;
    char prefix[128];
    char stats_prefix[128];
} ltx_st_weight_src;
ltx_weight_src ltx_st_weight_src_init(ltx_st_weight_src *s, const ltx_st_file *st,
                                      const char *prefix);

/* ---- config ------------------------------------------------------------------------------ */

typedef enum ltx_vae_block_kind {
    LTX_VAE_RES_X,
    LTX_VAE_RES_X_Y,
    LTX_VAE_COMPRESS_TIME,
    LTX_VAE_COMPRESS_SPACE,
    LTX_VAE_COMPRESS_ALL,
    LTX_VAE_COMPRESS_ALL_X_Y,   /* encoder only */
    LTX_VAE_COMPRESS_TIME_RES,  /* encoder only (SpaceToDepthDownsample) */
    LTX_VAE_COMPRESS_SPACE_RES, /* encoder only */
    LTX_VAE_COMPRESS_ALL_RES,   /* encoder only */
} ltx_vae_block_kind;

typedef struct ltx_vae_block_cfg {
    ltx_vae_block_kind kind;
    int num_layers;    /* res_x */
    int multiplier;    /* res_x_y, compress_*_x_y / _res (encoder: x mult), decoder: / mult */
    bool inject_noise; /* decoder res_x */
    bool residual;     /* decoder compress_all */
} ltx_vae_block_cfg;

typedef enum ltx_vae_norm_kind { LTX_VAE_PIXEL_NORM, LTX_VAE_GROUP_NORM } ltx_vae_norm_kind;
typedef enum ltx_vae_logvar {
    LTX_VAE_LOGVAR_UNIFORM,
    LTX_VAE_LOGVAR_PER_CHANNEL,
    LTX_VAE_LOGVAR_CONSTANT
} ltx_vae_logvar;

#define LTX_VAE_MAX_BLOCKS 32

typedef struct ltx_video_vae_config {
    int in_channels;     /* encoder input (RGB 3) */
    int out_channels;    /* decoder output (3) */
    int latent_channels; /* 128 */
    int patch_size;      /* 4 */
    ltx_vae_norm_kind norm_layer;
    ltx_vae_logvar latent_log_var;
    ltx_pad_mode enc_padding; /* spatial padding of every encoder conv */
    ltx_pad_mode dec_padding; /* spatial padding of every decoder conv */
    bool causal_decoder;
    bool timestep_conditioning;
    int decoder_base_channels;
    int n_enc, n_dec;
    ltx_vae_block_cfg enc[LTX_VAE_MAX_BLOCKS]; /* as listed */
    ltx_vae_block_cfg dec[LTX_VAE_MAX_BLOCKS]; /* as listed (the decoder builds them reversed) */
} ltx_video_vae_config;

/* Parses the checkpoint's metadata "config" JSON text (reads its "vae" object; absent keys take
 * the reference configurators' defaults). LTX_ERR_FORMAT / LTX_ERR_UNSUPPORTED with the key
 * named on a value the reference rejects. */
ltx_status ltx_video_vae_config_parse(const char *config_json, ltx_video_vae_config *out);

/* ---- per-channel statistics (vae.per_channel_statistics.*) ------------------------------- */

typedef struct ltx_vae_stats {
    ltx_tensor *mean; /* (C) "mean-of-means" */
    ltx_tensor *std;  /* (C) "std-of-means" */
} ltx_vae_stats;

/* Loads "<prefix>mean-of-means" / "<prefix>std-of-means" (prefix normally
 * "per_channel_statistics." through a source whose own prefix is "vae."). */
ltx_status ltx_vae_stats_load(ltx_vae_stats *st, ltx_backend *be, const ltx_weight_src *src,
                              int channels);
void ltx_vae_stats_release(ltx_vae_stats *st); /* frees the tensors; NULL fields are fine */
/* (x - mean_c) / std_c and x * std_c + mean_c for x (B, C, ...); new tensors, NULL + error. */
ltx_tensor *ltx_vae_normalize(ltx_backend *be, const ltx_vae_stats *st, const ltx_tensor *x);
ltx_tensor *ltx_vae_un_normalize(ltx_backend *be, const ltx_vae_stats *st, const ltx_tensor *x);

/* ---- encoder / decoder ------------------------------------------------------------------- */

typedef struct ltx_video_encoder ltx_video_encoder;
typedef struct ltx_video_decoder ltx_video_decoder;

/* Builds from a config and a weight source (every parameter must be supplied). The returned
 * object owns its f32 weights; free with the matching _free (NULL fine). */
ltx_status ltx_video_encoder_create(ltx_backend *be, const ltx_video_vae_config *cfg,
                                    const ltx_weight_src *src, ltx_video_encoder **out);
ltx_status ltx_video_decoder_create(ltx_backend *be, const ltx_video_vae_config *cfg,
                                    const ltx_weight_src *src, ltx_video_decoder **out);
/* From the main checkpoint: parses metadata "config", keys "vae.encoder.*" / "vae.decoder.*"
 * plus "vae.per_channel_statistics.*". `st` may be closed afterwards. */
ltx_status ltx_video_encoder_load(ltx_backend *be, const ltx_st_file *st, ltx_video_encoder **out);
ltx_status ltx_video_decoder_load(ltx_backend *be, const ltx_st_file *st, ltx_video_decoder **out);
void ltx_video_encoder_free(ltx_video_encoder *e);
void ltx_video_decoder_free(ltx_video_decoder *d);
const ltx_vae_stats *ltx_video_encoder_stats(const ltx_video_encoder *e);
const ltx_vae_stats *ltx_video_decoder_stats(const ltx_video_decoder *d);
/* Compression factors (time, space) implied by the block list and patch size: (8, 32) for
 * LTX-2.3. */
void ltx_video_encoder_factors(const ltx_video_encoder *e, int *time, int *space);

/* Encoder forward: video (B, in_channels, F, H, W) f32 in [-1, 1], F = 1 + k·time, H and W
 * multiples of `space` -> *out = normalised latent means (B, latent, F', H', W'). Taps
 * "enc.conv_in.first2frames", "enc.down_blocks.<i>", "enc.conv_out". Clear
 * LTX_ERR_INVALID_ARG on a bad shape (the reference silently crops F to 8k+1; we refuse:
 * use ltx_video_encoder_crop_frames for its rule). */
ltx_status ltx_video_encoder_forward(const ltx_video_encoder *e, const ltx_tensor *video,
                                     const ltx_taps *taps, ltx_tensor **out);

/* The reference's frame rule for encoding (VideoEncoder.forward / tiled_encode crop the last
 * (F - 1) % time frames with a warning instead of failing): a view of video's first
 * 1 + time·floor((F - 1) / time) frames; *dropped (may be NULL) gets the count. Pipelines that
 * feed arbitrary clips (video conditioning) call this before encoding. NULL + error when the
 * video is not 5-D or has no frame. The caller frees the view. */
ltx_tensor *ltx_video_encoder_crop_frames(const ltx_video_encoder *e, const ltx_tensor *video,
                                          int64_t *dropped);

typedef struct ltx_vae_decode_opts {
    /* Decode timestep per batch item for timestep conditioning; NULL = the reference's default
     * 0.05 for every item. Ignored without timestep conditioning. */
    const float *timestep;
    /* Generator for decode noise / inject_noise draws (see the file comment); may be NULL when
     * the config needs none. */
    ltx_rng *rng;
} ltx_vae_decode_opts;

/* Decoder forward: latent (B, latent, F', H', W') normalised -> *out = video
 * (B, out_channels, 1 + (F'-1)·8, 32·H', 32·W') (factors per config). opts may be NULL.
 * Taps "dec.conv_in", "dec.up_blocks.<i>", "dec.conv_out". */
ltx_status ltx_video_decoder_forward(const ltx_video_decoder *d, const ltx_tensor *latent,
                                     const ltx_vae_decode_opts *opts, const ltx_taps *taps,
                                     ltx_tensor **out);

/* ---- tiling (ref: model/video_vae/tiling.py, video_vae.py tiled_decode/tiled_encode) ---- */

typedef struct ltx_vae_tiling {
    int spatial_tile_px;         /* 0 = no spatial tiling; else >= 64, multiple of 32 */
    int spatial_overlap_px;      /* multiple of 32, < tile */
    int temporal_tile_frames;    /* 0 = no temporal tiling; else >= 16, multiple of 8 */
    int temporal_overlap_frames; /* multiple of 8, < tile */
} ltx_vae_tiling;

/* TilingConfig.default(): 512 px / 64 px overlap, 64 frames / 24 frames overlap. */
ltx_vae_tiling ltx_vae_tiling_default(void);
/* The conv VAE's AUTO_TILING of reference 1.2 (400fd31 helpers.tiling_config_for_vae): long side
 * 768 px / 64 px overlap (the other side aspect-coupled on the latent grid, as the spatial tile
 * of ltx_vae_tiling_default), 80 frames / 24 frames overlap. */
ltx_vae_tiling ltx_vae_tiling_auto_v12(void);
/* Checks the reference's __post_init__ rules; LTX_ERR_INVALID_ARG naming the field. */
ltx_status ltx_vae_tiling_validate(const ltx_vae_tiling *t);

/* Receives each decoded temporal chunk (B, C, T, H, W) in order; `frame0` is the index of its
 * first frame in the full video. The tensor is owned by the decoder and valid only during the
 * call. Return non-OK to stop (that status is returned). */
typedef ltx_status (*ltx_vae_chunk_fn)(void *user, const ltx_tensor *chunk, int64_t frame0);

/* Tiled decode exactly as VideoDecoder.tiled_decode: tiles in latent space (spatial size
 * scaled by aspect, causal temporal split), trapezoid blend masks, temporal groups streamed
 * — chunk k is emitted as soon as group k+1 has been blended into its overlap, so memory is
 * bounded by two temporal groups of full-width output plus one decoded tile. A config without
 * temporal tiling decodes all frames as one group (the reference crashes on that case); the
 * empty chunk the reference yields when two causal tiles start on the same frame (overlap of
 * size-1 latents) is not passed to `fn`. The seams are model dependent and NOT small for random
 * weights (docs/NUMERICS.md); tiled decode matches the reference's tiled decode, not an untiled
 * one. Decode draws (opts.rng) happen tile by tile, as in the reference. */
ltx_status ltx_video_decoder_tiled(const ltx_video_decoder *d, const ltx_tensor *latent,
                                   const ltx_vae_tiling *tiling, const ltx_vae_decode_opts *opts,
                                   ltx_vae_chunk_fn fn, void *user);

/* Tiled encode exactly as VideoEncoder.tiled_encode (pixel-space tiles, overlaps raised to at
 * least 64 px / 16 frames as the reference does, rectangular latent masks, weighted average).
 * tiling NULL = one plain forward. *out = (B, latent, F', H', W'). */
ltx_status ltx_video_encoder_tiled(const ltx_video_encoder *e, const ltx_tensor *video,
                                   const ltx_vae_tiling *tiling, ltx_tensor **out);

/* decode_video's uint8 conversion of batch item 0: uint8(clamp((x+1)/2, 0, 1)·255) (truncation)
 * as (F, H, W, C) U8 on x's backend. */
ltx_tensor *ltx_video_to_uint8(ltx_backend *be, const ltx_tensor *video);

#endif
