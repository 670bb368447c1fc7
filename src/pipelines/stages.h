/*
 * stages.h — the building blocks every generation pipeline is scripted from: one diffusion
 * stage (initial state, conditioning, noising, denoising loop, end-of-stage cleanup), the
 * simple and the guided denoiser, latent x2 upsampling, image conditioning, video decode and
 * audio decode, plus the per-run context that carries the noise source, the intermediate
 * recorder (golden replay), progress and per-stage timings.
 *
 * Mirrors ltx_pipelines/utils/blocks.py (DiffusionStage, VideoUpsampler, ImageConditioner,
 * VideoDecoder, AudioDecoder), utils/denoisers.py (SimpleDenoiser, GuidedDenoiser,
 * FactoryGuidedDenoiser with constant params), utils/samplers.py (euler_denoising_loop) and
 * utils/helpers.py (combined_image_conditionings, post_process_latent) at a2c3f24; spec
 * pipelines.md §1, §2.4, §2.7, §4.1-4.3, §5.
 *
 * What it deliberately does not do: prompt encoding (src/api/generate.c drives the text
 * encoder and hands the contexts in — the goldens inject theirs), file output, argument
 * validation (src/api/generate.c, before any weight is loaded).
 *
 * Numerics: tensors are f32 on the run's backend. `state_dtype` says what the reference's
 * latent state was: BF16 in real runs (every update is rounded to bf16, spec §13), F32 when
 * replaying the float32 goldens. `pos_dtype` likewise for the video positions.
 *
 * Memory: each stage loads its transformer from the checkpoint when it starts and frees it
 * when it ends (spec §10.2); decoders/upsampler likewise — unless p->cache (the engine's model
 * cache, budget > 0: ltx2c serve) keeps them resident for the next stage or call (models.c).
 *
 * Thread-safety: a ltx_pipe is used by one thread.
 */
#ifndef LTX_PIPELINES_STAGES_H
#define LTX_PIPELINES_STAGES_H

#include "backend/backend.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/tap.h"
#include "io/safetensors.h"
#include "models/lora.h"
#include "models/ltx_transformer.h"
#include "models/quant_policy.h"
#include "sampling/guiders.h"
#include "sampling/patchifier.h"
#include "sampling/res2s.h"

#define LTX_PIPE_MAX_TIMES  16
#define LTX_PIPE_MAX_IMAGES 16

/* Supplies one noise draw (ref: GaussianNoiser's torch.randn) named `name`
 * ("stage1.noise.video") as a new (1, T, C) f32 tensor. Used by golden replays to inject the
 * stored draws. */
typedef ltx_status (*ltx_pipe_noise_fn)(void *user, const char *name, int64_t T, int64_t C,
                                        ltx_tensor **out);

typedef struct ltx_stage_time {
    char name[48];
    double seconds;
    int steps;           /* denoising stages: steps run (0 otherwise) */
    uint64_t host_syncs; /* host synchronisations during those steps (backend count) */
    size_t peak_bytes;   /* peak device memory of the stage (caching allocator's live peak) */
} ltx_stage_time;

/* Per-run context. Fill with ltx_pipe_init, then set what applies. Borrowed pointers. */
typedef struct ltx_pipe {
    ltx_backend *be;
    const ltx_log *log;
    ltx_dtype state_dtype; /* BF16 (real runs, default) or F32 (float32 golden replay) */
    ltx_dtype pos_dtype;   /* BF16 (default) or F32 */
    ltx_rng *rng; /* the pipeline generator (seeded with --seed); used when noise_fn NULL */
    ltx_pipe_noise_fn noise_fn;
    void *noise_user;
    const ltx_taps *record;   /* receives named intermediates ("stage1.step0.video_latent"); NULL */
    ltx_progress_fn progress; /* may be NULL */
    void *progress_user;
    bool tiled_decode;      /* VAE decode with TilingConfig.default() (all but one-stage) */
    ltx_dtype lora_target;  /* fused weight dtype: LTX_DTYPE_COUNT = stored (bf16); F32 goldens */
    ltx_dtype lora_product; /* LoRA product dtype: LTX_DTYPE_COUNT = the LoRA file's (bf16) */
    unsigned lora_flags;    /* LTX_LORA_* of the stage LoRA sets (models/lora.h); 0 default */
    /* res_2s SDE noise source (NULL = the reference's fixed-seed generators); cur_stage is
     * the name of the stage running (for injected draws) */
    ltx_res2s_noise_fn sde_noise;
    void *sde_user;
    const char *cur_stage;
    /* out: wall time per finished stage, in order */
    ltx_stage_time times[LTX_PIPE_MAX_TIMES];
    int n_times;
    /* appended: guidance passes per transformer call (--max-batch-size; <= 1: one pass per
     * call, the default) and layer streaming (--streaming-prefetch-count; 0 = off) */
    int max_batch;
    int stream_prefetch;
    /* appended: reference numerics (core/refver.h; ltx_pipe_init: 1.2). Read by the stage
     * (noiser, keyframe bounds, frozen sigma), the transformer load (cross-attention timesteps,
     * LoRA fuse rule) and the two-stage pipelines (which stage's audio is decoded). */
    ltx_reference_version ref;
    /* appended: --quantization, applied to the transformer weights at every load (kind NONE
     * from ltx_pipe_init: weights as stored) */
    ltx_quant_policy quant;
    /* appended: the engine's model cache (borrowed; NULL or budget 0 = every model loaded per
     * stage and freed at its end), and what the run's model loads took: seconds spent getting
     * transformers / the VAE-side models (VAE encoders and decoders, vocoder, upsampler),
     * cache hits and misses */
    struct ltx_model_cache *cache;
    double transformer_load_s, vae_load_s;
    int cache_hits, cache_misses;
} ltx_pipe;

