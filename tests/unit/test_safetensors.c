/*
 * test_safetensors.c — the safetensors reader and writer (src/io/safetensors.c, st_*.c):
 * write/read round trip of every dtype (0-dim, empty, metadata with characters that need
 * escaping), the tiny LTX checkpoint and the sharded tiny Gemma folder from the goldens, and
 * each kind of malformed file with the error status and message it must produce.
 */
#include "backend/backend.h"
#include "harness.h"
#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define CKPT  LTX_TEST_DATA "/golden/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors"
#define GEMMA LTX_TEST_DATA "/golden/tiny_gemma"

/* A fresh private folder under /tmp (removed by rm_tree). */
static char *temp_dir(void)
{
    static char buf[8][64];
    static int k;
    char *d = buf[k++ % 8];
    snprintf(d, 64, "/tmp/ltx_st_test_XXXXXX");
    return mkdtemp(d);
}

static void rm_tree(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

static bool file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (!fp) return;
    CHECK(fwrite(p, 1, n, fp) == n);
    fclose(fp);
}

/* u64 LE length + header + `data_len` bytes (value i & 0xff). Caller frees. */
static unsigned char *make_file(const char *header, size_t data_len, size_t *size)
{
    size_t h = strlen(header);
    *size = 8 + h + data_len;
    unsigned char *b = malloc(*size + 1);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    for (size_t i = 0; i < data_len; i++)
        b[8 + h + i] = (unsigned char)i;
    return b;
}

/* Opens header+data from memory; returns the status; *msg = the error text. */
static ltx_status open_hdr(const char *header, size_t data_len, const char **msg)
{
    size_t size;
    unsigned char *b = make_file(header, data_len, &size);
    ltx_st_file *f = NULL;
    ltx_err_clear();
    ltx_status st = ltx_st_open_memory(b, size, "mem.safetensors", &f);
    if (st == LTX_OK)
        CHECK(f != NULL);
    else
        CHECK(f == NULL);
    ltx_st_close(f);
    free(b);
    *msg = ltx_err_message();
    return st;
}

#define EXPECT_FORMAT(header, data_len, needle)                                                    \
    do {                                                                                           \
        const char *m_;                                                                            \
        ltx_status s_ = open_hdr(header, data_len, &m_);                                           \
        CHECK_MSG(s_ == LTX_ERR_FORMAT, "status %d for %s", s_, header);                           \
        CHECK_MSG(strstr(m_, "mem.safetensors") && strstr(m_, needle), "message '%s'", m_);        \
    } while (0)

/* ---- round trip -------------------------------------------------------------------------- */

