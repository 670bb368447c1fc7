/*
 * test_audio.c — end-to-end audio path with the tiny checkpoint: a synthetic stereo sine-sweep
 * WAV (written here, 44.1 kHz s16) -> FFmpeg decode -> torchaudio-style resample to 16 kHz ->
 * log-mel -> audio VAE encode -> decode -> vocoder + BWE -> 48 kHz stereo; shapes, lengths,
 * finiteness and range on "cpu" and "cpu-restricted"; the STFT capability fallback (logged,
 * counted, refused in strict mode); error paths (unreadable file, zero-length audio, too short,
 * mono into the encoder, bad vocoder input) with their messages checked.
 * (Numerical agreement with the reference is the golden replays' job: tests/golden/goldens.txt.)
 */
#include "harness.h"

#include "backend/backend.h"
#include "core/threadpool.h"
#include "io/media.h"
#include "models/audio_vae.h"
#include "models/mel.h"
#include "models/vocoder.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define CKPT LTX_TEST_DATA "/golden/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors"

static void put16(FILE *f, unsigned v)
{
    fputc(v & 0xff, f), fputc((v >> 8) & 0xff, f);
}
static void put32(FILE *f, unsigned v)
{
    put16(f, v & 0xffff), put16(f, v >> 16);
}

/* s16 PCM WAV with 1 or 2 channels: left sweeps f0 -> f1, right f1 -> f0 (linear chirps),
 * amplitude 0.5. */
static void write_wav(const char *path, int channels, int rate, int n, double f0, double f1)
{
    FILE *f = fopen(path, "wb");
    const unsigned data = (unsigned)n * 2u * (unsigned)channels;
    fwrite("RIFF", 1, 4, f), put32(f, 36 + data), fwrite("WAVEfmt ", 1, 8, f);
    put32(f, 16), put16(f, 1), put16(f, (unsigned)channels), put32(f, (unsigned)rate);
    put32(f, (unsigned)(rate * 2 * channels)), put16(f, (unsigned)(2 * channels)), put16(f, 16);
    fwrite("data", 1, 4, f), put32(f, data);
    const double T = (double)n / rate;
    for (int i = 0; i < n; i++) {
        const double t = (double)i / rate;
        const double pl = 2 * M_PI * (f0 * t + (f1 - f0) * t * t / (2 * T));
        const double pr = 2 * M_PI * (f1 * t + (f0 - f1) * t * t / (2 * T));
        put16(f, (unsigned)(int16_t)lrint(0.5 * sin(pl) * 32767));
        if (channels == 2) put16(f, (unsigned)(int16_t)lrint(0.5 * sin(pr) * 32767));
    }
    fclose(f);
}

static void write_sweep_wav(const char *path, int rate, int n, double f0, double f1)
{
    write_wav(path, 2, rate, n, f0, f1);
}

static bool all_finite_in(const ltx_tensor *t, float lo, float hi)
{
    float *h = ltx_tensor_to_host_f32(t);
    if (!h) return false;
    bool ok = true;
    for (int64_t i = 0; i < ltx_tensor_numel(t); i++)
        ok = ok && isfinite(h[i]) && h[i] >= lo && h[i] <= hi;
    free(h);
    return ok;
}

