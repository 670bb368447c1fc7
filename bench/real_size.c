/*
 * bench/real_size.c — the distilled pipeline end to end on the synthetic real-shaped files of
 * bench/gen_real_size (22B transformer GGUF/fp8, Gemma 3 12B Q4_0 GGUF): time per stage, peak
 * RSS and bytes read from disk. Never run by the tests.
 *
 * Method: one engine on the CPU (all online cores), one `ltx_generate_distilled` call exactly as
 * `ltx2c distilled` makes it, at the smallest valid real size (default 256x384, 25 frames) with
 * the tiny x2 upsampler (same 128 latent channels). Stage times are the pipeline's own log
 * lines (echoed); peak RSS is getrusage's ru_maxrss (resident pages, mapped file pages
 * included); bytes read are /proc/self/io read_bytes (what the process made the kernel fetch
 * from the block device; page-cache hits are not counted, rchar is printed next to it).
 * The weights are random, so the video is noise: this measures memory and time only. The
 * machine is shared: times are noisy, run it with `nice -n 19`. --precision bf16 runs the CPU
 * in its opt-in bf16 mode (ltx_engine_params.precision, as `ltx2c --precision bf16`): bf16
 * GEMM/attention inputs, Q8_0/Q4_0/Q4_K/Q5_K weights on the int8 VNNI kernels (Q6_K above 64
 * rows on dequantized bf16 panels); default f32.
 * Usage: real_size DIR [q4_k|q8_0|fp8] [height width frames] [--streaming N] [--precision P]
 */
#include "bench_util.h"
#include "ltx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void proc_io(long long *read_bytes, long long *rchar)
{
    *read_bytes = *rchar = -1;
    FILE *f = fopen("/proc/self/io", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "read_bytes: %lld", read_bytes);
        sscanf(line, "rchar: %lld", rchar);
    }
    if (f) fclose(f);
}

static void echo(void *user, ltx_log_level level, const char *line)
{
    (void)user;
    (void)level;
    fprintf(stderr, "%s\n", line);
}

int main(int argc, char **argv)
{
    static const char *USAGE =
        "usage: real_size DIR [q4_k|q8_0|fp8] [height width frames] [--streaming N] "
        "[--precision f32|bf16]\n"
        "  DIR: the folder bench/gen_real_size wrote (ltx-22b-KIND.*, gemma-3-12b-q4_0/)\n"
        "  default q4_k, 256 384 25, no streaming, f32\n";
    const char *pos[5] = {NULL, NULL, NULL, NULL, NULL};
    int npos = 0, stream = 0;
    const char *prec = "f32";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (!strcmp(a, "--streaming") || !strcmp(a, "--precision")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "real_size: %s needs a value\n%s", a, USAGE);
                return 2;
            }
            if (a[2] == 's')
                stream = atoi(argv[++i]);
            else
                prec = argv[++i];
        } else if (a[0] == '-' || npos == 5) {
            fprintf(stderr, "real_size: unexpected argument '%s'\n%s", a, USAGE);
            return 2;
        } else {
            pos[npos++] = a;
        }
    }
    if (npos < 1 || npos == 3 || npos == 4) {
        fputs(USAGE, stderr);
        return 2;
    }
    const char *dir = pos[0], *kind = npos > 1 ? pos[1] : "q4_k";
    int H = 256, W = 384, F = 25;
    if (npos == 5) H = atoi(pos[2]), W = atoi(pos[3]), F = atoi(pos[4]);
    if (strcmp(kind, "q4_k") && strcmp(kind, "q8_0") && strcmp(kind, "fp8")) {
        fprintf(stderr, "real_size: unknown kind '%s' (q4_k, q8_0, fp8)\n", kind);
        return 2;
    }
    char ckpt[1024], gemma[1024], tok[4096], out[256];
    snprintf(ckpt, sizeof ckpt, "%s/ltx-22b-%s.%s", dir, kind,
             strcmp(kind, "fp8") ? "gguf" : "safetensors");
    snprintf(gemma, sizeof gemma, "%s/gemma-3-12b-q4_0", dir);
    bench_tokenizer_path(tok, sizeof tok);
    snprintf(out, sizeof out, "/tmp/real_size_%d.mp4", (int)getpid());

    ltx_engine_params ep;
    ltx_engine_params_init(&ep);
    ep.device = "cpu";
    ep.precision = prec;
    ep.log = echo;
    ltx_engine *e = NULL;
    if (ltx_engine_open(&ep, &e) != LTX_OK) {
        fprintf(stderr, "engine: %s\n", ltx_last_error_global());
        return 1;
    }
    ltx_generate_params g;
    ltx_generate_params_init(&g);
    g.prompt = "A red fox trots through fresh snow at dawn, breath steaming in the cold air";
    g.gemma_root = gemma;
    g.tokenizer = tok;
    g.output_path = out;
    g.height = H;
    g.width = W;
    g.num_frames = F;
    g.streaming_prefetch_count = stream;
    ltx_distilled_params dp;
    ltx_distilled_params_init(&dp);
    dp.distilled_checkpoint_path = ckpt;
    dp.spatial_upsampler_path =
        LTX_TEST_DATA "/golden/tiny_ckpt/tiny-ltx-2.3-spatial-upscaler-x2.safetensors";
    long long rb0, rc0, rb1, rc1;
    proc_io(&rb0, &rc0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ltx_status s = ltx_generate_distilled(e, &g, &dp);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    proc_io(&rb1, &rc1);
    if (s != LTX_OK) fprintf(stderr, "distilled: %s\n", ltx_engine_last_error(e));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("real_size %s %dx%d %d frames (streaming %d, precision %s): %s, total %.1f s, peak RSS "
           "%.2f GB, read from disk %.2f GB (rchar %.2f GB)\n",
           kind, H, W, F, stream, prec, s == LTX_OK ? "ok" : "FAILED",
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec),
           (double)ru.ru_maxrss / (1024.0 * 1024.0), (double)(rb1 - rb0) / 1e9,
           (double)(rc1 - rc0) / 1e9);
    remove(out);
    ltx_engine_close(e);
    return s == LTX_OK ? 0 : 1;
}
