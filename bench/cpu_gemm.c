/*
 * cpu_gemm.c — instruction peaks of this CPU and the GEMM throughput of the CPU backend's
 * `linear` per weight type, as a fraction of the peak measured in the same run.
 *
 * Method:
 *   - Peaks: every pool thread (all online CPUs) runs, at the same time, a loop of 16
 *     independent register-resident accumulator chains of `vdpbf16ps zmm` (64 flop each: 16
 *     lanes x 2 bf16 products x multiply+add), `vfmadd231ps zmm` (32 flop) or `vpdpbusd zmm`
 *     (128 integer ops: 16 lanes x 4 u8 x s8 products x multiply+add), 2^26 instructions per
 *     thread (~10 ms); best of 7. Also the calling thread alone (best of 7) times the thread
 *     count. The peak is the larger of the two: on this shared VM the all-threads figure reads
 *     low (down to half) whenever another tenant or a late wake-up takes one core, and the
 *     larger one is the conservative denominator. Needs AVX-512 BF16 / VNNI (else that peak is
 *     reported as absent). Measured here (Zen 5): vdpbf16ps issues 2 per cycle per core at
 *     a latency of 6 cycles, so 16 chains suffice (12 reach ~92 %).
 *   - GEMM: y (M, N) = x (M, K) @ W^T through the backend's `linear` (ltx_backend_ops.linear,
 *     the op the models call), f32 x, f32 y, no bias, at (M, N, K) = (6144, 4096, 4096) and at
 *     M = 512 rows (the row count of the ggml reference figures) and M = 64 (env BENCH_ROWS, e.g.
 *     "8,16,32,64", replaces the row counts). One warm-up call, then
 * `reps` calls (default 5); the best and the median time are reported, GFLOP/s = 2 M N K / best.
 *     Types, each on the route `linear` picks at precision BF16: bf16 (weights bf16: vdpbf16ps
 *     kernels); q8_0, q4_0, q4_k, q5_k (int8 activations on VNNI: register tiles up to 16 rows,
 *     packed panels above, cpu_gemm_int8.c); q6_k (tiles up to 64 rows, above that dequantized
 *     bf16 panels on vdpbf16ps). Other routes for comparison: q8_0b, q4_0b, q4_kb, q5_kb (the
 *     dequantized bf16 route, LTX_CPU_INT8_MAX_ROWS=0: what they ran before the panels); q6_ki
 *     (the int8 tiles at every row count, LTX_CPU_INT8_MAX_ROWS=1e9);
 *     f32 (weights f32, precision F32: OpenBLAS sgemm, as the environment configures it).
 *   - Both per wall time and per process CPU time (CPU seconds / threads), the latter less
 *     sensitive to other processes on a shared machine (tick-accounted: rough below ~0.1 s);
 * BENCH_THREADS=n overrides the threads.
 *   - % of peak: against the peak of the instruction the route runs: vpdpbusd for the int8
 *     routes at AVX-512 (q8_0, q4_0, q4_k, q5_k, q6_ki; counted in multiply-adds x 2 like the
 *     flops, so int8 can reach up to 2x the bf16 GFLOP/s), vdpbf16ps for bf16 and the
 *     dequantized routes, vfmadd231ps for f32. ggml's own % of peak is its figure over the
 *     issue's peaks (870 / 430 GFLOP/s, same machine kind; 870 for its int8 types too).
 *   - ggml figures (commit d99724f, llamafile kernels, n = 512 rows, this machine, from issue
 *     12) are printed as fixed reference numbers, NOT measured by this program.
 * The machine may be shared: run it when idle, look at best-of and median together.
 * Usage: cpu_gemm [reps] [type...]   (types: bf16 q8_0 q4_0 q4_k q5_k q6_k q8_0b q4_0b q4_kb
 *        q5_kb q6_ki f32; default all)
 */
#include "backend/backend.h"
#include "backend/cpu/cpu_isa.h"
#include "bench_util.h"
#include "core/threadpool.h"

#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PEAK_ITERS (1 << 22) /* x 16 instructions per thread per call */

static volatile float sink;