TEST(roundtrip_all_dtypes)
{
    char *dir = temp_dir();
    CHECK(dir != NULL);
    if (!dir) return;
    char path[128], tmp[160];
    snprintf(path, sizeof path, "%s/rt.safetensors", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);

    ltx_st_writer *w = ltx_st_writer_new();
    unsigned char src[LTX_ELEM_DTYPE_COUNT][8 * 6];
    char names[LTX_ELEM_DTYPE_COUNT][32];
    const int64_t shape[2] = {2, 3};
    for (int t = 0; t < LTX_ELEM_DTYPE_COUNT; t++) {
        for (size_t i = 0; i < sizeof src[t]; i++)
            src[t][i] = (unsigned char)(31 * t + 7 * i + 1);
        snprintf(names[t], sizeof names[t], "t.%s", ltx_dtype_name((ltx_dtype)t));
        CHECK(ltx_st_writer_add(w, names[t], (ltx_dtype)t, 2, shape, src[t]) == LTX_OK);
    }
    float scalar = 3.5f;
    CHECK(ltx_st_writer_add(w, "scalar", LTX_F32, 0, NULL, &scalar) == LTX_OK);
    const int64_t eshape[3] = {4, 0, 2};
    CHECK(ltx_st_writer_add(w, "empty", LTX_BF16, 3, eshape, NULL) == LTX_OK);
    const int64_t oshape[1] = {3};
    const uint16_t odd[3] = {0x3f80, 0x4000, 0xc040}; /* bf16 1, 2, -3: leaves odd alignment */
    CHECK(ltx_st_writer_add(w, "odd_bf16", LTX_BF16, 1, oshape, odd) == LTX_OK);
    CHECK(ltx_st_writer_add(w, "scalar", LTX_F32, 0, NULL, &scalar) == LTX_ERR_INVALID_ARG);
    CHECK(strstr(ltx_err_message(), "scalar") != NULL);
    const char *tricky = "{\"a\": [1, 2], \"s\": \"q\\\"uo\\te\"}\n\x01 caf\xc3\xa9";
    CHECK(ltx_st_writer_set_metadata(w, "config", "old") == LTX_OK);
    CHECK(ltx_st_writer_set_metadata(w, "config", tricky) == LTX_OK); /* replaces */
    CHECK(ltx_st_writer_set_metadata(w, "model_version", "2.3.0") == LTX_OK);
    CHECK(ltx_st_writer_save(w, path) == LTX_OK);
    ltx_st_writer_free(w);
    CHECK(!file_exists(tmp));

    /* Header length is a multiple of 8 (data section 8-aligned). */
    FILE *fp = fopen(path, "rb");
    unsigned char lb[8] = {0};
    CHECK(fp && fread(lb, 1, 8, fp) == 8);
    if (fp) fclose(fp);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = (hl << 8) | lb[i];
    CHECK(hl % 8 == 0 && hl > 0);

    ltx_st_file *f = NULL;
    CHECK(ltx_st_open(path, &f) == LTX_OK);
    if (!f) return;
    CHECK(ltx_st_count(f) == LTX_ELEM_DTYPE_COUNT + 3);
    CHECK(strcmp(ltx_st_path(f), path) == 0);
    for (int i = 1; i < ltx_st_count(f); i++)
        CHECK(strcmp(ltx_st_at(f, i - 1)->name, ltx_st_at(f, i)->name) < 0);
    CHECK(ltx_st_at(f, -1) == NULL && ltx_st_at(f, ltx_st_count(f)) == NULL);
    for (int t = 0; t < LTX_ELEM_DTYPE_COUNT; t++) {
        const ltx_st_entry *e = ltx_st_find(f, names[t]);
        CHECK(e != NULL);
        if (!e) continue;
        size_t es = ltx_dtype_size((ltx_dtype)t);
        CHECK(e->dtype == (ltx_dtype)t && e->ndim == 2 && e->shape[0] == 2 && e->shape[1] == 3);
        CHECK(e->nbytes == 6 * es && e->shard == 0);
        CHECK(memcmp(e->data, src[t], e->nbytes) == 0);
        CHECK((uintptr_t)e->data % es == 0); /* writer keeps every tensor aligned */
    }
    const ltx_st_entry *e = ltx_st_find(f, "scalar");
    CHECK(e && e->ndim == 0 && e->nbytes == 4 && memcmp(e->data, &scalar, 4) == 0);
    e = ltx_st_find(f, "empty");
    CHECK(e && e->ndim == 3 && e->shape[1] == 0 && e->nbytes == 0 && e->dtype == LTX_BF16);
    CHECK(ltx_st_find(f, "nope") == NULL && ltx_st_find(f, "") == NULL);
    CHECK(ltx_st_metadata_count(f) == 2);
    CHECK(ltx_st_metadata(f, "config") && strcmp(ltx_st_metadata(f, "config"), tricky) == 0);
    CHECK(ltx_st_metadata(f, "model_version") &&
          strcmp(ltx_st_metadata(f, "model_version"), "2.3.0") == 0);
    CHECK(ltx_st_metadata(f, "absent") == NULL);
    const char *k, *v;
    ltx_st_metadata_at(f, 5, &k, &v);
    CHECK(k == NULL && v == NULL);

    /* f32 reads: scalar, bf16 values, ints, empty */
    int64_t n = -1;
    float *x = ltx_st_read_f32(f, "scalar", &n);
    CHECK(x && n == 1 && x[0] == 3.5f);
    free(x);
    x = ltx_st_read_f32(f, "odd_bf16", &n);
    CHECK(x && n == 3 && x[0] == 1.0f && x[1] == 2.0f && x[2] == -3.0f);
    free(x);
    x = ltx_st_read_f32(f, "t.U8", &n);
    CHECK(x && n == 6 && x[0] == (float)src[LTX_U8][0] && x[5] == (float)src[LTX_U8][5]);
    free(x);
    x = ltx_st_read_f32(f, "empty", &n);
    CHECK(x != NULL && n == 0);
    free(x);
    x = ltx_st_read_f32(f, "missing.weight", &n);
    CHECK(x == NULL && n == 0 && strstr(ltx_err_message(), "missing.weight") &&
          strstr(ltx_err_message(), path));

    /* The same bytes through ltx_st_open_memory. */
    fp = fopen(path, "rb");
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)sz);
    CHECK(fread(buf, 1, (size_t)sz, fp) == (size_t)sz);
    fclose(fp);
    ltx_st_file *m = NULL;
    CHECK(ltx_st_open_memory(buf, (size_t)sz, NULL, &m) == LTX_OK);
    CHECK(m && ltx_st_count(m) == ltx_st_count(f) && strcmp(ltx_st_path(m), "<memory>") == 0);
    for (int i = 0; m && i < ltx_st_count(m); i++) {
        const ltx_st_entry *a = ltx_st_at(m, i), *b = ltx_st_at(f, i);
        CHECK(strcmp(a->name, b->name) == 0 && a->nbytes == b->nbytes &&
              memcmp(a->data, b->data, a->nbytes) == 0);
    }
    ltx_st_close(m);
    free(buf);
    ltx_st_close(f);
    rm_tree(dir);
}