static void roundtrip_on(bool restricted)
{
    ltx_threadpool *pool = ltx_threadpool_create(2);
    ltx_backend *be = NULL;
    CHECK(ltx_cpu_backend_create(restricted, NULL, pool, &be) == LTX_OK);
    char path[] = "/tmp/ltx_audio_sweep_XXXXXX.wav";
    int fd = mkstemps(path, 4);
    CHECK(fd >= 0);
    close(fd);
    const int rate = 44100, n = 44100; /* 1.0 s */
    write_sweep_wav(path, rate, n, 100.0, 6000.0);

    ltx_audio a = {0};
    CHECK(ltx_audio_decode(path, 0.0, 0.0, true, &a) == LTX_OK);
    CHECK(a.channels == 2 && a.sample_rate == rate && a.n == n);
    float *w16 = NULL;
    int64_t n16 = 0;
    CHECK(ltx_audio_resample(a.data, 2, a.n, rate, 16000, &w16, &n16) == LTX_OK);
    CHECK(n16 == 16000);

    ltx_st_file *st = NULL;
    CHECK(ltx_st_open(CKPT, &st) == LTX_OK);
    ltx_audio_encoder *enc = NULL;
    ltx_audio_decoder *dec = NULL;
    ltx_vocoder *voc = NULL;
    CHECK(ltx_audio_encoder_load(be, st, &enc) == LTX_OK);
    CHECK(ltx_audio_decoder_load(be, st, &dec) == LTX_OK);
    CHECK(ltx_vocoder_load(be, st, &voc) == LTX_OK);
    if (!enc || !dec || !voc) goto done;
    CHECK(ltx_vocoder_output_rate(voc) == 48000);

    const ltx_audio_vae_config *c = ltx_audio_encoder_config(enc);
    ltx_audio_processor ap;
    CHECK(ltx_audio_processor_init(&ap, c->sample_rate, c->mel_bins, c->mel_hop_length, c->n_fft) ==
          LTX_OK);
    const int64_t ws[3] = {1, 2, n16};
    ltx_tensor *wave = ltx_tensor_from_host(be, LTX_F32, 3, ws, w16), *mel = NULL, *lat = NULL;
    ltx_tensor *lat2 = NULL, *mel2 = NULL, *out = NULL, *full = NULL;
    CHECK(ltx_audio_processor_waveform_to_mel(&ap, be, wave, 16000, &mel) == LTX_OK);
    const int64_t T = 1 + n16 / 160; /* 101 mel frames at 100 Hz */
    CHECK(mel && mel->ndim == 4 && mel->shape[1] == 2 && mel->shape[2] == T && mel->shape[3] == 64);
    CHECK(mel && all_finite_in(mel, logf(1e-5f) - 1e-3f, 20.0f));
    CHECK(ltx_audio_encoder_forward(enc, mel, NULL, &lat) == LTX_OK);
    const int64_t Tl = (T - 1) / 2 / 2 + 1; /* two causal stride-2 downsamples: 26 */
    CHECK(lat && lat->shape[0] == 1 && lat->shape[1] == 8 && lat->shape[2] == Tl &&
          lat->shape[3] == 16);
    CHECK(lat && all_finite_in(lat, -1e30f, 1e30f));
    /* encode_audio from the 44.1 kHz waveform (resampled inside) gives the same latent */
    {
        const int64_t s44[3] = {1, 2, a.n};
        ltx_tensor *w44 = ltx_tensor_from_host(be, LTX_F32, 3, s44, a.data);
        CHECK(ltx_audio_encode_waveform(enc, w44, rate, NULL, &lat2) == LTX_OK);
        float *x = lat ? ltx_tensor_to_host_f32(lat) : NULL,
              *y = lat2 ? ltx_tensor_to_host_f32(lat2) : NULL;
        double md = x && y ? 0 : 1e9;
        for (int64_t i = 0; x && y && i < ltx_tensor_numel(lat); i++)
            md = fmax(md, fabs((double)x[i] - y[i]));
        CHECK_MSG(md == 0.0, "encode_waveform(44.1k) vs explicit resample+mel+encode: %g", md);
        free(x), free(y);
        ltx_tensor_free(w44);
    }
    CHECK(ltx_audio_decoder_forward(dec, lat, NULL, &mel2) == LTX_OK);
    CHECK(mel2 && mel2->shape[1] == 2 && mel2->shape[2] == 4 * Tl - 3 && mel2->shape[3] == 64);
    CHECK(ltx_vocoder_forward(voc, mel2, NULL, &out) == LTX_OK);
    const int64_t n48 = 480 * (4 * Tl - 3); /* 160 x 3 samples per mel frame: 48480 */
    CHECK(out && out->ndim == 3 && out->shape[0] == 1 && out->shape[1] == 2 &&
          out->shape[2] == n48);
    CHECK(ltx_vocoder_output_len(voc, 4 * Tl - 3) == n48);
    CHECK(out && all_finite_in(out, -1.0f, 1.0f));
    /* the pipelines' decode_audio: (2, N) */
    CHECK(ltx_audio_decode_full(dec, voc, lat, NULL, &full) == LTX_OK);
    CHECK(full && full->ndim == 2 && full->shape[0] == 2 && full->shape[1] == n48);
    printf("measure: %s: 1.0 s sweep @44.1k -> %lld samples @16k -> mel %lld -> latent %lld -> "
           "mel %lld -> %lld samples @48k stereo (%.4f s)\n",
           be->device_name, (long long)n16, (long long)T, (long long)Tl, (long long)(4 * Tl - 3),
           (long long)n48, n48 / 48000.0);
    /* the STFT is a host fallback exactly on the device without complex support */
    CHECK(restricted ? be->n_fallbacks > 0 : be->n_fallbacks == 0);
    ltx_tensor_free(wave), ltx_tensor_free(mel), ltx_tensor_free(lat), ltx_tensor_free(lat2);
    ltx_tensor_free(mel2), ltx_tensor_free(out), ltx_tensor_free(full);
    ltx_audio_processor_release(&ap);
done:
    ltx_audio_encoder_free(enc);
    ltx_audio_decoder_free(dec);
    ltx_vocoder_free(voc);
    ltx_st_close(st);
    ltx_audio_free(&a);
    free(w16);
    unlink(path);
    ltx_backend_destroy(be);
    ltx_threadpool_destroy(pool);
}

