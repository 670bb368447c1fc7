/*
 * cpu_gemm.h — the CPU backend's own GEMM kernels (behind run-time ISA dispatch, cpu_isa.h):
 * bf16 x bf16 -> f32 (cpu_gemm_bf16.c) for `linear` at LTX_PRECISION_BF16.
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
    const char *base; /* element [0, 0] */
    ltx_dtype dt;     /* F32, BF16, F16, F8_E4M3, F8_E5M2 */
    int64_t rs, cs;   /* element strides of rows / columns */
    float scale;      /* multiplies every element (1: none) */
    const float *lut; /* fp8: 256 entries with the scale folded in; NULL otherwise */
    ltx_to_float_fn deq; /* block-quantized: the type's dequantizer (unit column stride) */
} cpu_wsource;

/* dst (n1 - n0, k1 - k0) contiguous f32 = w[n0:n1, k0:k1] * scale (exact widening, one f32
 * product by the scale as cpu_linear always did). */
void cpu_widen_rows(float *dst, const cpu_wsource *w, int64_t n0, int64_t n1, int64_t k0,
                    int64_t k1);

/* C (M, N), row stride ldc, = [C +] bf16(A) @ bf16(W)^T with f32 accumulation, where A is f32
 * (M, K) with row stride lda and unit column stride, and bf16(.) rounds to nearest even (W: its
 * widened, scaled f32 value). accumulate: add to C (e.g. C preset to the bias) instead of
 * overwriting it. Kernel level: cpu_isa_active(). Work is spread over `pool` (NULL: serial).
 * Allocates per call: M x K bf16 for A and one packed W panel (<= 512 KiB) per worker; returns
 * LTX_ERR_OOM (C untouched) if that fails. */
ltx_status cpu_gemm_bf16(ltx_threadpool *pool, int64_t M, int64_t N, int64_t K, const float *A,
                         int64_t lda, const cpu_wsource *w, float *C, int64_t ldc,
                         bool accumulate);

#endif
