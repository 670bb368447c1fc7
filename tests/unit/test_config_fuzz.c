/*
 * test_config_fuzz.c — deterministic fuzzing of the model config readers: transformer, video
 * VAE, audio VAE, vocoder, latent upsampler (the tiny checkpoint's "config" metadata and the
 * upsampler's) and Gemma 3 (tiny_gemma/config.json), each fed JSON mutants (json_mutate.h):
 * edge numbers (1e30, 2^31, 2^53 + 1, fractions, negatives), wrong types, deleted keys, broken
 * text. A reader must return LTX_OK or an error with a message, never crash; a config it accepts
 * must hold values inside the readers' bounds. Built twice by CMake: plainly (test_config_fuzz,
 * on libltx) and as config_fuzz_asan with only the readers' sources under AddressSanitizer +
 * UBSan, where an out-of-range cast or a bad read aborts the test.
 */
#include "harness.h"
#include "unit/json_mutate.h"

#include "io/file.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "models/audio_vae.h"
#include "models/gemma3.h"
#include "models/ltx_transformer.h"
#include "models/upsampler.h"
#include "models/video_vae.h"
#include "models/vocoder.h"

#include <stdint.h>

#define ITERS 2500
#define D     LTX_TEST_DATA "/golden"

static char *metadata_of(const char *path, const char *key)
{
    ltx_st_file *f = NULL;
    if (ltx_st_open(path, &f) != LTX_OK) return NULL;
    const char *v = ltx_st_metadata(f, key);
    char *out = v ? strdup(v) : NULL;
    ltx_st_close(f);
    return out;
}

static int g_ok, g_err;

static void count(ltx_status s)
{
    if (s == LTX_OK) {
        g_ok++;
    } else {
        g_err++;
        CHECK(ltx_err_message()[0] != 0); /* every refusal says why */
    }
}

/* Runs every reader on `text`; accepted configs must respect the bounds. */
static void run_all(const char *text)
{
    ltx_transformer_config t;
    for (int vo = 0; vo < 2; vo++) {
        ltx_status s = ltx_transformer_config_parse(text, vo, &t);
        count(s);
        if (s == LTX_OK)
            CHECK(t.heads >= 0 && t.heads <= LTX_CFG_MAX_COUNT && t.num_layers >= 0 &&
                  t.num_layers <= LTX_CFG_MAX_COUNT && t.head_dim <= LTX_CFG_MAX_SIZE &&
                  t.norm_eps >= 0 && t.norm_eps <= 1);
    }
    ltx_video_vae_config v;
    ltx_status s = ltx_video_vae_config_parse(text, &v);
    count(s);
    if (s == LTX_OK)
        CHECK(v.patch_size >= 1 && v.patch_size <= 16 && v.latent_channels >= 1 &&
              v.latent_channels <= LTX_CFG_MAX_SIZE);
    ltx_audio_vae_config a;
    count(ltx_audio_vae_config_parse(text, &a));
    ltx_vocoder_config o;
    count(ltx_vocoder_config_parse(text, &o));
    ltx_upsampler_config u;
    s = ltx_upsampler_config_parse(text, &u);
    count(s);
    if (s == LTX_OK)
        CHECK(u.mid_channels >= 1 && u.mid_channels <= LTX_CFG_MAX_SIZE && u.dims >= 1 &&
              u.dims <= 3);
    ltx_gemma3_config g;
    s = ltx_gemma3_config_parse(text, &g);
    count(s);
    if (s == LTX_OK)
        CHECK(g.num_layers >= 1 && g.num_layers <= LTX_GEMMA3_MAX_LAYERS && g.num_heads >= 1 &&
              g.num_heads <= LTX_CFG_MAX_COUNT && g.head_dim >= 2 && g.head_dim <= 2048);
}

TEST(config_readers_survive_mutants)
{
    char *seeds[3] = {
        metadata_of(D "/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors", "config"),
        metadata_of(D "/tiny_ckpt/tiny-ltx-2.3-spatial-upscaler-x2.safetensors", "config"),
        ltx_read_file(D "/tiny_gemma/config.json", NULL, 1 << 20, NULL)};
    for (int i = 0; i < 3; i++) {
        CHECK_MSG(seeds[i] != NULL, "seed %d unreadable", i);
        if (!seeds[i]) return;
    }
    /* the seeds themselves are accepted by the readers they are for */
    ltx_transformer_config t;
    CHECK(ltx_transformer_config_parse(seeds[0], false, &t) == LTX_OK);
    ltx_upsampler_config u;
    CHECK(ltx_upsampler_config_parse(seeds[1], &u) == LTX_OK);
    ltx_gemma3_config g;
    CHECK(ltx_gemma3_config_parse(seeds[2], &g) == LTX_OK);
    for (int it = 0; it < ITERS; it++) {
        char *m = jm_mutant(seeds[it % 3]);
        run_all(m);
        free(m);
    }
    printf("  %d accepted, %d refused over %d mutants x 7 readers\n", g_ok, g_err, ITERS);
    CHECK(g_err > 0 && g_ok > 0);
    for (int i = 0; i < 3; i++)
        free(seeds[i]);
}

TEST_MAIN()