void ltx_pipe_init(ltx_pipe *p, ltx_backend *be);
/* Appends a timing entry (silently drops past LTX_PIPE_MAX_TIMES). */
void ltx_pipe_add_time(ltx_pipe *p, const char *name, double seconds);
/* Monotonic seconds. */
double ltx_pipe_now(void);
/* Records `t` under `name` if a recorder is installed. */
void ltx_pipe_rec(const ltx_pipe *p, const char *name, const ltx_tensor *t);
/* One noise draw of (1, T, C): injected (noise_fn) or from p->rng (torch.randn order; rounded
 * to bf16 when state_dtype is BF16, the reference's bf16 noise). */
ltx_status ltx_pipe_noise(ltx_pipe *p, const char *name, int64_t T, int64_t C, ltx_tensor **out);

/* ---- models of the run (src/pipelines/models.c) ----
 * Each getter returns the model of `ckpt` (the upsampler: of `ups`) from p->cache or loads it
 * (then offers it to the cache). The stage gives it back with ltx_pipe_model_done, and frees
 * it itself when that returns false (not cached). */
struct ltx_video_encoder;
struct ltx_video_decoder;
struct ltx_audio_encoder;
struct ltx_audio_decoder;
struct ltx_vocoder;
struct ltx_latent_upsampler;
ltx_status ltx_pipe_video_encoder(ltx_pipe *p, const ltx_st_file *ckpt,
                                  struct ltx_video_encoder **out);
ltx_status ltx_pipe_video_decoder(ltx_pipe *p, const ltx_st_file *ckpt,
                                  struct ltx_video_decoder **out);
ltx_status ltx_pipe_audio_encoder(ltx_pipe *p, const ltx_st_file *ckpt,
                                  struct ltx_audio_encoder **out);
ltx_status ltx_pipe_audio_decoder(ltx_pipe *p, const ltx_st_file *ckpt,
                                  struct ltx_audio_decoder **out);
ltx_status ltx_pipe_vocoder(ltx_pipe *p, const ltx_st_file *ckpt, struct ltx_vocoder **out);
ltx_status ltx_pipe_upsampler(ltx_pipe *p, const ltx_st_file *ups,
                              struct ltx_latent_upsampler **out);
/* Gives a model back to the cache: true when the cache holds it (the caller must not free
 * it), false when it is the caller's to free (no cache, not taken, NULL). */
bool ltx_pipe_model_done(ltx_pipe *p, const void *model);
/* Caching applies to this run: a cache with a budget, and no recorder (golden replays record
 * what a load computes, e.g. fused LoRA weights, so they always load). */
bool ltx_pipe_caching(const ltx_pipe *p);
/* The cached object of kind `kind` loaded from f with `variant` (NULL = "") with one use for
 * the caller, or NULL (counted as a hit / miss in p). */
void *ltx_pipe_cache_get(ltx_pipe *p, const char *kind, const ltx_st_file *f, const char *variant);
/* Offers obj (bytes large, freed with free_fn) to the cache under that key; the caller still
 * gives it back with ltx_pipe_model_done either way. */
void ltx_pipe_cache_put(ltx_pipe *p, const char *kind, const ltx_st_file *f, const char *variant,
                        void *obj, size_t bytes, void (*free_fn)(void *));
/* Evicts unused cached models until `bytes` more fit (before a load on a miss). */
void ltx_pipe_cache_reserve(ltx_pipe *p, size_t bytes);
/* Bytes of the entries of f whose names start with one of `include` (NULL: every entry) and
 * with none of `exclude` (NULL-terminated lists; exclude may be NULL): a model's weights. */
