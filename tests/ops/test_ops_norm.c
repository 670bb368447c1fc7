/*
 * test_ops_norm.c — norm (RMS, layer, group, pixel), rope (split, interleaved) and SnakeBeta on
 * "cpu" (pool / serial) and "cpu-restricted", against naive double loops. Inputs include
 * strided views (slices with step, permutes, a (B, T, H*D) activation seen as (B, H, T, D)),
 * broadcast cos/sin tables and bf16 weights. Tolerance: 2e-6 relative + 1e-6 absolute (f32).
 */
#include "harness.h"
#include "ops_common.h"

static ltx_tensor *host_vec(ltx_backend *be, ltx_dtype dt, int64_t n, double *v, uint64_t *rng,
                            double lo, double hi)
{
    for (int64_t i = 0; i < n; i++) {
        double x = lo + (hi - lo) * (trand(rng) * 0.5 + 0.5);
        v[i] = dt == LTX_BF16 ? ltx_bf16_to_f32(ltx_f32_to_bf16((float)x)) : (float)x;
    }
    ltx_tensor *t = ltx_tensor_new(be, dt, 1, &n);
    if (!t || ltx_tensor_upload(t, v, LTX_F64) != LTX_OK) abort();
    return t;
}

TEST(rms_and_layer_norm)
{
    static const int64_t SH[][3] = {
        {2, 3, 64}, {1, 7, 129}, {3, 5, 1}, {4, 33, 255}, {1, 3, 20001}};
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        uint64_t rng = 31;
        for (int s = 0; s < 5; s++)
            for (int lay = 0; lay < LAY_COUNT; lay++)
                for (int op = 0; op < 2; op++)
                    for (int wk = 0; wk < 3; wk++) { /* 0: no weight, 1: f32, 2: bf16 */
                        const int64_t *sh = SH[s];
                        int64_t D = sh[2], n = numel_of(3, sh);
                        tin x = tin_make(c.be, LTX_F32, 3, sh, lay, -2, 3, &rng);
                        double *wv = malloc(sizeof(double) * (size_t)D);
                        double *bv = malloc(sizeof(double) * (size_t)D);
                        ltx_tensor *w = wk ? host_vec(c.be, wk == 2 ? LTX_BF16 : LTX_F32, D, wv,
                                                      &rng, -1.5, 1.5)
                                           : NULL;
                        ltx_tensor *b =
                            (wk && op == 1) ? host_vec(c.be, LTX_F32, D, bv, &rng, -1, 1) : NULL;
                        ltx_tensor *d = ltx_tensor_new(c.be, LTX_F32, 3, sh);
                        float eps = op ? 1e-6f : 1e-5f;
                        CHECK(c.be->ops->norm(c.be, op ? LTX_NORM_LAYER : LTX_NORM_RMS, d, x.t, w,
                                              b, 0, eps) == LTX_OK);
                        double *o = tdown(d), *ref = malloc(sizeof(double) * (size_t)n);
                        for (int64_t r = 0; r < n / D; r++) {
                            const double *xr = x.v + r * D;
                            double m = 0, q = 0;
                            for (int64_t i = 0; i < D; i++)
                                m += op ? xr[i] : xr[i] * xr[i];
                            m /= (double)D;
                            if (op)
                                for (int64_t i = 0; i < D; i++)
                                    q += (xr[i] - m) * (xr[i] - m);
                            double rs = op ? 1 / sqrt(q / (double)D + eps) : 1 / sqrt(m + eps);
                            for (int64_t i = 0; i < D; i++) {
                                double y = (op ? xr[i] - m : xr[i]) * rs;
                                if (w) y *= wv[i];
                                if (b) y += bv[i];
                                ref[r * D + i] = y;
                            }
                        }
                        double e = err_ratio(o, ref, n, 1e-5, 2e-6);
                        CHECK_MSG(e <= 1, "%s shape %d lay %d op %d wk %d: err %g", c.name, s, lay,
                                  op, wk, e);
                        free(o);
                        free(ref);
                        free(wv);
                        free(bv);
                        ltx_tensor_free(w);
                        ltx_tensor_free(b);
                        ltx_tensor_free(d);
                        tin_free(&x);
                    }
        tcfg_close(&c);
    }
}

