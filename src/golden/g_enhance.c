/*
 * g_enhance.c — golden handlers for prompt enhancement (modules/gemma3_enhance): image decode,
 * chat template + processor ids, image processor, SigLIP + projector, alignment padding, greedy
 * KV-cached generation, clean_response and the sampling filter.
 *
 * The tiny VLM lives at <root>/<params.gemma_root> (tiny_gemma_vlm/); its tokenizer.json is
 * not shipped, so the cases that tokenize use verify's --tokenizer (default: the file setup
 * puts in .cache/). Text tensors are raw UTF-8 bytes (U8), ids int64.
 */
#include "golden/golden.h"

#include "io/media.h"
#include "models/gemma3_generate.h"
#include "models/gemma3_internal.h"
#include "models/gemma3_prompt.h"
#include "sampling/token_sampler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

/* Raw bytes of a U8 golden tensor (borrowed from the mapped file). */
static const char *golden_bytes(ltx_golden_ctx *g, const char *name, size_t *len)
{
    const ltx_st_entry *e = name ? ltx_st_find(ltx_golden_file(g), name) : NULL;
    if (!e || e->dtype != LTX_U8) {
        ltx_err(LTX_ERR_FORMAT, "golden: U8 tensor %s missing", name ? name : "(null)");
        return NULL;
    }
    *len = e->nbytes;
    return e->data;
}

/* Integer golden tensor as int32 (malloc'd). */
static int32_t *golden_ints(ltx_golden_ctx *g, const char *name, int64_t *n)
{
    const ltx_st_entry *e = name ? ltx_st_find(ltx_golden_file(g), name) : NULL;
    if (!e || (e->dtype != LTX_I64 && e->dtype != LTX_I32)) {
        ltx_err(LTX_ERR_FORMAT, "golden: integer tensor %s missing", name ? name : "(null)");
        return NULL;
    }
    *n = (int64_t)(e->nbytes / ltx_dtype_size(e->dtype));
    int32_t *v = malloc(sizeof *v * (size_t)(*n ? *n : 1));
    for (int64_t i = 0; v && i < *n; i++) {
        int64_t x = 0;
        if (e->dtype == LTX_I64)
            memcpy(&x, (const char *)e->data + i * 8, 8);
        else {
            int32_t y;
            memcpy(&y, (const char *)e->data + i * 4, 4);
            x = y;
        }
        v[i] = (int32_t)x;
    }
    return v;
}

static ltx_status emit_text(ltx_golden_ctx *g, const char *name, const char *s, size_t n)
{
    int64_t sh[1] = {(int64_t)n};
    return ltx_golden_emit_host(g, name, LTX_U8, 1, sh, n ? s : "");
}

/* int32 values as int64 of shape (rows, n / rows). */
static ltx_status emit_ints(ltx_golden_ctx *g, const char *name, const int32_t *v, int64_t n,
                            int rank)
{
    int64_t *w = malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    if (!w) return ltx_err(LTX_ERR_OOM, "golden: out of memory");
    for (int64_t i = 0; i < n; i++)
        w[i] = v[i];
    int64_t sh[2] = {rank == 2 ? 1 : n, n};
    ltx_status s = ltx_golden_emit_host(g, name, LTX_I64, rank, sh, w);
    free(w);
    return s;
}

static void tok_free(void *p)
{
    ltx_gemma_tokenizer_free(p);
}

/* <root>/<gemma_root>: case params, then extra.files, then tiny_gemma_vlm/. */
static void gemma_dir(ltx_golden_ctx *g, char *out, size_t cap)
{
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(ltx_golden_extra(g), "files");
    const char *rel = ltx_json_str(ltx_golden_params(g), "gemma_root",
                                   ltx_json_str(files, "gemma_root", "tiny_gemma_vlm/"));
    ltx_golden_resolve(g, "root", rel, out, cap);
}

