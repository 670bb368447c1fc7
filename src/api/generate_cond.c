/*
 * generate_cond.c — the public calls of the conditioning pipelines (ltx.h "conditioning
 * pipelines"): keyframe_interpolation, a2vid_two_stage, retake, ic_lora. Each validates every
 * argument and decodes every input medium before any weight is loaded (so a bad file costs
 * nothing and leaves no output), then encodes the prompts, runs the pipeline
 * (src/pipelines/pipelines_cond.h) and writes the mp4 like src/api/generate.c.
 *
 * ref: the main() functions of ltx_pipelines/{keyframe_interpolation,a2vid_two_stage,retake,
 * ic_lora}.py and utils/args.py @ a2c3f24; spec pipelines.md §6.5-6.8, §8, §14.
 *
 * Deliberate differences from the reference (spec §14):
 *   - keyframe --image indices may be negative, counted from the end (-1 = the last frame; the
 *     reference would place it at pixel time -1); indices outside the video are refused.
 *   - a2vid: mono / multichannel audio is converted to stereo (logged) instead of failing;
 *     audio that would encode to fewer latent frames than the video needs is refused with a
 *     plain message before any weight loads (the reference dies on a shape assertion), or
 *     padded with silence when asked (pad_audio). The audio-guidance flags, which the
 *     reference parses and ignores, are refused when changed.
 *   - retake works (the reference CLI crashes on args.distilled) in the distilled mode its
 *     parser implies; `fit` trims/crops a source to the nearest valid shape; the window must
 *     lie inside the source; the output keeps the source's exact frame rate.
 *   - ic_lora: reference strengths and the mask strength must be in [0, 1]; a mask whose
 *     frame count cannot be averaged onto the reference's latent frames is refused up front.
 */
#include "ltx.h"
#include "core/parse.h"

#include "api/engine.h"
#include "api/generate_internal.h"
#include "io/media.h"
#include "models/lora.h"
#include "models/text_encoder.h"
#include "pipelines/pipelines_cond.h"
#include "sampling/conditioning.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ltx_a2vid_params_init(ltx_a2vid_params *p)
{
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
}

void ltx_retake_params_init(ltx_retake_params *p)
{
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
}

void ltx_ic_lora_params_init(ltx_ic_lora_params *p)
{
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->attention_mask_strength = 1.0;
}

typedef enum kind { K_KEYFRAME, K_A2VID, K_RETAKE, K_IC_LORA } kind;

/* Everything one call owns. */
typedef struct crun {
    ltx_gen_run b; /* what every generate call owns */
    kind k;
    ltx_image_input images[LTX_PIPE_MAX_IMAGES]; /* resolved frame indices */
    ltx_cond_inputs c;
    ltx_audio audio;                    /* a2vid input / retake source audio */
    uint8_t *source;                    /* retake frames (fitted) */
    ltx_frames refs[LTX_COND_MAX_REFS]; /* ic_lora reference videos */
    float *mask;                        /* ic_lora attention mask (n, h/2, w/2) */
    ltx_rational fps;                   /* output rate */
    const char *extra_inputs[LTX_COND_MAX_REFS + 2];
    int n_extra;
} crun;

static void crun_free(crun *r)
{
    ltx_gen_run_free(&r->b);
    ltx_audio_free(&r->audio);
    free(r->source);
    for (int i = 0; i < LTX_COND_MAX_REFS; i++)
        ltx_frames_free(&r->refs[i]);
    free(r->mask);
}

static ltx_status open_loras(crun *r, const char *flag, const ltx_lora_input *l, int n)
{
    for (int i = 0; i < n; i++) {
        if (r->b.n_lora == LTX_MAX_LORAS) return ltx_err(LTX_ERR_INVALID_ARG, "too many LoRAs");
        ltx_status s = ltx_lora_open(l[i].path, &r->b.lora[r->b.n_lora]);
        if (s != LTX_OK)
            return ltx_err(LTX_ERR_INVALID_ARG, "%s %s: not a LoRA file (%s)", flag, l[i].path,
                           ltx_err_message());
        r->b.lora_s[r->b.n_lora++] = l[i].strength;
    }
    return LTX_OK;
}

