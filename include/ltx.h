/*
 * ltx.h — the public contract of libltx, a C11 inference engine for LTX-2.3 (audio + video
 * generation). This is the only header an embedding program includes.
 *
 * Objects and lifetimes
 *   ltx_engine   Owns the compute backend (CPU, CPU-restricted, CUDA, ...), its thread pool, the
 *                log/progress callbacks, the last-error text and the model cache. Open one per
 *                process and device. Weights are mapped per pipeline run and released when their
 *                stage ends (see docs/ARCHITECTURE.md), except what the engine's model cache
 *                keeps resident (ltx_engine_params.cache_bytes > 0: every model a pipeline
 *                loads, reused by the next stage or call with the same files and settings).
 *   ltx_model_info, ltx_gemma_tokenizer
 *                Need no engine: a model file's header summary (`ltx2c inspect`) and the Gemma
 *                tokenizer. Read-only once open (queries may run from several threads); freed
 *                with their *_free.
 *   Per-job state is the generate call's own: it is built from the call's params (seed ->
 *   RNG), lives for the call and is freed before it returns; progress and cancellation go
 *   through the engine's progress callback (return non-zero to cancel, from any thread's flag).
 *   There is no session object: an earlier header declared ltx_session (per-job arenas, RNG,
 *   cancel flag) but no call ever took one, so it was removed (0.1.0) rather than kept as a
 *   handle that does nothing.
 *
 * Thread-safety
 *   - Different engines are independent and may be used from different threads.
 *   - One engine may be shared by threads only for read-only queries (ltx_engine_info,
 *     ltx_engine_caps_string). Calls that run work (verify, generate) take the engine's lock
 *     for their duration; concurrent callers are serialised, not raced.
 *   - Callbacks are invoked on the thread that made the call, never concurrently.
 *   - ltx_engine_last_error() text is valid until the next call on that engine from any thread.
 *
 * Errors
 *   Every fallible call returns ltx_status. LTX_OK is 0. On failure a human-readable message
 *   naming the file, flag, tensor or value at fault is kept in the engine
 *   (ltx_engine_last_error). The library never calls exit() and never prints unless a log
 *   callback is installed (the default callback of ltx_engine_params_init writes to stderr).
 *
 * Versioned structs
 *   Every params struct starts with `struct_size`. Fill it with the matching *_params_init()
 *   and then change fields; fields are only ever appended, so a program built against an
 *   older header keeps working with a newer library.
 *
 * Destructors accept NULL.
 */
#ifndef LTX_H
#define LTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every function of this header is exported from the shared library (libltx.so) and nothing
 * else is: libltx is compiled with -fvisibility=hidden, and tests/unit/abi_exports.sh checks
 * that the two sets are equal. */
#ifndef LTX_API
#if defined(__GNUC__) || defined(__clang__)
#define LTX_API __attribute__((visibility("default")))
#else
#define LTX_API
#endif
#endif

#define LTX_VERSION_MAJOR 0
#define LTX_VERSION_MINOR 1
#define LTX_VERSION_PATCH 0

/* ---- status codes (one table: names via ltx_status_name) -------------------------------- */
#define LTX_STATUS_LIST(X)                                                                         \
    X(LTX_OK, "ok")                                                                                \
    X(LTX_ERR_INVALID_ARG, "invalid argument")                                                     \
    X(LTX_ERR_IO, "i/o error")                                                                     \
    X(LTX_ERR_FORMAT, "malformed file")                                                            \
    X(LTX_ERR_OOM, "out of memory")                                                                \
    X(LTX_ERR_UNSUPPORTED, "unsupported")                                                          \
    X(LTX_ERR_MISMATCH, "mismatch against reference")                                              \
    X(LTX_ERR_NOT_BUILT, "not built yet")                                                          \
    X(LTX_ERR_DEVICE, "device error")                                                              \
    X(LTX_ERR_ABORTED, "aborted")                                                                  \
    X(LTX_ERR_INTERNAL, "internal error")

typedef enum ltx_status {
#define LTX_X_ENUM(name, text) name,
    LTX_STATUS_LIST(LTX_X_ENUM)
#undef LTX_X_ENUM
        LTX_STATUS_COUNT
} ltx_status;

/* Short English text for a status ("invalid argument"); never NULL. */
LTX_API const char *ltx_status_name(ltx_status s);

/* ---- element types ------------------------------------------------------------------------ */
/* Names are the safetensors dtype strings (F32, BF16, F8_E4M3, ...). The Q* entries are GGML
 * block-quantized storage types (GGUF files, `ltx2c quantize`, --quantization q8_0|...): their
 * size column is 0 because a block of 32 or 256 elements, not an element, has a byte size. */
