/*
 * test_ops_fused.c — the fused table ops (norm_modulate, gated_add, linear_act, qk_norm_rope)
 * against the unfused ops composed in the reference order, and against naive double loops;
 * and the nn_* wrappers on a backend whose supports() answers no (the composed fallback).
 * On the CPU backends fused == composed bit for bit (same roundings in the same order); on
 * another device (LTX_TEST_DEVICE) the comparison uses the documented op tolerance (relative
 * 2e-6 + absolute 1e-5 in f32, see docs/NUMERICS.md "Backend v2 fused ops").
 */
#include "harness.h"
#include "ops_common.h"

#include "nn/nn.h"

/* Contiguous f32 results downloaded as float and compared: bit-exact on CPU, else tolerance. */
static double cmp_f32(const tcfg *c, const ltx_tensor *a, const ltx_tensor *b)
{
    int64_t n = ltx_tensor_numel(a);
    float *x = malloc(sizeof(float) * (size_t)(n + 1)),
          *y = malloc(sizeof(float) * (size_t)(n + 1));
    if (ltx_tensor_download(a, x, LTX_F32) != LTX_OK ||
        ltx_tensor_download(b, y, LTX_F32) != LTX_OK)
        abort();
    double worst = 0;
    if (c->exact) {
        worst = memcmp(x, y, sizeof(float) * (size_t)n) ? INFINITY : 0;
    } else {
        for (int64_t i = 0; i < n; i++) {
            double e = fabs((double)x[i] - y[i]) / (1e-5 + 2e-6 * fabs((double)y[i]));
            if (!(e <= worst)) worst = e;
        }
    }
    free(x);
    free(y);
    return worst;
}

/* A copy of be whose supports() answers no: the nn wrappers must compose. */
static ltx_backend unfused_view(ltx_backend *be, ltx_backend_ops *ops)
{
    ltx_backend f = *be;
    *ops = *be->ops;
    ops->supports = NULL;
    f.ops = ops;
    return f;
}

