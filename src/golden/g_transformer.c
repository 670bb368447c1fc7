/*
 * g_transformer.c — golden handlers for the transformer area: RoPE tables (rope_tables),
 * layouts/positions/initial states (patchify_and_positions) and the LTXModel / X0Model forward
 * (transformer_forward_uniform / _masked, the STG case of transformer_guided_batch).
 *
 * LoRA-fused forwards (transformer_forward_lora) fuse params.loras through src/models/lora.h.
 * Not here: guided_denoise (src/golden/g_guidance.c).
 */
#include "golden/g_transformer.h"
#include "core/dtype.h"

#include "models/lora.h"
#include "models/ltx_transformer.h"
#include "models/quant_policy.h"
#include "nn/nn.h"
#include "nn/rope.h"
#include "sampling/patchifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Declarations for cases.def (handlers are looked up by name). */
ltx_status ltx_g_rope_freqs(ltx_golden_ctx *g);
ltx_status ltx_g_rope_freq_grid(ltx_golden_ctx *g);
ltx_status ltx_g_rope_apply(ltx_golden_ctx *g);
ltx_status ltx_g_gaussian_noiser(ltx_golden_ctx *g);
ltx_status ltx_g_video_patchify(ltx_golden_ctx *g);
ltx_status ltx_g_video_patch_grid_bounds(ltx_golden_ctx *g);
ltx_status ltx_g_video_pixel_coords(ltx_golden_ctx *g);
ltx_status ltx_g_video_initial_state(ltx_golden_ctx *g);
ltx_status ltx_g_audio_patchify(ltx_golden_ctx *g);
ltx_status ltx_g_audio_patch_grid_bounds(ltx_golden_ctx *g);
ltx_status ltx_g_audio_initial_state(ltx_golden_ctx *g);
ltx_status ltx_g_vae_patchify(ltx_golden_ctx *g);
ltx_status ltx_g_video_condition_by_latent_index(ltx_golden_ctx *g);
ltx_status ltx_g_ltx_model_forward(ltx_golden_ctx *g);
ltx_status ltx_g_x0_model_forward(ltx_golden_ctx *g);

static ltx_status emit_free(ltx_golden_ctx *g, const char *name, ltx_tensor *t)
{
    if (!t) return ltx_err_failed();
    ltx_status s =
        name ? ltx_golden_emit(g, name, t) : ltx_err(LTX_ERR_FORMAT, "case lists too few outputs");
    ltx_tensor_free(t);
    return s;
}

/* ---- RoPE ---- */

static ltx_status rope_params_from(ltx_golden_ctx *g, ltx_rope_params *rp, int *axes)
{
    const cJSON *p = ltx_golden_params(g);
    memset(rp, 0, sizeof *rp);
    rp->dim = (int)ltx_json_int(p, "dim", 0);
    rp->heads = (int)ltx_json_int(p, "num_attention_heads", 1);
    rp->theta = ltx_json_num(p, "theta", 10000.0);
    rp->use_middle = ltx_json_bool(p, "use_middle_indices_grid", false);
    rp->f64_grid = !strcmp(ltx_json_str(p, "freq_grid", "np64"), "np64");
    const char *rt = ltx_json_str(p, "rope_type", "split");
    rp->mode = !strcmp(rt, "interleaved") ? LTX_ROPE_INTERLEAVED : LTX_ROPE_SPLIT;
    int n = ltx_json_num_array(p, "max_pos", rp->max_pos, LTX_ROPE_MAX_AXES);
    if (n < 1) return ltx_err(LTX_ERR_FORMAT, "rope case: max_pos missing");
    rp->n_axes = n;
    int64_t ax[LTX_ROPE_MAX_AXES];
    int na = ltx_json_int_array(p, "position_axes", ax, LTX_ROPE_MAX_AXES);
    if (na > 0) {
        if (na != n) return ltx_err(LTX_ERR_FORMAT, "rope case: position_axes vs max_pos");
        for (int i = 0; i < na; i++)
            axes[i] = (int)ax[i];
        rp->axes = axes;
    }
    return LTX_OK;
}

