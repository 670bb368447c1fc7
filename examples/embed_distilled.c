/*
 * embed_distilled.c — the smallest program that embeds libltx: it includes only <ltx.h>,
 * opens an engine, installs its own log and progress callbacks, and runs the distilled
 * pipeline. Build: part of the CMake build (build/examples/embed_distilled).
 *
 * usage: embed_distilled CHECKPOINT UPSAMPLER GEMMA_ROOT TOKENIZER OUT.mp4 [PROMPT]
 */
#include <ltx.h>

#include <stdio.h>

static void on_log(void *user, ltx_log_level level, const char *line)
{
    (void)user;
    if (level >= LTX_LOG_WARN) fprintf(stderr, "libltx: %s\n", line);
}

static int on_progress(void *user, const char *stage, int step, int total, double elapsed_s)
{
    int *calls = user;
    (*calls)++;
    fprintf(stderr, "\r%s %d/%d (%.1f s)%s", stage, step, total, elapsed_s,
            step == total ? "\n" : "");
    return 0; /* non-zero would abort */
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s CHECKPOINT UPSAMPLER GEMMA_ROOT TOKENIZER OUT.mp4 [PROMPT]\n",
                argv[0]);
        return 2;
    }
    int progress_calls = 0;
    ltx_engine_params ep;
    ltx_engine_params_init(&ep);
    ep.device = "auto";
    ep.log = on_log;
    ep.progress = on_progress;
    ep.progress_user = &progress_calls;
    ltx_engine *e = NULL;
    if (ltx_engine_open(&ep, &e) != LTX_OK) {
        fprintf(stderr, "engine: %s\n", ltx_last_error_global());
        return 1;
    }
    ltx_generate_params g;
    ltx_generate_params_init(&g);
    g.prompt = argc > 6 ? argv[6] : "A lighthouse on a cliff at dusk, waves crashing below.";
    g.gemma_root = argv[3];
    g.tokenizer = argv[4];
    g.output_path = argv[5];
    g.height = 256; /* small: two-stage sizes must be multiples of 64 */
    g.width = 384;
    g.num_frames = 17;
    ltx_distilled_params dp;
    ltx_distilled_params_init(&dp);
    dp.distilled_checkpoint_path = argv[1];
    dp.spatial_upsampler_path = argv[2];
    ltx_status s = ltx_generate_distilled(e, &g, &dp);
    if (s != LTX_OK) fprintf(stderr, "generate: %s: %s\n", ltx_status_name(s), ltx_engine_last_error(e));
    else printf("wrote %s (%d progress callbacks)\n", g.output_path, progress_calls);
    ltx_engine_close(e);
    return s == LTX_OK ? 0 : 1;
}