/* Validation passed and inputs are decoded: prompts, pipeline, mp4. */
static ltx_status drive(crun *r, const ltx_generate_params *g, int frames, const char *negative,
                        bool tiled)
{
    const char *inputs[4 + LTX_PIPE_MAX_IMAGES + LTX_MAX_LORAS + LTX_COND_MAX_REFS + 2];
    int ni = 0;
    inputs[ni++] = ltx_st_path(r->b.ckpt);
    if (r->b.ups) inputs[ni++] = ltx_st_path(r->b.ups);
    inputs[ni++] = g->tokenizer;
    for (int i = 0; i < g->n_images; i++)
        inputs[ni++] = g->images[i].path;
    for (int i = 0; i < r->b.n_lora; i++)
        inputs[ni++] = ltx_lora_path(r->b.lora[i]);
    for (int i = 0; i < r->n_extra; i++)
        inputs[ni++] = r->extra_inputs[i];
    if (g->output_path) LTX_TRY(ltx_media_check_output(g->output_path, inputs, ni));
    if (ltx_gen_validate_only(g)) return LTX_OK;
    ltx_gen_cache_files(&r->b, g);
    for (int i = 0; i < g->n_images; i++)
        r->b.img[i] = (ltx_pipe_image){.path = r->images[i].path,
                                       .frame_idx = r->images[i].frame_idx,
                                       .strength = r->images[i].strength,
                                       .crf = r->images[i].crf};
    r->b.in.ckpt = r->b.ckpt;
    r->b.in.upsampler = r->b.ups;
    r->b.in.num_frames = frames;
    r->b.in.images = r->b.img;
    r->b.in.n_images = g->n_images;
    ltx_gen_set_loras(&r->b.in, r->b.lora, r->b.lora_s, r->b.n_user, r->b.n_lora);

    double t_text;
    LTX_TRY(ltx_gen_encode_prompts(r->b.e, r->b.ckpt, g, negative, r->b.ctx, &r->b.in, &t_text));
    r->b.rng = ltx_rng_new_torch_cpu(g->seed);
    if (!r->b.rng) return ltx_err_failed();
    ltx_pipe p;
    ltx_gen_pipe_init(&p, r->b.e, r->b.rng, g, tiled);
    ltx_gen_output o = {0};
    ltx_status s;
    switch (r->k) {
    case K_KEYFRAME:
        s = ltx_pipeline_keyframe_interpolation(&p, &r->b.in, &o);
        break;
    case K_A2VID:
        s = ltx_pipeline_a2vid_two_stage(&p, &r->b.in, &r->c, &o);
        break;
    case K_RETAKE:
        s = ltx_pipeline_retake(&p, &r->b.in, &r->c, &o);
        break;
    default:
        s = ltx_pipeline_ic_lora(&p, &r->b.in, &r->c, &o);
        break;
    }
    if (s == LTX_OK) s = ltx_gen_write_output(r->b.e, g, r->fps, &p, &o);
    ltx_gen_output_free(&o);
    return s;
}

static ltx_status finish(ltx_engine *e, crun *r, ltx_status s)
{
    crun_free(r);
    pthread_mutex_unlock(&e->lock);
    return ltx_engine_set_error(e, s);
}

/* Frame count after the 8k+1 rule (the refusal itself is ltx_gen_check_common's). */
static int frames_of(const ltx_generate_params *g)
{
    int n = g->num_frames;
    if (n >= 1 && (n - 1) % 8 && g->round_frames) n = (n - 1) / 8 * 8 + 1;
    return n;
}