TEST(norm_modulate_fused_vs_composed)
{
    const int64_t B = 2, T = 5, D = 48;
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        ltx_backend_ops uops;
        ltx_backend ub = unfused_view(c.be, &uops);
        uint64_t rng = 7;
        for (int lay = 0; lay < LAY_COUNT; lay++)
            for (int op = 0; op < 2; op++)
                for (int tab = 0; tab < 3; tab++) { /* scale/shift (B,1,D) f32, bf16, (B,T,D) */
                    int64_t xs[3] = {B, T, D}, ts[3] = {B, tab == 2 ? T : 1, D};
                    ltx_dtype tdt = tab == 1 ? LTX_BF16 : LTX_F32;
                    tin x = tin_make(c.be, LTX_F32, 3, xs, lay, -2, 3, &rng);
                    tin sc =
                        tin_make(c.be, tdt, 3, ts, tab == 2 ? lay : LAY_CONTIG, -0.5, 0.5, &rng);
                    tin sh = tin_make(c.be, tdt, 3, ts, LAY_SLICED, -1, 1, &rng);
                    ltx_norm_op nop = op ? LTX_NORM_LAYER : LTX_NORM_RMS;
                    ltx_tensor *f = ltx_tensor_new(c.be, LTX_F32, 3, xs);
                    ltx_tensor *g = ltx_tensor_new(c.be, LTX_F32, 3, xs);
                    ltx_tensor *h = ltx_tensor_new(c.be, LTX_F32, 3, xs);
                    CHECK(c.be->ops->norm_modulate(c.be, nop, f, x.t, sc.t, sh.t, 1e-6f) == LTX_OK);
                    /* composed by hand: norm, 1 + scale, multiply, add */
                    CHECK(c.be->ops->norm(c.be, nop, g, x.t, NULL, NULL, 0, 1e-6f) == LTX_OK);
                    ltx_tensor *s1 = ltx_nn_unary(c.be, LTX_UNARY_SCALE, sc.t, 1.0, 1.0);
                    CHECK(s1 && c.be->ops->binary(c.be, LTX_BINARY_MUL, g, g, s1) == LTX_OK);
                    CHECK(c.be->ops->binary(c.be, LTX_BINARY_ADD, g, g, sh.t) == LTX_OK);
                    CHECK(ltx_nn_norm_modulate(&ub, nop, h, x.t, sc.t, sh.t, 1e-6f) == LTX_OK);
                    double e1 = cmp_f32(&c, f, g), e2 = cmp_f32(&c, f, h);
                    CHECK_MSG(e1 <= 1 && e2 <= 1, "%s lay %d op %d tab %d: %g %g", c.name, lay, op,
                              tab, e1, e2);
                    /* and the math itself, in double */
                    double *o = tdown(f), *ref = malloc(sizeof(double) * (size_t)(B * T * D));
                    for (int64_t r = 0; r < B * T; r++) {
                        const double *xr = x.v + r * D;
                        int64_t tr = tab == 2 ? r : r / T;
                        double m = 0, q = 0;
                        for (int64_t i = 0; i < D; i++)
                            m += op ? xr[i] : xr[i] * xr[i];
                        m /= (double)D;
                        for (int64_t i = 0; op && i < D; i++)
                            q += (xr[i] - m) * (xr[i] - m);
                        double rs = op ? 1 / sqrt(q / (double)D + 1e-6) : 1 / sqrt(m + 1e-6);
                        for (int64_t i = 0; i < D; i++)
                            ref[r * D + i] =
                                (op ? xr[i] - m : xr[i]) * rs * (1 + sc.v[tr * D + i]) +
                                sh.v[tr * D + i];
                    }
                    double e3 = err_ratio(o, ref, B * T * D, 1e-5, 1e-5);
                    CHECK_MSG(e3 <= 1, "%s lay %d op %d tab %d vs double: %g", c.name, lay, op, tab,
                              e3);
                    free(o);
                    free(ref);
                    ltx_tensor_free(s1);
                    ltx_tensor_free(f);
                    ltx_tensor_free(g);
                    ltx_tensor_free(h);
                    tin_free(&x);
                    tin_free(&sc);
                    tin_free(&sh);
                }
        tcfg_close(&c);
    }
}

TEST(gated_add_fused_vs_composed)
{
    const int64_t B = 3, T = 7, D = 40;
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        ltx_backend_ops uops;
        ltx_backend ub = unfused_view(c.be, &uops);
        uint64_t rng = 9;
        for (int lay = 0; lay < LAY_COUNT; lay++)
            for (int gk = 0; gk < 3; gk++) { /* gate: none, (B,1,D), (1,1,D) */
                int64_t xs[3] = {B, T, D}, gs[3] = {gk == 2 ? 1 : B, 1, D};
                tin x = tin_make(c.be, LTX_F32, 3, xs, LAY_CONTIG, -2, 2, &rng);
                tin y = tin_make(c.be, LTX_F32, 3, xs, lay, -2, 2, &rng);
                tin gt = tin_make(c.be, LTX_F32, 3, gs, LAY_CONTIG, -1, 1, &rng);
                const ltx_tensor *gate = gk ? gt.t : NULL;
                ltx_tensor *x2 = ltx_nn_contiguous(c.be, x.t, LTX_F32);
                ltx_tensor *x3 = ltx_nn_contiguous(c.be, x.t, LTX_F32);
                /* fused in place on x */
                CHECK(c.be->ops->gated_add(c.be, x.t, x.t, y.t, gate) == LTX_OK);
                /* composed: t = y * gate; x2 += t */
                ltx_tensor *t = gate ? ltx_nn_binary(c.be, LTX_BINARY_MUL, y.t, gate)
                                     : ltx_nn_contiguous(c.be, y.t, LTX_F32);
                CHECK(t && c.be->ops->binary(c.be, LTX_BINARY_ADD, x2, x2, t) == LTX_OK);
                CHECK(ltx_nn_gated_add(&ub, x3, x3, y.t, gate) == LTX_OK);
                double e1 = cmp_f32(&c, x.t, x2), e2 = cmp_f32(&c, x.t, x3);
                CHECK_MSG(e1 <= 1 && e2 <= 1, "%s lay %d gate %d: %g %g", c.name, lay, gk, e1, e2);
                double *o = tdown(x.t);
                double worst = 0;
                for (int64_t i = 0; i < B * T * D; i++) {
                    int64_t b = i / (T * D), d = i % D;
                    double g = gk == 0 ? 1 : gt.v[(gk == 2 ? 0 : b) * D + d];
                    double r = x.v[i] + y.v[i] * g, e = fabs(o[i] - r) / (1e-6 + 1e-6 * fabs(r));
                    if (e > worst) worst = e;
                }
                CHECK_MSG(worst <= 1, "%s vs double: %g", c.name, worst);
                free(o);
                ltx_tensor_free(t);
                ltx_tensor_free(x2);
                ltx_tensor_free(x3);
                tin_free(&x);
                tin_free(&y);
                tin_free(&gt);
            }
        tcfg_close(&c);
    }
}

