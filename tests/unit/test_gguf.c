/*
 * test_gguf.c — the GGUF reader behind the safetensors interface (src/io/gguf.c) and the
 * streaming writer (src/io/gguf_writer.c).
 *
 * Files are built byte by byte (gguf_build.h) the way ComfyUI-GGUF and llama.cpp lay them out:
 * an LTX transformer file without the model.diffusion_model. prefix, with a name longer than 64
 * bytes, comfy.gguf.orig_shape, a long config string, string/number arrays; a Gemma 3 file in
 * llama.cpp naming with (1 + w) norms. Then the writer's output is read back through the mmap
 * path, and every malformed-file class the issue lists gets a clear error naming file and tensor.
 */
#include "core/quant.h"
#include "gguf_build.h"
#include "harness.h"
#include "io/gguf.h"
#include "io/safetensors.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define LONG_NAME                                                                                  \
    "transformer_blocks.0.audio_to_video_attn.a_very_long_projection_name_beyond_64_bytes.bias"

/* An LTX transformer file as ComfyUI-GGUF writes it. */
static gb ltx_file(char *config, size_t clen)
{
    gb b = {0};
    memset(config, 'x', clen - 1);
    config[0] = '{';
    config[clen - 2] = '}';
    config[clen - 1] = 0;
    gb_put(&b, "GGUF", 4);
    gb_u32(&b, 3);
    gb_u64(&b, 4); /* tensors */
    gb_u64(&b, 6); /* kvs */
    gb_kv_str(&b, "general.architecture", "ltxv");
    gb_kv_u32(&b, "general.alignment", 32);
    gb_kv_str(&b, "config", config);
    gb_str(&b, "tokenizer.tokens"); /* array of strings: skipped */
    gb_u32(&b, 9);
    gb_u32(&b, 8);
    gb_u64(&b, 2);
    gb_str(&b, "a");
    gb_str(&b, "bb");
    gb_str(&b, "comfy.gguf.orig_shape.proj_out.weight"); /* int array, PyTorch order */
    gb_u32(&b, 9);
    gb_u32(&b, 5);
    gb_u64(&b, 3);
    gb_u32(&b, 2);
    gb_u32(&b, 2);
    gb_u32(&b, 8);
    gb_str(&b, "general.file_type");
    gb_u32(&b, 6);
    float ft = 2.5f;
    gb_put(&b, &ft, 4);
    const int64_t s_q[2] = {2, 64}, s_long[1] = {8}, s_sst[2] = {2, 32}, s_po[2] = {4, 8};
    gb_tensor(&b, "transformer_blocks.0.attn1.to_q.weight", 2, s_q, 2 /* Q4_0 */, 0);
    gb_tensor(&b, LONG_NAME, 1, s_long, 0 /* F32 */, 96);
    gb_tensor(&b, "scale_shift_table", 2, s_sst, 30 /* BF16 */, 128);
    gb_tensor(&b, "proj_out.weight", 2, s_po, 1 /* F16 */, 256);
    gb_align(&b, 32);
    /* data: 4 Q4_0 blocks (72 bytes) at 0, 8 f32 at 96, 64 bf16 at 128, 32 f16 at 256 */
    uint8_t data[320] = {0};
    for (int k = 0; k < 4; k++) {
        data[18 * k] = 0x00;
        data[18 * k + 1] = 0x3C; /* d = 1.0 */
        for (int j = 0; j < 16; j++)
            data[18 * k + 2 + j] = (uint8_t)(j | ((15 - j) << 4));
    }
    for (int i = 0; i < 8; i++) {
        float v = (float)i * 0.5f;
        memcpy(data + 96 + 4 * i, &v, 4);
    }
    for (int i = 0; i < 64; i++) {
        uint16_t h = ltx_f32_to_bf16((float)i);
        memcpy(data + 128 + 2 * i, &h, 2);
    }
    for (int i = 0; i < 32; i++) {
        uint16_t h = ltx_f32_to_f16((float)-i);
        memcpy(data + 256 + 2 * i, &h, 2);
    }
    gb_put(&b, data, sizeof data);
    return b;
}

