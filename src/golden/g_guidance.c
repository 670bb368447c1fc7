/*
 * g_guidance.c — golden handlers for guidance and LoRA: the guider combinations
 * (modules/guiders), LoRA weight fusion (modules/lora_fusion) and one guided denoising
 * evaluation (modules/transformer_guided_batch, case guided_denoise). Parameters come from
 * case.params; tensors from case.inputs in order.
 */
#include "core/dtype.h"
#include "golden/g_transformer.h"

#include "models/lora.h"
#include "models/ltx_transformer.h"
#include "sampling/guiders.h"

#include <stdlib.h>
#include <string.h>

ltx_status ltx_g_multimodal_guider(ltx_golden_ctx *g);
ltx_status ltx_g_cfg_guider(ltx_golden_ctx *g);
ltx_status ltx_g_cfg_star_rescaling_guider(ltx_golden_ctx *g);
ltx_status ltx_g_stg_guider(ltx_golden_ctx *g);
ltx_status ltx_g_apg_guider(ltx_golden_ctx *g);
ltx_status ltx_g_projection_coef(ltx_golden_ctx *g);
/* g_transformer.c: the cached (LoRA-fused) transformer of the case's checkpoint */

/* Emits t as output i, then frees it. */
static ltx_status emit_free(ltx_golden_ctx *g, int i, ltx_tensor *t)
{
    const char *name = ltx_golden_output_name(g, i);
    ltx_status s = !t     ? ltx_err_failed()
                   : name ? ltx_golden_emit(g, name, t)
                          : ltx_err(LTX_ERR_FORMAT, "case lists too few outputs");
    ltx_tensor_free(t);
    return s;
}

/* Reads case inputs 0..n-1 as f32 tensors on the context's backend. */
static ltx_status inputs_f32(ltx_golden_ctx *g, int n, ltx_tensor **t)
{
    ltx_backend *be = ltx_golden_backend(g);
    for (int i = 0; i < n; i++)
        t[i] = NULL;
    for (int i = 0; i < n; i++) {
        ltx_tensor *raw = ltx_golden_input(g, i);
        if (!raw) return ltx_err_failed();
        t[i] = ltx_tensor_to(raw, be, LTX_F32);
        ltx_tensor_free(raw);
        if (!t[i]) return ltx_err_failed();
    }
    return LTX_OK;
}

static void free_all(int n, ltx_tensor **t)
{
    for (int i = 0; i < n; i++)
        ltx_tensor_free(t[i]);
}

/* ---- guiders ---- */

static void guider_params_from(const cJSON *p, ltx_guider_params *gp)
{
    ltx_guider_params_init(gp);
    gp->cfg_scale = ltx_json_num(p, "cfg_scale", gp->cfg_scale);
    gp->stg_scale = ltx_json_num(p, "stg_scale", gp->stg_scale);
    gp->rescale_scale = ltx_json_num(p, "rescale_scale", gp->rescale_scale);
    gp->modality_scale = ltx_json_num(p, "modality_scale", gp->modality_scale);
    gp->skip_step = (int)ltx_json_int(p, "skip_step", 0);
    int64_t bl[LTX_MAX_STG_BLOCKS];
    int nb = ltx_json_int_array(p, "stg_blocks", bl, LTX_MAX_STG_BLOCKS);
    gp->n_stg_blocks = nb > 0 ? nb : 0;
    for (int i = 0; i < gp->n_stg_blocks; i++)
        gp->stg_blocks[i] = (int)bl[i];
}

ltx_status ltx_g_multimodal_guider(ltx_golden_ctx *g)
{
    ltx_guider_params gp;
    guider_params_from(ltx_golden_params(g), &gp);
    ltx_tensor *in[4];
    ltx_status s = inputs_f32(g, 4, in);
    ltx_tensor *out = NULL;
    if (s == LTX_OK) {
        ltx_backend *be = ltx_golden_backend(g);
        out = ltx_tensor_new(be, LTX_F32, in[0]->ndim, in[0]->shape);
        s = out ? ltx_multimodal_guider_calculate(be, &gp, out, in[0], in[1], in[2], in[3], LTX_F32)
                : ltx_err_failed();
    }
    if (s == LTX_OK) s = emit_free(g, 0, out), out = NULL;
    ltx_tensor_free(out);
    free_all(4, in);
    return s;
}

