/*
 * test_model_info.c — the public model-inspection, quantization and dtype-name API of ltx.h
 * (src/api/inspect.c, src/api/quantize_api.c), used through ltx.h only, as an embedder would:
 * the component table adds up to the file's totals, each part to its component, the tiny
 * checkpoint's components and a LoRA's rank are found, a Gemma folder opens, a quantized GGUF
 * reads back with block types, and bad input fails with the right status and no object.
 */
#include "harness.h"

#include "ltx.h"

#include <stdint.h>
#include <unistd.h>

#define CKPT LTX_TEST_DATA "/golden/tiny_ckpt/"

static const ltx_model_group *find_row(const ltx_model_info *m, const char *comp,
                                       const char *part)
{
    for (int i = 0; i < ltx_model_info_summary(m)->n_groups; i++) {
        const ltx_model_group *g = ltx_model_info_group(m, i);
        if (!strcmp(g->component, comp) && !strcmp(g->part, part)) return g;
    }
    return NULL;
}

static int dtype_sum(const ltx_model_group *g)
{
    int n = 0;
    for (int t = 0; t < LTX_DTYPE_COUNT; t++)
        n += g->dtype_count[t];
    return n;
}

/* Totals: component rows add up to the file, parts to their component, tensors to the rows. */
static void check_consistent(const ltx_model_info *m)
{
    const ltx_model_summary *s = ltx_model_info_summary(m);
    int tensors = 0;
    uint64_t numel = 0, bytes = 0;
    for (int i = 0; i < s->n_groups; i++) {
        const ltx_model_group *g = ltx_model_info_group(m, i);
        CHECK(dtype_sum(g) == g->tensors);
        if (g->part[0]) {
            const ltx_model_group *c = find_row(m, g->component, "");
            CHECK(c && c->tensors >= g->tensors && c < g); /* component row first */
            continue;
        }
        tensors += g->tensors;
        numel += g->numel;
        bytes += g->bytes;
    }
    CHECK(tensors == s->total.tensors && numel == s->total.numel && bytes == s->total.bytes);
    CHECK(dtype_sum(&s->total) == s->total.tensors);
    uint64_t tbytes = 0;
    int n = 0;
    ltx_model_tensor t;
    for (; ltx_model_info_tensor(m, n, &t) == 0; n++) {
        CHECK(t.name && t.ndim >= 0 && t.shard >= 0 && t.shard < s->n_shards);
        tbytes += t.bytes;
    }
    CHECK(n == s->total.tensors && tbytes == s->total.bytes);
    CHECK(s->size_bytes > s->total.bytes); /* headers come on top of the data */
    CHECK(ltx_model_info_group(m, s->n_groups) == NULL && ltx_model_info_group(m, -1) == NULL);
    CHECK(ltx_model_info_shard_path(m, s->n_shards) == NULL);
}

