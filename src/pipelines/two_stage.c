/*
 * two_stage.c — the glue shared by the two-stage pipelines (two_stages, two_stages_hq,
 * keyframe_interpolation, a2vid_two_stage): stage 1 at half size on the LTX2 schedule with the
 * caller's denoiser, x2 latent upsampling, stage 2 at full size on the distilled stage-2 sigmas
 * (re-noised at the first one) with the simple denoiser. Each pipeline file keeps only what
 * differs (sampler, LoRA strengths, keyframe tokens, frozen audio, decode). The stage-2 half
 * (ltx_two_stage_refine) also serves distilled.c and ic_lora.c.
 *
 * ref: ltx_pipelines/ti2vid_two_stages.py, ti2vid_two_stages_hq.py, keyframe_interpolation.py,
 * a2vid_two_stage.py (__call__ bodies between prompt encoding and decode) @ a2c3f24 (and
 * 400fd31 for the decoded audio under reference 1.2); spec
 * pipelines.md §6.1, §6.2, §6.5, §6.6. Order of work (= RNG order): stage-1 image encode,
 * stage 1, upsample, stage-2 image encode, stage 2.
 */
#include "pipelines/pipelines.h"

#include "sampling/schedulers.h"

#include <stdlib.h>
#include <string.h>

static ltx_status check(const ltx_gen_inputs *in, const char *what, bool steps)
{
    if (in->height % 64 || in->width % 64)
        return ltx_err(LTX_ERR_INVALID_ARG, "%s: height/width must be multiples of 64 (got %dx%d)",
                       what, in->height, in->width);
    if (steps && in->steps < 1) return ltx_err(LTX_ERR_INVALID_ARG, "steps must be >= 1");
    if (in->n_images > LTX_PIPE_MAX_IMAGES)
        return ltx_err(LTX_ERR_INVALID_ARG, "at most %d --image", LTX_PIPE_MAX_IMAGES);
    return LTX_OK;
}

ltx_status ltx_two_stage_check(const ltx_gen_inputs *in, const char *what)
{
    return check(in, what, true);
}

/* Stage-1 image encode + stage 1: *v1, *a1 new tensors (also on error: free them). */
static ltx_status stage1(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_two_stage *t,
                         ltx_tensor **v1, ltx_tensor **a1)
{
    int h1 = in->height / 2, w1 = in->width / 2;
    int64_t F = (in->num_frames - 1) / 8 + 1, Ta = ltx_audio_latent_frames(in->num_frames, in->fps);
    const float *sig;
    float *owned = NULL; /* the LTX2 schedule */
    int n_sig;
    ltx_status st = LTX_OK;
    if (t->distilled_stage1) {
        n_sig = ltx_sched_distilled(1, &sig);
    } else {
        owned = malloc(sizeof(float) * (size_t)(in->steps + 1));
        if (!owned) return ltx_err(LTX_ERR_OOM, "out of memory");
        ltx_ltx2_sched_params sp;
        ltx_ltx2_sched_params_init(&sp);
        /* ref (HQ): scheduler.execute(latent=stage-1 shape) */
        if (t->shift_by_stage1_tokens) sp.tokens = F * (h1 / 32) * (w1 / 32);
        st = ltx_sched_ltx2(in->steps, &sp, owned);
        sig = owned;
        n_sig = in->steps + 1;
    }
    ltx_denoiser guided = {.v_ctx = in->v_ctx,
                           .a_ctx = in->a_ctx,
                           .v_neg = in->v_neg,
                           .a_neg = in->a_neg,
                           .vg = in->vg,
                           .ag = in->ag};
    ltx_denoiser simple = {.v_ctx = in->v_ctx, .a_ctx = in->a_ctx};
    ltx_denoiser *den = t->stage1_denoiser    ? t->stage1_denoiser
                        : t->distilled_stage1 ? &simple
                                              : &guided;
    ltx_image_latent im[LTX_PIPE_MAX_IMAGES];
    /* frozen audio: kept in both stages, noise scale 0 (ref: a2vid ModalitySpec frozen) */
    bool frozen = t->frozen_audio != NULL;

    /* stage 1: half size, the caller's denoiser, the stage-1 LoRAs */
    if (st == LTX_OK)
        st = ltx_stage_encode_images(p, in->ckpt, "stage1", in->images, in->n_images, h1, w1, im);
    if (st == LTX_OK) {
        ltx_stage_spec s = {.name = "stage1",
                            .video_shape = {1, 128, F, h1 / 32, w1 / 32},
                            .audio_shape = {1, 8, Ta, 16},
                            .fps = in->fps,
                            .audio_init = t->frozen_audio,
                            .video_noise_scale = 1.0,
                            .audio_noise_scale = frozen ? 0.0 : 1.0,
                            .images = im,
                            .n_images = in->n_images,
                            .sigmas = sig,
                            .n_sigmas = n_sig,
                            .denoiser = den,
                            .res2s = t->res2s,
                            .images_as_keyframes = t->images_as_keyframes,
                            .audio_frozen = frozen};
        st = ltx_pipeline_run_stage(p, in, t->stage1_distilled, t->stage1_dlora, &s, v1, a1);
        ltx_image_latents_free(im, in->n_images);
    }
    free(owned);
    return st;
}

