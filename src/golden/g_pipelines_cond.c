/*
 * g_pipelines_cond.c — golden handlers of the conditioning pipelines (function id = pipeline
 * name): pipeline_keyframe_interpolation, pipeline_a2vid_two_stage, pipeline_retake,
 * pipeline_ic_lora.
 *
 * Replay as g_pipelines.c (golden README "How to replay a pipeline golden in the port" and
 * "Conditioning pipeline goldens"): float32 state and positions, stored post-connector
 * contexts, every noise draw from the stored in.stageK.noise.* tensor or — `verify
 * --noise-from-seed` — from params.seed with the torch CPU generator in params.noise_order
 * (each draw then compared with the stored one). The media derived by the reference are fed
 * from the stored tensors (the README's advice), and our own decode of the media files is
 * compared with them on the side: the CRF round trip of each keyframe image, the a2vid WAV
 * decode, the retake source video + audio decode, and the IC-LoRA mask-video preprocessing.
 * Every intermediate the pipeline records (stageK.*, audio.*, source.*, reference.*,
 * region_mask.*, upsampler.*) is compared by name at the case tolerance.
 */
#include "golden/cases.h"
#include "core/parse.h"
#include "golden/g_pipelines_replay.h"

#include "io/media.h"
#include "nn/nn.h"
#include "pipelines/pipelines_cond.h"
#include "sampling/conditioning.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Our decode of a media file's audio, compared with the stored reference decode. */
static ltx_status check_audio_decode(gp_replay *r, const char *file, double start, double dur,
                                     const char *name)
{
    char path[1024];
    ltx_golden_resolve(r->g, "media", file, path, sizeof path);
    ltx_audio a = {0};
    ltx_status s = ltx_audio_decode(path, start, dur, true, &a);
    if (s == LTX_OK) {
        int64_t shape[3] = {1, a.channels, a.n};
        s = ltx_golden_emit_host(r->g, name, LTX_F32, 3, shape, a.data);
    }
    ltx_audio_free(&a);
    return s;
}

static const char *media_file(const cJSON *p, const char *key)
{
    /* params.<key>.file is "media/x" (relative to the golden root) or "x" */
    const char *f = ltx_json_str(cJSON_GetObjectItemCaseSensitive(p, key), "file", "");
    return strncmp(f, "media/", 6) ? f : f + 6;
}

typedef ltx_status (*cond_fn)(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_cond_inputs *c,
                              ltx_gen_output *out);

static ltx_status finish(gp_replay *r, cond_fn fn, ltx_status s)
{
    ltx_gen_output o = {0};
    if (s == LTX_OK) s = fn(&r->p, &r->in, &r->c, &o);
    if (s == LTX_OK) s = ltx_gp_emit_output(r->g, &o);
    ltx_gen_output_free(&o);
    ltx_gp_replay_free(r);
    return s;
}

static ltx_status keyframe(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_cond_inputs *c,
                           ltx_gen_output *out)
{
    (void)c;
    return ltx_pipeline_keyframe_interpolation(p, in, out);
}

ltx_status ltx_g_pipeline_keyframe_interpolation(ltx_golden_ctx *g)
{
    gp_replay r = {0};
    return finish(&r, keyframe, ltx_gp_replay_setup(g, &r));
}

ltx_status ltx_g_pipeline_a2vid_two_stage(ltx_golden_ctx *g)
{
    gp_replay r = {0};
    ltx_status s = ltx_gp_replay_setup(g, &r);
    const cJSON *p = ltx_golden_params(g);
    int64_t sh[3];
    float *w = s == LTX_OK ? ltx_gp_stored(&r, "in.audio.waveform", LTX_F32, sh, 3) : NULL;
    if (s == LTX_OK && !w) s = ltx_err_failed();
    if (s == LTX_OK && sh[1] != 2) s = ltx_err(LTX_ERR_FORMAT, "in.audio.waveform: not stereo");
    if (s == LTX_OK) {
        r.c.audio = w;
        r.c.audio_n = sh[2];
        r.c.audio_rate = (int)ltx_json_int(p, "audio_sampling_rate", 0);
        s = check_audio_decode(&r, media_file(p, "audio_file"),
                               ltx_json_num(p, "audio_start_time", 0),
                               ltx_json_num(p, "audio_max_duration", 0), "in.audio.waveform");
    }
    return finish(&r, ltx_pipeline_a2vid_two_stage, s);
}

