/*
 * generate.c — the public generation calls (ltx.h "generation"): argument and input-file
 * validation before any weight is loaded, prompt encoding, the pipeline run, the mp4 output,
 * progress and the per-stage summary.
 *
 * ref: the `main()` functions of ltx_pipelines/{distilled,ti2vid_one_stage,ti2vid_two_stages,
 * ti2vid_two_stages_hq}.py and ltx_pipelines/utils/args.py (flags, defaults), helpers.py
 * (assert_resolution), utils/blocks.py (PromptEncoder) @ a2c3f24; spec pipelines.md §6.
 *
 * Deliberate differences from the reference (all refusals happen before any weight loads):
 *   - --num-frames must be 8k+1 (the reference silently floors); round_frames rounds down
 *     with a warning instead.
 *   - the output frame rate is kept exact (24000/1001 stays NTSC), the reference truncates.
 *   - files are checked to be the component their flag names (an upsampler passed as the
 *     checkpoint, a x1.5 upsampler in a two-stage pipeline, a missing transformer ...).
 *   - image frame indices must lie inside the video, strengths in [0, 1].
 *   - the default negative prompt is ltx2c's own list of quality terms (not the reference's
 *     text), led under reference 1.2 by the five caption tags 1.2 added to its default; pass
 *     --negative-prompt to use any other.
 * The pipeline generator is torch's CPU mt19937 stream, not CUDA Philox (pipelines.md §11).
 */
#include "ltx.h"

#include "api/engine.h"
#include "api/generate_internal.h"
#include "io/file.h"
#include "io/media.h"
#include "io/safetensors.h"
#include "models/lora.h"
#include "models/quant_policy.h"
#include "models/text_encoder.h"
#include "models/upsampler.h"
#include "pipelines/pipelines.h"
#include "pipelines/prompt_enhance.h"
#include "tokenizer/gemma_tokenizer.h"

#include <dirent.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* A field appended to ltx_generate_params after reference_version, or NULL when the caller's
 * struct (an older header) ends before it. */
#define GEN_FIELD(g, f)                                                                            \
    ((g)->struct_size >= offsetof(ltx_generate_params, f) + sizeof((g)->f) ? (g)->f : NULL)

/* ltx2c's own default negative prompt (quality terms; see the file comment). */
#define LTX_DEFAULT_NEGATIVE                                                                       \
    "low quality, worst quality, blurry, out of focus, distorted, deformed, disfigured, "          \
    "jittery motion, flickering, stuttering, frozen frames, compression artifacts, noise, "        \
    "oversaturated, washed out colors, watermark, text, subtitles, logo, cropped, bad anatomy, "   \
    "extra limbs, unnatural movement, muffled audio, distorted sound, static, clipping, "          \
    "out-of-sync audio"
/* ref: 400fd31 (1.2) put five caption tags of the model's training data in front of its default
 * negative prompt; a2c3f24 (2026-04) had none. The same tags lead ltx2c's list under 1.2. */
static const char default_negative[] = LTX_DEFAULT_NEGATIVE;
static const char default_negative_v12[] =
    "has_subtitles, has_blurbox, transition from black, transition to black, "
    "speech_ending_short, " LTX_DEFAULT_NEGATIVE;

void ltx_generate_params_init(ltx_generate_params *p)
{
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->seed = 10;
    p->num_frames = 121;
    p->frame_rate = 24.0;
    p->max_batch_size = 1;
    p->enhance_max_new_tokens = 512; /* ref: GemmaTextEncoder._enhance max_new_tokens */
}

void ltx_distilled_params_init(ltx_distilled_params *p)
{
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
}

static void guidance(ltx_guidance *g, double cfg, double stg, double rescale, double mod, int block)
{
    memset(g, 0, sizeof *g);
    g->cfg_scale = cfg;
    g->stg_scale = stg;
    g->rescale_scale = rescale;
    g->modality_scale = mod;
    if (block >= 0) g->stg_blocks[g->n_stg_blocks++] = block;
}

void ltx_guided_params_init(ltx_guided_params *p)
{
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->num_inference_steps = 30; /* ref: LTX_2_3_PARAMS */
    guidance(&p->video, 3.0, 1.0, 0.7, 3.0, 28);
    guidance(&p->audio, 7.0, 1.0, 0.7, 3.0, 28);
    p->distilled_lora_strength_stage_1 = 0.25;
    p->distilled_lora_strength_stage_2 = 0.5;
}

void ltx_guided_params_init_for_checkpoint(ltx_guided_params *p, const char *checkpoint_path)
{
    ltx_guided_params_init(p);
    ltx_st_file *f = NULL;
    const char *ver = NULL;
    if (checkpoint_path && ltx_st_open(checkpoint_path, &f) == LTX_OK)
        ver = ltx_st_metadata(f, "model_version");
    bool v23 = ver && !strncmp(ver, "2.3", 3);
    ltx_st_close(f);
    if (v23) return;
    p->num_inference_steps = 40; /* ref: LTX_2_PARAMS */
    p->video.stg_blocks[0] = 29;
    p->audio.stg_blocks[0] = 29;
}

void ltx_guided_params_init_hq(ltx_guided_params *p)
{
    ltx_guided_params_init(p);
    p->num_inference_steps = 15; /* ref: LTX_2_3_HQ_PARAMS */
    guidance(&p->video, 3.0, 0.0, 0.45, 3.0, -1);
    guidance(&p->audio, 7.0, 0.0, 1.0, 3.0, -1);
}

/* ---- validation (no weights touched) ---- */