/* Reference layout of the tables: split (B, H, T, d/2); interleaved (B, T, dim). */
static ltx_tensor *ref_layout(ltx_golden_ctx *g, const ltx_rope_params *rp, const ltx_tensor *t)
{
    if (rp->mode == LTX_ROPE_SPLIT) return ltx_tensor_view(t);
    float *h = ltx_tensor_to_host_f32(t);
    if (!h) return NULL;
    int64_t B = t->shape[0], T = t->shape[2];
    int hd = (int)t->shape[3];
    float *o = malloc(sizeof(float) * (size_t)(B * T * rp->dim));
    ltx_tensor *r = NULL;
    if (o) {
        ltx_rope_pairs_to_interleaved(h, B, rp->heads, T, hd, o);
        int64_t shape[3] = {B, T, rp->dim};
        r = ltx_tensor_from_host(ltx_golden_backend(g), LTX_F32, 3, shape, o);
    }
    free(h);
    free(o);
    return r;
}

ltx_status ltx_g_rope_freqs(ltx_golden_ctx *g)
{
    ltx_rope_params rp;
    int axes[LTX_ROPE_MAX_AXES];
    LTX_TRY(rope_params_from(g, &rp, axes));
    ltx_tensor *pos = ltx_golden_input(g, 0);
    if (!pos) return ltx_err_failed();
    ltx_tensor *c = NULL, *s = NULL;
    ltx_status st = ltx_rope_tables(ltx_golden_backend(g), &rp, pos, &c, &s);
    ltx_tensor_free(pos);
    if (st == LTX_OK) st = emit_free(g, ltx_golden_output_name(g, 0), ref_layout(g, &rp, c));
    if (st == LTX_OK) st = emit_free(g, ltx_golden_output_name(g, 1), ref_layout(g, &rp, s));
    ltx_tensor_free(c);
    ltx_tensor_free(s);
    return st;
}

ltx_status ltx_g_rope_freq_grid(ltx_golden_ctx *g)
{
    const cJSON *p = ltx_golden_params(g);
    int dim = (int)ltx_json_int(p, "dim", 0), n = (int)ltx_json_int(p, "n_pos_dims", 1);
    bool f64 = !strcmp(ltx_json_str(p, "freq_grid", "np64"), "np64");
    int F = ltx_rope_nfreq(dim, n);
    if (F < 1) return ltx_err(LTX_ERR_FORMAT, "rope_freq_grid: dim %d n %d", dim, n);
    ltx_backend *be = ltx_golden_backend(g);
    if (f64 && !be->caps.f64)
        LTX_TRY(ltx_backend_fallback(be, "f64.rope_grid",
                                     "float64 RoPE frequency grid computed on the host in double"));
    float *v = malloc(sizeof(float) * (size_t)F);
    if (!v) return ltx_err(LTX_ERR_OOM, "out of memory");
    ltx_rope_freq_grid(ltx_json_num(p, "theta", 10000.0), n, dim, f64, v);
    int64_t shape[1] = {F};
    ltx_status s = ltx_golden_emit_host(g, ltx_golden_output_name(g, 0), LTX_F32, 1, shape, v);
    free(v);
    return s;
}

ltx_status ltx_g_rope_apply(ltx_golden_ctx *g)
{
    ltx_rope_params rp;
    int axes[LTX_ROPE_MAX_AXES];
    LTX_TRY(rope_params_from(g, &rp, axes));
    ltx_backend *be = ltx_golden_backend(g);
    ltx_tensor *x = ltx_golden_input(g, 0), *pos = x ? ltx_golden_input(g, 1) : NULL;
    ltx_tensor *c = NULL, *s = NULL, *y = NULL, *yp = NULL, *yc = NULL;
    ltx_status st = pos ? ltx_rope_tables(be, &rp, pos, &c, &s) : ltx_err_failed();
    if (st == LTX_OK) y = ltx_rope_apply(be, rp.mode, x, rp.heads, c, s); /* (B, H, T, D) */
    static const int perm[4] = {0, 2, 1, 3};
    if (y) yp = ltx_tensor_permute(y, perm);
    if (yp) yc = ltx_nn_contiguous(be, yp, LTX_F32);
    if (st == LTX_OK && !yc) st = ltx_err_failed();
    if (st == LTX_OK)
        st = emit_free(g, ltx_golden_output_name(g, 0), ltx_tensor_reshape(yc, 3, x->shape));
    ltx_tensor *fr[] = {x, pos, c, s, y, yp, yc};
    for (size_t i = 0; i < sizeof fr / sizeof fr[0]; i++)
        ltx_tensor_free(fr[i]);
    return st;
}

