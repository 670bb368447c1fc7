/*
 * test_model_cache_runs.c — the engine's model cache end to end on the tiny models: generate
 * calls on one engine with the cache on give byte-identical frames and audio to a cache-off
 * engine (the first call, which fills the cache, and the second, which is served from it);
 * the second call loads nothing (cache hits, no misses); a call that changes a LoRA strength
 * differs from the first and equals a fresh cache-off run at that strength, and going back to
 * the first strength gives the first output again (fused weights never leak between LoRA
 * settings), nor do --quantization or --reference-version; a call at another size matches
 * too; a two-stage pipeline with different LoRA
 * sets per stage (two transformers) matches its cache-off output, also under a budget that
 * holds only one model at a time
 * (eviction between stages, models over the budget freed by their stage); image conditioning
 * (video VAE encoder), retake (tiled video encode, audio VAE encoder) and layer streaming (the
 * streamed transformer is never cached) match their cache-off outputs.
 */
#include "harness.h"
#include "test_util.h"

#include "ltx.h"

#include <stdlib.h>
#include <string.h>

#define D     LTX_TEST_DATA "/golden"
#define CKPT  D "/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors"
#define UPS   D "/tiny_ckpt/tiny-ltx-2.3-spatial-upscaler-x2.safetensors"
#define ULORA D "/tiny_ckpt/tiny-lora-r4.safetensors"
#define DLORA D "/tiny_ckpt/tiny-distilled-lora-r8.safetensors"

/* One call's output, copied out of the on_output callback. */
typedef struct out_buf {
    uint8_t *rgb;
    size_t n_rgb;
    float *audio;
    size_t n_audio;
} out_buf;

static int on_output(void *user, const uint8_t *rgb, int n_frames, int h, int w, double fps,
                     const float *audio, int64_t n_samples, int sr)
{
    (void)fps, (void)sr;
    out_buf *o = user;
    o->n_rgb = (size_t)n_frames * h * w * 3;
    o->rgb = malloc(o->n_rgb);
    o->n_audio = (size_t)(2 * n_samples);
    o->audio = malloc(sizeof(float) * (o->n_audio ? o->n_audio : 1));
    if (!o->rgb || !o->audio) return 1;
    memcpy(o->rgb, rgb, o->n_rgb);
    if (audio) memcpy(o->audio, audio, sizeof(float) * o->n_audio);
    return 0;
}

static void out_free(out_buf *o)
{
    free(o->rgb);
    free(o->audio);
    memset(o, 0, sizeof *o);
}

static bool same(const out_buf *a, const out_buf *b)
{
    return a->n_rgb && a->n_rgb == b->n_rgb && a->n_audio == b->n_audio &&
           !memcmp(a->rgb, b->rgb, a->n_rgb) &&
           !memcmp(a->audio, b->audio, sizeof(float) * a->n_audio);
}

static ltx_engine *open_engine(size_t cache_bytes)
{
    ltx_engine_params ep;
    ltx_engine_params_init(&ep);
    ep.device = "cpu";
    ep.n_threads = 2;
    ep.log = NULL;
    ep.cache_bytes = cache_bytes;
    ltx_engine *e = NULL;
    if (ltx_engine_open(&ep, &e) != LTX_OK) return NULL;
    return e;
}

static char g_tok[4096];

static void base_params(ltx_generate_params *g, out_buf *o, ltx_lora_input *lora, int n_lora)
{
    ltx_generate_params_init(g);
    g->prompt = "A red fox";
    g->gemma_root = D "/tiny_gemma";
    g->tokenizer = g_tok;
    g->output_path = NULL;
    g->height = 64, g->width = 128, g->num_frames = 9;
    g->seed = 7;
    g->on_output = on_output;
    g->output_user = o;
    g->loras = lora;
    g->n_loras = n_lora;
}

/* Settings that change the loaded transformer (part of its cache key). */
typedef struct variant {
    const char *quantization;
    ltx_reference_version ref;
} variant;

