/*
 * generate_internal.h — validation helpers and run plumbing of src/api/generate.c shared with
 * src/api/generate_cond.c (the conditioning pipelines' generate calls). The checks run before any
 * weight is loaded; errors name the flag and the value (ltx_err).
 */
#ifndef LTX_API_GENERATE_INTERNAL_H
#define LTX_API_GENERATE_INTERNAL_H

#include "ltx.h"

#include "io/media.h"
#include "io/safetensors.h"
#include "models/text_encoder.h"
#include "pipelines/pipelines.h"
#include "sampling/guiders.h"

/* g->on_output (NULL when g's struct_size does not cover the field). */
ltx_output_fn ltx_gen_output_fn(const ltx_generate_params *g);
/* g->validate_only, read only when g's struct_size covers the field. */
bool ltx_gen_validate_only(const ltx_generate_params *g);
/* --frame-rate range. LTX-2 is trained on 24-50 fps video; 240 is the highest common capture
 * rate (slow motion) and 1 fps the slowest that is still video. Outside it the audio track
 * (num_frames / frame_rate seconds, 25 latent frames a second) becomes empty (a few frames at
 * 500 fps) or absurd (9 frames at 0.001 fps = 9000 s of audio). */
#define LTX_GEN_MIN_FPS 1.0
#define LTX_GEN_MAX_FPS 240.0

/* The path exists, is a readable regular file. */
ltx_status ltx_gen_check_file(const char *flag, const char *path);
/* Opens an LTX checkpoint (all components present) / an exact spatial x2 upsampler; *out is
 * closed by the caller with ltx_st_close. */
/* g->transformer_path (may be NULL): a transformer-only file overlaid on the checkpoint. */
ltx_status ltx_gen_open_checkpoint(const char *flag, const char *path, const ltx_generate_params *g,
                                   ltx_st_file **out);
ltx_status ltx_gen_open_upsampler(const char *flag, const char *path, ltx_st_file **out);
/* Prompt, output path, sizes (multiples of `multiple`), frames (8k+1 or rounded: *frames),
 * rate, Gemma folder + tokenizer, images (decodable, indices inside the video), LoRA files. */
ltx_status ltx_gen_check_common(const ltx_generate_params *g, int multiple, int *frames);
/* Steps, guidance values, distilled LoRAs (two_stage). */
ltx_status ltx_gen_check_guided(const ltx_guided_params *p, bool two_stage);
void ltx_gen_to_guider(const ltx_guidance *g, ltx_guider_params *o);

/* ---- src/api/generate_check.c: checks past the flags, still before any weight loads ---- */

/* --output-path: not a directory or special file; its folder exists, is a folder, and a file
 * can be created in it (tried with a probe file, so root on a read-only folder is caught the
 * same way as anyone else); the name leaves room for the temporary file's suffix. */
ltx_status ltx_gen_check_output_path(const char *path);
/* One --image at the video's height x width: decodable, at least 2x2 when the CRF round trip
 * applies (and the round trip itself works), and an aspect ratio whose cover resize stays
 * within 16x the frame's pixels. */
ltx_status ltx_gen_check_image(const ltx_image_input *im, int height, int width);
/* LoRA strengths finite and within +-10; `flag` names them ("--lora"). */
ltx_status ltx_gen_check_lora_strengths(const char *flag, const ltx_lora_input *l, int n);
/* Guidance scales finite: cfg / stg / modality in [0, 100], rescale in [0, 1]; the HQ
 * distilled-LoRA stage strengths within +-10. */
ltx_status ltx_gen_check_guidance(const ltx_guided_params *p);
/* Parses the transformer config of an open checkpoint (a bad one, e.g. a negative norm_eps,
 * is refused naming `flag`, the file and the key) and, when p is non-NULL, refuses STG blocks
 * past the model's block count (the audio ones only when audio_guided). */
ltx_status ltx_gen_check_transformer(const ltx_st_file *ckpt, const char *flag,
                                     const ltx_guided_params *p, bool audio_guided);
/* Reads and validates <gemma_root>/config.json (e.g. a negative rms_norm_eps), naming the
 * folder; a folder without one takes LTX's defaults, as the encoder does. */
ltx_status ltx_gen_check_gemma_config(const char *gemma_root);
/* Refuses decoded audio holding a NaN/Inf sample, naming `flag`, the path and the time. */
ltx_status ltx_gen_check_audio_finite(const char *flag, const char *path, const ltx_audio *a);
/* ltx2c's default negative prompt (static text). */
const char *ltx_gen_default_negative(ltx_reference_version ref);
/* g's reference version, resolved (LTX_REFERENCE_DEFAULT or a struct without the field: 1.2). */
ltx_reference_version ltx_gen_reference(const ltx_generate_params *g);

/* ---- the run, after validation (shared by the generate calls) ---- */

/* What every generate call owns (zero-initialise with .e set; ltx_gen_run_free). */
typedef struct ltx_gen_run {
    ltx_engine *e;
    ltx_st_file *ckpt, *ups;
    ltx_lora *lora[LTX_MAX_LORAS];
    double lora_s[LTX_MAX_LORAS];
    int n_user, n_lora; /* lora[0..n_user) user LoRAs, the rest distilled */
    ltx_text_context ctx[2];
    ltx_pipe_image img[LTX_PIPE_MAX_IMAGES];
    ltx_guider_params vg, ag;
    ltx_gen_inputs in;
    ltx_rng *rng;
    double t_text; /* prompt encoding seconds */
} ltx_gen_run;

/* Closes the files (gives them back to the engine's model cache when it holds them) and
 * LoRAs, clears the contexts, frees the generator; r itself is the caller's. */
void ltx_gen_run_free(ltx_gen_run *r);
/* With the engine's model cache on: r->ckpt and r->ups (validated, open) become cache entries
 * or are replaced by the cached handles of the same files, so models loaded from them can
 * stay resident across calls. Call once validation passed, before any model loads. */
void ltx_gen_cache_files(ltx_gen_run *r, const ltx_generate_params *g);

/* Encodes g->prompt (and `negative` when non-NULL) with the checkpoint's text processor into
 * ctx[0] (ctx[1]; the caller clears them) and points in's contexts at them; *seconds receives
 * the time taken (also logged). */
ltx_status ltx_gen_encode_prompts(ltx_engine *e, const ltx_st_file *ckpt,
                                  const ltx_generate_params *g, const char *negative,
                                  ltx_text_context ctx[2], ltx_gen_inputs *in, double *seconds);
/* in's LoRA lists: lora[0..n_user) the user LoRAs, lora[n_user..n_lora) the distilled ones
 * (borrowed). */
void ltx_gen_set_loras(ltx_gen_inputs *in, ltx_lora *const *lora, const double *strength,
                       int n_user, int n_lora);
/* ltx_pipe_init + the engine's log/progress, the run's generator (borrowed), tiled decode,
 * --max-batch-size and --streaming-prefetch-count. */
void ltx_gen_pipe_init(ltx_pipe *p, ltx_engine *e, ltx_rng *rng, const ltx_generate_params *g,
                       bool tiled);
/* Writes the mp4 at `fps` (a missing audio track fails with o->audio_status) and logs the
 * per-stage times, the total and the peak RSS. */
ltx_status ltx_gen_write_output(ltx_engine *e, const ltx_generate_params *g, ltx_rational fps,
                                ltx_pipe *p, const ltx_gen_output *o);

#endif
