/*
 * test_gguf_fuzz.c — deterministic fuzzing of the GGUF reader (src/io/gguf.c), the counterpart
 * of test_safetensors_fuzz.c.
 *
 * Two valid seed files (an LTX transformer file with mixed quantized/float types, arrays,
 * orig_shape metadata and a name over 64 bytes; a Gemma 3 llama.cpp-named file with norms that
 * are rewritten on load) are mutated with a fixed-seed generator: every recorded count / length
 * / dim / type / offset field overwritten with edge values, random byte flips, truncation,
 * insertion and deletion of bytes. Each mutant sits in a malloc'd buffer of exactly its size and
 * is opened with ltx_st_open_memory: the result must be LTX_OK or LTX_ERR_FORMAT with a message
 * naming the buffer, never a crash or a hang. Files that open are read completely (every entry
 * inside the buffer, dequantized to f32). Built twice by CMake: plainly (test_gguf_fuzz) and with
 * -fsanitize=address,undefined (ctest gguf_fuzz_asan). Bounded: ITERS mutants per seed.
 */
#include "gguf_build.h"
#include "harness.h"
#include "io/safetensors.h"

#include <stdint.h>

#define ITERS 12000
#define LABEL "fuzz.gguf"

static uint64_t g_state = 0x66756e6775676675ull;
static uint64_t rnd(void)
{
    uint64_t z = (g_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static size_t rndn(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static gb g_seeds[2];

/* A bad LTX file: proj_out is Q6_K with rows of 32, not whole 256-element blocks. */
static void seed_ltx(gb *b)
{
    gb_put(b, "GGUF", 4);
    gb_u32(b, 3);
    gb_u64(b, 5);
    gb_u64(b, 5);
    gb_kv_str(b, "general.architecture", "ltxv");
    gb_kv_u32(b, "general.alignment", 32);
    gb_kv_str(b, "config", "{\"transformer\": {\"num_layers\": 1}}");
    gb_str(b, "comfy.gguf.orig_shape.proj_out.weight");
    gb_u32(b, 9);
    gb_u32(b, 5);
    gb_u64(b, 3);
    gb_u32(b, 2);
    gb_u32(b, 2);
    gb_u32(b, 32);
    gb_str(b, "nested");
    gb_u32(b, 9);
    gb_u32(b, 9); /* array of arrays of u8 */
    gb_u64(b, 2);
    for (int k = 0; k < 2; k++) {
        gb_u32(b, 0);
        gb_u64(b, 3);
        gb_put(b, "abc", 3);
    }
    const int64_t sq[2] = {2, 256}, s8[2] = {1, 64}, sl[1] = {16}, sb[2] = {2, 8}, po[2] = {4, 32};
    gb_tensor(b, "transformer_blocks.0.ff.net.0.proj.weight", 2, sq, 12 /* Q4_K */, 0);
    gb_tensor(b, "transformer_blocks.0.attn1.to_k.weight", 2, s8, 8 /* Q8_0 */, 320);
    gb_tensor(b,
              "transformer_blocks.0.audio_to_video_attn.some_long_module_name_that_goes_past_64."
              "bias",
              1, sl, 0, 416);
    gb_tensor(b, "scale_shift_table", 2, sb, 30 /* BF16 */, 480);
    gb_tensor(b, "proj_out.weight", 2, po, 14 /* Q6_K */, 512);
    gb_align(b, 32);
    uint8_t d[1024] = {0};
    gb_put(b, d, sizeof d);
}

/* The valid LTX seed: as seed_ltx but proj_out is Q6_K (4, 256) = 4 blocks = 840 bytes. */
static void seed_ltx_fixed(gb *b)
{
    gb_put(b, "GGUF", 4);
    gb_u32(b, 3);
    gb_u64(b, 5);
    gb_u64(b, 5);
    gb_kv_str(b, "general.architecture", "ltxv");
    gb_kv_u32(b, "general.alignment", 32);
    gb_kv_str(b, "config", "{\"transformer\": {\"num_layers\": 1}}");
    gb_str(b, "comfy.gguf.orig_shape.proj_out.weight");
    gb_u32(b, 9);
    gb_u32(b, 5);
    gb_u64(b, 3);
    gb_u32(b, 2);
    gb_u32(b, 2);
    gb_u32(b, 256);
    gb_str(b, "nested");
    gb_u32(b, 9);
    gb_u32(b, 9);
    gb_u64(b, 2);
    for (int k = 0; k < 2; k++) {
        gb_u32(b, 0);
        gb_u64(b, 3);
        gb_put(b, "abc", 3);
    }
    const int64_t sq[2] = {2, 256}, s8[2] = {1, 64}, sl[1] = {16}, sb[2] = {2, 8}, po[2] = {4, 256};
    gb_tensor(b, "transformer_blocks.0.ff.net.0.proj.weight", 2, sq, 12, 0); /* 288 B */
    gb_tensor(b, "transformer_blocks.0.attn1.to_k.weight", 2, s8, 8, 288);   /* 68 B */
    gb_tensor(b,
              "transformer_blocks.0.audio_to_video_attn.some_long_module_name_that_goes_past_64."
              "bias",
              1, sl, 0, 384);                          /* 64 B */
    gb_tensor(b, "scale_shift_table", 2, sb, 30, 448); /* 32 B */
    gb_tensor(b, "proj_out.weight", 2, po, 14, 480);   /* 840 B */
    gb_align(b, 32);
    uint8_t *d = malloc(1320);
    for (int i = 0; i < 1320; i++)
        d[i] = (uint8_t)(i * 37 + 11);
    gb_put(b, d, 1320);
    free(d);
}

static void seed_gemma(gb *b)
{
    gb_put(b, "GGUF", 4);
    gb_u32(b, 3);
    gb_u64(b, 3);
    gb_u64(b, 1);
    gb_kv_str(b, "general.architecture", "gemma3");
    const int64_t se[2] = {4, 32}, sn[1] = {8}, sq[2] = {2, 32};
    gb_tensor(b, "token_embd.weight", 2, se, 2 /* Q4_0 */, 0); /* 72 B */
    gb_tensor(b, "blk.0.post_ffw_norm.weight", 1, sn, 1 /* F16 */, 96);
    gb_tensor(b, "blk.0.attn_v.weight", 2, sq, 7 /* Q5_1 */, 128);
    gb_align(b, 32);
    uint8_t d[176];
    for (int i = 0; i < 176; i++)
        d[i] = (uint8_t)(i * 13 + 5);
    gb_put(b, d, sizeof d);
}

static int g_ok, g_err;

static void check_one(const uint8_t *b, size_t n)
{
    ltx_st_file *f = NULL;
    ltx_err_clear();
    ltx_status st = ltx_st_open_memory(b, n, LABEL, &f);
    if (st != LTX_OK) {
        g_err++;
        CHECK_MSG(st == LTX_ERR_FORMAT && f == NULL, "status %d", st);
        CHECK_MSG(strstr(ltx_err_message(), LABEL) != NULL, "message '%s'", ltx_err_message());
        return;
    }
    g_ok++;
    for (int i = 0; i < ltx_st_count(f); i++) {
        const ltx_st_entry *e = ltx_st_at(f, i);
        const uint8_t *d = e->data;
        size_t len = strlen(e->name);
        bool owned = len > 11 && !strcmp(e->name + len - 11, "norm.weight"); /* gemma fix-up */
        CHECK(owned || (d >= b && d <= b + n && e->nbytes <= (size_t)(b + n - d)));
        CHECK(ltx_st_find(f, e->name) == e);
        int64_t cnt = -1;
        float *x = ltx_st_read_f32(f, e->name, &cnt);
        CHECK(x != NULL && cnt >= 0);
        volatile float acc = 0;
        for (int64_t j = 0; x && j < cnt; j++)
            acc += x[j];
        (void)acc;
        free(x);
    }
    ltx_st_close(f);
}

TEST(seeds_are_valid)
{
    seed_ltx_fixed(&g_seeds[0]);
    seed_gemma(&g_seeds[1]);
    for (int s = 0; s < 2; s++) {
        ltx_st_file *f = NULL;
        CHECK(ltx_st_open_memory(g_seeds[s].p, g_seeds[s].n, LABEL, &f) == LTX_OK);
        if (!f) fprintf(stderr, "  seed %d: %s\n", s, ltx_err_message());
        CHECK(ltx_st_count(f) == (s ? 3 : 5));
        ltx_st_close(f);
    }
    /* the broken draft seed (Q6_K rows of 32) is itself a bad file */
    gb bad = {0};
    seed_ltx(&bad);
    ltx_st_file *f = NULL;
    CHECK(ltx_st_open_memory(bad.p, bad.n, LABEL, &f) == LTX_ERR_FORMAT);
    free(bad.p);
}

static const uint64_t EDGE[] = {0,          1,          2,          3,          7,
                                8,          9,          12,         16,         31,
                                32,         33,         64,         255,        256,
                                4096,       0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000ull,
                                1ull << 40, INT64_MAX,  1ull << 63, UINT64_MAX, UINT64_MAX - 7};

/* One mutant of seed s into a malloc'd buffer of exactly *n bytes. */
static uint8_t *mutate(const gb *s, size_t *n)
{
    uint8_t *b = malloc(s->n + 64);
    memcpy(b, s->p, s->n);
    *n = s->n;
    switch (rndn(5)) {
    case 0:
    case 1: { /* a recorded field gets an edge value (u32 or u64 wide) */
        size_t at = s->fields[rndn((size_t)s->nfields)];
        uint64_t v = EDGE[rndn(sizeof EDGE / sizeof *EDGE)];
        if (rnd() & 1) v += rndn(3);
        int w = (rnd() & 1) ? 8 : 4;
        for (int i = 0; i < w && at + (size_t)i < *n; i++)
            b[at + (size_t)i] = (uint8_t)(v >> (8 * i));
        break;
    }
    case 2: /* byte flips */
        for (int k = 1 + (int)rndn(4); k > 0; k--)
            b[rndn(*n)] ^= (uint8_t)(1u << rndn(8));
        break;
    case 3: /* truncation */
        *n = rndn(*n);
        break;
    default: { /* insert or delete a few bytes */
        size_t at = rndn(*n), k = 1 + rndn(8);
        if (rnd() & 1) {
            memmove(b + at + k, b + at, *n - at);
            for (size_t i = 0; i < k; i++)
                b[at + i] = (uint8_t)rnd();
            *n += k;
        } else if (at + k <= *n) {
            memmove(b + at, b + at + k, *n - at - k);
            *n -= k;
        }
    }
    }
    uint8_t *exact = malloc(*n ? *n : 1); /* exactly n bytes: ASan sees any overread */
    memcpy(exact, b, *n);
    free(b);
    return exact;
}

TEST(mutants_fail_cleanly)
{
    for (int s = 0; s < 2; s++)
        for (int it = 0; it < ITERS; it++) {
            size_t n;
            uint8_t *b = mutate(&g_seeds[s], &n);
            check_one(b, n);
            free(b);
        }
    printf("  %d mutants opened, %d refused\n", g_ok, g_err);
    CHECK(g_ok > 100 && g_err > 1000);
    free(g_seeds[0].p);
    free(g_seeds[1].p);
}

TEST_MAIN()
