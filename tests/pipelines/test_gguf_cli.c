/*
 * test_gguf_cli.c — low-bit files end to end through the CLI: `ltx2c quantize` writes a Q4_K
 * GGUF of the tiny checkpoint and a Q4_0 GGUF folder of the tiny Gemma, `ltx2c inspect` reports
 * them, and `ltx2c distilled` runs on both and writes an mp4 that ffprobe reports as H.264 at
 * the requested size and frame count with an AAC 48 kHz stereo track. Also: `--quantization
 * fp8-cast` on the safetensors checkpoint, and `--strict --quantization fp8-scaled-mm` refused
 * on the CPU without an output file; quantize refuses to write over its input.
 */
#include "harness.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "pipelines/cli_util.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define D    LTX_TEST_DATA "/golden"
#define CKPT D "/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors"
#define UPS  D "/tiny_ckpt/tiny-ltx-2.3-spatial-upscaler-x2.safetensors"

static char g_tok[4096], g_dir[256];
static char g_err[16384];

static void setup(void)
{
    if (g_dir[0]) return;
    tu_tokenizer_path(g_tok, sizeof g_tok);
    snprintf(g_dir, sizeof g_dir, "/tmp/ltx_test_gguf_cli_%d", (int)getpid());
    mkdir(g_dir, 0755);
}

static int run(const char *fmt, const char *a, const char *b)
{
    char args[8192];
    snprintf(args, sizeof args, fmt, a, b);
    return cli_run_ltx2c(g_dir, args, g_err, sizeof g_err);
}

/* distilled with the given checkpoint / gemma / extra flags; checks the mp4 with ffprobe. */
static void distilled(const char *ckpt, const char *gemma, const char *extra, const char *tag)
{
    char out[400], args[16384];
    snprintf(out, sizeof out, "%s/%s.mp4", g_dir, tag);
    snprintf(args, sizeof args,
             "distilled %s --distilled-checkpoint-path %s --spatial-upsampler-path %s "
             "--gemma-root %s --tokenizer %s --prompt 'A red fox trots through snow' "
             "--output-path %s --height 128 --width 192 --num-frames 17 --seed 7",
             extra, ckpt, UPS, gemma, g_tok, out);
    int rc = cli_run_ltx2c(g_dir, args, g_err, sizeof g_err);
    CHECK_MSG(rc == 0, "%s exited %d: %s", tag, rc, g_err);
    cli_probe p;
    CHECK_MSG(cli_ffprobe(out, &p), "%s: ffprobe failed", tag);
    CHECK(!strcmp(p.vcodec, "h264") && p.w == 192 && p.h == 128 && p.frames == 17);
    CHECK(!strcmp(p.acodec, "aac") && p.sample_rate == 48000 && p.channels == 2);
    printf("  %s: %dx%d %d frames, %s + %s\n", tag, p.w, p.h, p.frames, p.vcodec, p.acodec);
    remove(out);
}

TEST(quantized_files_run_distilled)
{
    setup();
    char ck[400], gm[400];
    snprintf(ck, sizeof ck, "%s/tiny-q4_k.gguf", g_dir);
    snprintf(gm, sizeof gm, "%s/gemma-q4_0", g_dir);
    CHECK_MSG(run("quantize %s %s --type q4_k", CKPT, ck) == 0, "%s", g_err);
    CHECK_MSG(run("quantize %s %s --type q4_0", D "/tiny_gemma", gm) == 0, "%s", g_err);
    char gg[500];
    snprintf(gg, sizeof gg, "%s/model-q4_0.gguf", gm);
    CHECK(tu_exists(gg));
    snprintf(gg, sizeof gg, "%s/config.json", gm);
    CHECK(tu_exists(gg));
    /* inspect reports the GGUF's components, types and config */
    char args[1200], out[65536];
    snprintf(args, sizeof args, "%s inspect %s > %s/inspect.txt 2>&1", LTX2C_BIN, ck, g_dir);
    CHECK(system(args) == 0);
    snprintf(args, sizeof args, "%s/inspect.txt", g_dir);
    FILE *f = fopen(args, "rb");
    size_t k = f ? fread(out, 1, sizeof out - 1, f) : 0;
    out[k] = 0;
    if (f) fclose(f);
    CHECK(strstr(out, "GGUF") && strstr(out, "Q4_K") && strstr(out, "transformer") &&
          strstr(out, "video VAE") && strstr(out, "config.transformer"));
    distilled(ck, gm, "", "gguf_q4k_gemma_q4_0");
    /* never over the input */
    CHECK(run("quantize %s %s --type q8_0", ck, ck) != 0);
    CHECK(strstr(g_err, "is the input") != NULL);
    remove(ck);
}

