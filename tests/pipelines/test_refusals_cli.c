/*
 * test_refusals_cli.c — regression tests of issue 15's late refusals and silent wrong output
 * (items 6-10, 13-16 and the minor flag messages), run through the CLI on the bundled tiny
 * checkpoint and tiny Gemma. Every case was accepted, or failed late or wrongly, before its
 * fix:
 *   - refused before any weight loads (no "prompt encoding" on stderr), exit 2 (usage) or 1
 *     (a malformed file), naming the flag, the file and the value, leaving the output folder
 *     empty: output folder missing / not a folder / read-only, output is a directory; an
 *     --image too small for the CRF round trip or too far from the video's aspect ratio; a
 *     truncated JPEG; a WAV of NaN samples; --frame-rate outside [1, 240]; a rank-0 LoRA; a
 *     negative norm_eps in the checkpoint's config or rms_norm_eps in the Gemma folder's; LoRA strengths and guidance scales that are
 *     not finite or out of range; STG blocks past the model's block count; a zero or negative
 *     --audio-max-duration; --threads past 512; a stray word after --quiet; a negative
 *     --streaming-prefetch-count (message and rule agree);
 *   - non-finite values at a stage boundary fail the run naming the stage (exit 1, no output):
 *     NaN transformer weights or a NaN LoRA (stage 1's latents), NaN VAE-decoder weights
 *     (video decode), NaN audio-decoder weights (audio decode);
 *   - a prompt past the encoder's 1024 tokens is generated with a warning giving the count;
 *     1 frame at 240 fps gets a (one latent frame) audio track instead of an internal error.
 * Set LTX2C_BIN=build-asan/ltx2c to run the same cases under ASan + UBSan: any sanitizer
 * report on stderr fails the test.
 */
#include "harness.h"
#include "pipelines/cli_util.h"
#include "test_util.h"

#include "io/media.h"
#include "io/safetensors.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
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
#define IMG   D "/media/i2v_image.png"
#define WAV   D "/media/a2vid_input.wav"

static char g_tok[4096], g_dir[256], g_out[300];

static void setup(void)
{
    if (g_dir[0]) return;
    tu_tokenizer_path(g_tok, sizeof g_tok);
    snprintf(g_dir, sizeof g_dir, "/tmp/ltx_test_hard_%d", (int)getpid());
    mkdir(g_dir, 0755);
    snprintf(g_out, sizeof g_out, "%s/out", g_dir); /* the runs' output folder, kept empty */
    mkdir(g_out, 0755);
}

static const char *tmp(const char *name)
{
    static char buf[8][400];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 400, "%s/%s", g_dir, name);
    return b;
}

/* Entries of a folder (-1: unreadable). */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static const char *base_args(const char *cmd)
{
    if (!strcmp(cmd, "distilled"))
        return "--distilled-checkpoint-path " CKPT " --spatial-upsampler-path " UPS;
    if (!strcmp(cmd, "a2vid_two_stage"))
        return "--checkpoint-path " CKPT " --spatial-upsampler-path " UPS " --distilled-lora " DLORA
               " --num-inference-steps 2 --video-stg-blocks 1";
    return "--checkpoint-path " CKPT " --spatial-upsampler-path " UPS " --distilled-lora " DLORA
           " --num-inference-steps 2 --video-stg-blocks 1 --audio-stg-blocks 1";
}

/* One run of `cmd` (base args, then extra; later flags win) writing `out`; exit status. */
static int run_as(const char *prefix, const char *cmd, const char *extra, const char *out,
                  const char *prompt, char *err, size_t cap)
{
    setup();
    static char args[20000];
    snprintf(args, sizeof args,
             "%s %s --gemma-root %s --tokenizer %s --prompt '%s' --output-path %s --height 128 "
             "--width 192 --num-frames 9 --seed 7 %s",
             cmd, base_args(cmd), D "/tiny_gemma", g_tok, prompt, out, extra);
    int rc = cli_run_ltx2c_as(g_dir, prefix, args, err, cap);
    CHECK_MSG(!strstr(err, "Sanitizer") && !strstr(err, "runtime error:"),
              "%s %s: sanitizer report: %s", cmd, extra, err);
    return rc;
}

/* Refused before any weight loads: exit `want_rc`, `want` on stderr, the output folder empty
 * and `out` not created. */