typedef enum { GD_CFG, GD_CFG_STAR, GD_STG, GD_APG } delta_kind;

static ltx_status run_delta(ltx_golden_ctx *g, delta_kind k)
{
    const cJSON *p = ltx_golden_params(g);
    const char *method = ltx_json_str(p, "method", "delta");
    if (strcmp(method, "delta"))
        return ltx_err(LTX_ERR_NOT_BUILT, "guider method \"%s\" (only delta)", method);
    double scale = ltx_json_num(p, "scale", 1.0);
    ltx_tensor *in[2];
    ltx_status s = inputs_f32(g, 2, in);
    ltx_tensor *out = NULL;
    ltx_backend *be = ltx_golden_backend(g);
    if (s == LTX_OK) {
        out = ltx_tensor_new(be, LTX_F32, in[0]->ndim, in[0]->shape);
        if (!out) s = ltx_err_failed();
    }
    if (s == LTX_OK) {
        switch (k) {
        case GD_CFG:
            s = ltx_cfg_guider_delta(be, scale, out, in[0], in[1]);
            break;
        case GD_CFG_STAR:
            s = ltx_cfg_star_guider_delta(be, scale, out, in[0], in[1]);
            break;
        case GD_STG:
            s = ltx_stg_guider_delta(be, scale, out, in[0], in[1]);
            break;
        case GD_APG:
            s = ltx_apg_guider_delta(be, scale, ltx_json_num(p, "eta", 1.0),
                                     ltx_json_num(p, "norm_threshold", 0.0), out, in[0], in[1]);
            break;
        }
    }
    if (s == LTX_OK) s = emit_free(g, 0, out), out = NULL;
    ltx_tensor_free(out);
    free_all(2, in);
    return s;
}

ltx_status ltx_g_cfg_guider(ltx_golden_ctx *g)
{
    return run_delta(g, GD_CFG);
}
ltx_status ltx_g_cfg_star_rescaling_guider(ltx_golden_ctx *g)
{
    return run_delta(g, GD_CFG_STAR);
}
ltx_status ltx_g_stg_guider(ltx_golden_ctx *g)
{
    return run_delta(g, GD_STG);
}
ltx_status ltx_g_apg_guider(ltx_golden_ctx *g)
{
    return run_delta(g, GD_APG);
}

ltx_status ltx_g_projection_coef(ltx_golden_ctx *g)
{
    ltx_tensor *in[2];
    ltx_status s = inputs_f32(g, 2, in);
    float *coef = NULL;
    if (s == LTX_OK) {
        int64_t B = in[0]->shape[0];
        coef = malloc(sizeof(float) * (size_t)B);
        s = coef ? ltx_projection_coef(ltx_golden_backend(g), in[0], in[1], coef)
                 : ltx_err(LTX_ERR_OOM, "out of memory");
        int64_t shp[2] = {B, 1};
        const char *name = ltx_golden_output_name(g, 0);
        if (s == LTX_OK)
            s = name ? ltx_golden_emit_host(g, name, LTX_F32, 2, shp, coef)
                     : ltx_err(LTX_ERR_FORMAT, "case has no outputs");
    }
    free(coef);
    free_all(2, in);
    return s;
}

/* ---- LoRA fusion ---- */

