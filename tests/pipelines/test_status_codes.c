/*
 * test_status_codes.c — a failure inside a helper that returns a pointer reaches the public API
 * with the status that helper recorded (core/error.h ltx_err_failed), not an invented
 * LTX_ERR_OOM: a device that cannot hold a file's dtype is LTX_ERR_UNSUPPORTED, a missing
 * tensor LTX_ERR_FORMAT, and the message names the file and tensor at fault.
 *
 * The files are the tiny test models with one tensor rewritten as F64, which "cpu-restricted"
 * (the CPU backend without float64 storage) cannot hold. Before the status travelled with the
 * message, the LoRA fusion answered LTX_ERR_OOM and the transformer loader answered
 * LTX_ERR_OOM with "out of memory while binding weights", losing the cause.
 */
#include "harness.h"
#include "test_util.h"

#include "backend/backend.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "ltx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define D          LTX_TEST_DATA "/golden"
#define CKPT       D "/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors"
#define UPS        D "/tiny_ckpt/tiny-ltx-2.3-spatial-upscaler-x2.safetensors"
#define LORA       D "/tiny_ckpt/tiny-lora-r4.safetensors"
#define F64_WEIGHT "model.diffusion_model.transformer_blocks.0.attn1.to_k.weight"

static char g_dir[256];

static const char *tmp(const char *name)
{
    static char buf[4][400];
    static int k;
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/ltx_test_status_%d", (int)getpid());
        mkdir(g_dir, 0755);
    }
    char *b = buf[k++ % 4];
    snprintf(b, 400, "%s/%s", g_dir, name);
    return b;
}

/* Copies safetensors file `src` to `dst`, storing the tensors that `to_f64` selects as F64
 * (their values unchanged). */
static bool copy_with_f64(const char *src, const char *dst, bool (*to_f64)(const char *name))
{
    ltx_st_file *f = NULL;
    if (ltx_st_open(src, &f) != LTX_OK) return false;
    ltx_st_writer *w = ltx_st_writer_new();
    bool ok = w != NULL;
    for (int i = 0; ok && i < ltx_st_count(f); i++) {
        const ltx_st_entry *e = ltx_st_at(f, i);
        if (!to_f64(e->name)) {
            ok = ltx_st_writer_add(w, e->name, e->dtype, e->ndim, e->shape, e->data) == LTX_OK;
            continue;
        }
        int64_t n = 0;
        float *v = ltx_st_read_f32(f, e->name, &n);
        double *d = malloc(sizeof(double) * (size_t)(n + 1));
        for (int64_t j = 0; v && d && j < n; j++)
            d[j] = v[j];
        ok = v && d && ltx_st_writer_add(w, e->name, LTX_F64, e->ndim, e->shape, d) == LTX_OK;
        free(v);
        free(d);
    }
    for (int i = 0; ok && i < ltx_st_metadata_count(f); i++) {
        const char *k, *v;
        ltx_st_metadata_at(f, i, &k, &v);
        ok = ltx_st_writer_set_metadata(w, k, v) == LTX_OK;
    }
    ok = ok && ltx_st_writer_save(w, dst) == LTX_OK;
    ltx_st_writer_free(w);
    ltx_st_close(f);
    return ok;
}

static bool every_tensor(const char *name)
{
    (void)name;
    return true;
}

static bool one_weight(const char *name)
{
    return !strcmp(name, F64_WEIGHT);
}

static ltx_engine *open_engine(const char *device)
{
    ltx_engine_params ep;
    ltx_engine_params_init(&ep);
    ep.device = device;
    ep.log = NULL;
    ltx_engine *e = NULL;
    return ltx_engine_open(&ep, &e) == LTX_OK ? e : NULL;
}

/* The tiny distilled pipeline (9 frames 128x64) with `ckpt` and the given LoRAs. */
static ltx_status distilled(ltx_engine *e, const char *ckpt, const ltx_lora_input *loras,
                            int n_loras, int prefetch)
{
    char tok[4096];
    tu_tokenizer_path(tok, sizeof tok);
    ltx_generate_params g;
    ltx_generate_params_init(&g);
    g.prompt = "A red fox";
    g.gemma_root = D "/tiny_gemma";
    g.tokenizer = tok;
    g.output_path = tmp("out.mp4");
    g.height = 64, g.width = 128, g.num_frames = 9;
    g.loras = loras;
    g.n_loras = n_loras;
    g.streaming_prefetch_count = prefetch;
    ltx_distilled_params dp;
    ltx_distilled_params_init(&dp);
    dp.distilled_checkpoint_path = ckpt;
    dp.spatial_upsampler_path = UPS;
    return ltx_generate_distilled(e, &g, &dp);
}

