/*
 * lora.h — LoRA files and their fusion into the transformer's linear weights.
 *
 * ref: ltx_core/loader/fuse_loras.py (apply_loras, _prepare_deltas, _fuse_delta_with_*),
 *      ltx_core/loader/sd_ops.py (LTXV_LORA_COMFY_RENAMING_MAP),
 *      ltx_core/loader/single_gpu_model_builder.py (fusion at build time) @ a2c3f24;
 *      spec pipelines.md §7.
 *
 * File format: safetensors with `<prefix><module>.lora_A.weight` (r, in) and
 * `<module>.lora_B.weight` (out, r). Every occurrence of "diffusion_model." in a key is removed
 * (the ComfyUI renaming map), so keys name transformer modules as the checkpoint does without
 * "model.diffusion_model.". `.alpha` tensors and lora_down/lora_up names are not recognised (as
 * in the reference). A file without a single lora_A/lora_B pair is refused.
 *
 * Fusion of a weight W (out, in) with the LoRAs that cover it (both A and B present), in list
 * order, each with strength s_i:
 *   P_i = round_p( round_p(B_i * s_i) @ A_i )     p = product dtype (the LoRA file's dtype)
 *   Δ   = P_1 if one LoRA, else round_d( Σ_i round_d(P_i) )   (sum in f32)
 *   W'  = round_t( round_d( f32(W) + Δ ) )
 * d = "deltas dtype" = the target dtype (bf16 for fp8 targets), t = target dtype = W's stored
 * dtype (the real pipelines: bf16 everywhere) or float32 when the caller mirrors the reference's
 * float32 model (the goldens). Biases are never touched.
 *
 * The goldens' runtime, torch 1.13 on CPU, multiplies bf16 matrices in two ways (ATen
 * addmm_impl_cpu_ / cpublas::gemm): with out*r*in > 16^3 through oneDNN (f32 accumulation,
 * one rounding: the formula above), otherwise through its native gemm, which rounds every
 * partial product and partial sum to bf16: P = bf16(...bf16(bf16(b_0 a_0) + bf16(b_1 a_1))...)
 * over the rank index in order (b_l = column l of round_p(B s), a_l = row l of A). Flag
 * LTX_LORA_TORCH113_CPU_MATMUL selects that for bf16 products (golden replay only; torch 2.x
 * and CUDA accumulate in f32). With it, a strength multiplying a bf16 product is first rounded
 * to bf16 too (torch 1.13's `bf16_tensor * python_float`: 0.8 -> 0.80078125) — one rule for
 * every replay, whatever the pipeline.
 *
 * Reference versions (core/refver.h). The formula above is a2c3f24's (2026-04). v1.2 (400fd31,
 * bf16_fuse_rule; flag LTX_LORA_BF16_FUSE_RULE) aggregates in bf16 and adds W in bf16:
 *   Δ = round_b(P_1), then for i >= 2: Δ = round_b(Δ + s_i * (B_i @ A_i))   (addmm_, f32 acc.)
 *   W' = round_t( round_b( f32(W) + Δ ) )                                   b = bf16
 * so the fused weight is bf16 even for an f32 target (the goldens' float32 modules). Under the
 * torch 1.13 flag a small addmm_ runs the native gemm rank by rank (see lora.c).
 *
 * The mmap'd checkpoint is never modified: fusion produces new tensors that the transformer
 * binds instead (ltx_transformer_load_ex + ltx_lora_weight_hook). Per-stage LoRA sets are
 * simply different ltx_lora_set values used for different loads.
 *
 * Block-quantized bases (Q8_0, Q4_K, ...: GGUF checkpoints or --quantization): dequantized,
 * fused in f32, requantized to the base's type (target dtype = the quantized type).
 * Scaled-fp8 weights (`.weight_scale`, official fp8 checkpoints) are fused by the pipelines'
 * hook (stages.c): strengths divided by the scale, result in bf16, the scale still applied by
 * the linear. Not implemented: the CUDA stochastic rounding of fp8-cast fusion.
 */
#ifndef LTX_MODELS_LORA_H
#define LTX_MODELS_LORA_H