#define LTX_DTYPE_LIST(X)                                                                          \
    X(LTX_F32, "F32", 4)                                                                           \
    X(LTX_F16, "F16", 2)                                                                           \
    X(LTX_BF16, "BF16", 2)                                                                         \
    X(LTX_F64, "F64", 8)                                                                           \
    X(LTX_F8E4M3, "F8_E4M3", 1)                                                                    \
    X(LTX_F8E5M2, "F8_E5M2", 1)                                                                    \
    X(LTX_I64, "I64", 8)                                                                           \
    X(LTX_I32, "I32", 4)                                                                           \
    X(LTX_U8, "U8", 1)                                                                             \
    X(LTX_BOOL, "BOOL", 1)                                                                         \
    X(LTX_Q8_0, "Q8_0", 0)                                                                         \
    X(LTX_Q4_0, "Q4_0", 0)                                                                         \
    X(LTX_Q4_1, "Q4_1", 0)                                                                         \
    X(LTX_Q5_0, "Q5_0", 0)                                                                         \
    X(LTX_Q5_1, "Q5_1", 0)                                                                         \
    X(LTX_Q2_K, "Q2_K", 0)                                                                         \
    X(LTX_Q3_K, "Q3_K", 0)                                                                         \
    X(LTX_Q4_K, "Q4_K", 0)                                                                         \
    X(LTX_Q5_K, "Q5_K", 0)                                                                         \
    X(LTX_Q6_K, "Q6_K", 0)

typedef enum ltx_dtype {
#define LTX_X_ENUM(name, text, size) name,
    LTX_DTYPE_LIST(LTX_X_ENUM)
#undef LTX_X_ENUM
        LTX_DTYPE_COUNT
} ltx_dtype;

/* ---- reference numerics ------------------------------------------------------------------- */
/* Which release of the reference (github.com/Lightricks/LTX-2) the numerics follow. The two
 * differ in a handful of places (docs/NUMERICS.md "Reference versions": the A/V cross-attention
 * timesteps, the noiser, keyframe time bounds, the frozen modality's sigma, the two-stage
 * pipelines' audio, LoRA fusion rounding, the default negative prompt, VAE tiling defaults). */
typedef enum ltx_reference_version {
    LTX_REFERENCE_DEFAULT = 0, /* generation: 1.2; verification: each golden's reference_commit */
    LTX_REFERENCE_1_2 = 1,     /* v1.2.0, commit 400fd31 (what users of the reference run) */
    LTX_REFERENCE_2026_04 = 2, /* commit a2c3f24 (April 2026), the seed's version */
} ltx_reference_version;

/* "1.2" / "2026-04" (also "400fd31" / "a2c3f24") -> *out; returns 0 on success, -1 for any
 * other text (*out untouched). */
LTX_API int ltx_reference_version_parse(const char *text, ltx_reference_version *out);
/* "1.2", "2026-04", or "default"; never NULL. */
LTX_API const char *ltx_reference_version_name(ltx_reference_version v);

/* ---- logging and progress ------------------------------------------------------------------ */
typedef enum ltx_log_level {
    LTX_LOG_DEBUG = 0,
    LTX_LOG_INFO = 1,
    LTX_LOG_WARN = 2,
    LTX_LOG_ERROR = 3,
    LTX_LOG_NONE = 4
} ltx_log_level;

/* Receives one complete line without trailing newline. */
typedef void (*ltx_log_fn)(void *user, ltx_log_level level, const char *line);

/* Long work reports here: `stage` names the stage ("stage1", "vae_decode"), step counts from 1
 * to total, elapsed_s is wall time since the stage began (ETA = elapsed_s / step * (total -
 * step)). Return non-zero to request abort (the call then fails with LTX_ERR_ABORTED at the
 * next step boundary). To cancel from another thread, set a flag there and return it here:
 * ltx2c serve does so (tools/ltx2c/serve_jobs.c). */
typedef int (*ltx_progress_fn)(void *user, const char *stage, int step, int total,
                               double elapsed_s);

/* ---- engine -------------------------------------------------------------------------------- */
typedef struct ltx_engine ltx_engine;