/* lora.c: the LoRA's tensors cannot be made on the device (ltx_st_tensor returns NULL) */
TEST(f64_lora_on_a_device_without_f64_is_unsupported)
{
    char lora[400];
    snprintf(lora, sizeof lora, "%s", tmp("lora_f64.safetensors"));
    CHECK(copy_with_f64(LORA, lora, every_tensor));
    ltx_engine *e = open_engine("cpu-restricted");
    CHECK(e != NULL);
    if (!e) return;
    ltx_lora_input l = {lora, 1.0};
    for (int prefetch = 0; prefetch <= 1; prefetch++) { /* resident and streamed weights */
        ltx_status s = distilled(e, CKPT, &l, 1, prefetch);
        const char *msg = ltx_engine_last_error(e);
        CHECK_MSG(s == LTX_ERR_UNSUPPORTED, "prefetch %d: %s (%s)", prefetch, ltx_status_name(s),
                  msg);
        CHECK_MSG(strstr(msg, lora) && strstr(msg, "lora_") && strstr(msg, "cannot store F64"),
                  "prefetch %d: %s", prefetch, msg);
    }
    ltx_engine_close(e);
    /* the same file on a device with float64: fused, the run succeeds */
    e = open_engine("cpu");
    CHECK(e != NULL);
    if (!e) return;
    ltx_status s = distilled(e, CKPT, &l, 1, 0);
    CHECK_MSG(s == LTX_OK, "cpu: %s", ltx_engine_last_error(e));
    ltx_engine_close(e);
    remove(tmp("out.mp4"));
    remove(lora);
}

/* ltx_transformer_load.c: one checkpoint weight cannot be made on the device */
TEST(f64_checkpoint_weight_on_a_device_without_f64_is_unsupported)
{
    char ckpt[400];
    snprintf(ckpt, sizeof ckpt, "%s", tmp("ckpt_f64.safetensors"));
    CHECK(copy_with_f64(CKPT, ckpt, one_weight));
    ltx_engine *e = open_engine("cpu-restricted");
    CHECK(e != NULL);
    if (!e) return;
    ltx_status s = distilled(e, ckpt, NULL, 0, 0);
    const char *msg = ltx_engine_last_error(e);
    CHECK_MSG(s == LTX_ERR_UNSUPPORTED, "%s (%s)", ltx_status_name(s), msg);
    CHECK_MSG(strstr(msg, ckpt) && strstr(msg, F64_WEIGHT) && strstr(msg, "cannot store F64") &&
                  !strstr(msg, "out of memory"),
              "%s", msg);
    ltx_engine_close(e);
    remove(ckpt);
}

/* io/st_tensor.c keeps the cause's code: a missing name is the file's (FORMAT), a dtype the
 * device lacks is the device's (UNSUPPORTED; it used to be relabelled FORMAT) */
TEST(st_tensor_keeps_the_cause)
{
    char path[400];
    snprintf(path, sizeof path, "%s", tmp("lora_f64b.safetensors"));
    CHECK(copy_with_f64(LORA, path, every_tensor));
    ltx_st_file *f = NULL;
    CHECK(ltx_st_open(path, &f) == LTX_OK);
    ltx_backend *be = NULL;
    CHECK(ltx_cpu_backend_create(true, NULL, NULL, &be) == LTX_OK);
    if (!f || !be) return;
    const char *name = ltx_st_at(f, 0)->name;
    ltx_err_clear();
    CHECK(ltx_st_tensor(f, be, name) == NULL);
    CHECK_MSG(ltx_err_status() == LTX_ERR_UNSUPPORTED, "%s", ltx_err_message());
    CHECK(strstr(ltx_err_message(), path) && strstr(ltx_err_message(), name));
    CHECK(ltx_err_failed() == LTX_ERR_UNSUPPORTED);
    ltx_err_clear();
    CHECK(ltx_st_tensor(f, be, "no.such.tensor") == NULL);
    CHECK(ltx_err_failed() == LTX_ERR_FORMAT && strstr(ltx_err_message(), "no.such.tensor"));
    /* converted on the host instead: the device never holds the F64 values */
    ltx_tensor *t = ltx_st_tensor_as(f, be, name, LTX_F32);
    CHECK_MSG(t && t->dtype == LTX_F32, "%s", ltx_err_message());
    ltx_tensor_free(t);
    ltx_backend_destroy(be);
    ltx_st_close(f);
    remove(path);
    rmdir(g_dir);
}

TEST_MAIN()