TEST(checkpoint_components)
{
    ltx_model_info *m = NULL;
    CHECK(ltx_model_info_open(CKPT "tiny-ltx-2.3-22b-dev.safetensors", &m) == LTX_OK);
    if (!m) return;
    const ltx_model_summary *s = ltx_model_info_summary(m);
    CHECK(!strcmp(s->format, "safetensors") && s->n_shards == 1);
    CHECK(strstr(ltx_model_info_shard_path(m, 0), "tiny-ltx-2.3-22b-dev") != NULL);
    const char *names[] = {"transformer", "text connectors", "video VAE", "audio VAE", "vocoder"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        CHECK_MSG(find_row(m, names[i], "") != NULL, "no component %s", names[i]);
    const ltx_model_group *tr = find_row(m, "transformer", "");
    CHECK(tr && tr->lora_rank_max == -1 && tr->lora_modules == 0);
    CHECK(find_row(m, "video VAE", "decoder") != NULL);
    const char *cfg = ltx_model_info_metadata(m, "config");
    CHECK(cfg && cfg[0] == '{');
    CHECK(ltx_model_info_metadata(m, "no such key") == NULL);
    const char *k = NULL, *v = NULL;
    CHECK(ltx_model_info_metadata_at(m, 0, &k, &v) == 0 && k && v);
    CHECK(ltx_model_info_metadata_at(m, s->n_metadata, &k, &v) == -1);
    check_consistent(m);
    ltx_model_info_free(m);
}

TEST(lora_and_upsampler)
{
    ltx_model_info *m = NULL;
    CHECK(ltx_model_info_open(CKPT "tiny-lora-r4.safetensors", &m) == LTX_OK);
    const ltx_model_group *g = m ? find_row(m, "LoRA", "") : NULL;
    CHECK(g && g->lora_rank_min == 4 && g->lora_rank_max == 4 && g->lora_modules > 0);
    if (m) check_consistent(m);
    ltx_model_info_free(m);
    m = NULL;
    CHECK(ltx_model_info_open(CKPT "tiny-ltx-2.3-spatial-upscaler-x2.safetensors", &m) == LTX_OK);
    CHECK(m && find_row(m, "latent upsampler", "") != NULL);
    if (m) check_consistent(m);
    ltx_model_info_free(m);
}

TEST(gemma_folder)
{
    ltx_model_info *m = NULL;
    CHECK(ltx_model_info_open(LTX_TEST_DATA "/golden/tiny_gemma", &m) == LTX_OK);
    CHECK(m && ltx_model_info_summary(m)->total.tensors > 0);
    if (m) check_consistent(m);
    ltx_model_info_free(m);
}

TEST(bad_input)
{
    ltx_model_info *m = (ltx_model_info *)1;
    CHECK(ltx_model_info_open(LTX_TEST_DATA "/no/such.safetensors", &m) != LTX_OK);
    CHECK(m == NULL && strstr(ltx_last_error_global(), "no/such.safetensors") != NULL);
    m = (ltx_model_info *)1;
    CHECK(ltx_model_info_open(NULL, &m) == LTX_ERR_INVALID_ARG && m == NULL);
    CHECK(ltx_model_info_open("x", NULL) == LTX_ERR_INVALID_ARG);
    /* not a model file: this source file */
    CHECK(ltx_model_info_open(__FILE__, &m) == LTX_ERR_FORMAT && m == NULL);
    ltx_model_info_free(NULL);
    CHECK(ltx_model_info_summary(NULL) == NULL && ltx_model_info_group(NULL, 0) == NULL);
    ltx_model_tensor t;
    CHECK(ltx_model_info_tensor(NULL, 0, &t) == -1);
}

TEST(dtype_names)
{
    ltx_dtype t = LTX_F32;
    CHECK(ltx_dtype_from_name("q4_k", &t) == 0 && t == LTX_Q4_K);
    CHECK(ltx_dtype_from_name("bf16", &t) == 0 && t == LTX_BF16);
    CHECK(ltx_dtype_from_name("q9_0", &t) == -1 && t == LTX_BF16);
    CHECK(ltx_dtype_from_name(NULL, &t) == -1);
    CHECK(!strcmp(ltx_dtype_name(LTX_F8E4M3), "F8_E4M3"));
    CHECK(!strcmp(ltx_dtype_name((ltx_dtype)LTX_DTYPE_COUNT), "?"));
    CHECK(ltx_dtype_is_block_quantized(LTX_Q8_0) && ltx_dtype_is_block_quantized(LTX_Q6_K));
    CHECK(!ltx_dtype_is_block_quantized(LTX_BF16));
    CHECK(!ltx_dtype_is_block_quantized((ltx_dtype)LTX_DTYPE_COUNT));
}

TEST(quantize_roundtrip)
{
    ltx_quantize_params p;
    ltx_quantize_params_init(&p);
    p.log = NULL; /* silent */
    char out[] = "/tmp/ltx_test_quantize_XXXXXX";
    CHECK(mkdtemp(out) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/q.gguf", out);
    const char *in = CKPT "tiny-ltx-2.3-22b-dev.safetensors";
    /* _init leaves a non-block type: refused before any file is touched */
    CHECK(ltx_quantize_file(in, path, &p) == LTX_ERR_INVALID_ARG);
    CHECK(access(path, F_OK) != 0);
    CHECK(ltx_quantize_file(NULL, path, &p) == LTX_ERR_INVALID_ARG);
    p.type = LTX_Q8_0;
    CHECK(ltx_quantize_file(in, path, &p) == LTX_OK);
    ltx_model_info *m = NULL, *src = NULL;
    CHECK(ltx_model_info_open(path, &m) == LTX_OK);
    CHECK(ltx_model_info_open(in, &src) == LTX_OK);
    if (m && src) {
        const ltx_model_summary *s = ltx_model_info_summary(m);
        CHECK(!strcmp(s->format, "GGUF"));
        CHECK(s->total.tensors == ltx_model_info_summary(src)->total.tensors);
        const ltx_model_group *tr = find_row(m, "transformer", "");
        CHECK(tr && tr->dtype_count[LTX_Q8_0] > 0);
        CHECK(s->total.numel == ltx_model_info_summary(src)->total.numel);
        CHECK(ltx_model_info_metadata(m, "config") != NULL);
        check_consistent(m);
    }
    ltx_model_info_free(m);
    ltx_model_info_free(src);
    unlink(path);
    rmdir(out);
}

TEST_MAIN()
