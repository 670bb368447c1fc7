/*
 * cpu_linalg.c — linear (y = x @ w^T + b, weights in f32/bf16/f16/fp8) and batched matmul on the
 * CPU, both on OpenBLAS cblas_sgemm with f32 accumulation like PyTorch's CPU addmm/bmm.
 *
 * Threading: with a pool of more than one thread, the pool's workers run single-threaded sgemm
 * calls (OpenBLAS is set to one thread for the duration of the op and restored after), so one
 * set of threads owns the cores: OpenBLAS's own workers keep polling for ~2^28 cycles after
 * each threaded call, and measured on 2 cores that slowed the next pool-parallel op by ~13 %.
 * Without a pool (or a pool of 1) each product is one sgemm call on OpenBLAS's threads.
 * Each sgemm call packs (copies) the rows of A it uses once per column block and the columns
 * of B once per row block, so work is split into as few, as large calls as the workers allow.
 *
 * linear with a low-precision (or scaled, or strided) weight never widens the whole weight:
 * w (N, K) is cut into row panels of nb rows (nb <= 1024 and <= N / workers), taken dynamically
 * by the workers; a worker widens its panel, kb <= 4096 columns at a time, into its own f32
 * scratch and runs one sgemm over all M rows of x with it: the conversion (nb*kb values) is
 * amortised over 2*M*nb*kb flops, and K chunks accumulate into y (beta 1). Why big panels
 * (bench/matmul_attention.c, 2 cores, CPU-time ratio vs one threaded f32 sgemm at
 * (M,K,N) = (6144,4096,4096)): nb = 256 / 512 / 1024 gave 0.88 / 0.94 / 0.98 — a narrow panel
 * re-packs all of x for little work. Widening each panel on the pool and then running one
 * OpenBLAS-threaded sgemm per panel measured the same at equal panel size, but leaves OpenBLAS
 * threads polling (above); cutting each panel's sgemm into row tiles re-packs the panel per tile
 * and measured ~0.88.
 * Scratch per call: workers * nb * kb floats (per worker 64 MiB / workers, within [4, 16] MiB),
 * plus a contiguous copy of x when x's rows are not evenly strided. An f32 weight with scale 1
 * and unit column stride is used in place (no scratch).
 *
 * Precision (be->precision, decided in one place: ltx_cpu_gemm_bf16() below): f32 is exact f32;
 * bf16 rounds the GEMM inputs — x and the (scaled) weight for linear, a and b for matmul, q/k/v for
 * attention (cpu_attention.c calls ltx_cpu_round_bf16_input) — to bf16 and accumulates in f32 with
 * f32 outputs, what a GPU's bf16 tensor-core GEMM with f32 accumulation computes up to the
 * order of the sums. linear runs on the native kernels (ltx_cpu_bf16_gemm in cpu_gemm_bf16.c;
 * block-quantized weights up to 64 rows on the int8 kernels of cpu_gemm_quant.c), attention's
 * products too (cpu_attention.c); matmul rounds into f32 scratch and reuses the f32 sgemm.
 *
 * ref: torch.nn.functional.linear (CPU: addmm(bias, x, w.t())), torch.matmul / bmm broadcasting.
 * Not here: f64 matmul (no caller needs it), integer weights.
 */
#include "backend/cpu/cpu_gemm.h"
#include "backend/cpu/cpu_internal.h"

#include <cblas.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Weight panels (see file comment): f32 bytes per worker = 64 MiB / workers, within [4, 16] MiB;
 * rows and columns per panel capped. */
#define LINEAR_SCRATCH_BYTES   ((size_t)64 << 20)
#define LINEAR_PANEL_MIN_BYTES ((size_t)4 << 20)
#define LINEAR_PANEL_MAX_BYTES ((size_t)16 << 20)
#define LINEAR_PANEL_ROWS      1024
#define LINEAR_PANEL_COLS      4096
/* Few rows of x (token-by-token decoding): panels of at most 256 KiB of f32, which stay in
 * cache, so the weight is read once from memory in its stored type (see ltx_cpu_linear). */
#define LINEAR_FEW_ROWS             8
#define LINEAR_FEW_ROWS_PANEL_BYTES ((size_t)256 << 10)

/* ---- precision ------------------------------------------------------------------------------ */

/* The single bf16 decision of the CPU backend: true when GEMM inputs are to be rounded. */
bool ltx_cpu_gemm_bf16(const ltx_backend *be)
{
    return be->precision == LTX_PRECISION_BF16;
}

