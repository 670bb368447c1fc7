/*
 * bench/gen_real_size.c — synthetic real-shaped checkpoints for bench/real_size (never run by
 * the tests): random weights with the real tensor names, shapes and config metadata.
 *
 * Method: names and shapes come from the spec's key lists (spec/keys/{transformer,video_vae,
 * audio_vae,vocoder,text_embeddings_processor,gemma3_12b_text}.tsv); the config is the tiny
 * checkpoint's JSON with every size set to the 22B values of spec/models.md §1.3 (so the loaders
 * check the key lists against the config, as with the real file). Values: matrices uniform in
 * ±sqrt(3 / fan_in) (unit-variance outputs), 1-D "weight"/"std" tensors 1, other 1-D 0, AdaLN
 * scale-shift tables ±0.02 — plausible magnitudes, not a trained model. To write tens of GB in
 * disk time, each (dtype, amplitude) gets one 4 Mi-element random pool, converted once, and every
 * tensor of that kind is streamed from it cyclically (rows stay whole blocks: the pool is a
 * multiple of 256 elements).
 * Files (in the folder given):
 *   ltx-22b-q4_k.gguf, ltx-22b-q8_0.gguf  whole checkpoint, transformer quantized by the
 *                                          `ltx2c quantize` policy, the rest bf16 (tables f32)
 *   ltx-22b-fp8.safetensors               official fp8 layout: Linears of blocks 1..42 in
 *                                          F8_E4M3 with scalar .weight_scale/.input_scale
 *   gemma-3-12b-q4_0/                     model-q4_0.gguf (llama.cpp names, matrices and
 *                                          embeddings Q4_0, norms f32 stored as 1 + w) +
 *                                          config.json
 * The spatial upsampler is not synthesized (bench/real_size uses the tiny x2 one: same 128
 * latent channels; the real one is 0.5 GB).
 * Usage: gen_real_size OUT_DIR [q4_k] [q8_0] [fp8] [gemma]   (default: all four; --help)
 * Spec folder: $LTX_SPEC or /work/shared/spec; LTX_GEN_LAYERS=N keeps only the first N
 * transformer blocks / Gemma layers (config adjusted) for a quick smoke test.
 * Sizes at full depth: q4_k 19.5 GB, q8_0 28.8 GB, fp8 29.9 GB, Gemma q4_0 6.6 GB.
 */
#include "core/dtype.h"
#include "core/quant.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "models/quant_policy.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define POOL       ((int64_t)1 << 22)
#define TINY       LTX_TEST_DATA "/golden/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors"
#define TINY_GEMMA LTX_TEST_DATA "/golden/tiny_gemma/config.json"

typedef struct key {
    char name[200];
    int ndim;
    int64_t shape[8];
    int64_t numel;
} key;

static key *g_keys;
static int g_n;
static int g_layers = 48; /* LTX_GEN_LAYERS: fewer blocks/layers for a smoke test */

/* Block / layer index of a key ("transformer_blocks.N." or "layers.N."), -1 for none. */
static int layer_of(const char *name)
{
    const char *p = strstr(name, "transformer_blocks.");
    if (p && !strstr(name, "connector")) return atoi(p + 19);
    p = strstr(name, "model.layers.");
    return p ? atoi(p + 13) : -1;
}

static void load_tsv(const char *spec, const char *file)
{
    char path[1024], line[1024];
    snprintf(path, sizeof path, "%s/keys/%s", spec, file);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        if (layer_of(line) >= g_layers) continue;
        g_keys = realloc(g_keys, sizeof *g_keys * (size_t)(g_n + 1));
        key *k = &g_keys[g_n++];
        memset(k, 0, sizeof *k);
        char *tab = strchr(line, '\t');
        *tab = 0;
        snprintf(k->name, sizeof k->name, "%.199s", line);
        char *p = strchr(tab + 1, '[') + 1;
        k->numel = 1;
        while (*p && *p != ']') {
            k->shape[k->ndim] = strtoll(p, &p, 10);
            k->numel *= k->shape[k->ndim++];
            while (*p == ',' || *p == ' ')
                p++;
        }
    }
    fclose(f);
}

/* ---- values ------------------------------------------------------------------------------ */

typedef struct pool {
    ltx_dtype dt;
    float amp;
    void *bytes; /* POOL elements of dt */
} pool;
static pool g_pools[64];
static int g_np;

static uint64_t g_rng = 0x243F6A8885A308D3ull;
static float urand(void) /* [-1, 1) */
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)(g_rng >> 40) / (float)(1 << 23) - 1.0f;
}