TEST(writer_errors)
{
    ltx_st_writer *w = ltx_st_writer_new();
    const int64_t sh[1] = {-1};
    float v = 1;
    CHECK(ltx_st_writer_add(w, "neg", LTX_F32, 1, sh, &v) == LTX_ERR_INVALID_ARG);
    CHECK(ltx_st_writer_add(w, "a", LTX_F32, 0, NULL, &v) == LTX_OK);
    CHECK(ltx_st_writer_save(w, "/nonexistent_dir_ltx/x.safetensors") == LTX_ERR_IO);
    CHECK(strstr(ltx_err_message(),
                 "/nonexistent_dir_ltx/x.safetensors: cannot create a temporary file") != NULL);
    CHECK(!file_exists("/nonexistent_dir_ltx/x.safetensors"));
    ltx_st_writer_free(w);
    ltx_st_writer_free(NULL);
    ltx_st_close(NULL);
}

/* ---- tensors on backends ----------------------------------------------------------------- */

TEST(tensor_wrap_and_convert)
{
    ltx_st_file *f = NULL;
    CHECK(ltx_st_open(CKPT, &f) == LTX_OK);
    if (!f) return;
    const char *name = "audio_vae.decoder.conv_in.conv.weight";
    const ltx_st_entry *e = ltx_st_find(f, name);
    CHECK(e != NULL);
    int64_t n = 0;
    float *ref = ltx_st_read_f32(f, name, &n);
    CHECK(ref && n == 128 * 8 * 3 * 3);
    for (int restricted = 0; restricted < 2 && e && ref; restricted++) {
        ltx_backend *be = NULL;
        CHECK(ltx_cpu_backend_create(restricted, NULL, NULL, &be) == LTX_OK);
        if (!be) continue;
        ltx_tensor *t = ltx_st_tensor(f, be, name);
        CHECK(t && t->dtype == LTX_BF16 && t->ndim == 4 && t->shape[0] == 128 && t->shape[3] == 3);
        if (t && !restricted) CHECK(ltx_tensor_host(t) == e->data); /* zero-copy */
        if (t) CHECK(strcmp(t->name, name) == 0);
        ltx_tensor *c = ltx_st_tensor_as(f, be, name, LTX_F32);
        CHECK(c && c->dtype == LTX_F32 && ltx_tensor_numel(c) == n);
        float *h = c ? ltx_tensor_to_host_f32(c) : NULL;
        CHECK(h && memcmp(h, ref, (size_t)n * sizeof(float)) == 0);
        free(h);
        ltx_tensor_free(c);
        ltx_tensor_free(t);
        /* F64 on cpu-restricted (no F64 storage): converted on the host instead. */
        ltx_tensor *d = ltx_st_tensor_as(f, be, name, restricted ? LTX_F32 : LTX_F64);
        CHECK(d != NULL);
        ltx_tensor_free(d);
        CHECK(ltx_st_tensor(f, be, "no.such.tensor") == NULL);
        CHECK(strstr(ltx_err_message(), "no.such.tensor") && strstr(ltx_err_message(), CKPT));

        /* writer_add_tensor round trip from a device tensor */
        ltx_st_writer *w = ltx_st_writer_new();
        ltx_tensor *t2 = ltx_st_tensor_as(f, be, name, LTX_F32);
        CHECK(t2 && ltx_st_writer_add_tensor(w, "w", t2) == LTX_OK);
        char *dir = temp_dir(), path[128];
        snprintf(path, sizeof path, "%s/t.safetensors", dir);
        CHECK(ltx_st_writer_save(w, path) == LTX_OK);
        ltx_st_file *g = NULL;
        CHECK(ltx_st_open(path, &g) == LTX_OK);
        const ltx_st_entry *ge = ltx_st_find(g, "w");
        CHECK(ge && ge->dtype == LTX_F32 && ge->nbytes == (size_t)n * 4 &&
              memcmp(ge->data, ref, ge->nbytes) == 0);
        ltx_st_close(g);
        ltx_tensor_free(t2);
        ltx_st_writer_free(w);
        rm_tree(dir);
        ltx_backend_destroy(be);
    }
    free(ref);
    ltx_st_close(f);
}