/* Distilled, with the user LoRA at `strength` (0 = no LoRA), at height x width, with v's
 * settings (NULL = defaults). */
static ltx_status distilled_v(ltx_engine *e, double strength, int height, int width,
                              const variant *v, out_buf *o)
{
    ltx_lora_input l = {.path = ULORA, .strength = strength};
    ltx_generate_params g;
    base_params(&g, o, &l, strength != 0 ? 1 : 0);
    g.height = height;
    g.width = width;
    if (v) {
        g.quantization = v->quantization;
        g.reference_version = v->ref;
    }
    ltx_distilled_params dp;
    ltx_distilled_params_init(&dp);
    dp.distilled_checkpoint_path = CKPT;
    dp.spatial_upsampler_path = UPS;
    return ltx_generate_distilled(e, &g, &dp);
}

static ltx_status distilled(ltx_engine *e, double strength, out_buf *o)
{
    return distilled_v(e, strength, 64, 128, NULL, o);
}

/* ti2vid_two_stages: stage 1 with the user LoRA, stage 2 with user + distilled LoRAs. */
static ltx_status two_stages(ltx_engine *e, out_buf *o)
{
    ltx_lora_input l = {.path = ULORA, .strength = 0.7};
    ltx_generate_params g;
    base_params(&g, o, &l, 1);
    ltx_guided_params gp;
    ltx_guided_params_init(&gp);
    gp.checkpoint_path = CKPT;
    gp.spatial_upsampler_path = UPS;
    gp.num_inference_steps = 2;
    gp.video.stg_blocks[0] = 1; /* the tiny transformer has 2 blocks */
    gp.audio.stg_blocks[0] = 1;
    ltx_lora_input dl = {.path = DLORA, .strength = 0.8};
    gp.distilled_loras = &dl;
    gp.n_distilled_loras = 1;
    return ltx_generate_two_stages(e, &g, &gp);
}

static int hits(const ltx_engine *e)
{
    int h = 0;
    ltx_engine_cache_stats(e, NULL, NULL, &h, NULL);
    return h;
}

static int misses(const ltx_engine *e)
{
    int m = 0;
    ltx_engine_cache_stats(e, NULL, NULL, NULL, &m);
    return m;
}

