/*
 * test_cpu_kernels.c — the CPU backend's own GEMM kernels on every ISA level this CPU has
 * (cpu_isa.h: avx512, avx2, scalar; each test loops over them with ltx_cpu_isa_set), against
 * double-precision loops over the same rounded inputs and against the scalar path.
 *
 * bf16 GEMM (ltx_cpu_gemm_bf16): ragged M/N (not multiples of the 6 x 64 tile), odd K, K across
 * several 512-wide packed blocks, accumulate into C, weight dtypes f32/bf16/f16/fp8 with
 * scale, strided weight rows, with and without a pool; and `linear` through the backend at
 * LTX_PRECISION_BF16 (bias, f32 mode unchanged).
 * Tolerance (docs/NUMERICS.md, "CPU bf16 and quantized kernels"): the products of bf16 values
 * are exact in f32, so paths differ only by f32 summation order:
 * |got - ref| <= (K + 2) * 2^-24 * sum_k |a_k w_k| (+ 1e-30), ref in double.
 */
#include "harness.h"

#include "backend/backend.h"
#include "backend/cpu/cpu_gemm.h"
#include "backend/cpu/cpu_internal.h"
#include "core/quant.h"
#include "core/threadpool.h"

#include <stdint.h>

static uint64_t g_rng = 0x2545f4914f6cdd1dull;
static float frand(void) /* uniform in [-1, 1) */
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((g_rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static int n_isas(void)
{
    return (int)ltx_cpu_isa_detected() + 1;
}

/* bf16(x) as the kernels round it */
static double rb(float x)
{
    return (double)ltx_round_bf16(x);
}

/* Checks C (M, N) against double sums over bf16(A) and bf16(widened W); returns the worst
 * error / bound ratio. base: C's prior contents when accumulating (else NULL). */
static double check_gemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                         const float *Wf, const float *C, int64_t ldc, const float *base)
{
    double worst = 0;
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = base ? base[m * ldc + n] : 0, mag = base ? fabs(s) : 0;
            for (int64_t k = 0; k < K; k++) {
                double t = rb(A[m * lda + k]) * rb(Wf[n * K + k]);
                s += t;
                mag += fabs(t);
            }
            double err = fabs(C[m * ldc + n] - s), bound = (double)(K + 2) * 0x1p-24 * mag + 1e-30;
            if (err / bound > worst) worst = err / bound;
        }
    return worst;
}

typedef struct gcase {
    int64_t M, N, K;
    ltx_dtype dt;
    float scale;
    int64_t row_pad; /* extra elements per weight row (strided rows) */
    bool accumulate;
} gcase;

static void run_case(const gcase *gc, ltx_threadpool *pool)
{
    int64_t M = gc->M, N = gc->N, K = gc->K, lda = K + 3, ldc = N + 5, rs = K + gc->row_pad;
    size_t es = ltx_dtype_size(gc->dt);
    float *A = malloc(sizeof(float) * (size_t)(M * lda));
    unsigned char *W = malloc(es * (size_t)(N * rs) + 8);
    float *Wf = malloc(sizeof(float) * (size_t)(N * K)); /* widened, scaled */
    float *C = malloc(sizeof(float) * (size_t)(M * ldc)),
          *C0 = malloc(sizeof(float) * (size_t)(M * ldc));
    float *Cs = malloc(sizeof(float) * (size_t)(M * ldc));
    for (int64_t i = 0; i < M * lda; i++)
        A[i] = frand() * 3.0f;
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < rs; k++) {
            float f = frand();
            ltx_convert(W + (size_t)(n * rs + k) * es, gc->dt, &f, LTX_F32, 1);
        }
    float lut[256];
    cpu_wsource ws = {(const char *)W, gc->dt, rs, 1, gc->scale, NULL, NULL};
    if (gc->dt == LTX_F8E4M3 || gc->dt == LTX_F8E5M2) {
        for (int v = 0; v < 256; v++)
            lut[v] = (gc->dt == LTX_F8E4M3 ? ltx_fp8e4m3_to_f32((uint8_t)v)
                                           : ltx_fp8e5m2_to_f32((uint8_t)v)) *
                     gc->scale;
        ws.lut = lut;
    }
    ltx_cpu_widen_rows(Wf, &ws, 0, N, 0, K);
    for (int64_t i = 0; i < M * ldc; i++)
        C0[i] = frand();
    for (int isa = n_isas() - 1; isa >= 0; isa--) {
        CHECK(ltx_cpu_isa_set((cpu_isa)isa));
        memcpy(C, C0, sizeof(float) * (size_t)(M * ldc));
        CHECK(ltx_cpu_bf16_gemm(pool, M, N, K, A, lda, &ws, C, ldc, gc->accumulate) == LTX_OK);
        double w = check_gemm(M, N, K, A, lda, Wf, C, ldc, gc->accumulate ? C0 : NULL);
        CHECK_MSG(w <= 1.0, "%s M %lld N %lld K %lld %s: error %.3g x bound",
                  ltx_cpu_isa_name((cpu_isa)isa), (long long)M, (long long)N, (long long)K,
                  ltx_dtype_name(gc->dt), w);
        /* columns past N in C's row stride are untouched */
        bool pad_ok = true;
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = N; n < ldc; n++)
                pad_ok = pad_ok && C[m * ldc + n] == C0[m * ldc + n];
        CHECK(pad_ok);
        if (isa == CPU_ISA_SCALAR) memcpy(Cs, C, sizeof(float) * (size_t)(M * ldc));
    }
    ltx_cpu_isa_set(ltx_cpu_isa_detected());
    free(A), free(W), free(Wf), free(C), free(C0), free(Cs);
}