TEST(roundtrip_sine_sweep_cpu)
{
    roundtrip_on(false);
}

TEST(roundtrip_sine_sweep_cpu_restricted)
{
    roundtrip_on(true);
}

TEST(stft_fallback_strict)
{
    ltx_backend *be = NULL;
    CHECK(ltx_backend_create("cpu-restricted", NULL, NULL, true, &be) == LTX_OK);
    ltx_audio_processor ap;
    CHECK(ltx_audio_processor_init(&ap, 16000, 64, 160, 1024) == LTX_OK);
    float w[2 * 2000] = {0};
    const int64_t s[3] = {1, 2, 2000};
    ltx_tensor *x = ltx_tensor_from_host(be, LTX_F32, 3, s, w), *mel = NULL;
    ltx_status st = ltx_audio_processor_waveform_to_mel(&ap, be, x, 16000, &mel);
    CHECK(st == LTX_ERR_UNSUPPORTED && mel == NULL);
    CHECK(strstr(ltx_err_message(), "complex.stft") != NULL);
    printf("measure: strict cpu-restricted mel -> %s: %s\n", ltx_status_name(st),
           ltx_err_message());
    ltx_tensor_free(x);
    ltx_audio_processor_release(&ap);
    ltx_backend_destroy(be);
}

TEST(error_paths)
{
    ltx_backend *be = NULL;
    CHECK(ltx_cpu_backend_create(false, NULL, NULL, &be) == LTX_OK);
    /* unreadable file */
    const char *missing = "/tmp/ltx_no_such_audio_file.wav";
    ltx_audio a = {0};
    ltx_status s = ltx_audio_decode(missing, 0, 0, true, &a);
    CHECK(s == LTX_ERR_IO && strstr(ltx_err_message(), missing));
    printf("measure: missing file -> %s: %s\n", ltx_status_name(s), ltx_err_message());
    /* zero-length audio: a valid WAV header with no samples */
    char zero[] = "/tmp/ltx_audio_zero_XXXXXX.wav";
    int fd = mkstemps(zero, 4);
    close(fd);
    write_sweep_wav(zero, 16000, 0, 100, 200);
    s = ltx_audio_decode(zero, 0, 0, true, &a);
    CHECK(s == LTX_ERR_FORMAT && strstr(ltx_err_message(), zero) && a.n == 0);
    printf("measure: zero-length wav -> %s: %s\n", ltx_status_name(s), ltx_err_message());
    unlink(zero);
    /* zero-length and too-short waveforms into the mel front-end */
    ltx_audio_processor ap;
    CHECK(ltx_audio_processor_init(&ap, 16000, 64, 160, 1024) == LTX_OK);
    float buf[2 * 600] = {0};
    const int64_t s0[3] = {1, 2, 0}, s1[3] = {1, 2, 300};
    ltx_tensor *x0 = ltx_tensor_new(be, LTX_F32, 3, s0),
               *x1 = ltx_tensor_from_host(be, LTX_F32, 3, s1, buf);
    ltx_tensor *mel = NULL;
    s = ltx_audio_processor_waveform_to_mel(&ap, be, x0, 16000, &mel);
    CHECK(s == LTX_ERR_INVALID_ARG && strstr(ltx_err_message(), "zero-length") && !mel);
    printf("measure: 0 samples -> %s: %s\n", ltx_status_name(s), ltx_err_message());
    s = ltx_audio_processor_waveform_to_mel(&ap, be, x1, 16000, &mel);
    CHECK(s == LTX_ERR_INVALID_ARG && strstr(ltx_err_message(), "too short") && !mel);
    printf("measure: 300 samples -> %s: %s\n", ltx_status_name(s), ltx_err_message());
    /* non-finite samples are refused, not propagated */
    float nanbuf[2 * 600] = {0};
    nanbuf[7] = NAN;
    const int64_t s2[3] = {1, 2, 600};
    ltx_tensor *xn = ltx_tensor_from_host(be, LTX_F32, 3, s2, nanbuf);
    s = ltx_audio_processor_waveform_to_mel(&ap, be, xn, 16000, &mel);
    CHECK(s == LTX_ERR_INVALID_ARG && strstr(ltx_err_message(), "non-finite"));
    ltx_audio_processor_release(&ap);

    ltx_st_file *st = NULL;
    CHECK(ltx_st_open(CKPT, &st) == LTX_OK);
    ltx_audio_encoder *enc = NULL;
    ltx_vocoder *voc = NULL;
    CHECK(ltx_audio_encoder_load(be, st, &enc) == LTX_OK);
    CHECK(ltx_vocoder_load(be, st, &voc) == LTX_OK);
    /* mono into the encoder: the reference fails with an opaque conv error; we say what to do */
    const int64_t sm[3] = {1, 1, 600};
    ltx_tensor *mono = ltx_tensor_from_host(be, LTX_F32, 3, sm, buf), *lat = NULL;
    s = enc ? ltx_audio_encode_waveform(enc, mono, 16000, NULL, &lat) : LTX_OK;
    CHECK(s == LTX_ERR_INVALID_ARG && strstr(ltx_err_message(), "up-mixed"));
    printf("measure: mono into encoder -> %s: %s\n", ltx_status_name(s), ltx_err_message());
    /* a mel with the wrong number of bins into the vocoder */
    const int64_t sv[4] = {1, 2, 10, 80};
    ltx_tensor *bad = ltx_tensor_zeros(be, LTX_F32, 4, sv), *w = NULL;
    s = voc ? ltx_vocoder_forward(voc, bad, NULL, &w) : LTX_OK;
    CHECK(s == LTX_ERR_INVALID_ARG && strstr(ltx_err_message(), "(B, 2, T, 64)") && !w);
    /* a checkpoint whose audio tensors are missing names the key */
    ltx_audio_vae_config cfg;
    CHECK(ltx_audio_vae_config_parse(ltx_st_metadata(st, "config"), &cfg) == LTX_OK);
    ltx_audio_st_src ss;
    ltx_audio_wsrc src = ltx_audio_st_src_init(&ss, st, "audio_vae.nope.", NULL);
    ltx_audio_encoder *e2 = NULL;
    s = ltx_audio_encoder_create(be, &cfg, &src, &e2);
    CHECK(s == LTX_ERR_FORMAT && !e2 &&
          strstr(ltx_err_message(), "audio_vae.nope.conv_in.conv.weight"));
    printf("measure: missing weights -> %s: %s\n", ltx_status_name(s), ltx_err_message());
    ltx_tensor_free(x0), ltx_tensor_free(x1), ltx_tensor_free(xn), ltx_tensor_free(mono);
    ltx_tensor_free(bad);
    ltx_audio_encoder_free(enc);
    ltx_vocoder_free(voc);
    ltx_st_close(st);
    ltx_backend_destroy(be);
}