static ltx_status tokenizer(ltx_golden_ctx *g, ltx_gemma_tokenizer **out)
{
    *out = ltx_golden_cache_get(g, "tokenizer");
    if (*out) return LTX_OK;
    const char *path = ltx_golden_tokenizer(g);
    char local[4096];
    if (!path) { /* a tokenizer.json inside the golden's Gemma folder, when someone put it there */
        char dir[3072];
        gemma_dir(g, dir, sizeof dir);
        snprintf(local, sizeof local, "%s/tokenizer.json", dir);
        FILE *f = fopen(local, "rb");
        if (f) {
            fclose(f);
            path = local;
        }
    }
    if (!path)
        return ltx_err(LTX_ERR_INVALID_ARG, "gemma3_enhance: no tokenizer (pass --tokenizer "
                                            "PATH to the real Gemma 3 tokenizer.json)");
    LTX_TRY(ltx_gemma_tokenizer_load(path, out));
    ltx_golden_cache_put(g, "tokenizer", *out, tok_free);
    return LTX_OK;
}

/* The tiny VLM (text model + vision tower), opened once per file. */
typedef struct vlm {
    ltx_gemma3 *m;
    ltx_gemma3_vision *v;
    ltx_gemma3_vision_config vc;
    ltx_gemma3_image_proc ip;
} vlm;

static void vlm_free(void *p)
{
    vlm *x = p;
    if (!x) return;
    ltx_gemma3_vision_close(x->v);
    ltx_gemma3_close(x->m);
    free(x);
}

static ltx_status open_vlm(ltx_golden_ctx *g, vlm **out)
{
    *out = ltx_golden_cache_get(g, "vlm");
    if (*out) return LTX_OK;
    char dir[4096];
    gemma_dir(g, dir, sizeof dir);
    vlm *x = calloc(1, sizeof *x);
    if (!x) return ltx_err(LTX_ERR_OOM, "golden: out of memory");
    ltx_status s = ltx_gemma3_vision_config_read(dir, &x->vc, &x->ip);
    if (s == LTX_OK) s = ltx_gemma3_open(ltx_golden_backend(g), dir, &x->m);
    if (s == LTX_OK) s = ltx_gemma3_vision_open(x->m, dir, &x->vc, &x->ip, &x->v);
    if (s != LTX_OK) {
        vlm_free(x);
        return s;
    }
    ltx_gemma3_vision_set_taps(x->v, ltx_golden_taps(g));
    ltx_golden_cache_put(g, "vlm", x, vlm_free);
    *out = x;
    return LTX_OK;
}

/* "out.<a>.<b>.<suffix>" of output i -> "<a>.<b>" (the case's tensor family). */
static void family(ltx_golden_ctx *g, char *out, size_t cap)
{
    const char *o = ltx_golden_output_name(g, 0);
    snprintf(out, cap, "%s", o && !strncmp(o, "out.", 4) ? o + 4 : "x");
    char *dot = strrchr(out, '.');
    if (dot) *dot = '\0';
}

/* ---- handlers ---- */

ltx_status ltx_g_ltx_decode_image(ltx_golden_ctx *g);
ltx_status ltx_g_gemma3_chat_template(ltx_golden_ctx *g);
ltx_status ltx_g_gemma3_image_processor(ltx_golden_ctx *g);
ltx_status ltx_g_gemma3_vision(ltx_golden_ctx *g);
ltx_status ltx_g_ltx_pad_inputs_for_attention_alignment(ltx_golden_ctx *g);
ltx_status ltx_g_gemma3_generate_greedy(ltx_golden_ctx *g);
ltx_status ltx_g_ltx_clean_response(ltx_golden_ctx *g);
ltx_status ltx_g_gemma3_sample_filter(ltx_golden_ctx *g);

/* ref: ltx_pipelines media_io.decode_image: the PNG in media/ -> (H, W, 3) uint8 */
ltx_status ltx_g_ltx_decode_image(ltx_golden_ctx *g)
{
    const char *file = ltx_json_str(ltx_golden_params(g), "file", "media/enhance_i2v.png");
    if (!strncmp(file, "media/", 6)) file += 6;
    char path[4096];
    ltx_golden_resolve(g, "media", file, path, sizeof path);
    ltx_frames f = {0};
    LTX_TRY(ltx_image_load(path, &f));
    int64_t sh[3] = {f.h, f.w, 3};
    ltx_status s = ltx_golden_emit_host(g, ltx_golden_output_name(g, 0), LTX_U8, 3, sh, f.rgb);
    ltx_frames_free(&f);
    return s;
}