ltx_status ltx_cpu_round_bf16_input(ltx_backend *be, const ltx_tensor *t, const ltx_tensor **out,
                                    ltx_tensor **tmp)
{
    *tmp = NULL;
    *out = t;
    if (!ltx_cpu_gemm_bf16(be)) return LTX_OK;
    *tmp = ltx_tensor_new(be, LTX_F32, t->ndim, t->shape);
    if (!*tmp) return ltx_err_failed();
    *out = *tmp;
    return ltx_cpu_unary(be, LTX_UNARY_ROUND_BF16, *tmp, t, 0.0, 0.0);
}

/* ---- helpers shared by linear and matmul ---------------------------------------------------- */

/* Runs OpenBLAS single-threaded while our pool's workers call it; returns the count to restore. */
static int blas_single_begin(void)
{
    int n = openblas_get_num_threads();
    if (n != 1) openblas_set_num_threads(1);
    return n;
}

static void blas_single_end(int n)
{
    if (n != 1) openblas_set_num_threads(n);
}

/* True when the dims of t before the last flatten into rows with one row stride: row r of the
 * (rows, cols) matrix starts at element r * *ld. Needs unit stride in the last dim and rows that
 * do not overlap (so *ld >= cols is a valid BLAS leading dimension). */
static bool flat_rows(const ltx_tensor *t, int64_t *ld)
{
    int last = t->ndim - 1;
    int64_t cols = t->shape[last];
    if (cols > 1 && t->stride[last] != 1) return false;
    bool have = false;
    int64_t row = 0, expect = 0;
    for (int i = last - 1; i >= 0; i--) {
        if (t->shape[i] == 1) continue;
        if (!have) {
            row = t->stride[i];
            expect = row * t->shape[i];
            have = true;
        } else {
            if (t->stride[i] != expect) return false;
            expect *= t->shape[i];
        }
    }
    if (have && row < cols) return false;
    *ld = have ? row : (cols > 0 ? cols : 1);
    return true;
}

/* Copies the f32 tensor t (any strides) into contiguous dst, row by row over the last dim. */
static void gather_f32(float *dst, const ltx_tensor *t)
{
    const float *src = cpu_ptr(t);
    int nd = t->ndim;
    int64_t inner = t->shape[nd - 1], is = t->stride[nd - 1];
    int64_t rows = inner ? ltx_tensor_numel(t) / inner : 0;
    int64_t idx[LTX_MAX_DIMS] = {0}, off = 0;
    for (int64_t r = 0; r < rows; r++) {
        const float *s = src + off;
        if (is == 1)
            memcpy(dst, s, (size_t)inner * sizeof *dst);
        else
            for (int64_t i = 0; i < inner; i++)
                dst[i] = s[i * is];
        dst += inner;
        for (int d = nd - 2; d >= 0; d--) { /* odometer over the leading dims */
            off += t->stride[d];
            if (++idx[d] < t->shape[d]) break;
            off -= t->stride[d] * t->shape[d];
            idx[d] = 0;
        }
    }
}

static bool shape_eq(const ltx_tensor *t, int i, int64_t v)
{
    return t->shape[i] == v;
}

static int64_t round_up16(int64_t v)
{
    return (v + 15) / 16 * 16;
}

/* One row-major sgemm: C (M, N) = alpha * op(A) @ op(B) + beta * C. */
typedef struct gemm_args {
    bool ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    int64_t lda, ldb;
    float *C;
    int64_t ldc;
} gemm_args;

static void gemm_block(const gemm_args *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const float *a = g->A + (g->ta ? m0 : m0 * g->lda);
    const float *b = g->B + (g->tb ? n0 * g->ldb : n0);
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans,
                (int)(m1 - m0), (int)(n1 - n0), (int)g->K, g->alpha, a, (int)g->lda, b, (int)g->ldb,
                g->beta, g->C + m0 * g->ldc + n0, (int)g->ldc);
}

typedef struct tile_job {
    const gemm_args *g;
    int64_t mb, nt, ntm, ntn; /* tile rows / cols, tiles along M / N */
    atomic_llong next;
} tile_job;

static void gemm_tiles(void *ctx, int64_t begin, int64_t end, int worker)
{
    (void)begin;
    (void)end;
    (void)worker;
    tile_job *j = ctx;
    const gemm_args *g = j->g;
    for (;;) {
        int64_t t = atomic_fetch_add(&j->next, 1);
        if (t >= j->ntm * j->ntn) break;
        int64_t m0 = (t / j->ntn) * j->mb, n0 = (t % j->ntn) * j->nt;
        gemm_block(g, m0, m0 + j->mb < g->M ? m0 + j->mb : g->M, n0,
                   n0 + j->nt < g->N ? n0 + j->nt : g->N);
    }
}