typedef struct log_capture {
    char text[2048];
} log_capture;

static void capture(void *user, ltx_log_level level, const char *line)
{
    (void)level;
    log_capture *c = user;
    strncat(c->text, line, sizeof c->text - strlen(c->text) - 2);
    strcat(c->text, "\n");
}

/* ltx_audio_encode_file: the pipelines' entry (decode, stereo, resample, mel, encode) */
TEST(encode_file_stereo_mono_none)
{
    ltx_backend *be = NULL;
    CHECK(ltx_cpu_backend_create(false, NULL, NULL, &be) == LTX_OK);
    ltx_st_file *st = NULL;
    ltx_audio_encoder *enc = NULL;
    CHECK(ltx_st_open(CKPT, &st) == LTX_OK);
    CHECK(ltx_audio_encoder_load(be, st, &enc) == LTX_OK);
    log_capture cap = {{0}};
    ltx_log log = {LTX_LOG_DEBUG, capture, &cap};
    char st_path[] = "/tmp/ltx_audio_st_XXXXXX.wav", mono[] = "/tmp/ltx_audio_mono_XXXXXX.wav";
    close(mkstemps(st_path, 4));
    close(mkstemps(mono, 4));
    write_wav(st_path, 2, 24000, 24000, 200, 3000);
    write_wav(mono, 1, 24000, 24000, 200, 3000);
    ltx_tensor *lat = NULL, *ref = NULL, *lm = NULL, *none = NULL;
    ltx_audio a = {0};
    /* stereo file, window [0.1 s, 0.1 + 0.6 s): same latent as decode + encode_waveform */
    CHECK(enc && ltx_audio_encode_file(enc, st_path, 0.1, 0.6, &log, &lat, &a) == LTX_OK);
    CHECK(lat && lat->shape[1] == 8 && lat->shape[2] == (1 + 9600 / 160 - 1) / 4 + 1);
    CHECK(a.channels == 2 && a.n == 14400 && a.sample_rate == 24000 && cap.text[0] == 0);
    if (lat && a.data) {
        const int64_t sh[3] = {1, 2, a.n};
        ltx_tensor *w = ltx_tensor_from_host(be, LTX_F32, 3, sh, a.data);
        CHECK(ltx_audio_encode_waveform(enc, w, 24000, NULL, &ref) == LTX_OK);
        float *x = ltx_tensor_to_host_f32(lat), *y = ltx_tensor_to_host_f32(ref);
        bool same = true;
        for (int64_t i = 0; i < ltx_tensor_numel(lat); i++)
            same = same && x[i] == y[i];
        CHECK(same);
        free(x), free(y);
        ltx_tensor_free(w);
    }
    /* mono: duplicated to stereo and logged (the reference fails on mono) */
    CHECK(enc && ltx_audio_encode_file(enc, mono, 0, 0, &log, &lm, NULL) == LTX_OK);
    CHECK(lm && lm->shape[2] == 26);
    CHECK_MSG(strstr(cap.text, "1 channel") && strstr(cap.text, "mono"), "log: %s", cap.text);
    printf("measure: mono file log: %s", cap.text);
    /* a file without an audio stream: no latent, no error (the reference's None) */
    CHECK(enc &&
          ltx_audio_encode_file(enc, LTX_TEST_DATA "/golden/media/ic_reference.mp4", 0, 0, &log,
                                &none, NULL) == LTX_OK &&
          none == NULL);
    /* unreadable */
    ltx_status s =
        enc ? ltx_audio_encode_file(enc, "/tmp/ltx_no_such.wav", 0, 0, &log, &none, NULL) : LTX_OK;
    CHECK(s == LTX_ERR_IO && strstr(ltx_err_message(), "/tmp/ltx_no_such.wav"));
    /* a window too short for the STFT names the file */
    s = enc ? ltx_audio_encode_file(enc, st_path, 0, 0.01, &log, &none, NULL) : LTX_OK;
    CHECK(s == LTX_ERR_INVALID_ARG && strstr(ltx_err_message(), st_path) &&
          strstr(ltx_err_message(), "too short"));
    printf("measure: 10 ms window -> %s: %s\n", ltx_status_name(s), ltx_err_message());
    ltx_tensor_free(lat), ltx_tensor_free(ref), ltx_tensor_free(lm);
    ltx_audio_free(&a);
    unlink(st_path), unlink(mono);
    ltx_audio_encoder_free(enc);
    ltx_st_close(st);
    ltx_backend_destroy(be);
}