TEST(cache_on_is_bit_identical_and_lora_safe)
{
    tu_tokenizer_path(g_tok, sizeof g_tok);
    ltx_engine *off = open_engine(0), *on = open_engine((size_t)1 << 30);
    CHECK(off && on);
    if (!off || !on) return;
    out_buf ref = {0}, a = {0}, b = {0}, s1 = {0}, s1_fresh = {0}, back = {0};
    CHECK_MSG(distilled(off, 0.5, &ref) == LTX_OK, "%s", ltx_engine_last_error(off));
    CHECK_MSG(distilled(on, 0.5, &a) == LTX_OK, "%s", ltx_engine_last_error(on));
    int h1 = hits(on), m1 = misses(on);
    CHECK_MSG(distilled(on, 0.5, &b) == LTX_OK, "%s", ltx_engine_last_error(on));
    int h2 = hits(on), m2 = misses(on);
    printf("  first call: %d hits, %d misses; second call: %d hits, %d misses\n", h1, m1, h2 - h1,
           m2 - m1);
    CHECK_MSG(same(&ref, &a), "first cached call differs from the cache-off run");
    CHECK_MSG(same(&ref, &b), "second (cache-served) call differs from the cache-off run");
    CHECK_MSG(m2 == m1 && h2 - h1 >= 8, "second call: %d misses, %d hits", m2 - m1, h2 - h1);
    int entries = 0;
    ltx_engine_cache_stats(off, NULL, &entries, NULL, NULL);
    CHECK(entries == 0); /* budget 0: nothing kept */

    /* another LoRA strength: a different transformer, never the cached fused one */
    CHECK(distilled(on, 1.0, &s1) == LTX_OK);
    CHECK(distilled(off, 1.0, &s1_fresh) == LTX_OK);
    CHECK_MSG(!same(&s1, &ref), "strength 1.0 gave the strength-0.5 output");
    CHECK_MSG(same(&s1, &s1_fresh), "strength 1.0 on the cached engine differs from a fresh run");
    CHECK(distilled(on, 0.5, &back) == LTX_OK);
    CHECK_MSG(same(&back, &ref), "back at strength 0.5: differs from the first output");
    /* the cached models at another size (nothing sized by the first call is kept) */
    out_buf big = {0}, big_fresh = {0};
    CHECK(distilled_v(on, 0.5, 128, 192, NULL, &big) == LTX_OK);
    CHECK(distilled_v(off, 0.5, 128, 192, NULL, &big_fresh) == LTX_OK);
    CHECK_MSG(same(&big, &big_fresh), "128x192 on the cached engine differs from a fresh run");
    /* --quantization and --reference-version change the transformer: never the cached one */
    static const variant vs[2] = {{"q8_0", LTX_REFERENCE_DEFAULT}, {NULL, LTX_REFERENCE_2026_04}};
    for (int i = 0; i < 2; i++) {
        out_buf q = {0}, q_fresh = {0};
        CHECK(distilled_v(on, 0.5, 64, 128, &vs[i], &q) == LTX_OK);
        CHECK(distilled_v(off, 0.5, 64, 128, &vs[i], &q_fresh) == LTX_OK);
        /* (the tiny distilled run happens to be the same under both reference versions) */
        CHECK_MSG(i == 1 || !same(&q, &ref), "q8_0 gave the default output");
        CHECK_MSG(same(&q, &q_fresh), "variant %d on the cached engine differs from a fresh run",
                  i);
        out_free(&q), out_free(&q_fresh);
    }
    out_free(&ref), out_free(&a), out_free(&b), out_free(&s1), out_free(&s1_fresh);
    out_free(&back), out_free(&big), out_free(&big_fresh);
    ltx_engine_close(on);
    ltx_engine_close(off);
}

TEST(two_stages_and_eviction_match_cache_off)
{
    tu_tokenizer_path(g_tok, sizeof g_tok);
    /* 1 GiB holds everything; 1.2 MB holds one tiny transformer (0.85 MB of checkpoint
     * bytes) or the upsampler (0.74 MB), never both, and none of the VAE-side models (those
     * are then freed when their stage ends): stage 1's transformer is evicted for the
     * upsampler, and that for stage 2's transformer */
    const size_t tight_budget = 1200000;
    ltx_engine *off = open_engine(0), *on = open_engine((size_t)1 << 30),
               *tight = open_engine(tight_budget);
    CHECK(off && on && tight);
    if (!off || !on || !tight) return;
    out_buf ref = {0}, a = {0}, b = {0}, t1 = {0}, t2 = {0};
    CHECK_MSG(two_stages(off, &ref) == LTX_OK, "%s", ltx_engine_last_error(off));
    CHECK_MSG(two_stages(on, &a) == LTX_OK, "%s", ltx_engine_last_error(on));
    int m1 = misses(on);
    CHECK(two_stages(on, &b) == LTX_OK);
    CHECK_MSG(same(&ref, &a) && same(&ref, &b), "two_stages with the cache differs");
    CHECK_MSG(misses(on) == m1, "second two_stages call missed %d times", misses(on) - m1);
    CHECK_MSG(two_stages(tight, &t1) == LTX_OK, "%s", ltx_engine_last_error(tight));
    int tm1 = misses(tight), th1 = hits(tight);
    CHECK(two_stages(tight, &t2) == LTX_OK);
    CHECK_MSG(same(&ref, &t1) && same(&ref, &t2), "two_stages under a tight budget differs");
    size_t held = 0;
    int entries = 0;
    ltx_engine_cache_stats(tight, &held, &entries, NULL, NULL);
    printf("  tight budget: second call %d hits, %d misses; %d entries, %zu bytes held\n",
           hits(tight) - th1, misses(tight) - tm1, entries, held);
    CHECK_MSG(held <= tight_budget, "tight cache holds %zu bytes", held);
    CHECK_MSG(misses(tight) - tm1 >= 3, "no eviction under the tight budget");
    out_free(&ref), out_free(&a), out_free(&b), out_free(&t1), out_free(&t2);
    ltx_engine_close(tight);
    ltx_engine_close(on);
    ltx_engine_close(off);
}