static void refused_as(const char *prefix, const char *cmd, const char *extra, const char *out,
                       int want_rc, const char *want)
{
    char err[16384];
    int rc = run_as(prefix, cmd, extra, out, "A red fox trots through snow", err, sizeof err);
    CHECK_MSG(rc == want_rc, "%s %s: exit %d, want %d: %s", cmd, extra, rc, want_rc, err);
    CHECK_MSG(strstr(err, want) != NULL, "%s %s: want '%s' in: %s", cmd, extra, want, err);
    CHECK_MSG(strstr(err, "prompt encoding") == NULL, "%s %s: refused only after loading: %s", cmd,
              extra, err);
    CHECK_MSG(count_entries(g_out) == 0, "%s %s: left files in %s", cmd, extra, g_out);
    struct stat st;
    CHECK_MSG(stat(out, &st) != 0 || S_ISDIR(st.st_mode), "%s %s: wrote %s", cmd, extra, out);
    printf("  %s %s\n    -> exit %d: %s", cmd, extra, rc, err);
}

static void refused(const char *cmd, const char *extra, int want_rc, const char *want)
{
    setup();
    char out[400];
    snprintf(out, sizeof out, "%s/refused.mp4", g_out);
    refused_as("", cmd, extra, out, want_rc, want);
}

/* Ran and failed at a stage boundary: exit 1, `want` on stderr, nothing written. */
static void failed_at_stage(const char *cmd, const char *extra, const char *want)
{
    setup();
    char err[16384], out[400];
    snprintf(out, sizeof out, "%s/late.mp4", g_out);
    int rc = run_as("", cmd, extra, out, "A red fox trots through snow", err, sizeof err);
    CHECK_MSG(rc == 1, "%s %s: exit %d, want 1: %s", cmd, extra, rc, err);
    CHECK_MSG(strstr(err, want) != NULL, "%s %s: want '%s' in: %s", cmd, extra, want, err);
    CHECK_MSG(count_entries(g_out) == 0, "%s %s: left files in %s", cmd, extra, g_out);
    const char *last = strstr(err, "ltx2c ");
    printf("  %s %s\n    -> exit %d: %s", cmd, extra, rc, last ? last : err);
}

/* ---- fixtures ---- */

/* Copies safetensors src to dst, NaN-filling the tensors named `nan_name` (all dtypes in the
 * tiny files are bf16 / f32) and replacing `from` by `to` in the "config" metadata. */
static bool copy_st(const char *src, const char *dst, const char *nan_name, const char *from,
                    const char *to)
{
    ltx_st_file *f = NULL;
    if (ltx_st_open(src, &f) != LTX_OK) return false;
    ltx_st_writer *w = ltx_st_writer_new();
    bool ok = w != NULL;
    for (int i = 0; ok && i < ltx_st_count(f); i++) {
        const ltx_st_entry *e = ltx_st_at(f, i);
        uint8_t *nan = NULL;
        if (nan_name && !strcmp(e->name, nan_name)) {
            nan = malloc(e->nbytes + 4);
            ok = nan && (e->dtype == LTX_BF16 || e->dtype == LTX_F32);
            for (size_t b = 0; ok && b < e->nbytes; b += e->dtype == LTX_BF16 ? 2 : 4) {
                uint16_t h = 0x7fc0; /* bf16 NaN; f32 NaN 0x7fc00000 (little endian) */
                memset(nan + b, 0, e->dtype == LTX_BF16 ? 2 : 4);
                memcpy(nan + b + (e->dtype == LTX_BF16 ? 0 : 2), &h, 2);
            }
        }
        ok = ok && ltx_st_writer_add(w, e->name, e->dtype, e->ndim, e->shape,
                                     nan ? nan : e->data) == LTX_OK;
        free(nan);
    }
    for (int i = 0; ok && i < ltx_st_metadata_count(f); i++) {
        const char *k, *v;
        ltx_st_metadata_at(f, i, &k, &v);
        char *nv = NULL;
        const char *hit = from && !strcmp(k, "config") ? strstr(v, from) : NULL;
        if (hit) {
            nv = malloc(strlen(v) + strlen(to) + 1);
            ok = nv != NULL;
            if (ok) sprintf(nv, "%.*s%s%s", (int)(hit - v), v, to, hit + strlen(from));
        }
        ok = ok && ltx_st_writer_set_metadata(w, k, nv ? nv : v) == LTX_OK;
        free(nv);
    }
    ok = ok && ltx_st_writer_save(w, dst) == LTX_OK;
    ltx_st_writer_free(w);
    ltx_st_close(f);
    return ok;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, n, f);
    fclose(f);
}

