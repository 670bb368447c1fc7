/*
 * prompt_enhance.c — generate_enhanced_prompt end to end (see prompt_enhance.h): inputs,
 * vision tower, KV-cached generation with streaming, decode, clean_response.
 * ref: ltx_pipelines/utils/helpers.py generate_enhanced_prompt; ltx_core/text_encoders/gemma/
 * encoders/base_encoder.py _enhance / enhance_t2v / enhance_i2v.
 */
#include "pipelines/prompt_enhance.h"

#include "io/media.h"
#include "io/safetensors.h"
#include "models/gemma3_generate.h"
#include "models/gemma3_prompt.h"
#include "models/gemma3_vision.h"
#include "pipelines/stages.h"
#include "sampling/token_sampler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* data/prompts/enhance_{t2v,i2v}.txt, compiled in by CMakeLists.txt (build/generated/ltx_prompts.c)
 */
extern const char ltx_prompt_enhance_t2v[];
extern const char ltx_prompt_enhance_i2v[];

void ltx_enhance_opts_init(ltx_enhance_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 10;
    o->max_new_tokens = 512;  /* ref: _enhance max_new_tokens */
    o->image_long_side = 896; /* ref: generate_enhanced_prompt image_long_side */
}

/* tokenizer.json path into buf (the --tokenizer file, or <dir>/tokenizer.json). */
static const char *tokenizer_path(const ltx_enhance_opts *o, char *buf, size_t cap)
{
    struct stat st;
    const char *t = o->tokenizer ? o->tokenizer : o->gemma_root;
    if (stat(t, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(buf, cap, "%s/tokenizer.json", t);
        return buf;
    }
    return t;
}

ltx_status ltx_enhance_check(const ltx_enhance_opts *o)
{
    if (!o->prompt) return ltx_err(LTX_ERR_INVALID_ARG, "--prompt is required");
    if (o->max_new_tokens < 1)
        return ltx_err(LTX_ERR_INVALID_ARG, "--max-new-tokens %d: must be >= 1", o->max_new_tokens);
    if (!o->gemma_root) return ltx_err(LTX_ERR_INVALID_ARG, "--gemma-root is required");
    char tp[4096];
    struct stat st;
    if (stat(tokenizer_path(o, tp, sizeof tp), &st) != 0)
        return ltx_err(LTX_ERR_IO, "%s %s: no tokenizer.json (pass --tokenizer PATH)",
                       o->tokenizer ? "--tokenizer" : "--gemma-root",
                       o->tokenizer ? o->tokenizer : o->gemma_root);
    ltx_st_file *f = NULL;
    ltx_status s = ltx_st_open_dir(o->gemma_root, &f);
    if (s != LTX_OK) return ltx_err_context(s, "--gemma-root %s: ", o->gemma_root);
    bool vision = ltx_st_find(f, "vision_tower.vision_model.embeddings.patch_embedding.weight") &&
                  ltx_st_find(f, "multi_modal_projector.mm_input_projection_weight");
    ltx_st_close(f);
    if (!o->image_path) return LTX_OK;
    if (!vision)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "--gemma-root %s: no vision tower (vision_tower.* / "
                       "multi_modal_projector.* tensors), so it cannot enhance a prompt with "
                       "--image %s; use a Gemma3ForConditionalGeneration folder",
                       o->gemma_root, o->image_path);
    ltx_gemma3_vision_config vc;
    ltx_gemma3_image_proc ip;
    s = ltx_gemma3_vision_config_read(o->gemma_root, &vc, &ip);
    if (s == LTX_OK) s = ltx_gemma3_vision_check(o->gemma_root, &vc, &ip);
    if (s != LTX_OK) return ltx_err_context(s, "--gemma-root %s: ", o->gemma_root);
    ltx_frames fr = {0};
    s = ltx_image_load(o->image_path, &fr);
    ltx_frames_free(&fr);
    if (s != LTX_OK)
        return ltx_err_context(
            s, "--image %s: cannot be decoded for prompt enhancement: ", o->image_path);
    return LTX_OK;
}

/* The image as pixel values (3, S, S) for the vision tower: decode, resize to long side
 * image_long_side (helpers), then the Gemma 3 image processor. */
