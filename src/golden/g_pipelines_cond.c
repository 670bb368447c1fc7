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

#include "io/media.h"
#include "nn/nn.h"
#include "pipelines/pipelines_cond.h"
#include "sampling/conditioning.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct noise_src {
    ltx_golden_ctx *g;
    ltx_rng *rng; /* --noise-from-seed */
} noise_src;

static ltx_status golden_noise(void *user, const char *name, int64_t T, int64_t C, ltx_tensor **out)
{
    noise_src *ns = user;
    char key[96];
    snprintf(key, sizeof key, "in.%s", name);
    if (!ns->rng) {
        ltx_tensor *t = ltx_golden_tensor(ns->g, key);
        if (!t) return LTX_ERR_FORMAT;
        *out = nn_contiguous(ltx_golden_backend(ns->g), t, LTX_F32);
        ltx_tensor_free(t);
        return *out ? LTX_OK : LTX_ERR_OOM;
    }
    size_t n = (size_t)(T * C);
    float *h = malloc(sizeof(float) * (n ? n : 1));
    if (!h) return ltx_err(LTX_ERR_OOM, "out of memory");
    ltx_status s = ltx_rng_randn_f32(ns->rng, h, (int64_t)n);
    int64_t shape[3] = {1, T, C};
    if (s == LTX_OK) {
        *out = ltx_tensor_from_host(ltx_golden_backend(ns->g), LTX_F32, 3, shape, h);
        if (!*out) s = LTX_ERR_OOM;
    }
    free(h);
    if (s == LTX_OK) s = ltx_golden_emit(ns->g, key, *out); /* the draw equals the stored one */
    return s;
}

#define MAX_HOST 8

/* Everything a replay owns. */
typedef struct replay {
    ltx_golden_ctx *g;
    ltx_st_file *ckpt, *ups;
    ltx_tensor *ctx[4]; /* positive video, audio, negative video, audio */
    ltx_pipe_image img[LTX_PIPE_MAX_IMAGES];
    void *host[MAX_HOST]; /* host copies of stored media (freed at the end) */
    int n_host;
    noise_src ns;
    ltx_guider_params vg, ag;
    ltx_lora *lora[LTX_MAX_LORAS];
    double lora_s[LTX_MAX_LORAS];
    int n_lora;
    ltx_gen_inputs in;
    ltx_cond_inputs c;
    ltx_pipe p;
} replay;

static void replay_free(replay *r)
{
    ltx_st_close(r->ckpt);
    ltx_st_close(r->ups);
    for (int i = 0; i < 4; i++)
        ltx_tensor_free(r->ctx[i]);
    for (int i = 0; i < r->n_host; i++)
        free(r->host[i]);
    ltx_rng_free(r->ns.rng);
    for (int i = 0; i < r->n_lora; i++)
        ltx_lora_close(r->lora[i]);
}

/* Host copy of a stored tensor in `dt`; kept until replay_free. shape[] receives its dims. */
static void *stored(replay *r, const char *name, ltx_dtype dt, int64_t *shape, int cap)
{
    if (r->n_host == MAX_HOST) {
        ltx_err(LTX_ERR_INTERNAL, "too many stored inputs");
        return NULL;
    }
    ltx_tensor *t = ltx_golden_tensor(r->g, name);
    if (!t) return NULL;
    for (int i = 0; i < cap; i++)
        shape[i] = i < t->ndim ? t->shape[i] : 1;
    size_t es = dt == LTX_U8 ? 1 : sizeof(float);
    void *h = malloc(es * (size_t)(ltx_tensor_numel(t) + 1));
    ltx_status s = h ? ltx_tensor_download(t, h, dt) : ltx_err(LTX_ERR_OOM, "out of memory");
    ltx_tensor_free(t);
    if (s != LTX_OK) {
        free(h);
        return NULL;
    }
    r->host[r->n_host++] = h;
    return h;
}

static bool has_tensor(replay *r, const char *name)
{
    return ltx_st_find(ltx_golden_file(r->g), name) != NULL;
}

static void guider_from(const cJSON *j, ltx_guider_params *gp)
{
    ltx_guider_params_init(gp);
    gp->cfg_scale = ltx_json_num(j, "cfg_scale", 1.0);
    gp->stg_scale = ltx_json_num(j, "stg_scale", 0.0);
    gp->rescale_scale = ltx_json_num(j, "rescale_scale", 0.0);
    gp->modality_scale = ltx_json_num(j, "modality_scale", 1.0);
    gp->skip_step = (int)ltx_json_int(j, "skip_step", 0);
    int64_t b[LTX_MAX_STG_BLOCKS];
    int n = ltx_json_int_array(j, "stg_blocks", b, LTX_MAX_STG_BLOCKS);
    for (int i = 0; i < n; i++)
        gp->stg_blocks[i] = (int)b[i];
    gp->n_stg_blocks = n > 0 ? n : 0;
}