TEST(gemm_bf16_shapes_every_isa)
{
    ltx_threadpool *pool = ltx_threadpool_create(2);
    static const gcase cases[] = {
        {1, 1, 1, LTX_BF16, 1.0f, 0, false},
        {7, 65, 33, LTX_BF16, 1.0f, 0, false},
        {13, 130, 1029, LTX_BF16, 1.0f, 2, true},
        {6, 64, 512, LTX_F32, 1.0f, 0, false},
        {25, 200, 77, LTX_F16, 0.5f, 1, true},
        {9, 70, 300, LTX_F8E4M3, 0.37f, 0, false},
        {5, 129, 1024, LTX_F8E5M2, 2.0f, 0, true},
        {50, 1030, 96, LTX_BF16, 1.0f, 0, false},
        {131, 17, 1100, LTX_F32, 1.0f, 3, false},
        /* narrow column blocks take more k per packed block (up to 2048): several such blocks,
         * the last partial, odd K */
        {9, 100, 4501, LTX_BF16, 1.0f, 1, true},
        {30, 300, 2600, LTX_F16, 1.0f, 0, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_case(&cases[i], pool);
        run_case(&cases[i], NULL);
    }
    ltx_threadpool_destroy(pool);
}

/* ltx_cpu_bf16_gemm_bias (bias written into each tile before its first k block) is bit for bit
 * ltx_cpu_bf16_gemm accumulating onto C preset to the bias, on every level; one k block and
 * several (K 2600 at 300 columns), with and without a pool. */
TEST(gemm_bf16_bias_equals_preset_every_isa)
{
    static const int64_t shapes[][3] = {{37, 130, 77}, {30, 300, 2600}, {7, 1030, 1025}};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        int64_t M = shapes[c][0], N = shapes[c][1], K = shapes[c][2], ldc = N + 3;
        float *A = malloc(sizeof(float) * (size_t)(M * K)),
              *W = malloc(sizeof(float) * (size_t)(N * K));
        float *bias = malloc(sizeof(float) * (size_t)N);
        float *C1 = malloc(sizeof(float) * (size_t)(M * ldc)),
              *C2 = malloc(sizeof(float) * (size_t)(M * ldc));
        for (int64_t i = 0; i < M * K; i++)
            A[i] = frand() * 2.0f;
        for (int64_t i = 0; i < N * K; i++)
            W[i] = frand();
        for (int64_t n = 0; n < N; n++)
            bias[n] = frand();
        cpu_wsource ws = {(const char *)W, LTX_F32, K, 1, 1.0f, NULL, NULL};
        for (int pooled = 0; pooled < 2; pooled++) {
            ltx_threadpool *pool = pooled ? ltx_threadpool_create(2) : NULL;
            for (int isa = n_isas() - 1; isa >= 0; isa--) {
                CHECK(ltx_cpu_isa_set((cpu_isa)isa));
                for (int64_t m = 0; m < M; m++)
                    for (int64_t n = 0; n < ldc; n++)
                        C1[m * ldc + n] = C2[m * ldc + n] = n < N ? bias[n] : -7.0f;
                CHECK(ltx_cpu_bf16_gemm(pool, M, N, K, A, K, &ws, C1, ldc, true) == LTX_OK);
                CHECK(ltx_cpu_bf16_gemm_bias(pool, M, N, K, A, K, &ws, bias, C2, ldc) == LTX_OK);
                CHECK_MSG(!memcmp(C1, C2, sizeof(float) * (size_t)(M * ldc)),
                          "%s M %lld N %lld K %lld: bias path differs",
                          ltx_cpu_isa_name((cpu_isa)isa), (long long)M, (long long)N, (long long)K);
            }
            ltx_cpu_isa_set(ltx_cpu_isa_detected());
            ltx_threadpool_destroy(pool);
        }
        free(A), free(W), free(bias), free(C1), free(C2);
    }
}

/* linear through the backend: precision BF16 goes through the bf16 kernels (bias added in f32
 * like addmm), precision F32 is the unchanged sgemm path (exact products). */