typedef struct ltx_engine_params {
    size_t struct_size;      /* = sizeof(ltx_engine_params), set by _init */
    const char *device;      /* "auto" (default), "cpu", "cpu-restricted", "cuda", "cuda:N" */
    int n_threads;           /* 0 = number of online CPUs; 0..512, else refused */
    int strict;              /* non-zero: any capability fallback fails with LTX_ERR_UNSUPPORTED */
    ltx_log_level log_level; /* default LTX_LOG_INFO */
    ltx_log_fn log;          /* default: write to stderr; NULL after _init = silent */
    void *log_user;
    ltx_progress_fn progress; /* may be NULL */
    void *progress_user;
    /* Compute precision (appended; older callers' smaller struct_size means NULL):
     * NULL or "auto" = the device's default (bf16 on cuda, f32 on cpu); "f32" = exact f32;
     * "bf16" = GEMM/attention inputs rounded to bf16 with f32 accumulation. */
    const char *precision;
    /* appended: model cache budget in bytes. 0 (default) = every model is loaded per call and
     * freed when its stage ends (the lowest peak memory). > 0 = models stay resident across
     * stages and calls on this engine: the text encoder (tokenizer, Gemma, connectors), each
     * transformer (keyed also by reference version, precision, quantization and the LoRA
     * files with their strengths, so fused weights never serve other LoRAs), the video VAE
     * encoder and decoder, the audio VAE, the vocoder and the upsampler; a later job with the
     * same files and settings skips loading them. Unused models are evicted least recently
     * used first to fit the budget before another loads; a model larger than the budget is
     * freed when its stage ends. A model's size is counted as its checkpoint bytes. A
     * streamed transformer (streaming_prefetch_count > 0) is not cached. */
    size_t cache_bytes;
} ltx_engine_params;

/* Model cache counters of e (ltx_engine_params.cache_bytes); any pointer may be NULL. */
LTX_API void ltx_engine_cache_stats(const ltx_engine *e, size_t *bytes, int *entries, int *hits,
                                    int *misses);

/* Zeroes *p, sets struct_size and the defaults written on each field above. */
LTX_API void ltx_engine_params_init(ltx_engine_params *p);

/* Opens the device named in p->device. On failure *out is NULL and the message is available
 * through ltx_last_error_global() (there is no engine yet to hold it). */
LTX_API ltx_status ltx_engine_open(const ltx_engine_params *p, ltx_engine **out);
/* Releases the model cache, the backend and the thread pool; e may be NULL. */
LTX_API void ltx_engine_close(ltx_engine *e);

/* Last error text of this engine ("" when none). Valid until the next call on the engine. */
LTX_API const char *ltx_engine_last_error(const ltx_engine *e);
/* Last error of the calling thread, for failures before an engine exists. */
LTX_API const char *ltx_last_error_global(void);

/* Writes a multi-line description of the backend, device, capabilities and memory into buf
 * (always NUL-terminated, truncated to cap). Returns the length that was needed. */
LTX_API size_t ltx_engine_info(const ltx_engine *e, char *buf, size_t cap);

/* Number of capability fallbacks taken so far (each also logged once). */
LTX_API int ltx_engine_fallback_count(const ltx_engine *e);


/* ---- prompt enhancement (src/api/enhance.c) ------------------------------------------------
 * LTX's generate_enhanced_prompt: Gemma 3 (the text encoder's model, with its vision tower for
 * an image) rewrites a short prompt into one detailed paragraph (subject, action, camera,
 * lighting, sound), streaming the text as it is generated. */
typedef void (*ltx_text_piece_fn)(void *user, const char *piece, size_t len, int n_tokens,
                                  double seconds);
typedef struct ltx_enhance_params {
    size_t struct_size;
    const char *gemma_root; /* required: Gemma 3 folder */
    const char *tokenizer;  /* tokenizer.json (or its folder); NULL = inside gemma_root */
    const char *prompt;     /* required */
    const char *image_path; /* optional: enhance for image-to-video, looking at this image */
    uint64_t seed;          /* default 10 */
    int max_new_tokens;     /* default 512, >= 1 */
    int greedy;             /* non-zero: argmax decoding instead of sampling */
    ltx_text_piece_fn on_piece; /* optional streaming callback (complete UTF-8 characters) */
    void *user;
    /* alignment padding of the prompt: 2026-04 appends the pads (the first token is predicted
     * from a pad row), 1.2 prepends them; DEFAULT = 1.2 */
    ltx_reference_version reference_version;
} ltx_enhance_params;
/* Zeroes *p, sets struct_size and the defaults noted above. */
LTX_API void ltx_enhance_params_init(ltx_enhance_params *p);
/* Runs the enhancement; *out is the cleaned text (malloc'd, free with ltx_string_free). Bad
 * input (max_new_tokens < 1, an image that cannot be decoded, a Gemma folder without a vision
 * tower given an image) fails before any weight is loaded, naming the flag and value. */
LTX_API ltx_status ltx_enhance_prompt(ltx_engine *e, const ltx_enhance_params *p, char **out);
LTX_API void ltx_string_free(char *s); /* NULL is fine */

/* ---- generation (src/api/generate.c) -------------------------------------------------------
 * One call runs a whole pipeline: validation of every argument and input file (before any
 * weight is loaded; errors name the flag and the value), prompt encoding (Gemma is freed
 * before the transformer is loaded), the diffusion stages (each model freed when its stage
 * ends), decoding, and the mp4 (H.264 yuv420p + AAC stereo) written to a temporary file that
 * is renamed onto output_path on success. Progress goes to the engine's progress callback
 * (stage names "stage1", "stage2"), per-stage times and peak memory to its log at INFO.
 * Randomness: the pipeline generator is torch's CPU generator seeded with `seed` (the
 * reference runs on CUDA, whose Philox stream differs; pipelines.md §11). */

