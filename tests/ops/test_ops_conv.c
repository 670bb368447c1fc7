/*
 * test_ops_conv.c — conv (1/2/3-D, transposed, groups, stride, dilation, padding, output
 * padding, depthwise, 1x1x1, multi-tile) and interpolate (nearest, linear, bicubic, area, both
 * align_corners) on "cpu" (pool / serial) and "cpu-restricted", against naive double loops.
 * Conv tolerance: |y - ref| <= 1e-5 * sum|terms| + 1e-6 (f32 GEMM accumulation); interpolate:
 * 1e-5 relative + 5e-6 absolute (values in [-1, 1]; weights computed in f32 like torch).
 */
#include "harness.h"
#include "ops_common.h"

typedef struct ccase {
    int ns;
    int64_t x[5], w[5];
    int s[3], p[3], d[3], op[3], groups;
    bool transposed, bias;
    ltx_dtype wdt;
} ccase;

static const ccase CASES[] = {
    {1, {2, 6, 37}, {4, 3, 5}, {2}, {2}, {2}, {0}, 2, false, true, LTX_F32},
    {2, {1, 5, 9, 11}, {7, 5, 3, 3}, {1, 1}, {1, 1}, {1, 1}, {0}, 1, false, true, LTX_F32},
    {2, {2, 4, 8, 7}, {6, 2, 3, 2}, {2, 1}, {1, 0}, {1, 2}, {0}, 2, false, false, LTX_BF16},
    {3,
     {1, 8, 5, 9, 10},
     {6, 8, 3, 3, 3},
     {1, 1, 1},
     {1, 1, 1},
     {1, 1, 1},
     {0},
     1,
     false,
     true,
     LTX_BF16},
    {3,
     {2, 16, 3, 4, 5},
     {8, 16, 1, 1, 1},
     {1, 1, 1},
     {0, 0, 0},
     {1, 1, 1},
     {0},
     1,
     false,
     true,
     LTX_F32},
    {3,
     {1, 6, 4, 6, 5},
     {6, 2, 3, 1, 3},
     {1, 2, 1},
     {1, 0, 1},
     {1, 1, 1},
     {0},
     3,
     false,
     true,
     LTX_F16},
    {1, {1, 6, 50}, {6, 1, 12}, {2}, {5}, {1}, {0}, 6, false, true, LTX_F32}, /* depthwise */
    {1, {2, 6, 30}, {6, 1, 12}, {2}, {5}, {1}, {0}, 6, true, false, LTX_F32}, /* dw transposed */
    {2, {1, 3, 7, 9}, {3, 1, 3, 3}, {2, 1}, {1, 1}, {2, 1}, {0}, 3, false, true, LTX_F32}, /* dw 2-D
                                                                                            */
    {1, {2, 5, 61}, {5, 1, 7}, {3}, {4}, {2}, {0}, 5, false, true, LTX_F32}, /* dw phased s3 */
    {1, {1, 4, 29}, {4, 1, 43}, {3}, {2}, {1}, {1}, 4, true, true, LTX_F32}, /* resampler-like */
    {1, {1, 4, 29}, {4, 1, 5}, {4}, {0}, {3}, {2}, 4, true, false, LTX_BF16},
    {1, {1, 8, 20}, {8, 4, 11}, {5}, {3}, {1}, {1}, 1, true, true, LTX_F32},
    {2, {1, 4, 5, 6}, {4, 3, 3, 3}, {2, 2}, {1, 0}, {1, 2}, {1, 0}, 2, true, true, LTX_BF16},
    {3,
     {1, 4, 3, 4, 5},
     {4, 3, 3, 3, 3},
     {2, 2, 2},
     {1, 1, 1},
     {1, 1, 1},
     {1, 1, 1},
     1,
     true,
     true,
     LTX_F32},
    /* multi-tile: im2col rows of 1728 x 5120 positions exceed the 32 MiB tile */
    {3,
     {1, 64, 4, 32, 40},
     {8, 64, 3, 3, 3},
     {1, 1, 1},
     {1, 1, 1},
     {1, 1, 1},
     {0},
     1,
     false,
     true,
     LTX_F32},
    {3,
     {1, 8, 4, 32, 40},
     {8, 64, 3, 3, 3},
     {1, 1, 1},
     {1, 1, 1},
     {1, 1, 1},
     {0},
     1,
     true,
     false,
     LTX_F32},
};
#define NCASES (int)(sizeof CASES / sizeof CASES[0])

