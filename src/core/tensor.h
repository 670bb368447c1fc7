/*
 * tensor.h — tensor descriptors in PyTorch dimension order, with element strides and views.
 *
 * A tensor is a small heap object: dtype, shape, strides (in elements, may be 0 for broadcast,
 * never negative) and an element offset into a reference-counted ltx_buffer. The buffer belongs
 * to one backend (ltx_backend): on the plain CPU backend its memory is host memory, on
 * every other backend (cpu-restricted included) it is device memory that host code must never
 * dereference — data crosses only through ltx_tensor_upload / ltx_tensor_download / backend
 * copies. ltx_tensor_host() returns NULL on such backends, so host code that needs the values
 * must download them.
 *
 * Views (slice, permute, reshape of contiguous data, unsqueeze, expand) share the buffer and
 * take a reference; every tensor object must be freed with ltx_tensor_free (NULL is fine).
 * Tensor objects are not thread-safe; different tensors may share a buffer across threads
 * for reading.
 */
#ifndef LTX_CORE_TENSOR_H
#define LTX_CORE_TENSOR_H

#include "core/dtype.h"
#include "core/error.h"

#include <stdbool.h>
#include <stdint.h>

#define LTX_MAX_DIMS 8

typedef struct ltx_backend ltx_backend;

/* Storage owned by a backend. `handle` is the backend's opaque handle (a host pointer on CPU
 * backends, a device pointer on accelerators). Freed when the last reference goes. */
typedef struct ltx_buffer {
    ltx_backend *be;
    void *handle;
    size_t size;     /* bytes */
    int refs;
    bool borrowed;   /* memory not owned (e.g. an mmap'd weight); never freed by the backend */
} ltx_buffer;

typedef struct ltx_tensor {
    ltx_dtype dtype;
    int ndim;
    int64_t shape[LTX_MAX_DIMS];
    int64_t stride[LTX_MAX_DIMS]; /* elements */
    int64_t offset;               /* elements from the start of buf */
    ltx_buffer *buf;
    char name[64];                /* optional, for diagnostics ("blocks.0.attn1.to_q.weight") */
} ltx_tensor;

/* ---- construction ---- */
/* Contiguous, uninitialised. Returns NULL and sets the error (LTX_ERR_OOM / INVALID_ARG). */
ltx_tensor *ltx_tensor_new(ltx_backend *be, ltx_dtype dt, int ndim, const int64_t *shape);
/* Contiguous, zero-filled. */
ltx_tensor *ltx_tensor_zeros(ltx_backend *be, ltx_dtype dt, int ndim, const int64_t *shape);
/* Convenience for small ranks: LTX_TENSOR_NEW(be, LTX_F32, B, T, D). Each size is converted to
 * int64_t by the compound literal, so plain int arguments are fine. */
#define LTX_TENSOR_NEW(be, dt, ...)                                                             \
    ltx_tensor_new((be), (dt), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),      \
                   (const int64_t[]){__VA_ARGS__})
/* New tensor on `be` holding a copy of `n` host elements of type `dt` (shape as given). */
ltx_tensor *ltx_tensor_from_host(ltx_backend *be, ltx_dtype dt, int ndim, const int64_t *shape,
                                 const void *host);
/* Wraps memory that outlives the tensor (e.g. an mmap'd safetensors region). On host-visible
 * backends no copy is made; on device backends the data is uploaded. */
ltx_tensor *ltx_tensor_wrap_host(ltx_backend *be, ltx_dtype dt, int ndim, const int64_t *shape,
                                 const void *host);
void ltx_tensor_free(ltx_tensor *t);

/* ---- views (share storage; caller frees the returned object) ---- */
ltx_tensor *ltx_tensor_view(const ltx_tensor *t); /* same shape */
/* Elements [start, end) with step along dim; negative dim counts from the end. */
ltx_tensor *ltx_tensor_slice(const ltx_tensor *t, int dim, int64_t start, int64_t end,
                             int64_t step);
ltx_tensor *ltx_tensor_permute(const ltx_tensor *t, const int *perm);
ltx_tensor *ltx_tensor_transpose(const ltx_tensor *t, int d0, int d1);
/* Requires a contiguous source (else NULL + LTX_ERR_INVALID_ARG); one entry may be -1. */
ltx_tensor *ltx_tensor_reshape(const ltx_tensor *t, int ndim, const int64_t *shape);
ltx_tensor *ltx_tensor_unsqueeze(const ltx_tensor *t, int dim);
/* Broadcast size-1 dims to `shape` with stride 0. */
ltx_tensor *ltx_tensor_expand(const ltx_tensor *t, int ndim, const int64_t *shape);

/* ---- queries ---- */
int64_t ltx_tensor_numel(const ltx_tensor *t);
size_t ltx_tensor_nbytes(const ltx_tensor *t); /* numel * element size */
bool ltx_tensor_is_contiguous(const ltx_tensor *t);
bool ltx_tensor_same_shape(const ltx_tensor *a, const ltx_tensor *b);
/* "(1, 48, 128) F32" into buf; returns buf. */
const char *ltx_tensor_shape_str(const ltx_tensor *t, char *buf, size_t cap);
/* Host pointer to element [0...] (offset applied) or NULL when the backend is not host
 * visible. */
void *ltx_tensor_host(const ltx_tensor *t);

/* ---- data movement (any backend) ---- */
/* Copies numel elements of `t` (strided allowed) into contiguous host memory as dtype `dt`. */
ltx_status ltx_tensor_download(const ltx_tensor *t, void *host, ltx_dtype dt);
/* Writes contiguous host memory of dtype `dt` into `t` (t must be contiguous). */
ltx_status ltx_tensor_upload(ltx_tensor *t, const void *host, ltx_dtype dt);
/* Convenience: a malloc'd contiguous f32 (or f64) host copy; caller free()s. NULL on error. */
float *ltx_tensor_to_host_f32(const ltx_tensor *t);
double *ltx_tensor_to_host_f64(const ltx_tensor *t);
/* New contiguous tensor on `be` with dtype `dt` holding t's values (copy + convert). */
ltx_tensor *ltx_tensor_to(const ltx_tensor *t, ltx_backend *be, ltx_dtype dt);

/* ---- buffers (used by backends and loaders) ---- */
ltx_buffer *ltx_buffer_new(ltx_backend *be, size_t bytes);
void ltx_buffer_retain(ltx_buffer *b);
void ltx_buffer_release(ltx_buffer *b);
/* A tensor over an existing buffer (takes a new reference). */
ltx_tensor *ltx_tensor_on_buffer(ltx_buffer *b, ltx_dtype dt, int ndim, const int64_t *shape,
                                 int64_t offset_elems);

/* Fills contiguous strides for shape; returns numel. */
int64_t ltx_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride);

/* Largest tensor in bytes: 2^62 keeps every element offset times element size, and every sum
 * of two such byte counts, inside int64_t and size_t. */
#define LTX_MAX_TENSOR_BYTES ((int64_t)1 << 62)
/* True when no dimension is negative and numel * esz neither overflows nor exceeds
 * LTX_MAX_TENSOR_BYTES; then *numel (may be NULL) is the element count. Every constructor,
 * reshape and expand checks this, so ltx_tensor_numel/nbytes of a live tensor never wrap. */
bool ltx_shape_numel_ok(int ndim, const int64_t *shape, size_t esz, int64_t *numel);

#endif
