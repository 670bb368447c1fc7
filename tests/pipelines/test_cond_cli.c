/*
 * test_cond_cli.c — the conditioning subcommands (keyframe_interpolation, a2vid_two_stage,
 * retake, ic_lora) end to end on the bundled tiny checkpoint, tiny Gemma (real tokenizer from
 * .cache/tokenizer-gemma3) and the golden media/ inputs: each writes an mp4 that ffprobe reports
 * as H.264 with the expected frames / size / rate plus AAC stereo audio of matching duration
 * (48 kHz; a2vid keeps the input audio's rate). Bad inputs are refused with a message naming
 * the flag and the file, before any weight loads (no "prompt encoding" line on stderr), and
 * without leaving the output file: missing / corrupt media, a retake source of 42 frames or
 * 100x100 pixels (and --fit, which trims / crops them and says so), a window outside the
 * source, keyframe indices outside the video (and -1 = the last frame), an empty audio file,
 * an audio window without samples, audio shorter than the video (and --pad-audio), audio
 * guidance flags in a2vid, a LoRA file that is not a LoRA.
 *
 * Test media (short videos, WAVs, garbage files) are written into a temp folder with the
 * library's own mp4 writer.
 */
#include "harness.h"
#include "pipelines/cli_util.h"
#include "test_util.h"

#include "io/media.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define D      LTX_TEST_DATA "/golden"
#define CKPT   D "/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors"
#define UPS    D "/tiny_ckpt/tiny-ltx-2.3-spatial-upscaler-x2.safetensors"
#define DLORA  D "/tiny_ckpt/tiny-distilled-lora-r8.safetensors"
#define ICLORA D "/tiny_ckpt/tiny-ic-lora-r4.safetensors"
#define KF0    D "/media/keyframe_first.png"
#define KF1    D "/media/keyframe_last.png"
#define WAV    D "/media/a2vid_input.wav"   /* 0.6 s stereo 44.1 kHz */
#define SRC    D "/media/retake_source.mp4" /* 25 frames 96x64 @ 24, AAC stereo 48 kHz */
#define REF    D "/media/ic_reference.mp4"
#define MASK   D "/media/ic_attention_mask.mp4"

static char g_tok[4096], g_dir[256];

static void setup(void)
{
    if (g_dir[0]) return;
    tu_tokenizer_path(g_tok, sizeof g_tok);
    snprintf(g_dir, sizeof g_dir, "/tmp/ltx_test_cond_%d", (int)getpid());
    mkdir(g_dir, 0755);
}

static const char *tmp(const char *name)
{
    static char buf[8][400];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 400, "%s/%s", g_dir, name);
    return b;
}

/* Base arguments of each subcommand (checkpoints, size), before the per-test flags. */
static const char *base_args(const char *cmd)
{
    if (!strcmp(cmd, "keyframe_interpolation"))
        return "--checkpoint-path " CKPT " --spatial-upsampler-path " UPS " --distilled-lora " DLORA
               " --num-inference-steps 2 --video-stg-blocks 1 --audio-stg-blocks 1 "
               "--height 128 --width 192";
    if (!strcmp(cmd, "a2vid_two_stage"))
        return "--checkpoint-path " CKPT " --spatial-upsampler-path " UPS " --distilled-lora " DLORA
               " --num-inference-steps 2 --video-stg-blocks 1 --height 128 --width 192";
    if (!strcmp(cmd, "retake")) return "--distilled-checkpoint-path " CKPT;
    return "--distilled-checkpoint-path " CKPT " --spatial-upsampler-path " UPS
           " --height 128 --width 256";
}

/* One run: returns the exit status; *err gets stderr. */
static int run_cmd(const char *cmd, const char *extra, const char *out, char *err, size_t cap)
{
    setup();
    char args[16384];
    snprintf(args, sizeof args,
             "%s %s %s --gemma-root %s --tokenizer %s --prompt 'A red fox trots through snow' "
             "--output-path %s --seed 7",
             cmd, base_args(cmd), extra, D "/tiny_gemma", g_tok, out);
    return cli_run_ltx2c(g_dir, args, err, cap);
}

/* A successful run + the ffprobe checks: frames, size, rate, AAC stereo at `rate` Hz lasting
 * the video's duration within `adur_tol` seconds. */
