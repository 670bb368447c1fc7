/*
 * cpu_gemm.h — the CPU backend's own GEMM kernels (behind run-time ISA dispatch, cpu_isa.h):
 * bf16 x bf16 -> f32 (cpu_gemm_bf16.c) and block-quantized weights x int8 activations
 * (cpu_gemm_quant.c), both for `linear` at LTX_PRECISION_BF16.
 * Internal to src/backend/cpu/ (and the tests/benches that exercise the kernels directly).
 */
#ifndef LTX_CPU_GEMM_H
#define LTX_CPU_GEMM_H

#include "backend/cpu/cpu_isa.h"
#include "core/dtype.h"
#include "core/threadpool.h"

#include <stdbool.h>
#include <stdint.h>

/* Where the rows of a weight-like matrix W (N, K) come from and how they widen to f32. */
typedef struct cpu_wsource {
    const char *base;    /* element [0, 0] */
    ltx_dtype dt;        /* F32, BF16, F16, F8_E4M3, F8_E5M2 */
    int64_t rs, cs;      /* element strides of rows / columns */
    float scale;         /* multiplies every element (1: none) */
    const float *lut;    /* fp8: 256 entries with the scale folded in; NULL otherwise */
    ltx_to_float_fn deq; /* block-quantized: the type's dequantizer (unit column stride) */
} cpu_wsource;

/* dst (n1 - n0, k1 - k0) contiguous f32 = w[n0:n1, k0:k1] * scale (exact widening, one f32
 * product by the scale as ltx_cpu_linear always did). */
void ltx_cpu_widen_rows(float *dst, const cpu_wsource *w, int64_t n0, int64_t n1, int64_t k0,
                        int64_t k1);

/* C (M, N), row stride ldc, = [C +] bf16(A) @ bf16(W)^T with f32 accumulation, where A is f32
 * (M, K) with row stride lda and unit column stride, and bf16(.) rounds to nearest even (W: its
 * widened, scaled f32 value). accumulate: add to C (e.g. C preset to the bias) instead of
 * overwriting it. Kernel level: ltx_cpu_isa_active(). Work is spread over `pool` (NULL: serial).
 * Allocates per call: M x K bf16 for A and one packed W panel (<= 512 KiB) per worker; returns
 * LTX_ERR_OOM (C untouched) if that fails. */
ltx_status ltx_cpu_bf16_gemm(ltx_threadpool *pool, int64_t M, int64_t N, int64_t K, const float *A,
                             int64_t lda, const cpu_wsource *w, float *C, int64_t ldc,
                             bool accumulate);
/* The same with C = bias + bf16(A) @ bf16(W)^T (bias: N f32 values, NULL = none): bit for bit
 * ltx_cpu_bf16_gemm on C preset to the bias (accumulate), without the separate pass over C — each
 * output tile is set to the bias just before its first k block. */
ltx_status ltx_cpu_bf16_gemm_bias(ltx_threadpool *pool, int64_t M, int64_t N, int64_t K,
                                  const float *A, int64_t lda, const cpu_wsource *w,
                                  const float *bias, float *C, int64_t ldc);

/* C (M, N) = alpha op(A) op(B) + beta C, row-major f32 sgemm under the CPU backend's threading
 * rule: with a pool of >= 2 threads OpenBLAS runs single-threaded (the backend sets it so at
 * creation) and the product is cut into one tile per worker; without a pool, one call on
 * OpenBLAS's threads. Same arguments as cblas_sgemm (ta/tb: transpose A/B). */
/* Packed-operand pieces of the bf16 GEMM for callers with their own blocking (attention),
 * single-threaded, at the active ISA level. Operands: A16 = bf16 rows from ltx_cpu_bf16_round_rows
 * (ltx_cpu_bf16_rows_pad(M) rows of 2 * ceil(K / 2) values, zero padded); Bp = packed panels
 * (ltx_cpu_bf16_panel_words(N, K) words) from ltx_cpu_bf16_pack_nk (B given as N rows of K, row
 * stride lds, i.e. C = A B^T) or ltx_cpu_bf16_pack_kn (B given as K rows of N, C = A B).
 * rowbuf scratch: pack_nk 16 * ceil(K / 2) words, pack_kn 2 * (N rounded up to 64) halves. */
int64_t ltx_cpu_bf16_rows_pad(int64_t M);
int64_t ltx_cpu_bf16_panel_words(int64_t N, int64_t K);
void ltx_cpu_bf16_round_rows(uint16_t *dst, const float *src, int64_t M, int64_t K, int64_t lds);
void ltx_cpu_bf16_pack_nk(uint32_t *dst, const float *src, int64_t N, int64_t K, int64_t lds,
                          uint32_t *rowbuf);
