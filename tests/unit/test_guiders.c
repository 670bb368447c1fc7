/*
 * test_guiders.c — src/sampling/guiders.c beyond the float32 golden: the bf16 state-dtype path
 * of the multi-modal guider against a host re-computation with per-op bf16 rounding, missing
 * passes (the reference's scalar 0), the isclose/skip-step predicates, the sigma-binned
 * factory lookup, and the legacy stateful APG momentum — on "cpu" and "cpu-restricted".
 */
#include "harness.h"

#include "backend/backend.h"
#include "sampling/guiders.h"

#include <math.h>

static ltx_backend *mk(bool restricted)
{
    ltx_backend *be = NULL;
    if (ltx_cpu_backend_create(restricted, NULL, NULL, &be) != LTX_OK) abort();
    return be;
}

#define N 96
static float rb(float v) { return ltx_round_bf16(v); }

static void fill(float *v, int seed)
{
    unsigned x = 12345u + (unsigned)seed * 7919u;
    for (int i = 0; i < N; i++) {
        x = x * 1664525u + 1013904223u;
        v[i] = rb(((float)(x >> 8) / 16777216.0f - 0.5f) * 4.0f);
    }
}

/* unbiased std, double accumulation, like the backend reduce */
static float host_std(const float *v)
{
    double m = 0, q = 0;
    for (int i = 0; i < N; i++) m += v[i];
    m /= N;
    for (int i = 0; i < N; i++) q += (v[i] - m) * (v[i] - m);
    return (float)sqrt((double)(float)(q / (N - 1)));
}

TEST(multimodal_bf16_matches_host)
{
    float c[N], u[N], p[N], m[N], want[N];
    fill(c, 1), fill(u, 2), fill(p, 3), fill(m, 4);
    ltx_guider_params gp;
    ltx_guider_params_init(&gp);
    gp.cfg_scale = 3.0, gp.stg_scale = 1.0, gp.modality_scale = 3.0, gp.rescale_scale = 0.7;
    for (int i = 0; i < N; i++) {
        float pr = c[i];
        pr = rb(pr + rb(2.0f * rb(c[i] - u[i])));
        pr = rb(pr + rb(1.0f * rb(c[i] - p[i])));
        pr = rb(pr + rb(2.0f * rb(c[i] - m[i])));
        want[i] = pr;
    }
    float f = rb(rb(host_std(c)) / rb(host_std(want)));
    f = rb(rb(0.7f * f) + (float)(1 - 0.7));
    for (int i = 0; i < N; i++) want[i] = rb(want[i] * f);
    for (int r = 0; r < 2; r++) {
        ltx_backend *be = mk(r);
        int64_t sh[3] = {1, 8, 12};
        ltx_tensor *tc = ltx_tensor_from_host(be, LTX_F32, 3, sh, c);
        ltx_tensor *tu = ltx_tensor_from_host(be, LTX_F32, 3, sh, u);
        ltx_tensor *tp = ltx_tensor_from_host(be, LTX_F32, 3, sh, p);
        ltx_tensor *tm = ltx_tensor_from_host(be, LTX_F32, 3, sh, m);
        ltx_tensor *o = ltx_tensor_new(be, LTX_F32, 3, sh);
        CHECK(ltx_multimodal_guider_calculate(be, &gp, o, tc, tu, tp, tm, LTX_BF16) == LTX_OK);
        float got[N];
        CHECK(ltx_tensor_download(o, got, LTX_F32) == LTX_OK);
        int bad = 0;
        for (int i = 0; i < N; i++) bad += got[i] != want[i];
        CHECK_MSG(bad == 0, "%d of %d differ (restricted=%d)", bad, N, r);
        /* neutral guider returns cond; absent passes are the scalar 0 */
        ltx_guider_params id;
        ltx_guider_params_init(&id);
        CHECK(ltx_multimodal_guider_calculate(be, &id, o, tc, NULL, NULL, NULL, LTX_BF16) ==
              LTX_OK);
        CHECK(ltx_tensor_download(o, got, LTX_F32) == LTX_OK);
        bad = 0;
        for (int i = 0; i < N; i++) bad += got[i] != c[i];
        CHECK(bad == 0);
        id.cfg_scale = 2.0; /* missing uncond: cond + 1 * (cond - 0) = 2 cond */
        CHECK(ltx_multimodal_guider_calculate(be, &id, o, tc, NULL, NULL, NULL, LTX_F32) ==
              LTX_OK);
        CHECK(ltx_tensor_download(o, got, LTX_F32) == LTX_OK);
        bad = 0;
        for (int i = 0; i < N; i++) bad += got[i] != 2 * c[i];
        CHECK(bad == 0);
        ltx_tensor_free(tc), ltx_tensor_free(tu), ltx_tensor_free(tp), ltx_tensor_free(tm);
        ltx_tensor_free(o);
        ltx_backend_destroy(be);
    }
}

