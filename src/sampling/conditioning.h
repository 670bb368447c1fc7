/*
 * conditioning.h — the conditioning items that src/sampling/patchifier.h does not cover:
 * keyframe tokens, IC-LoRA reference-latent tokens, the attention-strength mask that may come
 * with appended tokens, the retake time-window mask, plus the host helpers the conditioning
 * pipelines need around them (attention-mask video -> per-token weights, latent length
 * conforming).
 *
 * Mirrors ltx_core/conditioning/types/keyframe_cond.py (VideoConditionByKeyframeIndex),
 * types/reference_video_cond.py (VideoConditionByReferenceLatent),
 * types/attention_strength_wrapper.py + mask_utils.py (update/build_attention_mask),
 * types/noise_mask_cond.py (TemporalRegionMask), ltx_pipelines/ic_lora.py
 * (_load_mask_video, ICLoraPipeline._downsample_mask_to_latent) and utils/helpers.py
 * (_conform_latent_length) at a2c3f24, with the 400fd31 (v1.2) differences selected by a
 * reference version (core/refver.h); spec pipelines.md §1.4, §4.2, §4.4-4.6, §6.8.
 *
 * Every item modifies a patchified ltx_latent_state in place (its tensors are replaced by new
 * ones; on failure the state is left as it was). Appended tokens always go to the end of the
 * sequence; the first `n_noisy` tokens are the generated grid. Appending promotes the video
 * positions to float32 (the reference concatenates float32 positions onto the bf16 grid ones;
 * grid values keep their bf16-rounded values), which is the RoPE dtype switch of spec §1.4.
 *
 * `value_dtype` is the latent dtype of the reference run: LTX_BF16 for real runs (the new
 * tokens' mask `1 - strength` and the attention weights are bf16 values there), LTX_F32 when
 * replaying the float32 goldens. Host math only builds positions and masks; tensor data moves
 * through backend ops and upload/download (works on "cpu-restricted").
 */
#ifndef LTX_SAMPLING_CONDITIONING_H
#define LTX_SAMPLING_CONDITIONING_H

#include "core/refver.h"
#include "sampling/patchifier.h"

/* VideoConditionByKeyframeIndex: appends the patchified `latent` (1, C, f, H, W) to latent and
 * clean_latent, with mask 1 - strength and float32 positions on the keyframe's own grid whose
 * time bounds are shifted by the pixel frame `frame_idx` (causal fix only when frame_idx == 0),
 * time divided by fps. An existing attention mask is extended with full attention (ref:
 * update_attention_mask(None)). Under reference 1.2 the latent gets zeros (the tokens go to
 * clean_latent only) and a one-frame latent spans [frame_idx, frame_idx + 1) pixel frames;
 * 2026-04 as above. Same for ltx_cond_reference's tokens (its bounds are not changed). */
ltx_status ltx_cond_keyframe(ltx_backend *be, ltx_latent_state *st, int64_t n_noisy,
                             const ltx_tensor *latent, int frame_idx, double strength, double fps,
                             ltx_dtype value_dtype, ltx_reference_version ref);

/* VideoConditionByReferenceLatent, optionally wrapped by ConditioningItemAttentionStrengthWrapper:
 * appends the reference latent's tokens (mask 1 - strength; positions on the reference grid with
 * the causal fix, time / fps, height and width bounds x downscale). `attn` is the wrapper's
 * attention weight: NULL (no wrapper), n_attn == 1 (a scalar for every new token) or
 * n_attn == M (one weight per reference token, token order). With a weight, the state's
 * attention mask becomes (1, N+M, N+M): previous mask (or ones) top-left, grid <-> new tokens
 * the weights, earlier conditioning <-> new tokens 0, new x new 1 (ref: build_attention_mask). */
ltx_status ltx_cond_reference(ltx_backend *be, ltx_latent_state *st, int64_t n_noisy,
                              const ltx_tensor *latent, int downscale, double strength, double fps,
                              const float *attn, int64_t n_attn, ltx_dtype value_dtype,
                              ltx_reference_version ref);

/* TemporalRegionMask: denoise_mask = 1 for tokens whose time span [t0, t1) overlaps
 * [start_s, end_s) (t1 > start and t0 < end, in float32 like the reference), else 0 —
 * overwritten, not multiplied. Video: `shape` = (1, C, F, H, W), latent frame f spans
 * [max(0, 8f-7), 8f+1) / fps. Audio: `T` latent frames spanning [max(0, 4t-3), 4t+1) * 0.01 s.
 * Only the first (grid) tokens are covered; the state must have no appended tokens. */
ltx_status ltx_cond_region_video(ltx_backend *be, ltx_latent_state *st, const int64_t *shape,
                                 double fps, double start_s, double end_s);
ltx_status ltx_cond_region_audio(ltx_backend *be, ltx_latent_state *st, int64_t T, double start_s,
                                 double end_s);
/* The masks themselves on the host: out[f] for each video latent frame / audio latent frame. */
void ltx_cond_region_video_frames(int64_t F, double fps, double start_s, double end_s, float *out);
void ltx_cond_region_audio_frames(int64_t T, double start_s, double end_s, float *out);

/* ic_lora._load_mask_video after decoding: RGB frames (n, sh, sw, 3) -> resize + center crop
 * to (h, w), x/127.5 - 1 rounded to bf16, mean over the 3 channels, (x + 1) / 2, clamp [0, 1],
 * each step rounded to bf16 like the reference's hard-coded bfloat16. out: n*h*w floats. */
ltx_status ltx_cond_mask_from_frames(const uint8_t *rgb, int n, int sh, int sw, int h, int w,
                                     float *out);

/* ICLoraPipeline._downsample_mask_to_latent: a pixel-space mask (F, H, W) -> per-token weights
 * (Fl, Hl, Wl) in token order: per frame "area" interpolation (adaptive average pooling) to
 * (Hl, Wl); frame 0 kept; frames 1.. averaged in consecutive groups of (F-1)/(Fl-1), which must
 * divide exactly (LTX_ERR_INVALID_ARG otherwise, naming the counts). out: Fl*Hl*Wl floats. */
ltx_status ltx_cond_mask_to_latent(const float *mask, int64_t F, int64_t H, int64_t W, int64_t Fl,
                                   int64_t Hl, int64_t Wl, float *out);

/* _conform_latent_length: `latent` (B, C, T, ...) truncated or zero-padded along dim 2 to
 * `frames`. Returns a new tensor (NULL + error on failure). */
ltx_tensor *ltx_cond_conform_frames(ltx_backend *be, const ltx_tensor *latent, int64_t frames);

#endif
