/*
 * prompt_enhance.h — LTX's prompt enhancement: Gemma 3 rewrites a short prompt (looking at the
 * first image when there is one) into the detailed paragraph the video model was trained on.
 *
 * ref: ltx_pipelines/utils/helpers.py generate_enhanced_prompt (image resized to long side 896,
 * clean_response on the result) and ltx_core/text_encoders/gemma/encoders/base_encoder.py
 * (enhance_t2v / enhance_i2v / _enhance: chat template, processor, alignment padding,
 * generate(max_new_tokens 512, do_sample, temperature 0.7) seeded, decode skipping special
 * tokens). The system prompts are ltx2c's own (data/prompts/enhance_{t2v,i2v}.txt), not the
 * reference's text; the user message formats are the reference's.
 *
 * Reference versions: 2026-04 (a2c3f24, the default here, the one with a golden) appends the
 * alignment pads on the right, so the first token is predicted from a pad row; 1.2 (400fd31)
 * prepends them (pad_left). The draw is ltx2c's seeded sampler (same seed, same text), not
 * torch.multinomial's stream.
 */
#ifndef LTX_PIPELINES_PROMPT_ENHANCE_H
#define LTX_PIPELINES_PROMPT_ENHANCE_H

#include "backend/backend.h"
#include "core/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Streaming: each newly decoded piece of text (UTF-8, complete characters), the number of
 * tokens generated so far and the seconds since decoding started. */
typedef void (*ltx_enhance_piece_fn)(void *user, const char *piece, size_t len, int n_tokens,
                                     double seconds);

typedef struct ltx_enhance_opts {
    const char *gemma_root; /* required: Gemma 3 folder (vision tower needed with image_path) */
    const char *tokenizer;  /* tokenizer.json or its folder; NULL = gemma_root */
    const char *prompt;     /* required, UTF-8 */
    const char *image_path; /* optional: i2v enhancement (any image FFmpeg decodes) */
    uint64_t seed;          /* 10 (the pipelines pass their --seed; ref default 42 in helpers) */
    int max_new_tokens;     /* 512, >= 1 */
    bool greedy;            /* argmax instead of sampling */
    bool pad_left;          /* reference 1.2: alignment pads on the left; false = 2026-04 */
    int image_long_side;    /* 896 (generate_enhanced_prompt); 0 = no resize before the processor */
    int64_t prefill_chunk;  /* tokens per prefill chunk, 0 = 512 */
    ltx_enhance_piece_fn on_piece; /* may be NULL */
    void *user;
    const ltx_log *log; /* may be NULL */
} ltx_enhance_opts;

/* Defaults above; the required fields stay NULL. */
void ltx_enhance_opts_init(ltx_enhance_opts *o);

/* Everything that can be checked before loading weights: prompt, max_new_tokens >= 1, the
 * Gemma folder (weights, and a vision tower when an image is given: refused naming the folder),
 * the tokenizer file, and that the image decodes. Messages name the flag and value. */
ltx_status ltx_enhance_check(const ltx_enhance_opts *o);

/* Runs the enhancement on `be` and returns the cleaned text (*out malloc'd, NUL-terminated,
 * caller frees). Every model it loads is freed before it returns. */
ltx_status ltx_enhance_run(ltx_backend *be, const ltx_enhance_opts *o, char **out);

#endif
