/*
 * ltx_transformer_internal.h — weights and per-forward state shared by ltx_transformer.c
 * (loading, preprocessing, heads) and ltx_block.c (blocks and attention). Not a public API.
 */
#ifndef LTX_MODELS_LTX_TRANSFORMER_INTERNAL_H
#define LTX_MODELS_LTX_TRANSFORMER_INTERNAL_H

#include "models/ltx_transformer.h"

/* Linear layer: w (out, in) in the stored dtype, b (out) f32 or NULL; w_scale multiplies w
 * (scaled-fp8 checkpoints store a per-tensor "<name>.weight_scale"; else 1). */
typedef struct tf_lin {
    ltx_tensor *w, *b;
    float w_scale;
} tf_lin;

/* y = x @ (w_scale * w)^T + b as a new f32 tensor (NULL + error on failure). */
ltx_tensor *ltx_tf_linear(ltx_backend *be, const ltx_tensor *x, const tf_lin *l);

/* ref: attention.py Attention */
typedef struct tf_attn {
    tf_lin q, k, v, out, gate;   /* gate.w NULL without gated attention */
    ltx_tensor *q_norm, *k_norm; /* (inner) f32 */
    int heads, d_head;
} tf_attn;

/* ref: transformer.py BasicAVTransformerBlock */
typedef struct tf_block {
    tf_attn attn1, attn2, audio_attn1, audio_attn2, a2v, v2a;
    tf_lin ff1, ff2, audio_ff1, audio_ff2;
    ltx_tensor *sst, *audio_sst;               /* (9 or 6, D) f32 */
    ltx_tensor *prompt_sst, *audio_prompt_sst; /* (2, D) f32, cross_attention_adaln only */
    ltx_tensor *sst_a2v_video, *sst_a2v_audio; /* (5, D) f32 */
} tf_block;

/* ref: adaln.py AdaLayerNormSingle (+ PixArtAlphaCombinedTimestepSizeEmbeddings) */
typedef struct tf_adaln {
    tf_lin l1, l2, linear;
    int k; /* embedding coefficient */
} tf_adaln;

struct ltx_transformer {
    ltx_transformer_config cfg;
    ltx_backend *be;
    tf_lin patchify, audio_patchify, proj_out, audio_proj_out;
    tf_lin cap1, cap2, audio_cap1, audio_cap2; /* caption projection (19B only) */
    tf_adaln adaln, audio_adaln, prompt_adaln, audio_prompt_adaln;
    tf_adaln av_video_ss, av_audio_ss, av_a2v_gate, av_v2a_gate;
    ltx_tensor *sst_out, *audio_sst_out; /* (2, D) f32 */
    tf_block *blocks;
    ltx_tensor **owned; /* every tensor above, freed at the end */
    int n_owned, cap_owned;
    struct tf_stream *stream; /* layer streaming state (ltx_streaming.c), NULL = off */
    struct tf_tables *tables;  /* per-stage RoPE / mask cache (ltx_tables.c), NULL = empty */
    ltx_reference_version ref; /* numerics (ltx_transformer_set_reference); 0 = 1.2 */
};

/* Token runs with one timestep value: tokens [t0, t1) of item b use row u of the AdaLN rows.
 * Used when timesteps differ inside an item (conditioning tokens at t = 0): the modulation is
 * applied run by run with (1, 1, D) rows instead of materialising (B, T, k*D) tables. */
typedef struct tf_run {
    int64_t b, t0, t1;
    int u;
} tf_run;

typedef struct tf_runs {
    tf_run *r; /* NULL / n == 0: uniform per item, tables are (B, 1, .) */
    int n;
} tf_runs;

