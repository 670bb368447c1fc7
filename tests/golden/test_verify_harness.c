/*
 * test_verify_harness.c — the golden replay harness itself: a verify of a real golden passes, a
 * perturbed copy fails, a missing output fails, an unknown function is "unsupported" (never a
 * pass), and every tolerance kind (allclose, uint8_frac, rel_to, rows_where) decides correctly.
 * Synthetic goldens are written with the safetensors writer into /tmp and replayed through the
 * public API (ltx_verify_file), on both cpu and cpu-restricted.
 */
#include "harness.h"

#include "io/safetensors.h"
#include "ltx_golden.h"

#include <unistd.h>

static const float sig1[9] = {1.0f,      0.99375f, 0.9875f,   0.98125f, 0.975f,
                              0.909375f, 0.725f,   0.421875f, 0.0f};

static ltx_engine *open_engine(const char *dev)
{
    ltx_engine_params p;
    ltx_engine_params_init(&p);
    p.device = dev;
    p.n_threads = 1;
    p.log = NULL; /* silent */
    ltx_engine *e = NULL;
    CHECK(ltx_engine_open(&p, &e) == LTX_OK);
    return e;
}

/* Writes a golden with one case of `function` expecting `want` (9 floats) under out.x, with
 * the given tolerance JSON, plus optional extra tensors. Returns the path. */
static const char *write_golden(const char *tag, const char *function, const float *want,
                                const char *tolerance, const char *extra_outputs)
{
    static char path[256];
    snprintf(path, sizeof path, "/tmp/ltx_test_verify_%d_%s.safetensors", (int)getpid(), tag);
    ltx_st_writer *w = ltx_st_writer_new();
    int64_t n = 9, one = 1;
    ltx_st_writer_add(w, "out.x", LTX_F32, 1, &n, want);
    float ref[9] = {10, 0, 0, 0, 0, 0, 0, 0, 0};
    ltx_st_writer_add(w, "in.ref", LTX_F32, 1, &n, ref);
    float zero = 0;
    ltx_st_writer_add(w, "in.mask0", LTX_F32, 1, &one, &zero);
    char extra[1024];
    snprintf(extra, sizeof extra,
             "{\"schema\":\"ltx2-golden-extra/1\",\"kind\":\"module\",\"files\":{},\"cases\":["
             "{\"function\":\"%s\",\"params\":{\"stage\":1},\"inputs\":[],"
             "\"outputs\":[\"out.x\"%s],\"tolerance\":%s}]}",
             function, extra_outputs, tolerance);
    ltx_st_writer_set_metadata(w, "extra", extra);
    CHECK(ltx_st_writer_save(w, path) == LTX_OK);
    ltx_st_writer_free(w);
    return path;
}

static ltx_status verify(ltx_engine *e, const char *path, ltx_verify_result *r)
{
    ltx_verify_params vp;
    ltx_verify_params_init(&vp);
    vp.golden_root = "/tmp";
    return ltx_verify_file(e, path, &vp, r);
}