/* Shared by the two guided pipelines: params, checkpoint, upsampler, LoRAs, guidance. */
static ltx_status open_guided(crun *r, const ltx_generate_params *g, const ltx_guided_params *p)
{
    LTX_TRY(ltx_gen_check_guided(p, true));
    LTX_TRY(ltx_gen_open_checkpoint("--checkpoint-path", p->checkpoint_path, g, &r->b.ckpt));
    LTX_TRY(
        ltx_gen_open_upsampler("--spatial-upsampler-path", p->spatial_upsampler_path, &r->b.ups));
    LTX_TRY(open_loras(r, "--lora", g->loras, g->n_loras));
    r->b.n_user = r->b.n_lora;
    LTX_TRY(open_loras(r, "--distilled-lora", p->distilled_loras, p->n_distilled_loras));
    /* a2vid: the audio is frozen, its (default) STG blocks are never used */
    LTX_TRY(ltx_gen_check_transformer(r->b.ckpt, "--checkpoint-path", p, r->k != K_A2VID));
    ltx_gen_to_guider(&p->video, &r->b.vg);
    ltx_gen_to_guider(&p->audio, &r->b.ag);
    r->b.in.vg = &r->b.vg;
    r->b.in.ag = &r->b.ag;
    r->b.in.steps = p->num_inference_steps;
    r->b.in.height = g->height;
    r->b.in.width = g->width;
    r->b.in.fps = g->frame_rate;
    r->fps = ltx_rational_from_fps(g->frame_rate);
    return LTX_OK;
}

/* ---- keyframe_interpolation ---- */

/* Copies the images with negative indices resolved from the end; refuses indices outside. */
static ltx_status resolve_images(crun *r, const ltx_generate_params *g, int frames,
                                 ltx_generate_params *g2)
{
    *g2 = *g;
    if (g->n_images > LTX_PIPE_MAX_IMAGES)
        return ltx_err(LTX_ERR_INVALID_ARG, "--image: at most %d images", LTX_PIPE_MAX_IMAGES);
    for (int i = 0; i < g->n_images; i++) {
        r->images[i] = g->images[i];
        int k = g->images[i].frame_idx;
        int f = k < 0 ? frames + k : k;
        if (f < 0 || f >= frames)
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "--image %s: frame index %d is outside the video "
                           "(%d frames: 0..%d, or -1..-%d counted from the end)",
                           g->images[i].path, k, frames, frames - 1, frames);
        if (k < 0)
            LTX_INFO(&r->b.e->log, "--image %s: frame index %d is frame %d", g->images[i].path, k,
                     f);
        r->images[i].frame_idx = f;
    }
    g2->images = r->images;
    return LTX_OK;
}

ltx_status ltx_generate_keyframe_interpolation(ltx_engine *e, const ltx_generate_params *g,
                                               const ltx_guided_params *p)
{
    if (!e) return ltx_err(LTX_ERR_INVALID_ARG, "no engine");
    pthread_mutex_lock(&e->lock);
    crun r = {.b.e = e, .k = K_KEYFRAME};
    int frames = 0;
    ltx_generate_params g2;
    ltx_status s = g && g->struct_size >= sizeof *g
                       ? resolve_images(&r, g, frames_of(g), &g2)
                       : ltx_err(LTX_ERR_INVALID_ARG, "generate params: struct_size too small");
    if (s == LTX_OK) s = ltx_gen_check_common(&g2, 64, &frames);
    if (s == LTX_OK && g2.n_images == 0)
        LTX_WARN(&e->log, "keyframe_interpolation without --image: plain text-to-video");
    if (s == LTX_OK) s = open_guided(&r, &g2, p);
    if (s == LTX_OK)
        s = drive(&r, &g2, frames,
                  p->negative_prompt ? p->negative_prompt
                                     : ltx_gen_default_negative(ltx_gen_reference(g)),
                  true);
    return finish(e, &r, s);
}

/* ---- a2vid_two_stage ---- */

/* Latent frames the audio VAE encoder yields for n samples at sr (ref: resample to 16 kHz,
 * mel with hop 160 and center padding, two stride-2 downsamplings). */
static int64_t audio_latent_len(int64_t n, int sr)
{
    int64_t n16 = ltx_audio_resample_len(n, sr, 16000);
    int64_t mel = n16 / 160 + 1;
    return ((mel - 1) / 2) / 2 + 1;
}