TEST(linear_precision_bf16)
{
    ltx_threadpool *pool = ltx_threadpool_create(2);
    ltx_backend *be = NULL;
    CHECK(ltx_cpu_backend_create(false, NULL, pool, &be) == LTX_OK);
    CHECK(be->precision == LTX_PRECISION_F32);
    int64_t M = 37, K = 300, N = 90;
    int64_t xs[2] = {M, K}, wsh[2] = {N, K}, ys[2] = {M, N};
    float *x = malloc(sizeof(float) * (size_t)(M * K)),
          *w = malloc(sizeof(float) * (size_t)(N * K));
    float b[90], *y = malloc(sizeof(float) * (size_t)(M * N));
    uint16_t *wb = malloc(2 * (size_t)(N * K));
    for (int64_t i = 0; i < M * K; i++)
        x[i] = frand();
    for (int64_t i = 0; i < N * K; i++)
        w[i] = frand(), wb[i] = ltx_f32_to_bf16(w[i]);
    for (int64_t i = 0; i < N; i++)
        b[i] = frand();
    ltx_tensor *tx = ltx_tensor_from_host(be, LTX_F32, 2, xs, x);
    ltx_tensor *tw = ltx_tensor_from_host(be, LTX_BF16, 2, wsh, wb);
    int64_t one = N;
    ltx_tensor *tb = ltx_tensor_from_host(be, LTX_F32, 1, &one, b);
    ltx_tensor *ty = ltx_tensor_from_host(be, LTX_F32, 2, ys, y);
    for (int prec = 0; prec < 2; prec++) {
        be->precision = prec ? LTX_PRECISION_BF16 : LTX_PRECISION_F32;
        CHECK(be->ops->linear(be, ty, tx, tw, tb, 1.0f) == LTX_OK);
        CHECK(ltx_tensor_download(ty, y, LTX_F32) == LTX_OK);
        double worst = 0, worst_f32ref = 0;
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                double s = b[n], mag = fabs(b[n]), s32 = b[n];
                for (int64_t k = 0; k < K; k++) {
                    double wk = ltx_bf16_to_f32(wb[n * K + k]);
                    double t = (prec ? rb(x[m * K + k]) : x[m * K + k]) * wk;
                    s += t, mag += fabs(t);
                    s32 += x[m * K + k] * wk;
                }
                worst = fmax(worst, fabs(y[m * N + n] - s) / ((K + 2) * 0x1p-24 * mag + 1e-30));
                worst_f32ref = fmax(worst_f32ref, fabs(y[m * N + n] - s32));
            }
        CHECK_MSG(worst <= 1.0, "precision %d: error %.3g x bound", prec, worst);
        /* bf16 mode must really round x: visibly different from the f32 product */
        if (prec) CHECK_MSG(worst_f32ref > 1e-4, "bf16 result equals f32 (%.3g)", worst_f32ref);
    }
    ltx_tensor *fr[] = {tx, tw, tb, ty};
    for (int i = 0; i < 4; i++)
        ltx_tensor_free(fr[i]);
    free(x), free(w), free(y), free(wb);
    ltx_backend_destroy(be);
    ltx_threadpool_destroy(pool);
}

/* ---- quantized weights x int8 activations ---- */

/* Reference for output (m, n): D1's exact dequantization of W times the dequantized activation
 * codes (d * q), in double; mag = sum of |terms|. */
static double qref(const cpu_qact *a, const float *wdeq, int64_t m, int64_t n, double *mag)
{
    double s = 0;
    *mag = 0;
    for (int64_t k = 0; k < a->K; k++) {
        double d = a->block == 32 ? a->dvec[m * (a->K / 4) + 8 * (k / 32)]
                                  : a->dsb[m * (a->K / 256) + k / 256];
        double t = (double)wdeq[n * a->K + k] * d * a->qs[m * a->K + k];
        s += t, *mag += fabs(t);
    }
    return s;
}

/* The activation quantizer gives the same codes, d, start values and block sums on every
 * level: the AVX-512 one must reproduce roundf (half away from zero) exactly. Rows 0-1 hold
 * exact ties (amax 127, so 1 / d = 1 and x * (1 / d) = x); row 2 a block of zeros. */
