/*
 * test_media.c — media I/O (src/io/media*.c) against ffprobe and the reference goldens.
 *
 *  - writer: a 9-frame 64x96 clip at 24000/1001 fps + 48 kHz stereo sine, checked with ffprobe
 *    (codecs, frame count, size, exact rate, audio rate/channels/duration) and read back;
 *  - decoding of every file in tests/data/golden/media/ compared with what the reference
 *    decoded from it (stored in the pipeline goldens): PNG pixels, mp4 frames by index and by
 *    time, AAC and WAV audio windows;
 *  - the CRF-33 round trip and resize/crop/normalise against the stored tensors;
 *  - torchaudio resampling against modules/audio_mel and the pipelines' *_resampled_16k;
 *  - error paths: missing / corrupt / zero-length inputs name the path; failed writes leave
 *    no file behind; the output-path guard.
 * Measured differences are printed ("measure: ...") so regressions show numbers.
 */
#include "harness.h"
#include "io/media.h"
#include "io/safetensors.h"
#include "test_util.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define GOLD  LTX_TEST_DATA "/golden"
#define MEDIA GOLD "/media"

/* ---- helpers ---- */
static ltx_st_file *open_golden(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", GOLD, rel);
    ltx_st_file *f = NULL;
    if (ltx_st_open(path, &f) != LTX_OK) {
        fprintf(stderr, "  cannot open %s: %s\n", path, ltx_err_message());
        return NULL;
    }
    return f;
}

static const ltx_st_entry *entry(const ltx_st_file *f, const char *name)
{
    const ltx_st_entry *e = f ? ltx_st_find(f, name) : NULL;
    if (!e) fprintf(stderr, "  golden tensor %s missing\n", name);
    return e;
}

/* Max |a-b| over n uint8 and the count of differing elements. */
static int u8_maxdiff(const uint8_t *a, const uint8_t *b, size_t n, size_t *ndiff)
{
    int m = 0;
    *ndiff = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        if (d) (*ndiff)++;
        if (d > m) m = d;
    }
    return m;
}

static double f32_maxdiff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

static void make_tmpdir(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/ltx_test_media_XXXXXX");
    if (!mkdtemp(dir)) dir[0] = 0;
}

/* Runs ffprobe on one stream and returns "key=value" lines in out. */
static bool ffprobe(const char *path, const char *sel, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -select_streams %s -count_frames -show_entries "
             "stream=codec_name,width,height,r_frame_rate,avg_frame_rate,nb_frames,"
             "nb_read_frames,sample_rate,channels,duration,pix_fmt -of default=nw=1 '%s'",
             sel, path);
    FILE *p = popen(cmd, "r");
    if (!p) return false;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    return pclose(p) == 0;
}

static bool has_line(const char *text, const char *line)
{
    const char *p = text;
    size_t l = strlen(line);
    while ((p = strstr(p, line))) {
        if ((p == text || p[-1] == '\n') && (p[l] == '\n' || p[l] == 0)) return true;
        p += l;
    }
    return false;
}

static double probe_num(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    return p ? atof(p + strlen(key)) : -1.0;
}

