/*
 * test_validate_only.c — ltx_generate_params.validate_only (what `ltx2c serve` checks a job with
 * before queueing it): on the tiny checkpoint a valid request returns LTX_OK without writing the
 * output or loading a model (fast), an invalid one is refused with the flag and value named; and
 * the appended field keeps older callers working (a struct ending before validate_only still has
 * its reference_version read and checked).
 */
#include "harness.h"
#include "test_util.h"

#include "ltx.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define D LTX_TEST_DATA "/golden"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

TEST(validate_only_checks_without_running)
{
    ltx_engine_params ep;
    ltx_engine_params_init(&ep);
    ep.device = "cpu";
    ep.n_threads = 1;
    ep.log = NULL;
    ltx_engine *e = NULL;
    CHECK(ltx_engine_open(&ep, &e) == LTX_OK);
    if (!e) return;
    char tok[4096], out[128];
    tu_tokenizer_path(tok, sizeof tok);
    snprintf(out, sizeof out, "/tmp/ltx_validate_only_%d.mp4", (int)getpid());
    ltx_generate_params g;
    ltx_generate_params_init(&g);
    g.prompt = "A red fox";
    g.gemma_root = D "/tiny_gemma";
    g.tokenizer = tok;
    g.output_path = out;
    g.height = 64, g.width = 128, g.num_frames = 9;
    g.validate_only = 1;
    ltx_distilled_params dp;
    ltx_distilled_params_init(&dp);
    dp.distilled_checkpoint_path = D "/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors";
    dp.spatial_upsampler_path = D "/tiny_ckpt/tiny-ltx-2.3-spatial-upscaler-x2.safetensors";
    double t0 = now();
    ltx_status s = ltx_generate_distilled(e, &g, &dp);
    double dt = now() - t0;
    CHECK_MSG(s == LTX_OK, "%s", ltx_engine_last_error(e));
    CHECK_MSG(access(out, F_OK) != 0, "validate_only wrote %s", out);
    CHECK_MSG(dt < 2.0, "validate_only took %.2f s (loaded models?)", dt);
    printf("  validate_only: %.3f s, no output\n", dt);

    g.num_frames = 10;
    CHECK(ltx_generate_distilled(e, &g, &dp) == LTX_ERR_INVALID_ARG);
    CHECK(strstr(ltx_engine_last_error(e), "--num-frames 10") != NULL);
    g.num_frames = 9;
    dp.spatial_upsampler_path = dp.distilled_checkpoint_path;
    CHECK(ltx_generate_distilled(e, &g, &dp) == LTX_ERR_INVALID_ARG);
    CHECK(strstr(ltx_engine_last_error(e), "--spatial-upsampler-path") != NULL);

    /* a caller built before validate_only: reference_version is still read (and checked) */
    g.struct_size = offsetof(ltx_generate_params, validate_only);
    g.reference_version = (ltx_reference_version)7;
    CHECK(ltx_generate_distilled(e, &g, &dp) == LTX_ERR_INVALID_ARG);
    CHECK_MSG(strstr(ltx_engine_last_error(e), "--reference-version") != NULL, "%s",
              ltx_engine_last_error(e));
    ltx_engine_close(e);
}

TEST_MAIN()