TEST(qact_quantize_same_every_isa)
{
    enum { M = 4, K = 256 };
    static const ltx_dtype TYPES[] = {LTX_Q8_0, LTX_Q4_0};
    float A[M * K];
    for (int i = 0; i < M * K; i++)
        A[i] = frand() * (i % 37 == 0 ? 30.0f : 3.0f);
    for (int i = 0; i < 2 * K; i++)
        A[i] = (float)((i % 253) - 126) + (i % 3 ? 0.5f : 0.0f); /* ties at .5 */
    for (int i = 0; i < 2 * K; i += 32)
        A[i] = 127.0f; /* amax 127 in every block */
    for (int i = 0; i < 32; i++)
        A[2 * K + i] = 0.0f;
    for (size_t ti = 0; ti < 2; ti++) {
        cpu_qact ref;
        CHECK(ltx_cpu_isa_set(CPU_ISA_SCALAR));
        CHECK(ltx_cpu_qact_quantize(NULL, TYPES[ti], M, K, A, K, &ref) == LTX_OK);
        for (int isa = n_isas() - 1; isa > 0; isa--) {
            CHECK(ltx_cpu_isa_set((cpu_isa)isa));
            cpu_qact a;
            CHECK(ltx_cpu_qact_quantize(NULL, TYPES[ti], M, K, A, K, &a) == LTX_OK);
            CHECK(memcmp(a.qs, ref.qs, M * K) == 0);
            CHECK(memcmp(a.dvec, ref.dvec, sizeof(float) * M * (K / 4)) == 0);
            CHECK(memcmp(a.init, ref.init, sizeof(int32_t) * M * (K / 4)) == 0);
            CHECK(memcmp(a.bd, ref.bd, sizeof(float) * M * (K / 32)) == 0);
            CHECK(memcmp(a.binit, ref.binit, sizeof(int32_t) * M * (K / 32)) == 0);
            ltx_cpu_qact_free(&a);
        }
        /* roundf, not nearest-even: 2.5 -> 3, -3.5 -> -4, 0.5 -> 1 */
        for (int i = 0; i < 2 * K; i++)
            if (A[i] - truncf(A[i]) != 0.0f) CHECK(ref.qs[i] == (int8_t)roundf(A[i]));
        CHECK(ref.bd[2 * (K / 32)] == 0.0f && ref.binit[2 * (K / 32)] == 0);
        ltx_cpu_qact_free(&ref);
    }
    ltx_cpu_isa_set(ltx_cpu_isa_detected());
}

TEST(gemm_quant_every_type_every_isa)
{
    static const ltx_dtype TYPES[] = {LTX_Q8_0, LTX_Q4_0, LTX_Q4_K, LTX_Q5_K, LTX_Q6_K};
    /* the last three have more rows than the tiles take: packed int8 panels on AVX-512 VNNI
     * (Q8_0 / Q4_0 by themselves; Q4_K / Q5_K with their activations quantized per 32, as
     * ltx_cpu_gemm_quant does for the panels, besides the tiles on per-256 activations), with
     * partial row strips and column panels */
    /* 20 x 1030 x 2048: 256-column blocks of 51 32-blocks each, so k blocks start at odd
     * 32-blocks (sub-block 3 of a K-quant super-block) and end mid super-block */
    static const int64_t SH[][3] = {{1, 1, 256},     {7, 9, 512},    {13, 6, 768},
                                    {37, 70, 1024},  {100, 45, 512}, {131, 70, 1024},
                                    {20, 1030, 2048}};
    ltx_threadpool *pool = ltx_threadpool_create(2);
    for (size_t ti = 0; ti < sizeof TYPES / sizeof TYPES[0]; ti++)
        for (size_t si = 0; si < sizeof SH / sizeof SH[0]; si++) {
            ltx_dtype wt = TYPES[ti];
            int64_t M = SH[si][0], N = SH[si][1], K = SH[si][2], lda = K + 5, ldc = N + 3;
            const ltx_type_traits *tr = ltx_type_traits_of(wt);
            size_t wrb = ltx_dtype_bytes(wt, K);
            float *A = malloc(sizeof(float) * (size_t)(M * lda)),
                  *wf = malloc(sizeof(float) * (size_t)(N * K));
            unsigned char *W = malloc(wrb * (size_t)N);
            float *C = malloc(sizeof(float) * (size_t)(M * ldc)),
                  *C0 = malloc(sizeof(float) * (size_t)(M * ldc));
            for (int64_t i = 0; i < M * lda; i++)
                A[i] = frand() * (i % 97 == 0 ? 20.0f : 1.0f); /* a few outliers */
            for (int64_t i = 0; i < N * K; i++)
                wf[i] = frand() * 0.1f + (i % 7 == 0 ? 0.05f : 0.0f);
            for (int64_t n = 0; n < N; n++) {
                tr->from_float(wf + n * K, W + (size_t)n * wrb, K);
                tr->to_float(W + (size_t)n * wrb, wf + n * K, K); /* exact dequantized values */
            }
            for (int64_t i = 0; i < M * ldc; i++)
                C0[i] = frand();
            float *bias = malloc(sizeof(float) * (size_t)N);
            for (int64_t n = 0; n < N; n++)
                bias[n] = frand();
            cpu_qact a, a32;
            CHECK(ltx_cpu_qact_quantize(pool, wt, M, K, A, lda, &a) == LTX_OK);
            bool k32 = (wt == LTX_Q4_K || wt == LTX_Q5_K) && M > INT8_PANEL_MIN_ROWS &&
                       ltx_cpu_isa_detected() == CPU_ISA_AVX512;
            if (k32) CHECK(ltx_cpu_qact_quantize(pool, LTX_Q8_0, M, K, A, lda, &a32) == LTX_OK);
            for (int run = 0; run < n_isas() + k32; run++) {
                int isa = run < n_isas() ? n_isas() - 1 - run : CPU_ISA_AVX512;
                const cpu_qact *ap = run < n_isas() ? &a : &a32;
                CHECK(ltx_cpu_isa_set((cpu_isa)isa));
                for (int mode = 0; mode < 3; mode++) { /* C =, C +=, C = bias + */
                    bool accum = mode == 1;
                    memcpy(C, C0, sizeof(float) * (size_t)(M * ldc));
                    cpu_qgemm g = {ap,
                                   M,
                                   N,
                                   wt,
                                   W,
                                   (int64_t)wrb,
                                   0.75f,
                                   C,
                                   ldc,
                                   accum,
                                   mode == 2 ? bias : NULL};
                    CHECK(ltx_cpu_gemm_quant_run(mode ? pool : NULL, &g) == LTX_OK);
                    double worst = 0;
                    for (int64_t m = 0; m < M; m++)
                        for (int64_t n = 0; n < N; n++) {
                            double mag, r = 0.75 * qref(ap, wf, m, n, &mag);
                            double base = accum ? C0[m * ldc + n] : mode == 2 ? bias[n] : 0;
                            double err = fabs(C[m * ldc + n] - base - r);
                            worst =
                                fmax(worst, err / (2e-5 * 0.75 * mag + 1e-6 * fabs(base) + 1e-30));
                        }
                    CHECK_MSG(worst <= 1.0,
                              "%s %s%s M %lld N %lld K %lld mode %d: error %.3g x bound",
                              ltx_dtype_name(wt), ltx_cpu_isa_name((cpu_isa)isa),
                              ap == &a ? "" : " (per-32 activations)", (long long)M, (long long)N,
                              (long long)K, mode, worst);
                }
            }
            ltx_cpu_isa_set(ltx_cpu_isa_detected());
            ltx_cpu_qact_free(&a);
            if (k32) ltx_cpu_qact_free(&a32);
            free(A), free(wf), free(W), free(C), free(C0), free(bias);
        }
    ltx_threadpool_destroy(pool);
}