/* max |got - want| over want's elements, and whether |d| <= atol + rtol |want| everywhere */
static double cmp_golden(const ltx_tensor *got, const ltx_st_file *g, const char *name, double atol,
                         double rtol, bool *ok)
{
    int64_t n = 0;
    float *want = ltx_st_read_f32(g, name, &n);
    float *x = got ? ltx_tensor_to_host_f32(got) : NULL;
    double md = 0;
    *ok = want && x && n == ltx_tensor_numel(got);
    for (int64_t i = 0; *ok && i < n; i++) {
        double d = fabs((double)x[i] - want[i]);
        md = fmax(md, d);
        *ok = *ok && d <= atol + rtol * fabs(want[i]);
    }
    free(want), free(x);
    return md;
}

static ltx_tensor *golden_in(ltx_backend *be, const ltx_st_file *g, const char *name)
{
    const ltx_st_entry *e = ltx_st_find(g, name);
    int64_t n = 0;
    float *v = e ? ltx_st_read_f32(g, name, &n) : NULL;
    ltx_tensor *t = v ? ltx_tensor_from_host(be, LTX_F32, e->ndim, e->shape, v) : NULL;
    free(v);
    return t;
}

/* The audio sub-paths of the pipeline goldens: input audio -> resample -> mel -> latent (a2vid
 * at 44.1 kHz, retake at 48 kHz) and final latent -> decode_audio (distilled, retake). */