TEST(group_and_pixel_norm)
{
    static const int64_t SH[][5] = {{2, 8, 3, 5, 7}, {1, 32, 2, 9, 4}, {3, 6, 1, 1, 33}};
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        uint64_t rng = 41;
        for (int s = 0; s < 3; s++)
            for (int lay = 0; lay < LAY_COUNT; lay++)
                for (int op = 0; op < 2; op++) {
                    const int64_t *sh = SH[s];
                    int64_t N = sh[0], C = sh[1], S = sh[2] * sh[3] * sh[4], n = N * C * S;
                    int G = op == 0 ? (int)(C / 2) : 0;
                    tin x = tin_make(c.be, LTX_F32, 5, sh, lay, -2, 3, &rng);
                    double *wv = malloc(sizeof(double) * (size_t)C);
                    double *bv = malloc(sizeof(double) * (size_t)C);
                    ltx_tensor *w = op == 0 ? host_vec(c.be, LTX_BF16, C, wv, &rng, -1, 1) : NULL;
                    ltx_tensor *b = op == 0 ? host_vec(c.be, LTX_F32, C, bv, &rng, -1, 1) : NULL;
                    ltx_tensor *d = ltx_tensor_new(c.be, LTX_F32, 5, sh);
                    float eps = op == 0 ? 1e-5f : 1e-8f;
                    CHECK(c.be->ops->norm(c.be, op == 0 ? LTX_NORM_GROUP : LTX_NORM_PIXEL, d, x.t,
                                          w, b, G, eps) == LTX_OK);
                    double *o = tdown(d), *ref = malloc(sizeof(double) * (size_t)n);
                    if (op == 0) {
                        int64_t cpg = C / G;
                        for (int64_t bi = 0; bi < N; bi++)
                            for (int64_t g = 0; g < G; g++) {
                                const double *xg = x.v + (bi * C + g * cpg) * S;
                                double m = 0, q = 0;
                                for (int64_t i = 0; i < cpg * S; i++)
                                    m += xg[i];
                                m /= (double)(cpg * S);
                                for (int64_t i = 0; i < cpg * S; i++)
                                    q += (xg[i] - m) * (xg[i] - m);
                                double rs = 1 / sqrt(q / (double)(cpg * S) + eps);
                                for (int64_t i = 0; i < cpg * S; i++) {
                                    int64_t ch = g * cpg + i / S;
                                    ref[(bi * C + g * cpg) * S + i] =
                                        (xg[i] - m) * rs * wv[ch] + bv[ch];
                                }
                            }
                    } else {
                        for (int64_t bi = 0; bi < N; bi++)
                            for (int64_t p = 0; p < S; p++) {
                                double q = 0;
                                for (int64_t ch = 0; ch < C; ch++) {
                                    double v = x.v[(bi * C + ch) * S + p];
                                    q += v * v;
                                }
                                double rs = 1 / sqrt(q / (double)C + eps);
                                for (int64_t ch = 0; ch < C; ch++)
                                    ref[(bi * C + ch) * S + p] = x.v[(bi * C + ch) * S + p] * rs;
                            }
                    }
                    double e = err_ratio(o, ref, n, 1e-5, 2e-6);
                    CHECK_MSG(e <= 1, "%s shape %d lay %d op %d: err %g", c.name, s, lay, op, e);
                    free(o);
                    free(ref);
                    free(wv);
                    free(bv);
                    ltx_tensor_free(w);
                    ltx_tensor_free(b);
                    ltx_tensor_free(d);
                    tin_free(&x);
                }
        tcfg_close(&c);
    }
}