/* A ComfyUI-GGUF style transformer-only file: the transformer tensors of a quantized GGUF
 * without the "model.diffusion_model." prefix, no config; used through --transformer-path. */
static void write_comfy(const char *from, const char *to)
{
    ltx_st_file *f = NULL;
    CHECK(ltx_st_open(from, &f) == LTX_OK);
    if (!f) return;
    ltx_gguf_writer *w = ltx_gguf_writer_new();
    const char *pre = "model.diffusion_model.";
    size_t pl = strlen(pre);
    int n = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) CHECK(ltx_gguf_writer_open(w, to) == LTX_OK);
        for (int i = 0; i < ltx_st_count(f); i++) {
            const ltx_st_entry *e = ltx_st_at(f, i);
            if (strncmp(e->name, pre, pl) || strstr(e->name, "embeddings_connector")) continue;
            if (pass == 0) {
                CHECK(ltx_gguf_writer_tensor(w, e->name + pl, e->dtype, e->ndim ? e->ndim : 1,
                                             e->ndim ? e->shape : (const int64_t[]){1}) == LTX_OK);
                n++;
            } else {
                CHECK(ltx_gguf_writer_data(w, e->data, e->nbytes) == LTX_OK);
            }
        }
    }
    CHECK(ltx_gguf_writer_close(w) == LTX_OK);
    ltx_gguf_writer_free(w);
    ltx_st_close(f);
    CHECK(n > 100);
}

TEST(comfy_transformer_gguf_next_to_checkpoint)
{
    setup();
    char q8[400], comfy[400];
    snprintf(q8, sizeof q8, "%s/tiny-q8_0.gguf", g_dir);
    snprintf(comfy, sizeof comfy, "%s/comfy-transformer-q8_0.gguf", g_dir);
    CHECK_MSG(run("quantize %s %s --type q8_0", CKPT, q8) == 0, "%s", g_err);
    write_comfy(q8, comfy);
    ltx_st_file *f = NULL;
    CHECK(ltx_st_open(comfy, &f) == LTX_OK); /* prefix restored by the reader */
    CHECK(f && ltx_st_find(f, "model.diffusion_model.transformer_blocks.0.attn1.to_q.weight"));
    CHECK(f && !ltx_st_metadata(f, "config"));
    ltx_st_close(f);
    char extra[600];
    snprintf(extra, sizeof extra, "--transformer-path %s", comfy);
    distilled(CKPT, D "/tiny_gemma", extra, "comfy_transformer");
    remove(q8);
    remove(comfy);
}

TEST(quantization_flag_runs_and_strict_refuses)
{
    setup();
    distilled(CKPT, D "/tiny_gemma", "--quantization fp8-cast", "fp8_cast");
    char out[400];
    snprintf(out, sizeof out, "%s/strict.mp4", g_dir);
    CHECK(run("distilled --strict --quantization fp8-scaled-mm --distilled-checkpoint-path %s "
              "--spatial-upsampler-path " UPS " --gemma-root " D "/tiny_gemma --tokenizer "
              "%s --prompt p --height 128 --width 192 --num-frames 9 "
              "--output-path /tmp/ltx_test_gguf_cli_strict.mp4",
              CKPT, g_tok) != 0);
    CHECK(strstr(g_err, "fp8_scaled_mm") != NULL);
    CHECK(!tu_exists("/tmp/ltx_test_gguf_cli_strict.mp4"));
    (void)out;
}

TEST(cleanup)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    CHECK(g_dir[0] && system(cmd) == 0);
}

TEST_MAIN()