/* A w x h binary PPM of one colour (FFmpeg reads it like any image). */
static void write_ppm(const char *path, int w, int h)
{
    char hdr[64];
    int k = snprintf(hdr, sizeof hdr, "P6\n%d %d\n255\n", w, h);
    size_t n = (size_t)k + (size_t)w * h * 3;
    uint8_t *b = malloc(n);
    memcpy(b, hdr, (size_t)k);
    for (size_t i = (size_t)k; i < n; i++)
        b[i] = (uint8_t)(i % 3 ? 40 : 200);
    write_file(path, b, n);
    free(b);
}

/* A 48 kHz stereo float WAV of n NaN samples per channel. */
static void write_nan_wav(const char *path, int n)
{
    uint32_t data = (uint32_t)n * 8, riff = 36 + data, fmt = 16, rate = 48000, br = rate * 8;
    uint16_t ieee = 3, ch = 2, ba = 8, bits = 32;
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite("RIFF", 1, 4, f);
    fwrite(&riff, 4, 1, f);
    fwrite("WAVEfmt ", 1, 8, f);
    fwrite(&fmt, 4, 1, f);
    fwrite(&ieee, 2, 1, f);
    fwrite(&ch, 2, 1, f);
    fwrite(&rate, 4, 1, f);
    fwrite(&br, 4, 1, f);
    fwrite(&ba, 2, 1, f);
    fwrite(&bits, 2, 1, f);
    fwrite("data", 1, 4, f);
    fwrite(&data, 4, 1, f);
    uint32_t nan = 0x7fc00000;
    for (int i = 0; i < 2 * n; i++)
        fwrite(&nan, 4, 1, f);
    fclose(f);
}

/* ---- item 6: the output path ---- */

TEST(output_path_refused_up_front)
{
    setup();
    char extra[1200], want[1200];
    snprintf(extra, sizeof extra, "--output-path %s/missing/out.mp4", g_dir);
    snprintf(want, sizeof want,
             "--output-path %s/missing/out.mp4: the folder %s/missing does "
             "not exist",
             g_dir, g_dir);
    refused("distilled", extra, 2, want);

    mkdir(tmp("isdir.mp4"), 0755);
    snprintf(extra, sizeof extra, "--output-path %s", tmp("isdir.mp4"));
    snprintf(want, sizeof want, "--output-path %s: is a directory", tmp("isdir.mp4"));
    refused_as("", "distilled", extra, tmp("isdir.mp4"), 2, want);
    CHECK(count_entries(tmp("isdir.mp4")) == 0); /* the folder is untouched */
    rmdir(tmp("isdir.mp4"));

    /* a path component that is a regular file: fails for root too */
    write_file(tmp("plainfile"), "x", 1);
    snprintf(extra, sizeof extra, "--output-path %s/out.mp4", tmp("plainfile"));
    snprintf(want, sizeof want, "%s is not a folder", tmp("plainfile"));
    refused("ti2vid_two_stages", extra, 2, want);

    /* a read-only folder; root ignores the mode bits, so it runs as nobody (setpriv) */
    mkdir(tmp("ro"), 0755);
    chmod(tmp("ro"), 0555);
    const char *prefix = geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups" : "";
    snprintf(extra, sizeof extra, "--output-path %s/out.mp4", tmp("ro"));
    snprintf(want, sizeof want,
             "--output-path %s/out.mp4: cannot create files in the folder %s "
             "(Permission denied)",
             tmp("ro"), tmp("ro"));
    char out[600];
    snprintf(out, sizeof out, "%s/out.mp4", tmp("ro"));
    refused_as(prefix, "distilled", extra, out, 2, want);
    CHECK(count_entries(tmp("ro")) == 0);
    chmod(tmp("ro"), 0755);
    rmdir(tmp("ro"));
}

/* ---- item 7: images the CRF round trip or the cover resize cannot take ---- */