static ltx_status load_a2vid_audio(crun *r, const ltx_a2vid_params *a, int frames, double fps)
{
    LTX_TRY(ltx_gen_check_file("--audio-path", a->audio_path));
    if (!(a->audio_start_time >= 0))
        return ltx_err(LTX_ERR_INVALID_ARG, "--audio-start-time %g: must be >= 0",
                       a->audio_start_time);
    if (!(isfinite(a->audio_max_duration) && a->audio_max_duration >= 0))
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "--audio-max-duration %g: must be a positive number of seconds",
                       a->audio_max_duration);
    double video_s = frames / fps;
    double dur = a->audio_max_duration > 0 ? a->audio_max_duration : video_s;
    ltx_status s = ltx_audio_decode(a->audio_path, a->audio_start_time, dur, true, &r->audio);
    if (s != LTX_OK)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "--audio-path %s: no audio could be decoded from "
                       "%.3f s (%s)",
                       a->audio_path, a->audio_start_time, ltx_err_message());
    if (r->audio.src_channels == 0 || r->audio.n == 0)
        return ltx_err(LTX_ERR_INVALID_ARG, "--audio-path %s: %s", a->audio_path,
                       r->audio.src_channels == 0 ? "the file has no audio stream"
                                                  : "no audio samples in the window");
    LTX_TRY(ltx_gen_check_audio_finite("--audio-path", a->audio_path, &r->audio));
    if (r->audio.src_channels != 2)
        LTX_WARN(&r->b.e->log, "--audio-path %s: %d channel%s, %s (the audio VAE takes stereo)",
                 a->audio_path, r->audio.src_channels, r->audio.src_channels == 1 ? "" : "s",
                 r->audio.mix);
    if (r->audio.sample_rate != 16000)
        LTX_INFO(&r->b.e->log,
                 "--audio-path %s: %d Hz, resampled to 16 kHz for the audio encoder "
                 "(the output keeps %d Hz)",
                 a->audio_path, r->audio.sample_rate, r->audio.sample_rate);
    int64_t Ta = ltx_audio_latent_frames(frames, fps),
            got = audio_latent_len(r->audio.n, r->audio.sample_rate);
    if (got < Ta) {
        double have = (double)r->audio.n / r->audio.sample_rate;
        if (!a->pad_audio)
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "--audio-path %s: %.3f s of audio from %.3f s is "
                           "shorter than the video (%d frames at %g fps = %.3f s; it encodes to "
                           "%lld of the %lld audio latent frames needed); use a longer file or "
                           "start time, fewer --num-frames, or --pad-audio to pad with silence",
                           a->audio_path, have, a->audio_start_time, frames, fps, video_s,
                           (long long)got, (long long)Ta);
        /* pad to the video's duration, and further if the encoder still comes up short */
        int64_t n = (int64_t)ceil(video_s * r->audio.sample_rate);
        if (n < r->audio.n) n = r->audio.n;
        while (audio_latent_len(n, r->audio.sample_rate) < Ta)
            n += r->audio.sample_rate / 100 + 1;
        float *d = calloc((size_t)(2 * n), sizeof(float));
        if (!d) return ltx_err(LTX_ERR_OOM, "audio padding: out of memory");
        for (int c = 0; c < 2; c++)
            memcpy(d + c * n, r->audio.data + c * r->audio.n, sizeof(float) * (size_t)r->audio.n);
        LTX_WARN(&r->b.e->log, "--pad-audio: %.3f s of audio padded with %.3f s of silence", have,
                 (double)(n - r->audio.n) / r->audio.sample_rate);
        free(r->audio.data);
        r->audio.data = d;
        r->audio.n = n;
    }
    r->c.audio = r->audio.data;
    r->c.audio_n = r->audio.n;
    r->c.audio_rate = r->audio.sample_rate;
    return LTX_OK;
}

/* The audio is frozen: any change of the audio guidance would be silently ignored. */
static ltx_status check_no_audio_guidance(const ltx_guided_params *p)
{
    ltx_guided_params d;
    ltx_guided_params_init(&d);
    const ltx_guidance *a = &p->audio, *b = &d.audio;
    bool same = a->cfg_scale == b->cfg_scale && a->stg_scale == b->stg_scale &&
                a->rescale_scale == b->rescale_scale && a->modality_scale == b->modality_scale &&
                a->skip_step == b->skip_step && a->n_stg_blocks == b->n_stg_blocks &&
                !memcmp(a->stg_blocks, b->stg_blocks, sizeof(int) * (size_t)a->n_stg_blocks);
    if (!same)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "a2vid_two_stage: the audio is given and stays fixed, "
                       "so audio guidance (--audio-cfg-guidance-scale, --audio-stg-guidance-scale, "
                       "--audio-rescale-scale, --audio-stg-blocks, --audio-skip-step, "
                       "--v2a-guidance-scale) has no effect; remove those flags");
    return LTX_OK;
}