static void generate(const char *cmd, const char *extra, int w, int h, int frames, int fps,
                     int rate, double adur_tol, const char *want_log, const char *want_log2)
{
    char err[16384];
    const char *out = tmp("out.mp4");
    remove(out);
    int rc = run_cmd(cmd, extra, out, err, sizeof err);
    CHECK_MSG(rc == 0, "%s %s exited %d: %s", cmd, extra, rc, err);
    CHECK_MSG(strstr(err, "peak RSS") != NULL, "%s: no summary on stderr", cmd);
    if (want_log)
        CHECK_MSG(strstr(err, want_log) != NULL, "%s: no '%s' in: %s", cmd, want_log, err);
    if (want_log2)
        CHECK_MSG(strstr(err, want_log2) != NULL, "%s: no '%s' in: %s", cmd, want_log2, err);
    cli_probe p;
    CHECK_MSG(cli_ffprobe(out, &p), "%s: ffprobe failed on %s", cmd, out);
    CHECK(!strcmp(p.vcodec, "h264"));
    CHECK_MSG(p.w == w && p.h == h, "%s: %dx%d", cmd, p.w, p.h);
    CHECK_MSG(p.frames == frames, "%s: %d frames", cmd, p.frames);
    CHECK_MSG(p.rate_num == fps && p.rate_den == 1, "%s: rate %d/%d", cmd, p.rate_num, p.rate_den);
    CHECK(!strcmp(p.acodec, "aac"));
    CHECK_MSG(p.sample_rate == rate && p.channels == 2, "%s: %d Hz %d ch", cmd, p.sample_rate,
              p.channels);
    double vdur = (double)frames / fps;
    CHECK_MSG(fabs(p.adur - vdur) <= adur_tol, "%s: audio %.4f s vs video %.4f s", cmd, p.adur,
              vdur);
    printf("  %s: %dx%d %d frames %d fps, audio %.3f s @ %d Hz (video %.3f s)\n", cmd, p.w, p.h,
           p.frames, fps, p.adur, p.sample_rate, vdur);
    remove(out);
}

/* A refused run: non-zero exit, `want` in the message, nothing loaded, no output left. */
static void refused(const char *cmd, const char *extra, const char *want)
{
    char err[16384];
    const char *out = tmp("refused.mp4");
    remove(out);
    int rc = run_cmd(cmd, extra, out, err, sizeof err);
    CHECK_MSG(rc != 0, "%s %s: accepted", cmd, extra);
    CHECK_MSG(strstr(err, want) != NULL, "%s %s: want '%s' in: %s", cmd, extra, want, err);
    CHECK_MSG(strstr(err, "prompt encoding") == NULL, "%s %s: refused only after loading: %s", cmd,
              extra, err);
    CHECK_MSG(!tu_exists(out), "%s %s: left %s behind", cmd, extra, out);
    char tmpf[512];
    snprintf(tmpf, sizeof tmpf, "%s.tmp.mp4", out);
    CHECK_MSG(!tu_exists(tmpf), "%s: left a temporary file", cmd);
}

/* ---- test media ---- */

static void write_wav(const char *path, int rate, int ch, int n)
{
    FILE *f = fopen(path, "wb");
    uint32_t data = (uint32_t)(n * ch * 2), riff = 36 + data, fmt = 16, br = rate * ch * 2;
    uint16_t pcm = 1, c = (uint16_t)ch, ba = (uint16_t)(ch * 2), bits = 16;
    fwrite("RIFF", 1, 4, f);
    fwrite(&riff, 4, 1, f);
    fwrite("WAVEfmt ", 1, 8, f);
    fwrite(&fmt, 4, 1, f);
    fwrite(&pcm, 2, 1, f);
    fwrite(&c, 2, 1, f);
    fwrite(&rate, 4, 1, f);
    fwrite(&br, 4, 1, f);
    fwrite(&ba, 2, 1, f);
    fwrite(&bits, 2, 1, f);
    fwrite("data", 1, 4, f);
    fwrite(&data, 4, 1, f);
    for (int i = 0; i < n * ch; i++) {
        int16_t v = (int16_t)(8000 * sin(0.05 * i));
        fwrite(&v, 2, 1, f);
    }
    fclose(f);
}

static void write_garbage(const char *path)
{
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 4096; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
}