/* ---- patchify and positions ---- */

static int shape_param(ltx_golden_ctx *g, const char *key, int64_t *shape)
{
    return ltx_json_int_array(ltx_golden_params(g), key, shape, LTX_MAX_DIMS);
}

/* Inputs: noise, latent, [clean_latent,] mask — the 1.2 files give the clean latent the noiser
 * lerps towards; without one the latent is its own clean latent (an unconditioned state). */
ltx_status ltx_g_gaussian_noiser(ltx_golden_ctx *g)
{
    bool has_clean = ltx_golden_input_name(g, 3) != NULL;
    ltx_tensor *noise = ltx_golden_input(g, 0), *lat = ltx_golden_input(g, 1);
    ltx_tensor *clean = has_clean ? ltx_golden_input(g, 2) : NULL;
    ltx_tensor *mask = ltx_golden_input(g, has_clean ? 3 : 2);
    ltx_status s = noise && lat && mask && (clean || !has_clean) ? LTX_OK : ltx_err_failed();
    if (s == LTX_OK) {
        double sc = ltx_json_num(ltx_golden_params(g), "noise_scale", 1.0);
        s = emit_free(g, ltx_golden_output_name(g, 0),
                      ltx_gaussian_noiser(ltx_golden_backend(g), lat, clean ? clean : lat, mask,
                                          noise, sc, ltx_golden_reference(g)));
    }
    ltx_tensor_free(noise);
    ltx_tensor_free(lat);
    ltx_tensor_free(clean);
    ltx_tensor_free(mask);
    return s;
}

ltx_status ltx_g_video_patchify(ltx_golden_ctx *g)
{
    ltx_tensor *x = ltx_golden_input(g, 0);
    if (!x) return ltx_err_failed();
    int p = (int)ltx_json_int(ltx_golden_params(g), "patch_size", 1);
    ltx_status s =
        emit_free(g, ltx_golden_output_name(g, 0), ltx_video_patchify(ltx_golden_backend(g), x, p));
    ltx_tensor_free(x);
    return s;
}

ltx_status ltx_g_video_patch_grid_bounds(ltx_golden_ctx *g)
{
    int64_t shape[LTX_MAX_DIMS];
    if (shape_param(g, "latent_shape", shape) != 5)
        return ltx_err(LTX_ERR_FORMAT, "latent_shape must have 5 entries");
    int p = (int)ltx_json_int(ltx_golden_params(g), "patch_size", 1);
    int64_t *c = NULL;
    LTX_TRY(ltx_video_patch_grid_bounds_host(shape, p, &c));
    int64_t os[4] = {shape[0], 3, shape[2] * (shape[3] / p) * (shape[4] / p), 2};
    ltx_status s = ltx_golden_emit_host(g, ltx_golden_output_name(g, 0), LTX_I64, 4, os, c);
    free(c);
    return s;
}

ltx_status ltx_g_video_pixel_coords(ltx_golden_ctx *g)
{
    ltx_tensor *b = ltx_golden_input(g, 0);
    if (!b) return ltx_err_failed();
    int64_t sf[3];
    int scale[3] = {8, 32, 32};
    if (ltx_json_int_array(ltx_golden_params(g), "scale_factors", sf, 3) == 3)
        for (int i = 0; i < 3; i++)
            scale[i] = (int)sf[i];
    int64_t n = ltx_tensor_numel(b);
    int64_t *c = malloc(sizeof(int64_t) * (size_t)n);
    ltx_status s = c ? ltx_tensor_download(b, c, LTX_I64) : ltx_err(LTX_ERR_OOM, "oom");
    if (s == LTX_OK) {
        ltx_video_pixel_coords_host(c, b->shape[0], b->shape[2], scale,
                                    ltx_json_bool(ltx_golden_params(g), "causal_fix", true));
        s = ltx_golden_emit_host(g, ltx_golden_output_name(g, 0), LTX_I64, 4, b->shape, c);
    }
    free(c);
    ltx_tensor_free(b);
    return s;
}