ltx_status ltx_generate_a2vid_two_stage(ltx_engine *e, const ltx_generate_params *g,
                                        const ltx_guided_params *p, const ltx_a2vid_params *a)
{
    if (!e) return ltx_err(LTX_ERR_INVALID_ARG, "no engine");
    pthread_mutex_lock(&e->lock);
    crun r = {.b.e = e, .k = K_A2VID};
    int frames = 0;
    ltx_status s = ltx_gen_check_common(g, 64, &frames);
    if (s == LTX_OK && (!p || p->struct_size < sizeof *p || !a || a->struct_size < sizeof *a))
        s = ltx_err(LTX_ERR_INVALID_ARG, "a2vid params: struct_size too small");
    if (s == LTX_OK) s = check_no_audio_guidance(p);
    if (s == LTX_OK) {
        memcpy(r.images, g->images, sizeof(ltx_image_input) * (size_t)g->n_images);
        s = load_a2vid_audio(&r, a, frames, g->frame_rate);
    }
    if (s == LTX_OK) s = open_guided(&r, g, p);
    if (s == LTX_OK) {
        r.extra_inputs[r.n_extra++] = a->audio_path;
        s = drive(&r, g, frames,
                  p->negative_prompt ? p->negative_prompt
                                     : ltx_gen_default_negative(ltx_gen_reference(g)),
                  true);
    }
    return finish(e, &r, s);
}

/* ---- retake ---- */

/* Probes, fits and decodes the source video and its audio. Sets the clip's size/frames/rate
 * on r->b.in and *g2. */