#include "backend/backend.h"
#include "io/safetensors.h"

typedef struct ltx_lora ltx_lora;

/* Opens a LoRA file (mmap) and indexes its pairs. Fails (LTX_ERR_IO / LTX_ERR_FORMAT, message
 * naming the file) when unreadable or when no lora_A/lora_B pair exists, or when a pair's
 * ranks disagree. */
ltx_status ltx_lora_open(const char *path, ltx_lora **out);
/* Accepts NULL. */
void ltx_lora_close(ltx_lora *l);
const char *ltx_lora_path(const ltx_lora *l);
/* Number of (A, B) pairs; metadata value (e.g. "reference_downscale_factor") or NULL. */
int ltx_lora_pair_count(const ltx_lora *l);
const char *ltx_lora_metadata(const ltx_lora *l, const char *key);
/* The pair for a model weight key ("transformer_blocks.0.attn1.to_q.weight"); false when the
 * LoRA does not cover it. Entries point into the open file. */
bool ltx_lora_find(const ltx_lora *l, const char *weight_key, const ltx_st_entry **a,
                   const ltx_st_entry **b);

/* One stage's LoRA list (order = the reference's: user LoRAs, then distilled ones). */
#define LTX_MAX_LORAS 16
typedef struct ltx_lora_set {
    const ltx_lora *lora[LTX_MAX_LORAS]; /* borrowed: keep open while loading */
    double strength[LTX_MAX_LORAS];
    int n;
    ltx_dtype target_dtype;   /* LTX_DTYPE_COUNT (ltx_lora_set_init): the weight's own dtype */
    ltx_dtype product_dtype;  /* LTX_DTYPE_COUNT: the LoRA tensors' dtype (the reference) */
    int fused;                /* out: weights replaced so far */
    int matched[LTX_MAX_LORAS]; /* out: pairs of each LoRA used so far */
    unsigned flags;           /* LTX_LORA_* (ltx_lora_set_init: 0) */
} ltx_lora_set;

/* Flags of ltx_lora_set / ltx_lora_fuse_ex: see the header comment. */
#define LTX_LORA_TORCH113_CPU_MATMUL 1u
#define LTX_LORA_BF16_FUSE_RULE      2u

void ltx_lora_set_init(ltx_lora_set *s);
/* Appends (lora, strength); a strength of 0 contributes nothing and is dropped, like the
 * reference's zero delta. LTX_ERR_INVALID_ARG when full. */
ltx_status ltx_lora_set_add(ltx_lora_set *s, const ltx_lora *l, double strength);

/* Fuses n (A_i, B_i, s_i) into `base` (2-D, any float dtype) as above; *out is a new tensor on
 * `be` of dtype target_dtype (LTX_DTYPE_COUNT = base's dtype). A/B of any float dtype on any
 * backend; product_dtype LTX_DTYPE_COUNT = each B's dtype. Shape mismatch -> LTX_ERR_FORMAT
 * naming `key` (may be NULL). */
ltx_status ltx_lora_fuse(ltx_backend *be, const char *key, const ltx_tensor *base, int n,
                         const ltx_tensor *const *A, const ltx_tensor *const *B,
                         const double *strength, ltx_dtype product_dtype, ltx_dtype target_dtype,
                         ltx_tensor **out);
/* ltx_lora_fuse with LTX_LORA_* flags (0 = ltx_lora_fuse). */
ltx_status ltx_lora_fuse_ex(ltx_backend *be, const char *key, const ltx_tensor *base, int n,
                            const ltx_tensor *const *A, const ltx_tensor *const *B,
                            const double *strength, ltx_dtype product_dtype,
                            ltx_dtype target_dtype, unsigned flags, ltx_tensor **out);

/* Weight hook for ltx_transformer_load_ex (user = ltx_lora_set *): for a weight key covered
 * by at least one LoRA of the set, *replacement = the fused tensor (owned by the caller, the
 * transformer); else NULL. Updates set->fused / matched. */
ltx_status ltx_lora_weight_hook(void *user, ltx_backend *be, const char *name,
                                const ltx_tensor *stored, ltx_tensor **replacement);

#endif
