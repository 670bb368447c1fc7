/*
 * thread_rule.c — what the CPU backend's single threading rule buys: a convolution followed by
 * a pool-parallel op, with conv's GEMM on OpenBLAS's own threads (the rule before issue 12)
 * against the same GEMM tiled over the engine's pool with single-threaded OpenBLAS (the rule
 * issue 12 tried). NOTE: the backend went back to one whole-matrix OpenBLAS call for conv
 * (cpu_sgemm): tiles changed the bits (OpenBLAS's small-matrix kernels), and with them the
 * decoded audio of reproducible runs; the measured gain was within noise (0.172 vs 0.180 s).
 *
 * Method:
 *   - Conv: 3x3x3, 128 -> 128 channels on a (4, 32, 32) latent-like grid, padding 1 (a video VAE
 *     block's shape; its im2col GEMM is 128 x 4096 x 3456, 3.6 GFLOP).
 *   - "old": the conv's GEMM as one cblas_sgemm on OpenBLAS's threads (openblas_set_num_threads
 *     = threads, as cpu_conv did), then immediately the next op.
 *     "new": the same GEMM through cpu_sgemm (what cpu_conv calls now: OpenBLAS
 *     single-threaded, one tile per pool worker), then the next op.
 *   - Once, untimed: be->ops->conv on the real tensors, so the conv path itself runs.
 *   - Next op: `linear` f32 (2304, 1024) x (1024, 1024)^T, the transformer's q projection
 *     size (pool workers, single-threaded sgemm tiles in both cases).
 *   - Alternating old/new, `reps` rounds (default 7); medians of conv time, next-op time and
 *     their sum. The ratio old/new of the next op is the cost of OpenBLAS threads still
 *     polling after a threaded call. Timings on a shared machine are noisy: rerun when idle.
 * Usage: thread_rule [reps]
 */
#include "backend/backend.h"
#include "backend/cpu/cpu_gemm.h"
#include "bench_util.h"
#include "core/threadpool.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static ltx_tensor *rand_tensor(ltx_backend *be, int nd, const int64_t *shape, float scale)
{
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= shape[i];
    float *v = malloc(sizeof(float) * (size_t)n);
    uint64_t s = 0x9e3779b97f4a7c15ull + (uint64_t)n;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        v[i] = scale * ((float)((s >> 40) * (1.0 / 8388608.0)) - 1.0f);
    }
    ltx_tensor *t = ltx_tensor_from_host(be, LTX_F32, nd, shape, v);
    free(v);
    return t;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 1) reps = 1;
    int nth = (int)sysconf(_SC_NPROCESSORS_ONLN);
    ltx_threadpool *pool = ltx_threadpool_create(nth);
    ltx_backend *be = NULL;
    if (ltx_cpu_backend_create(false, NULL, pool, &be) != LTX_OK) return 1;
    int64_t xs[5] = {1, 128, 4, 32, 32}, wsh[5] = {128, 128, 3, 3, 3};
    ltx_tensor *x = rand_tensor(be, 5, xs, 1.0f), *w = rand_tensor(be, 5, wsh, 0.02f);
    ltx_tensor *y = ltx_tensor_zeros(be, LTX_F32, 5, xs);
    ltx_conv_params cp = {0};
    cp.stride[0] = cp.stride[1] = cp.stride[2] = 1;
    cp.dilation[0] = cp.dilation[1] = cp.dilation[2] = 1;
    cp.padding[0] = cp.padding[1] = cp.padding[2] = 1;
    cp.groups = 1;
    cp.nspatial = 3;
    int64_t M = 128, N = 4096, K = 128 * 27; /* the conv's im2col GEMM */
    float *ga = calloc((size_t)(M * K), 4), *gb = calloc((size_t)(K * N), 4),
          *gc = calloc((size_t)(M * N), 4);
    int64_t ls[2] = {2304, 1024}, lw[2] = {1024, 1024};
    ltx_tensor *lx = rand_tensor(be, 2, ls, 1.0f), *lwt = rand_tensor(be, 2, lw, 0.03f);
    ltx_tensor *ly = ltx_tensor_zeros(be, LTX_F32, 2, ls);
    if (be->ops->conv(be, y, x, w, NULL, &cp) != LTX_OK) {
        fprintf(stderr, "conv: %s\n", ltx_err_message());
        return 1;
    }
    double *t[2][3];
    for (int m = 0; m < 2; m++)
        for (int k = 0; k < 3; k++)
            t[m][k] = malloc(sizeof(double) * (size_t)reps);
    for (int r = -1; r < reps; r++)
        for (int mode = 0; mode < 2; mode++) { /* 0 old, 1 new */
            double t0 = bench_now();
            if (mode == 0) {
                openblas_set_num_threads(nth);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f,
                            ga, (int)K, gb, (int)N, 0.0f, gc, (int)N);
            } else {
                openblas_set_num_threads(1);
                cpu_sgemm(pool, false, false, M, N, K, 1.0f, ga, K, gb, N, 0.0f, gc, N);
            }
            double t1 = bench_now();
            if (be->ops->linear(be, ly, lx, lwt, NULL, 1.0f) != LTX_OK) return 1;
            double t2 = bench_now();
            if (r >= 0) t[mode][0][r] = t1 - t0, t[mode][1][r] = t2 - t1, t[mode][2][r] = t2 - t0;
            usleep(20000); /* let OpenBLAS threads go idle before the next round */
        }
    openblas_set_num_threads(1);
    double med[2][3];
    for (int m = 0; m < 2; m++)
        for (int k = 0; k < 3; k++)
            med[m][k] = bench_median(t[m][k], reps);
    printf("threads %d, reps %d (medians, seconds)\n", nth, reps);
    printf("                      conv GEMM   next op (linear)   sum\n");
    printf("old (OpenBLAS threads) %9.4f   %9.4f        %9.4f\n", med[0][0], med[0][1], med[0][2]);
    printf("new (pool tiles)       %9.4f   %9.4f        %9.4f\n", med[1][0], med[1][1], med[1][2]);
    printf("next op old/new %.3f, sum old/new %.3f\n", med[0][1] / med[1][1],
           med[0][2] / med[1][2]);
    for (int m = 0; m < 2; m++)
        for (int k = 0; k < 3; k++)
            free(t[m][k]);
    ltx_tensor *fr[] = {x, w, y, lx, lwt, ly};
    for (int i = 0; i < 6; i++)
        ltx_tensor_free(fr[i]);
    free(ga), free(gb), free(gc);
    ltx_backend_destroy(be);
    ltx_threadpool_destroy(pool);
    return 0;
}
