/*
 * gemma3.h — the Gemma 3 text decoder stack (the language model LTX uses as its text encoder),
 * returning every hidden state.
 *
 * Mirrors Hugging Face transformers' Gemma3TextModel (models/gemma3/modeling_gemma3.py, v4.57
 * line) as ltx_core/text_encoders/gemma/encoders/base_encoder.py calls it:
 * `model.model(input_ids, attention_mask, output_hidden_states=True).hidden_states`, batch 1,
 * no position ids given (positions 0..T-1 over the left-padded sequence). Weights come from a
 * Hugging Face folder (model.safetensors.index.json + shards, `language_model.model.*` keys) and
 * its config.json (`text_config` of a Gemma3Config, or a bare gemma3_text config); without a
 * config.json the values LTX hard-codes (text_encoders/gemma/config.py: Gemma 3 12B) are used.
 *
 * Memory: the shards stay memory-mapped. The embedding table is never copied — the rows of the
 * prompt's ids are gathered from the mapping — and each decoder layer's weights are taken from
 * the mapping when the layer runs and let go after it (on a host-visible backend the linear op
 * widens bf16 weights panel by panel; the layer's mapped pages are then dropped from the
 * process with madvise, so resident memory stays about one layer plus activations).
 *
 * Compute: float32 activations (weights widened exactly), as the golden's reference ran
 * (transformers' eager path in float32). The production reference runs Gemma in bf16; this
 * port does not emulate that: activations, RoPE cos/sin and embed_scale (sqrt(3840) instead of
 * bf16's 62.0) stay float32 — more precise, not bit-equal to a bf16 run.
 *
 * Only the rows that can reach LTX's output are computed: the left pads are skipped (a valid
 * token never attends to a pad, and the feature extractor zeroes pad rows), so a short prompt
 * costs its own length, not 1024 tokens.
 *
 * Not here: the vision tower (gemma3_vision.h), the LM head, KV caches and generation for prompt
 * enhancement (gemma3_generate.h).
 */
#ifndef LTX_MODELS_GEMMA3_H
#define LTX_MODELS_GEMMA3_H

#include "backend/backend.h"
#include "io/safetensors.h"

#include <stdbool.h>
#include <stdint.h>

#define LTX_GEMMA3_MAX_LAYERS 256

/* ref: config.py Gemma3TextConfig (LTX's hard-coded 12B values are the defaults). */
typedef struct ltx_gemma3_config {
    int hidden_size;                     /* 3840 */
    int num_layers;                      /* 48 */
    int num_heads;                       /* 16 */
    int num_kv_heads;                    /* 8 */
    int head_dim;                        /* 256 */
    int intermediate_size;               /* 15360 */
    int vocab_size;                      /* 262208 */
    int sliding_window;                  /* 1024 */
    double rms_norm_eps;                 /* 1e-6 */
    double query_pre_attn_scalar;        /* 256: attention scale = scalar^-0.5 */
    double rope_theta;                   /* 1e6, global layers */
    double rope_local_base;              /* 1e4, sliding layers */
    double rope_linear_factor;           /* 8 (rope_scaling linear) for global layers; 1 = none */
    bool sliding[LTX_GEMMA3_MAX_LAYERS]; /* layer i uses the sliding-window mask + local RoPE */
} ltx_gemma3_config;

typedef struct ltx_gemma3 ltx_gemma3;

/* Fills `c` with LTX's hard-coded Gemma 3 12B config (pattern 6: layer i global iff
 * (i + 1) % 6 == 0). */
void ltx_gemma3_config_default(ltx_gemma3_config *c);

/* Parses a config.json text (a Gemma3Config with `text_config`, or a gemma3_text config);
 * absent fields keep LTX's defaults. LTX_ERR_UNSUPPORTED for features this port lacks
 * (logit soft-capping, rope_scaling other than linear, another hidden activation). */
ltx_status ltx_gemma3_config_parse(const char *json, ltx_gemma3_config *c);

/* Reads <dir>/config.json with ltx_gemma3_config_parse; without that file, LTX's defaults
 * (the reference builds Gemma from its hard-coded config and never reads the folder's). */
ltx_status ltx_gemma3_config_read(const char *dir, ltx_gemma3_config *c);

/* Opens a Gemma 3 model folder: config.json (optional) + safetensors (index or single file).
 * Checks every tensor the forward needs (names, shapes, float dtypes) without reading data.
 * On success *out owns the mapping; close with ltx_gemma3_close. `be` must outlive it. */
ltx_status ltx_gemma3_open(ltx_backend *be, const char *dir, ltx_gemma3 **out);
void ltx_gemma3_close(ltx_gemma3 *m); /* NULL is fine */
const ltx_gemma3_config *ltx_gemma3_get_config(const ltx_gemma3 *m);

/* Receives hidden state `index` (0 = scaled embeddings, 1..L-1 = outputs of layers 0..L-2,
 * L = final norm of the last layer's output): h (1, n, hidden) f32 on the model's backend for
 * sequence rows [row0, row0 + n). `h` is only valid during the call (copy what you keep). */
typedef ltx_status (*ltx_gemma3_hidden_fn)(void *user, int index, const ltx_tensor *h,
                                           int64_t row0);

/* Per-layer timing/progress hook (may be NULL): called after layer i finished. */
typedef void (*ltx_gemma3_layer_fn)(void *user, int layer);

/* Runs the decoder on one sequence of T ids (host int32) with its 0/1 attention mask (host
 * int32; NULL = all ones). Rows before the first mask-1 token (LTX's left padding) are not
 * computed; the remaining n rows keep their positions row0..T-1 and attend causally (sliding
 * layers: only the last `sliding_window` keys) to keys whose mask is 1. `hidden` is called
 * num_layers + 1 times in index order. Returns LTX_ERR_INVALID_ARG for an id outside the
 * vocabulary; an error from `hidden` stops the forward and is returned. */
ltx_status ltx_gemma3_forward(ltx_gemma3 *m, const int32_t *ids, const int32_t *mask, int64_t T,
                              ltx_gemma3_hidden_fn hidden, ltx_gemma3_layer_fn on_layer,
                              void *user);

#endif