ltx_status ltx_g_lora_fuse(ltx_golden_ctx *g);
ltx_status ltx_g_lora_fuse(ltx_golden_ctx *g)
{
    const cJSON *p = ltx_golden_params(g);
    const cJSON *loras = cJSON_GetObjectItemCaseSensitive(p, "loras");
    int n = cJSON_GetArraySize(loras);
    if (n < 1 || n > LTX_MAX_LORAS) return ltx_err(LTX_ERR_FORMAT, "lora_fuse: %d LoRAs", n);
    ltx_backend *be = ltx_golden_backend(g);
    ltx_tensor *base = ltx_golden_tensor(g, ltx_json_str(p, "base", ""));
    ltx_tensor *A[LTX_MAX_LORAS] = {0}, *B[LTX_MAX_LORAS] = {0};
    double str[LTX_MAX_LORAS];
    ltx_status s = base ? LTX_OK : ltx_err_failed();
    for (int i = 0; i < n && s == LTX_OK; i++) {
        const cJSON *it = cJSON_GetArrayItem(loras, i);
        A[i] = ltx_golden_tensor(g, ltx_json_str(it, "A", ""));
        B[i] = ltx_golden_tensor(g, ltx_json_str(it, "B", ""));
        str[i] = ltx_json_num(it, "strength", 1.0);
        if (!A[i] || !B[i]) s = ltx_err_failed();
    }
    /* The golden stores the bf16 LoRA tensors as float32; the reference multiplied them in
     * bf16 ("bfloat16") or, for the fp32 variant, entirely in float32. Its model is float32.
     * torch 1.13 (which wrote the goldens) rounds the strengths of bf16 products to bf16
     * (lora.h); the bf16 cases follow the file's reference version (its fuse rule under 1.2),
     * the float32 variant is a plain f32 fusion under both. */
    const char *pd = ltx_json_str(p, "product_dtype", "bfloat16");
    ltx_dtype pdt = !strcmp(pd, "float32") ? LTX_F32 : LTX_BF16;
    unsigned flags = ltx_golden_lora_flags(g);
    if (pdt == LTX_F32) flags &= ~LTX_LORA_BF16_FUSE_RULE;
    ltx_tensor *out = NULL;
    if (s == LTX_OK)
        s = ltx_lora_fuse_ex(be, ltx_json_str(p, "key", NULL), base, n,
                             (const ltx_tensor *const *)A, (const ltx_tensor *const *)B, str, pdt,
                             LTX_F32, flags, &out);
    if (s == LTX_OK) s = emit_free(g, 0, out), out = NULL;
    ltx_tensor_free(out);
    ltx_tensor_free(base);
    free_all(n, A);
    free_all(n, B);
    return s;
}

/* ---- one guided denoising evaluation (transformer_guided_batch) ---- */

#define GD_MAX_PASSES 8
#define GD_MAX_PTB    4

/* Parses one pass's perturbation list ({type, blocks|null}) into list/blocks. */
static ltx_status parse_ptb(const cJSON *arr, ltx_perturbation *list, int (*blocks)[64], int *n)
{
    *n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (*n == GD_MAX_PTB) return ltx_err(LTX_ERR_FORMAT, "too many perturbations");
        ltx_perturbation *q = &list[*n];
        if (!ltx_ptb_type_parse(ltx_json_str(it, "type", ""), &q->type))
            return ltx_err(LTX_ERR_FORMAT, "unknown perturbation %s", ltx_json_str(it, "type", ""));
        int64_t bl[64];
        int nb = ltx_json_int_array(it, "blocks", bl, 64); /* null -> all blocks */
        q->blocks = NULL;
        q->n_blocks = 0;
        if (nb >= 0) {
            for (int i = 0; i < nb; i++)
                blocks[*n][i] = (int)bl[i];
            q->blocks = blocks[*n];
            q->n_blocks = nb;
        }
        (*n)++;
    }
    return LTX_OK;
}

/* Row range [i, i+1) of a (P, T, C) batch output: pass i's x0. */
static ltx_tensor *pass_rows(const ltx_tensor *t, int i)
{
    return ltx_tensor_slice(t, 0, i, i + 1, 1);
}

