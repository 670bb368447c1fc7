/*
 * test_cli_pipelines.c — the generation subcommands end to end on the bundled tiny checkpoint
 * and tiny Gemma (real tokenizer from .cache/tokenizer-gemma3): each writes an mp4 that
 * ffprobe reports as H.264 with the requested frame count, size and rate plus an AAC 48 kHz
 * stereo track whose duration matches the video's (within one audio latent frame, 40 ms);
 * and every validation error is refused before any weight loads, with a message naming the
 * flag and value, and without creating the output file.
 */
#include "harness.h"
#include "pipelines/cli_util.h"
#include "test_util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define D     LTX_TEST_DATA "/golden"
#define CKPT  D "/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors"
#define UPS   D "/tiny_ckpt/tiny-ltx-2.3-spatial-upscaler-x2.safetensors"
#define UPS15 D "/tiny_ckpt/tiny-ltx-2.3-spatial-upscaler-x1.5.safetensors"
#define DLORA D "/tiny_ckpt/tiny-distilled-lora-r8.safetensors"
#define ULORA D "/tiny_ckpt/tiny-lora-r4.safetensors"
#define IMG   D "/media/i2v_image.png"

static char g_tok[4096], g_dir[256];

static void setup(void)
{
    if (g_dir[0]) return;
    tu_tokenizer_path(g_tok, sizeof g_tok);
    snprintf(g_dir, sizeof g_dir, "/tmp/ltx_test_pipes_%d", (int)getpid());
    mkdir(g_dir, 0755);
}

/* One generation + the ffprobe checks. */
static void generate(const char *cmd, const char *extra, int h, int w, int frames, const char *rate,
                     int rn, int rd)
{
    setup();
    char out[300], args[16384], err[8192];
    snprintf(out, sizeof out, "%s/%s.mp4", g_dir, cmd);
    snprintf(args, sizeof args,
             "%s %s --gemma-root %s --tokenizer %s --prompt 'A red fox trots through snow' "
             "--output-path %s --height %d --width %d --num-frames %d --frame-rate %s --seed 7",
             cmd, extra, D "/tiny_gemma", g_tok, out, h, w, frames, rate);
    int rc = cli_run_ltx2c(g_dir, args, err, sizeof err);
    CHECK_MSG(rc == 0, "%s exited %d: %s", cmd, rc, err);
    CHECK_MSG(strstr(err, "peak RSS") != NULL, "%s: no summary on stderr", cmd);
    CHECK_MSG(strstr(err, "s/step") != NULL, "%s: no progress on stderr", cmd);
    cli_probe p;
    CHECK_MSG(cli_ffprobe(out, &p), "%s: ffprobe failed on %s", cmd, out);
    CHECK(!strcmp(p.vcodec, "h264"));
    CHECK_MSG(p.w == w && p.h == h, "%s: %dx%d", cmd, p.w, p.h);
    CHECK_MSG(p.frames == frames, "%s: %d frames", cmd, p.frames);
    CHECK_MSG(p.rate_num == rn && p.rate_den == rd, "%s: rate %d/%d", cmd, p.rate_num, p.rate_den);
    CHECK(!strcmp(p.acodec, "aac"));
    CHECK(p.sample_rate == 48000 && p.channels == 2);
    /* The audio covers what the reference's audio decoder makes for the clip: T_a =
     * round(frames / fps * 25) latent frames -> 4 T_a - 3 mel frames of 10 ms, i.e. the video
     * duration up to the latent rounding (+-20 ms) and the causal 30 ms. */
    double vdur = (double)frames * rd / rn;
    double ta = nearbyint((double)frames * rd / rn * 25.0), want = (4 * ta - 3) * 0.01;
    CHECK_MSG(fabs(p.adur - want) <= 0.001, "%s: audio %.4f s, want %.4f s", cmd, p.adur, want);
    CHECK_MSG(fabs(p.adur - vdur) <= 0.05 + 1e-9, "%s: audio %.4f s vs video %.4f s", cmd, p.adur,
              vdur);
    printf("  %s: %dx%d %d frames %d/%d fps, audio %.3f s (video %.3f s)\n", cmd, p.w, p.h,
           p.frames, p.rate_num, p.rate_den, p.adur, vdur);
    remove(out);
}

TEST(distilled_writes_mp4)
{
    generate("distilled", "--distilled-checkpoint-path " CKPT " --spatial-upsampler-path " UPS, 128,
             192, 17, "23.976", 24000, 1001);
}

