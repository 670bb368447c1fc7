/*
 * test_enhance.c — the pieces of prompt enhancement that the golden does not pin alone:
 * chat template text, alignment padding on both sides (2026-04 right, 1.2 left), clean_response,
 * the sampler's filters and seeded draws, Pillow's resampler on hand-computed cases, and the KV
 * cache on the tiny VLM: chunked prefill (sliding ring wrapping, image blocks kept whole) equals
 * a one-chunk prefill, left padding equals no padding, right padding predicts from a pad row.
 */
#include "harness.h"
#include "test_util.h"

#include "backend/backend.h"
#include "io/media.h"
#include "models/gemma3_generate.h"
#include "models/gemma3_prompt.h"
#include "sampling/token_sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VLM LTX_TEST_DATA "/golden/tiny_gemma_vlm"

TEST(chat_template_text)
{
    char *t = NULL;
    size_t n = 0;
    const char *sys = "Be brief.\n", *user = " \t hi there \n";
    CHECK(ltx_gemma3_chat_render(sys, strlen(sys), user, strlen(user), true, &t, &n) == LTX_OK);
    const char *want = "<bos><start_of_turn>user\nBe brief.\n\n\n<start_of_image>hi there"
                       "<end_of_turn>\n<start_of_turn>model\n";
    CHECK_MSG(t && !strcmp(t, want) && n == strlen(want), "got: %s", t ? t : "(null)");
    free(t);
}

TEST(alignment_padding_sides)
{
    for (int left = 0; left < 2; left++) {
        ltx_gemma3_inputs in = {0};
        in.n = 5;
        in.ids = malloc(5 * sizeof(int32_t));
        in.mask = malloc(5 * sizeof(int32_t));
        in.types = malloc(5 * sizeof(int32_t));
        for (int i = 0; i < 5; i++)
            in.ids[i] = 10 + i, in.mask[i] = 1, in.types[i] = i == 2;
        int pad = -1;
        CHECK(ltx_gemma3_pad_alignment(&in, 8, 0, left, &pad) == LTX_OK);
        CHECK(pad == 3 && in.n == 8);
        int first = left ? 3 : 0, p0 = left ? 0 : 5;
        for (int i = 0; i < 5; i++)
            CHECK(in.ids[first + i] == 10 + i && in.mask[first + i] == 1 &&
                  in.types[first + i] == (i == 2));
        for (int i = 0; i < 3; i++)
            CHECK(in.ids[p0 + i] == 0 && in.mask[p0 + i] == 0 && in.types[p0 + i] == 0);
        CHECK(ltx_gemma3_pad_alignment(&in, 8, 0, left, &pad) == LTX_OK && pad == 0);
        ltx_gemma3_inputs_free(&in);
    }
}

static void clean_is(const char *in, const char *want)
{
    size_t n = 0;
    char *c = ltx_gemma3_clean_response(in, strlen(in), &n);
    CHECK_MSG(c && !strcmp(c, want) && n == strlen(want), "clean(%s) = %s, want %s", in,
              c ? c : "(null)", want);
    free(c);
}

TEST(clean_response_cases)
{
    clean_is("  **\xE2\x80\x9C"
             "Fox\xE2\x80\x9D \xE2\x80\x94 runs\xC2\xA0"
             "fast",
             "Fox\" - runs fast");
    clean_is("1. \xC3\xA9t\xC3\xA9 \xE2\x80\x99", "\xC3\xA9t\xC3\xA9 '");
    clean_is("123 \xE2\x88\x92 4", "123 - 4"); /* no letter: the translated text */
    clean_is("", "");
    clean_is("\xF0\x9F\x98\x80 Hi", "Hi"); /* an emoji is not a letter */
}

TEST(sampler_filters)
{
    ltx_token_sampler_params p;
    ltx_token_sampler_params_init(&p);
    CHECK(p.temperature == 0.7f && p.top_k == 50 && p.top_p == 1.0f && !p.greedy);
    float lg[6] = {1.0f, 3.0f, 3.0f, 2.0f, -1.0f, 3.0f};
    int32_t ids[6];
    float sc[6], pr[6];
    p.top_k = 2; /* the 2nd largest is 3.0: every 3.0 stays (ties at the cut) */
    int m = ltx_token_filter(&p, lg, 6, ids, sc, pr);
    CHECK(m == 3 && ids[0] == 1 && ids[1] == 2 && ids[2] == 5);
    CHECK(fabsf(sc[0] - 3.0f / 0.7f) == 0.0f && fabsf(pr[0] - 1.0f / 3.0f) < 1e-6f);
    p.top_k = 0;
    p.temperature = 1.0f;
    p.top_p = 0.5f; /* probs ~ [.02 .30 .30 .11 .005 .30]: the top two reach > 0.5 */
    m = ltx_token_filter(&p, lg, 6, ids, sc, pr);
    CHECK_MSG(m == 2 && ids[0] == 1 && ids[1] == 2, "top-p kept %d", m);
    /* seeded draws: same seed -> same sequence; greedy -> first maximum */
    ltx_token_sampler_params_init(&p);
    ltx_token_sampler *a = NULL, *b = NULL;
    CHECK(ltx_token_sampler_new(&p, 6, &a) == LTX_OK && ltx_token_sampler_new(&p, 6, &b) == LTX_OK);
    int differ = 0, seen[6] = {0};
    for (int i = 0; i < 64; i++) {
        int32_t x = ltx_token_sampler_pick(a, lg), y = ltx_token_sampler_pick(b, lg);
        differ += x != y;
        seen[x]++;
    }
    CHECK(differ == 0 && seen[1] && seen[2] && seen[5] && seen[3] && !seen[4]);
    ltx_token_sampler_free(a);
    ltx_token_sampler_free(b);
    p.greedy = true;
    CHECK(ltx_token_sampler_new(&p, 6, &a) == LTX_OK);
    CHECK(ltx_token_sampler_pick(a, lg) == 1);
    ltx_token_sampler_free(a);
}