/* ---- writer ---- */
TEST(mp4_write_probe_readback)
{
    char dir[128], path[256], tmp[300];
    make_tmpdir(dir, sizeof dir);
    CHECK(dir[0]);
    snprintf(path, sizeof path, "%s/clip.mp4", dir);
    const int F = 9, H = 64, W = 96, SR = 48000;
    uint8_t *rgb = malloc((size_t)F * H * W * 3);
    for (int f = 0; f < F; f++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                uint8_t *p = rgb + (((size_t)f * H + y) * W + x) * 3;
                p[0] = (uint8_t)(x * 2 + f * 8);
                p[1] = (uint8_t)(y * 3);
                p[2] = (uint8_t)(128 + 60 * sin((x + y + f * 4) * 0.1));
            }
    ltx_mp4_params mp;
    ltx_mp4_params_init(&mp);
    mp.fps = ltx_rational_from_fps(24000.0 / 1001.0);
    CHECK(mp.fps.num == 24000 && mp.fps.den == 1001);
    const int64_t N = (int64_t)llround(F * 1001.0 / 24000.0 * SR); /* 18018 */
    float *aud = malloc(sizeof(float) * 2 * N);
    for (int64_t i = 0; i < N; i++) {
        aud[i] = 0.5f * (float)sin(2 * M_PI * 440.0 * i / SR);
        aud[N + i] = 0.25f * (float)sin(2 * M_PI * 660.0 * i / SR);
    }
    ltx_status s = ltx_mp4_write(path, rgb, F, H, W, aud, N, SR, &mp);
    CHECK_MSG(s == LTX_OK, "%s", ltx_err_message());
    snprintf(tmp, sizeof tmp, "%s.tmp.mp4", path);
    CHECK(tu_exists(path));
    CHECK(!tu_exists(tmp));

    char out[4096];
    CHECK(ffprobe(path, "v:0", out, sizeof out));
    CHECK_MSG(has_line(out, "codec_name=h264"), "%s", out);
    CHECK(has_line(out, "width=96"));
    CHECK(has_line(out, "height=64"));
    CHECK(has_line(out, "pix_fmt=yuv420p"));
    CHECK_MSG(has_line(out, "r_frame_rate=24000/1001"), "%s", out);
    CHECK_MSG(has_line(out, "avg_frame_rate=24000/1001"), "%s", out);
    CHECK(has_line(out, "nb_frames=9"));
    CHECK(has_line(out, "nb_read_frames=9"));
    CHECK_CLOSE(probe_num(out, "duration="), F * 1001.0 / 24000.0, 1e-3, 0);
    CHECK(ffprobe(path, "a:0", out, sizeof out));
    CHECK_MSG(has_line(out, "codec_name=aac"), "%s", out);
    CHECK(has_line(out, "sample_rate=48000"));
    CHECK(has_line(out, "channels=2"));
    printf("measure: audio stream duration %.6f s (written %.6f s)\n", probe_num(out, "duration="),
           (double)N / SR);
    /* the mp4 edit list is in the 1/1000 movie timescale */
    CHECK_CLOSE(probe_num(out, "duration="), (double)N / SR, 1e-3, 0);

    ltx_video_info vi;
    CHECK(ltx_media_probe_video(path, &vi) == LTX_OK);
    CHECK(vi.width == W && vi.height == H && vi.frames == F);
    CHECK(vi.avg_rate.num == 24000 && vi.avg_rate.den == 1001);
    CHECK(vi.audio_rate == SR && vi.audio_channels == 2);

    ltx_frames fr;
    CHECK(ltx_video_decode_frames(path, 0, -1, &fr) == LTX_OK);
    CHECK(fr.n == F && fr.h == H && fr.w == W);
    if (fr.n == F) {
        double sum = 0;
        size_t nd;
        int mx = u8_maxdiff(fr.rgb, rgb, (size_t)F * H * W * 3, &nd);
        for (size_t i = 0; i < (size_t)F * H * W * 3; i++)
            sum += abs((int)fr.rgb[i] - rgb[i]);
        double mad = sum / ((double)F * H * W * 3);
        printf("measure: mp4 video round trip mean|d| %.3f max|d| %d (8-bit levels)\n", mad, mx);
        CHECK(mad < 4.0);
    }
    ltx_frames_free(&fr);
    /* time window: frames 3..5 at 24000/1001 */
    CHECK(ltx_video_decode_time(path, 3 * 1001.0 / 24000.0, 3 * 1001.0 / 24000.0, &fr) == LTX_OK);
    CHECK(fr.n == 3);
    ltx_frames_free(&fr);

    ltx_audio a;
    CHECK(ltx_audio_decode(path, 0, 0, true, &a) == LTX_OK);
    CHECK(a.sample_rate == SR && a.channels == 2 && a.src_channels == 2);
    printf("measure: decoded %lld audio samples (written %lld)\n", (long long)a.n, (long long)N);
    /* the priming is trimmed on decode, the end padding of the last AAC frame is not (FFmpeg's
     * mov demuxer trims the start only): whole 1024-sample frames come back */
    CHECK(a.n >= N && a.n < N + 1024);
    if (a.n >= N) {
        /* steady-state error after the codec's first frame */
        double err = 0;
        for (int c = 0; c < 2; c++)
            for (int64_t i = 2048; i < N - 2048; i++) {
                double d = fabs(a.data[c * a.n + i] - aud[c * N + i]);
                if (d > err) err = d;
            }
        printf("measure: AAC 128 kb/s sine round trip max|d| %.4f\n", err);
        CHECK(err < 0.05);
    }
    ltx_audio_free(&a);
    free(rgb);
    free(aud);
    unlink(path);
    rmdir(dir);
}

