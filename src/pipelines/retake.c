/*
 * retake.c — regenerate a time window of an existing video: the source video and audio are
 * encoded to latents that start one distilled stage at the source size; a time-window mask
 * makes only the tokens overlapping [start, end) noisy, the rest stays exactly clean.
 *
 * ref: ltx_pipelines/retake.py (RetakePipeline.__call__, distilled=True) and
 * utils/helpers.py (video_latent_from_file, audio_latent_from_file) @ a2c3f24; spec
 * pipelines.md §4.6, §6.7. The reference CLI crashes on `args.distilled` (spec §14 item 1);
 * this is the distilled mode its parser implies. Order of work: source video encode (tiled,
 * TilingConfig.default()), source audio encode, stage (video noise, audio noise), video decode,
 * audio decode (the whole track is re-synthesised by the audio VAE + vocoder).
 */
#include "pipelines/pipelines_cond.h"

#include "io/media.h"
#include "models/video_vae.h"
#include "nn/nn.h"
#include "sampling/conditioning.h"
#include "sampling/schedulers.h"

#include <stdlib.h>
#include <string.h>

typedef struct region {
    const ltx_cond_inputs *c;
    bool audio;
} region;

/* TemporalRegionMask on both modalities (audio only when the source has an audio track). */
static ltx_status apply_region(void *user, ltx_pipe *p, const ltx_stage_spec *s, bool audio,
                               ltx_latent_state *st)
{
    region *r = user;
    if (!audio) {
        LTX_TRY(ltx_cond_region_video(p->be, st, s->video_shape, s->fps, r->c->start_time,
                                      r->c->end_time));
        ltx_pipe_rec(p, "region_mask.video", st->denoise_mask);
        return LTX_OK;
    }
    if (!r->audio) return LTX_OK; /* no source audio: a new track from zeros, mask 1 */
    LTX_TRY(ltx_cond_region_audio(p->be, st, s->audio_shape[2], r->c->start_time, r->c->end_time));
    ltx_pipe_rec(p, "region_mask.audio", st->denoise_mask);
    return LTX_OK;
}

static ltx_status round_if_bf16(ltx_pipe *p, ltx_tensor *t)
{
    if (p->state_dtype != LTX_BF16) return LTX_OK;
    return p->be->ops->unary(p->be, LTX_UNARY_ROUND_BF16, t, t, 0, 0);
}

/* video_latent_from_file after decoding: preprocess at the source size, tiled encode,
 * conform to F latent frames. */
static ltx_status encode_video(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_cond_video *v,
                               int64_t F, ltx_tensor **out)
{
    *out = NULL;
    double t0 = ltx_pipe_now();
    size_t plane = (size_t)v->n * in->height * in->width;
    float *pix = malloc(sizeof(float) * 3 * plane);
    if (!pix) return ltx_err(LTX_ERR_OOM, "retake: out of memory");
    ltx_status s = ltx_media_preprocess(v->rgb, v->n, v->h, v->w, in->height, in->width,
                                        p->state_dtype == LTX_BF16, pix);
    ltx_tensor *x = NULL, *lat = NULL;
    if (s == LTX_OK) {
        int64_t shape[5] = {1, 3, v->n, in->height, in->width};
        x = ltx_tensor_from_host(p->be, LTX_F32, 5, shape, pix);
        if (!x) s = ltx_err(LTX_ERR_OOM, "retake: out of memory");
    }
    free(pix);
    ltx_video_encoder *enc = NULL;
    if (s == LTX_OK) s = ltx_pipe_video_encoder(p, in->ckpt, &enc);
    ltx_vae_tiling t = ltx_vae_tiling_default();
    if (s == LTX_OK) s = ltx_video_encoder_tiled(enc, x, &t, &lat);
    if (!ltx_pipe_model_done(p, enc)) ltx_video_encoder_free(enc);
    ltx_tensor_free(x);
    if (s == LTX_OK) s = round_if_bf16(p, lat);
    if (s == LTX_OK) {
        ltx_pipe_rec(p, "source.video_latent", lat);
        *out = ltx_cond_conform_frames(p->be, lat, F);
        if (!*out) s = ltx_err_failed();
    }
    ltx_tensor_free(lat);
    if (s == LTX_OK) ltx_pipe_rec(p, "source.video_latent_conformed", *out);
    ltx_pipe_add_time(p, "source_video_encode", ltx_pipe_now() - t0);
    return s;
}

/* audio_latent_from_file after decoding: encode_audio, conform to T_a frames. */
static ltx_status encode_audio(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_cond_inputs *c,
                               int64_t Ta, ltx_tensor **out)
{
    *out = NULL;
    double t0 = ltx_pipe_now();
    ltx_tensor *lat = NULL;
    ltx_status s =
        ltx_stage_encode_audio(p, in->ckpt, c->audio, c->audio_n, c->audio_rate, "retake", &lat);
    if (s == LTX_OK) {
        ltx_pipe_rec(p, "source.audio_latent", lat);
        *out = ltx_cond_conform_frames(p->be, lat, Ta);
        if (!*out) s = ltx_err_failed();
    }
    ltx_tensor_free(lat);
    if (s == LTX_OK) ltx_pipe_rec(p, "source.audio_latent_conformed", *out);
    ltx_pipe_add_time(p, "source_audio_encode", ltx_pipe_now() - t0);
    return s;
}

ltx_status ltx_pipeline_retake(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_cond_inputs *c,
                               ltx_gen_output *out)
{
    memset(out, 0, sizeof *out);
    if (!(c->start_time < c->end_time))
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "retake: start_time (%g) must be less than end_time "
                       "(%g)",
                       c->start_time, c->end_time);
    const ltx_cond_video *v = &c->source;
    if (!v->rgb || v->n < 1 || (v->n - 1) % 8 || in->height % 32 || in->width % 32)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "retake: the source must have 8k+1 frames and sides "
                       "that are multiples of 32 (got %d frames, %dx%d)",
                       v->n, in->width, in->height);
    int64_t F = (v->n - 1) / 8 + 1, Ta = ltx_audio_latent_frames(v->n, in->fps);
    ltx_tensor *vlat = NULL, *alat = NULL, *vo = NULL, *ao = NULL;
    ltx_status st = encode_video(p, in, v, F, &vlat);
    bool has_audio = c->audio && c->audio_n > 0;
    if (st == LTX_OK && has_audio) st = encode_audio(p, in, c, Ta, &alat);
    const float *sig;
    int ns = ltx_sched_distilled(1, &sig);
    ltx_denoiser simple = {.v_ctx = in->v_ctx, .a_ctx = in->a_ctx};
    region r = {c, has_audio};
    if (st == LTX_OK) {
        ltx_stage_spec s = {.name = "stage1",
                            .video_shape = {1, 128, F, in->height / 32, in->width / 32},
                            .audio_shape = {1, 8, Ta, 16},
                            .fps = in->fps,
                            .video_init = vlat,
                            .audio_init = alat,
                            .video_noise_scale = 1.0,
                            .audio_noise_scale = 1.0,
                            .sigmas = sig,
                            .n_sigmas = ns,
                            .denoiser = &simple,
                            .cond = apply_region,
                            .cond_user = &r};
        st = ltx_pipeline_run_stage(p, in, false, -1, &s, &vo, &ao);
    }
    ltx_tensor_free(vlat);
    ltx_tensor_free(alat);
    if (st == LTX_OK) st = ltx_pipeline_decode(p, in, vo, ao, out);
    ltx_tensor_free(vo);
    ltx_tensor_free(ao);
    if (st != LTX_OK) ltx_gen_output_free(out);
    return st;
}
