/*
 * blocks.c — the model blocks around the diffusion stages: latent x2 upsampling, video decode
 * (plain or tiled) to uint8 frames, audio decode (audio VAE decoder + vocoder) to a waveform,
 * and audio encode of an input waveform (a2vid, retake).
 * Each loads its model when called and frees it before returning (spec §10.2), or takes it
 * from and gives it back to the engine's model cache (models.c).
 *
 * ref: ltx_pipelines/utils/blocks.py (VideoUpsampler, VideoDecoder, AudioDecoder),
 * ltx_core/model/upsampler/model.py (upsample_video), ltx_core/model/video_vae (decode_video)
 * @ a2c3f24; spec pipelines.md §5 steps 5 and 8.
 */
#include "pipelines/stages.h"

#include "models/audio_vae.h"
#include "models/upsampler.h"
#include "models/video_vae.h"
#include "models/vocoder.h"

#include <stdlib.h>
#include <string.h>

ltx_status ltx_stage_upsample(ltx_pipe *p, const ltx_st_file *ckpt, const ltx_st_file *ups,
                              const ltx_tensor *latent, ltx_tensor **out)
{
    *out = NULL;
    double t0 = ltx_pipe_now();
    ltx_latent_upsampler *u = NULL;
    LTX_TRY(ltx_pipe_upsampler(p, ups, &u));
    ltx_status s = ltx_latent_upsampler_check_two_stage(u);
    /* only the encoder's per-channel statistics are used (ref: VideoUpsampler) */
    ltx_st_weight_src ws;
    ltx_weight_src src = ltx_st_weight_src_init(&ws, ckpt, "vae.");
    ltx_vae_stats stats = {0};
    if (s == LTX_OK) s = ltx_vae_stats_load(&stats, p->be, &src, (int)latent->shape[1]);
    ltx_pipe_rec(p, "upsampler.in", latent);
    if (s == LTX_OK) s = ltx_upsample_video(u, &stats, latent, NULL, out);
    if (s == LTX_OK && p->state_dtype == LTX_BF16)
        s = p->be->ops->unary(p->be, LTX_UNARY_ROUND_BF16, *out, *out, 0, 0);
    if (s == LTX_OK) ltx_pipe_rec(p, "upsampler.out", *out);
    ltx_vae_stats_release(&stats);
    if (!ltx_pipe_model_done(p, u)) ltx_latent_upsampler_free(u);
    if (s != LTX_OK) {
        ltx_tensor_free(*out);
        *out = NULL;
        return s;
    }
    ltx_pipe_add_time(p, "upsample", ltx_pipe_now() - t0);
    return LTX_OK;
}

typedef struct chunk_sink {
    ltx_pipe *p;
    ltx_backend *be;
    uint8_t *frames; /* (F, H, W, 3) */
    int64_t n, h, w;
} chunk_sink;

static ltx_status on_chunk(void *user, const ltx_tensor *chunk, int64_t frame0)
{
    chunk_sink *k = user;
    /* NaN would become black pixels in the uint8 conversion */
    LTX_TRY(ltx_pipe_check_finite(k->p, chunk, "video decode", "decoded frames"));
    ltx_tensor *u8 = ltx_video_to_uint8(k->be, chunk);
    if (!u8) return ltx_err_failed();
    int64_t f = u8->shape[0];
    ltx_status s = LTX_OK;
    if (frame0 < 0 || frame0 + f > k->n || u8->shape[1] != k->h || u8->shape[2] != k->w)
        s = ltx_err(LTX_ERR_INTERNAL, "decoded chunk at frame %lld does not fit the video",
                    (long long)frame0);
    if (s == LTX_OK)
        s = ltx_tensor_download(u8, k->frames + (size_t)frame0 * k->h * k->w * 3, LTX_U8);
    ltx_tensor_free(u8);
    return s;
}

