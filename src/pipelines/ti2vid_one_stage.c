/*
 * ti2vid_one_stage.c — text/image-to-video in one guided stage at full resolution.
 *
 * ref: ltx_pipelines/ti2vid_one_stage.py (TI2VidOneStagePipeline.__call__) @ a2c3f24; spec
 * pipelines.md §6.3. Order of work: image encode, stage 1 (LTX2 schedule with 4096 tokens,
 * guided denoiser, Euler, user LoRAs), video decode (untiled in the reference), audio decode.
 */
#include "pipelines/pipelines.h"

#include "sampling/schedulers.h"

#include <stdlib.h>
#include <string.h>

ltx_status ltx_pipeline_one_stage(ltx_pipe *p, const ltx_gen_inputs *in, ltx_gen_output *out)
{
    memset(out, 0, sizeof *out);
    if (in->height % 32 || in->width % 32)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "one-stage: height/width must be multiples of 32 "
                       "(got %dx%d)",
                       in->height, in->width);
    if (in->steps < 1) return ltx_err(LTX_ERR_INVALID_ARG, "steps must be >= 1");
    if (in->n_images > LTX_PIPE_MAX_IMAGES)
        return ltx_err(LTX_ERR_INVALID_ARG, "at most %d --image", LTX_PIPE_MAX_IMAGES);
    float *sig = malloc(sizeof(float) * (size_t)(in->steps + 1));
    if (!sig) return ltx_err(LTX_ERR_OOM, "out of memory");
    ltx_ltx2_sched_params sp;
    ltx_ltx2_sched_params_init(&sp); /* ref: default_number_of_tokens 4096 (no latent given) */
    ltx_status st = ltx_sched_ltx2(in->steps, &sp, sig);
    int64_t F = (in->num_frames - 1) / 8 + 1, Ta = ltx_audio_latent_frames(in->num_frames, in->fps);
    ltx_denoiser den = {.v_ctx = in->v_ctx,
                        .a_ctx = in->a_ctx,
                        .v_neg = in->v_neg,
                        .a_neg = in->a_neg,
                        .vg = in->vg,
                        .ag = in->ag};
    ltx_image_latent im[LTX_PIPE_MAX_IMAGES];
    ltx_tensor *v = NULL, *a = NULL;
    if (st == LTX_OK)
        st = ltx_stage_encode_images(p, in->ckpt, "stage1", in->images, in->n_images, in->height,
                                     in->width, im);
    if (st == LTX_OK) {
        ltx_stage_spec s = {.name = "stage1",
                            .video_shape = {1, 128, F, in->height / 32, in->width / 32},
                            .audio_shape = {1, 8, Ta, 16},
                            .fps = in->fps,
                            .video_noise_scale = 1.0,
                            .audio_noise_scale = 1.0,
                            .images = im,
                            .n_images = in->n_images,
                            .sigmas = sig,
                            .n_sigmas = in->steps + 1,
                            .denoiser = &den};
        st = ltx_pipeline_run_stage(p, in, false, -1, &s, &v, &a);
        ltx_image_latents_free(im, in->n_images);
    }
    free(sig);
    if (st == LTX_OK) st = ltx_pipeline_decode(p, in, v, a, out);
    ltx_tensor_free(v);
    ltx_tensor_free(a);
    if (st != LTX_OK) ltx_gen_output_free(out);
    return st;
}
