/*
 * text_connector.h — LTX's embeddings processor after Gemma: FeatureExtractorV2 (per-token RMS
 * of every hidden state, flattened layer-fastest, two aggregate linears) and the video / audio
 * Embeddings1DConnector (learnable registers in place of padding, 1-D RoPE transformer blocks
 * with gated attention, final RMS norm).
 *
 * Mirrors ltx_core/text_encoders/gemma/feature_extractor.py (FeatureExtractorV2,
 * norm_and_concat_per_token_rms, _rescale_norm), embeddings_connector.py
 * (Embeddings1DConnector, _BasicTransformerBlock1D), embeddings_processor.py
 * (EmbeddingsProcessor.process_hidden_states) and encoders/encoder_configurator.py
 * (EmbeddingsProcessorConfigurator: config keys, V2 selection). Weights come from the main LTX
 * checkpoint: `text_embedding_projection.{video,audio}_aggregate_embed.*` and
 * `model.diffusion_model.{video,audio}_embeddings_connector.*`; the connector sizes from its
 * config metadata ("transformer" section).
 *
 * Compute is float32 with the checkpoint's weights widened exactly (bf16 linears are widened per
 * panel by the backend). Batch 1 only, like the reference's register substitution.
 * Not here: FeatureExtractorV1 (LTX-2 19B) and the video-only processor variant.
 */
#ifndef LTX_MODELS_TEXT_CONNECTOR_H
#define LTX_MODELS_TEXT_CONNECTOR_H

#include "backend/backend.h"
#include "core/tap.h"
#include "io/safetensors.h"

#include <stdint.h>

typedef struct ltx_text_processor ltx_text_processor;

/* Loads the feature extractor and both connectors from an open LTX checkpoint (which must
 * outlive the processor: linear weights stay mapped). `embedding_dim` is the Gemma hidden size
 * D; 0 = the checkpoint's metadata golden_note.tiny_gemma_text_config.hidden_size when present
 * (tiny golden checkpoints), else 3840. The number of hidden states L = aggregate-embed input
 * width / D. Fails with LTX_ERR_UNSUPPORTED for a V1 (19B) config and LTX_ERR_FORMAT for
 * missing or misshaped weights. */
ltx_status ltx_text_processor_load(ltx_backend *be, const ltx_st_file *ckpt, int embedding_dim,
                                   ltx_text_processor **out);
void ltx_text_processor_free(ltx_text_processor *p); /* NULL is fine */

int ltx_text_processor_embedding_dim(const ltx_text_processor *p); /* D */
int ltx_text_processor_num_states(const ltx_text_processor *p);    /* L (49 for Gemma 3 12B) */
int ltx_text_processor_video_dim(const ltx_text_processor *p);     /* 4096 */
int ltx_text_processor_audio_dim(const ltx_text_processor *p);     /* 2048 */

/* Feature extractor step 1 for one hidden state: writes the per-token RMS-normalised h
 * (1, n, D) (no weight, eps 1e-6) into column l of normed (1, n, D*L) (flat index d*L + l).
 * ref: norm_and_concat_per_token_rms. Pad rows are the caller's business (the reference zeroes
 * them; LTX's path only passes valid rows). */
ltx_status ltx_text_norm_state(ltx_backend *be, ltx_tensor *normed, int l, int L,
                               const ltx_tensor *h);

/* Feature extractor step 2: video (1, n, Nv) = video_aggregate_embed(normed * sqrt(Nv/D)),
 * audio likewise (rows processed in chunks, so no scaled copy of the whole input is made).
 * Caller frees *video / *audio. */
ltx_status ltx_text_processor_features(const ltx_text_processor *p, const ltx_tensor *normed,
                                       ltx_tensor **video, ltx_tensor **audio);

/* Both connectors: `video` (1, n, Nv) / `audio` (1, n, Na) hold the features of the valid
 * tokens in order (n = number of mask entries that are non-zero), `mask` the T-entry 0/1
 * tokenizer mask (T a multiple of the 128 registers). Output contexts (1, T, Nv) / (1, T, Na):
 * the valid tokens first, then registers (ref: _replace_padded_with_learnable_registers with its
 * flipped-mask blend), through the blocks, final rms_norm; the video context multiplied by the
 * all-ones binary mask (a no-op). *bin_mask gets T ones (caller-allocated, may be NULL).
 * Caller frees *v_ctx / *a_ctx. */
ltx_status ltx_text_processor_connect(const ltx_text_processor *p, const ltx_tensor *video,
                                      const ltx_tensor *audio, const int32_t *mask, int64_t T,
                                      ltx_tensor **v_ctx, ltx_tensor **a_ctx, int32_t *bin_mask);

/* The whole ref: EmbeddingsProcessor.process_hidden_states for full-length hidden states
 * (goldens, pipelines fed with stand-in Gemma outputs): hidden[l] (1, T, D) for l < L
 * (n_hidden must equal L), `mask` T entries 0/1. Normalises, zeroes pad rows, runs the
 * aggregate linears on the valid rows and both connectors; output as connect(). Taps (NULL =
 * none): "feature_extractor.normed" (1, T, D*L), "video_connector.block<i>" and
 * "audio_connector.block<i>" (block outputs). Caller frees *v_ctx / *a_ctx. */
ltx_status ltx_text_processor_process(const ltx_text_processor *p, const ltx_tensor *const *hidden,
                                      int n_hidden, const int32_t *mask, int64_t T,
                                      const ltx_taps *taps, ltx_tensor **v_ctx, ltx_tensor **a_ctx);

#endif