ltx_status ltx_g_pipeline_retake(ltx_golden_ctx *g)
{
    gp_replay r = {0};
    ltx_status s = ltx_gp_replay_setup(g, &r);
    const cJSON *p = ltx_golden_params(g), *src = cJSON_GetObjectItemCaseSensitive(p, "source");
    int64_t vs[4], as[3];
    uint8_t *rgb = s == LTX_OK ? ltx_gp_stored(&r, "in.source.frames_uint8", LTX_U8, vs, 4) : NULL;
    float *w = rgb ? ltx_gp_stored(&r, "in.source.audio_waveform", LTX_F32, as, 3) : NULL;
    if (s == LTX_OK && !w) s = ltx_err_failed();
    if (s == LTX_OK) {
        double fps = ltx_json_num(src, "fps", 24.0);
        r.in.num_frames = (int)vs[0];
        r.in.height = (int)vs[1];
        r.in.width = (int)vs[2];
        r.in.fps = fps;
        r.c.source = (ltx_cond_video){rgb, (int)vs[0], (int)vs[1], (int)vs[2], 1.0};
        r.c.audio = w;
        r.c.audio_n = as[2];
        r.c.audio_rate = (int)ltx_json_int(src, "audio_sample_rate", 48000);
        r.c.start_time = ltx_json_num(p, "start_time", 0);
        r.c.end_time = ltx_json_num(p, "end_time", 0);
        /* our FFmpeg decode of the source file against the reference's PyAV decode */
        char path[1024];
        ltx_golden_resolve(g, "media", media_file(p, "source"), path, sizeof path);
        ltx_frames f = {0};
        s = ltx_video_decode_time(path, 0.0, vs[0] / fps, &f);
        if (s == LTX_OK) {
            int64_t shape[4] = {f.n, f.h, f.w, 3};
            s = ltx_golden_emit_host(g, "in.source.frames_uint8", LTX_U8, 4, shape, f.rgb);
        }
        ltx_frames_free(&f);
        if (s == LTX_OK)
            s = check_audio_decode(&r, media_file(p, "source"), 0.0, vs[0] / fps,
                                   "in.source.audio_waveform");
    }
    return finish(&r, ltx_pipeline_retake, s);
}

ltx_status ltx_g_pipeline_ic_lora(ltx_golden_ctx *g)
{
    gp_replay r = {0};
    ltx_status s = ltx_gp_replay_setup(g, &r);
    const cJSON *p = ltx_golden_params(g);
    int64_t rs[4], ms[5], fs[4];
    uint8_t *ref =
        s == LTX_OK ? ltx_gp_stored(&r, "in.reference.frames_uint8", LTX_U8, rs, 4) : NULL;
    float *mask = ref ? ltx_gp_stored(&r, "in.conditioning_attention_mask", LTX_F32, ms, 5) : NULL;
    uint8_t *mf = mask ? ltx_gp_stored(&r, "in.mask_video.frames_uint8", LTX_U8, fs, 4) : NULL;
    if (s == LTX_OK && !mf) s = ltx_err_failed();
    if (s == LTX_OK) {
        r.c.refs[0] = (ltx_cond_video){ref, (int)rs[0], (int)rs[1], (int)rs[2],
                                       ltx_json_num(p, "reference_strength", 1.0)};
        r.c.n_refs = 1;
        r.c.attn_mask = mask;
        r.c.mask_n = (int)ms[2];
        r.c.attn_strength = ltx_json_num(p, "conditioning_attention_strength", 1.0);
        r.c.downscale = (int)ltx_json_int(p, "reference_downscale_factor", 1);
        /* the factor comes from the IC-LoRA's metadata (ref: __init__) */
        const char *md =
            r.n_lora ? ltx_lora_metadata(r.lora[0], "reference_downscale_factor") : NULL;
        int md_k = 0;
        if (!md || !ltx_parse_int(md, 1, 1 << 20, &md_k) || md_k != r.c.downscale)
            s = ltx_err(LTX_ERR_FORMAT,
                        "IC-LoRA metadata reference_downscale_factor %s, the "
                        "case says %d",
                        md ? md : "(none)", r.c.downscale);
    }
    if (s == LTX_OK) { /* _load_mask_video on the stored frames */
        size_t n = (size_t)(ms[2] * ms[3] * ms[4]);
        float *ours = malloc(sizeof(float) * n);
        s = ours ? ltx_cond_mask_from_frames(mf, (int)fs[0], (int)fs[1], (int)fs[2], (int)ms[3],
                                             (int)ms[4], ours)
                 : ltx_err(LTX_ERR_OOM, "out of memory");
        if (s == LTX_OK)
            s = ltx_golden_emit_host(g, "in.conditioning_attention_mask", LTX_F32, 5, ms, ours);
        free(ours);
    }
    return finish(&r, ltx_pipeline_ic_lora, s);
}