static const void *pool_for(ltx_dtype dt, float amp)
{
    for (int i = 0; i < g_np; i++)
        if (g_pools[i].dt == dt && g_pools[i].amp == amp) return g_pools[i].bytes;
    float *f = malloc(sizeof(float) * (size_t)POOL);
    for (int64_t i = 0; i < POOL; i++)
        f[i] = urand() * amp;
    void *b = malloc(ltx_dtype_bytes(dt, POOL));
    ltx_convert(b, dt, f, LTX_F32, (size_t)POOL);
    free(f);
    g_pools[g_np++] = (pool){dt, amp, b};
    return b;
}

/* 0 = constant tensor; else the uniform amplitude. *c the constant. */
static float amplitude(const key *k, float *c)
{
    size_t n = strlen(k->name);
    *c = 0.0f;
    if (strstr(k->name, "scale_shift_table")) return 0.02f;
    if (k->ndim >= 2) return sqrtf(3.0f / (float)(k->numel / k->shape[0]));
    if ((n > 7 && !strcmp(k->name + n - 7, ".weight")) || strstr(k->name, "std")) *c = 1.0f;
    return 0.0f;
}

typedef ltx_status (*sink_fn)(void *user, const void *bytes, size_t n);

/* Streams k's values as dt into sink; amp > 0 overrides the amplitude (fp8 codes: 448). */
static ltx_status stream(const key *k, ltx_dtype dt, float amp, sink_fn sink, void *user)
{
    float c;
    float a = amplitude(k, &c);
    if (a != 0.0f && amp > 0.0f) a = amp;
    if (a == 0.0f) {
        float *f = malloc(sizeof(float) * (size_t)k->numel + 4);
        for (int64_t i = 0; i < k->numel; i++)
            f[i] = c;
        void *b = malloc(ltx_dtype_bytes(dt, k->numel) + 4);
        ltx_convert(b, dt, f, LTX_F32, (size_t)k->numel);
        ltx_status s = sink(user, b, ltx_dtype_bytes(dt, k->numel));
        free(f);
        free(b);
        return s;
    }
    const char *p = pool_for(dt, a);
    for (int64_t done = 0; done < k->numel;) {
        int64_t m = k->numel - done < POOL ? k->numel - done : POOL;
        LTX_TRY(sink(user, p, ltx_dtype_bytes(dt, m)));
        done += m;
    }
    return LTX_OK;
}

/* ---- config ------------------------------------------------------------------------------ */

static void set_num(cJSON *o, const char *k, double v)
{
    cJSON_ReplaceItemInObject(o, k, cJSON_CreateNumber(v));
}

/* The tiny checkpoint's config with the 22B sizes (spec/models.md §1.3). Caller frees. */
static char *real_config(void)
{
    ltx_st_file *f = NULL;
    if (ltx_st_open(TINY, &f) != LTX_OK) {
        fprintf(stderr, "%s\n", ltx_err_message());
        exit(1);
    }
    cJSON *c = cJSON_Parse(ltx_st_metadata(f, "config"));
    ltx_st_close(f);
    cJSON *t = cJSON_GetObjectItem(c, "transformer");
    set_num(t, "num_layers", g_layers);
    set_num(t, "num_attention_heads", 32);
    set_num(t, "attention_head_dim", 128);
    set_num(t, "audio_num_attention_heads", 32);
    set_num(t, "audio_attention_head_dim", 64);
    set_num(t, "cross_attention_dim", 4096);
    set_num(t, "audio_cross_attention_dim", 2048);
    set_num(t, "caption_channels", 3840);
    set_num(t, "connector_num_attention_heads", 32);
    set_num(t, "connector_attention_head_dim", 128);
    set_num(t, "audio_connector_num_attention_heads", 32);
    set_num(t, "audio_connector_attention_head_dim", 64);
    set_num(t, "connector_num_layers", 8);
    cJSON *v = cJSON_GetObjectItem(c, "vae");
    set_num(v, "decoder_base_channels", 128);
    cJSON_ReplaceItemInObject(
        v, "encoder_blocks",
        cJSON_Parse("[[\"res_x\",{\"num_layers\":4}],[\"compress_space_res\",{\"multiplier\":2}],"
                    "[\"res_x\",{\"num_layers\":6}],[\"compress_time_res\",{\"multiplier\":2}],"
                    "[\"res_x\",{\"num_layers\":4}],[\"compress_all_res\",{\"multiplier\":2}],"
                    "[\"res_x\",{\"num_layers\":2}],[\"compress_all_res\",{\"multiplier\":1}],"
                    "[\"res_x\",{\"num_layers\":2}]]"));
    cJSON_ReplaceItemInObject(
        v, "decoder_blocks",
        cJSON_Parse("[[\"res_x\",{\"num_layers\":4}],[\"compress_space\",{\"multiplier\":2}],"
                    "[\"res_x\",{\"num_layers\":6}],[\"compress_time\",{\"multiplier\":2}],"
                    "[\"res_x\",{\"num_layers\":4}],[\"compress_all\",{\"multiplier\":1}],"
                    "[\"res_x\",{\"num_layers\":2}],[\"compress_all\",{\"multiplier\":2}],"
                    "[\"res_x\",{\"num_layers\":2}]]"));
    cJSON *dd = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "audio_vae"), "model"),
                            "params"),
        "ddconfig");
    cJSON_ReplaceItemInObject(dd, "ch_mult", cJSON_Parse("[1,2,4]"));
    set_num(dd, "num_res_blocks", 2);
    cJSON *voc = cJSON_GetObjectItem(c, "vocoder");
    set_num(cJSON_GetObjectItem(voc, "vocoder"), "upsample_initial_channel", 1536);
    set_num(cJSON_GetObjectItem(voc, "bwe"), "upsample_initial_channel", 512);
    char *s = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    return s;
}