/* ---- golden files ------------------------------------------------------------------------ */

TEST(tiny_checkpoint)
{
    ltx_st_file *f = NULL;
    CHECK(ltx_st_open(CKPT, &f) == LTX_OK);
    if (!f) return;
    /* ref: manifest.json / header of tiny-ltx-2.3-22b-dev.safetensors: 1651 BF16 tensors */
    CHECK(ltx_st_count(f) == 1651);
    CHECK(ltx_st_shard_count(f) == 1 && strcmp(ltx_st_shard_path(f, 0), CKPT) == 0);
    for (int i = 0; i < ltx_st_count(f); i++) {
        const ltx_st_entry *e = ltx_st_at(f, i);
        CHECK(e->dtype == LTX_BF16);
        CHECK(ltx_st_find(f, e->name) == e);
        if (i) CHECK(strcmp(ltx_st_at(f, i - 1)->name, e->name) < 0);
    }
    const ltx_st_entry *e = ltx_st_find(f, "audio_vae.decoder.conv_in.conv.weight");
    CHECK(e && e->ndim == 4 && e->shape[0] == 128 && e->shape[1] == 8 && e->shape[2] == 3 &&
          e->shape[3] == 3 && e->nbytes == 18432);
    e = ltx_st_find(f, "audio_vae.decoder.conv_out.conv.bias");
    CHECK(e && e->ndim == 1 && e->shape[0] == 2 && e->nbytes == 4);
    CHECK(ltx_st_find(f, "model.diffusion_model.transformer_blocks.0.attn1.to_q.weight"));
    CHECK(ltx_st_metadata(f, "model_version") &&
          strcmp(ltx_st_metadata(f, "model_version"), "2.3.0") == 0);
    cJSON *cfg = cJSON_Parse(ltx_st_metadata(f, "config"));
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(cfg, "transformer");
    const cJSON *nl = cJSON_GetObjectItemCaseSensitive(tr, "num_layers");
    CHECK(cJSON_IsNumber(nl) && nl->valueint == 2);
    cJSON_Delete(cfg);
    ltx_st_close(f);
}

TEST(open_dir_gemma)
{
    ltx_st_file *f = NULL;
    CHECK(ltx_st_open_dir(GEMMA, &f) == LTX_OK);
    if (!f) {
        fprintf(stderr, "  %s\n", ltx_err_message());
        return;
    }
    CHECK(ltx_st_count(f) == 41);
    CHECK(ltx_st_shard_count(f) == 2);
    CHECK(strstr(ltx_st_shard_path(f, 0), "model-00001-of-00002.safetensors") != NULL);
    const ltx_st_entry *e = ltx_st_find(f, "language_model.model.embed_tokens.weight");
    CHECK(e && e->shard == 0 && e->ndim == 2 && e->shape[1] == 32);
    e = ltx_st_find(f, "language_model.model.layers.0.mlp.down_proj.weight");
    CHECK(e && e->shard == 1);
    /* every name of the index is present */
    FILE *fp = fopen(GEMMA "/model.safetensors.index.json", "rb");
    char *txt = calloc(1, 1 << 16);
    CHECK(fp && fread(txt, 1, (1 << 16) - 1, fp) > 0);
    if (fp) fclose(fp);
    cJSON *idx = cJSON_Parse(txt);
    const cJSON *it;
    int listed = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(idx, "weight_map"))
    {
        listed++;
        CHECK(ltx_st_find(f, it->string) != NULL);
    }
    CHECK(listed == 41);
    cJSON_Delete(idx);
    free(txt);
    ltx_st_close(f);
}