static ltx_status load_retake_source(crun *r, const ltx_retake_params *p, ltx_generate_params *g2)
{
    const char *path = p->video_path;
    LTX_TRY(ltx_gen_check_file("--video-path", path));
    ltx_video_info vi;
    if (ltx_media_probe_video(path, &vi) != LTX_OK)
        return ltx_err(LTX_ERR_INVALID_ARG, "--video-path %s: not a readable video (%s)", path,
                       ltx_err_message());
    if (vi.frames < 1 || !(vi.fps > 0))
        return ltx_err(LTX_ERR_INVALID_ARG, "--video-path %s: no frames or no frame rate", path);
    if (!(vi.fps >= LTX_GEN_MIN_FPS && vi.fps <= LTX_GEN_MAX_FPS))
        return ltx_err(LTX_ERR_INVALID_ARG, "--video-path %s: frame rate %g is outside [%g, %g]",
                       path, vi.fps, LTX_GEN_MIN_FPS, LTX_GEN_MAX_FPS);
    int64_t n = vi.frames, nf = (n - 1) / 8 * 8 + 1;
    int h = vi.height, w = vi.width, hf = h / 32 * 32, wf = w / 32 * 32;
    if (!p->fit && nf != n)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "--video-path %s: %lld frames; retake needs 8k+1 "
                       "frames (e.g. %lld or %lld): trim the video, or pass --fit to use the "
                       "first %lld",
                       path, (long long)n, (long long)nf, (long long)nf + 8, (long long)nf);
    if (!p->fit && (hf != h || wf != w))
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "--video-path %s: %dx%d; retake needs a width and "
                       "height that are multiples of 32 (e.g. %dx%d): crop the video, or pass "
                       "--fit to center-crop it",
                       path, w, h, wf > 0 ? wf : 32, hf > 0 ? hf : 32);
    if (hf < 32 || wf < 32)
        return ltx_err(LTX_ERR_INVALID_ARG, "--video-path %s: %dx%d is smaller than 32x32", path, w,
                       h);
    if (nf != n || hf != h || wf != w)
        LTX_WARN(&r->b.e->log,
                 "--fit: using the first %lld of %lld frames, center-cropped from "
                 "%dx%d to %dx%d",
                 (long long)nf, (long long)n, w, h, wf, hf);
    double dur = (double)nf / vi.fps;
    if (!(p->start_time < p->end_time))
        return ltx_err(LTX_ERR_INVALID_ARG, "--start-time %g must be less than --end-time %g",
                       p->start_time, p->end_time);
    if (p->start_time < 0 || p->start_time >= dur || p->end_time > dur + 1e-6)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "--start-time %g --end-time %g: the window must lie "
                       "inside the source video (0 .. %.3f s, %lld frames at %g fps)",
                       p->start_time, p->end_time, dur, (long long)nf, vi.fps);
    /* ref: decode_video_from_file(0, frames / fps) — by timestamp */
    ltx_frames f = {0};
    ltx_status s = ltx_video_decode_time(path, 0.0, dur, &f);
    if (s != LTX_OK)
        return ltx_err(LTX_ERR_INVALID_ARG, "--video-path %s: decoding failed (%s)", path,
                       ltx_err_message());
    if (f.n < nf || f.h != h || f.w != w) {
        ltx_frames_free(&f);
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "--video-path %s: decoded %d frames of %dx%d, the "
                       "container says %lld of %dx%d",
                       path, f.n, f.w, f.h, (long long)nf, w, h);
    }
    r->source = malloc((size_t)(nf * hf * wf * 3));
    if (!r->source) {
        ltx_frames_free(&f);
        return ltx_err(LTX_ERR_OOM, "out of memory");
    }
    int top = (h - hf) / 2, left = (w - wf) / 2;
    for (int64_t k = 0; k < nf; k++)
        for (int y = 0; y < hf; y++)
            memcpy(r->source + ((k * hf + y) * wf) * 3, f.rgb + ((k * h + y + top) * w + left) * 3,
                   (size_t)wf * 3);
    ltx_frames_free(&f);
    s = ltx_audio_decode(path, 0.0, dur, true, &r->audio);
    if (s != LTX_OK)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "--video-path %s: its audio could not be decoded "
                       "(%s)",
                       path, ltx_err_message());
    if (r->audio.src_channels) LTX_TRY(ltx_gen_check_audio_finite("--video-path", path, &r->audio));
    if (r->audio.src_channels == 0)
        LTX_INFO(&r->b.e->log, "--video-path %s has no audio: a new audio track is generated",
                 path);
    else if (r->audio.src_channels != 2)
        LTX_WARN(&r->b.e->log, "--video-path %s: %d audio channels, %s", path,
                 r->audio.src_channels, r->audio.mix);
    r->c.source = (ltx_cond_video){r->source, (int)nf, hf, wf, 1.0};
    r->c.audio = r->audio.src_channels ? r->audio.data : NULL;
    r->c.audio_n = r->audio.src_channels ? r->audio.n : 0;
    r->c.audio_rate = r->audio.sample_rate;
    r->c.start_time = p->start_time;
    r->c.end_time = p->end_time;
    r->b.in.height = hf;
    r->b.in.width = wf;
    r->b.in.fps = vi.fps;
    r->fps = vi.avg_rate; /* the source's exact rate (the reference truncates to int) */
    g2->height = hf;
    g2->width = wf;
    g2->num_frames = (int)nf;
    g2->frame_rate = vi.fps;
    return LTX_OK;
}

