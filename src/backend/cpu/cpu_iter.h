/*
 * cpu_iter.h — the CPU kernels' N-d strided/broadcast iterator and threaded segment runner.
 *
 * An iterator walks up to CPU_ITER_MAX_OPS operands over one index space (the shape of operand
 * 0, normally the destination). Every operand is described by element strides aligned to that
 * shape (numpy broadcasting: missing leading dims and size-1 dims get stride 0). Dims of size 1
 * are dropped and adjacent dims that are contiguous for *all* operands are merged, so the common
 * cases (same-shape contiguous tensors, a bias broadcast over rows) collapse to one or two dims.
 *
 * ltx_cpu_iter_run() cuts the index space into "segments" — pieces of the innermost dim — and calls
 * fn(ctx, off, n, inner) on the backend's thread pool; off[k] is operand k's element offset at
 * the segment start, inner[k] its stride along the segment. Segments never overlap in operand 0,
 * so kernels may write operand 0 without locks. Used by cpu_elementwise.c and cpu_norm.c.
 */
#ifndef LTX_CPU_ITER_H
#define LTX_CPU_ITER_H

#include "backend/cpu/cpu_internal.h"

#define CPU_ITER_MAX_OPS 4

typedef struct cpu_iter {
    int nops;
    int ndim; /* >= 1 after coalescing */
    int64_t shape[LTX_MAX_DIMS];
    int64_t stride[CPU_ITER_MAX_OPS][LTX_MAX_DIMS];
    int64_t rows;  /* product of shape[0 .. ndim-2] */
    int64_t inner; /* shape[ndim-1] */
} cpu_iter;

/* Sets up an iterator over `shape` (rank ndim) for nops tensors. Tensor k's shape must
 * broadcast to `shape` (right-aligned). Operand 0 must not be broadcast (no stride-0 dim of
 * size > 1) when `write0` is set. Returns LTX_ERR_INVALID_ARG with a message naming `op`. */
ltx_status ltx_cpu_iter_init(cpu_iter *it, int ndim, const int64_t *shape, int nops,
                             const ltx_tensor *const *ts, bool write0, const char *op);

/* Same, but operand strides are given directly (stride[k][d] for dim d of `shape`). */
void ltx_cpu_iter_init_strides(cpu_iter *it, int ndim, const int64_t *shape, int nops,
                               const int64_t (*stride)[LTX_MAX_DIMS]);

typedef void (*cpu_seg_fn)(void *ctx, const int64_t *off, int64_t n, const int64_t *inner,
                           int worker);

/* Runs fn over all segments, on be->pool when the work is large (serial when be->pool is
 * NULL or the tensor is small). `cost` is a rough per-element cost factor (1 = a copy). */
void ltx_cpu_iter_run(ltx_backend *be, const cpu_iter *it, int cost, cpu_seg_fn fn, void *ctx);

/* Parallel for over [0, n) with a grain chosen from `work_per_item` (elements of work per
 * item): serial when the total is small. */
void ltx_cpu_parallel(ltx_backend *be, int64_t n, int64_t work_per_item, ltx_parallel_fn fn,
                      void *ctx);

#endif