typedef struct ltx_image_input {
    const char *path;
    int frame_idx;   /* pixel frame, 0 .. num_frames-1 */
    double strength; /* [0, 1] */
    double crf;      /* H.264 round trip of the image, 0 = none; the CLI default is 33 */
} ltx_image_input;

typedef struct ltx_lora_input {
    const char *path;
    double strength; /* default 1.0 */
} ltx_lora_input;

/* Upper bounds on the output size, refused by every generate call before any weight loads. Far
 * above the trained sizes (1024x1536, 121 frames); they keep every size computation in range. */
#define LTX_MAX_HEIGHT 8192
#define LTX_MAX_WIDTH 8192
#define LTX_MAX_FRAMES 16385 /* 8 * 2048 + 1 */

/* Decoded output of a generate call: rgb is (n_frames, height, width, 3) uint8, audio is
 * (2, n_samples) planar f32 stereo at sample_rate (NULL with n_samples 0 when the pipeline has
 * no audio); both borrowed for the duration of the call. Return non-zero to fail the generate
 * call with LTX_ERR_ABORTED. */
typedef int (*ltx_output_fn)(void *user, const uint8_t *rgb, int n_frames, int height, int width,
                             double fps, const float *audio, int64_t n_samples, int sample_rate);

/* Parameters every generation pipeline shares. */
typedef struct ltx_generate_params {
    size_t struct_size;
    const char *prompt;      /* required */
    const char *gemma_root;  /* required: Gemma 3 folder */
    const char *tokenizer;   /* tokenizer.json (or its folder); NULL = inside gemma_root */
    const char *output_path; /* required, .mp4; never one of the inputs */
    uint64_t seed;           /* default 10 */
    int height, width;       /* 0 = the pipeline's default */
    int num_frames;          /* default 121; must be 8k+1 */
    int round_frames;        /* non-zero: round num_frames down to 8k+1 with a warning */
    double frame_rate;       /* default 24, in [1, 240]; fractional rates stay exact in the
                                file */
    const ltx_image_input *images;
    int n_images;
    const ltx_lora_input *loras; /* --lora */
    int n_loras;
    /* appended */
    int max_batch_size;           /* guidance passes per transformer call, >= 1 (default 1) */
    int streaming_prefetch_count; /* layer streaming: blocks prefetched ahead, 0 = off (default) */
    /* appended: reference numerics (LTX_REFERENCE_DEFAULT = LTX_REFERENCE_1_2). A caller built
     * against a header without this field passes a smaller struct_size and gets the default. */
    ltx_reference_version reference_version;
    /* appended: --enhance-prompt. Gemma 3 (gemma_root, which then needs the vision tower when
     * images are given) rewrites `prompt` first, looking at images[0] when there is one; the
     * enhanced text is logged at INFO and encoded instead; the generator is freed before any
     * other model loads. Sampled with `seed`. */
    int enhance_prompt;          /* 0 = off (default) */
    int enhance_max_new_tokens;  /* default 512 */
    /* --quantization: NULL = weights as stored; "fp8-cast" (transformer block Linears cast to
     * e4m3 at load, upcast at use), "fp8-scaled-mm" (no fp8 matmul on the CPU: a logged
     * fallback to fp8-cast, refused under strict), or a block type quantized at load: "q8_0",
     * "q4_0", "q4_k", "q5_k", "q6_k" (also q4_1, q5_0, q5_1, q2_k, q3_k). */
    const char *quantization;
    /* --transformer-path: a transformer-only .gguf / .safetensors (e.g. a ComfyUI-GGUF file,
     * names with or without "model.diffusion_model.") whose tensors replace the checkpoint's
     * same-named ones; the checkpoint still supplies config, VAEs, vocoder, connectors. */
    const char *transformer_path;
    /* appended: non-zero = check every argument and input file (the output folder included) as
     * a run would, then return LTX_OK without loading any weight or writing anything. Servers
     * use it to refuse a bad job before queueing it (ltx2c serve). Default 0. */
    int validate_only;
    /* appended: decoded output as buffers, for embedders that do not want (only) an mp4. When
     * on_output is set it receives the frames and audio once decoding ends; output_path may
     * then be NULL (no mp4 is written) or set (both). Default NULL. */
    ltx_output_fn on_output;
    void *output_user;
} ltx_generate_params;

