/*
 * g_transformer.h — pieces of the transformer golden handlers shared with other handler files
 * (g_guidance.c): the model cached per golden file and the standard ten-tensor modality inputs.
 */
#ifndef LTX_GOLDEN_G_TRANSFORMER_H
#define LTX_GOLDEN_G_TRANSFORMER_H

#include "golden/golden.h"
#include "models/lora.h"
#include "models/ltx_transformer.h"

/* The transformer of extra.files.checkpoint (LoRAs of params.loras fused), loaded once per
 * golden file and owned by its cache; do not free. */
ltx_status ltx_golden_get_transformer(ltx_golden_ctx *g, ltx_transformer **out);

/* LoRA fusion flags of a replay (models/lora.h): torch 1.13's CPU bf16 matmul and strength
 * rounding (every golden was written by torch 1.13), plus the bf16 fuse rule for 1.2 files. */
unsigned ltx_golden_lora_flags(ltx_golden_ctx *g);

/* Loads case inputs 0..9 — video latent, sigma, timesteps, positions, context, then the same
 * five for audio — into in[10] (caller frees each, also on failure) and fills *v / *a with
 * them, both enabled. */
ltx_status ltx_golden_modality_inputs(ltx_golden_ctx *g, ltx_tensor *in[10], ltx_modality *v,
                                      ltx_modality *a);

#endif