/* ---- GGUF files ---------------------------------------------------------------------------- */

static ltx_status gguf_sink(void *user, const void *b, size_t n)
{
    return ltx_gguf_writer_data(user, b, n);
}

static bool is_sst(const key *k)
{
    return strstr(k->name, "scale_shift_table") != NULL;
}

static void write_ltx_gguf(const char *out, ltx_dtype qt, const char *config)
{
    ltx_quant_policy pol = {LTX_QPOL_BLOCK, qt};
    ltx_dtype *dts = malloc(sizeof *dts * (size_t)g_n);
    ltx_gguf_writer *w = ltx_gguf_writer_new();
    ltx_gguf_writer_kv_str(w, "general.architecture", "ltxv");
    ltx_gguf_writer_kv_str(w, "config", config);
    ltx_gguf_writer_kv_str(w, "model_version", "2.3.0");
    ltx_gguf_writer_kv_str(w, "ltx2c.synthetic", "bench/gen_real_size: random weights");
    const char *pre = "model.diffusion_model.";
    for (int i = 0; i < g_n; i++) {
        key *k = &g_keys[i];
        ltx_dtype st = is_sst(k) ? LTX_F32 : LTX_BF16;
        dts[i] = !strncmp(k->name, pre, strlen(pre))
                     ? ltx_quant_target(&pol, k->name + strlen(pre), k->ndim, k->shape, st)
                     : st;
        if (ltx_gguf_writer_tensor(w, k->name, dts[i], k->ndim ? k->ndim : 1,
                                   k->ndim ? k->shape : (const int64_t[]){1}) != LTX_OK) {
            fprintf(stderr, "%s\n", ltx_err_message());
            exit(1);
        }
    }
    ltx_status s = ltx_gguf_writer_open(w, out);
    for (int i = 0; s == LTX_OK && i < g_n; i++)
        s = stream(&g_keys[i], dts[i], 0.0f, gguf_sink, w);
    if (s == LTX_OK) s = ltx_gguf_writer_close(w);
    if (s != LTX_OK) fprintf(stderr, "%s: %s\n", out, ltx_err_message());
    ltx_gguf_writer_free(w);
    free(dts);
    printf("wrote %s\n", out);
}

/* ---- fp8 safetensors (streamed: header first, then data) -------------------------------- */

typedef struct stw {
    FILE *fp;
} stw;

static ltx_status st_sink(void *user, const void *b, size_t n)
{
    return fwrite(b, 1, n, ((stw *)user)->fp) == n ? LTX_OK : ltx_err(LTX_ERR_IO, "write failed");
}

/* ref: spec pipelines.md §9.2: blocks 1..42, every Linear (to_gate_logits included). */
static bool fp8_key(const key *k)
{
    int b, used = 0;
    size_t n = strlen(k->name);
    if (sscanf(k->name, "model.diffusion_model.transformer_blocks.%d.%n", &b, &used) != 1 || !used)
        return false;
    return b >= 1 && b <= 42 && k->ndim == 2 && n > 7 && !strcmp(k->name + n - 7, ".weight") &&
           !is_sst(k);
}