/* Runs g on the pool as nw tiles (one per worker; the caller has set OpenBLAS single-threaded
 * when the pool has more than one thread). Each sgemm call packs its rows of A once per tile
 * column and its columns of B once per tile row, so the grid (tm x tn = nw) is the one that
 * packs least: tn * M + tm * N smallest. Tiny products and no pool: one call. */
static void gemm_tiled(ltx_threadpool *pool, const gemm_args *g)
{
    int nw = ltx_threadpool_size(pool);
    if (nw == 1 || (double)g->M * (double)g->N * (double)g->K < 262144.0) {
        gemm_block(g, 0, g->M, 0, g->N);
        return;
    }
    int64_t best_tm = nw, best = -1;
    for (int64_t tm = 1; tm <= nw; tm++) {
        if (nw % tm) continue;
        int64_t tn = nw / tm, cost = tn * g->M + tm * g->N;
        if (tm > g->M || tn > g->N) continue;
        if (best < 0 || cost < best) best = cost, best_tm = tm;
    }
    if (best < 0) { /* fewer rows and columns than workers */
        gemm_block(g, 0, g->M, 0, g->N);
        return;
    }
    int64_t tn = nw / best_tm;
    tile_job j = {.g = g, .mb = (g->M + best_tm - 1) / best_tm, .nt = (g->N + tn - 1) / tn};
    if (j.nt < g->N) j.nt = round_up16(j.nt);
    if (j.nt > g->N) j.nt = g->N;
    j.ntm = (g->M + j.mb - 1) / j.mb;
    j.ntn = (g->N + j.nt - 1) / j.nt;
    atomic_init(&j.next, 0);
    ltx_threadpool_for(pool, nw, 1, gemm_tiles, &j);
}

void ltx_cpu_blas_single_threaded(void)
{
    openblas_set_num_threads(1);
}

/* The one threading rule of the CPU backend (cpu_gemm.h): without a pool (or a pool of 1), one
 * call at OpenBLAS's current count; with a pool of several threads, one call on as many
 * OpenBLAS threads as the pool (its workers are not parked after it: docs/ARCHITECTURE.md). */
void ltx_cpu_sgemm(ltx_threadpool *pool, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                   float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                   float beta, float *C, int64_t ldc)
{
    gemm_args g = {ta, tb, M, N, K, alpha, beta, A, B, lda, ldb, C, ldc};
    if (ltx_threadpool_size(pool) <= 1) {
        gemm_block(&g, 0, M, 0, N);
        return;
    }
    /* One call on OpenBLAS's own threads (as many as the pool), not tiles over the pool:
     * OpenBLAS picks other kernels for smaller tiles (its small-matrix path), so tiling made the
     * bits depend on --threads and broke bit-for-bit reproduction of earlier outputs
     * (--reference-version 2026-04). Whole-matrix calls give the same bits at any thread
     * count; OpenBLAS goes back to one thread afterwards (the pool's rule for everything else). */
    int saved = openblas_get_num_threads();
    int nw = ltx_threadpool_size(pool);
    if (saved != nw) openblas_set_num_threads(nw);
    gemm_block(&g, 0, M, 0, N);
    if (saved != nw) openblas_set_num_threads(saved);
}

/* ---- linear -----------------------------------------------------------------------------------
 */

/* dst (n1 - n0, k1 - k0) contiguous f32 = w[n0:n1, k0:k1] * scale. */
void ltx_cpu_widen_rows(float *dst, const cpu_wsource *w, int64_t n0, int64_t n1, int64_t k0,
                        int64_t k1)
{
    int64_t K = k1 - k0;
    if (w->deq) { /* block-quantized: rows are whole blocks, k0 block-aligned (checked) */
        for (int64_t n = n0; n < n1; n++, dst += K) {
            w->deq(w->base + ltx_dtype_bytes(w->dt, n * w->rs + k0), dst, K);
            if (w->scale != 1.0f)
                for (int64_t k = 0; k < K; k++)
                    dst[k] *= w->scale;
        }
        return;
    }
    size_t esz = ltx_dtype_size(w->dt);
    for (int64_t n = n0; n < n1; n++, dst += K) {
        const char *row = w->base + (size_t)(n * w->rs + k0 * w->cs) * esz;
        if (w->cs == 1 && w->dt == LTX_BF16) {
            ltx_bf16_to_f32_row(dst, (const uint16_t *)row, (size_t)K);
        } else if (w->cs == 1 && w->dt == LTX_F16) {
            ltx_f16_to_f32_row(dst, (const uint16_t *)row, (size_t)K);
        } else if (w->lut) {
            const uint8_t *r8 = (const uint8_t *)row;
            for (int64_t k = 0; k < K; k++)
                dst[k] = w->lut[r8[k * w->cs]];
            continue; /* scale already in the table */
        } else if (w->dt == LTX_F32) {
            const float *rf = (const float *)row;
            for (int64_t k = 0; k < K; k++)
                dst[k] = rf[k * w->cs];
        } else { /* strided bf16 / f16 */
            const uint16_t *rh = (const uint16_t *)row;
            for (int64_t k = 0; k < K; k++)
                dst[k] = w->dt == LTX_BF16 ? ltx_bf16_to_f32(rh[k * w->cs])
                                           : ltx_f16_to_f32(rh[k * w->cs]);
        }
        if (w->scale != 1.0f)
            for (int64_t k = 0; k < K; k++)
                dst[k] *= w->scale;
    }
}