/* 16 named accumulators (an array would live in memory at -O2); the empty asm keeps every
 * chain alive and unmerged without touching memory. */
#define CHAINS(OP)                                                                                 \
    OP(a0)                                                                                         \
    OP(a1)                                                                                         \
    OP(a2)                                                                                         \
    OP(a3) OP(a4) OP(a5) OP(a6) OP(a7) OP(a8) OP(a9) OP(a10) OP(a11) OP(a12) OP(a13) OP(a14) OP(a15)
#define KEEP                                                                                       \
    __asm__ volatile(""                                                                            \
                     : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6),       \
                       "+v"(a7));                                                                  \
    __asm__ volatile(""                                                                            \
                     : "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11), "+v"(a12), "+v"(a13), "+v"(a14),  \
                       "+v"(a15))
#define DECL(a)  __m512 a = _mm512_set1_ps(1.0f);
#define SUM(a)   s = _mm512_add_ps(s, a);
#define IDECL(a) __m512i a = _mm512_set1_epi32(1);
#define ISUM(a)  s = _mm512_add_epi32(s, a);

__attribute__((target("avx512f,avx512bf16"))) static void peak_bf16(void *ctx, int64_t b, int64_t e,
                                                                    int w)
{
    (void)ctx, (void)b, (void)e, (void)w;
    CHAINS(DECL)
    __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80), y = x;
#define DP(a) a = _mm512_dpbf16_ps(a, x, y);
    for (int it = 0; it < PEAK_ITERS; it++) {
        CHAINS(DP)
        KEEP;
    }
    __m512 s = _mm512_setzero_ps();
    CHAINS(SUM)
    sink = _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f"))) static void peak_fma(void *ctx, int64_t b, int64_t e, int w)
{
    (void)ctx, (void)b, (void)e, (void)w;
    CHAINS(DECL)
    __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-3f);
#define FMA(a) a = _mm512_fmadd_ps(a, x, y);
    for (int it = 0; it < PEAK_ITERS; it++) {
        CHAINS(FMA)
        KEEP;
    }
    __m512 s = _mm512_setzero_ps();
    CHAINS(SUM)
    sink = _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512vnni"))) static void peak_vnni(void *ctx, int64_t b, int64_t e,
                                                                    int w)
{
    (void)ctx, (void)b, (void)e, (void)w;
    CHAINS(IDECL)
    __m512i x = _mm512_set1_epi32(0x01010101), y = x;
#define VD(a) a = _mm512_dpbusd_epi32(a, x, y);
    for (int it = 0; it < PEAK_ITERS; it++) {
        CHAINS(VD)
        KEEP;
    }
    __m512i s = _mm512_setzero_si512();
    CHAINS(ISUM)
    sink = (float)_mm512_reduce_add_epi32(s);
}

/* Peak GFLOP/s of fn (PEAK_ITERS x 16 instructions of flop_per_instr, ~10 ms per call): best
 * of 7 with every pool thread running it at once (*all, by wall time), and best of 7 with the
 * calling thread alone times the thread count (*one_x_n: what all cores reach when none is
 * slowed by another tenant of a shared host). Returns the larger of the two, the conservative
 * denominator for "% of peak". (Process CPU time is not used: on this VM it is accounted in
 * scheduler ticks, too coarse for 10 ms.) */
static double peak(ltx_threadpool *pool, ltx_parallel_fn fn, double flop_per_instr, double *all,
                   double *one_x_n)
{
    int nth = ltx_threadpool_size(pool);
    double best = 1e30, best1 = 1e30;
    for (int r = 0; r < 7; r++) {
        double t0 = bench_now();
        ltx_threadpool_for(pool, nth, 1, fn, NULL);
        double dt = bench_now() - t0;
        if (dt < best) best = dt;
        t0 = bench_now();
        fn(NULL, 0, 1, 0);
        dt = bench_now() - t0;
        if (dt < best1) best1 = dt;
    }
    double per = PEAK_ITERS * 16.0 * flop_per_instr * 1e-9;
    *all = nth * per / best;
    *one_x_n = nth * per / best1;
    return *all > *one_x_n ? *all : *one_x_n;
}

