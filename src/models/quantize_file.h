/*
 * quantize_file.h — checkpoint -> GGUF conversion behind `ltx2c quantize`.
 *
 * LTX checkpoints (.safetensors or .gguf, bf16 / f32 / official scaled-fp8): the output is ONE
 * GGUF file holding the whole checkpoint — the transformer's weights quantized by the block
 * policy of quant_policy.h, everything else (VAEs, vocoder, text projection, connectors, the
 * high-precision transformer tensors) copied in its stored dtype, the safetensors metadata
 * ("config", "model_version", ...) as GGUF string keys. So the file is a drop-in
 * --checkpoint-path / --distilled-checkpoint-path: the pipelines open GGUF and safetensors alike.
 * Scaled-fp8 weights are dequantized with their `.weight_scale` first (the scale siblings are
 * dropped); an fp8 tensor that stays high precision is written as F32.
 *
 * Gemma 3 folders (Hugging Face layout): the output is a folder with one
 * `model-<type>.gguf` in llama.cpp naming (norms stored as 1 + w, F32; matrices quantized,
 * token_embd included; tensors llama.cpp has no name for keep their names and dtype) and copies
 * of the folder's other small files (config.json, tokenizer files). --gemma-root takes it.
 *
 * Both write through the streaming GGUF writer: one tensor chunk (<= 16 MiB of f32) in memory
 * at a time, output to "<file>.tmp" renamed when complete; the input is never written and an
 * output that is the input is refused.
 */
#ifndef LTX_MODELS_QUANTIZE_FILE_H
#define LTX_MODELS_QUANTIZE_FILE_H

#include "core/log.h"
#include "core/tensor.h"

/* `type` is a block type (ltx_dtype_is_quant). log may be NULL. Errors name the file/tensor. */
ltx_status ltx_quantize_checkpoint(const char *in, const char *out, ltx_dtype type,
                                   const ltx_log *log);
ltx_status ltx_quantize_gemma(const char *in_dir, const char *out_dir, ltx_dtype type,
                              const ltx_log *log);

#endif