/* ltx_cpu_qact_quantize_blocks (no lane-form arrays, what ltx_cpu_gemm_quant quantizes for the
 * panels): the same codes and per-block values as the full quantizer, bit for bit the same
 * panel products for every panel type; the register tiles (which need the lane form) refuse it
 * with an error instead of reading NULL. */
TEST(qact_blocks_only_same_products_on_panels)
{
    static const ltx_dtype TYPES[] = {LTX_Q8_0, LTX_Q4_0, LTX_Q4_K, LTX_Q5_K};
    static const int64_t SH[][3] = {{37, 70, 1024}, {100, 45, 512}, {7, 9, 512}};
    ltx_threadpool *pool = ltx_threadpool_create(2);
    bool vnni = ltx_cpu_isa_detected() == CPU_ISA_AVX512;
    for (size_t ti = 0; ti < sizeof TYPES / sizeof TYPES[0]; ti++)
        for (size_t si = 0; si < sizeof SH / sizeof SH[0]; si++) {
            ltx_dtype wt = TYPES[ti], at = wt == LTX_Q4_0 ? LTX_Q4_0 : LTX_Q8_0;
            int64_t M = SH[si][0], N = SH[si][1], K = SH[si][2], lda = K + 3;
            size_t wrb = ltx_dtype_bytes(wt, K);
            float *A = malloc(sizeof(float) * (size_t)(M * lda)),
                  *wf = malloc(sizeof(float) * (size_t)(N * K));
            unsigned char *W = malloc(wrb * (size_t)N);
            float *C1 = calloc((size_t)(M * N), sizeof(float)),
                  *C2 = calloc((size_t)(M * N), sizeof(float));
            for (int64_t i = 0; i < M * lda; i++)
                A[i] = frand() * (i % 89 == 0 ? 15.0f : 1.0f);
            for (int64_t i = 0; i < N * K; i++)
                wf[i] = frand() * 0.1f;
            for (int64_t n = 0; n < N; n++)
                ltx_type_traits_of(wt)->from_float(wf + n * K, W + (size_t)n * wrb, K);
            cpu_qact full, blk;
            CHECK(ltx_cpu_qact_quantize(pool, at, M, K, A, lda, &full) == LTX_OK);
            CHECK(ltx_cpu_qact_quantize_blocks(pool, at, M, K, A, lda, &blk) == LTX_OK);
            CHECK(blk.dvec == NULL && blk.init == NULL);
            size_t nb = (size_t)(M * (K / 32));
            CHECK(!memcmp(full.qs, blk.qs, (size_t)(M * K)));
            CHECK(!memcmp(full.bd, blk.bd, nb * sizeof(float)));
            CHECK(!memcmp(full.binit, blk.binit, nb * sizeof(int32_t)));
            CHECK(!memcmp(full.bdsx, blk.bdsx, nb * sizeof(float)));
            cpu_qgemm g1 = {&full, M, N, wt, W, (int64_t)wrb, 0.5f, C1, N, false, NULL};
            cpu_qgemm g2 = g1;
            g2.act = &blk, g2.C = C2;
            /* K-quants on per-32 activations only ever run on the panels, at any row count */
            bool panels = vnni && (M > INT8_PANEL_MIN_ROWS || at != wt);
            if (panels) {
                CHECK(ltx_cpu_gemm_quant_run(pool, &g1) == LTX_OK);
                CHECK(ltx_cpu_gemm_quant_run(pool, &g2) == LTX_OK);
                CHECK_MSG(!memcmp(C1, C2, sizeof(float) * (size_t)(M * N)),
                          "%s M %lld: blocks-only activations change the product",
                          ltx_dtype_name(wt), (long long)M);
            } else {
                CHECK(ltx_cpu_gemm_quant_run(pool, &g2) == LTX_ERR_INVALID_ARG);
            }
            ltx_cpu_qact_free(&full);
            ltx_cpu_qact_free(&blk);
            free(A), free(wf), free(W), free(C1), free(C2);
        }
    cpu_qact none;
    float x[256] = {0};
    CHECK(ltx_cpu_qact_quantize_blocks(NULL, LTX_Q4_K, 1, 256, x, 256, &none) ==
          LTX_ERR_INVALID_ARG);
    ltx_threadpool_destroy(pool);
}