static ltx_status check_file(const char *flag, const char *path)
{
    if (!path || !*path) return ltx_err(LTX_ERR_INVALID_ARG, "%s is required", flag);
    struct stat st;
    if (stat(path, &st) != 0) return ltx_err(LTX_ERR_IO, "%s %s: no such file", flag, path);
    if (S_ISDIR(st.st_mode)) return ltx_err(LTX_ERR_IO, "%s %s: is a directory", flag, path);
    if (access(path, R_OK) != 0) return ltx_err(LTX_ERR_IO, "%s %s: not readable", flag, path);
    return ltx_check_regular(path, flag); /* a FIFO or device: refused, never waited on */
}

static bool has_prefix(const ltx_st_file *f, const char *prefix)
{
    size_t n = strlen(prefix);
    for (int i = 0; i < ltx_st_count(f); i++)
        if (!strncmp(ltx_st_at(f, i)->name, prefix, n)) return true;
    return false;
}

/* Opens (header + mapping only) and checks an LTX checkpoint: transformer, video VAE, audio
 * VAE, vocoder and text projection must all be there. */
static ltx_status open_checkpoint(const char *flag, const char *path, const ltx_generate_params *g,
                                  ltx_st_file **out)
{
    LTX_TRY(check_file(flag, path));
    const char *tp = g ? GEN_FIELD(g, transformer_path) : NULL;
    if (tp) LTX_TRY(check_file("--transformer-path", tp));
    ltx_status s = tp ? ltx_st_open_overlay(path, tp, out) : ltx_st_open(path, out);
    if (s != LTX_OK && tp)
        return ltx_err(s, "--transformer-path %s over %s %s: %s", tp, flag, path,
                       ltx_err_message());
    if (s != LTX_OK)
        return ltx_err(s, "%s %s: not a readable safetensors or GGUF file (%s)", flag, path,
                       ltx_err_message());
    static const char *need[] = {
        "model.diffusion_model.", "vae.decoder.", "vae.encoder.",
        "audio_vae.decoder.",     "vocoder.",     "text_embedding_projection."};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!has_prefix(*out, need[i])) {
            bool ups = ltx_st_find(*out, "initial_conv.weight") != NULL;
            bool lora = has_prefix(*out, "diffusion_model.") || has_prefix(*out, "lora_");
            ltx_st_close(*out);
            *out = NULL;
            return ltx_err(LTX_ERR_INVALID_ARG, "%s %s: not an LTX checkpoint (no %s* tensors)%s",
                           flag, path, need[i],
                           ups    ? "; this is a latent upsampler (--spatial-upsampler-path)"
                           : lora ? "; this looks like a LoRA (--lora)"
                                  : "");
        }
    if (!ltx_st_metadata(*out, "config")) {
        ltx_st_close(*out);
        *out = NULL;
        return ltx_err(LTX_ERR_INVALID_ARG, "%s %s: no metadata \"config\"", flag, path);
    }
    return LTX_OK;
}

static ltx_status open_upsampler(const char *flag, const char *path, ltx_st_file **out)
{
    LTX_TRY(check_file(flag, path));
    ltx_status s = ltx_st_open(path, out);
    if (s != LTX_OK)
        return ltx_err(s, "%s %s: not a readable safetensors file (%s)", flag, path,
                       ltx_err_message());
    const char *cj = ltx_st_metadata(*out, "config");
    ltx_upsampler_config c;
    if (!ltx_st_find(*out, "initial_conv.weight") || !cj ||
        ltx_upsampler_config_parse(cj, &c) != LTX_OK) {
        bool ckpt = has_prefix(*out, "model.diffusion_model.");
        ltx_st_close(*out);
        *out = NULL;
        return ltx_err(LTX_ERR_INVALID_ARG, "%s %s: not a latent upsampler%s", flag, path,
                       ckpt ? " (this is an LTX checkpoint)" : "");
    }
    /* the two-stage pipelines need an exact spatial x2 (spec §6.3): the classic layout always
     * doubles, the rational one follows spatial_scale */
    double scale = c.rational_resampler ? c.spatial_scale : 2.0;
    if (!c.spatial_upsample || c.temporal_upsample || scale != 2.0) {
        ltx_st_close(*out);
        *out = NULL;
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "%s %s: a x%g%s upsampler; the two-stage pipelines "
                       "need the spatial x2 one",
                       flag, path, scale, c.temporal_upsample ? " temporal" : "");
    }
    return LTX_OK;
}

/* A Gemma folder: safetensors weights (single file or index) must be there. */
static ltx_status check_gemma_root(const char *dir)
{
    static const char *names[] = {"model.safetensors.index.json", "model.safetensors"};
    char path[4096];
    struct stat st;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0) return LTX_OK;
    }
    DIR *d = opendir(dir); /* or a quantized Gemma: one *.gguf file (llama.cpp naming) */
    int ngguf = 0;
    for (struct dirent *de; d && (de = readdir(d));) {
        size_t l = strlen(de->d_name);
        ngguf += l > 5 && !strcmp(de->d_name + l - 5, ".gguf");
    }
    if (d) closedir(d);
    if (ngguf == 1) return LTX_OK;
    return ltx_err(LTX_ERR_INVALID_ARG,
                   "--gemma-root %s: no Gemma weights "
                   "(model.safetensors.index.json, model.safetensors or one *.gguf file%s)",
                   dir, ngguf > 1 ? "; found several .gguf files" : "");
}