void ltx_cpu_bf16_pack_kn(uint32_t *dst, const float *src, int64_t K, int64_t N, int64_t lds,
                          uint16_t *rowbuf);
/* Rows k0..k1 (k0 even; src = row k0, row stride lds) of a K x N operand into its pack_kn panels
 * (dst = the whole operand's panels); slices of one operand may be packed concurrently. */
void ltx_cpu_bf16_pack_kn_slice(uint32_t *dst, const float *src, int64_t lds, int64_t k0,
                                int64_t k1, int64_t K, int64_t N, uint16_t *rowbuf);
/* M rows of K values (row stride lds) rounded into dst (row stride ldd halves >= K + (K & 1));
 * an odd K gets a zero in the pair's second half. No padding rows (unlike round_rows). */
void ltx_cpu_bf16_round_block(uint16_t *dst, int64_t ldd, const float *src, int64_t lds, int64_t M,
                              int64_t K);
/* C (M, N) [+]= alpha * (A16 @ B) for operands packed as above (K the unpacked length; alpha
 * one f32 product on each finished f32 sum, none when 1). bstride: words between B's 64-column
 * panels (<= 0: packed for exactly this K; larger when Bp is a slice of pairs out of panels
 * packed for a longer K). */
void ltx_cpu_bf16_gemm_packed(int64_t M, int64_t N, int64_t K, const uint16_t *A16,
                              const uint32_t *Bp, int64_t bstride, float *C, int64_t ldc,
                              bool accumulate, float alpha);
/* The same product over the pool (alpha 1): A16 from ltx_cpu_bf16_round_rows (rows padded to
 * ltx_cpu_bf16_rows_pad(M)), Bp = the whole K x N operand's pack_kn panels. Tasks are blocks of
 * up to 512 columns x row chunks (>= 2 per worker where the rows allow), k in blocks of 512 so
 * a block of B stays in L2 while each 6-row strip of A runs over it. Convolution's route in
 * bf16 precision (cpu_conv.c: A16 = the weights, rounded once per call; B = an im2col tile). */
void ltx_cpu_bf16_gemm_a16(ltx_threadpool *pool, int64_t M, int64_t N, int64_t K,
                           const uint16_t *A16, const uint32_t *Bp, float *C, int64_t ldc,
                           bool accumulate);

/* openblas_set_num_threads(1) (process-wide; called by the CPU backend when it has a pool). */
void ltx_cpu_blas_single_threaded(void);

void ltx_cpu_sgemm(ltx_threadpool *pool, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                   float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                   float beta, float *C, int64_t ldc);

/* Activations quantized for one weight type (cpu_gemm_quant.c): codes qs (M, K) int8 and,
 * for block 32 (Q8_0/Q4_0), per element-lane d (dvec) and integer start values (init), each
 * K / 4 per row (8 lanes per block of 32), and the same per block (bd, binit: K / 32 per row;
 * binit = 8 x init, the whole block's offset term; bdsx = d x the block's code sum, for the
 * K-quants' min term on the panels); for block 256 (K-quants' register tiles), d per
 * super-block (dsb, K / 256 per row) and d * (sum of codes per group of 16 or 32) (xs,
 * K / group per row). */
typedef struct cpu_qact {
    int64_t M, K;
    int block, group, init_mul;
    const float *src; /* only while quantizing */
    int64_t lda;
    int8_t *qs;
    float *dvec;
    int32_t *init;
    float *bd;
    int32_t *binit;
    float *bdsx;
    float *dsb, *xs;
} cpu_qact;

/* One quantized product: C (M, N) = [C +] [bias +] scale * (act @ W^T), W rows of wrb bytes
 * (bias: N values each output starts from, as C preset to them; NULL: none; with accumulate
 * it is ignored). */
typedef struct cpu_qgemm {
    const cpu_qact *act;
    int64_t M, N;
    ltx_dtype wt;
    const void *W;
    int64_t wrb;
    float scale;
    float *C;
    int64_t ldc;
    bool accumulate;
    const float *bias;
} cpu_qgemm;

/* True when ltx_cpu_gemm_quant has kernels for weight type wt at row length K (Q8_0, Q4_0: K a
 * multiple of 32; Q4_K, Q5_K, Q6_K: of 256). */
bool ltx_cpu_gemm_quant_supports(ltx_dtype wt, int64_t K);
/* Quantizes A (M, K), row stride lda, for weight type wt into a (allocated here; release with
 * ltx_cpu_qact_free, which accepts a zeroed or freed a). LTX_ERR_OOM leaves a empty. */
ltx_status ltx_cpu_qact_quantize(ltx_threadpool *pool, ltx_dtype wt, int64_t M, int64_t K,
                                 const float *A, int64_t lda, cpu_qact *a);
