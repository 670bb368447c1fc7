/*
 * distilled.c — the distilled two-stage pipeline: no guidance, 8 + 3 fixed sigmas.
 *
 * ref: ltx_pipelines/distilled.py (DistilledPipeline.__call__) @ a2c3f24; spec pipelines.md
 * §6.4. Order of work (= RNG order): stage-1 image encode, stage 1 (video noise, audio noise),
 * upsample, stage-2 image encode, stage 2 (video noise, audio noise), video decode, audio
 * decode. One transformer config serves both stages; it is loaded per stage and freed after.
 */
#include "pipelines/pipelines.h"

#include "sampling/schedulers.h"

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

/* One stage on a freshly loaded transformer with the given LoRA set. */
static ltx_status run_stage(ltx_pipe *p, const ltx_gen_inputs *in, ltx_stage_spec *s,
                            ltx_tensor **v, ltx_tensor **a)
{
    ltx_lora_set set;
    LTX_TRY(ltx_pipeline_lora_set(in, false, -1, &set));
    return ltx_stage_run_fresh(p, in->ckpt, &set, s, v, a);
}

ltx_status ltx_pipeline_distilled(ltx_pipe *p, const ltx_gen_inputs *in, ltx_gen_output *out)
{
    memset(out, 0, sizeof *out);
    if (in->height % 64 || in->width % 64)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "distilled: height/width must be multiples of 64 "
                       "(got %dx%d)",
                       in->height, in->width);
    const float *s1;
    int n1 = ltx_sched_distilled(1, &s1);
    int64_t F = (in->num_frames - 1) / 8 + 1, Ta = ltx_audio_latent_frames(in->num_frames, in->fps);
    ltx_denoiser den = {.v_ctx = in->v_ctx, .a_ctx = in->a_ctx};
    ltx_image_latent im[LTX_PIPE_MAX_IMAGES];
    if (in->n_images > LTX_PIPE_MAX_IMAGES)
        return ltx_err(LTX_ERR_INVALID_ARG, "at most %d --image", LTX_PIPE_MAX_IMAGES);

    /* stage 1: half resolution */
    int h1 = in->height / 2, w1 = in->width / 2;
    LTX_TRY(ltx_stage_encode_images(p, in->ckpt, "stage1", in->images, in->n_images, h1, w1, im));
    ltx_stage_spec s = {.name = "stage1",
                        .video_shape = {1, 128, F, h1 / 32, w1 / 32},
                        .audio_shape = {1, 8, Ta, 16},
                        .fps = in->fps,
                        .video_noise_scale = 1.0,
                        .audio_noise_scale = 1.0,
                        .images = im,
                        .n_images = in->n_images,
                        .sigmas = s1,
                        .n_sigmas = n1,
                        .denoiser = &den};
    ltx_tensor *v1 = NULL, *a1 = NULL;
    ltx_status st = run_stage(p, in, &s, &v1, &a1);
    ltx_image_latents_free(im, in->n_images);

    /* x2 latent upsampling, stage 2 at full size re-noised at the first stage-2 sigma */
    ltx_two_stage t = {.what = "distilled", .stage2_loras = LTX_STAGE2_USER_ONLY};
    return ltx_two_stage_finish(p, in, &t, st, v1, a1, out);
}