size_t ltx_pipe_weight_bytes(const ltx_st_file *f, const char *const *include,
                             const char *const *exclude);

/* ---- image conditioning (ref: helpers.combined_image_conditionings) ---- */

/* One --image: the file, its pixel frame index, strength and CRF, or (golden replay) the
 * pixels after the CRF round trip (then `path`/`crf` are not used). */
typedef struct ltx_pipe_image {
    const char *path;
    int frame_idx;
    double strength;
    double crf;         /* 0 = no round trip; the CLI default is 33 */
    const uint8_t *rgb; /* optional (h, w, 3) pixels after the round trip */
    int h, w;
} ltx_pipe_image;

/* An image encoded at a stage's resolution. */
typedef struct ltx_image_latent {
    ltx_tensor *latent; /* (1, 128, 1, H/32, W/32) */
    int frame_idx;
    double strength;
} ltx_image_latent;

/* Loads + preprocesses every image at (height, width) and encodes it with the checkpoint's
 * video encoder (loaded for this call and freed). `name` prefixes recorded intermediates
 * ("stage1" -> "stage1.image0.preprocessed", "stage1.image0.latent"). out[] receives n
 * entries the caller releases with ltx_image_latents_free. */
ltx_status ltx_stage_encode_images(ltx_pipe *p, const ltx_st_file *ckpt, const char *name,
                                   const ltx_pipe_image *imgs, int n, int height, int width,
                                   ltx_image_latent *out);
void ltx_image_latents_free(ltx_image_latent *l, int n);

/* ---- denoisers (ref: utils/denoisers.py) ---- */

/* Contexts and guidance of one stage. vg/ag NULL (or neutral params) = SimpleDenoiser: one
 * positive pass. Otherwise the guided denoiser: passes cond, uncond (negative contexts),
 * ptb (STG: self-attention skipped in the guider's stg_blocks), mod (A2V/V2A cross-attention
 * skipped) as needed by either modality's params, run one by one (p->max_batch <= 1, the
 * reference's default --max-batch-size 1) or as batch rows of up to p->max_batch passes per
 * transformer call (src/sampling/denoiser.h; same values up to f32 summation order), combined
 * with ltx_multimodal_guider_calculate per modality. */
typedef struct ltx_denoiser {
    const ltx_tensor *v_ctx, *a_ctx;  /* (1, L, D) positive */
    const ltx_tensor *v_neg, *a_neg;  /* negative (NULL = positive) */
    const ltx_guider_params *vg, *ag; /* NULL = no guidance for that modality */
    /* state for skip_step: previous outputs (owned, freed by ltx_denoiser_reset) */
    ltx_tensor *prev_v, *prev_a;
    /* host copies of the states' denoise masks (downloaded once per stage, freed by
     * ltx_denoiser_reset at the stage's end), for the timesteps' host mirror */
    float *mask_host[2];
    const ltx_tensor *mask_of[2];
} ltx_denoiser;

void ltx_denoiser_reset(ltx_denoiser *d);

/* One denoiser evaluation at `sigma` (step index `step`, for skip_step) on the current states:
 * *x0v / *x0a new (1, T, 128) x0 predictions (rounded to p->state_dtype), before
 * post-processing. */
ltx_status ltx_denoise_step(ltx_pipe *p, ltx_transformer *m, ltx_denoiser *d,
                            const ltx_latent_state *vs, const ltx_latent_state *as, double sigma,
                            int step, ltx_tensor **x0v, ltx_tensor **x0a);

/* ---- one diffusion stage (ref: blocks.DiffusionStage + euler_denoising_loop) ---- */

struct ltx_stage_spec;
/* Extra conditioning of one modality's state (audio false: video), called after the image
 * conditionings and before noising (ref: ModalitySpec.conditionings); see
 * src/sampling/conditioning.h for the items. */
typedef ltx_status (*ltx_stage_cond_fn)(void *user, ltx_pipe *p, const struct ltx_stage_spec *s,
                                        bool audio, ltx_latent_state *st);

typedef struct ltx_stage_spec {
    const char *name;       /* "stage1": names progress, timings and recorded tensors */
    int64_t video_shape[5]; /* (1, 128, F, H, W) */
    int64_t audio_shape[4]; /* (1, 8, T_a, 16) */
    double fps;
    const ltx_tensor *video_init; /* (1,128,F,H,W) or NULL = zeros */
    const ltx_tensor *audio_init; /* (1,8,T_a,16) or NULL = zeros */
    double video_noise_scale, audio_noise_scale;
    const ltx_image_latent *images; /* conditionings at this stage's resolution */
    int n_images;
    const float *sigmas;
    int n_sigmas;
    ltx_denoiser *denoiser;
    bool res2s; /* res_2s sampler (HQ) instead of Euler */
    /* conditioning pipelines (appended; zero = off) */
    bool images_as_keyframes;        /* every image as keyframe tokens, frame 0 too (ref:
                                        image_conditionings_by_adding_guiding_latent) */
    bool video_frozen, audio_frozen; /* ref: ModalitySpec.frozen: mask 0 after noising */
    ltx_stage_cond_fn cond;          /* extra conditioning or NULL */
    void *cond_user;
} ltx_stage_spec;

