/*
 * pipelines_cond.h — the conditioning pipelines as functions of already-encoded prompts and
 * already-decoded media: keyframe_interpolation, a2vid_two_stage, retake, ic_lora (one short
 * file each, named like the reference module). Media decoding, validation and file output
 * live in src/api/generate_cond.c; golden replays call these with the stored media, contexts
 * and noise.
 *
 * ref: ltx_pipelines/{keyframe_interpolation,a2vid_two_stage,retake,ic_lora}.py @ a2c3f24
 * (their __call__ bodies); spec pipelines.md §4, §6.5-6.8.
 *
 * Preprocessing dtype: the reference hard-codes bfloat16 for conditioning images and the
 * IC-LoRA mask video, and uses the pipeline dtype for the retake source and the IC-LoRA
 * reference video; here "pipeline dtype" is p->state_dtype (BF16 real runs, F32 goldens).
 */
#ifndef LTX_PIPELINES_PIPELINES_COND_H
#define LTX_PIPELINES_PIPELINES_COND_H

#include "pipelines/pipelines.h"

/* Decoded RGB frames (n, h, w, 3), borrowed. */
typedef struct ltx_cond_video {
    const uint8_t *rgb;
    int n, h, w;
    double strength; /* IC-LoRA reference: conditioning strength */
} ltx_cond_video;

#define LTX_COND_MAX_REFS 8

/* What the conditioning pipelines take on top of ltx_gen_inputs. Borrowed pointers. */
typedef struct ltx_cond_inputs {
    /* a2vid_two_stage: the input audio, stereo planar (2, audio_n) at audio_rate, already cut
     * to [start, start + max_duration) and padded if asked; it is also the output audio */
    const float *audio;
    int64_t audio_n;
    int audio_rate;
    /* retake: the source video (num_frames/height/width/fps of ltx_gen_inputs must describe
     * it) and its audio (audio/audio_n/audio_rate above, NULL = no audio stream: a new audio
     * track is generated), the window [start_time, end_time) in seconds */
    ltx_cond_video source;
    double start_time, end_time;
    /* ic_lora: reference videos, the attention mask (mask_n, height/2, width/2) in [0, 1] or
     * NULL, its strength, the LoRAs' reference_downscale_factor, --skip-stage-2 */
    ltx_cond_video refs[LTX_COND_MAX_REFS];
    int n_refs;
    const float *attn_mask;
    int mask_n;
    double attn_strength;
    int downscale;
    bool skip_stage_2;
} ltx_cond_inputs;

/* KeyframeInterpolationPipeline.__call__: ti2vid_two_stages with every image (frame 0 too)
 * appended as keyframe tokens in both stages. */
ltx_status ltx_pipeline_keyframe_interpolation(ltx_pipe *p, const ltx_gen_inputs *in,
                                               ltx_gen_output *out);

/* A2VidPipelineTwoStage.__call__: audio VAE encode of c->audio (recorded "audio.encoded_latent",
 * "audio.frozen_latent"), truncated to T_a frames (fewer is LTX_ERR_INVALID_ARG), frozen in
 * both stages (noise scale 0, mask 0); stage 1 guided by in->vg only (no audio guidance, no
 * negative audio context); stage 2 with the distilled LoRAs; out->audio = a copy of c->audio
 * at c->audio_rate. */
ltx_status ltx_pipeline_a2vid_two_stage(ltx_pipe *p, const ltx_gen_inputs *in,
                                        const ltx_cond_inputs *c, ltx_gen_output *out);

/* RetakePipeline.__call__ in distilled mode: source video -> tiled VAE encode, source audio ->
 * audio VAE encode (both conformed to the clip's latent lengths), one distilled stage at the
 * source size with TemporalRegionMask(start, end) on video and audio (audio without a source:
 * generated from zeros, mask 1), decode video + audio. */
ltx_status ltx_pipeline_retake(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_cond_inputs *c,
                               ltx_gen_output *out);

/* ICLoraPipeline.__call__: stage 1 at half size with the images then the reference-video
 * tokens (positions x downscale, attention weights from the mask), user (IC-)LoRAs; stage 2
 * without LoRA or references unless skip_stage_2 (then the half-size stage-1 result is
 * decoded). */
ltx_status ltx_pipeline_ic_lora(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_cond_inputs *c,
                                ltx_gen_output *out);

#endif
