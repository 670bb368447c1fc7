/*
 * test_ops_precision.c — precision bf16 on the CPU backends: linear, matmul and attention round
 * their inputs to bf16 and accumulate in f32, so each equals the f32 op applied to inputs
 * rounded to bf16 beforehand up to the summation order (normwise 1e-5; attention also rounds
 * its probabilities, normwise 5e-3), and differs from the f32 op on unrounded inputs (the
 * rounding really happens). f32 precision is untouched.
 */
#include "harness.h"
#include "ops_common.h"

#include "nn/nn.h"

static double max_rel(const ltx_tensor *a, const ltx_tensor *b)
{
    double *x = tdown(a), *y = tdown(b), worst = 0;
    for (int64_t i = 0; i < ltx_tensor_numel(a); i++) {
        double e = fabs(x[i] - y[i]) / (1e-6 + fabs(y[i]));
        if (e > worst) worst = e;
    }
    free(x);
    free(y);
    return worst;
}

/* max |a - b| / max |b|: normwise, so a different summation order (our bf16 kernels vs sgemm)
 * is not magnified at outputs that cancel to near zero. */
static double norm_rel(const ltx_tensor *a, const ltx_tensor *b)
{
    double *x = tdown(a), *y = tdown(b), worst = 0, big = 1e-30;
    for (int64_t i = 0; i < ltx_tensor_numel(a); i++) {
        worst = fmax(worst, fabs(x[i] - y[i]));
        big = fmax(big, fabs(y[i]));
    }
    free(x);
    free(y);
    return worst / big;
}

static ltx_tensor *rounded(ltx_backend *be, const ltx_tensor *t)
{
    return ltx_nn_unary(be, LTX_UNARY_ROUND_BF16, t, 0, 0);
}

TEST(bf16_linear_matmul_attention)
{
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        uint64_t rng = 5;
        int64_t xs[2] = {37, 96}, ws[2] = {50, 96};
        tin x = tin_make(c.be, LTX_F32, 2, xs, LAY_SLICED, -1, 1, &rng);
        tin w = tin_make(c.be, LTX_F32, 2, ws, LAY_CONTIG, -1, 1, &rng);
        tin wb = tin_make(c.be, LTX_BF16, 2, ws, LAY_CONTIG, -1, 1, &rng);
        int64_t ys[2] = {37, 50};
        ltx_tensor *y16 = ltx_tensor_new(c.be, LTX_F32, 2, ys);
        ltx_tensor *yr = ltx_tensor_new(c.be, LTX_F32, 2, ys);
        ltx_tensor *y32 = ltx_tensor_new(c.be, LTX_F32, 2, ys);
        ltx_tensor *xr = rounded(c.be, x.t), *wr = rounded(c.be, w.t);
        for (int wk = 0; wk < 2; wk++) {
            const ltx_tensor *wt = wk ? wb.t : w.t;
            c.be->precision = LTX_PRECISION_F32;
            CHECK(c.be->ops->linear(c.be, yr, xr, wk ? wb.t : wr, NULL, 0.5f) == LTX_OK);
            CHECK(c.be->ops->linear(c.be, y32, x.t, wt, NULL, 0.5f) == LTX_OK);
            c.be->precision = LTX_PRECISION_BF16;
            CHECK(c.be->ops->linear(c.be, y16, x.t, wt, NULL, 0.5f) == LTX_OK);
            double e = norm_rel(y16, yr), d = norm_rel(y16, y32);
            CHECK_MSG(e < 1e-5 && d > 1e-4, "%s linear wk %d: vs rounded %g, vs f32 %g", c.name, wk,
                      e, d);
        }
        /* matmul (batched, transposed b) */
        c.be->precision = LTX_PRECISION_F32;
        int64_t as[3] = {2, 9, 40}, bs[3] = {2, 11, 40}, cs[3] = {2, 9, 11};
        tin a = tin_make(c.be, LTX_F32, 3, as, LAY_CONTIG, -1, 1, &rng);
        tin b = tin_make(c.be, LTX_F32, 3, bs, LAY_PERMUTED, -1, 1, &rng);
        ltx_tensor *c16 = ltx_tensor_new(c.be, LTX_F32, 3, cs),
                   *cr = ltx_tensor_new(c.be, LTX_F32, 3, cs);
        ltx_tensor *ar = rounded(c.be, a.t), *br = rounded(c.be, b.t);
        CHECK(c.be->ops->matmul(c.be, cr, ar, br, false, true, 1.0f) == LTX_OK);
        c.be->precision = LTX_PRECISION_BF16;
        CHECK(c.be->ops->matmul(c.be, c16, a.t, b.t, false, true, 1.0f) == LTX_OK);
        CHECK_MSG(max_rel(c16, cr) < 1e-5, "%s matmul %g", c.name, max_rel(c16, cr));
        /* attention */
        int64_t qs[4] = {1, 2, 7, 16}, ks[4] = {1, 2, 13, 16};
        tin q = tin_make(c.be, LTX_F32, 4, qs, LAY_CONTIG, -1, 1, &rng);
        tin k = tin_make(c.be, LTX_F32, 4, ks, LAY_CONTIG, -1, 1, &rng);
        tin v = tin_make(c.be, LTX_F32, 4, ks, LAY_CONTIG, -1, 1, &rng);
        ltx_tensor *o16 = ltx_nn_attention(c.be, q.t, k.t, v.t, NULL, 0.25f);
        c.be->precision = LTX_PRECISION_F32;
        ltx_tensor *qr = rounded(c.be, q.t), *kr = rounded(c.be, k.t), *vr = rounded(c.be, v.t);
        ltx_tensor *orr = ltx_nn_attention(c.be, qr, kr, vr, NULL, 0.25f);
        ltx_tensor *o32 = ltx_nn_attention(c.be, q.t, k.t, v.t, NULL, 0.25f);
        /* the bf16 kernels also round the softmax probabilities before P V (as PyTorch's CPU
         * flash attention and the GPU kernels do): ~2^-9 relative per weight */
        CHECK_MSG(norm_rel(o16, orr) < 5e-3 && norm_rel(o16, o32) > 1e-5, "%s attention %g %g",
                  c.name, norm_rel(o16, orr), norm_rel(o16, o32));
        ltx_tensor *fr[] = {y16, yr, y32, xr, wr, c16, cr, ar, br, o16, qr, kr, vr, orr, o32};
        for (size_t i = 0; i < sizeof fr / sizeof fr[0]; i++)
            ltx_tensor_free(fr[i]);
        tin *ts[] = {&x, &w, &wb, &a, &b, &q, &k, &v};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
            tin_free(ts[i]);
        tcfg_close(&c);
    }
}

