/*
 * test_cuda_device.c — how the CUDA backend presents itself in every configuration:
 *   - built, no GPU (CI): `ltx2c info` lists cuda as built; `--device cuda` (info and verify)
 *     fails at once, non-zero, with "no CUDA device found" and the driver's reason; `auto`
 *     falls back to cpu; the library constructor returns LTX_ERR_UNSUPPORTED with that text.
 *   - built, GPU present: `--device cuda` opens, info shows precision bf16; auto
 *     picks cuda:0; the table is complete (every v2 entry set) and supports() answers.
 *   - not built: info says so and `--device cuda` is refused as not built.
 * The branch is chosen by what the library reports, so each build checks its own behaviour.
 */
#include "harness.h"

#include "backend/backend.h"

#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_out[65536];

static int run(const char *args)
{
    char cmd[1024], path[64];
    snprintf(path, sizeof path, "/tmp/ltx_test_cuda_%d.out", (int)getpid());
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>&1", LTX2C_BIN, args, path);
    int st = system(cmd);
    g_out[0] = 0;
    FILE *f = fopen(path, "rb");
    if (f) {
        size_t n = fread(g_out, 1, sizeof g_out - 1, f);
        g_out[n] = 0;
        fclose(f);
    }
    remove(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool has(const char *needle)
{
    return strstr(g_out, needle) != NULL;
}

static bool cuda_built(void)
{
    const char *const *b = ltx_backend_built();
    for (int i = 0; b[i]; i++)
        if (!strcmp(b[i], "cuda")) return true;
    return false;
}

/* Opens "cuda" directly: LTX_OK on a GPU machine. */
static ltx_status open_cuda(ltx_backend **be)
{
    return ltx_backend_create("cuda", NULL, NULL, false, be);
}

TEST(info_lists_cuda_when_built)
{
    CHECK(run("info") == 0);
    CHECK(has("compiled backends: cpu, cpu-restricted"));
#ifdef LTX_HAVE_CUDA
    CHECK(cuda_built());
    CHECK_MSG(has("compiled backends: cpu, cpu-restricted, cuda"), "%s", g_out);
#else
    CHECK(!cuda_built());
    CHECK(has("cuda: not built"));
#endif
}

/* With a GPU: the table is complete, memory_info is real, info names the precision. */
static void check_gpu_backend(ltx_backend *be)
{
    const ltx_backend_ops *o = be->ops;
    CHECK(o->abi_version == LTX_BACKEND_ABI_VERSION);
    CHECK(o->supports && o->stream_create && o->event_create && o->event_record &&
          o->stream_wait_event && o->event_synchronize && o->stream_synchronize &&
          o->host_alloc_pinned && o->upload_async && o->download_async && o->norm_modulate &&
          o->gated_add && o->linear_act && o->qk_norm_rope);
    CHECK(!be->caps.host_visible && be->caps.async && be->caps.fused_attention);
    size_t fr = 0, tot = 0;
    CHECK(o->memory_info(be, &fr, &tot) == LTX_OK && tot > 0 && fr <= tot);
    /* supports(): precise per dtype/shape (descriptors only; memory never touched) */
    ltx_tensor q = {.dtype = LTX_F32, .ndim = 4, .shape = {1, 8, 64, 128}};
    ltx_tensor big = q, w8 = {.dtype = LTX_F8E4M3, .ndim = 2, .shape = {64, 64}};
    ltx_tensor wi = w8;
    big.shape[3] = 320;
    wi.dtype = LTX_I32;
    ltx_op_query a = {LTX_OP_ATTENTION, -1, &q, {&q, &q, &q, NULL}};
    ltx_op_query a2 = {LTX_OP_ATTENTION, -1, &big, {&big, &big, &big, NULL}};
    ltx_op_query l8 = {LTX_OP_LINEAR, -1, &q, {&q, &w8, NULL, NULL}};
    ltx_op_query li = {LTX_OP_LINEAR, -1, &q, {&q, &wi, NULL, NULL}};
    CHECK(ltx_backend_supports(be, &a) && !ltx_backend_supports(be, &a2));
    CHECK(ltx_backend_supports(be, &l8) && !ltx_backend_supports(be, &li));
    ltx_backend_destroy(be);
    CHECK(run("info --device cuda") == 0);
    CHECK_MSG(has("precision: bf16"), "%s", g_out);
}

/* Without a GPU (CI): the constructor, `info --device cuda` and `verify --device cuda` fail at
 * once with the driver's reason; with one, the backend is checked instead. */
TEST(device_cuda_fails_clearly_without_gpu_or_works_with_one)
{
    ltx_backend *be = NULL;
    ltx_status s = open_cuda(&be);
    if (s == LTX_OK) {
        check_gpu_backend(be);
        return;
    }
#ifdef LTX_HAVE_CUDA
    CHECK(s == LTX_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(ltx_err_message(), "no CUDA device found (") != NULL, "%s", ltx_err_message());
    int rc = run("info --device cuda");
    CHECK(rc != 0);
    CHECK_MSG(has("no CUDA device found ("), "%s", g_out);
    char args[512];
    snprintf(args, sizeof args, "verify --device cuda %s/golden/%s", LTX_TEST_DATA,
             "modules/schedulers.safetensors");
    rc = run(args);
    CHECK(rc != 0);
    CHECK_MSG(has("no CUDA device found"), "%s", g_out);
#else
    CHECK(s == LTX_ERR_UNSUPPORTED);
    CHECK(run("info --device cuda") != 0);
    CHECK_MSG(has("no CUDA backend"), "%s", g_out);
#endif
}

TEST(device_auto_picks_cuda_only_with_gpu)
{
    ltx_backend *be = NULL, *cu = NULL;
    bool gpu = open_cuda(&cu) == LTX_OK;
    ltx_backend_destroy(cu);
    CHECK(ltx_backend_create("auto", NULL, NULL, false, &be) == LTX_OK);
    if (be) {
        CHECK_MSG(!strcmp(be->device_name, gpu ? "cuda:0" : "cpu"), "auto gave %s",
                  be->device_name);
        CHECK(be->precision == (gpu ? LTX_PRECISION_BF16 : LTX_PRECISION_F32));
    }
    ltx_backend_destroy(be);
}

TEST_MAIN()
