/*
 * patchifier.h — latent <-> token layouts, token positions, initial latent states, the Gaussian
 * noiser formula and image conditioning by latent index.
 *
 * Mirrors ltx_core/components/patchifiers.py (VideoLatentPatchifier, AudioPatchifier,
 * get_pixel_coords), ltx_core/tools.py (VideoLatentTools / AudioLatentTools
 * .create_initial_state), ltx_core/model/video_vae/ops.py (patchify / unpatchify),
 * ltx_core/components/noisers.py (GaussianNoiser, with the noise given instead of drawn) and
 * ltx_core/conditioning/types/latent_cond.py (VideoConditionByLatentIndex.apply_to).
 *
 * Layouts are strided views + one backend copy (no host access to device memory); positions
 * are integer/affine host math uploaded as tensors. Every function returns new tensors the
 * caller frees (NULL + error on failure); inputs are never modified unless stated.
 * Not here: keyframe / reference-video conditioning (pipelines own those).
 */
#ifndef LTX_SAMPLING_PATCHIFIER_H
#define LTX_SAMPLING_PATCHIFIER_H

#include "backend/backend.h"
#include "core/refver.h"

/* A patchified latent state (ref: ltx_core.types.LatentState). All (B, T, ...) tensors. */
typedef struct ltx_latent_state {
    ltx_tensor *latent;       /* (B, T, C) */
    ltx_tensor *denoise_mask; /* (B, T, 1) f32 */
    ltx_tensor *positions;    /* (B, 3, T, 2) video / (B, 1, T, 2) audio */
    ltx_tensor *clean_latent; /* (B, T, C) */
    /* (B, T, T) self-attention weights in [0, 1] or NULL = full attention; set only by
     * attention-strength conditioning (src/sampling/conditioning.h; ref:
     * LatentState.attention_mask) */
    ltx_tensor *attention_mask;
    /* held fixed (ref: ModalitySpec.frozen: denoise mask zeroed after noising) */
    bool frozen;
} ltx_latent_state;

/* The Modality.sigma a denoiser feeds for this state at step sigma `sigma`.
 * ref: 400fd31 (1.2, 2362161) modality_from_latent_state: a frozen state gets sigma 0 (prompt
 * AdaLN and the other modality's cross-attention gate then see 0); a2c3f24 (2026-04): the step
 * sigma for every state. */
static inline float ltx_state_sigma(const ltx_latent_state *st, float sigma,
                                    ltx_reference_version ref)
{
    return st && st->frozen && ltx_refver_is_1_2(ref) ? 0.0f : sigma;
}

/* Frees the tensors (NULL fields fine) and zeroes the struct. */
void ltx_latent_state_clear(ltx_latent_state *s);

/* ---- video ---- */
/* (B, C, F, H, W) -> (B, (F/1)(H/p)(W/p), C*p*p); ref "b c (f p1) (h p2) (w p3) -> b (f h w)
 * (c p1 p2 p3)" with p1 = 1. */
ltx_tensor *ltx_video_patchify(ltx_backend *be, const ltx_tensor *latent, int patch);
/* Inverse: tokens (B, F*H'*W', C*p*p) -> (B, C, F, H'*p, W'*p). */
ltx_tensor *ltx_video_unpatchify(ltx_backend *be, const ltx_tensor *tokens, int64_t frames,
                                 int64_t height, int64_t width, int patch);
/* Host int64 bounds (B, 3, T, 2) of each patch in latent cells (f, h, w) [start, end);
 * *out malloc'd, caller frees. shape = (B, C, F, H, W). */
ltx_status ltx_video_patch_grid_bounds_host(const int64_t *shape, int patch, int64_t **out);
/* In place on host int64 (B, 3, T, 2): scale by (st, sh, sw) and, with causal_fix, time
 * t <- max(t + 1 - st, 0). ref: get_pixel_coords. */
void ltx_video_pixel_coords_host(int64_t *coords, int64_t B, int64_t T, const int scale[3],
                                 bool causal_fix);