/* Naive conv in double; also returns sum of |terms| per output for the tolerance. */
static void ref_conv(const ccase *cc, const double *x, const double *w, const double *b,
                     const int64_t *ys, double *y, double *mag)
{
    int ns = cc->ns;
    int64_t N = cc->x[0], Cin = cc->x[1], G = cc->groups, in[3] = {1, 1, 1}, k[3] = {1, 1, 1};
    int64_t out[3] = {1, 1, 1}, s[3] = {1, 1, 1}, p[3] = {0}, d[3] = {1, 1, 1};
    for (int i = 0; i < ns; i++) {
        int j = 3 - ns + i;
        in[j] = cc->x[2 + i];
        k[j] = cc->w[2 + i];
        out[j] = ys[2 + i];
        s[j] = cc->s[i];
        p[j] = cc->p[i];
        d[j] = cc->d[i];
    }
    int64_t Cout = ys[1], cig = Cin / G, cog = Cout / G;
    int64_t Sin = in[0] * in[1] * in[2], Sout = out[0] * out[1] * out[2], K = k[0] * k[1] * k[2];
    for (int64_t i = 0; i < N * Cout * Sout; i++) {
        int64_t co = (i / Sout) % Cout;
        y[i] = b ? b[co] : 0;
        mag[i] = b ? fabs(b[co]) : 0;
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t ci = 0; ci < Cin; ci++) {
            int64_t g = ci / cig;
            for (int64_t col = 0; col < cog; col++) {
                int64_t co = g * cog + col;
                for (int64_t kk = 0; kk < K; kk++) {
                    int64_t kd = kk / (k[1] * k[2]), kh = (kk / k[2]) % k[1], kw = kk % k[2];
                    double wv = cc->transposed ? w[(ci * cog + col) * K + kk]
                                               : w[(co * cig + ci % cig) * K + kk];
                    if (!cc->transposed) {
                        for (int64_t o = 0; o < Sout; o++) {
                            int64_t od = o / (out[1] * out[2]), oh = (o / out[2]) % out[1],
                                    ow = o % out[2];
                            int64_t id = od * s[0] - p[0] + kd * d[0],
                                    ih = oh * s[1] - p[1] + kh * d[1];
                            int64_t iw = ow * s[2] - p[2] + kw * d[2];
                            if (id < 0 || id >= in[0] || ih < 0 || ih >= in[1] || iw < 0 ||
                                iw >= in[2])
                                continue;
                            double t =
                                wv * x[(n * Cin + ci) * Sin + (id * in[1] + ih) * in[2] + iw];
                            y[(n * Cout + co) * Sout + o] += t;
                            mag[(n * Cout + co) * Sout + o] += fabs(t);
                        }
                    } else {
                        for (int64_t q = 0; q < Sin; q++) {
                            int64_t id = q / (in[1] * in[2]), ih = (q / in[2]) % in[1],
                                    iw = q % in[2];
                            int64_t od = id * s[0] - p[0] + kd * d[0],
                                    oh = ih * s[1] - p[1] + kh * d[1];
                            int64_t ow = iw * s[2] - p[2] + kw * d[2];
                            if (od < 0 || od >= out[0] || oh < 0 || oh >= out[1] || ow < 0 ||
                                ow >= out[2])
                                continue;
                            double t = wv * x[(n * Cin + ci) * Sin + q];
                            int64_t o = (od * out[1] + oh) * out[2] + ow;
                            y[(n * Cout + co) * Sout + o] += t;
                            mag[(n * Cout + co) * Sout + o] += fabs(t);
                        }
                    }
                }
            }
        }
}