TEST(mp4_write_failures_leave_nothing)
{
    char dir[128], path[256], tmp[300];
    make_tmpdir(dir, sizeof dir);
    uint8_t rgb[4 * 4 * 3] = {0};
    /* the target is a directory: everything encodes, the final rename fails */
    snprintf(path, sizeof path, "%s/isdir.mp4", dir);
    CHECK(mkdir(path, 0700) == 0);
    ltx_status s = ltx_mp4_write(path, rgb, 1, 4, 4, NULL, 0, 0, NULL);
    CHECK(s != LTX_OK);
    CHECK(strstr(ltx_err_message(), path) != NULL);
    snprintf(tmp, sizeof tmp, "%s.tmp.mp4", path);
    CHECK(!tu_exists(tmp));
    rmdir(path);
    /* missing directory */
    snprintf(path, sizeof path, "%s/no/such/dir/out.mp4", dir);
    s = ltx_mp4_write(path, rgb, 1, 4, 4, NULL, 0, 0, NULL);
    CHECK(s != LTX_OK && strstr(ltx_err_message(), path));
    /* odd size */
    snprintf(path, sizeof path, "%s/odd.mp4", dir);
    s = ltx_mp4_write(path, rgb, 1, 3, 4, NULL, 0, 0, NULL);
    CHECK(s == LTX_ERR_INVALID_ARG && strstr(ltx_err_message(), path));
    CHECK(!tu_exists(path));
    /* zero-length audio */
    float a[2] = {0};
    s = ltx_mp4_write(path, rgb, 1, 4, 4, a, 0, 48000, NULL);
    CHECK(s == LTX_ERR_INVALID_ARG && strstr(ltx_err_message(), path));
    CHECK(!tu_exists(path));
    snprintf(tmp, sizeof tmp, "%s.tmp.mp4", path);
    CHECK(!tu_exists(tmp));
    rmdir(dir);
}

TEST(output_guard)
{
    const char *inputs[3] = {MEDIA "/i2v_image.png", NULL, MEDIA "/retake_source.mp4"};
    CHECK(ltx_media_check_output("/tmp/ltx_out_never.mp4", inputs, 3) == LTX_OK);
    CHECK(ltx_media_check_output(MEDIA "/retake_source.mp4", inputs, 3) == LTX_ERR_INVALID_ARG);
    CHECK(strstr(ltx_err_message(), "retake_source.mp4") != NULL);
    /* another spelling of the same file */
    CHECK(ltx_media_check_output(MEDIA "/../media/i2v_image.png", inputs, 3) ==
          LTX_ERR_INVALID_ARG);
}

TEST(rational_from_fps)
{
    ltx_rational r = ltx_rational_from_fps(24.0);
    CHECK(r.num == 24 && r.den == 1);
    r = ltx_rational_from_fps(23.976);
    CHECK(r.num == 24000 && r.den == 1001);
    r = ltx_rational_from_fps(29.97);
    CHECK(r.num == 30000 && r.den == 1001);
    r = ltx_rational_from_fps(12.5);
    CHECK(r.num == 25 && r.den == 2);
}

/* ---- decoding vs goldens ---- */
static void check_image(const char *file, const char *golden, const char *tensor)
{
    ltx_st_file *g = open_golden(golden);
    const ltx_st_entry *e = entry(g, tensor);
    ltx_frames fr;
    ltx_status s = ltx_image_load(file, &fr);
    CHECK_MSG(s == LTX_OK, "%s", ltx_err_message());
    if (e && s == LTX_OK) {
        CHECK(fr.n == 1 && fr.h == e->shape[0] && fr.w == e->shape[1]);
        size_t nd = 0;
        int mx = fr.h == e->shape[0] && fr.w == e->shape[1]
                     ? u8_maxdiff(fr.rgb, e->data, (size_t)fr.h * fr.w * 3, &nd)
                     : 255;
        printf("measure: %s vs %s: max|d| %d\n", file, tensor, mx);
        CHECK(mx == 0);
    }
    ltx_frames_free(&fr);
    ltx_st_close(g);
}

TEST(png_decode_matches_golden)
{
    check_image(MEDIA "/i2v_image.png", "pipelines/pipeline_distilled_i2v.safetensors",
                "in.image0.pixels_uint8");
    check_image(MEDIA "/keyframe_first.png",
                "pipelines/pipeline_keyframe_interpolation.safetensors", "in.image0.pixels_uint8");
    check_image(MEDIA "/keyframe_last.png", "pipelines/pipeline_keyframe_interpolation.safetensors",
                "in.image1.pixels_uint8");
}

static void check_frames(const ltx_frames *fr, const ltx_st_entry *e, const char *what)
{
    CHECK(e != NULL);
    if (!e) return;
    CHECK_MSG(fr->n == e->shape[0] && fr->h == e->shape[1] && fr->w == e->shape[2],
              "%s: got %dx%dx%d", what, fr->n, fr->h, fr->w);
    if (fr->n != e->shape[0] || fr->h != e->shape[1] || fr->w != e->shape[2]) return;
    size_t nd;
    int mx = u8_maxdiff(fr->rgb, e->data, (size_t)fr->n * fr->h * fr->w * 3, &nd);
    printf("measure: %s: max|d| %d, %zu differing values\n", what, mx, nd);
    CHECK(mx == 0);
}