/* Folder with two shards built by the writer, and an index. */
static void make_shards(const char *dir, const char *index, bool dup)
{
    char p[256];
    float v[2] = {1, 2};
    const int64_t sh[1] = {2};
    ltx_st_writer *w = ltx_st_writer_new();
    ltx_st_writer_add(w, "a", LTX_F32, 1, sh, v);
    if (dup) ltx_st_writer_add(w, "b", LTX_F32, 1, sh, v);
    snprintf(p, sizeof p, "%s/s1.safetensors", dir);
    CHECK(ltx_st_writer_save(w, p) == LTX_OK);
    ltx_st_writer_free(w);
    w = ltx_st_writer_new();
    ltx_st_writer_add(w, "b", LTX_F32, 1, sh, v);
    snprintf(p, sizeof p, "%s/s2.safetensors", dir);
    CHECK(ltx_st_writer_save(w, p) == LTX_OK);
    ltx_st_writer_free(w);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    write_bytes(p, index, strlen(index));
}

TEST(open_dir_errors)
{
    ltx_st_file *f = NULL;
    char *d = temp_dir();
    make_shards(d, "{\"weight_map\": {\"a\": \"s1.safetensors\", \"b\": \"s2.safetensors\"}}",
                false);
    CHECK(ltx_st_open_dir(d, &f) == LTX_OK);
    CHECK(f && ltx_st_count(f) == 2 && ltx_st_find(f, "b")->shard == 1);
    ltx_st_close(f);
    rm_tree(d);

    d = temp_dir(); /* "c" listed but missing from its shard */
    make_shards(d,
                "{\"weight_map\": {\"a\": \"s1.safetensors\", \"c\": \"s1.safetensors\", "
                "\"b\": \"s2.safetensors\"}}",
                false);
    CHECK(ltx_st_open_dir(d, &f) == LTX_ERR_FORMAT && f == NULL);
    CHECK(strstr(ltx_err_message(), "'c'") && strstr(ltx_err_message(), "missing"));
    rm_tree(d);

    d = temp_dir(); /* "b" in both shards */
    make_shards(d, "{\"weight_map\": {\"a\": \"s1.safetensors\", \"b\": \"s2.safetensors\"}}",
                true);
    CHECK(ltx_st_open_dir(d, &f) == LTX_ERR_FORMAT);
    CHECK(strstr(ltx_err_message(), "'b'") && strstr(ltx_err_message(), "s1.safetensors") &&
          strstr(ltx_err_message(), "s2.safetensors"));
    rm_tree(d);

    d = temp_dir(); /* shard file absent */
    make_shards(d, "{\"weight_map\": {\"a\": \"s1.safetensors\", \"b\": \"s3.safetensors\"}}",
                false);
    CHECK(ltx_st_open_dir(d, &f) == LTX_ERR_IO && strstr(ltx_err_message(), "s3.safetensors"));
    rm_tree(d);

    d = temp_dir(); /* index without weight_map */
    make_shards(d, "[1, 2]", false);
    CHECK(ltx_st_open_dir(d, &f) == LTX_ERR_FORMAT && strstr(ltx_err_message(), "weight_map"));
    rm_tree(d);

    d = temp_dir(); /* no index: model.safetensors; then nothing at all */
    CHECK(ltx_st_open_dir(d, &f) == LTX_ERR_IO && strstr(ltx_err_message(), d));
    char p[256];
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    ltx_st_writer *w = ltx_st_writer_new();
    float v = 1;
    ltx_st_writer_add(w, "x", LTX_F32, 0, NULL, &v);
    CHECK(ltx_st_writer_save(w, p) == LTX_OK);
    ltx_st_writer_free(w);
    CHECK(ltx_st_open_dir(d, &f) == LTX_OK && f && ltx_st_count(f) == 1);
    ltx_st_close(f);
    rm_tree(d);
}

