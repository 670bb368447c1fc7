/*
 * res2s.h — the res_2s second-order SDE denoising loop over audio + video states (spec
 * pipelines.md §2.6): per step a denoiser call at sigma, an RK midpoint with substep SDE noise,
 * optional "bong" anchor refinement, a second call at sqrt(sigma * sigma_next), the RK
 * combination and step SDE noise; then one final call when the schedule ends in 0.
 *
 * ref: ltx_pipelines/utils/samplers.py (res2s_audio_video_denoising_loop, _inject_sde_noise,
 *      _get_new_noise, _channelwise_normalize), ltx_pipelines/utils/res2s.py,
 *      ltx_core/components/diffusion_steps.py (Res2sDiffusionStep) @ a2c3f24.
 *
 * Numerics: anchors, RK combinations and SDE noise run in float64 where the backend has it
 * (caps.f64), else in float32 through the logged fallback "f64.res2s"; the state between
 * sub-steps is rounded to `model_dtype` (reference default bf16; the float32 goldens use f32).
 * Only legacy_mode = true (the reference default and the only mode the pipelines use) is
 * implemented: the SDE steps use the scalar sigmas and blend with the clean latent by mask.
 *
 * The denoiser is a callback, so the pipelines plug in their simple or guided denoiser; the
 * SDE noise is drawn by a callback too (default: PyTorch's CPU generator, see rng.h), so tests
 * can replay stored draws.
 */
#ifndef LTX_SAMPLING_RES2S_H
#define LTX_SAMPLING_RES2S_H

#include "backend/backend.h"
#include "core/rng.h"
#include "sampling/patchifier.h"

/* x0 predictions (before post-processing) for the latents `vl` / `al` (f32 tensors holding
 * model_dtype values; NULL for an absent modality) at `sigma`; `step` is the step index for
 * the denoiser's skip-step logic (0 for sub-steps, like the reference). sigma_f64: the
 * reference passes a float64 sigma (sub-steps) rather than a float32 schedule entry. *x0v /
 * *x0a: new f32 tensors (B, T, C), NULL for an absent modality. */
typedef ltx_status (*ltx_res2s_denoise_fn)(void *user, const ltx_tensor *vl,
                                           const ltx_tensor *al, double sigma, bool sigma_f64,
                                           int step, ltx_tensor **x0v, ltx_tensor **x0a);

/* One SDE noise draw shaped like `like` (B, T, C) into *noise (new tensor on be, f32 or f64):
 * `substep` selects the generator. Called in the reference's order: per step substep-video,
 * substep-audio, step-video, step-audio (absent modalities skipped). */
typedef ltx_status (*ltx_res2s_noise_fn)(void *user, ltx_backend *be, bool substep,
                                         const ltx_tensor *like, ltx_tensor **noise);

typedef struct ltx_res2s_params {
    double eta;              /* step noise strength, 0.5 (sub-steps always use 0.5) */
    bool bongmath;           /* true */
    int bongmath_max_iter;   /* 100 */
    ltx_dtype model_dtype;   /* LTX_BF16 (reference default); LTX_F32 for the f32 goldens */
    uint64_t noise_seed;     /* step generator seed, (uint64_t)-1 */
    uint64_t substep_seed;   /* substep generator seed, noise_seed + 10000 = 9999 */
    ltx_rng_variant rng_variant; /* default generator's kernel variant */
} ltx_res2s_params;

/* Reference defaults (the HQ pipeline calls the loop with them). */
void ltx_res2s_params_init(ltx_res2s_params *p);

/* Runs the loop on the schedule sigmas[0..n_sigmas) (f32 values, n_sigmas >= 2). video/audio:
 * states whose `latent` is replaced by the result (the old tensor is freed); either may be NULL,
 * not both. noise_fn NULL = the default generators (two torch CPU generators seeded
 * p->substep_seed / p->noise_seed, float64 randn, standardised over all elements and then over
 * the last two dims). Errors from the callbacks propagate. */
ltx_status ltx_res2s_loop(ltx_backend *be, const float *sigmas, int n_sigmas,
                          ltx_latent_state *video, ltx_latent_state *audio,
                          const ltx_res2s_params *p, ltx_res2s_denoise_fn denoise,
                          void *denoise_user, ltx_res2s_noise_fn noise_fn, void *noise_user);

/* The default noise draw on its own: randn(numel) float64 from `rng` (one call), then
 * z = (z - mean) / std over all elements, then per leading index over the last two dims
 * (unbiased std). `out` has numel elements (host). ref: _get_new_noise. */
ltx_status ltx_res2s_new_noise_host(ltx_rng *rng, int ndim, const int64_t *shape, double *out);

#endif