ltx_status ltx_g_guided_denoise(ltx_golden_ctx *g);
ltx_status ltx_g_guided_denoise(ltx_golden_ctx *g)
{
    const cJSON *p = ltx_golden_params(g);
    const cJSON *passes = cJSON_GetObjectItemCaseSensitive(p, "passes");
    int P = cJSON_GetArraySize(passes);
    if (P < 1 || P > GD_MAX_PASSES) return ltx_err(LTX_ERR_FORMAT, "guided_denoise: %d passes", P);
    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "loras")) > 0)
        return ltx_err(LTX_ERR_NOT_BUILT, "guided_denoise with LoRAs");
    /* pass kinds by position in the reference's order: cond, then uncond / ptb / mod as the
     * perturbations and contexts say */
    ltx_perturbation list[GD_MAX_PASSES][GD_MAX_PTB];
    int blocks[GD_MAX_PASSES][GD_MAX_PTB][64];
    ltx_ptb_item items[GD_MAX_PASSES];
    int kind[GD_MAX_PASSES]; /* 0 cond, 1 uncond, 2 ptb, 3 mod */
    for (int i = 0; i < P; i++) {
        const cJSON *ps = cJSON_GetArrayItem(passes, i);
        int n;
        LTX_TRY(parse_ptb(cJSON_GetObjectItemCaseSensitive(ps, "perturbations"), list[i], blocks[i],
                          &n));
        items[i] = (ltx_ptb_item){list[i], n};
        bool neg = !strcmp(ltx_json_str(ps, "context", "positive"), "negative");
        kind[i] = neg      ? 1
                  : n == 0 ? 0
                  : list[i][0].type == LTX_PTB_SKIP_VIDEO_SELF_ATTN ||
                          list[i][0].type == LTX_PTB_SKIP_AUDIO_SELF_ATTN
                      ? 2
                      : 3;
    }
    ltx_guider_params vg, ag;
    guider_params_from(cJSON_GetObjectItemCaseSensitive(p, "video_guider"), &vg);
    guider_params_from(cJSON_GetObjectItemCaseSensitive(p, "audio_guider"), &ag);

    ltx_transformer *m = NULL;
    LTX_TRY(ltx_golden_get_transformer(g, &m));
    ltx_backend *be = ltx_golden_backend(g);
    ltx_tensor *in[10] = {0};
    ltx_modality v, a;
    ltx_status s = ltx_golden_modality_inputs(g, in, &v, &a);
    if (s == LTX_OK && in[0]->shape[0] != P)
        s = ltx_err(LTX_ERR_FORMAT, "batch %lld != %d passes", (long long)in[0]->shape[0], P);
    /* one batched X0Model call: the passes are the batch rows (ref: _guided_denoise) */
    ltx_tensor *ov = NULL, *oa = NULL;
    if (s == LTX_OK) {
        s = ltx_transformer_forward_x0(m, &v, &a, items, ltx_golden_taps(g), &ov, &oa);
    }
    if (s == LTX_OK) s = ltx_golden_emit(g, ltx_golden_output_name(g, 0), ov);
    if (s == LTX_OK) s = ltx_golden_emit(g, ltx_golden_output_name(g, 1), oa);
    for (int mod = 0; mod < 2 && s == LTX_OK; mod++) {
        const ltx_tensor *all = mod ? oa : ov;
        ltx_tensor *part[4] = {0};
        for (int i = 0; i < P; i++) {
            ltx_tensor_free(part[kind[i]]);
            part[kind[i]] = pass_rows(all, i);
        }
        ltx_tensor *out = part[0] ? ltx_tensor_new(be, LTX_F32, 3, part[0]->shape) : NULL;
        s = out ? ltx_multimodal_guider_calculate(be, mod ? &ag : &vg, out, part[0], part[1],
                                                  part[2], part[3], LTX_F32)
                : ltx_err(LTX_ERR_FORMAT, "no cond pass");
        if (s == LTX_OK) s = emit_free(g, 2 + mod, out), out = NULL;
        ltx_tensor_free(out);
        for (int k = 0; k < 4; k++)
            ltx_tensor_free(part[k]);
    }
    ltx_tensor_free(ov);
    ltx_tensor_free(oa);
    for (int i = 0; i < 10; i++)
        ltx_tensor_free(in[i]);
    return s;
}
