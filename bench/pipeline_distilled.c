/*
 * bench/pipeline_distilled.c — end-to-end time of the distilled pipeline on the bundled tiny
 * checkpoint + tiny Gemma, split by stage.
 *
 * Method: one CPU backend (all online cores). Per run: prompt encoding (tokenizer + tiny Gemma +
 * connectors), then ltx_pipeline_distilled exactly as `ltx2c distilled` runs it (bf16 state,
 * torch-CPU noise for seed 10, tiled decode): stage 1 (8 steps at half size), x2 upsampling,
 * stage 2 (3 steps), video decode, audio decode (audio VAE + vocoder/BWE), then the mp4 write
 * (libx264 + AAC) to /tmp. Every stage loads and frees its model inside its timing, as in real
 * runs. One warm-up run, then `reps` runs (default 3, argv[1]); the median per stage is
 * reported with its ratio to the baseline measured in the same runs, the median end-to-end total
 * (so the split is meaningful even when the machine is shared and absolute times drift).
 * Size argv[2..4] = height width frames (default 256 384 49).
 * Usage: pipeline_distilled [reps] [height width frames]
 */
#include "backend/backend.h"
#include "bench_util.h"
#include "core/threadpool.h"
#include "io/media.h"
#include "models/text_encoder.h"
#include "pipelines/pipelines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define D    LTX_TEST_DATA "/golden"
#define MAXN 16

typedef struct timing {
    char name[MAXN][48];
    double t[MAXN][16];
    int n;
} timing;

static void add(timing *tm, int run, const char *name, double s)
{
    int k = 0;
    while (k < tm->n && strcmp(tm->name[k], name))
        k++;
    if (k == tm->n) {
        if (tm->n == MAXN) return;
        snprintf(tm->name[tm->n++], 48, "%s", name);
    }
    tm->t[k][run] = s;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    if (reps < 1) reps = 1;
    if (reps > 15) reps = 15;
    int H = argc > 4 ? atoi(argv[2]) : 256, W = argc > 4 ? atoi(argv[3]) : 384;
    int F = argc > 4 ? atoi(argv[4]) : 49;
    char tok[4096];
    bench_tokenizer_path(tok, sizeof tok);

    ltx_threadpool *pool = ltx_threadpool_create(0);
    ltx_backend *be = NULL;
    ltx_st_file *ckpt = NULL, *ups = NULL;
    if (ltx_cpu_backend_create(false, NULL, pool, &be) != LTX_OK ||
        ltx_st_open(D "/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors", &ckpt) != LTX_OK ||
        ltx_st_open(D "/tiny_ckpt/tiny-ltx-2.3-spatial-upscaler-x2.safetensors", &ups) != LTX_OK) {
        fprintf(stderr, "setup: %s\n", ltx_err_message());
        return 1;
    }
    timing tm = {0};
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
        int slot = r < 0 ? 15 : r;
        double t0 = ltx_pipe_now();
        ltx_text_processor *proc = NULL;
        ltx_text_context ctx = {0};
        ltx_text_encode_params prm = {.gemma_root = D "/tiny_gemma", .tokenizer = tok};
        const char *prompt = "A red fox trots through fresh snow at dawn, breath steaming.";
        ltx_status s = ltx_text_processor_load(be, ckpt, 0, &proc);
        if (s == LTX_OK) s = ltx_text_encode_prompts(be, &prm, proc, &prompt, 1, &ctx);
        ltx_text_processor_free(proc);
        double t_text = ltx_pipe_now() - t0;
        ltx_rng *rng = ltx_rng_new_torch_cpu(10);
        ltx_pipe p;
        ltx_pipe_init(&p, be);
        p.rng = rng;
        ltx_gen_inputs in = {.ckpt = ckpt,
                             .upsampler = ups,
                             .v_ctx = ctx.video,
                             .a_ctx = ctx.audio,
                             .height = H,
                             .width = W,
                             .num_frames = F,
                             .fps = 24.0};
        ltx_gen_output o = {0};
        if (s == LTX_OK) s = ltx_pipeline_distilled(&p, &in, &o);
        double t1 = ltx_pipe_now();
        if (s == LTX_OK && o.audio) {
            ltx_mp4_params mp;
            ltx_mp4_params_init(&mp);
            s = ltx_mp4_write("/tmp/bench_pipeline_distilled.mp4", o.frames, o.n_frames, o.h, o.w,
                              o.audio, o.n_samples, o.sample_rate, &mp);
        }
        double t_mp4 = ltx_pipe_now() - t1, total = ltx_pipe_now() - t0;
        if (s != LTX_OK) {
            fprintf(stderr, "run failed: %s\n", ltx_err_message());
            return 1;
        }
        add(&tm, slot, "prompt_encoding", t_text);
        for (int i = 0; i < p.n_times; i++)
            add(&tm, slot, p.times[i].name, p.times[i].seconds);
        add(&tm, slot, "mp4_write", t_mp4);
        add(&tm, slot, "total", total);
        ltx_gen_output_free(&o);
        ltx_rng_free(rng);
        ltx_text_context_clear(&ctx);
    }
    remove("/tmp/bench_pipeline_distilled.mp4");
    printf("distilled pipeline, tiny checkpoint, %dx%d, %d frames, %d runs (median)\n", H, W, F,
           reps);
    double tot = 0;
    for (int k = 0; k < tm.n; k++)
        if (!strcmp(tm.name[k], "total")) tot = bench_median(tm.t[k], reps);
    for (int k = 0; k < tm.n; k++) {
        double m = bench_median(tm.t[k], reps);
        printf("  %-20s %8.3f s  %5.1f%%\n", tm.name[k], m, tot > 0 ? 100.0 * m / tot : 0);
    }
    ltx_st_close(ckpt);
    ltx_st_close(ups);
    ltx_backend_destroy(be);
    ltx_threadpool_destroy(pool);
    return 0;
}