typedef struct wtype {
    const char *name;
    ltx_dtype dt;
    ltx_precision prec;
    const char *int8_rows; /* LTX_CPU_INT8_MAX_ROWS for the run ("" = default) */
    int peak;              /* 0: vdpbf16ps, 1: vfmadd231ps, 2: vpdpbusd */
    double ggml;           /* GFLOP/s, issue 12 (fixed reference, n = 512) */
} wtype;

static const wtype TYPES[] = {
    {"bf16", LTX_BF16, LTX_PRECISION_BF16, "", 0, 415},
    {"q8_0", LTX_Q8_0, LTX_PRECISION_BF16, "", 2, 230},
    {"q4_0", LTX_Q4_0, LTX_PRECISION_BF16, "", 2, 190},
    {"q4_k", LTX_Q4_K, LTX_PRECISION_BF16, "", 2, 155},
    {"q5_k", LTX_Q5_K, LTX_PRECISION_BF16, "", 2, 0},
    {"q6_k", LTX_Q6_K, LTX_PRECISION_BF16, "", 0, 145},
    {"q8_0b", LTX_Q8_0, LTX_PRECISION_BF16, "0", 0, 230},
    {"q4_0b", LTX_Q4_0, LTX_PRECISION_BF16, "0", 0, 190},
    {"q4_kb", LTX_Q4_K, LTX_PRECISION_BF16, "0", 0, 155},
    {"q5_kb", LTX_Q5_K, LTX_PRECISION_BF16, "0", 0, 0},
    {"q6_ki", LTX_Q6_K, LTX_PRECISION_BF16, "1000000000", 2, 145},
    {"f32", LTX_F32, LTX_PRECISION_F32, "", 1, 185},
};
#define N_TYPES (int)(sizeof TYPES / sizeof TYPES[0])

