/*
 * gemma3_vision.h — the image half of Gemma3ForConditionalGeneration as prompt enhancement
 * uses it: the SigLIP vision tower (no pooling head) and Gemma3MultiModalProjector, turning one
 * normalised image (3, S, S) into mm_tokens_per_image soft tokens of the text width.
 *
 * ref: transformers models/siglip/modeling_siglip.py (SiglipVisionEmbeddings, SiglipAttention
 * eager, SiglipMLP, SiglipEncoderLayer, SiglipVisionTransformer with vision_use_head false) and
 * models/gemma3/modeling_gemma3.py (Gemma3MultiModalProjector, Gemma3Model.get_image_features);
 * the 12B defaults come from ltx_core/text_encoders/gemma/config.py Gemma3VisionConfig.
 *
 * Weights are read from the Gemma folder's shards through the text model's mapping
 * (`vision_tower.vision_model.*`, `multi_modal_projector.*`, Google's key names). f32 compute.
 */
#ifndef LTX_MODELS_GEMMA3_VISION_H
#define LTX_MODELS_GEMMA3_VISION_H

#include "core/tap.h"
#include "models/gemma3.h"

#include <stdbool.h>

typedef struct ltx_gemma3_vision_config {
    int hidden_size;         /* 1152 (SigLIP so400m) */
    int num_layers;          /* 27 */
    int num_heads;           /* 16 */
    int intermediate_size;   /* 4304 */
    int image_size;          /* 896 */
    int patch_size;          /* 14 */
    double layer_norm_eps;   /* 1e-6 (also the projector's RMSNorm eps) */
    int mm_tokens_per_image; /* 256 */
    int image_token_id;      /* 262144 <image_soft_token> */
    int boi_token_id;        /* 255999 <start_of_image> */
    int eoi_token_id;        /* 256000 <end_of_image> */
    int eos_ids[4];          /* config eos_token_id list: [1, 106] */
    int n_eos;
} ltx_gemma3_vision_config;

/* The image processor's settings (preprocessor_config.json, Gemma3ImageProcessor). */
typedef struct ltx_gemma3_image_proc {
    int height, width;      /* size: 896 x 896 */
    double mean[3], std[3]; /* 0.5 */
    double rescale;         /* 1/255 */
} ltx_gemma3_image_proc;

/* Reads config.json (vision_config, mm_tokens_per_image, token ids, eos list) and
 * preprocessor_config.json of `dir`; absent files/fields keep the 12B defaults. */
ltx_status ltx_gemma3_vision_config_read(const char *dir, ltx_gemma3_vision_config *vc,
                                         ltx_gemma3_image_proc *ip);

/* The shapes this port supports: square images in whole patches, a square token grid that the
 * patch grid pools to evenly, a processor size equal to the tower's. LTX_ERR_FORMAT naming
 * `dir` otherwise. */
ltx_status ltx_gemma3_vision_check(const char *dir, const ltx_gemma3_vision_config *vc,
                                   const ltx_gemma3_image_proc *ip);

/* True when the model's shards hold a vision tower and projector (checked by name). */
bool ltx_gemma3_has_vision(const ltx_gemma3 *m);

typedef struct ltx_gemma3_vision ltx_gemma3_vision;

/* Checks the config (square patch grid pooling evenly to the token grid, processor size =
 * image size) and every vision/projector tensor (name, shape) against `vc` and the text width
 * of `m`; LTX_ERR_FORMAT naming the folder otherwise. `m` must outlive the result. */
ltx_status ltx_gemma3_vision_open(ltx_gemma3 *m, const char *dir,
                                  const ltx_gemma3_vision_config *vc,
                                  const ltx_gemma3_image_proc *ip, ltx_gemma3_vision **out);
void ltx_gemma3_vision_close(ltx_gemma3_vision *v); /* NULL is fine */

/* pixels: host (3, S, S) f32 normalised (S = image_size). Outputs (new, on the model's
 * backend; either pointer may be NULL when not wanted): the tower's last hidden state
 * (1, P*P, hidden) after post_layernorm, and the projector's soft tokens
 * (1, mm_tokens_per_image, text hidden). */
ltx_status ltx_gemma3_vision_forward(ltx_gemma3_vision *v, const float *pixels,
                                     ltx_tensor **last_hidden, ltx_tensor **features);

/* Intermediates for golden replays (may be NULL, the default): "vision.embeddings" (1, P*P,
 * hidden) after the patch + position embedding, "projector.pooled" (1, tokens, hidden) after
 * the average pool. `taps` must outlive the forwards. */
void ltx_gemma3_vision_set_taps(ltx_gemma3_vision *v, const ltx_taps *taps);

#endif