TEST(rope_split_and_interleaved)
{
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        uint64_t rng = 51;
        const int64_t B = 2, H = 3, T = 5, D = 8;
        for (int mode = 0; mode < 2; mode++)
            for (int view = 0; view < 2; view++)
                for (int bc = 0; bc < 3;
                     bc++) { /* cos table: 0 (B,H,T,D/2) 1 (1,H,T,D/2) 2 (T,D/2) */
                    /* x: contiguous (B,H,T,D) or a (B,T,H*D) activation viewed as (B,H,T,D) */
                    int64_t xs[3] = {B, T, H * D};
                    tin xa = tin_make(c.be, LTX_F32, 3, xs, LAY_CONTIG, -2, 2, &rng);
                    ltx_tensor *x;
                    double *xv = malloc(sizeof(double) * (size_t)(B * H * T * D));
                    if (view) {
                        int64_t s4[4] = {B, T, H, D};
                        ltx_tensor *r = ltx_tensor_reshape(xa.t, 4, s4);
                        int perm[4] = {0, 2, 1, 3};
                        x = ltx_tensor_permute(r, perm);
                        ltx_tensor_free(r);
                        for (int64_t b = 0; b < B; b++)
                            for (int64_t h = 0; h < H; h++)
                                for (int64_t t = 0; t < T; t++)
                                    for (int64_t i = 0; i < D; i++)
                                        xv[((b * H + h) * T + t) * D + i] =
                                            xa.v[(b * T + t) * H * D + h * D + i];
                    } else {
                        int64_t s4[4] = {B, H, T, D};
                        x = ltx_tensor_reshape(xa.t, 4, s4);
                        memcpy(xv, xa.v, sizeof(double) * (size_t)(B * H * T * D));
                    }
                    int64_t cs4[4] = {bc == 0 ? B : 1, H, T, D / 2}, cs2[2] = {T, D / 2};
                    int cnd = bc == 2 ? 2 : 4;
                    const int64_t *csh = bc == 2 ? cs2 : cs4;
                    tin co = tin_make(c.be, LTX_F32, cnd, csh, LAY_PERMUTED, -1, 1, &rng);
                    tin sn = tin_make(c.be, LTX_F32, cnd, csh, LAY_SLICED, -1, 1, &rng);
                    int64_t ds[4] = {B, H, T, D};
                    ltx_tensor *d = ltx_tensor_new(c.be, LTX_F32, 4, ds);
                    CHECK(c.be->ops->rope(c.be, mode, d, x, co.t, sn.t) == LTX_OK);
                    double *o = tdown(d), ref[2 * 3 * 5 * 8];
                    for (int64_t b = 0; b < B; b++)
                        for (int64_t h = 0; h < H; h++)
                            for (int64_t t = 0; t < T; t++) {
                                const double *xr = xv + ((b * H + h) * T + t) * D;
                                int64_t cr = bc == 2
                                                 ? t * (D / 2)
                                                 : (((bc == 0 ? b : 0) * H + h) * T + t) * (D / 2);
                                double *rr = ref + ((b * H + h) * T + t) * D;
                                for (int64_t i = 0; i < D / 2; i++) {
                                    double cc = co.v[cr + i], ss = sn.v[cr + i];
                                    if (mode == LTX_ROPE_SPLIT) {
                                        rr[i] = xr[i] * cc - xr[i + D / 2] * ss;
                                        rr[i + D / 2] = xr[i + D / 2] * cc + xr[i] * ss;
                                    } else {
                                        rr[2 * i] = xr[2 * i] * cc - xr[2 * i + 1] * ss;
                                        rr[2 * i + 1] = xr[2 * i + 1] * cc + xr[2 * i] * ss;
                                    }
                                }
                            }
                    double e = err_ratio(o, ref, B * H * T * D, 1e-6, 2e-6);
                    CHECK_MSG(e <= 1, "%s mode %d view %d bc %d: err %g", c.name, mode, view, bc,
                              e);
                    /* in place on the strided view itself */
                    CHECK(c.be->ops->rope(c.be, mode, x, x, co.t, sn.t) == LTX_OK);
                    double *o2 = tdown(x);
                    CHECK(memcmp(o, o2, sizeof(double) * (size_t)(B * H * T * D)) == 0);
                    free(o2);
                    free(o);
                    free(xv);
                    ltx_tensor_free(d);
                    ltx_tensor_free(x);
                    tin_free(&co);
                    tin_free(&sn);
                    tin_free(&xa);
                }
        tcfg_close(&c);
    }
}

