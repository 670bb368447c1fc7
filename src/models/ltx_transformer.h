/*
 * ltx_transformer.h — the LTX-2 audio-video diffusion transformer (`LTXModel`, checkpoint prefix
 * `model.diffusion_model.`, the two embeddings connectors excluded) and its X0 wrapper.
 *
 * Mirrors ltx_core/model/transformer/{model.py, transformer.py, transformer_args.py,
 * attention.py, adaln.py, timestep_embedding.py, feed_forward.py, text_projection.py,
 * model_configurator.py} @ a2c3f24. Files: ltx_transformer.c (config, weights, preprocessing,
 * output heads, forward), ltx_block.c (one BasicAVTransformerBlock + Attention),
 * src/nn/rope.c (RoPE tables).
 *
 * Numerics: activations are f32; weights stay in the checkpoint dtype (bf16; fp8 with an
 * optional per-tensor "<name>.weight_scale") and are converted per panel by the backend's
 * linear op. 1-D parameters (biases, norm weights) and the AdaLN
 * tables are small and kept as f32 copies. Video positions in bf16 reproduce the reference's
 * bf16 rounding of the RoPE position math (see rope.h).
 *
 * Lifetime: the model borrows the safetensors file (weights are zero-copy views of the mapping
 * on host-visible backends): keep the file open until ltx_transformer_free. A model may be used
 * by one forward at a time.
 */
#ifndef LTX_MODELS_LTX_TRANSFORMER_H
#define LTX_MODELS_LTX_TRANSFORMER_H

#include "backend/backend.h"
#include "core/refver.h"
#include "core/tap.h"
#include "io/safetensors.h"
#include "nn/rope.h"

typedef struct ltx_transformer_config {
    bool has_video, has_audio; /* AudioVideo: both; VideoOnly: video */
    int num_layers;
    int heads, head_dim; /* video */
    int audio_heads, audio_head_dim;
    int in_channels, out_channels;
    int audio_in_channels, audio_out_channels;
    int cross_attention_dim, audio_cross_attention_dim;
    int caption_channels;
    double norm_eps;
    double theta;
    double max_pos[3];
    double audio_max_pos;
    double timestep_scale;       /* timestep_scale_multiplier */
    double av_ca_timestep_scale; /* av_ca_timestep_scale_multiplier */
    ltx_rope_mode rope_type;
    bool f64_rope;        /* frequencies_precision == "float64" */
    bool gated_attention; /* apply_gated_attention */
    bool cross_attention_adaln;
    bool caption_projection; /* !caption_proj_before_connector (19B): DiT projects text */
} ltx_transformer_config;

/* Parses config["transformer"] from the JSON text of the checkpoint metadata "config".
 * video_only selects LTXVideoOnlyModelConfigurator semantics. Fails with LTX_ERR_UNSUPPORTED
 * naming the key on any value the reference configurator rejects. */
ltx_status ltx_transformer_config_parse(const char *json_text, bool video_only,
                                        ltx_transformer_config *cfg);

typedef struct ltx_transformer ltx_transformer;

/* Loads from the checkpoint (prefix "model.diffusion_model."); config from its metadata.
 * video_only: build the VideoOnly model (audio weights then count as unexpected only if
 * present and not ignored — they are ignored like the reference's strict=False).
 * Fails listing every missing weight and every unexpected one (names outside the model,
 * connectors excluded) in one message. */
ltx_status ltx_transformer_load(const ltx_st_file *f, ltx_backend *be, bool video_only,
                                ltx_transformer **out);
void ltx_transformer_free(ltx_transformer *m); /* NULL is fine */

/* Weight hook (appended for LoRA fusion, src/models/lora.h): called once per parameter while
 * binding, with its name without "model.diffusion_model." and the stored tensor (a view of the
 * mapping, or an f32 copy for 1-D parameters and tables). Setting *replacement to a new tensor
 * on `be` (same shape; ownership passes to the model) makes the model use it instead — the
 * mapping itself is never written. A failing status aborts the load with that status. */
typedef ltx_status (*ltx_weight_hook)(void *user, ltx_backend *be, const char *name,
                                      const ltx_tensor *stored, ltx_tensor **replacement);
