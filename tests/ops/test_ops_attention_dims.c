/*
 * test_ops_attention_dims.c — attention at the models' head dims (64: audio, 128: video, 256:
 * Gemma 3; 80 and 200: padded widths; Dv != D) with several query tiles and a partial last key
 * block (Tq 130, Tk 150: the CUDA kernel's 64-row query tiles and 16/32/64-key blocks), GQA
 * (4 query heads on 2 kv heads), q in the reference's (B, T, H, D) layout viewed as
 * (B, H, T, D), and an additive (Tq, Tk) mask broadcast over batch and heads, against SDPA in
 * double. Runs on the CPU configurations by default and on `cuda` in both precisions through
 * tests/CMakeLists.txt (LTX_TEST_DEVICE / LTX_TEST_PRECISION; no GPU -> exit 77, skipped).
 * Bounds, norm-relative (||got - ref|| / ||ref||): f32 1e-5 (f32 sums over <= 256 terms);
 * bf16 2e-2 against the reference on bf16-rounded q, k, v (the CUDA kernel also rounds the
 * softmax probabilities to bf16, as FlashAttention does; measured expectation ~3e-3).
 * ref: torch.nn.functional.scaled_dot_product_attention (ltx_core attention.py).
 */
#include "harness.h"
#include "ops_common.h"

static double rb(double x, bool bf16)
{
    return bf16 ? (double)ltx_bf16_to_f32(ltx_f32_to_bf16((float)x)) : x;
}

/* ref (B, H, Tq, Dv) from logical q (B, Tq, H, D) [as stored], k/v (B, Hk, Tk, D|Dv), mask
 * (Tq, Tk). */
static void sdpa_ref(const double *q, const double *k, const double *v, const double *mask,
                     int64_t B, int64_t H, int64_t Hk, int64_t Tq, int64_t Tk, int64_t D,
                     int64_t Dv, double scale, bool bf16, double *out)
{
    double *p = malloc(sizeof(double) * (size_t)Tk);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < Tq; i++) {
                int64_t hk = h / (H / Hk);
                double m = -INFINITY, sum = 0;
                for (int64_t j = 0; j < Tk; j++) {
                    double acc = 0;
                    for (int64_t d = 0; d < D; d++)
                        acc += rb(q[((b * Tq + i) * H + h) * D + d], bf16) *
                               rb(k[((b * Hk + hk) * Tk + j) * D + d], bf16);
                    p[j] = acc * scale + mask[i * Tk + j];
                    m = fmax(m, p[j]);
                }
                for (int64_t j = 0; j < Tk; j++)
                    sum += (p[j] = exp(p[j] - m));
                for (int64_t d = 0; d < Dv; d++) {
                    double acc = 0;
                    for (int64_t j = 0; j < Tk; j++)
                        acc += p[j] / sum * rb(v[((b * Hk + hk) * Tk + j) * Dv + d], bf16);
                    out[((b * H + h) * Tq + i) * Dv + d] = acc;
                }
            }
    free(p);
}

static double norm_rel(const double *a, const double *b, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

TEST(attention_model_head_dims)
{
    const int64_t dims[][2] = {{64, 64}, {128, 128}, {256, 256}, {80, 80}, {200, 96}};
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        bool bf16 = c.be->precision == LTX_PRECISION_BF16;
        uint64_t rng = 77;
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
            int64_t B = 1, H = 4, Hk = 2, Tq = 130, Tk = 150, D = dims[di][0], Dv = dims[di][1];
            int64_t qs[4] = {B, Tq, H, D}, ks[4] = {B, Hk, Tk, D}, vs[4] = {B, Hk, Tk, Dv};
            int64_t ms[2] = {Tq, Tk}, os[4] = {B, H, Tq, Dv};
            tin q = tin_make(c.be, LTX_F32, 4, qs, LAY_CONTIG, -1, 1, &rng);
            tin k = tin_make(c.be, LTX_F32, 4, ks, LAY_CONTIG, -1, 1, &rng);
            tin v = tin_make(c.be, LTX_F32, 4, vs, LAY_CONTIG, -1, 1, &rng);
            tin m = tin_make(c.be, LTX_F32, 2, ms, LAY_CONTIG, -2, 0, &rng);
            static const int perm[4] = {0, 2, 1, 3};
            ltx_tensor *qv = ltx_tensor_permute(q.t, perm); /* (B, H, Tq, D) view */
            ltx_tensor *o = ltx_tensor_new(c.be, LTX_F32, 4, os);
            double scale = 1.0 / sqrt((double)D);
            ltx_status s = c.be->ops->attention(c.be, o, qv, k.t, v.t, m.t, (float)scale);
            CHECK_MSG(s == LTX_OK, "%s D %lld: %s", c.name, (long long)D, ltx_err_message());
            int64_t n = B * H * Tq * Dv;
            double *ref = malloc(sizeof(double) * (size_t)n), *got = tdown(o);
            sdpa_ref(q.v, k.v, v.v, m.v, B, H, Hk, Tq, Tk, D, Dv, scale, bf16, ref);
            double e = norm_rel(got, ref, n), tol = bf16 ? 2e-2 : 1e-5;
            bool finite = true;
            for (int64_t i = 0; i < n; i++)
                finite = finite && isfinite(got[i]);
            CHECK_MSG(finite && e <= tol, "%s %s D %lld Dv %lld: norm-relative error %.3g (tol %g)",
                      c.name, bf16 ? "bf16" : "f32", (long long)D, (long long)Dv, e, tol);
            free(ref);
            free(got);
            ltx_tensor_free(o);
            ltx_tensor_free(qv);
            tin_free(&q);
            tin_free(&k);
            tin_free(&v);
            tin_free(&m);
        }
        tcfg_close(&c);
    }
}

TEST_MAIN()
