/*
 * diffusion_steps.h — single sampler updates on device tensors (Euler, res_2s SDE step), the
 * velocity/x0 conversions, post-processing by the denoise mask, and the res_2s host math
 * (step sizes h, phi functions, RK coefficients, SDE coefficients).
 *
 * `state_dtype` is the dtype of the latent state in the reference run: BF16 in the real
 * pipelines (every `.to(sample.dtype)` then rounds to bf16), F32 in the float32 goldens. Tensors
 * themselves are f32 (or f64 for res_2s on devices with float64).
 * ref: ltx_core/components/diffusion_steps.py, ltx_core/utils.py (to_velocity, to_denoised),
 *      ltx_pipelines/utils/helpers.py (post_process_latent), ltx_pipelines/utils/res2s.py
 */
#ifndef LTX_SAMPLING_DIFFUSION_STEPS_H
#define LTX_SAMPLING_DIFFUSION_STEPS_H

#include "backend/backend.h"

/* v = (x - x0) / sigma, rounded to state_dtype. sigma must be non-zero. */
ltx_status ltx_to_velocity(ltx_backend *be, ltx_tensor *v, const ltx_tensor *x,
                           const ltx_tensor *x0, float sigma, ltx_dtype state_dtype);
/* x0 = x - v * sigma, rounded to state_dtype. */
ltx_status ltx_to_denoised(ltx_backend *be, ltx_tensor *x0, const ltx_tensor *x,
                           const ltx_tensor *v, float sigma, ltx_dtype state_dtype);
/* x0 <- x0 * mask + clean * (1 - mask), rounded to state_dtype; mask (B, T, 1) f32. In place. */
ltx_status ltx_post_process_latent(ltx_backend *be, ltx_tensor *x0, const ltx_tensor *mask,
                                   const ltx_tensor *clean, ltx_dtype state_dtype);
/* Euler: x <- x + to_velocity(x, x0, sigma) * (sigma_next - sigma), in place. */
ltx_status ltx_euler_step(ltx_backend *be, ltx_tensor *x, const ltx_tensor *x0, float sigma,
                          float sigma_next, ltx_dtype state_dtype);

/* ---- res_2s ---- */
typedef struct ltx_sde_coeff {
    double alpha_ratio, sigma_down, sigma_up;
} ltx_sde_coeff;

/* get_sde_coeff(sigma_next, sigma_up = eta * sigma_next) in float64 (sigma_max = 1). */
ltx_sde_coeff ltx_res2s_sde_coeff(double sigma_next, double eta);
/* phi_j(z) = (e^z - sum_{k<j} z^k/k!) / z^j, 1/j! for |z| < 1e-10. */
double ltx_res2s_phi(int j, double z);
/* (a21, b1, b2) for step size h and substep position c2. */
void ltx_res2s_coefficients(double h, double c2, double *a21, double *b1, double *b2);

/* Res2sDiffusionStep.step: out = alpha * (x0_next + sigma_down * eps) + sigma_up * noise with
 * eps = (sample - denoised) / (sigma - sigma_next), x0_next = sample - sigma * eps; returns
 * `denoised` unchanged when sigma_up or sigma_next is 0. Runs in float64 where the device has
 * it, otherwise in float32 through a logged fallback ("f64.res2s"). out/sample/denoised/noise
 * are same-shape tensors of any float dtype; out is written. */
ltx_status ltx_res2s_step(ltx_backend *be, ltx_tensor *out, const ltx_tensor *sample,
                          const ltx_tensor *denoised, const ltx_tensor *noise, double sigma,
                          double sigma_next, double eta);

#endif
