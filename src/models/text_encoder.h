/*
 * text_encoder.h — the whole text path: prompt -> Gemma tokenizer (LTX convention: strip, BOS,
 * truncate, left-pad to 1024) -> Gemma 3 hidden states -> FeatureExtractorV2 -> video / audio
 * embeddings connectors -> the transformer's video and audio contexts.
 *
 * Mirrors ltx_pipelines' PromptEncoder use of ltx_core GemmaTextEncoder.encode followed by
 * EmbeddingsProcessor.process_hidden_states (ltx_core/text_encoders/gemma/). Gemma is opened
 * (memory-mapped), run for every prompt of the call, and closed before the call returns — the
 * reference likewise frees the text encoder before the transformer stage, so its ~24 GB never
 * coexist with the transformer's weights.
 *
 * Memory while encoding: one Gemma layer's weights (mapped, dropped after use) plus the
 * activations of the prompt's valid tokens, and the normalised feature matrix (n tokens x
 * D * L floats, written in place as the hidden states come out — the hidden states themselves
 * are never all kept). Pad rows are never computed (see gemma3.h).
 */
#ifndef LTX_MODELS_TEXT_ENCODER_H
#define LTX_MODELS_TEXT_ENCODER_H

#include "core/refver.h"
#include "models/gemma3.h"
#include "models/text_connector.h"

typedef struct ltx_text_context {
    ltx_tensor *video; /* (1, T, Nv) f32: valid tokens first, then registers */
    ltx_tensor *audio; /* (1, T, Na) f32 */
    int64_t T;         /* sequence length (max_len) */
    int n_tokens;      /* valid tokens (BOS included) */
    int n_prompt;      /* tokens of the whole prompt (BOS included); > T when it was truncated */
} ltx_text_context;

typedef struct ltx_text_encode_params {
    const char *gemma_root;       /* Hugging Face Gemma 3 folder (config.json optional) */
    const char *tokenizer;        /* tokenizer.json or a folder holding it; NULL = gemma_root */
    int max_len;                  /* 0 = 1024 (ref: LTXVGemmaTokenizer(..., 1024)) */
    ltx_gemma3_layer_fn on_layer; /* optional per-layer hook (benchmarks, progress) */
    void *user;
    /* reference numerics of the run (core/refver.h; 0 = 1.2). Not read by the encoder itself;
     * prompt enhancement differs (1.2 pads the enhancer's batch on the left, 2362161) */
    ltx_reference_version ref;
    /* already loaded (borrowed, e.g. from the engine's model cache); NULL = open from the
     * paths above and close before returning */
    struct ltx_gemma_tokenizer *tok;
    ltx_gemma3 *gemma;
} ltx_text_encode_params;

/* Encodes n prompts (UTF-8, NUL-terminated) into out[0..n) with the processor `proc` (loaded
 * from the LTX checkpoint on the same backend). Opens the tokenizer and Gemma, encodes every
 * prompt, closes both before returning. On failure every out[i] is cleared. Free each context
 * with ltx_text_context_clear. */
ltx_status ltx_text_encode_prompts(ltx_backend *be, const ltx_text_encode_params *prm,
                                   const ltx_text_processor *proc, const char *const *prompts,
                                   int n, ltx_text_context *out);

/* Frees the tensors and zeroes the struct; NULL is fine. */
void ltx_text_context_clear(ltx_text_context *c);

#endif
