/*
 * ti2vid_two_stages_hq.c — the two-stage pipeline with the res_2s second-order sampler in both
 * stages: stage 1 guided (static guiders, STG off by default) at half size with the LTX2
 * schedule shifted by the stage-1 token count, user LoRAs + the first distilled LoRA at 0.25;
 * x2 upsampling; stage 2 (3 sigmas + the 0.0011 tail res_2s adds) with the distilled LoRA at
 * 0.5, no guidance.
 *
 * ref: ltx_pipelines/ti2vid_two_stages_hq.py (TI2VidTwoStagesHQPipeline.__call__) @ a2c3f24;
 * spec pipelines.md §2.6, §6.2. The SDE noise generators are the reference's fixed-seed ones
 * (-1 / 9999, independent of --seed), re-created per stage. Reference 1.2 (400fd31) decodes the
 * stage-1 audio, 2026-04 the stage-2 audio (two_stage.c).
 */
#include "pipelines/pipelines.h"

ltx_status ltx_pipeline_two_stages_hq(ltx_pipe *p, const ltx_gen_inputs *in, ltx_gen_output *out)
{
    ltx_two_stage t = {.what = "two-stage HQ",
                       .shift_by_stage1_tokens = true,
                       .res2s = true,
                       .stage1_distilled = true,
                       .stage1_dlora = in->hq_dlora_s1,
                       .stage2_dlora = in->hq_dlora_s2,
                       .stage1_audio = true};
    return ltx_two_stage_generate(p, in, &t, out);
}
