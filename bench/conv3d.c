/*
 * bench/conv3d.c — cost of the CPU conv op over the bare GEMM it lowers to.
 *
 * Method: conv3d 3x3x3, 128 -> 128 channels, stride 1, padding 1, on x (1, 128, 5, 32, 48)
 * (the size of a small VAE-decoder activation), f32 weights and bf16 weights (converted per
 * call). Baseline, measured in the same run: one cblas_sgemm of the same shape as the conv's
 * GEMM — M = 128 (C_out), N = 5·32·48 = 7680 (output positions), K = 128·27 = 3456 — on
 * preallocated matrices, i.e. the time the conv would take if im2col, bias, weight conversion
 * and tiling were free. Each is run once to warm up, then `reps` times (default 5, argv[1]);
 * the median wall time is reported with GFLOP/s (2·M·N·K flops) and the ratio op / sgemm.
 * Threads: the backend pool has all online CPUs; OpenBLAS uses its default thread count.
 * Usage: conv3d [reps]
 */
#include "backend/backend.h"
#include "bench_util.h"
#include "core/threadpool.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void fill_rand(float *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)((seed >> 8) & 0xFFFF) / 65536.0f - 0.5f;
    }
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1) reps = 1;
    enum { CIN = 128, COUT = 128, D = 5, H = 32, W = 48, K = 3 };
    const int M = COUT, N = D * H * W, KD = CIN * K * K * K;
    ltx_threadpool *pool = ltx_threadpool_create(0);
    ltx_backend *be = NULL;
    if (ltx_cpu_backend_create(false, NULL, pool, &be) != LTX_OK) return 1;

    int64_t xs[5] = {1, CIN, D, H, W}, ws[5] = {COUT, CIN, K, K, K}, ys[5] = {1, COUT, D, H, W};
    int64_t bs[1] = {COUT};
    size_t nx = (size_t)CIN * D * H * W, nw = (size_t)COUT * CIN * K * K * K;
    float *hx = malloc(nx * sizeof(float)), *hw = malloc(nw * sizeof(float));
    float *hb = malloc(COUT * sizeof(float));
    fill_rand(hx, nx, 1);
    fill_rand(hw, nw, 2);
    fill_rand(hb, COUT, 3);
    ltx_tensor *x = ltx_tensor_from_host(be, LTX_F32, 5, xs, hx);
    ltx_tensor *w = ltx_tensor_from_host(be, LTX_F32, 5, ws, hw);
    ltx_tensor *wb = ltx_tensor_new(be, LTX_BF16, 5, ws);
    ltx_tensor *b = ltx_tensor_from_host(be, LTX_F32, 1, bs, hb);
    ltx_tensor *y = ltx_tensor_new(be, LTX_F32, 5, ys);
    if (!x || !w || !wb || !b || !y || ltx_tensor_upload(wb, hw, LTX_F32) != LTX_OK) return 1;
    ltx_conv_params p = {3, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, 1, false};

    double *t = malloc(sizeof(double) * (size_t)reps);
    double flops = 2.0 * M * (double)N * KD;

    /* baseline: the bare GEMM */
    float *A = malloc(sizeof(float) * (size_t)M * KD), *B = malloc(sizeof(float) * (size_t)KD * N);
    float *C = malloc(sizeof(float) * (size_t)M * N);
    fill_rand(A, (size_t)M * KD, 4);
    fill_rand(B, (size_t)KD * N, 5);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, KD, 1.0f, A, KD, B, N, 0.0f, C, N);
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, KD, 1.0f, A, KD, B, N, 0.0f, C,
                    N);
        t[r] = bench_now() - t0;
    }
    double t_gemm = bench_median(t, reps);

    double t_op[2];
    for (int v = 0; v < 2; v++) {
        ltx_tensor *wt = v ? wb : w;
        if (be->ops->conv(be, y, x, wt, b, &p) != LTX_OK) {
            fprintf(stderr, "conv failed: %s\n", ltx_err_message());
            return 1;
        }
        for (int r = 0; r < reps; r++) {
            double t0 = bench_now();
            be->ops->conv(be, y, x, wt, b, &p);
            t[r] = bench_now() - t0;
        }
        t_op[v] = bench_median(t, reps);
    }
    printf("conv3d 3x3x3 %d->%d on (1,%d,%d,%d,%d), %d threads, median of %d\n", CIN, COUT, CIN, D,
           H, W, ltx_threadpool_size(pool), reps);
    printf("  sgemm %dx%dx%d (baseline) : %8.2f ms  %6.1f GFLOP/s\n", M, N, KD, 1e3 * t_gemm,
           flops / t_gemm * 1e-9);
    printf("  conv op, f32 weights      : %8.2f ms  %6.1f GFLOP/s  ratio %.2f\n", 1e3 * t_op[0],
           flops / t_op[0] * 1e-9, t_op[0] / t_gemm);
    printf("  conv op, bf16 weights     : %8.2f ms  %6.1f GFLOP/s  ratio %.2f\n", 1e3 * t_op[1],
           flops / t_op[1] * 1e-9, t_op[1] / t_gemm);

    free(A);
    free(B);
    free(C);
    free(t);
    free(hx);
    free(hw);
    free(hb);
    ltx_tensor_free(x);
    ltx_tensor_free(w);
    ltx_tensor_free(wb);
    ltx_tensor_free(b);
    ltx_tensor_free(y);
    ltx_backend_destroy(be);
    ltx_threadpool_destroy(pool);
    return 0;
}
