/*
 * cpu_internal.h — shared internals of the CPU backends ("cpu" and "cpu-restricted").
 *
 * Both flavours run the same kernels on host memory; they differ in capabilities (restricted:
 * no f64/complex/autocast, memory not host-visible to callers). Kernels reach data through
 * cpu_ptr(), which is legal only inside src/backend/cpu/.
 * Files: cpu_backend.c (table, memory), cpu_elementwise.c (copy, fill, unary, binary, axpby),
 * cpu_reduce.c (reduce, pad), cpu_iter.h/.c (strided/broadcast iterator, work splitting),
 * cpu_linalg.c (linear, matmul), cpu_attention.c (softmax, attention),
 * cpu_norm.c (norm, rope, snake), cpu_conv.c (conv, interpolate), cpu_stream.c (streams,
 * events, pinned staging, async copies), cpu_supports.c (supports query), cpu_fused.c (fused
 * ops: norm_modulate, gated_add, linear_act, qk_norm_rope).
 */
#ifndef LTX_CPU_INTERNAL_H
#define LTX_CPU_INTERNAL_H

#include "backend/alloc_cache.h"
#include "backend/backend.h"
#include "core/threadpool.h"

#include <pthread.h>

typedef struct cpu_state {
    bool restricted;
    ltx_alloc_cache *cache;      /* buffer_alloc/free (src/backend/alloc_cache.c) */
    pthread_mutex_t stream_lock; /* guards `streams` */
    ltx_stream *streams;         /* created copy streams (cpu_stream.c), for synchronize */
} cpu_state;

/* Host address of element [0,...,0] of t (offset applied). */
static inline void *cpu_ptr(const ltx_tensor *t)
{
    return (char *)t->buf->handle + ltx_dtype_bytes(t->dtype, t->offset);
}

/* ops (signatures as in ltx_backend_ops) */
ltx_status ltx_cpu_copy(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src);
ltx_status ltx_cpu_fill(ltx_backend *be, ltx_tensor *dst, double value);
ltx_status ltx_cpu_unary(ltx_backend *be, ltx_unary_op op, ltx_tensor *dst, const ltx_tensor *a,
                         double p0, double p1);
ltx_status ltx_cpu_binary(ltx_backend *be, ltx_binary_op op, ltx_tensor *dst, const ltx_tensor *a,
                          const ltx_tensor *b);
ltx_status ltx_cpu_axpby(ltx_backend *be, ltx_tensor *dst, double a, const ltx_tensor *x, double b,
                         const ltx_tensor *y);
ltx_status ltx_cpu_linear(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x, const ltx_tensor *w,
                          const ltx_tensor *bias, float w_scale);
ltx_status ltx_cpu_matmul(ltx_backend *be, ltx_tensor *c, const ltx_tensor *a, const ltx_tensor *b,
                          bool trans_a, bool trans_b, float alpha);
ltx_status ltx_cpu_softmax(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src);
ltx_status ltx_cpu_norm(ltx_backend *be, ltx_norm_op op, ltx_tensor *dst, const ltx_tensor *x,
                        const ltx_tensor *w, const ltx_tensor *b, int groups, float eps);
ltx_status ltx_cpu_attention(ltx_backend *be, ltx_tensor *o, const ltx_tensor *q,
                             const ltx_tensor *k, const ltx_tensor *v, const ltx_tensor *mask,
                             float scale);
/* The bf16 attention's softmax step at the active ISA level (exposed for tests): p[j] =
 * bf16(exp(s[j] - m)) for j < n; returns the f32 sum of the unrounded exponentials. */
float ltx_cpu_exp_row_bf16(const float *s, int64_t n, float m, uint16_t *p);
ltx_status ltx_cpu_rope(ltx_backend *be, ltx_rope_mode mode, ltx_tensor *dst, const ltx_tensor *x,
                        const ltx_tensor *cos, const ltx_tensor *sin);
ltx_status ltx_cpu_conv(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x, const ltx_tensor *w,
                        const ltx_tensor *bias, const ltx_conv_params *p);
ltx_status ltx_cpu_pad(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src, const int *pads,
                       ltx_pad_mode mode, double value);
ltx_status ltx_cpu_reduce(ltx_backend *be, ltx_reduce_op op, ltx_tensor *dst, const ltx_tensor *src,
                          int dim);
ltx_status ltx_cpu_interpolate(ltx_backend *be, ltx_interp_mode mode, ltx_tensor *dst,
                               const ltx_tensor *src, bool align_corners);
ltx_status ltx_cpu_snake(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *x,
                         const ltx_tensor *alpha, const ltx_tensor *beta, bool log_scale);

/* fused ops (cpu_norm.c: norm_modulate; cpu_fused.c: the rest) and the supports query */
ltx_status ltx_cpu_norm_modulate(ltx_backend *be, ltx_norm_op op, ltx_tensor *dst,
                                 const ltx_tensor *x, const ltx_tensor *scale,
                                 const ltx_tensor *shift, float eps);
ltx_status ltx_cpu_gated_add(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *x,
                             const ltx_tensor *y, const ltx_tensor *gate);
ltx_status ltx_cpu_linear_act(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x,
                              const ltx_tensor *w, const ltx_tensor *bias, float w_scale,
                              ltx_unary_op act);
ltx_status ltx_cpu_qk_norm_rope(ltx_backend *be, ltx_rope_mode mode, ltx_tensor *dst,
                                const ltx_tensor *x, const ltx_tensor *w, float eps, int heads,
                                const ltx_tensor *cos, const ltx_tensor *sin);
bool ltx_cpu_supports(ltx_backend *be, const ltx_op_query *q);

/* streams, events, transfers (cpu_stream.c) */
ltx_status ltx_cpu_synchronize(ltx_backend *be);
ltx_status ltx_cpu_stream_create(ltx_backend *be, ltx_stream **out);
void ltx_cpu_stream_destroy(ltx_backend *be, ltx_stream *s);
ltx_status ltx_cpu_event_create(ltx_backend *be, ltx_event **out);
void ltx_cpu_event_destroy(ltx_backend *be, ltx_event *e);
ltx_status ltx_cpu_event_record(ltx_backend *be, ltx_event *e, ltx_stream *s);
ltx_status ltx_cpu_stream_wait_event(ltx_backend *be, ltx_stream *s, ltx_event *e);
ltx_status ltx_cpu_event_synchronize(ltx_backend *be, ltx_event *e);
ltx_status ltx_cpu_stream_synchronize(ltx_backend *be, ltx_stream *s);
ltx_status ltx_cpu_host_alloc_pinned(ltx_backend *be, size_t bytes, void **out);
void ltx_cpu_host_free_pinned(ltx_backend *be, void *p);
ltx_status ltx_cpu_upload_async(ltx_backend *be, void *handle, size_t offset, const void *src,
                                size_t bytes, ltx_stream *s);
ltx_status ltx_cpu_download_async(ltx_backend *be, const void *handle, size_t offset, void *dst,
                                  size_t bytes, ltx_stream *s);

/* Precision (cpu_linalg.c): true when GEMM/attention inputs are rounded to bf16; and a bf16-
 * rounded f32 copy of t in *tmp (*out = t itself, *tmp NULL, in f32 precision). */
bool ltx_cpu_gemm_bf16(const ltx_backend *be);
ltx_status ltx_cpu_round_bf16_input(ltx_backend *be, const ltx_tensor *t, const ltx_tensor **out,
                                    ltx_tensor **tmp);

/* Checks that the device may hold/compute `dt` (restricted: no f64). */
ltx_status ltx_cpu_check_dtype(ltx_backend *be, ltx_dtype dt, const char *op);

#endif