static void write_fp8(const char *out, const char *config)
{
    cJSON *h = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(h, "__metadata__");
    cJSON_AddStringToObject(meta, "config", config);
    cJSON_AddStringToObject(meta, "model_version", "2.3.0");
    uint64_t off = 0;
    char nm[260];
    for (int i = 0; i < g_n; i++) {
        key *k = &g_keys[i];
        ltx_dtype dt = fp8_key(k) ? LTX_F8E4M3 : is_sst(k) ? LTX_F32 : LTX_BF16;
        cJSON *e = cJSON_AddObjectToObject(h, k->name);
        cJSON_AddStringToObject(e, "dtype", ltx_dtype_name(dt));
        cJSON *sh = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < k->ndim; d++)
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)k->shape[d]));
        uint64_t nb = ltx_dtype_bytes(dt, k->numel);
        cJSON *o = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)(off + nb)));
        off += nb;
        if (dt != LTX_F8E4M3) continue;
        for (int s = 0; s < 2; s++) {
            if (s == 0)
                snprintf(nm, sizeof nm, "%s_scale", k->name);
            else
                snprintf(nm, sizeof nm, "%.*s.input_scale", (int)strlen(k->name) - 7, k->name);
            cJSON *x = cJSON_AddObjectToObject(h, nm);
            cJSON_AddStringToObject(x, "dtype", "F32");
            cJSON_AddArrayToObject(x, "shape");
            cJSON *xo = cJSON_AddArrayToObject(x, "data_offsets");
            cJSON_AddItemToArray(xo, cJSON_CreateNumber((double)off));
            cJSON_AddItemToArray(xo, cJSON_CreateNumber((double)(off + 4)));
            off += 4;
        }
    }
    char *hs = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    size_t hl = strlen(hs), hp = (hl + 7) / 8 * 8;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    stw w = {fopen(tmp, "wb")};
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)((uint64_t)hp >> (8 * i));
    fwrite(len, 1, 8, w.fp);
    fwrite(hs, 1, hl, w.fp);
    for (size_t i = hl; i < hp; i++)
        fputc(' ', w.fp);
    free(hs);
    ltx_status s = LTX_OK;
    for (int i = 0; s == LTX_OK && i < g_n; i++) {
        key *k = &g_keys[i];
        bool f8 = fp8_key(k);
        /* fp8 codes = w / scale with scale = amp / 448: the pool's values scaled to +-448 */
        float c, a = amplitude(k, &c);
        s = stream(k,
                   f8          ? LTX_F8E4M3
                   : is_sst(k) ? LTX_F32
                               : LTX_BF16,
                   f8 ? 448.0f : 0.0f, st_sink, &w);
        if (f8 && s == LTX_OK) {
            float sc[2] = {a / 448.0f, 1.0f};
            s = st_sink(&w, sc, 8);
        }
    }
    if (fclose(w.fp) != 0 || s != LTX_OK || rename(tmp, out) != 0)
        fprintf(stderr, "%s: write failed\n", out);
    else
        printf("wrote %s\n", out);
}

/* ---- Gemma --------------------------------------------------------------------------------- */