TEST(one_stage_writes_mp4)
{
    generate("ti2vid_one_stage",
             "--checkpoint-path " CKPT " --num-inference-steps 2 --video-stg-blocks 1 "
             "--audio-stg-blocks 1 --image " IMG " 0 0.8",
             64, 96, 9, "24", 24, 1);
}

TEST(two_stages_writes_mp4)
{
    generate("ti2vid_two_stages",
             "--checkpoint-path " CKPT " --spatial-upsampler-path " UPS " --distilled-lora " DLORA
             " 0.8 --lora " ULORA " 0.5 --num-inference-steps 2 --video-stg-blocks 1 "
             "--audio-stg-blocks 1",
             128, 192, 9, "25", 25, 1);
}

TEST(two_stages_hq_writes_mp4)
{
    generate("ti2vid_two_stages_hq",
             "--checkpoint-path " CKPT " --spatial-upsampler-path " UPS " --distilled-lora " DLORA
             " --num-inference-steps 2",
             128, 192, 9, "24", 24, 1);
}

TEST(round_frames_on_request)
{
    setup();
    char out[300], args[16384], err[8192];
    snprintf(out, sizeof out, "%s/round.mp4", g_dir);
    snprintf(args, sizeof args,
             "distilled --distilled-checkpoint-path %s --spatial-upsampler-path %s --gemma-root %s "
             "--tokenizer %s --prompt x --output-path %s --height 128 --width 192 "
             "--num-frames 12 --round-frames",
             CKPT, UPS, D "/tiny_gemma", g_tok, out);
    CHECK(cli_run_ltx2c(g_dir, args, err, sizeof err) == 0);
    CHECK_MSG(strstr(err, "--num-frames 12 rounded down to 9") != NULL, "%s", err);
    cli_probe p;
    CHECK(cli_ffprobe(out, &p) && p.frames == 9);
    remove(out);
}

/* ---- validation: message names flag and value; no output file ---- */

static void refused(const char *cmd, const char *bad, const char *want)
{
    setup();
    char out[300], args[16384], err[8192];
    snprintf(out, sizeof out, "%s/refused.mp4", g_dir);
    remove(out);
    bool guided = strcmp(cmd, "distilled") != 0, one = !strcmp(cmd, "ti2vid_one_stage");
    char base[2048];
    if (!guided)
        snprintf(base, sizeof base, "--distilled-checkpoint-path %s --spatial-upsampler-path %s",
                 CKPT, UPS);
    else if (one)
        snprintf(base, sizeof base, "--checkpoint-path %s", CKPT);
    else
        snprintf(base, sizeof base,
                 "--checkpoint-path %s --spatial-upsampler-path %s "
                 "--distilled-lora %s",
                 CKPT, UPS, DLORA);
    /* flags given later override earlier ones (last wins) */
    snprintf(args, sizeof args,
             "%s %s --gemma-root %s --tokenizer %s --prompt x --output-path %s --height 128 "
             "--width 192 --num-frames 9 %s",
             cmd, base, D "/tiny_gemma", g_tok, out, bad);
    int rc = cli_run_ltx2c(g_dir, args, err, sizeof err);
    CHECK_MSG(rc != 0, "%s %s: accepted", cmd, bad);
    CHECK_MSG(strstr(err, want) != NULL, "%s %s: stderr lacks '%s': %s", cmd, bad, want, err);
    CHECK_MSG(!tu_exists(out), "%s %s: output file created", cmd, bad);
    CHECK_MSG(strstr(err, "peak RSS") == NULL && strstr(err, "s/step") == NULL,
              "%s %s: work started before the refusal", cmd, bad);
}

