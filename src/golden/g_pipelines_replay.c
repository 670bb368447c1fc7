/*
 * g_pipelines_replay.c — the replay setup shared by the pipeline golden handlers
 * (g_pipelines.c, g_pipelines_cond.c): noise injection, contexts, guiders, images, LoRAs and
 * the float32 pipe. See g_pipelines_replay.h.
 */
#include "golden/g_pipelines_replay.h"

#include "core/dtype.h"
#include "io/media.h"
#include "nn/nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* res_2s SDE draws: in.<stage>.sde_noise<i> in call order (the file stores them per stage). */
static ltx_status golden_sde_noise(void *user, ltx_backend *be, bool substep,
                                   const ltx_tensor *like, ltx_tensor **out)
{
    gp_noise_src *ns = user;
    (void)substep;
    const char *st = ns->p->cur_stage ? ns->p->cur_stage : "";
    if (strcmp(ns->stage, st)) {
        snprintf(ns->stage, sizeof ns->stage, "%s", st);
        ns->sde_count = 0;
    }
    char key[96];
    snprintf(key, sizeof key, "in.%s.sde_noise%d", st, ns->sde_count++);
    ltx_tensor *t = ltx_golden_tensor(ns->g, key);
    if (!t) return ltx_err_failed();
    if (!ltx_tensor_same_shape(t, like)) {
        ltx_tensor_free(t);
        return ltx_err(LTX_ERR_FORMAT, "%s: shape differs from the state", key);
    }
    *out = ltx_nn_contiguous(be, t, LTX_F32);
    ltx_tensor_free(t);
    return *out ? LTX_OK : ltx_err_failed();
}

static ltx_status golden_noise(void *user, const char *name, int64_t T, int64_t C, ltx_tensor **out)
{
    gp_noise_src *ns = user;
    char key[96];
    snprintf(key, sizeof key, "in.%s", name);
    if (!ns->rng) {
        ltx_tensor *t = ltx_golden_tensor(ns->g, key);
        if (!t) return ltx_err_failed();
        *out = ltx_nn_contiguous(ltx_golden_backend(ns->g), t, LTX_F32);
        ltx_tensor_free(t);
        return *out ? LTX_OK : ltx_err_failed();
    }
    size_t n = (size_t)(T * C);
    float *h = malloc(sizeof(float) * (n ? n : 1));
    if (!h) return ltx_err(LTX_ERR_OOM, "out of memory");
    ltx_status s = ltx_rng_randn_f32(ns->rng, h, (int64_t)n);
    int64_t shape[3] = {1, T, C};
    if (s == LTX_OK) {
        *out = ltx_tensor_from_host(ltx_golden_backend(ns->g), LTX_F32, 3, shape, h);
        if (!*out) s = ltx_err_failed();
    }
    free(h);
    /* the generator checked end to end: the draw must equal the stored one */
    if (s == LTX_OK) s = ltx_golden_emit(ns->g, key, *out);
    return s;
}

void ltx_gp_replay_free(gp_replay *r)
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

void *ltx_gp_stored(gp_replay *r, const char *name, ltx_dtype dt, int64_t *shape, int cap)
{
    if (r->n_host == GP_MAX_HOST) {
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

/* Whether the golden file stores `name`. */
static bool gp_has_tensor(const gp_replay *r, const char *name)
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

static ltx_status open_lora_list(gp_replay *r, const cJSON *list)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        if (r->n_lora == LTX_MAX_LORAS) return ltx_err(LTX_ERR_FORMAT, "too many LoRAs");
        char path[1024];
        ltx_golden_resolve(r->g, "ckpt", ltx_json_str(it, "file", ""), path, sizeof path);
        LTX_TRY(ltx_lora_open(path, &r->lora[r->n_lora]));
        /* the strength as the case gives it: torch 1.13's bf16 rounding of it is part of the
         * fusion flags (r->p.lora_flags), the same for every pipeline */
        r->lora_s[r->n_lora++] = ltx_json_num(it, "strength", 1.0);
    }
    return LTX_OK;
}

/* params.stage_loras: stage 1 = the user (or IC-) LoRAs; stage 2's extra entries = the
 * distilled ones (the reference's per-stage sets, spec §7). */