ltx_status ltx_stage_decode_video(ltx_pipe *p, const ltx_st_file *ckpt, const ltx_tensor *latent,
                                  uint8_t **frames, int *n, int *h, int *w,
                                  ltx_tensor **video_float)
{
    *frames = NULL;
    if (video_float) *video_float = NULL;
    double t0 = ltx_pipe_now();
    ltx_video_decoder *dec = NULL;
    LTX_TRY(ltx_pipe_video_decoder(p, ckpt, &dec));
    /* ref: decode_video — (F'-1)*8+1 frames of 32x the latent grid */
    chunk_sink k = {p,
                    p->be,
                    NULL,
                    1 + (latent->shape[2] - 1) * 8,
                    latent->shape[3] * 32,
                    latent->shape[4] * 32};
    ltx_status s = LTX_OK;
    k.frames = malloc((size_t)(k.n * k.h * k.w * 3));
    if (!k.frames) s = ltx_err(LTX_ERR_OOM, "decoded video: out of memory");
    ltx_vae_decode_opts opts = {.timestep = NULL, .rng = p->rng};
    if (s == LTX_OK && p->tiled_decode) {
        /* ref: 400fd31 (1.2) AUTO_TILING; a2c3f24 (2026-04) TilingConfig.default() */
        ltx_vae_tiling t =
            ltx_refver_is_1_2(p->ref) ? ltx_vae_tiling_auto_v12() : ltx_vae_tiling_default();
        s = ltx_video_decoder_tiled(dec, latent, &t, &opts, on_chunk, &k);
    } else if (s == LTX_OK) {
        ltx_tensor *x = NULL;
        s = ltx_video_decoder_forward(dec, latent, &opts, NULL, &x);
        if (s == LTX_OK && p->state_dtype == LTX_BF16)
            s = p->be->ops->unary(p->be, LTX_UNARY_ROUND_BF16, x, x, 0, 0);
        if (s == LTX_OK) ltx_pipe_rec(p, "out.video_float", x);
        if (s == LTX_OK) s = on_chunk(&k, x, 0);
        if (s == LTX_OK && video_float)
            *video_float = x;
        else
            ltx_tensor_free(x);
    }
    if (!ltx_pipe_model_done(p, dec)) ltx_video_decoder_free(dec);
    p->be->ops->memory_cleanup(p->be); /* end of the decode stage */
    if (s == LTX_OK && p->record) {
        int64_t shape[4] = {k.n, k.h, k.w, 3};
        ltx_tensor *t = ltx_tensor_from_host(p->be, LTX_U8, 4, shape, k.frames);
        ltx_pipe_rec(p, "out.video_frames_uint8", t);
        ltx_tensor_free(t);
    }
    if (s != LTX_OK) {
        free(k.frames);
        if (video_float) {
            ltx_tensor_free(*video_float);
            *video_float = NULL;
        }
        return s;
    }
    *frames = k.frames;
    *n = (int)k.n;
    *h = (int)k.h;
    *w = (int)k.w;
    ltx_pipe_add_time(p, "video_decode", ltx_pipe_now() - t0);
    return LTX_OK;
}

ltx_status ltx_stage_decode_audio(ltx_pipe *p, const ltx_st_file *ckpt, const ltx_tensor *latent,
                                  float **wave, int64_t *n, int *rate)
{
    *wave = NULL;
    *n = 0;
    *rate = 0;
    ltx_audio_decoder *dec = NULL;
    ltx_vocoder *voc = NULL;
    ltx_tensor *w = NULL;
    ltx_status s = ltx_pipe_audio_decoder(p, ckpt, &dec);
    if (s == LTX_OK) s = ltx_pipe_vocoder(p, ckpt, &voc);
    /* (2, N) at the vocoder's output rate (48 kHz with the LTX-2.3 bandwidth extension) */
    if (s == LTX_OK) s = ltx_audio_decode_full(dec, voc, latent, NULL, &w);
    if (s == LTX_OK && (w->ndim != 2 || w->shape[0] != 2))
        s = ltx_err(LTX_ERR_INTERNAL, "audio decode: expected a (2, N) waveform");
    if (s == LTX_OK) s = ltx_pipe_check_finite(p, w, "audio decode", "decoded audio samples");
    if (s == LTX_OK) {
        *rate = ltx_vocoder_output_rate(voc);
        *n = w->shape[1];
        *wave = ltx_tensor_to_host_f32(w);
        if (!*wave) s = ltx_err_failed();
    }
    ltx_tensor_free(w);
    if (!ltx_pipe_model_done(p, voc)) ltx_vocoder_free(voc);
    if (!ltx_pipe_model_done(p, dec)) ltx_audio_decoder_free(dec);
    p->be->ops->memory_cleanup(p->be); /* end of the audio decode stage */
    return s;
}

ltx_status ltx_stage_encode_audio(ltx_pipe *p, const ltx_st_file *ckpt, const float *wave,
                                  int64_t n, int rate, const char *what, ltx_tensor **out)
{
    *out = NULL;
    ltx_audio_encoder *enc = NULL;
    LTX_TRY(ltx_pipe_audio_encoder(p, ckpt, &enc));
    int64_t ws[3] = {1, 2, n};
    ltx_tensor *w = ltx_tensor_from_host(p->be, LTX_F32, 3, ws, wave);
    ltx_status s = w ? ltx_audio_encode_waveform(enc, w, rate, NULL, out)
                     : ltx_err(LTX_ERR_OOM, "%s: out of memory", what);
    ltx_tensor_free(w);
    if (!ltx_pipe_model_done(p, enc)) ltx_audio_encoder_free(enc);
    if (s == LTX_OK && p->state_dtype == LTX_BF16)
        s = p->be->ops->unary(p->be, LTX_UNARY_ROUND_BF16, *out, *out, 0, 0);
    if (s != LTX_OK) {
        ltx_tensor_free(*out);
        *out = NULL;
    }
    return s;
}