TEST(image_too_small_or_too_narrow_refused)
{
    setup();
    write_ppm(tmp("1x1.ppm"), 1, 1);
    write_ppm(tmp("20000x1.ppm"), 20000, 1);
    char extra[1200], want[1200];
    snprintf(extra, sizeof extra, "--image %s 0 1", tmp("1x1.ppm"));
    snprintf(want, sizeof want, "--image %s: 1x1 pixels is too small for the CRF 33 round trip",
             tmp("1x1.ppm"));
    refused("distilled", extra, 2, want);
    snprintf(extra, sizeof extra, "--image %s 0 1", tmp("20000x1.ppm"));
    snprintf(want, sizeof want, "--image %s: 20000x1 pixels is too small for the CRF 33",
             tmp("20000x1.ppm"));
    refused("ti2vid_two_stages", extra, 2, want);
    /* without the round trip, 20000x1 would need a 327-megapixel cover resize */
    snprintf(extra, sizeof extra, "--image %s 0 1 0", tmp("20000x1.ppm"));
    snprintf(want, sizeof want,
             "--image %s: 20000x1 is too far from the video's aspect ratio "
             "(192x128): resizing it to cover the frame needs 327680000 pixels",
             tmp("20000x1.ppm"));
    refused("distilled", extra, 2, want);
}

/* ---- item 16: a truncated JPEG ---- */

TEST(truncated_jpeg_refused)
{
    setup();
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -y -i %s %s", IMG, tmp("full.jpg"));
    CHECK(system(cmd) == 0);
    FILE *f = fopen(tmp("full.jpg"), "rb");
    uint8_t buf[65536];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    CHECK(n > 4000);
    write_file(tmp("trunc.jpg"), buf, n / 2);
    ltx_frames fr = {0};
    CHECK(ltx_image_load(tmp("full.jpg"), &fr) == LTX_OK && fr.n == 1); /* the whole file */
    ltx_frames_free(&fr);
    CHECK(ltx_image_load(tmp("trunc.jpg"), &fr) != LTX_OK && fr.n == 0);
    char extra[1200], want[1200];
    snprintf(extra, sizeof extra, "--image %s 0 1", tmp("trunc.jpg"));
    snprintf(want, sizeof want, "--image %s: not a readable image (corrupt data in '%s'",
             tmp("trunc.jpg"), tmp("trunc.jpg"));
    refused("distilled", extra, 2, want);
}

/* ---- item 8: a WAV of NaN samples ---- */

TEST(nan_wav_refused)
{
    setup();
    write_nan_wav(tmp("nan.wav"), 48000);
    char extra[1200], want[1200];
    snprintf(extra, sizeof extra, "--audio-path %s", tmp("nan.wav"));
    snprintf(want, sizeof want,
             "--audio-path %s: sample 0 of channel 0 (0.000 s) is not a finite "
             "number (NaN/Inf)",
             tmp("nan.wav"));
    refused("a2vid_two_stage", extra, 2, want);
}

/* ---- item 9: the frame rate and the audio length it implies ---- */

TEST(frame_rate_bounded_and_audio_never_empty)
{
    refused("distilled", "--frame-rate 500", 2, "--frame-rate 500: must be in [1, 240]");
    refused("distilled", "--frame-rate 1e-300", 2, "--frame-rate 1e-300: must be in [1, 240]");
    refused("ti2vid_two_stages", "--frame-rate 0.001", 2,
            "--frame-rate 0.001: must be in [1, 240]");
    /* 1 frame at 240 fps is 4 ms: round(25 / 240) = 0 audio latent frames in the reference,
     * one here (it was "fill: output has stride 0") */
    char err[16384];
    const char *out = tmp("out/fast.mp4");
    int rc =
        run_as("", "distilled", "--num-frames 1 --frame-rate 240", out, "fox", err, sizeof err);
    CHECK_MSG(rc == 0, "1 frame at 240 fps: exit %d: %s", rc, err);
    cli_probe p;
    CHECK_MSG(cli_ffprobe(out, &p), "ffprobe failed on %s", out);
    CHECK_MSG(p.frames == 1 && p.rate_num == 240 && !strcmp(p.acodec, "aac") && p.adur > 0,
              "%d frames @ %d, audio %s %.4f s", p.frames, p.rate_num, p.acodec, p.adur);
    remove(out);
}

