/*
 * gemma3_generate.h — Gemma 3 text generation with a KV cache (the decoder of
 * Gemma3ForConditionalGeneration as LTX's prompt enhancement runs it through generate()).
 *
 * ref: transformers models/gemma3/modeling_gemma3.py (Gemma3ForConditionalGeneration.forward:
 * image features scattered into the image-token rows, lm_head tied to embed_tokens, no logit
 * soft-capping for Gemma 3), masking_utils (causal / sliding-window causal AND the key padding
 * mask, OR'ed in the prefill with bidirectional attention among the tokens of one image:
 * token_type_ids_mask_function), cache_utils DynamicCache (sliding layers keep their window),
 * generation/utils.py (position_ids = cumsum(mask) - 1 with masked rows set to 1; decode steps
 * continue at the number of real tokens; the first token comes from the last prefill row).
 *
 * Cache: full-attention layers keep every key of the sequence (prompt + new tokens);
 * sliding-window layers keep a ring of window - 1 + chunk slots. Each slot records the
 * sequence index, validity (attention mask) and image group of its key; the additive mask is
 * built from those, so the window is by sequence index, as in the reference. The prefill runs
 * in chunks (default 512 tokens, never splitting an image's tokens, whose attention is
 * bidirectional), then tokens are decoded one at a time. Everything runs through backend ops
 * (linear, norm, rope, attention, copy) on the model's backend; logits come back to the host.
 *
 * Lifetime: the generator keeps every decoder weight resident (mapped on cpu, uploaded on a
 * device) plus the caches; close it before loading the next model.
 */
#ifndef LTX_MODELS_GEMMA3_GENERATE_H
#define LTX_MODELS_GEMMA3_GENERATE_H

#include "models/gemma3.h"

typedef struct ltx_gemma3_gen ltx_gemma3_gen;

/* Takes every decoder weight of `m` (borrowed; must outlive the generator) and the tied LM
 * head. *out owned by the caller. */
ltx_status ltx_gemma3_gen_open(ltx_gemma3 *m, ltx_gemma3_gen **out);
void ltx_gemma3_gen_close(ltx_gemma3_gen *g); /* NULL is fine */
int64_t ltx_gemma3_gen_vocab(const ltx_gemma3_gen *g);

/* Optional view of the prefill: the final-normed hidden state (1, n, D) of rows [s0, s0+n). */
typedef ltx_status (*ltx_gemma3_prefill_fn)(void *user, const ltx_tensor *h, int64_t s0);

typedef struct ltx_gemma3_prefill {
    const int32_t *ids, *mask, *types; /* host, L each; types NULL = no image tokens */
    int64_t L;
    const float *image_features; /* host (n_image_rows, D): the rows of the types == 1 tokens */
    int64_t n_image_rows;
    int64_t max_new_tokens;          /* room kept in the caches for decoding */
    int64_t chunk;                   /* prefill chunk in tokens; 0 = 512 */
    ltx_gemma3_prefill_fn on_hidden; /* may be NULL */
    void *user;
} ltx_gemma3_prefill;

/* Resets the caches and runs the prompt. Writes the logits of the last row (vocab floats) to
 * `logits` (host). LTX_ERR_INVALID_ARG when the image rows do not match the image tokens. */
ltx_status ltx_gemma3_gen_prefill(ltx_gemma3_gen *g, const ltx_gemma3_prefill *p, float *logits);

/* Appends token `id` (attention mask 1, the next position) and writes its logits. Fails with
 * LTX_ERR_INVALID_ARG once max_new_tokens tokens were decoded. */
ltx_status ltx_gemma3_gen_step(ltx_gemma3_gen *g, int32_t id, float *logits);

#endif