TEST(mp4_decode_matches_golden)
{
    ltx_st_file *ic = open_golden("pipelines/pipeline_ic_lora.safetensors");
    ltx_frames fr;
    CHECK(ltx_video_decode_frames(MEDIA "/ic_reference.mp4", 0, 9, &fr) == LTX_OK);
    check_frames(&fr, entry(ic, "in.reference.frames_uint8"), "ic_reference.mp4 by frame");
    ltx_frames_free(&fr);
    CHECK(ltx_video_decode_frames(MEDIA "/ic_attention_mask.mp4", 0, 9, &fr) == LTX_OK);
    check_frames(&fr, entry(ic, "in.mask_video.frames_uint8"), "ic_attention_mask.mp4 by frame");
    ltx_frames_free(&fr);
    ltx_st_close(ic);

    ltx_video_info vi;
    CHECK(ltx_media_probe_video(MEDIA "/retake_source.mp4", &vi) == LTX_OK);
    CHECK(vi.frames == 25 && vi.width == 96 && vi.height == 64 && vi.fps == 24.0);
    CHECK(vi.audio_rate == 48000 && vi.audio_channels == 2);
    ltx_st_file *rt = open_golden("pipelines/pipeline_retake.safetensors");
    /* ref: video_latent_from_file: max_duration = frames / fps */
    CHECK(ltx_video_decode_time(MEDIA "/retake_source.mp4", 0.0, 25 / 24.0, &fr) == LTX_OK);
    check_frames(&fr, entry(rt, "in.source.frames_uint8"), "retake_source.mp4 by time");
    ltx_frames_free(&fr);
    /* a window starting exactly on frame 10: like the reference, pts * float(time_base) =
     * 5120 * (1/12288) = 0.41666666666666663 < 10/24.0, so frame 10 falls out */
    CHECK(ltx_video_decode_time(MEDIA "/retake_source.mp4", 10 / 24.0, 5 / 24.0, &fr) == LTX_OK);
    CHECK(fr.n == 4);
    ltx_frames_free(&fr);
    /* a later window: frames 10..14 */
    CHECK(ltx_video_decode_time(MEDIA "/retake_source.mp4", 10 / 24.0 - 1e-6, 5 / 24.0, &fr) ==
          LTX_OK);
    CHECK(fr.n == 5);
    const ltx_st_entry *e = entry(rt, "in.source.frames_uint8");
    if (e && fr.n == 5) {
        size_t nd;
        CHECK(u8_maxdiff(fr.rgb, (const uint8_t *)e->data + (size_t)10 * 64 * 96 * 3,
                         (size_t)5 * 64 * 96 * 3, &nd) == 0);
    }
    ltx_frames_free(&fr);
    ltx_st_close(rt);
}

/* tol: 0 for PCM; a little for AAC, whose float decoder takes CPU-specific SIMD paths (this
 * machine reproduces the reference exactly) */
static void check_audio(const ltx_audio *a, const ltx_st_entry *e, const char *what, double tol)
{
    CHECK(e != NULL);
    if (!e) return;
    CHECK_MSG(a->channels == e->shape[1] && a->n == e->shape[2],
              "%s: got (%d, %lld) want (%lld, %lld)", what, a->channels, (long long)a->n,
              (long long)e->shape[1], (long long)e->shape[2]);
    if (a->channels != e->shape[1] || a->n != e->shape[2]) return;
    double mx = f32_maxdiff(a->data, e->data, (size_t)a->channels * a->n);
    printf("measure: %s: max|d| %.3g\n", what, mx);
    CHECK(mx <= tol);
}