static float frand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (float)((*s >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

/* Times linear at (M, N, K) for type t; returns best wall seconds, median in *med and the best
 * process CPU seconds divided by the thread count in *cpu. */
static double time_linear(ltx_backend *be, const wtype *t, int64_t M, int64_t N, int64_t K,
                          int reps, double *med, double *cpu)
{
    uint64_t s = 0x1234567ull + (uint64_t)M;
    float *x = malloc(sizeof(float) * (size_t)(M * K)),
          *wf = malloc(sizeof(float) * (size_t)(N * K));
    for (int64_t i = 0; i < M * K; i++)
        x[i] = frand(&s);
    for (int64_t i = 0; i < N * K; i++)
        wf[i] = frand(&s) * 0.02f;
    void *wraw = malloc(ltx_dtype_bytes(t->dt, N * K));
    if (ltx_dtype_is_quant(t->dt))
        ltx_type_traits_of(t->dt)->from_float(wf, wraw, N * K);
    else
        ltx_convert(wraw, t->dt, wf, LTX_F32, (size_t)(N * K));
    int64_t xs[2] = {M, K}, ws[2] = {N, K}, ys[2] = {M, N};
    ltx_tensor *tx = ltx_tensor_from_host(be, LTX_F32, 2, xs, x);
    ltx_tensor *tw = ltx_tensor_from_host(be, t->dt, 2, ws, wraw);
    ltx_tensor *ty = ltx_tensor_zeros(be, LTX_F32, 2, ys);
    be->precision = t->prec;
    if (*t->int8_rows)
        setenv("LTX_CPU_INT8_MAX_ROWS", t->int8_rows, 1);
    else
        unsetenv("LTX_CPU_INT8_MAX_ROWS");
    double *ts = malloc(sizeof(double) * (size_t)reps), best = 1e30;
    *cpu = 1e30;
    for (int r = -1; r < reps; r++) {
        double t0 = bench_now(), c0 = bench_cpu_now();
        if (be->ops->linear(be, ty, tx, tw, NULL, 1.0f) != LTX_OK) {
            fprintf(stderr, "linear %s: %s\n", t->name, ltx_err_message());
            exit(1);
        }
        double dt = bench_now() - t0, dc = (bench_cpu_now() - c0) / ltx_threadpool_size(be->pool);
        if (r >= 0) ts[r] = dt, best = dt < best ? dt : best, *cpu = dc < *cpu ? dc : *cpu;
    }
    *med = bench_median(ts, reps);
    be->precision = LTX_PRECISION_F32;
    ltx_tensor_free(tx), ltx_tensor_free(tw), ltx_tensor_free(ty);
    free(x), free(wf), free(wraw), free(ts);
    return best;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1) reps = 1;
    int nth = getenv("BENCH_THREADS") ? atoi(getenv("BENCH_THREADS"))
                                      : (int)sysconf(_SC_NPROCESSORS_ONLN);
    ltx_threadpool *pool = ltx_threadpool_create(nth);
    ltx_backend *be = NULL;
    if (ltx_cpu_backend_create(false, NULL, pool, &be) != LTX_OK) return 1;
    char isa[160];
    printf("threads %d, cpu kernels %s\n", nth, ltx_cpu_isa_describe(isa, sizeof isa));
    double pk[3] = {0, 0, 0}, pka[3] = {0, 0, 0}, pk1[3] = {0, 0, 0};
    if (ltx_cpu_isa_detected() == CPU_ISA_AVX512) {
        pk[0] = peak(pool, peak_bf16, 64.0, &pka[0], &pk1[0]);
        pk[1] = peak(pool, peak_fma, 32.0, &pka[1], &pk1[1]);
        pk[2] = peak(pool, peak_vnni, 128.0, &pka[2], &pk1[2]);
    }
    static const char *PEAK_LINE[3] = {"vdpbf16ps zmm  ", "vfmadd231ps zmm", "vpdpbusd zmm   "};
    for (int i = 0; i < 3; i++)
        printf("peak %s %7.1f G%s/s (all %d threads at once %7.1f, one thread x %d %7.1f; "
               "16 chains)\n",
               PEAK_LINE[i], pk[i], i == 2 ? "OP" : "FLOP", nth, pka[i], nth, pk1[i]);
    printf("%-6s %6s %6s %6s  %8s %8s %8s %7s %8s %7s %-9s  %s\n", "type", "M", "N", "K", "best_s",
           "median_s", "GFLOP/s", "%peak", "cpuGF/s", "%peak", "peak of",
           "ggml n=512 GF/s (%peak), issue 12, fixed");
    static const char *PEAK_NAME[3] = {"vdpbf16ps", "vfmadd", "vpdpbusd"};
    int64_t rows[16] = {6144, 512, 64};
    int n_rows = 3;
    if (getenv("BENCH_ROWS")) { /* e.g. BENCH_ROWS=8,16,32,64: where the routes cross */
        n_rows = 0;
        for (const char *p = getenv("BENCH_ROWS"); *p && n_rows < 16; p += *p == ',') {
            char *e;
            long long v = strtoll(p, &e, 10);
            if (e == p || v < 1) break;
            rows[n_rows++] = v, p = e;
        }
    }
    for (int ti = 0; ti < N_TYPES; ti++) {
        const wtype *t = &TYPES[ti];
        bool want = argc <= 2;
        for (int a = 2; a < argc; a++)
            want = want || !strcmp(argv[a], t->name);
        if (!want) continue;
        for (int si = 0; si < n_rows; si++) {
            int64_t M = rows[si], N = 4096, K = 4096;
            double med, cpu, best = time_linear(be, t, M, N, K, reps, &med, &cpu);
            double fl = 2.0 * (double)M * (double)N * (double)K * 1e-9;
            double gf = fl / best, gc = fl / cpu, p = pk[t->peak];
            printf("%-6s %6lld %6lld %6lld  %8.4f %8.4f %8.1f %6.1f%% %8.1f %6.1f%% %-9s  %.0f "
                   "(%.1f%%)\n",
                   t->name, (long long)M, (long long)N, (long long)K, best, med, gf,
                   p > 0 ? 100.0 * gf / p : 0.0, gc, p > 0 ? 100.0 * gc / p : 0.0,
                   PEAK_NAME[t->peak], t->ggml, 100.0 * t->ggml / (t->peak == 1 ? 430.0 : 870.0));
            fflush(stdout);
        }
    }
    ltx_backend_destroy(be);
    ltx_threadpool_destroy(pool);
    return 0;
}