TEST(conv_all_cases)
{
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        uint64_t rng = 71;
        for (int k = 0; k < NCASES; k++) {
            const ccase *cc = &CASES[k];
            int nd = cc->ns + 2;
            bool big = k >= NCASES - 2;
            for (int lay = 0; lay < LAY_COUNT; lay += big ? 3 : 1) {
                ltx_conv_params p = {cc->ns, {1, 1, 1},  {0},           {1, 1, 1},
                                     {0},    cc->groups, cc->transposed};
                for (int i = 0; i < cc->ns; i++) {
                    p.stride[i] = cc->s[i];
                    p.padding[i] = cc->p[i];
                    p.dilation[i] = cc->d[i];
                    p.output_padding[i] = cc->op[i];
                }
                tin x = tin_make(c.be, LTX_F32, nd, cc->x, lay, -1, 1, &rng);
                tin w = tin_make(c.be, cc->wdt, nd, cc->w, LAY_CONTIG, -1, 1, &rng);
                int64_t Cout = cc->transposed ? cc->w[1] * cc->groups : cc->w[0];
                tin b = {0};
                if (cc->bias) b = tin_make(c.be, LTX_F32, 1, &Cout, LAY_SLICED, -1, 1, &rng);
                int64_t ys[5] = {cc->x[0], Cout};
                for (int i = 0; i < cc->ns; i++) {
                    int64_t eff = (int64_t)cc->d[i] * (cc->w[2 + i] - 1) + 1;
                    ys[2 + i] = cc->transposed
                                    ? (cc->x[2 + i] - 1) * cc->s[i] - 2 * cc->p[i] + eff + cc->op[i]
                                    : (cc->x[2 + i] + 2 * cc->p[i] - eff) / cc->s[i] + 1;
                }
                ltx_tensor *y = ltx_tensor_new(c.be, LTX_F32, nd, ys);
                /* a sliced bias view is not contiguous: the op must refuse it */
                ltx_status st = c.be->ops->conv(c.be, y, x.t, w.t, b.t, &p);
                if (b.t) {
                    CHECK(st == LTX_ERR_INVALID_ARG);
                    ltx_tensor *bc = ltx_tensor_to(b.t, c.be, LTX_F32);
                    st = c.be->ops->conv(c.be, y, x.t, w.t, bc, &p);
                    ltx_tensor_free(bc);
                }
                CHECK_MSG(st == LTX_OK, "%s case %d: %s", c.name, k, ltx_err_message());
                int64_t n = ltx_tensor_numel(y);
                double *o = tdown(y), *ref = malloc(sizeof(double) * (size_t)n);
                double *mag = malloc(sizeof(double) * (size_t)n);
                ref_conv(cc, x.v, w.v, b.v, ys, ref, mag);
                int bad = 0;
                double worst = 0;
                for (int64_t i = 0; i < n; i++) {
                    double e = fabs(o[i] - ref[i]) / (tcfg_gemm_rtol() * mag[i] + 1e-6);
                    if (!(e <= 1)) bad++;
                    if (e > worst) worst = e;
                }
                CHECK_MSG(bad == 0, "%s case %d lay %d: %d bad, worst ratio %g", c.name, k, lay,
                          bad, worst);
                free(o);
                free(ref);
                free(mag);
                ltx_tensor_free(y);
                tin_free(&x);
                tin_free(&w);
                if (b.t) tin_free(&b);
            }
        }
        tcfg_close(&c);
    }
}

/* torch index rules, written independently of the op */
static void ref_taps(int mode, bool align, int64_t in, int64_t out, int64_t i, int *n, int64_t *idx,
                     double *w)
{
    if (mode == LTX_INTERP_AREA) {
        int64_t s0 = (int64_t)floor((double)(i * in) / (double)out);
        int64_t s1 = (int64_t)ceil((double)((i + 1) * in) / (double)out);
        *n = (int)(s1 - s0);
        for (int k = 0; k < *n; k++) {
            idx[k] = s0 + k;
            w[k] = 1.0 / (double)(s1 - s0);
        }
        return;
    }
    if (mode == LTX_INTERP_NEAREST) {
        float sc = (float)in / (float)out;
        int64_t s = (int64_t)floorf((float)i * sc);
        *n = 1;
        idx[0] = s < in - 1 ? s : in - 1;
        w[0] = 1;
        return;
    }
    double scale =
        align ? (out > 1 ? (double)(in - 1) / (double)(out - 1) : 0) : (double)in / (double)out;
    double r = align ? scale * (double)i : scale * ((double)i + 0.5) - 0.5;
    if (mode == LTX_INTERP_LINEAR) {
        if (r < 0) r = 0;
        int64_t i0 = (int64_t)r;
        double l = r - (double)i0;
        *n = 2;
        idx[0] = i0;
        idx[1] = i0 < in - 1 ? i0 + 1 : i0;
        w[0] = 1 - l;
        w[1] = l;
        return;
    }
    double f = floor(r), t = r - f, A = -0.75;
    *n = 4;
    for (int k = 0; k < 4; k++) {
        int64_t j = (int64_t)f - 1 + k;
        idx[k] = j < 0 ? 0 : j > in - 1 ? in - 1 : j;
        double xx = fabs(t - (double)(k - 1)); /* distance to tap k */
        w[k] = xx <= 1 ? ((A + 2) * xx - (A + 3)) * xx * xx + 1
                       : ((A * xx - 5 * A) * xx + 8 * A) * xx - 4 * A;
    }
}