/* Zeroes *p, sets struct_size and the defaults noted on each field (seed 10, 121 frames at
 * 24 fps); the required fields stay NULL. Every generate call borrows its params (strings and
 * arrays included) only for the duration of the call; it fails with LTX_ERR_INVALID_ARG when a
 * struct_size is too small (for ltx_generate_params: smaller than the struct up to and including
 * streaming_prefetch_count; later fields then take their defaults). */
LTX_API void ltx_generate_params_init(ltx_generate_params *p);

/* distilled (DistilledPipeline). */
typedef struct ltx_distilled_params {
    size_t struct_size;
    const char *distilled_checkpoint_path; /* required */
    const char *spatial_upsampler_path;    /* required, x2 */
} ltx_distilled_params;
/* Zeroes *p and sets struct_size (both paths stay NULL = required). */
LTX_API void ltx_distilled_params_init(ltx_distilled_params *p);
/* Runs DistilledPipeline (8 + 3 steps, x2 spatial upsampling between the stages) and writes
 * g->output_path. */
LTX_API ltx_status ltx_generate_distilled(ltx_engine *e, const ltx_generate_params *g,
                                          const ltx_distilled_params *p);

/* Guidance of one modality (MultiModalGuiderParams). */
typedef struct ltx_guidance {
    double cfg_scale, stg_scale, rescale_scale, modality_scale;
    int skip_step;
    int stg_blocks[64];
    int n_stg_blocks;
} ltx_guidance;

/* ti2vid_one_stage, ti2vid_two_stages, ti2vid_two_stages_hq. _init fills the LTX-2.3 defaults
 * (30 steps, video 3/1/0.7/3 blocks [28], audio 7/1/0.7/3 blocks [28]); _init_hq the HQ ones
 * (15 steps, video 3/0/0.45/3, audio 7/0/1/3, distilled LoRA 0.25 / 0.5). */
typedef struct ltx_guided_params {
    size_t struct_size;
    const char *checkpoint_path; /* required (dev checkpoint) */
    const char *negative_prompt; /* NULL = the reference's default negative prompt */
    int num_inference_steps;
    ltx_guidance video, audio;
    const char *spatial_upsampler_path;    /* two-stage: required */
    const ltx_lora_input *distilled_loras; /* two-stage: required (>= 1) */
    int n_distilled_loras;
    double distilled_lora_strength_stage_1, distilled_lora_strength_stage_2; /* HQ */
} ltx_guided_params;
LTX_API void ltx_guided_params_init(ltx_guided_params *p);
LTX_API void ltx_guided_params_init_hq(ltx_guided_params *p);
/* ref detect_params: _init, then the LTX-2.0 defaults (40 steps, STG block 29) unless the
 * checkpoint's metadata "model_version" starts with "2.3" (also when it cannot be read, like the
 * reference). Reads only the file header. */
LTX_API void ltx_guided_params_init_for_checkpoint(ltx_guided_params *p,
                                                   const char *checkpoint_path);
/* TI2VidOneStagePipeline, TI2VidTwoStagesPipeline and TI2VidTwoStagesHQPipeline: guided
 * denoising with p's schedule and guidance at full size (one stage) or at half size, then x2
 * upsampling and a distilled-LoRA refinement (two stages; HQ also fuses the distilled LoRA in
 * stage 1 and samples with res_2s). Each writes g->output_path. */
LTX_API ltx_status ltx_generate_one_stage(ltx_engine *e, const ltx_generate_params *g,
                                          const ltx_guided_params *p);
LTX_API ltx_status ltx_generate_two_stages(ltx_engine *e, const ltx_generate_params *g,
                                           const ltx_guided_params *p);
LTX_API ltx_status ltx_generate_two_stages_hq(ltx_engine *e, const ltx_generate_params *g,
                                              const ltx_guided_params *p);

/* ---- conditioning pipelines (src/api/generate_cond.c) ------------------------------------- */

/* keyframe_interpolation (KeyframeInterpolationPipeline): the two-stage guided pipeline
 * (ltx_guided_params_init defaults, spatial upsampler + distilled LoRA required) in which
 * every image, frame 0 included, becomes keyframe tokens. A negative frame_idx counts from
 * the end (-1 = the last frame); indices outside the video are refused. */
LTX_API ltx_status ltx_generate_keyframe_interpolation(ltx_engine *e, const ltx_generate_params *g,
                                                       const ltx_guided_params *p);

/* a2vid_two_stage (A2VidPipelineTwoStage). The audio file is decoded (any FFmpeg format; mono
 * duplicated, > 2 channels down-mixed, rate converted for the encoder — all logged), encoded
 * once and kept frozen; the output carries the decoded input audio at its own sample rate.
 * The audio is frozen, so only the video guidance of ltx_guided_params is used: its `audio`
 * member must be left at the ltx_guided_params_init values (anything else is refused, the
 * reference silently ignores those flags). Audio shorter than the video is refused before any
 * weight loads unless pad_audio is set (then it is padded with silence). */