typedef struct panel_job {
    const float *x; /* (M, K), row stride ldx */
    int64_t ldx, M, N, K;
    cpu_wsource w;
    float *y;   /* (M, N) contiguous */
    float beta; /* 1 when y holds the bias already */
    int64_t nb, kb, npanels;
    float *scratch;    /* per worker: nb * kb floats */
    atomic_llong next; /* next row panel to take */
} panel_job;

/* Takes row panels until none is left: widen w[n0:n1, k0:k1] into this worker's scratch, then
 * y[:, n0:n1] (+)= x[:, k0:k1] @ panel^T over all M rows in one single-threaded sgemm. */
static void linear_panels(void *ctx, int64_t begin, int64_t end, int worker)
{
    (void)begin;
    (void)end;
    panel_job *j = ctx;
    float *pan = j->scratch + (size_t)worker * (size_t)(j->nb * j->kb);
    for (;;) {
        int64_t p = atomic_fetch_add(&j->next, 1);
        if (p >= j->npanels) break;
        int64_t n0 = p * j->nb, n1 = n0 + j->nb < j->N ? n0 + j->nb : j->N;
        for (int64_t k0 = 0; k0 < j->K; k0 += j->kb) {
            int64_t k1 = k0 + j->kb < j->K ? k0 + j->kb : j->K;
            ltx_cpu_widen_rows(pan, &j->w, n0, n1, k0, k1);
            gemm_args g = {false,     true, j->M,   n1 - n0, k1 - k0,   1.0f, k0 ? 1.0f : j->beta,
                           j->x + k0, pan,  j->ldx, k1 - k0, j->y + n0, j->N};
            gemm_block(&g, 0, g.M, 0, g.N);
        }
    }
}

typedef struct bias_job {
    float *y;
    const float *bias;
    int64_t N;
} bias_job;

static void bias_rows(void *ctx, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    bias_job *j = ctx;
    for (int64_t r = begin; r < end; r++)
        memcpy(j->y + r * j->N, j->bias, (size_t)j->N * 4);
}

static ltx_status linear_check(const ltx_tensor *y, const ltx_tensor *x, const ltx_tensor *w,
                               const ltx_tensor *bias)
{
    char b1[96], b2[96], b3[96];
    if (x->dtype != LTX_F32 || y->dtype != LTX_F32)
        return ltx_err(LTX_ERR_INVALID_ARG, "linear: x and y must be F32 (x %s, y %s)",
                       ltx_dtype_name(x->dtype), ltx_dtype_name(y->dtype));
    if (w->dtype != LTX_F32 && w->dtype != LTX_BF16 && w->dtype != LTX_F16 &&
        w->dtype != LTX_F8E4M3 && w->dtype != LTX_F8E5M2 && !ltx_dtype_is_quant(w->dtype))
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "linear: weight %s has dtype %s (want F32/BF16/F16/"
                       "F8_E4M3/F8_E5M2 or a block-quantized type)",
                       w->name, ltx_dtype_name(w->dtype));
    if (ltx_dtype_is_quant(w->dtype) && w->ndim == 2) {
        int64_t blck = ltx_dtype_block_size(w->dtype);
        if ((w->shape[1] > 1 && w->stride[1] != 1) || (w->shape[0] > 1 && w->stride[0] % blck) ||
            w->offset % blck || w->shape[1] % blck)
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "linear: %s weight %s must have contiguous rows of whole %lld-element "
                           "blocks",
                           ltx_dtype_name(w->dtype), w->name, (long long)blck);
    }
    if (!ltx_tensor_is_contiguous(y))
        return ltx_err(LTX_ERR_INVALID_ARG, "linear: output must be contiguous");
    bool ok = w->ndim == 2 && x->ndim >= 1 && y->ndim == x->ndim &&
              x->shape[x->ndim - 1] == w->shape[1] && y->shape[y->ndim - 1] == w->shape[0];
    for (int i = 0; ok && i < x->ndim - 1; i++)
        ok = shape_eq(y, i, x->shape[i]);
    if (ok && bias) ok = ltx_tensor_numel(bias) == w->shape[0] && ltx_dtype_is_float(bias->dtype);
    if (!ok)
        return ltx_err(
            LTX_ERR_INVALID_ARG, "linear: shapes x %s, w %s (%s), y %s do not match%s",
            ltx_tensor_shape_str(x, b1, sizeof b1), ltx_tensor_shape_str(w, b2, sizeof b2), w->name,
            ltx_tensor_shape_str(y, b3, sizeof b3), bias ? " (or bias is not N floats)" : "");
    return LTX_OK;
}