TEST(interpolate_modes)
{
    typedef struct icase {
        int ns;
        int64_t in[3], out[3];
    } icase;
    static const icase IC[] = {
        {1, {7}, {12}},
        {1, {12}, {7}},
        {1, {5}, {10}},
        {2, {5, 7}, {10, 14}},
        {2, {9, 6}, {4, 11}},
        {2, {3, 3}, {3, 5}},
        {3, {3, 4, 5}, {6, 8, 10}},
        {3, {4, 5, 3}, {2, 7, 3}},
        {2, {17, 9}, {4, 2}},
        {3, {9, 10, 11}, {2, 3, 4}},
    };
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        uint64_t rng = 81;
        for (size_t k = 0; k < sizeof IC / sizeof IC[0]; k++)
            for (int mode = 0; mode < 4; mode++)
                for (int align = 0; align < 2; align++) {
                    const icase *ic = &IC[k];
                    if (mode == LTX_INTERP_BICUBIC && ic->ns != 2) continue;
                    if ((mode == LTX_INTERP_NEAREST || mode == LTX_INTERP_AREA) && align) continue;
                    int nd = ic->ns + 2;
                    int64_t xs[5] = {2, 3}, ys[5] = {2, 3};
                    for (int i = 0; i < ic->ns; i++) {
                        xs[2 + i] = ic->in[i];
                        ys[2 + i] = ic->out[i];
                    }
                    tin x = tin_make(c.be, LTX_F32, nd, xs, (int)(k % LAY_COUNT), -1, 1, &rng);
                    ltx_tensor *y = ltx_tensor_new(c.be, LTX_F32, nd, ys);
                    CHECK(c.be->ops->interpolate(c.be, mode, y, x.t, align) == LTX_OK);
                    int64_t n = ltx_tensor_numel(y), in3[3] = {1, 1, 1}, out3[3] = {1, 1, 1};
                    for (int i = 0; i < ic->ns; i++) {
                        in3[3 - ic->ns + i] = ic->in[i];
                        out3[3 - ic->ns + i] = ic->out[i];
                    }
                    int64_t Sin = in3[0] * in3[1] * in3[2], Sout = out3[0] * out3[1] * out3[2];
                    double *o = tdown(y), *ref = malloc(sizeof(double) * (size_t)n);
                    for (int64_t e = 0; e < n; e++) {
                        int64_t nc = e / Sout, q = e % Sout;
                        int64_t oi[3] = {q / (out3[1] * out3[2]), (q / out3[2]) % out3[1],
                                         q % out3[2]};
                        int nt[3];
                        int64_t id[3][16];
                        double wt[3][16];
                        for (int dd = 0; dd < 3; dd++) {
                            if (in3[dd] == 1 && out3[dd] == 1 && dd < 3 - ic->ns) {
                                nt[dd] = 1;
                                id[dd][0] = 0;
                                wt[dd][0] = 1;
                            } else {
                                ref_taps(mode, align, in3[dd], out3[dd], oi[dd], &nt[dd], id[dd],
                                         wt[dd]);
                            }
                        }
                        double acc = 0;
                        for (int a = 0; a < nt[0]; a++)
                            for (int b = 0; b < nt[1]; b++)
                                for (int cc = 0; cc < nt[2]; cc++)
                                    acc += wt[0][a] * wt[1][b] * wt[2][cc] *
                                           x.v[nc * Sin + (id[0][a] * in3[1] + id[1][b]) * in3[2] +
                                               id[2][cc]];
                        ref[e] = acc;
                    }
                    /* f32 index/weight math as torch: ~1e-7 per weight, up to 64 taps */
                    double err = err_ratio(o, ref, n, 5e-6, 1e-5);
                    CHECK_MSG(err <= 1, "%s case %zu mode %d align %d: err %g", c.name, k, mode,
                              align, err);
                    free(o);
                    free(ref);
                    ltx_tensor_free(y);
                    tin_free(&x);
                }
        tcfg_close(&c);
    }
}

TEST_MAIN()
