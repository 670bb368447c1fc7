/*
 * test_output_buffers.c — ltx_generate_params.on_output: the tiny distilled pipeline hands its
 * decoded frames (uint8 RGB) and audio (f32 stereo) to the callback, with no mp4 written when
 * output_path is NULL; a non-zero return fails the call with LTX_ERR_ABORTED; a caller built
 * before the field (smaller struct_size) still needs output_path.
 */
#include "harness.h"
#include "test_util.h"

#include "ltx.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define D LTX_TEST_DATA "/golden"

typedef struct seen {
    int calls, n_frames, h, w, sr, distinct, stop;
    double fps, audio_energy;
    int64_t n_samples;
} seen;

static int on_output(void *user, const uint8_t *rgb, int n_frames, int h, int w, double fps,
                     const float *audio, int64_t n_samples, int sr)
{
    seen *s = user;
    s->calls++;
    s->n_frames = n_frames, s->h = h, s->w = w, s->fps = fps, s->n_samples = n_samples, s->sr = sr;
    int hist[256] = {0};
    for (size_t i = 0; i < (size_t)n_frames * h * w * 3; i++)
        hist[rgb[i]] = 1;
    for (int i = 0; i < 256; i++)
        s->distinct += hist[i];
    for (int64_t i = 0; audio && i < 2 * n_samples; i++)
        s->audio_energy += (double)audio[i] * audio[i];
    return s->stop;
}

TEST(frames_and_audio_through_the_callback)
{
    ltx_engine_params ep;
    ltx_engine_params_init(&ep);
    ep.device = "cpu";
    ep.log = NULL;
    ltx_engine *e = NULL;
    CHECK(ltx_engine_open(&ep, &e) == LTX_OK);
    if (!e) return;
    char tok[4096];
    tu_tokenizer_path(tok, sizeof tok);
    seen s;
    memset(&s, 0, sizeof s);
    ltx_generate_params g;
    ltx_generate_params_init(&g);
    g.prompt = "A red fox";
    g.gemma_root = D "/tiny_gemma";
    g.tokenizer = tok;
    g.output_path = NULL;
    g.height = 64, g.width = 128, g.num_frames = 9;
    g.on_output = on_output;
    g.output_user = &s;
    ltx_distilled_params dp;
    ltx_distilled_params_init(&dp);
    dp.distilled_checkpoint_path = D "/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors";
    dp.spatial_upsampler_path = D "/tiny_ckpt/tiny-ltx-2.3-spatial-upscaler-x2.safetensors";
    CHECK_MSG(ltx_generate_distilled(e, &g, &dp) == LTX_OK, "%s", ltx_engine_last_error(e));
    CHECK(s.calls == 1);
    CHECK_MSG(s.n_frames == 9 && s.h == 64 && s.w == 128, "%d frames %dx%d", s.n_frames, s.w, s.h);
    CHECK(s.fps == 24.0);
    CHECK_MSG(s.distinct > 16, "frames hold %d distinct byte values", s.distinct);
    CHECK(s.sr == 48000 && s.n_samples > 0 && s.audio_energy > 0);
    printf("  on_output: %d frames %dx%d @ %g fps, %lld audio samples @ %d Hz\n", s.n_frames, s.w,
           s.h, s.fps, (long long)s.n_samples, s.sr);

    s.stop = 1;
    CHECK(ltx_generate_distilled(e, &g, &dp) == LTX_ERR_ABORTED);

    g.struct_size = offsetof(ltx_generate_params, on_output); /* an older caller */
    CHECK(ltx_generate_distilled(e, &g, &dp) == LTX_ERR_INVALID_ARG);
    CHECK(strstr(ltx_engine_last_error(e), "--output-path is required") != NULL);
    ltx_engine_close(e);
}

TEST_MAIN()