/* linear with Q8_0 / Q4_K / Q6_K weights: precision F32 is the exact dequantized product; BF16
 * rounds the activations (int8 per block up to 64 rows, bf16 above), NMSE well under 1e-3. */
TEST(linear_quantized_precision_modes)
{
    ltx_threadpool *pool = ltx_threadpool_create(2);
    ltx_backend *be = NULL;
    CHECK(ltx_cpu_backend_create(false, NULL, pool, &be) == LTX_OK);
    static const ltx_dtype TYPES[] = {LTX_Q8_0, LTX_Q4_0, LTX_Q4_K, LTX_Q5_K, LTX_Q6_K};
    for (int ti = 0; ti < 10; ti++) {
        /* 20 rows: int8 tiles; 100 rows (> 64): int8 panels on AVX-512 VNNI (Q6_K and other
         * levels: dequantized bf16 panels on the bf16 GEMM) */
        ltx_dtype wt = TYPES[ti % 5];
        int64_t M = ti < 5 ? 20 : 100, K = 512, N = 33;
        size_t wrb = ltx_dtype_bytes(wt, K);
        float *x = malloc(sizeof(float) * (size_t)(M * K)),
              *wf = malloc(sizeof(float) * (size_t)(N * K));
        float *y = malloc(sizeof(float) * (size_t)(M * N)),
              *yr = malloc(sizeof(float) * (size_t)(M * N));
        unsigned char *W = malloc(wrb * (size_t)N);
        for (int64_t i = 0; i < M * K; i++)
            x[i] = frand();
        for (int64_t i = 0; i < N * K; i++)
            wf[i] = frand() * 0.05f;
        for (int64_t n = 0; n < N; n++) {
            ltx_type_traits_of(wt)->from_float(wf + n * K, W + (size_t)n * wrb, K);
            ltx_type_traits_of(wt)->to_float(W + (size_t)n * wrb, wf + n * K, K);
        }
        int64_t xs[2] = {M, K}, ws[2] = {N, K}, ys[2] = {M, N};
        ltx_tensor *tx = ltx_tensor_from_host(be, LTX_F32, 2, xs, x);
        ltx_tensor *tw = ltx_tensor_from_host(be, wt, 2, ws, W);
        ltx_tensor *ty = ltx_tensor_zeros(be, LTX_F32, 2, ys);
        for (int prec = 0; prec < 2; prec++) {
            be->precision = prec ? LTX_PRECISION_BF16 : LTX_PRECISION_F32;
            CHECK(be->ops->linear(be, ty, tx, tw, NULL, 1.0f) == LTX_OK);
            CHECK(ltx_tensor_download(ty, y, LTX_F32) == LTX_OK);
            double num = 0, den = 0, worst = 0;
            for (int64_t m = 0; m < M; m++)
                for (int64_t n = 0; n < N; n++) {
                    double s = 0, mag = 0;
                    for (int64_t k = 0; k < K; k++)
                        s += (double)x[m * K + k] * wf[n * K + k],
                            mag += fabs((double)x[m * K + k] * wf[n * K + k]);
                    double e = y[m * N + n] - s;
                    num += e * e, den += s * s;
                    worst = fmax(worst, fabs(e) / (1e-5 * mag + 1e-30));
                }
            if (prec)
                CHECK_MSG(num / den < 1e-3 && num / den > 0, "%s bf16 mode M %lld NMSE %.3g",
                          ltx_dtype_name(wt), (long long)M, num / den);
            else
                CHECK_MSG(worst <= 1.0, "%s f32 mode error %.3g x bound", ltx_dtype_name(wt),
                          worst);
        }
        be->precision = LTX_PRECISION_F32;
        ltx_tensor_free(tx), ltx_tensor_free(tw), ltx_tensor_free(ty);
        free(x), free(wf), free(y), free(yr), free(W);
    }
    ltx_backend_destroy(be);
    ltx_threadpool_destroy(pool);
}