/* conv in bf16 precision (on AVX-512 BF16: rounded as packed, vdpbf16ps GEMMs; elsewhere f32
 * GEMMs on rounded copies) equals the f32 conv of inputs rounded beforehand up to the summation
 * order, and differs from the f32 conv of the unrounded ones: a padded 3x3x3 conv whose im2col
 * K is odd, a 1x1x1 conv (no im2col), a strided 2-D conv with 2 groups, bf16 and f32 weights. */
TEST(bf16_conv)
{
    typedef struct {
        int ns;
        int64_t x[5], w[5];
        int s, p, groups;
        ltx_dtype wdt;
    } cc;
    static const cc CASES[] = {
        {3, {1, 3, 5, 9, 10}, {6, 3, 3, 3, 3}, 1, 1, 1, LTX_BF16}, /* K = 81 */
        {3, {2, 16, 3, 4, 5}, {8, 16, 1, 1, 1}, 1, 0, 1, LTX_F32},
        {2, {1, 8, 11, 13}, {10, 4, 3, 3}, 2, 1, 2, LTX_F32},
        {3, {1, 32, 4, 20, 24}, {70, 32, 3, 3, 3}, 1, 1, 1, LTX_BF16}, /* > 1 k block, 2 tasks */
    };
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        uint64_t rng = 9;
        for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++) {
            const cc *q = &CASES[k];
            int nd = q->ns + 2;
            ltx_conv_params p = {q->ns, {1, 1, 1}, {0}, {1, 1, 1}, {0}, q->groups, false};
            int64_t ys[5] = {q->x[0], q->w[0]};
            for (int i = 0; i < q->ns; i++) {
                p.stride[i] = q->s, p.padding[i] = q->p;
                ys[2 + i] = (q->x[2 + i] + 2 * q->p - q->w[2 + i]) / q->s + 1;
            }
            tin x = tin_make(c.be, LTX_F32, nd, q->x, LAY_CONTIG, -1, 1, &rng);
            tin w = tin_make(c.be, q->wdt, nd, q->w, LAY_CONTIG, -1, 1, &rng);
            int64_t nb = q->w[0];
            tin b = tin_make(c.be, LTX_F32, 1, &nb, LAY_CONTIG, -1, 1, &rng);
            ltx_tensor *y16 = ltx_tensor_new(c.be, LTX_F32, nd, ys),
                       *yr = ltx_tensor_new(c.be, LTX_F32, nd, ys),
                       *y32 = ltx_tensor_new(c.be, LTX_F32, nd, ys);
            c.be->precision = LTX_PRECISION_F32;
            ltx_tensor *xr = rounded(c.be, x.t), *wr = rounded(c.be, w.t);
            CHECK(c.be->ops->conv(c.be, yr, xr, wr, b.t, &p) == LTX_OK);
            CHECK(c.be->ops->conv(c.be, y32, x.t, w.t, b.t, &p) == LTX_OK);
            c.be->precision = LTX_PRECISION_BF16;
            CHECK(c.be->ops->conv(c.be, y16, x.t, w.t, b.t, &p) == LTX_OK);
            c.be->precision = LTX_PRECISION_F32;
            double e = norm_rel(y16, yr), d = norm_rel(y16, y32);
            CHECK_MSG(e < 1e-5 && d > 1e-4, "%s conv case %zu: vs rounded %g, vs f32 %g", c.name, k,
                      e, d);
            ltx_tensor *fr[] = {y16, yr, y32, xr, wr};
            for (size_t i = 0; i < sizeof fr / sizeof fr[0]; i++)
                ltx_tensor_free(fr[i]);
            tin_free(&x), tin_free(&w), tin_free(&b);
        }
        tcfg_close(&c);
    }
}

TEST_MAIN()
