/*
 * refver.h — the reference version the numerics follow (ltx.h ltx_reference_version), resolved
 * once per run and read at the few places where the reference releases differ. Every such place
 * carries a `ref:` comment naming both versions; docs/NUMERICS.md "Reference versions" lists
 * them all:
 *   - A/V cross-attention AdaLN timesteps        models/ltx_transformer.c cross_timesteps,
 *                                                models/ltx_block.c av_scaled
 *   - noiser (lerp towards clean_latent)         sampling/patchifier.c ltx_gaussian_noiser
 *   - conditioning into clean_latent only        sampling/patchifier.c
 *                                                ltx_video_condition_by_latent_index,
 *                                                sampling/conditioning.c append_tokens
 *   - keyframe time bounds (single pixel frame)  sampling/conditioning.c ltx_cond_keyframe
 *   - frozen modality's sigma                    sampling/patchifier.h ltx_state_sigma
 *   - audio of the two-stage pipelines           pipelines/two_stage.c ltx_two_stage_finish
 *   - LoRA fusion rounding                       models/lora.c (LTX_LORA_BF16_FUSE_RULE, set in
 *                                                pipelines/stages.c load_transformer)
 *   - default negative prompt                    api/generate.c ltx_gen_default_negative
 *   - VAE decode tiling                          pipelines/blocks.c ltx_stage_decode_video,
 *                                                api/generate.c ltx_gen_pipe_init
 *   - (prompt enhancement padding: not built; the version reaches the text encoder as
 *     ltx_text_encode_params.ref)
 *
 * ref: github.com/Lightricks/LTX-2 at 400fd31 (v1.2.0) and a2c3f24 (2026-04).
 */
#ifndef LTX_CORE_REFVER_H
#define LTX_CORE_REFVER_H

#include "ltx.h"

#include <stdbool.h>

/* LTX_REFERENCE_DEFAULT (and any unknown value) -> LTX_REFERENCE_1_2. */
static inline ltx_reference_version ltx_refver_resolve(ltx_reference_version v)
{
    return v == LTX_REFERENCE_2026_04 ? LTX_REFERENCE_2026_04 : LTX_REFERENCE_1_2;
}

/* True for v1.2 numerics (the default). */
static inline bool ltx_refver_is_1_2(ltx_reference_version v)
{
    return ltx_refver_resolve(v) == LTX_REFERENCE_1_2;
}

/* The version whose goldens carry reference_commit `commit` ("400fd31..." -> 1.2,
 * "a2c3f24..." -> 2026-04); LTX_REFERENCE_DEFAULT when unknown. */
ltx_reference_version ltx_refver_from_commit(const char *commit);

#endif