ltx_status ltx_g_gemma3_chat_template(ltx_golden_ctx *g)
{
    const cJSON *p = ltx_golden_params(g);
    size_t sl = 0, ul = 0;
    const char *sys = golden_bytes(g, ltx_golden_input_name(g, 0), &sl);
    const char *user = sys ? golden_bytes(g, ltx_golden_input_name(g, 1), &ul) : NULL;
    if (!user) return ltx_err_failed();
    bool image = ltx_json_int(p, "n_images", 0) > 0;
    int n_img = (int)ltx_json_int(p, "image_seq_length", 256);
    ltx_gemma_tokenizer *tok = NULL;
    LTX_TRY(tokenizer(g, &tok));
    char dir[4096];
    gemma_dir(g, dir, sizeof dir);
    ltx_gemma3_vision_config vc; /* token ids from the folder's config.json */
    ltx_gemma3_image_proc ip;
    LTX_TRY(ltx_gemma3_vision_config_read(dir, &vc, &ip));
    char *text = NULL;
    size_t tl = 0;
    LTX_TRY(ltx_gemma3_chat_render(sys, sl, user, ul, image, &text, &tl));
    ltx_status s = emit_text(g, ltx_golden_output_name(g, 0), text, tl);
    ltx_gemma3_inputs in = {0};
    if (s == LTX_OK)
        s = ltx_gemma3_processor_ids(tok, text, tl, image ? n_img : 0, vc.image_token_id, &in);
    if (s == LTX_OK) s = emit_ints(g, ltx_golden_output_name(g, 1), in.ids, in.n, 2);
    if (s == LTX_OK) s = emit_ints(g, ltx_golden_output_name(g, 2), in.mask, in.n, 2);
    if (s == LTX_OK) s = emit_ints(g, ltx_golden_output_name(g, 3), in.types, in.n, 2);
    ltx_gemma3_inputs_free(&in);
    free(text);
    return s;
}

ltx_status ltx_g_gemma3_image_processor(ltx_golden_ctx *g)
{
    const cJSON *p = ltx_golden_params(g);
    const ltx_st_entry *e = ltx_st_find(ltx_golden_file(g), ltx_golden_input_name(g, 0));
    if (!e || e->dtype != LTX_U8 || e->ndim != 3 || e->shape[2] != 3)
        return ltx_err(LTX_ERR_FORMAT, "gemma3_image_processor: uint8 (H, W, 3) input missing");
    ltx_gemma3_image_proc ip = {.mean = {0.5, 0.5, 0.5}, .std = {0.5, 0.5, 0.5}};
    int64_t size[2] = {0, 0};
    ltx_json_int_array(p, "size", size, 2);
    ip.height = (int)size[0], ip.width = (int)size[1];
    ltx_json_num_array(p, "image_mean", ip.mean, 3);
    ltx_json_num_array(p, "image_std", ip.std, 3);
    ip.rescale = ltx_json_num(p, "rescale_factor", 1.0 / 255.0);
    if (ip.height <= 0 || ip.width <= 0)
        return ltx_err(LTX_ERR_FORMAT, "gemma3_image_processor: params.size missing");
    uint8_t *r = malloc((size_t)ip.height * ip.width * 3);
    float *px = malloc(sizeof(float) * 3 * (size_t)ip.height * ip.width);
    ltx_status s = r && px ? ltx_gemma3_image_preprocess(e->data, (int)e->shape[0],
                                                         (int)e->shape[1], &ip, r, px)
                           : ltx_err(LTX_ERR_OOM, "golden: out of memory");
    int64_t rs[3] = {ip.height, ip.width, 3}, ps[4] = {1, 3, ip.height, ip.width};
    if (s == LTX_OK) s = ltx_golden_emit_host(g, ltx_golden_output_name(g, 0), LTX_U8, 3, rs, r);
    if (s == LTX_OK) s = ltx_golden_emit_host(g, ltx_golden_output_name(g, 1), LTX_F32, 4, ps, px);
    free(r);
    free(px);
    return s;
}