typedef struct ltx_a2vid_params {
    size_t struct_size;
    const char *audio_path;    /* required */
    double audio_start_time;   /* seconds, default 0 */
    double audio_max_duration; /* seconds; 0 (default): num_frames / frame_rate; negative or
                                  non-finite values are refused */
    int pad_audio;             /* non-zero: pad audio shorter than the video with silence */
} ltx_a2vid_params;
/* Zeroes *p and sets struct_size (audio_path stays NULL = required). */
LTX_API void ltx_a2vid_params_init(ltx_a2vid_params *p);
LTX_API ltx_status ltx_generate_a2vid_two_stage(ltx_engine *e, const ltx_generate_params *g,
                                                const ltx_guided_params *p,
                                                const ltx_a2vid_params *a);

/* retake (RetakePipeline, distilled mode). Uses prompt, gemma_root, tokenizer, output_path,
 * seed and loras of ltx_generate_params; the size, frame count and rate come from the source
 * video (height/width/num_frames/frame_rate are ignored, images are refused). The source
 * must have 8k+1 frames and sides that are multiples of 32, unless `fit` is set: then it is
 * trimmed to the nearest 8k+1 frames below and center-cropped to multiples of 32 (logged). The
 * window [start_time, end_time) must lie inside the source. */
typedef struct ltx_retake_params {
    size_t struct_size;
    const char *distilled_checkpoint_path; /* required */
    const char *video_path;                /* required */
    double start_time, end_time;           /* required, seconds, start < end */
    int fit;
} ltx_retake_params;
/* Zeroes *p and sets struct_size (paths and times are required). */
LTX_API void ltx_retake_params_init(ltx_retake_params *p);
LTX_API ltx_status ltx_generate_retake(ltx_engine *e, const ltx_generate_params *g,
                                       const ltx_retake_params *p);

/* ic_lora (ICLoraPipeline): distilled two-stage pipeline with reference (control) videos as
 * extra stage-1 tokens; the --lora files are the IC-LoRA(s), fused in stage 1 only, their
 * metadata reference_downscale_factor sets the reference size (conflicting values refused). */
typedef struct ltx_video_cond_input {
    const char *path;
    double strength;
} ltx_video_cond_input;
typedef struct ltx_ic_lora_params {
    size_t struct_size;
    const char *distilled_checkpoint_path;          /* required */
    const char *spatial_upsampler_path;             /* required unless skip_stage_2 */
    const ltx_video_cond_input *video_conditioning; /* required, >= 1 */
    int n_video_conditioning;
    const char *attention_mask_path; /* NULL = none; grayscale mask video */
    double attention_mask_strength;  /* [0, 1], default 1 */
    int skip_stage_2;                /* output at half size */
} ltx_ic_lora_params;
/* Zeroes *p, sets struct_size and attention_mask_strength 1. */
LTX_API void ltx_ic_lora_params_init(ltx_ic_lora_params *p);
LTX_API ltx_status ltx_generate_ic_lora(ltx_engine *e, const ltx_generate_params *g,
                                        const ltx_ic_lora_params *p);

/* ---- element type names ------------------------------------------------------------------- */
/* The safetensors / GGUF name of t ("F32", "BF16", "Q4_K"); "?" for a value outside the enum.
 * Never NULL; static storage. */
LTX_API const char *ltx_dtype_name(ltx_dtype t);
/* Case-insensitive inverse of ltx_dtype_name ("bf16", "q4_k"): 0 with *out set, or -1 with
 * *out untouched for NULL or an unknown name. */
LTX_API int ltx_dtype_from_name(const char *name, ltx_dtype *out);
/* Non-zero when t is a GGML block-quantized storage type (LTX_Q8_0 .. LTX_Q6_K). */
LTX_API int ltx_dtype_is_block_quantized(ltx_dtype t);

/* ---- backends ------------------------------------------------------------------------------ */
/* Names of the backends compiled into this build ("cpu", "cpu-restricted", and "cuda" when it
 * was built with nvcc), NULL-terminated; static storage. A name here may still fail to open
 * (no device present): ltx_engine_open says so. */
LTX_API const char *const *ltx_backend_built(void);

/* ---- model file inspection (src/api/inspect.c) ---------------------------------------------
 * What a .safetensors or GGUF file (or a Hugging Face folder of shards, or a folder with one
 * .gguf) holds, from its header alone — instant on a 40 GB checkpoint: size, tensor count,
 * elements, bytes and dtypes, tensors grouped by model component (transformer, text
 * connectors, text feature extractor, video VAE, audio VAE, vocoder, latent upsampler, LoRA
 * with its rank, "other: <prefix>"), the metadata (its "config" key is the model config JSON)
 * and every tensor. `ltx2c inspect` prints it; `ltx2c serve` lists it under GET /v1/models.
 * An ltx_model_info is read-only once open: queries may run from several threads. Every
 * string it returns lives as long as the object and is the file's text as stored (a hostile
 * file may hold control bytes or malformed UTF-8: escape before printing). */
