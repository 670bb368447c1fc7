/*
 * generate_internal.h — validation helpers of src/api/generate.c shared with
 * src/api/generate_cond.c (the conditioning pipelines' generate calls). All run before any
 * weight is loaded; errors name the flag and the value (ltx_err).
 */
#ifndef LTX_API_GENERATE_INTERNAL_H
#define LTX_API_GENERATE_INTERNAL_H

#include "ltx.h"

#include "io/safetensors.h"
#include "sampling/guiders.h"

/* The path exists, is a readable regular file. */
ltx_status ltx_gen_check_file(const char *flag, const char *path);
/* Opens an LTX checkpoint (all components present) / an exact spatial x2 upsampler; *out is
 * closed by the caller with ltx_st_close. */
ltx_status ltx_gen_open_checkpoint(const char *flag, const char *path, ltx_st_file **out);
ltx_status ltx_gen_open_upsampler(const char *flag, const char *path, ltx_st_file **out);
/* Prompt, output path, sizes (multiples of `multiple`), frames (8k+1 or rounded: *frames),
 * rate, Gemma folder + tokenizer, images (decodable, indices inside the video), LoRA files. */
ltx_status ltx_gen_check_common(const ltx_generate_params *g, int multiple, int *frames);
/* Steps, guidance values, distilled LoRAs (two_stage). */
ltx_status ltx_gen_check_guided(const ltx_guided_params *p, bool two_stage);
void ltx_gen_to_guider(const ltx_guidance *g, ltx_guider_params *o);
/* ltx2c's default negative prompt (static text). */
const char *ltx_gen_default_negative(void);

#endif