static void run_all(const char *dev)
{
    ltx_engine *e = open_engine(dev);
    if (!e) return;
    ltx_verify_result r;
    const char *allclose = "{\"kind\":\"allclose\",\"atol\":1e-6,\"rtol\":0}";

    /* exact expected values pass */
    const char *p = write_golden("ok", "distilled_sigmas", sig1, allclose, "");
    CHECK(verify(e, p, &r) == LTX_OK);
    CHECK(r.passed == 1 && r.failed == 0 && r.unsupported == 0);
    unlink(p);

    /* one value perturbed by 1e-5: mismatch, non-zero */
    float bad[9];
    memcpy(bad, sig1, sizeof bad);
    bad[4] += 1e-5f;
    p = write_golden("perturbed", "distilled_sigmas", bad, allclose, "");
    CHECK(verify(e, p, &r) == LTX_ERR_MISMATCH);
    CHECK(r.failed == 1);
    CHECK(strstr(ltx_engine_last_error(e), "outside tolerance") != NULL);
    unlink(p);

    /* an expected output the port does not produce is a failure */
    p = write_golden("missing", "distilled_sigmas", sig1, allclose, ",\"out.never\"");
    CHECK(verify(e, p, &r) == LTX_ERR_MISMATCH);
    CHECK(r.passed == 1 && r.failed == 1);
    unlink(p);

    /* unknown function: unsupported, never a pass */
    p = write_golden("unknown", "no_such_function", sig1, allclose, "");
    CHECK(verify(e, p, &r) == LTX_ERR_UNSUPPORTED);
    CHECK(r.unsupported == 1 && r.passed == 0);
    unlink(p);

    /* rel_to: |d| <= factor * max|in.ref| = 1e-3 * 10 */
    float off[9];
    for (int i = 0; i < 9; i++) off[i] = sig1[i] + 0.005f;
    const char *rel = "{\"kind\":\"rel_to\",\"ref\":\"in.ref\",\"factor\":1e-3}";
    p = write_golden("relok", "distilled_sigmas", off, rel, "");
    CHECK(verify(e, p, &r) == LTX_OK);
    unlink(p);
    for (int i = 0; i < 9; i++) off[i] = sig1[i] + 0.02f;
    p = write_golden("relbad", "distilled_sigmas", off, rel, "");
    CHECK(verify(e, p, &r) == LTX_ERR_MISMATCH);
    unlink(p);

    /* uint8_frac: one of 9 elements off by 2 -> fraction 8/9 within max_abs 1 */
    memcpy(off, sig1, sizeof off);
    off[2] += 2.0f;
    p = write_golden("fracok", "distilled_sigmas", off,
                     "{\"kind\":\"uint8_frac\",\"max_abs\":1,\"min_frac\":0.85}", "");
    CHECK(verify(e, p, &r) == LTX_OK);
    unlink(p);
    p = write_golden("fracbad", "distilled_sigmas", off,
                     "{\"kind\":\"uint8_frac\",\"max_abs\":1,\"min_frac\":0.9}", "");
    CHECK(verify(e, p, &r) == LTX_ERR_MISMATCH);
    unlink(p);

    /* rows_where with an all-zero mask compares nothing: garbage rows are ignored */
    for (int i = 0; i < 9; i++) off[i] = 100.0f;
    p = write_golden("rows", "distilled_sigmas", off,
                     "{\"kind\":\"allclose\",\"atol\":0,\"rtol\":0,\"rows_where\":\"in.mask0\"}",
                     "");
    CHECK(verify(e, p, &r) == LTX_OK);
    unlink(p);

    /* not a golden at all */
    char plain[256];
    snprintf(plain, sizeof plain, "/tmp/ltx_test_verify_%d_plain.safetensors", (int)getpid());
    ltx_st_writer *w = ltx_st_writer_new();
    int64_t n = 9;
    ltx_st_writer_add(w, "x", LTX_F32, 1, &n, sig1);
    ltx_st_writer_save(w, plain);
    ltx_st_writer_free(w);
    CHECK(verify(e, plain, &r) == LTX_ERR_FORMAT);
    CHECK(strstr(ltx_engine_last_error(e), "not a golden") != NULL);
    unlink(plain);

    /* a real golden from the repository */
    CHECK(verify(e, LTX_TEST_DATA "/golden/modules/schedulers.safetensors", &r) == LTX_OK);
    CHECK(r.passed == 22 && r.failed == 0);
    ltx_engine_close(e);
}

TEST(verify_cpu) { run_all("cpu"); }
TEST(verify_cpu_restricted) { run_all("cpu-restricted"); }

TEST(engine_errors)
{
    ltx_engine_params p;
    ltx_engine_params_init(&p);
    p.device = "tpu";
    p.log = NULL;
    ltx_engine *e = (ltx_engine *)1;
    CHECK(ltx_engine_open(&p, &e) == LTX_ERR_INVALID_ARG);
    CHECK(e == NULL);
    CHECK(strstr(ltx_last_error_global(), "tpu") != NULL);
    ltx_engine_close(NULL); /* NULL-safe */
}

TEST_MAIN()
