/*
 * quant_policy.h — which transformer weights low-bit policies touch, and how: the one rule
 * shared by `--quantization` (quantize on load, a transformer weight hook) and
 * `ltx2c quantize` (GGUF files), so both give the same model.
 *
 * Policies:
 *   fp8-cast        ref: ltx_core/quantization/fp8_cast.py TRANSFORMER_LINEAR_DOWNCAST_MAP — the
 *                   weights and biases of transformer_blocks.*.{to_q,to_k,to_v,to_out.0} and
 *                   *ff.net.0.proj / *ff.net.2 cast to float8_e4m3fn (RNE, c10 rules), upcast
 *                   at use (the biases to f32 at load).
 *   fp8-scaled-mm   ref: fp8_scaled_mm.py — fp8 weights x fp8 activations with static input
 *                   scales; no CPU backend has fp8 matmul, so it is fp8-cast with a logged,
 *                   counted fallback (refused under --strict).
 *   q8_0 q4_0 q4_k q5_k q6_k (and q4_1 q5_0 q5_1 q2_k q3_k)
 *                   every 2-D `.weight` of the transformer proper except the ones the GGUF
 *                   ecosystem keeps in high precision: adaln_single*, caption_projection*,
 *                   patchify_proj*, proj_out*, *scale_shift_table* and their audio_* and prompt_*
 *                   twins (av_ca_*_adaln_single too), and the text connectors; rows that are not
 *                   whole blocks take llama.cpp's fallback type (Q4_K->Q5_0, Q5_K->Q5_1,
 *                   Q6_K->Q8_0, Q2_K/Q3_K->Q4_0) or stay as stored when not even 32-aligned.
 */
#ifndef LTX_MODELS_QUANT_POLICY_H
#define LTX_MODELS_QUANT_POLICY_H

#include "backend/backend.h"

#include <stdbool.h>

typedef enum {
    LTX_QPOL_NONE,
    LTX_QPOL_FP8_CAST,
    LTX_QPOL_FP8_SCALED_MM,
    LTX_QPOL_BLOCK
} ltx_qpol_kind;

typedef struct ltx_quant_policy {
    ltx_qpol_kind kind;
    ltx_dtype type; /* BLOCK: the requested type; FP8_*: LTX_F8E4M3 */
} ltx_quant_policy;

/* "fp8-cast", "fp8-scaled-mm", "q8_0", "q4_k", ... (case-insensitive). NULL/"" -> NONE. */
ltx_status ltx_quant_policy_parse(const char *s, ltx_quant_policy *out);
/* The dtype `name` (transformer-relative: "transformer_blocks.0.attn1.to_q.weight") gets under
 * the policy, given its PyTorch shape; `stored` when untouched. */
ltx_dtype ltx_quant_target(const ltx_quant_policy *p, const char *name, int ndim,
                           const int64_t *shape, ltx_dtype stored);
/* Block type for rows of `row` elements: want itself, its fallback, or LTX_DTYPE_COUNT. */
ltx_dtype ltx_quant_row_type(ltx_dtype want, int64_t row);
/* ltx_weight_hook for ltx_transformer_load_ex: user = const ltx_quant_policy *. Replaces
 * matching weights by a converted copy on `be` (NULL replacement = keep). */
ltx_status ltx_quant_weight_hook(void *user, ltx_backend *be, const char *name,
                                 const ltx_tensor *stored, ltx_tensor **replacement);

#endif