static ltx_status emit_state(ltx_golden_ctx *g, ltx_latent_state *st)
{
    ltx_status s = ltx_golden_emit(g, ltx_golden_output_name(g, 0), st->latent);
    if (s == LTX_OK) s = ltx_golden_emit(g, ltx_golden_output_name(g, 1), st->denoise_mask);
    if (s == LTX_OK) s = ltx_golden_emit(g, ltx_golden_output_name(g, 2), st->positions);
    if (s == LTX_OK) s = ltx_golden_emit(g, ltx_golden_output_name(g, 3), st->clean_latent);
    ltx_latent_state_clear(st);
    return s;
}

ltx_status ltx_g_video_initial_state(ltx_golden_ctx *g)
{
    const cJSON *p = ltx_golden_params(g);
    int64_t shape[LTX_MAX_DIMS], sf[3];
    if (shape_param(g, "latent_shape", shape) != 5)
        return ltx_err(LTX_ERR_FORMAT, "latent_shape must have 5 entries");
    int scale[3] = {8, 32, 32};
    if (ltx_json_int_array(p, "scale_factors", sf, 3) == 3)
        for (int i = 0; i < 3; i++)
            scale[i] = (int)sf[i];
    ltx_tensor *x = ltx_golden_input(g, 0);
    if (!x) return ltx_err_failed();
    ltx_latent_state st;
    ltx_status s = ltx_video_initial_state(
        ltx_golden_backend(g), shape, (int)ltx_json_int(p, "patch_size", 1), scale,
        ltx_json_bool(p, "causal_fix", true), ltx_json_num(p, "fps", 24.0), x, LTX_F32, &st);
    ltx_tensor_free(x);
    if (s == LTX_OK) s = emit_state(g, &st);
    return s;
}

ltx_status ltx_g_audio_patchify(ltx_golden_ctx *g)
{
    ltx_tensor *x = ltx_golden_input(g, 0);
    if (!x) return ltx_err_failed();
    ltx_status s =
        emit_free(g, ltx_golden_output_name(g, 0), ltx_audio_patchify(ltx_golden_backend(g), x));
    ltx_tensor_free(x);
    return s;
}

static void timing_from(ltx_golden_ctx *g, ltx_audio_timing *tm)
{
    const cJSON *p = ltx_golden_params(g);
    ltx_audio_timing_default(tm);
    tm->sample_rate = (int)ltx_json_int(p, "sample_rate", tm->sample_rate);
    tm->hop_length = (int)ltx_json_int(p, "hop_length", tm->hop_length);
    tm->downsample = (int)ltx_json_int(p, "audio_latent_downsample_factor", tm->downsample);
    tm->is_causal = ltx_json_bool(p, "is_causal", tm->is_causal);
    tm->shift = (int)ltx_json_int(p, "shift", tm->shift);
}

ltx_status ltx_g_audio_patch_grid_bounds(ltx_golden_ctx *g)
{
    int64_t shape[LTX_MAX_DIMS];
    if (shape_param(g, "latent_shape", shape) != 4)
        return ltx_err(LTX_ERR_FORMAT, "latent_shape must have 4 entries");
    ltx_audio_timing tm;
    timing_from(g, &tm);
    float *c = NULL;
    LTX_TRY(ltx_audio_patch_grid_bounds_host(&tm, shape[0], shape[2], &c));
    int64_t os[4] = {shape[0], 1, shape[2], 2};
    ltx_status s = ltx_golden_emit_host(g, ltx_golden_output_name(g, 0), LTX_F32, 4, os, c);
    free(c);
    return s;
}