TEST(linear_act_fused_vs_composed)
{
    static const ltx_unary_op acts[] = {LTX_UNARY_GELU_TANH, LTX_UNARY_GELU_ERF, LTX_UNARY_SILU,
                                        LTX_UNARY_RELU};
    const int64_t M = 9, K = 32, N = 24;
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        ltx_backend_ops uops;
        ltx_backend ub = unfused_view(c.be, &uops);
        uint64_t rng = 11;
        for (int a = 0; a < 4; a++)
            for (int wk = 0; wk < 2; wk++) {
                int64_t xs[2] = {M, K}, ws[2] = {N, K}, ys[2] = {M, N};
                tin x =
                    tin_make(c.be, LTX_F32, 2, xs, a % 2 ? LAY_SLICED : LAY_CONTIG, -1, 1, &rng);
                tin w = tin_make(c.be, wk ? LTX_BF16 : LTX_F32, 2, ws, LAY_CONTIG, -0.5, 0.5, &rng);
                tin b = tin_make(c.be, LTX_F32, 1, &N, LAY_CONTIG, -0.5, 0.5, &rng);
                ltx_tensor *f = ltx_tensor_new(c.be, LTX_F32, 2, ys);
                ltx_tensor *g = ltx_tensor_new(c.be, LTX_F32, 2, ys);
                ltx_tensor *h = ltx_tensor_new(c.be, LTX_F32, 2, ys);
                float ws_ = wk ? 0.75f : 1.0f;
                CHECK(c.be->ops->linear_act(c.be, f, x.t, w.t, b.t, ws_, acts[a]) == LTX_OK);
                CHECK(c.be->ops->linear(c.be, g, x.t, w.t, b.t, ws_) == LTX_OK);
                CHECK(c.be->ops->unary(c.be, acts[a], g, g, 0, 0) == LTX_OK);
                CHECK(ltx_nn_linear_act(&ub, h, x.t, w.t, b.t, ws_, acts[a]) == LTX_OK);
                double e1 = cmp_f32(&c, f, g), e2 = cmp_f32(&c, f, h);
                CHECK_MSG(e1 <= 1 && e2 <= 1, "%s act %d wk %d: %g %g", c.name, a, wk, e1, e2);
                ltx_tensor_free(f);
                ltx_tensor_free(g);
                ltx_tensor_free(h);
                tin_free(&x);
                tin_free(&w);
                tin_free(&b);
            }
        /* an activation that is not an epilogue is refused */
        int64_t s2[2] = {2, 4};
        ltx_tensor *t = ltx_tensor_new(c.be, LTX_F32, 2, s2),
                   *w = ltx_tensor_new(c.be, LTX_F32, 2, s2);
        ltx_tensor *y = ltx_tensor_new(c.be, LTX_F32, 2, s2);
        CHECK(c.be->ops->linear_act(c.be, y, t, w, NULL, 1.0f, LTX_UNARY_EXP) ==
              LTX_ERR_INVALID_ARG);
        ltx_err_clear();
        ltx_tensor_free(t);
        ltx_tensor_free(w);
        ltx_tensor_free(y);
        tcfg_close(&c);
    }
}