/* attention at precision BF16 (both products on the bf16 kernels) against the f32 op on the
 * same inputs: q/k/p/v rounding to bf16 gives NMSE ~1e-5; bound 1e-4, on every ISA level.
 * Cases: odd D/Dv with Tk over two key blocks, a strided (transposed) q and a boolean mask (K/V
 * packed once per head); GQA with B = 2, Dv = 80 > 64 (V panels sliced per key block), Tk odd
 * over three blocks; k with a non-unit column stride (per-block packing fallback). */
static void attn_case(int64_t B, int64_t H, int64_t Hk, int64_t Tq, int64_t Tk, int64_t D,
                      int64_t Dv, bool k_strided)
{
    ltx_threadpool *pool = ltx_threadpool_create(2);
    ltx_backend *be = NULL;
    CHECK(ltx_cpu_backend_create(false, NULL, pool, &be) == LTX_OK);
    int64_t qsh[4] = {B, Tq, H, D}, ksh[4] = {B, Hk, Tk, D}, kts[4] = {B, Hk, D, Tk};
    int64_t vsh[4] = {B, Hk, Tk, Dv}, osh[4] = {B, H, Tq, Dv}, msh[2] = {Tq, Tk};
    int64_t nq = B * H * Tq * D, nk = B * Hk * Tk * D, nv = B * Hk * Tk * Dv;
    float *qv = malloc(sizeof(float) * (size_t)nq), *kv = malloc(sizeof(float) * (size_t)nk);
    float *vv = malloc(sizeof(float) * (size_t)nv);
    uint8_t *mv = malloc((size_t)(Tq * Tk));
    for (int64_t i = 0; i < nq; i++)
        qv[i] = frand() * 2.0f;
    for (int64_t i = 0; i < nk; i++)
        kv[i] = frand() * 2.0f;
    for (int64_t i = 0; i < nv; i++)
        vv[i] = frand();
    for (int64_t i = 0; i < Tq * Tk; i++)
        mv[i] = (i % 11) != 3;
    ltx_tensor *q0 = ltx_tensor_from_host(be, LTX_F32, 4, qsh, qv);
    ltx_tensor *q = ltx_tensor_transpose(q0, 1, 2); /* (B, H, Tq, D) view, strided */
    ltx_tensor *k0 = ltx_tensor_from_host(be, LTX_F32, 4, k_strided ? kts : ksh, kv);
    ltx_tensor *k = k_strided ? ltx_tensor_transpose(k0, 2, 3) : ltx_tensor_view(k0);
    ltx_tensor *v = ltx_tensor_from_host(be, LTX_F32, 4, vsh, vv);
    ltx_tensor *m = ltx_tensor_from_host(be, LTX_BOOL, 2, msh, mv);
    ltx_tensor *o = ltx_tensor_zeros(be, LTX_F32, 4, osh);
    int64_t n = B * H * Tq * Dv;
    float *ref = malloc(sizeof(float) * (size_t)n), *got = malloc(sizeof(float) * (size_t)n);
    CHECK(be->ops->attention(be, o, q, k, v, m, 0.17f) == LTX_OK);
    CHECK(ltx_tensor_download(o, ref, LTX_F32) == LTX_OK);
    be->precision = LTX_PRECISION_BF16;
    for (int isa = n_isas() - 1; isa >= 0; isa--) {
        CHECK(ltx_cpu_isa_set((cpu_isa)isa));
        CHECK(be->ops->attention(be, o, q, k, v, m, 0.17f) == LTX_OK);
        CHECK(ltx_tensor_download(o, got, LTX_F32) == LTX_OK);
        double num = 0, den = 0;
        for (int64_t i = 0; i < n; i++)
            num += (got[i] - (double)ref[i]) * (got[i] - (double)ref[i]),
                den += (double)ref[i] * ref[i];
        CHECK_MSG(num / den < 1e-4 && num > 0, "%s H %lld Hk %lld Dv %lld%s: NMSE %.3g",
                  ltx_cpu_isa_name((cpu_isa)isa), (long long)H, (long long)Hk, (long long)Dv,
                  k_strided ? " strided k" : "", num / den);
        printf("  %s H %lld Hk %lld D %lld Dv %lld%s: NMSE %.3g (bound 1e-4)\n",
               ltx_cpu_isa_name((cpu_isa)isa), (long long)H, (long long)Hk, (long long)D,
               (long long)Dv, k_strided ? " strided k" : "", num / den);
    }
    ltx_cpu_isa_set(ltx_cpu_isa_detected());
    ltx_tensor *fr[] = {q0, q, k0, k, v, m, o};
    for (size_t i = 0; i < sizeof fr / sizeof fr[0]; i++)
        ltx_tensor_free(fr[i]);
    free(qv), free(kv), free(vv), free(mv), free(ref), free(got);
    ltx_backend_destroy(be);
    ltx_threadpool_destroy(pool);
}

TEST(attention_precision_bf16)
{
    attn_case(1, 3, 3, 300, 700, 33, 41, false);
    attn_case(2, 4, 2, 130, 1101, 64, 80, false);
    attn_case(1, 2, 2, 70, 600, 16, 24, true);
}