/* A test video with audio (or without): n frames of w x h at 24 fps. */
static bool write_video_a(const char *path, int n, int w, int h, bool audio)
{
    uint8_t *rgb = malloc((size_t)n * w * h * 3);
    int64_t ns = (int64_t)n * 48000 / 24;
    float *a = malloc(sizeof(float) * 2 * (size_t)ns);
    for (size_t i = 0; i < (size_t)n * w * h * 3; i++)
        rgb[i] = (uint8_t)((i * 31) >> 4);
    for (int64_t i = 0; i < 2 * ns; i++)
        a[i] = 0.2f * (float)sin(0.01 * (double)i);
    ltx_mp4_params mp;
    ltx_mp4_params_init(&mp);
    bool ok =
        ltx_mp4_write(path, rgb, n, h, w, audio ? a : NULL, audio ? ns : 0, 48000, &mp) == LTX_OK;
    free(rgb);
    free(a);
    return ok;
}

static bool write_video(const char *path, int n, int w, int h)
{
    return write_video_a(path, n, w, h, true);
}

/* ---- successful runs ---- */

TEST(keyframe_interpolation_writes_mp4)
{
    /* -1 = the last frame */
    generate("keyframe_interpolation",
             "--num-frames 17 --image " KF0 " 0 1.0 --image " KF1 " -1 0.8", 192, 128, 17, 24,
             48000, 0.05, "frame index -1 is frame 16", NULL);
}

TEST(a2vid_writes_mp4_with_the_input_audio)
{
    /* 9 frames = 0.375 s of the 0.6 s file; the output audio is the input at 44.1 kHz */
    generate("a2vid_two_stage", "--num-frames 9 --audio-path " WAV, 192, 128, 9, 24, 44100, 0.002,
             NULL, NULL);
}

TEST(a2vid_mono_is_upmixed_and_short_audio_padded_on_request)
{
    setup();
    write_wav(tmp("mono.wav"), 22050, 1, 22050 / 2); /* 0.5 s mono */
    char extra[1024];
    snprintf(extra, sizeof extra, "--num-frames 17 --audio-path %s --pad-audio", tmp("mono.wav"));
    generate("a2vid_two_stage", extra, 192, 128, 17, 24, 22050, 0.002, "padded with",
             "mono->stereo");
}

TEST(retake_writes_mp4)
{
    generate("retake", "--video-path " SRC " --start-time 0.4 --end-time 0.75", 96, 64, 25, 24,
             48000, 0.05, NULL, NULL);
}

TEST(retake_fit_trims_and_crops)
{
    setup();
    CHECK(write_video(tmp("f42.mp4"), 42, 100, 100));
    char extra[1024];
    snprintf(extra, sizeof extra, "--video-path %s --start-time 0.5 --end-time 1.0 --fit",
             tmp("f42.mp4"));
    generate("retake", extra, 96, 96, 41, 24, 48000, 0.05, "--fit: using the first 41 of 42",
             "center-cropped from 100x100 to 96x96");
}

TEST(retake_source_without_audio_gets_a_new_track)
{
    setup();
    CHECK(write_video_a(tmp("silent.mp4"), 17, 64, 64, false));
    char extra[1024];
    snprintf(extra, sizeof extra, "--video-path %s --start-time 0.2 --end-time 0.5",
             tmp("silent.mp4"));
    generate("retake", extra, 64, 64, 17, 24, 48000, 0.05, "has no audio: a new audio track", NULL);
}

TEST(ic_lora_writes_mp4)
{
    generate("ic_lora",
             "--num-frames 9 --lora " ICLORA " --video-conditioning " REF " 1.0 "
             "--conditioning-attention-mask " MASK " 0.8",
             256, 128, 9, 24, 48000, 0.05, NULL, NULL);
}

TEST(ic_lora_skip_stage_2_writes_half_size)
{
    generate("ic_lora",
             "--num-frames 9 --lora " ICLORA " --video-conditioning " REF " 0.9 --skip-stage-2",
             128, 64, 9, 24, 48000, 0.05, NULL, NULL);
}

/* ---- refusals ---- */

TEST(missing_and_corrupt_media_refused)
{
    setup();
    write_garbage(tmp("bad.png"));
    write_garbage(tmp("bad.wav"));
    write_garbage(tmp("bad.mp4"));
    char extra[1024];
    refused("keyframe_interpolation", "--num-frames 9 --image /nonexistent.png 0 1",
            "/nonexistent.png");
    snprintf(extra, sizeof extra, "--num-frames 9 --image %s 0 1", tmp("bad.png"));
    refused("keyframe_interpolation", extra, "bad.png");
    refused("a2vid_two_stage", "--num-frames 9 --audio-path /nonexistent.wav", "/nonexistent.wav");
    snprintf(extra, sizeof extra, "--num-frames 9 --audio-path %s", tmp("bad.wav"));
    refused("a2vid_two_stage", extra, "bad.wav");
    refused("retake", "--video-path /nonexistent.mp4 --start-time 0 --end-time 0.5",
            "/nonexistent.mp4");
    snprintf(extra, sizeof extra, "--video-path %s --start-time 0 --end-time 0.5", tmp("bad.mp4"));
    refused("retake", extra, "not a readable video");
    refused("ic_lora", "--num-frames 9 --video-conditioning /nonexistent.mp4 1.0",
            "/nonexistent.mp4");
    snprintf(extra, sizeof extra, "--num-frames 9 --video-conditioning %s 1.0", tmp("bad.mp4"));
    refused("ic_lora", extra, "not a readable video");
    snprintf(extra, sizeof extra,
             "--num-frames 9 --video-conditioning " REF " 1.0 --conditioning-attention-mask %s 0.5",
             tmp("bad.mp4"));
    refused("ic_lora", extra, "--conditioning-attention-mask");
}