/* Bias (any float dtype, strided) as N f32 values into out. */
static void bias_to_f32(float *out, const ltx_tensor *bias, int64_t N)
{
    /* Its elements lie along the one non-unit dim (numel == N); find that stride. */
    int64_t st = 1;
    for (int i = 0; i < bias->ndim; i++)
        if (bias->shape[i] > 1) st = bias->stride[i];
    size_t esz = ltx_dtype_size(bias->dtype);
    const char *b = cpu_ptr(bias);
    for (int64_t n = 0; n < N; n++)
        ltx_convert(out + n, LTX_F32, b + (size_t)(n * st) * esz, bias->dtype, 1);
}

/* Block-quantized weights at LTX_PRECISION_BF16 take one of two routes
 * (ltx_cpu_gemm_quant_route): int8 activations on the VNNI kernels — the register tiles of
 * cpu_gemm_quant.c up to 16 rows (64 for Q6_K and without AVX-512 VNNI), the packed panels of
 * cpu_gemm_int8.c above for Q8_0 / Q4_0 / Q4_K / Q5_K — or, for Q6_K above 64 rows
 * and on levels without AVX-512 VNNI, weight panels dequantized, rounded to bf16 and run on the
 * vdpbf16ps GEMM (cpu_gemm_bf16.c; ~80 % of its peak where the int8 tiles reach ~30 %).
 * LTX_CPU_INT8_MAX_ROWS moves the tiles' limit (0: never int8). */

/* ltx_backend_ops.linear. bias may be NULL; w_scale multiplies the widened weight (fp8: folded
 * into the lookup table). Writes all of y; inputs are not modified or retained. Allocates only
 * the per-call scratch described at the top of the file (freed before returning). */
