/*
 * thread_rule.c — what parking OpenBLAS's workers after a threaded conv GEMM would buy: the CPU
 * backend's conv products are one cblas_sgemm on as many OpenBLAS threads as the pool
 * (ltx_cpu_sgemm; whole matrices keep the bits, see cpu_linalg.c), and the ops after it run on the
 * engine's pool. OpenBLAS's workers (pthreads build) poll with sched_yield for ~2^28 TSC ticks
 * after each job, beside the pool's threads. Parking them (blas_thread_shutdown_, looked up
 * with dlsym here; the next threaded call starts them again, same count, same bits) was tried
 * in the backend and not adopted (docs/ARCHITECTURE.md "CPU threading").
 * History: issue 12 first tiled conv's GEMM over the pool with single-threaded OpenBLAS; that
 * changed the bits (OpenBLAS's small-matrix kernels on tiles) and was reverted (9469ea8).
 *
 * Method:
 *   - Conv GEMM: 128 x 4096 x 3456 (a 3x3x3, 128 -> 128 conv's im2col product on a (4, 32, 32)
 *     grid, a video VAE block's shape; 3.6 GFLOP).
 *   - "spin": the GEMM as ltx_cpu_sgemm runs it (openblas_set_num_threads(threads), cblas_sgemm,
 *     back to 1; OpenBLAS's workers left polling). "park": the same, then
 *     blas_thread_shutdown_(). Without that symbol (serial/OpenMP OpenBLAS) the bench says so
 *     and exits 1.
 *   - After each GEMM, the pool's ops: 8 x silu over a (128, 4, 64, 64) f32 tensor (short
 *     memory-bound loops, like a VAE's norms and activations), then `linear` f32
 *     (2304, 1024) x (1024, 1024)^T (pool workers, single-threaded sgemm tiles).
 *   - One round = 4 such (GEMM, ops) steps back to back, after one untimed step in the same
 *     mode (so each round starts from its own mode's steady state: workers polling or parked).
 *     Rounds alternate spin/park, `reps` each (default 9); medians per phase, summed over the
 *     round's steps, and the process CPU time per round (polling shows as CPU time).
 *   - Restart cost: 200 back-to-back small products (128 x 256 x 512, 34 MFLOP) with nothing
 *     between them, spin vs park, alternating, `reps` each: the median difference per call is
 *     what starting the parked workers again costs (the worst case: a conv right after a conv).
 *   - The GEMM outputs of both modes are compared bit for bit (they must be identical).
 * Ratios spin/park of the same run are what to read: the machine is shared, timings are noisy.
 * Result (2 cores, Zen 5, 2.6 GHz TSC, OPENBLAS_CORETYPE=Haswell; machine shared with other
 * sessions, so the load average is given), spin/park of the `linear` after the conv GEMM and
 * the restart per call: load ~2: 0.97, +44 us; load ~8: 1.75, +32 us; load 11-15: 1.03 / 1.18
 * / 1.15, +280 to +670 us (+1.6 ms once). Noise floor: with OPENBLAS_THREAD_TIMEOUT=4 both
 * modes sleep, and that run still gave 0.98 and 1.36. Outputs always bit-identical. Whole
 * stages and the decision: docs/ARCHITECTURE.md "CPU threading".
 * Usage: thread_rule [reps]
 */
#include "backend/backend.h"
#include "bench_util.h"
#include "core/threadpool.h"

#include <cblas.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STEPS  4 /* (GEMM, ops) steps per timed round */
#define SILUS  8 /* silu loops per step */
#define PHASES 5 /* gemm, silu, linear, wall sum, process CPU */

typedef struct bench_ctx {
    ltx_backend *be;
    ltx_threadpool *pool;
    int nth;
    int64_t M, N, K;
    float *ga, *gb, *gc;
    ltx_tensor *sx, *sy, *lx, *lw, *ly;
} bench_ctx;

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

static void fill_rand(float *v, int64_t n, uint64_t s, float scale)
{
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        v[i] = scale * ((float)((s >> 40) * (1.0 / 8388608.0)) - 1.0f);
    }
}

typedef int (*park_fn)(void);
static park_fn g_park;

/* m x n x k product of c's buffers on c->nth OpenBLAS threads; mode 1 parks the workers after. */
static void threaded_gemm(bench_ctx *c, int mode, int64_t m, int64_t n, int64_t k)
{
    openblas_set_num_threads(c->nth);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, c->ga,
                (int)k, c->gb, (int)n, 0.0f, c->gc, (int)n);
    openblas_set_num_threads(1); /* before parking: set_num_threads re-creates parked workers */
    if (mode == 1) g_park();
}

/* The conv GEMM in mode 0 (spin) or 1 (park). */
static void conv_gemm(bench_ctx *c, int mode)
{
    threaded_gemm(c, mode, c->M, c->N, c->K);
}

/* Seconds per call of `calls` back-to-back 128 x 256 x 512 products in `mode`. */
static double small_gemms(bench_ctx *c, int mode, int calls)
{
    double t0 = bench_now();
    for (int i = 0; i < calls; i++)
        threaded_gemm(c, mode, 128, 256, 512);
    return (bench_now() - t0) / calls;
}

/* One (GEMM, ops) step; adds each phase's seconds to acc[0..2]. */
static int step(bench_ctx *c, int mode, double *acc)
{
    double t0 = bench_now();
    conv_gemm(c, mode);
    double t1 = bench_now();
    for (int i = 0; i < SILUS; i++)
        if (c->be->ops->unary(c->be, LTX_UNARY_SILU, c->sy, c->sx, 0.0, 0.0) != LTX_OK) return 1;
    double t2 = bench_now();
    if (c->be->ops->linear(c->be, c->ly, c->lx, c->lw, NULL, 1.0f) != LTX_OK) return 1;
    double t3 = bench_now();
    acc[0] += t1 - t0, acc[1] += t2 - t1, acc[2] += t3 - t2;
    return 0;
}

