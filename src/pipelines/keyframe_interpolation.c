/*
 * keyframe_interpolation.c — video between keyframe images: the two-stage guided pipeline with
 * every --image (frame 0 included) appended as keyframe tokens in both stages.
 *
 * ref: ltx_pipelines/keyframe_interpolation.py (KeyframeInterpolationPipeline.__call__) @
 * a2c3f24; spec pipelines.md §4.2, §4.3, §6.5. Stage 1: half size, LTX2 schedule, guided
 * (FactoryGuidedDenoiser with constant params = the guided denoiser), user LoRAs. Stage 2:
 * upsampled latent re-noised at the first stage-2 sigma, user + distilled LoRAs, no guidance.
 * Each image adds H*W tokens per stage that are dropped when the stage ends.
 */
#include "pipelines/pipelines_cond.h"

ltx_status ltx_pipeline_keyframe_interpolation(ltx_pipe *p, const ltx_gen_inputs *in,
                                               ltx_gen_output *out)
{
    /* keyframe tokens in both stages (ref: image_conditionings_by_adding_guiding_latent),
     * re-encoded at each stage's size */
    ltx_two_stage t = {.what = "keyframe_interpolation",
                       .images_as_keyframes = true,
                       .stage1_dlora = -1,
                       .stage2_dlora = -1};
    return ltx_two_stage_generate(p, in, &t, out);
}
