/*
 * distilled.c — the distilled two-stage pipeline: no guidance, 8 + 3 fixed sigmas.
 *
 * ref: ltx_pipelines/distilled.py (DistilledPipeline.__call__) @ a2c3f24; spec pipelines.md
 * §6.4. Order of work (= RNG order): stage-1 image encode, stage 1 (video noise, audio noise),
 * upsample, stage-2 image encode, stage 2 (video noise, audio noise), video decode, audio
 * decode. One transformer config serves both stages; it is loaded per stage and freed after.
 */
#include "pipelines/pipelines.h"

#include <stdlib.h>
#include <string.h>

void ltx_gen_output_free(ltx_gen_output *o)
{
    if (!o) return;
    free(o->frames);
    free(o->audio);
    memset(o, 0, sizeof *o);
}

ltx_status ltx_pipeline_decode(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_tensor *video,
                               const ltx_tensor *audio, ltx_gen_output *out)
{
    LTX_TRY(ltx_stage_decode_video(p, in->ckpt, video, &out->frames, &out->n_frames, &out->h,
                                   &out->w, NULL));
    double t0 = ltx_pipe_now();
    out->audio_status =
        ltx_stage_decode_audio(p, in->ckpt, audio, &out->audio, &out->n_samples, &out->sample_rate);
    if (out->audio_status == LTX_OK) ltx_pipe_add_time(p, "audio_decode", ltx_pipe_now() - t0);
    return LTX_OK;
}

ltx_status ltx_pipeline_lora_set(const ltx_gen_inputs *in, bool with_distilled, double dl_strength,
                                 ltx_lora_set *set)
{
    ltx_lora_set_init(set);
    for (int i = 0; i < in->n_loras; i++)
        LTX_TRY(ltx_lora_set_add(set, in->loras[i], in->lora_strength[i]));
    int nd = !with_distilled ? 0 : dl_strength >= 0 ? (in->n_dloras > 0) : in->n_dloras;
    for (int i = 0; i < nd; i++)
        LTX_TRY(ltx_lora_set_add(set, in->dloras[i],
                                 dl_strength >= 0 ? dl_strength : in->dlora_strength[i]));
    return LTX_OK;
}

ltx_status ltx_pipeline_run_stage(ltx_pipe *p, const ltx_gen_inputs *in, bool with_distilled,
                                  double dl_strength, const ltx_stage_spec *s, ltx_tensor **video,
                                  ltx_tensor **audio)
{
    ltx_lora_set set;
    LTX_TRY(ltx_pipeline_lora_set(in, with_distilled, dl_strength, &set));
    return ltx_stage_run_fresh(p, in->ckpt, &set, s, video, audio);
}

ltx_status ltx_pipeline_distilled(ltx_pipe *p, const ltx_gen_inputs *in, ltx_gen_output *out)
{
    /* stage 1 at half size on the 8 distilled sigmas, x2 upsampling, stage 2 at full size
     * re-noised at the first stage-2 sigma; the user LoRAs in both stages */
    ltx_two_stage t = {.what = "distilled",
                       .distilled_stage1 = true,
                       .stage1_dlora = -1,
                       .stage2_loras = LTX_STAGE2_USER_ONLY};
    return ltx_two_stage_generate(p, in, &t, out);
}