TEST(ltx_comfy_file)
{
    static char config[6000];
    gb b = ltx_file(config, sizeof config);
    ltx_st_file *f = NULL;
    CHECK(ltx_st_open_memory(b.p, b.n, "ltx.gguf", &f) == LTX_OK);
    if (!f) {
        fprintf(stderr, "%s\n", ltx_err_message());
        return;
    }
    CHECK(ltx_st_count(f) == 4);
    const ltx_st_entry *q =
        ltx_st_find(f, "model.diffusion_model.transformer_blocks.0.attn1.to_q.weight");
    CHECK(q && q->dtype == LTX_Q4_0 && q->ndim == 2 && q->shape[0] == 2 && q->shape[1] == 64);
    CHECK(q && q->nbytes == 72);
    const ltx_st_entry *l = ltx_st_find(f, "model.diffusion_model." LONG_NAME);
    CHECK(l && l->dtype == LTX_F32 && l->ndim == 1 && l->shape[0] == 8);
    const ltx_st_entry *po = ltx_st_find(f, "model.diffusion_model.proj_out.weight");
    CHECK(po && po->ndim == 3 && po->shape[0] == 2 && po->shape[1] == 2 && po->shape[2] == 8);
    const char *cfg = ltx_st_metadata(f, "config");
    CHECK(cfg && strlen(cfg) == sizeof config - 1 && !strcmp(cfg, config));
    CHECK(ltx_st_metadata(f, "general.architecture") &&
          !strcmp(ltx_st_metadata(f, "general.architecture"), "ltxv"));
    CHECK(ltx_st_metadata(f, "general.file_type") &&
          !strcmp(ltx_st_metadata(f, "general.file_type"), "2.5"));
    CHECK(ltx_st_metadata(f, "tokenizer.tokens") == NULL);
    int64_t n = 0;
    float *v =
        ltx_st_read_f32(f, "model.diffusion_model.transformer_blocks.0.attn1.to_q.weight", &n);
    CHECK(v && n == 128);
    if (v) {
        CHECK(v[0] == -8.0f && v[16] == 7.0f && v[15] == 7.0f && v[31] == -8.0f);
        free(v);
    }
    v = ltx_st_read_f32(f, "model.diffusion_model.scale_shift_table", &n);
    CHECK(v && n == 64 && v[63] == 63.0f);
    free(v);
    v = ltx_st_read_f32(f, "model.diffusion_model.proj_out.weight", &n);
    CHECK(v && n == 32 && v[31] == -31.0f);
    free(v);
    ltx_st_close(f);
    free(b.p);
}