/* The bf16 attention's softmax step (ltx_cpu_exp_row_bf16) on every level: one element at a
 * time, exp(s - m) within 4e-7 + |x| 7e-8 relative of the double exp of x = f32(s - m) (the
 * AVX-512 polynomial; exp_fast on the others is tighter), exactly 1 at x = 0 and 0 at -inf,
 * p = its bf16 rounding; a whole row (517 values, tail lanes) gives the same p bit for bit and
 * the sum of the values. */
TEST(attention_bf16_exp_row_every_isa)
{
    enum { N = 517 };
    float s[N], e1[N];
    uint16_t p[N + 1], p1[N];
    const float m = 3.7f;
    for (int i = 0; i < N; i++)
        s[i] = m - 30.0f * (float)i / (N - 1) * (0.5f + 0.5f * (frand() + 1.0f) / 2.0f);
    s[0] = m;
    s[7] = -INFINITY;
    s[8] = m - 200.0f;
    for (int isa = n_isas() - 1; isa >= 0; isa--) {
        CHECK(ltx_cpu_isa_set((cpu_isa)isa));
        double worst = 0, ref_sum = 0;
        for (int i = 0; i < N; i++) {
            e1[i] = ltx_cpu_exp_row_bf16(&s[i], 1, m, &p1[i]);
            double x = (double)(s[i] - m), want = exp(x);
            if (i == 0) CHECK(e1[i] == 1.0f);
            if (i == 7 || i == 8) {
                CHECK(e1[i] == 0.0f);
                continue;
            }
            worst = fmax(worst, fabs(e1[i] - want) / want / (4e-7 + fabs(x) * 7e-8));
            CHECK(p1[i] == ltx_f32_to_bf16(e1[i]));
            ref_sum += e1[i];
        }
        CHECK_MSG(worst <= 1.0, "%s: exp error %.3g x bound", ltx_cpu_isa_name((cpu_isa)isa),
                  worst);
        printf("  %s: exp error %.3g x bound\n", ltx_cpu_isa_name((cpu_isa)isa), worst);
        float sum = ltx_cpu_exp_row_bf16(s, N, m, p);
        CHECK(!memcmp(p, p1, sizeof p1));
        CHECK_MSG(fabs(sum - ref_sum) <= 1e-6 * ref_sum, "%s: row sum %.9g vs %.9g",
                  ltx_cpu_isa_name((cpu_isa)isa), sum, ref_sum);
    }
    ltx_cpu_isa_set(ltx_cpu_isa_detected());
}

/* The packers' f32 -> bf16 rounding is ltx_f32_to_bf16 bit for bit on every level: ties to
 * even, NaN -> 0x7FC0, infinities, subnormals, odd row lengths. */
TEST(bf16_rounding_bit_exact_every_isa)
{
    enum { M = 5, K = 37 };
    float src[M * K];
    static const uint32_t special[] = {0x7F800000u, 0xFF800000u, 0x7F800001u, 0xFFC00000u,
                                       0x3F808000u, 0x3F818000u, 0x00000001u, 0x807FFFFFu,
                                       0x7F7FFFFFu, 0x00000000u, 0x80000000u, 0x3F80FFFFu};
    for (int i = 0; i < M * K; i++) {
        uint32_t u = i < 12 ? special[i] : (uint32_t)(g_rng = g_rng * 6364136223846793005ull + 1);
        memcpy(&src[i], &u, 4);
    }
    uint16_t out[6 * 38];
    for (int isa = n_isas() - 1; isa >= 0; isa--) {
        CHECK(ltx_cpu_isa_set((cpu_isa)isa));
        ltx_cpu_bf16_round_rows(out, src, M, K, K);
        int bad = 0;
        for (int m = 0; m < M; m++)
            for (int k = 0; k < K; k++)
                bad += out[m * 38 + k] != ltx_f32_to_bf16(src[m * K + k]);
        CHECK_MSG(bad == 0, "%s: %d values differ", ltx_cpu_isa_name((cpu_isa)isa), bad);
        CHECK(out[37] == 0 && out[5 * 38] == 0); /* pair padding, padded row */
    }
    ltx_cpu_isa_set(ltx_cpu_isa_detected());
}

TEST(isa_set_and_names)
{
    cpu_isa d = ltx_cpu_isa_detected();
    CHECK(ltx_cpu_isa_set(CPU_ISA_SCALAR));
    CHECK(ltx_cpu_isa_active() == CPU_ISA_SCALAR);
    CHECK(!ltx_cpu_isa_set(CPU_ISA_COUNT));
    CHECK(ltx_cpu_isa_set(d));
    CHECK(!strcmp(ltx_cpu_isa_name(CPU_ISA_AVX512), "avx512"));
    char buf[200];
    CHECK(strstr(ltx_cpu_isa_describe(buf, sizeof buf), ltx_cpu_isa_name(d)) != NULL);
    printf("  cpu kernels: %s\n", buf);
}

TEST_MAIN()
