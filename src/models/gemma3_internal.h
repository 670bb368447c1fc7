/*
 * gemma3_internal.h — the pieces of the Gemma 3 decoder (gemma3.c) that the generation path
 * (gemma3_generate.c: KV cache, prompt enhancement) reuses. Not part of the library's surface.
 *
 * ref: transformers models/gemma3/modeling_gemma3.py (see gemma3.c for the per-piece refs).
 */
#ifndef LTX_MODELS_GEMMA3_INTERNAL_H
#define LTX_MODELS_GEMMA3_INTERNAL_H

#include "models/gemma3.h"

struct ltx_gemma3 {
    ltx_gemma3_config cfg;
    ltx_backend *be;
    ltx_st_file *st;
    const char *prefix; /* "language_model.model." (Gemma3ForConditionalGeneration) or "model." */
};

/* Per-layer weights, in the order ltx_gemma3_layer_name knows them. */
enum {
    W_IN_NORM,
    W_Q,
    W_K,
    W_V,
    W_O,
    W_QN,
    W_KN,
    W_POST_ATTN,
    W_PRE_FF,
    W_GATE,
    W_UP,
    W_DOWN,
    W_POST_FF,
    W_COUNT
};

/* "<prefix>layers.<layer>.<name of weight w>" into out. */
void ltx_gemma3_layer_name(const ltx_gemma3 *m, int layer, int w, char *out, size_t cap);
/* Gemma RMSNorm weight `name` as the f32 (1 + w) tensor the module multiplies by (new; caller
 * frees). NULL + error when unreadable. */
ltx_tensor *ltx_gemma3_norm_weight(const ltx_gemma3 *m, const char *name);
/* RMSNorm over the last dim with a (1 + w) weight from ltx_gemma3_norm_weight (new tensor). */
ltx_tensor *ltx_gemma3_norm(const ltx_gemma3 *m, const ltx_tensor *x, const ltx_tensor *w1);
/* (1, n, H*hd) contiguous -> (1, H, n, hd) strided view (new view; caller frees). */
ltx_tensor *ltx_gemma3_heads_view(const ltx_tensor *x, int heads);
/* Per-head q/k norm then RoPE: x (1, n, heads*hd) -> new (1, heads, n, hd). */
ltx_tensor *ltx_gemma3_norm_rope(const ltx_gemma3 *m, const ltx_tensor *x, const ltx_tensor *w1,
                                 int heads, const ltx_tensor *cos, const ltx_tensor *sin);
/* Gemma3MLP with the layer's weights w[W_COUNT]: new (1, n, D). */
ltx_tensor *ltx_gemma3_mlp(const ltx_gemma3 *m, const ltx_tensor *x, ltx_tensor *const *w);
/* RoPE cos/sin (1, 1, n, head_dim/2) for arbitrary positions pos[0..n) (host); global = the
 * full-attention layers' base and linear scaling, else the local base. Caller frees both. */
ltx_status ltx_gemma3_rope_tables_pos(const ltx_gemma3 *m, const int64_t *pos, int64_t n,
                                      bool global, ltx_tensor **cos_t, ltx_tensor **sin_t);

#endif