/* The same for block 32 without the lane-form dvec / init (left NULL): only the packed panels
 * can run on the result, and they read the per-block arrays (2 x M x K bytes fewer to allocate,
 * fault in and write: ~15 % of a Q8_0 product at 6144 rows). */
ltx_status ltx_cpu_qact_quantize_blocks(ltx_threadpool *pool, ltx_dtype wt, int64_t M, int64_t K,
                                        const float *A, int64_t lda, cpu_qact *a);
void ltx_cpu_qact_free(cpu_qact *a);
/* The task split the CPU GEMMs share. Column blocks: ceil(N / 2 nw) columns rounded up to a
 * multiple of unit, at most max, so there are 2 per worker where N allows. */
static inline int64_t ltx_cpu_gemm_col_block(int64_t N, int nw, int64_t unit, int64_t max)
{
    int64_t nc = (N + 2 * nw - 1) / (2 * nw);
    nc = (nc + unit - 1) / unit * unit;
    return nc > max ? max : nc;
}
/* Rows per task (a multiple of unit): all M, or, with fewer than 2 column blocks (n_nblk) per
 * worker, M cut into enough chunks for 2 tasks per worker (at most one per unit rows). */
static inline int64_t ltx_cpu_gemm_row_chunk(int64_t M, int64_t n_nblk, int nw, int64_t unit)
{
    int64_t strips = (M + unit - 1) / unit, chunks = 1;
    if (n_nblk < 2 * nw) chunks = (2 * nw + n_nblk - 1) / n_nblk;
    if (chunks > strips) chunks = strips;
    return (strips + chunks - 1) / chunks * unit;
}
/* Runs g at the active ISA level over pool (NULL: serial): more than INT8_PANEL_MIN_ROWS rows
 * of Q8_0 / Q4_0 on AVX-512 VNNI go to the packed panels of cpu_gemm_int8.c, the rest to the
 * register tiles of cpu_gemm_quant.c; K-quant weights against block-32 activations only run
 * on the panels (LTX_ERR_INVALID_ARG elsewhere). */
#define INT8_PANEL_MIN_ROWS                                                                        \
    16                        /* tiles up to here: below it the panels' packing dominates          \
                               * (bench/cpu_gemm BENCH_ROWS=1,2,4,8,12,16,24,32,64: the panels win \
                               * from 12-16 rows, e.g. q8_0 at 32 rows 280 vs 162 GFLOP/s) */
#define INT8_TILE_MAX_ROWS 64 /* default LTX_CPU_INT8_MAX_ROWS: int8 for every type up to here */
ltx_status ltx_cpu_gemm_quant_run(ltx_threadpool *pool, const cpu_qgemm *g);
/* True when the packed-panel kernel takes g: Q8_0 / Q4_0 / Q4_K / Q5_K weights against
 * activations quantized per 32 (block 32: for the K-quants quantize them as for Q8_0), AVX-512
 * VNNI active. */
bool ltx_cpu_gemm_int8_panels_supports(const cpu_qgemm *g);
/* Weight types the panels take: Q8_0, Q4_0, Q4_K, Q5_K. */
bool ltx_cpu_gemm_int8_panel_type(ltx_dtype wt);
/* g on the packed panels of cpu_gemm_int8.c (needs ltx_cpu_gemm_int8_panels_supports(g));
 * allocates one ~512 KiB panel per worker (LTX_ERR_OOM, C untouched, if that fails). */
ltx_status ltx_cpu_gemm_int8_panels(ltx_threadpool *pool, const cpu_qgemm *g);
/* True when `linear` at LTX_PRECISION_BF16 should run weight type wt on M rows of K on the
 * int8 kernels (else: dequantized bf16 panels on the bf16 GEMM): up to LTX_CPU_INT8_MAX_ROWS
 * rows (default 64) on any level, and any M for Q8_0 / Q4_0 / Q4_K / Q5_K on AVX-512 VNNI
 * (the panels). */
bool ltx_cpu_gemm_quant_route(ltx_dtype wt, int64_t M, int64_t K);
/* C (M, N), row stride ldc, = [C +] [bias +] scale * (q8(A) @ W^T) with W (N, K) of block-quantized
 * type wt (rows of wrb bytes) and A f32 (M, K) quantized per call as described at the top of
 * cpu_gemm_quant.c. Returns LTX_ERR_INVALID_ARG when !ltx_cpu_gemm_quant_supports(wt, K). */
ltx_status ltx_cpu_gemm_quant(ltx_threadpool *pool, int64_t M, int64_t N, int64_t K, const float *A,
                              int64_t lda, ltx_dtype wt, const void *W, int64_t wrb, float scale,
                              const float *bias, float *C, int64_t ldc, bool accumulate);

#endif