TEST(retake_shape_and_window_refused)
{
    setup();
    CHECK(write_video(tmp("f42.mp4"), 42, 96, 64));
    CHECK(write_video(tmp("s100.mp4"), 25, 100, 100));
    char extra[1024];
    snprintf(extra, sizeof extra, "--video-path %s --start-time 0 --end-time 0.5", tmp("f42.mp4"));
    refused("retake", extra, "42 frames; retake needs 8k+1 frames (e.g. 41 or 49)");
    snprintf(extra, sizeof extra, "--video-path %s --start-time 0 --end-time 0.5", tmp("s100.mp4"));
    refused("retake", extra, "100x100; retake needs a width and height that are multiples of 32");
    refused("retake", "--video-path " SRC " --start-time 0.9 --end-time 2.0",
            "the window must lie inside the source video (0 .. 1.042 s");
    refused("retake", "--video-path " SRC " --start-time 0.6 --end-time 0.5",
            "--start-time 0.6 must be less than --end-time 0.5");
}

TEST(keyframe_index_outside_refused)
{
    refused("keyframe_interpolation", "--num-frames 9 --image " KF0 " 9 1.0",
            "frame index 9 is outside the video (9 frames: 0..8, or -1..-9");
    refused("keyframe_interpolation", "--num-frames 9 --image " KF0 " -10 1.0",
            "frame index -10 is outside the video");
}

TEST(a2vid_audio_refusals)
{
    setup();
    write_wav(tmp("empty.wav"), 44100, 2, 0);
    char extra[1024];
    snprintf(extra, sizeof extra, "--num-frames 9 --audio-path %s", tmp("empty.wav"));
    refused("a2vid_two_stage", extra, "empty.wav");
    refused("a2vid_two_stage", "--num-frames 9 --audio-path " WAV " --audio-start-time 5",
            "no audio could be decoded from 5.000 s");
    /* 17 frames = 0.708 s > the 0.6 s file */
    refused("a2vid_two_stage", "--num-frames 17 --audio-path " WAV,
            "is shorter than the video (17 frames at 24 fps = 0.708 s");
    refused("a2vid_two_stage", "--num-frames 9 --audio-path " WAV " --audio-cfg-guidance-scale 2",
            "audio guidance");
    refused("a2vid_two_stage", "--num-frames 9 --audio-path " WAV " --v2a-guidance-scale 1",
            "audio guidance");
    /* --enhance-prompt is built: with an image it needs a Gemma with a vision tower, and the
     * text-only tiny Gemma is refused before anything loads */
    refused("a2vid_two_stage",
            "--num-frames 9 --audio-path " WAV " --enhance-prompt --image " KF0 " 0 1.0",
            "no vision tower");
    refused("keyframe_interpolation", "--num-frames 9 --enhance-prompt --image " KF0 " 0 1.0",
            "no vision tower");
}

TEST(not_a_lora_refused)
{
    refused("ic_lora", "--num-frames 9 --lora " UPS " --video-conditioning " REF " 1.0",
            "not a LoRA file");
}

TEST(help_mentions_extensions)
{
    setup();
    char err[16384], out[65536];
    snprintf(err, sizeof err, "%s keyframe_interpolation --help > %s 2>&1", LTX2C_BIN,
             tmp("help.txt"));
    CHECK(system(err) == 0);
    FILE *f = fopen(tmp("help.txt"), "rb");
    size_t k = f ? fread(out, 1, sizeof out - 1, f) : 0;
    out[k] = 0;
    if (f) fclose(f);
    CHECK_MSG(strstr(out, "-1 = last") != NULL, "keyframe --help: %s", out);
}

TEST_MAIN()