ltx_status ltx_cpu_linear(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x, const ltx_tensor *w,
                          const ltx_tensor *bias, float w_scale)
{
    LTX_TRY(linear_check(y, x, w, bias));
    int64_t N = w->shape[0], K = w->shape[1];
    int64_t M = ltx_tensor_numel(y) / (N ? N : 1);
    float *yp = cpu_ptr(y);
    if (M == 0 || N == 0) return LTX_OK;

    float *xcopy = NULL, *bias32 = NULL, *scratch = NULL;
    ltx_status s = LTX_OK;
    const float *xp = cpu_ptr(x);
    int64_t ldx;
    bool bf16 = ltx_cpu_gemm_bf16(be); /* the bf16 kernels round x and w themselves */
    if (!flat_rows(x, &ldx)) {         /* unevenly strided x: one contiguous copy */
        xcopy = malloc((size_t)(M * K) * sizeof *xcopy + 1);
        if (!xcopy) return ltx_err(LTX_ERR_OOM, "linear: no memory for a copy of x");
        gather_f32(xcopy, x);
        xp = xcopy;
        ldx = K ? K : 1;
    }
    if (bias) {
        bias32 = malloc((size_t)N * sizeof *bias32);
        if (!bias32) {
            s = ltx_err(LTX_ERR_OOM, "linear: no memory for the bias");
            goto done;
        }
        bias_to_f32(bias32, bias, N);
    }
    /* bf16 and int8 routes: the kernels start each output tile from the bias themselves */
    bool int8 = bf16 && K > 0 && ltx_cpu_gemm_quant_route(w->dtype, M, K);
    bool bias_in_gemm = bf16 && K > 0;
    if (bias && !bias_in_gemm) {
        bias_job bj = {yp, bias32, N}; /* y = bias, then gemm with beta 1, as torch addmm */
        ltx_threadpool_for(be->pool, M, 64, bias_rows, &bj);
    }
    float beta = bias ? 1.0f : 0.0f;
    if (K == 0) { /* empty sum */
        if (!bias) memset(yp, 0, (size_t)(M * N) * sizeof *yp);
        goto done;
    }

    cpu_wsource ws = {.base = cpu_ptr(w),
                      .dt = w->dtype,
                      .rs = w->stride[0],
                      .cs = K > 1 ? w->stride[1] : 1,
                      .scale = w_scale,
                      .lut = NULL,
                      .deq = ltx_dtype_is_quant(w->dtype) ? ltx_type_traits_of(w->dtype)->to_float
                                                          : NULL};
    float lut[256];
    if (w->dtype == LTX_F8E4M3 || w->dtype == LTX_F8E5M2) {
        for (int v = 0; v < 256; v++)
            lut[v] = (w->dtype == LTX_F8E4M3 ? ltx_fp8e4m3_to_f32((uint8_t)v)
                                             : ltx_fp8e5m2_to_f32((uint8_t)v)) *
                     w_scale;
        ws.lut = lut;
    }
    if (bf16) { /* own kernels: cpu_gemm_bf16.c / cpu_gemm_quant.c */
        if (int8)
            s = ltx_cpu_gemm_quant(be->pool, M, N, K, xp, ldx, w->dtype, ws.base,
                                   (int64_t)ltx_dtype_bytes(w->dtype, N > 1 ? ws.rs : K), w_scale,
                                   bias32, yp, N, false);
        else
            s = ltx_cpu_bf16_gemm_bias(be->pool, M, N, K, xp, ldx, &ws, bias32, yp, N);
        goto done;
    }

    int nw = ltx_threadpool_size(be->pool);
    int saved = nw > 1 ? blas_single_begin() : 1;
    int64_t ldw = w->shape[0] > 1 ? w->stride[0] : K;
    if (w->dtype == LTX_F32 && w_scale == 1.0f && (K == 1 || w->stride[1] == 1) && ldw >= K) {
        gemm_args g = {false, true, M, N, K, 1.0f, beta, xp, cpu_ptr(w), ldx, ldw, yp, N};
        gemm_tiled(be->pool, &g);
        goto unset;
    }

    /* Panels: within the per-worker budget, and no wider than an even share of N. */
    size_t budget = LINEAR_SCRATCH_BYTES / (size_t)nw;
    if (budget < LINEAR_PANEL_MIN_BYTES) budget = LINEAR_PANEL_MIN_BYTES;
    if (budget > LINEAR_PANEL_MAX_BYTES) budget = LINEAR_PANEL_MAX_BYTES;
    /* With M <= 8 rows the sgemm does ~2M flops per widened value, so the widening is the cost;
     * a large panel's f32 copy goes out to memory and back (8 bytes of traffic per weight on
     * top of the 2-byte bf16 read). Cache-sized panels keep decoding near the weights' read
     * rate (bench/gemma_generate.c); per output the sgemm call is the same. */
    if (M <= LINEAR_FEW_ROWS) budget = LINEAR_FEW_ROWS_PANEL_BYTES;
    int64_t kb = K < LINEAR_PANEL_COLS ? K : LINEAR_PANEL_COLS;
    int64_t nb = (int64_t)(budget / ((size_t)kb * sizeof(float)));
    if (nb > LINEAR_PANEL_ROWS) nb = LINEAR_PANEL_ROWS;
    int64_t fair = round_up16((N + nw - 1) / nw);
    if (nb > fair) nb = fair;
    if (nb < 1) nb = 1;
    scratch = malloc((size_t)nw * (size_t)(nb * kb) * sizeof *scratch);
    if (!scratch) {
        s = ltx_err(LTX_ERR_OOM, "linear: no memory for %d weight panels of %lld x %lld", nw,
                    (long long)nb, (long long)kb);
        goto unset;
    }
    panel_job j = {.x = xp,
                   .ldx = ldx,
                   .M = M,
                   .N = N,
                   .K = K,
                   .w = ws,
                   .y = yp,
                   .beta = beta,
                   .nb = nb,
                   .kb = kb,
                   .npanels = (N + nb - 1) / nb,
                   .scratch = scratch};
    atomic_init(&j.next, 0);
    ltx_threadpool_for(be->pool, nw, 1, linear_panels, &j);

unset:
    if (nw > 1) blas_single_end(saved);
done:
    free(xcopy);
    free(bias32);
    free(scratch);
    return s;
}

/* ---- matmul -----------------------------------------------------------------------------------
 */

/* How one stored matrix (rows, cols) with strides (rs, cs) is handed to BLAS. */
typedef struct blas_mat {
    bool trans; /* after folding in the caller's trans flag */
    int64_t ld;
    bool copy; /* neither layout fits: gather into scratch (contiguous, ld = cols) */
} blas_mat;