/* ---- item 10: a rank-0 LoRA ---- */

TEST(rank0_lora_refused)
{
    setup();
    ltx_st_writer *w = ltx_st_writer_new();
    int64_t sa[2] = {0, 64}, sb[2] = {64, 0};
    CHECK(ltx_st_writer_add(w, "diffusion_model.transformer_blocks.0.attn1.to_q.lora_A.weight",
                            LTX_BF16, 2, sa, NULL) == LTX_OK);
    CHECK(ltx_st_writer_add(w, "diffusion_model.transformer_blocks.0.attn1.to_q.lora_B.weight",
                            LTX_BF16, 2, sb, NULL) == LTX_OK);
    CHECK(ltx_st_writer_save(w, tmp("rank0.safetensors")) == LTX_OK);
    ltx_st_writer_free(w);
    char extra[1200], want[1200];
    snprintf(extra, sizeof extra, "--lora %s", tmp("rank0.safetensors"));
    snprintf(want, sizeof want,
             "--lora %s: LoRA %s: "
             "diffusion_model.transformer_blocks.0.attn1.to_q.lora_A.weight has rank 0",
             tmp("rank0.safetensors"), tmp("rank0.safetensors"));
    refused("distilled", extra, 1, want);
}

/* ---- item 13: no more black, silent mp4s ---- */

TEST(bad_scales_and_config_refused)
{
    setup();
    refused("distilled", "--lora " ULORA " 1e300", 2,
            "--lora " ULORA " 1e+300: must be a finite number in [-10, 10]");
    refused("ti2vid_two_stages", "--distilled-lora " DLORA " -11", 2,
            "--distilled-lora " DLORA " -11: must be a finite number in [-10, 10]");
    refused("ti2vid_two_stages", "--video-cfg-guidance-scale 1e308", 2,
            "--video-cfg-guidance-scale 1e+308: must be a finite number in [0, 100]");
    refused("ti2vid_two_stages", "--audio-stg-guidance-scale -1", 2,
            "--audio-stg-guidance-scale -1: must be a finite number in [0, 100]");
    refused("ti2vid_two_stages", "--video-rescale-scale 1.5", 2,
            "--video-rescale-scale 1.5: must be a finite number in [0, 1]");
    refused("ti2vid_two_stages", "--a2v-guidance-scale 101", 2,
            "--a2v-guidance-scale 101: must be a finite number in [0, 100]");
    /* a negative norm_eps in the checkpoint's config: NaN latents before */
    CHECK(copy_st(CKPT, tmp("eps.safetensors"), NULL, "\"norm_eps\": 1e-06", "\"norm_eps\": -1.0"));
    char extra[1200], want[1200];
    snprintf(extra, sizeof extra, "--distilled-checkpoint-path %s", tmp("eps.safetensors"));
    snprintf(want, sizeof want,
             "--distilled-checkpoint-path %s: transformer config: norm_eps = -1 "
             "must be a number in [0, 1]",
             tmp("eps.safetensors"));
    refused("distilled", extra, 1, want);
    remove(tmp("eps.safetensors"));
    /* the same in the Gemma folder's config.json (the weights linked, not copied) */
    char cmd[2400];
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s && ln -sf %s/*.safetensors* %s/ && sed 's/\"rms_norm_eps\": 1e-06/"
             "\"rms_norm_eps\": -1e-06/' %s/config.json > %s/config.json",
             tmp("gemma"), D "/tiny_gemma", tmp("gemma"), D "/tiny_gemma", tmp("gemma"));
    CHECK(system(cmd) == 0);
    snprintf(extra, sizeof extra, "--gemma-root %s", tmp("gemma"));
    snprintf(want, sizeof want,
             "--gemma-root %s: %s/config.json: gemma3 config: rms_norm_eps "
             "= -1e-06 must be a number in [0, 1]",
             tmp("gemma"), tmp("gemma"));
    refused("distilled", extra, 1, want);
}

TEST(non_finite_values_fail_at_the_stage_boundary)
{
    setup();
    char extra[1200];
    /* NaN transformer weights: stage 1's latents */
    CHECK(copy_st(CKPT, tmp("nan_dit.safetensors"),
                  "model.diffusion_model.transformer_blocks.0.attn1.to_q.weight", NULL, NULL));
    snprintf(extra, sizeof extra, "--distilled-checkpoint-path %s", tmp("nan_dit.safetensors"));
    failed_at_stage("distilled", extra,
                    "stage1: the denoised video latents hold non-finite values (NaN or Inf)");
    remove(tmp("nan_dit.safetensors"));
    /* NaN in the video decoder: the decoded frames */
    CHECK(copy_st(CKPT, tmp("nan_vae.safetensors"), "vae.decoder.conv_out.conv.bias", NULL, NULL));
    snprintf(extra, sizeof extra, "--distilled-checkpoint-path %s", tmp("nan_vae.safetensors"));
    failed_at_stage("distilled", extra,
                    "video decode: the decoded frames hold non-finite values (NaN or Inf)");
    remove(tmp("nan_vae.safetensors"));
    /* NaN in the audio decoder: the waveform */
    CHECK(copy_st(CKPT, tmp("nan_avae.safetensors"), "audio_vae.decoder.conv_out.conv.bias", NULL,
                  NULL));
    snprintf(extra, sizeof extra, "--distilled-checkpoint-path %s", tmp("nan_avae.safetensors"));
    failed_at_stage("distilled", extra,
                    "audio decode: the decoded audio samples hold non-finite values");
    remove(tmp("nan_avae.safetensors"));
    /* a NaN LoRA (guided two-stage pipeline): stage 1 */
    CHECK(copy_st(ULORA, tmp("nan_lora.safetensors"),
                  "diffusion_model.transformer_blocks.0.attn1.to_k.lora_B.weight", NULL, NULL));
    snprintf(extra, sizeof extra, "--lora %s 0.5", tmp("nan_lora.safetensors"));
    failed_at_stage("ti2vid_two_stages", extra,
                    "stage1: the denoised video latents hold non-finite values");
    remove(tmp("nan_lora.safetensors"));
}