static ltx_status image_pixels(const ltx_enhance_opts *o, const ltx_gemma3_image_proc *ip,
                               float **out)
{
    *out = NULL;
    ltx_frames fr = {0}, rs = {0};
    LTX_TRY(ltx_image_load(o->image_path, &fr));
    ltx_status s = LTX_OK;
    if (o->image_long_side > 0) {
        /* ref: resize_aspect_ratio_preserving(image, 896).to(torch.uint8) */
        s = ltx_media_resize_long_side(fr.rgb, fr.h, fr.w, o->image_long_side, &rs);
    }
    const ltx_frames *im = rs.rgb ? &rs : &fr;
    float *px = malloc(sizeof(float) * 3 * (size_t)ip->height * ip->width);
    if (s == LTX_OK && !px) s = ltx_err(LTX_ERR_OOM, "enhance: image");
    if (s == LTX_OK) s = ltx_gemma3_image_preprocess(im->rgb, im->h, im->w, ip, NULL, px);
    ltx_frames_free(&fr);
    ltx_frames_free(&rs);
    if (s != LTX_OK) {
        free(px);
        return s;
    }
    *out = px;
    return LTX_OK;
}

/* Chat template + processor + alignment padding. ref: enhance_t2v "user prompt: {prompt}",
 * enhance_i2v [image, "User Raw Input Prompt: {prompt}."] */
static ltx_status build_inputs(const ltx_enhance_opts *o, const ltx_gemma_tokenizer *tok,
                               const ltx_gemma3_vision_config *vc, ltx_gemma3_inputs *in)
{
    bool img = o->image_path != NULL;
    const char *sys = img ? ltx_prompt_enhance_i2v : ltx_prompt_enhance_t2v;
    size_t ul = strlen(o->prompt) + 64;
    char *user = malloc(ul), *text = NULL;
    if (!user) return ltx_err(LTX_ERR_OOM, "enhance: prompt");
    snprintf(user, ul, img ? "User Raw Input Prompt: %s." : "user prompt: %s", o->prompt);
    size_t tl = 0;
    ltx_status s = ltx_gemma3_chat_render(sys, strlen(sys), user, strlen(user), img, &text, &tl);
    if (s == LTX_OK)
        s = ltx_gemma3_processor_ids(tok, text, tl, img ? vc->mm_tokens_per_image : 0,
                                     vc->image_token_id, in);
    int n_pad = 0;
    if (s == LTX_OK) s = ltx_gemma3_pad_alignment(in, 8, LTX_GEMMA_PAD_ID, o->pad_left, &n_pad);
    free(user);
    free(text);
    return s;
}

/* Image soft tokens on the host (n_rows x D), or NULL without an image. The vision tower is
 * freed before returning. */
static ltx_status image_features(const ltx_enhance_opts *o, ltx_gemma3 *m,
                                 const ltx_gemma3_vision_config *vc,
                                 const ltx_gemma3_image_proc *ip, float **rows, int64_t *n)
{
    *rows = NULL;
    *n = 0;
    if (!o->image_path) return LTX_OK;
    float *px = NULL;
    ltx_gemma3_vision *v = NULL;
    ltx_tensor *feat = NULL;
    ltx_status s = image_pixels(o, ip, &px);
    if (s == LTX_OK) s = ltx_gemma3_vision_open(m, o->gemma_root, vc, ip, &v);
    if (s == LTX_OK) s = ltx_gemma3_vision_forward(v, px, NULL, &feat);
    if (s == LTX_OK) {
        *rows = ltx_tensor_to_host_f32(feat);
        *n = feat->shape[1];
        if (!*rows) s = ltx_err_failed();
    }
    ltx_tensor_free(feat);
    ltx_gemma3_vision_close(v);
    free(px);
    return s;
}

/* Generated ids and the streaming state. */
typedef struct gen_out {
    int32_t *ids;
    int n;
    size_t printed; /* bytes of the decoded text already streamed */
    double t0;
} gen_out;

/* Streams the text decoded since the last call (held back while it ends inside a character:
 * the decoder shows an incomplete byte-fallback sequence as U+FFFD). */
static void stream(const ltx_enhance_opts *o, const ltx_gemma_tokenizer *tok, gen_out *g)
{
    if (!o->on_piece) return;
    char *t = NULL;
    size_t n = 0;
    if (ltx_gemma_tokenizer_decode(tok, g->ids, g->n, 1, &t, &n) != LTX_OK) return;
    bool partial = n >= 3 && !memcmp(t + n - 3, "\xEF\xBF\xBD", 3);
    if (!partial && n > g->printed) {
        o->on_piece(o->user, t + g->printed, n - g->printed, g->n, ltx_pipe_now() - g->t0);
        g->printed = n;
    }
    free(t);
}

/* Prefill, then one token at a time until an EOS id or max_new_tokens. ref: generate()
 * stops when the sampled token is in eos_token_id (config: [1, 106]). */
