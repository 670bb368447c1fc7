/*
 * gemma3_prompt.h — the text side of prompt enhancement: Gemma 3's chat template (written out,
 * not a Jinja engine), Gemma3Processor's image-token expansion and tokenization, LTX's
 * alignment padding, the image processor (resize + rescale + normalise) and LTX's
 * clean_response.
 *
 * ref: the chat_template of Gemma 3's tokenizer_config.json (system message folded into the
 * first user turn, `| trim` on user text, <start_of_image> for image items, generation prompt);
 * transformers models/gemma3/processing_gemma3.py (Gemma3Processor.__call__: boi token ->
 * "\n\n<start_of_image>" + N x <image_soft_token> + "<end_of_image>\n\n", tokenizer with
 * add_special_tokens=True, token_type_ids) and image_processing_gemma3.py (slow path: PIL
 * bilinear resize to size, x * rescale in float64 -> float32, (x - mean) / std in float32);
 * ltx_core/text_encoders/gemma/encoders/base_encoder.py (_pad_inputs_for_attention_alignment,
 * _cat_with_padding) and ltx_pipelines/utils/helpers.py (clean_response).
 */
#ifndef LTX_MODELS_GEMMA3_PROMPT_H
#define LTX_MODELS_GEMMA3_PROMPT_H

#include "models/gemma3_vision.h"
#include "tokenizer/gemma_tokenizer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Renders [system, user] through Gemma 3's chat template with the generation prompt:
 *   "<bos><start_of_turn>user\n" + system + "\n\n" + ["<start_of_image>"] + strip(user)
 *   + "<end_of_turn>\n<start_of_turn>model\n"
 * (system untrimmed; with_image puts the image item before the text). *out is malloc'd,
 * NUL-terminated, caller frees. */
ltx_status ltx_gemma3_chat_render(const char *system, size_t sys_len, const char *user,
                                  size_t user_len, bool with_image, char **out, size_t *out_len);

/* Model inputs of one sequence (host, malloc'd arrays of n). */
typedef struct ltx_gemma3_inputs {
    int32_t *ids, *mask, *types; /* types: 1 on image soft tokens (token_type_ids) */
    int64_t n;
} ltx_gemma3_inputs;
void ltx_gemma3_inputs_free(ltx_gemma3_inputs *in); /* frees the arrays, zeroes *in */

/* Gemma3Processor: when image_tokens > 0 every "<start_of_image>" of text is expanded to
 * "\n\n<start_of_image>" + image_tokens x "<image_soft_token>" + "<end_of_image>\n\n"; then
 * the text is tokenized with BOS (so a rendered template starts 2, 2, 105), mask all ones,
 * types = (id == image_token_id). */
ltx_status ltx_gemma3_processor_ids(const ltx_gemma_tokenizer *tok, const char *text, size_t len,
                                    int image_tokens, int image_token_id, ltx_gemma3_inputs *out);

/* LTX's _pad_inputs_for_attention_alignment: pads to a multiple of `alignment` with pad_id,
 * mask 0, type 0 — appended on the RIGHT (reference 2026-04, a2c3f24) or prepended on the LEFT
 * (pad_left: reference 1.2, 400fd31 _cat_with_padding). Returns the number of pads added. */
ltx_status ltx_gemma3_pad_alignment(ltx_gemma3_inputs *in, int alignment, int32_t pad_id,
                                    bool pad_left, int *n_pad);

/* Gemma3ImageProcessor on an RGB24 image (h, w, 3): PIL bilinear resize to ip's size
 * (written to resized when non-NULL, (H, W, 3)), then pixels (3, H, W) f32 =
 * (float32(u8 * rescale) - mean) / std. */
ltx_status ltx_gemma3_image_preprocess(const uint8_t *rgb, int h, int w,
                                       const ltx_gemma3_image_proc *ip, uint8_t *resized,
                                       float *pixels);

/* ref: helpers.clean_response: curly quotes, dashes, NBSP, prime, minus -> ASCII, then drop
 * the characters before the first letter (Python str.isalpha: exact for ASCII and Latin-1; for
 * other code points letters are everything outside the punctuation/symbol/digit/emoji blocks
 * listed in the implementation). Returns a malloc'd NUL-terminated string, NULL on OOM. */
char *ltx_gemma3_clean_response(const char *text, size_t len, size_t *out_len);

#endif
