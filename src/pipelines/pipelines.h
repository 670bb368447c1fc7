/*
 * pipelines.h — the text/image-to-video pipelines as functions of already-encoded prompts:
 * distilled, ti2vid_one_stage, ti2vid_two_stages, ti2vid_two_stages_hq (one short file each,
 * named like the reference module). Prompt encoding, validation and file output live in
 * src/api/generate.c; golden replays call these directly with injected contexts and noise.
 *
 * ref: ltx_pipelines/{distilled,ti2vid_one_stage,ti2vid_two_stages,ti2vid_two_stages_hq}.py
 * @ a2c3f24 (their __call__ bodies); spec pipelines.md §5-6.
 */
#ifndef LTX_PIPELINES_PIPELINES_H
#define LTX_PIPELINES_PIPELINES_H

#include "pipelines/stages.h"

/* Everything a pipeline run needs once the prompts are encoded. Borrowed pointers. */
typedef struct ltx_gen_inputs {
    const ltx_st_file *ckpt;         /* LTX checkpoint (dev or distilled) */
    const ltx_st_file *upsampler;    /* spatial x2 upsampler (two-stage pipelines) */
    const ltx_tensor *v_ctx, *a_ctx; /* positive contexts (1, L, D) */
    const ltx_tensor *v_neg, *a_neg; /* negative contexts (guided pipelines) */
    int height, width, num_frames;
    double fps;
    const ltx_pipe_image *images;
    int n_images;
    int steps;                        /* non-distilled stage-1 step count */
    const ltx_guider_params *vg, *ag; /* guided pipelines: stage-1 guidance */
    /* --lora (user) and --distilled-lora files with their strengths; opened by the caller */
    const ltx_lora *const *loras;
    const double *lora_strength;
    int n_loras;
    const ltx_lora *const *dloras;
    const double *dlora_strength;
    int n_dloras;
    double hq_dlora_s1, hq_dlora_s2; /* HQ: distilled-LoRA strength per stage (0.25 / 0.5) */
} ltx_gen_inputs;

/* What a run produces (host memory, owned; release with ltx_gen_output_free). */
typedef struct ltx_gen_output {
    uint8_t *frames; /* (n_frames, h, w, 3) RGB */
    int n_frames, h, w;
    float *audio; /* (2, n_samples) planar, NULL when the audio could not be decoded */
    int64_t n_samples;
    int sample_rate;
    ltx_status audio_status; /* why audio is NULL (LTX_ERR_NOT_BUILT without a vocoder) */
} ltx_gen_output;

/* Frees frames and audio and zeroes *o; o may be NULL. */
void ltx_gen_output_free(ltx_gen_output *o);

/* Decodes the final latents: video (1,128,F,H,W) -> out->frames, audio (1,8,T_a,16) ->
 * out->audio (failure kept in out->audio_status). Shared by the pipeline files. */
ltx_status ltx_pipeline_decode(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_tensor *video,
                               const ltx_tensor *audio, ltx_gen_output *out);

/* DistilledPipeline.__call__: stage 1 at half size (8 distilled sigmas), x2 upsample, stage 2
 * (3 sigmas, re-noise 0.909375), decode. Audio decode failure is reported in
 * out->audio_status, not as the return value (callers that need audio check it). */
ltx_status ltx_pipeline_distilled(ltx_pipe *p, const ltx_gen_inputs *in, ltx_gen_output *out);

/* TI2VidOneStagePipeline.__call__: one guided stage at full size (LTX2 schedule, `steps`),
 * user LoRAs, untiled decode (the caller sets p->tiled_decode = false like the reference). */
ltx_status ltx_pipeline_one_stage(ltx_pipe *p, const ltx_gen_inputs *in, ltx_gen_output *out);

/* TI2VidTwoStagesPipeline.__call__: guided stage 1 at half size (user LoRAs), x2 upsample,
 * stage 2 with user + distilled LoRAs and the 3 stage-2 sigmas (no guidance). */
ltx_status ltx_pipeline_two_stages(ltx_pipe *p, const ltx_gen_inputs *in, ltx_gen_output *out);

/* TI2VidTwoStagesHQPipeline.__call__ (res_2s sampler both stages). */
ltx_status ltx_pipeline_two_stages_hq(ltx_pipe *p, const ltx_gen_inputs *in, ltx_gen_output *out);

/* Stage LoRA set: user LoRAs, then the distilled ones (strength override when dl_strength >= 0,
 * the HQ pipeline's per-stage strength applied to the first distilled LoRA only). */
