/*
 * cpu_internal.h — shared internals of the CPU backends ("cpu" and "cpu-restricted").
 *
 * Both flavours run the same kernels on host memory; they differ in capabilities (restricted:
 * no f64/complex/autocast, memory not host-visible to callers). Kernels reach data through
 * cpu_ptr(), which is legal only inside src/backend/cpu/.
 * Files: cpu_backend.c (table, memory), cpu_elementwise.c (copy, fill, unary, binary, axpby),
 * cpu_reduce.c (reduce, pad), cpu_iter.h/.c (strided/broadcast iterator, work splitting),
 * cpu_linalg.c (linear, matmul), cpu_attention.c (softmax, attention),
 * cpu_norm.c (norm, rope, snake), cpu_conv.c (conv, interpolate).
 */
#ifndef LTX_CPU_INTERNAL_H
#define LTX_CPU_INTERNAL_H

#include "backend/backend.h"
#include "core/threadpool.h"

#include <pthread.h>

/* Freed large blocks kept for reuse (cf. PyTorch's caching allocator): re-faulting hundreds of
 * MB of fresh pages per transformer block cost ~20% of its time. */
#define CPU_CACHE_SLOTS 64
typedef struct cpu_cached_block {
    void *ptr;
    size_t size; /* rounded allocation size */
} cpu_cached_block;

typedef struct cpu_state {
    bool restricted;
    pthread_mutex_t cache_lock;
    cpu_cached_block cache[CPU_CACHE_SLOTS];
    int n_cached;
    size_t cached_bytes;
    size_t cache_limit; /* bytes kept at most; LTX_CPU_CACHE_MB overrides, 0 disables */
} cpu_state;

/* Host address of element [0,...,0] of t (offset applied). */
static inline void *cpu_ptr(const ltx_tensor *t)
{
    return (char *)t->buf->handle + ltx_dtype_bytes(t->dtype, t->offset);
}

/* ops (signatures as in ltx_backend_ops) */
ltx_status cpu_copy(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src);
ltx_status cpu_fill(ltx_backend *be, ltx_tensor *dst, double value);
ltx_status cpu_unary(ltx_backend *be, ltx_unary_op op, ltx_tensor *dst, const ltx_tensor *a,
                     double p0, double p1);
ltx_status cpu_binary(ltx_backend *be, ltx_binary_op op, ltx_tensor *dst, const ltx_tensor *a,
                      const ltx_tensor *b);
ltx_status cpu_axpby(ltx_backend *be, ltx_tensor *dst, double a, const ltx_tensor *x, double b,
                     const ltx_tensor *y);
ltx_status cpu_linear(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x, const ltx_tensor *w,
                      const ltx_tensor *bias, float w_scale);
ltx_status cpu_matmul(ltx_backend *be, ltx_tensor *c, const ltx_tensor *a, const ltx_tensor *b,
                      bool trans_a, bool trans_b, float alpha);
ltx_status cpu_softmax(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src);
ltx_status cpu_norm(ltx_backend *be, ltx_norm_op op, ltx_tensor *dst, const ltx_tensor *x,
                    const ltx_tensor *w, const ltx_tensor *b, int groups, float eps);
ltx_status cpu_attention(ltx_backend *be, ltx_tensor *o, const ltx_tensor *q,
                         const ltx_tensor *k, const ltx_tensor *v, const ltx_tensor *mask,
                         float scale);
ltx_status cpu_rope(ltx_backend *be, ltx_rope_mode mode, ltx_tensor *dst, const ltx_tensor *x,
                    const ltx_tensor *cos, const ltx_tensor *sin);
ltx_status cpu_conv(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x, const ltx_tensor *w,
                    const ltx_tensor *bias, const ltx_conv_params *p);
ltx_status cpu_pad(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src, const int *pads,
                   ltx_pad_mode mode, double value);
ltx_status cpu_reduce(ltx_backend *be, ltx_reduce_op op, ltx_tensor *dst, const ltx_tensor *src,
                      int dim);
ltx_status cpu_interpolate(ltx_backend *be, ltx_interp_mode mode, ltx_tensor *dst,
                           const ltx_tensor *src, bool align_corners);
ltx_status cpu_snake(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *x,
                     const ltx_tensor *alpha, const ltx_tensor *beta, bool log_scale);

/* Checks that the device may hold/compute `dt` (restricted: no f64). */
ltx_status cpu_check_dtype(ltx_backend *be, ltx_dtype dt, const char *op);

#endif