ltx_status ltx_generate_retake(ltx_engine *e, const ltx_generate_params *g,
                               const ltx_retake_params *p)
{
    if (!e) return ltx_err(LTX_ERR_INVALID_ARG, "no engine");
    pthread_mutex_lock(&e->lock);
    crun r = {.b.e = e, .k = K_RETAKE};
    int frames = 0;
    ltx_generate_params g2;
    ltx_status s = LTX_OK;
    if (!g || g->struct_size < offsetof(ltx_generate_params, reference_version) || !p ||
        p->struct_size < sizeof *p)
        s = ltx_err(LTX_ERR_INVALID_ARG, "retake params: struct_size too small");
    if (s == LTX_OK && g->n_images) s = ltx_err(LTX_ERR_INVALID_ARG, "retake takes no --image");
    if (s == LTX_OK) { /* the caller's struct may be older (shorter): copy what it has */
        memset(&g2, 0, sizeof g2);
        memcpy(&g2, g, g->struct_size < sizeof g2 ? g->struct_size : sizeof g2);
        s = load_retake_source(&r, p, &g2);
    }
    if (s == LTX_OK) s = ltx_gen_check_common(&g2, 32, &frames);
    if (s == LTX_OK)
        s = ltx_gen_open_checkpoint("--distilled-checkpoint-path", p->distilled_checkpoint_path, g,
                                    &r.b.ckpt);
    if (s == LTX_OK)
        s = ltx_gen_check_transformer(r.b.ckpt, "--distilled-checkpoint-path", NULL, false);
    if (s == LTX_OK) s = open_loras(&r, "--lora", g->loras, g->n_loras);
    r.b.n_user = r.b.n_lora;
    if (s == LTX_OK) {
        r.extra_inputs[r.n_extra++] = p->video_path;
        s = drive(&r, &g2, frames, NULL, true);
    }
    return finish(e, &r, s);
}

/* ---- ic_lora ---- */

/* reference_downscale_factor of the LoRAs (ref: ICLoraPipeline.__init__). */
static ltx_status downscale_factor(crun *r, int *out)
{
    *out = 1;
    for (int i = 0; i < r->b.n_lora; i++) {
        const char *md = ltx_lora_metadata(r->b.lora[i], "reference_downscale_factor");
        int k = 1;
        if (md && !ltx_parse_int(md, 1, 64, &k)) {
            LTX_WARN(&r->b.e->log,
                     "--lora %s: reference_downscale_factor \"%s\" unreadable, using "
                     "1",
                     ltx_lora_path(r->b.lora[i]), md);
            k = 1;
        }
        if (k != 1 && *out != 1 && *out != k)
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "--lora %s: reference_downscale_factor %d "
                           "conflicts with %d of an earlier --lora",
                           ltx_lora_path(r->b.lora[i]), k, *out);
        if (k != 1) *out = k;
    }
    return LTX_OK;
}

static ltx_status load_ic_media(crun *r, const ltx_generate_params *g, const ltx_ic_lora_params *p,
                                int frames)
{
    int h1 = g->height / 2, w1 = g->width / 2, ds = r->c.downscale;
    if (h1 % ds || w1 % ds || (h1 / ds) % 32 || (w1 / ds) % 32)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "--height %d --width %d: the reference video is "
                       "encoded at half that size divided by the IC-LoRA's "
                       "reference_downscale_factor %d, which must give multiples of 32 (use "
                       "multiples of %d)",
                       g->height, g->width, ds, 64 * ds);
    if (p->n_video_conditioning < 1)
        return ltx_err(LTX_ERR_INVALID_ARG, "--video-conditioning is required");
    if (p->n_video_conditioning > LTX_COND_MAX_REFS)
        return ltx_err(LTX_ERR_INVALID_ARG, "--video-conditioning: at most %d", LTX_COND_MAX_REFS);
    for (int i = 0; i < p->n_video_conditioning; i++) {
        const ltx_video_cond_input *v = &p->video_conditioning[i];
        LTX_TRY(ltx_gen_check_file("--video-conditioning", v->path));
        if (!(v->strength >= 0 && v->strength <= 1))
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "--video-conditioning %s: strength %g is outside "
                           "[0, 1]",
                           v->path, v->strength);
        /* ref: decode_video_by_frame(frame_cap = num_frames) */
        ltx_status dst = ltx_video_decode_frames(v->path, 0, frames, &r->refs[i]);
        if (dst != LTX_OK || r->refs[i].n < 1)
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "--video-conditioning %s: not a readable video "
                           "(%s)",
                           v->path, dst != LTX_OK ? ltx_err_message() : "no frames");
        r->c.refs[i] =
            (ltx_cond_video){r->refs[i].rgb, r->refs[i].n, r->refs[i].h, r->refs[i].w, v->strength};
        r->extra_inputs[r->n_extra++] = v->path;
    }
    r->c.n_refs = p->n_video_conditioning;
    r->c.attn_strength = 1.0;
    if (!p->attention_mask_path) return LTX_OK;
    const char *mp = p->attention_mask_path;
    LTX_TRY(ltx_gen_check_file("--conditioning-attention-mask", mp));
    if (!(p->attention_mask_strength >= 0 && p->attention_mask_strength <= 1))
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "--conditioning-attention-mask %s: strength %g is "
                       "outside [0, 1]",
                       mp, p->attention_mask_strength);
    ltx_frames m = {0};
    ltx_status mst = ltx_video_decode_frames(mp, 0, frames, &m);
    if (mst != LTX_OK || m.n < 1) {
        ltx_frames_free(&m);
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "--conditioning-attention-mask %s: not a readable "
                       "video (%s)",
                       mp, mst != LTX_OK ? ltx_err_message() : "no frames");
    }
    for (int i = 0; i < r->c.n_refs; i++) {
        int64_t fl = ((r->refs[i].n - 1) / 8 * 8) / 8 + 1;
        if ((m.n > 1 && fl > 1 && (m.n - 1) % (fl - 1)) || (m.n == 1 && fl > 1) ||
            (fl == 1 && m.n > 1)) {
            ltx_frames_free(&m);
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "--conditioning-attention-mask %s: %d frames "
                           "cannot be averaged onto the %lld latent frames of reference %s "
                           "((frames - 1) must be a multiple of %lld); give the mask as many "
                           "frames as the reference",
                           mp, m.n, (long long)fl, p->video_conditioning[i].path,
                           (long long)(fl > 1 ? fl - 1 : 1));
        }
    }
    r->mask = malloc(sizeof(float) * (size_t)m.n * h1 * w1);
    ltx_status s = r->mask ? ltx_cond_mask_from_frames(m.rgb, m.n, m.h, m.w, h1, w1, r->mask)
                           : ltx_err(LTX_ERR_OOM, "out of memory");
    r->c.attn_mask = r->mask;
    r->c.mask_n = m.n;
    r->c.attn_strength = p->attention_mask_strength;
    r->extra_inputs[r->n_extra++] = mp;
    ltx_frames_free(&m);
    return s;
}