static void write_gemma(const char *dir)
{
    mkdir(dir, 0755);
    FILE *f = fopen(TINY_GEMMA, "rb");
    char *txt = calloc(1, 1 << 20);
    size_t r = fread(txt, 1, (1 << 20) - 1, f);
    (void)r;
    fclose(f);
    cJSON *c = cJSON_Parse(txt);
    free(txt);
    cJSON *t = cJSON_GetObjectItem(c, "text_config");
    set_num(t, "hidden_size", 3840);
    set_num(t, "intermediate_size", 15360);
    set_num(t, "num_hidden_layers", g_layers);
    set_num(t, "num_attention_heads", 16);
    set_num(t, "num_key_value_heads", 8);
    set_num(t, "head_dim", 256);
    set_num(t, "query_pre_attn_scalar", 256);
    set_num(t, "sliding_window", 1024);
    set_num(t, "sliding_window_pattern", 6);
    cJSON *lt = cJSON_CreateArray();
    for (int l = 0; l < g_layers; l++)
        cJSON_AddItemToArray(
            lt, cJSON_CreateString(l % 6 == 5 ? "full_attention" : "sliding_attention"));
    cJSON_ReplaceItemInObject(t, "layer_types", lt);
    char path[1100];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *s = cJSON_Print(c);
    f = fopen(path, "wb");
    fputs(s, f);
    fclose(f);
    free(s);
    cJSON_Delete(c);

    ltx_dtype *dts = malloc(sizeof *dts * (size_t)g_n);
    ltx_gguf_writer *w = ltx_gguf_writer_new();
    ltx_gguf_writer_kv_str(w, "general.architecture", "gemma3");
    ltx_gguf_writer_kv_u32(w, "gemma3.block_count", (uint32_t)g_layers);
    for (int i = 0; i < g_n; i++) {
        char ln[300];
        bool norm = false;
        key *k = &g_keys[i];
        ltx_gguf_gemma_llama_name(k->name, ln, sizeof ln, &norm);
        /* norms: stored 1 (= 1 + w with w = 0, llama.cpp's convention), so Gemma's (1 + w) is 1 */
        dts[i] = norm ? LTX_F32 : k->ndim == 2 ? LTX_Q4_0 : LTX_BF16;
        ltx_gguf_writer_tensor(w, ln, dts[i], k->ndim, k->shape);
    }
    snprintf(path, sizeof path, "%s/model-q4_0.gguf", dir);
    ltx_status st = ltx_gguf_writer_open(w, path);
    for (int i = 0; st == LTX_OK && i < g_n; i++)
        st = stream(&g_keys[i], dts[i], 0.0f, gguf_sink, w);
    if (st == LTX_OK) st = ltx_gguf_writer_close(w);
    if (st != LTX_OK) fprintf(stderr, "%s: %s\n", path, ltx_err_message());
    ltx_gguf_writer_free(w);
    free(dts);
    printf("wrote %s\n", path);
}

static bool want(int argc, char **argv, const char *what)
{
    if (argc <= 2) return true;
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], what)) return true;
    return false;
}

int main(int argc, char **argv)
{
    static const char *USAGE =
        "usage: gen_real_size OUT_DIR [q4_k] [q8_0] [fp8] [gemma]\n"
        "  writes synthetic real-shaped checkpoints (random weights) into OUT_DIR for\n"
        "  bench/real_size; default all four (q4_k 19.5 GB, q8_0 28.8 GB, fp8 29.9 GB, gemma 6.6 GB)\n"
        "  env LTX_SPEC (spec folder, default /work/shared/spec), LTX_GEN_LAYERS=N (first N\n"
        "  blocks / layers only)\n";
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2) fprintf(stderr, "gen_real_size: unknown option '%s'\n", argv[1]);
        fputs(USAGE, stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "q4_k") && strcmp(argv[i], "q8_0") && strcmp(argv[i], "fp8") &&
            strcmp(argv[i], "gemma")) {
            fprintf(stderr, "gen_real_size: unknown file kind '%s' (q4_k, q8_0, fp8, gemma)\n",
                    argv[i]);
            return 2;
        }
    const char *spec = getenv("LTX_SPEC") ? getenv("LTX_SPEC") : "/work/shared/spec";
    const char *dir = argv[1];
    if (getenv("LTX_GEN_LAYERS")) g_layers = atoi(getenv("LTX_GEN_LAYERS"));
    mkdir(dir, 0755);
    char out[1024];
    if (want(argc, argv, "q4_k") || want(argc, argv, "q8_0") || want(argc, argv, "fp8")) {
        static const char *files[] = {"transformer.tsv", "text_embeddings_processor.tsv",
                                      "video_vae.tsv", "audio_vae.tsv", "vocoder.tsv"};
        for (size_t i = 0; i < sizeof files / sizeof *files; i++)
            load_tsv(spec, files[i]);
        char *config = real_config();
        if (want(argc, argv, "q4_k")) {
            snprintf(out, sizeof out, "%s/ltx-22b-q4_k.gguf", dir);
            write_ltx_gguf(out, LTX_Q4_K, config);
        }
        if (want(argc, argv, "q8_0")) {
            snprintf(out, sizeof out, "%s/ltx-22b-q8_0.gguf", dir);
            write_ltx_gguf(out, LTX_Q8_0, config);
        }
        if (want(argc, argv, "fp8")) {
            snprintf(out, sizeof out, "%s/ltx-22b-fp8.safetensors", dir);
            write_fp8(out, config);
        }
        free(config);
        free(g_keys);
        g_keys = NULL;
        g_n = 0;
    }
    if (want(argc, argv, "gemma")) {
        load_tsv(spec, "gemma3_12b_text.tsv");
        snprintf(out, sizeof out, "%s/gemma-3-12b-q4_0", dir);
        write_gemma(out);
    }
    return 0;
}