/* ---- malformed files ---------------------------------------------------------------------- */

TEST(error_missing_and_truncated_files)
{
    ltx_st_file *f = NULL;
    CHECK(ltx_st_open("/nonexistent/x.safetensors", &f) == LTX_ERR_IO && f == NULL);
    CHECK(strstr(ltx_err_message(), "/nonexistent/x.safetensors") != NULL);
    CHECK(ltx_st_open(LTX_TEST_DATA, &f) == LTX_ERR_IO); /* a folder */
    char *d = temp_dir(), p[256];
    snprintf(p, sizeof p, "%s/short.safetensors", d);
    write_bytes(p, "\x10\0\0", 3);
    CHECK(ltx_st_open(p, &f) == LTX_ERR_FORMAT && strstr(ltx_err_message(), p) &&
          strstr(ltx_err_message(), "too small"));
    /* the tiny checkpoint cut in its data section */
    FILE *fp = fopen(CKPT, "rb");
    size_t n = 300000;
    unsigned char *b = malloc(n);
    CHECK(fp && fread(b, 1, n, fp) == n);
    if (fp) fclose(fp);
    snprintf(p, sizeof p, "%s/cut.safetensors", d);
    write_bytes(p, b, n);
    CHECK(ltx_st_open(p, &f) == LTX_ERR_FORMAT && strstr(ltx_err_message(), p) &&
          strstr(ltx_err_message(), "outside the data section"));
    /* ... and in its header */
    write_bytes(p, b, 1000);
    CHECK(ltx_st_open(p, &f) == LTX_ERR_FORMAT &&
          strstr(ltx_err_message(), "exceeds the file size"));
    free(b);
    rm_tree(d);
}