/* Host copy of the golden pixel_values (1, 3, S, S). */
static float *golden_pixels(ltx_golden_ctx *g, const char *name)
{
    ltx_tensor *t = ltx_golden_tensor(g, name);
    float *px = t ? ltx_tensor_to_host_f32(t) : NULL;
    ltx_tensor_free(t);
    return px;
}

ltx_status ltx_g_gemma3_vision(ltx_golden_ctx *g)
{
    vlm *x = NULL;
    LTX_TRY(open_vlm(g, &x));
    float *px = golden_pixels(g, ltx_golden_input_name(g, 0));
    if (!px) return ltx_err_failed();
    ltx_tensor *hid = NULL, *feat = NULL;
    ltx_status s = ltx_gemma3_vision_forward(x->v, px, &hid, &feat);
    free(px);
    if (s == LTX_OK) s = ltx_golden_emit(g, ltx_golden_output_name(g, 0), hid);
    if (s == LTX_OK) s = ltx_golden_emit(g, ltx_golden_output_name(g, 1), feat);
    ltx_tensor_free(hid);
    ltx_tensor_free(feat);
    return s;
}

ltx_status ltx_g_ltx_pad_inputs_for_attention_alignment(ltx_golden_ctx *g)
{
    const cJSON *p = ltx_golden_params(g);
    ltx_gemma3_inputs in = {0};
    int64_t n1 = 0, n2 = 0, n3 = 0;
    in.ids = golden_ints(g, ltx_golden_input_name(g, 0), &n1);
    in.mask = golden_ints(g, ltx_golden_input_name(g, 1), &n2);
    in.types = golden_ints(g, ltx_golden_input_name(g, 2), &n3);
    in.n = n1;
    ltx_status s = in.ids && in.mask && in.types && n1 == n2 && n1 == n3
                       ? LTX_OK
                       : ltx_err(LTX_ERR_FORMAT, "alignment: inputs missing");
    int pad = 0;
    /* ref: a2c3f24 appends the pads (this golden), 400fd31 prepends them */
    bool left = ltx_golden_reference(g) == LTX_REFERENCE_1_2;
    if (s == LTX_OK)
        s = ltx_gemma3_pad_alignment(&in, (int)ltx_json_int(p, "alignment", 8),
                                     (int32_t)ltx_json_int(p, "pad_token_id", 0), left, &pad);
    if (s == LTX_OK) s = emit_ints(g, ltx_golden_output_name(g, 0), in.ids, in.n, 2);
    if (s == LTX_OK) s = emit_ints(g, ltx_golden_output_name(g, 1), in.mask, in.n, 2);
    if (s == LTX_OK) s = emit_ints(g, ltx_golden_output_name(g, 2), in.types, in.n, 2);
    ltx_gemma3_inputs_free(&in);
    return s;
}

/* Prefill rows collected into one (1, L, D) host array for the gen.*.prefill tap. */
typedef struct prefill_rows {
    float *all;
    int64_t D;
} prefill_rows;

static ltx_status collect_rows(void *user, const ltx_tensor *h, int64_t s0)
{
    prefill_rows *pr = user;
    float *v = ltx_tensor_to_host_f32(h);
    if (!v) return ltx_err_failed();
    memcpy(pr->all + s0 * pr->D, v, sizeof(float) * (size_t)(h->shape[1] * pr->D));
    free(v);
    return LTX_OK;
}

