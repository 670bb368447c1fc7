/*
 * test_text.c — the text path end to end on the tiny models: a prompt through the real Gemma 3
 * tokenizer (<repo>/.cache/tokenizer-gemma3/tokenizer.json — required: the test fails when it
 * is missing), the tiny Gemma 3 (tests/data/golden/tiny_gemma/), the tiny checkpoint's feature
 * extractor and connectors, to the video/audio contexts — shapes, finiteness, cpu vs
 * cpu-restricted agreement. Plus Gemma config parsing (LTX defaults, layer pattern, rejected
 * features). The numerics of each stage are covered by the gemma3_text and text_connector
 * goldens (ltx2c verify).
 */
#include "harness.h"
#include "test_util.h"

#include "backend/backend.h"
#include "models/gemma3.h"
#include "models/text_connector.h"
#include "models/text_encoder.h"

#include <math.h>
#include <time.h>

#define TINY_GEMMA LTX_TEST_DATA "/golden/tiny_gemma"
#define TINY_CKPT  LTX_TEST_DATA "/golden/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors"

TEST(gemma3_config)
{
    ltx_gemma3_config c;
    ltx_gemma3_config_default(&c);
    CHECK(c.hidden_size == 3840 && c.num_layers == 48 && c.head_dim == 256);
    int globals = 0;
    for (int i = 0; i < c.num_layers; i++)
        globals += !c.sliding[i];
    CHECK(globals == 8 && !c.sliding[5] && !c.sliding[47] && c.sliding[0]);
    CHECK(ltx_gemma3_config_parse("{\"text_config\": {\"num_hidden_layers\": 4, "
                                  "\"sliding_window_pattern\": 2, \"rope_scaling\": null}}",
                                  &c) == LTX_OK);
    CHECK(c.num_layers == 4 && c.sliding[0] && !c.sliding[1] && c.rope_linear_factor == 1.0);
    CHECK(ltx_gemma3_config_parse("{\"attn_logit_softcapping\": 50.0}", &c) == LTX_ERR_UNSUPPORTED);
    CHECK(ltx_gemma3_config_parse("{\"rope_scaling\": {\"rope_type\": \"yarn\"}}", &c) ==
          LTX_ERR_UNSUPPORTED);
    CHECK(ltx_gemma3_config_parse("{\"num_hidden_layers\": 2, \"layer_types\": "
                                  "[\"full_attention\"]}",
                                  &c) == LTX_ERR_FORMAT);
}

static ltx_status count_hidden(void *user, int index, const ltx_tensor *h, int64_t row0)
{
    int *calls = user;
    (void)h;
    (void)row0;
    return index == (*calls)++ ? LTX_OK : LTX_ERR_INTERNAL;
}

TEST(gemma3_open_tiny)
{
    int calls = 0;
    ltx_backend *be = NULL;
    CHECK(ltx_cpu_backend_create(false, NULL, NULL, &be) == LTX_OK);
    ltx_gemma3 *m = NULL;
    ltx_status s = ltx_gemma3_open(be, TINY_GEMMA, &m);
    CHECK_MSG(s == LTX_OK, "%s", ltx_err_message());
    if (m) {
        const ltx_gemma3_config *c = ltx_gemma3_get_config(m);
        CHECK(c->hidden_size == 32 && c->num_layers == 3 && c->sliding[0] && !c->sliding[1] &&
              c->sliding[2] && c->query_pre_attn_scalar == 16 && c->rope_linear_factor == 8);
        /* out-of-vocabulary id is refused */
        int32_t ids[2] = {2, 262208}, mask[2] = {1, 1};
        CHECK(ltx_gemma3_forward(m, ids, mask, 2, count_hidden, NULL, &calls) ==
              LTX_ERR_INVALID_ARG);
        CHECK(calls == 0);
        CHECK(ltx_gemma3_forward(m, ids, mask, 2, NULL, NULL, NULL) == LTX_ERR_INVALID_ARG);
        ids[1] = 3;
        CHECK(ltx_gemma3_forward(m, ids, mask, 2, count_hidden, NULL, &calls) == LTX_OK);
        CHECK(calls == 4);
    }
    ltx_gemma3_close(m);
    /* a folder without the model fails cleanly */
    CHECK(ltx_gemma3_open(be, LTX_TEST_DATA "/golden/media", &m) != LTX_OK && !m);
    ltx_backend_destroy(be);
}

