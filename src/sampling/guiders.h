/*
 * guiders.h — guidance combinations on denoised (x0) predictions: the multi-modal guider the
 * pipelines use (CFG + STG + modality isolation + std rescale), its sigma-binned factory, and
 * the other guiders of the reference file (CFG, CFG* rescaling, STG, APG, legacy stateful APG,
 * projection_coef), which no CLI pipeline uses but which are ported and golden-tested too.
 *
 * ref: ltx_core/components/guiders.py @ a2c3f24 (spec pipelines.md §3).
 *
 * Tensors: same-shape f32 device tensors (B, T, C) on one backend (cpu-restricted included: no
 * host pointer is touched; scalars such as std or projection coefficients are reduced by the
 * backend and downloaded). `state_dtype` is the dtype of the reference tensors: LTX_BF16 in the
 * real pipelines (every torch op then rounds to bf16, scalars included), LTX_F32 in the float32
 * goldens. Only the multi-modal guider takes it: the other guiders follow the float32 reference
 * math (they are unused by the pipelines).
 */
#ifndef LTX_SAMPLING_GUIDERS_H
#define LTX_SAMPLING_GUIDERS_H

#include "backend/backend.h"

#define LTX_MAX_STG_BLOCKS 64

/* ref: MultiModalGuiderParams (library defaults set by ltx_guider_params_init). */
typedef struct ltx_guider_params {
    double cfg_scale;      /* 1.0: no CFG */
    double stg_scale;      /* 0.0: no STG */
    double rescale_scale;  /* 0.0: no std rescale */
    double modality_scale; /* 1.0: no modality isolation */
    int skip_step;         /* 0: never skip */
    int stg_blocks[LTX_MAX_STG_BLOCKS];
    int n_stg_blocks;
} ltx_guider_params;

/* Fills the reference defaults (cfg 1, stg 0, rescale 0, modality 1, skip 0, no blocks). */
void ltx_guider_params_init(ltx_guider_params *p);

/* ref: do_unconditional_generation / do_perturbed_generation /
 * do_isolated_modality_generation (math.isclose against the neutral value, rel 1e-9). */
bool ltx_guider_do_uncond(const ltx_guider_params *p);
bool ltx_guider_do_perturbed(const ltx_guider_params *p);
bool ltx_guider_do_modality(const ltx_guider_params *p);
/* ref: should_skip_step: skip_step > 0 and step % (skip_step + 1) != 0. */
bool ltx_guider_should_skip_step(const ltx_guider_params *p, int step);

/* MultiModalGuider.calculate into `out` (same shape as cond; may alias cond):
 *   pred = cond + (cfg-1)(cond-uncond) + stg(cond-ptb) + (mod-1)(cond-mod_out), left to right,
 *   then if rescale != 0: pred *= rescale * std(cond)/std(pred) + (1 - rescale),
 * std = unbiased std over every element of the tensor. uncond/ptb/mod_out may be NULL: the
 * reference then uses the scalar 0 (the term becomes scale * cond). Every op rounds to
 * state_dtype like the reference's tensors of that dtype. */
ltx_status ltx_multimodal_guider_calculate(ltx_backend *be, const ltx_guider_params *p,
                                           ltx_tensor *out, const ltx_tensor *cond,
                                           const ltx_tensor *uncond, const ltx_tensor *ptb,
                                           const ltx_tensor *mod_out, ltx_dtype state_dtype);

/* ref: MultiModalGuiderFactory — params binned by sigma. Keys are bin upper bounds; lookup
 * takes the smallest key >= sigma, or the largest key when sigma is above all of them. */
#define LTX_MAX_GUIDER_BINS 16
typedef struct ltx_guider_factory {
    int n;                                 /* >= 1 */
    double sigma_key[LTX_MAX_GUIDER_BINS]; /* sorted descending by ltx_guider_factory_add */
    ltx_guider_params params[LTX_MAX_GUIDER_BINS];
} ltx_guider_factory;

/* A factory with one bin (key +inf): the same params at every sigma (ref: constant()). */
void ltx_guider_factory_constant(ltx_guider_factory *f, const ltx_guider_params *p);
/* Adds a bin (ref: from_dict); keeps keys sorted descending, replacing an equal key.
 * LTX_ERR_INVALID_ARG when full. Start from a zeroed factory (n = 0). */
ltx_status ltx_guider_factory_add(ltx_guider_factory *f, double sigma_key,
                                  const ltx_guider_params *p);
/* Params effective at `sigma` (f must have n >= 1; returns a pointer into f). */
const ltx_guider_params *ltx_guider_factory_params(const ltx_guider_factory *f, double sigma);

/* ---- the other guiders (f32, ref delta() methods); out may alias an input ---- */

/* ref: projection_coef: per batch item b, sum(x*y) / (sum(y*y) + 1e-8) over all non-batch
 * elements (float32). coef has B entries (host). */
ltx_status ltx_projection_coef(ltx_backend *be, const ltx_tensor *to_project,
                               const ltx_tensor *project_onto, float *coef);
/* CFGGuider.delta: (scale - 1) * (cond - uncond). */
ltx_status ltx_cfg_guider_delta(ltx_backend *be, double scale, ltx_tensor *out,
                                const ltx_tensor *cond, const ltx_tensor *uncond);
/* CFGStarRescalingGuider.delta: (scale - 1) * (cond - projection_coef(cond, uncond) * uncond).
 * The coefficient is applied per batch item (identical to the reference for B = 1; the
 * reference's (B, 1) broadcast misaligns for B > 1). */
ltx_status ltx_cfg_star_guider_delta(ltx_backend *be, double scale, ltx_tensor *out,
                                     const ltx_tensor *cond, const ltx_tensor *uncond);
/* STGGuider.delta: scale * (cond - perturbed). */
ltx_status ltx_stg_guider_delta(ltx_backend *be, double scale, ltx_tensor *out,
                                const ltx_tensor *cond, const ltx_tensor *perturbed);
/* LtxAPGGuider.delta: g = cond - uncond; if norm_threshold > 0, g *= min(1, nt / ||g||) with
 * the L2 norm over the last three dims; then p = projection_coef(g, cond) * cond and
 * delta = (p * eta + (g - p)) * (scale - 1). */
ltx_status ltx_apg_guider_delta(ltx_backend *be, double scale, double eta, double norm_threshold,
                                ltx_tensor *out, const ltx_tensor *cond, const ltx_tensor *uncond);

/* LegacyStatefulAPGGuider: like APG with an exponential moving average of the guidance
 * (running = momentum * running + g, the first call stores g) and delta = g_apg * scale.
 * One object per denoising run and modality. */
typedef struct ltx_legacy_apg {
    double scale, eta, norm_threshold, momentum; /* ref defaults: nt 5.0, momentum 0.0 */
    ltx_tensor *running_avg;                     /* owned; NULL until the first call */
} ltx_legacy_apg;
/* Writes the APG delta for (cond, uncond) into out (preallocated, cond's shape; cond and uncond
 * are not modified). With momentum != 0 it updates g->running_avg, allocating it on the first
 * call (owned by g; free with ltx_legacy_apg_reset). */
ltx_status ltx_legacy_apg_delta(ltx_backend *be, ltx_legacy_apg *g, ltx_tensor *out,
                                const ltx_tensor *cond, const ltx_tensor *uncond);
/* Frees the running average (g may be NULL). */
void ltx_legacy_apg_reset(ltx_legacy_apg *g);

#endif