TEST(audio_decode_matches_golden)
{
    ltx_st_file *av = open_golden("pipelines/pipeline_a2vid_two_stage.safetensors");
    ltx_audio a;
    CHECK(ltx_audio_decode(MEDIA "/a2vid_input.wav", 0.0, 9 / 24.0, true, &a) == LTX_OK);
    CHECK(a.sample_rate == 44100 && a.src_channels == 2);
    check_audio(&a, entry(av, "in.audio.waveform"), "a2vid_input.wav [0, 0.375)", 0.0);
    ltx_audio_free(&a);
    ltx_st_close(av);

    ltx_st_file *rt = open_golden("pipelines/pipeline_retake.safetensors");
    CHECK(ltx_audio_decode(MEDIA "/retake_source.mp4", 0.0, 25 / 24.0, true, &a) == LTX_OK);
    CHECK(a.sample_rate == 48000);
    check_audio(&a, entry(rt, "in.source.audio_waveform"), "retake_source.mp4 AAC [0, 25/24)",
                1e-6);
    ltx_audio_free(&a);
    ltx_st_close(rt);

    /* a window that starts inside the file: consistent with the full decode */
    ltx_audio full, part;
    CHECK(ltx_audio_decode(MEDIA "/a2vid_input.wav", 0.0, 0.0, false, &full) == LTX_OK);
    CHECK(full.n == 26460); /* 0.6 s at 44.1 kHz */
    CHECK(ltx_audio_decode(MEDIA "/a2vid_input.wav", 0.1, 0.2, false, &part) == LTX_OK);
    CHECK(part.n == 8820);
    if (part.n == 8820 && full.n == 26460)
        CHECK(f32_maxdiff(part.data, full.data + 4410, 8820) == 0 &&
              f32_maxdiff(part.data + 8820, full.data + 26460 + 4410, 8820) == 0);
    ltx_audio_free(&full);
    ltx_audio_free(&part);
}

TEST(audio_channel_handling)
{
    char dir[128], mono[256], six[256], cmd[1024];
    make_tmpdir(dir, sizeof dir);
    snprintf(mono, sizeof mono, "%s/mono.wav", dir);
    snprintf(six, sizeof six, "%s/six.wav", dir);
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -y -f lavfi -i 'sine=f=440:r=16000:d=0.25' -ac 1 '%s' && "
             "ffmpeg -v error -y -f lavfi -i 'sine=f=440:r=16000:d=0.25' -af "
             "'pan=5.1|FL=c0|FR=c0|FC=c0|LFE=c0|BL=c0|BR=c0' '%s'",
             mono, six);
    CHECK(system(cmd) == 0);
    ltx_audio a;
    CHECK(ltx_audio_decode(mono, 0, 0, true, &a) == LTX_OK);
    CHECK(a.src_channels == 1 && a.channels == 2 && a.n == 4000);
    CHECK(strstr(a.mix, "mono") != NULL);
    if (a.n == 4000) CHECK(f32_maxdiff(a.data, a.data + a.n, 4000) == 0);
    ltx_audio_free(&a);
    CHECK(ltx_audio_decode(six, 0, 0, true, &a) == LTX_OK);
    CHECK(a.src_channels == 6 && a.channels == 2 && a.n == 4000);
    CHECK(strstr(a.mix, "down-mix") != NULL);
    ltx_audio raw;
    CHECK(ltx_audio_decode(six, 0, 0, false, &raw) == LTX_OK);
    CHECK(raw.channels == 6);
    if (a.n == 4000 && raw.n == 4000) {
        /* identical channels: L = (FL + 0.707 FC + 0.707 BL) / (1 + 0.707 + 0.707) = FL */
        double mx = f32_maxdiff(a.data, raw.data, 4000);
        printf("measure: 5.1 -> stereo down-mix of identical channels max|d| %.3g\n", mx);
        CHECK(mx < 1e-6);
    }
    ltx_audio_free(&a);
    ltx_audio_free(&raw);
    /* compressed formats: mp3 and AAC in m4a */
    char mp3[256], m4a[256];
    snprintf(mp3, sizeof mp3, "%s/tone.mp3", dir);
    snprintf(m4a, sizeof m4a, "%s/tone.m4a", dir);
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -y -f lavfi -i 'sine=f=440:r=44100:d=0.5' -ac 2 '%s' && "
             "ffmpeg -v error -y -f lavfi -i 'sine=f=440:r=24000:d=0.5' -ac 1 -c:a aac '%s'",
             mp3, m4a);
    CHECK(system(cmd) == 0);
    CHECK(ltx_audio_decode(mp3, 0, 0, true, &a) == LTX_OK);
    printf("measure: mp3 0.5 s @44.1k -> %lld samples, %d ch\n", (long long)a.n, a.channels);
    CHECK(a.sample_rate == 44100 && a.channels == 2 && llabs(a.n - 22050) < 2400);
    ltx_audio_free(&a);
    CHECK(ltx_audio_decode(m4a, 0.1, 0.25, true, &a) == LTX_OK);
    CHECK(a.sample_rate == 24000 && a.src_channels == 1 && a.channels == 2 && a.n == 6000);
    ltx_audio_free(&a);
    unlink(mp3);
    unlink(m4a);
    /* video without audio: not an error, empty result */
    CHECK(ltx_audio_decode(MEDIA "/ic_reference.mp4", 0, 0, true, &a) == LTX_OK);
    CHECK(a.src_channels == 0 && a.n == 0 && a.data == NULL);
    unlink(mono);
    unlink(six);
    rmdir(dir);
}

