/*
 * denoiser.h — one guided denoiser evaluation with the guidance passes batched: the passes
 * (cond, uncond, STG-perturbed, modality-isolated — whichever either modality's guider needs)
 * become batch rows of X0Model calls of at most `max_batch` rows each (the reference's
 * BatchSplitAdapter / --max-batch-size), then each modality is combined by its multi-modal
 * guider. Any max_batch gives the same values (each row is computed independently).
 *
 * ref: ltx_pipelines/utils/denoisers.py _guided_denoise, _repeat_state @ a2c3f24; spec
 * pipelines.md §2.7. The pipelines' stateful wrappers (skip-step memory, per-stage contexts)
 * live in src/pipelines/denoise.c; this is the pipeline-independent core.
 */
#ifndef LTX_SAMPLING_DENOISER_H
#define LTX_SAMPLING_DENOISER_H

#include "models/ltx_transformer.h"
#include "sampling/guiders.h"
#include "sampling/patchifier.h"

typedef struct ltx_guided_inputs {
    ltx_backend *be;                       /* the transformer's backend */
    const ltx_latent_state *video, *audio; /* batch 1 states; either may be NULL */
    const ltx_tensor *v_ctx, *a_ctx;       /* (1, L, D) positive contexts */
    const ltx_tensor *v_neg, *a_neg;       /* negative contexts (NULL = positive) */
    const ltx_guider_params *vg, *ag;      /* NULL = neutral (cond only) */
    float sigma;                           /* step sigma */
    /* NULL, or host copies of video/audio denoise_mask (T values): the passes' timesteps are
     * then mirrored on the host (no download per forward) */
    const float *v_mask_host, *a_mask_host;
    bool v_skip, a_skip;       /* guider skip-step: modality disabled, no output */
    int max_batch;             /* rows per transformer call, >= 1 */
    ltx_dtype state_dtype;     /* rounding of x0 and the guider (BF16 / F32) */
    ltx_reference_version ref; /* a frozen state's sigma (ltx_state_sigma) */
} ltx_guided_inputs;

/* Runs the passes and the guiders. *x0v / *x0a: new (1, T, C) f32 guided x0 (before
 * post-processing), NULL for an absent or skipped modality. per_pass_v / per_pass_a: NULL, or
 * receive the (P, T, C) X0 outputs of every pass (new tensors) and *n_passes their count. */
ltx_status ltx_guided_denoise(ltx_transformer *m, const ltx_guided_inputs *in, ltx_tensor **x0v,
                              ltx_tensor **x0a, ltx_tensor **per_pass_v, ltx_tensor **per_pass_a,
                              int *n_passes);

#endif
