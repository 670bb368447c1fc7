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

#include "sampling/schedulers.h"

#include <stdlib.h>
#include <string.h>

ltx_status ltx_pipeline_keyframe_interpolation(ltx_pipe *p, const ltx_gen_inputs *in,
                                               ltx_gen_output *out)
{
    memset(out, 0, sizeof *out);
    if (in->height % 64 || in->width % 64)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "keyframe_interpolation: height/width must be "
                       "multiples of 64 (got %dx%d)",
                       in->height, in->width);
    if (in->steps < 1) return ltx_err(LTX_ERR_INVALID_ARG, "steps must be >= 1");
    if (in->n_images > LTX_PIPE_MAX_IMAGES)
        return ltx_err(LTX_ERR_INVALID_ARG, "at most %d --image", LTX_PIPE_MAX_IMAGES);
    float *sig = malloc(sizeof(float) * (size_t)(in->steps + 1));
    if (!sig) return ltx_err(LTX_ERR_OOM, "out of memory");
    ltx_ltx2_sched_params sp;
    ltx_ltx2_sched_params_init(&sp);
    ltx_status st = ltx_sched_ltx2(in->steps, &sp, sig);
    const float *s2;
    int n2 = ltx_sched_distilled(2, &s2);
    int64_t F = (in->num_frames - 1) / 8 + 1, Ta = ltx_audio_latent_frames(in->num_frames, in->fps);
    ltx_denoiser guided = {.v_ctx = in->v_ctx,
                           .a_ctx = in->a_ctx,
                           .v_neg = in->v_neg,
                           .a_neg = in->a_neg,
                           .vg = in->vg,
                           .ag = in->ag};
    ltx_denoiser simple = {.v_ctx = in->v_ctx, .a_ctx = in->a_ctx};
    ltx_image_latent im[LTX_PIPE_MAX_IMAGES];
    ltx_tensor *v1 = NULL, *a1 = NULL, *up = NULL, *v2 = NULL, *a2 = NULL;
    ltx_lora_set set;
    int h1 = in->height / 2, w1 = in->width / 2;

    /* stage 1: half size, guided, keyframe tokens (ref: image_conditionings_by_adding_
     * guiding_latent) */
    if (st == LTX_OK)
        st = ltx_stage_encode_images(p, in->ckpt, "stage1", in->images, in->n_images, h1, w1, im);
    if (st == LTX_OK) {
        ltx_stage_spec s = {.name = "stage1",
                            .video_shape = {1, 128, F, h1 / 32, w1 / 32},
                            .audio_shape = {1, 8, Ta, 16},
                            .fps = in->fps,
                            .video_noise_scale = 1.0,
                            .audio_noise_scale = 1.0,
                            .images = im,
                            .n_images = in->n_images,
                            .sigmas = sig,
                            .n_sigmas = in->steps + 1,
                            .denoiser = &guided,
                            .images_as_keyframes = true};
        st = ltx_pipeline_lora_set(in, false, -1, &set);
        if (st == LTX_OK) st = ltx_stage_run_fresh(p, in->ckpt, &set, &s, &v1, &a1);
        ltx_image_latents_free(im, in->n_images);
    }
    free(sig);
    if (st == LTX_OK) st = ltx_stage_upsample(p, in->ckpt, in->upsampler, v1, &up);
    ltx_tensor_free(v1);

    /* stage 2: full size, user + distilled LoRAs, keyframes re-encoded at full size */
    if (st == LTX_OK)
        st = ltx_stage_encode_images(p, in->ckpt, "stage2", in->images, in->n_images, in->height,
                                     in->width, im);
    if (st == LTX_OK) {
        ltx_stage_spec s = {.name = "stage2",
                            .video_shape = {1, 128, F, in->height / 32, in->width / 32},
                            .audio_shape = {1, 8, Ta, 16},
                            .fps = in->fps,
                            .video_init = up,
                            .audio_init = a1,
                            .video_noise_scale = s2[0],
                            .audio_noise_scale = s2[0],
                            .images = im,
                            .n_images = in->n_images,
                            .sigmas = s2,
                            .n_sigmas = n2,
                            .denoiser = &simple,
                            .images_as_keyframes = true};
        st = ltx_pipeline_lora_set(in, true, -1, &set);
        if (st == LTX_OK) st = ltx_stage_run_fresh(p, in->ckpt, &set, &s, &v2, &a2);
        ltx_image_latents_free(im, in->n_images);
    }
    ltx_tensor_free(up);
    ltx_tensor_free(a1);
    if (st == LTX_OK) st = ltx_pipeline_decode(p, in, v2, a2, out);
    ltx_tensor_free(v2);
    ltx_tensor_free(a2);
    if (st != LTX_OK) ltx_gen_output_free(out);
    return st;
}
