/*
 * matmul_attention.c — throughput of the CPU backend's linear (bf16 weights) and attention,
 * each against a plain OpenBLAS sgemm baseline measured in the same run.
 *
 * Method:
 *   linear: for (M, K, N) in {(2304,1024,1024), (2304,1024,4096), (2304,4096,1024),
 *   (6144,4096,4096)} (LTX-2 video tokens x transformer widths), the baseline is one
 *   cblas_sgemm(RowMajor, NoTrans, Trans) on f32 x (M, K) and f32 W (N, K) with OpenBLAS's own
 *   threads; the candidate is be->ops->linear with the same x and W stored as bf16 (the weight
 *   format of the checkpoints), which widens W in panels inside the call. Baseline and candidate
 *   alternate in every repetition (so load from other processes hits both alike); each is run
 *   `reps` times after one warm-up and the median time is reported, as GFLOP/s (2*M*N*K flops)
 *   and the ratio candidate/baseline throughput (goal >= 0.9).
 *   Between calls the program sleeps 0.3 s: OpenBLAS's worker threads keep polling for ~2^28
 *   cycles after a threaded call and would otherwise steal a core from whatever runs next
 *   (the backend's pool-parallel ops, which run OpenBLAS single-threaded) — a real effect in
 *   mixed workloads, but not the cost of the op being measured.
 *   attention: B=1, H=16, T=2304, D=64 self-attention (q, k, v contiguous (B, H, T, D), and the
 *   model's layout (B, T, H, D) viewed as (B, H, T, D)), flops 4*H*T*T*D (QK^T and PV). The
 *   baseline is the same two products per head as plain threaded sgemm calls with a full T x T
 *   score matrix and no softmax — the matmul time of the same flops. Median of `reps`,
 *   alternating like above.
 *   Each ratio is given twice: from wall-clock medians, and from medians of process CPU time
 *   per call (all threads; less sensitive to other processes on a shared machine, but it also
 *   counts idle polling).
 * Usage: matmul_attention [reps]   (default 5; threads = all online CPUs for pool and OpenBLAS)
 */
#include "backend/backend.h"
#include "bench_util.h"
#include "core/threadpool.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A wall-clock and a process-CPU-time reading. */
typedef struct stamp {
    double wall, cpu;
} stamp;

static stamp now(void)
{
    return (stamp){bench_clock(CLOCK_MONOTONIC), bench_clock(CLOCK_PROCESS_CPUTIME_ID)};
}

static void pause_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static float *random_f32(int64_t n, uint32_t seed)
{
    float *p = malloc((size_t)n * sizeof *p);
    if (!p) return NULL;
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) * (1.0f / 16777216.0f) - 0.5f;
    }
    return p;
}

static int bench_linear(ltx_backend *be, int64_t M, int64_t K, int64_t N, int reps)
{
    float *x = random_f32(M * K, 1), *w = random_f32(N * K, 2), *y = malloc((size_t)(M * N) * 4);
    uint16_t *wb = malloc((size_t)(N * K) * 2);
    if (!x || !w || !y || !wb) return 1;
    ltx_f32_to_bf16_row(wb, w, (size_t)(N * K));
    int64_t xs[2] = {M, K}, ws[2] = {N, K}, ys[2] = {M, N};
    ltx_tensor *xt = ltx_tensor_wrap_host(be, LTX_F32, 2, xs, x);
    ltx_tensor *wt = ltx_tensor_wrap_host(be, LTX_BF16, 2, ws, wb);
    ltx_tensor *yt = ltx_tensor_new(be, LTX_F32, 2, ys);
    /* [0] wall, [1] cpu of baseline; [2] wall, [3] cpu of candidate */
    double *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = malloc(sizeof(double) * (size_t)reps);
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
        stamp t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, x,
                    (int)K, w, (int)K, 0.0f, y, (int)N);
        stamp t1 = now();
        pause_s(0.3);
        stamp t2 = now();
        if (be->ops->linear(be, yt, xt, wt, NULL, 1.0f) != LTX_OK) {
            fprintf(stderr, "linear failed: %s\n", ltx_err_message());
            return 1;
        }
        stamp t3 = now();
        pause_s(0.3);
        if (r >= 0) {
            t[0][r] = t1.wall - t0.wall, t[1][r] = t1.cpu - t0.cpu;
            t[2][r] = t3.wall - t2.wall, t[3][r] = t3.cpu - t2.cpu;
        }
    }
    double flops = 2.0 * (double)M * (double)N * (double)K, m[4];
    for (int i = 0; i < 4; i++)
        m[i] = bench_median(t[i], reps);
    printf("linear M=%-5lld K=%-5lld N=%-5lld sgemm f32 %6.1f GFLOP/s (%7.1f ms) | linear bf16-W "
           "%6.1f GFLOP/s (%7.1f ms) | ratio %.3f wall, %.3f cpu-time\n",
           (long long)M, (long long)K, (long long)N, flops / m[0] * 1e-9, m[0] * 1e3,
           flops / m[2] * 1e-9, m[2] * 1e3, m[0] / m[2], m[1] / m[3]);
    ltx_tensor_free(xt);
    ltx_tensor_free(wt);
    ltx_tensor_free(yt);
    free(x);
    free(w);
    free(wb);
    free(y);
    for (int i = 0; i < 4; i++)
        free(t[i]);
    return 0;
}