/* Builds the states (video then audio noise draw), runs len(sigmas)-1 Euler steps (or the
 * res_2s loop, recording every denoiser call as "<stage>.call<J>.*") with the denoiser on `model`,
 * drops appended tokens and unpatchifies: *video_out (1,128,F,H,W), *audio_out (1,8,T_a,16), new
 * tensors the caller frees. */
ltx_status ltx_stage_run(ltx_pipe *p, ltx_transformer *model, const ltx_stage_spec *s,
                         ltx_tensor **video_out, ltx_tensor **audio_out);

/* Loads the transformer of `ckpt` with the stage's LoRAs fused (set NULL or empty = none; its
 * target dtype is taken from p->lora_target). */
ltx_status ltx_stage_load_transformer(ltx_pipe *p, const ltx_st_file *ckpt, ltx_lora_set *loras,
                                      ltx_transformer **out);
/* One complete stage (spec §10.2): the transformer (from p->cache when it holds one for ckpt
 * with the same LoRAs and settings, else ltx_stage_load_transformer and offered to the cache;
 * a streamed one is never cached), ltx_stage_run, then the transformer given back to the
 * cache or freed. */
ltx_status ltx_stage_run_fresh(ltx_pipe *p, const ltx_st_file *ckpt, ltx_lora_set *loras,
                               const ltx_stage_spec *s, ltx_tensor **video_out,
                               ltx_tensor **audio_out);

/* ---- inter-stage and output blocks ---- */

/* VideoUpsampler: normalize(upsampler(un_normalize(latent))) with the checkpoint's video
 * encoder statistics; refuses an upsampler that is not an exact spatial x2 (spec §6.3).
 * Records "upsampler.in"/"upsampler.out". */
ltx_status ltx_stage_upsample(ltx_pipe *p, const ltx_st_file *ckpt, const ltx_st_file *ups,
                              const ltx_tensor *latent, ltx_tensor **out);

/* VideoDecoder: latent (1,128,F,H,W) -> uint8 frames (F*, H*, W*, 3) on the host (malloc'd,
 * caller frees) and, when video_float is non-NULL, the float decoder output (untiled only).
 * Tiled with TilingConfig.default() when p->tiled_decode. Records "out.video_frames_uint8". */
ltx_status ltx_stage_decode_video(ltx_pipe *p, const ltx_st_file *ckpt, const ltx_tensor *latent,
                                  uint8_t **frames, int *n, int *h, int *w,
                                  ltx_tensor **video_float);

/* AudioDecoder: latent (1,8,T_a,16) -> waveform (2, N) f32 host (malloc'd) at *rate Hz via the
 * audio VAE decoder and the vocoder (both loaded for the call and freed). */
ltx_status ltx_stage_decode_audio(ltx_pipe *p, const ltx_st_file *ckpt, const ltx_tensor *latent,
                                  float **wave, int64_t *n, int *rate);

/* AudioEncoder: waveform (2, n) f32 host at `rate` Hz -> *out (1,8,T,16), a new tensor (rounded
 * to bf16 when p->state_dtype is BF16), via the checkpoint's audio VAE encoder (loaded for the
 * call and freed). `what` prefixes the out-of-memory message. */
ltx_status ltx_stage_encode_audio(ltx_pipe *p, const ltx_st_file *ckpt, const float *wave,
                                  int64_t n, int rate, const char *what, ltx_tensor **out);

/* Fails (LTX_ERR_FORMAT, "<stage>: the <what> hold non-finite values ...") when t holds a NaN
 * or Inf; one elementwise pass and a sum on p's backend. Used at every stage boundary (the
 * latents after each denoising stage, the decoded video and audio): without it NaN weights or
 * overflowing scales end as a black, silent mp4 and exit 0. */
ltx_status ltx_pipe_check_finite(ltx_pipe *p, const ltx_tensor *t, const char *stage,
                                 const char *what);

/* Audio latent frames for a clip: round(frames / fps * 25) with Python's half-to-even, at
 * least 1 (the reference's 0 for clips under 20 ms fails later; ltx2c keeps one frame). */
int64_t ltx_audio_latent_frames(int num_frames, double fps);

#endif