/* Prepared per-modality arguments (ref: transformer_args.py TransformerArgs). */
typedef struct tf_args {
    ltx_tensor *x;               /* (B, T, D) residual stream */
    ltx_tensor *context;         /* (B, L, D_ctx) */
    ltx_tensor *context_mask;    /* NULL or additive (B, 1, 1, L) */
    ltx_tensor *timesteps;       /* (B, 1, k*D) AdaLN modulation, or (U, 1, k*D) rows + runs */
    ltx_tensor *embedded;        /* (B, 1, D) embedded timestep (output head), or (U, 1, D) */
    tf_runs runs;                /* per-token timestep runs (n == 0: uniform) */
    ltx_tensor *pe_cos, *pe_sin; /* (B, H, T, d/2) */
    ltx_tensor *cross_cos, *cross_sin;
    ltx_tensor *cross_ss;           /* (B, 1, 4*D), or (U, 1, 4*D) rows + cross_runs (1.2) */
    tf_runs cross_runs;             /* per-token runs of cross_ss (n == 0: uniform) */
    ltx_tensor *cross_gate;         /* (B, 1, D) */
    ltx_tensor *prompt_ts;          /* (B, 1, 2*D) */
    ltx_tensor *self_mask;          /* NULL or additive (B, 1, T, T) */
    bool enabled;
    int64_t B, T;
    int dim;
} tf_args;

void ltx_tf_args_clear(tf_args *a);

/* Per-forward context for the blocks. */
typedef struct tf_ctx {
    ltx_transformer *m;
    ltx_backend *be;
    const ltx_ptb_item *ptb; /* NULL or B entries */
    int64_t B;
    const ltx_taps *taps;
} tf_ctx;

/* Prepares one modality's args (cross = the other modality or NULL); taps "video_args.*" /
 * "audio_args.*". On failure `a` may hold partial tensors: ltx_tf_args_clear it. */
ltx_status ltx_tf_prepare(tf_ctx *c, bool video, const ltx_modality *md, const ltx_modality *cross,
                          tf_args *a);

/* Runs block `idx` on the prepared args (either may be NULL); updates v->x / a->x. */
ltx_status ltx_tf_block_forward(tf_ctx *c, int idx, tf_args *v, tf_args *a);

/* norm(x) * (1 + scale) + shift; new tensor. scale/shift are (B, 1, D) broadcast, or with
 * runs (n > 0) (U, 1, D) rows applied run by run. */
ltx_tensor *ltx_tf_modulate(ltx_backend *be, ltx_norm_op norm, const ltx_tensor *x,
                            const ltx_tensor *scale, const ltx_tensor *shift, float eps,
                            const tf_runs *runs);
/* table[row] + mod[..., mrow*D:(mrow+1)*D] as a new (B, S, D) tensor; `plus1` adds 1. */
ltx_tensor *ltx_tf_ada(ltx_backend *be, const ltx_tensor *table, int row, const ltx_tensor *mod,
                       int mrow, bool plus1);

/* Layer streaming hooks (ltx_streaming.c); no-ops when m->stream is NULL. Before block i:
 * bring in blocks i..i+P (mod L); after it: evict block i. ltx_tf_stream_free drops the state. */
typedef struct tf_stream tf_stream;

/* Per-stage table cache (ltx_tables.c): RoPE cos/sin of `positions` for params rp, and mask
 * biases built by `build` from `mask`, computed on the first use and returned as new views
 * (caller frees) afterwards. */
enum { TF_TABLE_ROPE, TF_TABLE_CONTEXT_MASK, TF_TABLE_SELF_MASK };
ltx_status ltx_tf_table_rope(ltx_transformer *m, const ltx_rope_params *rp,
                             const ltx_tensor *positions, ltx_tensor **cos, ltx_tensor **sin);
ltx_tensor *ltx_tf_table_mask(ltx_transformer *m, int kind, const ltx_tensor *mask,
                              ltx_tensor *(*build)(ltx_backend *be, const ltx_tensor *mask));
ltx_status ltx_tf_stream_before(ltx_transformer *m, int block);
void ltx_tf_stream_after(ltx_transformer *m, int block);
void ltx_tf_stream_free(ltx_transformer *m);

#endif