TEST(gemma_llama_names_and_norms)
{
    gb b = {0};
    gb_put(&b, "GGUF", 4);
    gb_u32(&b, 3);
    gb_u64(&b, 4);
    gb_u64(&b, 1);
    gb_kv_str(&b, "general.architecture", "gemma3");
    const int64_t s_emb[2] = {3, 32}, s_n[1] = {4}, s_q[2] = {2, 32};
    gb_tensor(&b, "token_embd.weight", 2, s_emb, 8 /* Q8_0 */, 0);
    gb_tensor(&b, "blk.0.attn_norm.weight", 1, s_n, 0, 128);
    gb_tensor(&b, "blk.0.attn_q.weight", 2, s_q, 8, 160);
    gb_tensor(&b, "output_norm.weight", 1, s_n, 0, 256);
    gb_align(&b, 32);
    uint8_t data[288] = {0};
    for (int r = 0; r < 3; r++) { /* Q8_0 rows: d = 2, q = r */
        data[34 * r + 1] = 0x40;
        memset(data + 34 * r + 2, r, 32);
    }
    float nw[4] = {1.5f, 1.0f, 0.25f, 2.0f};
    memcpy(data + 128, nw, sizeof nw);
    memcpy(data + 256, nw, sizeof nw);
    gb_put(&b, data, sizeof data);
    ltx_st_file *f = NULL;
    CHECK(ltx_st_open_memory(b.p, b.n, "gemma.gguf", &f) == LTX_OK);
    if (!f) return;
    const ltx_st_entry *e = ltx_st_find(f, "model.embed_tokens.weight");
    CHECK(e && e->dtype == LTX_Q8_0 && e->shape[0] == 3 && e->shape[1] == 32);
    CHECK(ltx_st_find(f, "model.layers.0.self_attn.q_proj.weight") != NULL);
    int64_t n = 0;
    float *v = ltx_st_read_f32(f, "model.layers.0.input_layernorm.weight", &n);
    CHECK(v && n == 4 && v[0] == 0.5f && v[1] == 0.0f && v[2] == -0.75f && v[3] == 1.0f);
    free(v);
    v = ltx_st_read_f32(f, "model.norm.weight", &n);
    CHECK(v && n == 4 && v[0] == 0.5f);
    free(v);
    v = ltx_st_read_f32(f, "model.embed_tokens.weight", &n);
    CHECK(v && n == 96 && v[32] == 2.0f && v[95] == 4.0f);
    free(v);
    ltx_st_close(f);
    free(b.p);
    /* the writer's inverse mapping */
    char out[128];
    bool norm = false;
    CHECK(ltx_gguf_gemma_llama_name("language_model.model.layers.7.mlp.down_proj.weight", out,
                                    sizeof out, &norm) &&
          !strcmp(out, "blk.7.ffn_down.weight") && !norm);
    CHECK(ltx_gguf_gemma_llama_name("model.layers.2.pre_feedforward_layernorm.weight", out,
                                    sizeof out, &norm) &&
          !strcmp(out, "blk.2.ffn_norm.weight") && norm);
    CHECK(!ltx_gguf_gemma_llama_name("vision_tower.x.weight", out, sizeof out, &norm));
}

TEST(overlay_replaces_same_names)
{
    char base[128], over[128];
    snprintf(base, sizeof base, "/tmp/ltx_test_ovl_%d.safetensors", (int)getpid());
    snprintf(over, sizeof over, "/tmp/ltx_test_ovl_%d.gguf", (int)getpid());
    float a[32], b[32];
    for (int i = 0; i < 32; i++)
        a[i] = 1.0f, b[i] = 2.0f;
    const int64_t sh[2] = {1, 32};
    ltx_st_writer *sw = ltx_st_writer_new();
    CHECK(ltx_st_writer_add(sw, "model.diffusion_model.proj_out.weight", LTX_F32, 2, sh, a) ==
          LTX_OK);
    CHECK(ltx_st_writer_add(sw, "vae.decoder.w", LTX_F32, 2, sh, a) == LTX_OK);
    CHECK(ltx_st_writer_set_metadata(sw, "config", "{}") == LTX_OK);
    CHECK(ltx_st_writer_save(sw, base) == LTX_OK);
    ltx_st_writer_free(sw);
    ltx_gguf_writer *w = ltx_gguf_writer_new();
    CHECK(ltx_gguf_writer_tensor(w, "proj_out.weight", LTX_F32, 2, sh) == LTX_OK);
    CHECK(ltx_gguf_writer_tensor(w, "transformer_blocks.0.ff.net.2.weight", LTX_F32, 2, sh) ==
          LTX_OK);
    CHECK(ltx_gguf_writer_open(w, over) == LTX_OK);
    CHECK(ltx_gguf_writer_data(w, b, sizeof b) == LTX_OK);
    CHECK(ltx_gguf_writer_data(w, b, sizeof b) == LTX_OK);
    CHECK(ltx_gguf_writer_close(w) == LTX_OK);
    ltx_gguf_writer_free(w);
    ltx_st_file *f = NULL;
    CHECK(ltx_st_open_overlay(base, over, &f) == LTX_OK);
    CHECK(ltx_st_count(f) == 3);
    CHECK(ltx_st_metadata(f, "config") && !strcmp(ltx_st_metadata(f, "config"), "{}"));
    const ltx_st_entry *e = ltx_st_find(f, "model.diffusion_model.proj_out.weight");
    CHECK(e && e->shard == 1 && ((const float *)e->data)[0] == 2.0f);
    e = ltx_st_find(f, "vae.decoder.w");
    CHECK(e && e->shard == 0 && ((const float *)e->data)[0] == 1.0f);
    CHECK(ltx_st_find(f, "model.diffusion_model.transformer_blocks.0.ff.net.2.weight") != NULL);
    ltx_st_close(f);
    unlink(base);
    unlink(over);
}