/* ---- CRF round trip + preprocessing ---- */
static void check_crf(const char *golden, int idx)
{
    char in_name[64], rt_name[64], pre_name[64];
    snprintf(in_name, sizeof in_name, "in.image%d.pixels_uint8", idx);
    snprintf(rt_name, sizeof rt_name, "image%d.crf_roundtrip_uint8", idx);
    snprintf(pre_name, sizeof pre_name, "stage1.image%d.preprocessed", idx);
    ltx_st_file *g = open_golden(golden);
    const ltx_st_entry *in = entry(g, in_name), *rt = entry(g, rt_name), *pre = entry(g, pre_name);
    if (!in || !rt || !pre) {
        ltx_st_close(g);
        CHECK(0);
        return;
    }
    ltx_frames fr;
    ltx_status s = ltx_image_crf_roundtrip(in->data, (int)in->shape[0], (int)in->shape[1], 33, &fr);
    CHECK_MSG(s == LTX_OK, "%s", ltx_err_message());
    CHECK(fr.h == rt->shape[0] && fr.w == rt->shape[1]);
    if (s == LTX_OK && fr.h == rt->shape[0] && fr.w == rt->shape[1]) {
        size_t nd;
        const size_t n = (size_t)fr.h * fr.w * 3;
        int mx = u8_maxdiff(fr.rgb, rt->data, n, &nd);
        printf("measure: %s %s CRF-33 round trip vs reference: max|d| %d, %zu/%zu values differ\n",
               golden, rt_name, mx, nd, n);
        CHECK(mx <= 2); /* bit-exact expected with the same FFmpeg/x264 build */
    }
    ltx_frames_free(&fr);
    /* preprocessing from the stored round-trip pixels: bit-exact */
    const int H = (int)pre->shape[3], W = (int)pre->shape[4];
    float *o = malloc(sizeof(float) * 3 * H * W);
    CHECK(ltx_media_preprocess(rt->data, 1, (int)rt->shape[0], (int)rt->shape[1], H, W, true, o) ==
          LTX_OK);
    double mx = f32_maxdiff(o, pre->data, (size_t)3 * H * W);
    printf("measure: %s %s: max|d| %.3g\n", golden, pre_name, mx);
    CHECK(mx == 0);
    free(o);
    ltx_st_close(g);
}

TEST(crf_roundtrip_and_preprocess_match_golden)
{
    check_crf("pipelines/pipeline_distilled_i2v.safetensors", 0);
    check_crf("pipelines/pipeline_keyframe_interpolation.safetensors", 0);
    check_crf("pipelines/pipeline_keyframe_interpolation.safetensors", 1);
    /* the whole chain from the PNG file */
    ltx_st_file *g = open_golden("pipelines/pipeline_distilled_i2v.safetensors");
    const ltx_st_entry *pre = entry(g, "stage1.image0.preprocessed");
    float *o = NULL;
    CHECK(ltx_media_load_image_and_preprocess(MEDIA "/i2v_image.png", 64, 96, 33, true, &o) ==
          LTX_OK);
    if (o && pre) {
        double mx = f32_maxdiff(o, pre->data, (size_t)3 * 64 * 96);
        printf("measure: i2v_image.png -> load+crf33+preprocess vs stage1.image0.preprocessed: "
               "max|d| %.3g\n",
               mx);
        CHECK(mx == 0);
    }
    free(o);
    ltx_st_close(g);
    /* crf 0: unchanged, no crop */
    uint8_t px[3 * 3 * 3];
    for (int i = 0; i < 27; i++)
        px[i] = (uint8_t)(i * 9);
    ltx_frames fr;
    CHECK(ltx_image_crf_roundtrip(px, 3, 3, 0, &fr) == LTX_OK);
    CHECK(fr.h == 3 && fr.w == 3 && memcmp(fr.rgb, px, 27) == 0);
    ltx_frames_free(&fr);
}