TEST(pipeline_golden_audio_paths)
{
    ltx_backend *be = NULL;
    CHECK(ltx_cpu_backend_create(true, NULL, NULL, &be) == LTX_OK); /* cpu-restricted */
    ltx_st_file *st = NULL;
    ltx_audio_encoder *enc = NULL;
    ltx_audio_decoder *dec = NULL;
    ltx_vocoder *voc = NULL;
    CHECK(ltx_st_open(CKPT, &st) == LTX_OK);
    CHECK(ltx_audio_encoder_load(be, st, &enc) == LTX_OK);
    CHECK(ltx_audio_decoder_load(be, st, &dec) == LTX_OK);
    CHECK(ltx_vocoder_load(be, st, &voc) == LTX_OK);
    static const struct {
        const char *file, *wave, *mel, *lat;
        int rate;
    } enc_cases[] = {
        {"pipeline_a2vid_two_stage", "in.audio.waveform", "audio.mel", "audio.encoded_latent",
         44100},
        {"pipeline_retake", "in.source.audio_waveform", "source.audio_mel", "source.audio_latent",
         48000},
    };
    for (size_t i = 0; i < 2 && enc; i++) {
        char path[512];
        snprintf(path, sizeof path, LTX_TEST_DATA "/golden/pipelines/%s.safetensors",
                 enc_cases[i].file);
        ltx_st_file *g = NULL;
        CHECK(ltx_st_open(path, &g) == LTX_OK);
        ltx_tensor *w = golden_in(be, g, enc_cases[i].wave), *mel = NULL, *lat = NULL;
        ltx_audio_processor ap;
        CHECK(ltx_audio_processor_init(&ap, 16000, 64, 160, 1024) == LTX_OK);
        CHECK(w &&
              ltx_audio_processor_waveform_to_mel(&ap, be, w, enc_cases[i].rate, &mel) == LTX_OK);
        CHECK(mel && ltx_audio_encoder_forward(enc, mel, NULL, &lat) == LTX_OK);
        bool ok1, ok2;
        double d1 = cmp_golden(mel, g, enc_cases[i].mel, 1e-4, 0, &ok1);
        double d2 = cmp_golden(lat, g, enc_cases[i].lat, 2e-4, 1e-4, &ok2);
        CHECK_MSG(ok1 && ok2, "%s: mel %g latent %g", enc_cases[i].file, d1, d2);
        printf("measure: %s: %s max |diff| %.3g, %s %.3g\n", enc_cases[i].file, enc_cases[i].mel,
               d1, enc_cases[i].lat, d2);
        ltx_audio_processor_release(&ap);
        ltx_tensor_free(w), ltx_tensor_free(mel), ltx_tensor_free(lat);
        ltx_st_close(g);
    }
    static const struct {
        const char *file, *lat;
    } dec_cases[] = {{"pipeline_distilled", "out.stage2.audio_latent"},
                     {"pipeline_retake", "out.stage1.audio_latent"}};
    for (size_t i = 0; i < 2 && dec && voc; i++) {
        char path[512];
        snprintf(path, sizeof path, LTX_TEST_DATA "/golden/pipelines/%s.safetensors",
                 dec_cases[i].file);
        ltx_st_file *g = NULL;
        CHECK(ltx_st_open(path, &g) == LTX_OK);
        ltx_tensor *lat = golden_in(be, g, dec_cases[i].lat), *w = NULL;
        CHECK(lat && ltx_audio_decode_full(dec, voc, lat, NULL, &w) == LTX_OK);
        bool ok;
        double d = cmp_golden(w, g, "out.audio_waveform", 2e-4, 0, &ok);
        CHECK_MSG(ok, "%s: waveform %g", dec_cases[i].file, d);
        printf("measure: %s: out.audio_waveform max |diff| %.3g\n", dec_cases[i].file, d);
        ltx_tensor_free(lat), ltx_tensor_free(w);
        ltx_st_close(g);
    }
    ltx_audio_encoder_free(enc);
    ltx_audio_decoder_free(dec);
    ltx_vocoder_free(voc);
    ltx_st_close(st);
    ltx_backend_destroy(be);
}

TEST_MAIN()
