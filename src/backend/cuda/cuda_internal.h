/*
 * cuda_internal.h — shared internals of the CUDA backend's host code.
 *
 * Files: cuda_backend.c (device init, table, memory through the caching allocator, streams,
 * events, pinned staging, supports()), cuda_ops.c (validation + lowering of the elementwise,
 * norm, softmax, rope, snake, reduce, pad, interpolate and fused ops to kernels/ launchers),
 * cuda_gemm.c (linear, matmul, linear_act on cuBLASLt; attention and conv, which lean on it),
 * kernels/<family>.cu (the device code, behind cuda_kernels.h).
 *
 * Every device pointer comes from a tensor through cu_ptr(); host code never dereferences it.
 * All ops run on the compute stream (st->compute); the copy stream and user streams see only
 * transfers. Scratch is taken from the caching allocator and given back right after the
 * launches that use it are enqueued: the cache reuses a block only for work enqueued later on
 * the compute stream, and transfers on other streams first wait on st->free_ev (recorded on
 * the compute stream at every free), so no copy can overwrite memory a queued kernel still
 * reads.
 */
#ifndef LTX_CUDA_INTERNAL_H
#define LTX_CUDA_INTERNAL_H

#include "backend/alloc_cache.h"
#include "backend/backend.h"
#include "backend/cuda/cuda_kernels.h"

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#define CU_GEMM_CACHE 64 /* remembered cuBLASLt heuristics (shape/type keys) */

typedef struct cu_gemm_key {
    int m, n, k, batch;
    int64_t lda, ldb, ldc, sa, sb, sc;
    int ta, tb, atype, btype, ctype, ctype_compute, epilogue, beta1;
    uint32_t align[4]; /* A, B, C/D, bias pointer alignment (bytes, <= 256) */
} cu_gemm_key;

typedef struct cu_gemm_entry {
    cu_gemm_key key;
    cublasLtMatmulAlgo_t algo;
    int valid; /* 1 found, -1 no algorithm for this key */
} cu_gemm_entry;

struct ltx_stream {
    cudaStream_t s;
};
struct ltx_event {
    cudaEvent_t e;
};

typedef struct cuda_state {
    int device;
    char name[256];        /* cudaDeviceProp.name */
    char device_label[32]; /* "cuda:N" (be->device_name) */
    int cc_major, cc_minor, n_sm;
    size_t smem_optin; /* sharedMemPerBlockOptin */
    cudaStream_t compute, copy;
    ltx_stream copy_handle; /* the backend's own copy stream (stream_create hands out more) */
    cudaEvent_t free_ev;    /* recorded on compute at every buffer_free (see file comment) */
    ltx_alloc_cache *cache;
    cublasLtHandle_t lt;
    void *lt_ws; /* cuBLASLt workspace (device) */
    size_t lt_ws_bytes;
    cu_gemm_entry gemm_cache[CU_GEMM_CACHE];
    int gemm_next;
    bool fp8_logged;
    /* per op-class timing (bench): when timing is on, events bracket GEMM/attention calls */
    bool timing;
} cuda_state;

/* Device address of element [0, ...] of t (view offset applied). Only for kernel arguments. */
static inline void *cu_ptr(const ltx_tensor *t)
{
    return (char *)t->buf->handle + t->offset * (int64_t)ltx_dtype_size(t->dtype);
}

static inline ck_operand cu_op(const ltx_tensor *t)
{
    ck_operand o = {t ? cu_ptr(t) : NULL, t ? (int)t->dtype : 0};
    return o;
}

/* Maps a CUDA error to LTX_ERR_DEVICE with the driver's text and `what`; LTX_OK on success. */
ltx_status ltx_cu_check(cudaError_t e, const char *what);
/* Scratch from the caching allocator (device memory); free with ltx_cu_scratch_free. */
ltx_status ltx_cu_scratch(ltx_backend *be, size_t bytes, void **out);
void ltx_cu_scratch_free(ltx_backend *be, void *p);
/* Upload a small host array to new scratch on the compute stream (pageable source is staged
 * by the driver before return, so `host` may be reused at once). */
ltx_status ltx_cu_scratch_upload(ltx_backend *be, const void *host, size_t bytes, void **out);

/* ops (signatures as in ltx_backend_ops) — cuda_ops.c */
ltx_status ltx_cu_copy(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src);
ltx_status ltx_cu_fill(ltx_backend *be, ltx_tensor *dst, double value);
ltx_status ltx_cu_unary(ltx_backend *be, ltx_unary_op op, ltx_tensor *dst, const ltx_tensor *a,
                        double p0, double p1);