typedef struct ltx_model_info ltx_model_info;

/* One row of the component table (or the whole file, ltx_model_summary.total). */
typedef struct ltx_model_group {
    const char *component; /* "transformer", "video VAE", "LoRA", "other: <first key part>" */
    const char *part;      /* "" for a component's total row, else a sub-part ("decoder") */
    int tensors;
    uint64_t numel;         /* elements */
    uint64_t bytes;         /* stored bytes */
    const int *dtype_count; /* LTX_DTYPE_COUNT entries: tensors per ltx_dtype */
    int64_t lora_rank_min;  /* LoRA total rows: rank range over the lora_A weights ... */
    int64_t lora_rank_max;  /* ... -1 (and lora_modules 0) on every other row */
    int lora_modules;       /* adapted modules (lora_A weights) */
} ltx_model_group;

/* One tensor of the file. */
typedef struct ltx_model_tensor {
    const char *name;
    ltx_dtype dtype;
    int ndim;
    const int64_t *shape; /* ndim entries */
    int shard;            /* index into the shards (0 for a single file) */
    uint64_t bytes;       /* stored bytes */
} ltx_model_tensor;

typedef struct ltx_model_summary {
    const char *path;      /* the file, or the folder's index / single file, as opened */
    const char *format;    /* "safetensors" or "GGUF" */
    int n_shards;          /* >= 1; ltx_model_info_shard_path */
    uint64_t size_bytes;   /* the shard files' sizes on disk, summed */
    ltx_model_group total; /* every tensor: count, elements, bytes, dtypes */
    int n_groups;          /* ltx_model_info_group: component rows, each followed by its parts */
    int n_metadata;        /* ltx_model_info_metadata_at */
} ltx_model_summary;

/* Opens `path` (a file, or a folder: model.safetensors.index.json with its shards,
 * model.safetensors, or one .gguf) and classifies its tensors. On success *out owns the result
 * (free with ltx_model_info_free); on failure *out is NULL and ltx_last_error_global() names
 * the file and what is wrong (LTX_ERR_IO unreadable, LTX_ERR_FORMAT malformed, LTX_ERR_OOM). */
LTX_API ltx_status ltx_model_info_open(const char *path, ltx_model_info **out);
/* m may be NULL. */
LTX_API void ltx_model_info_free(ltx_model_info *m);
/* The summary of m (never NULL for a non-NULL m); lives as long as m. */
LTX_API const ltx_model_summary *ltx_model_info_summary(const ltx_model_info *m);
/* The i-th shard file's path; NULL when i is out of range. */
LTX_API const char *ltx_model_info_shard_path(const ltx_model_info *m, int i);
/* The i-th row of the component table, in display order (component, then its parts); NULL
 * when i is out of range. */
LTX_API const ltx_model_group *ltx_model_info_group(const ltx_model_info *m, int i);
/* The i-th metadata entry in file order: 0 with *key / *value set, -1 when out of range. */
LTX_API int ltx_model_info_metadata_at(const ltx_model_info *m, int i, const char **key,
                                       const char **value);
/* The value of metadata `key` ("config", "model_version"), or NULL when absent. */
LTX_API const char *ltx_model_info_metadata(const ltx_model_info *m, const char *key);
/* The i-th tensor (0 .. summary->total.tensors - 1) into *out: 0, or -1 when out of range. */
LTX_API int ltx_model_info_tensor(const ltx_model_info *m, int i, ltx_model_tensor *out);

/* ---- quantization to GGUF (src/api/quantize_api.c; the conversion: src/models/quantize_file.c)
 * `in` a checkpoint file (.safetensors / .gguf; bf16, f32 or official scaled-fp8): `out` is one
 * .gguf holding the whole checkpoint (transformer matrices quantized to `type`, the rest as
 * stored, the config metadata kept), usable wherever a checkpoint path goes. `in` a Gemma 3
 * Hugging Face folder: `out` is a folder with model-<type>.gguf in llama.cpp naming plus the
 * folder's config and tokenizer files, usable as a Gemma root. One tensor chunk (<= 16 MiB of
 * f32) is in memory at a time; the output is written to "<out>.tmp" and renamed when complete;
 * `out` may not be `in`. */