TEST(predicates_and_skip)
{
    ltx_guider_params p;
    ltx_guider_params_init(&p);
    CHECK(!ltx_guider_do_uncond(&p) && !ltx_guider_do_perturbed(&p) && !ltx_guider_do_modality(&p));
    p.cfg_scale = 1.0 + 1e-12; /* isclose */
    CHECK(!ltx_guider_do_uncond(&p));
    p.cfg_scale = 1.001;
    CHECK(ltx_guider_do_uncond(&p));
    p.stg_scale = 1e-300; /* isclose(x, 0) with rel_tol only: never close unless exactly 0 */
    CHECK(ltx_guider_do_perturbed(&p));
    CHECK(!ltx_guider_should_skip_step(&p, 3));
    p.skip_step = 2; /* run steps 0, 3, 6, ... */
    CHECK(!ltx_guider_should_skip_step(&p, 0) && ltx_guider_should_skip_step(&p, 1) &&
          ltx_guider_should_skip_step(&p, 2) && !ltx_guider_should_skip_step(&p, 3));
}

TEST(factory_bins)
{
    ltx_guider_factory f = {0};
    ltx_guider_params a, b, c;
    ltx_guider_params_init(&a), ltx_guider_params_init(&b), ltx_guider_params_init(&c);
    a.cfg_scale = 1, b.cfg_scale = 2, c.cfg_scale = 3;
    CHECK(ltx_guider_factory_add(&f, 0.5, &b) == LTX_OK);
    CHECK(ltx_guider_factory_add(&f, 1.0, &a) == LTX_OK);
    CHECK(ltx_guider_factory_add(&f, 0.1, &c) == LTX_OK);
    CHECK(f.sigma_key[0] == 1.0 && f.sigma_key[2] == 0.1);
    /* bin i = (key_{i+1}, key_i]; above all keys -> first */
    CHECK(ltx_guider_factory_params(&f, 2.0)->cfg_scale == 1);
    CHECK(ltx_guider_factory_params(&f, 1.0)->cfg_scale == 1);
    CHECK(ltx_guider_factory_params(&f, 0.7)->cfg_scale == 1); /* (0.5, 1.0] */
    CHECK(ltx_guider_factory_params(&f, 0.5)->cfg_scale == 2);
    CHECK(ltx_guider_factory_params(&f, 0.3)->cfg_scale == 2); /* (0.1, 0.5] */
    CHECK(ltx_guider_factory_params(&f, 0.01)->cfg_scale == 3);
    ltx_guider_factory k;
    ltx_guider_factory_constant(&k, &b);
    CHECK(ltx_guider_factory_params(&k, 123.0)->cfg_scale == 2);
}

TEST(legacy_apg_momentum)
{
    for (int r = 0; r < 2; r++) {
        ltx_backend *be = mk(r);
        float c[N], u[N];
        fill(c, 5), fill(u, 6);
        int64_t sh[3] = {1, 8, 12};
        ltx_tensor *tc = ltx_tensor_from_host(be, LTX_F32, 3, sh, c);
        ltx_tensor *tu = ltx_tensor_from_host(be, LTX_F32, 3, sh, u);
        ltx_tensor *o1 = ltx_tensor_new(be, LTX_F32, 3, sh);
        ltx_tensor *o2 = ltx_tensor_new(be, LTX_F32, 3, sh);
        ltx_legacy_apg g = {.scale = 2.0, .eta = 1.0, .norm_threshold = 0, .momentum = 0.5};
        CHECK(ltx_legacy_apg_delta(be, &g, o1, tc, tu) == LTX_OK);
        CHECK(ltx_legacy_apg_delta(be, &g, o2, tc, tu) == LTX_OK);
        /* eta 1: g_apg = guidance; second call running = 0.5 g + g = 1.5 g */
        float a1[N], a2[N];
        CHECK(ltx_tensor_download(o1, a1, LTX_F32) == LTX_OK);
        CHECK(ltx_tensor_download(o2, a2, LTX_F32) == LTX_OK);
        double e1 = 0, e2 = 0;
        for (int i = 0; i < N; i++) {
            e1 = fmax(e1, fabs(a1[i] - 2.0 * (c[i] - u[i])));
            e2 = fmax(e2, fabs(a2[i] - 3.0 * (c[i] - u[i])));
        }
        CHECK(e1 < 1e-5 && e2 < 1e-5);
        ltx_legacy_apg_reset(&g);
        CHECK(g.running_avg == NULL);
        ltx_tensor_free(tc), ltx_tensor_free(tu), ltx_tensor_free(o1), ltx_tensor_free(o2);
        ltx_backend_destroy(be);
    }
}

TEST_MAIN()