ltx_status ltx_g_audio_initial_state(ltx_golden_ctx *g)
{
    int64_t shape[LTX_MAX_DIMS];
    if (shape_param(g, "latent_shape", shape) != 4)
        return ltx_err(LTX_ERR_FORMAT, "latent_shape must have 4 entries");
    ltx_audio_timing tm;
    timing_from(g, &tm);
    ltx_tensor *x = ltx_golden_input(g, 0);
    if (!x) return ltx_err_failed();
    ltx_latent_state st;
    ltx_status s = ltx_audio_initial_state(ltx_golden_backend(g), shape, &tm, x, &st);
    ltx_tensor_free(x);
    if (s == LTX_OK) s = emit_state(g, &st);
    return s;
}

ltx_status ltx_g_vae_patchify(ltx_golden_ctx *g)
{
    ltx_tensor *x = ltx_golden_input(g, 0);
    if (!x) return ltx_err_failed();
    const cJSON *p = ltx_golden_params(g);
    ltx_status s = emit_free(g, ltx_golden_output_name(g, 0),
                             ltx_vae_patchify(ltx_golden_backend(g), x,
                                              (int)ltx_json_int(p, "patch_size_hw", 1),
                                              (int)ltx_json_int(p, "patch_size_t", 1)));
    ltx_tensor_free(x);
    return s;
}

ltx_status ltx_g_video_condition_by_latent_index(ltx_golden_ctx *g)
{
    const cJSON *p = ltx_golden_params(g);
    int64_t shape[LTX_MAX_DIMS];
    if (shape_param(g, "latent_shape", shape) != 5)
        return ltx_err(LTX_ERR_FORMAT, "latent_shape must have 5 entries");
    ltx_backend *be = ltx_golden_backend(g);
    ltx_tensor *cond = ltx_golden_input(g, 0);
    ltx_tensor *in[4] = {0};
    ltx_latent_state st = {0};
    ltx_status s = cond ? LTX_OK : ltx_err_failed();
    for (int i = 0; s == LTX_OK && i < 4; i++) {
        in[i] = ltx_golden_input(g, i + 1);
        if (!in[i]) s = ltx_err_failed();
    }
    /* working copies (the golden's tensors are read-only views of the file) */
    if (s == LTX_OK) {
        st.latent = ltx_nn_contiguous(be, in[0], LTX_F32);
        st.denoise_mask = ltx_nn_contiguous(be, in[1], LTX_F32);
        st.positions = ltx_nn_contiguous(be, in[2], LTX_F32);
        st.clean_latent = ltx_nn_contiguous(be, in[3], LTX_F32);
        if (!st.latent || !st.denoise_mask || !st.positions || !st.clean_latent)
            s = ltx_err_failed();
    }
    if (s == LTX_OK)
        s = ltx_video_condition_by_latent_index(
            be, &st, shape, 1, cond, ltx_json_num(p, "strength", 1.0),
            (int)ltx_json_int(p, "latent_idx", 0), ltx_golden_reference(g));
    if (s == LTX_OK) s = emit_state(g, &st);
    ltx_latent_state_clear(&st);
    for (int i = 0; i < 4; i++)
        ltx_tensor_free(in[i]);
    ltx_tensor_free(cond);
    return s;
}

/* ---- model forward ---- */

typedef struct tf_cache {
    ltx_st_file *f;
    ltx_transformer *m;
    ltx_lora *loras[LTX_MAX_LORAS];
} tf_cache;

static void tf_cache_free(void *p)
{
    tf_cache *c = p;
    ltx_transformer_free(c->m);
    ltx_st_close(c->f);
    for (int i = 0; i < LTX_MAX_LORAS; i++)
        ltx_lora_close(c->loras[i]);
    free(c);
}

/* Opens params.loras [{file, strength}] into c->loras and set (fused in float32 like the
 * golden's float32 model; products in params.lora_product_dtype, default the LoRA dtype). */