TEST(writer_roundtrip_mmap)
{
    char path[256], tmp[270];
    snprintf(path, sizeof path, "/tmp/ltx_test_gguf_%d.gguf", (int)getpid());
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    static const ltx_dtype types[] = {LTX_F32,  LTX_F16,  LTX_BF16, LTX_Q8_0, LTX_Q4_0,
                                      LTX_Q4_1, LTX_Q5_0, LTX_Q5_1, LTX_Q2_K, LTX_Q3_K,
                                      LTX_Q4_K, LTX_Q5_K, LTX_Q6_K};
    enum { NT = sizeof types / sizeof *types, ROWS = 3, COLS = 512 };
    static float src[ROWS * COLS];
    static uint8_t enc[NT][ROWS * COLS * 4];
    for (int i = 0; i < ROWS * COLS; i++)
        src[i] = sinf((float)i * 0.37f) * (1.0f + (float)(i % 5));
    ltx_gguf_writer *w = ltx_gguf_writer_new();
    CHECK(ltx_gguf_writer_kv_str(w, "config", "{\"a\": 1}") == LTX_OK);
    CHECK(ltx_gguf_writer_kv_u32(w, "n", 7) == LTX_OK);
    CHECK(ltx_gguf_writer_kv_u32(w, "n", 8) == LTX_ERR_INVALID_ARG);
    const int64_t shape[2] = {ROWS, COLS}, bad[2] = {2, 100};
    CHECK(ltx_gguf_writer_tensor(w, "bad", LTX_Q4_K, 2, bad) == LTX_ERR_INVALID_ARG);
    for (int t = 0; t < NT; t++) {
        char name[32];
        snprintf(name, sizeof name, "t.%s", ltx_dtype_name(types[t]));
        CHECK(ltx_gguf_writer_tensor(w, name, types[t], 2, shape) == LTX_OK);
        ltx_convert(enc[t], types[t], src, LTX_F32, ROWS * COLS);
    }
    CHECK(ltx_gguf_writer_open(w, path) == LTX_OK);
    struct stat sb;
    CHECK(stat(tmp, &sb) == 0 && stat(path, &sb) != 0); /* only the temp exists while writing */
    for (int t = 0; t < NT; t++) { /* odd-sized chunks across tensor boundaries are fine */
        size_t nb = ltx_dtype_bytes(types[t], ROWS * COLS);
        CHECK(ltx_gguf_writer_data(w, enc[t], nb / 3) == LTX_OK);
        CHECK(ltx_gguf_writer_data(w, enc[t] + nb / 3, nb - nb / 3) == LTX_OK);
    }
    CHECK(ltx_gguf_writer_close(w) == LTX_OK);
    ltx_gguf_writer_free(w);
    CHECK(stat(tmp, &sb) != 0 && stat(path, &sb) == 0);
    ltx_st_file *f = NULL;
    CHECK(ltx_st_open(path, &f) == LTX_OK);
    CHECK(ltx_st_count(f) == NT);
    CHECK(ltx_st_metadata(f, "n") && !strcmp(ltx_st_metadata(f, "n"), "7"));
    for (int t = 0; f && t < NT; t++) {
        char name[32];
        snprintf(name, sizeof name, "t.%s", ltx_dtype_name(types[t]));
        const ltx_st_entry *e = ltx_st_find(f, name);
        CHECK(e && e->dtype == types[t] && e->ndim == 2 && e->shape[0] == ROWS &&
              e->shape[1] == COLS);
        CHECK(e && e->nbytes == ltx_dtype_bytes(types[t], ROWS * COLS) &&
              !memcmp(e->data, enc[t], e->nbytes) && (uintptr_t)e->data % 32 == 0);
    }
    ltx_st_close(f);
    /* an unfinished writer leaves nothing behind */
    w = ltx_gguf_writer_new();
    CHECK(ltx_gguf_writer_tensor(w, "x", LTX_F32, 2, shape) == LTX_OK);
    CHECK(ltx_gguf_writer_open(w, path) == LTX_OK);
    CHECK(ltx_gguf_writer_close(w) == LTX_ERR_INVALID_ARG);
    ltx_gguf_writer_free(w);
    CHECK(stat(tmp, &sb) != 0);
    unlink(path);
}

