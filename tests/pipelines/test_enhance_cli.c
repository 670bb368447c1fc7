/*
 * test_enhance_cli.c — prompt enhancement from the command line on the bundled tiny models:
 * `ltx2c enhance` (tiny Gemma 3 VLM, real tokenizer from .cache/) gives the same text twice for
 * a fixed seed, text and image; the bad inputs of issue 14 are refused with the flag, value or
 * folder named and before any weight loads; `--enhance-prompt` in `distilled` logs the enhanced
 * prompt and writes an mp4 that ffprobe accepts.
 */
#include "harness.h"
#include "pipelines/cli_util.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define D    LTX_TEST_DATA "/golden"
#define VLM  D "/tiny_gemma_vlm"
#define IMG  D "/media/enhance_i2v.png"
#define CKPT D "/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors"
#define UPS  D "/tiny_ckpt/tiny-ltx-2.3-spatial-upscaler-x2.safetensors"

static char g_tok[4096], g_dir[256];

static void setup(void)
{
    if (g_dir[0]) return;
    tu_tokenizer_path(g_tok, sizeof g_tok);
    snprintf(g_dir, sizeof g_dir, "/tmp/ltx_test_enhance_%d", (int)getpid());
    mkdir(g_dir, 0755);
}

/* Runs `ltx2c enhance <args>`; stdout into out, stderr into err. Returns the exit status. */
static int enhance(const char *args, char *out, size_t ocap, char *err, size_t ecap)
{
    setup();
    char cmd[8192], of[512], ef[512];
    snprintf(of, sizeof of, "%s/stdout.txt", g_dir);
    snprintf(ef, sizeof ef, "%s/stderr.txt", g_dir);
    snprintf(cmd, sizeof cmd, "%s enhance --tokenizer %s %s >%s 2>%s", LTX2C_BIN, g_tok, args, of,
             ef);
    int st = system(cmd);
    const char *files[2] = {of, ef};
    char *bufs[2] = {out, err};
    size_t caps[2] = {ocap, ecap};
    for (int i = 0; i < 2; i++) {
        bufs[i][0] = 0;
        FILE *f = fopen(files[i], "rb");
        if (!f) continue;
        size_t k = fread(bufs[i], 1, caps[i] - 1, f);
        bufs[i][k] = 0;
        fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(enhance_same_seed_same_text)
{
    static char a[16384], b[16384], c[16384], err[16384];
    const char *args = "--gemma-root " VLM " --prompt 'A red fox trots through snow' --seed 5 "
                       "--max-new-tokens 24 --device cpu";
    int rc = enhance(args, a, sizeof a, err, sizeof err);
    CHECK_MSG(rc == 0, "enhance exited %d: %s", rc, err);
    CHECK_MSG(strlen(a) > 1, "no text on stdout");
    CHECK_MSG(strstr(err, "tokens/s") != NULL, "no tokens/s progress on stderr: %s", err);
    rc = enhance(args, b, sizeof b, err, sizeof err);
    CHECK(rc == 0);
    CHECK_MSG(!strcmp(a, b), "two runs differ:\n%s\n%s", a, b);
    /* the 2026-04 padding (right, the golden's) is reproducible too */
    rc = enhance("--gemma-root " VLM " --prompt 'A red fox trots through snow' --seed 5 "
                 "--max-new-tokens 24 --device cpu --reference-version 2026-04",
                 b, sizeof b, err, sizeof err);
    CHECK_MSG(rc == 0, "enhance --reference-version 2026-04 exited %d: %s", rc, err);
    rc = enhance("--gemma-root " VLM " --prompt 'A red fox trots through snow' --seed 5 "
                 "--max-new-tokens 24 --device cpu --reference-version 2026-04",
                 c, sizeof c, err, sizeof err);
    CHECK(rc == 0 && !strcmp(b, c));
    /* the seed is used: another one draws another text */
    rc = enhance("--gemma-root " VLM " --prompt 'A red fox trots through snow' --seed 6 "
                 "--max-new-tokens 24 --device cpu",
                 c, sizeof c, err, sizeof err);
    CHECK(rc == 0);
    CHECK_MSG(strcmp(a, c) != 0, "seeds 5 and 6 gave the same text");
    printf("  seed 5: %.80s\n", a);
}

TEST(enhance_image_same_text_on_both_cpu_devices)
{
    static char a[16384], b[16384], err[16384];
    int rc = enhance("--gemma-root " VLM " --image " IMG " --prompt 'the dog runs' --seed 3 "
                     "--max-new-tokens 12 --device cpu",
                     a, sizeof a, err, sizeof err);
    CHECK_MSG(rc == 0, "enhance --image exited %d: %s", rc, err);
    rc = enhance("--gemma-root " VLM " --image " IMG " --prompt 'the dog runs' --seed 3 "
                 "--max-new-tokens 12 --device cpu-restricted",
                 b, sizeof b, err, sizeof err);
    CHECK_MSG(rc == 0, "enhance --image on cpu-restricted exited %d: %s", rc, err);
    CHECK_MSG(!strcmp(a, b), "cpu and cpu-restricted differ:\n%s\n%s", a, b);
}

TEST(enhance_bad_inputs)
{
    static char out[4096], err[16384];
    /* an image that cannot be decoded */
    int rc = enhance("--gemma-root " VLM " --prompt x --image " D "/tiny_gemma/config.json", out,
                     sizeof out, err, sizeof err);
    CHECK(rc != 0);
    CHECK_MSG(strstr(err, "--image") && strstr(err, "config.json"), "message: %s", err);
    /* a Gemma folder without a vision tower, with --image: refused naming the folder */
    rc = enhance("--gemma-root " D "/tiny_gemma --prompt x --image " IMG, out, sizeof out, err,
                 sizeof err);
    CHECK(rc != 0);
    CHECK_MSG(strstr(err, "tiny_gemma:") && strstr(err, "vision tower"), "message: %s", err);
    CHECK_MSG(!strstr(err, "prefill"), "refused after loading: %s", err);
    /* --max-new-tokens 0 */
    rc = enhance("--gemma-root " VLM " --prompt x --max-new-tokens 0", out, sizeof out, err,
                 sizeof err);
    CHECK(rc == 2);
    CHECK_MSG(strstr(err, "--max-new-tokens 0"), "message: %s", err);
    /* an unknown reference version */
    rc = enhance("--gemma-root " VLM " --prompt x --reference-version 9", out, sizeof out, err,
                 sizeof err);
    CHECK(rc == 2);
    CHECK_MSG(strstr(err, "--reference-version '9'"), "message: %s", err);
    /* a folder with no weights */
    rc = enhance("--gemma-root " D "/media --prompt x", out, sizeof out, err, sizeof err);
    CHECK(rc != 0);
    CHECK_MSG(strstr(err, "--gemma-root"), "message: %s", err);
}

TEST(distilled_enhance_prompt_writes_mp4)
{
    setup();
    char out[300], args[8192];
    static char err[1 << 16];
    snprintf(out, sizeof out, "%s/distilled_enhanced.mp4", g_dir);
    snprintf(args, sizeof args,
             "distilled --distilled-checkpoint-path %s --spatial-upsampler-path %s --gemma-root "
             "%s --tokenizer %s --prompt 'A red fox' --output-path %s --height 128 --width 128 "
             "--num-frames 9 --seed 7 --enhance-prompt --device cpu",
             CKPT, UPS, D "/tiny_gemma", g_tok, out);
    int rc = cli_run_ltx2c(g_dir, args, err, sizeof err);
    CHECK_MSG(rc == 0, "distilled --enhance-prompt exited %d: %s", rc, err);
    const char *log = strstr(err, "enhanced prompt: ");
    CHECK_MSG(log && log[17] != '\n', "enhanced prompt not logged: %.2000s", err);
    CHECK_MSG(strstr(err, "prompt enhancement:") < log, "enhancement did not run first");
    cli_probe p;
    CHECK_MSG(cli_ffprobe(out, &p), "ffprobe failed on %s", out);
    CHECK(!strcmp(p.vcodec, "h264") && p.frames == 9 && p.w == 128 && p.h == 128);
    CHECK(!strcmp(p.acodec, "aac"));
    remove(out);
    /* with an image, the tiny text-only Gemma is refused before anything loads */
    snprintf(args, sizeof args,
             "distilled --distilled-checkpoint-path %s --spatial-upsampler-path %s --gemma-root "
             "%s --tokenizer %s --prompt 'A red fox' --output-path %s --height 128 --width 128 "
             "--num-frames 9 --enhance-prompt --image %s 0 1.0",
             CKPT, UPS, D "/tiny_gemma", g_tok, out, IMG);
    rc = cli_run_ltx2c(g_dir, args, err, sizeof err);
    CHECK(rc != 0);
    CHECK_MSG(strstr(err, "vision tower") && !strstr(err, "prefill"), "message: %s", err);
    struct stat st;
    CHECK_MSG(stat(out, &st) != 0, "output created by a refused run");
}

TEST_MAIN()