TEST(snake_beta)
{
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        uint64_t rng = 61;
        int64_t sh[3] = {2, 7, 1001};
        for (int lay = 0; lay < LAY_COUNT; lay++)
            for (int logs = 0; logs < 2; logs++) {
                tin x = tin_make(c.be, LTX_F32, 3, sh, lay, -3, 3, &rng);
                double av[7], bv[7];
                ltx_tensor *a = host_vec(c.be, LTX_F32, 7, av, &rng, logs ? -1 : 0.3, 1);
                ltx_tensor *b = host_vec(c.be, LTX_BF16, 7, bv, &rng, logs ? -1 : 0.3, 1);
                ltx_tensor *d = ltx_tensor_new(c.be, LTX_F32, 3, sh);
                CHECK(c.be->ops->snake(c.be, d, x.t, a, b, logs) == LTX_OK);
                double *o = tdown(d), *ref = malloc(sizeof(double) * 2 * 7 * 1001);
                for (int64_t i = 0; i < 2 * 7 * 1001; i++) {
                    int ch = (int)((i / 1001) % 7);
                    double al = logs ? exp(av[ch]) : av[ch], be = logs ? exp(bv[ch]) : bv[ch];
                    double s = sin(x.v[i] * al);
                    ref[i] = x.v[i] + 1 / (be + 1e-9) * s * s;
                }
                double e = err_ratio(o, ref, 2 * 7 * 1001, 2e-6, 2e-6);
                CHECK_MSG(e <= 1, "%s lay %d log %d: err %g", c.name, lay, logs, e);
                free(o);
                free(ref);
                ltx_tensor_free(a);
                ltx_tensor_free(b);
                ltx_tensor_free(d);
                tin_free(&x);
            }
        tcfg_close(&c);
    }
}

TEST(snake_large_arguments_nan_and_in_place)
{
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        uint64_t rng = 62;
        int64_t sh[3] = {1, 3, 4000};
        tin x = tin_make(c.be, LTX_F32, 3, sh, LAY_CONTIG, -60, 60, &rng);
        /* channel 0: alpha 1 (|arg| <= 60, fast path over many periods); channel 1: alpha 500
         * (|arg| up to 30000: libm path); channel 2: a NaN in the row */
        double av[3] = {1.0, 500.0, 0.7}, bv[3] = {0.5, 2.0, 1.0};
        x.v[2 * 4000 + 17] = NAN;
        ltx_tensor *xt = ltx_tensor_new(c.be, LTX_F32, 3, sh);
        CHECK(ltx_tensor_upload(xt, x.v, LTX_F64) == LTX_OK);
        int64_t n3 = 3;
        ltx_tensor *a = ltx_tensor_new(c.be, LTX_F32, 1, &n3),
                   *b = ltx_tensor_new(c.be, LTX_F32, 1, &n3);
        CHECK(ltx_tensor_upload(a, av, LTX_F64) == LTX_OK &&
              ltx_tensor_upload(b, bv, LTX_F64) == LTX_OK);
        CHECK(c.be->ops->snake(c.be, xt, xt, a, b, false) == LTX_OK); /* in place */
        double *o = tdown(xt), ref[3 * 4000];
        for (int i = 0; i < 3 * 4000; i++) {
            int ch = i / 4000;
            double arg = (double)(float)((float)x.v[i] * (float)av[ch]); /* f32 product, as torch */
            double s = sin(arg);
            ref[i] = x.v[i] + 1 / (bv[ch] + 1e-9) * s * s;
        }
        double e = err_ratio(o, ref, 3 * 4000, 4e-6, 2e-6);
        CHECK_MSG(e <= 1, "%s: err %g", c.name, e);
        free(o);
        ltx_tensor_free(a);
        ltx_tensor_free(b);
        ltx_tensor_free(xt);
        tin_free(&x);
        tcfg_close(&c);
    }
}

TEST_MAIN()