static int bench_attention(ltx_backend *be, int reps)
{
    const int64_t B = 1, H = 16, T = 2304, D = 64;
    int64_t n = B * H * T * D;
    float *q = random_f32(n, 3), *k = random_f32(n, 4), *v = random_f32(n, 5);
    float *s = malloc((size_t)(T * T) * 4), *ob = malloc((size_t)n * 4);
    if (!q || !k || !v || !s || !ob) return 1;
    int64_t sh[4] = {B, H, T, D}, bthd[4] = {B, T, H, D};
    int perm[4] = {0, 2, 1, 3};
    ltx_tensor *qt = ltx_tensor_wrap_host(be, LTX_F32, 4, sh, q);
    ltx_tensor *kt = ltx_tensor_wrap_host(be, LTX_F32, 4, sh, k);
    ltx_tensor *vt = ltx_tensor_wrap_host(be, LTX_F32, 4, sh, v);
    /* the same buffers read as (B, T, H, D), permuted to (B, H, T, D) */
    ltx_tensor *q2 = ltx_tensor_wrap_host(be, LTX_F32, 4, bthd, q);
    ltx_tensor *k2 = ltx_tensor_wrap_host(be, LTX_F32, 4, bthd, k);
    ltx_tensor *v2 = ltx_tensor_wrap_host(be, LTX_F32, 4, bthd, v);
    ltx_tensor *qp = ltx_tensor_permute(q2, perm), *kp = ltx_tensor_permute(k2, perm),
               *vp = ltx_tensor_permute(v2, perm);
    ltx_tensor *ot = ltx_tensor_new(be, LTX_F32, 4, sh);
    /* wall / cpu of: baseline, attention, attention on permuted views */
    double *t[6];
    for (int i = 0; i < 6; i++)
        t[i] = malloc(sizeof(double) * (size_t)reps);
    float scale = 0.125f;
    for (int r = -1; r < reps; r++) {
        stamp t0 = now();
        for (int64_t h = 0; h < B * H; h++) {
            const float *qh = q + h * T * D, *kh = k + h * T * D, *vh = v + h * T * D;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)D, scale, qh,
                        (int)D, kh, (int)D, 0.0f, s, (int)T);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)D, (int)T, 1.0f, s,
                        (int)T, vh, (int)D, 0.0f, ob + h * T * D, (int)D);
        }
        stamp t1 = now();
        pause_s(0.3);
        stamp t1b = now();
        ltx_status st = be->ops->attention(be, ot, qt, kt, vt, NULL, scale);
        stamp t2 = now();
        if (st == LTX_OK) st = be->ops->attention(be, ot, qp, kp, vp, NULL, scale);
        stamp t3 = now();
        pause_s(0.3);
        if (st != LTX_OK) {
            fprintf(stderr, "attention failed: %s\n", ltx_err_message());
            return 1;
        }
        if (r >= 0) {
            t[0][r] = t1.wall - t0.wall, t[1][r] = t1.cpu - t0.cpu;
            t[2][r] = t2.wall - t1b.wall, t[3][r] = t2.cpu - t1b.cpu;
            t[4][r] = t3.wall - t2.wall, t[5][r] = t3.cpu - t2.cpu;
        }
    }
    double flops = 4.0 * (double)(B * H) * (double)T * (double)T * (double)D, m[6];
    for (int i = 0; i < 6; i++)
        m[i] = bench_median(t[i], reps);
    printf("attention B=1 H=16 T=2304 D=64 (%.1f GFLOP)\n", flops * 1e-9);
    printf("  sgemm QK^T+PV only     %6.1f GFLOP/s (%7.1f ms)\n", flops / m[0] * 1e-9, m[0] * 1e3);
    printf("  attention (B,H,T,D)    %6.1f GFLOP/s (%7.1f ms) | ratio %.3f wall, %.3f cpu-time\n",
           flops / m[2] * 1e-9, m[2] * 1e3, m[0] / m[2], m[1] / m[3]);
    printf("  attention (B,T,H,D)^P  %6.1f GFLOP/s (%7.1f ms) | ratio %.3f wall, %.3f cpu-time\n",
           flops / m[4] * 1e-9, m[4] * 1e3, m[0] / m[4], m[1] / m[5]);
    ltx_tensor *ts[] = {qt, kt, vt, q2, k2, v2, qp, kp, vp, ot};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++)
        ltx_tensor_free(ts[i]);
    free(q);
    free(k);
    free(v);
    free(s);
    free(ob);
    for (int i = 0; i < 6; i++)
        free(t[i]);
    return 0;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1) reps = 1;
    ltx_threadpool *pool = ltx_threadpool_create(0);
    ltx_backend *be = NULL;
    if (!pool || ltx_cpu_backend_create(false, NULL, pool, &be) != LTX_OK) {
        fprintf(stderr, "setup failed: %s\n", ltx_err_message());
        return 1;
    }
    printf("threads: pool %d, OpenBLAS %d; median of %d reps\n", ltx_threadpool_size(pool),
           openblas_get_num_threads(), reps);
    static const int64_t shapes[][3] = {
        {2304, 1024, 1024}, {2304, 1024, 4096}, {2304, 4096, 1024}, {6144, 4096, 4096}};
    int rc = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes && !rc; i++)
        rc = bench_linear(be, shapes[i][0], shapes[i][1], shapes[i][2], reps);
    if (!rc) rc = bench_attention(be, reps);
    ltx_backend_destroy(be);
    ltx_threadpool_destroy(pool);
    return rc;
}
