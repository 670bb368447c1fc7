/*
 * quant_policy.c — the low-bit weight policies of quant_policy.h: name rules, row fallbacks and
 * the load-time weight hook.
 * ref: ltx_core/quantization/fp8_cast.py (fp8-cast key set), policy.py (policy names);
 *      llama.cpp's K-quant fallback for rows that are not whole 256-element super-blocks.
 */
#include "models/quant_policy.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

ltx_status ltx_quant_policy_parse(const char *s, ltx_quant_policy *out)
{
    out->kind = LTX_QPOL_NONE;
    out->type = LTX_DTYPE_COUNT;
    if (!s || !*s) return LTX_OK;
    if (!strcasecmp(s, "fp8-cast") || !strcasecmp(s, "fp8-scaled-mm")) {
        out->kind = !strcasecmp(s, "fp8-cast") ? LTX_QPOL_FP8_CAST : LTX_QPOL_FP8_SCALED_MM;
        out->type = LTX_F8E4M3;
        return LTX_OK;
    }
    ltx_dtype t;
    if (ltx_dtype_parse_any(s, &t) && ltx_dtype_is_quant(t)) {
        out->kind = LTX_QPOL_BLOCK;
        out->type = t;
        return LTX_OK;
    }
    return ltx_err(LTX_ERR_INVALID_ARG,
                   "--quantization %s: unknown policy (fp8-cast, fp8-scaled-mm, q8_0, q4_0, q4_1, "
                   "q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k)",
                   s);
}

static bool starts(const char *s, const char *p)
{
    return !strncmp(s, p, strlen(p));
}

static bool ends(const char *s, const char *p)
{
    size_t n = strlen(s), m = strlen(p);
    return n >= m && !strcmp(s + n - m, p);
}

/* Kept in high precision by the block policies (GGUF ecosystem convention). */
static bool keep_high(const char *name)
{
    static const char *const roots[] = {"adaln_single",
                                        "caption_projection",
                                        "patchify_proj",
                                        "proj_out",
                                        "audio_adaln_single",
                                        "audio_caption_projection",
                                        "audio_patchify_proj",
                                        "audio_proj_out",
                                        "prompt_adaln_single",
                                        "audio_prompt_adaln_single",
                                        "video_embeddings_connector",
                                        "audio_embeddings_connector",
                                        "embeddings_connector"};
    for (size_t i = 0; i < sizeof roots / sizeof *roots; i++)
        if (starts(name, roots[i]) && name[strlen(roots[i])] == '.') return true;
    return strstr(name, "scale_shift_table") || strstr(name, "adaln_single");
}

/* ref: fp8_cast.py TRANSFORMER_LINEAR_DOWNCAST_MAP (prefix transformer_blocks., suffixes). */
static bool fp8_cast_key(const char *name)
{
    static const char *const suf[] = {
        ".to_q.weight",         ".to_q.bias",         ".to_k.weight",     ".to_k.bias",
        ".to_v.weight",         ".to_v.bias",         ".to_out.0.weight", ".to_out.0.bias",
        "ff.net.0.proj.weight", "ff.net.0.proj.bias", "ff.net.2.weight",  "ff.net.2.bias"};
    if (!starts(name, "transformer_blocks.")) return false;
    for (size_t i = 0; i < sizeof suf / sizeof *suf; i++)
        if (ends(name, suf[i])) return true;
    return false;
}

ltx_dtype ltx_quant_row_type(ltx_dtype want, int64_t row)
{
    if (row % ltx_dtype_block_size(want) == 0) return want;
    ltx_dtype fb;
    switch (want) { /* ref: llama.cpp llama_tensor_get_type, "fallback" for non-256 rows */
    case LTX_Q4_K:
        fb = LTX_Q5_0;
        break;
    case LTX_Q5_K:
        fb = LTX_Q5_1;
        break;
    case LTX_Q6_K:
        fb = LTX_Q8_0;
        break;
    case LTX_Q2_K:
    case LTX_Q3_K:
        fb = LTX_Q4_0;
        break;
    default:
        return LTX_DTYPE_COUNT;
    }
    return row % ltx_dtype_block_size(fb) == 0 ? fb : LTX_DTYPE_COUNT;
}

ltx_dtype ltx_quant_target(const ltx_quant_policy *p, const char *name, int ndim,
                           const int64_t *shape, ltx_dtype stored)
{
    if (!p || p->kind == LTX_QPOL_NONE) return stored;
    if (p->kind == LTX_QPOL_FP8_CAST || p->kind == LTX_QPOL_FP8_SCALED_MM)
        return fp8_cast_key(name) && ltx_dtype_is_float(stored) ? LTX_F8E4M3 : stored;
    if (ndim != 2 || !ends(name, ".weight") || keep_high(name) || ltx_dtype_is_quant(stored) ||
        !ltx_dtype_is_float(stored))
        return stored;
    ltx_dtype t = ltx_quant_row_type(p->type, shape[1]);
    return t == LTX_DTYPE_COUNT ? stored : t;
}

ltx_status ltx_quant_weight_hook(void *user, ltx_backend *be, const char *name,
                                 const ltx_tensor *stored, ltx_tensor **replacement)
{
    const ltx_quant_policy *p = user;
    *replacement = NULL;
    ltx_dtype t = ltx_quant_target(p, name, stored->ndim, stored->shape, stored->dtype);
    if (t == stored->dtype) return LTX_OK;
    ltx_tensor *r = ltx_tensor_new(be, t, stored->ndim, stored->shape);
    if (!r) return ltx_err_context(ltx_err_failed(), "--quantization: %s: ", name);
    ltx_status s = be->ops->copy(be, r, stored); /* rounds (fp8, RNE) or block-quantizes */
    if (s != LTX_OK) {
        ltx_tensor_free(r);
        return ltx_err_context(s, "--quantization: %s: ", name);
    }
    snprintf(r->name, sizeof r->name, "%.63s", name);
    *replacement = r;
    return LTX_OK;
}