static ltx_status setup_loras(gp_replay *r)
{
    const cJSON *params = ltx_golden_params(r->g);
    const cJSON *sl = cJSON_GetObjectItemCaseSensitive(params, "stage_loras");
    const cJSON *l2 = cJSON_GetObjectItemCaseSensitive(sl, "stage2");
    LTX_TRY(open_lora_list(r, cJSON_GetObjectItemCaseSensitive(sl, "stage1")));
    int n_user = r->n_lora;
    /* HQ: the distilled LoRA is in both stages at per-stage strengths: the last stage-1 entry */
    if (ltx_json_has(params, "distilled_lora_strengths") && n_user > 0) n_user--;
    for (int i = r->n_lora; i < cJSON_GetArraySize(l2); i++) {
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

/* Image i of params.images: the stored round-trip pixels feed the pipeline; our libx264 round
 * trip of the stored source pixels (optional) is compared on its own. */
static ltx_status load_image(gp_replay *r, const cJSON *it, int i)
{
    char name[64];
    int64_t sh[3];
    snprintf(name, sizeof name, "image%d.crf_roundtrip_uint8", i);
    uint8_t *rgb = ltx_gp_stored(r, name, LTX_U8, sh, 3);
    if (!rgb) return ltx_err_failed();
    r->img[i] = (ltx_pipe_image){.path = ltx_json_str(it, "file", ""),
                                 .frame_idx = (int)ltx_json_int(it, "frame_idx", 0),
                                 .strength = ltx_json_num(it, "strength", 1.0),
                                 .crf = ltx_json_num(it, "crf", 33),
                                 .rgb = rgb,
                                 .h = (int)sh[0],
                                 .w = (int)sh[1]};
    snprintf(name, sizeof name, "in.image%d.pixels_uint8", i);
    if (!gp_has_tensor(r, name)) return LTX_OK;
    uint8_t *src = ltx_gp_stored(r, name, LTX_U8, sh, 3);
    if (!src) return ltx_err_failed();
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

ltx_status ltx_gp_replay_setup(ltx_golden_ctx *g, gp_replay *r)
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
    for (int i = 0; i < 4; i++) {
        bool want = i < 2 || gp_has_tensor(r, ctx_names[i]);
        if (want && !(r->ctx[i] = ltx_golden_tensor(g, ctx_names[i]))) return ltx_err_failed();
    }
    const cJSON *imgs = cJSON_GetObjectItemCaseSensitive(p, "images");
    int n = cJSON_GetArraySize(imgs);
    if (n > LTX_PIPE_MAX_IMAGES) return ltx_err(LTX_ERR_FORMAT, "too many images");
    for (int i = 0; i < n; i++)
        LTX_TRY(load_image(r, cJSON_GetArrayItem(imgs, i), i));
    r->ns.g = g;
    if (ltx_golden_noise_from_seed(g)) {
        r->ns.rng = ltx_rng_new_torch_cpu((uint64_t)ltx_json_int(p, "seed", 0));
        if (!r->ns.rng) return ltx_err_failed();
    }
    /* one rule for every pipeline: guided when the case has guider params (then the video
     * negative context is required; a modality without one uses its positive context) */
    bool guided = ltx_json_has(p, "video_guider");
    if (guided && !r->ctx[2])
        return ltx_err(LTX_ERR_FORMAT, "guided pipeline case without in.negative.video_context");
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
    /* torch 1.13's CPU bf16 products and strength rounding (every golden); the pipe adds the
     * fuse rule of its reference version (stages.c) */
    r->p.lora_flags = LTX_LORA_TORCH113_CPU_MATMUL;
    r->p.ref = ltx_golden_reference(g);
    r->p.noise_fn = golden_noise;
    r->p.noise_user = &r->ns;
    r->p.record = ltx_golden_taps(g);
    r->p.tiled_decode = false;
    LTX_TRY(ltx_quant_policy_parse(ltx_golden_quantization(g), &r->p.quant));
    r->ns.p = &r->p;
    if (!r->ns.rng) { /* with --noise-from-seed the reference's own SDE generators are used */
        r->p.sde_noise = golden_sde_noise;
        r->p.sde_user = &r->ns;
    }
    const cJSON *dls = cJSON_GetObjectItemCaseSensitive(p, "distilled_lora_strengths");
    r->in.hq_dlora_s1 =
        cJSON_GetArraySize(dls) == 2 ? cJSON_GetArrayItem(dls, 0)->valuedouble : 0.25;
    r->in.hq_dlora_s2 =
        cJSON_GetArraySize(dls) == 2 ? cJSON_GetArrayItem(dls, 1)->valuedouble : 0.5;
    /* LoRAs: the reference fuses into the bf16 state dict before copying it into its float32
     * modules, so the fused weights are bf16 there too: the pipe's defaults */
    return setup_loras(r);
}

ltx_status ltx_gp_emit_output(ltx_golden_ctx *g, const ltx_gen_output *o)
{
    if (!o->audio) return o->audio_status != LTX_OK ? o->audio_status : LTX_ERR_INTERNAL;
    int64_t shape[2] = {2, o->n_samples};
    return ltx_golden_emit_host(g, "out.audio_waveform", LTX_F32, 2, shape, o->audio);
}