TEST(validation_errors)
{
    setup();
    char dir_as_file[300], junk[300];
    snprintf(dir_as_file, sizeof dir_as_file, "%s", g_dir);
    snprintf(junk, sizeof junk, "%s/junk.safetensors", g_dir);
    FILE *f = fopen(junk, "wb");
    if (f) {
        fputs("this is not a safetensors file", f);
        fclose(f);
    }
    char a[1024];
    /* frames not 8k+1 */
    refused("distilled", "--num-frames 10", "--num-frames 10: must be 8k+1");
    refused("ti2vid_one_stage", "--num-frames 0", "--num-frames 0");
    /* sizes: 64 for two-stage, 32 for one-stage */
    refused("distilled", "--width 160", "--width 160: must be a positive multiple of 64");
    refused("ti2vid_two_stages", "--height 96", "--height 96: must be a positive multiple of 64");
    refused("ti2vid_one_stage", "--height 80", "--height 80: must be a positive multiple of 32");
    /* missing / unreadable files */
    refused("distilled", "--distilled-checkpoint-path /nonexistent/x.safetensors",
            "--distilled-checkpoint-path /nonexistent/x.safetensors: no such file");
    snprintf(a, sizeof a, "--checkpoint-path %s", dir_as_file);
    refused("ti2vid_one_stage", a, "is a directory");
    snprintf(a, sizeof a, "--checkpoint-path %s", junk);
    refused("ti2vid_one_stage", a, "not a readable safetensors or GGUF file");
    refused("distilled", "--gemma-root /nonexistent", "--gemma-root /nonexistent: not a directory");
    snprintf(a, sizeof a, "--gemma-root %s", g_dir);
    refused("distilled", a, "no Gemma weights");
    snprintf(a, sizeof a, "--image %s 0 1.0", junk);
    refused("ti2vid_one_stage", a, "not a readable image");
    refused("distilled", "--lora " CKPT, "--lora " CKPT);
    refused("ti2vid_two_stages", "--distilled-lora " UPS, "--distilled-lora " UPS);
    refused("ti2vid_two_stages", "--distilled-lora /nonexistent.safetensors",
            "--distilled-lora /nonexistent.safetensors: no such file");
    refused("distilled", "--lora /nonexistent.safetensors", "--lora /nonexistent.safetensors");
    refused("distilled", "--image /nonexistent.png 0 1.0",
            "--image /nonexistent.png: no such file");
    /* wrong component for the flag */
    refused("distilled", "--distilled-checkpoint-path " UPS, "this is a latent upsampler");
    refused("ti2vid_two_stages", "--spatial-upsampler-path " CKPT,
            "not a latent upsampler (this is an LTX checkpoint)");
    refused("distilled", "--spatial-upsampler-path " UPS15, "x1.5 upsampler");
    refused("ti2vid_one_stage", "--checkpoint-path " ULORA, "this looks like a LoRA");
    /* image index outside the video, strengths outside [0, 1] */
    refused("distilled", "--image " IMG " 9 1.0", "frame index 9 is outside the video (0..8)");
    refused("distilled", "--image " IMG " -1 1.0", "frame index -1 is outside the video");
    refused("ti2vid_one_stage", "--image " IMG " 0 1.5", "strength 1.5 is outside [0, 1]");
    refused("ti2vid_two_stages", "--image " IMG " 0 -0.25", "strength -0.25 is outside [0, 1]");
    /* parse errors name the flag and value */
    refused("distilled", "--num-frames ten", "--num-frames ten: not an integer");
    refused("ti2vid_one_stage", "--image " IMG " 0", "--image");
    refused("distilled", "--bogus 1", "--bogus");
    refused("ti2vid_one_stage", "--num-inference-steps 0", "--num-inference-steps 0");
    refused("distilled", "--frame-rate 0", "--frame-rate 0");
    /* never overwrite an input */
    char out_is_input[600];
    snprintf(out_is_input, sizeof out_is_input, "--output-path %s/in.mp4 --image %s/in.mp4 0 1",
             g_dir, g_dir);
    char inpath[300];
    snprintf(inpath, sizeof inpath, "%s/in.mp4", g_dir);
    f = fopen(inpath, "wb");
    if (f) {
        fputs("x", f);
        fclose(f);
    }
    char err[8192];
    char args[16384];
    snprintf(args, sizeof args,
             "distilled --distilled-checkpoint-path %s --spatial-upsampler-path %s --gemma-root %s "
             "--tokenizer %s --prompt x --height 128 --width 192 --num-frames 9 %s",
             CKPT, UPS, D "/tiny_gemma", g_tok, out_is_input);
    CHECK(cli_run_ltx2c(g_dir, args, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "in.mp4") != NULL, "%s", err);
    struct stat st;
    CHECK(stat(inpath, &st) == 0 && st.st_size == 1); /* untouched */
    remove(inpath);
    remove(junk);
}

TEST(help_lists_flags)
{
    setup();
    char cmd[1024], path[300], buf[16384];
    snprintf(path, sizeof path, "%s/help.txt", g_dir);
    snprintf(cmd, sizeof cmd, "%s distilled --help > %s", LTX2C_BIN, path);
    CHECK(system(cmd) == 0);
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
    CHECK(strstr(buf, "--frame-rate") && strstr(buf, "kept exact"));
    CHECK(strstr(buf, "--distilled-checkpoint-path") && strstr(buf, "(required)"));
    remove(path);
    rmdir(g_dir);
}

TEST_MAIN()