TEST(error_headers)
{
    const char *m;
    /* sanity: a valid one */
    CHECK(open_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, &m) ==
          LTX_OK);
    CHECK(open_hdr("{}", 0, &m) == LTX_OK);
    CHECK(open_hdr("{\"__metadata__\":{\"k\":\"v\"}}  ", 0, &m) == LTX_OK);
    EXPECT_FORMAT("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", 8, "JSON");
    EXPECT_FORMAT("not json at all", 0, "not valid JSON");
    EXPECT_FORMAT("[1,2,3]", 0, "not a JSON object");
    EXPECT_FORMAT("{} x", 0, "trailing");
    EXPECT_FORMAT("{\"w\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                  "unknown dtype 'F33'");
    EXPECT_FORMAT("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
                  "outside the data section");
    EXPECT_FORMAT("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8,
                  "outside the data section");
    EXPECT_FORMAT("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 16,
                  "needs 12");
    EXPECT_FORMAT("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                  12, "overlap");
    EXPECT_FORMAT("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                  16, "twice");
    EXPECT_FORMAT("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8,
                  "shape[0]");
    EXPECT_FORMAT("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,6]}}", 8,
                  "shape[0]");
    EXPECT_FORMAT("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8,
                  "shape[0]");
    EXPECT_FORMAT("{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}",
                  8, "dimensions");
    EXPECT_FORMAT("{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],"
                  "\"data_offsets\":[0,8]}}",
                  8, "overflow");
    EXPECT_FORMAT("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8,
                  "data_offsets");
    EXPECT_FORMAT("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,1e300]}}", 8,
                  "data_offsets");
    EXPECT_FORMAT("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "'w'");
    EXPECT_FORMAT("{\"w\":7}", 8, "'w'");
    EXPECT_FORMAT("{\"__metadata__\":{\"k\":3}}", 0, "metadata 'k'");
    EXPECT_FORMAT("{\"__metadata__\":[]}", 0, "__metadata__");

    /* length field beyond the file and beyond the 100 MB limit */
    size_t size;
    unsigned char *b = make_file("{}", 0, &size);
    ltx_st_file *f = NULL;
    b[0] = 200;
    CHECK(ltx_st_open_memory(b, size, "mem.safetensors", &f) == LTX_ERR_FORMAT);
    CHECK(strstr(ltx_err_message(), "exceeds the file size") != NULL);
    b[0] = 0;
    b[4] = 1; /* 2^32 */
    CHECK(ltx_st_open_memory(b, size, "mem.safetensors", &f) == LTX_ERR_FORMAT);
    CHECK(strstr(ltx_err_message(), "100 MB") != NULL);
    CHECK(ltx_st_open_memory(b, 7, "mem.safetensors", &f) == LTX_ERR_FORMAT);
    CHECK(ltx_st_open_memory(NULL, 0, NULL, &f) == LTX_ERR_FORMAT);
    free(b);
}

TEST(empty_tensors_and_gaps)
{
    const char *m;
    /* zero-byte tensors may share offsets; gaps between tensors are allowed */
    CHECK(open_hdr("{\"e1\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[4,4]},"
                   "\"e2\":{\"dtype\":\"BF16\",\"shape\":[0],\"data_offsets\":[4,4]},"
                   "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                   "\"g\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]}}",
                   8, &m) == LTX_OK);
}

/* ---- ltx2c inspect ------------------------------------------------------------------------ */

#ifdef LTX2C_BIN
/* Runs `ltx2c inspect --json ARGS` and parses its output; NULL on failure. */
static cJSON *run_inspect(const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' inspect --json %s", LTX2C_BIN, args);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t cap = 1 << 20, n = 0, r;
    char *buf = malloc(cap);
    while ((r = fread(buf + n, 1, cap - 1 - n, p)) > 0) {
        n += r;
        if (n == cap - 1) buf = realloc(buf, cap *= 2);
    }
    buf[n] = 0;
    int rc = pclose(p);
    cJSON *j = rc == 0 ? cJSON_Parse(buf) : NULL;
    free(buf);
    return j;
}

static const cJSON *component(const cJSON *j, const char *name)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(j, "components"))
    {
        if (strcmp(cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring, name) == 0) return c;
    }
    return NULL;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

TEST(cli_inspect)
{
    /* ref: tiny_ckpt parameter counts in the golden README (transformer 424,888; video
     * encoder 2,824,449; video decoder 379,816; audio encoder 1,791,888; audio decoder
     * 2,668,162; embeddings processor 150,056 = connectors + feature extractor). */
    cJSON *j = run_inspect("--tensors '" CKPT "'");
    CHECK(j != NULL);
    CHECK(num(j, "tensor_count") == 1651);
    const cJSON *tensors = cJSON_GetObjectItemCaseSensitive(j, "tensors");
    CHECK(cJSON_GetArraySize(tensors) == 1651);
    CHECK(num(component(j, "transformer"), "numel") == 424888);
    CHECK(num(component(j, "text connectors"), "numel") +
              num(component(j, "text feature extractor"), "numel") ==
          150056);
    const cJSON *vae = component(j, "video VAE"), *part;
    double enc = -1, dec = -1;
    cJSON_ArrayForEach(part, cJSON_GetObjectItemCaseSensitive(vae, "parts"))
    {
        const char *nm = cJSON_GetObjectItemCaseSensitive(part, "name")->valuestring;
        if (!strcmp(nm, "encoder")) enc = num(part, "numel");
        if (!strcmp(nm, "decoder")) dec = num(part, "numel");
    }
    CHECK(enc == 2824449 && dec == 379816);
    CHECK(component(j, "audio VAE") && component(j, "vocoder"));
    CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "config")));
    cJSON_Delete(j);

    j = run_inspect("'" LTX_TEST_DATA "/golden/tiny_ckpt/tiny-lora-r4.safetensors'");
    const cJSON *lora = component(j, "LoRA");
    CHECK(lora && num(lora, "rank_max") == 4 && num(lora, "rank_min") == 4 &&
          num(lora, "tensors") == 80);
    cJSON_Delete(j);

    j = run_inspect("'" LTX_TEST_DATA
                    "/golden/tiny_ckpt/tiny-ltx-2.3-spatial-upscaler-x2.safetensors'");
    const cJSON *up = component(j, "latent upsampler");
    CHECK(up && num(up, "tensors") == num(j, "tensor_count"));
    cJSON_Delete(j);

    j = run_inspect("'" GEMMA "'");
    CHECK(j && num(j, "tensor_count") == 41 &&
          cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "shards")) == 2);
    cJSON_Delete(j);
    CHECK(run_inspect("/nonexistent.safetensors 2>/dev/null") == NULL);
}
#endif

TEST_MAIN()