ltx_status ltx_cu_binary(ltx_backend *be, ltx_binary_op op, ltx_tensor *dst, const ltx_tensor *a,
                         const ltx_tensor *b);
ltx_status ltx_cu_axpby(ltx_backend *be, ltx_tensor *dst, double a, const ltx_tensor *x, double b,
                        const ltx_tensor *y);
ltx_status ltx_cu_softmax(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src);
ltx_status ltx_cu_norm(ltx_backend *be, ltx_norm_op op, ltx_tensor *dst, const ltx_tensor *x,
                       const ltx_tensor *w, const ltx_tensor *b, int groups, float eps);
ltx_status ltx_cu_rope(ltx_backend *be, ltx_rope_mode mode, ltx_tensor *dst, const ltx_tensor *x,
                       const ltx_tensor *cos, const ltx_tensor *sin);
ltx_status ltx_cu_pad(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src, const int *pads,
                      ltx_pad_mode mode, double value);
ltx_status ltx_cu_reduce(ltx_backend *be, ltx_reduce_op op, ltx_tensor *dst, const ltx_tensor *src,
                         int dim);
ltx_status ltx_cu_interpolate(ltx_backend *be, ltx_interp_mode mode, ltx_tensor *dst,
                              const ltx_tensor *src, bool align_corners);
ltx_status ltx_cu_snake(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *x,
                        const ltx_tensor *alpha, const ltx_tensor *beta, bool log_scale);
ltx_status ltx_cu_norm_modulate(ltx_backend *be, ltx_norm_op op, ltx_tensor *dst,
                                const ltx_tensor *x, const ltx_tensor *scale,
                                const ltx_tensor *shift, float eps);
ltx_status ltx_cu_gated_add(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *x,
                            const ltx_tensor *y, const ltx_tensor *gate);
ltx_status ltx_cu_qk_norm_rope(ltx_backend *be, ltx_rope_mode mode, ltx_tensor *dst,
                               const ltx_tensor *x, const ltx_tensor *w, float eps, int heads,
                               const ltx_tensor *cos, const ltx_tensor *sin);

/* cuda_gemm.c */
/* One (strided-batched) column-major GEMM: C (m x n) = alpha op(A) op(B) [+ epilogue]. */
typedef struct gemm_desc {
    cublasOperation_t ta, tb;
    int m, n, k, batch;
    cudaDataType_t atype, btype, ctype;
    cublasComputeType_t compute;
    const void *A, *B;
    void *C;
    int64_t lda, ldb, ldc, sa, sb, sc; /* leading dims and batch strides (elements) */
    float alpha, beta;                 /* beta 0 or 1 (C accumulates) */
    cublasLtEpilogue_t epi;
    const float *bias; /* f32, m elements, when epi has BIAS */
} gemm_desc;

/* Runs g on the compute stream; LTX_ERR_UNSUPPORTED (no message) when cuBLASLt has no
 * algorithm for it. ltx_cu_gemm_or_fail turns that into an error naming `what`. */
ltx_status ltx_cu_gemm_or_fail(ltx_backend *be, const gemm_desc *g, const char *what);
/* Op-class timing for the benchmarks: events around GEMM (cls 0) / attention (cls 1) calls. */
void ltx_cu_timing_mark(int cls, int end, cudaStream_t s);
ltx_status ltx_cu_gemm_init(ltx_backend *be);
void ltx_cu_gemm_destroy(ltx_backend *be);
ltx_status ltx_cu_linear(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x, const ltx_tensor *w,
                         const ltx_tensor *bias, float w_scale);
ltx_status ltx_cu_linear_act(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x,
                             const ltx_tensor *w, const ltx_tensor *bias, float w_scale,
                             ltx_unary_op act);
ltx_status ltx_cu_matmul(ltx_backend *be, ltx_tensor *c, const ltx_tensor *a, const ltx_tensor *b,
                         bool trans_a, bool trans_b, float alpha);
ltx_status ltx_cu_attention(ltx_backend *be, ltx_tensor *o, const ltx_tensor *q,
                            const ltx_tensor *k, const ltx_tensor *v, const ltx_tensor *mask,
                            float scale);
ltx_status ltx_cu_conv(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x, const ltx_tensor *w,
                       const ltx_tensor *bias, const ltx_conv_params *p);

/* supports() — cuda_ops.c */
bool ltx_cu_supports(ltx_backend *be, const ltx_op_query *q);

#endif