/* ---- item 14: STG blocks past the model, audio duration <= 0 ---- */

TEST(stg_blocks_and_audio_duration_refused)
{
    refused("ti2vid_two_stages", "--video-stg-blocks 9999", 2,
            "--video-stg-blocks 9999: the transformer in " CKPT " has 2 blocks (0..1)");
    refused("ti2vid_two_stages", "--audio-stg-blocks 0 2", 2,
            "--audio-stg-blocks 2: the transformer in " CKPT " has 2 blocks (0..1)");
    refused("a2vid_two_stage", "--audio-path " WAV " --audio-max-duration 0", 2,
            "--audio-max-duration 0: must be > 0 seconds");
    refused("a2vid_two_stage", "--audio-path " WAV " --audio-max-duration -5", 2,
            "--audio-max-duration -5: must be > 0 seconds");
}

/* ---- item 15: prompts past the token limit ---- */

TEST(long_prompt_warns_with_the_token_count)
{
    setup();
    static char prompt[8000];
    size_t k = 0;
    for (int i = 0; i < 1500; i++)
        k += (size_t)snprintf(prompt + k, sizeof prompt - k, "fox ");
    char err[16384];
    const char *out = tmp("out/long.mp4");
    int rc = run_as("", "distilled", "", out, prompt, err, sizeof err);
    CHECK_MSG(rc == 0, "long prompt: exit %d: %s", rc, err);
    CHECK_MSG(strstr(err, "--prompt is 1501 tokens long (with <bos>); the text encoder takes "
                          "1024: the last 477 tokens are ignored") != NULL,
              "no truncation warning: %s", err);
    remove(out);
    rc = run_as("", "distilled", "", out, "fox", err, sizeof err);
    CHECK_MSG(rc == 0 && strstr(err, "tokens long") == NULL, "short prompt warned: %s", err);
    remove(out);
}

/* ---- minor: flag messages ---- */

TEST(flag_messages)
{
    refused("distilled", "--threads 100000", 2,
            "--threads 100000: must be in 0..512 (0 = one per CPU core)");
    refused("distilled", "--quiet stray", 2, "--quiet takes no value; unexpected argument 'stray'");
    refused("distilled", "--streaming-prefetch-count -1", 2,
            "--streaming-prefetch-count -1: must be >= 0 (0 = off)");
}

TEST(cleanup)
{
    setup();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    CHECK(system(cmd) == 0);
}

TEST_MAIN()