ltx_status ltx_two_stage_run(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_two_stage *t,
                             ltx_tensor **video_out, ltx_tensor **audio_out)
{
    *video_out = NULL;
    *audio_out = NULL;
    ltx_tensor *v1 = NULL, *a1 = NULL;
    ltx_status st = stage1(p, in, t, &v1, &a1);
    if (st == LTX_OK)
        st = ltx_two_stage_refine(p, in, t, v1, a1, video_out, audio_out);
    else
        ltx_tensor_free(v1);
    ltx_tensor_free(a1);
    return st;
}

ltx_status ltx_two_stage_finish(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_two_stage *t,
                                ltx_status st, ltx_tensor *v1, ltx_tensor *a1, ltx_gen_output *out)
{
    ltx_tensor *v2 = NULL, *a2 = NULL;
    if (st == LTX_OK)
        st = ltx_two_stage_refine(p, in, t, v1, a1, &v2, &a2);
    else
        ltx_tensor_free(v1);
    /* ref: 400fd31 (1.2, 63fd9a4): TI2VidTwoStages(HQ)Pipeline decode the stage-1 audio (stage 2
     * still denoises audio and discards it); a2c3f24 (2026-04): the stage-2 audio */
    bool audio1 = t->stage1_audio && ltx_refver_is_1_2(p->ref);
    if (st == LTX_OK) st = ltx_pipeline_decode(p, in, v2, audio1 ? a1 : a2, out);
    ltx_tensor_free(a1);
    ltx_tensor_free(v2);
    ltx_tensor_free(a2);
    if (st != LTX_OK) ltx_gen_output_free(out);
    return st;
}

ltx_status ltx_two_stage_refine(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_two_stage *t,
                                ltx_tensor *v1, const ltx_tensor *a1, ltx_tensor **video_out,
                                ltx_tensor **audio_out)
{
    *video_out = NULL;
    *audio_out = NULL;
    const float *s2;
    int n2 = ltx_sched_distilled(2, &s2);
    int64_t F = (in->num_frames - 1) / 8 + 1, Ta = ltx_audio_latent_frames(in->num_frames, in->fps);
    ltx_denoiser simple = {.v_ctx = in->v_ctx, .a_ctx = in->a_ctx};
    ltx_image_latent im[LTX_PIPE_MAX_IMAGES];
    ltx_tensor *up = NULL;
    bool frozen = t->frozen_audio != NULL;

    /* x2 latent upsampling */
    ltx_status st = ltx_stage_upsample(p, in->ckpt, in->upsampler, v1, &up);
    ltx_tensor_free(v1);

    /* stage 2: full size, re-noised at the first stage-2 sigma (ref: stage_2_sigmas[0]) */
    if (st == LTX_OK)
        st = ltx_stage_encode_images(p, in->ckpt, "stage2", in->images, in->n_images, in->height,
                                     in->width, im);
    if (st == LTX_OK) {
        ltx_stage_spec s = {.name = "stage2",
                            .video_shape = {1, 128, F, in->height / 32, in->width / 32},
                            .audio_shape = {1, 8, Ta, 16},
                            .fps = in->fps,
                            .video_init = up,
                            .audio_init = frozen ? t->frozen_audio : a1,
                            .video_noise_scale = s2[0],
                            .audio_noise_scale = frozen ? 0.0 : s2[0],
                            .images = im,
                            .n_images = in->n_images,
                            .sigmas = s2,
                            .n_sigmas = n2,
                            .denoiser = &simple,
                            .res2s = t->res2s,
                            .images_as_keyframes = t->images_as_keyframes,
                            .audio_frozen = frozen};
        ltx_lora_set set, *loras = &set;
        if (t->stage2_loras == LTX_STAGE2_NO_LORAS)
            loras = NULL;
        else
            st = ltx_pipeline_lora_set(
                in, t->stage2_loras == LTX_STAGE2_USER_AND_DISTILLED,
                t->stage2_loras == LTX_STAGE2_USER_AND_DISTILLED ? t->stage2_dlora : -1, &set);
        if (st == LTX_OK) st = ltx_stage_run_fresh(p, in->ckpt, loras, &s, video_out, audio_out);
        ltx_image_latents_free(im, in->n_images);
    }
    ltx_tensor_free(up);
    if (st != LTX_OK) {
        ltx_tensor_free(*video_out);
        ltx_tensor_free(*audio_out);
        *video_out = *audio_out = NULL;
    }
    return st;
}

ltx_status ltx_two_stage_generate(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_two_stage *t,
                                  ltx_gen_output *out)
{
    memset(out, 0, sizeof *out);
    LTX_TRY(check(in, t->what, !t->distilled_stage1));
    ltx_tensor *v1 = NULL, *a1 = NULL;
    ltx_status st = stage1(p, in, t, &v1, &a1);
    return ltx_two_stage_finish(p, in, t, st, v1, a1, out);
}