typedef struct ltx_quantize_params {
    size_t struct_size;      /* = sizeof(ltx_quantize_params), set by _init */
    ltx_dtype type;          /* required: a block type (ltx_dtype_is_block_quantized); _init
                                sets LTX_F32, which is refused */
    ltx_log_level log_level; /* default LTX_LOG_INFO: one line per converted component */
    ltx_log_fn log;          /* default: write to stderr; NULL after _init = silent */
    void *log_user;
} ltx_quantize_params;
/* Zeroes *p, sets struct_size and the defaults noted above. */
LTX_API void ltx_quantize_params_init(ltx_quantize_params *p);
/* in, out and p are required (NULL: LTX_ERR_INVALID_ARG). Errors (in the calling thread's
 * ltx_last_error_global) name the file, tensor or type at fault: LTX_ERR_INVALID_ARG for a
 * type that is not a block type or an output that is the input, LTX_ERR_IO / LTX_ERR_FORMAT
 * for the files. */
LTX_API ltx_status ltx_quantize_file(const char *in, const char *out, const ltx_quantize_params *p);

/* ---- Gemma 3 tokenizer (src/tokenizer/gemma_tokenizer.c) -----------------------------------
 * Reads a Hugging Face tokenizer.json and gives the ids of the `tokenizers` library
 * (transformers' GemmaTokenizerFast). Invalid UTF-8 becomes U+FFFD first, as Python's
 * decode(errors="replace") does. A loaded tokenizer is read-only: encode calls may run
 * concurrently. */
typedef struct ltx_gemma_tokenizer ltx_gemma_tokenizer;
/* ref: LTXVGemmaTokenizer is built with max_length=1024 (the LTX prompt length in tokens). */
#define LTX_PROMPT_MAX_TOKENS 1024
/* Loads `path`: a tokenizer.json file, or a folder that contains one (a Gemma root). On
 * success *out owns the tokenizer (free with ltx_gemma_tokenizer_free). On failure *out is NULL
 * and the error names the file and what is wrong (LTX_ERR_IO unreadable, LTX_ERR_FORMAT
 * malformed, LTX_ERR_UNSUPPORTED for settings this port does not do). */
LTX_API ltx_status ltx_gemma_tokenizer_load(const char *path, ltx_gemma_tokenizer **out);
/* Frees everything; NULL is fine. */
LTX_API void ltx_gemma_tokenizer_free(ltx_gemma_tokenizer *tok);
/* Encodes `len` bytes of UTF-8 `text` (NULs allowed; text may be NULL when len is 0).
 * add_bos != 0 adds <bos> first (= HF add_special_tokens=True; no EOS). No truncation. On
 * success *ids is a malloc'd array of *n ids owned by the caller (release with free()); it is
 * non-NULL even when *n is 0. On failure *ids is NULL and *n is 0. */
LTX_API ltx_status ltx_gemma_tokenizer_encode(const ltx_gemma_tokenizer *tok, const char *text,
                                              size_t len, int add_bos, int32_t **ids, int *n);
/* The LTX text path for one prompt: Python str.strip(), encode with <bos>, keep <bos> + the
 * first max_len-1 tokens, then LEFT-pad with <pad> (id 0) to max_len. Writes max_len entries to
 * ids_out and mask_out (caller-owned): mask 0 on pads, 1 on every real token. max_len must be
 * >= 1 (LTX uses LTX_PROMPT_MAX_TOKENS). */
LTX_API ltx_status ltx_gemma_tokenize_ltx(const ltx_gemma_tokenizer *tok, const char *text,
                                          size_t len, int max_len, int32_t *ids_out,
                                          int32_t *mask_out);

/* ---- strict number parsing (src/core/parse.c) ----------------------------------------------
 * For user input (flags, options, JSON-less config values): the whole string must be the
 * number, in [lo, hi], and a float must be finite. true with *out set, else false with *out
 * unchanged; NULL, "", leading spaces and trailing characters are refused. The caller names
 * the flag and value in its error. */
LTX_API bool ltx_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);
LTX_API bool ltx_parse_int(const char *s, int lo, int hi, int *out);
/* Decimal or exponent notation as strtod reads it, minus inf and nan. */
LTX_API bool ltx_parse_f64(const char *s, double lo, double hi, double *out);

/* ---- interrupts for command-line programs (src/io/file.c) ----------------------------------
 * Process-wide, so for a program's main() only, never for a library that embeds libltx. */
/* Installs SIGINT and SIGTERM handlers: while the library writes an output's temporary file
 * the handler removes it, restores the default action and re-raises, so the process dies of the
 * signal with nothing partial left behind; otherwise the first signal is only recorded (return
 * ltx_interrupted() from the progress callback to stop at the next step) and a second one
 * terminates at once. Idempotent. */
LTX_API void ltx_interrupt_install(void);
/* The signal number recorded by that handler, 0 when none. */
LTX_API int ltx_interrupted(void);

#ifdef __cplusplus
}
#endif
#endif /* LTX_H */