/* Image soft tokens (host) for pixel_values input i, or NULL when the case has none. */
static ltx_status image_rows(ltx_golden_ctx *g, vlm *x, int i, float **rows, int64_t *n)
{
    *rows = NULL;
    *n = 0;
    const char *name = ltx_golden_input_name(g, i);
    if (!name) return LTX_OK;
    float *px = golden_pixels(g, name);
    if (!px) return ltx_err_failed();
    ltx_tensor *feat = NULL;
    ltx_status s = ltx_gemma3_vision_forward(x->v, px, NULL, &feat);
    free(px);
    if (s == LTX_OK) {
        *rows = ltx_tensor_to_host_f32(feat);
        *n = feat->shape[1];
        if (!*rows) s = ltx_err_failed();
    }
    ltx_tensor_free(feat);
    return s;
}

/* Greedy generation state of one case. */
typedef struct greedy_run {
    int32_t *ids;
    float *chosen, *first;
    int n;
} greedy_run;

/* Prefill + up to max_new greedy steps, stopping after an EOS id like generate(). */
static ltx_status run_greedy(ltx_gemma3_gen *gen, const ltx_gemma3_prefill *pf, int max_new,
                             const ltx_gemma3_vision_config *vc, greedy_run *r)
{
    int64_t V = ltx_gemma3_gen_vocab(gen);
    float *logits = malloc(sizeof(float) * (size_t)V);
    r->ids = malloc(sizeof(int32_t) * (size_t)max_new);
    r->chosen = malloc(sizeof(float) * (size_t)max_new);
    r->first = malloc(sizeof(float) * (size_t)V);
    ltx_token_sampler_params sp;
    ltx_token_sampler_params_init(&sp);
    sp.greedy = true;
    ltx_token_sampler *smp = NULL;
    ltx_status s = logits && r->ids && r->chosen && r->first
                       ? ltx_token_sampler_new(&sp, (int)V, &smp)
                       : ltx_err(LTX_ERR_OOM, "greedy");
    if (s == LTX_OK) s = ltx_gemma3_gen_prefill(gen, pf, logits);
    if (s == LTX_OK) memcpy(r->first, logits, sizeof(float) * (size_t)V);
    for (int t = 0; s == LTX_OK && t < max_new; t++) {
        int32_t id = ltx_token_sampler_pick(smp, logits);
        r->ids[r->n] = id;
        r->chosen[r->n++] = logits[id];
        bool eos = false;
        for (int e = 0; e < vc->n_eos; e++)
            eos |= id == vc->eos_ids[e];
        if (eos || t + 1 == max_new) break;
        s = ltx_gemma3_gen_step(gen, id, logits);
    }
    ltx_token_sampler_free(smp);
    free(logits);
    return s;
}