ltx_reference_version ltx_gen_reference(const ltx_generate_params *g)
{
    /* appended field: a caller built against an older header gets the default (1.2) */
    bool has = g->struct_size >=
               offsetof(ltx_generate_params, reference_version) + sizeof g->reference_version;
    return ltx_refver_resolve(has ? g->reference_version : LTX_REFERENCE_DEFAULT);
}

/* --enhance-prompt, read only when the caller's struct has the field (appended after
 * reference_version). */
static bool enhance_on(const ltx_generate_params *g)
{
    return g->struct_size >= offsetof(ltx_generate_params, enhance_max_new_tokens) +
                                 sizeof g->enhance_max_new_tokens &&
           g->enhance_prompt;
}

/* --enhance-prompt's options: the first prompt, the first image (ref: blocks.PromptEncoder
 * enhance_prompt_image = images[0][0]), the pipeline's seed (ref: enhance_prompt_seed=seed). */
static void enhance_opts(const ltx_generate_params *g, const ltx_log *log, ltx_enhance_opts *o)
{
    ltx_enhance_opts_init(o);
    o->gemma_root = g->gemma_root;
    o->tokenizer = g->tokenizer;
    o->prompt = g->prompt;
    o->image_path = g->n_images > 0 ? g->images[0].path : NULL;
    o->seed = g->seed;
    o->max_new_tokens = g->enhance_max_new_tokens;
    o->log = log;
    /* ref: 2026-04 (a2c3f24) appends the alignment pads, 1.2 (400fd31 _cat_with_padding)
     * prepends them */
    o->pad_left = ltx_gen_reference(g) == LTX_REFERENCE_1_2;
}

static ltx_status check_common(const ltx_generate_params *g, int multiple, int *frames)
{
    if (!g || g->struct_size < offsetof(ltx_generate_params, reference_version))
        return ltx_err(LTX_ERR_INVALID_ARG, "generate params: struct_size too small");
    if (g->struct_size >=
            offsetof(ltx_generate_params, reference_version) + sizeof g->reference_version &&
        g->reference_version != LTX_REFERENCE_DEFAULT &&
        g->reference_version != LTX_REFERENCE_1_2 && g->reference_version != LTX_REFERENCE_2026_04)
        return ltx_err(LTX_ERR_INVALID_ARG, "--reference-version: unknown value %d",
                       (int)g->reference_version);
    if (!g->prompt) return ltx_err(LTX_ERR_INVALID_ARG, "--prompt is required");
    if (g->max_batch_size < 1)
        return ltx_err(LTX_ERR_INVALID_ARG, "--max-batch-size %d: must be >= 1", g->max_batch_size);
    if (g->streaming_prefetch_count < 0)
        return ltx_err(LTX_ERR_INVALID_ARG, "--streaming-prefetch-count %d: must be >= 0 (0 = off)",
                       g->streaming_prefetch_count);
    ltx_quant_policy qp;
    LTX_TRY(ltx_quant_policy_parse(GEN_FIELD(g, quantization), &qp)); /* names flag and value */
    if (!ltx_gen_output_fn(g) && (!g->output_path || !*g->output_path))
        return ltx_err(LTX_ERR_INVALID_ARG, "--output-path is required");
    /* Sane upper bounds, far above what the model was trained for (ref: 1024x1536, 121
     * frames), that keep every later size product (pixels x frames x channels x 4 bytes)
     * inside 64 bits and refuse absurd requests before any weight loads. */
    if (g->height > LTX_MAX_HEIGHT)
        return ltx_err(LTX_ERR_INVALID_ARG, "--height %d: must be at most %d", g->height,
                       LTX_MAX_HEIGHT);
    if (g->width > LTX_MAX_WIDTH)
        return ltx_err(LTX_ERR_INVALID_ARG, "--width %d: must be at most %d", g->width,
                       LTX_MAX_WIDTH);
    if (g->num_frames > LTX_MAX_FRAMES)
        return ltx_err(LTX_ERR_INVALID_ARG, "--num-frames %d: must be at most %d", g->num_frames,
                       LTX_MAX_FRAMES);
    if (g->height <= 0 || g->height % multiple)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "--height %d: must be a positive multiple of %d for "
                       "this pipeline",
                       g->height, multiple);
    if (g->width <= 0 || g->width % multiple)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "--width %d: must be a positive multiple of %d for "
                       "this pipeline",
                       g->width, multiple);
    int n = g->num_frames;
    if (n < 1) return ltx_err(LTX_ERR_INVALID_ARG, "--num-frames %d: must be >= 1", n);
    if ((n - 1) % 8) {
        int lo = (n - 1) / 8 * 8 + 1;
        if (!g->round_frames)
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "--num-frames %d: must be 8k+1 (e.g. %d or %d); "
                           "--round-frames rounds down",
                           n, lo, lo + 8);
        n = lo;
    }
    *frames = n;
    if (!(g->frame_rate >= LTX_GEN_MIN_FPS && g->frame_rate <= LTX_GEN_MAX_FPS))
        return ltx_err(LTX_ERR_INVALID_ARG, "--frame-rate %g: must be in [%g, %g]", g->frame_rate,
                       LTX_GEN_MIN_FPS, LTX_GEN_MAX_FPS);
    if (!g->gemma_root || !*g->gemma_root)
        return ltx_err(LTX_ERR_INVALID_ARG, "--gemma-root is required");
    struct stat st;
    if (stat(g->gemma_root, &st) != 0 || !S_ISDIR(st.st_mode))
        return ltx_err(LTX_ERR_IO, "--gemma-root %s: not a directory", g->gemma_root);
    LTX_TRY(check_gemma_root(g->gemma_root));
    LTX_TRY(ltx_gen_check_gemma_config(g->gemma_root));
    if (g->tokenizer && stat(g->tokenizer, &st) != 0)
        return ltx_err(LTX_ERR_IO, "--tokenizer %s: no such file", g->tokenizer);
    if (!g->tokenizer) {
        char tj[4096];
        snprintf(tj, sizeof tj, "%s/tokenizer.json", g->gemma_root);
        if (stat(tj, &st) != 0)
            return ltx_err(LTX_ERR_IO,
                           "--gemma-root %s: no tokenizer.json (pass --tokenizer "
                           "PATH)",
                           g->gemma_root);
    }
    if (g->n_images > LTX_PIPE_MAX_IMAGES)
        return ltx_err(LTX_ERR_INVALID_ARG, "--image: at most %d images", LTX_PIPE_MAX_IMAGES);
    for (int i = 0; i < g->n_images; i++) {
        const ltx_image_input *im = &g->images[i];
        LTX_TRY(check_file("--image", im->path));
        if (im->frame_idx < 0 || im->frame_idx >= n)
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "--image %s: frame index %d is outside the video "
                           "(0..%d)",
                           im->path, im->frame_idx, n - 1);
        if (!(im->strength >= 0 && im->strength <= 1))
            return ltx_err(LTX_ERR_INVALID_ARG, "--image %s: strength %g is outside [0, 1]",
                           im->path, im->strength);
        if (!(im->crf >= 0 && im->crf <= 51))
            return ltx_err(LTX_ERR_INVALID_ARG, "--image %s: CRF %g is outside [0, 51]", im->path,
                           im->crf);
        LTX_TRY(ltx_gen_check_image(im, g->height, g->width)); /* small next to any weight */
    }
    if (g->n_loras > LTX_MAX_LORAS / 2)
        return ltx_err(LTX_ERR_INVALID_ARG, "--lora: at most %d", LTX_MAX_LORAS / 2);
    for (int i = 0; i < g->n_loras; i++)
        LTX_TRY(check_file("--lora", g->loras[i].path));
    LTX_TRY(ltx_gen_check_lora_strengths("--lora", g->loras, g->n_loras));
    const char *ext = g->output_path ? strrchr(g->output_path, '.') : ".mp4";
    if (!ext || strcmp(ext, ".mp4"))
        return ltx_err(LTX_ERR_INVALID_ARG, "--output-path %s: must end in .mp4", g->output_path);
    if (enhance_on(g)) {
        ltx_enhance_opts eo;
        enhance_opts(g, NULL, &eo);
        LTX_TRY(ltx_enhance_check(&eo));
    }
    return g->output_path ? ltx_gen_check_output_path(g->output_path) : LTX_OK;
}