static ltx_status open_lora_list(replay *r, const cJSON *list)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        if (r->n_lora == LTX_MAX_LORAS) return ltx_err(LTX_ERR_FORMAT, "too many LoRAs");
        char path[1024];
        ltx_golden_resolve(r->g, "ckpt", ltx_json_str(it, "file", ""), path, sizeof path);
        LTX_TRY(ltx_lora_open(path, &r->lora[r->n_lora]));
        r->lora_s[r->n_lora++] = ltx_json_num(it, "strength", 1.0);
    }
    return LTX_OK;
}

/* params.stage_loras: stage 1 = user (or IC-) LoRAs, stage 2's entries beyond them = the
 * distilled LoRAs (spec §7). */
static ltx_status setup_loras(replay *r)
{
    const cJSON *sl = cJSON_GetObjectItemCaseSensitive(ltx_golden_params(r->g), "stage_loras");
    LTX_TRY(open_lora_list(r, cJSON_GetObjectItemCaseSensitive(sl, "stage1")));
    int n_user = r->n_lora;
    const cJSON *l2 = cJSON_GetObjectItemCaseSensitive(sl, "stage2");
    for (int i = n_user; i < cJSON_GetArraySize(l2); i++) {
        cJSON *one = cJSON_CreateArray();
        cJSON_AddItemReferenceToArray(one, cJSON_GetArrayItem(l2, i));
        ltx_status s = open_lora_list(r, one);
        cJSON_Delete(one);
        LTX_TRY(s);
    }
    r->in.loras = (const ltx_lora *const *)r->lora;
    r->in.lora_strength = r->lora_s;
    r->in.n_loras = n_user;
    r->in.dloras = (const ltx_lora *const *)r->lora + n_user;
    r->in.dlora_strength = r->lora_s + n_user;
    r->in.n_dloras = r->n_lora - n_user;
    return LTX_OK;
}

/* Image i: the stored round-trip pixels feed the pipeline; our libx264 round trip of the
 * stored source pixels is compared on its own. */
static ltx_status load_image(replay *r, const cJSON *it, int i)
{
    char name[64];
    int64_t sh[3];
    snprintf(name, sizeof name, "image%d.crf_roundtrip_uint8", i);
    uint8_t *rgb = stored(r, name, LTX_U8, sh, 3);
    if (!rgb) return LTX_ERR_FORMAT;
    r->img[i] = (ltx_pipe_image){.path = ltx_json_str(it, "file", ""),
                                 .frame_idx = (int)ltx_json_int(it, "frame_idx", 0),
                                 .strength = ltx_json_num(it, "strength", 1.0),
                                 .crf = ltx_json_num(it, "crf", 33),
                                 .rgb = rgb,
                                 .h = (int)sh[0],
                                 .w = (int)sh[1]};
    snprintf(name, sizeof name, "in.image%d.pixels_uint8", i);
    if (!has_tensor(r, name)) return LTX_OK;
    uint8_t *src = stored(r, name, LTX_U8, sh, 3);
    if (!src) return LTX_ERR_FORMAT;
    ltx_frames rt = {0};
    ltx_status s = ltx_image_crf_roundtrip(src, (int)sh[0], (int)sh[1], r->img[i].crf, &rt);
    if (s == LTX_OK) {
        int64_t shape[3] = {rt.h, rt.w, 3};
        snprintf(name, sizeof name, "image%d.crf_roundtrip_uint8", i);
        s = ltx_golden_emit_host(r->g, name, LTX_U8, 3, shape, rt.rgb);
    }
    ltx_frames_free(&rt);
    return s;
}