TEST(pil_bilinear_hand_cases)
{
    /* 2x2 -> 1x1: both taps weigh 1/2; 22-bit fixed point rounds half up */
    uint8_t src[12] = {10, 0, 255, 21, 1, 255, 10, 0, 0, 21, 2, 0}, dst[3];
    CHECK(ltx_pil_resize_bilinear(src, 2, 2, dst, 1, 1) == LTX_OK);
    CHECK_MSG(dst[0] == 16 && dst[1] == 1 && dst[2] == 128, "%d %d %d", dst[0], dst[1], dst[2]);
    /* same size: a copy */
    uint8_t big[5 * 7 * 3], out[5 * 7 * 3];
    for (int i = 0; i < 5 * 7 * 3; i++)
        big[i] = (uint8_t)(i * 37);
    CHECK(ltx_pil_resize_bilinear(big, 5, 7, out, 5, 7) == LTX_OK);
    CHECK(!memcmp(big, out, sizeof big));
}

/* Token ids + image tokens of a small VLM prompt: BOS, text, an image block of 3 ... */
static void fake_prompt(int32_t *ids, int32_t *types, int n, int img0, int nimg)
{
    for (int i = 0; i < n; i++) {
        ids[i] = i == 0 ? 2 : 1000 + 37 * i;
        types[i] = i >= img0 && i < img0 + nimg;
        if (types[i]) ids[i] = 262144;
    }
}

/* First logits and those after two steps, for a prefill in chunks of `chunk`. */
static void run(ltx_gemma3 *m, const int32_t *ids, const int32_t *mask, const int32_t *types, int n,
                const float *img, int nimg, int64_t chunk, float *out /* 3 x V */)
{
    ltx_gemma3_gen *g = NULL;
    CHECK(ltx_gemma3_gen_open(m, &g) == LTX_OK);
    if (!g) return;
    int64_t V = ltx_gemma3_gen_vocab(g);
    ltx_gemma3_prefill p = {.ids = ids,
                            .mask = mask,
                            .types = types,
                            .L = n,
                            .image_features = nimg ? img : NULL,
                            .n_image_rows = nimg,
                            .max_new_tokens = 2,
                            .chunk = chunk};
    CHECK(ltx_gemma3_gen_prefill(g, &p, out) == LTX_OK);
    CHECK(ltx_gemma3_gen_step(g, 4242, out + V) == LTX_OK);
    CHECK(ltx_gemma3_gen_step(g, 77, out + 2 * V) == LTX_OK);
    CHECK(ltx_gemma3_gen_step(g, 78, out) != LTX_OK); /* the cache holds 2 new tokens */
    ltx_gemma3_gen_close(g);
}

static double maxdiff(const float *a, const float *b, int64_t n)
{
    double d = 0;
    for (int64_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

TEST(kv_cache_chunks_and_padding)
{
    for (int restricted = 0; restricted < 2; restricted++) {
        ltx_backend *be = NULL;
        ltx_gemma3 *m = NULL;
        CHECK(ltx_cpu_backend_create(restricted, NULL, NULL, &be) == LTX_OK);
        CHECK(ltx_gemma3_open(be, VLM, &m) == LTX_OK);
        if (!m) return;
        const int n = 29, V = ltx_gemma3_get_config(m)->vocab_size, D = 16, NI = 11;
        int32_t ids[40], mask[40], types[40];
        fake_prompt(ids, types, n, 5, NI);
        for (int i = 0; i < 40; i++)
            mask[i] = 1;
        float *img = malloc(sizeof(float) * NI * D);
        for (int i = 0; i < NI * D; i++)
            img[i] = sinf(0.37f * (float)i);
        float *a = malloc(sizeof(float) * 3 * (size_t)V),
              *b = malloc(sizeof(float) * 3 * (size_t)V);
        /* chunks of 4 (window 8, the image chunk is 12 long: a ring of 19 slots that wraps; the
         * 11 image tokens stay in one chunk) vs one chunk */
        run(m, ids, mask, types, n, img, NI, 4, a);
        run(m, ids, mask, types, n, img, NI, 4096, b);
        double d = maxdiff(a, b, 3 * (int64_t)V);
        CHECK_MSG(d < 2e-5, "chunked vs whole prefill: %g", d);
        /* left padding (reference 1.2) = no padding; right padding (2026-04) differs */
        int32_t pid[40], pm[40], pt[40];
        for (int side = 0; side < 2; side++) {
            int pad = 3, off = side ? 0 : pad;
            for (int i = 0; i < n + pad; i++)
                pid[i] = 0, pm[i] = 0, pt[i] = 0;
            for (int i = 0; i < n; i++)
                pid[off + i] = ids[i], pm[off + i] = 1, pt[off + i] = types[i];
            run(m, pid, pm, pt, n + pad, img, NI, 4096, a);
            d = maxdiff(a, b, V);
            if (side == 0)
                CHECK_MSG(d < 2e-5, "left-padded vs unpadded first logits: %g", d);
            else
                CHECK_MSG(d > 1e-3, "right padding should predict from a pad row (%g)", d);
        }
        free(a);
        free(b);
        free(img);
        ltx_gemma3_close(m);
        ltx_backend_destroy(be);
    }
}

TEST_MAIN()