/* Encodes the prompts on one device; returns false when anything could not run. */
static bool encode(bool restricted, const char *const *prompts, int n, ltx_text_context *out,
                   ltx_backend **be_out, ltx_st_file **st_out, ltx_text_processor **p_out)
{
    char tok[4096];
    tu_tokenizer_path(tok, sizeof tok);
    FILE *f = fopen(tok, "rb");
    CHECK_MSG(f != NULL, "real tokenizer missing at %s (the setup step fetches it)", tok);
    if (!f) return false;
    fclose(f);
    CHECK(ltx_cpu_backend_create(restricted, NULL, NULL, be_out) == LTX_OK);
    ltx_status s = ltx_st_open(TINY_CKPT, st_out);
    if (s == LTX_OK) s = ltx_text_processor_load(*be_out, *st_out, 0, p_out);
    CHECK_MSG(s == LTX_OK, "%s", ltx_err_message());
    if (s != LTX_OK) return false;
    CHECK(ltx_text_processor_embedding_dim(*p_out) == 32);
    CHECK(ltx_text_processor_num_states(*p_out) == 4);
    ltx_text_encode_params prm = {.gemma_root = TINY_GEMMA, .tokenizer = tok};
    double t0 = tu_now_s();
    s = ltx_text_encode_prompts(*be_out, &prm, *p_out, prompts, n, out);
    CHECK_MSG(s == LTX_OK, "%s", ltx_err_message());
    printf("  %s: %d prompts encoded in %.3f s\n", restricted ? "cpu-restricted" : "cpu", n,
           tu_now_s() - t0);
    return s == LTX_OK;
}

TEST(text_path_tiny)
{
    const char *prompts[3] = {
        "  A red fox runs through fresh snow at dawn, its breath visible in the cold air.  ", "",
        "worst quality, blurry, jittery, distorted"};
    ltx_text_context c[2][3];
    ltx_backend *be[2] = {0};
    ltx_st_file *st[2] = {0};
    ltx_text_processor *p[2] = {0};
    bool ok[2];
    memset(c, 0, sizeof c);
    for (int r = 0; r < 2; r++)
        ok[r] = encode(r == 1, prompts, 3, c[r], &be[r], &st[r], &p[r]);
    for (int r = 0; r < 2; r++) {
        if (!ok[r]) continue;
        for (int i = 0; i < 3; i++) {
            ltx_text_context *x = &c[r][i];
            CHECK(x->T == 1024 && x->video && x->audio);
            if (!x->video || !x->audio) continue;
            CHECK(x->video->ndim == 3 && x->video->shape[0] == 1 && x->video->shape[1] == 1024 &&
                  x->video->shape[2] == 64);
            CHECK(x->audio->ndim == 3 && x->audio->shape[1] == 1024 && x->audio->shape[2] == 32);
            CHECK(tu_all_finite(x->video) && tu_all_finite(x->audio));
        }
        CHECK(c[r][1].n_tokens == 1); /* "" -> BOS only */
        CHECK(c[r][0].n_tokens > 10 && c[r][0].n_tokens < 40);
    }
    if (ok[0] && ok[1])
        for (int i = 0; i < 3; i++) {
            double dv = tu_max_abs_diff(c[0][i].video, c[1][i].video);
            double da = tu_max_abs_diff(c[0][i].audio, c[1][i].audio);
            CHECK_MSG(dv <= 1e-6 && da <= 1e-6, "prompt %d: cpu vs cpu-restricted %g / %g", i, dv,
                      da);
        }
    /* different prompts give different contexts */
    if (ok[0]) CHECK(tu_max_abs_diff(c[0][0].video, c[0][2].video) > 1e-3);
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < 3; i++)
            ltx_text_context_clear(&c[r][i]);
        ltx_text_processor_free(p[r]);
        ltx_st_close(st[r]);
        ltx_backend_destroy(be[r]);
    }
}

TEST_MAIN()