static ltx_status generate(const ltx_enhance_opts *o, ltx_gemma3 *m, const ltx_gemma_tokenizer *tok,
                           const ltx_gemma3_vision_config *vc, const ltx_gemma3_prefill *pf,
                           gen_out *g)
{
    ltx_gemma3_gen *gen = NULL;
    ltx_token_sampler *smp = NULL;
    ltx_token_sampler_params sp;
    ltx_token_sampler_params_init(&sp);
    sp.greedy = o->greedy;
    sp.seed = o->seed;
    LTX_TRY(ltx_gemma3_gen_open(m, &gen));
    int64_t V = ltx_gemma3_gen_vocab(gen);
    float *logits = malloc(sizeof(float) * (size_t)V);
    g->ids = malloc(sizeof(int32_t) * (size_t)o->max_new_tokens);
    ltx_status s = logits && g->ids ? ltx_token_sampler_new(&sp, (int)V, &smp)
                                    : ltx_err(LTX_ERR_OOM, "enhance: logits");
    double t0 = ltx_pipe_now();
    if (s == LTX_OK) s = ltx_gemma3_gen_prefill(gen, pf, logits);
    g->t0 = ltx_pipe_now();
    LTX_INFO(o->log, "prompt enhancement: prefill %lld tokens in %.2f s (%.1f tokens/s)",
             (long long)pf->L, g->t0 - t0, (double)pf->L / (g->t0 - t0 + 1e-9));
    while (s == LTX_OK && g->n < o->max_new_tokens) {
        int32_t id = ltx_token_sampler_pick(smp, logits);
        g->ids[g->n++] = id;
        stream(o, tok, g);
        bool eos = false;
        for (int e = 0; e < vc->n_eos; e++)
            eos |= id == vc->eos_ids[e];
        if (eos || g->n == o->max_new_tokens) break;
        s = ltx_gemma3_gen_step(gen, id, logits);
    }
    double dt = ltx_pipe_now() - g->t0;
    if (s == LTX_OK)
        LTX_INFO(o->log, "prompt enhancement: %d tokens in %.2f s (%.1f tokens/s)", g->n, dt,
                 g->n / (dt + 1e-9));
    ltx_token_sampler_free(smp);
    ltx_gemma3_gen_close(gen);
    free(logits);
    return s;
}

ltx_status ltx_enhance_run(ltx_backend *be, const ltx_enhance_opts *o, char **out)
{
    *out = NULL;
    LTX_TRY(ltx_enhance_check(o));
    char tp[4096];
    ltx_gemma_tokenizer *tok = NULL;
    ltx_gemma3 *m = NULL;
    ltx_gemma3_vision_config vc;
    ltx_gemma3_image_proc ip;
    ltx_gemma3_inputs in = {0};
    float *rows = NULL;
    int64_t n_rows = 0;
    gen_out g = {0};
    char *text = NULL;
    size_t tl = 0;
    ltx_status s = ltx_gemma3_vision_config_read(o->gemma_root, &vc, &ip);
    if (s == LTX_OK) s = ltx_gemma_tokenizer_load(tokenizer_path(o, tp, sizeof tp), &tok);
    if (s == LTX_OK) s = build_inputs(o, tok, &vc, &in);
    if (s == LTX_OK) s = ltx_gemma3_open(be, o->gemma_root, &m);
    if (s == LTX_OK) s = image_features(o, m, &vc, &ip, &rows, &n_rows);
    ltx_gemma3_prefill pf = {.ids = in.ids,
                             .mask = in.mask,
                             .types = in.types,
                             .L = in.n,
                             .image_features = rows,
                             .n_image_rows = n_rows,
                             .max_new_tokens = o->max_new_tokens,
                             .chunk = o->prefill_chunk};
    if (s == LTX_OK) s = generate(o, m, tok, &vc, &pf, &g);
    /* ref: tokenizer.decode(generated_ids, skip_special_tokens=True), then clean_response */
    if (s == LTX_OK) s = ltx_gemma_tokenizer_decode(tok, g.ids, g.n, 1, &text, &tl);
    if (s == LTX_OK) {
        *out = ltx_gemma3_clean_response(text, tl, NULL);
        if (!*out) s = ltx_err(LTX_ERR_OOM, "enhance: clean_response");
    }
    free(text);
    free(g.ids);
    free(rows);
    ltx_gemma3_inputs_free(&in);
    ltx_gemma3_close(m);
    ltx_gemma_tokenizer_free(tok);
    return s == LTX_OK ? LTX_OK : ltx_err_context(s, "prompt enhancement: ");
}
