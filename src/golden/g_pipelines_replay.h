/*
 * g_pipelines_replay.h — private to the pipeline golden handlers (g_pipelines.c,
 * g_pipelines_cond.c): what one pipeline replay owns and the setup they share.
 *
 * Replay (golden README "How to replay a pipeline golden in the port"): the reference ran in
 * float32 (state and positions f32), contexts are the stored post-connector tensors
 * in.positive.* / in.negative.*, and every GaussianNoiser draw is fed from the stored
 * in.stageK.noise.* tensor or — `verify --noise-from-seed` — drawn from params.seed with the
 * torch CPU generator (src/core/rng.h), each draw then also compared with the stored one.
 * Images: the stored pixels after the H.264 round trip feed the preprocessing; the round trip
 * itself is re-run from the stored source pixels and compared on its own.
 */
#ifndef LTX_GOLDEN_G_PIPELINES_REPLAY_H
#define LTX_GOLDEN_G_PIPELINES_REPLAY_H

#include "golden/golden.h"
#include "pipelines/pipelines_cond.h"

#define GP_MAX_HOST (2 * LTX_PIPE_MAX_IMAGES + 8)

/* Noise source of a replay (the pipe's noise_fn / sde_noise user). */
typedef struct gp_noise_src {
    ltx_golden_ctx *g;
    ltx_rng *rng; /* --noise-from-seed */
    const ltx_pipe *p;
    char stage[32];
    int sde_count; /* res_2s draws so far in `stage` */
} gp_noise_src;

/* Everything a replay owns; zero-initialise, ltx_gp_replay_setup, then ltx_gp_replay_free. */
typedef struct gp_replay {
    ltx_golden_ctx *g;
    ltx_st_file *ckpt, *ups;
    ltx_tensor *ctx[4]; /* positive video, audio, negative video, audio */
    ltx_pipe_image img[LTX_PIPE_MAX_IMAGES];
    void *host[GP_MAX_HOST]; /* host copies of stored tensors (freed at the end) */
    int n_host;
    gp_noise_src ns;
    ltx_guider_params vg, ag;
    ltx_lora *lora[LTX_MAX_LORAS];
    double lora_s[LTX_MAX_LORAS];
    int n_lora;
    ltx_gen_inputs in;
    ltx_cond_inputs c;
    ltx_pipe p;
} gp_replay;

/* Opens the checkpoint/upsampler, loads contexts, images (re-checking each CRF round trip),
 * guiders, LoRAs (params.stage_loras, strengths as given) and fills r->in and r->p for a
 * float32 replay under the file's reference version. Negative contexts are loaded where stored;
 * the replay is guided when params has video_guider. One rule for every pipeline: torch 1.13's
 * bf16 rounding of LoRA strengths is part of the fusion flags (models/lora.h), not a switch.
 * Whatever it acquired is released by ltx_gp_replay_free, also on error. */
ltx_status ltx_gp_replay_setup(ltx_golden_ctx *g, gp_replay *r);
/* Releases what r owns; r may be partly set up. */
void ltx_gp_replay_free(gp_replay *r);

/* Host copy of the stored tensor `name` in dt (LTX_U8 or LTX_F32), kept until ltx_gp_replay_free;
 * shape[0..cap) receives its dims (1 past ndim). NULL on error (message set). */
void *ltx_gp_stored(gp_replay *r, const char *name, ltx_dtype dt, int64_t *shape, int cap);

/* Emits out.audio_waveform (a failed audio decode fails the case with its status). */
ltx_status ltx_gp_emit_output(ltx_golden_ctx *g, const ltx_gen_output *o);

#endif