/* ltx_transformer_load with a weight hook (hook NULL = ltx_transformer_load). */
ltx_status ltx_transformer_load_ex(const ltx_st_file *f, ltx_backend *be, bool video_only,
                                   ltx_weight_hook hook, void *hook_user, ltx_transformer **out);
const ltx_transformer_config *ltx_transformer_get_config(const ltx_transformer *m);
/* Selects the reference numerics of later forwards (a freshly loaded model follows 1.2): the
 * A/V cross-attention AdaLN timesteps differ (docs/NUMERICS.md "Reference versions"). m may be
 * NULL. */
void ltx_transformer_set_reference(ltx_transformer *m, ltx_reference_version v);
/* Calls fn(user, name, ndim, shape) for every parameter the config implies (names without the
 * "model.diffusion_model." prefix, in binding order). Used by tests and benchmarks to build
 * synthetic checkpoints. */
ltx_status ltx_transformer_list_params(const ltx_transformer_config *cfg,
                                       void (*fn)(void *user, const char *name, int ndim,
                                                  const int64_t *shape),
                                       void *user);

/* One modality's inputs (ref: Modality). Tensors are borrowed. */
typedef struct ltx_modality {
    const ltx_tensor *latent;         /* (B, T, C_in) */
    const ltx_tensor *sigma;          /* (B) or () */
    const ltx_tensor *timesteps;      /* (B, T, 1) or (B, T): denoise_mask * sigma */
    const ltx_tensor *positions;      /* (B, 3, T, 2) video / (B, 1, T, 2) audio; f32 or bf16 */
    const ltx_tensor *context;        /* (B, L, ctx_dim) */
    const ltx_tensor *context_mask;   /* NULL or (B, L) 0/1 */
    const ltx_tensor *attention_mask; /* NULL or (B, T, T) in [0, 1] (self-attention strength) */
    bool enabled;                     /* false: stream not updated (still serves as K/V) */
    /* NULL, or sigma's values on the host (as many as sigma has): the forward then reads them
     * here instead of downloading sigma (one host sync less per use). Must equal sigma. */
    const float *sigma_host;
    /* NULL, or the B*T timestep values on the host (equal to `timesteps`): no download. */
    const float *timesteps_host;
} ltx_modality;

/* Perturbations (ref: ltx_core/guidance/perturbations.py). */
typedef enum ltx_ptb_type {
    LTX_PTB_SKIP_A2V_CROSS_ATTN,
    LTX_PTB_SKIP_V2A_CROSS_ATTN,
    LTX_PTB_SKIP_VIDEO_SELF_ATTN,
    LTX_PTB_SKIP_AUDIO_SELF_ATTN,
    LTX_PTB_COUNT
} ltx_ptb_type;

typedef struct ltx_perturbation {
    ltx_ptb_type type;
    const int *blocks; /* NULL = all blocks */
    int n_blocks;
} ltx_perturbation;

/* Perturbations of one batch item. */
typedef struct ltx_ptb_item {
    const ltx_perturbation *list;
    int n;
} ltx_ptb_item;

/* Perturbation parse helper: "SKIP_VIDEO_SELF_ATTN" etc. (also lower-case "skip_..."). */
bool ltx_ptb_type_parse(const char *name, ltx_ptb_type *out);
/* True when batch item `item` perturbs `type` at block `block`. */
bool ltx_ptb_is_perturbed(const ltx_ptb_item *item, ltx_ptb_type type, int block);

/* Velocity forward. video/audio may be NULL (absent modality). ptb: NULL or one entry per batch
 * item. taps: NULL or named intermediates (golden names: "video_args.x", "block0.video_x",
 * "block0.attn1.out", "block0.attn1.in", ...). Outputs are new f32 tensors (B, T, C_out) the
 * caller frees; *_out gets NULL for an absent modality; a NULL output pointer skips that head. */
ltx_status ltx_transformer_forward(ltx_transformer *m, const ltx_modality *video,
                                   const ltx_modality *audio, const ltx_ptb_item *ptb,
                                   const ltx_taps *taps, ltx_tensor **video_out,
                                   ltx_tensor **audio_out);

