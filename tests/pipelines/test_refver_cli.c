/*
 * test_refver_cli.c — --reference-version and --offload on the CLI, end to end on the tiny
 * checkpoint: the default follows reference 1.2 (log line, and its output is bit for bit the
 * output of an explicit --reference-version 1.2), --reference-version 2026-04 gives another
 * output (ti2vid_two_stages: the stage-2 audio instead of the stage-1 audio, A/V
 * cross-attention timesteps, LoRA rounding) that is reproducible run to run; unknown versions
 * and contradictory offload flags are refused before any weight loads, naming flag and value;
 * --offload disk/none give the same output as no offload; `verify` replays each golden under
 * its reference_commit's version unless --reference-version overrides it.
 *
 * Outputs are compared on their decoded frames (rgb24) and samples (f32le) via ffmpeg.
 */
#include "harness.h"
#include "pipelines/cli_util.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define D     LTX_TEST_DATA "/golden"
#define CKPT  D "/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors"
#define UPS   D "/tiny_ckpt/tiny-ltx-2.3-spatial-upscaler-x2.safetensors"
#define DLORA D "/tiny_ckpt/tiny-distilled-lora-r8.safetensors"
#define ULORA D "/tiny_ckpt/tiny-lora-r4.safetensors"

static char g_tok[4096], g_dir[256];

static void setup(void)
{
    if (g_dir[0]) return;
    tu_tokenizer_path(g_tok, sizeof g_tok);
    snprintf(g_dir, sizeof g_dir, "/tmp/ltx_test_refver_%d", (int)getpid());
    mkdir(g_dir, 0755);
}

/* Runs ti2vid_two_stages (user + distilled LoRA, 2 steps) into <dir>/<tag>.mp4 with `extra`
 * flags; returns the exit code, stderr in err. */
static int two_stages(const char *tag, const char *extra, char *err, size_t cap)
{
    setup();
    char args[16384];
    snprintf(args, sizeof args,
             "ti2vid_two_stages --checkpoint-path %s --spatial-upsampler-path %s "
             "--distilled-lora %s 0.8 --lora %s 0.5 --num-inference-steps 2 --video-stg-blocks 1 "
             "--audio-stg-blocks 1 --gemma-root %s --tokenizer %s --prompt 'A red fox' "
             "--output-path %s/%s.mp4 --height 128 --width 192 --num-frames 9 --seed 7 %s",
             CKPT, UPS, DLORA, ULORA, D "/tiny_gemma", g_tok, g_dir, tag, extra);
    return cli_run_ltx2c(g_dir, args, err, cap);
}

/* Decoded stream `what` ("v" rgb24 frames or "a" f32le samples) of <dir>/<tag>.mp4 into a
 * malloc'd buffer (*n bytes); NULL when ffmpeg failed. */
static unsigned char *decoded(const char *tag, const char *what, size_t *n)
{
    char cmd[2048], raw[512];
    snprintf(raw, sizeof raw, "%s/%s.%s.raw", g_dir, tag, what);
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -y -i %s/%s.mp4 -map 0:%s %s %s", g_dir, tag, what,
             what[0] == 'v' ? "-f rawvideo -pix_fmt rgb24" : "-f f32le", raw);
    if (system(cmd) != 0) return NULL;
    FILE *f = fopen(raw, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(len > 0 ? (size_t)len : 1);
    *n = b ? fread(b, 1, (size_t)len, f) : 0;
    fclose(f);
    remove(raw);
    return b;
}

/* 1 when both outputs decode to identical frames and samples, 0 when either differs, -1 when
 * a decode failed. `what` names the stream that differs first in *which. */
static int same_output(const char *t1, const char *t2, const char **which)
{
    static const char *streams[2] = {"v", "a"};
    for (int i = 0; i < 2; i++) {
        size_t n1 = 0, n2 = 0;
        unsigned char *a = decoded(t1, streams[i], &n1), *b = decoded(t2, streams[i], &n2);
        int r = !a || !b ? -1 : n1 == n2 && n1 > 0 && !memcmp(a, b, n1) ? 1 : 0;
        free(a);
        free(b);
        *which = streams[i];
        if (r != 1) return r;
    }
    return 1;
}

