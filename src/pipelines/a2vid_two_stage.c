/*
 * a2vid_two_stage.c — audio-to-video in two stages: the input audio is encoded once by the
 * audio VAE and kept frozen (noise scale 0, denoise mask 0) in both stages while the video is
 * generated around it; the output carries the input waveform unchanged.
 *
 * ref: ltx_pipelines/a2vid_two_stage.py (A2VidPipelineTwoStage.__call__) @ a2c3f24; spec
 * pipelines.md §4.7, §6.6. Order of work (= RNG order): audio encode, stage-1 image encode,
 * stage 1 (video noise, audio noise — drawn although scaled by 0), upsample, stage-2 image
 * encode, stage 2, video decode. Stage 1 uses the static guided denoiser with the video
 * guider only: the audio guider has the library defaults (no guidance) and no negative audio
 * context, so the uncond pass reuses the positive audio context. Audio shorter than the video
 * is refused here (the reference dies on a shape assertion); callers may pad beforehand.
 */
#include "pipelines/pipelines_cond.h"

#include "nn/nn.h"
#include "sampling/conditioning.h"

#include <stdlib.h>
#include <string.h>

/* encode_audio + [:, :, :T_a] (ref: vae_encode_audio in __call__). */
static ltx_status encode_audio(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_cond_inputs *c,
                               int64_t Ta, ltx_tensor **out)
{
    *out = NULL;
    double t0 = ltx_pipe_now();
    ltx_tensor *lat = NULL;
    ltx_status s =
        ltx_stage_encode_audio(p, in->ckpt, c->audio, c->audio_n, c->audio_rate, "audio", &lat);
    if (s == LTX_OK) ltx_pipe_rec(p, "audio.encoded_latent", lat);
    if (s == LTX_OK && lat->shape[2] < Ta)
        s = ltx_err(LTX_ERR_INVALID_ARG,
                    "a2vid: the audio (%.3f s) encodes to %lld latent "
                    "frames, the video needs %lld: give at least %.3f s of audio or pad it "
                    "with silence",
                    (double)c->audio_n / c->audio_rate, (long long)lat->shape[2], (long long)Ta,
                    in->num_frames / in->fps);
    if (s == LTX_OK) {
        *out = ltx_cond_conform_frames(p->be, lat, Ta);
        if (!*out) s = ltx_err_failed();
    }
    ltx_tensor_free(lat);
    if (s == LTX_OK) ltx_pipe_rec(p, "audio.frozen_latent", *out);
    ltx_pipe_add_time(p, "audio_encode", ltx_pipe_now() - t0);
    return s;
}

ltx_status ltx_pipeline_a2vid_two_stage(ltx_pipe *p, const ltx_gen_inputs *in,
                                        const ltx_cond_inputs *c, ltx_gen_output *out)
{
    memset(out, 0, sizeof *out);
    LTX_TRY(ltx_two_stage_check(in, "a2vid_two_stage"));
    if (!c->audio || c->audio_n <= 0 || c->audio_rate <= 0)
        return ltx_err(LTX_ERR_INVALID_ARG, "a2vid_two_stage: no input audio");
    ltx_tensor *alat = NULL;
    LTX_TRY(encode_audio(p, in, c, ltx_audio_latent_frames(in->num_frames, in->fps), &alat));

    /* video guidance only; a_neg NULL = the positive audio context in the uncond pass */
    ltx_denoiser guided = {
        .v_ctx = in->v_ctx, .a_ctx = in->a_ctx, .v_neg = in->v_neg, .vg = in->vg};
    ltx_two_stage t = {.what = "a2vid_two_stage",
                       .stage1_denoiser = &guided,
                       .stage1_dlora = -1,
                       .stage2_dlora = -1,
                       .frozen_audio = alat};
    ltx_tensor *v2 = NULL, *a2 = NULL;
    ltx_status st = ltx_two_stage_run(p, in, &t, &v2, &a2);
    ltx_tensor_free(alat);
    ltx_tensor_free(a2);
    if (st == LTX_OK)
        st = ltx_stage_decode_video(p, in->ckpt, v2, &out->frames, &out->n_frames, &out->h, &out->w,
                                    NULL);
    ltx_tensor_free(v2);
    /* ref: the original decoded waveform is returned, not a VAE decode */
    if (st == LTX_OK) {
        size_t n = (size_t)(2 * c->audio_n);
        out->audio = malloc(sizeof(float) * n);
        if (!out->audio)
            st = ltx_err(LTX_ERR_OOM, "out of memory");
        else {
            memcpy(out->audio, c->audio, sizeof(float) * n);
            out->n_samples = c->audio_n;
            out->sample_rate = c->audio_rate;
            out->audio_status = LTX_OK;
        }
    }
    if (st != LTX_OK) ltx_gen_output_free(out);
    return st;
}