ltx_status ltx_generate_ic_lora(ltx_engine *e, const ltx_generate_params *g,
                                const ltx_ic_lora_params *p)
{
    if (!e) return ltx_err(LTX_ERR_INVALID_ARG, "no engine");
    pthread_mutex_lock(&e->lock);
    crun r = {.b.e = e, .k = K_IC_LORA};
    int frames = 0;
    ltx_status s = ltx_gen_check_common(g, 64, &frames);
    if (s == LTX_OK && (!p || p->struct_size < sizeof *p))
        s = ltx_err(LTX_ERR_INVALID_ARG, "ic_lora params: struct_size too small");
    if (s == LTX_OK) s = open_loras(&r, "--lora", g->loras, g->n_loras);
    r.b.n_user = r.b.n_lora;
    if (s == LTX_OK && r.b.n_lora == 0)
        LTX_WARN(&e->log, "ic_lora without --lora: the reference video is appended without an "
                          "IC-LoRA trained to use it");
    if (s == LTX_OK) s = downscale_factor(&r, &r.c.downscale);
    if (s == LTX_OK) s = load_ic_media(&r, g, p, frames);
    if (s == LTX_OK)
        s = ltx_gen_open_checkpoint("--distilled-checkpoint-path", p->distilled_checkpoint_path, g,
                                    &r.b.ckpt);
    if (s == LTX_OK)
        s = ltx_gen_check_transformer(r.b.ckpt, "--distilled-checkpoint-path", NULL, false);
    if (s == LTX_OK && (!p->skip_stage_2 || p->spatial_upsampler_path))
        s = ltx_gen_open_upsampler("--spatial-upsampler-path", p->spatial_upsampler_path, &r.b.ups);
    if (s == LTX_OK) {
        memcpy(r.images, g->images, sizeof(ltx_image_input) * (size_t)g->n_images);
        r.c.skip_stage_2 = p->skip_stage_2 != 0;
        r.b.in.height = g->height;
        r.b.in.width = g->width;
        r.b.in.fps = g->frame_rate;
        r.fps = ltx_rational_from_fps(g->frame_rate);
        s = drive(&r, g, frames, NULL, true);
    }
    return finish(e, &r, s);
}