static ltx_status lora_set_from(ltx_golden_ctx *g, const cJSON *loras, tf_cache *c,
                                ltx_lora_set *set)
{
    ltx_lora_set_init(set);
    set->target_dtype = LTX_F32;
    set->flags = ltx_golden_lora_flags(g);
    if (!strcmp(ltx_json_str(ltx_golden_params(g), "lora_product_dtype", ""), "float32"))
        set->product_dtype = LTX_F32;
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, loras)
    {
        if (i == LTX_MAX_LORAS) return ltx_err(LTX_ERR_FORMAT, "too many LoRAs");
        char path[1024];
        ltx_golden_resolve(g, "ckpt", ltx_json_str(it, "file", ""), path, sizeof path);
        LTX_TRY(ltx_lora_open(path, &c->loras[i]));
        LTX_TRY(ltx_lora_set_add(set, c->loras[i], ltx_json_num(it, "strength", 1.0)));
        i++;
    }
    return LTX_OK;
}

/* LoRA fusion (when the case has LoRAs) then the replay's --quantization. */
typedef struct qhook {
    ltx_lora_set *set;
    ltx_quant_policy pol;
} qhook;

static ltx_status lora_then_quant(void *user, ltx_backend *be, const char *name,
                                  const ltx_tensor *stored, ltx_tensor **replacement)
{
    qhook *h = user;
    ltx_tensor *fused = NULL, *q = NULL;
    *replacement = NULL;
    if (h->set->n) LTX_TRY(ltx_lora_weight_hook(h->set, be, name, stored, &fused));
    ltx_status s = ltx_quant_weight_hook(&h->pol, be, name, fused ? fused : stored, &q);
    if (s != LTX_OK || q) ltx_tensor_free(fused);
    *replacement = q ? q : s == LTX_OK ? fused : NULL;
    return s;
}

unsigned ltx_golden_lora_flags(ltx_golden_ctx *g)
{
    unsigned f = LTX_LORA_TORCH113_CPU_MATMUL; /* every golden: torch 1.13 on CPU */
    /* ref: 400fd31 (1.2) fuses with bf16_fuse_rule; a2c3f24 (2026-04) in the target dtype */
    if (ltx_refver_is_1_2(ltx_golden_reference(g))) f |= LTX_LORA_BF16_FUSE_RULE;
    return f;
}

static ltx_status get_model(ltx_golden_ctx *g, ltx_transformer **out)
{
    char path[1024], key[1100];
    if (!ltx_golden_ckpt_path(g, "checkpoint", path, sizeof path))
        return ltx_err(LTX_ERR_FORMAT, "case has no checkpoint");
    const cJSON *loras = cJSON_GetObjectItemCaseSensitive(ltx_golden_params(g), "loras");
    char *lj = cJSON_GetArraySize(loras) > 0 ? cJSON_PrintUnformatted(loras) : NULL;
    uint32_t h = 2166136261u; /* FNV-1a of the LoRA list: one cached model per list */
    for (const char *q = lj ? lj : ""; *q; q++)
        h = (h ^ (uint8_t)*q) * 16777619u;
    snprintf(key, sizeof key, "transformer:%s:%08x", path, (unsigned)h);
    free(lj);
    tf_cache *c = ltx_golden_cache_get(g, key);
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c) return ltx_err(LTX_ERR_OOM, "out of memory");
        ltx_lora_set set;
        ltx_status s = lora_set_from(g, loras, c, &set);
        if (s == LTX_OK) s = ltx_st_open(path, &c->f);
        qhook qh = {&set, {LTX_QPOL_NONE, LTX_DTYPE_COUNT}};
        if (s == LTX_OK) s = ltx_quant_policy_parse(ltx_golden_quantization(g), &qh.pol);
        if (s == LTX_OK && qh.pol.kind != LTX_QPOL_NONE)
            s = ltx_transformer_load_ex(c->f, ltx_golden_backend(g), false, lora_then_quant, &qh,
                                        &c->m);
        else if (s == LTX_OK)
            s = ltx_transformer_load_ex(c->f, ltx_golden_backend(g), false,
                                        set.n ? ltx_lora_weight_hook : NULL, &set, &c->m);
        if (s != LTX_OK) {
            tf_cache_free(c);
            return s;
        }
        ltx_transformer_set_reference(c->m, ltx_golden_reference(g));
        ltx_golden_cache_put(g, key, c, tf_cache_free);
    }
    *out = c->m;
    return LTX_OK;
}