ltx_status ltx_g_gemma3_generate_greedy(ltx_golden_ctx *g)
{
    const cJSON *p = ltx_golden_params(g);
    vlm *x = NULL;
    ltx_gemma_tokenizer *tok = NULL;
    LTX_TRY(open_vlm(g, &x));
    LTX_TRY(tokenizer(g, &tok));
    int64_t L = 0, n2 = 0, n3 = 0, n_img = 0;
    int32_t *ids = golden_ints(g, ltx_golden_input_name(g, 0), &L);
    int32_t *mask = golden_ints(g, ltx_golden_input_name(g, 1), &n2);
    int32_t *types = golden_ints(g, ltx_golden_input_name(g, 2), &n3);
    float *img = NULL, *all = NULL;
    ltx_gemma3_gen *gen = NULL;
    greedy_run r = {0};
    char fam[128], name[192];
    family(g, fam, sizeof fam);
    int max_new = (int)ltx_json_int(p, "max_new_tokens", 24);
    int64_t D = x->m->cfg.hidden_size;
    ltx_status s = ids && mask && types && L == n2 && L == n3
                       ? image_rows(g, x, 3, &img, &n_img)
                       : ltx_err(LTX_ERR_FORMAT, "generate: inputs missing");
    if (s == LTX_OK) s = ltx_gemma3_gen_open(x->m, &gen);
    all = calloc((size_t)(L * D), sizeof(float));
    prefill_rows pr = {all, D};
    /* a small chunk so that the replay crosses chunk boundaries and the sliding ring wraps */
    ltx_gemma3_prefill pf = {.ids = ids,
                             .mask = mask,
                             .types = types,
                             .L = L,
                             .image_features = img,
                             .n_image_rows = n_img,
                             .max_new_tokens = max_new,
                             .chunk = 64,
                             .on_hidden = collect_rows,
                             .user = &pr};
    if (s == LTX_OK && !all) s = ltx_err(LTX_ERR_OOM, "generate");
    if (s == LTX_OK) s = run_greedy(gen, &pf, max_new, &x->vc, &r);
    int64_t V = gen ? ltx_gemma3_gen_vocab(gen) : 0;
    int64_t fs[2] = {1, V}, hs[3] = {1, L, D}, cs[1] = {r.n};
    snprintf(name, sizeof name, "%s.prefill_last_hidden_state", fam);
    if (s == LTX_OK) s = ltx_golden_emit_host(g, name, LTX_F32, 3, hs, all);
    if (s == LTX_OK)
        s = ltx_golden_emit_host(g, ltx_golden_output_name(g, 0), LTX_F32, 2, fs, r.first);
    if (s == LTX_OK) s = emit_ints(g, ltx_golden_output_name(g, 1), r.ids, r.n, 2);
    if (s == LTX_OK)
        s = ltx_golden_emit_host(g, ltx_golden_output_name(g, 2), LTX_F32, 1, cs, r.chosen);
    char *text = NULL;
    size_t tl = 0;
    if (s == LTX_OK) s = ltx_gemma_tokenizer_decode(tok, r.ids, r.n, 1, &text, &tl);
    if (s == LTX_OK) s = emit_text(g, ltx_golden_output_name(g, 3), text, tl);
    free(text);
    ltx_gemma3_gen_close(gen);
    free(ids), free(mask), free(types), free(img), free(all);
    free(r.ids), free(r.chosen), free(r.first);
    return s;
}

ltx_status ltx_g_ltx_clean_response(ltx_golden_ctx *g)
{
    size_t n = 0, m = 0;
    const char *t = golden_bytes(g, ltx_golden_input_name(g, 0), &n);
    if (!t) return ltx_err_failed();
    char *c = ltx_gemma3_clean_response(t, n, &m);
    if (!c) return ltx_err(LTX_ERR_OOM, "clean_response");
    ltx_status s = emit_text(g, ltx_golden_output_name(g, 0), c, m);
    free(c);
    return s;
}

ltx_status ltx_g_gemma3_sample_filter(ltx_golden_ctx *g)
{
    const cJSON *p = ltx_golden_params(g);
    ltx_tensor *t = ltx_golden_input(g, 0);
    float *lg = t ? ltx_tensor_to_host_f32(t) : NULL;
    int64_t n = t ? ltx_tensor_numel(t) : 0;
    ltx_tensor_free(t);
    if (!lg) return ltx_err_failed();
    ltx_token_sampler_params sp;
    ltx_token_sampler_params_init(&sp);
    sp.temperature = (float)ltx_json_num(p, "temperature", 0.7);
    sp.top_k = (int)ltx_json_int(p, "top_k", 50);
    sp.top_p = (float)ltx_json_num(p, "top_p", 1.0);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n);
    float *sc = malloc(sizeof(float) * (size_t)n), *pr = malloc(sizeof(float) * (size_t)n);
    int m = ids && sc && pr ? ltx_token_filter(&sp, lg, (int)n, ids, sc, pr) : -1;
    ltx_status s = m > 0 ? LTX_OK : ltx_err(LTX_ERR_OOM, "sample filter");
    int64_t sh[1] = {m};
    if (s == LTX_OK) s = emit_ints(g, ltx_golden_output_name(g, 0), ids, m, 1);
    if (s == LTX_OK) s = ltx_golden_emit_host(g, ltx_golden_output_name(g, 1), LTX_F32, 1, sh, sc);
    if (s == LTX_OK) s = ltx_golden_emit_host(g, ltx_golden_output_name(g, 2), LTX_F32, 1, sh, pr);
    free(lg), free(ids), free(sc), free(pr);
    return s;
}