static blas_mat blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, bool trans)
{
    blas_mat m = {trans, 0, false};
    if ((cs == 1 || cols == 1) && (rows == 1 || rs >= cols)) {
        m.ld = rows == 1 ? (cols > 0 ? cols : 1) : rs;
        if (m.ld < 1) m.ld = 1;
    } else if ((rs == 1 || rows == 1) && (cols == 1 || cs >= rows)) {
        m.trans = !trans; /* column-major storage = row-major storage of the transpose */
        m.ld = cols == 1 ? (rows > 0 ? rows : 1) : cs;
    } else {
        m.copy = true;
        m.ld = cols > 0 ? cols : 1;
    }
    return m;
}

typedef struct mm_job {
    const float *a, *b;
    float *c;
    int nb_dims;                                /* batch dims of c */
    int64_t bshape[LTX_MAX_DIMS];               /* c's batch shape */
    int64_t sa[LTX_MAX_DIMS], sb[LTX_MAX_DIMS]; /* broadcast batch strides of a, b */
    int64_t M, N, K;
    int64_t ar, ac, ars, acs, br, bc, brs, bcs; /* stored (rows, cols, strides) of a and b */
    blas_mat la, lb;
    float alpha;
    float *scratch; /* per worker: copies for a and/or b */
    int64_t scratch_per;
    ltx_threadpool *tile_pool; /* set: each product tiled over this pool */
} mm_job;

static void gather_mat(float *dst, const float *src, int64_t rows, int64_t cols, int64_t rs,
                       int64_t cs)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            dst[r * cols + c] = src[r * rs + c * cs];
}

static void mm_batches(void *ctx, int64_t begin, int64_t end, int worker)
{
    mm_job *j = ctx;
    float *sa = j->scratch ? j->scratch + (size_t)worker * (size_t)j->scratch_per : NULL;
    float *sb = sa && j->la.copy ? sa + j->ar * j->ac : sa;
    for (int64_t bi = begin; bi < end; bi++) {
        int64_t oa = 0, ob = 0, rem = bi;
        for (int d = j->nb_dims - 1; d >= 0; d--) {
            int64_t i = rem % j->bshape[d];
            rem /= j->bshape[d];
            oa += i * j->sa[d];
            ob += i * j->sb[d];
        }
        const float *pa = j->a + oa, *pb = j->b + ob;
        if (j->la.copy) {
            gather_mat(sa, pa, j->ar, j->ac, j->ars, j->acs);
            pa = sa;
        }
        if (j->lb.copy) {
            gather_mat(sb, pb, j->br, j->bc, j->brs, j->bcs);
            pb = sb;
        }
        gemm_args g = {j->la.trans, j->lb.trans, j->M, j->N,     j->K,     j->alpha,
                       0.0f,        pa,          pb,   j->la.ld, j->lb.ld, j->c + bi * j->M * j->N,
                       j->N};
        if (j->tile_pool)
            gemm_tiled(j->tile_pool, &g);
        else
            gemm_block(&g, 0, j->M, 0, j->N);
    }
}

/* Fills the broadcast batch strides of t (batch dims right-aligned to c's nb dims). */
static bool batch_strides(const ltx_tensor *t, const ltx_tensor *c, int nb, int64_t *st)
{
    int tb = t->ndim - 2;
    if (tb > nb) return false;
    for (int d = 0; d < nb; d++) {
        int td = d - (nb - tb);
        if (td < 0 || t->shape[td] == 1) {
            st[d] = 0;
        } else {
            if (t->shape[td] != c->shape[d]) return false;
            st[d] = t->stride[td];
        }
    }
    return true;
}

/* ltx_backend_ops.matmul. Writes all of c (zeros when K = 0); a and b are read through their
 * strides, operands BLAS cannot take in place are copied per product into per-worker scratch. */
