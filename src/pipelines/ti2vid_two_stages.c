/*
 * ti2vid_two_stages.c — text/image-to-video in two stages: guided stage 1 at half resolution,
 * x2 latent upsampling, stage 2 refined with the distilled LoRA(s), no guidance.
 *
 * ref: ltx_pipelines/ti2vid_two_stages.py (TI2VidTwoStagesPipeline.__init__ LoRA sets and
 * __call__) @ a2c3f24; spec pipelines.md §6.1, §7. Stage 1 fuses the user LoRAs; stage 2 the
 * user LoRAs then the distilled ones, at their CLI strengths. Reference 1.2 (400fd31) decodes
 * the stage-1 audio, 2026-04 the stage-2 audio (two_stage.c).
 */
#include "pipelines/pipelines.h"

ltx_status ltx_pipeline_two_stages(ltx_pipe *p, const ltx_gen_inputs *in, ltx_gen_output *out)
{
    /* stage 1: half resolution, guided, user LoRAs; stage 2: full resolution, user + distilled
     * LoRAs, re-noised at 0.909375 */
    ltx_two_stage t = {
        .what = "two-stage", .stage1_dlora = -1, .stage2_dlora = -1, .stage1_audio = true};
    return ltx_two_stage_generate(p, in, &t, out);
}