static ltx_status replay_setup(ltx_golden_ctx *g, replay *r)
{
    r->g = g;
    const cJSON *p = ltx_golden_params(g);
    ltx_backend *be = ltx_golden_backend(g);
    char path[1024];
    if (!ltx_golden_ckpt_path(g, "checkpoint", path, sizeof path))
        return ltx_err(LTX_ERR_FORMAT, "pipeline case has no checkpoint");
    LTX_TRY(ltx_st_open(path, &r->ckpt));
    if (ltx_golden_ckpt_path(g, "upsampler", path, sizeof path))
        LTX_TRY(ltx_st_open(path, &r->ups));
    static const char *ctx_names[4] = {"in.positive.video_context", "in.positive.audio_context",
                                       "in.negative.video_context", "in.negative.audio_context"};
    for (int i = 0; i < 4; i++)
        if ((i < 2 || has_tensor(r, ctx_names[i])) &&
            !(r->ctx[i] = ltx_golden_tensor(g, ctx_names[i])))
            return LTX_ERR_FORMAT;
    const cJSON *imgs = cJSON_GetObjectItemCaseSensitive(p, "images");
    int n = cJSON_GetArraySize(imgs);
    if (n > LTX_PIPE_MAX_IMAGES) return ltx_err(LTX_ERR_FORMAT, "too many images");
    for (int i = 0; i < n; i++)
        LTX_TRY(load_image(r, cJSON_GetArrayItem(imgs, i), i));
    r->ns.g = g;
    if (ltx_golden_noise_from_seed(g)) {
        r->ns.rng = ltx_rng_new_torch_cpu((uint64_t)ltx_json_int(p, "seed", 0));
        if (!r->ns.rng) return LTX_ERR_OOM;
    }
    bool guided = ltx_json_has(p, "video_guider");
    guider_from(cJSON_GetObjectItemCaseSensitive(p, "video_guider"), &r->vg);
    guider_from(cJSON_GetObjectItemCaseSensitive(p, "audio_guider"), &r->ag);
    r->in = (ltx_gen_inputs){.ckpt = r->ckpt,
                             .upsampler = r->ups,
                             .v_ctx = r->ctx[0],
                             .a_ctx = r->ctx[1],
                             .v_neg = r->ctx[2],
                             .a_neg = r->ctx[3],
                             .height = (int)ltx_json_int(p, "height", 0),
                             .width = (int)ltx_json_int(p, "width", 0),
                             .num_frames = (int)ltx_json_int(p, "num_frames", 0),
                             .fps = ltx_json_num(p, "frame_rate", 24.0),
                             .images = r->img,
                             .n_images = n,
                             .steps = (int)ltx_json_int(p, "num_inference_steps", 0),
                             .vg = guided ? &r->vg : NULL,
                             .ag = guided ? &r->ag : NULL};
    /* the goldens ran the reference in float32 on CPU, untiled decode */
    ltx_pipe_init(&r->p, be);
    r->p.state_dtype = LTX_F32;
    r->p.pos_dtype = LTX_F32;
    r->p.lora_flags = LTX_LORA_TORCH113_CPU_MATMUL; /* small bf16 products as torch 1.13 CPU */
    r->p.noise_fn = golden_noise;
    r->p.noise_user = &r->ns;
    r->p.record = ltx_golden_taps(g);
    r->p.tiled_decode = false;
    return setup_loras(r);
}

static ltx_status emit_output(ltx_golden_ctx *g, const ltx_gen_output *o)
{
    if (!o->audio) return o->audio_status != LTX_OK ? o->audio_status : LTX_ERR_INTERNAL;
    int64_t shape[2] = {2, o->n_samples};
    return ltx_golden_emit_host(g, "out.audio_waveform", LTX_F32, 2, shape, o->audio);
}

/* Our decode of a media file's audio, compared with the stored reference decode. */
static ltx_status check_audio_decode(replay *r, const char *file, double start, double dur,
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

static ltx_status finish(replay *r, cond_fn fn, ltx_status s)
{
    ltx_gen_output o = {0};
    if (s == LTX_OK) s = fn(&r->p, &r->in, &r->c, &o);
    if (s == LTX_OK) s = emit_output(r->g, &o);
    ltx_gen_output_free(&o);
    replay_free(r);
    return s;
}

static ltx_status keyframe(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_cond_inputs *c,
                           ltx_gen_output *out)
{
    (void)c;
    return ltx_pipeline_keyframe_interpolation(p, in, out);
}

ltx_status g_pipeline_keyframe_interpolation(ltx_golden_ctx *g)
{
    replay r = {0};
    return finish(&r, keyframe, replay_setup(g, &r));
}

ltx_status g_pipeline_a2vid_two_stage(ltx_golden_ctx *g)
{
    replay r = {0};
    ltx_status s = replay_setup(g, &r);
    const cJSON *p = ltx_golden_params(g);
    int64_t sh[3];
    float *w = s == LTX_OK ? stored(&r, "in.audio.waveform", LTX_F32, sh, 3) : NULL;
    if (s == LTX_OK && !w) s = LTX_ERR_FORMAT;
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

ltx_status g_pipeline_retake(ltx_golden_ctx *g)
{
    replay r = {0};
    ltx_status s = replay_setup(g, &r);
    const cJSON *p = ltx_golden_params(g), *src = cJSON_GetObjectItemCaseSensitive(p, "source");
    int64_t vs[4], as[3];
    uint8_t *rgb = s == LTX_OK ? stored(&r, "in.source.frames_uint8", LTX_U8, vs, 4) : NULL;
    float *w = rgb ? stored(&r, "in.source.audio_waveform", LTX_F32, as, 3) : NULL;
    if (s == LTX_OK && !w) s = LTX_ERR_FORMAT;
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

ltx_status g_pipeline_ic_lora(ltx_golden_ctx *g)
{
    replay r = {0};
    ltx_status s = replay_setup(g, &r);
    const cJSON *p = ltx_golden_params(g);
    int64_t rs[4], ms[5], fs[4];
    uint8_t *ref = s == LTX_OK ? stored(&r, "in.reference.frames_uint8", LTX_U8, rs, 4) : NULL;
    float *mask = ref ? stored(&r, "in.conditioning_attention_mask", LTX_F32, ms, 5) : NULL;
    uint8_t *mf = mask ? stored(&r, "in.mask_video.frames_uint8", LTX_U8, fs, 4) : NULL;
    if (s == LTX_OK && !mf) s = LTX_ERR_FORMAT;
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
        if (!md || atoi(md) != r.c.downscale)
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