/* Video initial state for a latent shape (B, C, F, H, W): latent (tokens of `initial` or zeros),
 * denoise_mask ones, positions = pixel coords with time / fps, cast to `pos_dtype` (F32 or BF16:
 * the pipeline dtype; ref: positions.to(dtype)), clean_latent = latent. */
ltx_status ltx_video_initial_state(ltx_backend *be, const int64_t *shape, int patch,
                                   const int scale[3], bool causal_fix, double fps,
                                   const ltx_tensor *initial, ltx_dtype pos_dtype,
                                   ltx_latent_state *out);

/* ---- audio ---- */
/* (B, C, T, M) -> (B, T, C*M). */
ltx_tensor *ltx_audio_patchify(ltx_backend *be, const ltx_tensor *latent);
/* (B, T, C*M) -> (B, C, T, M). */
ltx_tensor *ltx_audio_unpatchify(ltx_backend *be, const ltx_tensor *tokens, int64_t channels,
                                 int64_t mel_bins);
typedef struct ltx_audio_timing {
    int sample_rate; /* 16000 */
    int hop_length;  /* 160 */
    int downsample;  /* audio_latent_downsample_factor, 4 */
    bool is_causal;  /* true */
    int shift;       /* 0 */
} ltx_audio_timing;
/* Fills *t with the defaults written on each field above (LTX-2 audio VAE timing). */
void ltx_audio_timing_default(ltx_audio_timing *t);
/* Host f32 (B, 1, T, 2) seconds [start, end) per latent frame; *out malloc'd, caller frees. */
ltx_status ltx_audio_patch_grid_bounds_host(const ltx_audio_timing *tm, int64_t B, int64_t T,
                                            float **out);
/* Audio initial state for latent shape (B, C, T, M). */
ltx_status ltx_audio_initial_state(ltx_backend *be, const int64_t *shape,
                                   const ltx_audio_timing *tm, const ltx_tensor *initial,
                                   ltx_latent_state *out);

/* ---- VAE space-to-depth (ref: video_vae/ops.py patchify) ---- */
/* 5-D (B, C, F*pt, H*p, W*p) -> (B, C*pt*p*p, F, H, W) with channel order (c, pt, r=w, q=h);
 * 4-D (B, C, H*p, W*p) -> (B, C*p*p, H, W) (c, r, q). */
ltx_tensor *ltx_vae_patchify(ltx_backend *be, const ltx_tensor *x, int patch_hw, int patch_t);
ltx_tensor *ltx_vae_unpatchify(ltx_backend *be, const ltx_tensor *x, int patch_hw, int patch_t);

/* ---- noiser and conditioning ---- */
/* ref: GaussianNoiser.__call__ with the draw given; latent/clean_latent/noise (B, T, C), mask
 * (B, T, 1). Reference 1.2 (400fd31): lerp(clean, lerp(latent, noise, s), mask) in f32 with
 * torch.lerp's formula; 2026-04 (a2c3f24): noise * (mask * s) + latent * (1 - mask * s)
 * (clean_latent unused). New tensor, NULL on failure. */
ltx_tensor *ltx_gaussian_noiser(ltx_backend *be, const ltx_tensor *latent,
                                const ltx_tensor *clean_latent, const ltx_tensor *mask,
                                const ltx_tensor *noise, double noise_scale,
                                ltx_reference_version ref);
/* VideoConditionByLatentIndex: writes the patchified `cond` (B, C, f, H, W) into tokens of
 * latent frame latent_idx.. of `state`'s clean_latent (2026-04: and latent) and sets their
 * denoise mask to 1 - strength. `state` is modified in place (its tensors must be
 * contiguous). */
ltx_status ltx_video_condition_by_latent_index(ltx_backend *be, ltx_latent_state *state,
                                               const int64_t *target_shape, int patch,
                                               const ltx_tensor *cond, double strength,
                                               int latent_idx, ltx_reference_version ref);

#endif