/* X0Model: denoised = latent - velocity * timesteps (f32), per modality. Same contract as
 * ltx_transformer_forward (a NULL output pointer skips that modality's head). */
ltx_status ltx_transformer_forward_x0(ltx_transformer *m, const ltx_modality *video,
                                      const ltx_modality *audio, const ltx_ptb_item *ptb,
                                      const ltx_taps *taps, ltx_tensor **video_out,
                                      ltx_tensor **audio_out);

/* ---- appended: layer streaming (ref: ltx_core/layer_streaming.py; spec pipelines.md §10.3;
 * src/models/ltx_streaming.c) ---- */

/* How the coming blocks' mapped weights are brought in on host-visible backends (other
 * backends upload them). */
typedef enum ltx_prefetch_mode {
    LTX_PREFETCH_ADVISE, /* madvise(MADV_WILLNEED): kernel readahead, no page mapped yet */
    LTX_PREFETCH_TOUCH   /* a helper thread reads one byte per page (maps them in ahead) */
} ltx_prefetch_mode;

/* Per-block weight residency: with prefetch_count N >= 1, before block i runs blocks
 * (i + j) mod L, j = 1..min(N, L - 1), are brought in, and after it block i's weights are
 * evicted (CPU: the mapped pages leave the process with MADV_DONTNEED; devices: the device
 * copy is freed and re-uploaded from the mapping when next needed), so at most 1 + min(N, L-1)
 * blocks' weights are resident. Only block weights that still are the checkpoint's bytes are
 * streamed (LoRA-fused replacements and f32 copies stay resident). Outputs are identical.
 * `f` must be the file the model was loaded from and stay open while the model lives.
 * prefetch_count 0 turns streaming off (device weights are uploaded back). Logs one INFO line. */
ltx_status ltx_transformer_set_streaming(ltx_transformer *m, const ltx_st_file *f,
                                         int prefetch_count, ltx_prefetch_mode mode);

/* Streaming with the full set of options: `on` false turns it off (as prefetch_count 0 above);
 * `prefetch` >= 0 blocks ahead (0 = only the running block resident). `loras` (may be NULL or
 * empty; copied, the LoRA files must stay open while the model lives): block weights they cover
 * are fused per block when the block comes in (ltx_lora_weight_hook with target dtype
 * lora_target, LTX_DTYPE_COUNT = the weight's checkpoint dtype) and freed with the block, so a
 * LoRA stage streams too; load such a model without fusing its block weights (the caller's
 * load hook skips ltx_transformer_streams_weight names). */
struct ltx_lora_set;
ltx_status ltx_transformer_set_streaming_ex(ltx_transformer *m, const ltx_st_file *f, bool on,
                                            int prefetch, ltx_prefetch_mode mode,
                                            const struct ltx_lora_set *loras,
                                            ltx_dtype lora_target);
/* True for the weight names layer streaming handles ("transformer_blocks.<i>.<linear>.weight"
 * of a 2-D weight): a LoRA load hook leaves these to the streaming. */
bool ltx_transformer_streams_weight(const char *name, int ndim);

/* Drops the per-stage cache of RoPE tables and mask biases (keyed on the input tensors'
 * identity; see ltx_tables.c). Call when positions or masks may have been modified in place;
 * stages call it when they start and end. m may be NULL. */
void ltx_transformer_clear_tables(ltx_transformer *m);
/* Cache hits / misses since the last clear. */
void ltx_transformer_table_stats(const ltx_transformer *m, int64_t *hits, int64_t *misses);

typedef struct ltx_stream_stats {
    int prefetch;               /* P = min(N, L - 1); 0 = streaming off */
    int streamed_tensors;       /* block weights streamed */
    int resident_tensors;       /* block weights kept resident (replaced / copied) */
    int64_t streamed_bytes;     /* their bytes, all blocks */
    size_t block_bytes_max;     /* largest block's streamed bytes */
    int64_t fetches, evictions; /* block fetch / evict events since enabled */
    int64_t fetched_bytes;
} ltx_stream_stats;
/* Counters (all zero when streaming is off or m is NULL). */
void ltx_transformer_stream_stats(const ltx_transformer *m, ltx_stream_stats *out);

#endif