TEST(video_preprocess_matches_golden)
{
    ltx_st_file *g = open_golden("pipelines/pipeline_ic_lora.safetensors");
    const ltx_st_entry *in = entry(g, "in.reference.frames_uint8");
    const ltx_st_entry *pre = entry(g, "reference.preprocessed");
    if (in && pre) {
        const int F = (int)pre->shape[2], H = (int)pre->shape[3], W = (int)pre->shape[4];
        float *o = malloc(sizeof(float) * 3 * F * H * W);
        /* the golden ran this pipeline in float32: video_preprocess with dtype float32, so
         * these values are not bf16-rounded (the real pipeline's bfloat16 would round them) */
        CHECK(ltx_media_preprocess(in->data, F, (int)in->shape[1], (int)in->shape[2], H, W, false,
                                   o) == LTX_OK);
        double mx = f32_maxdiff(o, pre->data, (size_t)3 * F * H * W);
        printf("measure: ic_lora reference.preprocessed: max|d| %.3g\n", mx);
        CHECK(mx == 0);
        free(o);
    }
    ltx_st_close(g);
    int nh, nw;
    ltx_media_cover_size(40, 96, 32, 64, &nh, &nw); /* 40*0.8 must stay 32 */
    CHECK(nh == 32 && nw == 77);
    /* prompt-enhancement resize: 75x113 -> long side 896: int(75 * 896/113) = 594 */
    uint8_t img[75 * 113 * 3];
    for (int i = 0; i < 75 * 113 * 3; i++)
        img[i] = (uint8_t)(i * 31 % 251);
    ltx_frames fr;
    CHECK(ltx_media_resize_long_side(img, 75, 113, 896, &fr) == LTX_OK);
    CHECK(fr.n == 1 && fr.h == 594 && fr.w == 896);
    ltx_frames_free(&fr);
    /* identity size copies */
    CHECK(ltx_media_resize_long_side(img, 75, 113, 113, &fr) == LTX_OK);
    CHECK(fr.h == 75 && fr.w == 113 && memcmp(fr.rgb, img, sizeof img) == 0);
    ltx_frames_free(&fr);
}

/* _load_mask_video (ic_lora.py): video_preprocess in bfloat16, mean over RGB, (x + 1) / 2,
 * clamp — exercises the bf16 path of the preprocessing on upscaled video frames. */
TEST(mask_video_preprocess_matches_golden)
{
    ltx_st_file *g = open_golden("pipelines/pipeline_ic_lora.safetensors");
    const ltx_st_entry *in = entry(g, "in.mask_video.frames_uint8");
    const ltx_st_entry *want = entry(g, "in.conditioning_attention_mask");
    if (in && want) {
        const int F = (int)want->shape[2], H = (int)want->shape[3], W = (int)want->shape[4];
        const size_t plane = (size_t)F * H * W;
        float *o = malloc(sizeof(float) * 3 * plane);
        CHECK(ltx_media_preprocess(in->data, F, (int)in->shape[1], (int)in->shape[2], H, W, true,
                                   o) == LTX_OK);
        const float *w = want->data;
        size_t bad = 0;
        for (size_t i = 0; i < plane; i++) {
            /* torch 1.13 CPU mean = sum (float accumulation, rounded to bf16) then div_ by 3
             * in bf16; then bf16 (x + 1) / 2 */
            float m = ltx_round_bf16(o[i] + o[plane + i] + o[2 * plane + i]);
            m = ltx_round_bf16(m / 3.0f);
            float v = ltx_round_bf16(ltx_round_bf16(m + 1.0f) / 2.0f);
            v = v < 0 ? 0 : (v > 1 ? 1 : v);
            if (v != w[i]) bad++;
        }
        printf("measure: ic_lora in.conditioning_attention_mask: %zu/%zu values differ\n", bad,
               plane);
        CHECK(bad == 0);
        free(o);
    }
    ltx_st_close(g);
}

/* ---- resampling ---- */
static void check_resample(const char *golden, const char *in_name, int sr_in, const char *out_name,
                           double tol)
{
    ltx_st_file *g = open_golden(golden);
    const ltx_st_entry *in = entry(g, in_name), *want = entry(g, out_name);
    if (in && want) {
        const int64_t n = in->shape[in->ndim - 1];
        const int ch = (int)(in->nbytes / 4 / (size_t)n);
        float *y = NULL;
        int64_t ny = 0;
        CHECK(ltx_audio_resample(in->data, ch, n, sr_in, 16000, &y, &ny) == LTX_OK);
        CHECK(ny == want->shape[want->ndim - 1]);
        if (ny == want->shape[want->ndim - 1]) {
            double mx = f32_maxdiff(y, want->data, (size_t)ch * ny);
            printf("measure: resample %d->16000 %s: max|d| %.3g (tol %.0e)\n", sr_in, out_name, mx,
                   tol);
            CHECK(mx <= tol);
        }
        free(y);
    }
    ltx_st_close(g);
}