/* A minimal one-tensor file with the given fields, for the error classes. */
static gb one(uint32_t version, int nd, const int64_t *shape, uint32_t type, uint64_t off,
              size_t data_bytes)
{
    gb b = {0};
    gb_put(&b, "GGUF", 4);
    gb_u32(&b, version);
    gb_u64(&b, 1);
    gb_u64(&b, 0);
    gb_tensor(&b, "blocks.0.w", nd, shape, type, off);
    gb_align(&b, 32);
    uint8_t *z = calloc(1, data_bytes + 1);
    gb_put(&b, z, data_bytes);
    free(z);
    return b;
}

static void expect_error(gb b, const char *want)
{
    ltx_st_file *f = NULL;
    ltx_status s = ltx_st_open_memory(b.p, b.n, "bad.gguf", &f);
    CHECK_MSG(s == LTX_ERR_FORMAT && !f, "status %d for '%s'", s, want);
    const char *m = ltx_err_message();
    CHECK_MSG(strstr(m, "bad.gguf") && strstr(m, want), "message '%s' lacks '%s'", m, want);
    ltx_st_close(f);
    free(b.p);
}

TEST(bad_files)
{
    const int64_t ok[2] = {2, 256}, huge[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
    const int64_t odd[2] = {2, 100};
    /* sanity: the template itself opens */
    gb g = one(3, 2, ok, 12, 0, 288);
    ltx_st_file *f = NULL;
    CHECK(ltx_st_open_memory(g.p, g.n, "good.gguf", &f) == LTX_OK);
    ltx_st_close(f);
    free(g.p);
    expect_error(one(2, 2, ok, 12, 0, 288), "version 2");
    expect_error(one(3, 2, huge, 0, 0, 64), "blocks.0.w");      /* overflowing size */
    expect_error(one(3, 2, ok, 16, 0, 288), "ggml type 16");    /* IQ2_XXS: unknown here */
    expect_error(one(3, 2, ok, 12, 3, 288), "not a multiple");  /* misaligned offset */
    expect_error(one(3, 2, odd, 12, 0, 288), "not whole Q4_K"); /* wrong blocks per row */
    expect_error(one(3, 2, ok, 12, 0, 100), "past the end");    /* data truncated */
    expect_error(one(3, 9, ok, 12, 0, 288), "9 dims");
    /* every truncation of a valid file fails cleanly (its last tensor ends at the last byte) */
    static char config[6000];
    gb full = ltx_file(config, sizeof config);
    for (size_t n = 0; n < full.n; n += (n < 600 ? 1 : 97)) {
        uint8_t *cut = malloc(n + 1);
        memcpy(cut, full.p, n);
        ltx_st_file *t = NULL;
        ltx_status s = ltx_st_open_memory(cut, n, "cut.gguf", &t);
        CHECK_MSG(s == LTX_ERR_FORMAT, "truncated at %zu: status %d", n, s);
        ltx_st_close(t);
        free(cut);
    }
    free(full.p);
}

TEST_MAIN()