TEST(default_is_1_2_and_2026_04_is_selectable)
{
    char err[16384];
    const char *which = "";
    CHECK_MSG(two_stages("default", "", err, sizeof err) == 0, "default run: %s", err);
    CHECK_MSG(strstr(err, "reference numerics 1.2 (v1.2.0, 400fd31)") != NULL,
              "default run does not log reference 1.2: %s", err);
    CHECK_MSG(two_stages("v12", "--reference-version 1.2", err, sizeof err) == 0, "1.2: %s", err);
    CHECK_MSG(same_output("default", "v12", &which) == 1,
              "default output differs from --reference-version 1.2 (%s)", which);
    CHECK_MSG(two_stages("old", "--reference-version 2026-04", err, sizeof err) == 0, "%s", err);
    CHECK_MSG(strstr(err, "reference numerics 2026-04 (a2c3f24)") != NULL, "%s", err);
    CHECK_MSG(two_stages("old2", "--reference-version a2c3f24", err, sizeof err) == 0, "%s", err);
    CHECK_MSG(same_output("old", "old2", &which) == 1, "2026-04 not reproducible (%s)", which);
    /* the versions differ, in the decoded audio at least (stage 1 vs stage 2) */
    int r = same_output("default", "old", &which);
    CHECK_MSG(r == 0, "1.2 and 2026-04 outputs: same=%d (%s)", r, which);
    size_t n1 = 0, n2 = 0;
    unsigned char *a = decoded("default", "a", &n1), *b = decoded("old", "a", &n2);
    CHECK_MSG(a && b && n1 == n2 && memcmp(a, b, n1) != 0, "audio equal under both versions");
    free(a);
    free(b);
}

TEST(offload_spelling)
{
    char err[16384];
    const char *which = "";
    CHECK_MSG(two_stages("plain", "--reference-version 2026-04", err, sizeof err) == 0, "%s", err);
    CHECK_MSG(two_stages("disk", "--reference-version 2026-04 --offload disk", err, sizeof err) ==
                  0,
              "%s", err);
    CHECK_MSG(strstr(err, "stream") != NULL, "--offload disk did not stream: %s", err);
    CHECK_MSG(same_output("plain", "disk", &which) == 1, "--offload disk changed the output (%s)",
              which);
    CHECK(two_stages("none", "--reference-version 2026-04 --offload none", err, sizeof err) == 0);
    CHECK_MSG(same_output("plain", "none", &which) == 1, "--offload none changed the output");
}

static void refused(const char *extra, const char *want)
{
    char err[16384], out[400];
    snprintf(out, sizeof out, "%s/refused.mp4", g_dir);
    remove(out);
    int rc = two_stages("refused", extra, err, sizeof err);
    CHECK_MSG(rc == 2, "%s: exit %d (want 2)", extra, rc);
    CHECK_MSG(strstr(err, want) != NULL, "%s: message lacks '%s': %s", extra, want, err);
    struct stat st;
    CHECK_MSG(stat(out, &st) != 0, "%s: output written", extra);
}

TEST(bad_values_refused)
{
    setup();
    refused("--reference-version 1.3", "--reference-version '1.3'");
    refused("--offload tape", "--offload 'tape'");
    refused("--offload none --streaming-prefetch-count 2",
            "--offload none contradicts --streaming-prefetch-count 2");
    refused("--offload cpu --streaming-prefetch-count 0", "--offload cpu needs layer streaming");
}

/* verify reads each file's reference_commit; --reference-version overrides it */
TEST(verify_follows_reference_commit)
{
    setup();
    char err[16384];
    const char *v12 = LTX_TEST_DATA "/golden_v12/modules/transformer_forward_masked.safetensors";
    const char *old = D "/modules/transformer_forward_masked.safetensors";
    char args[4096];
    snprintf(args, sizeof args, "verify --quiet --root %s %s %s", D, v12, old);
    CHECK_MSG(cli_run_ltx2c(g_dir, args, err, sizeof err) == 0, "both sets: %s", err);
    snprintf(args, sizeof args, "verify --quiet --root %s --reference-version 2026-04 %s", D, v12);
    CHECK_MSG(cli_run_ltx2c(g_dir, args, err, sizeof err) == 1, "v12 under 2026-04 passed");
    snprintf(args, sizeof args, "verify --quiet --reference-version 1.2 %s", old);
    CHECK_MSG(cli_run_ltx2c(g_dir, args, err, sizeof err) == 1, "a2c3f24 under 1.2 passed");
    snprintf(args, sizeof args, "verify --reference-version 1.1 %s", old);
    CHECK(cli_run_ltx2c(g_dir, args, err, sizeof err) == 2);
    CHECK_MSG(strstr(err, "--reference-version '1.1'") != NULL, "%s", err);
}

TEST(cleanup)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    CHECK(system(cmd) == 0);
}

TEST_MAIN()