ltx_status ltx_pipeline_lora_set(const ltx_gen_inputs *in, bool with_distilled, double dl_strength,
                                 ltx_lora_set *set);
/* ltx_pipeline_lora_set + ltx_stage_run_fresh: one stage with that LoRA set. */
ltx_status ltx_pipeline_run_stage(ltx_pipe *p, const ltx_gen_inputs *in, bool with_distilled,
                                  double dl_strength, const ltx_stage_spec *s, ltx_tensor **video,
                                  ltx_tensor **audio);

/* ---- shared two-stage glue (two_stage.c) ---- */

/* Stage-2 LoRA set of a two-stage pipeline. */
typedef enum ltx_stage2_loras {
    LTX_STAGE2_USER_AND_DISTILLED = 0, /* user + distilled LoRAs (stage2_dlora override) */
    LTX_STAGE2_USER_ONLY,              /* the user LoRAs (distilled pipeline) */
    LTX_STAGE2_NO_LORAS,               /* none (IC-LoRA: the IC-LoRAs are stage-1 only) */
} ltx_stage2_loras;

/* What one two-stage pipeline changes in the shared script. Borrowed pointers. */
typedef struct ltx_two_stage {
    const char *what;              /* pipeline name for error messages ("two-stage") */
    ltx_denoiser *stage1_denoiser; /* stage 1; NULL = guided with all of in's contexts and
                                      guiders (stage 2: the simple denoiser) */
    bool distilled_stage1;         /* stage 1 on the 8 distilled sigmas (in->steps unused), simple
                                      denoiser unless stage1_denoiser (distilled pipeline) */
    bool shift_by_stage1_tokens;   /* LTX2 schedule shifted by the stage-1 token count (HQ) */
    bool res2s;                    /* res_2s sampler in both stages (HQ) */
    bool images_as_keyframes;      /* every --image as keyframe tokens in both stages */
    bool stage1_distilled;         /* stage-1 LoRAs include the distilled ones (HQ) */
    double stage1_dlora, stage2_dlora; /* distilled strength override per stage; < 0 = CLI's */
    const ltx_tensor *frozen_audio;    /* (1,8,T_a,16) kept frozen in both stages, or NULL */
    ltx_stage2_loras stage2_loras;
    bool stage1_audio; /* under reference 1.2 the stage-1 audio is decoded (two_stages, HQ) */
} ltx_two_stage;

/* Argument checks shared by the two-stage pipelines (sizes multiple of 64, steps >= 1, image
 * count); `what` prefixes the size message. */
ltx_status ltx_two_stage_check(const ltx_gen_inputs *in, const char *what);

/* Stage-1 image encode, stage 1, x2 upsample, stage-2 image encode, stage 2: *video_out
 * (1,128,F,H,W) and *audio_out (1,8,T_a,16), new tensors the caller frees (NULL on error).
 * Does not validate `in` (see ltx_two_stage_check). */
ltx_status ltx_two_stage_run(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_two_stage *t,
                             ltx_tensor **video_out, ltx_tensor **audio_out);

/* The stage-2 half: x2 upsampling of v1 (consumed: freed, also on error), stage-2 image encode
 * at full size, stage 2 on the distilled stage-2 sigmas re-noised at the first one, with the
 * simple denoiser, t's sampler, keyframes, frozen audio and stage2_loras; a1 (borrowed) is the
 * stage-2 audio init unless the audio is frozen. Outputs as ltx_two_stage_run. */
ltx_status ltx_two_stage_refine(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_two_stage *t,
                                ltx_tensor *v1, const ltx_tensor *a1, ltx_tensor **video_out,
                                ltx_tensor **audio_out);

/* When st is LTX_OK, ltx_two_stage_refine then ltx_pipeline_decode into *out (zeroed by the
 * caller); v1 is consumed and a1 freed in any case; on error *out is freed. Returns the first
 * error, st included. */
ltx_status ltx_two_stage_finish(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_two_stage *t,
                                ltx_status st, ltx_tensor *v1, ltx_tensor *a1, ltx_gen_output *out);

/* Zeroes *out, ltx_two_stage_check (no steps check with distilled_stage1), ltx_two_stage_run,
 * ltx_pipeline_decode; on error *out is freed (zeroed). */
ltx_status ltx_two_stage_generate(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_two_stage *t,
                                  ltx_gen_output *out);

#endif