TEST(resample_matches_torchaudio)
{
    check_resample("modules/audio_mel.safetensors", "in.waveform_24k", 24000,
                   "out.resampled_24k_to_16k", 1e-5);
    check_resample("pipelines/pipeline_a2vid_two_stage.safetensors", "in.audio.waveform", 44100,
                   "audio.resampled_16k", 1e-5);
    check_resample("pipelines/pipeline_retake.safetensors", "in.source.audio_waveform", 48000,
                   "source.audio_resampled_16k", 1e-5);
    CHECK(ltx_audio_resample_len(16538, 44100, 16000) == 6001);
    float x[4] = {1, 2, 3, 4}, *y = NULL;
    int64_t ny = 0;
    CHECK(ltx_audio_resample(x, 1, 4, 16000, 16000, &y, &ny) == LTX_OK && ny == 4 && y[3] == 4);
    free(y);
}

/* ---- error paths ---- */
TEST(errors_name_the_path)
{
    const char *missing = "/tmp/ltx_no_such_media_file.png";
    ltx_frames fr;
    ltx_audio a;
    CHECK(ltx_image_load(missing, &fr) == LTX_ERR_IO);
    CHECK(strstr(ltx_err_message(), missing) != NULL);
    CHECK(ltx_video_decode_frames(missing, 0, -1, &fr) == LTX_ERR_IO);
    CHECK(strstr(ltx_err_message(), missing) != NULL);
    CHECK(ltx_audio_decode(missing, 0, 0, true, &a) == LTX_ERR_IO);
    CHECK(strstr(ltx_err_message(), missing) != NULL);

    char dir[128], bad[256], trunc[256], empty[256], zero[256];
    make_tmpdir(dir, sizeof dir);
    snprintf(bad, sizeof bad, "%s/garbage.mp4", dir);
    snprintf(trunc, sizeof trunc, "%s/truncated.png", dir);
    snprintf(empty, sizeof empty, "%s/empty.wav", dir);
    snprintf(zero, sizeof zero, "%s/zero_samples.wav", dir);
    FILE *f = fopen(bad, "wb");
    for (int i = 0; i < 4096; i++)
        fputc((i * 7919 + 13) & 0xff, f);
    fclose(f);
    /* first 200 bytes of a real PNG */
    FILE *src = fopen(MEDIA "/i2v_image.png", "rb");
    unsigned char buf[200];
    size_t got = fread(buf, 1, sizeof buf, src);
    fclose(src);
    f = fopen(trunc, "wb");
    fwrite(buf, 1, got, f);
    fclose(f);
    f = fopen(empty, "wb");
    fclose(f);
    /* a valid WAV header with no samples */
    static const unsigned char wav0[44] = {
        'R', 'I', 'F', 'F', 36, 0, 0,   0,   'W', 'A',  'V',  'E', 'f', 'm',  't',
        ' ', 16,  0,   0,   0,  1, 0,   2,   0,   0x80, 0xbb, 0,   0,   0x00, 0xee,
        2,   0,   4,   0,   16, 0, 'd', 'a', 't', 'a',  0,    0,   0,   0};
    f = fopen(zero, "wb");
    fwrite(wav0, 1, sizeof wav0, f);
    fclose(f);

    ltx_status s = ltx_video_decode_frames(bad, 0, -1, &fr);
    CHECK(s != LTX_OK && strstr(ltx_err_message(), bad));
    printf("measure: garbage.mp4 -> %s: %s\n", ltx_status_name(s), ltx_err_message());
    s = ltx_image_load(trunc, &fr);
    CHECK(s != LTX_OK && strstr(ltx_err_message(), trunc));
    CHECK(fr.rgb == NULL && fr.n == 0);
    printf("measure: truncated.png -> %s: %s\n", ltx_status_name(s), ltx_err_message());
    s = ltx_audio_decode(empty, 0, 0, true, &a);
    CHECK(s != LTX_OK && strstr(ltx_err_message(), empty));
    s = ltx_audio_decode(zero, 0, 0, true, &a);
    CHECK(s == LTX_ERR_FORMAT && strstr(ltx_err_message(), zero));
    CHECK(a.data == NULL && a.n == 0);
    printf("measure: zero_samples.wav -> %s: %s\n", ltx_status_name(s), ltx_err_message());
    /* a window past the end of real audio is also "no samples" */
    s = ltx_audio_decode(MEDIA "/a2vid_input.wav", 5.0, 1.0, true, &a);
    CHECK(s == LTX_ERR_FORMAT && strstr(ltx_err_message(), "a2vid_input.wav"));
    unlink(bad);
    unlink(trunc);
    unlink(empty);
    unlink(zero);
    rmdir(dir);
}

TEST_MAIN()