TEST(qk_norm_rope_fused_vs_composed)
{
    const int64_t B = 2, T = 6, H = 4, Dh = 16, D = H * Dh;
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        ltx_backend_ops uops;
        ltx_backend ub = unfused_view(c.be, &uops);
        uint64_t rng = 13;
        for (int mode = 0; mode < 2; mode++)
            for (int lay = 0; lay < 2; lay++) {
                int64_t xs[3] = {B, T, D};
                /* split: per-head tables (B, H, T, Dh/2); interleaved: (1, 1, T, D/2) */
                int64_t cs[4] = {B, H, T, Dh / 2}, ci4[4] = {1, 1, T, D / 2};
                tin x = tin_make(c.be, LTX_F32, 3, xs, lay ? LAY_SLICED : LAY_CONTIG, -2, 2, &rng);
                tin w = tin_make(c.be, LTX_BF16, 1, &D, LAY_CONTIG, 0.5, 1.5, &rng);
                const int64_t *tsh = mode == LTX_ROPE_SPLIT ? cs : ci4;
                tin co = tin_make(c.be, LTX_F32, 4, tsh, LAY_CONTIG, -1, 1, &rng);
                tin sn = tin_make(c.be, LTX_F32, 4, tsh, LAY_CONTIG, -1, 1, &rng);
                int heads = mode == LTX_ROPE_SPLIT ? (int)H : 1; /* interleaved: whole dim */
                ltx_tensor *f = ltx_tensor_new(c.be, LTX_F32, 3, xs);
                ltx_tensor *h = ltx_tensor_new(c.be, LTX_F32, 3, xs);
                CHECK(c.be->ops->qk_norm_rope(c.be, mode, f, x.t, w.t, 1e-6f, heads, co.t, sn.t) ==
                      LTX_OK);
                CHECK(ltx_nn_qk_norm_rope(&ub, mode, h, x.t, w.t, 1e-6f, heads, co.t, sn.t) ==
                      LTX_OK);
                /* composed as the model did before: norm -> heads view -> rope op (new tensor) */
                ltx_tensor *n = ltx_nn_norm(c.be, LTX_NORM_RMS, x.t, w.t, NULL, 0, 1e-6f);
                int64_t s4[4] = {B, T, heads, D / heads};
                ltx_tensor *r4 = ltx_tensor_reshape(n, 4, s4);
                int perm[4] = {0, 2, 1, 3};
                ltx_tensor *p = ltx_tensor_permute(r4, perm);
                int64_t o4[4] = {B, heads, T, D / heads};
                ltx_tensor *g4 = ltx_tensor_new(c.be, LTX_F32, 4, o4);
                CHECK(c.be->ops->rope(c.be, mode, g4, p, co.t, sn.t) == LTX_OK);
                ltx_tensor *fp = ltx_tensor_reshape(f, 4, s4), *fv = ltx_tensor_permute(fp, perm);
                ltx_tensor *fc = ltx_nn_contiguous(c.be, fv, LTX_F32);
                double e1 = cmp_f32(&c, fc, g4), e2 = cmp_f32(&c, f, h);
                CHECK_MSG(e1 <= 1 && e2 <= 1, "%s mode %d lay %d: %g %g", c.name, mode, lay, e1,
                          e2);
                ltx_tensor *fr[] = {f, h, n, r4, p, g4, fp, fv, fc};
                for (size_t i = 0; i < sizeof fr / sizeof fr[0]; i++)
                    ltx_tensor_free(fr[i]);
                tin_free(&x);
                tin_free(&w);
                tin_free(&co);
                tin_free(&sn);
            }
        tcfg_close(&c);
    }
}

TEST_MAIN()