/* The checkpoint's transformer (fused with params.loras), cached per file: shared with
 * g_guidance.c (guided_denoise). */
ltx_status ltx_golden_modality_inputs(ltx_golden_ctx *g, ltx_tensor *in[10], ltx_modality *v,
                                      ltx_modality *a)
{
    for (int i = 0; i < 10; i++)
        if (!(in[i] = ltx_golden_input(g, i))) return ltx_err_failed();
    *v = (ltx_modality){.latent = in[0],
                        .sigma = in[1],
                        .timesteps = in[2],
                        .positions = in[3],
                        .context = in[4],
                        .enabled = true};
    *a = (ltx_modality){.latent = in[5],
                        .sigma = in[6],
                        .timesteps = in[7],
                        .positions = in[8],
                        .context = in[9],
                        .enabled = true};
    return LTX_OK;
}

ltx_status ltx_golden_get_transformer(ltx_golden_ctx *g, ltx_transformer **out)
{
    return get_model(g, out);
}

#define MAX_PTB 16

static ltx_status run_forward(ltx_golden_ctx *g, bool x0)
{
    const cJSON *p = ltx_golden_params(g);
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(p, "context_mask");
    if (cm && !cJSON_IsNull(cm))
        return ltx_err(LTX_ERR_NOT_BUILT, "context_mask parameter other than null");
    ltx_transformer *m = NULL;
    LTX_TRY(get_model(g, &m));
    /* perturbations, identical for every batch item */
    ltx_perturbation list[MAX_PTB];
    int blocks[MAX_PTB][64];
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(p, "perturbations"))
    {
        if (n == MAX_PTB) return ltx_err(LTX_ERR_FORMAT, "too many perturbations");
        ltx_perturbation *q = &list[n];
        if (!ltx_ptb_type_parse(ltx_json_str(it, "type", ""), &q->type))
            return ltx_err(LTX_ERR_FORMAT, "unknown perturbation %s", ltx_json_str(it, "type", ""));
        int64_t bl[64];
        int nb = ltx_json_int_array(it, "blocks", bl, 64);
        q->blocks = NULL;
        q->n_blocks = 0;
        if (nb >= 0) {
            for (int i = 0; i < nb; i++)
                blocks[n][i] = (int)bl[i];
            q->blocks = blocks[n];
            q->n_blocks = nb;
        }
        n++;
    }
    ltx_tensor *in[10] = {0};
    ltx_modality v, a;
    ltx_status s = ltx_golden_modality_inputs(g, in, &v, &a);
    ltx_tensor *vo = NULL, *ao = NULL;
    if (s == LTX_OK) {
        int64_t B = in[0]->shape[0];
        ltx_ptb_item items[64];
        if (B > 64) s = ltx_err(LTX_ERR_UNSUPPORTED, "batch > 64");
        for (int64_t b = 0; b < B && b < 64; b++)
            items[b] = (ltx_ptb_item){list, n};
        if (s == LTX_OK)
            s = (x0 ? ltx_transformer_forward_x0 : ltx_transformer_forward)(
                m, &v, &a, n ? items : NULL, ltx_golden_taps(g), &vo, &ao);
    }
    if (s == LTX_OK) s = emit_free(g, ltx_golden_output_name(g, 0), vo), vo = NULL;
    if (s == LTX_OK) s = emit_free(g, ltx_golden_output_name(g, 1), ao), ao = NULL;
    ltx_tensor_free(vo);
    ltx_tensor_free(ao);
    for (int i = 0; i < 10; i++)
        ltx_tensor_free(in[i]);
    return s;
}

ltx_status ltx_g_ltx_model_forward(ltx_golden_ctx *g)
{
    return run_forward(g, false);
}
ltx_status ltx_g_x0_model_forward(ltx_golden_ctx *g)
{
    return run_forward(g, true);
}