static ltx_status check_guided(const ltx_guided_params *p, bool two_stage)
{
    if (!p || p->struct_size < sizeof *p)
        return ltx_err(LTX_ERR_INVALID_ARG, "guided params: struct_size too small");
    if (p->num_inference_steps < 1 || p->num_inference_steps > 1000)
        return ltx_err(LTX_ERR_INVALID_ARG, "--num-inference-steps %d: must be in 1..1000",
                       p->num_inference_steps);
    const ltx_guidance *gs[2] = {&p->video, &p->audio};
    for (int k = 0; k < 2; k++) {
        if (gs[k]->skip_step < 0)
            return ltx_err(LTX_ERR_INVALID_ARG, "--%s-skip-step %d: must be >= 0",
                           k ? "audio" : "video", gs[k]->skip_step);
        for (int i = 0; i < gs[k]->n_stg_blocks; i++)
            if (gs[k]->stg_blocks[i] < 0)
                return ltx_err(LTX_ERR_INVALID_ARG, "--%s-stg-blocks %d: must be >= 0",
                               k ? "audio" : "video", gs[k]->stg_blocks[i]);
    }
    LTX_TRY(ltx_gen_check_guidance(p));
    if (two_stage) {
        if (p->n_distilled_loras < 1)
            return ltx_err(LTX_ERR_INVALID_ARG, "--distilled-lora is required");
        for (int i = 0; i < p->n_distilled_loras; i++)
            LTX_TRY(check_file("--distilled-lora", p->distilled_loras[i].path));
        LTX_TRY(ltx_gen_check_lora_strengths("--distilled-lora", p->distilled_loras,
                                             p->n_distilled_loras));
    }
    return LTX_OK;
}

/* ---- the run ---- */

typedef ltx_gen_run run;

void ltx_gen_run_free(ltx_gen_run *r)
{
    ltx_model_cache *c = r->e ? r->e->cache : NULL;
    if (!ltx_model_cache_release(c, r->ckpt)) ltx_st_close(r->ckpt);
    if (!ltx_model_cache_release(c, r->ups)) ltx_st_close(r->ups);
    for (int i = 0; i < r->n_lora; i++)
        ltx_lora_close(r->lora[i]);
    ltx_text_context_clear(&r->ctx[0]);
    ltx_text_context_clear(&r->ctx[1]);
    ltx_rng_free(r->rng);
}

static ltx_status open_loras(run *r, const char *flag, const ltx_lora_input *l, int n)
{
    for (int i = 0; i < n; i++) {
        if (r->n_lora == LTX_MAX_LORAS) return ltx_err(LTX_ERR_INVALID_ARG, "too many LoRAs");
        ltx_status s = ltx_lora_open(l[i].path, &r->lora[r->n_lora]);
        if (s != LTX_OK) return ltx_err(s, "%s %s: %s", flag, l[i].path, ltx_err_message());
        r->lora_s[r->n_lora++] = l[i].strength;
    }
    return LTX_OK;
}