/* One round in `mode`: an untimed step, then STEPS timed ones; out[PHASES]. */
static int round_once(bench_ctx *c, int mode, double *out)
{
    double acc[3] = {0, 0, 0}, warm[3] = {0, 0, 0};
    if (step(c, mode, warm)) return 1;
    double w0 = bench_now(), c0 = bench_cpu_now();
    for (int s = 0; s < STEPS; s++)
        if (step(c, mode, acc)) return 1;
    out[0] = acc[0], out[1] = acc[1], out[2] = acc[2];
    out[3] = bench_now() - w0;
    out[4] = bench_cpu_now() - c0;
    return 0;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 9;
    if (reps < 1) reps = 1;
    g_park = (park_fn)dlsym(RTLD_DEFAULT, "blas_thread_shutdown_");
    if (openblas_get_parallel() != 1 || !g_park) {
        fprintf(stderr, "thread_rule: needs the pthreads OpenBLAS (blas_thread_shutdown_)\n");
        return 1;
    }
    bench_ctx c = {.nth = (int)sysconf(_SC_NPROCESSORS_ONLN), .M = 128, .N = 4096, .K = 128 * 27};
    c.pool = ltx_threadpool_create(c.nth);
    if (ltx_cpu_backend_create(false, NULL, c.pool, &c.be) != LTX_OK) return 1;
    c.ga = malloc(sizeof(float) * (size_t)(c.M * c.K));
    c.gb = malloc(sizeof(float) * (size_t)(c.K * c.N));
    c.gc = malloc(sizeof(float) * (size_t)(c.M * c.N));
    float *gc_spin = malloc(sizeof(float) * (size_t)(c.M * c.N));
    fill_rand(c.ga, c.M * c.K, 1, 0.02f);
    fill_rand(c.gb, c.K * c.N, 2, 1.0f);
    int64_t ss[4] = {128, 4, 64, 64}, ls[2] = {2304, 1024}, lw[2] = {1024, 1024};
    c.sx = rand_tensor(c.be, 4, ss, 3.0f);
    c.sy = ltx_tensor_zeros(c.be, LTX_F32, 4, ss);
    c.lx = rand_tensor(c.be, 2, ls, 1.0f);
    c.lw = rand_tensor(c.be, 2, lw, 0.03f);
    c.ly = ltx_tensor_zeros(c.be, LTX_F32, 2, ls);
    conv_gemm(&c, 0);
    memcpy(gc_spin, c.gc, sizeof(float) * (size_t)(c.M * c.N));
    conv_gemm(&c, 1);
    bool same = memcmp(gc_spin, c.gc, sizeof(float) * (size_t)(c.M * c.N)) == 0;
    double *t[2][PHASES];
    for (int m = 0; m < 2; m++)
        for (int k = 0; k < PHASES; k++)
            t[m][k] = malloc(sizeof(double) * (size_t)reps);
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < 2; i++) {
            int mode = (r + i) % 2; /* alternate which mode goes first */
            double out[PHASES];
            if (round_once(&c, mode, out)) {
                fprintf(stderr, "thread_rule: %s\n", ltx_err_message());
                return 1;
            }
            for (int k = 0; k < PHASES; k++)
                t[mode][k][r] = out[k];
        }
    double *sm[2] = {malloc(sizeof(double) * (size_t)reps), malloc(sizeof(double) * (size_t)reps)};
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < 2; i++) {
            int mode = (r + i) % 2;
            small_gemms(&c, mode, 5); /* into this mode's steady state */
            sm[mode][r] = small_gemms(&c, mode, 200);
        }
    double med[2][PHASES];
    for (int m = 0; m < 2; m++)
        for (int k = 0; k < PHASES; k++)
            med[m][k] = bench_median(t[m][k], reps);
    printf("threads %d, reps %d, %d steps per round (medians of per-round sums, seconds)\n", c.nth,
           reps, STEPS);
    printf("        conv GEMM   %d x silu   linear    round wall   round CPU\n", SILUS);
    const char *names[2] = {"spin", "park"};
    for (int m = 0; m < 2; m++)
        printf("%s   %9.4f   %9.4f  %8.4f   %9.4f   %9.4f\n", names[m], med[m][0], med[m][1],
               med[m][2], med[m][3], med[m][4]);
    printf("spin/park: conv GEMM %.3f, silu %.3f, linear %.3f, round wall %.3f, round CPU %.3f\n",
           med[0][0] / med[1][0], med[0][1] / med[1][1], med[0][2] / med[1][2],
           med[0][3] / med[1][3], med[0][4] / med[1][4]);
    double sm_spin = bench_median(sm[0], reps), sm_park = bench_median(sm[1], reps);
    printf("restart: back-to-back 128x256x512 products, per call: spin %.1f us, park %.1f us "
           "(+%.1f us)\n",
           1e6 * sm_spin, 1e6 * sm_park, 1e6 * (sm_park - sm_spin));
    free(sm[0]), free(sm[1]);
    printf("conv GEMM output spin vs park: %s\n", same ? "bit-identical" : "DIFFERENT");
    for (int m = 0; m < 2; m++)
        for (int k = 0; k < PHASES; k++)
            free(t[m][k]);
    ltx_tensor *fr[] = {c.sx, c.sy, c.lx, c.lw, c.ly};
    for (int i = 0; i < 5; i++)
        ltx_tensor_free(fr[i]);
    free(c.ga), free(c.gb), free(c.gc), free(gc_spin);
    ltx_backend_destroy(c.be);
    ltx_threadpool_destroy(c.pool);
    return same ? 0 : 1;
}