static ltx_status matmul_f32(ltx_backend *be, ltx_tensor *c, const ltx_tensor *a,
                             const ltx_tensor *b, bool trans_a, bool trans_b, float alpha)
{
    char s1[96], s2[96], s3[96];
    if (a->dtype != LTX_F32 || b->dtype != LTX_F32 || c->dtype != LTX_F32)
        return ltx_err(LTX_ERR_INVALID_ARG, "matmul: a, b, c must be F32 (%s, %s, %s)",
                       ltx_dtype_name(a->dtype), ltx_dtype_name(b->dtype),
                       ltx_dtype_name(c->dtype));
    if (!ltx_tensor_is_contiguous(c))
        return ltx_err(LTX_ERR_INVALID_ARG, "matmul: output must be contiguous");
    mm_job j = {.a = cpu_ptr(a), .b = cpu_ptr(b), .c = cpu_ptr(c), .alpha = alpha};
    bool ok = a->ndim >= 2 && b->ndim >= 2 && c->ndim >= 2;
    if (ok) {
        int la = a->ndim, lb = b->ndim, lc = c->ndim;
        j.ar = a->shape[la - 2], j.ac = a->shape[la - 1];
        j.ars = a->stride[la - 2], j.acs = a->stride[la - 1];
        j.br = b->shape[lb - 2], j.bc = b->shape[lb - 1];
        j.brs = b->stride[lb - 2], j.bcs = b->stride[lb - 1];
        j.M = c->shape[lc - 2], j.N = c->shape[lc - 1];
        j.K = trans_a ? j.ar : j.ac;
        ok = (trans_a ? j.ac : j.ar) == j.M && (trans_b ? j.bc : j.br) == j.K &&
             (trans_b ? j.br : j.bc) == j.N;
        j.nb_dims = lc - 2;
        for (int d = 0; d < j.nb_dims; d++)
            j.bshape[d] = c->shape[d];
        ok = ok && batch_strides(a, c, j.nb_dims, j.sa) && batch_strides(b, c, j.nb_dims, j.sb);
    }
    if (!ok)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "matmul: a %s%s @ b %s%s does not give c %s (batch dims broadcast)",
                       ltx_tensor_shape_str(a, s1, sizeof s1), trans_a ? "^T" : "",
                       ltx_tensor_shape_str(b, s2, sizeof s2), trans_b ? "^T" : "",
                       ltx_tensor_shape_str(c, s3, sizeof s3));
    int64_t nbatch = 1;
    for (int d = 0; d < j.nb_dims; d++)
        nbatch *= j.bshape[d];
    if (nbatch == 0 || j.M == 0 || j.N == 0) return LTX_OK;
    if (j.K == 0) {
        memset(j.c, 0, (size_t)(nbatch * j.M * j.N) * sizeof(float));
        return LTX_OK;
    }
    j.la = blas_layout(j.ar, j.ac, j.ars, j.acs, trans_a);
    j.lb = blas_layout(j.br, j.bc, j.brs, j.bcs, trans_b);

    /* Many small products: whole products shared out among the workers; else each product is
     * tiled over the pool. OpenBLAS single-threaded either way (see file comment). */
    int nw = ltx_threadpool_size(be->pool);
    double flops = 2.0 * (double)j.M * (double)j.N * (double)j.K;
    bool by_batch = nw > 1 && nbatch >= 2 * nw && flops < 5e7;
    int ws = by_batch ? nw : 1;
    j.scratch_per = (j.la.copy ? j.ar * j.ac : 0) + (j.lb.copy ? j.br * j.bc : 0);
    if (j.scratch_per) {
        j.scratch = malloc((size_t)ws * (size_t)j.scratch_per * sizeof(float));
        if (!j.scratch) return ltx_err(LTX_ERR_OOM, "matmul: no memory for operand copies");
    }
    int saved = nw > 1 ? blas_single_begin() : 1;
    if (by_batch) {
        ltx_threadpool_for(be->pool, nbatch, 1, mm_batches, &j);
    } else {
        j.tile_pool = be->pool;
        mm_batches(&j, 0, nbatch, 0);
    }
    if (nw > 1) blas_single_end(saved);
    free(j.scratch);
    return LTX_OK;
}

/* ltx_backend_ops.matmul: in bf16 precision a and b are rounded to bf16 first (f32 sums). */
ltx_status ltx_cpu_matmul(ltx_backend *be, ltx_tensor *c, const ltx_tensor *a, const ltx_tensor *b,
                          bool trans_a, bool trans_b, float alpha)
{
    if (!ltx_cpu_gemm_bf16(be) || a->dtype != LTX_F32 || b->dtype != LTX_F32)
        return matmul_f32(be, c, a, b, trans_a, trans_b, alpha);
    const ltx_tensor *ar, *br;
    ltx_tensor *ta = NULL, *tb = NULL;
    ltx_status s = ltx_cpu_round_bf16_input(be, a, &ar, &ta);
    if (s == LTX_OK) s = ltx_cpu_round_bf16_input(be, b, &br, &tb);
    if (s == LTX_OK) s = matmul_f32(be, c, ar, br, trans_a, trans_b, alpha);
    ltx_tensor_free(ta);
    ltx_tensor_free(tb);
    return s;
}