/* Distilled with an --image (the video VAE encoder, both stages) and layer streaming on or
 * off; retake (tiled video encode of the source, audio VAE encoder of its track). */
static ltx_status i2v(ltx_engine *e, int streaming, out_buf *o)
{
    ltx_generate_params g;
    base_params(&g, o, NULL, 0);
    ltx_image_input im = {
        .path = D "/media/i2v_image.png", .frame_idx = 0, .strength = 1.0, .crf = 33};
    g.images = &im;
    g.n_images = 1;
    g.streaming_prefetch_count = streaming;
    ltx_distilled_params dp;
    ltx_distilled_params_init(&dp);
    dp.distilled_checkpoint_path = CKPT;
    dp.spatial_upsampler_path = UPS;
    return ltx_generate_distilled(e, &g, &dp);
}

static ltx_status retake(ltx_engine *e, out_buf *o)
{
    ltx_generate_params g;
    base_params(&g, o, NULL, 0);
    ltx_retake_params rp;
    ltx_retake_params_init(&rp);
    rp.distilled_checkpoint_path = CKPT;
    rp.video_path = D "/media/retake_source.mp4"; /* 25 frames 96x64 @ 24, stereo AAC */
    rp.start_time = 0.4;
    rp.end_time = 0.75;
    return ltx_generate_retake(e, &g, &rp);
}

TEST(encoders_and_streaming_match_cache_off)
{
    tu_tokenizer_path(g_tok, sizeof g_tok);
    ltx_engine *off = open_engine(0), *on = open_engine((size_t)1 << 30);
    CHECK(off && on);
    if (!off || !on) return;
    out_buf ref = {0}, a = {0}, b = {0}, sref = {0}, s1 = {0}, s2 = {0}, rref = {0}, r1 = {0},
            r2 = {0};
    CHECK_MSG(i2v(off, 0, &ref) == LTX_OK, "%s", ltx_engine_last_error(off));
    CHECK(i2v(on, 0, &a) == LTX_OK);
    int h0 = hits(on);
    CHECK(i2v(on, 0, &b) == LTX_OK);
    int hb = hits(on) - h0; /* every model of the run, the transformer in both stages */
    CHECK_MSG(same(&ref, &a) && same(&ref, &b), "i2v with the cache differs");
    /* streaming: the transformer is not cached (a miss-free second call would mean it was) */
    CHECK_MSG(i2v(off, 1, &sref) == LTX_OK, "%s", ltx_engine_last_error(off));
    CHECK(i2v(on, 1, &s1) == LTX_OK);
    int m1 = misses(on), h1 = hits(on);
    CHECK(i2v(on, 1, &s2) == LTX_OK);
    CHECK_MSG(same(&sref, &s1) && same(&sref, &s2), "streamed i2v with the cache differs");
    /* the same hits less the two transformer lookups, which streaming never makes */
    CHECK_MSG(misses(on) == m1 && hits(on) - h1 == hb - 2,
              "streamed run: %d misses, %d hits "
              "(unstreamed: %d hits)",
              misses(on) - m1, hits(on) - h1, hb);
    CHECK_MSG(retake(off, &rref) == LTX_OK, "%s", ltx_engine_last_error(off));
    CHECK(retake(on, &r1) == LTX_OK);
    CHECK(retake(on, &r2) == LTX_OK);
    CHECK_MSG(same(&rref, &r1) && same(&rref, &r2), "retake with the cache differs");
    out_free(&ref), out_free(&a), out_free(&b), out_free(&sref), out_free(&s1), out_free(&s2);
    out_free(&rref), out_free(&r1), out_free(&r2);
    ltx_engine_close(on);
    ltx_engine_close(off);
}

TEST_MAIN()