static void close_file(void *f)
{
    ltx_st_close(f);
}

/* One open file of the run into the cache: the cached handle of the same file(s) replaces
 * *f (closed), or *f becomes a cache entry itself; models loaded from it may then be cached
 * as its children. `overlay` (--transformer-path) is part of the key, with its size/mtime. */
static void cache_file(ltx_model_cache *c, const char *kind, ltx_st_file **f, const char *overlay)
{
    char variant[4200] = "";
    struct stat st;
    if (overlay && stat(overlay, &st) == 0)
        snprintf(variant, sizeof variant, "overlay=%s:%lld:%lld.%09ld", overlay,
                 (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    else if (overlay)
        return;
    ltx_cache_key k = {.kind = kind, .path = ltx_st_path(*f), .variant = variant};
    ltx_st_file *cached = ltx_model_cache_get(c, &k);
    if (cached) {
        ltx_st_close(*f);
        *f = cached;
        return;
    }
    ltx_model_cache_put(c, &k, *f, 0, close_file); /* refused: the run keeps and closes it */
}

void ltx_gen_cache_files(ltx_gen_run *r, const ltx_generate_params *g)
{
    if (!ltx_model_cache_budget(r->e->cache)) return;
    if (r->ckpt) cache_file(r->e->cache, "checkpoint", &r->ckpt, GEN_FIELD(g, transformer_path));
    if (r->ups) cache_file(r->e->cache, "upsampler_file", &r->ups, NULL);
}

static void to_guider(const ltx_guidance *g, ltx_guider_params *o)
{
    ltx_guider_params_init(o);
    o->cfg_scale = g->cfg_scale;
    o->stg_scale = g->stg_scale;
    o->rescale_scale = g->rescale_scale;
    o->modality_scale = g->modality_scale;
    o->skip_step = g->skip_step;
    o->n_stg_blocks = g->n_stg_blocks < LTX_MAX_STG_BLOCKS ? g->n_stg_blocks : LTX_MAX_STG_BLOCKS;
    memcpy(o->stg_blocks, g->stg_blocks, sizeof(int) * (size_t)o->n_stg_blocks);
}

static void free_tokenizer(void *t)
{
    ltx_gemma_tokenizer_free(t);
}

static void free_gemma(void *g)
{
    ltx_gemma3_close(g);
}

/* Bytes of the regular files directly in dir (the Gemma weights), for the cache budget. */
static size_t dir_bytes(const char *dir)
{
    size_t total = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    for (struct dirent *de; (de = readdir(d));) {
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) total += (size_t)st.st_size;
    }
    closedir(d);
    return total;
}

/* With a model cache on e: the tokenizer and Gemma from the cache, or loaded now and handed
 * to it (prm->tok / prm->gemma set only when the cache holds them, with one use each that
 * release_text_encoder gives back; otherwise the text encoder opens and frees its own, as
 * without a cache). */
static ltx_status cached_text_encoder(ltx_engine *e, ltx_text_encode_params *prm)
{
    if (!ltx_model_cache_budget(e->cache)) return LTX_OK;
    const char *tpath = prm->tokenizer ? prm->tokenizer : prm->gemma_root;
    ltx_cache_key tk = {.kind = "tokenizer", .path = tpath};
    prm->tok = ltx_model_cache_get(e->cache, &tk);
    if (!prm->tok) {
        struct stat st;
        size_t bytes = stat(tpath, &st) == 0 ? 2 * (size_t)st.st_size : 0; /* parsed vocab */
        LTX_TRY(ltx_gemma_tokenizer_load(tpath, &prm->tok));
        if (!ltx_model_cache_put(e->cache, &tk, prm->tok, bytes, free_tokenizer)) {
            ltx_gemma_tokenizer_free(prm->tok); /* over the budget: the encoder loads its own */
            prm->tok = NULL;
        }
    }
    ltx_cache_key gk = {.kind = "gemma", .path = prm->gemma_root};
    prm->gemma = ltx_model_cache_get(e->cache, &gk);
    if (!prm->gemma) {
        size_t bytes = dir_bytes(prm->gemma_root);
        ltx_model_cache_reserve(e->cache, bytes);
        LTX_TRY(ltx_gemma3_open(e->be, prm->gemma_root, &prm->gemma));
        if (!ltx_model_cache_put(e->cache, &gk, prm->gemma, bytes, free_gemma)) {
            ltx_gemma3_close(prm->gemma);
            prm->gemma = NULL;
        }
    }
    return LTX_OK;
}

static void release_text_encoder(ltx_engine *e, ltx_text_encode_params *prm)
{
    ltx_model_cache_release(e->cache, prm->tok);
    ltx_model_cache_release(e->cache, prm->gemma);
}

static void free_text_processor(void *p)
{
    ltx_text_processor_free(p);
}

/* The checkpoint's text processor (feature extractor + connectors): from the cache (a child
 * of the cached checkpoint, whose mapping its weights wrap), or loaded and offered to it. The
 * caller releases it, or frees it when the cache does not hold it. */
static ltx_status text_processor(ltx_engine *e, const ltx_st_file *ckpt, ltx_text_processor **out)
{
    ltx_cache_key k = {.kind = "text_processor", .parent = ckpt};
    *out = ltx_model_cache_get(e->cache, &k);
    if (*out) return LTX_OK;
    static const char *const prefixes[] = {
        "text_embedding_projection.", "model.diffusion_model.video_embeddings_connector.",
        "model.diffusion_model.audio_embeddings_connector.", NULL};
    size_t bytes = ltx_pipe_weight_bytes(ckpt, prefixes, NULL);
    if (ltx_model_cache_budget(e->cache)) ltx_model_cache_reserve(e->cache, bytes);
    LTX_TRY(ltx_text_processor_load(e->be, ckpt, 0, out));
    ltx_model_cache_put(e->cache, &k, *out, bytes, free_text_processor);
    return LTX_OK;
}

ltx_status ltx_gen_encode_prompts(ltx_engine *e, const ltx_st_file *ckpt,
                                  const ltx_generate_params *g, const char *negative,
                                  ltx_text_context ctx[2], ltx_gen_inputs *in, double *seconds)
{
    double t0 = ltx_pipe_now();
    ltx_text_processor *proc = NULL;
    ltx_text_encode_params prm = {
        .gemma_root = g->gemma_root, .tokenizer = g->tokenizer, .ref = ltx_gen_reference(g)};
    char *enhanced = NULL;
    ltx_status s = LTX_OK;
    if (enhance_on(g)) {
        /* ref: PromptEncoder.__call__: generate_enhanced_prompt on prompts[0], then encode; the
         * generator (and its KV cache) is freed inside, before any other model loads */
        ltx_enhance_opts eo;
        enhance_opts(g, &e->log, &eo);
        s = ltx_enhance_run(e->be, &eo, &enhanced);
        if (s == LTX_OK) LTX_INFO(&e->log, "enhanced prompt: %s", enhanced);
    }
    const char *prompts[2] = {enhanced ? enhanced : g->prompt, negative};
    if (s == LTX_OK) s = cached_text_encoder(e, &prm);
    if (s == LTX_OK) s = text_processor(e, ckpt, &proc);
    if (s == LTX_OK) s = ltx_text_encode_prompts(e->be, &prm, proc, prompts, negative ? 2 : 1, ctx);
    free(enhanced);
    release_text_encoder(e, &prm);
    if (!ltx_model_cache_release(e->cache, proc)) {
        ltx_text_processor_free(proc);
        /* the connectors and feature extractor (6 GB at 22B size) are done: their mapped
         * pages leave the resident set while the checkpoint stays open for the transformer
         * (a cached processor keeps them: that is what caching it is for) */
        ltx_st_release_pages(ckpt, "text_embedding_projection.");
        ltx_st_release_pages(ckpt, "model.diffusion_model.video_embeddings_connector.");
        ltx_st_release_pages(ckpt, "model.diffusion_model.audio_embeddings_connector.");
    }
    LTX_TRY(s);
    /* ref: the tokenizer truncates silently (max_length 1024); say so */
    for (int i = 0; i < (negative ? 2 : 1); i++)
        if (ctx[i].n_prompt > ctx[i].T)
            LTX_WARN(&e->log,
                     "%s is %d tokens long (with <bos>); the text encoder takes %lld: the "
                     "last %lld tokens are ignored",
                     i ? "--negative-prompt" : "--prompt", ctx[i].n_prompt, (long long)ctx[i].T,
                     (long long)(ctx[i].n_prompt - ctx[i].T));
    in->v_ctx = ctx[0].video;
    in->a_ctx = ctx[0].audio;
    if (negative) {
        in->v_neg = ctx[1].video;
        in->a_neg = ctx[1].audio;
    }
    *seconds = ltx_pipe_now() - t0;
    LTX_INFO(&e->log, "prompt encoding: %.2f s", *seconds);
    return LTX_OK;
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* Linux: kilobytes */
}

ltx_status ltx_gen_write_output(ltx_engine *e, const ltx_generate_params *g, ltx_rational fps,
                                ltx_pipe *p, const ltx_gen_output *o)
{
    if (!o->audio) return o->audio_status != LTX_OK ? o->audio_status : LTX_ERR_INTERNAL;
    double t0 = ltx_pipe_now();
    ltx_mp4_params mp;
    ltx_mp4_params_init(&mp);
    mp.fps = fps;
    ltx_output_fn cb = ltx_gen_output_fn(g);
    if (cb && cb(g->output_user, o->frames, o->n_frames, o->h, o->w, (double)fps.num / fps.den,
                 o->audio, o->n_samples, o->sample_rate))
        return ltx_err(LTX_ERR_ABORTED, "the output callback asked to stop");
    if (!g->output_path) return LTX_OK;
    LTX_TRY(ltx_mp4_write(g->output_path, o->frames, o->n_frames, o->h, o->w, o->audio,
                          o->n_samples, o->sample_rate, &mp));
    ltx_pipe_add_time(p, "mp4_write", ltx_pipe_now() - t0);
    double total = 0;
    for (int i = 0; i < p->n_times; i++) {
        const ltx_stage_time *t = &p->times[i];
        if (t->steps > 0)
            LTX_INFO(&e->log,
                     "  %-20s %8.2f s  (%d steps, %.1f host syncs per step, peak device "
                     "memory %.1f MiB)",
                     t->name, t->seconds, t->steps, (double)t->host_syncs / t->steps,
                     (double)t->peak_bytes / 1048576.0);
        else
            LTX_INFO(&e->log, "  %-20s %8.2f s", t->name, t->seconds);
        total += t->seconds;
    }
    /* model loads (inside the stage times above for the VAE side; before them for the
     * transformers), with the model cache's hits and misses of this run */
    if (ltx_model_cache_budget(e->cache))
        LTX_INFO(&e->log, "  %-20s %8.4f s  (model cache: %d hits, %d misses)", "transformer_load",
                 p->transformer_load_s, p->cache_hits, p->cache_misses);
    else
        LTX_INFO(&e->log, "  %-20s %8.4f s", "transformer_load", p->transformer_load_s);
    LTX_INFO(&e->log, "  %-20s %8.4f s", "vae_load", p->vae_load_s);
    LTX_INFO(&e->log,
             "wrote %s: %d frames %dx%d @ %d/%d fps, audio %lld samples @ %d Hz; "
             "stages %.2f s, peak RSS %.0f MB",
             g->output_path, o->n_frames, o->w, o->h, mp.fps.num, mp.fps.den,
             (long long)o->n_samples, o->sample_rate, total, peak_rss_mb());
    return LTX_OK;
}

void ltx_gen_set_loras(ltx_gen_inputs *in, ltx_lora *const *lora, const double *strength,
                       int n_user, int n_lora)
{
    in->loras = (const ltx_lora *const *)lora;
    in->lora_strength = strength;
    in->n_loras = n_user;
    in->dloras = (const ltx_lora *const *)lora + n_user;
    in->dlora_strength = strength + n_user;
    in->n_dloras = n_lora - n_user;
}

void ltx_gen_pipe_init(ltx_pipe *p, ltx_engine *e, ltx_rng *rng, const ltx_generate_params *g,
                       bool tiled)
{
    ltx_pipe_init(p, e->be);
    p->log = &e->log;
    p->rng = rng;
    p->cache = e->cache;
    p->progress = e->progress;
    p->progress_user = e->progress_user;
    p->max_batch = g->max_batch_size;                 /* --max-batch-size */
    p->stream_prefetch = g->streaming_prefetch_count; /* --streaming-prefetch-count */
    p->ref = ltx_gen_reference(g);                    /* --reference-version */
    /* ref: 400fd31 (1.2): every pipeline decodes with AUTO_TILING (ltx_stage_decode_video);
     * a2c3f24 (2026-04): TilingConfig.default(), one-stage untiled (`tiled` false) */
    p->tiled_decode = tiled || ltx_refver_is_1_2(p->ref);
    LTX_INFO(p->log, "reference numerics %s (%s)", ltx_reference_version_name(p->ref),
             p->ref == LTX_REFERENCE_1_2 ? "v1.2.0, 400fd31" : "a2c3f24");
    /* --quantization (validated in check_common) */
    (void)ltx_quant_policy_parse(GEN_FIELD(g, quantization), &p->quant);
}

typedef ltx_status (*pipeline_fn)(ltx_pipe *p, const ltx_gen_inputs *in, ltx_gen_output *out);

/* Common driver once validation passed and the files are open. */
static ltx_status drive(run *r, const ltx_generate_params *g, int frames, const char *negative,
                        pipeline_fn fn, bool tiled)
{
    const char *inputs[4 + LTX_PIPE_MAX_IMAGES + LTX_MAX_LORAS];
    int ni = 0;
    inputs[ni++] = ltx_st_path(r->ckpt);
    if (r->ups) inputs[ni++] = ltx_st_path(r->ups);
    if (GEN_FIELD(g, transformer_path)) inputs[ni++] = GEN_FIELD(g, transformer_path);
    inputs[ni++] = g->tokenizer;
    for (int i = 0; i < g->n_images; i++)
        inputs[ni++] = g->images[i].path;
    for (int i = 0; i < r->n_lora; i++)
        inputs[ni++] = ltx_lora_path(r->lora[i]);
    if (g->output_path) LTX_TRY(ltx_media_check_output(g->output_path, inputs, ni));
    if (ltx_gen_validate_only(g)) return LTX_OK;
    ltx_gen_cache_files(r, g);
    for (int i = 0; i < g->n_images; i++)
        r->img[i] = (ltx_pipe_image){.path = g->images[i].path,
                                     .frame_idx = g->images[i].frame_idx,
                                     .strength = g->images[i].strength,
                                     .crf = g->images[i].crf};
    r->in.ckpt = r->ckpt;
    r->in.upsampler = r->ups;
    r->in.height = g->height;
    r->in.width = g->width;
    r->in.num_frames = frames;
    r->in.fps = g->frame_rate;
    r->in.images = r->img;
    r->in.n_images = g->n_images;
    ltx_gen_set_loras(&r->in, r->lora, r->lora_s, r->n_user, r->n_lora);
    if (frames != g->num_frames)
        LTX_WARN(&r->e->log, "--num-frames %d rounded down to %d (8k+1)", g->num_frames, frames);

    LTX_TRY(ltx_gen_encode_prompts(r->e, r->ckpt, g, negative, r->ctx, &r->in, &r->t_text));
    r->rng = ltx_rng_new_torch_cpu(g->seed);
    if (!r->rng) return ltx_err_failed();
    ltx_pipe p;
    ltx_gen_pipe_init(&p, r->e, r->rng, g, tiled);
    ltx_pipe_add_time(&p, "prompt_encoding", r->t_text);
    ltx_gen_output o = {0};
    ltx_status s = fn(&p, &r->in, &o);
    if (s == LTX_OK)
        s = ltx_gen_write_output(r->e, g, ltx_rational_from_fps(g->frame_rate), &p, &o);
    ltx_gen_output_free(&o);
    return s;
}

static ltx_status finish(ltx_engine *e, run *r, ltx_status s)
{
    ltx_gen_run_free(r);
    pthread_mutex_unlock(&e->lock);
    return ltx_engine_set_error(e, s);
}

ltx_status ltx_generate_distilled(ltx_engine *e, const ltx_generate_params *g,
                                  const ltx_distilled_params *p)
{
    if (!e) return ltx_err(LTX_ERR_INVALID_ARG, "no engine");
    pthread_mutex_lock(&e->lock);
    run r = {.e = e};
    int frames = 0;
    ltx_status s = check_common(g, 64, &frames);
    if (s == LTX_OK && (!p || p->struct_size < sizeof *p))
        s = ltx_err(LTX_ERR_INVALID_ARG, "distilled params: struct_size too small");
    if (s == LTX_OK)
        s = open_checkpoint("--distilled-checkpoint-path", p->distilled_checkpoint_path, g,
                            &r.ckpt);
    if (s == LTX_OK)
        s = ltx_gen_check_transformer(r.ckpt, "--distilled-checkpoint-path", NULL, false);
    if (s == LTX_OK)
        s = open_upsampler("--spatial-upsampler-path", p->spatial_upsampler_path, &r.ups);
    if (s == LTX_OK) s = open_loras(&r, "--lora", g->loras, g->n_loras);
    r.n_user = r.n_lora;
    if (s == LTX_OK) s = drive(&r, g, frames, NULL, ltx_pipeline_distilled, true);
    return finish(e, &r, s);
}

static ltx_status generate_guided(ltx_engine *e, const ltx_generate_params *g,
                                  const ltx_guided_params *p, int kind)
{
    if (!e) return ltx_err(LTX_ERR_INVALID_ARG, "no engine");
    pthread_mutex_lock(&e->lock);
    run r = {.e = e};
    int frames = 0;
    bool two = kind != 0;
    ltx_status s = check_common(g, two ? 64 : 32, &frames);
    if (s == LTX_OK) s = check_guided(p, two);
    if (s == LTX_OK) s = open_checkpoint("--checkpoint-path", p->checkpoint_path, g, &r.ckpt);
    if (s == LTX_OK && two)
        s = open_upsampler("--spatial-upsampler-path", p->spatial_upsampler_path, &r.ups);
    if (s == LTX_OK) s = open_loras(&r, "--lora", g->loras, g->n_loras);
    r.n_user = r.n_lora;
    /* HQ: only the first --distilled-lora is used, at the per-stage strengths (spec §6.2) */
    if (s == LTX_OK && two)
        s = open_loras(&r, "--distilled-lora", p->distilled_loras,
                       kind == 2 ? 1 : p->n_distilled_loras);
    /* every file is what its flag says: now the checkpoint's config against the flags */
    if (s == LTX_OK) s = ltx_gen_check_transformer(r.ckpt, "--checkpoint-path", p, true);
    if (s == LTX_OK) {
        to_guider(&p->video, &r.vg);
        to_guider(&p->audio, &r.ag);
        r.in.vg = &r.vg;
        r.in.ag = &r.ag;
        r.in.steps = p->num_inference_steps;
        r.in.hq_dlora_s1 = p->distilled_lora_strength_stage_1;
        r.in.hq_dlora_s2 = p->distilled_lora_strength_stage_2;
        pipeline_fn fn = kind == 0   ? ltx_pipeline_one_stage
                         : kind == 1 ? ltx_pipeline_two_stages
                                     : ltx_pipeline_two_stages_hq;
        s = drive(&r, g, frames,
                  p->negative_prompt ? p->negative_prompt
                                     : ltx_gen_default_negative(ltx_gen_reference(g)),
                  fn, kind != 0 /* one-stage decodes untiled, like the reference */);
    }
    return finish(e, &r, s);
}

ltx_status ltx_generate_one_stage(ltx_engine *e, const ltx_generate_params *g,
                                  const ltx_guided_params *p)
{
    return generate_guided(e, g, p, 0);
}

ltx_status ltx_generate_two_stages(ltx_engine *e, const ltx_generate_params *g,
                                   const ltx_guided_params *p)
{
    return generate_guided(e, g, p, 1);
}

ltx_status ltx_generate_two_stages_hq(ltx_engine *e, const ltx_generate_params *g,
                                      const ltx_guided_params *p)
{
    return generate_guided(e, g, p, 2);
}

/* ---- shared with src/api/generate_cond.c (declared in src/api/generate_internal.h) ---- */

ltx_output_fn ltx_gen_output_fn(const ltx_generate_params *g)
{
    return g->struct_size >= offsetof(ltx_generate_params, output_user) + sizeof(void *)
               ? g->on_output
               : NULL;
}

bool ltx_gen_validate_only(const ltx_generate_params *g)
{
    return g->struct_size >= offsetof(ltx_generate_params, validate_only) + sizeof(int) &&
           g->validate_only;
}

ltx_status ltx_gen_check_file(const char *flag, const char *path)
{
    return check_file(flag, path);
}

ltx_status ltx_gen_open_checkpoint(const char *flag, const char *path, const ltx_generate_params *g,
                                   ltx_st_file **out)
{
    return open_checkpoint(flag, path, g, out);
}

ltx_status ltx_gen_open_upsampler(const char *flag, const char *path, ltx_st_file **out)
{
    return open_upsampler(flag, path, out);
}

ltx_status ltx_gen_check_common(const ltx_generate_params *g, int multiple, int *frames)
{
    return check_common(g, multiple, frames);
}

ltx_status ltx_gen_check_guided(const ltx_guided_params *p, bool two_stage)
{
    return check_guided(p, two_stage);
}

void ltx_gen_to_guider(const ltx_guidance *g, ltx_guider_params *o)
{
    to_guider(g, o);
}

const char *ltx_gen_default_negative(ltx_reference_version ref)
{
    return ltx_refver_is_1_2(ref) ? default_negative_v12 : default_negative;
}
